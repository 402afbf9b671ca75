"""Numbers in words: the Cochrane bands of I² and heterogeneity read in words."""

from __future__ import annotations

import math

from metapool.reporting.words import (
    COCHRANE_BANDS, heterogeneity_bands, heterogeneity_interpretation, overall_effect_sentence, result_sentence,
)


def test_cochrane_bands_overlap_as_in_the_handbook():
    assert [w for _, _, w in heterogeneity_bands(0.0)] == ["might not be important"]
    assert [w for _, _, w in heterogeneity_bands(35.0)] == ["might not be important",
                                                             "may represent moderate heterogeneity"]
    assert [w for _, _, w in heterogeneity_bands(80.0)] == ["may represent substantial heterogeneity",
                                                             "considerable heterogeneity"]
    assert [w for _, _, w in heterogeneity_bands(100.0)] == ["considerable heterogeneity"]
    assert heterogeneity_bands(math.nan) == []
    assert [(lo, hi) for lo, hi, _ in COCHRANE_BANDS] == [(0, 40), (30, 60), (50, 90), (75, 100)]


def _row(**kw):
    row = {"measure": "proportion", "k": 8, "estimate": 0.6, "ci_lower": 0.5, "ci_upper": 0.7, "pi_lower": 0.3,
           "pi_upper": 0.85, "tau2": 0.2, "i2": 55.0, "q": 20.0, "df": 7, "q_pvalue": 0.005, "method": "REML",
           "transform": "logit", "level": 0.95, "median_method": ""}
    return {**row, **kw}


def test_heterogeneity_interpretation_in_words():
    text = heterogeneity_interpretation(_row())
    assert "I² = 55.0%" in text and "30% to 60% (may represent moderate heterogeneity)" in text
    assert "50% to 90% (may represent substantial heterogeneity)" in text and "Q = 20.00 on 7 df, p = 0.005" in text
    assert "95% prediction interval, 30.0% to 85.0%" in text
    assert heterogeneity_interpretation(_row(k=1)) == "A single study: heterogeneity is not estimable."
    assert "no I² or Q" in heterogeneity_interpretation(_row(transform="glmm", i2=math.nan))
    assert "very imprecise" in heterogeneity_interpretation(_row(k=3))
    assert "median of medians" in heterogeneity_interpretation(_row(measure="median",
                                                                    median_method="median_of_medians"))


def test_result_sentence_states_the_test_for_the_overall_effect():
    row = _row(zval=3.1, ddf=math.nan, pval=0.0019, ci_method="z", subgroup="")
    assert ("Test for overall effect: z = 3.10 (p = 0.002), against a proportion of 50% (logit scale)."
            in result_sentence(row))
    hk = _row(zval=3.1, ddf=7.0, pval=0.0173, ci_method="hartung_knapp")
    assert overall_effect_sentence(hk).startswith("Test for overall effect: t = 3.10, df = 7 (p = 0.02)")
    hr = _row(measure="hr", transform="log", zval=-10.27, ddf=math.nan, pval=1e-24, ci_method="z")
    assert overall_effect_sentence(hr) == "Test for overall effect: z = -10.27 (p < 0.001), against a hazard ratio of 1."
    assert overall_effect_sentence(_row(zval=math.nan, ddf=math.nan, pval=math.nan)) == ""


def test_one_study_is_not_called_pooled_and_the_z_fallback_is_said():
    """k = 1 under Hartung-Knapp: metafor uses z; the sentence says so and does not call the study pooled."""
    row = _row(k=1, zval=7.33, ddf=math.nan, pval=2.4e-13, ci_method="hartung_knapp", subgroup="", tau2=0.0,
               i2=0.0, q=0.0, q_pvalue=1.0)
    text = result_sentence(row)
    assert not text.startswith("Pooled") and "With one study nothing is pooled" in text
    assert "Hartung-Knapp needs at least 2 studies: with one study the z interval and test are used" in text
    assert "p = 1.00" not in text and "Heterogeneity" not in text
