"""A malformed table stops the workflow before any job runs, naming file, line, column and value."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conftest import copy_workflow, snakemake


def _rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def _write(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, delimiter="\t", lineterminator="\n").writerows(rows)


def set_cell(path: Path, study_id: str, column: str, value: str, nth: int = 0) -> int:
    """Set ``column`` of the ``nth`` row of ``study_id``; returns that row's file line."""
    rows = _rows(path)
    col = rows[0].index(column)
    matches = [i for i, r in enumerate(rows) if i > 0 and r[0] == study_id]
    rows[matches[nth]][col] = value
    _write(path, rows)
    return matches[nth] + 1


# (table, study_id, column, new value, words of the rule)
CELL_CASES = [
    ("response", "ALEX_alectinib", "responders", "200", "must be <= evaluable"),
    ("response", "ALEX_alectinib", "evaluable", "many", "integer"),
    ("response", "ALEX_alectinib", "pct", "120", "<= 100"),
    ("response", "ALEX_alectinib", "study_id", "NO_SUCH_STUDY", "studies.tsv"),
    ("studies", "ALEX_alectinib", "setting", "first_line", "tki_naive"),
    ("studies", "ALEX_alectinib", "year", "1850", ">= 1990"),
    ("survival", "ASCEND9_ceritinib", "ci_lower", "4.1", "ci_lower"),
    ("survival", "ASCEND9_ceritinib", "median", "-3", ""),
    ("hazard_ratios", "ALUR_alectinib", "ci_upper", "0.1", "must be >= hr"),
    ("hazard_ratios", "ALUR_alectinib", "comparator", "placebo", "crizotinib"),
]


def _assert_stopped_cleanly(workdir: Path, proc, file: str, line: int, column: str, value: str, words: str):
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{file}, line {line}, column '{column}', value '{value}'" in out, out[-3000:]
    assert words in out
    results = workdir / "results"
    written = [p for p in results.rglob("*") if p.is_file()] if results.exists() else []
    assert written == [], written


@pytest.mark.parametrize("table,study_id,column,value,words", CELL_CASES, ids=lambda v: str(v)[:24])
def test_malformed_cell_stops_the_run_before_any_output(tmp_path, table, study_id, column, value, words):
    workdir = copy_workflow(tmp_path / "wf")
    line = set_cell(workdir / "data" / f"{table}.tsv", study_id, column, value)
    proc = snakemake(workdir, check=False)
    _assert_stopped_cleanly(workdir, proc, f"data/{table}.tsv", line, column, value, words)


def test_duplicate_study_id_is_reported_with_both_lines(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    path = workdir / "data" / "studies.tsv"
    rows = _rows(path)
    _write(path, rows + [rows[1]])
    proc = snakemake(workdir, check=False)
    _assert_stopped_cleanly(workdir, proc, "data/studies.tsv", len(rows) + 1, "study_id", rows[1][0], "line 2")


def test_missing_column_is_reported_by_name(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    path = workdir / "data" / "hazard_ratios.tsv"
    rows = _rows(path)
    col = rows[0].index("ci_level")
    _write(path, [r[:col] + r[col + 1:] for r in rows])
    proc = snakemake(workdir, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "data/hazard_ratios.tsv, line 1" in out and "ci_level" in out
    assert not (workdir / "results").exists() or not any(p.is_file() for p in (workdir / "results").rglob("*"))


def test_all_violations_of_a_table_are_listed_at_once(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    path = workdir / "data" / "response.tsv"
    lines = [set_cell(path, "ALEX_alectinib", "pct", "120"), set_cell(path, "CROWN_lorlatinib", "evaluable", "x")]
    proc = snakemake(workdir, check=False)
    out = proc.stdout + proc.stderr
    for line in lines:
        assert f"data/response.tsv, line {line}" in out


def test_derived_count_that_is_not_unique_is_rejected(tmp_path):
    """74% of 172 is reproduced by 127 and by 128: no count may be derived."""
    workdir = copy_workflow(tmp_path / "wf")
    path = workdir / "data" / "response.tsv"
    set_cell(path, "PROFILE1014_crizotinib", "count_source", "derived")
    line = set_cell(path, "PROFILE1014_crizotinib", "responders", "127")
    proc = snakemake(workdir, check=False)
    _assert_stopped_cleanly(workdir, proc, "data/response.tsv", line, "responders", "127", "128")
