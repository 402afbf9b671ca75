# The self-contained HTML report (results/<plan>/report.html) and every result table in one XLSX workbook
# (results/<plan>/tables/results.xlsx). Both are marked for Snakemake's own report: `snakemake --report report.html`.

# per analysis, kind -> path of every file the report shows; a kind that is absent (a sensitivity table not in
# the analysis's `sensitivity:` list, no multiverse, no funnel for the median of medians) is explained there
REPORT_FILES = {
    name: {
        "studies": f"{OUT}/analyses/{name}/studies.tsv",
        "pooled": f"{OUT}/analyses/{name}/pooled.tsv",
        "flow": f"{OUT}/analyses/{name}/flow.tsv",
        **sensitivity_tables(name),
        **(multiverse_tables(name) if name in MULTIVERSES else {}),
        "forest": f"{OUT}/figures/forest_{name}.svg",
        "flow_figure": f"{OUT}/figures/flow_{name}.svg",
        **({"funnel": f"{OUT}/figures/funnel_{name}.svg"} if name in FUNNELS else {}),
        **({"loo": f"{OUT}/figures/loo_{name}.svg"} if name in LOO_PLOTS else {}),
        **(
            {
                "sequential": f"{OUT}/analyses/{name}/sequential.tsv",
                "cumulative_figure": f"{OUT}/figures/cumulative_{name}.svg",
                "sequential_figure": f"{OUT}/figures/tsa_{name}.svg",
            }
            if name in CUMULATIVE_PLOTS
            else {}
        ),
        **({"spec_curve": f"{OUT}/figures/spec_curve_{name}.svg"} if name in MULTIVERSES else {}),
        **(rob_figures(name) if name in ROB_PLOTS else {}),
    }
    for name in ANALYSES
}

# per network analysis, kind -> path of its tables and SVG figures (the report's network section)
NETWORK_REPORT_FILES = {
    name: {
        **network_tables(name),
        **{("league_figure" if kind == "league" else kind): path for kind, path in network_figures(name).items()},
    }
    for name in NETWORKS
}

# sheet title -> table of the workbook: the summary tables, then each analysis's tables in config order
WORKBOOK_SHEETS = {
    "pooled": f"{OUT}/tables/pooled.tsv",
    "studies": f"{OUT}/tables/studies.tsv",
    "audit": f"{OUT}/tables/audit.tsv",
    **{
        f"{i} {kind}": path
        for i, name in enumerate(ANALYSES, start=1)
        for kind, path in REPORT_FILES[name].items()
        if path.endswith(".tsv")
    },
    **{
        f"{i} {kind}": path
        for i, name in enumerate(NETWORKS, start=len(ANALYSES) + 1)
        for kind, path in network_tables(name).items()
    },
}

# one formatted summary table per analysis (rounded, with units), as CSV, and all of them in one Word document
SUMMARY_TABLES = {name: f"{OUT}/tables/summary/{name}.csv" for name in ANALYSES}
SUMMARY_DOCX = f"{OUT}/tables/summary_tables.docx"

# the summary-of-findings table (SOF_CSV, SOF_TSV: common.smk): what each analysis's certainty is computed from
SOF_KINDS = ("studies", "pooled", "subgroups", "small_study")

# the figures, the workbook and the summary tables (rule all): every format of the report's figures
REPORT_TARGETS = [
    f"{OUT}/tables/results.xlsx",
    SOF_CSV,
    *SUMMARY_TABLES.values(),
    SUMMARY_DOCX,
    *expand(f"{OUT}/figures/flow_{{analysis}}.{{ext}}", analysis=ANALYSES, ext=FIGURE_FORMATS),
    *expand(f"{OUT}/figures/funnel_{{analysis}}.{{ext}}", analysis=FUNNELS, ext=FIGURE_FORMATS),
    *expand(f"{OUT}/figures/loo_{{analysis}}.{{ext}}", analysis=LOO_PLOTS, ext=FIGURE_FORMATS),
    *[path for name in ROB_PLOTS for ext in FIGURE_FORMATS for path in rob_figures(name, ext).values()],
    *[path for name in CUMULATIVE_PLOTS for ext in FIGURE_FORMATS for path in sequential_outputs(name, ext)],
]


rule workbook:
    input:
        list(WORKBOOK_SHEETS.values()),
    output:
        report(
            f"{OUT}/tables/results.xlsx",
            caption="../report/workbook.rst",
            category="Tables",
            labels={"table": "all result tables (XLSX)"},
        ),
    log:
        f"{OUT}/logs/workbook.log",
    group:
        "summary"
    params:
        engine=engine_code("reporting", "analysis", "stats"),
        sheets=WORKBOOK_SHEETS,
    message:
        say("workbook of every table")
    run:
        run_job("workbook", rule, input, output, params, wildcards, log)


rule summary_of_findings:
    input:
        tables=[REPORT_FILES[name][kind] for name in ANALYSES for kind in SOF_KINDS if kind in REPORT_FILES[name]],
        data_studies=DATA["studies"],
        # the overall risk-of-bias judgements (GRADE's risk-of-bias domain), when the data folder has the table
        risk_of_bias=[PRESENT[RISK_OF_BIAS_TABLE]] if RISK_OF_BIAS_TABLE in PRESENT else [],
    output:
        csv=SOF_CSV,
        tsv=SOF_TSV,
    log:
        f"{OUT}/logs/summary_of_findings.log",
    group:
        "summary"
    params:
        engine=engine_code("analysis", "stats"),
        data=data_digests(*[PRESENT[t] for t in ("studies", RISK_OF_BIAS_TABLE) if t in PRESENT]),
        analyses={
            name: {
                "spec": SPECS[name].to_params(),
                **{kind: REPORT_FILES[name][kind] for kind in SOF_KINDS if kind in REPORT_FILES[name]},
            }
            for name in ANALYSES
        },
    message:
        say("summary of findings with the certainty of the evidence")
    run:
        run_job("summary_of_findings", rule, input, output, params, wildcards, log)


rule summary_tables:
    input:
        [
            REPORT_FILES[name][kind]
            for name in ANALYSES
            for kind in ("studies", "pooled", "subgroups")
            if kind in REPORT_FILES[name]
        ],
    output:
        csv=list(SUMMARY_TABLES.values()),
        docx=report(
            SUMMARY_DOCX,
            caption="../report/summary_tables.rst",
            category="Tables",
            labels={"table": "summary tables (Word)"},
        ),
    log:
        f"{OUT}/logs/summary_tables.log",
    group:
        "summary"
    params:
        engine=engine_code("reporting", "figures", "analysis", "stats"),
        analyses={
            name: {
                "studies": REPORT_FILES[name]["studies"],
                "pooled": REPORT_FILES[name]["pooled"],
                "sort": SPECS[name].forest_sort,
                **({"subgroups": REPORT_FILES[name]["subgroups"]} if "subgroups" in REPORT_FILES[name] else {}),
            }
            for name in ANALYSES
        },
        csv=SUMMARY_TABLES,
        p_values=config["p_values"],
    message:
        say("summary tables")
    run:
        run_job("summary_tables", rule, input, output, params, wildcards, log)


# the records of what the jobs read from the data folder (metapool.inputs): the report's provenance lists them
READ_RECORDS = [
    *expand(f"{OUT}/inputs/estimates_{{table}}.json", table=ESTIMATE_TABLES),
    f"{OUT}/inputs/audit.json",
    *expand(f"{OUT}/inputs/network_{{network}}.json", network=NETWORKS),
    *expand(f"{OUT}/inputs/risk_of_bias_{{analysis}}.json", analysis=ROB_PLOTS),
]


rule report:
    input:
        # compared with what the jobs read: a file that differs is named at the top of the report
        data=[*PRESENT.values(), VOCABULARY],
        read=READ_RECORDS,
        studies=f"{OUT}/tables/studies.tsv",
        audit=f"{OUT}/tables/audit.tsv",
        pooled=f"{OUT}/tables/pooled.tsv",
        workbook=f"{OUT}/tables/results.xlsx",
        sof=SOF_TSV,
        # what changed since the release compare_to names (release.smk, parsed after this file: a function)
        changes=lambda wildcards: [CHANGES, f"{RELEASES_DIR}/{COMPARE_TO['name']}.json"] if CHANGES else [],
        releases=sorted(glob.glob(f"{RELEASES_DIR}/*.json")),
        analyses=[path for files in REPORT_FILES.values() for path in files.values()],
        networks=[path for files in NETWORK_REPORT_FILES.values() for path in files.values()],
        template=workflow_file("../report/report.html.j2"),
    output:
        report(
            f"{OUT}/report.html",
            caption="../report/report.rst",
            category="Report",
            labels={"report": "self-contained HTML report"},
        ),
    log:
        f"{OUT}/logs/report.log",
    group:
        "summary"
    params:
        engine=engine_code("reporting", "analysis", "stats"),
        # rerun when a data file changes, whatever its time: the report compares each with what the jobs read
        data=data_digests(*PRESENT.values(), VOCABULARY),
        config=config,
        analyses={name: spec.to_params() for name, spec in SPECS.items()},
        layout=REPORT_FILES,
        networks={name: spec.to_params() for name, spec in NETWORKS.items()},
        network_layout=NETWORK_REPORT_FILES,
    message:
        say("report")
    run:
        run_job("report", rule, input, output, params, wildcards, log)
