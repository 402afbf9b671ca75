# Reference values for the default plan's network meta-analyses (tests/analysis/test_network_analysis.py),
# from the real extraction tables in data/: the first-line PFS network (pfs_hr_network_first_line) and the
# first-line OS network (os_hr_network_first_line) of config/config.yaml.
#
# The reports are chosen here from data/ with the workflow's rules, as tests/reference/R/survival.R does:
# the analysis's filters (setting tki_naive; the nine first-line trials by name), the assessor preference
# independent_review > investigator > not_stated within a report, then one report per trial cohort by the
# report policy (earliest_cut for PFS: the earliest data cut-off, then the largest n; latest_cut for OS).
# Each kept hazard-ratio row is one contrast: yi = log(hr), vi from its printed CI at its own level
# (sei = (log(upper) - log(lower)) / (2 qnorm(1 - (1 - level) / 2))), treatment = the study's drug,
# comparator = the row's comparator, study = the trial. Fitted as
#   rma.mv(yi, V, mods = <treatment contrasts> - 1, random = ~ comp | study, rho = 1/2, method)
# with method FE (EE) and REML (optim, reltol 1e-14), reference crizotinib; the generalised
# DerSimonian-Laird tau2 from its formula (as tests/reference/R/network.R) with the model refitted at that tau2.
#
# Run from the repository root:
#   Rscript -e 'source("tests/reference/R/lib/helpers.R"); source("tests/reference/R/network_default.R");
#     write_fixture(fixture_network_default(), "tests/reference/fixtures/network_default.json")'
# (make_reference.R in default mode does the same for every tests/reference/R/*.R.)

fixture_network_default <- function(data_dir = "data") {
  suppressPackageStartupMessages({
    library(metafor)
    library(jsonlite)
  })
  rd <- function(table) {
    utils::read.delim(file.path(data_dir, paste0(table, ".tsv")), colClasses = "character",
                      na.strings = "", quote = "", comment.char = "", check.names = FALSE)
  }
  studies <- rd("studies")
  hrs <- rd("hazard_ratios")
  pref <- c("independent_review", "investigator", "not_stated")
  cols <- c("study_id", "trial", "cohort", "drug", "setting", "year", "data_cut")
  select_reports <- function(rows, filters, policy) {
    rows <- merge(rows, studies[, cols], by = "study_id")
    for (f in names(filters)) rows <- rows[rows[[f]] %in% filters[[f]], , drop = FALSE]
    rows <- rows[order(rows$study_id, match(rows$assessor, pref)), , drop = FALSE]
    rows <- rows[!duplicated(rows$study_id), , drop = FALSE]
    key <- cut_key(rows$data_cut, rows$year)
    rows <- rows[order(if (policy == "earliest_cut") key else -key, rows$study_id), , drop = FALSE]
    rows <- rows[!duplicated(paste(rows$trial, rows$cohort, sep = "\r")), , drop = FALSE]
    rows[order(rows$study_id), , drop = FALSE]
  }
  trials <- c("ALEX", "J-ALEX", "ALESIA", "ALTA-1L", "CROWN", "eXalt3", "PROFILE 1014", "PROFILE 1029", "ASCEND-4")
  filters <- list(setting = "tki_naive", trial = trials)
  out_fit <- function(r, coef) {
    list(coef_names = I(coef), beta = I(c(r$beta)), se = I(r$se), zval = I(r$zval), pval = I(r$pval),
         ci_lb = I(r$ci.lb), ci_ub = I(r$ci.ub), vb = I(unname(r$vb)), tau2 = as.numeric(r$tau2), QE = r$QE,
         QEdf = r$k - r$p, QEp = r$QEp)
  }
  one <- function(name, code, policy) {
    rows <- select_reports(hrs[hrs$outcome == code, ], filters, policy)
    hr <- as.numeric(rows$hr); lo <- as.numeric(rows$ci_lower); hi <- as.numeric(rows$ci_upper)
    level <- as.numeric(rows$ci_level)
    yi <- log(hr)
    vi <- ((log(hi) - log(lo)) / (2 * qnorm(1 - (1 - level) / 2)))^2
    t1 <- rows$drug; t2 <- rows$comparator; study <- rows$trial
    comp <- paste(t1, t2, sep = "-")
    trts <- sort(unique(c(t1, t2)))
    coef <- setdiff(trts, "crizotinib")
    X <- matrix(0, length(yi), length(trts), dimnames = list(NULL, trts))
    for (i in seq_along(yi)) { X[i, t1[i]] <- 1; X[i, t2[i]] <- -1 }
    X <- X[, coef, drop = FALSE]
    V <- diag(vi)
    fe <- rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, method = "FE")
    reml <- rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, method = "REML",
                   control = list(optimizer = "optim", reltol = 1e-14))
    G <- outer(study, study, "==") * ifelse(outer(comp, comp, "=="), 1, 1/2)
    W <- solve(V)
    denom <- sum(diag(W %*% G)) - sum(diag(solve(t(X) %*% W %*% X) %*% t(X) %*% W %*% G %*% W %*% X))
    tau2_dl <- max(0, (fe$QE - (nrow(X) - ncol(X))) / denom)
    dl <- rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, method = "REML",
                 tau2 = tau2_dl)
    list(name = name, outcome = code, report_policy = policy, reference = "crizotinib",
         study_id = I(rows$study_id), study = I(study), treatment = I(t1), comparator = I(t2), yi = I(yi),
         vi = I(vi), EE = out_fit(fe, coef), REML = out_fit(reml, coef), DL = out_fit(dl, coef))
  }
  list(generated_by = generated_by("tests/reference/R/network_default.R"),
       description = paste(
         "The default plan's first-line network meta-analyses from data/*.tsv (reports chosen with the",
         "workflow's rules): rma.mv(yi, V, mods = <treatment contrasts> - 1, random = ~ comp | study,",
         "rho = 1/2), FE, REML (optim, reltol 1e-14) and tau2 fixed at the generalised DerSimonian-Laird",
         "value; reference crizotinib; vb row-major over coef_names."),
       cases = list(one("pfs_hr_network_first_line", "pfs", "earliest_cut"),
                    one("os_hr_network_first_line", "os", "latest_cut")))
}
