"""metapool: the statistical engine of the ALK meta-analysis workflow (no Snakemake imports).

The public functions are importable from the package itself, e.g. ``metapool.pool_proportions``.
They are loaded on first use (PEP 562), so ``import metapool`` stays cheap for jobs that need
only a part of the engine.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "clopper_pearson": "effects",
    "wilson": "effects",
    "jeffreys": "effects",
    "agresti_coull": "effects",
    "logit_effects": "effects",
    "se_from_ci": "effects",
    "estimate_tau2": "tau2",
    "tau2_dl": "tau2",
    "tau2_he": "tau2",
    "tau2_sj": "tau2",
    "tau2_ml": "tau2",
    "tau2_reml": "tau2",
    "tau2_eb": "tau2",
    "tau2_pm": "tau2",
    "ConvergenceError": "tau2",
    "inverse_variance": "pooling",
    "hartung_knapp_factor": "pooling",
    "PoolResult": "pooling",
    "PooledEstimate": "results",
    "pool_proportions": "proportions",
    "q_profile_ci": "heterogeneity",
    "glmm_proportions": "glmm",
    "pool_many": "batch",
    "egger_test": "bias",
    "begg_test": "bias",
    "trim_and_fill": "bias",
    "leave_one_out": "sensitivity",
    "influence": "sensitivity",
    "cumulative": "sensitivity",
    "subgroup_analysis": "moderators",
    "meta_regression": "moderators",
    "pool_medians": "survival",
    "pool_log_scale": "survival",
    "median_of_medians": "medians",
    "weighted_median_of_medians": "medians",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'metapool' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
