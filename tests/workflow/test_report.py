"""results/report.html: its numbers against the tables, escaping, sections and sources; the XLSX workbook;
Snakemake's own report."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import zipfile
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from metapool.analysis.config import analysis_specs
from metapool.analysis.estimates import TEXT_COLUMNS
from metapool.io import read_tsv, write_tsv
from metapool.reporting.report import (
    COCHRANE_BANDS,
    build_report,
    discover_layout,
    fmt_estimate,
    heterogeneity_bands,
    heterogeneity_interpretation,
    methods_text,
    synthesis_methods,
    write_workbook,
)

from conftest import snakemake

MARKUP = "<script>alert(1)</script>"
POOLED_TEXT = TEXT_COLUMNS + ["title", "notes", "subgroup", "model", "method", "median_method", "transform",
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
    return (workflow_run / "results/report.html").read_text()


@pytest.fixture(scope="module")
def pooled(workflow_run) -> pd.DataFrame:
    return read_tsv(workflow_run / "results/tables/pooled.tsv", text_columns=POOLED_TEXT).set_index("analysis")


def params(config) -> dict:
    """Each analysis of ``config`` as the report job gets it."""
    return {name: spec.to_params() for name, spec in analysis_specs(config).items()}


def specs(run: Path) -> dict:
    return params(yaml.safe_load((run / "config/config.yaml").read_text()))


# ---------------------------------------------------------------- summary of findings


def _float(text: str) -> float:
    return math.nan if text == "" else float(text)


def test_every_number_in_the_summary_table_equals_pooled_tsv(html, pooled):
    rows = parse(html).tables["summary-table"]
    assert [r["attrs"]["data-analysis"] for r in rows] == list(pooled.index)
    for r in rows:
        p = pooled.loc[r["attrs"]["data-analysis"]]
        cells = {c["attrs"]["data-col"]: c for c in r["cells"] if "data-col" in c["attrs"]}
        assert set(cells) == {"k", "participants", "estimate", "ci", "pi", "i2", "tau2"}
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
        assert text["estimate"] == fmt_estimate(p["estimate"], m)
        assert text["ci"] == (f"{fmt_estimate(p['ci_lower'], m)} to {fmt_estimate(p['ci_upper'], m)}"
                              if not math.isnan(p["ci_lower"]) else "")
        assert text["pi"] == (f"{fmt_estimate(p['pi_lower'], m)} to {fmt_estimate(p['pi_upper'], m)}"
                              if shown_pi else "")
        assert text["i2"] == ("" if math.isnan(p["i2"]) else f"{p['i2']:.1f}%")
        assert text["tau2"] == ("" if math.isnan(p["tau2"]) else f"{p['tau2']:.4f}")


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
        assert ('alt="Specification curve' in section) == bool(analyses[name].get("multiverse")), name


def test_heterogeneity_is_read_against_the_cochrane_bands(html, pooled):
    name = pooled.index[pooled["i2"].fillna(0).argmax()]
    section = html.split(f'<h2 id="{name}">')[1].split("<h2")[0]
    i2 = pooled.loc[name, "i2"]
    assert f"I² = {i2:.1f}%" in section
    for _, _, words in heterogeneity_bands(i2):
        assert words in section


def test_every_included_number_links_to_its_source_and_location(html, workflow_run):
    studies = read_tsv(workflow_run / "results/tables/studies.tsv", text_columns=TEXT_COLUMNS)
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
    analyses = params(config)
    name = "orr_tki_naive"
    analyses[name]["title"] = f"ORR {MARKUP}"
    # the analysis's own tables, with markup in a study label, a trial name and a source location
    results = dest / "results"
    shutil.copytree(run / "results/analyses", results / "analyses")
    shutil.copytree(run / "results/figures", results / "figures")
    st_path = results / "analyses" / name / "studies.tsv"
    st = read_tsv(st_path, text_columns=TEXT_COLUMNS + ["label", "reason", "status", "se_note", "subgroup"])
    st.loc[st.index[0], "label"] = MARKUP
    write_tsv(st, st_path)
    studies = read_tsv(run / "results/tables/studies.tsv", text_columns=TEXT_COLUMNS)
    first = studies["study_id"] == st.loc[st.index[0], "study_id"]
    studies.loc[first, "trial"] = MARKUP
    studies.loc[first, "location"] = f'"><img src=x onerror=alert(1)> {MARKUP}'
    write_tsv(studies, results / "studies.tsv")
    pooled = read_tsv(run / "results/tables/pooled.tsv", text_columns=POOLED_TEXT)
    pooled.loc[pooled["analysis"] == name, "title"] = f"ORR {MARKUP}"
    write_tsv(pooled, results / "pooled.tsv")
    out = dest / "report.html"
    build_report(template=run / "workflow/report/report.html.j2", config=config, analyses=analyses,
                 data=sorted((run / "data").glob("*.tsv")), studies=results / "studies.tsv",
                 audit=run / "results/tables/audit.tsv", pooled=results / "pooled.tsv",
                 analysis_tables=sorted((results / "analyses").glob("*/studies.tsv")),
                 figures=sorted((results / "figures").glob("forest_*.svg")), output=out)
    return out


def test_a_study_label_with_markup_is_shown_as_text(workflow_run, tmp_path):
    out = render_with_markup(workflow_run, tmp_path)
    text = out.read_text()
    assert MARKUP not in text and "<script" not in text and "<img src=x" not in text
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert text.count(escaped) >= 5  # label, trial, location, title (nav, table, heading, alt text)
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in text


# ---------------------------------------------------------------- sections without their files


def test_sections_say_why_when_their_files_are_absent(workflow_run, tmp_path):
    run = workflow_run
    config = yaml.safe_load((run / "config/config.yaml").read_text())
    analyses = params(config)
    for spec in analyses.values():
        spec["sensitivity"] = []
        spec.pop("multiverse", None)
    layout = discover_layout(sorted((run / "results/analyses").glob("*/studies.tsv")),
                             sorted((run / "results/figures").glob("forest_*.svg")))
    for files in layout.values():
        for kind in ("leave_one_out", "influence", "cumulative", "small_study", "loo", "funnel", "flow",
                     "flow_figure", "multiverse_summary", "spec_curve"):
            files.pop(kind, None)
    out = tmp_path / "report.html"
    build_report(template=run / "workflow/report/report.html.j2", config=config, analyses=analyses,
                 data=sorted((run / "data").glob("*.tsv")), studies=run / "results/tables/studies.tsv",
                 audit=run / "results/tables/audit.tsv", pooled=run / "results/tables/pooled.tsv", layout=layout,
                 output=out)
    text = out.read_text()
    n = len(layout)
    for kind in ("leave_one_out", "influence", "cumulative", "small_study"):
        assert text.count(f"does not include {kind}") == n, kind
    assert text.count("No multiverse configured for this analysis") == n
    assert "No funnel plot in this run." in text
    assert "No sensitivity analysis was configured" in text
    assert text.count("data:image/svg+xml;base64,") == n  # the forest plots only


# ---------------------------------------------------------------- text generated from the config


def test_cochrane_bands_overlap_as_in_the_handbook():
    assert [w for _, _, w in heterogeneity_bands(0.0)] == ["might not be important"]
    assert [w for _, _, w in heterogeneity_bands(35.0)] == ["might not be important",
                                                             "may represent moderate heterogeneity"]
    assert [w for _, _, w in heterogeneity_bands(80.0)] == ["may represent substantial heterogeneity",
                                                             "considerable heterogeneity"]
    assert [w for _, _, w in heterogeneity_bands(100.0)] == ["considerable heterogeneity"]
    assert heterogeneity_bands(math.nan) == []
    assert [(lo, hi) for lo, hi, _ in COCHRANE_BANDS] == [(0, 40), (30, 60), (50, 90), (75, 100)]


def _row(**kw):
    row = {"measure": "proportion", "k": 8, "estimate": 0.6, "ci_lower": 0.5, "ci_upper": 0.7, "pi_lower": 0.3,
           "pi_upper": 0.85, "tau2": 0.2, "i2": 55.0, "q": 20.0, "df": 7, "q_pvalue": 0.005, "method": "REML",
           "transform": "logit", "level": 0.95, "median_method": ""}
    return {**row, **kw}


def test_heterogeneity_interpretation_in_words():
    text = heterogeneity_interpretation(_row())
    assert "I² = 55.0%" in text and "30% to 60% (may represent moderate heterogeneity)" in text
    assert "50% to 90% (may represent substantial heterogeneity)" in text and "Q = 20.00 on 7 df, p = 0.005" in text
    assert "95% prediction interval, 30.0% to 85.0%" in text
    assert heterogeneity_interpretation(_row(k=1)) == "A single study: heterogeneity is not estimable."
    assert "no I² or Q" in heterogeneity_interpretation(_row(transform="glmm", i2=math.nan))
    assert "very imprecise" in heterogeneity_interpretation(_row(k=3))
    assert "median of medians" in heterogeneity_interpretation(_row(measure="median",
                                                                    median_method="median_of_medians"))


def _spec(**kw):
    spec = {"name": "a", "title": "A", "outcome": "orr", "filters": {"setting": ["tki_naive"]}, "method": "REML",
            "ci": "z", "hk_adhoc": False, "pi": "default", "level": 0.95, "transform": "logit",
            "median_method": "log_iv", "report_policy": "latest_cut", "sensitivity": []}
    return {**spec, **kw}


@pytest.mark.parametrize("transform, words", [
    ("logit", "logit transformed (0.5 added"),
    ("freeman_tukey", "Miller's inversion at the harmonic mean"),
    ("arcsine", "arcsine square-root transformed"),
    ("raw", "p(1 − p)/n"),
    ("glmm", "binomial-normal generalised linear mixed model"),
])
def test_methods_name_the_transformation_and_its_continuity_correction(transform, words):
    assert words in methods_text(_spec(transform=transform))


def test_synthesis_methods_are_generated_from_the_analyses_as_run():
    versions = {"python": "3.11", "metapool": "0.1.0"}
    one = {h: t for _, h, t in synthesis_methods(
        {"a": _spec(method="DL", ci="hartung_knapp", sensitivity=["leave_one_out"])}, versions)}
    assert "DerSimonian-Laird" in one["Synthesis methods"] and "REML" not in one["Synthesis methods"]
    assert "Hartung-Knapp-Sidik-Jonkman" in one["Synthesis methods"]
    assert "leave-one-out" in one["Sensitivity analyses"] and "cumulative" not in one["Sensitivity analyses"]
    assert "No test for small-study effects was configured" in one["Reporting bias assessment"]
    assert "python 3.11, metapool 0.1.0" in one["Software"]
    two = {h: t for _, h, t in synthesis_methods({"a": _spec(sensitivity=["small_study"], subgroup="drug"),
                                                  "b": _spec(method="PM", pi="t_k2")}, versions)}
    assert "Paule-Mandel" in two["Synthesis methods"] and "t on k − 2 df" in two["Synthesis methods"]
    assert "subgroup analysis (drug)" in two["Heterogeneity and its causes"]
    assert "Egger's regression test" in two["Reporting bias assessment"]
    assert [item for item, _, _ in synthesis_methods({"a": _spec()}, versions)] == ["13d", "13e", "13f", "14", "15",
                                                                                  "13d"]


# ---------------------------------------------------------------- the workbook


def test_workbook_holds_every_result_table(workflow_run):
    import openpyxl

    path = workflow_run / "results/tables/results.xlsx"
    wb = openpyxl.load_workbook(path, read_only=True)
    contents = list(wb["contents"].iter_rows(values_only=True))
    assert contents[0] == ("sheet", "file", "rows")
    files = {row[1]: row[0] for row in contents[1:]}
    analyses = sorted(p.parent.name for p in (workflow_run / "results/analyses").glob("*/studies.tsv"))
    for name in analyses:
        for table in (workflow_run / "results/analyses" / name).glob("*.tsv"):
            assert f"results/analyses/{name}/{table.name}" in files, table
    for table in ("pooled", "studies", "audit"):
        assert f"results/tables/{table}.tsv" in files
    for rel in (workflow_run / "results/multiverse").glob("*.tsv"):
        assert f"results/multiverse/{rel.name}" in files
    # a sheet holds its table: the pooled results, value for value
    pooled = read_tsv(workflow_run / "results/tables/pooled.tsv", text_columns=POOLED_TEXT)
    rows = list(wb[files["results/tables/pooled.tsv"]].iter_rows(values_only=True))
    assert list(rows[0]) == list(pooled.columns) and len(rows) == len(pooled) + 1
    est = list(pooled.columns).index("estimate")
    assert [r[est] for r in rows[1:]] == pytest.approx(list(pooled["estimate"]), rel=1e-15)
    assert all(len(name) <= 31 for name in wb.sheetnames)


def test_workbook_bytes_do_not_depend_on_the_time(tmp_path, monkeypatch):
    table = tmp_path / "t.tsv"
    write_tsv(pd.DataFrame({"analysis": ["a", "b"], "estimate": [0.5, 0.25]}), table)
    first = write_workbook({"a table with a very long title beyond thirty-one characters": table}, tmp_path / "1.xlsx")
    import datetime as dt

    class Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=tz)

    monkeypatch.setattr("openpyxl.writer.excel.datetime.datetime", Later)
    second = write_workbook({"a table with a very long title beyond thirty-one characters": table},
                            tmp_path / "2.xlsx")
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    with zipfile.ZipFile(first) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert "2031" not in z.read("docProps/core.xml").decode()


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
