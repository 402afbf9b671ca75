"""metapool.stats.distributions against scipy.stats: the same numbers bit for bit (the same scipy.special
calls without scipy.stats' import cost), on grids spanning the tails and on the edge cases (infinite and NaN
arguments, x below the support, invalid degrees of freedom); and the Clopper-Pearson interval, computed from
scipy.special's incomplete beta inverses, against statsmodels' ``proportion_confint(method="beta")``."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from metapool.stats import distributions as dist
from metapool.stats.effects import clopper_pearson

pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")

X = np.concatenate([np.linspace(-40, 40, 801), [-np.inf, np.inf, np.nan, 0.0, -0.0, 1e-300, 1e300, -1e300]])
Q = np.concatenate([np.logspace(-300, 0, 301), 1 - np.logspace(-16, -1, 61), [0.0, 1.0, 0.5, np.nan, -0.1, 1.1]])
DF = np.array([0.5, 1.0, 1.5, 2.0, 3.0, 7.0, 30.0, 1e3, 1e7, 0.0, -1.0, np.nan])
DF_T = np.append(DF, np.inf)  # chi-squared and F: finite degrees of freedom (the module's docstring)


def same(ours, ref):
    ours, ref = np.asarray(ours), np.asarray(ref)
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours, ref)  # NaN where NaN, otherwise identical floats


@pytest.mark.parametrize("method", ["cdf", "sf", "pdf", "logpdf"])
def test_normal_on_x(method):
    same(getattr(dist.norm, method)(X), getattr(stats.norm, method)(X))


@pytest.mark.parametrize("method", ["ppf", "isf"])
def test_normal_quantiles(method):
    same(getattr(dist.norm, method)(Q), getattr(stats.norm, method)(Q))


@pytest.mark.parametrize("method", ["cdf", "sf"])
def test_t_and_chi2_on_x(method):
    x, df = X[:, None], DF[None, :]
    same(getattr(dist.t, method)(x, DF_T[None, :]), getattr(stats.t, method)(x, DF_T[None, :]))
    same(getattr(dist.chi2, method)(x, df), getattr(stats.chi2, method)(x, df))


@pytest.mark.parametrize("method", ["ppf", "isf"])
def test_t_and_chi2_quantiles(method):
    q, df = Q[:, None], DF[None, :]
    same(getattr(dist.t, method)(q, DF_T[None, :]), getattr(stats.t, method)(q, DF_T[None, :]))
    same(getattr(dist.chi2, method)(q, df), getattr(stats.chi2, method)(q, df))


def test_f_survival():
    x = X[:, None, None]
    dfn, dfd = DF[None, :, None], DF[None, None, :]
    same(dist.f.sf(x, dfn, dfd), stats.f.sf(x, dfn, dfd))


def test_scalars_stay_numpy_scalars():
    for ours, ref in [(dist.norm.isf(0.025), stats.norm.isf(0.025)), (dist.t.ppf(0.975, 4), stats.t.ppf(0.975, 4)),
                      (dist.chi2.sf(3.2, 2), stats.chi2.sf(3.2, 2)), (dist.f.sf(2.0, 1, 5), stats.f.sf(2.0, 1, 5))]:
        assert type(ours) is type(ref) and ours == ref


@settings(max_examples=200, deadline=None)
@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6), st.floats(0, 1))
def test_random_arguments(x, df, q):
    same(dist.t.sf(x, df), stats.t.sf(x, df))
    same(dist.t.isf(q, df), stats.t.isf(q, df))
    same(dist.chi2.sf(x, df), stats.chi2.sf(x, df))
    same(dist.chi2.ppf(q, df), stats.chi2.ppf(q, df))
    same(dist.chi2.isf(q, df), stats.chi2.isf(q, df))
    same(dist.norm.sf(x), stats.norm.sf(x))


@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999999])
def test_clopper_pearson_is_statsmodels_beta_interval_bit_for_bit(level):
    from statsmodels.stats.proportion import proportion_confint

    n = np.repeat(np.arange(1.0, 301.0), np.arange(1, 301) + 1)
    x = np.concatenate([np.arange(0.0, m + 1) for m in range(1, 301)])
    lo, hi = clopper_pearson(x, n, level)
    ref_lo, ref_hi = proportion_confint(x, n, alpha=1 - level, method="beta")
    same(lo, np.where(x > 0, ref_lo, 0.0))   # R's binom.test: exactly 0 at x = 0 and 1 at x = n
    same(hi, np.where(x < n, ref_hi, 1.0))
    assert clopper_pearson(3, 9, level) == (float(lo[(n == 9) & (x == 3)][0]), float(hi[(n == 9) & (x == 3)][0]))
