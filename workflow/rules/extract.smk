# Per-study estimates (one table per extraction table) and the extraction audit.


rule estimates:
    input:
        studies=DATA["studies"],
        table=lambda wildcards: DATA[wildcards.table],
        # the job validates both tables against their schemas and the declared vocabulary: editing one reruns it
        schemas=lambda wildcards: [table_schema("studies"), table_schema(wildcards.table)],
        vocabulary=VOCABULARY,
    output:
        "results/tables/{table}_estimates.tsv",
    params:
        engine=engine_code("analysis", "stats"),
        level=config["level"],
    log:
        "results/logs/estimates_{table}.log",
    group:
        "extract"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/estimates.py"


rule studies_table:
    input:
        expand("results/tables/{table}_estimates.tsv", table=ESTIMATE_TABLES),
    output:
        "results/tables/studies.tsv",
    params:
        engine=engine_code("analysis", "stats"),
    log:
        "results/logs/studies_table.log",
    group:
        "extract"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/concat_tables.py"


rule audit:
    input:
        # no response table: an audit with no rows
        response=[PRESENT["response"]] if "response" in PRESENT else [],
    output:
        "results/tables/audit.tsv",
    params:
        engine=engine_code("analysis", "stats"),
    log:
        "results/logs/audit.log",
    group:
        "extract"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/audit.py"
