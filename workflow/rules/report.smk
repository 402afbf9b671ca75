# The self-contained HTML report (results/report.html) and every result table in one XLSX workbook
# (results/tables/results.xlsx). Both are marked for Snakemake's own report: `snakemake --report report.html`.

# per analysis, kind -> path of every file the report shows; a kind that is absent (a sensitivity table not in
# the analysis's `sensitivity:` list, no multiverse, no funnel for the median of medians) is explained there
REPORT_FILES = {
    name: {
        "studies": f"results/analyses/{name}/studies.tsv",
        "pooled": f"results/analyses/{name}/pooled.tsv",
        "flow": f"results/analyses/{name}/flow.tsv",
        **sensitivity_tables(name),
        **(multiverse_tables(name) if name in MULTIVERSES else {}),
        "forest": f"results/figures/forest_{name}.svg",
        "flow_figure": f"results/figures/flow_{name}.svg",
        **({"funnel": f"results/figures/funnel_{name}.svg"} if name in FUNNELS else {}),
        **({"loo": f"results/figures/loo_{name}.svg"} if name in LOO_PLOTS else {}),
        **({"spec_curve": f"results/figures/spec_curve_{name}.svg"} if name in MULTIVERSES else {}),
    }
    for name in ANALYSES
}

# sheet title -> table of the workbook: the summary tables, then each analysis's tables in config order
WORKBOOK_SHEETS = {
    "pooled": "results/tables/pooled.tsv",
    "studies": "results/tables/studies.tsv",
    "audit": "results/tables/audit.tsv",
    **{
        f"{i} {kind}": path
        for i, name in enumerate(ANALYSES, start=1)
        for kind, path in REPORT_FILES[name].items()
        if path.endswith(".tsv")
    },
}

# the figures and the workbook (rule all): every format of the report's figures
REPORT_TARGETS = [
    "results/tables/results.xlsx",
    *expand("results/figures/flow_{analysis}.{ext}", analysis=ANALYSES, ext=["svg", "pdf", "png"]),
    *expand("results/figures/funnel_{analysis}.{ext}", analysis=FUNNELS, ext=["svg", "pdf", "png"]),
    *expand("results/figures/loo_{analysis}.{ext}", analysis=LOO_PLOTS, ext=["svg", "pdf", "png"]),
]


rule workbook:
    input:
        list(WORKBOOK_SHEETS.values()),
    output:
        report(
            "results/tables/results.xlsx",
            caption="../report/workbook.rst",
            category="Tables",
            labels={"table": "all result tables (XLSX)"},
        ),
    params:
        engine=engine_code("reporting", "analysis", "stats"),
        sheets=WORKBOOK_SHEETS,
    log:
        "results/logs/workbook.log",
    group:
        "summary"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/workbook.py"


rule report:
    input:
        data=list(PRESENT.values()),
        studies="results/tables/studies.tsv",
        audit="results/tables/audit.tsv",
        pooled="results/tables/pooled.tsv",
        workbook="results/tables/results.xlsx",
        analyses=[path for files in REPORT_FILES.values() for path in files.values()],
        template="workflow/report/report.html.j2",
    output:
        report(
            "results/report.html",
            caption="../report/report.rst",
            category="Report",
            labels={"report": "self-contained HTML report"},
        ),
    params:
        engine=engine_code("reporting", "analysis", "stats"),
        config=config,
        analyses={name: spec.to_params() for name, spec in SPECS.items()},
        layout=REPORT_FILES,
    log:
        "results/logs/report.log",
    group:
        "summary"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/report.py"
