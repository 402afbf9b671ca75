# The workflow itself is workflow/Snakefile (the layout of the Snakemake workflow catalogue, and the file a
# `module` statement or `snakedeploy deploy-workflow` points at); this file lets `snakemake` run from the
# checkout's root as before. See README.md, "Use as a module".


include: "workflow/Snakefile"


# an included file's `default_target: True` does not outlive the include (Snakemake restores the including
# file's default target): `snakemake` with no target builds `rule all`, as from workflow/Snakefile
workflow.default_target = "all"
