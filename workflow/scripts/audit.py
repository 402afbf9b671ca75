"""Snakemake script: extraction audit of the response table."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import audit_step

audit_step(snakemake.input.response[0] if snakemake.input.response else None, snakemake.output[0], snakemake.output.inputs)
