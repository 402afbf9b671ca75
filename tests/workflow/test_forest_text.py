"""The default plan's forest plots, read back from their SVG text (matplotlib writes each text as an XML comment
before its glyphs): every number drawn equals the table cell it comes from (results/default/analyses/<a>/
studies.tsv and results/default/tables/pooled.tsv, at the display rounding), every study label is drawn whole,
and no label or reason is cut with "…"."""

from __future__ import annotations

import html
import math
import re
from pathlib import Path

from metapool.display import format_p, overall_effect_text
from metapool.io import read_tsv
from metapool.analysis.run import overall_shown
from metapool.vocabulary import BAYES_TEXT_COLUMNS

FIGSP = "\u2007"
SCALE = {"proportion": 100.0}
DECIMALS = {"proportion": 1, "median": 1, "hr": 2, "ratio_of_medians": 2}
TEXT = ["study_id", "label", "subgroup", "reason", "status", "trial", "cohort", "drug", "assessor", "se_note",
        "comparator", "comparator_study_id", "ci_asymmetry"]
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# an estimate with its interval ("NR" alone: a median not reached; a bare number is an axis tick)
INTERVAL = re.compile(r"^NR$|^(NR|-?\d+\.\d+)( \(no CI\)| \[(NR|-?\d+\.\d+); (NR|-?\d+\.\d+)\]| \[NR\])$")


def svg_texts(path: Path) -> list[str]:
    """Every text of an SVG figure, figure spaces (column padding) removed."""
    found = re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"))
    return [re.sub(" +", " ", html.unescape(t).replace(FIGSP, "")).strip() for t in found]


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""


def _flag(v) -> bool:
    return not _missing(v) and str(v).lower() in ("true", "1")


def _n(v, measure, nr=False) -> str:
    if nr:
        return "NR"
    return "NR" if _missing(v) else f"{float(v) * SCALE.get(measure, 1.0):.{DECIMALS[measure]}f}"


def _interval(est, lo, hi, measure, est_nr=False, lo_nr=False, hi_nr=False) -> set[str]:
    e = _n(est, measure, est_nr)
    out = {f"{e} [{_n(lo, measure, lo_nr)}; {_n(hi, measure, hi_nr)}]"}
    if _missing(lo) and _missing(hi):
        out |= {f"{e} (no CI)", f"{e} [NR]", e}
    return out


def _tau2(t) -> str:
    return "0" if t == 0 else "0.0001" if t < 0.00005 else f"{t:.4f}"


def bayes_intervals(bayes, measure) -> set[str]:
    """The intervals of a Bayesian fit a forest plot draws (results/default/analyses/<a>/bayes.tsv): posterior
    medians and credible intervals of mu, of a new study's effect and of each study (shrinkage)."""
    out = set()
    if bayes is None:
        return out
    for r in bayes.to_dict("records"):
        if r["quantity"] in ("mu", "theta_new", "study"):
            out |= _interval(r["median"], r["ci_lower"], r["ci_upper"], measure)
    return out


def expected_cells(studies, row, fits=None, bayes=None) -> dict[str, set[str]]:
    """The table cells a forest plot may draw, formatted at the display rounding, by kind of text (``fits``: the
    analysis's subgroups.tsv, whose Q, df = k - 1 and p each subgroup's heterogeneity line shows; with
    ``bayes``, the analysis's bayes.tsv, its intervals too)."""
    measure = row["measure"]
    shown = [r for r in studies.to_dict("records") if r["status"] != "set_aside"]
    intervals, weights, counts, het = set(), {"100.0%"}, set(), set()
    for r in shown:
        intervals |= _interval(r["estimate"], r["ci_lower"], r["ci_upper"], measure, _flag(r.get("estimate_nr")),
                               _flag(r.get("ci_lower_nr")), _flag(r.get("ci_upper_nr")))
        if _flag(r["included"]) and not _missing(r["weight"]):
            weights.add(f"{r['weight']:.1f}%")
        if measure == "proportion" and not _missing(r.get("events")):
            counts.add(f"{int(r['events'])}/{int(r['total'])}")
        if measure == "ratio_of_medians":
            counts.add(f"{_n(r.get('e_median'), 'median')} vs {_n(r.get('c_median'), 'median')}")
        if not _missing(r.get("subgroup_estimate")):
            intervals |= _interval(r["subgroup_estimate"], r["subgroup_ci_lower"], r["subgroup_ci_upper"], measure)
            het |= {f"{r['subgroup_i2']:.1f}", _tau2(r["subgroup_tau2"])} if not _missing(r["subgroup_i2"]) else set()
    for g in {r["subgroup"] for r in shown if r["subgroup"]}:  # subgroup totals (events / participants)
        pooled = [r for r in shown if r["subgroup"] == g and _flag(r["included"])]
        if measure == "proportion" and pooled:
            counts.add(f"{sum(int(r['events']) for r in pooled)}/{sum(int(r['total']) for r in pooled)}")
    inc = [r for r in shown if _flag(r["included"])]
    if measure == "proportion" and inc:
        counts.add(f"{sum(int(r['events']) for r in inc)}/{sum(int(r['total']) for r in inc)}")
    if not _missing(row["estimate"]):
        intervals |= _interval(row["estimate"], row["ci_lower"], row["ci_upper"], measure)
        if not _missing(row["pi_lower"]):
            intervals.add(f"[{_n(row['pi_lower'], measure)}; {_n(row['pi_upper'], measure)}]")
        if not _missing(row["q"]):
            het |= {f"{row['i2']:.1f}", _tau2(row["tau2"]), f"{row['q']:.2f}", f"{int(row['df'])}",
                    format_p(row["q_pvalue"]).lstrip("< ")}
    for fit in ([] if fits is None else fits.to_dict("records")):
        if fit["k"] >= 2 and not _missing(fit["q"]):
            het |= {f"{fit['i2']:.1f}", _tau2(fit["tau2"]), f"{fit['q']:.2f}", f"{int(fit['k']) - 1}",
                    format_p(fit["q_pvalue"]).lstrip("< ")}
    return {"interval": intervals | bayes_intervals(bayes, measure), "weight": weights, "count": counts, "het": het}


def check_forest(svg: Path, studies, row, fits=None, bayes=None) -> int:
    """Assert that the figure's texts equal the tables' cells; returns the number of texts checked."""
    drawn = svg_texts(svg)
    cells = expected_cells(studies, row, fits, bayes)
    assert not [t for t in drawn if "\u2026" in t], svg.name  # nothing cut with an ellipsis
    shown = studies[studies["status"] != "set_aside"]
    missing = [label for label in shown["label"] if label not in drawn]
    assert not missing, (svg.name, missing)  # every label whole
    checked = 0
    for t in drawn:
        if INTERVAL.match(t) or re.fullmatch(r"\[(NR|-?\d+\.\d+); (NR|-?\d+\.\d+)\]", t):
            kind = "interval"
        elif re.fullmatch(r"\d+\.\d%", t):
            kind = "weight"
        elif re.fullmatch(r"\d+/\d+|(NR|\d+\.\d) vs (NR|\d+\.\d)", t):
            kind = "count"
        elif t.startswith("Heterogeneity:"):
            numbers = [n for n in NUMBER.findall(t.split(":", 1)[1]) if n != "2"]  # the 2 of I², τ²
            assert set(numbers) <= cells["het"], (svg.name, t, cells["het"])
            checked += 1
            continue
        elif t.startswith("Test for overall effect:"):
            # in the config's p-value style (p_values; the default config: jama)
            assert t == overall_effect_text(row["zval"], row["ddf"], row["pval"], "jama"), (svg.name, t)
            checked += 1
            continue
        elif t.startswith("Test for subgroup differences"):
            assert f"Q = {row['q_between']:.2f}, df = {int(row['df_between'])}" in t, (svg.name, t)
            checked += 1
            continue
        else:
            continue
        assert t in cells[kind], (svg.name, kind, t)
        checked += 1
    n_studies = int((shown["estimate"].notna() | shown.get("estimate_nr", False)).sum())
    assert checked >= n_studies, (svg.name, checked, n_studies)
    return checked


def forest_checks(results: Path) -> int:
    pooled = read_tsv(results / "tables/pooled.tsv", text_columns=["analysis", "subgroup", "test", "notes"])
    total = 0
    for row in pooled.to_dict("records"):
        name = row["analysis"]
        studies = read_tsv(results / f"analyses/{name}/studies.tsv", text_columns=TEXT)
        table = results / f"analyses/{name}/subgroups.tsv"
        fits = read_tsv(table, text_columns=["analysis", "subgroup", "group", "test", "notes"]) if table.exists() else None
        path = results / f"analyses/{name}/bayes.tsv"
        bayes = read_tsv(path, text_columns=BAYES_TEXT_COLUMNS) if path.exists() else None
        n = check_forest(results / f"figures/forest_{name}.svg", studies, row, fits, bayes)
        drawn = svg_texts(results / f"figures/forest_{name}.svg")
        if bayes is not None:  # every Bayesian interval is drawn, and the frequentist ones are not replaced
            measure = row["measure"]
            fits = bayes[bayes["quantity"].isin(["mu", "theta_new", "study"])]
            assert len(fits) and all(_interval(r["median"], r["ci_lower"], r["ci_upper"], measure) & set(drawn)
                                     for r in fits.to_dict("records")), name
        has_test = overall_shown(row) and not _missing(row["zval"])
        assert any(t.startswith("Test for overall effect:") for t in drawn) == has_test, name
        total += n
    return total


def test_every_number_in_the_default_forest_plots_equals_its_table_cell(workflow_run):
    assert forest_checks(workflow_run / "results/default") > 100
