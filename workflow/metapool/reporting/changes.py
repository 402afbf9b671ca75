"""The report's "What changed" section and its list of releases (living review): read from
``results/<plan>/tables/changes.tsv`` (:func:`metapool.analysis.release.changes`) and the release files."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from ..analysis.release import CHANGE_COLUMNS, read_release
from ..io import read_tsv

__all__ = ["what_changed", "release_list"]

PathLike = str | os.PathLike


def what_changed(changes: PathLike, release: PathLike) -> dict:
    """The section's content: the release compared with (``name``, ``date``), the changed reports (one row per
    field, old → new, with its source), the pooled numbers and certainty ratings that moved (old → new), the
    conclusions that changed (``flags``: the CI against the null or the threshold, the certainty, a network's
    ranking, in words) and the analyses that did not move.

    Parameters
    ----------
    changes : str or os.PathLike
        ``changes.tsv`` (columns :data:`~metapool.analysis.release.CHANGE_COLUMNS`).
    release : str or os.PathLike
        The release file it compares with (``<releases_dir>/<compare_to>.json``).

    Returns
    -------
    dict
        ``name``, ``date``, ``reports`` and ``analyses`` (lists of row dicts, text), ``flags`` ((name, flag)
        pairs) and ``unchanged`` (names).
    """
    old = read_release(release)
    rows = read_tsv(changes, text_columns=CHANGE_COLUMNS).fillna("").to_dict("records")
    moved = [r for r in rows if r["kind"] == "analysis" and r["change"] != "unchanged"]
    return {"name": old["name"], "date": old["date"],
            "reports": [r for r in rows if r["kind"] == "report"],
            "analyses": moved,
            # the conclusions that changed: CIs against the null and the threshold, certainty, network rankings
            "flags": sorted({(r["key"], r["flags"]) for r in rows if r["flags"] and r["kind"] != "report"}),
            "unchanged": [r["key"] for r in rows if r["kind"] == "analysis" and r["change"] == "unchanged"]}


def release_list(paths: Sequence[PathLike]) -> list[dict]:
    """The releases of the evidence, oldest first: ``name``, ``date``, the number of ``reports`` (rows of the
    data tables) and the first 12 hex digits of the SHA-256 of the data tables' checksums (``data``)."""
    out = []
    for path in paths:
        release = read_release(path)
        tables = release["tables"]
        digest = hashlib.sha256("".join(f"{t}:{tables[t].get('sha256', '')};" for t in sorted(tables)).encode())
        out.append({"name": release["name"], "date": release["date"],
                    "reports": sum(len(entry.get("rows", {})) for entry in tables.values()),
                    "data": digest.hexdigest()[:12]})
    return sorted(out, key=lambda r: (r["date"], r["name"]))
