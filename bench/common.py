"""What the benchmark scripts share: the machine's description, a fresh copy of the project, and the update
of one section of bench/RESULTS.md (the other sections are kept)."""

from __future__ import annotations

import os
import platform
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
PROJECT_PARTS = ("Snakefile", "config", "data", "workflow", "profiles")


def machine() -> str:
    """CPUs, CPU model, memory, kernel and Python of this machine, as one line."""
    cpu, mem = platform.processor(), ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        mem = f", {int(Path('/proc/meminfo').read_text().split()[1]) / 1024**2:.0f} GB"
    except (OSError, StopIteration, ValueError, IndexError):
        pass
    return (f"`nproc` = {os.cpu_count()}, {cpu}{mem}, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def copy_project(dest: Path, parts=PROJECT_PARTS) -> Path:
    """The project's workflow files (not results/) copied to ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in parts:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / part)
    return dest


def update_results(heading: str, section: str) -> None:
    """Replace the section of bench/RESULTS.md that starts with ``heading`` by ``section`` (or append it)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if heading in text:
        start = text.index(heading)
        nxt = text.find("\n## ", start + len(heading))
        text = text[:start] + section.rstrip("\n") + ("\n\n" + text[nxt + 1:] if nxt != -1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")
