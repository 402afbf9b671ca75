"""The order of the studies in a forest plot and its summary table (the config's ``forest_sort``): by year, estimate,
weight or label within each subgroup, the data's order for ties and as the default, missing values last."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from metapool.figures.plots import forest_rows
from metapool.spec import AnalysisSpec
from metapool.vocabulary import FOREST_SORTS

STUDIES = pd.DataFrame([
    # label, subgroup, year, estimate, weight
    {"study_id": "a", "label": "Zeta (x, 2019)", "subgroup": "x", "year": 2019, "estimate": 0.60, "weight": 10.0},
    {"study_id": "b", "label": "alpha (x, 2012)", "subgroup": "x", "year": 2012, "estimate": 0.40, "weight": 30.0},
    {"study_id": "c", "label": "Mu (y, 2016)", "subgroup": "y", "year": 2016, "estimate": 0.55, "weight": 5.0},
    {"study_id": "d", "label": "Beta (x, 2015)", "subgroup": "x", "year": 2015, "estimate": math.nan,
     "weight": math.nan, "status": "not_pooled", "included": False},
    {"study_id": "e", "label": "Gamma (y, 2014)", "subgroup": "y", "year": 2014, "estimate": 0.35, "weight": 20.0},
    {"study_id": "f", "label": "Delta (x, 2012)", "subgroup": "x", "year": 2012, "estimate": 0.50, "weight": 30.0},
    {"study_id": "s", "label": "Set aside (x, 2010)", "subgroup": "x", "year": 2010, "estimate": 0.1, "weight": math.nan,
     "status": "set_aside", "included": False},
]).assign(ci_lower=lambda d: d["estimate"] - 0.1, ci_upper=lambda d: d["estimate"] + 0.1, events=math.nan,
          total=math.nan, reason="", subgroup_k=math.nan, subgroup_estimate=math.nan, subgroup_ci_lower=math.nan,
          subgroup_ci_upper=math.nan, subgroup_tau2=math.nan, subgroup_i2=math.nan)
STUDIES["status"] = STUDIES["status"].fillna("pooled")
STUDIES["included"] = STUDIES["included"].fillna(True).astype(bool)


def order(sort: str, studies: pd.DataFrame = STUDIES) -> list[str]:
    rows = forest_rows(studies, "proportion", sort)
    return [r["study_id"] if r["kind"] == "study" else f"[{r['label']}]" for r in rows.to_dict("records")
            if r["kind"] in ("study", "header")]


@pytest.mark.parametrize("sort, expected", [
    ("data", ["[x]", "a", "b", "d", "f", "[y]", "c", "e"]),
    # year, then label (case-insensitive) for the two 2012 studies
    ("year", ["[x]", "b", "f", "d", "a", "[y]", "e", "c"]),
    # ascending; the study without an estimate last
    ("estimate", ["[x]", "b", "f", "a", "d", "[y]", "e", "c"]),
    # largest first; the two of 30% in the data's order; the unweighted study last
    ("weight", ["[x]", "b", "f", "a", "d", "[y]", "e", "c"]),
    ("label", ["[x]", "b", "d", "f", "a", "[y]", "e", "c"]),
])
def test_forest_sort_orders_the_studies_within_each_subgroup(sort, expected):
    assert order(sort) == expected


def test_forest_sort_without_subgroups_and_an_unknown_sort():
    flat = STUDIES.assign(subgroup="")
    assert order("year", flat) == ["b", "f", "e", "d", "c", "a"]
    with pytest.raises(ValueError, match="forest_sort must be one of data, year"):
        forest_rows(flat, "proportion", "size")


def test_forest_sort_is_an_option_of_the_spec_that_does_not_rerun_the_pooling():
    spec = AnalysisSpec.from_options("x", {"title": "x", "outcome": "orr", "forest_sort": "year"})
    assert spec.forest_sort == "year" and AnalysisSpec.from_params(spec.to_params()) == spec
    assert AnalysisSpec.from_options("x", {"title": "x", "outcome": "orr"}).forest_sort == "data" == FOREST_SORTS[0]
    assert spec.pooling_only().forest_sort == "data"
    with pytest.raises(ValueError, match="forest_sort must be one of"):
        AnalysisSpec.from_options("x", {"title": "x", "outcome": "orr", "forest_sort": "size"})


def test_each_subgroup_heterogeneity_line_has_q_df_and_p_from_subgroups_tsv():
    """With the analysis's subgroups.tsv, the line under a subgroup's subtotal is the overall line's format (I², τ²,
    Q on k - 1 df, p); without it, I² and τ² from studies.tsv."""
    studies = STUDIES.assign(subgroup_k=lambda d: d["subgroup"].map({"x": 3, "y": 2}), subgroup_estimate=0.5,
                             subgroup_ci_lower=0.4, subgroup_ci_upper=0.6, subgroup_tau2=0.0123, subgroup_i2=41.5)
    fits = pd.DataFrame({"group": ["x", "y"], "k": [3, 2], "tau2": [0.0123, 0.0], "i2": [41.5, 0.0],
                         "q": [3.42, 0.31], "q_pvalue": [0.181, 0.578]})
    notes = [r["label"] for r in forest_rows(studies, "proportion", "data", fits).to_dict("records")
             if r["kind"] == "note"]
    assert notes == ["Heterogeneity: I\u00b2 = 41.5%, \u03c4\u00b2 = 0.0123, Q = 3.42 (df = 2), p = 0.18",
                     "Heterogeneity: I\u00b2 = 0.0%, \u03c4\u00b2 = 0, Q = 0.31 (df = 1), p = 0.58"]
    without = [r["label"] for r in forest_rows(studies, "proportion").to_dict("records") if r["kind"] == "note"]
    assert without == ["Heterogeneity: I\u00b2 = 41.5%, \u03c4\u00b2 = 0.0123"] * 2
