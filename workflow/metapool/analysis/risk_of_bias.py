"""Risk-of-bias judgements as data (``<data_dir>/risk_of_bias.tsv``): their rules and the overall judgements.

The table (optional; ``metapool/schemas/risk_of_bias.schema.yaml``) holds one row per report (``study_id``),
outcome, tool and domain: the judgement, its support (a quote or the reason), its source and location. The
tools, their domains and their judgement scales are the registry's (:data:`metapool.vocabulary.ROB_TOOLS`):
RoB 2 for randomised comparisons, ROBINS-I for non-randomised comparisons and the JBI checklist for case
series for single-arm cohorts. A row whose ``outcome`` is ``all`` holds for every outcome of the report (a
domain such as the randomisation process); a row for one outcome (``pfs``, ``os``) holds for that result only
(RoB 2 judges a result: blinding of the outcome assessment differs between PFS and OS).

The overall judgement of a result follows the tool's algorithm (:func:`derived_overall`):

* RoB 2 (Sterne et al. 2019, BMJ 366:l4898; Higgins et al. 2019, RoB 2 guidance, Table 2): low when every
  domain is low; high when any domain is high; some concerns otherwise. The guidance lets a result with some
  concerns in multiple domains "in a way that substantially lowers confidence in the result" be judged high:
  a stated overall ``high`` is accepted where two or more domains have some concerns and none is high;
* ROBINS-I (Sterne et al. 2016, BMJ 355:i4919, Table 3): the most severe domain judgement (low < moderate <
  serious < critical); "no information" where no domain is serious or critical and one or more lacks
  information;
* a tool without an algorithm (the JBI checklist): the stated overall row is required and used.

A domain left out makes the overall unknown (never low), unless a domain already has the most severe
judgement of the scale (RoB 2 high, ROBINS-I critical), which no missing domain can change. A stated overall
row is checked against the algorithm, and refused when it disagrees (naming the file, line, column, value).
:func:`overall_judgements` is what the GRADE risk-of-bias domain reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike

import pandas as pd

from ..vocabulary import RISK_OF_BIAS_TABLE, ROB_ALL_OUTCOMES, ROB_OVERALL, ROB_TOOLS

__all__ = ["derived_overall", "accepted_overall", "overall_judgement", "rob_problems", "read_risk_of_bias",
           "result_judgements", "overall_judgements", "judgement_for", "analysis_judgements",
           "design_problems"]


def _severity(tool: str, judgement: str) -> int:
    """The rank of ``judgement`` on ``tool``'s ordered scale (its "no information" value apart: -1)."""
    t = ROB_TOOLS[tool]
    ordered = [j for j in t.scale if j != t.no_information]
    return ordered.index(judgement) if judgement in ordered else -1


def derived_overall(tool: str, domains: Mapping[str, str]) -> str:
    """The overall judgement ``tool``'s algorithm gives for the domain judgements ``domains`` (domain ->
    judgement; a domain left out is unknown); '' when unknown or when the tool has no algorithm.

    RoB 2 (Sterne et al. 2019, BMJ 366:l4898, Table 2 of the guidance): high if any domain is high; otherwise
    unknown if a domain is missing, low if every domain is low, some concerns otherwise. ROBINS-I (Sterne et al.
    2016, BMJ 355:i4919, Table 3): critical if any domain is critical; otherwise unknown if a domain is missing;
    serious if any is serious; no information if any lacks information; moderate if any is moderate; low if all
    are low.

    Parameters
    ----------
    tool : str
        A tool of :data:`metapool.vocabulary.ROB_TOOLS`.
    domains : Mapping[str, str]
        The judged domains of the tool (``overall`` excluded) -> their judgements on the tool's scale.

    Returns
    -------
    str
        The overall judgement on the tool's overall scale, or '' (unknown, or no algorithm).
    """
    t = ROB_TOOLS[tool]
    if not t.algorithm:
        return ""
    values = [domains[d] for d in t.domains if d in domains]
    missing = len(values) < len(t.domains)
    top = max(values, key=lambda j: _severity(tool, j), default="")
    worst = [j for j in t.scale if j != t.no_information][-1]
    if top == worst:
        return worst
    if missing:
        return ""
    if t.algorithm == "rob2":
        return "low" if all(v == "low" for v in values) else "some_concerns"
    # most_severe (ROBINS-I): no information outranks low and moderate, not serious or critical
    if _severity(tool, top) < _severity(tool, "serious") and t.no_information in values:
        return t.no_information
    return top


def accepted_overall(tool: str, domains: Mapping[str, str]) -> tuple[str, ...]:
    """The stated overall judgements accepted for ``domains``: the algorithm's (:func:`derived_overall`), and for
    RoB 2 also ``high`` where two or more domains have some concerns and none is high (the guidance's
    permitted escalation: "some concerns in multiple domains in a way that substantially lowers confidence in
    the result"); any judgement of the overall scale for a tool without an algorithm; none when the
    algorithm's judgement is unknown (a domain is missing)."""
    t = ROB_TOOLS[tool]
    if not t.algorithm:
        return t.overall_scale
    derived = derived_overall(tool, domains)
    if t.algorithm == "rob2" and derived == "some_concerns" and sum(
            domains.get(d) == "some_concerns" for d in t.domains) >= 2:
        return (derived, "high")
    return (derived,) if derived else ()


def overall_judgement(tool: str, domains: Mapping[str, str], stated: str = "") -> str:
    """The overall judgement of one result: the stated one where it is accepted (:func:`accepted_overall`),
    else the algorithm's; '' when unknown. Validation refuses a stated judgement that is not accepted."""
    if stated and stated in accepted_overall(tool, domains):
        return stated
    return derived_overall(tool, domains)


def _groups(rows: list[dict]) -> dict[tuple[str, str], dict]:
    """(study_id, outcome) -> {"tool", "domains" (domain -> judgement), "stated", "line" (of the stated overall,
    or of the first row)} for each result of ``rows`` (records with study_id, outcome, tool, domain, judgement,
    line): a report's ``all`` rows join each of its outcomes' rows, and stand alone as (study_id, "all")."""
    out: dict[tuple[str, str], dict] = {}
    for row in rows:
        group = out.setdefault((row["study_id"], row["outcome"]),
                               {"tool": row["tool"], "domains": {}, "stated": "", "line": row["line"]})
        if row["domain"] == ROB_OVERALL:
            group["stated"], group["line"] = row["judgement"], row["line"]
        else:
            group["domains"][row["domain"]] = row["judgement"]
    for (study, outcome), group in out.items():
        shared = out.get((study, ROB_ALL_OUTCOMES))
        if outcome != ROB_ALL_OUTCOMES and shared is not None and shared["tool"] == group["tool"]:
            group["domains"] = {**shared["domains"], **group["domains"]}
    return out


def rob_problems(file: str, rows: list[dict], good: list[dict]) -> list:
    """The rules of ``risk_of_bias.tsv`` beyond its cells' formats (called by
    :func:`metapool.analysis.validation.validate_tables`): the tool is the registry's, the domain one of the
    tool's (or ``overall``), the judgement on the tool's scale; one tool per report; a domain judged for ``all``
    outcomes is not judged again for one; a tool without an algorithm has a stated overall row; a stated overall
    judgement is one the tool's algorithm accepts (:func:`accepted_overall`). ``rows`` are the rows as records
    (file line = position + 2), ``good`` their cells that passed the cell checks. Returns the
    :class:`~metapool.analysis.validation.Violation` list."""
    import difflib

    from .validation import Violation

    out, checked, tools, shared = [], [], {}, {}

    def close(value, choices):
        hint = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
        return f" (did you mean '{hint[0]}'?)" if hint else ""

    for line, (row, ok) in enumerate(zip(rows, good), start=2):
        tool = ok.get("tool")
        if tool is None:
            continue
        if tool not in ROB_TOOLS:
            out.append(Violation(file, line, "tool", row["tool"], f"tool '{tool}' is not a risk-of-bias tool"
                                 f"{close(tool, ROB_TOOLS)}; tools: {', '.join(ROB_TOOLS)}"))
            continue
        t = ROB_TOOLS[tool]
        domain, judgement = ok.get("domain"), ok.get("judgement")
        if domain is not None and domain != ROB_OVERALL and domain not in t.domains:
            choices = (*t.domains, ROB_OVERALL)
            out.append(Violation(file, line, "domain", row["domain"], f"'{domain}' is not a domain of {tool}"
                                 f"{close(domain, choices)}; its domains: {', '.join(choices)}"))
            continue
        scale = t.overall_scale if domain == ROB_OVERALL else t.scale
        if judgement is not None and domain is not None and judgement not in scale:
            out.append(Violation(file, line, "judgement", row["judgement"],
                                 f"'{judgement}' is not a {tool} {'overall ' * (domain == ROB_OVERALL)}judgement"
                                 f"{close(judgement, scale)}; its scale: {', '.join(scale)}"))
            continue
        if domain is None or judgement is None or "study_id" not in ok or "outcome" not in ok:
            continue
        first = tools.setdefault(row["study_id"], (line, tool))
        if first[1] != tool:
            out.append(Violation(file, line, "tool", tool, f"study {row['study_id']} is judged with {first[1]} on "
                                 f"line {first[0]}; judge one report with one tool"))
            continue
        if domain != ROB_OVERALL:
            key, earlier = (row["study_id"], domain), shared.get((row["study_id"], domain))
            if earlier and ROB_ALL_OUTCOMES in (earlier[1], row["outcome"]) and earlier[1] != row["outcome"]:
                out.append(Violation(file, line, "outcome", row["outcome"],
                                     f"domain {domain} of study {row['study_id']} is judged for outcome "
                                     f"'{earlier[1]}' on line {earlier[0]}; a domain judged for '{ROB_ALL_OUTCOMES}'"
                                     " outcomes is not judged again for one of them"))
                continue
            shared.setdefault(key, (line, row["outcome"]))
        checked.append({**row, "line": line})
    if out:
        return out
    for (study, outcome), group in _groups(checked).items():
        t = ROB_TOOLS[group["tool"]]
        accepted = accepted_overall(group["tool"], group["domains"])
        if not t.algorithm and not group["stated"]:
            out.append(Violation(file, group["line"], "domain", ROB_OVERALL,
                                 f"{group['tool']} has no algorithm for the overall judgement: state it in a row "
                                 f"with domain '{ROB_OVERALL}' for study {study}, outcome {outcome}"))
        elif group["stated"] and group["stated"] not in accepted:
            missing = [d for d in t.domains if d not in group["domains"]]
            why = (f"the algorithm gives {' or '.join(accepted)}" if accepted else
                   f"the overall judgement is unknown: domain(s) {', '.join(missing)} not judged")
            out.append(Violation(file, group["line"], "judgement", group["stated"],
                                 f"stated overall judgement '{group['stated']}' of study {study}, outcome {outcome} "
                                 f"disagrees with the {group['tool']} algorithm ({t.reference}): {why}"))
    return out


def design_problems(file: str, table: pd.DataFrame, studies: pd.DataFrame, studies_file: str) -> list:
    """RoB 2 judges randomised comparisons: a ``rob2`` row whose report's ``design`` in studies.tsv is not
    ``randomised`` is refused (file, line, column ``tool``, value), naming the report's design. ``table`` and
    ``studies`` are the files as read (strings), each already valid on its own."""
    from .validation import Violation

    design = dict(zip(studies["study_id"], studies["design"])) if "design" in studies else {}
    return [Violation(file, line, "tool", tool, f"rob2 judges randomised comparisons; study {study} has design "
                      f"'{design[study]}' in {studies_file}: judge it with {_suggested(design[study])}")
            for line, (study, tool) in enumerate(zip(table["study_id"], table["tool"]), start=2)
            if tool == "rob2" and design.get(study, "randomised") != "randomised"]


def _suggested(design: str) -> str:
    """The registry's tools for a report of ``design`` that is not randomised."""
    return " or ".join(name for name, t in ROB_TOOLS.items() if t.algorithm != "rob2") + f" (design {design})"


def read_risk_of_bias(path: str | PathLike, studies: str | PathLike) -> pd.DataFrame:
    """``risk_of_bias.tsv`` validated against its schema, the tools' rules and the study ids of ``studies``
    (:func:`metapool.analysis.validation.validate_tables`); raises DataValidationError naming the file, line,
    column and value of every problem."""
    from .validation import validate_tables

    return validate_tables({"studies": studies, RISK_OF_BIAS_TABLE: path})[RISK_OF_BIAS_TABLE]


def result_judgements(table: pd.DataFrame) -> pd.DataFrame:
    """One row per result (study_id, outcome) of a validated risk-of-bias table: its ``tool``, one column per
    domain of the tool (its judgement, '' when not judged; a report's ``all`` rows fill its outcomes' rows), the
    ``stated`` overall judgement ('' when none) and the ``overall`` one (:func:`overall_judgement`; '' unknown).
    In the order of the table's first row of each result."""
    rows = table[["study_id", "outcome", "tool", "domain", "judgement", "line"]].to_dict("records")
    out = []
    for (study, outcome), group in _groups(rows).items():
        t = ROB_TOOLS[group["tool"]]
        out.append({"study_id": study, "outcome": outcome, "tool": group["tool"],
                    **{d: group["domains"].get(d, "") for d in t.domains}, "stated": group["stated"],
                    "overall": overall_judgement(group["tool"], group["domains"], group["stated"])})
    return pd.DataFrame(out).fillna("")


def overall_judgements(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The overall risk-of-bias judgement of each result, on the three levels GRADE's risk-of-bias domain reads.

    (study_id, outcome) -> ``low``, ``some_concerns`` or ``high``. RoB 2 and the JBI checklist's stated overall
    judgements are on these three levels already; ROBINS-I's are mapped as ROBINS-I's authors compare them with
    a randomised trial (Sterne et al. 2016, BMJ 355:i4919: a study at low risk is comparable to a well-performed
    randomised trial): low -> low, moderate -> some_concerns, serious and critical -> high
    (:attr:`metapool.vocabulary.RobTool.grade`). A result whose overall judgement is unknown (a domain not
    judged) or ROBINS-I "no information" is left out: absent means no judgement, never low. A report's
    judgement for every outcome is under (study_id, ``all``); :func:`judgement_for` looks an outcome up with
    that fallback.

    Parameters
    ----------
    table : pandas.DataFrame
        A validated ``risk_of_bias.tsv`` (:func:`read_risk_of_bias`), with columns study_id, outcome, tool,
        domain, judgement and line.

    Returns
    -------
    dict[tuple[str, str], str]
        (study_id, outcome) -> GRADE level, for the results with a known overall judgement.
    """
    if table.empty:
        return {}
    out = {}
    for row in result_judgements(table).to_dict("records"):
        level = ROB_TOOLS[row["tool"]].grade.get(row["overall"], "") if row["overall"] else ""
        if level:
            out[(row["study_id"], row["outcome"])] = level
    return out


def judgement_for(judgements: Mapping[tuple[str, str], str], study_id: str, outcome: str) -> str:
    """The judgement of ``outcome`` of ``study_id`` in ``judgements`` (:func:`overall_judgements`), else the
    report's judgement for ``all`` outcomes when it has no row for that outcome; '' when none."""
    return judgements.get((study_id, outcome), judgements.get((study_id, ROB_ALL_OUTCOMES), ""))


def analysis_judgements(studies: pd.DataFrame, table: pd.DataFrame, outcome: str, comparative: bool) -> pd.DataFrame:
    """The risk-of-bias judgements of the studies an analysis pools, in the order of its ``studies.tsv``.

    Parameters
    ----------
    studies : pandas.DataFrame
        The analysis's ``studies.tsv`` (``study_id``, ``label``, ``included``, ``weight``).
    table : pandas.DataFrame
        A validated ``risk_of_bias.tsv`` (:func:`read_risk_of_bias`).
    outcome : str
        The outcome code of the analysis (``pfs`` for ``pfs_hr``): each study's judgement of that outcome, else
        its judgement for ``all`` outcomes.
    comparative : bool
        Whether the analysis compares two arms: only the tools for comparisons (RoB 2, ROBINS-I) judge its
        results; else only the tools for single arms (the JBI checklist).

    Returns
    -------
    pandas.DataFrame
        One row per included study with a judgement: ``study_id``, ``label``, ``weight`` (the analysis's own
        weight, NaN when it has none), ``tool``, one column per domain of every tool present ('' = not judged),
        ``overall`` ('' = unknown).
    """
    results = result_judgements(table) if not table.empty else pd.DataFrame()
    if results.empty:
        return pd.DataFrame(columns=["study_id", "label", "weight", "tool", "overall"])
    results = results[[ROB_TOOLS[t].comparative == comparative for t in results["tool"]]]
    by_key = {(r["study_id"], r["outcome"]): r for r in results.to_dict("records")}
    rows = []
    included = studies[[str(v).lower() in ("true", "1", "1.0") for v in studies["included"]]]
    for study in included.to_dict("records"):
        found = by_key.get((study["study_id"], outcome)) or by_key.get((study["study_id"], ROB_ALL_OUTCOMES))
        if found is None:
            continue
        tool = ROB_TOOLS[found["tool"]]
        rows.append({"study_id": study["study_id"], "label": study["label"], "weight": float(study["weight"]),
                     "tool": found["tool"], **{d: found.get(d, "") for d in tool.domains},
                     "overall": found["overall"]})
    if not rows:
        return pd.DataFrame(columns=["study_id", "label", "weight", "tool", "overall"])
    frame = pd.DataFrame(rows)
    text = [c for c in frame.columns if c != "weight"]
    frame[text] = frame[text].fillna("")
    return frame
