"""The tau^2 estimators and R's uniroot, one meta-analysis and many in lockstep, against the scalar oracle.

Each estimator is one function (metapool.stats.tau2.tau2_dl, ...): the call without groups is
the one-group case of the lockstep implementation and returns a Tau2Estimate (raising
ConvergenceError); with groups it returns one estimate per group. Both must equal the scalar
oracle (tests/stats/scalar_oracle.py) bit for bit; metafor pins them through the pooling
fixtures (test_metafor_reference.py, test_pooling.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

import metapool
from metapool.stats.lockstep import ConvergenceError, Groups, zeroin
from metapool.stats.tau2 import TAU2_ESTIMATORS, Tau2Estimate, Tau2Estimates, estimate_tau2, q_statistic
from metapool.vocabulary import TAU2_METHODS

import scalar_oracle
from test_pooling import NOT_CONVERGING


def oracle(yi, vi, method):
    try:
        return scalar_oracle.tau2(yi, vi, method)
    except scalar_oracle.NotConverged:
        return None


@st.composite
def grouped(draw):
    """Studies of several meta-analyses stored by group in order of size (as Groups holds them)."""
    ks = sorted(draw(st.lists(st.integers(1, 20), min_size=1, max_size=6)))
    n = sum(ks)
    yi = draw(arrays(np.float64, n, elements=st.floats(-4.0, 4.0)))
    vi = draw(arrays(np.float64, n, elements=st.floats(0.005, 5.0)))
    return yi, vi, ks


@pytest.mark.parametrize("method", TAU2_METHODS)
@settings(max_examples=30, deadline=None)
@given(data=grouped())
def test_each_estimator_equals_the_oracle_alone_and_in_lockstep(method, data):
    yi, vi, ks = data
    estimator = TAU2_ESTIMATORS[method]
    many = estimator(yi, vi, Groups(ks))
    assert isinstance(many, Tau2Estimates) and len(many) == len(ks)
    bounds = np.cumsum([0, *ks])
    for g in range(len(ks)):
        y, v = yi[bounds[g]:bounds[g + 1]], vi[bounds[g]:bounds[g + 1]]
        ref = oracle(y, v, method)
        if ref is None:
            assert not many.converged[g] and np.isnan(many.tau2[g]) and many.message[g]
            with pytest.raises(ConvergenceError, match=method):
                estimator(y, v)
            continue
        one = estimator(y, v)
        assert one == Tau2Estimate(ref[0], method, ref[1])
        assert many.converged[g] and many.tau2[g] == ref[0] and many.iterations[g] == ref[1]
        assert many.message[g] == "" and many.method[g] == method


def test_estimate_tau2_dispatches_per_group():
    rng = np.random.default_rng(7)
    ks = [3, 5, 5, 8, 12, 12, 20, 20]
    yi, vi = rng.normal(0, 1, sum(ks)), rng.uniform(0.01, 1.0, sum(ks))
    methods = np.array(TAU2_METHODS)
    res = estimate_tau2(yi, vi, methods, Groups(ks))
    bounds = np.cumsum([0, *ks])
    for g, method in enumerate(methods):
        ref = estimate_tau2(yi[bounds[g]:bounds[g + 1]], vi[bounds[g]:bounds[g + 1]], method)
        assert (res.tau2[g], res.iterations[g], res.method[g]) == (ref.tau2, ref.iterations, method)
    with pytest.raises(ValueError, match="unknown tau2 method 'XX'"):
        estimate_tau2(yi, vi, ["REML"] * 7 + ["XX"], Groups(ks))


@pytest.mark.parametrize("method", sorted(NOT_CONVERGING))
def test_one_group_raises_and_many_groups_mark_the_failure(method):
    y, v = (np.array(x) for x in NOT_CONVERGING[method])
    with pytest.raises(ConvergenceError):
        getattr(metapool, f"tau2_{method.lower()}")(y, v)
    good_y, good_v = np.array([0.1, 0.5, -0.2]), np.array([0.1, 0.2, 0.15])
    res = estimate_tau2(np.r_[good_y, y], np.r_[good_v, v], method, Groups([3, len(y)]))
    assert list(res.converged) == [True, False] and np.isnan(res.tau2[1]) and res.message[1].startswith(method)
    assert res.tau2[0] == estimate_tau2(good_y, good_v, method).tau2


def test_a_single_study_has_tau2_zero():
    for method in TAU2_METHODS:
        assert estimate_tau2([0.3], [0.04], method) == Tau2Estimate(0.0, method, 0)


@settings(max_examples=40, deadline=None)
@given(data=grouped(), tau2=st.floats(0.0, 5.0))
def test_q_statistic_alone_and_per_group(data, tau2):
    yi, vi, ks = data
    many = q_statistic(yi, vi, tau2, Groups(ks))
    bounds = np.cumsum([0, *ks])
    for g in range(len(ks)):
        y, v = yi[bounds[g]:bounds[g + 1]], vi[bounds[g]:bounds[g + 1]]
        assert q_statistic(y, v, tau2) == many[g] == scalar_oracle.q_statistic(y, v, tau2)


@settings(max_examples=40, deadline=None)
@given(roots=st.lists(st.floats(0.05, 50.0), min_size=1, max_size=8), power=st.integers(1, 5),
       maxiter=st.sampled_from([3, 1000]))
def test_zeroin_in_lockstep_is_uniroot_for_each_search(roots, power, maxiter):
    """Each search of one lockstep call takes the steps R's uniroot takes for it alone."""
    roots = np.array(roots)

    def f(ids, x):
        return (roots[ids] - x) ** power * np.abs(roots[ids] - x) + (roots[ids] - x)

    lower, upper = np.zeros(len(roots)), np.full(len(roots), 100.0)
    root, its, ok = zeroin(f, lower, upper, f(np.arange(len(roots)), lower), f(np.arange(len(roots)), upper),
                           maxiter=maxiter)
    for i, r in enumerate(roots):
        def fi(x, r=r):
            return (r - x) ** power * abs(r - x) + (r - x)

        try:
            ref = scalar_oracle.zeroin(fi, 0.0, 100.0, fi(0.0), fi(100.0), maxiter=maxiter)
        except scalar_oracle.NotConverged:
            assert not ok[i] and np.isnan(root[i]) and its[i] == maxiter + 1
            continue
        assert ok[i] and (root[i], its[i]) == ref
