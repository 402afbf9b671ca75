"""One configured analysis: choose its studies, pool them, and say why any study is left out.

``run_analysis(estimates, spec)`` takes the per-study estimates of
:mod:`metapool.estimates` and an analysis specification (the merged config
entry) and returns two frames: the studies (pooled, not poolable, or set aside
by the report policy, each with its reason) and the one-row pooled result.

With ``subgroup: <column>`` each value of that study column is pooled on its
own; the per-study rows carry their subgroup's result (``subgroup_*``
columns) and the pooled row the test for subgroup differences
(:func:`metapool.moderators.subgroup_analysis`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .effects import clopper_pearson, ilogit, logit_effects, z_crit
from .medians import median_of_medians, weighted_median_of_medians
from .moderators import subgroup_analysis
from .pooling import inverse_variance
from .proportions import pool_proportions
from .results import PooledEstimate
from .selection import apply_filters, select_reports, study_labels
from .survival import (
    IV_MEDIAN_METHODS,
    MEDIAN_METHODS,
    hr_not_poolable_reason,
    log_scale_effects,
    median_effects,
    median_not_poolable_reason,
    median_se_note,
    ratio_of_medians_effects,
)

__all__ = [
    "OUTCOMES", "AnalysisError", "run_analysis", "estimate_tables", "POOLED_COLUMNS", "ANALYSIS_STUDY_COLUMNS",
    "SUBGROUP_COLUMNS", "RATIO_ARM_COLUMNS",
]

# config outcome -> (extraction table, outcome code in that table, measure)
OUTCOMES = {
    "orr": ("response", "orr", "proportion"),
    "intracranial_orr": ("response", "intracranial_orr", "proportion"),
    "pfs_median": ("survival", "pfs", "median"),
    "os_median": ("survival", "os", "median"),
    "pfs_hr": ("hazard_ratios", "pfs", "hr"),
    "os_hr": ("hazard_ratios", "os", "hr"),
    "pfs_ratio_of_medians": ("survival", "pfs", "ratio_of_medians"),
}
# outcomes that need more than their own table: the ratio of medians links the arms of a
# randomised trial through hazard_ratios.tsv (study_id -> comparator_study_id)
_EXTRA_TABLES = {"pfs_ratio_of_medians": ("hazard_ratios",)}

POOLED_COLUMNS = [
    "analysis", "title", "outcome", "measure", "comparator", "direction", "model", "method", "median_method",
    "transform", "ci_method", "pi_method", "level", "report_policy", "k", "participants", "estimate",
    "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2", "q", "df", "q_pvalue", "beta", "se",
    "coverage", "subgroup", "q_between", "df_between", "q_between_pvalue", "notes",
]
SUBGROUP_COLUMNS = [
    "subgroup", "subgroup_k", "subgroup_estimate", "subgroup_ci_lower", "subgroup_ci_upper", "subgroup_tau2",
    "subgroup_i2",
]
ANALYSIS_STUDY_COLUMNS = [
    "analysis", "study_id", "label", "trial", "cohort", "drug", "year", "assessor", "status", "included",
    "reason", "se_note", "comparator", "comparator_study_id", "n", "events", "total", "estimate", "ci_lower",
    "ci_upper", "ci_level", "estimate_nr", "ci_lower_nr", "ci_upper_nr", "ci_asymmetry", "ci_not_centred",
    "yi", "vi", "sei", "weight",
] + SUBGROUP_COLUMNS
# ratio-of-medians analyses only: the printed medians of both arms (e_ = experimental, c_ = comparator)
RATIO_ARM_COLUMNS = [
    f"{arm}_{col}" for arm in ("e", "c")
    for col in ("n", "median", "ci_lower", "ci_upper", "ci_level", "median_nr", "ci_lower_nr", "ci_upper_nr")
]

_ARM_SOURCE = {"n": "n", "median": "estimate", "ci_lower": "ci_lower", "ci_upper": "ci_upper",
               "ci_level": "ci_level", "median_nr": "estimate_nr", "ci_lower_nr": "ci_lower_nr",
               "ci_upper_nr": "ci_upper_nr"}


class AnalysisError(ValueError):
    """An analysis that cannot be carried out as configured."""


def estimate_tables(outcome: str) -> tuple[str, ...]:
    """The per-study estimate tables (``results/tables/<table>_estimates.tsv``) an outcome's analysis reads."""
    return (OUTCOMES[outcome][0], *_EXTRA_TABLES.get(outcome, ()))


# ---------------------------------------------------------------------------------------- candidates


def _arm_links(estimates: pd.DataFrame, code: str, comparator: str) -> pd.Series:
    """Experimental study_id -> comparator-arm study_id, from the hazard-ratio rows vs ``comparator``."""
    hr = estimates[(estimates["measure"] == "hr") & (estimates["outcome"] == code)
                   & (estimates["comparator"] == comparator) & (estimates["comparator_study_id"] != "")]
    links = hr.drop_duplicates(["study_id", "comparator_study_id"])
    dup = links["study_id"].duplicated(keep=False)
    if dup.any():
        raise AnalysisError(f"{sorted(set(links.loc[dup, 'study_id']))}: more than one comparator arm vs {comparator}")
    return links.set_index("study_id")["comparator_study_id"]


def _candidates(estimates: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, str]:
    _, code, measure = OUTCOMES[spec["outcome"]]
    if measure == "ratio_of_medians":
        if "comparator_study_id" not in estimates.columns or not (estimates["measure"] == "hr").any():
            raise AnalysisError(
                f"analysis '{spec['name']}': the ratio of medians needs the hazard-ratio estimates to link the arms"
            )
        links = _arm_links(estimates, code, spec["comparator"])
        rows = estimates[(estimates["outcome"] == code) & (estimates["measure"] == "median")
                         & estimates["study_id"].isin(links.index)]
        rows = rows.assign(comparator=spec["comparator"], comparator_study_id=rows["study_id"].map(links))
    else:
        rows = estimates[(estimates["outcome"] == code) & (estimates["measure"] == measure)]
        if measure == "hr":
            # never pool hazard ratios against different comparators
            rows = rows[rows["comparator"] == spec["comparator"]]
    rows = apply_filters(rows, spec.get("filters", {}))
    if rows.empty:
        what = f"{spec['outcome']}" + (f" vs {spec['comparator']}" if measure in ("hr", "ratio_of_medians") else "")
        raise AnalysisError(
            f"analysis '{spec['name']}': no study with outcome {what} matches the filters {spec.get('filters', {})}"
        )
    return rows, measure


# ---------------------------------------------------------------------------------------- per study


def _median_reason(row, method: str) -> str:
    return median_not_poolable_reason(
        bool(row.estimate_nr), row.estimate, row.ci_lower, row.ci_upper,
        bool(row.ci_lower_nr), bool(row.ci_upper_nr), row.ci_level, method=method, n=row.n,
    )


def _not_poolable(row, measure: str, median_method: str) -> str:
    if measure == "proportion":
        if pd.isna(row.events) or pd.isna(row.n):
            return row.note or "counts not reported"
        return ""
    if measure == "median":
        return _median_reason(row, median_method)
    return hr_not_poolable_reason(row.estimate, row.ci_lower, row.ci_upper, row.ci_level)


def _comparator_arms(selected: pd.DataFrame, estimates: pd.DataFrame, code: str) -> pd.DataFrame:
    """The comparator arm's median row (same outcome, same assessor) for each selected experimental row."""
    medians = estimates[(estimates["outcome"] == code) & (estimates["measure"] == "median")]
    medians = medians.set_index(["study_id", "assessor"])
    rows = []
    for r in selected.itertuples():
        key = (r.comparator_study_id, r.assessor)
        rows.append(medians.loc[key] if key in medians.index else None)
    cols = list(medians.columns)
    return pd.DataFrame([(row[cols].to_dict() if row is not None else {c: np.nan for c in cols}) for row in rows],
                        index=selected.index, columns=cols).assign(
        found=[row is not None for row in rows])


def _ratio_reason(exp_row, comp_row, found: bool) -> str:
    for arm, row in (("experimental arm", exp_row), ("comparator arm", comp_row)):
        if arm == "comparator arm" and not found:
            return f"no median of the comparator arm ({exp_row.comparator_study_id}) by the same assessor"
        reason = _median_reason(row, "log_iv")
        if reason:
            return f"{reason} ({arm})"
    return ""


def _ratio_se_note(exp_row, comp_row) -> str:
    arms = [arm for arm, row in (("experimental", exp_row), ("comparator", comp_row)) if bool(row.ci_upper_nr)]
    if not arms:
        return ""
    return f"{median_se_note(True)} ({' and '.join(arms)} arm{'s' if len(arms) > 1 else ''})"


# ---------------------------------------------------------------------------------------- pooling


def _identity(x):
    return x


def _iv_pool(yi, vi, measure: str, median_method: str, opts: dict) -> PooledEstimate:
    model = inverse_variance(yi, vi, **opts)
    if measure == "median" and median_method == "raw_iv":
        return PooledEstimate.from_model(model, _identity, "identity")
    return PooledEstimate.from_model(model, np.exp, "log")


def _ratio_effects(selected: pd.DataFrame, comp: pd.DataFrame, inc_mask, yi, vi, level: float):
    """Log ratios of medians into ``yi``/``vi`` (in place) for the poolable trials; returns ``selected`` with
    the ratio and its Wald CI as the study's estimate (for the table and the forest plot) and the
    ``e_``/``c_`` columns of both arms' printed medians."""
    extra = {}
    for col, src in _ARM_SOURCE.items():
        extra[f"e_{col}"] = selected[src].to_numpy()
        extra[f"c_{col}"] = comp[src].to_numpy()
    if inc_mask.any():
        arms = [median_effects(a["estimate"], a["ci_lower"], a["ci_upper"], a["ci_level"],
                               a["ci_upper_nr"].astype(bool), scale="log")
                for a in (selected[inc_mask], comp[inc_mask])]
        y, s = ratio_of_medians_effects(*arms)
        yi[inc_mask], vi[inc_mask] = y, s**2
    z = z_crit(level)
    with np.errstate(invalid="ignore"):
        sei = np.sqrt(vi)
        printed_ratio = selected["estimate"].to_numpy(float) / pd.to_numeric(comp["estimate"]).to_numpy(float)
    comp_nr = comp["estimate_nr"].map(lambda v: False if pd.isna(v) else bool(v)).to_numpy(bool)
    selected = selected.assign(
        estimate=np.where(inc_mask, np.exp(yi), printed_ratio),
        ci_lower=np.exp(yi - z * sei), ci_upper=np.exp(yi + z * sei),
        ci_level=np.where(inc_mask, level, np.nan),
        estimate_nr=selected["estimate_nr"].astype(bool).to_numpy() | comp_nr,
        ci_lower_nr=False, ci_upper_nr=False,
        n=selected["n"].astype("float64").to_numpy() + pd.to_numeric(comp["n"]).astype("float64").to_numpy(),
    )
    return selected, extra


def _mom_pool(values, n, median_method: str, level: float):
    if median_method == "weighted_median_of_medians":
        return weighted_median_of_medians(values, n, level)
    return median_of_medians(values, level)


def _subgroups(selected, inc_mask, yi, vi, spec, measure, median_method, opts, backtransform):
    """Per-subgroup results on every row of ``selected`` and the test for subgroup differences."""
    column = spec["subgroup"]
    if column not in selected.columns:
        raise AnalysisError(f"analysis '{spec['name']}': no study column {column!r} to form subgroups")
    groups = selected[column].astype(str).to_numpy()
    out = {c: np.full(len(selected), np.nan) for c in SUBGROUP_COLUMNS[1:]}
    out["subgroup"] = groups
    test = {"q_between": math.nan, "df_between": math.nan, "q_between_pvalue": math.nan}
    notes = []
    inc_groups = sorted(set(groups[inc_mask]))
    if not inc_groups:
        return out, test, notes
    iv = measure != "median" or median_method in IV_MEDIAN_METHODS
    results = {}
    if iv:
        models = None
        if len(inc_groups) >= 2:
            try:
                sg = subgroup_analysis(yi[inc_mask], vi[inc_mask], groups[inc_mask], method=opts["method"],
                                       ci=opts["ci"], level=opts["level"], hk_adhoc=opts["hk_adhoc"],
                                       levels=inc_groups)
            except ValueError:  # a subgroup SE of 0 (Hartung-Knapp on identical estimates)
                notes.append("test for subgroup differences not computed (a subgroup's standard error is zero)")
            else:
                models = sg.models
                test = {"q_between": sg.q_between, "df_between": sg.df_between, "q_between_pvalue": sg.p_between}
        else:
            notes.append(f"one {column} subgroup with pooled studies: no test for subgroup differences")
        if models is None:
            models = {g: inverse_variance(yi[inc_mask & (groups == g)], vi[inc_mask & (groups == g)], **opts)
                      for g in inc_groups}
        for g in inc_groups:
            m = models[g]
            results[g] = (m.k, backtransform(m.beta), backtransform(m.ci_lower), backtransform(m.ci_upper), m.tau2, m.i2)
    else:
        values = selected["estimate"].to_numpy(float)
        n = selected["n"].to_numpy(float)
        for g in inc_groups:
            sel = inc_mask & (groups == g)
            r = _mom_pool(values[sel], n[sel], median_method, opts["level"])
            results[g] = (r.k, r.estimate, r.ci_lower, r.ci_upper, math.nan, math.nan)
        notes.append("subgroups by the median of medians: no test for subgroup differences")
    for i, g in enumerate(groups):
        if g in results:
            k, est, lo, hi, tau2, i2 = results[g]
            for c, v in zip(SUBGROUP_COLUMNS[1:], (k, est, lo, hi, tau2, i2)):
                out[c][i] = v
    return out, test, notes


def run_analysis(estimates: pd.DataFrame, spec: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select, pool and document one analysis.

    ``spec`` keys: ``name``, ``title``, ``outcome`` (see ``OUTCOMES``),
    ``comparator`` (hazard ratios, ratios of medians), ``filters``, ``method``,
    ``ci``, ``pi``, ``hk_adhoc``, ``level``, ``transform``, ``median_method``,
    ``report_policy``, ``assessor_preference`` and optionally ``subgroup``.
    """
    rows, measure = _candidates(estimates, spec)
    _, code, _ = OUTCOMES[spec["outcome"]]
    median_method = spec.get("median_method", "log_iv")
    if median_method not in MEDIAN_METHODS:
        raise AnalysisError(f"analysis '{spec['name']}': median_method must be one of {MEDIAN_METHODS}")
    if measure != "median":
        median_method = "log_iv" if measure == "ratio_of_medians" else ""
    selected, set_aside = select_reports(
        rows, n_column="n", policy=spec["report_policy"], assessor_preference=spec["assessor_preference"]
    )
    selected = selected.sort_values(["year", "trial", "study_id"], kind="mergesort").reset_index(drop=True)
    selected["label"] = study_labels(selected)
    selected["se_note"] = ""
    level = spec["level"]
    comp = None
    if measure == "ratio_of_medians":
        comp = _comparator_arms(selected, estimates, code)
        selected["reason"] = [_ratio_reason(e, c, f) for e, c, f in
                              zip(selected.itertuples(), comp.itertuples(), comp["found"])]
        selected["se_note"] = [_ratio_se_note(e, c) if not reason else "" for e, c, reason in
                               zip(selected.itertuples(), comp.itertuples(), selected["reason"])]
    else:
        selected["reason"] = [_not_poolable(r, measure, median_method) for r in selected.itertuples()]
        if measure == "median":
            selected["se_note"] = [median_se_note(bool(nr), median_method) if not reason else ""
                                   for nr, reason in zip(selected["ci_upper_nr"], selected["reason"])]
    selected["included"] = selected["reason"] == ""

    inc = selected[selected["included"]]
    inc_mask = selected["included"].to_numpy(bool)
    yi = np.full(len(selected), np.nan)
    vi = np.full(len(selected), np.nan)
    weight = np.full(len(selected), np.nan)
    result = None
    mom = None
    opts = dict(method=spec["method"], ci=spec["ci"], level=level, pi=spec["pi"], hk_adhoc=spec["hk_adhoc"])
    backtransform = np.exp
    extra = {}
    if measure == "proportion":
        selected["total"] = selected["n"]
        if len(inc):
            ev, tot = inc["events"].to_numpy(float), inc["n"].to_numpy(float)
            lo, hi = clopper_pearson(ev, tot, level)
            selected.loc[inc.index, ["ci_lower", "ci_upper"]] = np.column_stack([lo, hi])
            selected.loc[inc.index, "ci_level"] = level
            yi[inc.index], vi[inc.index] = logit_effects(ev, tot)
            result = pool_proportions(ev, tot, transform=spec["transform"], **opts)
        backtransform = ilogit
    elif measure == "median" and median_method not in IV_MEDIAN_METHODS:
        selected["total"] = np.nan
        if len(inc):
            mom = _mom_pool(inc["estimate"].to_numpy(float), inc["n"].to_numpy(float), median_method, level)
    else:
        selected["total"] = np.nan
        if measure == "ratio_of_medians":
            selected, extra = _ratio_effects(selected, comp, inc_mask, yi, vi, level)
        elif len(inc):
            if measure == "median":
                y, s = median_effects(inc["estimate"], inc["ci_lower"], inc["ci_upper"], inc["ci_level"],
                                      inc["ci_upper_nr"].astype(bool),
                                      scale="raw" if median_method == "raw_iv" else "log")
            else:
                y, s = log_scale_effects(inc["estimate"], inc["ci_lower"], inc["ci_upper"], inc["ci_level"])
            yi[inc.index], vi[inc.index] = y, s**2
        if measure == "median" and median_method == "raw_iv":
            backtransform = _identity
        if len(inc):
            result = _iv_pool(yi[inc_mask], vi[inc_mask], measure, median_method, opts)
    if result is not None:
        weight[inc_mask] = result.weights
    elif mom is not None:
        weight[inc_mask] = mom.weights

    sub_cols, sub_test, sub_notes = {}, {}, []
    if spec.get("subgroup"):
        sub_cols, sub_test, sub_notes = _subgroups(selected, inc_mask, yi, vi, spec, measure, median_method, opts,
                                                   backtransform)
    else:
        sub_cols = {c: ([""] * len(selected) if c == "subgroup" else np.full(len(selected), np.nan))
                    for c in SUBGROUP_COLUMNS}

    selected = selected.assign(
        analysis=spec["name"], yi=yi, vi=vi, sei=np.sqrt(vi), weight=weight,
        status=np.where(selected["included"], "pooled", "not_pooled"), **sub_cols, **extra,
    )
    aside = set_aside.merge(rows, on=["study_id", "assessor"], how="left", validate="one_to_one")
    aside = aside.assign(
        analysis=spec["name"], label=study_labels(aside) if len(aside) else [], status="set_aside",
        included=False, total=np.nan, yi=np.nan, vi=np.nan, sei=np.nan, weight=np.nan, se_note="",
        **{c: ("" if c == "subgroup" else np.nan) for c in SUBGROUP_COLUMNS},
    )
    if spec.get("subgroup") and len(aside):
        aside["subgroup"] = aside[spec["subgroup"]].astype(str)
    columns = ANALYSIS_STUDY_COLUMNS + (RATIO_ARM_COLUMNS if measure == "ratio_of_medians" else [])
    studies = pd.concat([selected, aside], ignore_index=True).reindex(columns=columns)

    pooled = {c: math.nan for c in POOLED_COLUMNS}
    n_total = selected.loc[inc_mask, "n"]  # both arms for a ratio of medians
    directional = measure in ("hr", "ratio_of_medians")
    iv = not (measure == "median" and median_method not in IV_MEDIAN_METHODS)
    pooled.update(
        analysis=spec["name"], title=spec["title"], outcome=spec["outcome"], measure=measure,
        comparator=spec.get("comparator", "") if directional else "",
        direction=f"experimental vs {spec['comparator']}" if directional else "",
        model=_model_label(spec, measure, median_method), method=spec["method"] if iv else "",
        median_method=median_method, transform=_transform(spec, measure, median_method),
        ci_method=spec["ci"] if iv else "sign_test", pi_method=spec["pi"] if iv else "", level=level,
        report_policy=spec["report_policy"], k=int(inc_mask.sum()),
        participants=float(n_total.sum()) if len(n_total) and n_total.notna().all() else math.nan,
        subgroup=spec.get("subgroup", "") or "", notes="",
    )
    pooled.update(sub_test)
    notes = list(sub_notes)
    if result is None and mom is None:
        notes.insert(0, "no study can be pooled")
    elif mom is not None:
        pooled.update(estimate=mom.estimate, ci_lower=mom.ci_lower, ci_upper=mom.ci_upper, coverage=mom.coverage)
        notes = list(mom.notes) + notes
    else:
        m = result.model
        pooled.update(
            estimate=result.estimate, ci_lower=result.ci_lower, ci_upper=result.ci_upper,
            pi_lower=result.pi_lower, pi_upper=result.pi_upper, tau2=m.tau2, i2=m.i2, h2=m.h2,
            q=m.q, df=m.df, q_pvalue=m.q_pvalue, beta=m.beta, se=m.se,
        )
        notes = list(m.notes) + notes
    pooled["notes"] = "; ".join(notes)
    return studies, pd.DataFrame([pooled], columns=POOLED_COLUMNS)


def _model_label(spec: dict, measure: str, median_method: str) -> str:
    if measure == "median" and median_method == "median_of_medians":
        return "median of medians"
    if measure == "median" and median_method == "weighted_median_of_medians":
        return "weighted median of medians"
    if spec["method"] == "EE":
        return "common effect"
    return "random effects"


def _transform(spec: dict, measure: str, median_method: str) -> str:
    if measure == "proportion":
        return spec["transform"]
    if measure == "median" and median_method == "raw_iv":
        return "identity"
    if measure == "median" and median_method not in IV_MEDIAN_METHODS:
        return "none"
    return "log"
