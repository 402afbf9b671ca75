"""The per-analysis sensitivity tables (results/<plan>/analyses/<analysis>/*.tsv) and the proportion transforms.

The tables refit the analysis's own studies and model; each is compared with the engine function that
tests/stats/test_sensitivity.py and tests/stats/test_bias.py pin to metafor (leave1out, cumul, influence,
regtest, ranktest, trimfill) called with the analysis's model (method, ci, hk_adhoc, level, pi), or with the
pooling of each subset by the single-analysis path (the Freeman-Tukey back-transformation of each subset).
The transform fix: per-study effects and the pooled result are those of the configured transform.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from metapool.analysis.bayes import BAYES_COLUMNS
from metapool.analysis.run import SUBGROUP_TABLE_COLUMNS, prepare_analysis, run_analysis
from metapool.analysis.selection import AnalysisError
from metapool.stats.bias import begg_test, egger_test, trim_and_fill
from metapool.analysis.config import analysis_specs, fill_defaults
from metapool.analysis.diagnostics import (
    CUMULATIVE_COLUMNS,
    INFLUENCE_COLUMNS,
    LEAVE_ONE_OUT_COLUMNS,
    SMALL_STUDY_COLUMNS,
    sensitivity_frames,
)
from metapool.stats.effects import ilogit
from metapool.stats.glmm import glmm_proportions
from metapool.io import read_tsv
from metapool.spec import ModelSpec
from metapool.stats.pooling import inverse_variance
from metapool.stats.proportions import pool_proportions, proportion_effects
from metapool.stats.sensitivity import cumulative, influence, leave_one_out

from conftest import ROOT, estimate_frames

REL = 1e-10
KINDS = ("leave_one_out", "influence", "cumulative", "small_study")
COLUMNS = {"leave_one_out": LEAVE_ONE_OUT_COLUMNS, "influence": INFLUENCE_COLUMNS, "cumulative": CUMULATIVE_COLUMNS,
           "small_study": SMALL_STUDY_COLUMNS, "subgroups": SUBGROUP_TABLE_COLUMNS, "bayes": BAYES_COLUMNS}


@pytest.fixture(scope="module")
def estimates() -> dict[str, pd.DataFrame]:
    return estimate_frames()


@pytest.fixture(scope="module")
def default_specs() -> dict:
    """The default pairwise analyses (a network analysis has no sensitivity tables: test_network_analysis.py)."""
    specs = analysis_specs(fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text())))
    assert all(spec.sensitivity_tables == () for spec in specs.values() if spec.is_network)
    return {name: spec for name, spec in specs.items() if not spec.is_network}


@pytest.fixture(scope="module")
def specs(default_specs) -> dict:
    """The default analyses, each with its overall estimate (``overall: true``): the tables below perturb it."""
    return {name: replace(spec, overall=True) for name, spec in default_specs.items()}


def frame_for(estimates, spec) -> pd.DataFrame:
    return pd.concat([estimates[t] for t in spec.tables], ignore_index=True)


def with_model(spec, **model):
    """``spec`` with some options of its model replaced."""
    return replace(spec, model=replace(spec.model, **model))


def tables_of(estimates, spec, kinds=None):
    spec = replace(spec.pooling_only(), bayes=spec.bayes)  # as the sensitivity job gets it
    data = prepare_analysis(frame_for(estimates, spec), spec)
    return data, sensitivity_frames(data, kinds or replace(spec, sensitivity=KINDS).sensitivity_tables)


def close(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.allclose(a, b, rtol=REL, atol=1e-12, equal_nan=True))


def test_every_default_analysis_has_its_tables_with_the_documented_columns(estimates, specs, default_specs):
    for name, spec in [*specs.items(), *default_specs.items()]:
        data, frames = tables_of(estimates, spec)
        assert set(frames) == set(spec.sensitivity_tables), name
        for kind, frame in frames.items():
            assert list(frame.columns) == COLUMNS[kind], (name, kind)
            assert len(frame) >= 1 and (frame["analysis"] == name).all()
        if spec.overall:
            assert list(frames["small_study"]["test"]) == ["egger", "begg", "trim_and_fill"]
        else:  # no overall estimate: its subgroups only (and its Bayesian fit, by subgroup)
            assert set(frames) == {"subgroups"} | ({"bayes"} if spec.bayes else set()), name


@pytest.mark.parametrize("name", ["orr_tki_naive", "orr_post_crizotinib", "pfs_hr_vs_chemotherapy_first_line",
                                  "pfs_median_tki_naive"])
@pytest.mark.parametrize("ci", ["z", "hartung_knapp"])
def test_leave_one_out_and_cumulative_equal_metafor_pinned_engine(estimates, specs, name, ci):
    spec = with_model(specs[name], ci=ci)
    data, frames = tables_of(estimates, spec, ["leave_one_out", "cumulative", "influence"])
    yi, vi = data.included_effects()
    bt = data.backtransform()
    loo = leave_one_out(yi, vi, method=spec.model.method, ci=ci)
    got = frames["leave_one_out"]
    assert got["study_id"].tolist() == data.selected.loc[data.included, "study_id"].tolist()
    assert close(got["beta"], loo.estimate) and close(got["se"], loo.se) and close(got["tau2"], loo.tau2)
    assert close(got["estimate"], bt(loo.estimate)) and close(got["ci_lower"], bt(loo.ci_lower))
    assert close(got["i2"], loo.i2) and close(got["q"], loo.q) and (got["k"] == len(yi) - 1).all()
    years = data.selected.loc[data.included, "year"].to_numpy()
    cum = cumulative(yi, vi, years, method=spec.model.method, ci=ci)
    got = frames["cumulative"]
    assert got["study_id"].tolist() == data.selected.loc[data.included, "study_id"].to_numpy()[cum.study].tolist()
    assert got["step"].tolist() == got["k"].tolist() == list(range(1, len(yi) + 1))
    assert close(got["beta"], cum.estimate) and close(got["ci_upper"], bt(cum.ci_upper))
    assert (np.diff(got["year"].to_numpy()) >= 0).all()
    inf = influence(yi, vi, method=spec.model.method, ci=ci)
    got = frames["influence"]
    for ours, theirs in (("rstudent", "rstudent"), ("dffits", "dffits"), ("cooks_distance", "cooks_distance"),
                         ("cov_ratio", "cov_ratio"), ("hat", "hat"), ("weight", "weight")):
        assert close(got[ours], getattr(inf, theirs)), ours
    assert (got["influential"].to_numpy() == inf.influential).all()


def test_small_study_tests_with_ten_or_more_studies_equal_the_engine(estimates, specs):
    spec = specs["orr_tki_naive"]
    data, frames = tables_of(estimates, spec, ["small_study"])
    assert data.k >= 10
    yi, vi = data.included_effects()
    table = frames["small_study"].set_index("test")
    eg = egger_test(yi, vi, method=spec.model.method)
    assert close(table.loc["egger", "statistic"], eg.statistic) and close(table.loc["egger", "pvalue"], eg.pvalue)
    assert close(table.loc["egger", "estimate"], ilogit(eg.limit_estimate))
    bg = begg_test(yi, vi)
    assert close(table.loc["begg", "statistic"], bg.tau) and close(table.loc["begg", "pvalue"], bg.pvalue)
    tf = trim_and_fill(yi, vi, method=spec.model.method)
    assert table.loc["trim_and_fill", "k0"] == tf.k0 and table.loc["trim_and_fill", "side"] == tf.side
    assert close(table.loc["trim_and_fill", "estimate"], ilogit(tf.model.beta))
    assert (table["reason"] == "").all() and (table["k"] == data.k).all()


def test_small_study_tests_with_fewer_than_ten_studies_say_why(estimates, specs):
    data, frames = tables_of(estimates, specs["orr_post_crizotinib"], ["small_study"])
    table = frames["small_study"]
    assert data.k < 10
    assert table["statistic"].isna().all() and table["estimate"].isna().all()
    assert (table["reason"] == f"k = {data.k} < 10: too few studies to test for funnel-plot asymmetry "
                               "(Sterne et al. BMJ 2011;343:d4002)").all()


def test_tables_of_an_analysis_with_one_study_say_why(estimates, specs):
    """After crizotinib only ALUR has a hazard ratio vs chemotherapy with a CI (ASCEND-5 prints none)."""
    data, frames = tables_of(estimates, specs["pfs_hr_vs_chemotherapy_post_crizotinib"])
    assert data.k == 1
    assert frames["leave_one_out"]["reason"].tolist() == ["leave-one-out needs at least 2 pooled studies (k = 1)"]
    assert frames["influence"]["reason"].tolist() == ["the influence analysis needs at least 3 pooled studies (k = 1)"]
    assert len(frames["cumulative"]) == 1 and frames["cumulative"]["reason"].tolist() == [""]


def test_hartung_knapp_ad_hoc_and_prediction_interval_follow_the_analysis(estimates, specs):
    spec = with_model(specs["orr_tki_naive"], ci="hartung_knapp", hk_adhoc=True, pi="t_k2", method="PM")
    data, frames = tables_of(estimates, spec, ["leave_one_out"])
    yi, vi = data.included_effects()
    for j, row in enumerate(frames["leave_one_out"].itertuples()):
        keep = np.arange(len(yi)) != j
        m = inverse_variance(yi[keep], vi[keep], method="PM", ci="hartung_knapp", hk_adhoc=True, pi="t_k2")
        assert (row.beta, row.se, row.tau2) == (m.beta, m.se, m.tau2)
        assert row.ci_lower == ilogit(m.ci_lower) and row.pi_upper == ilogit(m.pi_upper)


def test_small_study_and_influence_take_the_analysis_model_with_the_ad_hoc_correction(estimates, specs):
    """Egger, trim and fill and influence are fitted with the analysis's interval options, the Hartung-Knapp ad
    hoc correction included (trim and fill once refitted the filled data without it)."""
    spec = with_model(specs["orr_tki_naive"], ci="hartung_knapp", hk_adhoc=True, method="HE")
    data, frames = tables_of(estimates, spec, ["small_study", "influence"])
    yi, vi = data.included_effects()
    model = dict(method="HE", ci="hartung_knapp", hk_adhoc=True)
    table = frames["small_study"].set_index("test")
    tf = trim_and_fill(yi, vi, **model)
    without = trim_and_fill(yi, vi, method="HE", ci="hartung_knapp")
    assert tf.model.se > without.model.se  # the ad hoc correction widens this interval
    assert table.loc["trim_and_fill", "ci_lower"] == ilogit(tf.model.ci_lower)
    assert table.loc["trim_and_fill", "ci_upper"] == ilogit(tf.model.ci_upper)
    eg = egger_test(yi, vi, **model)
    assert table.loc["egger", "statistic"] == eg.statistic and table.loc["egger", "df"] == eg.df
    inf = influence(yi, vi, **model)
    assert close(frames["influence"]["rstudent"], inf.rstudent) and close(frames["influence"]["dffits"], inf.dffits)


def test_freeman_tukey_subsets_are_back_transformed_with_their_own_totals(estimates, specs):
    spec = replace(specs["orr_tki_naive"], transform="freeman_tukey")
    data, frames = tables_of(estimates, spec, ["leave_one_out", "cumulative"])
    ev, tot = data.counts()
    for j, row in enumerate(frames["leave_one_out"].itertuples()):
        keep = np.arange(len(ev)) != j
        ref = pool_proportions(ev[keep], tot[keep], transform="freeman_tukey", heterogeneity_ci=False)
        assert row.estimate == pytest.approx(ref.estimate, rel=1e-14)
        assert row.ci_lower == pytest.approx(ref.ci_lower, rel=1e-14)


def test_glmm_analysis_refits_the_glmm_and_explains_what_it_cannot_do(estimates, specs):
    spec = replace(specs["orr_tki_naive"], transform="glmm", model=ModelSpec(method="ML"))
    data, frames = tables_of(estimates, spec)
    ev, tot = data.counts()
    first = frames["leave_one_out"].iloc[0]
    ref = glmm_proportions(ev[1:], tot[1:])
    assert (first["estimate"], first["tau2"]) == (ref.estimate, ref.tau2) and math.isnan(first["pi_lower"])
    cum = frames["cumulative"]
    assert cum["reason"].iloc[0] == "the GLMM needs at least 2 studies"
    assert cum["estimate"].iloc[-1] == glmm_proportions(*data.counts()).estimate  # the last step: every study
    assert frames["influence"]["reason"].iloc[0].endswith("this analysis is the binomial-normal GLMM")
    assert (frames["small_study"]["reason"].str.endswith("this analysis is the binomial-normal GLMM")).all()


def test_median_of_medians_tables(estimates, specs):
    spec = replace(specs["pfs_median_tki_naive"], median_method="median_of_medians")
    data, frames = tables_of(estimates, spec)
    assert frames["leave_one_out"]["estimate"].notna().any()
    assert "median of medians" in frames["influence"]["reason"].iloc[0]
    assert frames["subgroups"]["q_between"].isna().all()


# ---------------------------------------------------------------- subgroups.tsv


@pytest.mark.parametrize("name", ["pfs_median_tki_naive", "pfs_hr_vs_crizotinib_first_line", "pfs_hr_vs_chemotherapy_first_line"])
def test_subgroups_table_agrees_with_the_pooled_row_and_the_study_rows(estimates, specs, name):
    spec = specs[name].pooling_only()
    studies, pooled = run_analysis(frame_for(estimates, spec), spec)
    _, frames = tables_of(estimates, specs[name], ["subgroups"])
    table = frames["subgroups"].set_index("group")
    p = pooled.iloc[0]
    for col in ("q_between", "df_between", "q_between_pvalue"):
        assert (table[col] == p[col]).all() or (table[col].isna().all() and math.isnan(p[col]))
    pooled_rows = studies[studies["status"] == "pooled"]
    assert set(table.index) == set(pooled_rows["subgroup"])
    for g, rows in pooled_rows.groupby("subgroup"):
        r = rows.iloc[0]
        assert table.loc[g, "k"] == r["subgroup_k"] == len(rows)
        assert table.loc[g, "estimate"] == r["subgroup_estimate"]
        assert table.loc[g, "ci_lower"] == r["subgroup_ci_lower"] and table.loc[g, "tau2"] == r["subgroup_tau2"]


def test_glmm_subgroups_are_compared_on_the_logit_scale(estimates, specs):
    spec = replace(specs["orr_tki_naive"].pooling_only(), transform="glmm", model=ModelSpec(method="ML"),
                   subgroup="design")
    data = prepare_analysis(frame_for(estimates, spec), spec)
    table = sensitivity_frames(data, ["subgroups"])["subgroups"].set_index("group")
    for g in table.index:
        mask = (data.selected["design"] == g).to_numpy()
        ref = glmm_proportions(*data.counts(mask))
        assert table.loc[g, "estimate"] == ref.estimate and table.loc[g, "se"] == ref.se
    w = 1 / table["se"] ** 2
    q = float(np.sum(w * (table["beta"] - np.sum(w * table["beta"]) / np.sum(w)) ** 2))
    assert table["q_between"].iloc[0] == pytest.approx(q, rel=1e-12)
    assert (table["df_between"] == len(table) - 1).all()


# ---------------------------------------------------------------- the transform of a single analysis


@pytest.mark.parametrize("transform", ["logit", "freeman_tukey", "arcsine", "raw"])
def test_per_study_effects_and_pooled_result_use_the_configured_transform(estimates, specs, transform):
    spec = replace(specs["orr_tki_naive"].pooling_only(), transform=transform)
    studies, pooled = run_analysis(frame_for(estimates, spec), spec)
    inc = studies[studies["included"].astype(bool)]
    ev, tot = inc["events"].to_numpy(float), inc["total"].to_numpy(float)
    yi, vi = proportion_effects(ev, tot, transform)
    assert (inc["yi"].to_numpy() == yi).all() and (inc["vi"].to_numpy() == vi).all()
    ref = pool_proportions(ev, tot, transform=transform, method=spec.model.method)
    p = pooled.iloc[0]
    assert p["transform"] == transform
    assert (p["estimate"], p["ci_lower"], p["pi_upper"], p["tau2"]) == (ref.estimate, ref.ci_lower, ref.pi_upper, ref.tau2)
    assert (inc["weight"].to_numpy() == ref.weights).all()


def test_glmm_single_analysis(estimates, specs):
    spec = replace(specs["orr_tki_naive"].pooling_only(), transform="glmm", model=ModelSpec(method="ML"))
    studies, pooled = run_analysis(frame_for(estimates, spec), spec)
    inc = studies[studies["included"].astype(bool)]
    ref = glmm_proportions(inc["events"].to_numpy(float), inc["total"].to_numpy(float))
    p = pooled.iloc[0]
    assert (p["estimate"], p["ci_lower"], p["ci_upper"], p["tau2"], p["se"]) == (
        ref.estimate, ref.ci_lower, ref.ci_upper, ref.tau2, ref.se)
    assert math.isnan(p["pi_lower"]) and math.isnan(p["i2"]) and inc["weight"].isna().all()
    assert p["model"] == "random effects (binomial-normal GLMM)" and p["pi_method"] == "" and p["ci_method"] == "z"
    assert "no prediction interval" in p["notes"]
    with pytest.raises(AnalysisError, match="method ML and ci z"):
        run_analysis(frame_for(estimates, spec), with_model(spec, method="REML"))


# ---------------------------------------------------------------- the workflow writes them


def test_sensitivity_job_refuses_tables_that_would_not_describe_the_pooled_result(estimates, specs, tmp_path):
    from metapool.io import write_tsv
    from metapool.steps import sensitivity_step

    spec = specs["orr_post_crizotinib"].pooling_only()
    write_tsv(estimates["response"], tmp_path / "response.tsv")
    _, pooled = run_analysis(estimates["response"], spec)
    write_tsv(pooled, tmp_path / "pooled.tsv")
    out = {"leave_one_out": tmp_path / "loo.tsv"}
    sensitivity_step([tmp_path / "response.tsv"], spec, out, pooled=tmp_path / "pooled.tsv")
    assert len(read_tsv(out["leave_one_out"])) == pooled["k"].iloc[0]
    write_tsv(pooled.assign(k=pooled["k"] + 1), tmp_path / "stale.tsv")
    with pytest.raises(ValueError, match="rerun its pooling first"):
        sensitivity_step([tmp_path / "response.tsv"], spec, out, pooled=tmp_path / "stale.tsv")


def test_overall_false_keeps_the_subgroups_and_their_test_but_no_overall_estimate(estimates, default_specs):
    """overall: false (R meta's overall = FALSE): the pooled row has k, participants and the test for subgroup
    differences, no estimate across the subgroups; the subgroups are the same as with overall: true."""
    spec = default_specs["orr_tki_naive"].pooling_only()
    assert spec.subgroup == "drug" and not spec.overall
    studies, pooled = run_analysis(frame_for(estimates, spec), spec)
    both, pooled_both = run_analysis(frame_for(estimates, spec), replace(spec, overall=True))
    row, row_both = pooled.iloc[0], pooled_both.iloc[0]
    assert not row["overall"] and row_both["overall"]
    for col in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "beta", "se"):
        assert np.isnan(row[col]) and np.isfinite(row_both[col]), col
    for col in ("k", "participants", "q_between", "df_between", "q_between_pvalue"):
        assert row[col] == row_both[col] and np.isfinite(row[col]), col
    assert row["question"] == spec.question and "overall: false" in row["notes"]
    assert studies["weight"].isna().all()  # no overall model, no overall weights
    subgroup_cols = [c for c in studies.columns if c.startswith("subgroup_")]
    assert close(studies[subgroup_cols], both[subgroup_cols])
    pooled_rows = studies[studies.status == "pooled"]
    assert (pooled_rows.groupby("subgroup")["subgroup_k"].first().sum()) == row["k"] == len(pooled_rows)
