"""The risk-of-bias figures draw exactly the judgements of the table: the traffic-light plot's SVG text lists the
studies, the domain letters and one symbol per judged domain (row by row), the summary plot's text the domains
and judgements; both are byte-identical run to run.

What is drawn is read back from the SVG (matplotlib writes each text as an XML comment before its glyphs).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

from metapool.analysis.risk_of_bias import analysis_judgements, read_risk_of_bias
from metapool.figures.risk_of_bias import (NOT_JUDGED, ROB_SYMBOLS, ROB_WORDS, summary_figure,
                                           traffic_light_figure)
from metapool.figures.style import save_figure
from metapool.vocabulary import ROB_TOOLS

ROOT = Path(__file__).resolve().parents[2]
TRIALS = ["ALEX_alectinib", "JALEX_alectinib", "ALESIA_alectinib", "ALTA1L_brigatinib_2020", "CROWN_lorlatinib",
          "EXALT3_ensartinib", "OKAYAMA_crizotinib"]


def svg_texts(fig, path) -> list[str]:
    written = save_figure(fig, path, formats=("svg",))[0]
    return [html.unescape(t) for t in re.findall(r"<!-- (.*?) -->", written.read_text(encoding="utf-8"))]


def judged():
    table = read_risk_of_bias(ROOT / "data" / "risk_of_bias.tsv", ROOT / "data" / "studies.tsv")
    studies = pd.DataFrame({"study_id": TRIALS, "label": [f"{s} (label)" for s in TRIALS],
                            "included": [True] * 6 + [False], "weight": [20.0, 15, 10, 20, 15, 20, float("nan")]})
    return table, analysis_judgements(studies, table, "pfs", comparative=True)


def test_the_judgements_are_those_of_the_table_for_the_pooled_studies():
    table, frame = judged()
    assert list(frame["study_id"]) == TRIALS[:6]  # the excluded study is not shown
    rows = table[(table["study_id"] == "ALESIA_alectinib")]
    own = dict(zip(rows["domain"], rows["judgement"]))
    alesia = frame.set_index("study_id").loc["ALESIA_alectinib"]
    assert alesia["randomisation"] == own["randomisation"] == "low"  # from the report's `all` row
    assert alesia["measurement"] == own["measurement"] == "high" and alesia["overall"] == "high"


def test_the_traffic_light_lists_exactly_the_studies_domains_and_judgements(tmp_path):
    _, frame = judged()
    texts = svg_texts(traffic_light_figure(frame, "PFS hazard ratio"), tmp_path / "traffic")
    domains = list(ROB_TOOLS["rob2"].domains)
    header = texts.index("Study")
    assert texts[header + 1:header + 7] == ["A", "B", "C", "D", "E", "Overall"]
    body = texts[header + 7:texts.index(ROB_TOOLS["rob2"].name)]
    expected = []
    for row in frame.to_dict("records"):
        expected.append(row["label"])
        expected += [ROB_SYMBOLS[row[d]] for d in [*domains, "overall"] if row[d]]
    assert body == expected
    assert [t for t in texts if t.startswith(("A: ", "E: "))] == [
        "A: " + ROB_TOOLS["rob2"].domains["randomisation"], "E: " + ROB_TOOLS["rob2"].domains["reporting"]]
    assert {"Low", "Some concerns", "High", NOT_JUDGED} <= set(texts)


def test_the_summary_names_every_domain_and_judgement(tmp_path):
    _, frame = judged()
    texts = svg_texts(summary_figure(frame, "PFS hazard ratio"), tmp_path / "summary")
    assert [t for t in texts if t in ROB_TOOLS["rob2"].domains.values()] == list(ROB_TOOLS["rob2"].domains.values())
    assert "Overall risk of bias" in texts
    assert [t for t in texts if t in (*ROB_WORDS.values(), NOT_JUDGED)] == ["Low", "Some concerns", "High",
                                                                            NOT_JUDGED]
    assert "Share of the analysis's total weight (its own study weights)." in texts
    frame.loc[0, "weight"] = float("nan")
    assert any(t.startswith("Unweighted") for t in svg_texts(summary_figure(frame), tmp_path / "unweighted"))


def test_the_weighted_shares_are_the_weights_of_each_judgement(tmp_path):
    _, frame = judged()
    fig = summary_figure(frame)
    bar = [p for p in fig.axes[0].patches if p.get_width() > 0.2 and abs(p.get_height() - 0.228) < 1e-9]
    widths = {}
    for p in bar:
        widths.setdefault(round(p.get_y(), 6), []).append(p.get_width())
    measurement_row = sorted(widths)[3]  # A, B, C, D: measurement of the outcome
    total = sum(widths[measurement_row])
    low = frame.loc[frame["measurement"] == "low", "weight"].sum() / frame["weight"].sum()
    assert abs(widths[measurement_row][0] / total - low) < 1e-12


def test_no_judgement_is_said_and_figures_are_deterministic(tmp_path):
    _, frame = judged()
    empty = frame.iloc[0:0]
    assert "No risk-of-bias judgement for the studies of this analysis." in svg_texts(
        traffic_light_figure(empty), tmp_path / "empty")
    first = save_figure(traffic_light_figure(frame, "t"), tmp_path / "a", formats=("svg", "pdf", "png"))
    second = save_figure(traffic_light_figure(frame, "t"), tmp_path / "b", formats=("svg", "pdf", "png"))
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
