# Reference values for metapool.stats.bayes (Bayesian random-effects meta-analysis by numerical
# integration). R's bayesmeta is not installed here, so the posteriors are computed from their
# definitions with base R:
#   * normal-normal model: the marginal posterior of tau, p(tau | y) ∝ p(tau) p(y | tau), with mu
#     integrated out analytically (mu | tau, y ~ N(mu_hat, V); Röver 2020, J Stat Softw 93(6), sec. 2);
#     every marginal (mu, theta_new, theta_i, back-transformed means) is an integrate() over tau of
#     the normal conditional; the conjugate step is checked separately by a nested integrate() of the
#     joint density p(tau) p(mu) prod N(y_i; mu, sigma_i^2 + tau^2) over mu and tau (`joint_check`);
#   * binomial-normal model: p(mu, tau | x) ∝ p(tau) p(mu) prod_i L_i(mu, tau) with
#     L_i = ∫ Bin(x_i; n_i, plogis(theta)) N(theta; mu, tau^2) dtheta by adaptive Gauss-Hermite
#     quadrature with 40 nodes, except for studies with 0 or n events where tau > 1: exact there by
#     .bm_binom_loglik_edge (a normal CDF plus a fine fixed rule; GH40's error reached 3.4e-5); both
#     checked against integrate() over theta in `likelihood_check`;
#     marginals by nested integrate() over mu (inner) and tau (outer);
#   * quantiles by uniroot() on the CDF; shortest intervals (normal model) by uniroot() in the lower
#     tail probability alpha of f(Q(alpha)) = f(Q(alpha + level)) (or [0, Q(level)] when the density
#     of tau decreases from 0).
# integrate() runs at rel.tol 1e-11 (retrying at 1e-9 on a roundoff error) on pieces split at
# breakpoints spread over the scale of the posterior; uniroot() at tol 1e-12.
#
# fixture_bayes() returns the list written to tests/reference/fixtures/bayes.json; from the
# repository root:
#   Rscript -e 'source("tests/reference/R/bayes.R"); x <- fixture_bayes();
#     jsonlite::write_json(x, "tests/reference/fixtures/bayes.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
# fixture_bayes_binomial() (more binomial-normal cases, k >= 3, inner integrate() at rel.tol 1e-11 with
# integrate()'s error estimates recorded) and fixture_bayes_map() (the exact predictive distribution of a new
# cohort's response rate, for map_prior) write tests/reference/fixtures/bayes_binomial.json and
# bayes_map.json:
#   Rscript -e 'source("tests/reference/R/bayes.R");
#     write_fixture(fixture_bayes_binomial(), "tests/reference/fixtures/bayes_binomial.json");
#     write_fixture(fixture_bayes_map(), "tests/reference/fixtures/bayes_map.json")'
# (each binomial case takes minutes to an hour of CPU; options(bm.only = <name>) runs one case).
# Read by tests/stats/test_bayes.py.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})
if (!exists("generated_by", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}

BM_LEVEL <- 0.95

# ---------------------------------------------------------------------------
# priors
# ---------------------------------------------------------------------------
.bm_tau_prior <- function(p) {
  switch(p$family,
    half_normal = function(t) 2 * dnorm(t, 0, p$scale),
    half_t = function(t) 2 * dt(t / p$scale, p$df) / p$scale,
    uniform = function(t) ifelse(t <= p$upper, if (is.finite(p$upper)) 1 / p$upper else 1, 0),
    log_normal = function(t) ifelse(t > 0, dlnorm(t, p$mu, p$sigma), 0),
    log_t = function(t) ifelse(t > 0, dt((log(t) - p$mu) / p$sigma, p$df) / (p$sigma * t), 0))
}
.bm_prior_median <- function(p) {
  switch(p$family, half_normal = p$scale * qnorm(0.75), half_t = p$scale * qt(0.75, p$df),
         uniform = if (is.finite(p$upper)) p$upper / 2 else 1, exp(p$mu))
}
HN <- function(scale) list(family = "half_normal", scale = scale)
HC <- function(scale) list(family = "half_t", scale = scale, df = 1, cauchy = TRUE)
HT <- function(scale, df) list(family = "half_t", scale = scale, df = df)
UNIF <- function(upper = Inf) list(family = "uniform", upper = upper)
LN <- function(mu, sigma) list(family = "log_normal", mu = mu, sigma = sigma)
# Turner et al. 2015 marginal: tau^2 ~ LN(-2.56, 1.74^2) -> tau ~ LN(-1.28, 0.87^2)
TURNER <- list(family = "log_normal", mu = -2.56 / 2, sigma = 1.74 / 2, preset = "turner", setting = "marginal")
# Rhodes et al. 2015 marginal: log tau^2 = -3.44 + 2.59 T_5 -> log tau = -1.72 + 1.295 T_5
RHODES <- list(family = "log_t", mu = -3.44 / 2, sigma = 2.59 / 2, df = 5, preset = "rhodes", setting = "marginal")
MU_FLAT <- list(mean = 0, sd = Inf)
MU_N <- function(mean, sd) list(mean = mean, sd = sd)

# ---------------------------------------------------------------------------
# numerics
# ---------------------------------------------------------------------------
.bm_integrate <- function(f, a, b, brk = numeric()) {
  pts <- sort(unique(c(a, brk[brk > a & brk < b], b)))
  s <- 0
  for (i in seq_len(length(pts) - 1)) {
    r <- NULL
    for (tol in c(1e-11, 1e-9, 1e-8)) {
      r <- tryCatch(integrate(f, pts[i], pts[i + 1], rel.tol = tol, abs.tol = 1e-14, subdivisions = 2000L)$value,
                    error = function(e) NULL)
      if (!is.null(r)) break
    }
    if (is.null(r)) {
      r <- integrate(f, pts[i], pts[i + 1], rel.tol = 1e-8, abs.tol = 1e-14, subdivisions = 2000L,
                     stop.on.error = FALSE)
      warning(sprintf("integrate() on [%g, %g]: %s", pts[i], pts[i + 1], r$message))
      r <- r$value
    }
    s <- s + r
  }
  s
}
.bm_quantile <- function(cdf, p, lower, upper, tol = 1e-12) {
  uniroot(function(q) cdf(q) - p, c(lower, upper), tol = tol, extendInt = "upX", maxiter = 2000)$root
}

# ---------------------------------------------------------------------------
# normal-normal model
# ---------------------------------------------------------------------------
.bm_cond <- function(tau, y, v, mu) {
  W <- 1 / outer(tau^2, v, "+")
  sw <- rowSums(W)
  swy <- drop(W %*% y)
  ll <- 0.5 * rowSums(log(W))
  if (is.finite(mu$sd)) {
    w0 <- 1 / mu$sd^2
    sw <- sw + w0
    swy <- swy + w0 * mu$mean
  }
  mhat <- swy / sw
  q <- rowSums(W * (matrix(y, length(tau), length(y), byrow = TRUE) - mhat)^2)
  if (is.finite(mu$sd)) q <- q + w0 * (mu$mean - mhat)^2
  list(logl = ll - 0.5 * log(sw) - 0.5 * q, mhat = mhat, V = 1 / sw)
}

# the marginal posterior density of tau in the normal-normal model, p(tau | y) ∝ p(tau) p(y | tau) (mu
# integrated out by .bm_cond), normalised by .bm_integrate() over (0, upper) on the pieces brk; the
# largest log value on `grid` is the scale of the unnormalised density
.bm_tau_posterior <- function(y, v, tau_prior, mu_prior, grid, brk) {
  dprior <- .bm_tau_prior(tau_prior)
  upper <- tau_prior$upper %||% Inf
  logpost <- function(t) log(dprior(t)) + .bm_cond(t, y, v, mu_prior)$logl
  lmax <- max(logpost(grid), na.rm = TRUE)
  upost <- function(t) {
    out <- numeric(length(t))
    ok <- t > 0 & is.finite(t) & t <= upper
    out[ok] <- exp(logpost(t[ok]) - lmax)
    out
  }
  Z <- .bm_integrate(upost, 0, upper, brk)
  list(post = function(t) upost(t) / Z, lmax = lmax, Z = Z)
}

.bm_normal_case <- function(name, source, y, v, tau_prior, mu_prior, thresholds, transform = NA, note = NA) {
  # options(bm.only = <names>) computes only those cases (to split a long run)
  if (!is.null(getOption("bm.only")) && !(name %in% getOption("bm.only"))) return(NULL)
  k <- length(y)
  cat(name, "\n")
  dprior <- .bm_tau_prior(tau_prior)
  upper <- tau_prior$upper %||% Inf
  data_scale <- sqrt(mean(v) + if (k > 1) var(y) * (k - 1) / k else 0)
  grid <- sort(unique(c(data_scale, .bm_prior_median(tau_prior)) * rep(10^seq(-4, 3, length.out = 300), each = 2)))
  grid <- grid[grid < upper]
  brk <- sort(unique(c(data_scale, .bm_prior_median(tau_prior)) %o% c(1 / 64, 1 / 16, 1 / 4, 1, 4, 16, 64, 256, 2^12, 2^16, 2^24)))
  brk <- brk[brk < upper]
  tp <- .bm_tau_posterior(y, v, tau_prior, mu_prior, grid, brk)
  post <- tp$post
  lmax <- tp$lmax
  Z <- tp$Z
  tint <- function(f, a = 0, b = upper) .bm_integrate(f, a, b, brk)
  # posterior tail of tau ~ tau^-(a): prior tail + (k - 1) (flat mu) or k (normal mu)
  prior_tail <- if (tau_prior$family == "half_t") tau_prior$df + 1 else if (tau_prior$family == "uniform" && !is.finite(upper)) 0 else Inf
  tail <- prior_tail + if (is.finite(mu_prior$sd)) k else k - 1
  e1 <- tail > 2
  e2 <- tail > 3
  # tau
  tau_cdf <- function(q) if (q <= 0) 0 else tint(post, 0, min(q, upper))
  a <- (1 - BM_LEVEL) / 2
  tq <- function(p) if (is.finite(upper)) uniroot(function(q) tau_cdf(q) - p, c(0, upper), tol = 1e-12)$root else
    .bm_quantile(tau_cdf, p, 0, data_scale)
  tau_mean <- if (e1) tint(function(t) t * post(t)) else Inf
  tau_sd <- if (e2) sqrt(tint(function(t) t^2 * post(t)) - tau_mean^2) else Inf
  dens_tau <- function(t) post(t)
  tau_short <- if (post(1e-300) >= post(tq(BM_LEVEL))) c(0, tq(BM_LEVEL)) else {
    al <- uniroot(function(al) dens_tau(tq(al)) - dens_tau(tq(al + BM_LEVEL)), c(1e-12, 1 - BM_LEVEL - 1e-12),
                  tol = 1e-12)$root
    c(tq(al), tq(al + BM_LEVEL))
  }
  tau_out <- list(median = tq(0.5), mean = tau_mean, sd = tau_sd, ci_lower = tq(a), ci_upper = tq(1 - a),
                  hpd_lower = tau_short[1], hpd_upper = tau_short[2])
  # normal mixtures over tau: conditional mean / sd functions of tau
  cm <- function(t) .bm_cond(t, y, v, mu_prior)
  tmed <- tq(0.5)
  mix <- function(mfun, sfun, mean_ok, sd_ok, shortest = TRUE, bt = TRUE) {
    cdf <- function(x) tint(function(t) { c <- cm(t); pz(post(t), pnorm(x, mfun(t, c), sfun(t, c))) })
    pdf <- function(x) tint(function(t) { c <- cm(t); pz(post(t), dnorm(x, mfun(t, c), sfun(t, c))) })
    m1 <- if (mean_ok) tint(function(t) { c <- cm(t); pz(post(t), mfun(t, c)) }) else Inf
    sd <- if (sd_ok) sqrt(max(tint(function(t) { c <- cm(t); pz(post(t), mfun(t, c)^2 + sfun(t, c)^2) }) - m1^2, 0)) else Inf
    c0 <- cm(tmed)
    ctr <- mfun(tmed, c0)
    wid <- sfun(tmed, c0)
    q <- function(p) .bm_quantile(cdf, p, ctr - wid, ctr + wid)
    out <- list(median = q(0.5), mean = m1, sd = sd, ci_lower = q(a), ci_upper = q(1 - a))
    if (shortest) {
      al <- uniroot(function(al) pdf(q(al)) - pdf(q(al + BM_LEVEL)), c(1e-10, 1 - BM_LEVEL - 1e-10), tol = 1e-12)$root
      out$hpd_lower <- q(al)
      out$hpd_upper <- q(al + BM_LEVEL)
    }
    if (bt && identical(transform, "expit")) {  # E exp(theta) need not exist (heavy tau tails): expit only
      g <- plogis
      inner <- function(t, pw) sapply(t, function(tt) {
        if (!is.finite(tt) || post(tt) == 0) return(0)
        c <- cm(tt)
        mm <- mfun(tt, c)
        ss <- sfun(tt, c)
        integrate(function(z) g(mm + ss * z)^pw * dnorm(z), -Inf, Inf, rel.tol = 1e-11)$value
      })
      b1 <- tint(function(t) pz(post(t), inner(t, 1)))
      b2 <- tint(function(t) pz(post(t), inner(t, 2)))
      out$bt_mean <- b1
      out$bt_sd <- sqrt(max(b2 - b1^2, 0))
    }
    out$cdf <- cdf
    out
  }
  mu_ok <- e1 || is.finite(mu_prior$sd)
  mu_sd_ok <- e2 || is.finite(mu_prior$sd)
  mu_out <- mix(function(t, c) c$mhat, function(t, c) sqrt(c$V), mu_ok, mu_sd_ok)
  new_out <- mix(function(t, c) c$mhat, function(t, c) sqrt(c$V + t^2), e1, e2)
  theta <- lapply(seq_len(k), function(i) {
    b <- function(t) t^2 / (v[i] + t^2)
    r <- mix(function(t, c) b(t) * y[i] + (1 - b(t)) * c$mhat,
             function(t, c) sqrt(b(t) * v[i] + (1 - b(t))^2 * c$V), TRUE, TRUE, shortest = (i == 1), bt = FALSE)
    r$cdf <- NULL
    r
  })
  prob_mu <- sapply(thresholds, function(c0) 1 - mu_out$cdf(c0))
  prob_new <- sapply(thresholds, function(c0) 1 - new_out$cdf(c0))
  # joint check: P(mu <= m) by a nested integral of the joint density (no conjugate algebra)
  ljoint <- function(m, t) log(dprior(t)) + (if (is.finite(mu_prior$sd)) dnorm(m, mu_prior$mean, mu_prior$sd, log = TRUE) else 0) +
    rowSums(dnorm(matrix(y, length(m), k, byrow = TRUE), m, matrix(sqrt(v + t^2), length(m), k, byrow = TRUE), log = TRUE))
  # constant: the conjugate marginal drops -k/2 log(2 pi) (and the normal prior's 1/sqrt(2 pi) s0)
  inner_mu <- function(t, upto) sapply(t, function(tt) {
    if (!(tt > 0) || tt > upper) return(0)
    f <- function(m) exp(ljoint(m, tt) - lmax + k / 2 * log(2 * pi) +
                           (if (is.finite(mu_prior$sd)) 0.5 * log(2 * pi * mu_prior$sd^2) else 0))
    c <- cm(tt)
    ctr <- c$mhat
    s <- sqrt(c$V)
    lo <- integrate(f, -Inf, min(upto, ctr - 8 * s), rel.tol = 1e-11)$value
    if (upto > ctr - 8 * s) lo <- lo + integrate(f, ctr - 8 * s, min(upto, ctr + 8 * s), rel.tol = 1e-11)$value
    if (upto > ctr + 8 * s) lo <- lo + integrate(f, ctr + 8 * s, upto, rel.tol = 1e-11)$value
    lo
  })
  check_points <- c(mu_out$ci_lower, mu_out$median, mu_out$ci_upper)
  zj <- tint(function(t) inner_mu(t, Inf))
  joint_cdf <- sapply(check_points, function(m0) tint(function(t) inner_mu(t, m0)) / zj)
  mu_out$cdf <- NULL
  new_out$cdf <- NULL
  list(name = name, model = "normal", source = source, note = note, k = k, yi = arr(y), vi = arr(v),
       tau_prior = tau_prior, mu_prior = list(mean = mu_prior$mean, sd = if (is.finite(mu_prior$sd)) mu_prior$sd else NA),
       level = BM_LEVEL, transform = transform, thresholds = arr(thresholds),
       mu = mu_out, tau = tau_out, theta_new = new_out, theta = theta,
       prob_mu_above = arr(prob_mu), prob_theta_new_above = arr(prob_new),
       joint_check = list(points = arr(check_points), cdf = arr(joint_cdf), normaliser_ratio = zj / Z))
}

`%||%` <- function(a, b) if (is.null(a)) b else a
# density times a function of tau that may be undefined where the density is 0 (tau -> inf)
pz <- function(p, g) ifelse(p > 0, p * g, 0)

# ---------------------------------------------------------------------------
# binomial-normal model
# ---------------------------------------------------------------------------
.bm_gh <- function(n) {  # Gauss-Hermite nodes/weights (weight exp(-x^2)) by Golub-Welsch
  b <- sqrt(seq_len(n - 1) / 2)
  J <- matrix(0, n, n)
  J[cbind(1:(n - 1), 2:n)] <- b
  J[cbind(2:n, 1:(n - 1))] <- b
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  list(x = e$values[o], w = sqrt(pi) * e$vectors[1, o]^2)
}
GH40 <- .bm_gh(40)

# Exact log likelihood of a study with 0 events out of n (x = n: the same at -mu), for vectors mu, tau (tau > 1):
# L = E[(1 + e^theta)^-n], theta ~ N(mu, tau^2). The integrand is a step (from 1 to e^(-n theta)) inside a normal
# density of width tau, where adaptive Gauss-Hermite converges slowly (9/9 at tau = 5.3: 3.4e-5 with 40 nodes).
# With f(theta) = (1 + e^theta)^-n = 1{theta < 0} + c(theta),
#   L = pnorm(-mu / tau) + ∫ c(theta) dnorm(theta, mu, tau) dtheta,
# and c (1 - f <= n e^theta on the left, f <= e^(-n theta) on the right) is below e^-40 outside
# [-40 - log(n), 40]: that window by a composite 20-node Gauss-Legendre rule on panels 1/4 wide in the step
# [-log(n) - 3, log(n) + 3] and 1/2 wide outside (the normal density, of width tau > 1, and the step, of
# curvature <= n / 4, are smooth on a panel), all on the log scale. Checked against integrate() over theta
# in likelihood_check (loglik against loglik_integrate).
.bm_edge_rule <- local({
  memo <- list()
  function(n) {
    key <- sprintf("%.17g", n)
    if (is.null(memo[[key]])) {
      gl <- .bm_gl(20)
      a <- log(n) + 3  # panels 1/4 wide in the step [-a, a], 1/2 outside
      e <- unique(c(seq(-40 - log(n), -a, length.out = ceiling(2 * (40 + log(n) - a)) + 1),
                    seq(-a, 0, length.out = ceiling(4 * a) + 1), seq(0, a, length.out = ceiling(4 * a) + 1),
                    seq(a, 40, length.out = ceiling(2 * (40 - a)) + 1)))  # 0 (the jump of c) is an edge
      lo <- e[-length(e)]
      hi <- e[-1]
      th <- as.vector(outer(gl$x, (hi - lo) / 2) + rep((lo + hi) / 2, each = 20))
      w <- as.vector(outer(gl$w, (hi - lo) / 2))
      lf <- -n * (pmax(th, 0) + log1p(exp(-abs(th))))   # log f
      lc <- ifelse(th < 0, log(-expm1(lf)), lf)           # log |c|: 1 - f left of 0, f right of 0
      memo[[key]] <<- list(th = th, lwc = log(w) + lc, sgn = ifelse(th < 0, -1, 1))
    }
    memo[[key]]
  }
})
.bm_binom_loglik_edge <- function(mu, tau, x, n) {
  if (x == n) mu <- -mu
  r <- .bm_edge_rule(n)
  a <- pnorm(-mu / tau, log.p = TRUE)
  lw <- outer(rep(1, length(mu)), r$lwc) + dnorm(outer(rep(1, length(mu)), r$th), mu, tau, log = TRUE)
  m <- pmax(a, apply(lw, 1, max))
  m + log(exp(a - m) + drop(exp(lw - m) %*% r$sgn))
}
# Newton's method with step halving for a strictly concave objective, elementwise over a vector: from x0, the
# steps step_of(x), each halved (up to 60 times) while it lowers obj; stops when the largest step is below 1e-13
# of the largest |x| (the conditional modes of the two Gauss-Hermite rules below)
.bm_newton_concave <- function(x0, obj, step_of) {
  x <- x0
  for (it in 1:200) {
    step <- step_of(x)
    o0 <- obj(x)
    for (half in 1:60) {
      bad <- obj(x + step) < o0 - 1e-12 * (1 + abs(o0))
      if (!any(bad)) break
      step[bad] <- step[bad] / 2
    }
    x <- x + step
    if (max(abs(step)) < 1e-13 * (1 + max(abs(x)))) break
  }
  x
}
# log prod_i L_i(mu, tau) for a vector mu and scalar tau > 0, adaptive Gauss-Hermite (40 nodes); with exact = TRUE
# studies with 0 or n events where tau > 1 by .bm_binom_loglik_edge (GH40 is accurate to ~1e-12 for them where
# tau <= 1: the step is then wider than the normal density)
.bm_binom_loglik <- function(mu, tau, x, n, exact = TRUE) {
  tot <- numeric(length(mu))
  for (i in seq_along(x)) {
    lpe <- function(eta) pmax(eta, 0) + log1p(exp(-abs(eta)))
    u <- .bm_newton_concave(rep(0, length(mu)),
                            function(u) x[i] * (mu + tau * u) - n[i] * lpe(mu + tau * u) - 0.5 * u^2,
                            function(u) {
                              p <- plogis(mu + tau * u)
                              (tau * (x[i] - n[i] * p) - u) / (tau^2 * n[i] * p * (1 - p) + 1)
                            })
    p <- plogis(mu + tau * u)
    s <- sqrt(2 / (tau^2 * n[i] * p * (1 - p) + 1))
    uq <- outer(u, rep(1, 40)) + outer(s, GH40$x)
    eta <- mu + tau * uq
    hq <- x[i] * eta - n[i] * (pmax(eta, 0) + log1p(exp(-abs(eta)))) - 0.5 * uq^2 + outer(rep(1, length(mu)), GH40$x^2)
    mx <- apply(hq, 1, max)
    term <- lchoose(n[i], x[i]) + log(s) - 0.5 * log(2 * pi) + mx + log(drop(exp(hq - mx) %*% GH40$w))
    big <- rep_len(tau, length(mu)) > 1
    if (exact && (x[i] == 0 || x[i] == n[i]) && any(big)) {  # 0/n, n/n where tau > 1: exact (.bm_binom_loglik_edge)
      term[big] <- .bm_binom_loglik_edge(mu[big], rep_len(tau, length(mu))[big], x[i], n[i])
    }
    tot <- tot + term
  }
  tot[!is.finite(tot)] <- -Inf
  tot
}
# the same on the theta scale where tau > 1 (for the log-t section): the rule of .bm_binom_loglik is linear in
# theta = mu + tau u (the same nodes, the same number up to rounding), but there eta = mu + tau u cancels to
# nothing when |mu| >> 1 and tau >> 1 (the flat-mu conditional of mu at tau = 1e10 spans |mu| ~ 1e11) and the
# Newton steps from u = 0 stall; on the theta scale the mode solves x - n p - (theta - mu) / tau^2 = 0, started
# at the precision-weighted mean of the empirical logit (x + 1/2 correction) and mu
.bm_binom_loglik_theta <- function(mu, tau, x, n) {
  tau <- rep_len(tau, length(mu))
  big <- tau > 1
  tot <- numeric(length(mu))
  if (any(!big)) tot[!big] <- .bm_binom_loglik(mu[!big], tau[!big], x, n)
  if (!any(big)) return(tot)
  m <- mu[big]
  t <- tau[big]
  lpe <- function(eta) pmax(eta, 0) + log1p(exp(-abs(eta)))
  out <- numeric(length(m))
  for (i in seq_along(x)) {
    if (x[i] == 0 || x[i] == n[i]) {  # exact (.bm_binom_loglik_edge; tau > 1 here)
      out <- out + .bm_binom_loglik_edge(m, t, x[i], n[i])
      next
    }
    yl <- qlogis((x[i] + 0.5) / (n[i] + 1))
    a <- n[i] * plogis(yl) * (1 - plogis(yl))
    th <- .bm_newton_concave((a * yl + m / t^2) / (a + 1 / t^2),
                             function(th) x[i] * th - n[i] * lpe(th) - 0.5 * ((th - m) / t)^2,
                             function(th) {
                               p <- plogis(th)
                               (x[i] - n[i] * p - (th - m) / t^2) / (n[i] * p * (1 - p) + 1 / t^2)
                             })
    p <- plogis(th)
    s <- sqrt(2 / (n[i] * p * (1 - p) + 1 / t^2))
    tq <- outer(th, rep(1, 40)) + outer(s, GH40$x)
    hq <- x[i] * tq - n[i] * lpe(tq) - 0.5 * ((tq - m) / t)^2 + outer(rep(1, length(m)), GH40$x^2)
    mx <- apply(hq, 1, max)
    out <- out + lchoose(n[i], x[i]) + log(s) - log(t) - 0.5 * log(2 * pi) + mx + log(drop(exp(hq - mx) %*% GH40$w))
  }
  out[!is.finite(out)] <- -Inf
  tot[big] <- out
  tot
}
# the same by integrate() over theta (check of the quadrature)
.bm_binom_loglik_integrate <- function(mu, tau, x, n) {
  sum(sapply(seq_along(x), function(i) {
    # log Bin(x; n, plogis(theta)) as x theta - n log(1 + e^theta) (dbinom() loses 1 - p to rounding for theta >> 1)
    llik <- function(th) lchoose(n[i], x[i]) + x[i] * th - n[i] * (pmax(th, 0) + log1p(exp(-abs(th)))) +
      dnorm(th, mu, tau, log = TRUE)
    # scaled by the integrand's largest value; split at mu, mu +- (1, 4, 10) tau, at the step (0, +- log n +- 1)
    # and around the mode, where the integrand bends
    md <- optimize(llik, mu + tau * c(-40, 40), maximum = TRUE, tol = 1e-10)$maximum
    lmax <- llik(md)
    lik <- function(th) exp(llik(th) - lmax)
    brk <- sort(unique(c(mu + tau * c(-10, -4, -1, 0, 1, 4, 10), 0, c(-1, 1) * (log(n[i]) + 1), md + c(-4, -1, 0, 1, 4))))
    pts <- c(-Inf, brk, Inf)
    piece <- function(a, b) {  # a roundoff error (a piece of nothing) retries with an absolute tolerance
      r <- tryCatch(integrate(lik, a, b, rel.tol = 1e-12, abs.tol = 1e-18, subdivisions = 1000L)$value,
                    error = function(e) NULL)
      if (is.null(r)) r <- integrate(lik, a, b, rel.tol = 1e-12, abs.tol = 1e-15, subdivisions = 1000L)$value
      r
    }
    lmax + log(sum(sapply(seq_len(length(pts) - 1), function(j) piece(pts[j], pts[j + 1]))))
  }))
}

.bm_binomial_case <- function(name, source, x, n, tau_prior, mu_prior, thresholds, note = NA, inner_tol = 1e-9) {
  # inner_tol: rel.tol of the inner integrate() over mu (1e-9 for the cases of bayes.json; the cases of
  # bayes_binomial.json use 1e-11 so that the inner error stays well below the outer rel.tol 1e-9,
  # which otherwise stops with "roundoff error"). The conditional mode of mu and the inner integral
  # without a limit are memoised per tau (a pure speed-up: the same numbers).
  # options(bm.only = <names>) computes only those cases (to split a long run)
  if (!is.null(getOption("bm.only")) && !(name %in% getOption("bm.only"))) return(NULL)
  k <- length(x)
  cat(name, "\n")
  dprior <- .bm_tau_prior(tau_prior)
  upper <- tau_prior$upper %||% Inf
  lmu <- function(m) if (is.finite(mu_prior$sd)) dnorm(m, mu_prior$mean, mu_prior$sd, log = TRUE) else 0 * m
  ljoint <- function(m, t) log(dprior(t)) + lmu(m) + .bm_binom_loglik(m, t, x, n)
  # conditional mode of mu given tau, and a scale, for the breakpoints of the inner integral
  mode_memo <- new.env(hash = TRUE)
  mode_mu <- function(t) {
    key <- sprintf("%.17g", t)
    r <- mode_memo[[key]]
    if (is.null(r)) {
      r <- optimize(function(m) ljoint(m, t), c(-25, 25), maximum = TRUE, tol = 1e-6)
      assign(key, r, envir = mode_memo)
    }
    r
  }
  s0 <- .bm_prior_median(tau_prior)
  tgrid <- s0 * 10^seq(-3, 2, length.out = 60)
  tgrid <- tgrid[tgrid < upper]
  lmax <- max(sapply(tgrid, function(t) mode_mu(t)$objective))
  # integrate() on one piece: bayes.json calls it directly (an error stops the case); the cases of
  # bayes_binomial.json (inner_tol < 1e-9) retry a piece that stops with "roundoff error" / "probably
  # divergent" at 100 and 1000 times the tolerance, and keep integrate()'s own error estimates: the
  # largest (sum of abs.error) / |value| of any inner and any outer integral goes into the fixture
  robust <- inner_tol < 1e-9
  err <- new.env()
  err$inner <- 0
  err$outer <- 0
  err$retries <- 0
  piece <- function(f, a, b, tol) {
    if (!robust) return(list(value = integrate(f, a, b, rel.tol = tol, abs.tol = 1e-16, subdivisions = 1000L)$value,
                             abs.error = 0))
    for (tl in tol * c(1, 100, 1000)) {
      r <- tryCatch(integrate(f, a, b, rel.tol = tl, abs.tol = 1e-16, subdivisions = 1000L), error = function(e) NULL)
      if (!is.null(r)) return(r)
      err$retries <- err$retries + 1
    }
    integrate(f, a, b, rel.tol = tol * 1e4, abs.tol = 1e-16, subdivisions = 1000L)
  }
  pieces <- function(f, pts, tol, which) {
    v <- 0
    e <- 0
    for (j in seq_len(length(pts) - 1)) {
      r <- piece(f, pts[j], pts[j + 1], tol)
      v <- v + r$value
      e <- e + r$abs.error
    }
    if (robust && v != 0) err[[which]] <- max(err[[which]], e / abs(v))
    v
  }
  mass_memo <- new.env(hash = TRUE)
  piece_memo <- new.env(hash = TRUE)
  inner <- function(t, fun = function(m) 1, upto = Inf) sapply(t, function(tt) {
    if (!(tt > 0) || tt > upper || !is.finite(tt)) return(0)
    is_mass <- identical(fun, one) && is.infinite(upto)
    key <- sprintf("%.17g", tt)
    if (is_mass && !is.null(mass_memo[[key]])) return(mass_memo[[key]])
    md <- mode_mu(tt)$maximum
    f <- function(m) {
      r <- exp(ljoint(m, tt) - lmax)
      r[!is.finite(r) | abs(m) > 1e6] <- 0  # far tails (integrate's transformation of +-Inf)
      r * fun(m, tt)
    }
    # bayes.json: mu over (-Inf, upto) split at md +- 2; bayes_binomial.json (robust): over md +- 45 sc, split at
    # +-1, 4, 12 sc, with sc^2 = 1 / sum n_i p (1 - p) + tau^2 / k (p = plogis(md)) the rough conditional
    # variance of mu (integrate()'s transformation of an infinite range, or a spike in a wide range, stop
    # with "probably divergent" at rel.tol 1e-11; beyond 45 sc the conditional density is negligible)
    if (robust) {
      # the integral over each piece entirely below upto is memoised per (tau, piece) when fun is 1 (the
      # CDF of mu at every uniroot() step then integrates only the piece that contains upto): the same numbers
      p0 <- plogis(md)
      sc <- sqrt(1 / sum(n * p0 * (1 - p0)) + tt^2 / k)
      pts <- md + sc * c(-45, -12, -4, -1, 0, 1, 4, 12, 45)
      memo_ok <- identical(fun, one)
      s <- 0
      e <- 0
      for (j in seq_len(length(pts) - 1)) {
        if (pts[j] >= upto) break
        whole <- pts[j + 1] <= upto
        pkey <- paste(key, j)
        v <- if (whole && memo_ok) piece_memo[[pkey]] else NULL
        if (is.null(v)) {
          r <- piece(f, pts[j], if (whole) pts[j + 1] else upto, inner_tol)
          v <- c(r$value, r$abs.error)
          if (whole && memo_ok) assign(pkey, v, envir = piece_memo)
        }
        s <- s + v[1]
        e <- e + v[2]
      }
      if (s != 0) err$inner <- max(err$inner, e / abs(s))
    } else {
      pts <- md + c(-Inf, -2, 0, 2, Inf)
      pts <- unique(c(pts[pts < upto], min(upto, Inf)))
      s <- pieces(f, pts, inner_tol, "inner")
    }
    if (is_mass) assign(key, s, envir = mass_memo)
    s
  })
  brk <- s0 * c(1 / 16, 1 / 4, 1, 4, 16, 64)
  brk <- brk[brk < upper]
  tint <- function(f, a = 0, b = upper) {
    pieces(f, sort(unique(c(a, brk[brk > a & brk < b], b))), 1e-9, "outer")
  }
  one <- function(m, t) 1 + 0 * m
  Z <- tint(function(t) inner(t, one))
  a <- (1 - BM_LEVEL) / 2
  # tau
  tau_cdf <- function(q) if (q <= 0) 0 else tint(function(t) inner(t, one), 0, min(q, upper)) / Z
  tq <- function(p) if (is.finite(upper)) uniroot(function(q) tau_cdf(q) - p, c(0, upper), tol = 1e-10)$root else
    .bm_quantile(tau_cdf, p, 0, s0)
  t1 <- tint(function(t) t * inner(t, one)) / Z
  t2 <- tint(function(t) t^2 * inner(t, one)) / Z
  tau_out <- list(median = tq(0.5), mean = t1, sd = sqrt(t2 - t1^2), ci_lower = tq(a), ci_upper = tq(1 - a))
  # mu
  m1 <- tint(function(t) inner(t, function(m, tt) m)) / Z
  m2 <- tint(function(t) inner(t, function(m, tt) m^2)) / Z
  msd <- sqrt(m2 - m1^2)
  mu_cdf <- function(q) tint(function(t) inner(t, one, upto = q)) / Z
  mq <- function(p) .bm_quantile(mu_cdf, p, m1 - msd, m1 + msd, tol = 1e-10)
  mu_out <- list(median = mq(0.5), mean = m1, sd = msd, ci_lower = mq(a), ci_upper = mq(1 - a),
                 bt_mean = tint(function(t) inner(t, function(m, tt) plogis(m))) / Z)
  mu_out$bt_sd <- sqrt(tint(function(t) inner(t, function(m, tt) plogis(m)^2)) / Z - mu_out$bt_mean^2)
  # theta_new = mu + tau z
  new_cdf <- function(q) tint(function(t) inner(t, function(m, tt) pnorm(q, m, tt))) / Z
  nsd <- sqrt(m2 + t2 - m1^2)
  nq <- function(p) .bm_quantile(new_cdf, p, m1 - nsd, m1 + nsd, tol = 1e-10)
  prob_mu <- sapply(thresholds, function(c0) 1 - mu_cdf(c0))
  if (robust) {
    # bayes_binomial.json: theta_new only by its moments (its quantiles would double the CPU time)
    new_out <- list(mean = m1, sd = nsd)
    prob_new <- numeric()
  } else {
    new_out <- list(median = nq(0.5), mean = m1, sd = nsd, ci_lower = nq(a), ci_upper = nq(1 - a))
    prob_new <- sapply(thresholds, function(c0) 1 - new_cdf(c0))
  }
  # the likelihood used (loglik: exact for 0/n, n/n studies where tau > 1) and the plain 40-node Gauss-Hermite rule
  # against integrate() over theta at a few (mu, tau)
  pts <- expand.grid(mu = c(mu_out$median, mu_out$ci_lower), tau = c(tau_out$ci_lower, tau_out$median, tau_out$ci_upper))
  lik_check <- list(mu = arr(pts$mu), tau = arr(pts$tau),
                    loglik = arr(mapply(function(m, t) .bm_binom_loglik(m, t, x, n), pts$mu, pts$tau)),
                    loglik_gh40 = arr(mapply(function(m, t) .bm_binom_loglik(m, t, x, n, exact = FALSE), pts$mu, pts$tau)),
                    loglik_integrate = arr(mapply(function(m, t) .bm_binom_loglik_integrate(m, t, x, n), pts$mu, pts$tau)))
  out <- list(name = name, model = "binomial", source = source, note = note, k = k, events = arr(x), totals = arr(n),
       tau_prior = tau_prior, mu_prior = list(mean = mu_prior$mean, sd = if (is.finite(mu_prior$sd)) mu_prior$sd else NA),
       level = BM_LEVEL, transform = "expit", thresholds = arr(thresholds),
       mu = mu_out, tau = tau_out, theta_new = new_out,
       prob_mu_above = arr(prob_mu), prob_theta_new_above = arr(prob_new), likelihood_check = lik_check)
  if (robust) out$integrate_error <- list(inner_max_rel = err$inner, outer_max_rel = err$outer, retries = err$retries)
  out
}

# ---------------------------------------------------------------------------
# data and cases
# ---------------------------------------------------------------------------
.bm_cases <- function(which = c("normal", "binomial")) {
  # Rubin (1981) eight schools, as in bayesmeta's Rubin1981 data set
  rubin_y <- c(28.39, 7.94, -2.75, 6.82, -0.64, 0.63, 18.01, 12.16)
  rubin_v <- c(14.9, 10.2, 16.3, 11.0, 9.4, 11.4, 10.4, 17.6)^2
  # Crins et al. (2014), acute rejection, log odds ratios (bayesmeta's CrinsEtAl2014, rows as printed there)
  crins <- escalc(measure = "OR", ai = c(14, 16, 3, 9, 4, 0), n1i = c(61, 28, 18, 54, 36, 50),
                  ci = c(15, 19, 8, 29, 11, 3), n2i = c(20, 28, 12, 54, 36, 34))
  # ALK-positive NSCLC after alectinib: objective responses / evaluable (data/response.tsv)
  alk_x <- c(3, 5, 3)   # OKAYAMA_crizotinib, ASCEND9_ceritinib, BRIGATINIB_post_alectinib_retro
  alk_n <- c(9, 20, 18)
  alk <- escalc(measure = "PLO", xi = alk_x, ni = alk_n)
  pag <- metadat::dat.pagliaro1992[metadat::dat.pagliaro1992$trt == "control", ]
  pagl <- escalc(measure = "PLO", xi = pag$xi, ni = pag$ni)
  bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = metadat::dat.bcg)
  cases <- list()
  if ("normal" %in% which) {
    rub <- "bayesmeta::Rubin1981 (Gelman et al. 1997, sec. 5.5): effect, stderr"
    cases <- c(cases, list(
      .bm_normal_case("rubin1981_halfcauchy25_normal50", rub, rubin_y, rubin_v, HC(25), MU_N(0, 50), c(0, 10),
                      note = "bayesmeta vignette schools.example.1"),
      .bm_normal_case("rubin1981_uniform_flat", rub, rubin_y, rubin_v, UNIF(), MU_FLAT, 0,
                      note = "bayesmeta vignette schools.example.2 (improper uniform tau prior)"),
      .bm_normal_case("rubin1981_halfnormal10_flat", rub, rubin_y, rubin_v, HN(10), MU_FLAT, 0),
      .bm_normal_case("crins2014_halfnormal05_flat", "bayesmeta::CrinsEtAl2014, escalc(measure = 'OR') of AR events",
                      crins$yi, crins$vi, HN(0.5), MU_FLAT, 0, "exp"),
      .bm_normal_case("crins2014_turner_normal", "bayesmeta::CrinsEtAl2014, escalc(measure = 'OR') of AR events",
                      crins$yi, crins$vi, TURNER, MU_N(0, 4), 0, "exp"),
      .bm_normal_case("crins2014_halfcauchy1_flat", "bayesmeta::CrinsEtAl2014, escalc(measure = 'OR') of AR events",
                      crins$yi, crins$vi, HC(1), MU_FLAT, c(-1, 0), "exp"),
      .bm_normal_case("alk_post_alectinib_halfnormal1_flat", "data/response.tsv ORR after alectinib, escalc(measure = 'PLO')",
                      alk$yi, alk$vi, HN(1), MU_FLAT, qlogis(0.2), "expit"),
      .bm_normal_case("alk_post_alectinib_uniform5_normal", "data/response.tsv ORR after alectinib, escalc(measure = 'PLO')",
                      alk$yi, alk$vi, UNIF(5), MU_N(0, 2), qlogis(0.2), "expit"),
      .bm_normal_case("alk_post_alectinib_uniform_flat", "data/response.tsv ORR after alectinib, escalc(measure = 'PLO')",
                      alk$yi, alk$vi, UNIF(), MU_FLAT, qlogis(0.2), "expit",
                      note = "k = 3 with the improper uniform prior: proper posterior, but E(tau) is infinite"),
      .bm_normal_case("okayama_k1_halfnormal05_flat", "OKAYAMA_crizotinib 3/9, escalc(measure = 'PLO')",
                      alk$yi[1], alk$vi[1], HN(0.5), MU_FLAT, qlogis(0.2), "expit", note = "k = 1"),
      .bm_normal_case("okayama_k1_halfcauchy1_normal", "OKAYAMA_crizotinib 3/9, escalc(measure = 'PLO')",
                      alk$yi[1], alk$vi[1], HC(1), MU_N(0, 2), qlogis(0.2), "expit", note = "k = 1"),
      .bm_normal_case("alk_k2_halft3_flat", "OKAYAMA_crizotinib 3/9 and ASCEND9_ceritinib 5/20, escalc(measure = 'PLO')",
                      alk$yi[1:2], alk$vi[1:2], HT(0.5, 3), MU_FLAT, qlogis(0.2), "expit", note = "k = 2"),
      .bm_normal_case("alk_k2_uniform_normal", "OKAYAMA_crizotinib 3/9 and ASCEND9_ceritinib 5/20, escalc(measure = 'PLO')",
                      alk$yi[1:2], alk$vi[1:2], UNIF(), MU_N(0, 2), qlogis(0.2), "expit",
                      note = "k = 2, improper uniform tau prior with a normal mu prior"),
      .bm_normal_case("pagliaro1992_control_halfnormal1_flat", "metadat::dat.pagliaro1992 control arms, escalc(measure = 'PLO')",
                      pagl$yi, pagl$vi, HN(1), MU_FLAT, qlogis(0.3), "expit", note = "one 0/n study (add 1/2)"),
      .bm_normal_case("pagliaro1992_control_rhodes_flat", "metadat::dat.pagliaro1992 control arms, escalc(measure = 'PLO')",
                      pagl$yi, pagl$vi, RHODES, MU_FLAT, qlogis(0.3), "expit", note = "one 0/n study (add 1/2)"),
      .bm_normal_case("bcg_halfcauchy05_flat", "metadat::dat.bcg, escalc(measure = 'RR')", bcg$yi, bcg$vi,
                      HC(0.5), MU_FLAT, c(-0.5, 0), "exp"),
      .bm_normal_case("bcg_lognormal_normal", "metadat::dat.bcg, escalc(measure = 'RR')", bcg$yi, bcg$vi,
                      LN(-1, 1), MU_N(0, 1), c(-0.5, 0), "exp")
    ))
  }
  if ("binomial" %in% which) {
    # Each binomial case takes ~3-25 CPU minutes (nested integrate() with uniroot()). Cases with k = 3 and
    # a flat mu prior were left out: they did not finish in the time available, and
    # "0/12, 3/9, 5/20 with Turner's prior" stopped with integrate()'s "roundoff error" at rel.tol 1e-9.
    cases <- c(cases, list(
      .bm_binomial_case("okayama_k1_binomial_halfnormal05_normal", "OKAYAMA_crizotinib 3/9",
                        3, 9, HN(0.5), MU_N(0, 2), qlogis(0.2), note = "k = 1"),
      .bm_binomial_case("zero_k1_binomial_uniform3_normal", "constructed: 0/10", 0, 10, UNIF(3), MU_N(0, 2),
                        qlogis(0.1), note = "k = 1, 0/n (a proper mu prior is needed)"),
      .bm_binomial_case("edge_all_events_k2_binomial_halft_normal", "constructed: 9/9 with ASCEND-9 5/20",
                        c(9, 5), c(9, 20), HT(1, 4), MU_N(0, 2), qlogis(0.3), note = "one n/n study, k = 2")
    ))
  }
  cases
}

fixture_bayes <- function(which = c("normal", "binomial")) {
  list(generated_by = generated_by("tests/reference/R/bayes.R"),
       description = paste(
         "Posterior summaries of the normal-normal and binomial-normal random-effects models computed with",
         "base R integrate() (tau integral of the conjugate mu | tau normal for the normal model; nested",
         "mu/tau integrals for the binomial model, study likelihoods by 40-node adaptive Gauss-Hermite, exact",
         "for 0/n and n/n studies where tau > 1) and",
         "uniroot() for quantiles; see tests/reference/R/bayes.R"),
       level = BM_LEVEL,
       cases = Filter(Negate(is.null), .bm_cases(which)))
}

# ---------------------------------------------------------------------------
# more binomial-normal cases (fixtures/bayes_binomial.json): k = 3 with a normal mu prior and the log-normal
# (Turner) family, with a flat mu prior and the half-normal family, and k = 2 with a flat mu prior;
# inner integrate() at rel.tol 1e-11. (Rhodes' log-t prior was left out: its density is infinite at tau = 0
# and the case took more than 7 CPU minutes in R, 5 in Python, without finishing in R.)
# ---------------------------------------------------------------------------
.bm_binomial_cases_more <- function() {
  alk <- "data/response.tsv ORR after alectinib: OKAYAMA_crizotinib 3/9, ASCEND9_ceritinib 5/20, BRIGATINIB_post_alectinib_retro 3/18"
  Filter(Negate(is.null), list(
    .bm_binomial_case("alk_k3_binomial_turner_normal", alk, c(3, 5, 3), c(9, 20, 18), TURNER, MU_N(0, 2),
                      qlogis(0.2), note = "k = 3, normal mu prior", inner_tol = 1e-11),
    .bm_binomial_case("alk_k2_binomial_halfnormal05_flat",
                      "data/response.tsv ORR after alectinib: ASCEND9_ceritinib 5/20, BRIGATINIB_post_alectinib_retro 3/18",
                      c(5, 3), c(20, 18), HN(0.5), MU_FLAT, qlogis(0.2), note = "k = 2, flat mu prior",
                      inner_tol = 1e-11),
    .bm_binomial_case("pagliaro1992_k3_binomial_halfnormal1_flat",
                      "metadat::dat.pagliaro1992, trt == 'control', studies 9, 13, 14 (xi, ni)",
                      c(2, 6, 9), c(25, 18, 22), HN(1), MU_FLAT, qlogis(0.3),
                      note = "k = 3 real data, flat mu prior", inner_tol = 1e-11)
  ))
}

fixture_bayes_binomial <- function() {
  list(generated_by = generated_by("tests/reference/R/bayes.R"),
       description = paste(
         "More binomial-normal posteriors (k = 2 and 3, flat and normal mu priors, half-normal and Turner",
         "log-normal tau priors) by nested base R integrate() (inner over mu at rel.tol",
         "1e-11, outer over tau at 1e-9; 40-node adaptive Gauss-Hermite study likelihoods) and uniroot()",
         "quantiles of mu and tau; theta_new by its mean and sd only; the cases of bayes.json are not",
         "repeated; see tests/reference/R/bayes.R"),
       level = BM_LEVEL, cases = .bm_binomial_cases_more())
}

# ---------------------------------------------------------------------------
# meta-analytic-predictive (MAP) prior (fixtures/bayes_map.json): the exact posterior predictive
# distribution of a new cohort's response rate p_new = plogis(theta_new) in the normal-normal model on
# the logit scale, theta_new | y = ∫ N(mu_hat(tau), V(tau) + tau^2) p(tau | y) dtau, by integrate() over tau
# ---------------------------------------------------------------------------
.bm_map_case <- function(name, source, y, v, tau_prior, mu_prior, points = c(0.05, 0.1, 0.2, 0.3, 0.5, 0.7),
                         probs = c(0.025, 0.25, 0.5, 0.75, 0.975)) {
  cat(name, "\n")
  dprior <- .bm_tau_prior(tau_prior)
  upper <- tau_prior$upper %||% Inf
  s0 <- .bm_prior_median(tau_prior)
  brk <- s0 * c(1 / 64, 1 / 16, 1 / 4, 1, 4, 16, 64, 256)
  brk <- brk[brk < upper]
  post <- .bm_tau_posterior(y, v, tau_prior, mu_prior, s0 * 10^seq(-4, 3, length.out = 400), brk)$post
  tint <- function(f) .bm_integrate(f, 0, upper, brk)
  comp <- function(t) { c <- .bm_cond(t, y, v, mu_prior); list(m = c$mhat, s = sqrt(c$V + t^2)) }
  cdf <- function(p) tint(function(t) { c <- comp(t); pz(post(t), pnorm(qlogis(p), c$m, c$s)) })
  pdf <- function(p) tint(function(t) { c <- comp(t); pz(post(t), dnorm(qlogis(p), c$m, c$s)) }) / (p * (1 - p))
  emom <- function(pw) tint(function(t) sapply(t, function(tt) {
    if (!is.finite(tt) || post(tt) == 0) return(0)
    c <- comp(tt)
    post(tt) * integrate(function(z) plogis(c$m + c$s * z)^pw * dnorm(z), -Inf, Inf, rel.tol = 1e-11)$value
  }))
  m1 <- emom(1)
  m2 <- emom(2)
  q <- sapply(probs, function(pr) uniroot(function(p) cdf(p) - pr, c(1e-12, 1 - 1e-12), tol = 1e-13)$root)
  list(name = name, source = source, yi = arr(y), vi = arr(v), tau_prior = tau_prior,
       mu_prior = list(mean = mu_prior$mean, sd = if (is.finite(mu_prior$sd)) mu_prior$sd else NA),
       points = arr(points), pdf = arr(sapply(points, pdf)), cdf = arr(sapply(points, cdf)),
       mean = m1, sd = sqrt(m2 - m1^2), probs = arr(probs), quantiles = arr(q))
}

fixture_bayes_map <- function() {
  alk <- escalc(measure = "PLO", xi = c(3, 5, 3), ni = c(9, 20, 18))
  src <- "data/response.tsv ORR after alectinib (3/9, 5/20, 3/18), escalc(measure = 'PLO')"
  list(generated_by = generated_by("tests/reference/R/bayes.R"),
       description = paste(
         "Posterior predictive distribution of a new cohort's response rate p_new = plogis(theta_new) in the",
         "normal-normal model on the logit scale (the exact distribution that the MAP prior's beta mixture",
         "approximates): density and CDF at points, mean, sd (E plogis by integrate() over z inside integrate()",
         "over tau) and quantiles by uniroot(); see tests/reference/R/bayes.R"),
       level = BM_LEVEL,
       cases = list(
         .bm_map_case("alk_map_halfnormal05_flat", src, alk$yi, alk$vi, HN(0.5), MU_FLAT),
         .bm_map_case("alk_map_halfnormal1_normal", src, alk$yi, alk$vi, HN(1), MU_N(0, 2)),
         .bm_map_case("alk_map_turner_flat", src, alk$yi, alk$vi, TURNER, MU_FLAT)))
}

# ---------------------------------------------------------------------------
# binomial-normal model with Rhodes' log-t prior (fixtures/bayes_binomial_logt.json). The nested
# integrate() of .bm_binomial_case took minutes per posterior with this prior (its density is infinite
# at tau = 0), so here only the outer integral is adaptive:
#   * outer: integrate() over u = log(tau) (where the prior is a smooth t density), at rel.tol 1e-11 on
#     pieces split at the prior's location +- (1, 2, 4, 8, 16, 40) scales; the integral over a whole
#     piece is memoised, so a CDF at q integrates only the piece that contains log(q);
#   * inner, over mu for each tau: a fixed composite Gauss-Legendre rule of `order` nodes per panel,
#     vectorised over all the taus of one integrate() call, on panels c +- s (0, 1, 2, 4, 8, 12, 24, 45)
#     around c, the precision-weighted mean of the empirical logits (x + 1/2 correction) given tau, with
#     s^2 = 1 / sum n_i p (1 - p) + tau^2 / k (p = plogis(c)), both with the normal mu prior as one
#     more study; the CDF of mu at q clips the panels at q;
#   * study likelihoods by the 40-node adaptive Gauss-Hermite rule of .bm_binom_loglik (as bayes.json), on
#     the theta scale where tau > 1 (.bm_binom_loglik_theta; the same rule: on the u scale the nodes of the
#     far tail, |mu| ~ tau ~ 1e10 and beyond, cancelled to nothing and integrate() stalled on the noise).
#     A 0/n or n/n study's likelihood is a step in theta on the scale of tau >> 1, where the rule's error
#     (~1e-3 between 40 and 81 nodes) reached E tau, SD(tau) and SD(theta_new): there (tau > 1) it is exact,
#     .bm_binom_loglik_edge.
# Cases are run one at a time (options(bm.only = <name>), 1.5-4 min each) and merged into the fixture.
# Every case is computed with order 20 and 40: the largest change of any reported number (the
# inner rule's convergence) is recorded as `inner_order_change` (and the order-40 numbers are kept).
# ---------------------------------------------------------------------------
.bm_gl <- function(n) {  # Gauss-Legendre nodes/weights on [-1, 1] by Golub-Welsch
  b <- seq_len(n - 1) / sqrt(4 * seq_len(n - 1)^2 - 1)
  J <- matrix(0, n, n)
  J[cbind(1:(n - 1), 2:n)] <- b
  J[cbind(2:n, 1:(n - 1))] <- b
  e <- eigen(J, symmetric = TRUE)
  o <- order(e$values)
  list(x = e$values[o], w = 2 * e$vectors[1, o]^2)
}

.bm_binomial_logt_run <- function(x, n, tau_prior, mu_prior, thresholds, order) {
  k <- length(x)
  gl <- .bm_gl(order)
  zp <- c(-45, -24, -12, -8, -4, -2, -1, 0, 1, 2, 4, 8, 12, 24, 45)
  yl <- qlogis((x + 0.5) / (n + 1))
  vl <- 1 / (x + 0.5) + 1 / (n - x + 0.5)
  dprior_u <- function(u) dt((u - tau_prior$mu) / tau_prior$sigma, tau_prior$df) / tau_prior$sigma
  lmu <- function(m) if (is.finite(mu_prior$sd)) dnorm(m, mu_prior$mean, mu_prior$sd, log = TRUE) else 0 * m
  centre <- function(tau) {
    W <- 1 / outer(tau^2, vl, "+")
    sw <- rowSums(W)
    swy <- drop(W %*% yl)
    if (is.finite(mu_prior$sd)) {
      sw <- sw + 1 / mu_prior$sd^2
      swy <- swy + mu_prior$mean / mu_prior$sd^2
    }
    cc <- swy / sw
    p <- plogis(cc)
    s2 <- 1 / (sum(n) * p * (1 - p)) + tau^2 / k  # per tau (p has one value per tau)
    if (is.finite(mu_prior$sd)) s2 <- 1 / (1 / s2 + 1 / mu_prior$sd^2)
    list(c = cc, s = sqrt(s2))
  }
  lref <- NULL  # log of the joint density's scale (set at the first call)
  P <- length(zp) - 1
  panel_nodes <- function(lo, hi) {  # GL nodes and log weights on [lo, hi] (vectors): T x order
    list(mu = outer((lo + hi) / 2, rep(1, order)) + outer((hi - lo) / 2, gl$x),
         lw = log(outer((hi - lo) / 2, gl$w)))
  }
  lj <- function(mu, tau) {  # log p(mu) + log prod L_i for matrices mu (T x M) and a vector tau
    matrix(lmu(as.vector(mu)) + .bm_binom_loglik_theta(as.vector(mu), rep(tau, ncol(mu)), x, n), nrow(mu))
  }
  memo <- new.env(hash = TRUE)  # per tau: panel limits, mu nodes and log(joint x weight) of all panels
  full <- function(tau) {
    keys <- sprintf("%.17g", tau)
    todo <- which(!vapply(keys, exists, logical(1), envir = memo, inherits = FALSE))
    if (length(todo)) {
      cs <- centre(tau[todo])
      edges <- outer(cs$c, rep(1, P + 1)) + outer(cs$s, zp)
      pn <- lapply(seq_len(P), function(j) panel_nodes(edges[, j], edges[, j + 1]))
      mu <- do.call(cbind, lapply(pn, `[[`, "mu"))
      lw <- do.call(cbind, lapply(pn, `[[`, "lw")) + lj(mu, tau[todo])
      for (r in seq_along(todo)) assign(keys[todo[r]], list(edges = edges[r, ], mu = mu[r, ], lw = lw[r, ]), envir = memo)
    }
    lapply(keys, function(kk) memo[[kk]])
  }
  # for a vector tau: mu nodes (T x M) and log(joint density x weight) (T x M), the mu range cut at upto
  # (whole panels below upto from the memo, the panel that contains upto by its own rule)
  nodes <- function(tau, upto = Inf) {
    f <- full(tau)
    mu <- do.call(rbind, lapply(f, `[[`, "mu"))
    lw <- do.call(rbind, lapply(f, `[[`, "lw"))
    upto <- rep_len(upto, length(tau))
    if (any(is.finite(upto))) {
      edges <- do.call(rbind, lapply(f, `[[`, "edges"))
      for (j in seq_len(P)) {
        cols <- (j - 1) * order + seq_len(order)
        above <- edges[, j] >= upto
        lw[above, cols] <- -Inf
        part <- which(edges[, j] < upto & edges[, j + 1] > upto)
        if (length(part)) {
          pn <- panel_nodes(edges[part, j], upto[part])
          mu[part, cols] <- pn$mu
          lw[part, cols] <- pn$lw + lj(pn$mu, tau[part])
        }
      }
    }
    list(mu = mu, lw = lw, tau = tau)
  }
  # outer integrand over u: p(u) * ∫ fun(mu, tau) p(mu) L(mu, tau) dmu / scale
  integrand <- function(fun, upto = Inf) function(u) {
    out <- numeric(length(u))
    tau <- exp(u)
    ok <- is.finite(u) & tau < 1e100 & tau > 0  # beyond: t_5 tail mass < 1e-11
    if (!any(ok)) return(out)
    nd <- nodes(tau[ok], upto)
    g <- exp(nd$lw - lref)
    g[!is.finite(g)] <- 0
    f <- fun(nd$mu, matrix(nd$tau, nrow(nd$mu), ncol(nd$mu)))
    out[ok] <- dprior_u(u[ok]) * rowSums(g * f)
    out
  }
  one <- function(m, t) 1 + 0 * m
  # reference scale: the joint log density at the centre for the prior median
  nd0 <- nodes(exp(tau_prior$mu))
  lref <- max(nd0$lw)
  brk <- tau_prior$mu + tau_prior$sigma * c(-40, -16, -8, -4, -2, -1, 0, 1, 2, 4, 8)
  piece_memo <- new.env(hash = TRUE)
  retries <- new.env()
  retries$n <- 0
  uint <- function(f, key, b = Inf) {  # ∫_{-Inf}^{b} f(u) du, whole pieces memoised under key
    pts <- c(-Inf, brk, Inf)
    s <- 0
    for (j in seq_len(length(pts) - 1)) {
      if (pts[j] >= b) break
      whole <- pts[j + 1] <= b
      pk <- paste(key, j)
      v <- if (whole) piece_memo[[pk]] else NULL
      if (is.null(v)) {
        v <- NULL
        for (tl in c(1e-11, 1e-10, 1e-9)) {  # a roundoff error at 1e-11 retries at 1e-10 (counted)
          v <- tryCatch(integrate(f, pts[j], if (whole) pts[j + 1] else b, rel.tol = tl, abs.tol = 1e-15,
                                  subdivisions = 2000L)$value, error = function(e) NULL)
          if (!is.null(v)) break
          retries$n <- retries$n + 1
        }
        if (whole) assign(pk, v, envir = piece_memo)
      }
      s <- s + v
    }
    s
  }
  Z <- uint(integrand(one), "Z")
  a <- (1 - BM_LEVEL) / 2
  tau_cdf <- function(q) if (q <= 0) 0 else uint(integrand(one), "Z", log(q)) / Z
  tq <- function(p) exp(uniroot(function(lq) tau_cdf(exp(lq)) - p, tau_prior$mu + c(-3, 3),
                                tol = 1e-13, extendInt = "upX", maxiter = 2000)$root)
  # moments: p(tau | x) ~ tau^-1 log(tau)^-(df + 1) tau^-k' as tau -> inf, with k' the number of studies with
  # 0 < x < n (0/n and n/n studies' likelihoods do not decay in tau), less one under a flat mu prior:
  # E tau^r is finite iff r <= k' (the log factor makes r = k' integrable)
  kp <- sum(x > 0 & x < n) - if (is.finite(mu_prior$sd)) 0 else 1
  t1 <- if (kp >= 1) uint(integrand(function(m, t) t), "t1") / Z else Inf
  t2 <- if (kp >= 2) uint(integrand(function(m, t) t^2), "t2") / Z else Inf
  tau_out <- list(median = tq(0.5), mean = t1, sd = if (kp >= 2) sqrt(t2 - t1^2) else Inf, ci_lower = tq(a),
                  ci_upper = tq(1 - a))
  mu_fin <- c(is.finite(mu_prior$sd) || kp >= 1, is.finite(mu_prior$sd) || kp >= 2)
  m1 <- if (mu_fin[1]) uint(integrand(function(m, t) m), "m1") / Z else Inf
  m2 <- if (mu_fin[2]) uint(integrand(function(m, t) m^2), "m2") / Z else Inf
  msd <- if (mu_fin[2]) sqrt(m2 - m1^2) else Inf
  mu_cdf <- function(q) uint(integrand(one, upto = q), paste("mu", sprintf("%.17g", q))) / Z
  ctr <- .bm_quantile(mu_cdf, 0.5, -1, 1, tol = 1e-12)
  mq <- function(p) .bm_quantile(mu_cdf, p, ctr - 1, ctr + 1, tol = 1e-12)
  b1 <- uint(integrand(function(m, t) plogis(m)), "b1") / Z
  b2 <- uint(integrand(function(m, t) plogis(m)^2), "b2") / Z
  mu_out <- list(median = ctr, mean = m1, sd = msd, ci_lower = mq(a), ci_upper = mq(1 - a),
                 bt_mean = b1, bt_sd = sqrt(b2 - b1^2))
  # P(theta_new <= q | tau) = ∫ p(mu | tau) pnorm(q, mu, tau) dmu: by the mu nodes where tau >= s; where tau < s
  # (pnorm is a step on the scale of the mu rule) as P(mu <= q - 8 tau | tau) plus a rule on panels
  # q + tau (-8, -4, -2, -1, 0, 1, 2, 4, 8)
  wz <- c(-8, -4, -2, -1, 0, 1, 2, 4, 8)
  new_integrand <- function(q) function(u) {
    out <- numeric(length(u))
    tau <- exp(u)
    ok <- which(is.finite(u) & tau < 1e100 & tau > 0)
    if (!length(ok)) return(out)
    tau <- tau[ok]
    small <- tau < centre(tau)$s
    val <- numeric(length(tau))
    if (any(!small)) {
      nd <- nodes(tau[!small])
      g <- exp(nd$lw - lref)
      g[!is.finite(g)] <- 0
      val[!small] <- rowSums(g * pnorm(q, nd$mu, matrix(nd$tau, nrow(nd$mu), ncol(nd$mu))))
    }
    if (any(small)) {
      ts <- tau[small]
      nd <- nodes(ts, q - 8 * ts)
      g <- exp(nd$lw - lref)
      g[!is.finite(g)] <- 0
      edges <- q + outer(ts, wz)
      win <- 0
      for (j in seq_len(length(wz) - 1)) {
        pn <- panel_nodes(edges[, j], edges[, j + 1])
        gw <- exp(pn$lw + lj(pn$mu, ts) - lref)
        gw[!is.finite(gw)] <- 0
        win <- win + rowSums(gw * pnorm(q, pn$mu, matrix(ts, length(ts), order)))
      }
      val[small] <- rowSums(g) + win
    }
    out[ok] <- dprior_u(u[ok]) * val
    out
  }
  new_cdf <- function(q) uint(new_integrand(q), paste("new", sprintf("%.17g", q))) / Z
  nsd <- if (kp >= 2) sqrt(m2 + t2 - m1^2) else Inf
  nq <- function(p) .bm_quantile(new_cdf, p, ctr - 1, ctr + 1, tol = 1e-12)
  new_out <- list(median = nq(0.5), mean = if (kp >= 1) m1 else Inf, sd = nsd, ci_lower = nq(a), ci_upper = nq(1 - a))
  list(mu = mu_out, tau = tau_out, theta_new = new_out,
       prob_mu_above = sapply(thresholds, function(c0) 1 - mu_cdf(c0)),
       prob_theta_new_above = sapply(thresholds, function(c0) 1 - new_cdf(c0)), retries = retries$n)
}

.bm_binomial_logt_case <- function(name, source, x, n, tau_prior, mu_prior, thresholds, note = NA) {
  if (!is.null(getOption("bm.only")) && !(name %in% getOption("bm.only"))) return(NULL)
  cat(name, "\n")
  t0 <- proc.time()[["elapsed"]]
  lo <- .bm_binomial_logt_run(x, n, tau_prior, mu_prior, thresholds, 20)
  hi <- .bm_binomial_logt_run(x, n, tau_prior, mu_prior, thresholds, 40)
  nums <- function(r) unlist(r[c("mu", "tau", "theta_new", "prob_mu_above", "prob_theta_new_above")])
  d <- abs(nums(hi) - nums(lo))
  change <- max(d[is.finite(d)])
  cat(sprintf("  %.1f s, order 20 -> 40 change %.2e\n", proc.time()[["elapsed"]] - t0, change))
  list(name = name, model = "binomial", source = source, note = note, k = length(x), events = arr(x),
       totals = arr(n), tau_prior = tau_prior,
       mu_prior = list(mean = mu_prior$mean, sd = if (is.finite(mu_prior$sd)) mu_prior$sd else NA),
       level = BM_LEVEL, transform = "expit", thresholds = arr(thresholds),
       mu = hi$mu, tau = hi$tau, theta_new = hi$theta_new,
       prob_mu_above = arr(hi$prob_mu_above), prob_theta_new_above = arr(hi$prob_theta_new_above),
       inner_order_change = change, integrate_retries = hi$retries + lo$retries)
}

# Not in the fixture: a single 0/10 study (k = 1, normal mu prior) and 9/9 with 5/20 (k = 2). With the theta-scale
# likelihoods the 0/10 case now converges here (integrate_retries 0, inner_order_change 1.5e-13; on the u scale
# integrate() failed on the noise of the stalled Newton steps at tau >> 1), but p(tau | x) keeps the prior's tail
# (upper 97.5% limit 22) where the 0/n likelihood is a step in theta on the scale of tau, and the 40-node rule
# and Python's 41 nodes differed by up to 7e-3 (theta_new's upper limit). Both sides now have the exact 0/n (n/n)
# likelihood (.bm_binom_loglik_edge, glmm.BoundaryLikelihood), but these two cases have not been rerun; the k = 3
# set with a 0/10 study stands in for them. To run them:
#   .bm_binomial_logt_case("zero_k1_binomial_rhodes_normal", "constructed: 0/10", 0, 10, RHODES, MU_N(0, 2),
#                          qlogis(0.1), note = "k = 1, 0/n")
#   .bm_binomial_logt_case("edge_all_events_k2_binomial_rhodes_normal", "constructed: 9/9 with ASCEND-9 5/20",
#                          c(9, 5), c(9, 20), RHODES, MU_N(0, 2), qlogis(0.3), note = "one n/n study, k = 2")
fixture_bayes_binomial_logt <- function() {
  alk <- "data/response.tsv ORR after alectinib: OKAYAMA_crizotinib 3/9, ASCEND9_ceritinib 5/20, BRIGATINIB_post_alectinib_retro 3/18"
  pag <- "metadat::dat.pagliaro1992, trt == 'control', studies 9, 13, 14 (xi, ni)"
  list(generated_by = generated_by("tests/reference/R/bayes.R"),
       description = paste(
         "Binomial-normal posteriors with Rhodes et al. (2015)'s log-t prior for tau (marginal setting), by",
         "integrate() over log(tau) at rel.tol 1e-11 of a fixed composite Gauss-Legendre rule over mu",
         "(14 panels, 40 nodes each; inner_order_change = largest change of any number from 20 to 40 nodes)",
         "with 40-node adaptive Gauss-Hermite study likelihoods (exact for 0/n and n/n studies where tau > 1),",
         "uniroot() quantiles at tol 1e-12;",
         "see tests/reference/R/bayes.R"),
       level = BM_LEVEL,
       cases = Filter(Negate(is.null), list(
         .bm_binomial_logt_case("okayama_k1_binomial_rhodes_normal", "OKAYAMA_crizotinib 3/9", 3, 9, RHODES,
                                MU_N(0, 2), qlogis(0.2), note = "k = 1"),
         .bm_binomial_logt_case("alk_k2_binomial_rhodes_flat",
                                "data/response.tsv ORR after alectinib: ASCEND9_ceritinib 5/20, BRIGATINIB_post_alectinib_retro 3/18",
                                c(5, 3), c(20, 18), RHODES, MU_FLAT, qlogis(0.2), note = "k = 2, flat mu prior"),
         .bm_binomial_logt_case("alk_k3_binomial_rhodes_normal", alk, c(3, 5, 3), c(9, 20, 18), RHODES, MU_N(0, 2),
                                qlogis(0.2), note = "k = 3, normal mu prior"),
         .bm_binomial_logt_case("zero_k3_binomial_rhodes_normal",
                                "constructed: 0/10 with ASCEND9_ceritinib 5/20, BRIGATINIB_post_alectinib_retro 3/18",
                                c(0, 5, 3), c(10, 20, 18), RHODES, MU_N(0, 2), qlogis(0.2),
                                note = "k = 3 with one 0/n study, normal mu prior"),
         .bm_binomial_logt_case("pagliaro1992_k3_binomial_rhodes_flat", pag, c(2, 6, 9), c(25, 18, 22), RHODES,
                                MU_FLAT, qlogis(0.3), note = "k = 3 real data, flat mu prior"))))
}
