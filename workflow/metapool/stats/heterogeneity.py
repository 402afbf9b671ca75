"""Heterogeneity: I^2, H^2 and the typical within-study variance; Q-profile confidence intervals.

The point estimates (:func:`typical_within_variance`, :func:`i2_from_tau2`,
:func:`h2_from_tau2`, :func:`i2_from_q`, :func:`h2_from_q`) are written once for one
meta-analysis or many (arrays, one entry per group) and serve the pooling
(:mod:`metapool.stats.pooling`), the meta-regression and the Q-profile intervals alike.

The Q-profile method (Viechtbauer W. Confidence intervals for the amount of
heterogeneity in meta-analysis. Stat Med 2007;26:37-52) inverts the
generalised Q statistic, ``Q(tau2) = sum w_i (y_i - ybar_w)^2`` with
``w_i = 1/(v_i + tau2)``, which is chi-squared with k - 1 df at the true
tau^2 and decreases in tau^2. The limits are the tau^2 values at which
``Q(tau2)`` equals the upper and lower ``alpha/2`` chi-squared quantiles.

:func:`q_profile_ci` follows metafor's ``confint.rma.uni`` (type ``"QP"``,
metafor 3.8-1) step for step: the search interval is ``[0, max(100, 10 tau2)]``,
the roots are found with R's ``uniroot`` (:func:`metapool.stats.lockstep.zeroin`,
``tol = .Machine$double.eps^0.25``, ``maxiter = 1000``), a bound outside the
interval is reported at the interval's end with a sign (``"<"`` / ``">"``),
and when ``Q(0)`` is already below the lower quantile the interval is the
"null set" ``[0, 0]`` (``ci_null``). The I^2 and H^2 limits are the tau^2
limits mapped through ``I2 = 100 tau2 / (vt + tau2)`` and ``H2 = 1 + tau2/vt``
with the typical within-study variance ``vt = (k - 1) / tr(P)`` (Higgins &
Thompson, Stat Med 2002;21:1539-1558).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import distributions as dist
from .lockstep import UNIROOT_TOL, Groups, as_scalar, max0, zeroin
from .tau2 import TAU2_MAX, q_statistic

__all__ = [
    "HeterogeneityCI",
    "q_profile_ci",
    "not_estimable",
    "typical_within_variance",
    "i2_from_tau2",
    "h2_from_tau2",
    "i2_from_q",
    "h2_from_q",
]

MAXITER = 1000  # R's uniroot default


@dataclass(frozen=True)
class HeterogeneityCI:
    """Confidence intervals for the heterogeneity parameters (I^2 in percent).

    ``estimable`` is False (and every number NaN) when no interval can be
    given, with the reason in ``reason`` (a single study, a common-effect
    model). ``ci_null`` marks metafor's "null set": ``Q(0)`` is already below
    the lower chi-squared quantile, the interval is reported as ``[0, 0]``.
    ``lower_sign`` / ``upper_sign`` are ``"<"`` or ``">"`` when a limit lies
    beyond the searched interval ``[tau2_min, tau2_max]`` and was set to its
    end, as metafor prints them; otherwise ``""``.
    """

    tau2: float
    tau2_lower: float
    tau2_upper: float
    i2: float
    i2_lower: float
    i2_upper: float
    h2: float
    h2_lower: float
    h2_upper: float
    level: float = 0.95
    method: str = "QP"
    estimable: bool = True
    reason: str = ""
    ci_null: bool = False
    lower_sign: str = ""
    upper_sign: str = ""
    tau2_max: float = TAU2_MAX
    notes: tuple[str, ...] = ()

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2) if self.tau2 >= 0 else math.nan

    @property
    def tau_lower(self) -> float:
        return math.sqrt(self.tau2_lower) if self.tau2_lower >= 0 else math.nan

    @property
    def tau_upper(self) -> float:
        return math.sqrt(self.tau2_upper) if self.tau2_upper >= 0 else math.nan

    @property
    def tau2_ci(self) -> tuple[float, float]:
        return (self.tau2_lower, self.tau2_upper)

    @property
    def tau_ci(self) -> tuple[float, float]:
        return (self.tau_lower, self.tau_upper)

    @property
    def i2_ci(self) -> tuple[float, float]:
        return (self.i2_lower, self.i2_upper)

    @property
    def h2_ci(self) -> tuple[float, float]:
        return (self.h2_lower, self.h2_upper)


def not_estimable(reason: str, *, level: float = 0.95, tau2: float = math.nan, i2: float = math.nan,
                  h2: float = math.nan) -> HeterogeneityCI:
    """A :class:`HeterogeneityCI` that says why no interval exists (every limit NaN)."""
    nan = math.nan
    return HeterogeneityCI(
        tau2=tau2, tau2_lower=nan, tau2_upper=nan, i2=i2, i2_lower=nan, i2_upper=nan, h2=h2,
        h2_lower=nan, h2_upper=nan, level=level, estimable=False, reason=reason, tau2_max=nan,
    )


def typical_within_variance(vi, groups: Groups | None = None):
    """Higgins & Thompson's typical within-study variance ``vt = (k - 1) / (sum w - sum w^2 / sum w)``, ``w = 1/v``.

    Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis.
    Stat Med 2002;21:1539-1558 (metafor's ``vt``).

    Parameters
    ----------
    vi : array_like
        Sampling variances.
    groups : Groups, optional
        The meta-analyses the studies form (studies stored by group); ``None``: one.

    Returns
    -------
    float, or ndarray with one value per group
    """
    w = 1.0 / np.asarray(vi, dtype=float)
    g = Groups.single(len(w)) if groups is None else groups
    sw = g.sum(w)
    vt = (g.k - 1) / (sw - g.sum(w**2) / sw)
    return float(vt[0]) if groups is None else vt


def i2_from_tau2(tau2, vt):
    """``I2 = 100 tau2 / (vt + tau2)`` in percent (metafor's I^2 for any tau^2 estimator).

    Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis.
    Stat Med 2002;21:1539-1558.

    Parameters
    ----------
    tau2 : float or ndarray
        Between-study variance.
    vt : float or ndarray
        Typical within-study variance (:func:`typical_within_variance`).

    Returns
    -------
    float or ndarray
    """
    return 100.0 * tau2 / (vt + tau2)


def h2_from_tau2(tau2, vt):
    """``H2 = 1 + tau2 / vt`` (metafor's H^2 for any tau^2 estimator; Higgins & Thompson 2002).

    Parameters
    ----------
    tau2, vt
        As :func:`i2_from_tau2`.

    Returns
    -------
    float or ndarray
    """
    return tau2 / vt + 1.0


def i2_from_q(q, df):
    """Higgins & Thompson's Q-based I^2 in percent: ``max(0, 100 (Q - df) / Q)``.

    Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis.
    Stat Med 2002;21:1539-1558; Higgins JPT et al. Measuring inconsistency in
    meta-analyses. BMJ 2003;327:557-560. This is R meta's default
    (``method.I2 = "Q"``), metafor's I^2 for the common-effect model, and
    equals metafor's I^2 under the DL estimator; 0 when ``Q = 0``; NaN when
    ``df < 1``.

    Parameters
    ----------
    q : float or ndarray
        Cochran's Q.
    df : int or ndarray
        Its degrees of freedom (``k - 1``; ``k - p`` for a meta-regression).

    Returns
    -------
    float or ndarray
    """
    q = np.asarray(q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        i2 = np.where(q > 0, max0(100.0 * (q - df) / q), 0.0)
    return as_scalar(np.where(np.asarray(df) >= 1, i2, np.nan))


def h2_from_q(q, df):
    """Q-based ``H^2 = Q / df`` (Higgins & Thompson 2002; metafor's H^2 for the common-effect model); NaN when ``df < 1``.

    Parameters
    ----------
    q, df
        As :func:`i2_from_q`.

    Returns
    -------
    float or ndarray
    """
    df = np.asarray(df)
    with np.errstate(divide="ignore", invalid="ignore"):
        return as_scalar(np.where(df >= 1, np.asarray(q, dtype=float) / df, np.nan))


def q_profile_ci(
    yi,
    vi,
    tau2: float,
    *,
    level: float = 0.95,
    i2: float | None = None,
    h2: float | None = None,
    tau2_max: float | None = None,
    tol: float = UNIROOT_TOL,
    maxiter: int = MAXITER,
) -> HeterogeneityCI:
    """Q-profile confidence interval for tau^2 and the derived intervals for tau, I^2 and H^2.

    Viechtbauer W. Confidence intervals for the amount of heterogeneity in
    meta-analysis. Stat Med 2007;26:37-52; as metafor's
    ``confint(rma(yi, vi, method = ...))`` (type ``"QP"``).

    Parameters
    ----------
    yi, vi
        Effect sizes and (positive) sampling variances.
    tau2
        The model's tau^2 estimate (whatever the estimator): it sets the
        search interval ``[0, max(100, 10 tau2)]`` and is reported as the
        point estimate, as in metafor.
    i2, h2
        The model's I^2 (percent) and H^2 to report as point estimates;
        by default computed from ``tau2`` and ``vt``.
    tau2_max
        Upper end of the search (metafor's ``control = list(tau2.max = ...)``).

    A single study gives a not-estimable result (metafor stops with
    "Stopped because k = 1.").
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    k = len(yi)
    if yi.shape != vi.shape or yi.ndim != 1:
        raise ValueError("yi and vi must be one-dimensional arrays of equal length")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if k == 0:
        raise ValueError("no studies")
    if k == 1:
        return not_estimable("a single study (k = 1): heterogeneity and its confidence interval are not estimable",
                             level=level, tau2=tau2, i2=i2 if i2 is not None else math.nan,
                             h2=h2 if h2 is not None else math.nan)
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi)) and np.all(vi > 0)):
        raise ValueError("the Q-profile interval needs finite effect sizes and positive, finite sampling variances")

    vt = typical_within_variance(vi)
    if i2 is None:
        i2 = i2_from_tau2(tau2, vt)
    if h2 is None:
        h2 = h2_from_tau2(tau2, vt)
    tau2_min = min(0.0, tau2)
    if tau2_max is None:
        tau2_max = max(TAU2_MAX, tau2 * 10.0, tau2_min * 10.0)
    alpha = 1.0 - level
    df = k - 1
    crit_u = float(dist.chi2.isf(alpha / 2.0, df))  # upper quantile: gives the lower limit
    crit_l = float(dist.chi2.ppf(alpha / 2.0, df))  # lower quantile: gives the upper limit

    one = Groups.single(k)
    q_at_max = q_statistic(yi, vi, tau2_max)
    q_at_min = q_statistic(yi, vi, tau2_min)
    notes: list[str] = []
    lower = upper = math.nan
    lower_sign = upper_sign = ""
    ci_null = False

    def root(objective):
        value, _, converged = zeroin(lambda ids, t: q_statistic(yi, vi, t, one) - objective, tau2_min, tau2_max,
                                     q_at_min - objective, q_at_max - objective, tol=tol, maxiter=maxiter)
        if not converged[0]:
            notes.append(f"Q-profile: root finding did not converge in {maxiter} iterations")
            return math.nan
        return float(value[0])

    if q_at_min < crit_l:
        lower = upper = tau2_min
        lower_sign = upper_sign = "<"
        ci_null = tau2_min <= 0
    elif q_at_max > crit_l:
        upper = tau2_max
        upper_sign = ">"
    else:
        upper = root(crit_l)

    if q_at_max > crit_u:
        lower = upper = tau2_max
        lower_sign = upper_sign = ">"
    elif q_at_min < crit_u:
        lower = tau2_min
        if tau2_min > 0:
            lower_sign = "<"
    else:
        lower = root(crit_u)

    if ci_null:
        notes.append(f"Q(tau2 = 0) is below the lower {alpha / 2:g} chi-squared quantile: "
                     "the Q-profile interval is the null set, reported as [0, 0] (as metafor)")
    if upper_sign == ">":
        notes.append(f"the upper tau2 limit lies beyond the search interval and is set to its end ({tau2_max:g})")

    return HeterogeneityCI(
        tau2=tau2,
        tau2_lower=lower,
        tau2_upper=upper,
        i2=i2,
        i2_lower=i2_from_tau2(lower, vt),
        i2_upper=i2_from_tau2(upper, vt),
        h2=h2,
        h2_lower=h2_from_tau2(lower, vt),
        h2_upper=h2_from_tau2(upper, vt),
        level=level,
        ci_null=ci_null,
        lower_sign=lower_sign,
        upper_sign=upper_sign,
        tau2_max=tau2_max,
        notes=tuple(notes),
    )
