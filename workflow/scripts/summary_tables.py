"""Snakemake script: one formatted summary table per analysis (CSV) and all of them in one Word document."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import summary_tables_step

summary_tables_step(snakemake.params.analyses, snakemake.params.csv, snakemake.output.docx, snakemake.params.p_values)
