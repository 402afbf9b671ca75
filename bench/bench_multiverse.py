"""Benchmark 4: a multiverse of 13,824 specifications, metapool against metafor looping rma().

Not a test. Run from the repository root (needs Rscript with metafor for the comparison; without it only
metapool is timed):

    .venv/bin/python bench/bench_multiverse.py            # prints and updates bench/RESULTS.md
    .venv/bin/python bench/bench_multiverse.py --no-write # prints only

1. A synthetic data folder (bench/synthetic.py: 60 trials, 98 reports, 145 assessments) and a config with
   one ORR analysis whose multiverse is 4 assessor x 3 design x 2 retrospective x 2 verification x 3
   report-policy choices (144 study selections) x 4 transforms x 8 tau2 estimators x 3 CI methods
   = 13,824 specifications, in a copy of the workflow.
2. metapool: the workflow computes the per-study estimates and the multiverse job (Snakemake, 2 cores); the
   multiverse job is forced to rerun three times (the whole Snakemake command timed), and three times more
   through bench/job_timer.py, which times the job itself inside Snakemake's process; then
   the multiverse computation itself (``metapool.analysis.multiverse.run_multiverse`` on the estimates: selection of
   every specification's studies, one ``pool_many`` call, back-transformation, summary) is timed in one
   process, best and median of 5 runs after a warm-up.
3. metafor: bench/multiverse_metafor.R loops ``rma(measure, xi, ni, method, test)`` + ``predict(transf)``
   over the same 13,824 specifications (the studies of each as the single-analysis path selects them) and
   times the loop alone (R's start-up, reading and writing excluded).
4. The ratio of the two times, and the largest absolute difference between the two results over every
   specification and every number (estimate, CI, prediction interval on the natural scale; tau2, I2, Q,
   beta, se).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import copy_project, machine, update_results  # noqa: E402
from synthetic import write_synthetic_data  # noqa: E402

SECTION = "## Multiverse against metafor (bench/bench_multiverse.py)"
ANALYSIS = "orr_synthetic"
NUMBERS = ["estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "q", "beta", "se"]

CONFIG = {
    "data_dir": "data",
    "analyses": {
        ANALYSIS: {
            "title": "ORR, synthetic trials (multiverse benchmark)",
            "outcome": "orr",
            "sensitivity": [],
            "multiverse": {
                "threshold": 0.6,
                "assessor": ["any", "independent_review", "investigator", ["independent_review", "investigator"]],
                "design": ["any", "randomised", "single_arm"],
                "retrospective": ["include", "exclude"],
                "verification": ["any", "verified"],
                "report_policy": ["latest_cut", "largest_n", "earliest_cut"],
                "transform": ["logit", "freeman_tukey", "arcsine", "raw"],
                "method": ["EE", "DL", "HE", "SJ", "ML", "REML", "EB", "PM"],
                "ci": ["z", "hartung_knapp", "hartung_knapp_adhoc"],
            },
        }
    },
}


def snakemake(workdir: Path, target: str, *args: str, job_times: Path | None = None) -> float:
    """The wall time of one Snakemake command; with ``job_times``, run through bench/job_timer.py (``--jobs-only``:
    nothing imported before Snakemake), which writes each job's own time there."""
    env = {**os.environ, "PYTHONPATH": str(workdir / "workflow")}
    cmd = ([sys.executable, str(ROOT / "bench" / "job_timer.py"), str(job_times), "--jobs-only"] if job_times
           else [sys.executable, "-m", "snakemake"])
    start = time.perf_counter()
    proc = subprocess.run([*cmd, target, "--cores", "2", "--quiet", *args], cwd=workdir, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"snakemake {target} {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - start


def run(workdir: Path, repeats: int) -> dict:
    sys.path.insert(0, str(workdir / "workflow"))
    from metapool.analysis.run import prepare_analysis
    from metapool.analysis.config import analysis_specs, fill_defaults, specification_spec
    from metapool.analysis.estimates import TEXT_COLUMNS
    from metapool.io import read_tsv
    from metapool.analysis.multiverse import run_multiverse
    from metapool.spec import ModelSpec

    config_path = workdir / "config" / "bench_multiverse.yaml"
    out = {}
    # 2. the workflow: estimates and the multiverse job; then the multiverse job alone, forced
    target = f"results/default/multiverse/{ANALYSIS}.tsv"
    out["workflow_s"] = snakemake(workdir, target, "--configfile", str(config_path))
    job = [snakemake(workdir, target, "--forcerun", "multiverse", "--configfile", str(config_path))
           for _ in range(3)]
    out["job_s"] = statistics.median(job)
    # the job alone, timed inside Snakemake (metapool.jobs.run in a fresh process: its imports included)
    own = []
    for i in range(3):
        times = workdir / f"job_times_{i}.json"
        snakemake(workdir, target, "--forcerun", "multiverse", "--configfile", str(config_path), job_times=times)
        own += [seconds for name, seconds, *_ in json.loads(times.read_text()) if name == "multiverse"]
    out["job_own_s"] = statistics.median(own)
    spec = analysis_specs(fill_defaults(yaml.safe_load(config_path.read_text())))[ANALYSIS]
    frame = read_tsv(workdir / "results/default/tables/response_estimates.tsv", text_columns=TEXT_COLUMNS)
    result = run_multiverse(frame, spec)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run_multiverse(frame, spec)
        times.append(time.perf_counter() - start)
    out["best_s"], out["median_s"] = min(times), statistics.median(times)
    table = result.table
    out["n_specs"] = len(table)
    out["n_selections"] = len({tuple(str(c[d]) for d in ("assessor", "design", "retrospective", "verification",
                                                         "report_policy")) for c in result.choices})
    out["k_range"] = (int(table["k"][table["k"] > 0].min()), int(table["k"].max()))
    out["not_converged"] = int((~table["converged"] & (table["k"] > 0)).sum())

    # 3. the same specifications for metafor: the studies as the single-analysis path selects them
    folder = workdir / "metafor"
    folder.mkdir()
    sets, set_rows, spec_rows = {}, [], []
    for row, choice in zip(table.itertuples(), result.choices):
        key = tuple(str(choice[d]) for d in ("assessor", "design", "retrospective", "verification", "report_policy"))
        if key not in sets:
            data = prepare_analysis(frame, specification_spec(spec, choice))
            inc = data.selected[data.included]
            sets[key] = len(sets) + 1
            set_rows += [{"set": sets[key], "events": int(e), "totals": int(n)} for e, n in zip(inc["events"], inc["n"])]
        spec_rows.append({"spec": row.specification, "set": sets[key], "transform": row.transform,
                          "method": row.method, "test": ModelSpec(ci=row.ci_method, hk_adhoc=bool(row.hk_adhoc)).test})
    pd.DataFrame(spec_rows).to_csv(folder / "specs.tsv", sep="\t", index=False)
    pd.DataFrame(set_rows).to_csv(folder / "sets.tsv", sep="\t", index=False)
    out["table"] = table
    out["folder"] = folder
    return out


def compare_metafor(out: dict) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    script = ROOT / "bench" / "multiverse_metafor.R"
    proc = subprocess.run(["Rscript", str(script), str(out["folder"])], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"bench/multiverse_metafor.R failed:\n{proc.stderr[-2000:]}")
    elapsed, r_version, metafor = (out["folder"] / "metafor_time.txt").read_text().splitlines()[:3]
    theirs = pd.read_csv(out["folder"] / "metafor.tsv", sep="\t").set_index("spec")
    ours = out["table"].set_index("specification")
    both = ours[NUMBERS].notna() & theirs.loc[ours.index, NUMBERS].notna()
    diff = (ours[NUMBERS] - theirs.loc[ours.index, NUMBERS]).abs().where(both)
    mismatch = int((ours[["estimate"]].notna().to_numpy() != theirs.loc[ours.index, ["estimate"]].notna().to_numpy()).sum())
    per_column = diff.max()
    return {"seconds": float(elapsed), "R": r_version, "metafor": metafor, "max_abs": float(per_column.max()),
            "per_column": per_column, "worst": per_column.idxmax(), "nan_mismatch": mismatch,
            "compared": int(both["estimate"].sum())}


def markdown(out: dict, mf: dict | None) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()[0]
    lines = [
        SECTION,
        "",
        f"Run {now}; {machine()}, numpy {np.__version__}; 1-min load average {load:.1f} at the end.",
        "",
        f"A multiverse of **{out['n_specs']:,} specifications** of one ORR analysis of synthetic trials "
        f"(bench/synthetic.py: 60 trials, 98 reports, 145 assessments): {out['n_selections']} study selections "
        "(4 assessor x 3 design x 2 retrospective x 2 verification x 3 report-policy choices; "
        f"k = {out['k_range'][0]} to {out['k_range'][1]}) x 4 transforms (logit, Freeman-Tukey, arcsine, raw) "
        "x 8 tau2 estimators (EE, DL, HE, SJ, ML, REML, EB, PM) x 3 CI methods (z, Hartung-Knapp, Hartung-Knapp "
        f"ad hoc). Estimators not converged: {out['not_converged']}.",
        "",
        "| what | time (s) |",
        "| --- | --- |",
        f"| metapool `run_multiverse` in one process (selection of every specification's studies, one `pool_many` "
        f"call, back-transformation, summary): best of 5 / median | {out['best_s']:.3f} / {out['median_s']:.3f} |",
        f"| the multiverse job through Snakemake (`--forcerun multiverse`, median of 3: Snakemake start-up, "
        f"Python start-up, reading the estimates, writing the {out['n_specs']:,}-row table) | {out['job_s']:.2f} |",
        "| the multiverse job alone, as Snakemake runs it (`metapool.jobs.run` timed inside the Snakemake process "
        "by bench/job_timer.py, median of 3 fresh processes: the job's imports of numpy, pandas, scipy and the "
        f"engine, reading, computing, writing) | {out['job_own_s']:.2f} |",
        f"| the workflow from an empty results/ to the multiverse table (estimates + multiverse jobs) | "
        f"{out['workflow_s']:.2f} |",
    ]
    if mf is None:
        lines += ["", "Rscript with metafor was not found: no comparison."]
    else:
        ratio = mf["seconds"] / out["best_s"]
        ratio_job = mf["seconds"] / out["job_s"]
        ratio_own = mf["seconds"] / out["job_own_s"]
        lines += [
            f"| metafor {mf['metafor']} ({mf['R']}): `rma()` + `predict()` looped over the same specifications "
            f"(the loop alone) | {mf['seconds']:.2f} |",
            "",
            f"**Speed-up: {ratio:.0f}x** (metafor's loop / metapool's computation); **{ratio_own:.0f}x** against "
            f"the multiverse job with its imports; {ratio_job:.0f}x against the whole Snakemake command (its own "
            "start-up, reading the workflow and building the DAG included). "
            f"**Largest absolute difference: {mf['max_abs']:.1e}** ({mf['worst']}) over {mf['compared']:,} "
            f"specifications with a result in both and every number; specifications with a result in one but not "
            f"the other: {mf['nan_mismatch']}.",
            "",
            "Largest absolute difference per number: "
            + ", ".join(f"{c} {v:.1e}" for c, v in mf["per_column"].items()) + ".",
        ]
    lines += [
        "",
        "Reading it: metafor fits one specification at a time (about "
        + (f"{1000 * mf['seconds'] / out['n_specs']:.1f} ms each" if mf else "several ms each")
        + "); metapool selects the studies of the 144 distinct inclusion choices on arrays, computes each "
        "transform's effect sizes once per selection, and pools all specifications in one vectorised call. The "
        "iterative estimators (Fisher scoring to 1e-5, Brent's root finder) follow metafor's algorithms and "
        "stopping rules step for step, so they agree with it to rounding like the closed-form ones. The GLMM (`transform: glmm`, `rma.glmm`) is not part of this comparison: "
        "it is one ML fit per study selection, not per specification.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only; do not update bench/RESULTS.md")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="metapool-bench-multiverse-") as tmp:
        workdir = copy_project(Path(tmp), ("Snakefile", "config", "workflow", "profiles"))
        write_synthetic_data(workdir / "data")
        (workdir / "config" / "bench_multiverse.yaml").write_text(yaml.safe_dump(CONFIG, sort_keys=False))
        out = run(workdir, args.repeats)
        mf = compare_metafor(out)
        section = markdown(out, mf)
    print(section)
    if not args.no_write:
        update_results(SECTION, section)


if __name__ == "__main__":
    main()
