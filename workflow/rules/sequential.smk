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
        cumulative_svg=report(
            f"{OUT}/figures/cumulative_{{analysis}}.svg",
            caption="../report/cumulative.rst",
            category="Cumulative evidence",
            labels={"analysis": "{analysis}", "figure": "cumulative meta-analysis"},
        ),
        cumulative_pdf=f"{OUT}/figures/cumulative_{{analysis}}.pdf",
        cumulative_png=f"{OUT}/figures/cumulative_{{analysis}}.png",
        tsa_svg=report(
            f"{OUT}/figures/tsa_{{analysis}}.svg",
            caption="../report/tsa.rst",
            category="Cumulative evidence",
            labels={"analysis": "{analysis}", "figure": "trial sequential analysis (exploratory)"},
        ),
        tsa_pdf=f"{OUT}/figures/tsa_{{analysis}}.pdf",
        tsa_png=f"{OUT}/figures/tsa_{{analysis}}.png",
    log:
        f"{OUT}/logs/sequential_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(CUMULATIVE_PLOTS),
    group:
        "analysis"
    conda:
        "../envs/metapool.yaml"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        spec=lambda wildcards: sequential_params(wildcards.analysis),
        releases=RELEASES_DIR,
    message:
        say("cumulative evidence and trial sequential view of {wildcards.analysis}")
    script:
        "../scripts/sequential.py"
