"""The specification curve of a multiverse (Simonsohn, Simmons & Nelson, Nat Hum Behav 2020;4:1208-1214).

Top panel: every specification's estimate, sorted, with its confidence
interval, the threshold of the config (dashed), the median estimate (dotted)
and the analysis as configured (solid); a specification whose CI excludes the threshold is drawn dark, the
others grey. Bottom panel: one row per option of each choice that varies, a
mark where the specification above uses it (Voracek, Kossmeier & Tran, Z Psychol
2019;227:64-82, for meta-analyses).

Above :data:`DENSE` specifications the intervals become a band and the marks an
image (one pixel column per specification), so that a curve of 10,000
specifications stays a small file. Object-oriented matplotlib only (no pyplot);
saved by :func:`metapool.figures.forest.save_figure` (byte-identical reruns).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..vocabulary import MULTIVERSE_DIMENSIONS
from .style import FONT, FS_TITLE, INK, PI_COLOUR, RULE, SQUARE, save_figure, figure_style

__all__ = ["spec_curve", "spec_curve_figure", "DENSE"]

DENSE = 400  # more specifications than this: CI band and indicator image
LIGHT_GREY = "#a6a6a6"  # CI band, specifications whose CI includes the threshold, the estimate as configured
_RC = {"font.family": "sans-serif", "font.sans-serif": [FONT], "font.size": 8.5,
       "axes.unicode_minus": True, "path.simplify": True}
_AXIS = {"proportion": ("Proportion (%)", 100.0, False), "median": ("Median (months)", 1.0, False),
         "hr": ("Hazard ratio", 1.0, True), "ratio_of_medians": ("Ratio of medians", 1.0, True)}
_OPTION_NAMES = {"freeman_tukey": "Freeman-Tukey", "hartung_knapp": "Hartung-Knapp",
                 "hartung_knapp_adhoc": "Hartung-Knapp (ad hoc)", "glmm": "GLMM", "z": "z (Wald)",
                 "independent_review": "independent review", "not_stated": "not stated", "single_arm": "single arm",
                 "latest_cut": "latest cut", "largest_n": "largest N", "earliest_cut": "earliest cut",
                 "": "none (frequentist)", "bayes": "Bayesian", "credible": "credible interval"}
_DIMENSION_NAMES = {"assessor": "Assessor", "design": "Design", "retrospective": "Retrospective",
                    "verification": "Verification", "report_policy": "Report policy", "transform": "Transform",
                    "method": "Method", "ci": "CI", "tau_prior": "\u03c4 prior"}


def _ci_label(row) -> str:
    return "hartung_knapp_adhoc" if row["ci_method"] == "hartung_knapp" and bool(row["hk_adhoc"]) else row["ci_method"]


def _limits(est, lo, hi, threshold, log: bool, percent: bool) -> tuple[float, float]:
    """y limits: every estimate and the threshold, and most of each CI (the 5% most extreme limits are
    clipped at the axis, so that a few very wide intervals do not flatten the curve)."""
    lo_f, hi_f = lo[np.isfinite(lo)], hi[np.isfinite(hi)]
    low = min(est.min(), threshold, np.quantile(lo_f, 0.05) if len(lo_f) else est.min())
    high = max(est.max(), threshold, np.quantile(hi_f, 0.95) if len(hi_f) else est.max())
    if log:
        low, high = max(low, 1e-3), max(high, 1e-3)
        pad = (high / low) ** 0.05
        return low / pad, high * pad
    pad = 0.05 * (high - low or 1.0)
    low, high = low - pad, high + pad
    if percent:
        low, high = max(low, 0.0), min(high, 100.0)
    return low, high


def _fmt(value: float, measure: str) -> str:
    if not math.isfinite(value):
        return "NA"
    return f"{100 * value:.1f}%" if measure == "proportion" else f"{value:.2f}"


def spec_curve_figure(table: pd.DataFrame, summary: pd.DataFrame, *, title: str = "",
                      reference: float | None = None) -> Figure:
    """Draw the specification curve of ``results/<plan>/multiverse/<analysis>.tsv`` (``table``) with its summary row;
    ``reference``: the analysis's own pooled estimate (as configured), drawn as a solid grey line."""
    s = summary.iloc[0]
    measure = str(s["measure"])
    label, scale, log = _AXIS[measure]
    threshold = float(s["threshold"])
    df = table.copy()
    df["ci"] = [_ci_label(r) for r in df.to_dict("records")]
    ok = np.isfinite(df["estimate"].to_numpy(float))
    shown = df[ok].sort_values(["estimate", "specification"], kind="mergesort").reset_index(drop=True)
    n = len(shown)
    x = np.arange(1, n + 1)
    est = shown["estimate"].to_numpy(float) * scale
    lo = shown["ci_lower"].to_numpy(float) * scale
    hi = shown["ci_upper"].to_numpy(float) * scale
    excl = shown["ci_excludes_threshold"].astype(bool).to_numpy()

    dims = [d for d in MULTIVERSE_DIMENSIONS if df[d].astype(str).nunique() > 1]
    rows = [(d, o) for d in dims for o in sorted(df[d].astype(str).unique())]
    with figure_style(_RC):
        height_top, row_h = 3.2, 0.16
        height_bottom = max(0.6, row_h * (len(rows) + len(dims)))
        total = height_top + height_bottom + 1.6
        fig = Figure(figsize=(10.0, total))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.2, (height_bottom + 0.75) / total, 0.77, height_top / total))
        axb = fig.add_axes((0.2, 0.45 / total, 0.77, height_bottom / total), sharex=ax)
        colours = np.where(excl, SQUARE, LIGHT_GREY)
        if n and n <= DENSE:
            segs = np.stack([np.column_stack([x, lo]), np.column_stack([x, hi])], axis=1)
            ax.add_collection(LineCollection(segs, colors=list(colours), linewidths=0.8 if n < 150 else 0.5))
            ax.scatter(x, est, s=9 if n < 150 else 4, c=list(colours), zorder=3, linewidths=0)
        elif n:
            ax.fill_between(x, lo, hi, color=LIGHT_GREY, alpha=0.45, linewidth=0, step="mid")
            ax.plot(x, est, color=SQUARE, linewidth=1.0)
        if log:
            ax.set_yscale("log")
        if n:
            ax.set_ylim(*_limits(est, lo, hi, threshold * scale, log, measure == "proportion"))
        ax.axhline(threshold * scale, color=PI_COLOUR, linestyle="--", linewidth=0.9)
        if math.isfinite(float(s["median_estimate"])):
            ax.axhline(float(s["median_estimate"]) * scale, color=RULE, linestyle=":", linewidth=0.9)
        if reference is not None and math.isfinite(reference):
            ax.axhline(reference * scale, color=LIGHT_GREY, linestyle="-", linewidth=0.9, zorder=0)
        ax.set_ylabel(label)
        ax.set_xlim(0.5, max(n, 1) + 0.5)
        ax.tick_params(labelbottom=False)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        level = float(table["level"].iloc[0]) if len(table) else 0.95
        share = float(s["share_ci_excludes_threshold"])
        headline = (f"{int(s['specifications'])} specifications ({int(s['estimable'])} with an estimate): median "
                    f"{_fmt(float(s['median_estimate']), measure)}, range {_fmt(float(s['min_estimate']), measure)}"
                    f" to {_fmt(float(s['max_estimate']), measure)}; the {round(100 * level)}% CI excludes "
                    f"{_fmt(threshold, measure)} in "
                    f"{'NA' if not math.isfinite(share) else f'{100 * share:.1f}%'} of them")
        legend = ("Dashed: the threshold; dotted: the median"
                  + ("; solid: the analysis as configured" if reference is not None and math.isfinite(reference)
                     else "") + "; dark: a CI that excludes the threshold")
        fig.text(0.03, 1 - 0.12 / total, title, ha="left", va="top", fontsize=FS_TITLE, weight="bold", color=INK)
        fig.text(0.03, 1 - 0.38 / total, headline, ha="left", va="top", fontsize=8.5, color=INK)
        fig.text(0.03, 1 - 0.56 / total, legend, ha="left", va="top", fontsize=8.5, color=INK)

        # indicator panel
        ypos, labels, y = [], [], 0
        for d in dims:
            for option in sorted(df[d].astype(str).unique()):
                ypos.append(y)
                name = ((option or _OPTION_NAMES[""]) if d == "tau_prior"  # a prior as the config writes it
                        else "+".join(_OPTION_NAMES.get(o, o.replace("_", " ")) for o in option.split("+")))
                labels.append(f"{_DIMENSION_NAMES[d]}: {name}")
                y += 1
            y += 1  # a blank row between choices
        if rows:
            matrix = np.array([(shown[d].astype(str) == o).to_numpy() for d, o in rows], dtype=float)
            if n <= DENSE:
                for (yy, row) in zip(ypos, matrix):
                    on = np.flatnonzero(row) + 1
                    axb.scatter(on, np.full(len(on), yy), marker="|", s=30, c=INK, linewidths=0.8)
            else:
                image = np.zeros((y, n))
                for yy, row in zip(ypos, matrix):
                    image[yy] = row
                axb.imshow(image, aspect="auto", interpolation="nearest", cmap=ListedColormap(["white", INK]),
                           extent=(0.5, n + 0.5, y - 0.5, -0.5), rasterized=True)
        axb.set_yticks(ypos)
        axb.set_yticklabels(labels)
        axb.set_ylim(max(ypos, default=0) + 0.6, -0.6)
        ticks = MaxNLocator(nbins=10, integer=True, min_n_ticks=1).tick_values(1, max(n, 1))
        axb.set_xticks([t for t in ticks if 1 <= t <= max(n, 1)])  # no tick (nor its label) beyond the last
        axb.set_xlabel("Specification (sorted by estimate)")
        for side in ("top", "right"):
            axb.spines[side].set_visible(False)
        axb.tick_params(axis="y", length=0)
    return fig


def spec_curve(table: pd.DataFrame, summary: pd.DataFrame, stem: str | Path, formats=("svg", "pdf", "png"),
               *, title: str = "", reference: float | None = None) -> list[Path]:
    """Draw the specification curve and save it as ``<stem>.<fmt>`` for each format."""
    fig = spec_curve_figure(table, summary, title=title, reference=reference)
    return save_figure(fig, stem, formats=tuple(formats))
