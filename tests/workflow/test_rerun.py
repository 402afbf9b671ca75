"""Rerun triggers per layer of the engine: each job's params carry the checksums of the layers of metapool it
imports (workflow/rules/common.smk, ``engine_code``), and the schemas are inputs of the jobs that read them.

The workflow is copied and run once, with the copy's own metapool imported (PYTHONPATH: the copy's workflow/
folder, so that editing the copy's files is editing the engine the jobs import) and each job's imports
recorded; each test then edits one file of the copy, asks Snakemake what it would rerun (a dry run) and puts
the file back as it was, bytes and modification time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest

from conftest import copy_workflow, patch_on_import, snakemake

# Written as sitecustomize.py on the run's PYTHONPATH. The jobs run in threads of the Snakemake process (the batch
# jobs in processes of their own), which import each module once, so a job's imports are not what sys.modules
# gains while it runs. Instead, every import statement a job's thread executes is recorded (builtins.__import__,
# also for modules imported before), and closed over the module-level imports of the metapool modules it names
# (read from their source): the metapool files the job's code loads, whichever job loaded them first. When the job
# ends, those files and the layers its trigger names (its `engine` param) go to METAPOOL_IMPORTS_DIR, one file per
# job.
RECORDER = '''
import ast, builtins, importlib.abc, importlib.util, itertools, json, os, sys, threading

_local = threading.local()
_lock = threading.Lock()  # ast.parse is not safe in two threads at once (Python 3.11)
_parsed = {}
_import = builtins.__import__
_count = itertools.count()


def _absolute(name, globals, fromlist, level):
    base = name
    if level:
        package = (globals or {}).get("__package__") or ""
        base = importlib.util.resolve_name("." * level + name, package)
    return [base] + [f"{base}.{item}" for item in fromlist or () if item != "*"]


def _recording_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = _import(name, globals, locals, fromlist, level)
    names = getattr(_local, "names", None)
    if names is not None:
        names.update(n for n in _absolute(name, globals, fromlist, level) if n.split(".")[0] == "metapool")
    return module


builtins.__import__ = _recording_import


def _spec(name):
    """The spec of the module ``name``; None when it is not a module (``from m import function``)."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _module_imports(name):
    """The metapool modules the module-level statements of ``name`` import (its parents' too)."""
    spec = _spec(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return set()
    package = name if spec.origin.endswith("__init__.py") else name.rpartition(".")[0]
    found = {name.rpartition(".")[0]} if "." in name else set()
    with _lock:
        if spec.origin not in _parsed:
            _parsed[spec.origin] = ast.parse(open(spec.origin, encoding="utf-8").read())
        tree = _parsed[spec.origin]
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.update(_absolute(node.module or "", {"__package__": package}, [a.name for a in node.names],
                                   node.level))
    return {n for n in found if n.split(".")[0] == "metapool" and _spec(n) is not None}


def _closure(names):
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen or _spec(name) is None:
            continue
        seen.add(name)
        todo.extend(_module_imports(name) - seen)
    return seen


def _patch(jobs):
    run = jobs.run

    def recorded_run(name, job):
        _local.names = set()
        try:
            return run(name, job)
        finally:
            names, _local.names = _local.names, None
            root = os.path.dirname(sys.modules["metapool"].__file__)
            files = sorted({os.path.relpath(_spec(n).origin, root) for n in _closure(names)})
            path = os.path.join(os.environ["METAPOOL_IMPORTS_DIR"], f"{job.rule}-{os.getpid()}-{next(_count)}.json")
            with open(path, "w") as out:
                json.dump({"rule": job.rule, "engine": job.params.engine, "files": files}, out)

    jobs.run = recorded_run
''' + patch_on_import("metapool.jobs")

# the jobs that compute the numbers: none of them draws or writes prose
POOLING_RULES = {"estimates", "studies_table", "audit", "pool", "pooled_table", "multiverse", "network"}


class Run:
    """A copy of the workflow, run once, and the environment its jobs ran in."""

    def __init__(self, base: Path, name: str):
        self.workdir = base / name
        self.imports = base / f"{name}_imports"
        self.imports.mkdir()
        self.env = {"PYTHONPATH": os.pathsep.join([str(self.workdir / "workflow"), str(base / "recorder")]),
                    "METAPOOL_IMPORTS_DIR": str(self.imports)}
        self.package = self.workdir / "workflow" / "metapool"

    def snakemake(self, *args: str):
        return snakemake(self.workdir, *args, env=self.env)

    def scheduled(self, *args: str) -> list[tuple[str, dict]]:
        return scheduled(self.workdir, *args, env=self.env)

    def records(self) -> list[dict]:
        return [json.loads(path.read_text()) for path in sorted(self.imports.glob("*.json"))]


def scheduled(workdir: Path, *args: str, env: dict | None = None) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a dry run in ``workdir`` schedules, the target rule `all` left out (--verbose:
    the console names each job's rule and wildcards)."""
    proc = snakemake(workdir, "--dry-run", "--verbose", *args, env=env)
    jobs = []
    for line in (proc.stdout + proc.stderr).splitlines():
        if match := re.match(r"\s*(?:local)?rule (\w+):$", line):
            jobs.append((match.group(1), {}))
        elif (match := re.match(r"\s*wildcards: (.*)$", line)) and jobs:
            jobs[-1][1].update(item.split("=", 1) for item in match.group(1).split(", "))
    return [(rule, wildcards) for rule, wildcards in jobs if rule != "all"]


def layer(relative: str) -> str:
    """The layer of a file of the package (as common.smk's layer_checksums counts it)."""
    parts = Path(relative).parts
    return parts[0] if len(parts) > 1 else "shared"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    base = tmp_path_factory.mktemp("rerun")
    (base / "recorder").mkdir()
    (base / "recorder" / "sitecustomize.py").write_text(RECORDER)
    copied = Run(base, "workflow")
    copy_workflow(copied.workdir)
    copied.snakemake()
    return copied


@contextlib.contextmanager
def edited(path: Path, pattern: str, replacement: str):
    """``path`` with the first match of ``pattern`` replaced, then restored: bytes and modification time (a
    schema or the template is an input, whose time Snakemake compares with its outputs')."""
    before, stat = path.read_bytes(), path.stat()
    text, n = re.subn(pattern, replacement, before.decode(), count=1)
    assert n == 1, f"{path}: nothing matches {pattern!r}"
    path.write_text(text)
    try:
        yield
    finally:
        path.write_bytes(before)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def first_file(folder: Path, pattern: str) -> Path:
    """The first Python file of ``folder`` (sorted) in which ``pattern`` matches."""
    for path in sorted(folder.rglob("*.py")):
        if re.search(pattern, path.read_text()):
            return path
    raise AssertionError(f"nothing in {folder} matches {pattern!r}")


def rules(jobs) -> set[str]:
    return {rule for rule, _ in jobs}


def test_nothing_to_rerun_after_the_run(run):
    assert run.scheduled() == []


def test_every_job_names_each_layer_it_imports_and_no_other(run):
    every_rule = rules(run.scheduled("--forceall"))
    imported, declared = {}, {}
    for record in run.records():
        imported.setdefault(record["rule"], set()).update(layer(f) for f in record["files"])
        declared.setdefault(record["rule"], set()).add(frozenset(x.split(":")[0] for x in record["engine"].split()))
    assert set(imported) == every_rule, "every rule of the workflow ran a metapool step"
    for rule, layers in imported.items():
        (names,) = declared[rule]  # one trigger for the rule's jobs
        assert layers <= names, f"{rule} imports {sorted(layers - names)} but is not rerun when they change"
        assert names <= layers, f"{rule} is rerun when {sorted(names - layers)} change, which it does not import"


def test_the_batch_job_names_each_layer_it_imports(run):
    """`analyses_per_job` > 1 (another copy of the run, so that the rule producing the analyses' tables of this
    module's run does not change): the one job that pools, refits and runs the multiverse of several analyses."""
    batch = Run(run.workdir.parent, "batch")
    shutil.copytree(run.workdir, batch.workdir, symlinks=True)
    target = next(batch.workdir.glob("results/default/analyses/*/pooled.tsv")).relative_to(batch.workdir)
    batch.snakemake("--config", "analyses_per_job=100", "--force", str(target))
    (record,) = [r for r in batch.records() if r["rule"] == "analyses_batch_1"]
    layers = {layer(f) for f in record["files"]}
    assert layers == {x.split(":")[0] for x in record["engine"].split()}


def test_rewording_the_report_reruns_the_report_workbook_and_summary_tables_only(run):
    """A sentence of the report's prose: the report, the workbook and the summary tables jobs import the reporting
    layer."""
    sentence = r'(return \(?)"([A-Z][^"{}]*\.)"'
    with edited(first_file(run.package / "reporting", sentence), sentence, r'\1"Note: \2"'):
        assert rules(run.scheduled()) == {"report", "workbook", "summary_tables"}


def test_rewording_the_template_reruns_the_report_only(run):
    with edited(run.workdir / "workflow" / "report" / "report.html.j2", r"<p>([A-Z])", r"<p>Note: \1"):
        assert rules(run.scheduled()) == {"report"}


def test_recolouring_a_figure_reruns_no_pooling(run):
    colour = r'"#[0-9a-fA-F]{6}"'
    with edited(first_file(run.package / "figures", colour), colour, '"#123456"'):
        jobs = run.scheduled()
    assert not rules(jobs) & POOLING_RULES
    assert not {rule for rule in rules(jobs) if rule.startswith("sensitivity")}
    # the pairwise analyses (a network analysis has no pooled.tsv: its figures are network_figures jobs)
    analyses = sorted(p.parent.name for p in (run.workdir / "results" / "default" / "analyses").glob("*/pooled.tsv"))
    assert sorted(w["analysis"] for rule, w in jobs if rule == "forest") == analyses
    networks = sorted(p.name for p in (run.workdir / "results" / "default" / "analyses").iterdir()
                      if not (p / "pooled.tsv").exists())
    assert sorted(w["network"] for rule, w in jobs if rule == "network_figures") == networks
    assert "report" in rules(jobs)


def test_a_tau2_estimator_reruns_every_pooling_job(run):
    with edited(run.package / "stats" / "tau2.py", r"\Z", "\n# a comment changes the bytes of the stats layer\n"):
        jobs = run.scheduled()
    analyses = sorted(p.parent.name for p in (run.workdir / "results" / "default" / "analyses").glob("*/pooled.tsv"))
    assert sorted(w["analysis"] for rule, w in jobs if rule == "pool") == analyses
    assert rules(jobs) == rules(run.scheduled("--forceall")), "every job imports the stats layer"


def test_a_table_schema_reruns_the_estimates_of_that_table(run):
    schema = run.package / "schemas" / "response.schema.yaml"
    with edited(schema, r"\Z", "\n# a comment changes the schema's bytes\n"):
        jobs = run.scheduled()
    assert [w["table"] for rule, w in jobs if rule == "estimates"] == ["response"]
    analyses = list((run.workdir / "results" / "default" / "analyses").iterdir())
    assert 0 < Counter(rule for rule, _ in jobs)["pool"] < len(analyses), "the ORR analyses only"
