"""Speed of the Bayesian engine (issue #18): one posterior of a 10-study analysis, and a multiverse of 1,000
Bayesian specifications in one process.

* one posterior: :func:`metapool.stats.bayes.bayes_normal` on 10 synthetic logit proportions (every summary:
  mu, tau, theta_new, the 10 shrinkage estimates, central and shortest intervals, expit back-transforms, two
  threshold probabilities), half-normal(0.5) prior; the median (and minimum) of 200 runs, wall clock;
* 1,000 specifications: 10 tau priors (half-normal 0.25 / 0.5 / 1, half-Cauchy 0.25 / 0.5 / 1, half-t(4) 0.5,
  uniform(0, 5), Turner et al. 2015, Rhodes et al. 2015) x 4 mu priors (flat, N(0, 2^2), N(logit 0.2, 1),
  N(0, 10^2)) x 25 data sets (the seven non-empty subsets of the ALK post-alectinib ORR cohorts 3/9, 5/20,
  3/18 of data/response.tsv, and 18 synthetic sets with k = 3..10), all in one process, wall clock;
* the MAP prior (:func:`metapool.stats.bayes.map_prior`) of the three ALK cohorts, for the record.

Run by hand: ``PYTHONPATH=workflow nice -n 10 python bench/bench_bayes.py``; replaces the section
"Bayesian engine speed" of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import machine, update_results  # noqa: E402

from metapool.stats.bayes import MuPrior, TauPrior, bayes_normal, map_prior  # noqa: E402
from metapool.stats.effects import logit_effects  # noqa: E402

HEADING = "## Bayesian engine speed (bench/bench_bayes.py)"
ALK_X, ALK_N = np.array([3, 5, 3]), np.array([9, 20, 18])


def ten_studies(seed=1):
    rng = np.random.default_rng(seed)
    n = rng.integers(10, 61, size=10)
    x = rng.binomial(n, 1 / (1 + np.exp(-(-0.85 + 0.4 * rng.standard_normal(10)))))
    return logit_effects(x, n)


def data_sets():
    sets = []
    for r in (1, 2, 3):
        for idx in itertools.combinations(range(3), r):
            sets.append(logit_effects(ALK_X[list(idx)], ALK_N[list(idx)]))
    rng = np.random.default_rng(7)
    for k in list(range(3, 11)) + list(range(3, 11)) + [4, 6]:
        n = rng.integers(10, 61, size=k)
        x = rng.binomial(n, 1 / (1 + np.exp(-(-0.85 + 0.4 * rng.standard_normal(k)))))
        sets.append(logit_effects(x, n))
    return sets


TAU_PRIORS = [TauPrior.half_normal(0.25), TauPrior.half_normal(0.5), TauPrior.half_normal(1.0),
              TauPrior.half_cauchy(0.25), TauPrior.half_cauchy(0.5), TauPrior.half_cauchy(1.0),
              TauPrior.half_t(0.5, 4), TauPrior.uniform(5.0), TauPrior.turner(), TauPrior.rhodes()]
MU_PRIORS = [MuPrior.flat(), MuPrior.normal(0, 2), MuPrior.normal(math.log(0.2 / 0.8), 1), MuPrior.normal(0, 10)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    yi, vi = ten_studies()
    se = np.sqrt(vi)
    thr = [math.log(0.2 / 0.8), math.log(0.3 / 0.7)]
    bayes_normal(yi, se, TauPrior.half_normal(0.5), transform="expit", thresholds=thr)  # warm-up
    one, one_cpu = [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        r = bayes_normal(yi, se, TauPrior.half_normal(0.5), transform="expit", thresholds=thr)
        one.append(time.perf_counter() - t0)
        one_cpu.append(time.process_time() - c0)
    one, one_cpu = np.array(one), np.array(one_cpu)
    specs = [(t, m, d) for t in TAU_PRIORS for m in MU_PRIORS for d in data_sets()]
    assert len(specs) == 1000
    t0, c0 = time.perf_counter(), time.process_time()
    medians = []
    for t, m, (y, v) in specs:
        medians.append(bayes_normal(y, np.sqrt(v), t, m, transform="expit", thresholds=thr).mu.bt_median)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert np.all(np.isfinite(medians))
    y3, v3 = logit_effects(ALK_X, ALK_N)
    t1 = time.perf_counter()
    mp = map_prior(bayes_normal(y3, np.sqrt(v3), TauPrior.half_normal(0.5), transform="expit"))
    map_s = time.perf_counter() - t1
    load1 = os.getloadavg()
    lines = [HEADING, "",
             f"Machine: {machine()}. Load average (1, 5, 15 min) {load0[0]:.1f}, {load0[1]:.1f}, {load0[2]:.1f} at the "
             f"start, {load1[0]:.1f}, {load1[1]:.1f}, {load1[2]:.1f} at the end (a shared machine: wall-clock times "
             "include waiting for a core, so the CPU time of the process is the measure of the engine); one "
             "process under `nice -n 10`. Speed-ups made for this benchmark (results unchanged): "
             "`_adaptive_panels` starts from "
             "4 instead of 16 panels (the refinement criterion is unchanged; 111 instead of 442 tau nodes for "
             "the 10-study case), the Legendre-to-power conversion of the tau CDF panels is a precomputed matrix, "
             "and `_expit_moments` evaluates each mixture component by one rule instead of both; every "
             "fixture of tests/stats/test_bayes.py still passes at 1e-5 (largest deviation unchanged, 5.6e-6).", "",
             "| what | target | result |", "|---|---|---|",
             f"| one posterior, 10 studies (all summaries, {r.n_nodes} tau nodes), median of {args.runs} runs | < 50 ms | "
             f"{1000 * np.median(one_cpu):.1f} ms CPU; {1000 * np.median(one):.1f} ms wall (minimum "
             f"{1000 * one.min():.1f} ms, 90th percentile {1000 * np.percentile(one, 90):.1f} ms) |",
             f"| 1,000 specifications (10 tau priors x 4 mu priors x 25 data sets, k = 1..10), one process | < 10 s | "
             f"{wall:.2f} s wall, {cpu:.2f} s CPU |",
             f"| MAP prior of the 3 ALK post-alectinib cohorts (posterior + {mp.n_components}-beta mixture + ESS) | - | "
             f"{map_s:.2f} s |"]
    section = "\n".join(lines) + "\n"
    print(section)
    if not args.no_write:
        update_results(HEADING, section)


if __name__ == "__main__":
    main()
