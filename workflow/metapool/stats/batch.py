"""Many meta-analyses pooled in one vectorised call (the engine of a multiverse).

:func:`pool_many` takes the studies of ``G`` meta-analyses as long arrays
(``yi``, ``vi`` and a ``group`` id per study) and returns, for every group, the
same numbers as :func:`metapool.stats.pooling.inverse_variance` (metafor's
``rma.uni``, Viechtbauer 2010, J Stat Softw 36(3)) -- not merely close: the
arithmetic is done in the same order, so the results are identical to the
scalar path bit for bit.

How the per-group work is done without a Python loop per group:

* the studies are sorted by (group size k, group id); the groups of one size
  then form a contiguous ``(G_k, k)`` block of the long array, and a per-group
  sum is ``block.sum(axis=1)`` -- numpy's pairwise summation of each row, the
  very summation ``np.sum`` does on the group's own 1-D array in the scalar
  path (``np.add.reduceat`` and ``np.bincount`` sum in a different order and
  differ in the last bits). The loop is over distinct sizes, not groups;
* closed-form estimators (EE, DL, HE, SJ) are a handful of such sums;
* ML, REML and EB run Fisher scoring for all groups in lockstep: one iteration
  updates every group that has not yet met the stopping rule of
  :func:`metapool.stats.tau2._fisher_scoring` (start from Hedges, step halving while
  ``tau2 + adj < 0``, stop when the change is <= 1e-5, at most 100 iterations,
  metafor's ll0check for ML/REML); converged groups leave the working set;
* PM runs R's ``uniroot`` (Brent 1973; :func:`metapool.stats.tau2.zeroin`) for all
  groups in lockstep, with the same branches taken per group through masks;
* the few scalar operations the reference path does in Python on numpy
  scalars (``s**2`` on ``np.float64``, ``math.log``) use the same C library
  functions here, because numpy's SIMD ``power``/``log`` on arrays may differ
  from them in the last bit.

A group whose iterative estimator does not converge (or whose PM root lies
beyond the search limit) gets ``converged = False`` and NaN for tau2 and
everything that depends on it; the other groups are unaffected. A group of one
study gets tau2 = 0 and the z interval under Hartung-Knapp, as the scalar path
and metafor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import repeat

import numpy as np
import pandas as pd
from scipy import stats

from .pooling import CI_METHODS, PI_METHODS
from .tau2 import MAXITER, TAU2_MAX, TAU2_METHODS, THRESHOLD, UNIROOT_TOL

__all__ = ["BatchPoolResult", "pool_many"]

_EPS = float(np.finfo(float).eps)
_LOG_2PI = math.log(2 * math.pi)
_FISHER = ("ML", "REML", "EB")
_CLOSED = ("DL", "HE", "SJ")


# --------------------------------------------------------------------------- segments


class _Segments:
    """Groups stored contiguously in a long array, ordered by non-decreasing size ``k``.

    ``sum`` gives per-group sums computed exactly as ``np.sum`` on each group's
    own 1-D array (row sums of ``(G_k, k)`` blocks use the same pairwise
    summation); ``expand`` repeats a per-group value over the group's studies.
    """

    __slots__ = ("k", "n", "_blocks")

    def __init__(self, k: np.ndarray):
        k = np.asarray(k, dtype=np.intp)
        self.k = k
        n_groups = len(k)
        self.n = int(k.sum())
        cuts = np.flatnonzero(np.diff(k)) + 1
        g_starts = np.concatenate(([0], cuts)).astype(np.intp)
        g_ends = np.concatenate((cuts, [n_groups])).astype(np.intp)
        offsets = np.concatenate(([0], np.cumsum(k))).astype(np.intp)
        self._blocks = [
            (int(g0), int(g1), int(offsets[g0]), int(offsets[g1]), int(k[g0]))
            for g0, g1 in zip(g_starts, g_ends) if g1 > g0
        ]

    def __len__(self) -> int:
        return len(self.k)

    def sum(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(len(self.k))
        for g0, g1, e0, e1, kk in self._blocks:
            out[g0:g1] = np.ascontiguousarray(x[e0:e1]).reshape(g1 - g0, kk).sum(axis=1)
        return out

    def expand(self, values: np.ndarray) -> np.ndarray:
        return np.repeat(values, self.k)

    def subset(self, keep: np.ndarray) -> tuple["_Segments", np.ndarray]:
        """The segments of the groups where ``keep`` is true, and the mask of their studies."""
        return _Segments(self.k[keep]), np.repeat(keep, self.k)


def _libm(func, x: np.ndarray, *args) -> np.ndarray:
    """``func`` (a ``math`` function) elementwise, i.e. the C library's, as the scalar path uses."""
    extra = [repeat(a) for a in args]
    return np.fromiter(map(func, x.tolist(), *extra), dtype=float, count=len(x))


def _max0(x: np.ndarray) -> np.ndarray:
    """Python's ``max(0.0, x)`` elementwise (NaN gives 0.0, as ``max`` does)."""
    return np.where(x > 0.0, x, 0.0)


def _q_statistic(y, v, seg: _Segments, tau2: np.ndarray) -> np.ndarray:
    """Generalised Cochran's Q per group (as :func:`metapool.stats.tau2.q_statistic`)."""
    wi = 1.0 / (v + seg.expand(tau2))
    m = seg.sum(wi * y) / seg.sum(wi)
    return seg.sum(wi * (y - seg.expand(m)) ** 2)


# --------------------------------------------------------------------------- closed forms


def _tau2_dl(y, v, seg):
    k = seg.k
    wi = 1.0 / v
    s = seg.sum(wi)
    tr_p = s - seg.sum(wi**2) / s
    q = _q_statistic(y, v, seg, np.zeros(len(seg)))
    return _max0((q - (k - 1)) / tr_p)


def _he_rss(y, seg):
    k = seg.k
    mean = seg.sum(y) / k
    return seg.sum((y - seg.expand(mean)) ** 2)


def _he_raw(y, v, seg):
    k = seg.k
    rss = _he_rss(y, seg)
    sv = seg.sum(v)
    tr_pv = sv - sv / k
    return (rss - tr_pv) / (k - 1)


def _tau2_sj(y, v, seg):
    k = seg.k
    tau2_0 = _he_rss(y, seg) / k  # np.var(yi)
    return _max0(tau2_0 * _q_statistic(y, v, seg, tau2_0) / (k - 1))


# --------------------------------------------------------------------------- Fisher scoring


def _loglik(y, v, seg, tau2, reml):
    k = seg.k
    tau2_long = seg.expand(tau2)
    wi = 1.0 / (v + tau2_long)
    s = seg.sum(wi)
    m = seg.sum(wi * y) / s
    rss = seg.sum(wi * (y - seg.expand(m)) ** 2)
    ll = -0.5 * k.astype(float) * _LOG_2PI - 0.5 * seg.sum(np.log(v + tau2_long)) - 0.5 * rss
    if np.any(reml):
        idx = np.flatnonzero(reml)
        ll[idx] = ll[idx] + (0.5 * _LOG_2PI - 0.5 * _libm(math.log, s[idx]))
    return ll


def _fisher_scoring(y, v, seg: _Segments, method: np.ndarray):
    """Lockstep version of :func:`metapool.stats.tau2._fisher_scoring`.

    ``method`` holds "ML", "REML" or "EB" per group. Returns ``(tau2, iterations, converged)``.
    """
    n_groups = len(seg)
    tau2_out = np.full(n_groups, np.nan)
    iterations = np.zeros(n_groups, dtype=np.int64)
    converged = np.zeros(n_groups, dtype=bool)

    tau2 = _max0(_he_raw(y, v, seg))
    ids = np.arange(n_groups)  # positions (in this subset) of the groups still iterating
    wy, wv, wseg, wmethod = y, v, seg, method
    iteration = 0
    while len(ids):
        iteration += 1
        k = wseg.k
        old = tau2
        wi = 1.0 / (wv + wseg.expand(tau2))
        s = wseg.sum(wi)
        resid = wy - wseg.expand(wseg.sum(wi * wy) / s)
        py = wi * resid
        adj = np.empty(len(ids))
        is_ml, is_reml, is_eb = (wmethod == "ML"), (wmethod == "REML"), (wmethod == "EB")
        if is_ml.any() or is_reml.any():
            spy2 = wseg.sum(py**2)
            s2 = wseg.sum(wi**2)
            if is_ml.any():
                adj[is_ml] = ((spy2 - s) / s2)[is_ml]
            if is_reml.any():
                r = np.flatnonzero(is_reml)
                s3 = wseg.sum(wi**3)[r]
                sr, s2r = s[r], s2[r]
                tr_p = sr - s2r / sr
                # s2**2 and s**2 are powers of np.float64 scalars in the reference: libm pow.
                tr_pp = s2r - 2.0 * s3 / sr + _libm(math.pow, s2r, 2.0) / _libm(math.pow, sr, 2.0)
                adj[r] = (spy2[r] - tr_p) / tr_pp
        if is_eb.any():
            seb = wseg.sum(wi * resid**2)
            adj[is_eb] = ((seb * k / (k - 1) - k) / s)[is_eb]
        adj = np.where(np.isnan(adj), 0.0, adj)
        negative = tau2 + adj < 0.0
        halvings = 0
        while negative.any() and halvings < 2200:  # any finite step underflows to 0 by then
            adj = np.where(negative, adj / 2.0, adj)
            negative = tau2 + adj < 0.0
            halvings += 1
        tau2 = tau2 + adj
        change = np.abs(old - tau2)
        if iteration > MAXITER:  # the reference raises ConvergenceError here
            iterations[ids] = iteration
            break
        done = ~(change > THRESHOLD)  # the reference's `while change > THRESHOLD`
        if done.any():
            finished = ids[done]
            tau2_out[finished] = tau2[done]
            iterations[finished] = iteration
            converged[finished] = True
            keep = ~done
            ids, tau2, wmethod = ids[keep], tau2[keep], wmethod[keep]
            wseg, elems = wseg.subset(keep)
            wy, wv = wy[elems], wv[elems]

    # metafor's ll0check: an ML/REML fit worse than tau2 = 0 is a local maximum.
    check = converged & (method != "EB") & (tau2_out > THRESHOLD)
    if check.any():
        cseg, elems = seg.subset(check)
        cy, cv = y[elems], v[elems]
        reml = method[check] == "REML"
        ll0 = _loglik(cy, cv, cseg, np.zeros(len(cseg)), reml)
        ll = _loglik(cy, cv, cseg, tau2_out[check], reml)
        idx = np.flatnonzero(check)
        tau2_out[idx] = np.where(ll0 - ll > UNIROOT_TOL, 0.0, tau2_out[idx])
    tau2_out = np.where(converged, _max0(tau2_out), np.nan)
    # An infinite estimate is no estimate (the reference would return it).
    bad = converged & ~np.isfinite(tau2_out)
    converged &= ~bad
    tau2_out[bad] = np.nan
    return tau2_out, iterations, converged


# --------------------------------------------------------------------------- Paule-Mandel


def _zeroin(f, a, b, fa, fb, tol=UNIROOT_TOL, maxiter=MAXITER):
    """Lockstep version of :func:`metapool.stats.tau2.zeroin` (R's ``R_zeroin2``, Brent 1973).

    ``f(ids, x)`` evaluates the function of the groups ``ids`` at ``x``.
    Returns ``(root, iterations, converged)`` per group.
    """
    n = len(a)
    root = np.full(n, np.nan)
    iterations = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    a, b, fa, fb = (np.asarray(x, dtype=float).copy() for x in (a, b, fa, fb))
    c, fc = a.copy(), fa.copy()

    first = fa == 0.0
    root[first], converged[first] = a[first], True
    second = ~first & (fb == 0.0)
    root[second], converged[second] = b[second], True
    ids = np.flatnonzero(~(first | second))
    a, b, c, fa, fb, fc = (x[ids] for x in (a, b, c, fa, fb, fc))

    for iteration in range(maxiter + 1):
        if not len(ids):
            break
        prev_step = b - a
        swap = np.abs(fc) < np.abs(fb)
        a, b, c = np.where(swap, b, a), np.where(swap, c, b), np.where(swap, b, c)
        fa, fb, fc = np.where(swap, fb, fa), np.where(swap, fc, fb), np.where(swap, fb, fc)
        tol_act = 2.0 * _EPS * np.abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        done = (np.abs(new_step) <= tol_act) | (fb == 0.0)
        if done.any():
            root[ids[done]] = b[done]
            iterations[ids[done]] = iteration
            converged[ids[done]] = True
            keep = ~done
            ids = ids[keep]
            a, b, c, fa, fb, fc, prev_step, tol_act, new_step = (
                x[keep] for x in (a, b, c, fa, fb, fc, prev_step, tol_act, new_step))
            if not len(ids):
                break
        interp = (np.abs(prev_step) >= tol_act) & (np.abs(fa) > np.abs(fb))
        if interp.any():
            cb = c - b
            secant = a == c
            # linear (secant) interpolation
            t1_lin = fb / fa
            p_lin = cb * t1_lin
            q_lin = 1.0 - t1_lin
            # inverse quadratic interpolation
            q0 = fa / fc
            t1 = fb / fc
            t2 = fb / fa
            p_iq = t2 * (cb * q0 * (q0 - t1) - (b - a) * (t1 - 1.0))
            q_iq = (q0 - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            p = np.where(secant, p_lin, p_iq)
            q = np.where(secant, q_lin, q_iq)
            positive = p > 0
            q = np.where(positive, -q, q)
            p = np.where(positive, p, -p)
            accept = interp & (p < (0.75 * cb * q - np.abs(tol_act * q) / 2.0)) & (p < np.abs(prev_step * q / 2.0))
            new_step = np.where(accept, p / q, new_step)
        small = np.abs(new_step) < tol_act
        new_step = np.where(small, np.where(new_step > 0, tol_act, -tol_act), new_step)
        a, fa = b, fb
        b = b + new_step
        fb = f(ids, b)
        same_sign = ((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0))
        c, fc = np.where(same_sign, a, c), np.where(same_sign, fa, fc)
    iterations[ids] = maxiter + 1
    return root, iterations, converged


def _tau2_pm(y, v, seg: _Segments):
    """Lockstep version of :func:`metapool.stats.tau2.tau2_pm`. Returns ``(tau2, iterations, converged)``."""
    n_groups = len(seg)
    k = seg.k
    f0 = _q_statistic(y, v, seg, np.zeros(n_groups)) - (k - 1)
    fmax = _q_statistic(y, v, seg, np.full(n_groups, TAU2_MAX)) - (k - 1)
    tau2 = np.full(n_groups, np.nan)
    iterations = np.zeros(n_groups, dtype=np.int64)
    converged = np.zeros(n_groups, dtype=bool)

    zero = f0 < 0
    tau2[zero], converged[zero] = 0.0, True
    solve = ~zero & ~(fmax > 0)  # fmax > 0: the root lies beyond TAU2_MAX (reference raises)
    if solve.any():
        sseg, elems = seg.subset(solve)
        sy, sv = y[elems], v[elems]

        # the working set shrinks with the groups still searching (ids only ever lose entries)
        work = {"ids": np.arange(len(sseg)), "y": sy, "v": sv, "seg": sseg}

        def f(ids, t):
            if len(ids) != len(work["ids"]):
                keep = np.isin(work["ids"], ids, assume_unique=True)
                work["seg"], elems = work["seg"].subset(keep)
                work["ids"], work["y"], work["v"] = work["ids"][keep], work["y"][elems], work["v"][elems]
            return _q_statistic(work["y"], work["v"], work["seg"], t) - (work["seg"].k - 1)

        n_solve = int(solve.sum())
        root, its, ok = _zeroin(f, np.zeros(n_solve), np.full(n_solve, TAU2_MAX), f0[solve], fmax[solve])
        idx = np.flatnonzero(solve)
        tau2[idx] = np.where(ok, _max0(root), np.nan)
        iterations[idx] = its
        converged[idx] = ok
    return tau2, iterations, converged


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class BatchPoolResult:
    """Pooled estimates of ``G`` meta-analyses on the analysis scale, one array entry per group.

    Each entry equals the corresponding field of
    :class:`metapool.stats.pooling.PoolResult` for that group. ``weights`` (percent)
    is aligned with the input studies. Groups with ``converged == False`` have
    NaN for tau2 and every quantity that depends on it (beta, se, intervals,
    I2, H2, weights); Q, its p-value, k and df do not depend on tau2 and are
    given. ``ci`` is the interval actually used (``"z"`` for single-study
    groups under Hartung-Knapp).
    """

    beta: np.ndarray
    se: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    tau2: np.ndarray
    q: np.ndarray
    df: np.ndarray
    q_pvalue: np.ndarray
    i2: np.ndarray
    h2: np.ndarray
    k: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    weights: np.ndarray = field(repr=False)
    method: np.ndarray = field(repr=False)
    ci: np.ndarray = field(repr=False)
    level: np.ndarray = field(repr=False)
    pi: np.ndarray = field(repr=False)

    def __post_init__(self):
        for value in self.__dict__.values():
            if isinstance(value, np.ndarray):
                value.setflags(write=False)

    def __len__(self) -> int:
        return len(self.beta)

    def summary_frame(self, backtransform=None) -> pd.DataFrame:
        """One row per group (index ``group``); with ``backtransform`` (e.g. ``ilogit``, ``np.exp``)
        also ``estimate`` and the interval limits on the natural scale."""
        frame = pd.DataFrame(
            {
                "k": self.k,
                "method": self.method,
                "ci_method": self.ci,
                "level": self.level,
                "pi_method": self.pi,
                "beta": self.beta,
                "se": self.se,
                "ci_lower": self.ci_lower,
                "ci_upper": self.ci_upper,
                "pi_lower": self.pi_lower,
                "pi_upper": self.pi_upper,
                "tau2": self.tau2,
                "q": self.q,
                "df": self.df,
                "q_pvalue": self.q_pvalue,
                "i2": self.i2,
                "h2": self.h2,
                "iterations": self.iterations,
                "converged": self.converged,
            },
            index=pd.RangeIndex(len(self), name="group"),
        )
        if backtransform is not None:
            for name, col in (("estimate", "beta"), ("estimate_ci_lower", "ci_lower"),
                              ("estimate_ci_upper", "ci_upper"), ("estimate_pi_lower", "pi_lower"),
                              ("estimate_pi_upper", "pi_upper")):
                frame[name] = backtransform(frame[col].to_numpy())
        return frame


# --------------------------------------------------------------------------- driver


def _per_group(value, n_groups: int, name: str, dtype=None) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:
        return np.full(n_groups, arr.item(), dtype=arr.dtype if dtype is None else dtype)
    if arr.shape != (n_groups,):
        raise ValueError(f"{name} must be a scalar or have one entry per group ({n_groups}), got shape {arr.shape}")
    return arr


def _crit(alpha: np.ndarray, df: np.ndarray, use_t: np.ndarray) -> np.ndarray:
    """``metapool.stats.pooling._t_or_z`` per group: z, or t with ``df`` (NaN when df < 1)."""
    crit = np.asarray(stats.norm.isf(alpha / 2), dtype=float).copy()
    t = use_t & (df >= 1)
    if t.any():
        crit[t] = stats.t.isf(alpha[t] / 2, df[t])
    crit[use_t & ~(df >= 1)] = np.nan
    return crit


def pool_many(
    yi,
    vi,
    group,
    *,
    method="REML",
    ci="z",
    level=0.95,
    pi="default",
    hk_adhoc=False,
) -> BatchPoolResult:
    """Pool ``G`` meta-analyses at once by inverse variance (vectorised :func:`~metapool.stats.pooling.inverse_variance`).

    Parameters
    ----------
    yi, vi
        Effect sizes and sampling variances of all studies, 1-D arrays of equal length.
    group
        Integer meta-analysis id of each study, ``0 .. G-1`` in any order; every
        id must occur. Within a group the studies keep their input order.
    method, ci, level, pi, hk_adhoc
        As in :func:`metapool.stats.pooling.inverse_variance`; each is a scalar for
        all groups or an array with one entry per group (so a multiverse mixing
        estimators, interval methods and levels is one call).

    Estimators: DerSimonian & Laird (Control Clin Trials 1986;7:177-188),
    Hedges & Olkin (1985), Sidik & Jonkman (J R Stat Soc C 2005;54:367-384),
    ML (Hardy & Thompson, Stat Med 1996;15:619-629), REML (Viechtbauer, J Educ
    Behav Stat 2005;30:261-293), EB (Morris, JASA 1983;78:47-55) and Paule &
    Mandel (J Res Natl Bur Stand 1982;87:377-385); Hartung-Knapp intervals
    (Stat Med 2001;20:3875-3889); prediction intervals (Higgins, Thompson &
    Spiegelhalter, J R Stat Soc A 2009;172:137-159).
    """
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    group = np.asarray(group)
    if yi.ndim != 1 or yi.shape != vi.shape or yi.shape != group.shape:
        raise ValueError("yi, vi and group must be one-dimensional arrays of equal length")
    if yi.size == 0:
        raise ValueError("cannot pool zero studies")
    if not np.issubdtype(group.dtype, np.integer):
        raise ValueError("group must hold integer ids 0 .. G-1")
    if group.min() < 0:
        raise ValueError("group ids must be >= 0")
    group = group.astype(np.intp)
    if not (np.all(np.isfinite(yi)) and np.all(np.isfinite(vi)) and np.all(vi > 0)):
        raise ValueError("every study needs a finite effect size and a positive, finite variance")
    k_by_id = np.bincount(group)
    n_groups = len(k_by_id)
    if np.any(k_by_id == 0):
        missing = np.flatnonzero(k_by_id == 0)
        raise ValueError(f"group ids must be 0 .. G-1 with no gaps; no studies for {missing[:10].tolist()}")

    method_g = _per_group(method, n_groups, "method", dtype=object).astype(str)
    ci_g = _per_group(ci, n_groups, "ci", dtype=object).astype(str)
    pi_g = _per_group(pi, n_groups, "pi", dtype=object).astype(str)
    level_g = _per_group(level, n_groups, "level", dtype=float)
    adhoc_g = _per_group(hk_adhoc, n_groups, "hk_adhoc", dtype=bool)
    for name, values, allowed in (("method", method_g, TAU2_METHODS), ("ci", ci_g, CI_METHODS),
                                  ("pi", pi_g, PI_METHODS)):
        unknown = set(np.unique(values)) - set(allowed)
        if unknown:
            raise ValueError(f"{name} must be one of {allowed}, got {sorted(unknown)}")
    if not np.all((level_g > 0.0) & (level_g < 1.0)):
        raise ValueError("level must be in (0, 1)")

    # Sort groups by (k, id) and studies by their group's position (stable: input order within a group).
    g_order = np.argsort(k_by_id, kind="stable")  # position -> id
    position = np.empty(n_groups, dtype=np.intp)
    position[g_order] = np.arange(n_groups)
    perm = np.argsort(position[group], kind="stable")
    y, v = yi[perm], vi[perm]
    seg = _Segments(k_by_id[g_order])
    k = seg.k
    meth = method_g[g_order]

    # tau2 per group, by family of estimator
    tau2 = np.zeros(n_groups)
    iterations = np.zeros(n_groups, dtype=np.int64)
    converged = np.ones(n_groups, dtype=bool)
    multi = k > 1
    with np.errstate(all="ignore"):
        for name, func in (("DL", _tau2_dl), ("HE", lambda y_, v_, s_: _max0(_he_raw(y_, v_, s_))),
                           ("SJ", _tau2_sj)):
            sel = multi & (meth == name)
            if sel.any():
                sseg, elems = seg.subset(sel)
                tau2[sel] = func(y[elems], v[elems], sseg)
        sel = multi & np.isin(meth, _FISHER)
        if sel.any():
            sseg, elems = seg.subset(sel)
            t, its, ok = _fisher_scoring(y[elems], v[elems], sseg, meth[sel])
            tau2[sel], iterations[sel], converged[sel] = t, its, ok
        sel = multi & (meth == "PM")
        if sel.any():
            sseg, elems = seg.subset(sel)
            t, its, ok = _tau2_pm(y[elems], v[elems], sseg)
            tau2[sel], iterations[sel], converged[sel] = t, its, ok

        # pooling (metapool.stats.pooling.inverse_variance, in the same order of operations)
        wi = 1.0 / (v + seg.expand(tau2))
        s = seg.sum(wi)
        beta = seg.sum(wi * y) / s
        var_beta = 1.0 / s

        hk = (ci_g[g_order] == "hartung_knapp") & multi
        if hk.any():
            rss = seg.sum(wi * (y - seg.expand(beta)) ** 2)  # q_statistic(yi, vi, tau2)
            s2w = np.where(rss <= _EPS, 0.0, rss / (k - 1))
            s2w = np.where(adhoc_g[g_order] & (s2w < 1), 1.0, s2w)
            var_beta = np.where(hk, var_beta * s2w, var_beta)
        se = np.sqrt(var_beta)
        alpha = 1.0 - level_g[g_order]
        df_ci = (k - 1).astype(float)
        crit = _crit(alpha, df_ci, hk)
        ci_lower, ci_upper = beta - crit * se, beta + crit * se

        pis = pi_g[g_order]
        use_t_pi = np.where(pis == "default", hk, np.isin(pis, ("t_k1", "t_k2")))
        df_pi = np.where(pis == "t_k2", k - 2, k - 1).astype(float)
        crit_pi = _crit(alpha, df_pi, use_t_pi)
        half = crit_pi * np.sqrt(var_beta + tau2)
        ee = meth == "EE"
        pi_lower = np.where(ee, ci_lower, beta - half)
        pi_upper = np.where(ee, ci_upper, beta + half)

        # heterogeneity
        w0 = 1.0 / v
        q = _q_statistic(y, v, seg, np.zeros(n_groups))
        q_pvalue = np.ones(n_groups)
        if multi.any():
            q_pvalue[multi] = stats.chi2.sf(q[multi], (k - 1)[multi])
        i2_ee = np.where(q > 0, _max0(100.0 * (q - (k - 1)) / q), 0.0)
        h2_ee = q / (k - 1)
        w0s = seg.sum(w0)
        vt = (k - 1) / (w0s - seg.sum(w0**2) / w0s)
        i2_re = 100.0 * tau2 / (vt + tau2)
        h2_re = tau2 / vt + 1.0
        i2 = np.where(multi, np.where(ee, i2_ee, i2_re), 0.0)
        h2 = np.where(multi, np.where(ee, h2_ee, h2_re), 1.0)
        q = np.where(multi, q, 0.0)
        weights_sorted = 100.0 * wi / seg.expand(s)

    weights = np.empty_like(weights_sorted)
    weights[perm] = weights_sorted
    ci_used = np.where(multi, ci_g[g_order], "z")

    def by_id(x):
        out = np.empty_like(x)
        out[g_order] = x
        return out

    return BatchPoolResult(
        beta=by_id(beta),
        se=by_id(se),
        ci_lower=by_id(ci_lower),
        ci_upper=by_id(ci_upper),
        pi_lower=by_id(pi_lower),
        pi_upper=by_id(pi_upper),
        tau2=by_id(tau2),
        q=by_id(q),
        df=by_id(k - 1).astype(np.int64),
        q_pvalue=by_id(q_pvalue),
        i2=by_id(i2),
        h2=by_id(h2),
        k=by_id(k).astype(np.int64),
        iterations=by_id(iterations),
        converged=by_id(converged),
        weights=weights,
        method=method_g,
        ci=by_id(ci_used),
        level=level_g,
        pi=pi_g,
    )
