"""Figures of a network analysis (metapool.figures.network): the graph's nodes and edges from the contrasts,
node sizes by participants only when every arm is known, and deterministic bytes."""

from __future__ import annotations

import math

import pandas as pd

from metapool.figures.network import effects_forest, league_figure, network_graph, node_table
from metapool.figures.style import save_figure


def contrasts(n_comparator=(100.0, 80.0, 120.0)):
    """A three-arm trial M (B and C against A, sharing A's arm) and a two-arm trial T (C vs A)."""
    return pd.DataFrame({"trial": ["M", "M", "T"], "treatment": ["B", "C", "C"], "comparator": ["A", "A", "A"],
                         "n_treatment": [50.0, 60.0, 70.0], "n_comparator": list(n_comparator)})


def test_nodes_and_edges_count_trials_and_participants():
    edges, nodes = node_table(contrasts())
    assert edges.values.tolist() == [["A", "B", 1], ["A", "C", 2]]
    nodes = nodes.set_index("treatment")
    assert nodes["trials"].to_dict() == {"A": 2, "B": 1, "C": 2}
    # the shared arm of M counted once (its first contrast's number), T's arm added
    assert nodes["participants"].to_dict() == {"A": 220.0, "B": 50.0, "C": 130.0}


def test_participants_unknown_when_an_arm_is_missing():
    _, nodes = node_table(contrasts((100.0, 100.0, math.nan)))
    assert math.isnan(nodes.set_index("treatment").loc["A", "participants"])


def test_figures_are_deterministic(tmp_path):
    edges, nodes = node_table(contrasts())
    league = pd.DataFrame({"treatment": ["B", "A", "C", "A", "B", "C"], "comparator": ["A", "B", "A", "C", "C", "B"],
                           "estimate": [0.5, 2.0, 0.8, 1.25, 0.625, 1.6], "ci_lower": [0.3, 1.2, 0.6, 0.9, 0.3, 0.8],
                           "ci_upper": [0.8, 3.3, 1.1, 1.6, 1.2, 3.2]})
    effects = pd.DataFrame({"treatment": ["B", "C"], "estimate": [0.5, 0.8], "ci_lower": [0.3, 0.6],
                            "ci_upper": [0.8, 1.1], "k_direct": [1, 2]})
    for i in range(2):
        save_figure(network_graph(edges, nodes, reference="A", title="Net"), tmp_path / f"g{i}", ("svg", "png"))
        save_figure(league_figure(league, ["B", "C", "A"], title="Net"), tmp_path / f"l{i}", ("svg",))
        save_figure(effects_forest(effects, reference="A", title="Net"), tmp_path / f"f{i}", ("svg",))
    for stem, ext in (("g", "svg"), ("g", "png"), ("l", "svg"), ("f", "svg")):
        assert (tmp_path / f"{stem}0.{ext}").read_bytes() == (tmp_path / f"{stem}1.{ext}").read_bytes()
