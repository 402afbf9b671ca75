"""metapool.stats.bayes against numbers printed by the R packages' authors (not computed by us).

* bayesmeta: Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
  J Stat Softw 93(6), sec. 3.2-3.3, the Crins et al. (2014) example ``ma01`` (log odds ratios of acute
  rejection, IL-2RA vs control in paediatric liver transplantation; mu ~ N(0, 4^2), tau ~ half-normal(0.5)).
  Source: the paper as shipped in the bayesmeta package (CRAN bayesmeta 3.4,
  inst/doc/Roever2020-bayesmeta.pdf, pp. 19-28; https://doi.org/10.18637/jss.v093.i06).
  Data: Table 3 of the paper and bayesmeta's data/CrinsEtAl2014.R (exp.AR.events, exp.total,
  cont.AR.events, cont.total, rows in the order of Table 3).
  bayesmeta integrates the tau marginal with integrate(): tau's numbers are compared at their printed
  precision (7 significant digits; the paper prints the 95% upper limit twice, 0.8607305 and 0.8607193,
  so that one to 2e-5). mu, theta_new and theta_i come from the DIRECT mixture (Röver & Friede 2017),
  whose error is ~1e-4 (the paper's two printings of mu's median differ: -1.5734823 and -1.5734819);
  they are compared to 1e-3 relative, the precision that the DIRECT algorithm delivers (as for the
  eight-schools example in test_bayes.py).
* RBesT: the introduction vignette of RBesT 1.8-2 (CRAN, inst/doc/introduction.html, section
  "Effective Sample Size" and "Robustification of the MAP Prior"), the ankylosing spondylitis MAP
  prior printed as a beta mixture, and ``round(ess(map, method = "elir"))`` = 37,
  ``round(ess(map, method = "moment"))`` = 26, ``round(ess(map_robust))`` = 26: compared after rounding,
  the printed precision.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from metapool.stats.bayes import MuPrior, TauPrior, bayes_normal, beta_mixture_ess

# Crins et al. (2014), Table 3 of Röver (2020): IL-2RA events/total, control events/total
CRINS = dict(study=["Heffron 2003", "Gibelli 2004", "Schuller 2005", "Ganschow 2005", "Spada 2006", "Gras 2008"],
             ai=[14, 16, 3, 9, 4, 0], n1=[61, 28, 18, 54, 36, 50], ci=[15, 19, 8, 29, 11, 3], n2=[20, 28, 12, 54, 36, 34])
# printed log-ORs and standard errors (Table 3, two decimals)
CRINS_Y = [-2.31, -0.46, -2.30, -1.76, -1.26, -2.42]
CRINS_SE = [0.60, 0.56, 0.88, 0.46, 0.64, 1.53]


def _crins_es():
    """escalc(measure = "OR"): log odds ratio, with 1/2 added to every cell of a table with a zero."""
    a, c = np.array(CRINS["ai"], float), np.array(CRINS["ci"], float)
    b, d = np.array(CRINS["n1"], float) - a, np.array(CRINS["n2"], float) - c
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    a, b, c, d = (v + 0.5 * zero for v in (a, b, c, d))
    return np.log(a * d / (b * c)), np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)


def _round_sig(x, sig):
    return float(f"{x:.{sig}g}")


@pytest.fixture(scope="module")
def ma01():
    y, se = _crins_es()
    return bayes_normal(y, se, TauPrior.half_normal(0.5), MuPrior.normal(0.0, 4.0), level=0.95, thresholds=[0.0])


def test_crins_effect_sizes_as_printed():
    y, se = _crins_es()
    assert np.round(y, 2).tolist() == CRINS_Y
    assert np.round(se, 2).tolist() == CRINS_SE
    # ma01$theta prints y and sigma of the first two studies to 7 decimals
    assert np.round(y[:2], 7).tolist() == [-2.3097026, -0.4595323]
    assert np.round(se[:2], 7).tolist() == [0.5994763, 0.5563956]


def test_crins_tau_at_printed_precision(ma01):
    """ma01$summary, 1 - pposterior(tau = 1), qposterior(tau.p = 0.99), post.interval(tau.level = 0.99)."""
    t = ma01.tau
    assert _round_sig(t.median, 7) in (0.3445022, 0.3445023)  # printed both ways (print and $summary)
    assert _round_sig(t.mean, 7) == 0.3810562
    assert _round_sig(t.sd, 7) == 0.2593672
    assert t.hpd_lower == 0.0
    assert t.hpd_upper == pytest.approx(0.8607193, rel=2e-5)  # printed 0.8607305 and 0.8607193
    post = ma01.posterior
    assert _round_sig(1 - post.tau_cdf(1.0), 7) == 0.02097488
    assert _round_sig(post.tau_ppf(0.99), 7) == 1.109186
    assert _round_sig(post.tau_ppf(0.005), 7) == 0.003547657
    assert _round_sig(post.tau_ppf(0.995), 7) == 1.205401


def test_crins_mu_and_prediction_at_direct_precision(ma01):
    """ma01$summary columns mu and theta, 1 - pposterior(mu = 0), ma01$theta[, 1:2]: 1e-3 relative
    (bayesmeta's DIRECT mixture; the paper's two printings of mu differ in the 7th digit)."""
    rel = 1e-3
    mu, new = ma01.mu, ma01.theta_new
    for ours, printed in ((mu.median, -1.5734819), (mu.mean, -1.5764365), (mu.sd, 0.3295301),
                          (mu.hpd_lower, -2.2311251), (mu.hpd_upper, -0.9263075),
                          (new.median, -1.5701653), (new.mean, -1.5764365)):
        assert ours == pytest.approx(printed, rel=rel)
    # the printed predictive sd 0.5671855 is itself 1.0e-3 from sqrt(sd_mu^2 + E tau^2) of the printed
    # columns (sqrt(0.3295301^2 + 0.2593672^2 + 0.3810562^2) = 0.566626): DIRECT's error, hence 2e-3
    assert math.sqrt(0.3295301 ** 2 + 0.2593672 ** 2 + 0.3810562 ** 2) == pytest.approx(0.566626, abs=1e-6)
    assert new.sd == pytest.approx(0.5671855, rel=2e-3)
    assert new.sd == pytest.approx(math.sqrt(mu.sd ** 2 + ma01.tau.sd ** 2 + ma01.tau.mean ** 2), rel=1e-9)
    # the predictive interval [-2.7661319, -0.4072970] ($summary; Figure 2 prints [-2.77, -0.41]) inherits the
    # predictive sd's DIRECT error: 1.6e-3 here, so that the lower limit rounds to -2.76 (not compared at 2 dp)
    assert (round(mu.hpd_lower, 2), round(mu.hpd_upper, 2), round(mu.median, 2)) == (-2.23, -0.93, -1.57)
    assert new.hpd_lower == pytest.approx(-2.7661319, abs=2e-3)
    assert new.hpd_upper == pytest.approx(-0.4072970, abs=2e-3)
    # a tail probability: DIRECT's CDF error is absolute (1.7e-5 in the eight-schools P(mu > 0))
    assert list(ma01.prob_mu_above.values())[0] == pytest.approx(6.187343e-05, abs=5e-6)
    printed_theta = {0: (-1.7411356, -1.7778965, 0.4229425, -2.6561049, -0.9920023),
                     1: (-1.2821722, -1.2339736, 0.4488759, -2.0455088, -0.3089461)}
    for i, (med, mean, sd, lo, hi) in printed_theta.items():
        th = ma01.theta[i]
        for ours, printed in ((th.median, med), (th.mean, mean), (th.sd, sd), (th.hpd_lower, lo), (th.hpd_upper, hi)):
            assert ours == pytest.approx(printed, abs=2e-3)  # DIRECT: Gibelli's sd 5e-4, upper limit 6.5e-4 off


# RBesT introduction vignette: print(map) and print(map_robust)
AS_MAP = dict(w=[0.6167463, 0.3832537], a=[19.1916387, 3.5278745], b=[57.7779318, 9.3735980])
AS_MAP_ROBUST = dict(w=[0.493397, 0.306603, 0.200000], a=[19.191639, 3.527875, 1.0], b=[57.777932, 9.373598, 1.0])


def test_rbest_vignette_ess_of_the_as_map_prior():
    assert round(beta_mixture_ess(AS_MAP["w"], AS_MAP["a"], AS_MAP["b"], "elir")) == 37
    assert round(beta_mixture_ess(AS_MAP["w"], AS_MAP["a"], AS_MAP["b"], "moment")) == 26
    assert round(beta_mixture_ess(AS_MAP_ROBUST["w"], AS_MAP_ROBUST["a"], AS_MAP_ROBUST["b"], "elir")) == 26
    assert math.isfinite(beta_mixture_ess(AS_MAP_ROBUST["w"], AS_MAP_ROBUST["a"], AS_MAP_ROBUST["b"], "moment"))
