"""Methods prose generated from the analyses' specifications."""

from __future__ import annotations

import pytest

from metapool.reporting.methods import methods_text, synthesis_methods
from metapool.spec import AnalysisSpec


def _spec(**options) -> AnalysisSpec:
    """An ORR analysis of the config entry ``options`` (no sensitivity tables unless given)."""
    return AnalysisSpec.from_options("a", {"title": "A", "outcome": "orr", "filters": {"setting": ["tki_naive"]},
                                           "sensitivity": [], **options})


@pytest.mark.parametrize("transform, words", [
    ("logit", "logit transformed (0.5 added"),
    ("freeman_tukey", "Miller's inversion at the harmonic mean"),
    ("arcsine", "arcsine square-root transformed"),
    ("raw", "p(1 − p)/n"),
    ("glmm", "binomial-normal generalised linear mixed model"),
])
def test_methods_name_the_transformation_and_its_continuity_correction(transform, words):
    assert words in methods_text(_spec(transform=transform))


def test_synthesis_methods_are_generated_from_the_analyses_as_run():
    versions = {"python": "3.11", "metapool": "0.1.0"}
    one = {h: t for _, h, t in synthesis_methods(
        {"a": _spec(method="DL", ci="hartung_knapp", sensitivity=["leave_one_out"])}, versions)}
    assert "DerSimonian-Laird" in one["Synthesis methods"] and "REML" not in one["Synthesis methods"]
    assert "Hartung-Knapp-Sidik-Jonkman" in one["Synthesis methods"]
    assert "leave-one-out" in one["Sensitivity analyses"] and "cumulative" not in one["Sensitivity analyses"]
    assert "No test for small-study effects was configured" in one["Reporting bias assessment"]
    assert "python 3.11, metapool 0.1.0" in one["Software"]
    two = {h: t for _, h, t in synthesis_methods({"a": _spec(sensitivity=["small_study"], subgroup="drug"),
                                                  "b": _spec(method="PM", pi="t_k2")}, versions)}
    assert "Paule-Mandel" in two["Synthesis methods"] and "t on k − 2 df" in two["Synthesis methods"]
    assert "subgroup analysis (drug)" in two["Heterogeneity and its causes"]
    assert "Egger's regression test" in two["Reporting bias assessment"]
    assert [item for item, _, _ in synthesis_methods({"a": _spec()}, versions)] == ["13d", "13e", "13f", "14", "15",
                                                                                  "13d"]
