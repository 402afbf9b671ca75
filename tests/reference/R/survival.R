# Reference values for the survival analyses (tests/test_survival.py), from the real extraction
# tables in data/: pooled medians (log and raw scale, with the one-sided SE when only the upper CI
# limit is not reached), overall survival, hazard ratios pooled within one comparator with subgroups
# by drug, and the ratio of medians of randomised trials. Every fit is metafor's
# rma(yi, sei = sei, method, test, level); the test for subgroup differences is
# rma(subgroup estimates, sei = their SEs, method = "EE")$QE.
#
# The selection of reports is done here from data/ with the workflow's rules (filters on study
# columns; assessor preference independent_review > investigator > not_stated; one report per trial
# cohort, the latest data cut-off, then the largest n), so the fixture follows the data.
#
# Run from the repository root:
#   Rscript -e 'source("tests/reference/R/survival.R"); x <- fixture_survival();
#     jsonlite::write_json(x, "tests/reference/fixtures/survival.json", digits = NA, auto_unbox = TRUE,
#                          pretty = TRUE, na = "null")'
# (make_reference.R in default mode does the same for every tests/reference/R/*.R.)

if (!exists("cut_key", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}

fixture_survival <- function(data_dir = "data") {
  suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
  })
  arr <- function(x) I(unname(as.vector(x)))
  num1 <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x[[1]])

  rd <- function(table) {
    utils::read.delim(file.path(data_dir, paste0(table, ".tsv")), colClasses = "character",
                      na.strings = "", quote = "", comment.char = "", check.names = FALSE)
  }
  studies <- rd("studies")
  surv <- rd("survival")
  hrs <- rd("hazard_ratios")
  as_num <- function(x) suppressWarnings(as.numeric(ifelse(is.na(x) | x == "NR", NA, x)))
  is_nr <- function(x) !is.na(x) & x == "NR"
  pref <- c("independent_review", "investigator", "not_stated")
  cols <- c("study_id", "trial", "cohort", "drug", "setting", "design", "year", "data_cut")


  # the workflow's selection: filters, preferred assessor per report, one report per trial cohort
  select_reports <- function(rows, filters) {
    rows <- merge(rows, studies[, cols], by = "study_id")
    for (f in names(filters)) rows <- rows[rows[[f]] %in% filters[[f]], , drop = FALSE]
    rows <- rows[order(rows$study_id, match(rows$assessor, pref)), , drop = FALSE]
    rows <- rows[!duplicated(rows$study_id), , drop = FALSE]
    n <- if (is.null(rows$n)) rep(-1, nrow(rows)) else as.numeric(rows$n)
    n[is.na(n)] <- -1
    rows <- rows[order(-cut_key(rows$data_cut, rows$year), -n, rows$study_id), , drop = FALSE]
    rows <- rows[!duplicated(paste(rows$trial, rows$cohort, sep = "\r")), , drop = FALSE]
    rows[order(rows$study_id), , drop = FALSE]
  }

  # per-study inputs of medians: yi and sei on the log or raw scale, one-sided when only U is NR
  median_inputs <- function(rows, scale) {
    m <- as_num(rows$median); lo <- as_num(rows$ci_lower); hi <- as_num(rows$ci_upper)
    level <- as.numeric(rows$ci_level)
    upper_nr <- is_nr(rows$ci_upper)
    ok <- !is_nr(rows$median) & !is_nr(rows$ci_lower) & !is.na(lo) & !is.na(level) &
      ifelse(upper_nr, lo < m, !is.na(hi) & lo < hi)
    g <- if (scale == "log") log else identity
    z <- qnorm(1 - (1 - level) / 2)
    sei <- ifelse(upper_nr, (g(m) - g(lo)) / z, (g(hi) - g(lo)) / (2 * z))
    list(ok = ok, study_id = rows$study_id, assessor = rows$assessor, drug = rows$drug, n = as.numeric(rows$n),
         median = m, lower = lo, upper = hi, level = level, upper_nr = upper_nr, yi = g(m), sei = sei)
  }

  fit_summary <- function(yi, sei, method, test, level, bt) {
    warns <- character()
    fit <- withCallingHandlers(rma(yi = yi, sei = sei, method = method, test = test, level = level),
                               warning = function(w) { warns <<- c(warns, conditionMessage(w)); invokeRestart("muffleWarning") })
    pr <- predict(fit)
    has_pi <- method != "EE" && !is.null(pr$pi.lb)
    pi_lb <- if (has_pi) num1(pr$pi.lb) else num1(pr$ci.lb)
    pi_ub <- if (has_pi) num1(pr$pi.ub) else num1(pr$ci.ub)
    list(test_used = fit$test, warnings = arr(warns), k = fit$k, beta = num1(fit$beta), se = num1(fit$se),
         ci_lb = num1(fit$ci.lb), ci_ub = num1(fit$ci.ub), pi_lb = pi_lb, pi_ub = pi_ub,
         bt_pred = bt(num1(fit$beta)), bt_ci_lb = bt(num1(fit$ci.lb)), bt_ci_ub = bt(num1(fit$ci.ub)),
         bt_pi_lb = bt(pi_lb), bt_pi_ub = bt(pi_ub), tau2 = num1(fit$tau2), I2 = num1(fit$I2),
         H2 = num1(fit$H2), QE = num1(fit$QE), QEp = num1(fit$QEp), weights = arr(weights(fit)))
  }

  subgroup_summary <- function(yi, sei, groups, method, test, level, bt) {
    levels <- sort(unique(groups))
    per <- lapply(levels, function(g) {
      s <- groups == g
      f <- fit_summary(yi[s], sei[s], method, test, level, bt)
      c(list(group = g), f[c("k", "beta", "se", "ci_lb", "ci_ub", "bt_pred", "bt_ci_lb", "bt_ci_ub", "tau2", "I2")])
    })
    b <- vapply(per, function(p) p$beta, 0)
    s <- vapply(per, function(p) p$se, 0)
    # no test when a subgroup's SE is 0 (Hartung-Knapp on identical estimates)
    between <- if (length(levels) >= 2 && all(s > 0)) rma(yi = b, sei = s, method = "EE") else NULL
    list(groups = per,
         q_between = if (is.null(between)) NA_real_ else num1(between$QE),
         df_between = if (is.null(between)) NA_real_ else length(levels) - 1,
         q_between_pvalue = if (is.null(between)) NA_real_ else num1(between$QEp))
  }

  cases <- list()
  add_case <- function(name, spec, inp, method, test, level, bt, subgroup = NULL, extra = list()) {
    keep <- inp$ok
    fs <- fit_summary(inp$yi[keep], inp$sei[keep], method, test, level, bt)
    case <- c(list(name = name, spec = spec, method = method, test = test, level = level,
                   study_ids = arr(inp$study_id[keep]), assessors = arr(inp$assessor[keep]),
                   not_pooled = arr(inp$study_id[!keep]),
                   yi = arr(inp$yi[keep]), sei = arr(inp$sei[keep]), upper_nr = arr(inp$upper_nr[keep])),
              extra, fs)
    if (!is.null(subgroup)) {
      case$subgroups <- subgroup_summary(inp$yi[keep], inp$sei[keep], inp[[subgroup]][keep], method, test,
                                         level, bt)
    }
    cases[[length(cases) + 1]] <<- case
  }
  tkis <- c("crizotinib", "alectinib", "brigatinib", "ceritinib", "lorlatinib", "ensartinib")
  designs <- c("randomised", "single_arm")
  grid <- expand.grid(method = c("EE", "DL", "REML", "PM"), test = c("z", "knha"), stringsAsFactors = FALSE)

  # --- median PFS, TKI-naive: log scale (default) and raw scale; subgroups by drug
  filt <- list(setting = "tki_naive", drug = tkis, design = designs)
  rows <- select_reports(surv[surv$outcome == "pfs", ], filt)
  for (scale in c("log", "raw")) {
    inp <- median_inputs(rows, scale)
    for (i in seq_len(nrow(grid))) {
      add_case(paste0("pfs_median_tki_naive_", scale), list(
        outcome = "pfs_median", filters = lapply(filt, arr), median_method = paste0(scale, "_iv"),
        subgroup = "drug"),
        inp, grid$method[i], grid$test[i], 0.95, if (scale == "log") exp else identity, subgroup = "drug")
    }
  }
  # --- median PFS after crizotinib (a report set aside: NP28673 alone vs pooled with NP28761)
  filt <- list(setting = "post_crizotinib", drug = tkis, design = designs)
  inp <- median_inputs(select_reports(surv[surv$outcome == "pfs", ], filt), "log")
  add_case("pfs_median_post_crizotinib", list(outcome = "pfs_median", filters = lapply(filt, arr),
                                              median_method = "log_iv"), inp, "REML", "z", 0.95, exp)
  # --- median OS after a second-generation TKI (Okayama 24.1 months has no CI: not pooled)
  filt <- list(setting = c("post_second_gen", "post_alectinib"), drug = tkis, design = designs)
  inp <- median_inputs(select_reports(surv[surv$outcome == "os", ], filt), "log")
  for (scale in c("log", "raw")) {
    inp <- median_inputs(select_reports(surv[surv$outcome == "os", ], filt), scale)
    add_case(paste0("os_median_post_second_gen_", scale), list(
      outcome = "os_median", filters = lapply(filt, arr), median_method = paste0(scale, "_iv")),
      inp, "REML", "z", 0.95, if (scale == "log") exp else identity)
  }

  # --- PFS hazard ratios, within one comparator; subgroups by drug
  hr_inputs <- function(rows) {
    h <- as.numeric(rows$hr); lo <- as.numeric(rows$ci_lower); hi <- as.numeric(rows$ci_upper)
    level <- as.numeric(rows$ci_level)
    ok <- !is.na(h) & !is.na(lo) & !is.na(hi) & !is.na(level) & lo < hi
    z <- qnorm(1 - (1 - level) / 2)
    list(ok = ok, study_id = rows$study_id, assessor = rows$assessor, drug = rows$drug,
         comparator = rows$comparator, hr = h, lower = lo, upper = hi, level = level,
         upper_nr = rep(FALSE, nrow(rows)), yi = log(h), sei = (log(hi) - log(lo)) / (2 * z))
  }
  for (cmp in list(list(comparator = "crizotinib", filters = list(setting = "tki_naive"), name = "first_line"),
                   list(comparator = "chemotherapy", filters = setNames(list(), character(0)), name = "all"))) {
    rows <- select_reports(hrs[hrs$outcome == "pfs" & hrs$comparator == cmp$comparator, ], cmp$filters)
    inp <- hr_inputs(rows)
    stopifnot(all(inp$comparator == cmp$comparator))
    for (i in seq_len(nrow(grid))) {
      add_case(paste0("pfs_hr_vs_", cmp$comparator, "_", cmp$name), list(
        outcome = "pfs_hr", comparator = cmp$comparator, filters = structure(lapply(cmp$filters, arr),
                                                                      names = names(cmp$filters)),
        subgroup = "drug"),
        inp, grid$method[i], grid$test[i], 0.95, exp, subgroup = "drug",
        extra = list(comparators = arr(unique(inp$comparator))))
    }
  }

  # --- ratio of medians (experimental / comparator) of randomised trials vs crizotinib, first line
  links <- hrs[hrs$outcome == "pfs" & hrs$comparator == "crizotinib" & !is.na(hrs$comparator_study_id), ]
  links <- links[!duplicated(links$study_id), c("study_id", "comparator_study_id")]
  filt <- list(setting = "tki_naive")
  exp_rows <- select_reports(surv[surv$outcome == "pfs" & surv$study_id %in% links$study_id, ], filt)
  comp_id <- links$comparator_study_id[match(exp_rows$study_id, links$study_id)]
  comp_rows <- surv[match(paste(comp_id, "pfs", exp_rows$assessor),
                          paste(surv$study_id, surv$outcome, surv$assessor)), ]
  e <- median_inputs(exp_rows, "log")
  cc <- median_inputs(comp_rows, "log")
  inp <- list(ok = e$ok & cc$ok & !is.na(comp_rows$study_id), study_id = e$study_id, assessor = e$assessor,
              upper_nr = e$upper_nr | cc$upper_nr, yi = e$yi - cc$yi, sei = sqrt(e$sei^2 + cc$sei^2))
  for (i in seq_len(nrow(grid))) {
    add_case("pfs_ratio_of_medians_vs_crizotinib_first_line", list(
      outcome = "pfs_ratio_of_medians", comparator = "crizotinib", filters = lapply(filt, arr)),
      inp, grid$method[i], grid$test[i], 0.95, exp,
      extra = list(comparator_study_ids = arr(comp_id[inp$ok])))
  }

  si <- utils::sessionInfo()
  list(
    generated_by = list(script = "tests/reference/R/survival.R", R = R.version.string,
                        metafor = as.character(utils::packageVersion("metafor")),
                        jsonlite = as.character(utils::packageVersion("jsonlite"))),
    description = paste(
      "Survival analyses of data/*.tsv refitted in metafor: rma(yi, sei = sei, method, test, level).",
      "Medians: yi = log(m) (log_iv) or m (raw_iv), sei = (g(U) - g(L)) / (2 z), or (g(m) - g(L)) / z when",
      "only the upper limit is NR. HRs: yi = log(HR), sei = (log(U) - log(L)) / (2 z), one comparator per case.",
      "Ratio of medians: yi = log(mE) - log(mC), sei = sqrt(seE^2 + seC^2). bt_* = exp (log) or identity (raw);",
      "pi from predict() (EE: pi = ci); weights in percent; subgroups: one rma per drug and the test for",
      "subgroup differences rma(beta_g, sei = se_g, method = 'EE')$QE. 'spec' holds the analysis options",
      "the Python test passes to metapool.analysis.run_analysis."),
    cases = cases
  )
}
