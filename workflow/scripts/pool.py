"""Snakemake script: one configured analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import pool_step

pool_step(snakemake.input.estimates, AnalysisSpec.from_params(snakemake.params.spec), snakemake.output.studies,
          snakemake.output.pooled)
