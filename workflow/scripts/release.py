"""Snakemake script: record a release of the evidence (releases/<name>.json)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import release_step

release_step(snakemake.params.name, snakemake.params.date, snakemake.params.config, snakemake.params.data,
             snakemake.params.analyses, snakemake.output[0], networks=snakemake.params.networks,
             certainty=snakemake.input.certainty)
