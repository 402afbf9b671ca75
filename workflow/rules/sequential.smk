# Cumulative evidence over time (analyses whose `sensitivity:` list has cumulative), one job per analysis:
# results/<plan>/analyses/<analysis>/sequential.tsv (the trial sequential view, exploratory), the cumulative forest
# plot by publication year with the releases of releases/*.json marked (figures/cumulative_<analysis>.*) and the
# trial sequential plot (figures/tsa_<analysis>.*). Adding a release redraws the figures.


rule sequential:
    input:
        estimates=estimates_for,
        cumulative=f"{OUT}/analyses/{{analysis}}/cumulative.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
        releases=sorted(glob.glob(f"{RELEASES_DIR}/*.json")),
    output:
        table=f"{OUT}/analyses/{{analysis}}/sequential.tsv",
        cumulative=figure_files(
            "cumulative_{analysis}",
            caption="../report/cumulative.rst",
            category="Cumulative evidence",
            labels={"analysis": "{analysis}", "figure": "cumulative meta-analysis"},
        ),
        tsa=figure_files(
            "tsa_{analysis}",
            caption="../report/tsa.rst",
            category="Cumulative evidence",
            labels={"analysis": "{analysis}", "figure": "trial sequential analysis (exploratory)"},
        ),
    log:
        f"{OUT}/logs/sequential_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(CUMULATIVE_PLOTS),
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        spec=lambda wildcards: sequential_params(wildcards.analysis),
        releases=RELEASES_DIR,
    message:
        say("cumulative evidence and trial sequential view of {wildcards.analysis}")
    run:
        run_job("sequential", rule, input, output, params, wildcards, log)
