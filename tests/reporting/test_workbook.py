"""The XLSX workbook of the result tables: its bytes do not depend on the time of the run."""

from __future__ import annotations

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
