"""Explaining heterogeneity: subgroup analysis and meta-regression.

* :func:`subgroup_analysis` pools each subgroup separately (its own tau^2)
  with :func:`metapool.stats.pooling.inverse_variance` and tests for subgroup
  differences with Cochran's Q across the subgroup estimates (a fixed-effect
  Q on ``G - 1`` df), as RevMan and R's ``meta`` do with separate tau^2
  (Borenstein M, Higgins JPT. Meta-analysis and subgroups. Prev Sci
  2013;14:134-143; Cochrane Handbook, section 10.11.3.1).
* :func:`meta_regression` fits the mixed-effects meta-regression on
  continuous and categorical moderators (metafor ``rma(yi, vi, mods = ~ ...)``;
  Thompson SG, Higgins JPT. How should meta-regression analyses be undertaken
  and interpreted? Stat Med 2002;21:1559-1573), with Wald-type z tests or the
  Knapp-Hartung t and F tests (Knapp G, Hartung J. Stat Med 2003;22:2693-2710).

Both take the model's options under the names of
:func:`metapool.stats.pooling.inverse_variance` (``method``, ``ci``, ``hk_adhoc``,
``level``; ``pi`` for the subgroup models).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import distributions as dist
from .pooling import PoolResult, check_effects, inverse_variance
from .regression import MetaRegressionFit, fit_meta_regression

__all__ = ["SubgroupResult", "q_between", "subgroup_analysis", "design_matrix", "meta_regression", "wald_test"]


def q_between(est, se) -> tuple[float, int, float]:
    """The test for subgroup differences: Cochran's Q of the subgroup estimates weighted by ``1 / se^2``.

    ``Q_b = sum w_g (b_g - b_w)^2`` with ``w_g = 1 / se_g^2`` and ``b_w`` their weighted mean, on ``G - 1``
    degrees of freedom (Borenstein & Higgins, Prev Sci 2013;14:134-143; metafor's ``rma(yi = b, sei = se,
    method = "FE")`` QE on the subgroup estimates).

    Parameters
    ----------
    est, se : array_like
        The subgroup estimates and their standard errors (all finite, se > 0).

    Returns
    -------
    tuple
        ``(Q_b, G - 1, p)`` with ``p`` the upper chi-square tail.
    """
    est = np.asarray(est, dtype=float)
    w = 1.0 / np.asarray(se, dtype=float) ** 2
    q = float(np.sum(w * (est - np.sum(w * est) / np.sum(w)) ** 2))
    df = len(est) - 1
    return q, df, float(dist.chi2.sf(q, df))


@dataclass(frozen=True)
class SubgroupResult:
    """Per-subgroup pooled models and the test for subgroup differences.

    ``result[group]`` (``models[group]``) is a subgroup's :class:`PoolResult`.
    ``q_between`` is Cochran's Q of the subgroup estimates weighted by
    ``1 / se_g^2`` on ``df_between = G - 1`` df; ``q_within`` the sum of the
    subgroups' Q statistics on ``df_within = sum(k_g - 1)`` df.
    """

    groups: tuple
    models: dict = field(repr=False)
    q_between: float
    df_between: int
    p_between: float
    q_within: float
    df_within: int
    p_within: float
    overall: PoolResult = field(repr=False)

    def __getitem__(self, group) -> PoolResult:
        """The fit of one subgroup (its own tau^2), with its test for the overall effect (``zval``, ``pval``)."""
        try:
            return self.models[group]
        except KeyError:
            raise KeyError(f"no subgroup {group!r}; the subgroups are {list(self.groups)}") from None

    def frame(self) -> pd.DataFrame:
        """One row per subgroup: k, estimate, se, CI, tau^2, I^2, Q (on the model scale)."""
        rows = []
        for g in self.groups:
            m = self.models[g]
            rows.append({"group": g, "k": m.k, "beta": m.beta, "se": m.se, "ci_lower": m.ci_lower,
                         "ci_upper": m.ci_upper, "tau2": m.tau2, "i2": m.i2, "q": m.q, "q_pvalue": m.q_pvalue})
        return pd.DataFrame(rows)


def _levels(values, levels=None) -> list:
    if levels is not None:
        levels = list(levels)
        missing = set(pd.unique(pd.Series(values))) - set(levels)
        if missing:
            raise ValueError(f"values not among the given levels: {sorted(map(str, missing))}")
        return levels
    series = pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [c for c in series.cat.categories if c in set(series)]
    return sorted(pd.unique(series), key=lambda v: (str(type(v)), v))


def subgroup_analysis(
    yi,
    vi,
    groups,
    *,
    method: str = "REML",
    ci: str = "z",
    level: float = 0.95,
    levels=None,
    hk_adhoc: bool = False,
    pi: str = "default",
) -> SubgroupResult:
    """Pool each subgroup with its own tau^2 and test whether the subgroup estimates differ.

    The test for subgroup differences is Cochran's Q of the subgroup
    estimates with weights ``1 / se_g^2``, chi-square on ``G - 1`` df
    (metafor: ``rma(estimates, sei = se, method = "FE")$QE``).

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    groups : array_like
        The subgroup label of each study.
    method, ci, level, hk_adhoc, pi
        The model of every subgroup and of the overall pool, as
        :func:`~metapool.stats.pooling.inverse_variance`.
    levels : sequence, optional
        The order of the subgroups (default: sorted).

    Returns
    -------
    SubgroupResult
    """
    yi, vi = check_effects(yi, vi)
    groups = np.asarray(groups, dtype=object)
    if len(groups) != len(yi):
        raise ValueError("one group label per study")
    labels = _levels(groups, levels)
    if len(labels) < 2:
        raise ValueError("subgroup analysis needs at least two subgroups")
    kw = dict(method=method, ci=ci, level=level, hk_adhoc=hk_adhoc, pi=pi)
    models = {}
    for g in labels:
        sel = groups == g
        if not sel.any():
            raise ValueError(f"subgroup {g!r} has no studies")
        models[g] = inverse_variance(yi[sel], vi[sel], **kw)
    est = np.array([models[g].beta for g in labels])
    se = np.array([models[g].se for g in labels])
    if not np.all(np.isfinite(se) & (se > 0)):
        raise ValueError("a subgroup has a zero or undefined standard error; the test for subgroup differences "
                         "cannot be computed")
    q_b, df_between, p_b = q_between(est, se)
    q_within = float(sum(models[g].q for g in labels))
    df_within = int(sum(models[g].k - 1 for g in labels))
    return SubgroupResult(
        groups=tuple(labels),
        models=models,
        q_between=q_b,
        df_between=df_between,
        p_between=p_b,
        q_within=q_within,
        df_within=df_within,
        p_within=float(dist.chi2.sf(q_within, df_within)) if df_within > 0 else math.nan,
        overall=inverse_variance(yi, vi, **kw),
    )


def design_matrix(moderators, *, categorical=(), levels=None, intercept: bool = True):
    """Design matrix and column names for ``moderators`` (a mapping or DataFrame of name -> values).

    Numeric moderators enter as they are; moderators named in ``categorical``
    or whose values are not numbers (strings, booleans, pandas categoricals)
    are dummy-coded against their first level (treatment contrasts, R's
    ``factor()``), with levels sorted unless given in ``levels[name]``.
    Columns are named ``intrcpt``, ``name`` and ``name[level]``.
    """
    if isinstance(moderators, pd.DataFrame):
        items = [(c, moderators[c].to_numpy()) for c in moderators.columns]
    elif isinstance(moderators, Mapping):
        items = list(moderators.items())
    else:
        raise TypeError("moderators must be a mapping or a DataFrame of name -> values")
    if not items:
        raise ValueError("no moderators given")
    levels = levels or {}
    k = len(items[0][1])
    cols, names = [], []
    if intercept:
        cols.append(np.ones(k))
        names.append("intrcpt")
    for name, values in items:
        series = pd.Series(values)
        if len(series) != k:
            raise ValueError(f"moderator {name!r} has {len(series)} values, expected {k}")
        if series.isna().any():
            raise ValueError(f"moderator {name!r} has missing values")
        is_cat = (name in categorical or isinstance(series.dtype, pd.CategoricalDtype)
                  or not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))
        if is_cat:
            lv = _levels(series.to_numpy(dtype=object) if not isinstance(series.dtype, pd.CategoricalDtype)
                         else series, levels.get(name))
            arr = series.to_numpy(dtype=object)
            for level in lv[1:]:
                cols.append((arr == level).astype(float))
                names.append(f"{name}[{level}]")
        else:
            cols.append(series.to_numpy(dtype=float))
            names.append(str(name))
    return np.column_stack(cols), tuple(names)


def meta_regression(
    yi,
    vi,
    moderators,
    *,
    method: str = "REML",
    ci: str = "z",
    hk_adhoc: bool = False,
    level: float = 0.95,
    categorical=(),
    levels=None,
    intercept: bool = True,
    btt=None,
) -> MetaRegressionFit:
    """Mixed-effects meta-regression of ``yi`` on ``moderators`` (metafor ``rma(yi, vi, mods = ...)``).

    Thompson SG, Higgins JPT. How should meta-regression analyses be
    undertaken and interpreted? Stat Med 2002;21:1559-1573.

    Parameters
    ----------
    yi, vi : array_like
        Effect sizes and sampling variances.
    moderators : mapping or DataFrame
        Name -> values; see :func:`design_matrix` for how they are coded.
    method, ci, hk_adhoc, level
        The model, as :func:`~metapool.stats.regression.fit_meta_regression`.
    categorical, levels, intercept
        As :func:`design_matrix`.
    btt : sequence of int, optional
        The coefficients tested by ``QM`` (default: all but the intercept).

    Returns
    -------
    MetaRegressionFit
        Coefficients with standard errors, z (``ci="z"``) or Knapp-Hartung t
        (``ci="hartung_knapp"``, on ``k - p`` df) statistics, p-values and
        confidence intervals; the omnibus test of the moderators ``QM``
        (chi-square, or F under Knapp-Hartung; Knapp & Hartung, Stat Med
        2003;22:2693-2710), the residual heterogeneity test ``QE`` on ``k - p``
        df, the residual tau^2, I^2 and H^2, and metafor's pseudo-R^2
        ``max(0, 100 (tau2_RE - tau2_ME) / tau2_RE)`` (percent).
    """
    X, names = design_matrix(moderators, categorical=categorical, levels=levels, intercept=intercept)
    return fit_meta_regression(yi, vi, X, method=method, ci=ci, hk_adhoc=hk_adhoc, level=level, btt=btt,
                               names=names)


def wald_test(fit: MetaRegressionFit, btt) -> tuple[float, tuple[int, int | None], float]:
    """Omnibus Wald test of the coefficients ``btt`` (indices or names) of a fitted meta-regression,
    as metafor's ``anova(fit, btt = ...)``: ``(QM, df, p)`` with chi-square under z and F (QM / m on
    ``(m, k - p)`` df) under Knapp-Hartung."""
    idx = [fit.names.index(b) if isinstance(b, str) else int(b) for b in btt]
    b = fit.beta[idx]
    qm = float(b @ np.linalg.solve(fit.vcov[np.ix_(idx, idx)], b))
    m = len(idx)
    if fit.ddf is not None:
        qm /= m
        return qm, (m, fit.ddf), float(dist.f.sf(qm, m, fit.ddf))
    return qm, (m, None), float(dist.chi2.sf(qm, m))
