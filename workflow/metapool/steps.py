"""The workflow's steps as plain functions of paths, so that each job (:mod:`metapool.jobs`) is one call.

Nothing here imports Snakemake; each function reads its inputs, calls the
engine and writes its outputs atomically. An analysis arrives as an
:class:`~metapool.spec.AnalysisSpec` (a job rebuilds it from its rule's
params with :meth:`~metapool.spec.AnalysisSpec.from_params`). Each step
imports the engine modules it uses when it runs, so that a run loads only what
it needs (a plan without figures never loads matplotlib).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .display import using_p_style
from .io import read_tsv, write_tsv
from .spec import AnalysisSpec
from .vocabulary import BAYES_TEXT_COLUMNS

__all__ = [
    "estimates_step", "concat_step", "studies_step", "audit_step", "pool_step", "forest_step", "funnel_step", "loo_step",
    "flow_step", "sensitivity_step", "sequential_step", "multiverse_step", "spec_curve_step", "analyses_batch_step",
    "workbook_step", "report_step", "network_step", "network_figures_step", "risk_of_bias_step", "release_step",
    "changes_step", "MULTIVERSE_TEXT_COLUMNS",
]

PathLike = str | os.PathLike

# text columns of results/<plan>/multiverse/<analysis>.tsv and of its summary
MULTIVERSE_TEXT_COLUMNS = ["analysis", "title", "outcome", "measure", "assessor", "design", "retrospective",
                           "verification", "report_policy", "transform", "method", "ci_method", "tau_prior",
                           "study_ids", "notes"]
# text columns of an analysis's studies.tsv beyond those of the per-study estimates
_STUDY_TEXT = ("label", "reason", "status", "se_note", "subgroup")


def _text_columns(*extra: str) -> list[str]:
    from .analysis.estimates import TEXT_COLUMNS

    return TEXT_COLUMNS + list(extra)


def _read_estimate_table(path: PathLike, *extra_text: str) -> pd.DataFrame:
    """A per-study estimate table: its known text columns and the tables' extra columns as text (as written in
    the extraction tables, so that a filter value matches the same cell at parse time and in a job)."""
    from .analysis.estimates import extra_estimate_columns

    header = pd.read_csv(path, sep="\t", nrows=0)
    if hasattr(path, "seek"):  # a text buffer: read it again from its start
        path.seek(0)
    return read_tsv(path, text_columns=_text_columns(*extra_text) + extra_estimate_columns(header))


def _formats(outputs: Sequence[PathLike]) -> tuple[Path, list[str]]:
    """The common stem of ``outputs`` (one figure in several formats) and their formats."""
    return Path(outputs[0]).with_suffix(""), [Path(p).suffix.lstrip(".") for p in outputs]


def estimates_step(studies: PathLike, table_path: PathLike, table: str, output: PathLike,
                   inputs_out: PathLike | None = None) -> None:
    """Validated extraction table -> per-study estimates (proportions without CIs: their level is the reader's,
    :func:`metapool.analysis.estimates.exact_cis`). ``inputs_out``: where to record the SHA-256 of every data
    file read (the two tables and the vocabulary file; :func:`metapool.inputs.recorded`)."""
    from .analysis.estimates import hr_estimates, response_estimates, survival_estimates
    from .analysis.validation import read_table, validate_tables
    from .inputs import recorded

    with recorded(inputs_out):
        tables = validate_tables({"studies": studies, table: table_path})
        if table == "hazard_ratios":  # the printed strings give the precision for the CI-centring check
            frame = hr_estimates(tables["studies"], tables[table], printed=read_table(table_path, table))
        elif table == "response":
            frame = response_estimates(tables["studies"], tables[table], level=None)
        else:
            frame = survival_estimates(tables["studies"], tables[table])
    write_tsv(frame, output)


def concat_step(inputs: Sequence[PathLike], output: PathLike) -> None:
    """Stack tables of the same kind (per-study estimates, pooled rows); columns that only some tables have
    (the extraction tables' extra columns) are empty in the others. Tables that share one header (the pooled rows
    of a plan's analyses) are parsed as one text: one parse, not one per table (a plan of thousands of
    analyses), giving the same file as parsing each and stacking them."""
    import io

    texts = [Path(p).read_text(encoding="utf-8") for p in inputs]
    if len(texts) > 1 and len({text.partition("\n")[0] for text in texts}) == 1:
        body = "".join(text.partition("\n")[2] for text in texts)
        frame = _read_estimate_table(io.StringIO(texts[0].partition("\n")[0] + "\n" + body))
    else:
        frame = pd.concat([_read_estimate_table(io.StringIO(text)) for text in texts], ignore_index=True)
    write_tsv(frame, output)


def studies_step(inputs: Sequence[PathLike], level: float, output: PathLike) -> None:
    """The per-study estimate tables stacked (:func:`concat_step`), the proportions with exact CIs at ``level``
    (the config's ``study_level``; :func:`metapool.analysis.estimates.exact_cis`):
    ``results/<plan>/tables/studies.tsv``."""
    from .analysis.estimates import exact_cis

    frames = [_read_estimate_table(p) for p in inputs]
    write_tsv(exact_cis(pd.concat(frames, ignore_index=True), level), output)


def audit_step(response: PathLike | None, output: PathLike, inputs_out: PathLike | None = None) -> None:
    """Printed percentages and CIs against the values recomputed from the counts (no rows without a
    ``response`` table); ``inputs_out``: where to record the SHA-256 of the table read
    (:func:`metapool.inputs.recorded`)."""
    from .analysis.audit import AUDIT_COLUMNS, audit_response
    from .analysis.validation import read_table
    from .inputs import recorded

    with recorded(inputs_out):
        frame = pd.DataFrame(columns=AUDIT_COLUMNS) if response is None else audit_response(
            read_table(response, "response"))
    write_tsv(frame, output)


def _read_estimates(estimates: PathLike | Sequence[PathLike], *extra_text: str) -> pd.DataFrame:
    paths = [estimates] if isinstance(estimates, (str, os.PathLike)) else list(estimates)
    return pd.concat([_read_estimate_table(p, *extra_text) for p in paths], ignore_index=True)


def pool_step(estimates: PathLike | Sequence[PathLike], spec: AnalysisSpec, studies_out: PathLike,
              pooled_out: PathLike) -> None:
    """One configured analysis, from one per-study estimate table or several (stacked)."""
    from .analysis.run import run_analysis

    studies, pooled = run_analysis(_read_estimates(estimates), spec)
    write_tsv(studies, studies_out)
    write_tsv(pooled, pooled_out)


def forest_step(studies: PathLike, pooled: PathLike, outputs: Sequence[PathLike], p_style: str | None = None,
                sort: str = "data", subgroups: PathLike | None = None, bayes: PathLike | None = None,
                risk_of_bias: Sequence[PathLike] | None = None, rob: Mapping | None = None) -> None:
    """Forest plot of one analysis in every format named by ``outputs`` (same stem), its p-values in ``p_style``
    (the config's ``p_values``), its studies in the order ``sort`` (the analysis's ``forest_sort``), each
    subgroup's heterogeneity from its ``subgroups.tsv`` when it has one, and with ``bayes`` (its ``bayes.tsv``)
    the shrinkage estimates and posteriors of its Bayesian fit. With ``risk_of_bias`` (the data folder's
    ``risk_of_bias.tsv`` and ``studies.tsv``) and ``rob`` (``outcome``: the outcome code; ``comparative``), the
    RevMan-style risk-of-bias columns of the analysis's ``forest_rob`` option
    (:func:`metapool.analysis.risk_of_bias.analysis_judgements`)."""
    from .figures.plots import analysis_forest

    text = _text_columns()
    fits = read_tsv(subgroups, text_columns=_text_columns("subgroup", "group", "test", "notes")) if subgroups else None
    fit = read_tsv(bayes, text_columns=BAYES_TEXT_COLUMNS) if bayes else None
    frame = read_tsv(studies, text_columns=text)
    judged = None
    if risk_of_bias and rob:
        from .analysis.risk_of_bias import analysis_judgements, read_risk_of_bias

        judged = analysis_judgements(read_tsv(studies, text_columns=_text_columns(*_STUDY_TEXT)),
                                     read_risk_of_bias(*risk_of_bias), rob["outcome"], rob["comparative"])
    with using_p_style(p_style):
        analysis_forest(frame, read_tsv(pooled, text_columns=text), *_formats(outputs),
                        sort=sort, subgroups=fits, bayes=fit, rob=judged)


def risk_of_bias_step(studies: PathLike, risk_of_bias: PathLike, data_studies: PathLike, outcome: str,
                      comparative: bool, title: str, traffic_outputs: Sequence[PathLike],
                      summary_outputs: Sequence[PathLike], inputs_out: PathLike | None = None) -> None:
    """The traffic-light plot and the weighted summary plot of one analysis's risk-of-bias judgements, each in every
    format named by its outputs (same stem): the analysis's included studies (its ``studies.tsv``, their own
    weights) with their judgements of ``outcome`` (the outcome code) in ``risk_of_bias`` (validated against the
    data folder's ``data_studies``), by the tools for comparisons when ``comparative``, else by those for single
    arms (:func:`metapool.analysis.risk_of_bias.analysis_judgements`). ``inputs_out``: where to record the
    SHA-256 of the data files read (:func:`metapool.inputs.recorded`)."""
    from .analysis.risk_of_bias import analysis_judgements, read_risk_of_bias
    from .figures.risk_of_bias import summary_figure, traffic_light_figure
    from .figures.style import save_figure
    from .inputs import recorded

    with recorded(inputs_out):
        table = read_risk_of_bias(risk_of_bias, data_studies)
    judged = analysis_judgements(read_tsv(studies, text_columns=_text_columns(*_STUDY_TEXT)), table, outcome,
                                 comparative)
    for figure, outputs in ((traffic_light_figure(judged, title), traffic_outputs),
                            (summary_figure(judged, title), summary_outputs)):
        stem, formats = _formats(outputs)
        save_figure(figure, stem, formats)


def funnel_step(studies: PathLike, pooled: PathLike, spec: AnalysisSpec, outputs: Sequence[PathLike],
                p_style: str | None = None) -> None:
    """Funnel plot of one analysis (its ``studies.tsv`` and ``pooled.tsv``) in every format named by ``outputs``
    (same stem); Egger's line is fitted with the model of ``spec``, its p-value in ``p_style``."""
    from .figures.funnel import analysis_funnel

    text = _text_columns(*_STUDY_TEXT)
    with using_p_style(p_style):
        analysis_funnel(read_tsv(studies, text_columns=text), read_tsv(pooled, text_columns=text), spec,
                        *_formats(outputs))


def loo_step(leave_one_out: PathLike, pooled: PathLike, outputs: Sequence[PathLike]) -> None:
    """Leave-one-out plot of one analysis in every format named by ``outputs`` (same stem)."""
    from .figures.loo import analysis_loo

    text = _text_columns("label", "reason")
    analysis_loo(read_tsv(leave_one_out, text_columns=text), read_tsv(pooled, text_columns=text),
                 *_formats(outputs))


def flow_step(estimates: PathLike | Sequence[PathLike], analysis_studies: PathLike, pooled: PathLike,
              spec: AnalysisSpec, table_out: PathLike, outputs: Sequence[PathLike]) -> None:
    """``flow.tsv`` and the study-flow diagram of one analysis in every format named by ``outputs`` (same stem).

    ``estimates`` is the per-study estimate table the analysis reads (a path), or several (stacked): those of
    its outcome only, so that editing another extraction table reruns nothing here.
    """
    from .analysis.flow import flow_frame, study_flow
    from .figures.flow import flow_diagram
    from .figures.style import save_figure

    text = _text_columns(*_STUDY_TEXT)
    st = read_tsv(analysis_studies, text_columns=text)
    row = read_tsv(pooled, text_columns=text).iloc[0].to_dict()
    participants = row.get("participants")
    participants = float(participants) if isinstance(participants, (int, float)) else math.nan
    flow = study_flow(_read_estimates(estimates, *_STUDY_TEXT), st, spec, participants)
    write_tsv(flow_frame(flow), table_out)
    stem, formats = _formats(outputs)
    save_figure(flow_diagram(flow, title=str(row.get("title", ""))), stem, formats=tuple(formats))


def sensitivity_step(estimates: PathLike | Sequence[PathLike], spec: AnalysisSpec, outputs: Mapping[str, PathLike],
                     pooled: PathLike | None = None) -> None:
    """The sensitivity tables of one analysis: ``outputs`` maps each kind (``subgroups``, ``moderators``,
    ``leave_one_out``, ``influence``, ``cumulative``, ``small_study``) to its path. With ``pooled`` (the
    analysis's pooled.tsv) the refit is checked to pool the same number of studies, so that the tables
    describe that result."""
    from .analysis.run import prepare_analysis
    from .analysis.diagnostics import sensitivity_frames

    data = prepare_analysis(_read_estimates(estimates), spec)
    if pooled is not None:
        k = int(read_tsv(pooled, text_columns=_text_columns())["k"].iloc[0])
        if k != data.k:
            raise ValueError(f"analysis '{spec.name}': {pooled} pools {k} studies, the refit {data.k}: "
                             "rerun its pooling first")
    for kind, table in sensitivity_frames(data, list(outputs)).items():
        write_tsv(table, outputs[kind])


def sequential_step(estimates: PathLike | Sequence[PathLike], spec: AnalysisSpec, cumulative: PathLike,
                    pooled: PathLike, table_out: PathLike, cumulative_outputs: Sequence[PathLike],
                    sequential_outputs: Sequence[PathLike], releases: PathLike) -> None:
    """Cumulative evidence over time of one analysis: ``sequential.tsv`` (the trial sequential view,
    exploratory: :func:`metapool.analysis.sequential.sequential_frame` of its ``cumulative.tsv``), the cumulative
    forest plot with the releases in the folder ``releases`` marked, and the trial sequential plot, each in every
    format named by its outputs (same stem)."""
    from .analysis.diagnostics import CUMULATIVE_COLUMNS
    from .analysis.run import prepare_analysis
    from .analysis.release import read_releases
    from .analysis.sequential import sequential_frame
    from .figures.cumulative import analysis_cumulative, analysis_sequential

    marks = read_releases(releases)
    text = _text_columns("label", "reason")
    cum = read_tsv(cumulative, text_columns=text)
    if list(cum.columns) != CUMULATIVE_COLUMNS:
        raise ValueError(f"{cumulative}: not a cumulative table (columns {list(cum.columns)})")
    data = prepare_analysis(_read_estimates(estimates), spec)
    frame = sequential_frame(cum, spec, data.included_effects()[1])
    write_tsv(frame, table_out)
    row = read_tsv(pooled, text_columns=text)
    analysis_cumulative(cum, marks, row, *_formats(cumulative_outputs))
    analysis_sequential(frame, row, *_formats(sequential_outputs))


def _multiverse(frame: pd.DataFrame, spec: AnalysisSpec, table_out: PathLike, summary_out: PathLike) -> None:
    from .analysis.multiverse import run_multiverse

    result = run_multiverse(frame, spec)
    write_tsv(result.table, table_out)
    write_tsv(result.summary, summary_out)


def multiverse_step(estimates: PathLike | Sequence[PathLike], spec: AnalysisSpec, table_out: PathLike,
                    summary_out: PathLike) -> None:
    """Every specification of one analysis's multiverse (``spec`` with its ``multiverse``)."""
    _multiverse(_read_estimates(estimates), spec, table_out, summary_out)


def spec_curve_step(table: PathLike, summary: PathLike, outputs: Sequence[PathLike],
                    pooled: PathLike | None = None) -> None:
    """The specification curve of one multiverse in every format named by ``outputs`` (same stem); with
    ``pooled`` (the analysis's pooled.tsv) its estimate as configured is marked."""
    from .figures.spec_curve import spec_curve

    tab = read_tsv(table, text_columns=MULTIVERSE_TEXT_COLUMNS)
    summ = read_tsv(summary, text_columns=MULTIVERSE_TEXT_COLUMNS)
    reference = None
    if pooled is not None:
        reference = float(read_tsv(pooled, text_columns=_text_columns())["estimate"].iloc[0])
    spec_curve(tab, summ, *_formats(outputs), title=str(summ.iloc[0]["title"]), reference=reference)


def analyses_batch_step(estimates: Mapping[str, PathLike], config: Mapping, outputs: Mapping[str, PathLike]) -> None:
    """Several analyses in one process: each one's pooling (``studies``, ``pooled``), sensitivity tables and
    multiverse (``multiverse``, ``multiverse_summary``).

    ``outputs`` maps ``"<analysis>::<kind>"`` to the path of that table; the analyses are resolved from the
    workflow ``config`` (:func:`metapool.analysis.config.analysis_specs`). ``estimates`` maps each extraction
    table (``response``, ``survival``, ``hazard_ratios``) to its per-study estimates; each table is read once,
    each analysis is prepared once for its pooling and its sensitivity tables, and analyses that differ only
    in their model (method, CI, prediction interval) share one selection of studies
    (:attr:`metapool.spec.AnalysisSpec.selection_key`).
    """
    import sys
    import time
    from dataclasses import replace

    start = time.perf_counter()
    from .analysis.config import analysis_specs
    from .analysis.diagnostics import sensitivity_frames
    from .analysis.run import prepare_analysis, run_analysis

    specs = analysis_specs(config)
    layout: dict[str, dict[str, PathLike]] = {}
    for key, path in outputs.items():
        name, kind = key.split("::")
        layout.setdefault(name, {})[kind] = path
    tables = {name: _read_estimate_table(path) for name, path in estimates.items()}
    frames: dict[tuple, pd.DataFrame] = {}
    prepared: dict[tuple, object] = {}  # analyses that differ only in their model share their selection
    for name, paths in layout.items():
        spec = specs[name]
        if spec.tables not in frames:
            frames[spec.tables] = pd.concat([tables[t] for t in spec.tables], ignore_index=True)
        frame = frames[spec.tables]
        pooling = spec.pooling_only()
        key = pooling.selection_key
        if key not in prepared:
            prepared[key] = prepare_analysis(frame, pooling)
        data = replace(prepared[key], spec=pooling)
        studies, pooled = run_analysis(frame, pooling, data=data)
        write_tsv(studies, paths["studies"])
        write_tsv(pooled, paths["pooled"])
        kinds = [k for k in paths if k not in ("studies", "pooled", "multiverse", "multiverse_summary")]
        data = replace(data, spec=replace(pooling, bayes=spec.bayes))  # the Bayesian fit reads its priors
        for kind, table in sensitivity_frames(data, kinds).items():
            write_tsv(table, paths[kind])
        if "multiverse" in paths:
            _multiverse(frame, spec, paths["multiverse"], paths["multiverse_summary"])
    print(f"{len(layout)} analyses ({len(prepared)} distinct selections of studies) in "
          f"{time.perf_counter() - start:.1f} s", file=sys.stderr)


def network_step(estimates: PathLike | Sequence[PathLike], studies: PathLike, spec: AnalysisSpec,
                 outputs: Mapping[str, PathLike], survival: PathLike | None = None,
                 inputs_out: PathLike | None = None) -> None:
    """One network analysis (:func:`metapool.analysis.network.run_network`): ``outputs`` maps ``studies``,
    ``league``, ``treatment_effects``, ``ranking``, ``heterogeneity``, ``node_split`` and ``transitivity``
    to their paths; ``studies`` is the data folder's studies.tsv (the comparator arms, the trials'
    populations); ``survival`` the per-study survival estimates, whose ``n`` gives each arm's participants
    (the network graph's node sizes). ``node_split`` has a row per comparison in a loop (a header only when
    there is none). ``inputs_out``: where to record the SHA-256 of the data file read (``studies``;
    :func:`metapool.inputs.recorded`)."""
    from .analysis.network import arm_sizes, run_network
    from .analysis.validation import read_table
    from .inputs import recorded
    from .vocabulary import outcome

    sizes = arm_sizes(_read_estimate_table(survival), outcome(spec.outcome).code) if survival else None
    with recorded(inputs_out):
        arms = read_table(studies, "studies")
    out = run_network(_read_estimates(estimates), spec, arms, sizes)
    for kind, frame in (("studies", out.studies), ("league", out.league), ("treatment_effects", out.effects),
                        ("ranking", out.ranking), ("heterogeneity", out.heterogeneity), ("node_split", out.split),
                        ("transitivity", out.transitivity)):
        write_tsv(frame, outputs[kind])


def network_figures_step(studies: PathLike, league: PathLike, effects: PathLike, ranking: PathLike,
                         spec: AnalysisSpec, outputs: Mapping[str, Sequence[PathLike]]) -> None:
    """The network graph (``graph``), the league-table figure (``league``) and the forest plot against the
    reference (``forest``) of one network analysis, each in the formats named by ``outputs[kind]``."""
    from .vocabulary import NETWORK_TEXT_COLUMNS as text
    from .figures.network import effects_forest, league_figure, network_graph, node_table
    from .figures.style import save_figure

    st = read_tsv(studies, text_columns=text)
    st = st[st["status"] == "pooled"]
    reference, level = spec.network.reference, spec.model.level
    model = {"EE": "common effect", "REML": "random effects (REML)",
             "DL": "random effects (generalised DerSimonian-Laird)"}[spec.model.method]
    edges, nodes = node_table(st)
    figures = {
        "graph": network_graph(edges, nodes, reference=reference, title=spec.title),
        "league": league_figure(read_tsv(league, text_columns=text),
                                read_tsv(ranking, text_columns=text)["treatment"].tolist(),
                                title=f"{spec.title}: league table ({model})", level=level),
        "forest": effects_forest(read_tsv(effects, text_columns=text), reference=reference, title=spec.title,
                                 model_label=model, level=level),
    }
    for kind, fig in figures.items():
        stem, formats = _formats(outputs[kind])
        save_figure(fig, stem, formats=tuple(formats))


def workbook_step(sheets: Mapping[str, PathLike], output: PathLike) -> None:
    """Every result table in one XLSX workbook: ``sheets`` maps each sheet title to its TSV
    (:func:`metapool.reporting.workbook.write_workbook`)."""
    from .reporting.workbook import write_workbook

    write_workbook(sheets, output)


def summary_tables_step(analyses: Mapping[str, Mapping[str, PathLike]], csv_outputs: Mapping[str, PathLike],
                        docx_output: PathLike, p_style: str | None = None) -> None:
    """One formatted summary table per analysis as CSV and all of them in one Word document: ``analyses`` maps
    each analysis to its ``studies`` and ``pooled`` tables (and the order of its studies, ``sort``: its
    ``forest_sort``), ``csv_outputs`` to its CSV, p-values in ``p_style``
    (:func:`metapool.reporting.summary.write_summary_tables`)."""
    from .reporting.summary import write_summary_tables

    with using_p_style(p_style):
        write_summary_tables(analyses, csv_outputs, docx_output)


def summary_of_findings_step(analyses: Mapping[str, Mapping], data_studies: PathLike, csv_output: PathLike,
                             tsv_output: PathLike, risk_of_bias: PathLike | None = None) -> None:
    """The summary-of-findings table of a run, with the GRADE certainty of each analysis
    (:func:`metapool.analysis.certainty.certainty_rows`), as CSV and TSV.

    ``analyses`` maps each analysis to ``spec`` (:meth:`AnalysisSpec.to_params`, with its ``certainty:`` block)
    and the paths of its ``studies``, ``pooled`` and, when it has them, ``subgroups`` and
    ``small_study`` tables; ``data_studies`` is the data folder's studies.tsv (the designs); ``risk_of_bias`` its
    risk-of-bias table, when it has one (the overall judgements,
    :func:`metapool.analysis.risk_of_bias.overall_judgements`; without it risk of bias is "not assessed").
    """
    from .analysis.certainty import certainty_rows, certainty_spec
    from .analysis.risk_of_bias import overall_judgements, read_risk_of_bias
    from .analysis.diagnostics import SMALL_STUDY_COLUMNS
    from .io import atomic_write_text

    designs = read_tsv(data_studies, text_columns=["study_id", "design"])
    designs = dict(zip(designs["study_id"], designs["design"]))
    judgements = overall_judgements(read_risk_of_bias(risk_of_bias, data_studies)) if risk_of_bias else None
    frames = []
    for name, entry in analyses.items():
        spec = AnalysisSpec.from_params(entry["spec"])
        text = _text_columns(*_STUDY_TEXT)
        studies = read_tsv(entry["studies"], text_columns=text)
        pooled = read_tsv(entry["pooled"], text_columns=text + ["title", "question", "outcome", "measure",
                                                                "comparator", "direction", "notes"])
        subgroups = (read_tsv(entry["subgroups"], text_columns=["analysis", "subgroup", "group", "test", "notes"])
                     if entry.get("subgroups") else None)
        small = (read_tsv(entry["small_study"], text_columns=[c for c in SMALL_STUDY_COLUMNS
                                                              if c in ("analysis", "test", "side", "method", "reason")])
                 if entry.get("small_study") else None)
        frames.append(certainty_rows(spec, certainty_spec(spec.certainty, f"analyses.{name}.certainty"),
                                     studies, pooled, designs, subgroups=subgroups, small_study=small,
                                     judgements=judgements))
    table = pd.concat(frames, ignore_index=True)
    write_tsv(table, tsv_output)
    atomic_write_text(csv_output, table.to_csv(index=False, lineterminator="\n"))


def report_step(*, template: PathLike, config: Mapping, analyses: Mapping[str, AnalysisSpec],
                data: Sequence[PathLike], studies: PathLike, audit: PathLike, pooled: PathLike,
                layout: Mapping[str, Mapping[str, str]], workbook: PathLike, output: PathLike,
                networks: Mapping[str, AnalysisSpec] | None = None,
                network_layout: Mapping[str, Mapping[str, str]] | None = None, read: Sequence[PathLike] = (),
                sof: PathLike | None = None, changes: PathLike | None = None, release: PathLike | None = None,
                releases: Sequence[PathLike] = ()) -> None:
    """The self-contained HTML report of a run (:func:`metapool.reporting.page.build_report`).

    ``template`` is the Jinja2 template, ``config`` the workflow config as run and ``analyses`` its analyses
    (name -> spec); ``data`` are the data files (extraction tables, vocabulary file), ``read`` the records of
    what the jobs read from them (:func:`metapool.inputs.recorded`: the checksums the provenance lists, and a
    warning for a file on disk that differs), ``studies``, ``audit`` and
    ``pooled`` the run's tables; ``layout`` maps each analysis to kind -> path of its tables and figures, and
    ``workbook`` is the XLSX of every table; ``networks`` are the network analyses (name -> spec) and
    ``network_layout`` maps each to kind -> path of its tables and figures; ``sof`` is the summary-of-findings
    table (:func:`summary_of_findings_step`); ``changes`` what changed since the release file ``release``
    (:func:`changes_step`), and ``releases`` every release file of the evidence.
    """
    from .reporting.page import build_report

    with using_p_style(config.get("p_values")):  # the config's p-value style (metapool.display)
        build_report(template=template, config=config, analyses=analyses, data=list(data), studies=studies,
                     audit=audit, pooled=pooled, layout=layout, workbook=workbook, output=output, networks=networks,
                     network_layout=network_layout, read=list(read), sof=sof, changes=changes, release=release,
                     releases=list(releases))


def _release_of(name: str, date: str, config: Mapping, data: Mapping[str, PathLike],
                analyses: Mapping[str, Mapping[str, PathLike]], networks: Mapping[str, PathLike] | None = None,
                certainty: PathLike | None = None) -> dict:
    """The release `name` of the current evidence: each data table (keyed by its schema's ``x-key``), each
    analysis's pooled and per-study numbers and certainty, and each network's ranking
    (:func:`metapool.analysis.release.build_release`)."""
    from .analysis.release import build_release
    from .analysis.validation import load_schema

    tables = {table: (path, load_schema(table)["x-key"]) for table, path in data.items()}
    return build_release(name, date, config, tables, analyses, networks=networks, certainty=certainty)


def release_step(name: str, date: str, config: Mapping, data: Mapping[str, PathLike],
                 analyses: Mapping[str, Mapping[str, PathLike]], output: PathLike,
                 networks: Mapping[str, PathLike] | None = None, certainty: PathLike | None = None) -> None:
    """Record the release `name` (dated `date`) of the data tables ``data`` (table -> path) and the results
    ``analyses`` (analysis -> its ``pooled`` and ``studies`` tables), ``networks`` (network -> its ranking.tsv)
    and ``certainty`` (summary_of_findings.tsv) in ``output``, one JSON file."""
    from .analysis.release import dumps
    from .io import atomic_write_bytes

    atomic_write_bytes(output, dumps(_release_of(name, date, config, data, analyses, networks, certainty)))


def changes_step(release: PathLike, config: Mapping, data: Mapping[str, PathLike],
                 analyses: Mapping[str, Mapping[str, PathLike]], specs: Mapping[str, AnalysisSpec],
                 output: PathLike, networks: Mapping[str, PathLike] | None = None,
                 certainty: PathLike | None = None) -> None:
    """``changes.tsv``: the reports added, removed or edited, the pooled numbers and certainty ratings that moved
    and the network rankings that changed since the release file ``release``, with the conclusion flags
    (:func:`metapool.analysis.release.changes`); the analyses that did not move get one ``unchanged`` row each."""
    from .analysis.release import CHANGE_COLUMNS, changes, read_release

    old = read_release(release)
    new = _release_of(old["name"], old["date"], config, data, analyses, networks, certainty)
    thresholds = {name: (spec.no_effect, spec.decision_threshold) for name, spec in specs.items()}
    rows, unchanged = changes(old, new, thresholds)
    rows += [{"kind": "analysis", "table": "", "key": name, "change": "unchanged", "field": "", "old": "", "new": "",
              "source": "", "flags": ""} for name in unchanged]
    write_tsv(pd.DataFrame(rows, columns=CHANGE_COLUMNS), output)
