"""Snakemake script: per-study estimates of one extraction table."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import estimates_step

estimates_step(snakemake.input.studies, snakemake.input.table, snakemake.wildcards.table, snakemake.output[0], snakemake.output.inputs)
