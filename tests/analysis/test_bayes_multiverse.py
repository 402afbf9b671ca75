"""tau_prior as a dimension of the multiverse: one Bayesian specification per inclusion choice and prior of tau,
each row equal to metapool.stats.bayes.bayes_normal called directly on the studies that specification's single
analysis pools (and hence to the R integrate() fixtures of tests/stats/test_bayes.py); the frequentist rows are
those of the multiverse without the dimension."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from metapool.analysis.config import ConfigError, check_config, fill_defaults, multiverse_choices, specification_spec
from metapool.analysis.multiverse import run_multiverse
from metapool.analysis.run import prepare_analysis
from metapool.figures.spec_curve import spec_curve_figure
from metapool.spec import AnalysisSpec, Prior
from metapool.stats.bayes import MuPrior, TauPrior, bayes_normal

from conftest import ROOT, estimate_frames

PRIORS = ["half_normal(0.5)", "half_cauchy(1)"]


@pytest.fixture(scope="module")
def estimates():
    return estimate_frames()["response"]


def config_with(**multiverse):
    config = fill_defaults(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    config["analyses"]["orr_post_crizotinib"]["multiverse"] = {"threshold": 0.5, **multiverse}
    return config


@pytest.fixture(scope="module")
def spec() -> AnalysisSpec:
    return check_config(config_with(assessor=["any", "independent_review"], design=["any", "single_arm"],
                                    method=["REML", "DL"], tau_prior=PRIORS))["orr_post_crizotinib"]


def test_the_bayesian_specifications_follow_the_frequentist_ones(spec):
    choices = multiverse_choices(spec)
    bayes = [c for c in choices if c["method"] == "bayes"]
    assert len(choices) == 2 * 2 * 2 + 2 * 2 * 2 and len(bayes) == 8
    assert all(c["tau_prior"] == "" for c in choices[:8])
    assert [c["tau_prior"].text for c in bayes] == PRIORS * 4
    assert {(c["transform"], c["ci"]) for c in bayes} == {("logit", "credible")}
    assert AnalysisSpec.from_params(spec.to_params()) == spec
    assert spec.to_params()["multiverse"]["tau_prior"] == PRIORS


def test_each_bayesian_row_is_bayes_normal_on_the_studies_of_its_single_analysis(spec, estimates):
    result = run_multiverse(estimates, spec)
    table = result.table
    for choice, row in zip(result.choices, table.to_dict("records")):
        if choice["method"] != "bayes":
            continue
        single = specification_spec(spec, choice)
        assert single.bayes.tau == choice["tau_prior"] and single.bayes.mu == Prior("flat")
        data = prepare_analysis(estimates, single)
        yi, vi = data.included_effects()
        direct = bayes_normal(yi, np.sqrt(vi), _tau(choice["tau_prior"].text), MuPrior.flat(), transform="expit")
        assert (row["method"], row["ci_method"], row["tau_prior"]) == ("bayes", "credible", choice["tau_prior"].text)
        assert row["k"] == data.k and row["study_ids"] == ";".join(data.selected.loc[data.included, "study_id"])
        assert (row["estimate"], row["ci_lower"], row["ci_upper"]) == (
            direct.mu.bt_median, direct.mu.bt_ci_lower, direct.mu.bt_ci_upper)
        assert (row["pi_lower"], row["pi_upper"]) == (direct.theta_new.bt_ci_lower, direct.theta_new.bt_ci_upper)
        assert (row["tau2"], row["beta"], row["se"]) == (direct.tau.median ** 2, direct.mu.median, direct.mu.sd)
        assert np.isnan(row["pval"]) and bool(row["converged"])


def _tau(text):
    return {"half_normal(0.5)": TauPrior.half_normal(0.5), "half_cauchy(1)": TauPrior.half_cauchy(1)}[text]


def test_the_frequentist_rows_are_those_of_the_multiverse_without_the_dimension(spec, estimates):
    without = check_config(config_with(assessor=["any", "independent_review"], design=["any", "single_arm"],
                                       method=["REML", "DL"]))["orr_post_crizotinib"]
    plain = run_multiverse(estimates, without).table
    both = run_multiverse(estimates, spec).table
    cols = [c for c in plain.columns if c != "tau_prior"]
    assert both.iloc[:len(plain)][cols].equals(plain[cols])
    assert (both["tau_prior"].iloc[:len(plain)] == "").all()


def test_the_spec_curve_shows_the_tau_prior_dimension(spec, estimates):
    result = run_multiverse(estimates, spec)
    fig = spec_curve_figure(result.table, result.summary, title="ORR")
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert "\u03c4 prior: half_normal(0.5)" in labels and "\u03c4 prior: none (frequentist)" in labels
    assert "Method: Bayesian" in labels


def test_a_bad_tau_prior_in_the_multiverse_is_refused_with_its_key_path():
    with pytest.raises(ConfigError) as err:
        check_config(config_with(method=["REML"], tau_prior=["half_normal(0)"]))
    assert err.value.problems == ["config: analyses.orr_post_crizotinib.multiverse.tau_prior: 'half_normal(0)': "
                                  "scale must be > 0, got 0"]
