"""Snakemake script: cumulative evidence over time of one analysis (sequential.tsv, the cumulative forest plot
with the releases marked, the trial sequential plot)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import sequential_step

sequential_step(snakemake.input.estimates, AnalysisSpec.from_params(snakemake.params.spec),
                snakemake.input.cumulative, snakemake.input.pooled, snakemake.output.table,
                [snakemake.output.cumulative_svg, snakemake.output.cumulative_pdf, snakemake.output.cumulative_png],
                [snakemake.output.tsa_svg, snakemake.output.tsa_pdf, snakemake.output.tsa_png],
                snakemake.params.releases)
