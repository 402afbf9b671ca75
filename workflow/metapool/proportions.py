"""Pooling single-arm proportions (objective response rates)."""

from __future__ import annotations

import numpy as np

from .effects import ilogit, logit_effects
from .pooling import inverse_variance
from .results import PooledEstimate

__all__ = ["pool_proportions", "TRANSFORMS"]

TRANSFORMS = ("logit",)


def pool_proportions(
    events,
    totals,
    *,
    transform: str = "logit",
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    pi: str = "default",
    hk_adhoc: bool = False,
) -> PooledEstimate:
    """Random-effects (or common-effect) meta-analysis of single-group proportions.

    The proportions are logit transformed (continuity correction 1/2 only for
    studies with 0 or n events, as metafor's ``escalc(measure="PLO")``), pooled
    by :func:`metapool.pooling.inverse_variance` and the estimate, confidence
    and prediction limits back-transformed with the inverse logit. This is
    metafor's ``rma(measure="PLO", xi, ni, method, test, level)`` followed by
    ``predict(..., transf=transf.ilogit)``.

    Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event
    outcome in the framework of the generalized linear mixed model with
    applications in sparse data. Stat Med 2010;29:3046-3067 (on the logit
    scale for proportions).
    """
    events = np.asarray(events, dtype=float)
    totals = np.asarray(totals, dtype=float)
    if events.shape != totals.shape or events.ndim != 1:
        raise ValueError("events and totals must be one-dimensional arrays of equal length")
    if np.any(totals <= 0) or np.any(events < 0) or np.any(events > totals):
        raise ValueError("need 0 <= events <= totals and totals > 0 for every study")
    if np.any(events != np.round(events)) or np.any(totals != np.round(totals)):
        raise ValueError("events and totals must be whole numbers")
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS}, got {transform!r}")
    yi, vi = logit_effects(events, totals)
    model = inverse_variance(yi, vi, method=method, ci=ci, level=level, pi=pi, hk_adhoc=hk_adhoc)
    return PooledEstimate.from_model(model, ilogit, transform)
