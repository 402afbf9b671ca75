"""Snakemake script: the figures of one network meta-analysis (graph, league table, forest plot)."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import network_figures_step

network_figures_step(snakemake.input.studies, snakemake.input.league, snakemake.input.effects, snakemake.input.ranking,
                     AnalysisSpec.from_params(snakemake.params.spec),
                     {kind: [snakemake.output[f"{kind}_{ext}"] for ext in ("svg", "pdf", "png")]
                      for kind in ("graph", "league", "forest")})
