"""Results objects shared by every pooled outcome."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .pooling import PoolResult

__all__ = ["PooledEstimate"]


@dataclass(frozen=True)
class PooledEstimate:
    """A pooled estimate back-transformed to its natural scale (proportion, months, hazard ratio),
    with the inverse-variance model on the analysis scale (logit, log) in ``model``."""

    estimate: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    model: PoolResult
    transform: str = "logit"

    @classmethod
    def from_model(cls, model: PoolResult, backtransform, transform: str) -> "PooledEstimate":
        """Back-transform a model's estimate, confidence and prediction limits."""
        return cls(
            estimate=float(backtransform(model.beta)),
            ci_lower=float(backtransform(model.ci_lower)),
            ci_upper=float(backtransform(model.ci_upper)),
            pi_lower=float(backtransform(model.pi_lower)),
            pi_upper=float(backtransform(model.pi_upper)),
            model=model,
            transform=transform,
        )

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
    def k(self) -> int:
        return self.model.k

    @property
    def se(self) -> float:
        """Standard error of the pooled estimate on the transformed scale."""
        return self.model.se

    @property
    def weights(self) -> np.ndarray:
        """Study weights in percent."""
        return self.model.weights

    def summary_frame(self) -> pd.DataFrame:
        """One-row frame of the pooled result (natural scale) and heterogeneity, as statsmodels' ``summary_frame``."""
        m = self.model
        return pd.DataFrame(
            {
                "estimate": [self.estimate],
                "ci_lower": [self.ci_lower],
                "ci_upper": [self.ci_upper],
                "pi_lower": [self.pi_lower],
                "pi_upper": [self.pi_upper],
                "k": [m.k],
                "tau2": [m.tau2],
                "i2": [m.i2],
                "h2": [m.h2],
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
