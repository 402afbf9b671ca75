"""Risk-of-bias figures: the traffic-light plot and the weighted summary bar plot (as robvis), and the colours and
symbols the forest plot's RevMan-style risk-of-bias columns share.

The traffic-light plot (robvis ``rob_traffic_light``; McGuinness & Higgins 2021, Res Synth Methods 12:55-61) has
one row per study and one column per domain of its tool, lettered A, B, ... in the tool's order
(:data:`metapool.vocabulary.ROB_TOOLS`), then the overall judgement: a coloured circle with a symbol per
judgement (low ``+`` green, some concerns / moderate ``-`` yellow, high / serious ``X`` red, critical ``!`` dark
red, no information ``?`` blue), an empty circle where a domain is not judged (and so the overall is unknown).
The summary plot (robvis ``rob_summary(weighted = TRUE)``) has one bar per domain and the overall judgement: the
share of the analysis's total weight (its own study weights) at each judgement. Studies judged with different
tools are drawn in one block per tool.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from ..vocabulary import ROB_TOOLS
from .style import FS, FS_SMALL, FS_TITLE, INK, NOTE, Measurer, font_properties, figure_style

__all__ = ["ROB_COLOURS", "ROB_SYMBOLS", "ROB_WORDS", "NOT_JUDGED", "domain_letter", "traffic_light_figure",
           "summary_figure", "draw_judgement"]

# robvis's colours and symbols (rob_traffic_light, rob_summary; "cochrane" colour scheme)
ROB_COLOURS = {"low": "#02C100", "some_concerns": "#E2DF07", "moderate": "#E2DF07", "high": "#BF0000",
               "serious": "#BF0000", "critical": "#820000", "no_information": "#4EA1F7", "yes": "#02C100",
               "unclear": "#E2DF07", "no": "#BF0000", "not_applicable": "#CCCCCC"}
ROB_SYMBOLS = {"low": "+", "some_concerns": "-", "moderate": "-", "high": "X", "serious": "X", "critical": "!",
               "no_information": "?", "yes": "+", "unclear": "?", "no": "X", "not_applicable": "NA"}
ROB_WORDS = {"low": "Low", "some_concerns": "Some concerns", "moderate": "Moderate", "high": "High",
             "serious": "Serious", "critical": "Critical", "no_information": "No information", "yes": "Yes",
             "unclear": "Unclear", "no": "No", "not_applicable": "Not applicable"}
NOT_JUDGED = "Not judged"
_NOT_JUDGED_EDGE = "#9a9a9a"
_ROW = 0.30  # inches per study row
_CELL = 0.42  # inches per domain column
_PAD = 0.15


def domain_letter(i: int) -> str:
    """The letter of the i-th domain of a tool (0 -> A), as RevMan and robvis letter them."""
    return chr(ord("A") + i)


def _blocks(judged: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(tool, its studies) in the registry's order of the tools."""
    return [(tool, judged[judged["tool"] == tool]) for tool in ROB_TOOLS if (judged["tool"] == tool).any()]


def _canvas(width: float, height: float):
    fig = Figure(figsize=(width, height))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.axis("off")
    return fig, ax


def draw_judgement(ax, x: float, y: float, judgement: str, radius: float = 0.12, size: float = FS) -> None:
    """One judgement as robvis draws it: a circle in its colour with its symbol; an empty circle when ''."""
    if judgement:
        ax.add_patch(Circle((x, y), radius, facecolor=ROB_COLOURS[judgement], edgecolor="none"))
        ax.text(x, y, ROB_SYMBOLS[judgement], ha="center", va="center", fontproperties=font_properties(size, "bold"),
                color="white" if judgement not in ("some_concerns", "moderate", "unclear", "not_applicable")
                else INK)
    else:
        ax.add_patch(Circle((x, y), radius, facecolor="white", edgecolor=_NOT_JUDGED_EDGE, linewidth=0.8))


def _legend_lines(tool: str) -> list[str]:
    t = ROB_TOOLS[tool]
    return [f"{domain_letter(i)}: {label}" for i, label in enumerate(t.domains.values())]


def _measurer() -> Measurer:
    """Text measurement on a probe figure with a canvas (the sizes of labels before the figure is laid out)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    probe = Figure(figsize=(1, 1))
    FigureCanvasAgg(probe)
    return Measurer(probe)


def traffic_light_figure(judged: pd.DataFrame, title: str = "") -> Figure:
    """The traffic-light plot of ``judged`` (:func:`metapool.analysis.risk_of_bias.analysis_judgements`): one row
    per study (its label), one column per domain of its tool and the overall judgement.

    Parameters
    ----------
    judged : pandas.DataFrame
        One row per study: ``label``, ``tool``, the tool's domain columns and ``overall`` ('' = not judged).
    title : str
        Drawn above the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with figure_style():
        measure = _measurer()
        fp, small, bold = font_properties(FS), font_properties(FS_SMALL), font_properties(FS, "bold")
        blocks = _blocks(judged)
        label_w = max([measure.width(str(v), fp) for v in judged["label"]] + [measure.width("Study", bold)]) + _PAD
        widest = max((len(ROB_TOOLS[t].domains) for t, _ in blocks), default=0) + 1
        legend = [line for t, _ in blocks for line in [ROB_TOOLS[t].name, *_legend_lines(t)]]
        width = max(_PAD * 2 + label_w + widest * _CELL,
                    max((measure.width(line, small) for line in legend), default=0) + 2 * _PAD,
                    measure.width(title, font_properties(FS_TITLE, "bold")) + 2 * _PAD, 4.0)
        n_rows = sum(len(frame) + 2 for _, frame in blocks)
        height = 0.5 + n_rows * _ROW + (len(legend) + 3) * 0.17 + 0.3
        fig, ax = _canvas(width, height)
        y = 0.3
        if title:
            ax.text(_PAD, y, title, fontproperties=font_properties(FS_TITLE, "bold"), va="center", color=INK)
            y += 0.35
        if not blocks:
            ax.text(_PAD, y, "No risk-of-bias judgement for the studies of this analysis.", fontproperties=fp,
                    va="center", color=NOTE)
        for tool, frame in blocks:
            t = ROB_TOOLS[tool]
            columns = [*t.domains, "overall"]
            x0 = _PAD + label_w
            ax.text(_PAD, y, "Study", fontproperties=bold, va="center", color=INK)
            for j, d in enumerate(columns):
                ax.text(x0 + (j + 0.5) * _CELL, y, domain_letter(j) if d != "overall" else "Overall",
                        fontproperties=bold if d != "overall" else font_properties(FS_SMALL, "bold"),
                        ha="center", va="center", color=INK)
            y += _ROW
            for row in frame.to_dict("records"):
                ax.text(_PAD, y, str(row["label"]), fontproperties=fp, va="center", color=INK)
                for j, d in enumerate(columns):
                    draw_judgement(ax, x0 + (j + 0.5) * _CELL, y, row.get(d, "") or "")
                y += _ROW
            ax.add_patch(Rectangle((x0 + len(t.domains) * _CELL, y - (len(frame) + 1) * _ROW - _ROW / 2 + 0.02),
                                   _CELL, (len(frame) + 1) * _ROW - 0.04, fill=False, edgecolor=_NOT_JUDGED_EDGE,
                                   linewidth=0.6))
            y += _ROW
        for tool, _ in blocks:
            ax.text(_PAD, y, ROB_TOOLS[tool].name, fontproperties=font_properties(FS_SMALL, "bold"), va="center",
                    color=INK)
            y += 0.17
            for line in _legend_lines(tool):
                ax.text(_PAD, y, line, fontproperties=small, va="center", color=INK)
                y += 0.17
            y += 0.05
        words = [w for w in _scale_words([t for t, _ in blocks])]
        x = _PAD
        for judgement in words:
            draw_judgement(ax, x + 0.08, y, judgement, radius=0.075, size=FS_SMALL - 1.5)
            word = ROB_WORDS.get(judgement, NOT_JUDGED)
            ax.text(x + 0.2, y, word, fontproperties=small, va="center", color=INK)
            x += 0.3 + measure.width(word, small)
    return fig


def _scale_words(tools: Sequence[str]) -> list[str]:
    """The judgements of the tools' scales (overall scales too) in order, each once, then '' (not judged)."""
    out: list[str] = []
    for tool in tools:
        for j in (*ROB_TOOLS[tool].scale, *ROB_TOOLS[tool].overall_scale):
            if j not in out:
                out.append(j)
    return [*out, ""]


def summary_figure(judged: pd.DataFrame, title: str = "") -> Figure:
    """The weighted summary bar plot of ``judged`` (robvis ``rob_summary(weighted = TRUE)``): per domain and for
    the overall judgement, the share of the analysis's total weight at each judgement (the studies' own weights
    in the analysis; each study counts once when the analysis gives no weights, and the figure says so).

    Parameters
    ----------
    judged : pandas.DataFrame
        As for :func:`traffic_light_figure`, with ``weight``.
    title : str
        Drawn above the plot.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with figure_style():
        blocks = _blocks(judged)
        weights = pd.to_numeric(judged["weight"], errors="coerce") if len(judged) else pd.Series(dtype=float)
        weighted = len(weights) > 0 and weights.notna().all() and (weights > 0).all()
        small, fp = font_properties(FS_SMALL), font_properties(FS)
        measure = _measurer()
        labels = [label for t, _ in blocks for label in [*ROB_TOOLS[t].domains.values(), "Overall risk of bias"]]
        label_w = max([measure.width(s, fp) for s in labels] + [1.0]) + _PAD
        bar_w = 3.6
        n = sum(len(ROB_TOOLS[t].domains) + 2 for t, _ in blocks)
        width = max(_PAD * 2 + label_w + bar_w + 0.3, measure.width(title, font_properties(FS_TITLE, "bold")) + 2 * _PAD)
        height = 0.7 + n * _ROW + 0.7
        fig, ax = _canvas(width, height)
        y = 0.3
        if title:
            ax.text(_PAD, y, title, fontproperties=font_properties(FS_TITLE, "bold"), va="center", color=INK)
            y += 0.35
        if not blocks:
            ax.text(_PAD, y, "No risk-of-bias judgement for the studies of this analysis.", fontproperties=fp,
                    va="center", color=NOTE)
        x0 = _PAD + label_w
        for tool, frame in blocks:
            t = ROB_TOOLS[tool]
            ax.text(_PAD, y, t.name, fontproperties=font_properties(FS_SMALL, "bold"), va="center", color=INK)
            y += _ROW
            w = pd.to_numeric(frame["weight"], errors="coerce") if weighted else pd.Series(1.0, index=frame.index)
            total = float(w.sum())
            for domain, label in [*t.domains.items(), ("overall", "Overall risk of bias")]:
                ax.text(x0 - _PAD, y, label, fontproperties=fp if domain != "overall" else font_properties(FS, "bold"),
                        ha="right", va="center", color=INK)
                x = x0
                for judgement in _scale_words([tool]):
                    share = float(w[(frame[domain] if domain in frame else pd.Series("", frame.index))
                                    .fillna("") == judgement].sum()) / total if total > 0 else 0.0
                    if share <= 0:
                        continue
                    ax.add_patch(Rectangle((x, y - _ROW * 0.38), share * bar_w, _ROW * 0.76,
                                           facecolor=ROB_COLOURS.get(judgement, "white"),
                                           edgecolor=_NOT_JUDGED_EDGE if not judgement else "white", linewidth=0.6))
                    x += share * bar_w
                y += _ROW
            y += _ROW * 0.5
        for k in range(0, 101, 25):
            xk = x0 + bar_w * k / 100
            ax.plot([xk, xk], [y - _ROW * 0.4, y - _ROW * 0.25], color=INK, linewidth=0.6)
            ax.text(xk, y, f"{k}%", fontproperties=small, ha="center", va="center", color=INK)
        y += 0.3
        x = _PAD
        for judgement in _scale_words([t for t, _ in blocks]):
            ax.add_patch(Rectangle((x, y - 0.06), 0.14, 0.12, facecolor=ROB_COLOURS.get(judgement, "white"),
                                   edgecolor=_NOT_JUDGED_EDGE, linewidth=0.5))
            word = ROB_WORDS.get(judgement, NOT_JUDGED)
            ax.text(x + 0.2, y, word, fontproperties=small, va="center", color=INK)
            x += 0.3 + measure.width(word, small)
        y += 0.22
        note = ("Share of the analysis's total weight (its own study weights)." if weighted else
                "Unweighted (each study counts once): the analysis gives its studies no overall weights.")
        ax.text(_PAD, y, note, fontproperties=small, va="center", color=NOTE)
    return fig

