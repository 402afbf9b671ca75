# Reference values for the metafor parity of the stats layer: the test for the overall effect
# (zval, pval) of subgroup fits, Paule-Mandel's search interval (tau2.max = max(100, 10 * mad(yi)^2)),
# the control of the iterative estimators (threshold, maxiter, stepadj) and escalc's continuity
# correction (add, to = "only0" / "all" / "if0all" / "none") of proportions.
#
# fixture_parity() returns the list written to tests/reference/fixtures/parity.json; from the
# repository root:
#   Rscript -e 'source("tests/reference/R/parity.R"); x <- fixture_parity();
#     jsonlite::write_json(x, "tests/reference/fixtures/parity.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
# Read by tests/stats/test_parity.py.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})
if (!exists("generated_by", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}

# the fields of an rma.uni fit the tests compare; iterations counted from verbose output
.par_fit <- function(yi, vi, ...) {
  out <- NULL
  printed <- utils::capture.output(out <- capture(rma(yi, vi, ..., verbose = TRUE), muffle_messages = TRUE))
  if (is.null(out$value)) {
    return(list(converged = FALSE, error = out$error, warnings = out$warnings))
  }
  f <- out$value
  list(converged = TRUE, error = NA_character_, warnings = out$warnings, k = f$k,
       iterations = length(grep("^Iteration", printed)),
       beta = num(f$beta), se = num(f$se), zval = num(f$zval), pval = num(f$pval),
       ddf = num(f$ddf), ci_lb = num(f$ci.lb), ci_ub = num(f$ci.ub), tau2 = num(f$tau2),
       QE = num(f$QE), QEp = num(f$QEp), I2 = num(f$I2), H2 = num(f$H2))
}

.par_normand <- function() {
  escalc(measure = "MD", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
         data = metadat::dat.normand1999)
}

.par_pm <- function() {
  d <- .par_normand()
  c(list(name = "normand1999", source = "metadat::dat.normand1999, escalc(measure = 'MD')",
         yi = arr(d$yi), vi = arr(d$vi), tau2_max = max(100, 10 * mad(d$yi)^2)),
    .par_fit(d$yi, d$vi, method = "PM"))
}

.par_control <- function() {
  d <- .par_normand()
  bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = metadat::dat.bcg)
  sets <- list(normand1999 = d, bcg = bcg)
  controls <- list(
    default = list(),
    threshold_1e_10 = list(threshold = 1e-10),
    threshold_1e_2 = list(threshold = 1e-2),
    stepadj_0_5 = list(stepadj = 0.5),
    stepadj_0_1_maxiter_20 = list(stepadj = 0.1, maxiter = 20),
    maxiter_2 = list(maxiter = 2),
    pm_maxiter_3 = list(maxiter = 3)
  )
  cases <- list()
  for (ds in names(sets)) {
    for (cn in names(controls)) {
      methods <- if (startsWith(cn, "pm_")) "PM" else c("ML", "REML", "EB")
      for (m in methods) {
        cases[[length(cases) + 1]] <- c(
          list(dataset = ds, control_name = cn, control = controls[[cn]], method = m,
               yi = arr(sets[[ds]]$yi), vi = arr(sets[[ds]]$vi)),
          .par_fit(sets[[ds]]$yi, sets[[ds]]$vi, method = m, control = controls[[cn]]))
      }
    }
  }
  cases
}

.par_continuity <- function() {
  sets <- list(
    one_zero = list(x = c(0, 5, 8, 12, 3), n = c(20, 25, 30, 40, 15)),
    one_all = list(x = c(20, 18, 22, 15), n = c(20, 25, 30, 24)),
    no_zero = list(x = c(3, 58, 87, 68, 155, 21), n = c(9, 75, 143, 133, 259, 26))
  )
  cases <- list()
  for (ds in names(sets)) {
    for (measure in c("PLO", "PR")) {
      for (to in c("only0", "all", "if0all", "none")) {
        for (add in c(0.5, 0.25)) {
          s <- sets[[ds]]
          es <- escalc(measure = measure, xi = s$x, ni = s$n, add = add, to = to)
          fit <- capture(rma(es$yi, es$vi, method = "REML"), muffle_messages = TRUE)
          f <- fit$value
          cases[[length(cases) + 1]] <- list(
            name = ds, measure = measure, to = to, add = add, events = arr(s$x), totals = arr(s$n),
            yi = arr(as.numeric(es$yi)), vi = arr(as.numeric(es$vi)),
            converged = !is.null(f), error = fit$error, warnings = fit$warnings,
            k = if (is.null(f)) NA else f$k, tau2 = if (is.null(f)) NA else num(f$tau2),
            beta = if (is.null(f)) NA else num(f$beta), se = if (is.null(f)) NA else num(f$se),
            zval = if (is.null(f)) NA else num(f$zval), pval = if (is.null(f)) NA else num(f$pval))
        }
      }
    }
  }
  cases
}

.par_subgroups <- function() {
  bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = metadat::dat.bcg)
  cases <- list()
  for (m in c("EE", "DL", "REML")) {
    for (test in c("z", "knha")) {
      groups <- list()
      for (g in sort(unique(as.character(bcg$alloc)))) {
        s <- bcg$alloc == g
        groups[[g]] <- .par_fit(bcg$yi[s], bcg$vi[s], method = m, test = test)
      }
      cases[[length(cases) + 1]] <- list(dataset = "bcg", group_var = "alloc", method = m, test = test,
                                         yi = arr(bcg$yi), vi = arr(bcg$vi),
                                         groups = arr(as.character(bcg$alloc)), fits = groups)
    }
  }
  cases
}

fixture_parity <- function() {
  list(
    generated_by = generated_by("tests/reference/R/parity.R"),
    description = paste(
      "pm: rma(yi, vi, method = 'PM') on dat.normand1999 mean differences (tau2.max = max(100, 10 mad(yi)^2));",
      "control: rma(yi, vi, method, control = list(threshold, maxiter, stepadj)), iterations counted from verbose;",
      "continuity: escalc(measure = PLO | PR, xi, ni, add, to) then rma(method = 'REML');",
      "subgroups: rma(yi, vi, method, test) on each alloc subgroup of dat.bcg (log risk ratios)"),
    pm = .par_pm(),
    control = .par_control(),
    continuity = .par_continuity(),
    subgroups = .par_subgroups()
  )
}
