"""Snakemake script: the forest plots of the analyses of one batch (analyses_per_job), in a process of its own."""
from metapool.jobs import run

run("forest_batch", snakemake)  # noqa: F821 - Snakemake's job object
