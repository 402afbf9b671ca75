"""Small-study effects: Egger's regression test, Begg's rank correlation test, trim and fill.

Each function takes the effect sizes ``yi`` and sampling variances ``vi`` of
one meta-analysis and reproduces metafor 3.8-1 (``regtest``, ``ranktest``,
``trimfill``). The tests have little power with few studies, so each refuses
to run with fewer than :data:`MIN_STUDIES` (10) studies unless called with
``force=True`` (Sterne JAC et al. Recommendations for examining and
interpreting funnel plot asymmetry in meta-analyses of randomised controlled
trials. BMJ 2011;343:d4002).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .pooling import PoolResult, check_effects, check_model_options, critical_value, inverse_variance, wald_pvalue
from .regression import MetaRegressionFit, fit_meta_regression

__all__ = [
    "MIN_STUDIES",
    "EggerResult",
    "BeggResult",
    "TrimFillResult",
    "egger_test",
    "begg_test",
    "trim_and_fill",
]

MIN_STUDIES = 10
PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")


def _require_k(name: str, k: int, force: bool) -> None:
    if k < MIN_STUDIES and not force:
        raise ValueError(
            f"{name} needs at least {MIN_STUDIES} studies (k = {k}); pass force=True to run it anyway"
        )


@dataclass(frozen=True)
class EggerResult:
    """Regression test for funnel plot asymmetry.

    ``statistic`` is the z (``df`` None) or t (with ``df`` degrees of
    freedom) of the predictor's coefficient and ``pvalue`` its two-sided
    p-value.
    ``limit_estimate`` (with its CI) is the intercept: the estimate as the
    predictor goes to 0, i.e. for an infinitely precise study (``sei``,
    ``vi``, ``ninv``, ``sqrtninv`` only; ``None`` otherwise).
    """

    statistic: float
    pvalue: float
    df: int | None
    limit_estimate: float | None
    limit_ci_lower: float | None
    limit_ci_upper: float | None
    model: str
    predictor: str
    method: str
    k: int
    slope: float
    slope_se: float
    fit: MetaRegressionFit | None = field(default=None, repr=False)


def _predictor_column(predictor: str, vi: np.ndarray, ni) -> np.ndarray:
    if predictor == "sei":
        return np.sqrt(vi)
    if predictor == "vi":
        return vi
    if ni is None:
        raise ValueError(f"predictor {predictor!r} needs the sample sizes ni")
    ni = np.asarray(ni, dtype=float).ravel()
    if len(ni) != len(vi):
        raise ValueError("ni must have one sample size per study")
    return {"ni": ni, "ninv": 1.0 / ni, "sqrtni": np.sqrt(ni), "sqrtninv": 1.0 / np.sqrt(ni)}[predictor]


def egger_test(
    yi,
    vi,
    *,
    model: str = "rma",
    predictor: str = "sei",
    method: str = "REML",
    ci: str = "z",
    hk_adhoc: bool = False,
    level: float = 0.95,
    ni=None,
    force: bool = False,
) -> EggerResult:
    """Egger's regression test for funnel plot asymmetry (metafor ``regtest``).

    Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis
    detected by a simple, graphical test. BMJ 1997;315:629-634.

    ``model="rma"`` (metafor's default) fits the mixed-effects meta-regression
    of ``yi`` on the predictor with the model's tau^2 estimator and tests
    (z, or the Knapp-Hartung t; Knapp & Hartung 2003), and tests the
    predictor's coefficient. ``model="lm"`` is the classical Egger test:
    the weighted least-squares regression with weights ``1 / vi`` and a
    multiplicative dispersion, a t test on ``k - 2`` df (equivalent to
    regressing ``yi / sei`` on ``1 / sei`` and testing the intercept).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    model : str
        ``"rma"`` or ``"lm"``.
    predictor : str
        The standard error ``sei`` (default), ``vi``, or with ``ni`` the sample
        size ``ni``, ``ninv``, ``sqrtni``, ``sqrtninv``.
    method, ci, hk_adhoc, level
        The model (as :func:`~metapool.stats.pooling.inverse_variance`); ``method``,
        ``ci`` and ``hk_adhoc`` are not used by ``model="lm"``.
    ni : array_like, optional
        Sample sizes.
    force : bool
        Run with fewer than :data:`MIN_STUDIES` studies.

    Returns
    -------
    EggerResult
    """
    yi, vi = check_effects(yi, vi)
    k = len(yi)
    _require_k("Egger's test", k, force)
    if model not in ("rma", "lm"):
        raise ValueError(f"model must be 'rma' or 'lm', got {model!r}")
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {PREDICTORS}, got {predictor!r}")
    check_model_options(ci=ci, level=level)
    x = _predictor_column(predictor, vi, ni)
    X = np.column_stack([np.ones(k), x])
    has_limit = predictor in ("sei", "vi", "ninv", "sqrtninv")
    if model == "rma":
        fit = fit_meta_regression(yi, vi, X, method=method, ci=ci, hk_adhoc=hk_adhoc, level=level,
                                  names=("intrcpt", predictor), compute_r2=False)
        return EggerResult(
            statistic=float(fit.stat[1]), pvalue=float(fit.pval[1]), df=fit.ddf,
            limit_estimate=float(fit.beta[0]) if has_limit else None,
            limit_ci_lower=float(fit.ci_lower[0]) if has_limit else None,
            limit_ci_upper=float(fit.ci_upper[0]) if has_limit else None,
            model=model, predictor=predictor, method=fit.method, k=k,
            slope=float(fit.beta[1]), slope_se=float(fit.se[1]), fit=fit,
        )
    if k < 3:
        raise ValueError("the weighted regression test needs at least 3 studies")
    if np.linalg.matrix_rank(X) < 2:
        raise ValueError("the predictor is constant: the regression test cannot be computed")
    w = 1.0 / vi
    xtwx = (X.T * w) @ X
    beta = np.linalg.solve(xtwx, X.T @ (w * yi))
    df = k - 2
    sigma2 = float(np.sum(w * (yi - X @ beta) ** 2)) / df
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(xtwx)))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = beta / se
    p = wald_pvalue(t, df, True)
    crit = critical_value(level, df, True)
    return EggerResult(
        statistic=float(t[1]), pvalue=float(p[1]), df=df,
        limit_estimate=float(beta[0]) if has_limit else None,
        limit_ci_lower=float(beta[0] - crit * se[0]) if has_limit else None,
        limit_ci_upper=float(beta[0] + crit * se[0]) if has_limit else None,
        model=model, predictor=predictor, method="EE (weighted least squares)", k=k,
        slope=float(beta[1]), slope_se=float(se[1]), fit=None,
    )


@dataclass(frozen=True)
class BeggResult:
    """Rank correlation test: Kendall's tau-b and its two-sided p-value.

    ``exact`` tells whether the p-value is the exact permutation one (no ties)
    or the normal approximation (ties present, or ``exact=False``);
    ``statistic`` is then ``T`` (the number of concordant pairs) or ``z``.
    """

    tau: float
    pvalue: float
    statistic: float
    exact: bool
    k: int


def begg_test(yi, vi, *, exact: bool = True, force: bool = False) -> BeggResult:
    """Begg and Mazumdar's rank correlation test for funnel plot asymmetry (metafor ``ranktest``).

    Begg CB, Mazumdar M. Operating characteristics of a rank correlation test
    for publication bias. Biometrics 1994;50:1088-1101.

    Kendall's tau-b between the standardised effects
    ``(y_i - theta_EE) / sqrt(v_i - 1 / sum(1/v))`` and the variances ``v_i``,
    tested as R's ``cor.test(method = "kendall", exact = exact)``: the exact
    null distribution when ``exact`` and there are no ties, otherwise the
    normal approximation with the tie-corrected variance of the score (no
    continuity correction). Both by ``scipy.stats.kendalltau`` (``method="exact"``
    or ``"asymptotic"``), which computes these as R does.

    Parameters
    ----------
    yi, vi : array_like
        Effects and their sampling variances.
    exact : bool
        The exact null distribution when there are no ties (R's ``exact = TRUE``).
    force : bool
        Run with fewer than 10 studies (the Cochrane Handbook's minimum).

    Returns
    -------
    BeggResult
        ``tau``, two-sided ``pvalue``; ``statistic`` is ``T`` (the number of
        concordant pairs, as R reports it) for the exact test and ``z`` otherwise.
    """
    yi, vi = check_effects(yi, vi)
    k = len(yi)
    _require_k("Begg's test", k, force)
    if k < 2:
        raise ValueError("the rank correlation test needs at least 2 studies")
    wi = 1.0 / vi
    theta = float(np.sum(wi * yi) / np.sum(wi))
    vb = 1.0 / float(np.sum(wi))
    ystar = (yi - theta) / np.sqrt(vi - vb)
    if len(np.unique(ystar)) < 2 or len(np.unique(vi)) < 2:  # tau undefined (NA in R)
        return BeggResult(tau=math.nan, pvalue=math.nan, statistic=math.nan, exact=False, k=k)
    ties = min(len(np.unique(ystar)), len(np.unique(vi))) < k
    use_exact = exact and not ties
    res = stats.kendalltau(ystar, vi, method="exact" if use_exact else "asymptotic")
    tau = float(res.statistic)
    if use_exact:
        concordant = round((tau + 1) * k * (k - 1) / 4)
        return BeggResult(tau=tau, pvalue=float(res.pvalue), statistic=float(concordant), exact=True, k=k)
    # the z that scipy's asymptotic p-value is the two-sided normal tail of (R's STATISTIC)
    z = math.copysign(float(stats.norm.isf(res.pvalue / 2)), tau)
    return BeggResult(tau=tau, pvalue=float(res.pvalue), statistic=z, exact=False, k=k)


@dataclass(frozen=True)
class TrimFillResult:
    """Trim and fill: ``k0`` studies imputed on ``side``, and the model refitted to the filled data.

    ``yi``/``vi`` are the observed studies (in their original order) followed
    by the ``k0`` filled ones; ``filled`` marks the latter. ``model`` is the
    inverse-variance fit to the filled data (or to the observed data when
    ``k0 = 0``). ``p_k0`` is the p-value of the test ``k0 = 0`` for the
    ``R0`` estimator (``None`` otherwise).
    """

    k0: int
    se_k0: float
    side: str
    estimator: str
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    filled: np.ndarray = field(repr=False)
    model: PoolResult = field(repr=False)
    p_k0: float | None
    iterations: int

    @property
    def beta(self) -> float:
        return self.model.beta


def _ranks_first(a: np.ndarray) -> np.ndarray:
    """R's ``rank(a, ties.method = "first")``."""
    order = np.argsort(a, kind="stable")
    r = np.empty(len(a), dtype=float)
    r[order] = np.arange(1, len(a) + 1)
    return r


def trim_and_fill(
    yi,
    vi,
    *,
    method: str = "REML",
    estimator: str = "L0",
    side: str | None = None,
    ci: str = "z",
    hk_adhoc: bool = False,
    level: float = 0.95,
    pi: str = "default",
    maxiter: int = 100,
    force: bool = False,
) -> TrimFillResult:
    """Duval and Tweedie's trim-and-fill method (metafor ``trimfill``).

    Duval S, Tweedie R. Trim and fill: a simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. Biometrics
    2000;56:455-463.

    The side on which studies are missing is, unless given, the one opposite
    to the sign of the slope of the meta-regression of ``yi`` on ``sqrt(vi)``
    (``method`` as the model; negative slope: missing on the right). The
    number of missing studies is estimated iteratively with ``estimator``
    ``L0`` (default), ``R0`` or ``Q0`` from the signed ranks of the centred
    effects; the most extreme ``k0`` studies are mirrored about the trimmed
    estimate and the model refitted to the filled data.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    method, ci, hk_adhoc, level, pi
        The model refitted to the filled data (as
        :func:`~metapool.stats.pooling.inverse_variance`); ``method`` also
        estimates the side and the trimmed estimates.
    estimator : str
        ``"L0"``, ``"R0"`` or ``"Q0"``.
    side : str, optional
        ``"left"`` or ``"right"``; ``None``: estimated.
    maxiter : int
        Iterations of the trimming at the most.
    force : bool
        Run with fewer than :data:`MIN_STUDIES` studies.

    Returns
    -------
    TrimFillResult
    """
    yi, vi = check_effects(yi, vi)
    k = len(yi)
    _require_k("Trim-and-fill", k, force)
    if k == 1:
        raise ValueError("trim and fill needs more than one study")
    if estimator not in ("L0", "R0", "Q0"):
        raise ValueError(f"estimator must be 'L0', 'R0' or 'Q0', got {estimator!r}")
    check_model_options(ci=ci, pi=pi, level=level)
    if side is None:
        fit = fit_meta_regression(yi, vi, np.column_stack([np.ones(k), np.sqrt(vi)]), method=method,
                                  compute_r2=False)
        side = "right" if fit.beta[1] < 0 else "left"
    elif side not in ("left", "right"):
        raise ValueError(f"side must be 'left', 'right' or None, got {side!r}")

    y = -yi if side == "right" else yi.copy()
    ix = np.argsort(y, kind="stable")
    y, v = y[ix], vi[ix]
    k0_prev, k0, iteration = -1, 0, 0
    se_k0 = math.nan
    beta = math.nan
    yc = y
    while abs(k0 - k0_prev) > 0:
        k0_prev = k0
        iteration += 1
        if iteration > maxiter:
            raise RuntimeError(f"Trim and fill algorithm did not converge in {maxiter} iterations.")
        beta = inverse_variance(y[: k - k0], v[: k - k0], method=method).beta
        yc = y - beta
        signed = np.sign(yc) * _ranks_first(np.abs(yc))
        if estimator == "R0":
            if not np.any(signed < 0):
                raise ValueError("R0 estimator undefined: no study lies on the side opposite to the missing ones")
            k0f = float((k - np.max(-signed[signed < 0])) - 1)
            se = math.sqrt(2 * max(0.0, k0f) + 2)
        else:
            sr = float(np.sum(signed[signed > 0]))
            if estimator == "L0":
                k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
            else:
                disc = 2 * k**2 - 4 * sr + 0.25
                if disc < 0:  # metafor stops with 'missing value where TRUE/FALSE needed'
                    raise ValueError("Q0 estimator undefined (2 k^2 - 4 S_rank + 1/4 < 0); use estimator='L0'")
                k0f = k - 0.5 - math.sqrt(disc)
            var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0f**3 + 27 * k0f**2 + 17 * k0f - 18 * k * k0f**2
                      - 18 * k * k0f + 6 * k**2 * k0f) / 24
            root = math.sqrt(var_sr) if var_sr >= 0 else math.nan
            if estimator == "L0":
                se = 4 * root / (2 * k - 1)
            else:
                se = 2 * root / math.sqrt((k - 0.5) ** 2 - k0f * (2 * k - k0f - 1))
        k0 = max(0, int(round(k0f)))
        se_k0 = se if math.isnan(se) else max(0.0, se)

    if k0 > 0:
        yc_end = -(yc - beta) if side == "right" else yc - beta
        y_fill = np.concatenate([yi, -yc_end[k - k0:]])
        v_fill = np.concatenate([vi, v[k - k0:]])
        filled = np.concatenate([np.zeros(k, dtype=bool), np.ones(k0, dtype=bool)])
    else:
        y_fill, v_fill, filled = yi.copy(), vi.copy(), np.zeros(k, dtype=bool)
    model = inverse_variance(y_fill, v_fill, method=method, ci=ci, hk_adhoc=hk_adhoc, level=level, pi=pi)
    p_k0 = 0.5 ** (k0 + 1) if estimator == "R0" else None
    return TrimFillResult(k0=k0, se_k0=se_k0, side=side, estimator=estimator, yi=y_fill, vi=v_fill,
                          filled=filled, model=model, p_k0=p_k0, iterations=iteration)
