"""Small-study effects against metafor 3.8-1 (regtest, ranktest, trimfill).

Fixture: tests/reference/fixtures/bias_sensitivity.json, written by
tests/reference/R/bias_sensitivity.R. Tolerance: relative 1e-6 (plus 1e-12
absolute for values that are exactly 0 in R).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from metapool.stats.bias import (
    MIN_STUDIES,
    begg_test,
    egger_test,
    trim_and_fill,
)

from conftest import load_fixture

REL, ABS = 1e-6, 1e-12
FIX = load_fixture("bias_sensitivity.json")
DATA = {d["name"]: d for d in FIX["datasets"]}
CI = {"z": "z", "knha": "hartung_knapp"}  # metafor's test -> ci


def close(got, expected) -> bool:
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    if got is None:
        return False
    return abs(got - expected) <= REL * abs(expected) + ABS


def assert_close(got: dict, case: dict, label: str) -> None:
    bad = {k: (v, case[k]) for k, v in got.items() if not close(v, case[k])}
    assert not bad, f"{label}: {bad}"


def _id(case):
    return "-".join(str(case.get(k)) for k in ("dataset", "model", "method", "test", "predictor", "estimator",
                                                "side_arg", "exact") if k in case)


@pytest.mark.parametrize("case", FIX["regtest"], ids=_id)
def test_egger_matches_regtest(case):
    d = DATA[case["dataset"]]
    kw = dict(model=case["model"], predictor=case["predictor"], ni=d["ni"], force=True)
    if case["model"] == "rma":
        kw.update(method=case["method"], ci=CI[case["test"]])
    res = egger_test(d["yi"], d["vi"], **kw)
    assert_close(
        {"zval": res.statistic, "pval": res.pvalue, "est": res.limit_estimate, "ci_lb": res.limit_ci_lower,
         "ci_ub": res.limit_ci_upper, "slope": res.slope, "slope_se": res.slope_se},
        case, _id(case),
    )
    assert res.df == case["ddf"]
    if case["model"] == "rma":
        assert close(res.fit.tau2, case["tau2"])


@pytest.mark.parametrize("case", FIX["ranktest"], ids=_id)
def test_begg_matches_ranktest(case):
    d = DATA[case["dataset"]]
    res = begg_test(d["yi"], d["vi"], exact=case["exact"], force=True)
    assert_close({"tau": res.tau, "pval": res.pvalue}, case, _id(case))


def test_ranktest_fixture_covers_exact_and_tied_branches():
    exact = [begg_test(DATA[c["dataset"]]["yi"], DATA[c["dataset"]]["vi"], force=True).exact
             for c in FIX["ranktest"] if c["exact"]]
    assert any(exact) and not all(exact)


@pytest.mark.parametrize("case", FIX["trimfill"], ids=_id)
def test_trim_and_fill_matches_trimfill(case):
    d = DATA[case["dataset"]]
    kw = dict(method=case["method"], estimator=case["estimator"], ci=CI[case["test"]], force=True,
              side=None if case["side_arg"] == "auto" else case["side_arg"])
    if "error" in case:
        with pytest.raises(ValueError):
            trim_and_fill(d["yi"], d["vi"], **kw)
        return
    res = trim_and_fill(d["yi"], d["vi"], **kw)
    assert res.k0 == case["k0"] and res.side == case["side"]
    assert len(res.yi) == case["k_total"] == len(d["yi"]) + res.k0
    np.testing.assert_array_equal(res.yi[~res.filled], d["yi"])
    np.testing.assert_allclose(res.yi[res.filled], case["yi_filled"], rtol=REL, atol=ABS)
    np.testing.assert_allclose(res.vi[res.filled], case["vi_filled"], rtol=REL)
    m = res.model
    assert_close(
        {"se_k0": res.se_k0, "p_k0": res.p_k0, "beta": m.beta, "se": m.se, "ci_lb": m.ci_lower,
         "ci_ub": m.ci_upper, "tau2": m.tau2, "QE": m.q, "QEp": m.q_pvalue, "I2": m.i2, "H2": m.h2},
        case, _id(case),
    )


def test_trimfill_fixture_imputes_on_both_sides():
    sides = {(c["side"], c["k0"] > 0) for c in FIX["trimfill"] if "error" not in c}
    assert ("left", True) in sides and ("right", True) in sides


@pytest.mark.parametrize(
    "fn, name",
    [(egger_test, "Egger's test"), (begg_test, "Begg's test"), (trim_and_fill, "Trim-and-fill")],
)
def test_fewer_than_ten_studies_needs_force(fn, name):
    d = DATA["bcg"]
    yi, vi = d["yi"][:4], d["vi"][:4]
    with pytest.raises(ValueError) as err:
        fn(yi, vi)
    assert str(err.value) == f"{name} needs at least 10 studies (k = 4); pass force=True to run it anyway"
    assert MIN_STUDIES == 10
    fn(yi, vi, force=True)  # runs


def test_egger_message_is_the_documented_one():
    with pytest.raises(ValueError, match=r"^Egger's test needs at least 10 studies \(k = 4\); pass force=True"):
        egger_test([0.1, 0.2, 0.3, 0.5], [0.1, 0.2, 0.05, 0.3])


def test_input_validation():
    with pytest.raises(ValueError, match="positive"):
        egger_test(np.zeros(12), np.r_[np.ones(11), 0.0])
    with pytest.raises(ValueError, match="predictor"):
        egger_test(np.arange(12.0), np.ones(12) + np.arange(12), predictor="ni")
    with pytest.raises(ValueError, match="estimator"):
        trim_and_fill(np.arange(12.0), np.ones(12), estimator="X0")


effects = st.integers(min_value=10, max_value=18).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k, unique=True),
        st.lists(st.floats(0.01, 1.0, allow_nan=False), min_size=k, max_size=k, unique=True),
    )
)  # distinct values: with all yi or all vi equal the tests are undefined (NA in metafor)


@settings(max_examples=40, deadline=None)
@given(effects, st.floats(-5, 5))
def test_begg_is_location_and_scale_invariant(data, shift):
    yi, vi = map(np.asarray, data)
    res = begg_test(yi, vi)
    assert abs(res.tau) <= 1.0 + 1e-12 and 0.0 <= res.pvalue <= 1.0
    moved = begg_test(yi + shift, vi)
    scaled = begg_test(2.0 * yi, 4.0 * vi)
    assert moved.tau == pytest.approx(res.tau, abs=1e-12) or moved.exact != res.exact
    assert scaled.tau == pytest.approx(res.tau, abs=1e-12) or scaled.exact != res.exact


@settings(max_examples=25, deadline=None)
@given(effects, st.floats(-5, 5))
def test_egger_shift_moves_only_the_limit_estimate(data, shift):
    yi, vi = map(np.asarray, data)
    for model in ("rma", "lm"):
        a = egger_test(yi, vi, model=model, method="DL")
        b = egger_test(yi + shift, vi, model=model, method="DL")
        assert b.slope == pytest.approx(a.slope, rel=1e-7, abs=1e-9)
        assert b.limit_estimate == pytest.approx(a.limit_estimate + shift, rel=1e-7, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(effects)
def test_trim_and_fill_mirror_image(data):
    yi, vi = map(np.asarray, data)
    a = trim_and_fill(yi, vi, method="DL", side="left")
    b = trim_and_fill(-yi, vi, method="DL", side="right")
    assert a.k0 == b.k0
    assert b.model.beta == pytest.approx(-a.model.beta, rel=1e-9, abs=1e-12)
    assert a.k0 >= 0 and a.filled.sum() == a.k0
    np.testing.assert_allclose(b.yi, -a.yi, rtol=1e-9, atol=1e-12)


def test_begg_statistic_is_r_cor_test_statistic():
    """The reported statistic is cor.test's: T (concordant pairs) for the exact test, z = S / sqrt(var S) with
    var S = n(n - 1)(2n + 5) / 18 without ties (Kendall 1948) for the normal approximation."""
    yi = np.array([0.12, -0.30, 0.45, 0.08, 0.61, -0.05, 0.33, 0.20, -0.14, 0.52, 0.27])
    vi = np.array([0.04, 0.09, 0.02, 0.05, 0.11, 0.03, 0.07, 0.06, 0.10, 0.015, 0.08])
    wi = 1 / vi
    ystar = (yi - np.sum(wi * yi) / np.sum(wi)) / np.sqrt(vi - 1 / np.sum(wi))
    i, j = np.triu_indices(len(yi), 1)
    s = np.sign(ystar[i] - ystar[j]) * np.sign(vi[i] - vi[j])
    concordant, discordant = int(np.sum(s > 0)), int(np.sum(s < 0))
    n = len(yi)
    exact = begg_test(yi, vi, exact=True, force=True)
    assert exact.exact and exact.statistic == concordant
    assert exact.tau == pytest.approx((concordant - discordant) / (n * (n - 1) / 2), rel=1e-12)
    normal = begg_test(yi, vi, exact=False, force=True)
    z = (concordant - discordant) / math.sqrt(n * (n - 1) * (2 * n + 5) / 18)
    assert not normal.exact and normal.statistic == pytest.approx(z, rel=1e-9)
    assert normal.pvalue == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-12)
