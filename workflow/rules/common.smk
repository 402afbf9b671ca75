# Validation of the config and of every data table (before any job runs), and the
# input functions of the other rule files.
import hashlib
from pathlib import Path

import metapool
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from metapool.analysis import estimate_tables
from metapool.config import resolve_analyses
from metapool.validation import DataValidationError, validate_tables


validate(config, schema="../schemas/config.schema.yaml")

TABLES = ("studies", "response", "survival", "hazard_ratios")
DATA = {table: str(Path(config["data_dir"]) / f"{table}.tsv") for table in TABLES}

try:
    validate_tables(DATA)
except DataValidationError as err:
    raise WorkflowError(str(err)) from None

ANALYSES = resolve_analyses(config)


def engine_checksum():
    """Checksum of the metapool sources: a rule param, so that a change in the engine reruns its jobs
    (Snakemake's code trigger sees only the script file, not the modules it imports)."""
    root = Path(metapool.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


ENGINE = engine_checksum()


wildcard_constraints:
    analysis="|".join(ANALYSES),
    table="response|survival|hazard_ratios",


def estimates_for(wildcards):
    """The per-study estimate tables an analysis pools (two for a ratio of medians: survival and the HR arm links)."""
    return [f"results/tables/{table}_estimates.tsv" for table in estimate_tables(ANALYSES[wildcards.analysis]["outcome"])]


def forest_plots(ext):
    return expand("results/figures/forest_{analysis}.{ext}", analysis=ANALYSES, ext=ext)


def all_targets():
    return [
        "results/tables/studies.tsv",
        "results/tables/audit.tsv",
        "results/tables/pooled.tsv",
        *forest_plots(["svg", "pdf", "png"]),
        "results/report.html",
    ]
