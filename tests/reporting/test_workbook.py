"""The XLSX workbook of the result tables: its bytes do not depend on the time of the run."""

from __future__ import annotations

import csv
import hashlib
import zipfile

import pandas as pd

from metapool.io import write_tsv
from metapool.reporting.workbook import write_workbook


def test_workbook_bytes_do_not_depend_on_the_time(tmp_path, monkeypatch):
    table = tmp_path / "t.tsv"
    write_tsv(pd.DataFrame({"analysis": ["a", "b"], "estimate": [0.5, 0.25]}), table)
    first = write_workbook({"a table with a very long title beyond thirty-one characters": table}, tmp_path / "1.xlsx")
    import datetime as dt

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    monkeypatch.setattr("openpyxl.writer.excel.datetime.datetime", Later)
    second = write_workbook({"a table with a very long title beyond thirty-one characters": table},
                            tmp_path / "2.xlsx")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "2031" not in z.read("docProps/core.xml").decode()


INJECTIONS = ['=HYPERLINK("http://evil.example","click")', "+1+2", "-2+3", "@SUM(A1:A2)", "\t=1+1", "\r=1+1",
              "=1+1", "<script>alert(1)</script>"]


def test_no_text_cell_becomes_a_formula_and_numbers_stay_numbers(tmp_path):
    """OWASP's CSV-injection list: a text cell starting with =, +, -, @, tab or CR is written as text (a shared
    string, no <f> element anywhere in the workbook's XML), with its text unchanged; numbers stay numbers
    (<v> cells without t="s")."""
    from openpyxl import load_workbook

    table = tmp_path / "t.tsv"
    # written with every text quoted (write_tsv leaves a lone CR unquoted; no validated cell holds one)
    pd.DataFrame({"label": INJECTIONS, "notes": INJECTIONS[::-1],
                  "estimate": [0.5, -0.25, 3.0, 1e-9, 2.0, -7.0, 0.0, 12.5]}).to_csv(
        table, sep="\t", index=False, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    path = write_workbook({"=cmd|' /C calc'!A0": table}, tmp_path / "w.xlsx")
    with zipfile.ZipFile(path) as z:
        xml = {name: z.read(name).decode("utf-8") for name in z.namelist() if name.endswith(".xml")}
    assert not [name for name, text in xml.items() if "<f>" in text or "<f " in text]
    sheet = load_workbook(path)["=cmd|' _C calc'!A0"]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    # XML reads a raw CR as a line feed (openpyxl with the standard library's XML writer; with lxml, which
    # python-docx brings, openpyxl escapes it and it stays a CR): still text
    text = [v.replace("\r", "\n") for v in INJECTIONS]
    read = [[v.replace("\r", "\n") for v in r[:2]] for r in rows]
    assert [r[0] for r in read] == text and [r[1] for r in read] == text[::-1]
    assert [r[2] for r in rows] == [0.5, -0.25, 3.0, 1e-9, 2.0, -7.0, 0.0, 12.5]
    assert {sheet.cell(row=i, column=1).data_type for i in range(2, 10)} == {"s"}
    assert {sheet.cell(row=i, column=3).data_type for i in range(2, 10)} == {"n"}
