"""The one inverse-variance core: common- and random-effects pooling.

Every pooled analysis (proportions on the logit scale, log medians, log hazard
ratios) goes through :func:`inverse_variance`, so that all outcomes share one
implementation of the estimators, the confidence and prediction intervals and
the heterogeneity statistics (metafor's ``rma.uni`` for an intercept-only
model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .tau2 import estimate_tau2, q_statistic

__all__ = ["PoolResult", "inverse_variance", "hartung_knapp_factor", "CI_METHODS", "PI_METHODS"]

from ..vocabulary import CI_METHODS, PI_METHODS


@dataclass(frozen=True)
class PoolResult:
    """A pooled estimate on the analysis scale (logit, log, ...)."""

    beta: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    q: float
    df: int
    q_pvalue: float
    i2: float
    h2: float
    k: int
    weights: np.ndarray = field(repr=False)
    method: str = "REML"
    ci: str = "z"
    level: float = 0.95
    iterations: int = 0
    notes: tuple[str, ...] = ()


def hartung_knapp_factor(yi, vi, tau2: float) -> float:
    """The Hartung-Knapp-Sidik-Jonkman variance factor ``s2w = Q(tau2) / (k - 1)``.

    Hartung J, Knapp G. A refined method for the meta-analysis of controlled
    clinical trials with binary outcome. Stat Med 2001;20:3875-3889.
    Sidik K, Jonkman JN. A simple confidence interval for meta-analysis.
    Stat Med 2002;21:3153-3159.
    As metafor, a residual sum of squares below machine epsilon gives 0.
    """
    rss = q_statistic(yi, vi, tau2)
    if rss <= np.finfo(float).eps:
        return 0.0
    return rss / (len(yi) - 1)


def _t_or_z(level: float, df: float | None) -> float:
    alpha = 1.0 - level
    if df is None:
        return float(stats.norm.isf(alpha / 2))
    if df < 1:
        return math.nan
    return float(stats.t.isf(alpha / 2, df))


def inverse_variance(
    yi,
    vi,
    *,
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    pi: str = "default",
    hk_adhoc: bool = False,
) -> PoolResult:
    """Pool effect sizes ``yi`` with sampling variances ``vi`` by inverse variance.

    Parameters
    ----------
    method
        ``"EE"`` for the common-effect (equal-effects) model, or a tau^2
        estimator for the random-effects model: ``DL``, ``HE``, ``SJ``, ``ML``,
        ``REML``, ``EB``, ``PM`` (see :mod:`metapool.stats.tau2`).
    ci
        ``"z"`` (normal quantiles) or ``"hartung_knapp"`` (variance scaled by
        :func:`hartung_knapp_factor`, t quantiles with k - 1 df).
    hk_adhoc
        With Hartung-Knapp, never let the interval be narrower than the z one
        (``s2w`` truncated at 1; Knapp & Hartung 2003, metafor ``test="adhoc"``).
    pi
        Prediction interval (Higgins, Thompson & Spiegelhalter, J R Stat Soc A
        2009;172:137-159): ``"default"`` as metafor (normal under ``z``, t with
        k - 1 df under Hartung-Knapp), ``"normal"``, ``"t_k1"`` or ``"t_k2"``
        (t with k - 2 df, Riley et al. BMJ 2011;342:d549). The interval is
        ``beta +/- crit * sqrt(se^2 + tau2)``.

    Heterogeneity: Q (Cochran), I^2 and H^2 from tau^2 as metafor,
    ``I2 = 100 tau2 / (tau2 + vt)`` and ``H2 = 1 + tau2 / vt`` with the typical
    within-study variance ``vt = (k - 1) / tr(P)`` (Higgins & Thompson, Stat Med
    2002;21:1539-1558); for the common-effect model the Q-based versions.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = len(yi)
    if k == 0:
        raise ValueError("cannot pool zero studies")
    if yi.shape != vi.shape:
        raise ValueError("yi and vi must have the same length")
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi)) and np.all(vi > 0)):
        raise ValueError("every study needs a finite effect size and a positive, finite variance")
    if ci not in CI_METHODS:
        raise ValueError(f"ci must be one of {CI_METHODS}, got {ci!r}")
    if pi not in PI_METHODS:
        raise ValueError(f"pi must be one of {PI_METHODS}, got {pi!r}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")

    notes: list[str] = []
    est = estimate_tau2(yi, vi, method)
    tau2 = est.tau2
    wi = 1.0 / (vi + tau2)
    beta = float(np.sum(wi * yi) / wi.sum())
    var_beta = 1.0 / float(wi.sum())

    if ci == "hartung_knapp" and k == 1:
        ci = "z"
        notes.append("a single study: Hartung-Knapp needs k >= 2, the z interval is given (as metafor)")
    if ci == "hartung_knapp":
        s2w = hartung_knapp_factor(yi, vi, tau2)
        if hk_adhoc and s2w < 1:
            s2w = 1.0
        var_beta *= s2w
        df_ci: float | None = k - 1
    else:
        df_ci = None
    se = math.sqrt(var_beta) if not math.isnan(var_beta) else math.nan
    crit = _t_or_z(level, df_ci)
    ci_lower, ci_upper = beta - crit * se, beta + crit * se

    if pi == "default":
        df_pi = df_ci
    else:
        df_pi = {"normal": None, "t_k1": k - 1, "t_k2": k - 2}[pi]
    crit_pi = _t_or_z(level, df_pi)
    if method == "EE":
        pi_lower, pi_upper = ci_lower, ci_upper
    else:
        half = crit_pi * math.sqrt(var_beta + tau2)
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
            i2 = 100.0 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1.0
    else:
        q, q_pvalue, i2, h2 = 0.0, 1.0, 0.0, 1.0
        notes.append("a single study: heterogeneity is not estimable; the pooled estimate is that study's")

    return PoolResult(
        beta=beta,
        se=se,
        ci_lower=ci_lower,
        ci_upper=ci_upper,
        pi_lower=pi_lower,
        pi_upper=pi_upper,
        tau2=tau2,
        q=q,
        df=k - 1,
        q_pvalue=q_pvalue,
        i2=i2,
        h2=h2,
        k=k,
        weights=100.0 * wi / wi.sum(),
        method=method,
        ci=ci,
        level=level,
        iterations=est.iterations,
        notes=tuple(notes),
    )
