"""Mixed-effects meta-regression: metafor's ``rma.uni`` with a design matrix.

The generalisation of the intercept-only engine (:mod:`metapool.stats.tau2`,
:mod:`metapool.stats.pooling`) to ``y = X beta + u + e``, ``u ~ N(0, tau2)``,
``e_i ~ N(0, v_i)``, following ``rma.uni`` (metafor 3.8-1) formula for formula so that
the numbers agree to floating-point precision:

* ``W = diag(1 / (v_i + tau2))``, ``(X'WX)^-1`` computed from the QR
  decomposition of ``W^(1/2) X`` (metafor's ``.invcalc``) and the residual
  projection ``P = W - W X (X'WX)^-1 X' W``;
* the tau^2 estimators of :mod:`metapool.stats.tau2` generalised to ``X``: DL, HE,
  SJ, ML, REML, EB (Fisher scoring from the Hedges estimate by the same
  :func:`~metapool.stats.tau2.fisher_scoring`: threshold 1e-5, at most 100
  iterations, ``ll0check``) and PM (the same
  :func:`~metapool.stats.tau2.paule_mandel_search`, R's ``uniroot`` on
  ``y'Py = k - p`` over ``[0, max(100, 10 mad(y)^2)]``), with the mean-centred
  ``y`` that ``rma.uni`` uses while estimating tau^2;
* Wald-type z tests, or the Knapp-Hartung t/F tests (Knapp G, Hartung J.
  Improved tests for a random effects meta-regression with a single
  covariate. Stat Med 2003;22:2693-2710) with the factor
  :func:`~metapool.stats.pooling.hartung_knapp_factor` of ``y'Py / (k - p)``;
* the omnibus test ``QM`` of the moderators, the residual heterogeneity test
  ``QE`` (Cochran's Q of the fixed-effects meta-regression), I^2 and H^2 from
  tau^2 with the typical variance ``vt = (k - p) / tr(P_FE)`` (Higgins &
  Thompson, Stat Med 2002;21:1539-1558), and the pseudo-R^2 of Raudenbush
  (``100 (tau2_RE - tau2_ME) / tau2_RE`` truncated at 0).

Reference: Viechtbauer W. Conducting meta-analyses in R with the metafor
package. J Stat Softw 2010;36(3):1-48; Thompson SG, Higgins JPT. How should
meta-regression analyses be undertaken and interpreted? Stat Med
2002;21:1559-1573.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import distributions as dist
from .heterogeneity import h2_from_q, h2_from_tau2, i2_from_q, i2_from_tau2
from .lockstep import ConvergenceError
from .pooling import check_effects, check_model_options, critical_value, hartung_knapp_factor, wald_pvalue
from .tau2 import Tau2Estimate, Tau2Estimates, fisher_scoring, paule_mandel_search, pm_upper_bound

__all__ = [
    "MetaRegressionFit",
    "REGRESSION_METHODS",
    "estimate_tau2_regression",
    "fit_meta_regression",
]

EVTOL = 1e-7
REGRESSION_METHODS = ("EE", "FE", "DL", "HE", "SJ", "ML", "REML", "EB", "PM")


def _invcalc(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``(X' diag(w) X)^-1`` from the QR decomposition of ``diag(sqrt(w)) X`` (metafor's ``.invcalc``)."""
    swx = np.sqrt(w)[:, None] * X
    q, r = np.linalg.qr(swx)
    rinv_qt = np.linalg.solve(r, q.T)
    return rinv_qt @ rinv_qt.T


def _p_matrix(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``P = W - W X (X'WX)^-1 X' W``."""
    st = _invcalc(X, w)
    wx = w[:, None] * X
    return np.diag(w) - wx @ st @ wx.T


def _single(method: str, estimates: tuple) -> Tau2Estimate:
    """The :class:`Tau2Estimate` of a one-group search result ``(tau2, iterations, converged, message)``."""
    return Tau2Estimates(*estimates, np.array([method], dtype=object)).single()


def _fisher_scoring(ymc, vi, X, method: str) -> Tau2Estimate:
    """ML, REML or EB for the design ``X``: the scoring steps of ``rma.uni`` from the Hedges estimate."""
    k, p = X.shape
    stxx = _invcalc(X, np.ones(k))
    p0 = np.eye(k) - X @ stxx @ X.T
    start = max(0.0, (float(ymc @ p0 @ ymc) - float(np.sum(np.diag(p0) * vi))) / (k - p))

    def step(ids, tau2):
        wi = 1.0 / (vi + float(tau2[0]))
        P = _p_matrix(X, wi)
        if method == "ML":
            py = P @ ymc
            adj = (float(py @ py) - float(wi.sum())) / float(np.sum(wi**2))
        elif method == "REML":
            py = P @ ymc
            adj = (float(py @ py) - float(np.trace(P))) / float(np.sum(P * P.T))
        else:  # EB
            adj = (float(ymc @ P @ ymc) * k / (k - p) - k) / float(wi.sum())
        return np.array([adj])

    def loglik(mask, tau2):
        t = float(tau2[0])
        w = 1.0 / (vi + t)
        b = _invcalc(X, w) @ (X.T @ (w * ymc))
        rss = float(np.sum(w * (ymc - X @ b) ** 2))
        if method == "ML":
            return np.array([-0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + t))) - 0.5 * rss])
        _, logdet = np.linalg.slogdet((X.T * w) @ X)
        return np.array([-0.5 * (k - p) * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(vi + t)))
                         - 0.5 * logdet - 0.5 * rss])

    return _single(method, fisher_scoring(method, np.array([start]), step, loglik))


def estimate_tau2_regression(yi, vi, X, method: str = "REML") -> Tau2Estimate:
    """Residual heterogeneity tau^2 of the meta-regression of ``yi`` on ``X``, as ``rma.uni``.

    The documented generalisation of the intercept-only estimators of
    :mod:`metapool.stats.tau2` (for ``X`` a column of ones they estimate the
    same tau^2): ``EE``/``FE`` (0), ``DL`` (DerSimonian & Laird 1986;
    generalised by Raudenbush 2009), ``HE`` (Hedges 1983), ``SJ`` (Sidik &
    Jonkman 2005), ``ML`` (Hardy & Thompson 1996), ``REML`` (Viechtbauer 2005),
    ``EB`` (Morris 1983), ``PM`` (Paule & Mandel 1982). ML, REML and EB share
    :func:`~metapool.stats.tau2.fisher_scoring`, PM shares
    :func:`~metapool.stats.tau2.paule_mandel_search` with them.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    X : ndarray
        The design matrix (k x p).
    method : str
        The estimator.

    Returns
    -------
    Tau2Estimate
        Raises :class:`~metapool.stats.lockstep.ConvergenceError` when the
        estimator does not converge.
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    X = np.asarray(X, dtype=float)
    k, p = X.shape
    if method in ("EE", "FE"):
        return Tau2Estimate(0.0, "EE")
    if method not in REGRESSION_METHODS:
        raise ValueError(f"unknown tau2 method {method!r}; choose one of {', '.join(REGRESSION_METHODS)}")
    if k == 1:
        return Tau2Estimate(0.0, method)
    ymc = yi - yi.mean()  # rma.uni estimates tau2 from the mean-centred outcomes
    if method == "DL":
        wi = 1.0 / vi
        P = _p_matrix(X, wi)
        tau2 = (float(ymc @ P @ ymc) - (k - p)) / float(np.trace(P))
        return Tau2Estimate(max(0.0, tau2), method)
    if method == "HE":
        stxx = _invcalc(X, np.ones(k))
        p0 = np.eye(k) - X @ stxx @ X.T
        tau2 = (float(ymc @ p0 @ ymc) - float(np.sum(np.diag(p0) * vi))) / (k - p)
        return Tau2Estimate(max(0.0, tau2), method)
    if method == "SJ":
        tau2_0 = float(np.var(ymc))  # var(yi) * (k - 1) / k
        P = _p_matrix(X, 1.0 / (vi + tau2_0))
        tau2 = tau2_0 * float(ymc @ P @ ymc) / (k - p)
        return Tau2Estimate(max(0.0, tau2), method)
    if method == "PM":
        def f(ids, tau2):
            return np.array([float(ymc @ _p_matrix(X, 1.0 / (vi + float(tau2[0]))) @ ymc) - (k - p)])

        return _single(method, paule_mandel_search(f, 1, pm_upper_bound(yi)))
    return _fisher_scoring(ymc, vi, X, method)


@dataclass(frozen=True)
class MetaRegressionFit:
    """A fitted (mixed-effects) meta-regression, the fields of metafor's ``rma.uni`` object.

    ``stat`` holds z values (``ci="z"``) or Knapp-Hartung t values
    (``ci="hartung_knapp"``), with ``ddf = k - p`` degrees of freedom for the
    latter (``None`` for z); ``s2w`` is the Knapp-Hartung factor (1 under z). ``qm`` is the omnibus Wald statistic of the coefficients
    ``btt`` (chi-square on ``m`` df under z; divided by ``m`` and an F on
    ``(m, k - p)`` df otherwise). ``r2`` is ``None`` for models without
    moderators (or without an intercept).
    """

    names: tuple[str, ...]
    beta: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    vcov: np.ndarray = field(repr=False)
    tau2: float
    qm: float
    qm_df: tuple[int, int | None]
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    i2: float
    h2: float
    r2: float | None
    s2w: float
    k: int
    p: int
    ddf: int | None
    btt: tuple[int, ...]
    method: str
    ci: str
    hk_adhoc: bool
    level: float
    iterations: int = 0
    X: np.ndarray = field(repr=False, default=None)
    yi: np.ndarray = field(repr=False, default=None)
    vi: np.ndarray = field(repr=False, default=None)

    @property
    def weights(self) -> np.ndarray:
        """Study weights in percent, ``100 w_i / sum(w)`` with ``w_i = 1 / (v_i + tau2)`` (metafor ``weights``)."""
        w = 1.0 / (self.vi + self.tau2)
        return 100.0 * w / w.sum()

    @property
    def hat(self) -> np.ndarray:
        """Leverages, the diagonal of ``X (X'WX)^-1 X' W`` (metafor ``hatvalues``)."""
        w = 1.0 / (self.vi + self.tau2)
        st = _invcalc(self.X, w)
        h = np.einsum("ij,jk,ik->i", self.X, st, self.X) * w
        h[h > 1 - 10 * np.finfo(float).eps] = 1.0
        return h

    @property
    def fitted(self) -> np.ndarray:
        return self.X @ self.beta


def _is_intercept(col: np.ndarray) -> bool:
    return bool(np.all(np.abs(col - 1.0) < 1e-8))


def fit_meta_regression(
    yi,
    vi,
    X,
    *,
    method: str = "REML",
    ci: str = "z",
    hk_adhoc: bool = False,
    level: float = 0.95,
    btt=None,
    names=None,
    compute_r2: bool = True,
) -> MetaRegressionFit:
    """Fit ``yi = X beta + u_i + e_i`` by weighted least squares with the estimated tau^2.

    Formulas as metafor's ``rma.uni`` (Viechtbauer 2010). A design that is
    not of full rank raises :class:`ValueError` (metafor drops redundant
    columns with a warning instead).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    X : ndarray
        The full design matrix (include a column of ones for the intercept).
    method : str
        The tau^2 estimator (:func:`estimate_tau2_regression`).
    ci : str
        ``"z"`` (Wald z tests, chi-square QM) or ``"hartung_knapp"`` (the
        Knapp-Hartung t tests on ``k - p`` df and F test of QM; Knapp &
        Hartung 2003). A single study gets z, as metafor.
    hk_adhoc : bool
        With Hartung-Knapp, the factor truncated at 1 (metafor ``test="adhoc"``).
    level : float
        Confidence level.
    btt : sequence of int, optional
        0-based indices of the coefficients tested by ``QM`` (default: all
        but the intercept, as metafor).
    names : sequence of str, optional
        Coefficient names (default ``intrcpt`` and ``x<j>``).
    compute_r2 : bool
        Compute the pseudo-R^2 (needs the intercept-only fit).

    Returns
    -------
    MetaRegressionFit
    """
    yi, vi = check_effects(yi, vi)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    k, p = X.shape
    if k != len(yi):
        raise ValueError(f"X has {k} rows but there are {len(yi)} studies")
    if names is None:
        names = tuple("intrcpt" if _is_intercept(X[:, j]) else f"x{j}" for j in range(p))
    names = tuple(names)
    if len(names) != p:
        raise ValueError("one name per column of X")
    if method == "FE":
        method = "EE"
    if method not in REGRESSION_METHODS:
        raise ValueError(f"unknown tau2 method {method!r}; choose one of {', '.join(REGRESSION_METHODS)}")
    check_model_options(ci=ci, level=level)
    int_cols = [j for j in range(p) if _is_intercept(X[:, j])]
    int_incl = bool(int_cols)
    int_only = p == 1 and int_incl
    if k == 1:
        ci = "z"  # metafor: 'Setting argument test="z" since k=1.'
    hk_adhoc = bool(hk_adhoc) and ci == "hartung_knapp"
    if not (int_only and k == 1):
        needed = p if method == "EE" else p + 1
        if needed > k:
            raise ValueError(
                f"{p} coefficient(s){'' if method == 'EE' else ' and tau2'} cannot be estimated from {k} studies"
            )
    if np.any(np.linalg.eigvalsh(X.T @ X) <= EVTOL):
        raise ValueError("the design matrix is not of full rank (redundant or constant moderators)")
    if btt is None:  # metafor's .set.btt: every coefficient but the intercept
        btt = tuple(j for j in range(p) if j not in int_cols[:1]) if p > 1 else (0,)
    btt = tuple(int(j) for j in btt)
    m = len(btt)

    est = estimate_tau2_regression(yi, vi, X, method)
    tau2 = est.tau2
    wi = 1.0 / (vi + tau2)
    vb = _invcalc(X, wi)
    beta = vb @ (X.T @ (wi * yi))
    rss = float(np.sum(wi * (yi - X @ beta) ** 2))
    s2w = hartung_knapp_factor(rss, k - p, adhoc=hk_adhoc) if ci == "hartung_knapp" else 1.0
    vb = s2w * vb
    ddf = k - p if ci == "hartung_knapp" else None
    try:
        sub = vb[np.ix_(btt, btt)]
        b = beta[list(btt)]
        qm = float(b @ np.linalg.solve(sub, b))
        np.linalg.cholesky(sub)
    except np.linalg.LinAlgError:
        qm = math.nan
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = beta / se
    use_t = ddf is not None
    pval = wald_pvalue(stat, k - p, use_t)
    crit = critical_value(level, k - p, use_t)
    if use_t:
        qm = qm / m
        qm_df = (m, k - p)
        qm_p = float(dist.f.sf(qm, m, k - p)) if k - p > 0 else math.nan
    else:
        qm_df = (m, None)
        qm_p = float(dist.chi2.sf(qm, m))
    ci_lower = beta - crit * se
    ci_upper = beta + crit * se

    if k > p:
        w0 = 1.0 / vi
        P = _p_matrix(X, w0)
        ymc = yi - yi.mean()
        qe = max(0.0, float(ymc @ P @ ymc))
        qe_p = float(dist.chi2.sf(qe, k - p))
        vt = (k - p) / float(np.trace(P))
        if method == "EE":
            i2, h2 = i2_from_q(qe, k - p), h2_from_q(qe, k - p)
        else:
            i2, h2 = i2_from_tau2(tau2, vt), h2_from_tau2(tau2, vt)
    else:
        qe, qe_p, i2, h2 = 0.0, 1.0, 0.0, 1.0

    r2 = None
    if compute_r2 and not int_only and int_incl:
        r2 = _pseudo_r2(yi, vi, X, wi, tau2, method, int_cols[0])

    return MetaRegressionFit(
        names=names, beta=beta, se=se, stat=stat, pval=np.asarray(pval, dtype=float), ci_lower=ci_lower,
        ci_upper=ci_upper, vcov=vb, tau2=tau2, qm=qm, qm_df=qm_df, qm_pvalue=qm_p, qe=qe, qe_df=k - p,
        qe_pvalue=qe_p, i2=i2, h2=h2, r2=r2, s2w=s2w, k=k, p=p, ddf=ddf, btt=btt, method=method,
        ci=ci, hk_adhoc=hk_adhoc, level=level, iterations=est.iterations, X=X, yi=yi, vi=vi,
    )


def _pseudo_r2(yi, vi, X, wi, tau2, method, int_col) -> float:
    """metafor's R^2 (``r2def = "1"``): the proportional reduction in tau^2 relative to the
    random-effects model with the same estimator (Raudenbush 2009; Lopez-Lopez et al. Br J Math
    Stat Psychol 2014;67:30-48), ``max(0, 100 (tau2_RE - tau2_ME) / tau2_RE)``, 0 when
    ``tau2_RE = 0``; for the common-effect model the adjusted R^2 of the weighted least squares
    regression."""
    k, p = X.shape
    if method == "EE":
        if np.all(yi == yi[0]):  # R: identical(var(yi), 0)
            return 0.0
        ybar = float(np.sum(wi * yi) / wi.sum())
        b = _invcalc(X, wi) @ (X.T @ (wi * yi))
        rss = float(np.sum(wi * (yi - X @ b) ** 2))
        tss = float(np.sum(wi * (yi - ybar) ** 2))
        if tss == 0.0:
            return math.nan
        r2 = 1.0 - rss / tss
        adj = 1.0 - (1.0 - r2) * (k - 1) / (k - p)
        return max(0.0, 100.0 * adj)
    try:
        tau2_re = estimate_tau2_regression(yi, vi, np.ones((k, 1)), method).tau2
    except ConvergenceError:
        return math.nan
    if tau2_re == 0.0:
        return 0.0
    return max(0.0, 100.0 * (tau2_re - tau2) / tau2_re)
