"""Publication-grade forest plots in the style of R ``meta::forest()`` / RevMan.

The figure is a single table-like layout drawn on one :class:`~matplotlib.figure.Figure`:

* left text columns: study label and a free-text ``detail`` column
  (``"126/152"``, ``"34.8 [17.7; NR]"``, ``"n = 152"`` ...);
* the plot panel: one square per study (area proportional to its weight) with
  its confidence interval, a diamond for the pooled estimate, a bar for the
  prediction interval, a reference line at 1 for hazard ratios;
* right text columns: ``Estimate [95% CI]`` and ``Weight`` (or, for a study not
  in the pool, the reason it was not pooled).

Only the object-oriented matplotlib API is used (no :mod:`matplotlib.pyplot`),
so building figures never touches global pyplot state and the figures are
rendered with the Agg canvas whatever the session's backend is.

:func:`row_panel`, :func:`draw_interval`, :func:`nice_log_limits` and
:func:`log_ticks` are the parts of a row-per-study figure that the leave-one-out
plot shares. Fonts, colours and saving come from :mod:`metapool.figures.style`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullLocator
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from ..display import overall_effect_text, p_text
from .style import (
    BAYES, BAYES_PI, FONT, FS, FS_SMALL, FS_TITLE, GREY, INK, NOTE, PI_COLOUR, RULE, SQUARE, Measurer,
    font_properties,
    figure_style,
)

__all__ = ["forest_plot", "row_panel", "draw_interval", "nice_log_limits", "log_ticks", "heterogeneity_text",
           "format_interval", "MEASURES"]

MEASURES = ("proportion", "median", "hr")

# --------------------------------------------------------------------------- layout

FIG_WIDTH = 10.0  # inches, fixed
ROW_H = 0.28  # inches per table row
MARGIN_L = 0.15
MARGIN_R = 0.15
MARGIN_TOP = 0.15
TITLE_LINE_H = 0.24
HEADER_ROWS = 1.5  # header row (plus a little air) in row units
BOTTOM_H = 0.68  # tick labels + favours / axis label + margin
COL_GAP = 0.22
ROB_CELL = 0.2  # inches per risk-of-bias column (forest_rob)
PANEL_GAP = 0.25
MIN_PANEL = 2.6
MAX_PANEL = 4.6

SQUARE_MAX_PT = 12.0  # side of the square of the heaviest study
SQUARE_MIN_PT = 3.0
SQUARE_UNWEIGHTED_PT = 5.0
DIAMOND_HALF_H = 0.34  # rows
PI_HALF_H = 0.11  # rows

FIGSP = "\u2007"  # figure space: same advance width as a digit in DejaVu Sans
MISSING = "NR"

@dataclass(frozen=True)
class _Measure:
    scale: float  # natural value -> axis value
    decimals: int
    detail_header: str
    axis_label: str
    log: bool


_MEASURE = {
    "proportion": _Measure(100.0, 1, "Events/Total", "Proportion", False),
    "median": _Measure(1.0, 1, "Median [CI]", "Median (months)", False),
    "hr": _Measure(1.0, 2, "", "Hazard ratio", True),
}

_LOG_STEPS = tuple(m * 10.0**e for e in range(-3, 4) for m in (1.0, 2.0, 5.0))


# ---------------------------------------------------------------- small helpers


def _float(value) -> float:
    if value is None:
        return math.nan
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _finite(x: float) -> bool:
    return x is not None and math.isfinite(x)


def _str(value) -> str:
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value).strip()


def _bool(value) -> bool:
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(value)


def _level_text(level: float) -> str:
    return f"{level * 100:.10g}%"


def _num(x: float, decimals: int) -> str | None:
    return f"{x:.{decimals}f}" if _finite(x) else None


def _pooled_label(model_label: str) -> str:
    """Label of the diamond row: "Random-effects model" unless model_label says otherwise."""
    text = model_label.strip()
    if not text:
        return "Random-effects model"
    words = [w for w in re.split(r"[\s,;:()\[\]]+", text) if w]
    # the model may follow the measure ("Proportion, random effects (REML, logit)")
    for word in words:
        low = word.lower()
        if low.startswith("random"):
            return "Random-effects model"
        if low.startswith("common"):
            return "Common-effect model"
        if low.startswith("fixed"):
            return "Fixed-effect model"
        if low.endswith("-of-medians"):
            return f"{word[:1].upper()}{word[1:]} model"
    first = words[0]
    return f"{first[:1].upper()}{first[1:]} model"


def _fmt_tau2(t: float) -> str:
    if not _finite(t):
        return "= NA"
    if t == 0:
        return "= 0"
    if t < 0.00005:
        return "< 0.0001"
    return f"= {t:.4f}"


def _fmt_df(df: float) -> str:
    if not _finite(df):
        return "NA"
    return f"{int(round(df))}" if abs(df - round(df)) < 1e-9 else f"{df:.1f}"


def heterogeneity_text(pooled: Mapping[str, float]) -> str:
    """``"Heterogeneity: I² = 45.2%, τ² = 0.1234, Q = 7.30 (df = 4), p = 0.12"``."""
    i2 = _float(pooled.get("i2"))
    q = _float(pooled.get("q"))
    i2_s = f"= {i2:.1f}%" if _finite(i2) else "= NA"
    q_s = f"= {q:.2f}" if _finite(q) else "= NA"
    return (
        f"Heterogeneity: I\u00b2 {i2_s}, \u03c4\u00b2 {_fmt_tau2(_float(pooled.get('tau2')))}, "
        f"Q {q_s} (df = {_fmt_df(_float(pooled.get('df')))}), {p_text(_float(pooled.get('q_pvalue')))}"
    )


def format_interval(est: float, lo: float, hi: float, decimals: int, widths=(0, 0, 0)) -> str:
    """Format ``est [lo; hi]`` ("NR" for a missing value), optionally padded with figure spaces.

    ``widths`` are the character widths the three numbers are right-justified to
    (with U+2007 FIGURE SPACE, which is as wide as a digit), so that right-aligned
    rows line up on brackets and semicolons.  Both limits missing gives
    ``"est [NR]"``; everything missing gives ``"NR"``.
    """
    e, l, h = (_num(v, decimals) for v in (est, lo, hi))
    we, wl, wh = widths
    if e is None and l is None and h is None:
        return MISSING
    e = _pad(e, we)
    if l is None and h is None:
        return f"{e} [{MISSING}]"
    return f"{e} [{_pad(l, wl)}; {_pad(h, wh)}]"


def _pad(s: str | None, width: int) -> str:
    # "NR" is not padded: it is not as wide as two digits, padding would leave a visible hole
    return MISSING if s is None else s.rjust(width, FIGSP)


def _format_range(lo: float, hi: float, decimals: int, widths=(0, 0)) -> str:
    l, h = _num(lo, decimals), _num(hi, decimals)
    if l is None and h is None:
        return "NA"
    wl, wh = widths
    return f"[{_pad(l, wl)}; {_pad(h, wh)}]"


# --------------------------------------------------------------------- axis setup


def nice_log_limits(values: Iterable[float]) -> tuple[float, float]:
    """Limits of a log axis: 0.1 to 2, widened to the 1-2-5 steps around the positive finite ``values``.

    Parameters
    ----------
    values : iterable of float
        The values to show (non-positive and non-finite values are ignored).

    Returns
    -------
    tuple of float
        ``(lower, upper)`` limits of the axis.
    """
    lo, hi = 0.1, 2.0
    vals = [v for v in values if _finite(v) and v > 0]
    if vals:
        vmin, vmax = min(vals), max(vals)
        if vmin < lo:
            lo = max([s for s in _LOG_STEPS if s <= vmin], default=_LOG_STEPS[0])
        if vmax > hi:
            hi = min([s for s in _LOG_STEPS if s >= vmax], default=_LOG_STEPS[-1])
    return lo, hi


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis from ``lo`` to ``hi``: the 1-2-5 steps, or only the powers of ten and the limits
    when that gives more than seven.

    Parameters
    ----------
    lo, hi : float
        Limits of the axis (as from :func:`nice_log_limits`).

    Returns
    -------
    list of float
    """
    ticks = [s for s in _LOG_STEPS if lo * (1 - 1e-9) <= s <= hi * (1 + 1e-9)]
    if len(ticks) > 7:  # keep 1, 10, 100 ... and the limits
        ticks = [t for t in ticks if abs(math.log10(t) - round(math.log10(t))) < 1e-9 or t in (lo, hi)]
    return ticks


def _median_limits(est: np.ndarray, hi: np.ndarray, pooled_vals: list[float]) -> tuple[float, list[float]]:
    base_vals = [v for v in [*est.tolist(), *pooled_vals] if _finite(v)]
    base = max(base_vals) if base_vals else 12.0
    base = max(base, 1.0)
    his = [v for v in hi.tolist() if _finite(v)]
    raw = max(base, min(max(his), 1.5 * base)) if his else base
    ticks = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10], min_n_ticks=3).tick_values(0.0, raw)
    ticks = [float(t) for t in ticks if t >= -1e-9]
    xmax = ticks[-1] if ticks and ticks[-1] >= raw else raw
    return xmax, [t for t in ticks if t <= xmax + 1e-9]


# ------------------------------------------------------------------- drawing parts


def draw_interval(ax, lo: float, hi: float, y: float, xlim, *, color, lw, log, open_right=False, thick=False):
    """Draw a horizontal interval (a whisker, or a bar when ``thick``).

    The part beyond the axis is clipped and replaced by a triangular arrow head
    whose tip sits on the axis limit.  With ``open_right`` a missing upper limit
    (a median CI whose upper limit was not reached) runs to the right edge.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The plot panel (data coordinates: x on the axis scale, y in rows).
    lo, hi : float
        Limits of the interval on the axis scale (NaN: nothing is drawn).
    y : float
        Row of the interval.
    xlim : tuple of float
        Limits of the axis.
    color : str
        Colour of the line or bar and of the arrow heads.
    lw : float
        Line width in points (whisker only).
    log : bool
        Whether the axis is logarithmic (a lower limit at or below 0 is beyond the axis).
    open_right : bool
        A missing upper limit runs to the right edge.
    thick : bool
        A bar (the prediction interval) instead of a whisker.
    """
    xmin, xmax = xlim
    if open_right and math.isnan(hi) and _finite(lo):
        hi = math.inf
    if math.isnan(lo) or math.isnan(hi):
        return
    beyond_left = lo < xmin or (log and lo <= 0)
    beyond_right = hi > xmax
    a = xmin if beyond_left else lo
    b = xmax if beyond_right else hi
    if b < a:
        return
    if thick:
        ax.add_patch(Rectangle((a, y - PI_HALF_H), b - a, 2 * PI_HALF_H, facecolor=color,
                               edgecolor="none", zorder=3))
        head = 8.0
    else:
        ax.add_line(Line2D([a, b], [y, y], color=color, lw=lw, solid_capstyle="butt", zorder=3))
        head = 5.5
    fig = ax.get_figure()
    for beyond, x, marker, sign in ((beyond_left, a, "<", 1.0), (beyond_right, b, ">", -1.0)):
        if not beyond:
            continue
        shift = ScaledTranslation(sign * 0.5 * head / 72.0, 0.0, fig.dpi_scale_trans)
        ax.add_line(Line2D([x], [y], marker=marker, markersize=head, linestyle="none",
                           markerfacecolor=color, markeredgecolor="none", zorder=4,
                           transform=ax.transData + shift, clip_on=False))


# ------------------------------------------------------------------------ main API


def _prepare(studies: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(studies, pd.DataFrame):
        raise TypeError("studies must be a pandas DataFrame")
    missing = [c for c in ("label", "estimate", "ci_lower", "ci_upper") if c not in studies.columns]
    if missing:
        raise ValueError(f"studies is missing required column(s): {', '.join(missing)}")
    n = len(studies)
    out = pd.DataFrame(index=range(n))
    out["label"] = [_str(v) for v in studies["label"]]
    out["study_id"] = [_str(v) for v in studies["study_id"]] if "study_id" in studies else [""] * n
    out["detail"] = [_str(v) for v in studies["detail"]] if "detail" in studies else [""] * n
    for col in ("estimate", "ci_lower", "ci_upper"):
        out[col] = [_float(v) for v in studies[col]]
    out["weight"] = [_float(v) for v in studies["weight"]] if "weight" in studies else [math.nan] * n
    if "included" in studies:
        out["included"] = [_bool(v) for v in studies["included"]]
    else:
        out["included"] = [_finite(w) for w in out["weight"]]
    out["note"] = [_str(v) for v in studies["note"]] if "note" in studies else [""] * n
    # optional: the estimate column's text as given (e.g. "41.6 (no CI)"), and the row kind
    # ("study"; "header": a bold label only; "subtotal": a subgroup's pooled estimate as a small diamond)
    out["estimate_text"] = [_str(v) for v in studies["estimate_text"]] if "estimate_text" in studies else [""] * n
    out["kind"] = [_str(v) or "study" for v in studies["kind"]] if "kind" in studies else ["study"] * n
    return out


def forest_plot(
    studies: pd.DataFrame,
    pooled: Mapping[str, float] | None,
    *,
    measure: str,
    title: str = "",
    model_label: str = "",
    level: float = 0.95,
    favours: tuple[str, str] | None = None,
    footnotes: Sequence[str] = (),
    absent: str = "No pooled estimate",
    single: str = "One study: its estimate is shown, nothing is pooled",
    p_style: str | None = None,
    rob: Mapping[str, tuple[str, Sequence[str]]] | None = None,
) -> Figure:
    """Draw a forest plot and return the (unsaved, open) figure.

    Parameters
    ----------
    studies
        One row per study, drawn top to bottom in the given order, with columns
        ``label``, ``detail``, ``estimate``, ``ci_lower``, ``ci_upper`` (natural
        scale; NaN when not available), ``weight`` (percent; NaN when not in the
        pool), ``included`` (bool) and ``note`` (reason shown in place of the
        weight for a study that is not pooled).
    pooled
        ``None`` when no pooled estimate exists, otherwise a mapping with
        ``estimate``, ``ci_lower``, ``ci_upper``, ``pi_lower``, ``pi_upper``,
        ``k``, ``tau2``, ``i2`` (percent), ``q``, ``df``, ``q_pvalue`` and the test for the overall effect
        ``zval``, ``ddf`` (t only), ``pval`` (:data:`metapool.stats.results.TEST_FIELDS`). With ``k`` = 1
        nothing was pooled: no diamond, prediction interval or heterogeneity line is drawn, only the
        ``single`` text and the test for the overall effect (the study's own Wald test). An optional
        ``detail`` (text) is the pooled row's entry in the detail column: the total row, e.g. total events
        / total participants ``"411/512"`` for proportions, as RevMan's "Total events".
    measure
        ``"proportion"`` (0-1, drawn in percent), ``"median"`` (months) or
        ``"hr"`` (hazard ratio, log axis).
    title, model_label
        Joined into the header line, e.g. ``"ORR, random effects (REML, logit), 95% CI"``.
        The first word of ``model_label`` names the diamond row.
    level
        Confidence level used in the column header and the header line.
    favours
        ``(left, right)`` labels written under the axis either side of the
        reference line (1 for ``"hr"``, the middle of the axis otherwise).
    footnotes
        Lines of small text under the heterogeneity line (e.g. the test for
        subgroup differences), each wrapped to the figure width.
    absent
        The text in the pooled row's place when ``pooled`` is ``None`` (e.g. that the analysis asks for
        no overall estimate across its subgroups).
    single
        The text in the pooled row's place when ``pooled`` has ``k`` = 1 (what was done instead of pooling).
    p_style
        The style of the test for the overall effect (:func:`metapool.display.format_p`): ``"revman"``
        writes "Test for overall effect: Z = 9.61 (P < 0.00001)", ``"jama"`` "z = 9.61 (p < 0.001)"; default: the
        style in force (:func:`metapool.display.using_p_style`, the config's ``p_values``).
    rob
        Risk-of-bias columns, as RevMan draws them beside a forest plot: ``study_id`` (a column of ``studies``)
        -> (tool, its judgements: each domain in the tool's order, then the overall); one coloured circle with
        the judgement's symbol per domain, lettered A, B, ... (the overall is the last letter), an empty circle
        where a domain is not judged, and a legend of the letters and symbols under the plot. ``None``: no
        columns; a mapping with no study of the plot: the columns say that no study is judged.

    The figure is at least 10 inches wide and wider when its text needs it: labels, reasons and notes are
    drawn whole, never cut.

    Rows of ``kind`` ``"note"`` are a line of small text in the study column
    (e.g. a subgroup's heterogeneity under its subtotal), in the columns left of the plot panel.

    Bayesian rows (as bayesmeta's forest plot, Röver 2020 sec. 4.3), in a lighter colour: ``"shrinkage"``, a
    study's shrinkage estimate (the posterior of its own effect) with its credible interval, drawn beneath the
    study; ``"bayes_mu"``, the posterior of the overall effect as a diamond; ``"bayes_new"``, the posterior
    predictive distribution of a new study's effect as a bar.
    """
    if measure not in _MEASURE:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if not (0.0 < float(level) < 1.0):
        raise ValueError("level must be in (0, 1)")
    if favours is not None and len(favours) != 2:
        raise ValueError("favours must be a (left, right) pair of strings")
    m = _MEASURE[measure]
    df = _prepare(studies)
    with figure_style():
        return _draw(df, pooled, m, measure, title, model_label, float(level), favours,
                     [_str(f) for f in footnotes if _str(f)], absent, single, p_style, rob)


def _rob_legend(tools: Sequence[str]) -> list[str]:
    """The legend of the risk-of-bias columns: per tool, its letters and domains, then the symbols."""
    from ..vocabulary import ROB_TOOLS
    from .risk_of_bias import NOT_JUDGED, ROB_SYMBOLS, ROB_WORDS, domain_letter

    lines = []
    for tool in tools:
        t = ROB_TOOLS[tool]
        letters = [f"({domain_letter(i)}) {label}" for i, label in enumerate(t.domains.values())]
        lines.append(f"Risk of bias, {t.name}: " + "; ".join(
            [*letters, f"({domain_letter(len(t.domains))}) Overall risk of bias"]) + ".")
        scale = list(dict.fromkeys([*t.scale, *t.overall_scale]))
        lines.append("Judgements: " + "; ".join(f"{ROB_SYMBOLS[j]} {ROB_WORDS[j].lower()}" for j in scale)
                     + f"; empty circle: {NOT_JUDGED.lower()}.")
    return lines


def _draw(df, pooled, m: _Measure, measure, title, model_label, level, favours, footnotes=(),
          absent: str = "No pooled estimate", single: str = "", p_style: str | None = None,
          rob: Mapping[str, tuple[str, Sequence[str]]] | None = None) -> Figure:
    n = len(df)
    if rob is not None:
        from ..vocabulary import ROB_TOOLS

        shown = {sid: rob[sid] for sid in df["study_id"] if sid in rob}
        rob_tools = [t for t in ROB_TOOLS if any(tool == t for tool, _ in shown.values())]
        rob_n = max((len(ROB_TOOLS[t].domains) + 1 for t in rob_tools), default=0)
        footnotes = [*footnotes, *(_rob_legend(rob_tools) if rob_tools else
                                   ["Risk of bias: no study of this plot is judged in risk_of_bias.tsv."])]
    else:
        shown, rob_n = {}, 0
    w_rob = (COL_GAP + rob_n * ROB_CELL) if rob_n else 0.0
    dec = m.decimals
    lvl = _level_text(level)

    pool = None
    if pooled is not None:
        pool = {k: _float(pooled.get(k)) for k in (
            "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "k", "tau2", "i2", "q", "df", "q_pvalue",
            "zval", "ddf", "pval",
        )}
        if not _finite(pool["estimate"]):
            pool = None
    one_study = pool is not None and pool["k"] == 1
    effect_test = overall_effect_text(pool["zval"], pool["ddf"], pool["pval"], p_style) if pool is not None else ""

    # ---- values on the axis scale
    est = df["estimate"].to_numpy(float) * m.scale
    lo = df["ci_lower"].to_numpy(float) * m.scale
    hi = df["ci_upper"].to_numpy(float) * m.scale
    if pool is not None and not one_study:
        p_est, p_lo, p_hi, pi_lo, pi_hi = (pool[k] * m.scale for k in (
            "estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper"))
    else:
        p_est = p_lo = p_hi = pi_lo = pi_hi = math.nan

    # ---- texts (natural scale x m.scale, i.e. percent for proportions)
    def digits(x):
        s = _num(x, dec)
        return len(s) if s is not None else 0

    all_e = [*est.tolist(), p_est]
    all_l = [*lo.tolist(), p_lo, pi_lo]
    all_h = [*hi.tolist(), p_hi, pi_hi]
    widths = (max(map(digits, all_e)), max(map(digits, all_l)), max(map(digits, all_h)))
    est_texts = [t or ("" if kind in ("header", "note") else format_interval(e, l, h, dec, widths))
                 for e, l, h, t, kind in zip(est, lo, hi, df["estimate_text"], df["kind"])]
    weight_texts, note_texts = [], []
    for w, inc, note in zip(df["weight"], df["included"], df["note"]):
        if inc and _finite(w):
            weight_texts.append(f"{w:.1f}%")
            note_texts.append("")
        else:
            weight_texts.append("")
            note_texts.append(note)
    pooled_label = _pooled_label(model_label)
    diamond = pool is not None and not one_study
    pooled_detail = _str(pooled.get("detail")) if diamond else ""
    if diamond:
        pooled_est_text = format_interval(p_est, p_lo, p_hi, dec, widths)
        pi_text = _format_range(pi_lo, pi_hi, dec, widths[1:])
        het = heterogeneity_text(pool)
    has_detail = any(df["detail"]) or False
    detail_header = m.detail_header if has_detail else ""
    est_header = f"Estimate [{lvl} CI]"

    fp_body, fp_bold = font_properties(), font_properties(weight="bold")
    fp_note = font_properties(FS_SMALL, style="italic")
    fp_small = font_properties(FS_SMALL)
    fp_title = font_properties(FS_TITLE, weight="bold")

    # ---- measure text to lay out columns (a provisional figure gives the renderer)
    fig = Figure(figsize=(FIG_WIDTH, 4.0), dpi=100)
    FigureCanvasAgg(fig)
    meas = Measurer(fig)
    W = FIG_WIDTH

    left_labels = [*df["label"]]
    is_note = [kind == "note" for kind in df["kind"]]
    w_study = max([meas.width(s, fp_small if note else fp_body) + (0.15 if kind == "shrinkage" else 0.0)
                   for s, note, kind in zip(left_labels, is_note, df["kind"])] + [
        meas.width("Study", fp_bold),
        meas.width(pooled_label, fp_bold) if diamond else 0.0,
        meas.width("Prediction interval", fp_body) if diamond else 0.0,
    ])
    w_detail = max([meas.width(s, fp_body) for s in df["detail"]] + [meas.width(detail_header, fp_bold),
                                                                     meas.width(pooled_detail, fp_bold)]
                   ) if has_detail else 0.0
    w_est = max([meas.width(s, fp_body) for s in est_texts] + [meas.width(est_header, fp_bold)] + (
        [meas.width(pooled_est_text, fp_bold), meas.width(pi_text, fp_body)] if diamond else []))
    w_wnum = max([meas.width(s, fp_body) for s in weight_texts] + [
        meas.width("Weight", fp_bold), meas.width("100.0%", fp_bold)])
    w_note = max([meas.width(s, fp_note) for s in note_texts] + [0.0])
    w_right = max(w_wnum, w_note)

    # note rows (small text) run over the detail column, never into the plot panel: the study column is
    # widened until they fit
    w_note_rows = max([meas.width(s, fp_small) for s, note in zip(left_labels, is_note) if note] + [0.0])
    w_study = max(w_study, w_note_rows - (COL_GAP + w_detail if has_detail else 0.0))

    def panel_width():
        gaps = (COL_GAP if has_detail else 0.0) + 2 * PANEL_GAP + COL_GAP
        return W - MARGIN_L - MARGIN_R - w_study - w_detail - w_est - w_right - gaps - w_rob

    # the width follows the content: wider than FIG_WIDTH when the text columns leave less than MIN_PANEL
    # (in tenths of an inch: a whole number of pixels at 300 dpi)
    W = max(FIG_WIDTH, math.ceil(10 * (W + MIN_PANEL - panel_width()) - 1e-9) / 10)
    w_panel = panel_width()
    extra = max(0.0, w_panel - MAX_PANEL)
    w_panel -= extra
    if w_panel <= 0.5:
        raise ValueError("text columns too wide to draw a forest plot")

    x_study = MARGIN_L + 0.5 * extra  # centre the table when the panel is capped
    x_detail = x_study + w_study + COL_GAP
    panel_left = x_study + w_study + (COL_GAP + w_detail if has_detail else 0.0) + PANEL_GAP
    panel_right = panel_left + w_panel
    x_est = panel_right + PANEL_GAP + w_est  # right-aligned
    x_wcol = x_est + COL_GAP
    x_weight = x_wcol + w_wnum  # right-aligned
    x_rob = x_wcol + w_right + COL_GAP  # the first risk-of-bias column's left edge
    x_end = x_wcol + w_right + w_rob
    footnotes = [line for f in footnotes for line in meas.wrap(f, fp_small, W - x_study - MARGIN_R)]

    # ---- header line (title, model, level), wrapped to the figure width
    head_parts = [p for p in (title.strip(), model_label.strip()) if p]
    title_lines = meas.wrap(", ".join([*head_parts, f"{lvl} CI"]), fp_title, W - 2 * MARGIN_L) if head_parts else []

    # ---- rows (in row units, top = 0)
    y_rows = np.arange(n, dtype=float)
    y_pool = n + 0.5 if n else 0.0
    if pool is not None:
        # no prediction interval / heterogeneity rows when the model has none (median of medians) or when
        # nothing was pooled (one study)
        show_pi = diamond and (_finite(pool["pi_lower"]) or _finite(pool["pi_upper"]))
        show_het = diamond and _finite(pool["q"])
        y_pi = y_pool + 1.0 if show_pi else y_pool
        y_het = y_pi + 1.0 if show_het else y_pi
        y_test = y_het + 1.0 if effect_test else y_het
        y_end = y_test
    else:
        y_pi = y_het = y_test = math.nan
        y_end = y_pool
    y_foot = [y_end + 1.0 + i for i in range(len(footnotes))]
    y_end += len(footnotes)
    ax_rows = y_end + 0.5 - (-0.5)
    top_h = MARGIN_TOP + (len(title_lines) * TITLE_LINE_H + 0.08 if title_lines else 0.0) + HEADER_ROWS * ROW_H
    H = top_h + ax_rows * ROW_H + BOTTOM_H
    fig.set_size_inches(W, H)

    ax = row_panel(fig, (panel_left / W, BOTTOM_H / H, w_panel / W, ax_rows * ROW_H / H), y_end)

    # ---- x axis
    if m.log:
        vals = [*est.tolist(), p_est] + [v for v in (p_lo, p_hi) if _finite(v)]
        xlim = nice_log_limits(vals)
        ax.set_xscale("log")
        ax.set_xlim(*xlim)
        ticks = log_ticks(*xlim)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ref_x = 1.0
    elif measure == "proportion":
        xlim = (0.0, 100.0)
        ax.set_xlim(*xlim)
        ax.xaxis.set_major_locator(FixedLocator([0, 20, 40, 60, 80, 100]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0f}%"))
        ax.xaxis.set_minor_locator(NullLocator())
        ref_x = 50.0
    else:
        xmax, ticks = _median_limits(est, hi, [p_est, p_lo, p_hi])
        xlim = (0.0, xmax)
        ax.set_xlim(*xlim)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ref_x = 0.5 * xmax

    # ---- transforms: x in inches from the figure's left edge, y in rows
    row_t = blended_transform_factory(fig.dpi_scale_trans, ax.transData)

    def text(x, y, s, *, ha="left", fp=fp_body, color=INK):
        return fig.text(x, y, s, transform=row_t, ha=ha, va="center", fontproperties=fp, color=color,
                        usetex=False, parse_math=False)

    def rule(y, lw=0.8, x0=x_study, x1=x_end):
        fig.add_artist(Line2D([x0, x1], [y, y], transform=row_t, color=RULE, lw=lw, solid_capstyle="butt"))

    # title lines, in inches from the top of the figure
    top_t = fig.dpi_scale_trans + ScaledTranslation(0, H, fig.dpi_scale_trans)
    for i, line in enumerate(title_lines):
        fig.text(MARGIN_L, -(MARGIN_TOP + (i + 0.5) * TITLE_LINE_H), line, transform=top_t, ha="left",
                 va="center", fontproperties=fp_title, color=INK, usetex=False, parse_math=False)

    # column headers
    y_rule_top, y_rule_head = -0.5 - HEADER_ROWS + 0.12, -0.45
    y_head = 0.5 * (y_rule_top + y_rule_head)
    text(x_study, y_head, "Study", fp=fp_bold)
    if has_detail and detail_header:
        text(x_detail + (w_detail if measure == "proportion" else 0.0), y_head, detail_header,
             ha="right" if measure == "proportion" else "left", fp=fp_bold)
    text(x_est, y_head, est_header, ha="right", fp=fp_bold)
    text(x_weight, y_head, "Weight", ha="right", fp=fp_bold)
    if rob_n:
        from .risk_of_bias import domain_letter

        for j in range(rob_n):
            text(x_rob + (j + 0.5) * ROB_CELL, y_head, domain_letter(j), ha="center", fp=fp_bold)
    rule(y_rule_top, lw=0.8)
    rule(y_rule_head, lw=0.6)

    # ---- study rows
    finite_w = [w for w, inc in zip(df["weight"], df["included"]) if inc and _finite(w) and w > 0]
    wmax = max(finite_w) if finite_w else math.nan
    open_right = measure == "median"
    for i in range(n):
        y = y_rows[i]
        if df["kind"][i] == "header":
            text(x_study, y, left_labels[i], fp=fp_bold)
            continue
        if df["kind"][i] == "note":
            text(x_study, y, left_labels[i], fp=fp_small, color=NOTE)
            continue
        if df["kind"][i] in ("shrinkage", "bayes_mu", "bayes_new"):
            _bayes_row(ax, text, df["kind"][i], left_labels[i], est_texts[i], est[i], lo[i], hi[i], y, xlim, m.log,
                       x_study, x_est, fp_small)
            continue
        if df["kind"][i] == "subtotal":
            text(x_study, y, left_labels[i], fp=font_properties(FS, style="italic"))
            if has_detail and df["detail"][i]:
                text(x_detail + (w_detail if measure == "proportion" else 0.0), y, df["detail"][i],
                     ha="right" if measure == "proportion" else "left", fp=font_properties(FS, style="italic"))
            text(x_est, y, est_texts[i], ha="right", fp=font_properties(FS, style="italic"))
            e, d_lo, d_hi = est[i], lo[i], hi[i]
            if _finite(e) and xlim[0] <= e <= xlim[1]:
                d_lo = max(d_lo if _finite(d_lo) else e, xlim[0])
                d_hi = min(d_hi if _finite(d_hi) else e, xlim[1])
                h = 0.6 * DIAMOND_HALF_H
                ax.add_patch(Polygon([(d_lo, y), (e, y - h), (d_hi, y), (e, y + h)], closed=True,
                                     facecolor="white", edgecolor=SQUARE, lw=0.9, zorder=5, joinstyle="miter"))
            continue
        inc = bool(df["included"][i])
        colour = INK if inc else GREY
        if df["study_id"][i] in shown:
            _rob_row(fig, text, row_t, x_rob, y, shown[df["study_id"][i]][1])
        text(x_study, y, left_labels[i])
        if has_detail:
            text(x_detail + (w_detail if measure == "proportion" else 0.0), y, df["detail"][i],
                 ha="right" if measure == "proportion" else "left")
        text(x_est, y, est_texts[i], ha="right", color=INK if inc else NOTE)
        if weight_texts[i]:
            text(x_weight, y, weight_texts[i], ha="right")
        elif note_texts[i]:
            text(x_wcol, y, note_texts[i], fp=fp_note, color=NOTE)
        draw_interval(ax, lo[i], hi[i], y, xlim, color=colour, lw=1.0, log=m.log, open_right=open_right)
        e = est[i]
        if _finite(e) and (not m.log or e > 0) and xlim[0] <= e <= xlim[1]:
            w = df["weight"][i]
            if inc and _finite(w) and w > 0 and _finite(wmax):
                side = max(SQUARE_MIN_PT, SQUARE_MAX_PT * math.sqrt(w / wmax))
            else:
                side = SQUARE_UNWEIGHTED_PT
            ax.add_line(Line2D([e], [y], marker="s", markersize=side, linestyle="none",
                               markerfacecolor=SQUARE if inc else GREY, markeredgecolor="none", zorder=5))

    # ---- reference lines
    if m.log:
        y_ref_end = (y_pi + 0.5) if diamond else y_pool + 0.5
        ax.add_line(Line2D([1.0, 1.0], [-0.5, y_ref_end], color=INK, lw=0.8, zorder=2))
    if diamond:
        ax.add_line(Line2D([p_est, p_est], [-0.5, y_pool - DIAMOND_HALF_H], color="#7f7f7f", lw=0.8,
                           linestyle=(0, (3, 3)), zorder=1))

    # ---- pooled rows
    if pool is not None and not diamond:
        text(x_study, y_pool, single, fp=font_properties(FS, style="italic"), color=NOTE)
    if diamond:
        text(x_study, y_pool, pooled_label, fp=fp_bold)
        if has_detail and pooled_detail:
            text(x_detail + (w_detail if measure == "proportion" else 0.0), y_pool, pooled_detail,
                 ha="right" if measure == "proportion" else "left", fp=fp_bold)
        text(x_est, y_pool, pooled_est_text, ha="right", fp=fp_bold)
        text(x_weight, y_pool, "100.0%", ha="right", fp=fp_bold)
        d_lo = p_lo if _finite(p_lo) else p_est
        d_hi = p_hi if _finite(p_hi) else p_est
        d_lo, d_hi = max(d_lo, xlim[0]), min(d_hi, xlim[1])
        ax.add_patch(Polygon(
            [(d_lo, y_pool), (p_est, y_pool - DIAMOND_HALF_H), (d_hi, y_pool), (p_est, y_pool + DIAMOND_HALF_H)],
            closed=True, facecolor=SQUARE, edgecolor=INK, lw=0.6, zorder=5, joinstyle="miter"))
        if show_pi:
            text(x_study, y_pi, "Prediction interval")
            text(x_est, y_pi, pi_text, ha="right")
            draw_interval(ax, pi_lo, pi_hi, y_pi, xlim, color=PI_COLOUR, lw=1.0, log=m.log, thick=True)
        if show_het:
            text(x_study, y_het, het, fp=fp_small)
    if effect_test:
        text(x_study, y_test, effect_test, fp=fp_small)
    if pool is None:
        text(x_study, y_pool, absent, fp=font_properties(FS, style="italic"), color=NOTE)
    for y, line in zip(y_foot, footnotes):
        text(x_study, y, line, fp=fp_small)

    # ---- under the axis: favours labels or an axis label
    below = blended_transform_factory(ax.transData, ax.transAxes)
    if favours is not None:
        pad = 0.06
        fx = ref_x
        fig.text(fx, 0.0, _str(favours[0]), ha="right", va="top", fontproperties=fp_small, color=INK,
                 transform=below + ScaledTranslation(-pad, -0.30, fig.dpi_scale_trans),
                 usetex=False, parse_math=False)
        fig.text(fx, 0.0, _str(favours[1]), ha="left", va="top", fontproperties=fp_small, color=INK,
                 transform=below + ScaledTranslation(pad, -0.30, fig.dpi_scale_trans),
                 usetex=False, parse_math=False)
    else:
        mid = 0.5 * (xlim[0] + xlim[1]) if not m.log else math.sqrt(xlim[0] * xlim[1])
        fig.text(mid, 0.0, m.axis_label, ha="center", va="top", fontproperties=fp_small, color=INK,
                 transform=below + ScaledTranslation(0, -0.30, fig.dpi_scale_trans),
                 usetex=False, parse_math=False)
    return fig


def _rob_row(fig, text, row_t, x0, y, judgements):
    """One study's risk-of-bias columns: a circle per judgement in its robvis colour with its symbol (an empty
    circle where not judged), from ``x0`` (inches), on row ``y``."""
    from .risk_of_bias import ROB_COLOURS, ROB_SYMBOLS

    for j, judgement in enumerate(judgements):
        x = x0 + (j + 0.5) * ROB_CELL
        fig.add_artist(Line2D([x], [y], transform=row_t, marker="o", markersize=10, linestyle="none",
                              markerfacecolor=ROB_COLOURS[judgement] if judgement else "white",
                              markeredgecolor="none" if judgement else GREY, markeredgewidth=0.7))
        if judgement:
            text(x, y, ROB_SYMBOLS[judgement], ha="center", fp=font_properties(FS_SMALL - 1, weight="bold"),
                 color="white" if judgement not in ("some_concerns", "moderate", "unclear", "not_applicable")
                 else INK)


def _bayes_row(ax, text, kind, label, est_text, e, lo, hi, y, xlim, log, x_study, x_est, fp_small):
    """One Bayesian row in the lighter colours: a shrinkage estimate (small label, a dot and its whisker), the
    posterior of the overall effect (a diamond) or the predictive interval of a new study (a bar and its
    median)."""
    fp = fp_small if kind == "shrinkage" else font_properties(FS, style="italic")
    text(x_study + (0.15 if kind == "shrinkage" else 0.0), y, label, fp=fp, color=NOTE)
    text(x_est, y, est_text, ha="right", fp=fp, color=NOTE)
    inside = _finite(e) and (not log or e > 0) and xlim[0] <= e <= xlim[1]
    if kind == "bayes_mu":
        if inside:
            d_lo = max(lo if _finite(lo) else e, xlim[0])
            d_hi = min(hi if _finite(hi) else e, xlim[1])
            h = 0.6 * DIAMOND_HALF_H
            ax.add_patch(Polygon([(d_lo, y), (e, y - h), (d_hi, y), (e, y + h)], closed=True, facecolor=BAYES,
                                 edgecolor=SQUARE, lw=0.6, zorder=5, joinstyle="miter"))
        return
    if kind == "bayes_new":
        draw_interval(ax, lo, hi, y, xlim, color=BAYES_PI, lw=1.0, log=log, thick=True)
        if inside:
            ax.add_line(Line2D([e, e], [y - 2 * PI_HALF_H, y + 2 * PI_HALF_H], color=PI_COLOUR, lw=1.0, zorder=4))
        return
    draw_interval(ax, lo, hi, y, xlim, color=BAYES, lw=1.0, log=log)
    if inside:
        ax.add_line(Line2D([e], [y], marker="o", markersize=4.0, linestyle="none", markerfacecolor=BAYES,
                           markeredgecolor=SQUARE, markeredgewidth=0.5, zorder=5))


# ------------------------------------------------------- shared with the leave-one-out plot


def row_panel(fig: Figure, rect, y_end: float):
    """The plot panel of a row-per-study figure (forest, leave-one-out): rows 0..``y_end`` from the top, no
    frame but the x axis, no y ticks.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure the panel is added to.
    rect : sequence of float
        ``(left, bottom, width, height)`` of the panel in figure coordinates.
    y_end : float
        The last row shown.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = fig.add_axes(rect)
    ax.set_ylim(y_end + 0.5, -0.5)
    ax.patch.set_visible(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_linewidth(0.8)
    ax.spines["bottom"].set_color(INK)
    ax.yaxis.set_major_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="x", which="major", direction="out", length=3.5, width=0.8, pad=3.0,
                   colors=INK, labelsize=FS_SMALL, labelfontfamily=FONT)
    return ax
