"""The formatted summary tables (metapool.reporting.summary): cells rounded as the report rounds them, the rows of
the forest plot, formula-safe CSV text, and a Word document with the same cells, byte-identical across runs.

The analyses are the default config's, pooled from data/ by the engine and read back as the summary job reads
them (written with the workflow's TSV writer, read with the report's reader).
"""

from __future__ import annotations

import csv
import io
import time
import zipfile

import pandas as pd
import pytest
import docx
import yaml

from conftest import ROOT, estimate_frames
from metapool.analysis.config import analysis_specs
from metapool.analysis.diagnostics import sensitivity_frames
from metapool.analysis.run import prepare_analysis, run_analysis
from metapool.display import overall_effect_text, p_text
from metapool.io import write_tsv
from metapool.reporting.summary import FIXED_DATE, summary_csv, summary_table, write_summary_tables
from metapool.reporting.tables import read_result


ANALYSES = ("pfs_hr_vs_crizotinib_first_line", "orr_tki_naive", "pfs_median_ratio_vs_crizotinib_first_line")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """name -> {"studies": path, "pooled": path} of three default analyses, written as the workflow writes them."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    specs = analysis_specs(config)
    frames = estimate_frames()
    folder = tmp_path_factory.mktemp("analyses")
    files = {}
    for name in ANALYSES:
        spec = specs[name]
        estimates = pd.concat([frames[t] for t in spec.tables], ignore_index=True)
        studies, pooled = run_analysis(estimates, spec)
        files[name] = {"studies": folder / f"{name}_studies.tsv", "pooled": folder / f"{name}_pooled.tsv"}
        write_tsv(studies, files[name]["studies"])
        write_tsv(pooled, files[name]["pooled"])
        if spec.subgroup:  # its subgroups.tsv, as the sensitivity job writes it
            files[name]["subgroups"] = folder / f"{name}_subgroups.tsv"
            write_tsv(sensitivity_frames(prepare_analysis(estimates, spec), ["subgroups"])["subgroups"],
                      files[name]["subgroups"])
    return files


def tables(files):
    studies, pooled = read_result(files["studies"]), read_result(files["pooled"])
    fits = read_result(files["subgroups"]) if "subgroups" in files else None
    return studies, pooled, pooled.iloc[0].to_dict(), summary_table(studies, pooled, subgroups=fits)


def test_hazard_ratios_rounded_as_the_report_with_every_line_of_the_forest_plot(run):
    studies, _, row, table = tables(run["pfs_hr_vs_crizotinib_first_line"])
    assert list(table.columns) == ["Study", "Hazard ratio (95% CI)", "Weight (%)", "Note"]
    cells = table.set_index("Study")
    pooled = studies[studies["status"] == "pooled"]
    assert len(pooled) >= 5
    for r in pooled.to_dict("records"):
        assert cells.loc[r["label"], "Hazard ratio (95% CI)"] == (
            f"{r['estimate']:.2f} ({r['ci_lower']:.2f} to {r['ci_upper']:.2f})")
        assert cells.loc[r["label"], "Weight (%)"] == f"{r['weight']:.1f}"
    model = f"Random effects ({row['method']}, log scale)"
    assert cells.loc[model, "Hazard ratio (95% CI)"] == (
        f"{row['estimate']:.2f} ({row['ci_lower']:.2f} to {row['ci_upper']:.2f})")
    assert cells.loc["Prediction interval", "Hazard ratio (95% CI)"] == f"{row['pi_lower']:.2f} to {row['pi_upper']:.2f}"
    lines = table["Study"].tolist()
    # heterogeneity as the forest plot writes it, overall and in each subgroup of two or more studies (from
    # subgroups.tsv: Q on k - 1 df with its p)
    assert (f"Heterogeneity: I\u00b2 = {row['i2']:.1f}%, \u03c4\u00b2 = {row['tau2']:.4f}, Q = {row['q']:.2f} "
            f"(df = {int(row['df'])}), {p_text(row['q_pvalue'])}") in lines
    fits = read_result(run["pfs_hr_vs_crizotinib_first_line"]["subgroups"])
    several = fits[fits["k"] >= 2]
    assert len(several) >= 1
    for fit in several.to_dict("records"):
        tau = "0" if fit["tau2"] == 0 else f"{fit['tau2']:.4f}"
        line = (f"Heterogeneity: I\u00b2 = {fit['i2']:.1f}%, \u03c4\u00b2 = {tau}, Q = {fit['q']:.2f} "
                f"(df = {int(fit['k']) - 1}), {p_text(fit['q_pvalue'])}")
        assert lines[lines.index(f"Subtotal {fit['group']} (k = {int(fit['k'])})") + 1] == line
    assert overall_effect_text(row["zval"], row["ddf"], row["pval"]) in lines
    i2 = max(0.0, 100 * (row["q_between"] - row["df_between"]) / row["q_between"])
    assert lines[-1] == (f"Test for subgroup differences (drug): Q = {row['q_between']:.2f}, df = "
                         f"{int(row['df_between'])}, {p_text(row['q_between_pvalue'])}, I\u00b2 = {i2:.1f}%")
    # the subgroups as the forest plot groups them: a heading, its studies, then its subtotal
    for drug in sorted(set(pooled["subgroup"])):
        assert drug in lines
    # the RevMan style, asked for
    revman = summary_table(studies, read_result(run["pfs_hr_vs_crizotinib_first_line"]["pooled"]), "revman",
                           subgroups=fits)
    assert overall_effect_text(row["zval"], row["ddf"], row["pval"], "revman") in revman["Study"].tolist()


def test_proportions_carry_counts_percent_and_no_overall_row_when_overall_is_false(run):
    studies, _, row, table = tables(run["orr_tki_naive"])
    assert list(table.columns) == ["Study", "Events/total", "Proportion (95% CI)", "Weight (%)", "Note"]
    cells = table.set_index("Study")
    for r in studies[studies["status"] == "pooled"].to_dict("records"):
        assert cells.loc[r["label"], "Events/total"] == f"{int(r['events'])}/{int(r['total'])}"
        if pd.notna(r["ci_lower"]):
            assert cells.loc[r["label"], "Proportion (95% CI)"] == (
                f"{100 * r['estimate']:.1f}% ({100 * r['ci_lower']:.1f}% to {100 * r['ci_upper']:.1f}%)")
    for r in studies[studies["status"] == "not_pooled"].to_dict("records"):
        assert cells.loc[r["label"], "Note"] == f"not pooled: {r['reason']}"
    assert not row["overall"] and "No overall estimate across subgroups (overall: false)" in cells.index
    assert not any(s.startswith("Random effects") for s in cells.index)


def test_the_studies_follow_the_forest_sort(run):
    """The rows of the table are the forest plot's: with forest_sort estimate, ascending within each subgroup."""
    studies, pooled, _, table = tables(run["pfs_hr_vs_crizotinib_first_line"])
    by_estimate = summary_table(studies, pooled, sort="estimate",
                                subgroups=read_result(run["pfs_hr_vs_crizotinib_first_line"]["subgroups"]))
    assert sorted(by_estimate["Study"]) == sorted(table["Study"]) and list(by_estimate["Study"]) != list(table["Study"])
    shown = studies[studies["status"] == "pooled"].set_index("label")
    group, last = None, -1.0
    for label in by_estimate["Study"]:
        if label in set(shown["subgroup"]):
            group, last = label, -1.0
        elif label in shown.index:
            assert shown.loc[label, "subgroup"] == group and shown.loc[label, "estimate"] >= last, label
            last = shown.loc[label, "estimate"]


def test_a_median_not_reached_is_nr(run):
    studies, _, _, table = tables(run["pfs_median_ratio_vs_crizotinib_first_line"])
    assert "Medians, months (experimental vs comparator)" in table.columns
    nr = studies[(studies["estimate_nr"].astype(str) == "True") & (studies["status"] != "set_aside")]
    assert len(nr) >= 1
    cells = table.set_index("Study")
    for label in nr["label"]:
        assert cells.loc[label, "Ratio of medians (95% CI)"] == "NR"
        assert cells.loc[label, "Medians, months (experimental vs comparator)"].startswith("NR vs ")


def test_csv_text_cells_are_formula_safe_and_numbers_stay_text_as_shown():
    table = pd.DataFrame({"Study": ["=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "-2", "\tx", "ALEX"],
                          "Hazard ratio (95% CI)": ["0.43 (0.32 to 0.58)"] * 6})
    rows = list(csv.reader(io.StringIO(summary_csv(table))))
    assert rows[0] == ["Study", "Hazard ratio (95% CI)"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1", "'@SUM(A1)", "'-2", "'\tx", "ALEX"]
    assert all(r[1] == "0.43 (0.32 to 0.58)" for r in rows[1:])


def test_csv_and_word_document_hold_the_same_cells_and_are_byte_identical_across_runs(run, tmp_path):
    outputs = []
    for attempt in ("a", "b"):
        csvs = {name: tmp_path / attempt / "summary" / f"{name}.csv" for name in run}
        docx_path = tmp_path / attempt / "summary_tables.docx"
        write_summary_tables(run, csvs, docx_path)
        outputs.append((csvs, docx_path))
        if attempt == "a":
            time.sleep(2.1)  # the zip format dates its entries to two seconds
    (csvs_a, docx_a), (csvs_b, docx_b) = outputs
    assert docx_a.read_bytes() == docx_b.read_bytes()
    for name in run:
        assert csvs_a[name].read_bytes() == csvs_b[name].read_bytes()
        assert csvs_a[name].read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    with zipfile.ZipFile(docx_a) as z:
        assert {info.date_time for info in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    document = docx.Document(str(docx_a))
    assert document.core_properties.created == FIXED_DATE and document.core_properties.modified == FIXED_DATE
    assert len(document.tables) == len(run)
    for grid, name in zip(document.tables, run):
        expected = tables(run[name])[3]
        shown = [[cell.text for cell in r.cells] for r in grid.rows]
        assert shown[0] == list(expected.columns)
        assert shown[1:] == expected.values.tolist()
        from_csv = list(csv.reader(io.StringIO(csvs_a[name].read_text(encoding="utf-8-sig"))))
        assert from_csv == shown
    captions = [p.text for p in document.paragraphs if p.text.startswith("Table ")]
    titles = [str(read_result(run[name]["pooled"]).iloc[0]["title"]) for name in run]
    assert captions == [f"Table {i}. {t}" for i, t in enumerate(titles, start=1)]
