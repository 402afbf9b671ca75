"""Survival outcomes onto the inverse-variance core: median PFS/OS and hazard ratios.

Medians are pooled on the log scale with the standard error recovered from the
reported confidence interval, ``SE = (ln U - ln L) / (2 z)`` (McGrath S, Zhao X,
Qin ZZ, Steele R, Benedetti A. One-sample aggregate data meta-analysis of
medians. Stat Med 2019;38:969-984). Hazard ratios are pooled as log HR with the
SE from their CI (Cochrane Handbook for Systematic Reviews of Interventions,
version 6.4, section 6.3.2). Both go through
:func:`metapool.pooling.inverse_variance`.
"""

from __future__ import annotations

import numpy as np

from .effects import se_from_ci
from .pooling import inverse_variance
from .results import PooledEstimate

__all__ = ["log_scale_effects", "pool_log_scale", "median_not_poolable_reason", "hr_not_poolable_reason"]


def median_not_poolable_reason(median_nr: bool, median, lower, upper, lower_nr: bool, upper_nr: bool, level) -> str:
    """Why a reported median cannot enter an inverse-variance pool ('' when it can)."""
    if median_nr:
        return "median not reached"
    if upper_nr:
        return "upper CI limit not reached"
    if lower_nr:
        return "lower CI limit not reached"
    if np.isnan(lower) or np.isnan(upper) or np.isnan(level):
        return "no confidence interval reported"
    if not lower < upper:
        return "confidence interval of zero width"
    return ""


def hr_not_poolable_reason(hr, lower, upper, level) -> str:
    """Why a reported hazard ratio cannot enter an inverse-variance pool ('' when it can)."""
    if np.isnan(hr):
        return "no hazard ratio reported"
    if np.isnan(lower) or np.isnan(upper) or np.isnan(level):
        return "no confidence interval reported"
    if not lower < upper:
        return "confidence interval of zero width"
    return ""


def log_scale_effects(estimate, lower, upper, level):
    """``(yi, sei)`` on the log scale for ratio-type estimates (medians, HRs) with their CIs.

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
    level_reported,
    *,
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    pi: str = "default",
    hk_adhoc: bool = False,
) -> PooledEstimate:
    """Inverse-variance pooling of medians or hazard ratios on the log scale.

    ``estimate``, ``lower``, ``upper`` are on the natural scale and
    ``level_reported`` is the level of each reported CI; the result is
    back-transformed with ``exp``. Equivalent to metafor's
    ``rma(yi = log(estimate), sei = (log(upper) - log(lower)) / (2 * qnorm(1 - (1 - level) / 2)))``.
    """
    yi, sei = log_scale_effects(estimate, lower, upper, level_reported)
    model = inverse_variance(yi, sei**2, method=method, ci=ci, level=level, pi=pi, hk_adhoc=hk_adhoc)
    return PooledEstimate.from_model(model, np.exp, "log")
