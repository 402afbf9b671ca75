"""Run Snakemake with each job of the workflow timed (for bench/bench_jobs.py; not a test).

    python bench/job_timer.py <times.json> [snakemake arguments...]

Wraps, before anything imports them, :func:`metapool.jobs.run` (a job's whole time),
:func:`metapool.figures.style.figure_style` (building a figure) and :func:`metapool.figures.style.save_figure`
(saving it), then runs Snakemake's command line in this process. At exit, writes one row per job,
``[job function, seconds, drawing seconds, saving seconds]``, to ``<times.json>``. Times are per thread, so jobs
run side by side are timed apart (with ``--cores 1`` they do not overlap at all).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sys
import threading
import time

import metapool.figures.style as style
import metapool.jobs as jobs

ROWS: list[list] = []
_LOCAL = threading.local()
_run, _save, _style = jobs.run, style.save_figure, style.figure_style


def run(name, job):
    _LOCAL.draw = _LOCAL.save = 0.0
    _LOCAL.depth = 0
    start = time.perf_counter()
    try:
        return _run(name, job)
    finally:
        ROWS.append([name, time.perf_counter() - start, _LOCAL.draw, _LOCAL.save])


def save_figure(*args, **kwargs):
    _LOCAL.depth = getattr(_LOCAL, "depth", 0) + 1  # a save's own figure_style is saving, not drawing
    start = time.perf_counter()
    try:
        return _save(*args, **kwargs)
    finally:
        _LOCAL.depth -= 1
        _LOCAL.save = getattr(_LOCAL, "save", 0.0) + time.perf_counter() - start


@contextlib.contextmanager
def figure_style(*args, **kwargs):
    outer = getattr(_LOCAL, "depth", 0) == 0
    _LOCAL.depth = getattr(_LOCAL, "depth", 0) + 1
    start = time.perf_counter()
    try:
        with _style(*args, **kwargs):
            yield
    finally:
        _LOCAL.depth -= 1
        if outer:
            _LOCAL.draw = getattr(_LOCAL, "draw", 0.0) + time.perf_counter() - start


jobs.run = run
for _module in [m for name, m in sys.modules.items() if name.startswith("metapool")]:  # the names imported so far
    for _name, _new in (("save_figure", save_figure), ("figure_style", figure_style)):
        if getattr(_module, _name, None) in (_save, _style):
            setattr(_module, _name, _new)


def main() -> None:
    out = sys.argv[1]
    atexit.register(lambda: open(out, "w").write(json.dumps(ROWS)))
    sys.argv = ["snakemake", *sys.argv[2:]]
    from snakemake.cli import main as snakemake_main

    snakemake_main()


if __name__ == "__main__":
    main()
