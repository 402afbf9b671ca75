"""Figures of a network meta-analysis: the network graph, the league table and the forest plot of every
treatment against the reference.

* :func:`network_graph`: treatments on a circle (in sorted order, the reference at the top), each node's
  area proportional to its participants where every node's arms give them, else to its number of trials;
  each edge a direct comparison, its width proportional to the number of trials, labelled with that number
  (Salanti et al., Stat Methods Med Res 2008;17:279-301; netmeta's ``netgraph``).
* :func:`league_figure`: the league table as netmeta's ``netleague`` prints it: the treatments on the
  diagonal, below it the hazard ratio of the column treatment over the row treatment with its CI (read
  down a column), shaded where the CI excludes 1.
* :func:`effects_forest`: each treatment versus the reference, drawn by the forest plot of
  :func:`metapool.figures.forest.forest_plot` (one row per treatment, no pooled diamond).

All three are built under the style kit's rcParams and saved by :func:`metapool.figures.style.save_figure`
(deterministic bytes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle

from .forest import forest_plot, format_interval
from .style import FS, FS_SMALL, FS_TITLE, GREY, INK, NOTE, SQUARE, font_properties, figure_style

__all__ = ["network_graph", "league_figure", "effects_forest", "node_table"]

_FAVOURABLE = "#d9e6f2"  # a league cell whose CI lies below 1 (the column treatment better)
_UNFAVOURABLE = "#f4dcd6"  # above 1


def network_graph(edges: pd.DataFrame, nodes: pd.DataFrame, *, reference: str, title: str = "") -> Figure:
    """The network graph.

    Parameters
    ----------
    edges : DataFrame
        ``treatment``, ``comparator``, ``trials`` (number of trials comparing the two directly).
    nodes : DataFrame
        ``treatment``, ``trials`` (trials with an arm of it) and ``participants`` (NaN when not known for
        every trial).
    reference : str
        Drawn at the top, outlined.
    title : str
        Header line.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with figure_style():
        names = sorted(nodes["treatment"].astype(str))
        if reference in names:
            i = names.index(reference)
            names = names[i:] + names[:i]
        t = len(names)
        angle = {n: math.pi / 2 - 2 * math.pi * i / t for i, n in enumerate(names)}
        pos = {n: (math.cos(a), math.sin(a)) for n, a in angle.items()}
        fig = Figure(figsize=(6.4, 6.0))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.06, 0.96, 0.84))
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.45, 1.45)
        ax.set_aspect("equal")
        ax.axis("off")
        by_participants = bool(nodes["participants"].notna().all()) and len(nodes) > 0
        size = nodes.set_index("treatment")["participants" if by_participants else "trials"].astype(float)
        biggest = float(size.max()) if len(size) else 1.0
        max_trials = float(edges["trials"].max()) if len(edges) else 1.0
        for e in edges.sort_values(["treatment", "comparator"]).itertuples():
            (x0, y0), (x1, y1) = pos[e.treatment], pos[e.comparator]
            ax.plot([x0, x1], [y0, y1], color=SQUARE, lw=1.2 + 4.8 * e.trials / max_trials, alpha=0.75,
                    solid_capstyle="round", zorder=1)
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, str(int(e.trials)), ha="center", va="center",
                    fontproperties=font_properties(FS_SMALL), color=INK, zorder=3,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": GREY, "lw": 0.5})
        for n in names:
            x, y = pos[n]
            r = 0.06 + 0.12 * math.sqrt(float(size.get(n, 0.0)) / biggest) if biggest > 0 else 0.08
            ax.add_patch(Circle((x, y), r, fc=SQUARE if n != reference else "white", ec=SQUARE, lw=1.6, zorder=2))
            lx, ly = x * (1 + (r + 0.12) / 1.0), y * (1 + (r + 0.12) / 1.0)
            ha = "center" if abs(x) < 0.2 else ("left" if x > 0 else "right")
            count = (f"{int(size.get(n, 0))} participants" if by_participants
                     else f"{int(size.get(n, 0))} trial{'s' if int(size.get(n, 0)) != 1 else ''}")
            ax.text(lx, ly, f"{n}\n{count}", ha=ha, va="center", fontproperties=font_properties(FS), color=INK)
        fig.text(0.02, 0.97, title, ha="left", va="top", fontproperties=font_properties(FS, "bold"))
        fig.text(0.02, 0.02, ("Node area: participants" if by_participants else "Node area: number of trials")
                 + "; edge width and label: number of trials\ncomparing the two directly; open node: the reference.",
                 ha="left", va="bottom", fontproperties=font_properties(FS_SMALL), color=NOTE)
        return fig


def league_figure(league: pd.DataFrame, treatments: Sequence[str], *, title: str = "", level: float = 0.95,
                  decimals: int = 2) -> Figure:
    """The league table as a figure (netmeta's ``netleague`` layout, lower triangle).

    Parameters
    ----------
    league : DataFrame
        ``treatment``, ``comparator``, ``estimate``, ``ci_lower``, ``ci_upper`` (hazard ratios), every
        ordered pair.
    treatments : sequence of str
        The order of the diagonal (e.g. by P-score).
    title : str
        Header line.
    level : float
        Confidence level (the footnote).
    decimals : int
        Decimals of the hazard ratios.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with figure_style():
        names = list(treatments)
        t = len(names)
        cell = {(r.treatment, r.comparator): r for r in league.itertuples()}
        w, h = 1.45, 0.5
        fig = Figure(figsize=(max(4.0, w * t + 0.4), h * t + 1.1))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.12, 0.96, 0.76))
        ax.set_xlim(0, t)
        ax.set_ylim(t, 0)
        ax.axis("off")
        for i, row_t in enumerate(names):
            for j, col_t in enumerate(names):
                if i == j:
                    ax.add_patch(Rectangle((j, i), 1, 1, fc="#eeeeee", ec="white", lw=1.5))
                    ax.text(j + 0.5, i + 0.5, row_t, ha="center", va="center",
                            fontproperties=font_properties(FS, "bold"), color=INK)
                elif i > j:
                    r = cell.get((col_t, row_t))
                    if r is None:
                        continue
                    fc = _FAVOURABLE if r.ci_upper < 1 else (_UNFAVOURABLE if r.ci_lower > 1 else "white")
                    ax.add_patch(Rectangle((j, i), 1, 1, fc=fc, ec="#dddddd", lw=0.8))
                    est = format_interval(r.estimate, r.ci_lower, r.ci_upper, decimals)
                    first, _, rest = est.partition(" ")
                    ax.text(j + 0.5, i + 0.5, f"{first}\n{rest}", ha="center", va="center",
                            fontproperties=font_properties(FS_SMALL), color=INK)
        fig.text(0.02, 0.97, title, ha="left", va="top", fontproperties=font_properties(FS_TITLE, "bold"))
        pct = f"{100 * level:g}%"
        fig.text(0.02, 0.03, f"Hazard ratio [{pct} CI] of the column treatment over the row treatment (below 1 "
                 "favours the column treatment); blue: CI below 1, red: CI above 1.", ha="left", va="bottom",
                 fontproperties=font_properties(FS_SMALL), color=NOTE, wrap=True)
        return fig


def effects_forest(effects: pd.DataFrame, *, reference: str, title: str = "", model_label: str = "",
                   level: float = 0.95) -> Figure:
    """Each treatment versus the reference as a forest plot (network estimates, no pooled diamond).

    Parameters
    ----------
    effects : DataFrame
        ``treatment``, ``estimate``, ``ci_lower``, ``ci_upper`` (hazard ratios) and ``k_direct`` (trials
        comparing it directly with the reference).
    reference : str
        The comparator of every row.
    title, model_label, level
        As :func:`metapool.figures.forest.forest_plot`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    k = effects["k_direct"].astype(int)
    rows = pd.DataFrame({
        "label": effects["treatment"].astype(str) + f" vs {reference}",
        "detail": [f"{n} direct trial{'s' if n != 1 else ''}" if n else "indirect only" for n in k],
        "estimate": effects["estimate"].astype(float), "ci_lower": effects["ci_lower"].astype(float),
        "ci_upper": effects["ci_upper"].astype(float), "weight": np.nan, "included": True, "note": "",
    })
    return forest_plot(rows, None, measure="hr", title=title, model_label=model_label, level=level,
                       favours=("favours the treatment", f"favours {reference}"),
                       absent=f"Each row: network estimate against {reference} (direct and indirect evidence)")


def node_table(studies: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Edges and nodes of the graph from a network's pooled contrasts (``trial``, ``treatment``,
    ``comparator`` and, when known, the arms' participants ``n_treatment``, ``n_comparator``): a node's
    participants are the sum over its trials' arms, NaN unless every arm of the node is known."""
    pairs = studies.assign(a=np.minimum(studies["treatment"], studies["comparator"]),
                           b=np.maximum(studies["treatment"], studies["comparator"]))
    edges = (pairs.groupby(["a", "b"])["trial"].nunique().reset_index()
             .rename(columns={"a": "treatment", "b": "comparator", "trial": "trials"}))
    n_t = studies["n_treatment"] if "n_treatment" in studies else pd.Series(math.nan, index=studies.index)
    n_c = studies["n_comparator"] if "n_comparator" in studies else pd.Series(math.nan, index=studies.index)
    arms = pd.concat([pd.DataFrame({"trial": studies["trial"], "treatment": studies["treatment"], "n": n_t}),
                      pd.DataFrame({"trial": studies["trial"], "treatment": studies["comparator"], "n": n_c})])
    arms = arms.drop_duplicates(["trial", "treatment"])  # a multi-arm trial's shared arm once
    nodes = arms.groupby("treatment").agg(trials=("trial", "nunique"), participants=("n", "sum"),
                                          known=("n", "count")).reset_index()
    nodes["participants"] = nodes["participants"].where(nodes["known"] == nodes["trials"], math.nan)
    return edges, nodes.drop(columns="known")
