"""The console of a run with the default profile (profiles/default): one line per job naming what it does and
for which analysis, the progress count, nothing of each job's file lists; --verbose prints them again."""

from __future__ import annotations

import re

from conftest import CONSOLE, snakemake

PROGRESS = re.compile(r"^(\d+) of (\d+) steps \(\d+%\) done$", re.M)
JOB = re.compile(r"^Job \d+: (.+)$", re.M)


def test_a_cold_run_prints_a_line_per_job_and_the_progress_count(profile_run):
    console = CONSOLE[profile_run]
    counts = [(int(done), int(total)) for done, total in PROGRESS.findall(console)]
    total = counts[-1][1]
    assert counts[-1] == (total, total) and [done for done, _ in counts] == list(range(1, total + 1))
    # every job says what it does in one line
    said = JOB.findall(console)
    assert len(said) == total and said[-1] == "every output of the plan"
    for analysis in sorted(p.name for p in (profile_run / "results/default/analyses").iterdir()):
        assert any(line in (f"pooling {analysis}", f"network meta-analysis {analysis}") for line in said), analysis
    assert "forest plot of orr_post_second_gen" in said and "pooling orr_post_second_gen" in said
    # no file lists, wildcards or reasons; a few short lines per job
    assert not re.search(r"^\s+(input|output|log|wildcards|reason|resources): ", console, re.M)
    assert "Reason:" not in console
    assert len(console.splitlines()) <= 10 * total and len(console) <= 600 * total


def test_a_no_op_rerun_prints_a_few_lines_and_verbose_prints_the_files(profile_run):
    noop = snakemake(profile_run).stderr
    assert "Nothing to be done" in noop and len(noop.splitlines()) <= 5
    proc = snakemake(profile_run, "--dry-run", "--verbose", "--forcerun", "report")
    verbose = proc.stdout + proc.stderr
    assert re.search(r"^\s+rule report:|^rule report:", verbose, re.M)
    assert re.search(r"^\s+output: results/default/report\.html$", verbose, re.M)
    assert not JOB.search(verbose)
