"""Benchmarks 1, 2, 3 and 5: the workflow cold, as a no-op, after a one-row edit, and with 1,000 analyses.

Not a test. Run from the repository root:

    .venv/bin/python bench/bench_workflow.py            # prints and updates bench/RESULTS.md
    .venv/bin/python bench/bench_workflow.py --no-write # prints only
    .venv/bin/python bench/bench_workflow.py --noop-only  # benchmark 2 alone (after the cold run it needs), in
                                                          # its own section of bench/RESULTS.md, with the load

Each benchmark runs Snakemake (``--cores 2``) in a fresh copy of the project in a temporary folder, with
``PYTHONPATH`` on the copy's ``workflow/`` so that the jobs import the copy of metapool (edits made to the
repository meanwhile do not change the engine checksum under the benchmark):

1. cold: the default config from an empty ``results/``, three times, each in a fresh copy: the median wall
   time and the number of jobs;
2. no-op: the same command again, nothing to do, against a bare Snakemake DAG with the same number of jobs
   (one Snakefile, ``rule all`` and jobs that touch a file; also complete): medians of interleaved runs and
   their ratio, for the wall time and for the CPU time of the Snakemake process (user + system, which other
   load on a shared machine disturbs less);
3. edit: one row of ``data/response.tsv`` changed (the responders of LORLATINIB_P2_EXP1, 27 -> 26, a
   printed count without a printed percentage, so the table stays valid): which jobs Snakemake reruns and
   how long that takes;
5. many analyses: a generated config of 1,000 analyses (the default analyses under every combination of
   tau2 estimator, CI method, prediction interval, transform and report policy, with their sensitivity
   tables), 250 analyses per job (``analyses_per_job``), targets ``tables`` (every table) and every forest plot
   (one format, SVG): wall time and the peak memory of Snakemake and all its jobs together (resident set sizes
   summed over the process tree, sampled every 50 ms); with ``--tables-only N`` also N analyses (10,000) of
   tables only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import copy_project, machine, update_results  # noqa: E402

SECTION = "## Workflow: cold run, no-op rerun, one-row edit, 1,000 analyses (bench/bench_workflow.py)"
BARE = """N = int(config.get("njobs", 1))
rule all:
    input: expand("out/{i}.txt", i=range(N - 1))
rule job:
    output: "out/{i}.txt"
    shell: "touch {output}"
"""


def snakemake(workdir: Path, *args: str, env_path: Path | None = None, memory: bool = False):
    """Run Snakemake; returns (seconds, stdout+stderr, peak summed RSS in MB or None)."""
    env = {**os.environ, "PYTHONPATH": str((env_path or workdir) / "workflow")}
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=workdir, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]
    if memory:
        def sample():
            root = psutil.Process(proc.pid)
            while proc.poll() is None:
                try:
                    procs = [root] + root.children(recursive=True)
                    total = 0
                    for p in procs:
                        try:
                            total += p.memory_info().rss
                        except psutil.Error:
                            pass
                    peak[0] = max(peak[0], total / 1024**2)
                except psutil.Error:
                    pass
                time.sleep(0.05)
        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - start
    if memory:
        thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)[:300]} failed in {workdir}:\n{out[-4000:]}")
    return seconds, out, (peak[0] if memory else None)


def job_stats(output: str) -> dict[str, int]:
    """rule -> count from Snakemake's 'Job stats' table."""
    stats, inside = {}, False
    for line in output.splitlines():
        if line.startswith("Job stats"):
            inside, stats = True, {}
            continue
        if inside:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                stats[parts[0]] = int(parts[1])  # the last row, "total", is the number of jobs
                if parts[0] == "total":
                    break
    return stats


def noop_seconds(workdir: Path, *args: str, env_path: Path | None = None) -> tuple[float, float]:
    """Run Snakemake with nothing to do; returns (wall seconds, CPU seconds of the process: user + system)."""
    env = {**os.environ, "PYTHONPATH": str((env_path or workdir) / "workflow")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", *args], cwd=workdir, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or "Nothing to be done" not in proc.stdout + proc.stderr:
        raise RuntimeError(f"snakemake {' '.join(args)} in {workdir} was not a no-op:\n{proc.stderr[-4000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


# ---------------------------------------------------------------- 1-3


def cold_noop_edit(tmp: Path, repeats: int, edit: bool = True, colds: int = 3) -> dict:
    """Benchmarks 1-3 (without ``edit``: 1 and 2); ``colds`` cold runs, each in a fresh copy."""
    runs = []
    for i in range(colds):
        work = copy_project(tmp / f"default{i}")
        stats = job_stats(snakemake(work, "--dry-run")[1])
        n_jobs = stats.pop("total")
        assert n_jobs == sum(stats.values()), stats
        runs.append(snakemake(work, memory=True))
    cold = statistics.median(seconds for seconds, _, _ in runs)
    colds_s = [seconds for seconds, _, _ in runs]
    cold_peak = max(peak for _, _, peak in runs)
    # 2. no-op against a bare DAG of as many jobs, interleaved
    bare = tmp / "bare"
    bare.mkdir()
    (bare / "Snakefile").write_text(BARE)
    snakemake(bare, "--config", f"njobs={n_jobs}", env_path=work)
    assert len(list((bare / "out").iterdir())) == n_jobs - 1
    ours, base = [], []
    for _ in range(repeats):
        ours.append(noop_seconds(work))
        base.append(noop_seconds(bare, "--config", f"njobs={n_jobs}", env_path=work))
    dry = snakemake(work, "--dry-run")[1]
    assert "Nothing to be done" in dry, dry[-2000:]
    if not edit:
        return {"jobs": n_jobs, "cold": cold, "colds": colds_s, "cold_peak": cold_peak, "noop": ours, "bare": base}
    # 3. one row of data/response.tsv
    path = work / "data" / "response.tsv"
    text = path.read_text()
    row = re.search(r"^LORLATINIB_P2_EXP1\torr\t[^\n]*$", text, flags=re.M).group(0)
    cells = row.split("\t")
    assert cells[5] == "27", cells
    cells[5] = "26"
    path.write_text(text.replace(row, "\t".join(cells)))
    edit_plan = job_stats(snakemake(work, "--dry-run")[1])
    edit, _, _ = snakemake(work)
    return {"jobs": n_jobs, "cold": cold, "colds": colds_s, "cold_peak": cold_peak, "noop": ours, "bare": base,
            "edit": edit, "edit_jobs": edit_plan}


# ---------------------------------------------------------------- 5


def many_config(n: int = 1000, per_job: int = 250) -> dict:
    """1,000 analyses: the default config's analyses under combinations of estimator, CI, transform, policy."""
    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    methods = ["REML", "DL", "PM", "EB", "ML", "SJ", "HE", "EE"]
    cis = ["z", "hartung_knapp"]
    policies = ["latest_cut", "largest_n", "earliest_cut"]
    transforms = ["logit", "freeman_tukey", "arcsine", "raw"]
    pis = ["default", "t_k2"]
    levels = [0.95, 0.9, 0.99, 0.8, 0.85]  # the outermost: the first 1,000 are all at 0.95
    analyses = {}
    combos = itertools.product(levels, pis, policies, methods, cis, transforms)
    for level, pi, policy, method, ci, transform in combos:
        for name, entry in base["analyses"].items():
            if len(analyses) == n:
                break
            outcome = entry["outcome"]
            if "network" in entry or (transform != "logit" and outcome not in ("orr", "intracranial_orr")):
                continue  # a network is fitted by EE, REML or DL with z intervals only: not varied here
            # no multiverse; a normal-likelihood Bayesian fit needs the logit
            new = {k: v for k, v in entry.items() if k != "multiverse" and (k != "bayes" or transform == "logit")}
            new.update(method=method, ci=ci, pi=pi, report_policy=policy,
                       title=f"{entry['title']} ({method}, {ci}, {policy}, PI {pi})")
            if level != 0.95:
                new.update(level=level, title=f"{new['title']} {level:.0%}")
            if outcome in ("orr", "intracranial_orr"):
                new["transform"] = transform
            analyses[f"{name}_{len(analyses):04d}"] = new
    assert len(analyses) == n, len(analyses)
    return {"data_dir": "data", "analyses_per_job": per_job, "defaults": base.get("defaults", {}),
            "analyses": analyses}


def many_analyses(tmp: Path, n: int, per_job: int, figures: bool = True) -> dict:
    """Benchmark 5: ``n`` generated analyses, ``per_job`` per batch; targets ``tables`` and (``figures``) every
    forest plot."""
    work = copy_project(tmp / f"many{n}")
    config = many_config(n, per_job)
    (work / "config" / "many.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    targets = ["tables", *(f"results/default/figures/forest_{name}.svg" for name in config["analyses"] if figures)]
    stats = job_stats(snakemake(work, *targets, "--dry-run", "--configfile", "config/many.yaml")[1])
    n_jobs = stats.pop("total")
    seconds, out, peak = snakemake(work, *targets, "--configfile", "config/many.yaml", memory=True)
    tables = sum(1 for _ in (work / "results" / "default" / "analyses").rglob("*.tsv"))
    forests = sum(1 for _ in (work / "results" / "default" / "figures").glob("forest_*.svg")) if figures else 0
    pooled = len((work / "results/default/tables/pooled.tsv").read_text().splitlines()) - 1
    noop, _, _ = snakemake(work, *targets, "--configfile", "config/many.yaml")
    return {"n": n, "per_job": per_job, "seconds": seconds, "peak": peak, "jobs": n_jobs,
            "tables": tables, "pooled": pooled, "noop": noop, "forests": forests,
            "batch_jobs": sum(v for k, v in stats.items() if k.startswith(("analyses_batch_", "forest_batch_")))}


# ---------------------------------------------------------------- report

NOOP_SECTION = "## Workflow: no-op rerun only (bench/bench_workflow.py --noop-only)"


def noop_markdown(r: dict, load_before: tuple[float, float, float]) -> str:
    """The section of ``--noop-only``: benchmark 2 with the machine's load (``uptime``) before and after."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    noop, bare = (statistics.median(w for w, _ in r["noop"]), statistics.median(w for w, _ in r["bare"]))
    noop_cpu, bare_cpu = (statistics.median(c for _, c in r["noop"]), statistics.median(c for _, c in r["bare"]))
    load = lambda avg: ", ".join(f"{x:.2f}" for x in avg)  # noqa: E731
    return "\n".join([
        NOOP_SECTION,
        "",
        f"Run {now}; {machine()}, Snakemake {snakemake_version()}; load average (1, 5, 15 min, as `uptime` gives "
        f"it) {load(load_before)} at the start, {load(os.getloadavg())} at the end (the machine is shared). The "
        "benchmark 2 of the section \"Workflow: cold run, ...\", alone (after the cold run it needs); the bound "
        "is a ratio of at most 1.3.",
        "",
        "| benchmark | result |",
        "| --- | --- |",
        f"| cold run (to have something to rerun) | {r['cold']:.1f} s, {r['jobs']} jobs |",
        f"| no-op rerun (median of {len(r['noop'])}, interleaved with the baseline) | wall {noop:.2f} s, CPU "
        f"{noop_cpu:.2f} s |",
        f"| bare Snakemake DAG with the same {r['jobs']} jobs, all done (median of {len(r['bare'])}) | wall "
        f"{bare:.2f} s, CPU {bare_cpu:.2f} s |",
        f"| **ratio no-op / bare DAG** | **wall {noop / bare:.2f}, CPU {noop_cpu / bare_cpu:.2f}** |",
        "",
    ])



def snakemake_version() -> str:
    return subprocess.run([sys.executable, "-m", "snakemake", "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def markdown(r: dict, m: dict, t: dict | None = None) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    noop, bare = (statistics.median(w for w, _ in r["noop"]), statistics.median(w for w, _ in r["bare"]))
    noop_cpu, bare_cpu = (statistics.median(c for _, c in r["noop"]), statistics.median(c for _, c in r["bare"]))
    edit_jobs = ", ".join(f"{k} {v}" for k, v in r["edit_jobs"].items() if k != "total")
    return "\n".join([
        SECTION,
        "",
        f"Run {now}; {machine()}, Snakemake {snakemake_version()}; 1-min load average {os.getloadavg()[0]:.1f} at the end (the machine is shared: "
        "other processes ran meanwhile). Every run in a fresh copy of the project, `--cores 2`, the jobs importing "
        "the copy's metapool.",
        "",
        "| benchmark | result |",
        "| --- | --- |",
        f"| 1. cold run of the default config from an empty results/ (median of {len(r['colds'])}: "
        f"{', '.join(f'{x:.1f}' for x in r['colds'])} s) | **{r['cold']:.1f} s**, {r['jobs']} jobs, peak memory "
        f"{r['cold_peak']:.0f} MB (Snakemake and its jobs together) |",
        f"| 2. no-op rerun (median of {len(r['noop'])}, interleaved with the baseline) | wall {noop:.2f} s, "
        f"CPU {noop_cpu:.2f} s |",
        f"| 2. bare Snakemake DAG with the same {r['jobs']} jobs, all done (median of {len(r['bare'])}) | "
        f"wall {bare:.2f} s, CPU {bare_cpu:.2f} s |",
        f"| 2. **ratio no-op / bare DAG** | **wall {noop / bare:.2f}, CPU {noop_cpu / bare_cpu:.2f}** |",
        f"| 3. rerun after editing one row of data/response.tsv (LORLATINIB_P2_EXP1 responders 27 -> 26) | "
        f"{r['edit']:.1f} s; jobs rerun: {edit_jobs} ({r['edit_jobs'].get('total', '?')} of {r['jobs']}) |",
        f"| 5. generated config of {m['n']:,} analyses, {m['per_job']} per job, targets `tables` and every forest "
        f"plot (SVG) | **{m['seconds']:.1f} s**, peak memory **{m['peak']:.0f} MB**; {m['jobs']} jobs "
        f"({m['batch_jobs']} batch jobs); {m['pooled']:,} pooled rows, {m['tables']:,} per-analysis tables, "
        f"{m['forests']:,} forest plots |",
        f"| 5. its no-op rerun | {m['noop']:.1f} s |",
        *([f"| 5. generated config of {t['n']:,} analyses, {t['per_job']} per job, target `tables` | "
           f"**{t['seconds']:.1f} s**, peak memory **{t['peak']:.0f} MB**; {t['jobs']} jobs ({t['batch_jobs']} "
           f"batch jobs); {t['pooled']:,} pooled rows, {t['tables']:,} per-analysis tables |"] if t else []),
        "",
        "Reading it: a cold run is one Snakemake process whose jobs run in its threads (`force-use-threads` in "
        "profiles/default, `run:` rules calling metapool.jobs), so numpy, scipy, pandas and matplotlib are "
        "imported once, not once per job, and the figures are SVG only (`figure_formats`); where the time went "
        "before and after is in the section \"Where the time of a cold run goes, job by job\". The no-op rerun "
        "parses the workflow, confirms by a digest that the config, the data tables, the schemas and the engine "
        "are those that passed every check before (the checks run again when any of them changes), and compares "
        "each job's inputs, parameters and code with Snakemake's records; the bare DAG does only the last step, "
        "for touch jobs without parameters, from a single Snakefile. The one-row edit reruns the response "
        "estimates, the per-study table and the audit, then the jobs of the three ORR analyses (they read the "
        "response estimates), the tables across analyses and the report; the survival and hazard-ratio analyses "
        "are not rerun (their inputs are unchanged: Snakemake compares checksums). The generated analyses are "
        "the default plan's pairwise analyses under combinations of tau2 estimator, CI method, report policy, "
        "prediction interval, (proportions) transform and (beyond 1,000) level, each with its sensitivity "
        "tables and, for the 1,000, its forest plot: "
        f"{m['per_job']} analyses share a tables job and a forest-plot job, each a process of its own (the other "
        "jobs run in threads of Snakemake's process), so that the batches use both cores, and analyses that "
        "differ only in their model share their selection of studies. Much of the rest is Snakemake's own: "
        "building a DAG of thousands of files and recording each file's metadata.",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only; do not update bench/RESULTS.md")
    parser.add_argument("--repeats", type=int, default=15, help="no-op reruns (and baseline runs)")
    parser.add_argument("--analyses", type=int, default=1000)
    parser.add_argument("--per-job", type=int, default=250)
    parser.add_argument("--tables-only", type=int, default=0, metavar="N",
                        help="also N generated analyses (e.g. 10000) of tables only")
    parser.add_argument("--noop-only", action="store_true",
                        help="only benchmark 2 (after the cold run it needs), in its own section of bench/RESULTS.md")
    args = parser.parse_args()
    if args.noop_only:
        load_before = os.getloadavg()
        with tempfile.TemporaryDirectory(prefix="metapool-bench-workflow-") as tmp:
            section = noop_markdown(cold_noop_edit(Path(tmp), args.repeats, edit=False), load_before)
        print(section)
        if not args.no_write:
            update_results(NOOP_SECTION, section)
        return
    with tempfile.TemporaryDirectory(prefix="metapool-bench-workflow-") as tmp:
        r = cold_noop_edit(Path(tmp), args.repeats)
        m = many_analyses(Path(tmp), args.analyses, args.per_job)
        t = many_analyses(Path(tmp), args.tables_only, args.per_job, figures=False) if args.tables_only else None
    section = markdown(r, m, t)
    print(section)
    if not args.no_write:
        update_results(SECTION, section)


if __name__ == "__main__":
    main()
