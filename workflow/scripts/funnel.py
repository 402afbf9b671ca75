"""Snakemake script: the funnel plot of one analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import funnel_step

funnel_step(snakemake.input.studies, snakemake.input.pooled, AnalysisSpec.from_params(snakemake.params.spec),
            list(snakemake.output), snakemake.params.p_values)
