"""The Snakemake boundary: one function per rule, run inside the Snakemake process.

Each rule of ``workflow/rules/`` ends in
``run: run_job("<name>", rule, input, output, params, wildcards, log)`` (``workflow/rules/common.smk``), which
calls :func:`run` here: the function ``<name>`` below reads the job's named files and params and makes one call
to :mod:`metapool.steps`. Nothing here imports Snakemake: a job is any object with the attributes ``rule``,
``input``, ``output``, ``params``, ``wildcards`` and ``log`` (Snakemake's named lists; a
:class:`types.SimpleNamespace` in the tests). The two batch rules of ``analyses_per_job`` are the exception:
each batch, hundreds of analyses, runs as a process of its own (``workflow/scripts/``), so that batches use every
core, and passes Snakemake's job object to :func:`run`.

Why in the Snakemake process and not one Python process per job (a ``script:``): a job's arithmetic takes
milliseconds and drawing a figure a tenth of a second, while a new interpreter importing numpy, scipy, pandas
and matplotlib takes one to two seconds; the default plan's ninety-odd jobs spent most of a cold run starting up
(bench/RESULTS.md, "Where the time of a cold run goes"). With ``force-use-threads`` (``profiles/default``)
Snakemake runs these jobs in threads of its own process, which imports the engine once. The engine is written for
that: the data files a job reads are recorded per thread (:mod:`metapool.inputs`), the p-value style is a context
variable (:mod:`metapool.display`) and every figure is drawn and saved under one lock
(:func:`metapool.figures.style.figure_style`), matplotlib's settings being global.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["JOBS", "run"]


def _spec(params: dict):
    from .spec import AnalysisSpec

    return AnalysisSpec.from_params(params)


def _specs(params: dict) -> dict:
    return {name: _spec(p) for name, p in params.items()}


def _first(files) -> str | None:
    return files[0] if files else None


def estimates(job) -> None:
    from .steps import estimates_step

    estimates_step(job.input.studies, job.input.table, job.wildcards.table, job.output[0], job.output.inputs)


def audit(job) -> None:
    from .steps import audit_step

    audit_step(_first(job.input.response), job.output[0], job.output.inputs)


def studies_table(job) -> None:
    from .steps import studies_step

    studies_step(list(job.input), job.params.level, job.output[0])


def concat_tables(job) -> None:
    from .steps import concat_step

    concat_step(list(job.input), job.output[0])


def pool(job) -> None:
    from .steps import pool_step

    pool_step(job.input.estimates, _spec(job.params.spec), job.output.studies, job.output.pooled)


def forest(job) -> None:
    from .steps import forest_step

    rob = job.params.rob
    forest_step(job.input.studies, job.input.pooled, list(job.output.figure), job.params.p_values, job.params.sort,
                job.input.subgroups or None, bayes=_first(job.input.bayes),
                risk_of_bias=job.input.risk_of_bias[:2] if rob else None, rob=rob)


def funnel(job) -> None:
    from .steps import funnel_step

    funnel_step(job.input.studies, job.input.pooled, _spec(job.params.spec), list(job.output.figure),
                job.params.p_values)


def leave_one_out_plot(job) -> None:
    from .steps import loo_step

    loo_step(job.input.leave_one_out, job.input.pooled, list(job.output.figure))


def flow(job) -> None:
    from .steps import flow_step

    flow_step(list(job.input.estimates), job.input.studies, job.input.pooled, _spec(job.params.spec),
              job.output.table, list(job.output.figure))


def sensitivity(job) -> None:
    """The sensitivity tables of one analysis (subgroups, leave-one-out, influence, cumulative, small-study
    effects, the Bayesian fit; the named outputs say which)."""
    from .steps import sensitivity_step

    sensitivity_step(job.input.estimates, _spec(job.params.spec), dict(job.output.items()), pooled=job.input.pooled)


def sequential(job) -> None:
    from .steps import sequential_step

    sequential_step(job.input.estimates, _spec(job.params.spec), job.input.cumulative, job.input.pooled,
                    job.output.table, list(job.output.cumulative), list(job.output.tsa), job.params.releases)


def multiverse(job) -> None:
    from .steps import multiverse_step

    multiverse_step(job.input.estimates, _spec(job.params.spec), job.output.table, job.output.summary)


def spec_curve(job) -> None:
    from .steps import spec_curve_step

    spec_curve_step(job.input.table, job.input.summary, list(job.output.figure), pooled=job.input.pooled)


def analyses_batch(job) -> None:
    """The tables of the analyses of one batch (a ``script:`` job: Snakemake's job object, with the config)."""
    from .steps import analyses_batch_step

    analyses_batch_step(dict(job.input.items()), job.config, dict(job.output.items()))


def forest_batch(job) -> None:
    """The forest plots of the analyses of one batch (a ``script:`` job), each as the ``forest`` rule draws it."""
    from .steps import forest_step

    rob_files = [job.input.rob_table, job.input.rob_studies] if job.input.get("rob_table") else None
    for name, (sort, rob) in job.params.forests.items():
        forest_step(job.input[f"{name}::studies"], job.input[f"{name}::pooled"], list(job.output[name]),
                    job.params.p_values, sort, job.input.get(f"{name}::subgroups"),
                    bayes=job.input.get(f"{name}::bayes"), risk_of_bias=rob_files if rob else None, rob=rob)


def network(job) -> None:
    from .steps import network_step

    network_step(list(job.input.estimates), job.input.studies, _spec(job.params.spec),
                 {kind: job.output[kind] for kind in job.output.keys() if kind != "inputs"},
                 job.input.get("survival"), job.output.inputs)


def network_figures(job) -> None:
    from .steps import network_figures_step

    network_figures_step(job.input.studies, job.input.league, job.input.effects, job.input.ranking,
                         _spec(job.params.spec),
                         {kind: list(job.output[kind]) for kind in ("graph", "league", "forest")})


def risk_of_bias_figures(job) -> None:
    from .steps import risk_of_bias_step

    risk_of_bias_step(job.input.studies, job.input.risk_of_bias, job.input.data_studies, job.params.outcome,
                      job.params.comparative, job.params.title, list(job.output.traffic_light),
                      list(job.output.summary), job.output.inputs)


def summary_tables(job) -> None:
    from .steps import summary_tables_step

    summary_tables_step(job.params.analyses, job.params.csv, job.output.docx, job.params.p_values)


def summary_of_findings(job) -> None:
    from .steps import summary_of_findings_step

    summary_of_findings_step(job.params.analyses, job.input.data_studies, job.output.csv, job.output.tsv,
                             _first(job.input.risk_of_bias))


def workbook(job) -> None:
    from .steps import workbook_step

    workbook_step(job.params.sheets, job.output[0])


def report(job) -> None:
    from .steps import report_step

    changes = job.input.changes
    report_step(template=job.input.template, config=job.params.config, analyses=_specs(job.params.analyses),
                data=job.input.data, studies=job.input.studies, audit=job.input.audit, pooled=job.input.pooled,
                layout=job.params.layout, workbook=job.input.workbook, output=job.output[0],
                networks=_specs(job.params.networks), network_layout=job.params.network_layout,
                read=job.input.read, sof=job.input.sof, changes=changes[0] if changes else None,
                release=changes[1] if changes else None, releases=job.input.releases)


def release(job) -> None:
    from .steps import release_step

    release_step(job.params.name, job.params.date, job.params.config, job.params.data, job.params.analyses,
                 job.output[0], networks=job.params.networks, certainty=job.input.certainty)


def changes(job) -> None:
    from .steps import changes_step

    changes_step(job.input.release, job.params.config, job.params.data, job.params.analyses,
                 _specs(job.params.specs), job.output[0], networks=job.params.networks,
                 certainty=job.input.certainty)


#: the function of each rule, by the rule's name
JOBS: dict[str, Callable[[Any], None]] = {
    f.__name__: f
    for f in (estimates, audit, studies_table, concat_tables, pool, forest, funnel, leave_one_out_plot, flow,
              sensitivity, sequential, multiverse, spec_curve, analyses_batch, forest_batch, network, network_figures,
              risk_of_bias_figures, summary_tables, summary_of_findings, workbook, report, release, changes)
}


def run(name: str, job) -> None:
    """Run the job of rule ``name`` (:data:`JOBS`).

    The job's log file (``job.log[0]``) is written afresh: empty when the job succeeds, the traceback when it
    fails (the exception is raised again, so that Snakemake reports the job as failed and shows the log).

    Parameters
    ----------
    name : str
        The job's function in :data:`JOBS` (the rule ``pooled_table`` runs :func:`concat_tables`).
    job : object
        ``rule``, ``input``, ``output``, ``params``, ``wildcards`` and ``log`` of the job.
    """
    log = Path(job.log[0]) if job.log else None
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("", encoding="utf-8")
    try:
        JOBS[name](job)
    except BaseException:
        if log is not None:
            log.write_text(traceback.format_exc(), encoding="utf-8")
        raise
