"""The decision an analysis informs (``important_effect``): the measure's stated default, the configured value
carried through the typed spec and its params, and the refusals naming the key path and the value."""

from __future__ import annotations

import pytest

from metapool.analysis.config import check_config
from metapool.spec import AnalysisSpec

from conftest import config_problems, default_config


@pytest.fixture()
def config():
    return default_config()


@pytest.mark.parametrize("name, no_effect, threshold", [
    ("pfs_hr_vs_crizotinib_first_line", 1.0, 0.8),
    ("pfs_median_ratio_vs_crizotinib_first_line", 1.0, 1.25),
    ("orr_post_second_gen", None, None),
    ("pfs_median_post_second_gen", None, None),
])
def test_each_measure_states_its_default_threshold(config, name, no_effect, threshold):
    spec = check_config(config)[name]
    assert spec.important_effect is None
    assert spec.no_effect == no_effect
    assert spec.decision_threshold == threshold


def test_a_configured_threshold_is_carried_through_the_params_and_not_into_the_pooling(config):
    config["analyses"]["orr_post_second_gen"]["important_effect"] = 0.5
    config["analyses"]["pfs_hr_vs_crizotinib_first_line"]["important_effect"] = 0.75
    specs = check_config(config)
    orr, hr = specs["orr_post_second_gen"], specs["pfs_hr_vs_crizotinib_first_line"]
    assert (orr.decision_threshold, hr.decision_threshold) == (0.5, 0.75)
    assert orr.to_params()["important_effect"] == 0.5
    assert AnalysisSpec.from_params(hr.to_params()) == hr
    assert hr.pooling_only().to_params() == check_config(default_config())[hr.name].pooling_only().to_params()


@pytest.mark.parametrize("name, value, words", [
    ("pfs_hr_vs_crizotinib_first_line", 1, "1 is no difference between the arms"),
    ("pfs_hr_network_first_line", 1.0, "1 is no difference between the arms"),
    ("orr_post_second_gen", 1.5, "between 0 and 1 (got 1.5)"),
])
def test_an_effect_that_is_no_decision_is_refused_with_its_key(config, name, value, words):
    config["analyses"][name]["important_effect"] = value
    problems = config_problems(config)
    assert [p for p in problems if p.startswith(f"config: analyses.{name}.important_effect: ") and words in p]


def test_a_negative_effect_is_refused_by_the_schema(config):
    config["analyses"]["orr_post_second_gen"]["important_effect"] = -0.2
    assert any("important_effect" in p and "-0.2" in p for p in config_problems(config))
