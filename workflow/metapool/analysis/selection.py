"""Which reports enter an analysis: filters on study columns, then one report per trial cohort.

Several reports of one trial cohort (two data cuts, a subset and its parent
cohort, a trial alone and pooled with a sister trial) share ``trial`` and
``cohort`` in ``data/studies.tsv``. They overlap in patients, so an analysis
keeps exactly one of them, chosen by a declared policy:

* ``latest_cut`` (default): the latest data cut-off (the publication year when
  the cut-off is not printed), then the largest N;
* ``largest_n``: the largest N, then the latest data cut-off;
* ``earliest_cut``: the earliest data cut-off, then the largest N.

Every report set aside is returned with the reason.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["REPORT_POLICIES", "apply_filters", "cut_key", "select_reports", "study_labels"]

REPORT_POLICIES = ("latest_cut", "largest_n", "earliest_cut")


def apply_filters(df: pd.DataFrame, filters: dict[str, list]) -> pd.DataFrame:
    """Keep rows whose columns take one of the listed values (all filters must hold)."""
    keep = pd.Series(True, index=df.index)
    for column, allowed in (filters or {}).items():
        if column not in df.columns:
            raise KeyError(f"filter on unknown column {column!r}")
        keep &= df[column].astype(str).isin([str(v) for v in allowed])
    return df[keep]


def cut_key(data_cut: str, year) -> tuple[int, int, int]:
    """Sortable (year, month, day) of a data cut-off ``YYYY[-MM[-DD]]``, else of the publication year."""
    if isinstance(data_cut, str) and data_cut:
        parts = [int(p) for p in data_cut.split("-")]
        return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]
    return (int(year), 0, 0)


def _prefer_assessor(df: pd.DataFrame, preference: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    rank = {a: i for i, a in enumerate(preference)}
    df = df.assign(_arank=df["assessor"].map(lambda a: rank.get(a, len(rank))))
    df = df.sort_values(["study_id", "_arank"], kind="mergesort")
    first = ~df.duplicated("study_id", keep="first")
    set_aside = [
        {"study_id": r.study_id, "assessor": r.assessor,
         "reason": f"another assessment of the same report is preferred ({df.loc[first & (df.study_id == r.study_id), 'assessor'].iloc[0]})"}
        for r in df[~first].itertuples()
    ]
    return df[first].drop(columns="_arank"), set_aside


def select_reports(
    df: pd.DataFrame,
    *,
    n_column: str,
    policy: str = "latest_cut",
    assessor_preference: list[str] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per trial cohort.

    ``df`` holds one outcome's rows joined with the study columns (``study_id``,
    ``trial``, ``cohort``, ``data_cut``, ``year``, ``assessor`` and ``n_column``).
    Returns ``(selected, set_aside)``; ``set_aside`` has ``study_id``,
    ``assessor`` and ``reason``.
    """
    if policy not in REPORT_POLICIES:
        raise ValueError(f"unknown report policy {policy!r}; choose one of {', '.join(REPORT_POLICIES)}")
    df, set_aside = _prefer_assessor(df, assessor_preference or ["independent_review", "investigator", "not_stated"])
    df = df.assign(
        _cut=[cut_key(c, y) for c, y in zip(df["data_cut"], df["year"])],
        _n=pd.to_numeric(df[n_column], errors="coerce").fillna(-1),
    )
    if policy == "latest_cut":
        order, ascending = ["_cut", "_n"], [False, False]
    elif policy == "largest_n":
        order, ascending = ["_n", "_cut"], [False, False]
    else:
        order, ascending = ["_cut", "_n"], [True, False]
    df = df.sort_values(order + ["study_id"], ascending=ascending + [True], kind="mergesort")
    first = ~df.duplicated(["trial", "cohort"], keep="first")
    chosen = df[first].set_index(["trial", "cohort"])["study_id"]
    for r in df[~first].itertuples():
        set_aside.append({
            "study_id": r.study_id,
            "assessor": r.assessor,
            "reason": f"same trial cohort as {chosen.loc[(r.trial, r.cohort)]}, which the report policy '{policy}' keeps",
        })
    selected = df[first].drop(columns=["_cut", "_n"]).sort_index()
    return selected, pd.DataFrame(set_aside, columns=["study_id", "assessor", "reason"])


def study_labels(df: pd.DataFrame) -> pd.Series:
    """Forest-plot labels ``Trial (drug, year)``; the cohort is added where labels would repeat."""
    label = df["trial"] + " (" + df["drug"] + ", " + df["year"].astype(str) + ")"
    dup = label.duplicated(keep=False)
    return label.where(~dup, df["trial"] + ", " + df["cohort"] + " (" + df["drug"] + ", " + df["year"].astype(str) + ")")
