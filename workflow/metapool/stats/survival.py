"""Survival outcomes onto the inverse-variance core: median PFS/OS, hazard ratios, ratios of medians.

Medians (McGrath S, Zhao X, Qin ZZ, Steele R, Benedetti A. One-sample
aggregate data meta-analysis of medians. Stat Med 2019;38:969-984; R package
metamedian):

* ``log_iv`` (default): ``yi = ln m`` with ``SE = (ln U - ln L) / (2 z)``;
* ``raw_iv``: ``yi = m`` (months) with ``SE = (U - L) / (2 z)``;
* in both, when only the upper limit is not reached (NR) the one-sided
  variant uses the lower half of the interval: ``SE = (ln m - ln L) / z``,
  resp. ``(m - L) / z``;
* ``median_of_medians`` / ``weighted_median_of_medians`` for medians without a
  CI (:mod:`metapool.stats.medians`).

Hazard ratios are pooled as ``ln HR`` with ``SE = (ln U - ln L) / (2 z)``
(Cochrane Handbook for Systematic Reviews of Interventions, version 6.4,
section 6.3.2: 3.92 = 2 z at 95%; any level through its own z), within one
comparator only. :func:`hr_ci_not_centred` checks that the estimate sits at the
centre of its interval on the log scale (as metafor's ``conv.wald(check=TRUE)``,
with a bound derived from the printed precision instead of a fixed fraction).

The ratio of medians of a randomised trial (experimental / comparator) is
``yi = ln m_E - ln m_C`` with ``SE = sqrt(SE_E^2 + SE_C^2)`` (independent arms).

Every inverse-variance pool goes through :func:`metapool.stats.pooling.inverse_variance`.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from ..vocabulary import IV_MEDIAN_METHODS, MEDIAN_METHODS
from .effects import se_from_ci, z_crit
from .pooling import inverse_variance
from .results import PooledEstimate

__all__ = [
    "ONE_SIDED_NOTE",
    "log_scale_effects",
    "pool_log_scale",
    "median_effects",
    "pool_medians",
    "median_not_poolable_reason",
    "median_se_note",
    "hr_not_poolable_reason",
    "ratio_of_medians_effects",
    "hr_ci_asymmetry",
    "hr_ci_not_centred",
    "printed_decimals",
]

ONE_SIDED_NOTE = "upper CI limit not reached: one-sided SE from the lower half of the CI"


def _nan(x) -> bool:
    """Missing: None, NaN or pandas' NA."""
    return x is None or bool(pd.isna(x))


# ---------------------------------------------------------------------------------------------- medians


def median_not_poolable_reason(
    median_nr: bool, median, lower, upper, lower_nr: bool, upper_nr: bool, level,
    *, method: str = "log_iv", n=math.nan,
) -> str:
    """Why a reported median cannot enter a pool of ``method`` ('' when it can).

    Inverse-variance methods need a spread: a two-sided CI, or its lower half
    when only the upper limit was not reached. The median-of-medians methods
    need the median only (and the weighted one the sample size).
    """
    if method not in MEDIAN_METHODS:
        raise ValueError(f"median method must be one of {MEDIAN_METHODS}, got {method!r}")
    if median_nr:
        return "median not reached"
    if method == "median_of_medians":
        return ""
    if method == "weighted_median_of_medians":
        return "sample size not reported (needed for the weight)" if _nan(n) else ""
    has_lower, has_upper = not _nan(lower), not _nan(upper)
    if lower_nr and upper_nr:
        return "CI limits not reached: no usable information on the spread"
    if lower_nr:
        return "lower CI limit not reached"
    if upper_nr:
        if not has_lower or _nan(level):
            return "upper CI limit not reached and no lower limit: no usable information on the spread"
        if not lower < median:
            return "upper CI limit not reached and lower limit equal to the median: no usable information on the spread"
        return ""
    if not has_lower or not has_upper or _nan(level):
        return "no confidence interval reported"
    if not lower < upper:
        return "confidence interval of zero width"
    return ""


def median_se_note(upper_nr: bool, method: str = "log_iv") -> str:
    """What a poolable median's SE rests on, for the study's notes ('' for the usual two-sided CI)."""
    return ONE_SIDED_NOTE if (method in IV_MEDIAN_METHODS and upper_nr) else ""


def median_effects(median, lower, upper, level, upper_nr=None, *, scale: str = "log"):
    """``(yi, sei)`` of medians for inverse-variance pooling.

    ``scale="log"``: ``yi = ln m``, ``SE = (ln U - ln L) / (2 z)``; ``"raw"``:
    ``yi = m``, ``SE = (U - L) / (2 z)``. Where ``upper_nr`` is true (upper
    limit not reached) the one-sided SE ``(g(m) - g(L)) / z`` is used, ``g`` =
    ln or identity. ``z`` is the normal quantile of each study's own CI level.
    """
    if scale not in ("log", "raw"):
        raise ValueError(f"scale must be 'log' or 'raw', got {scale!r}")
    m = np.asarray(median, dtype=float)
    lo = np.broadcast_to(np.asarray(lower, dtype=float), m.shape)
    hi = np.broadcast_to(np.asarray(upper, dtype=float), m.shape)
    lv = np.broadcast_to(np.asarray(level, dtype=float), m.shape)
    one = np.zeros(m.shape, bool) if upper_nr is None else np.broadcast_to(np.asarray(upper_nr, dtype=bool), m.shape)
    g = np.log if scale == "log" else (lambda x: np.asarray(x, dtype=float))
    z = np.array([z_crit(v) for v in lv.ravel()], dtype=float).reshape(m.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        two_sided = (g(hi) - g(lo)) / (2.0 * z)
        one_sided = (g(m) - g(lo)) / z
    sei = np.where(one, one_sided, two_sided)
    return g(m), sei


def pool_medians(
    median,
    lower,
    upper,
    level_reported=0.95,
    upper_nr=None,
    *,
    scale: str = "log",
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    pi: str = "default",
    hk_adhoc: bool = False,
) -> PooledEstimate:
    """Inverse-variance pooling of medians on the log (back-transformed with exp) or the raw scale.

    Equivalent to metafor's ``rma(yi, sei = sei, method, test, level)`` with
    ``yi, sei`` from :func:`median_effects`. ``level_reported`` is the level of the
    reported CIs (default 0.95).
    """
    yi, sei = median_effects(median, lower, upper, level_reported, upper_nr, scale=scale)
    model = inverse_variance(yi, sei**2, method=method, ci=ci, level=level, pi=pi, hk_adhoc=hk_adhoc)
    if scale == "log":
        return PooledEstimate.from_model(model, np.exp, "log")
    return PooledEstimate.from_model(model, lambda x: x, "identity")


# --------------------------------------------------------------------------------- log-scale ratios


def log_scale_effects(estimate, lower, upper, level):
    """``(yi, sei)`` on the log scale for ratio-type estimates (medians, HRs) with two-sided CIs.

    ``level`` may differ between studies (an array); each SE uses its own
    normal quantile.
    """
    estimate = np.asarray(estimate, dtype=float)
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    level = np.broadcast_to(np.asarray(level, dtype=float), estimate.shape)
    sei = np.array([se_from_ci(lo, hi, lv) for lo, hi, lv in zip(lower, upper, level)], dtype=float)
    return np.log(estimate), sei


def pool_log_scale(
    estimate,
    lower,
    upper,
    level_reported=0.95,
    *,
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    pi: str = "default",
    hk_adhoc: bool = False,
) -> PooledEstimate:
    """Inverse-variance pooling of medians or hazard ratios on the log scale.

    ``estimate``, ``lower``, ``upper`` are on the natural scale and
    ``level_reported`` is the level of each reported CI (one value, or one per
    study; default 0.95, the level nearly every trial reports); the result is
    back-transformed with ``exp``. Equivalent to metafor's
    ``rma(yi = log(estimate), sei = (log(upper) - log(lower)) / (2 * qnorm(1 - (1 - level) / 2)))``.
    """
    yi, sei = log_scale_effects(estimate, lower, upper, level_reported)
    model = inverse_variance(yi, sei**2, method=method, ci=ci, level=level, pi=pi, hk_adhoc=hk_adhoc)
    return PooledEstimate.from_model(model, np.exp, "log")


def ratio_of_medians_effects(exp_effects, comp_effects):
    """``(yi, sei)`` of the log ratio of medians, experimental / comparator, from each arm's
    log-scale ``(yi, sei)`` (:func:`median_effects`): ``yi = yE - yC``, ``sei = sqrt(seE^2 + seC^2)``."""
    ye, se = (np.asarray(a, dtype=float) for a in exp_effects)
    yc, sc = (np.asarray(a, dtype=float) for a in comp_effects)
    return ye - yc, np.sqrt(se**2 + sc**2)


# --------------------------------------------------------------------------------------- hazard ratios


def hr_not_poolable_reason(hr, lower, upper, level) -> str:
    """Why a reported hazard ratio cannot enter an inverse-variance pool ('' when it can)."""
    if _nan(hr):
        return "no hazard ratio reported"
    if _nan(lower) or _nan(upper) or _nan(level):
        return "no confidence interval reported"
    if not lower < upper:
        return "confidence interval of zero width"
    return ""


def hr_ci_asymmetry(hr, lower, upper, level):
    """``|ln HR - (ln L + ln U) / 2| / SE`` with ``SE = (ln U - ln L) / (2 z)``: how far, in standard
    errors, the estimate sits from the centre of its CI on the log scale (nan without a CI).

    metafor's ``conv.wald`` warns when the same distance exceeds 10% of the CI
    width, i.e. ``ci_asymmetry > 0.2 z`` (0.39 at 95%).
    """
    hr, lo, hi, lv = (np.asarray(a, dtype=float) for a in np.broadcast_arrays(hr, lower, upper, level))
    z = np.array([z_crit(v) if 0 < v < 1 else math.nan for v in lv.ravel()]).reshape(lv.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = (np.log(hi) - np.log(lo)) / (2.0 * z)
        out = np.abs(np.log(hr) - (np.log(lo) + np.log(hi)) / 2.0) / se
    return float(out) if out.ndim == 0 else out


def printed_decimals(value) -> int:
    """Decimals of a number as printed: counted in the string when given one ("0.60" -> 2), else read
    from the float's shortest representation (0.6 -> 1; a trailing zero cannot be seen)."""
    if isinstance(value, str):
        text = value.strip()
        return len(text.partition(".")[2]) if text not in ("", "NR") else 0
    if _nan(value):
        return 0
    exp = Decimal(repr(float(value))).normalize().as_tuple().exponent
    return max(0, -int(exp))


def hr_ci_not_centred(hr, lower, upper, decimals=None) -> bool:
    """True when ``ln HR`` cannot be the centre of ``(ln L, ln U)`` for any values that round to the printed ones.

    A number printed with ``d`` decimals stands for a value in ``[x - h, x + h]``,
    ``h = 0.5 * 10^-d``. The estimate is centred if the range of ``ln HR`` meets
    the range of ``(ln L + ln U) / 2``; otherwise the discrepancy is more than
    rounding explains and the HR is flagged (an interval from another model or
    estimate, or a typo).

    ``decimals``: the printed decimals of ``(hr, lower, upper)`` (a triple, or
    one number for all three); best counted in the printed strings
    (:func:`printed_decimals` of the text). When not given, the three are taken
    at the precision of the most precise of them, the convention that an HR and
    its CI are printed alike ("0.45 (0.35-0.60)" is stored as 0.45, 0.35, 0.6).
    """
    if _nan(hr) or _nan(lower) or _nan(upper):
        return False
    values = (float(hr), float(lower), float(upper))
    if decimals is None:
        decimals = max(printed_decimals(v) for v in values)
    if np.ndim(decimals) == 0:
        decimals = (int(decimals),) * 3

    def rng(x, d):
        h = 0.5 * 10.0 ** -d
        return (math.log(x - h) if x - h > 0 else -math.inf), math.log(x + h)

    (h_lo, h_hi), (l_lo, l_hi), (u_lo, u_hi) = (rng(x, d) for x, d in zip(values, decimals))
    c_lo, c_hi = (l_lo + u_lo) / 2.0, (l_hi + u_hi) / 2.0
    return bool(h_hi < c_lo or c_hi < h_lo)
