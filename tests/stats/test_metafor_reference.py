"""The engine against metafor 3.8-1 (fixtures written by tests/reference/make_reference.R).

Tolerance: relative 1e-6 (plus 1e-12 absolute for values that are exactly 0 in R).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from metapool.stats.effects import clopper_pearson, logit_effects
from metapool.stats.pooling import inverse_variance
from metapool.stats.proportions import pool_proportions
from metapool.stats.survival import pool_log_scale

from conftest import load_fixture

REL, ABS = 1e-6, 1e-12
TESTS = {"z": "z", "knha": "hartung_knapp"}


def close(got, expected) -> bool:
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return abs(got - expected) <= REL * abs(expected) + ABS


def assert_close(got: dict, case: dict) -> None:
    bad = {k: (got[k], case[k]) for k in got if not close(got[k], case[k])}
    assert not bad, f"{case['name']} {case['method']} {case['test']} {case['level']}: {bad}"


CP = load_fixture("clopper_pearson.json")["cases"]
PROPORTIONS = load_fixture("proportions.json")["cases"]
INVERSE_VARIANCE = load_fixture("inverse_variance.json")["cases"]


def _id(case):
    return f"{case['name']}-{case['method']}-{case['test']}-{case['level']}"


def test_clopper_pearson_matches_binom_test():
    for case in CP:
        lo, hi = clopper_pearson(case["x"], case["n"], case["level"])
        assert close(lo, case["lower"]) and close(hi, case["upper"]), case


def test_okayama_exact_interval_is_the_published_one():
    assert [round(100 * v, 1) for v in clopper_pearson(3, 9, 0.95)] == [7.5, 70.1]
    assert [round(100 * v, 1) for v in clopper_pearson(3, 9, 0.90)] == [9.8, 65.5]


@pytest.mark.parametrize("case", PROPORTIONS, ids=_id)
def test_pool_proportions_matches_rma_plo(case):
    yi, vi = logit_effects(case["events"], case["totals"])
    np.testing.assert_allclose(yi, case["yi"], rtol=REL)
    np.testing.assert_allclose(vi, case["vi"], rtol=REL)
    res = pool_proportions(case["events"], case["totals"], method=case["method"], ci=TESTS[case["test"]],
                           level=case["level"])
    m = res.model
    assert_close(
        {
            "beta": m.beta, "se": m.se, "ci_lb": m.ci_lower, "ci_ub": m.ci_upper, "pi_lb": m.pi_lower,
            "pi_ub": m.pi_upper, "bt_pred": res.estimate, "bt_ci_lb": res.ci_lower, "bt_ci_ub": res.ci_upper,
            "bt_pi_lb": res.pi_lower, "bt_pi_ub": res.pi_upper, "tau2": res.tau2, "I2": res.i2, "H2": res.h2,
            "QE": res.q, "QEp": res.q_pvalue,
        },
        case,
    )
    assert res.k == case["k"]
    np.testing.assert_allclose(res.weights, case["weights"], rtol=REL)


@pytest.mark.parametrize("case", INVERSE_VARIANCE, ids=_id)
def test_log_scale_pooling_matches_rma_sei(case):
    res = pool_log_scale(case["estimate"], case["lower"], case["upper"], 0.95, method=case["method"],
                         ci=TESTS[case["test"]], level=case["level"])
    np.testing.assert_allclose(res.model.weights, case["weights"], rtol=REL)
    assert_close(
        {
            "beta": res.model.beta, "se": res.se, "ci_lb": res.model.ci_lower, "ci_ub": res.model.ci_upper,
            "pi_lb": res.model.pi_lower, "pi_ub": res.model.pi_upper, "bt_pred": res.estimate,
            "bt_ci_lb": res.ci_lower, "bt_ci_ub": res.ci_upper, "tau2": res.tau2, "I2": res.i2,
            "QE": res.q,
        },
        case,
    )


def test_single_study_under_hartung_knapp_falls_back_to_z_as_metafor():
    res = inverse_variance([0.3], [0.04], method="REML", ci="hartung_knapp")
    assert res.ci == "z" and res.k == 1 and res.tau2 == 0.0
    assert any("single study" in n for n in res.notes)
    assert close(res.ci_upper, 0.3 + 1.959963984540054 * 0.2)
