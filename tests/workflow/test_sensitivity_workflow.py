"""The workflow writes every configured sensitivity table and multiverse with its columns."""

from __future__ import annotations

import yaml

from metapool.analysis.bayes import BAYES_COLUMNS
from metapool.analysis.config import analysis_specs, fill_defaults
from metapool.analysis.diagnostics import (
    CUMULATIVE_COLUMNS,
    INFLUENCE_COLUMNS,
    LEAVE_ONE_OUT_COLUMNS,
    SMALL_STUDY_COLUMNS,
)
from metapool.analysis.estimates import TEXT_COLUMNS
from metapool.analysis.run import SUBGROUP_TABLE_COLUMNS
from metapool.io import read_tsv

from conftest import ROOT

COLUMNS = {"leave_one_out": LEAVE_ONE_OUT_COLUMNS, "influence": INFLUENCE_COLUMNS, "cumulative": CUMULATIVE_COLUMNS,
           "small_study": SMALL_STUDY_COLUMNS, "subgroups": SUBGROUP_TABLE_COLUMNS, "bayes": BAYES_COLUMNS}


def test_workflow_writes_every_configured_sensitivity_table_and_multiverse(workflow_run):
    specs = analysis_specs(fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text())))
    for name, spec in specs.items():
        for kind in spec.sensitivity_tables:
            table = read_tsv(workflow_run / f"results/default/analyses/{name}/{kind}.tsv", text_columns=TEXT_COLUMNS)
            assert list(table.columns) == COLUMNS[kind], (name, kind)
        if spec.multiverse is not None:
            assert (workflow_run / f"results/default/multiverse/{name}.tsv").exists()
            assert (workflow_run / f"results/default/multiverse/{name}_summary.tsv").exists()
            for ext in ("svg", "pdf", "png"):
                assert (workflow_run / f"results/default/figures/spec_curve_{name}.{ext}").stat().st_size > 1000


def test_hazard_ratio_analyses_get_their_sequential_view_and_cumulative_figures(workflow_run):
    """Every default analysis with a cumulative table gets sequential.tsv (the view of that cumulative table,
    :func:`metapool.analysis.sequential.sequential_frame`), its two figures in every format and a "Cumulative
    evidence" subsection in the report; the one-arm analyses get none."""
    import pandas as pd

    from metapool.analysis.run import prepare_analysis
    from metapool.analysis.sequential import SEQUENTIAL_COLUMNS, sequential_conclusion, sequential_frame

    from conftest import estimate_frames

    specs = analysis_specs(fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text())))
    estimates = estimate_frames()
    out = workflow_run / "results/default"
    report = (out / "report.html").read_text(encoding="utf-8")
    hr = [name for name, spec in specs.items() if spec.measure == "hr" and not spec.is_network]
    assert hr and all("cumulative" in specs[name].sensitivity_tables for name in hr)
    for name, spec in specs.items():
        table = out / f"analyses/{name}/sequential.tsv"
        if "cumulative" not in spec.sensitivity_tables:
            assert not table.exists() and not (out / f"figures/tsa_{name}.svg").exists()
            continue
        got = read_tsv(table, text_columns=TEXT_COLUMNS + ["label", "reason", "crossed"])
        assert list(got.columns) == SEQUENTIAL_COLUMNS
        cum = read_tsv(out / f"analyses/{name}/cumulative.tsv", text_columns=TEXT_COLUMNS + ["label", "reason"])
        data = prepare_analysis(pd.concat([estimates[t] for t in spec.tables], ignore_index=True), spec)
        want = sequential_frame(cum, spec, data.included_effects()[1])
        pd.testing.assert_frame_equal(got[["look", "z", "fraction", "boundary", "ris", "d2"]],
                                      want[["look", "z", "fraction", "boundary", "ris", "d2"]], rtol=1e-12,
                                      check_dtype=False)
        assert list(got["crossed"].fillna("")) == list(want["crossed"])
        for stem in ("cumulative", "tsa"):
            for ext in ("svg", "pdf", "png"):
                assert (out / f"figures/{stem}_{name}.{ext}").stat().st_size > 0
        assert sequential_conclusion(want).replace("'", "&#39;") in report
    pairwise = [spec for spec in specs.values() if not spec.is_network]
    assert report.count("<h4>Cumulative evidence</h4>") == len(pairwise)
    for spec in pairwise:
        if spec.no_effect is None:  # a one-arm measure: the report says why in one line
            assert (f"No sequential view: a {spec.measure} is a one-arm measure with no value of no effect to test "
                    "against.") in report
