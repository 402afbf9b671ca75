"""Snakemake script: one network meta-analysis (its tables)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import network_step

network_step(list(snakemake.input.estimates), snakemake.input.studies, AnalysisSpec.from_params(snakemake.params.spec),
             {kind: snakemake.output[kind] for kind in snakemake.output.keys() if kind != "inputs"},
             snakemake.input.get("survival"), snakemake.output.inputs)
