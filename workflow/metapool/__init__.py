"""metapool: the statistical engine of the ALK meta-analysis workflow (no Snakemake imports).

The public functions are importable from the package itself, e.g. ``metapool.pool_proportions``.
They are loaded on first use (PEP 562), so ``import metapool`` stays cheap for jobs that need
only a part of the engine.
"""

from __future__ import annotations

import importlib

#: The package version, single-sourced: pyproject.toml reads it (``[tool.setuptools.dynamic]``) and the
#: report's provenance shows it.
__version__ = "0.2.0"

_EXPORTS = {
    "clopper_pearson": "stats.effects",
    "wilson": "stats.effects",
    "jeffreys": "stats.effects",
    "agresti_coull": "stats.effects",
    "logit_effects": "stats.effects",
    "se_from_ci": "stats.effects",
    "estimate_tau2": "stats.tau2",
    "tau2_ee": "stats.tau2",
    "tau2_dl": "stats.tau2",
    "tau2_he": "stats.tau2",
    "tau2_sj": "stats.tau2",
    "tau2_ml": "stats.tau2",
    "tau2_reml": "stats.tau2",
    "tau2_eb": "stats.tau2",
    "tau2_pm": "stats.tau2",
    "ConvergenceError": "stats.lockstep",
    "inverse_variance": "stats.pooling",
    "hartung_knapp_factor": "stats.pooling",
    "PoolResult": "stats.pooling",
    "PooledEstimate": "stats.results",
    "pool_proportions": "stats.proportions",
    "q_profile_ci": "stats.heterogeneity",
    "glmm_proportions": "stats.glmm",
    "pool_many": "stats.pooling",
    "egger_test": "stats.bias",
    "begg_test": "stats.bias",
    "trim_and_fill": "stats.bias",
    "leave_one_out": "stats.sensitivity",
    "influence": "stats.sensitivity",
    "cumulative": "stats.sensitivity",
    "subgroup_analysis": "stats.moderators",
    "meta_regression": "stats.moderators",
    "pool_medians": "stats.survival",
    "pool_log_scale": "stats.survival",
    "median_of_medians": "stats.medians",
    "weighted_median_of_medians": "stats.medians",
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
