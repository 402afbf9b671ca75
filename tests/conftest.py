"""Shared fixtures: a copy of the workflow in a temporary folder, run once per session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests are deterministic: the same examples on every run and machine.
settings.register_profile("deterministic", derandomize=True, print_blob=True)
settings.load_profile("deterministic")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "reference" / "fixtures"
WORKFLOW_PARTS = ("Snakefile", "config", "data", "workflow")


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def estimate_frames() -> dict:
    """The per-study estimates of data/*.tsv by extraction table (``response``, ``survival``,
    ``hazard_ratios``), as the workflow's estimates jobs compute them."""
    from metapool.analysis.estimates import hr_estimates, response_estimates, survival_estimates
    from metapool.analysis.validation import read_table, validate_tables

    paths = {t: ROOT / "data" / f"{t}.tsv" for t in ("studies", "response", "survival", "hazard_ratios")}
    tables = validate_tables(paths)
    return {
        "response": response_estimates(tables["studies"], tables["response"], 0.95),
        "survival": survival_estimates(tables["studies"], tables["survival"]),
        "hazard_ratios": hr_estimates(tables["studies"], tables["hazard_ratios"],
                                      printed=read_table(paths["hazard_ratios"], "hazard_ratios")),
    }


def copy_workflow(dest: Path) -> Path:
    """The workflow's files (not results/) copied to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def patch_on_import(module: str) -> str:
    """Source code, for a sitecustomize.py first on a run's PYTHONPATH, that calls the ``_patch(module)`` defined
    before it on ``module`` as soon as the process has imported it, from wherever it is imported (importing it in
    sitecustomize.py would fix where Snakemake's own process finds the engine)."""
    return f'''
class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "{module}":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        load = spec.loader.exec_module

        def exec_module(loaded):
            load(loaded)
            _patch(loaded)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _Finder())
'''


def all_figure_formats(workdir: Path) -> Path:
    """The copy in ``workdir`` with every figure format in its config/config.yaml (`figure_formats`; the default
    plan makes SVG only): the session's runs of the default plan use it, so that the PDF and PNG files are checked
    too (byte-identical runs, no dates, the SLURM run), and every later command in the folder reads the same plan."""
    config = workdir / "config" / "config.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "\nfigure_formats: [svg, pdf, png]\n", encoding="utf-8")
    return workdir


def snakemake(workdir: Path, *args: str, check: bool = True, env: dict | None = None,
              python: str | Path | None = None, threads: bool = True) -> subprocess.CompletedProcess:
    """Run Snakemake in ``workdir`` with this interpreter, or ``python`` (``env``: variables set on top of this
    process's), its jobs in threads of its own process as profiles/default runs them (``--force-use-threads``;
    the copies of the workflow have no profiles/), or with ``threads=False`` each in a Snakemake process of its
    own, as a module's user without that flag runs them."""
    env = {**os.environ, "PYTHONHASHSEED": "0", **(env or {})}
    in_threads = ["--force-use-threads"] if threads else []
    proc = subprocess.run(
        [str(python or sys.executable), "-m", "snakemake", "--cores", "2", *in_threads, *args],
        cwd=workdir, capture_output=True, text=True, env=env, timeout=900,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """The default workflow run once from an empty results/, in every figure format; returns its folder."""
    workdir = all_figure_formats(copy_workflow(tmp_path_factory.mktemp("workflow")))
    snakemake(workdir)
    return workdir


#: the console output (stderr, where Snakemake logs) of the session's ``profile_run``, by its folder
CONSOLE: dict[Path, str] = {}


@pytest.fixture(scope="session")
def profile_run(tmp_path_factory) -> Path:
    """The default workflow run once more, as a user runs it: plain ``snakemake`` in a folder with the workflow
    profile (profiles/default: all cores, its quiet console), and with everything that must not matter changed
    (the folder, a random PYTHONHASHSEED, the time zone, SOURCE_DATE_EPOCH); returns its folder (its console
    output: ``CONSOLE[folder]``)."""
    workdir = all_figure_formats(copy_workflow(tmp_path_factory.mktemp("profile_run")))
    shutil.copytree(ROOT / "profiles", workdir / "profiles")
    env = {**os.environ, "PYTHONHASHSEED": "random", "TZ": "Pacific/Chatham", "SOURCE_DATE_EPOCH": "1234567890"}
    proc = subprocess.run([sys.executable, "-m", "snakemake"], cwd=workdir, capture_output=True, text=True,
                          env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Using workflow specific profile profiles/default" in proc.stdout + proc.stderr
    CONSOLE[workdir] = proc.stderr
    return workdir


def default_config() -> dict:
    """config/config.yaml as the workflow reads it (defaults filled in), a new copy per call."""
    import yaml

    from metapool.analysis.config import fill_defaults

    return fill_defaults(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))


def default_tables():
    """The validated extraction tables of data/ (studies, response, survival, hazard_ratios)."""
    from metapool.analysis.validation import validate_tables

    return validate_tables({t: ROOT / "data" / f"{t}.tsv" for t in ("studies", "response", "survival", "hazard_ratios")})


def config_problems(config, tables=None) -> list[str]:
    """The problems check_config finds in ``config`` (and against ``tables``); fails when it finds none."""
    from metapool.analysis.config import ConfigError, check_config

    with pytest.raises(ConfigError) as err:
        check_config(config, tables)
    assert str(err.value) == "\n".join(err.value.problems)
    return err.value.problems
