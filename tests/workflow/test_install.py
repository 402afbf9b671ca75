"""The package installed normally (a wheel, not the editable install): it carries its schemas as package data,
and its own functions check the default config and the data tables from inside a fresh environment.

Offline: the wheel is built without build isolation (the build backend of pyproject.toml must be installed in
this interpreter: the ``test`` extra installs it), and the fresh environment borrows this interpreter's
site-packages for the dependencies (PYTHONPATH: a .pth file there, such as the editable install's, is not
read, so ``metapool`` resolves to the installed wheel; the test checks that it does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT

SCHEMAS = {"config", "studies", "response", "survival", "hazard_ratios", "vocabulary"}
# what `pip install .` needs from a checkout: not the results, caches, environments or earlier builds
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", ".snakemake", "results", "build", "dist", "__pycache__",
                                     "*.egg-info", ".pytest_cache", ".hypothesis")

# run by the installed interpreter: the package's own checks of the default config and of data/*.tsv
CHECK = r"""
import json, sys
from pathlib import Path

import yaml

import metapool
from metapool.analysis.config import SCHEMA_PATH, ConfigError, check_config, data_problems, fill_defaults
from metapool.analysis.validation import SCHEMA_DIR, validate_tables
from metapool.vocabulary import EXTRACTION_TABLES

root = Path(sys.argv[1])
config = fill_defaults(yaml.safe_load((root / "config" / "config.yaml").read_text(encoding="utf-8")))
specs = check_config(config)
tables = validate_tables({table: root / config["data_dir"] / f"{table}.tsv" for table in EXTRACTION_TABLES})
try:  # outside the schema's bounds: refused only if the schema was read
    check_config({**config, "study_level": 2})
    refused = ""
except ConfigError as err:
    refused = str(err)
print(json.dumps({
    "metapool": metapool.__file__, "schema": str(SCHEMA_PATH), "schema_dir": str(SCHEMA_DIR),
    "analyses": list(specs), "rows": {table: len(frame) for table, frame in tables.items()},
    "problems": data_problems(specs, tables, config["data_dir"]), "refused": refused,
}))
"""


def backend_problem() -> str | None:
    """Why this interpreter cannot build the wheel offline (None when it can): the build backend that
    pyproject.toml requires, missing or too old."""
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    for requirement in map(Requirement, requires):
        try:
            version = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            return f"{requirement.name} is not installed"
        if not requirement.specifier.contains(version, prereleases=True):
            return f"{requirement.name} {version} is installed, pyproject.toml builds with {requirement}"
    return None


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A wheel built from a copy of the checkout, installed into a fresh virtual environment; returns the
    wheel, the environment and what the installed package's checks said (json)."""
    if problem := backend_problem():
        message = f"cannot build the wheel offline: {problem} (pip install -e '.[test]' installs the backend)"
        if os.environ.get("CI"):  # CI installs the test extra: a skip there would hide the test
            pytest.fail(message)
        pytest.skip(message)
    tmp = tmp_path_factory.mktemp("install")
    # a copy: setuptools writes build/ and an .egg-info beside the sources it builds
    source = shutil.copytree(ROOT, tmp / "source", ignore=NOT_SOURCES)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--wheel-dir", tmp / "dist", source)
    (wheel,) = (tmp / "dist").glob("metapool-*.whl")
    fresh = tmp / "fresh"
    run(sys.executable, "-m", "venv", "--without-pip", fresh)
    python = fresh / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel)
    dependencies = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(dependencies)}
    # run from elsewhere than the checkout, with the data of the checkout
    out = run(python, "-c", CHECK, ROOT, cwd=tmp, env=env).stdout
    return wheel, fresh, json.loads(out.splitlines()[-1])


def test_the_wheel_carries_every_schema(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"metapool/schemas/{name}.schema.yaml" for name in SCHEMAS} <= names
    assert "metapool/schemas/alk.vocabulary.yaml" in names  # the vocabulary of a data folder without one


def test_the_installed_copy_is_the_one_imported(installed):
    _, fresh, said = installed
    for key in ("metapool", "schema", "schema_dir"):
        path = Path(said[key]).resolve()
        assert path.is_relative_to(fresh.resolve()), f"{key}: {path} is not in the fresh environment"
        assert not path.is_relative_to(ROOT), f"{key}: {path} is the checkout's"
    assert Path(said["schema"]).is_file()


def test_the_installed_package_checks_the_default_config_and_the_data(installed):
    _, _, said = installed
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text(encoding="utf-8"))
    assert said["analyses"] == list(config["analyses"])
    assert said["problems"] == []
    assert set(said["rows"]) == {"studies", "response", "survival", "hazard_ratios"}
    assert all(said["rows"].values())
    assert "config: study_level: 2 must be < 1" in said["refused"]
