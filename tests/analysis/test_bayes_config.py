"""The Bayesian fit of an analysis (``bayes:``): the config's priors as typed specs, the refusals naming the key
path and the value, and the table's numbers equal to metapool.stats.bayes called directly (which
tests/stats/test_bayes.py pins to base R integrate(), tests/reference/R/bayes.R)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from metapool.analysis.bayes import BAYES_COLUMNS, bayes_frame, mu_prior, tau_prior
from metapool.analysis.config import check_config
from metapool.analysis.diagnostics import sensitivity_frames
from metapool.analysis.run import prepare_analysis
from metapool.spec import AnalysisSpec, BayesSpec, Prior
from metapool.stats.bayes import MuPrior, TauPrior, bayes_binomial, bayes_normal

from conftest import config_problems, default_config, default_tables, estimate_frames

BLOCK = {"tau": "half_normal(0.5)", "mu": "flat", "prob_above": 0.5, "why": "weakly informative on the logit scale"}


@pytest.fixture(scope="module")
def frames():
    return estimate_frames()


@pytest.fixture(scope="module")
def tables():
    return default_tables()


@pytest.fixture()
def config():
    return default_config()


problems = config_problems


def spec_of(config, name, **bayes) -> AnalysisSpec:
    block = {**BLOCK, **bayes}
    config["analyses"][name]["bayes"] = {key: value for key, value in block.items() if value is not None}
    return check_config(config)[name]


# ---------------------------------------------------------------- the spec


@pytest.mark.parametrize("text, kind, family, args, words", [
    ("half_normal(0.5)", "tau", "half_normal", (0.5,), "half-normal with scale 0.5"),
    (" half_t( 0.5 , 3 ) ", "tau", "half_t", (0.5, 3.0), "half-Student-t with scale 0.5 and df 3"),
    ("uniform", "tau", "uniform", (), "flat on (0, infinity) (improper)"),
    ("uniform(4)", "tau", "uniform", (4.0,), "uniform on (0, 4)"),
    ("log_t(-1.5, 0.8, 5)", "tau", "log_t", (-1.5, 0.8, 5.0), "log-Student-t with location -1.5, scale 0.8 and df 5"),
    ("turner", "tau", "turner", (), None),
    ("flat", "mu", "flat", (), "flat (improper)"),
    ("normal(0, 10)", "mu", "normal", (0.0, 10.0), "normal with mean 0 and sd 10"),
])
def test_a_prior_is_parsed_into_its_family_and_parameters_and_written_back(text, kind, family, args, words):
    prior = Prior.parse(text, kind)
    assert (prior.family, prior.args) == (family, args)
    assert Prior.parse(prior.text, kind) == prior
    if words:
        assert prior.words() == words


def test_the_bayes_block_becomes_a_typed_spec_and_round_trips_through_the_params(config):
    spec = spec_of(config, "orr_post_second_gen", likelihood="binomial", mu="normal(0, 10)", prob_below=0.2)
    assert spec.bayes == BayesSpec(tau=Prior("half_normal", (0.5,)), mu=Prior("normal", (0.0, 10.0)),
                                   likelihood="binomial", prob_above=0.5, prob_below=0.2, why=BLOCK["why"])
    assert AnalysisSpec.from_params(spec.to_params()) == spec
    assert spec.pooling_only().bayes is None  # a new prior reruns no pooling
    assert spec.sensitivity_tables == ("subgroups", "bayes")


def test_the_priors_become_the_statistics_priors():
    assert tau_prior(Prior.parse("half_normal(0.5)", "tau")) == TauPrior.half_normal(0.5)
    assert tau_prior(Prior.parse("half_t(1, 3)", "tau")) == TauPrior.half_t(1, 3)
    assert tau_prior(Prior.parse("turner", "tau")) == TauPrior.turner("marginal")
    assert tau_prior(Prior.parse("rhodes", "tau")) == TauPrior.rhodes("marginal")
    assert tau_prior(Prior.parse("uniform", "tau")) == TauPrior.uniform()
    assert mu_prior(Prior.parse("flat", "mu")) == MuPrior.flat()
    assert mu_prior(Prior.parse("normal(0, 10)", "mu")) == MuPrior.normal(0, 10)


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("key, value, message", [
    ("tau", "half_normal(-1)", "config: analyses.orr_post_second_gen.bayes.tau: 'half_normal(-1)': scale must be > 0, got -1"),
    ("tau", "half_normal", "config: analyses.orr_post_second_gen.bayes.tau: 'half_normal': half_normal takes 1 "
                           "parameter; write half_normal(scale)"),
    ("tau", "halfnormal(0.5)", "config: analyses.orr_post_second_gen.bayes.tau: 'halfnormal(0.5)': unknown tau prior "
                               "'halfnormal'; write one of half_normal(scale), "),
    ("tau", "turner(1)", "config: analyses.orr_post_second_gen.bayes.tau: 'turner(1)': the preset turner takes no "
                         "parameters; write turner"),
    ("mu", "normal(0, x)", "config: analyses.orr_post_second_gen.bayes.mu: 'normal(0, x)': sd must be a finite "
                           "number, got 'x'"),
    ("mu", "normal(0)", "config: analyses.orr_post_second_gen.bayes.mu: 'normal(0)': normal takes 2 parameters; "
                        "write normal(mean, sd)"),
    ("prob_above", 50, "config: analyses.orr_post_second_gen.bayes.prob_above: a proportion strictly between 0 and 1 "
                       "for outcome orr (got 50)"),
])
def test_a_bad_prior_or_threshold_is_refused_with_its_key_path_and_value(config, key, value, message):
    config["analyses"]["orr_post_second_gen"]["bayes"] = {**BLOCK, key: value}
    found = problems(config)
    assert len(found) == 1 and found[0].startswith(message), found


def test_the_schema_refuses_unknown_keys_and_likelihoods_and_requires_the_reason(config):
    config["analyses"]["orr_post_second_gen"]["bayes"] = {**BLOCK, "likelihood": "poisson", "prior": "x"}
    del config["analyses"]["orr_post_second_gen"]["bayes"]["why"]
    text = "\n".join(problems(config))
    assert "analyses.orr_post_second_gen.bayes" in text
    assert "'poisson'" in text and "normal, binomial" in text
    assert "'prior'" in text
    assert "why" in text


def test_options_a_bayesian_fit_cannot_have_are_refused(config):
    a = config["analyses"]
    a["pfs_hr_vs_crizotinib_first_line"]["bayes"] = {**BLOCK, "likelihood": "binomial", "prob_above": 1.0}
    a["orr_tki_naive"]["bayes"] = {**BLOCK, "likelihood": "binomial", "tau": "uniform"}
    a["orr_post_crizotinib"].update(transform="freeman_tukey", bayes=BLOCK)
    a["pfs_median_post_crizotinib"].update(median_method="median_of_medians", bayes={**BLOCK, "prob_above": 6})
    a["pfs_hr_network_first_line"]["bayes"] = BLOCK
    found = problems(config)
    expected = [
        "config: analyses.pfs_hr_network_first_line.bayes: not allowed with network: (a network has no Bayesian "
        "fit); remove it",
        "config: analyses.orr_tki_naive.bayes.tau: the binomial likelihood needs a proper tau prior",
        "config: analyses.pfs_hr_vs_crizotinib_first_line.bayes.likelihood: binomial applies to proportions only",
        "config: analyses.orr_post_crizotinib.bayes.likelihood: the normal likelihood needs effect sizes on a logit, "
        "log or identity scale (transform freeman_tukey has no monotone back-transform)",
        "config: analyses.pfs_median_post_crizotinib.bayes.likelihood: the normal likelihood needs effect sizes on a "
        "logit, log or identity scale (median_method median_of_medians has no standard errors)",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in found), (text, found)
    assert len(found) == len(expected)


def test_a_negative_hr_threshold_is_refused(config):
    config["analyses"]["os_hr_vs_chemotherapy_first_line"]["bayes"] = {**BLOCK, "prob_above": 0.8, "prob_below": 0}
    assert problems(config) == ["config: analyses.os_hr_vs_chemotherapy_first_line.bayes.prob_below: must be > 0 "
                                "for outcome os_hr (got 0)"]


# ---------------------------------------------------------------- the table equals the statistics


def _check_summary(row, s, natural: bool):
    expect = ((s.bt_median, s.bt_ci_lower, s.bt_ci_upper) if natural else (s.median, s.ci_lower, s.ci_upper))
    assert (row["median"], row["ci_lower"], row["ci_upper"]) == expect
    assert (row["beta"], row["mean"], row["sd"]) == (s.median, s.mean, s.sd)


def test_each_subgroup_s_table_rows_are_bayes_normal_on_its_studies(config, frames):
    spec = spec_of(config, "orr_post_second_gen", prob_below=0.3)
    data = prepare_analysis(frames["response"], spec)
    table = sensitivity_frames(data, ["bayes"])["bayes"]
    assert list(table.columns) == BAYES_COLUMNS
    sel = data.selected[data.included]
    assert sorted(set(table["group"])) == sorted(set(sel["drug"]))
    for drug, rows in table.groupby("group"):
        studies = sel[sel["drug"] == drug]
        direct = bayes_normal(data.yi[studies.index], np.sqrt(data.vi[studies.index]), TauPrior.half_normal(0.5),
                              MuPrior.flat(), thresholds=[math.log(0.5 / 0.5), math.log(0.3 / 0.7)],
                              transform="expit", labels=studies["label"].tolist())
        by = {q: r for q, r in rows.groupby("quantity")}
        _check_summary(by["mu"].iloc[0], direct.mu, True)
        _check_summary(by["theta_new"].iloc[0], direct.theta_new, True)
        _check_summary(by["tau"].iloc[0], direct.tau, False)
        assert by["mu"]["p_above"].iloc[0] == direct.prob_mu_above[0.0]
        assert by["mu"]["p_below"].iloc[0] == 1.0 - direct.prob_mu_above[math.log(0.3 / 0.7)]
        assert by["theta_new"]["p_above"].iloc[0] == direct.prob_theta_new_above[0.0]
        assert list(by["study"]["study_id"]) == studies["study_id"].tolist()
        for (_, row), s in zip(by["study"].iterrows(), direct.theta):
            _check_summary(row, s, True)
        assert (rows["k"] == len(studies)).all() and (rows["reason"] == "").all()


def test_the_crizotinib_after_alectinib_fit_is_the_okayama_trial_alone(config, frames):
    """Okayama 3/9 (Thorac Cancer 2021): with one study and a flat prior on mu, mu | y is a mixture over tau of
    N(logit(3/9), 1/3 + 1/6 + tau^2); the posterior median of the ORR is then 3/9 exactly."""
    spec = spec_of(config, "orr_post_second_gen")
    table = bayes_frame(prepare_analysis(frames["response"], spec))
    mu = table[(table["group"] == "crizotinib") & (table["quantity"] == "mu")].iloc[0]
    assert mu["k"] == 1
    assert mu["median"] == pytest.approx(1 / 3, abs=1e-12)
    assert 0.0 < mu["p_above"] < 0.5


def test_the_binomial_likelihood_is_bayes_binomial_on_the_counts(config, frames):
    spec = spec_of(config, "orr_post_second_gen", likelihood="binomial", tau="half_normal(1)", mu="normal(0, 10)")
    spec = replace(spec, filters={**spec.filters, "drug": ("lorlatinib",)})  # one subgroup: 2 fits, not 4
    data = prepare_analysis(frames["response"], spec)
    table = bayes_frame(data)
    sel = data.selected[data.included]
    studies = sel[sel["drug"] == "lorlatinib"]
    direct = bayes_binomial(studies["events"].to_numpy(float), studies["n"].to_numpy(float),
                            TauPrior.half_normal(1), MuPrior.normal(0, 10), thresholds=[0.0])
    rows = table[table["group"] == "lorlatinib"].set_index("quantity")
    assert list(rows.index) == ["mu", "theta_new", "tau"]  # no shrinkage estimates in the binomial model
    _check_summary(rows.loc["mu"], direct.mu, True)
    _check_summary(rows.loc["theta_new"], direct.theta_new, True)
    assert rows.loc["mu", "p_above"] == direct.prob_mu_above[0.0]
    assert (rows["scale"] == "logit").all() and (rows["likelihood"] == "binomial").all()


def test_hazard_ratios_are_fitted_on_the_log_scale_with_the_overall_fit(config, frames):
    spec = spec_of(config, "pfs_hr_vs_crizotinib_first_line", prob_above=None, prob_below=1.0)
    data = prepare_analysis(frames["hazard_ratios"], spec)
    table = bayes_frame(data)
    overall = table[table["group"] == ""]
    yi, vi = data.included_effects()
    direct = bayes_normal(yi, np.sqrt(vi), TauPrior.half_normal(0.5), MuPrior.flat(), thresholds=[0.0],
                          transform="exp")
    mu = overall[overall["quantity"] == "mu"].iloc[0]
    _check_summary(mu, direct.mu, True)
    assert mu["p_below"] == 1.0 - direct.prob_mu_above[0.0]
    assert math.isnan(mu["p_above"])
    assert (overall["k"] == data.k).all()
    assert set(table["group"]) == {""} | set(data.selected.loc[data.included, "drug"])


def test_an_improper_posterior_is_a_row_with_its_reason(config, frames):
    spec = spec_of(config, "orr_post_second_gen", tau="uniform")
    table = bayes_frame(prepare_analysis(frames["response"], spec))
    crizotinib = table[table["group"] == "crizotinib"]
    assert len(crizotinib) == 1 and crizotinib["reason"].iloc[0].startswith("improper posterior")
