"""Absolute effects for a summary-of-findings table (Cochrane Handbook ch. 14.1.5).

A hazard ratio is turned into the intervention group's implied median survival and event-free proportion
from an assumed comparator value, under proportional hazards (Skoetz et al. 2020, J Clin Epidemiol 118:124,
GRADE guidelines 27: time-to-event outcomes); a one-arm proportion into responders per 1,000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["AbsoluteEffect", "median_from_hazard_ratio", "event_free_from_hazard_ratio", "per_thousand"]


@dataclass(frozen=True)
class AbsoluteEffect:
    """An absolute effect: the comparator's assumed value and the intervention's implied value with its CI.

    ``comparator`` is None for a one-arm measure (no comparator group).
    """

    comparator: float | None
    intervention: float
    lower: float
    upper: float


def _check_hr(hr: float, lower: float, upper: float) -> None:
    if not all(math.isfinite(x) and x > 0 for x in (hr, lower, upper)) or not (lower <= hr <= upper):
        raise ValueError(f"hazard ratio {hr!r} with CI {lower!r} to {upper!r} must be positive with lower <= "
                         "hr <= upper")


def median_from_hazard_ratio(median_comparator: float, hr: float, lower: float, upper: float) -> AbsoluteEffect:
    """The intervention group's implied median: ``median_C / HR`` (CI ``median_C / upper`` to
    ``median_C / lower``).

    Exact under proportional hazards with exponential survival, where the median is ``log 2 / hazard``
    (Skoetz et al. 2020, J Clin Epidemiol 118:124; Cochrane Handbook 14.1.5).

    Parameters
    ----------
    median_comparator : float
        The assumed comparator median (months).
    hr, lower, upper : float
        The hazard ratio (intervention vs comparator) and its CI.
    """
    _check_hr(hr, lower, upper)
    if not (math.isfinite(median_comparator) and median_comparator > 0):
        raise ValueError(f"the comparator median must be positive, got {median_comparator!r}")
    return AbsoluteEffect(median_comparator, median_comparator / hr, median_comparator / upper,
                          median_comparator / lower)


def event_free_from_hazard_ratio(survival_comparator: float, hr: float, lower: float,
                                 upper: float) -> AbsoluteEffect:
    """The intervention group's event-free proportion at a time t: ``S_I(t) = S_C(t) ** HR``.

    Holds under proportional hazards alone (``S_I = exp(-HR * H_C)``); the CI is ``S_C ** upper`` to
    ``S_C ** lower`` (Skoetz et al. 2020, J Clin Epidemiol 118:124; Cochrane Handbook 14.1.5).

    Parameters
    ----------
    survival_comparator : float
        The assumed comparator event-free proportion at t, in (0, 1).
    hr, lower, upper : float
        The hazard ratio (intervention vs comparator) and its CI.
    """
    _check_hr(hr, lower, upper)
    if not (0.0 < survival_comparator < 1.0):
        raise ValueError(f"the comparator event-free proportion must be in (0, 1), got {survival_comparator!r}")
    s = survival_comparator
    return AbsoluteEffect(s, s ** hr, s ** upper, s ** lower)


def per_thousand(proportion: float, lower: float, upper: float) -> AbsoluteEffect:
    """A one-arm proportion and its CI as events (responders) per 1,000, rounded to whole people
    (Cochrane Handbook 14.1.5)."""
    if not all(0.0 <= x <= 1.0 for x in (proportion, lower, upper)) or not (lower <= proportion <= upper):
        raise ValueError(f"proportion {proportion!r} with CI {lower!r} to {upper!r} must lie in [0, 1] in order")
    return AbsoluteEffect(None, float(round(1000 * proportion)), float(round(1000 * lower)),
                          float(round(1000 * upper)))
