# Per-study estimates (one table per extraction table), the table of every study (results/<plan>/tables/
# studies.tsv) and the extraction audit.


rule estimates:
    input:
        studies=DATA["studies"],
        table=lambda wildcards: DATA[wildcards.table],
        # the job validates both tables against their schemas and the declared vocabulary: editing one reruns it
        schemas=lambda wildcards: [table_schema("studies"), table_schema(wildcards.table)],
        vocabulary=VOCABULARY,
    output:
        f"{OUT}/tables/{{table}}_estimates.tsv",
        # the SHA-256 of the bytes the job parsed (the two tables, the vocabulary file): the report's provenance
        inputs=f"{OUT}/inputs/estimates_{{table}}.json",
    log:
        f"{OUT}/logs/estimates_{{table}}.log",
    group:
        "extract"
    params:
        engine=engine_code("analysis", "stats"),
        # reruns the job when a file it reads has other bytes than when it ran, whatever its time (common.smk)
        data=lambda wildcards: data_digests(DATA["studies"], DATA[wildcards.table], VOCABULARY),
    message:
        say("per-study estimates of {wildcards.table}.tsv")
    run:
        run_job("estimates", rule, input, output, params, wildcards, log)


rule studies_table:
    input:
        expand(f"{OUT}/tables/{{table}}_estimates.tsv", table=ESTIMATE_TABLES),
    output:
        f"{OUT}/tables/studies.tsv",
    log:
        f"{OUT}/logs/studies_table.log",
    group:
        "extract"
    params:
        engine=engine_code("analysis", "stats"),
        # the exact CIs of the proportions, computed here (the estimates tables carry none): changing
        # study_level reruns this table and what shows it (workbook, report), no analysis
        level=config["study_level"],
    message:
        say("exact CIs of every study")
    run:
        run_job("studies_table", rule, input, output, params, wildcards, log)


rule audit:
    input:
        # no response table: an audit with no rows
        response=[PRESENT["response"]] if "response" in PRESENT else [],
    output:
        f"{OUT}/tables/audit.tsv",
        inputs=f"{OUT}/inputs/audit.json",
    log:
        f"{OUT}/logs/audit.log",
    group:
        "extract"
    params:
        engine=engine_code("analysis", "stats"),
        data=data_digests(*([PRESENT["response"]] if "response" in PRESENT else [])),
    message:
        say("audit of the response table")
    run:
        run_job("audit", rule, input, output, params, wildcards, log)
