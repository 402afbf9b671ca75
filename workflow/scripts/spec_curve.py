"""Snakemake script: the specification curve of one multiverse."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import spec_curve_step

spec_curve_step(snakemake.input.table, snakemake.input.summary, list(snakemake.output), pooled=snakemake.input.pooled)
