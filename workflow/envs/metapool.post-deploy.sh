#!/usr/bin/env bash
# Run once by Snakemake inside the new environment of metapool.yaml (--sdm conda): installs the engine (the
# metapool package) from the workflow's own source, METAPOOL_SOURCE, set by the workflow while Snakemake parses
# it (workflow/rules/engine.smk):
# - a local workflow (a checkout; a module or a deployment from a path): its root folder, installed editable,
#   so that the environment runs the source the jobs' rerun triggers hash;
# - a module fetched from a repository: git+https://github.com/<owner>/<repo>@<tag>, installed as released.
# Its dependencies are the environment's (--no-deps); setuptools, pyproject.toml's build backend, is one of them.
set -euo pipefail
source="${METAPOOL_SOURCE:?METAPOOL_SOURCE is not set: create this environment through the workflow (snakemake --sdm conda)}"
if [ -d "$source" ]; then
    python -m pip install --no-deps --no-build-isolation --editable "$source"
else
    python -m pip install --no-deps --no-build-isolation "$source"
fi
python -c "import metapool.steps"
