"""results/default/report.html of a workflow run: its numbers against the tables, escaping, sections and sources; the XLSX
workbook; Snakemake's own report (the pure functions are tested in tests/reporting)."""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from metapool.analysis.config import analysis_specs
from metapool import __version__
from metapool.analysis.estimates import TEXT_COLUMNS
from metapool.display import overall_effect_text
from metapool.io import read_tsv, write_tsv
from metapool.reporting.page import build_report, discover_layout
from metapool.reporting.words import fmt_estimate, heterogeneity_bands

from conftest import snakemake

MARKUP = "<script>alert(1)</script>"
POOLED_TEXT = TEXT_COLUMNS + ["title", "question", "notes", "subgroup", "model", "method", "median_method", "transform",
                              "ci_method", "pi_method", "report_policy", "direction"]


class Cells(HTMLParser):
    """The body rows of the tables of a page: per table id or class, rows of cells; each cell has its attributes,
    its text, and the text of each link-like element (``a``/``span`` with class ``src``) inside it."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self.stack: list[str] = []
        self.table = None
        self.row = None
        self.cell = None
        self.src = None
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("id") or a.get("class") or f"table{len(self.tables)}"
            self.tables.setdefault(self.table, [])
        elif tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.row = {"attrs": a, "cells": []}
            self.tables[self.table].append(self.row)
        elif tag == "td" and self.row is not None:
            self.cell = {"attrs": a, "text": "", "links": []}
            self.row["cells"].append(self.cell)
        elif tag in ("a", "span") and self.cell is not None and "src" in (a.get("class") or ""):
            self.src = {"tag": tag, "attrs": a, "text": ""}
            self.cell["links"].append(self.src)

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_body = False
        elif tag == "tr":
            self.row = None
        elif tag == "td":
            self.cell = None
        elif tag in ("a", "span"):
            self.src = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data
        if self.src is not None:
            self.src["text"] += data


def parse(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def html(workflow_run) -> str:
    return (workflow_run / "results/default/report.html").read_text()


@pytest.fixture(scope="module")
def pooled(workflow_run) -> pd.DataFrame:
    return read_tsv(workflow_run / "results/default/tables/pooled.tsv", text_columns=POOLED_TEXT).set_index("analysis")


def specs(run: Path) -> dict:
    return analysis_specs(yaml.safe_load((run / "config/config.yaml").read_text()))


# ---------------------------------------------------------------- summary of findings


def _float(text: str) -> float:
    return math.nan if text == "" else float(text)


def test_every_number_in_the_summary_table_equals_pooled_tsv(html, pooled):
    rows = parse(html).tables["summary-table"]
    assert [r["attrs"]["data-analysis"] for r in rows] == list(pooled.index)
    for r in rows:
        p = pooled.loc[r["attrs"]["data-analysis"]]
        cells = {c["attrs"]["data-col"]: c for c in r["cells"] if "data-col" in c["attrs"]}
        assert set(cells) == {"k", "participants", "estimate", "ci", "pi", "i2", "tau2", "test"}
        shown_pi = p["k"] > 1 and p["method"] != "EE" and not math.isnan(p["pi_lower"])
        # the full-precision values carried by the cells are the table's, exactly
        assert int(cells["k"]["attrs"]["data-value"]) == p["k"]
        for col in ("participants", "estimate", "i2", "tau2"):
            value = _float(cells[col]["attrs"]["data-value"])
            assert value == p[col] or (math.isnan(value) and math.isnan(p[col])), col
        for col, lo, hi in (("ci", "ci_lower", "ci_upper"), ("pi", "pi_lower", "pi_upper")):
            got = (_float(cells[col]["attrs"]["data-lower"]), _float(cells[col]["attrs"]["data-upper"]))
            want = (p[lo], p[hi]) if col == "ci" or shown_pi else (math.nan, math.nan)
            assert all(g == w or (math.isnan(g) and math.isnan(w)) for g, w in zip(got, want)), col
        # and the text shown is each of them at its display precision
        m = p["measure"]
        text = {k: c["text"].strip() for k, c in cells.items()}
        assert text["k"] == str(int(p["k"]))
        assert text["participants"] == ("" if math.isnan(p["participants"]) else f"{p['participants']:.0f}")
        # no estimate for an analysis with overall: false
        assert text["estimate"] == ("" if math.isnan(p["estimate"]) else fmt_estimate(p["estimate"], m))
        assert text["ci"] == (f"{fmt_estimate(p['ci_lower'], m)} to {fmt_estimate(p['ci_upper'], m)}"
                              if not math.isnan(p["ci_lower"]) else "")
        assert text["pi"] == (f"{fmt_estimate(p['pi_lower'], m)} to {fmt_estimate(p['pi_upper'], m)}"
                              if shown_pi else "")
        assert text["i2"] == ("" if math.isnan(p["i2"]) else f"{p['i2']:.1f}%")
        assert text["tau2"] == ("" if math.isnan(p["tau2"]) else f"{p['tau2']:.4f}")
        # the test for the overall effect: z (or t with its df) and p, from the table's zval, ddf and pval
        for col in ("zval", "pval"):
            value = _float(cells["test"]["attrs"][f"data-{col}"])
            assert value == p[col] or (math.isnan(value) and math.isnan(p[col])), col
        assert text["test"] == overall_effect_text(p["zval"], p["ddf"], p["pval"]).removeprefix(
            "Test for overall effect: ")
        if p["test"] == "z":
            assert re.fullmatch(r"z = -?\d+\.\d\d \(p (= \d\.\d+|< 0\.001)\)", text["test"]), text["test"]


# ---------------------------------------------------------------- content of each analysis


def test_each_analysis_has_flow_forest_heterogeneity_sensitivity_and_small_study_parts(html, pooled, workflow_run):
    analyses = specs(workflow_run)
    for name, p in pooled.iterrows():
        section = html.split(f'<h2 id="{name}">')[1].split("<h2")[0]
        assert f'alt="Forest plot: {p["title"]}"' in section
        assert f'alt="Study flow: {p["title"]}"' in section
        for heading in ("Study selection", "Results of individual studies", "Synthesis", "Subgroups",
                        "Sensitivity analyses", "Small-study effects and reporting bias", "Certainty of evidence"):
            assert heading in section, (name, heading)
        assert "<strong>Heterogeneity.</strong>" in section and "<strong>Methods.</strong>" in section
        assert f'<p class="question"><strong>Question.</strong> {escape(p["question"])}</p>' in section, name
        if not p["overall"]:
            # no estimate across the subgroups: no leave-one-out, influence, cumulative or small-study
            # analysis of it, no funnel plot, and the report says why
            assert "No estimate across the drug subgroups (the analysis sets overall: false)" in section, name
            assert "Leave-one-out plot" not in section and 'alt="Funnel plot' not in section, name
            assert "Not computed: leave one out perturbs the overall estimate" in section, name
            assert ('alt="Specification curve' in section) == (analyses[name].multiverse is not None), name
            continue
        if p["k"] >= 2:
            assert "Cochrane Handbook" in section
        # leave-one-out: the plot when it could be computed, otherwise the reason
        if p["k"] >= 2:
            assert f'alt="Leave-one-out plot: {p["title"]}"' in section, name
        else:
            assert "leave-one-out needs at least 2 pooled studies" in section, name
        # small-study effects: tested with at least 10 studies, otherwise why not
        if p["k"] >= 10:
            assert "Egger&#39;s regression test" in section and "Begg&#39;s rank correlation" in section
        else:
            assert f"k = {int(p['k'])} &lt; 10: too few studies to test for funnel-plot asymmetry" in section, name
        assert ('alt="Specification curve' in section) == (analyses[name].multiverse is not None), name


def test_summary_table_is_ordered_by_question_and_shows_it(html, pooled):
    table = html.split('<table id="summary-table">')[1].split("</table>")[0]
    rows = [r.split('"', 1)[0] for r in table.split('<tr data-analysis="')[1:]]
    questions = [pooled.loc[name, "question"] for name in rows]
    assert sorted(rows) == sorted(pooled.index)
    # each question's analyses together, the questions in their config order
    assert questions == sorted(questions, key=list(dict.fromkeys(pooled["question"])).index)
    for q in set(questions):
        assert f'<td class="question">{escape(q)}</td>' in table


def test_heterogeneity_is_read_against_the_cochrane_bands(html, pooled):
    name = pooled.index[pooled["i2"].fillna(0).argmax()]
    section = html.split(f'<h2 id="{name}">')[1].split("<h2")[0]
    i2 = pooled.loc[name, "i2"]
    assert f"I² = {i2:.1f}%" in section
    for _, _, words in heterogeneity_bands(i2):
        assert words in section


def test_every_included_number_links_to_its_source_and_location(html, workflow_run):
    studies = read_tsv(workflow_run / "results/default/tables/studies.tsv", text_columns=TEXT_COLUMNS)
    sources = set(studies["source"])
    tables = [rows for key, rows in parse(html).tables.items() if key == "included"]
    checked = 0
    for row in (r for rows in tables for r in rows):
        for cell in row["cells"][4:-2]:  # the number columns (not weight, not the source column)
            numbers = re.findall(r"\d+(?:\.\d+)?%?", cell["text"])
            linked = " ".join(link["text"] for link in cell["links"])
            for number in numbers:
                assert number in linked, (row["attrs"], cell["text"])
                checked += 1
            for link in cell["links"]:
                where = link["attrs"].get("href") or link["attrs"]["title"].split(": ")[0]
                assert where in sources, where
                assert link["attrs"]["title"], "every number names its location in the source"
    assert checked > 100
    # one example by hand: ASCEND-4's response, 137 of 189, from its source
    row = studies[(studies.study_id == "ASCEND4_ceritinib") & (studies.outcome == "orr")].iloc[0]
    assert f'href="{escape(row.source)}"' in html and ">137</a>/<a" in html


def test_report_is_self_contained_without_script_or_fetch(html):
    assert "<script" not in html.lower() and "<link" not in html.lower() and "@import" not in html
    assert not re.search(r'src="(?!data:)', html), "every image is a data URI"
    assert "url(" not in html.split("</style>")[0]


# ---------------------------------------------------------------- escaping


def render_with_markup(run: Path, dest: Path) -> Path:
    """The report of ``run`` rebuilt with markup in a study label, a trial name, a source location and an analysis
    title (orr_tki_naive); returns the path of the HTML."""
    config = yaml.safe_load((run / "config/config.yaml").read_text())
    analyses = analysis_specs(config)
    name = "orr_tki_naive"
    analyses[name] = replace(analyses[name], title=f"ORR {MARKUP}", question=f"Does it work? {MARKUP}")
    # the analysis's own tables, with markup in a study label, a trial name and a source location
    results = dest / "results"
    shutil.copytree(run / "results/default/analyses", results / "analyses")
    shutil.copytree(run / "results/default/figures", results / "figures")
    st_path = results / "analyses" / name / "studies.tsv"
    st = read_tsv(st_path, text_columns=TEXT_COLUMNS + ["label", "reason", "status", "se_note", "subgroup"])
    st.loc[st.index[0], "label"] = MARKUP
    write_tsv(st, st_path)
    studies = read_tsv(run / "results/default/tables/studies.tsv", text_columns=TEXT_COLUMNS)
    first = studies["study_id"] == st.loc[st.index[0], "study_id"]
    studies.loc[first, "trial"] = MARKUP
    for column in ("cohort", "arm", "first_author", "note"):  # the other free-text columns of the table
        studies.loc[first, column] = f"{column} {MARKUP}"
    studies.loc[first, "location"] = f'"><img src=x onerror=alert(1)> {MARKUP}'
    write_tsv(studies, results / "studies.tsv")
    pooled = read_tsv(run / "results/default/tables/pooled.tsv", text_columns=POOLED_TEXT)
    pooled.loc[pooled["analysis"] == name, "title"] = f"ORR {MARKUP}"
    pooled.loc[pooled["analysis"] == name, "question"] = f"Does it work? {MARKUP}"
    write_tsv(pooled, results / "pooled.tsv")
    out = dest / "report.html"
    build_report(template=run / "workflow/report/report.html.j2", config=config, analyses=analyses,
                 data=sorted((run / "data").glob("*.tsv")), studies=results / "studies.tsv",
                 audit=run / "results/default/tables/audit.tsv", pooled=results / "pooled.tsv",
                 analysis_tables=sorted((results / "analyses").glob("*/studies.tsv")),
                 figures=sorted((results / "figures").glob("forest_*.svg")), output=out)
    return out


def test_a_study_label_with_markup_is_shown_as_text(workflow_run, tmp_path):
    out = render_with_markup(workflow_run, tmp_path)
    text = out.read_text()
    assert MARKUP not in text and "<script" not in text and "<img src=x" not in text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert text.count(escaped) >= 5  # label, trial, location, title (nav, table, heading, alt text)
    for column in ("cohort", "first_author"):  # shown in the table of studies
        assert f"{column} {escaped}" in text, column
    assert f"Does it work? {escaped}" in text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text


def test_each_network_has_graph_transitivity_league_ranking_and_inconsistency(html, workflow_run):
    from metapool.analysis.network import RANKING_CAVEAT

    networks = {name: spec for name, spec in specs(workflow_run).items() if spec.is_network}
    assert sorted(networks) == ["os_hr_network_first_line", "pfs_hr_network_first_line"]
    for name, spec in networks.items():
        assert f'<li><a href="#{name}">{escape(spec.title)}</a></li>' in html
        section = html.split(f'<h2 id="{name}" class="network">')[1].split("<h2")[0]
        for alt in ("Network graph", "League table", f"Forest plot against {spec.network.reference}"):
            assert f'alt="{alt}: {escape(spec.title)}"' in section, (name, alt)
        for heading in ("Network", "Transitivity", f"Each treatment against {spec.network.reference}",
                        "League table", "Ranking", "Heterogeneity and inconsistency"):
            assert f"<h3>{heading}</h3>" in section, (name, heading)
        assert escape(RANKING_CAVEAT) in section
        folder = workflow_run / "results/default/analyses" / name
        transitivity = pd.read_csv(folder / "transitivity.tsv", sep="\t", dtype=str, keep_default_na=False)
        for row in transitivity.itertuples():
            assert f"<td>{escape(row.trial)}</td><td>{row.treatment} vs {row.comparator}</td>" in section, name
            assert escape(row.prior_therapy) in section
        effects = pd.read_csv(folder / "treatment_effects.tsv", sep="\t")
        for row in effects.itertuples():
            assert f'<td>{row.treatment}</td><td class="num">{fmt_estimate(row.estimate, "hr")}</td>' in section
        # both default networks are trees: no direct / indirect split, said so
        assert "the network has no closed loop" in section
    # no row in the summary of pooled results
    assert not any(f'href="#{name}">' in html.split('<table id="summary-table">')[1].split("</table>")[0]
                   for name in networks)


# ---------------------------------------------------------------- sections without their files


def test_sections_say_why_when_their_files_are_absent(workflow_run, tmp_path):
    run = workflow_run
    config = yaml.safe_load((run / "config/config.yaml").read_text())
    analyses = {name: replace(spec, sensitivity=(), multiverse=None)
                for name, spec in analysis_specs(config).items() if not spec.is_network}
    layout = discover_layout(sorted((run / "results/default/analyses").glob("*/studies.tsv")),
                             sorted((run / "results/default/figures").glob("forest_*.svg")))
    layout = {name: files for name, files in layout.items() if name in analyses}  # no network: no pooled row
    for files in layout.values():
        for kind in ("leave_one_out", "influence", "cumulative", "small_study", "loo", "funnel", "flow",
                     "flow_figure", "multiverse_summary", "spec_curve", "rob_traffic_light", "rob_summary",
                     "sequential", "cumulative_figure", "sequential_figure"):
            files.pop(kind, None)
    out = tmp_path / "report.html"
    build_report(template=run / "workflow/report/report.html.j2", config=config, analyses=analyses,
                 data=sorted((run / "data").glob("*.tsv")), studies=run / "results/default/tables/studies.tsv",
                 audit=run / "results/default/tables/audit.tsv", pooled=run / "results/default/tables/pooled.tsv", layout=layout,
                 output=out)
    text = out.read_text()
    n = len(layout)
    with_overall = sum(spec.overall for spec in analyses.values())  # overall: false computes none of them
    for kind in ("leave_one_out", "influence", "cumulative", "small_study"):
        assert text.count(f"does not include {kind}") == with_overall, kind
        assert text.count(f"Not computed: {kind.replace('_', ' ')} perturbs the overall estimate") == n - with_overall
    assert text.count("No multiverse configured for this analysis") == n
    assert "No funnel plot in this run." in text
    assert "No sensitivity analysis was configured" in text
    assert text.count("data:image/svg+xml;base64,") == n  # the forest plots only


# ---------------------------------------------------------------- the workbook


def test_workbook_holds_every_result_table(workflow_run):
    import openpyxl

    path = workflow_run / "results/default/tables/results.xlsx"
    wb = openpyxl.load_workbook(path, read_only=True)
    contents = list(wb["contents"].iter_rows(values_only=True))
    assert contents[0] == ("sheet", "file", "rows")
    files = {row[1]: row[0] for row in contents[1:]}
    analyses = sorted(p.parent.name for p in (workflow_run / "results/default/analyses").glob("*/studies.tsv"))
    for name in analyses:
        for table in (workflow_run / "results/default/analyses" / name).glob("*.tsv"):
            assert f"results/default/analyses/{name}/{table.name}" in files, table
    for table in ("pooled", "studies", "audit"):
        assert f"results/default/tables/{table}.tsv" in files
    for rel in (workflow_run / "results/default/multiverse").glob("*.tsv"):
        assert f"results/default/multiverse/{rel.name}" in files
    # a sheet holds its table: the pooled results, value for value
    pooled = read_tsv(workflow_run / "results/default/tables/pooled.tsv", text_columns=POOLED_TEXT)
    rows = list(wb[files["results/default/tables/pooled.tsv"]].iter_rows(values_only=True))
    assert list(rows[0]) == list(pooled.columns) and len(rows) == len(pooled) + 1
    est = list(pooled.columns).index("estimate")
    # an empty cell (no overall estimate: overall false) is NaN in the table
    got = [math.nan if r[est] is None else r[est] for r in rows[1:]]
    assert got == pytest.approx(list(pooled["estimate"]), rel=1e-15, nan_ok=True)
    assert all(len(name) <= 31 for name in wb.sheetnames)


def test_captions_keep_the_titles_case(workflow_run):
    """Each analysis's figure captions name its title as configured: acronyms ("ALK TKI", "PFS") and proper case
    kept, never lower-cased."""
    html = (workflow_run / "results/default/report.html").read_text(encoding="utf-8")
    pooled = read_tsv(workflow_run / "results/default/tables/pooled.tsv", text_columns=POOLED_TEXT)
    titles = list(pooled["title"])
    assert any("ALK TKI" in t for t in titles) and any(t.startswith("PFS") for t in titles)
    for title in titles:
        assert f'<figcaption class="small">Forest plot ({escape(title)}).' in html, title
        assert f'<figcaption class="small">Study flow ({escape(title)}):' in html, title


def test_p_values_revman_writes_the_report_and_the_forest_plots_in_review_manager_style(workflow_run, tmp_path):
    """The config's p_values (default jama) read by the report and forest plot steps: with revman, every test for the
    overall effect of the summary table is "Z = ... (P ...)" and the forest plot's line is RevMan's; the default
    report writes them as "z = ... (p ...)"."""
    from metapool.steps import forest_step, report_step

    out = workflow_run / "results/default"
    default = (out / "report.html").read_text(encoding="utf-8")
    config = {**yaml.safe_load((workflow_run / "config/config.yaml").read_text()), "p_values": "revman"}
    analyses = analysis_specs(config)
    layout = discover_layout(sorted((out / "analyses").glob("*/studies.tsv")), sorted((out / "figures").glob("*.svg")))
    report_step(template=workflow_run / "workflow/report/report.html.j2", config=config,
                analyses={n: s for n, s in analyses.items() if not s.is_network}, data=sorted((workflow_run / "data").glob("*.tsv")),
                studies=out / "tables/studies.tsv", audit=out / "tables/audit.tsv", pooled=out / "tables/pooled.tsv",
                layout=layout, workbook=out / "tables/results.xlsx", output=tmp_path / "report.html")
    revman = (tmp_path / "report.html").read_text(encoding="utf-8")
    pooled = read_tsv(out / "tables/pooled.tsv", text_columns=POOLED_TEXT)
    tested = pooled[pooled["zval"].notna()]
    assert len(tested) >= 3
    for row in tested.to_dict("records"):
        for style, html in (("jama", default), ("revman", revman)):
            cell = overall_effect_text(row["zval"], row["ddf"], row["pval"], style).removeprefix("Test for overall effect: ")
            assert f'data-pval="{row["pval"]}">{escape(cell)}</td>' in html, (style, row["analysis"])
    assert "(P &lt; 0.00001)" in revman and "(p &lt; 0.001)" in default and "(p &lt; 0.001)" not in revman
    name = tested[tested["ddf"].isna()].iloc[0]["analysis"]
    forest_step(out / "analyses" / name / "studies.tsv", out / "analyses" / name / "pooled.tsv",
                [tmp_path / f"forest_{name}.svg"], "revman")
    row = tested.set_index("analysis").loc[name]
    line = overall_effect_text(row["zval"], row["ddf"], row["pval"], "revman")
    assert line.startswith("Test for overall effect: Z = ")
    assert escape(line) in (tmp_path / f"forest_{name}.svg").read_text(encoding="utf-8")
    assert escape(overall_effect_text(row["zval"], row["ddf"], row["pval"], "jama")) in (
        out / "figures" / f"forest_{name}.svg").read_text(encoding="utf-8")


def test_every_analysis_has_a_certainty_with_its_reasons_in_the_csv_and_the_report(html, pooled, workflow_run):
    """summary_of_findings.csv (and .tsv) rate every pairwise analysis (per subgroup without an overall estimate),
    each domain with its reason; the report's GRADE table shows the same rows with the symbols and footnotes."""
    from metapool.analysis.certainty import SOF_COLUMNS
    from metapool.stats.grade import DOMAINS, LEVELS, SYMBOLS

    out = workflow_run / "results/default/tables"
    csv = pd.read_csv(out / "summary_of_findings.csv", dtype=str, keep_default_na=False)
    assert list(csv.columns) == SOF_COLUMNS
    tsv = read_tsv(out / "summary_of_findings.tsv", text_columns=SOF_COLUMNS)
    assert tsv.astype(str).values.tolist() == csv.values.tolist()
    assert set(csv["analysis"]) == set(pooled.index)
    for _, r in csv.iterrows():
        assert r["symbols"] == SYMBOLS[LEVELS.index(r["certainty"])]
        assert all(r[f"{d}_reason"] for d in DOMAINS) and "starts at" in r["footnotes"]
    rows = parse(html).tables["sof-table"]
    assert [(x["attrs"]["data-analysis"], x["attrs"]["data-group"], x["attrs"]["data-certainty"]) for x in rows] == \
        list(zip(csv["analysis"], csv["group"], csv["certainty"]))
    for x, (_, r) in zip(rows, csv.iterrows()):
        assert x["cells"][-1]["text"].startswith(f"{r['symbols']} {r['certainty']}")
    for note in set("; ".join(csv["footnotes"]).split("; ")):
        assert escape(note, quote=False) in html
    # each analysis's section states its own certainty with the reasons
    for name, group in csv.groupby("analysis", sort=False):
        section = html.split(f'<h2 id="{name}">')[1].split("<h2")[0]
        block = section.split(f'<ul class="certainty" data-analysis="{name}">')[1].split("</ul>")[0]
        for _, r in group.iterrows():
            assert escape(f"{r['symbols']} {r['certainty']}: {r['footnotes']}.", quote=False) in block


def test_summary_tables_of_every_analysis_as_csv_and_in_one_word_document(workflow_run):
    """results/default/tables/summary/<analysis>.csv for each pairwise analysis (none for a network), each the
    formatted table of its own tables, and one Word document with the same cells in the order of the config."""
    import csv
    import io

    import docx

    from metapool.reporting.summary import summary_table
    from metapool.reporting.tables import read_result

    out = workflow_run / "results/default"
    analyses = [name for name in yaml.safe_load((workflow_run / "config/config.yaml").read_text())["analyses"]
                if (out / "analyses" / name / "pooled.tsv").exists()]
    assert sorted(p.stem for p in (out / "tables/summary").glob("*.csv")) == sorted(analyses)
    document = docx.Document(str(out / "tables/summary_tables.docx"))
    assert len(document.tables) == len(analyses)
    for name, grid in zip(analyses, document.tables):
        folder = out / "analyses" / name
        fits = read_result(folder / "subgroups.tsv") if (folder / "subgroups.tsv").exists() else None
        expected = summary_table(read_result(folder / "studies.tsv"), read_result(folder / "pooled.tsv"), subgroups=fits)
        rows = list(csv.reader(io.StringIO((out / "tables/summary" / f"{name}.csv").read_text(encoding="utf-8-sig"))))
        assert rows == [list(expected.columns), *expected.values.tolist()], name
        assert [[c.text for c in r.cells] for r in grid.rows] == rows, name


# ---------------------------------------------------------------- Snakemake's own report


def test_snakemake_report_of_the_run(workflow_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(workflow_run, run, symlinks=True)
    out = tmp_path / "snakemake_report.html"
    proc = snakemake(run, "--report", str(out))
    assert "Report created" in proc.stdout + proc.stderr
    text = out.read_text()
    for category in ("Forest plots", "Funnel plots", "Leave-one-out plots", "Study flow", "Tables", "Report"):
        assert category in text, category


def test_provenance_shows_the_metapool_version(html):
    assert f"<p>metapool {__version__}; workflow commit: <code>" in html


def test_the_post_second_gen_orr_has_a_bayesian_sensitivity_analysis_with_p_above_the_okayama_threshold(
        html, workflow_run):
    """Issue #18: the default plan's post-second-generation ORR analysis states its priors and why, and each
    drug's posterior with P(ORR > 50%), the Okayama trial's predefined response rate, equal to bayes.tsv."""
    from metapool.reporting.tables import read_result

    spec = specs(workflow_run)["orr_post_second_gen"]
    assert spec.bayes.tau.text == "half_normal(0.5)" and spec.bayes.prob_above == 0.5
    table = read_result(workflow_run / "results/default/analyses/orr_post_second_gen/bayes.tsv")
    section = html[html.index('id="orr_post_second_gen"'):]
    section = section[:section.index("<h3>Sensitivity analyses")
                      + section[section.index("<h3>Sensitivity analyses"):].index("<h4>Leave-one-out")]
    assert "<h4>Bayesian random-effects analysis</h4>" in section
    assert "half-normal with scale 0.5 (half_normal(0.5))" in section and "flat (improper)" in section
    assert escape(spec.bayes.why) in section
    rows = {r["cells"][0]["text"]: [c["text"] for c in r["cells"]] for r in parse(section).tables["bayes"]}
    mu = table[table["quantity"] == "mu"].set_index("group")
    new = table[table["quantity"] == "theta_new"].set_index("group")
    assert set(rows) == set(mu.index) and "crizotinib" in rows
    for drug, cells in rows.items():
        m, n = mu.loc[drug], new.loc[drug]
        assert cells[2] == f"{fmt_estimate(m['median'], 'proportion')} ({fmt_estimate(m['ci_lower'], 'proportion')} " \
                           f"to {fmt_estimate(m['ci_upper'], 'proportion')})"
        assert cells[5] == f"P(μ > 50.0%) = {m['p_above']:.3f}; new study {n['p_above']:.3f}"
    # crizotinib after alectinib is the Okayama trial alone (3/9): its posterior median is the observed 33.3%
    assert rows["crizotinib"][1] == "1" and rows["crizotinib"][2].startswith("33.3% (")
