"""Workflow runs of test_flow: the study flow of every analysis of the default run adds up."""

from __future__ import annotations

from metapool.analysis.flow import flow_from_frame


def test_study_flow_of_every_default_analysis_adds_up(workflow_run):
    from metapool.analysis.estimates import TEXT_COLUMNS
    from metapool.io import read_tsv

    text = TEXT_COLUMNS + ["label", "reason", "status", "stage"]
    pooled = read_tsv(workflow_run / "results/default/tables/pooled.tsv", text_columns=text).set_index("analysis")
    for path in sorted((workflow_run / "results/default/analyses").glob("*/flow.tsv")):
        flow = flow_from_frame(read_tsv(path, text_columns=text))
        st = read_tsv(path.parent / "studies.tsv", text_columns=text)
        assert flow.in_data == flow.n_excluded + flow.matching, path
        assert flow.matching == flow.n_set_aside + flow.selected == st["study_id"].nunique(), path
        assert flow.selected == flow.n_not_pooled + flow.pooled, path
        assert flow.pooled == pooled.loc[path.parent.name, "k"], path
