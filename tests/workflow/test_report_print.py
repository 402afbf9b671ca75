"""results/default/report.html printed: headless Chromium's ``--print-to-pdf``, then the PDF read back.

Needs Debian's chromium, so it runs only when asked (``make test-browser``, or ``METAPOOL_TEST_BROWSER=1``);
otherwise it is skipped and says why. The PDF is read with pypdf (the ``test`` extra).

What is checked, against the report's own HTML:

* every figure is printed: Chromium writes a tagged PDF, whose structure tree has one ``Figure`` element per
  image, with the image's alt text; each figure of the report is there, drawn on a page, and its caption is in
  the PDF's text;
* every table is printed whole: the structure tree has as many ``Table`` elements as the report has tables
  (the collapsed ones, inside ``<details>``, included), and the text of every cell of every table is in the
  PDF's text, in the report's order. Chromium leaves out of the PDF whatever falls outside the page, so a table
  clipped at the page's edge loses the text of its last columns and fails here;
* the navigation list (links within the page) is not printed.

Text is compared after Unicode NFKC normalisation (the PDF's ligatures "ﬁ", "ﬀ") with all white space removed
(a cell's text wraps onto several lines on paper).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        os.environ.get("METAPOOL_TEST_BROWSER") != "1",
        reason="browser test not requested: `make test-browser` (root; installs Debian's chromium when missing) "
               "runs it, or METAPOOL_TEST_BROWSER=1 with chromium on PATH",
    ),
]

PRINT_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
               "--no-pdf-header-footer")


def squeeze(text: str) -> str:
    """``text`` as compared: NFKC-normalised, without white space."""
    return "".join(unicodedata.normalize("NFKC", text).split())


class ReportParts(HTMLParser):
    """The tables (each a heading and its rows of cell texts), the figures (alt text, caption) and the
    navigation's list items of the report."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[dict] = []
        self.figures: list[dict] = []
        self.nav_items = 0
        self.list_items = 0
        self._heading: list[str] | None = None
        self._last_heading = ""
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self._in_nav = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h2", "h3", "h4", "summary"):
            self._heading = []
        elif tag == "table":
            self.tables.append({"heading": self._last_heading, "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.figures.append({"alt": attrs.get("alt", ""), "caption": ""})
        elif tag == "figcaption":
            self._caption = []
        elif tag == "nav":
            self._in_nav = True
        elif tag == "li":
            self.list_items += 1
            self.nav_items += self._in_nav
        elif tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("h2", "h3", "h4", "summary") and self._heading is not None:
            self._last_heading = " ".join("".join(self._heading).split())
            self._heading = None
        elif tag in ("td", "th") and self._cell is not None:
            self.tables[-1]["rows"][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "figcaption" and self._caption is not None:
            self.figures[-1]["caption"] = "".join(self._caption)
            self._caption = None
        elif tag == "nav":
            self._in_nav = False
        elif tag in ("style", "title"):
            self._skip -= 1

    def handle_data(self, data):
        if self._skip:
            return
        for part in (self._heading, self._cell, self._caption):
            if part is not None:
                part.append(data)


def structure(reader) -> dict:
    """The tagged PDF's structure elements: count per type, and the alt text of each figure drawn on a page."""
    counts: dict[str, int] = {}
    figures: list[str] = []
    stack = [reader.trailer["/Root"]["/StructTreeRoot"]]
    while stack:
        node = stack.pop().get_object()
        if not isinstance(node, dict):
            continue
        kind = node.get("/S")
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
        if kind == "/Figure" and node.get("/K") is not None and node.get("/Pg") is not None:
            figures.append(str(node.get("/Alt", "")))
        kids = node.get("/K")
        if isinstance(kids, list):
            stack.extend(reversed(kids))
        elif kids is not None:
            stack.append(kids)
    return {"counts": counts, "figures": figures}


@pytest.fixture(scope="module")
def printed(workflow_run, tmp_path_factory):
    """The default report, its parts, and its PDF (the reader and its whole text, squeezed)."""
    try:
        import pypdf
    except ImportError:
        pytest.fail("pypdf reads the printed PDF: install the test extra (pip install -e '.[test]')")
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(browser).exists():
        pytest.fail("METAPOOL_TEST_BROWSER=1 but no chromium on PATH (Debian: apt-get install chromium)")
    report = workflow_run / "results/default/report.html"
    tmp = tmp_path_factory.mktemp("print")
    pdf = tmp / "report.pdf"
    subprocess.run([browser, *PRINT_FLAGS, f"--user-data-dir={tmp / 'profile'}", f"--print-to-pdf={pdf}",
                    report.as_uri()], check=True, capture_output=True, timeout=600)
    assert pdf.stat().st_size > 0
    parts = ReportParts()
    parts.feed(report.read_text(encoding="utf-8"))
    reader = pypdf.PdfReader(pdf)
    text = squeeze("".join(page.extract_text() for page in reader.pages))
    return {"parts": parts, "reader": reader, "text": text}


def test_every_figure_is_printed_with_its_caption(printed):
    parts, text = printed["parts"], printed["text"]
    drawn = structure(printed["reader"])["figures"]
    assert parts.figures, "the report has no figure"
    assert sorted(drawn) == sorted(f["alt"] for f in parts.figures)
    missing = [f["caption"] for f in parts.figures if squeeze(f["caption"]) not in text]
    assert not missing, f"figure captions not printed: {missing}"


def test_every_table_is_printed_whole(printed):
    parts, text = printed["parts"], printed["text"]
    tables = structure(printed["reader"])["counts"].get("/Table", 0)
    assert tables == len(parts.tables), f"{tables} tables printed, {len(parts.tables)} in the report"
    assert any(t["heading"] == "Influence table" for t in parts.tables), "no collapsed table in the default report"
    at, missing = 0, []
    for table in parts.tables:
        if squeeze(table["heading"]) not in text:
            missing.append(f"heading of a table: {table['heading']!r}")
        for row in table["rows"]:
            for cell in row:
                wanted = squeeze(cell)
                if not wanted:
                    continue
                found = text.find(wanted, at)
                if found < 0:
                    missing.append(f"{table['heading']!r}: cell {cell.strip()!r} (row {row[0].strip()!r})")
                else:
                    at = found + len(wanted)
    assert not missing, f"{len(missing)} table texts not printed (in order), e.g.:\n" + "\n".join(missing[:15])


def test_navigation_is_not_printed(printed):
    parts = printed["parts"]
    assert parts.nav_items > 0
    assert structure(printed["reader"])["counts"].get("/LI", 0) == parts.list_items - parts.nav_items
