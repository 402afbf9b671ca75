"""Figures of one analysis, drawn from its result tables (metafor's flow: plots consume model results)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .forest import forest_plot, save_figure

__all__ = ["analysis_forest", "forest_rows"]

_DECIMALS = {"proportion": 0, "median": 1, "hr": 2}


def _fmt(value, nr: bool) -> str:
    if nr:
        return "NR"
    return "" if pd.isna(value) else f"{value:g}"


def forest_rows(studies: pd.DataFrame, measure: str) -> pd.DataFrame:
    """The rows a forest plot shows: pooled and not-poolable reports (not those set aside by the policy)."""
    shown = studies[studies["status"] != "set_aside"]
    if measure == "proportion":
        detail = [
            f"{int(e)}/{int(t)}" if not (pd.isna(e) or pd.isna(t)) else ""
            for e, t in zip(shown["events"], shown["total"])
        ]
    elif measure == "median":
        detail = [
            f"{_fmt(m, mnr)} [{_fmt(lo, lnr)}; {_fmt(hi, hnr)}]" if not (pd.isna(lo) and not lnr) else _fmt(m, mnr)
            for m, mnr, lo, lnr, hi, hnr in zip(
                shown["estimate"], shown["estimate_nr"], shown["ci_lower"], shown["ci_lower_nr"],
                shown["ci_upper"], shown["ci_upper_nr"],
            )
        ]
    else:
        detail = [""] * len(shown)
    return pd.DataFrame({
        "label": shown["label"].to_numpy(),
        "detail": detail,
        "estimate": shown["estimate"].to_numpy(),
        "ci_lower": shown["ci_lower"].to_numpy(),
        "ci_upper": shown["ci_upper"].to_numpy(),
        "weight": shown["weight"].to_numpy(),
        "included": shown["included"].astype(bool).to_numpy(),
        "note": ["" if inc else f"not pooled: {reason}" for inc, reason in zip(shown["included"], shown["reason"])],
    })


def _model_label(row: dict) -> str:
    model = "Common effect" if row["method"] == "EE" else f"Random effects ({row['method']}"
    if row["method"] != "EE":
        model += f", {row['transform']}" if row["measure"] == "proportion" else ", log scale"
        model += ", Hartung-Knapp)" if row["ci_method"] == "hartung_knapp" else ")"
    return model


def analysis_forest(studies: pd.DataFrame, pooled: pd.DataFrame, stem: str | Path, formats: Sequence[str]) -> list[Path]:
    """Draw and save the forest plot of one analysis from its ``studies.tsv`` and ``pooled.tsv``."""
    row = pooled.iloc[0].to_dict()
    measure = row["measure"]
    pooled_map = None if row["k"] == 0 or math.isnan(row["estimate"]) else row
    favours = ("Favours experimental", f"Favours {row['comparator']}") if measure == "hr" else None
    fig = forest_plot(
        forest_rows(studies, measure),
        pooled_map,
        measure=measure,
        title=row["title"],
        model_label=_model_label(row),
        level=row["level"],
        favours=favours,
    )
    return save_figure(fig, stem, formats=tuple(formats))
