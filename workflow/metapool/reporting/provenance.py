"""Provenance of a run: checksums of its inputs, versions of the packages, the git commit of the workflow."""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import subprocess
from pathlib import Path

__all__ = ["PACKAGES", "sha256", "package_versions", "git_commit"]

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
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


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
