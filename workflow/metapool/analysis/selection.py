"""Which reports enter an analysis: the rows of its outcome it may pool, then one report per trial cohort.

:func:`candidates` says which rows of the per-study estimates an analysis may
pool: the rows of its outcome and measure; for hazard ratios those against its
comparator (every comparator for a network meta-analysis); for a ratio of medians the medians of experimental arms linked to a
comparator arm through a hazard-ratio row; and of those the rows every filter
keeps. The pooling (:func:`metapool.analysis.run.prepare_analysis`), the checks
of the config against the data (:func:`metapool.analysis.config.data_problems`)
and the study flow (:func:`metapool.analysis.flow.study_flow`) all select with it.

Several reports of one trial cohort (two data cuts, a subset and its parent
cohort, a trial alone and pooled with a sister trial) share ``trial`` and
``cohort`` in ``data/studies.tsv``. They overlap in patients, so an analysis
keeps exactly one of them, chosen by a declared policy (:func:`select_reports`):

* ``latest_cut`` (default): the latest data cut-off (the publication year when
  the cut-off is not printed), then the largest N;
* ``largest_n``: the largest N, then the latest data cut-off;
* ``earliest_cut``: the earliest data cut-off, then the largest N.

Every report set aside is returned with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from ..spec import AnalysisSpec
from ..vocabulary import REPORT_POLICIES, STUDY_FILTER_COLUMNS, outcome

__all__ = [
    "AnalysisError", "Candidate", "CANDIDATE_COLUMNS", "records", "analysis_records", "candidates", "describe_filters",
    "no_study_matches",
    "cut_key",
    "select_reports", "study_labels",
]

# the columns :func:`candidates` reads
CANDIDATE_COLUMNS = tuple(dict.fromkeys(
    ("study_id", "outcome", "measure", "assessor", "comparator", "comparator_study_id", *STUDY_FILTER_COLUMNS)))


class AnalysisError(ValueError):
    """An analysis that cannot be carried out as configured."""


# ---------------------------------------------------------------------------------------- candidates


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    text = str(value)
    return "" if text in ("<NA>", "nan", "NaN", "None") else text


def records(frame, columns: Sequence[str] = CANDIDATE_COLUMNS) -> list[dict[str, str]]:
    """The rows of ``frame`` as records of text (a missing value is ''), with the ``columns`` it has."""
    data = {c: [_text(v) for v in frame[c].tolist()] for c in columns if c in frame.columns}
    return [{c: values[i] for c, values in data.items()} for i in range(len(frame))]


def analysis_records(frame, spec: AnalysisSpec) -> list[dict[str, str]]:
    """The rows of ``frame`` as :func:`records` with the columns :func:`candidates` reads for ``spec``: those of
    ``CANDIDATE_COLUMNS`` and the columns of its filters (an extra column of the tables among them)."""
    return records(frame, tuple(dict.fromkeys((*CANDIDATE_COLUMNS, *spec.filters))))


@dataclass(frozen=True)
class Candidate:
    """A row of the analysis's outcome: its position ``row`` in the records, ``excluded_by`` ('' when the
    analysis may pool it, ``comparator`` for another comparator, else the first filter column it fails),
    its ``comparator`` ('' for one-arm measures) and, for a ratio of medians, ``comparator_arm`` (the
    study_id of the comparator arm)."""

    row: int
    excluded_by: str
    comparator: str = ""
    comparator_arm: str = ""


def _arm_links(rows: Sequence[Mapping[str, str]], code: str) -> dict[str, dict[str, set[str]]]:
    """Experimental study_id -> comparator -> comparator-arm study_ids, from the hazard-ratio rows."""
    links: dict[str, dict[str, set[str]]] = {}
    for r in rows:
        if r["measure"] == "hr" and r["outcome"] == code and r.get("comparator_study_id", ""):
            links.setdefault(r["study_id"], {}).setdefault(r["comparator"], set()).add(r["comparator_study_id"])
    return links


def candidates(rows: Sequence[Mapping[str, str]], spec: AnalysisSpec) -> list[Candidate]:
    """Every row of the analysis's outcome, each with what excludes it from the analysis.

    The rows of the outcome are its measure's rows of its outcome code; for a
    ratio of medians the medians of the arms linked to a comparator arm by a
    hazard-ratio row (of any comparator; another comparator than the
    analysis's excludes it). A row the comparator keeps is excluded by the
    first filter it fails.

    Parameters
    ----------
    rows : sequence of mapping
        Per-study estimates with their study columns, as text (:func:`records`); the rows of the extraction
        tables joined with ``studies.tsv`` will do (with ``measure`` as in ``ESTIMATE_MEASURES``).
    spec : AnalysisSpec
        The analysis (outcome, comparator, filters).

    Returns
    -------
    list of Candidate
        In the order of ``rows``; those with an empty ``excluded_by`` are the rows the analysis may pool.

    Raises
    ------
    AnalysisError
        A ratio of medians without hazard-ratio rows to link the arms, or an arm linked to two comparator
        arms of the analysis's comparator.
    """
    analysed = outcome(spec.outcome)
    found: list[Candidate] = []
    if spec.measure == "ratio_of_medians":
        if not any(r["measure"] == "hr" for r in rows):
            raise AnalysisError(
                f"analysis '{spec.name}': the ratio of medians needs the hazard-ratio estimates to link the arms")
        links = _arm_links(rows, analysed.code)
        twice = sorted(s for s, arms in links.items() if len(arms.get(spec.comparator, ())) > 1)
        if twice:
            raise AnalysisError(f"{twice}: more than one comparator arm vs {spec.comparator}")
        for i, r in enumerate(rows):
            if r["measure"] == "median" and r["outcome"] == analysed.code and r["study_id"] in links:
                arms = links[r["study_id"]]
                comparator = spec.comparator if spec.comparator in arms else next(iter(arms))
                found.append(Candidate(i, "" if comparator == spec.comparator else "comparator", comparator,
                                       min(arms[comparator])))
    else:
        for i, r in enumerate(rows):
            if r["measure"] == spec.measure and r["outcome"] == analysed.code:
                comparator = r.get("comparator", "") if spec.comparative else ""
                kept = spec.is_network or comparator == (spec.comparator or "")  # a network: every comparator
                found.append(Candidate(i, "" if kept else "comparator", comparator))
    filters = [(column, {str(v) for v in allowed}) for column, allowed in spec.filters.items()]
    return [c if c.excluded_by else Candidate(c.row, _first_failed(rows[c.row], filters), c.comparator,
                                              c.comparator_arm)
            for c in found]


def _first_failed(row: Mapping[str, str], filters) -> str:
    for column, allowed in filters:
        if row.get(column, "") not in allowed:
            return column
    return ""


def describe_filters(filters: Mapping) -> str:
    """``setting: tki_naive; design: randomised, single_arm`` (``none`` without filters)."""
    return "; ".join(f"{col}: {', '.join(map(str, vals))}" for col, vals in filters.items()) or "none"


def no_study_matches(spec: AnalysisSpec) -> str:
    """Why an analysis has no candidate: ``no study with outcome pfs_hr vs alectinib matches the filters
    (setting: tki_naive)``."""
    what = spec.outcome + (f" vs {spec.comparator}" if spec.comparative and not spec.is_network else "")
    return f"no study with outcome {what} matches the filters ({describe_filters(spec.filters)})"


# ---------------------------------------------------------------------------------------- report policy


def cut_key(data_cut: str, year) -> tuple[int, int, int]:
    """Sortable (year, month, day) of a data cut-off ``YYYY[-MM[-DD]]``, else of the publication year."""
    if isinstance(data_cut, str) and data_cut:
        parts = [int(p) for p in data_cut.split("-")]
        return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]
    return (int(year), 0, 0)


def _prefer_assessor(df: pd.DataFrame, preference: Sequence[str]) -> tuple[pd.DataFrame, list[dict]]:
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
    policy: str,
    assessor_preference: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per trial cohort.

    ``df`` holds one outcome's rows joined with the study columns (``study_id``,
    ``trial``, ``cohort``, ``data_cut``, ``year``, ``assessor`` and ``n_column``).
    Returns ``(selected, set_aside)``; ``set_aside`` has ``study_id``,
    ``assessor`` and ``reason``.
    """
    if policy not in REPORT_POLICIES:
        raise ValueError(f"unknown report policy {policy!r}; choose one of {', '.join(REPORT_POLICIES)}")
    df, set_aside = _prefer_assessor(df, assessor_preference)
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
