"""The workflow deployed the way Snakemake distributes workflows: a ``module`` statement in another folder that
holds only the user's config and data, run by an environment that has Snakemake and the engine's dependencies
but not the engine (README.md, "Use as a module"); the software environment files (conda, container) agree with
pyproject.toml; both Snakefiles parse."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, copy_workflow, snakemake

import metapool

#: the user's folder: config/config.yaml, its data folder and this Snakefile, nothing of the workflow
MODULE_SNAKEFILE = """\
configfile: "config/config.yaml"


module alk:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from alk
"""

#: a review of hazard ratios only, as a reviewer brings it (tests/data/hr_only: the tables and their plan)
USER_DATA = ROOT / "tests" / "data" / "hr_only"
PLAN = "hr_only"

#: no PYTHONPATH: nothing of the workflow reaches the driving environment but what the workflow does itself
NO_WORKFLOW_PATH = {"PYTHONPATH": ""}


@pytest.fixture(scope="session")
def driving_python(tmp_path_factory) -> Path:
    """An interpreter with this environment's packages (Snakemake, numpy, pandas, ...) but not the engine: a
    fresh virtual environment whose site-packages holds one .pth line naming this environment's site-packages.
    A folder named by a .pth line is added to sys.path without running the .pth files in it, so the editable
    install of metapool (its own .pth file) is not loaded."""
    venv = tmp_path_factory.mktemp("driving") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "driving_environment.pth").write_text("".join(f"{path}\n" for path in ours))
    probe = subprocess.run([str(python), "-c", "import snakemake, numpy, pandas, jsonschema; import metapool"],
                           capture_output=True, text=True, env={**NO_WORKFLOW_PATH, "PATH": "/usr/bin:/bin"})
    if "No module named 'metapool'" not in probe.stderr:
        pytest.skip("cannot make an environment without metapool from this one (metapool installed in "
                    f"site-packages itself, not editable, or a dependency missing): {probe.stderr[-300:]}")
    return python


def user_folder(path: Path) -> Path:
    """A user's folder: config/config.yaml (the plan of tests/data/hr_only), the data folder it names
    (hr_data/) and a Snakefile with a module statement pointing at this checkout's workflow/Snakefile."""
    path.mkdir(parents=True)
    shutil.copytree(USER_DATA, path / "hr_data")
    (path / "config").mkdir()
    shutil.copy2(USER_DATA / "plan.yaml", path / "config" / "config.yaml")
    (path / "Snakefile").write_text(MODULE_SNAKEFILE.format(snakefile=ROOT / "workflow" / "Snakefile"))
    return path


@pytest.fixture(scope="module")
def checkout_pooled(tmp_path_factory) -> bytes:
    """results/hr_only/tables/pooled.tsv of the same plan run in a copy of the checkout."""
    workdir = copy_workflow(tmp_path_factory.mktemp("checkout"))
    shutil.copytree(USER_DATA, workdir / "hr_data")
    snakemake(workdir, f"results/{PLAN}/tables/pooled.tsv", "--configfile", "hr_data/plan.yaml")
    return (workdir / "results" / PLAN / "tables" / "pooled.tsv").read_bytes()


def assert_report(user: Path, checkout_pooled: bytes) -> None:
    report = (user / "results" / PLAN / "report.html").read_text()
    assert "pfs_hr_vs_crizotinib_global" in report and report.rstrip().endswith("</html>")
    assert (user / "results" / PLAN / "tables" / "pooled.tsv").read_bytes() == checkout_pooled
    # nothing of the workflow was copied into the user's folder
    assert sorted(p.name for p in user.iterdir() if not p.name.startswith(".")) == [
        "Snakefile", "config", "hr_data", "results"]


def test_module_runs_without_the_engine_installed(driving_python, tmp_path, checkout_pooled):
    """As a module's user runs it without `force-use-threads` (README.md, "Jobs run inside Snakemake"): each job in
    a Snakemake process of its own, the same pooled table as the checkout's run with its jobs in threads."""
    user = user_folder(tmp_path / "review")
    proc = snakemake(user, "--verbose", python=driving_python, env=NO_WORKFLOW_PATH, threads=False)
    assert_report(user, checkout_pooled)
    # the report job (its files printed by --verbose) read the template from the workflow's folder, not from the user's
    assert str(ROOT / "workflow" / "report" / "report.html.j2") in proc.stderr
    # a no-op rerun
    rerun = snakemake(user, "--dry-run", python=driving_python, env=NO_WORKFLOW_PATH)
    assert "Nothing to be done" in rerun.stdout + rerun.stderr


def test_missing_dependency_is_named(driving_python, tmp_path):
    """An engine dependency missing from the driving environment stops the parse with one message naming it and
    the install command, not an ImportError traceback. The module hidden (by a sitecustomize) is jsonschema,
    which the parse-time checks import: numpy and pandas are imported by Snakemake itself when the SLURM
    executor plugin is installed, as in this project's environment."""
    user = user_folder(tmp_path / "review")
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['jsonschema'] = None\n")
    proc = snakemake(user, "--dry-run", python=driving_python, env={"PYTHONPATH": str(hide)}, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "needs the Python module 'jsonschema'" in out
    assert f"-m pip install '{ROOT}'" in out
    assert "ModuleNotFoundError" not in out and not (user / "results").exists()


@pytest.mark.skipif(not (shutil.which("conda") or shutil.which("mamba")),
                    reason="--sdm conda needs conda or mamba on PATH, and this machine has neither")
def test_module_runs_with_conda(driving_python, tmp_path, checkout_pooled):
    user = user_folder(tmp_path / "review")
    snakemake(user, "--sdm", "conda", python=driving_python, env=NO_WORKFLOW_PATH)
    assert_report(user, checkout_pooled)


def test_both_snakefiles_parse(tmp_path):
    """workflow/Snakefile (the catalogue's, a module's) and the root Snakefile (which includes it) plan the same
    jobs, rule all by default."""
    workdir = copy_workflow(tmp_path / "wf")
    plans = []
    for args in ([], ["--snakefile", "workflow/Snakefile"]):
        out = snakemake(workdir, "--dry-run", *args).stdout
        jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", out, flags=re.M))
        assert jobs["all"] == "1" and int(jobs["total"]) > 20
        plans.append(jobs)
    assert plans[0] == plans[1]


def test_apptainer_without_image_says_how_to_build_it(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "--dry-run", "--sdm", "apptainer", check=False)
    image = f"metapool-{metapool.__version__}.sif"
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"no image {image}" in out and f"apptainer build {workdir / image}" in out


def requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower().replace("_", "-")


def test_software_environments_install_the_workflows_own_engine():
    """The conda environment has every dependency of pyproject.toml but Snakemake (the jobs take it from the
    environment that runs Snakemake), names no path (Snakemake creates it from a copy under .snakemake/conda),
    and its post-deploy script installs the engine from METAPOOL_SOURCE, which the workflow sets; the Dockerfile
    installs pyproject.toml with every file it names, and its build command tags the engine's version."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    required = {requirement_name(r) for r in project["dependencies"]} - {"snakemake"}

    env_file = ROOT / "workflow" / "envs" / "metapool.yaml"
    env = yaml.safe_load(env_file.read_text())
    conda = {requirement_name(d) for d in env["dependencies"] if isinstance(d, str)}
    assert required <= conda, required - conda
    assert all(isinstance(d, str) for d in env["dependencies"]), "no pip section: the engine comes from post-deploy"
    assert "../" not in env_file.read_text().split("channels:")[1]

    post_deploy = (env_file.parent / "metapool.post-deploy.sh").read_text()
    assert 'pip install --no-deps --no-build-isolation --editable "$source"' in post_deploy
    assert 'source="${METAPOOL_SOURCE:?' in post_deploy
    assert 'os.environ.setdefault("METAPOOL_SOURCE", ENGINE_SOURCE)' in (
        ROOT / "workflow" / "rules" / "engine.smk").read_text()
    # every rule names this environment
    for rules in (ROOT / "workflow" / "rules").glob("*.smk"):
        for conda_env in re.findall(r"conda:\s*\n\s*\"([^\"]+)\"", rules.read_text()):
            assert conda_env == "../envs/metapool.yaml", rules

    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = {part for line in re.findall(r"^COPY (.+) \S+$", dockerfile, flags=re.M) for part in line.split()}
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"][""]
    assert {"pyproject.toml", project["readme"], *project["license-files"], f"{package_dir}/metapool"} <= copied
    assert "RUN python -m pip install --no-cache-dir . " in dockerfile
    version = metapool.__version__
    assert f"docker build -t metapool:{version} ." in dockerfile
    assert f"apptainer build metapool-{version}.sif docker-daemon://metapool:{version}" in dockerfile
