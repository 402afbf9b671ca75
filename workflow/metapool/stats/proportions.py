"""Pooling single-arm proportions (objective response rates).

Four two-step (transform, pool by inverse variance, back-transform) analyses,
each as metafor's ``rma(measure = ..., xi, ni, method, test, level)``
followed by ``predict(..., transf = ...)``:

============== ============= ============================ =====================================
transform      escalc        sampling variance            back-transformation (pooled values)
============== ============= ============================ =====================================
logit          ``PLO``       ``1/x + 1/(n - x)``          ``transf.ilogit``
freeman_tukey  ``PFT``       ``1/(4n + 2)``               ``transf.ipft.hm`` (harmonic mean n)
arcsine        ``PAS``       ``1/(4n)``                   ``transf.iarcsin``
raw            ``PR``        ``p(1 - p)/n``               identity
============== ============= ============================ =====================================

The logit and raw proportions get 1/2 added to the events and non-events of
studies with 0 or n events (metafor's default ``add = 1/2, to = "only0"``; ``add``
and ``to`` of :func:`pool_proportions` choose another correction);
the two arcsine transforms are defined at 0 and n and get no correction.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ..vocabulary import IV_TRANSFORMS
from .effects import (arcsine_effects, freeman_tukey_effects, iarcsine, ifreeman_tukey_hm, ilogit,
                      logit_effects, raw_effects)
from .heterogeneity import not_estimable, q_profile_ci
from .pooling import inverse_variance
from .tau2 import DEFAULT_CONTROL, Control
from .results import PooledEstimate

__all__ = ["pool_proportions", "proportion_effects", "backtransform"]


def _check(events, totals) -> tuple[np.ndarray, np.ndarray]:
    events = np.asarray(events, dtype=float)
    totals = np.asarray(totals, dtype=float)
    if events.shape != totals.shape or events.ndim != 1:
        raise ValueError("events and totals must be one-dimensional arrays of equal length")
    if events.size == 0:
        raise ValueError("cannot pool zero studies")
    if np.any(totals <= 0) or np.any(events < 0) or np.any(events > totals):
        raise ValueError("need 0 <= events <= totals and totals > 0 for every study")
    if np.any(events != np.round(events)) or np.any(totals != np.round(totals)):
        raise ValueError("events and totals must be whole numbers")
    return events, totals


def proportion_effects(events, totals, transform: str = "logit", *, add: float = 0.5,
                       to: str = "only0") -> tuple[np.ndarray, np.ndarray]:
    """Per-study ``(yi, vi)`` on the analysis scale of ``transform``, as metafor's ``escalc``.

    ``add`` and ``to`` are the continuity correction of the logit and raw
    proportions (:func:`~metapool.stats.effects.continuity_correction`; metafor's
    defaults ``add = 1/2, to = "only0"``). The two arcsine transforms are defined
    at 0 and n events and take no correction: any other ``add``/``to`` is an error.
    """
    if transform not in IV_TRANSFORMS:
        raise ValueError(f"transform must be one of {IV_TRANSFORMS}, got {transform!r}")
    events, totals = _check(events, totals)
    if transform == "logit":
        return logit_effects(events, totals, add=add, to=to)
    if transform == "raw":
        return raw_effects(events, totals, add=add, to=to)
    if (add, to) != (0.5, "only0"):
        raise ValueError(f"transform {transform!r} takes no continuity correction (defined at 0 and n events); "
                         f"got add={add!r}, to={to!r}")
    if transform == "freeman_tukey":
        return freeman_tukey_effects(events, totals)
    return arcsine_effects(events, totals)


def backtransform(transform: str, totals=None):
    """The function taking pooled values on the ``transform`` scale back to proportions.

    For ``freeman_tukey`` it is Miller's inversion with the harmonic mean of
    ``totals`` (the included studies' sample sizes), metafor's
    ``transf.ipft.hm`` with ``targs = list(ni = totals)``.
    """
    if transform == "logit":
        return ilogit
    if transform == "freeman_tukey":
        if totals is None:
            raise ValueError("the Freeman-Tukey back-transformation needs the studies' totals")
        n = np.asarray(totals, dtype=float)
        return lambda t: ifreeman_tukey_hm(t, n)
    if transform == "arcsine":
        return iarcsine
    if transform == "raw":
        return lambda y: y
    raise ValueError(f"transform must be one of {IV_TRANSFORMS}, got {transform!r}")


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
    heterogeneity_ci: bool = True,
    add: float = 0.5,
    to: str = "only0",
    control: Control = DEFAULT_CONTROL,
) -> PooledEstimate:
    """Random-effects (or common-effect) meta-analysis of single-group proportions.

    The proportions are transformed (``transform``, see the module table),
    pooled by :func:`metapool.stats.pooling.inverse_variance` and the estimate,
    confidence and prediction limits back-transformed. This is metafor's
    ``rma(measure = "PLO" | "PFT" | "PAS" | "PR", xi, ni, method, test, level)``
    followed by ``predict(..., transf = transf.ilogit | transf.ipft.hm
    (targs = list(ni = ni)) | transf.iarcsin | identity)``.

    With ``heterogeneity_ci`` (default) the Q-profile confidence intervals for
    tau^2, I^2 and H^2 (:func:`metapool.stats.heterogeneity.q_profile_ci`, metafor's
    ``confint``) are attached as ``result.heterogeneity``; for a single study or
    the common-effect model (``method="EE"``) they are marked not estimable.

    The raw proportions can give limits outside [0, 1] (identity
    back-transformation, as metafor); a note says so.

    ``add`` and ``to`` are escalc's continuity correction of the logit and raw
    proportions (:func:`~metapool.stats.effects.continuity_correction`: ``"only0"``,
    ``"all"``, ``"if0all"``, ``"none"``). With ``to="none"`` a study with 0 or n
    events has an infinite logit (or a zero variance): it is an error naming the
    studies, never dropped as metafor does. ``control`` is passed to the tau^2
    estimator (:class:`~metapool.stats.tau2.Control`).

    References: Stijnen T, Hamza TH, Ozdemir P. Stat Med 2010;29:3046-3067
    (logit); Freeman MF, Tukey JW. Ann Math Stat 1950;21:607-611 and Miller JJ.
    Am Stat 1978;32:138 (double arcsine and its inverse); Barendregt JJ et al.
    J Epidemiol Community Health 2013;67:974-978 (arcsine transforms for
    prevalence); Schwarzer G et al. Res Synth Methods 2019;10:476-483 (why the
    Freeman-Tukey back-transformation can mislead).
    """
    if transform not in IV_TRANSFORMS:
        raise ValueError(f"transform must be one of {IV_TRANSFORMS}, got {transform!r}")
    events, totals = _check(events, totals)
    yi, vi = proportion_effects(events, totals, transform, add=add, to=to)
    bad = ~(np.isfinite(yi) & np.isfinite(vi) & (vi > 0))
    if np.any(bad):
        rows = ", ".join(f"study {i + 1} ({int(events[i])}/{int(totals[i])})" for i in np.flatnonzero(bad))
        raise ValueError(f"transform {transform!r} with continuity correction to={to!r}: {rows} "
                         "(0 or all events) have an infinite effect size or zero sampling variance and "
                         "cannot be pooled by inverse variance")
    model = inverse_variance(yi, vi, method=method, ci=ci, level=level, pi=pi, hk_adhoc=hk_adhoc,
                             control=control)
    if transform == "raw":
        outside = [v for v in (model.ci_lower, model.ci_upper, model.pi_lower, model.pi_upper)
                   if not math.isnan(v) and not 0.0 <= v <= 1.0]
        if outside:
            model = replace(model, notes=model.notes + (
                "raw proportions: a confidence or prediction limit lies outside [0, 1] (not truncated, as metafor)",))
    het = None
    if heterogeneity_ci:
        if method == "EE":
            het = not_estimable("common-effect model: no between-study variance to estimate", level=level,
                                tau2=0.0, i2=model.i2, h2=model.h2)
        else:
            het = q_profile_ci(yi, vi, model.tau2, level=level, i2=model.i2, h2=model.h2)
    return PooledEstimate.from_model(model, backtransform(transform, totals), transform, heterogeneity=het)
