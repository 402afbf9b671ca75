"""Hardened inputs (issue #15), in Python: each malformed table, config or YAML file of the corpus is refused with
its file (and line, column and value for a cell) named, in bounded time; the well-formed variants are read as
the clean input. The end-to-end cases (Snakemake stops, nothing under results/) are in
tests/workflow/test_hardening_workflow.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import ROUND_HALF_UP, Decimal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.analysis.config import ConfigError, check_config, fill_defaults
from metapool.analysis.validation import BOM, DataValidationError, derived_counts, validate_tables
from metapool.declared import VocabularyError, load_vocabulary
from metapool.io import atomic_write_bytes, stale_temporaries, temporary_path
from metapool.yamlfile import MAX_NODES, YamlFileError, load_yaml, plan_file_problems

from conftest import ROOT, config_problems, default_config
from test_validation import valid_tables, write

# ------------------------------------------------------------------------------------------ tables


def refusal(paths, table, line, column) -> str:
    """The one message about ``table``'s ``column`` on ``line`` (the message names the file)."""
    with pytest.raises(DataValidationError) as info:
        validate_tables(paths)
    found = [v for v in info.value.violations if v.file == paths[table] and v.line == line and v.column == column]
    assert len(found) == 1, str(info.value)
    return str(found[0])


def test_bom_and_crlf_read_as_the_same_text(tmp_path):
    (tmp_path / "plain").mkdir()
    (tmp_path / "excel").mkdir()
    plain = validate_tables(write(tmp_path / "plain", valid_tables()))
    paths = write(tmp_path / "excel", valid_tables())
    for path in paths.values():
        with open(path, "rb") as fh:
            data = fh.read()
        with open(path, "wb") as fh:
            fh.write(BOM + data.replace(b"\n", b"\r\n"))
    excel = validate_tables(paths)
    for table, frame in plain.items():
        assert excel[table].equals(frame), table


def test_another_encoding_is_refused_with_its_byte_offset(tmp_path):
    tables = valid_tables()
    tables["studies"][1]["first_author"] = "Müller A"
    paths = write(tmp_path, tables)
    with open(paths["studies"], "rb") as fh:
        text = fh.read().decode("utf-8")
    with open(paths["studies"], "wb") as fh:
        fh.write(text.encode("latin-1"))
    offset = text.encode("latin-1").index("ü".encode("latin-1"))
    with pytest.raises(DataValidationError) as info:
        validate_tables(paths)
    assert str(info.value).splitlines()[1].startswith(f"{paths['studies']}, line 3: not UTF-8: byte offset {offset}")


BIG = "1" + "0" * 308  # 309 digits: float() of it is 1e308, int() of a 5,000-digit one raises in Python 3.11


@pytest.mark.parametrize("table,row,column,value,words", [
    ("response", 0, "evaluable", BIG, "evaluable must be >= 1 and <= 10000000"),
    ("response", 0, "evaluable", "1" + "0" * 5000, "evaluable must be >= 1 and <= 10000000"),
    ("response", 0, "evaluable", "10000001", "<= 10000000"),
    ("response", 1, "responders", BIG, "responders must be >= 0 and <= 10000000"),
    ("survival", 0, "n", BIG, "n must be >= 1 and <= 10000000"),
    ("survival", 1, "median", BIG, "<= 100000"),
    ("hazard_ratios", 0, "hr", BIG + ".5", "<= 1000"),
    ("hazard_ratios", 0, "ci_upper", BIG, "<= 1000"),
])
def test_a_count_or_number_out_of_range_is_refused_before_any_arithmetic(tmp_path, table, row, column, value,
                                                                          words):
    tables = valid_tables()
    tables[table][row][column] = value
    paths = write(tmp_path, tables)
    start = time.perf_counter()
    message = refusal(paths, table, row + 2, column)
    assert time.perf_counter() - start < 5
    shown = value if len(value) <= 80 else value[:77] + "..."
    assert message.startswith(f"{paths[table]}, line {row + 2}, column '{column}', value '{shown}': "), message
    assert words in message, message


def test_a_huge_derived_count_is_checked_in_constant_time():
    start = time.perf_counter()
    fits = derived_counts("33.3", 10**12)  # a range: 10^9 counts, none listed
    assert (fits[0], fits[-1], len(fits)) == (332_500_000_000, 333_499_999_999, 10**9)
    assert list(derived_counts("0.0", 10**15)[:2]) == [0, 1] and derived_counts("100", 10**15)[-1] == 10**15
    assert time.perf_counter() - start < 0.1


def printed(k: int, n: int, decimals: int) -> str:
    return str((Decimal(100 * k) / Decimal(n)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 400), whole=st.integers(0, 100), fraction=st.integers(0, 99), decimals=st.sampled_from([0, 1, 2]))
def test_derived_counts_equal_the_counts_found_one_by_one(n, whole, fraction, decimals):
    """Any printed percentage, not only one a count gives: the arithmetic range equals the brute-force list."""
    pct = str(whole) if decimals == 0 else f"{whole}.{fraction % 10 ** decimals:0{decimals}d}"
    assert list(derived_counts(pct, n)) == [k for k in range(n + 1) if printed(k, n, decimals) == pct]


def test_a_derived_count_message_on_a_huge_cohort_stays_short(tmp_path):
    tables = valid_tables()
    tables["response"][0].update(evaluable="10000000", responders="3330000", pct="33")
    message = refusal(write(tmp_path, tables), "response", 2, "responders")
    assert "is not unique: every count from 3250000 to 3349999 all reproduce pct (33)" in message
    assert len(message) < 400


@pytest.mark.parametrize("cut,year,words", [
    ("2017-02-30", "2017", "data_cut 2017-02-30 is not a calendar date (that month has no day 30)"),
    ("2019-02-29", "2019", "not a calendar date"),
    ("2018-04-31", "2018", "not a calendar date"),
    ("2018-01", "2017", "data_cut 2018-01 is after the report's publication year (2017)"),
    ("2019", "2017", "is after the report's publication year (2017)"),
    ("2018-13", "2019", "data_cut must match"),
])
def test_data_cut_is_a_calendar_date_not_after_publication(tmp_path, cut, year, words):
    tables = valid_tables()
    tables["studies"][0].update(data_cut=cut, year=year)
    paths = write(tmp_path, tables)
    message = refusal(paths, "studies", 2, "data_cut")
    assert message.startswith(f"{paths['studies']}, line 2, column 'data_cut', value '{cut}': "), message
    assert words in message, message


@pytest.mark.parametrize("cut", ["2020-02-29", "2016-12-31", "2017", "2017-02"])
def test_a_real_data_cut_up_to_the_publication_year_is_accepted(tmp_path, cut):
    tables = valid_tables()
    tables["studies"][0].update(data_cut=cut, year="2017" if not cut.startswith("2020") else "2020")
    validate_tables(write(tmp_path, tables))


def test_a_header_only_table_is_legal_and_an_analysis_without_studies_names_it(tmp_path):
    tables = valid_tables()
    tables["response"] = []
    paths = write(tmp_path, tables)
    typed = validate_tables(paths)
    config = {"data_dir": str(tmp_path), "analyses": {"orr_all": {"title": "ORR", "outcome": "orr"}}}
    with pytest.raises(ConfigError) as info:
        check_config(fill_defaults(config), tables=typed)
    assert str(info.value).startswith("config: analyses.orr_all: ")
    assert f"({paths['response']} has no rows)" in str(info.value)


def test_an_absent_table_is_refused_by_name(tmp_path):
    paths = write(tmp_path, valid_tables())
    os.unlink(paths.pop("response"))
    typed = validate_tables(paths)
    config = {"data_dir": str(tmp_path), "analyses": {"orr_all": {"title": "ORR", "outcome": "orr"}}}
    with pytest.raises(ConfigError, match=rf"config: analyses.orr_all: outcome orr is read from "
                                          rf"{tmp_path}/response.tsv, which is absent"):
        check_config(fill_defaults(config), tables=typed)


# ------------------------------------------------------------------------------------------ config values


@pytest.fixture
def config():
    return default_config()


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("where,value,expected", [
    (("defaults", "level"), NAN, "config: defaults.level: .nan is not a finite number"),
    (("defaults", "level"), INF, "config: defaults.level: .inf is not a finite number"),
    (("study_level",), -INF, "config: study_level: -.inf is not a finite number"),
    (("analyses", "orr_tki_naive", "level"), NAN, "config: analyses.orr_tki_naive.level: .nan is not a finite"),
    (("analyses", "orr_post_crizotinib", "multiverse", "threshold"), INF,
     "config: analyses.orr_post_crizotinib.multiverse.threshold: .inf is not a finite number"),
    (("defaults", "level"), 1.0, "config: defaults.level: 1.0 must be < 1"),
    (("study_level",), 0, "config: study_level: 0 must be > 0"),
    (("analyses_per_job",), 0, "config: analyses_per_job: 0 must be >= 1"),
])
def test_every_number_is_finite_and_in_range_with_its_key_path(config, where, value, expected):
    node = config
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    found = config_problems(config)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize("name,words", [
    (2024, "config: analyses: analysis name 2024 must be text"),
    ("a/b", "config: analyses: analysis name 'a/b' must start with a letter"),
    ("..", "analysis name '..' must start with a letter"),
    (".hidden", "analysis name '.hidden' must start with a letter"),
    ("orr\x00", "analysis name 'orr\\x00' must start with a letter"),
    ("orr\n", "analysis name 'orr\\n' must start with a letter"),
    ("orr\x1b[2J", "must start with a letter"),
    ("o" * 101, "at most 100 characters"),
])
def test_an_analysis_name_that_is_no_safe_folder_name_is_refused_by_name(config, name, words):
    config["analyses"][name] = dict(config["analyses"]["orr_tki_naive"])
    found = config_problems(config)
    assert any(words in p for p in found), found


@pytest.mark.parametrize("plan", ["a\n", "../x", ".x", "a/b", "x" * 65])
def test_a_plan_name_that_is_no_safe_folder_name_is_refused(config, plan):
    config["plan"] = plan
    assert any(p.startswith("config: plan: plan name") for p in config_problems(config))


# ------------------------------------------------------------------------------------------ YAML files

BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 9 if p else ['x'] * 9)}]\n"
               for p, a in zip([None, *"abcdefgh"], "abcdefghi"))

# (file text, message after "<file>" (a prefix))
YAML_CASES = {
    "duplicate_analysis": ("plan: x\nanalyses:\n  orr:\n    title: a\n    outcome: orr\n  orr:\n    title: b\n",
                           ", line 6, column 3: key 'orr' is written twice in one mapping (first on line 3, again "
                           "on line 6)"),
    "duplicate_nested": ("analyses:\n  orr:\n    title: a\n    title: b\n",
                         ", line 4, column 5: key 'title' is written twice in one mapping (first on line 3"),
    "duplicate_top": ("plan: a\nanalyses: {}\nplan: b\n", ", line 3, column 1: key 'plan' is written twice"),
    "alias_bomb": (BOMB, ", line 7, column 4: its aliases expand to more than 1,000,000 values"),
    "python_tag": ("plan: !!python/object/apply:os.system ['echo hacked']\n",
                   ", line 1, column 7: not valid YAML (the tag 'tag:yaml.org,2002:python/object/apply:os.system' "
                   "is not allowed"),
    "python_name": ("plan: !!python/name:os.system\n", ", line 1, column 7: not valid YAML (the tag"),
    "tab_indent": ("analyses:\n\torr:\n", ", line 2, column 1: not valid YAML ("),
    "unclosed": ("analyses: [orr\n", ", line 2, column 1: not valid YAML ("),
    "bad_indent": ("analyses:\n  orr:\n    title: a\n   outcome: b\n", ", line 4, column 4: not valid YAML ("),
    "yte": ("__use_yte__: true\nplan: ?str(1)\n", ": __use_yte__: YTE templating is not allowed in a plan"),
    "yte_false": ("__use_yte__: false\nanalyses: {}\n", ": __use_yte__: YTE templating is not allowed"),
    "empty": ("", ": the file is empty"),
    "comment_only": ("# nothing\n", ": the file is empty"),
    "a_list": ("- plan\n", ": a plan is a mapping of keys to values"),
    "number_name": ("analyses:\n  2024:\n    title: a\n", ": analyses: analysis name 2024 must be text"),
    "number_key": ("1: a\n", ": top-level key 1 must be text"),
}


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_a_plan_file_that_is_no_plain_data_is_refused_naming_file_line_and_column(tmp_path, case):
    text, expected = YAML_CASES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    found = plan_file_problems(path)
    assert time.perf_counter() - start < 2
    assert len(found) == 1 and found[0].startswith(f"{path}{expected}"), found


def test_a_tab_says_to_indent_with_spaces(tmp_path):
    path = tmp_path / "tab.yaml"
    path.write_text("plan: a\nanalyses:\n\torr: {}\n")
    assert "indent with spaces, not tabs" in plan_file_problems(path)[0]


def test_a_missing_or_unreadable_plan_file_is_one_line(tmp_path):
    assert plan_file_problems(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: cannot read the file (No such file or directory)"]
    (tmp_path / "latin.yaml").write_bytes("plan: x\nnotes: M\xfcller\n".encode("latin-1"))
    assert plan_file_problems(tmp_path / "latin.yaml") == [
        f"{tmp_path / 'latin.yaml'}, line 2: not UTF-8 (byte offset 16); save the file as UTF-8"]


def test_the_shipped_plans_and_aliases_within_bounds_are_read(tmp_path):
    for path in [ROOT / "config" / "config.yaml", *sorted((ROOT / "config" / "examples").glob("*.yaml"))]:
        assert plan_file_problems(path) == [], path
        assert load_yaml(path) == yaml.safe_load(path.read_text()), path
    path = tmp_path / "aliases.yaml"
    path.write_text("defaults: &d {level: 0.9, method: REML}\nanalyses:\n  a: {<<: *d, title: t}\n"
                    "  b: {<<: *d, title: u, level: 0.8}\n")
    assert load_yaml(path)["analyses"] == {"a": {"level": 0.9, "method": "REML", "title": "t"},
                                           "b": {"level": 0.8, "method": "REML", "title": "u"}}
    path.write_bytes(BOM + b"plan: x\r\nanalyses: {}\r\n")
    assert load_yaml(path) == {"plan": "x", "analyses": {}}


def test_alias_bound_counts_expanded_values(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(f"a: &a [{', '.join(['1'] * 1000)}]\nb: [{', '.join(['*a'] * (MAX_NODES // 1000))}]\n")
    with pytest.raises(YamlFileError, match=rf"^{path}, line 2, column 4: its aliases expand to more than"):
        load_yaml(path)


def test_a_duplicate_key_in_the_vocabulary_file_is_refused_with_both_lines(tmp_path):
    text = (ROOT / "data" / "vocabulary.yaml").read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  alectinib:"))
    block = [lines[at]] + [line for line in lines[at + 1:at + 4] if line.startswith("    ")]
    lines[at + len(block):at + len(block)] = block
    (tmp_path / "vocabulary.yaml").write_text("\n".join(lines) + "\n")
    with pytest.raises(VocabularyError) as info:
        load_vocabulary(tmp_path / "vocabulary.yaml")
    assert info.value.problems == [
        f"{tmp_path / 'vocabulary.yaml'}, line {at + len(block) + 1}, column 3: key 'alectinib' is written twice in "
        f"one mapping (first on line {at + 1}, again on line {at + len(block) + 1}); YAML would keep only the last: "
        "remove or rename one"]


# ------------------------------------------------------------------------------------------ temporary files


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "figures" / "forest_x.pdf"
    target.parent.mkdir()
    # a writer SIGKILLed between creating its temporary file and renaming it
    script = (f"import os, signal; from metapool.io import temporary_path; "
              f"p = temporary_path({str(target)!r}); open(p, 'wb').write(b'half'); os.kill(os.getpid(), signal.SIGKILL)")
    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ})
    assert proc.returncode == -signal.SIGKILL
    [stale] = stale_temporaries(target)
    assert stale.name.startswith(".forest_x.pdf.") and stale.name.endswith(".tmp")
    (tmp_path / "figures" / ".other.pdf.1.ab.tmp").write_bytes(b"")  # another output's: not ours to remove
    atomic_write_bytes(target, b"whole")
    assert sorted(p.name for p in target.parent.iterdir()) == [".other.pdf.1.ab.tmp", "forest_x.pdf"]
    assert target.read_bytes() == b"whole"


def test_save_figure_removes_a_killed_writers_temporary_files(tmp_path):
    import matplotlib.pyplot as plt

    from metapool.figures import save_figure

    stem = tmp_path / "forest_x"
    for ext in ("svg", "pdf", "png"):
        (tmp_path / f".forest_x.{ext}.999999.0123abcd.tmp").write_bytes(b"half")
    fig = plt.figure()
    save_figure(fig, stem)
    plt.close(fig)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forest_x.pdf", "forest_x.png", "forest_x.svg"]


def test_temporary_path_is_hidden_beside_its_target(tmp_path):
    tmp = temporary_path(tmp_path / "a.tsv")
    assert tmp.parent == tmp_path and tmp.name.startswith(f".a.tsv.{os.getpid()}.") and tmp.suffix == ".tmp"
    assert stale_temporaries(tmp_path / "a.tsv") == []


def test_a_control_character_in_a_cell_is_shown_escaped(tmp_path):
    tables = valid_tables()
    tables["studies"][0]["location"] = "Abstract\x1b[2J\x07"
    paths = write(tmp_path, tables)
    message = refusal(paths, "studies", 2, "location")
    assert "\x1b" not in message and "value 'Abstract\\x1b[2J\\x07'" in message, message
    assert message.endswith("location contains a control character (U+001B); remove it"), message


def test_the_plan_check_command_prints_one_line_per_problem(tmp_path, capsys):
    from metapool.yamlfile import main

    good = ROOT / "config" / "config.yaml"
    assert main([str(good)]) == 0 and capsys.readouterr().err == ""
    bad = tmp_path / "yte.yaml"
    bad.write_text("__use_yte__: true\nanalyses:\n  2024: {}\n")
    assert main([str(bad), str(tmp_path / "nope.yaml")]) == 1
    assert capsys.readouterr().err.splitlines() == [
        *plan_file_problems(bad), f"{tmp_path / 'nope.yaml'}: cannot read the file (No such file or directory)"]
    assert len(plan_file_problems(bad)) == 2
    assert main([]) == 2
