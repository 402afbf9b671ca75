# Validation of the config and of every data table (before any job runs), and the
# input functions of the other rule files. Snakemake parses this on every invocation (a no-op
# rerun included), so only light modules are imported here: no scipy, no matplotlib; and the checks,
# which take about 0.1 s, are skipped when nothing they read has changed since they last passed.
import csv
import glob
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

import metapool  # located by engine.smk: installed, or the workflow's own source
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config

try:
    from metapool.analysis.config import (
        SCHEMA_PATH,
        ConfigError,
        analysis_specs,
        batches,
        check_config,
        data_problems,
        fill_defaults,
        typed_overrides,
    )
    from metapool.declared import vocabulary_path
    from metapool.inputs import file_sha256
    from metapool.vocabulary import (
        DATA_TABLES,
        ESTIMATE_MEASURES,
        FIGURE_FORMATS as _FIGURE_FORMATS,
        RISK_OF_BIAS_TABLE,
        ROB_ALL_OUTCOMES,
        ROB_TOOLS,
        SENSITIVITY_KINDS,
    )
    from metapool.vocabulary import outcome as config_outcome
except ModuleNotFoundError as _err:
    raise engine_import_error(_err) from None


def end_of_run():
    """Cancel the timers Snakemake's job scheduler left waiting. It re-reads its queue on a ``threading.Timer`` of
    its rate limit (``--max-jobs-per-timespan``, 1 s by default; a shorter timespan is not accepted: "100ms"
    parses as 100 minutes), and the timer is not a daemon thread, so Python waits for the last one before it
    exits: up to a second after the last job. When the run is over (``onsuccess``, ``onerror``) nothing needs
    them."""
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()


def layer_checksums(root):
    """Layer -> checksum of its Python files, for the metapool package at ``root`` (the copy the jobs import):
    one layer per sub-package (stats, analysis, figures, reporting, ...) and ``shared`` for the top-level
    modules (vocabulary.py, io.py, steps.py, ...) that every job loads. Snakemake's code trigger sees only a
    job's script, not the modules it imports; a layer's checksum in the params of the jobs that import it
    reruns them when it changes, and only them. Hashing bytes is cheap: nothing is imported."""
    digests = {}
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        layer = relative.parts[0] if len(relative.parts) > 1 else "shared"
        data = path.read_bytes()
        digest = digests.setdefault(layer, hashlib.sha256())
        digest.update(f"{relative.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return {layer: digest.hexdigest()[:12] for layer, digest in sorted(digests.items())}


PACKAGE = Path(metapool.__file__).parent
CODE = layer_checksums(PACKAGE)


def engine_code(*layers):
    """The rerun trigger of a job that imports these layers of metapool, and the shared modules every job
    imports: "layer:checksum" of each, sorted (readable in Snakemake's records, so that a rerun says which
    layer changed). Name every layer the job's step imports, directly or not: a job that loads a layer its
    trigger leaves out is not rerun when that layer changes (tests/workflow/test_rerun.py checks each job)."""
    unknown = set(layers) - set(CODE)
    if unknown:
        raise WorkflowError(f"engine_code: no layer {sorted(unknown)} in {PACKAGE} (layers: {sorted(CODE)})")
    return " ".join(f"{layer}:{CODE[layer]}" for layer in sorted({"shared", *layers}))


def table_schema(table):
    """The schema an estimates job validates ``table`` against, from the imported package: an input, so that
    editing it reruns the job. Relative to the working directory when the package lies below it (the
    workflow's own: Snakemake's records then do not depend on where the checkout is), else absolute (an
    installed package). The config schema is no job's input: no job reads it; what it gives the jobs (the
    defaults filled in here, the options it admits) reaches them through their params, and the checks'
    digest covers it."""
    return package_file(PACKAGE / "schemas" / f"{table}.schema.yaml")


def package_file(path):
    """``path`` (a file of the package, or of the workflow) relative to the working directory when it lies below
    it, else absolute (see table_schema)."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def workflow_file(relative):
    """A file of the workflow, ``relative`` to workflow/rules/ (``"../report/report.html.j2"``), as a job's input:
    for a local workflow (a checkout, a module or a deployment from a path) its path (package_file: relative
    to the working directory when the workflow lies below it, so that Snakemake's records do not depend on
    where the checkout is; absolute for a module in another folder); for a module fetched from a repository,
    Snakemake's cached copy (workflow.source_path)."""
    if ENGINE_IS_LOCAL:
        return package_file(Path(ENGINE_SOURCE) / "workflow" / "rules" / relative)
    return workflow.source_path(relative)


# --config KEY={...} or KEY=[...]: Snakemake reads the nested values as text (YAML's BaseLoader); read them
# again as YAML (numbers, booleans), merged the way Snakemake merges them
try:
    update_config(config, typed_overrides(workflow.config_settings.config_args))
except ConfigError as err:
    raise WorkflowError(str(err)) from None
config.update(fill_defaults(config))
# every output of the plan under results/<plan>/ (the schema's pattern keeps the name a plain folder name; the
# checks below refuse any other name before OUT is used)
OUT = f"results/{config['plan']}"
DATA = {table: str(Path(str(config.get("data_dir", "data"))) / f"{table}.tsv") for table in DATA_TABLES}
# the tables a reviewer brought: studies.tsv always (its absence is reported by the checks), the outcome tables
# and the risk-of-bias table whose file exists; an analysis that needs an absent table is refused by the checks
# (data_problems); without risk_of_bias.tsv no risk-of-bias figure is drawn
PRESENT = {table: path for table, path in DATA.items() if table == "studies" or Path(path).is_file()}
# the vocabulary file the tables and the config are checked against: <data_dir>/vocabulary.yaml, else the
# package's ALK default (metapool.declared)
_vocabulary = vocabulary_path(config.get("data_dir", "data"))
VOCABULARY = package_file(_vocabulary) if _vocabulary.is_relative_to(PACKAGE) else str(_vocabulary)


def has_rows(path):
    """Whether a table file has a data row below its header (read as bytes: nothing is parsed here)."""
    return any(line.strip() for line in Path(path).read_bytes().splitlines()[1:])


_SHA256 = {}


def sha256_of(path):
    """SHA-256 of a file's bytes, read once per parse (metapool.inputs.file_sha256: the digest the jobs record of
    what they read)."""
    key = str(path)
    if key not in _SHA256:
        _SHA256[key] = file_sha256(key)
    return _SHA256[key]


def data_digests(*paths):
    """The rerun trigger of a job that reads these data files: "path:sha256" of each, sorted. Snakemake records a
    job's params when it runs and reruns it when they differ (its default rerun triggers include params), so a job
    reruns when a file it reads has other bytes than when it ran, whatever the modification times say (a file
    edited while the job ran, or given an old time with touch -d). The job records the digest of the bytes it
    actually parsed beside its outputs (metapool.inputs), the report's provenance lists those, and the next run
    reruns a job that read other bytes than the file holds: its params still carry the digest computed here,
    before the edit. `--rerun-triggers mtime` turns this off (README.md)."""
    return " ".join(f"{path}:{sha256_of(path)}" for path in sorted({str(p) for p in paths}))


def checks_digest():
    """Digest of everything the checks read: the config as run, the data tables, the schemas and the code that
    checks (metapool.analysis.config and .validation, the shared vocabulary), None when a file cannot be
    read: the checks then run and say why."""
    try:
        digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode())
        digest.update(engine_code("analysis").encode())
        for path in [*PRESENT.values(), VOCABULARY, *sorted(SCHEMA_PATH.parent.glob("*.yaml"))]:
            digest.update(f"{path}\0{sha256_of(path)}\0".encode())
    except (OSError, TypeError):
        return None
    return digest.hexdigest()


def run_checks():
    """1. the config: schema (unknown keys and values, with suggestions), then contradictory options;
    2. the data tables, then every analysis's filters against them. Stops with every problem at once."""
    try:
        from metapool.analysis.validation import DataValidationError, validate_tables
    except ModuleNotFoundError as err:
        raise engine_import_error(err) from None

    try:
        specs = check_config(config)
    except ConfigError as err:
        raise WorkflowError(str(err)) from None
    try:
        tables = validate_tables(PRESENT)
        tables.pop(RISK_OF_BIAS_TABLE, None)  # no analysis filters on it
        problems = data_problems(specs, tables, config["data_dir"])
    except DataValidationError as err:
        raise WorkflowError(str(err)) from None
    if problems:
        raise WorkflowError("\n".join(problems))
    return specs


CHECKED = Path(".snakemake") / "metapool" / "checks_passed"
_digest = checks_digest()
if _digest is not None and CHECKED.is_file() and CHECKED.read_text() == _digest:
    ALL_SPECS = analysis_specs(config)  # these very inputs passed every check before
else:
    ALL_SPECS = run_checks()
    if _digest is not None:
        try:
            CHECKED.parent.mkdir(parents=True, exist_ok=True)
            CHECKED.with_suffix(f".{os.getpid()}").write_text(_digest)
            os.replace(CHECKED.with_suffix(f".{os.getpid()}"), CHECKED)
        except OSError:
            pass

# the network analyses (`network:`; workflow/rules/network.smk) and the pairwise ones (SPECS: every other rule)
NETWORKS = {name: spec for name, spec in ALL_SPECS.items() if spec.is_network}
SPECS = {name: spec for name, spec in ALL_SPECS.items() if not spec.is_network}

# the per-study estimate tables made: those of the outcome tables an analysis reads, and of every other outcome
# table with rows (listed in results/<plan>/tables/studies.tsv); a header-only table no analysis reads gets no job
ESTIMATE_TABLES = [
    table
    for table in ESTIMATE_MEASURES
    if table in PRESENT and (has_rows(PRESENT[table]) or any(table in spec.tables for spec in ALL_SPECS.values()))
]

# SPECS: name -> metapool.spec.AnalysisSpec. What each job gets, as plain data (AnalysisSpec.to_params): the
# analysis without its sensitivity list and multiverse (ANALYSES, the params of the pooling job, so that
# editing a multiverse or the sensitivity list does not rerun the pooling); the sensitivity tables; the
# multiverses
ANALYSES = {name: spec.pooling_only().to_params() for name, spec in SPECS.items()}
SENSITIVITY = {name: spec.sensitivity_tables for name, spec in SPECS.items()}
MULTIVERSES = [name for name, spec in SPECS.items() if spec.multiverse is not None]
# analyses_per_job > 1: consecutive analyses share one job (workflow/rules/batch.smk), their forest plots another
BATCHES = batches(SPECS, config["analyses_per_job"]) if config["analyses_per_job"] > 1 else []
_BATCHED = {name for members in BATCHES for name in members}
UNBATCHED = [name for name in ANALYSES if name not in _BATCHED]


def say(text):
    """A job's one-line console message (``Job 12: forest plot of orr_post_second_gen``) in place of its block
    of files and wildcards; none under --verbose, which prints the block."""
    settings = getattr(workflow, "output_settings", None)
    return None if settings is not None and settings.verbose else text


def run_job(name, rule, input, output, params, wildcards, log):
    """Run a job of ``rule`` in this process: the function ``name`` of metapool.jobs (the Snakemake boundary) on
    the job's files and params. profiles/default sets force-use-threads, so that Snakemake runs these jobs in
    threads of its own process, which imports the engine once (without it each job starts a Snakemake process of
    its own)."""
    from types import SimpleNamespace

    from metapool.jobs import run

    run(name, SimpleNamespace(rule=rule, input=input, output=output, params=params, wildcards=wildcards, log=log))


# the formats every figure is saved in (`figure_formats`): SVG first (the report embeds it), then PDF and PNG
FIGURE_FORMATS = [fmt for fmt in _FIGURE_FORMATS if fmt in config["figure_formats"]]


def figure_files(stem, caption=None, category=None, labels=None):
    """The files of one figure, results/<plan>/figures/<stem>.<format> in FIGURE_FORMATS; the SVG marked for
    `snakemake --report` under ``category`` with ``caption`` and ``labels`` when a caption is given."""
    files = [f"{OUT}/figures/{stem}.{fmt}" for fmt in FIGURE_FORMATS]
    if caption is not None:
        files[0] = report(files[0], caption=caption, category=category, labels=labels)
    return files


def one_of(names):
    """A wildcard regex matching exactly the given names (nothing when there are none)."""
    return "|".join(names) if names else "(?!)"


wildcard_constraints:
    analysis=one_of(ANALYSES),
    network=one_of(NETWORKS),
    table="|".join(ESTIMATE_MEASURES),


def estimates_for(wildcards):
    """The per-study estimate tables an analysis pools (two for a ratio of medians: survival and the HR arm links)."""
    return [f"{OUT}/tables/{table}_estimates.tsv" for table in SPECS[wildcards.analysis].tables]


def forest_plots(ext):
    return expand(f"{OUT}/figures/forest_{{analysis}}.{{ext}}", analysis=ANALYSES, ext=ext)


def sensitivity_tables(analysis):
    """kind -> path of the sensitivity tables of one analysis (subgroups.tsv when it has a subgroup, and the
    kinds of its `sensitivity:` list)."""
    return {kind: f"{OUT}/analyses/{analysis}/{kind}.tsv" for kind in SENSITIVITY[analysis]}


def all_sensitivity_tables():
    return [path for name in ANALYSES for path in sensitivity_tables(name).values()]


def multiverse_tables(analysis):
    """The multiverse table and its summary (analyses with a `multiverse:` block)."""
    return {
        "multiverse": f"{OUT}/multiverse/{analysis}.tsv",
        "multiverse_summary": f"{OUT}/multiverse/{analysis}_summary.tsv",
    }


def all_multiverse_tables():
    return [path for name in MULTIVERSES for path in multiverse_tables(name).values()]


def spec_curves(ext):
    return expand(f"{OUT}/figures/spec_curve_{{analysis}}.{{ext}}", analysis=MULTIVERSES, ext=ext)


def table_targets():
    """Every table (no figures, no report): `snakemake tables`."""
    return [
        f"{OUT}/tables/studies.tsv",
        f"{OUT}/tables/audit.tsv",
        f"{OUT}/tables/pooled.tsv",
        *all_sensitivity_tables(),
        *all_multiverse_tables(),
        *all_network_tables(),
    ]


def all_targets():
    return [
        *table_targets(),
        *forest_plots(FIGURE_FORMATS),
        *spec_curves(FIGURE_FORMATS),
        *all_network_figures(FIGURE_FORMATS),
        f"{OUT}/report.html",
    ]


# ---------------------------------------------------------------- used by network.smk

# the tables of a network analysis (results/<plan>/analyses/<analysis>/) and its figures
NETWORK_TABLES = ("studies", "league", "treatment_effects", "ranking", "heterogeneity", "node_split", "transitivity")
NETWORK_FIGURES = ("graph", "league", "forest")


def network_tables(name):
    """kind -> path of the tables of one network analysis."""
    return {kind: f"{OUT}/analyses/{name}/{kind}.tsv" for kind in NETWORK_TABLES}


def network_figures(name, ext="svg"):
    """kind -> path of the figures of one network analysis (network_graph_, network_league_, network_forest_)."""
    return {kind: f"{OUT}/figures/network_{kind}_{name}.{ext}" for kind in NETWORK_FIGURES}


def all_network_tables():
    return [path for name in NETWORKS for path in network_tables(name).values()]


def all_network_figures(exts):
    return [path for name in NETWORKS for ext in exts for path in network_figures(name, ext).values()]


# ---------------------------------------------------------------- used by sensitivity.smk


def sensitivity_rule_name(kinds):
    if kinds == SENSITIVITY_KINDS:
        return "sensitivity"
    if kinds == ("subgroups", *SENSITIVITY_KINDS):
        return "sensitivity_with_subgroups"
    return "sensitivity_" + "_".join(kinds)


SENSITIVITY_RULES = {}
for _name, _kinds in SENSITIVITY.items():
    if _kinds:
        SENSITIVITY_RULES.setdefault(_kinds, []).append(_name)


# ---------------------------------------------------------------- used by sequential.smk and report.smk

# the summary-of-findings table with the GRADE certainty of each analysis (metapool.analysis.certainty; report.smk),
# which a release records (release.smk)
SOF_CSV = f"{OUT}/tables/summary_of_findings.csv"
SOF_TSV = f"{OUT}/tables/summary_of_findings.tsv"

# analyses with a cumulative table: their trial sequential view and cumulative figures; the releases of the evidence
# (<releases_dir>/*.json, release.smk) marked
CUMULATIVE_PLOTS = [name for name in ANALYSES if "cumulative" in SENSITIVITY[name]]
RELEASES_DIR = str(config.get("releases_dir", "releases"))


def sequential_params(name):
    """The analysis with its decision threshold (`important_effect`), the params of its sequential job."""
    spec = SPECS[name]
    return replace(spec.pooling_only(), important_effect=spec.important_effect).to_params()


def sequential_outputs(name, ext):
    return [f"{OUT}/figures/cumulative_{name}.{ext}", f"{OUT}/figures/tsa_{name}.{ext}"]


# ---------------------------------------------------------------- used by multiverse.smk


def sensitivity_params(name):
    """The analysis with its Bayesian fit (`bayes:`), the params of its sensitivity job."""
    spec = SPECS[name]
    return replace(spec.pooling_only(), bayes=spec.bayes).to_params()


def multiverse_params(name):
    """The analysis with its multiverse, without its sensitivity list (editing it reruns no multiverse)."""
    spec = SPECS[name]
    return replace(spec.pooling_only(), multiverse=spec.multiverse).to_params()


# ---------------------------------------------------------------- used by batch.smk


def batch_layout(name):
    """kind -> path of every table the pooling, sensitivity and multiverse jobs of one analysis write."""
    layout = {"studies": f"{OUT}/analyses/{name}/studies.tsv", "pooled": f"{OUT}/analyses/{name}/pooled.tsv"}
    layout.update(sensitivity_tables(name))
    if name in MULTIVERSES:
        layout.update(multiverse_tables(name))
    return layout


def batch_outputs(members):
    """ "<analysis>::<kind>" -> path of every table of the analyses of one batch job."""
    return {f"{name}::{kind}": path for name in members for kind, path in batch_layout(name).items()}


def batch_digest(members):
    """A digest of what the analyses of one batch job compute (their pooling options, sensitivity tables and
    multiverses): the job's rerun trigger."""
    specs = {name: [multiverse_params(name), SENSITIVITY[name], sensitivity_params(name)] for name in members}
    return hashlib.sha256(json.dumps(specs, sort_keys=True, default=str).encode()).hexdigest()[:16]


def batch_rob_inputs(members):
    """The risk-of-bias table and the studies table, when an analysis of the batch has `forest_rob` (else none)."""
    return next((files[:2] for files in map(forest_rob_inputs, members) if files), [])


def batch_forest_inputs(members):
    """ "<analysis>::<kind>" -> what the forest plots of one batch read: each analysis's studies.tsv, pooled.tsv and,
    when it has them, its subgroups.tsv and bayes.tsv; `rob_table` and `rob_studies` (batch_rob_inputs)."""
    inputs = {}
    for name in members:
        inputs[f"{name}::studies"] = f"{OUT}/analyses/{name}/studies.tsv"
        inputs[f"{name}::pooled"] = f"{OUT}/analyses/{name}/pooled.tsv"
        for kind in ("subgroups", "bayes"):
            if kind in SENSITIVITY[name]:
                inputs[f"{name}::{kind}"] = sensitivity_tables(name)[kind]
    inputs.update(zip(("rob_table", "rob_studies"), batch_rob_inputs(members)))
    return inputs


def batch_forest_outputs(members):
    """ "<analysis>" -> the forest plot of each analysis of one batch, in every figure format."""
    return {
        name: figure_files(
            f"forest_{name}",
            caption="../report/forest.rst",
            category="Forest plots",
            labels={"analysis": name, "figure": "forest plot"},
        )
        for name in members
    }


def batch_forest_params(members):
    """ "<analysis>" -> [forest_sort, the risk-of-bias columns (forest_rob_params)] of each analysis of one batch."""
    return {name: [SPECS[name].forest_sort, forest_rob_params(name)] for name in members}


def batch_estimates(members):
    tables = sorted({table for name in members for table in SPECS[name].tables})
    return {table: f"{OUT}/tables/{table}_estimates.tsv" for table in tables}


# ---------------------------------------------------------------- used by risk_of_bias.smk, figures.smk, report.smk


def judged_results():
    """(comparative, outcome) pairs the risk-of-bias table judges (read as text: it passed the checks)."""
    if RISK_OF_BIAS_TABLE not in PRESENT:
        return set()
    with open(PRESENT[RISK_OF_BIAS_TABLE], encoding="utf-8-sig", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return {(ROB_TOOLS[r["tool"]].comparative, r["outcome"]) for r in rows if r.get("tool") in ROB_TOOLS}


_JUDGED = judged_results()
ROB_PLOTS = [
    name
    for name, spec in SPECS.items()
    if {(spec.comparative, config_outcome(spec.outcome).code), (spec.comparative, ROB_ALL_OUTCOMES)} & _JUDGED
]


def rob_figures(name, ext="svg"):
    """kind -> path of the risk-of-bias figures of one analysis."""
    return {kind: f"{OUT}/figures/{kind}_{name}.{ext}" for kind in ("rob_traffic_light", "rob_summary")}


def forest_rob_inputs(name):
    """The data files the forest plot of ``name`` reads for its risk-of-bias columns (forest_rob: true)."""
    if not SPECS[name].forest_rob or RISK_OF_BIAS_TABLE not in PRESENT:
        return []
    return [DATA[RISK_OF_BIAS_TABLE], DATA["studies"], VOCABULARY]


def forest_rob_params(name):
    """What the forest plot's risk-of-bias columns show (the outcome code, whether a comparison), None without."""
    if not forest_rob_inputs(name):
        return None
    spec = SPECS[name]
    return {"outcome": config_outcome(spec.outcome).code, "comparative": spec.comparative}
