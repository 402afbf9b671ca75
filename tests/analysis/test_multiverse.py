"""The multiverse: every specification pooled in one vectorised call, each row what the single analysis gives.

* against metafor: fixtures/multiverse.json (tests/reference/R/multiverse.R) refits every specification of
  the ORR-after-crizotinib multiverse in R, choosing each specification's studies in R from data/ -- the
  study sets and the pooled numbers must agree (relative 1e-6; the GLMM 1e-4);
* against the single-analysis path: a row equals ``run_analysis(estimates, specification_spec(spec, choice))``
  exactly (the same floats), for proportions under every transform, the GLMM, hazard ratios, and inclusion
  choices that drop retrospective studies;
* the summary, the specification curve, and the imports of a pooling job.
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.analysis.config import analysis_specs, fill_defaults, multiverse_choices, specification_spec
from metapool.analysis.estimates import TEXT_COLUMNS, hr_estimates, response_estimates, survival_estimates
from metapool.analysis.multiverse import MULTIVERSE_COLUMNS, SUMMARY_COLUMNS, run_multiverse, summarise
from metapool.analysis.bayes import bayes_fit
from metapool.analysis.run import prepare_analysis, run_analysis
from metapool.analysis.selection import AnalysisError
from metapool.analysis.validation import read_raw, validate_tables
from metapool.io import read_tsv, write_tsv
from metapool.spec import Multiverse

from conftest import ROOT, load_fixture

FIX = load_fixture("multiverse.json")
NUMBERS = ["estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "beta", "se", "zval", "ddf",
           "pval"]


@pytest.fixture(scope="module")
def estimates(tmp_path_factory) -> dict[str, pd.DataFrame]:
    """The per-study estimate tables as the workflow writes and reads them."""
    paths = {t: ROOT / "data" / f"{t}.tsv" for t in ("studies", "response", "survival", "hazard_ratios")}
    tables = validate_tables(paths)
    frames = {
        "response": response_estimates(tables["studies"], tables["response"], 0.95),
        "survival": survival_estimates(tables["studies"], tables["survival"]),
        "hazard_ratios": hr_estimates(tables["studies"], tables["hazard_ratios"],
                                      printed=read_raw(paths["hazard_ratios"])),
    }
    out = {}
    tmp = tmp_path_factory.mktemp("estimates")
    for name, frame in frames.items():
        write_tsv(frame, tmp / f"{name}.tsv")
        out[name] = read_tsv(tmp / f"{name}.tsv", text_columns=TEXT_COLUMNS)
    return out


def frame_for(estimates, spec) -> pd.DataFrame:
    return pd.concat([estimates[t] for t in spec.tables], ignore_index=True)


def fixture_spec():
    s = FIX["spec"]
    config = fill_defaults({"analyses": {s["name"]: {
        "title": "ORR after crizotinib", "outcome": s["outcome"], "level": s["level"], "pi": s["pi"],
        "filters": s["filters"], "multiverse": {"threshold": s["threshold"], **s["choices"]}}}})
    return analysis_specs(config)[s["name"]]


def example_specs() -> dict:
    config = fill_defaults(yaml.safe_load((ROOT / "config/examples/multiverse.yaml").read_text()))
    return analysis_specs(config)


@pytest.fixture(scope="module")
def fixture_result(estimates):
    spec = fixture_spec()
    return spec, run_multiverse(frame_for(estimates, spec), spec)


# ---------------------------------------------------------------- against metafor


def _key(row) -> tuple:
    return tuple(str(row[d]) for d in ("assessor", "design", "retrospective", "verification", "report_policy",
                                       "transform", "method"))


def test_every_specification_matches_metafor(fixture_result):
    spec, result = fixture_result
    table = result.table
    assert len(table) == len(FIX["cases"]) == 400
    rows = {(_key(r), r["ci_method"]): r for r in table.to_dict("records")}
    for case in FIX["cases"]:
        row = rows[(_key(case), case["ci"])]
        label = f"{_key(case)} {case['ci']}"
        assert sorted(row["study_ids"].split(";")) == sorted(case["study_ids"]), label
        assert row["k"] == len(case["study_ids"])
        assert "error" not in case
        glmm = case["transform"] == "glmm"
        for col in NUMBERS:
            expected = math.nan if case.get(col) is None else case[col]
            if math.isnan(expected):
                assert math.isnan(row[col]), (label, col)
            elif glmm:  # lme4's own tolerances (as tests/test_glmm.py): 1e-4 relative, 1e-5 on the logit scale
                got = row[col]
                if col in ("estimate", "ci_lower", "ci_upper"):
                    got, expected = math.log(got / (1 - got)), math.log(expected / (1 - expected))
                assert got == pytest.approx(expected, rel=1e-4, abs=1e-5), (label, col, row[col], expected)
            else:
                assert row[col] == pytest.approx(expected, rel=1e-6, abs=1e-10), (label, col, row[col], expected)


def test_fixture_multiverse_varies_the_studies(fixture_result):
    """The inclusion choices really change the study sets (else the comparison above would be weak)."""
    sets = {tuple(sorted(c["study_ids"])) for c in FIX["cases"]}
    assert len(sets) >= 4


# ---------------------------------------------------------------- against the single-analysis path


def _assert_equals_single_analysis(estimates, spec, result, rows):
    frame = frame_for(estimates, spec)
    for i in rows:
        choice = result.choices[i]
        row = result.table.iloc[i]
        sub = specification_spec(spec, choice)
        if row["notes"] == "no study matches the inclusion choices":
            with pytest.raises(AnalysisError, match="no study"):
                run_analysis(frame, sub)
            continue
        if choice["method"] == "bayes":  # a Bayesian specification: the single analysis's Bayesian fit
            data = prepare_analysis(frame, sub)
            fit = bayes_fit(data)
            assert (row["k"], row["estimate"], row["ci_lower"], row["ci_upper"], row["pi_lower"]) == (
                data.k, fit.mu.bt_median, fit.mu.bt_ci_lower, fit.mu.bt_ci_upper, fit.theta_new.bt_ci_lower)
            continue
        studies, pooled = run_analysis(frame, sub)
        p = pooled.iloc[0]
        label = f"{spec.name} row {i + 1}: {choice}"
        assert int(p["k"]) == row["k"], label
        assert studies.loc[studies["included"].astype(bool), "study_id"].tolist() == (
            row["study_ids"].split(";") if row["study_ids"] else []), label
        for col in NUMBERS:
            a, b = row[col], p[col]
            assert (a == b) or (math.isnan(a) and math.isnan(b)), (label, col, a, b)
        assert (row["participants"] == p["participants"]) or (math.isnan(row["participants"])
                                                              and math.isnan(p["participants"]))


def test_rows_equal_the_single_analysis_path_default_multiverse(estimates, fixture_result):
    spec, result = fixture_result
    _assert_equals_single_analysis(estimates, spec, result, range(0, len(result), 9))


@pytest.mark.parametrize("name,step", [("orr_tki_naive", 149), ("orr_after_alectinib_or_second_gen", 1),
                                       ("pfs_hr_vs_crizotinib_first_line", 3)])
def test_rows_equal_the_single_analysis_path_example_multiverses(estimates, name, step):
    spec = example_specs()[name]
    result = run_multiverse(frame_for(estimates, spec), spec)
    assert len(result) == len(multiverse_choices(spec))
    rows = list(range(0, len(result), step))
    rows += [i for i, c in enumerate(result.choices) if c["transform"] == "glmm"][:3]
    _assert_equals_single_analysis(estimates, spec, result, sorted(set(rows)))


def test_retrospective_choice_drops_the_retrospective_cohort(estimates):
    spec = example_specs()["orr_after_alectinib_or_second_gen"]
    table = run_multiverse(frame_for(estimates, spec), spec).table
    inc = table[table.retrospective == "include"].study_ids
    exc = table[table.retrospective == "exclude"].study_ids
    assert inc.str.contains("BRIGATINIB_post_alectinib_retro").all()
    assert not exc.str.contains("BRIGATINIB_post_alectinib_retro").any()
    assert (table[table.retrospective == "include"].k.to_numpy() == table[table.retrospective == "exclude"].k + 1).all()


def test_inclusion_choice_without_studies_gives_an_empty_row(estimates):
    spec = fixture_spec()
    spec = replace(spec, multiverse=Multiverse(spec.multiverse.threshold, {"assessor": ("any", "investigator"),
                                                                          "verification": ("any", "verified")}))
    result = run_multiverse(frame_for(estimates, spec), spec)
    empty = result.table[(result.table.assessor == "investigator") & (result.table.verification == "verified")]
    assert len(empty) == 1
    row = empty.iloc[0]
    assert row["k"] == 0 and math.isnan(row["estimate"]) and not row["converged"]
    assert row["notes"] == "no study matches the inclusion choices" and not row["ci_excludes_threshold"]
    _assert_equals_single_analysis(estimates, spec, result, range(len(result)))


# ---------------------------------------------------------------- the table and its summary


def test_table_columns_and_choices(fixture_result):
    spec, result = fixture_result
    table = result.table
    assert list(table.columns) == MULTIVERSE_COLUMNS
    assert table["specification"].tolist() == list(range(1, 401))
    assert set(table["transform"]) == {"logit", "freeman_tukey", "arcsine", "raw", "glmm"}
    glmm = table[table["transform"] == "glmm"]
    assert (glmm["method"] == "ML").all() and (glmm.ci_method == "z").all() and glmm.pi_lower.isna().all()
    assert table.converged.all()


def test_summary_is_the_median_range_and_share_excluding_the_threshold(fixture_result):
    spec, result = fixture_result
    table, summary = result.table, result.summary.iloc[0]
    assert list(result.summary.columns) == SUMMARY_COLUMNS
    est = table.estimate.dropna()
    assert summary["specifications"] == 400 and summary["estimable"] == len(est)
    assert summary["median_estimate"] == np.median(est)
    assert (summary["min_estimate"], summary["max_estimate"]) == (est.min(), est.max())
    thr = spec.multiverse.threshold
    below, above = (table.ci_upper < thr).sum(), (table.ci_lower > thr).sum()
    assert summary["ci_excludes_threshold"] == below + above == table.ci_excludes_threshold.sum()
    assert summary["share_ci_excludes_threshold"] == (below + above) / len(est)
    assert summary["share_ci_below_threshold"] + summary["share_ci_above_threshold"] == pytest.approx(
        summary["share_ci_excludes_threshold"])


def test_share_excluding_the_threshold_moves_with_it(fixture_result):
    spec, result = fixture_result
    shares = [summarise(result.table, spec, thr).iloc[0] for thr in (-10.0, 0.3, 0.5, 0.7, 10.0)]
    assert shares[0]["share_ci_above_threshold"] == 1.0 and shares[-1]["share_ci_below_threshold"] == 1.0
    above = [s["share_ci_above_threshold"] for s in shares]
    below = [s["share_ci_below_threshold"] for s in shares]
    assert above == sorted(above, reverse=True) and below == sorted(below)
    assert all(s["median_estimate"] == shares[0]["median_estimate"] for s in shares)


# ---------------------------------------------------------------- the specification curve


def test_spec_curve_is_drawn_sparse_and_dense_and_saved_identically(fixture_result, tmp_path):
    from metapool.figures.spec_curve import DENSE, spec_curve

    _, result = fixture_result
    a = spec_curve(result.table, result.summary, tmp_path / "a", formats=("svg",), title="ORR")
    b = spec_curve(result.table, result.summary, tmp_path / "b", formats=("svg",), title="ORR")
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes() and x.stat().st_size > 10_000
    dense = pd.concat([result.table] * 2, ignore_index=True)
    dense["specification"] = np.arange(1, len(dense) + 1)
    assert len(dense) > DENSE
    (svg,) = spec_curve(dense, result.summary, tmp_path / "dense", formats=("svg",), title="ORR", reference=0.51)
    assert b"<image" in svg.read_bytes()  # the choice indicators as one image
    assert a[0].read_bytes() != svg.read_bytes()


def test_spec_curve_text_is_inside_the_figure_and_never_overlaps(fixture_result):
    from metapool.figures.spec_curve import spec_curve_figure
    from figures.test_report_figures import assert_legible  # tests/ is on sys.path (conftest), tests/figures not always

    _, result = fixture_result
    fig = spec_curve_figure(result.table, result.summary, title="Objective response rate after crizotinib",
                            reference=0.51)
    texts = [t.get_text() for t in fig.texts]
    assert any("specifications" in t and "CI excludes" in t for t in texts)
    assert any("solid: the analysis as configured" in t for t in texts)
    assert assert_legible(fig) > 10


# ---------------------------------------------------------------- lean jobs


def test_pooling_sensitivity_and_multiverse_jobs_do_not_import_matplotlib_or_more_of_statsmodels(estimates, tmp_path):
    """Lean jobs: no matplotlib, no Snakemake, and of statsmodels only what its binomial intervals need
    (``statsmodels.stats.proportion``, about 20 ms; effects.clopper_pearson and the other intervals)."""
    write_tsv(estimates["response"], tmp_path / "response.tsv")
    spec = fixture_spec()
    spec = replace(spec, multiverse=Multiverse(spec.multiverse.threshold, {"transform": ("logit", "raw"),
                                                                          "method": ("DL", "REML")}))
    code = f"""
import sys
from metapool.spec import AnalysisSpec
from metapool.steps import multiverse_step, pool_step, sensitivity_step
spec = AnalysisSpec.from_params({spec.to_params()!r})
est = [{str(tmp_path / "response.tsv")!r}]
out = {str(tmp_path)!r}
pool_step(est, spec.pooling_only(), out + "/studies.tsv", out + "/pooled.tsv")
sensitivity_step(est, spec.pooling_only(), {{"leave_one_out": out + "/loo.tsv", "small_study": out + "/ss.tsv"}})
multiverse_step(est, spec, out + "/mv.tsv", out + "/mv_summary.tsv")
print(sorted(m for m in sys.modules if m.split(".")[0] in ("matplotlib", "statsmodels", "snakemake")))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = ast.literal_eval(proc.stdout.strip())
    assert not [m for m in loaded if not m.startswith("statsmodels")], loaded
    alone = subprocess.run([sys.executable, "-c", "import sys, statsmodels.stats.proportion; "
                            "print(sorted(m for m in sys.modules if m.startswith('statsmodels')))"],
                           capture_output=True, text=True, timeout=120)
    assert set(loaded) <= set(ast.literal_eval(alone.stdout.strip())), loaded
    assert len(read_tsv(tmp_path / "mv.tsv")) == 4


# ---------------------------------------------------------------- selection on synthetic reports


def synthetic_estimates(seed: int) -> pd.DataFrame:
    """ORR rows of random reports: several reports per trial cohort (data cuts, ties in year and N, missing
    N), several assessments per report, every design and verification flag, some reports without counts."""
    from metapool.analysis.estimates import ESTIMATE_COLUMNS

    rng = np.random.default_rng(seed)
    rows = []
    for t in range(int(rng.integers(3, 9))):
        design = str(rng.choice(["randomised", "single_arm", "retrospective"]))
        for r in range(int(rng.integers(1, 4))):
            year = int(rng.choice([2015, 2016, 2016, 2018]))
            cut = str(rng.choice(["", f"{year}", f"{year}-0{rng.integers(1, 9)}"]))
            total = int(rng.choice([40, 80, 80, 120]))
            study = f"T{t}_R{r}"
            for assessor in rng.choice(["independent_review", "investigator", "not_stated"],
                                       size=int(rng.integers(1, 3)), replace=False):
                counted = rng.random() > 0.1
                events = float(rng.integers(0, total + 1)) if counted else math.nan
                rows.append({
                    "study_id": study, "trial": f"Trial {t}", "cohort": "all" if t % 2 else "A", "arm": "arm",
                    "drug": "alectinib", "setting": "tki_naive", "design": design, "phase": "2",
                    "arm_role": "single_arm", "first_author": "", "year": year, "data_cut": cut,
                    "verification": str(rng.choice(["verified", "partial"])), "outcome": "orr",
                    "measure": "proportion", "assessor": str(assessor), "comparator": "", "comparator_study_id": "",
                    "n": float(total) if rng.random() > 0.1 else math.nan, "events": events,
                    "count_source": "printed" if counted else "", "estimate": events / total,
                    "ci_lower": math.nan, "ci_upper": math.nan, "ci_level": math.nan, "estimate_nr": False,
                    "ci_lower_nr": False, "ci_upper_nr": False, "ci_asymmetry": math.nan, "ci_not_centred": False,
                    "note": "" if counted else "counts not reported", "source": "seeds/x", "location": "x",
                })
    frame = pd.DataFrame(rows, columns=ESTIMATE_COLUMNS)
    frame.loc[frame["n"].isna(), "events"] = math.nan
    return frame


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 10**6))
def test_selection_on_synthetic_reports_equals_the_single_analysis(seed):
    frame = synthetic_estimates(seed)
    config = fill_defaults({"analyses": {"syn": {
        "title": "synthetic", "outcome": "orr", "assessor_preference": ["investigator", "independent_review"],
        "multiverse": {"threshold": 0.5, "assessor": ["any", "independent_review", ["investigator", "not_stated"]],
                       "retrospective": ["include", "exclude"],
                       "report_policy": ["latest_cut", "largest_n", "earliest_cut"]}}}})
    spec = analysis_specs(config)["syn"]
    result = run_multiverse(frame, spec)
    assert len(set(result.table["study_ids"])) > 1  # the choices select different reports
    for choice, row in zip(result.choices, result.table.to_dict("records")):
        sub = specification_spec(spec, choice)
        try:
            studies, pooled = run_analysis(frame, sub)
        except AnalysisError:
            assert row["notes"] == "no study matches the inclusion choices"
            continue
        included = studies.loc[studies["included"].astype(bool), "study_id"].tolist()
        assert included == (row["study_ids"].split(";") if row["study_ids"] else []), choice
        p = pooled.iloc[0]
        assert (row["estimate"] == p["estimate"]) or (math.isnan(row["estimate"]) and math.isnan(p["estimate"]))
