"""results/default/report.html in a real browser: headless Chromium, driven through the DevTools protocol.

Needs Debian's chromium, so it runs only when asked: ``make test-browser`` installs it when it is missing
(root; ``apt-get install chromium``) and runs ``METAPOOL_TEST_BROWSER=1 pytest -m browser``. Otherwise it is
skipped, and says why.

The report is opened as it is (nothing injected into it): a minimal DevTools client (standard library only:
a websocket over a socket) records every console message, uncaught exception and browser log entry, asks the page
for the size of every image, and saves a full-page screenshot under the test's temporary folder. Chromium runs with
``--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run`` and a new, empty user-data
folder, and is stopped at the end by its process id.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from test_report import MARKUP, render_with_markup

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("METAPOOL_TEST_BROWSER") != "1",
        reason="browser test not requested: `make test-browser` (root; installs Debian's chromium when missing) "
               "runs it, or METAPOOL_TEST_BROWSER=1 with chromium on PATH",
    ),
]

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run")
WIDTH, HEIGHT = 1280, 900


class DevTools:
    """A Chrome DevTools Protocol session over one websocket (RFC 6455 text frames, client-masked)."""

    def __init__(self, ws_url: str, timeout: float = 120.0):
        m = re.fullmatch(r"ws://([^:/]+):(\d+)(/.*)", ws_url)
        assert m, ws_url
        host, port, path = m.group(1), int(m.group(2)), m.group(3)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        head = b""
        while b"\r\n\r\n" not in head:
            byte = self.sock.recv(1)
            assert byte, "the browser closed the websocket during the handshake"
            head += byte
        assert b" 101 " in head.split(b"\r\n", 1)[0], head
        self.last_id = 0
        self.events: list[dict] = []

    def close(self):
        self.sock.close()

    def _exactly(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise ConnectionError("the browser closed the websocket")
            buf += chunk
        return bytes(buf)

    def _send(self, text: str) -> None:
        payload = text.encode()
        n = len(payload)
        header = bytearray([0x81])  # FIN, text frame
        if n < 126:
            header.append(0x80 | n)
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes(header) + mask + masked)

    def _receive(self) -> dict:
        message = b""
        while True:
            b1, b2 = self._exactly(2)
            opcode, n = b1 & 0x0F, b2 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exactly(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exactly(8))[0]
            data = self._exactly(n)
            if opcode == 0x8:
                raise ConnectionError("the browser closed the websocket")
            if opcode in (0x9, 0xA):  # ping, pong
                continue
            message += data
            if b1 & 0x80:
                return json.loads(message)

    def call(self, method: str, **params) -> dict:
        self.last_id += 1
        self._send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:
            msg = self._receive()
            if msg.get("id") == self.last_id:
                assert "error" not in msg, f"{method}: {msg['error']}"
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, event: str, timeout: float = 120.0) -> dict:
        end = time.monotonic() + timeout
        while not any(e["method"] == event for e in self.events):
            assert time.monotonic() < end, f"no {event} within {timeout} s"
            msg = self._receive()
            if "method" in msg:
                self.events.append(msg)
        return next(e for e in self.events if e["method"] == event)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in res, res["exceptionDetails"]
        return res["result"]["value"]


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """A headless Chromium with a new, empty user-data folder; yields the port of its DevTools endpoint."""
    binary = shutil.which("chromium")
    assert binary, "chromium not found: `make test-browser` installs Debian's chromium (root)"
    profile = tmp_path_factory.mktemp("chromium-profile")
    assert not any(profile.iterdir())
    proc = subprocess.Popen([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = profile / "DevToolsActivePort"  # Chromium writes the port it chose here
    try:
        end = time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            assert proc.poll() is None, f"chromium exited with {proc.returncode}"
            assert time.monotonic() < end, "chromium did not open its DevTools endpoint within 60 s"
            time.sleep(0.05)
        yield int(port_file.read_text().splitlines()[0])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def open_page(port: int, path: Path) -> DevTools:
    """A new tab with ``path`` loaded, console and log recorded from before the navigation."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    target = json.load(urllib.request.urlopen(req, timeout=30))
    page = DevTools(target["webSocketDebuggerUrl"])
    for domain in ("Runtime", "Log", "Page"):
        page.call(f"{domain}.enable")
    page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)
    page.call("Page.navigate", url=path.resolve().as_uri())
    page.wait_for("Page.loadEventFired")
    return page


def problems(page: DevTools) -> list[str]:
    """Console errors and warnings, uncaught exceptions, and browser log entries at warning or error level."""
    out = []
    for e in page.events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p['args']]}")
        elif e["method"] == "Runtime.exceptionThrown":
            out.append(f"exception: {p['exceptionDetails'].get('text')}")
        elif e["method"] == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            out.append(f"log {p['entry']['level']}: {p['entry']['text']} ({p['entry'].get('url', '')})")
    return out


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
        images = page.evaluate(IMAGES)
        expected = len(re.findall(r'<img src="data:image/svg\+xml;base64,', report.read_text()))
        assert len(images) == expected >= 2 * len(list((workflow_run / "results/default/analyses").iterdir()))
        for img in images:
            assert img["complete"] and img["visible"], img["alt"]
            assert min(img["natural"]) > 0 and min(img["shown"]) > 0, img
        assert {img["alt"].split(":")[0] for img in images} >= {"Forest plot", "Funnel plot", "Leave-one-out plot",
                                                                 "Study flow", "Specification curve"}
        # nothing wider than the page: every table and figure fits the viewport's width
        assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
        # full-page screenshot
        size = page.call("Page.getLayoutMetrics")["cssContentSize"]
        shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        png = base64.b64decode(shot["data"])
        out = tmp_path / "report.png"
        out.write_bytes(png)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (round(size["width"]), round(size["height"])) and height > 10 * HEIGHT
        assert problems(page) == []
    finally:
        page.close()


def test_markup_from_the_data_is_text_in_the_browser(chromium, workflow_run, tmp_path):
    report = render_with_markup(workflow_run, tmp_path)
    page = open_page(chromium, report)
    try:
        assert problems(page) == []
        assert page.evaluate("document.scripts.length") == 0
        assert page.evaluate("document.querySelectorAll('img:not([src^=\"data:\"])').length") == 0
        label = page.evaluate("Array.from(document.querySelectorAll('table.included td')).map(td => td.textContent)"
                              ".filter(t => t.includes('alert(1)'))")
        assert MARKUP in label
        assert page.evaluate("document.getElementById('orr_tki_naive').textContent") == f"ORR {MARKUP}"
    finally:
        page.close()
