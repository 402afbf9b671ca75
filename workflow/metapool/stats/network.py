"""Contrast-based network meta-analysis on an inverse-variance scale (log HR, log OR, log ratio of medians).

:func:`network_meta_analysis` fits the common-effect (GLS) and the random-effects model with one
heterogeneity variance tau^2 shared by every comparison, the model of

    ``metafor::rma.mv(yi, V, mods = ~ <treatment contrasts> - 1, random = ~ comp | study, rho = 1/2)``

(Salanti et al. 2008; Viechtbauer 2010, J Stat Softw 36(3); metadat's ``dat.senn2013`` example), with tau^2
by REML (as ``rma.mv``) or by the generalised DerSimonian-Laird estimator (Jackson, White & Riley 2012;
Rücker 2012, the default of netmeta). A study contributes one contrast per non-baseline arm, all against
the same baseline arm; the contrasts of a multi-arm study share the baseline arm's variance as covariance.

The result (:class:`NetworkResult`) holds the basic parameters (each treatment versus the reference), the
league table of all pairwise comparisons, P-scores (Rücker & Schwarzer 2015) and SUCRA, the
design-by-treatment decomposition of Cochran's Q (Krahn, Binder & König 2013; netmeta's
``decomp.design``) and the direct / indirect split of each comparison in a loop (back-calculation, Bucher
et al. 1997; netmeta's ``netsplit``). A disconnected network is fitted per connected component.

Hand-written on numpy/scipy because neither scipy nor statsmodels fits a multivariate (contrast-based)
random-effects model with a structured between-study covariance; the REML estimate solves the restricted
score equation to ``brentq``'s tolerance and agrees with ``rma.mv`` to 1e-6 (tests/stats/test_network.py).

Model
-----
``y = X d + delta + e`` with ``e ~ N(0, V)`` (``V`` block-diagonal by study), ``delta ~ N(0, tau^2 G)``,
``G[i, j] = 1`` for the same contrast of the same study, ``1/2`` for two contrasts of one multi-arm study
(consistency of the arm-level random effects, Higgins & Whitehead 1996), 0 across studies. ``X`` has +1 in
the column of the contrast's treatment, -1 in that of its comparator, and no column for the reference, so
``d`` are the basic parameters. With ``M = V + tau^2 G`` and ``W = M^-1``:
``d_hat = (X'WX)^-1 X'W y`` and ``Cov(d_hat) = (X'WX)^-1``.

References
----------
Bucher HC, Guyatt GH, Griffith LE, Walter SD. The results of direct and indirect treatment comparisons in
meta-analysis of randomized controlled trials. J Clin Epidemiol 1997;50:683-691.
Dias S, Welton NJ, Caldwell DM, Ades AE. Checking consistency in mixed treatment comparison meta-analysis.
Stat Med 2010;29:932-944.
Jackson D, White IR, Riley RD. Quantifying the impact of between-study heterogeneity in multivariate
meta-analyses. Stat Med 2012;31:3805-3820.
Krahn U, Binder H, König J. A graphical tool for locating inconsistency in network meta-analyses. BMC Med
Res Methodol 2013;13:35.
Rücker G. Network meta-analysis, electrical networks and graph theory. Res Synth Methods 2012;3:312-324.
Rücker G, Schwarzer G. Ranking treatments in frequentist network meta-analysis works without resampling
methods. BMC Med Res Methodol 2015;15:58.
Salanti G, Higgins JPT, Ades AE, Ioannidis JPA. Evaluation of networks of randomized trials. Stat Methods
Med Res 2008;17:279-301.
Salanti G, Ades AE, Ioannidis JPA. Graphical methods and numerical summaries for presenting results from
multiple-treatment meta-analysis. J Clin Epidemiol 2011;64:163-171 (SUCRA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import distributions as dist
from .heterogeneity import i2_from_q
from .pooling import check_effects, critical_value, wald_pvalue

__all__ = [
    "NETWORK_METHODS",
    "NetworkResult",
    "NetworkHeterogeneity",
    "DesignQ",
    "LeagueTable",
    "SplitComparison",
    "Ranking",
    "network_meta_analysis",
    "network_components",
    "p_scores",
    "sucra",
    "league_table",
]

#: tau^2 estimators of :func:`network_meta_analysis`: ``"EE"`` (common effect, tau^2 = 0), ``"REML"``
#: (metafor's ``rma.mv`` default) and ``"DL"`` (generalised DerSimonian-Laird, netmeta's default).
NETWORK_METHODS = ("EE", "REML", "DL")
SMALL_VALUES = ("good", "bad")
RHO = 0.5


# ----------------------------------------------------------------------------------------------------------
# result objects


@dataclass(frozen=True)
class LeagueTable:
    """All pairwise comparisons: ``estimate[i, j]`` is treatment ``i`` versus treatment ``j``
    (``d_i - d_j``, the difference of two basic parameters) with ``se[i, j] = sqrt(C_ii + C_jj - 2 C_ij)``,
    the z interval and the two-sided Wald p-value; the diagonal is 0 (NaN for se, z and p)."""

    treatments: tuple[str, ...]
    estimate: np.ndarray
    se: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    zval: np.ndarray
    pval: np.ndarray

    def frame(self) -> pd.DataFrame:
        """Long format: one row per ordered pair ``treatment`` versus ``comparator`` (``i != j``)."""
        t = len(self.treatments)
        i, j = np.nonzero(~np.eye(t, dtype=bool))
        names = np.asarray(self.treatments, dtype=object)
        return pd.DataFrame({"treatment": names[i], "comparator": names[j], "estimate": self.estimate[i, j],
                             "se": self.se[i, j], "ci_lower": self.ci_lower[i, j], "ci_upper": self.ci_upper[i, j],
                             "zval": self.zval[i, j], "pval": self.pval[i, j]})


@dataclass(frozen=True)
class DesignQ:
    """Cochran's Q within one design (the set of treatments of a study): the residual Q of the studies of
    that design around their own design-specific estimates, on ``df`` degrees of freedom."""

    design: str
    studies: int
    q: float
    df: int
    pval: float


@dataclass(frozen=True)
class NetworkHeterogeneity:
    """Heterogeneity and inconsistency of a network (common-effect quantities, as netmeta's
    ``decomp.design``): ``q`` (total, ``df = n - (T - 1)``), ``q_within`` (sum of the within-design Q, the
    residual Q of the full design-by-treatment interaction model), ``q_between = q - q_within`` (the global
    inconsistency test), their p-values, ``i2`` (percent, ``max(0, (Q - df) / Q)``) and the per-design
    terms ``designs``. ``tau2`` is the model's heterogeneity variance."""

    tau2: float
    q: float
    df: int
    q_pvalue: float
    i2: float
    q_within: float
    df_within: int
    p_within: float
    q_between: float
    df_between: int
    p_between: float
    designs: tuple[DesignQ, ...]


@dataclass(frozen=True)
class SplitComparison:
    """Direct and indirect evidence on treatment ``treatment`` versus ``comparator``.

    ``direct`` is the inverse-variance pool of the studies that compare the two (with the network's
    tau^2 added under random effects), ``network`` the network estimate, ``indirect`` the back-calculated
    indirect estimate ``(d_net v_dir - d_dir v_net) / (v_dir - v_net)`` with variance
    ``v_dir v_net / (v_dir - v_net)``; ``z = (direct - indirect) / sqrt(v_dir + v_ind)`` tests their
    agreement. ``indirect`` is NaN when no indirect evidence exists (the two treatments are not connected
    once the direct studies are removed). ``prop_direct = v_net / v_dir``."""

    treatment: str
    comparator: str
    k_direct: int
    network: float
    network_se: float
    direct: float
    direct_se: float
    indirect: float
    indirect_se: float
    prop_direct: float
    difference: float
    difference_se: float
    zval: float
    pval: float


@dataclass(frozen=True)
class Ranking:
    """Rank probabilities and SUCRA from ``nsim`` draws of the basic parameters (multivariate normal):
    ``rank_probabilities[i, r]`` is the probability that treatment ``i`` has rank ``r + 1`` (1 = best),
    ``sucra[i] = sum_{r < T} P(rank_i <= r) / (T - 1)`` (Salanti et al. 2011), ``mean_rank`` its mean rank."""

    treatments: tuple[str, ...]
    small_values: str
    nsim: int
    seed: int
    rank_probabilities: np.ndarray
    mean_rank: np.ndarray
    sucra: np.ndarray


@dataclass(frozen=True)
class NetworkResult:
    """A fitted network meta-analysis (one connected network).

    ``estimate`` and ``cov`` are over all ``treatments`` (the reference's entry is 0), so that every
    pairwise comparison is ``estimate[i] - estimate[j]`` with variance ``cov[i, i] + cov[j, j] -
    2 cov[i, j]``. ``se``, ``zval``, ``pval``, ``ci_lower``, ``ci_upper`` are those of the basic
    parameters (each treatment versus ``reference``; NaN for the reference itself). ``components`` lists
    the connected components of the input network; when there is more than one, this result is the
    component holding ``reference`` and ``subnetworks`` has the fit of every component. ``notes`` says
    which covariances were assumed, a disconnected network, a tau^2 not estimable.
    """

    treatments: tuple[str, ...]
    reference: str
    method: str
    level: float
    k: int
    n_contrasts: int
    tau2: float
    estimate: np.ndarray
    cov: np.ndarray
    se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    loglik: float
    heterogeneity: NetworkHeterogeneity
    league: LeagueTable
    split: tuple[SplitComparison, ...]
    components: tuple[tuple[str, ...], ...]
    subnetworks: tuple["NetworkResult", ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def basic_parameters(self) -> tuple[str, ...]:
        """The treatments other than the reference, in the order of :attr:`treatments`."""
        return tuple(t for t in self.treatments if t != self.reference)

    def summary_frame(self) -> pd.DataFrame:
        """The basic parameters (each treatment versus the reference), as statsmodels' ``summary_frame``."""
        keep = np.asarray([t != self.reference for t in self.treatments])
        return pd.DataFrame({"treatment": np.asarray(self.treatments, dtype=object)[keep],
                             "comparator": self.reference, "estimate": self.estimate[keep], "se": self.se[keep],
                             "zval": self.zval[keep], "pval": self.pval[keep], "ci_lower": self.ci_lower[keep],
                             "ci_upper": self.ci_upper[keep]})

    def split_frame(self) -> pd.DataFrame:
        """Direct, indirect and network estimates of every directly compared pair (:class:`SplitComparison`)."""
        cols = list(SplitComparison.__dataclass_fields__)
        return pd.DataFrame([[getattr(s, c) for c in cols] for s in self.split], columns=cols)

    def p_scores(self, small_values: str = "good") -> np.ndarray:
        """P-scores of :attr:`treatments` (:func:`p_scores`)."""
        return p_scores(self.estimate, self.cov, small_values=small_values)

    def sucra(self, small_values: str = "good", *, nsim: int = 10_000, seed: int = 1) -> Ranking:
        """Rank probabilities and SUCRA of :attr:`treatments` (:func:`sucra`)."""
        return sucra(self.estimate, self.cov, small_values=small_values, nsim=nsim, seed=seed,
                     treatments=self.treatments)

    def __str__(self) -> str:
        from .printing import format_network

        return format_network(self)

    def summary(self) -> str:
        """The printed summary (``str(result)``)."""
        return str(self)


# ----------------------------------------------------------------------------------------------------------
# building blocks


def network_components(treatment, comparator) -> tuple[tuple[str, ...], ...]:
    """The connected components of the network graph (treatments are nodes, contrasts are edges).

    Parameters
    ----------
    treatment, comparator : array_like of str
        The two treatments of each contrast.

    Returns
    -------
    tuple of tuple of str
        Each component's treatments, sorted; components ordered by their first treatment.
    """
    treatment = np.asarray(treatment, dtype=str)
    comparator = np.asarray(comparator, dtype=str)
    names, codes = np.unique(np.concatenate([treatment, comparator]), return_inverse=True)
    n = len(treatment)
    adj = coo_matrix((np.ones(n), (codes[:n], codes[n:])), shape=(len(names), len(names)))
    _, labels = connected_components(adj, directed=False)
    comps = [tuple(names[labels == lab].tolist()) for lab in np.unique(labels)]
    return tuple(sorted(comps))


def _structure(study: np.ndarray, comp: np.ndarray) -> np.ndarray:
    """``G``: 1 on the diagonal (and for a repeated contrast of a study), ``RHO`` between two contrasts of one
    study, 0 across studies (metafor's ``struct = "CS"`` with ``rho = 1/2``)."""
    same = study[:, None] == study[None, :]
    return np.where(same, np.where(comp[:, None] == comp[None, :], 1.0, RHO), 0.0)


def _gls(X: np.ndarray, y: np.ndarray, M: np.ndarray):
    """Generalised least squares with covariance ``M``: coefficients, their covariance, ``W = M^-1``,
    the residuals and ``Q = r' W r``."""
    W = linalg.cho_solve(linalg.cho_factor(M), np.eye(len(y)))
    xtw = X.T @ W
    vb = np.linalg.inv(xtw @ X)
    vb = (vb + vb.T) / 2
    b = vb @ (xtw @ y)
    r = y - X @ b
    return b, vb, W, r, float(r @ W @ r)


def _projection(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``P = W - W X (X'WX)^-1 X'W``, the REML residual projector."""
    wx = W @ X
    return W - wx @ linalg.solve(X.T @ wx, wx.T, assume_a="pos")


def _reml_score(tau2: float, X, y, V, G) -> float:
    """The restricted score ``dl_R / d tau^2 = -1/2 tr(P G) + 1/2 y'PGPy`` (Harville 1977)."""
    P = _projection(X, linalg.cho_solve(linalg.cho_factor(V + tau2 * G), np.eye(len(y))))
    py = P @ y
    return float(-0.5 * np.sum(P * G) + 0.5 * py @ G @ py)


def _reml_loglik(tau2: float, X, y, V, G) -> float:
    """metafor's restricted log-likelihood of ``rma.mv`` (``REMLf = TRUE``):
    ``-1/2 (n - p) log(2 pi) + 1/2 log|X'X| - 1/2 log|M| - 1/2 log|X'WX| - 1/2 r'Wr``."""
    M = V + tau2 * G
    _, _, W, _, rss = _gls(X, y, M)
    n, p = X.shape
    return float(-0.5 * (n - p) * math.log(2 * math.pi) + 0.5 * np.linalg.slogdet(X.T @ X)[1]
                 - 0.5 * np.linalg.slogdet(M)[1] - 0.5 * np.linalg.slogdet(X.T @ W @ X)[1] - 0.5 * rss)


def _tau2_reml(X, y, V, G) -> float:
    """The REML estimate of tau^2: 0 when the restricted score at 0 is not positive, else the root of the
    score (``brentq``, ``xtol = 1e-13``), bracketed by doubling an upper bound.

    Solving the score equation rather than maximising the log-likelihood value locates the maximum to
    machine precision (a flat maximum of the likelihood is found only to about the square root of it)."""
    if _reml_score(0.0, X, y, V, G) <= 0:
        return 0.0
    hi = max(1.0, float(np.var(y)))
    for _ in range(200):
        if _reml_score(hi, X, y, V, G) < 0:
            break
        hi *= 2
    else:  # pragma: no cover - a likelihood increasing without bound would need infinite y
        raise RuntimeError("REML: no upper bound for tau^2 found")
    return float(optimize.brentq(_reml_score, 0.0, hi, args=(X, y, V, G), xtol=1e-13, rtol=4 * np.finfo(float).eps,
                                 maxiter=1000))


def _tau2_dl(X, V, G, q: float, df: int) -> float:
    """Generalised DerSimonian-Laird: ``max(0, (Q - df) / (tr(W G) - tr((X'WX)^-1 X'W G W X)))``, ``W = V^-1``,
    ``Q`` the common-effect residual Q on ``df = n - p`` (Jackson, White & Riley 2012; Rücker 2012, whose
    ``tr((I - H)(B B' * E / 2) W)`` over all pairwise comparisons with reduced weights is the same number)."""
    W = linalg.cho_solve(linalg.cho_factor(V), np.eye(len(V)))
    wx = W @ X
    denom = float(np.sum(W * G) - np.trace(linalg.solve(X.T @ wx, wx.T @ G @ wx, assume_a="pos")))
    return max(0.0, (q - df) / denom)


def league_table(estimate, cov, treatments, level: float = 0.95) -> LeagueTable:
    """The league table of all pairwise comparisons from the basic parameters.

    Parameters
    ----------
    estimate : array_like, shape (T,)
        Each treatment versus the reference (0 for the reference).
    cov : array_like, shape (T, T)
        Their covariance (zero row and column for the reference).
    treatments : sequence of str
        The treatment names.
    level : float
        Confidence level of the z intervals.

    Returns
    -------
    LeagueTable
        ``estimate[i, j] = d_i - d_j``, ``se[i, j] = sqrt(C_ii + C_jj - 2 C_ij)``, z-CI and Wald p-value.
    """
    d = np.asarray(estimate, dtype=float)
    C = np.asarray(cov, dtype=float)
    diag = np.diag(C)
    est = d[:, None] - d[None, :]
    var = diag[:, None] + diag[None, :] - 2 * C
    eye = np.eye(len(d), dtype=bool)
    se = np.where(eye, np.nan, np.sqrt(np.maximum(var, 0.0)))
    crit = critical_value(level, np.nan, False)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    arrays = {"estimate": est, "se": se, "ci_lower": est - crit * se, "ci_upper": est + crit * se, "zval": z,
              "pval": np.asarray(wald_pvalue(z, np.nan, False), dtype=float)}
    for a in arrays.values():
        a.setflags(write=False)
    return LeagueTable(treatments=tuple(treatments), **arrays)


def _check_small_values(small_values: str) -> None:
    if small_values not in SMALL_VALUES:
        raise ValueError(f"small_values must be one of {SMALL_VALUES}, got {small_values!r}")


def p_scores(estimate, cov, *, small_values: str = "good") -> np.ndarray:
    """P-scores (Rücker & Schwarzer 2015), the frequentist SUCRA, in closed form.

    ``P_i = 1/(T-1) sum_{j != i} Phi((d_j - d_i) / se_ij)`` when small values are good (a hazard ratio
    below 1 is better), ``Phi((d_i - d_j) / se_ij)`` when they are bad; ``se_ij`` is the standard error of
    ``d_i - d_j`` (netmeta's ``netrank``, argument ``small.values``).

    Parameters
    ----------
    estimate : array_like, shape (T,)
        Each treatment versus the reference (0 for the reference).
    cov : array_like, shape (T, T)
        Their covariance.
    small_values : {"good", "bad"}
        Whether small values of the effect favour a treatment.

    Returns
    -------
    ndarray, shape (T,)
    """
    _check_small_values(small_values)
    d = np.asarray(estimate, dtype=float)
    C = np.asarray(cov, dtype=float)
    diag = np.diag(C)
    se = np.sqrt(np.maximum(diag[:, None] + diag[None, :] - 2 * C, 0.0))
    sign = -1.0 if small_values == "good" else 1.0
    eye = np.eye(len(d), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = dist.norm.cdf(sign * (d[:, None] - d[None, :]) / np.where(eye, 1.0, se))
    return np.where(eye, 0.0, p).sum(axis=1) / (len(d) - 1)


def sucra(estimate, cov, *, small_values: str = "good", nsim: int = 10_000, seed: int = 1,
          treatments=None) -> Ranking:
    """Rank probabilities and SUCRA by resampling the basic parameters (Salanti, Ades & Ioannidis 2011).

    Draws ``nsim`` vectors from ``N(estimate, cov)`` (the reference fixed at 0), ranks the treatments in
    each draw (1 = best: smallest when ``small_values = "good"``) and returns
    ``SUCRA_i = (T - mean rank_i) / (T - 1)``. Its expectation is the P-score (Rücker & Schwarzer 2015).

    Parameters
    ----------
    estimate, cov
        As :func:`p_scores`.
    small_values : {"good", "bad"}
        Whether small values favour a treatment.
    nsim : int
        Number of draws.
    seed : int
        Seed of ``numpy.random.default_rng``.
    treatments : sequence of str, optional
        Names (default ``"1"``, ``"2"``, ...).

    Returns
    -------
    Ranking
    """
    _check_small_values(small_values)
    d = np.asarray(estimate, dtype=float)
    C = np.asarray(cov, dtype=float)
    t = len(d)
    free = np.diag(C) > 0
    draws = np.tile(d, (nsim, 1))
    rng = np.random.default_rng(seed)
    draws[:, free] = rng.multivariate_normal(d[free], C[np.ix_(free, free)], size=nsim, method="cholesky")
    order = np.argsort(draws if small_values == "good" else -draws, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(t)[None, :], axis=1)
    probs = np.stack([(ranks == r).mean(axis=0) for r in range(t)], axis=1)
    mean_rank = ranks.mean(axis=0) + 1
    names = tuple(treatments) if treatments is not None else tuple(str(i + 1) for i in range(t))
    return Ranking(treatments=names, small_values=small_values, nsim=nsim, seed=seed, rank_probabilities=probs,
                   mean_rank=mean_rank, sucra=(t - mean_rank) / (t - 1))


# ----------------------------------------------------------------------------------------------------------
# input


def _check_network(study, treatment, comparator, yi, vi, shared_var):
    yi, vi = check_effects(yi, vi)
    study = np.asarray(study, dtype=str).ravel()
    treatment = np.asarray(treatment, dtype=str).ravel()
    comparator = np.asarray(comparator, dtype=str).ravel()
    n = len(yi)
    if not (len(study) == len(treatment) == len(comparator) == n):
        raise ValueError("study, treatment, comparator, yi and vi must have the same length")
    if np.any(treatment == comparator):
        raise ValueError("a contrast compares a treatment with itself")
    shared = np.full(n, np.nan) if shared_var is None else np.asarray(shared_var, dtype=float).ravel()
    if len(shared) != n:
        raise ValueError("shared_var must have one entry per contrast")
    _, s_codes = np.unique(study, return_inverse=True)
    order = np.lexsort((treatment, s_codes))
    s, t, c = s_codes[order], treatment[order], comparator[order]
    same = s[1:] == s[:-1]
    if np.any(same & (c[1:] != c[:-1])):
        raise ValueError("the contrasts of a multi-arm study must all be against the same baseline arm")
    if np.any(same & (t[1:] == t[:-1])):
        raise ValueError("a study has two contrasts for the same treatment")
    return study, treatment, comparator, yi, vi, shared, s_codes


def _study_covariance(s_codes, vi, shared):
    """Per-contrast covariance with the other contrasts of its study: the shared (baseline) arm's variance
    when given, else half the smallest contrast variance of the study; and which studies were given none."""
    nst = s_codes.max() + 1
    counts = np.bincount(s_codes, minlength=nst)
    given = np.full(nst, np.nan)
    ok = np.isfinite(shared)
    if np.any(ok & (shared < 0)):
        raise ValueError("shared_var must be non-negative")
    given[s_codes[ok]] = shared[ok]
    if np.any(ok & (shared != given[s_codes])):
        raise ValueError("the contrasts of one study must be given the same shared_var")
    vmin = np.full(nst, np.inf)
    np.minimum.at(vmin, s_codes, vi)
    if np.any((counts > 1) & (given >= vmin)):
        raise ValueError("shared_var must be smaller than every contrast variance of its study "
                         "(the other arms' variances are the differences)")
    assumed = np.isnan(given) & (counts > 1)
    cov = np.where(np.isnan(given), vmin / 2, given)
    return cov[s_codes], assumed


def _designs(s_codes, ti, ci, names):
    """Each contrast's design label: the sorted treatments of its study joined by ``":"`` (from the study x
    treatment membership matrix; one string per distinct design)."""
    arms = np.zeros((s_codes.max() + 1, len(names)), dtype=bool)
    arms[s_codes, ti] = True
    arms[s_codes, ci] = True
    unique, inverse = np.unique(arms, axis=0, return_inverse=True)
    labels = np.asarray([":".join(np.asarray(names)[row]) for row in unique], dtype=object)
    return labels[np.ravel(inverse)[s_codes]]


def _design_matrix(design, treatment, comparator):
    """The full design-by-treatment interaction model: one parameter per (design, non-baseline treatment),
    the design's baseline being its first treatment in sorted order."""
    base = np.asarray([d.split(":")[0] for d in design], dtype=object)
    key_t = np.asarray([f"{d}\x00{t}" for d, t in zip(design, treatment)], dtype=object)
    key_c = np.asarray([f"{d}\x00{c}" for d, c in zip(design, comparator)], dtype=object)
    free_t, free_c = treatment != base, comparator != base
    cols = np.unique(np.concatenate([key_t[free_t], key_c[free_c]]))
    X = np.zeros((len(design), len(cols)))
    rows = np.arange(len(design))
    X[rows[free_t], np.searchsorted(cols, key_t[free_t])] += 1.0
    X[rows[free_c], np.searchsorted(cols, key_c[free_c])] -= 1.0
    return X


def _incidence(ti, ci, t):
    """``X`` (n x t) with +1 at the contrast's treatment code ``ti`` and -1 at its comparator code ``ci``."""
    X = np.zeros((len(ti), t))
    rows = np.arange(len(ti))
    X[rows, ti] = 1.0
    X[rows, ci] = -1.0
    return X


def _chi2_sf(q, df):
    return float(dist.chi2.sf(q, df)) if df >= 1 else math.nan


# ----------------------------------------------------------------------------------------------------------
# the fit


def network_meta_analysis(study, treatment, comparator, yi, vi, *, shared_var=None, reference: str | None = None,
                          method: str = "REML", level: float = 0.95) -> NetworkResult:
    """Contrast-based network meta-analysis (common effect or random effects with one shared tau^2).

    ``method = "REML"`` is ``metafor::rma.mv(yi, V, mods = ~ <contrasts> - 1, random = ~ comp | study,
    rho = 1/2, method = "REML")``; ``"EE"`` is the same model with tau^2 = 0 (GLS, metafor's ``method =
    "FE"``); ``"DL"`` takes the generalised DerSimonian-Laird tau^2 of netmeta (Jackson, White & Riley
    2012; Rücker 2012). Inference on the basic parameters is by z (Wald) tests and intervals.

    Parameters
    ----------
    study : array_like of str
        The study of each contrast.
    treatment, comparator : array_like of str
        The contrast is ``treatment`` versus ``comparator`` (e.g. log HR of treatment over comparator).
        The contrasts of a multi-arm study must share their ``comparator`` (the baseline arm).
    yi, vi : array_like of float
        Effect sizes on the analysis scale and their sampling variances.
    shared_var : array_like of float, optional
        The variance of the baseline arm of a multi-arm study (its contrasts' covariance), e.g.
        ``1/(x + 1/2) + 1/(n - x + 1/2)`` for log odds ratios (Gleser & Olkin 2009, eq. 19.11); NaN or
        omitted: half the smallest contrast variance of the study is assumed (said in ``notes``).
    reference : str, optional
        The reference treatment of the basic parameters (default: the most frequent comparator, ties in
        sorted order).
    method : {"REML", "DL", "EE"}
        Estimator of tau^2.
    level : float
        Confidence level.

    Returns
    -------
    NetworkResult
        For a disconnected network, the fit of the component holding ``reference``, with every
        component's fit in ``subnetworks`` and a note.
    """
    if method not in NETWORK_METHODS:
        raise ValueError(f"method must be one of {NETWORK_METHODS}, got {method!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    study, treatment, comparator, yi, vi, shared, s_codes = _check_network(study, treatment, comparator, yi, vi,
                                                                           shared_var)
    names = sorted(set(treatment.tolist()) | set(comparator.tolist()))
    if reference is None:
        comps, counts = np.unique(comparator, return_counts=True)
        reference = str(comps[np.argmax(counts)])
    elif reference not in names:
        raise ValueError(f"reference {reference!r} is not a treatment of the network")
    components = network_components(treatment, comparator)
    if len(components) > 1:
        fits = []
        for comp in components:
            rows = np.isin(treatment, comp)
            ref = reference if reference in comp else None
            fits.append(network_meta_analysis(study[rows], treatment[rows], comparator[rows], yi[rows], vi[rows],
                                              shared_var=shared[rows], reference=ref, method=method, level=level))
        main = next(f for f in fits if reference in f.treatments)
        note = (f"the network is disconnected: {len(components)} components "
                f"({'; '.join(', '.join(c) for c in components)}), fitted separately; this is the component of "
                f"{reference!r}, every component is in subnetworks")
        return NetworkResult(**{**main.__dict__, "components": components, "subnetworks": tuple(fits),
                                "notes": main.notes + (note,)})
    return _fit_connected(study, treatment, comparator, yi, vi, shared, s_codes, names, reference, method, level,
                          components)


def _fit_connected(study, treatment, comparator, yi, vi, shared, s_codes, names, reference, method, level,
                   components) -> NetworkResult:
    notes = []
    cov_rows, assumed = _study_covariance(s_codes, vi, shared)
    if assumed.any():
        which = sorted(set(study[assumed[s_codes]].tolist()))
        notes.append("covariance of the contrasts of a multi-arm study assumed to be half the smaller contrast "
                     f"variance (no shared-arm variance given): {', '.join(which)}")
    same_study = s_codes[:, None] == s_codes[None, :]
    V = np.where(same_study, cov_rows[:, None], 0.0)
    V[np.diag_indices_from(V)] = vi
    comp = np.asarray([f"{t}\x00{c}" for t, c in zip(treatment, comparator)], dtype=object)
    G = _structure(s_codes, comp)

    ti = np.searchsorted(names, treatment)
    ci = np.searchsorted(names, comparator)
    X_full = _incidence(ti, ci, len(names))
    ref_idx = names.index(reference)
    basic = [i for i in range(len(names)) if i != ref_idx]
    X = X_full[:, basic]
    n, p = X.shape
    df = n - p

    # common-effect Q and its design-by-treatment decomposition (Krahn et al. 2013)
    _, _, W0, r0, q = _gls(X, yi, V)
    design = _designs(s_codes, ti, ci, names)
    Xd = _design_matrix(design, treatment, comparator)
    _, _, _, rd, q_within = _gls(Xd, yi, V)
    df_within = n - Xd.shape[1]
    contrib = rd * (W0 @ rd)  # V is block-diagonal by study, so r'V^-1 r splits by design
    dnames, dcodes = np.unique(design, return_inverse=True)
    q_by_design = np.bincount(dcodes, weights=contrib, minlength=len(dnames))
    member = dcodes[:, None] == np.arange(len(dnames))[None, :]  # contrast x design
    studies_d = np.bincount(dcodes[np.unique(s_codes, return_index=True)[1]], minlength=len(dnames))
    df_d = member.sum(axis=0) - ((member.T.astype(float) @ np.abs(Xd)) > 0).sum(axis=1)
    with np.errstate(invalid="ignore"):
        p_d = np.where(df_d >= 1, dist.chi2.sf(q_by_design, np.maximum(df_d, 1)), np.nan)
    designs = [DesignQ(design=str(name), studies=int(studies_d[i]), q=float(q_by_design[i]), df=int(df_d[i]),
                       pval=float(p_d[i])) for i, name in enumerate(dnames)]
    q_between = q - q_within
    df_between = df - df_within

    if method == "EE":
        tau2 = 0.0
    elif df < 1:
        tau2 = 0.0
        notes.append(f"tau^2 not estimable (df = {df}): set to 0")
    elif method == "DL":
        tau2 = _tau2_dl(X, V, G, q, df)
    else:
        tau2 = _tau2_reml(X, yi, V, G)
    M = V + tau2 * G
    b, vb, _, _, _ = _gls(X, yi, M)
    t = len(names)
    d = np.zeros(t)
    d[basic] = b
    C = np.zeros((t, t))
    C[np.ix_(basic, basic)] = vb
    crit = critical_value(level, np.nan, False)
    se = np.sqrt(np.diag(C))
    se[ref_idx] = np.nan
    z = d / se
    het = NetworkHeterogeneity(
        tau2=tau2, q=q, df=df, q_pvalue=_chi2_sf(q, df), i2=float(i2_from_q(q, df)), q_within=q_within,
        df_within=df_within, p_within=_chi2_sf(q_within, df_within), q_between=q_between, df_between=df_between,
        p_between=_chi2_sf(q_between, df_between), designs=tuple(designs))
    pval = np.asarray(wald_pvalue(z, np.nan, False), dtype=float)
    lower, upper = d - crit * se, d + crit * se
    for a in (d, C, se, z, pval, lower, upper):
        a.setflags(write=False)
    return NetworkResult(
        treatments=tuple(names), reference=reference, method=method, level=level,
        k=int(s_codes.max() + 1), n_contrasts=n, tau2=tau2, estimate=d, cov=C, se=se, zval=z,
        pval=pval, ci_lower=lower, ci_upper=upper,
        loglik=_reml_loglik(tau2, X, yi, V, G) if method == "REML" else math.nan,
        heterogeneity=het, league=league_table(d, C, names, level),
        split=_split(s_codes, treatment, comparator, ti, ci, yi, M, names, d, C),
        components=components, notes=tuple(notes))


def _split(s_codes, treatment, comparator, ti, ci, yi, M, names, d, C) -> tuple[SplitComparison, ...]:
    """Direct, back-calculated indirect and network estimate of every directly compared pair (netsplit)."""
    nst = s_codes.max() + 1
    t = len(names)
    # arm membership (study x treatment) and the map from (study, arm) to the contrast row (-1: the baseline)
    arms = np.zeros((nst, t), dtype=bool)
    arms[s_codes, ti] = True
    arms[s_codes, ci] = True
    row_of = np.full((nst, t), -1)
    row_of[s_codes, ti] = np.arange(len(yi))
    out = []
    for a in range(t):
        for b in range(a + 1, t):
            direct_studies = np.nonzero(arms[:, a] & arms[:, b])[0]
            if len(direct_studies) == 0:
                continue
            # study-level a-versus-b contrasts: L y with L = e(row of a) - e(row of b)
            L = np.zeros((len(direct_studies), len(yi)))
            ra, rb = row_of[direct_studies, a], row_of[direct_studies, b]
            k = np.arange(len(direct_studies))
            L[k[ra >= 0], ra[ra >= 0]] += 1.0
            L[k[rb >= 0], rb[rb >= 0]] -= 1.0
            y_dir = L @ yi
            v_dir_i = np.einsum("ij,jk,ik->i", L, M, L)
            w = 1.0 / v_dir_i
            v_dir = 1.0 / w.sum()
            direct = float((w * y_dir).sum() * v_dir)
            net = d[a] - d[b]
            v_net = C[a, a] + C[b, b] - 2 * C[a, b]
            others = ~np.isin(s_codes, direct_studies)
            indirect = v_ind = math.nan
            if others.any() and v_dir > v_net * (1 + 1e-10):
                ta, tb = names[a], names[b]
                comps = network_components(treatment[others], comparator[others])
                if any(ta in c and tb in c for c in comps):
                    v_ind = v_dir * v_net / (v_dir - v_net)
                    indirect = (net * v_dir - direct * v_net) / (v_dir - v_net)
            diff = direct - indirect
            diff_se = math.sqrt(v_dir + v_ind)
            zval = diff / diff_se
            out.append(SplitComparison(
                treatment=names[a], comparator=names[b], k_direct=len(direct_studies), network=float(net),
                network_se=math.sqrt(v_net), direct=direct, direct_se=math.sqrt(v_dir), indirect=float(indirect),
                indirect_se=math.sqrt(v_ind), prop_direct=float(v_net / v_dir), difference=float(diff),
                difference_se=diff_se, zval=float(zval),
                pval=float(wald_pvalue(zval, np.nan, False)) if math.isfinite(zval) else math.nan))
    return tuple(out)
