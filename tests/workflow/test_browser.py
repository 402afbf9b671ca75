"""results/default/report.html in a real browser: headless Chromium driven by Selenium (WebDriver).

Needs Debian's chromium and chromium-driver, so it runs only when asked: ``make test-browser`` installs them when
they are missing (root; ``apt-get install chromium chromium-driver``) and runs ``METAPOOL_TEST_BROWSER=1 pytest -m
browser``. Otherwise it is skipped, and says why. Selenium is given both binaries, and Selenium Manager runs
offline (``SE_OFFLINE``): nothing is downloaded.

The report is opened as it is (nothing injected into it): the browser's log (console messages, uncaught
exceptions, failed loads; ``goog:loggingPrefs``) is read back, the page is asked for the size of every image, and
a full-page screenshot is saved under the test's temporary folder (DevTools' ``Page.captureScreenshot`` through
Selenium's ``execute_cdp_cmd``). Chromium runs with ``--headless --no-sandbox --disable-gpu
--disable-background-networking --no-first-run`` and a new, empty user-data folder.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
from pathlib import Path

import pytest

from test_report import MARKUP, render_with_markup

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("METAPOOL_TEST_BROWSER") != "1",
        reason="browser test not requested: `make test-browser` (root; installs Debian's chromium and "
               "chromium-driver when missing) runs it, or METAPOOL_TEST_BROWSER=1 with both on PATH",
    ),
]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
WIDTH, HEIGHT = 1280, 900


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """A Selenium session with a headless Chromium and a new, empty user-data folder."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert binary and driver, "chromium or chromedriver not found: `make test-browser` installs Debian's " \
                              "chromium and chromium-driver (root)"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager never downloads a browser or a driver
    profile = tmp_path_factory.mktemp("chromium-profile")
    assert not any(profile.iterdir())
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        session.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
        yield session
    finally:
        session.quit()


def open_page(browser, path: Path):
    """``path`` loaded in the session (the log of the previous page read and dropped first)."""
    browser.get_log("browser")
    browser.get(path.resolve().as_uri())
    return browser


def problems(browser) -> list[str]:
    """Console errors and warnings, uncaught exceptions and failed loads: the browser log at WARNING or above."""
    return [f"{e['level']}: {e['message']}" for e in browser.get_log("browser")
            if e["level"] in ("SEVERE", "WARNING")]


IMAGES = """Array.from(document.images).map(img => {
  const r = img.getBoundingClientRect();
  return {alt: img.alt, complete: img.complete, natural: [img.naturalWidth, img.naturalHeight],
          shown: [r.width, r.height], visible: getComputedStyle(img).display !== 'none'
                 && getComputedStyle(img).visibility !== 'hidden'};
})"""


def test_report_in_chromium_has_no_console_errors_and_every_figure_is_shown(chromium, workflow_run, tmp_path):
    report = workflow_run / "results/default/report.html"
    page = open_page(chromium, report)
    try:
        assert problems(page) == []
        images = page.execute_script(f"return {IMAGES}")
        expected = len(re.findall(r'<img src="data:image/svg\+xml;base64,', report.read_text()))
        assert len(images) == expected >= 2 * len(list((workflow_run / "results/default/analyses").iterdir()))
        for img in images:
            assert img["complete"] and img["visible"], img["alt"]
            assert min(img["natural"]) > 0 and min(img["shown"]) > 0, img
        assert {img["alt"].split(":")[0] for img in images} >= {"Forest plot", "Funnel plot", "Leave-one-out plot",
                                                                 "Study flow", "Specification curve"}
        # nothing wider than the page: every table and figure fits the viewport's width
        assert page.execute_script("return document.documentElement.scrollWidth") <= WIDTH
        # full-page screenshot
        size = page.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        shot = page.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        png = base64.b64decode(shot["data"])
        out = tmp_path / "report.png"
        out.write_bytes(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (round(size["width"]), round(size["height"])) and height > 10 * HEIGHT
        assert problems(page) == []
    finally:
        page.get("about:blank")


def test_markup_from_the_data_is_text_in_the_browser(chromium, workflow_run, tmp_path):
    report = render_with_markup(workflow_run, tmp_path)
    page = open_page(chromium, report)
    try:
        assert problems(page) == []
        assert page.execute_script("return document.scripts.length") == 0
        assert page.execute_script("return document.querySelectorAll('img:not([src^=\"data:\"])').length") == 0
        label = page.execute_script("return Array.from(document.querySelectorAll('table.included td'))"
                                    ".map(td => td.textContent).filter(t => t.includes('alert(1)'))")
        assert MARKUP in label
        assert page.execute_script("return document.getElementById('orr_tki_naive').textContent") == f"ORR {MARKUP}"
    finally:
        page.get("about:blank")


def test_the_console_check_sees_errors_warnings_and_exceptions(chromium, tmp_path):
    """The log the tests above find empty is read: a page with a console error, a warning and an uncaught
    exception shows all three."""
    page = tmp_path / "noisy.html"
    page.write_text("<!doctype html><title>t</title><script>console.error('e-1'); console.warn('w-2');"
                    "throw new Error('x-3');</script>")
    found = "\n".join(problems(open_page(chromium, page)))
    assert all(mark in found for mark in ("e-1", "w-2", "x-3")), found
