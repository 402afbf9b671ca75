"""Tests of metapool.analysis.validation: one test per rule, each on a malformed copy of a small valid set of tables."""
import subprocess
import sys
import tempfile
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.analysis.validation import (BOM, DataValidationError, Violation, derived_counts, load_schema,
                                          optional_columns, read_raw, read_table, validate_tables)

# The column order of the data contract (/tmp/data_spec.md), written out here independently of the schemas.
COLUMNS = {
    "studies": "study_id trial cohort arm drug regimen setting prior_therapy phase design arm_role first_author "
               "year journal doi pmid data_cut source location verification notes".split(),
    "response": "study_id outcome assessor assessor_detail evaluable responders count_source pct ci_level "
                "ci_lower ci_upper source location".split(),
    "survival": "study_id outcome assessor assessor_detail n median ci_level ci_lower ci_upper unit source "
                "location".split(),
    "hazard_ratios": "study_id outcome assessor assessor_detail comparator comparator_study_id comparator_detail "
                     "hr ci_level ci_lower ci_upper source location".split(),
}
ROWS = {  # file line = index + 2
    "studies": [
        ["ALEX_alectinib", "ALEX", "alectinib arm", "alectinib 600 mg twice daily", "alectinib", "600 mg BID",
         "tki_naive", "none", "3", "randomised", "experimental", "Peters S", "2017", "N Engl J Med",
         "10.1056/NEJMoa1704795", "28586279", "2017-02-09", "seeds/alex.md", "Abstract", "verified", ""],
        ["ALEX_crizotinib", "ALEX", "crizotinib arm", "crizotinib 250 mg twice daily", "crizotinib", "250 mg BID",
         "tki_naive", "none", "3", "randomised", "control", "Peters S", "2017", "N Engl J Med",
         "10.1056/NEJMoa1704795", "28586279", "2017-02", "seeds/alex.md", "Abstract", "verified", ""],
        ["OKAYAMA_crizotinib", "Okayama series", "all patients", "retrospective cohort", "crizotinib", "",
         "tki_naive", "", "", "retrospective", "single_arm", "", "2019", "", "", "", "",
         "https://example.org/okayama", 'Table 2 "overall"', "partial", ""],
    ],
    "response": [
        ["ALEX_alectinib", "orr", "independent_review", "IRC", "152", "126", "derived", "82.9", "0.95", "76.0",
         "88.5", "seeds/alex.md", "Table 2"],
        ["ALEX_crizotinib", "orr", "independent_review", "IRC", "151", "114", "printed", "75.5", "0.95", "67.8",
         "82.1", "seeds/alex.md", "Table 2"],
        ["OKAYAMA_crizotinib", "orr", "not_stated", "", "26", "24", "printed", "92.3", "0.95", "74.9", "99.1",
         "https://example.org/okayama", "Results"],
        ["OKAYAMA_crizotinib", "orr", "not_stated", "", "26", "24", "printed", "92.3", "0.90", "77.7", "98.6",
         "https://example.org/okayama", "Results"],
        ["OKAYAMA_crizotinib", "intracranial_orr", "not_stated", "", "8", "", "", "", "", "", "",
         "https://example.org/okayama", "Results"],
    ],
    "survival": [
        ["ALEX_alectinib", "pfs", "investigator", "", "152", "34.8", "0.95", "17.7", "NR", "", "seeds/alex.md", "Fig 1"],
        ["ALEX_crizotinib", "pfs", "investigator", "", "151", "10.9", "0.95", "9.1", "12.9", "", "seeds/alex.md",
         "Fig 1"],
        ["OKAYAMA_crizotinib", "os", "not_stated", "", "26", "NR", "", "", "", "", "https://example.org/okayama",
         "Results"],
    ],
    "hazard_ratios": [
        ["ALEX_alectinib", "pfs", "investigator", "", "crizotinib", "ALEX_crizotinib", "", "0.43", "0.95", "0.32",
         "0.58", "seeds/alex.md", "Fig 1"],
        ["ALEX_alectinib", "os", "investigator", "", "crizotinib", "ALEX_crizotinib", "", "0.67", "0.95", "0.46",
         "0.98", "seeds/alex.md", "Fig 3"],
    ],
}


def valid_tables():
    return {t: [dict(zip(COLUMNS[t], row, strict=True)) for row in rows] for t, rows in ROWS.items()}


@pytest.fixture
def tables():
    return valid_tables()


def write(directory, tables, columns=None):
    """Write the tables as TSV into `directory`; `columns` overrides a table's header (and cell order)."""
    paths = {}
    for t, rows in tables.items():
        cols = (columns or {}).get(t, COLUMNS[t])
        path = Path(directory) / f"{t}.tsv"
        path.write_text("".join("\t".join(r) + "\n" for r in [cols] + [[row.get(c, "x") for c in cols]
                                                                        for row in rows]), encoding="utf-8")
        paths[t] = str(path)
    return paths


def problems(paths):
    with pytest.raises(DataValidationError) as info:
        validate_tables(paths)
    return info.value


def assert_only(err, path, line, column, value, fragment):
    """`err` holds exactly one violation, and its message names the file, line, column and value."""
    assert len(err.violations) == 1, str(err)
    message = str(err).splitlines()[1]
    assert message.startswith(f"{path}, line {line}, column '{column}', value '{value}': "), message
    assert fragment in message, message


# ------------------------------------------------------------------------------------------ valid tables

def test_valid_tables_load_with_typed_columns(tmp_path, tables):
    typed = validate_tables(write(tmp_path, tables))
    assert set(typed) == {"studies", "response", "survival", "hazard_ratios"}
    studies, response, survival, hr = (typed[t] for t in ("studies", "response", "survival", "hazard_ratios"))
    for t, frame in typed.items():
        assert frame["line"].dtype == "int64" and list(frame["line"]) == list(range(2, len(ROWS[t]) + 2))
        assert pd.api.types.is_string_dtype(frame["study_id"])
    assert studies["year"].dtype == "Int64" and studies["phase"].dtype == "Int64"
    assert studies["phase"].isna().tolist() == [False, False, True]
    assert studies["location"].iloc[2] == 'Table 2 "overall"'  # quotes are data, not CSV quoting
    assert response["evaluable"].dtype == "Int64" and response["responders"].dtype == "Int64"
    assert response["responders"].isna().tolist() == [False] * 4 + [True]
    for c in ("pct", "ci_level", "ci_lower", "ci_upper"):
        assert response[c].dtype == "float64"
    assert response["pct"].tolist()[:4] == [82.9, 75.5, 92.3, 92.3]
    assert survival["n"].dtype == "Int64"
    for c in ("median", "ci_lower", "ci_upper"):
        assert survival[c].dtype == "float64" and survival[f"{c}_nr"].dtype == "bool"
        assert list(survival.columns).index(f"{c}_nr") == list(survival.columns).index(c) + 1
    assert survival["median_nr"].tolist() == [False, False, True]
    assert survival["ci_upper_nr"].tolist() == [True, False, False]
    assert survival["median"].isna().tolist() == [False, False, True]
    assert hr["hr"].dtype == "float64" and hr["hr"].tolist() == [0.43, 0.67]
    assert pd.api.types.is_string_dtype(hr["comparator_study_id"])


def test_read_raw_keeps_strings_empty_cells_and_quotes(tmp_path, tables):
    raw = read_raw(write(tmp_path, tables)["studies"])
    assert list(raw.columns) == COLUMNS["studies"]
    assert raw["phase"].tolist() == ["3", "3", ""] and raw["notes"].tolist() == ["", "", ""]
    assert raw["location"].iloc[2] == 'Table 2 "overall"'


def test_printed_count_not_matching_pct_is_not_a_violation(tmp_path, tables):
    tables["response"][1]["responders"] = "100"  # 100/151 = 66.2 %, printed 75.5: the audit's business
    validate_tables(write(tmp_path, tables))


def test_nr_median_skips_ci_order(tmp_path, tables):
    tables["survival"][2].update(ci_level="0.95", ci_lower="5.1", ci_upper="NR")
    validate_tables(write(tmp_path, tables))


# ------------------------------------------------------------------------------------ messages and API

def test_violation_str():
    v = Violation("data/response.tsv", 7, "responders", "12", "responders must be <= evaluable (10)")
    assert str(v) == ("data/response.tsv, line 7, column 'responders', value '12': "
                      "responders must be <= evaluable (10)")
    assert str(Violation("data/x.tsv", 3, "", "", "blank line")) == "data/x.tsv, line 3: blank line"


def test_error_lists_all_violations_under_a_heading():
    vs = [Violation("a.tsv", 2, "c", "v", "r1"), Violation("b.tsv", 3, "d", "w", "r2")]
    err = DataValidationError(vs)
    assert isinstance(err, ValueError) and err.violations == vs
    assert str(err).splitlines() == ["2 problem(s) in the data tables:", str(vs[0]), str(vs[1])]


def test_table_names_are_checked(tmp_path, tables):
    paths = write(tmp_path, tables)
    with pytest.raises(ValueError, match="unknown table"):
        validate_tables({**paths, "extra": paths["studies"]})
    with pytest.raises(ValueError, match="studies"):
        validate_tables({"response": paths["response"]})


def test_all_violations_of_a_table_are_reported_at_once(tmp_path, tables):
    tables["response"][0]["pct"] = "abc"
    tables["response"][1]["outcome"] = "pfs"
    tables["response"][4]["assessor_detail"] = " IRC"
    paths = write(tmp_path, tables)
    lines = str(problems(paths)).splitlines()
    assert lines[0] == "3 problem(s) in the data tables:"
    assert lines[1].startswith(f"{paths['response']}, line 2, column 'pct', value 'abc': pct must be a number")
    assert lines[2].startswith(f"{paths['response']}, line 3, column 'outcome', value 'pfs': 'pfs' is not a declared proportion outcome")
    assert lines[3].startswith(f"{paths['response']}, line 6, column 'assessor_detail', value ' IRC': "
                               "assessor_detail has leading or trailing whitespace")


def test_all_tables_are_checked_before_raising(tmp_path, tables):
    tables["studies"][2]["design"] = "cohort"
    tables["response"][3]["ci_level"] = "90"
    tables["survival"][1]["median"] = "-1"
    tables["hazard_ratios"][1]["hr"] = "0"
    paths = write(tmp_path, tables)
    err = problems(paths)
    assert [(v.file, v.line, v.column) for v in err.violations] == [
        (paths["studies"], 4, "design"), (paths["response"], 5, "ci_level"),
        (paths["survival"], 3, "median"), (paths["hazard_ratios"], 3, "hr")]


# ---------------------------------------------------------------------------------------- file / header

def test_ragged_and_blank_rows(tmp_path, tables):
    paths = write(tmp_path, tables)
    path = Path(paths["survival"])
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1] + "\textra", "", lines[2]]) + "\n")
    err = problems(paths)
    assert [str(v) for v in err.violations] == [
        f"{path}, line 2: row has 13 field(s), the header has 12", f"{path}, line 3: blank line"]


def test_empty_file(tmp_path, tables):
    paths = write(tmp_path, tables)
    Path(paths["hazard_ratios"]).write_text("")
    assert [str(v) for v in problems(paths).violations] == [
        f"{paths['hazard_ratios']}, line 1: file is empty (no header row)"]


def test_duplicate_column_name(tmp_path, tables):
    paths = write(tmp_path, tables, {"survival": COLUMNS["survival"] + ["notes", "notes"]})
    assert_only(problems(paths), paths["survival"], 1, "notes", "notes", "duplicate column 'notes'")


def test_missing_column(tmp_path, tables):
    paths = write(tmp_path, tables, {"response": [c for c in COLUMNS["response"] if c != "outcome"]})
    assert_only(problems(paths), paths["response"], 1, "outcome", "", "missing column 'outcome'")


def test_missing_column_suggests_a_misspelt_extra(tmp_path, tables):
    cols = ["outcme" if c == "outcome" else c for c in COLUMNS["response"]]
    for row in tables["response"]:
        row["outcme"] = row["outcome"]
    err = problems(write(tmp_path, tables, {"response": cols}))
    assert "missing column 'outcome' (found 'outcme')" in str(err)


def test_optional_columns_may_be_absent(tmp_path, tables):
    optional = set(optional_columns("studies"))
    assert {"regimen", "notes", "doi", "phase"} <= optional and "study_id" not in optional
    typed = validate_tables(write(tmp_path, tables, {"studies": [c for c in COLUMNS["studies"] if c not in optional]}))
    studies = typed["studies"]
    assert list(studies.columns[:len(COLUMNS["studies"])]) == COLUMNS["studies"]
    assert studies["notes"].tolist() == ["", "", ""] and studies["phase"].isna().all()


def test_extra_columns_are_kept_after_the_declared_ones_sorted_by_name(tmp_path, tables):
    for i, row in enumerate(tables["studies"]):
        row.update(dose_mg=str(600 - 100 * i), reviewer_note=f"note {i}")
    paths = write(tmp_path, tables, {"studies": ["reviewer_note"] + COLUMNS["studies"] + ["dose_mg"]})
    studies = validate_tables(paths)["studies"]
    assert list(studies.columns) == COLUMNS["studies"] + ["dose_mg", "reviewer_note", "line"]  # sorted by name
    assert studies["dose_mg"].tolist() == ["600", "500", "400"]
    assert read_table(paths["studies"], "studies").columns.tolist()[-2:] == ["dose_mg", "reviewer_note"]


@pytest.mark.parametrize("name", ["estimate", "weight", "hr", "median_nr", "subgroup_k", "line"])
def test_extra_column_with_a_name_the_engine_uses(tmp_path, tables, name):
    for row in tables["studies"]:
        row[name] = "1"
    paths = write(tmp_path, tables, {"studies": COLUMNS["studies"] + [name]})
    assert_only(problems(paths), paths["studies"], 1, name, name, f"extra column '{name}' has a name the engine")


def test_extra_column_in_two_tables(tmp_path, tables):
    for t in ("studies", "hazard_ratios"):
        for row in tables[t]:
            row["covariate"] = "1"
    paths = write(tmp_path, tables, {t: COLUMNS[t] + ["covariate"] for t in ("studies", "hazard_ratios")})
    assert_only(problems(paths), paths["hazard_ratios"], 1, "covariate", "covariate", "also a column of")


def test_column_order_does_not_matter(tmp_path, tables):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    typed = validate_tables(write(tmp_path / "a", tables))
    shuffled = {t: list(reversed(cols)) for t, cols in COLUMNS.items()}
    again = validate_tables(write(tmp_path / "b", tables, shuffled))
    for t in typed:
        pd.testing.assert_frame_equal(typed[t], again[t])


def _rewrite(paths, transform):
    for path in paths.values():
        Path(path).write_bytes(transform(Path(path).read_bytes()))
    return paths


@pytest.mark.parametrize("transform", [lambda b: BOM + b, lambda b: b.replace(b"\n", b"\r\n"),
                                       lambda b: BOM + b.replace(b"\n", b"\r\n")], ids=["bom", "crlf", "bom+crlf"])
def test_bom_and_crlf_read_the_same(tmp_path, tables, transform):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = validate_tables(write(tmp_path / "a", tables))
    other = validate_tables(_rewrite(write(tmp_path / "b", tables), transform))
    for t in plain:
        pd.testing.assert_frame_equal(plain[t], other[t])


def test_latin1_is_refused_with_the_byte_offset(tmp_path, tables):
    tables["studies"][2]["first_author"] = "Müller K"
    paths = write(tmp_path, tables)
    data = Path(paths["studies"]).read_text(encoding="utf-8").encode("latin-1")
    Path(paths["studies"]).write_bytes(data)
    offset = data.index("ü".encode("latin-1"))
    err = problems(paths)
    assert len(err.violations) == 1
    assert str(err.violations[0]).startswith(f"{paths['studies']}, line 4: not UTF-8: byte offset {offset} (0xfc)")


def test_utf16_is_refused_at_its_first_byte(tmp_path, tables):
    paths = write(tmp_path, tables)
    Path(paths["survival"]).write_bytes(Path(paths["survival"]).read_text().encode("utf-16"))
    err = problems(paths)
    assert str(err.violations[0]).startswith(f"{paths['survival']}, line 1: not UTF-8: byte offset 0 (0xff)")


# ---------------------------------------------------------------------------------------- cell rules

def test_leading_or_trailing_whitespace(tmp_path, tables):
    tables["response"][1]["responders"] = "114 "
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 3, "responders", "114 ", "has leading or trailing whitespace")


@pytest.mark.parametrize("table, index, column, value, fragment", [
    ("studies", 0, "drug", "aspirin", "'aspirin' is not a declared drug; declared in"),
    ("studies", 1, "trial", "", "trial is required"),
    ("studies", 2, "phase", "2b", "phase must be one of: 1, 2, 3, 4 (or empty)"),
    ("studies", 0, "year", "2017.0", "year must be an integer"),
    ("studies", 1, "doi", "doi:10.1056/x", "doi must match"),
    ("studies", 1, "pmid", "PMID28586279", "pmid must match"),
    ("studies", 1, "data_cut", "2017-13", "data_cut must match"),
    ("studies", 0, "source", "alex.md", "source must match"),
    ("studies", 2, "verification", "yes", "verification must be one of"),
    ("response", 1, "pct", "75,5", "pct must be a number as printed (e.g. 74 or 33.3) (or empty)"),
    ("response", 1, "count_source", "computed", "count_source must be one of: printed, derived (or empty)"),
    ("response", 1, "location", "", "location is required"),
    ("survival", 1, "median", "", "median is required"),
    ("survival", 1, "median", "not reached", 'median must be a number as printed or "NR"'),
    ("survival", 1, "n", "151.0", "n must be an integer (or empty)"),
    ("hazard_ratios", 0, "hr", "NR", "hr must be a number as printed"),
    ("hazard_ratios", 0, "comparator", "placebo", "'placebo' is not a declared comparator; declared in"),
])
def test_format(tmp_path, tables, table, index, column, value, fragment):
    tables[table][index][column] = value
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths[table], index + 2, column, value, fragment)


def test_study_id_format(tmp_path, tables):
    tables["studies"].append(dict(tables["studies"][2], study_id="OKAYAMA crizotinib!"))  # referenced nowhere
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["studies"], 5, "study_id", "OKAYAMA crizotinib!",
                "study_id must match ^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@pytest.mark.parametrize("table, index, column, value, fragment", [
    ("studies", 0, "year", "1989", "year must be >= 1990 and <= 2030"),
    ("studies", 0, "year", "2031", "year must be >= 1990 and <= 2030"),
    ("response", 1, "evaluable", "0", "evaluable must be >= 1"),
    ("response", 1, "responders", "-1", "responders must be >= 0"),
    ("response", 1, "pct", "100.5", "pct must be >= 0 and <= 100"),
    ("response", 1, "ci_level", "95", "ci_level must be > 0 and < 1"),
    ("response", 1, "ci_level", "1.0", "ci_level must be > 0 and < 1"),
    ("response", 1, "ci_level", "0", "ci_level must be > 0 and < 1"),
    ("response", 1, "ci_upper", "182.1", "ci_upper must be >= 0 and <= 100"),
    ("survival", 1, "median", "0", "median must be > 0"),
    ("survival", 1, "ci_lower", "0.0", "ci_lower must be > 0"),
    ("hazard_ratios", 0, "hr", "0", "hr must be > 0"),
    ("hazard_ratios", 0, "ci_lower", "-0.32", "ci_lower must be > 0"),
])
def test_numeric_range(tmp_path, tables, table, index, column, value, fragment):
    tables[table][index][column] = value
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths[table], index + 2, column, value, fragment)


# ----------------------------------------------------------------------------------------- row rules

def test_responders_at_most_evaluable(tmp_path, tables):
    tables["response"][1]["responders"] = "152"
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 3, "responders", "152", "responders must be <= evaluable (151)")


def test_count_source_required_when_responders_given(tmp_path, tables):
    tables["response"][1]["count_source"] = ""
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 3, "count_source", "",
                "count_source is required when responders is given (114)")


def test_count_source_empty_when_responders_empty(tmp_path, tables):
    tables["response"][4]["count_source"] = "printed"
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 6, "count_source", "printed",
                "count_source must be empty when responders is empty")


@pytest.mark.parametrize("table, index", [("response", 1), ("survival", 1), ("hazard_ratios", 0)])
def test_ci_level_required_with_a_ci_limit(tmp_path, tables, table, index):
    tables[table][index]["ci_level"] = ""
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths[table], index + 2, "ci_level", "",
                "ci_level is required when ci_lower or ci_upper is given")


@pytest.mark.parametrize("table, index, column, value, fragment", [
    ("response", 1, "ci_lower", "80.0", "ci_lower must be <= pct (75.5)"),
    ("response", 1, "ci_upper", "75.4", "ci_upper must be >= pct (75.5)"),
    ("survival", 1, "ci_upper", "10", "ci_upper must be >= median (10.9)"),
    ("survival", 0, "ci_lower", "35", "ci_lower must be <= median (34.8)"),
    ("hazard_ratios", 0, "ci_upper", "0.40", "ci_upper must be >= hr (0.43)"),
    ("hazard_ratios", 1, "ci_lower", "0.7", "ci_lower must be <= hr (0.67)"),
])
def test_ci_brackets_the_estimate(tmp_path, tables, table, index, column, value, fragment):
    tables[table][index][column] = value
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths[table], index + 2, column, value, fragment)


def test_ci_order_without_a_numeric_estimate(tmp_path, tables):
    tables["survival"][2].update(ci_level="0.95", ci_lower="20.1", ci_upper="10.2")  # median NR
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["survival"], 4, "ci_lower", "20.1", "ci_lower must be <= ci_upper (10.2)")


def test_derived_count_that_does_not_reproduce_pct(tmp_path, tables):
    tables["response"][0]["responders"] = "127"  # 100*127/152 = 83.55 -> 83.6, printed 82.9
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 2, "responders", "127",
                "derived responders must reproduce pct (82.9) from evaluable (152)")
    assert "the count that does is 126" in str(problems(paths))


def test_derived_count_that_is_not_unique(tmp_path, tables):
    # 98, 99 and 100 of 300 all print as 33 %
    tables["response"][0].update(evaluable="300", responders="99", pct="33", ci_lower="27.7", ci_upper="38.7")
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 2, "responders", "99",
                "derived responders is not unique: 98, 99, 100 all reproduce pct (33) from evaluable (300)")


def test_derived_count_needs_evaluable_and_pct(tmp_path, tables):
    tables["response"][0].update(pct="", ci_level="", ci_lower="", ci_upper="")
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 2, "count_source", "derived",
                "a derived count needs both evaluable and pct")


# --------------------------------------------------------------------------------------- table rules

def test_duplicate_study_id(tmp_path, tables):
    tables["studies"].append(dict(tables["studies"][0], arm="duplicate"))
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["studies"], 5, "study_id", "ALEX_alectinib",
                "duplicate study_id; first occurrence on line 2")


def test_duplicate_response_key(tmp_path, tables):
    tables["response"][3]["ci_level"] = "0.95"
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 5, "study_id, outcome, assessor, ci_level",
                "OKAYAMA_crizotinib, orr, not_stated, 0.95",
                "duplicate key (study_id, outcome, assessor, ci_level); first occurrence on line 4")


@pytest.mark.parametrize("table", ["survival", "hazard_ratios"])
def test_duplicate_key(tmp_path, tables, table):
    tables[table].append(dict(tables[table][1]))
    paths = write(tmp_path, tables)
    row = tables[table][1]
    assert_only(problems(paths), paths[table], len(tables[table]) + 1, "study_id, outcome, assessor",
                f"{row['study_id']}, {row['outcome']}, {row['assessor']}",
                "duplicate key (study_id, outcome, assessor); first occurrence on line 3")


@pytest.mark.parametrize("table, index, column", [
    ("response", 0, "study_id"), ("survival", 2, "study_id"), ("hazard_ratios", 1, "study_id"),
    ("hazard_ratios", 0, "comparator_study_id"),
])
def test_study_ids_resolve_in_studies(tmp_path, tables, table, index, column):
    tables[table][index][column] = "ALEX_alectinib_2020"
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths[table], index + 2, column, "ALEX_alectinib_2020",
                f"{column} is not a study_id in {paths['studies']}")


@pytest.mark.parametrize("column, value", [
    ("evaluable", "27"), ("responders", "23"), ("count_source", "derived"), ("pct", "92.31")])
def test_rows_of_one_estimate_agree(tmp_path, tables, column, value):
    tables["response"][3][column] = value  # line 5, the 90 % CI row of line 4's estimate
    paths = write(tmp_path, tables)
    assert_only(problems(paths), paths["response"], 5, column, value,
                f"{column} must agree with line 4 ('{tables['response'][2][column]}')")


# ----------------------------------------------------------------------------------- derived counts

def printed(k, n, d):
    """100*k/n rounded half away from zero to d decimals, as printed (computed independently of the module)."""
    return str((Decimal(100 * k) / Decimal(n)).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_UP))


@settings(max_examples=300, deadline=None)
@given(data=st.data(), decimals=st.sampled_from([1, 1, 0]))
def test_derived_count_validates_iff_unique(data, decimals):
    n = data.draw(st.integers(1, 500), label="evaluable")
    k = data.draw(st.integers(0, n), label="responders")
    pct = printed(k, n, decimals)
    unique = [j for j in range(n + 1) if printed(j, n, decimals) == pct] == [k]
    assert list(derived_counts(pct, n)) == [j for j in range(n + 1) if printed(j, n, decimals) == pct]
    tables = valid_tables()
    tables["response"][0].update(evaluable=str(n), responders=str(k), pct=pct, ci_level="", ci_lower="", ci_upper="")
    with tempfile.TemporaryDirectory() as directory:
        paths = write(directory, tables)
        if unique:
            validate_tables(paths)
        else:
            assert_only(problems(paths), paths["response"], 2, "responders", str(k), "is not unique")


def test_one_decimal_is_always_unique_up_to_500():
    # consecutive counts differ by 100/n >= 0.2 points, more than one printed step of 0.1
    assert all(len(derived_counts(printed(k, n, 1), n)) == 1 for n in range(1, 501) for k in range(n + 1))


# -------------------------------------------------------------------------------------------- schemas

@pytest.mark.parametrize("table", list(COLUMNS))
def test_schema_shape(table):
    schema = load_schema(table)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert list(schema["properties"]) == schema["required"] == COLUMNS[table]
    assert schema["additionalProperties"] is False
    assert all(p.get("description") and p.get("type") == "string" for p in schema["properties"].values())
    assert set(schema["x-key"]) <= set(schema["properties"])
    for column, spec in schema["x-columns"].items():
        assert column in schema["properties"]
        assert spec["type"] in {"integer", "decimal", "decimal_or_nr", "string"}
        assert set(spec) <= {"type", "min", "max", "exclusive_min", "exclusive_max"}


def test_never_imports_snakemake():
    code = "import sys, metapool, metapool.analysis.validation; sys.exit('snakemake' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
