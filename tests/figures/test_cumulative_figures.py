"""The cumulative forest plot (releases marked between the right rows) and the trial sequential plot: the SVG
text equals the tables (rows, years, intervals, z values, boundaries)."""

from __future__ import annotations

import datetime
import math

import pandas as pd

from metapool.analysis.config import check_config
from metapool.analysis.sequential import sequential_frame
from metapool.figures.cumulative import cumulative_plot, release_positions, sequential_plot
from metapool.figures.forest import format_interval

from conftest import default_config
from test_small_analyses import svg_texts

ROWS = pd.DataFrame({"label": ["Alpha 2014", "Beta 2016", "Gamma 2019"], "year": [2014, 2016, 2019],
                     "estimate": [0.6, 0.7, 0.65], "ci_lower": [0.4, 0.55, 0.54], "ci_upper": [0.9, 0.89, 0.78]})
RELEASES = [("2015-a", datetime.date(2015, 6, 1)), ("2016-b", datetime.date(2016, 12, 31)),
            ("2013-z", datetime.date(2013, 1, 1))]


def test_releases_go_after_the_rows_published_by_their_year():
    assert release_positions([2014, 2016, 2019], RELEASES) == [
        ("2015-a", "2015-06-01", 1), ("2016-b", "2016-12-31", 2), ("2013-z", "2013-01-01", 0)]


def test_cumulative_plot_names_every_row_and_release_in_order(tmp_path):
    texts = svg_texts(cumulative_plot(ROWS, RELEASES, measure="hr", title="PFS"), tmp_path)
    body = [t for t in texts if t.startswith(("Alpha", "Beta", "Gamma", "release"))]
    assert body == ["Alpha 2014", "Beta 2016", "Gamma 2019", "release 2013-z (2013-01-01)",
                    "release 2015-a (2015-06-01)", "release 2016-b (2016-12-31)"]
    for _, row in ROWS.iterrows():
        assert str(row["year"]) in texts
        assert format_interval(row["estimate"], row["ci_lower"], row["ci_upper"], 2) in texts
    assert "PFS: cumulative meta-analysis by publication year" in texts


def test_cumulative_plot_draws_releases_between_the_right_rows(tmp_path):
    fig = cumulative_plot(ROWS, RELEASES, measure="hr")
    ax = fig.axes[0]
    rows_y = {t.get_text(): t.get_position()[1] for t in ax.texts if t.get_text().startswith(("Alpha", "Beta", "Gamma"))}
    marks_y = {t.get_text(): t.get_position()[1] for t in ax.texts if t.get_text().startswith("release")}
    assert rows_y["Alpha 2014"] > marks_y["release 2015-a (2015-06-01)"] > rows_y["Beta 2016"]
    assert rows_y["Beta 2016"] > marks_y["release 2016-b (2016-12-31)"] > rows_y["Gamma 2019"]
    assert marks_y["release 2013-z (2013-01-01)"] > rows_y["Alpha 2014"]


def test_no_releases_no_marks(tmp_path):
    texts = svg_texts(cumulative_plot(ROWS, [], measure="hr"), tmp_path)
    assert not any(t.startswith("release") for t in texts)


def test_sequential_plot_text_equals_the_table(tmp_path):
    spec = check_config(default_config())["pfs_hr_vs_chemotherapy_first_line"]
    ris = ((1.959963984540054 + 0.8416212335729143) / math.log(0.8)) ** 2
    v = 2.0 / ris
    cum = pd.DataFrame({"analysis": spec.name, "step": [1, 2], "study_id": ["A", "B"], "label": ["A", "B"],
                        "year": [2015, 2017], "k": [1, 2], "beta": [math.log(0.85)] * 2,
                        "se": [math.sqrt(v), math.sqrt(v / 2)], "tau2": 0.0, "estimate": 0.85, "reason": ""})
    frame = sequential_frame(cum, spec, [v, v])
    texts = svg_texts(sequential_plot(frame, title="PFS"), tmp_path)
    assert "PFS: trial sequential analysis (exploratory)" in texts
    for _, row in frame.iterrows():
        line = (f"{int(row['look'])}  {int(row['year'])}  {row['z']:.2f}  {row['fraction']:.2f}  "
                f"{row['boundary']:.2f}{' *' if row['crossed'] == 'yes' else ''}")
        assert line in texts
    assert "1  2015  -1.44  0.50  2.96" in texts and "2  2017  -2.04  1.00  1.97 *" in texts
    assert any(t.startswith(f"Exploratory. RIS = {ris:.1f} (alpha 0.05, power 0.8, D") for t in texts)


def test_sequential_plot_without_looks_says_why(tmp_path):
    config = default_config()
    spec = check_config(config)["orr_post_second_gen"]
    frame = sequential_frame(pd.DataFrame(), spec, [])
    texts = svg_texts(sequential_plot(frame), tmp_path)
    assert frame["reason"].iloc[0] in texts
