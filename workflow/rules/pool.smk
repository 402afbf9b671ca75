# One job per configured analysis, then one table of every pooled result.


rule pool:
    input:
        estimates=estimates_for,
    output:
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    log:
        f"{OUT}/logs/pool_{{analysis}}.log",
    group:
        "analysis"
    params:
        engine=engine_code("analysis", "stats"),
        spec=lambda wildcards: ANALYSES[wildcards.analysis],
    message:
        say("pooling {wildcards.analysis}")
    run:
        run_job("pool", rule, input, output, params, wildcards, log)


rule pooled_table:
    input:
        expand(f"{OUT}/analyses/{{analysis}}/pooled.tsv", analysis=ANALYSES),
    output:
        f"{OUT}/tables/pooled.tsv",
    log:
        f"{OUT}/logs/pooled_table.log",
    group:
        "summary"
    params:
        engine=engine_code("analysis", "stats"),
    message:
        say("table of every pooled estimate")
    run:
        run_job("concat_tables", rule, input, output, params, wildcards, log)
