"""Hardened inputs end to end (issue #15): Snakemake (--dry-run, in a copy of the workflow) stops with exit status
1 on each malformed plan file, config value, vocabulary file or table cell of the corpus, the message names the
file (and line and column, and the value for a cell), and nothing is written under results/.

A plan given with --configfile is parsed by Snakemake's command line before the workflow starts: YAML it cannot
parse at all (an empty file, a tab, a python object tag) is refused there with Snakemake's own message, which does not
name the file, and a missing file ends in Snakemake's traceback naming it (tested below as they are); YTE
templating (__use_yte__) has been evaluated by then, and a python name tag resolved; the workflow then refuses
the plan before any job runs. `make report CONFIG=...` reads the plan with the workflow's loader first: there
the same files are refused in one line naming them, before Snakemake parses them.
config/config.yaml itself is read by the workflow's loader before Snakemake's (metapool.yamlfile)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, copy_workflow, snakemake
from test_workflow_validation import set_cell

# nine lists of nine aliases of the previous list: 9^9 values once expanded
BOMB = "".join(f"{a}: &{a} [{', '.join([f'*{p}'] * 9 if p else ['x'] * 9)}]\n"
               for p, a in zip([None, *"abcdefgh"], "abcdefghi"))
PLAN = "analyses:\n  orr_all:\n    title: ORR\n    outcome: orr\n"


def stopped(workdir: Path, proc, *fragments: str) -> str:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out[-3000:]
    for fragment in fragments:
        assert fragment in out, (fragment, out[-3000:])
    results = workdir / "results"
    assert not results.exists() or not any(p.is_file() for p in results.rglob("*"))
    return out


# file text -> what the message says after "config/plan.yaml"
PLAN_CASES = {
    "duplicate_analysis": (PLAN + "  orr_all:\n    title: again\n    outcome: orr\n",
                           "config/plan.yaml, line 5, column 3: key 'orr_all' is written twice in one mapping (first "
                           "on line 2, again on line 5)"),
    "alias_bomb": (BOMB, "config/plan.yaml, line 7, column 4: its aliases expand to more than 1,000,000 values"),
    "number_name": ("analyses:\n  2024:\n    title: ORR\n    outcome: orr\n",
                    "config/plan.yaml: analyses: analysis name 2024 must be text"),
    "yte": ("__use_yte__: true\n" + PLAN, "config/plan.yaml: __use_yte__: YTE templating is not allowed in a plan"),
    "level_nan": (PLAN + "defaults:\n  level: .nan\n", "config: defaults.level: .nan is not a finite number"),
    "level_inf": (PLAN + "study_level: .inf\n", "config: study_level: .inf is not a finite number"),
    "level_out_of_range": (PLAN + "    level: 1.5\n", "config: analyses.orr_all.level: 1.5 must be < 1"),
    "threshold_nan": (PLAN + "    multiverse:\n      threshold: .nan\n      method: [DL, REML]\n",
                      "config: analyses.orr_all.multiverse.threshold: .nan is not a finite number"),
    "threshold_out_of_range": (PLAN + "    multiverse:\n      threshold: 1.5\n      method: [DL, REML]\n",
                               "config: analyses.orr_all.multiverse.threshold: a proportion strictly between 0 and 1 "
                               "for outcome orr (got 1.5)"),
    "analyses_per_job_inf": (PLAN + "analyses_per_job: -.inf\n", "config: analyses_per_job: -.inf is not a finite number"),
    "analyses_per_job_zero": (PLAN + "analyses_per_job: 0\n", "config: analyses_per_job: 0 must be >= 1"),
    "name_dots": ("analyses:\n  ../escape:\n    title: ORR\n    outcome: orr\n",
                  "config: analyses: analysis name '../escape' must start with a letter"),
    # Snakemake's loader (YAML's FullLoader, through YTE) resolves this tag to the function os.system
    "python_name": ("plan: !!python/name:os.system\n" + PLAN,
                    "config/plan.yaml, line 1, column 7: not valid YAML (the tag 'tag:yaml.org,2002:python/name:os.system' "
                    "is not allowed"),
    "plan_name": ("plan: ../../etc\n" + PLAN, "config: plan: plan name '../../etc' must start with a letter"),
}


@pytest.mark.parametrize("case", list(PLAN_CASES))
def test_a_malformed_plan_file_stops_the_run_naming_it(tmp_path, case):
    text, message = PLAN_CASES[case]
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config" / "plan.yaml").write_text(text)
    start = time.perf_counter()
    proc = snakemake(workdir, "--dry-run", "--configfile", "config/plan.yaml", check=False)
    assert time.perf_counter() - start < 60
    stopped(workdir, proc, message)


@pytest.mark.parametrize("case", ["level_nan", "threshold_out_of_range"])
def test_a_bad_number_stops_a_real_run_before_any_job(tmp_path, case):
    """Not a dry run: the run itself stops at the checks, before any job, and writes nothing under results/."""
    text, message = PLAN_CASES[case]
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config" / "config.yaml").write_text(text)
    out = stopped(workdir, snakemake(workdir, check=False), message.replace("config/plan.yaml", "config/config.yaml"))
    assert "Job stats" not in out  # no job was scheduled


def test_the_default_plan_is_read_by_the_safe_loader_before_snakemake(tmp_path):
    """config/config.yaml is checked before Snakemake loads it: its YTE is never evaluated, and a python tag
    or an empty file is refused naming the file."""
    workdir = copy_workflow(tmp_path / "wf")
    plan = workdir / "config" / "config.yaml"
    marker = workdir / "evaluated"
    plan.write_text(f"__use_yte__: true\nplan: ?open({str(marker)!r}, 'w').write('x') and 'a'\n" + PLAN)
    stopped(workdir, snakemake(workdir, "--dry-run", check=False),
            "config/config.yaml: __use_yte__: YTE templating is not allowed in a plan")
    assert not marker.exists()
    plan.write_text("plan: !!python/object/apply:os.system ['touch evaluated']\n" + PLAN)
    stopped(workdir, snakemake(workdir, "--dry-run", check=False),
            "config/config.yaml, line 1, column 7: not valid YAML (the tag")
    assert not marker.exists()
    plan.write_text("")
    stopped(workdir, snakemake(workdir, "--dry-run", check=False), "config/config.yaml: the file is empty")
    plan.write_text("analyses:\n\torr_all: {}\n")
    stopped(workdir, snakemake(workdir, "--dry-run", check=False),
            "config/config.yaml, line 2, column 1: not valid YAML")


@pytest.mark.parametrize("text,message", [
    ("", "Config file must be given as JSON or YAML with keys at top level."),
    ("analyses:\n\torr_all: {}\n", "Config file is not valid JSON or YAML."),
    ("plan: !!python/object/apply:os.getpid []\n", "Config file is not valid JSON or YAML."),
])
def test_a_configfile_snakemake_cannot_parse_stops_before_the_workflow(tmp_path, text, message):
    """Snakemake's own refusal (its command line parses --configfile before the workflow exists)."""
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "config" / "plan.yaml").write_text(text)
    stopped(workdir, snakemake(workdir, "--dry-run", "--configfile", "config/plan.yaml", check=False), message)


def test_a_missing_configfile_is_refused_naming_it(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "--dry-run", "--configfile", "config/nope.yaml", check=False)
    stopped(workdir, proc, "No such file or directory", "config/nope.yaml")


@pytest.mark.parametrize("name,text,message", [
    ("nope.yaml", None, "config/nope.yaml: cannot read the file (No such file or directory)"),
    ("empty.yaml", "", "config/empty.yaml: the file is empty"),
    ("tab.yaml", "analyses:\n\torr_all: {}\n", "config/tab.yaml, line 2, column 1"),
    ("yte.yaml", "__use_yte__: true\nplan: ?f\"{__import__('os').getpid()}\"\n",
     "config/yte.yaml: __use_yte__: YTE templating is not allowed in a plan"),
])
def test_make_report_with_a_plan_reads_it_with_the_safe_loader_first(tmp_path, name, text, message):
    """`make report CONFIG=...` (README): a missing, unparseable or templated plan is refused in one line per
    problem by metapool.yamlfile before Snakemake parses it (no traceback, no YTE evaluated, no job run)."""
    workdir = copy_workflow(tmp_path / "wf")
    if text is not None:
        (workdir / "config" / name).write_text(text)
    venv = Path(sys.executable).parent.parent
    stamp = venv / ".installed"  # `-o`: the environment running the tests is used as it is, never reinstalled
    proc = subprocess.run(["make", "-s", "-f", str(ROOT / "Makefile"), "-o", str(stamp), "report", f"CONFIG=config/{name}", f"VENV={venv}"],
                          cwd=workdir, capture_output=True, text=True)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("make")]
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "snakemake" not in proc.stdout
    assert not (workdir / "results").exists() and not (workdir / ".snakemake").exists()


def test_a_duplicate_key_in_the_vocabulary_file_stops_the_run(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    path = workdir / "data" / "vocabulary.yaml"
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  crizotinib:"))  # line at + 1
    lines.insert(at + 2, "  crizotinib: {class: chemotherapy}")  # line at + 3, after alectinib
    path.write_text("\n".join(lines) + "\n")
    stopped(workdir, snakemake(workdir, "--dry-run", check=False),
            f"data/vocabulary.yaml, line {at + 3}, column 3: key 'crizotinib' is written twice in one mapping "
            f"(first on line {at + 1}, again on line {at + 3})")


@pytest.mark.parametrize("table,study_id,column,value,words", [
    ("response", "ALEX_alectinib", "evaluable", "1" + "0" * 308, "evaluable must be >= 1 and <= 10000000"),
    ("response", "ALEX_alectinib", "evaluable", "1000000000000", "evaluable must be >= 1 and <= 10000000"),
    ("studies", "ALEX_alectinib", "data_cut", "2019-02-30", "is not a calendar date"),
    ("studies", "ALEX_alectinib", "data_cut", "2024-01", "is after the report's publication year (2020)"),
])
def test_a_malformed_cell_stops_the_run_naming_file_line_column_and_value(tmp_path, table, study_id, column,
                                                                           value, words):
    workdir = copy_workflow(tmp_path / "wf")
    line = set_cell(workdir / "data" / f"{table}.tsv", study_id, column, value)
    shown = value if len(value) <= 80 else value[:77] + "..."
    start = time.perf_counter()
    stopped(workdir, snakemake(workdir, "--dry-run", check=False),
            f"data/{table}.tsv, line {line}, column '{column}', value '{shown}'", words)
    assert time.perf_counter() - start < 60


def test_a_nested_override_with_a_duplicate_key_stops_the_run_naming_it(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "--dry-run", "--config", "defaults={level: 0.9, level: 0.8}", check=False)
    stopped(workdir, proc, "--config defaults, line 1, column 14: key 'level' is written twice in one mapping")
