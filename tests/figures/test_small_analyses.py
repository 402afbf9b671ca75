"""Honest small analyses in the forest plot: k = 1 is that study's estimate (no diamond, prediction interval or
heterogeneity line; the label says the z interval is used where Hartung-Knapp was asked for), k = 2 is a pooled
model with its t test, and a one-study subgroup is drawn as a study, not as a pooled subgroup.

What is drawn is read back from the SVG (matplotlib writes each text as an XML comment before its glyphs) and
from the figure's patches (the diamonds).
"""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd
from matplotlib.patches import Polygon

from metapool.analysis.run import POOLED_COLUMNS, SUBGROUP_COLUMNS
from metapool.display import overall_effect_text, using_p_style
from metapool.figures.plots import ONE_STUDY_SUBGROUP, analysis_forest_figure
from metapool.figures.style import save_figure
from metapool.stats.effects import clopper_pearson
from metapool.stats.proportions import pool_proportions
from metapool.stats.results import table_row

HK = {"method": "REML", "ci": "hartung_knapp"}


def svg_texts(fig, tmp_path) -> list[str]:
    """Every text of the figure as written to its SVG file."""
    path = save_figure(fig, tmp_path / "forest", formats=("svg",))[0]
    return [html.unescape(t) for t in re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"))]


def diamonds(fig) -> list[Polygon]:
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, Polygon)]


def tables(events, totals, groups=None, overall=True):
    """studies.tsv and pooled.tsv of a proportion analysis (REML, Hartung-Knapp) as the workflow writes them."""
    events, totals = np.asarray(events), np.asarray(totals)
    lo, hi = clopper_pearson(events, totals, 0.95)
    fit = pool_proportions(events, totals, **HK) if overall else None
    studies = pd.DataFrame({
        "label": [f"STUDY-{i + 1} long cohort label (drug, {2010 + i})" for i in range(len(events))],
        "status": "pooled", "included": True, "reason": "", "events": events, "total": totals, "n": totals,
        "estimate": events / totals, "ci_lower": lo, "ci_upper": hi,
        "weight": fit.weights if fit is not None else np.nan,
        **{c: ("" if c == "subgroup" else np.nan) for c in SUBGROUP_COLUMNS},
    })
    if groups is not None:
        studies["subgroup"] = groups
        for g in sorted(set(groups)):
            mask = studies["subgroup"] == g
            sub = table_row(pool_proportions(events[mask], totals[mask], **HK))
            for col in SUBGROUP_COLUMNS[1:]:
                studies.loc[mask, col] = sub[col.removeprefix("subgroup_")]
    row = {c: math.nan for c in POOLED_COLUMNS}
    row.update(analysis="x", title="Objective response rate", measure="proportion", comparator="", method="REML",
               median_method="", transform="logit", ci_method="hartung_knapp", level=0.95, k=len(events),
               overall=overall, subgroup="drug" if groups is not None else "")
    if fit is not None:
        row.update({k: v for k, v in table_row(fit).items() if k not in ("notes", "k")})
    return studies, pd.DataFrame([row]), (table_row(fit) if fit is not None else None)


def test_one_study_is_that_studys_estimate_with_no_model_drawn(tmp_path):
    studies, pooled, numbers = tables([63], [76])
    fig = analysis_forest_figure(studies, pooled)
    drawn = svg_texts(fig, tmp_path)
    assert studies["label"][0] in drawn
    # no diamond of a model that was not fitted, no prediction interval, no heterogeneity line, no "p = 1.00"
    assert diamonds(fig) == []
    assert "Random-effects model" not in drawn and "Prediction interval" not in drawn
    assert not any(t.startswith("Heterogeneity") for t in drawn)
    assert not any("= 1.00" in t for t in drawn)
    assert "One study: its estimate is shown, nothing is pooled" in drawn
    # the label states the method used: z, not the Hartung-Knapp the analysis asks for (metafor's fallback)
    assert numbers["test"] == "z" and math.isnan(numbers["ddf"])
    header = [t for t in drawn if t.startswith("Objective response rate")]
    assert header and "one study (not pooled; z interval and test: Hartung-Knapp needs k \u2265 2)" in " ".join(header)
    assert not any("Random effects" in t for t in drawn)
    # the p-value style of the config (p_values): jama by default, RevMan when asked for
    test_line = overall_effect_text(numbers["zval"], numbers["ddf"], numbers["pval"], "jama")
    assert test_line.startswith("Test for overall effect: z = ") and test_line in drawn
    with using_p_style("revman"):
        revman = analysis_forest_figure(studies, pooled)
    (tmp_path / "revman").mkdir()
    test_line = overall_effect_text(numbers["zval"], numbers["ddf"], numbers["pval"], "revman")
    assert test_line.startswith("Test for overall effect: Z = ") and test_line in svg_texts(revman, tmp_path / "revman")


def test_two_studies_are_pooled_with_the_t_test_of_hartung_knapp(tmp_path):
    studies, pooled, numbers = tables([63, 40], [76, 90])
    fig = analysis_forest_figure(studies, pooled)
    drawn = svg_texts(fig, tmp_path)
    assert len(diamonds(fig)) == 1
    assert "Random-effects model" in drawn
    assert any(t.startswith("Heterogeneity: I\u00b2 = ") for t in drawn)
    assert any("Hartung-Knapp" in t for t in drawn)
    assert numbers["test"] == "t" and numbers["ddf"] == 1
    test_line = f"Test for overall effect: t = {numbers['zval']:.2f}, df = 1 (p = {numbers['pval']:.2f})"
    assert test_line in drawn
    assert "One study: its estimate is shown, nothing is pooled" not in drawn
    assert "103/166" in drawn  # the total row: total events / total participants


def test_one_study_subgroup_is_drawn_as_a_study(tmp_path):
    studies, pooled, _ = tables([63, 40, 52], [76, 90, 80], groups=["alectinib", "crizotinib", "crizotinib"],
                                overall=False)
    fig = analysis_forest_figure(studies, pooled)
    drawn = svg_texts(fig, tmp_path)
    assert all(label in drawn for label in studies["label"])
    assert "Subtotal crizotinib (k = 2)" in drawn and not any(t.startswith("Subtotal alectinib") for t in drawn)
    assert "92/170" in drawn  # the two-study subgroup's total events / participants
    assert drawn.count(ONE_STUDY_SUBGROUP) == 1
    assert len(diamonds(fig)) == 1  # the two-study subgroup's subtotal only; no overall estimate
    hets = [t for t in drawn if t.startswith("Heterogeneity")]
    assert len(hets) == 1  # the two-study subgroup's
