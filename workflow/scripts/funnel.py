"""Snakemake script: the funnel plot of one analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.figures.funnel import funnel_step
from metapool.spec import AnalysisSpec

funnel_step(snakemake.input.studies, snakemake.input.pooled, AnalysisSpec.from_params(snakemake.params.spec),
            list(snakemake.output))
