"""The Bayesian fit of one analysis (``bayes:`` in the config), beside its frequentist one.

:func:`bayes_frame` fits the studies the analysis pools, by the analysis's own
selection and effect sizes (:func:`metapool.analysis.run.prepare_analysis`), with
:func:`metapool.stats.bayes.bayes_normal` (the normal-normal model on the analysis
scale: logit proportions, log hazard ratios, log medians) or
:func:`metapool.stats.bayes.bayes_binomial` (proportions: the exact
binomial-normal model on the logit scale), by direct numerical integration
(Röver C. J Stat Softw 2020;93(6):1-51). The overall estimate is fitted when the
analysis shows one, and each subgroup on its own when it has a subgroup (as the
frequentist subgroups, :func:`metapool.analysis.run.subgroup_results`).

The table, ``results/<plan>/analyses/<analysis>/bayes.tsv`` (:data:`BAYES_COLUMNS`),
has per fit (``group``: '' for the overall fit, else the subgroup) the rows
``mu`` (the overall effect), ``theta_new`` (the effect in a new study: the
posterior predictive distribution), ``tau`` (the between-study SD, analysis
scale) and, for the normal model, one row ``study`` per pooled study with its
shrinkage estimate (the posterior of its own effect theta_i). ``median``,
``ci_lower``, ``ci_upper`` are the posterior median and central credible interval
at the analysis's level on the natural scale (a proportion, a hazard ratio);
``beta``, ``mean``, ``sd`` the median, mean and SD on the analysis scale; for mu
and theta_new ``p_above`` = P(> ``prob_above``) and ``p_below`` = P(< ``prob_below``)
(thresholds on the natural scale, mapped to the analysis scale). A fit that
cannot be made (an improper posterior, no pooled study) is one row with its
``reason``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..spec import AnalysisSpec, BayesSpec, Prior
from ..stats.bayes import BayesResult, MuPrior, TauPrior, bayes_binomial, bayes_normal
from ..vocabulary import BAYES_SCALES
from .run import AnalysisData

__all__ = ["BAYES_COLUMNS", "tau_prior", "mu_prior", "to_analysis_scale", "bayes_fit", "bayes_frame"]

BAYES_COLUMNS = ["analysis", "subgroup", "group", "likelihood", "tau_prior", "mu_prior", "scale", "level", "k",
                 "quantity", "study_id", "label", "median", "ci_lower", "ci_upper", "beta", "mean", "sd",
                 "prob_above", "p_above", "prob_below", "p_below", "reason"]

# the constructors of metapool.stats.bayes.TauPrior by the config's family names (vocabulary.TAU_PRIORS)
_TAU = {"half_normal": TauPrior.half_normal, "half_cauchy": TauPrior.half_cauchy, "half_t": TauPrior.half_t,
        "uniform": TauPrior.uniform, "log_normal": TauPrior.log_normal, "log_t": TauPrior.log_t,
        "turner": TauPrior.turner, "rhodes": TauPrior.rhodes}


def tau_prior(prior: Prior) -> TauPrior:
    """The :class:`~metapool.stats.bayes.TauPrior` of a config prior (``half_normal(0.5)``, ``turner``, ...)."""
    return _TAU[prior.family](*prior.args)


def mu_prior(prior: Prior) -> MuPrior:
    """The :class:`~metapool.stats.bayes.MuPrior` of a config prior (``flat`` or ``normal(mean, sd)``)."""
    return MuPrior.flat() if prior.family == "flat" else MuPrior.normal(*prior.args)


def _scale(spec: AnalysisSpec) -> str:
    """The scale of the Bayesian model: the logit for the binomial likelihood, else the analysis scale."""
    return "logit" if spec.bayes.likelihood == "binomial" else spec.scale


def to_analysis_scale(value: float, scale: str) -> float:
    """A threshold on the natural scale (a proportion, a hazard ratio, months) on the model's scale."""
    if scale in ("logit", "glmm"):
        return math.log(value / (1.0 - value))
    if scale == "log":
        return math.log(value)
    return float(value)


def bayes_fit(data: AnalysisData, mask=None) -> BayesResult:
    """The Bayesian fit of the included studies of ``data`` (and of ``mask``, a boolean array over
    ``data.selected``) with the priors, likelihood and thresholds of ``data.spec.bayes``, at the analysis's level.

    Parameters
    ----------
    data : AnalysisData
        The prepared analysis (:func:`metapool.analysis.run.prepare_analysis`) with ``spec.bayes`` set.
    mask : array of bool, optional
        The subgroup's reports.

    Returns
    -------
    BayesResult
        Of :func:`~metapool.stats.bayes.bayes_normal` (the effect sizes ``yi`` and standard errors
        ``sqrt(vi)``, shrinkage estimates labelled by the studies' labels) or
        :func:`~metapool.stats.bayes.bayes_binomial` (events and totals); thresholds on the model's scale, in
        the order ``prob_above``, ``prob_below``.

    Raises
    ------
    ValueError
        What the models raise (an improper posterior, no study).
    """
    spec = data.spec
    bayes: BayesSpec = spec.bayes
    scale = _scale(spec)
    sel = data.included if mask is None else data.included & np.asarray(mask, dtype=bool)
    thresholds = [to_analysis_scale(c, scale) for c in (bayes.prob_above, bayes.prob_below) if c is not None]
    tau, mu = tau_prior(bayes.tau), mu_prior(bayes.mu)
    if bayes.likelihood == "binomial":
        events, totals = data.counts(sel)
        return bayes_binomial(events, totals, tau, mu, level=spec.model.level, thresholds=thresholds)
    yi, vi = data.included_effects(sel)
    labels = data.selected.loc[sel, "label"].tolist()
    return bayes_normal(yi, np.sqrt(vi), tau, mu, level=spec.model.level, thresholds=thresholds,
                        transform=BAYES_SCALES[scale] or None, labels=labels)


def _rows(data: AnalysisData, result: BayesResult, sel: np.ndarray) -> list[dict]:
    bayes = data.spec.bayes
    scale = _scale(data.spec)
    natural = bool(BAYES_SCALES[scale])
    ids = data.selected.loc[sel, "study_id"].tolist()

    def row(quantity, s, study_id="", label="", probs=None):
        out = {"quantity": quantity, "study_id": study_id, "label": label, "beta": s.median, "mean": s.mean,
               "sd": s.sd}
        if natural and quantity != "tau":
            out.update(median=s.bt_median, ci_lower=s.bt_ci_lower, ci_upper=s.bt_ci_upper)
        else:
            out.update(median=s.median, ci_lower=s.ci_lower, ci_upper=s.ci_upper)
        if probs is not None:  # P(> c) by c on the model's scale
            if bayes.prob_above is not None:
                out["p_above"] = probs[to_analysis_scale(bayes.prob_above, scale)]
            if bayes.prob_below is not None:
                out["p_below"] = 1.0 - probs[to_analysis_scale(bayes.prob_below, scale)]
        return out

    rows = [row("mu", result.mu, probs=result.prob_mu_above),
            row("theta_new", result.theta_new, probs=result.prob_theta_new_above),
            row("tau", result.tau)]
    rows += [row("study", s, study_id, label) for s, study_id, label in zip(result.theta, ids, result.labels)]
    return rows


def bayes_frame(data: AnalysisData) -> pd.DataFrame:
    """``results/<plan>/analyses/<analysis>/bayes.tsv``: the Bayesian fit of the overall estimate (when the
    analysis shows one) and of each subgroup (:data:`BAYES_COLUMNS`; see the module docstring).

    Parameters
    ----------
    data : AnalysisData
        The prepared analysis with ``spec.bayes`` set.

    Returns
    -------
    pandas.DataFrame
    """
    spec = data.spec
    bayes = spec.bayes
    if bayes is None:
        raise ValueError(f"analysis '{spec.name}' has no bayes: block")
    fits: list[tuple[str, np.ndarray]] = []
    if spec.overall:
        fits.append(("", np.ones(len(data.selected), dtype=bool)))
    if spec.subgroup:
        groups = data.selected[spec.subgroup].astype(str).to_numpy()
        fits += [(g, groups == g) for g in sorted(set(groups[data.included]))]
    base = {c: math.nan for c in BAYES_COLUMNS}
    base.update(analysis=spec.name, subgroup=spec.subgroup or "", likelihood=bayes.likelihood,
                tau_prior=bayes.tau.text, mu_prior=bayes.mu.text, scale=_scale(spec), level=spec.model.level,
                study_id="", label="", reason="",
                prob_above=math.nan if bayes.prob_above is None else bayes.prob_above,
                prob_below=math.nan if bayes.prob_below is None else bayes.prob_below)
    rows = []
    for group, mask in fits:
        sel = data.included & mask
        k = int(sel.sum())
        head = {**base, "group": group, "k": k}
        if k == 0:
            rows.append({**head, "quantity": "", "reason": "no study can be pooled"})
            continue
        try:
            result = bayes_fit(data, mask)
        except ValueError as err:
            rows.append({**head, "quantity": "", "reason": str(err)})
            continue
        rows += [{**head, **r} for r in _rows(data, result, sel)]
    return pd.DataFrame(rows, columns=BAYES_COLUMNS)
