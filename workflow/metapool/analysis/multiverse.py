"""A multiverse of one analysis: every combination of the declared choices, pooled in one vectorised call.

A multiverse analysis (Steegen S, Tuerlinckx F, Gelman A, Vanpaemel W.
Increasing transparency through a multiverse analysis. Perspect Psychol Sci
2016;11:702-712) refits one meta-analysis under every combination of defensible
choices; the specification curve (Simonsohn U, Simmons JP, Nelson LD.
Specification curve analysis. Nat Hum Behav 2020;4:1208-1214) shows them
sorted by estimate with the choices below (:mod:`metapool.figures.spec_curve`).
Voracek M, Kossmeier M, Tran US. Which data to meta-analyze, and how? Z Psychol
2019;227:64-82 apply both to meta-analysis.

The choices (``multiverse:`` of an analysis in the config, expanded by
:func:`metapool.analysis.config.multiverse_choices`):

* inclusion -- ``assessor``, ``design``, ``verification`` (``any``, one value or
  a list: narrows the analysis's filters), ``retrospective`` (``include`` or
  ``exclude`` studies of design ``retrospective``), ``report_policy`` (which
  report of a trial cohort);
* model -- ``transform`` (proportions: ``logit``, ``freeman_tukey``,
  ``arcsine``, ``raw``, ``glmm``), ``method`` (the tau^2 estimator, or ``EE``),
  ``ci`` (``z``, ``hartung_knapp``, ``hartung_knapp_adhoc``), ``tau_prior``
  (Bayesian specifications, one per inclusion choice and prior of tau: the
  normal-normal model of :func:`metapool.stats.bayes.bayes_normal` on the logit
  scale for proportions, the analysis scale otherwise, with the analysis's mu
  prior; Röver C. J Stat Softw 2020;93(6):1-51). A Bayesian row has ``method``
  ``bayes``, ``ci_method`` ``credible``, the posterior median and central
  credible interval of mu (``estimate``, ``ci_lower``, ``ci_upper``), the
  predictive interval of a new study (``pi_lower``, ``pi_upper``), the squared
  posterior median of tau (``tau2``), the posterior median and SD of mu on the
  analysis scale (``beta``, ``se``) and no test.

Every report of the analysis gets its effect size once
(:func:`metapool.analysis.run.prepare_analysis` with ``keep_all_reports``); each
distinct inclusion choice then selects from them on arrays exactly as the
single analysis of :func:`metapool.analysis.config.specification_spec` selects
(filters, assessor preference, report policy, order); all inverse-variance
specifications are then pooled in ONE call of
:func:`metapool.stats.pooling.pool_many` (per-specification method, CI method and
ad hoc flag), whose results are bit-identical to
:func:`metapool.stats.pooling.inverse_variance`. GLMM specifications are fitted by
:func:`metapool.stats.glmm.glmm_proportions`, once per inclusion choice (ML with a
Wald CI: they have no method or CI choice). So every row equals what
``run_analysis(estimates, specification_spec(spec, choice))`` reports for that
specification.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from operator import itemgetter

import numpy as np
import pandas as pd

from ..spec import AnalysisSpec, Prior
from ..stats.pooling import pool_many
from ..stats.glmm import glmm_proportions
from ..stats.proportions import backtransform as proportion_backtransform
from ..stats.proportions import proportion_effects
from ..stats.results import TEST_FIELDS
from ..vocabulary import BAYES_CI, BAYES_METHOD, BAYES_SCALES, MULTIVERSE_CI, MULTIVERSE_DIMENSIONS, MULTIVERSE_INCLUSION
from .config import choice_label, multiverse_choices
from .run import AnalysisData, prepare_analysis
from .selection import AnalysisError, cut_key

__all__ = ["MULTIVERSE_COLUMNS", "SUMMARY_COLUMNS", "MultiverseResult", "run_multiverse", "summarise"]

MULTIVERSE_COLUMNS = [
    "analysis", "specification", "assessor", "design", "retrospective", "verification", "report_policy",
    "transform", "method", "ci_method", "hk_adhoc", "tau_prior", "level", "k", "participants", "estimate", "ci_lower",
    "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "beta", "se", *TEST_FIELDS, "converged",
    "ci_excludes_threshold",
    "study_ids", "notes",
]
SUMMARY_COLUMNS = [
    "analysis", "title", "outcome", "measure", "specifications", "estimable", "threshold", "median_estimate",
    "min_estimate", "max_estimate", "ci_excludes_threshold", "share_ci_excludes_threshold",
    "share_ci_below_threshold", "share_ci_above_threshold",
]
_NUMBERS = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "beta", "se") + TEST_FIELDS
@dataclass(frozen=True, eq=False)
class MultiverseResult:
    """``table``: one row per specification (``MULTIVERSE_COLUMNS``); ``summary``: one row
    (``SUMMARY_COLUMNS``); ``choices``: the specifications as dicts of choices (row order)."""

    table: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    choices: list = field(repr=False)

    def __len__(self) -> int:
        return len(self.table)


def _labeller():
    """:func:`choice_label`, computed once per option object: a multiverse's specifications share their options
    (itertools.product), so thousands of labels are a few dozen distinct ones."""
    labels: dict[int, tuple[object, str]] = {}  # id -> (the option, kept alive while the id is a key; its label)

    def label(option) -> str:
        hit = labels.get(id(option))
        if hit is None:
            hit = labels[id(option)] = (option, choice_label(option))
        return hit[1]

    return label


def _ranks(values) -> np.ndarray:
    """Integer ranks of values in sorted order (ties share a rank): sort keys for numpy."""
    return np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)[1]


class _Reports:
    """Every report the analysis's filters keep, with the keys of its selection as arrays.

    :meth:`select` repeats, for one inclusion choice, what the single analysis
    does (:func:`metapool.analysis.run.prepare_analysis`): the inclusion choice as
    extra filters, one assessment per report by the assessor preference, one
    report per trial cohort by the report policy
    (:func:`metapool.analysis.selection.select_reports`), in the order year, trial,
    study id -- on arrays, so that hundreds of inclusion choices cost
    milliseconds. The effect sizes are those computed once for every report.
    """

    def __init__(self, data: AnalysisData, spec: AnalysisSpec):
        sel = data.selected
        self.data = data
        self.columns = {c: sel[c].astype(str).to_numpy() for c in ("assessor", "design", "verification")}
        self.study = _ranks(sel["study_id"])
        self.group = _ranks(sel["trial"].astype(str) + "\x00" + sel["cohort"].astype(str))
        self.trial = _ranks(sel["trial"])
        self.year = sel["year"].to_numpy(float)
        self.cut = np.array([y * 10000 + m * 100 + d for y, m, d in
                             (cut_key(c, yr) for c, yr in zip(sel["data_cut"], sel["year"]))], dtype=np.int64)
        self.n = pd.to_numeric(sel["n"], errors="coerce").fillna(-1).to_numpy(float)
        rank = {a: i for i, a in enumerate(spec.assessor_preference)}
        self.arank = np.array([rank.get(a, len(rank)) for a in self.columns["assessor"]])
        self.included = data.included
        self.ids = sel["study_id"].astype(str).to_numpy()
        self.participants = sel["n"].astype(float).to_numpy()

    def select(self, choice: dict) -> np.ndarray | None:
        """Row indices of the reports kept for ``choice`` (poolable or not, in the analysis's order), or
        ``None`` when no report matches the inclusion choice."""
        mask = np.ones(len(self.study), dtype=bool)
        for dim in ("assessor", "design", "verification"):
            option = choice[dim]
            if option != "any":
                mask &= np.isin(self.columns[dim], [option] if isinstance(option, str) else list(option))
        if choice["retrospective"] == "exclude":
            mask &= self.columns["design"] != "retrospective"
        idx = np.flatnonzero(mask)
        if not len(idx):
            return None
        # one assessment per report: the preferred assessor
        idx = idx[np.lexsort((self.arank[idx], self.study[idx]))]
        idx = idx[np.unique(self.study[idx], return_index=True)[1]]
        # one report per trial cohort: the report policy
        policy = choice["report_policy"]
        cut, n, study = self.cut[idx], self.n[idx], self.study[idx]
        if policy == "latest_cut":
            order = np.lexsort((study, -n, -cut))
        elif policy == "largest_n":
            order = np.lexsort((study, -cut, -n))
        else:
            order = np.lexsort((study, -n, cut))
        idx = idx[order]
        idx = idx[np.sort(np.unique(self.group[idx], return_index=True)[1])]
        return idx[np.lexsort((self.study[idx], self.trial[idx], self.year[idx]))]


def _all_reports(estimates: pd.DataFrame, spec: AnalysisSpec) -> _Reports | None:
    """Every report of the analysis with its effect size (proportions on the logit scale: each specification
    transforms the counts itself)."""
    try:
        return _Reports(prepare_analysis(estimates, replace(spec.pooling_only(), transform="logit"),
                                         keep_all_reports=True), spec)
    except AnalysisError:
        return None


def _backtransform(data: AnalysisData, transform: str, totals: np.ndarray):
    if data.spec.measure == "proportion":
        return proportion_backtransform(transform, totals if transform == "freeman_tukey" else None)
    return data.backtransform()


def run_multiverse(estimates: pd.DataFrame, spec: AnalysisSpec) -> MultiverseResult:
    """Every specification of ``spec.multiverse`` pooled (see the module docstring)."""
    name = spec.name
    threshold = float(spec.multiverse.threshold)
    choices = multiverse_choices(spec)
    n = len(choices)
    level = spec.model.level
    reports = _all_reports(estimates, spec)
    data = reports.data if reports is not None else None
    proportion = spec.measure == "proportion"

    # the studies of each inclusion choice
    label = _labeller()
    # each dimension's label column, once (the keys of the inclusion choices and the table's columns)
    labels = {d: list(map(label, map(itemgetter(d), choices))) for d in MULTIVERSE_DIMENSIONS
              if d not in ("method", "ci")}
    keys = list(zip(*(labels[d] for d in MULTIVERSE_INCLUSION)))
    pooled: dict[tuple, np.ndarray | None] = {}  # included rows, in the analysis's order
    described: dict[tuple, tuple[int, str, float]] = {}  # k, study ids, participants
    for choice, key in zip(choices, keys):
        if key in pooled:
            continue
        rows = reports.select(choice) if reports is not None else None
        if rows is None:
            pooled[key] = None
            continue
        inc = rows[reports.included[rows]]
        pooled[key] = inc
        part = reports.participants[inc]
        described[key] = (len(inc), ";".join(reports.ids[inc]),
                          float(part.sum()) if len(part) and np.isfinite(part).all() else math.nan)

    cols = {c: np.full(n, math.nan) for c in _NUMBERS}
    k = np.zeros(n, dtype=np.int64)
    participants = np.full(n, math.nan)
    converged = np.zeros(n, dtype=bool)
    study_ids = [""] * n
    notes = [""] * n
    method_col, ci_col, adhoc_col = [""] * n, [""] * n, np.zeros(n, dtype=bool)
    if proportion and data is not None:
        events_all = data.selected["events"].to_numpy(float)
        totals_all = data.selected["n"].to_numpy(float)

    effects: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    glmm_fits: dict[tuple, object] = {}
    iv_rows, iv_y, iv_v, iv_g = [], [], [], []
    iv_method, iv_ci, iv_adhoc = [], [], []
    if any(choice["method"] == BAYES_METHOD for choice in choices):
        # imported here: the posterior needs scipy.stats, whose import (~0.3 s) a frequentist multiverse does
        # without (metapool.stats.distributions)
        from ..stats.bayes import bayes_normal
        from .bayes import mu_prior, tau_prior

        bayes_mu = mu_prior(spec.bayes.mu if spec.bayes is not None else Prior("flat"))
    for i, (choice, key) in enumerate(zip(choices, keys)):
        bayesian = choice["method"] == BAYES_METHOD
        ci_method, adhoc = (BAYES_CI, False) if bayesian else MULTIVERSE_CI[choice["ci"]]
        method_col[i], ci_col[i], adhoc_col[i] = choice["method"], ci_method, adhoc
        inc = pooled[key]
        if inc is None:
            notes[i] = "no study matches the inclusion choices"
            continue
        k[i], study_ids[i], participants[i] = described[key]
        if k[i] == 0:
            notes[i] = "no study can be pooled"
            continue
        transform = choice["transform"]
        if bayesian:
            ekey = (key, transform)
            if ekey not in effects:
                effects[ekey] = (proportion_effects(events_all[inc], totals_all[inc], transform) if proportion
                                 else (data.yi[inc], data.vi[inc]))
            y, v = effects[ekey]
            try:
                fit = bayes_normal(y, np.sqrt(v), tau_prior(choice["tau_prior"]), bayes_mu, level=level,
                                   transform=BAYES_SCALES[transform] or None)
            except ValueError as err:  # an improper posterior
                notes[i] = str(err)
                continue
            natural = bool(BAYES_SCALES[transform])
            mu, new = fit.mu, fit.theta_new
            for c, a, b in (("estimate", mu.bt_median, mu.median), ("ci_lower", mu.bt_ci_lower, mu.ci_lower),
                            ("ci_upper", mu.bt_ci_upper, mu.ci_upper), ("pi_lower", new.bt_ci_lower, new.ci_lower),
                            ("pi_upper", new.bt_ci_upper, new.ci_upper)):
                cols[c][i] = a if natural else b
            cols["tau2"][i], cols["beta"][i], cols["se"][i] = fit.tau.median ** 2, mu.median, mu.sd
            converged[i] = True
            continue
        if transform == "glmm":
            if key not in glmm_fits:
                glmm_fits[key] = glmm_proportions(events_all[inc], totals_all[inc], level) if k[i] >= 2 else None
            fit = glmm_fits[key]
            if fit is None:
                notes[i] = "the GLMM needs at least 2 studies"
            elif not fit.converged:
                notes[i] = f"the GLMM did not converge: {fit.message}"
            else:
                converged[i] = True
                for c in ("estimate", "ci_lower", "ci_upper", "tau2", "beta", "se", *TEST_FIELDS):
                    cols[c][i] = getattr(fit, c)
                notes[i] = fit.message
            continue
        ekey = (key, transform)
        if ekey not in effects:
            if proportion:
                effects[ekey] = proportion_effects(events_all[inc], totals_all[inc], transform)
            else:
                effects[ekey] = (data.yi[inc], data.vi[inc])
        y, v = effects[ekey]
        iv_rows.append(i)
        iv_y.append(y)
        iv_v.append(v)
        iv_g.append(len(y))
        iv_method.append(choice["method"])
        iv_ci.append(ci_method)
        iv_adhoc.append(adhoc)

    if iv_rows:
        rows = np.asarray(iv_rows)
        groups_of_studies = np.repeat(np.arange(len(iv_rows), dtype=np.intp), iv_g)  # iv_g: each one's k
        res = pool_many(np.concatenate(iv_y), np.concatenate(iv_v), groups_of_studies,
                        method=np.asarray(iv_method, dtype=object), ci=np.asarray(iv_ci, dtype=object),
                        level=level, pi=spec.model.pi, hk_adhoc=np.asarray(iv_adhoc, dtype=bool))
        for c in ("tau2", "i2", "q", "beta", "se", *TEST_FIELDS):
            cols[c][rows] = getattr(res, c)
        converged[rows] = res.converged
        # back-transform per (inclusion, transform), vectorised: each back-transformation gives the same float for
        # an array as for one value (metapool.stats.effects), so these equal the single analysis's
        groups: dict[tuple, list[int]] = {}
        for j, i in enumerate(iv_rows):
            groups.setdefault((keys[i], choices[i]["transform"]), []).append(j)
        limits = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")
        pooled_values = np.stack([res.beta, res.ci_lower, res.ci_upper, res.pi_lower, res.pi_upper])
        for (key, transform), js in groups.items():
            bt = _backtransform(data, transform, totals_all[pooled[key]] if proportion else None)
            js = np.asarray(js)
            for c, values in zip(limits, bt(pooled_values[:, js])):
                cols[c][rows[js]] = values
        for j in np.flatnonzero(~res.converged):
            notes[iv_rows[j]] = f"the {iv_method[j]} estimator of tau2 did not converge"
        if proportion:
            raw = np.asarray([choices[i]["transform"] == "raw" for i in iv_rows]) & res.converged
            with np.errstate(invalid="ignore"):
                outside = np.any([np.isfinite(cols[c][rows]) & ~((cols[c][rows] >= 0.0) & (cols[c][rows] <= 1.0))
                                  for c in ("ci_lower", "ci_upper", "pi_lower", "pi_upper")], axis=0)
            for i in rows[raw & outside]:
                notes[i] = "raw proportions: a limit lies outside [0, 1] (not truncated, as metafor)"

    with np.errstate(invalid="ignore"):
        excludes = (cols["ci_lower"] > threshold) | (cols["ci_upper"] < threshold)
    table = pd.DataFrame({
        "analysis": name,
        "specification": np.arange(1, n + 1),
        **labels,
        "method": method_col, "ci_method": ci_col, "hk_adhoc": adhoc_col, "level": level, "k": k,
        "participants": participants, **cols, "converged": converged, "ci_excludes_threshold": excludes,
        "study_ids": study_ids, "notes": notes,
    })[MULTIVERSE_COLUMNS]
    return MultiverseResult(table=table, summary=summarise(table, spec, threshold), choices=choices)


def summarise(table: pd.DataFrame, spec: AnalysisSpec, threshold: float) -> pd.DataFrame:
    """One row: the number of specifications, how many have an estimate, the median and range of the
    estimates, and the share (of those with an estimate) whose CI excludes ``threshold`` (below / above)."""
    est = table["estimate"].to_numpy(float)
    lo, hi = table["ci_lower"].to_numpy(float), table["ci_upper"].to_numpy(float)
    ok = np.isfinite(est) & np.isfinite(lo) & np.isfinite(hi)
    m = int(ok.sum())
    below = int(np.sum(hi[ok] < threshold))
    above = int(np.sum(lo[ok] > threshold))
    share = (lambda x: x / m) if m else (lambda x: math.nan)
    row = {
        "analysis": spec.name, "title": spec.title, "outcome": spec.outcome, "measure": spec.measure,
        "specifications": len(table), "estimable": m, "threshold": threshold,
        "median_estimate": float(np.median(est[ok])) if m else math.nan,
        "min_estimate": float(est[ok].min()) if m else math.nan,
        "max_estimate": float(est[ok].max()) if m else math.nan,
        "ci_excludes_threshold": below + above, "share_ci_excludes_threshold": share(below + above),
        "share_ci_below_threshold": share(below), "share_ci_above_threshold": share(above),
    }
    return pd.DataFrame([row], columns=SUMMARY_COLUMNS)
