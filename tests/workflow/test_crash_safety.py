"""A run killed partway (SIGKILL to Snakemake and every job it started) and rerun gives the same files
as an uninterrupted run.

Two mechanisms make this safe. Snakemake marks the outputs of a job as incomplete in
.snakemake/incomplete/ before the job starts and clears the mark only after the job succeeded; the
workflow profile (profiles/default) sets ``rerun-incomplete``, so the rerun redoes every marked job
whatever its outputs look like. And the scripts write each output to a temporary file in the target
folder and rename it into place, so a killed job never leaves a half-written file under an output's
name (a killed writer can leave a hidden ``.<name>.*`` temporary file, which no rule reads).
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, copy_workflow, snakemake
from test_determinism import assert_same_files, checksums


def incomplete_outputs(workdir: Path) -> set[str]:
    """Outputs Snakemake has marked incomplete (markers are named by the base64 of the output path)."""
    marks = workdir / ".snakemake" / "incomplete"
    out = set()
    for path in marks.rglob("*"):
        if path.is_file() and path.name != "migration_underway":
            b64 = "".join(part.lstrip("@") for part in path.relative_to(marks).parts)
            out.add(base64.urlsafe_b64decode(b64).decode())
    return out


def run_and_kill(workdir: Path, timeout: float = 600) -> set[str]:
    """Start the workflow; once a forest plot exists and jobs are running, SIGKILL the whole process group.

    Returns the outputs marked incomplete at the moment of the kill.
    """
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    figures = workdir / "results" / "default" / "figures"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "the workflow finished before it could be killed"
            if any(figures.glob("forest_*.svg")) and incomplete_outputs(workdir):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.02)
        else:
            pytest.fail("no forest plot within the timeout")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return incomplete_outputs(workdir)


@pytest.fixture(scope="module")
def killed_and_rerun(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("crash"))
    shutil.copytree(ROOT / "profiles", workdir / "profiles")
    marked = run_and_kill(workdir)
    results = workdir / "results"
    after_kill = {str(p.relative_to(workdir)) for p in results.rglob("*") if p.is_file()}
    # Whatever state a killed job left its outputs in, the mark decides: make every marked output that
    # exists half-written (as a non-atomic writer killed mid-write would leave it), and give one marked
    # output that does not exist yet a half-written body too.
    for name in sorted(marked):
        path = workdir / name
        if path.exists():
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
    absent = sorted(n for n in marked if not (workdir / n).exists())
    if absent:
        (workdir / absent[0]).parent.mkdir(parents=True, exist_ok=True)
        (workdir / absent[0]).write_bytes(b"half-writ")
    # A killed run leaves its lock: unlock, then rerun with the default profile (rerun-incomplete).
    snakemake(workdir, "--unlock")
    rerun = subprocess.run([sys.executable, "-m", "snakemake"], cwd=workdir, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    return workdir, marked, after_kill, rerun.stdout + rerun.stderr


def test_the_run_was_killed_partway(killed_and_rerun):
    workdir, marked, after_kill, _ = killed_and_rerun
    assert marked, "no job was running when the workflow was killed"
    assert "results/default/report.html" not in after_kill
    assert any(p.startswith("results/default/figures/forest_") for p in after_kill)


def test_rerun_redoes_the_jobs_killed_midway(killed_and_rerun):
    workdir, marked, _, log = killed_and_rerun
    for name in marked:
        assert name in log, f"{name} was marked incomplete but not rescheduled"
    assert not incomplete_outputs(workdir)


def test_rerun_equals_an_uninterrupted_run(workflow_run, killed_and_rerun):
    workdir = killed_and_rerun[0]
    ours = checksums(workdir)
    # hidden temporary files of writers killed before their rename are the only extra files allowed
    leftovers = {p for p in ours if Path(p).name.startswith(".")}
    assert all(p not in checksums(workflow_run) for p in leftovers)
    assert_same_files({p: h for p, h in ours.items() if p not in leftovers}, checksums(workflow_run))


def test_nothing_left_to_do_after_the_rerun(killed_and_rerun):
    proc = snakemake(killed_and_rerun[0], "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr
