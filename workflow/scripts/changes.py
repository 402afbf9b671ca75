"""Snakemake script: what changed since a release (results/<plan>/tables/changes.tsv)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import changes_step

changes_step(snakemake.input.release, snakemake.params.config, snakemake.params.data, snakemake.params.analyses,
             {name: AnalysisSpec.from_params(p) for name, p in snakemake.params.specs.items()}, snakemake.output[0],
             networks=snakemake.params.networks, certainty=snakemake.input.certainty)
