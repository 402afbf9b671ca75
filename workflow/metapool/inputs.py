"""What a job read: the SHA-256 of the bytes of every data file it parsed.

A job's results are only as current as the bytes it read. The readers of the data folder (the extraction tables,
:func:`metapool.analysis.validation.decode_table`; the vocabulary file, :func:`metapool.declared.load_vocabulary`)
read a file once with :func:`read_input`, which hashes those very bytes before they are parsed. A step that reads
data opens :func:`recorded` around its work and writes the record ``{path: sha256}`` beside its outputs
(``results/<plan>/inputs/<job>.json``), so that the report's provenance says what the results were computed from,
not what is on disk when the report is written (:mod:`metapool.reporting.provenance`).

Light on purpose (hashlib and json only): the Snakefile imports it at parse time to compute the same digests for
the jobs' rerun triggers (``workflow/rules/common.smk``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

__all__ = ["InputChangedError", "digest", "file_sha256", "record_name", "read_input", "recorded", "read_record",
           "write_record"]

# the records open in this thread (innermost last): every file read_input reads goes into each. Per thread,
# because the workflow runs its jobs in threads of one process (metapool.jobs): a job records only what it read.
_LOCAL = threading.local()


def _open_records() -> list[dict[str, str]]:
    records = getattr(_LOCAL, "records", None)
    if records is None:
        records = _LOCAL.records = []
    return records


class InputChangedError(RuntimeError):
    """A data file read twice by one job gave two different contents: it was edited while the job ran."""


def digest(data: bytes) -> str:
    """SHA-256 of ``data``, as hex."""
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, as hex."""
    return digest(Path(path).read_bytes())


def record_name(path: str | os.PathLike) -> str:
    """How a record names ``path``: relative to the working directory when it lies below it (``data/survival.tsv``
    in a workflow job, wherever the project is), else as given."""
    path = Path(path)
    if path.is_absolute():
        try:
            return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
        except ValueError:
            return str(path)
    return path.as_posix()


def read_input(path: str | os.PathLike) -> bytes:
    """The bytes of the data file ``path``, read once; their SHA-256 goes into every record open in this thread
    (:func:`recorded`), under :func:`record_name` of ``path``.

    Raises
    ------
    InputChangedError
        When an open record holds another digest for ``path``: the file changed between two reads of one job,
        whose results would then mix two versions of it.
    OSError
        When the file cannot be read.
    """
    data = Path(path).read_bytes()
    key, sha = record_name(path), digest(data)
    for record in _open_records():
        if record.setdefault(key, sha) != sha:
            raise InputChangedError(f"{key} changed while this job was reading it (SHA-256 {record[key]}, then "
                                    f"{sha}): run the workflow again")
    return data


@contextlib.contextmanager
def recorded(output: str | os.PathLike | None = None) -> Iterator[dict[str, str]]:
    """Record the data files read inside the ``with`` block; yields the record (path -> SHA-256), and, when the
    block ends without an error and ``output`` is given, writes it there (:func:`write_record`)."""
    record: dict[str, str] = {}
    records = _open_records()
    records.append(record)
    try:
        yield record
    finally:
        records.remove(record)
    if output is not None:
        write_record(record, output)


def write_record(record: Mapping[str, str], output: str | os.PathLike) -> None:
    """``record`` (path -> SHA-256) as JSON, keys sorted, atomically: the same bytes whenever the same files
    were read."""
    from .io import atomic_write_text

    atomic_write_text(output, json.dumps(dict(sorted(record.items())), indent=1) + "\n")


def read_record(path: str | os.PathLike) -> dict[str, str]:
    """A record written by :func:`write_record`."""
    with open(path, encoding="utf-8") as fh:
        return dict(json.load(fh))
