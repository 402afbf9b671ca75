"""One configured analysis: choose its studies, pool them, and say why any study is left out.

``run_analysis(estimates, spec)`` takes the per-study estimates of
:mod:`metapool.analysis.estimates` and an analysis specification
(:class:`metapool.spec.AnalysisSpec`) and returns two frames: the studies
(pooled, not poolable, or set aside by the report policy, each with its
reason) and the one-row pooled result.

It is three steps, each usable on its own (the sensitivity tables and the
multiverse reuse them, so that they pool exactly what the analysis pools):

* :func:`prepare_analysis` selects the reports (the candidates of
  :func:`metapool.analysis.selection.candidates`, one report per trial
  cohort by the report policy), says why a report cannot be pooled, and gives
  the per-study effect sizes ``yi``/``vi`` on the analysis scale (for
  proportions the scale of ``transform``: logit, Freeman-Tukey, arcsine or
  raw; the logit for the GLMM);
* :func:`pool_analysis` pools the included studies by the analysis's model
  (``spec.model``): inverse variance
  (:func:`metapool.stats.pooling.inverse_variance`, metafor's ``rma``), the
  binomial-normal GLMM for ``transform: glmm``
  (:func:`metapool.stats.glmm.glmm_proportions`, ``rma.glmm``; maximum likelihood,
  Wald CI, no prediction interval), or the median of medians;
* :func:`subgroup_results` pools each value of the ``subgroup`` study column on
  its own and tests for subgroup differences
  (:func:`metapool.stats.moderators.subgroup_analysis`; Borenstein & Higgins, Prev
  Sci 2013;14:134-143).

With ``subgroup: <column>`` the per-study rows carry their subgroup's result
(``subgroup_*`` columns) and the pooled row the test for subgroup differences.
With ``overall: false`` (the default with a subgroup; R meta's ``overall =
FALSE``) nothing is pooled across the subgroups: the pooled row keeps ``k``,
``participants`` and the test for subgroup differences, its ``overall`` column
is false, and the overall estimate, its intervals, heterogeneity and the
studies' overall weights are left empty; each subgroup's estimate is in
``subgroups.tsv`` and in the studies' ``subgroup_*`` columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..spec import AnalysisSpec
from ..stats.effects import ilogit, z_crit
from ..stats.glmm import glmm_proportions
from ..stats.medians import median_of_medians, weighted_median_of_medians
from ..stats.moderators import q_between, subgroup_analysis
from ..stats.pooling import inverse_variance
from ..stats.proportions import backtransform as proportion_backtransform
from ..stats.proportions import pool_proportions, proportion_effects
from ..stats.results import ROW_FIELDS, PooledEstimate, table_row
from ..stats.survival import (
    hr_not_poolable_reason,
    log_scale_effects,
    median_effects,
    median_not_poolable_reason,
    median_se_note,
    ratio_of_medians_effects,
)
from ..vocabulary import MEDIAN_METHOD_FACTS, outcome
from .estimates import exact_cis, extra_estimate_columns
from .selection import (AnalysisError, analysis_records, candidates, no_study_matches, select_reports,
                        study_labels)

__all__ = [
    "AnalysisData", "prepare_analysis", "pool_analysis", "subgroup_results", "subgroup_frame", "run_analysis",
    "POOLED_COLUMNS", "ANALYSIS_STUDY_COLUMNS", "SUBGROUP_COLUMNS", "SUBGROUP_TABLE_COLUMNS", "RATIO_ARM_COLUMNS",
    "NO_OVERALL_NOTE", "overall_shown",
]

POOLED_COLUMNS = [
    "analysis", "title", "question", "outcome", "measure", "comparator", "direction", "model", "method", "median_method",
    "transform", "ci_method", "pi_method", "level", "report_policy", "k", "participants", "estimate",
    "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2", "q", "df", "q_pvalue", "beta", "se",
    "test", "zval", "ddf", "pval", "coverage", "subgroup", "overall", "q_between", "df_between", "q_between_pvalue",
    "notes",
]
SUBGROUP_COLUMNS = [
    "subgroup", "subgroup_k", "subgroup_estimate", "subgroup_ci_lower", "subgroup_ci_upper", "subgroup_tau2",
    "subgroup_i2",
]
# results/<plan>/analyses/<analysis>/subgroups.tsv: one row per subgroup (value of the subgroup column)
SUBGROUP_TABLE_COLUMNS = [
    "analysis", "subgroup", "group", "k", "participants", "estimate", "ci_lower", "ci_upper", "pi_lower",
    "pi_upper", "tau2", "i2", "q", "q_pvalue", "beta", "se", "test", "zval", "ddf", "pval", "q_between",
    "df_between", "q_between_pvalue", "notes",
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

NO_OVERALL_NOTE = "overall: false: no estimate across the subgroups (each subgroup's estimate in subgroups.tsv)"

# the columns the not-poolable reason of a report reads, by measure
_REASON_COLUMNS = {
    "proportion": ("events", "n", "note"),
    "median": ("estimate_nr", "estimate", "ci_lower", "ci_upper", "ci_lower_nr", "ci_upper_nr", "ci_level", "n"),
    "hr": ("estimate", "ci_lower", "ci_upper", "ci_level"),
}

_ARM_SOURCE = {"n": "n", "median": "estimate", "ci_lower": "ci_lower", "ci_upper": "ci_upper",
               "ci_level": "ci_level", "median_nr": "estimate_nr", "ci_lower_nr": "ci_lower_nr",
               "ci_upper_nr": "ci_upper_nr"}


# ---------------------------------------------------------------------------------------- candidates


def _candidates(estimates: pd.DataFrame, spec: AnalysisSpec) -> pd.DataFrame:
    """The rows of ``estimates`` the analysis may pool (:func:`metapool.analysis.selection.candidates`); the
    rows of a ratio of medians carry their comparator arm (``comparator``, ``comparator_study_id``)."""
    found = [c for c in candidates(analysis_records(estimates, spec), spec) if not c.excluded_by]
    if not found:
        raise AnalysisError(f"analysis '{spec.name}': {no_study_matches(spec)}")
    rows = estimates.iloc[[c.row for c in found]]
    if spec.measure == "ratio_of_medians":
        rows = rows.assign(comparator=spec.comparator, comparator_study_id=[c.comparator_arm for c in found])
    return rows


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


# ---------------------------------------------------------------------------------------- selection


@dataclass(frozen=True, eq=False)
class AnalysisData:
    """The reports of one analysis after selection, with their effect sizes on the analysis scale.

    ``selected`` has one row per trial cohort kept by the report policy (sorted
    by year, trial, study_id) with ``label``, ``reason`` (why it cannot be
    pooled; empty when it is), ``included``, ``se_note`` and, for proportions,
    ``total`` and the exact CI at the analysis level. ``yi``/``vi`` are aligned
    with ``selected`` (NaN where not included); for proportions they are on the
    scale of ``transform`` (the logit for the GLMM, which pools the counts).
    ``set_aside`` lists the reports the policy set aside (``study_id``,
    ``assessor``, ``reason``), ``aside`` the same joined with their candidate
    rows; ``rows`` are the candidate rows the filters kept.
    """

    spec: AnalysisSpec
    rows: pd.DataFrame = field(repr=False)
    selected: pd.DataFrame = field(repr=False)
    set_aside: pd.DataFrame = field(repr=False)
    yi: np.ndarray = field(repr=False)
    vi: np.ndarray = field(repr=False)
    extra: dict = field(repr=False, default_factory=dict)
    aside: pd.DataFrame | None = field(repr=False, default=None)  # set_aside joined with its candidate rows

    @property
    def included(self) -> np.ndarray:
        return self.selected["included"].to_numpy(bool)

    @property
    def k(self) -> int:
        return int(self.included.sum())

    def included_effects(self, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """``(yi, vi)`` of the included studies (and of ``mask``, a boolean array over ``selected``)."""
        sel = self.included if mask is None else self.included & np.asarray(mask, dtype=bool)
        return self.yi[sel], self.vi[sel]

    def counts(self, mask=None) -> tuple[np.ndarray, np.ndarray]:
        """Events and totals of the included studies (proportions)."""
        sel = self.included if mask is None else self.included & np.asarray(mask, dtype=bool)
        inc = self.selected[sel]
        return inc["events"].to_numpy(float), inc["n"].to_numpy(float)

    def backtransform(self, mask=None):
        """The function taking values on the analysis scale to the natural scale (for the Freeman-Tukey
        transform: Miller's inversion with the harmonic mean of the included totals, of ``mask`` if given)."""
        scale = self.spec.scale
        if scale == "glmm":
            return ilogit
        if self.spec.measure == "proportion":
            totals = self.counts(mask)[1] if scale == "freeman_tukey" else None
            return proportion_backtransform(scale, totals)
        return _identity if scale == "identity" else np.exp


def prepare_analysis(estimates: pd.DataFrame, spec: AnalysisSpec, *, keep_all_reports: bool = False
                     ) -> AnalysisData:
    """Select the reports of one analysis and compute their effect sizes (see :class:`AnalysisData`).

    With ``keep_all_reports`` every report matching the filters is kept (no
    assessor preference, no report policy; in the order of ``estimates``): the
    per-report effect sizes that :mod:`metapool.analysis.multiverse` selects from.
    Raises :class:`AnalysisError` when no report matches the filters.
    """
    rows = _candidates(estimates, spec)
    measure, median_method, model = spec.measure, spec.median_method_used, spec.model
    code = outcome(spec.outcome).code
    if spec.glmm and (model.method != "ML" or model.ci != "z"):
        raise AnalysisError(f"analysis '{spec.name}': the GLMM is fitted by maximum likelihood with a Wald (z) "
                            f"CI: it needs method ML and ci z (got method {model.method}, ci {model.ci})")
    if keep_all_reports:
        selected = rows.reset_index(drop=True)
        set_aside = pd.DataFrame(columns=["study_id", "assessor", "reason"])
    else:
        selected, set_aside = select_reports(
            rows, n_column="n", policy=spec.report_policy, assessor_preference=spec.assessor_preference
        )
        selected = selected.sort_values(["year", "trial", "study_id"], kind="mergesort").reset_index(drop=True)
    selected["label"] = study_labels(selected)
    selected["se_note"] = ""
    level = model.level
    comp = None
    if measure == "ratio_of_medians":
        comp = _comparator_arms(selected, estimates, code)
        selected["reason"] = [_ratio_reason(e, c, f) for e, c, f in
                              zip(selected.itertuples(), comp.itertuples(), comp["found"])]
        selected["se_note"] = [_ratio_se_note(e, c) if not reason else "" for e, c, reason in
                               zip(selected.itertuples(), comp.itertuples(), selected["reason"])]
    else:
        needed = [c for c in _REASON_COLUMNS[measure] if c in selected.columns]
        selected["reason"] = [_not_poolable(r, measure, median_method) for r in selected[needed].itertuples()]
        if measure == "median":
            selected["se_note"] = [median_se_note(bool(nr), median_method) if not reason else ""
                                   for nr, reason in zip(selected["ci_upper_nr"], selected["reason"])]
    selected["included"] = selected["reason"] == ""

    inc = selected[selected["included"]]
    inc_mask = selected["included"].to_numpy(bool)
    yi = np.full(len(selected), np.nan)
    vi = np.full(len(selected), np.nan)
    extra = {}
    selected["total"] = np.nan
    if measure == "proportion":
        selected["total"] = selected["n"]
        selected = exact_cis(selected, level)  # every report with counts, at the analysis's level
        if len(inc):
            ev, tot = inc["events"].to_numpy(float), inc["n"].to_numpy(float)
            yi[inc.index], vi[inc.index] = proportion_effects(ev, tot, "logit" if spec.glmm else spec.transform)
    elif measure == "ratio_of_medians":
        selected, extra = _ratio_effects(selected, comp, inc_mask, yi, vi, level)
    elif len(inc) and spec.inverse_variance:
        if measure == "median":
            y, s = median_effects(inc["estimate"], inc["ci_lower"], inc["ci_upper"], inc["ci_level"],
                                  inc["ci_upper_nr"].astype(bool),
                                  scale="raw" if median_method == "raw_iv" else "log")
        else:
            y, s = log_scale_effects(inc["estimate"], inc["ci_lower"], inc["ci_upper"], inc["ci_level"])
        yi[inc.index], vi[inc.index] = y, s**2
    aside = set_aside.merge(rows, on=["study_id", "assessor"], how="left", validate="one_to_one")
    return AnalysisData(spec=spec, rows=rows, selected=selected, set_aside=set_aside, yi=yi, vi=vi, extra=extra,
                        aside=aside)


# ---------------------------------------------------------------------------------------- pooling


def pool_analysis(data: AnalysisData, mask=None):
    """Pool the included studies (and of ``mask``, a boolean array over ``data.selected``).

    Returns ``(result, notes)``: ``result`` is a :class:`~metapool.stats.results.PooledEstimate` (inverse
    variance), a :class:`~metapool.stats.glmm.GlmmResult` (``transform: glmm``), a
    :class:`~metapool.stats.medians.MedianOfMedians`, or ``None`` when nothing can be pooled (every one a
    :class:`~metapool.stats.results.PooledResult`); ``notes`` say why
    not. Raises what the estimators raise (e.g. :class:`metapool.stats.tau2.ConvergenceError`).
    """
    spec = data.spec
    sel = data.included if mask is None else data.included & np.asarray(mask, dtype=bool)
    k = int(sel.sum())
    if k == 0:
        return None, ["no study can be pooled"]
    model = spec.model
    if spec.measure == "proportion":
        ev, tot = data.counts(sel)
        if spec.glmm:
            if k < 2:
                return None, ["the GLMM needs at least 2 studies"]
            return glmm_proportions(ev, tot, model.level), []
        return pool_proportions(ev, tot, transform=spec.transform, **model.keywords()), []
    if not spec.inverse_variance:
        inc = data.selected[sel]
        return _mom_pool(inc["estimate"].to_numpy(float), inc["n"].to_numpy(float), spec.median_method,
                         model.level), []
    fit = inverse_variance(data.yi[sel], data.vi[sel], **model.keywords())
    return PooledEstimate.from_model(fit, data.backtransform(sel), spec.scale), []


def _row(result) -> dict:
    """:func:`metapool.stats.results.table_row` of a fitted model; all NaN (k = 0) when nothing was pooled."""
    if result is None:
        return {**{name: math.nan for name in ROW_FIELDS}, "k": 0, "test": "", "notes": []}
    return table_row(result)


# ---------------------------------------------------------------------------------------- subgroups


def subgroup_results(data: AnalysisData) -> tuple[dict, dict, list[str]]:
    """Each subgroup (value of the ``subgroup`` study column) pooled on its own, and the test for differences.

    Returns ``(groups, test, notes)``: ``groups`` maps each subgroup with pooled
    studies (sorted) to the numbers of its pooled row (``k``, ``estimate``, CI,
    PI, ``tau2``, ``i2``, ``q``, ``q_pvalue``, ``beta``, ``se``,
    ``participants``, ``notes``); ``test`` has ``q_between``, ``df_between``,
    ``q_between_pvalue`` (NaN when not computed; ``notes`` say why). Inverse-
    variance subgroups: :func:`metapool.stats.moderators.subgroup_analysis` (own tau^2
    per subgroup, Q across the subgroup estimates on G - 1 df); GLMM subgroups:
    one GLMM per subgroup and the same Q on the GLMM estimates and SEs; median
    of medians: no test.
    """
    spec = data.spec
    column = spec.subgroup
    selected = data.selected
    if column not in selected.columns:
        raise AnalysisError(f"analysis '{spec.name}': no study column {column!r} to form subgroups")
    groups = selected[column].astype(str).to_numpy()
    inc_mask = data.included
    test = {"q_between": math.nan, "df_between": math.nan, "q_between_pvalue": math.nan}
    notes: list[str] = []
    inc_groups = sorted(set(groups[inc_mask]))
    results: dict = {}
    if not inc_groups:
        return results, test, notes
    model = spec.model
    models = None
    one_group = f"one {column} subgroup with pooled studies: no test for subgroup differences"
    if spec.inverse_variance:
        if len(inc_groups) >= 2:
            try:
                sg = subgroup_analysis(data.yi[inc_mask], data.vi[inc_mask], groups[inc_mask],
                                       method=model.method, ci=model.ci, level=model.level,
                                       hk_adhoc=model.hk_adhoc, levels=inc_groups)
            except ValueError:  # a subgroup SE of 0 (Hartung-Knapp on identical estimates)
                notes.append("test for subgroup differences not computed (a subgroup's standard error is zero)")
            else:
                models = sg.models
                test = {"q_between": sg.q_between, "df_between": sg.df_between, "q_between_pvalue": sg.p_between}
        else:
            notes.append(one_group)
    elif spec.glmm:
        if len(inc_groups) < 2:
            notes.append(one_group)
    else:
        notes.append("subgroups by the median of medians: no test for subgroup differences")
    n = selected["n"].to_numpy(float)
    for g in inc_groups:
        mask = groups == g
        sel = inc_mask & mask
        if spec.inverse_variance and models is not None and model.pi == "default":
            result = PooledEstimate.from_model(models[g], data.backtransform(mask), spec.scale)
            g_notes = []
        else:
            try:
                result, g_notes = pool_analysis(data, mask)
            except (ValueError, RuntimeError) as err:  # e.g. a tau2 estimator that does not converge
                result, g_notes = None, [str(err)]
        numbers = _row(result)
        numbers["k"] = int(sel.sum())
        numbers["notes"] = numbers["notes"] + g_notes
        numbers["participants"] = float(n[sel].sum()) if np.isfinite(n[sel]).all() else math.nan
        results[g] = numbers
    if spec.glmm and len(inc_groups) >= 2:
        est = np.array([results[g]["beta"] for g in inc_groups])
        se = np.array([results[g]["se"] for g in inc_groups])
        if np.all(np.isfinite(est) & np.isfinite(se) & (se > 0)):
            q, df, p = q_between(est, se)
            test = {"q_between": q, "df_between": df, "q_between_pvalue": p}
        else:
            notes.append("test for subgroup differences not computed (a subgroup GLMM has no estimate)")
    return results, test, notes


def _subgroup_columns(data: AnalysisData, results: dict) -> dict:
    groups = data.selected[data.spec.subgroup].astype(str).to_numpy()
    out = {c: np.full(len(groups), np.nan) for c in SUBGROUP_COLUMNS[1:]}
    out["subgroup"] = groups
    for i, g in enumerate(groups):
        if g in results:
            r = results[g]
            for c, key in zip(SUBGROUP_COLUMNS[1:], ("k", "estimate", "ci_lower", "ci_upper", "tau2", "i2")):
                out[c][i] = r[key]
    return out


def subgroup_frame(data: AnalysisData) -> pd.DataFrame:
    """``results/<plan>/analyses/<analysis>/subgroups.tsv``: one row per subgroup (``SUBGROUP_TABLE_COLUMNS``)."""
    results, test, notes = subgroup_results(data)
    rows = []
    for g, r in results.items():
        rows.append({**{c: r.get(c, math.nan) for c in SUBGROUP_TABLE_COLUMNS}, **test,
                     "analysis": data.spec.name, "subgroup": data.spec.subgroup, "group": g,
                     "notes": "; ".join(r["notes"] + notes)})
    return pd.DataFrame(rows, columns=SUBGROUP_TABLE_COLUMNS)


# ---------------------------------------------------------------------------------------- the analysis


def run_analysis(estimates: pd.DataFrame, spec: AnalysisSpec, *, data: AnalysisData | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select, pool and document one analysis.

    ``spec`` is the analysis (:class:`metapool.spec.AnalysisSpec`; its
    sensitivity tables and multiverse are not read). ``data``: the analysis
    already prepared by :func:`prepare_analysis` (of the same ``estimates`` and
    ``spec``), to prepare it once for the pooling and the sensitivity tables.
    """
    if data is None:
        data = prepare_analysis(estimates, spec)
    selected = data.selected
    inc_mask = data.included
    if spec.overall:
        result, pool_notes = pool_analysis(data)
    else:
        result, pool_notes = None, [NO_OVERALL_NOTE]
    weight = np.full(len(selected), np.nan)
    if result is not None and result.weights is not None:
        weight[inc_mask] = result.weights

    sub_test, sub_notes = {}, []
    if spec.subgroup:
        sub_results, sub_test, sub_notes = subgroup_results(data)
        sub_cols = _subgroup_columns(data, sub_results)
    else:
        sub_cols = {c: ([""] * len(selected) if c == "subgroup" else np.full(len(selected), np.nan))
                    for c in SUBGROUP_COLUMNS}

    selected = selected.assign(
        analysis=spec.name, yi=data.yi, vi=data.vi, sei=np.sqrt(data.vi), weight=weight,
        status=np.where(selected["included"], "pooled", "not_pooled"), **sub_cols, **data.extra,
    )
    aside = data.aside
    if aside is None:
        aside = data.set_aside.merge(data.rows, on=["study_id", "assessor"], how="left", validate="one_to_one")
    aside = aside.assign(
        analysis=spec.name, label=study_labels(aside) if len(aside) else [], status="set_aside",
        included=False, total=np.nan, yi=np.nan, vi=np.nan, sei=np.nan, weight=np.nan, se_note="",
        **{c: ("" if c == "subgroup" else np.nan) for c in SUBGROUP_COLUMNS},
    )
    if spec.subgroup and len(aside):
        aside["subgroup"] = aside[spec.subgroup].astype(str)
    columns = ANALYSIS_STUDY_COLUMNS + (RATIO_ARM_COLUMNS if spec.measure == "ratio_of_medians" else [])
    columns += [c for c in extra_estimate_columns(estimates) if c not in columns]  # the tables' extra columns
    studies = pd.concat([selected, aside], ignore_index=True).reindex(columns=columns)

    pooled = {c: math.nan for c in POOLED_COLUMNS}
    n_total = selected.loc[inc_mask, "n"]  # both arms for a ratio of medians
    model, with_se = spec.model, spec.has_standard_errors
    pooled.update(
        analysis=spec.name, title=spec.title, question=spec.question, outcome=spec.outcome, measure=spec.measure,
        comparator=spec.comparator if spec.comparative else "",
        direction=f"experimental vs {spec.comparator}" if spec.comparative else "",
        model=_model_label(spec), method=model.method if with_se else "",
        median_method=spec.median_method_used, transform=spec.scale,
        ci_method=model.ci if with_se else "sign_test", pi_method=model.pi if spec.inverse_variance else "",
        level=model.level, report_policy=spec.report_policy, k=int(inc_mask.sum()),
        participants=float(n_total.sum()) if len(n_total) and n_total.notna().all() else math.nan,
        subgroup=spec.subgroup or "", overall=spec.overall, notes="",
    )
    pooled.update(sub_test)
    numbers = _row(result)
    notes = pool_notes + numbers.pop("notes") + list(sub_notes)
    numbers.pop("k")
    if result is not None:
        pooled.update(numbers)
    pooled["notes"] = "; ".join(notes)
    return studies, pd.DataFrame([pooled], columns=POOLED_COLUMNS)


def overall_shown(row) -> bool:
    """Whether the analysis shows an estimate across all its studies: false for ``overall: false``
    (R meta's ``overall = FALSE``: subgroups only), read from the ``overall`` column of ``pooled.tsv``.

    Parameters
    ----------
    row : Mapping
        The analysis's row of ``pooled.tsv`` (a table without the column shows the overall estimate).

    Returns
    -------
    bool
    """
    value = row.get("overall", True)
    return pd.isna(value) or str(value).lower() not in ("false", "0")


def _model_label(spec: AnalysisSpec) -> str:
    if not spec.has_standard_errors:  # the median of medians, weighted or not
        return MEDIAN_METHOD_FACTS[spec.median_method].name
    if spec.glmm:
        return "random effects (binomial-normal GLMM)"
    if spec.model.method == "EE":
        return "common effect"
    return "random effects"
