"""What a forest plot of 10 studies costs to draw and save, by format.

Not a test. Run from the repository root:

    .venv/bin/python bench/bench_figures.py            # prints and updates bench/RESULTS.md
    .venv/bin/python bench/bench_figures.py --no-write

The analysis ``orr_post_crizotinib`` of the default plan (10 studies) is pooled from data/ as the workflow pools
it; then ``--figures`` (40) different forest plots of it are drawn and saved, one after another in one process as
the workflow's jobs are, by :func:`metapool.steps.forest_step` (reading the two tables, building the figure,
saving it): each with new study labels (random trial names and years) and its estimates and CIs scaled by a
random factor, so that no two figures lay out the same text. The first figure of the process (loading the font)
is reported apart; the others give the median and the 90th percentile, for SVG alone (the default
``figure_formats``), PDF alone, PNG alone (300 dpi) and all three.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from common import machine, update_results  # noqa: E402

SECTION = "## Forest plot of 10 studies: drawing and saving by format (bench/bench_figures.py)"
ANALYSIS = "orr_post_crizotinib"
FORMATS = (("svg",), ("pdf",), ("png",), ("svg", "pdf", "png"))


def variants(studies, n: int, seed: int = 20261204):
    """``n`` copies of the studies table with new labels and scaled estimates."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    for _ in range(n):
        frame = studies.copy()
        frame["label"] = [f"{''.join(rng.choice(letters, 6))}-{rng.integers(1, 99)} ({rng.integers(2005, 2027)})"
                          for _ in range(len(frame))]
        factor = rng.uniform(0.8, 1.0)
        for column in ("estimate", "ci_lower", "ci_upper"):
            frame[column] = frame[column] * factor
        yield frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="print only; do not update bench/RESULTS.md")
    parser.add_argument("--figures", type=int, default=40)
    args = parser.parse_args()
    from metapool.analysis.config import analysis_specs, fill_defaults
    from metapool.io import read_tsv, write_tsv
    from metapool.steps import _text_columns, estimates_step, forest_step, pool_step

    load_start = os.getloadavg()
    spec = analysis_specs(fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text())))[ANALYSIS]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        estimates_step(ROOT / "data/studies.tsv", ROOT / "data/response.tsv", "response", tmp / "estimates.tsv")
        pool_step(tmp / "estimates.tsv", spec.pooling_only(), tmp / "studies.tsv", tmp / "pooled.tsv")
        studies = read_tsv(tmp / "studies.tsv", text_columns=_text_columns("label", "reason", "status", "se_note",
                                                                           "subgroup"))
        k = int(studies["included"].astype(str).str.lower().isin(["true", "1"]).sum())
        first = None
        for i, frame in enumerate(variants(studies, args.figures * len(FORMATS) + 1)):
            formats = FORMATS[(i - 1) % len(FORMATS)] if i else ("svg",)
            write_tsv(frame, tmp / f"studies_{i}.tsv")
            outputs = [tmp / f"forest_{i}.{fmt}" for fmt in formats]
            start = time.perf_counter()
            forest_step(tmp / f"studies_{i}.tsv", tmp / "pooled.tsv", outputs, "jama", spec.forest_sort)
            seconds = time.perf_counter() - start
            if i == 0:
                first = seconds
            else:
                rows.append((formats, seconds))
    lines = [SECTION, "",
             f"Run {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; {machine()}; load average (1, 5, 15 min) "
             f"{', '.join(f'{x:.2f}' for x in load_start)} at the start, "
             f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} at the end. `{ANALYSIS}` ({len(studies)} studies, "
             f"{k} pooled), "
             f"{args.figures} different plots per format, one process; reading the two tables, building, saving "
             "(metapool.steps.forest_step). The target is 0.2 s in the configured formats.", "",
             "| formats | median (s) | 90th percentile (s) |", "|---|---|---|"]
    for formats in FORMATS:
        times = sorted(s for f, s in rows if f == formats)
        lines.append(f"| {' + '.join(f.upper() for f in formats)} | {statistics.median(times):.3f} | "
                     f"{times[int(0.9 * (len(times) - 1))]:.3f} |")
    lines += ["", f"The first plot of the process (the font loaded, matplotlib's caches empty): {first:.2f} s.", ""]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_results(SECTION, text)


if __name__ == "__main__":
    main()
