"""Contour-enhanced funnel plot with Egger's regression line.

Each study is a point at its effect size on the analysis scale (logit
proportion, log median, log hazard ratio ...) against its standard error, the
axis inverted so that the most precise studies are at the top (Sterne & Egger,
J Clin Epidemiol 2001;54:1046-1055). Shaded regions are the pseudo-confidence
regions ``b ± z·SE`` around the pooled estimate ``b`` at 90%, 95% and 99%
(metafor ``funnel(level = c(90, 95, 99), shade = ...)``; Peters et al., J Clin
Epidemiol 2008;61:991-996, shade the regions around 0 instead). With at least
10 studies Egger's regression test is drawn as the line ``yi = b0 + b1·SE``
(metafor ``regtest``: the meta-regression of ``yi`` on ``sei``; Egger et al.,
BMJ 1997;315:629-634); with fewer the figure says why it is not (Sterne et al.,
BMJ 2011;343:d4002).

Tick labels are on the natural scale (percent, months, hazard ratio) where the
scale has a back-transform that does not depend on the study (logit, log,
arcsine, raw); the Freeman-Tukey scale is labelled as it is.
Only matplotlib's object API is used; :func:`metapool.figures.forest.save_figure`
writes deterministic SVG, PDF and PNG files.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator
from scipy import stats

from ..display import p_text
from ..spec import AnalysisSpec, ModelSpec
from ..vocabulary import MEASURES
from .style import (
    FONT, FS_SMALL, FS_TITLE, GREY, INK, NOTE, PI_COLOUR, SQUARE, Measurer, font_properties, save_figure,
    figure_style,
)

__all__ = ["EggerLine", "funnel_plot", "analysis_funnel", "egger_line", "SCALE_LABELS"]

LEVELS = (0.90, 0.95, 0.99)
SHADES = ("#ffffff", "#c8c8c8", "#e6e6e6")  # inner (90%) to outer (99%) band; white outside
MIN_STUDIES = 10

SCALE_LABELS = {
    "logit": "Proportion, logit scale",
    "glmm": "Proportion, logit scale",
    "arcsine": "Proportion, arcsine scale",
    "raw": "Proportion",
    "freeman_tukey": "Freeman-Tukey double arcsine",
    "log": "{what}, log scale",
    "identity": "{what}",
}


@dataclass(frozen=True)
class EggerLine:
    """Egger's regression ``yi = intercept + slope·sei`` and its test of the slope."""

    intercept: float
    slope: float
    statistic: float
    pvalue: float
    df: float | None = None


def _finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _natural_ticks(scale: str) -> tuple[list[float], callable, callable] | None:
    """Candidate ticks on the natural scale, natural -> axis, and the tick label of a natural value."""
    pct = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]
    if scale in ("logit", "glmm"):
        return pct, lambda p: math.log(p / (1 - p)), lambda p: f"{100 * p:g}%"
    if scale == "arcsine":
        return [0.0, *pct, 1.0], lambda p: math.asin(math.sqrt(p)), lambda p: f"{100 * p:g}%"
    if scale == "raw":
        return [i / 10 for i in range(11)], lambda p: p, lambda p: f"{100 * p:g}%"
    if scale == "log":
        vals = [m * 10.0 ** e for e in range(-3, 4) for m in (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)]
        return vals, math.log, lambda v: f"{v:g}"
    return None


def funnel_plot(
    yi: Sequence[float],
    sei: Sequence[float],
    *,
    estimate: float,
    scale: str = "logit",
    measure: str = "proportion",
    title: str = "",
    egger: EggerLine | None = None,
    note: str = "",
    levels: Sequence[float] = LEVELS,
) -> Figure:
    """Draw a funnel plot and return the (unsaved) figure.

    ``yi``/``sei`` are the pooled studies' effect sizes and standard errors on
    the analysis scale ``scale`` (``logit``, ``glmm`` (logit), ``arcsine``,
    ``raw``, ``freeman_tukey``, ``log`` or ``identity``); ``estimate`` is the
    pooled estimate on that scale. ``egger`` draws the regression line and its
    test; ``note`` (e.g. why there is no test) is written under the legend.
    """
    yi = np.asarray(yi, dtype=float)
    sei = np.asarray(sei, dtype=float)
    if yi.shape != sei.shape:
        raise ValueError("yi and sei must have the same length")
    keep = np.isfinite(yi) & np.isfinite(sei) & (sei > 0)
    yi, sei = yi[keep], sei[keep]
    levels = sorted(float(lv) for lv in levels)
    with figure_style():
        return _draw(yi, sei, float(estimate), scale, measure, title, egger, note, levels)


def _draw(yi, sei, b, scale, measure, title, egger, note, levels) -> Figure:
    W, H = 8.0, 5.2
    fig = Figure(figsize=(W, H), dpi=100)
    FigureCanvasAgg(fig)
    left, bottom, aw, ah = 0.75, 0.65, 4.6, 3.85
    ax = fig.add_axes((left / W, bottom / H, aw / W, ah / H))
    se_max = float(np.max(sei)) * 1.1 if len(sei) else 1.0
    if not math.isfinite(se_max) or se_max <= 0:
        se_max = 1.0
    zmax = stats.norm.isf((1 - levels[-1]) / 2)
    half = zmax * se_max
    xs = [*yi.tolist(), b - half, b + half] if math.isfinite(b) else [*yi.tolist()]
    if egger is not None:
        xs += [egger.intercept, egger.intercept + egger.slope * se_max]
    xs = [x for x in xs if math.isfinite(x)] or [-1.0, 1.0]
    lo, hi = min(xs), max(xs)
    pad = 0.06 * (hi - lo if hi > lo else 1.0)
    xlim = (lo - pad, hi + pad)
    ax.set_xlim(*xlim)
    ax.set_ylim(se_max, 0.0)

    # pseudo-confidence regions, outermost first
    if math.isfinite(b):
        handles = []
        for level, shade in sorted(zip(levels, SHADES), reverse=True):
            z = stats.norm.isf((1 - level) / 2)
            ax.add_patch(Polygon([(b, 0.0), (b - z * se_max, se_max), (b + z * se_max, se_max)], closed=True,
                                 facecolor=shade, edgecolor="#8c8c8c", lw=0.6, zorder=1))
            handles.append(Patch(facecolor=shade, edgecolor="#8c8c8c", lw=0.6,
                                 label=f"{100 * level:g}% pseudo-confidence region"))
        ax.add_line(Line2D([b, b], [0.0, se_max], color=INK, lw=0.9, zorder=2))
        handles = handles[::-1] + [Line2D([], [], color=INK, lw=0.9, label="Pooled estimate")]
    else:
        handles = []
    if egger is not None and all(map(math.isfinite, (egger.intercept, egger.slope))):
        ax.add_line(Line2D([egger.intercept, egger.intercept + egger.slope * se_max], [0.0, se_max],
                           color=PI_COLOUR, lw=1.1, linestyle=(0, (5, 2)), zorder=3))
        handles.append(Line2D([], [], color=PI_COLOUR, lw=1.1, linestyle=(0, (5, 2)),
                              label="Egger's regression line"))
    ax.add_line(Line2D(yi, sei, marker="o", markersize=5.5, linestyle="none", markerfacecolor=SQUARE,
                       markeredgecolor="white", markeredgewidth=0.5, zorder=4))
    handles.append(Line2D([], [], marker="o", markersize=5.5, linestyle="none", markerfacecolor=SQUARE,
                          markeredgecolor="white", label=f"Study (k = {len(yi)})"))

    # axes
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FS_SMALL, labelfontfamily=FONT, colors=INK, length=3.5, width=0.8)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.2f}"))
    ax.set_ylabel("Standard error", fontproperties=font_properties(FS_SMALL + 1), color=INK)
    what = MEASURES[measure].heading if measure in MEASURES else measure
    ax.set_xlabel(SCALE_LABELS.get(scale, "{what}").format(what=what), fontproperties=font_properties(FS_SMALL + 1),
                  color=INK)
    nat = _natural_ticks(scale)
    placed = False
    if nat is not None:
        cands, fwd, lab = nat
        ticks = []
        for v in cands:
            try:
                x = fwd(v)
            except (ValueError, ZeroDivisionError):
                continue
            if xlim[0] <= x <= xlim[1]:
                ticks.append((x, lab(v)))
        # keep at most 7, evenly thinned, so labels never collide
        if len(ticks) > 7:
            step = math.ceil(len(ticks) / 7)
            ticks = ticks[::step]
        if len(ticks) >= 3:
            ax.xaxis.set_major_locator(FixedLocator([t for t, _ in ticks]))
            labels = {t: s for t, s in ticks}
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: labels.get(v, "")))
            placed = True
    if not placed:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, min_n_ticks=3))
        if scale == "log":
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{math.exp(v):.3g}"))
        elif scale in ("logit", "glmm"):
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{100 / (1 + math.exp(-v)):.3g}%"))
        else:
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.3g}"))

    if title:
        fig.text(0.15 / W, 1 - 0.28 / H, title, ha="left", va="center",
                 fontproperties=font_properties(FS_TITLE, "bold"), color=INK, usetex=False, parse_math=False)
    legend_x = (left + aw + 0.25) / W
    leg = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(legend_x, (bottom + ah) / H),
                     frameon=False, prop=font_properties(FS_SMALL), handlelength=1.8, borderaxespad=0.0)
    for text in leg.get_texts():
        text.set_color(INK)
    lines = []
    if egger is not None:
        stat = "t" if egger.df is not None and _finite(egger.df) else "z"
        df = f" (df = {int(egger.df)})" if stat == "t" else ""
        lines.append(f"Egger's test: {stat} = {egger.statistic:.2f}{df}, {p_text(egger.pvalue)}")
    if note:
        lines.append(note)
    meas = Measurer(fig)
    y = leg.get_window_extent(fig.canvas.get_renderer()).y0 / fig.dpi / H - 0.25 / H
    for line in lines:
        for part in meas.wrap(line, font_properties(FS_SMALL), W - legend_x * W - 0.15):
            fig.text(legend_x, y, part, ha="left", va="top", fontproperties=font_properties(FS_SMALL),
                     color=INK if line is lines[0] and egger is not None else NOTE, usetex=False,
                     parse_math=False)
            y -= 0.2 / H
    if not len(yi):
        ax.text(0.5, 0.5, "no study with a standard error", transform=ax.transAxes, ha="center", va="center",
                fontproperties=font_properties(FS_SMALL), color=GREY)
    return fig


def egger_line(yi, vi, model: ModelSpec) -> EggerLine:
    """Egger's test of the analysis's model (metafor ``regtest``: its tau² estimator and test)."""
    from ..stats.bias import egger_test

    res = egger_test(yi, vi, **model.keywords(pi=False))
    return EggerLine(res.limit_estimate, res.slope, res.statistic, res.pvalue, res.df)


def _egger_note(k: int) -> str:
    return (f"k = {k} < {MIN_STUDIES}: too few studies to test for funnel-plot asymmetry "
            "(Sterne et al. BMJ 2011;343:d4002); no Egger line.")


def analysis_funnel(studies: pd.DataFrame, pooled: pd.DataFrame, spec: AnalysisSpec, stem, formats) -> list[Path]:
    """Draw and save the funnel plot of one analysis from its ``studies.tsv`` and ``pooled.tsv``.

    The pooled studies' ``yi``/``sei`` are drawn around the pooled estimate
    ``beta``; Egger's line is fitted with the analysis's model when at least
    10 studies are pooled.
    """
    row = pooled.iloc[0].to_dict()
    inc = studies[studies["included"].astype(str).str.lower() == "true"]
    yi = pd.to_numeric(inc["yi"], errors="coerce").to_numpy(float)
    vi = pd.to_numeric(inc["vi"], errors="coerce").to_numpy(float)
    ok = np.isfinite(yi) & np.isfinite(vi) & (vi > 0)
    yi, vi = yi[ok], vi[ok]
    k = len(yi)
    egger, note = None, ""
    if not spec.has_standard_errors:
        note = "The median of medians has no per-study standard errors: no funnel plot."
        yi, vi, k = yi[:0], vi[:0], 0
    elif k >= MIN_STUDIES:
        try:
            egger = egger_line(yi, vi, spec.model)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
            note = f"Egger's test not computed: {err}"
    else:
        note = _egger_note(k)
    beta = float(row["beta"]) if _finite(row.get("beta")) else math.nan
    title = f"{row.get('title', '')}: funnel plot"
    fig = funnel_plot(yi, np.sqrt(vi), estimate=beta, scale="logit" if spec.glmm else spec.scale,
                      measure=spec.measure, title=title, egger=egger, note=note)
    return save_figure(fig, stem, formats=tuple(formats))
