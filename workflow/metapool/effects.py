"""Per-study effect sizes and confidence intervals (the role of metafor's ``escalc``).

Everything here is a pure function over numpy arrays. Effect sizes are computed
once and every model consumes the same ``(yi, vi)``.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = [
    "clopper_pearson",
    "logit_effects",
    "logit",
    "ilogit",
    "z_crit",
    "se_from_ci",
]


def z_crit(level: float) -> float:
    """Two-sided standard-normal critical value for a ``level`` confidence interval."""
    return float(stats.norm.isf((1.0 - level) / 2.0))


def clopper_pearson(events, totals, level: float = 0.95):
    """Exact (Clopper-Pearson) confidence interval for a binomial proportion.

    Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated
    in the case of the binomial. Biometrika 1934;26:404-413.

    The limits are quantiles of beta distributions:
    ``lower = B(alpha/2; x, n - x + 1)``, ``upper = B(1 - alpha/2; x + 1, n - x)``,
    with ``lower = 0`` when ``x = 0`` and ``upper = 1`` when ``x = n`` (as R's
    ``binom.test``).

    Returns ``(lower, upper)`` arrays (floats for scalar input).
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    if np.any(x < 0) or np.any(x > n) or np.any(n <= 0):
        raise ValueError("clopper_pearson needs 0 <= events <= totals and totals > 0")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    alpha = 1.0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(x > 0, special.betaincinv(x, n - x + 1.0, alpha / 2.0), 0.0)
        upper = np.where(x < n, special.betaincinv(x + 1.0, n - x, 1.0 - alpha / 2.0), 1.0)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


def logit(p):
    """Log odds ``log(p / (1 - p))``."""
    return special.logit(p)


def ilogit(y):
    """Inverse logit, the back-transformation of metafor's ``transf.ilogit``."""
    return special.expit(y)


def logit_effects(events, totals, *, add: float = 0.5, to: str = "only0"):
    """Logit-transformed proportions and their sampling variances (``measure="PLO"``).

    ``yi = log(x / (n - x))`` and ``vi = 1/x + 1/(n - x)`` (the delta method).
    With ``to="only0"`` (metafor's default) ``add`` is added to the events and
    non-events of studies with 0 or n events only; ``to="all"`` adds it to every
    study and ``to="none"`` never (studies with 0 or n events then have infinite
    ``yi``, which the caller must reject).

    Returns ``(yi, vi)`` arrays.
    """
    x = np.asarray(events, dtype=float)
    n = np.asarray(totals, dtype=float)
    if np.any(x < 0) or np.any(x > n):
        raise ValueError("logit_effects needs 0 <= events <= totals")
    if to == "only0":
        cc = np.where((x == 0) | (x == n), add, 0.0)
    elif to == "all":
        cc = np.full_like(x, add)
    elif to == "none":
        cc = np.zeros_like(x)
    else:
        raise ValueError(f"to must be 'only0', 'all' or 'none', got {to!r}")
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
