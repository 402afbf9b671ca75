"""Reading the run's result tables for the report and the workbook."""

from __future__ import annotations

import pandas as pd

from ..analysis.estimates import TEXT_COLUMNS
from ..io import read_tsv
from ..vocabulary import BAYES_TEXT_COLUMNS
from .words import is_missing

__all__ = ["RESULT_TEXT_COLUMNS", "read_result", "records"]

# text columns of the tables under results/<plan>/analyses/ and results/<plan>/multiverse/ (read as text even when empty)
RESULT_TEXT_COLUMNS = TEXT_COLUMNS + ["label", "reason", "status", "se_note", "subgroup", "group", "test", "side",
                                      "method", "notes", "title", "stage", "specification", "study_ids",
                                      "treatment", "prior_therapy", "crossed"]
RESULT_TEXT_COLUMNS += [c for c in BAYES_TEXT_COLUMNS if c not in RESULT_TEXT_COLUMNS]


def read_result(path) -> pd.DataFrame:
    """One result table of a run (TSV) with its text columns as text.

    Parameters
    ----------
    path : str or os.PathLike
        A table written by the workflow (``results/<plan>/analyses/<analysis>/*.tsv``, ``results/<plan>/multiverse/*.tsv``,
        ``results/<plan>/tables/*.tsv``).

    Returns
    -------
    pandas.DataFrame
    """
    return read_tsv(path, text_columns=RESULT_TEXT_COLUMNS)


def records(df) -> list[dict]:
    """The rows of ``df`` as dicts, a missing value (None or NaN) as None, as the report's template shows them.

    Parameters
    ----------
    df : pandas.DataFrame

    Returns
    -------
    list of dict
    """
    return [{k: (None if is_missing(v) else v) for k, v in r.items()} for r in df.to_dict("records")]
