"""Snakemake script: the self-contained HTML report."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.spec import AnalysisSpec
from metapool.steps import report_step

report_step(template=snakemake.input.template, config=snakemake.params.config,
            analyses={name: AnalysisSpec.from_params(p) for name, p in snakemake.params.analyses.items()},
            data=snakemake.input.data, studies=snakemake.input.studies, audit=snakemake.input.audit,
            pooled=snakemake.input.pooled, layout=snakemake.params.layout, workbook=snakemake.input.workbook,
            output=snakemake.output[0],
            networks={name: AnalysisSpec.from_params(p) for name, p in snakemake.params.networks.items()},
            network_layout=snakemake.params.network_layout, read=snakemake.input.read, sof=snakemake.input.sof,
            changes=snakemake.input.changes[0] if snakemake.input.changes else None,
            release=snakemake.input.changes[1] if snakemake.input.changes else None,
            releases=snakemake.input.releases)
