"""Per-study estimates from the validated extraction tables, one row per study and outcome.

All three outcome tables become frames of the same columns (``ESTIMATE_COLUMNS``),
joined with the study characteristics, so that every later step (selection,
pooling, figures, report) reads one shape. The extra columns of the tables (a
reviewer's covariates and notes, see :func:`metapool.analysis.validation.conform`)
follow, those of the outcome table, then those of ``studies.tsv`` (:func:`extra_estimate_columns`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.effects import clopper_pearson
from ..stats.survival import hr_ci_asymmetry, hr_ci_not_centred, printed_decimals
from ..vocabulary import EXTRACTION_TABLES, TIME_UNIT_TEXT, TIME_UNITS

__all__ = ["ESTIMATE_COLUMNS", "STUDY_COLUMNS", "TEXT_COLUMNS", "extra_estimate_columns", "response_estimates",
           "survival_estimates", "hr_estimates", "exact_cis"]

STUDY_COLUMNS = [
    "study_id", "trial", "cohort", "arm", "drug", "setting", "design", "phase", "arm_role",
    "first_author", "year", "data_cut", "verification",
]
ESTIMATE_COLUMNS = STUDY_COLUMNS + [
    "outcome", "measure", "assessor", "comparator", "comparator_study_id", "n", "events", "count_source",
    "estimate", "ci_lower", "ci_upper", "ci_level", "estimate_nr", "ci_lower_nr", "ci_upper_nr",
    "ci_asymmetry", "ci_not_centred", "note", "source", "location",
]
TEXT_COLUMNS = [
    "study_id", "trial", "cohort", "arm", "drug", "setting", "design", "phase", "arm_role", "first_author",
    "data_cut", "verification", "outcome", "measure", "assessor", "comparator", "comparator_study_id",
    "count_source", "note", "source", "location",
]


def extra_estimate_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of a per-study estimate table (or of a typed extraction table) beyond ``ESTIMATE_COLUMNS``
    and the typed tables' own columns: the extra columns of the extraction tables, in order."""
    from .validation import extra_columns

    own = set(ESTIMATE_COLUMNS) | {"line"}
    return [c for c in frame.columns if c not in own and not c.endswith("_nr")
            and all(extra_columns(t, [c]) for t in EXTRACTION_TABLES)]


def _join(studies: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    columns = STUDY_COLUMNS + extra_estimate_columns(studies)
    return table.merge(studies[columns], on="study_id", how="left", validate="many_to_one")


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    extras = extra_estimate_columns(df)
    for col in ESTIMATE_COLUMNS:
        if col not in df.columns:
            if col.endswith("_nr") or col == "ci_not_centred":
                df[col] = False
            else:
                df[col] = np.nan if col in ("n", "events", "ci_asymmetry") else ""
    return df[ESTIMATE_COLUMNS + extras].sort_values(["outcome", "setting", "study_id", "assessor"], kind="mergesort").reset_index(drop=True)


def exact_cis(frame: pd.DataFrame, level: float) -> pd.DataFrame:
    """A copy of ``frame`` whose proportion rows with counts carry exact CIs at ``level``.

    The Clopper-Pearson interval of ``events`` out of ``n`` (Clopper and Pearson
    1934; :func:`metapool.stats.effects.clopper_pearson`) in ``ci_lower`` and
    ``ci_upper``, and ``level`` in ``ci_level``, for every row whose ``measure``
    is ``proportion`` and that has both counts; other rows are unchanged. The
    CIs are computed where their level is known: ``results/<plan>/tables/studies.tsv``
    at the config's ``study_level``, each analysis's ``studies.tsv`` at the
    analysis's ``level``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Rows of ``ESTIMATE_COLUMNS`` (at least ``measure``, ``events``, ``n`` and the three CI columns).
    level : float
        Confidence level, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        The copy, same rows and columns.
    """
    out = frame.copy()
    rows = (out["measure"] == "proportion").to_numpy(bool) & out["events"].notna().to_numpy() \
        & out["n"].notna().to_numpy()
    if rows.any():
        for col in ("ci_lower", "ci_upper", "ci_level"):
            out[col] = out[col].astype("float64")
        lo, hi = clopper_pearson(out.loc[rows, "events"].to_numpy(float), out.loc[rows, "n"].to_numpy(float), level)
        out.loc[rows, "ci_lower"] = lo
        out.loc[rows, "ci_upper"] = hi
        out.loc[rows, "ci_level"] = level
    return out


def response_estimates(studies: pd.DataFrame, response: pd.DataFrame, level: float | None = 0.95) -> pd.DataFrame:
    """Proportions ``responders / evaluable``, with exact Clopper-Pearson CIs at ``level`` (:func:`exact_cis`).

    A report printing one estimate at two CI levels has two rows in
    ``response.tsv``; it gives one row here. Rows without counts keep the
    printed percentage in ``note``. ``level=None`` leaves the CIs empty: the
    workflow's per-study estimate tables carry none, so that changing a level
    reruns only the tables at that level (``study_level``: ``studies.tsv``;
    an analysis's ``level``: that analysis).
    """
    resp = response.drop_duplicates(["study_id", "outcome", "assessor"], keep="first")
    df = _join(studies, resp)
    has_counts = df["responders"].notna() & df["evaluable"].notna()
    events = df["responders"].astype("float64")
    total = df["evaluable"].astype("float64")
    note = [  # a list, not numpy string arithmetic: an empty table (header only) has no dtype to add
        "" if counted else ("evaluable patients not reported" if pd.isna(evaluable) else "responders not reported")
        + (f" ({pct:g}% printed)" if pd.notna(pct) else "")
        for counted, evaluable, pct in zip(has_counts, df["evaluable"], df["pct"])
    ]
    out = df.assign(
        measure="proportion",
        comparator="",
        n=df["evaluable"],
        events=df["responders"],
        estimate=np.where(has_counts, events / total, np.nan),
        ci_lower=np.nan,
        ci_upper=np.nan,
        ci_level=np.nan,
        note=note,
    )
    out = _finish(out)
    return exact_cis(out, level) if level is not None else out


def survival_estimates(studies: pd.DataFrame, survival: pd.DataFrame) -> pd.DataFrame:
    """Medians in months with their CIs as printed; NR kept as flags, never as numbers.

    A median printed in weeks or days (``unit``) is converted to months with its CI limits: a month is
    365.25 / 12 days and a week 7 days (``metapool.vocabulary.TIME_UNITS``), so months = weeks x 7 x 12 /
    365.25 and months = days x 12 / 365.25 (49.1 weeks = 11.292 months); ``note`` then gives the printed value and the conversion (``printed 49.1 weeks; months = weeks x 7 x 12 /
    365.25``).
    """
    df = _join(studies, survival)
    units = (df["unit"].replace("", "months") if "unit" in df else pd.Series("months", index=df.index)).astype(str)
    factor = units.map(TIME_UNITS).to_numpy(dtype="float64")
    printed = df["median"].map(lambda m: "NR" if np.isnan(m) else f"{m:g}").astype(str)  # str also with no rows
    out = df.assign(
        measure="median",
        comparator="",
        estimate=df["median"] * factor,
        ci_lower=df["ci_lower"] * factor,
        ci_upper=df["ci_upper"] * factor,
        estimate_nr=df["median_nr"],
        ci_lower_nr=df["ci_lower_nr"],
        ci_upper_nr=df["ci_upper_nr"],
        note=np.where(units == "months", "", "printed " + printed + " " + units + "; " + units.map(TIME_UNIT_TEXT)),
    )
    return _finish(out)


def hr_estimates(studies: pd.DataFrame, hazard_ratios: pd.DataFrame, printed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Hazard ratios (experimental vs comparator) with their CIs as printed.

    ``ci_asymmetry`` is ``|ln HR - (ln L + ln U) / 2|`` in standard errors
    (:func:`metapool.stats.survival.hr_ci_asymmetry`); ``ci_not_centred`` flags an HR
    that is off the centre of its CI by more than the rounding of the printed
    values explains (:func:`metapool.stats.survival.hr_ci_not_centred`). ``printed``
    is the table as strings (:func:`metapool.analysis.validation.read_table`, same rows), from
    which the printed decimals are counted; without it they are inferred from
    the numbers.
    """
    flag = []
    for i, (h, lo, hi) in enumerate(zip(hazard_ratios["hr"], hazard_ratios["ci_lower"], hazard_ratios["ci_upper"])):
        decimals = None
        if printed is not None:
            decimals = tuple(printed_decimals(printed[c].iloc[i]) for c in ("hr", "ci_lower", "ci_upper"))
        flag.append(hr_ci_not_centred(h, lo, hi, decimals))
    df = _join(studies, hazard_ratios.assign(ci_not_centred=np.array(flag, dtype=bool)))
    asym = hr_ci_asymmetry(df["hr"].to_numpy(float), df["ci_lower"].to_numpy(float),
                           df["ci_upper"].to_numpy(float), df["ci_level"].to_numpy(float))
    out = df.assign(measure="hr", estimate=df["hr"], note=df["comparator_detail"], ci_asymmetry=np.atleast_1d(asym))
    return _finish(out)
