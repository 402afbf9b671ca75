"""Deterministic, atomic table output.

Floats are written with 12 significant digits (``%.12g``), booleans as
``True``/``False`` and missing values as empty cells, so that two runs give the
same bytes. Files are written to a temporary name in the target directory and
moved into place, so that a killed job never leaves a half-written table.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["write_tsv", "read_tsv", "atomic_write_text", "FLOAT_FORMAT"]

FLOAT_FORMAT = "%.12g"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, then a rename, so that
    an interrupted job never leaves a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line endings)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_tsv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a frame as TSV with fixed float formatting, atomically."""
    text = df.to_csv(sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n", na_rep="")
    return atomic_write_text(path, text)


def read_tsv(path: str | os.PathLike, text_columns=()) -> pd.DataFrame:
    """Read a table written by :func:`write_tsv`: empty numeric cells as NaN, empty text as "".

    ``text_columns`` are read as text even when every cell is empty or numeric.
    """
    df = pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], dtype={c: str for c in text_columns})
    for col in df.columns:
        if col in text_columns or not (pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col])):
            df[col] = df[col].fillna("").astype(str)
    return df
