"""Q-profile confidence intervals for tau^2, tau, I^2 and H^2 against metafor's confint.rma.uni (metafor 3.8-1),
and the Q-based I^2 / H^2.

The reference numbers are the ``confint`` entries of fixtures/proportions.json (logit scale, every tau^2
estimator but EE, tests z and knha, levels 0.95 and 0.90) and fixtures/inverse_variance.json (log scale).
Tolerance: relative 1e-6 (plus 1e-12 absolute for values that are exactly 0 in R).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from metapool.stats.effects import logit_effects
from metapool.stats.heterogeneity import (HeterogeneityCI, h2_from_q, i2_from_q, q_profile_ci, typical_within_variance)
from metapool.stats.pooling import inverse_variance
from metapool.stats.proportions import pool_proportions
from metapool.stats.lockstep import UNIROOT_TOL, ConvergenceError
from metapool.stats.tau2 import estimate_tau2, q_statistic

from conftest import load_fixture

REL, ABS = 1e-6, 1e-12
TESTS = {"z": "z", "knha": "hartung_knapp"}
PROPORTIONS = [c for c in load_fixture("proportions.json")["cases"] if c["method"] != "EE"]
INVERSE_VARIANCE = [c for c in load_fixture("inverse_variance.json")["cases"] if c["method"] != "EE"]


def close(got, expected) -> bool:
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return abs(got - expected) <= REL * abs(expected) + ABS


def _id(case):
    return f"{case['name']}-{case['method']}-{case['test']}-{case['level']}"


def assert_matches_confint(het: HeterogeneityCI, ref: dict) -> None:
    assert het.estimable and het.ci_null == ref["ci_null"]
    for key, est, ci in (("tau2", het.tau2, het.tau2_ci), ("tau", het.tau, het.tau_ci), ("I2", het.i2, het.i2_ci),
                         ("H2", het.h2, het.h2_ci)):
        r = ref[key]
        assert close(est, r["estimate"]), (key, est, r)
        assert close(ci[0], r["ci_lb"]) and close(ci[1], r["ci_ub"]), (key, ci, r)


@pytest.mark.parametrize("case", PROPORTIONS, ids=_id)
def test_pool_proportions_q_profile_matches_metafor_confint(case):
    res = pool_proportions(case["events"], case["totals"], method=case["method"], ci=TESTS[case["test"]],
                           level=case["level"])
    ref = case["confint"]
    if ref["error"]:
        assert ref["error"] == "Stopped because k = 1."
        het = res.heterogeneity
        assert not het.estimable and "not estimable" in het.reason and "k = 1" in het.reason
        assert all(math.isnan(v) for v in (*res.tau2_ci, *res.i2_ci, *res.h2_ci))
        return
    assert_matches_confint(res.heterogeneity, ref)
    assert res.tau2_ci == res.heterogeneity.tau2_ci and res.i2_ci == res.heterogeneity.i2_ci
    assert res.heterogeneity.level == case["level"]


@pytest.mark.parametrize("case", INVERSE_VARIANCE, ids=_id)
def test_q_profile_on_the_log_scale_matches_metafor_confint(case):
    model = inverse_variance(case["yi"], case["vi"], method=case["method"], ci=TESTS[case["test"]],
                             level=case["level"])
    het = q_profile_ci(case["yi"], case["vi"], model.tau2, level=case["level"], i2=model.i2, h2=model.h2)
    assert_matches_confint(het, case["confint"])


def test_default_point_estimates_come_from_tau2_and_vt():
    case = next(c for c in PROPORTIONS if c["name"] == "pritz1997" and c["method"] == "REML" and c["level"] == 0.95)
    yi, vi = logit_effects(case["events"], case["totals"])
    het = q_profile_ci(yi, vi, case["tau2"], level=0.95)
    assert close(het.i2, case["I2"]) and close(het.h2, case["H2"])
    assert close(typical_within_variance(vi), case["tau2"] * (100 - case["I2"]) / case["I2"])


def test_null_set_when_q_at_zero_is_below_the_lower_quantile():
    case = next(c for c in PROPORTIONS if c["name"] == "edge_identical" and c["level"] == 0.95)
    res = pool_proportions(case["events"], case["totals"], method=case["method"])
    het = res.heterogeneity
    assert het.ci_null and het.tau2_ci == (0.0, 0.0) and het.lower_sign == het.upper_sign == "<"
    assert any("null set" in n for n in het.notes)


def test_upper_limit_beyond_the_search_interval_is_set_to_its_end():
    case = next(c for c in PROPORTIONS if c["name"] == "edge_k2" and c["method"] == "REML" and c["level"] == 0.95)
    het = pool_proportions(case["events"], case["totals"]).heterogeneity
    assert het.tau2_upper == het.tau2_max == 100.0 and het.upper_sign == ">"
    assert case["confint"]["tau2"]["ci_ub"] == 100


def test_common_effect_model_and_single_study_are_not_estimable():
    ee = pool_proportions([3, 12, 7], [9, 20, 19], method="EE")
    assert not ee.heterogeneity.estimable and "common-effect" in ee.heterogeneity.reason
    one = pool_proportions([7], [19])
    assert not one.heterogeneity.estimable and math.isnan(one.tau2_ci[0])
    assert pool_proportions([7], [19], heterogeneity_ci=False).heterogeneity is None
    assert math.isnan(pool_proportions([3, 12], [9, 20], heterogeneity_ci=False).i2_ci[1])


def test_summary_frame_has_the_heterogeneity_intervals():
    res = pool_proportions([3, 58, 87, 68, 155, 21], [9, 75, 143, 133, 259, 26])
    row = res.summary_frame().iloc[0]
    for col in ("tau2_ci_lower", "tau2_ci_upper", "i2_ci_lower", "i2_ci_upper", "h2_ci_lower", "h2_ci_upper",
                "h2", "q_pvalue", "se"):
        assert col in row.index
    assert row["tau2_ci_lower"] <= row["tau2"] <= row["tau2_ci_upper"]
    assert row["i2_ci_lower"] == res.i2_ci[0] and row["h2_ci_upper"] == res.h2_ci[1]
    assert res.weights.sum() == pytest.approx(100.0)


def test_q_based_i2_and_h2():
    assert i2_from_q(10.0, 4) == pytest.approx(60.0)
    assert i2_from_q(3.0, 4) == 0.0 and i2_from_q(0.0, 4) == 0.0
    assert math.isnan(i2_from_q(1.0, 0)) and math.isnan(h2_from_q(1.0, 0))
    assert h2_from_q(10.0, 4) == 2.5
    # equals metafor's I^2 under DerSimonian-Laird whenever tau2_DL > 0
    for case in PROPORTIONS:
        if case["method"] == "DL" and case["k"] > 1 and case["tau2"] > 0:
            assert close(i2_from_q(case["QE"], case["k"] - 1), case["I2"])
            assert close(h2_from_q(case["QE"], case["k"] - 1), case["H2"])


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        q_profile_ci([0.1, 0.2], [0.01, 0.0], 0.0)
    with pytest.raises(ValueError):
        q_profile_ci([0.1, 0.2], [0.01, 0.02], 0.0, level=1.0)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def meta_data(draw, min_k=2, max_k=10):
    k = draw(st.integers(min_k, max_k))
    yi = draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k))
    vi = draw(st.lists(st.floats(1e-3, 2.0, allow_nan=False), min_size=k, max_size=k))
    return np.array(yi), np.array(vi)


def tau2_or_skip(yi, vi, method):
    """tau^2, skipping the draws where Fisher scoring fails (metafor stops there too)."""
    try:
        return estimate_tau2(yi, vi, method).tau2
    except ConvergenceError:
        assume(False)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(meta_data(), st.sampled_from(["DL", "REML", "PM", "SJ", "HE"]))
def test_q_profile_limits_solve_the_q_equations(data, method):
    yi, vi = data
    tau2 = tau2_or_skip(yi, vi, method)
    assert tau2 >= 0.0
    het = q_profile_ci(yi, vi, tau2, level=0.95)
    df = len(yi) - 1
    lo, hi = het.tau2_ci
    assert 0.0 <= lo <= hi <= het.tau2_max
    assert 0.0 <= het.i2_lower <= het.i2_upper < 100.0 and 1.0 <= het.h2_lower <= het.h2_upper
    # the Q-profile limit satisfies Q(limit) = chi2 quantile up to the root finder's tolerance in tau2
    if het.lower_sign == "" and lo > 0:
        target = stats.chi2.isf(0.025, df)
        assert q_statistic(yi, vi, lo + 2 * UNIROOT_TOL) <= target <= q_statistic(yi, vi, max(0.0, lo - 2 * UNIROOT_TOL))
    if het.upper_sign == "" and not het.ci_null:
        target = stats.chi2.ppf(0.025, df)
        assert q_statistic(yi, vi, hi + 2 * UNIROOT_TOL) <= target <= q_statistic(yi, vi, max(0.0, hi - 2 * UNIROOT_TOL))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(meta_data())
def test_q_profile_ci_widens_with_level(data):
    yi, vi = data
    tau2 = tau2_or_skip(yi, vi, "REML")
    a = q_profile_ci(yi, vi, tau2, level=0.80)
    b = q_profile_ci(yi, vi, tau2, level=0.99)
    tol = 2 * UNIROOT_TOL
    assert b.tau2_lower <= a.tau2_lower + tol and a.tau2_upper <= b.tau2_upper + tol


@settings(max_examples=60, deadline=None, derandomize=True)
@given(meta_data(), st.randoms(use_true_random=False))
def test_q_profile_ci_is_invariant_to_study_order(data, rnd):
    yi, vi = data
    order = list(range(len(yi)))
    rnd.shuffle(order)
    tau2 = estimate_tau2(yi, vi, "DL").tau2
    a = q_profile_ci(yi, vi, tau2)
    b = q_profile_ci(yi[order], vi[order], estimate_tau2(yi[order], vi[order], "DL").tau2)
    # two runs of Brent's method each end within its tolerance of the same root
    tol = 2 * UNIROOT_TOL
    assert abs(a.tau2_lower - b.tau2_lower) <= tol and abs(a.tau2_upper - b.tau2_upper) <= tol
    assert a.ci_null == b.ci_null
