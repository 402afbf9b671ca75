"""The report's figures: forest plots legible from 2 to 60 studies, funnel, leave-one-out and study-flow plots.

Legibility is checked on the drawn figure itself: the bounding boxes of every piece of text (labels, columns,
tick labels, legend, notes) must not intersect and must lie inside the figure.
"""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from metapool.stats.effects import clopper_pearson
from metapool.analysis.flow import StudyFlow
from metapool.figures.flow import flow_diagram
from metapool.figures.forest import ROW_H, forest_plot
from metapool.figures.funnel import EggerLine, funnel_plot
from metapool.figures.loo import loo_plot
from metapool.figures.plots import (
    NO_OVERALL_TEXT, analysis_forest, forest_rows, header_model, model_label, subgroup_test_text,
)
from metapool.figures.style import Measurer, font_properties, save_figure

DRUGS = ("alectinib", "crizotinib", "lorlatinib")


def texts(fig) -> list[tuple[str, object]]:
    """(text, window extent) of every visible, non-empty text of a drawn figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for t in fig.findobj(Text):
        if t.get_visible() and t.get_text().strip() and (t.axes is None or t.get_in_layout()):
            out.append((t.get_text(), t.get_window_extent(renderer)))
    return out


def assert_legible(fig) -> int:
    """No two texts overlap and every text lies inside the figure; returns the number of texts."""
    boxes = texts(fig)
    width, height = fig.bbox.width, fig.bbox.height
    for s, b in boxes:
        assert b.x0 >= -0.5 and b.y0 >= -0.5 and b.x1 <= width + 0.5 and b.y1 <= height + 0.5, f"outside: {s!r}"
    overlaps = [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]
    assert not overlaps, overlaps[:5]
    return len(boxes)


def proportion_studies(k: int, groups: int = 3, seed: int = 1) -> pd.DataFrame:
    """An analysis table of ``k`` studies in ``groups`` subgroups (one in seven not pooled), labels of real length."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(k):
        g = DRUGS[i % groups] if groups else ""
        n = int(rng.integers(20, 300))
        e = int(rng.integers(1, n))
        lo, hi = clopper_pearson(np.array([e]), np.array([n]), 0.95)
        pooled = bool(i % 7)
        rows.append({
            "analysis": "x", "study_id": f"S{i}",
            "label": f"TRIAL-{i:02d} extension cohort ({g or 'drug'}, {2000 + i % 24})",
            "status": "pooled" if pooled else "not_pooled", "included": pooled,
            "reason": "" if pooled else "evaluable patients not reported in the source",
            "events": e, "total": n, "n": n,
            "estimate": e / n, "ci_lower": float(lo[0]), "ci_upper": float(hi[0]),
            "weight": 100.0 / k if pooled else math.nan, "subgroup": g, "subgroup_k": k // max(groups, 1),
            "subgroup_estimate": 0.5, "subgroup_ci_lower": 0.42, "subgroup_ci_upper": 0.58, "subgroup_tau2": 0.12,
            "subgroup_i2": 61.3,
        })
    return pd.DataFrame(rows)


POOLED = {"title": "Objective response rate, a synthetic analysis of many studies", "measure": "proportion",
          "method": "REML", "transform": "logit", "ci_method": "z", "estimate": 0.5, "ci_lower": 0.45,
          "ci_upper": 0.55, "pi_lower": 0.2, "pi_upper": 0.8, "k": 34, "tau2": 0.3, "i2": 80.0, "q": 100.0, "df": 33,
          "q_pvalue": 1e-5, "subgroup": "drug", "q_between": 3.2, "df_between": 2, "q_between_pvalue": 0.2}


def draw_forest(st: pd.DataFrame, pooled: dict, measure: str = "proportion", **options):
    shown = None if math.isnan(pooled["estimate"]) else pooled
    return forest_plot(forest_rows(st, measure), shown, measure=measure, title=pooled["title"],
                       model_label=header_model(pooled), level=0.95,
                       footnotes=[t for t in (subgroup_test_text(pooled),) if t], **options)


# ---------------------------------------------------------------- forest plots


def test_forest_with_40_studies_in_3_subgroups_has_no_overlapping_text():
    st = proportion_studies(40, groups=3)
    fig = draw_forest(st, POOLED)
    n = assert_legible(fig)
    drawn = [s for s, _ in texts(fig)]
    assert n > 150
    assert sum(s.startswith("Subtotal ") for s in drawn) == 3
    assert sum(s.startswith("Heterogeneity: I\u00b2 = 61.3%") for s in drawn) == 3  # one per subgroup
    assert "Test for subgroup differences (drug): Q = 3.20, df = 2, p = 0.20, I\u00b2 = 37.5%" in drawn
    overall = "Heterogeneity: I\u00b2 = 80.0%, \u03c4\u00b2 = 0.3000, Q = 100.00 (df = 33)"
    assert any(s.startswith(overall) for s in drawn)
    assert "Random-effects model" in drawn and "Prediction interval" in drawn
    assert "Events/Total" in drawn and "Weight" in drawn and "Estimate [95% CI]" in drawn
    assert {"0%", "40%", "100%"} <= set(drawn)  # percent axis


def test_forest_without_an_overall_estimate_shows_the_subgroups_and_their_test(tmp_path):
    """overall: false: the subtotals and the test for subgroup differences, no overall diamond; the pooled
    row's place says why."""
    st = proportion_studies(12, groups=3)
    nan = math.nan
    pooled = pd.DataFrame([{**POOLED, "estimate": nan, "ci_lower": nan, "ci_upper": nan, "pi_lower": nan,
                            "pi_upper": nan, "tau2": nan, "i2": nan, "q": nan, "df": nan, "q_pvalue": nan,
                            "overall": False, "level": 0.95, "comparator": "", "median_method": ""}])
    assert analysis_forest(st, pooled, tmp_path / "forest", ["svg"])[0].stat().st_size > 1000
    fig = draw_forest(st, {**POOLED, "estimate": nan}, absent=NO_OVERALL_TEXT)
    assert_legible(fig)
    drawn = [s for s, _ in texts(fig)]
    assert NO_OVERALL_TEXT in drawn and sum(s.startswith("Subtotal ") for s in drawn) == 3
    assert "Test for subgroup differences (drug): Q = 3.20, df = 2, p = 0.20, I\u00b2 = 37.5%" in drawn
    assert not any(s.startswith("Heterogeneity: I\u00b2 = 80.0%") for s in drawn)


@pytest.mark.parametrize("k", [2, 5, 20, 60])
def test_forest_height_scales_with_the_studies_and_text_never_overlaps(k):
    st = proportion_studies(k, groups=0)
    pooled = {**POOLED, "subgroup": "", "q_between": math.nan}
    fig = draw_forest(st, pooled)
    assert_legible(fig)
    # a fixed height per row: one more study makes the figure one row taller, whatever k
    taller = draw_forest(proportion_studies(k + 1, groups=0), pooled)
    assert taller.get_figheight() - fig.get_figheight() == pytest.approx(ROW_H)


def test_forest_header_names_measure_model_and_level():
    st = proportion_studies(4, groups=0)
    pooled = {**POOLED, "subgroup": "", "q_between": math.nan}
    drawn = " ".join(s for s, _ in texts(draw_forest(st, pooled)))
    assert "Proportion, random effects (REML, logit), 95% CI" in drawn
    hr = {**pooled, "measure": "hr", "transform": "log", "comparator": "crizotinib"}
    assert header_model(hr) == "Hazard ratio, random effects (REML, log scale)"
    assert model_label(POOLED).startswith("Random effects (REML, logit); test for subgroup differences (drug)")


def test_hazard_ratio_forest_has_a_log_axis_and_favours_labels():
    rows = pd.DataFrame({"label": [f"Trial {i} (alectinib, 2020)" for i in range(6)],
                         "estimate": [0.4, 0.5, 0.6, 0.45, 0.7, 0.3], "ci_lower": [0.3, 0.35, 0.4, 0.3, 0.5, 0.15],
                         "ci_upper": [0.55, 0.7, 0.9, 0.65, 0.98, 0.6], "weight": [20.0] * 5 + [math.nan],
                         "included": [True] * 5 + [False], "note": [""] * 5 + ["not pooled: no CI"]})
    fig = forest_plot(rows, {**POOLED, "estimate": 0.5, "ci_lower": 0.42, "ci_upper": 0.6, "pi_lower": 0.35,
                             "pi_upper": 0.7}, measure="hr", title="PFS HR",
                      model_label="Hazard ratio, random effects (REML, log scale)",
                      favours=("Favours experimental", "Favours crizotinib"))
    assert_legible(fig)
    assert fig.axes[0].get_xscale() == "log"
    drawn = [s for s, _ in texts(fig)]
    assert "Favours experimental" in drawn and "Favours crizotinib" in drawn and "Random-effects model" in drawn


def test_forest_files_are_vector_svg_and_pdf_and_a_300_dpi_png(tmp_path):
    fig = draw_forest(proportion_studies(6, groups=2), POOLED)
    paths = save_figure(fig, tmp_path / "forest", formats=("svg", "pdf", "png"))
    svg, pdf, png = (p.read_bytes() for p in paths)
    assert svg.lstrip().startswith(b"<?xml") and b"<path" in svg and b"<image" not in svg
    assert pdf.startswith(b"%PDF") and b"/Subtype /Image" not in pdf
    # pHYs chunk: 300 dpi = 11811 pixels per metre
    assert b"pHYs" in png and int.from_bytes(png[png.index(b"pHYs") + 4:][:4], "big") == 11811
    width = int.from_bytes(png[16:20], "big")
    assert width == round(fig.get_figwidth() * 300)


# ---------------------------------------------------------------- funnel plot


def funnel_data(k, seed=3):
    rng = np.random.default_rng(seed)
    sei = rng.uniform(0.1, 0.6, k)
    yi = 0.8 + rng.normal(0, 1, k) * sei + 0.9 * sei
    return yi, sei


def test_funnel_plot_with_egger_line_is_legible_and_deterministic(tmp_path):
    yi, sei = funnel_data(12)
    egger = EggerLine(intercept=0.5, slope=1.2, statistic=2.1, pvalue=0.036, df=None)
    fig = funnel_plot(yi, sei, estimate=0.8, scale="logit", title="ORR: funnel plot", egger=egger)
    assert_legible(fig)
    drawn = [s for s, _ in texts(fig)]
    assert "Egger's test: z = 2.10, p = 0.04" in drawn and "Egger's regression line" in drawn
    assert {"95% pseudo-confidence region", "99% pseudo-confidence region", "Study (k = 12)"} <= set(drawn)
    assert any(s.endswith("%") for s in drawn)  # natural-scale ticks on the logit axis
    ax = fig.axes[0]
    assert ax.get_ylim()[0] > ax.get_ylim()[1] == 0.0  # standard error axis inverted, 0 at the top
    first = [p.read_bytes() for p in save_figure(fig, tmp_path / "a", formats=("svg", "png"))]
    again = funnel_plot(yi, sei, estimate=0.8, scale="logit", title="ORR: funnel plot", egger=egger)
    second = [p.read_bytes() for p in save_figure(again, tmp_path / "b", formats=("svg", "png"))]
    assert [hashlib.sha256(b).hexdigest() for b in first] == [hashlib.sha256(b).hexdigest() for b in second]


def test_funnel_plot_without_a_test_says_why():
    yi, sei = funnel_data(4)
    note = "k = 4 < 10: too few studies to test for funnel-plot asymmetry (Sterne et al. BMJ 2011;343:d4002)."
    fig = funnel_plot(np.log(np.exp(yi) / 4), sei, estimate=-0.6, scale="log", measure="hr", note=note)
    assert_legible(fig)
    drawn = " ".join(s for s, _ in texts(fig))
    assert "too few studies" in drawn and "Egger's" not in drawn and "Hazard ratio, log scale" in drawn


# ---------------------------------------------------------------- leave-one-out plot


def test_leave_one_out_plot_has_a_row_per_study_and_the_full_analysis():
    k = 15
    rows = pd.DataFrame({"label": [f"TRIAL-{i:02d} (crizotinib, {2010 + i})" for i in range(k)],
                         "estimate": np.linspace(0.55, 0.62, k), "ci_lower": np.linspace(0.48, 0.52, k),
                         "ci_upper": np.linspace(0.63, 0.7, k), "i2": np.linspace(70, 85, k), "reason": [""] * k})
    rows.loc[3, ["estimate", "ci_lower", "ci_upper", "i2"]] = math.nan
    rows.loc[3, "reason"] = "the REML estimator of tau2 did not converge"
    fig = loo_plot(rows, {"estimate": 0.58, "ci_lower": 0.5, "ci_upper": 0.66, "i2": 80.0, "k": k},
                   measure="proportion", title="ORR")
    assert_legible(fig)
    drawn = [s for s, _ in texts(fig)]
    assert sum(s.startswith("Omitting ") for s in drawn) == k
    assert "All studies (k = 15)" in drawn and "the REML estimator of tau2 did not converge" in drawn


def test_leave_one_out_plot_draws_long_labels_and_reasons_whole():
    """Labels and reasons are never cut with an ellipsis: the figure widens to hold them."""
    k = 4
    long_label = "ALTA-1L, brigatinib arm, second interim analysis of the independent review committee (2020)"
    reason = ("the REML estimator of tau2 did not converge within 100 iterations (metafor's default maxiter), "
              "so this refit has no estimate")
    rows = pd.DataFrame({"label": [long_label] + [f"TRIAL-{i}" for i in range(1, k)],
                         "estimate": [0.5, 0.55, math.nan, 0.6], "ci_lower": [0.4, 0.45, math.nan, 0.5],
                         "ci_upper": [0.6, 0.65, math.nan, 0.7], "i2": [10.0, 20.0, math.nan, 30.0],
                         "reason": ["", "", reason, ""]})
    fig = loo_plot(rows, {"estimate": 0.55, "ci_lower": 0.45, "ci_upper": 0.65, "i2": 20.0, "k": k},
                   measure="proportion", title="ORR")
    assert_legible(fig)
    drawn = [s for s, _ in texts(fig)]
    assert f"Omitting {long_label}" in drawn and reason in drawn
    assert not any("\u2026" in s for s in drawn) and fig.get_figwidth() > 9.0


# ---------------------------------------------------------------- study flow


def test_study_flow_diagram_is_legible():
    flow = StudyFlow(
        analysis="orr_x", outcome="orr", in_data=7,
        excluded=(("setting other than tki_naive", 1), ("design other than single_arm, randomised", 2)), matching=4,
        set_aside=(("another report of the same trial cohort kept (report policy latest_cut)", 1),),
        assessments_set_aside=1, selected=3, not_pooled=(("counts not reported", 1),), pooled=2, participants=250.0,
    )
    fig = flow_diagram(flow, title="ORR, a long analysis title " * 3)
    assert_legible(fig)
    drawn = " ".join(s for s, _ in texts(fig))
    for part in ("Reports in the data", "Excluded by the filters", "Set aside by the report policy", "Not pooled",
                 "Reports pooled", "k = 2; 250 participants", "counts not reported: 1"):
        assert part in drawn




def test_ratio_of_medians_detail_reads_text_flags():
    """The arms' medians of a ratio of medians as studies.tsv is read back (a flag column with empty cells is
    text: "False" is not true): "34.8 vs 10.9", and "NR" only where the median was not reached."""
    st = pd.DataFrame({"label": ["ALEX", "CROWN"], "status": "pooled", "included": True, "reason": "",
                       "estimate": [3.19, 2.0], "ci_lower": [2.0, 1.2], "ci_upper": [5.1, 3.3], "weight": [50.0, 50.0],
                       "e_median": [34.8, math.nan], "e_median_nr": ["False", "True"], "c_median": [10.9, 9.1],
                       "c_median_nr": ["False", "False"], "subgroup": ""})
    assert forest_rows(st, "ratio_of_medians")["detail"].tolist() == ["34.8 vs 10.9", "NR vs 9.1"]


def test_wrapped_text_is_never_cut():
    """Measurer.wrap breaks at spaces, and a word wider than the line between characters: every character
    is kept, no ellipsis."""
    fig = Figure()
    FigureCanvasAgg(fig)
    meas = Measurer(fig)
    text = "Heterogeneity " + "x" * 80 + " end"
    lines = meas.wrap(text, font_properties(), 2.0)
    assert "".join(lines) == text.replace(" ", "") and len(lines) > 3
    assert all(meas.width(line, font_properties()) <= 2.0 for line in lines)
