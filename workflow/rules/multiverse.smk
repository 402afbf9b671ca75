# The multiverse of each analysis with a `multiverse:` block: every specification pooled in one vectorised
# call (results/<plan>/multiverse/<analysis>.tsv and <analysis>_summary.tsv), and its specification curve (which marks
# the analysis as configured, from its pooled.tsv).


rule multiverse:
    input:
        estimates=estimates_for,
    output:
        table=f"{OUT}/multiverse/{{analysis}}.tsv",
        summary=f"{OUT}/multiverse/{{analysis}}_summary.tsv",
    log:
        f"{OUT}/logs/multiverse_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(MULTIVERSES),
    group:
        "analysis"
    params:
        engine=engine_code("analysis", "stats"),
        spec=lambda wildcards: multiverse_params(wildcards.analysis),
    message:
        say("multiverse of {wildcards.analysis}")
    run:
        run_job("multiverse", rule, input, output, params, wildcards, log)


rule spec_curve:
    input:
        table=f"{OUT}/multiverse/{{analysis}}.tsv",
        summary=f"{OUT}/multiverse/{{analysis}}_summary.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        figure=figure_files("spec_curve_{analysis}"),
    log:
        f"{OUT}/logs/spec_curve_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(MULTIVERSES),
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
    message:
        say("specification curve of {wildcards.analysis}")
    run:
        run_job("spec_curve", rule, input, output, params, wildcards, log)
