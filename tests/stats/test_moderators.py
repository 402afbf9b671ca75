"""Subgroup analysis and meta-regression against metafor 3.8-1.

Fixture: tests/reference/fixtures/moderators.json, written by
tests/reference/R/moderators.R. Tolerance: relative 1e-6 (plus 1e-12
absolute for values that are exactly 0 in R).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.stats.heterogeneity import i2_from_q
from metapool.stats.moderators import design_matrix, meta_regression, subgroup_analysis, wald_test
from metapool.stats.pooling import inverse_variance
from metapool.stats.regression import estimate_tau2_regression, fit_meta_regression
from metapool.stats.lockstep import ConvergenceError
from metapool.stats.tau2 import estimate_tau2

from conftest import load_fixture

REL, ABS = 1e-6, 1e-12
FIX = load_fixture("moderators.json")
DATA = {d["name"]: d for d in FIX["datasets"]}
CI = {"z": "z", "knha": "hartung_knapp"}  # metafor's test -> ci


def arr(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.ravel(values)], dtype=float)


def check(got: dict, case: dict, label: str) -> None:
    for key, value in got.items():
        np.testing.assert_allclose(np.ravel(np.asarray(value, dtype=float)), arr(case[key]), rtol=REL, atol=ABS,
                                   equal_nan=True, err_msg=f"{label} {key}")


def formula_terms(formula: str) -> list[tuple[str, bool]]:
    """``"~ ablat + factor(alloc)"`` -> ``[("ablat", False), ("alloc", True)]``."""
    out = []
    for term in formula.lstrip("~").split("+"):
        term = term.strip()
        m = re.fullmatch(r"factor\((\w+)\)", term)
        out.append((m.group(1), True) if m else (term, False))
    return out


def _id(case):
    return f"{case['dataset']}-{case.get('formula', case.get('group_var'))}-{case['method']}-{case['test']}"


@pytest.mark.parametrize("case", FIX["meta_regression"], ids=_id)
def test_meta_regression_matches_rma_with_mods(case):
    d = DATA[case["dataset"]]
    terms = formula_terms(case["formula"])
    mods = {name: d["moderators"][name] for name, _ in terms}
    fit = meta_regression(d["yi"], d["vi"], mods, method=case["method"], ci=CI[case["test"]],
                          categorical=[n for n, is_factor in terms if is_factor], levels=d["levels"])
    np.testing.assert_array_equal(fit.X, np.array(case["X"], dtype=float))
    r_names = [re.sub(r"factor\((\w+)\)(.+)", r"\1[\2]", n) for n in case["coef_names"]]
    assert list(fit.names) == r_names
    check(
        {"beta": fit.beta, "se": fit.se, "zval": fit.stat, "pval": fit.pval, "ci_lb": fit.ci_lower,
         "ci_ub": fit.ci_upper, "QM": fit.qm, "QMp": fit.qm_pvalue, "QE": fit.qe, "QEp": fit.qe_pvalue,
         "tau2": fit.tau2, "I2": fit.i2, "H2": fit.h2, "R2": fit.r2},
        case, _id(case),
    )
    assert list(fit.qm_df) == case["QMdf"]
    assert fit.ddf == case["ddf"] and fit.k == case["k"] and fit.p == case["p"]
    assert 0.0 <= fit.r2 <= 100.0
    qm, df, p = wald_test(fit, fit.btt)
    assert qm == pytest.approx(fit.qm, rel=1e-12) and df == fit.qm_df and p == pytest.approx(fit.qm_pvalue)


@pytest.mark.parametrize("case", FIX["subgroups"], ids=_id)
def test_subgroups_match_rma_per_subgroup_and_q_between(case):
    d = DATA[case["dataset"]]
    res = subgroup_analysis(d["yi"], d["vi"], d["moderators"][case["group_var"]], method=case["method"],
                            ci=CI[case["test"]])
    assert list(res.groups) == case["groups"]
    models = [res.models[g] for g in res.groups]
    assert [m.k for m in models] == case["k"]
    check(
        {"beta": [m.beta for m in models], "se": [m.se for m in models], "ci_lb": [m.ci_lower for m in models],
         "ci_ub": [m.ci_upper for m in models], "tau2": [m.tau2 for m in models], "QE": [m.q for m in models],
         "I2": [m.i2 for m in models], "Q_between": res.q_between, "p_between": res.p_between,
         # the I² of the test for subgroup differences (RevMan's; metafor's I² of the common-effect fit)
         "I2_between": i2_from_q(res.q_between, res.df_between),
         "overall_beta": res.overall.beta, "overall_se": res.overall.se, "overall_tau2": res.overall.tau2},
        case, _id(case),
    )
    assert res.df_between == case["df_between"]
    assert list(res.frame()["group"]) == case["groups"]


def test_fixture_exercises_knapp_hartung_and_r2():
    cases = FIX["meta_regression"]
    assert any(c["test"] == "knha" and c["QMdf"][1] is not None for c in cases)
    assert any(c["R2"] and c["R2"] > 0 for c in cases) and any(c["R2"] == 0 for c in cases)


def test_design_matrix_codes_factors_against_the_first_level():
    X, names = design_matrix({"dose": [1.0, 2.0, 3.0, 4.0], "arm": ["b", "a", "c", "a"]})
    assert names == ("intrcpt", "dose", "arm[b]", "arm[c]")
    np.testing.assert_array_equal(X[:, 2:], [[1, 0], [0, 0], [0, 1], [0, 0]])
    X, names = design_matrix(pd.DataFrame({"g": [1, 2, 2, 3]}), categorical=["g"], levels={"g": [2, 1, 3]},
                             intercept=False)
    assert names == ("g[1]", "g[3]")
    np.testing.assert_array_equal(X, [[1, 0], [0, 0], [0, 0], [0, 1]])
    with pytest.raises(ValueError, match="missing"):
        design_matrix({"x": [1.0, np.nan]})
    with pytest.raises(ValueError, match="not among"):
        design_matrix({"g": ["a", "b"]}, levels={"g": ["a"]})


def test_meta_regression_rejects_rank_deficient_and_too_small_designs():
    yi, vi = [0.1, 0.4, 0.3, 0.2, 0.5], [0.1, 0.2, 0.1, 0.3, 0.2]
    with pytest.raises(ValueError, match="full rank"):
        meta_regression(yi, vi, {"x": [1.0, 2, 3, 4, 5], "y": [2.0, 4, 6, 8, 10]})
    with pytest.raises(ValueError, match="cannot be estimated"):
        meta_regression(yi[:3], vi[:3], {"x": [1.0, 2, 3], "g": ["a", "b", "b"]})


def test_intercept_only_regression_is_the_pooled_model():
    d = DATA["bcg"]
    for method in ("REML", "DL", "ML", "EB", "PM", "SJ", "HE", "EE"):
        for ci, hk_adhoc in (("z", False), ("hartung_knapp", False), ("hartung_knapp", True)):
            fit = fit_meta_regression(d["yi"], d["vi"], np.ones((len(d["yi"]), 1)), method=method, ci=ci,
                                      hk_adhoc=hk_adhoc)
            pool = inverse_variance(d["yi"], d["vi"], method=method, ci=ci, hk_adhoc=hk_adhoc)
            assert fit.r2 is None and (fit.ci, fit.hk_adhoc) == (ci, hk_adhoc)
            for a, b in ((fit.beta[0], pool.beta), (fit.se[0], pool.se), (fit.ci_lower[0], pool.ci_lower),
                         (fit.tau2, pool.tau2), (fit.qe, pool.q), (fit.i2, pool.i2), (fit.h2, pool.h2)):
                assert a == pytest.approx(b, rel=1e-9, abs=1e-12), (method, ci, hk_adhoc)


groups_data = st.integers(min_value=6, max_value=16).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 1.0, allow_nan=False), min_size=k, max_size=k),
        st.lists(st.sampled_from(["a", "b", "c"]), min_size=k, max_size=k).filter(lambda g: len(set(g)) >= 2),
    )
)


@settings(max_examples=40, deadline=None)
@given(groups_data)
def test_common_effect_q_partition(data):
    """Common-effect model: Q_total = Q_within + Q_between, and Q_between equals the QM of the
    meta-regression on the grouping factor (Borenstein & Higgins 2013)."""
    yi, vi, g = np.asarray(data[0]), np.asarray(data[1]), list(data[2])
    sub = subgroup_analysis(yi, vi, g, method="EE")
    total = inverse_variance(yi, vi, method="EE").q
    assert sub.q_between + sub.q_within == pytest.approx(total, rel=1e-9, abs=1e-9)
    fit = meta_regression(yi, vi, {"g": g}, method="EE")
    assert fit.qm == pytest.approx(sub.q_between, rel=1e-8, abs=1e-9)
    assert fit.qe == pytest.approx(sub.q_within, rel=1e-8, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(groups_data, st.sampled_from(["DL", "HE", "SJ", "ML", "REML", "EB", "PM"]))
def test_tau2_with_a_column_of_ones_is_the_intercept_only_estimator(data, method):
    yi, vi = np.asarray(data[0]), np.asarray(data[1])
    try:
        expected = estimate_tau2(yi, vi, method).tau2
    except ConvergenceError:
        # both paths must refuse the same non-converging fit (metafor does too)
        with pytest.raises(ConvergenceError):
            estimate_tau2_regression(yi, vi, np.ones((len(yi), 1)), method)
        return
    got = estimate_tau2_regression(yi, vi, np.ones((len(yi), 1)), method).tau2
    assert got == pytest.approx(expected, rel=1e-7, abs=1e-10)
    try:
        fit = meta_regression(yi, vi, {"x": np.arange(len(yi), dtype=float)}, method=method)
    except ConvergenceError:
        return
    assert 0.0 <= fit.r2 <= 100.0 and fit.tau2 >= 0.0
