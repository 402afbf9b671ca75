"""Snakemake script: the summary-of-findings table (GRADE certainty per analysis), CSV and TSV."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import summary_of_findings_step

summary_of_findings_step(snakemake.params.analyses, snakemake.input.data_studies, snakemake.output.csv,
                         snakemake.output.tsv,
                         snakemake.input.risk_of_bias[0] if snakemake.input.risk_of_bias else None)
