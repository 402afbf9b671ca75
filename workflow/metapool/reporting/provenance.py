"""Provenance of a run: checksums of its inputs (as the jobs read them), versions of the packages, the git commit
of the workflow."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..inputs import file_sha256

__all__ = ["PACKAGES", "sha256", "input_provenance", "package_versions", "git_commit"]

PACKAGES = ("metapool", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "snakemake", "jsonschema", "jinja2",
            "pyyaml", "openpyxl")


def sha256(path) -> str:
    """SHA-256 of a file's bytes, as hex.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    str
    """
    return file_sha256(path)


def input_provenance(records: Mapping[str, Mapping[str, str]],
                     on_disk: Sequence[str | os.PathLike]) -> tuple[list[dict], list[str]]:
    """The inputs of a run as its jobs read them, against the files on disk now.

    Parameters
    ----------
    records : Mapping
        Job -> its record of the data files it read, path -> SHA-256 of the bytes it parsed
        (:func:`metapool.inputs.recorded`, ``results/<plan>/inputs/<job>.json``).
    on_disk : sequence of path
        The data files of the run (the extraction tables and the vocabulary file); a file that no job read is
        listed with the digest of its bytes now.

    Returns
    -------
    rows : list of dict
        One per file, sorted by path: ``path``, ``sha256`` (the digest the results were computed from, the one on
        disk for a file no job read), ``jobs`` (the jobs that read it), ``read`` (whether a job read it),
        ``current`` (whether the file on disk has that digest).
    problems : list of str
        One plain sentence per file whose bytes on disk differ from those the results were computed from (or
        that the jobs read in more than one version, or that is gone): the results are out of date.
    """
    read: dict[str, dict[str, list[str]]] = {}  # path -> digest -> jobs
    for job, record in sorted(records.items()):
        for path, digest in record.items():
            read.setdefault(path, {}).setdefault(digest, []).append(job)
    rows, problems = [], []
    for path in sorted(set(read) | {str(p) for p in on_disk}):
        try:
            now = sha256(path)
        except OSError:
            now = None
        versions = read.get(path, {})
        if not versions:
            rows.append({"path": path, "sha256": now or "", "jobs": [], "read": False, "current": now is not None})
            continue
        digest = sorted(versions)[0]
        rows.append({"path": path, "sha256": " / ".join(sorted(versions)), "read": True,
                     "jobs": sorted(job for jobs in versions.values() for job in jobs),
                     "current": len(versions) == 1 and now == digest})
        if len(versions) > 1:
            seen = "; ".join(f"SHA-256 {d} by {', '.join(jobs)}" for d, jobs in sorted(versions.items()))
            problems.append(f"{path} was read in {len(versions)} different versions by the jobs of this run ({seen}): "
                            "these results mix them. Run the workflow again to compute every result from the file "
                            "as it is now.")
        elif now is None:
            problems.append(f"{path} is no longer on disk; the results were computed from the file with SHA-256 "
                            f"{digest}.")
        elif now != digest:
            problems.append(f"{path} on disk (SHA-256 {now}) is not the file these results were computed from "
                            f"(SHA-256 {digest}): it changed after it was read. Run the workflow again to compute the "
                            "results from the file as it is now.")
    return rows, problems


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages the workflow uses (:data:`PACKAGES`), ``"not installed"`` for
    a package that is not.

    Returns
    -------
    dict of str to str
        Package name -> version, ``python`` first.
    """
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit() -> str:
    """The git commit of the checkout that holds this engine, or why it is unknown.

    Returns
    -------
    str
        The commit hash, or ``"unknown (...)"`` when git is not available or this is not a git checkout.
    """
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return res.stdout.strip() if res.returncode == 0 else "unknown (not a git checkout)"
