"""The Snakemake boundary (metapool.jobs): every rule runs one of its functions, a job's log holds its traceback
when it fails, and jobs run side by side in threads of one process (as profiles/default runs them) write the same
bytes and record the same inputs as jobs run one at a time."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from metapool import jobs
from metapool.analysis.config import analysis_specs, fill_defaults
from metapool.steps import estimates_step, forest_step, pool_step

from conftest import ROOT

RULES = ROOT / "workflow" / "rules"


class Named(list):
    """A list with named items, as Snakemake's named lists (input, output, params, log) are."""

    def __init__(self, *items, **named):
        super().__init__([*items, *named.values()])
        self.__dict__.update(named)

    def get(self, name, default=None):
        return self.__dict__.get(name, default)


def test_every_rule_runs_a_function_of_the_boundary_and_every_function_is_run():
    called = set()
    for path in RULES.glob("*.smk"):
        pattern = r'run_job\("(\w+)", rule, input, output, params, wildcards, log\)'
        called |= set(re.findall(pattern, path.read_text()))
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    by_script = {re.search(r'run\("(\w+)", snakemake\)', p.read_text()).group(1) for p in scripts}
    assert by_script == {"analyses_batch", "forest_batch"}
    assert called | by_script == set(jobs.JOBS) and not called & by_script
    # only the batch rules start a process of their own
    for path in RULES.glob("*.smk"):
        directives = re.findall(r"^\s*(script|shell|notebook|wrapper):", path.read_text(), flags=re.M)
        assert directives == (["script", "script"] if path.name == "batch.smk" else []), path.name


def test_a_job_that_succeeds_leaves_an_empty_log_and_one_that_fails_its_traceback(tmp_path):
    (tmp_path / "a.tsv").write_text("x\ty\n1\t2\n")
    log = tmp_path / "logs" / "concat.log"
    log.parent.mkdir()
    log.write_text("the log of an earlier run\n")
    job = SimpleNamespace(rule="pooled_table", input=Named(str(tmp_path / "a.tsv")), output=Named(str(tmp_path / "out.tsv")),
                          params=Named(), wildcards=Named(), log=Named(str(log)))
    jobs.run("concat_tables", job)
    assert (tmp_path / "out.tsv").read_text() == "x\ty\n1\t2\n"
    assert log.read_text() == ""
    job.input = Named(str(tmp_path / "missing.tsv"))
    with pytest.raises(FileNotFoundError):
        jobs.run("concat_tables", job)
    text = log.read_text()
    assert text.startswith("Traceback (most recent call last):") and "missing.tsv" in text
    assert text.rstrip().splitlines()[-1].startswith("FileNotFoundError")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_threads(functions) -> None:
    """Run ``functions`` at once, one thread each; re-raise the first error."""
    errors = []

    def call(f):
        try:
            f()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            errors.append(err)

    threads = [threading.Thread(target=call, args=(f,)) for f in functions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def test_jobs_in_threads_write_the_bytes_and_records_of_jobs_run_one_at_a_time(tmp_path):
    data = ROOT / "data"
    specs = analysis_specs(fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text())))
    names = [n for n, s in specs.items() if not s.is_network and s.tables == ("response",)][:2]
    names += [n for n, s in specs.items() if not s.is_network and s.tables == ("hazard_ratios",)][:2]
    assert len(names) == 4

    def estimates(folder: Path, table: str):
        return lambda: estimates_step(data / "studies.tsv", data / f"{table}.tsv", table,
                                      folder / f"{table}_estimates.tsv", folder / f"estimates_{table}.json")

    def forest(folder: Path, name: str):
        def make():
            spec = specs[name].pooling_only()
            pool_step(folder / f"{spec.tables[0]}_estimates.tsv", spec, folder / f"{name}_studies.tsv",
                      folder / f"{name}_pooled.tsv")
            forest_step(folder / f"{name}_studies.tsv", folder / f"{name}_pooled.tsv",
                        [folder / f"forest_{name}.svg"], "jama", specs[name].forest_sort)
        return make

    one, many = tmp_path / "one_at_a_time", tmp_path / "threads"
    for folder in (one, many):
        folder.mkdir()
    for table in ("response", "hazard_ratios"):
        estimates(one, table)()
    for name in names:
        forest(one, name)()
    run_threads([estimates(many, table) for table in ("response", "hazard_ratios")])
    run_threads([forest(many, name) for name in names])
    made = sorted(p.name for p in one.iterdir())
    assert made == sorted(p.name for p in many.iterdir()) and len(made) == 4 + 4 * 3
    for name in made:
        assert sha256(one / name) == sha256(many / name), name
    # each estimates job recorded only the tables it read, though the two ran at once
    for table in ("response", "hazard_ratios"):
        record = json.loads((many / f"estimates_{table}.json").read_text())
        assert {Path(p).name for p in record} == {"studies.tsv", f"{table}.tsv", "vocabulary.yaml"}
