#!/usr/bin/env Rscript
# Reference values from R (stats::binom.test and metafor) for the Python
# meta-analysis engine's tests.
#
# Usage (from the repository root):
#   Rscript tests/reference/make_reference.R
#       writes tests/reference/fixtures/clopper_pearson.json,
#              tests/reference/fixtures/proportions.json,
#              tests/reference/fixtures/inverse_variance.json
#   Rscript tests/reference/make_reference.R --analyses \
#       [--results-dir results/default] [--output tests/reference/fixtures/default_analyses.json]
#       reads the default plan's results (results/default/) and writes fixtures/default_analyses.json
#
# Every JSON file is written with
#   jsonlite::write_json(x, path, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
# so doubles keep jsonlite's maximum precision (15 significant digits) and
# missing / undefined values (NA, NaN, Inf) become JSON null. Arrays that
# hold per-study values are always JSON arrays, even when k = 1.
#
# CI never runs this script: the tests read the committed JSON files.

suppressPackageStartupMessages({
  library(metafor)   # attaches metadat too
  library(metadat)
  library(jsonlite)
})

# ---------------------------------------------------------------------------
# Paths and provenance
# ---------------------------------------------------------------------------

script_path <- function() {
  a <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(a) == 0) return(file.path("tests", "reference", "make_reference.R"))
  normalizePath(sub("^--file=", "", a[1]), mustWork = FALSE)
}
FIXTURES_DIR <- file.path(dirname(script_path()), "fixtures")

pkg_version <- function(si, name) {
  for (lst in list(si$otherPkgs, si$loadedOnly)) {
    if (!is.null(lst[[name]])) return(lst[[name]]$Version)
  }
  as.character(utils::packageVersion(name))
}

# (not named generated_by: R/lib/helpers.R, sourced below, defines that one for the R/<topic>.R scripts)
script_generated_by <- function(mode) {
  si <- utils::sessionInfo()
  list(
    script = "tests/reference/make_reference.R",
    mode = mode,
    R = si$R.version$version.string,
    R_version = paste(si$R.version$major, si$R.version$minor, sep = "."),
    metafor = pkg_version(si, "metafor"),
    metadat = pkg_version(si, "metadat"),
    jsonlite = pkg_version(si, "jsonlite"),
    platform = si$platform
  )
}

source(file.path(dirname(script_path()), "R", "lib", "helpers.R"))  # num, arr, capture, write_fixture, ...

METHODS <- c("EE", "DL", "HE", "SJ", "ML", "REML", "EB", "PM")
TESTS <- c("z", "knha")
LEVELS <- c(0.95, 0.90)

# ---------------------------------------------------------------------------
# Fit summary shared by all fixtures
# ---------------------------------------------------------------------------

BT <- list(ilogit = metafor::transf.ilogit, exp = exp, identity = identity)

# Q-profile CIs for tau2/tau/I2/H2 (confint(fit), default type "QP")
confint_summary <- function(fit) {
  res <- capture(confint(fit))
  if (is.null(res$value)) {
    return(list(type = "QP", error = res$error, warnings = arr(res$warnings)))
  }
  rnd <- res$value$random
  row <- function(r) list(estimate = num(rnd[r, "estimate"]),
                          ci_lb = num(rnd[r, "ci.lb"]),
                          ci_ub = num(rnd[r, "ci.ub"]))
  list(
    type = "QP",
    error = NA_character_,
    warnings = arr(res$warnings),
    # TRUE when metafor reports the CI as the null/empty set
    # (both bounds below tau2 = 0); ci_lb/ci_ub are then metafor's numbers
    ci_null = isTRUE(res$value$ci.null),
    tau2 = row("tau^2"),
    tau = row("tau"),
    I2 = row("I^2(%)"),
    H2 = row("H^2")
  )
}

# fit_fun() returns an rma.uni fit; transform is "ilogit" or "exp"
fit_summary <- function(fit_fun, method, transform) {
  res <- capture(fit_fun())
  if (is.null(res$value)) {
    return(list(converged = FALSE, error = res$error, warnings = arr(res$warnings)))
  }
  fit <- res$value
  pr_res <- capture(predict(fit))
  warns <- c(res$warnings, pr_res$warnings)
  if (is.null(pr_res$value)) {
    return(list(converged = FALSE, error = paste("predict():", pr_res$error),
                warnings = arr(warns)))
  }
  pr <- pr_res$value
  has_pi <- !is.null(pr$pi.lb) && method != "EE"
  pi_lb <- if (has_pi) num(pr$pi.lb) else num(pr$ci.lb)
  pi_ub <- if (has_pi) num(pr$pi.ub) else num(pr$ci.ub)
  bt <- BT[[transform]]
  out <- list(
    converged = TRUE,
    error = NA_character_,
    warnings = arr(warns),
    test_used = fit$test,             # metafor switches knha -> z when k = 1
    beta = num(fit$beta),
    se = num(fit$se),
    stat = num(fit$zval),            # z or t statistic (null when +-Inf, e.g. se = 0)
    pval = num(fit$pval),
    ci_lb = num(fit$ci.lb),
    ci_ub = num(fit$ci.ub),
    pi_lb = pi_lb,
    pi_ub = pi_ub,
    pi_is_ci = !has_pi,
    bt_transform = transform,
    bt_pred = bt(num(fit$beta)),
    bt_ci_lb = bt(num(fit$ci.lb)),
    bt_ci_ub = bt(num(fit$ci.ub)),
    bt_pi_lb = bt(pi_lb),
    bt_pi_ub = bt(pi_ub),
    tau2 = num(fit$tau2),
    tau = sqrt(num(fit$tau2)),
    se_tau2 = num(fit$se.tau2),
    I2 = num(fit$I2),                 # percent
    H2 = num(fit$H2),
    QE = num(fit$QE),
    QEp = num(fit$QEp),
    k = as.integer(fit$k),
    df = as.integer(fit$k - 1L),
    ddf = num(fit$ddf),               # t df for knha, null for z
    pi_ddf = num(pr$pi.ddf),          # df for the prediction interval (knha)
    weights = arr(weights(fit)),      # percent, sums to 100
    confint = if (method == "EE") NA else confint_summary(fit)
  )
  out
}

# ---------------------------------------------------------------------------
# 1. Clopper-Pearson
# ---------------------------------------------------------------------------

clopper_pearson_cases <- function() {
  ns <- c(1, 2, 3, 4, 5, 7, 9, 10, 13, 20, 25, 26, 33, 50, 77, 100, 133, 143,
          259, 500, 1000, 2500, 5000)
  pairs <- list()
  for (n in ns) {
    xs <- unique(c(0, 1, 2, floor(n / 3), floor(n / 2), n - 2, n - 1, n))
    xs <- xs[xs >= 0 & xs <= n]
    for (x in xs) pairs[[length(pairs) + 1]] <- c(x, n)
  }
  extra <- list(c(3, 9), c(87, 143), c(68, 133), c(155, 259), c(21, 26),
                c(11, 29), c(16, 17), c(4, 8), c(1, 5000), c(4999, 5000),
                c(2500, 5000), c(17, 1000), c(7, 19), c(123, 4567))
  pairs <- c(pairs, extra)
  key <- vapply(pairs, function(p) paste(p, collapse = "/"), "")
  pairs <- pairs[!duplicated(key)]
  cases <- list()
  for (p in pairs) for (level in c(0.8, 0.9, 0.95, 0.99)) {
    ci <- stats::binom.test(p[1], p[2], conf.level = level)$conf.int
    cases[[length(cases) + 1]] <- list(x = as.integer(p[1]), n = as.integer(p[2]),
                                      level = level, lower = ci[1], upper = ci[2])
  }
  list(
    generated_by = script_generated_by("default"),
    description = paste("Exact (Clopper-Pearson) two-sided binomial CIs:",
                        "stats::binom.test(x, n, conf.level = level)$conf.int"),
    cases = cases
  )
}

# ---------------------------------------------------------------------------
# 2. Proportions (logit, measure = "PLO")
# ---------------------------------------------------------------------------

proportion_datasets <- function() {
  d <- list()
  add <- function(name, source, x, n, note = NULL) {
    ok <- !is.na(x) & !is.na(n)
    d[[length(d) + 1]] <<- list(name = name, source = source,
                                note = if (is.null(note)) NA_character_ else note,
                                events = arr(as.integer(x[ok])), totals = arr(as.integer(n[ok])))
  }
  add_metadat_proportions(add)  # real data sets from metadat
  # constructed edge cases
  add("edge_one_zero", "constructed", c(0, 5, 8, 12, 3), c(20, 25, 30, 40, 15),
      "one study with 0 events")
  add("edge_one_all", "constructed", c(20, 18, 22, 15), c(20, 25, 30, 24),
      "one study with all events")
  add("edge_several_zero", "constructed", c(0, 0, 0, 2, 1, 4), c(10, 15, 30, 40, 25, 50),
      "several zero-event studies")
  add("edge_all_zero", "constructed", c(0, 0, 0), c(10, 20, 30),
      "every study has 0 events")
  add("edge_k1", "constructed", 7, 19, "k = 1")
  add("edge_k2", "constructed", c(3, 12), c(9, 20), "k = 2")
  add("edge_identical", "constructed", c(10, 20, 40, 5), c(50, 100, 200, 25),
      "identical proportions (0.2): QE = 0, tau2 = 0")
  add("edge_wide_n", "constructed", c(2, 5, 31, 140, 260, 1320),
      c(5, 20, 100, 500, 1000, 5000), "n from 5 to 5000")
  d
}

proportion_case <- function(name, x, n, method, test, level) {
  es <- escalc(measure = "PLO", xi = x, ni = n)   # add = 1/2, to = "only0"
  hd <- list(name = name, events = arr(x), totals = arr(n),
               method = method, test = test, level = level,
               yi = arr(es$yi), vi = arr(es$vi))
  fs <- fit_summary(function() rma(measure = "PLO", xi = x, ni = n, method = method,
                                   test = test, level = level),
                    method, "ilogit")
  c(hd, fs)
}

proportions_fixture <- function(levels_for) {
  ds <- proportion_datasets()
  cases <- list()
  for (d in ds) for (method in METHODS) for (test in TESTS) for (level in levels_for(method)) {
    cases[[length(cases) + 1]] <- proportion_case(d$name, d$events, d$totals,
                                                  method, test, level)
  }
  list(
    generated_by = script_generated_by("default"),
    description = paste(
      "metafor::rma(measure = 'PLO', xi = events, ni = totals, method, test, level);",
      "yi/vi from escalc (add = 1/2, to = 'only0'); beta/ci/pi on the logit scale;",
      "bt_* = transf.ilogit of them; pi from predict(fit) (for EE: pi = ci);",
      "weights(fit) in percent; confint = Q-profile confint(fit) for non-EE methods"),
    datasets = lapply(ds, function(d) d[c("name", "source", "note", "events", "totals")]),
    methods = METHODS, tests = TESTS,
    cases = cases
  )
}

# ---------------------------------------------------------------------------
# 3. Inverse variance on the log scale (median PFS, hazard ratios)
# ---------------------------------------------------------------------------

iv_datasets <- function() {
  z <- stats::qnorm(0.975)
  mk <- function(name, measure, est, lo, hi) {
    list(name = name, measure = measure, estimate = est, lower = lo, upper = hi,
         yi = log(est), sei = (log(hi) - log(lo)) / (2 * z))
  }
  list(
    mk("median_pfs", "median",
       c(10.9, 9.3, 12.7, 16.6, 7.7, 8.1, 16.6),
       c(9.1, 7.6, 9.2, 12.6, 6.0, 6.9, 11.0),
       c(12.9, 11.1, 16.6, 27.2, 8.8, 9.7, 23.2)),
    mk("hazard_ratio", "hr",
       c(0.43, 0.37, 0.33, 0.48, 0.28, 0.51),
       c(0.32, 0.26, 0.23, 0.35, 0.191, 0.35),
       c(0.58, 0.52, 0.49, 0.66, 0.413, 0.72))
  )
}

iv_case <- function(d, method, test, level) {
  yi <- d$yi; sei <- d$sei
  hd <- list(name = d$name, measure = d$measure,
               estimate = arr(d$estimate), lower = arr(d$lower), upper = arr(d$upper),
               method = method, test = test, level = level,
               yi = arr(yi), sei = arr(sei), vi = arr(sei^2))
  fs <- fit_summary(function() rma(yi = yi, sei = sei, method = method, test = test,
                                   level = level),
                    method, "exp")
  c(hd, fs)
}

inverse_variance_fixture <- function() {
  ds <- iv_datasets()
  cases <- list()
  for (d in ds) for (method in METHODS) for (test in TESTS) for (level in LEVELS) {
    cases[[length(cases) + 1]] <- iv_case(d, method, test, level)
  }
  list(
    generated_by = script_generated_by("default"),
    description = paste(
      "metafor::rma(yi, sei = sei, method, test, level) with yi = log(estimate),",
      "sei = (log(upper) - log(lower)) / (2 * qnorm(0.975));",
      "beta/ci/pi on the log scale; bt_* = exp() of them; pi from predict(fit)",
      "(for EE: pi = ci); weights(fit) in percent; confint = Q-profile confint(fit)",
      "for non-EE methods"),
    datasets = ds,
    methods = METHODS, tests = TESTS, levels = LEVELS,
    cases = cases
  )
}

# ---------------------------------------------------------------------------
# 4. --analyses: the workflow's default analyses
# ---------------------------------------------------------------------------

parse_bool <- function(v) {
  tolower(trimws(as.character(v))) %in% c("true", "t", "1", "yes")
}

map_test <- function(ci_method) {
  m <- tolower(trimws(ci_method))
  if (m %in% c("z", "wald", "normal")) return("z")
  if (m %in% c("hartung_knapp", "knha", "hksj", "hartung-knapp")) return("knha")
  stop(sprintf("unknown ci_method '%s'", ci_method))
}

analysis_case <- function(results_dir, row, group = NULL) {
  analysis <- row[["analysis"]]
  measure <- row[["measure"]]
  method <- row[["method"]]
  ci_method <- row[["ci_method"]]
  level <- as.numeric(row[["level"]])
  if (!is.na(level) && level > 1) level <- level / 100
  hd <- list(analysis = analysis, measure = measure, method = method,
               ci_method = ci_method, level = level)
  if (!is.null(group)) hd$group <- group
  fail <- function(msg) c(hd, list(converged = FALSE, error = msg, warnings = arr(character())))

  test <- tryCatch(map_test(ci_method), error = function(e) e)
  if (inherits(test, "error")) return(fail(conditionMessage(test)))
  hd$test <- test

  path <- file.path(results_dir, "analyses", analysis, "studies.tsv")
  if (!file.exists(path)) return(fail(sprintf("missing %s", path)))
  st <- utils::read.delim(path, colClasses = "character", check.names = FALSE,
                          na.strings = c("", "NA", "nan", "NaN", "None"))
  if (!"included" %in% names(st)) return(fail("studies.tsv has no 'included' column"))
  st <- st[parse_bool(st$included), , drop = FALSE]
  if (!is.null(group)) st <- st[st$subgroup == group, , drop = FALSE]
  if (nrow(st) == 0) return(fail("no included studies"))
  hd$study_ids <- arr(st$study_id)

  if (measure == "proportion") {
    x <- as.numeric(st$events); n <- as.numeric(st$total)
    hd$events <- arr(x); hd$totals <- arr(n)
    es <- capture(escalc(measure = "PLO", xi = x, ni = n))
    if (!is.null(es$value)) {
      hd$yi <- arr(es$value$yi); hd$vi <- arr(es$value$vi)
    }
    fs <- fit_summary(function() rma(measure = "PLO", xi = x, ni = n, method = method,
                                     test = test, level = level),
                      method, "ilogit")
  } else if (measure %in% c("median", "hr")) {
    # from the printed values (not the workflow's rounded yi/sei): log estimate (raw median when the
    # pooled transform is "identity"), SE from the CI, one-sided (g(m) - g(L)) / z when only the upper
    # limit is not reached (ci_upper_nr)
    raw <- identical(row[["transform"]], "identity")
    g <- if (raw) identity else log
    est <- as.numeric(st$estimate); lo <- as.numeric(st$ci_lower); hi <- as.numeric(st$ci_upper)
    ci_level <- as.numeric(st$ci_level)
    upper_nr <- if (is.null(st$ci_upper_nr)) rep(FALSE, nrow(st)) else parse_bool(st$ci_upper_nr)
    z <- qnorm(1 - (1 - ci_level) / 2)
    yi <- g(est); sei <- ifelse(upper_nr, (g(est) - g(lo)) / z, (g(hi) - g(lo)) / (2 * z))
    hd$estimate <- arr(est); hd$ci_lower <- arr(lo); hd$ci_upper <- arr(hi); hd$ci_level <- arr(ci_level)
    hd$ci_upper_nr <- arr(upper_nr)
    hd$yi <- arr(yi); hd$sei <- arr(sei); hd$vi <- arr(sei^2)
    fs <- fit_summary(function() rma(yi = yi, sei = sei, method = method, test = test,
                                     level = level),
                      method, if (raw) "identity" else "exp")
  } else if (measure == "ratio_of_medians") {
    # log(median_E / median_C) from both arms' printed medians (e_*, c_* columns), SE = sqrt(seE^2 + seC^2)
    arm <- function(p) {
      m <- as.numeric(st[[paste0(p, "_median")]]); lo <- as.numeric(st[[paste0(p, "_ci_lower")]])
      hi <- as.numeric(st[[paste0(p, "_ci_upper")]]); z <- qnorm(1 - (1 - as.numeric(st[[paste0(p, "_ci_level")]])) / 2)
      nr <- parse_bool(st[[paste0(p, "_ci_upper_nr")]])
      list(m = m, y = log(m), se = ifelse(nr, (log(m) - log(lo)) / z, (log(hi) - log(lo)) / (2 * z)))
    }
    e <- arm("e"); cc <- arm("c")
    yi <- e$y - cc$y; sei <- sqrt(e$se^2 + cc$se^2)
    hd$e_median <- arr(e$m); hd$c_median <- arr(cc$m)
    hd$yi <- arr(yi); hd$sei <- arr(sei); hd$vi <- arr(sei^2)
    fs <- fit_summary(function() rma(yi = yi, sei = sei, method = method, test = test,
                                     level = level),
                      method, "exp")
  } else {
    return(fail(sprintf("unknown measure '%s'", measure)))
  }
  c(hd, fs)
}

analyses_fixture <- function(results_dir) {
  pooled_path <- file.path(results_dir, "tables", "pooled.tsv")
  if (!file.exists(pooled_path)) stop(sprintf("missing %s", pooled_path))
  pooled <- utils::read.delim(pooled_path, colClasses = "character", check.names = FALSE)
  need <- c("analysis", "measure", "method", "ci_method", "level")
  miss <- setdiff(need, names(pooled))
  if (length(miss)) stop(sprintf("pooled.tsv lacks columns: %s", paste(miss, collapse = ", ")))
  spec <- unique(pooled[, c(need, intersect("transform", names(pooled))), drop = FALSE])
  overall <- if ("overall" %in% names(pooled)) pooled$overall else rep("True", nrow(pooled))
  spec$overall <- overall[match(spec$analysis, pooled$analysis)]
  # overall: false -> no estimate across the subgroups: one case per subgroup (its own rma, own tau2)
  # instead, compared with results/<plan>/analyses/<analysis>/subgroups.tsv
  cases <- list()
  for (i in seq_len(nrow(spec))) {
    row <- spec[i, ]
    if (parse_bool(row[["overall"]])) {
      cases[[length(cases) + 1]] <- analysis_case(results_dir, row)
    } else {
      st <- utils::read.delim(file.path(results_dir, "analyses", row[["analysis"]], "studies.tsv"),
                              colClasses = "character", check.names = FALSE)
      groups <- sort(unique(st$subgroup[parse_bool(st$included)]))
      for (g in groups) cases[[length(cases) + 1]] <- analysis_case(results_dir, row, g)
    }
  }
  list(
    generated_by = script_generated_by("--analyses"),
    description = paste(
      "One case per distinct (analysis, measure, method, ci_method, level) in",
      "results/default/tables/pooled.tsv, fitted on the included rows of",
      "results/default/analyses/<analysis>/studies.tsv: proportion -> rma(measure = 'PLO',",
      "xi = events, ni = total), bt_* = transf.ilogit; median/hr -> rma(yi, sei = sei),",
      "bt_* = exp (identity for medians pooled on the raw scale; one-sided SE where ci_upper_nr);",
      "ratio_of_medians -> log(e_median / c_median), sei = sqrt(seE^2 + seC^2), bt_* = exp;",
      "test = 'knha' for ci_method hartung_knapp. An analysis with overall = False in pooled.tsv",
      "has one case per subgroup (field group: the included rows of that subgroup) instead of one",
      "across all studies"),
    cases = cases
  )
}

# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

main <- function(args) {
  opt_value <- function(flag, default) {
    i <- match(flag, args)
    if (is.na(i) || i == length(args)) default else args[i + 1]
  }
  if ("--analyses" %in% args) {
    results_dir <- opt_value("--results-dir", "results/default")
    output <- opt_value("--output", file.path(FIXTURES_DIR, "default_analyses.json"))
    write_fixture(analyses_fixture(results_dir), output)
    return(invisible())
  }
  out_dir <- opt_value("--output-dir", FIXTURES_DIR)
  write_fixture(clopper_pearson_cases(), file.path(out_dir, "clopper_pearson.json"))
  prop <- proportions_fixture(function(method) LEVELS)
  path <- file.path(out_dir, "proportions.json")
  write_fixture(prop, path)
  if (file.size(path) > 2 * 1024^2) {
    cat("proportions.json > 2 MB: level 0.90 only for DL and REML\n")
    prop <- proportions_fixture(function(method)
      if (method %in% c("DL", "REML")) LEVELS else 0.95)
    write_fixture(prop, path)
  }
  write_fixture(inverse_variance_fixture(), file.path(out_dir, "inverse_variance.json"))
  # Further fixture sections: each tests/reference/R/<topic>.R defines
  # `fixture_<topic>()` returning a list written to fixtures/<topic>.json.
  for (part in sort(list.files(file.path(dirname(FIXTURES_DIR), "R"), pattern = "[.]R$", full.names = TRUE))) {
    topic <- sub("[.]R$", "", basename(part))
    env <- new.env(parent = globalenv())
    sys.source(part, envir = env)
    write_fixture(get(paste0("fixture_", topic), envir = env)(), file.path(out_dir, paste0(topic, ".json")))
  }
}

main(commandArgs(trailingOnly = TRUE))
