"""Workflow runs of test_config: the tests that run Snakemake."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from metapool.analysis.config import analysis_specs, fill_defaults, multiverse_choices

from conftest import ROOT, all_figure_formats, copy_workflow, snakemake

EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.yaml"))


def _results(workdir: Path) -> list[Path]:
    results = workdir / "results"
    return [p for p in results.rglob("*") if p.is_file()] if results.exists() else []


@pytest.fixture()
def workdir(tmp_path):
    return copy_workflow(tmp_path / "wf")


def _write_config(workdir: Path, edit) -> None:
    path = workdir / "config" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    edit(config)
    path.write_text(yaml.safe_dump(config, sort_keys=False))


@pytest.mark.parametrize("edit,message", [
    (lambda c: c["analyses"]["orr_tki_naive"].update(methd="DL"),
     "config: analyses.orr_tki_naive: unknown key 'methd'; did you mean 'method'?"),
    (lambda c: c["analyses"]["orr_tki_naive"]["filters"].update(setting=["first_line"]),
     "config: analyses.orr_tki_naive.filters.setting: 'first_line' is not a declared setting; declared in "
     "data/vocabulary.yaml: tki_naive, post_crizotinib, post_second_gen, post_alectinib, post_alk_tki, unknown"),
    (lambda c: c["analyses"]["orr_tki_naive"]["filters"].update(setting=["post_alectinib"], design=["randomised"]),
     "config: analyses.orr_tki_naive: no study with outcome orr matches the filters"),
    (lambda c: c["analyses"]["orr_tki_naive"].update(hk_adhoc=True),
     "config: analyses.orr_tki_naive: hk_adhoc: true applies to Hartung-Knapp intervals only"),
])


def test_snakemake_stops_with_the_message_and_writes_nothing(workdir, edit, message):
    _write_config(workdir, edit)
    proc = snakemake(workdir, "--dry-run", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out, out[-3000:]
    assert "Traceback" not in out
    proc = snakemake(workdir, check=False)
    assert proc.returncode != 0 and _results(workdir) == []


def test_snakemake_config_override_errors_name_the_key(workdir):
    proc = snakemake(workdir, "--dry-run", "--config", "defaults={methd: DL}", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config: defaults: unknown key 'methd'; did you mean 'method'?" in out, out[-3000:]


def _dry_run_jobs(workdir: Path, *args: str) -> dict[str, int]:
    out = snakemake(workdir, "--dry-run", "--quiet", "rules", *args).stdout
    jobs = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            jobs[parts[0]] = int(parts[1])
    return jobs


def test_config_overrides_and_grouping_of_analyses(workdir):
    single = _dry_run_jobs(workdir)
    every = analysis_specs(fill_defaults(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())))
    specs = {name: spec for name, spec in every.items() if not spec.is_network}
    networks = len(every) - len(specs)
    n = len(specs)
    assert single["pool"] == n and single["forest"] == n and single["multiverse"] == 1
    # one job per network analysis for its tables, one for its figures
    assert networks == 2 and single["network"] == single["network_figures"] == networks
    with_tables = sum(1 for spec in specs.values() if spec.sensitivity_tables)
    # one sensitivity job per analysis with tables (a rule per set of tables: sensitivity, sensitivity_...)
    assert sum(count for rule, count in single.items() if rule.startswith("sensitivity")) == with_tables
    grouped = _dry_run_jobs(workdir, "--config", "analyses_per_job=4", "study_level=0.9")
    assert "pool" not in grouped and "multiverse" not in grouped
    assert not any(rule.startswith("sensitivity") for rule in grouped)
    batches = -(-n // 4)  # ceil(n / 4): four consecutive analyses per job
    assert sorted(k for k in grouped if k.startswith("analyses_batch_")) == [
        f"analyses_batch_{i}" for i in range(1, batches + 1)]
    # each batch's forest plots in one job (forest_batch_<i>)
    assert "forest" not in grouped and sorted(k for k in grouped if k.startswith("forest_batch_")) == [
        f"forest_batch_{i}" for i in range(1, batches + 1)]
    assert grouped["spec_curve"] == 1 and grouped["network"] == networks


def test_configfile_replaces_the_default_config(workdir):
    example = "config/examples/independent_review.yaml"
    jobs = _dry_run_jobs(workdir, "--configfile", example)
    analyses = yaml.safe_load((ROOT / example).read_text())["analyses"]
    assert jobs["pool"] == jobs["forest"] == len(analyses)
    assert "multiverse" not in jobs


def _checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def plans_side_by_side(tmp_path_factory):
    """Both examples, then the default plan, run in one copy: each plan's folder's checksums after its own run
    and after all three."""
    # the default plan in every figure format, as the session's workflow_run that it is compared with
    workdir = all_figure_formats(copy_workflow(tmp_path_factory.mktemp("plans")))
    after_own = {}
    for example in EXAMPLES:
        snakemake(workdir, "--configfile", f"config/examples/{example.name}")
        plan = yaml.safe_load(example.read_text())["plan"]
        after_own[plan] = _checksums(workdir / "results" / plan)
    snakemake(workdir)
    after_own["default"] = _checksums(workdir / "results" / "default")
    after_all = {plan: _checksums(workdir / "results" / plan) for plan in after_own}
    return workdir, after_own, after_all


def test_plans_run_side_by_side_without_overwriting_each_other(plans_side_by_side, workflow_run):
    workdir, after_own, after_all = plans_side_by_side
    assert sorted(p.name for p in (workdir / "results").iterdir()) == sorted(after_own)
    assert sorted(after_own) == ["default", "independent_review", "multiverse"]
    for plan, files in after_own.items():
        assert len(files) > 20 and "report.html" in files and "tables/results.xlsx" in files, plan
        assert after_all[plan] == files, f"results/{plan}/ changed after the other plans ran"
    # the default plan run after the examples is byte for byte the default plan run alone
    assert after_own["default"] == _checksums(workflow_run / "results" / "default")


@pytest.mark.parametrize("example", [p.name for p in EXAMPLES])
def test_example_config_runs_the_workflow(plans_side_by_side, example):
    workdir = plans_side_by_side[0]
    config = fill_defaults(yaml.safe_load((ROOT / "config" / "examples" / example).read_text()))
    specs = analysis_specs(config)
    out = workdir / "results" / config["plan"]
    pooled = (out / "tables/pooled.tsv").read_text().splitlines()
    assert len(pooled) == 1 + len(specs)
    for name, spec in specs.items():
        assert (out / f"figures/forest_{name}.svg").stat().st_size > 1000
        for kind in spec.sensitivity_tables:
            assert (out / f"analyses/{name}/{kind}.tsv").exists(), (name, kind)
        if spec.multiverse is not None:
            table = (out / f"multiverse/{name}.tsv").read_text().splitlines()
            assert len(table) == 1 + len(multiverse_choices(spec))
            assert (out / f"figures/spec_curve_{name}.svg").stat().st_size > 1000
    assert (out / "report.html").exists()
    html = (out / "report.html").read_text()
    assert f"results/{config['plan']}/tables/pooled.tsv" in html


def test_checks_are_skipped_only_while_nothing_they_read_changes(workdir):
    """A passed check leaves a digest in .snakemake/metapool/checks_passed (a no-op rerun then skips the
    0.1 s of checks); any change to the config, the data or the engine runs them all again."""
    snakemake(workdir, "--dry-run")
    stamp = workdir / ".snakemake" / "metapool" / "checks_passed"
    first = stamp.read_text()
    snakemake(workdir, "--dry-run")
    assert stamp.read_text() == first
    proc = snakemake(workdir, "--dry-run", "--config", "defaults={methd: DL}", check=False)
    assert proc.returncode != 0 and "unknown key 'methd'" in proc.stdout + proc.stderr
    assert stamp.read_text() == first  # a failed check writes nothing
    path = workdir / "data" / "response.tsv"
    path.write_text(path.read_text().replace("\t27\tprinted\t", "\t270\tprinted\t", 1))
    proc = snakemake(workdir, "--dry-run", check=False)
    assert proc.returncode != 0 and "responders" in proc.stdout + proc.stderr, (proc.stdout + proc.stderr)[-2000:]
