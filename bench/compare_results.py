"""Byte-for-byte comparison of each plan's results between a past commit and the working tree.

A restructuring of the engine must not change a number, a figure or a table. This script runs the
default plan and every ``config/examples/*.yaml`` twice, once with the workflow and engine of ``--base``
(a commit, e.g. the one before the restructuring) and once with the working tree, each in a fresh
folder with its own engine on ``PYTHONPATH``, and compares every file of the plan's results byte for byte.
A plan's results are ``results/<plan>/`` (the folder named by the config's ``plan`` key), or ``results/``
itself for a commit from before plans had their own folders (one whose run writes ``results/report.html``,
e.g. 03df425): base ``results/`` or ``results/<plan>/`` is compared with the tree's ``results/<plan>/``.
The only difference allowed is the report's git-commit line in the provenance section; the job logs
(``logs/``, which hold timings) are not compared.

    .venv/bin/python bench/compare_results.py --base 03df425
    .venv/bin/python bench/compare_results.py --base 03df425 --plans default

``--base-results DIR`` reuses results of the base made earlier (``DIR/<plan>/`` as written by ``--keep``).
Exit status 0 when every plan is identical, 1 otherwise (the differing files are listed).
"""

from __future__ import annotations

import argparse
import filecmp
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from common import copy_project  # bench/common.py (scripts in bench/ run with bench/ on sys.path)

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("Snakefile", "config", "data", "workflow")
# the report's provenance names the git commit of the engine; nothing else may differ
_COMMIT_LINE = re.compile(rb"^<p>Workflow commit: .*</p>$", re.MULTILINE)


def plans(root: Path) -> dict[str, str | None]:
    """Plan name -> config file (None: the default config/config.yaml)."""
    out: dict[str, str | None] = {"default": None}
    for path in sorted((root / "config" / "examples").glob("*.yaml")):
        out[path.stem] = f"config/examples/{path.name}"
    return out


def checkout_base(rev: str, dest: Path) -> Path:
    """The workflow's files at ``rev`` (git archive) in ``dest``."""
    archive = subprocess.run(["git", "archive", rev, *PARTS], cwd=ROOT, capture_output=True, check=True).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def run_plan(workdir: Path, configfile: str | None, out: Path) -> None:
    """One clean run of a plan in ``workdir`` with the engine of ``workdir``; results copied to ``out``."""
    for stale in ("results", ".snakemake"):
        shutil.rmtree(workdir / stale, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(workdir / "workflow"), "PYTHONHASHSEED": "0"}
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", "--quiet", "all"]
    if configfile:
        cmd += ["--configfile", configfile]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{workdir}: snakemake failed\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    shutil.copytree(plan_folder(workdir, configfile), out)


def plan_folder(workdir: Path, configfile: str | None) -> Path:
    """Where a run of the plan in ``workdir`` wrote its results: ``results/`` when the run wrote
    ``results/report.html`` (the layout before plans had their own folders), else ``results/<plan>/``, the
    ``plan`` of the config (``default`` when it names none)."""
    results = workdir / "results"
    if (results / "report.html").is_file():
        return results
    import yaml

    config = yaml.safe_load((workdir / (configfile or "config/config.yaml")).read_text(encoding="utf-8")) or {}
    return results / str(config.get("plan", "default"))


def _files(root: Path) -> set[str]:
    """Every result file, without the job logs (they hold timings)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != "logs"}


def differences(a: Path, b: Path) -> list[str]:
    """The files that differ between two results folders (missing on one side, or other bytes)."""
    fa, fb = _files(a), _files(b)
    out = [f"only in base: {f}" for f in sorted(fa - fb)] + [f"only in tree: {f}" for f in sorted(fb - fa)]
    for rel in sorted(fa & fb):
        if filecmp.cmp(a / rel, b / rel, shallow=False):
            continue
        if rel.endswith(".html"):
            strip = lambda p: _COMMIT_LINE.sub(b"", p.read_bytes())  # noqa: E731
            if strip(a / rel) == strip(b / rel):
                continue
        out.append(f"differs: {rel}")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--plans", help="comma-separated plan names (default: every plan)")
    parser.add_argument("--base-results", type=Path, help="results of the base made earlier (DIR/<plan>/)")
    parser.add_argument("--keep", type=Path, help="keep both sides' results here (DIR/base/<plan>, DIR/tree/<plan>)")
    args = parser.parse_args(argv)

    chosen = plans(ROOT)
    if args.plans:
        names = args.plans.split(",")
        unknown = [n for n in names if n not in chosen]
        if unknown:
            parser.error(f"unknown plan(s) {unknown}; plans: {', '.join(chosen)}")
        chosen = {n: chosen[n] for n in names}
    with tempfile.TemporaryDirectory(prefix="metapool-compare-") as tmp:
        tmp = Path(tmp)
        keep = args.keep or tmp / "results"
        tree = copy_project(tmp / "tree", PARTS)
        base = None if args.base_results else checkout_base(args.base, tmp / "base")
        failed = False
        for name, configfile in chosen.items():
            base_out = args.base_results / name if args.base_results else keep / "base" / name
            if base is not None:
                run_plan(base, configfile, base_out)
            run_plan(tree, configfile, keep / "tree" / name)
            diff = differences(base_out, keep / "tree" / name)
            n = len(_files(keep / "tree" / name))
            print(f"{name}: {n} files, " + ("identical" if not diff else f"{len(diff)} differ"))
            for line in diff:
                print(f"  {line}")
            failed |= bool(diff)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
