"""Snakemake script: stack tables of the same columns."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import concat_step

concat_step(list(snakemake.input), snakemake.output[0])
