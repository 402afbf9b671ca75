"""metapool.display: the one p-value format of the report and the figures, the test for the overall effect,
and the package version (single-sourced with pyproject.toml and CITATION.cff)."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path

import pytest

import metapool
from metapool.display import format_p, overall_effect_text, p_style, p_text, upper_first, using_p_style

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("p, jama, revman", [
    (0.5, "0.50", "0.50"), (0.2049, "0.20", "0.20"), (0.036, "0.04", "0.04"), (0.0104, "0.01", "0.01"),
    (0.00996, "0.01", "0.01"), (0.0049, "0.005", "0.005"), (0.0007, "< 0.001", "0.0007"),
    (0.000012, "< 0.001", "0.00001"), (3e-9, "< 0.001", "< 0.00001"), (1.0, "1.00", "1.00"),
    (math.nan, "NA", "NA"), (None, "NA", "NA"),
])
def test_format_p_in_both_styles(p, jama, revman):
    assert format_p(p) == jama and format_p(p, "revman") == revman


def test_p_text_and_bad_style():
    assert p_text(0.2) == "p = 0.20" and p_text(1e-5) == "p < 0.001"
    assert p_text(1e-7, "revman") == "P < 0.00001" and p_text(0.03, "revman") == "P = 0.03"
    with pytest.raises(ValueError, match="revman"):
        format_p(0.1, "apa")


def test_overall_effect_text_z_and_t():
    assert overall_effect_text(9.6149, math.nan, 1e-21, "revman") == "Test for overall effect: Z = 9.61 (P < 0.00001)"
    assert overall_effect_text(-3.1, 4.0, 0.036) == "Test for overall effect: t = -3.10, df = 4 (p = 0.04)"
    assert overall_effect_text(math.nan, math.nan, math.nan) == ""  # the median of medians has no test


def test_version_is_single_sourced():
    """metapool.__version__ is the one version: pyproject.toml reads it, CITATION.cff states it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "metapool.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", metapool.__version__)
    cff = (ROOT / "CITATION.cff").read_text()
    assert re.search(r"^version: (\S+)$", cff, re.M).group(1) == metapool.__version__


@pytest.mark.parametrize("text, expected", [
    ("drug", "Drug"), ("ECOG_ps", "ECOG_ps"), ("ALK TKI after crizotinib", "ALK TKI after crizotinib"),
    ("random effects (DL, Hartung-Knapp)", "Random effects (DL, Hartung-Knapp)"), ("", ""), (None, ""),
])
def test_upper_first_keeps_acronyms_and_proper_case(text, expected):
    assert upper_first(text) == expected


def test_the_configured_style_is_the_default_inside_using_p_style_only():
    """The config's p_values: a step writes inside using_p_style; a call without a style takes the style in force,
    one with a style keeps it; None keeps the style in force; the style is restored after the block."""
    assert p_style() == "jama" and p_text(1e-7) == "p < 0.001"
    with using_p_style("revman"):
        assert p_style() == "revman"
        assert p_text(1e-7) == "P < 0.00001" and format_p(0.0007) == "0.0007"
        assert overall_effect_text(9.6149, math.nan, 1e-21) == "Test for overall effect: Z = 9.61 (P < 0.00001)"
        assert p_text(1e-7, "jama") == "p < 0.001"
        with using_p_style(None):
            assert p_style() == "revman"
        with using_p_style("jama"):
            assert overall_effect_text(9.6149, math.nan, 1e-21) == "Test for overall effect: z = 9.61 (p < 0.001)"
        assert p_style() == "revman"
    assert p_style() == "jama" and format_p(0.0007) == "< 0.001"
    with pytest.raises(ValueError, match="jama"):
        with using_p_style("apa"):
            pass
