"""GRADE certainty of a body of evidence: one rule per domain, the starting level, the combination, overrides.

Each domain rule takes plain numbers and returns a :class:`DomainRating` (levels rated down, 0, 1 or 2, and
the reason in words). :func:`combine` starts from the design's level (:func:`starting_level`) and subtracts the
levels, floored at very low (Guyatt et al. 2011, J Clin Epidemiol 64:383, GRADE guidelines 1; Balshem et al.
2011, 64:401, GRADE guidelines 3).

"Crossing" is used in one sense throughout: a threshold ``t`` is crossed by an interval ``(lower, upper)``
when it lies strictly inside it, ``lower < t < upper``; a bound equal to the threshold does not cross it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from ..vocabulary import GRADE_DOMAINS

__all__ = [
    "LEVELS", "SYMBOLS", "DOMAINS", "DomainRating", "Certainty", "crossings", "ratio_thresholds",
    "starting_level", "risk_of_bias", "inconsistency", "imprecision", "publication_bias", "indirectness",
    "override", "combine",
]

#: the four certainty levels, from 0 (very low) to 3 (high)
LEVELS = ("very low", "low", "moderate", "high")
#: the GRADE symbols of each level (Cochrane Handbook ch. 14, Table 14.2.a)
SYMBOLS = ("⊕◯◯◯", "⊕⊕◯◯", "⊕⊕⊕◯", "⊕⊕⊕⊕")
#: the five domains, in the order the summary-of-findings footnotes list them
DOMAINS = GRADE_DOMAINS
#: designs that start at high certainty; every other design (single-arm, retrospective) starts at low
_RANDOMISED = ("randomised",)


@dataclass(frozen=True)
class DomainRating:
    """One domain's rating: ``down`` levels (0, 1 or 2) and ``reason`` in words.

    ``assessed`` is False when the domain could not be judged (e.g. publication bias with fewer than ten
    studies); it is then not rated down and the reason says why. ``automatic`` holds the rule's own rating when
    the configuration overrode it (:func:`override`).
    """

    domain: str
    down: int
    reason: str
    assessed: bool = True
    automatic: "DomainRating | None" = None

    def __post_init__(self):
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown GRADE domain {self.domain!r}; expected one of {DOMAINS}")
        if self.down not in (0, 1, 2):
            raise ValueError(f"a GRADE domain rates down 0, 1 or 2 levels, got {self.down!r}")
        if not self.reason:
            raise ValueError(f"the {self.domain} rating needs a reason in words")


@dataclass(frozen=True)
class Certainty:
    """The certainty of one body of evidence: start level, the domain ratings, the final level."""

    start: int
    start_reason: str
    ratings: tuple[DomainRating, ...]
    level: int

    @property
    def label(self) -> str:
        return LEVELS[self.level]

    @property
    def symbol(self) -> str:
        return SYMBOLS[self.level]

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reasons of the domains that rated down or were overridden or not assessable, in domain order."""
        return tuple(f"{r.domain.replace('_', ' ')}: {r.reason}" for r in self.ratings
                     if r.down or r.automatic is not None or not r.assessed)


def crossings(lower: float, upper: float, thresholds: Sequence[float]) -> tuple[float, ...]:
    """The thresholds lying strictly inside the interval ``(lower, upper)``.

    Parameters
    ----------
    lower, upper : float
        The interval's bounds (``lower <= upper``), on the natural scale.
    thresholds : sequence of float
        Decision thresholds on the same scale.

    Returns
    -------
    tuple of float
        The crossed thresholds, sorted; a bound equal to a threshold does not cross it.
    """
    if not (lower <= upper):
        raise ValueError(f"interval lower bound {lower!r} is above its upper bound {upper!r}")
    return tuple(sorted(t for t in thresholds if lower < t < upper))


def ratio_thresholds(decision_threshold: float | None, no_effect: float | None = 1.0) -> tuple[float, ...]:
    """The decision thresholds of a ratio measure: the important benefit, no effect, the important harm.

    For a hazard ratio with ``decision_threshold`` 0.8 these are 0.8, 1 and 1/0.8 = 1.25 (the important harm
    is the reciprocal of the important benefit on the ratio scale; Schünemann et al. 2022, J Clin Epidemiol
    150:225, GRADE guidance 35; Zeng et al. 2021, J Clin Epidemiol 137:163, GRADE guidelines 32).
    For a one-arm measure (``no_effect`` None) the only threshold is the configured value of interest.
    """
    out = set()
    if no_effect is not None:
        out.add(float(no_effect))
    if decision_threshold is not None:
        d = float(decision_threshold)
        if not (math.isfinite(d) and d > 0):
            raise ValueError(f"decision threshold must be a positive finite number, got {decision_threshold!r}")
        out.add(d)
        if no_effect is not None and d != no_effect:
            out.add(no_effect * no_effect / d)
    return tuple(sorted(out))


def starting_level(designs: Sequence[str]) -> tuple[int, str]:
    """The level the evidence starts at: high when every study is randomised, low otherwise.

    A pooled estimate of single-arm or observational data, or one mixing them with randomised arms, starts at
    low (Guyatt et al. 2011, J Clin Epidemiol 64:383, GRADE guidelines 1; Balshem et al. 2011, 64:401).

    Returns
    -------
    (int, str)
        The level index into :data:`LEVELS` and the reason.
    """
    designs = tuple(designs)
    if not designs:
        raise ValueError("the starting level needs at least one study design")
    if all(d in _RANDOMISED for d in designs):
        return 3, "randomised evidence starts at high"
    kinds = sorted(set(d for d in designs if d not in _RANDOMISED))
    return 1, f"non-randomised evidence ({', '.join(k.replace('_', '-') for k in kinds)}) starts at low"


def risk_of_bias(weights: Sequence[float] | None, judgements: Sequence[str] | None, *,
                 high_risk_share: float = 0.5) -> DomainRating:
    """Rate down for risk of bias by the share of the analysis weight coming from studies at high risk.

    One level when the weight share of studies judged at high risk exceeds ``high_risk_share``; two levels
    when every study is at high risk (all the weight). GRADE asks whether the limitations of the studies that
    contribute most of the weight are serious (Guyatt et al. 2011, J Clin Epidemiol 64:407, GRADE guidelines 4;
    Cochrane Handbook 14.2.2 and 8: judge the body of evidence by the studies contributing most weight).

    Parameters
    ----------
    weights : sequence of float or None
        The studies' weights in the pooled estimate (any positive scale); None (or a missing weight) when the
        pooling has none (the GLMM, the median of medians): each study then counts once.
    judgements : sequence of str or None
        Each study's overall risk-of-bias judgement (``"low"``, ``"some_concerns"``, ``"high"``, or ``""`` when
        the study has no overall judgement), aligned with ``weights``; None when no judgements exist. With no
        study judged the domain is not assessed; studies not judged count as not at high risk, and the reason
        states their share of the weight.
    high_risk_share : float
        The weight share of high-risk studies above which the domain rates down (default 0.5: most of the
        weight).
    """
    if judgements is None:
        return DomainRating("risk_of_bias", 0, "not assessed (no risk-of-bias judgements)", assessed=False)
    if not len(judgements) or (weights is not None and len(weights) != len(judgements)):
        raise ValueError("risk of bias needs one judgement per study")
    # a pooling without study weights (the GLMM, the median of medians): each study counts once
    unweighted = weights is None or not all(math.isfinite(float(w)) for w in weights)
    if unweighted:
        weights = [1.0] * len(judgements)
    if not (0.0 <= high_risk_share < 1.0):
        raise ValueError(f"high_risk_share must be in [0, 1), got {high_risk_share!r}")
    bad = [j for j in judgements if j not in ("low", "some_concerns", "high", "")]
    if bad:
        raise ValueError(f"unknown risk-of-bias judgement {bad[0]!r}; expected low, some_concerns or high")
    total = float(sum(weights))
    if not (total > 0):
        raise ValueError("risk of bias needs positive weights")
    unjudged = sum(w for w, j in zip(weights, judgements) if j == "") / total
    if unjudged >= 1.0:
        return DomainRating("risk_of_bias", 0, "not assessed (no study of the analysis has an overall risk-of-bias "
                            "judgement)", assessed=False)
    share = sum(w for w, j in zip(weights, judgements) if j == "high") / total
    of = "of the studies (unweighted pooling)" if unweighted else "of the weight"
    pct = f"{100 * share:.0f}% {of} from studies at high risk" + (
        f"; {100 * unjudged:.0f}% from studies without an overall judgement, counted as not at high risk"
        if unjudged > 0 else "")
    if share >= 1.0:
        return DomainRating("risk_of_bias", 2, f"every study at high risk of bias ({pct})")
    if share > high_risk_share:
        return DomainRating("risk_of_bias", 1,
                            f"{pct}, above the configured share of {100 * high_risk_share:.0f}%")
    return DomainRating("risk_of_bias", 0, f"{pct}, not above the configured share of {100 * high_risk_share:.0f}%")


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _listed(ts: Sequence[float]) -> str:
    return " and ".join(_fmt(t) for t in ts)


def inconsistency(k: int, i2: float, pi: tuple[float, float] | None, thresholds: Sequence[float]) -> DomainRating:
    """Rate down for inconsistency from I² and whether the prediction interval crosses the thresholds.

    I² bands follow the Cochrane Handbook (10.10.2): below 50% at most moderate, 50% to below 75% substantial,
    75% or more considerable. With ``k >= 3`` (a prediction interval exists): no rating down when I² < 50% or
    the prediction interval crosses no threshold (the true effects lie on one side of every decision
    threshold); two levels when I² >= 75% and the interval crosses two or more thresholds; one level
    otherwise. With ``k == 2`` there is no prediction interval and the I² band alone decides (0, 1, 2 levels).
    With one study inconsistency is not assessable (Guyatt et al. 2011, J Clin Epidemiol 64:1294, GRADE
    guidelines 7; Schünemann et al. 2022, J Clin Epidemiol 150:225, on judging against thresholds).

    Parameters
    ----------
    k : int
        Number of studies.
    i2 : float
        I² in percent.
    pi : (float, float) or None
        The prediction interval on the natural scale (None when ``k < 3``).
    thresholds : sequence of float
        The decision thresholds (:func:`ratio_thresholds`).
    """
    if k < 2:
        return DomainRating("inconsistency", 0, "not assessable (one study)", assessed=False)
    band = 0 if i2 < 50 else (1 if i2 < 75 else 2)
    i2_text = f"I² = {i2:.0f}%"
    if k == 2 or pi is None:
        words = ("below 50%", "substantial (50% to 75%)", "considerable (75% or more)")[band]
        return DomainRating("inconsistency", band, f"{i2_text}, {words}; no prediction interval with k = {k}")
    crossed = crossings(pi[0], pi[1], thresholds)
    pi_text = f"prediction interval {_fmt(pi[0])} to {_fmt(pi[1])}"
    if band == 0:
        return DomainRating("inconsistency", 0, f"{i2_text}, below 50%")
    if not crossed:
        return DomainRating("inconsistency", 0, f"{i2_text} but the {pi_text} crosses no decision threshold")
    down = 2 if band == 2 and len(crossed) >= 2 else 1
    return DomainRating("inconsistency", down, f"{i2_text}; the {pi_text} crosses {_listed(crossed)}")


def imprecision(ci: tuple[float, float], thresholds: Sequence[float], *, information: float | None = None,
                required_information: float | None = None) -> DomainRating:
    """Rate down for imprecision: the confidence interval crossing decision thresholds, and the optimal
    information size.

    Crossing one threshold rates down one level, crossing two or more rates down two (e.g. a hazard-ratio CI of
    0.75 to 1.10 against 0.8, 1 and 1.25 crosses 0.8 and 1: two levels). When the CI crosses none but the
    information (1 / variance of the pooled log estimate) falls short of the optimal information size, one
    level (Guyatt et al. 2011, J Clin Epidemiol 64:1283, GRADE guidelines 6; Zeng et al. 2021, 137:163, and
    Schünemann et al. 2022, 150:225, on thresholds; Zeng et al. 2022, 150:216, GRADE guidance 34).

    Parameters
    ----------
    ci : (float, float)
        The pooled estimate's confidence interval, natural scale.
    thresholds : sequence of float
        The decision thresholds.
    information, required_information : float or None
        The pooled estimate's information and the optimal information size
        (:func:`metapool.stats.sequential.required_information_size` with diversity 0); both or neither.
    """
    if (information is None) != (required_information is None):
        raise ValueError("give both the information and the optimal information size, or neither")
    if not thresholds:
        return DomainRating("imprecision", 0, "not assessable (no decision threshold configured)", assessed=False)
    crossed = crossings(ci[0], ci[1], thresholds)
    ci_text = f"95% CI {_fmt(ci[0])} to {_fmt(ci[1])}"
    ois_short = information is not None and information < required_information
    ois_text = ""
    if information is not None:
        ois_text = (f"; information {information:.1f} {'below' if ois_short else 'reaches'} the optimal "
                    f"information size {required_information:.1f}")
    if crossed:
        down = 1 if len(crossed) == 1 else 2
        return DomainRating("imprecision", down, f"{ci_text} crosses {_listed(crossed)}{ois_text}")
    if ois_short:
        return DomainRating("imprecision", 1, f"{ci_text} crosses no threshold{ois_text}")
    return DomainRating("imprecision", 0, f"{ci_text} crosses no threshold{ois_text}")


def publication_bias(k: int, *, egger_p: float | None = None, begg_p: float | None = None,
                     alpha: float = 0.10) -> DomainRating:
    """Rate down one level for suspected publication bias when a small-study test is significant.

    Assessable only with ``k >= 10`` studies (Cochrane Handbook 13.3.5.4; Sterne et al. 2011, BMJ 343:d4002);
    below that the domain is "not assessable (k < 10)" and not rated down. With ten or more studies, Egger's
    regression test (or Begg's rank test when Egger's is not given) with ``p < alpha`` (0.10, as in Egger et al.
    1997) rates down one level (Guyatt et al. 2011, J Clin Epidemiol 64:1277, GRADE guidelines 5).
    """
    if k < 10:
        return DomainRating("publication_bias", 0, f"not assessable (k < 10; k = {k})", assessed=False)
    name, p = ("Egger's test", egger_p) if egger_p is not None else ("Begg's test", begg_p)
    if p is None or not math.isfinite(p):
        return DomainRating("publication_bias", 0, "not assessable (no small-study test result)", assessed=False)
    if p < alpha:
        return DomainRating("publication_bias", 1, f"suspected: {name} p = {p:.3f} < {alpha:g} (k = {k})")
    return DomainRating("publication_bias", 0, f"undetected: {name} p = {p:.3f} (k = {k})")


def indirectness(levels: int = 0, reason: str | None = None) -> DomainRating:
    """The declared indirectness of an analysis (population, intervention, comparator or outcome differing from
    the question), with its reason (Guyatt et al. 2011, J Clin Epidemiol 64:1303, GRADE guidelines 8)."""
    if levels and not reason:
        raise ValueError("rating down for indirectness needs a reason")
    return DomainRating("indirectness", int(levels), reason or "no serious indirectness declared")


def override(rating: DomainRating, levels: int, reason: str) -> DomainRating:
    """Replace a rule's rating by a configured one, keeping the rule's own rating to show next to it."""
    if not reason:
        raise ValueError(f"overriding the {rating.domain} rating needs a reason")
    auto = rating.automatic or rating
    text = f"{reason} (overridden: the rule gave {auto.down} level(s) down, {auto.reason})"
    return replace(rating, down=int(levels), reason=text, assessed=True, automatic=auto)


def combine(start: tuple[int, str], ratings: Sequence[DomainRating],
            overrides: Mapping[str, tuple[int, str]] | None = None) -> Certainty:
    """The final certainty: the start level minus the levels of every domain, floored at very low.

    Parameters
    ----------
    start : (int, str)
        :func:`starting_level`'s result.
    ratings : sequence of DomainRating
        One per domain, each domain once.
    overrides : mapping, optional
        domain -> (levels, reason) from the configuration (:func:`override`).
    """
    seen = [r.domain for r in ratings]
    if len(set(seen)) != len(seen):
        raise ValueError(f"each domain is rated once, got {seen}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(seen))
    if unknown:
        raise ValueError(f"override of domain {unknown[0]!r} that is not rated; rated: {seen}")
    rated = tuple(override(r, *overrides[r.domain]) if r.domain in overrides else r for r in ratings)
    rated = tuple(sorted(rated, key=lambda r: DOMAINS.index(r.domain)))
    level = max(0, start[0] - sum(r.down for r in rated))
    return Certainty(start=start[0], start_reason=start[1], ratings=rated, level=level)
