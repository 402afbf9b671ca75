# With `analyses_per_job: N` (N > 1), consecutive analyses share one job: their pooling (studies.tsv,
# pooled.tsv), sensitivity tables and multiverse, so that many small analyses do not each pay the start-up of
# a Python process. These rules name their outputs without wildcards, so Snakemake prefers them to the
# one-analysis rules (pool, sensitivity, multiverse); forest plots and specification curves stay one job each.
# The job reads its analyses from the config; its params hold a digest of their specifications (a rerun
# trigger), not the specifications: Snakemake records the params with each of the job's hundreds of outputs.


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
        run:
            run_job("analyses_batch", input, output, params, wildcards, log)
