"""Tests of metapool.analysis.risk_of_bias: the RoB 2 and ROBINS-I algorithms on their published cases, the
refusals of data/risk_of_bias.tsv (file, line, column, value) and the invariant that raising a domain never
lowers the overall judgement."""

from itertools import product
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.analysis.risk_of_bias import (accepted_overall, derived_overall, judgement_for, overall_judgements,
                                            read_risk_of_bias, result_judgements)
from metapool.analysis.validation import DataValidationError
from metapool.vocabulary import ROB_TOOLS

ROOT = Path(__file__).resolve().parents[2]
STUDIES = ROOT / "data" / "studies.tsv"
RISK_OF_BIAS = ROOT / "data" / "risk_of_bias.tsv"
HEADER = ["study_id", "outcome", "tool", "domain", "judgement", "support", "source", "location"]
ROB2 = tuple(ROB_TOOLS["rob2"].domains)
ROBINS = tuple(ROB_TOOLS["robins_i"].domains)


def rob2(*judgements):
    return dict(zip(ROB2, judgements, strict=True))


# ------------------------------------------------------------------------------------ RoB 2 (Sterne 2019)

def test_rob2_all_low_is_low():
    assert derived_overall("rob2", rob2(*["low"] * 5)) == "low"


@pytest.mark.parametrize("position", range(5))
def test_rob2_one_some_concerns_is_some_concerns_and_high_is_not_accepted(position):
    domains = rob2(*["some_concerns" if i == position else "low" for i in range(5)])
    assert derived_overall("rob2", domains) == "some_concerns"
    assert accepted_overall("rob2", domains) == ("some_concerns",)


def test_rob2_some_concerns_in_two_domains_may_be_escalated_to_high():
    domains = rob2("some_concerns", "low", "some_concerns", "low", "low")
    assert derived_overall("rob2", domains) == "some_concerns"
    assert accepted_overall("rob2", domains) == ("some_concerns", "high")


@pytest.mark.parametrize("position", range(5))
def test_rob2_any_high_is_high_even_with_domains_missing(position):
    domains = rob2(*["high" if i == position else "low" for i in range(5)])
    assert derived_overall("rob2", domains) == "high"
    assert accepted_overall("rob2", domains) == ("high",)
    assert derived_overall("rob2", {ROB2[position]: "high"}) == "high"


@pytest.mark.parametrize("missing", ROB2)
def test_rob2_a_missing_domain_makes_the_overall_unknown_never_low(missing):
    domains = {d: "low" for d in ROB2 if d != missing}
    assert derived_overall("rob2", domains) == ""
    assert accepted_overall("rob2", domains) == ()


def test_rob2_every_combination_follows_the_published_table():
    for judgements in product(ROB_TOOLS["rob2"].scale, repeat=5):
        expected = ("high" if "high" in judgements else "low" if set(judgements) == {"low"} else "some_concerns")
        assert derived_overall("rob2", rob2(*judgements)) == expected


# --------------------------------------------------------------------------------- ROBINS-I (Sterne 2016)

@pytest.mark.parametrize("judgements, expected", [
    (["low"] * 7, "low"),
    (["low"] * 6 + ["moderate"], "moderate"),
    (["moderate"] * 6 + ["serious"], "serious"),
    (["serious"] * 6 + ["critical"], "critical"),
    (["low"] * 6 + ["no_information"], "no_information"),
    (["moderate"] * 6 + ["no_information"], "no_information"),
    (["serious"] + ["no_information"] * 6, "serious"),
    (["critical"] + ["no_information"] * 6, "critical"),
])
def test_robins_i_most_severe_domain(judgements, expected):
    assert derived_overall("robins_i", dict(zip(ROBINS, judgements))) == expected


def test_robins_i_missing_domain_is_unknown_unless_critical():
    assert derived_overall("robins_i", dict(zip(ROBINS[:6], ["serious"] * 6))) == ""
    assert derived_overall("robins_i", {"confounding": "critical"}) == "critical"


def test_a_tool_without_algorithm_accepts_any_stated_overall():
    assert derived_overall("jbi_case_series", {"inclusion_criteria": "yes"}) == ""
    assert accepted_overall("jbi_case_series", {}) == ROB_TOOLS["jbi_case_series"].overall_scale


SEVERITY = {"low": 0, "some_concerns": 1, "high": 2}


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["rob2", "robins_i"]), st.data())
def test_raising_a_domain_never_lowers_the_overall(tool, data):
    t = ROB_TOOLS[tool]
    ordered = [j for j in t.scale if j != t.no_information]
    domains = {d: data.draw(st.sampled_from(t.scale)) for d in t.domains}
    raised_domain = data.draw(st.sampled_from([d for d in t.domains if domains[d] in ordered[:-1]] or [None]))
    if raised_domain is None:
        return
    before = derived_overall(tool, domains)
    step = data.draw(st.integers(1, len(ordered) - 1 - ordered.index(domains[raised_domain])))
    after = derived_overall(tool, {**domains, raised_domain: ordered[ordered.index(domains[raised_domain]) + step]})
    if t.grade[before] and t.grade[after]:
        assert SEVERITY[t.grade[after]] >= SEVERITY[t.grade[before]]
    if before in ordered and after in ordered:
        assert ordered.index(after) >= ordered.index(before)


# ------------------------------------------------------------------------------------------- the table

def write(tmp_path, rows):
    path = tmp_path / "risk_of_bias.tsv"
    path.write_text("\n".join("\t".join(r) for r in [HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def row(domain, judgement, study="ALEX_alectinib", outcome="pfs", tool="rob2"):
    return [study, outcome, tool, domain, judgement, "reason", "https://example.org/x", "Abstract"]


def refusal(tmp_path, rows):
    path = write(tmp_path, rows)
    with pytest.raises(DataValidationError) as info:
        read_risk_of_bias(path, STUDIES)
    assert len(info.value.violations) == 1, str(info.value)
    return path, str(info.value.violations[0])


def test_a_valid_table_reads_and_gives_the_overall_judgements(tmp_path):
    rows = [row(d, "low", outcome="all") for d in ROB2[:3]] + [row("measurement", "high"),
                                                                row("measurement", "low", outcome="os"),
                                                                row("reporting", "low", outcome="os")]
    table = read_risk_of_bias(write(tmp_path, rows), STUDIES)
    assert list(table["line"]) == list(range(2, 8))
    judged = overall_judgements(table)
    assert judged == {("ALEX_alectinib", "pfs"): "high", ("ALEX_alectinib", "os"): "low"}
    assert judgement_for(judged, "ALEX_alectinib", "orr") == ""
    results = result_judgements(table).set_index("outcome")
    assert results.loc["os", "randomisation"] == "low" and results.loc["all", "overall"] == ""


def test_a_stated_escalation_is_accepted(tmp_path):
    rows = [row(d, j) for d, j in rob2("some_concerns", "some_concerns", "low", "low", "low").items()]
    table = read_risk_of_bias(write(tmp_path, rows + [row("overall", "high")]), STUDIES)
    assert overall_judgements(table) == {("ALEX_alectinib", "pfs"): "high"}


def test_robins_i_is_mapped_onto_the_grade_levels(tmp_path):
    rows = [row(d, "moderate" if d == "confounding" else "low", tool="robins_i", study="OKAYAMA_crizotinib")
            for d in ROBINS]
    assert overall_judgements(read_risk_of_bias(write(tmp_path, rows), STUDIES)) == {
        ("OKAYAMA_crizotinib", "pfs"): "some_concerns"}


@pytest.mark.parametrize("bad, column, value, fragment", [
    (row("blinding", "low"), "domain", "blinding", "is not a domain of rob2"),
    (row("measurement", "moderate"), "judgement", "moderate", "is not a rob2 judgement"),
    (row("measurement", "low", tool="rob3"), "tool", "rob3", "(did you mean 'rob2'?)"),
    (row("measurement", "low", study="ALEX_alectnib"), "study_id", "ALEX_alectnib", "is not a study_id"),
    (row("measurement", "low", outcome="pfs_hr"), "outcome", "pfs_hr", "is not a declared outcome"),
])
def test_bad_cells_are_refused_with_file_line_column_value(tmp_path, bad, column, value, fragment):
    path, message = refusal(tmp_path, [row("randomisation", "low"), bad])
    assert message.startswith(f"{path}, line 3, column '{column}', value '{value}': ")
    assert fragment in message


def test_a_duplicate_row_is_refused(tmp_path):
    path, message = refusal(tmp_path, [row("measurement", "low"), row("measurement", "high")])
    assert message.startswith(f"{path}, line 3, column 'study_id, outcome, tool, domain', ")
    assert "duplicate" in message and "line 2" in message


def test_a_stated_overall_the_algorithm_does_not_give_is_refused(tmp_path):
    rows = [row(d, j) for d, j in rob2("some_concerns", "low", "low", "low", "low").items()]
    path, message = refusal(tmp_path, rows + [row("overall", "high")])
    assert message.startswith(f"{path}, line 7, column 'judgement', value 'high': ")
    assert "the algorithm gives some_concerns" in message


def test_a_stated_low_with_a_domain_missing_is_refused(tmp_path):
    path, message = refusal(tmp_path, [row(d, "low") for d in ROB2[:4]] + [row("overall", "low")])
    assert message.startswith(f"{path}, line 6, column 'judgement', value 'low': ")
    assert "reporting not judged" in message


def test_a_tool_without_algorithm_needs_a_stated_overall(tmp_path):
    path, message = refusal(tmp_path, [row("consecutive", "no", tool="jbi_case_series", study="OKAYAMA_crizotinib")])
    assert message.startswith(f"{path}, line 2, column 'domain', value 'overall': ")


def test_one_report_one_tool_and_no_domain_judged_twice(tmp_path):
    path, message = refusal(tmp_path, [row("measurement", "low"), row("confounding", "low", tool="robins_i")])
    assert message.startswith(f"{path}, line 3, column 'tool', value 'robins_i': ")
    path, message = refusal(tmp_path, [row("randomisation", "low", outcome="all"), row("randomisation", "low")])
    assert message.startswith(f"{path}, line 3, column 'outcome', value 'pfs': ")



def test_the_shipped_table_validates():
    table = read_risk_of_bias(RISK_OF_BIAS, STUDIES)
    assert set(table["tool"]) == {"rob2"}
    assert (table["support"].str.strip() != "").all()


def test_rob2_on_a_report_that_is_not_randomised_is_refused(tmp_path):
    path, message = refusal(tmp_path, [row("measurement", "low", study="OKAYAMA_crizotinib")])
    assert message.startswith(f"{path}, line 2, column 'tool', value 'rob2': ")
    assert "design 'single_arm'" in message and "robins_i or jbi_case_series" in message
