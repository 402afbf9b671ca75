"""GRADE domain rules (metapool.stats.grade) on constructed cases at every boundary, and invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metapool.stats.grade import (LEVELS, SYMBOLS, DomainRating, combine, crossings, imprecision, inconsistency,
                                  indirectness, override, publication_bias, ratio_thresholds, risk_of_bias,
                                  starting_level)

HR = ratio_thresholds(0.8)  # 0.8, 1, 1.25


def test_hazard_ratio_thresholds_are_benefit_no_effect_harm_and_one_arm_has_only_the_rate_of_interest():
    assert HR == pytest.approx((0.8, 1.0, 1.25))
    assert ratio_thresholds(0.3, None) == (0.3,)
    assert ratio_thresholds(None, 1.0) == (1.0,)


def test_crossing_means_strictly_inside():
    assert crossings(0.8, 1.0, HR) == ()          # bounds equal to thresholds do not cross
    assert crossings(0.79, 1.01, HR) == pytest.approx((0.8, 1.0))
    with pytest.raises(ValueError):
        crossings(1.2, 1.1, HR)


def test_starting_level_by_design():
    assert starting_level(["randomised", "randomised"])[0] == 3
    assert starting_level(["single_arm"])[0] == 1
    level, reason = starting_level(["randomised", "retrospective"])
    assert level == 1 and "retrospective" in reason


@pytest.mark.parametrize("ci,down", [
    ((0.5, 0.7), 0),    # crosses nothing
    ((0.6, 0.9), 1),    # crosses 0.8 (important benefit)
    ((0.85, 1.1), 1),   # crosses 1
    ((0.7, 1.1), 2),    # crosses 0.8 and 1
    ((0.7, 1.4), 2),    # crosses all three: still two levels
    ((0.6, 0.8), 0),    # upper bound at the threshold: not crossed
])
def test_imprecision_counts_crossings(ci, down):
    r = imprecision(ci, HR)
    assert r.down == down and r.domain == "imprecision"
    assert ("crosses no threshold" in r.reason) == (down == 0)


def test_imprecision_optimal_information_size():
    assert imprecision((0.5, 0.7), HR, information=50.0, required_information=100.0).down == 1
    r = imprecision((0.5, 0.7), HR, information=150.0, required_information=100.0)
    assert r.down == 0 and "reaches the optimal information size 100.0" in r.reason
    # crossing two thresholds stays at two levels whatever the information
    assert imprecision((0.7, 1.1), HR, information=50.0, required_information=100.0).down == 2
    with pytest.raises(ValueError):
        imprecision((0.5, 0.7), HR, information=50.0)


def test_imprecision_single_arm_rate_of_interest_and_no_threshold():
    assert imprecision((0.55, 0.70), (0.6,)).down == 1
    assert imprecision((0.62, 0.70), (0.6,)).down == 0
    r = imprecision((0.62, 0.70), ())
    assert r.down == 0 and not r.assessed and "no decision threshold" in r.reason


@pytest.mark.parametrize("k,i2,pi,down", [
    (1, 0.0, None, 0),
    (2, 49.9, None, 0), (2, 50.0, None, 1), (2, 75.0, None, 2),
    (5, 40.0, (0.3, 1.5), 0),        # I2 below 50: no rating down even with a wide PI
    (5, 60.0, (0.5, 0.75), 0),       # PI on one side of every threshold
    (5, 60.0, (0.5, 0.9), 1),        # substantial, PI crosses 0.8
    (5, 80.0, (0.5, 0.9), 1),        # considerable, PI crosses one threshold only
    (5, 80.0, (0.5, 1.1), 2),        # considerable, PI crosses 0.8 and 1
    (5, 60.0, (0.5, 1.5), 1),        # substantial: one level however many crossings
])
def test_inconsistency_bands_and_prediction_interval(k, i2, pi, down):
    r = inconsistency(k, i2, pi, HR)
    assert r.down == down
    if k == 1:
        assert not r.assessed and "not assessable" in r.reason
    if k == 2:
        assert "no prediction interval" in r.reason


def test_risk_of_bias_share_of_weight():
    w = [50.0, 30.0, 20.0]
    assert risk_of_bias(w, ["high", "low", "low"]).down == 0          # exactly 50%: not above
    r = risk_of_bias(w, ["high", "high", "low"])
    assert r.down == 1 and "80% of the weight" in r.reason
    assert risk_of_bias(w, ["high", "high", "high"]).down == 2
    assert risk_of_bias(w, ["high", "low", "low"], high_risk_share=0.4).down == 1
    r = risk_of_bias(w, None)
    assert r.down == 0 and not r.assessed and r.reason == "not assessed (no risk-of-bias judgements)"
    with pytest.raises(ValueError, match="unknown risk-of-bias judgement 'unclear'"):
        risk_of_bias(w, ["high", "unclear", "low"])


def test_publication_bias_needs_ten_studies():
    r = publication_bias(9, egger_p=0.001)
    assert r.down == 0 and not r.assessed and r.reason.startswith("not assessable (k < 10")
    assert publication_bias(10, egger_p=0.05).down == 1
    assert publication_bias(10, egger_p=0.10).down == 0
    assert publication_bias(12, begg_p=0.02).down == 1 and "Begg" in publication_bias(12, begg_p=0.02).reason
    assert not publication_bias(12).assessed


def test_indirectness_and_overrides_show_the_rule():
    assert indirectness().down == 0
    with pytest.raises(ValueError):
        indirectness(1)
    auto = imprecision((0.7, 1.1), HR)
    o = override(auto, 1, "the upper bound barely crosses 1")
    assert o.down == 1 and o.automatic == auto and "the rule gave 2 level(s) down" in o.reason
    c = combine(starting_level(["randomised"]), [auto, indirectness()],
                overrides={"imprecision": (1, "the upper bound barely crosses 1")})
    assert c.level == 2 and c.label == "moderate" and c.symbol == "⊕⊕⊕◯"
    assert any("overridden" in r for r in c.reasons)
    with pytest.raises(ValueError, match="override of domain 'publication_bias'"):
        combine((3, "x"), [auto], overrides={"publication_bias": (0, "x")})


def test_combination_floors_at_very_low():
    ratings = [DomainRating("imprecision", 2, "wide"), DomainRating("inconsistency", 2, "I2 90%")]
    c = combine(starting_level(["single_arm"]), ratings)
    assert c.level == 0 and c.label == "very low" and c.symbol == "⊕◯◯◯"
    assert [r.domain for r in c.ratings] == ["inconsistency", "imprecision"]


bounds = st.floats(0.2, 3.0, allow_nan=False)


@given(bounds, bounds, st.floats(0.0, 1.0))
def test_widening_the_interval_never_rates_up(a, b, widen):
    lo, hi = min(a, b), max(a, b)
    narrow = imprecision((lo, hi), HR).down
    wide = imprecision((lo * (1 - 0.5 * widen), hi * (1 + widen)), HR).down
    assert wide >= narrow


@given(st.sampled_from([["randomised"], ["single_arm"]]),
       st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_final_level_is_start_minus_downs_floored(designs, downs):
    domains = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
    start = starting_level(designs)
    c = combine(start, [DomainRating(d, n, "r") for d, n in zip(domains, downs)])
    assert c.level == max(0, start[0] - sum(downs))
    assert c.label == LEVELS[c.level] and c.symbol == SYMBOLS[c.level]


def test_risk_of_bias_without_study_weights_counts_each_study_once():
    # the GLMM and the median of medians give no study weights: 2 of 3 studies at high risk is above half
    r = risk_of_bias([math.nan] * 3, ["high", "high", "low"])
    assert r.down == 1 and r.reason.startswith("67% of the studies (unweighted pooling) from studies at high risk")
    assert risk_of_bias(None, ["high", "low", "", "low"]).down == 0
