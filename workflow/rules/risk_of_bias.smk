# Risk-of-bias figures of each analysis whose results the data folder's risk_of_bias.tsv judges (optional table;
# metapool.analysis.risk_of_bias): the traffic-light plot and the weighted summary bar plot (as robvis), as SVG
# (embedded in the report), PDF and PNG. An analysis has them when the table judges its outcome (or `all`
# outcomes) with a tool for its kind of result (RoB 2 or ROBINS-I for a comparison, the JBI checklist for a single
# arm); the figures show the studies it pools that have judgements.


rule risk_of_bias_figures:
    input:
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        risk_of_bias=DATA[RISK_OF_BIAS_TABLE],
        data_studies=DATA["studies"],
        schemas=[table_schema("studies"), table_schema(RISK_OF_BIAS_TABLE)],
        vocabulary=VOCABULARY,
    output:
        traffic_light=figure_files(
            "rob_traffic_light_{analysis}",
            caption="../report/risk_of_bias.rst",
            category="Risk of bias",
            labels={"analysis": "{analysis}", "figure": "risk-of-bias traffic-light plot"},
        ),
        summary=figure_files(
            "rob_summary_{analysis}",
            caption="../report/risk_of_bias.rst",
            category="Risk of bias",
            labels={"analysis": "{analysis}", "figure": "risk-of-bias weighted summary plot"},
        ),
        # the SHA-256 of the bytes the job parsed (the report's provenance)
        inputs=f"{OUT}/inputs/risk_of_bias_{{analysis}}.json",
    log:
        f"{OUT}/logs/risk_of_bias_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(ROB_PLOTS),
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        data=lambda wildcards: data_digests(DATA["studies"], DATA[RISK_OF_BIAS_TABLE], VOCABULARY),
        outcome=lambda wildcards: config_outcome(SPECS[wildcards.analysis].outcome).code,
        comparative=lambda wildcards: SPECS[wildcards.analysis].comparative,
        title=lambda wildcards: SPECS[wildcards.analysis].title,
    message:
        say("risk-of-bias figures of {wildcards.analysis}")
    run:
        run_job("risk_of_bias_figures", rule, input, output, params, wildcards, log)
