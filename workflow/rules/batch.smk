# With `analyses_per_job: N` (N > 1), consecutive analyses share one job: their pooling (studies.tsv,
# pooled.tsv), sensitivity tables and multiverse in one, their forest plots in another, so that hundreds of analyses
# are not thousands of jobs. These rules name their outputs without wildcards, so Snakemake prefers them to the
# one-analysis rules (pool, sensitivity, multiverse, forest); the other figures stay one job each. Each batch is a
# process of its own (`script:`, unlike the other rules' jobs, which run in Snakemake's process): its start-up is
# small beside hundreds of analyses, and batches then use every core. The tables job reads its analyses from the
# config; its params hold a digest of their specifications (a rerun trigger), not the specifications: Snakemake
# records the params with each of the job's hundreds of outputs.


for _i, _members in enumerate(BATCHES, start=1):

    rule:
        name:
            f"analyses_batch_{_i}"
        input:
            **batch_estimates(_members),
        output:
            **batch_outputs(_members),
        log:
            f"{OUT}/logs/analyses_batch_{_i}.log",
        group:
            "analysis"
        params:
            engine=engine_code("analysis", "stats"),
            specs=batch_digest(_members),
        message:
            say(f"pooling {len(_members)} analyses: {_members[0]} to {_members[-1]}")
        script:
            "../scripts/analyses_batch.py"

    rule:
        name:
            f"forest_batch_{_i}"
        input:
            **batch_forest_inputs(_members),
        output:
            **batch_forest_outputs(_members),
        log:
            f"{OUT}/logs/forest_batch_{_i}.log",
        group:
            "analysis"
        params:
            engine=engine_code("figures", "analysis", "stats"),
            p_values=config["p_values"],
            forests=batch_forest_params(_members),
            data=data_digests(*batch_rob_inputs(_members)),
        message:
            say(f"forest plots of {len(_members)} analyses: {_members[0]} to {_members[-1]}")
        script:
            "../scripts/forest_batch.py"
