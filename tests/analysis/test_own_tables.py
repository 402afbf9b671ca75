"""A review that brings its own tables (tests/data/hr_only/: hazard ratios only, extra columns in studies.tsv,
response.tsv with a header and no rows, no survival.tsv), through the engine without Snakemake: per-study
estimates, the pooled analyses and the meta-regression of its plan against metafor
(tests/reference/fixtures/own_tables.json), and the same results whatever the encoding variant or column
order of the files."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from metapool.analysis.config import analysis_specs, check_config, fill_defaults
from metapool.analysis.diagnostics import MODERATOR_COLUMNS, moderator_frame
from metapool.analysis.run import prepare_analysis, run_analysis
from metapool.analysis.validation import BOM, validate_tables
from metapool.io import read_tsv
from metapool.steps import audit_step, estimates_step

from conftest import ROOT, load_fixture

DATA = ROOT / "tests" / "data" / "hr_only"
FIXTURE = load_fixture("own_tables.json")


def plan() -> dict:
    return fill_defaults(yaml.safe_load((DATA / "plan.yaml").read_text()))


def estimates(folder: Path, out: Path) -> Path:
    estimates_step(folder / "studies.tsv", folder / "hazard_ratios.tsv", "hazard_ratios", out)
    return out


@pytest.fixture(scope="module")
def hr_estimates(tmp_path_factory) -> pd.DataFrame:
    path = estimates(DATA, tmp_path_factory.mktemp("hr") / "hazard_ratios_estimates.tsv")
    from metapool.steps import _read_estimate_table

    return _read_estimate_table(path)


def test_the_plan_passes_the_checks_with_the_tables_the_reviewer_has():
    tables = validate_tables({t: DATA / f"{t}.tsv" for t in ("studies", "response", "hazard_ratios")})
    assert len(tables["response"]) == 0 and "survival" not in tables
    specs = check_config(plan(), tables)
    assert specs["pfs_hr_vs_crizotinib"].moderators == ("year", "population")
    assert specs["pfs_hr_vs_crizotinib"].sensitivity_tables == ("moderators", "leave_one_out")


def test_extra_columns_reach_the_estimates_as_written(hr_estimates):
    studies = pd.read_csv(DATA / "studies.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(hr_estimates.columns[-2:]) == ["population", "reviewer_note"]
    expected = studies.set_index("study_id").loc[hr_estimates["study_id"], "population"].tolist()
    assert hr_estimates["population"].tolist() == expected


@pytest.mark.parametrize("case", FIXTURE["pooled"], ids=lambda c: c["analysis"])
def test_pooled_hazard_ratios_match_metafor(hr_estimates, case):
    spec = analysis_specs(plan())[case["analysis"]]
    studies, pooled = run_analysis(hr_estimates, spec.pooling_only())
    pooled_ids = sorted(studies.loc[studies["status"] == "pooled", "study_id"])
    assert pooled_ids == sorted(case["study_ids"])
    row = pooled.iloc[0]
    assert row["k"] == case["k"]
    for ours, theirs in (("beta", "beta"), ("se", "se"), ("estimate", "bt_estimate"), ("ci_lower", "bt_ci_lb"),
                         ("ci_upper", "bt_ci_ub"), ("i2", "I2"), ("q", "QE")):
        assert row[ours] == pytest.approx(case[theirs], rel=1e-6, abs=1e-9), ours
    assert row["tau2"] == pytest.approx(case["tau2"], rel=1e-4, abs=1e-8)
    assert "population" in studies.columns  # the extra column is carried into the analysis's studies.tsv


@pytest.mark.parametrize("case", FIXTURE["regression"], ids=lambda c: c["test"])
def test_moderator_table_matches_metafor(hr_estimates, case):
    spec = analysis_specs(plan())["pfs_hr_vs_crizotinib"]
    if case["test"] == "knha":
        spec = replace(spec, model=replace(spec.model, ci="hartung_knapp"))
    table = moderator_frame(prepare_analysis(hr_estimates, spec.pooling_only()))
    assert list(table.columns) == MODERATOR_COLUMNS
    assert table["term"].tolist() == case["terms"] and (table["reason"] == "").all()
    for ours, theirs in (("estimate", "beta"), ("se", "se"), ("statistic", "stat"), ("pvalue", "pval"),
                         ("ci_lower", "ci_lb"), ("ci_upper", "ci_ub")):
        np.testing.assert_allclose(table[ours], case[theirs], rtol=1e-5, err_msg=ours)
    first = table.iloc[0]
    assert first["k"] == case["k"] and first["qe_df"] == case["QEdf"]
    assert first["test"] == ("t" if case["test"] == "knha" else "z")
    for ours, theirs in (("qm", "QM"), ("qm_pvalue", "QMp"), ("qe", "QE"), ("qe_pvalue", "QEp"), ("i2", "I2")):
        assert first[ours] == pytest.approx(case[theirs], rel=1e-5), ours
    assert first["tau2"] == pytest.approx(case["tau2"], rel=1e-4, abs=1e-8)
    assert first["r2"] == pytest.approx(case["R2"], abs=1e-6)


def test_a_study_without_a_moderator_value_is_named_not_dropped_silently(hr_estimates):
    spec = analysis_specs(plan())["pfs_hr_vs_crizotinib"]
    frame = hr_estimates.copy()
    frame.loc[frame["study_id"] == "CROWN_lorlatinib", "population"] = ""
    table = moderator_frame(prepare_analysis(frame, spec.pooling_only()))
    assert (table["k"] == 5).all()
    assert table["notes"].iloc[0].startswith("left out for an empty moderator: CROWN") and "(population)" in \
        table["notes"].iloc[0]


def _variant(folder: Path, *, bom=False, crlf=False, shuffle=False) -> Path:
    for src in DATA.glob("*.tsv"):
        lines = src.read_text(encoding="utf-8").splitlines()
        if shuffle:
            rows = [line.split("\t") for line in lines]
            order = list(reversed(range(len(rows[0]))))
            lines = ["\t".join(r[i] for i in order) for r in rows]
        data = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
        (folder / src.name).write_bytes((BOM if bom else b"") + data.encode("utf-8"))
    return folder


@pytest.mark.parametrize("variant", [dict(bom=True), dict(crlf=True), dict(shuffle=True),
                                     dict(bom=True, crlf=True, shuffle=True)], ids=str)
def test_bom_crlf_and_column_order_give_byte_identical_results(tmp_path, variant):
    (tmp_path / "plain").mkdir()
    (tmp_path / "other").mkdir()
    folder = _variant(tmp_path / "other", **variant)
    shutil.copy(DATA / "plan.yaml", folder)
    a = estimates(DATA, tmp_path / "plain" / "hr.tsv").read_bytes()
    b = estimates(folder, tmp_path / "other" / "hr.tsv").read_bytes()
    assert a == b
    audit_step(DATA / "response.tsv", tmp_path / "plain" / "audit.tsv")
    audit_step(folder / "response.tsv", tmp_path / "other" / "audit.tsv")
    assert (tmp_path / "plain" / "audit.tsv").read_bytes() == (tmp_path / "other" / "audit.tsv").read_bytes()


def test_empty_and_absent_response_give_an_audit_without_rows(tmp_path):
    audit_step(DATA / "response.tsv", tmp_path / "empty.tsv")
    audit_step(None, tmp_path / "absent.tsv")
    assert (tmp_path / "empty.tsv").read_bytes() == (tmp_path / "absent.tsv").read_bytes()
    assert len(read_tsv(tmp_path / "absent.tsv")) == 0


def test_header_only_tables_give_estimates_without_rows(tmp_path):
    for table in ("response", "survival"):
        src = tmp_path / f"{table}.tsv"
        src.write_text((ROOT / "data" / f"{table}.tsv").read_text(encoding="utf-8").splitlines()[0] + "\n")
        out = tmp_path / f"{table}_estimates.tsv"
        estimates_step(DATA / "studies.tsv", src, table, out)
        assert len(read_tsv(out)) == 0
