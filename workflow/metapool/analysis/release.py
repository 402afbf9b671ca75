"""Releases of the evidence and what changed between two of them (living review).

A release is one JSON file, ``<releases_dir>/<name>.json``: its ``name``, the ``date`` it records (ISO
``YYYY-MM-DD``), the file ``format`` (:data:`FORMAT`), the config as run, and per data table its SHA-256 and its
rows keyed by the table's own key (``x-key`` of its schema), and per analysis its pooled numbers and its
per-study numbers, all as the text written in the results tables, so that a diff is exact. Nothing else (no
figure, no report, no intermediate file) is copied. Keys are sorted and the bytes are deterministic: the same
inputs give the same file.

The flag rules are small pure functions: :func:`excludes` (does an interval exclude a value),
:func:`ci_flags` (the CI now excludes, or no longer excludes, the null or the smallest effect that matters) and
:func:`ranking_flag` (the order of the treatments of a network changed). Certainty (GRADE) joins the flags once
it exists in the results; it is not flagged yet.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import re
from datetime import date as _date
from os import PathLike
from pathlib import Path
from typing import Iterable, Mapping

from metapool.inputs import digest

__all__ = [
    "FORMAT", "POOLED_FIELDS", "STUDY_FIELDS", "CHANGE_COLUMNS", "ReleaseError", "check_name", "check_date",
    "table_rows", "build_release", "dumps", "read_release", "list_releases", "resolve_compare_to",
    "excludes", "ci_flags", "ranking_flag", "ranking_order", "diff_rows", "diff_analyses", "diff_networks", "changes",
]

FORMAT = 1
# the pooled numbers a release keeps and compares (columns of results/<plan>/analyses/<name>/pooled.tsv)
POOLED_FIELDS = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "k", "participants")
# the per-study numbers (columns of results/<plan>/analyses/<name>/studies.tsv; those absent are skipped)
STUDY_FIELDS = ("estimate", "ci_lower", "ci_upper", "weight")
# results/<plan>/tables/changes.tsv
CHANGE_COLUMNS = ["kind", "table", "key", "change", "field", "old", "new", "source", "flags"]
REQUIRED = {"format": int, "name": str, "date": str, "config": dict, "tables": dict, "analyses": dict}
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
KEY_SEP = " | "


class ReleaseError(ValueError):
    """A release that cannot be written or read: the message names the file (or the name) and the key."""


def check_name(name: str) -> str:
    """`name` if it is a safe file name (letters, digits, ``.``, ``_``, ``-``, not starting with a dot or dash,
    at most 100 characters), else ReleaseError."""
    if not isinstance(name, str) or not SAFE_NAME.fullmatch(name) or name.endswith(".json"):
        raise ReleaseError(f"release NAME {name!r} is not a safe file name: letters, digits, '.', '_' and '-', "
                           "starting with a letter or digit, at most 100 characters (e.g. 2026-12)")
    return name


def check_date(value: str, where: str = "DATE") -> str:
    """`value` if it is an ISO date ``YYYY-MM-DD``, else ReleaseError naming `where`."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)):
            raise ValueError
        _date.fromisoformat(str(value))
    except ValueError:
        raise ReleaseError(f"{where}: {value!r} is not an ISO date YYYY-MM-DD") from None
    return str(value)


def _read_text_rows(path: str | PathLike) -> tuple[list[str], list[dict[str, str]]]:
    text = Path(path).read_bytes().decode("utf-8-sig").replace("\r\n", "\n")
    reader = csv.DictReader(io.StringIO(text), delimiter="\t", quoting=csv.QUOTE_NONE)
    return list(reader.fieldnames or []), [{k: (v or "") for k, v in row.items() if k is not None} for row in reader]


def table_rows(path: str | PathLike, key: Iterable[str]) -> dict[str, dict[str, str]]:
    """The rows of a TSV table as text, keyed by the values of its `key` columns joined by ``" | "``."""
    key = list(key)
    columns, rows = _read_text_rows(path)
    missing = [c for c in key if c not in columns]
    if missing:
        raise ReleaseError(f"{path}: key column(s) {missing} missing")
    out: dict[str, dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        k = KEY_SEP.join(row[c] for c in key)
        if k in out:
            raise ReleaseError(f"{path}, line {line}: key {k!r} ({', '.join(key)}) repeated")
        out[k] = row
    return out


def build_release(name: str, date: str, config: Mapping, tables: Mapping[str, tuple[str | PathLike, list[str]]],
                  analyses: Mapping[str, Mapping[str, str | PathLike]],
                  networks: Mapping[str, str | PathLike] | None = None,
                  certainty: str | PathLike | None = None) -> dict:
    """The release `name` recorded on `date`.

    Parameters
    ----------
    config : the config as run.
    tables : table name -> (path of its TSV file, its key columns).
    analyses : analysis name -> ``{"pooled": path, "studies": path, "subgroups": path}`` (results tables: its
        pooled row, kept as ``overall``; its per-study rows; its subgroups' pooled rows, kept as
        ``<subgroup>=<group>``; ``"studies"`` and ``"subgroups"`` optional).
    networks : network analysis name -> its ``ranking.tsv`` (each treatment's P-score, kept as ``ranking``).
    certainty : ``summary_of_findings.tsv``: each analysis's GRADE certainty (kept under the analysis as
        ``certainty``: ``overall`` or the subgroup's group -> level).
    """
    check_name(name)
    check_date(date)
    out_tables = {}
    for table, (path, key) in sorted(tables.items()):
        out_tables[table] = {"sha256": digest(Path(path).read_bytes()), "key": list(key),
                             "rows": table_rows(path, key)}
    out_analyses = {}
    for analysis, files in sorted(analyses.items()):
        _, pooled = _read_text_rows(files["pooled"])
        entry = {"pooled": {}, "studies": {}}
        for row in pooled:
            entry["pooled"]["overall"] = {f: row.get(f, "") for f in POOLED_FIELDS}
        if files.get("subgroups"):
            for row in _read_text_rows(files["subgroups"])[1]:
                entry["pooled"][f"{row.get('subgroup', '')}={row.get('group', '')}"] = {
                    f: row.get(f, "") for f in POOLED_FIELDS}
        if files.get("studies"):
            _, studies = _read_text_rows(files["studies"])
            for row in studies:
                k = KEY_SEP.join(filter(None, (row.get("study_id", ""), row.get("assessor", ""))))
                entry["studies"][k] = {f: row[f] for f in STUDY_FIELDS if f in row}
        out_analyses[analysis] = entry
    if certainty:
        for row in _read_text_rows(certainty)[1]:
            if row.get("analysis") in out_analyses:
                out_analyses[row["analysis"]].setdefault("certainty", {})[row.get("group") or "overall"] = \
                    row.get("certainty", "")
    out = {"format": FORMAT, "name": name, "date": date, "config": json.loads(json.dumps(dict(config))),
           "tables": out_tables, "analyses": out_analyses}
    if networks:
        out["networks"] = {network: {"ranking": {row["treatment"]: row.get("p_score", "")
                                                 for row in _read_text_rows(path)[1]}}
                           for network, path in sorted(networks.items())}
    return out


def dumps(release: Mapping) -> bytes:
    """The bytes of a release file: JSON, keys sorted, one-space indent, a final newline."""
    return (json.dumps(release, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def read_release(path: str | PathLike) -> dict:
    """A release file, checked: valid JSON, a known format, the required keys with their types, a safe name
    matching the file name and an ISO date. Anything else raises ReleaseError naming the file and the key."""
    path = Path(path)
    try:
        release = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ReleaseError(f"{path}: not a readable release file ({err})") from None
    if not isinstance(release, dict):
        raise ReleaseError(f"{path}: a release file holds a JSON object, not {type(release).__name__}")
    for key, kind in REQUIRED.items():
        if key not in release:
            raise ReleaseError(f"{path}: key {key!r} missing")
        if not isinstance(release[key], kind) or (kind is int and isinstance(release[key], bool)):
            raise ReleaseError(f"{path}: key {key!r} is {release[key]!r}, not a {kind.__name__}")
    if release["format"] != FORMAT:
        raise ReleaseError(f"{path}: key 'format' is {release['format']}, an unknown release format "
                           f"(this version reads format {FORMAT})")
    if release["name"] != path.stem:
        raise ReleaseError(f"{path}: key 'name' is {release['name']!r}, not the file's name {path.stem!r}")
    check_date(release["date"], f"{path}: key 'date'")
    for table, entry in release["tables"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("rows"), dict) or "sha256" not in entry:
            raise ReleaseError(f"{path}: key 'tables.{table}' needs 'sha256' and 'rows'")
    for analysis, entry in release["analyses"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("pooled"), dict):
            raise ReleaseError(f"{path}: key 'analyses.{analysis}' needs 'pooled'")
    return release


def list_releases(folder: str | PathLike) -> list[dict]:
    """Every release in `folder` (checked), sorted by date then name; an absent folder holds none."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    releases = [read_release(p) for p in sorted(folder.glob("*.json"))]
    return sorted(releases, key=lambda r: (r["date"], r["name"]))


def resolve_compare_to(value: str | None, folder: str | PathLike) -> dict | None:
    """The release the config's ``compare_to`` names: ``latest`` (default: the latest by date then name, or
    None when there is none), ``none`` (None), or a release name (refused when missing from `folder`)."""
    value = "latest" if value is None else str(value)
    if value == "none":
        return None
    if value == "latest":
        releases = list_releases(folder)
        return releases[-1] if releases else None
    path = Path(folder) / f"{check_name(value)}.json"
    if not path.is_file():
        raise ReleaseError(f"config key compare_to: release {value!r} not found in {folder}/ "
                           f"(releases there: {[r['name'] for r in list_releases(folder)] or 'none'})")
    return read_release(path)


def _number(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def excludes(lower: str | float, upper: str | float, value: float | None) -> bool | None:
    """Whether the interval [lower, upper] excludes `value`; None when `value` or a bound is missing."""
    lo, hi = _number(lower), _number(upper)
    if value is None or math.isnan(lo) or math.isnan(hi):
        return None
    return value < lo or value > hi


def ci_flags(old: Mapping[str, str], new: Mapping[str, str], no_effect: float | None,
             threshold: float | None) -> list[str]:
    """The conclusion changes between two pooled rows (``ci_lower``/``ci_upper`` as text): for the null
    (`no_effect`) and the smallest effect that matters (`threshold`), in words, when the CI now excludes it or no
    longer excludes it. Values that are None (one-arm measures have no null) are not flagged."""
    flags = []
    for what, value in (("the null", no_effect), ("the threshold", threshold)):
        if value is None:
            continue
        before = excludes(old.get("ci_lower"), old.get("ci_upper"), value)
        after = excludes(new.get("ci_lower"), new.get("ci_upper"), value)
        if before is None or after is None or before == after:
            continue
        flags.append(f"CI {'now excludes' if after else 'no longer excludes'} {what} ({value:g})")
    return flags


def ranking_flag(old: Mapping[str, str], new: Mapping[str, str]) -> str | None:
    """A flag when the ranking of a network changed: `old` and `new` map treatment -> P-score (text); the order
    by decreasing P-score (ties by name) is compared over the treatments in both."""
    common = set(old) & set(new)
    before, after = ranking_order(old, common), ranking_order(new, common)
    if before == after:
        return None
    return f"ranking changed: {' > '.join(before)} → {' > '.join(after)}"


def ranking_order(scores: Mapping[str, str], treatments: Iterable[str]) -> list[str]:
    """`treatments` by decreasing P-score in `scores` (treatment -> P-score as text), ties by name."""
    return sorted(treatments, key=lambda t: (-_number(scores[t]), t))


def diff_rows(old: Mapping, new: Mapping) -> list[dict]:
    """Report rows added, removed or edited between two releases' ``tables``, field by field (old → new), each
    naming its source (the row's ``source`` column; the old one for a removed row)."""
    out = []
    for table in sorted(set(old) | set(new)):
        before = old.get(table, {}).get("rows", {})
        after = new.get(table, {}).get("rows", {})
        for key in sorted(set(before) | set(after)):
            a, b = before.get(key), after.get(key)
            if a == b:
                continue
            source = (b or a).get("source", "")
            if a is None or b is None:
                out.append({"kind": "report", "table": table, "key": key, "change": "added" if a is None
                            else "removed", "field": "", "old": "", "new": "", "source": source, "flags": ""})
                continue
            for field in sorted(set(a) | set(b)):
                if a.get(field, "") != b.get(field, ""):
                    out.append({"kind": "report", "table": table, "key": key, "change": "edited", "field": field,
                                "old": a.get(field, ""), "new": b.get(field, ""), "source": source, "flags": ""})
    return out


def diff_analyses(old: Mapping, new: Mapping, specs: Mapping[str, tuple[float | None, float | None]]
                  ) -> tuple[list[dict], list[str]]:
    """Pooled numbers that moved between two releases' ``analyses`` (each field old → new, with the conclusion
    flags of :func:`ci_flags` on the ``ci_lower`` and ``ci_upper`` rows), and the analyses that did not move.
    `specs` maps an analysis to its (no_effect, decision_threshold); analyses absent from it are not flagged."""
    rows, unchanged = [], []
    for analysis in sorted(set(old) | set(new)):
        a, b = old.get(analysis), new.get(analysis)
        if a is None or b is None:
            rows.append({"kind": "analysis", "table": "analyses", "key": analysis, "change": "added" if a is None
                         else "removed", "field": "", "old": "", "new": "", "source": "", "flags": ""})
            continue
        moved = False
        for label in sorted(set(a["pooled"]) | set(b["pooled"])):
            pa, pb = a["pooled"].get(label, {}), b["pooled"].get(label, {})
            flags = "; ".join(ci_flags(pa, pb, *specs.get(analysis, (None, None))))
            for field in POOLED_FIELDS:
                if pa.get(field, "") != pb.get(field, ""):
                    moved = True
                    rows.append({"kind": "analysis", "table": label, "key": analysis, "change": "edited",
                                 "field": field, "old": pa.get(field, ""), "new": pb.get(field, ""), "source": "",
                                 "flags": flags if field in ("ci_lower", "ci_upper") else ""})
        for label in sorted(set(a.get("certainty", {})) & set(b.get("certainty", {}))):
            before, after = a["certainty"][label], b["certainty"][label]
            if before != after:
                moved = True
                rows.append({"kind": "analysis", "table": label, "key": analysis, "change": "edited",
                             "field": "certainty", "old": before, "new": after, "source": "",
                             "flags": f"certainty changed: {before} → {after}"})
        if not moved:
            unchanged.append(analysis)
    return rows, unchanged


def diff_networks(old: Mapping, new: Mapping) -> list[dict]:
    """The networks (present in both releases' ``networks``) whose ranking by P-score changed, one row each with
    :func:`ranking_flag`."""
    rows = []
    for network in sorted(set(old) & set(new)):
        before, after = old[network]["ranking"], new[network]["ranking"]
        flag = ranking_flag(before, after)
        if flag:
            common = set(before) & set(after)
            rows.append({"kind": "network", "table": "ranking", "key": network, "change": "edited",
                         "field": "order by P-score", "old": " > ".join(ranking_order(before, common)),
                         "new": " > ".join(ranking_order(after, common)), "source": "", "flags": flag})
    return rows


def changes(old: Mapping, new: Mapping, specs: Mapping[str, tuple[float | None, float | None]]
            ) -> tuple[list[dict], list[str]]:
    """The rows of ``changes.tsv`` (columns :data:`CHANGE_COLUMNS`: changed reports first, then changed pooled
    numbers) between release `old` and the current evidence `new` (a release built from the current results),
    and the analyses whose pooled numbers did not move."""
    rows, unchanged = diff_analyses(old["analyses"], new["analyses"], specs)
    networks = diff_networks(old.get("networks", {}), new.get("networks", {}))
    return diff_rows(old["tables"], new["tables"]) + rows + networks, unchanged


def read_releases(folder) -> list[tuple[str, datetime.date]]:
    """The releases in ``folder`` as ``(name, date)``, sorted by date then name (:func:`list_releases`: each file
    checked); none when the folder does not exist.

    Raises
    ------
    ReleaseError
        A file that is not a release, naming the file and the key.
    """
    return [(r["name"], datetime.date.fromisoformat(r["date"])) for r in list_releases(folder)]
