"""Study flow of one analysis, PRISMA style: reports in the data -> filters -> report policy -> pooled.

:func:`study_flow` counts the reports (``study_id``) of the analysis's outcome
at each step, with the reasons reports left at each step (PRISMA 2020 flow
diagram, Page et al. BMJ 2021;372:n71, adapted to a meta-analysis of extracted
reports: "records" are reports of a trial cohort in ``data/``):

1. reports in the data with the analysis's outcome (hazard ratios: against any
   comparator; ratio of medians: arms linked to a comparator arm);
2. excluded by the analysis's filters (for hazard ratios first: another
   comparator), each report counted at the first filter that excludes it;
3. set aside by the report policy (another report of the same trial cohort is
   kept); other assessments of a kept report (assessor preference) are counted
   separately, they are not reports;
4. selected reports that cannot be pooled, by reason;
5. pooled, with the number of participants.

Steps 1 and 2 select as the pooling does
(:func:`metapool.analysis.selection.candidates`). :func:`flow_frame` writes the
counts as ``flow.tsv`` (one row per count), :func:`flow_from_frame` reads them
back; :func:`metapool.figures.flow.flow_diagram` draws them.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import pandas as pd

from ..spec import AnalysisSpec
from .selection import Candidate, analysis_records, candidates

__all__ = ["StudyFlow", "study_flow", "flow_frame", "flow_from_frame", "FLOW_COLUMNS"]

FLOW_COLUMNS = ["analysis", "stage", "reason", "n"]


@dataclass(frozen=True)
class StudyFlow:
    """Counts of reports at each step of one analysis (see the module docstring)."""

    analysis: str
    outcome: str
    in_data: int
    excluded: tuple[tuple[str, int], ...]
    matching: int
    set_aside: tuple[tuple[str, int], ...]
    assessments_set_aside: int
    selected: int
    not_pooled: tuple[tuple[str, int], ...]
    pooled: int
    participants: float

    @property
    def n_excluded(self) -> int:
        return sum(n for _, n in self.excluded)

    @property
    def n_set_aside(self) -> int:
        return sum(n for _, n in self.set_aside)

    @property
    def n_not_pooled(self) -> int:
        return sum(n for _, n in self.not_pooled)


def _policy_reason(reason: str) -> str:
    m = re.search(r"report policy '([^']+)'", reason)
    if m:
        return f"another report of the same trial cohort kept (report policy {m.group(1)})"
    return reason


def _excluded(outcome_rows: list[Candidate], rows: list[dict], spec: AnalysisSpec) -> list[tuple[str, int]]:
    """Reports excluded at each step (another comparator, then each filter in turn), each counted at the
    first step that excludes all its rows; steps that exclude none are left out."""
    steps = [("comparator", f"comparator other than {spec.comparator}")] if spec.comparative else []
    steps += [(column, f"{column.replace('_', ' ')} other than {', '.join(map(str, allowed))}")
              for column, allowed in spec.filters.items()]
    remaining = outcome_rows
    excluded = []
    for step, reason in steps:
        kept = [c for c in remaining if c.excluded_by != step]
        gone = len({rows[c.row]["study_id"] for c in remaining}) - len({rows[c.row]["study_id"] for c in kept})
        if gone:
            excluded.append((reason, gone))
        remaining = kept
    return excluded


def study_flow(estimates: pd.DataFrame, analysis_studies: pd.DataFrame, spec: AnalysisSpec,
               participants: float = math.nan) -> StudyFlow:
    """Count the reports at each step of one analysis.

    ``estimates`` holds the per-study estimates with the study columns
    (``results/<plan>/tables/<table>_estimates.tsv``), ``analysis_studies`` the analysis's
    ``studies.tsv`` (status ``pooled``, ``not_pooled`` or ``set_aside`` with
    the reason), ``spec`` the analysis; the rows of its outcome and what
    excludes them are those of :func:`metapool.analysis.selection.candidates`.
    """
    rows = analysis_records(estimates, spec)
    outcome_rows = candidates(rows, spec)
    in_data = len({rows[c.row]["study_id"] for c in outcome_rows})
    excluded = _excluded(outcome_rows, rows, spec)

    st = analysis_studies
    status = st["status"].astype(str)
    matching = st["study_id"].nunique()
    if in_data - sum(n for _, n in excluded) != matching:  # never silently inconsistent
        diff = in_data - sum(n for _, n in excluded) - matching
        if diff > 0:
            excluded.append(("other (see the analysis's table)", diff))
        in_data = matching + sum(n for _, n in excluded)
    kept_ids = set(st.loc[status != "set_aside", "study_id"])
    aside = st[(status == "set_aside") & ~st["study_id"].isin(kept_ids)].drop_duplicates("study_id")
    assessments = int(((status == "set_aside") & st["study_id"].isin(kept_ids)).sum())
    set_aside = Counter(_policy_reason(str(r)) for r in aside["reason"])
    sel = st[status != "set_aside"]
    not_pooled = Counter(str(r) or "not poolable" for r in sel.loc[sel["status"] != "pooled", "reason"])
    pooled = int((sel["status"] == "pooled").sum())
    return StudyFlow(
        analysis=spec.name, outcome=spec.outcome, in_data=int(in_data),
        excluded=tuple(excluded), matching=int(matching), set_aside=tuple(sorted(set_aside.items())),
        assessments_set_aside=assessments, selected=int(len(sel)),
        not_pooled=tuple(sorted(not_pooled.items(), key=lambda kv: (-kv[1], kv[0]))), pooled=pooled,
        participants=float(participants),
    )


def flow_frame(flow: StudyFlow) -> pd.DataFrame:
    """``flow.tsv``: one row per count (``stage``, ``reason``, ``n``)."""
    rows = [("in_data", "", flow.in_data)]
    rows += [("excluded_by_filters", r, n) for r, n in flow.excluded]
    rows.append(("matching_filters", "", flow.matching))
    rows += [("set_aside_by_policy", r, n) for r, n in flow.set_aside]
    if flow.assessments_set_aside:
        rows.append(("other_assessment_set_aside", "another assessment of the same report is preferred",
                     flow.assessments_set_aside))
    rows.append(("selected", "", flow.selected))
    rows += [("not_pooled", r, n) for r, n in flow.not_pooled]
    rows.append(("pooled", "", flow.pooled))
    if math.isfinite(flow.participants):
        rows.append(("participants", "", int(round(flow.participants))))
    return pd.DataFrame([(flow.analysis, s, r, int(n)) for s, r, n in rows], columns=FLOW_COLUMNS)


def flow_from_frame(frame: pd.DataFrame) -> StudyFlow:
    """The :class:`StudyFlow` written by :func:`flow_frame`."""
    def one(stage):
        sel = frame[frame["stage"] == stage]
        return int(sel["n"].iloc[0]) if len(sel) else 0

    def many(stage):
        sel = frame[frame["stage"] == stage]
        return tuple((str(r), int(n)) for r, n in zip(sel["reason"], sel["n"]))

    part = frame[frame["stage"] == "participants"]
    return StudyFlow(
        analysis=str(frame["analysis"].iloc[0]) if len(frame) else "", outcome="", in_data=one("in_data"),
        excluded=many("excluded_by_filters"), matching=one("matching_filters"), set_aside=many("set_aside_by_policy"),
        assessments_set_aside=one("other_assessment_set_aside"), selected=one("selected"),
        not_pooled=many("not_pooled"), pooled=one("pooled"),
        participants=float(part["n"].iloc[0]) if len(part) else math.nan,
    )
