"""The vocabulary of the workflow: every list of names an analysis, a table, a figure or the report uses.

One registry, imported by every module that needs a list of names (the statistics,
the analyses, the figures, the report); the JSON Schemas of the config and of the
extraction tables enumerate the same lists (``tests/analysis/test_vocabulary.py``
checks that they agree).

* outcome families (:data:`OUTCOME_FAMILIES`, :func:`outcome`): how a proportion
  or a time-to-event outcome is analysed (its extraction table, measure and the
  tables it needs besides its own); the outcome codes themselves, the drugs,
  comparators and settings are declared in data, in the data folder's vocabulary
  file (:mod:`metapool.declared`);
* measures (:data:`MEASURES`): their names, unit, value of no difference, scale of
  display, and whether they compare two arms;
* the model: tau^2 estimators with their long names and references
  (:data:`ESTIMATORS`), CI and prediction-interval methods, proportion transforms
  (:data:`TRANSFORMS`), median methods (:data:`MEDIAN_METHOD_FACTS`);
* the selection of studies: report policies, study filter columns, subgroup
  variables, and the engine's vocabularies of the study columns (designs, phases,
  assessors, ...); the units of a printed median (:data:`TIME_UNITS`);
* the outputs: sensitivity tables and multiverse dimensions;
* risk of bias: the tools, their domains and judgement scales (:data:`ROB_TOOLS`).

Plain Python only (no numpy, scipy or pandas): Snakemake imports this module
while it parses the workflow, on every invocation, including a no-op rerun.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "Outcome", "Measure", "Estimator", "Transform", "MedianMethod",
    "OUTCOME_FAMILIES", "FAMILY_TABLES", "outcome", "outcome_names", "TIME_UNITS", "TIME_UNIT_TEXT",
    "MEASURES", "COMPARATIVE_MEASURES", "ESTIMATE_MEASURES", "EXTRACTION_TABLES",
    "ESTIMATORS", "TAU2_METHODS", "CI_METHODS", "PI_METHODS", "CONTINUITY_TO",
    "TRANSFORMS", "PROPORTION_TRANSFORMS", "IV_TRANSFORMS",
    "MEDIAN_METHOD_FACTS", "MEDIAN_METHODS", "IV_MEDIAN_METHODS",
    "REPORT_POLICIES", "REPORT_POLICY_TEXT",
    "GRADE_DOMAINS", "DESIGNS", "PHASES", "ARM_ROLES", "ASSESSORS", "VERIFICATION", "DECLARED_COLUMNS",
    "COUNT_SOURCES", "STUDY_COLUMN_VALUES", "STUDY_FILTER_COLUMNS", "SUBGROUP_VARIABLES",
    "SENSITIVITY_KINDS", "MULTIVERSE_INCLUSION", "MULTIVERSE_MODEL", "MULTIVERSE_DIMENSIONS", "MULTIVERSE_CI",
    "RETROSPECTIVE_CHOICES", "NETWORK_TEXT_COLUMNS",
    "PriorFamily", "TAU_PRIORS", "TAU_PRIOR_PRESETS", "MU_PRIORS", "BAYES_LIKELIHOODS", "BAYES_SCALES",
    "BAYES_TEXT_COLUMNS", "BAYES_METHOD", "BAYES_CI",
    "RobTool", "ROB_TOOLS", "ROB_OVERALL", "ROB_ALL_OUTCOMES", "ROB_LEVELS", "RISK_OF_BIAS_TABLE", "DATA_TABLES",
]


def _frozen(mapping: dict) -> Mapping:
    return MappingProxyType(mapping)


# ---------------------------------------------------------------------------------------- measures


@dataclass(frozen=True)
class Measure:
    """What an analysis pools, as the tables, figures and text name it.

    ``noun`` (``hazard ratio``), ``unit`` (``months`` or ''), ``null`` (the
    value of no difference between two arms; ``None`` for one-arm measures),
    ``log_scale`` (drawn on a log axis), ``comparative`` (pooled against one
    comparator arm), ``important_effect`` (the smallest effect that matters to a patient when an analysis
    sets none, on the natural scale: a hazard ratio of 0.8 and a ratio of medians of 1.25, a 20% relative
    difference; ``None`` for one-arm measures, whose value of interest depends on the setting).
    """

    noun: str
    unit: str
    null: float | None
    log_scale: bool
    comparative: bool
    important_effect: float | None = None

    @property
    def label(self) -> str:
        """The noun with its unit: ``median (months)``."""
        return f"{self.noun} ({self.unit})" if self.unit else self.noun

    @property
    def heading(self) -> str:
        """The label as a column or axis heading: ``Median (months)``."""
        return self.label[:1].upper() + self.label[1:]


MEASURES: Mapping[str, Measure] = _frozen({
    "proportion": Measure("proportion", "", None, False, False),
    "median": Measure("median", "months", None, False, False),
    "hr": Measure("hazard ratio", "", 1.0, True, True, 0.8),
    "ratio_of_medians": Measure("ratio of medians", "", 1.0, True, True, 1.25),
})
# measures pooled against a comparator arm (the analysis must name one)
COMPARATIVE_MEASURES = tuple(name for name, m in MEASURES.items() if m.comparative)
# extraction table -> the measure of its per-study estimates (results/<plan>/tables/<table>_estimates.tsv)
ESTIMATE_MEASURES: Mapping[str, str] = _frozen({"response": "proportion", "survival": "median",
                                                "hazard_ratios": "hr"})
# the extraction tables (data/<table>.tsv): the studies, then those with per-study estimates
EXTRACTION_TABLES = ("studies", *ESTIMATE_MEASURES)
# the optional table of risk-of-bias judgements (data/risk_of_bias.tsv; metapool.analysis.risk_of_bias), validated
# with the extraction tables; every table of a data folder
RISK_OF_BIAS_TABLE = "risk_of_bias"
DATA_TABLES = (*EXTRACTION_TABLES, RISK_OF_BIAS_TABLE)


# ---------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """A config outcome (:func:`outcome`): its extraction ``table``, the outcome ``code`` in that table, the
    ``measure`` pooled, ``phrase``, how a report that has it is described ("reports with <phrase>"), the
    ``links``, tables it needs besides its own, and its ``family`` (``proportion`` or ``time_to_event``)."""

    table: str
    code: str
    measure: str
    phrase: str
    links: tuple[str, ...] = ()
    family: str = "proportion"

    @property
    def tables(self) -> tuple[str, ...]:
        """The per-study estimate tables (``results/<plan>/tables/<table>_estimates.tsv``) an analysis of it reads."""
        return (self.table, *self.links)


# how each family of outcomes is analysed: the suffix of the config outcome name -> (extraction table, measure,
# linked tables). A proportion outcome <code> is analysed as itself; a time-to-event outcome <code> as
# <code>_median (survival.tsv), <code>_hr (hazard_ratios.tsv) and <code>_ratio_of_medians (the medians of
# both arms of a randomised trial, linked through hazard_ratios.tsv: study_id -> comparator_study_id).
# The outcome codes themselves are declared in the data folder's vocabulary file (metapool.declared).
OUTCOME_FAMILIES: Mapping[str, Mapping[str, tuple[str, str, tuple[str, ...]]]] = _frozen({
    "proportion": _frozen({"": ("response", "proportion", ())}),
    "time_to_event": _frozen({"_median": ("survival", "median", ()),
                              "_hr": ("hazard_ratios", "hr", ()),
                              "_ratio_of_medians": ("survival", "ratio_of_medians", ("hazard_ratios",))}),
})
# the extraction tables whose `outcome` column holds each family's outcome codes
FAMILY_TABLES: Mapping[str, tuple[str, ...]] = _frozen({"proportion": ("response",),
                                                        "time_to_event": ("survival", "hazard_ratios")})
_PHRASES = {"proportion": "outcome {code}", "median": "a median {CODE}", "hr": "{a} {CODE} hazard ratio",
            "ratio_of_medians": "median {CODE} of both arms"}


def outcome(name: str) -> Outcome:
    """The config outcome ``name`` as its family analyses it.

    ``<code>_median``, ``<code>_hr`` and ``<code>_ratio_of_medians`` are the analyses of the time-to-event
    outcome ``<code>``; any other name is the proportion outcome ``name``. Whether ``<code>`` is declared,
    and in that family, is for the data folder's vocabulary file to say (:mod:`metapool.declared`).

    Raises
    ------
    ValueError
        When ``name`` is not a lower-case word (a letter, then letters, digits and underscores).
    """
    if not (isinstance(name, str) and name[:1].isalpha() and name.replace("_", "").isalnum()
            and name == name.lower() and name.isascii()):
        raise ValueError(f"outcome {name!r} must be a lower-case word (a letter, then letters, digits, underscores)")
    family, suffix = "proportion", ""
    for candidate in sorted(OUTCOME_FAMILIES["time_to_event"], key=len, reverse=True):
        if name.endswith(candidate) and len(name) > len(candidate):
            family, suffix = "time_to_event", candidate
            break
    table, measure, links = OUTCOME_FAMILIES[family][suffix]
    code = name[:len(name) - len(suffix)]
    upper = code.upper()
    phrase = _PHRASES[measure].format(code=code, CODE=upper, a="an" if upper[0] in "AEFHILMNORSX" else "a")
    return Outcome(table, code, measure, phrase, links, family)


def outcome_names(code: str, family: str) -> tuple[str, ...]:
    """The config outcome names of the outcome ``code`` of ``family`` (``pfs`` -> ``pfs_median``, ``pfs_hr``,
    ``pfs_ratio_of_medians``; ``orr`` -> ``orr``)."""
    return tuple(code + suffix for suffix in OUTCOME_FAMILIES[family])


# the units a printed median may be in (survival.tsv `unit`; empty = months) -> months per unit: a week is
# 7 days and a month 365.25 / 12 days
TIME_UNITS: Mapping[str, float] = _frozen({"months": 1.0, "weeks": 7 * 12 / 365.25, "days": 12 / 365.25})
TIME_UNIT_TEXT: Mapping[str, str] = _frozen({"months": "", "weeks": "months = weeks x 7 x 12 / 365.25",
                                             "days": "months = days x 12 / 365.25"})


# ---------------------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class Estimator:
    """A ``method``: the common-effect model (``EE``) or a tau^2 estimator, its long ``name`` and the
    ``reference`` the methods text cites ('' for the common-effect model)."""

    name: str
    reference: str


ESTIMATORS: Mapping[str, Estimator] = _frozen({
    "EE": Estimator("common-effect (inverse variance)", ""),
    "DL": Estimator("DerSimonian-Laird", "DerSimonian & Laird 1986"),
    "HE": Estimator("Hedges", "Hedges & Olkin 1985"),
    "SJ": Estimator("Sidik-Jonkman", "Sidik & Jonkman 2005"),
    "ML": Estimator("maximum likelihood", "Viechtbauer 2005"),
    "REML": Estimator("restricted maximum likelihood (REML)", "Viechtbauer 2005"),
    "EB": Estimator("empirical Bayes", "Morris 1983"),
    "PM": Estimator("Paule-Mandel", "Paule & Mandel 1982"),
})
TAU2_METHODS = tuple(ESTIMATORS)
# CI of a pooled estimate: normal quantiles (Wald) or Hartung-Knapp-Sidik-Jonkman
CI_METHODS = ("z", "hartung_knapp")
# prediction interval: normal under z and t on k - 1 df under Hartung-Knapp (default), or as named
PI_METHODS = ("default", "normal", "t_k1", "t_k2")
# continuity correction of proportions with 0 or n events, as escalc's ``to``
CONTINUITY_TO = ("only0", "all", "if0all", "none")


@dataclass(frozen=True)
class Transform:
    """How proportions are pooled: a ``name`` and whether by ``inverse_variance`` (two steps: transform, pool;
    the GLMM pools the counts in one step)."""

    name: str
    inverse_variance: bool


TRANSFORMS: Mapping[str, Transform] = _frozen({
    "logit": Transform("logit", True),
    "freeman_tukey": Transform("Freeman-Tukey double arcsine", True),
    "arcsine": Transform("arcsine square root", True),
    "raw": Transform("untransformed proportion", True),
    "glmm": Transform("binomial-normal GLMM", False),
})
PROPORTION_TRANSFORMS = tuple(TRANSFORMS)
IV_TRANSFORMS = tuple(name for name, t in TRANSFORMS.items() if t.inverse_variance)


@dataclass(frozen=True)
class MedianMethod:
    """How medians are pooled: a ``name``, whether by ``inverse_variance`` (with SEs from the reported CIs)
    and the ``scale`` of the pooling (``log``, ``identity``, or ``none`` for the median of medians)."""

    name: str
    inverse_variance: bool
    scale: str


MEDIAN_METHOD_FACTS: Mapping[str, MedianMethod] = _frozen({
    "log_iv": MedianMethod("log median by inverse variance", True, "log"),
    "raw_iv": MedianMethod("median by inverse variance", True, "identity"),
    "median_of_medians": MedianMethod("median of medians", False, "none"),
    "weighted_median_of_medians": MedianMethod("weighted median of medians", False, "none"),
})
MEDIAN_METHODS = tuple(MEDIAN_METHOD_FACTS)
IV_MEDIAN_METHODS = tuple(name for name, m in MEDIAN_METHOD_FACTS.items() if m.inverse_variance)


# ---------------------------------------------------------------------------------------- Bayesian models


@dataclass(frozen=True)
class PriorFamily:
    """A family of prior distributions as the config writes it (``half_normal(0.5)``): its ``parameters`` (names,
    in the order written), how many may be left out from the end (``optional``: ``uniform`` alone is the improper
    flat prior), which parameters may be any real number (``free``; the others must be > 0), and its ``name`` in
    words."""

    parameters: tuple[str, ...]
    name: str
    free: tuple[str, ...] = ()
    optional: int = 0


# priors of the between-study standard deviation tau (metapool.stats.bayes.TauPrior, on the analysis scale)
TAU_PRIORS: Mapping[str, PriorFamily] = _frozen({
    "half_normal": PriorFamily(("scale",), "half-normal"),
    "half_cauchy": PriorFamily(("scale",), "half-Cauchy"),
    "half_t": PriorFamily(("scale", "df"), "half-Student-t"),
    "uniform": PriorFamily(("upper",), "uniform", optional=1),
    "log_normal": PriorFamily(("mu", "sigma"), "log-normal", free=("mu",)),
    "log_t": PriorFamily(("location", "scale", "df"), "log-Student-t", free=("location",)),
})
# published predictive distributions of tau, written as a bare name (the 'marginal' settings of the papers)
TAU_PRIOR_PRESETS: Mapping[str, str] = _frozen({
    "turner": "Turner et al. 2015 predictive distribution for log odds ratios (any outcome and comparison): "
              "tau^2 ~ log-normal(-2.56, 1.74^2) (Stat Med 2015;34:984-998)",
    "rhodes": "Rhodes et al. 2015 predictive distribution for standardised mean differences (any outcome and "
              "comparison): log tau^2 ~ -3.44 + 2.59 t_5 (J Clin Epidemiol 2015;68:52-60)",
})
# priors of the overall effect mu (metapool.stats.bayes.MuPrior, on the analysis scale)
MU_PRIORS: Mapping[str, PriorFamily] = _frozen({
    "flat": PriorFamily((), "flat (improper)"),
    "normal": PriorFamily(("mean", "sd"), "normal", free=("mean",)),
})
# the likelihood of a Bayesian fit: the normal approximation on the analysis scale, or the exact binomial
# (proportions only: counts on the logit scale)
BAYES_LIKELIHOODS = ("normal", "binomial")
# analysis scales a Bayesian fit accepts -> the inverse transform of its summaries (''  = none)
BAYES_SCALES: Mapping[str, str] = _frozen({"logit": "expit", "glmm": "expit", "log": "exp", "identity": "",
                                           "raw": ""})
# text columns of results/<plan>/analyses/<analysis>/bayes.tsv (read as text even when empty; here, so that the
# figure and report jobs read it without the analysis layer)
BAYES_TEXT_COLUMNS = ["analysis", "subgroup", "group", "likelihood", "tau_prior", "mu_prior", "scale", "quantity",
                      "study_id", "label", "reason"]


# ---------------------------------------------------------------------------------------- selection


# which report of a trial cohort an analysis keeps (metapool.analysis.selection.select_reports)
REPORT_POLICY_TEXT: Mapping[str, str] = _frozen({
    "latest_cut": "the report with the latest data cut-off (then the largest N)",
    "largest_n": "the report with the largest N (then the latest data cut-off)",
    "earliest_cut": "the report with the earliest data cut-off (then the largest N)",
})
REPORT_POLICIES = tuple(REPORT_POLICY_TEXT)

# the study columns of data/studies.tsv and the assessor of an outcome row, with their values (the drugs,
# settings, comparators and outcome codes are declared in the data folder's vocabulary file:
# metapool.declared); the designs are the engine's, which gives `retrospective` a meaning (the multiverse)
DESIGNS = ("randomised", "single_arm", "retrospective")
# the GRADE domains an analysis's certainty is rated down for, in the summary-of-findings footnotes' order
# (metapool.stats.grade; the keys of an analysis's certainty.overrides)
GRADE_DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
PHASES = ("1", "2", "3", "4", "")
ARM_ROLES = ("experimental", "control", "single_arm")
# in the order of the default assessor preference
ASSESSORS = ("independent_review", "investigator", "not_stated")
VERIFICATION = ("verified", "partial", "unverified")
STUDY_COLUMN_VALUES: Mapping[str, tuple[str, ...]] = _frozen({
    "design": DESIGNS, "phase": PHASES, "arm_role": ARM_ROLES,
    "assessor": ASSESSORS, "verification": VERIFICATION,
})
# the study columns whose values the data folder's vocabulary file declares (metapool.declared), and what
# it calls them
DECLARED_COLUMNS: Mapping[str, str] = _frozen({"drug": "drugs", "setting": "settings"})
# how a response count was obtained (data/response.tsv): printed, or derived from the printed percentage
COUNT_SOURCES = ("printed", "derived", "")

# study columns an analysis may filter on (data/studies.tsv, plus the assessor of the outcome row)
STUDY_FILTER_COLUMNS = ("study_id", "trial", "drug", "setting", "design", "phase", "arm_role", "assessor",
                        "verification")
# study columns whose values form subgroups
SUBGROUP_VARIABLES = ("drug", "setting", "design", "phase", "assessor", "verification")


# ---------------------------------------------------------------------------------------- outputs


# per-analysis sensitivity tables (results/<plan>/analyses/<analysis>/<kind>.tsv), in the order they are listed
SENSITIVITY_KINDS = ("leave_one_out", "influence", "cumulative", "small_study")

# the order of the studies in a forest plot and its summary table (within each subgroup): as in the analysis's
# studies.tsv (the data's order), by publication year, by estimate (ascending), by weight (largest first), by label
FOREST_SORTS = ("data", "year", "estimate", "weight", "label")

# the formats a figure is saved in (`figure_formats`), in the order a figure's files are listed: SVG (vector, the
# report embeds it; always made), PDF (vector) and PNG (300 dpi)
FIGURE_FORMATS = ("svg", "pdf", "png")

# multiverse dimensions: which studies (inclusion), then how they are pooled (model); tau_prior adds Bayesian
# specifications (one per inclusion choice and tau prior) beside the frequentist ones
MULTIVERSE_INCLUSION = ("assessor", "design", "retrospective", "verification", "report_policy")
MULTIVERSE_MODEL = ("transform", "method", "ci", "tau_prior")
# the method and CI of a Bayesian multiverse specification (results/<plan>/multiverse/<analysis>.tsv)
BAYES_METHOD, BAYES_CI = "bayes", "credible"
MULTIVERSE_DIMENSIONS = MULTIVERSE_INCLUSION + MULTIVERSE_MODEL
# retrospective studies (design retrospective) in or out
RETROSPECTIVE_CHOICES = ("include", "exclude")
# the CI choices of a multiverse: the analysis options ci (+ hk_adhoc) in one word
MULTIVERSE_CI: Mapping[str, tuple[str, bool]] = _frozen({
    "z": ("z", False), "hartung_knapp": ("hartung_knapp", False), "hartung_knapp_adhoc": ("hartung_knapp", True),
})

# text columns of a network analysis's tables (results/<plan>/analyses/<analysis>/*.tsv; read as text even when
# empty): here, not in analysis.network, so that the figure and report jobs read them without the analysis layer
NETWORK_TEXT_COLUMNS = ["analysis", "study_id", "label", "trial", "cohort", "treatment", "comparator",
                        "comparator_study_id", "assessor", "data_cut", "setting", "prior_therapy", "phase", "design",
                        "status", "reason", "quantity", "notes"]


# ---------------------------------------------------------------------------------------- risk of bias


@dataclass(frozen=True)
class RobTool:
    """A risk-of-bias tool (data/risk_of_bias.tsv `tool`; :mod:`metapool.analysis.risk_of_bias`).

    ``name`` and ``reference`` (as the methods text cites them), ``design`` (the comparisons it is for),
    ``domains`` (code -> label, in the tool's order: the figures letter them A, B, ... in this order),
    ``scale`` (the domain judgements, least to most severe), ``no_information`` (the scale's value for a domain
    the sources do not inform, '' when the tool has none), ``overall_scale`` (the overall judgements),
    ``algorithm`` (how the overall judgement follows from the domains: ``rob2``, the published RoB 2 algorithm;
    ``most_severe``, the most severe domain, as ROBINS-I; '' none: the overall row is stated and used) and
    ``grade`` (overall judgement -> the three levels the GRADE risk-of-bias domain reads, ``low``,
    ``some_concerns``, ``high``; '' when the judgement says nothing usable, as ROBINS-I "no information"),
    ``comparative`` (whether it judges a comparison of two arms, and so the results of comparative analyses, or a
    single arm's result).
    """

    name: str
    reference: str
    design: str
    domains: Mapping[str, str]
    scale: tuple[str, ...]
    overall_scale: tuple[str, ...]
    algorithm: str
    grade: Mapping[str, str]
    no_information: str = ""
    comparative: bool = True


# the `domain` of a stated overall judgement (a row of its own, beside the tool's domains)
ROB_OVERALL = "overall"
# the `outcome` of a judgement about every outcome of a report (a domain such as randomisation)
ROB_ALL_OUTCOMES = "all"
# the levels GRADE's risk-of-bias domain reads (metapool.analysis.risk_of_bias.overall_judgements)
ROB_LEVELS = ("low", "some_concerns", "high")
_ROB_SAME = _frozen({level: level for level in ROB_LEVELS})
ROB_TOOLS: Mapping[str, RobTool] = _frozen({
    "rob2": RobTool(
        "RoB 2 (revised Cochrane risk-of-bias tool for randomised trials)",
        "Sterne et al. 2019, BMJ 366:l4898; Higgins et al. 2019, RoB 2 guidance",
        "randomised comparisons",
        _frozen({"randomisation": "Bias arising from the randomisation process",
                 "deviations": "Bias due to deviations from intended interventions",
                 "missing_data": "Bias due to missing outcome data",
                 "measurement": "Bias in measurement of the outcome",
                 "reporting": "Bias in selection of the reported result"}),
        ROB_LEVELS, ROB_LEVELS, "rob2", _ROB_SAME),
    "robins_i": RobTool(
        "ROBINS-I (Risk Of Bias In Non-randomised Studies - of Interventions)",
        "Sterne et al. 2016, BMJ 355:i4919",
        "non-randomised comparisons",
        _frozen({"confounding": "Bias due to confounding",
                 "selection": "Bias in selection of participants into the study",
                 "classification": "Bias in classification of interventions",
                 "deviations": "Bias due to deviations from intended interventions",
                 "missing_data": "Bias due to missing data",
                 "measurement": "Bias in measurement of outcomes",
                 "reporting": "Bias in selection of the reported result"}),
        ("low", "moderate", "serious", "critical", "no_information"),
        ("low", "moderate", "serious", "critical", "no_information"), "most_severe",
        _frozen({"low": "low", "moderate": "some_concerns", "serious": "high", "critical": "high",
                 "no_information": ""}),
        no_information="no_information"),
    "jbi_case_series": RobTool(
        "JBI critical appraisal checklist for case series",
        "Munn et al. 2020, JBI Evid Synth 18(10):2127-2133",
        "single-arm cohorts (case series)",
        _frozen({"inclusion_criteria": "Q1 Clear criteria for inclusion",
                 "condition_measured": "Q2 Condition measured in a standard, reliable way",
                 "condition_identified": "Q3 Valid methods for identification of the condition",
                 "consecutive": "Q4 Consecutive inclusion of participants",
                 "complete": "Q5 Complete inclusion of participants",
                 "demographics": "Q6 Clear reporting of demographics",
                 "clinical_information": "Q7 Clear reporting of clinical information",
                 "outcomes_reported": "Q8 Outcomes or follow-up results clearly reported",
                 "sites": "Q9 Clear reporting of the presenting sites' demographic information",
                 "statistics": "Q10 Appropriate statistical analysis"}),
        ("yes", "unclear", "no", "not_applicable"), ROB_LEVELS, "", _ROB_SAME, comparative=False),
})
