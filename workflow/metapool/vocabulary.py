"""The vocabulary of the workflow: every list of names an analysis, a table, a figure or the report uses.

One registry, imported by every module that needs a list of names (the statistics,
the analyses, the figures, the report); the JSON Schemas of the config and of the
extraction tables enumerate the same lists (``tests/analysis/test_vocabulary.py``
checks that they agree).

* outcomes (:data:`OUTCOMES`): the extraction table, the outcome code in that
  table and the measure pooled, with the tables the outcome needs besides its own;
* measures (:data:`MEASURES`): their names, unit, value of no difference, scale of
  display, and whether they compare two arms;
* the model: tau^2 estimators with their long names and references
  (:data:`ESTIMATORS`), CI and prediction-interval methods, proportion transforms
  (:data:`TRANSFORMS`), median methods (:data:`MEDIAN_METHOD_FACTS`);
* the selection of studies: report policies, study filter columns, subgroup
  variables, and the vocabularies of the study columns (drugs, settings, designs,
  ...);
* the outputs: sensitivity tables and multiverse dimensions.

Plain Python only (no numpy, scipy or pandas): Snakemake imports this module
while it parses the workflow, on every invocation, including a no-op rerun.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "Outcome", "Measure", "Estimator", "Transform", "MedianMethod",
    "OUTCOMES", "MEASURES", "COMPARATIVE_MEASURES", "ESTIMATE_MEASURES", "EXTRACTION_TABLES", "outcome_codes",
    "ESTIMATORS", "TAU2_METHODS", "CI_METHODS", "PI_METHODS", "CONTINUITY_TO",
    "TRANSFORMS", "PROPORTION_TRANSFORMS", "IV_TRANSFORMS",
    "MEDIAN_METHOD_FACTS", "MEDIAN_METHODS", "IV_MEDIAN_METHODS",
    "REPORT_POLICIES", "REPORT_POLICY_TEXT",
    "DRUGS", "SETTINGS", "DESIGNS", "PHASES", "ARM_ROLES", "ASSESSORS", "VERIFICATION", "COMPARATORS",
    "COUNT_SOURCES", "STUDY_COLUMN_VALUES", "STUDY_FILTER_COLUMNS", "SUBGROUP_VARIABLES",
    "SENSITIVITY_KINDS", "MULTIVERSE_INCLUSION", "MULTIVERSE_MODEL", "MULTIVERSE_DIMENSIONS", "MULTIVERSE_CI",
    "RETROSPECTIVE_CHOICES",
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
    comparator arm).
    """

    noun: str
    unit: str
    null: float | None
    log_scale: bool
    comparative: bool

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
    "hr": Measure("hazard ratio", "", 1.0, True, True),
    "ratio_of_medians": Measure("ratio of medians", "", 1.0, True, True),
})
# measures pooled against a comparator arm (the analysis must name one)
COMPARATIVE_MEASURES = tuple(name for name, m in MEASURES.items() if m.comparative)
# extraction table -> the measure of its per-study estimates (results/tables/<table>_estimates.tsv)
ESTIMATE_MEASURES: Mapping[str, str] = _frozen({"response": "proportion", "survival": "median",
                                                "hazard_ratios": "hr"})
# the extraction tables (data/<table>.tsv): the studies, then those with per-study estimates
EXTRACTION_TABLES = ("studies", *ESTIMATE_MEASURES)


# ---------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """A config outcome: its extraction ``table``, the outcome ``code`` in that table, the ``measure`` pooled,
    the ``links``, tables it needs besides its own, and ``phrase``, how a report that has it is described
    ("reports with <phrase>")."""

    table: str
    code: str
    measure: str
    phrase: str
    links: tuple[str, ...] = ()

    @property
    def tables(self) -> tuple[str, ...]:
        """The per-study estimate tables (``results/tables/<table>_estimates.tsv``) an analysis of it reads."""
        return (self.table, *self.links)


OUTCOMES: Mapping[str, Outcome] = _frozen({
    "orr": Outcome("response", "orr", "proportion", "objective response"),
    "intracranial_orr": Outcome("response", "intracranial_orr", "proportion", "intracranial response"),
    "pfs_median": Outcome("survival", "pfs", "median", "a median PFS"),
    "os_median": Outcome("survival", "os", "median", "a median OS"),
    "pfs_hr": Outcome("hazard_ratios", "pfs", "hr", "a PFS hazard ratio"),
    "os_hr": Outcome("hazard_ratios", "os", "hr", "an OS hazard ratio"),
    # the ratio of medians links the arms of a randomised trial through hazard_ratios.tsv
    # (study_id -> comparator_study_id)
    "pfs_ratio_of_medians": Outcome("survival", "pfs", "ratio_of_medians", "median PFS of both arms",
                                    links=("hazard_ratios",)),
})


def outcome_codes(table: str) -> tuple[str, ...]:
    """The outcome codes of an extraction table (its ``outcome`` column), in the order of :data:`OUTCOMES`."""
    return tuple(dict.fromkeys(o.code for o in OUTCOMES.values() if o.table == table))


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


# ---------------------------------------------------------------------------------------- selection


# which report of a trial cohort an analysis keeps (metapool.analysis.selection.select_reports)
REPORT_POLICY_TEXT: Mapping[str, str] = _frozen({
    "latest_cut": "the report with the latest data cut-off (then the largest N)",
    "largest_n": "the report with the largest N (then the latest data cut-off)",
    "earliest_cut": "the report with the earliest data cut-off (then the largest N)",
})
REPORT_POLICIES = tuple(REPORT_POLICY_TEXT)

# the study columns of data/studies.tsv and the assessor of an outcome row, with their values
DRUGS = ("crizotinib", "alectinib", "brigatinib", "ceritinib", "lorlatinib", "ensartinib", "chemotherapy")
SETTINGS = ("tki_naive", "post_crizotinib", "post_second_gen", "post_alectinib")
DESIGNS = ("randomised", "single_arm", "retrospective")
PHASES = ("1", "2", "3", "4", "")
ARM_ROLES = ("experimental", "control", "single_arm")
# in the order of the default assessor preference
ASSESSORS = ("independent_review", "investigator", "not_stated")
VERIFICATION = ("verified", "partial", "unverified")
STUDY_COLUMN_VALUES: Mapping[str, tuple[str, ...]] = _frozen({
    "drug": DRUGS, "setting": SETTINGS, "design": DESIGNS, "phase": PHASES, "arm_role": ARM_ROLES,
    "assessor": ASSESSORS, "verification": VERIFICATION,
})
# the control arm of a hazard ratio (data/hazard_ratios.tsv), which comparative analyses pool within
COMPARATORS = ("crizotinib", "alectinib", "chemotherapy")
# how a response count was obtained (data/response.tsv): printed, or derived from the printed percentage
COUNT_SOURCES = ("printed", "derived", "")

# study columns an analysis may filter on (data/studies.tsv, plus the assessor of the outcome row)
STUDY_FILTER_COLUMNS = ("study_id", "trial", "drug", "setting", "design", "phase", "arm_role", "assessor",
                        "verification")
# study columns whose values form subgroups
SUBGROUP_VARIABLES = ("drug", "setting", "design", "phase", "assessor", "verification")


# ---------------------------------------------------------------------------------------- outputs


# per-analysis sensitivity tables (results/analyses/<analysis>/<kind>.tsv), in the order they are listed
SENSITIVITY_KINDS = ("leave_one_out", "influence", "cumulative", "small_study")

# multiverse dimensions: which studies (inclusion), then how they are pooled (model)
MULTIVERSE_INCLUSION = ("assessor", "design", "retrospective", "verification", "report_policy")
MULTIVERSE_MODEL = ("transform", "method", "ci")
MULTIVERSE_DIMENSIONS = MULTIVERSE_INCLUSION + MULTIVERSE_MODEL
# retrospective studies (design retrospective) in or out
RETROSPECTIVE_CHOICES = ("include", "exclude")
# the CI choices of a multiverse: the analysis options ci (+ hk_adhoc) in one word
MULTIVERSE_CI: Mapping[str, tuple[str, bool]] = _frozen({
    "z": ("z", False), "hartung_knapp": ("hartung_knapp", False), "hartung_knapp_adhoc": ("hartung_knapp", True),
})
