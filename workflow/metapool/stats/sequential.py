"""Trial sequential analysis of a cumulative meta-analysis: alpha-spending monitoring boundaries.

A cumulative meta-analysis tests the pooled estimate again each time a trial is added; at a fixed 5% level its
repeated tests find "significance" too often. Trial sequential analysis (Wetterslev et al. 2008; Thorlund et
al. 2011) treats each cumulative look as an interim analysis of a group-sequential design whose total
information is the required information size: the cumulative z statistic is compared with two-sided
monitoring boundaries from the Lan-DeMets alpha-spending function of O'Brien-Fleming type, and the evidence is
called conclusive (for the configured effect) when z crosses them.

* :func:`obrien_fleming_spending` -- two-sided alpha spent by information fraction ``t``: each side spends
  ``alpha/2`` by the O'Brien-Fleming-type function of Lan & DeMets (1983),
  ``2 - 2 Phi(z_{1 - alpha/4} / sqrt(t))``, so the total is ``alpha(t) = 4 - 4 Phi(z_{1 - alpha/4} / sqrt(t))``
  for ``0 < t <= 1`` and ``alpha`` from ``t = 1`` on (the symmetric two-sided convention of the TSA software,
  R's ldbounds and gsDesign).
* :func:`spending_boundaries` -- the two-sided symmetric boundaries ``c_1, ..., c_K`` on the z scale such that
  ``P(|Z_j| < c_j for j < k, |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1})`` under the null, by the recursive
  numerical integration of Armitage, McPherson & Rowe (1969) (Jennison & Turnbull 2000, ch. 19): the score
  ``S_k = Z_k sqrt(t_k)`` has independent normal increments of variance ``t_k - t_{k-1}``; its sub-density on
  the continuation region is carried from look to look on composite Gauss-Legendre nodes, and each ``c_k`` is
  the root of the exit probability. Written here because neither scipy nor statsmodels computes
  group-sequential boundaries.
* :func:`required_information_size` -- ``I = ((z_{1 - alpha/2} + z_{1 - beta}) / delta)^2 / (1 - D^2)``: the
  information (1 / variance of the pooled estimate) needed to detect ``delta`` on the analysis scale with power
  ``1 - beta``, inflated for heterogeneity by the diversity ``D^2 = 1 - v_common / v_random`` (Wetterslev,
  Thorlund, Brok & Gluud 2009).
* :func:`trial_sequential` -- the looks of a cumulative meta-analysis against those boundaries.

References
----------
Armitage P, McPherson CK, Rowe BC. Repeated significance tests on accumulating data. J R Stat Soc A
1969;132:235-244.
Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials. Biometrika 1983;70:659-663.
Jennison C, Turnbull BW. Group Sequential Methods with Applications to Clinical Trials. Chapman & Hall/CRC,
2000, chapter 19.
Wetterslev J, Thorlund K, Brok J, Gluud C. Trial sequential analysis may establish when firm evidence is
reached in cumulative meta-analysis. J Clin Epidemiol 2008;61:64-75.
Wetterslev J, Thorlund K, Brok J, Gluud C. Estimating required information size by quantifying diversity in
random-effects model meta-analyses. BMC Med Res Methodol 2009;9:86.
Thorlund K, Engstrom J, Wetterslev J, Brok J, Imberger G, Gluud C. User manual for trial sequential analysis
(TSA). Copenhagen Trial Unit, 2011.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

__all__ = [
    "obrien_fleming_spending",
    "spending_boundaries",
    "required_information_size",
    "diversity",
    "SequentialResult",
    "trial_sequential",
]

_PANELS = 48  # composite Gauss-Legendre: panels x nodes over each continuation region
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(16)


def _check_alpha(alpha: float) -> None:
    if not (isinstance(alpha, (int, float)) and 0.0 < alpha < 1.0):
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def obrien_fleming_spending(t, alpha: float = 0.05):
    """Two-sided alpha spent by information fraction ``t`` (Lan-DeMets, O'Brien-Fleming type, per side).

    Each side spends ``alpha/2`` as ``2 - 2 Phi(z_{1 - alpha/4} / sqrt(t))`` (Lan & DeMets, Biometrika
    1983;70:659-663), so ``alpha(t) = 4 - 4 Phi(z_{1 - alpha/4} / sqrt(t))`` for ``0 < t <= 1``, ``alpha`` for
    ``t >= 1`` and 0 at ``t = 0``. With ``alpha = 0.05`` and five equally spaced looks the boundaries are
    4.877, 3.357, 2.680, 2.290, 2.031 (:func:`spending_boundaries`).

    Parameters
    ----------
    t : float or array_like
        Information fractions, ``t >= 0``.
    alpha : float
        Two-sided significance level of the whole sequence.

    Returns
    -------
    float or ndarray
        The cumulative alpha spent at each ``t``.
    """
    _check_alpha(alpha)
    t = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t)) or np.any(t < 0):
        raise ValueError("information fractions must be finite and >= 0")
    z = stats.norm.isf(alpha / 4.0)
    positive = np.clip(t, np.finfo(float).tiny, 1.0)
    spent = np.where(t > 0, 4.0 * stats.norm.sf(z / np.sqrt(positive)), 0.0)
    spent = np.where(t >= 1.0, alpha, spent)
    return float(spent) if spent.ndim == 0 else spent


def _nodes(b: float) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre nodes and weights on (-b, b)."""
    edges = np.linspace(-b, b, _PANELS + 1)
    half = np.diff(edges) / 2.0
    mid = (edges[:-1] + edges[1:]) / 2.0
    x = (mid[:, None] + half[:, None] * _NODES[None, :]).ravel()
    w = (half[:, None] * _WEIGHTS[None, :]).ravel()
    return x, w


def spending_boundaries(fractions, alpha: float = 0.05) -> np.ndarray:
    """Two-sided symmetric z boundaries of the O'Brien-Fleming-type alpha-spending function at ``fractions``.

    Look ``k`` spends ``alpha(t_k) - alpha(t_{k-1})`` (:func:`obrien_fleming_spending`): its boundary ``c_k``
    solves ``P(|Z_j| < c_j, j < k; |Z_k| >= c_k) = alpha(t_k) - alpha(t_{k-1})`` under the null, computed by
    recursive numerical integration (Armitage, McPherson & Rowe 1969; Jennison & Turnbull 2000, ch. 19) of the
    score ``S_k = Z_k sqrt(t_k)``, whose increments are independent ``N(0, t_k - t_{k-1})``. The first
    boundary is ``z_{1 - alpha(t_1)/2}`` exactly.

    Information beyond the required size: the first look with ``t >= 1`` spends what is left of ``alpha``;
    a later look spends nothing, and its boundary is kept at that look's value (the boundary stops moving
    once the required information is reached).

    Parameters
    ----------
    fractions : array_like
        Strictly increasing information fractions ``t_1 < ... < t_K``, ``t_1 > 0``.
    alpha : float
        Two-sided significance level.

    Returns
    -------
    ndarray
        ``c_1, ..., c_K`` (z scale).
    """
    _check_alpha(alpha)
    t = np.asarray(fractions, dtype=float)
    if t.ndim != 1 or t.size == 0 or np.any(~np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
        raise ValueError("information fractions must be finite, > 0 and strictly increasing")
    spent = obrien_fleming_spending(np.minimum(t, 1.0), alpha)
    bounds = np.empty(t.size)
    bounds[0] = stats.norm.isf(spent[0] / 2.0)
    x, w = _nodes(bounds[0] * math.sqrt(t[0]))
    dens = stats.norm.pdf(x, scale=math.sqrt(t[0]))  # sub-density of S_1 on the continuation region
    for k in range(1, t.size):
        if t[k - 1] >= 1.0:
            bounds[k:] = bounds[k - 1]
            break
        target = spent[k] - spent[k - 1]
        sd = math.sqrt(t[k] - t[k - 1])  # the information actually added (beyond 1 too)
        root = math.sqrt(t[k])
        mass = w * dens

        def exit_probability(c, mass=mass, sd=sd, root=root):
            b = c * root
            return float(np.sum(mass * (stats.norm.sf((b - x) / sd) + stats.norm.cdf((-b - x) / sd))))

        bounds[k] = optimize.brentq(lambda c: exit_probability(c) - target, 0.0, 40.0, xtol=1e-12, rtol=1e-14,
                                    maxiter=200)
        nx, nw = _nodes(bounds[k] * root)
        dens_next = (stats.norm.pdf((nx[:, None] - x[None, :]) / sd) / sd) @ mass
        x, w, dens = nx, nw, dens_next
    return bounds


def required_information_size(delta: float, *, alpha: float = 0.05, beta: float = 0.2,
                              diversity: float = 0.0) -> float:
    """Information (1 / variance of the pooled estimate) needed to detect ``delta`` on the analysis scale.

    ``I = ((z_{1 - alpha/2} + z_{1 - beta}) / delta)^2 / (1 - D^2)`` (Wetterslev et al. 2008, 2009): a two-sided
    test at ``alpha`` with power ``1 - beta``, inflated for heterogeneity by the diversity
    ``D^2 = 1 - v_common / v_random`` of the meta-analysis (0 for a common-effect analysis). For a hazard ratio
    ``delta = log(HR)``, and ``4 I`` is Schoenfeld's number of events with 1:1 allocation.

    Parameters
    ----------
    delta : float
        The effect to detect on the analysis scale (non-zero).
    alpha, beta : float
        Two-sided type I error and type II error.
    diversity : float
        ``D^2`` in [0, 1).

    Returns
    -------
    float
        The required information.
    """
    _check_alpha(alpha)
    if not (0.0 < beta < 1.0):
        raise ValueError(f"beta must be in (0, 1), got {beta!r}")
    if not (math.isfinite(delta) and delta != 0.0):
        raise ValueError(f"delta must be a finite non-zero effect, got {delta!r}")
    if not (0.0 <= diversity < 1.0):
        raise ValueError(f"diversity D^2 must be in [0, 1), got {diversity!r}")
    z = stats.norm.isf(alpha / 2.0) + stats.norm.isf(beta)
    return (z / delta) ** 2 / (1.0 - diversity)


def diversity(vi, tau2: float) -> float:
    """The diversity ``D^2 = 1 - v_common / v_random`` of a meta-analysis (Wetterslev et al. 2009).

    ``v_common = 1 / sum(1 / v_i)`` is the variance of the common-effect pooled estimate and
    ``v_random = 1 / sum(1 / (v_i + tau^2))`` that of the random-effects estimate with the fitted ``tau^2``:
    the relative variance reduction lost to heterogeneity, 0 when ``tau^2 = 0``.

    Parameters
    ----------
    vi : array_like
        The studies' sampling variances (finite, > 0).
    tau2 : float
        The between-study variance of the random-effects fit (>= 0).

    Returns
    -------
    float
        ``D^2`` in [0, 1).
    """
    v = np.asarray(vi, dtype=float)
    if v.ndim != 1 or v.size == 0 or np.any(~np.isfinite(v)) or np.any(v <= 0):
        raise ValueError("sampling variances must be finite and > 0")
    if not (math.isfinite(tau2) and tau2 >= 0.0):
        raise ValueError(f"tau2 must be finite and >= 0, got {tau2!r}")
    common = 1.0 / np.sum(1.0 / v)
    random = 1.0 / np.sum(1.0 / (v + tau2))
    return float(max(0.0, 1.0 - common / random))


@dataclass(frozen=True)
class SequentialResult:
    """The looks of a cumulative meta-analysis against trial-sequential monitoring boundaries.

    ``z[k]`` is the cumulative z statistic ``(estimate_k - null) / se_k``, ``fraction[k]`` the information
    fraction ``(1 / se_k^2) / required_information``, ``boundary[k]`` the two-sided O'Brien-Fleming-type
    boundary at that fraction; ``crossed`` is the first look (0-based) with ``|z| >= boundary``, or ``None``.
    Looks with no information added (the same ``se``) are not new looks and are refused by the caller.
    """

    z: np.ndarray
    fraction: np.ndarray
    boundary: np.ndarray
    required_information: float
    alpha: float
    beta: float
    crossed: int | None

    def summary_frame(self):
        """One row per look: z, information fraction, boundary, whether the boundary is crossed."""
        import pandas as pd

        return pd.DataFrame({"look": np.arange(1, self.z.size + 1), "z": self.z, "fraction": self.fraction,
                             "boundary": self.boundary, "crossed": np.abs(self.z) >= self.boundary})


def trial_sequential(estimates, ses, *, null: float, delta: float, alpha: float = 0.05, beta: float = 0.2,
                     diversity: float = 0.0) -> SequentialResult:
    """Trial sequential analysis of the looks of a cumulative meta-analysis (analysis scale).

    Parameters
    ----------
    estimates, ses : array_like
        The cumulative pooled estimate and its standard error after each added study, in order.
    null : float
        The value tested (0 for a log hazard ratio; ``logit(p0)`` for a response rate against ``p0``).
    delta : float
        The effect the required information size is computed for (:func:`required_information_size`).
    alpha, beta, diversity : float
        As :func:`required_information_size`; ``alpha`` is also the boundaries' level.

    Returns
    -------
    SequentialResult
    """
    est = np.asarray(estimates, dtype=float)
    se = np.asarray(ses, dtype=float)
    if est.shape != se.shape or est.ndim != 1 or est.size == 0:
        raise ValueError("estimates and ses must be one-dimensional, of the same length, not empty")
    if np.any(~np.isfinite(est)) or np.any(~np.isfinite(se)) or np.any(se <= 0):
        raise ValueError("estimates must be finite and standard errors finite and > 0")
    required = required_information_size(delta, alpha=alpha, beta=beta, diversity=diversity)
    fraction = (1.0 / se**2) / required
    if np.any(np.diff(fraction) <= 0):
        raise ValueError("the information must increase from look to look (each look adds a study)")
    boundary = spending_boundaries(fraction, alpha)
    z = (est - null) / se
    hits = np.flatnonzero(np.abs(z) >= boundary)
    return SequentialResult(z=z, fraction=fraction, boundary=boundary, required_information=required,
                            alpha=alpha, beta=beta, crossed=int(hits[0]) if hits.size else None)
