"""The workflow on a review that brings its own tables: hazard ratios only (tests/data/hr_only/: studies.tsv
with two extra columns, hazard_ratios.tsv, response.tsv with a header and no rows, no survival.tsv) with a
plan of its own (--configfile), checked against metafor (tests/reference/fixtures/own_tables.json); the same
tables with a byte-order mark, CRLF line ends and their columns in reverse order give byte-identical tables."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metapool.analysis.validation import BOM
from metapool.io import read_tsv

from conftest import ROOT, copy_workflow, load_fixture, snakemake

DATA = ROOT / "tests" / "data" / "hr_only"
FIXTURE = load_fixture("own_tables.json")


def _workdir(root: Path, transform=None) -> Path:
    workdir = copy_workflow(root)
    shutil.rmtree(workdir / "data")
    shutil.copytree(DATA, workdir / "hr_data")
    if transform is not None:
        for path in (workdir / "hr_data").glob("*.tsv"):
            path.write_bytes(transform(path.read_text(encoding="utf-8")))
    return workdir


def _reversed_bom_crlf(text: str) -> bytes:
    rows = [line.split("\t") for line in text.splitlines()]
    return BOM + "".join("\t".join(reversed(r)) + "\r\n" for r in rows).encode("utf-8")


@pytest.fixture(scope="module")
def hr_run(tmp_path_factory) -> Path:
    workdir = _workdir(tmp_path_factory.mktemp("hr_only"))
    snakemake(workdir, "--configfile", "hr_data/plan.yaml")
    return workdir


def test_a_hazard_ratio_only_review_runs_and_matches_metafor(hr_run):
    tables = hr_run / "results" / "hr_only" / "tables"
    assert not (tables / "response_estimates.tsv").exists() and not (tables / "survival_estimates.tsv").exists()
    assert (hr_run / "results" / "hr_only" / "report.html").stat().st_size > 10_000
    pooled = read_tsv(tables / "pooled.tsv", text_columns=["analysis", "title", "notes"]).set_index("analysis")
    for case in FIXTURE["pooled"]:
        row = pooled.loc[case["analysis"]]
        assert row["k"] == case["k"]
        for ours, theirs in (("estimate", "bt_estimate"), ("ci_lower", "bt_ci_lb"), ("ci_upper", "bt_ci_ub"),
                             ("beta", "beta"), ("se", "se"), ("i2", "I2")):
            assert row[ours] == pytest.approx(case[theirs], rel=1e-6), (case["analysis"], ours)


def test_extra_columns_reach_the_studies_tables(hr_run):
    studies = read_tsv(hr_run / "results/hr_only/tables/studies.tsv", text_columns=["population", "reviewer_note"])
    assert set(studies["population"]) == {"asian", "global"}
    assert "checked against the source" in set(studies["reviewer_note"])
    analysis = read_tsv(hr_run / "results/hr_only/analyses/pfs_hr_vs_crizotinib_global/studies.tsv",
                        text_columns=["population", "status"])
    assert set(analysis.loc[analysis["status"] == "pooled", "population"]) == {"global"}


def test_moderator_table_matches_metafor(hr_run):
    case = next(c for c in FIXTURE["regression"] if c["test"] == "z")
    table = read_tsv(hr_run / "results/hr_only/analyses/pfs_hr_vs_crizotinib/moderators.tsv", text_columns=["term"])
    assert table["term"].tolist() == case["terms"]
    assert table["estimate"].tolist() == pytest.approx(case["beta"], rel=1e-5)
    assert table["pvalue"].tolist() == pytest.approx(case["pval"], rel=1e-5)
    assert table["qm_pvalue"].iloc[0] == pytest.approx(case["QMp"], rel=1e-5)
    assert "Meta-regression" in (hr_run / "results/hr_only/report.html").read_text(encoding="utf-8")


def test_bom_crlf_and_shuffled_columns_give_byte_identical_tables(hr_run, tmp_path_factory):
    workdir = _workdir(tmp_path_factory.mktemp("hr_only_variant"), _reversed_bom_crlf)
    snakemake(workdir, "tables", "--configfile", "hr_data/plan.yaml")
    written = sorted(p.relative_to(workdir) for p in (workdir / "results").rglob("*.tsv") if "logs" not in p.parts)
    assert Path("results/hr_only/analyses/pfs_hr_vs_crizotinib/moderators.tsv") in written
    for path in written:
        assert (workdir / path).read_bytes() == (hr_run / path).read_bytes(), path


def test_an_analysis_reading_an_absent_table_is_refused_naming_it(tmp_path):
    workdir = _workdir(tmp_path / "w")
    plan = (workdir / "hr_data/plan.yaml").read_text()
    (workdir / "hr_data/plan.yaml").write_text(plan + "  pfs_median:\n    title: Median PFS\n    outcome: pfs_median\n")
    proc = snakemake(workdir, "--dry-run", "--configfile", "hr_data/plan.yaml", check=False)
    assert proc.returncode != 0
    assert ("config: analyses.pfs_median: outcome pfs_median is read from hr_data/survival.tsv, which is absent"
            in proc.stdout + proc.stderr)
    assert not (workdir / "results").exists()
