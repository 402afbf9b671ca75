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
