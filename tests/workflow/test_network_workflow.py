"""The default plan's first-line PFS network through Snakemake: its tables and figures are written, league.tsv
equals metapool.stats.network fitted on the contrasts of studies.tsv, and pooled.tsv is left alone."""

from __future__ import annotations

import numpy as np
import pytest

from metapool.io import read_tsv
from metapool.stats.network import network_meta_analysis
from metapool.vocabulary import NETWORK_TEXT_COLUMNS

from conftest import all_figure_formats, copy_workflow, snakemake

NAME = "pfs_hr_network_first_line"
TABLES = ("studies", "league", "treatment_effects", "ranking", "heterogeneity", "node_split", "transitivity")
FIGURES = ("graph", "league", "forest")


@pytest.fixture(scope="module")
def network_run(tmp_path_factory):
    workdir = all_figure_formats(copy_workflow(tmp_path_factory.mktemp("network")))
    out = f"results/default/analyses/{NAME}"
    targets = [f"{out}/{t}.tsv" for t in TABLES]
    targets += [f"results/default/figures/network_{k}_{NAME}.{ext}" for k in FIGURES for ext in ("svg", "pdf", "png")]
    snakemake(workdir, *targets)
    return workdir


def test_network_tables_and_figures_are_written(network_run):
    out = network_run / "results/default/analyses" / NAME
    for table in TABLES:
        assert (out / f"{table}.tsv").is_file(), table
    for kind in FIGURES:
        for ext in ("svg", "pdf", "png"):
            assert (network_run / f"results/default/figures/network_{kind}_{NAME}.{ext}").stat().st_size > 0
    league = read_tsv(out / "league.tsv", text_columns=NETWORK_TEXT_COLUMNS)
    assert list(league.columns) == ["treatment", "comparator", "estimate", "ci_lower", "ci_upper", "p"]
    assert list(read_tsv(out / "ranking.tsv", text_columns=NETWORK_TEXT_COLUMNS).columns)[:3] == [
        "treatment", "p_score", "sucra"]
    # a tree (every trial against crizotinib or chemotherapy): no comparison in a loop
    assert read_tsv(out / "node_split.tsv", text_columns=NETWORK_TEXT_COLUMNS).empty
    # no pooled row: the network job does not need pooled.tsv, nor the pairwise pooling jobs
    assert not (network_run / "results/default/tables/pooled.tsv").exists()
    assert not (network_run / f"results/default/analyses/{NAME}/pooled.tsv").exists()


def test_league_equals_the_engine_on_the_written_contrasts(network_run):
    out = network_run / "results/default/analyses" / NAME
    st = read_tsv(out / "studies.tsv", text_columns=NETWORK_TEXT_COLUMNS)
    inc = st[st["status"] == "pooled"]
    assert len(inc) == 9 and set(inc["trial"]) >= {"ALEX", "CROWN", "eXalt3", "ASCEND-4", "PROFILE 1029"}
    fit = network_meta_analysis(inc["trial"], inc["treatment"], inc["comparator"], inc["yi"].astype(float),
                                inc["vi"].astype(float), reference="crizotinib", method="REML")
    expected = fit.league.frame()
    league = read_tsv(out / "league.tsv", text_columns=NETWORK_TEXT_COLUMNS)
    assert league[["treatment", "comparator"]].values.tolist() == expected[["treatment", "comparator"]].values.tolist()
    # the TSVs keep 12 significant digits (the contrasts refitted here too): agreement to 1e-8
    np.testing.assert_allclose(league["estimate"], np.exp(expected["estimate"]), rtol=1e-8)
    np.testing.assert_allclose(league["ci_lower"], np.exp(expected["ci_lower"]), rtol=1e-8)
    np.testing.assert_allclose(league["ci_upper"], np.exp(expected["ci_upper"]), rtol=1e-8)
    np.testing.assert_allclose(league["p"], expected["pval"], rtol=1e-8)
