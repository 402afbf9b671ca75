"""Where the time of a cold run goes, job by job: before (one Python process per job) and after (jobs in
threads of the Snakemake process).

Not a test. Run from the repository root (it takes a few minutes):

    .venv/bin/python bench/bench_jobs.py --before <commit>   # prints and updates bench/RESULTS.md
    .venv/bin/python bench/bench_jobs.py --before <commit> --no-write

Three cold runs of the default plan, each in a fresh copy and one job at a time (``--cores 1``, so that no job
waits for another's CPU):

A. the ``--before`` commit as it was (each rule a ``script:``: a new Python process per job, figures in SVG,
   PDF and PNG): each job's wall time, from the start and end times Snakemake records with its outputs
   (``.snakemake/metadata``);
B. this commit with ``figure_formats: [svg, pdf, png]``, through ``bench/job_timer.py``, which times each job
   inside the Snakemake process and splits it into drawing (building the figures,
   ``metapool.figures.style.figure_style``), saving (``metapool.figures.style.save_figure``) and the rest
   (reading, computing, writing tables: "computation");
C. this commit as configured (SVG only), timed the same way.

A job of A paid what B's same job did plus the start-up of its process and its imports, so "start-up and
imports" is A's time less B's. The imports the threads share are paid once per run, by the first job that needs
each module; the table gives that once-per-run cost separately (a fresh interpreter importing what the jobs
import).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import copy_project, machine, update_results  # noqa: E402

SECTION = "## Where the time of a cold run goes, job by job (bench/bench_jobs.py)"
# rules whose job function has another name (metapool.jobs)
FUNCTION = {"pooled_table": "concat_tables", "sensitivity_subgroups": "sensitivity",
            "sensitivity_with_subgroups": "sensitivity", "sensitivity_subgroups_bayes": "sensitivity"}
# what the jobs import, once per run in the Snakemake process
IMPORTS = ("import metapool.jobs, metapool.steps, metapool.analysis.run, metapool.analysis.network, "
           "metapool.figures.plots, metapool.reporting.page, scipy.stats, statsmodels.api, openpyxl, docx")


def export(commit: str, dest: Path) -> Path:
    """The project's workflow files at ``commit`` in ``dest`` (git archive)."""
    dest.mkdir(parents=True)
    archive = dest / "src.tar"
    subprocess.run(["git", "archive", "-o", str(archive), commit, "Snakefile", "config", "data", "workflow",
                    "profiles"], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


def metadata_jobs(workdir: Path) -> list[tuple[str, float]]:
    """(rule, wall seconds) of every job, from Snakemake's records of its outputs: the outputs of one job share its
    ``job_hash``, and the job lasts from the earliest start to the latest end recorded with them."""
    jobs: dict[tuple[str, int], tuple[float, float]] = {}
    for path in (workdir / ".snakemake" / "metadata").iterdir():
        record = json.loads(path.read_text())
        if record.get("rule") and record.get("starttime") and record.get("endtime"):
            key = (record["rule"], record["job_hash"])
            start, end = jobs.get(key, (record["starttime"], record["endtime"]))
            jobs[key] = (min(start, record["starttime"]), max(end, record["endtime"]))
    return [(rule, end - start) for (rule, _), (start, end) in jobs.items()]


def run(workdir: Path, timer: bool, config: tuple[str, ...] = ()) -> tuple[float, Path | None]:
    """A cold run with one core; returns its wall time and, with ``timer``, the file of per-job times."""
    env = {**os.environ, "PYTHONPATH": str(workdir / "workflow")}
    times = workdir / "job_times.json" if timer else None
    cmd = [sys.executable, str(ROOT / "bench" / "job_timer.py"), str(times)] if timer else [sys.executable, "-m",
                                                                                           "snakemake"]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, "--cores", "1", *config], cwd=workdir, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {workdir} failed:\n{proc.stderr[-4000:]}")
    return wall, times


def fresh_import_seconds(workdir: Path, repeats: int = 3) -> float:
    env = {**os.environ, "PYTHONPATH": str(workdir / "workflow")}
    best = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", IMPORTS], env=env, check=True)
        best.append(time.perf_counter() - start)
    return min(best)


def by_function(rows) -> dict[str, list]:
    out = defaultdict(list)
    for name, *values in rows:
        out[FUNCTION.get(name, name)].append(values)
    return out


def load() -> tuple[float, float, float]:
    return os.getloadavg()


def markdown(before, b, c, walls, imports, commit, load_start, load_end) -> str:
    a_jobs = by_function(before)
    b_jobs, c_jobs = by_function(b), by_function(c)
    lines = [
        SECTION, "",
        f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}; load average (1, 5, 15 min) "
        f"{', '.join(f'{x:.2f}' for x in load_start)} at the start, {', '.join(f'{x:.2f}' for x in load_end)} at "
        "the end. The default plan from an empty results/, one job at a time (`--cores 1`). Before: commit "
        f"{commit} (a Python process per job, figures in SVG, PDF and PNG). After: this commit (jobs in threads of "
        "the Snakemake process), with every figure format and as configured (SVG only). Seconds per job, the "
        "mean over the rule's jobs; \"start-up and imports\" = before's job time less after's with the same "
        "formats.", "",
        "| job | jobs | before: job (s) | before: start-up and imports | computation | drawing | saving SVG+PDF+PNG "
        "| after, all formats: job (s) | after, SVG only: saving | after, SVG only: job (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    tot = defaultdict(float)
    for name in sorted(a_jobs, key=lambda n: -sum(a_jobs[n][i][0] for i in range(len(a_jobs[n])))):
        a = [v[0] for v in a_jobs[name]]
        bb, cc = b_jobs.get(name, []), c_jobs.get(name, [])
        if not bb or not cc:
            continue
        mean = statistics.fmean
        a_wall, b_wall, c_wall = mean(a), mean(v[0] for v in bb), mean(v[0] for v in cc)
        b_draw, b_save = mean(v[1] for v in bb), mean(v[2] for v in bb)
        c_save = mean(v[2] for v in cc)
        comp = b_wall - b_draw - b_save
        lines.append(f"| {name} | {len(a)} | {a_wall:.2f} | {a_wall - b_wall:.2f} | {comp:.3f} | {b_draw:.3f} | "
                     f"{b_save:.3f} | {b_wall:.3f} | {c_save:.3f} | {c_wall:.3f} |")
        for key, value in (("a", sum(a)), ("startup", sum(a) - b_wall * len(a)), ("comp", comp * len(a)),
                           ("draw", b_draw * len(a)), ("save", b_save * len(a)), ("b", b_wall * len(a)),
                           ("c_save", c_save * len(cc)), ("c", c_wall * len(cc))):
            tot[key] += value
    n = sum(len(v) for v in a_jobs.values())
    lines.append(f"| **all jobs** | {n} | **{tot['a']:.1f}** | {tot['startup']:.1f} | {tot['comp']:.1f} | "
                 f"{tot['draw']:.1f} | {tot['save']:.1f} | {tot['b']:.1f} | {tot['c_save']:.1f} | "
                 f"**{tot['c']:.1f}** |")
    lines += ["", f"Whole runs, one core: before {walls['a']:.1f} s, after with every format {walls['b']:.1f} s, "
              f"after as configured {walls['c']:.1f} s (Snakemake's own start-up, parse and scheduling included). "
              f"The imports the jobs share, paid once per run: {imports:.2f} s (a fresh interpreter importing "
              "them).", "",
              "Reading it: before, most of a job was the start of its process and its imports (numpy, scipy, "
              "pandas, matplotlib), then saving its figure in three formats; matplotlib renders a figure when it "
              "saves it, so \"saving\" includes the rendering and \"drawing\" is building the figure's artists "
              "and laying out its text. After, the jobs share one process and its imports, and a figure is saved "
              "as SVG only unless `figure_formats` asks for more.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", required=True, help="the commit whose jobs each ran as a process")
    parser.add_argument("--no-write", action="store_true", help="print only; do not update bench/RESULTS.md")
    args = parser.parse_args()
    load_start = load()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        before = export(args.before, tmp / "before")
        a_wall, _ = run(before, timer=False)
        a_rows = metadata_jobs(before)
        b_dir = copy_project(tmp / "all_formats")
        b_wall, b_times = run(b_dir, timer=True, config=("--config", "figure_formats=[svg,pdf,png]"))
        c_dir = copy_project(tmp / "svg")
        c_wall, c_times = run(c_dir, timer=True)
        imports = fresh_import_seconds(c_dir)
        b_rows = [tuple(r) for r in json.loads(b_times.read_text())]
        c_rows = [tuple(r) for r in json.loads(c_times.read_text())]
    text = markdown(a_rows, b_rows, c_rows, {"a": a_wall, "b": b_wall, "c": c_wall}, imports, args.before,
                    load_start, load())
    print(text)
    if not args.no_write:
        update_results(SECTION, text)


if __name__ == "__main__":
    main()
