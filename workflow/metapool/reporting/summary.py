"""One formatted summary table per analysis, ready to paste into a manuscript: CSV files and one Word document.

The full-precision numbers are in the TSV tables and the workbook (:mod:`metapool.reporting.workbook`); these
tables hold the same results rounded as the report shows them (:func:`metapool.reporting.words.fmt_estimate`:
percent with one decimal, months with one, ratios with two; p-values and the test for the overall effect by
:mod:`metapool.display`), with the unit in the column heading or the cell. Their rows are those of the analysis's
forest plot (:func:`metapool.figures.plots.forest_rows`: each study with its counts, estimate, CI and weight,
grouped by subgroup with each subgroup's subtotal and heterogeneity), followed by the pooled estimate, the
prediction interval, heterogeneity (τ², I², Cochran's Q), the test for the overall effect and the test for
subgroup differences, in the layout of a Cochrane review's forest plot (Higgins et al., eds. Cochrane Handbook
for Systematic Reviews of Interventions, version 6.4, 2023, chapter 10).

Both outputs are byte-identical across runs: the CSV is UTF-8 text (with a byte-order mark, so that a
spreadsheet reads τ² and I² right), the Word document a zip with fixed entry times and fixed document dates.
A text cell that a spreadsheet would read as a formula (:data:`~metapool.reporting.workbook.FORMULA_STARTS`) is
written with a leading apostrophe in the CSV (OWASP, "CSV Injection").
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping, Sequence

import pandas as pd

from ..analysis.run import overall_shown
from ..display import overall_effect_text, upper_first, using_p_style
from ..figures.forest import heterogeneity_text
from ..figures.plots import forest_rows, is_true, model_label, subgroup_test_text, total_detail
from ..io import atomic_write_bytes, atomic_write_text
from ..vocabulary import MEASURES
from .tables import read_result
from .words import fmt_ci, fmt_estimate, is_finite
from .workbook import FORMULA_STARTS, deterministic_zip

__all__ = ["summary_table", "formula_safe", "summary_csv", "summary_docx", "write_summary_tables"]

# the document's dates (core properties): fixed, so that the bytes do not depend on the time of the run
FIXED_DATE = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)


def _limit(row: Mapping, side: str, measure: str) -> str:
    if is_true(row.get(f"ci_{side}_nr")):
        return "NR"
    value = row.get(f"ci_{side}")
    return fmt_estimate(value, measure) if is_finite(value) else ""


def estimate_cell(row: Mapping, measure: str) -> str:
    """``"60.8% (52.3% to 68.9%)"``: an estimate with its CI as the report writes them; ``"NR"`` for a median
    (or limit) not reached, ``"12.0 (no CI)"`` without a CI, ``""`` without an estimate."""
    est_nr = is_true(row.get("estimate_nr"))
    est = "NR" if est_nr else fmt_estimate(row["estimate"], measure) if is_finite(row.get("estimate")) else ""
    lo, hi = _limit(row, "lower", measure), _limit(row, "upper", measure)
    if not est:
        return ""
    if not lo and not hi:
        return est if est_nr else f"{est} (no CI)"
    return f"{est} ({lo or 'NA'} to {hi or 'NA'})"


def _headings(row: Mapping) -> tuple[str, str | None]:
    """The estimate column's heading (measure, unit, CI level) and the count column's (None: no counts)."""
    measure = row["measure"]
    m = MEASURES[measure]
    level = float(row["level"]) if is_finite(row.get("level")) else 0.95
    estimate = f"{upper_first(m.noun)}{', ' + m.unit if m.unit else ''} ({100 * level:g}% CI)"
    counts = {"proportion": "Events/total", "ratio_of_medians": "Medians, months (experimental vs comparator)"}
    return estimate, counts.get(measure)


def summary_table(studies: pd.DataFrame, pooled: pd.DataFrame, p_style: str | None = None,
                  sort: str = "data", subgroups: pd.DataFrame | None = None) -> pd.DataFrame:
    """The formatted summary table of one analysis: every cell text, rounded as the report shows it.

    Parameters
    ----------
    studies : pandas.DataFrame
        The analysis's ``results/<plan>/analyses/<analysis>/studies.tsv``.
    pooled : pandas.DataFrame
        Its ``pooled.tsv`` (one row).
    p_style : {"jama", "revman"}, optional
        How p-values and the test for the overall effect are written (:func:`metapool.display.format_p`);
        default: the style in force (:func:`metapool.display.using_p_style`, the config's ``p_values``).
    sort : str
        The order of the studies, as in the forest plot (the analysis's ``forest_sort``;
        :func:`metapool.figures.plots.forest_rows`).
    subgroups : pandas.DataFrame, optional
        The analysis's ``subgroups.tsv``: each subgroup's heterogeneity line with Q, df and p, as in the forest plot.

    Returns
    -------
    pandas.DataFrame
        Columns ``Study``, the counts (proportions: ``Events/total``; ratios of medians: both medians),
        the estimate with its CI (heading with the measure, unit and level, e.g. ``Proportion (95% CI)``,
        ``Median, months (95% CI)``), ``Weight (%)`` and ``Note``; all text.
    """
    with using_p_style(p_style):
        return _summary_table(studies, pooled, sort, subgroups)


def _summary_table(studies: pd.DataFrame, pooled: pd.DataFrame, sort: str, subgroups) -> pd.DataFrame:
    row = pooled.iloc[0].to_dict()
    measure = row["measure"]
    est_col, count_col = _headings(row)
    columns = ["Study", *([count_col] if count_col else []), est_col, "Weight (%)", "Note"]
    out: list[dict] = []

    def add(study="", counts="", estimate="", weight="", note=""):
        out.append({"Study": study, count_col: counts, est_col: estimate, "Weight (%)": weight, "Note": note})

    # the report of each study the forest plot shows (another report of it may be set aside by the policy)
    by_id = {r["study_id"]: r for r in studies[studies["status"] != "set_aside"].to_dict("records")}
    for r in forest_rows(studies, measure, sort, subgroups).to_dict("records"):
        if r["kind"] == "study":
            weight = f"{r['weight']:.1f}" if r["included"] and is_finite(r.get("weight")) else ""
            add(r["label"], r["detail"], estimate_cell(by_id[r["study_id"]], measure), weight, r["note"])
        elif r["kind"] == "subtotal":
            add(r["label"], r["detail"], estimate_cell(r, measure))
        else:  # a subgroup's heading, or a line under it (its heterogeneity, one study)
            add(r["label"])
    k = int(row["k"]) if is_finite(row.get("k")) else 0
    weighted = any(is_finite(w) for w in studies.loc[studies["status"] == "pooled", "weight"])
    if overall_shown(row) and is_finite(row.get("estimate")):
        if k == 1:
            add("One study (not pooled)", "", estimate_cell(row, measure))
        else:
            add(model_label(row, subgroup_test=False),
                total_detail(studies[studies["status"] != "set_aside"].to_dict("records"), measure),
                estimate_cell(row, measure), "100.0" if weighted else "")
            if row.get("method") not in (None, "", "EE") and is_finite(row.get("pi_lower")):
                add("Prediction interval", "", fmt_ci(row["pi_lower"], row["pi_upper"], measure))
            if is_finite(row.get("q")):
                add(heterogeneity_text(row))
        effect = overall_effect_text(row.get("zval"), row.get("ddf"), row.get("pval"))
        if effect and k > 1:
            add(effect)
    elif not overall_shown(row):
        add("No overall estimate across subgroups (overall: false)")
    subgroup = subgroup_test_text(row)
    if subgroup:
        add(subgroup)
    return pd.DataFrame(out, columns=columns).fillna("").astype(str)


def formula_safe(text: str) -> str:
    """``text`` as a CSV cell a spreadsheet shows as text: a leading apostrophe before a first character of
    :data:`~metapool.reporting.workbook.FORMULA_STARTS` (``=``, ``+``, ``-``, ``@``, tab, carriage return)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def summary_csv(table: pd.DataFrame) -> str:
    """The CSV text of a summary table: comma-separated, every cell quoted as needed, LF line ends, text
    cells formula-safe (:func:`formula_safe`)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([formula_safe(c) for c in table.columns])
    for values in table.itertuples(index=False):
        writer.writerow([formula_safe(str(v)) for v in values])
    return buf.getvalue()


def summary_docx(tables: Sequence[tuple[str, str, pd.DataFrame]]) -> bytes:
    """A Word document (python-docx) with one captioned table per analysis, byte-identical across runs.

    Parameters
    ----------
    tables : sequence of (title, question, table)
        Each analysis's title, its clinical question ('' for none) and its :func:`summary_table`.

    Returns
    -------
    bytes
        The DOCX file: fixed core properties (author, dates, revision) and fixed zip entry times.
    """
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.shared import Pt

    document = docx.Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    style = document.styles["Normal"]
    style.font.name, style.font.size = "Arial", Pt(9)
    props = document.core_properties
    props.author = props.last_modified_by = "metapool"
    props.title = "Summary tables"
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.revision = 1
    for number, (title, question, table) in enumerate(tables, start=1):
        document.add_paragraph().add_run(f"Table {number}. {title}").bold = True
        if question:
            document.add_paragraph(question)
        grid = document.add_table(rows=1, cols=len(table.columns))
        grid.style = "Table Grid"
        for cell, heading in zip(grid.rows[0].cells, table.columns):
            cell.text = ""
            cell.paragraphs[0].add_run(str(heading)).bold = True
        for values in table.itertuples(index=False):
            for cell, value in zip(grid.add_row().cells, values):
                cell.text = str(value)
        document.add_paragraph()
    buf = io.BytesIO()
    document.save(buf)
    return deterministic_zip(buf.getvalue())


def write_summary_tables(analyses: Mapping[str, Mapping[str, str]], csv_outputs: Mapping[str, str], docx_output,
                         p_style: str | None = None) -> None:
    """Write each analysis's summary table as CSV and all of them in one Word document, atomically.

    Parameters
    ----------
    analyses : Mapping
        Analysis name -> ``{"studies": path, "pooled": path}`` (its ``studies.tsv`` and ``pooled.tsv``; and
        ``"sort"``, its ``forest_sort``, default ``"data"``; ``"subgroups"``, its ``subgroups.tsv`` when it has
        one), in the order of the document.
    csv_outputs : Mapping
        Analysis name -> its CSV file (``results/<plan>/tables/summary/<analysis>.csv``).
    docx_output : str or os.PathLike
        The Word document (``results/<plan>/tables/summary_tables.docx``).
    p_style : {"jama", "revman"}, optional
        As :func:`summary_table`.
    """
    tables = []
    for name, files in analyses.items():
        pooled = read_result(files["pooled"])
        fits = read_result(files["subgroups"]) if files.get("subgroups") else None
        table = summary_table(read_result(files["studies"]), pooled, p_style, files.get("sort", "data"), fits)
        atomic_write_text(csv_outputs[name], "\ufeff" + summary_csv(table))
        row = pooled.iloc[0]
        tables.append((str(row["title"]), str(row.get("question", "") or ""), table))
    atomic_write_bytes(docx_output, summary_docx(tables))
