"""GRADE certainty and the summary-of-findings rows of one configured analysis.

Reads what the workflow already computes for the analysis (its ``pooled.tsv``, ``studies.tsv``,
``subgroups.tsv`` and ``small_study.tsv``), the designs of the data folder's ``studies.tsv`` and the analysis's
``certainty:`` configuration block, and applies the domain rules of :mod:`metapool.stats.grade`. An analysis
with an overall estimate gets one row; one whose report shows subgroup estimates without an overall one gets a
row per subgroup. Absolute effects come from :mod:`metapool.stats.absolute`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd

from ..spec import AnalysisSpec
from ..vocabulary import outcome as config_outcome
from .risk_of_bias import judgement_for
from ..stats.absolute import event_free_from_hazard_ratio, median_from_hazard_ratio, per_thousand
from ..stats.grade import (DOMAINS, LEVELS, Certainty, combine, imprecision, inconsistency, indirectness,
                           publication_bias, ratio_thresholds, risk_of_bias, starting_level)
from ..stats.sequential import required_information_size

__all__ = ["CertaintySpec", "AssumedComparator", "certainty_spec", "SOF_COLUMNS", "certainty_rows",
           "DEFAULT_HIGH_RISK_SHARE"]

#: the share of the analysis weight from studies at high risk of bias above which risk of bias rates down: more
#: than half of the weight, i.e. the pooled estimate rests mostly on studies at high risk (Cochrane Handbook
#: 14.2.2, 8.8; Guyatt et al. 2011, J Clin Epidemiol 64:407)
DEFAULT_HIGH_RISK_SHARE = 0.5

SOF_COLUMNS = ["analysis", "outcome", "group", "participants", "studies", "relative_effect", "comparator_risk",
               "intervention_risk", "absolute_basis", "start", "certainty", "symbols",
               *[f"{d}_down" for d in DOMAINS], *[f"{d}_reason" for d in DOMAINS], "footnotes"]

_MEASURE_LABEL = {"hr": "HR", "ratio_of_medians": "ratio of medians", "proportion": "proportion",
                  "median": "median (months)"}


@dataclass(frozen=True)
class AssumedComparator:
    """The comparator value behind a hazard ratio's absolute effects: a median (months) or an event-free
    proportion at ``time`` months, with its ``source``."""

    source: str
    median: float | None = None
    event_free: float | None = None
    time: float | None = None


@dataclass(frozen=True)
class CertaintySpec:
    """An analysis's ``certainty:`` block: declared indirectness, overrides (domain -> (levels, reason)), the
    high-risk weight share and the assumed comparator."""

    indirectness: int = 0
    indirectness_reason: str | None = None
    overrides: Mapping[str, tuple[int, str]] = field(default_factory=dict)
    high_risk_share: float = DEFAULT_HIGH_RISK_SHARE
    assumed_comparator: AssumedComparator | None = None


def certainty_spec(entry: Mapping | None, where: str = "certainty") -> CertaintySpec:
    """The typed :class:`CertaintySpec` of one analysis's ``certainty:`` block (None: the defaults).

    Raises ``ValueError`` naming the key path and the value for anything the schema cannot express (a rating
    down without its reason, an override of an unknown domain, an assumed comparator with neither or both a
    median and an event-free proportion).
    """
    if not entry:
        return CertaintySpec()
    ind = entry.get("indirectness") or {}
    levels, reason = int(ind.get("levels", 0)), ind.get("reason")
    if levels and not reason:
        raise ValueError(f"{where}.indirectness.reason: rating down {levels} level(s) needs a reason")
    overrides = {}
    for domain, o in (entry.get("overrides") or {}).items():
        if domain not in DOMAINS:
            raise ValueError(f"{where}.overrides.{domain}: unknown GRADE domain {domain!r}; expected one of "
                             f"{', '.join(DOMAINS)}")
        if not o.get("reason"):
            raise ValueError(f"{where}.overrides.{domain}.reason: an override needs a reason")
        overrides[domain] = (int(o["levels"]), str(o["reason"]))
    share = float(entry.get("high_risk_share", DEFAULT_HIGH_RISK_SHARE))
    if not 0.0 <= share < 1.0:
        raise ValueError(f"{where}.high_risk_share: {share!r} is not in [0, 1)")
    ac = entry.get("assumed_comparator")
    assumed = None
    if ac:
        has_median, has_ef = ac.get("median") is not None, ac.get("event_free") is not None
        if has_median == has_ef:
            raise ValueError(f"{where}.assumed_comparator: give either median or event_free (with time), got {ac!r}")
        if has_ef and ac.get("time") is None:
            raise ValueError(f"{where}.assumed_comparator.time: an event-free proportion needs its time (months)")
        assumed = AssumedComparator(source=str(ac["source"]), median=ac.get("median"),
                                    event_free=ac.get("event_free"), time=ac.get("time"))
    return CertaintySpec(indirectness=levels, indirectness_reason=reason, overrides=overrides,
                         high_risk_share=share, assumed_comparator=assumed)


def _num(x) -> float:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return math.nan
    return x


def _ci_text(est, lo, hi, digits=2) -> str:
    return f"{est:.{digits}f} ({lo:.{digits}f} to {hi:.{digits}f})"


def _absolute(spec: AnalysisSpec, cs: CertaintySpec, est, lo, hi) -> tuple[str, str, str]:
    """(comparator, intervention, basis) texts of the absolute effect."""
    if spec.measure == "proportion":
        e = per_thousand(est, lo, hi)
        return "", f"{e.intervention:.0f} per 1,000 ({e.lower:.0f} to {e.upper:.0f})", "responders per 1,000"
    if spec.measure != "hr":
        return "", "", "no absolute effect for this measure (the estimate is itself on the absolute scale)" \
            if spec.measure == "median" else "no absolute effect for a ratio of medians"
    ac = cs.assumed_comparator
    if ac is None:
        return "", "", "not computed: no assumed comparator configured (certainty.assumed_comparator)"
    if ac.median is not None:
        e = median_from_hazard_ratio(ac.median, est, lo, hi)
        return (f"median {e.comparator:.1f} months",
                f"median {e.intervention:.1f} months ({e.lower:.1f} to {e.upper:.1f})",
                f"assumed comparator median: {ac.source}; median_C / HR under proportional hazards and "
                "exponential survival")
    e = event_free_from_hazard_ratio(ac.event_free, est, lo, hi)
    return (f"{1000 * e.comparator:.0f} per 1,000 event-free at {ac.time:g} months",
            f"{1000 * e.intervention:.0f} per 1,000 ({1000 * e.lower:.0f} to {1000 * e.upper:.0f})",
            f"assumed comparator event-free proportion: {ac.source}; S_C(t)^HR under proportional hazards")


def _start(spec: AnalysisSpec, study_ids, designs: Mapping[str, str]):
    if spec.measure in ("proportion", "median"):
        return 1, "one-arm estimate (no randomised comparison) starts at low"
    missing = [s for s in study_ids if s not in designs]
    if missing:
        raise ValueError(f"study {missing[0]!r} of analysis {spec.name!r} has no design in studies.tsv")
    return starting_level([designs[s] for s in study_ids])


def _rate(spec: AnalysisSpec, cs: CertaintySpec, *, k, est, lo, hi, pi, i2, se, weights, judgements,
          small_study, start) -> Certainty:
    comparative = spec.no_effect is not None
    thresholds = ratio_thresholds(spec.decision_threshold, spec.no_effect) if (
        comparative or spec.decision_threshold is not None) else ()
    info = ois = None
    if comparative and spec.decision_threshold is not None and math.isfinite(se) and se > 0:
        info = 1.0 / se ** 2
        ois = required_information_size(math.log(spec.decision_threshold), diversity=0.0)
    egger = begg = None
    if small_study is not None:
        p = dict(zip(small_study["test"], small_study["pvalue"]))
        egger = None if not math.isfinite(_num(p.get("egger"))) else _num(p["egger"])
        begg = None if not math.isfinite(_num(p.get("begg"))) else _num(p["begg"])
    ratings = [
        risk_of_bias(weights, judgements, high_risk_share=cs.high_risk_share),
        inconsistency(k, i2 if math.isfinite(i2) else 0.0, pi if k >= 3 and all(map(math.isfinite, pi)) else None,
                      thresholds),
        indirectness(cs.indirectness, cs.indirectness_reason),
        imprecision((lo, hi), thresholds, information=info, required_information=ois),
        publication_bias(k, egger_p=egger, begg_p=begg),
    ]
    return combine(start, ratings, cs.overrides)


def certainty_rows(spec: AnalysisSpec, cs: CertaintySpec, studies: pd.DataFrame, pooled: pd.DataFrame,
                   designs: Mapping[str, str], *, subgroups: pd.DataFrame | None = None,
                   small_study: pd.DataFrame | None = None,
                   judgements: Mapping[tuple[str, str], str] | None = None) -> pd.DataFrame:
    """The summary-of-findings rows of one analysis (columns :data:`SOF_COLUMNS`).

    Parameters
    ----------
    spec, cs : AnalysisSpec, CertaintySpec
        The analysis and its ``certainty:`` block.
    studies, pooled, subgroups, small_study : DataFrame
        The analysis's ``studies.tsv``, ``pooled.tsv``, ``subgroups.tsv`` (when it has a subgroup) and
        ``small_study.tsv`` (when computed).
    designs : mapping
        study_id -> design, from the data folder's studies.tsv.
    judgements : mapping, optional
        (study_id, outcome code) -> overall risk-of-bias judgement
        (:func:`metapool.analysis.risk_of_bias.overall_judgements`; a report's judgement for ``all`` outcomes
        stands in for an outcome without its own); a study without one is "not judged". None when the data folder
        has no risk-of-bias table (the domain is then "not assessed").
    """
    row = pooled.iloc[0]
    inc = studies[studies["included"].astype(bool)]

    code = config_outcome(spec.outcome).code

    def judged(frame):
        if judgements is None:
            return None
        return [judgement_for(judgements, s, code) for s in frame["study_id"]]

    units = []
    if bool(row["overall"]) and math.isfinite(_num(row["estimate"])):
        w = inc["weight"].astype(float).tolist()
        units.append(("", inc, row, w, small_study))
    elif subgroups is not None:
        for _, g in subgroups.iterrows():
            members = inc[inc["subgroup"].astype(str) == str(g["group"])]
            if not math.isfinite(_num(g["estimate"])) or members.empty:
                continue
            tau2 = _num(g["tau2"]) if math.isfinite(_num(g["tau2"])) else 0.0
            w = (1.0 / (members["vi"].astype(float) + tau2)).tolist()
            units.append((str(g["group"]), members, g, w, None))
    out = []
    for group, members, r, w, ss in units:
        k = int(r["k"])
        est, lo, hi = _num(r["estimate"]), _num(r["ci_lower"]), _num(r["ci_upper"])
        cert = _rate(spec, cs, k=k, est=est, lo=lo, hi=hi, pi=(_num(r["pi_lower"]), _num(r["pi_upper"])),
                     i2=_num(r.get("i2")), se=_num(r.get("se")), weights=w, judgements=judged(members),
                     small_study=ss, start=_start(spec, members["study_id"].tolist(), designs))
        comp, interv, basis = _absolute(spec, cs, est, lo, hi)
        participants = _num(r.get("participants"))
        by = {x.domain: x for x in cert.ratings}
        notes = [cert.start_reason, *cert.reasons]
        out.append({
            "analysis": spec.name, "outcome": spec.title, "group": group,
            "participants": f"{participants:.0f}" if math.isfinite(participants) else "not reported",
            "studies": str(k),
            "relative_effect": f"{_MEASURE_LABEL[spec.measure]} {_ci_text(est, lo, hi)}",
            "comparator_risk": comp, "intervention_risk": interv, "absolute_basis": basis,
            "start": LEVELS[cert.start],
            "certainty": cert.label, "symbols": cert.symbol,
            **{f"{d}_down": str(by[d].down) for d in DOMAINS},
            **{f"{d}_reason": by[d].reason for d in DOMAINS},
            "footnotes": "; ".join(notes),
        })
    return pd.DataFrame(out, columns=SOF_COLUMNS)


