"""The trial sequential view of one analysis (exploratory): ``results/<plan>/analyses/<analysis>/sequential.tsv``.

The looks are the rows of the analysis's cumulative meta-analysis (:func:`metapool.analysis.diagnostics.cumulative_frame`,
studies added by publication year): after each added study the cumulative z statistic
``(beta_k - null) / se_k`` on the analysis scale is compared with the two-sided O'Brien-Fleming-type
Lan-DeMets monitoring boundary at the information fraction ``(1 / se_k^2) / RIS``
(:func:`metapool.stats.sequential.trial_sequential`). The required information size (RIS) is that of a
two-sided test at alpha 0.05 with power 0.80 for the analysis's decision threshold (a hazard ratio of 0.8, a
ratio of medians of 1.25 by default, ``important_effect`` when configured), on the analysis scale (its log),
inflated by the diversity D^2 of the full random-effects fit (Wetterslev et al. 2008, 2009). The null is the
value of no effect (a ratio of 1: log 0).

A look exists only when it adds information: a cumulative row whose information ``1 / se_k^2`` does not exceed
that of the last look (a random-effects variance that grew as tau^2 grew) is not a look; its study is counted
with the next look, and its row keeps its z but has no look number, fraction or boundary.

One-arm measures (a proportion, a median) have no value of no effect, so no sequential view (with or without
``important_effect``: a test against a chosen response rate is another design, not done here); nor has an
analysis not pooled by inverse variance (no cumulative standard error). The table then has one row with the reason.

Wetterslev J, Thorlund K, Brok J, Gluud C. Trial sequential analysis may establish when firm evidence is reached
in cumulative meta-analysis. J Clin Epidemiol 2008;61:64-75.
Wetterslev J, Thorlund K, Brok J, Gluud C. Estimating required information size by quantifying diversity in
random-effects model meta-analyses. BMC Med Res Methodol 2009;9:86.
Lan KKG, DeMets DL. Discrete sequential boundaries for clinical trials. Biometrika 1983;70:659-663.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .bayes import to_analysis_scale
from ..spec import AnalysisSpec
from ..stats.sequential import diversity, trial_sequential

__all__ = ["SEQUENTIAL_COLUMNS", "ALPHA", "POWER", "sequential_frame", "sequential_view", "sequential_conclusion",
           "sequential_unavailable"]

ALPHA = 0.05
POWER = 0.80

SEQUENTIAL_COLUMNS = ["analysis", "look", "step", "study_id", "label", "year", "estimate", "beta", "se", "z",
                      "information", "fraction", "boundary", "crossed", "ris", "d2", "null", "delta", "alpha", "power",
                      "reason"]


def _one_row(analysis: str, reason: str) -> pd.DataFrame:
    row = {c: math.nan for c in SEQUENTIAL_COLUMNS}
    row.update(study_id="", label="", crossed="", analysis=analysis, reason=reason)
    return pd.DataFrame([row], columns=SEQUENTIAL_COLUMNS)


def _why_not(spec: AnalysisSpec) -> str:
    if spec.no_effect is None:
        return (f"no sequential view: a {spec.measure} is a one-arm measure with no value of no effect to test "
                "against")
    if not spec.inverse_variance:
        return "no sequential view: the analysis is not pooled by inverse variance (no cumulative standard error)"
    return ""


def sequential_unavailable(spec: AnalysisSpec) -> str:
    """Why an analysis with no ``sequential.tsv`` has no trial sequential view, in one line."""
    return _why_not(spec) or ("no sequential view: the analysis has no cumulative meta-analysis (add cumulative "
                              "to its sensitivity list)")


def sequential_frame(cumulative: pd.DataFrame, spec: AnalysisSpec, vi) -> pd.DataFrame:
    """The trial sequential view (exploratory) from the rows of ``cumulative.tsv``.

    Parameters
    ----------
    cumulative : DataFrame
        The analysis's cumulative meta-analysis (:data:`~metapool.analysis.diagnostics.CUMULATIVE_COLUMNS`), in
        publication order; ``beta`` and ``se`` on the analysis scale, ``tau2`` of each refit.
    spec : AnalysisSpec
        The analysis: ``no_effect`` (the null) and ``decision_threshold`` (the effect of the RIS).
    vi : array_like
        The sampling variances of the pooled studies (for the diversity D^2 of the full fit, whose tau^2 is
        the last cumulative row's).

    Returns
    -------
    DataFrame
        :data:`SEQUENTIAL_COLUMNS`, one row per cumulative step (or one row with the reason).
        ``crossed`` is ``yes``/``no`` for a look, '' otherwise.

    References
    ----------
    Wetterslev et al. J Clin Epidemiol 2008;61:64-75; BMC Med Res Methodol 2009;9:86; Lan & DeMets,
    Biometrika 1983;70:659-663.
    """
    name = spec.name
    reason = _why_not(spec)
    if reason:
        return _one_row(name, reason)
    cum = cumulative.reset_index(drop=True)
    beta, se = cum["beta"].to_numpy(float), cum["se"].to_numpy(float)
    ok = np.isfinite(beta) & np.isfinite(se) & (se > 0)
    if cum.empty or not ok.all():
        why = next((r for r in cum.get("reason", pd.Series(dtype=str)).astype(str) if r), "")
        return _one_row(name, "no sequential view: the cumulative meta-analysis has no estimate at every step"
                        + (f" ({why})" if why else ""))
    tau2 = float(cum["tau2"].iloc[-1]) if math.isfinite(float(cum["tau2"].iloc[-1])) else 0.0
    d2 = diversity(vi, tau2)
    null = to_analysis_scale(spec.no_effect, spec.scale)
    delta = to_analysis_scale(spec.decision_threshold, spec.scale) - null
    info = 1.0 / se**2
    looks, best = [], 0.0
    for j, x in enumerate(info):
        if x > best:
            looks.append(j)
            best = x
    res = trial_sequential(beta[looks], se[looks], null=null, delta=delta, alpha=ALPHA, beta=1.0 - POWER,
                           diversity=d2)
    n = len(cum)
    look = np.full(n, math.nan)
    fraction = np.full(n, math.nan)
    boundary = np.full(n, math.nan)
    crossed = np.full(n, "", dtype=object)
    look[looks] = np.arange(1, len(looks) + 1)
    fraction[looks] = res.fraction
    boundary[looks] = res.boundary
    crossed[looks] = np.where(np.abs(res.z) >= res.boundary, "yes", "no")
    reasons = ["" if j in looks else "adds no information (the random-effects variance did not decrease): "
               "counted with the next look" for j in range(n)]
    out = pd.DataFrame({
        "analysis": name, "look": look, "step": cum["step"].to_numpy(), "study_id": cum["study_id"].to_numpy(),
        "label": cum["label"].to_numpy(), "year": cum["year"].to_numpy(), "estimate": cum["estimate"].to_numpy(float),
        "beta": beta, "se": se, "z": (beta - null) / se, "information": info, "fraction": fraction,
        "boundary": boundary, "crossed": crossed, "ris": res.required_information, "d2": d2, "null": null,
        "delta": delta, "alpha": ALPHA, "power": POWER, "reason": reasons,
    })
    return out[SEQUENTIAL_COLUMNS]


def sequential_view(data) -> pd.DataFrame:
    """:func:`sequential_frame` of a prepared analysis (:func:`metapool.analysis.run.prepare_analysis`): its
    cumulative meta-analysis and the sampling variances of its pooled studies."""
    from .diagnostics import cumulative_frame

    reason = _why_not(data.spec)
    if reason:
        return _one_row(data.spec.name, reason)
    return sequential_frame(cumulative_frame(data), data.spec, data.included_effects()[1])


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def sequential_conclusion(frame: pd.DataFrame) -> str:
    """The sequential view in one line of words (exploratory), from :func:`sequential_frame`'s table."""
    looks = frame[frame["look"].notna()] if "look" in frame else frame.iloc[0:0]
    if looks.empty:
        return str(frame["reason"].iloc[0]) if len(frame) else "no sequential view"
    hit = looks[looks["crossed"] == "yes"]
    if len(hit):
        row = hit.iloc[0]
        return (f"Exploratory: the cumulative z crossed the monitoring boundary at the {_ordinal(int(row['step']))} "
                f"trial ({int(row['year'])}), at {row['fraction']:.0%} of the required information size.")
    last = looks.iloc[-1]
    return (f"Exploratory: the cumulative z has not crossed the monitoring boundary; {last['fraction']:.0%} of the "
            "required information size accrued.")
