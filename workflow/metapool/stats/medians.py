"""Median of medians and weighted median of medians, with the sign-test (order-statistic) CI.

McGrath S, Zhao X, Qin ZZ, Steele R, Benedetti A. One-sample aggregate data
meta-analysis of medians. Stat Med 2019;38:969-984.

For studies that report a median but no confidence interval, the pooled median
is the median of the study medians (MM) or their weighted median with weights
proportional to the sample size (WM). Neither needs a standard error, so
neither goes through the inverse-variance core.

The confidence interval inverts the sign test: among ``k`` independent medians
of a population whose median is ``theta``, the number below ``theta`` is
``Binomial(k, 1/2)``, so the order statistics ``(y_(r), y_(k-r+1))`` cover
``theta`` with probability ``1 - 2 P(B <= r - 1)`` (Conover WJ. Practical
Nonparametric Statistics, 3rd ed. Wiley 1999, section 3.2). ``r`` is the
largest rank whose coverage is still at least the requested level; the exact
coverage is reported with the interval. With too few studies (k < 6 at 95%)
not even ``(y_(1), y_(k))`` reaches the level and no interval is given.

The weighted version replaces the order statistics by weighted quantiles at the
same probabilities ``r / k`` and ``(k - r + 1) / k`` (as metamedian's
``pool.med(yi, wi, norm.approx = FALSE)``); with equal weights it is the
unweighted interval. (metamedian 1.x's unweighted exact branch takes
``y_(k-r)`` as the upper limit; the order statistic with the stated coverage is
``y_(k-r+1)``, which is used here.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "MedianOfMedians",
    "median_of_medians",
    "sign_test_rank",
    "weighted_median",
    "weighted_median_of_medians",
    "weighted_quantile",
]

# cumulative weights within this relative distance of a probability count as equal to it
_TIE = 1e-12


@dataclass(frozen=True)
class MedianOfMedians:
    """A pooled median from the (weighted) median of medians, with its sign-test interval."""

    estimate: float
    ci_lower: float
    ci_upper: float
    level: float
    coverage: float  # exact coverage of the interval (nan when there is none)
    k: int
    rank: int  # r: the interval is (y_(r), y_(k-r+1)); 0 when no interval reaches the level
    weights: np.ndarray  # percent
    weighted: bool
    notes: tuple[str, ...] = ()

    # the fields of metapool.stats.results.ROW_FIELDS that a median of medians does not estimate
    pi_lower = pi_upper = tau2 = i2 = h2 = q = df = q_pvalue = beta = se = zval = ddf = pval = math.nan

    @property
    def method(self) -> str:
        return "weighted_median_of_medians" if self.weighted else "median_of_medians"

    def __str__(self) -> str:
        from .printing import format_median_of_medians

        return format_median_of_medians(self)

    def summary(self) -> str:
        """A readable block: the pooled median, its sign-test interval and exact coverage."""
        return str(self)

    def summary_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "estimate": [self.estimate], "ci_lower": [self.ci_lower], "ci_upper": [self.ci_upper],
            "level": [self.level], "coverage": [self.coverage], "k": [self.k], "rank": [self.rank],
            "method": [self.method],
        })


def sign_test_rank(k: int, level: float = 0.95) -> tuple[int, float]:
    """``(r, coverage)``: the largest ``r`` with ``1 - 2 P(Bin(k, 1/2) <= r - 1) >= level``.

    ``r = 0`` (and coverage nan) when even ``(y_(1), y_(k))``, of coverage
    ``1 - 2^(1-k)``, falls short of ``level``.
    """
    if k < 1:
        raise ValueError("need at least one median")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    from scipy import stats  # here: importing scipy.stats costs ~0.3 s (metapool.stats.distributions)

    r = 0
    for cand in range(1, (k + 1) // 2 + 1):
        cover = 1.0 - 2.0 * float(stats.binom.cdf(cand - 1, k, 0.5))
        if cover >= level:
            r = cand
        else:
            break
    if r == 0:
        return 0, math.nan
    return r, 1.0 - 2.0 * float(stats.binom.cdf(r - 1, k, 0.5))


def _sorted(values, weights):
    y = np.asarray(values, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    if y.ndim != 1 or y.shape != w.shape:
        raise ValueError("values and weights must be one-dimensional arrays of equal length")
    if len(y) == 0:
        raise ValueError("need at least one median")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(w)) and np.all(w > 0)):
        raise ValueError("every median must be finite and every weight finite and positive")
    order = np.argsort(y, kind="mergesort")
    y, w = y[order], w[order]
    return y, np.cumsum(w) / w.sum()


def weighted_quantile(values, weights, p: float) -> float:
    """The smallest value whose cumulative normalised weight reaches ``p`` (inverse weighted ECDF).

    With equal weights and ``p = j / k`` this is the order statistic ``y_(j)``.
    """
    y, cum = _sorted(values, weights)
    j = int(np.searchsorted(cum, p * (1.0 - _TIE), side="left"))
    return float(y[min(j, len(y) - 1)])


def weighted_median(values, weights=None) -> float:
    """Weighted median: the value where the cumulative weight reaches 1/2; the midpoint of the two
    values either side when it equals 1/2 exactly (so equal weights give the ordinary median)."""
    y, cum = _sorted(values, weights)
    j = int(np.searchsorted(cum, 0.5 * (1.0 - _TIE), side="left"))
    if abs(cum[j] - 0.5) <= _TIE and j + 1 < len(y):
        return float((y[j] + y[j + 1]) / 2.0)
    return float(y[j])


def _pool(values, weights, level: float, weighted: bool) -> MedianOfMedians:
    y = np.asarray(values, dtype=float)
    k = len(y)
    w = np.ones(k) if weights is None else np.asarray(weights, dtype=float)
    estimate = weighted_median(y, w)
    r, coverage = sign_test_rank(k, level)
    notes = []
    if r == 0:
        lower = upper = math.nan
        notes.append(
            f"{k} {'study' if k == 1 else 'studies'}: too few for a sign-test {100 * level:g}% CI "
            f"(the widest interval, from the smallest to the largest median, covers {100 * (1 - 2 * 0.5**k):.1f}%)"
        )
    else:
        lower = weighted_quantile(y, w, r / k)
        upper = weighted_quantile(y, w, (k - r + 1) / k)
        notes.append(
            f"sign-test CI from the order statistics {r} and {k - r + 1} of {k}"
            + (" (weighted quantiles)" if weighted else "")
            + f", exact coverage {100 * coverage:.1f}%"
        )
    return MedianOfMedians(
        estimate=estimate, ci_lower=lower, ci_upper=upper, level=level, coverage=coverage, k=k, rank=r,
        weights=100.0 * w / w.sum(), weighted=weighted, notes=tuple(notes),
    )


def median_of_medians(medians, level: float = 0.95) -> MedianOfMedians:
    """The median of the study medians (MM; McGrath et al. 2019) with the sign-test CI.

    Example (hand-checkable): the medians 0.50, 0.59, 0.78, 2.20, 3.10, 3.48,
    4.00, 5.06, 5.23 (k = 9) give 3.10; ``P(Bin(9, 1/2) <= 1) = 10/512``, so
    ``r = 2`` and the 95% CI is ``(y_(2), y_(8)) = (0.59, 5.06)`` with exact
    coverage ``1 - 20/512 = 96.1%``.
    """
    return _pool(medians, None, level, weighted=False)


def weighted_median_of_medians(medians, sample_sizes, level: float = 0.95) -> MedianOfMedians:
    """The weighted median of the study medians, weights proportional to sample size (WM; McGrath et al. 2019),
    with the sign-test CI at weighted quantiles."""
    return _pool(medians, sample_sizes, level, weighted=True)
