"""Figures of one analysis, drawn from its result tables (metafor's flow: plots consume model results).

Survival conventions: medians on a linear months axis; hazard ratios and ratios
of medians on a log axis with "favours" labels (HR < 1 and ratio of medians > 1
favour the experimental arm); a median not reached is written "NR" and never
drawn as a number; a median without a CI says so ("no CI") rather than "NR".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..analysis.run import overall_shown
from ..display import p_text
from ..stats.heterogeneity import i2_from_q
from ..vocabulary import MEASURES, MEDIAN_METHOD_FACTS
from .forest import forest_plot, heterogeneity_text
from .style import save_figure

__all__ = ["is_true", "analysis_forest", "analysis_forest_figure", "forest_rows", "total_detail", "model_label",
           "header_model", "subgroup_test_text", "bayes_footnote"]

_DECIMALS = {"proportion": 1, "median": 1, "hr": 2, "ratio_of_medians": 2}
_AXIS_MEASURE = {"ratio_of_medians": "hr"}  # drawn like an HR: log axis, reference line at 1
# the median methods without per-study standard errors (no model, a sign-test CI)
_MEDIAN_OF_MEDIANS = tuple(name for name, m in MEDIAN_METHOD_FACTS.items() if not m.inverse_variance)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or bool(pd.isna(value))


def is_true(value) -> bool:
    """A true/false cell: a bool, or its text as a table column with empty cells is read ("True", "False", "")."""
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return False if _missing(value) else bool(value)


def _num(value, dec: int, nr: bool = False) -> str:
    if nr:
        return "NR"
    return "" if _missing(value) else f"{value:.{dec}f}"


def estimate_text(row, measure: str) -> str:
    """The estimate column's text where the default ``est [lo; hi]`` would mislead ('' = default).

    A median (or ratio) not reached is "NR"; an estimate without a CI is
    "x (no CI)", not "x [NR]"; a limit not reached is "NR".
    """
    dec = _DECIMALS[measure]
    est_nr = is_true(row.get("estimate_nr"))
    lo_nr, hi_nr = is_true(row.get("ci_lower_nr")), is_true(row.get("ci_upper_nr"))
    est, lo, hi = row.get("estimate"), row.get("ci_lower"), row.get("ci_upper")
    has_ci = not (_missing(lo) and not lo_nr) or not (_missing(hi) and not hi_nr)
    if est_nr and not has_ci:
        return "NR"
    if not est_nr and _missing(est):
        return ""
    if not has_ci:
        return f"{_num(est, dec)} (no CI)"
    if est_nr or lo_nr or hi_nr:
        return f"{_num(est, dec, est_nr)} [{_num(lo, dec, lo_nr)}; {_num(hi, dec, hi_nr)}]"
    return ""


def _detail(row, measure: str) -> str:
    if measure == "proportion":
        e, t = row.get("events"), row.get("total")
        return "" if _missing(e) or _missing(t) else f"{int(e)}/{int(t)}"
    if measure == "ratio_of_medians":
        e = _num(row.get("e_median"), 1, is_true(row.get("e_median_nr"))) or "?"
        c = _num(row.get("c_median"), 1, is_true(row.get("c_median_nr"))) or "?"
        return f"{e} vs {c}"
    return ""


def _study_row(row, measure: str) -> dict:
    return {
        "label": row["label"],
        "study_id": row.get("study_id", ""),
        "detail": _detail(row, measure),
        "estimate": row["estimate"],
        "ci_lower": row["ci_lower"],
        "ci_upper": row["ci_upper"],
        "weight": row["weight"],
        "included": is_true(row["included"]),
        "note": "" if is_true(row["included"]) else f"not pooled: {row['reason']}",
        "estimate_text": estimate_text(row, measure),
        "kind": "study",
    }


BAYES_MU_LABEL = "Bayesian posterior \u03bc"
BAYES_NEW_LABEL = "Bayesian new study (predictive)"
SHRINKAGE_LABEL = "posterior (shrinkage)"


def _bayes_rows(bayes: pd.DataFrame | None, group: str, studies=None) -> list[dict]:
    """The Bayesian rows of one fit (``group`` of ``bayes.tsv``; '' the overall fit): with ``studies`` (a study's
    record) its shrinkage estimate, else the posterior of mu (diamond) and of a new study's effect (bar)."""
    if bayes is None:
        return []
    fit = bayes[(bayes["group"] == group) & (bayes["reason"] == "")]
    if studies is not None:
        fit = fit[(fit["quantity"] == "study") & (fit["study_id"] == studies["study_id"])]
        kinds = [("shrinkage", SHRINKAGE_LABEL)]
    else:
        kinds = [("bayes_mu", BAYES_MU_LABEL), ("bayes_new", BAYES_NEW_LABEL)]
    rows = []
    for kind, label in kinds:
        quantity = {"shrinkage": "study", "bayes_mu": "mu", "bayes_new": "theta_new"}[kind]
        r = fit[fit["quantity"] == quantity]
        if len(r):
            r = r.iloc[0]
            rows.append({"label": label, "kind": kind, "included": False, "estimate": r["median"],
                         "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"]})
    return rows


def bayes_footnote(bayes: pd.DataFrame | None) -> str:
    """The footnote of a forest plot with a Bayesian fit: what the lighter rows are and the priors ('' without
    one)."""
    if bayes is None or not len(bayes):
        return ""
    r = bayes.iloc[0]
    return (f"Lighter rows: Bayesian random-effects fit ({r['likelihood']} likelihood, {r['scale']} scale; "
            f"\u03c4 ~ {r['tau_prior']}, \u03bc ~ {r['mu_prior']}): each study's posterior (shrinkage estimate) "
            f"beneath it, the posterior median of \u03bc (diamond) and of a new study's effect (bar) with "
            f"{100 * float(r['level']):g}% credible intervals")


def _sorted(records: list[dict], sort: str) -> list[dict]:
    """``records`` in the order ``sort`` (:data:`~metapool.vocabulary.FOREST_SORTS`) asks for; ties and missing
    values keep the data's order (a stable sort; a missing year, estimate or weight last)."""
    if sort == "data":
        return records

    def number(value, sign=1.0):
        return (1, 0.0) if _missing(value) else (0, sign * float(value))

    keys = {
        "year": lambda r: (number(r.get("year")), str(r.get("label", "")).casefold()),
        "estimate": lambda r: number(r.get("estimate")),
        "weight": lambda r: number(r.get("weight"), -1.0),
        "label": lambda r: str(r.get("label", "")).casefold(),
    }
    if sort not in keys:
        raise ValueError(f"forest_sort must be one of data, {', '.join(keys)}; got {sort!r}")
    return sorted(records, key=keys[sort])


def forest_rows(studies: pd.DataFrame, measure: str, sort: str = "data", subgroups: pd.DataFrame | None = None,
                bayes: pd.DataFrame | None = None) -> pd.DataFrame:
    """The rows a forest plot shows: pooled and not-poolable reports (not those set aside by the policy).

    With subgroups (a non-empty ``subgroup`` column), the reports are grouped
    under a header row per subgroup, each followed by its subtotal (the
    subgroup's pooled estimate, when it has two or more pooled reports). A subgroup of one pooled
    report is drawn as that study, with a note that nothing was pooled, not as a pooled subgroup.
    ``sort`` orders the reports (within each subgroup): ``"data"`` (as in ``studies``), ``"year"``,
    ``"estimate"`` (ascending), ``"weight"`` (largest first) or ``"label"`` (the config's ``forest_sort``).
    With the analysis's ``subgroups.tsv`` (``subgroups``), each subgroup's heterogeneity line is the overall one's
    (:func:`~metapool.figures.forest.heterogeneity_text`: I², τ², Q with its df = k − 1, p), else I² and τ².

    With ``bayes`` (the analysis's ``bayes.tsv``) each pooled study is followed by its shrinkage estimate,
    and each fit (a subgroup's, after its subtotal; the overall one, after the studies) by the posterior of
    mu and of a new study's effect (as bayesmeta's forest plot; Röver 2020).
    """
    fits = {} if subgroups is None else {str(r["group"]): r for r in subgroups.to_dict("records")}
    shown = studies[studies["status"] != "set_aside"]
    records = _sorted(shown.to_dict("records"), sort)
    for r in records:
        r["subgroup"] = "" if _missing(r.get("subgroup")) else str(r["subgroup"])
    has_subgroups = any(r["subgroup"] for r in records)
    rows = []

    def study_rows(members, group):
        out = []
        for r in members:
            out.append(_study_row(r, measure))
            if is_true(r["included"]):
                out += _bayes_rows(bayes, group, r)
        return out

    if not has_subgroups:
        rows = study_rows(records, "") + _bayes_rows(bayes, "")
    else:
        order = []
        for r in records:
            if r["subgroup"] not in order:
                order.append(r["subgroup"])
        for g in sorted(order, key=str):
            members = [r for r in records if r["subgroup"] == g]
            rows.append({"label": str(g), "kind": "header", "included": False})
            rows += study_rows(members, str(g))
            k = members[0].get("subgroup_k")
            if not _missing(k) and k == 1:
                rows.append({"label": ONE_STUDY_SUBGROUP, "kind": "note", "included": False})
            elif not _missing(k) and k >= 2:
                sub = {"estimate": members[0]["subgroup_estimate"], "ci_lower": members[0]["subgroup_ci_lower"],
                       "ci_upper": members[0]["subgroup_ci_upper"]}
                rows.append({"label": f"Subtotal {g} (k = {int(k)})", "kind": "subtotal", "included": False,
                             "estimate_text": estimate_text(sub, measure), "detail": total_detail(members, measure),
                             **sub})
                fit = fits.get(str(g))
                het = (heterogeneity_text({**fit, "df": fit["k"] - 1}) if fit is not None and not _missing(fit.get("q"))
                       else _subgroup_heterogeneity(members[0]))
                if het:
                    rows.append({"label": het, "kind": "note", "included": False})
            rows += _bayes_rows(bayes, str(g))
        if bayes is not None and (bayes["group"] == "").any():  # the overall fit, after every subgroup
            rows += _bayes_rows(bayes, "")
    columns = ["label", "study_id", "detail", "estimate", "ci_lower", "ci_upper", "weight", "included", "note",
               "estimate_text", "kind"]
    out = pd.DataFrame(rows, columns=columns)
    for col in ("label", "study_id", "detail", "note", "estimate_text"):
        out[col] = out[col].fillna("").astype(str)
    out["kind"] = out["kind"].fillna("study")
    out["included"] = out["included"].fillna(False).astype(bool)
    return out


def total_detail(records, measure: str) -> str:
    """The total row of a proportion: total events / total participants of the pooled reports
    (``"411/512"``, RevMan's "Total events"); '' for other measures or when a count is missing."""
    if measure != "proportion":
        return ""
    pooled = [r for r in records if is_true(r.get("included"))]
    if not pooled or any(_missing(r.get("events")) or _missing(r.get("total")) for r in pooled):
        return ""
    return f"{sum(int(r['events']) for r in pooled)}/{sum(int(r['total']) for r in pooled)}"


def _subgroup_heterogeneity(row) -> str:
    """``Heterogeneity: I² = 12.3%, τ² = 0.0456`` of a subgroup ('' without a τ²: the median of medians)."""
    i2, tau2 = row.get("subgroup_i2"), row.get("subgroup_tau2")
    if _missing(i2) or _missing(tau2):
        return ""
    tau = "0" if tau2 == 0 else "< 0.0001" if tau2 < 0.00005 else f"{tau2:.4f}"
    return f"Heterogeneity: I\u00b2 = {i2:.1f}%, \u03c4\u00b2 {'= ' if tau[0] != '<' else ''}{tau}"


def subgroup_test_text(row: dict) -> str:
    """``Test for subgroup differences (drug): Q = 2.62, df = 2, p = 0.27, I² = 23.7%`` ('' without a test).

    I² of the test is Higgins & Thompson's ``(Q - df) / Q`` of the subgroup differences
    (:func:`metapool.stats.heterogeneity.i2_from_q`), as Review Manager reports it: the share of the
    variability between the subgroup estimates beyond chance (Borenstein M, Higgins JPT. Meta-analysis and
    subgroups. Prev Sci 2013;14:134-143).
    """
    if not row.get("subgroup") or _missing(row.get("q_between")):
        return ""
    i2 = i2_from_q(float(row["q_between"]), float(row["df_between"]))
    return (f"Test for subgroup differences ({row['subgroup']}): Q = {row['q_between']:.2f}, "
            f"df = {int(row['df_between'])}, {p_text(row['q_between_pvalue'])}"
            + ("" if _missing(i2) else f", I\u00b2 = {i2:.1f}%"))


def header_model(row: dict) -> str:
    """The header's model part, e.g. ``Proportion, random effects (REML, logit)``; with one study, what was
    done instead: ``Proportion, one study (not pooled; z interval: Hartung-Knapp needs k ≥ 2)``."""
    if row.get("k") == 1 and overall_shown(row):
        used = "not pooled"
        if row.get("ci_method") == "hartung_knapp":
            used += "; z interval and test: Hartung-Knapp needs k \u2265 2"
        return f"{MEASURES[row['measure']].heading}, one study ({used})"
    label = model_label(row, subgroup_test=False)
    return f"{MEASURES[row['measure']].heading}, {label[:1].lower()}{label[1:]}"


def model_label(row: dict, *, subgroup_test: bool = True) -> str:
    """The model named in the plot's header line (its first word names the diamond row)."""
    measure = row["measure"]
    if row.get("median_method") in _MEDIAN_OF_MEDIANS:
        label = ("Weighted-median-of-medians" if row["median_method"].startswith("weighted") else "Median-of-medians")
        label += " (sign-test CI"
        if not _missing(row.get("coverage")):
            label += f", exact coverage {100 * row['coverage']:.1f}%"
        label += ")"
    else:
        label = "Common effect" if row["method"] == "EE" else f"Random effects ({row['method']}"
        if row["method"] != "EE":
            if measure == "proportion":
                label += f", {row['transform']}"
            else:
                label += ", months" if row.get("transform") == "identity" else ", log scale"
            label += ", Hartung-Knapp)" if row["ci_method"] == "hartung_knapp" else ")"
    if subgroup_test and subgroup_test_text(row):
        label += "; t" + subgroup_test_text(row)[1:]
    return label


def _favours(row: dict):
    comparator = row.get("comparator") or "comparator"
    if row["measure"] == "hr":
        return ("Favours experimental", f"Favours {comparator}")
    if row["measure"] == "ratio_of_medians":
        return (f"Favours {comparator}", "Favours experimental")
    return None


NO_OVERALL_TEXT = "No overall estimate across subgroups (overall: false)"
ONE_STUDY_SUBGROUP = "One study: nothing pooled in this subgroup"


def analysis_forest_figure(studies: pd.DataFrame, pooled: pd.DataFrame, sort: str = "data",
                           subgroups: pd.DataFrame | None = None, bayes: pd.DataFrame | None = None,
                           rob: pd.DataFrame | None = None):
    """The forest plot of one analysis from its ``studies.tsv`` and ``pooled.tsv`` (an open, unsaved figure).

    Parameters
    ----------
    studies, pooled : pandas.DataFrame
        The analysis's tables (``results/<plan>/analyses/<analysis>/studies.tsv``, its row of
        ``results/<plan>/tables/pooled.tsv``).
    sort : str
        The order of the studies (the analysis's ``forest_sort``; :func:`forest_rows`).
    subgroups : pandas.DataFrame, optional
        The analysis's ``subgroups.tsv``: each subgroup's heterogeneity with Q, df and p (:func:`forest_rows`).
    bayes : pandas.DataFrame, optional
        The analysis's Bayesian fit (``results/<plan>/analyses/<analysis>/bayes.tsv``): shrinkage estimates and
        posteriors drawn in a lighter colour (:func:`forest_rows`).
    rob : pandas.DataFrame, optional
        The risk-of-bias judgements of its studies (:func:`metapool.analysis.risk_of_bias.analysis_judgements`):
        drawn as RevMan's risk-of-bias columns beside the rows (the ``forest_rob`` option).

    Returns
    -------
    matplotlib.figure.Figure
    """
    row = pooled.iloc[0].to_dict()
    measure = row["measure"]
    pooled_map = None if row["k"] == 0 or _missing(row["estimate"]) else {
        **row, "detail": total_detail(studies.to_dict("records"), measure)}
    return forest_plot(
        forest_rows(studies, measure, sort, subgroups, bayes),
        pooled_map,
        measure=_AXIS_MEASURE.get(measure, measure),
        title=row["title"],
        model_label=header_model(row),
        level=row["level"],
        favours=_favours(row),
        footnotes=[t for t in (subgroup_test_text(row), bayes_footnote(bayes)) if t],
        absent=NO_OVERALL_TEXT if not overall_shown(row) else "No pooled estimate",
        rob=rob_columns(rob),
    )


def rob_columns(judged: pd.DataFrame | None) -> dict[str, tuple[str, tuple[str, ...]]] | None:
    """study_id -> (tool, its judgements: each domain of the tool in order, then the overall; '' not judged), from
    :func:`metapool.analysis.risk_of_bias.analysis_judgements`; None when ``judged`` is None."""
    if judged is None:
        return None
    from ..vocabulary import ROB_TOOLS

    return {r["study_id"]: (r["tool"], tuple(str(r.get(d, "") or "") for d in [*ROB_TOOLS[r["tool"]].domains,
                                                                               "overall"]))
            for r in judged.to_dict("records")}


def analysis_forest(studies: pd.DataFrame, pooled: pd.DataFrame, stem: str | Path, formats: Sequence[str],
                    sort: str = "data", subgroups: pd.DataFrame | None = None,
                    bayes: pd.DataFrame | None = None, rob: pd.DataFrame | None = None) -> list[Path]:
    """Draw and save the forest plot of one analysis from its ``studies.tsv`` and ``pooled.tsv`` (and its
    ``subgroups.tsv``, and its ``bayes.tsv`` when it has a Bayesian fit), its studies in the order ``sort``
    (:func:`analysis_forest_figure`; ``rob``: its risk-of-bias columns)."""
    return save_figure(analysis_forest_figure(studies, pooled, sort, subgroups, bayes, rob), stem,
                       formats=tuple(formats))
