"""Snakemake script: the study flow (table and diagram) of one analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import flow_step

flow_step(list(snakemake.input.estimates), snakemake.input.studies, snakemake.input.pooled, snakemake.params.spec,
          snakemake.output.table, [snakemake.output.svg, snakemake.output.pdf, snakemake.output.png])
