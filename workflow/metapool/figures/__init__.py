"""Figures for metapool (matplotlib only; no Snakemake imports)."""

from .forest import forest_plot
from .style import save_figure

__all__ = ["forest_plot", "save_figure"]
