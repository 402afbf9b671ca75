"""A plain scalar inverse-variance meta-analysis: the readable oracle of the lockstep engine.

One meta-analysis at a time, in Python loops and numpy sums over its own studies, metafor's
``rma.uni`` step for step (Viechtbauer 2010): the tau^2 estimators (DL, HE, SJ, ML, REML, EB
by Fisher scoring from the Hedges estimate, PM by R's ``uniroot``), the Hartung-Knapp interval,
the prediction interval and I^2/H^2. The engine (metapool.stats.pooling.pool_many and its
one-group call inverse_variance) must give these numbers bit for bit for every group
(tests/stats/test_batch.py); metafor pins both (the fixtures).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from metapool.stats.pooling import PoolResult  # the container only

THRESHOLD = 1e-5
MAXITER = 100
UNIROOT_TOL = np.finfo(float).eps ** 0.25
TAU2_MAX = 100.0


class NotConverged(RuntimeError):
    """The oracle's estimator did not converge."""


def q_statistic(yi, vi, tau2=0.0):
    wi = 1.0 / (vi + tau2)
    mean = float(np.sum(wi * yi) / np.sum(wi))
    return float(np.sum(wi * (yi - mean) ** 2))


def _he_raw(yi, vi):
    k = len(yi)
    rss = float(np.sum((yi - yi.mean()) ** 2))
    return (rss - float(vi.sum() - vi.sum() / k)) / (k - 1)


def _loglik(yi, vi, tau2, reml):
    k = len(yi)
    wi = 1.0 / (vi + tau2)
    rss = q_statistic(yi, vi, tau2)
    ll = -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + tau2))) - 0.5 * rss
    if reml:
        ll += 0.5 * math.log(2 * math.pi) - 0.5 * math.log(float(wi.sum()))
    return ll


def _fisher_scoring(yi, vi, method):
    k = len(yi)
    tau2 = max(0.0, _he_raw(yi, vi))
    change, iteration = THRESHOLD + 1.0, 0
    while change > THRESHOLD:
        iteration += 1
        old = tau2
        wi = 1.0 / (vi + tau2)
        s = wi.sum()
        resid = yi - np.sum(wi * yi) / s
        py = wi * resid
        if method == "ML":
            adj = (np.sum(py**2) - s) / np.sum(wi**2)
        elif method == "REML":
            s2, s3 = np.sum(wi**2), np.sum(wi**3)
            adj = (np.sum(py**2) - (s - s2 / s)) / (s2 - 2.0 * s3 / s + s2**2 / s**2)
        else:
            adj = (np.sum(wi * resid**2) * k / (k - 1) - k) / s
        adj = float(adj)
        if math.isnan(adj):
            adj = 0.0
        while tau2 + adj < 0.0:
            adj /= 2.0
        tau2 += adj
        change = abs(old - tau2)
        if iteration > MAXITER:
            raise NotConverged(method)
    if method in ("ML", "REML") and tau2 > THRESHOLD:
        if _loglik(yi, vi, 0.0, method == "REML") - _loglik(yi, vi, tau2, method == "REML") > UNIROOT_TOL:
            tau2 = 0.0
    return max(0.0, tau2), iteration


def zeroin(f, a, b, fa, fb, tol=UNIROOT_TOL, maxiter=1000):
    """R's ``R_zeroin2`` (Brent 1973) on numbers; returns ``(root, iterations)``."""
    eps = np.finfo(float).eps
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
                p, q = cb * t1, 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
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
    raise NotConverged("uniroot")


def tau2(yi, vi, method):
    """``(tau2, iterations)``; raises :class:`NotConverged`."""
    k = len(yi)
    if method == "EE" or k == 1:
        return 0.0, 0
    if method == "DL":
        wi = 1.0 / vi
        return max(0.0, (q_statistic(yi, vi) - (k - 1)) / float(wi.sum() - np.sum(wi**2) / wi.sum())), 0
    if method == "HE":
        return max(0.0, _he_raw(yi, vi)), 0
    if method == "SJ":
        t0 = float(np.var(yi))
        return max(0.0, t0 * q_statistic(yi, vi, t0) / (k - 1)), 0
    if method == "PM":
        def f(t):
            return q_statistic(yi, vi, t) - (k - 1)

        f0 = f(0.0)
        if f0 < 0:
            return 0.0, 0
        # metafor: tau2.max <- max(100, 10 * mad(yi)^2), mad = 1.4826 * median(|y - median(y)|)
        tau2_max = max(TAU2_MAX, 10.0 * (1.4826 * float(np.median(np.abs(yi - np.median(yi))))) ** 2)
        fmax = f(tau2_max)
        if fmax > 0:
            raise NotConverged("PM")
        root, its = zeroin(f, 0.0, tau2_max, f0, fmax, maxiter=MAXITER)
        return max(0.0, root), its
    return _fisher_scoring(yi, vi, method)


def _crit(level, df):
    if df is None:
        return float(stats.norm.isf((1.0 - level) / 2))
    return math.nan if df < 1 else float(stats.t.isf((1.0 - level) / 2, df))


def pool(yi, vi, *, method="REML", ci="z", level=0.95, pi="default", hk_adhoc=False) -> PoolResult:
    """One meta-analysis pooled by inverse variance (metafor ``rma.uni``); raises :class:`NotConverged`."""
    yi, vi = np.asarray(yi, dtype=float), np.asarray(vi, dtype=float)
    k = len(yi)
    t, iterations = tau2(yi, vi, method)
    wi = 1.0 / (vi + t)
    beta = float(np.sum(wi * yi) / wi.sum())
    var_beta = 1.0 / float(wi.sum())
    if k == 1:
        ci = "z"
    df_ci = None
    if ci == "hartung_knapp":
        rss = q_statistic(yi, vi, t)
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - 1)
        if hk_adhoc and s2w < 1:
            s2w = 1.0
        var_beta *= s2w
        df_ci = k - 1
    se = math.sqrt(var_beta)
    crit = _crit(level, df_ci)
    ci_lower, ci_upper = beta - crit * se, beta + crit * se
    df_pi = df_ci if pi == "default" else {"normal": None, "t_k1": k - 1, "t_k2": k - 2}[pi]
    if method == "EE":
        pi_lower, pi_upper = ci_lower, ci_upper
    else:
        half = _crit(level, df_pi) * math.sqrt(var_beta + t)
        pi_lower, pi_upper = beta - half, beta + half
    if k > 1:
        w0 = 1.0 / vi
        q = q_statistic(yi, vi)
        q_pvalue = float(stats.chi2.sf(q, k - 1))
        if method == "EE":
            i2 = max(0.0, 100.0 * (q - (k - 1)) / q) if q > 0 else 0.0
            h2 = q / (k - 1)
        else:
            vt = (k - 1) / float(w0.sum() - np.sum(w0**2) / w0.sum())
            i2 = 100.0 * t / (vt + t)
            h2 = t / vt + 1.0
    else:
        q, q_pvalue, i2, h2 = 0.0, 1.0, 0.0, 1.0
    return PoolResult(beta, se, ci_lower, ci_upper, pi_lower, pi_upper, t, q, k - 1, q_pvalue, i2, h2, k,
                      100.0 * wi / wi.sum(), method, ci, level, iterations)
