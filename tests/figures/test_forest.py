"""Unit tests of metapool.figures.forest: texts, axes, legibility and byte-identical output."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from metapool.figures import forest_plot, save_figure
from metapool.figures.forest import FIGSP, ROW_H, heterogeneity_text

NAN = math.nan

POOLED = {"estimate": 0.712, "ci_lower": 0.602, "ci_upper": 0.801, "pi_lower": 0.35, "pi_upper": 0.92, "k": 5,
          "tau2": 0.1234, "i2": 45.2, "q": 7.3, "df": 4, "q_pvalue": 0.1204}
HET = "Heterogeneity: I\u00b2 = 45.2%, \u03c4\u00b2 = 0.1234, Q = 7.30 (df = 4), p = 0.12"


def frame(rows) -> pd.DataFrame:
    cols = ["label", "detail", "estimate", "ci_lower", "ci_upper", "weight", "included", "note"]
    return pd.DataFrame(rows, columns=cols)


def proportion_frame() -> pd.DataFrame:
    return frame([
        ("ALEX (alectinib, 2017)", "126/152", 126 / 152, 0.759, 0.883, 24.1, True, ""),
        ("J-ALEX (alectinib, 2017)", "85/103", 85 / 103, 0.737, 0.893, 20.3, True, ""),
        ("ALTA-1L (brigatinib, 2018)", "97/137", 97 / 137, 0.624, 0.783, 22.0, True, ""),
        ("eXalt3 (ensartinib, 2021)", "", NAN, NAN, NAN, NAN, False, "not pooled: events not reported"),
        ("ASCEND-4 (ceritinib, 2017)", "3/9", 3 / 9, 0.075, 0.701, 33.6, True, ""),
    ])


def median_frame() -> pd.DataFrame:
    return frame([
        ("ALEX (alectinib, 2017)", "34.8 [17.7; NR]", 34.8, 17.7, NAN, NAN, False, "not pooled: upper CI limit NR"),
        ("ALTA-1L (brigatinib, 2018)", "24.0 [18.5; 43.2]", 24.0, 18.5, 43.2, 40.0, True, ""),
        ("CROWN (lorlatinib, 2020)", "NR [NR; NR]", NAN, NAN, NAN, NAN, False, "not pooled: median NR"),
        ("eXalt3 (ensartinib, 2021)", "n = 143", 25.8, 21.8, 250.0, 60.0, True, ""),  # CI beyond the axis
    ])


def hr_frame(k: int = 5, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hr = np.exp(rng.normal(np.log(0.5), 0.3, k))
    se = rng.uniform(0.1, 0.5, k)
    lo, hi = hr * np.exp(-1.96 * se), hr * np.exp(1.96 * se)
    w = 1 / se**2
    w = 100 * w / w.sum()
    rows = [(f"Trial {i + 1:02d} (drug-{chr(65 + i % 26)}, {2005 + i % 18})", "", hr[i], lo[i], hi[i], w[i], True, "")
            for i in range(k)]
    rows[0] = (rows[0][0], "", 0.45, 0.3, 6.0, rows[0][5], True, "")  # upper limit beyond the axis
    rows[1] = (rows[1][0], "", NAN, NAN, NAN, NAN, False, "not pooled: no CI reported")
    return frame(rows)


def hr_pooled() -> dict:
    return {**POOLED, "estimate": 0.49, "ci_lower": 0.43, "ci_upper": 0.56, "pi_lower": 0.22, "pi_upper": 1.09}


def all_texts(fig) -> list[Text]:
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def strings(fig) -> list[str]:
    return [t.get_text().replace(FIGSP, "") for t in all_texts(fig)]


def assert_no_overlap(fig) -> int:
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in all_texts(fig)]
    width, height = fig.bbox.width, fig.bbox.height
    for s, b in boxes:
        assert b.x0 >= 0 and b.y0 >= 0 and b.x1 <= width and b.y1 <= height, f"outside the figure: {s!r}"
    overlaps = [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]
    assert not overlaps, overlaps[:5]
    return len(boxes)


@pytest.fixture(scope="module")
def proportion_fig():
    return forest_plot(proportion_frame(), POOLED, measure="proportion", title="Objective response rate",
                       model_label="random effects (REML, logit)")


def test_heterogeneity_text_formats_the_pooled_numbers():
    assert heterogeneity_text(POOLED) == HET
    assert heterogeneity_text({**POOLED, "q_pvalue": 0.0004, "tau2": 0.0}).endswith("p < 0.001")
    assert "\u03c4\u00b2 = 0," in heterogeneity_text({**POOLED, "tau2": 0.0})


def test_proportion_texts_and_percent_axis(proportion_fig):
    s = strings(proportion_fig)
    for expected in ("Study", "Events/Total", "Estimate [95% CI]", "Weight", "ALEX (alectinib, 2017)", "126/152",
                     "82.9 [75.9; 88.3]", "33.3 [7.5; 70.1]", "24.1%", "not pooled: events not reported",
                     "Random-effects model", "71.2 [60.2; 80.1]", "100.0%", "Prediction interval", "[35.0; 92.0]",
                     HET, "Objective response rate, random effects (REML, logit), 95% CI"):
        assert expected in s, expected
    assert "NR" in s  # the not-pooled study without an estimate
    ax = proportion_fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert labels and all(label.endswith("%") for label in labels)
    assert ax.get_xlim() == (0.0, 100.0)


def test_rows_are_drawn_in_the_given_order(proportion_fig):
    tops = {t.get_text(): t.get_window_extent().y0 for t in all_texts(proportion_fig)}
    ys = [tops[label] for label in proportion_frame()["label"]]
    assert ys == sorted(ys, reverse=True)  # top to bottom on the page
    assert tops["Random-effects model"] < ys[-1]
    assert tops["Prediction interval"] < tops["Random-effects model"]


def test_median_nr_is_text_never_a_number_and_ci_beyond_axis_is_clipped():
    pooled = {**POOLED, "estimate": 25.1, "ci_lower": 20.3, "ci_upper": 31.0, "pi_lower": NAN, "pi_upper": NAN}
    fig = forest_plot(median_frame(), pooled, measure="median", title="Median PFS",
                      model_label="random effects (REML, log)", level=0.9)
    s = strings(fig)
    for expected in ("Median [CI]", "Estimate [90% CI]", "34.8 [17.7; NR]", "not pooled: upper CI limit NR",
                     "not pooled: median NR", "n = 143", "25.8 [21.8; 250.0]", "25.1 [20.3; 31.0]",
                     "Random-effects model", "Median PFS, random effects (REML, log), 90% CI"):
        assert expected in s, expected
    assert not any("nan" in x.lower() for x in s)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo == 0.0 and hi < 250.0  # the wide CI runs beyond the axis (drawn with an arrow head)
    assert ax.get_xscale() == "linear"


def test_hr_log_axis_reference_line_and_favours():
    fig = forest_plot(hr_frame(), hr_pooled(), measure="hr", title="PFS hazard ratio", model_label="random effects",
                      favours=("Favours experimental", "Favours comparator"))
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    ticks = [float(t) for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks == [0.1, 0.2, 0.5, 1.0, 2.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.1", "0.2", "0.5", "1", "2"]
    assert any(list(line.get_xdata()) == [1.0, 1.0] for line in ax.get_lines())  # line of no effect
    s = strings(fig)
    for expected in ("Favours experimental", "Favours comparator", "0.49 [0.43; 0.56]", "0.45 [0.30; 6.00]",
                     "not pooled: no CI reported", "Prediction interval", "[0.22; 1.09]", HET):
        assert expected in s, expected
    assert ax.get_xlim()[1] < 6.0
    renderer = fig.canvas.get_renderer()
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in all_texts(fig)}
    axis_y = ax.get_window_extent(renderer).y0
    assert boxes["Favours experimental"].y1 < axis_y and boxes["Favours comparator"].y1 < axis_y
    assert boxes["Favours experimental"].x1 < boxes["Favours comparator"].x0


def test_model_label_names_the_diamond():
    fig = forest_plot(proportion_frame(), POOLED, measure="proportion", model_label="Common effect (IV)")
    assert "Common-effect model" in strings(fig)


def test_no_pooled_estimate():
    fig = forest_plot(proportion_frame(), None, measure="proportion")
    s = strings(fig)
    assert "No pooled estimate" in s
    assert "Prediction interval" not in s and not any(x.startswith("Heterogeneity") for x in s)


@pytest.mark.parametrize("k", [2, 40, 60])
def test_legible_without_overlapping_text(k):
    fig = forest_plot(hr_frame(k), hr_pooled(), measure="hr", title="Progression-free survival, hazard ratio",
                      model_label="random effects (REML)", favours=("Favours experimental", "Favours comparator"))
    assert assert_no_overlap(fig) > 3 * k  # label, estimate, weight per study
    assert fig.get_figwidth() == pytest.approx(10.0)
    assert fig.get_figheight() == pytest.approx(k * ROW_H, abs=3.0)


def test_height_grows_with_the_rows():
    small = forest_plot(hr_frame(5), hr_pooled(), measure="hr")
    large = forest_plot(hr_frame(45), hr_pooled(), measure="hr")
    assert large.get_figheight() - small.get_figheight() == pytest.approx(40 * ROW_H)


def test_bad_arguments():
    with pytest.raises(ValueError):
        forest_plot(proportion_frame(), POOLED, measure="odds")
    with pytest.raises(ValueError):
        forest_plot(proportion_frame().drop(columns="estimate"), POOLED, measure="proportion")
    with pytest.raises(ValueError):
        save_figure(forest_plot(proportion_frame(), None, measure="proportion"), "/tmp/never", formats=("bmp",))


@pytest.mark.parametrize("measure", ["proportion", "median", "hr"])
def test_save_figure_is_byte_identical(tmp_path, measure):
    studies = {"proportion": proportion_frame, "median": median_frame, "hr": hr_frame}[measure]()
    pooled = POOLED if measure == "proportion" else hr_pooled() if measure == "hr" else None
    fig = forest_plot(studies, pooled, measure=measure, title="t")
    first = save_figure(fig, tmp_path / "one" / "forest", dpi=100)
    second = save_figure(fig, tmp_path / "two" / "forest", dpi=100)
    assert [p.name for p in first] == ["forest.svg", "forest.pdf", "forest.png"]
    for a, b in zip(first, second):
        assert a.is_file() and a.stat().st_size > 1000
        assert a.read_bytes() == b.read_bytes(), a.name
    if measure == "proportion":  # a figure built again gives the same bytes too
        again = save_figure(forest_plot(studies, pooled, measure=measure, title="t"), tmp_path / "three" / "forest",
                            dpi=100)
        assert [a.read_bytes() for a in first] == [c.read_bytes() for c in again]
    assert first[0].read_bytes().startswith(b"<?xml")
    assert first[1].read_bytes().startswith(b"%PDF")
    assert first[2].read_bytes().startswith(b"\x89PNG")
    pdf = first[1].read_bytes()
    assert b"/CreationDate" not in pdf and b"/ModDate" not in pdf
    assert b"<dc:date>" not in first[0].read_bytes()
    assert b"tIME" not in first[2].read_bytes()
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["forest.pdf", "forest.png", "forest.svg"]


def test_markup_in_any_text_of_a_forest_plot_stays_text_in_the_svg(tmp_path):
    """Labels, details, notes, the title and the model label come from the tables and the config: in the SVG
    they are escaped (the document parses as XML, no element but SVG's own, no raw markup, no early end of a
    comment)."""
    import xml.etree.ElementTree as ET

    markup = "<script>alert(1)</script>"
    df = proportion_frame()
    df.loc[0, "label"] = markup
    df.loc[1, "detail"] = f"{markup} -->"
    df.loc[3, "note"] = '"><img src=x onerror=alert(1)>'
    fig = forest_plot(df, POOLED, measure="proportion", title=f"ORR {markup}", model_label=f"x {markup}")
    [path] = save_figure(fig, tmp_path / "forest", formats="svg")
    text = path.read_text(encoding="utf-8")
    assert "<script" not in text and "<img" not in text and "-->" not in text.replace(" -->", "")
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3
    tags = {element.tag.rpartition("}")[2] for element in ET.fromstring(text).iter()}
    assert tags <= {"svg", "metadata", "RDF", "Work", "type", "date", "format", "creator", "Agent", "title",
                    "defs", "style", "g", "path", "use", "clipPath", "rect", "text", "tspan"}, tags
