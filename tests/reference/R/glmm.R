# Reference values for metapool.glmm (binomial-normal GLMM for single-arm
# proportions): metafor::rma.glmm(measure = "PLO", xi, ni, method = "ML",
# nAGQ = 7), which fits lme4::glmer(cbind(xi, ni - xi) ~ 1 + (1 | study),
# family = binomial, nAGQ = 7).
#
# Defines fixture_glmm(); make_reference.R (default mode) writes its value to
# tests/reference/fixtures/glmm.json. To write only this fixture (from the
# repository root):
#   Rscript -e 'source("tests/reference/R/glmm.R"); x <- fixture_glmm();
#     jsonlite::write_json(x, "tests/reference/fixtures/glmm.json", digits = NA,
#                          auto_unbox = TRUE, pretty = TRUE, na = "null")'
#
# In metafor 3.8-1 nAGQ is an argument of rma.glmm (default 7), not a control
# option. For each case we record
#   * rma.glmm's beta, se (sqrt(vcov(glmer)), i.e. from the inverse of
#     glmer's finite-difference Hessian in (theta, beta)), Wald z CI, tau2,
#     the inverse-logit of beta and its CI (predict(fit, transf = transf.ilogit)),
#     metafor's own fit.stats log-likelihood (ll.QE - deviance(glmer)/2, which
#     uses glmer's *conditional* deviance) and glmer's logLik() (for nAGQ > 1
#     minus half the AGQ deviance, i.e. relative to the saturated model);
#   * glmer's stage-2 deviance function (devFunOnly = TRUE, nAGQ = 7) evaluated
#     at the estimate and at a few other (theta, beta) points, so that the
#     quadrature can be checked independently of the optimiser;
#   * a refit of the same glmer with tight optimiser tolerances ("tight"),
#     which shows how far glmer's default stopping leaves it from the maximum.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(lme4)
  library(jsonlite)
})
if (!exists("add_metadat_proportions", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}

glmm_datasets <- function() {
  d <- list()
  add <- function(name, source, x, n, note = NA_character_) {
    ok <- !is.na(x) & !is.na(n)
    d[[length(d) + 1]] <<- list(name = name, source = source, note = note,
                                events = as.integer(x[ok]), totals = as.integer(n[ok]))
  }
  add_metadat_proportions(add)  # real data sets (those of make_reference.R's proportion_datasets())
  # constructed edge cases
  add("edge_one_zero", "constructed", c(0, 5, 8, 12, 3), c(20, 25, 30, 40, 15),
      "one study with 0 events")
  add("edge_one_all", "constructed", c(20, 18, 22, 15), c(20, 25, 30, 24),
      "one study with all events")
  add("edge_several_zero", "constructed", c(0, 0, 0, 2, 1, 4), c(10, 15, 30, 40, 25, 50),
      "several zero-event studies")
  add("edge_k2", "constructed", c(3, 12), c(9, 20), "k = 2")
  add("edge_wide_n", "constructed", c(2, 5, 31, 140, 260, 1320),
      c(5, 20, 100, 500, 1000, 5000), "n from 5 to 5000")
  add("edge_heterogeneous", "constructed", c(1, 9, 18, 27, 35), c(40, 30, 25, 30, 40),
      "large tau2")
  add("edge_alk_orr", "constructed", c(87, 68, 155, 21, 11), c(143, 133, 259, 26, 29),
      "ORR-like single-arm data")
  add("edge_extreme_heterogeneity", "constructed", c(0, 10, 1, 9), c(10, 10, 10, 10),
      "proportions 0, 1, 0.1, 0.9: tau2 about 20")
  d
}

# Data sets on which glmer cannot give a finite estimate (or refuses, or
# returns a number on the way to infinity).
glmm_failing_datasets <- function() {
  list(
    list(name = "edge_zero_and_all", events = c(0L, 10L, 0L, 10L), totals = c(10L, 10L, 10L, 10L),
         note = paste("studies with 0 or all events only: the likelihood increases with tau",
                      "without bound; glmer stops somewhere (tau2 ~ 3e4, beta ~ -14)")),
    list(name = "edge_all_zero", events = c(0L, 0L, 0L), totals = c(10L, 20L, 30L),
         note = "every study has 0 events: beta diverges to -Inf"),
    list(name = "edge_all_events", events = c(10L, 20L, 30L), totals = c(10L, 20L, 30L),
         note = "every study has all events: beta diverges to +Inf"),
    list(name = "edge_k1", events = 7L, totals = 19L,
         note = "k = 1: glmer needs a grouping factor with > 1 level")
  )
}

.glmm_devfun <- function(x, n) {
  study <- factor(seq_along(x))
  glmer(cbind(x, n - x) ~ 1 + (1 | study), family = binomial, nAGQ = 7,
        devFunOnly = TRUE, control = glmerControl(check.response.not.const = "ignore"))
}

glmm_case <- function(d, level) {
  x <- d$events; n <- d$totals
  # glmer stops on a constant response (identical proportions) unless told not to
  fit <- capture(muffle_messages = TRUE, rma.glmm(measure = "PLO", xi = x, ni = n, method = "ML",
                                nAGQ = 7, level = 100 * level, test = "z",
                                retfit = TRUE))
  out <- list(name = d$name, note = d$note, events = I(x), totals = I(n),
              level = level, error = fit$error, warnings = I(as.character(fit$warnings)))
  if (is.null(fit$value)) return(c(out, list(fitted = FALSE)))
  f <- fit$value
  g <- f$res.ML
  pr <- predict(f, transf = transf.ilogit)
  theta <- unname(getME(g, "theta"))
  beta <- unname(fixef(g))
  # deviance function of glmer's stage 2: argument c(theta, beta)
  dev <- .glmm_devfun(x, n)
  pts <- list(c(theta, beta), c(0, beta), c(theta + 0.3, beta - 0.2),
              c(0.5 * theta + 0.1, beta + 0.25))
  devpts <- lapply(pts, function(p) list(theta = p[1], beta = p[2], deviance = dev(p)))
  # the same model with tight optimiser tolerances
  tight <- capture(muffle_messages = TRUE, glmer(cbind(x, n - x) ~ 1 + (1 | study),
                               data = data.frame(x = x, n = n, study = factor(seq_along(x))),
                               family = binomial, nAGQ = 7,
                               control = glmerControl(optimizer = c("bobyqa", "bobyqa"),
                                                      optCtrl = list(rhoend = 1e-12, maxfun = 1e5),
                                                      check.response.not.const = "ignore")))
  tight_out <- if (is.null(tight$value)) list(error = tight$error) else {
    tg <- tight$value
    list(error = NA_character_, warnings = I(as.character(tight$warnings)),
         beta = unname(fixef(tg)), se = sqrt(unname(as.matrix(vcov(tg)))[1, 1]),
         tau2 = unname(getME(tg, "theta"))^2, loglik = as.numeric(logLik(tg)))
  }
  c(out, list(
    fitted = TRUE,
    k = f$k,
    beta = as.numeric(f$beta), se = as.numeric(f$se), zval = as.numeric(f$zval),
    pval = as.numeric(f$pval), ci_lb = as.numeric(f$ci.lb), ci_ub = as.numeric(f$ci.ub),
    tau2 = as.numeric(f$tau2), theta = theta,
    pred = as.numeric(pr$pred), pred_ci_lb = as.numeric(pr$ci.lb),
    pred_ci_ub = as.numeric(pr$ci.ub),
    loglik_glmer = as.numeric(logLik(g)),
    loglik_metafor = as.numeric(f$fit.stats["ll", "ML"]),
    deviance_glmer = as.numeric(deviance(g)),
    optimizer_conv = g@optinfo$conv$opt,
    lme4_messages = I(as.character(unlist(g@optinfo$conv$lme4$messages))),
    devfun = devpts,
    tight = tight_out
  ))
}

# Identical proportions: the ML estimate is tau2 = 0 (every study already
# attains its saturated binomial likelihood), but glmer stops ("Response is
# constant"; with check.response.not.const = "ignore", "pwrssUpdate did not
# converge"). The reference is the model at tau2 = 0, i.e. the fixed-effect
# logistic model rma.glmm(measure = "PLO", method = "EE") (a glm).
glmm_boundary_case <- function(name, x, n, level, note) {
  ml <- capture(muffle_messages = TRUE, rma.glmm(measure = "PLO", xi = x, ni = n, method = "ML",
                               nAGQ = 7, level = 100 * level))
  f <- rma.glmm(measure = "PLO", xi = x, ni = n, method = "EE", level = 100 * level,
                retfit = TRUE)
  pr <- predict(f, transf = transf.ilogit)
  list(name = name, note = note, events = I(as.integer(x)), totals = I(as.integer(n)),
       level = level, ml_error = ml$error, reference = "rma.glmm(measure = 'PLO', method = 'EE')",
       k = f$k, beta = as.numeric(f$beta), se = as.numeric(f$se),
       ci_lb = as.numeric(f$ci.lb), ci_ub = as.numeric(f$ci.ub), tau2 = 0,
       pred = as.numeric(pr$pred), pred_ci_lb = as.numeric(pr$ci.lb),
       pred_ci_ub = as.numeric(pr$ci.ub),
       loglik_glm = as.numeric(logLik(f$res.FE)))
}

fixture_glmm <- function() {
  ds <- glmm_datasets()
  cases <- list()
  for (d in ds) for (level in c(0.95, 0.90))
    cases[[length(cases) + 1]] <- glmm_case(d, level)
  failing <- lapply(glmm_failing_datasets(), function(d) glmm_case(d, 0.95))
  boundary <- list()
  for (level in c(0.95, 0.90)) {
    boundary[[length(boundary) + 1]] <- glmm_boundary_case(
      "edge_identical", c(10, 20, 40, 5), c(50, 100, 200, 25), level,
      "identical proportions (0.2): tau2 = 0; glmer cannot fit it")
    boundary[[length(boundary) + 1]] <- glmm_boundary_case(
      "edge_identical_k2", c(3, 30), c(10, 100), level,
      "identical proportions (0.3), k = 2")
  }
  list(
    generated_by = list(
      script = "tests/reference/R/glmm.R",
      R = R.version.string,
      metafor = as.character(packageVersion("metafor")),
      metadat = as.character(packageVersion("metadat")),
      lme4 = as.character(packageVersion("lme4")),
      jsonlite = as.character(packageVersion("jsonlite"))),
    description = paste(
      "metafor::rma.glmm(measure = 'PLO', xi = events, ni = totals, method = 'ML', nAGQ = 7,",
      "level, test = 'z'), i.e. lme4::glmer(cbind(x, n - x) ~ 1 + (1 | study), binomial, nAGQ = 7).",
      "beta/se/ci on the logit scale; pred/pred_ci_* = transf.ilogit of them; tau2 = theta^2;",
      "loglik_glmer = logLik(glmer fit), which for nAGQ > 1 is -(AGQ deviance)/2, i.e. the marginal",
      "log-likelihood minus the saturated binomial log-likelihood (lme4 issue #161);",
      "loglik_metafor = fit.stats ll (ll.QE - deviance(glmer)/2, glmer's conditional deviance);",
      "devfun = glmer's stage-2 deviance function (devFunOnly = TRUE) at (theta, beta) points;",
      "tight = the same glmer with bobyqa rhoend = 1e-12 in both stages;",
      "failing = data sets where rma.glmm/glmer stop or cannot give a finite estimate;",
      "boundary = identical proportions, where glmer stops and the ML fit is the EE (glm) fit."),
    cases = cases,
    failing = failing,
    boundary = boundary
  )
}
