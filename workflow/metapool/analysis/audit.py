"""Extraction audit: every printed percentage and CI beside the value recomputed from the counts.

A printed number agrees when it is a rounding of the recomputed value at the
printed number of decimals (``|recomputed - printed| <= 0.5 * 10^-d``). The CI
is recomputed as the exact (Clopper-Pearson) interval at the printed level.
Disagreements are reported, never corrected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..stats.effects import clopper_pearson
from ..stats.survival import printed_decimals

__all__ = ["AUDIT_COLUMNS", "audit_response", "printed_decimals", "agrees_at_printed_precision"]

AUDIT_COLUMNS = [
    "study_id", "outcome", "assessor", "evaluable", "responders", "count_source",
    "pct_printed", "pct_recomputed", "pct_agrees",
    "ci_level", "ci_lower_printed", "ci_upper_printed", "ci_lower_exact", "ci_upper_exact", "ci_agrees",
    "status", "source", "location",
]


def agrees_at_printed_precision(recomputed: float, printed: str) -> bool:
    """Whether ``printed`` is a rounding of ``recomputed`` at its printed decimals."""
    tolerance = 0.5 * 10.0 ** (-printed_decimals(printed))
    return bool(abs(recomputed - float(printed)) <= tolerance + 1e-9)


def _status(pct_ok, ci_ok) -> str:
    checks = [c for c in (pct_ok, ci_ok) if c is not None]
    if not checks:
        return "not checkable"
    return "agrees" if all(checks) else "disagrees"


def audit_response(raw: pd.DataFrame) -> pd.DataFrame:
    """Audit ``data/response.tsv`` as read by :func:`metapool.analysis.validation.read_table` (all strings)."""
    rows = []
    for r in raw.itertuples(index=False):
        has_counts = r.evaluable != "" and r.responders != ""
        pct_rec = ci_lo = ci_hi = np.nan
        pct_ok = ci_ok = None
        if has_counts:
            x, n = int(r.responders), int(r.evaluable)
            pct_rec = 100.0 * x / n
            if r.pct != "":
                pct_ok = agrees_at_printed_precision(pct_rec, r.pct)
            if r.ci_level != "" and r.ci_lower != "" and r.ci_upper != "":
                lo, hi = clopper_pearson(x, n, float(r.ci_level))
                ci_lo, ci_hi = 100.0 * lo, 100.0 * hi
                ci_ok = agrees_at_printed_precision(ci_lo, r.ci_lower) and agrees_at_printed_precision(ci_hi, r.ci_upper)
        rows.append({
            "study_id": r.study_id, "outcome": r.outcome, "assessor": r.assessor,
            "evaluable": r.evaluable, "responders": r.responders, "count_source": r.count_source,
            "pct_printed": r.pct, "pct_recomputed": pct_rec,
            "pct_agrees": "" if pct_ok is None else ("yes" if pct_ok else "no"),
            "ci_level": r.ci_level, "ci_lower_printed": r.ci_lower, "ci_upper_printed": r.ci_upper,
            "ci_lower_exact": ci_lo, "ci_upper_exact": ci_hi,
            "ci_agrees": "" if ci_ok is None else ("yes" if ci_ok else "no"),
            "status": _status(pct_ok, ci_ok), "source": r.source, "location": r.location,
        })
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)
