# ALK-positive NSCLC meta-analysis: extraction tables -> per-study estimates -> pooled
# estimates, sensitivity tables and multiverses -> forest plots and specification curves
# -> results/<plan>/report.html (results/default/ for config/config.yaml). See README.md.
from snakemake.utils import min_version

min_version("9.0")


# config/config.yaml is the default; a file given with --configfile replaces it (it is not merged
# into it), and --config KEY=VALUE overrides single values of either.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/pool.smk"
include: "workflow/rules/sensitivity.smk"
include: "workflow/rules/multiverse.smk"
include: "workflow/rules/network.smk"
include: "workflow/rules/batch.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_targets(),
        REPORT_TARGETS,
    default_target: True


# every table, no figure and no report (e.g. a generated config with many analyses)
rule tables:
    input:
        table_targets(),
