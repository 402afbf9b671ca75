"""The one inverse-variance core: common- and random-effects pooling of one meta-analysis or many.

:func:`pool_many` pools ``G`` meta-analyses in one vectorised call (a multiverse, the subsets
of a leave-one-out or cumulative analysis); :func:`inverse_variance` is its one-group call,
through which every single pooled analysis goes (proportions on the logit scale, log medians,
log hazard ratios). Both are metafor's ``rma.uni`` for an intercept-only model (Viechtbauer
2010, J Stat Softw 36(3)). The groups are computed in lockstep
(:mod:`metapool.stats.lockstep`): a group's numbers are the same bit for bit whatever else
is in the call, and the same as when it is pooled alone.

The pieces every model of the engine shares are here and in
:mod:`metapool.stats.heterogeneity`: the Hartung-Knapp factor
(:func:`hartung_knapp_factor`), the critical values and Wald p-values
(:func:`critical_value`, :func:`wald_pvalue`), the check of the effect sizes
(:func:`check_effects`) and of the model options (:func:`check_model_options`). Every
public function of :mod:`metapool.stats` takes the model options under the same names:
``method`` (the tau^2 estimator), ``ci`` (``"z"`` or ``"hartung_knapp"``), ``hk_adhoc``,
``level`` and, where a prediction interval is computed, ``pi``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import distributions as dist
from ..vocabulary import CI_METHODS, PI_METHODS
from .heterogeneity import h2_from_q, h2_from_tau2, i2_from_q, i2_from_tau2, typical_within_variance
from .lockstep import ConvergenceError, Groups, as_scalar
from .tau2 import DEFAULT_CONTROL, Control, check_methods, estimate_tau2, q_statistic

__all__ = [
    "PoolResult",
    "BatchPoolResult",
    "inverse_variance",
    "pool_many",
    "hartung_knapp_factor",
    "critical_value",
    "wald_pvalue",
    "check_effects",
    "check_model_options",
]

_EPS = float(np.finfo(float).eps)


def check_effects(yi, vi) -> tuple[np.ndarray, np.ndarray]:
    """``yi`` and ``vi`` as one-dimensional float arrays, checked: same length, not empty, finite, ``vi > 0``.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.

    Returns
    -------
    yi, vi : ndarray
    """
    yi = np.asarray(yi, dtype=float).ravel()
    vi = np.asarray(vi, dtype=float).ravel()
    if yi.shape != vi.shape:
        raise ValueError("yi and vi must have the same length")
    if len(yi) == 0:
        raise ValueError("cannot pool zero studies")
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi)) and np.all(vi > 0)):
        raise ValueError("every study needs a finite effect size and a positive, finite variance")
    return yi, vi


def _first_not_in(values, allowed):
    """The first entry of ``values`` (a scalar or an array) not among ``allowed``, or None."""
    for value in np.ravel(np.asarray(values, dtype=object)).tolist():
        if value not in allowed:
            return value
    return None


def check_model_options(*, ci="z", pi="default", level=0.95) -> None:
    """Raise :class:`ValueError` for an unknown ``ci`` or ``pi`` or a ``level`` outside (0, 1).

    Parameters
    ----------
    ci, pi, level
        The options, each a scalar or an array with one entry per meta-analysis.
    """
    for name, values, allowed in (("ci", ci, CI_METHODS), ("pi", pi, PI_METHODS)):
        bad = _first_not_in(values, allowed)
        if bad is not None:
            raise ValueError(f"{name} must be one of {allowed}, got {bad!r}")
    levels = np.ravel(np.asarray(level, dtype=float))
    outside = ~((levels > 0.0) & (levels < 1.0))
    if outside.any():
        raise ValueError(f"level must be in (0, 1), got {np.ravel(np.asarray(level))[outside][0].item()!r}")


def hartung_knapp_factor(rss, df, *, adhoc=False):
    """The Hartung-Knapp-Sidik-Jonkman variance factor ``s2w = RSS_w / df``.

    ``RSS_w = sum w_i (y_i - x_i' b)^2`` with ``w_i = 1/(v_i + tau2)`` is the
    weighted residual sum of squares at the model's tau^2 (the generalised
    ``Q(tau2)`` of an intercept-only model) and ``df = k - p``. As metafor, an
    ``RSS_w`` below machine epsilon gives 0; with ``adhoc`` the factor is
    truncated at 1 from below, so the interval is never narrower than the z one.

    Hartung J, Knapp G. A refined method for the meta-analysis of controlled
    clinical trials with binary outcome. Stat Med 2001;20:3875-3889.
    Sidik K, Jonkman JN. A simple confidence interval for meta-analysis.
    Stat Med 2002;21:3153-3159.
    Knapp G, Hartung J. Improved tests for a random effects meta-regression
    with a single covariate. Stat Med 2003;22:2693-2710 (the ad hoc correction).

    Parameters
    ----------
    rss : float or ndarray
        Weighted residual sum of squares (one per meta-analysis).
    df : int or ndarray
        Residual degrees of freedom ``k - p``.
    adhoc : bool or ndarray
        Truncate the factor at 1.

    Returns
    -------
    float or ndarray
    """
    rss = np.asarray(rss, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2w = np.where(rss <= _EPS, 0.0, rss / df)
    return as_scalar(np.where(np.asarray(adhoc, dtype=bool) & (s2w < 1), 1.0, s2w))


def _normal_or_t(value, x, df, use_t):
    """``value(dist, x, *df)`` of the standard normal ``dist``, or of Student's t on ``df`` where ``use_t``
    (NaN where ``df < 1``), elementwise over the broadcast ``x``, ``df`` and ``use_t``."""
    shape = np.broadcast(np.asarray(x), np.asarray(df), np.asarray(use_t)).shape
    x = np.broadcast_to(np.asarray(x, dtype=float), shape).ravel()
    df = np.broadcast_to(np.asarray(df, dtype=float), shape).ravel()
    use_t = np.broadcast_to(np.asarray(use_t, dtype=bool), shape).ravel()
    out = np.asarray(value(dist.norm, x), dtype=float).copy()
    t = use_t & (df >= 1)
    if t.any():
        out[t] = value(dist.t, x[t], df[t])
    out[use_t & ~(df >= 1)] = np.nan
    return as_scalar(out.reshape(shape))


def critical_value(level, df, use_t):
    """The two-sided critical value at ``level``: the normal quantile, or Student's t on ``df`` where ``use_t``.

    The t quantile of ``df < 1`` is NaN.

    Parameters
    ----------
    level : float or ndarray
        Confidence level(s).
    df : float or ndarray
        Degrees of freedom of the t distribution.
    use_t : bool or ndarray
        Where to use the t distribution.

    Returns
    -------
    float or ndarray
    """
    return _normal_or_t(lambda dist, alpha, *df: dist.isf(alpha / 2, *df), 1.0 - np.asarray(level, dtype=float),
                        df, use_t)


def wald_pvalue(stat, df, use_t):
    """Two-sided p-value of a Wald statistic: normal, or Student's t on ``df`` where ``use_t`` (NaN when ``df < 1``).

    Parameters
    ----------
    stat : float or ndarray
        z or t statistics.
    df, use_t
        As :func:`critical_value`.

    Returns
    -------
    float or ndarray
    """
    return _normal_or_t(lambda dist, z, *df: 2 * dist.sf(z, *df), np.abs(np.asarray(stat, dtype=float)), df, use_t)


@dataclass(frozen=True)
class PoolResult:
    """A pooled estimate on the analysis scale (logit, log, ...).

    ``zval`` is the Wald statistic ``beta / se`` of the test for the overall effect (z, or t
    under Hartung-Knapp), ``ddf`` its degrees of freedom (``k - 1`` under Hartung-Knapp, NaN
    for z) and ``pval`` its two-sided p-value (:func:`wald_pvalue`): metafor's ``zval``,
    ``ddf`` and ``pval``. ``df`` is the degrees of freedom of Cochran's Q.
    """

    beta: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    tau2: float
    q: float
    df: int
    q_pvalue: float
    i2: float
    h2: float
    k: int
    weights: np.ndarray = field(repr=False)
    method: str = "REML"
    ci: str = "z"
    level: float = 0.95
    iterations: int = 0
    notes: tuple[str, ...] = ()
    zval: float = float("nan")
    ddf: float = float("nan")
    pval: float = float("nan")

    def __str__(self) -> str:
        from .printing import format_pool_result

        return format_pool_result(self)

    def summary(self) -> str:
        """A block like metafor's ``print.rma``: model, heterogeneity, the test for the overall effect."""
        return str(self)


@dataclass(frozen=True)
class BatchPoolResult:
    """Pooled estimates of ``G`` meta-analyses on the analysis scale, one array entry per group.

    Each entry equals the corresponding field of :class:`PoolResult` for that
    group. ``weights`` (percent) is aligned with the input studies. Groups with
    ``converged == False`` have NaN for tau2 and every quantity that depends on
    it (beta, se, intervals, I2, H2, weights) and the reason in ``message``; Q,
    its p-value, k and df do not depend on tau2 and are given. ``ci`` is the
    interval actually used (``"z"`` for single-study groups under Hartung-Knapp).
    ``zval``, ``ddf`` and ``pval`` are the test for the overall effect, as :class:`PoolResult`.
    """

    beta: np.ndarray
    se: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    tau2: np.ndarray
    q: np.ndarray
    df: np.ndarray
    q_pvalue: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    k: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    zval: np.ndarray
    ddf: np.ndarray
    pval: np.ndarray
    message: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    method: np.ndarray = field(repr=False)
    ci: np.ndarray = field(repr=False)
    level: np.ndarray = field(repr=False)
    pi: np.ndarray = field(repr=False)

    def __post_init__(self):
        for value in self.__dict__.values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    def __len__(self) -> int:
        return len(self.beta)

    def summary_frame(self, backtransform=None) -> pd.DataFrame:
        """One row per group (index ``group``); with ``backtransform`` (e.g. ``ilogit``, ``np.exp``)
        also ``estimate`` and the interval limits on the natural scale."""
        frame = pd.DataFrame(
            {
                "k": self.k,
                "method": self.method,
                "ci_method": self.ci,
                "level": self.level,
                "pi_method": self.pi,
                "beta": self.beta,
                "se": self.se,
                "zval": self.zval,
                "ddf": self.ddf,
                "pval": self.pval,
                "ci_lower": self.ci_lower,
                "ci_upper": self.ci_upper,
                "pi_lower": self.pi_lower,
                "pi_upper": self.pi_upper,
                "tau2": self.tau2,
                "q": self.q,
                "df": self.df,
                "q_pvalue": self.q_pvalue,
                "i2": self.i2,
                "h2": self.h2,
                "iterations": self.iterations,
                "converged": self.converged,
            },
            index=pd.RangeIndex(len(self), name="group"),
        )
        if backtransform is not None:
            for name, col in (("estimate", "beta"), ("estimate_ci_lower", "ci_lower"),
                              ("estimate_ci_upper", "ci_upper"), ("estimate_pi_lower", "pi_lower"),
                              ("estimate_pi_upper", "pi_upper")):
                frame[name] = backtransform(frame[col].to_numpy())
        return frame


def _per_group(value, n_groups: int, name: str, dtype) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n_groups, arr.item(), dtype=dtype)
    if arr.shape != (n_groups,):
        raise ValueError(f"{name} must be a scalar or have one entry per group ({n_groups}), got shape {arr.shape}")
    return arr


def pool_many(
    yi,
    vi,
    group,
    *,
    method="REML",
    ci="z",
    level=0.95,
    pi="default",
    hk_adhoc=False,
    control: Control = DEFAULT_CONTROL,
) -> BatchPoolResult:
    """Pool ``G`` meta-analyses at once by inverse variance (metafor's ``rma.uni`` for each).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances of all studies, 1-D arrays of equal length.
    group : array_like of int
        Meta-analysis id of each study, ``0 .. G-1`` in any order; every id
        must occur. Within a group the studies keep their input order.
    method : str or array of str
        ``"EE"`` for the common-effect (equal-effects) model, or a tau^2
        estimator for the random-effects model: ``DL``, ``HE``, ``SJ``, ``ML``,
        ``REML``, ``EB``, ``PM`` (see :mod:`metapool.stats.tau2`).
    ci : str or array of str
        ``"z"`` (normal quantiles) or ``"hartung_knapp"`` (variance scaled by
        :func:`hartung_knapp_factor`, t quantiles with k - 1 df; a single study
        gets the z interval, as metafor).
    level : float or ndarray
        Confidence level of the confidence and prediction intervals.
    pi : str or array of str
        Prediction interval (Higgins, Thompson & Spiegelhalter, J R Stat Soc A
        2009;172:137-159): ``"default"`` as metafor (normal under ``z``, t with
        k - 1 df under Hartung-Knapp), ``"normal"``, ``"t_k1"`` or ``"t_k2"``
        (t with k - 2 df, Riley et al. BMJ 2011;342:d549). The interval is
        ``beta +/- crit * sqrt(se^2 + tau2)``; for ``EE`` it is the confidence interval.
    hk_adhoc : bool or ndarray
        With Hartung-Knapp, never let the interval be narrower than the z one
        (``s2w`` truncated at 1; Knapp & Hartung 2003, metafor ``test="adhoc"``).
    control : Control
        Settings of the iterative tau^2 estimators (:class:`~metapool.stats.tau2.Control`,
        metafor's ``control``: ``threshold``, ``maxiter``, ``stepadj``), the same for every group.

    Each option is a scalar for all groups or an array with one entry per
    group, so a multiverse mixing estimators, interval methods and levels is
    one call.

    Returns
    -------
    BatchPoolResult
        Heterogeneity: Q (Cochran), I^2 and H^2 from tau^2 as metafor,
        ``I2 = 100 tau2 / (tau2 + vt)`` and ``H2 = 1 + tau2 / vt`` with the
        typical within-study variance ``vt`` (Higgins & Thompson, Stat Med
        2002;21:1539-1558); for the common-effect model the Q-based versions.
        The test for the overall effect: ``zval = beta / se``, referred to the
        normal distribution, or to Student's t on ``ddf = k - 1`` df under
        Hartung-Knapp (:func:`wald_pvalue`).
    """
    yi, vi = check_effects(yi, vi)
    group = np.asarray(group)
    if group.shape != yi.shape:
        raise ValueError("yi, vi and group must be one-dimensional arrays of equal length")
    groups, perm, ids = Groups.from_ids(group)
    n_groups = len(groups)
    method_g = _per_group(method, n_groups, "method", object).astype(str)
    ci_g = _per_group(ci, n_groups, "ci", object).astype(str)
    pi_g = _per_group(pi, n_groups, "pi", object).astype(str)
    level_g = _per_group(level, n_groups, "level", float)
    adhoc_g = _per_group(hk_adhoc, n_groups, "hk_adhoc", bool)
    check_model_options(ci=ci_g, pi=pi_g, level=level_g)
    check_methods(method_g)

    y, v = yi[perm], vi[perm]
    k = groups.k
    df = k - 1
    multi = k > 1
    meth, cis, pis, lev, adhoc = (x[ids] for x in (method_g, ci_g, pi_g, level_g, adhoc_g))
    est = estimate_tau2(y, v, meth, groups, control=control)
    tau2 = est.tau2
    ee = meth == "EE"
    with np.errstate(all="ignore"):
        wi = 1.0 / (v + groups.expand(tau2))
        s = groups.sum(wi)
        beta = groups.sum(wi * y) / s
        var_beta = 1.0 / s
        hk = (cis == "hartung_knapp") & multi
        if hk.any():
            s2w = hartung_knapp_factor(q_statistic(y, v, tau2, groups), df, adhoc=adhoc)
            var_beta = np.where(hk, var_beta * s2w, var_beta)
        se = np.sqrt(var_beta)
        crit = critical_value(lev, df, hk)
        ci_lower, ci_upper = beta - crit * se, beta + crit * se
        zval = beta / se
        ddf = np.where(hk, df, np.nan)
        pval = wald_pvalue(zval, df, hk)

        use_t_pi = np.where(pis == "default", hk, np.isin(pis, ("t_k1", "t_k2")))
        half = critical_value(lev, np.where(pis == "t_k2", k - 2, df), use_t_pi) * np.sqrt(var_beta + tau2)
        pi_lower = np.where(ee, ci_lower, beta - half)
        pi_upper = np.where(ee, ci_upper, beta + half)

        q = q_statistic(y, v, 0.0, groups)
        q_pvalue = np.ones(n_groups)
        if multi.any():
            q_pvalue[multi] = dist.chi2.sf(q[multi], df[multi])
        vt = typical_within_variance(v, groups)
        i2 = np.where(multi, np.where(ee, i2_from_q(q, df), i2_from_tau2(tau2, vt)), 0.0)
        h2 = np.where(multi, np.where(ee, h2_from_q(q, df), h2_from_tau2(tau2, vt)), 1.0)
        q = np.where(multi, q, 0.0)
        weights_sorted = 100.0 * wi / groups.expand(s)

    weights = np.empty_like(weights_sorted)
    weights[perm] = weights_sorted

    def by_id(x):
        out = np.empty_like(x)
        out[ids] = x
        return out

    return BatchPoolResult(
        beta=by_id(beta),
        se=by_id(se),
        ci_lower=by_id(ci_lower),
        ci_upper=by_id(ci_upper),
        pi_lower=by_id(pi_lower),
        pi_upper=by_id(pi_upper),
        tau2=by_id(tau2),
        q=by_id(q),
        df=by_id(df).astype(np.int64),
        q_pvalue=by_id(q_pvalue),
        i2=by_id(i2),
        h2=by_id(h2),
        k=by_id(k).astype(np.int64),
        iterations=by_id(est.iterations),
        converged=by_id(est.converged),
        zval=by_id(np.asarray(zval, dtype=float)),
        ddf=by_id(np.asarray(ddf, dtype=float)),
        pval=by_id(np.asarray(pval, dtype=float)),
        message=by_id(est.message),
        weights=weights,
        method=method_g,
        ci=by_id(np.where(multi, cis, "z")),
        level=level_g,
        pi=pi_g,
    )


def inverse_variance(
    yi,
    vi,
    *,
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    pi: str = "default",
    hk_adhoc: bool = False,
    control: Control = DEFAULT_CONTROL,
) -> PoolResult:
    """Pool effect sizes ``yi`` with sampling variances ``vi`` by inverse variance: the one-group :func:`pool_many`.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances of the studies.
    method, ci, level, pi, hk_adhoc, control
        The model, as in :func:`pool_many` (one value each).

    Returns
    -------
    PoolResult
        With ``notes`` for a single study (heterogeneity not estimable; the z
        interval under Hartung-Knapp). An estimator that does not converge
        raises :class:`~metapool.stats.lockstep.ConvergenceError` instead of
        returning a wrong number.
    """
    yi, vi = check_effects(yi, vi)
    res = pool_many(yi, vi, np.zeros(len(yi), dtype=np.intp), method=method, ci=ci, level=level, pi=pi,
                    hk_adhoc=hk_adhoc, control=control)
    if not res.converged[0]:
        raise ConvergenceError(res.message[0])
    k = int(res.k[0])
    notes: list[str] = []
    if k == 1:
        if ci == "hartung_knapp":
            notes.append("a single study: Hartung-Knapp needs k >= 2, the z interval is given (as metafor)")
        notes.append("a single study: heterogeneity is not estimable; the pooled estimate is that study's")
    return PoolResult(
        beta=float(res.beta[0]),
        se=float(res.se[0]),
        ci_lower=float(res.ci_lower[0]),
        ci_upper=float(res.ci_upper[0]),
        pi_lower=float(res.pi_lower[0]),
        pi_upper=float(res.pi_upper[0]),
        tau2=float(res.tau2[0]),
        q=float(res.q[0]),
        df=k - 1,
        q_pvalue=float(res.q_pvalue[0]),
        i2=float(res.i2[0]),
        h2=float(res.h2[0]),
        k=k,
        weights=res.weights.copy(),
        method=method,
        ci=str(res.ci[0]),
        level=level,
        iterations=int(res.iterations[0]),
        notes=tuple(notes),
        zval=float(res.zval[0]),
        ddf=float(res.ddf[0]),
        pval=float(res.pval[0]),
    )
