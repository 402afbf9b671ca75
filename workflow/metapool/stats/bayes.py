"""Bayesian random-effects meta-analysis by direct numerical integration (no MCMC).

The normal-normal hierarchical model (Röver 2020, the model of R's ``bayesmeta``)

    y_i | theta_i ~ N(theta_i, sigma_i^2),   theta_i | mu, tau ~ N(mu, tau^2),

with independent priors p(mu) (flat, or normal) and p(tau) (:class:`TauPrior`), and the exact
binomial-normal model for single-arm proportions

    x_i | theta_i ~ Binomial(n_i, expit(theta_i)),   theta_i | mu, tau ~ N(mu, tau^2).

Normal-normal model (:func:`bayes_normal`). Given tau, mu is conjugate: with ``w_i = 1/(sigma_i^2 +
tau^2)`` (and the normal prior N(m0, s0^2) of mu entering as one more "study" with ``y_0 = m0``,
``w_0 = 1/s0^2``)

    mu | tau, y ~ N(mu_hat(tau), V(tau)),  mu_hat = sum w_i y_i / sum w_i,  V = 1 / sum w_i,
    p(y | tau) ∝ prod_i sqrt(w_i) * V^(1/2) * exp(-1/2 sum_i w_i (y_i - mu_hat)^2)

(Röver 2020, J Stat Softw 93(6), sec. 2.3-2.4), so the marginal posterior of tau,
``p(tau | y) ∝ p(tau) p(y | tau)``, is one-dimensional. Every marginal of interest is a mixture over
tau of normal conditionals:

    mu | y          = ∫ N(mu_hat(tau), V(tau)) p(tau | y) dtau
    theta_new | y   = ∫ N(mu_hat(tau), V(tau) + tau^2) p(tau | y) dtau
    theta_i | y     = ∫ N(b_i y_i + (1 - b_i) mu_hat, b_i sigma_i^2 + (1 - b_i)^2 V) p(tau | y) dtau,
                      b_i = tau^2 / (sigma_i^2 + tau^2)            (shrinkage; Röver 2020 eq. 11)

How the tau integral is done, and why not DIRECT. bayesmeta discretises it with the DIRECT algorithm
(Röver & Friede 2017, J Comput Graph Stat 26:217-222): tau grid points are chosen so that the
symmetrised Kullback-Leibler divergence between neighbouring conditionals stays below delta (1 %
by default), which bounds the divergence of the mixture but moves quantiles in the 4th-5th digit.
Here the reference is base R ``integrate()`` at 1e-10 and the requirement is agreement to 1e-5, so
the mixture weights are instead the nodes of an *adaptive composite Gauss-Legendre rule* in
``t = tau / (s + tau)`` (``tau = U t`` for a prior bounded by U): a panel is split until the
15-point rule on it and on its two halves agree to ``rtol`` relative to the total, for the
posterior density of tau and its first two moments. The marginals are then mixtures of
(typically 100-300) normals whose weights are quadrature weights times the normalised tau density,
so the discretisation error is the quadrature error of smooth integrands (bounded by the
refinement criterion) instead of a divergence bound. scipy's ``quad`` would give the same
accuracy for one integral but needs a new adaptive run for every CDF evaluation of every quantile;
the fixed rule is computed once, vectorised, and one posterior of a 10-study analysis takes ~5
milliseconds of CPU (bench/bench_bayes.py). The CDF of tau between nodes is the exact integral of the panel's degree-14
interpolating (Legendre) polynomial.

Binomial-normal model (:func:`bayes_binomial`). The likelihood of study i given (mu, tau),
``∫ Bin(x_i; n_i, expit(mu + tau u)) phi(u) du``, is computed by adaptive Gauss-Hermite quadrature
(the routine of :mod:`metapool.stats.glmm`, with ``n_agq`` nodes), except for studies with 0 or n events,
whose likelihood (a step in theta inside a normal density of width tau, where AGQ converges slowly) is exact
(:class:`metapool.stats.glmm.BoundaryLikelihood`); the posterior is integrated over mu
on a per-tau grid centred at the conditional mode of mu and scaled by its Laplace standard deviation
(composite Gauss-Legendre panels out to where the density has fallen by e^-40), and over tau by the
adaptive rule above; P(mu <= m) and P(theta_new <= t) are exact integrals of these interpolants.
Studies with 0 or n events enter through their exact binomial likelihood.

Meta-analytic-predictive prior (:func:`map_prior`). The posterior predictive distribution of a new cohort's
response rate ``p_new = expit(theta_new)`` (logit-scale results), approximated by a mixture of beta
distributions fitted by EM/quasi-Newton to its exact density (KL divergence), as RBesT's ``mixfit``
(Schmidli et al. 2014), with the effective sample size by ELIR (Neuenschwander et al. 2020) and by moments
(:func:`beta_mixture_ess`).

References
----------
Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, Neuenschwander B. Robust
meta-analytic-predictive priors in clinical trials with historical control information. Biometrics
2014;70(4):1023-1032. doi:10.1111/biom.12242

Neuenschwander B, Weber S, Schmidli H, O'Hagan A. Predictively consistent prior effective sample sizes.
Biometrics 2020;76(2):578-587. doi:10.1111/biom.13252

Röver C. Bayesian random-effects meta-analysis using the bayesmeta R package. J Stat Softw
2020;93(6):1-51. doi:10.18637/jss.v093.i06

Röver C, Friede T. Discrete approximation of a mixture distribution via restricted divergence.
J Comput Graph Stat 2017;26(1):217-222. doi:10.1080/10618600.2016.1276840

Gelman A, Carlin JB, Stern HS, Dunson DB, Vehtari A, Rubin DB. Bayesian Data Analysis, 3rd ed.
Chapman & Hall/CRC 2013, sec. 5.4-5.6 (the normal-normal hierarchical model by integration over tau).

Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT. Predictive distributions for between-study
heterogeneity and simple methods for their application in Bayesian meta-analysis. Stat Med
2015;34(6):984-998. doi:10.1002/sim.6381

Rhodes KM, Turner RM, Higgins JPT. Predictive distributions were developed for the extent of
heterogeneity in meta-analyses of continuous outcome data. J Clin Epidemiol 2015;68(1):52-60.
doi:10.1016/j.jclinepi.2014.08.012
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numpy.polynomial.hermite import hermgauss
from numpy.polynomial.legendre import leggauss, legvander
from scipy import special, stats

from .effects import ilogit
from .glmm import _binom_const, _check_counts, _loglik_terms, _loglik_terms_theta, boundary_likelihood

__all__ = ["TauPrior", "MuPrior", "PosteriorSummary", "BayesResult", "bayes_normal", "bayes_binomial", "MapPrior",
           "map_prior", "beta_mixture_ess",
           "TURNER_2015", "RHODES_2015"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TauPrior:
    """A prior for the between-study standard deviation tau (on the analysis scale).

    Build one with the class methods: :meth:`half_normal`, :meth:`half_cauchy`, :meth:`half_t`,
    :meth:`uniform` (proper on (0, upper); improper on (0, inf) when ``upper`` is infinite),
    :meth:`log_normal`, :meth:`log_t`, and the published predictive distributions
    :meth:`turner` (log-normal for tau^2, Turner et al. 2015, Table IV) and :meth:`rhodes`
    (log-t with 5 df for tau^2, Rhodes et al. 2015, Table 3). Densities are those of bayesmeta's
    ``dhalfnormal``, ``dhalfcauchy``, ``dhalft`` and ``dlnorm`` (Röver 2020, sec. 2.5).
    """

    family: str
    scale: float = math.nan
    df: float = math.nan
    upper: float = math.inf
    mu: float = math.nan
    sigma: float = math.nan
    label: str = ""

    # -- constructors ----------------------------------------------------
    @classmethod
    def half_normal(cls, scale: float) -> "TauPrior":
        """Half-normal: ``p(tau) = 2 / scale * phi(tau / scale)``, tau > 0."""
        _positive(scale, "scale")
        return cls("half_normal", scale=float(scale), label=f"half-normal(scale={scale:g})")

    @classmethod
    def half_cauchy(cls, scale: float) -> "TauPrior":
        """Half-Cauchy: ``p(tau) = 2 / (pi scale (1 + (tau/scale)^2))``, tau > 0."""
        _positive(scale, "scale")
        return cls("half_t", scale=float(scale), df=1.0, label=f"half-Cauchy(scale={scale:g})")

    @classmethod
    def half_t(cls, scale: float, df: float) -> "TauPrior":
        """Half-Student-t: ``p(tau) = 2 / scale * t_df(tau / scale)``, tau > 0."""
        _positive(scale, "scale")
        _positive(df, "df")
        return cls("half_t", scale=float(scale), df=float(df), label=f"half-t(scale={scale:g}, df={df:g})")

    @classmethod
    def uniform(cls, upper: float = math.inf) -> "TauPrior":
        """Uniform on (0, upper); with ``upper = inf`` the improper flat prior (bayesmeta's
        ``tau.prior = "uniform"``), whose posterior is proper only for k >= 3 with a flat prior on mu
        and k >= 2 with a normal one (the marginal likelihood decays as tau^-(k-1) resp. tau^-k)."""
        if not upper > 0:
            raise ValueError("upper must be > 0")
        lab = "uniform(0, inf) (improper)" if math.isinf(upper) else f"uniform(0, {upper:g})"
        return cls("uniform", upper=float(upper), label=lab)

    @classmethod
    def log_normal(cls, mu: float, sigma: float) -> "TauPrior":
        """Log-normal for tau: ``log tau ~ N(mu, sigma^2)``."""
        _positive(sigma, "sigma")
        return cls("log_normal", mu=float(mu), sigma=float(sigma), label=f"log-normal(mu={mu:g}, sigma={sigma:g})")

    @classmethod
    def log_t(cls, location: float, scale: float, df: float = 5.0) -> "TauPrior":
        """Log-Student-t for tau: ``(log tau - location) / scale ~ t_df``."""
        _positive(scale, "scale")
        _positive(df, "df")
        return cls("log_t", mu=float(location), sigma=float(scale), df=float(df),
                   label=f"log-t(location={location:g}, scale={scale:g}, df={df:g})")

    @classmethod
    def turner(cls, setting: str = "marginal") -> "TauPrior":
        """Turner et al. (2015, Stat Med 34:984-998) predictive distribution for the heterogeneity of
        log odds ratios: ``tau^2 ~ LN(m, s^2)``, i.e. ``tau ~ LN(m / 2, (s / 2)^2)``. ``setting`` is a
        key of :data:`TURNER_2015` ("marginal": any outcome and comparison, their sec. 4.4,
        LN(-2.56, 1.74^2); the others are Table IV, pharmacological vs placebo / control)."""
        try:
            m, s = TURNER_2015[setting]
        except KeyError:
            raise ValueError(f"unknown Turner et al. setting {setting!r}; one of {sorted(TURNER_2015)}") from None
        p = cls.log_normal(m / 2.0, s / 2.0)
        return cls("log_normal", mu=p.mu, sigma=p.sigma,
                   label=f"Turner et al. 2015 ({setting}): tau^2 ~ LN({m:g}, {s:g}^2)")

    @classmethod
    def rhodes(cls, setting: str = "marginal") -> "TauPrior":
        """Rhodes et al. (2015, J Clin Epidemiol 68:52-60) predictive distribution for the heterogeneity
        of standardised mean differences: ``log tau^2 = m + s T_5`` (log-t, 5 df), i.e. tau is log-t
        with location m / 2 and scale s / 2. ``setting`` is a key of :data:`RHODES_2015`
        ("marginal": their sec. 3.3, location -3.44, scale 2.59)."""
        try:
            m, s = RHODES_2015[setting]
        except KeyError:
            raise ValueError(f"unknown Rhodes et al. setting {setting!r}; one of {sorted(RHODES_2015)}") from None
        return cls("log_t", mu=m / 2.0, sigma=s / 2.0, df=5.0,
                   label=f"Rhodes et al. 2015 ({setting}): log tau^2 ~ {m:g} + {s:g} t_5")

    # -- properties ------------------------------------------------------
    @property
    def proper(self) -> bool:
        """False only for the flat prior on (0, inf)."""
        return not (self.family == "uniform" and math.isinf(self.upper))

    @property
    def tail_exponent(self) -> float:
        """a such that ``p(tau) ~ tau^-a`` as tau -> inf (inf for lighter tails, 0 for the flat prior).

        The log-t density decays as tau^-1 (log tau)^-(df + 1): slower than any tau^-(1 + e), faster than
        tau^-1. For the integer moment conditions used here (a posterior tail tau^-(a + k'), E tau^r
        finite iff a + k' > r + 1) it acts as any a in (1, 2): r = k' is integrable thanks to the log
        factor, r = k' + 1 is not. 1.5 is returned."""
        if self.family == "half_t":
            return self.df + 1.0
        if self.family == "uniform":
            return 0.0 if math.isinf(self.upper) else math.inf
        if self.family == "log_t":
            return 1.5
        return math.inf

    def logpdf(self, tau) -> np.ndarray:
        """Log prior density at ``tau`` (> 0); -inf outside the support. For the improper flat prior
        the constant is 0 (the density is 1)."""
        t = np.asarray(tau, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.family == "half_normal":
                out = math.log(2.0) + stats.norm.logpdf(t, scale=self.scale)
            elif self.family == "half_t":
                out = math.log(2.0) + stats.t.logpdf(t, self.df, scale=self.scale)
            elif self.family == "uniform":
                out = np.where(t <= self.upper, 0.0 if math.isinf(self.upper) else -math.log(self.upper), -np.inf)
            elif self.family == "log_normal":
                lt = np.log(t)
                out = stats.norm.logpdf(lt, self.mu, self.sigma) - lt
            elif self.family == "log_t":
                lt = np.log(t)
                out = stats.t.logpdf(lt, self.df, self.mu, self.sigma) - lt
            else:  # pragma: no cover - constructors only
                raise ValueError(self.family)
        return np.where(t > 0, out, -np.inf)

    def median(self) -> float:
        """Prior median of tau (the upper limit's half for the improper flat prior: 1)."""
        if self.family == "half_normal":
            return self.scale * stats.norm.ppf(0.75)
        if self.family == "half_t":
            return self.scale * stats.t.ppf(0.75, self.df)
        if self.family == "uniform":
            return 1.0 if math.isinf(self.upper) else self.upper / 2.0
        return math.exp(self.mu)


def _positive(x, name):
    if not (x > 0 and math.isfinite(x)):
        raise ValueError(f"{name} must be a positive finite number, got {x!r}")


#: Turner et al. (2015, Stat Med 34:984-998): (mean, sd) of log tau^2 for log odds ratios.
#: "marginal" is the setting without covariates (their sec. 4.4 / bayesmeta's ``TurnerEtAlPrior(NA)``);
#: the others are Table IV, comparison "pharmacological vs. placebo / control" (as tabulated in
#: bayesmeta 3.4, ``TurnerEtAlParameters``).
TURNER_2015 = {
    "marginal": (-2.56, 1.74),
    "all-cause mortality": (-3.95, 1.34),
    "cause-specific mortality / major morbidity event / composite": (-3.71, 1.74),
    "adverse events": (-1.87, 1.52),
    "general physical health indicators": (-2.29, 1.53),
    "subjective outcomes (various)": (-2.70, 1.52),
}

#: Rhodes et al. (2015, J Clin Epidemiol 68:52-60): (location, scale) of the log-t(5) distribution of
#: tau^2 for standardised mean differences; "marginal" from their sec. 3.3, the others Table 3
#: (pharmacological vs placebo / control) and Table A.3.2 (cancer), as tabulated in bayesmeta 3.4.
RHODES_2015 = {
    "marginal": (-3.44, 2.59),
    "general physical health, adverse event, pain, quality of life": (-3.16, 2.50),
    "cancer: general physical health, adverse event, pain, quality of life": (-0.60, 2.61),
}


@dataclass(frozen=True)
class MuPrior:
    """Prior of the overall effect mu: flat (improper, ``sd = inf``) or normal(mean, sd)."""

    mean: float = 0.0
    sd: float = math.inf

    @classmethod
    def flat(cls) -> "MuPrior":
        return cls()

    @classmethod
    def normal(cls, mean: float, sd: float) -> "MuPrior":
        _positive(sd, "sd")
        return cls(float(mean), float(sd))

    @property
    def proper(self) -> bool:
        return math.isfinite(self.sd)

    @property
    def label(self) -> str:
        return "flat (improper)" if not self.proper else f"normal(mean={self.mean:g}, sd={self.sd:g})"


# ---------------------------------------------------------------------------
# Adaptive composite Gauss-Legendre rule for the tau integral
# ---------------------------------------------------------------------------

_M = 15
_GL_X, _GL_W = leggauss(_M)
# values at the nodes -> Legendre coefficients of the interpolating polynomial (discrete orthogonality)
_TO_LEG = (legvander(_GL_X, _M - 1) * _GL_W[:, None]).T * ((2.0 * np.arange(_M) + 1.0) / 2.0)[:, None]


def _leg_to_power_matrices():
    """Matrices mapping a panel's M Legendre coefficients to the power-basis coefficients (highest
    first) of the polynomial and of its antiderivative from -1 (numpy's ``leg2poly``/``legint`` applied
    to the unit vectors once, instead of per panel)."""
    from numpy.polynomial import legendre as L

    eye = np.eye(_M)
    dens = np.zeros((_M, _M))
    anti = np.zeros((_M + 1, _M))
    for k in range(_M):
        d = L.leg2poly(eye[k])  # trailing zeros trimmed: right-align (highest power first)
        dens[_M - len(d):, k] = d[::-1]
        a = L.leg2poly(L.legint(eye[k], lbnd=-1))
        anti[_M + 1 - len(a):, k] = a[::-1]
    return dens, anti


_LEG2POW, _LEG2POW_ANTI = _leg_to_power_matrices()


def _leg_partial(s):
    """Rows ``[∫_{-1}^{s} P_k(x) dx]_{k < M}`` for local coordinates s (array)."""
    s = np.asarray(s, dtype=float)
    v = legvander(s, _M)  # P_0..P_M
    out = np.empty(s.shape + (_M,))
    out[..., 0] = s + 1.0
    k = np.arange(1, _M)
    out[..., 1:] = (v[..., 2:] - v[..., :-2]) / (2.0 * k + 1.0)
    return out


class _Panels:
    """A composite Gauss-Legendre rule on [0, 1] with values of a density g(t) at its nodes:
    integrals, the CDF (exact integral of each panel's interpolating polynomial) and its inverse."""

    def __init__(self, a, b, g):
        order = np.argsort(a)
        self.a, self.b, self.g = a[order], b[order], g[order]
        self.h = 0.5 * (self.b - self.a)
        self.nodes = (self.a + self.b)[:, None] * 0.5 + self.h[:, None] * _GL_X[None, :]
        self.w = self.h[:, None] * _GL_W[None, :]
        self.coef = self.g @ _TO_LEG.T  # P x M Legendre coefficients per panel
        mass = (self.g * self.w).sum(axis=1)
        self.cum = np.concatenate([[0.0], np.cumsum(mass)])
        self.total = self.cum[-1]
        self._polys = {}

    def cdf(self, t):
        t = np.clip(np.asarray(t, dtype=float), 0.0, 1.0)
        p = np.clip(np.searchsorted(self.b, t, side="left"), 0, len(self.a) - 1)
        s = (t - self.a[p]) / self.h[p] - 1.0
        part = self.h[p] * np.sum(_leg_partial(np.clip(s, -1.0, 1.0)) * self.coef[p], axis=-1)
        return np.clip((self.cum[p] + part) / self.total, 0.0, 1.0)

    def _poly(self, p):
        """Power-basis coefficients (highest first) of panel p's density interpolant and its
        antiderivative from s = -1, in the local coordinate s (cached)."""
        if p not in self._polys:
            c = self.coef[p]
            self._polys[p] = ((_LEG2POW @ c).tolist(), (_LEG2POW_ANTI @ c).tolist())
        return self._polys[p]

    def ppf(self, q: float) -> float:
        q = float(q)
        if q <= 0.0:
            return 0.0
        if q >= 1.0:
            return 1.0
        target = q * self.total
        p = int(np.clip(np.searchsorted(self.cum, target, side="right") - 1, 0, len(self.a) - 1))
        h = float(self.h[p])
        need = (target - self.cum[p]) / h
        d, anti = self._poly(p)
        lo, hi = -1.0, 1.0
        mass = float(self.cum[p + 1] - self.cum[p]) / h
        s = -1.0 + 2.0 * need / mass if mass > 0 else 0.0  # linear start
        for _ in range(100):  # safeguarded Newton on the panel's polynomial CDF
            f = 0.0
            for c in anti:
                f = f * s + c
            f -= need
            der = 0.0
            for c in d:
                der = der * s + c
            if f > 0:
                hi = s
            else:
                lo = s
            new = s - f / der if der > 0 else 0.5 * (lo + hi)
            if not (lo <= new <= hi):
                new = 0.5 * (lo + hi)
            if abs(new - s) < 1e-15:
                s = new
                break
            s = new
        return float(self.a[p] + (s + 1.0) * h)


def _adaptive_panels(logf: Callable, moments: Callable | None, rtol: float = 1e-10,
                     n_start: int = 4, max_rounds: int = 40) -> tuple[_Panels, float]:
    """Adaptive composite 15-point Gauss-Legendre rule on [0, 1] for ``exp(logf(t))``.

    ``logf`` maps an array of t to log density values (vectorised); ``moments(t)`` (optional) returns
    further factors (rows) whose integrals against the density must also converge. A panel is split
    in two until the rule on it and on its halves agree to ``rtol`` times the total. Returns the
    panels (density values scaled by ``exp(-shift)``) and the shift.
    """
    def evaluate(a, b):
        h = 0.5 * (b - a)
        x = (a + b)[:, None] * 0.5 + h[:, None] * _GL_X[None, :]
        return x, logf(x.ravel()).reshape(x.shape)

    a = np.linspace(0.0, 1.0, n_start + 1)
    active_a, active_b = a[:-1], a[1:]
    x, lv = evaluate(active_a, active_b)
    shift = float(np.max(lv[np.isfinite(lv)])) if np.any(np.isfinite(lv)) else 0.0
    done_a, done_b, done_lv = [], [], []

    def integrals(x, lv, a, b):
        g = np.exp(lv - shift)
        w = 0.5 * (b - a)[:, None] * _GL_W[None, :]
        rows = [g]
        if moments is not None:
            rows += [g * m for m in moments(x)]
        return np.stack([(r * w).sum(axis=1) for r in rows])

    parent = integrals(x, lv, active_a, active_b)
    done_sum = np.zeros(parent.shape[0])
    for _ in range(max_rounds):
        mid = 0.5 * (active_a + active_b)
        ca = np.concatenate([active_a, mid])
        cb = np.concatenate([mid, active_b])
        cx, clv = evaluate(ca, cb)
        fin = np.isfinite(clv)
        if np.any(fin) and float(np.max(clv[fin])) > shift:  # rescale what has been integrated so far
            new_shift = float(np.max(clv[fin]))
            parent = parent * math.exp(shift - new_shift)
            done_sum = done_sum * math.exp(shift - new_shift)
            shift = new_shift
        child = integrals(cx, clv, ca, cb)
        n = len(active_a)
        err = np.abs(parent - (child[:, :n] + child[:, n:]))
        scale = done_sum + np.abs(child).sum(axis=1)
        ok = np.all(err <= rtol * np.maximum(scale, 1e-300)[:, None], axis=0)
        keep = np.concatenate([ok, ok])
        done_a.append(ca[keep])
        done_b.append(cb[keep])
        done_lv.append(clv[keep])
        done_sum = done_sum + np.abs(child[:, keep]).sum(axis=1)
        if np.all(ok):
            break
        sel = ~keep
        active_a, active_b = ca[sel], cb[sel]
        parent = child[:, sel]
    else:
        done_a.append(ca[sel])
        done_b.append(cb[sel])
        done_lv.append(clv[sel])
    da, db, dlv = np.concatenate(done_a), np.concatenate(done_b), np.concatenate(done_lv)
    return _Panels(da, db, np.exp(dlv - shift)), shift


# ---------------------------------------------------------------------------
# Mixtures of normals: CDF, quantiles, shortest intervals
# ---------------------------------------------------------------------------

def _mix_cdf(x, m, s, w):
    """``sum_j w_j Phi((x - m_j) / s_j)`` for rows of x (shape R x Q) and components m, s (R x J)."""
    return np.einsum("rqj,j->rq", special.ndtr((x[:, :, None] - m[:, None, :]) / s[:, None, :]), w)


def _mix_pdf(x, m, s, w):
    z = (x[:, :, None] - m[:, None, :]) / s[:, None, :]
    return np.einsum("rqj,j->rq", np.exp(-0.5 * z * z) / (s[:, None, :] * math.sqrt(2 * math.pi)), w)


def _mix_dpdf(x, m, s, w):
    z = (x[:, :, None] - m[:, None, :]) / s[:, None, :]
    return np.einsum("rqj,j->rq", -z * np.exp(-0.5 * z * z) / (s[:, None, :] ** 2 * math.sqrt(2 * math.pi)), w)


def _mix_ppf(p, m, s, w, x0=None):
    """Quantiles (R x Q) of R normal mixtures at probabilities p (R x Q), by Newton's method safeguarded
    by bisection within a bracket, to ~1e-13 relative (``x0``: starting values)."""
    p = np.asarray(p, dtype=float)
    sel = w > 1e-300
    lo = np.min(m[:, sel] - 40.0 * s[:, sel], axis=1)[:, None] * np.ones_like(p)
    hi = np.max(m[:, sel] + 40.0 * s[:, sel], axis=1)[:, None] * np.ones_like(p)
    mean = (m * w).sum(axis=1)
    sd = np.sqrt(np.maximum(((s ** 2 + m ** 2) * w).sum(axis=1) - mean ** 2, 1e-300))
    if x0 is None:
        x0 = mean[:, None] + sd[:, None] * special.ndtri(np.clip(p, 1e-300, 1 - 1e-16))
    x = np.clip(x0, lo, hi)
    for _ in range(200):
        f = _mix_cdf(x, m, s, w) - p
        lo = np.where(f < 0, x, lo)
        hi = np.where(f > 0, x, hi)
        d = _mix_pdf(x, m, s, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = x - f / d
        # inclusive bracket: at the root the Newton step may land on a bracket end
        bad = ~((new >= lo) & (new <= hi)) | ~np.isfinite(new)
        new = np.where(bad, 0.5 * (lo + hi), new)
        conv = (np.abs(new - x) <= 1e-13 * (1.0 + np.abs(x))) | (f == 0)
        x = new
        if np.all(conv):
            break
    return x


def _mix_shortest(level, m, s, w):
    """Shortest intervals of probability ``level`` of R unimodal normal mixtures: the lower tail
    probability alpha solves ``f(Q(alpha)) = f(Q(alpha + level))`` (Newton in alpha, safeguarded by
    bisection; d/dalpha = f'(a)/f(a) - f'(b)/f(b))."""
    r = m.shape[0]
    lo = np.zeros(r)
    hi = np.full(r, 1.0 - level)
    alpha = np.full(r, 0.5 * (1.0 - level))
    q = None
    for _ in range(100):
        q = _mix_ppf(np.stack([alpha, alpha + level], axis=1), m, s, w, q)
        f = _mix_pdf(q, m, s, w)
        g = f[:, 0] - f[:, 1]
        lo = np.where(g < 0, alpha, lo)
        hi = np.where(g > 0, alpha, hi)
        df = _mix_dpdf(q, m, s, w)
        dg = df[:, 0] / f[:, 0] - df[:, 1] / f[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            new = alpha - g / dg
        bad = ~((new >= lo) & (new <= hi)) | ~np.isfinite(new)
        new = np.where(bad, 0.5 * (lo + hi), new)
        conv = np.abs(new - alpha) <= 1e-14
        alpha = new
        if np.all(conv):
            break
    q = _mix_ppf(np.stack([alpha, alpha + level], axis=1), m, s, w, q)
    return q[:, 0], q[:, 1]


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PosteriorSummary:
    """Marginal posterior summary of one quantity (mu, tau, theta_new or a study's theta_i).

    ``median``, ``mean``, ``sd``, the central interval (``ci_lower``, ``ci_upper``: quantiles
    (1 -+ level) / 2) and the shortest interval (``hpd_lower``, ``hpd_upper``: the highest posterior
    density interval of the unimodal marginal) on the analysis scale; ``mean``/``sd`` are inf where the
    posterior moment does not exist. ``bt_*``: the same back-transformed through the result's inverse
    transform (quantiles and interval limits mapped; ``bt_mean``/``bt_sd`` are the posterior mean and SD
    of the back-transformed quantity; ``bt_hpd_*`` map the analysis-scale shortest interval). NaN when no
    transform was given (and always for tau).
    """

    name: str
    median: float
    mean: float
    sd: float
    ci_lower: float
    ci_upper: float
    hpd_lower: float
    hpd_upper: float
    bt_median: float = math.nan
    bt_mean: float = math.nan
    bt_sd: float = math.nan
    bt_ci_lower: float = math.nan
    bt_ci_upper: float = math.nan
    bt_hpd_lower: float = math.nan
    bt_hpd_upper: float = math.nan

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BayesResult:
    """Result of :func:`bayes_normal` / :func:`bayes_binomial`.

    ``mu``, ``tau`` and ``theta_new`` (the posterior predictive distribution of a new study's effect)
    are :class:`PosteriorSummary`; ``theta`` holds the shrinkage estimates of the studies' effects
    (normal-normal model only; empty for the binomial model). ``prob_mu_above`` and
    ``prob_theta_new_above`` map each threshold c (analysis scale) to P(mu > c | data) and
    P(theta_new > c | data). ``posterior`` evaluates marginal CDFs and quantiles
    (``posterior.cdf("mu", x)``, ``posterior.ppf("tau", p)``).
    """

    model: str
    k: int
    level: float
    tau_prior: TauPrior
    mu_prior: MuPrior
    mu: PosteriorSummary
    tau: PosteriorSummary
    theta_new: PosteriorSummary
    theta: tuple[PosteriorSummary, ...]
    prob_mu_above: dict
    prob_theta_new_above: dict
    transform: str
    n_nodes: int
    posterior: object = field(repr=False, compare=False)
    labels: tuple[str, ...] = ()

    @property
    def estimate(self) -> float:
        """Posterior median of mu, back-transformed when a transform was given."""
        return self.mu.bt_median if self.transform else self.mu.median

    def summary_frame(self):
        """One row per quantity (mu, tau, theta_new, then each study's theta_i) with the posterior
        summaries and, as columns ``P(mu > c)`` etc., the threshold probabilities."""
        import pandas as pd

        rows = []
        for s in (self.mu, self.tau, self.theta_new) + self.theta:
            d = s.as_dict()
            d["quantity"] = d.pop("name")
            rows.append(d)
        df = pd.DataFrame(rows).set_index("quantity")
        for c, p in self.prob_mu_above.items():
            df[f"P(> {c:g})"] = math.nan
            df.loc["mu", f"P(> {c:g})"] = p
        for c, p in self.prob_theta_new_above.items():
            col = f"P(> {c:g})"
            if col not in df:
                df[col] = math.nan
            df.loc["theta_new", col] = p
        df.attrs.update(model=self.model, k=self.k, level=self.level, tau_prior=self.tau_prior.label,
                        mu_prior=self.mu_prior.label, transform=self.transform)
        return df

    def __str__(self) -> str:
        pct = round(100 * self.level)
        lines = [f"Bayesian random-effects meta-analysis ({self.model}; k = {self.k})", "",
                 f"tau prior: {self.tau_prior.label}", f"mu prior:  {self.mu_prior.label}", "",
                 f"{'':10s}{'median':>10s}{'mean':>10s}{'sd':>10s}{f'{pct}% central':>22s}{f'{pct}% shortest':>22s}"]
        for s in (self.mu, self.tau, self.theta_new) + self.theta:
            lines.append(f"{s.name:10s}{s.median:10.4f}{s.mean:10.4f}{s.sd:10.4f}"
                         f"{f'[{s.ci_lower:.4f}, {s.ci_upper:.4f}]':>22s}{f'[{s.hpd_lower:.4f}, {s.hpd_upper:.4f}]':>22s}")
        if self.transform:
            lines += ["", f"back-transformed ({self.transform}):"]
            for s in (self.mu, self.theta_new):
                lines.append(f"{s.name:10s}{s.bt_median:10.4f}{s.bt_mean:10.4f}{s.bt_sd:10.4f}"
                             f"{f'[{s.bt_ci_lower:.4f}, {s.bt_ci_upper:.4f}]':>22s}")
        for c, p in self.prob_mu_above.items():
            lines.append(f"P(mu > {c:g}) = {p:.4f}")
        for c, p in self.prob_theta_new_above.items():
            lines.append(f"P(theta_new > {c:g}) = {p:.4f}")
        return "\n".join(lines)

    def summary(self) -> str:
        return str(self)


_TRANSFORMS = {"expit": ilogit, "ilogit": ilogit, "exp": np.exp}


def _resolve_transform(transform):
    if transform is None or transform == "":
        return "", None
    if isinstance(transform, str):
        try:
            return transform, _TRANSFORMS[transform]
        except KeyError:
            raise ValueError(f"unknown transform {transform!r}; one of {sorted(_TRANSFORMS)} or a callable") from None
    return getattr(transform, "__name__", "custom"), transform


# ---------------------------------------------------------------------------
# The normal-normal model
# ---------------------------------------------------------------------------

class _TauMap:
    """tau = s t / (1 - t) on [0, 1) (tau = U t for a prior bounded by U) and its Jacobian.

    For the log-t prior (Rhodes et al. 2015), whose density is infinite at tau = 0 and whose posterior has
    polynomial tails in log(tau) (|log tau|^-(df + 1) as tau -> 0; E tau^r with r = k' converges only
    through that factor), tau = s exp(c tan(pi (t - 1/2))) with c the prior's scale: the density in t then
    vanishes like t^(df - 1) at both ends and the adaptive rule converges without refining towards the
    ends (with s t / (1 - t) it refined towards t = 0 to its round limit, minutes for a binomial posterior).
    """

    def __init__(self, prior: TauPrior, scale: float):
        self.bounded = math.isfinite(prior.upper)
        self.s = prior.upper if self.bounded else scale
        self.log_scale = prior.family == "log_t"
        self.c = prior.sigma if self.log_scale else math.nan

    def tau(self, t):
        t = np.asarray(t, dtype=float)
        if self.bounded:
            return self.s * t
        with np.errstate(divide="ignore", over="ignore"):
            if self.log_scale:
                return self.s * np.exp(self.c * np.tan(math.pi * (t - 0.5)))
            return self.s * t / (1.0 - t)

    def t(self, tau):
        tau = np.asarray(tau, dtype=float)
        if self.bounded:
            return tau / self.s
        if self.log_scale:
            with np.errstate(divide="ignore"):
                return 0.5 + np.arctan(np.log(tau / self.s) / self.c) / math.pi
        return tau / (self.s + tau)

    def log_jac(self, t):
        t = np.asarray(t, dtype=float)
        if self.bounded:
            return np.full_like(t, math.log(self.s))
        with np.errstate(divide="ignore", over="ignore"):
            if self.log_scale:
                x = math.pi * (t - 0.5)
                return (math.log(self.s) + self.c * np.tan(x) + math.log(self.c * math.pi)
                        - 2.0 * np.log(np.cos(x)))
            return math.log(self.s) - 2.0 * np.log1p(-t)


def _normal_conditionals(y, v, tau, mu_prior: MuPrior):
    """For each tau: log p(y | tau) (mu integrated out, constants dropped), mu_hat(tau) and V(tau)."""
    tau = np.asarray(tau, dtype=float)
    w = 1.0 / (v[None, :] + tau[:, None] ** 2)
    sw = w.sum(axis=1)
    swy = (w * y[None, :]).sum(axis=1)
    logl = 0.5 * np.log(w).sum(axis=1)
    if mu_prior.proper:
        w0 = 1.0 / mu_prior.sd ** 2
        sw = sw + w0
        swy = swy + w0 * mu_prior.mean
    mhat = swy / sw
    q = (w * (y[None, :] - mhat[:, None]) ** 2).sum(axis=1)
    if mu_prior.proper:
        q = q + w0 * (mu_prior.mean - mhat) ** 2
    logl = logl - 0.5 * np.log(sw) - 0.5 * q
    return logl, mhat, 1.0 / sw


class _NormalPosterior:
    """The tau quadrature of the normal-normal model and its marginals (see the module docstring)."""

    def __init__(self, y, v, tau_prior: TauPrior, mu_prior: MuPrior, rtol: float):
        self.y, self.v, self.tau_prior, self.mu_prior = y, v, tau_prior, mu_prior
        k = len(y)
        data_scale = math.sqrt(float(np.mean(v)) + (float(np.var(y)) if k > 1 else 0.0))
        scale = tau_prior.median() if tau_prior.proper else data_scale
        self.map = _TauMap(tau_prior, max(min(scale, 10 * data_scale), 1e-8 * data_scale))
        # tail exponent of the posterior of tau: prior tail + likelihood decay (tau^-(k-1) with a flat
        # prior on mu, tau^-k with a normal one)
        self.tail = tau_prior.tail_exponent + (k if mu_prior.proper else k - 1)

        def logf(t):
            tau = self.map.tau(t)
            lp = tau_prior.logpdf(tau)
            ok = np.isfinite(lp) & np.isfinite(tau) & (tau < 1e100)  # (the log-t map reaches tau = inf)
            out = np.full(tau.shape, -np.inf)
            if np.any(ok):
                out[ok] = lp[ok] + _normal_conditionals(y, v, tau[ok], mu_prior)[0] + self.map.log_jac(t[ok])
            return out

        def moments(t):
            tau = self.map.tau(t)
            tau = np.where(np.isfinite(tau) & (tau < 1e100), tau, 0.0)
            rows = []
            if self.tail > 2:
                rows.append(tau)
            if self.tail > 3:
                rows.append(tau ** 2)
            return rows

        self.logf = logf
        self.panels, self.shift = _adaptive_panels(logf, moments, rtol=rtol)
        t = self.panels.nodes.ravel()
        self.tau_nodes = self.map.tau(t)
        self.weights = (self.panels.g * self.panels.w).ravel() / self.panels.total
        keep = self.weights > 1e-18 * self.weights.max()  # nodes of no weight (e.g. tau -> inf)
        self.tau_nodes, self.weights = self.tau_nodes[keep], self.weights[keep] / self.weights[keep].sum()
        _, self.mhat, self.V = _normal_conditionals(y, v, self.tau_nodes, mu_prior)
        self.log_norm = self.shift + math.log(self.panels.total)

    # -- tau -------------------------------------------------------------
    def tau_pdf(self, tau):
        tau = np.asarray(tau, dtype=float)
        lp = self.tau_prior.logpdf(tau)
        out = np.zeros(tau.shape)
        ok = np.isfinite(lp) & np.isfinite(tau)
        if np.any(ok):
            out[ok] = np.exp(lp[ok] + _normal_conditionals(self.y, self.v, np.atleast_1d(tau[ok]), self.mu_prior)[0]
                             - self.log_norm)
        return out

    def tau_cdf(self, tau):
        return self.panels.cdf(self.map.t(np.maximum(np.asarray(tau, dtype=float), 0.0)))

    def tau_ppf(self, p):
        return float(self.map.tau(self.panels.ppf(p)))

    # -- mixtures ----------------------------------------------------------
    def components(self, what: str):
        """(means, sds) of the normal conditionals of ``what`` ("mu", "theta_new", or a study index)."""
        if what == "mu":
            return self.mhat[None, :], np.sqrt(self.V)[None, :]
        if what == "theta_new":
            return self.mhat[None, :], np.sqrt(self.V + self.tau_nodes ** 2)[None, :]
        return self.theta_components()

    def theta_components(self):
        t2 = self.tau_nodes[None, :] ** 2
        b = t2 / (self.v[:, None] + t2)
        m = b * self.y[:, None] + (1.0 - b) * self.mhat[None, :]
        var = b * self.v[:, None] + (1.0 - b) ** 2 * self.V[None, :]
        return m, np.sqrt(np.maximum(var, 1e-300))

    def cdf(self, what: str, x):
        """Posterior CDF of mu / tau / theta_new at x."""
        x = np.atleast_1d(np.asarray(x, dtype=float))
        if what == "tau":
            return self.tau_cdf(x)
        m, s = self.components(what)
        return _mix_cdf(x[None, :], m[:1], s[:1], self.weights)[0]

    def ppf(self, what: str, p):
        p = np.atleast_1d(np.asarray(p, dtype=float))
        if what == "tau":
            return np.array([self.tau_ppf(q) for q in p])
        m, s = self.components(what)
        return _mix_ppf(p[None, :], m[:1], s[:1], self.weights)[0]


def _moment_ok(tail: float, order: int) -> bool:
    return tail > order + 1


_GL64_X, _GL64_W = leggauss(64)
_GH40_X, _GH40_W = hermgauss(40)
_GL64_U = 0.5 * (_GL64_X + 1.0)
_GL64_LOGIT = np.log(_GL64_U) - np.log1p(-_GL64_U)


def _expit_moments(m, s, w):
    """Posterior mean and SD of expit(X) for each row's normal mixture X = sum_j w_j N(m_j, s_j^2).

    For a component with s < 1, ``E g(m + s Z)`` by 40-point Gauss-Hermite (expit(m + s z) is smooth in
    z); for s >= 1 (where expit(m + s z) is a steep step in z) by parts, with u = expit(x):
    ``E expit(X) = ∫_0^1 Phi((m - logit u) / s) du`` and ``E expit(X)^2 = ∫_0^1 2 u Phi((m - logit u) / s) du``,
    by 64-point Gauss-Legendre in u.
    """
    m, s = np.broadcast_arrays(m, s)
    small = s < 1.0
    c1 = np.empty(m.shape)
    c2 = np.empty(m.shape)
    if np.any(small):  # each component by the rule its width calls for (not both)
        gx = special.expit(m[small][:, None] + math.sqrt(2.0) * s[small][:, None] * _GH40_X[None, :])
        c1[small] = gx @ _GH40_W / math.sqrt(math.pi)
        c2[small] = (gx * gx) @ _GH40_W / math.sqrt(math.pi)
    if not np.all(small):
        big = ~small
        ph = special.ndtr((m[big][:, None] - _GL64_LOGIT[None, :]) / s[big][:, None])
        c1[big] = 0.5 * (ph @ _GL64_W)
        c2[big] = 0.5 * (ph @ (2.0 * _GL64_U * _GL64_W))
    e1 = (c1 * w).sum(axis=1)
    e2 = (c2 * w).sum(axis=1)
    return e1, np.sqrt(np.maximum(e2 - e1 ** 2, 0.0))


def _summaries_from_mixture(names, m, s, w, level, g, mean_ok, sd_ok):
    r = m.shape[0]
    a = (1.0 - level) / 2.0
    q = _mix_ppf(np.tile([0.5, a, 1.0 - a], (r, 1)), m, s, w)
    hl, hu = _mix_shortest(level, m, s, w)
    mean = (m * w).sum(axis=1)
    var = ((s ** 2 + m ** 2) * w).sum(axis=1) - mean ** 2
    sd = np.sqrt(np.maximum(var, 0.0))
    bounded = g is ilogit
    if bounded:
        bmean, bsd = _expit_moments(m, s, w)
    out = []
    for i in range(r):
        kw = {}
        if g is not None:
            gq = np.asarray(g(np.array([q[i, 0], q[i, 1], q[i, 2], hl[i], hu[i]])), dtype=float)
            kw = dict(bt_median=float(gq[0]), bt_mean=float(bmean[i]) if bounded else math.nan,
                      bt_sd=float(bsd[i]) if bounded else math.nan, bt_ci_lower=float(gq[1]),
                      bt_ci_upper=float(gq[2]), bt_hpd_lower=float(gq[3]), bt_hpd_upper=float(gq[4]))
        out.append(PosteriorSummary(names[i], float(q[i, 0]), float(mean[i]) if mean_ok[i] else math.inf,
                                    float(sd[i]) if sd_ok[i] else math.inf, float(q[i, 1]), float(q[i, 2]),
                                    float(hl[i]), float(hu[i]), **kw))
    return out


def _tau_summary(post, level, mean_ok, sd_ok) -> PosteriorSummary:
    a = (1.0 - level) / 2.0
    t = post.tau_nodes
    w = post.weights
    mean = float((w * t).sum()) if mean_ok else math.inf
    sd = float(math.sqrt(max((w * t * t).sum() - mean ** 2, 0.0))) if sd_ok else math.inf
    med, lo, hi = (post.tau_ppf(q) for q in (0.5, a, 1.0 - a))
    hl, hu = _tau_shortest(post, level)
    return PosteriorSummary("tau", med, mean, sd, lo, hi, hl, hu)


def _tau_shortest(post, level):
    """Shortest interval of tau: [0, Q(level)] when the density at 0 is at least that at Q(level)
    (a posterior decreasing from 0), otherwise alpha solving f(Q(alpha)) = f(Q(alpha + level)),
    found by bisection/secant (Brent) in alpha."""
    from scipy.optimize import brentq

    def g(alpha):
        lo, hi = post.tau_ppf(alpha), post.tau_ppf(alpha + level)
        # the density at 0 as its limit (infinite for a log-t prior, 0 for a log-normal one)
        return float(post.tau_pdf(np.array([max(lo, 1e-300)]))[0] - post.tau_pdf(np.array([hi]))[0])

    if g(0.0) >= 0.0:
        return 0.0, post.tau_ppf(level)
    if g(1.0 - level) <= 0.0:  # pragma: no cover - a density increasing to its support's end
        return post.tau_ppf(1.0 - level), post.tau_ppf(1.0)
    alpha = brentq(g, 0.0, 1.0 - level, xtol=1e-13, rtol=1e-12)
    return post.tau_ppf(alpha), post.tau_ppf(alpha + level)


def _check_level(level):
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")


def bayes_normal(y, se, tau_prior: TauPrior, mu_prior: MuPrior | None = None, *, level: float = 0.95,
                 thresholds=(), transform=None, labels=None, rtol: float = 1e-10) -> BayesResult:
    """Bayesian normal-normal random-effects meta-analysis by numerical integration over tau.

    Model (Röver 2020, J Stat Softw 93(6), eqs. 1-3): ``y_i ~ N(theta_i, se_i^2)``,
    ``theta_i ~ N(mu, tau^2)``, priors ``p(mu)`` (flat or normal) and ``p(tau)``. The marginal
    posterior of tau is ``p(tau | y) ∝ p(tau) prod_i sqrt(w_i) V^(1/2) exp(-1/2 sum_i w_i (y_i - mu_hat)^2)``,
    ``w_i = 1 / (se_i^2 + tau^2)``, ``mu_hat = V sum_i w_i y_i``, ``V = 1 / sum_i w_i`` (the normal prior of mu
    entering as one more term), i.e. mu integrated out analytically (conjugate normal given tau); mu, theta_new and the
    theta_i are mixtures over tau of their normal conditionals (module docstring), integrated over tau
    by an adaptive composite Gauss-Legendre rule (accuracy ``rtol``) rather than bayesmeta's DIRECT
    grid, whose divergence bound is too coarse for 1e-5 agreement (see the module docstring). Hand-written
    because neither scipy nor statsmodels fits this model.

    Parameters
    ----------
    y, se
        Effect estimates and their standard errors (analysis scale: logit, log HR, ...).
    tau_prior
        :class:`TauPrior`. The improper flat prior needs k >= 3 (flat mu prior) or k >= 2 (normal mu
        prior) for a proper posterior; otherwise a ``ValueError`` is raised.
    mu_prior
        :class:`MuPrior` (default flat).
    level
        Credible level of the intervals.
    thresholds
        Values c (analysis scale) for P(mu > c) and P(theta_new > c).
    transform
        Inverse transform for the back-transformed summaries: "expit" (logit proportions), "exp"
        (log HR, log medians) or an increasing callable.
    labels
        Study labels for the shrinkage estimates (default "theta_1", ...).
    rtol
        Relative tolerance of the tau quadrature.

    Returns
    -------
    BayesResult
        Posterior summaries of mu, tau, theta_new and each theta_i, threshold probabilities.
    """
    _check_level(level)
    y = np.asarray(y, dtype=float).ravel()
    se = np.asarray(se, dtype=float).ravel()
    if y.shape != se.shape or y.size == 0:
        raise ValueError("y and se must be non-empty and of the same length")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(se)) and np.all(se > 0)):
        raise ValueError("y must be finite and se finite and > 0")
    mu_prior = mu_prior or MuPrior.flat()
    k = y.size
    if not tau_prior.proper:
        need = 2 if mu_prior.proper else 3
        if k < need:
            raise ValueError(f"improper posterior: the flat prior on tau (0, inf) needs k >= {need} with a "
                             f"{'normal' if mu_prior.proper else 'flat'} prior on mu (k = {k}); use a proper tau prior")
    name, g = _resolve_transform(transform)
    post = _NormalPosterior(y, se ** 2, tau_prior, mu_prior, rtol)
    tail = post.tail
    labels = tuple(labels) if labels is not None else tuple(f"theta_{i + 1}" for i in range(k))
    if len(labels) != k:
        raise ValueError("labels must have one entry per study")

    w = post.weights
    mu_m, mu_s = post.components("mu")
    nw_m, nw_s = post.components("theta_new")
    th_m, th_s = post.theta_components()
    m = np.vstack([mu_m, nw_m, th_m])
    s = np.vstack([mu_s, nw_s, th_s])
    # moments: E tau needs tail > 2, E tau^2 tail > 3; mu's sd involves E V ~ E tau^2 / k (flat mu prior)
    e1, e2 = _moment_ok(tail, 1), _moment_ok(tail, 2)
    mean_ok = [e1 or mu_prior.proper, e1] + [True] * k
    sd_ok = [e2 or mu_prior.proper, e2] + [True] * k
    summ = _summaries_from_mixture(("mu", "theta_new") + labels, m, s, w, level, g, mean_ok, sd_ok)
    tau_s = _tau_summary(post, level, e1, e2)
    c = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if c.size:
        pm = 1.0 - _mix_cdf(c[None, :], mu_m, mu_s, w)[0]
        pn = 1.0 - _mix_cdf(c[None, :], nw_m, nw_s, w)[0]
    else:
        pm = pn = np.array([])
    return BayesResult(model="normal-normal", k=k, level=level, tau_prior=tau_prior, mu_prior=mu_prior,
                       mu=summ[0], tau=tau_s, theta_new=summ[1], theta=tuple(summ[2:]),
                       prob_mu_above={float(a): float(b) for a, b in zip(c, pm)},
                       prob_theta_new_above={float(a): float(b) for a, b in zip(c, pn)},
                       transform=name, n_nodes=int(post.tau_nodes.size), posterior=post, labels=labels)


# ---------------------------------------------------------------------------
# The binomial-normal model
# ---------------------------------------------------------------------------

# the per-tau grid of mu: mu = mode + s z over composite 8-point Gauss-Legendre panels in z
_M8 = 8
_GL8_X, _GL8_W = leggauss(_M8)
_TO_LEG8 = (legvander(_GL8_X, _M8 - 1) * _GL8_W[:, None]).T * ((2.0 * np.arange(_M8) + 1.0) / 2.0)[:, None]
_Z_EDGES = np.array([0.0, 1.0, 2.0, 3.0, 4.5, 6.0, 8.0, 11.0, 15.0, 20.0, 27.0, 36.0, 48.0])
_Z_EDGES = np.concatenate([-_Z_EDGES[:0:-1], _Z_EDGES])
_ZA, _ZB = _Z_EDGES[:-1], _Z_EDGES[1:]
_ZH = 0.5 * (_ZB - _ZA)
_Z_NODES = (0.5 * (_ZA + _ZB))[:, None] + _ZH[:, None] * _GL8_X[None, :]   # P x 8
_Z_W = _ZH[:, None] * _GL8_W[None, :]


def _leg_partial_n(s, m):
    """Rows ``[∫_{-1}^{s} P_k]_{k < m}``."""
    v = legvander(s, m)
    out = np.empty(np.shape(s) + (m,))
    out[..., 0] = s + 1.0
    k = np.arange(1, m)
    out[..., 1:] = (v[..., 2:] - v[..., :-2]) / (2.0 * k + 1.0)
    return out


class _BinomialPosterior:
    """Posterior of (mu, tau) in the binomial-normal model on a tau quadrature (adaptive, as for the
    normal model) times, for each tau node, a mu grid centred at the conditional mode (module
    docstring)."""

    def __init__(self, x, n, tau_prior: TauPrior, mu_prior: MuPrior, n_agq: int, rtol: float):
        self.x, self.n = x[:, None], n[:, None]
        self.tau_prior, self.mu_prior = tau_prior, mu_prior
        self.gh = hermgauss(int(n_agq))
        self.lbinom = _binom_const(x, n)[:, None]
        # studies with 0 or n events by glmm.BoundaryLikelihood (exact where tau > 1; 41-node AGQ below, accurate
        # there to 1e-12); the others by AGQ with n_agq nodes
        edge = (x == 0) | (x == n)
        self.inner = ~edge
        self.edge = [(boundary_likelihood(float(ni)), bool(xi == ni)) for xi, ni in zip(x[edge], n[edge])]
        p0 = (x.sum() + 0.5) / (n.sum() + 1.0)
        self.mu0 = math.log(p0 / (1.0 - p0))
        self.map = _TauMap(tau_prior, tau_prior.median())
        # nodes beyond tau_max add nothing; with the log-t prior E tau converges only like |log tau|^-5, so
        # that it is cut far out (where the t_5 tail in log tau is below 1e-11)
        tau_max = 1e100 if self.map.log_scale else 1e6
        cache = {}

        def logf(t):
            tau = self.map.tau(t)
            lp = tau_prior.logpdf(tau)
            out = np.full(tau.shape, -np.inf)
            # nodes where the prior alone is e^-750 below its largest value add nothing (the
            # likelihood is a probability, at most 1)
            ok = np.isfinite(lp) & np.isfinite(tau) & (tau < tau_max)
            if np.any(ok):
                ok &= lp > lp[ok].max() - 750.0
            if np.any(ok):
                logm, mode, scale, dens = self.conditional(tau[ok], full=True)
                out[ok] = lp[ok] + logm + self.map.log_jac(t[ok])
                for i, ti in enumerate(t[ok]):  # the mu grids of the final nodes are kept
                    cache[float(ti)] = (mode[i], scale[i], dens[i])
            return out

        # posterior tail of tau: the prior's, times the likelihood's tau^-(m-1) (flat mu prior) or tau^-m
        # (normal mu prior), m the number of studies with 0 < x < n (a 0/n study's likelihood tends to a
        # constant)
        m_inner = int(np.sum((x > 0) & (x < n)))
        self.tail = tau_prior.tail_exponent + (m_inner if mu_prior.proper else m_inner - 1)

        def moments(t):  # E tau must converge too, where it exists
            if self.tail <= 2:
                return []
            tau = self.map.tau(t)
            return [np.where(np.isfinite(tau), tau, 0.0)]

        self.panels, self.shift = _adaptive_panels(logf, moments, rtol=rtol)
        t = self.panels.nodes.ravel()
        w = (self.panels.g * self.panels.w).ravel()
        # nodes of negligible weight are dropped, unless they carry E tau^2 (and E mu^2 under a flat mu prior,
        # ~ tau^2 / k) where it exists: with the log-t prior it converges only through |log tau|^-6 and
        # nodes at tau ~ 1e50 count
        tt = self.map.tau(t)
        tt = np.where(tt < 1e150, tt, 0.0)  # beyond tau_max the weights are 0 (and tau^2 overflows)
        w2 = w * (1.0 + tt * tt) if self.tail > 3 else w
        keep = (w > 1e-18 * w.max()) | (w2 > 1e-18 * np.sum(w2))
        self.tau_nodes = self.map.tau(t[keep])
        self.weights = w[keep] / w[keep].sum()
        self.log_norm = self.shift + math.log(self.panels.total)
        got = [cache[float(ti)] for ti in t[keep]]
        self.mode = np.array([g[0] for g in got])
        self.scale = np.array([g[1] for g in got])
        dens = np.stack([g[2] for g in got])
        # dens: J x P x 8 conditional density of z = (mu - mode) / scale, normalised
        self.dens = dens
        self.coef = dens @ _TO_LEG8.T                     # J x P x 8 Legendre coefficients per panel
        mass = (dens * _Z_W).sum(axis=2)                  # J x P
        self.cum = np.concatenate([np.zeros((len(self.tau_nodes), 1)), np.cumsum(mass, axis=1)], axis=1)
        self.mu_nodes = self.mode[:, None, None] + self.scale[:, None, None] * _Z_NODES[None]   # J x P x 8
        self.mu_w = self.weights[:, None, None] * dens * _Z_W[None]                          # joint weights

    def loglik(self, mu, tau):
        """log p(mu) + sum_i log L_i(mu, tau) for arrays mu, tau of one shape (tau > 0)."""
        shape = np.broadcast(mu, tau).shape
        mu = np.broadcast_to(mu, shape).ravel()[None, :]
        tau = np.broadcast_to(tau, shape).ravel()[None, :]
        # where tau > 1 on the theta scale (glmm._loglik_terms_theta: the same rule; on the u scale mu + tau u
        # cancels in the far tail of a flat-mu posterior, |mu| ~ tau ~ 1e10 and beyond); 0/n and n/n studies by
        # glmm.BoundaryLikelihood (the AGQ rule converges slowly on their step where tau >~ 2)
        big = tau[0] > 1.0
        ii = self.inner
        ll = np.zeros(mu.shape[1])
        if np.any(ii):
            if np.any(~big):
                ll[~big] = _loglik_terms(self.x[ii], self.n[ii], mu[:, ~big], tau[:, ~big], self.gh[0], self.gh[1],
                                         self.lbinom[ii]).sum(axis=0)
            if np.any(big):
                ll[big] = _loglik_terms_theta(self.x[ii], self.n[ii], mu[:, big], tau[:, big], self.gh[0],
                                              self.gh[1], self.lbinom[ii]).sum(axis=0)
        for lik, flip in self.edge:  # 0/n and n/n studies exactly (the binomial coefficient is 1)
            ll += lik.loglik(mu[0], tau[0], flip)
        ll[~np.isfinite(ll)] = -np.inf
        if self.mu_prior.proper:
            ll = ll + stats.norm.logpdf(mu[0], self.mu_prior.mean, self.mu_prior.sd)
        return ll.reshape(shape)

    def conditional(self, tau, full: bool = False):
        """For each tau: log ∫ p(mu) prod L_i dmu, and (full) the conditional mode and Laplace scale of
        mu and the normalised conditional density of z = (mu - mode) / scale on the z grid."""
        tau = np.asarray(tau, dtype=float)
        mode = np.full(tau.shape, self.mu0)
        # finite-difference step: 1e-4 of the conditional SD's order s0 = sqrt(1 / sum n p (1 - p) + tau^2 / k)
        # where that exceeds 1 (as tau -> inf under a flat mu prior the conditional of mu widens like tau /
        # sqrt(k), and a fixed step loses its curvature to rounding); 1e-4 where s0 <= 1
        p0 = ilogit(self.mu0)
        s0 = np.sqrt(1.0 / float(np.sum(self.n * p0 * (1.0 - p0))) + tau * tau / self.n.size)
        sc = np.maximum(s0, 1.0)
        h = 1e-4 * sc
        # Newton on the (log-concave) conditional with numerical derivatives and step halving
        f0 = self.loglik(mode, tau)
        for _ in range(100):
            fp, fm = self.loglik(mode + h, tau), self.loglik(mode - h, tau)
            g = (fp - fm) / (2 * h)
            c = np.maximum(-(fp - 2 * f0 + fm) / h ** 2, 1e-8 / sc ** 2)
            step = np.clip(g / c, -5.0 * sc, 5.0 * sc)
            for _ in range(40):
                new = mode + step
                fn = self.loglik(new, tau)
                bad = fn < f0 - 1e-12 * (1 + np.abs(f0))
                if not np.any(bad):
                    break
                step = np.where(bad, 0.5 * step, step)
            mode, f0 = new, np.where(bad, f0, fn)
            # the mode only centres the grid: 1e-4 conditional SDs is plenty (and above the noise of
            # the finite differences where the conditional is wide)
            if np.all(np.abs(step) * np.sqrt(c) < 1e-4):
                break
        fp, fm = self.loglik(mode + h, tau), self.loglik(mode - h, tau)
        scale = 1.0 / np.sqrt(np.maximum(-(fp - 2 * f0 + fm) / h ** 2, 1e-12 / sc ** 2))
        mu = mode[:, None, None] + scale[:, None, None] * _Z_NODES[None]
        lv = self.loglik(mu, np.broadcast_to(tau[:, None, None], mu.shape)) - f0[:, None, None]
        dens = np.exp(lv)
        integral = (dens * _Z_W[None]).sum(axis=(1, 2))
        logm = f0 + np.log(integral) + np.log(scale)
        if not full:
            return (logm,)
        return logm, mode, scale, dens / integral[:, None, None]

    # -- tau ---------------------------------------------------------------
    def tau_pdf(self, tau):
        tau = np.atleast_1d(np.asarray(tau, dtype=float))
        lp = self.tau_prior.logpdf(tau)
        out = np.zeros(tau.shape)
        ok = np.isfinite(lp) & np.isfinite(tau)
        if np.any(ok):
            out[ok] = np.exp(lp[ok] + self.conditional(tau[ok])[0] - self.log_norm)
        return out

    def tau_cdf(self, tau):
        return self.panels.cdf(self.map.t(np.maximum(np.asarray(tau, dtype=float), 0.0)))

    def tau_ppf(self, p):
        return float(self.map.tau(self.panels.ppf(p)))

    # -- mu and theta_new --------------------------------------------------
    def _cond_cdf(self, j, z):
        """P(z_j <= z) for tau nodes j (array) at standardised points z (same shape)."""
        z = np.clip(z, _Z_EDGES[0], _Z_EDGES[-1])
        p = np.clip(np.searchsorted(_ZB, z, side="left"), 0, len(_ZA) - 1)
        s = np.clip((z - _ZA[p]) / _ZH[p] - 1.0, -1.0, 1.0)
        part = _ZH[p] * np.sum(_leg_partial_n(s, _M8) * self.coef[j, p], axis=-1)
        return np.clip(self.cum[j, p] + part, 0.0, 1.0)

    def _cond_pdf(self, j, z):
        inside = (z > _Z_EDGES[0]) & (z < _Z_EDGES[-1])
        zc = np.clip(z, _Z_EDGES[0], _Z_EDGES[-1])
        p = np.clip(np.searchsorted(_ZB, zc, side="left"), 0, len(_ZA) - 1)
        s = np.clip((zc - _ZA[p]) / _ZH[p] - 1.0, -1.0, 1.0)
        return np.where(inside, np.maximum(np.sum(legvander(s, _M8 - 1) * self.coef[j, p], axis=-1), 0.0), 0.0)

    def mu_cdf(self, m):
        j = np.arange(len(self.tau_nodes))
        return float(self.weights @ self._cond_cdf(j, (m - self.mode) / self.scale))

    def mu_pdf(self, m):
        j = np.arange(len(self.tau_nodes))
        return float(self.weights @ (self._cond_pdf(j, (m - self.mode) / self.scale) / self.scale))

    def _split(self):
        """tau nodes where the predictive integral runs over mu (tau >= scale) or over z (tau < scale)."""
        return self.tau_nodes >= self.scale

    def new_cdf(self, t):
        wide = self._split()
        total = 0.0
        if np.any(wide):  # Phi((t - mu) / tau) is smooth on the mu grid
            mu, w = self.mu_nodes[wide], self.mu_w[wide]
            total += float(np.sum(w * special.ndtr((t - mu) / self.tau_nodes[wide, None, None])))
        if np.any(~wide):  # E_Z F_j(t - tau Z), F_j smooth on the scale of Z
            j = np.nonzero(~wide)[0]
            zx, zw = _GH40_X, _GH40_W / math.sqrt(math.pi)
            pts = (t - math.sqrt(2.0) * self.tau_nodes[j, None] * zx[None, :] - self.mode[j, None]) / self.scale[j, None]
            f = self._cond_cdf(np.broadcast_to(j[:, None], pts.shape), pts)
            total += float(self.weights[j] @ (f @ zw))
        return total

    def new_pdf(self, t):
        wide = self._split()
        total = 0.0
        if np.any(wide):
            mu, w = self.mu_nodes[wide], self.mu_w[wide]
            tn = self.tau_nodes[wide, None, None]
            total += float(np.sum(w * stats.norm.pdf((t - mu) / tn) / tn))
        if np.any(~wide):
            j = np.nonzero(~wide)[0]
            zx, zw = _GH40_X, _GH40_W / math.sqrt(math.pi)
            pts = (t - math.sqrt(2.0) * self.tau_nodes[j, None] * zx[None, :] - self.mode[j, None]) / self.scale[j, None]
            f = self._cond_pdf(np.broadcast_to(j[:, None], pts.shape), pts) / self.scale[j, None]
            total += float(self.weights[j] @ (f @ zw))
        return total

    def cdf(self, what, x):
        x = np.atleast_1d(np.asarray(x, dtype=float))
        if what == "tau":
            return self.tau_cdf(x)
        f = self.mu_cdf if what == "mu" else self.new_cdf
        return np.array([f(v) for v in x])

    def ppf(self, what, p):
        p = np.atleast_1d(np.asarray(p, dtype=float))
        if what == "tau":
            return np.array([self.tau_ppf(q) for q in p])
        return np.array([self._ppf(what, q) for q in p])

    def moments(self):
        """E mu, E mu^2, E tau, E tau^2."""
        m1 = float(np.sum(self.mu_w * self.mu_nodes))
        m2 = float(np.sum(self.mu_w * self.mu_nodes ** 2))
        t1 = float(self.weights @ self.tau_nodes)
        t2 = float(self.weights @ self.tau_nodes ** 2)
        return m1, m2, t1, t2

    def _ppf(self, what, q, x0=None):
        """Quantile of mu or theta_new: Newton's method on the CDF with the density, safeguarded by
        bisection once the root is bracketed (steps of one SD until then)."""
        f, pdf = (self.mu_cdf, self.mu_pdf) if what == "mu" else (self.new_cdf, self.new_pdf)
        m1, m2, t1, t2 = self.moments()
        sd = math.sqrt(max(m2 - m1 * m1 + (t2 if what != "mu" else 0.0), 1e-12))
        x = float(x0) if x0 is not None else m1 + sd * float(special.ndtri(q))
        lo, hi = -math.inf, math.inf
        for _ in range(200):
            F = f(x) - q
            if F > 0:
                hi = x
            else:
                lo = x
            d = pdf(x)
            new = x - F / d if d > 0 else math.nan
            if not (lo <= new <= hi):
                if math.isfinite(lo) and math.isfinite(hi):
                    new = 0.5 * (lo + hi)
                else:
                    new = x - sd if F > 0 else x + sd
            if abs(new - x) <= 1e-13 * (1.0 + abs(x)) or F == 0:
                return new
            x = new
        return x

    def shortest(self, what, level):
        """Shortest interval of mu or theta_new: alpha solving f(Q(alpha)) = f(Q(alpha + level))
        (Brent's method in alpha; the quantiles warm-started from the previous ones)."""
        from scipy.optimize import brentq

        pdf = self.mu_pdf if what == "mu" else self.new_pdf
        last = {}

        def q(p):
            x = self._ppf(what, p, last.get(round(p > 0.5)))
            last[round(p > 0.5)] = x
            return x

        def g(alpha):
            return pdf(q(alpha)) - pdf(q(alpha + level))

        alpha = brentq(g, 1e-9, 1.0 - level - 1e-9, xtol=1e-11, rtol=1e-11)
        return q(alpha), q(alpha + level)


def bayes_binomial(events, totals, tau_prior: TauPrior, mu_prior: MuPrior | None = None, *, level: float = 0.95,
                   thresholds=(), n_agq: int = 41, rtol: float = 1e-9) -> BayesResult:
    """Bayesian binomial-normal random-effects meta-analysis of single-arm proportions (exact likelihood).

    Model: ``x_i ~ Binomial(n_i, expit(theta_i))``, ``theta_i ~ N(mu, tau^2)``, priors p(mu) (flat or
    normal, logit scale) and p(tau) (proper). The likelihood of each study,
    ``L_i(mu, tau) = ∫ Bin(x_i; n_i, expit(mu + tau u)) phi(u) du``, is computed by adaptive
    Gauss-Hermite quadrature with ``n_agq`` nodes (:func:`metapool.stats.glmm.glmm_loglik`'s routine;
    Pinheiro & Bates 1995), exactly for studies with 0 or n events
    (:class:`metapool.stats.glmm.BoundaryLikelihood`); the posterior ``p(mu, tau | x) ∝ p(mu) p(tau) prod_i L_i`` is integrated
    over mu on per-tau grids (composite Gauss-Legendre in ``z = (mu - mode) / s``) and over tau by the
    adaptive rule of :func:`bayes_normal` (module docstring). Studies with 0 or n events need no
    continuity correction. Hand-written: no Python library integrates this posterior numerically
    (bayesmeta, R, has only the normal-normal model).

    Parameters
    ----------
    events, totals
        Events x_i and totals n_i (0 <= x_i <= n_i).
    tau_prior
        A proper :class:`TauPrior` (the improper flat prior is refused).
    mu_prior
        :class:`MuPrior` on the logit scale (default flat). A flat prior needs at least one study with
        events and one with non-events (otherwise the posterior of mu is improper).
    level
        Credible level.
    thresholds
        Values c (logit scale) for P(mu > c) and P(theta_new > c).
    n_agq
        Gauss-Hermite nodes per likelihood of a study with 0 < x_i < n_i.
    rtol
        Relative tolerance of the tau quadrature.

    Returns
    -------
    BayesResult
        Summaries of mu, tau and theta_new (logit scale, and as proportions through expit); no
        shrinkage estimates (``theta`` is empty).
    """
    _check_level(level)
    x, n = _check_counts(events, totals)
    mu_prior = mu_prior or MuPrior.flat()
    if not tau_prior.proper:
        raise ValueError("improper posterior: the binomial-normal model needs a proper prior on tau")
    if not mu_prior.proper and (np.all(x == 0) or np.all(x == n)):
        raise ValueError("improper posterior: with a flat prior on mu, at least one study needs events and one "
                         "non-events (all studies are 0/n or all n/n); use a normal prior on mu")
    post = _BinomialPosterior(x, n, tau_prior, mu_prior, n_agq, rtol)
    a = (1.0 - level) / 2.0
    m1, m2, t1, t2 = post.moments()
    tail = post.tail
    finite_t1, finite_t2 = tail > 2, tail > 3
    tau_s = _tau_summary(post, level, finite_t1, finite_t2)
    out = {}
    for what in ("mu", "theta_new"):
        med, lo, hi = (float(v) for v in post.ppf(what, [0.5, a, 1.0 - a]))
        hl, hu = post.shortest(what, level)
        out[what] = (med, lo, hi, float(hl), float(hu))
    # expit moments: mu on its grid; theta_new = mu + tau Z per grid node
    mu_flat = post.mu_nodes.ravel()
    w_flat = post.mu_w.ravel()
    bm1 = float(w_flat @ ilogit(mu_flat))
    bm2 = float(w_flat @ ilogit(mu_flat) ** 2)
    tau_rep = np.broadcast_to(post.tau_nodes[:, None, None], post.mu_nodes.shape).ravel()
    nb1, nbsd = _expit_moments(mu_flat[None, :], tau_rep[None, :], w_flat)
    mu_mean = m1 if (finite_t1 or mu_prior.proper) else math.inf
    mu_sd = math.sqrt(max(m2 - m1 * m1, 0.0)) if (finite_t2 or mu_prior.proper) else math.inf
    new_sd = math.sqrt(max(m2 + t2 - m1 * m1, 0.0)) if finite_t2 else math.inf

    def summary(name, vals, mean, sd, bmean, bsd):
        med, lo, hi, hl, hu = vals
        g = ilogit(np.array([med, lo, hi, hl, hu]))
        return PosteriorSummary(name, med, mean, sd, lo, hi, hl, hu, bt_median=float(g[0]), bt_mean=bmean,
                                bt_sd=bsd, bt_ci_lower=float(g[1]), bt_ci_upper=float(g[2]),
                                bt_hpd_lower=float(g[3]), bt_hpd_upper=float(g[4]))

    mu_s = summary("mu", out["mu"], mu_mean, mu_sd, bm1, math.sqrt(max(bm2 - bm1 * bm1, 0.0)))
    new_s = summary("theta_new", out["theta_new"], m1 if finite_t1 else math.inf, new_sd,
                    float(nb1[0]), float(nbsd[0]))
    c = np.atleast_1d(np.asarray(thresholds, dtype=float))
    return BayesResult(model="binomial-normal", k=int(x.size), level=level, tau_prior=tau_prior, mu_prior=mu_prior,
                       mu=mu_s, tau=tau_s, theta_new=new_s, theta=(),
                       prob_mu_above={float(v): 1.0 - post.mu_cdf(v) for v in c},
                       prob_theta_new_above={float(v): 1.0 - post.new_cdf(v) for v in c},
                       transform="expit", n_nodes=int(post.tau_nodes.size), posterior=post)


# ---------------------------------------------------------------------------
# The meta-analytic-predictive (MAP) prior for a new single-arm cohort
# ---------------------------------------------------------------------------

_MAP_PANELS = 80
_MAP_TAIL = 1e-9


@dataclass(frozen=True)
class MapPrior:
    """Meta-analytic-predictive prior of a new cohort's response rate (:func:`map_prior`).

    ``weights``, ``a``, ``b``: the beta mixture ``sum_c w_c Beta(a_c, b_c)`` approximating the posterior
    predictive distribution of ``p_new = expit(theta_new)``. ``ess_elir`` and ``ess_moment``: its effective
    sample size by the expected local-information ratio (Neuenschwander et al. 2020; RBesT's default) and by
    moment matching to one beta (RBesT's ``method = "moment"``); ``ess_elir_logit`` the ELIR in the logit
    parametrisation (finite when a component has a < 1 or b < 1, where ``ess_elir`` is NaN). ``mean``, ``sd``, ``quantiles`` (at
    ``probs``) of the mixture and ``exact_mean``, ``exact_sd``, ``exact_quantiles`` of the predictive
    distribution it approximates; ``kl`` the Kullback-Leibler divergence KL(exact || mixture) that the EM fit
    minimises.
    """

    weights: tuple
    a: tuple
    b: tuple
    ess_elir: float
    ess_moment: float
    ess_elir_logit: float
    mean: float
    sd: float
    probs: tuple
    quantiles: tuple
    exact_mean: float
    exact_sd: float
    exact_quantiles: tuple
    kl: float
    n_components: int
    source: str = ""

    def pdf(self, p):
        """Density of the beta mixture at p (array)."""
        p = np.asarray(p, dtype=float)
        return sum(w * stats.beta.pdf(p, a, b) for w, a, b in zip(self.weights, self.a, self.b))

    def cdf(self, p):
        """CDF of the beta mixture at p (array)."""
        p = np.asarray(p, dtype=float)
        return sum(w * special.betainc(a, b, p) for w, a, b in zip(self.weights, self.a, self.b))

    def ppf(self, q: float) -> float:
        """Quantile of the beta mixture (Brent's method on the CDF)."""
        from scipy.optimize import brentq

        return float(brentq(lambda p: float(self.cdf(p)) - q, 0.0, 1.0, xtol=1e-14, rtol=1e-13))

    def summary_frame(self):
        """One row per mixture component (weight, a, b, its mean and its n = a + b), with the ESS, the
        mixture's and the exact predictive's mean, SD and quantiles in ``attrs``."""
        import pandas as pd

        a, b = np.array(self.a), np.array(self.b)
        df = pd.DataFrame({"weight": self.weights, "a": a, "b": b, "mean": a / (a + b), "n": a + b},
                          index=pd.Index([f"comp{c + 1}" for c in range(self.n_components)], name="component"))
        df.attrs.update(ess_elir=self.ess_elir, ess_moment=self.ess_moment, ess_elir_logit=self.ess_elir_logit,
                        mean=self.mean, sd=self.sd,
                        exact_mean=self.exact_mean, exact_sd=self.exact_sd, kl=self.kl,
                        quantiles=dict(zip(self.probs, self.quantiles)),
                        exact_quantiles=dict(zip(self.probs, self.exact_quantiles)), source=self.source)
        return df

    def __str__(self) -> str:
        lines = [f"MAP prior for a new cohort's response rate: mixture of {self.n_components} beta(s)"
                 + (f" ({self.source})" if self.source else ""), "",
                 f"{'':8s}{'weight':>10s}{'a':>10s}{'b':>10s}{'mean':>10s}{'n':>10s}"]
        for c, (w, a, b) in enumerate(zip(self.weights, self.a, self.b)):
            lines.append(f"comp{c + 1:<4d}{w:10.4f}{a:10.3f}{b:10.3f}{a / (a + b):10.4f}{a + b:10.2f}")
        lines += ["", f"ESS (ELIR) = {self.ess_elir:.2f}, ESS (ELIR, logit scale) = {self.ess_elir_logit:.2f}, "
                  f"ESS (moment) = {self.ess_moment:.2f}",
                  f"mean {self.mean:.4f} (exact {self.exact_mean:.4f}), sd {self.sd:.4f} (exact {self.exact_sd:.4f}), "
                  f"KL(exact || mixture) = {self.kl:.2e}"]
        return "\n".join(lines)


def _predictive_logit_density(result: BayesResult):
    """A quadrature of the posterior predictive density of theta_new (logit scale): nodes x, quadrature
    weights and the density h(x) at the nodes, on composite 8-point Gauss-Legendre panels between its
    1e-9 and 1 - 1e-9 quantiles."""
    post = result.posterior
    lo, hi = (float(v) for v in post.ppf("theta_new", [_MAP_TAIL, 1.0 - _MAP_TAIL]))
    edges = np.linspace(lo, hi, _MAP_PANELS + 1)
    h = 0.5 * np.diff(edges)
    x = (0.5 * (edges[:-1] + edges[1:]))[:, None] + h[:, None] * _GL8_X[None, :]
    wq = (h[:, None] * _GL8_W[None, :]).ravel()
    x = x.ravel()
    if isinstance(post, _NormalPosterior):
        m, s = post.components("theta_new")
        dens = _mix_pdf(x[None, :], m, s, post.weights)[0]
    else:
        dens = np.array([post.new_pdf(v) for v in x])
    return x, wq, dens


def _beta_mle(s1, s2, a0, b0):
    """Beta(a, b) with E log p = s1, E log(1 - p) = s2 (the M-step of the EM: weighted maximum likelihood),
    by Newton's method on (log a, log b) from (a0, b0)."""
    la, lb = math.log(a0), math.log(b0)
    for _ in range(100):
        a, b = math.exp(la), math.exp(lb)
        pab = special.digamma(a + b)
        g1 = special.digamma(a) - pab - s1
        g2 = special.digamma(b) - pab - s2
        t = special.polygamma(1, a + b)
        j11, j12 = (special.polygamma(1, a) - t) * a, -t * b
        j21, j22 = -t * a, (special.polygamma(1, b) - t) * b
        det = j11 * j22 - j12 * j21
        d1 = min(max((j22 * g1 - j12 * g2) / det, -1.0), 1.0)
        d2 = min(max((j11 * g2 - j21 * g1) / det, -1.0), 1.0)
        la, lb = la - d1, lb - d2
        if max(abs(d1), abs(d2)) < 1e-12:
            break
    return math.exp(la), math.exp(lb)


def _beta_mixture_em(p, q, n_components, em_iter=50):
    """A K-component beta mixture fitted to a density given by quadrature nodes p (in (0, 1)) and masses q:
    maximises ``sum_i q_i log g(p_i)``, i.e. minimises KL(f || g). ``em_iter`` EM iterations (E-step:
    responsibilities; M-step: weighted beta maximum likelihood per component), as RBesT's ``mixfit`` runs on
    posterior samples (q_i = 1/S there), started from K quantile slices matched by moments; then, because
    EM crawls when components overlap, quasi-Newton (L-BFGS) on the same objective with its analytic
    gradient in (softmax weights, log a, log b) to convergence."""
    from scipy.optimize import minimize

    q = q / q.sum()
    lp, l1p = np.log(p), np.log1p(-p)
    cum = np.cumsum(q)
    w = np.empty(n_components)
    a = np.empty(n_components)
    b = np.empty(n_components)
    for c in range(n_components):
        sel = (cum > c / n_components) & (cum <= (c + 1) / n_components + 1e-15)
        qs = q[sel] / q[sel].sum()
        m = float(qs @ p[sel])
        v = max(float(qs @ (p[sel] - m) ** 2), 1e-8)
        nn = max(m * (1 - m) / v - 1.0, 0.5)
        w[c], a[c], b[c] = 1.0 / n_components, max(m * nn, 0.05), max((1 - m) * nn, 0.05)

    def estep(w, a, b):
        logd = (np.log(w) - special.betaln(a, b))[:, None] + (a - 1.0)[:, None] * lp + (b - 1.0)[:, None] * l1p
        mx = logd.max(axis=0)
        ll_i = mx + np.log(np.exp(logd - mx).sum(axis=0))
        return float(q @ ll_i), np.exp(logd - ll_i)

    for _ in range(em_iter):
        _, r = estep(w, a, b)
        rq = r * q
        w = np.maximum(rq.sum(axis=1), 1e-300)
        for c in range(n_components):
            a[c], b[c] = _beta_mle(float(rq[c] @ lp) / w[c], float(rq[c] @ l1p) / w[c], a[c], b[c])
        w = w / w.sum()

    kc = n_components

    def unpack(th):
        eta = np.concatenate([[0.0], th[:kc - 1]])
        ww = np.exp(eta - eta.max())
        return ww / ww.sum(), np.exp(th[kc - 1:2 * kc - 1]), np.exp(th[2 * kc - 1:])

    def objective(th):
        ww, aa, bb = unpack(th)
        ll, r = estep(ww, aa, bb)
        rq = r * q
        mass = rq.sum(axis=1)
        dab = special.digamma(aa + bb)
        ga = aa * (rq @ lp - mass * (special.digamma(aa) - dab))
        gb = bb * (rq @ l1p - mass * (special.digamma(bb) - dab))
        geta = (mass - ww)[1:]
        return -ll, -np.concatenate([geta, ga, gb])

    th0 = np.concatenate([np.log(w[1:] / w[0]), np.log(a), np.log(b)])
    opt = minimize(objective, th0, jac=True, method="L-BFGS-B",
                   options=dict(maxiter=2000, ftol=1e-15, gtol=1e-10))
    w, a, b = unpack(opt.x)
    order = np.argsort(-w)
    return w[order], a[order], b[order]


def beta_mixture_ess(weights, a, b, method: str = "elir") -> float:
    """Effective sample size of a beta-mixture prior for a binomial response rate.

    ``method="elir"`` (RBesT's default; Neuenschwander B, Weber S, Schmidli H, O'Hagan A. Predictively
    consistent prior effective sample sizes. Biometrics 2020;76:578-587): the expected local-information
    ratio ``ESS = E_f[ i_f(p) / i_F(p) ]`` (their eq. 6) with the prior information ``i_f = -d^2/dp^2 log f(p)`` and the
    binomial Fisher information per observation ``i_F = 1 / (p (1 - p))``; computed by 64-point
    Gauss-Legendre panels in logit(p). ``method="elir_logit"``: the same ratio in the parametrisation
    x = logit(p) (prior information -d^2/dx^2 log g(x), Fisher information p (1 - p)), in which one Beta(a, b)
    has the ratio a + b at every x, so that it stays finite for components with a < 1 or b < 1 (the ELIR
    is not invariant to the parametrisation: for mixtures the two differ). ``method="moment"`` (RBesT's ``method = "moment"``): the a + b of the
    beta with the mixture's mean m and variance v, ``m (1 - m) / v - 1``. Both give a + b for one Beta(a, b)
    (ELIR: E[(a - 1)(1 - p)/p + (b - 1) p/(1 - p)] = b + a for a, b >= 1; for a < 1 or b < 1 the ratio is
    not integrable and one beta gets the closed form a + b, a mixture NaN).
    Hand-written: no Python package computes prior ESS.

    Parameters
    ----------
    weights, a, b
        Mixture weights and beta parameters.
    method
        "elir", "elir_logit" or "moment".

    Returns
    -------
    float
    """
    w, a, b = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (weights, a, b))
    w = w / w.sum()
    if method == "moment":
        m = float(w @ (a / (a + b)))
        m2 = float(w @ (a * (a + 1) / ((a + b) * (a + b + 1))))
        return m * (1 - m) / (m2 - m * m) - 1.0
    if method not in ("elir", "elir_logit"):
        raise ValueError("method must be 'elir', 'elir_logit' or 'moment'")
    if method == "elir" and (np.any(a < 1.0) or np.any(b < 1.0)):
        # the information ratio (a - 1)(1 - p)/p + (b - 1) p/(1 - p) is not integrable at 0 (a < 1) or 1
        # (b < 1): for one beta the closed form a + b (its value for a, b >= 1), for a mixture undefined
        return float(a[0] + b[0]) if a.size == 1 else math.nan
    # integrate over x = logit p (dp = p (1 - p) dx) on panels spanning the mixture's mass
    # the 1e-30 quantiles in logit(p) (the ELIR integrand on the p scale decays only like p^(a - 2); the
    # upper one through 1 - p ~ Beta(b, a), so that it is not rounded to 1)
    lo = min(special.logit(max(stats.beta.ppf(1e-30, ac, bc), 1e-300)) for ac, bc in zip(a, b))
    hi = max(-special.logit(max(stats.beta.ppf(1e-30, bc, ac), 1e-300)) for ac, bc in zip(a, b))
    edges = np.linspace(lo, hi, 81)
    h = 0.5 * np.diff(edges)
    x = ((0.5 * (edges[:-1] + edges[1:]))[:, None] + h[:, None] * _GL64_X[None, :]).ravel()
    wq = (h[:, None] * _GL64_W[None, :]).ravel()
    p = special.expit(x)
    pq = p * special.expit(-x)                        # dp/dx, and 1 / Fisher information per observation
    log_p, log_q = -np.logaddexp(0.0, -x), -np.logaddexp(0.0, x)
    # -(log f)'' of a mixture = sum_j r_j k_j - Var_r(s_j) (r_j the component responsibilities, s_j and -k_j the
    # first and second derivatives of log component j): no cancellation of large terms
    if method == "elir_logit":
        # x = logit p: log c_j = log w_j - log B(a, b) + a log p + b log(1 - p), s_j = a - (a + b) p,
        # k_j = (a + b) p (1 - p); Fisher information of x: p (1 - p)
        lc = (np.log(w) - special.betaln(a, b))[:, None] + a[:, None] * log_p + b[:, None] * log_q
        sj = a[:, None] - (a + b)[:, None] * p
        kj = (a + b)[:, None] * pq
    else:
        # p: log f_j = log w_j - log B(a, b) + (a - 1) log p + (b - 1) log(1 - p), s_j = (a - 1)/p - (b - 1)/(1 - p),
        # k_j = (a - 1)/p^2 + (b - 1)/(1 - p)^2; Fisher information of p: 1 / (p (1 - p)); dp = p (1 - p) dx
        lc = (np.log(w) - special.betaln(a, b))[:, None] + (a - 1)[:, None] * log_p + (b - 1)[:, None] * log_q
        sj = (a - 1)[:, None] / p - (b - 1)[:, None] / special.expit(-x)
        kj = (a - 1)[:, None] / p ** 2 + (b - 1)[:, None] / special.expit(-x) ** 2
    mx = lc.max(axis=0)
    dens = np.exp(lc - mx)
    tot = dens.sum(axis=0)
    r = dens / tot
    sbar = (r * sj).sum(axis=0)
    info = (r * kj).sum(axis=0) - (r * (sj - sbar) ** 2).sum(axis=0)
    f = np.exp(mx) * tot                              # density (of x, or of p)
    if method == "elir_logit":
        return float(np.sum(wq * f * info / pq))
    return float(np.sum(wq * pq * f * info * pq))


def map_prior(result: BayesResult, n_components: int | None = None, *, probs=(0.025, 0.25, 0.5, 0.75, 0.975),
              kl_target: float = 1e-3, max_components: int = 4) -> MapPrior:
    """Meta-analytic-predictive (MAP) prior for the response rate of a new single-arm cohort.

    The posterior predictive distribution of ``p_new = expit(theta_new)``, theta_new | data the predictive
    distribution of a new cohort's logit (Neuenschwander B, Capkun-Niggli G, Branson M, Spiegelhalter DJ.
    Clin Trials 2010;7:5-18), approximated by a mixture of beta distributions fitted by EM, as RBesT's
    ``mixfit`` (Schmidli H, Gsteiger S, Roychoudhury S, O'Hagan A, Spiegelhalter D, Neuenschwander B.
    Robust meta-analytic-predictive priors in clinical trials with historical control information.
    Biometrics 2014;70:1023-1032). RBesT fits the mixture to MCMC samples; here the exact predictive density
    is known (a mixture over the posterior quadrature) and the EM runs on its quadrature (composite
    Gauss-Legendre in theta_new between its 1e-9 and 1 - 1e-9 quantiles), so the fit minimises
    KL(exact || mixture) without sampling noise. With ``n_components=None`` the smallest number of
    components (1 to ``max_components``) whose KL divergence is below ``kl_target`` is used (RBesT's
    ``automixfit`` chooses by AIC on samples, which has no analogue without samples). The effective sample
    size is given by ELIR (RBesT's default) and by moments (:func:`beta_mixture_ess`).

    Parameters
    ----------
    result
        A :class:`BayesResult` on the logit scale: :func:`bayes_binomial`, or :func:`bayes_normal` with
        ``transform="expit"``.
    n_components
        Number of beta components, or None to choose (see above).
    probs
        Probabilities of the reported quantiles.
    kl_target, max_components
        The automatic choice of the number of components.

    Returns
    -------
    MapPrior
    """
    if not (result.model == "binomial-normal" or result.transform in ("expit", "ilogit")):
        raise ValueError("map_prior needs a logit-scale result: bayes_binomial, or bayes_normal(transform='expit')")
    if not math.isfinite(result.theta_new.sd):
        raise ValueError("the predictive distribution of theta_new has no finite variance (heavy-tailed tau "
                         "posterior); use a tau prior with a lighter tail")
    x, wq, h = _predictive_logit_density(result)
    p = special.expit(x)
    q = h * wq
    q = q / q.sum()
    # log density of p_new at the nodes: log h(x) - log(p (1 - p)) (for KL(exact || mixture))
    logf = np.log(np.maximum(h, 1e-300)) - np.log(p) - np.log1p(-p)
    ks = [n_components] if n_components else list(range(1, max_components + 1))
    fit = None
    for kc in ks:
        w, a, b = _beta_mixture_em(p, q, kc)
        logg = np.log(sum(wc * stats.beta.pdf(p, ac, bc) for wc, ac, bc in zip(w, a, b)))
        fit = (w, a, b, logg)
        kl = float(np.sum(q * (logf - logg)))
        if n_components or kl < kl_target:
            break
    w, a, b, _ = fit
    mix = MapPrior(tuple(float(v) for v in w), tuple(float(v) for v in a), tuple(float(v) for v in b),
                   ess_elir=math.nan, ess_moment=math.nan, ess_elir_logit=math.nan, mean=math.nan, sd=math.nan, probs=tuple(probs),
                   quantiles=(), exact_mean=math.nan, exact_sd=math.nan, exact_quantiles=(), kl=kl,
                   n_components=len(w))
    m = float(w @ (a / (a + b)))
    m2 = float(w @ (a * (a + 1) / ((a + b) * (a + b + 1))))
    exact_q = tuple(float(special.expit(v)) for v in result.posterior.ppf("theta_new", list(probs)))
    source = (f"{result.model}, k = {result.k}, tau prior {result.tau_prior.label}, mu prior {result.mu_prior.label}")
    return MapPrior(mix.weights, mix.a, mix.b, ess_elir=beta_mixture_ess(w, a, b, "elir"),
                    ess_moment=beta_mixture_ess(w, a, b, "moment"),
                    ess_elir_logit=beta_mixture_ess(w, a, b, "elir_logit"), mean=m, sd=math.sqrt(max(m2 - m * m, 0.0)),
                    probs=tuple(float(v) for v in probs), quantiles=tuple(mix.ppf(v) for v in probs),
                    exact_mean=float(result.theta_new.bt_mean), exact_sd=float(result.theta_new.bt_sd),
                    exact_quantiles=exact_q, kl=kl, n_components=len(w), source=source)

