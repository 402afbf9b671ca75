"""The workflow end to end: the default config run from data/ in a temporary copy."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest

from metapool.analysis.estimates import TEXT_COLUMNS
from metapool.io import read_tsv

from conftest import load_fixture, snakemake


AUDIT_TEXT = ["ci_level", "pct_printed", "ci_lower_printed", "ci_upper_printed", "status"]


def table(run, name):
    return read_tsv(run / "results" / "default" / "tables" / name, text_columns=TEXT_COLUMNS + AUDIT_TEXT + ["label", "reason"])


def estimate(run, study_id, outcome, measure=None):
    measure = measure or ("proportion" if outcome.endswith("orr") else "median")
    df = table(run, "studies.tsv")
    row = df[(df.study_id == study_id) & (df.outcome == outcome) & (df.measure == measure)]
    assert len(row) == 1, f"{study_id} {outcome}: {len(row)} rows"
    return row.iloc[0]


# ---------------------------------------------------------------- seed numbers (../shared/seeds/INDEX.md)

def test_okayama_orr_3_of_9_with_exact_95_and_90_percent_cis(workflow_run):
    r = estimate(workflow_run, "OKAYAMA_crizotinib", "orr")
    assert (r.events, r.n) == (3, 9)
    assert round(r.estimate, 4) == 0.3333
    assert (round(r.ci_lower, 4), round(r.ci_upper, 4)) == (0.0749, 0.7007)
    audit = table(workflow_run, "audit.tsv")
    rows = audit[audit.study_id == "OKAYAMA_crizotinib"].set_index("ci_level")
    assert rows.loc["0.95", ["pct_printed", "ci_lower_printed", "ci_upper_printed"]].tolist() == ["33.3", "7.5", "70.1"]
    assert rows.loc["0.90", ["pct_printed", "ci_lower_printed", "ci_upper_printed"]].tolist() == ["33.3", "9.8", "65.5"]
    assert (round(rows.loc["0.90", "ci_lower_exact"], 2), round(rows.loc["0.90", "ci_upper_exact"], 2)) == (9.77, 65.51)
    assert (rows["status"] == "agrees").all()


def test_okayama_survival(workflow_run):
    assert estimate(workflow_run, "OKAYAMA_crizotinib", "pfs").estimate == 2.2
    assert estimate(workflow_run, "OKAYAMA_crizotinib", "os").estimate == 24.1


def test_profile_1001(workflow_run):
    r = estimate(workflow_run, "PROFILE1001_2012", "orr")
    assert (r.events, r.n) == (87, 143) and round(100 * r.estimate, 1) == 60.8
    assert estimate(workflow_run, "PROFILE1001_2012", "pfs").estimate == 9.7


def test_profile_1005_two_cuts_are_kept_but_never_pooled_together(workflow_run):
    early = estimate(workflow_run, "PROFILE1005_2011", "orr")
    late = estimate(workflow_run, "PROFILE1005_2012", "orr")
    assert (early.events, early.n, round(100 * early.estimate, 1)) == (68, 133, 51.1)
    assert (late.events, late.n, round(100 * late.estimate, 1)) == (155, 259, 59.8)
    assert estimate(workflow_run, "PROFILE1005_2012", "pfs").estimate == 8.1
    st = read_tsv(workflow_run / "results/default/analyses/orr_tki_naive/studies.tsv", text_columns=["study_id", "status", "reason"])
    status = st.set_index("study_id")["status"]
    assert status["PROFILE1005_2012"] == "pooled"
    assert status["PROFILE1005_2011"] == "set_aside"
    assert "PROFILE1005_2012" in st.set_index("study_id").loc["PROFILE1005_2011", "reason"]


def test_ceritinib_ldk378_81_percent_of_26(workflow_run):
    r = estimate(workflow_run, "ASCEND1_LDK378_2012", "orr")
    assert (r.events, r.n, round(100 * r.estimate)) == (21, 26, 81)


def test_jalex_and_pemetrexed_medians(workflow_run):
    assert estimate(workflow_run, "JALEX_alectinib", "pfs").estimate == 34.1
    assert estimate(workflow_run, "PEMETREXED_retrospective", "pfs").estimate == 4.4


# ---------------------------------------------------------------- pooled estimates against metafor

DEFAULT_CASES = load_fixture("default_analyses.json")["cases"]
DEFAULT_ANALYSES = sorted({c["analysis"] for c in DEFAULT_CASES})
METAFOR_NAMES = [("estimate", "bt_pred"), ("ci_lower", "bt_ci_lb"), ("ci_upper", "bt_ci_ub"), ("pi_lower", "bt_pi_lb"),
                 ("pi_upper", "bt_pi_ub"), ("tau2", "tau2"), ("i2", "I2"), ("q", "QE"), ("beta", "beta"), ("se", "se"),
                 ("zval", "stat"), ("pval", "pval")]


@pytest.mark.parametrize("case", DEFAULT_CASES, ids=lambda c: c["analysis"] + (f"[{c['group']}]" if "group" in c else ""))
def test_default_analyses_equal_metafor(workflow_run, case):
    """Each analysis's pooled row equals metafor's fit of its included studies; an analysis with
    ``overall: false`` has no estimate in its pooled row, and each of its subgroups (subgroups.tsv)
    equals metafor's fit of that subgroup's studies."""
    name = case["analysis"]
    studies = read_tsv(workflow_run / f"results/default/analyses/{name}/studies.tsv", text_columns=["study_id", "subgroup"])
    pooled = table(workflow_run, "pooled.tsv").set_index("analysis").loc[name]
    included = studies[studies.included]
    if "group" in case:
        assert not pooled["overall"] and pd.isna(pooled["estimate"]) and pd.isna(pooled["tau2"])
        included = included[included.subgroup == case["group"]]
        groups = read_tsv(workflow_run / f"results/default/analyses/{name}/subgroups.tsv", text_columns=["group"])
        ours = groups.set_index("group").loc[case["group"]]
    else:
        assert pooled["overall"]
        ours = pooled
    assert included["study_id"].tolist() == case["study_ids"]
    for col, theirs in METAFOR_NAMES:
        if "group" in case and col == "q" and case["k"] == 1:
            continue
        assert ours[col] == pytest.approx(case[theirs], rel=1e-6, abs=1e-12), col
    # the test for the overall effect: t on k - 1 df where metafor used knha (z when k = 1), else z
    if case["test_used"] == "knha":
        assert ours["test"] == "t" and ours["ddf"] == pytest.approx(case["ddf"], abs=1e-12)
    else:
        assert ours["test"] == "z" and pd.isna(ours["ddf"])


def test_every_configured_analysis_has_a_pooled_row_and_a_forest_plot(workflow_run):
    pooled = table(workflow_run, "pooled.tsv")
    assert sorted(pooled.analysis) == DEFAULT_ANALYSES
    for name in pooled.analysis:
        for ext in ("svg", "pdf", "png"):
            assert (workflow_run / f"results/default/figures/forest_{name}.{ext}").stat().st_size > 1000


def test_hazard_ratio_pools_never_mix_comparators_or_lines_of_therapy(workflow_run):
    est = table(workflow_run, "hazard_ratios_estimates.tsv").set_index("study_id")
    for name in ("pfs_hr_vs_crizotinib_first_line", "os_hr_vs_crizotinib_first_line", "pfs_hr_vs_chemotherapy_first_line",
                 "os_hr_vs_chemotherapy_first_line", "pfs_hr_vs_chemotherapy_post_crizotinib"):
        st = read_tsv(workflow_run / f"results/default/analyses/{name}/studies.tsv", text_columns=["study_id"])
        comparators = set(est.loc[st.study_id, "comparator"])
        assert len(comparators) == 1, (name, comparators)
        lines = set(est.loc[st.study_id, "setting"])  # one line of therapy
        assert len(lines) == 1, (name, lines)


def test_report_is_self_contained_and_lists_audit_and_set_aside_reports(workflow_run):
    html = (workflow_run / "results/default/report.html").read_text()
    assert "<script" not in html and 'src="http' not in html and "<link" not in html
    assert html.count('<img src="data:image/svg+xml;base64,') == html.count("<img ")
    assert html.count('alt="Forest plot: ') == len(DEFAULT_ANALYSES)
    assert "PROFILE1005_2011" in html and "set aside" in html
    assert "Extraction audit" in html and "Provenance" in html
    assert "restricted maximum likelihood" in html


# ---------------------------------------------------------------- Snakemake craft

def test_lint_is_clean(workflow_run):
    proc = snakemake(workflow_run, "--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Lints for" not in out, out[-3000:]


def _scheduled_outputs(run) -> set[str]:
    proc = snakemake(run, "--dry-run", "--verbose")  # --verbose: the console names each job's outputs
    return {line.split(":", 1)[1].strip() for line in (proc.stdout + proc.stderr).splitlines()
            if line.strip().startswith("output:")}


def test_editing_survival_reschedules_only_survival_dependent_jobs(workflow_run):
    assert _scheduled_outputs(workflow_run) == set()
    path = workflow_run / "data/survival.tsv"
    original = path.read_text()
    # a touch that leaves the content unchanged reruns nothing (Snakemake compares checksums)
    future = time.time() + 10
    os.utime(path, (future, future))
    assert _scheduled_outputs(workflow_run) == set()
    try:
        path.write_text(original.replace("\t3.7\t0.95\t1.9\t5.3\t", "\t3.8\t0.95\t1.9\t5.3\t", 1))
        assert path.read_text() != original
        outputs = " ".join(sorted(_scheduled_outputs(workflow_run)))
    finally:
        path.write_text(original)
    assert "results/default/tables/survival_estimates.tsv" in outputs
    assert "results/default/analyses/pfs_median_post_second_gen/pooled.tsv" in outputs
    assert "forest_pfs_median_post_second_gen.svg" in outputs
    assert "results/default/report.html" in outputs
    # the pairwise hazard-ratio analyses read no median (the networks do: their arm sizes come from survival.tsv);
    # the one job that writes every analysis's formatted summary table (tables/summary/, as the workbook holds
    # every table) reruns as a whole
    assert "results/default/tables/summary_tables.docx" in outputs
    analysis_outputs = " ".join(o for o in outputs.split() if "/tables/summary/" not in o)
    for untouched in ("response_estimates", "hazard_ratios_estimates", "audit.tsv", "orr_", "pfs_hr_vs_"):
        assert untouched not in analysis_outputs, untouched


def test_default_report_has_the_risk_of_bias_figures(workflow_run):
    """data/risk_of_bias.tsv judges the first-line hazard ratios: their traffic-light and weighted summary plots are
    drawn (every format), embedded in the report's risk-of-bias section, and the job records what it read."""
    figures = workflow_run / "results/default/figures"
    for name in ("pfs_hr_vs_crizotinib_first_line", "os_hr_vs_chemotherapy_first_line"):
        for kind in ("rob_traffic_light", "rob_summary"):
            for ext in ("svg", "pdf", "png"):
                assert (figures / f"{kind}_{name}.{ext}").stat().st_size > 1000
        svg = (figures / f"rob_traffic_light_{name}.svg").read_text(encoding="utf-8")
        assert "<!-- Overall -->" in svg
        record = json.loads((workflow_run / f"results/default/inputs/risk_of_bias_{name}.json").read_text())
        assert "data/risk_of_bias.tsv" in record
    assert "<!-- ALESIA (alectinib" in (figures / "rob_traffic_light_pfs_hr_vs_crizotinib_first_line.svg").read_text()
    forest = (figures / "forest_pfs_hr_vs_crizotinib_first_line.svg").read_text(encoding="utf-8")
    assert "<!-- F -->" in forest and "<!-- Judgements: + low; - some concerns; X high; empty circle: not judged. -->" \
        in forest  # forest_rob: true in config/config.yaml
    report = (workflow_run / "results/default/report.html").read_text(encoding="utf-8")
    assert report.count('alt="Risk-of-bias traffic-light plot: ') >= 2
    assert report.count('alt="Risk-of-bias weighted summary plot: ') >= 2
