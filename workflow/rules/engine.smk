# Where the engine (the Python package metapool, workflow/metapool/) comes from. Snakemake parses this workflow
# with the engine (the checks of the plan and of the tables, the analysis specs), so it must be importable in the
# environment that runs Snakemake, before the other files of workflow/rules import it. It is taken from:
#
# - when the workflow is a local folder (a checkout, `snakedeploy deploy-workflow` from a path, a `module`
#   whose `snakefile:` is a path), the workflow's own source, <workflow>/workflow/metapool: Snakemake puts the
#   folder of workflow/Snakefile first on the search path, so that copy is imported even where another one is
#   installed (it is appended here too when no copy is importable). The jobs see it as well: Snakemake gives
#   every script job the search path of the process that parsed the workflow;
# - else (a module fetched from GitHub or GitLab), the copy installed there (`pip install`); without one,
#   parsing stops and says what to install.
#
# The engine's own dependencies (numpy, pandas, jsonschema, ...) are never fetched from here: when one is
# missing, parsing stops naming it and the install command (engine_import_error), not with a traceback.
#
# ENGINE_SOURCE is the workflow's source as pip reads it: the checkout's root folder (pyproject.toml), or the
# repository at the module's tag (git+https://github.com/<owner>/<repo>@<tag>). It is exported as METAPOOL_SOURCE
# (unless already set) for `--sdm conda`: workflow/envs/metapool.post-deploy.sh installs the engine from it.
import importlib.util
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.sourcecache import LocalGitFile, LocalSourceFile
from snakemake_interface_executor_plugins.settings import DeploymentMethod

_rules = workflow.current_basedir  # this file's folder, workflow/rules, as a Snakemake source file
ENGINE_IS_LOCAL = isinstance(_rules, LocalSourceFile) and not isinstance(_rules, LocalGitFile)
if ENGINE_IS_LOCAL:
    ENGINE_SOURCE = str(Path(_rules.get_path_or_uri(secret_free=True)).resolve().parents[1])
elif isinstance(_rules, LocalGitFile):
    ENGINE_SOURCE = f"git+file://{os.path.abspath(_rules.repo_path)}@{_rules.ref}"
else:  # a hosted repository (snakemake.sourcecache.HostingProviderFile: github(...), gitlab(...))
    ENGINE_SOURCE = f"git+https://{getattr(_rules, 'host', None) or 'github.com'}/{_rules.repo}@{_rules.ref}"
os.environ.setdefault("METAPOOL_SOURCE", ENGINE_SOURCE)


def engine_import_error(err):
    """The WorkflowError that replaces the ModuleNotFoundError ``err`` raised by importing the engine at parse
    time: which module is missing, in which interpreter, and the command that installs the engine with its
    dependencies there."""
    install = f"{sys.executable} -m pip install '{ENGINE_SOURCE}'"
    if err.name == "metapool" or (err.name or "").startswith("metapool."):
        return WorkflowError(
            "The workflow's engine, the Python package metapool, is not installed in the environment that runs "
            f"Snakemake ({sys.executable}), and the workflow ({ENGINE_SOURCE}) is not a local folder it could be "
            f"imported from. Install it there:\n    {install}"
        )
    return WorkflowError(
        f"The workflow's engine (metapool, {Path(metapool_origin()).parent}) needs the Python module "
        f"'{err.name}', which is not installed in the environment that runs Snakemake ({sys.executable}). "
        f"Install the engine with its dependencies there:\n    {install}"
    )


def metapool_origin():
    spec = importlib.util.find_spec("metapool")
    return spec.origin if spec is not None else "not importable"


if importlib.util.find_spec("metapool") is None and ENGINE_IS_LOCAL:
    sys.path.append(str(Path(ENGINE_SOURCE) / "workflow"))
try:
    import metapool
except ModuleNotFoundError as _err:
    raise engine_import_error(_err) from None
