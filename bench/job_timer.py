"""Run Snakemake with each job of the workflow timed (for bench/bench_jobs.py; not a test).

    python bench/job_timer.py <times.json> [--jobs-only] [snakemake arguments...]

Wraps, before anything imports them, :func:`metapool.jobs.run` (a job's whole time),
:func:`metapool.figures.style.figure_style` (building a figure) and :func:`metapool.figures.style.save_figure`
(saving it), then runs Snakemake's command line in this process. ``--jobs-only`` wraps only
:func:`metapool.jobs.run` and imports nothing else first (matplotlib, numpy and pandas are then imported by
the jobs that need them, inside their time). At exit, writes one row per job,
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

import metapool.jobs as jobs

ROWS: list[list] = []
_LOCAL = threading.local()
_run = jobs.run


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


def _wrap_figures() -> None:
    """Time building and saving figures: wrap them in every metapool module imported so far (importing
    matplotlib through metapool.figures.style)."""
    global _save, _style
    import metapool.figures.style as style

    _save, _style = style.save_figure, style.figure_style
    for module in [m for name, m in sys.modules.items() if name.startswith("metapool")]:
        for name, new in (("save_figure", save_figure), ("figure_style", figure_style)):
            if getattr(module, name, None) in (_save, _style):
                setattr(module, name, new)


jobs.run = run


def main() -> None:
    out = sys.argv[1]
    args = sys.argv[2:]
    if args[:1] == ["--jobs-only"]:
        args = args[1:]
    else:
        _wrap_figures()
    atexit.register(lambda: open(out, "w").write(json.dumps(ROWS)))
    sys.argv = ["snakemake", *args]
    from snakemake.cli import main as snakemake_main

    snakemake_main()


if __name__ == "__main__":
    main()
