"""The schemas and the registry name the same things: every enum of the config and table schemas is the
registry's list (metapool.vocabulary), the vocabularies declared in data (drugs, settings, comparators,
outcomes: metapool.declared) are in no schema enum, and every config option is a field of the analysis spec."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

from metapool.analysis import config, validation
from metapool.display import P_STYLES
from metapool.spec import AnalysisSpec, ModelSpec
from metapool.vocabulary import FIGURE_FORMATS, GRADE_DOMAINS
from metapool.vocabulary import (
    ARM_ROLES,
    ASSESSORS,
    CI_METHODS,
    COUNT_SOURCES,
    DESIGNS,
    FOREST_SORTS,
    MEDIAN_METHODS,
    MULTIVERSE_CI,
    MULTIVERSE_DIMENSIONS,
    PHASES,
    PI_METHODS,
    PROPORTION_TRANSFORMS,
    REPORT_POLICIES,
    RETROSPECTIVE_CHOICES,
    SENSITIVITY_KINDS,
    BAYES_LIKELIHOODS,
    STUDY_COLUMN_VALUES,
    STUDY_FILTER_COLUMNS,
    TAU2_METHODS,
    TIME_UNITS,
    VERIFICATION,
)

# JSON Schema keywords: the names around them are the schema's own (a property, a definition)
KEYWORDS = {"$defs", "properties", "items", "anyOf", "allOf", "oneOf", "additionalProperties", "enum"}

CONFIG_ENUMS = {
    **{(column,): values for column, values in STUDY_COLUMN_VALUES.items()},
    ("method",): TAU2_METHODS,
    ("transform",): PROPORTION_TRANSFORMS,
    ("report_policy",): REPORT_POLICIES,
    ("choice_assessor",): ("any", *ASSESSORS),
    ("choice_design",): ("any", *DESIGNS),
    ("choice_verification",): ("any", *VERIFICATION),
    ("options", "ci"): CI_METHODS,
    ("options", "pi"): PI_METHODS,
    ("options", "median_method"): MEDIAN_METHODS,
    ("options", "sensitivity"): SENSITIVITY_KINDS,
    ("options", "forest_sort"): FOREST_SORTS,
    ("multiverse", "retrospective"): RETROSPECTIVE_CHOICES,
    ("multiverse", "ci"): tuple(MULTIVERSE_CI),
    ("bayes", "likelihood"): BAYES_LIKELIHOODS,
    ("p_values",): P_STYLES,
    ("figure_formats",): FIGURE_FORMATS,
    ("overrides", "propertyNames"): GRADE_DOMAINS,
}
TABLE_ENUMS = {
    "studies": {("phase",): PHASES, ("design",): DESIGNS,
                ("arm_role",): ARM_ROLES, ("verification",): VERIFICATION},
    "response": {("assessor",): ASSESSORS,
                 ("count_source",): COUNT_SOURCES},
    "survival": {("assessor",): ASSESSORS, ("unit",): ("", *TIME_UNITS)},
    "hazard_ratios": {("assessor",): ASSESSORS},
}


def enums(node, names=()) -> list[tuple[tuple, tuple]]:
    """Every ``enum`` of a schema with the last two names on its path that are not schema keywords (a
    definition such as ``drug`` stands alone; a property under its parent, such as ``("options", "ci")``)."""
    found = []
    if isinstance(node, dict):
        if "enum" in node:
            found.append((tuple(names[-2:]), tuple(node["enum"])))
        for name, child in node.items():
            found += enums(child, names if name in KEYWORDS else (*names, name))
    elif isinstance(node, list):
        for child in node:
            found += enums(child, names)
    return found


def test_every_enum_of_the_config_schema_is_the_registry_list():
    found = enums(config.load_schema())
    assert len(dict(found)) == len(found)  # no two enums under one name
    assert dict(found) == CONFIG_ENUMS


@pytest.mark.parametrize("table", list(TABLE_ENUMS))
def test_every_enum_of_the_table_schemas_is_the_registry_list(table):
    found = enums(validation.load_schema(table))
    assert len(dict(found)) == len(found)
    assert dict(found) == TABLE_ENUMS[table]


def test_every_config_option_is_a_field_of_the_analysis_spec():
    schema = config.load_schema()
    options = set(schema["$defs"]["options"]["properties"])
    analysis = schema["properties"]["analyses"]["additionalProperties"]["allOf"][1]["properties"]
    spec_fields = {f.name for f in fields(AnalysisSpec)} - {"name", "model"}
    assert options | set(analysis) == spec_fields | {f.name for f in fields(ModelSpec)}
    assert tuple(analysis["filters"]["properties"]) == STUDY_FILTER_COLUMNS
    assert tuple(p for p in analysis["multiverse"]["properties"] if p != "threshold") == MULTIVERSE_DIMENSIONS


def test_the_estimators_of_the_statistics_are_the_registry_methods():
    from metapool.stats.tau2 import TAU2_ESTIMATORS

    assert tuple(TAU2_ESTIMATORS) == TAU2_METHODS


def test_the_registry_and_the_spec_import_no_numpy_scipy_or_pandas():
    code = ("import sys; import metapool.vocabulary, metapool.spec; "
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_shipped_data_vocabulary_is_the_package_default():
    from conftest import ROOT
    from metapool.declared import DEFAULT_PATH

    assert (ROOT / "data" / "vocabulary.yaml").read_bytes() == DEFAULT_PATH.read_bytes()


def test_the_declared_vocabulary_loads_without_numpy_scipy_or_pandas():
    code = ("import sys; import metapool.declared as d; d.load_vocabulary(d.DEFAULT_PATH); "
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
