"""Readable summaries of the result objects, laid out as metafor's ``print.rma``.

``str(result)`` (and ``result.summary()``) of :class:`~metapool.stats.pooling.PoolResult`,
:class:`~metapool.stats.results.PooledEstimate`, :class:`~metapool.stats.glmm.GlmmResult` and
:class:`~metapool.stats.medians.MedianOfMedians` (and :class:`~metapool.stats.network.NetworkResult`) give the model and estimator, k, the
heterogeneity (tau^2, tau, I^2, H^2, Cochran's Q with its df and p-value), the pooled estimate
with its standard error, the test for the overall effect (z or t, its df, p), the confidence
and prediction intervals and, for a back-transformed estimate, the natural-scale values.
Numbers are printed with 4 decimals and p-values as metafor's ``fmtp`` (``< .0001``), so a
metafor user reads them as ``print(rma(...))`` (Viechtbauer 2010, J Stat Softw 36(3)).
"""

from __future__ import annotations

import math

__all__ = ["format_pool_result", "format_pooled_estimate", "format_glmm", "format_median_of_medians", "format_network"]

_CI_NAMES = {"z": "z", "hartung_knapp": "Hartung-Knapp (t)"}


def _num(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.{digits}f}"


def _p(p: float) -> str:
    """A p-value as metafor prints it: ``< .0001`` below 1e-4, else 4 decimals."""
    if p is None or math.isnan(p):
        return "NA"
    return "< .0001" if p < 1e-4 else f"= {p:.4f}"


def _table(header: list[str], row: list[str]) -> list[str]:
    widths = [max(len(h), len(r)) for h, r in zip(header, row)]
    return ["  ".join(h.rjust(w) for h, w in zip(header, widths)),
            "  ".join(r.rjust(w) for r, w in zip(row, widths))]


def _model_line(method: str, k: int) -> str:
    if method == "EE":
        return f"Common-Effect Model (k = {k})"
    return f"Random-Effects Model (k = {k}; tau^2 estimator: {method})"


def _pool_lines(m) -> list[str]:
    pct = round(100 * m.level)
    lines = [_model_line(m.method, m.k), ""]
    if m.method != "EE":
        lines += [f"tau^2 (estimated amount of total heterogeneity): {_num(m.tau2)}",
                  f"tau (square root of estimated tau^2 value):      {_num(math.sqrt(m.tau2))}"]
    lines += [f"I^2 (total heterogeneity / total variability):   {_num(m.i2, 2)}%",
              f"H^2 (total variability / sampling variability):  {_num(m.h2, 2)}", ""]
    if m.k > 1:
        lines += ["Test for Heterogeneity:", f"Q(df = {m.df}) = {_num(m.q)}, p-val {_p(m.q_pvalue)}", ""]
    t = m.ci == "hartung_knapp"
    stat = "tval" if t else "zval"
    lines += [f"Model Results ({_CI_NAMES.get(m.ci, m.ci)} test and {pct}% CI):", ""]
    header = ["estimate", "se", stat] + (["df"] if t else []) + ["pval", "ci.lb", "ci.ub"]
    row = ([_num(m.beta), _num(m.se), _num(m.zval)] + ([f"{m.ddf:g}"] if t else [])
           + [_p(m.pval).removeprefix("= "), _num(m.ci_lower), _num(m.ci_upper)])
    lines += _table(header, row)
    lines += ["", f"{pct}% prediction interval: [{_num(m.pi_lower)}, {_num(m.pi_upper)}]"]
    lines += [f"note: {n}" for n in m.notes]
    return lines


def format_pool_result(m) -> str:
    """The summary block of a :class:`~metapool.stats.pooling.PoolResult` (analysis scale)."""
    return "\n".join(_pool_lines(m)) + "\n"


def format_pooled_estimate(res) -> str:
    """The summary block of a :class:`~metapool.stats.results.PooledEstimate`: the model on the analysis
    scale, the Q-profile intervals when computed, and the estimate back-transformed (``transform``)."""
    m = res.model
    pct = round(100 * m.level)
    lines = _pool_lines(m)
    if res.heterogeneity is not None and m.method != "EE":
        lo, hi = res.tau2_ci
        ilo, ihi = res.i2_ci
        lines += [f"{pct}% Q-profile CI: tau^2 [{_num(lo)}, {_num(hi)}], I^2 [{_num(ilo, 2)}%, {_num(ihi, 2)}%]"]
    lines += ["", f"Back-transformed (analysis scale: {res.transform}):",
              f"estimate {_num(res.estimate)}, {pct}% CI [{_num(res.ci_lower)}, {_num(res.ci_upper)}], "
              f"{pct}% PI [{_num(res.pi_lower)}, {_num(res.pi_upper)}]"]
    return "\n".join(lines) + "\n"


def format_glmm(res) -> str:
    """The summary block of a :class:`~metapool.stats.glmm.GlmmResult` (as ``print.rma.glmm``)."""
    pct = round(100 * res.level)
    lines = [f"Random-Effects Model (k = {res.k}; tau^2 estimator: ML)", f"Model: {res.model}", ""]
    if not res.converged:
        return "\n".join(lines + [f"not converged: {res.message}"]) + "\n"
    lo, hi = res.ci_beta
    lines += [f"tau^2 (estimated amount of total heterogeneity): {_num(res.tau2)}",
              f"tau (square root of estimated tau^2 value):      {_num(res.tau)}",
              f"log-likelihood: {_num(res.loglik)} ({res.n_agq}-point adaptive Gauss-Hermite quadrature)", "",
              f"Model Results (logit scale, z test and {pct}% CI):", ""]
    lines += _table(["estimate", "se", "zval", "pval", "ci.lb", "ci.ub"],
                    [_num(res.beta), _num(res.se), _num(res.zval), _p(res.pval).removeprefix("= "), _num(lo),
                     _num(hi)])
    lines += ["", "Back-transformed (inverse logit):",
              f"estimate {_num(res.estimate)}, {pct}% CI [{_num(res.ci_lower)}, {_num(res.ci_upper)}] "
              f"({res.events}/{res.total} events)"]
    if res.message:
        lines.append(res.message)
    return "\n".join(lines) + "\n"


def format_median_of_medians(res) -> str:
    """The summary block of a :class:`~metapool.stats.medians.MedianOfMedians`."""
    pct = round(100 * res.level)
    kind = "Weighted median of medians" if res.weighted else "Median of medians"
    lines = [f"{kind} (k = {res.k})", ""]
    if res.rank > 0:
        lines.append(f"estimate {_num(res.estimate)}, {pct}% sign-test CI [{_num(res.ci_lower)}, "
                     f"{_num(res.ci_upper)}] (order statistics {res.rank} and {res.k - res.rank + 1}, exact "
                     f"coverage {_num(100 * res.coverage, 2)}%)")
    else:
        lines.append(f"estimate {_num(res.estimate)}; no sign-test interval reaches {pct}% with k = {res.k}")
    lines += [f"note: {n}" for n in res.notes]
    return "\n".join(lines) + "\n"


def format_network(res) -> str:
    """The summary block of a :class:`~metapool.stats.network.NetworkResult`: the model, tau^2, I^2, Cochran's Q
    with its design-by-treatment decomposition, the basic parameters (versus the reference) and the notes."""
    pct = round(100 * res.level)
    h = res.heterogeneity
    kind = "Common-effect" if res.method == "EE" else f"Random-effects (tau^2 estimator: {res.method})"
    lines = [f"{kind} network meta-analysis (k = {res.k} studies, {res.n_contrasts} contrasts, "
             f"{len(res.treatments)} treatments; reference: {res.reference})", ""]
    if res.method != "EE":
        lines += [f"tau^2 (estimated amount of heterogeneity, shared by all comparisons): {_num(res.tau2)}",
                  f"tau (square root of estimated tau^2 value):                           {_num(math.sqrt(res.tau2))}"]
    lines += [f"I^2: {_num(h.i2, 2)}%", "",
              "Test for Heterogeneity / Inconsistency:",
              f"Q total:           Q(df = {h.df}) = {_num(h.q)}, p-val {_p(h.q_pvalue)}",
              f"Q within designs:  Q(df = {h.df_within}) = {_num(h.q_within)}, p-val {_p(h.p_within)}",
              f"Q between designs: Q(df = {h.df_between}) = {_num(h.q_between)}, p-val {_p(h.p_between)}", "",
              f"Basic parameters (versus {res.reference}; z test and {pct}% CI):", ""]
    header = ["treatment", "estimate", "se", "zval", "pval", "ci.lb", "ci.ub"]
    rows = [[t, _num(res.estimate[i]), _num(res.se[i]), _num(res.zval[i]), _p(res.pval[i]).removeprefix("= "),
             _num(res.ci_lower[i]), _num(res.ci_upper[i])]
            for i, t in enumerate(res.treatments) if t != res.reference]
    widths = [max(len(h_), *(len(r[c]) for r in rows)) for c, h_ in enumerate(header)]
    lines.append("  ".join(h_.ljust(w) if c == 0 else h_.rjust(w) for c, (h_, w) in enumerate(zip(header, widths))))
    lines += ["  ".join(v.ljust(w) if c == 0 else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths))) for r in rows]
    lines += [f"note: {n}" for n in res.notes]
    return "\n".join(lines) + "\n"
