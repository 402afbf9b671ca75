"""Analysis specifications from the (already schema-validated) workflow config."""

from __future__ import annotations

import copy

__all__ = ["BUILTIN_DEFAULTS", "resolve_analyses"]

BUILTIN_DEFAULTS = {
    "method": "REML",
    "ci": "z",
    "hk_adhoc": False,
    "pi": "default",
    "level": 0.95,
    "transform": "logit",
    "median_method": "log_iv",
    "report_policy": "latest_cut",
    "assessor_preference": ["independent_review", "investigator", "not_stated"],
}


def resolve_analyses(config: dict) -> dict[str, dict]:
    """Each analysis with every option filled: built-in defaults < ``defaults:`` < the analysis entry."""
    base = {**BUILTIN_DEFAULTS, **copy.deepcopy(config.get("defaults") or {})}
    specs = {}
    for name, entry in config["analyses"].items():
        spec = {**copy.deepcopy(base), **copy.deepcopy(entry), "name": name}
        spec.setdefault("filters", {})
        specs[name] = spec
    return specs
