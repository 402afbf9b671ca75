"""The default workflow on a real SLURM cluster, through profiles/slurm, equals the local run byte for byte.

Needs a running SLURM and snakemake-executor-plugin-slurm (pip install -e ".[cluster]"), so it runs only
when asked: ``make test-cluster`` installs Debian's SLURM and munge (root), starts a single-node cluster
with tests/cluster/slurm.sh, and runs ``METAPOOL_TEST_SLURM=1 pytest -m cluster``. Otherwise it is skipped.

Every job goes through sbatch: the test reads SLURM's own record of each job (the job completion log of
the test cluster, jobcomp/filetxt) and checks that each job Snakemake submitted ran to COMPLETED in the
workflow's folder, and that the jobs were grouped as the rules' ``group:`` says (one cluster job per
analysis: pool + forest; one for the extraction steps; one for the pooled table + report).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, all_figure_formats, copy_workflow
from test_determinism import assert_same_files, checksums

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        os.environ.get("METAPOOL_TEST_SLURM") != "1",
        reason="cluster test not requested: `make test-cluster` (root; installs SLURM) runs it, "
               "or METAPOOL_TEST_SLURM=1 with a cluster started by tests/cluster/slurm.sh",
    ),
]

SLURM_DIR = Path(os.environ.get("METAPOOL_SLURM_DIR", "/tmp/metapool-slurm"))
SITE_PROFILE = ROOT / "tests" / "cluster" / "profile"
# Poll SLURM every 2 s (the profile's 10 s suits a shared cluster; the test's jobs take seconds).
FAST_POLLING = ("--seconds-between-status-checks", "2", "--slurm-init-seconds-before-status-checks", "2")


def slurm_env() -> dict[str, str]:
    return {**os.environ, "SLURM_CONF": os.environ.get("SLURM_CONF", str(SLURM_DIR / "conf" / "slurm.conf"))}


def slurm(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, env=slurm_env(), timeout=60)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
    return proc.stdout


def slurm_config() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in slurm("scontrol", "show", "config").splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def job_records(path: Path) -> dict[str, dict[str, str]]:
    """jobcomp/filetxt lines (``Key=Value`` separated by spaces), by JobId."""
    records = {}
    for line in path.read_text().splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        records[fields["JobId"]] = fields
    return records


@pytest.fixture(scope="module")
def cluster() -> dict[str, str]:
    """The running test cluster's configuration; fails (not skips) when asked for but not usable."""
    assert importlib.util.find_spec("snakemake_executor_plugin_slurm"), \
        'snakemake-executor-plugin-slurm missing: pip install -e ".[test,cluster]"'
    assert shutil.which("sbatch"), "no sbatch: tests/cluster/slurm.sh install (root)"
    states = slurm("sinfo", "-h", "-o", "%T").split()
    assert states and set(states) <= {"idle", "mixed", "allocated"}, f"cluster not up ({states}): tests/cluster/slurm.sh start"
    config = slurm_config()
    assert config["JobCompType"] == "jobcomp/filetxt", "the test cluster records finished jobs with jobcomp/filetxt"
    return config


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    workdir = all_figure_formats(copy_workflow(tmp_path_factory.mktemp("slurm")))
    shutil.copytree(ROOT / "profiles", workdir / "profiles")
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--workflow-profile", "profiles/slurm", "--profile", str(SITE_PROFILE),
         *FAST_POLLING],
        cwd=workdir, capture_output=True, text=True, env=slurm_env(), timeout=1800,
    )
    log = proc.stdout + proc.stderr
    if proc.returncode != 0:
        slurm_logs = "\n".join(p.read_text()[-2000:] for p in (workdir / ".snakemake/slurm_logs").rglob("*.log"))
        pytest.fail(f"snakemake through SLURM failed:\n{log[-5000:]}\nSLURM job logs:\n{slurm_logs[-5000:]}")
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", log)
    return workdir, log, job_ids


def test_every_job_went_through_sbatch_and_completed(cluster, slurm_run):
    workdir, log, job_ids = slurm_run
    assert "Using profile" in log and "workflow specific profile profiles/slurm" in log
    assert job_ids and len(set(job_ids)) == len(job_ids)
    records = job_records(Path(cluster["JobCompLoc"]))
    for job_id in job_ids:
        record = records.get(job_id)
        assert record, f"SLURM has no record of job {job_id}"
        assert record["JobState"] == "COMPLETED", record
        assert record["WorkDir"] == str(workdir), record
        assert record["Partition"] == "main", record  # profiles/slurm's slurm_partition
        assert record["NodeList"] == "localhost", record
    # SLURM ran nothing else in this folder
    assert {j for j, r in records.items() if r["WorkDir"] == str(workdir)} == set(job_ids)


def test_one_cluster_job_per_analysis(workflow_run, slurm_run):
    workdir, _, job_ids = slurm_run
    analyses = sorted(p.name for p in (workflow_run / "results" / "default" / "analyses").iterdir())
    # + the extraction group + the summary group (pooled table, summary of findings, workbook, report) + the summary
    # tables (in the summary group too, but connected to none of its jobs, so Snakemake submits it on its own)
    assert len(job_ids) == len(analyses) + 3
    # a group job's log folder is named after the group and the rules it ran (cut short with "..." when long)
    logs = {d.name: sorted(d.glob("*.log")) for d in (workdir / ".snakemake" / "slurm_logs").iterdir()}
    per_analysis = [log for name, files in logs.items() if name.startswith("group_analysis_") for log in files]
    assert {name: len(files) for name, files in logs.items() if not name.startswith("group_analysis_")} == {
        "group_extract_audit_estimates_studies_table": 1,
        "group_summary_pooled_table_report_summary_of_findings_workbook": 1,
        "group_summary_summary_tables": 1,
    }
    assert len(per_analysis) == len(analyses)
    for log in per_analysis:  # every analysis job pools, draws its forest plot and its study flow
        text = log.read_text()
        ran = {rule for rule in ("network", "network_figures", "pool", "forest", "flow")
               if f"rule {rule}:" in text or f"(Rule: {rule})" in text}
        # a network analysis: its tables and its figures
        assert ran in ({"network", "network_figures"}, {"pool", "forest", "flow"}), log


def test_outputs_equal_the_local_run_byte_for_byte(workflow_run, slurm_run):
    assert_same_files(checksums(slurm_run[0]), checksums(workflow_run))
