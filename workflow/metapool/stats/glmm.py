"""Binomial-normal generalised linear mixed model for single-arm proportions.

The random-intercept logistic model (Stijnen, Hamza & Ozdemir 2010, model 1 for
one group; Hamza, van Houwelingen & Stijnen 2008):

    x_i | theta_i ~ Binomial(n_i, ilogit(theta_i)),   theta_i ~ N(beta, tau^2),

fitted by maximum likelihood, the marginal likelihood of each study being
integrated over its random effect by adaptive Gauss-Hermite quadrature
(Pinheiro & Bates 1995; Liu & Pierce 1994) with ``n_agq`` nodes. This is the
model metafor fits with ``rma.glmm(measure = "PLO", xi, ni, method = "ML")``,
which calls ``lme4::glmer(cbind(xi, ni - xi) ~ 1 + (1 | study),
family = binomial, nAGQ = 7)``. Unlike the two-step logit model
(``proportions.pool_proportions``) it needs no continuity correction: studies
with 0 or n events enter through their exact binomial likelihood.

References
----------
Stijnen T, Hamza TH, Ozdemir P. Random effects meta-analysis of event outcome
in the framework of the generalized linear mixed model with applications in
sparse data. Stat Med 2010;29:3046-3067.

Hamza TH, van Houwelingen HC, Stijnen T. The binomial distribution of
meta-analysis was preferred to model within-study variability. J Clin
Epidemiol 2008;61:41-51.

Pinheiro JC, Bates DM. Approximations to the log-likelihood function in the
nonlinear mixed-effects model. J Comput Graph Stat 1995;4:12-35.

Liu Q, Pierce DA. A note on Gauss-Hermite quadrature. Biometrika
1994;81:624-629.

Bates D, Maechler M, Bolker B, Walker S. Fitting linear mixed-effects models
using lme4. J Stat Softw 2015;67(1):1-48.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite import hermgauss
from scipy import special

from .effects import ilogit, z_crit
from .pooling import wald_pvalue

__all__ = ["GlmmResult", "glmm_proportions", "glmm_loglik"]

#: Largest tau (SD of the logits) searched; an optimum at this bound means the
#: likelihood keeps increasing with tau (e.g. studies with 0 and with n events
#: only) and the fit is reported as not converged.
TAU_MAX = 20.0
#: |beta| beyond which the intercept is taken to diverge (every study has 0
#: events, or every study has n events).
BETA_MAX = 30.0
#: A converged fit gets a note in ``message`` when the log-likelihood at the
#: estimate moves by more than this with ``2 * n_agq + 1`` quadrature points.
QUADRATURE_NOTE = 0.01


#: The note of every converged GLMM fit in a pooled row.
GLMM_NOTE = "binomial-normal GLMM (ML, Wald CI): no prediction interval, no I2 or Q"


@dataclass(frozen=True)
class GlmmResult:
    """Result of :func:`glmm_proportions`.

    ``estimate``, ``ci_lower`` and ``ci_upper`` are proportions (the
    inverse-logit of ``beta`` and of its Wald limits); ``beta`` and ``se`` are
    on the logit scale; ``tau2`` is the between-study variance of the logits.
    ``loglik`` is the maximised (quadrature-approximated) marginal
    log-likelihood including the binomial coefficients (``logLik()`` of the
    equivalent ``glm`` when ``tau2 = 0``). ``deviance`` is ``-2 (loglik - saturated binomial
    log-likelihood)``, the value of lme4's AGQ deviance function; for
    ``nAGQ > 1`` ``logLik()`` of the glmer fit is ``-deviance / 2`` (it leaves
    out the saturated log-likelihood; lme4 issue #161). When ``converged`` is false every number is NaN and
    ``message`` says why; a converged fit may carry a note there (the quadrature is coarse at the
    estimate).
    """

    estimate: float
    ci_lower: float
    ci_upper: float
    beta: float
    se: float
    tau2: float
    k: int
    converged: bool
    loglik: float
    deviance: float = math.nan
    level: float = 0.95
    n_agq: int = 7
    events: int = 0
    total: int = 0
    message: str = ""
    model: str = "GLMM (binomial-normal, ML, adaptive Gauss-Hermite quadrature)"

    @property
    def tau(self) -> float:
        return math.sqrt(self.tau2) if self.tau2 == self.tau2 else math.nan

    # the fields of metapool.stats.results.ROW_FIELDS that the GLMM does not estimate
    pi_lower = pi_upper = i2 = h2 = q = df = q_pvalue = coverage = math.nan
    weights = None

    @property
    def notes(self) -> tuple[str, ...]:
        """What the pooled row says of the fit: the model (no prediction interval, I^2 or Q) and a
        quadrature note, or why it did not converge."""
        if not self.converged:
            return (f"the GLMM did not converge: {self.message}",)
        return (GLMM_NOTE,) + ((self.message,) if self.message else ())

    @property
    def zval(self) -> float:
        """Wald z of the test for the overall effect, ``beta / se`` on the logit scale (metafor's ``zval``)."""
        return self.beta / self.se

    @property
    def ddf(self) -> float:
        """Degrees of freedom of ``zval``: NaN (the GLMM's test is z)."""
        return math.nan

    @property
    def pval(self) -> float:
        """Two-sided normal p-value of ``zval`` (:func:`~metapool.stats.pooling.wald_pvalue`)."""
        return wald_pvalue(self.zval, math.nan, False)

    def __str__(self) -> str:
        from .printing import format_glmm

        return format_glmm(self)

    def summary(self) -> str:
        """A block like metafor's ``print.rma.glmm``."""
        return str(self)

    @property
    def ci_beta(self) -> tuple[float, float]:
        """Wald limits on the logit scale."""
        z = z_crit(self.level)
        return self.beta - z * self.se, self.beta + z * self.se

    def summary_frame(self):
        """A one-row ``pandas.DataFrame`` of the fit."""
        import pandas as pd

        lo, hi = self.ci_beta
        return pd.DataFrame([{
            "model": self.model,
            "k": self.k,
            "events": self.events,
            "total": self.total,
            "estimate": self.estimate,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
            "level": self.level,
            "beta": self.beta,
            "se": self.se,
            "ci_lower_logit": lo,
            "ci_upper_logit": hi,
            "tau2": self.tau2,
            "tau": self.tau,
            "loglik": self.loglik,
            "deviance": self.deviance,
            "n_agq": self.n_agq,
            "converged": self.converged,
            "message": self.message,
        }])


# ---------------------------------------------------------------------------
# Marginal likelihood by adaptive Gauss-Hermite quadrature
# ---------------------------------------------------------------------------

def _check_counts(events, totals) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(events, dtype=float).ravel()
    n = np.asarray(totals, dtype=float).ravel()
    if x.shape != n.shape:
        raise ValueError("events and totals must have the same length")
    if x.size == 0:
        raise ValueError("no studies")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(n))):
        raise ValueError("events and totals must be finite")
    if np.any(x != np.round(x)) or np.any(n != np.round(n)):
        raise ValueError("events and totals must be whole numbers")
    if np.any(x < 0) or np.any(x > n) or np.any(n <= 0):
        raise ValueError("need 0 <= events <= totals and totals > 0")
    return x, n


def _log1pexp(eta):
    """``log(1 + exp(eta))`` without overflow."""
    return np.logaddexp(0.0, eta)


def _maximise_concave(z, h, newton_step, tol):
    """Elementwise maximum of the strictly concave ``h`` by Newton's method from ``z``: each step
    ``newton_step(z)`` (the gradient over the negative curvature), halved (up to 60 times) where it does not
    increase ``h``, until every step is at most ``tol (1 + |z|)`` (200 steps at most)."""
    hz = h(z)
    for _ in range(200):
        step = newton_step(z)
        new = z + step
        hn = h(new)
        bad = hn < hz - 1e-12 * (1.0 + np.abs(hz))
        halvings = 0
        while np.any(bad) and halvings < 60:
            step = np.where(bad, 0.5 * step, step)
            new = z + step
            hn = h(new)
            bad = hn < hz - 1e-12 * (1.0 + np.abs(hz))
            halvings += 1
        z, hz = new, hn
        if np.all(np.abs(step) <= tol * (1.0 + np.abs(z))):
            break
    return z


def _conditional_modes(x, n, beta, tau, u0=None):
    """Modes of ``h(u) = x*eta - n*log(1+e^eta) - u^2/2`` with ``eta = beta + tau*u``.

    ``h`` is strictly concave, so Newton's method (with step halving as a
    safeguard) converges; this is lme4's penalised iteratively reweighted least
    squares for a scalar random effect. Returns ``(u, curvature)`` with
    ``curvature = -h''(u) = tau^2 n p (1 - p) + 1``.
    """
    u = np.zeros_like(x) if u0 is None else np.array(u0, dtype=float)

    def h(uu):
        eta = beta + tau * uu
        return x * eta - n * _log1pexp(eta) - 0.5 * uu * uu

    def newton_step(uu):
        p = special.expit(beta + tau * uu)
        return (tau * (x - n * p) - uu) / (tau * tau * n * p * (1.0 - p) + 1.0)

    u = _maximise_concave(u, h, newton_step, 1e-12)
    p = special.expit(beta + tau * u)
    curv = tau * tau * n * p * (1.0 - p) + 1.0
    return u, curv


def _loglik_terms(x, n, beta, tau, nodes, weights, lbinom, u0=None):
    """Per-study log marginal likelihoods (AGQ approximation); ``u0`` starts Newton's method for the modes."""
    u, curv = _conditional_modes(x, n, beta, tau, u0)
    s = np.sqrt(2.0 / curv)                       # sqrt(2) * conditional SD
    # abscissae on a last axis: k x q for scalar (beta, tau); k x M x q when x, n are k x 1 columns and
    # beta, tau are 1 x M rows (metapool.stats.bayes evaluates many (beta, tau) at once)
    uq = u[..., None] + s[..., None] * nodes
    eta = np.asarray(beta)[..., None] + np.asarray(tau)[..., None] * uq
    hq = x[..., None] * eta - n[..., None] * _log1pexp(eta) - 0.5 * uq * uq
    # integral of exp(h) du ~= s * sum_j w_j exp(h(u_j) + t_j^2)
    a = hq + nodes ** 2
    amax = a.max(axis=-1)
    log_int = amax + np.log(np.sum(weights * np.exp(a - amax[..., None]), axis=-1))
    return lbinom + np.log(s) - 0.5 * math.log(2.0 * math.pi) + log_int


def _loglik_terms_theta(x, n, beta, tau, nodes, weights, lbinom):
    """:func:`_loglik_terms` on the scale theta = beta + tau u, for tau > 0 (the same rule: the nodes map
    linearly, so the same number up to rounding). For tau >> 1 and |beta| >> 1 (a Bayesian posterior's
    far tail) ``beta + tau u`` cancels to nothing and Newton from u = 0 stalls; here the mode solves
    ``x - n p - (theta - beta) / tau^2 = 0``, started at the precision-weighted mean of the empirical
    logit (x + 1/2 correction) and beta, with step halving (the objective is strictly concave)."""
    beta = np.asarray(beta, dtype=float)
    tau = np.asarray(tau, dtype=float)
    yl = np.log((x + 0.5) / (n - x + 0.5))
    a = n * special.expit(yl) * special.expit(-yl)
    prec = 1.0 / (tau * tau)
    th = (a * yl + beta * prec) / (a + prec)

    def g(t):
        d = (t - beta) / tau
        return x * t - n * _log1pexp(t) - 0.5 * d * d

    def newton_step(t):
        p = special.expit(t)
        return (x - n * p - (t - beta) * prec) / (n * p * (1.0 - p) + prec)

    th = _maximise_concave(th, g, newton_step, 1e-13)
    p = special.expit(th)
    s = np.sqrt(2.0 / (n * p * (1.0 - p) + prec))
    tq = th[..., None] + s[..., None] * nodes
    d = (tq - beta[..., None]) / tau[..., None]
    hq = x[..., None] * tq - n[..., None] * _log1pexp(tq) - 0.5 * d * d
    a = hq + nodes ** 2
    amax = a.max(axis=-1)
    log_int = amax + np.log(np.sum(weights * np.exp(a - amax[..., None]), axis=-1))
    return lbinom + np.log(s) - np.log(tau) - 0.5 * math.log(2.0 * math.pi) + log_int


def _binom_const(x, n):
    return special.gammaln(n + 1.0) - special.gammaln(x + 1.0) - special.gammaln(n - x + 1.0)


# ---------------------------------------------------------------------------
# Exact likelihood of a study with 0 or n events (for the Bayesian posterior's far tau tail)
# ---------------------------------------------------------------------------

#: Gauss-Legendre order of each panel of :class:`BoundaryLikelihood`'s window.
_BOUNDARY_GL = 10
_GH41 = hermgauss(41)


class BoundaryLikelihood:
    """Marginal likelihood of a study with ``x = 0`` (or ``x = n``) events out of ``n``, exact for every tau.

    For ``x = 0``, ``L(mu, tau) = E[(1 + e^theta)^-n]`` with ``theta ~ N(mu, tau^2)``; ``x = n`` is the same with
    ``theta -> -theta``, ``mu -> -mu``. The integrand is a step (from 1 to ``e^(-n theta)``, about
    ``[-log n, log n]`` wide) inside a normal density of width tau, and adaptive Gauss-Hermite quadrature
    (:func:`_loglik_terms`) converges slowly once tau >~ 2 (the GLMM fit keeps it: its tau stays where the
    bump is resolved and it matches lme4's rule). Here, with split points ``s1 = -log n - 1`` and
    ``s2 = log n + 1``,

        (1 + e^theta)^-n = 1{theta < s1} + e^(-n theta) 1{theta > s2} + c(theta),

    so that

        L = Phi((s1 - mu) / tau) + e^(-n mu + n^2 tau^2 / 2) Phi((mu - n tau^2 - s2) / tau)
            + ∫ c(theta) phi(theta; mu, tau^2) dtheta,

    where ``|c| <= n e^theta`` left of ``s1`` and ``|c| <= n e^-theta e^(-n theta)`` right of ``s2``. ``c`` is cut
    to the window ``[s1 - 32, s2 + 32]`` (the part left out is below ``e^-31`` of the first two terms, each of
    which is at most ``e`` times L) and integrated by a fixed composite Gauss-Legendre rule (10 nodes a panel)
    on panels that halve towards the jumps of ``c`` at ``s1`` and ``s2`` (where the normal density may be steep)
    and are at most ``2 / sqrt(n p (1 - p))`` wide in the step. The weights times ``c`` at the nodes are
    computed once per study; only the normal density varies with ``(mu, tau)``. All terms are summed on the
    log scale (``special.log_ndtr``, ``special.erfcx`` for the second term, whose two factors overflow and
    underflow for tau >> 1). The rule needs the normal density to vary slowly over a panel, so
    :meth:`loglik` uses it where tau > 1; below, adaptive Gauss-Hermite quadrature with 41 nodes, which agrees
    with ``scipy.integrate.quad`` to 1e-12 there (the step is then wider than the normal density). Hand-written:
    scipy has no binomial-normal (logit-normal) integral.

    Parameters
    ----------
    n : int
        The study's total (> 0).
    """

    def __init__(self, n: float):
        n = float(n)
        self.n = n
        s1, s2 = -math.log(n) - 1.0, math.log(n) + 1.0
        self.s1, self.s2 = s1, s2
        h0 = 8.0 / (n + 80.0)
        edges = set()
        # left piece [s1 - 32, s1] and right piece [s2, s2 + 32]: halving towards s1, s2, then width 1
        for start, sign in ((s1, -1.0), (s2, 1.0)):
            d, h = 0.0, h0
            while d < 32.0:
                edges.add(start + sign * d)
                d = min(d + h, 32.0)
                h = min(2.0 * h, 2.0)
            edges.add(start + sign * 32.0)
        # the step [s1, s2]: halving from both ends, and at most 2 / sqrt(n p (1 - p)) wide
        t = s1
        lo_d = h0
        mid = [s1]
        while t < s2:
            p = special.expit(t)
            h = min(1.0, 2.0 / math.sqrt(n * p * (1.0 - p)), lo_d, max(s2 - t, 0.0))
            lo_d = 2.0 * lo_d
            t = min(t + h, s2)
            mid.append(t)
        # refine towards s2 as towards s1
        d, h = 0.0, h0
        while d < 0.5 * (s2 - s1):
            mid.append(s2 - d)
            d += h
            h = 2.0 * h
        edges.update(mid)
        e = np.array(sorted(edges))
        e = e[np.concatenate([[True], np.diff(e) > 1e-12])]
        z, w = np.polynomial.legendre.leggauss(_BOUNDARY_GL)
        a, b = e[:-1, None], e[1:, None]
        th = (0.5 * (a + b) + 0.5 * (b - a) * z).ravel()
        wt = (0.5 * (b - a) * w).ravel()
        # log |c| and its sign at the nodes, each piece by its own formula (no overflow, no cancellation)
        lc = np.empty_like(th)
        sign = np.where((th >= s1) & (th <= s2), 1.0, -1.0)
        lf = -n * _log1pexp(th)                                   # log (1 + e^theta)^-n
        left, right = th < s1, th > s2
        mid_ = ~left & ~right
        lc[left] = np.log(-np.expm1(lf[left]))                    # 1 - f
        lc[mid_] = lf[mid_]                                       # f
        # e^(-n theta) - f = e^(-n theta) (1 - (1 + e^-theta)^-n)
        lc[right] = -n * th[right] + np.log(-np.expm1(-n * _log1pexp(-th[right])))
        keep = np.isfinite(lc)
        self.theta = th[keep]
        self.log_wc = np.log(wt[keep]) + lc[keep]
        self.sign = sign[keep]

    def loglik(self, mu, tau, flip: bool = False):
        """``log L(mu, tau)`` of a 0/n study (``flip``: of an n/n study).

        Parameters
        ----------
        mu, tau : array_like
            Mean and SD (> 0) of theta, broadcast together.
        flip : bool
            The study has n events (not 0).

        Returns
        -------
        numpy.ndarray
            ``log L``: by the window rule where tau > 1, by adaptive Gauss-Hermite quadrature with 41 nodes
            (:func:`_loglik_terms`) where tau <= 1.
        """
        mu, tau = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(tau, dtype=float))
        if flip:
            mu = -mu
        out = np.empty(mu.shape)
        small = tau <= 1.0
        if np.any(small):
            # Newton for the mode on the u scale started at the precision-weighted mean of mu and the empirical
            # logit (1/2 correction), as _loglik_terms_theta (from u = 0 it stalls where e^mu saturates, mu >> 1)
            m, t = mu[small], tau[small]
            yl = -math.log(self.n + 0.5) - math.log(2.0)   # log(0.5 / (n + 0.5))
            a = self.n * special.expit(yl) * special.expit(-yl)
            u0 = a * (yl - m) * t / (a * t * t + 1.0)       # (theta0 - mu) / tau
            out[small] = _loglik_terms(np.zeros(1), np.full(1, self.n), m[None, :], t[None, :], *_GH41, 0.0,
                                       u0=u0[None, :])[0]
        if np.any(~small):
            out[~small] = self._window(mu[~small], tau[~small])
        return out

    def _window(self, mu, tau):
        """``log L`` of a 0/n study for 1-d arrays mu, tau (> 1) by the identity of the class docstring."""
        n, s1, s2 = self.n, self.s1, self.s2
        # the Phi terms
        t1 = special.log_ndtr((s1 - mu) / tau)
        z2 = (s2 - mu) / tau
        aa = n * tau + z2                          # e^(...) Phi(-aa) = e^(-n s2) phi(z2) sqrt(2 pi) Phi(-aa)/phi(aa)
        with np.errstate(over="ignore", invalid="ignore"):
            t2 = np.where(aa > 0.0,
                          -n * s2 - 0.5 * z2 * z2 + np.log(0.5 * special.erfcx(np.maximum(aa, 0.0) / math.sqrt(2.0))),
                          -n * mu + 0.5 * (n * tau) ** 2 + special.log_ndtr(-np.minimum(aa, 0.0)))
        # the window: log phi(theta_j) relative to theta = 0, -z0 d / tau - d^2 / (2 tau^2) with z0 = -mu / tau
        z0 = -mu / tau
        lphi0 = -0.5 * z0 * z0 - np.log(tau) - 0.5 * math.log(2.0 * math.pi)
        d = self.theta
        q = (-z0 / tau)[..., None] * d - 0.5 * d * d / (tau * tau)[..., None] + self.log_wc
        m = np.maximum(np.maximum(t1, t2), lphi0 + q.max(axis=-1))
        tot = np.exp(t1 - m) + np.exp(t2 - m) + np.sum(self.sign * np.exp(q + (lphi0 - m)[..., None]), axis=-1)
        return m + np.log(tot)


@functools.lru_cache(maxsize=256)
def boundary_likelihood(n: float) -> BoundaryLikelihood:
    """The :class:`BoundaryLikelihood` of a study of ``n`` (its rule is built once per ``n``)."""
    return BoundaryLikelihood(n)


def glmm_loglik(events, totals, beta: float, tau: float, *, n_agq: int = 7) -> float:
    """Marginal log-likelihood of the binomial-normal model at ``(beta, tau)``.

    ``sum_i log integral Binomial(x_i; n_i, ilogit(beta + tau u)) phi(u) du``,
    each integral approximated by adaptive Gauss-Hermite quadrature with
    ``n_agq`` nodes centred at the conditional mode of ``u`` and scaled by its
    conditional standard deviation (Pinheiro & Bates 1995; Liu & Pierce 1994,
    Biometrika 81:624-629). With ``n_agq = 1`` this is the Laplace
    approximation. It equals the saturated binomial log-likelihood minus half
    lme4's stage-2 deviance function for ``glmer(..., nAGQ = n_agq)`` at
    ``c(theta = tau, beta)``. At ``tau = 0`` it is the binomial
    log-likelihood, exactly.
    """
    x, n = _check_counts(events, totals)
    nodes, weights = hermgauss(int(n_agq))
    return float(np.sum(_loglik_terms(x, n, float(beta), float(tau), nodes, weights, _binom_const(x, n))))


# ---------------------------------------------------------------------------
# Fit
# ---------------------------------------------------------------------------

class _Model:
    """Log-likelihood of the binomial-normal model and its analytic gradient."""

    def __init__(self, x, n, n_agq):
        self.x, self.n = x, n
        self.nodes, self.weights = hermgauss(int(n_agq))
        self.logw = np.log(self.weights)
        self.lbinom = _binom_const(x, n)
        self._u = None

    def loglik(self, beta, tau):
        return float(np.sum(_loglik_terms(self.x, self.n, beta, tau, self.nodes, self.weights, self.lbinom)))

    def loglik_grad(self, beta, tau):
        """``(loglik, d loglik / d(beta, tau))``; the modes and scales of the
        quadrature move with the parameters and are differentiated implicitly."""
        x, n, t = self.x, self.n, self.nodes
        m, curv = _conditional_modes(x, n, beta, tau, self._u)
        self._u = m
        p = special.expit(beta + tau * m)
        v = p * (1.0 - p)
        r = x - n * p
        # implicit derivatives of the mode m(beta, tau): tau * r(m) - m = 0
        m_b = -tau * n * v / curv
        m_t = (r - tau * n * v * m) / curv
        # curvature tau^2 n v(eta_m) + 1 and scale s = sqrt(2 / curv)
        dv = v * (1.0 - 2.0 * p)
        c_b = tau * tau * n * dv * (1.0 + tau * m_b)
        c_t = 2.0 * tau * n * v + tau * tau * n * dv * (m + tau * m_t)
        s = np.sqrt(2.0 / curv)
        s_b = -0.5 * s * c_b / curv
        s_t = -0.5 * s * c_t / curv
        uq = m[:, None] + s[:, None] * t[None, :]
        eta = beta + tau * uq
        pq = special.expit(eta)
        rq = x[:, None] - n[:, None] * pq
        g = x[:, None] * eta - n[:, None] * _log1pexp(eta) - 0.5 * uq * uq + t[None, :] ** 2 + self.logw[None, :]
        gmax = g.max(axis=1)
        e = np.exp(g - gmax[:, None])
        se = e.sum(axis=1)
        pi = e / se[:, None]
        hprime = tau * rq - uq
        dg_b = rq + hprime * (m_b[:, None] + t[None, :] * s_b[:, None])
        dg_t = uq * rq + hprime * (m_t[:, None] + t[None, :] * s_t[:, None])
        ll = self.lbinom + np.log(s) - 0.5 * math.log(2.0 * math.pi) + gmax + np.log(se)
        grad_b = s_b / s + np.sum(pi * dg_b, axis=1)
        grad_t = s_t / s + np.sum(pi * dg_t, axis=1)
        return float(ll.sum()), np.array([grad_b.sum(), grad_t.sum()])

    def hessian(self, beta, tau, d=1e-5, g0=None):
        """Hessian of the log-likelihood in ``(beta, tau)``: central differences
        of the analytic gradient (the log-likelihood is even in tau, so this is
        valid at tau = 0 too); forward differences from ``g0`` (the gradient at
        the point) when it is given, which is enough to steer Newton's method."""
        h = np.empty((2, 2))
        for j, (db, dt) in enumerate(((d, 0.0), (0.0, d))):
            gp = self.loglik_grad(beta + db, tau + dt)[1]
            if g0 is None:
                gm = self.loglik_grad(beta - db, tau - dt)[1]
                h[:, j] = (gp - gm) / (2.0 * d)
            else:
                h[:, j] = (gp - g0) / d
        return 0.5 * (h + h.T)

    def fit_beta(self, tau, beta):
        """argmax over beta at fixed tau (Newton on the analytic score)."""
        for _ in range(100):
            g = self.loglik_grad(beta, tau)[1][0]
            d = 1e-5
            hbb = (self.loglik_grad(beta + d, tau)[1][0] - self.loglik_grad(beta - d, tau)[1][0]) / (2 * d)
            if not (hbb < 0):
                break
            step = max(-2.0, min(2.0, -g / hbb))
            beta += step
            if abs(step) < 1e-12 * (1.0 + abs(beta)):
                return beta, True
        return beta, False

    def fit(self, beta0, tau0, max_iter=200):
        """Maximise over (beta, tau) from one start by damped Newton.

        The log-likelihood is even in tau (``u -> -u``), so tau is left free on
        the real line and ``|tau|`` returned: the bound ``tau >= 0`` needs no
        special handling and a maximum at ``tau = 0`` is reached like any
        other (the iterates then shrink to 0 faster than linearly). Where the
        Hessian is not negative definite it is shifted (Levenberg-Marquardt);
        every step is halved until the log-likelihood does not decrease.
        Returns ``(beta, |tau|, loglik, converged)``.
        """
        beta, tau = float(beta0), float(tau0)
        ll, g = self.loglik_grad(beta, tau)
        for _ in range(max_iter):
            h = self.hessian(beta, tau, d=1e-6, g0=g)
            a = -h
            lam_min = float(np.linalg.eigvalsh(a)[0])
            if not np.isfinite(lam_min):
                return beta, abs(tau), ll, False
            if lam_min <= 1e-8 * max(1.0, float(np.max(np.abs(np.diag(a))))):
                a = a + (abs(lam_min) + 1e-3 * (1.0 + float(np.max(np.abs(np.diag(a)))))) * np.eye(2)
                newton = False
            else:
                newton = True
            step = np.linalg.solve(a, g)
            if newton and float(g @ step) < 1e-20:
                return beta, abs(tau), ll, True        # Newton decrement ~ 0
            big = float(np.max(np.abs(step)))
            if big > 2.0:
                step *= 2.0 / big
            for _ in range(60):
                nb, nt = beta + step[0], tau + step[1]
                nll, ng = self.loglik_grad(nb, nt)
                if np.isfinite(nll) and nll >= ll - 1e-12 * (1.0 + abs(ll)):
                    break
                step *= 0.5
            else:
                return beta, abs(tau), ll, False
            beta, tau, ll, g = nb, nt, nll, ng
            if abs(tau) > TAU_MAX or abs(beta) > BETA_MAX + 10.0:
                return beta, abs(tau), ll, False
            if float(np.max(np.abs(step))) < 1e-13 * (1.0 + abs(beta) + abs(tau)):
                return beta, abs(tau), ll, True
        return beta, abs(tau), ll, False


def _start(x, n):
    """Starting values: inverse-variance mean and DerSimonian-Laird tau of the
    logits (1/2 added to studies with 0 or n events)."""
    cc = np.where((x == 0) | (x == n), 0.5, 0.0)
    yi = np.log((x + cc) / (n - x + cc))
    vi = 1.0 / (x + cc) + 1.0 / (n - x + cc)
    w = 1.0 / vi
    mu = np.sum(w * yi) / w.sum()
    q = np.sum(w * (yi - mu) ** 2)
    tau2 = max(0.0, (q - (x.size - 1)) / (w.sum() - np.sum(w * w) / w.sum()))
    return float(mu), float(math.sqrt(tau2))


def _not_converged(k, level, n_agq, x, n, message) -> GlmmResult:
    nan = math.nan
    return GlmmResult(estimate=nan, ci_lower=nan, ci_upper=nan, beta=nan, se=nan, tau2=nan, k=k,
                      converged=False, loglik=nan, deviance=nan, level=level, n_agq=n_agq,
                      events=int(x.sum()), total=int(n.sum()), message=message)


def glmm_proportions(events, totals, level: float = 0.95, *, n_agq: int = 7) -> GlmmResult:
    """Pool single-arm proportions with the binomial-normal GLMM (random-intercept logistic model).

    Stijnen T, Hamza TH, Ozdemir P. Stat Med 2010;29:3046-3067: the exact
    binomial within-study likelihood, normal random effects on the logit
    scale, maximum likelihood. The marginal likelihood is approximated by
    adaptive Gauss-Hermite quadrature with ``n_agq`` nodes (Pinheiro & Bates,
    J Comput Graph Stat 1995;4:12-35), as ``lme4::glmer(cbind(x, n - x) ~ 1 +
    (1 | study), family = binomial, nAGQ = 7)`` called by metafor's
    ``rma.glmm(measure = "PLO", xi, ni, method = "ML")``.

    ``(beta, tau)`` maximise the approximated likelihood subject to
    ``tau >= 0`` (lme4's bound ``theta >= 0``). ``tau2 = 0`` is a valid
    boundary estimate; the model then reduces to the fixed-effect logistic
    model (glm). ``se`` is the beta element of the inverse observed
    information of the marginal likelihood in ``(tau, beta)``, which is what
    ``vcov()`` of a ``glmer`` fit (and so ``rma.glmm``) reports (lme4 inverts
    a finite-difference Hessian of its deviance function; here the Hessian is
    central differences of the analytic score). The CI is Wald with the
    normal quantile (``test = "z"``), back-transformed by the inverse logit.

    Needs k >= 2 studies (as glmer). When the maximum is not attained
    (every study has 0 events, or every study has all events, so beta
    diverges; or the likelihood keeps increasing with tau, e.g. studies with
    0 or all events only) the result has ``converged=False``, NaN numbers and
    a ``message``: never a number on the way to infinity (glmer returns one,
    with tau2 in the tens of thousands).
    """
    x, n = _check_counts(events, totals)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n_agq = int(n_agq)
    if n_agq < 1:
        raise ValueError("n_agq must be >= 1")
    k = int(x.size)
    if k < 2:
        raise ValueError("the GLMM needs at least 2 studies (glmer: grouping factor must have > 1 level)")
    if np.all(x == 0):
        return _not_converged(k, level, n_agq, x, n, "every study has 0 events: the ML estimate of the "
                              "logit diverges to -Inf")
    if np.all(x == n):
        return _not_converged(k, level, n_agq, x, n, "every study has all events: the ML estimate of the "
                              "logit diverges to +Inf")

    m = _Model(x, n, n_agq)
    mu0, tau0 = _start(x, n)
    # fixed-effect (tau = 0) fit: the boundary candidate
    b_fe, ok = m.fit_beta(0.0, float(special.logit(x.sum() / n.sum())))
    ll_fe = m.loglik(b_fe, 0.0) if ok else -math.inf
    # interior candidates from a few starts (the profile in tau is usually
    # unimodal; several starts guard against a local maximum)
    best = (b_fe, 0.0, ll_fe)
    ll_diverged = -math.inf
    for t0 in sorted({max(tau0, 0.05), 0.3, 1.5}):
        b, t, ll, ok = m.fit(mu0, t0)
        if ok and ll > best[2] + 1e-10:
            best = (b, t, ll)
        elif not ok and t > TAU_MAX:
            ll_diverged = max(ll_diverged, ll)
    beta, tau, ll = best
    if ll_diverged > ll:
        return _not_converged(k, level, n_agq, x, n, "the likelihood keeps increasing with tau (tau > "
                              f"{TAU_MAX:g} on the logit scale): no finite ML estimate of tau2")
    if tau < 1e-5 and ll_fe >= ll - 1e-9:
        # lme4's check.boundary: a theta within 1e-5 of 0 is set to 0 when that is no worse
        beta, tau, ll = b_fe, 0.0, ll_fe
    if not (np.isfinite(beta) and np.isfinite(ll)) or abs(beta) > BETA_MAX:
        return _not_converged(k, level, n_agq, x, n, "the ML estimate of the logit diverges")
    # a maximum: the Newton decrement g' (-H)^-1 g vanishes; at tau = 0 the
    # score in tau is 0 by symmetry and the curvature in tau must be <= 0
    _, g = m.loglik_grad(beta, tau)
    h = m.hessian(beta, tau)
    if tau > 0:
        try:
            dec = float(g @ np.linalg.solve(-h, g))
        except np.linalg.LinAlgError:
            dec = math.inf
    else:
        dec = g[0] ** 2 / -h[0, 0] if h[0, 0] < 0 else math.inf
        if h[1, 1] > 1e-6 * (1.0 + abs(h[0, 0])):
            dec = math.inf
    if not (abs(dec) < 1e-8):
        return _not_converged(k, level, n_agq, x, n, "the optimiser stopped away from a maximum "
                              f"(score {g[0]:.3g}, {g[1]:.3g})")

    # how good is the quadrature at the estimate? (a note, not a failure: glmer uses the same rule)
    message = ""
    if tau > 0:
        finer = float(np.sum(_loglik_terms(x, n, beta, tau, *hermgauss(2 * n_agq + 1), m.lbinom)))
        if abs(finer - ll) > QUADRATURE_NOTE:
            message = (f"note: the {n_agq}-point quadrature is coarse here (the log-likelihood at the "
                       f"estimate changes by {finer - ll:.2g} with {2 * n_agq + 1} points)")

    se = _se_beta(h)
    if not np.isfinite(se) or se <= 0:
        return _not_converged(k, level, n_agq, x, n, "the observed information is singular")
    z = z_crit(level)
    ll_sat = float(np.sum(_binom_sat(x, n)))
    return GlmmResult(
        estimate=float(ilogit(beta)),
        ci_lower=float(ilogit(beta - z * se)),
        ci_upper=float(ilogit(beta + z * se)),
        beta=float(beta), se=float(se), tau2=float(tau * tau), k=k, converged=True, loglik=float(ll),
        deviance=float(-2.0 * (ll - ll_sat)), level=level, n_agq=n_agq, events=int(x.sum()),
        total=int(n.sum()), message=message,
    )


def _binom_sat(x, n):
    """Per-study saturated binomial log-likelihood ``log dbinom(x; n, x/n)``."""
    p = x / n
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(x > 0, x * np.log(p), 0.0)
        t2 = np.where(x < n, (n - x) * np.log1p(-p), 0.0)
    return _binom_const(x, n) + t1 + t2


def _se_beta(h) -> float:
    """SE of beta from the inverse of the observed information ``-h`` in ``(beta, tau)``.

    At ``tau = 0`` the cross term vanishes (the likelihood is even in tau) and
    this is the fixed-effect logistic SE. If the information is not positive
    definite the SE given tau, ``1/sqrt(-d2l/dbeta2)``, is used (lme4 then
    falls back to its RX-based variance, the same quantity up to the Laplace
    approximation).
    """
    info = -np.asarray(h)
    if info[0, 0] > 0 and info[1, 1] > 0 and np.linalg.det(info) > 0:
        return float(math.sqrt(np.linalg.inv(info)[0, 0]))
    if info[0, 0] > 0:
        return float(math.sqrt(1.0 / info[0, 0]))
    return math.nan
