# Figures of each analysis, in the formats of `figure_formats` (figure_files in common.smk: SVG, embedded in the
# report, and on request PDF and PNG at 300 dpi): the forest
# plot, the funnel plot (analyses pooled by inverse variance or the GLMM: studies with a standard error, around
# an overall estimate: not for overall: false), the
# leave-one-out plot (analyses whose `sensitivity:` list has leave_one_out) and the study flow (every analysis;
# with results/<plan>/analyses/<analysis>/flow.tsv, its counts). The SVGs are marked for `snakemake --report`.

# analyses with per-study standard errors (not the median of medians) and an overall estimate
FUNNELS = [name for name, spec in SPECS.items() if spec.funnel]
LOO_PLOTS = [name for name in ANALYSES if "leave_one_out" in SENSITIVITY[name]]


rule forest:
    input:
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
        # the analysis's Bayesian fit (shrinkage estimates and posteriors), when it has a `bayes:` block
        bayes=lambda wildcards: (
            [f"{OUT}/analyses/{wildcards.analysis}/bayes.tsv"] if "bayes" in SENSITIVITY[wildcards.analysis] else []
        ),
        # each subgroup's heterogeneity (Q, df, p) for its line under the subgroup (analyses with a subgroup)
        subgroups=lambda wildcards: sensitivity_tables(wildcards.analysis).get("subgroups", []),
        # forest_rob: the risk-of-bias table and the studies it is validated against (none without the option or
        # without the table)
        risk_of_bias=lambda wildcards: forest_rob_inputs(wildcards.analysis),
    output:
        figure=figure_files(
            "forest_{analysis}",
            caption="../report/forest.rst",
            category="Forest plots",
            labels={"analysis": "{analysis}", "figure": "forest plot"},
        ),
    log:
        f"{OUT}/logs/forest_{{analysis}}.log",
    wildcard_constraints:
        # the analyses of a batch (analyses_per_job) have their forest plots drawn by their batch (batch.smk)
        analysis=one_of(UNBATCHED),
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        p_values=config["p_values"],
        sort=lambda wildcards: SPECS[wildcards.analysis].forest_sort,
        rob=lambda wildcards: forest_rob_params(wildcards.analysis),
        # forest_rob: rerun when the risk-of-bias table has other bytes, whatever its time (common.smk)
        data=lambda wildcards: data_digests(*forest_rob_inputs(wildcards.analysis)),
    message:
        say("forest plot of {wildcards.analysis}")
    run:
        run_job("forest", rule, input, output, params, wildcards, log)


rule funnel:
    input:
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        figure=figure_files(
            "funnel_{analysis}",
            caption="../report/funnel.rst",
            category="Funnel plots",
            labels={"analysis": "{analysis}", "figure": "funnel plot"},
        ),
    log:
        f"{OUT}/logs/funnel_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(FUNNELS),
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        spec=lambda wildcards: ANALYSES[wildcards.analysis],
        p_values=config["p_values"],
    message:
        say("funnel plot of {wildcards.analysis}")
    run:
        run_job("funnel", rule, input, output, params, wildcards, log)


rule leave_one_out_plot:
    input:
        leave_one_out=f"{OUT}/analyses/{{analysis}}/leave_one_out.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        figure=figure_files(
            "loo_{analysis}",
            caption="../report/loo.rst",
            category="Leave-one-out plots",
            labels={"analysis": "{analysis}", "figure": "leave-one-out plot"},
        ),
    log:
        f"{OUT}/logs/loo_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(LOO_PLOTS),
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
    message:
        say("leave-one-out plot of {wildcards.analysis}")
    run:
        run_job("leave_one_out_plot", rule, input, output, params, wildcards, log)


rule flow:
    input:
        estimates=estimates_for,
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        table=f"{OUT}/analyses/{{analysis}}/flow.tsv",
        figure=figure_files(
            "flow_{analysis}",
            caption="../report/flow.rst",
            category="Study flow",
            labels={"analysis": "{analysis}", "figure": "study flow"},
        ),
    log:
        f"{OUT}/logs/flow_{{analysis}}.log",
    group:
        "analysis"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        spec=lambda wildcards: ANALYSES[wildcards.analysis],
    message:
        say("study flow of {wildcards.analysis}")
    run:
        run_job("flow", rule, input, output, params, wildcards, log)
