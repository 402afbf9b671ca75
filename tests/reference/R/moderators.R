# Reference values for meta-regression and subgroup analysis (metafor rma with mods; rma per subgroup).
#
# fixture_moderators() returns the list written to tests/reference/fixtures/moderators.json; from
# the repository root:
#   Rscript -e 'source("tests/reference/R/moderators.R"); x <- fixture_moderators();
#     jsonlite::write_json(x, "tests/reference/fixtures/moderators.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
# Read by tests/test_moderators.py.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

mod_datasets <- function() {
  bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
  hannum <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.hannum2020)
  hack <- dat.hackshaw1998
  debruin <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.debruin2009)
  list(
    bcg = list(data = bcg, description = "dat.bcg, log risk ratios (escalc RR)",
               moderators = list(ablat = bcg$ablat, year = bcg$year, alloc = as.character(bcg$alloc)),
               formulas = c("~ ablat", "~ factor(alloc)", "~ ablat + factor(alloc)", "~ year + ablat"),
               group = "alloc"),
    hannum2020 = list(data = hannum, description = "dat.hannum2020, logit proportions (escalc PLO)",
                      moderators = list(objectivity = as.character(hannum$objectivity)),
                      formulas = c("~ factor(objectivity)"), group = "objectivity"),
    hackshaw1998 = list(data = hack, description = "dat.hackshaw1998, log odds ratios",
                        moderators = list(year = hack$year, design = as.character(hack$design)),
                        formulas = c("~ factor(design)", "~ year + factor(design)"), group = "design"),
    debruin2009 = list(data = debruin, description = "dat.debruin2009, logit proportions (escalc PLO)",
                       moderators = list(ethnicity = as.character(debruin$ethnicity),
                                         patients = as.character(debruin$patients)),
                       formulas = c("~ factor(ethnicity) + factor(patients)"), group = "ethnicity")
  )
}

mod_try <- function(expr) tryCatch(suppressWarnings(expr), error = function(e) structure(list(msg = conditionMessage(e)), class = "mod_error"))

fixture_moderators <- function() {
  dsets <- mod_datasets()
  methods <- c("REML", "DL", "ML", "EE", "HE", "SJ", "EB", "PM")
  reg <- list(); sub <- list(); out_data <- list()
  for (name in names(dsets)) {
    d <- dsets[[name]]; dat <- d$data
    levels_list <- lapply(d$moderators, function(v) if (is.character(v)) I(levels(factor(v))) else NULL)
    levels_list <- levels_list[!vapply(levels_list, is.null, logical(1))]
    out_data[[length(out_data) + 1]] <- list(name = name, description = d$description,
      yi = I(as.numeric(dat$yi)), vi = I(as.numeric(dat$vi)),
      moderators = lapply(d$moderators, I), levels = levels_list)
    for (f in d$formulas) for (method in methods) for (test in c("z", "knha")) {
      fit <- mod_try(rma(yi, vi, mods = as.formula(f), data = dat, method = method, test = test))
      case <- list(dataset = name, formula = f, method = method, test = test)
      if (inherits(fit, "mod_error")) { case$error <- fit$msg } else {
        case <- c(case, list(
          X = I(unname(fit$X)), coef_names = I(rownames(fit$beta)), beta = I(c(fit$beta)), se = I(fit$se),
          zval = I(fit$zval), pval = I(fit$pval), ci_lb = I(fit$ci.lb), ci_ub = I(fit$ci.ub),
          QM = fit$QM, QMdf = I(fit$QMdf), QMp = fit$QMp, QE = fit$QE, QEp = fit$QEp, tau2 = fit$tau2,
          I2 = fit$I2, H2 = fit$H2, R2 = if (is.null(fit$R2)) NA else fit$R2, ddf = fit$ddf, k = fit$k, p = fit$p))
      }
      reg[[length(reg) + 1]] <- case
    }
    g <- d$moderators[[d$group]]
    lev <- levels(factor(g))
    for (method in c("REML", "DL", "EE", "PM")) for (test in c("z", "knha")) {
      per <- lapply(lev, function(l) rma(yi, vi, data = dat, subset = g == l, method = method, test = test))
      est <- vapply(per, function(r) c(r$beta), numeric(1))
      se <- vapply(per, function(r) r$se, numeric(1))
      between <- rma(yi = est, sei = se, method = "FE")
      overall <- rma(yi, vi, data = dat, method = method, test = test)
      sub[[length(sub) + 1]] <- list(
        dataset = name, group_var = d$group, method = method, test = test, groups = I(lev),
        k = I(vapply(per, function(r) r$k, numeric(1))), beta = I(est), se = I(se),
        ci_lb = I(vapply(per, function(r) r$ci.lb, numeric(1))), ci_ub = I(vapply(per, function(r) r$ci.ub, numeric(1))),
        tau2 = I(vapply(per, function(r) r$tau2, numeric(1))), QE = I(vapply(per, function(r) r$QE, numeric(1))),
        I2 = I(vapply(per, function(r) r$I2, numeric(1))),
        Q_between = between$QE, df_between = length(lev) - 1, p_between = between$QEp, I2_between = between$I2,
        overall_beta = c(overall$beta), overall_se = overall$se, overall_tau2 = overall$tau2)
    }
  }
  list(
    generated_by = list(script = "tests/reference/R/moderators.R", R = R.version.string,
                        metafor = as.character(packageVersion("metafor")),
                        metadat = as.character(packageVersion("metadat")),
                        jsonlite = as.character(packageVersion("jsonlite"))),
    description = paste(
      "meta_regression: rma(yi, vi, mods = formula, method, test) for methods REML/DL/ML/EE/HE/SJ/EB/PM and",
      "tests z/knha (X is metafor's design matrix; factor levels in R's sorted order, given per data set in",
      "'levels'); subgroups: rma per subgroup (separate tau2, same method and test), and the test for",
      "subgroup differences rma(yi = estimates, sei = se, method = 'FE')$QE on G - 1 df, with that fit's I2",
      "(I2_between: (Q - df) / Q, as RevMan reports it for the test for subgroup differences)."),
    datasets = out_data, meta_regression = reg, subgroups = sub)
}
