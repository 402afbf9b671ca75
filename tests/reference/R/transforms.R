# Reference values for the proportion transforms (Freeman-Tukey double arcsine,
# arcsine square root, raw proportion), their back-transformations, the
# per-study CIs (Wilson, Jeffreys, Agresti-Coull) and the Q-profile
# confidence intervals on those scales.
#
# Sourced by tests/reference/make_reference.R (default mode), which writes
# fixture_transforms() to tests/reference/fixtures/transforms.json. To write only
# this fixture (from the repository root):
#   Rscript -e 'source("tests/reference/R/transforms.R"); x <- fixture_transforms();
#     jsonlite::write_json(x, "tests/reference/fixtures/transforms.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
#
# Needs metafor (3.8-1 was used), metadat and jsonlite, and R/lib/helpers.R.
# Neither binom nor meta is packaged for Debian, so the Wilson, Jeffreys and
# Agresti-Coull limits are computed here from their formulas (Brown, Cai &
# DasGupta, Stat Sci 2001;16:101-133), with Wilson also taken from
# stats::prop.test(correct = FALSE) as an independent implementation.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})
if (!exists("add_metadat_proportions", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}

# ---------------------------------------------------------------------------
# Data sets: the metadat proportions of make_reference.R plus edge cases
# ---------------------------------------------------------------------------

.tr_datasets <- function() {
  d <- list()
  add <- function(name, source, x, n, note = NA_character_) {
    ok <- !is.na(x) & !is.na(n)
    d[[length(d) + 1]] <<- list(name = name, source = source, note = note,
                                events = arr(as.integer(x[ok])),
                                totals = arr(as.integer(n[ok])))
  }
  add_metadat_proportions(add, except = "obrien2003_grp1")
  add("edge_one_zero", "constructed", c(0, 5, 8, 12, 3), c(20, 25, 30, 40, 15), "one study with 0 events")
  add("edge_one_all", "constructed", c(20, 18, 22, 15), c(20, 25, 30, 24), "one study with all events")
  add("edge_several_zero", "constructed", c(0, 0, 0, 2, 1, 4), c(10, 15, 30, 40, 25, 50),
      "several zero-event studies")
  add("edge_all_zero", "constructed", c(0, 0, 0), c(10, 20, 30), "every study has 0 events")
  add("edge_all_all", "constructed", c(10, 20, 30), c(10, 20, 30), "every study has all events")
  add("edge_k1", "constructed", 7, 19, "k = 1")
  add("edge_k2", "constructed", c(3, 12), c(9, 20), "k = 2")
  add("edge_identical", "constructed", c(10, 20, 40, 5), c(50, 100, 200, 25),
      "identical proportions (0.2)")
  add("edge_wide_n", "constructed", c(2, 5, 31, 140, 260, 1320), c(5, 20, 100, 500, 1000, 5000),
      "n from 5 to 5000 (the harmonic mean matters for the FT back-transformation)")
  add("alk_orr_like", "constructed, ORR-like", c(3, 58, 87, 68, 155, 21), c(9, 75, 143, 133, 259, 26),
      "response rates like the workflow's")
  d
}

# ---------------------------------------------------------------------------
# Pooled fits: rma(measure = PFT / PAS / PR) + predict(transf = ...)
# ---------------------------------------------------------------------------

.tr_measures <- list(
  freeman_tukey = list(measure = "PFT", bt = "transf.ipft.hm(targs = list(ni = totals))"),
  arcsine = list(measure = "PAS", bt = "transf.iarcsin"),
  raw = list(measure = "PR", bt = "identity")
)

.tr_confint <- function(fit) {
  res <- capture(confint(fit))
  if (is.null(res$value)) {
    return(list(type = "QP", error = res$error, warnings = arr(res$warnings)))
  }
  rnd <- res$value$random
  row <- function(r) list(estimate = num(rnd[r, "estimate"]), ci_lb = num(rnd[r, "ci.lb"]),
                          ci_ub = num(rnd[r, "ci.ub"]))
  list(type = "QP", error = NA_character_, warnings = arr(res$warnings),
       ci_null = isTRUE(res$value$ci.null), lb_sign = res$value$lb.sign, ub_sign = res$value$ub.sign,
       tau2 = row("tau^2"), tau = row("tau"), I2 = row("I^2(%)"), H2 = row("H^2"))
}

.tr_case <- function(d, transform, method, test, level) {
  m <- .tr_measures[[transform]]
  x <- as.numeric(d$events); n <- as.numeric(d$totals)
  es <- escalc(measure = m$measure, xi = x, ni = n)
  out <- list(name = d$name, transform = transform, measure = m$measure, events = arr(x),
              totals = arr(n), method = method, test = test, level = level,
              yi = arr(es$yi), vi = arr(es$vi), bt_transform = m$bt)
  res <- capture(rma(measure = m$measure, xi = x, ni = n, method = method, test = test, level = level))
  if (is.null(res$value)) {
    return(c(out, list(converged = FALSE, error = res$error, warnings = arr(res$warnings))))
  }
  fit <- res$value
  pr <- predict(fit)
  prt <- switch(transform,
                freeman_tukey = predict(fit, transf = transf.ipft.hm, targs = list(ni = n)),
                arcsine = predict(fit, transf = transf.iarcsin),
                raw = predict(fit))
  c(out, list(
    converged = TRUE, error = NA_character_, warnings = arr(res$warnings),
    test_used = fit$test,
    beta = num(fit$beta), se = num(fit$se),
    ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
    pi_lb = num(pr$pi.lb), pi_ub = num(pr$pi.ub),
    bt_pred = num(prt$pred), bt_ci_lb = num(prt$ci.lb), bt_ci_ub = num(prt$ci.ub),
    bt_pi_lb = num(prt$pi.lb), bt_pi_ub = num(prt$pi.ub),
    harmonic_mean_n = 1 / mean(1 / n),
    tau2 = num(fit$tau2), I2 = num(fit$I2), H2 = num(fit$H2),
    QE = num(fit$QE), QEp = num(fit$QEp), k = as.integer(fit$k),
    weights = arr(weights(fit)),
    confint = .tr_confint(fit)
  ))
}

.tr_pooled_cases <- function(ds) {
  cases <- list()
  for (d in ds) for (transform in names(.tr_measures)) for (method in c("DL", "REML"))
    for (test in c("z", "knha")) {
      levels <- if (method == "REML" && test == "z") c(0.95, 0.90) else 0.95
      for (level in levels) cases[[length(cases) + 1]] <- .tr_case(d, transform, method, test, level)
    }
  cases
}

# Raw proportions without continuity correction: 0 or n events give vi = 0,
# which metafor's DL and EE refuse (rma(measure = "PR", add = 0) itself fails
# in metafor 3.8-1 with "object 'vi0' not found", so escalc + rma(yi, vi)).
.tr_refusals <- function() {
  x <- c(0, 5, 8, 12, 3); n <- c(20, 25, 30, 40, 15)
  es <- escalc(measure = "PR", xi = x, ni = n, add = 0)
  fits <- list()
  for (method in c("EE", "DL", "REML")) {
    res <- capture(rma(yi, vi, data = es, method = method))
    fits[[length(fits) + 1]] <- list(method = method, error = res$error,
                                     warnings = arr(res$warnings),
                                     converged = !is.null(res$value))
  }
  list(events = arr(x), totals = arr(n), add = 0, yi = arr(es$yi), vi = arr(es$vi),
       fits = fits)
}

# ---------------------------------------------------------------------------
# Per-study CIs and the back-transformations on a grid
# ---------------------------------------------------------------------------

.tr_study_cis <- function() {
  ns <- c(1, 2, 5, 9, 10, 19, 26, 50, 75, 133, 259, 1000, 5000)
  out <- list()
  for (n in ns) {
    xs <- unique(c(0, 1, floor(n / 3), floor(n / 2), n - 1, n))
    xs <- xs[xs >= 0 & xs <= n]
    for (x in xs) for (level in c(0.9, 0.95, 0.99)) {
      alpha <- 1 - level
      z <- qnorm(1 - alpha / 2)
      p <- x / n
      # Wilson (score) interval, Brown et al. (2001) eq. (4), ends as prop.test
      wc <- (x + z^2 / 2) / (n + z^2)
      wh <- z * sqrt(n) / (n + z^2) * sqrt(p * (1 - p) + z^2 / (4 * n))
      w_lb <- if (x == 0) 0 else wc - wh
      w_ub <- if (x == n) 1 else wc + wh
      pt <- suppressWarnings(stats::prop.test(x, n, conf.level = level, correct = FALSE))$conf.int
      # Jeffreys, Brown et al. (2001) section 4.1.2
      j_lb <- if (x == 0) 0 else qbeta(alpha / 2, x + 0.5, n - x + 0.5)
      j_ub <- if (x == n) 1 else qbeta(1 - alpha / 2, x + 0.5, n - x + 0.5)
      # Agresti-Coull, Brown et al. (2001) section 4.1.1, truncated to [0, 1]
      nt <- n + z^2; ptl <- (x + z^2 / 2) / nt
      ah <- z * sqrt(ptl * (1 - ptl) / nt)
      cp <- stats::binom.test(x, n, conf.level = level)$conf.int
      out[[length(out) + 1]] <- list(
        x = as.integer(x), n = as.integer(n), level = level,
        clopper_pearson = arr(c(cp[1], cp[2])),
        wilson = arr(c(w_lb, w_ub)),
        wilson_prop_test = arr(c(pt[1], pt[2])),
        jeffreys = arr(c(j_lb, j_ub)),
        agresti_coull = arr(c(max(0, ptl - ah), min(1, ptl + ah))),
        agresti_coull_untruncated = arr(c(ptl - ah, ptl + ah))
      )
    }
  }
  out
}

.tr_backtransforms <- function() {
  ts <- c(-0.5, -0.01, 0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, pi / 4, 0.9, 1.1, 1.3, 1.5, 1.55,
          pi / 2, 1.6, 2)
  ft <- lapply(list(c(10, 20, 30), c(5, 20, 100, 500, 1000, 5000), 7, c(1, 2)), function(ni) {
    list(ni = arr(ni), harmonic_mean = 1 / mean(1 / ni), t = arr(ts),
         ipft_hm = arr(transf.ipft.hm(ts, targs = list(ni = ni))))
  })
  pft <- lapply(c(1, 7, 19.5, 100), function(n) {
    ps <- c(0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 1)
    list(n = n, p = arr(ps), pft = arr(transf.pft(ps, n)), ipft = arr(transf.ipft(transf.pft(ps, n), n)))
  })
  list(t = arr(ts), iarcsin = arr(transf.iarcsin(ts)), arcsin = arr(transf.arcsin(seq(0, 1, 0.125))),
       arcsin_p = arr(seq(0, 1, 0.125)), ipft_hm = ft, pft = pft)
}

fixture_transforms <- function() {
  ds <- .tr_datasets()
  list(
    generated_by = list(
      script = "tests/reference/R/transforms.R",
      R = R.version.string,
      metafor = as.character(packageVersion("metafor")),
      metadat = as.character(packageVersion("metadat")),
      jsonlite = as.character(packageVersion("jsonlite"))
    ),
    description = paste(
      "cases: rma(measure = 'PFT' | 'PAS' | 'PR', xi = events, ni = totals, method, test, level)",
      "(escalc defaults: no correction for PFT/PAS, add = 1/2 to = 'only0' for PR);",
      "beta/ci/pi on the model scale from fit and predict(fit); bt_* from predict(fit, transf =",
      "transf.ipft.hm, targs = list(ni = totals)) | transf.iarcsin | none; confint = Q-profile confint(fit).",
      "study_cis: Clopper-Pearson (binom.test), Wilson (formula and prop.test(correct = FALSE)),",
      "Jeffreys (qbeta(alpha/2, x + .5, n - x + .5), 0/1 at x = 0/n), Agresti-Coull (formula,",
      "truncated to [0, 1]; untruncated too). backtransforms: transf.ipft.hm, transf.ipft, transf.pft,",
      "transf.iarcsin, transf.arcsin on grids. raw_without_correction: escalc(measure = 'PR', add = 0)",
      "and what rma(yi, vi, method) does with vi = 0."),
    datasets = lapply(ds, function(d) d[c("name", "source", "note", "events", "totals")]),
    cases = .tr_pooled_cases(ds),
    raw_without_correction = .tr_refusals(),
    study_cis = .tr_study_cis(),
    backtransforms = .tr_backtransforms()
  )
}
