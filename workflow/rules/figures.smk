# Figures of each analysis, as SVG (vector, embedded in the report), PDF (vector) and PNG (300 dpi): the forest
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
        svg=report(
            f"{OUT}/figures/forest_{{analysis}}.svg",
            caption="../report/forest.rst",
            category="Forest plots",
            labels={"analysis": "{analysis}", "figure": "forest plot"},
        ),
        pdf=f"{OUT}/figures/forest_{{analysis}}.pdf",
        png=f"{OUT}/figures/forest_{{analysis}}.png",
    log:
        f"{OUT}/logs/forest_{{analysis}}.log",
    group:
        "analysis"
    conda:
        "../envs/metapool.yaml"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        p_values=config["p_values"],
        sort=lambda wildcards: SPECS[wildcards.analysis].forest_sort,
        rob=lambda wildcards: forest_rob_params(wildcards.analysis),
        # forest_rob: rerun when the risk-of-bias table has other bytes, whatever its time (common.smk)
        data=lambda wildcards: data_digests(*forest_rob_inputs(wildcards.analysis)),
    message:
        say("forest plot of {wildcards.analysis}")
    script:
        "../scripts/forest.py"


rule funnel:
    input:
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        svg=report(
            f"{OUT}/figures/funnel_{{analysis}}.svg",
            caption="../report/funnel.rst",
            category="Funnel plots",
            labels={"analysis": "{analysis}", "figure": "funnel plot"},
        ),
        pdf=f"{OUT}/figures/funnel_{{analysis}}.pdf",
        png=f"{OUT}/figures/funnel_{{analysis}}.png",
    log:
        f"{OUT}/logs/funnel_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(FUNNELS),
    group:
        "analysis"
    conda:
        "../envs/metapool.yaml"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        spec=lambda wildcards: ANALYSES[wildcards.analysis],
        p_values=config["p_values"],
    message:
        say("funnel plot of {wildcards.analysis}")
    script:
        "../scripts/funnel.py"


rule leave_one_out_plot:
    input:
        leave_one_out=f"{OUT}/analyses/{{analysis}}/leave_one_out.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        svg=report(
            f"{OUT}/figures/loo_{{analysis}}.svg",
            caption="../report/loo.rst",
            category="Leave-one-out plots",
            labels={"analysis": "{analysis}", "figure": "leave-one-out plot"},
        ),
        pdf=f"{OUT}/figures/loo_{{analysis}}.pdf",
        png=f"{OUT}/figures/loo_{{analysis}}.png",
    log:
        f"{OUT}/logs/loo_{{analysis}}.log",
    wildcard_constraints:
        analysis=one_of(LOO_PLOTS),
    group:
        "analysis"
    conda:
        "../envs/metapool.yaml"
    params:
        engine=engine_code("figures", "analysis", "stats"),
    message:
        say("leave-one-out plot of {wildcards.analysis}")
    script:
        "../scripts/loo.py"


rule flow:
    input:
        estimates=estimates_for,
        studies=f"{OUT}/analyses/{{analysis}}/studies.tsv",
        pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
    output:
        table=f"{OUT}/analyses/{{analysis}}/flow.tsv",
        svg=report(
            f"{OUT}/figures/flow_{{analysis}}.svg",
            caption="../report/flow.rst",
            category="Study flow",
            labels={"analysis": "{analysis}", "figure": "study flow"},
        ),
        pdf=f"{OUT}/figures/flow_{{analysis}}.pdf",
        png=f"{OUT}/figures/flow_{{analysis}}.png",
    log:
        f"{OUT}/logs/flow_{{analysis}}.log",
    group:
        "analysis"
    conda:
        "../envs/metapool.yaml"
    params:
        engine=engine_code("figures", "analysis", "stats"),
        spec=lambda wildcards: ANALYSES[wildcards.analysis],
    message:
        say("study flow of {wildcards.analysis}")
    script:
        "../scripts/flow.py"
