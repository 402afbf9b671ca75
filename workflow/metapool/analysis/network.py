"""A configured network meta-analysis: the contrasts of every comparator in one model.

An analysis with ``network: {reference: ..., nodes: ...}`` (:class:`metapool.spec.NetworkSpec`) pools the
hazard-ratio rows of its outcome against every comparator. The reports enter as in a pairwise analysis
(:func:`metapool.analysis.run.prepare_analysis`: the filters, the assessor preference, one report per trial
cohort by the report policy, the log HR and its variance from the printed CI); each kept row is one contrast,
``treatment`` (the experimental arm's node) versus ``comparator`` (the control arm's node), and the trial is
the study of the contrast (the contrasts of a multi-arm trial share its control arm's variance as covariance;
as none is printed for hazard ratios, :func:`metapool.stats.network.network_meta_analysis` assumes half the
smaller contrast variance and says so).

:func:`run_network` fits :func:`metapool.stats.network.network_meta_analysis` (common effect, REML, or the
generalised DerSimonian-Laird of netmeta) and returns the tables the workflow writes, on the hazard-ratio
scale: the league table, each treatment versus the reference, the ranking (P-scores, Rücker & Schwarzer
2015; SUCRA, Salanti et al. 2011; a hazard ratio below 1 is better), heterogeneity and inconsistency
(design-by-treatment Q, Krahn et al. 2013) and the direct / indirect split of the comparisons in a loop
(back-calculation, netmeta's ``netsplit``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..spec import AnalysisSpec
from ..stats.network import NetworkResult, network_meta_analysis
from .run import AnalysisData, prepare_analysis
from .selection import AnalysisError, records

__all__ = [
    "NetworkOutput", "network_contrasts", "run_network", "NETWORK_STUDY_COLUMNS", "LEAGUE_COLUMNS",
    "EFFECT_COLUMNS", "RANKING_COLUMNS", "HETEROGENEITY_COLUMNS", "SPLIT_COLUMNS", "TRANSITIVITY_COLUMNS",
    "RANKING_CAVEAT", "SUCRA_DRAWS", "SUCRA_SEED", "arm_sizes",
]

# results/<plan>/analyses/<analysis>/studies.tsv of a network: one row per report (a contrast or set aside)
NETWORK_STUDY_COLUMNS = [
    "analysis", "study_id", "label", "trial", "cohort", "treatment", "comparator", "comparator_study_id",
    "assessor", "year", "data_cut", "setting", "prior_therapy", "phase", "design", "status", "included",
    "reason", "estimate", "ci_lower", "ci_upper", "ci_level", "yi", "vi", "n_treatment", "n_comparator",
]
LEAGUE_COLUMNS = ["treatment", "comparator", "estimate", "ci_lower", "ci_upper", "p"]
EFFECT_COLUMNS = ["treatment", "comparator", "estimate", "ci_lower", "ci_upper", "p", "log_hr", "se", "k_direct",
                  "notes"]
RANKING_COLUMNS = ["treatment", "p_score", "sucra", "mean_rank"]
HETEROGENEITY_COLUMNS = ["quantity", "value", "df", "p"]
SPLIT_COLUMNS = ["treatment", "comparator", "k_direct", "direct", "direct_ci_lower", "direct_ci_upper",
                 "indirect", "indirect_ci_lower", "indirect_ci_upper", "network", "network_ci_lower",
                 "network_ci_upper", "prop_direct", "ratio", "ratio_ci_lower", "ratio_ci_upper", "p"]
TRANSITIVITY_COLUMNS = ["trial", "treatment", "comparator", "setting", "prior_therapy", "phase", "year"]

#: draws of the SUCRA resampling and its seed (the P-score is its closed-form expectation)
SUCRA_DRAWS = 10_000
SUCRA_SEED = 1

RANKING_CAVEAT = ("P-scores and SUCRA rank the treatments by how likely each is to be better than the others; "
                  "they ignore the size of the differences and their uncertainty (two treatments with nearly "
                  "the same hazard ratio can be far apart in rank, and a rank says nothing about whether a "
                  "difference matters clinically): read them with the league table and the forest plot.")


@dataclass(frozen=True, eq=False)
class NetworkOutput:
    """A fitted network analysis and its tables (hazard-ratio scale; see :func:`run_network`)."""

    spec: AnalysisSpec
    result: NetworkResult = field(repr=False)
    studies: pd.DataFrame = field(repr=False)
    league: pd.DataFrame = field(repr=False)
    effects: pd.DataFrame = field(repr=False)
    ranking: pd.DataFrame = field(repr=False)
    heterogeneity: pd.DataFrame = field(repr=False)
    split: pd.DataFrame = field(repr=False)
    transitivity: pd.DataFrame = field(repr=False)


def _comparator_nodes(contrasts: pd.DataFrame, column: str, studies: pd.DataFrame | None) -> list[str]:
    """The comparator arm's node of each contrast: the ``comparator`` when the nodes are drugs, else the
    comparator arm's (``comparator_study_id``) value of ``column`` in ``studies``."""
    if column == "drug":
        return contrasts["comparator"].astype(str).tolist()
    if studies is None:
        raise AnalysisError(f"network nodes by '{column}' need studies.tsv to name the comparator arms")
    arm = {r["study_id"]: r.get(column, "") for r in records(studies, ("study_id", column))}
    out = []
    for sid, cid in zip(contrasts["study_id"], contrasts["comparator_study_id"]):
        node = arm.get(str(cid), "")
        if not node:
            raise AnalysisError(f"{sid}: its comparator arm '{cid}' has no '{column}' in studies.tsv "
                                f"(the network's nodes are by {column})")
        out.append(node)
    return out


def arm_sizes(survival: pd.DataFrame, code: str) -> dict[str, float]:
    """Participants of each arm (study_id -> n) from per-study survival estimates: the largest ``n`` of the
    arm's rows of outcome ``code``, else of any outcome (arms without a number are left out)."""
    n = pd.to_numeric(survival["n"], errors="coerce")
    frame = survival.assign(_n=n)[n.notna()]
    out = frame.groupby("study_id")["_n"].max().to_dict()
    out.update(frame[frame["outcome"] == code].groupby("study_id")["_n"].max().to_dict())
    return {str(k): float(v) for k, v in out.items()}


def network_contrasts(estimates: pd.DataFrame, spec: AnalysisSpec, studies: pd.DataFrame | None = None,
                      sizes: dict[str, float] | None = None) -> tuple[AnalysisData, pd.DataFrame]:
    """The reports of a network analysis and its contrasts.

    Parameters
    ----------
    estimates : DataFrame
        Per-study hazard-ratio estimates (``results/<plan>/tables/hazard_ratios_estimates.tsv``).
    spec : AnalysisSpec
        A network analysis (``spec.network`` set).
    studies : DataFrame, optional
        ``studies.tsv`` (every arm): the nodes of the comparator arms when the nodes are not drugs, and the
        trials' ``prior_therapy`` and ``regimen`` for the studies table.
    sizes : dict, optional
        Participants per arm (study_id -> n, :func:`arm_sizes`): ``n_treatment`` and ``n_comparator`` of each
        contrast (NaN when not known).

    Returns
    -------
    (AnalysisData, DataFrame)
        The selection (:func:`metapool.analysis.run.prepare_analysis`) and the studies table: one row per
        report kept by the report policy (``status`` ``pooled`` or ``not_pooled`` with the reason) and per
        report set aside (``set_aside``), with ``treatment``, ``comparator`` and ``yi``/``vi`` (log HR).
    """
    if not spec.is_network:
        raise AnalysisError(f"analysis '{spec.name}' is not a network analysis (no network:)")
    data = prepare_analysis(estimates, spec)
    column = spec.network.nodes
    extra = {}
    if studies is not None:
        arms = studies.set_index("study_id")
        for col in ("prior_therapy", "regimen"):
            if col in arms.columns:
                extra[col] = arms[col].astype(str).to_dict()
    sel = data.selected.copy()
    if column != "drug" and column not in sel.columns:
        if column not in extra:
            raise AnalysisError(f"analysis '{spec.name}': no study column '{column}' to name the network's nodes")
        sel[column] = sel["study_id"].map(extra[column])
    sel["treatment"] = sel[column].astype(str)
    sel["comparator"] = _comparator_nodes(sel, column, studies)
    prior = extra.get("prior_therapy", {})
    sel["prior_therapy"] = [prior.get(str(sid), "") for sid in sel["study_id"]]
    sel["yi"], sel["vi"] = data.yi, data.vi
    sizes = sizes or {}
    sel["n_treatment"] = [sizes.get(str(sid), math.nan) for sid in sel["study_id"]]
    sel["n_comparator"] = [sizes.get(str(cid), math.nan) for cid in sel["comparator_study_id"]]
    sel["status"] = np.where(sel["included"], "pooled", "not_pooled")
    aside = data.aside if data.aside is not None else pd.DataFrame()
    if len(aside):
        aside = aside.assign(status="set_aside", included=False, treatment=aside["drug"],
                             yi=math.nan, vi=math.nan, label=aside["study_id"], n_treatment=math.nan,
                             n_comparator=math.nan,
                             prior_therapy=[prior.get(str(sid), "") for sid in aside["study_id"]])
    frame = pd.concat([sel, aside], ignore_index=True) if len(aside) else sel
    frame = frame.assign(analysis=spec.name)
    for col in NETWORK_STUDY_COLUMNS:
        if col not in frame.columns:
            frame[col] = ""
    return data, frame[NETWORK_STUDY_COLUMNS].reset_index(drop=True)


def _p(x) -> float:
    return float(x) if np.isfinite(x) else math.nan


def run_network(estimates: pd.DataFrame, spec: AnalysisSpec, studies: pd.DataFrame | None = None,
                sizes: dict[str, float] | None = None) -> NetworkOutput:
    """Fit one configured network analysis and build its tables.

    Parameters
    ----------
    estimates, spec, studies, sizes
        As :func:`network_contrasts`.

    Returns
    -------
    NetworkOutput
        ``league`` (every ordered pair, HR of ``treatment`` over ``comparator`` with its CI and Wald p),
        ``effects`` (each treatment versus the reference, with the fit's ``notes``), ``ranking`` (P-score, SUCRA from
        :data:`SUCRA_DRAWS` draws with seed :data:`SUCRA_SEED`, mean rank; small hazard ratios are good;
        sorted by P-score), ``heterogeneity`` (tau², I², Q total, within and between designs, each design's
        Q), ``split`` (the comparisons with both direct and indirect evidence: direct, back-calculated
        indirect, network estimates, their ratio and its p-value; no rows without a loop) and
        ``transitivity`` (the pooled trials' settings and populations side by side).

    Raises
    ------
    AnalysisError
        No contrast can be pooled, or the engine refuses the network (named).
    """
    data, table = network_contrasts(estimates, spec, studies, sizes)
    inc = table[table["status"] == "pooled"]
    if inc.empty:
        raise AnalysisError(f"analysis '{spec.name}': no contrast can be pooled")
    model = spec.model
    try:
        fit = network_meta_analysis(inc["trial"].to_numpy(str), inc["treatment"].to_numpy(str),
                                    inc["comparator"].to_numpy(str), inc["yi"].to_numpy(float),
                                    inc["vi"].to_numpy(float), reference=spec.network.reference,
                                    method=model.method, level=model.level)
    except ValueError as e:
        raise AnalysisError(f"analysis '{spec.name}': {e}") from None

    lg = fit.league.frame()
    league = pd.DataFrame({"treatment": lg["treatment"], "comparator": lg["comparator"],
                           "estimate": np.exp(lg["estimate"]), "ci_lower": np.exp(lg["ci_lower"]),
                           "ci_upper": np.exp(lg["ci_upper"]), "p": lg["pval"]})[LEAGUE_COLUMNS]

    sm = fit.summary_frame()
    pairs = {frozenset(p) for p in zip(inc["treatment"], inc["comparator"])}
    k_direct = [int(((inc["treatment"] == t) & (inc["comparator"] == c)).sum()
                    + ((inc["treatment"] == c) & (inc["comparator"] == t)).sum())
                if frozenset((t, c)) in pairs else 0 for t, c in zip(sm["treatment"], sm["comparator"])]
    effects = pd.DataFrame({"treatment": sm["treatment"], "comparator": sm["comparator"],
                            "estimate": np.exp(sm["estimate"]), "ci_lower": np.exp(sm["ci_lower"]),
                            "ci_upper": np.exp(sm["ci_upper"]), "p": sm["pval"], "log_hr": sm["estimate"],
                            "se": sm["se"], "k_direct": k_direct,
                            # the fit's notes (an assumed multi-arm covariance, a disconnected network: its
                            # tables are those of the reference's component)
                            "notes": "; ".join(fit.notes)})[EFFECT_COLUMNS]

    rank = fit.sucra("good", nsim=SUCRA_DRAWS, seed=SUCRA_SEED)
    ranking = pd.DataFrame({"treatment": fit.treatments, "p_score": fit.p_scores("good"), "sucra": rank.sucra,
                            "mean_rank": rank.mean_rank})
    ranking = ranking.sort_values(["p_score", "treatment"], ascending=[False, True],
                                  kind="mergesort").reset_index(drop=True)[RANKING_COLUMNS]

    h = fit.heterogeneity
    het_rows = [("tau2", h.tau2, math.nan, math.nan), ("i2", h.i2, math.nan, math.nan),
                ("q_total", h.q, h.df, _p(h.q_pvalue)), ("q_within_designs", h.q_within, h.df_within,
                                                          _p(h.p_within)),
                ("q_between_designs", h.q_between, h.df_between, _p(h.p_between))]
    # each design with more than one trial (a single trial's Q is 0 on 0 df)
    het_rows += [(f"q_design {d.design}", d.q, d.df, _p(d.pval)) for d in h.designs if d.df > 0]
    heterogeneity = pd.DataFrame(het_rows, columns=HETEROGENEITY_COLUMNS)

    split = _split_table(fit, model.level)
    trials = inc.sort_values(["year", "trial"], kind="mergesort")
    transitivity = trials[TRANSITIVITY_COLUMNS].reset_index(drop=True)
    return NetworkOutput(spec=spec, result=fit, studies=table, league=league, effects=effects, ranking=ranking,
                         heterogeneity=heterogeneity, split=split, transitivity=transitivity)


def _split_table(fit: NetworkResult, level: float) -> pd.DataFrame:
    """The comparisons with direct and indirect evidence, on the HR scale (``ratio`` = direct / indirect)."""
    from ..stats.effects import z_crit

    z = z_crit(level)
    sf = fit.split_frame()
    if len(sf):
        sf = sf[np.isfinite(sf["indirect"].to_numpy(float))]
    rows = []
    for r in sf.itertuples():
        def interval(est, se):
            return math.exp(est), math.exp(est - z * se), math.exp(est + z * se)
        rows.append((r.treatment, r.comparator, r.k_direct, *interval(r.direct, r.direct_se),
                     *interval(r.indirect, r.indirect_se), *interval(r.network, r.network_se), r.prop_direct,
                     *interval(r.difference, r.difference_se), r.pval))
    return pd.DataFrame(rows, columns=SPLIT_COLUMNS)
