"""The forest plot's RevMan-style risk-of-bias columns (forest_rob): off, nothing of risk of bias is drawn; on, one
circle per domain and the overall (letters A-F for RoB 2) beside each judged study's row, with the judgement's
symbol, an empty circle where a domain is not judged, the legend under the plot, and no overlapping text."""

from __future__ import annotations

from matplotlib.lines import Line2D

from metapool.figures import forest_plot
from metapool.figures.risk_of_bias import ROB_COLOURS, ROB_SYMBOLS
from metapool.vocabulary import ROB_TOOLS

from test_forest import assert_no_overlap, hr_frame, hr_pooled, strings

DOMAINS = tuple(ROB_TOOLS["rob2"].domains)


def judged_frame():
    frame = hr_frame(k=4)
    frame["study_id"] = ["T1", "T2", "T3", "T4"]
    rob = {"T1": ("rob2", ("low", "some_concerns", "", "high", "", "high")),
           "T3": ("rob2", ("low", "low", "low", "low", "low", "low"))}
    return frame, rob


def rob_markers(fig) -> list[str]:
    """The colours of the risk-of-bias circles, in drawing order ('' for an empty circle)."""
    out = []
    for artist in fig.artists if hasattr(fig, "artists") else []:
        if isinstance(artist, Line2D) and artist.get_marker() == "o":
            face = artist.get_markerfacecolor()
            out.append("" if face == "white" else face)
    return out


def test_without_the_option_no_risk_of_bias_is_drawn():
    frame, _ = judged_frame()
    fig = forest_plot(frame, hr_pooled(), measure="hr", title="PFS hazard ratio")
    texts = strings(fig)
    assert not any(t.startswith(("Risk of bias", "Judgements:")) for t in texts)
    assert "F" not in texts and rob_markers(fig) == []


def test_the_columns_show_each_judged_study_and_the_legend():
    frame, rob = judged_frame()
    fig = forest_plot(frame, hr_pooled(), measure="hr", title="PFS hazard ratio", rob=rob)
    texts = strings(fig)
    assert [t for t in texts if t in "ABCDEF" and len(t) == 1] == list("ABCDEF")
    symbols = [t for t in texts if t in set(ROB_SYMBOLS.values())]
    assert symbols == [ROB_SYMBOLS[j] for sid in ("T1", "T3") for j in rob[sid][1] if j]
    assert rob_markers(fig) == [ROB_COLOURS[j] if j else "" for sid in ("T1", "T3") for j in rob[sid][1]]
    legend = " ".join(t for t in texts if t.startswith(("Risk of bias", "Judgements")) or "(F)" in t)
    assert "(A) " + ROB_TOOLS["rob2"].domains["randomisation"] in legend
    assert "(F) Overall risk of bias" in legend and "X high" in legend
    assert_no_overlap(fig)


def test_columns_with_no_judged_study_say_so():
    frame, _ = judged_frame()
    fig = forest_plot(frame, hr_pooled(), measure="hr", rob={"other": ("rob2", ("low",) * 6)})
    assert "Risk of bias: no study of this plot is judged in risk_of_bias.tsv." in strings(fig)
    assert rob_markers(fig) == []
