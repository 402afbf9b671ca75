"""Every result table in one XLSX workbook for reviewers (one sheet per table), byte-identical across runs."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..io import atomic_write_bytes, read_tsv
from .tables import RESULT_TEXT_COLUMNS

__all__ = ["write_workbook", "deterministic_zip", "FORMULA_STARTS"]

_EPOCH = (1980, 1, 1, 0, 0, 0)
# the first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_FIXED_TIME = "2000-01-01T00:00:00Z"


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    out, i = base, 2
    while out.lower() in used:
        suffix = f"~{i}"
        out, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(out.lower())
    return out


def write_workbook(tables: Mapping[str, str], output) -> Path:
    """Write each TSV of ``tables`` (sheet title -> path) as one sheet of an XLSX workbook, atomically.

    A first sheet ``contents`` lists each sheet with the file it holds. Every text cell is a text cell
    (type ``s``, a shared string), also one that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return (:data:`FORMULA_STARTS`, OWASP's "CSV Injection" list): input text never becomes a formula, and
    numbers stay numbers. Sheet
    names are cut to Excel's 31 characters (made unique). The bytes do not
    depend on the time of the run: fixed document dates and zip entry times.

    Parameters
    ----------
    tables : Mapping
        Sheet title -> path of a TSV result table.
    output : str or os.PathLike
        The XLSX file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    used: set[str] = {"contents"}
    sheets = []
    for title, path in tables.items():
        sheets.append((_sheet_name(title, used), str(path), read_tsv(path, text_columns=RESULT_TEXT_COLUMNS)))
    contents = pd.DataFrame({"sheet": [s for s, _, _ in sheets], "file": [p for _, p, _ in sheets],
                             "rows": [len(df) for _, _, df in sheets]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        contents.to_excel(writer, sheet_name="contents", index=False)
        for sheet, _, df in sheets:
            df.to_excel(writer, sheet_name=sheet, index=False)
        for ws in writer.book.worksheets:
            ws.freeze_panes = "A2"
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                        cell.data_type = "s"  # the text as text: openpyxl would write "=..." as a formula
    return atomic_write_bytes(output, deterministic_zip(buf.getvalue()))


def deterministic_zip(data: bytes) -> bytes:
    """An Office Open XML file (XLSX, DOCX: a zip) rewritten so that its bytes do not depend on the time of the
    run: every entry dated 1980-01-01 with mode 644, and the document's ``created`` and ``modified`` dates
    (``docProps/core.xml``) set to 2000-01-01.

    Parameters
    ----------
    data : bytes
        The file as its writer saved it.

    Returns
    -------
    bytes
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms)", rf"\g<1>{_FIXED_TIME}\g<2>",
                              text)
                data = text.encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, data)
    return out.getvalue()
