"""The table of every pooled row (metapool.steps.concat_step): tables that share a header are parsed as one text,
which must give the file that parsing each table and stacking them gives."""

from __future__ import annotations

import math

import pandas as pd

from metapool.io import write_tsv
from metapool.steps import _read_estimate_table, concat_step


def test_one_parse_gives_the_file_of_one_parse_per_table(tmp_path):
    # columns whose type differs from table to table: text empty in one, an integer column with a gap, booleans
    # beside a missing value, floats, a text column of numbers
    frames = [
        pd.DataFrame({"analysis": ["a"], "notes": [""], "k": [3], "converged": [True], "estimate": [0.123456789012],
                      "study_ids": ["1;2"], "ddf": [math.nan]}),
        pd.DataFrame({"analysis": ["b", "c"], "notes": ["no study", ""], "k": [0, 12], "converged": [False, True],
                      "estimate": [math.nan, 2.5], "study_ids": ["", "3"], "ddf": [4.0, math.nan]}),
        pd.DataFrame({"analysis": ["d"], "notes": [""], "k": [math.nan], "converged": [math.nan],
                      "estimate": [1e-12], "study_ids": ["7"], "ddf": [math.nan]}),
    ]
    paths = []
    for i, frame in enumerate(frames):
        paths.append(tmp_path / f"pooled_{i}.tsv")
        write_tsv(frame, paths[-1])
    concat_step(paths, tmp_path / "one_parse.tsv")
    write_tsv(pd.concat([_read_estimate_table(p) for p in paths], ignore_index=True), tmp_path / "each.tsv")
    assert (tmp_path / "one_parse.tsv").read_bytes() == (tmp_path / "each.tsv").read_bytes()
    assert len((tmp_path / "one_parse.tsv").read_text().splitlines()) == 1 + 4


def test_tables_with_other_columns_are_stacked_with_empty_cells(tmp_path):
    write_tsv(pd.DataFrame({"study_id": ["s1"], "estimate": [0.5]}), tmp_path / "a.tsv")
    write_tsv(pd.DataFrame({"study_id": ["s2"], "estimate": [0.25], "region": ["Asia"]}), tmp_path / "b.tsv")
    concat_step([tmp_path / "a.tsv", tmp_path / "b.tsv"], tmp_path / "out.tsv")
    assert (tmp_path / "out.tsv").read_text() == "study_id\testimate\tregion\ns1\t0.5\t\ns2\t0.25\tAsia\n"
