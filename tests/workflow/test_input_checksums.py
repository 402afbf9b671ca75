"""Results always match their inputs (issue #22): a data table edited while the job reading it runs, or edited with
its modification time set back, reruns every job that depends on it; each job records the SHA-256 of the bytes it
parsed (results/<plan>/inputs/<job>.json) and the report's provenance lists those, saying plainly when a file on disk
differs.

The edit during a job is deterministic, not a race: a sitecustomize.py first on the PYTHONPATH of the run wraps the
engine's reader of data files (metapool.inputs.read_input) so that, in the estimates job of survival.tsv and right
after that job has read the file, it overwrites survival.tsv with the edited table. Nothing in the workflow knows of
the hook. The module runs the workflow three times and a rerun: a clean run on the edited table (the reference), the
hooked run, its rerun, and a rerun after an edit with an old modification time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, copy_workflow, patch_on_import, snakemake
from test_determinism import assert_same_files, checksums
from test_rerun import rules, scheduled
from test_workflow_validation import set_cell

# Written as sitecustomize.py first on the run's PYTHONPATH: Snakemake imports it at start-up, before metapool, so the
# engine's reader is wrapped wherever it is imported (the jobs run in threads of that process); only the estimates
# job of survival.tsv edits.
HOOK = '''
import importlib.abc, importlib.util, os, shutil, sys

_edited = []


def _patch(inputs):
    read_input = inputs.read_input

    def hooked(path):
        data = read_input(path)
        # the first job to read survival.tsv (a read inside a job's record, in the job's thread; every other job
        # that reads it runs after the estimates job of survival.tsv)
        if not _edited and inputs._open_records() and os.path.basename(str(path)) == "survival.tsv":
            _edited.append(path)
            shutil.copyfile(os.environ["METAPOOL_EDITED_TABLE"], path)  # the job has these bytes; the file changes
        return data

    inputs.read_input = hooked
''' + patch_on_import("metapool.inputs")

SURVIVAL = "data/survival.tsv"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def edit_median(text: str, study_id: str, old: str, new: str) -> str:
    """``text`` of survival.tsv with the median ``old`` of the first row of ``study_id`` set to ``new``."""
    lines = text.splitlines(keepends=True)
    header = lines[0].rstrip("\n").split("\t")
    at = next(i for i, line in enumerate(lines) if line.startswith(study_id + "\t"))
    cells = lines[at].rstrip("\n").split("\t")
    assert cells[header.index("median")] == old
    cells[header.index("median")] = new
    lines[at] = "\t".join(cells) + "\n"
    return "".join(lines)


def records(workdir: Path) -> dict[str, dict[str, str]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((workdir / "results/default/inputs").glob("*.json"))}


def provenance(workdir: Path) -> str:
    html = (workdir / "results/default/report.html").read_text()
    return html[html.index('<h2 id="provenance">'):html.index('<h3>Software</h3>')]


@pytest.fixture(scope="module")
def edited_table(tmp_path_factory) -> Path:
    """survival.tsv with the median PFS of ASCEND-9 (3.7 months, in its CI 1.9-5.3) read as 3.8."""
    path = tmp_path_factory.mktemp("edited") / "survival.tsv"
    path.write_text(edit_median((ROOT / SURVIVAL).read_text(), "ASCEND9_ceritinib",
                                "3.7", "3.8"))
    return path


@pytest.fixture(scope="module")
def clean(tmp_path_factory, edited_table) -> Path:
    """A clean run on the edited table: what every run must end as."""
    workdir = copy_workflow(tmp_path_factory.mktemp("clean"))
    (workdir / SURVIVAL).write_bytes(edited_table.read_bytes())
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="module")
def hooked(tmp_path_factory, edited_table) -> dict:
    """The run during which survival.tsv is edited, right after its estimates job read it; then its rerun."""
    base = tmp_path_factory.mktemp("hooked")
    (base / "hook").mkdir()
    (base / "hook" / "sitecustomize.py").write_text(HOOK)
    workdir = copy_workflow(base / "workflow")
    original = sha256(workdir / SURVIVAL)
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(base / "hook"), os.environ.get("PYTHONPATH")])),
           "METAPOOL_EDITED_TABLE": str(edited_table)}
    snakemake(workdir, env=env)
    after_run = {"original": original, "records": records(workdir), "provenance": provenance(workdir),
                 "html": (workdir / "results/default/report.html").read_text()}
    dry = scheduled(workdir)
    snakemake(workdir)  # a plain rerun: no hook
    return {"workdir": workdir, "after_run": after_run, "scheduled": dry}


def test_the_hook_edited_the_table_after_the_job_read_it(hooked, edited_table):
    run = hooked["after_run"]
    assert sha256(hooked["workdir"] / SURVIVAL) == sha256(edited_table) != run["original"]
    # the job recorded the bytes it parsed: the table before the edit
    assert run["records"]["estimates_survival"][SURVIVAL] == run["original"]


def test_the_report_says_plainly_that_an_input_differs(hooked, edited_table):
    run = hooked["after_run"]
    sentence = (f"{SURVIVAL} on disk (SHA-256 {sha256(edited_table)}) is not the file these results were computed "
                f"from (SHA-256 {run['original']}): it changed after it was read.")
    assert "These results are out of date: an input on disk differs from what they were computed from." in run["html"]
    assert sentence in run["provenance"]
    # the provenance lists what the job read, not what is on disk
    assert f"<code>{run['original']}</code>" in run["provenance"]
    assert f"<code>{sha256(edited_table)}</code>" not in run["provenance"]


def test_the_next_run_reruns_the_jobs_that_read_the_old_table(hooked):
    scheduled = rules(hooked["scheduled"])
    assert ("estimates", {"table": "survival"}) in hooked["scheduled"]
    assert ("estimates", {"table": "response"}) not in hooked["scheduled"]
    assert {"studies_table", "pool", "network", "report"} <= scheduled


def masked_report(workdir: Path) -> str:
    """The report without what may legitimately differ between two runs of this module: the workflow's git commit
    (the checkout may get a commit between the runs); the provenance names no folder."""
    html = (workdir / "results/default/report.html").read_text()
    return re.sub(r"workflow commit: <code>[^<]*</code>", "workflow commit: <code>(masked)</code>", html)


def test_after_the_rerun_every_output_equals_a_clean_run_on_the_edited_table(hooked, clean, edited_table):
    workdir = hooked["workdir"]
    report = "results/default/report.html"
    ours, reference = checksums(workdir), checksums(clean)
    assert report in ours and report in reference
    assert_same_files({p: s for p, s in ours.items() if p != report}, {p: s for p, s in reference.items() if p != report})
    assert masked_report(workdir) == masked_report(clean)
    assert records(workdir)["estimates_survival"][SURVIVAL] == sha256(edited_table)
    text = provenance(workdir)
    assert f"<code>{sha256(edited_table)}</code>" in text
    assert "Every data file on disk is the one the results were computed from." in text
    assert hooked["after_run"]["original"] not in text


def test_an_edit_with_an_old_modification_time_reruns_its_dependants(clean):
    """response.tsv edited, then its time set back before every output's (touch -d): by the times nothing changed;
    the digest in the jobs' params says it did. Last in this module: it edits the clean run's copy."""
    table = clean / "data" / "response.tsv"
    set_cell(table, "ASCEND9_ceritinib", "location", "'an edited quote'")
    subprocess.run(["touch", "-d", "2001-01-01 00:00:00", str(table)], check=True)
    assert table.stat().st_mtime < min(p.stat().st_mtime for p in (clean / "results").rglob("*") if p.is_file())
    jobs = scheduled(clean)
    assert ("estimates", {"table": "response"}) in jobs and ("estimates", {"table": "survival"}) not in jobs
    assert {"audit", "studies_table", "pool", "report"} <= rules(jobs)
    snakemake(clean)
    assert scheduled(clean) == []
    assert "'an edited quote'" in (clean / "results/default/tables/studies.tsv").read_text()
    assert records(clean)["estimates_response"]["data/response.tsv"] == sha256(table)
    assert records(clean)["audit"]["data/response.tsv"] == sha256(table)
    assert "Every data file on disk is the one the results were computed from." in provenance(clean)
