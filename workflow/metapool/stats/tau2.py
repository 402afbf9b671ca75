"""Between-study variance (tau^2) estimators for the random-effects model.

All functions take the effect sizes ``yi`` and sampling variances ``vi`` of one
meta-analysis (intercept-only model) and return ``Tau2Estimate``. They follow
metafor's ``rma.uni`` (Viechtbauer 2010, J Stat Softw 36(3)) step for step,
including starting values, stopping rules and truncation at zero, so that the
numbers agree to floating-point precision:

* iterative estimators (ML, REML, EB) use Fisher scoring from the Hedges
  estimate, stop when the change is below ``threshold`` (1e-5) and raise
  :class:`ConvergenceError` after ``maxiter`` (100) steps instead of returning
  a wrong number;
* PM solves its estimating equation with Brent's method exactly as R's
  ``uniroot`` does (tolerance ``.Machine$double.eps^0.25``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ConvergenceError",
    "Tau2Estimate",
    "TAU2_METHODS",
    "estimate_tau2",
    "tau2_dl",
    "tau2_he",
    "tau2_sj",
    "tau2_ml",
    "tau2_reml",
    "tau2_eb",
    "tau2_pm",
    "q_statistic",
]

THRESHOLD = 1e-5
MAXITER = 100
UNIROOT_TOL = np.finfo(float).eps ** 0.25
TAU2_MAX = 100.0


class ConvergenceError(RuntimeError):
    """An iterative tau^2 estimator did not converge."""


@dataclass(frozen=True)
class Tau2Estimate:
    tau2: float
    method: str
    iterations: int = 0


def _wmean(yi, wi):
    return float(np.sum(wi * yi) / np.sum(wi))


def q_statistic(yi, vi, tau2: float = 0.0) -> float:
    """Generalised Cochran's Q: ``sum w_i (y_i - ybar_w)^2`` with ``w_i = 1/(v_i + tau2)``.

    Cochran WG. The combination of estimates from different experiments.
    Biometrics 1954;10:101-129.
    """
    wi = 1.0 / (vi + tau2)
    return float(np.sum(wi * (yi - _wmean(yi, wi)) ** 2))


def _trace_p(wi) -> float:
    s = wi.sum()
    return float(s - np.sum(wi**2) / s)


def tau2_dl(yi, vi) -> Tau2Estimate:
    """DerSimonian-Laird method-of-moments estimator.

    DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin
    Trials 1986;7:177-188.
    """
    k = len(yi)
    wi = 1.0 / vi
    tau2 = (q_statistic(yi, vi) - (k - 1)) / _trace_p(wi)
    return Tau2Estimate(max(0.0, tau2), "DL")


def _he_raw(yi, vi) -> float:
    k = len(yi)
    rss = float(np.sum((yi - yi.mean()) ** 2))
    tr_pv = float(vi.sum() - vi.sum() / k)
    return (rss - tr_pv) / (k - 1)


def tau2_he(yi, vi) -> Tau2Estimate:
    """Hedges' (unweighted method-of-moments) estimator.

    Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press,
    1985.
    """
    return Tau2Estimate(max(0.0, _he_raw(yi, vi)), "HE")


def tau2_sj(yi, vi) -> Tau2Estimate:
    """Sidik-Jonkman estimator (one step from the sample variance of ``yi``).

    Sidik K, Jonkman JN. Simple heterogeneity variance estimation for
    meta-analysis. J R Stat Soc C 2005;54:367-384.
    """
    k = len(yi)
    tau2_0 = float(np.var(yi))  # var(yi) * (k - 1) / k
    tau2 = tau2_0 * q_statistic(yi, vi, tau2_0) / (k - 1)
    return Tau2Estimate(max(0.0, tau2), "SJ")


def _loglik(yi, vi, tau2: float, reml: bool) -> float:
    k = len(yi)
    wi = 1.0 / (vi + tau2)
    rss = float(np.sum(wi * (yi - _wmean(yi, wi)) ** 2))
    ll = -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2))) - 0.5 * rss
    if reml:
        ll += 0.5 * math.log(2 * math.pi) - 0.5 * math.log(float(wi.sum()))
    return ll


def _fisher_scoring(yi, vi, method: str) -> Tau2Estimate:
    k = len(yi)
    tau2 = max(0.0, _he_raw(yi, vi))
    change = THRESHOLD + 1.0
    iteration = 0
    while change > THRESHOLD:
        iteration += 1
        old = tau2
        wi = 1.0 / (vi + tau2)
        s = wi.sum()
        resid = yi - np.sum(wi * yi) / s
        py = wi * resid  # P y for the intercept-only model
        if method == "ML":
            adj = (np.sum(py**2) - s) / np.sum(wi**2)
        elif method == "REML":
            s2, s3 = np.sum(wi**2), np.sum(wi**3)
            tr_p = s - s2 / s
            tr_pp = s2 - 2.0 * s3 / s + s2**2 / s**2
            adj = (np.sum(py**2) - tr_p) / tr_pp
        else:  # EB
            adj = (np.sum(wi * resid**2) * k / (k - 1) - k) / s
        adj = float(adj)
        if math.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 = tau2 + adj
        change = abs(old - tau2)
        if iteration > MAXITER:
            raise ConvergenceError(
                f"{method}: Fisher scoring did not converge in {MAXITER} iterations "
                f"(last change {change:.3g} > {THRESHOLD:g})"
            )
    if method in ("ML", "REML") and tau2 > THRESHOLD:
        # metafor's ll0check: a fit worse than tau2 = 0 means a local maximum.
        reml = method == "REML"
        if _loglik(yi, vi, 0.0, reml) - _loglik(yi, vi, tau2, reml) > UNIROOT_TOL:
            tau2 = 0.0
    return Tau2Estimate(max(0.0, tau2), method, iteration)


def tau2_ml(yi, vi) -> Tau2Estimate:
    """Maximum-likelihood estimator (Fisher scoring).

    Hardy RJ, Thompson SG. A likelihood approach to meta-analysis with random
    effects. Stat Med 1996;15:619-629.
    """
    return _fisher_scoring(yi, vi, "ML")


def tau2_reml(yi, vi) -> Tau2Estimate:
    """Restricted maximum-likelihood estimator (Fisher scoring).

    Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in
    the random-effects model. J Educ Behav Stat 2005;30:261-293.
    """
    return _fisher_scoring(yi, vi, "REML")


def tau2_eb(yi, vi) -> Tau2Estimate:
    """Empirical Bayes estimator (Morris 1983), by Fisher-type scoring as metafor.

    Morris CN. Parametric empirical Bayes inference: theory and applications.
    J Am Stat Assoc 1983;78:47-55.
    """
    return _fisher_scoring(yi, vi, "EB")


def zeroin(f, lower: float, upper: float, f_lower: float, f_upper: float,
           tol: float = UNIROOT_TOL, maxiter: int = 1000) -> tuple[float, int]:
    """Brent's root finder as implemented in R's ``uniroot`` (``R_zeroin2``).

    Brent RP. Algorithms for Minimization without Derivatives. Prentice-Hall,
    1973, chapter 4. Returns ``(root, iterations)``.
    """
    eps = np.finfo(float).eps
    a, b, fa, fb = lower, upper, f_lower, f_upper
    c, fc = a, fa
    if fa == 0.0:
        return a, 0
    if fb == 0.0:
        return b, 0
    for iteration in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * eps * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, iteration
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2.0) and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise ConvergenceError(f"root finding did not converge in {maxiter} iterations")


def tau2_pm(yi, vi) -> Tau2Estimate:
    """Paule-Mandel estimator: the tau^2 at which generalised Q equals k - 1.

    Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur
    Stand 1982;87:377-385.
    """
    k = len(yi)

    def f(t):
        return q_statistic(yi, vi, t) - (k - 1)

    f0 = f(0.0)
    if f0 < 0:
        return Tau2Estimate(0.0, "PM")
    fmax = f(TAU2_MAX)
    if fmax > 0:
        raise ConvergenceError(f"PM: tau2 exceeds the search limit {TAU2_MAX:g}")
    root, iterations = zeroin(f, 0.0, TAU2_MAX, f0, fmax, maxiter=MAXITER)
    return Tau2Estimate(max(0.0, root), "PM", iterations)


_ESTIMATORS = {
    "DL": tau2_dl,
    "HE": tau2_he,
    "SJ": tau2_sj,
    "ML": tau2_ml,
    "REML": tau2_reml,
    "EB": tau2_eb,
    "PM": tau2_pm,
}
from ..vocabulary import TAU2_METHODS  # "EE" and the keys of _ESTIMATORS


def estimate_tau2(yi, vi, method: str = "REML") -> Tau2Estimate:
    """Dispatch to a tau^2 estimator by metafor's name.

    ``"EE"`` (equal/common effect) returns 0; with a single study every
    estimator returns 0 (heterogeneity is not estimable).
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if method == "EE":
        return Tau2Estimate(0.0, "EE")
    if method not in _ESTIMATORS:
        raise ValueError(f"unknown tau2 method {method!r}; choose one of {', '.join(TAU2_METHODS)}")
    if len(yi) == 1:
        return Tau2Estimate(0.0, method)
    return _ESTIMATORS[method](yi, vi)
