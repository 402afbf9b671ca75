"""Absolute effects for the summary-of-findings table (metapool.stats.absolute), checked by hand."""

from __future__ import annotations

import pytest

from metapool.stats.absolute import event_free_from_hazard_ratio, median_from_hazard_ratio, per_thousand


def test_median_from_hazard_ratio_by_hand():
    # comparator median 10.9 months (crizotinib), HR 0.47 (0.34 to 0.65):
    # 10.9 / 0.47 = 23.19; 10.9 / 0.65 = 16.77; 10.9 / 0.34 = 32.06
    e = median_from_hazard_ratio(10.9, 0.47, 0.34, 0.65)
    assert e.comparator == 10.9
    assert (e.intervention, e.lower, e.upper) == pytest.approx((23.1915, 16.7692, 32.0588), abs=1e-4)


def test_event_free_from_hazard_ratio_by_hand():
    # S_C(12 months) = 0.5, HR 0.5 (0.25 to 1.0): 0.5 ** 0.5 = 0.7071; 0.5 ** 1 = 0.5; 0.5 ** 0.25 = 0.8409
    e = event_free_from_hazard_ratio(0.5, 0.5, 0.25, 1.0)
    assert (e.intervention, e.lower, e.upper) == pytest.approx((0.70711, 0.5, 0.84090), abs=1e-5)
    # HR 1 leaves the comparator unchanged
    assert event_free_from_hazard_ratio(0.3, 1.0, 1.0, 1.0).intervention == pytest.approx(0.3)


def test_per_thousand_by_hand():
    # 0.6234 (0.5512 to 0.6911): 623 (551 to 691) responders per 1,000
    e = per_thousand(0.6234, 0.5512, 0.6911)
    assert e.comparator is None and (e.intervention, e.lower, e.upper) == (623.0, 551.0, 691.0)


@pytest.mark.parametrize("call", [
    lambda: median_from_hazard_ratio(0.0, 0.5, 0.4, 0.6),
    lambda: median_from_hazard_ratio(10.0, 0.5, 0.6, 0.7),
    lambda: event_free_from_hazard_ratio(1.0, 0.5, 0.4, 0.6),
    lambda: per_thousand(1.2, 0.5, 1.3),
])
def test_bad_input_is_refused(call):
    with pytest.raises(ValueError):
        call()
