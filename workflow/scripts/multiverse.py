"""Snakemake script: every specification of one analysis's multiverse, pooled in one vectorised call."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import multiverse_step

multiverse_step(snakemake.input.estimates, AnalysisSpec.from_params(snakemake.params.spec), snakemake.output.table,
                snakemake.output.summary)
