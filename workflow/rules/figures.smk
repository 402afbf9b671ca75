# A forest plot per analysis, as SVG, PDF and PNG.


rule forest:
    input:
        studies="results/analyses/{analysis}/studies.tsv",
        pooled="results/analyses/{analysis}/pooled.tsv",
    output:
        multiext("results/figures/forest_{analysis}", ".svg", ".pdf", ".png"),
    params:
        engine=ENGINE,
    log:
        "results/logs/forest_{analysis}.log",
    group:
        "analysis"
    conda:
        "../envs/metapool.yaml"
    script:
        "../scripts/forest.py"
