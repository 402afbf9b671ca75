"""Trial sequential analysis (metapool.stats.sequential): the Lan-DeMets O'Brien-Fleming-type boundaries
against base R nested integrate() (tests/reference/R/sequential.R, to 1e-8), the required information size
by hand, and the boundaries' defining property by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from conftest import load_fixture
from metapool.stats.sequential import (obrien_fleming_spending, required_information_size, spending_boundaries,
                                       trial_sequential)

FIX = load_fixture("sequential.json")


@pytest.mark.parametrize("case", FIX["cases"], ids=lambda c: f"{c['fractions']}-{c['alpha']}")
def test_boundaries_match_nested_integration_in_r(case):
    np.testing.assert_allclose(obrien_fleming_spending(case["fractions"], case["alpha"]), case["spent"],
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(spending_boundaries(case["fractions"], case["alpha"]), case["boundaries"],
                               rtol=0, atol=1e-8)


def test_five_equally_spaced_looks_give_the_classic_values():
    # the Lan-DeMets O'Brien-Fleming boundaries for K = 5, two-sided alpha = 0.05, at four decimals
    np.testing.assert_allclose(spending_boundaries(np.arange(1, 6) / 5), [4.8769, 3.3569, 2.6803, 2.2898, 2.0310],
                               atol=1.5e-4)


def test_one_look_is_the_fixed_sample_test_and_the_first_boundary_is_closed_form():
    assert spending_boundaries([1.0])[0] == pytest.approx(stats.norm.isf(0.025), abs=1e-12)
    t1 = 0.3
    expected = stats.norm.isf(2 * stats.norm.sf(stats.norm.isf(0.05 / 4) / math.sqrt(t1)))
    assert spending_boundaries([t1, 1.0])[0] == pytest.approx(expected, abs=1e-12)
    assert obrien_fleming_spending(0.0) == 0.0 and obrien_fleming_spending(2.0) == 0.05


def test_the_boundaries_keep_the_type_one_error_by_simulation():
    t = np.array([0.15, 0.4, 0.55, 0.8, 1.0])
    bounds = spending_boundaries(t)
    rng = np.random.default_rng(20261203)
    n = 200_000
    score = np.cumsum(rng.standard_normal((n, t.size)) * np.sqrt(np.diff(np.r_[0.0, t])), axis=1)
    crossed = (np.abs(score / np.sqrt(t)) >= bounds).any(axis=1).mean()
    assert abs(crossed - 0.05) < 4 * math.sqrt(0.05 * 0.95 / n)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(0.05, 1.5), min_size=2, max_size=6, unique=True))
def test_a_smaller_alpha_gives_wider_boundaries_which_stop_moving_at_the_required_information(fractions):
    t = np.sort(np.asarray(fractions))
    if np.any(np.diff(t) < 1e-3):
        return
    wide, narrow = spending_boundaries(t, 0.01), spending_boundaries(t, 0.05)
    assert np.all(wide > narrow)
    reached = np.flatnonzero(t >= 1.0)
    if reached.size > 1:  # past the required information the boundary stays where it was
        assert np.all(narrow[reached[1:]] == narrow[reached[0]])


def test_required_information_size_by_hand():
    # log HR 0.8, alpha 5%, power 80%: ((1.959964 + 0.841621) / log 0.8)^2 = 157.63, x 4 = 630.5: Schoenfeld's 631 events
    ris = required_information_size(math.log(0.8))
    assert ris == pytest.approx(((stats.norm.isf(0.025) + stats.norm.isf(0.2)) / math.log(0.8)) ** 2, rel=1e-14)
    assert 4 * ris == pytest.approx(630.52, abs=0.01)
    assert required_information_size(math.log(0.8), diversity=0.5) == pytest.approx(2 * ris, rel=1e-14)
    for bad in (dict(delta=0.0), dict(delta=0.2, diversity=1.0), dict(delta=0.2, beta=0.0), dict(delta=0.2, alpha=1.5)):
        with pytest.raises(ValueError):
            required_information_size(**bad)


def test_trial_sequential_looks_and_the_first_crossing():
    se = np.array([0.30, 0.18, 0.12, 0.09])
    est = np.array([-0.45, -0.40, -0.36, -0.35])
    res = trial_sequential(est, se, null=0.0, delta=math.log(0.75))
    ris = required_information_size(math.log(0.75))
    np.testing.assert_allclose(res.fraction, 1 / se**2 / ris, rtol=1e-14)
    np.testing.assert_allclose(res.boundary, spending_boundaries(1 / se**2 / ris), rtol=1e-14)
    np.testing.assert_allclose(res.z, est / se, rtol=1e-14)
    first = int(np.flatnonzero(np.abs(res.z) >= res.boundary)[0])
    assert res.crossed == first
    frame = res.summary_frame()
    assert list(frame.columns) == ["look", "z", "fraction", "boundary", "crossed"] and frame["crossed"].iloc[first]
    with pytest.raises(ValueError, match="increase"):
        trial_sequential(est, [0.3, 0.3, 0.2, 0.1], null=0.0, delta=0.2)
