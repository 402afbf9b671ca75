"""Snakemake script: the per-study estimate tables stacked, proportions with exact CIs at the study level."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import studies_step

studies_step(list(snakemake.input), snakemake.params.level, snakemake.output[0])
