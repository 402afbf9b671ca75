"""Snakemake script: the risk-of-bias figures (traffic light, weighted summary) of one analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import risk_of_bias_step

risk_of_bias_step(snakemake.input.studies, snakemake.input.risk_of_bias, snakemake.input.data_studies,
                  snakemake.params.outcome, snakemake.params.comparative, snakemake.params.title,
                  list(snakemake.output.traffic_light), list(snakemake.output.summary), snakemake.output.inputs)
