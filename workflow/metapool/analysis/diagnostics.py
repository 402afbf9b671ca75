"""The sensitivity tables of one analysis: leave-one-out, influence, cumulative, small-study effects, and the
meta-regression on its moderators (:func:`moderator_frame`).

Each table is computed from :func:`metapool.analysis.run.prepare_analysis`, so it
refits exactly the studies, effect sizes and model of the analysis (method, CI
method, Hartung-Knapp ad hoc correction, level, prediction interval), and is
written as ``results/<plan>/analyses/<analysis>/<kind>.tsv``:

* ``leave_one_out`` -- the model refitted without each pooled study in turn
  (metafor ``leave1out``; Viechtbauer & Cheung, Res Synth Methods
  2010;1:112-125);
* ``influence`` -- case-deletion diagnostics (metafor ``influence.rma.uni``):
  studentised residuals, DFFITS, Cook's distance, covariance ratio, leverage,
  and the influential flag;
* ``cumulative`` -- the studies added one at a time by publication year (metafor
  ``cumul``; Lau et al. N Engl J Med 1992;327:248-254);
* ``small_study`` -- Egger's regression test (Egger et al. BMJ 1997;315:629-634),
  Begg's rank correlation (Begg & Mazumdar, Biometrics 1994;50:1088-1101) and
  trim and fill (Duval & Tweedie, Biometrics 2000;56:455-463), only with at least
  10 studies (Sterne et al. BMJ 2011;343:d4002); otherwise one row per test with
  the reason.

Inverse-variance leave-one-out and cumulative tables are those of
:func:`metapool.stats.sensitivity.leave_one_out` and :func:`~metapool.stats.sensitivity.cumulative`
(one vectorised :func:`~metapool.stats.pooling.pool_many` call each, identical to
:func:`~metapool.stats.pooling.inverse_variance` bit for bit), back-transformed here. The
GLMM and the median of medians are refitted one subset at a time; influence and
small-study diagnostics need an inverse-variance model and give a reason otherwise.

Every table has a ``reason`` column: empty for a computed row; otherwise why the
row (or the whole table, then one row) has no numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .bayes import bayes_frame
from .run import AnalysisData, _row, pool_analysis, subgroup_frame
from .selection import AnalysisError, records
from ..stats.moderators import design_matrix, meta_regression
from ..stats.bias import MIN_STUDIES, begg_test, egger_test, trim_and_fill
from ..stats.sensitivity import SubsetFits, cumulative, influence, leave_one_out

__all__ = [
    "LEAVE_ONE_OUT_COLUMNS", "CUMULATIVE_COLUMNS", "INFLUENCE_COLUMNS", "SMALL_STUDY_COLUMNS", "MODERATOR_COLUMNS",
    "moderator_frame", "leave_one_out_frame", "cumulative_frame", "influence_frame", "small_study_frame",
    "sensitivity_frames",
]

_FIT = ["k", "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "q_pvalue", "beta",
        "se"]
LEAVE_ONE_OUT_COLUMNS = ["analysis", "study_id", "label", "year"] + _FIT + ["reason"]
CUMULATIVE_COLUMNS = ["analysis", "step", "study_id", "label", "year"] + _FIT + ["reason"]
INFLUENCE_COLUMNS = ["analysis", "study_id", "label", "rstudent", "dffits", "cooks_distance", "cov_ratio",
                     "tau2_deleted", "qe_deleted", "hat", "weight", "dfbetas", "influential", "reason"]
SMALL_STUDY_COLUMNS = ["analysis", "test", "k", "statistic", "df", "pvalue", "k0", "side", "estimate", "ci_lower",
                       "ci_upper", "method", "reason"]
SMALL_STUDY_TESTS = ("egger", "begg", "trim_and_fill")
# results/<plan>/analyses/<analysis>/moderators.tsv: one row per coefficient of the meta-regression (moderator_frame)
MODERATOR_COLUMNS = ["analysis", "moderators", "scale", "term", "k", "estimate", "se", "statistic", "test", "df",
                     "pvalue", "ci_lower", "ci_upper", "qm", "qm_df1", "qm_df2", "qm_pvalue", "qe", "qe_df",
                     "qe_pvalue", "tau2", "i2", "r2", "method", "ci_method", "notes", "reason"]


def _empty(columns, analysis: str, reason: str, **values) -> pd.DataFrame:
    row = {c: math.nan for c in columns}
    row.update({c: "" for c in ("study_id", "label", "test", "side", "method") if c in columns})
    row.update(analysis=analysis, reason=reason, **values)
    return pd.DataFrame([row], columns=columns)


def _not_poolable_reason(data: AnalysisData, need: int, what: str) -> str:
    """Why ``what`` (a singular noun phrase) cannot be computed with the analysis's pooled studies, or ''."""
    if data.k == 0:
        return "no study can be pooled"
    if data.k < need:
        return f"{what} needs at least {need} pooled studies (k = {data.k})"
    return ""


def _iv_columns(data: AnalysisData, fits: SubsetFits, masks: list[np.ndarray]) -> tuple[dict, list[str]]:
    """The columns of ``_FIT`` from the inverse-variance refits ``fits`` of the subsets ``masks`` (boolean
    arrays over ``data.selected``), the estimate and limits back-transformed; a reason per refit."""
    cols = {"k": fits.k.astype(float), "tau2": fits.tau2, "i2": fits.i2, "q": fits.q, "q_pvalue": fits.q_pvalue,
            "beta": fits.estimate, "se": fits.se}
    natural = {"estimate": fits.estimate, "ci_lower": fits.ci_lower, "ci_upper": fits.ci_upper,
               "pi_lower": fits.pi_lower, "pi_upper": fits.pi_upper}
    if data.spec.scale in ("freeman_tukey", "arcsine"):
        # back-transformed one value at a time, as the single analysis does (exactly the same floats)
        bts = [data.backtransform(mask) for mask in masks]
        for c, values in natural.items():
            cols[c] = np.array([float(bt(float(x))) for bt, x in zip(bts, values)])
    else:
        bt = data.backtransform()
        for c, values in natural.items():
            cols[c] = np.asarray(bt(values), dtype=float)
    method = data.spec.model.method
    reasons = ["" if ok else f"the {method} estimator of tau2 did not converge" for ok in fits.converged]
    return cols, reasons


def _subset_fits(data: AnalysisData, masks: list[np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """The GLMM or median-of-medians analysis refitted on each subset (boolean masks over ``data.selected``):
    the columns of ``_FIT`` (one entry per subset) and a reason per subset ('' when it was fitted)."""
    cols = {c: np.full(len(masks), math.nan) for c in _FIT}
    reasons = []
    for g, mask in enumerate(masks):
        try:
            result, notes = pool_analysis(data, mask)
        except (ValueError, RuntimeError) as err:
            result, notes = None, [str(err)]
        numbers = _row(result)
        numbers["k"] = int((data.included & mask).sum())
        reason = "; ".join(notes)
        if result is None or not np.isfinite(numbers["estimate"]):
            reason = reason or "; ".join(numbers["notes"]) or "not estimable"
        for c in _FIT:
            cols[c][g] = numbers.get(c, math.nan)
        reasons.append(reason)
    return cols, reasons


def _study_columns(data: AnalysisData, rows: np.ndarray) -> dict[str, np.ndarray]:
    sel = data.selected
    return {c: sel[c].to_numpy()[rows] for c in ("study_id", "label", "year")}


def leave_one_out_frame(data: AnalysisData) -> pd.DataFrame:
    """``leave_one_out.tsv``: one row per pooled study, the analysis refitted without it."""
    name = data.spec.name
    need = 3 if data.spec.glmm else 2
    reason = _not_poolable_reason(data, need, "leave-one-out")
    if reason:
        return _empty(LEAVE_ONE_OUT_COLUMNS, name, reason)
    inc = np.flatnonzero(data.included)
    idx = np.arange(len(data.selected))
    masks = [idx != i for i in inc]
    if data.spec.inverse_variance:
        fits = leave_one_out(*data.included_effects(), **data.spec.model.keywords())
        cols, reasons = _iv_columns(data, fits, masks)
    else:
        cols, reasons = _subset_fits(data, masks)
    frame = pd.DataFrame({"analysis": name, **_study_columns(data, inc), **cols, "reason": reasons})
    frame["k"] = frame["k"].astype(int)
    return frame[LEAVE_ONE_OUT_COLUMNS]


def cumulative_frame(data: AnalysisData) -> pd.DataFrame:
    """``cumulative.tsv``: the pooled studies added one at a time by publication year (ties in the analysis's
    order: year, trial, study id); row ``step`` pools the first ``step`` studies."""
    name = data.spec.name
    reason = _not_poolable_reason(data, 1, "a cumulative meta-analysis")
    if reason:
        return _empty(CUMULATIVE_COLUMNS, name, reason)
    inc = np.flatnonzero(data.included)
    years = data.selected["year"].to_numpy()[inc]
    fits = None
    if data.spec.inverse_variance:
        fits = cumulative(*data.included_effects(), years, **data.spec.model.keywords())
        order = inc[fits.study]
    else:
        order = inc[np.argsort(years, kind="stable")]
    masks = []
    for step in range(1, len(order) + 1):
        mask = np.zeros(len(data.selected), dtype=bool)
        mask[order[:step]] = True
        masks.append(mask)
    cols, reasons = _iv_columns(data, fits, masks) if fits is not None else _subset_fits(data, masks)
    frame = pd.DataFrame({"analysis": name, "step": np.arange(1, len(order) + 1), **_study_columns(data, order),
                          **cols, "reason": reasons})
    frame["k"] = frame["k"].astype(int)
    return frame[CUMULATIVE_COLUMNS]


def influence_frame(data: AnalysisData) -> pd.DataFrame:
    """``influence.tsv``: case-deletion diagnostics of every pooled study (inverse-variance analyses)."""
    name = data.spec.name
    if not data.spec.inverse_variance:
        return _empty(INFLUENCE_COLUMNS, name, _why_not_iv(data, "influence diagnostics"))
    reason = _not_poolable_reason(data, 3, "the influence analysis")
    if reason:
        return _empty(INFLUENCE_COLUMNS, name, reason)
    yi, vi = data.included_effects()
    try:
        res = influence(yi, vi, **data.spec.model.keywords(pi=False))
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
        return _empty(INFLUENCE_COLUMNS, name, f"influence diagnostics not computed: {err}")
    inc = data.selected[data.included]
    frame = pd.DataFrame({
        "analysis": name, "study_id": inc["study_id"].to_numpy(), "label": inc["label"].to_numpy(),
        "rstudent": res.rstudent, "dffits": res.dffits, "cooks_distance": res.cooks_distance,
        "cov_ratio": res.cov_ratio, "tau2_deleted": res.tau2_deleted, "qe_deleted": res.qe_deleted, "hat": res.hat,
        "weight": res.weight, "dfbetas": res.dfbetas[:, 0], "influential": res.influential,
    })
    frame["reason"] = np.where(np.isfinite(res.dffits), "", "the model without this study could not be fitted")
    return frame[INFLUENCE_COLUMNS]


def _why_not_iv(data: AnalysisData, what: str) -> str:
    if data.spec.glmm:
        return f"{what} need an inverse-variance model; this analysis is the binomial-normal GLMM"
    return (f"{what} need an inverse-variance model; this analysis pools by the "
            f"{data.spec.median_method.replace('_', ' ')}")


def small_study_frame(data: AnalysisData) -> pd.DataFrame:
    """``small_study.tsv``: Egger, Begg and trim and fill (rows ``egger``, ``begg``, ``trim_and_fill``).

    ``statistic`` is Egger's z (t under Hartung-Knapp, on ``df``) for the
    standard-error predictor, Kendall's tau for Begg, and empty for trim and
    fill; ``estimate``/CI are on the natural scale: Egger's limit estimate (the
    intercept, the effect of an infinitely precise study) and trim and fill's
    estimate after filling ``k0`` studies on ``side``.
    """
    name, model = data.spec.name, data.spec.model
    rows = []

    def row(test, **values):
        base = {c: math.nan for c in SMALL_STUDY_COLUMNS}
        base.update(analysis=name, test=test, k=data.k, side="", method="" if test == "begg" else model.method,
                    reason="")
        base.update(values)
        rows.append(base)

    if not data.spec.inverse_variance:
        for test in SMALL_STUDY_TESTS:
            row(test, method="", reason=_why_not_iv(data, "tests for funnel-plot asymmetry"))
        return pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)
    if data.k < MIN_STUDIES:
        reason = (f"k = {data.k} < {MIN_STUDIES}: too few studies to test for funnel-plot asymmetry "
                  "(Sterne et al. BMJ 2011;343:d4002)")
        for test in SMALL_STUDY_TESTS:
            row(test, reason=reason)
        return pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)
    yi, vi = data.included_effects()
    bt = data.backtransform()
    try:
        eg = egger_test(yi, vi, **model.keywords(pi=False))
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
        row("egger", reason=f"not computed: {err}")
    else:
        row("egger", statistic=eg.statistic, df=math.nan if eg.df is None else eg.df, pvalue=eg.pvalue,
            estimate=float(bt(eg.limit_estimate)), ci_lower=float(bt(eg.limit_ci_lower)),
            ci_upper=float(bt(eg.limit_ci_upper)))
    try:
        bg = begg_test(yi, vi)
    except (ValueError, RuntimeError) as err:
        row("begg", reason=f"not computed: {err}")
    else:
        row("begg", statistic=bg.tau, pvalue=bg.pvalue)
    try:
        tf = trim_and_fill(yi, vi, **model.keywords())
    except (ValueError, RuntimeError) as err:
        row("trim_and_fill", reason=f"not computed: {err}")
    else:
        m = tf.model
        row("trim_and_fill", k0=tf.k0, side=tf.side, estimate=float(bt(m.beta)), ci_lower=float(bt(m.ci_lower)),
            ci_upper=float(bt(m.ci_upper)))
    return pd.DataFrame(rows, columns=SMALL_STUDY_COLUMNS)


def moderator_frame(data: AnalysisData) -> pd.DataFrame:
    """``results/<plan>/analyses/<analysis>/moderators.tsv``: the mixed-effects meta-regression of the analysis's pooled
    studies on its ``moderators`` (metafor ``rma(yi, vi, mods = ~ ...)``), one row per coefficient.

    The model is :func:`metapool.stats.moderators.meta_regression` with the analysis's method, CI (z, or the
    Knapp-Hartung t and F tests) and level (Thompson SG, Higgins JPT. Stat Med 2002;21:1559-1573; Knapp G,
    Hartung J. Stat Med 2003;22:2693-2710): ``y_i = x_i' beta + u_i + e_i``, ``u_i ~ N(0, tau^2)``,
    ``e_i ~ N(0, v_i)``, on the analysis scale (``scale``: the log hazard ratio, the logit, ...). A moderator
    whose every value is a number is a covariate; any other is categorical, dummy-coded against its first
    level in sorted order (R's ``factor()``). Each row has the coefficient (``term``: ``intrcpt``, ``year``,
    ``population[global]``, ...), its ``se``, ``statistic`` (``test`` z or t, ``df``), ``pvalue`` and CI, and
    the model's omnibus test of the moderators ``qm`` (chi-square on ``qm_df1`` df, or F on
    ``(qm_df1, qm_df2)``), residual heterogeneity ``qe`` on ``qe_df``, residual ``tau2`` and ``i2``, and the
    pseudo-R^2 ``r2`` (percent of tau^2 explained). A pooled study with an empty moderator is left out of the
    regression and named in ``notes``; a model that cannot be fitted is one row with the ``reason``.
    """

    spec = data.spec
    base = {c: math.nan for c in MODERATOR_COLUMNS}
    base.update(analysis=spec.name, moderators=" + ".join(spec.moderators), scale=spec.scale, term="", test="",
                method=spec.model.method, ci_method=spec.model.ci, notes="", reason="")

    def fails(reason, notes=""):
        return pd.DataFrame([{**base, "notes": notes, "reason": reason}], columns=MODERATOR_COLUMNS)

    if not spec.inverse_variance:
        return fails("the meta-regression needs an inverse-variance pool")
    inc = data.selected[data.included]
    absent = [m for m in spec.moderators if m not in inc.columns]
    if absent:
        raise AnalysisError(f"analysis '{spec.name}': no study column {', '.join(absent)} for the meta-regression")
    rows = records(inc, spec.moderators)
    keep = np.array([all(r[m] != "" for m in spec.moderators) for r in rows], dtype=bool)
    notes = ""
    if not keep.all():
        left_out = [f"{label} ({', '.join(m for m in spec.moderators if r[m] == '')})"
                    for label, r, k in zip(inc["label"], rows, keep) if not k]
        notes = "left out for an empty moderator: " + "; ".join(left_out)
    moderators = {}
    for m in spec.moderators:
        values = [r[m] for r, k in zip(rows, keep) if k]
        try:
            moderators[m] = np.array([float(v) for v in values])
        except ValueError:
            moderators[m] = np.array(values, dtype=object)
    yi, vi = data.included_effects()
    yi, vi = yi[keep], vi[keep]
    k = len(yi)
    p = len(design_matrix(moderators)[1]) if k else 1
    if k <= p:
        return fails(f"k = {k} studies for {p} coefficients: too few for a meta-regression", notes)
    try:
        fit = meta_regression(yi, vi, moderators, **spec.model.keywords(pi=False))
    except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
        return fails(f"not computed: {err}", notes)
    model = {**base, "k": fit.k, "qm": fit.qm, "qm_df1": fit.qm_df[0],
             "qm_df2": math.nan if fit.qm_df[1] is None else fit.qm_df[1], "qm_pvalue": fit.qm_pvalue, "qe": fit.qe,
             "qe_df": fit.qe_df, "qe_pvalue": fit.qe_pvalue, "tau2": fit.tau2, "i2": fit.i2,
             "r2": math.nan if fit.r2 is None else fit.r2, "notes": notes}
    out = [{**model, "term": name, "estimate": fit.beta[j], "se": fit.se[j], "statistic": fit.stat[j],
            "test": "z" if fit.ddf is None else "t", "df": math.nan if fit.ddf is None else fit.ddf,
            "pvalue": fit.pval[j], "ci_lower": fit.ci_lower[j], "ci_upper": fit.ci_upper[j]}
           for j, name in enumerate(fit.names)]
    return pd.DataFrame(out, columns=MODERATOR_COLUMNS)


_BUILDERS = {
    "leave_one_out": leave_one_out_frame,
    "influence": influence_frame,
    "cumulative": cumulative_frame,
    "small_study": small_study_frame,
    "subgroups": subgroup_frame,
    "moderators": moderator_frame,
    "bayes": bayes_frame,
}


def sensitivity_frames(data: AnalysisData, kinds) -> dict[str, pd.DataFrame]:
    """The tables named in ``kinds`` (``subgroups``, ``moderators``, ``bayes``, ``leave_one_out``, ``influence``,
    ``cumulative``, ``small_study``) of one analysis."""
    unknown = set(kinds) - set(_BUILDERS)
    if unknown:
        raise ValueError(f"unknown sensitivity table(s) {sorted(unknown)}; choose from {sorted(_BUILDERS)}")
    return {kind: _BUILDERS[kind](data) for kind in kinds}
