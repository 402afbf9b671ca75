"""metafor parity of the result objects and of the estimator settings (fixtures/parity.json, R/parity.R).

* the test for the overall effect (``zval``, ``ddf``, ``pval``) on every result object against
  metafor's ``zval``/``pval`` (relative 1e-6): PoolResult, BatchPoolResult, PooledEstimate (from
  inverse_variance.json and proportions.json), the GLMM (glmm.json), each subgroup's fit;
* Paule-Mandel's search interval ``[0, max(100, 10 mad(yi)^2)]`` (dat.normand1999, tau2 = 728.25);
* ``control`` (threshold, maxiter, stepadj) of the iterative estimators;
* escalc's continuity correction (``add``, ``to``) in ``pool_proportions``;
* ``str(result)`` against the reviewed texts in tests/stats/expected/.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from metapool.stats.glmm import glmm_proportions
from metapool.stats.lockstep import ConvergenceError
from metapool.stats.medians import median_of_medians
from metapool.stats.moderators import subgroup_analysis
from metapool.stats.pooling import inverse_variance, pool_many
from metapool.stats.proportions import pool_proportions
from metapool.stats.survival import pool_log_scale
from metapool.stats.tau2 import DEFAULT_CONTROL, Control, estimate_tau2, mad, pm_upper_bound

from conftest import load_fixture

REL = 1e-6
CI = {"z": "z", "knha": "hartung_knapp"}
PARITY = load_fixture("parity.json")
EXPECTED = Path(__file__).parent / "expected"


def close(got, want, rel=REL, abs_=1e-12):
    return abs(got - want) <= rel * abs(want) + abs_


# ------------------------------------------------------------------ test for the overall effect

@pytest.mark.parametrize("fixture", ["inverse_variance.json", "proportions.json"])
def test_zval_and_pval_of_pool_result_batch_and_pooled_estimate_match_metafor(fixture):
    # (cases with se = 0, identical proportions under Hartung-Knapp, have no statistic in metafor)
    cases = [c for c in load_fixture(fixture)["cases"] if c["converged"] and c["k"] > 1 and c["stat"] is not None]
    assert len(cases) > 50
    yi = np.concatenate([c["yi"] for c in cases])
    vi = np.concatenate([c["vi"] for c in cases])
    group = np.repeat(np.arange(len(cases)), [c["k"] for c in cases])
    batch = pool_many(yi, vi, group, method=[c["method"] for c in cases], ci=[CI[c["test"]] for c in cases],
                      level=[c["level"] for c in cases])
    for g, c in enumerate(cases):
        where = f"{c['name']} {c['method']} {c['test']} {c['level']}"
        one = inverse_variance(c["yi"], c["vi"], method=c["method"], ci=CI[c["test"]], level=c["level"])
        assert close(one.zval, c["stat"]) and close(one.pval, c["pval"], abs_=1e-300), where
        assert (one.zval, one.pval) == (batch.zval[g], batch.pval[g]), where
        if c["test"] == "knha":
            assert one.ddf == c["k"] - 1 == batch.ddf[g], where
        else:
            assert math.isnan(one.ddf) and math.isnan(batch.ddf[g]), where
    pooled = pool_log_scale([10.9, 9.3, 12.7], [9.1, 7.6, 9.2], [12.9, 11.1, 16.6], ci="hartung_knapp")
    assert (pooled.zval, pooled.ddf, pooled.pval) == (pooled.model.zval, 2.0, pooled.model.pval)
    assert pooled.zval == pooled.model.beta / pooled.model.se


def test_zval_and_pval_of_the_glmm_match_rma_glmm():
    """z = beta / se and its normal p-value, where beta and se agree with glmer as test_glmm.py pins them
    (glmer's se comes from a finite-difference Hessian, noisy at ~1e-4: not a 1e-6 comparison)."""
    cases = [c for c in load_fixture("glmm.json")["cases"] if c["tight"] and c["zval"] is not None]
    assert cases
    for c in cases:
        res = glmm_proportions(c["events"], c["totals"], level=c["level"])
        assert res.converged, c["name"]
        assert res.zval == res.beta / res.se
        assert abs(res.zval - c["zval"]) <= 1e-3 * (1.0 + abs(c["zval"])), c["name"]
        assert abs(res.pval - c["pval"]) <= 1e-3 * (1.0 + c["pval"]), c["name"]
        assert math.isnan(res.ddf)


@pytest.mark.parametrize("case", PARITY["subgroups"], ids=lambda c: f"{c['method']}-{c['test']}")
def test_each_subgroup_fit_has_its_test_for_the_overall_effect(case):
    res = subgroup_analysis(case["yi"], case["vi"], case["groups"], method=case["method"], ci=CI[case["test"]])
    assert set(res.groups) == set(case["fits"])
    for g, want in case["fits"].items():
        fit = res[g]
        assert fit is res.models[g]
        assert fit.k == want["k"]
        for name, got in (("beta", fit.beta), ("se", fit.se), ("zval", fit.zval), ("pval", fit.pval),
                          ("ci_lb", fit.ci_lower), ("ci_ub", fit.ci_upper), ("tau2", fit.tau2)):
            assert close(got, want[name], abs_=1e-300 if name == "pval" else 1e-12), (g, name, got, want[name])
        if case["test"] == "knha":
            assert fit.ddf == want["ddf"]
    with pytest.raises(KeyError, match="no subgroup 'x'"):
        res["x"]


# ------------------------------------------------------------------ Paule-Mandel's search interval

def test_paule_mandel_on_normand1999_mean_differences_is_metafors():
    pm = PARITY["pm"]
    assert pm_upper_bound(pm["yi"]) == pytest.approx(pm["tau2_max"], rel=1e-12)
    res = inverse_variance(pm["yi"], pm["vi"], method="PM")
    for name, got in (("tau2", res.tau2), ("beta", res.beta), ("se", res.se), ("zval", res.zval),
                      ("pval", res.pval), ("ci_lb", res.ci_lower), ("ci_ub", res.ci_upper), ("QE", res.q)):
        assert close(got, pm[name]), (name, got, pm[name])
    assert round(res.tau2, 2) == 728.25


def test_mad_is_rs_mad_and_the_bound_is_at_least_100():
    assert mad([1.0, 2.0, 4.0, 7.0, 100.0]) == pytest.approx(1.4826 * 3.0)
    assert pm_upper_bound([0.1, 0.2, 0.3]) == 100.0


# ------------------------------------------------------------------ control

@pytest.mark.parametrize("case", [c for c in PARITY["control"] if c["method"] != "PM"],
                         ids=lambda c: f"{c['dataset']}-{c['control_name']}-{c['method']}")
def test_control_of_fisher_scoring_is_metafors(case):
    control = Control(**(case["control"] or {}))
    if not case["converged"]:
        with pytest.raises(ConvergenceError, match="did not converge"):
            inverse_variance(case["yi"], case["vi"], method=case["method"], control=control)
        return
    res = inverse_variance(case["yi"], case["vi"], method=case["method"], control=control)
    assert close(res.tau2, case["tau2"], rel=1e-9), (res.tau2, case["tau2"])
    assert close(res.zval, case["zval"]) and close(res.pval, case["pval"], abs_=1e-300)
    # metafor's verbose output has one "Iteration" line more than scoring steps
    assert res.iterations == case["iterations"] - 1


def test_control_changes_the_estimate_and_defaults_are_metafors():
    assert DEFAULT_CONTROL == Control(threshold=1e-5, maxiter=100, stepadj=1.0)
    case = next(c for c in PARITY["control"] if c["dataset"] == "bcg" and c["control_name"] == "default")
    loose = estimate_tau2(case["yi"], case["vi"], "REML", control=Control(threshold=1e-2))
    assert loose.tau2 != estimate_tau2(case["yi"], case["vi"], "REML").tau2
    with pytest.raises(ConvergenceError, match="did not converge in 1 iterations"):
        pool_proportions([3, 58, 87, 68, 155, 21], [9, 75, 143, 133, 259, 26], control=Control(maxiter=1))
    for bad in (dict(threshold=0.0), dict(maxiter=0), dict(maxiter=2.5), dict(stepadj=-1.0)):
        with pytest.raises(ValueError, match="control"):
            Control(**bad)


def test_pm_root_search_obeys_maxiter_and_fails_where_uniroot_would_warn():
    case = next(c for c in PARITY["control"] if c["control_name"] == "pm_maxiter_3")
    with pytest.raises(ConvergenceError, match="PM: root finding did not converge in 3 iterations"):
        inverse_variance(case["yi"], case["vi"], method="PM", control=Control(maxiter=3))


# ------------------------------------------------------------------ continuity correction

TRANSFORM = {"PLO": "logit", "PR": "raw"}


@pytest.mark.parametrize("case", PARITY["continuity"],
                         ids=lambda c: f"{c['name']}-{c['measure']}-{c['to']}-{c['add']}")
def test_continuity_correction_is_escalcs(case):
    kw = dict(transform=TRANSFORM[case["measure"]], add=case["add"], to=case["to"], method="REML")
    dropped = case["k"] < len(case["events"]) or any(v is None or v <= 0 for v in case["vi"])
    if dropped:  # metafor drops the study (or cannot weight it); the engine refuses and names it
        with pytest.raises(ValueError, match=r"study \d+ \(\d+/\d+\)"):
            pool_proportions(case["events"], case["totals"], **kw)
        return
    res = pool_proportions(case["events"], case["totals"], **kw)
    for name, got in (("tau2", res.tau2), ("beta", res.model.beta), ("se", res.se), ("zval", res.zval),
                      ("pval", res.pval)):
        assert close(got, case[name], rel=1e-6, abs_=1e-9), (name, got, case[name])


def test_arcsine_transforms_take_no_continuity_correction():
    with pytest.raises(ValueError, match="takes no continuity correction"):
        pool_proportions([0, 3], [10, 12], transform="freeman_tukey", to="all")
    with pytest.raises(ValueError, match="to must be one of"):
        pool_proportions([0, 3], [10, 12], to="sometimes")


# ------------------------------------------------------------------ printed summaries

def _summaries():
    pm = PARITY["pm"]
    orr = ([3, 58, 87, 68, 155, 21], [9, 75, 143, 133, 259, 26])
    return {
        "pool_result_pm": inverse_variance(pm["yi"], pm["vi"], method="PM"),
        "pooled_estimate_hk": pool_proportions(*orr, ci="hartung_knapp"),
        "pooled_estimate_ee": pool_proportions(*orr, method="EE"),
        "glmm": glmm_proportions(*orr),
        "median_of_medians": median_of_medians([10.9, 9.3, 12.7, 16.6, 7.7, 8.1, 16.6]),
    }


@pytest.mark.parametrize("name", sorted(_summaries()))
def test_printed_summary_is_the_reviewed_text(name):
    res = _summaries()[name]
    assert str(res) == res.summary() == (EXPECTED / f"{name}.txt").read_text()
