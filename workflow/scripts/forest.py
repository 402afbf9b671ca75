"""Snakemake script: the forest plot of one analysis."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import forest_step

rob = snakemake.params.rob
forest_step(snakemake.input.studies, snakemake.input.pooled, list(snakemake.output), snakemake.params.p_values,
            snakemake.params.sort, snakemake.input.subgroups or None,
            bayes=snakemake.input.bayes[0] if snakemake.input.bayes else None,
            risk_of_bias=snakemake.input.risk_of_bias[:2] if rob else None, rob=rob)
