"""The inverse-variance core (pool_many and its one-group call inverse_variance) against a scalar oracle and metafor.

The oracle (tests/stats/scalar_oracle.py: one meta-analysis at a time in plain Python) is the
reference: every group of a pool_many call must give its numbers (rtol 1e-10 for closed-form
estimators, 1e-9 for iterative ones; in fact they are identical, which
test_identical_to_the_scalar_oracle pins), fail where it fails (-> converged False and NaN;
inverse_variance raises ConvergenceError) and match metafor 3.8-1 on the proportions fixture.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from metapool.stats.effects import ilogit, logit_effects
from metapool.stats.lockstep import ConvergenceError
from metapool.stats.pooling import BatchPoolResult, hartung_knapp_factor, inverse_variance, pool_many
from metapool.vocabulary import CI_METHODS, PI_METHODS, TAU2_METHODS

import scalar_oracle
from conftest import load_fixture

CLOSED_FORM = ("EE", "DL", "HE", "SJ")
FIELDS = ("beta", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "q", "df", "q_pvalue",
          "i2", "h2", "k")
TAU2_DEPENDENT = ("beta", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2")
LEVELS = (0.8, 0.9, 0.95, 0.99)


def _scalar(yi, vi, group, g, method, ci, level, pi, hk_adhoc):
    m = group == g
    try:
        return scalar_oracle.pool(yi[m], vi[m], method=method[g], ci=ci[g], level=level[g], pi=pi[g],
                                  hk_adhoc=bool(hk_adhoc[g]))
    except scalar_oracle.NotConverged:
        return None


def assert_matches_scalar(res: BatchPoolResult, yi, vi, group, method, ci, level, pi, hk_adhoc, exact=False):
    n_groups = len(res)
    assert n_groups == group.max() + 1
    for g in range(n_groups):
        ref = _scalar(yi, vi, group, g, method, ci, level, pi, hk_adhoc)
        where = f"group {g}: {method[g]} {ci[g]} level={level[g]} pi={pi[g]} k={res.k[g]}"
        if ref is None:  # the oracle did not converge
            assert not res.converged[g], where
            for name in TAU2_DEPENDENT:
                assert np.isnan(getattr(res, name)[g]), f"{where}: {name} should be NaN"
            assert np.all(np.isnan(res.weights[group == g])), where
            continue
        assert res.converged[g], where
        assert res.iterations[g] == ref.iterations, where
        assert res.ci[g] == ref.ci, where
        rtol = 1e-10 if method[g] in CLOSED_FORM else 1e-9
        for name in FIELDS:
            got, want = getattr(res, name)[g], getattr(ref, name)
            if exact:
                assert got == want or (np.isnan(got) and np.isnan(want)), f"{where}: {name} {got!r} != {want!r}"
            else:
                np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=f"{where}: {name}")
        if exact:
            assert np.array_equal(res.weights[group == g], ref.weights), where
        else:
            np.testing.assert_allclose(res.weights[group == g], ref.weights, rtol=rtol, err_msg=where)


@st.composite
def batches(draw, methods=TAU2_METHODS, cis=CI_METHODS):
    """Several meta-analyses (k from 1 to 30) with studies in shuffled order and per-group options."""
    n_groups = draw(st.integers(1, 6))
    ks = draw(st.lists(st.integers(1, 30), min_size=n_groups, max_size=n_groups))
    n = sum(ks)
    yi = draw(arrays(np.float64, n, elements=st.floats(-4.0, 4.0)))
    vi = draw(arrays(np.float64, n, elements=st.floats(0.005, 5.0)))
    order = np.array(draw(st.permutations(range(n))))
    group = np.repeat(np.arange(n_groups), ks)[order]

    def per_group(strategy):
        return np.array(draw(st.lists(strategy, min_size=n_groups, max_size=n_groups)))

    return dict(yi=yi, vi=vi, group=group, method=per_group(st.sampled_from(methods)),
                ci=per_group(st.sampled_from(cis)), level=per_group(st.sampled_from(LEVELS)),
                pi=per_group(st.sampled_from(PI_METHODS)), hk_adhoc=per_group(st.booleans()))


@pytest.mark.parametrize("ci", CI_METHODS)
@pytest.mark.parametrize("method", TAU2_METHODS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_every_method_and_ci_equals_the_scalar_oracle(method, ci, data):
    b = data.draw(batches(methods=(method,), cis=(ci,)))
    res = pool_many(b["yi"], b["vi"], b["group"], method=method, ci=ci, level=b["level"], pi=b["pi"],
                    hk_adhoc=b["hk_adhoc"])
    assert_matches_scalar(res, **b)


@settings(max_examples=50, deadline=None)
@given(b=batches())
def test_a_multiverse_mixing_estimators_and_intervals_equals_the_scalar_oracle(b):
    res = pool_many(**b)
    assert_matches_scalar(res, **b)


def test_identical_to_the_scalar_oracle():
    """Not merely close: the same floating-point operations in the same order (segment sums as
    np.sum's pairwise summation, libm pow/log where the oracle calls them on numpy scalars)."""
    rng = np.random.default_rng(20240611)
    n_groups = 400
    ks = rng.integers(1, 31, n_groups)
    group = rng.permutation(np.repeat(np.arange(n_groups), ks))
    n = len(group)
    yi = rng.normal(0.0, 1.0, n) * rng.choice([0.1, 1.0, 3.0], n)
    vi = rng.uniform(0.01, 2.0, n) * rng.choice([0.01, 1.0, 10.0], n)
    opts = dict(method=rng.choice(TAU2_METHODS, n_groups), ci=rng.choice(CI_METHODS, n_groups),
                level=rng.choice(LEVELS, n_groups), pi=rng.choice(PI_METHODS, n_groups),
                hk_adhoc=rng.random(n_groups) < 0.3)
    res = pool_many(yi, vi, group, **opts)
    assert (~res.converged).any() and res.converged.sum() > 350  # both paths are exercised
    assert_matches_scalar(res, yi, vi, group, exact=True, **opts)


# --------------------------------------------------------------------------- metafor

PROPORTIONS = load_fixture("proportions.json")["cases"]
TESTS = {"z": "z", "knha": "hartung_knapp"}
REL, ABS = 1e-6, 1e-12


def test_all_proportion_fixtures_in_one_call_match_metafor():
    """The 544 rma(measure = "PLO") fits of the fixture (17 data sets x 8 methods x 2 tests x 2 levels)
    as one pool_many call with per-group method, ci and level."""
    yi, vi, group = [], [], []
    for g, case in enumerate(PROPORTIONS):
        y, v = logit_effects(case["events"], case["totals"])
        np.testing.assert_allclose(y, case["yi"], rtol=REL)
        yi.append(y), vi.append(v), group.append(np.full(len(y), g))
    yi, vi, group = map(np.concatenate, (yi, vi, group))
    res = pool_many(yi, vi, group, method=[c["method"] for c in PROPORTIONS],
                    ci=[TESTS[c["test"]] for c in PROPORTIONS], level=[c["level"] for c in PROPORTIONS])
    assert len(res) == len(PROPORTIONS) and res.converged.all()
    names = {"beta": "beta", "se": "se", "ci_lower": "ci_lb", "ci_upper": "ci_ub", "pi_lower": "pi_lb",
             "pi_upper": "pi_ub", "tau2": "tau2", "i2": "I2", "h2": "H2", "q": "QE", "q_pvalue": "QEp"}
    for ours, theirs in names.items():
        expected = np.array([np.nan if c[theirs] is None else c[theirs] for c in PROPORTIONS], dtype=float)
        got = getattr(res, ours)
        ok = (np.abs(got - expected) <= REL * np.abs(expected) + ABS) | (np.isnan(got) & np.isnan(expected))
        assert ok.all(), {PROPORTIONS[i]["name"] + "/" + PROPORTIONS[i]["method"]: (got[i], expected[i])
                          for i in np.flatnonzero(~ok)}
    np.testing.assert_array_equal(res.k, [c["k"] for c in PROPORTIONS])
    np.testing.assert_array_equal(res.ci, [TESTS[c["test_used"]] for c in PROPORTIONS])
    np.testing.assert_allclose(res.weights, np.concatenate([c["weights"] for c in PROPORTIONS]), rtol=REL)
    bt = res.summary_frame(backtransform=ilogit)
    np.testing.assert_allclose(bt["estimate"], [c["bt_pred"] for c in PROPORTIONS], rtol=REL)
    np.testing.assert_allclose(bt["estimate_ci_lower"], [c["bt_ci_lb"] for c in PROPORTIONS], rtol=REL)


# --------------------------------------------------------------------------- failures, edge cases

# Each makes inverse_variance raise ConvergenceError.
NOT_CONVERGING = {
    "ML": ([1.04, -0.58, -0.17, -1.29, 1.68, 0.44, 1.39], [0.558, 1.19, 0.667, 0.525, 0.527, 0.042, 1.349]),
    "REML": ([-0.02, -0.15, -0.64, -1.58, 0.52, -1.44, -1.24], [1.139, 1.83, 1.564, 1.716, 0.049, 0.041, 1.273]),
    "EB": ([0.68, -0.71, 0.53, 0.13, 1.09, -0.02, 1.02], [0.705, 0.969, 1.793, 1.533, 0.02, 0.122, 1.988]),
    # tau2 beyond the search limit max(100, 10 mad(yi)^2) = 100 (metafor: "Value of 'tau2.max' too low")
    "PM": ([0.0, 0.1, -0.1, 0.05, 500.0], [0.01, 0.02, 0.01, 0.03, 0.01]),
}


@pytest.mark.parametrize("method", sorted(NOT_CONVERGING))
def test_non_convergence_is_nan_for_that_group_only(method):
    bad_y, bad_v = (np.array(x) for x in NOT_CONVERGING[method])
    with pytest.raises(ConvergenceError):
        inverse_variance(bad_y, bad_v, method=method)
    good_y, good_v = np.array([0.1, 0.5, -0.2, 0.9, 0.3]), np.array([0.1, 0.2, 0.15, 0.3, 0.05])
    yi = np.concatenate([good_y, bad_y, good_y[:3]])
    vi = np.concatenate([good_v, bad_v, good_v[:3]])
    group = np.repeat([0, 1, 2], [5, len(bad_y), 3])
    res = pool_many(yi, vi, group, method=method, ci="hartung_knapp")
    np.testing.assert_array_equal(res.converged, [True, False, True])
    for name in TAU2_DEPENDENT:
        assert np.isnan(getattr(res, name)[1]) and np.all(np.isfinite(getattr(res, name)[[0, 2]])), name
    assert np.isfinite(res.q[1]) and res.k[1] == len(bad_y)  # Q does not depend on tau2
    for g, (y, v) in ((0, (good_y, good_v)), (2, (good_y[:3], good_v[:3]))):
        ref = inverse_variance(y, v, method=method, ci="hartung_knapp")
        assert res.beta[g] == ref.beta and res.tau2[g] == ref.tau2 and res.ci_upper[g] == ref.ci_upper


def test_single_study_groups_have_tau2_zero_and_the_z_interval():
    yi, vi, group = np.array([0.3, 0.1, 0.5, 0.2]), np.array([0.04, 0.1, 0.2, 0.3]), np.array([0, 1, 1, 1])
    res = pool_many(yi, vi, group, method="REML", ci="hartung_knapp")
    assert res.tau2[0] == 0.0 and res.iterations[0] == 0 and res.ci[0] == "z" and res.ci[1] == "hartung_knapp"
    assert res.ci_upper[0] == pytest.approx(0.3 + 1.959963984540054 * 0.2, rel=1e-12)
    assert (res.q[0], res.q_pvalue[0], res.i2[0], res.h2[0], res.df[0]) == (0.0, 1.0, 0.0, 1.0, 0)
    assert res.weights[0] == 100.0


@settings(max_examples=25, deadline=None)
@given(b=batches(), seed=st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_the_order_of_groups(b, seed):
    """Relabelling the groups and interleaving them differently (each group's own study order kept)
    permutes the results and changes nothing else."""
    n_groups = b["group"].max() + 1
    rng = np.random.default_rng(seed)
    relabel = rng.permutation(n_groups)
    res = pool_many(**b)
    # new order of studies: sort by a random key per group, stable, so within-group order is kept
    order = np.argsort(rng.random(n_groups)[b["group"]], kind="stable")
    per_group = {k: b[k][np.argsort(relabel)] for k in ("method", "ci", "level", "pi", "hk_adhoc")}
    res2 = pool_many(b["yi"][order], b["vi"][order], relabel[b["group"][order]], **per_group)
    for name in FIELDS + ("iterations", "converged"):
        np.testing.assert_array_equal(getattr(res2, name)[relabel], getattr(res, name), err_msg=name)
    np.testing.assert_array_equal(res2.weights, res.weights[order])
    ok = res.converged[b["group"]]
    totals = np.bincount(b["group"][ok], weights=res.weights[ok], minlength=n_groups)[res.converged]
    np.testing.assert_allclose(totals, 100.0, rtol=1e-12)


def test_result_is_frozen_and_has_a_summary_frame():
    yi, vi = logit_effects(np.array([3, 5, 8, 2, 9, 4]), np.array([10, 12, 20, 9, 15, 11]))
    res = pool_many(yi, vi, np.array([0, 0, 0, 1, 1, 1]), method=["DL", "PM"])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.beta = res.se
    with pytest.raises(ValueError):
        res.beta[0] = 0.0
    frame = res.summary_frame()
    assert list(frame.index) == [0, 1] and frame.index.name == "group"
    assert list(frame["method"]) == ["DL", "PM"] and list(frame["k"]) == [3, 3]
    np.testing.assert_array_equal(frame["tau2"], res.tau2)
    assert "estimate" not in frame and "estimate" in res.summary_frame(backtransform=ilogit)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(group=np.array([0, 0, 2])), "no gaps"),
        (dict(group=np.array([0.0, 0.0, 1.0])), "integer"),
        (dict(group=np.array([0, -1, 1])), ">= 0"),
        (dict(group=np.array([0, 1])), "equal length"),
        (dict(vi=np.array([0.1, 0.0, 0.2])), "positive"),
        (dict(yi=np.array([0.1, np.inf, 0.2])), "finite"),
        (dict(method="XX"), "method"),
        (dict(method=["DL", "REML", "PM"]), "one entry per group"),
        (dict(ci="knha"), "ci"),
        (dict(pi="t"), "pi"),
        (dict(level=1.0), "level"),
    ],
)
def test_invalid_input_is_rejected(kwargs, message):
    args = dict(yi=np.array([0.1, 0.4, 0.2]), vi=np.array([0.1, 0.2, 0.3]), group=np.array([0, 0, 1]))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        pool_many(**args)


# --------------------------------------------------------------------------- the one-group call


@settings(max_examples=40, deadline=None)
@given(b=batches())
def test_inverse_variance_is_the_one_group_pool_many(b):
    """inverse_variance gives the PoolResult of its studies' group in any pool_many call."""
    res = pool_many(**b)
    for g in range(len(res)):
        m = b["group"] == g
        opts = dict(method=b["method"][g], ci=b["ci"][g], level=b["level"][g], pi=b["pi"][g],
                    hk_adhoc=bool(b["hk_adhoc"][g]))
        if not res.converged[g]:
            with pytest.raises(ConvergenceError, match=re.escape(res.message[g])):
                inverse_variance(b["yi"][m], b["vi"][m], **opts)
            continue
        one = inverse_variance(b["yi"][m], b["vi"][m], **opts)
        for name in FIELDS + ("iterations",):
            got, want = getattr(one, name), getattr(res, name)[g]
            assert got == want or (np.isnan(got) and np.isnan(want)), name
        assert one.ci == res.ci[g] and one.method == res.method[g] and one.level == res.level[g]
        assert np.array_equal(one.weights, res.weights[m])
        assert bool(one.notes) == (one.k == 1)


@pytest.mark.parametrize("method, message", [
    ("ML", r"^ML: Fisher scoring did not converge in 100 iterations \(last change .* > 1e-05\)$"),
    ("REML", r"^REML: Fisher scoring did not converge in 100 iterations \(last change .* > 1e-05\)$"),
    ("EB", r"^EB: Fisher scoring did not converge in 100 iterations \(last change .* > 1e-05\)$"),
    ("PM", r"^PM: tau2 exceeds the search limit 100$"),
])
def test_non_convergence_says_why(method, message):
    y, v = (np.array(x) for x in NOT_CONVERGING[method])
    with pytest.raises(ConvergenceError, match=message):
        inverse_variance(y, v, method=method)
    res = pool_many(np.r_[y, 0.1, 0.2], np.r_[v, 0.1, 0.1], np.repeat([0, 1], [len(y), 2]), method=method)
    assert re.match(message, res.message[0]) and res.message[1] == ""


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(yi=[], vi=[]), "^cannot pool zero studies$"),
        (dict(vi=[0.1, 0.2]), "^yi and vi must have the same length$"),
        (dict(vi=[0.1, -0.2, 0.3]), "^every study needs a finite effect size and a positive, finite variance$"),
        (dict(ci="knha"), r"^ci must be one of \('z', 'hartung_knapp'\), got 'knha'$"),
        (dict(pi="t"), r"^pi must be one of \('default', 'normal', 't_k1', 't_k2'\), got 't'$"),
        (dict(level=1.0), r"^level must be in \(0, 1\), got 1.0$"),
        (dict(method="XX"), "^unknown tau2 method 'XX'; choose one of EE, DL, HE, SJ, ML, REML, EB, PM$"),
    ],
)
def test_inverse_variance_rejects_invalid_input(kwargs, message):
    args = dict(yi=[0.1, 0.4, 0.2], vi=[0.1, 0.2, 0.3])
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        inverse_variance(**args)


def test_hartung_knapp_factor_is_the_weighted_residual_variance():
    yi, vi = np.array([0.1, 0.5, -0.2, 0.9]), np.array([0.1, 0.2, 0.15, 0.3])
    res = inverse_variance(yi, vi, method="DL", ci="hartung_knapp")
    s2w = hartung_knapp_factor(scalar_oracle.q_statistic(yi, vi, res.tau2), 3)
    assert res.se == np.sqrt(s2w / np.sum(1.0 / (vi + res.tau2)))
    assert hartung_knapp_factor(0.0, 3) == 0.0 and hartung_knapp_factor(1e-20, 3, adhoc=True) == 1.0
    assert hartung_knapp_factor(1.5, 3) == 0.5 and hartung_knapp_factor(1.5, 3, adhoc=True) == 1.0
    np.testing.assert_array_equal(hartung_knapp_factor(np.array([1.5, 6.0]), np.array([3, 2]),
                                                       adhoc=np.array([True, False])), [1.0, 3.0])
