"""The vocabulary of the workflow's analyses: outcomes, their tables, and the option values.

Plain Python only (no numpy, scipy or pandas): Snakemake imports this module
while it parses the workflow, on every invocation, including a no-op rerun.
"""

from __future__ import annotations

__all__ = [
    "OUTCOMES", "EXTRA_TABLES", "estimate_tables", "measure_of", "COMPARATIVE_MEASURES",
    "PROPORTION_TRANSFORMS", "IV_TRANSFORMS", "TAU2_METHODS", "CI_METHODS", "MEDIAN_METHODS",
    "IV_MEDIAN_METHODS", "SENSITIVITY_KINDS", "MULTIVERSE_INCLUSION", "MULTIVERSE_MODEL", "MULTIVERSE_DIMENSIONS", "MULTIVERSE_CI",
    "STUDY_FILTER_COLUMNS",
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
EXTRA_TABLES = {"pfs_ratio_of_medians": ("hazard_ratios",)}
# measures pooled against a comparator arm (the analysis must name one)
COMPARATIVE_MEASURES = ("hr", "ratio_of_medians")

# proportions: the four two-step transforms (metapool.stats.proportions) and the one-step GLMM (metapool.stats.glmm)
IV_TRANSFORMS = ("logit", "freeman_tukey", "arcsine", "raw")
PROPORTION_TRANSFORMS = IV_TRANSFORMS + ("glmm",)
TAU2_METHODS = ("EE", "DL", "HE", "SJ", "ML", "REML", "EB", "PM")
CI_METHODS = ("z", "hartung_knapp")
MEDIAN_METHODS = ("log_iv", "raw_iv", "median_of_medians", "weighted_median_of_medians")
IV_MEDIAN_METHODS = ("log_iv", "raw_iv")

# per-analysis sensitivity tables (results/analyses/<analysis>/<kind>.tsv), in the order they are listed
SENSITIVITY_KINDS = ("leave_one_out", "influence", "cumulative", "small_study")

# multiverse dimensions: which studies (inclusion), then how they are pooled (model)
MULTIVERSE_INCLUSION = ("assessor", "design", "retrospective", "verification", "report_policy")
MULTIVERSE_MODEL = ("transform", "method", "ci")
MULTIVERSE_DIMENSIONS = MULTIVERSE_INCLUSION + MULTIVERSE_MODEL
# the CI choices of a multiverse: the analysis options ci (+ hk_adhoc) in one word
MULTIVERSE_CI = {"z": ("z", False), "hartung_knapp": ("hartung_knapp", False),
                 "hartung_knapp_adhoc": ("hartung_knapp", True)}

# study columns an analysis may filter on (data/studies.tsv, plus the assessor of the outcome row)
STUDY_FILTER_COLUMNS = ("study_id", "trial", "drug", "setting", "design", "phase", "arm_role", "assessor",
                        "verification")


def estimate_tables(outcome: str) -> tuple[str, ...]:
    """The per-study estimate tables (``results/tables/<table>_estimates.tsv``) an outcome's analysis reads."""
    return (OUTCOMES[outcome][0], *EXTRA_TABLES.get(outcome, ()))


def measure_of(outcome: str) -> str:
    """``proportion``, ``median``, ``hr`` or ``ratio_of_medians``."""
    return OUTCOMES[outcome][2]
