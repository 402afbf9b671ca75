"""Numbers in words: estimates on their display scale, p-values, pooled results and heterogeneity.

:func:`result_sentence` states the pooled result of one analysis;
:func:`heterogeneity_interpretation` reads its I² against the Cochrane
Handbook's overlapping bands (:data:`COCHRANE_BANDS`, section 10.10.2) with
Cochran's Q, τ² and the prediction interval; :func:`loo_summary` and
:func:`small_study_summary` summarise the leave-one-out and small-study tables.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..analysis.run import overall_shown
from ..display import format_p, overall_effect_text, p_text
from ..vocabulary import MEASURES, MEDIAN_METHOD_FACTS

__all__ = [
    "COCHRANE_BANDS", "is_missing", "is_finite", "fmt_estimate", "fmt_ci", "format_p", "p_text",
    "is_median_of_medians", "result_sentence", "overall_effect_sentence", "single_study_fallback",
    "heterogeneity_bands", "heterogeneity_interpretation", "loo_summary", "small_study_summary", "bayes_fits",
]

# Cochrane Handbook for Systematic Reviews of Interventions, section 10.10.2 (overlapping on purpose)
COCHRANE_BANDS = (
    (0.0, 40.0, "might not be important"),
    (30.0, 60.0, "may represent moderate heterogeneity"),
    (50.0, 90.0, "may represent substantial heterogeneity"),
    (75.0, 100.0, "considerable heterogeneity"),
)


def is_missing(x) -> bool:
    """Whether a cell is missing: None or a float NaN (text, even empty, is not missing)."""
    if x is None:
        return True
    try:
        return isinstance(x, float) and math.isnan(x)
    except TypeError:
        return False


def is_finite(x) -> bool:
    """Whether ``x`` is a finite number (None, text, NaN and infinities are not)."""
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_estimate(value, measure: str) -> str:
    """A value on its display scale: percent with one decimal, months with one, HR with two.

    Parameters
    ----------
    value : float or None
        The value on its natural scale (a proportion in 0-1); missing gives ``"NA"``.
    measure : str
        ``"proportion"``, ``"median"``, ``"hr"`` or ``"ratio_of_medians"``.

    Returns
    -------
    str
    """
    if is_missing(value):
        return "NA"
    if measure == "proportion":
        return f"{100 * value:.1f}%"
    if measure == "median":
        return f"{value:.1f}"
    return f"{value:.2f}"


def fmt_ci(lo, hi, measure: str) -> str:
    """An interval ``"lo to hi"``, each limit as :func:`fmt_estimate` shows it."""
    return f"{fmt_estimate(lo, measure)} to {fmt_estimate(hi, measure)}"


def is_median_of_medians(row: Mapping) -> bool:
    """Whether an analysis (a pooled row) pooled medians by the (weighted) median of medians, which has no
    per-study standard errors and no τ²."""
    method = MEDIAN_METHOD_FACTS.get(row.get("median_method"))
    return method is not None and not method.inverse_variance


def _is_glmm(row: Mapping) -> bool:
    return row.get("measure") == "proportion" and row.get("transform") == "glmm"


def _null_text(row: Mapping) -> str:
    """The value the test for the overall effect tests against (beta = 0 on the analysis scale), in words."""
    measure, transform = row["measure"], row.get("transform")
    if measure in ("hr", "ratio_of_medians"):
        return f"a {MEASURES[measure].label} of 1"
    if measure == "proportion":
        return f"a proportion of {'50%' if transform in ('logit', 'glmm') else '0%'} ({transform} scale)"
    return "a median of 0 months" if transform == "identity" else "a median of 1 month (log scale)"


def single_study_fallback(row: Mapping) -> str:
    """What metafor does differently with one study, in words ('' when k != 1): Hartung-Knapp needs k >= 2,
    so a single study's interval and test are z (metafor's ``test_used``)."""
    if is_missing(row.get("k")) or int(row["k"]) != 1 or row.get("ci_method") != "hartung_knapp":
        return ""
    return "Hartung-Knapp needs at least 2 studies: with one study the z interval and test are used (as metafor)"


def overall_effect_sentence(row: Mapping) -> str:
    """The test for the overall effect of a pooled row in words, e.g. ``"Test for overall effect: z = 9.61
    (p < 0.001), against a hazard ratio of 1."``; '' without a test (the median of medians, no estimate).

    Parameters
    ----------
    row : Mapping
        A row of ``pooled.tsv`` or ``subgroups.tsv`` (``zval``, ``ddf``, ``pval``, ``measure``, ``transform``).

    Returns
    -------
    str
    """
    text = overall_effect_text(row.get("zval"), row.get("ddf"), row.get("pval"))
    if not text:
        return ""
    fallback = single_study_fallback(row)
    return f"{text}, against {_null_text(row)}{f' ({fallback})' if fallback else ''}."


def result_sentence(row: dict) -> str:
    """The pooled result of one analysis in words.

    Parameters
    ----------
    row : dict
        The analysis's row of ``pooled.tsv`` (estimate, CI, prediction interval, heterogeneity, subgroup test).

    Returns
    -------
    str
    """
    measure = row["measure"]
    if not overall_shown(row) and row["k"] > 0:
        text = (f"No estimate across the {row['subgroup']} subgroups (the analysis sets overall: false): "
                f"{int(row['k'])} {'study' if row['k'] == 1 else 'studies'} pooled within their {row['subgroup']}, "
                f"each {row['subgroup']}'s estimate under Subgroups.")
        if not is_missing(row.get("q_between")):
            text += (f" Test for subgroup differences by {row['subgroup']}: Q = {row['q_between']:.2f} "
                     f"(df = {int(row['df_between'])}, {p_text(row['q_between_pvalue'])}).")
        return text
    if row["k"] == 0 or is_missing(row["estimate"]):
        return "No study could be pooled."
    pct = round(100 * row["level"])
    what = MEASURES[measure].label
    if row.get("direction"):
        better = "< 1" if measure == "hr" else "> 1"
        what += f" ({row['direction']}; {better} favours the experimental arm)"
    mom = is_median_of_medians(row)
    if mom:
        what = f"{what} by the {MEDIAN_METHOD_FACTS[row['median_method']].name}"
    ci = (f"{pct}% CI {fmt_ci(row['ci_lower'], row['ci_upper'], measure)}" if not is_missing(row["ci_lower"])
          else f"no {pct}% CI: too few studies for the sign test")
    text = (
        f"{'Pooled ' if row['k'] > 1 else ''}{what} {fmt_estimate(row['estimate'], measure)} "
        f"({ci}) from {int(row['k'])} {'study' if row['k'] == 1 else 'studies'}"
    )
    if not is_missing(row.get("participants")):
        text += f" with {int(row['participants'])} patients"
    text += "."
    if row["k"] == 1:
        text = text[:1].upper() + text[1:] + " With one study nothing is pooled: the estimate is that study's."
    if overall_effect_sentence(row):
        text += " " + overall_effect_sentence(row)
    if row.get("subgroup") and not is_missing(row.get("q_between")):
        text += (
            f" Test for subgroup differences by {row['subgroup']}: Q = {row['q_between']:.2f} "
            f"(df = {int(row['df_between'])}, {p_text(row['q_between_pvalue'])})."
        )
    if row["k"] > 1 and not mom:
        if row["method"] != "EE" and is_finite(row.get("pi_lower")):
            text += f" {pct}% prediction interval {fmt_ci(row['pi_lower'], row['pi_upper'], measure)}."
        if is_finite(row.get("i2")):
            text += (
                f" Heterogeneity: I² = {row['i2']:.1f}%, τ² = {row['tau2']:.4f}, "
                f"Q = {row['q']:.2f} (df = {int(row['df'])}, {p_text(row['q_pvalue'])})."
            )
        elif is_finite(row.get("tau2")):
            text += f" Heterogeneity: τ² = {row['tau2']:.4f}."
    if row.get("notes"):
        text += f" Note: {row['notes']}."
    return text


def heterogeneity_bands(i2: float) -> list[tuple[float, float, str]]:
    """The Cochrane Handbook bands (10.10.2) an I² (percent) falls in; they overlap, so one or two.

    Parameters
    ----------
    i2 : float
        I² in percent; not finite gives no band.

    Returns
    -------
    list of tuple
        ``(lower, upper, words)`` of each band of :data:`COCHRANE_BANDS` that holds ``i2``.
    """
    if not is_finite(i2):
        return []
    return [band for band in COCHRANE_BANDS if band[0] <= i2 <= band[1]]


def heterogeneity_interpretation(row: Mapping) -> str:
    """Heterogeneity of one analysis in words: I² in the Cochrane bands, Q test, τ², prediction interval.

    Parameters
    ----------
    row : Mapping
        The analysis's row of ``pooled.tsv``.

    Returns
    -------
    str
    """
    measure = row["measure"]
    k = 0 if is_missing(row.get("k")) else int(row["k"])
    if k > 0 and not overall_shown(row):
        return (f"Not assessed across the {row['subgroup']} subgroups (overall: false); each subgroup's τ² and I² "
                f"are under Subgroups.")
    if k == 0 or is_missing(row.get("estimate")):
        return "No study was pooled: heterogeneity is not assessed."
    if is_median_of_medians(row):
        return ("The median of medians estimates no between-study variance: heterogeneity is shown by the spread of "
                "the study medians in the forest plot only.")
    if k == 1:
        return "A single study: heterogeneity is not estimable."
    if row.get("method") == "EE":
        lead = "The common-effect model assumes no heterogeneity. "
    else:
        lead = ""
    if _is_glmm(row):
        tau = f"τ² = {row['tau2']:.4f} (logit scale)" if is_finite(row.get("tau2")) else "τ² not estimated"
        return (f"{lead}The binomial-normal GLMM gives {tau}; it has no I² or Q statistic and no prediction "
                "interval.")
    i2 = row.get("i2")
    bands = heterogeneity_bands(i2)
    band_text = " and ".join(f"{lo:.0f}% to {hi:.0f}% ({what})" for lo, hi, what in bands)
    text = (f"{lead}I² = {i2:.1f}%: in the Cochrane Handbook's band{'s' if len(bands) > 1 else ''} {band_text} "
            "(Cochrane Handbook 10.10.2; the bands overlap because the importance of I² depends on the size and "
            "direction of the effects and on the strength of the evidence for heterogeneity).")
    if is_finite(row.get("q")):
        text += (f" Cochran's Q = {row['q']:.2f} on {int(row['df'])} df, {p_text(row['q_pvalue'])}"
                 f"{' (the test has little power with few studies)' if k < 10 else ''}.")
    if is_finite(row.get("tau2")):
        scale = {"proportion": f"{row.get('transform') or 'logit'} scale", "hr": "log scale",
                 "ratio_of_medians": "log scale"}.get(measure, "months" if row.get("transform") == "identity"
                                                      else "log scale")
        text += f" τ² = {row['tau2']:.4f} (τ = {math.sqrt(max(row['tau2'], 0.0)):.3f} on the {scale})."
    if row.get("method") != "EE" and is_finite(row.get("pi_lower")):
        pct = round(100 * row["level"])
        text += (f" The {pct}% prediction interval, {fmt_ci(row['pi_lower'], row['pi_upper'], measure)}, is where "
                 "the true effect of a new, comparable study is expected to lie (Riley et al. 2011).")
    if k < 5:
        text += f" With k = {k} studies, τ² and I² are very imprecise."
    return text


def loo_summary(rows: list[dict], row: Mapping) -> str:
    """The leave-one-out table in words: the range of the estimates and of I², and the omissions that move the
    estimate outside the full analysis's CI.

    Parameters
    ----------
    rows : list of dict
        The rows of ``leave_one_out.tsv`` (one per omitted study).
    row : Mapping
        The analysis's row of ``pooled.tsv``.

    Returns
    -------
    str
        Empty when no refit has an estimate.
    """
    measure = row["measure"]
    ok = [r for r in rows if is_finite(r.get("estimate"))]
    if not ok:
        return ""
    lo = min(ok, key=lambda r: r["estimate"])
    hi = max(ok, key=lambda r: r["estimate"])
    text = (f"Omitting one study at a time, the pooled estimate ranged from {fmt_estimate(lo['estimate'], measure)} "
            f"(without {lo['label']}) to {fmt_estimate(hi['estimate'], measure)} (without {hi['label']})")
    i2 = [r["i2"] for r in ok if is_finite(r.get("i2"))]
    if i2:
        text += f"; I² from {min(i2):.1f}% to {max(i2):.1f}%"
    text += "."
    if is_finite(row.get("ci_lower")) and is_finite(row.get("ci_upper")):
        out = [r["label"] for r in ok if not row["ci_lower"] <= r["estimate"] <= row["ci_upper"]]
        pct = round(100 * row["level"])
        text += (f" Omitting {', '.join(out)} moved the estimate outside the full analysis's {pct}% CI." if out
                 else f" No omission moved the estimate outside the full analysis's {pct}% CI.")
    return text


def small_study_summary(rows: list[dict], row: Mapping) -> tuple[list[str], str]:
    """Sentences for Egger, Begg and trim and fill, or the reason none was computed.

    Parameters
    ----------
    rows : list of dict
        The rows of ``small_study.tsv`` (one per test, or reasons).
    row : Mapping
        The analysis's row of ``pooled.tsv``.

    Returns
    -------
    tuple of (list of str, str)
        One sentence per test, and why there is none (empty when there are sentences).
    """
    measure = row["measure"]
    reasons = sorted({r["reason"] for r in rows if r.get("reason")})
    lines = []
    for r in rows:
        if r.get("reason"):
            continue
        if r["test"] == "egger":
            stat = "t" if is_finite(r.get("df")) else "z"
            df = f" on {int(r['df'])} df" if stat == "t" else ""
            line = f"Egger's regression test: {stat} = {r['statistic']:.2f}{df}, {p_text(r['pvalue'])}"
            if is_finite(r.get("estimate")):
                line += (f"; limit estimate (a study of infinite precision) {fmt_estimate(r['estimate'], measure)} "
                         f"({fmt_ci(r['ci_lower'], r['ci_upper'], measure)})")
            lines.append(line + ".")
        elif r["test"] == "begg":
            lines.append(f"Begg's rank correlation: Kendall's τ = {r['statistic']:.3f}, {p_text(r['pvalue'])}.")
        elif r["test"] == "trim_and_fill":
            k0 = int(r["k0"]) if is_finite(r.get("k0")) else 0
            line = f"Trim and fill: {k0} {'study' if k0 == 1 else 'studies'} imputed"
            if r.get("side"):
                line += f" on the {r['side']} side"
            if is_finite(r.get("estimate")):
                line += (f"; adjusted estimate {fmt_estimate(r['estimate'], measure)} "
                         f"({fmt_ci(r['ci_lower'], r['ci_upper'], measure)})")
            lines.append(line + ".")
    why = "" if lines else ("; ".join(reasons) or "not computed")
    return lines, why


def _probability(p) -> str:
    """A posterior probability with three decimals (``< 0.001`` and ``> 0.999`` at the ends)."""
    if is_missing(p):
        return ""
    if p < 0.0005:
        return "< 0.001"
    if p > 0.9995:
        return "> 0.999"
    return f"{p:.3f}"


def bayes_fits(rows: list[dict], measure: str) -> list[dict]:
    """The Bayesian fits of one analysis (its ``bayes.tsv`` as :func:`~metapool.reporting.tables.records`) in
    words, one dict per fit (the overall one, then each subgroup).

    Parameters
    ----------
    rows : list of dict
        The rows of ``results/<plan>/analyses/<analysis>/bayes.tsv``.
    measure : str
        The analysis's measure (how the estimates are shown: :func:`fmt_estimate`).

    Returns
    -------
    list of dict
        ``group`` ('All studies' for the overall fit), ``k``, ``mu``, ``new`` (median and credible interval as
        text), ``tau`` (on the model scale), ``above`` and ``below`` (``P(μ > 50.0%) = 0.202; new study 0.223``,
        '' without the threshold), ``reason`` (why there is no fit, '' otherwise).
    """
    fits: dict[str, dict] = {}
    for r in rows:
        group = r.get("group") or ""
        fit = fits.setdefault(group, {"group": group or "All studies", "k": r.get("k"), "mu": "", "new": "",
                                      "tau": "", "above": "", "below": "", "reason": r.get("reason") or ""})
        quantity = r.get("quantity")
        if quantity in ("mu", "theta_new"):
            text = f"{fmt_estimate(r['median'], measure)} ({fmt_ci(r['ci_lower'], r['ci_upper'], measure)})"
            fit["mu" if quantity == "mu" else "new"] = text
            for key, sign, threshold in (("above", ">", "prob_above"), ("below", "<", "prob_below")):
                p = r.get(f"p_{key}")
                if is_missing(p):
                    continue
                c = fmt_estimate(r[threshold], measure)
                fit[key] = (f"P(μ {sign} {c}) = {_probability(p)}" if quantity == "mu"
                            else f"{fit[key]}; new study {_probability(p)}")
        elif quantity == "tau":
            fit["tau"] = f"{r['median']:.3f} ({r['ci_lower']:.3f} to {r['ci_upper']:.3f})"
    return list(fits.values())
