"""The self-contained HTML report: every table and figure of a run, its methods and provenance.

The report follows the PRISMA 2020 items of a synthesis (Page et al. BMJ
2021;372:n71; items 13d-22): synthesis methods generated from the config as
run, then per analysis the study flow, the included reports with every number
linked to its source and location, the forest plot, the pooled result in
words, heterogeneity interpreted with the Cochrane Handbook's bands (section
10.10.2), subgroups, sensitivity analyses, and small-study effects (or why
they were not assessed).

Rendered with Jinja2 with autoescaping on, so text from the data or the config
is always shown as text (a study label ``<script>...</script>`` stays text).
Figures are embedded as data URIs; the page loads nothing and runs no script.
The output has no timestamps, so that the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from ..analysis.estimates import TEXT_COLUMNS
from ..inputs import read_record
from ..io import atomic_write_text, read_tsv
from ..spec import AnalysisSpec
from ..stats.heterogeneity import i2_from_q
from ..vocabulary import SENSITIVITY_KINDS, outcome
from .methods import REFERENCES, bayes_methods, methods_text, network_methods, synthesis_methods
from .. import __version__
from ..display import overall_effect_text, p_text, upper_first
from .changes import release_list, what_changed
from .provenance import git_commit, input_provenance, package_versions, sha256
from .tables import read_result, records
from .words import (
    fmt_estimate, format_p, heterogeneity_bands, heterogeneity_interpretation, is_finite, is_median_of_medians,
    is_missing, loo_summary, result_sentence, small_study_summary, bayes_fits,
)

__all__ = ["build_report", "discover_layout"]

def _data_uri(path) -> str:
    payload = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/svg+xml;base64,{payload}"


def _flagged(df):
    """Hazard ratios not at the centre of their CI beyond what rounding explains (``ci_not_centred``)."""
    if "ci_not_centred" not in df.columns:
        return df.iloc[0:0]
    return df[df["ci_not_centred"].astype(str).str.lower() == "true"]


def _subgroup_rows(st) -> list[dict]:
    """One row per subgroup from the analysis's studies.tsv (when subgroups.tsv is not there)."""
    if "subgroup" not in st.columns or not (st["subgroup"] != "").any():
        return []
    shown = st[st["status"] != "set_aside"]
    rows = []
    for g, grp in shown.groupby("subgroup", sort=True):
        first = {k: (None if is_missing(v) else v) for k, v in grp.iloc[0].to_dict().items()}
        rows.append({
            "group": g, "reports": int(len(grp)), "k": 0 if first["subgroup_k"] is None else int(first["subgroup_k"]),
            "participants": None, "estimate": first["subgroup_estimate"], "ci_lower": first["subgroup_ci_lower"],
            "ci_upper": first["subgroup_ci_upper"], "pi_lower": None, "pi_upper": None,
            "tau2": first["subgroup_tau2"], "i2": first["subgroup_i2"], "q": None, "q_pvalue": None, "notes": "",
        })
    return rows


_FIGURES = {"forest": "forest", "funnel": "funnel", "loo": "loo", "flow_figure": "flow", "spec_curve": "spec_curve",
            "rob_traffic_light": "rob_traffic_light", "rob_summary": "rob_summary",
            "cumulative_figure": "cumulative", "sequential_figure": "tsa"}


def discover_layout(analysis_tables: Sequence, figures: Sequence = ()) -> dict[str, dict[str, str]]:
    """Per analysis, kind -> path of every file of a finished run that the report shows, found next to its
    ``results/<plan>/analyses/<analysis>/studies.tsv`` and the folder of the forest plots (files that exist only).

    Parameters
    ----------
    analysis_tables : sequence of path
        The ``studies.tsv`` of each analysis.
    figures : sequence of path
        Files in the folder of the figures (default: ``figures`` next to ``analyses`` in ``results/<plan>/``).

    Returns
    -------
    dict
        Analysis name -> kind (as for :func:`build_report`) -> path.
    """
    fig_dirs = {Path(f).parent for f in figures}
    layout: dict[str, dict[str, str]] = {}
    for table in analysis_tables:
        folder = Path(table).parent
        name = folder.name
        files = {"studies": str(table)}
        for kind in ("pooled", "flow", "subgroups", "bayes", "sequential", *SENSITIVITY_KINDS):
            if (folder / f"{kind}.tsv").exists():
                files[kind] = str(folder / f"{kind}.tsv")
        multi = folder.parent.parent / "multiverse"
        for kind, fname in (("multiverse", f"{name}.tsv"), ("multiverse_summary", f"{name}_summary.tsv")):
            if (multi / fname).exists():
                files[kind] = str(multi / fname)
        for kind, stem in _FIGURES.items():
            for d in fig_dirs or {folder.parent.parent / "figures"}:
                if (d / f"{stem}_{name}.svg").exists():
                    files[kind] = str(d / f"{stem}_{name}.svg")
        layout[name] = files
    return layout


def _is_http(url: str) -> bool:
    return bool(re.match(r"https?://", url or ""))


def _source(row: Mapping | None) -> dict:
    if row is None:
        return {"url": "", "name": "", "location": ""}
    src = str(row.get("source") or "")
    return {"url": src if _is_http(src) else "", "name": src, "location": str(row.get("location") or "")}


def _included_rows(st: pd.DataFrame, spec: AnalysisSpec, estimates: pd.DataFrame) -> list[dict]:
    """The reports an analysis shows (pooled and not pooled), each number with its source and location."""
    code, measure = outcome(spec.outcome).code, spec.measure
    look = "median" if measure == "ratio_of_medians" else measure
    idx = {}
    for r in estimates.to_dict("records"):
        key = (r["study_id"], r["outcome"], r["measure"], r["assessor"],
               r.get("comparator", "") if r["measure"] == "hr" else "")
        idx.setdefault(key, r)
    out = []
    for r in records(st[st["status"] != "set_aside"]):
        comp = (r.get("comparator") or "") if measure == "hr" else ""
        src = idx.get((r["study_id"], code, look, r.get("assessor") or "", comp))
        arm = None
        if measure == "ratio_of_medians" and r.get("comparator_study_id"):
            arm = idx.get((r["comparator_study_id"], code, "median", r.get("assessor") or "", ""))
        out.append({**r, "src": _source(src), "comparator_src": _source(arm) if arm is not None else None})
    return out


def _section_table(path, *, drop_reason_only=True) -> tuple[list[dict], str]:
    """Rows of a sensitivity table and the reason when it has none (one row with only a reason)."""
    df = read_result(path)
    if drop_reason_only and "label" in df.columns:
        computed = df[df["label"] != ""]
        if computed.empty:
            return [], "; ".join(sorted(set(df["reason"].astype(str)) - {""})) or "not computed"
        df = computed
    return records(df), ""


def _why_missing(spec: AnalysisSpec, kind: str) -> str:
    if kind in SENSITIVITY_KINDS and not spec.overall:
        return (f"Not computed: {kind.replace('_', ' ')} perturbs the overall estimate, and this analysis shows "
                f"none (overall: false); see its subgroups.")
    if kind in SENSITIVITY_KINDS and kind not in spec.sensitivity:
        return (f"Not requested: the sensitivity list of this analysis in the config does not include "
                f"{kind}.")
    return "Not available in this run."


def _multiverse_summary(path, measure) -> dict | None:
    df = read_result(path)
    if df.empty:
        return None
    r = records(df)[0]
    r["measure"] = measure
    return r


def _analysis_section(name: str, row: dict, spec: AnalysisSpec, files: Mapping[str, str],
                      estimates: pd.DataFrame) -> dict:
    from ..analysis.flow import flow_from_frame

    st = read_result(files["studies"])
    measure = row["measure"]
    figures = {kind: (_data_uri(files[kind]) if kind in files else None) for kind in _FIGURES}
    section = {
        "name": name, "row": row, "spec": spec, "sentence": result_sentence(row),
        "heterogeneity": heterogeneity_interpretation(row), "methods": methods_text(spec),
        "figure": figures.get("forest"), "figures": figures,
        "left_out": records(st[st["status"] != "pooled"]),
        "se_notes": records(st[(st["status"] == "pooled") & (st["se_note"] != "")]),
        "flagged_hrs": records(_flagged(st)) if measure == "hr" else [],
        "included": _included_rows(st, spec, estimates),
        "bands": [what for _, _, what in heterogeneity_bands(row.get("i2"))],
        # I² of the test for subgroup differences, (Q - df) / Q (RevMan's; metafor's I² of a common-effect fit)
        "i2_between": (float(i2_from_q(row["q_between"], row["df_between"]))
                       if is_finite(row.get("q_between")) and is_finite(row.get("df_between"))
                       and row["df_between"] >= 1 else None),
    }
    # study flow
    section["flow"] = flow_from_frame(read_result(files["flow"])) if "flow" in files else None
    # subgroups
    if "subgroups" in files:
        sub = read_result(files["subgroups"])
        reports = st[st["status"] != "set_aside"].groupby("subgroup").size().to_dict() if "subgroup" in st else {}
        section["subgroups"] = [{**r, "reports": reports.get(r["group"])} for r in records(sub)]
    else:
        section["subgroups"] = _subgroup_rows(st)
    # meta-regression on the analysis's moderators (results/<plan>/analyses/<analysis>/moderators.tsv)
    section["moderators"] = records(read_result(files["moderators"])) if "moderators" in files else []
    # the Bayesian fit (results/<plan>/analyses/<analysis>/bayes.tsv): the priors and why, and each fit in words
    section["bayes"] = ({"methods": bayes_methods(spec), "fits": bayes_fits(records(read_result(files["bayes"])),
                                                                            measure)}
                        if "bayes" in files and spec.bayes is not None else None)
    # sensitivity tables: rows, or why there are none
    sens = {}
    for kind in SENSITIVITY_KINDS:
        if kind in files:
            rows, why = _section_table(files[kind], drop_reason_only=kind != "small_study")
            sens[kind] = {"rows": rows, "why": why}
        else:
            sens[kind] = {"rows": [], "why": _why_missing(spec, kind), "absent": True}
    if sens["leave_one_out"]["rows"]:
        sens["leave_one_out"]["summary"] = loo_summary(sens["leave_one_out"]["rows"], row)
    if sens["influence"]["rows"]:
        infl = [r for r in sens["influence"]["rows"] if str(r.get("influential")).lower() == "true"]
        sens["influence"]["summary"] = (
            f"Influential by metafor's criteria: {', '.join(r['label'] for r in infl)}." if infl
            else "No study is influential by metafor's criteria (Viechtbauer & Cheung 2010).")
    if sens["cumulative"]["rows"]:
        cum = [r for r in sens["cumulative"]["rows"] if is_finite(r.get("estimate"))]
        if cum:
            first, last = cum[0], cum[-1]
            sens["cumulative"]["summary"] = (
                f"Adding the studies by publication year, the pooled estimate went from "
                f"{fmt_estimate(first['estimate'], measure)} ({first['label']}) to "
                f"{fmt_estimate(last['estimate'], measure)} with all {int(last['k'])} studies.")
    # the trial sequential view (exploratory): its conclusion in words and its looks
    if "sequential" in files:
        from ..analysis.sequential import sequential_conclusion

        seq = read_result(files["sequential"])
        section["sequential"] = {"conclusion": sequential_conclusion(seq),
                                 "looks": records(seq[seq["look"].notna()]) if "look" in seq else []}
    else:
        from ..analysis.sequential import sequential_unavailable

        section["sequential"] = None
        section["sequential_why"] = sequential_unavailable(spec)
    if "small_study" in files:
        lines, why = small_study_summary(sens["small_study"]["rows"], row)
        sens["small_study"]["lines"], sens["small_study"]["why"] = lines, why
    else:
        sens["small_study"]["lines"] = []
    section["sensitivity"] = sens
    if "funnel" not in files:
        section["funnel_why"] = ("The median of medians has no per-study standard errors: no funnel plot."
                                 if is_median_of_medians(row) else
                                 "No overall estimate (overall: false): no funnel plot around it."
                                 if not spec.overall else "No funnel plot in this run.")
    section["multiverse"] = (_multiverse_summary(files["multiverse_summary"], measure)
                             if "multiverse_summary" in files else None)
    section["multiverse_why"] = ("" if section["multiverse"] else
                                 "No multiverse configured for this analysis (no multiverse block in the config).")
    return section


def _network_section(name: str, spec: AnalysisSpec, files: Mapping[str, str]) -> dict:
    """What the report shows of one network analysis: its figures, league table, ranking (with the caveat),
    heterogeneity, inconsistency and the trials' settings and populations side by side."""
    from ..analysis.network import RANKING_CAVEAT
    from ..vocabulary import NETWORK_TEXT_COLUMNS

    def table(kind):
        return read_tsv(files[kind], text_columns=NETWORK_TEXT_COLUMNS)

    het = {r["quantity"]: r for r in records(table("heterogeneity"))}
    designs = [dict(r, design=r["quantity"].removeprefix("q_design ")) for k, r in het.items()
               if k.startswith("q_design ")]
    ranking = table("ranking")
    order = ranking["treatment"].tolist()
    league = table("league")
    cells = {(r["treatment"], r["comparator"]): r for r in records(league)}
    grid = [[None if a == b else cells.get((b, a)) for b in order] for a in order]
    st = table("studies")
    effects = table("treatment_effects")
    return {
        "name": name, "spec": spec, "title": spec.title, "question": spec.question,
        "reference": spec.network.reference, "method": spec.model.method, "level": spec.model.level,
        "figures": {kind: _data_uri(files[kind]) for kind in ("graph", "league_figure", "forest")
                    if kind in files and Path(files[kind]).is_file()},
        "effects": records(effects), "notes": effects["notes"].iloc[0] if len(effects) else "",
        "ranking": records(ranking), "order": order,
        "league": grid, "caveat": RANKING_CAVEAT,
        "tau2": het["tau2"]["value"], "i2": het["i2"]["value"], "q": het["q_total"],
        "q_within": het["q_within_designs"], "q_between": het["q_between_designs"], "designs": designs,
        "split": records(table("node_split")), "transitivity": records(table("transitivity")),
        "set_aside": records(st[st["status"] != "pooled"]),
    }


def by_question(pooled: pd.DataFrame) -> pd.DataFrame:
    """The pooled rows ordered by the clinical question they answer: the analyses of one question together,
    the questions in the order they first appear, each analysis in its place otherwise (a stable sort);
    analyses without a question last.

    Parameters
    ----------
    pooled : pandas.DataFrame
        ``results/<plan>/tables/pooled.tsv`` (one row per analysis, in config order; ``question`` '' when not set).

    Returns
    -------
    pandas.DataFrame
        The same rows, reordered.
    """
    questions = pooled["question"].fillna("").astype(str) if "question" in pooled else pd.Series("", pooled.index)
    first = {}
    for q in questions:
        first.setdefault(q, len(first))
    rank = questions.map(lambda q: len(first) if q == "" else first[q])
    return pooled.iloc[rank.argsort(kind="mergesort").to_numpy()].reset_index(drop=True)


def summary_of_findings(path) -> tuple[list[dict], list[tuple[int, str]]]:
    """The report's summary-of-findings rows (``results/<plan>/tables/summary_of_findings.tsv``) and their
    footnotes, numbered in table order (Cochrane Handbook ch. 14): each row's ``notes`` are its footnote
    numbers."""
    from ..analysis.certainty import SOF_COLUMNS

    table = read_tsv(path, text_columns=SOF_COLUMNS)
    rows, notes = [], []
    for r in records(table):
        numbers = []
        for text in str(r["footnotes"]).split("; "):
            notes.append((len(notes) + 1, text))
            numbers.append(len(notes))
        rows.append({**r, "notes": numbers})
    return rows, notes


def build_report(*, template, config, analyses, data, studies, audit, pooled, output, analysis_tables=(),
                 figures=(), layout: Mapping[str, Mapping[str, str]] | None = None, workbook=None,
                 networks: Mapping[str, AnalysisSpec] | None = None,
                 network_layout: Mapping[str, Mapping[str, str]] | None = None, read=(), sof=None,
                 changes=None, release=None, releases=()) -> None:
    """Render ``results/<plan>/report.html`` from the run's tables and figures.

    ``layout`` maps each analysis to kind -> path of its files (``studies``,
    ``pooled``, ``flow``, ``subgroups``, ``leave_one_out``, ``influence``,
    ``cumulative``, ``small_study``, ``multiverse_summary``, and the SVG figures
    ``forest``, ``funnel``, ``loo``, ``flow_figure``, ``spec_curve``, ``rob_traffic_light``, ``rob_summary``); a section
    whose file is absent says why. Without ``layout`` the files are found
    next to ``analysis_tables`` and ``figures`` (:func:`discover_layout`).
    ``workbook`` (the XLSX of every table) is listed with its checksum.

    Parameters
    ----------
    template : str or os.PathLike
        The Jinja2 template (``workflow/report/report.html.j2``).
    config : Mapping
        The workflow config as run (shown as YAML).
    analyses : Mapping
        Analysis name -> its :class:`~metapool.spec.AnalysisSpec`.
    data : sequence of path
        The data files of the run (extraction tables, vocabulary file): each is compared with the version the
        jobs read (``read``), and a file that differs is named in a warning at the top of the report and in its
        provenance.
    studies, audit, pooled : str or os.PathLike
        ``results/<plan>/tables/studies.tsv``, ``audit.tsv`` and ``pooled.tsv`` (the report names the paths
        of ``pooled`` and ``workbook`` as given).
    output : str or os.PathLike
        The HTML file, written atomically.
    analysis_tables, figures : sequence of path
        Where to find the files of each analysis when ``layout`` is not given.
    layout : Mapping, optional
        Analysis name -> kind -> path.
    workbook : str or os.PathLike, optional
        The XLSX workbook of every table.
    networks : Mapping, optional
        Network analysis name -> its :class:`~metapool.spec.AnalysisSpec` (those among ``analyses`` are
        added): a section each after the pairwise analyses, for those in ``network_layout``.
    network_layout : Mapping, optional
        Network analysis name -> kind -> path (``studies``, ``league``, ``treatment_effects``, ``ranking``,
        ``heterogeneity``, ``node_split``, ``transitivity`` and the SVG figures ``graph``, ``league_figure``,
        ``forest``).
    read : sequence of path, optional
        The records of the jobs that read data files (``results/<plan>/inputs/<job>.json``,
        :func:`metapool.inputs.recorded`): the provenance lists the checksums recorded there, the bytes the
        results were computed from (:func:`metapool.reporting.provenance.input_provenance`).
    sof : str or os.PathLike, optional
        The summary-of-findings table (``summary_of_findings.tsv``).
    changes, release : str or os.PathLike, optional
        ``changes.tsv`` and the release file it compares with: the report opens with what changed since that
        release (:func:`metapool.reporting.changes.what_changed`).
    releases : sequence of path, optional
        Every release file of the evidence, listed with its date, number of reports and data checksum.
    """
    # a network analysis among ``analyses`` is shown as a network (it has no row in pooled.tsv)
    networks = {**{n: s for n, s in analyses.items() if s.is_network}, **dict(networks or {})}
    analyses = {n: s for n, s in analyses.items() if not s.is_network}
    network_layout = network_layout or {}
    network_sections = [_network_section(name, spec, network_layout[name]) for name, spec in networks.items()
                        if name in network_layout]
    if layout is None:
        layout = discover_layout(analysis_tables, figures)
    pooled_df = by_question(read_tsv(pooled, text_columns=TEXT_COLUMNS + ["notes", "comparator", "title",
                                                                         "subgroup", "question"]))
    studies_df = read_tsv(studies, text_columns=TEXT_COLUMNS)
    sections = []
    for row in records(pooled_df):
        name = row["analysis"]
        sections.append(_analysis_section(name, row, analyses[name], layout[name], studies_df))
    audit_df = read_tsv(audit, text_columns=["study_id", "pct_printed", "ci_level", "ci_lower_printed",
                                            "ci_upper_printed", "evaluable", "responders", "count_source",
                                            "pct_agrees", "ci_agrees", "status", "source", "location"])
    flagged_hrs = records(_flagged(studies_df[studies_df["measure"] == "hr"]))
    characteristics = studies_df.drop_duplicates("study_id").sort_values(["setting", "trial", "year", "study_id"])
    pooled_in: dict[str, list[dict]] = {}
    for s in sections:
        for r in s["included"]:
            if r["status"] == "pooled":
                pooled_in.setdefault(r["study_id"], []).append({"name": s["name"], "title": s["row"]["title"]})
    inputs, stale = input_provenance({Path(p).stem: read_record(p) for p in read}, data)
    versions = package_versions()
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(template).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["est"] = fmt_estimate
    env.filters["num"] = lambda v, fmt="{:.1f}": "" if v is None or is_missing(v) else fmt.format(v)
    env.filters["pval"] = format_p
    env.filters["ptext"] = p_text
    env.filters["finite"] = is_finite
    env.filters["upper_first"] = upper_first
    sof_rows, sof_notes = summary_of_findings(sof) if sof else ([], [])
    changed = what_changed(changes, release) if changes and release else None
    html = env.get_template(Path(template).name).render(
        sof=sof_rows,
        sof_notes=sof_notes,
        changed=changed,
        changes_path=Path(changes).as_posix() if changes else "",
        releases=release_list(releases),
        sof_path=Path(sof).as_posix() if sof else "",
        sections=sections,
        pooled=records(pooled_df),
        audit=records(audit_df),
        audit_disagreements=records(audit_df[audit_df["status"] == "disagrees"]),
        characteristics=records(characteristics),
        pooled_in=pooled_in,
        estimates=records(studies_df),
        flagged_hrs=flagged_hrs,
        methods=synthesis_methods(analyses, versions) + ([network_methods(networks)] if networks else []),
        networks=network_sections,
        references=REFERENCES,
        inputs=inputs,
        stale_inputs=stale,
        pooled_path=Path(pooled).as_posix(),
        workbook={"path": Path(workbook).as_posix(), "sha256": sha256(workbook)} if workbook else None,
        versions=versions,
        commit=git_commit(),
        metapool_version=__version__,
        effect_test=lambda r: overall_effect_text(r.get("zval"), r.get("ddf"), r.get("pval")).removeprefix(
            "Test for overall effect: "),
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100),
    )
    atomic_write_text(output, html)
