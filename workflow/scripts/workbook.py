"""Snakemake script: every result table in one XLSX workbook."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.steps import workbook_step

workbook_step(snakemake.params.sheets, snakemake.output[0])
