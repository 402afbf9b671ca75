"""Numbers in words: the Cochrane bands of I² and heterogeneity read in words."""

from __future__ import annotations

import math

from metapool.reporting.words import COCHRANE_BANDS, heterogeneity_bands, heterogeneity_interpretation


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
