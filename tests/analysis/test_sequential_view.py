"""The trial sequential view of an analysis (exploratory) against hand-computed cases.

Constructed hazard-ratio analyses with equal sampling variances and tau^2 = 0: the cumulative inverse-variance
estimates and standard errors are written out here, the required information size is computed from its formula
(Wetterslev et al. 2008), and the O'Brien-Fleming-type boundaries are z_{1-alpha/2} for a single look at the
full information and, at other fractions, the R-pinned values of tests/reference/fixtures/sequential.json.
"""

from __future__ import annotations

import datetime
import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from metapool.analysis.config import check_config
from metapool.analysis.release import read_releases
from metapool.analysis.sequential import (SEQUENTIAL_COLUMNS, sequential_conclusion,
                                          sequential_frame, sequential_unavailable)
from metapool.stats.sequential import diversity

from conftest import default_config, load_fixture

Z = NormalDist().inv_cdf
RIS = ((Z(0.975) + Z(0.80)) / math.log(0.8)) ** 2  # alpha 0.05 two-sided, power 0.80, HR 0.8, D^2 = 0


def _fixture_boundaries(fractions):
    """The R-pinned boundaries of the first looks of a fixture case at these fractions (a boundary does not
    depend on later looks)."""
    n = len(fractions)
    case = next(c for c in load_fixture("sequential.json")["cases"]
                if c["alpha"] == 0.05 and len(c["fractions"]) >= n and np.allclose(c["fractions"][:n], fractions))
    return case["boundaries"][:n]


@pytest.fixture(scope="module")
def specs():
    return check_config(default_config())


def _cumulative(name, ys, v, years):
    """The cumulative rows of equal-variance studies with tau^2 = 0, by hand: after k studies the pooled
    estimate is their mean and its variance v / k."""
    rows = []
    for k in range(1, len(ys) + 1):
        beta = sum(ys[:k]) / k
        rows.append({"analysis": name, "step": k, "study_id": f"S{k}", "label": f"Trial {k}", "year": years[k - 1],
                     "k": k, "estimate": math.exp(beta), "beta": beta, "se": math.sqrt(v / k), "tau2": 0.0,
                     "reason": ""})
    return pd.DataFrame(rows)


def test_one_look_at_the_full_information_has_the_fixed_sample_boundary(specs):
    spec = specs["os_hr_vs_crizotinib_first_line"]
    v = 1.0 / RIS
    frame = sequential_frame(_cumulative(spec.name, [math.log(0.9)], v, [2019]), spec, [v])
    assert list(frame.columns) == SEQUENTIAL_COLUMNS
    row = frame.iloc[0]
    assert row["ris"] == pytest.approx(RIS, rel=1e-12)
    assert row["fraction"] == pytest.approx(1.0, rel=1e-12)
    assert row["boundary"] == pytest.approx(Z(0.975), abs=1e-9)
    assert row["z"] == pytest.approx(math.log(0.9) / math.sqrt(v), rel=1e-12)  # -0.105 * 12.55 = -1.32
    assert row["crossed"] == "no"
    assert row["d2"] == 0.0 and row["null"] == 0.0 and row["delta"] == pytest.approx(math.log(0.8))
    assert sequential_conclusion(frame) == ("Exploratory: the cumulative z has not crossed the monitoring "
                                            "boundary; 100% of the required information size accrued.")


@pytest.mark.parametrize("hr, crossed_at", [(0.85, 2), (0.5, 1), (0.95, None)])
def test_two_looks_at_half_and_full_information(specs, hr, crossed_at):
    spec = specs["pfs_hr_vs_chemotherapy_first_line"]
    v = 2.0 / RIS  # each study brings half the required information
    y = math.log(hr)
    frame = sequential_frame(_cumulative(spec.name, [y, y], v, [2015, 2017]), spec, [v, v])
    z = [y / math.sqrt(v), y / math.sqrt(v / 2)]
    bounds = _fixture_boundaries([0.5, 1.0])
    np.testing.assert_allclose(frame["z"], z, rtol=1e-12)
    np.testing.assert_allclose(frame["fraction"], [0.5, 1.0], rtol=1e-12)
    np.testing.assert_allclose(frame["boundary"], bounds, atol=1e-6)
    np.testing.assert_allclose(frame["estimate"], [hr, hr], rtol=1e-12)
    expected = ["yes" if abs(zk) >= b else "no" for zk, b in zip(z, bounds)]
    assert list(frame["crossed"]) == expected
    first = next((k + 1 for k, e in enumerate(expected) if e == "yes"), None)
    assert first == crossed_at
    text = sequential_conclusion(frame)
    if crossed_at == 2:
        assert text == ("Exploratory: the cumulative z crossed the monitoring boundary at the 2nd trial (2017), at "
                        "100% of the required information size.")
    elif crossed_at == 1:
        assert text == ("Exploratory: the cumulative z crossed the monitoring boundary at the 1st trial (2015), at "
                        "50% of the required information size.")
    else:
        assert "has not crossed" in text and "100% of the required" in text


def test_a_step_that_adds_no_information_is_not_a_look(specs):
    spec = specs["pfs_hr_vs_chemotherapy_first_line"]
    third = RIS / 3.0
    cum = pd.DataFrame({"analysis": spec.name, "step": [1, 2, 3], "study_id": ["A", "B", "C"],
                        "label": ["A", "B", "C"], "year": [2014, 2016, 2018], "k": [1, 2, 3],
                        "beta": [-0.3, -0.2, -0.25], "se": [1 / math.sqrt(third), 1 / math.sqrt(0.9 * third),
                                                            1 / math.sqrt(2 * third)],
                        "tau2": [0.0, 0.0, 0.0], "reason": ""})
    cum["estimate"] = np.exp(cum["beta"])
    frame = sequential_frame(cum, spec, [1 / third, 1 / third, 1 / third])
    assert frame["look"].tolist()[0] == 1 and math.isnan(frame["look"].iloc[1]) and frame["look"].iloc[2] == 2
    assert "adds no information" in frame["reason"].iloc[1]
    np.testing.assert_allclose(frame["fraction"].iloc[[0, 2]], [1 / 3, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(frame["boundary"].iloc[[0, 2]], _fixture_boundaries([1 / 3, 2 / 3]),
                               atol=1e-6)


def test_diversity_by_hand():
    vi, tau2 = [0.04, 0.09], 0.01
    common = 1 / (1 / 0.04 + 1 / 0.09)
    random = 1 / (1 / 0.05 + 1 / 0.10)
    assert diversity(vi, tau2) == pytest.approx(1 - common / random, rel=1e-12)
    assert diversity(vi, 0.0) == 0.0


def test_diversity_inflates_the_required_information(specs):
    spec = specs["pfs_hr_vs_chemotherapy_first_line"]
    vi = [0.04, 0.09]
    cum = _cumulative(spec.name, [-0.3, -0.1], 0.04, [2014, 2016])
    cum["tau2"] = [0.0, 0.01]
    frame = sequential_frame(cum, spec, vi)
    d2 = 1 - (1 / (25 + 1 / 0.09)) / (1 / (20 + 10))
    assert frame["d2"].iloc[0] == pytest.approx(d2, rel=1e-12)
    assert frame["ris"].iloc[0] == pytest.approx(RIS / (1 - d2), rel=1e-12)


@pytest.mark.parametrize("name, measure", [("orr_post_second_gen", "proportion"),
                                           ("pfs_median_post_second_gen", "median")])
def test_one_arm_measures_have_no_sequential_view_even_with_an_important_effect(name, measure):
    config = default_config()
    config["analyses"][name]["important_effect"] = 0.5 if measure == "proportion" else 12.0
    spec = check_config(config)[name]
    frame = sequential_frame(pd.DataFrame(), spec, [])
    assert len(frame) == 1
    assert frame["reason"].iloc[0] == (f"no sequential view: a {measure} is a one-arm measure with no value of no "
                                       "effect to test against")
    assert sequential_conclusion(frame) == frame["reason"].iloc[0] == sequential_unavailable(spec)


def test_an_analysis_without_a_cumulative_table_says_so(specs):
    from dataclasses import replace

    spec = replace(specs["pfs_hr_vs_chemotherapy_first_line"], sensitivity=())
    assert sequential_unavailable(spec) == ("no sequential view: the analysis has no cumulative meta-analysis (add "
                                            "cumulative to its sensitivity list)")


def test_releases_are_read_sorted_by_date(tmp_path):
    assert read_releases(tmp_path / "absent") == []
    folder = tmp_path / "releases"
    folder.mkdir()
    assert read_releases(folder) == []

    def release(name, date):
        return json.dumps({"format": 1, "name": name, "date": date, "config": {}, "tables": {}, "analyses": {}})

    (folder / "2026-b.json").write_text(release("2026-b", "2026-03-01"))
    (folder / "2025-a.json").write_text(release("2025-a", "2025-11-30"))
    assert read_releases(folder) == [("2025-a", datetime.date(2025, 11, 30)), ("2026-b", datetime.date(2026, 3, 1))]
    (folder / "c.json").write_text(release("c", "March 2026"))
    with pytest.raises(ValueError, match=r"c\.json: key 'date'"):
        read_releases(folder)
