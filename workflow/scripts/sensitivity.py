"""Snakemake script: the sensitivity tables of one analysis (subgroups, leave-one-out, influence, cumulative,
small-study effects; the named outputs say which)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import sensitivity_step

sensitivity_step(snakemake.input.estimates, AnalysisSpec.from_params(snakemake.params.spec),
                 dict(snakemake.output.items()), pooled=snakemake.input.pooled)
