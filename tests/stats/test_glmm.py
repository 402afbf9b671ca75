"""The binomial-normal GLMM (metapool.stats.glmm) against metafor 3.8-1 / lme4 1.1-31.

Reference: fixtures/glmm.json, written by tests/reference/R/glmm.R:
``rma.glmm(measure = "PLO", xi, ni, method = "ML", nAGQ = 7, level, test = "z")``, i.e.
``glmer(cbind(x, n - x) ~ 1 + (1 | study), family = binomial, nAGQ = 7)``.

Tolerance (GLMM): relative 1e-4; tau2 relative 1e-4 or absolute 1e-6; logit-scale values (beta and its
CI limits) also absolute 1e-5, since beta can be ~0 (glmer's default Nelder-Mead stopping alone moves
beta by ~6e-6 on hannum2020). The back-transformed CI limits are compared after taking logits (and to
relative 2e-4 as proportions): near 0 a logit difference is amplified by 1/(1 - p), and at tau2 ~ 20
glmer's SE is off by 3e-5 (its finite-difference Hessian of a deviance computed to the PIRLS
tolerance). Against the same glmer refitted with tight tolerances the estimates agree to 1e-5 and our
log-likelihood at glmer's estimates never exceeds our maximum. The quadrature itself (glmer's deviance
function at fixed (theta, beta)) agrees to 1e-6 on the log-likelihood.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from metapool.stats.effects import z_crit
from metapool.stats.glmm import BoundaryLikelihood, GlmmResult, _Model, glmm_loglik, glmm_proportions

from conftest import load_fixture

FIXTURE = load_fixture("glmm.json")
CASES = [c for c in FIXTURE["cases"] if c["fitted"]]
FAILING = {c["name"]: c for c in FIXTURE["failing"]}
BOUNDARY = FIXTURE["boundary"]
REL = 1e-4
ABS_LOGIT = 1e-5
ABS_TAU2 = 1e-6


def _id(case):
    return f"{case['name']}-{case['level']}"


def ll_saturated(x, n) -> float:
    x, n = np.asarray(x, float), np.asarray(n, float)
    return float(stats.binom.logpmf(x, n, x / n).sum())


def assert_close(got, expected, rel=REL, abs_=0.0, what=""):
    assert abs(got - expected) <= rel * abs(expected) + abs_, f"{what}: got {got!r}, R {expected!r}"


_FITS: dict = {}


def fit(case) -> GlmmResult:
    key = (tuple(case["events"]), tuple(case["totals"]), case["level"])
    if key not in _FITS:
        _FITS[key] = glmm_proportions(case["events"], case["totals"], case["level"])
    return _FITS[key]


def test_fixture_covers_the_brief():
    names = {c["name"] for c in CASES}
    real = {"pritz1997", "debruin2009", "hannum2020", "pagliaro1992_control",
            "kearon1998_sensitivity_symptomatic", "obrien2003_grp1", "nielweise2007_treatment",
            "hasselblad1998_no_contact", "bcg_vaccinated"}
    assert real <= names
    assert {c["level"] for c in CASES} == {0.95, 0.90}
    assert FIXTURE["generated_by"]["metafor"] == "3.8.1"
    assert any(c["tau2"] == 0 for c in CASES)                           # boundary fits
    assert any(0 in c["events"] for c in CASES)                          # zero-event studies
    assert any(any(x == n for x, n in zip(c["events"], c["totals"])) for c in CASES)  # all-event studies
    assert any(len(c["events"]) == 2 for c in CASES)
    assert any(min(c["totals"]) == 5 and max(c["totals"]) == 5000 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_matches_rma_glmm(case):
    r = fit(case)
    assert r.converged, r.message
    assert r.k == case["k"] == len(case["events"])
    assert_close(r.beta, case["beta"], abs_=ABS_LOGIT, what="beta")
    assert_close(r.se, case["se"], what="se")
    lo, hi = r.ci_beta
    assert_close(lo, case["ci_lb"], abs_=ABS_LOGIT, what="ci_lb")
    assert_close(hi, case["ci_ub"], abs_=ABS_LOGIT, what="ci_ub")
    # back-transformed values: the same tolerance after taking logits (ilogit is exact; near 0 or 1 a
    # relative difference in p is the logit difference amplified by 1/(1 - p))
    assert_close(r.estimate, case["pred"], what="pred")
    assert_close(special.logit(r.ci_lower), special.logit(case["pred_ci_lb"]), abs_=ABS_LOGIT, what="pred ci.lb")
    assert_close(special.logit(r.ci_upper), special.logit(case["pred_ci_ub"]), abs_=ABS_LOGIT, what="pred ci.ub")
    assert r.ci_lower == pytest.approx(case["pred_ci_lb"], rel=2e-4)
    assert r.ci_upper == pytest.approx(case["pred_ci_ub"], rel=2e-4)
    assert_close(r.tau2, case["tau2"], abs_=ABS_TAU2, what="tau2")
    if case["tau2"] == 0:
        assert r.tau2 == 0.0
    # tau ~ 4.5 with n = 10: 7 points are coarse (the log-likelihood moves by 0.03 with 15)
    assert ("coarse" in r.message) == (case["name"] == "edge_extreme_heterogeneity"), r.message
    # logLik(glmer) for nAGQ > 1 is -deviance/2, relative to the saturated model (lme4 issue #161)
    assert_close(r.deviance, -2.0 * case["loglik_glmer"], rel=1e-6, abs_=1e-6, what="deviance")
    assert r.loglik == pytest.approx(ll_saturated(case["events"], case["totals"]) - r.deviance / 2, abs=1e-9)


@pytest.mark.parametrize("case", [c for c in CASES if c["level"] == 0.95], ids=_id)
def test_maximum_is_glmers_maximum_or_better(case):
    """Against glmer with bobyqa(rhoend = 1e-12) in both stages: the same estimates, and our
    log-likelihood at glmer's estimates (default and tight) is never above our maximum."""
    r, tight = fit(case), case["tight"]
    assert tight["error"] is None
    assert_close(r.beta, tight["beta"], rel=1e-5, abs_=1e-6, what="beta")
    assert_close(r.tau2, tight["tau2"], rel=1e-5, abs_=1e-8, what="tau2")
    assert_close(r.se, tight["se"], what="se")  # glmer's finite-difference Hessian is noisy at ~1e-4
    for est in (tight, case):
        at_glmer = glmm_loglik(case["events"], case["totals"], est["beta"], math.sqrt(est["tau2"]))
        assert at_glmer <= r.loglik + 1e-10


@pytest.mark.parametrize("case", [c for c in CASES if c["level"] == 0.95], ids=_id)
def test_quadrature_matches_glmer_deviance_function(case):
    """glmm_loglik at fixed (tau, beta) = saturated log-likelihood - glmer's stage-2 deviance / 2
    (to glmer's PIRLS tolerance, tolPwrss = 1e-7: ~1e-8 here, ~4e-6 at tau ~ 4.5)."""
    sat = ll_saturated(case["events"], case["totals"])
    for p in case["devfun"]:
        got = glmm_loglik(case["events"], case["totals"], p["beta"], p["theta"])
        assert got == pytest.approx(sat - p["deviance"] / 2, rel=1e-6, abs=1e-6), p


def test_metafor_loglik_is_ours_at_the_boundary_only():
    """metafor's fit.stats ll is ll.QE - deviance(glmer)/2 with glmer's *conditional* deviance; it is the
    marginal log-likelihood only when tau2 = 0."""
    for case in CASES:
        r = fit(case)
        if case["tau2"] == 0:
            assert r.loglik == pytest.approx(case["loglik_metafor"], abs=1e-6)
        else:
            assert abs(r.loglik - case["loglik_metafor"]) > 1e-3


@pytest.mark.parametrize("case", BOUNDARY, ids=_id)
def test_identical_proportions_give_tau2_zero_and_the_glm(case):
    """glmer cannot fit identical proportions ("Response is constant"); the ML fit is tau2 = 0, i.e. the
    fixed-effect logistic model, rma.glmm(method = "EE")."""
    assert case["ml_error"]
    r = glmm_proportions(case["events"], case["totals"], case["level"])
    assert r.converged and r.tau2 == 0.0
    assert_close(r.beta, case["beta"], rel=1e-8, what="beta")
    assert_close(r.se, case["se"], rel=1e-6, what="se")
    assert_close(r.estimate, case["pred"], rel=1e-8, what="pred")
    assert_close(r.ci_lower, case["pred_ci_lb"], rel=1e-6, what="ci.lb")
    assert_close(r.ci_upper, case["pred_ci_ub"], rel=1e-6, what="ci.ub")
    assert r.loglik == pytest.approx(case["loglik_glm"], abs=1e-9)


@pytest.mark.parametrize("name", ["edge_all_zero", "edge_all_events"])
def test_diverging_intercept_is_not_converged(name):
    case = FAILING[name]
    assert case["error"]  # rma.glmm stops too
    r = glmm_proportions(case["events"], case["totals"])
    assert not r.converged and r.message
    assert all(math.isnan(v) for v in (r.estimate, r.ci_lower, r.ci_upper, r.beta, r.se, r.tau2, r.loglik))
    assert r.k == len(case["events"])


def test_unbounded_tau_is_not_converged_where_glmer_returns_a_number():
    """0/10, 10/10, 0/10, 10/10: the likelihood grows with tau without bound. glmer stops at an arbitrary
    point (tau2 ~ 3e4, beta ~ -14); we report non-convergence."""
    case = FAILING["edge_zero_and_all"]
    assert case["error"] is None and case["tau2"] > 1e4
    r = glmm_proportions(case["events"], case["totals"])
    assert not r.converged and "tau" in r.message
    assert math.isnan(r.beta) and math.isnan(r.tau2)


def test_single_study_is_refused_as_in_r():
    case = FAILING["edge_k1"]
    assert case["error"]
    with pytest.raises(ValueError, match="at least 2"):
        glmm_proportions(case["events"], case["totals"])


@pytest.mark.parametrize("bad", [
    dict(events=[3, 11], totals=[10, 10]),
    dict(events=[-1, 2], totals=[10, 10]),
    dict(events=[1.5, 2], totals=[10, 10]),
    dict(events=[1, 2], totals=[10, 0]),
    dict(events=[1, 2, 3], totals=[10, 10]),
    dict(events=[1, 2], totals=[10, 10], level=1.0),
    dict(events=[1, 2], totals=[10, 10], n_agq=0),
])
def test_bad_input(bad):
    with pytest.raises(ValueError):
        glmm_proportions(**bad)


def test_result_is_frozen_and_summarised():
    case = CASES[0]
    r = fit(case)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.beta = 0.0  # type: ignore[misc]
    df = r.summary_frame()
    assert len(df) == 1
    row = df.iloc[0]
    assert row["estimate"] == r.estimate and row["tau2"] == r.tau2 and row["k"] == r.k
    assert row["ci_lower_logit"] == pytest.approx(r.beta - z_crit(r.level) * r.se)
    assert bool(row["converged"]) and row["n_agq"] == 7
    assert r.tau == pytest.approx(math.sqrt(r.tau2))


# ---------------------------------------------------------------------------
# The quadrature and the score, independently of R
# ---------------------------------------------------------------------------

def _exact_loglik(x, n, beta, tau):
    total = 0.0
    for xi, ni in zip(x, n):
        f = lambda u: stats.binom.pmf(xi, ni, special.expit(beta + tau * u)) * stats.norm.pdf(u)  # noqa: E731
        val, _ = integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-13, limit=400)
        total += math.log(val)
    return total


@pytest.mark.parametrize("beta,tau", [(-1.2, 0.7), (0.4, 2.0), (2.5, 0.05), (-3.0, 1.3)])
def test_adaptive_quadrature_converges_to_the_integral(beta, tau):
    x, n = [0, 5, 8, 12, 3, 20], [20, 25, 30, 40, 15, 20]
    exact = _exact_loglik(x, n, beta, tau)
    assert glmm_loglik(x, n, beta, tau, n_agq=7) == pytest.approx(exact, abs=1e-3)
    assert glmm_loglik(x, n, beta, tau, n_agq=50) == pytest.approx(exact, abs=1e-9)
    # tau = 0: the binomial log-likelihood exactly, for any number of nodes
    p = special.expit(beta)
    assert glmm_loglik(x, n, beta, 0.0, n_agq=1) == pytest.approx(stats.binom.logpmf(x, n, p).sum(), abs=1e-10)


@pytest.mark.parametrize("beta,tau", [(-1.2, 0.7), (0.4, 2.0), (2.5, 0.05), (0.1, 0.0)])
def test_analytic_score_matches_finite_differences(beta, tau):
    x, n = np.array([0, 5, 8, 12, 3, 20.]), np.array([20, 25, 30, 40, 15, 20.])
    m = _Model(x, n, 7)
    ll, g = m.loglik_grad(beta, tau)
    assert ll == pytest.approx(m.loglik(beta, tau), abs=1e-10)
    d = 1e-6
    gb = (m.loglik(beta + d, tau) - m.loglik(beta - d, tau)) / (2 * d)
    gt = (m.loglik(beta, tau + d) - m.loglik(beta, tau - d)) / (2 * d)
    np.testing.assert_allclose(g, [gb, gt], rtol=1e-6, atol=1e-6)


# ---------------------------------------------------------------------------
# Invariants
# ---------------------------------------------------------------------------

@st.composite
def studies(draw):
    k = draw(st.integers(2, 7))
    n = draw(st.lists(st.integers(3, 300), min_size=k, max_size=k))
    x = [draw(st.integers(0, ni)) for ni in n]
    if all(xi == 0 for xi in x):
        x[0] = 1
    if all(xi == ni for xi, ni in zip(x, n)):
        x[0] = n[0] - 1
    return np.array(x), np.array(n)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(studies())
def test_events_and_non_events_are_symmetric(data):
    x, n = data
    a, b = glmm_proportions(x, n), glmm_proportions(n - x, n)
    assert a.converged == b.converged
    if a.converged:
        assert b.beta == pytest.approx(-a.beta, rel=1e-7, abs=1e-7)
        assert b.se == pytest.approx(a.se, rel=1e-5)
        assert b.tau2 == pytest.approx(a.tau2, rel=1e-7, abs=1e-9)
        assert b.loglik == pytest.approx(a.loglik, abs=1e-9)
        assert b.estimate == pytest.approx(1 - a.estimate, abs=1e-7)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(studies(), st.randoms(use_true_random=False))
def test_order_of_studies_does_not_matter(data, rnd):
    x, n = data
    idx = list(range(len(x)))
    rnd.shuffle(idx)
    a, b = glmm_proportions(x, n), glmm_proportions(x[idx], n[idx])
    assert a.converged == b.converged
    if a.converged:
        assert b.beta == pytest.approx(a.beta, abs=1e-7)
        assert b.tau2 == pytest.approx(a.tau2, rel=1e-6, abs=1e-9)
        assert b.loglik == pytest.approx(a.loglik, abs=1e-9)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(studies())
def test_fit_is_a_maximum_and_intervals_nest(data):
    x, n = data
    r = glmm_proportions(x, n, 0.95)
    if not r.converged:
        assert math.isnan(r.beta) and r.message
        return
    assert r.tau2 >= 0 and r.se > 0
    assert r.ci_lower < r.estimate < r.ci_upper
    r90 = glmm_proportions(x, n, 0.90)
    assert r.ci_lower < r90.ci_lower < r90.estimate < r90.ci_upper < r.ci_upper
    tau = math.sqrt(r.tau2)
    for db, dt in [(1e-3, 0), (-1e-3, 0), (0, 1e-3), (0, -1e-3), (1e-3, 1e-3), (-1e-3, 1e-3)]:
        t = tau + dt
        if t < 0:
            continue
        assert glmm_loglik(x, n, r.beta + db, t) <= r.loglik + 1e-9


# ---------------------------------------------------------------------------
# exact likelihood of a 0/n or n/n study (BoundaryLikelihood, for the Bayesian posterior's far tau tail)
# ---------------------------------------------------------------------------

def _boundary_loglik_quad(mu, tau, n):
    """log ∫ (1 + e^(mu + tau z))^-n phi(z) dz by scipy's quad on the z scale: the log integrand is concave
    with curvature >= 1, so the mode +- 40 holds all of it; split at the step and around the mode, and scaled
    by the integrand's largest value."""
    from scipy import optimize

    def h(z):
        return -n * np.logaddexp(0.0, mu + tau * z) - 0.5 * z * z

    zm = optimize.brentq(lambda z: -n * tau * special.expit(mu + tau * z) - z, -n * tau - 1.0, 1.0,
                         xtol=1e-15, rtol=1e-15, maxiter=2000)
    zc, ln = -mu / tau, math.log(n)
    pts = [zm + k for k in (-40, -20, -10, -5, -2, -1, 0, 1, 2, 5, 10, 20, 40)]
    pts += [zc] + [zc + s * (ln + k) / tau for s in (-1, 1) for k in (1, 3, 6, 12, 25, 50)]
    pts = sorted(p for p in set(pts) if zm - 40 <= p <= zm + 40)
    mx = h(zm)
    tot = sum(integrate.quad(lambda z: math.exp(h(z) - mx), a, b, epsabs=0, epsrel=1e-13, limit=500)[0]
              for a, b in zip(pts[:-1], pts[1:]))
    return mx + math.log(tot) - 0.5 * math.log(2 * math.pi)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")
@pytest.mark.parametrize("n", [1, 10, 100, 1000])
def test_boundary_likelihood_against_quad(n):
    """The 0/n likelihood to 1e-10 in log L (relative 1e-15 where |log L| > 1e5, the rounding of log L itself)
    for tau from 0.01 to 1e99 and mu out to |mu| ~ tau and ~ tau^2 (a flat-mu posterior's far tail); the n/n
    study is the 0/n study at -mu."""
    lik = BoundaryLikelihood(n)
    for tau in (0.01, 0.5, 1.0, 1.0001, 1.5, 3.0, 10.0, 30.0, 1e3, 1e4, 1e8, 1e30, 1e99):
        mus = {zm * tau for zm in (-1e3, -50, -8, -3, -1, -0.1, 0, 0.1, 1, 3, 8, 50)} | {-8.0, -2.0, 0.5, 3.0, 8.0}
        if tau <= 1e4:
            mus |= {zm * tau * tau / 10 for zm in (-50, -3, 3, 50)}
        mus = np.array(sorted(mus))
        ours = lik.loglik(mus, tau)
        flipped = lik.loglik(-mus, tau, flip=True)
        for mu, a, b in zip(mus, ours, flipped):
            ref = _boundary_loglik_quad(mu, tau, n)
            tol = max(1e-10, 1e-15 * abs(ref))
            assert a == pytest.approx(ref, abs=tol), (n, tau, mu)
            assert b == a


def test_boundary_likelihood_is_glmm_likelihood_where_tau_small():
    """Where tau <= 1 it is the 41-node AGQ of glmm_loglik, for 0/n and n/n, and a probability everywhere."""
    lik = BoundaryLikelihood(12)
    for mu in (-3.0, 0.0, 2.0):
        for tau in (0.05, 0.7, 1.0):
            assert lik.loglik(mu, tau)[()] == pytest.approx(glmm_loglik([0], [12], mu, tau, n_agq=41), abs=1e-13)
            assert lik.loglik(mu, tau, flip=True)[()] == pytest.approx(glmm_loglik([12], [12], mu, tau, n_agq=41),
                                                                       abs=1e-13)
    ll = lik.loglik(np.linspace(-50, 50, 101), np.geomspace(1e-3, 1e50, 101))
    assert np.all(np.isfinite(ll)) and np.all(ll <= 0.0)
