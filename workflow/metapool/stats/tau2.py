"""Between-study variance (tau^2) estimators of the random-effects model, for one meta-analysis or many.

Each estimator is one function named as in the literature (``tau2_dl``, ``tau2_reml``, ...),
written once for ``G`` meta-analyses computed in lockstep (:mod:`metapool.stats.lockstep`).
Called with the studies of one meta-analysis (``groups=None``) it returns a
:class:`Tau2Estimate` and raises :class:`ConvergenceError` when the estimator does not
converge; called with ``groups`` it returns :class:`Tau2Estimates`, one entry per group, a
group that does not converge getting NaN and the message, without affecting the others.

The estimators follow metafor's ``rma.uni`` (Viechtbauer 2010, J Stat Softw 36(3)) step
for step, including starting values, stopping rules and truncation at zero, so that the
numbers agree to floating-point precision:

* a group of one study has tau^2 = 0 (heterogeneity is not estimable);
* the iterative estimators (ML, REML, EB) run :func:`fisher_scoring` from the Hedges
  estimate, stop when the change is at most ``control.threshold`` (1e-5) and fail after
  ``control.maxiter`` (100) steps instead of returning a wrong number (:class:`Control`,
  metafor's ``control = list(threshold, maxiter, stepadj)``);
* PM solves its estimating equation with Brent's method exactly as R's ``uniroot``
  does (:func:`paule_mandel_search`, tolerance ``.Machine$double.eps^0.25``) on
  ``[0, max(100, 10 mad(yi)^2)]`` (:func:`pm_upper_bound`).

The design-matrix estimators of meta-regression (:mod:`metapool.stats.regression`) are
the generalisation of these to ``y = X beta + u + e``; they share :func:`fisher_scoring`
and :func:`paule_mandel_search`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from ..vocabulary import TAU2_METHODS
from .lockstep import UNIROOT_TOL, ConvergenceError, Groups, WorkingSet, libm, max0, zeroin

__all__ = [
    "ConvergenceError",
    "Control",
    "DEFAULT_CONTROL",
    "Tau2Estimate",
    "Tau2Estimates",
    "TAU2_ESTIMATORS",
    "check_methods",
    "estimate_tau2",
    "tau2_ee",
    "tau2_dl",
    "tau2_he",
    "tau2_sj",
    "tau2_ml",
    "tau2_reml",
    "tau2_eb",
    "tau2_pm",
    "q_statistic",
    "fisher_scoring",
    "paule_mandel_search",
    "pm_upper_bound",
    "mad",
]

THRESHOLD = 1e-5
MAXITER = 100
TAU2_MAX = 100.0
_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class Control:
    """The settings of the iterative tau^2 estimators, as metafor's ``rma(..., control = list(...))``.

    Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat
    Softw 2010;36(3); ``help(rma.uni)``, section "Note" / argument ``control``.

    Parameters
    ----------
    threshold : float
        Fisher scoring (ML, REML, EB) stops when ``|tau2_new - tau2_old| <= threshold``
        (metafor's default 1e-5).
    maxiter : int
        The most Fisher-scoring iterations, and the most iterations of the
        Paule-Mandel root search (metafor's default 100). More is a
        :class:`ConvergenceError`, never a number.
    stepadj : float
        Each scoring step is multiplied by ``stepadj`` (metafor's default 1);
        a value below 1 damps the steps when the algorithm oscillates.
    """

    threshold: float = THRESHOLD
    maxiter: int = MAXITER
    stepadj: float = 1.0

    def __post_init__(self):
        if not (math.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError(f"control threshold must be a positive number, got {self.threshold!r}")
        if isinstance(self.maxiter, bool) or int(self.maxiter) != self.maxiter or self.maxiter < 1:
            raise ValueError(f"control maxiter must be a positive whole number, got {self.maxiter!r}")
        if not (math.isfinite(self.stepadj) and self.stepadj > 0):
            raise ValueError(f"control stepadj must be a positive number, got {self.stepadj!r}")


#: metafor's defaults: ``threshold = 1e-5``, ``maxiter = 100``, ``stepadj = 1``.
DEFAULT_CONTROL = Control()


@dataclass(frozen=True)
class Tau2Estimate:
    """The tau^2 estimate of one meta-analysis (``iterations`` of an iterative estimator, else 0)."""

    tau2: float
    method: str
    iterations: int = 0


@dataclass(frozen=True)
class Tau2Estimates:
    """The tau^2 estimates of ``G`` meta-analyses, one entry per group.

    A group whose estimator did not converge has ``converged == False``, NaN for
    ``tau2`` and the reason in ``message`` (empty for the others).
    """

    tau2: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    message: np.ndarray
    method: np.ndarray

    def __len__(self) -> int:
        return len(self.tau2)

    def single(self) -> Tau2Estimate:
        """The estimate of a one-group call; :class:`ConvergenceError` when it did not converge."""
        if not self.converged[0]:
            raise ConvergenceError(self.message[0])
        return Tau2Estimate(float(self.tau2[0]), str(self.method[0]), int(self.iterations[0]))


_ESTIMATOR_SECTIONS = """
Parameters
----------
yi, vi : array_like
    Effect sizes and sampling variances.
groups : Groups, optional
    The meta-analyses the studies form, stored by group
    (:class:`~metapool.stats.lockstep.Groups`); ``None``: the studies are one meta-analysis.
control : Control, optional
    Settings of the iterative estimators (ML, REML, EB, PM); the others ignore it.

Returns
-------
Tau2Estimate
    Without ``groups``; :class:`ConvergenceError` when the estimator does not converge.
Tau2Estimates
    With ``groups``: one entry per group.
"""


def _estimator(func):
    """An estimator's docstring completed with the parameters and returns every estimator shares."""
    func.__doc__ = inspect.cleandoc(func.__doc__) + "\n" + _ESTIMATOR_SECTIONS
    return func


def _estimate(method: str, kernel, yi, vi, groups: Groups | None):
    """Run an estimator's ``kernel(y, v, groups)`` on the groups of more than one study.

    The kernel returns the tau^2 per group (closed forms) or ``(tau2, iterations,
    converged, message)``. Without ``groups`` the studies are one meta-analysis and
    the result is its :class:`Tau2Estimate`.
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    single = groups is None
    if single:
        groups = Groups.single(len(y))
    n = len(groups)
    tau2 = np.zeros(n)
    iterations = np.zeros(n, dtype=np.int64)
    converged = np.ones(n, dtype=bool)
    message = np.full(n, "", dtype=object)
    multi = groups.k > 1
    if multi.any():
        sub, studies = (groups, slice(None)) if multi.all() else groups.subset(multi)
        with np.errstate(all="ignore"):
            out = kernel(y[studies], v[studies], sub)
        if isinstance(out, tuple):
            tau2[multi], iterations[multi], converged[multi], message[multi] = out
        else:
            tau2[multi] = out
    est = Tau2Estimates(tau2, iterations, converged, message, np.full(n, method, dtype=object))
    return est.single() if single else est


def q_statistic(yi, vi, tau2=0.0, groups: Groups | None = None):
    """Generalised Cochran's Q: ``sum w_i (y_i - ybar_w)^2`` with ``w_i = 1/(v_i + tau2)``.

    Cochran WG. The combination of estimates from different experiments.
    Biometrics 1954;10:101-129.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    tau2 : float or ndarray
        The between-study variance (one value, or one per group).
    groups : Groups, optional
        The meta-analyses the studies form; ``None``: one.

    Returns
    -------
    float, or ndarray with one Q per group
    """
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    g = Groups.single(len(y)) if groups is None else groups
    wi = 1.0 / (v + g.expand(tau2))
    mean = g.sum(wi * y) / g.sum(wi)
    q = g.sum(wi * (y - g.expand(mean)) ** 2)
    return float(q[0]) if groups is None else q


@_estimator
def tau2_ee(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """The common-effect (equal-effects) model: tau^2 = 0.

    """
    return _estimate("EE", lambda y, v, g: np.zeros(len(g)), yi, vi, groups)


@_estimator
def tau2_dl(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """DerSimonian-Laird method-of-moments estimator.

    ``tau2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))`` with ``w = 1/v``
    and Cochran's Q.

    DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin
    Trials 1986;7:177-188.

    """
    def dl(y, v, g):
        wi = 1.0 / v
        s = g.sum(wi)
        return max0((q_statistic(y, v, 0.0, g) - (g.k - 1)) / (s - g.sum(wi**2) / s))

    return _estimate("DL", dl, yi, vi, groups)


def _he_rss(y, g: Groups) -> np.ndarray:
    """Unweighted residual sum of squares about the mean, per group."""
    return g.sum((y - g.expand(g.sum(y) / g.k)) ** 2)


def _he_raw(y, v, g: Groups) -> np.ndarray:
    """Hedges' estimate before truncation at zero."""
    k = g.k
    sv = g.sum(v)
    return (_he_rss(y, g) - (sv - sv / k)) / (k - 1)


@_estimator
def tau2_he(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """Hedges' (unweighted method-of-moments) estimator.

    ``tau2 = max(0, (sum (y_i - ybar)^2 - (sum v - sum v / k)) / (k - 1))``.

    Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press,
    1985.

    """
    return _estimate("HE", lambda y, v, g: max0(_he_raw(y, v, g)), yi, vi, groups)


@_estimator
def tau2_sj(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """Sidik-Jonkman estimator: one step from the sample variance of ``yi``.

    ``tau2 = tau2_0 Q(tau2_0) / (k - 1)`` with ``tau2_0 = sum (y_i - ybar)^2 / k``
    and the generalised Q at ``tau2_0``.

    Sidik K, Jonkman JN. Simple heterogeneity variance estimation for
    meta-analysis. J R Stat Soc C 2005;54:367-384.

    """
    def sj(y, v, g):
        tau2_0 = _he_rss(y, g) / g.k  # np.var(yi)
        return max0(tau2_0 * q_statistic(y, v, tau2_0, g) / (g.k - 1))

    return _estimate("SJ", sj, yi, vi, groups)


def fisher_scoring(method: str, tau2, step, loglik=None, control: Control = DEFAULT_CONTROL):
    """Fisher scoring for tau^2 of many meta-analyses in lockstep, with metafor's stopping rule and checks.

    From the starting values ``tau2``, each iteration adds the scoring step
    ``adj`` times ``control.stepadj`` (0 when NaN), halved while ``tau2 + adj < 0``;
    a group stops when the change is at most ``control.threshold`` and fails after
    ``control.maxiter`` iterations. For
    ML and REML, metafor's ``ll0check`` then sets tau^2 to 0 when the
    log-likelihood at 0 exceeds that at the estimate (a local maximum). The
    estimate is truncated at 0; an infinite one is a failure.

    Parameters
    ----------
    method : str
        ``"ML"``, ``"REML"`` or ``"EB"`` (for the messages and the ``ll0check``).
    tau2 : ndarray
        Starting values, one per group.
    step : callable
        ``step(ids, tau2)``: the scoring steps of the groups ``ids`` (an
        increasing subsequence of those still iterating) at ``tau2``.
    loglik : callable, optional
        ``loglik(mask, tau2)``: the (restricted) log-likelihood of the groups
        selected by the boolean ``mask`` at ``tau2`` (ML and REML).
    control : Control
        ``threshold``, ``maxiter`` and ``stepadj`` (metafor's defaults).

    Returns
    -------
    tau2, iterations, converged, message : ndarray
        One entry per group.
    """
    tau2 = np.asarray(tau2, dtype=float)
    n = len(tau2)
    out = np.full(n, np.nan)
    iterations = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    message = np.full(n, "", dtype=object)
    ids = np.arange(n)  # the groups still iterating
    iteration = 0
    while len(ids):
        iteration += 1
        old = tau2
        adj = np.asarray(step(ids, tau2), dtype=float)
        if control.stepadj != 1.0:
            adj = adj * control.stepadj
        adj = np.where(np.isnan(adj), 0.0, adj)
        negative = tau2 + adj < 0.0
        halvings = 0
        while negative.any() and halvings < 2200:  # any finite step underflows to 0 by then
            adj = np.where(negative, adj / 2.0, adj)
            negative = tau2 + adj < 0.0
            halvings += 1
        tau2 = tau2 + adj
        change = np.abs(old - tau2)
        if iteration > control.maxiter:
            iterations[ids] = iteration
            for i, c in zip(ids, change):
                message[i] = (f"{method}: Fisher scoring did not converge in {control.maxiter} iterations "
                              f"(last change {c:.3g} > {control.threshold:g})")
            break
        done = ~(change > control.threshold)
        if done.any():
            out[ids[done]] = tau2[done]
            iterations[ids[done]] = iteration
            converged[ids[done]] = True
            ids, tau2 = ids[~done], tau2[~done]
    if method in ("ML", "REML"):
        check = converged & (out > control.threshold)
        if check.any():
            ll0 = loglik(check, np.zeros(int(check.sum())))
            out[check] = np.where(ll0 - loglik(check, out[check]) > UNIROOT_TOL, 0.0, out[check])
    out = np.where(converged, max0(out), np.nan)
    infinite = converged & ~np.isfinite(out)
    converged &= ~infinite
    out[infinite] = np.nan
    message[infinite] = f"{method}: Fisher scoring diverged (tau2 is infinite)"
    return out, iterations, converged, message


def paule_mandel_search(f, n: int, tau2_max, maxiter: int = MAXITER):
    """The tau^2 at which a generalised Q statistic equals its expected value, for ``n`` groups in lockstep.

    ``f(ids, tau2)`` is ``Q(tau2) - df`` of the groups ``ids``, decreasing in
    tau^2. As metafor: tau^2 = 0 when ``f(0) < 0``; a failure when
    ``f(tau2_max) > 0`` (the root lies beyond the search limit); otherwise the
    root on ``[0, tau2_max]`` by R's ``uniroot`` (:func:`~metapool.stats.lockstep.zeroin`,
    at most ``maxiter`` iterations; metafor passes ``control$maxiter``, 100, and
    ``tau2_max`` is :func:`pm_upper_bound`). Where ``uniroot`` would return its last
    iterate with a warning, this is a failure.

    Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur
    Stand 1982;87:377-385.

    Parameters
    ----------
    f : callable
        The estimating function (see above).
    n : int
        The number of groups.
    tau2_max : float or ndarray
        The upper end of the search (one value, or one per group).
    maxiter : int
        The most iterations of the root search.

    Returns
    -------
    tau2, iterations, converged, message : ndarray
        One entry per group.
    """
    tau2_max = np.broadcast_to(np.asarray(tau2_max, dtype=float), (n,))
    every = np.arange(n)
    f0 = f(every, np.zeros(n))
    fmax = f(every, tau2_max.copy())
    tau2 = np.full(n, np.nan)
    iterations = np.zeros(n, dtype=np.int64)
    message = np.full(n, "", dtype=object)
    zero = f0 < 0
    tau2[zero] = 0.0
    converged = zero.copy()
    for i in np.flatnonzero(~zero & (fmax > 0)):
        message[i] = f"PM: tau2 exceeds the search limit {tau2_max[i]:g}"
    solve = np.flatnonzero(~zero & ~(fmax > 0))
    if len(solve):
        root, its, ok = zeroin(lambda ids, t: f(solve[ids], t), np.zeros(len(solve)), tau2_max[solve],
                               f0[solve], fmax[solve], maxiter=maxiter)
        tau2[solve] = np.where(ok, max0(root), np.nan)
        iterations[solve] = its
        converged[solve] = ok
        message[solve[~ok]] = f"PM: root finding did not converge in {maxiter} iterations"
    return tau2, iterations, converged, message


def mad(yi, groups: Groups | None = None):
    """R's ``mad()``: ``1.4826 median(|y_i - median(y)|)``, of one meta-analysis or per group.

    Parameters
    ----------
    yi : array_like
        Effect sizes.
    groups : Groups, optional
        The meta-analyses the studies form; ``None``: one.

    Returns
    -------
    float, or ndarray with one value per group
    """
    y = np.asarray(yi, dtype=float)
    g = Groups.single(len(y)) if groups is None else groups
    centre = g.median(y)
    out = 1.4826 * g.median(np.abs(y - g.expand(centre)))
    return float(out[0]) if groups is None else out


def pm_upper_bound(yi, groups: Groups | None = None):
    """The upper end of the Paule-Mandel search: ``max(100, 10 mad(yi)^2)``, as metafor.

    metafor's ``rma.uni`` sets ``con$tau2.max <- max(con$tau2.max, 10 * mad(yi)^2)``
    with the default ``tau2.max = 100`` before the root search (metafor 3.8-1,
    R/rma.uni.r), so that outcomes on a large scale (mean differences in mmHg,
    days) are not cut off at 100. ``yi`` and ``groups`` as :func:`mad`; one bound
    per group with ``groups``.
    """
    bound = np.maximum(TAU2_MAX, 10.0 * np.asarray(mad(yi, groups)) ** 2)
    return float(bound) if groups is None else bound


def _weighted_residuals(ws: WorkingSet, tau2):
    """``groups, w, sum w, y - ybar_w`` of the working set at ``tau2`` (``w = 1/(v + tau2)``)."""
    y, v = ws.arrays
    g = ws.groups
    wi = 1.0 / (v + g.expand(tau2))
    s = g.sum(wi)
    return g, wi, s, y - g.expand(g.sum(wi * y) / s)


def _loglik(y, v, g: Groups, tau2, reml: bool) -> np.ndarray:
    """The ML (or REML) log-likelihood of the intercept-only random-effects model at ``tau2``, per group."""
    tau2_long = g.expand(tau2)
    wi = 1.0 / (v + tau2_long)
    s = g.sum(wi)
    rss = g.sum(wi * (y - g.expand(g.sum(wi * y) / s)) ** 2)
    ll = -0.5 * g.k.astype(float) * _LOG_2PI - 0.5 * g.sum(np.log(v + tau2_long)) - 0.5 * rss
    if reml:
        ll = ll + (0.5 * _LOG_2PI - 0.5 * libm(math.log, s))
    return ll


def _scoring(method: str, step, control: Control):
    """The kernel of an intercept-only Fisher-scoring estimator with scoring step ``step(working_set, tau2)``."""
    def kernel(y, v, g):
        ws = WorkingSet(g, y, v)

        def loglik(mask, tau2):
            sub, studies = g.subset(mask)
            return _loglik(y[studies], v[studies], sub, tau2, method == "REML")

        return fisher_scoring(method, max0(_he_raw(y, v, g)), lambda ids, t: step(ws.restrict(ids), t), loglik,
                              control)

    return kernel


@_estimator
def tau2_ml(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """Maximum-likelihood estimator, by Fisher scoring.

    Step ``(sum (w_i (y_i - ybar_w))^2 - sum w) / sum w^2`` with ``w = 1/(v + tau2)``.

    Hardy RJ, Thompson SG. A likelihood approach to meta-analysis with random
    effects. Stat Med 1996;15:619-629.

    """
    def step(ws, tau2):
        g, wi, s, resid = _weighted_residuals(ws, tau2)
        return (g.sum((wi * resid) ** 2) - s) / g.sum(wi**2)

    return _estimate("ML", _scoring("ML", step, control), yi, vi, groups)


@_estimator
def tau2_reml(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """Restricted maximum-likelihood estimator, by Fisher scoring.

    Step ``(y'PPy - tr P) / tr(PP)`` with the residual projection
    ``P = W - w w' / sum w`` of the intercept-only model, ``W = diag(1/(v + tau2))``.

    Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in
    the random-effects model. J Educ Behav Stat 2005;30:261-293.

    """
    def step(ws, tau2):
        g, wi, s, resid = _weighted_residuals(ws, tau2)
        s2, s3 = g.sum(wi**2), g.sum(wi**3)
        tr_p = s - s2 / s
        # metafor squares these sums as single numbers: the C library's pow
        tr_pp = s2 - 2.0 * s3 / s + libm(math.pow, s2, 2.0) / libm(math.pow, s, 2.0)
        return (g.sum((wi * resid) ** 2) - tr_p) / tr_pp

    return _estimate("REML", _scoring("REML", step, control), yi, vi, groups)


@_estimator
def tau2_eb(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """Empirical Bayes estimator, by Fisher-type scoring as metafor.

    Step ``(k / (k - 1) sum w_i (y_i - ybar_w)^2 - k) / sum w`` with ``w = 1/(v + tau2)``.

    Morris CN. Parametric empirical Bayes inference: theory and applications.
    J Am Stat Assoc 1983;78:47-55.

    """
    def step(ws, tau2):
        g, wi, s, resid = _weighted_residuals(ws, tau2)
        k = g.k
        return (g.sum(wi * resid**2) * k / (k - 1) - k) / s

    return _estimate("EB", _scoring("EB", step, control), yi, vi, groups)


@_estimator
def tau2_pm(yi, vi, groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """Paule-Mandel estimator: the tau^2 at which the generalised Q equals ``k - 1``.

    Solved on ``[0, max(100, 10 mad(yi)^2)]`` (:func:`pm_upper_bound`) by
    :func:`paule_mandel_search` (R's ``uniroot``).

    Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur
    Stand 1982;87:377-385.

    """
    def pm(y, v, g):
        ws = WorkingSet(g, y, v)

        def f(ids, tau2):
            ws.restrict(ids)
            return q_statistic(*ws.arrays, tau2, ws.groups) - (ws.groups.k - 1)

        return paule_mandel_search(f, len(g), pm_upper_bound(y, g), control.maxiter)

    return _estimate("PM", pm, yi, vi, groups)


TAU2_ESTIMATORS = {
    "EE": tau2_ee,
    "DL": tau2_dl,
    "HE": tau2_he,
    "SJ": tau2_sj,
    "ML": tau2_ml,
    "REML": tau2_reml,
    "EB": tau2_eb,
    "PM": tau2_pm,
}


def check_methods(method) -> None:
    """Raise :class:`ValueError` unless every entry of ``method`` is one of :data:`TAU2_METHODS`."""
    for m in np.unique(np.asarray(method, dtype=object).astype(str)).tolist():
        if m not in TAU2_ESTIMATORS:
            raise ValueError(f"unknown tau2 method {m!r}; choose one of {', '.join(TAU2_METHODS)}")


def estimate_tau2(yi, vi, method="REML", groups: Groups | None = None, *, control: Control = DEFAULT_CONTROL):
    """tau^2 by the estimator named as in metafor (``EE``, ``DL``, ``HE``, ``SJ``, ``ML``, ``REML``, ``EB``, ``PM``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    method : str or array of str
        The estimator; with ``groups`` also one per group.
    groups : Groups, optional
        The meta-analyses the studies form (studies stored by group); ``None``: one.
    control : Control, optional
        Settings of the iterative estimators (metafor's defaults).

    Returns
    -------
    Tau2Estimate, or Tau2Estimates with ``groups``
    """
    check_methods(method)
    if groups is None:
        return TAU2_ESTIMATORS[str(method)](yi, vi, control=control)
    y = np.asarray(yi, dtype=float)
    v = np.asarray(vi, dtype=float)
    n = len(groups)
    methods = np.broadcast_to(np.asarray(method, dtype=object), (n,)).astype(str)
    tau2 = np.zeros(n)
    iterations = np.zeros(n, dtype=np.int64)
    converged = np.ones(n, dtype=bool)
    message = np.full(n, "", dtype=object)
    for name in np.unique(methods):
        sel = methods == name
        sub, studies = (groups, slice(None)) if sel.all() else groups.subset(sel)
        est = TAU2_ESTIMATORS[name](y[studies], v[studies], sub, control=control)
        tau2[sel], iterations[sel], converged[sel], message[sel] = (est.tau2, est.iterations, est.converged,
                                                                     est.message)
    return Tau2Estimates(tau2, iterations, converged, message, methods.astype(object))
