"""Proportion transforms (Freeman-Tukey, arcsine, raw), their back-transformations and the per-study CIs,
against metafor 3.8-1 / R (fixtures/transforms.json, written by tests/reference/R/transforms.R).

Tolerance: relative 1e-6 (plus 1e-12 absolute for values that are exactly 0 in R).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from metapool.stats.effects import (PROPORTION_CI_METHODS, agresti_coull, arcsine, arcsine_effects, freeman_tukey, freeman_tukey_effects, iarcsine, ifreeman_tukey, ifreeman_tukey_hm,
                              ilogit, jeffreys, logit, proportion_ci, raw_effects, wilson)
from metapool.stats.pooling import inverse_variance
from metapool.stats.tau2 import ConvergenceError
from metapool.stats.proportions import backtransform, pool_proportions, proportion_effects
from metapool.vocabulary import IV_TRANSFORMS

from conftest import load_fixture

REL, ABS = 1e-6, 1e-12
TESTS = {"z": "z", "knha": "hartung_knapp"}
FIX = load_fixture("transforms.json")
CASES = FIX["cases"]


def close(got, expected) -> bool:
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return abs(got - expected) <= REL * abs(expected) + ABS


def _id(case):
    return f"{case['name']}-{case['transform']}-{case['method']}-{case['test']}-{case['level']}"


# ---------------------------------------------------------------------------
# Pooled fits against rma(measure = PFT / PAS / PR) + predict(transf = ...)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_pool_proportions_matches_rma(case):
    assert case["converged"], case["error"]
    yi, vi = proportion_effects(case["events"], case["totals"], case["transform"])
    np.testing.assert_allclose(yi, case["yi"], rtol=REL, atol=ABS)
    np.testing.assert_allclose(vi, case["vi"], rtol=REL)
    res = pool_proportions(case["events"], case["totals"], transform=case["transform"], method=case["method"],
                           ci=TESTS[case["test"]], level=case["level"])
    m = res.model
    got = {
        "beta": m.beta, "se": m.se, "ci_lb": m.ci_lower, "ci_ub": m.ci_upper, "pi_lb": m.pi_lower,
        "pi_ub": m.pi_upper, "bt_pred": res.estimate, "bt_ci_lb": res.ci_lower, "bt_ci_ub": res.ci_upper,
        "bt_pi_lb": res.pi_lower, "bt_pi_ub": res.pi_upper, "tau2": res.tau2, "I2": res.i2, "H2": res.h2,
    }
    if case["k"] > 1:
        got.update(QE=res.q, QEp=res.q_pvalue)
    bad = {k: (v, case[k]) for k, v in got.items() if not close(v, case[k])}
    assert not bad, bad
    assert res.k == case["k"] and res.transform == case["transform"]
    np.testing.assert_allclose(res.weights, case["weights"], rtol=REL)
    assert m.ci == TESTS[case["test_used"]]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_q_profile_ci_on_every_scale_matches_confint(case):
    res = pool_proportions(case["events"], case["totals"], transform=case["transform"], method=case["method"],
                           ci=TESTS[case["test"]], level=case["level"])
    het, ref = res.heterogeneity, case["confint"]
    if ref["error"]:
        assert case["k"] == 1 and not het.estimable and "k = 1" in het.reason
        assert all(math.isnan(v) for v in (*res.tau2_ci, *res.i2_ci, *res.h2_ci))
        return
    assert het.estimable and het.ci_null == ref["ci_null"]
    assert (het.lower_sign, het.upper_sign) == (ref["lb_sign"], ref["ub_sign"])
    for key, got in (("tau2", het.tau2_ci), ("tau", het.tau_ci), ("I2", het.i2_ci), ("H2", het.h2_ci)):
        assert close(got[0], ref[key]["ci_lb"]) and close(got[1], ref[key]["ci_ub"]), (key, got, ref[key])


def test_freeman_tukey_back_transformation_uses_the_harmonic_mean_of_the_included_n():
    case = next(c for c in CASES if c["name"] == "edge_wide_n" and c["transform"] == "freeman_tukey")
    res = pool_proportions(case["events"], case["totals"], transform="freeman_tukey", method=case["method"],
                           ci=TESTS[case["test"]], level=case["level"])
    n = np.asarray(case["totals"], float)
    assert close(1 / np.mean(1 / n), case["harmonic_mean_n"])
    assert close(float(ifreeman_tukey(res.model.beta, case["harmonic_mean_n"])), res.estimate)
    # with the arithmetic mean of n the answer differs (Schwarzer et al. 2019): the harmonic mean matters here
    assert abs(float(ifreeman_tukey(res.model.beta, n.mean())) - res.estimate) > 1e-3


def test_raw_without_correction_has_zero_variances_and_is_refused_as_metafor_does():
    ref = FIX["raw_without_correction"]
    yi, vi = raw_effects(ref["events"], ref["totals"], to="none")
    np.testing.assert_allclose(yi, ref["yi"], rtol=REL, atol=ABS)
    np.testing.assert_allclose(vi, ref["vi"], rtol=REL, atol=ABS)
    assert vi[0] == 0.0
    by_method = {f["method"]: f for f in ref["fits"]}
    assert not by_method["EE"]["converged"] and not by_method["DL"]["converged"]
    for method in ("EE", "DL", "REML"):  # metafor's REML runs but cannot give Q or I^2: we refuse throughout
        with pytest.raises(ValueError, match="positive"):
            inverse_variance(yi, vi, method=method)


def test_raw_default_adds_one_half_to_zero_and_all_event_studies_as_metafor_pr():
    yi, vi = raw_effects([0, 3, 10], [10, 10, 10])
    np.testing.assert_allclose(yi, [0.5 / 11, 0.3, 10.5 / 11])
    assert np.all(vi > 0)


def test_raw_limits_outside_zero_one_are_kept_and_noted():
    res = pool_proportions([1, 2], [40, 10], transform="raw", method="REML")
    assert res.ci_lower < 0 or res.pi_lower < 0
    assert any("outside [0, 1]" in n for n in res.model.notes)


def test_unknown_transform_is_refused():
    with pytest.raises(ValueError, match="transform"):
        pool_proportions([1, 2], [10, 10], transform="probit")
    assert IV_TRANSFORMS == ("logit", "freeman_tukey", "arcsine", "raw")


# ---------------------------------------------------------------------------
# Back-transformations on grids
# ---------------------------------------------------------------------------


def test_ipft_hm_matches_metafor_on_a_grid():
    for ref in FIX["backtransforms"]["ipft_hm"]:
        got = ifreeman_tukey_hm(ref["t"], ref["ni"])
        np.testing.assert_allclose(got, [np.nan if v is None else v for v in ref["ipft_hm"]], rtol=REL, atol=ABS)


def test_pft_and_ipft_match_metafor():
    for ref in FIX["backtransforms"]["pft"]:
        np.testing.assert_allclose(freeman_tukey(ref["p"], ref["n"]), ref["pft"], rtol=REL, atol=ABS)
        np.testing.assert_allclose(ifreeman_tukey(ref["pft"], ref["n"]), ref["ipft"], rtol=REL, atol=ABS)


def test_arcsine_and_iarcsin_match_metafor():
    bt = FIX["backtransforms"]
    np.testing.assert_allclose(iarcsine(bt["t"]), bt["iarcsin"], rtol=REL, atol=ABS)
    np.testing.assert_allclose(arcsine(bt["arcsin_p"]), bt["arcsin"], rtol=REL, atol=ABS)


def test_effects_formulas():
    yi, vi = freeman_tukey_effects([0, 3], [10, 10])
    assert close(vi[0], 1 / 42) and close(yi[1], 0.5 * (math.asin(math.sqrt(3 / 11)) + math.asin(math.sqrt(4 / 11))))
    yi, vi = arcsine_effects([0, 10], [10, 10])
    assert yi[0] == 0.0 and close(yi[1], math.pi / 2) and close(vi[0], 1 / 40)


# ---------------------------------------------------------------------------
# Per-study CIs
# ---------------------------------------------------------------------------

STUDY_CIS = FIX["study_cis"]


@pytest.mark.parametrize("method", PROPORTION_CI_METHODS)
def test_study_ci_matches_r(method):
    bad = []
    for ref in STUDY_CIS:
        lo, hi = proportion_ci(ref["x"], ref["n"], ref["level"], method=method)
        exp = ref[method]
        if not (close(lo, exp[0]) and close(hi, exp[1])):
            bad.append((ref["x"], ref["n"], ref["level"], (lo, hi), exp))
    assert not bad, bad[:5]


def test_wilson_is_prop_test_without_continuity_correction():
    for ref in STUDY_CIS:
        lo, hi = wilson(ref["x"], ref["n"], ref["level"])
        assert abs(lo - ref["wilson_prop_test"][0]) < 1e-12 and abs(hi - ref["wilson_prop_test"][1]) < 1e-12


def test_agresti_coull_is_the_truncated_formula():
    clipped = [r for r in STUDY_CIS if r["agresti_coull_untruncated"][0] < 0]
    assert clipped, "the grid should contain limits below 0"
    for ref in clipped:
        assert agresti_coull(ref["x"], ref["n"], ref["level"])[0] == 0.0


def test_study_cis_vectorise():
    x, n = np.array([0, 3, 9]), np.array([9, 9, 9])
    for method in PROPORTION_CI_METHODS:
        lo, hi = proportion_ci(x, n, 0.95, method=method)
        assert lo.shape == (3,) and lo[0] == 0.0 and hi[2] == 1.0
    with pytest.raises(ValueError):
        proportion_ci(3, 9, method="wald")
    with pytest.raises(ValueError):
        jeffreys(10, 9)


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------


@st.composite
def studies(draw, min_k=1, max_k=8):
    k = draw(st.integers(min_k, max_k))
    totals = draw(st.lists(st.integers(1, 400), min_size=k, max_size=k))
    events = [draw(st.integers(0, n)) for n in totals]
    return np.array(events, float), np.array(totals, float)


def pool_or_skip(*args, **kwargs):
    """pool_proportions, skipping the draws where Fisher scoring fails (metafor stops there too)."""
    try:
        return pool_proportions(*args, **kwargs)
    except ConvergenceError:
        assume(False)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(studies(), st.sampled_from(IV_TRANSFORMS), st.sampled_from(["DL", "REML", "EE"]),
       st.sampled_from(["z", "hartung_knapp"]))
def test_estimate_lies_inside_its_ci_and_pi(data, transform, method, ci):
    events, totals = data
    res = pool_or_skip(events, totals, transform=transform, method=method, ci=ci, heterogeneity_ci=False)
    eps = 1e-12
    assert res.ci_lower - eps <= res.estimate <= res.ci_upper + eps
    assert res.pi_lower - eps <= res.estimate <= res.pi_upper + eps
    assert res.tau2 >= 0.0
    if transform != "raw":
        assert 0.0 <= res.ci_lower <= res.ci_upper <= 1.0


@settings(max_examples=40, deadline=None, derandomize=True)
@given(studies(min_k=2), st.sampled_from(IV_TRANSFORMS))
def test_higher_level_gives_a_wider_ci(data, transform):
    events, totals = data
    a = pool_or_skip(events, totals, transform=transform, level=0.90, heterogeneity_ci=False)
    b = pool_or_skip(events, totals, transform=transform, level=0.99, heterogeneity_ci=False)
    eps = 1e-12
    assert b.ci_lower <= a.ci_lower + eps and a.ci_upper <= b.ci_upper + eps
    assert b.pi_lower <= a.pi_lower + eps and a.pi_upper <= b.pi_upper + eps


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from(PROPORTION_CI_METHODS))
def test_study_ci_contains_p_and_widens_with_level(xn, method):
    x, n = xn
    lo90, hi90 = proportion_ci(x, n, 0.90, method=method)
    lo99, hi99 = proportion_ci(x, n, 0.99, method=method)
    p = x / n
    assert 0.0 <= lo99 <= lo90 + 1e-12 and hi90 <= hi99 + 1e-12 <= 1.0 + 1e-12
    if method != "agresti_coull":  # Agresti-Coull is centred on (x + z^2/2)/(n + z^2), not on x/n
        assert lo90 <= p + 1e-12 and p <= hi90 + 1e-12


@settings(max_examples=40, deadline=None, derandomize=True)
@given(studies(min_k=2), st.sampled_from(IV_TRANSFORMS), st.randoms(use_true_random=False))
def test_pooling_is_invariant_to_study_order(data, transform, rnd):
    events, totals = data
    order = list(range(len(events)))
    rnd.shuffle(order)
    a = pool_or_skip(events, totals, transform=transform)
    b = pool_or_skip(events[order], totals[order], transform=transform)
    for u, v in ((a.estimate, b.estimate), (a.ci_lower, b.ci_lower), (a.ci_upper, b.ci_upper), (a.tau2, b.tau2)):
        assert v == pytest.approx(u, rel=1e-7, abs=1e-9)
    np.testing.assert_allclose(np.asarray(b.weights), np.asarray(a.weights)[order], rtol=1e-7)


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_transform_round_trips(xn):
    x, n = xn
    p = x / n
    assert float(iarcsine(arcsine(p))) == pytest.approx(p, abs=1e-12)
    assert float(ifreeman_tukey(freeman_tukey(p, n), n)) == pytest.approx(p, abs=1e-12)
    assert float(ifreeman_tukey_hm(freeman_tukey(p, n), [n, n, n])) == pytest.approx(p, abs=1e-12)
    if 0 < x < n:
        assert float(ilogit(logit(p))) == pytest.approx(p, abs=1e-12)
    for transform in IV_TRANSFORMS:
        bt = backtransform(transform, [n])
        if transform == "freeman_tukey":
            assert float(bt(freeman_tukey(p, n))) == pytest.approx(p, abs=1e-12)
        elif transform == "arcsine":
            assert float(bt(arcsine(p))) == pytest.approx(p, abs=1e-12)
        elif transform == "raw":
            assert bt(p) == p
