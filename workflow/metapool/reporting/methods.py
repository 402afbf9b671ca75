"""Methods prose generated from the configuration as run: per analysis and for the whole synthesis.

:func:`methods_text` writes the methods paragraph of one analysis from its
specification; :func:`synthesis_methods` the methods section of the report
(PRISMA 2020 items 13d-15, Page et al. BMJ 2021;372:n71) from every analysis
of the run, citing :data:`REFERENCES` by their keys. The long names of the
configured methods are those of the registry (:data:`metapool.vocabulary.ESTIMATORS`,
:data:`metapool.vocabulary.REPORT_POLICY_TEXT`); ``TRANSFORM_TEXT`` describes
each two-step transformation of proportions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ..spec import AnalysisSpec
from ..vocabulary import ESTIMATORS, REPORT_POLICY_TEXT, SENSITIVITY_KINDS, outcome

__all__ = ["methods_text", "synthesis_methods", "network_methods", "bayes_methods", "REFERENCES", "TRANSFORM_TEXT"]

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
    ("Salanti et al. 2008", "Salanti G, Higgins JPT, Ades AE, Ioannidis JPA. Evaluation of networks of randomized "
                            "trials. Stat Methods Med Res 2008;17:279-301."),
    ("Salanti et al. 2011", "Salanti G, Ades AE, Ioannidis JPA. Graphical methods and numerical summaries for "
                            "presenting results from multiple-treatment meta-analysis. J Clin Epidemiol "
                            "2011;64:163-171."),
    ("Rücker & Schwarzer 2015", "Rücker G, Schwarzer G. Ranking treatments in frequentist network meta-analysis "
                                "works without resampling methods. BMC Med Res Methodol 2015;15:58."),
    ("Krahn et al. 2013", "Krahn U, Binder H, König J. A graphical tool for locating inconsistency in network "
                          "meta-analyses. BMC Med Res Methodol 2013;13:35."),
    ("Bucher et al. 1997", "Bucher HC, Guyatt GH, Griffith LE, Walter SD. The results of direct and indirect "
                           "treatment comparisons in meta-analysis of randomized controlled trials. J Clin "
                           "Epidemiol 1997;50:683-691."),
    ("Jackson, White & Riley 2012", "Jackson D, White IR, Riley RD. Quantifying the impact of between-study "
                                    "heterogeneity in multivariate meta-analyses. Stat Med 2012;31:3805-3820."),
    ("Röver 2020", "Röver C. Bayesian random-effects meta-analysis using the bayesmeta R package. J Stat Softw "
                   "2020;93(6):1-51."),
    ("Friede et al. 2017", "Friede T, Röver C, Wandel S, Neuenschwander B. Meta-analysis of few small studies in "
                           "orphan diseases. Res Synth Methods 2017;8:79-91."),
    ("Röver et al. 2021", "Röver C, Bender R, Dias S, et al. On weakly informative prior distributions for the "
                          "heterogeneity parameter in Bayesian random-effects meta-analysis. Res Synth Methods "
                          "2021;12:448-474."),
)

# the model scale of a Bayesian fit, in words
_BAYES_SCALE_TEXT = {"logit": "the logit scale", "glmm": "the logit scale", "log": "the log scale",
                     "identity": "the raw scale (months)", "raw": "the raw proportion scale"}


def bayes_methods(spec: AnalysisSpec) -> dict:
    """The Bayesian fit of one analysis (``bayes:``) in words: the model, the priors as written and in words,
    and the configured reason for them.

    Parameters
    ----------
    spec : AnalysisSpec
        An analysis with ``bayes`` set.

    Returns
    -------
    dict
        ``model`` (a sentence on the model and how it is computed, Röver 2020), ``tau`` and ``mu`` (each prior
        in words with its config text), ``why`` (the config's reason), ``reported`` (what the table shows).
    """
    bayes, level = spec.bayes, round(100 * spec.model.level)
    binomial = bayes.likelihood == "binomial"
    scale = _BAYES_SCALE_TEXT["logit" if binomial else spec.scale]
    where = "across all studies" if spec.overall else ""
    if spec.subgroup:
        where += (" and " if where else "") + f"within each {spec.subgroup} subgroup on its own"
    model = (("The binomial-normal model (x_i ~ Binomial(n_i, expit θ_i), θ_i ~ N(μ, τ²); exact likelihood, no "
              "continuity correction)" if binomial else
              "The normal-normal random-effects model (y_i ~ N(θ_i, s_i²), θ_i ~ N(μ, τ²), the studies' effect sizes "
              "and standard errors of the frequentist analysis)")
             + f" was fitted to the studies the frequentist analysis pools, {where}, on {scale}, by direct "
               "numerical integration over τ (no sampling; Röver 2020, the model of R's bayesmeta).")
    reported = (f"Posterior medians with {level}% central credible intervals of μ (the pooled estimate) and of "
                f"θ_new (the effect in a new study: the posterior predictive interval), of τ (on {scale})"
                + ("" if binomial else ", and the shrinkage estimates of the studies' own effects θ_i (forest plot)")
                + ".")
    def prior(p):  # in words, with the config text where it says more than the name
        return p.words() if p.text in ("flat", "uniform") else f"{p.words()} ({p.text})"

    return {"model": model, "tau": prior(bayes.tau), "mu": prior(bayes.mu), "why": bayes.why, "reported": reported}


def methods_text(spec: AnalysisSpec) -> str:
    """The methods paragraph of one analysis, generated from its specification.

    Parameters
    ----------
    spec : AnalysisSpec
        The analysis (outcome, model, transformation or median method, filters, report policy, subgroup).

    Returns
    -------
    str
    """
    measure, model = spec.measure, spec.model
    level = round(100 * model.level)
    extra = ""  # sentences on the effect size that follow the model sentence
    per_study = "Per-study CIs are as reported."
    if measure == "proportion":
        per_study = f"Per-study {level}% CIs are exact (Clopper-Pearson)."
        if spec.glmm:
            return (
                "Proportions were pooled in one step by the binomial-normal generalised linear mixed model (random-"
                "intercept logistic regression; Stijnen et al. 2010), fitted by maximum likelihood with adaptive "
                "Gauss-Hermite quadrature, as metafor's rma.glmm; studies with 0 or all events enter through their "
                f"exact binomial likelihood, without continuity correction. The {level}% CI is a Wald interval on "
                "the logit scale; the model has no I², Q or prediction interval. "
                f"{_selection_text(spec)} {per_study}{_subgroup_text(spec, iv=True)}"
            )
        effect = TRANSFORM_TEXT[spec.transform]
    elif measure == "median":
        if not spec.inverse_variance:
            weighted = spec.median_method == "weighted_median_of_medians"
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
        if spec.median_method == "raw_iv":
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
            f"As a sensitivity analysis next to the hazard ratio, log ratios of median "
            f"{outcome(spec.outcome).code.upper()} (experimental / "
            f"{spec.comparator}; > 1 favours the experimental arm) were pooled by inverse variance"
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
            f"Log hazard ratios (experimental vs {spec.comparator}; HR < 1 favours the experimental arm) were "
            "pooled by inverse variance"
        )
        extra = (
            "Standard errors come from the reported CIs as (ln U − ln L) / (2 z) (Cochrane Handbook 6.3.2; "
            "2 z = 3.92 at 95%, any level through its own z); no other comparator was pooled with them. Each HR "
            "was checked to sit at the centre of its CI on the log scale; a discrepancy larger than the rounding "
            "of the printed values can explain is flagged."
        )
    if model.method == "EE":
        fit = "in a common-effect model"
    else:
        estimator = ESTIMATORS[model.method]
        fit = f"in a random-effects model with the {estimator.name} estimator of τ² ({estimator.reference})"
    if model.ci == "hartung_knapp":
        ci = (
            f"The {level}% CI uses the Hartung-Knapp-Sidik-Jonkman method (t with k − 1 df"
            + (", never narrower than the z interval (Knapp & Hartung 2003)" if model.hk_adhoc else "")
            + "; Hartung & Knapp 2001), and so does the test for the overall effect (t on k − 1 df); with a "
            "single study, which has no k − 1 df, both are z, as in metafor"
        )
    else:
        ci = f"The {level}% CI and the test for the overall effect use normal quantiles (Wald z)"
    pi = {
        "default": "t with k − 1 df" if model.ci == "hartung_knapp" else "normal quantiles",
        "normal": "normal quantiles",
        "t_k1": "t with k − 1 df",
        "t_k2": "t with k − 2 df (Higgins et al. 2009)",
    }[model.pi]
    return (
        f"{effect} {fit}. {extra + ' ' if extra else ''}{ci}; the prediction interval uses {pi}. I² and H² "
        f"are derived from τ² (Higgins & Thompson 2002). {_selection_text(spec)} {per_study}"
        f"{_subgroup_text(spec, iv=True)}"
    )


def _selection_text(spec: AnalysisSpec) -> str:
    filters = "; ".join(f"{col} in {', '.join(map(str, vals))}" for col, vals in spec.filters.items())
    return (
        f"Studies were selected by {filters or 'no filter'}; of several reports of one trial cohort, "
        f"{REPORT_POLICY_TEXT[spec.report_policy]} was kept."
    )


def _subgroup_text(spec: AnalysisSpec, *, iv: bool) -> str:
    if not spec.subgroup:
        return ""
    text = f" Subgroups by {spec.subgroup} were pooled separately"
    if iv:
        text += (
            " (each with its own τ²) and compared by the test for subgroup differences, Cochran's Q of the "
            "subgroup estimates weighted by 1/SE² on (number of subgroups − 1) df (Borenstein & Higgins 2013)"
        )
    if not spec.overall:
        text += f"; no estimate across the {spec.subgroup} subgroups is reported (overall: false)"
    return text + "."


def _names(specs: Mapping[str, AnalysisSpec], names) -> str:
    names = list(names)
    if len(names) == len(specs):
        return "every analysis"
    return ", ".join(specs[n].title for n in names)


def network_methods(networks: Mapping[str, AnalysisSpec]) -> tuple[str, str, str] | None:
    """The methods paragraph of the network meta-analyses (PRISMA item 13d), ``None`` without any.

    Parameters
    ----------
    networks : Mapping
        Network analysis name -> its :class:`~metapool.spec.AnalysisSpec` (``network`` set).

    Returns
    -------
    tuple of str or None
        ``(item, heading, text)``.
    """
    if not networks:
        return None
    words = {"EE": "common effect", "REML": "random effects, one τ² shared by every comparison, by REML",
             "DL": "random effects, one τ² shared by every comparison, by the generalised DerSimonian-Laird "
                   "estimator (Jackson, White & Riley 2012)"}
    models = "; ".join(f"{name}: {words[s.model.method]}, reference {s.network.reference}, nodes by "
                       f"{s.network.nodes}" for name, s in networks.items())
    text = ("Network meta-analyses pooled the log hazard ratios of every comparison in one contrast-based model "
            "(Salanti et al. 2008), as metafor's rma.mv with one random effect per contrast and study and a "
            "correlation of 1/2 between the contrasts of a multi-arm trial (" + models + "). Each trial is one "
            "study; a multi-arm trial's contrasts share its control arm, whose variance, not printed for hazard "
            "ratios, is taken as half the smaller contrast variance. Every pairwise comparison (league table) "
            "is the difference of two basic parameters with its covariance; treatments are ranked by P-scores "
            "(Rücker & Schwarzer 2015) and SUCRA (Salanti et al. 2011; 10,000 draws), a hazard ratio below 1 "
            "being better. Heterogeneity and inconsistency: Cochran's Q decomposed into within-design and "
            "between-design parts (Krahn et al. 2013); where a comparison lies in a loop, its direct and "
            "back-calculated indirect estimates are compared (Bucher et al. 1997; netmeta's netsplit). The "
            "numbers agree with metafor's rma.mv to 1e-6 (tests/stats/test_network.py).")
    return ("13d", "Network meta-analysis", text)


def synthesis_methods(specs: Mapping[str, AnalysisSpec], versions: Mapping[str, str]) -> list[tuple[str, str, str]]:
    """The methods section, generated from the analyses as run: ``(PRISMA item, heading, text)`` triples.

    Parameters
    ----------
    specs : Mapping
        Analysis name -> its :class:`~metapool.spec.AnalysisSpec`.
    versions : Mapping
        Package -> version, named in the software paragraph.

    Returns
    -------
    list of tuple of str
        ``(item, heading, text)`` for PRISMA items 13d, 13e, 13f, 14, 15 and the software (13d).
    """
    measures = {n: s.measure for n, s in specs.items()}
    out = []

    def used(option: Callable[[AnalysisSpec], str]) -> list[tuple[str, list[str]]]:
        """Each value of an option, sorted, with the analyses that use it."""
        values: dict[str, list[str]] = {}
        for n, s in specs.items():
            values.setdefault(option(s), []).append(n)
        return sorted(values.items())

    # 13d: synthesis methods
    parts = []
    for method, names in used(lambda s: s.model.method):
        if method == "EE":
            parts.append(f"a common-effect inverse-variance model for {_names(specs, names)}")
        else:
            parts.append(f"a random-effects model with the {ESTIMATORS[method].name} estimator of τ² "
                         f"({ESTIMATORS[method].reference}) for {_names(specs, names)}")
    ci_parts = []
    for ci, names in used(lambda s: s.model.ci):
        what = ("Hartung-Knapp-Sidik-Jonkman CIs (t on k − 1 df; Hartung & Knapp 2001)" if ci == "hartung_knapp"
                else "Wald (normal) CIs")
        adhoc = [n for n in names if specs[n].model.hk_adhoc]
        if adhoc:
            what += f", never narrower than the Wald CI for {_names(specs, adhoc)} (Knapp & Hartung 2003)"
        ci_parts.append(f"{what} for {_names(specs, names)}")
    levels = sorted({round(100 * s.model.level, 6) for s in specs.values()})
    pis = sorted({s.model.pi for s in specs.values()})
    pi_words = {"default": "normal quantiles under Wald CIs and t on k − 1 df under Hartung-Knapp",
                "normal": "normal quantiles", "t_k1": "t on k − 1 df", "t_k2": "t on k − 2 df"}
    transforms = sorted({s.transform for n, s in specs.items() if measures[n] == "proportion"})
    tr_words = {"logit": "the logit (0.5 added to the events and non-events of studies with 0 or all events)",
                "freeman_tukey": "the Freeman-Tukey double arcsine (no correction; Miller's back-transformation "
                                 "at the harmonic mean n)",
                "arcsine": "the arcsine square root (no correction)",
                "raw": "the raw proportion (0.5 added to studies with 0 or all events)",
                "glmm": "none: the binomial-normal GLMM (Stijnen et al. 2010), fitted by maximum likelihood"}
    medians = sorted({s.median_method for n, s in specs.items() if measures[n] == "median"})
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
        text += ("Medians: " + "; ".join(med_words[m] for m in medians) + ". Medians printed in weeks or days "
                 "were converted to months (months = weeks × 7 × 12 / 365.25; months = days × 12 / 365.25). ")
    if any(m in ("hr", "ratio_of_medians") for m in measures.values()):
        text += ("Hazard ratios and ratios of medians were pooled on the log scale, SEs from the reported CIs "
                 "(Cochrane Handbook 6.3.2), within one comparator only. ")
    text += ("Per-study proportions carry exact (Clopper-Pearson 1934) CIs. Every model is the one of R's metafor "
             "(Viechtbauer 2010), reproduced to a relative 1e-6 by the test suite.")
    out.append(("13d", "Synthesis methods", text))

    # 13e: heterogeneity and its causes
    sub = {n: s.subgroup for n, s in specs.items() if s.subgroup}
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
    kinds = {k: [n for n, s in specs.items() if k in s.sensitivity] for k in SENSITIVITY_KINDS}
    parts = []
    if kinds["leave_one_out"]:
        parts.append(f"leave-one-out refits (Viechtbauer & Cheung 2010) for {_names(specs, kinds['leave_one_out'])}")
    if kinds["influence"]:
        parts.append("case-deletion influence diagnostics (studentised residuals, DFFITS, Cook's distance, "
                     f"covariance ratio, leverage; Viechtbauer & Cheung 2010) for {_names(specs, kinds['influence'])}")
    if kinds["cumulative"]:
        parts.append(f"cumulative meta-analysis by publication year (Lau et al. 1992) for "
                     f"{_names(specs, kinds['cumulative'])}")
    multi = [n for n, s in specs.items() if s.multiverse is not None]
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
