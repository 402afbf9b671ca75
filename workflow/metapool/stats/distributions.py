"""The normal, Student t, chi-squared and F distributions of the tests and intervals, from scipy.special.

``scipy.stats`` computes ``norm.cdf``, ``t.ppf``, ``chi2.sf`` and ``f.sf`` by calling the
:mod:`scipy.special` functions used here (``ndtr``, ``ndtri``, ``stdtr``, ``stdtrit``, ``chdtr``,
``chdtrc``, ``chdtri``, ``gammaincinv``, ``fdtrc``) on the standardised argument, after argument checks
that change nothing for valid arguments; these are the same numbers, bit for bit
(``tests/stats/test_distributions.py`` checks it against ``scipy.stats`` on grids and edge cases).
They are called directly because importing ``scipy.stats`` costs about 0.3 s (its ~100 distributions
are built at import), which a job that pools 13,824 specifications in 0.2 s would otherwise spend
starting up. Modules that need other distributions (the Bayesian posterior's priors, the Clopper-Pearson
interval's beta quantiles) keep using ``scipy.stats``.

Each object has the method names of ``scipy.stats`` (``cdf``, ``sf``, ``ppf``, ``isf``, ``pdf``,
``logpdf`` where used), for the standard distribution (no ``loc``/``scale``), shape parameters after the
argument as in ``scipy.stats``: ``t.ppf(q, df)``, ``chi2.sf(x, df)``, ``f.sf(x, dfn, dfd)``.
Invalid shape parameters (``df <= 0``) give NaN, as in ``scipy.stats``; chi-squared and F are for
finite degrees of freedom (scipy.special's functions give NaN at ``df = inf``).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["norm", "t", "chi2", "f"]

_LOG_SQRT_2PI = math.log(math.sqrt(2.0 * math.pi))


def _below_support(value, x, at):
    """``value`` with ``at`` where ``x < 0`` (below the support of chi-squared and F: scipy.special's
    functions give NaN there, scipy.stats 0 for the CDF and 1 for the survival function)."""
    below = np.asarray(x) < 0
    if not below.any():
        return value
    out = np.array(value, dtype=float, copy=True)
    out[np.broadcast_to(below, out.shape)] = at
    return out[()]


def _ends(value, q, at0, at1):
    """``value`` with ``at0`` where ``q == 0`` and ``at1`` where ``q == 1`` (the support's ends, as
    scipy.stats sets them; ``special.stdtrit`` gives +inf at q = 0)."""
    q = np.asarray(q)
    if not ((q == 0) | (q == 1)).any():
        return value
    out = np.array(value, dtype=float, copy=True)
    out[np.broadcast_to(q == 0, out.shape)] = at0
    out[np.broadcast_to(q == 1, out.shape)] = at1
    return out[()]


def _positive(value, *shapes):
    """``value`` with NaN where a shape parameter is not > 0 (scipy.stats' argument check)."""
    bad = np.zeros(np.broadcast(*shapes).shape, dtype=bool)
    for s in shapes:
        bad |= ~(np.asarray(s) > 0)
    if not bad.any():
        return value
    out = np.array(value, dtype=float, copy=True)
    out[np.broadcast_to(bad, out.shape)] = np.nan
    return out[()]


class _Normal:
    """The standard normal distribution N(0, 1)."""

    @staticmethod
    def cdf(x):
        """P(Z <= x) = ``special.ndtr(x)``."""
        return special.ndtr(x)

    @staticmethod
    def sf(x):
        """P(Z > x) = ``special.ndtr(-x)``."""
        return special.ndtr(-np.asarray(x, dtype=float))[()]

    @staticmethod
    def ppf(q):
        """The ``q`` quantile, ``special.ndtri(q)``."""
        return special.ndtri(q)

    @staticmethod
    def isf(q):
        """The upper ``q`` quantile, ``-special.ndtri(q)``."""
        return -special.ndtri(q)

    @staticmethod
    def pdf(x):
        """The density, exp(-x^2 / 2) / sqrt(2 pi)."""
        x = np.asarray(x, dtype=float)
        return (np.exp(-x ** 2 / 2.0) / np.sqrt(2 * np.pi))[()]

    @staticmethod
    def logpdf(x):
        """The log density, -x^2 / 2 - log sqrt(2 pi)."""
        x = np.asarray(x, dtype=float)
        return (-x ** 2 / 2.0 - _LOG_SQRT_2PI)[()]


class _StudentT:
    """Student's t distribution on ``df`` degrees of freedom."""

    @staticmethod
    def cdf(x, df):
        """P(T <= x) = ``special.stdtr(df, x)``."""
        return _positive(special.stdtr(df, x), df)

    @staticmethod
    def sf(x, df):
        """P(T > x) = ``special.stdtr(df, -x)``."""
        return _positive(special.stdtr(df, -np.asarray(x, dtype=float)), df)

    @staticmethod
    def ppf(q, df):
        """The ``q`` quantile, ``special.stdtrit(df, q)``."""
        return _positive(_ends(special.stdtrit(df, q), q, -np.inf, np.inf), df)

    @staticmethod
    def isf(q, df):
        """The upper ``q`` quantile, ``-special.stdtrit(df, q)``."""
        return _positive(_ends(-special.stdtrit(df, q), q, np.inf, -np.inf), df)


class _ChiSquared:
    """The chi-squared distribution on ``df`` degrees of freedom."""

    @staticmethod
    def cdf(x, df):
        """P(X <= x) = ``special.chdtr(df, x)`` (0 for x < 0)."""
        return _positive(_below_support(special.chdtr(df, x), x, 0.0), df)

    @staticmethod
    def sf(x, df):
        """P(X > x) = ``special.chdtrc(df, x)`` (1 for x < 0)."""
        return _positive(_below_support(special.chdtrc(df, x), x, 1.0), df)

    @staticmethod
    def ppf(q, df):
        """The ``q`` quantile, 2 ``special.gammaincinv(df / 2, q)``."""
        return _positive(2 * special.gammaincinv(np.asarray(df, dtype=float) / 2, q), df)

    @staticmethod
    def isf(q, df):
        """The upper ``q`` quantile, ``special.chdtri(df, q)``."""
        return _positive(special.chdtri(df, q), df)


class _FisherF:
    """The F distribution on ``(dfn, dfd)`` degrees of freedom."""

    @staticmethod
    def sf(x, dfn, dfd):
        """P(F > x) = ``special.fdtrc(dfn, dfd, x)``."""
        return _positive(_below_support(special.fdtrc(dfn, dfd, x), x, 1.0), dfn, dfd)


#: N(0, 1)
norm = _Normal()
#: Student's t
t = _StudentT()
#: chi-squared
chi2 = _ChiSquared()
#: F
f = _FisherF()
