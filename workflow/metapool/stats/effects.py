"""Per-study effect sizes and confidence intervals (the role of metafor's ``escalc``).

Everything here is a pure function over numpy arrays. Effect sizes are computed
once and every model consumes the same ``(yi, vi)``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from . import distributions as dist
from ..vocabulary import CONTINUITY_TO

__all__ = [
    "clopper_pearson",
    "wilson",
    "jeffreys",
    "agresti_coull",
    "proportion_ci",
    "PROPORTION_CI_METHODS",
    "logit_effects",
    "logit",
    "ilogit",
    "freeman_tukey",
    "freeman_tukey_effects",
    "ifreeman_tukey",
    "ifreeman_tukey_hm",
    "arcsine",
    "arcsine_effects",
    "iarcsine",
    "raw_effects",
    "z_crit",
    "se_from_ci",
]


def z_crit(level: float) -> float:
    """Two-sided standard-normal critical value for a ``level`` confidence interval."""
    return float(dist.norm.isf((1.0 - level) / 2.0))


def clopper_pearson(events, totals, level: float = 0.95):
    """Exact (Clopper-Pearson) confidence interval for a binomial proportion.

    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated
    in the case of the binomial. Biometrika 1934;26:404-413.

    The limits are quantiles of beta distributions:
    ``lower = B(alpha/2; x, n - x + 1)``, ``upper = B(1 - alpha/2; x + 1, n - x)``,
    with ``lower = 0`` when ``x = 0`` and ``upper = 1`` when ``x = n`` (as R's
    ``binom.test``). Computed by ``scipy.special.betaincinv`` and ``betainccinv`` (Boost's ``ibeta_inv``
    and ``ibetac_inv``), the functions behind ``scipy.stats.beta.ppf`` and ``beta.isf`` and so behind
    statsmodels' ``proportion_confint(method="beta")``: the same numbers bit for bit
    (``tests/stats/test_distributions.py``), without importing scipy.stats and statsmodels (~0.5 s), which every
    job that lists a study's interval would otherwise spend starting up.

    Parameters
    ----------
    events, totals : int or array_like
        Events ``x`` and totals ``n`` (``0 <= x <= n``, ``n > 0``).
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    (lower, upper)
        Arrays, or floats for scalar input.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    _check_counts(x, n, level)
    half = (1.0 - level) / 2.0
    some, not_all = x > 0, x < n
    # the shape parameters where the limit is not 0 or 1 (elsewhere a valid placeholder, replaced)
    lower = np.where(some, special.betaincinv(np.where(some, x, 1.0), n - x + 1.0, half), 0.0)
    upper = np.where(not_all, special.betainccinv(x + 1.0, np.where(not_all, n - x, 1.0), half), 1.0)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


def logit(p):
    """Log odds ``log(p / (1 - p))``."""
    return special.logit(p)


def ilogit(y):
    """Inverse logit, the back-transformation of metafor's ``transf.ilogit``."""
    return special.expit(y)


def continuity_correction(x, n, *, add: float = 0.5, to: str = "only0"):
    """The amount added to the events and non-events of each study, as metafor's ``escalc(add, to)``.

    A study has a zero cell when it has 0 events or ``n`` events (0 non-events).
    ``to="only0"`` (metafor's default) adds ``add`` only to studies with a zero
    cell, ``"all"`` to every study, ``"if0all"`` to every study when at least one
    has a zero cell, ``"none"`` to none. This is the one home of the correction:
    :func:`logit_effects` and :func:`raw_effects` (and so ``pool_proportions``) use it.

    Sweeting MJ, Sutton AJ, Lambert PC. What to add to nothing? Use and avoidance
    of continuity corrections in meta-analysis of sparse data. Stat Med
    2004;23:1351-1375.

    Parameters
    ----------
    x, n : ndarray
        Events and totals.
    add : float
        The amount (metafor's default 1/2).
    to : str
        ``"only0"``, ``"all"``, ``"if0all"`` or ``"none"``.

    Returns
    -------
    ndarray
        The amount added to each study's events and to its non-events.
    """
    if not (math.isfinite(add) and add >= 0):
        raise ValueError(f"add must be a finite number >= 0, got {add!r}")
    zero_cell = (x == 0) | (x == n)
    if to == "only0":
        return np.where(zero_cell, add, 0.0)
    if to == "all":
        return np.full(np.shape(x), float(add))
    if to == "if0all":
        return np.full(np.shape(x), float(add) if np.any(zero_cell) else 0.0)
    if to == "none":
        return np.zeros(np.shape(x))
    raise ValueError(f"to must be one of {CONTINUITY_TO}, got {to!r}")


def logit_effects(events, totals, *, add: float = 0.5, to: str = "only0"):
    """Logit-transformed proportions and their sampling variances (``measure="PLO"``).

    ``yi = log(x / (n - x))`` and ``vi = 1/x + 1/(n - x)`` (the delta method).
    ``add`` is added to the events and non-events as :func:`continuity_correction`
    says (``to="only0"``, metafor's default: studies with 0 or n events only); with
    ``to="none"`` studies with 0 or n events have infinite ``yi``, which the caller
    must reject.

    Returns ``(yi, vi)`` arrays.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    if np.any(x < 0) or np.any(x > n):
        raise ValueError("logit_effects needs 0 <= events <= totals")
    cc = continuity_correction(x, n, add=add, to=to)
    a = x + cc
    b = n - x + cc
    with np.errstate(divide="ignore"):
        yi = np.log(a / b)
        vi = 1.0 / a + 1.0 / b
    return yi, vi


def se_from_ci(lower, upper, level: float = 0.95, *, log: bool = True):
    """Standard error recovered from a symmetric (Wald-type) confidence interval.

    ``SE = (g(U) - g(L)) / (2 z)`` with ``g = log`` for ratio measures and medians
    (Cochrane Handbook, section 6.3.2; for 95% limits ``2 z = 3.92``) and the
    identity otherwise. Any CI level is handled through ``z = z_crit(level)``.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    if log:
        lo, hi = np.log(lo), np.log(hi)
    se = (hi - lo) / (2.0 * z_crit(level))
    return float(se) if np.ndim(se) == 0 else se


# ---------------------------------------------------------------------------
# Per-study confidence intervals besides Clopper-Pearson
# ---------------------------------------------------------------------------


def _check_counts(x, n, level):
    if np.any(x < 0) or np.any(x > n) or np.any(n <= 0):
        raise ValueError("need 0 <= events <= totals and totals > 0")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")


def _statsmodels_interval(events, totals, level, method):
    """``statsmodels.stats.proportion.proportion_confint(x, n, 1 - level, method)`` with R's conventions at the
    boundaries: the lower limit exactly 0 when ``x = 0`` and the upper exactly 1 when ``x = n`` (``binom.test``,
    ``prop.test``; statsmodels leaves the Jeffreys limits there at the beta quantile and the Wilson limits a
    rounding error away), and every limit within [0, 1] (Agresti-Coull's can leave it). statsmodels is
    imported here, not with the module: most jobs that read this module never need it."""
    from statsmodels.stats.proportion import proportion_confint

    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    _check_counts(x, n, level)
    lower, upper = proportion_confint(x, n, alpha=1.0 - level, method=method)
    lower = np.where(x > 0, np.clip(lower, 0.0, 1.0), 0.0)
    upper = np.where(x < n, np.clip(upper, 0.0, 1.0), 1.0)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


def wilson(events, totals, level: float = 0.95):
    """Wilson score interval for a binomial proportion (no continuity correction).

    Wilson EB. Probable inference, the law of succession, and statistical
    inference. J Am Stat Assoc 1927;22:209-212. With ``z = z_crit(level)`` and
    ``p = x / n`` the limits are

    ``(p + z^2/(2n) -/+ z sqrt(p(1 - p)/n + z^2/(4n^2))) / (1 + z^2/n)``,

    which is R's ``prop.test(x, n, conf.level = level, correct = FALSE)$conf.int``
    (also ``binom::binom.confint(method = "wilson")``); as ``prop.test`` the
    lower limit is exactly 0 when ``x = 0`` and the upper exactly 1 when ``x = n``.
    Computed by statsmodels' ``proportion_confint(method="wilson")``. Returns ``(lower, upper)``.
    """
    return _statsmodels_interval(events, totals, level, "wilson")


def jeffreys(events, totals, level: float = 0.95):
    """Jeffreys interval: equal-tailed quantiles of the Beta(x + 1/2, n - x + 1/2) posterior.

    Brown LD, Cai TT, DasGupta A. Interval estimation for a binomial
    proportion. Stat Sci 2001;16:101-133 (section 4.1.2): ``lower =
    qbeta(alpha/2, x + 1/2, n - x + 1/2)``, ``upper = qbeta(1 - alpha/2, x + 1/2,
    n - x + 1/2)``, with the lower limit set to 0 when ``x = 0`` and the upper to
    1 when ``x = n``. Computed by statsmodels' ``proportion_confint(method="jeffreys")``.
    Returns ``(lower, upper)``.
    """
    return _statsmodels_interval(events, totals, level, "jeffreys")


def agresti_coull(events, totals, level: float = 0.95):
    """Agresti-Coull ("add z^2/2 successes and failures") interval.

    Agresti A, Coull BA. Approximate is better than "exact" for interval
    estimation of binomial proportions. Am Stat 1998;52:119-126; in the form
    of Brown, Cai & DasGupta (Stat Sci 2001;16:101-133, section 4.1.1):
    ``n~ = n + z^2``, ``p~ = (x + z^2/2) / n~`` and ``p~ -/+ z sqrt(p~(1 - p~)/n~)``.
    The limits can leave [0, 1] for x near 0 or n; they are truncated to
    [0, 1] here (``binom::binom.confint(method = "ac")`` does not truncate).
    Computed by statsmodels' ``proportion_confint(method="agresti_coull")``. Returns ``(lower, upper)``.
    """
    return _statsmodels_interval(events, totals, level, "agresti_coull")


_PROPORTION_CI = {
    "clopper_pearson": clopper_pearson,
    "wilson": wilson,
    "jeffreys": jeffreys,
    "agresti_coull": agresti_coull,
}
PROPORTION_CI_METHODS = tuple(_PROPORTION_CI)


def proportion_ci(events, totals, level: float = 0.95, method: str = "clopper_pearson"):
    """Per-study confidence interval for ``events / totals`` by ``method``.

    One of ``clopper_pearson`` (exact; the default, as R's ``meta::metaprop``
    ``method.ci = "CP"``), ``wilson``, ``jeffreys`` or ``agresti_coull``.
    """
    if method not in _PROPORTION_CI:
        raise ValueError(f"method must be one of {PROPORTION_CI_METHODS}, got {method!r}")
    return _PROPORTION_CI[method](events, totals, level)


# ---------------------------------------------------------------------------
# Variance-stabilising transforms of proportions (escalc PFT, PAS, PR)
# ---------------------------------------------------------------------------


def _counts(events, totals):
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    if x.shape != n.shape:
        raise ValueError("events and totals must have the same shape")
    if np.any(x < 0) or np.any(x > n) or np.any(n <= 0):
        raise ValueError("need 0 <= events <= totals and totals > 0")
    return x, n


def freeman_tukey(p, n):
    """Freeman-Tukey double arcsine of the proportion ``p`` observed in ``n`` (metafor's ``transf.pft``).

    ``t = (asin(sqrt(x/(n + 1))) + asin(sqrt((x + 1)/(n + 1)))) / 2`` with
    ``x = p n``: metafor's scale, half of Freeman & Tukey's sum (so that the
    variance is ``1/(4n + 2)``, comparable with the arcsine's ``1/(4n)``).

    Freeman MF, Tukey JW. Transformations related to the angular and the
    square root. Ann Math Stat 1950;21:607-611.
    """
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    x = p * n
    t = 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))
    return float(t) if t.ndim == 0 else t


def freeman_tukey_effects(events, totals):
    """Freeman-Tukey double-arcsine transformed proportions (``escalc(measure="PFT")``).

    ``yi = (asin(sqrt(x/(n + 1))) + asin(sqrt((x + 1)/(n + 1)))) / 2`` and
    ``vi = 1 / (4n + 2)``. Defined for 0 and n events, so no continuity
    correction is applied (metafor's default ``add`` is 0 for this measure).

    Freeman MF, Tukey JW. Ann Math Stat 1950;21:607-611.
    Returns ``(yi, vi)`` arrays.
    """
    x, n = _counts(events, totals)
    yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))
    vi = 1.0 / (4.0 * n + 2.0)
    return yi, vi


def ifreeman_tukey(t, n):
    """Miller's inversion of the Freeman-Tukey double arcsine for sample size ``n`` (metafor's ``transf.ipft``).

    Miller JJ. The inverse of the Freeman-Tukey double arcsine transformation.
    Am Stat 1978;32:138. With ``s = sin(2t)``:

    ``p = (1 - sign(cos 2t) sqrt(1 - (s + (s - 1/s)/n)^2)) / 2``,

    0 below ``freeman_tukey(0, n)``, 1 above ``freeman_tukey(1, n)`` and NaN
    where the square root is undefined, exactly as metafor. The inverse is exact:
    ``ifreeman_tukey(freeman_tukey(p, n), n) == p``.
    """
    t = np.asarray(t, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(all="ignore"):
        s = np.sin(2.0 * t)
        u = s + (s - 1.0 / s) / n
        # u * u, not u ** 2: numpy squares an array by multiplying but a scalar by C's pow, which can differ in the
        # last bit; a product gives the same float for one value and for an array of them
        z = 0.5 * (1.0 - np.sign(np.cos(2.0 * t)) * np.sqrt(1.0 - u * u))
    z = np.where(t > freeman_tukey(1.0, n), 1.0, z)
    z = np.where(t < freeman_tukey(0.0, n), 0.0, z)
    return float(z) if z.ndim == 0 else z


def ifreeman_tukey_hm(t, totals):
    """Back-transform a pooled Freeman-Tukey value with the harmonic mean of the studies' ``totals``.

    metafor's ``transf.ipft.hm(t, targs = list(ni = totals))``: Miller's
    inversion (:func:`ifreeman_tukey`) with ``n = 1 / mean(1 / totals)``.
    Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Rucker G. Seriously misleading
    results using inverse of Freeman-Tukey double arcsine transformation in
    meta-analysis of single proportions. Res Synth Methods 2019;10:476-483
    show how this can mislead when the n differ much: prefer the logit.
    """
    n = np.asarray(totals, dtype=float)
    if n.size == 0 or np.any(n <= 0):
        raise ValueError("the harmonic mean needs positive totals")
    nhm = 1.0 / float(np.mean(1.0 / n))
    return ifreeman_tukey(t, nhm)


def arcsine(p):
    """Arcsine square-root transform ``asin(sqrt(p))`` (metafor's ``transf.arcsin``)."""
    y = np.arcsin(np.sqrt(np.asarray(p, dtype=float)))
    return float(y) if y.ndim == 0 else y


def arcsine_effects(events, totals):
    """Arcsine square-root transformed proportions (``escalc(measure="PAS")``).

    ``yi = asin(sqrt(x/n))`` and ``vi = 1 / (4n)`` (the delta method); no
    continuity correction (metafor's default ``add`` is 0 for this measure).
    Anscombe FJ. The transformation of Poisson, binomial and negative-binomial
    data. Biometrika 1948;35:246-254. Returns ``(yi, vi)`` arrays.
    """
    x, n = _counts(events, totals)
    return np.arcsin(np.sqrt(x / n)), 1.0 / (4.0 * n)


def iarcsine(y):
    """Inverse arcsine square root ``sin(y)^2``, 0 below 0 and 1 above pi/2 (metafor's ``transf.iarcsin``)."""
    y = np.asarray(y, dtype=float)
    z = np.sin(y)
    z = z * z  # a product, not ** 2: the same float for one value and for an array (ifreeman_tukey)
    z = np.where(y < 0.0, 0.0, z)
    z = np.where(y > np.arcsin(1.0), 1.0, z)
    return float(z) if z.ndim == 0 else z


def raw_effects(events, totals, *, add: float = 0.5, to: str = "only0"):
    """Untransformed proportions and their sampling variances (``escalc(measure="PR")``, ``vtype="LS"``).

    ``yi = x / n`` and ``vi = yi (1 - yi) / n``. As metafor 3.8-1 (whose
    default for PR is ``add = 1/2, to = "only0"``), ``add`` is added to the
    events and non-events of studies with 0 or n events, so that
    ``yi = (x + 1/2) / (n + 1)``, ``vi > 0``. With ``to="none"`` such studies
    have ``vi = 0``: no inverse-variance model can use them (metafor's DL and EE
    refuse, ``pool_proportions`` refuses for every method).
    Returns ``(yi, vi)`` arrays.
    """
    x, n = _counts(events, totals)
    cc = continuity_correction(x, n, add=add, to=to)
    a = x + cc
    m = n + 2.0 * cc
    yi = a / m
    vi = yi * (1.0 - yi) / m
    return yi, vi
