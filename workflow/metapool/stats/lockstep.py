"""Many meta-analyses computed at once: the storage and the root finder of the engine.

Every statistic of the engine (:mod:`metapool.stats.tau2`, :mod:`metapool.stats.pooling`,
:mod:`metapool.stats.heterogeneity`) is written once, for ``G`` meta-analyses whose studies
are held in long arrays; a single meta-analysis is the case ``G = 1``. A group's numbers do
not depend on the other groups of the call, bit for bit:

* the studies are sorted by (group size k, group id) (:meth:`Groups.from_ids`); the groups
  of one size then form a contiguous ``(G_k, k)`` block of the long array, and a per-group
  sum is ``block.sum(axis=1)`` -- numpy's pairwise summation of each row, the very
  summation ``np.sum`` does on the group's own 1-D array (``np.add.reduceat`` and
  ``np.bincount`` sum in another order and differ in the last bits). The loop is over
  distinct sizes, not groups;
* iterative algorithms (Fisher scoring, Brent's root finder :func:`zeroin`) run for all
  groups in lockstep: one iteration updates every group still iterating, the branch each
  group takes selected through masks, and a group that has finished leaves the working set
  (:class:`WorkingSet`);
* the few operations metafor does on single numbers (the square or the log of a sum) use
  the C library's functions (:func:`libm`), as Python does on a number, because numpy's
  SIMD ``power``/``log`` on arrays may differ from them in the last bit.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

__all__ = ["ConvergenceError", "Groups", "WorkingSet", "UNIROOT_TOL", "as_scalar", "libm", "max0", "zeroin"]

#: R's ``uniroot`` tolerance, ``.Machine$double.eps^0.25``.
UNIROOT_TOL = np.finfo(float).eps ** 0.25
_EPS = float(np.finfo(float).eps)


class ConvergenceError(RuntimeError):
    """An iterative estimator or a root search did not converge."""


class Groups:
    """``G`` meta-analyses whose studies lie contiguously in long arrays, ordered by non-decreasing size.

    Parameters
    ----------
    k : array of int
        The number of studies of each group, non-decreasing; group ``g`` holds
        the studies ``sum(k[:g]) .. sum(k[:g + 1]) - 1`` of the long arrays.

    ``sum`` gives per-group sums computed exactly as ``np.sum`` on each group's
    own 1-D array (row sums of ``(G_k, k)`` blocks use the same pairwise
    summation); ``expand`` repeats a per-group value over the group's studies.
    """

    __slots__ = ("k", "n", "_blocks")

    def __init__(self, k):
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

    @classmethod
    def single(cls, k: int) -> "Groups":
        """One meta-analysis of ``k`` studies."""
        return cls(np.array([k]))

    @classmethod
    def from_ids(cls, group) -> tuple["Groups", np.ndarray, np.ndarray]:
        """The groups of studies labelled by integer ids ``0 .. G-1`` (any order, every id present).

        Returns
        -------
        groups : Groups
            The groups in order of (size, id).
        perm : ndarray
            The order of the studies in the long arrays (``yi[perm]``); within a
            group the studies keep their input order.
        ids : ndarray
            ``ids[g]`` is the id of the group at position ``g``.
        """
        group = np.asarray(group)
        if not np.issubdtype(group.dtype, np.integer):
            raise ValueError("group must hold integer ids 0 .. G-1")
        if group.min() < 0:
            raise ValueError("group ids must be >= 0")
        group = group.astype(np.intp)
        k_by_id = np.bincount(group)
        if np.any(k_by_id == 0):
            missing = np.flatnonzero(k_by_id == 0)
            raise ValueError(f"group ids must be 0 .. G-1 with no gaps; no studies for {missing[:10].tolist()}")
        ids = np.argsort(k_by_id, kind="stable")  # position -> id
        position = np.empty(len(k_by_id), dtype=np.intp)
        position[ids] = np.arange(len(k_by_id))
        perm = np.argsort(position[group], kind="stable")
        return cls(k_by_id[ids]), perm, ids

    def __len__(self) -> int:
        return len(self.k)

    def sum(self, x: np.ndarray) -> np.ndarray:
        """Per-group sums of ``x`` (one value per study)."""
        out = np.empty(len(self.k))
        for g0, g1, e0, e1, kk in self._blocks:
            out[g0:g1] = np.ascontiguousarray(x[e0:e1]).reshape(g1 - g0, kk).sum(axis=1)
        return out

    def median(self, x: np.ndarray) -> np.ndarray:
        """Per-group medians of ``x`` (one value per study), each as ``np.median`` of the group's own array."""
        out = np.empty(len(self.k))
        for g0, g1, e0, e1, kk in self._blocks:
            out[g0:g1] = np.median(np.ascontiguousarray(x[e0:e1]).reshape(g1 - g0, kk), axis=1)
        return out

    def expand(self, values) -> np.ndarray:
        """A per-group value (or one value for all groups) repeated over each group's studies."""
        return np.repeat(np.broadcast_to(values, self.k.shape), self.k)

    def subset(self, keep: np.ndarray) -> tuple["Groups", np.ndarray]:
        """The groups where ``keep`` is true, and the mask of their studies."""
        return Groups(self.k[keep]), np.repeat(keep, self.k)


class WorkingSet:
    """The studies of the groups an iteration still works on; it shrinks as groups finish.

    ``ids`` are the positions (in the groups the set started with) of the groups
    still in the set; ``arrays`` are per-study arrays restricted to them.
    """

    __slots__ = ("ids", "groups", "arrays")

    def __init__(self, groups: Groups, *arrays: np.ndarray):
        self.ids = np.arange(len(groups))
        self.groups = groups
        self.arrays = arrays

    def restrict(self, ids: np.ndarray) -> "WorkingSet":
        """Keep the groups ``ids`` (an increasing subsequence of the current ``ids``)."""
        if len(ids) != len(self.ids):
            keep = np.isin(self.ids, ids, assume_unique=True)
            self.groups, studies = self.groups.subset(keep)
            self.ids = self.ids[keep]
            self.arrays = tuple(a[studies] for a in self.arrays)
        return self


def libm(func, x: np.ndarray, *args) -> np.ndarray:
    """``func`` (a :mod:`math` function, i.e. the C library's) elementwise, as Python computes it on a number."""
    extra = [repeat(a) for a in args]
    return np.fromiter(map(func, x.tolist(), *extra), dtype=float, count=len(x))


def max0(x: np.ndarray) -> np.ndarray:
    """Python's ``max(0.0, x)`` elementwise (NaN gives 0.0, as ``max`` does): truncation at zero."""
    return np.where(x > 0.0, x, 0.0)


def zeroin(f, lower, upper, f_lower, f_upper, *, tol: float = UNIROOT_TOL, maxiter: int = 1000):
    """Brent's root finder as R's ``uniroot`` (``R_zeroin2``), for many searches in lockstep.

    Brent RP. Algorithms for Minimization without Derivatives. Prentice-Hall,
    1973, chapter 4. Every search does the steps R does for it alone; a single
    search is the call with arrays of length one.

    Parameters
    ----------
    f : callable
        ``f(ids, x)``: the functions of the searches ``ids`` (positions in
        ``lower``, an increasing subsequence of those still searching) at ``x``.
    lower, upper : array_like
        The bracket of each search.
    f_lower, f_upper : array_like
        The function values at ``lower`` and ``upper`` (of opposite signs).
    tol : float
        R's ``tol`` (default ``.Machine$double.eps^0.25``).
    maxiter : int
        R's ``maxiter``.

    Returns
    -------
    root, iterations, converged : ndarray
        One entry per search; ``root`` is NaN where the search did not converge
        within ``maxiter`` iterations.
    """
    a, b, fa, fb = (np.atleast_1d(np.asarray(x, dtype=float)).copy() for x in (lower, upper, f_lower, f_upper))
    n = len(a)
    root = np.full(n, np.nan)
    iterations = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    c, fc = a.copy(), fa.copy()

    first = fa == 0.0
    root[first], converged[first] = a[first], True
    second = ~first & (fb == 0.0)
    root[second], converged[second] = b[second], True
    ids = np.flatnonzero(~(first | second))
    a, b, c, fa, fb, fc = (x[ids] for x in (a, b, c, fa, fb, fc))

    with np.errstate(all="ignore"):
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
                accept = (interp & (p < (0.75 * cb * q - np.abs(tol_act * q) / 2.0))
                          & (p < np.abs(prev_step * q / 2.0)))
                new_step = np.where(accept, p / q, new_step)
            small = np.abs(new_step) < tol_act
            new_step = np.where(small, np.where(new_step > 0, tol_act, -tol_act), new_step)
            a, fa = b, fb
            b = b + new_step
            fb = np.asarray(f(ids, b), dtype=float)
            same_sign = ((fb > 0) & (fc > 0)) | ((fb < 0) & (fc < 0))
            c, fc = np.where(same_sign, a, c), np.where(same_sign, fa, fc)
    iterations[ids] = maxiter + 1
    return root, iterations, converged


def as_scalar(x):
    """A 0-d result as a Python float (arrays unchanged): elementwise formulas serve one group and many."""
    return float(x) if np.ndim(x) == 0 else x
