"""Snakemake script: every result table in one XLSX workbook."""
import sys

sys.stderr = open(snakemake.log[0], "w")

from metapool.reporting.report import write_workbook

write_workbook(snakemake.params.sheets, snakemake.output[0])
