"""Sensitivity analyses against metafor 3.8-1 (leave1out, influence, cumul).

Fixture: tests/reference/fixtures/bias_sensitivity.json, written by
tests/reference/R/bias_sensitivity.R. Tolerance: relative 1e-6 (plus 1e-12
absolute for values that are exactly 0 in R).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.stats.lockstep import ConvergenceError
from metapool.stats.pooling import inverse_variance
from metapool.vocabulary import PI_METHODS
from metapool.stats.sensitivity import cumulative, influence, leave_one_out

import scalar_oracle
from conftest import load_fixture

REL, ABS = 1e-6, 1e-12
FIX = load_fixture("bias_sensitivity.json")
DATA = {d["name"]: d for d in FIX["datasets"]}
CI = {"z": "z", "knha": "hartung_knapp"}  # metafor's test -> ci


def arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.ravel(values)], dtype=float)


def assert_arrays(got: dict, case: dict, label: str) -> None:
    for key, value in got.items():
        expected = arr(case[key])
        np.testing.assert_allclose(np.ravel(value), expected, rtol=REL, atol=ABS, equal_nan=True,
                                   err_msg=f"{label} {key}")


def _id(case):
    return f"{case['dataset']}-{case.get('mods') or 'int'}-{case['method']}-{case['test']}"


SUBSET_KEYS = {"estimate": "estimate", "se": "se", "stat": "statistic", "pval": "pvalue", "ci_lb": "ci_lower",
               "ci_ub": "ci_upper", "Q": "q", "Qp": "q_pvalue", "tau2": "tau2", "I2": "i2", "H2": "h2"}


@pytest.mark.parametrize("case", FIX["leave1out"], ids=_id)
def test_leave_one_out_matches_leave1out(case):
    d = DATA[case["dataset"]]
    res = leave_one_out(d["yi"], d["vi"], method=case["method"], ci=CI[case["test"]])
    assert_arrays({k: getattr(res, a) for k, a in SUBSET_KEYS.items()}, case, _id(case))
    np.testing.assert_array_equal(res.study, np.arange(len(d["yi"])))
    assert len(res.frame()) == len(d["yi"])


@pytest.mark.parametrize("case", FIX["cumul"], ids=_id)
def test_cumulative_matches_cumul(case):
    d = DATA[case["dataset"]]
    res = cumulative(d["yi"], d["vi"], d["order"], method=case["method"], ci=CI[case["test"]])
    np.testing.assert_array_equal(res.study + 1, case["perm"])
    assert_arrays({k: getattr(res, a) for k, a in SUBSET_KEYS.items()}, case, _id(case))


@pytest.mark.parametrize("case", FIX["influence"], ids=_id)
def test_influence_matches_influence_rma_uni(case):
    d = DATA[case["dataset"]]
    X = None if case["mods"] is None else np.array(case["X"], dtype=float)
    res = influence(d["yi"], d["vi"], X, method=case["method"], ci=CI[case["test"]])
    dfbs = res.dfbetas if X is not None else res.dfbetas[:, 0]
    assert_arrays(
        {"rstudent": res.rstudent, "dffits": res.dffits, "cook_d": res.cooks_distance, "cov_r": res.cov_ratio,
         "tau2_del": res.tau2_deleted, "QE_del": res.qe_deleted, "hat": res.hat, "weight": res.weight,
         "dfbs": dfbs, "resid": res.residual, "resid_se": res.residual_se},
        case, _id(case),
    )
    assert list(res.influential) == case["is_infl"]
    assert set(res.frame().columns) >= {"rstudent", "cooks_distance", "hat", "dfbetas_intrcpt"}


def test_influence_fixture_flags_some_studies():
    assert any(any(c["is_infl"]) for c in FIX["influence"])


def test_cumulative_decreasing_and_default_order():
    d = DATA["bcg"]
    inc = cumulative(d["yi"], d["vi"], d["order"])
    dec = cumulative(d["yi"], d["vi"], d["order"], decreasing=True)
    years = np.asarray(d["order"])
    assert np.all(np.diff(years[dec.study]) <= 0) and np.all(np.diff(years[inc.study]) >= 0)
    np.testing.assert_array_equal(cumulative(d["yi"], d["vi"]).study, np.arange(len(years)))
    # ties (equal years) keep their input order, as R's order()
    for res in (inc, dec):
        for y in np.unique(years):
            idx = res.study[years[res.study] == y]
            assert list(idx) == sorted(idx)
    with pytest.raises(ValueError, match="order has"):
        cumulative(d["yi"], d["vi"], [1, 2])


def test_sensitivity_rejects_single_study_and_bad_options():
    with pytest.raises(ValueError):
        leave_one_out([0.1], [0.1])
    with pytest.raises(ValueError):
        influence([0.1], [0.1])
    for fn in (leave_one_out, cumulative, influence):
        with pytest.raises(ValueError, match="ci must be one of"):
            fn([0.1, 0.2, 0.3], [0.1, 0.1, 0.2], ci="knha")
    with pytest.raises(ValueError, match="pi must be one of"):
        cumulative([0.1, 0.2, 0.3], [0.1, 0.1, 0.2], pi="t")


effects = st.integers(min_value=3, max_value=12).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 1.0, allow_nan=False), min_size=k, max_size=k),
    )
)


@settings(max_examples=30, deadline=None)
@given(effects, st.sampled_from(["EE", "DL", "REML"]))
def test_cumulative_ends_with_the_full_model_and_starts_with_study_one(data, method):
    yi, vi = map(np.asarray, data)
    cum = cumulative(yi, vi, method=method)
    full = inverse_variance(yi, vi, method=method)
    assert cum.estimate[-1] == pytest.approx(full.beta, rel=1e-10, abs=1e-12)
    assert cum.estimate[0] == pytest.approx(yi[0]) and cum.se[0] == pytest.approx(np.sqrt(vi[0]))
    loo = leave_one_out(yi, vi, method=method)
    sub = inverse_variance(yi[1:], vi[1:], method=method)
    assert loo.estimate[0] == pytest.approx(sub.beta, rel=1e-10, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(effects, st.sampled_from(["EE", "DL", "REML"]))
def test_influence_hat_values_sum_to_p_and_weights_to_100(data, method):
    yi, vi = map(np.asarray, data)
    res = influence(yi, vi, method=method)
    assert res.hat.sum() == pytest.approx(1.0, rel=1e-9)
    assert res.weight.sum() == pytest.approx(100.0, rel=1e-9)
    assert np.all(res.cooks_distance[np.isfinite(res.cooks_distance)] >= -1e-12)
    X = np.column_stack([np.ones(len(yi)), np.sqrt(vi)])
    if len(yi) >= 4 and np.ptp(vi) > 1e-3:
        try:
            res2 = influence(yi, vi, X, method=method)
        except ConvergenceError:  # REML may not converge on a random meta-regression; metafor refuses too
            return
        assert res2.hat.sum() == pytest.approx(2.0, rel=1e-8)


SUBSETS = ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "q", "q_pvalue", "tau2", "i2", "h2")
ORACLE = {"estimate": "beta"}


def refit_oracle(yi, vi, **model):
    """The scalar oracle's model for one subset, or None where it does not converge (metafor's NA)."""
    try:
        return scalar_oracle.pool(yi, vi, **model)
    except scalar_oracle.NotConverged:
        return None


def assert_row(res, j, ref) -> None:
    if ref is None:
        assert not res.converged[j] and np.isnan(res.estimate[j]) and res.message[j]
        return
    assert res.converged[j] and res.k[j] == ref.k
    for name in SUBSETS:
        got, want = getattr(res, name)[j], getattr(ref, ORACLE.get(name, name))
        assert got == want or (np.isnan(got) and np.isnan(want)), name
    t = ref.ci == "hartung_knapp"
    assert (res.df[j] == ref.k - 1) if t else np.isnan(res.df[j])


models = st.fixed_dictionaries({
    "method": st.sampled_from(["EE", "DL", "HE", "SJ", "ML", "REML", "EB", "PM"]),
    "ci": st.sampled_from(["z", "hartung_knapp"]), "hk_adhoc": st.booleans(),
    "level": st.sampled_from([0.9, 0.95]), "pi": st.sampled_from(PI_METHODS),
})


@settings(max_examples=60, deadline=None)
@given(effects, models, st.booleans())
def test_leave_one_out_and_cumulative_refit_each_subset_as_the_scalar_oracle(data, model, decreasing):
    """One pool_many call for all subsets gives, bit for bit, each subset pooled on its own."""
    yi, vi = map(np.asarray, data)
    k = len(yi)
    loo = leave_one_out(yi, vi, **model)
    for i in range(k):
        keep = np.arange(k) != i
        assert_row(loo, i, refit_oracle(yi[keep], vi[keep], **model))
    order = np.arange(k) % 3
    cum = cumulative(yi, vi, order, decreasing=decreasing, **model)
    for j in range(k):
        studies = cum.study[: j + 1]
        assert_row(cum, j, refit_oracle(yi[studies], vi[studies], **model))
