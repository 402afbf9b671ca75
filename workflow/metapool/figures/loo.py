"""Leave-one-out plot: the pooled estimate refitted without each study in turn.

One row per pooled study ("Omitting <study>") with the estimate and CI of
the model fitted to the other studies, and I² of that fit; the last row is
the full analysis as a diamond, its CI shaded over every row, so that a study
whose omission moves the estimate outside the full CI stands out
(metafor ``leave1out``; Viechtbauer & Cheung, Res Synth Methods 2010;1:112-125).
Rows whose refit failed show the reason instead.

Drawn from ``results/<plan>/analyses/<analysis>/leave_one_out.tsv`` and the
analysis's ``pooled.tsv``; only matplotlib's object API; saved with
:func:`metapool.figures.forest.save_figure` (deterministic bytes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import blended_transform_factory

from .forest import draw_interval, format_interval, log_ticks, nice_log_limits, row_panel
from .style import FS_SMALL, FS_TITLE, INK, NOTE, RULE, SQUARE, Measurer, font_properties, save_figure, figure_style

__all__ = ["loo_plot", "analysis_loo"]

ROW_H = 0.26
WIDTH = 9.0  # inches, at least
MIN_PANEL = 2.6  # inches: the plot panel when the text widens the figure
_SCALE = {"proportion": 100.0}
_DECIMALS = {"proportion": 1, "median": 1, "hr": 2, "ratio_of_medians": 2}
_AXIS = {"proportion": "Proportion", "median": "Median (months)", "hr": "Hazard ratio",
         "ratio_of_medians": "Ratio of medians"}


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _ok(x) -> bool:
    return math.isfinite(_f(x))


def loo_plot(rows: pd.DataFrame, overall: Mapping, *, measure: str, title: str = "", level: float = 0.95) -> Figure:
    """Draw a leave-one-out plot and return the (unsaved) figure.

    ``rows`` has ``label``, ``estimate``, ``ci_lower``, ``ci_upper`` (natural
    scale), ``i2`` (percent) and ``reason`` (why the refit has no numbers,
    empty otherwise), one row per omitted study; ``overall`` the full
    analysis's ``estimate``, ``ci_lower``, ``ci_upper``, ``i2`` and ``k``.
    """
    if measure not in _DECIMALS:
        raise ValueError(f"measure must be one of {sorted(_DECIMALS)}, got {measure!r}")
    with figure_style():
        return _draw(rows.reset_index(drop=True), overall, measure, title, float(level))


def _draw(rows, overall, measure, title, level) -> Figure:
    n = len(rows)
    scale = _SCALE.get(measure, 1.0)
    dec = _DECIMALS[measure]
    log = measure in ("hr", "ratio_of_medians")
    est = np.array([_f(v) for v in rows["estimate"]]) * scale
    lo = np.array([_f(v) for v in rows["ci_lower"]]) * scale
    hi = np.array([_f(v) for v in rows["ci_upper"]]) * scale
    o_est, o_lo, o_hi = (_f(overall.get(k)) * scale for k in ("estimate", "ci_lower", "ci_upper"))
    reasons = [str(r) if isinstance(r, str) else "" for r in rows.get("reason", [""] * n)]

    def digits(x):
        return len(f"{x:.{dec}f}") if math.isfinite(x) else 2

    widths = (max(map(digits, [*est, o_est])), max(map(digits, [*lo, o_lo])), max(map(digits, [*hi, o_hi])))
    est_texts = [format_interval(e, l, h, dec, widths) if math.isfinite(e) else "" for e, l, h in zip(est, lo, hi)]
    i2_texts = [f"{_f(v):.1f}%" if _ok(v) else "" for v in rows.get("i2", [math.nan] * n)]
    labels = [f"Omitting {lab}" if str(lab) else "" for lab in rows["label"]]
    o_label = f"All studies (k = {int(_f(overall.get('k')))})" if _ok(overall.get("k")) else "All studies"
    o_text = format_interval(o_est, o_lo, o_hi, dec, widths)
    o_i2 = f"{_f(overall.get('i2')):.1f}%" if _ok(overall.get("i2")) else ""
    pct = f"{100 * level:.10g}%"
    head_est = f"Estimate [{pct} CI]"

    fp, fp_b, fp_s = font_properties(), font_properties(weight="bold"), font_properties(FS_SMALL, style="italic")
    fig = Figure(figsize=(WIDTH, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    meas = Measurer(fig)
    margin, gap = 0.15, 0.25
    w_lab = max([meas.width(s, fp) for s in labels] + [meas.width(o_label, fp_b), meas.width("Omitted study", fp_b)])
    w_est = max([meas.width(s, fp) for s in est_texts] + [meas.width(o_text, fp_b), meas.width(head_est, fp_b)])
    w_i2 = max([meas.width(s, fp) for s in i2_texts] + [meas.width("I\u00b2", fp_b), meas.width(o_i2, fp_b)])
    # the width follows the content (at least WIDTH; in tenths of an inch): labels and reasons are drawn
    # whole, never cut; a reason runs from the plot panel (or the label column) to the right margin
    w_reason = max([meas.width(r, fp_s) for r in reasons if r] + [0.0])
    need = max(2 * margin + w_lab + w_est + w_i2 + 4 * gap + MIN_PANEL, 2 * margin + w_lab + gap + w_reason)
    W = max(WIDTH, math.ceil(10 * need - 1e-9) / 10)
    w_panel = W - 2 * margin - w_lab - w_est - w_i2 - 4 * gap
    x_lab = margin
    panel_left = x_lab + w_lab + gap
    x_est = panel_left + w_panel + gap + w_est
    x_i2 = x_est + gap + w_i2
    # reasons run from the estimate column to the right margin
    # a refit without numbers: its reason runs over the (empty) panel and columns of its row
    x_reason = [panel_left if lab else x_lab for lab in labels]

    title_lines = meas.wrap(f"{title}: leave-one-out analysis" if title else "Leave-one-out analysis",
                            font_properties(FS_TITLE, "bold"), W - 2 * margin)
    top = 0.15 + 0.24 * len(title_lines) + 0.1 + 1.3 * ROW_H
    y_overall = n + 0.6
    n_rows = y_overall + 0.5 + 0.5
    bottom = 0.65
    H = top + n_rows * ROW_H + bottom
    fig.set_size_inches(W, H)
    ax = row_panel(fig, (panel_left / W, bottom / H, w_panel / W, n_rows * ROW_H / H), y_overall)

    vals = [v for v in [*lo, *hi, *est, o_lo, o_hi, o_est] if math.isfinite(v)]
    if log:
        xlim = nice_log_limits([v for v in vals if v > 0])
        ax.set_xscale("log")
        ax.set_xlim(*xlim)
        ax.xaxis.set_major_locator(FixedLocator(log_ticks(*xlim)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
    else:
        vmin, vmax = (min(vals), max(vals)) if vals else (0.0, 1.0)
        pad = 0.08 * (vmax - vmin if vmax > vmin else max(abs(vmax), 1.0))
        low = max(vmin - pad, 0.0)
        high = vmax + pad
        if measure == "proportion":
            high = min(high, 100.0)
        locator = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3)
        ticks = [t for t in locator.tick_values(low, high) if low - 1e-9 <= t <= high + 1e-9]
        xlim = (min(low, ticks[0]) if ticks else low, max(high, ticks[-1]) if ticks else high)
        ax.set_xlim(*xlim)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        fmt = (lambda v, _pos: f"{v:g}%") if measure == "proportion" else (lambda v, _pos: f"{v:g}")
        ax.xaxis.set_major_formatter(FuncFormatter(fmt))

    row_t = blended_transform_factory(fig.dpi_scale_trans, ax.transData)

    def text(x, y, s, *, ha="left", font=fp, color=INK):
        fig.text(x, y, s, transform=row_t, ha=ha, va="center", fontproperties=font, color=color, usetex=False,
                 parse_math=False)

    def rule(y, lw):
        x_end = max(x_i2, W - margin) if any(reasons) else x_i2
        fig.add_artist(Line2D([x_lab, x_end], [y, y], transform=row_t, color=RULE, lw=lw))

    for i, line in enumerate(title_lines):
        fig.text(margin, H - 0.15 - (i + 0.5) * 0.24, line, transform=fig.dpi_scale_trans, ha="left", va="center",
                 fontproperties=font_properties(FS_TITLE, "bold"), color=INK, usetex=False, parse_math=False)
    y_head = -1.1
    text(x_lab, y_head, "Omitted study", font=fp_b)
    text(x_est, y_head, head_est, ha="right", font=fp_b)
    text(x_i2, y_head, "I\u00b2", ha="right", font=fp_b)
    rule(-1.55, 0.8)
    rule(-0.55, 0.6)

    # the full analysis: CI band over every row, dashed line at its estimate
    if math.isfinite(o_est):
        if math.isfinite(o_lo) and math.isfinite(o_hi):
            a, b = max(o_lo, xlim[0]), min(o_hi, xlim[1])
            ax.add_patch(Rectangle((a, -0.5), b - a, y_overall + 0.5, facecolor="#e8eef6", edgecolor="none",
                                   zorder=0))
        ax.add_line(Line2D([o_est, o_est], [-0.5, y_overall - 0.34], color="#7f7f7f", lw=0.8,
                           linestyle=(0, (3, 3)), zorder=1))
    if log:
        ax.add_line(Line2D([1.0, 1.0], [-0.5, y_overall + 0.5], color=INK, lw=0.8, zorder=1))

    for i in range(n):
        text(x_lab, i, labels[i])
        if math.isfinite(est[i]):
            text(x_est, i, est_texts[i], ha="right")
            text(x_i2, i, i2_texts[i], ha="right")
            draw_interval(ax, lo[i], hi[i], i, xlim, color=INK, lw=1.0, log=log)
            if xlim[0] <= est[i] <= xlim[1]:
                ax.add_line(Line2D([est[i]], [i], marker="s", markersize=5.5, linestyle="none",
                                   markerfacecolor=SQUARE, markeredgecolor="none", zorder=5))
        elif reasons[i]:
            text(x_reason[i], i, reasons[i], font=fp_s, color=NOTE)
    rule(y_overall - 0.55, 0.6)
    text(x_lab, y_overall, o_label, font=fp_b)
    if math.isfinite(o_est):
        text(x_est, y_overall, o_text, ha="right", font=fp_b)
        text(x_i2, y_overall, o_i2, ha="right", font=fp_b)
        d_lo = max(o_lo if math.isfinite(o_lo) else o_est, xlim[0])
        d_hi = min(o_hi if math.isfinite(o_hi) else o_est, xlim[1])
        ax.add_patch(Polygon([(d_lo, y_overall), (o_est, y_overall - 0.34), (d_hi, y_overall),
                              (o_est, y_overall + 0.34)], closed=True, facecolor=SQUARE, edgecolor=INK, lw=0.6,
                             zorder=5))
    ax.set_xlabel(_AXIS[measure], fontproperties=font_properties(FS_SMALL), color=INK, labelpad=4)
    return fig


def analysis_loo(leave_one_out: pd.DataFrame, pooled: pd.DataFrame, stem, formats) -> list[Path]:
    """Draw and save the leave-one-out plot of one analysis (an empty table: a figure that says why)."""
    row = pooled.iloc[0].to_dict()
    rows = leave_one_out[leave_one_out["label"].astype(str) != ""]
    if rows.empty:
        reason = str(leave_one_out["reason"].iloc[0]) if len(leave_one_out) else "no study was pooled"
        reason = f"Leave-one-out analysis not computed: {reason}"
        rows = pd.DataFrame({"label": [""], "estimate": [math.nan], "ci_lower": [math.nan],
                             "ci_upper": [math.nan], "i2": [math.nan], "reason": [reason]})
    fig = loo_plot(rows, row, measure=row["measure"], title=row.get("title", ""), level=_f(row.get("level")) or 0.95)
    return save_figure(fig, stem, formats=tuple(formats))
