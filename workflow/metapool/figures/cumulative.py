"""Cumulative evidence over time: the cumulative forest plot by publication year with the releases marked, and
the trial sequential plot (exploratory).

* :func:`cumulative_plot` -- one row per step of the cumulative meta-analysis (``cumulative.tsv``): the pooled
  estimate and CI after adding that study, the study and its year named (Lau et al. 1992). A release of the
  living review (``releases/<name>.json``, :func:`metapool.analysis.release.read_releases`) is a labelled
  rule after the last row published in or before the release's year: a study's publication year is all the
  table knows of its date, so a study of the release's year is drawn as available to it.
* :func:`sequential_plot` -- the cumulative z (``sequential.tsv``) against the information fraction, the
  two-sided O'Brien-Fleming-type monitoring boundaries (Lan & DeMets 1983) at the looks, the conventional
  +-1.96 lines and the required information size (fraction 1), titled exploratory (Wetterslev et al. 2008).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .forest import format_interval, log_ticks, nice_log_limits
from .style import FS_SMALL, FS_TITLE, INK, NOTE, PI_COLOUR, RULE, SQUARE, font_properties, save_figure, figure_style

__all__ = ["release_positions", "cumulative_plot", "sequential_plot", "analysis_cumulative", "analysis_sequential"]

_LOG = ("hr", "ratio_of_medians")


def release_positions(years, releases) -> list[tuple[str, str, int]]:
    """Where each release goes among the rows (publication ``years``, in row order): ``(name, date, n)``, the
    release drawn after the first ``n`` rows (those published in or before the release's year)."""
    ys = [int(y) for y in years]
    return [(name, date.isoformat(), sum(1 for y in ys if y <= date.year)) for name, date in releases]


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def cumulative_plot(rows: pd.DataFrame, releases=(), *, measure: str, title: str = "") -> Figure:
    """The cumulative forest plot: ``rows`` as ``cumulative.tsv`` (``label``, ``year``, ``estimate``,
    ``ci_lower``, ``ci_upper``), ``releases`` as :func:`~metapool.analysis.release.read_releases`."""
    rows = rows.reset_index(drop=True)
    n = len(rows)
    log = measure in _LOG
    marks = release_positions(rows["year"], releases) if n else []
    with figure_style():
        fig = Figure(figsize=(7.5, 1.4 + 0.3 * (n + len(marks))))
        FigureCanvasAgg(fig)
        ax = fig.add_axes([0.42, 0.18, 0.33, 0.68])
        fp, fs = font_properties(), font_properties(FS_SMALL)
        est = np.array([_f(v) for v in rows["estimate"]])
        lo = np.array([_f(v) for v in rows["ci_lower"]])
        hi = np.array([_f(v) for v in rows["ci_upper"]])
        finite = [v for v in np.concatenate([est, lo, hi]) if math.isfinite(v) and (v > 0 or not log)]
        # each row's y; a release takes a slot of its own after the rows it follows
        y, ys, release_y = 0.0, [], {}
        for i in range(n + 1):
            for name, date, after in marks:
                if after == i:
                    release_y[(name, date)] = y
                    y -= 1.0
            if i < n:
                ys.append(y)
                y -= 1.0
        trans = ax.get_yaxis_transform()
        for i in range(n):
            yi = ys[i]
            ax.text(-1.05, yi, str(rows["label"].iloc[i]), transform=trans, ha="left", va="center",
                    fontproperties=fp, color=INK)
            ax.text(-0.12, yi, str(int(_f(rows["year"].iloc[i]))), transform=trans, ha="right", va="center",
                    fontproperties=fp, color=INK)
            ax.text(1.05, yi, format_interval(est[i], lo[i], hi[i], 2), transform=trans, ha="left", va="center",
                    fontproperties=fp, color=INK)
            if math.isfinite(est[i]):
                if math.isfinite(lo[i]) and math.isfinite(hi[i]):
                    ax.plot([lo[i], hi[i]], [yi, yi], color=INK, lw=0.9)
                ax.plot([est[i]], [yi], marker="D", color=SQUARE, ms=5)
        for (name, date), yr in release_y.items():
            ax.axhline(yr, color=PI_COLOUR, lw=0.8, ls="--")
            ax.text(1.05, yr, f"release {name} ({date})", transform=trans, ha="left", va="center",
                    fontproperties=fs, color=PI_COLOUR)
        if log:
            ax.set_xscale("log")
            xlim = nice_log_limits(finite)
            ax.set_xlim(*xlim)
            ticks = log_ticks(*xlim)
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.axvline(1.0, color=RULE, lw=0.6)
        elif finite:
            pad = 0.05 * (max(finite) - min(finite) or 1.0)
            ax.set_xlim(min(finite) - pad, max(finite) + pad)
        ax.set_ylim(min([*ys, *release_y.values(), 0.0]) - 0.7, 0.9)
        ax.set_yticks([])
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        for lab in ax.get_xticklabels():
            lab.set_fontproperties(fs)
        ax.text(-1.05, 0.9, "Study added", transform=trans, ha="left", va="bottom", fontproperties=fp, color=INK)
        ax.text(-0.12, 0.9, "Year", transform=trans, ha="right", va="bottom", fontproperties=fp, color=INK)
        ax.text(1.05, 0.9, "Cumulative estimate [CI]", transform=trans, ha="left", va="bottom", fontproperties=fp,
                color=INK)
        if title:
            fig.suptitle(f"{title}: cumulative meta-analysis by publication year", fontproperties=font_properties(
                FS_TITLE, "bold"), color=INK)
        return fig


def sequential_plot(frame: pd.DataFrame, *, title: str = "") -> Figure:
    """The trial sequential plot (exploratory) of ``sequential.tsv``: cumulative z at each look against the
    information fraction, the boundaries, +-1.96 and the required information size; a table with no looks
    gives a figure that says why."""
    looks = frame[frame["look"].notna()] if "look" in frame else frame.iloc[0:0]
    with figure_style():
        fig = Figure(figsize=(7.0, 4.6))
        FigureCanvasAgg(fig)
        ax = fig.add_axes([0.1, 0.17, 0.62, 0.69])
        fs = font_properties(FS_SMALL)
        head = f"{title}: trial sequential analysis (exploratory)" if title else "Trial sequential analysis (exploratory)"
        fig.suptitle(head, fontproperties=font_properties(FS_TITLE, "bold"), color=INK)
        if looks.empty:
            reason = str(frame["reason"].iloc[0]) if len(frame) else "no sequential view"
            ax.set_axis_off()
            ax.text(0.5, 0.5, reason, transform=ax.transAxes, ha="center", va="center", fontproperties=fs,
                    color=NOTE)
            return fig
        t = looks["fraction"].to_numpy(float)
        z = looks["z"].to_numpy(float)
        b = looks["boundary"].to_numpy(float)
        ax.plot(np.concatenate([[0.0], t]), np.concatenate([[0.0], z]), color=SQUARE, lw=1.2, marker="o", ms=4)
        ax.plot(t, b, color=PI_COLOUR, lw=1.0, marker="_", ms=8)
        ax.plot(t, -b, color=PI_COLOUR, lw=1.0, marker="_", ms=8)
        ax.axhline(1.96, color=NOTE, lw=0.7, ls="--")
        ax.axhline(-1.96, color=NOTE, lw=0.7, ls="--")
        ax.axhline(0.0, color=RULE, lw=0.5)
        ax.axvline(1.0, color=INK, lw=0.8, ls=":")
        xmax = max(1.1, float(t.max()) * 1.05)
        ax.set_xlim(0.0, xmax)
        lim = max(float(np.nanmax(np.abs(z))), float(np.nanmin(b)), 2.5) * 1.15
        ax.set_ylim(-lim, lim)
        ax.set_xlabel("Information fraction (accrued / required information size)", fontproperties=fs, color=INK)
        ax.set_ylabel("Cumulative z", fontproperties=fs, color=INK)
        for lab in ax.get_xticklabels() + ax.get_yticklabels():
            lab.set_fontproperties(fs)
        ris, d2 = _f(looks["ris"].iloc[0]), _f(looks["d2"].iloc[0])
        ax.text(1.0, lim * 0.97, " RIS", ha="left", va="top", fontproperties=fs, color=INK)
        # the looks as a table at the right: the numbers of the plot
        x0 = 1.04
        ax.text(x0, 1.0, "look  year   z      t     boundary", transform=ax.transAxes, ha="left", va="top",
                fontproperties=fs, color=INK)
        for i, (_, row) in enumerate(looks.iterrows()):
            ax.text(x0, 0.94 - 0.055 * i,
                    f"{int(row['look'])}  {int(row['year'])}  {row['z']:.2f}  {row['fraction']:.2f}  "
                    f"{row['boundary']:.2f}{' *' if row['crossed'] == 'yes' else ''}",
                    transform=ax.transAxes, ha="left", va="top", fontproperties=fs, color=INK)
        alpha, power = _f(looks["alpha"].iloc[0]), _f(looks["power"].iloc[0])
        fig.text(0.1, 0.01, f"Exploratory. RIS = {ris:.1f} (alpha {alpha:g}, power {power:g}, D\u00b2 = {d2:.2f});\n"
                 "red: O'Brien-Fleming-type boundaries (Lan-DeMets); dashed: \u00b11.96; dotted: the RIS; * crossed.",
                 ha="left", va="bottom", fontproperties=fs, color=NOTE)
        return fig


def analysis_cumulative(cumulative: pd.DataFrame, releases, pooled: pd.DataFrame, stem, formats) -> list[Path]:
    """Draw and save the cumulative forest plot of one analysis."""
    row = pooled.iloc[0].to_dict()
    rows = cumulative[cumulative["label"].astype(str) != ""]
    fig = cumulative_plot(rows, releases, measure=row["measure"], title=str(row.get("title", "")))
    return save_figure(fig, stem, formats=tuple(formats))


def analysis_sequential(sequential: pd.DataFrame, pooled: pd.DataFrame, stem, formats) -> list[Path]:
    """Draw and save the trial sequential plot of one analysis."""
    fig = sequential_plot(sequential, title=str(pooled.iloc[0].to_dict().get("title", "")))
    return save_figure(fig, stem, formats=tuple(formats))
