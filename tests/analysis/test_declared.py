"""The vocabularies declared in data (metapool.declared): the vocabulary file's own checks, the table cells and
config values it refuses, the outcome families, the unit of a printed median and the guard against one trial
entered under two spellings."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from metapool.analysis.estimates import survival_estimates
from metapool.analysis.validation import DataValidationError, same_trial_problems, trial_key, validate_tables
from metapool.declared import DEFAULT_PATH, VocabularyError, load_vocabulary, vocabulary_path
from metapool.vocabulary import outcome

from test_validation import ROWS, valid_tables, write

SHIPPED = DEFAULT_PATH.read_text(encoding="utf-8")


def vocabulary_file(tmp_path, text: str):
    path = tmp_path / "vocabulary.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------- the file


def test_a_data_folder_without_a_vocabulary_file_uses_the_packaged_alk_default(tmp_path):
    assert vocabulary_path(tmp_path) == DEFAULT_PATH
    vocabulary_file(tmp_path, SHIPPED)
    assert vocabulary_path(tmp_path) == tmp_path / "vocabulary.yaml"
    vocabulary = load_vocabulary(data_dir=tmp_path)
    assert vocabulary.drugs["lorlatinib"].generation == "third"
    assert vocabulary.drugs["chemotherapy"].drug_class == "chemotherapy"
    assert vocabulary.table_outcomes("response") == ("orr", "intracranial_orr")
    assert vocabulary.table_outcomes("survival") == ("pfs", "os", "dor")


@pytest.mark.parametrize("change, expected", [
    (("generation: first", "generation: 1st"),
     "drugs.crizotinib.generation: '1st' is not allowed; choose from first, second, third, fourth"),
    (("  tki_naive: {label: ALK inhibitor-naive}", "  tki_naive: {}"),
     "settings.tki_naive: 'label' is a required property"),
    (("family: proportion, label: objective response", "family: binary, label: objective response"),
     "outcomes.orr.family: 'binary' is not allowed; choose from proportion, time_to_event"),
    (("comparators: [crizotinib, alectinib, chemotherapy]", "comparators: [crizotinib, alectinb]"),
     "comparators.1: 'alectinb' is not a declared drug (did you mean 'alectinib'?)"),
    (("  dor: {family: time_to_event", "  Dor: {family: time_to_event"),
     "outcomes: 'Dor' must be a lower-case word"),
    (("  dor: {family: time_to_event", "  dor_hr: {family: proportion"),
     "outcomes.dor_hr: a proportion outcome's name must not end like a time-to-event analysis"),
])
def test_a_bad_value_in_the_vocabulary_file_names_the_file_and_the_key(tmp_path, change, expected):
    assert change[0] in SHIPPED
    path = vocabulary_file(tmp_path, SHIPPED.replace(*change))
    with pytest.raises(VocabularyError) as err:
        load_vocabulary(path)
    assert err.value.problems[0].startswith(f"{path}: {expected}")


def test_invalid_yaml_names_its_line(tmp_path):
    path = vocabulary_file(tmp_path, "drugs:\n  crizotinib: {class: ALK TKI\n")
    with pytest.raises(VocabularyError, match=rf"^{path}, line 3, column 1: not valid YAML"):
        load_vocabulary(path)


def test_a_bad_vocabulary_file_stops_the_table_validation(tmp_path):
    paths = write(tmp_path, valid_tables())
    vocabulary_file(tmp_path, SHIPPED.replace("comparators: [crizotinib,", "comparators: [placebo,"))
    with pytest.raises(DataValidationError, match="comparators.0: 'placebo' is not a declared drug"):
        validate_tables(paths)


# ---------------------------------------------------------------------------------------- table cells


def test_an_undeclared_drug_is_refused_with_the_closest_declared_one_and_its_place(tmp_path):
    tables = valid_tables()
    tables["studies"][0]["drug"] = "alectnib"
    paths = write(tmp_path, tables)
    vocabulary_file(tmp_path, SHIPPED)
    with pytest.raises(DataValidationError) as err:
        validate_tables(paths)
    assert [str(v) for v in err.value.violations] == [
        f"{paths['studies']}, line 2, column 'drug', value 'alectnib': 'alectnib' is not a declared drug (did you "
        f"mean 'alectinib'?); declared in {tmp_path / 'vocabulary.yaml'}: crizotinib, alectinib, brigatinib, "
        "ceritinib, ensartinib, lorlatinib, chemotherapy"]


def test_a_drug_setting_and_outcome_are_added_by_one_line_each_of_the_vocabulary_file(tmp_path):
    tables = valid_tables()
    tables["studies"][2].update(drug="iruplinalkib", setting="post_lorlatinib")
    tables["response"][4]["outcome"] = "dcr"
    tables["survival"][2]["outcome"] = "dor"  # declared in the shipped file
    paths = write(tmp_path, tables)
    with pytest.raises(DataValidationError) as err:
        validate_tables(paths)
    assert [(v.line, v.column) for v in err.value.violations] == [(4, "drug"), (4, "setting"), (6, "outcome")]
    text = (SHIPPED.replace("  chemotherapy:", "  iruplinalkib: {class: ALK TKI, generation: second}\n  chemotherapy:")
            .replace("  unknown:", "  post_lorlatinib: {label: after lorlatinib}\n  unknown:")
            + "  dcr: {family: proportion, label: disease control}\n")
    vocabulary_file(tmp_path, text)
    typed = validate_tables(paths)
    assert typed["studies"]["drug"].tolist()[2] == "iruplinalkib"
    assert typed["response"]["outcome"].tolist()[4] == "dcr"


def test_an_outcome_in_the_table_of_the_other_family_is_refused(tmp_path):
    tables = valid_tables()
    tables["survival"][0]["outcome"] = "orr"
    paths = write(tmp_path, tables)
    with pytest.raises(DataValidationError, match="'orr' is not a declared time-to-event outcome"):
        validate_tables(paths)


# ---------------------------------------------------------------------------------------- outcome families


@pytest.mark.parametrize("name, table, code, measure, links", [
    ("orr", "response", "orr", "proportion", ()),
    ("intracranial_orr", "response", "intracranial_orr", "proportion", ()),
    ("dcr", "response", "dcr", "proportion", ()),
    ("pfs_median", "survival", "pfs", "median", ()),
    ("dor_median", "survival", "dor", "median", ()),
    ("os_hr", "hazard_ratios", "os", "hr", ()),
    ("pfs_ratio_of_medians", "survival", "pfs", "ratio_of_medians", ("hazard_ratios",)),
    ("intracranial_pfs_hr", "hazard_ratios", "intracranial_pfs", "hr", ()),
])
def test_a_config_outcome_is_analysed_by_its_family(name, table, code, measure, links):
    analysed = outcome(name)
    assert (analysed.table, analysed.code, analysed.measure, analysed.links) == (table, code, measure, links)


def test_the_config_outcomes_of_the_shipped_vocabulary_keep_todays_names():
    names = load_vocabulary(DEFAULT_PATH).config_outcomes()
    assert {"orr", "intracranial_orr", "pfs_median", "os_median", "pfs_hr", "os_hr",
            "pfs_ratio_of_medians", "dor_median"} <= set(names)
    assert outcome("pfs_hr").phrase == "a PFS hazard ratio" and outcome("os_hr").phrase == "an OS hazard ratio"


# ---------------------------------------------------------------------------------------- units


def test_a_median_printed_in_weeks_or_days_is_converted_to_months():
    studies = pd.DataFrame({c: ["x"] * 3 for c in ("trial", "cohort", "arm", "drug", "setting", "design", "phase",
                                                   "arm_role", "first_author", "data_cut", "verification")})
    studies = studies.assign(study_id=["W", "D", "M"], year=[2020] * 3)
    survival = pd.DataFrame({
        "study_id": ["W", "D", "M"], "outcome": ["dor"] * 3, "assessor": ["not_stated"] * 3,
        "n": pd.array([pd.NA] * 3, dtype="Int64"),
        "median": [49.1, 365.25, 13.8], "median_nr": [False] * 3, "ci_level": [0.95, 0.95, math.nan],
        "ci_lower": [40.0, 182.625, math.nan], "ci_lower_nr": [False] * 3,
        "ci_upper": [math.nan, 730.5, math.nan], "ci_upper_nr": [True, False, False],
        "unit": ["weeks", "days", ""], "source": ["s"] * 3, "location": ["l"] * 3})
    out = survival_estimates(studies, survival).set_index("study_id")
    # hand-checked: 49.1 weeks = 343.7 days = 343.7 / 365.25 x 12 = 11.29199 months; 40 weeks = 9.19918 months
    assert out.loc["W", "estimate"] == pytest.approx(11.291992, abs=1e-6)
    assert out.loc["W", "ci_lower"] == pytest.approx(9.199179, abs=1e-6)
    assert math.isnan(out.loc["W", "ci_upper"]) and out.loc["W", "ci_upper_nr"]
    assert out.loc["W", "note"] == "printed 49.1 weeks; months = weeks x 7 x 12 / 365.25"
    # a year of days is 12 months; half a year 6
    assert out.loc["D", ["estimate", "ci_lower", "ci_upper"]].tolist() == pytest.approx([12.0, 6.0, 24.0])
    assert out.loc["D", "note"] == "printed 365.25 days; months = days x 12 / 365.25"
    assert (out.loc["M", "estimate"], out.loc["M", "note"]) == (13.8, "")


def test_an_unknown_unit_is_refused(tmp_path):
    tables = valid_tables()
    tables["survival"][0]["unit"] = "years"
    paths = write(tmp_path, tables)
    with pytest.raises(DataValidationError, match="column 'unit', value 'years': unit must be one of: months, "
                                                  r"weeks, days \(or empty\)"):
        validate_tables(paths)


# ---------------------------------------------------------------------------------------- one trial, two names


def test_trial_names_differing_in_case_punctuation_or_spacing_are_one_trial():
    assert trial_key("PROFILE 1005") == trial_key("profile-1005") == trial_key("Profile_1005") == "profile1005"
    assert trial_key("ALEX") != trial_key("J-ALEX")


@pytest.mark.parametrize("spelling", ["alex", "A.L.E.X", "ALEX ", " A-LEX"])
def test_a_cohort_entered_twice_under_two_spellings_of_its_trial_is_caught(tmp_path, spelling):
    tables = valid_tables()
    tables["studies"].append(dict(tables["studies"][0], study_id="ALEX_alectinib_again", trial=spelling))
    paths = write(tmp_path, tables)
    with pytest.raises(DataValidationError) as err:
        validate_tables(paths)
    mine = [v for v in err.value.violations if v.rule.startswith("trial '")]
    assert [(v.file, v.line, v.column, v.value) for v in mine] == [(paths["studies"], 5, "trial", spelling)]
    assert mine[0].rule.startswith(f"trial '{spelling}' differs from trial 'ALEX' (line 2) only in case, "
                                   "punctuation or spacing (did you mean 'ALEX'?)")


def test_the_same_spelling_of_a_trial_in_several_reports_is_fine(tmp_path):
    assert len(ROWS["studies"]) == 3 and ROWS["studies"][0][1] == ROWS["studies"][1][1]
    validate_tables(write(tmp_path, valid_tables()))


def test_one_registry_number_under_two_trial_names_is_caught():
    rows = [{"trial": "ALEX", "registry": "NCT02075840"}, {"trial": "J-ALEX", "registry": "JapicCTI-132316"},
            {"trial": "ALEX", "registry": "NCT02075840"}, {"trial": "BO28984", "registry": "nct02075840"},
            {"trial": "CROWN", "registry": ""}]
    problems = same_trial_problems("studies.tsv", rows)
    assert [(v.line, v.column, v.value) for v in problems] == [(5, "registry", "nct02075840")]
    assert problems[0].rule.startswith("registry nct02075840 is also the registry of trial 'ALEX' (line 2)")
