# Sensitivity tables of each analysis, one job per analysis: results/<plan>/analyses/<analysis>/ subgroups.tsv (when
# the analysis has a subgroup), bayes.tsv (when it has a `bayes:` block), leave_one_out.tsv, influence.tsv, cumulative.tsv, small_study.tsv (those its
# `sensitivity:` list names). Analyses with the same set of tables share a rule (its outputs are fixed). The job
# checks that it refits the studies of the analysis's pooled.tsv (which also keeps it in the analysis's group).


for _kinds, _members in SENSITIVITY_RULES.items():

    rule:
        name:
            sensitivity_rule_name(_kinds)
        input:
            estimates=estimates_for,
            pooled=f"{OUT}/analyses/{{analysis}}/pooled.tsv",
        output:
            **{kind: f"{OUT}/analyses/{{analysis}}/{kind}.tsv" for kind in _kinds},
        log:
            f"{OUT}/logs/sensitivity_{{analysis}}.log",
        wildcard_constraints:
            analysis=one_of(_members),
        group:
            "analysis"
        params:
            engine=engine_code("analysis", "stats"),
            spec=lambda wildcards: sensitivity_params(wildcards.analysis),
        message:
            say(f"sensitivity tables ({', '.join(_kinds)}) of {{wildcards.analysis}}")
        run:
            run_job("sensitivity", rule, input, output, params, wildcards, log)
