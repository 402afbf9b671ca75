"""Workflow runs of test_sensitivity_outputs: the tests that run Snakemake."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from metapool.analysis.run import AnalysisError, SUBGROUP_TABLE_COLUMNS, prepare_analysis, run_analysis
from metapool.stats.bias import begg_test, egger_test, trim_and_fill
from metapool.analysis.config import fill_defaults, pooling_spec, resolve_analyses, sensitivity_outputs
from metapool.analysis.diagnostics import (
    CUMULATIVE_COLUMNS,
    INFLUENCE_COLUMNS,
    LEAVE_ONE_OUT_COLUMNS,
    SMALL_STUDY_COLUMNS,
    sensitivity_frames,
)
from metapool.stats.effects import ilogit
from metapool.analysis.estimates import TEXT_COLUMNS, hr_estimates, response_estimates, survival_estimates
from metapool.stats.glmm import glmm_proportions
from metapool.io import read_tsv
from metapool.vocabulary import estimate_tables
from metapool.stats.pooling import inverse_variance
from metapool.stats.proportions import pool_proportions, proportion_effects
from metapool.stats.sensitivity import cumulative, influence, leave_one_out
from metapool.analysis.validation import read_raw, validate_tables

from conftest import ROOT


def test_workflow_writes_every_configured_sensitivity_table_and_multiverse(workflow_run, specs):
    for name, spec in specs.items():
        for kind in sensitivity_outputs(spec):
            table = read_tsv(workflow_run / f"results/analyses/{name}/{kind}.tsv", text_columns=TEXT_COLUMNS)
            assert list(table.columns) == COLUMNS[kind], (name, kind)
        if spec.get("multiverse"):
            assert (workflow_run / f"results/multiverse/{name}.tsv").exists()
            assert (workflow_run / f"results/multiverse/{name}_summary.tsv").exists()
            for ext in ("svg", "pdf", "png"):
                assert (workflow_run / f"results/figures/spec_curve_{name}.{ext}").stat().st_size > 1000
