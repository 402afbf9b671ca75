# Network meta-analyses (analyses with `network:`): one job fits the network and writes its tables, one job
# draws its figures (network graph, league table, forest plot against the reference). No row in
# results/<plan>/tables/pooled.tsv: a network has no single pooled estimate (its estimates are in league.tsv
# and treatment_effects.tsv).

# (forest_sort and forest_rob shape a pairwise forest plot: a network has none, so they never rerun a network job)
NETWORK_PARAMS = {
    name: {**spec.to_params(), "forest_sort": "data", "forest_rob": False} for name, spec in NETWORKS.items()
}


rule network:
    input:
        **({"survival": f"{OUT}/tables/survival_estimates.tsv"} if "survival" in ESTIMATE_TABLES else {}),
        estimates=lambda wildcards: [
            f"{OUT}/tables/{table}_estimates.tsv" for table in NETWORKS[wildcards.network].tables
        ],
        studies=DATA["studies"],
        # read by its schema's columns (metapool.analysis.validation.read_table)
        schema=table_schema("studies"),
        # the arms' participants (node sizes of the network graph), when there is a survival table
    output:
        **{kind: f"{OUT}/analyses/{{network}}/{kind}.tsv" for kind in NETWORK_TABLES},
        # the SHA-256 of the bytes of studies.tsv the job parsed: the report's provenance
        inputs=f"{OUT}/inputs/network_{{network}}.json",
    log:
        f"{OUT}/logs/network_{{network}}.log",
    group:
        "analysis"
    params:
        engine=engine_code("analysis", "stats"),
        data=data_digests(DATA["studies"]),
        spec=lambda wildcards: NETWORK_PARAMS[wildcards.network],
    message:
        say("network meta-analysis {wildcards.network}")
    run:
        run_job("network", rule, input, output, params, wildcards, log)


rule network_figures:
    input:
        studies=f"{OUT}/analyses/{{network}}/studies.tsv",
        league=f"{OUT}/analyses/{{network}}/league.tsv",
        effects=f"{OUT}/analyses/{{network}}/treatment_effects.tsv",
        ranking=f"{OUT}/analyses/{{network}}/ranking.tsv",
    output:
        **{
            kind: figure_files(
                f"network_{kind}_{{network}}",
                caption="../report/network.rst",
                category="Network meta-analyses",
                labels={"analysis": "{network}", "figure": kind},
            )
            for kind in NETWORK_FIGURES
        },
    log:
        f"{OUT}/logs/network_figures_{{network}}.log",
    group:
        "analysis"
    params:
        engine=engine_code("figures"),
        spec=lambda wildcards: NETWORK_PARAMS[wildcards.network],
    message:
        say("network figures of {wildcards.network}")
    run:
        run_job("network_figures", rule, input, output, params, wildcards, log)
