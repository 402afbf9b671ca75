"""A run killed partway (SIGKILL to Snakemake and every job it started) and rerun gives the same files
as an uninterrupted run.

Two mechanisms make this safe. Snakemake marks the outputs of a job as incomplete in
.snakemake/incomplete/ before the job starts and clears the mark only after the job succeeded; the
workflow profile (profiles/default) sets ``rerun-incomplete``, so the rerun redoes every marked job
whatever its outputs look like. And the scripts write each output to a temporary file in the target
folder and rename it into place, so a killed job never leaves a half-written file under an output's
name; a writer killed before its rename leaves a hidden ``.<name>.<pid>.<hex>.tmp``, which the rerun of its
job removes (metapool.io.atomic_write_bytes), so that results/ ends file for file as an uninterrupted run.
Killed at three moments: during the first jobs, during a figure job and during the summary jobs.
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

from conftest import ROOT, all_figure_formats, copy_workflow, snakemake
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


SUMMARY = ("results/default/tables/pooled.tsv", "results/default/tables/results.xlsx", "results/default/report.html")

# the moment of the kill: the running jobs (their outputs marked incomplete) and the files made so far
MOMENTS = {
    "first_job": lambda marked, figures: bool(marked),
    "figure_job": lambda marked, figures: any(figures.glob("forest_*.svg")) and any(
        "/figures/" in m for m in marked),
    "summary_job": lambda marked, figures: any(m in SUMMARY for m in marked),
}


def run_and_kill(workdir: Path, moment: str, timeout: float = 600) -> set[str]:
    """Start the workflow; at ``moment`` (:data:`MOMENTS`), SIGKILL the whole process group.

    Returns the outputs marked incomplete at the moment of the kill.
    """
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2"], cwd=workdir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    figures = workdir / "results" / "default" / "figures"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"the workflow finished before it could be killed ({moment})"
            if MOMENTS[moment](incomplete_outputs(workdir), figures):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        else:
            pytest.fail(f"no {moment} within the timeout")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return incomplete_outputs(workdir)


@pytest.fixture(scope="module", params=list(MOMENTS))
def killed_and_rerun(request, tmp_path_factory):
    workdir = all_figure_formats(copy_workflow(tmp_path_factory.mktemp("crash")))
    shutil.copytree(ROOT / "profiles", workdir / "profiles")
    marked = run_and_kill(workdir, request.param)
    results = workdir / "results"
    after_kill = {str(p.relative_to(workdir)) for p in results.rglob("*") if p.is_file()}
    # Whatever state a killed job left its outputs in, the mark decides: make every marked output that
    # exists half-written (as a non-atomic writer killed mid-write would leave it), and give one marked
    # output that does not exist yet a half-written body too; and leave a temporary file of a writer killed
    # before its rename beside every marked output (what a SIGKILL between the two leaves).
    for name in sorted(marked):
        path = workdir / name
        if path.exists():
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / f".{path.name}.99999999.0badc0de.tmp").write_bytes(b"half-writ")
    absent = sorted(n for n in marked if not (workdir / n).exists())
    if absent:
        (workdir / absent[0]).write_bytes(b"half-writ")
    # A killed run leaves its lock: unlock, then rerun with the default profile (rerun-incomplete), --verbose so
    # that the console names each rescheduled job's outputs.
    snakemake(workdir, "--unlock")
    rerun = subprocess.run([sys.executable, "-m", "snakemake", "--verbose"], cwd=workdir,
                           capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, timeout=900)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    return workdir, marked, after_kill, rerun.stdout + rerun.stderr, request.param


def test_the_run_was_killed_partway(killed_and_rerun):
    workdir, marked, after_kill, _, moment = killed_and_rerun
    assert marked, "no job was running when the workflow was killed"
    assert "results/default/report.html" not in after_kill
    if moment == "figure_job":
        assert any(p.startswith("results/default/figures/forest_") for p in after_kill)
    if moment == "summary_job":
        assert any(p in SUMMARY for p in marked)


def test_rerun_redoes_the_jobs_killed_midway(killed_and_rerun):
    workdir, marked, _, log, _ = killed_and_rerun
    for name in marked:
        assert name in log, f"{name} was marked incomplete but not rescheduled"
    assert not incomplete_outputs(workdir)


def test_rerun_equals_an_uninterrupted_run_file_for_file(workflow_run, killed_and_rerun):
    """The same files with the same bytes, and no other file: the temporary files of the killed writers are
    removed by the rerun of their jobs (metapool.io.atomic_write_bytes)."""
    assert_same_files(checksums(killed_and_rerun[0]), checksums(workflow_run))


def test_nothing_left_to_do_after_the_rerun(killed_and_rerun):
    proc = snakemake(killed_and_rerun[0], "--dry-run")
    assert "Nothing to be done" in proc.stdout + proc.stderr
