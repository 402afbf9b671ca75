"""metapool.io.write_tsv formats float columns itself: the file must be the one pandas' ``to_csv`` with
``float_format=FLOAT_FORMAT, na_rep=""`` writes, for every kind of column and value (NaN, infinities, -0, tiny
and huge floats, text that needs quoting, integers, booleans, mixed object columns, repeated column names)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.io import FLOAT_FORMAT, write_tsv


def pandas_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(sep="\t", index=False, float_format=FLOAT_FORMAT, lineterminator="\n", na_rep="")


FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-300, 5e-324,
                                                                                      123456789012345.0]))
TEXT = st.text(alphabet=st.sampled_from(list("ab ;\t\n\r\"'=-")), max_size=5)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 6).flatmap(lambda n: st.tuples(
    st.lists(FLOATS, min_size=n, max_size=n), st.lists(TEXT, min_size=n, max_size=n),
    st.lists(st.integers(-10**12, 10**12), min_size=n, max_size=n), st.lists(st.booleans(), min_size=n, max_size=n),
    st.lists(st.one_of(FLOATS, TEXT, st.none()), min_size=n, max_size=n))))
def test_write_tsv_is_pandas_to_csv_with_float_format(tmp_path_factory, columns):
    floats, text, ints, bools, mixed = columns
    frame = pd.DataFrame({"f": np.array(floats, dtype=float), "t": pd.Series(text, dtype=object), "i": ints,
                          "b": bools, "m": pd.Series(mixed, dtype=object), "g": np.array(floats[::-1], dtype=float)})
    path = tmp_path_factory.mktemp("tsv") / "t.tsv"
    for cols in (list(frame.columns), ["f"], ["t"], ["f", "g"]):
        write_tsv(frame[cols], path)
        assert path.read_bytes().decode("utf-8") == pandas_text(frame[cols])
    twice = frame[["f", "g"]].set_axis(["x", "x"], axis=1)  # a repeated column name
    write_tsv(twice, path)
    assert path.read_bytes().decode("utf-8") == pandas_text(twice)


def test_the_frame_written_is_left_as_it_was(tmp_path):
    frame = pd.DataFrame({"estimate": [0.5, np.nan], "k": [1, 2]})
    before = frame.copy()
    write_tsv(frame, tmp_path / "t.tsv")
    pd.testing.assert_frame_equal(frame, before)
    assert (tmp_path / "t.tsv").read_text() == "estimate\tk\n0.5\t1\n\t2\n"
