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

:func:`flow_diagram` draws the counts as boxes and arrows;
:func:`metapool.steps.flow_step` writes ``flow.tsv`` (one row per count) and
the figure. Only matplotlib's object API; deterministic output through
:func:`metapool.figures.style.save_figure`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, Rectangle

from ..vocabulary import OUTCOMES
from ..analysis.selection import apply_filters
from .style import FS, FS_SMALL, FS_TITLE, INK, RC, RULE, Measurer, font_properties

__all__ = ["StudyFlow", "study_flow", "flow_frame", "flow_diagram", "FLOW_COLUMNS"]

FLOW_COLUMNS = ["analysis", "stage", "reason", "n"]
_OUTCOME_WORDS = {"orr": "objective response", "intracranial_orr": "intracranial response",
                  "pfs_median": "a median PFS", "os_median": "a median OS", "pfs_hr": "a PFS hazard ratio",
                  "os_hr": "an OS hazard ratio", "pfs_ratio_of_medians": "median PFS of both arms"}


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


def _candidates(estimates: pd.DataFrame, spec: Mapping) -> tuple[pd.DataFrame, str]:
    """The rows of the analysis's outcome before any filter, and the comparator to keep ('' = none)."""
    _, code, measure = OUTCOMES[spec["outcome"]]
    if measure == "ratio_of_medians":
        hr = estimates[(estimates["measure"] == "hr") & (estimates["outcome"] == code)
                       & (estimates["comparator_study_id"].astype(str) != "")]
        rows = estimates[(estimates["measure"] == "median") & (estimates["outcome"] == code)
                         & estimates["study_id"].isin(hr["study_id"])]
        links = hr.drop_duplicates("study_id").set_index("study_id")["comparator"]
        rows = rows.assign(comparator=rows["study_id"].map(links))
        return rows, spec.get("comparator", "")
    rows = estimates[(estimates["measure"] == measure) & (estimates["outcome"] == code)]
    return rows, spec.get("comparator", "") if measure == "hr" else ""


def _policy_reason(reason: str) -> str:
    m = re.search(r"report policy '([^']+)'", reason)
    if m:
        return f"another report of the same trial cohort kept (report policy {m.group(1)})"
    return reason


def study_flow(estimates: pd.DataFrame, analysis_studies: pd.DataFrame, spec: Mapping,
               participants: float = math.nan) -> StudyFlow:
    """Count the reports at each step of one analysis.

    ``estimates`` holds the per-study estimates with the study columns
    (``results/tables/<table>_estimates.tsv``), ``analysis_studies`` the analysis's
    ``studies.tsv`` (status ``pooled``, ``not_pooled`` or ``set_aside`` with
    the reason), ``spec`` the resolved analysis (``outcome``, ``filters``,
    ``comparator``).
    """
    rows, comparator = _candidates(estimates, spec)
    in_data = rows["study_id"].nunique()
    excluded: list[tuple[str, int]] = []
    current = rows
    if comparator:
        kept = current[current["comparator"].astype(str) == comparator]
        gone = current["study_id"].nunique() - kept["study_id"].nunique()
        if gone:
            excluded.append((f"comparator other than {comparator}", gone))
        current = kept
    for column, allowed in (spec.get("filters") or {}).items():
        if column not in current.columns:
            continue
        kept = apply_filters(current, {column: allowed})
        gone = current["study_id"].nunique() - kept["study_id"].nunique()
        if gone:
            excluded.append((f"{column.replace('_', ' ')} other than {', '.join(map(str, allowed))}", gone))
        current = kept

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
        analysis=str(spec.get("name", "")), outcome=str(spec["outcome"]), in_data=int(in_data),
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


def _n(n: int, word: str = "report") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def flow_diagram(flow: StudyFlow, *, title: str = "") -> Figure:
    """Draw the study flow as a PRISMA-style diagram (main boxes left, exclusions right)."""
    with matplotlib.rc_context(RC):
        return _draw(flow, title)


def _draw(flow: StudyFlow, title: str) -> Figure:
    W = 9.0
    margin, col_gap = 0.2, 0.55
    w_main, w_side = 3.5, W - 2 * margin - 3.5 - col_gap
    pad, line_h, box_gap = 0.1, 0.2, 0.42
    fig = Figure(figsize=(W, 5.0), dpi=100)
    FigureCanvasAgg(fig)
    meas = Measurer(fig)
    fp, fp_b, fp_s = font_properties(FS), font_properties(FS, weight="bold"), font_properties(FS_SMALL)

    what = _OUTCOME_WORDS.get(flow.outcome, "the outcome")
    part = f"; {int(round(flow.participants))} participants" if math.isfinite(flow.participants) else ""
    main = [
        ("Reports in the data", f"with {what}: n = {flow.in_data}"),
        ("Reports matching the analysis's filters", f"n = {flow.matching}"),
        ("Reports selected (one per trial cohort)", f"n = {flow.selected}"),
        ("Reports pooled", f"k = {flow.pooled}{part}"),
    ]
    assess = ([f"Other assessments of kept reports set aside (assessor preference): {flow.assessments_set_aside}"]
              if flow.assessments_set_aside else [])
    side = [
        ("Excluded by the filters", f"n = {flow.n_excluded}", [f"{r}: {n}" for r, n in flow.excluded]),
        ("Set aside by the report policy", f"n = {flow.n_set_aside}",
         [f"{r}: {n}" for r, n in flow.set_aside] + assess),
        ("Not pooled", f"n = {flow.n_not_pooled}", [f"{r}: {n}" for r, n in flow.not_pooled]),
    ]

    def lines_of(head, count, items, width):
        out = [(s, fp_b) for s in meas.wrap(head, fp_b, width - 2 * pad)]
        out += [(s, fp) for s in meas.wrap(count, fp, width - 2 * pad)]
        for item in items:
            wrapped = meas.wrap(item, fp_s, width - 2 * pad - 0.15)
            out += [(("\u2022 " if i == 0 else "   ") + s, fp_s) for i, s in enumerate(wrapped)]
        return out

    main_lines = [lines_of(h, c, [], w_main) for h, c in main]
    side_lines = [lines_of(h, c, items, w_side) for h, c, items in side]
    heights = []
    for i in range(4):
        h_main = len(main_lines[i]) * line_h + 2 * pad
        h_side = len(side_lines[i]) * line_h + 2 * pad if i < 3 else 0.0
        heights.append((h_main, h_side, max(h_main, h_side)))
    title_lines = meas.wrap(f"{title}: study flow" if title else "Study flow", font_properties(FS_TITLE, "bold"),
                            W - 2 * margin)
    top = 0.15 + 0.26 * len(title_lines) + 0.2
    H = top + sum(h for _, _, h in heights) + box_gap * 3 + 0.2
    fig.set_size_inches(W, H)
    tr = fig.dpi_scale_trans

    for i, line in enumerate(title_lines):
        fig.text(margin, H - 0.15 - (i + 0.5) * 0.26, line, transform=tr, ha="left", va="center",
                 fontproperties=font_properties(FS_TITLE, "bold"), color=INK, usetex=False, parse_math=False)

    def box(x, y_top, w, h, lines):
        fig.add_artist(Rectangle((x, y_top - h), w, h, transform=tr, facecolor="white", edgecolor=RULE, lw=0.9))
        y = y_top - pad - line_h / 2
        for s, font in lines:
            fig.text(x + pad, y, s, transform=tr, ha="left", va="center", fontproperties=font, color=INK,
                     usetex=False, parse_math=False)
            y -= line_h

    def arrow(a, b):
        fig.add_artist(FancyArrowPatch(a, b, transform=tr, arrowstyle="-|>", mutation_scale=10, color=RULE, lw=0.9,
                                       shrinkA=0, shrinkB=0))

    x_main, x_side = margin, margin + w_main + col_gap
    y = H - top
    prev_bottom = None
    for i in range(4):
        h_main, h_side, h_row = heights[i]
        y_main = y - (h_row - h_main) / 2
        if prev_bottom is not None:
            arrow((x_main + w_main / 2, prev_bottom), (x_main + w_main / 2, y_main))
        box(x_main, y_main, w_main, h_main, main_lines[i])
        if i < 3:
            y_side = y - (h_row - h_side) / 2
            box(x_side, y_side, w_side, h_side, side_lines[i])
            mid = y - h_row / 2
            arrow((x_main + w_main, mid), (x_side, mid))
        prev_bottom = y_main - h_main
        y -= h_row + box_gap
    return fig
