# The self-contained HTML report.


rule report:
    input:
        data=list(DATA.values()),
        studies="results/tables/studies.tsv",
        audit="results/tables/audit.tsv",
        pooled="results/tables/pooled.tsv",
        analyses=expand("results/analyses/{analysis}/studies.tsv", analysis=ANALYSES),
        figures=forest_plots("svg"),
        template="workflow/report/report.html.j2",
    output:
        "results/report.html",
    params:
        engine=ENGINE,
        config=config,
        analyses=ANALYSES,
    log:
        "results/logs/report.log",
    group:
        "summary"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/report.py"
