"""metapool: the statistical engine of the ALK meta-analysis workflow (no Snakemake imports)."""
