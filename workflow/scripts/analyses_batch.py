"""Snakemake script: several analyses in one job (pooling, sensitivity tables, multiverse)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import analyses_batch_step

analyses_batch_step(dict(snakemake.input.items()), snakemake.config, dict(snakemake.output.items()))
