"""The study flow of one analysis as a PRISMA-style diagram (main boxes left, exclusions right).

:func:`flow_diagram` draws the counts of :func:`metapool.analysis.flow.study_flow`
(PRISMA 2020 flow diagram, Page et al. BMJ 2021;372:n71);
:func:`metapool.steps.flow_step` writes them as ``flow.tsv`` and the figure.
Only matplotlib's object API; deterministic output through
:func:`metapool.figures.style.save_figure`.
"""

from __future__ import annotations

import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from ..analysis.flow import StudyFlow
from ..vocabulary import outcome
from .style import FS, FS_SMALL, FS_TITLE, INK, RULE, Measurer, font_properties, figure_style

__all__ = ["flow_diagram"]


def flow_diagram(flow: StudyFlow, *, title: str = "") -> Figure:
    """Draw the study flow as a PRISMA-style diagram (main boxes left, exclusions right)."""
    with figure_style():
        return _draw(flow, title)


def _draw(flow: StudyFlow, title: str) -> Figure:
    W = 9.0
    margin, col_gap = 0.2, 0.55
    w_main, w_side = 3.5, W - 2 * margin - 3.5 - col_gap
    pad, line_h, box_gap = 0.1, 0.2, 0.42
    fig = Figure(figsize=(W, 5.0), dpi=100)
    FigureCanvasAgg(fig)
    meas = Measurer(fig)
    fp, fp_b, fp_s = font_properties(FS), font_properties(FS, weight="bold"), font_properties(FS_SMALL)

    what = outcome(flow.outcome).phrase if flow.outcome else "the outcome"
    part = f"; {int(round(flow.participants))} participants" if math.isfinite(flow.participants) else ""
    main = [
        ("Reports in the data", f"with {what}: n = {flow.in_data}"),
        ("Reports matching the analysis's filters", f"n = {flow.matching}"),
        ("Reports selected (one per trial cohort)", f"n = {flow.selected}"),
        ("Reports pooled", f"k = {flow.pooled}{part}"),
    ]
    assess = ([f"Other assessments of kept reports set aside (assessor preference): {flow.assessments_set_aside}"]
              if flow.assessments_set_aside else [])
    side = [
        ("Excluded by the filters", f"n = {flow.n_excluded}", [f"{r}: {n}" for r, n in flow.excluded]),
        ("Set aside by the report policy", f"n = {flow.n_set_aside}",
         [f"{r}: {n}" for r, n in flow.set_aside] + assess),
        ("Not pooled", f"n = {flow.n_not_pooled}", [f"{r}: {n}" for r, n in flow.not_pooled]),
    ]

    def lines_of(head, count, items, width):
        out = [(s, fp_b) for s in meas.wrap(head, fp_b, width - 2 * pad)]
        out += [(s, fp) for s in meas.wrap(count, fp, width - 2 * pad)]
        for item in items:
            wrapped = meas.wrap(item, fp_s, width - 2 * pad - 0.15)
            out += [(("\u2022 " if i == 0 else "   ") + s, fp_s) for i, s in enumerate(wrapped)]
        return out

    main_lines = [lines_of(h, c, [], w_main) for h, c in main]
    side_lines = [lines_of(h, c, items, w_side) for h, c, items in side]
    heights = []
    for i in range(4):
        h_main = len(main_lines[i]) * line_h + 2 * pad
        h_side = len(side_lines[i]) * line_h + 2 * pad if i < 3 else 0.0
        heights.append((h_main, h_side, max(h_main, h_side)))
    title_lines = meas.wrap(f"{title}: study flow" if title else "Study flow", font_properties(FS_TITLE, "bold"),
                            W - 2 * margin)
    top = 0.15 + 0.26 * len(title_lines) + 0.2
    H = top + sum(h for _, _, h in heights) + box_gap * 3 + 0.2
    fig.set_size_inches(W, H)
    tr = fig.dpi_scale_trans

    for i, line in enumerate(title_lines):
        fig.text(margin, H - 0.15 - (i + 0.5) * 0.26, line, transform=tr, ha="left", va="center",
                 fontproperties=font_properties(FS_TITLE, "bold"), color=INK, usetex=False, parse_math=False)

    def box(x, y_top, w, h, lines):
        fig.add_artist(Rectangle((x, y_top - h), w, h, transform=tr, facecolor="white", edgecolor=RULE, lw=0.9))
        y = y_top - pad - line_h / 2
        for s, font in lines:
            fig.text(x + pad, y, s, transform=tr, ha="left", va="center", fontproperties=font, color=INK,
                     usetex=False, parse_math=False)
            y -= line_h

    def arrow(a, b):
        fig.add_artist(FancyArrowPatch(a, b, transform=tr, arrowstyle="-|>", mutation_scale=10, color=RULE, lw=0.9,
                                       shrinkA=0, shrinkB=0))

    x_main, x_side = margin, margin + w_main + col_gap
    y = H - top
    prev_bottom = None
    for i in range(4):
        h_main, h_side, h_row = heights[i]
        y_main = y - (h_row - h_main) / 2
        if prev_bottom is not None:
            arrow((x_main + w_main / 2, prev_bottom), (x_main + w_main / 2, y_main))
        box(x_main, y_main, w_main, h_main, main_lines[i])
        if i < 3:
            y_side = y - (h_row - h_side) / 2
            box(x_side, y_side, w_side, h_side, side_lines[i])
            mid = y - h_row / 2
            arrow((x_main + w_main, mid), (x_side, mid))
        prev_bottom = y_main - h_main
        y -= h_row + box_gap
    return fig
