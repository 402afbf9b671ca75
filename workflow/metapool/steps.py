"""The workflow's steps as plain functions of paths, so that each Snakemake script is one call.

Nothing here imports Snakemake; each function reads its inputs, calls the
engine and writes its outputs atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .analysis import run_analysis
from .audit import audit_response
from .estimates import TEXT_COLUMNS, hr_estimates, response_estimates, survival_estimates
from .io import read_tsv, write_tsv
from .validation import read_raw, validate_tables

__all__ = ["estimates_step", "concat_step", "audit_step", "pool_step", "forest_step"]

PathLike = str | os.PathLike

_ESTIMATORS = {
    "response": lambda studies, table, level: response_estimates(studies, table, level),
    "survival": lambda studies, table, level: survival_estimates(studies, table),
    "hazard_ratios": lambda studies, table, level: hr_estimates(studies, table),
}


def estimates_step(studies: PathLike, table_path: PathLike, table: str, level: float, output: PathLike) -> None:
    """Validated extraction table -> per-study estimates."""
    tables = validate_tables({"studies": studies, table: table_path})
    if table == "hazard_ratios":  # the printed strings give the precision for the CI-centring check
        write_tsv(hr_estimates(tables["studies"], tables[table], printed=read_raw(table_path)), output)
        return
    write_tsv(_ESTIMATORS[table](tables["studies"], tables[table], level), output)


def concat_step(inputs: Sequence[PathLike], output: PathLike) -> None:
    """Stack tables of the same columns (per-study estimates, pooled rows)."""
    frames = [read_tsv(p, text_columns=TEXT_COLUMNS) for p in inputs]
    write_tsv(pd.concat(frames, ignore_index=True), output)


def audit_step(response: PathLike, output: PathLike) -> None:
    """Printed percentages and CIs against the values recomputed from the counts."""
    write_tsv(audit_response(read_raw(response)), output)


def pool_step(estimates: PathLike | Sequence[PathLike], spec: dict, studies_out: PathLike, pooled_out: PathLike) -> None:
    """One configured analysis, from one per-study estimate table or several (stacked)."""
    paths = [estimates] if isinstance(estimates, (str, os.PathLike)) else list(estimates)
    frame = pd.concat([read_tsv(p, text_columns=TEXT_COLUMNS) for p in paths], ignore_index=True)
    studies, pooled = run_analysis(frame, spec)
    write_tsv(studies, studies_out)
    write_tsv(pooled, pooled_out)


def forest_step(studies: PathLike, pooled: PathLike, outputs: Sequence[PathLike]) -> None:
    """Forest plot of one analysis in every format named by ``outputs`` (same stem)."""
    from .figures.plots import analysis_forest

    analysis_forest(read_tsv(studies, text_columns=TEXT_COLUMNS), read_tsv(pooled, text_columns=TEXT_COLUMNS),
                    Path(outputs[0]).with_suffix(""), [Path(p).suffix.lstrip(".") for p in outputs])
