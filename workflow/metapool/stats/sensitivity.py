"""Sensitivity analyses: leave-one-out, influence diagnostics, cumulative meta-analysis.

Each function takes the effect sizes ``yi`` and sampling variances ``vi`` and the
model's options (``method``, ``ci``, ``hk_adhoc``, ``level`` and, where a
prediction interval is computed, ``pi``, as
:func:`metapool.stats.pooling.inverse_variance`) and refits the model on subsets of
the studies, as metafor 3.8-1's ``leave1out``, ``influence`` and ``cumul`` do.
:func:`leave_one_out` and :func:`cumulative` pool all their subsets in one
:func:`~metapool.stats.pooling.pool_many` call.

Viechtbauer W, Cheung MW-L. Outlier and influence diagnostics for
meta-analysis. Res Synth Methods 2010;1:112-125.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import distributions as dist
from .pooling import BatchPoolResult, check_effects, pool_many, wald_pvalue
from .regression import MetaRegressionFit, _invcalc, fit_meta_regression

__all__ = ["SubsetFits", "InfluenceResult", "leave_one_out", "influence", "cumulative"]


@dataclass(frozen=True)
class SubsetFits:
    """One refitted model per row (study left out, or studies accumulated up to that row).

    Arrays are aligned with ``study`` (0-based indices into the input arrays):
    for :func:`leave_one_out` row ``i`` omits study ``i``; for
    :func:`cumulative` row ``j`` pools ``order[:j + 1]``. ``k`` is the number
    of studies pooled; ``statistic`` is z, or t (on ``df`` degrees of freedom)
    under Hartung-Knapp. A refit whose tau^2 estimator did not converge has
    ``converged == False``, the reason in ``message`` and NaN for every number
    that depends on tau^2 (metafor's ``NA``); Q and its p-value do not.
    """

    study: np.ndarray
    k: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    statistic: np.ndarray
    pvalue: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    q: np.ndarray
    q_pvalue: np.ndarray
    tau2: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    df: np.ndarray
    converged: np.ndarray
    message: np.ndarray

    def frame(self) -> pd.DataFrame:
        """The results as a data frame, one row per refit (metafor's printed ``list.rma``)."""
        return pd.DataFrame({
            "study": self.study, "k": self.k, "estimate": self.estimate, "se": self.se,
            "statistic": self.statistic, "pvalue": self.pvalue, "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper, "pi_lower": self.pi_lower, "pi_upper": self.pi_upper, "q": self.q,
            "q_pvalue": self.q_pvalue, "tau2": self.tau2, "i2": self.i2, "h2": self.h2,
        })


def _subset_fits(study: np.ndarray, res: BatchPoolResult) -> SubsetFits:
    use_t = res.ci == "hartung_knapp"
    df = (res.k - 1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(res.se > 0, res.beta / res.se, math.nan)
    return SubsetFits(
        study=study, k=res.k, estimate=res.beta, se=res.se, statistic=statistic,
        pvalue=wald_pvalue(statistic, df, use_t), ci_lower=res.ci_lower, ci_upper=res.ci_upper,
        pi_lower=res.pi_lower, pi_upper=res.pi_upper, q=res.q, q_pvalue=res.q_pvalue, tau2=res.tau2, i2=res.i2,
        h2=res.h2, df=np.where(use_t, df, math.nan), converged=res.converged, message=res.message,
    )


def leave_one_out(yi, vi, *, method: str = "REML", ci: str = "z", hk_adhoc: bool = False, level: float = 0.95,
                  pi: str = "default") -> SubsetFits:
    """Leave-one-out analysis (metafor ``leave1out``; Viechtbauer & Cheung 2010).

    The model refitted ``k`` times, each time without one study (the others
    in their input order), all in one :func:`~metapool.stats.pooling.pool_many` call.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least two studies).
    method, ci, hk_adhoc, level, pi
        The model, as :func:`~metapool.stats.pooling.inverse_variance`.

    Returns
    -------
    SubsetFits
        Row ``i`` without study ``i``.
    """
    yi, vi = check_effects(yi, vi)
    k = len(yi)
    if k == 1:
        raise ValueError("leave-one-out needs more than one study")
    refit, study = np.nonzero(~np.eye(k, dtype=bool))  # refit i: every study but i, in input order
    res = pool_many(yi[study], vi[study], refit, method=method, ci=ci, hk_adhoc=hk_adhoc, level=level, pi=pi)
    return _subset_fits(np.arange(k), res)


def cumulative(yi, vi, order=None, *, method: str = "REML", ci: str = "z", hk_adhoc: bool = False,
               level: float = 0.95, pi: str = "default", decreasing: bool = False) -> SubsetFits:
    """Cumulative meta-analysis (metafor ``cumul``): studies added one at a time.

    Lau J, Antman EM, Jimenez-Silva J, et al. Cumulative meta-analysis of
    therapeutic trials for myocardial infarction. N Engl J Med 1992;327:248-254.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    order : array_like, optional
        A sorting variable (e.g. publication year), as metafor's argument: the
        studies are added in increasing (or, with ``decreasing``, decreasing)
        order of it, ties in their input order; ``None`` keeps the input order.
    method, ci, hk_adhoc, level, pi
        The model, as :func:`~metapool.stats.pooling.inverse_variance`.
    decreasing : bool
        Add the studies in decreasing order of ``order``.

    Returns
    -------
    SubsetFits
        Row ``j`` pools the first ``j + 1`` studies in that order; ``study``
        gives their indices in the input. All refits are one
        :func:`~metapool.stats.pooling.pool_many` call.
    """
    yi, vi = check_effects(yi, vi)
    k = len(yi)
    if order is None:
        perm = np.arange(k)
    else:
        key = np.asarray(order)
        if len(key) != k:
            raise ValueError(f"order has {len(key)} values for {k} studies")
        if decreasing:
            # R's order(decreasing = TRUE) keeps ties in input order
            perm = np.lexsort((np.arange(k), -_rank_key(key)))
        else:
            perm = np.argsort(key, kind="stable")
    refit, step = np.nonzero(np.tri(k, dtype=bool))  # refit j: the first j + 1 studies in that order
    study = perm[step]
    res = pool_many(yi[study], vi[study], refit, method=method, ci=ci, hk_adhoc=hk_adhoc, level=level, pi=pi)
    return _subset_fits(perm, res)


def _rank_key(key: np.ndarray) -> np.ndarray:
    _, inv = np.unique(key, return_inverse=True)
    return inv.astype(float)


@dataclass(frozen=True)
class InfluenceResult:
    """Case-deletion diagnostics (metafor ``influence.rma.uni``), one value per study.

    ``rstudent``: externally studentised residuals; ``dffits``; ``cooks_distance``;
    ``cov_ratio`` (det Var(b_(-i)) / det Var(b)); ``tau2_deleted`` and
    ``qe_deleted`` (tau^2 and the residual Q without study ``i``); ``hat``
    (leverage); ``weight`` (percent); ``dfbetas`` (k x p); ``influential``
    as metafor's ``*`` flag (|DFFITS| > 3 sqrt(p/(k-p)), Cook's distance above
    the median of chi-square(p), hat > 3p/k, or any |DFBETAS| > 1).
    A deletion fit that is impossible (e.g. a design no longer of full rank)
    gives NaN, as metafor's NA.
    """

    rstudent: np.ndarray
    residual: np.ndarray
    residual_se: np.ndarray
    dffits: np.ndarray
    cooks_distance: np.ndarray
    cov_ratio: np.ndarray
    tau2_deleted: np.ndarray
    qe_deleted: np.ndarray
    hat: np.ndarray
    weight: np.ndarray
    dfbetas: np.ndarray
    influential: np.ndarray
    model: MetaRegressionFit = field(repr=False)

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame({
            "rstudent": self.rstudent, "dffits": self.dffits, "cooks_distance": self.cooks_distance,
            "cov_ratio": self.cov_ratio, "tau2_deleted": self.tau2_deleted, "qe_deleted": self.qe_deleted,
            "hat": self.hat, "weight": self.weight, "influential": self.influential,
        })
        for j, name in enumerate(self.model.names):
            df[f"dfbetas_{name}"] = self.dfbetas[:, j]
        return df


def influence(yi, vi, X=None, *, method: str = "REML", ci: str = "z", hk_adhoc: bool = False,
              level: float = 0.95, names=None) -> InfluenceResult:
    """Outlier and influence diagnostics of a random-effects model or meta-regression
    (metafor ``influence.rma.uni``; Viechtbauer & Cheung, Res Synth Methods 2010;1:112-125).

    Each study ``i`` is deleted in turn and the model refitted (tau^2 re-estimated):

    * ``rstudent_i = (y_i - x_i b_(-i)) / sqrt(s2w_(-i) (v_i + tau2_(-i)) + x_i Var(b_(-i)) x_i')``;
    * ``DFFITS_i = (x_i b - x_i b_(-i)) / sqrt(s2w_(-i) h_i (tau2_(-i) + v_i))``;
    * Cook's distance ``(b - b_(-i))' Var(b)^-1 (b - b_(-i))``;
    * the covariance ratio ``det Var(b_(-i)) / det Var(b)``;
    * ``DFBETAS_i = (b - b_(-i)) / sqrt(s2w_(-i) diag((X' W_(-i) X)^-1))`` with
      ``W_(-i) = diag(1 / (v + tau2_(-i)))`` over all ``k`` studies.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances (at least two studies).
    X : ndarray, optional
        The design matrix (``None``: intercept only).
    method, ci, hk_adhoc, level
        The model, as :func:`~metapool.stats.regression.fit_meta_regression`.
    names : sequence of str, optional
        Coefficient names.

    Returns
    -------
    InfluenceResult
    """
    yi, vi = check_effects(yi, vi)
    k = len(yi)
    if k == 1:
        raise ValueError("influence diagnostics need more than one study")
    if X is None:
        X = np.ones((k, 1))
        names = names or ("intrcpt",)
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    model = dict(method=method, ci=ci, hk_adhoc=hk_adhoc, level=level, compute_r2=False)
    full = fit_meta_regression(yi, vi, X, names=names, **model)
    p = full.p
    btt = tuple(range(p))  # influence(): every coefficient, intercept included
    m = len(btt)
    pred_full = X @ full.beta
    vb_inv = np.linalg.inv(full.vcov)
    det_full = float(np.linalg.det(full.vcov))
    hat = full.hat
    nan = np.full(k, math.nan)
    tau2_del, qe_del, delpred, vdelpred, s2w_del = nan.copy(), nan.copy(), nan.copy(), nan.copy(), nan.copy()
    dffits, cook, cov_r = nan.copy(), nan.copy(), nan.copy()
    dfbs = np.full((k, p), math.nan)
    for i in range(k):
        keep = np.arange(k) != i
        if np.linalg.matrix_rank(X[keep]) < p:
            continue  # metafor: redundant predictors after deletion -> NA
        try:
            res = fit_meta_regression(yi[keep], vi[keep], X[keep], **model)
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            continue
        xi = X[i]
        tau2_del[i] = res.tau2
        qe_del[i] = res.qe
        delpred[i] = float(xi @ res.beta)
        vdelpred[i] = float(xi @ res.vcov @ xi)
        s2w_del[i] = res.s2w
        dffits[i] = (pred_full[i] - delpred[i]) / math.sqrt(res.s2w * hat[i] * (res.tau2 + vi[i]))
        vb_del = _invcalc(X, 1.0 / (vi + res.tau2))
        dfb = full.beta - res.beta
        dfbs[i] = dfb / np.sqrt(res.s2w * np.diag(vb_del))
        cook[i] = float(dfb @ vb_inv @ dfb)
        cov_r[i] = float(np.linalg.det(res.vcov)) / det_full
    resid = yi - delpred
    resid[np.abs(resid) < 100 * np.finfo(float).eps] = 0.0
    se_resid = np.sqrt(vi * s2w_del + vdelpred + tau2_del * s2w_del)
    rstudent = resid / se_resid
    with np.errstate(invalid="ignore"):
        infl = (
            (np.abs(dffits) > 3 * math.sqrt(p / (k - p)) if k > p else np.zeros(k, dtype=bool))
            | (dist.chi2.cdf(cook, m) > 0.5)
            | (hat > 3 * p / k)
            | np.any(np.abs(dfbs) > 1, axis=1)
        )
    return InfluenceResult(
        rstudent=rstudent, residual=resid, residual_se=se_resid, dffits=dffits, cooks_distance=cook,
        cov_ratio=cov_r, tau2_deleted=tau2_del, qe_deleted=qe_del, hat=hat, weight=full.weights,
        dfbetas=dfbs, influential=np.asarray(infl, dtype=bool), model=full,
    )
