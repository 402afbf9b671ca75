"""What a job read (metapool.inputs) and the report's provenance built from it (metapool.reporting.provenance)."""

from __future__ import annotations

import hashlib
import json

import pytest

from metapool.analysis.validation import read_table, validate_tables
from metapool.inputs import InputChangedError, read_input, read_record, record_name, recorded
from metapool.reporting.provenance import input_provenance

from conftest import ROOT


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_tables_read_are_recorded_with_the_digest_of_the_bytes_parsed(tmp_path):
    paths = {t: ROOT / "data" / f"{t}.tsv" for t in ("studies", "survival")}
    out = tmp_path / "inputs" / "estimates_survival.json"
    with recorded(out) as record:
        validate_tables(paths)
    expected = {record_name(p): sha(p.read_bytes()) for p in [*paths.values(), ROOT / "data" / "vocabulary.yaml"]}
    assert record == expected
    assert read_record(out) == expected
    # keys sorted, one run's record is byte-identical to another's
    text = out.read_text()
    assert list(json.loads(text)) == sorted(expected)
    with recorded(tmp_path / "again.json"):
        validate_tables(paths)
    assert (tmp_path / "again.json").read_bytes() == out.read_bytes()


def test_a_record_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    table = tmp_path / "data" / "t.tsv"
    table.write_bytes(b"a\n")
    monkeypatch.chdir(tmp_path)
    with recorded() as by_absolute:
        read_input(table)
    with recorded() as by_relative:
        read_input("data/t.tsv")
    assert by_absolute == by_relative == {"data/t.tsv": sha(b"a\n")}


def test_nothing_is_recorded_outside_a_record_and_a_failed_job_writes_no_record(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_bytes(b"a\n")
    read_input(table)  # no record open: only read
    with pytest.raises(FileNotFoundError):
        with recorded(tmp_path / "record.json"):
            read_input(tmp_path / "missing.tsv")
    assert not (tmp_path / "record.json").exists()


def test_a_table_that_changes_between_two_reads_of_one_job_stops_it(tmp_path):
    table = tmp_path / "hazard_ratios.tsv"
    table.write_bytes(b"one\n")
    with pytest.raises(InputChangedError, match="hazard_ratios.tsv changed while this job was reading it"):
        with recorded(tmp_path / "record.json"):
            read_input(table)
            table.write_bytes(b"two\n")
            read_input(table)
    assert not (tmp_path / "record.json").exists()


def test_read_table_records_through_the_same_reader(tmp_path):
    path = ROOT / "data" / "hazard_ratios.tsv"
    with recorded() as record:
        read_table(path, "hazard_ratios")
    assert record == {record_name(path): sha(path.read_bytes())}


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    files = {"data/studies.tsv": b"studies\n", "data/survival.tsv": b"survival\n", "data/response.tsv": b"resp\n"}
    for path, content in files.items():
        (tmp_path / path).write_bytes(content)
    return {path: sha(content) for path, content in files.items()}


def test_provenance_lists_the_recorded_digests_and_says_nothing_when_the_disk_agrees(data):
    records = {"estimates_survival": {"data/studies.tsv": data["data/studies.tsv"],
                                      "data/survival.tsv": data["data/survival.tsv"]},
               "network_x": {"data/studies.tsv": data["data/studies.tsv"]}}
    rows, problems = input_provenance(records, ["data/studies.tsv", "data/survival.tsv", "data/response.tsv"])
    assert problems == []
    assert [r["path"] for r in rows] == ["data/response.tsv", "data/studies.tsv", "data/survival.tsv"]
    assert rows[0] == {"path": "data/response.tsv", "sha256": data["data/response.tsv"], "jobs": [], "read": False,
                       "current": True}
    assert rows[1]["jobs"] == ["estimates_survival", "network_x"] and rows[1]["current"]


def test_provenance_says_plainly_when_a_file_on_disk_differs_from_what_was_read(data, tmp_path):
    old = sha(b"survival before the edit\n")
    rows, problems = input_provenance({"estimates_survival": {"data/survival.tsv": old}}, ["data/survival.tsv"])
    assert rows == [{"path": "data/survival.tsv", "sha256": old, "jobs": ["estimates_survival"], "read": True,
                     "current": False}]
    assert problems == [f"data/survival.tsv on disk (SHA-256 {data['data/survival.tsv']}) is not the file these "
                        f"results were computed from (SHA-256 {old}): it changed after it was read. Run the workflow "
                        "again to compute the results from the file as it is now."]


def test_provenance_names_a_file_read_in_two_versions_and_a_file_gone(data, tmp_path):
    old = sha(b"old\n")
    records = {"estimates_response": {"data/studies.tsv": old, "data/gone.tsv": old},
               "estimates_survival": {"data/studies.tsv": data["data/studies.tsv"]}}
    rows, problems = input_provenance(records, [])
    assert [r["current"] for r in rows] == [False, False]
    assert problems[0] == f"data/gone.tsv is no longer on disk; the results were computed from the file with SHA-256 {old}."
    assert problems[1].startswith("data/studies.tsv was read in 2 different versions by the jobs of this run (SHA-256 ")
    assert "by estimates_response" in problems[1] and "by estimates_survival" in problems[1]
