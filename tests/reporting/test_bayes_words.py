"""The Bayesian fit in words (reporting.methods.bayes_methods, reporting.words.bayes_fits) and in the forest plot
(figures.plots.forest_rows with bayes.tsv): built from the table, no numbers of their own."""

from __future__ import annotations

import math

import pandas as pd

from metapool.analysis.bayes import BAYES_COLUMNS
from metapool.figures.plots import (BAYES_MU_LABEL, BAYES_NEW_LABEL, SHRINKAGE_LABEL, analysis_forest_figure,
                                    bayes_footnote, forest_rows)
from metapool.reporting.methods import bayes_methods
from metapool.reporting.words import bayes_fits
from metapool.spec import AnalysisSpec

NAN = math.nan
WHY = "Weakly informative for logits (Friede et al. 2017)."


def _spec(**bayes) -> AnalysisSpec:
    return AnalysisSpec.from_options("a", {"title": "A", "outcome": "orr", "subgroup": "drug",
                                           "bayes": {"tau": "half_normal(0.5)", "why": WHY, **bayes}})


def _row(group, quantity, median, lo, hi, **extra):
    row = {c: NAN for c in BAYES_COLUMNS}
    row.update(analysis="a", subgroup="drug", group=group, likelihood="normal", tau_prior="half_normal(0.5)",
               mu_prior="flat", scale="logit", level=0.95, k=1, quantity=quantity, study_id="", label="",
               median=median, ci_lower=lo, ci_upper=hi, prob_above=0.5, reason="")
    row.update(extra)
    return row


BAYES = pd.DataFrame([
    _row("crizotinib", "mu", 1 / 3, 0.0829, 0.7343, p_above=0.2017),
    _row("crizotinib", "theta_new", 1 / 3, 0.0638, 0.7859, p_above=0.2229),
    _row("crizotinib", "tau", 0.3372, 0.0157, 1.1207),
    _row("crizotinib", "study", 1 / 3, 0.1112, 0.6666, study_id="OK", label="Okayama (crizotinib, 2021)"),
    _row("ceritinib", "", NAN, NAN, NAN, reason="improper posterior: the flat prior on tau needs k >= 3"),
], columns=BAYES_COLUMNS)


def test_the_methods_state_the_model_the_priors_and_why():
    text = bayes_methods(_spec(mu="normal(0, 10)", prob_above=0.5))
    assert text["tau"] == "half-normal with scale 0.5 (half_normal(0.5))"
    assert text["mu"] == "normal with mean 0 and sd 10 (normal(0, 10))"
    assert text["why"] == WHY
    assert "within each drug subgroup on its own, on the logit scale" in text["model"]
    assert "Röver 2020" in text["model"] and "shrinkage estimates" in text["reported"]
    binomial = bayes_methods(_spec(likelihood="binomial"))
    assert "binomial-normal model" in binomial["model"] and "shrinkage" not in binomial["reported"]


def test_each_fit_in_words_is_its_rows_of_the_table():
    fits = {f["group"]: f for f in bayes_fits(BAYES.to_dict("records"), "proportion")}
    c = fits["crizotinib"]
    assert c["mu"] == "33.3% (8.3% to 73.4%)" and c["new"] == "33.3% (6.4% to 78.6%)"
    assert c["tau"] == "0.337 (0.016 to 1.121)"
    assert c["above"] == "P(μ > 50.0%) = 0.202; new study 0.223" and c["below"] == "" and c["reason"] == ""
    assert fits["ceritinib"]["reason"].startswith("improper posterior")


def test_the_forest_rows_put_each_shrinkage_estimate_beneath_its_study_and_the_posteriors_after_the_subgroup():
    studies = pd.DataFrame([{
        "study_id": "OK", "label": "Okayama (crizotinib, 2021)", "status": "pooled", "included": True, "reason": "",
        "estimate": 1 / 3, "ci_lower": 0.075, "ci_upper": 0.701, "weight": NAN, "events": 3, "total": 9,
        "subgroup": "crizotinib", "subgroup_k": 1, "subgroup_estimate": NAN, "subgroup_ci_lower": NAN,
        "subgroup_ci_upper": NAN, "subgroup_i2": NAN, "subgroup_tau2": NAN}])
    rows = forest_rows(studies, "proportion", bayes=BAYES)
    assert list(rows["label"]) == ["crizotinib", "Okayama (crizotinib, 2021)", SHRINKAGE_LABEL,
                                   "One study: nothing pooled in this subgroup", BAYES_MU_LABEL, BAYES_NEW_LABEL]
    shrink = rows[rows["kind"] == "shrinkage"].iloc[0]
    assert (shrink["estimate"], shrink["ci_lower"], shrink["ci_upper"]) == (1 / 3, 0.1112, 0.6666)
    new = rows[rows["kind"] == "bayes_new"].iloc[0]
    assert (new["ci_lower"], new["ci_upper"]) == (0.0638, 0.7859)
    assert list(forest_rows(studies, "proportion")["kind"]) == ["header", "study", "note"]  # without a fit
    assert "τ ~ half_normal(0.5), μ ~ flat" in bayes_footnote(BAYES)
    pooled = pd.DataFrame([{"analysis": "a", "title": "A", "measure": "proportion", "k": 1, "estimate": NAN,
                            "level": 0.95, "overall": False, "subgroup": "drug", "q_between": NAN, "method": "REML",
                            "transform": "logit", "ci_method": "z", "median_method": "", "coverage": NAN}])
    fig = analysis_forest_figure(studies, pooled, bayes=BAYES)
    texts = [t.get_text() for t in fig.texts]
    assert "33.3 [11.1; 66.7]" in texts and SHRINKAGE_LABEL in texts
