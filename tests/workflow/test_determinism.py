"""Two clean runs of the default workflow give byte-identical files under results/.

The second run differs from the first (the session's ``workflow_run``) in everything that must not
matter: its folder, the workflow profile (profiles/default, all cores), the time zone, a random
PYTHONHASHSEED, and SOURCE_DATE_EPOCH. Tables use fixed float formatting, figures carry no dates
(fixed svg.hashsalt; no PDF CreationDate/ModDate; no PNG tIME chunk), and the report carries no time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import struct
from pathlib import Path

import pytest



def checksums(run: Path) -> dict[str, str]:
    """sha256 of every file under ``run/results``, by path relative to ``run``."""
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((run / "results").rglob("*"))
        if p.is_file()
    }


def assert_same_files(ours: dict[str, str], reference: dict[str, str]) -> None:
    missing = sorted(set(reference) - set(ours))
    extra = sorted(set(ours) - set(reference))
    differ = sorted(p for p in set(ours) & set(reference) if ours[p] != reference[p])
    assert not (missing or extra or differ), f"missing {missing}\nextra {extra}\ndiffer {differ}"


def png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunks.append(data[pos + 4:pos + 8 + length])
        pos += 12 + length
    return chunks


@pytest.fixture(scope="module")
def second_run(profile_run) -> Path:
    return profile_run


def test_two_clean_runs_are_byte_identical(workflow_run, second_run):
    reference = checksums(workflow_run)
    assert len(reference) > 40
    assert {Path(p).suffix for p in reference} >= {".tsv", ".svg", ".pdf", ".png", ".html", ".log"}
    assert_same_files(checksums(second_run), reference)


def test_no_output_names_its_run_folder(workflow_run):
    for path in (workflow_run / "results").rglob("*"):
        if path.is_file():
            assert str(workflow_run).encode() not in path.read_bytes(), path


def test_report_carries_no_time(workflow_run):
    html = (workflow_run / "results/default/report.html").read_text()
    assert not re.search(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", html)
    assert not re.search(r"\b\d{1,2}:\d{2}:\d{2}\b", html)
    made = dt.datetime.fromtimestamp((workflow_run / "results/default/report.html").stat().st_mtime)
    for day in {made.date(), dt.date.today()}:
        for fmt in ("%Y-%m-%d", "%d %B %Y", "%B %d, %Y", "%d %b %Y", "%b %d, %Y", "%d/%m/%Y", "%m/%d/%Y"):
            assert day.strftime(fmt) not in html, day.strftime(fmt)


def test_figures_carry_no_dates(workflow_run):
    figures = sorted((workflow_run / "results/default/figures").iterdir())
    assert {p.suffix for p in figures} == {".svg", ".pdf", ".png"}
    for path in figures:
        data = path.read_bytes()
        if path.suffix == ".svg":
            assert b"<dc:date>" not in data and b"metapool-forest" in data  # the fixed svg.hashsalt / svg.id
        elif path.suffix == ".pdf":
            assert b"/CreationDate" not in data and b"/ModDate" not in data
        else:
            chunks = png_chunks(data)
            assert not any(c.startswith(b"tIME") for c in chunks), path
            text = b"".join(c for c in chunks if c[:4] in (b"tEXt", b"iTXt", b"zTXt"))
            assert b"Creation Time" not in text and b"date:" not in text.lower(), path
