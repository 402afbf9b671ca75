"""Snakemake script: the leave-one-out plot of one analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import loo_step

loo_step(snakemake.input.leave_one_out, snakemake.input.pooled, list(snakemake.output))
