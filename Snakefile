# ALK-positive NSCLC meta-analysis: extraction tables -> per-study estimates -> pooled
# estimates, sensitivity tables and multiverses -> forest plots and specification curves
# -> results/<plan>/report.html (results/default/ for config/config.yaml). See README.md.
from snakemake.utils import min_version

min_version("9.0")


# config/config.yaml is the default; a file given with --configfile replaces it (it is not merged
# into it), and --config KEY=VALUE overrides single values of either.
#
# Every plan file is first read again by metapool's own safe loader, before anything uses the config:
# Snakemake's loader keeps the last of two equal keys, lets an alias bomb through (whatever walks the
# config then fills the memory) and evaluates YTE templates (__use_yte__); ours refuses each of them
# naming the file, line and column (metapool.yamlfile). config/config.yaml is checked before Snakemake
# reads it; a --configfile has been read by Snakemake's command line already (see config/README.md, "What a
# plan may contain").
from metapool.yamlfile import plan_file_problems
from snakemake.exceptions import WorkflowError as _PlanError

_plan_problems = [p for f in (workflow.overwrite_configfiles or ["config/config.yaml"])
                  for p in plan_file_problems(f)]
if _plan_problems:
    raise _PlanError("\n".join(_plan_problems))

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
