"""The self-contained HTML report: every table and figure of a run, its methods and provenance.

The report follows the PRISMA 2020 items of a synthesis (Page et al. BMJ
2021;372:n71; items 13d-22): synthesis methods generated from the config as
run, then per analysis the study flow, the included reports with every number
linked to its source and location, the forest plot, the pooled result in
words, heterogeneity interpreted with the Cochrane Handbook's bands (section
10.10.2), subgroups, sensitivity analyses, and small-study effects (or why
they were not assessed).

Rendered with Jinja2 with autoescaping on, so text from the data or the config
is always shown as text (a study label ``<script>...</script>`` stays text).
Figures are embedded as data URIs; the page loads nothing and runs no script.
The output has no timestamps, so that the same inputs give the same bytes.

:func:`write_workbook` writes every result table into one XLSX workbook for
reviewers (one sheet per table), byte-identical across runs.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import io
import math
import platform
import re
import subprocess
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from ..analysis.estimates import TEXT_COLUMNS
from ..io import atomic_write_bytes, atomic_write_text, read_tsv
from ..vocabulary import OUTCOMES, SENSITIVITY_KINDS

__all__ = [
    "build_report", "fmt_estimate", "methods_text", "result_sentence", "heterogeneity_bands",
    "heterogeneity_interpretation", "synthesis_methods", "discover_layout", "write_workbook", "REFERENCES",
    "COCHRANE_BANDS",
]

PACKAGES = ("metapool", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "snakemake", "jsonschema", "jinja2",
            "pyyaml", "openpyxl")

MEASURE_NAMES = {"proportion": "proportion", "median": "median (months)", "hr": "hazard ratio",
                 "ratio_of_medians": "ratio of medians"}
MEDIAN_METHOD_NAMES = {
    "median_of_medians": "median of medians",
    "weighted_median_of_medians": "weighted median of medians",
}
METHOD_NAMES = {
    "EE": "common-effect (inverse variance)",
    "DL": "DerSimonian-Laird",
    "HE": "Hedges",
    "SJ": "Sidik-Jonkman",
    "ML": "maximum likelihood",
    "REML": "restricted maximum likelihood (REML)",
    "EB": "empirical Bayes",
    "PM": "Paule-Mandel",
}
METHOD_REFS = {"DL": "DerSimonian & Laird 1986", "HE": "Hedges & Olkin 1985", "SJ": "Sidik & Jonkman 2005",
               "ML": "Viechtbauer 2005", "REML": "Viechtbauer 2005", "EB": "Morris 1983",
               "PM": "Paule & Mandel 1982"}
POLICY_NAMES = {
    "latest_cut": "the report with the latest data cut-off (then the largest N)",
    "largest_n": "the report with the largest N (then the latest data cut-off)",
    "earliest_cut": "the report with the earliest data cut-off (then the largest N)",
}
TRANSFORM_TEXT = {
    "logit": ("Proportions were logit transformed (0.5 added to the events and non-events of studies with 0 or all "
              "events, metafor's default) and pooled by inverse variance"),
    "freeman_tukey": ("Proportions were Freeman-Tukey double arcsine transformed (Freeman & Tukey 1950; defined at 0 "
                      "and all events, no continuity correction), pooled by inverse variance and back-transformed "
                      "by Miller's inversion at the harmonic mean of the sample sizes (Miller 1978)"),
    "arcsine": ("Proportions were arcsine square-root transformed (no continuity correction) and pooled by inverse "
                "variance"),
    "raw": ("Proportions were pooled on their own scale (variance p(1 − p)/n; 0.5 added to the events and "
            "non-events of studies with 0 or all events) by inverse variance"),
}

# Cochrane Handbook for Systematic Reviews of Interventions, section 10.10.2 (overlapping on purpose)
COCHRANE_BANDS = (
    (0.0, 40.0, "might not be important"),
    (30.0, 60.0, "may represent moderate heterogeneity"),
    (50.0, 90.0, "may represent substantial heterogeneity"),
    (75.0, 100.0, "considerable heterogeneity"),
)

# (key, citation) in the order they are listed; the key is how the text cites them
REFERENCES = (
    ("Page et al. 2021", "Page MJ, McKenzie JE, Bossuyt PM, et al. The PRISMA 2020 statement: an updated guideline "
                         "for reporting systematic reviews. BMJ 2021;372:n71."),
    ("Cochrane Handbook", "Deeks JJ, Higgins JPT, Altman DG (eds). Chapter 10: Analysing data and undertaking "
                          "meta-analyses. In: Higgins JPT, Thomas J, et al. (eds). Cochrane Handbook for Systematic "
                          "Reviews of Interventions, version 6.4. Cochrane, 2023 (section 10.10.2)."),
    ("Clopper & Pearson 1934", "Clopper CJ, Pearson ES. The use of confidence or fiducial limits illustrated in the "
                               "case of the binomial. Biometrika 1934;26:404-413."),
    ("DerSimonian & Laird 1986", "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials "
                                 "1986;7:177-188."),
    ("Hedges & Olkin 1985", "Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press, 1985."),
    ("Sidik & Jonkman 2005", "Sidik K, Jonkman JN. Simple heterogeneity variance estimation for meta-analysis. "
                             "J R Stat Soc C 2005;54:367-384."),
    ("Viechtbauer 2005", "Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the "
                         "random-effects model. J Educ Behav Stat 2005;30:261-293."),
    ("Morris 1983", "Morris CN. Parametric empirical Bayes inference: theory and applications. J Am Stat Assoc "
                    "1983;78:47-55."),
    ("Paule & Mandel 1982", "Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur Stand "
                            "1982;87:377-385."),
    ("Hartung & Knapp 2001", "Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical "
                             "trials with binary outcome. Stat Med 2001;20:3875-3889."),
    ("Knapp & Hartung 2003", "Knapp G, Hartung J. Improved tests for a random effects meta-regression with a "
                             "single covariate. Stat Med 2003;22:2693-2710."),
    ("Cochran 1954", "Cochran WG. The combination of estimates from different experiments. Biometrics "
                     "1954;10:101-129."),
    ("Higgins & Thompson 2002", "Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med "
                                "2002;21:1539-1558."),
    ("Higgins et al. 2009", "Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects "
                            "meta-analysis. J R Stat Soc A 2009;172:137-159."),
    ("Riley et al. 2011", "Riley RD, Higgins JPT, Deeks JJ. Interpretation of random effects meta-analyses. BMJ "
                          "2011;342:d549."),
    ("Freeman & Tukey 1950", "Freeman MF, Tukey JW. Transformations related to the angular and the square root. "
                             "Ann Math Stat 1950;21:607-611."),
    ("Miller 1978", "Miller JJ. The inverse of the Freeman-Tukey double arcsine transformation. Am Stat "
                    "1978;32:138."),
    ("Stijnen et al. 2010", "Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event outcome in the "
                            "framework of the generalized linear mixed model with applications in sparse data. "
                            "Stat Med 2010;29:3046-3067."),
    ("McGrath et al. 2019", "McGrath S, Zhao X, Qin ZZ, Steele R, Benedetti A. One-sample aggregate data "
                            "meta-analysis of medians. Stat Med 2019;38:969-984."),
    ("Borenstein & Higgins 2013", "Borenstein M, Higgins JPT. Meta-analysis and subgroups. Prev Sci "
                                  "2013;14:134-143."),
    ("Viechtbauer & Cheung 2010", "Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for "
                                  "meta-analysis. Res Synth Methods 2010;1:112-125."),
    ("Lau et al. 1992", "Lau J, Antman EM, Jimenez-Silva J, et al. Cumulative meta-analysis of therapeutic trials "
                        "for myocardial infarction. N Engl J Med 1992;327:248-254."),
    ("Egger et al. 1997", "Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected by a "
                          "simple, graphical test. BMJ 1997;315:629-634."),
    ("Begg & Mazumdar 1994", "Begg CB, Mazumdar M. Operating characteristics of a rank correlation test for "
                             "publication bias. Biometrics 1994;50:1088-1101."),
    ("Duval & Tweedie 2000", "Duval S, Tweedie R. Trim and fill: a simple funnel-plot-based method of testing and "
                             "adjusting for publication bias in meta-analysis. Biometrics 2000;56:455-463."),
    ("Sterne et al. 2011", "Sterne JAC, Sutton AJ, Ioannidis JPA, et al. Recommendations for examining and "
                           "interpreting funnel plot asymmetry in meta-analyses of randomised controlled trials. BMJ "
                           "2011;343:d4002."),
    ("Peters et al. 2008", "Peters JL, Sutton AJ, Jones DR, Abrams KR, Rushton L. Contour-enhanced meta-analysis "
                           "funnel plots help distinguish publication bias from other causes of asymmetry. J Clin "
                           "Epidemiol 2008;61:991-996."),
    ("Steegen et al. 2016", "Steegen S, Tuerlinckx F, Gelman A, Vanpaemel W. Increasing transparency through a "
                            "multiverse analysis. Perspect Psychol Sci 2016;11:702-712."),
    ("Simonsohn et al. 2020", "Simonsohn U, Simmons JP, Nelson LD. Specification curve analysis. Nat Hum Behav "
                              "2020;4:1208-1214."),
    ("Viechtbauer 2010", "Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw "
                         "2010;36(3):1-48."),
    ("Mölder et al. 2021", "Mölder F, Jablonski KP, Letcher B, et al. Sustainable data analysis with Snakemake. "
                           "F1000Research 2021;10:33."),
)


def _isnan(x) -> bool:
    if x is None:
        return True
    try:
        return isinstance(x, float) and math.isnan(x)
    except TypeError:
        return False


def _finite(x) -> bool:
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def fmt_estimate(value, measure: str) -> str:
    """A value on its display scale: percent with one decimal, months with one, HR with two."""
    if _isnan(value):
        return "NA"
    if measure == "proportion":
        return f"{100 * value:.1f}%"
    if measure == "median":
        return f"{value:.1f}"
    return f"{value:.2f}"


def _fmt_ci(lo, hi, measure: str) -> str:
    return f"{fmt_estimate(lo, measure)} to {fmt_estimate(hi, measure)}"


def _fmt_p(p) -> str:
    if not _finite(p):
        return "NA"
    return "< 0.001" if p < 0.001 else f"{p:.3g}"


def _p_text(p) -> str:
    text = _fmt_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _is_mom(row: Mapping) -> bool:
    return row.get("median_method") in MEDIAN_METHOD_NAMES


def _is_glmm(row: Mapping) -> bool:
    return row.get("measure") == "proportion" and row.get("transform") == "glmm"


def result_sentence(row: dict) -> str:
    """The pooled result of one analysis in words."""
    measure = row["measure"]
    if row["k"] == 0 or _isnan(row["estimate"]):
        return "No study could be pooled."
    pct = round(100 * row["level"])
    what = MEASURE_NAMES[measure]
    if row.get("direction"):
        better = "< 1" if measure == "hr" else "> 1"
        what += f" ({row['direction']}; {better} favours the experimental arm)"
    mom = _is_mom(row)
    if mom:
        what = f"{what} by the {MEDIAN_METHOD_NAMES[row['median_method']]}"
    ci = (f"{pct}% CI {_fmt_ci(row['ci_lower'], row['ci_upper'], measure)}" if not _isnan(row["ci_lower"])
          else f"no {pct}% CI: too few studies for the sign test")
    text = (
        f"Pooled {what} {fmt_estimate(row['estimate'], measure)} "
        f"({ci}) from {int(row['k'])} {'study' if row['k'] == 1 else 'studies'}"
    )
    if not _isnan(row.get("participants")):
        text += f" with {int(row['participants'])} patients"
    text += "."
    if row.get("subgroup") and not _isnan(row.get("q_between")):
        text += (
            f" Test for subgroup differences by {row['subgroup']}: Q = {row['q_between']:.2f} "
            f"(df = {int(row['df_between'])}, {_p_text(row['q_between_pvalue'])})."
        )
    if row["k"] > 1 and not mom:
        if row["method"] != "EE" and _finite(row.get("pi_lower")):
            text += f" {pct}% prediction interval {_fmt_ci(row['pi_lower'], row['pi_upper'], measure)}."
        if _finite(row.get("i2")):
            text += (
                f" Heterogeneity: I² = {row['i2']:.1f}%, τ² = {row['tau2']:.4f}, "
                f"Q = {row['q']:.2f} (df = {int(row['df'])}, {_p_text(row['q_pvalue'])})."
            )
        elif _finite(row.get("tau2")):
            text += f" Heterogeneity: τ² = {row['tau2']:.4f}."
    if row.get("notes"):
        text += f" Note: {row['notes']}."
    return text


def heterogeneity_bands(i2: float) -> list[tuple[float, float, str]]:
    """The Cochrane Handbook bands (10.10.2) an I² (percent) falls in; they overlap, so one or two."""
    if not _finite(i2):
        return []
    return [band for band in COCHRANE_BANDS if band[0] <= i2 <= band[1]]


def heterogeneity_interpretation(row: Mapping) -> str:
    """Heterogeneity of one analysis in words: I² in the Cochrane bands, Q test, τ², prediction interval."""
    measure = row["measure"]
    k = 0 if _isnan(row.get("k")) else int(row["k"])
    if k == 0 or _isnan(row.get("estimate")):
        return "No study was pooled: heterogeneity is not assessed."
    if _is_mom(row):
        return ("The median of medians estimates no between-study variance: heterogeneity is shown by the spread of "
                "the study medians in the forest plot only.")
    if k == 1:
        return "A single study: heterogeneity is not estimable."
    if row.get("method") == "EE":
        lead = "The common-effect model assumes no heterogeneity. "
    else:
        lead = ""
    if _is_glmm(row):
        tau = f"τ² = {row['tau2']:.4f} (logit scale)" if _finite(row.get("tau2")) else "τ² not estimated"
        return (f"{lead}The binomial-normal GLMM gives {tau}; it has no I² or Q statistic and no prediction "
                "interval.")
    i2 = row.get("i2")
    bands = heterogeneity_bands(i2)
    band_text = " and ".join(f"{lo:.0f}% to {hi:.0f}% ({what})" for lo, hi, what in bands)
    text = (f"{lead}I² = {i2:.1f}%: in the Cochrane Handbook's band{'s' if len(bands) > 1 else ''} {band_text} "
            "(Cochrane Handbook 10.10.2; the bands overlap because the importance of I² depends on the size and "
            "direction of the effects and on the strength of the evidence for heterogeneity).")
    if _finite(row.get("q")):
        text += (f" Cochran's Q = {row['q']:.2f} on {int(row['df'])} df, {_p_text(row['q_pvalue'])}"
                 f"{' (the test has little power with few studies)' if k < 10 else ''}.")
    if _finite(row.get("tau2")):
        scale = {"proportion": f"{row.get('transform') or 'logit'} scale", "hr": "log scale",
                 "ratio_of_medians": "log scale"}.get(measure, "months" if row.get("transform") == "identity"
                                                      else "log scale")
        text += f" τ² = {row['tau2']:.4f} (τ = {math.sqrt(max(row['tau2'], 0.0)):.3f} on the {scale})."
    if row.get("method") != "EE" and _finite(row.get("pi_lower")):
        pct = round(100 * row["level"])
        text += (f" The {pct}% prediction interval, {_fmt_ci(row['pi_lower'], row['pi_upper'], measure)}, is where "
                 "the true effect of a new, comparable study is expected to lie (Riley et al. 2011).")
    if k < 5:
        text += f" With k = {k} studies, τ² and I² are very imprecise."
    return text


def methods_text(spec: dict) -> str:
    """The methods paragraph of one analysis, generated from its specification."""
    measure = OUTCOMES[spec["outcome"]].measure
    level = round(100 * spec["level"])
    extra = ""  # sentences on the effect size that follow the model sentence
    per_study = "Per-study CIs are as reported."
    if measure == "proportion":
        transform = spec.get("transform", "logit")
        per_study = f"Per-study {level}% CIs are exact (Clopper-Pearson)."
        if transform == "glmm":
            return (
                "Proportions were pooled in one step by the binomial-normal generalised linear mixed model (random-"
                "intercept logistic regression; Stijnen et al. 2010), fitted by maximum likelihood with adaptive "
                "Gauss-Hermite quadrature, as metafor's rma.glmm; studies with 0 or all events enter through their "
                f"exact binomial likelihood, without continuity correction. The {level}% CI is a Wald interval on "
                "the logit scale; the model has no I², Q or prediction interval. "
                f"{_selection_text(spec)} {per_study}{_subgroup_text(spec, iv=True)}"
            )
        effect = TRANSFORM_TEXT[transform]
    elif measure == "median":
        median_method = spec.get("median_method", "log_iv")
        if median_method in ("median_of_medians", "weighted_median_of_medians"):
            weighted = median_method == "weighted_median_of_medians"
            effect = (
                ("The weighted median of the study medians (weights proportional to the sample size)"
                 if weighted else "The median of the study medians")
                + " was taken as the pooled median (McGrath et al. 2019); it needs no per-study CI and estimates "
                f"no τ². Its {level}% CI inverts the sign test: the order statistics (y(r), y(k − r + 1)) with the "
                f"largest r whose exact binomial coverage is at least {level}%"
                + (", taken as weighted quantiles at r/k and (k − r + 1)/k" if weighted else "")
                + "; with too few studies no CI is given. Medians not reached were not included"
                + (", nor studies without a sample size" if weighted else "")
                + "."
            )
            return f"{effect} {_selection_text(spec)} {per_study}{_subgroup_text(spec, iv=False)}"
        if median_method == "raw_iv":
            effect = "Medians were pooled on the raw scale (months) by inverse variance"
            se, one = "(U − L) / (2 z)", "(m − L) / z"
        else:
            effect = "Medians were pooled on the log scale by inverse variance"
            se, one = "(ln U − ln L) / (2 z)", "(ln m − ln L) / z"
        extra = (
            f"Each standard error was recovered from the reported CI as {se} (McGrath et al. 2019), z the normal "
            f"quantile of the CI's own level; when only the upper limit was not reached, the one-sided SE {one} "
            "from the lower half of the CI was used (as in metamedian). Medians not reached, or without a usable "
            "CI, were not pooled."
        )
    elif measure == "ratio_of_medians":
        effect = (
            f"As a sensitivity analysis next to the hazard ratio, log ratios of median PFS (experimental / "
            f"{spec['comparator']}; > 1 favours the experimental arm) were pooled by inverse variance"
        )
        extra = (
            "Randomised trials enter when both arms report a median with a usable CI; the arms are linked through "
            "the comparator arm of the trial's hazard ratio and must share the assessor. SE = √(SE_E² + SE_C²), "
            "each arm's SE from its CI on the log scale (one-sided from the lower half when only the upper limit "
            "was not reached)."
        )
        per_study = f"Per-study CIs of the ratio are Wald intervals at {level}%."
    else:
        effect = (
            f"Log hazard ratios (experimental vs {spec['comparator']}; HR < 1 favours the experimental arm) were "
            "pooled by inverse variance"
        )
        extra = (
            "Standard errors come from the reported CIs as (ln U − ln L) / (2 z) (Cochrane Handbook 6.3.2; "
            "2 z = 3.92 at 95%, any level through its own z); no other comparator was pooled with them. Each HR "
            "was checked to sit at the centre of its CI on the log scale; a discrepancy larger than the rounding "
            "of the printed values can explain is flagged."
        )
    if spec["method"] == "EE":
        model = "in a common-effect model"
    else:
        model = (f"in a random-effects model with the {METHOD_NAMES[spec['method']]} estimator of τ² "
                 f"({METHOD_REFS[spec['method']]})")
    if spec["ci"] == "hartung_knapp":
        ci = (
            f"The {level}% CI uses the Hartung-Knapp-Sidik-Jonkman method (t with k − 1 df"
            + (", never narrower than the z interval (Knapp & Hartung 2003)" if spec["hk_adhoc"] else "")
            + "; Hartung & Knapp 2001)"
        )
    else:
        ci = f"The {level}% CI uses normal quantiles (Wald)"
    pi = {
        "default": "t with k − 1 df" if spec["ci"] == "hartung_knapp" else "normal quantiles",
        "normal": "normal quantiles",
        "t_k1": "t with k − 1 df",
        "t_k2": "t with k − 2 df (Higgins et al. 2009)",
    }[spec["pi"]]
    return (
        f"{effect} {model}. {extra + ' ' if extra else ''}{ci}; the prediction interval uses {pi}. I² and H² "
        f"are derived from τ² (Higgins & Thompson 2002). {_selection_text(spec)} {per_study}"
        f"{_subgroup_text(spec, iv=True)}"
    )


def _selection_text(spec: dict) -> str:
    filters = "; ".join(f"{col} in {', '.join(map(str, vals))}" for col, vals in spec["filters"].items())
    return (
        f"Studies were selected by {filters or 'no filter'}; of several reports of one trial cohort, "
        f"{POLICY_NAMES[spec['report_policy']]} was kept."
    )


def _subgroup_text(spec: dict, *, iv: bool) -> str:
    if not spec.get("subgroup"):
        return ""
    text = f" Subgroups by {spec['subgroup']} were pooled separately"
    if iv:
        text += (
            " (each with its own τ²) and compared by the test for subgroup differences, Cochran's Q of the "
            "subgroup estimates weighted by 1/SE² on (number of subgroups − 1) df (Borenstein & Higgins 2013)"
        )
    return text + "."


def _names(specs: Mapping[str, dict], names) -> str:
    names = list(names)
    if len(names) == len(specs):
        return "every analysis"
    return ", ".join(specs[n].get("title", n) for n in names)


def synthesis_methods(specs: Mapping[str, dict], versions: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """The methods section, generated from the analyses as run: ``(PRISMA item, heading, text)`` triples."""
    measures = {n: OUTCOMES[s["outcome"]].measure for n, s in specs.items()}
    out = []

    def used(key):
        values = {}
        for n, s in specs.items():
            values.setdefault(s.get(key), []).append(n)
        return values

    # 13d: synthesis methods
    parts = []
    for method, names in sorted(used("method").items(), key=lambda kv: str(kv[0])):
        if method == "EE":
            parts.append(f"a common-effect inverse-variance model for {_names(specs, names)}")
        else:
            parts.append(f"a random-effects model with the {METHOD_NAMES[method]} estimator of τ² "
                         f"({METHOD_REFS[method]}) for {_names(specs, names)}")
    ci_parts = []
    for ci, names in sorted(used("ci").items(), key=lambda kv: str(kv[0])):
        what = ("Hartung-Knapp-Sidik-Jonkman CIs (t on k − 1 df; Hartung & Knapp 2001)" if ci == "hartung_knapp"
                else "Wald (normal) CIs")
        adhoc = [n for n in names if specs[n].get("hk_adhoc")]
        if adhoc:
            what += f", never narrower than the Wald CI for {_names(specs, adhoc)} (Knapp & Hartung 2003)"
        ci_parts.append(f"{what} for {_names(specs, names)}")
    levels = sorted({round(100 * s["level"], 6) for s in specs.values()})
    pis = sorted({s["pi"] for s in specs.values()})
    pi_words = {"default": "normal quantiles under Wald CIs and t on k − 1 df under Hartung-Knapp",
                "normal": "normal quantiles", "t_k1": "t on k − 1 df", "t_k2": "t on k − 2 df"}
    transforms = sorted({s.get("transform", "logit") for n, s in specs.items() if measures[n] == "proportion"})
    tr_words = {"logit": "the logit (0.5 added to the events and non-events of studies with 0 or all events)",
                "freeman_tukey": "the Freeman-Tukey double arcsine (no correction; Miller's back-transformation "
                                 "at the harmonic mean n)",
                "arcsine": "the arcsine square root (no correction)",
                "raw": "the raw proportion (0.5 added to studies with 0 or all events)",
                "glmm": "none: the binomial-normal GLMM (Stijnen et al. 2010), fitted by maximum likelihood"}
    medians = sorted({s.get("median_method", "log_iv") for n, s in specs.items() if measures[n] == "median"})
    med_words = {"log_iv": "log medians by inverse variance, SEs from the reported CIs (McGrath et al. 2019)",
                 "raw_iv": "medians in months by inverse variance, SEs from the reported CIs",
                 "median_of_medians": "the median of medians with a sign-test CI (McGrath et al. 2019)",
                 "weighted_median_of_medians": "the weighted median of medians (McGrath et al. 2019)"}
    text = ("Each analysis pooled one outcome on the scale of its effect measure with "
            + "; ".join(parts) + ". CIs: " + "; ".join(ci_parts) + ". "
            + f"Confidence level{'s' if len(levels) > 1 else ''}: {', '.join(f'{lv:g}%' for lv in levels)}. "
            + "Prediction intervals (Higgins et al. 2009; Riley et al. 2011) use "
            + "; ".join(pi_words[p] for p in pis) + ". ")
    if transforms:
        text += "Proportions were pooled on the scale of " + "; ".join(tr_words[t] for t in transforms) + ". "
    if medians:
        text += "Medians: " + "; ".join(med_words[m] for m in medians) + ". "
    if any(m in ("hr", "ratio_of_medians") for m in measures.values()):
        text += ("Hazard ratios and ratios of medians were pooled on the log scale, SEs from the reported CIs "
                 "(Cochrane Handbook 6.3.2), within one comparator only. ")
    text += ("Per-study proportions carry exact (Clopper-Pearson 1934) CIs. Every model is the one of R's metafor "
             "(Viechtbauer 2010), reproduced to a relative 1e-6 by the test suite.")
    out.append(("13d", "Synthesis methods", text))

    # 13e: heterogeneity and its causes
    sub = {n: s["subgroup"] for n, s in specs.items() if s.get("subgroup")}
    text = ("Heterogeneity is reported as τ², I² and H² (Higgins & Thompson 2002) and Cochran's Q test (Cochran "
            "1954), with the prediction interval; I² is read against the Cochrane Handbook's overlapping bands "
            "(10.10.2): 0% to 40% might not be important, 30% to 60% may represent moderate, 50% to 90% "
            "substantial, 75% to 100% considerable heterogeneity.")
    if sub:
        cols = sorted(set(sub.values()))
        text += (f" Possible causes were explored by subgroup analysis ({', '.join(cols)}) in "
                 f"{_names(specs, sub)}, each subgroup with its own τ², compared by the test for subgroup "
                 "differences (Borenstein & Higgins 2013).")
    else:
        text += " No subgroup analysis was configured."
    out.append(("13e", "Heterogeneity and its causes", text))

    # 13f: sensitivity analyses
    kinds = {k: [n for n, s in specs.items() if k in (s.get("sensitivity") or ())] for k in SENSITIVITY_KINDS}
    parts = []
    if kinds["leave_one_out"]:
        parts.append(f"leave-one-out refits (Viechtbauer & Cheung 2010) for {_names(specs, kinds['leave_one_out'])}")
    if kinds["influence"]:
        parts.append("case-deletion influence diagnostics (studentised residuals, DFFITS, Cook's distance, "
                     f"covariance ratio, leverage; Viechtbauer & Cheung 2010) for {_names(specs, kinds['influence'])}")
    if kinds["cumulative"]:
        parts.append(f"cumulative meta-analysis by publication year (Lau et al. 1992) for "
                     f"{_names(specs, kinds['cumulative'])}")
    multi = [n for n, s in specs.items() if s.get("multiverse")]
    if multi:
        parts.append("a multiverse of every combination of the listed inclusion and model choices, shown as a "
                     f"specification curve (Steegen et al. 2016; Simonsohn et al. 2020), for {_names(specs, multi)}")
    text = ("Sensitivity analyses: " + "; ".join(parts) + "." if parts
            else "No sensitivity analysis was configured (no sensitivity list in the config).")
    text += (" Every refit uses the analysis's own model, transformation, CI and prediction-interval method; "
             "hazard ratios are also compared with the ratio of median PFS where configured.")
    out.append(("13f", "Sensitivity analyses", text))

    # 14: reporting bias
    small = kinds["small_study"]
    text = ("Funnel plots show each pooled study against its standard error with pseudo-confidence regions at 90%, "
            "95% and 99% around the pooled estimate (contour-enhanced in the sense of Peters et al. 2008). ")
    if small:
        text += (f"For {_names(specs, small)}, small-study effects were tested by Egger's regression test (the "
                 "analysis's τ² estimator and test; Egger et al. 1997), Begg's rank correlation (Begg & Mazumdar "
                 "1994) and trim and fill (Duval & Tweedie 2000), only when at least 10 studies were pooled "
                 "(Sterne et al. 2011); with fewer, the report says so.")
    else:
        text += "No test for small-study effects was configured."
    out.append(("14", "Reporting bias assessment", text))
    out.append(("15", "Certainty assessment",
                "Not performed by this workflow: certainty of the evidence (e.g. GRADE) and risk of bias of the "
                "included studies (items 11 and 18) need reviewers' judgement and are not derived from the data."))
    soft = ", ".join(f"{k} {v}" for k, v in versions.items())
    out.append(("13d", "Software",
                f"Computed by metapool (this repository) in a Snakemake workflow (Mölder et al. 2021): {soft}. "
                "The statistics were validated against R's metafor 3.8-1 (Viechtbauer 2010) with committed "
                "reference fixtures."))
    return out


# ------------------------------------------------------------------------------------------------ inputs


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git_commit() -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return res.stdout.strip() if res.returncode == 0 else "unknown (not a git checkout)"


def _data_uri(path) -> str:
    payload = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/svg+xml;base64,{payload}"


def _flagged(df):
    """Hazard ratios not at the centre of their CI beyond what rounding explains (``ci_not_centred``)."""
    if "ci_not_centred" not in df.columns:
        return df.iloc[0:0]
    return df[df["ci_not_centred"].astype(str).str.lower() == "true"]


def _records(df) -> list[dict]:
    return [{k: (None if _isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def _subgroup_rows(st) -> list[dict]:
    """One row per subgroup from the analysis's studies.tsv (when subgroups.tsv is not there)."""
    if "subgroup" not in st.columns or not (st["subgroup"] != "").any():
        return []
    shown = st[st["status"] != "set_aside"]
    rows = []
    for g, grp in shown.groupby("subgroup", sort=True):
        first = {k: (None if _isnan(v) else v) for k, v in grp.iloc[0].to_dict().items()}
        rows.append({
            "group": g, "reports": int(len(grp)), "k": 0 if first["subgroup_k"] is None else int(first["subgroup_k"]),
            "participants": None, "estimate": first["subgroup_estimate"], "ci_lower": first["subgroup_ci_lower"],
            "ci_upper": first["subgroup_ci_upper"], "pi_lower": None, "pi_upper": None,
            "tau2": first["subgroup_tau2"], "i2": first["subgroup_i2"], "q": None, "q_pvalue": None, "notes": "",
        })
    return rows


_ANALYSIS_TEXT = TEXT_COLUMNS + ["label", "reason", "status", "se_note", "subgroup", "group", "test", "side",
                                 "method", "notes", "title", "stage", "specification", "study_ids"]
_FIGURES = {"forest": "forest", "funnel": "funnel", "loo": "loo", "flow_figure": "flow", "spec_curve": "spec_curve"}


def discover_layout(analysis_tables: Sequence, figures: Sequence = ()) -> dict[str, dict[str, str]]:
    """Per analysis, kind -> path of every file of a finished run that the report shows, found next to its
    ``results/analyses/<analysis>/studies.tsv`` and the folder of the forest plots (files that exist only)."""
    fig_dirs = {Path(f).parent for f in figures}
    layout: dict[str, dict[str, str]] = {}
    for table in analysis_tables:
        folder = Path(table).parent
        name = folder.name
        files = {"studies": str(table)}
        for kind in ("pooled", "flow", "subgroups", *SENSITIVITY_KINDS):
            if (folder / f"{kind}.tsv").exists():
                files[kind] = str(folder / f"{kind}.tsv")
        multi = folder.parent.parent / "multiverse"
        for kind, fname in (("multiverse", f"{name}.tsv"), ("multiverse_summary", f"{name}_summary.tsv")):
            if (multi / fname).exists():
                files[kind] = str(multi / fname)
        for kind, stem in _FIGURES.items():
            for d in fig_dirs or {folder.parent.parent / "figures"}:
                if (d / f"{stem}_{name}.svg").exists():
                    files[kind] = str(d / f"{stem}_{name}.svg")
        layout[name] = files
    return layout


def _read(path) -> pd.DataFrame:
    return read_tsv(path, text_columns=_ANALYSIS_TEXT)


def _is_http(url: str) -> bool:
    return bool(re.match(r"https?://", url or ""))


def _source(row: Mapping | None) -> dict:
    if row is None:
        return {"url": "", "name": "", "location": ""}
    src = str(row.get("source") or "")
    return {"url": src if _is_http(src) else "", "name": src, "location": str(row.get("location") or "")}


def _included_rows(st: pd.DataFrame, spec: Mapping, estimates: pd.DataFrame) -> list[dict]:
    """The reports an analysis shows (pooled and not pooled), each number with its source and location."""
    code, measure = OUTCOMES[spec["outcome"]].code, OUTCOMES[spec["outcome"]].measure
    look = "median" if measure == "ratio_of_medians" else measure
    idx = {}
    for r in estimates.to_dict("records"):
        key = (r["study_id"], r["outcome"], r["measure"], r["assessor"],
               r.get("comparator", "") if r["measure"] == "hr" else "")
        idx.setdefault(key, r)
    out = []
    for r in _records(st[st["status"] != "set_aside"]):
        comp = (r.get("comparator") or "") if measure == "hr" else ""
        src = idx.get((r["study_id"], code, look, r.get("assessor") or "", comp))
        arm = None
        if measure == "ratio_of_medians" and r.get("comparator_study_id"):
            arm = idx.get((r["comparator_study_id"], code, "median", r.get("assessor") or "", ""))
        out.append({**r, "src": _source(src), "comparator_src": _source(arm) if arm is not None else None})
    return out


def _section_table(path, *, drop_reason_only=True) -> tuple[list[dict], str]:
    """Rows of a sensitivity table and the reason when it has none (one row with only a reason)."""
    df = _read(path)
    if drop_reason_only and "label" in df.columns:
        computed = df[df["label"] != ""]
        if computed.empty:
            return [], "; ".join(sorted(set(df["reason"].astype(str)) - {""})) or "not computed"
        df = computed
    return _records(df), ""


def _why_missing(spec: Mapping, kind: str) -> str:
    if kind in SENSITIVITY_KINDS and kind not in (spec.get("sensitivity") or ()):
        return (f"Not requested: the sensitivity list of this analysis in the config does not include "
                f"{kind}.")
    return "Not available in this run."


def _loo_summary(rows: list[dict], row: Mapping) -> str:
    measure = row["measure"]
    ok = [r for r in rows if _finite(r.get("estimate"))]
    if not ok:
        return ""
    lo = min(ok, key=lambda r: r["estimate"])
    hi = max(ok, key=lambda r: r["estimate"])
    text = (f"Omitting one study at a time, the pooled estimate ranged from {fmt_estimate(lo['estimate'], measure)} "
            f"(without {lo['label']}) to {fmt_estimate(hi['estimate'], measure)} (without {hi['label']})")
    i2 = [r["i2"] for r in ok if _finite(r.get("i2"))]
    if i2:
        text += f"; I² from {min(i2):.1f}% to {max(i2):.1f}%"
    text += "."
    if _finite(row.get("ci_lower")) and _finite(row.get("ci_upper")):
        out = [r["label"] for r in ok if not row["ci_lower"] <= r["estimate"] <= row["ci_upper"]]
        pct = round(100 * row["level"])
        text += (f" Omitting {', '.join(out)} moved the estimate outside the full analysis's {pct}% CI." if out
                 else f" No omission moved the estimate outside the full analysis's {pct}% CI.")
    return text


def _small_study_summary(rows: list[dict], row: Mapping) -> tuple[list[str], str]:
    """Sentences for Egger, Begg and trim and fill, or the reason none was computed."""
    measure = row["measure"]
    reasons = sorted({r["reason"] for r in rows if r.get("reason")})
    lines = []
    for r in rows:
        if r.get("reason"):
            continue
        if r["test"] == "egger":
            stat = "t" if _finite(r.get("df")) else "z"
            df = f" on {int(r['df'])} df" if stat == "t" else ""
            line = f"Egger's regression test: {stat} = {r['statistic']:.2f}{df}, {_p_text(r['pvalue'])}"
            if _finite(r.get("estimate")):
                line += (f"; limit estimate (a study of infinite precision) {fmt_estimate(r['estimate'], measure)} "
                         f"({_fmt_ci(r['ci_lower'], r['ci_upper'], measure)})")
            lines.append(line + ".")
        elif r["test"] == "begg":
            lines.append(f"Begg's rank correlation: Kendall's τ = {r['statistic']:.3f}, {_p_text(r['pvalue'])}.")
        elif r["test"] == "trim_and_fill":
            k0 = int(r["k0"]) if _finite(r.get("k0")) else 0
            line = f"Trim and fill: {k0} {'study' if k0 == 1 else 'studies'} imputed"
            if r.get("side"):
                line += f" on the {r['side']} side"
            if _finite(r.get("estimate")):
                line += (f"; adjusted estimate {fmt_estimate(r['estimate'], measure)} "
                         f"({_fmt_ci(r['ci_lower'], r['ci_upper'], measure)})")
            lines.append(line + ".")
    why = "" if lines else ("; ".join(reasons) or "not computed")
    return lines, why


def _multiverse_summary(path, measure) -> dict | None:
    df = _read(path)
    if df.empty:
        return None
    r = _records(df)[0]
    r["measure"] = measure
    return r


def _analysis_section(name: str, row: dict, spec: Mapping, files: Mapping[str, str], estimates: pd.DataFrame) -> dict:
    from ..analysis.flow import flow_from_frame

    st = _read(files["studies"])
    measure = row["measure"]
    figures = {kind: (_data_uri(files[kind]) if kind in files else None) for kind in _FIGURES}
    section = {
        "name": name, "row": row, "spec": spec, "sentence": result_sentence(row),
        "heterogeneity": heterogeneity_interpretation(row), "methods": methods_text(dict(spec)),
        "figure": figures.get("forest"), "figures": figures,
        "left_out": _records(st[st["status"] != "pooled"]),
        "se_notes": _records(st[(st["status"] == "pooled") & (st["se_note"] != "")]),
        "flagged_hrs": _records(_flagged(st)) if measure == "hr" else [],
        "included": _included_rows(st, spec, estimates),
        "bands": [what for _, _, what in heterogeneity_bands(row.get("i2"))],
    }
    # study flow
    section["flow"] = flow_from_frame(_read(files["flow"])) if "flow" in files else None
    # subgroups
    if "subgroups" in files:
        sub = _read(files["subgroups"])
        reports = st[st["status"] != "set_aside"].groupby("subgroup").size().to_dict() if "subgroup" in st else {}
        section["subgroups"] = [{**r, "reports": reports.get(r["group"])} for r in _records(sub)]
    else:
        section["subgroups"] = _subgroup_rows(st)
    # sensitivity tables: rows, or why there are none
    sens = {}
    for kind in SENSITIVITY_KINDS:
        if kind in files:
            rows, why = _section_table(files[kind], drop_reason_only=kind != "small_study")
            sens[kind] = {"rows": rows, "why": why}
        else:
            sens[kind] = {"rows": [], "why": _why_missing(spec, kind), "absent": True}
    if sens["leave_one_out"]["rows"]:
        sens["leave_one_out"]["summary"] = _loo_summary(sens["leave_one_out"]["rows"], row)
    if sens["influence"]["rows"]:
        infl = [r for r in sens["influence"]["rows"] if str(r.get("influential")).lower() == "true"]
        sens["influence"]["summary"] = (
            f"Influential by metafor's criteria: {', '.join(r['label'] for r in infl)}." if infl
            else "No study is influential by metafor's criteria (Viechtbauer & Cheung 2010).")
    if sens["cumulative"]["rows"]:
        cum = [r for r in sens["cumulative"]["rows"] if _finite(r.get("estimate"))]
        if cum:
            first, last = cum[0], cum[-1]
            sens["cumulative"]["summary"] = (
                f"Adding the studies by publication year, the pooled estimate went from "
                f"{fmt_estimate(first['estimate'], measure)} ({first['label']}) to "
                f"{fmt_estimate(last['estimate'], measure)} with all {int(last['k'])} studies.")
    if "small_study" in files:
        lines, why = _small_study_summary(sens["small_study"]["rows"], row)
        sens["small_study"]["lines"], sens["small_study"]["why"] = lines, why
    else:
        sens["small_study"]["lines"] = []
    section["sensitivity"] = sens
    if "funnel" not in files:
        section["funnel_why"] = ("The median of medians has no per-study standard errors: no funnel plot."
                                 if _is_mom(row) else "No funnel plot in this run.")
    section["multiverse"] = (_multiverse_summary(files["multiverse_summary"], measure)
                             if "multiverse_summary" in files else None)
    section["multiverse_why"] = ("" if section["multiverse"] else
                                 "No multiverse configured for this analysis (no multiverse block in the config).")
    return section


def build_report(*, template, config, analyses, data, studies, audit, pooled, output, analysis_tables=(),
                 figures=(), layout: Mapping[str, Mapping[str, str]] | None = None, workbook=None) -> None:
    """Render ``results/report.html`` from the run's tables and figures.

    ``layout`` maps each analysis to kind -> path of its files (``studies``,
    ``pooled``, ``flow``, ``subgroups``, ``leave_one_out``, ``influence``,
    ``cumulative``, ``small_study``, ``multiverse_summary``, and the SVG figures
    ``forest``, ``funnel``, ``loo``, ``flow_figure``, ``spec_curve``); a section
    whose file is absent says why. Without ``layout`` the files are found
    next to ``analysis_tables`` and ``figures`` (:func:`discover_layout`).
    ``workbook`` (the XLSX of every table) is listed with its checksum.
    """
    if layout is None:
        layout = discover_layout(analysis_tables, figures)
    pooled_df = read_tsv(pooled, text_columns=TEXT_COLUMNS + ["notes", "comparator", "title", "subgroup"])
    studies_df = read_tsv(studies, text_columns=TEXT_COLUMNS)
    sections = []
    for row in _records(pooled_df):
        name = row["analysis"]
        sections.append(_analysis_section(name, row, analyses[name], layout[name], studies_df))
    audit_df = read_tsv(audit, text_columns=["study_id", "pct_printed", "ci_level", "ci_lower_printed",
                                            "ci_upper_printed", "evaluable", "responders", "count_source",
                                            "pct_agrees", "ci_agrees", "status", "source", "location"])
    flagged_hrs = _records(_flagged(studies_df[studies_df["measure"] == "hr"]))
    characteristics = studies_df.drop_duplicates("study_id").sort_values(["setting", "trial", "year", "study_id"])
    pooled_in: dict[str, list[dict]] = {}
    for s in sections:
        for r in s["included"]:
            if r["status"] == "pooled":
                pooled_in.setdefault(r["study_id"], []).append({"name": s["name"], "title": s["row"]["title"]})
    versions = _versions()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(template).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["est"] = fmt_estimate
    env.filters["num"] = lambda v, fmt="{:.1f}": "" if v is None or _isnan(v) else fmt.format(v)
    env.filters["pval"] = _fmt_p
    env.filters["finite"] = _finite
    html = env.get_template(Path(template).name).render(
        sections=sections,
        pooled=_records(pooled_df),
        audit=_records(audit_df),
        audit_disagreements=_records(audit_df[audit_df["status"] == "disagrees"]),
        characteristics=_records(characteristics),
        pooled_in=pooled_in,
        estimates=_records(studies_df),
        flagged_hrs=flagged_hrs,
        methods=synthesis_methods(analyses, versions),
        references=REFERENCES,
        inputs=[{"path": str(p), "sha256": _sha256(p)} for p in data],
        workbook={"path": "tables/" + Path(workbook).name, "sha256": _sha256(workbook)} if workbook else None,
        versions=versions,
        commit=_git_commit(),
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100),
    )
    atomic_write_text(output, html)


# ------------------------------------------------------------------------------------------------ workbook

_EPOCH = (1980, 1, 1, 0, 0, 0)
_FIXED_TIME = "2000-01-01T00:00:00Z"


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    out, i = base, 2
    while out.lower() in used:
        suffix = f"~{i}"
        out, i = base[: 31 - len(suffix)] + suffix, i + 1
    used.add(out.lower())
    return out


def write_workbook(tables: Mapping[str, str], output) -> Path:
    """Write each TSV of ``tables`` (sheet title -> path) as one sheet of an XLSX workbook, atomically.

    A first sheet ``contents`` lists each sheet with the file it holds. Sheet
    names are cut to Excel's 31 characters (made unique). The bytes do not
    depend on the time of the run: fixed document dates and zip entry times.
    """
    used: set[str] = {"contents"}
    sheets = []
    for title, path in tables.items():
        sheets.append((_sheet_name(title, used), str(path), read_tsv(path, text_columns=_ANALYSIS_TEXT)))
    contents = pd.DataFrame({"sheet": [s for s, _, _ in sheets], "file": [p for _, p, _ in sheets],
                             "rows": [len(df) for _, _, df in sheets]})
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        contents.to_excel(writer, sheet_name="contents", index=False)
        for sheet, _, df in sheets:
            df.to_excel(writer, sheet_name=sheet, index=False)
        for ws in writer.book.worksheets:
            ws.freeze_panes = "A2"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(r"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms)", rf"\g<1>{_FIXED_TIME}\g<2>",
                              text)
                data = text.encode("utf-8")
            fixed = zipfile.ZipInfo(info.filename, date_time=_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, data)
    return atomic_write_bytes(output, out.getvalue())
