"""One configured analysis: choose its studies, pool them, and say why any study is left out.

``run_analysis(estimates, spec)`` takes the per-study estimates of
:mod:`metapool.estimates` and an analysis specification (the merged config
entry) and returns two frames: the studies (pooled, not poolable, or set aside
by the report policy, each with its reason) and the one-row pooled result.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .effects import clopper_pearson, logit_effects
from .proportions import pool_proportions
from .selection import apply_filters, select_reports, study_labels
from .survival import hr_not_poolable_reason, log_scale_effects, median_not_poolable_reason, pool_log_scale

__all__ = ["OUTCOMES", "AnalysisError", "run_analysis", "POOLED_COLUMNS", "ANALYSIS_STUDY_COLUMNS"]

# config outcome -> (extraction table, outcome code in that table, measure)
OUTCOMES = {
    "orr": ("response", "orr", "proportion"),
    "intracranial_orr": ("response", "intracranial_orr", "proportion"),
    "pfs_median": ("survival", "pfs", "median"),
    "os_median": ("survival", "os", "median"),
    "pfs_hr": ("hazard_ratios", "pfs", "hr"),
    "os_hr": ("hazard_ratios", "os", "hr"),
}

POOLED_COLUMNS = [
    "analysis", "title", "outcome", "measure", "comparator", "model", "method", "transform", "ci_method",
    "pi_method", "level", "report_policy", "k", "participants", "estimate", "ci_lower", "ci_upper",
    "pi_lower", "pi_upper", "tau2", "i2", "h2", "q", "df", "q_pvalue", "beta", "se", "notes",
]
ANALYSIS_STUDY_COLUMNS = [
    "analysis", "study_id", "label", "trial", "cohort", "drug", "year", "assessor", "status", "included",
    "reason", "n", "events", "total", "estimate", "ci_lower", "ci_upper", "ci_level", "estimate_nr",
    "ci_lower_nr", "ci_upper_nr", "yi", "vi", "sei", "weight",
]


class AnalysisError(ValueError):
    """An analysis that cannot be carried out as configured."""


def _candidates(estimates: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, str]:
    _, code, measure = OUTCOMES[spec["outcome"]]
    rows = estimates[(estimates["outcome"] == code) & (estimates["measure"] == measure)]
    if measure == "hr":
        # never pool hazard ratios against different comparators
        rows = rows[rows["comparator"] == spec["comparator"]]
    rows = apply_filters(rows, spec.get("filters", {}))
    if rows.empty:
        what = f"{spec['outcome']}" + (f" vs {spec['comparator']}" if measure == "hr" else "")
        raise AnalysisError(
            f"analysis '{spec['name']}': no study with outcome {what} matches the filters {spec.get('filters', {})}"
        )
    return rows, measure


def _not_poolable(row, measure: str) -> str:
    if measure == "proportion":
        if pd.isna(row.events) or pd.isna(row.n):
            return row.note or "counts not reported"
        return ""
    if measure == "median":
        return median_not_poolable_reason(
            bool(row.estimate_nr), row.estimate, row.ci_lower, row.ci_upper,
            bool(row.ci_lower_nr), bool(row.ci_upper_nr), row.ci_level,
        )
    return hr_not_poolable_reason(row.estimate, row.ci_lower, row.ci_upper, row.ci_level)


def _model_label(spec: dict, measure: str) -> str:
    if spec["method"] == "EE":
        return "common effect"
    return "random effects"


def run_analysis(estimates: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select, pool and document one analysis.

    ``spec`` keys: ``name``, ``title``, ``outcome`` (see ``OUTCOMES``),
    ``comparator`` (hazard ratios), ``filters``, ``method``, ``ci``, ``pi``,
    ``hk_adhoc``, ``level``, ``transform``, ``report_policy``,
    ``assessor_preference``.
    """
    rows, measure = _candidates(estimates, spec)
    n_column = "n"
    selected, set_aside = select_reports(
        rows, n_column=n_column, policy=spec["report_policy"], assessor_preference=spec["assessor_preference"]
    )
    selected = selected.sort_values(["year", "trial", "study_id"], kind="mergesort").reset_index(drop=True)
    selected["label"] = study_labels(selected)
    selected["reason"] = [_not_poolable(r, measure) for r in selected.itertuples()]
    selected["included"] = selected["reason"] == ""
    level = spec["level"]

    inc = selected[selected["included"]]
    yi = np.full(len(selected), np.nan)
    vi = np.full(len(selected), np.nan)
    weight = np.full(len(selected), np.nan)
    result = None
    opts = dict(method=spec["method"], ci=spec["ci"], level=level, pi=spec["pi"], hk_adhoc=spec["hk_adhoc"])
    if measure == "proportion":
        selected["total"] = selected["n"]
        if len(inc):
            ev, tot = inc["events"].to_numpy(float), inc["n"].to_numpy(float)
            lo, hi = clopper_pearson(ev, tot, level)
            selected.loc[inc.index, ["ci_lower", "ci_upper"]] = np.column_stack([lo, hi])
            selected.loc[inc.index, "ci_level"] = level
            yi[inc.index], vi[inc.index] = logit_effects(ev, tot)
            result = pool_proportions(ev, tot, transform=spec["transform"], **opts)
    else:
        selected["total"] = np.nan
        if len(inc):
            y, s = log_scale_effects(inc["estimate"], inc["ci_lower"], inc["ci_upper"], inc["ci_level"])
            yi[inc.index], vi[inc.index] = y, s**2
            result = pool_log_scale(inc["estimate"], inc["ci_lower"], inc["ci_upper"], inc["ci_level"], **opts)
    if result is not None:
        weight[inc.index] = result.weights
    selected = selected.assign(
        analysis=spec["name"], yi=yi, vi=vi, sei=np.sqrt(vi), weight=weight,
        status=np.where(selected["included"], "pooled", "not_pooled"),
    )
    aside = set_aside.merge(rows, on=["study_id", "assessor"], how="left", validate="one_to_one")
    aside = aside.assign(
        analysis=spec["name"], label=study_labels(aside) if len(aside) else [], status="set_aside",
        included=False, total=np.nan, yi=np.nan, vi=np.nan, sei=np.nan, weight=np.nan,
    )
    studies = pd.concat([selected, aside], ignore_index=True)[ANALYSIS_STUDY_COLUMNS]

    pooled = {c: math.nan for c in POOLED_COLUMNS}
    pooled.update(
        analysis=spec["name"], title=spec["title"], outcome=spec["outcome"], measure=measure,
        comparator=spec.get("comparator", "") if measure == "hr" else "",
        model=_model_label(spec, measure), method=spec["method"],
        transform=spec["transform"] if measure == "proportion" else "log",
        ci_method=spec["ci"], pi_method=spec["pi"], level=level, report_policy=spec["report_policy"],
        k=int(len(inc)), participants=float(inc["n"].sum()) if inc["n"].notna().all() else math.nan,
        notes="",
    )
    if result is None:
        pooled["notes"] = "no study can be pooled"
    else:
        m = result.model
        pooled.update(
            estimate=result.estimate, ci_lower=result.ci_lower, ci_upper=result.ci_upper,
            pi_lower=result.pi_lower, pi_upper=result.pi_upper, tau2=m.tau2, i2=m.i2, h2=m.h2,
            q=m.q, df=m.df, q_pvalue=m.q_pvalue, beta=m.beta, se=m.se, notes="; ".join(m.notes),
        )
    return studies, pd.DataFrame([pooled], columns=POOLED_COLUMNS)
