"""Results objects shared by every pooled outcome, and the one protocol every fitted model follows.

Every model an analysis can fit (:class:`PooledEstimate` of the inverse-variance models,
:class:`metapool.stats.glmm.GlmmResult`, :class:`metapool.stats.medians.MedianOfMedians`) has the fields of
:data:`ROW_FIELDS` (NaN where the model has no such number: no prediction interval for the GLMM, no
tau^2 for the median of medians), per-study ``weights`` (``None`` when the model has none) and ``notes``;
:func:`table_row` turns any of them into the numbers of a pooled-table row, so that no caller needs to
know which model it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from .heterogeneity import HeterogeneityCI
from .pooling import PoolResult

__all__ = ["PooledEstimate", "PooledResult", "ROW_FIELDS", "TEST_FIELDS", "table_row", "test_name"]

#: The test for the overall effect (metafor's ``zval``, ``ddf``, ``pval``): the Wald statistic ``beta / se``
#: on the analysis scale (z, or t under Hartung-Knapp), its degrees of freedom (t only; NaN for z) and its
#: two-sided p-value. NaN where the model has no such test (the median of medians).
TEST_FIELDS = ("zval", "ddf", "pval")
#: The numbers of a pooled-table row that every fitted model provides (NaN where it has none): ``k``, the
#: estimate and its confidence and prediction limits on the natural scale, tau^2, I^2, H^2, Cochran's Q
#: with its degrees of freedom and p-value, ``beta`` and ``se`` on the analysis scale, and the exact
#: coverage of a sign-test interval (the median of medians), and the test for the overall effect
#: (:data:`TEST_FIELDS`).
ROW_FIELDS = ("k", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2", "q", "df",
              "q_pvalue", "beta", "se", "coverage") + TEST_FIELDS


class PooledResult(Protocol):
    """What every fitted model of an analysis provides: the fields of :data:`ROW_FIELDS`, the per-study
    ``weights`` in percent (``None`` when the model has none) and ``notes`` (what a reader of the row
    should know: a fallback metafor also takes, a model that did not converge)."""

    k: int
    estimate: float
    ci_lower: float
    ci_upper: float

    @property
    def weights(self) -> np.ndarray | None: ...

    @property
    def notes(self) -> tuple[str, ...]: ...


def test_name(zval: float, ddf: float) -> str:
    """The test for the overall effect actually used: ``"t"`` (finite ``ddf``, Hartung-Knapp), ``"z"``
    (finite ``zval`` without df) or ``""`` (no test: nothing pooled, or the median of medians).

    metafor switches Hartung-Knapp to z when k = 1 (``test_used``); the name follows the numbers,
    not the configured CI method.

    Parameters
    ----------
    zval, ddf : float
        The statistic and its degrees of freedom (:data:`TEST_FIELDS`).

    Returns
    -------
    str
    """
    if ddf == ddf and math.isfinite(ddf):
        return "t"
    return "z" if zval == zval and not math.isnan(zval) else ""


def table_row(result: PooledResult) -> dict:
    """The pooled-row numbers of a fitted model (:data:`ROW_FIELDS`), the name of its test for the overall
    effect (``test``, :func:`test_name`) and its ``notes`` (a list).

    Parameters
    ----------
    result
        Any fitted model of an analysis (:class:`PooledResult`).

    Returns
    -------
    dict
        Field -> value for every name of :data:`ROW_FIELDS`, ``test`` and ``notes``.
    """
    row = {name: getattr(result, name) for name in ROW_FIELDS}
    return {**row, "test": test_name(row["zval"], row["ddf"]), "notes": list(result.notes)}



@dataclass(frozen=True)
class PooledEstimate:
    """A pooled estimate back-transformed to its natural scale (proportion, months, hazard ratio),
    with the inverse-variance model on the analysis scale (logit, log) in ``model`` and, when computed,
    the Q-profile confidence intervals for tau^2 / I^2 / H^2 in ``heterogeneity``."""

    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    model: PoolResult
    transform: str = "logit"
    heterogeneity: HeterogeneityCI | None = None

    @classmethod
    def from_model(cls, model: PoolResult, backtransform, transform: str,
                   heterogeneity: HeterogeneityCI | None = None) -> "PooledEstimate":
        """Back-transform a model's estimate, confidence and prediction limits."""
        return cls(
            estimate=float(backtransform(model.beta)),
            ci_lower=float(backtransform(model.ci_lower)),
            ci_upper=float(backtransform(model.ci_upper)),
            pi_lower=float(backtransform(model.pi_lower)),
            pi_upper=float(backtransform(model.pi_upper)),
            model=model,
            transform=transform,
            heterogeneity=heterogeneity,
        )

    def _het_ci(self, name: str) -> tuple[float, float]:
        if self.heterogeneity is None:
            return (math.nan, math.nan)
        return getattr(self.heterogeneity, name)

    @property
    def tau2_ci(self) -> tuple[float, float]:
        """Q-profile confidence interval for tau^2 (NaN when not computed or not estimable)."""
        return self._het_ci("tau2_ci")

    @property
    def tau_ci(self) -> tuple[float, float]:
        return self._het_ci("tau_ci")

    @property
    def i2_ci(self) -> tuple[float, float]:
        """Confidence interval for I^2 (percent) from the tau^2 interval."""
        return self._het_ci("i2_ci")

    @property
    def h2_ci(self) -> tuple[float, float]:
        return self._het_ci("h2_ci")

    @property
    def tau2(self) -> float:
        return self.model.tau2

    @property
    def i2(self) -> float:
        return self.model.i2

    @property
    def h2(self) -> float:
        return self.model.h2

    @property
    def q(self) -> float:
        return self.model.q

    @property
    def q_pvalue(self) -> float:
        return self.model.q_pvalue

    @property
    def df(self) -> int:
        return self.model.df

    @property
    def beta(self) -> float:
        """The pooled estimate on the analysis scale."""
        return self.model.beta

    @property
    def coverage(self) -> float:
        """NaN: the interval is a Wald interval, not a sign-test interval of exact coverage."""
        return math.nan

    @property
    def notes(self) -> tuple[str, ...]:
        return self.model.notes

    @property
    def k(self) -> int:
        return self.model.k

    @property
    def se(self) -> float:
        """Standard error of the pooled estimate on the transformed scale."""
        return self.model.se

    @property
    def zval(self) -> float:
        """Wald statistic of the test for the overall effect on the analysis scale (z, or t under Hartung-Knapp)."""
        return self.model.zval

    @property
    def ddf(self) -> float:
        """Degrees of freedom of ``zval`` (``k - 1`` under Hartung-Knapp, NaN for z)."""
        return self.model.ddf

    @property
    def pval(self) -> float:
        """Two-sided p-value of the test for the overall effect (beta = 0 on the analysis scale)."""
        return self.model.pval

    def __str__(self) -> str:
        from .printing import format_pooled_estimate

        return format_pooled_estimate(self)

    def summary(self) -> str:
        """A block like metafor's ``print.rma`` with the back-transformed estimate (``predict(transf=)``)."""
        return str(self)

    @property
    def weights(self) -> np.ndarray:
        """Study weights in percent."""
        return self.model.weights

    def summary_frame(self) -> pd.DataFrame:
        """One-row frame of the pooled result (natural scale) and heterogeneity, as statsmodels' ``summary_frame``."""
        m = self.model
        tau2_lo, tau2_hi = self.tau2_ci
        i2_lo, i2_hi = self.i2_ci
        h2_lo, h2_hi = self.h2_ci
        return pd.DataFrame(
            {
                "estimate": [self.estimate],
                "ci_lower": [self.ci_lower],
                "ci_upper": [self.ci_upper],
                "pi_lower": [self.pi_lower],
                "pi_upper": [self.pi_upper],
                "k": [m.k],
                "tau2": [m.tau2],
                "tau2_ci_lower": [tau2_lo],
                "tau2_ci_upper": [tau2_hi],
                "i2": [m.i2],
                "i2_ci_lower": [i2_lo],
                "i2_ci_upper": [i2_hi],
                "h2": [m.h2],
                "h2_ci_lower": [h2_lo],
                "h2_ci_upper": [h2_hi],
                "q": [m.q],
                "df": [m.df],
                "q_pvalue": [m.q_pvalue],
                "beta": [m.beta],
                "se": [m.se],
                "transform": [self.transform],
                "method": [m.method],
                "ci_method": [m.ci],
                "level": [m.level],
            }
        )
