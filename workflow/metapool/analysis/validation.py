"""Validation of the four extraction tables (data/*.tsv) against metapool/schemas/<table>.schema.yaml.

Each schema is a JSON Schema (draft 2020-12) for ONE ROW read as strings: `pattern` / `enum` check the
format of every cell; the drugs, settings, comparators and outcome codes are checked against the vocabulary
declared in the data folder (metapool.declared: `<data_dir>/vocabulary.yaml`, else the package's ALK default);
the top-level `x-columns` (column -> type and numeric bounds) and `x-key` (unique key) are read here. Columns
are matched by name, in any order (:func:`conform`): a column whose schema admits an empty cell may be left out
(read as empty cells), and columns the schema does not declare (a reviewer's covariates and notes) are kept
after the declared ones, sorted by name. A file is UTF-8, with or without a byte-order mark, with LF or CRLF
line ends (:func:`decode_table`). Rules that span cells, rows or tables are the small functions below. Every
problem of every table is collected and raised at once as a DataValidationError; on success the tables come
back typed.
"""
from __future__ import annotations

import csv
import datetime
import difflib
import io
import operator
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Mapping

import jsonschema
import numpy as np
import pandas as pd

from ..declared import DeclaredVocabulary, VocabularyError, load_vocabulary
from ..inputs import read_input
from ..vocabulary import DATA_TABLES, DECLARED_COLUMNS, RISK_OF_BIAS_TABLE, ROB_ALL_OUTCOMES
from ..yamlfile import load_package_yaml

# package data (pyproject.toml): found beside the code wherever the package is installed
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"
ESTIMATE = {"response": "pct", "survival": "median", "hazard_ratios": "hr"}  # what the CI brackets
GROUP = ("study_id", "outcome", "assessor")  # response rows sharing these (one per CI level) ...
AGREE = ("evaluable", "responders", "count_source", "pct")  # ... must agree on these
FORMAT = {"integer": "an integer", "decimal": "a number as printed (e.g. 74 or 33.3)",
          "decimal_or_nr": 'a number as printed or "NR"'}
BOUNDS = (("min", ">=", operator.ge), ("exclusive_min", ">", operator.gt),
          ("max", "<=", operator.le), ("exclusive_max", "<", operator.lt))


@dataclass(frozen=True)
class Violation:
    file: str
    line: int  # file line: header = 1, first data row = 2
    column: str  # "" for a problem of the whole line / file
    value: str
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}"
        if self.column:
            value = self.value if self.value.isprintable() else self.value.encode("unicode_escape").decode("ascii")
            value = value if len(value) <= 80 else value[:77] + "..."
            where += f", column '{self.column}', value '{value}'"
        return f"{where}: {self.rule}"


class DataValidationError(ValueError):
    def __init__(self, violations):
        self.violations = list(violations)
        super().__init__(f"{len(self.violations)} problem(s) in the data tables:\n"
                         + "\n".join(map(str, self.violations)))


@cache
def load_schema(table: str) -> dict:
    """The row schema of `table` (checked against the draft 2020-12 meta-schema)."""
    schema = load_package_yaml(SCHEMA_DIR / f"{table}.schema.yaml")
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


BOM = b"\xef\xbb\xbf"  # UTF-8 byte-order mark, as Excel writes "CSV UTF-8"


def decode_table(path: str | PathLike) -> str:
    """The text of a table file: UTF-8 with or without a byte-order mark, LF or CRLF line ends (both become
    LF). Any other encoding (Latin-1, UTF-16, ...) raises DataValidationError naming the file, its line and
    the byte offset (from 0, counting the BOM) of the first byte that is not UTF-8. The bytes are read once and
    hashed before they are decoded (:func:`metapool.inputs.read_input`): a job records what it parsed."""
    file, data = str(path), read_input(path)
    skip = len(BOM) if data.startswith(BOM) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError as e:
        offset = skip + e.start
        raise DataValidationError([Violation(
            file, data[:offset].count(b"\n") + 1, "", "",
            f"not UTF-8: byte offset {offset} (0x{data[offset]:02x}) ({e.reason}); save the table as UTF-8 "
            "(e.g. Excel's \"CSV UTF-8\" or \"Unicode Text\" re-saved as UTF-8)")]) from None
    return text.replace("\r\n", "\n")


def read_raw(path: str | PathLike) -> pd.DataFrame:
    """The TSV as an all-string frame, empty cell = "", nothing stripped, quotes kept literally; its columns
    in file order (see :func:`conform` for the columns by name).

    The bytes are read by :func:`decode_table` (UTF-8 with or without BOM, LF or CRLF). Raises
    DataValidationError for what makes a frame meaningless: not UTF-8, no header, an empty or duplicated
    column name, a row whose field count differs from the header's (all of them are reported).
    """
    file, text = str(path), decode_table(path)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows:
        raise DataValidationError([Violation(file, 1, "", "", "file is empty (no header row)")])
    header, problems = rows[0], []
    problems += [Violation(file, 1, c, c, f"duplicate column '{c}'")
                 for i, c in enumerate(header) if c in header[:i]]
    problems += [Violation(file, 1, "", "", f"column {i} has no name") for i, c in enumerate(header, 1) if not c]
    problems += [Violation(file, line, "", "", f"row has {len(row)} field(s), the header has {len(header)}"
                           if row else "blank line")
                 for line, row in enumerate(rows[1:], start=2) if len(row) != len(header)]
    if problems:
        raise DataValidationError(problems)
    return pd.DataFrame(rows[1:], columns=header, dtype=str)


@cache
def optional_columns(table: str) -> tuple[str, ...]:
    """The columns of ``table`` that may be left out of the file (their schema admits an empty cell): a
    missing one reads as empty cells."""
    props = load_schema(table)["properties"]
    return tuple(c for c, prop in props.items() if jsonschema.Draft202012Validator(prop).is_valid(""))


def extra_columns(table: str, columns) -> list[str]:
    """The columns of a file of ``table`` that its schema does not declare (a reviewer's covariates and
    notes), in file order."""
    props = load_schema(table)["properties"]
    return [c for c in columns if c not in props]


def conform(raw: pd.DataFrame, table: str) -> pd.DataFrame:
    """``raw`` (:func:`read_raw`) with its columns matched by name: the schema's columns in schema order (an
    optional column the file leaves out as empty cells), then the extra columns sorted by name. Two files that
    differ only in the order of their columns give the same frame."""
    props = load_schema(table)["properties"]
    out = pd.DataFrame({c: raw[c] if c in raw.columns else pd.Series([""] * len(raw), dtype=str)
                        for c in props}, index=raw.index)
    for c in sorted(extra_columns(table, raw.columns)):
        out[c] = raw[c]
    return out


def read_table(path: str | PathLike, table: str) -> pd.DataFrame:
    """A table file as strings, columns matched by name (:func:`read_raw`, then :func:`conform`)."""
    return conform(read_raw(path), table)


def validate_tables(paths: Mapping[str, str | PathLike],
                    vocabulary: DeclaredVocabulary | None = None) -> dict[str, pd.DataFrame]:
    """Validate the tables named in `paths` (some of DATA_TABLES: the extraction tables and the optional
    risk-of-bias table; "studies" is required) and return them typed.

    The drugs, settings, comparators and outcome codes are checked against `vocabulary`, by default the one
    declared beside studies.tsv (metapool.declared.load_vocabulary). Integers -> "Int64", decimals -> float64
    (NaN when empty), "NR" -> NaN plus a boolean `<col>_nr` column, strings stay str; every frame gets a
    `line` column (the file line). Raises DataValidationError listing every violation of every table (a
    vocabulary file that cannot be used is one of them).
    """
    if unknown := set(paths) - set(DATA_TABLES):
        raise ValueError(f"unknown table(s) {sorted(unknown)}; expected some of {DATA_TABLES}")
    if "studies" not in paths:
        raise ValueError("validate_tables needs the 'studies' table to resolve study ids")
    names = [t for t in DATA_TABLES if t in paths]
    raw, found = {}, {t: [] for t in names}
    if vocabulary is None:
        try:
            vocabulary = load_vocabulary(data_dir=Path(paths["studies"]).parent)
        except VocabularyError as e:  # each problem starts with the file (and its line, for bad YAML)
            raise DataValidationError(e.problems) from None
    for t in names:
        try:
            raw[t] = read_raw(paths[t])
        except DataValidationError as e:
            found[t] += e.violations
        except OSError as e:
            found[t].append(Violation(str(paths[t]), 1, "", "", f"cannot read the file ({e.strerror})"))
    studies = raw.get("studies")
    ids = set(studies["study_id"]) if studies is not None and "study_id" in studies else None
    for t in raw:
        found[t] += _check_table(t, str(paths[t]), raw[t], ids, str(paths["studies"]), vocabulary)
        if t not in ("studies", RISK_OF_BIAS_TABLE) and studies is not None:  # they meet in the per-study estimates
            found[t] += [Violation(str(paths[t]), 1, c, c, f"extra column '{c}' is also a column of "
                                   f"{paths['studies']}; keep it in one table") for c in
                         sorted(set(extra_columns(t, raw[t].columns)) & set(extra_columns("studies", studies.columns)))]
    if RISK_OF_BIAS_TABLE in raw and studies is not None and not found[RISK_OF_BIAS_TABLE] and not found["studies"]:
        from .risk_of_bias import design_problems

        found[RISK_OF_BIAS_TABLE] += design_problems(str(paths[RISK_OF_BIAS_TABLE]), raw[RISK_OF_BIAS_TABLE],
                                                     studies, str(paths["studies"]))
    if violations := [v for t in names for v in found[t]]:
        raise DataValidationError(violations)
    return {t: _typed(conform(raw[t], t), load_schema(t)) for t in names}


def derived_counts(pct: str, evaluable: int) -> range:
    """All k in 0..evaluable with round-half-away-from-zero(100*k/evaluable, d) == pct, d = printed decimals.

    In constant time whatever ``evaluable`` (a range, not a list): with S = 100 * 10**d and t = pct * 10**d
    (an integer, read from the text: exact), the printed value of k is floor((2*S*k + n) / (2*n)), which
    equals t exactly when 2*n*t - n <= 2*S*k < 2*n*(t + 1) - n.
    """
    whole, _, decimals = pct.partition(".")
    d = len(decimals)
    target = int(whole + decimals)  # pct * 10**d, exactly
    scale, n = 100 * 10**d, evaluable
    low = -((n - 2 * n * target) // (2 * scale))  # ceil((2nt - n) / 2S)
    high = -((n - 2 * n * (target + 1)) // (2 * scale)) - 1  # ceil((2n(t+1) - n) / 2S) - 1
    return range(max(low, 0), min(high, n) + 1)


def _counts(fits: range) -> str:
    """``fits`` in words: each count when a few, else the first and the last."""
    return ", ".join(map(str, fits)) if len(fits) <= 5 else f"every count from {fits[0]} to {fits[-1]}"


# --------------------------------------------------------------------------------------------- checks

def declared_columns(table: str, vocabulary: DeclaredVocabulary) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The columns of `table` whose values `vocabulary` declares: column -> (what a value is, the declared
    values); e.g. studies.tsv `drug` -> ("drug", the declared drugs)."""
    out = {column: (column, vocabulary.values(kind)) for column, kind in DECLARED_COLUMNS.items()
           if table == "studies"}
    if table == RISK_OF_BIAS_TABLE:
        out["outcome"] = ("outcome", (*vocabulary.values("outcomes"), ROB_ALL_OUTCOMES))
    elif table != "studies":
        family = "proportion" if table == "response" else "time-to-event"
        out["outcome"] = (f"{family} outcome", vocabulary.table_outcomes(table))
    if table == "hazard_ratios":
        out["comparator"] = ("comparator", vocabulary.comparators)
    return out


def trial_key(trial: str) -> str:
    """The trial name without case, punctuation or spacing ("PROFILE 1005", "profile-1005" -> "profile1005"):
    two trial names with the same key name the same trial."""
    return re.sub(r"[\W_]+", "", trial.casefold())


def same_trial_problems(file: str, rows: list[dict]) -> list[Violation]:
    """Reports of one trial written as two trials: trial names that differ only in case, punctuation or
    spacing, or (when the rows have a non-empty `registry`, e.g. an NCT number) one registry number under two
    trial names. Each is refused on the later row, naming the earlier one, so that a typo never lets two
    reports of one cohort be pooled together.

    `rows` are the rows of studies.tsv as records (file line = position + 2).
    """
    out, spelled, registered = [], {}, {}
    for line, row in enumerate(rows, start=2):
        trial = row.get("trial", "")
        if not trial.strip():
            continue
        first = spelled.setdefault(trial_key(trial), (line, trial))
        if first[1] != trial:
            out.append(Violation(file, line, "trial", trial,
                                 f"trial '{trial}' differs from trial '{first[1]}' (line {first[0]}) only in case, "
                                 f"punctuation or spacing (did you mean '{first[1]}'?); write one trial's name "
                                 "the same way in every row"))
        if registry := row.get("registry", "").strip():
            first = registered.setdefault(registry.casefold(), (line, trial))
            if trial_key(first[1]) != trial_key(trial):
                out.append(Violation(file, line, "registry", registry,
                                     f"registry {registry} is also the registry of trial '{first[1]}' (line "
                                     f"{first[0]}); one trial, one name: write trial '{first[1]}' "
                                     f"(did you mean '{first[1]}'?)"))
    return out


def _check_table(table, file, raw, ids, studies_file, vocabulary) -> list[Violation]:
    schema = load_schema(table)
    props, xcols = schema["properties"], schema.get("x-columns", {})
    out = _check_header(table, file, list(raw.columns))
    complete = not out  # cross-cell rules only when every required column is there
    known = [c for c in props if c in raw.columns or c in optional_columns(table)]  # a missing one: the header's
    raw = conform(raw, table)
    validator = jsonschema.Draft202012Validator(schema)
    declared = declared_columns(table, vocabulary)
    rows = raw.to_dict("records")
    good = []  # per row: the cells that passed the cell checks
    for line, row in enumerate(rows, start=2):
        bad = {}
        for c in known:
            if row[c] != row[c].strip():
                bad[c] = f"{c} has leading or trailing whitespace"
        for c, value in row.items():  # declared and extra columns: text that reaches the outputs
            if c not in bad and (control := next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)):
                bad[c] = f"{c} contains a control character (U+{ord(control):04X}); remove it"
        for err in validator.iter_errors({c: row[c] for c in known if c not in bad}):
            if err.validator not in ("required", "additionalProperties"):  # those are the header's job
                c = err.path[0]
                bad[c] = _format_rule(c, err, props[c], xcols.get(c, {}).get("type"))
        for c, xcol in xcols.items():
            if c in known and c not in bad and row[c] not in ("", "NR"):
                if any(key in xcol and not op(Decimal(row[c]), Decimal(str(xcol[key])))
                       for key, _, op in BOUNDS):
                    bad[c] = f"{c} must be " + " and ".join(f"{sym} {xcol[k]}" for k, sym, _ in BOUNDS if k in xcol)
        for c, (noun, values) in declared.items():
            if c in known and c not in bad and row[c] not in values:
                bad[c] = vocabulary.refusal(row[c], noun, values)
        out += [Violation(file, line, c, row[c], rule) for c, rule in bad.items()]
        good.append({c: v for c, v in row.items() if c not in bad})
        if complete:
            out += _row_rules(table, file, line, row, good[-1])
    if complete:
        out += _table_rules(table, file, rows, good, schema["x-key"], ids, studies_file)
    if complete and table == RISK_OF_BIAS_TABLE:
        from .risk_of_bias import rob_problems

        out += rob_problems(file, rows, good)
    if table == "studies" and "trial" in raw.columns:
        out += same_trial_problems(file, rows)
    position = {c: i for i, c in enumerate(props)}  # report by line, then in column order
    return sorted(out, key=lambda v: (v.line, position.get(v.column.split(", ")[0], -1)))


# names the engine gives the columns it derives (per-study estimates, an analysis's studies.tsv): an extra
# column of that name would be overwritten, so it is refused
DERIVED_COLUMNS = ("line", "measure", "n", "events", "total", "estimate", "note", "label", "status", "included",
                   "reason", "se_note", "yi", "vi", "sei", "weight", "analysis", "subgroup", "ci_asymmetry",
                   "ci_not_centred")


def _reserved(column: str) -> bool:
    from ..vocabulary import EXTRACTION_TABLES as tables

    arms = {f"{arm}_{c}" for arm in ("e", "c") for c in ("n", "median", "ci_lower", "ci_upper", "ci_level")}
    return (column in DERIVED_COLUMNS or column in arms or column.endswith("_nr") or column.startswith("subgroup_")
            or any(column in load_schema(t)["properties"] for t in tables))


def _check_header(table, file, found) -> list[Violation]:
    """Columns are matched by name, in any order: a required column must be there (an optional one may be left
    out); an extra column is kept unless its name is one the engine uses."""
    optional = set(optional_columns(table))
    expected = list(load_schema(table)["properties"])
    out = [Violation(file, 1, c, "", f"missing column '{c}'"
                     + (f" (found '{close[0]}')" if (close := difflib.get_close_matches(
                         c, extra_columns(table, found), n=1)) else "")
                     + f"; required columns: {', '.join(x for x in expected if x not in optional)}")
           for c in expected if c not in found and c not in optional]
    out += [Violation(file, 1, c, c, f"extra column '{c}' has a name the engine uses for a column of its own "
                                     "or of another table; rename it")
            for c in extra_columns(table, found) if _reserved(c)]
    return out


def _format_rule(column, err, prop, kind) -> str:
    optional = jsonschema.Draft202012Validator(prop).is_valid("")
    if err.instance == "":
        return f"{column} is required (must not be empty)"
    if err.validator == "enum":
        return f"{column} must be one of: {', '.join(v for v in prop['enum'] if v)}" + (" (or empty)" * optional)
    must = f"be {FORMAT[kind]}" if kind in FORMAT else f"match {prop['pattern']}"
    return f"{column} must {must}" + (" (or empty)" * optional)


def _row_rules(table, file, line, row, good) -> list[Violation]:
    out = []

    def add(column, rule):
        out.append(Violation(file, line, column, row[column], rule))

    def num(column):  # the cell as a number, None when empty, "NR" or invalid
        return Decimal(good[column]) if good.get(column, "") not in ("", "NR") else None

    if table == "studies" and good.get("data_cut", ""):
        cut = good["data_cut"]
        if len(cut) == 10:
            try:
                datetime.date.fromisoformat(cut)
            except ValueError:
                add("data_cut", f"data_cut {cut} is not a calendar date (that month has no day {int(cut[8:])})")
        if good.get("year", "") and int(cut[:4]) > int(good["year"]):
            add("data_cut", f"data_cut {cut} is after the report's publication year ({row['year']}): a report "
                            "cannot give data cut after it was published")
    if est := ESTIMATE.get(table):
        if (row["ci_lower"] or row["ci_upper"]) and not row["ci_level"]:
            add("ci_level", "ci_level is required when ci_lower or ci_upper is given")
        lo, e, hi = num("ci_lower"), num(est), num("ci_upper")
        if e is not None and lo is not None and lo > e:
            add("ci_lower", f"ci_lower must be <= {est} ({row[est]})")
        if e is not None and hi is not None and hi < e:
            add("ci_upper", f"ci_upper must be >= {est} ({row[est]})")
        if e is None and lo is not None and hi is not None and lo > hi:
            add("ci_lower", f"ci_lower must be <= ci_upper ({row['ci_upper']})")
    if table == "response":
        n, k = num("evaluable"), num("responders")
        if n is not None and k is not None and k > n:
            add("responders", f"responders must be <= evaluable ({row['evaluable']})")
        if row["responders"] and not row["count_source"]:
            add("count_source", f"count_source is required when responders is given ({row['responders']})")
        if row["count_source"] and not row["responders"]:
            add("count_source", "count_source must be empty when responders is empty")
        if good.get("count_source") == "derived" and k is not None:
            if not (row["evaluable"] and row["pct"]):
                add("count_source", "a derived count needs both evaluable and pct")
            elif n is not None and num("pct") is not None and k <= n:
                fits, pct = derived_counts(row["pct"], int(n)), row["pct"]
                if int(k) not in fits:
                    add("responders", f"derived responders must reproduce pct ({pct}) from evaluable ({n}): "
                                      f"100*{k}/{n} = {100 * k / n:.4f}; "
                        + (f"the count that does is {fits[0]}" if len(fits) == 1 else
                           f"counts that do: {_counts(fits)}" if fits else "no count does"))
                elif len(fits) > 1:
                    add("responders", f"derived responders is not unique: {_counts(fits)} all "
                                      f"reproduce pct ({pct}) from evaluable ({n})")
    return out


def _table_rules(table, file, rows, good, key, ids, studies_file) -> list[Violation]:
    out, first, groups = [], {}, {}
    for line, (row, ok) in enumerate(zip(rows, good), start=2):
        values = tuple(row[c] for c in key)
        if values in first:
            what = key[0] if len(key) == 1 else f"key ({', '.join(key)})"
            out.append(Violation(file, line, ", ".join(key), ", ".join(values),
                                 f"duplicate {what}; first occurrence on line {first[values]}"))
        first.setdefault(values, line)
        for c in ("study_id", "comparator_study_id"):
            if table != "studies" and ids is not None and ok.get(c, "") and ok[c] not in ids:
                out.append(Violation(file, line, c, row[c], f"{c} is not a study_id in {studies_file}"))
        if table == "response":
            g = tuple(row[c] for c in GROUP)
            if g in groups:
                line0, row0 = groups[g]
                out += [Violation(file, line, c, row[c],
                                  f"{c} must agree with line {line0} ('{row0[c]}'), which has the same "
                                  f"study_id, outcome and assessor") for c in AGREE if row[c] != row0[c]]
            groups.setdefault(g, (line, row))
    return out


def _typed(raw: pd.DataFrame, schema: dict) -> pd.DataFrame:
    out = raw.copy()
    for c, xcol in schema.get("x-columns", {}).items():
        if xcol["type"] == "integer":
            out[c] = pd.array([int(v) if v else pd.NA for v in raw[c]], dtype="Int64")
        elif xcol["type"] in ("decimal", "decimal_or_nr"):
            out[c] = np.array([float(v) if v not in ("", "NR") else np.nan for v in raw[c]], dtype="float64")
            if xcol["type"] == "decimal_or_nr":
                out.insert(out.columns.get_loc(c) + 1, f"{c}_nr", (raw[c] == "NR").to_numpy(dtype=bool))
    out["line"] = np.arange(2, len(raw) + 2, dtype="int64")
    return out
