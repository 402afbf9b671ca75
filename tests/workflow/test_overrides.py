"""Every `--config` override config/README.md documents changes what it says it changes, and reruns only that.

The overrides are read from the table of config/README.md (section "Overrides"): each row names the override,
what changes and what reruns. Each is tried on a copy of the session's default run (``workflow_run``, copied with its
Snakemake records, so nothing is recomputed to start from): a dry run lists the jobs it reruns, a run the numbers
it changes. A README override without a check here fails the test, so the README cannot promise more than is
tested.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
from pathlib import Path

import pytest

from metapool.io import read_tsv

from conftest import ROOT, snakemake

TEXT = ["analysis", "title", "outcome", "measure", "method", "ci_method", "pi_method", "transform", "report_policy",
        "subgroup", "comparator", "status", "study_id", "label", "reason", "se_note", "note"]


def readme_overrides() -> list[str]:
    """The `--config ...` of each row of the README's overrides table, in order."""
    text = (ROOT / "config" / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Overrides"):]
    section = section[:section.index("\n#", 1)]
    return re.findall(r"^\| `--config (.+?)` \|", section, flags=re.MULTILINE)


def config_args(override: str) -> list[str]:
    return ["--config", *shlex.split(override)]


@pytest.fixture()
def run_copy(workflow_run, tmp_path) -> Path:
    """A copy of the default run: its files, outputs and Snakemake's records (mtimes kept)."""
    dest = tmp_path / "run"
    shutil.copytree(workflow_run, dest, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return dest


def rerun_rules(workdir: Path, *args: str) -> dict[str, int]:
    """Rule -> number of jobs a dry run schedules."""
    out = snakemake(workdir, "--dry-run", "--quiet", "rules", *args).stdout
    jobs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            jobs[parts[0]] = int(parts[1])
    return jobs


def checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.relative_to(folder).parts[0] != "logs"}


def pooled(folder: Path):
    return read_tsv(folder / "tables" / "pooled.tsv", text_columns=TEXT).set_index("analysis")


ANALYSIS_RULES = {"pool", "pooled_table", "forest", "funnel", "leave_one_out_plot", "flow", "multiverse",
                  "risk_of_bias_figures", "spec_curve", "network", "network_figures", "workbook", "summary_tables",
                  "sequential", "summary_of_findings", "report", "all"}


def assert_analysis_rules(jobs: dict[str, int]) -> None:
    """Every job of every analysis reruns: the rules above and the sensitivity rules (one per set of tables,
    named sensitivity_...), nothing of the extraction."""
    sensitivity = {r for r in jobs if r.startswith("sensitivity")}
    assert sensitivity and set(jobs) - sensitivity == ANALYSIS_RULES, jobs


def _study_level(workdir: Path, before: Path, jobs: dict[str, int]) -> None:
    assert set(jobs) == {"studies_table", "workbook", "report", "all"}, jobs
    snakemake(workdir, "--config", "study_level=0.9")
    out = workdir / "results" / "default"
    studies = read_tsv(out / "tables" / "studies.tsv", text_columns=TEXT)
    was = read_tsv(before / "tables" / "studies.tsv", text_columns=TEXT)
    exact = (studies["measure"] == "proportion") & studies["events"].notna() & studies["n"].notna()
    assert exact.sum() > 10
    assert set(studies.loc[exact, "ci_level"]) == {0.9}
    width = (studies["ci_upper"] - studies["ci_lower"])[exact]
    assert (width < (was["ci_upper"] - was["ci_lower"])[exact]).all()
    assert (out / "tables" / "pooled.tsv").read_bytes() == (before / "tables" / "pooled.tsv").read_bytes()


def _pooled_level(workdir: Path, before: Path, jobs: dict[str, int]) -> None:
    assert_analysis_rules(jobs)
    assert jobs["pool"] == len(pooled(before))
    snakemake(workdir, *config_args("'defaults={level: 0.9}'"))
    out = workdir / "results" / "default"
    now, was = pooled(out), pooled(before)
    assert set(now["level"]) == {0.9} and set(was["level"]) == {0.95}
    # every analysis with an overall estimate (those with overall: false show none in pooled.tsv)
    has_ci = was["ci_upper"].notna()
    assert has_ci.sum() == (was["overall"].astype(str) == "True").sum() > 0
    assert has_ci.equals(now["ci_upper"].notna())
    assert ((now["ci_upper"] - now["ci_lower"]) < (was["ci_upper"] - was["ci_lower"]))[has_ci].all()
    assert (now["estimate"] - was["estimate"])[has_ci].abs().max() < 1e-12
    studies = read_tsv(out / "analyses" / "orr_tki_naive" / "studies.tsv", text_columns=TEXT)
    assert set(studies["ci_level"].dropna()) == {0.9}
    assert (out / "figures" / "forest_orr_tki_naive.svg").read_bytes() != \
        (before / "figures" / "forest_orr_tki_naive.svg").read_bytes()
    assert "90% CI" in (out / "report.html").read_text() and "90% CI" not in (before / "report.html").read_text()
    assert (out / "tables" / "studies.tsv").read_bytes() == (before / "tables" / "studies.tsv").read_bytes()


def _method(workdir: Path, before: Path, jobs: dict[str, int]) -> None:
    assert_analysis_rules(jobs)
    snakemake(workdir, *config_args("'defaults={method: DL}'"))
    now, was = pooled(workdir / "results" / "default"), pooled(before)
    assert set(now["method"]) == {"DL"} and set(was["method"]) == {"REML"}
    assert (now["tau2"] - was["tau2"]).abs().max() > 1e-6


def _analyses_per_job(workdir: Path, before: Path, jobs: dict[str, int]) -> None:
    batches = -(-len(pooled(before)) // 4)  # ceil(analyses / 4): four consecutive analyses per job
    assert {r for r in jobs if r.startswith("analyses_batch_")} == {f"analyses_batch_{i}"
                                                                   for i in range(1, batches + 1)}
    # each batch's forest plots in one job of its own
    assert {r for r in jobs if r.startswith("forest_batch_")} == {f"forest_batch_{i}" for i in range(1, batches + 1)}
    assert not {"pool", "multiverse", "sensitivity", "forest", "estimates", "studies_table", "audit"} & set(jobs), jobs
    snakemake(workdir, "--config", "analyses_per_job=4")
    now, was = checksums(workdir / "results" / "default"), checksums(before)
    # every table and figure byte for byte; the report differs in its provenance only (the config as run)
    assert {k: v for k, v in now.items() if k != "report.html"} == {k: v for k, v in was.items() if k != "report.html"}
    assert "analyses_per_job: 4" in (workdir / "results" / "default" / "report.html").read_text()


def _plan(workdir: Path, before: Path, jobs: dict[str, int]) -> None:
    cold = rerun_rules(workdir, "--config", "plan=trial_run", "--forceall")
    assert jobs == cold, (jobs, cold)
    snakemake(workdir, "results/trial_run/tables/pooled.tsv", "--config", "plan=trial_run")  # targets first
    assert (workdir / "results/trial_run/tables/pooled.tsv").read_bytes() == \
        (before / "tables" / "pooled.tsv").read_bytes()
    assert checksums(workdir / "results" / "default") == checksums(before)


CHECKS = {
    "study_level=0.9": _study_level,
    "'defaults={level: 0.9}'": _pooled_level,
    "'defaults={method: DL}'": _method,
    "analyses_per_job=4": _analyses_per_job,
    "plan=trial_run": _plan,
}


def test_the_readme_documents_the_overrides_tested_here():
    assert readme_overrides() == list(CHECKS)


@pytest.mark.parametrize("override", readme_overrides())
def test_a_readme_override_changes_what_it_says_and_reruns_only_that(run_copy, workflow_run, override):
    assert override in CHECKS, f"README override --config {override} has no check in {__file__}"
    assert rerun_rules(run_copy) == {}, "the copy of the default run is not up to date"
    jobs = rerun_rules(run_copy, *config_args(override))
    CHECKS[override](run_copy, workflow_run / "results" / "default", jobs)
