# Reference values for small-study effects and sensitivity analyses
# (metafor regtest, ranktest, trimfill, leave1out, influence, cumul).
#
# fixture_bias_sensitivity() returns the list written to
# tests/reference/fixtures/bias_sensitivity.json; from the repository root:
#   Rscript -e 'source("tests/reference/R/bias_sensitivity.R"); x <- fixture_bias_sensitivity();
#     jsonlite::write_json(x, "tests/reference/fixtures/bias_sensitivity.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
# Read by tests/test_bias.py and tests/test_sensitivity.py.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

bs_datasets <- function() {
  out <- list()
  add <- function(name, dat, ni = NULL, order = NULL, description = "") {
    out[[name]] <<- list(name = name, description = description, yi = I(as.numeric(dat$yi)),
                         vi = I(as.numeric(dat$vi)), ni = if (is.null(ni)) NA else I(as.numeric(ni)),
                         order = if (is.null(order)) NA else I(as.numeric(order)))
  }
  d <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.pritz1997)
  add("pritz1997", d, ni = d$ni, description = "logit proportions, escalc PLO")
  d <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.hannum2020)
  add("hannum2020", d, ni = d$ni, description = "logit proportions, escalc PLO")
  d <- escalc(measure = "PLO", xi = xi, ni = ni, data = dat.debruin2009)
  add("debruin2009", d, ni = d$ni, description = "logit proportions, escalc PLO")
  d <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
  add("bcg", d, ni = with(dat.bcg, tpos + tneg + cpos + cneg), order = dat.bcg$year,
      description = "log risk ratios, escalc RR; cumul ordered by year")
  d <- dat.hackshaw1998
  add("hackshaw1998", d, order = d$year, description = "log odds ratios as given; cumul ordered by year")
  d <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.egger2001)
  add("egger2001", d, ni = with(dat.egger2001, n1i + n2i), order = dat.egger2001$year,
      description = "log odds ratios, escalc OR (magnesium trials); cumul ordered by year")
  d <- escalc(measure = "OR", ai = ai, n1i = n1i, ci = ci, n2i = n2i, data = dat.li2007)
  add("li2007", d, ni = with(dat.li2007, n1i + n2i), description = "log odds ratios, escalc OR")
  d <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg[1:6, ])
  add("bcg_first6", d, ni = with(dat.bcg[1:6, ], tpos + tneg + cpos + cneg), order = dat.bcg$year[1:6],
      description = "k = 6 (below the 10-study minimum: run with force=True)")
  out
}

bs_try <- function(expr) {
  tryCatch(suppressWarnings(expr), error = function(e) structure(list(msg = conditionMessage(e)), class = "bs_error"))
}
is_err <- function(x) inherits(x, "bs_error")
num <- function(x) if (is.null(x)) NA else as.numeric(x)  # NULL would become {} in JSON

fixture_bias_sensitivity <- function() {
  dsets <- bs_datasets()
  regtest_cases <- list(); ranktest_cases <- list(); trimfill_cases <- list()
  leave1out_cases <- list(); influence_cases <- list(); cumul_cases <- list()

  for (d in dsets) {
    yi <- as.numeric(d$yi); vi <- as.numeric(d$vi); ni <- if (length(d$ni) == 1 && is.na(d$ni)) NULL else as.numeric(d$ni)

    # --- regtest -------------------------------------------------------------------
    preds <- c("sei", "vi", if (!is.null(ni)) c("ni", "ninv", "sqrtni", "sqrtninv"))
    for (method in c("REML", "DL", "ML", "PM", "EE")) for (test in c("z", "knha")) for (pred in preds) {
      if (pred != "sei" && !(method == "REML" && test == "z")) next
      fit <- bs_try(rma(yi, vi, method = method, test = test))
      r <- if (is_err(fit)) fit else if (is.null(ni)) bs_try(regtest(fit, model = "rma", predictor = pred))
           else bs_try(regtest(fit, model = "rma", predictor = pred, ni = ni))
      case <- list(dataset = d$name, model = "rma", method = method, test = test, predictor = pred)
      if (is_err(r)) { case$error <- r$msg } else {
        case <- c(case, list(zval = r$zval, pval = r$pval, ddf = r$ddf,
                             est = num(r$est), ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub),
                             slope = r$fit$beta[2], slope_se = r$fit$se[2], tau2 = r$fit$tau2))
      }
      regtest_cases[[length(regtest_cases) + 1]] <- case
    }
    for (pred in preds) {
      r <- if (is.null(ni)) regtest(yi, vi, model = "lm", predictor = pred)
           else regtest(yi, vi, ni = ni, model = "lm", predictor = pred)
      regtest_cases[[length(regtest_cases) + 1]] <- list(
        dataset = d$name, model = "lm", method = "lm", test = "t", predictor = pred, zval = r$zval,
        pval = r$pval, ddf = r$ddf, est = num(r$est), ci_lb = num(r$ci.lb), ci_ub = num(r$ci.ub),
        slope = coef(r$fit)[2], slope_se = summary(r$fit)$coefficients[2, 2])
    }

    # --- ranktest ------------------------------------------------------------------
    for (exact in c(TRUE, FALSE)) {
      r <- ranktest(yi, vi, exact = exact)
      ranktest_cases[[length(ranktest_cases) + 1]] <- list(dataset = d$name, exact = exact,
                                                           tau = unname(r$tau), pval = r$pval)
    }

    # --- trimfill ------------------------------------------------------------------
    for (method in c("REML", "DL", "EE")) for (estimator in c("L0", "R0", "Q0")) for (side in c("auto", "left", "right"))
      for (test in c("z", "knha")) {
        if (test == "knha" && !(estimator == "L0" && side == "auto")) next
        if (side != "auto" && estimator != "L0") next
        fit <- rma(yi, vi, method = method, test = test)
        tf <- if (side == "auto") bs_try(trimfill(fit, estimator = estimator, test = test))
              else bs_try(trimfill(fit, estimator = estimator, side = side, test = test))
        case <- list(dataset = d$name, method = method, test = test, estimator = estimator, side_arg = side)
        if (is_err(tf)) { case$error <- tf$msg } else {
          case <- c(case, list(k0 = tf$k0, se_k0 = tf$se.k0, side = tf$side,
                               p_k0 = tf$p.k0,
                               yi_filled = I(as.numeric(tf$yi)[tf$fill]), vi_filled = I(as.numeric(tf$vi)[tf$fill]),
                               k_total = length(tf$yi), beta = c(tf$beta), se = tf$se, ci_lb = tf$ci.lb,
                               ci_ub = tf$ci.ub, tau2 = tf$tau2, QE = tf$QE, QEp = tf$QEp, I2 = tf$I2, H2 = tf$H2,
                               test_used = tf$test))
        }
        trimfill_cases[[length(trimfill_cases) + 1]] <- case
      }

    # --- leave1out, influence, cumul -------------------------------------------------
    for (mt in list(c("REML", "z"), c("REML", "knha"), c("DL", "z"), c("EE", "z"))) {
      method <- mt[1]; test <- mt[2]
      fit <- rma(yi, vi, method = method, test = test)
      l1 <- leave1out(fit)
      leave1out_cases[[length(leave1out_cases) + 1]] <- list(
        dataset = d$name, method = method, test = test, estimate = I(num(l1$estimate)), se = I(num(l1$se)),
        stat = I(num(l1[[3]])), pval = I(num(l1$pval)), ci_lb = I(num(l1$ci.lb)), ci_ub = I(num(l1$ci.ub)),
        Q = I(num(l1$Q)), Qp = I(num(l1$Qp)), tau2 = I(if (method == "EE") rep(0, length(yi)) else num(l1$tau2)),
        I2 = I(num(l1$I2)), H2 = I(num(l1$H2)))
      inf <- influence(fit)
      influence_cases[[length(influence_cases) + 1]] <- list(
        dataset = d$name, method = method, test = test, mods = NA,
        rstudent = I(num(inf$inf$rstudent)), dffits = I(num(inf$inf$dffits)), cook_d = I(num(inf$inf$cook.d)),
        cov_r = I(num(inf$inf$cov.r)), tau2_del = I(num(inf$inf$tau2.del)), QE_del = I(num(inf$inf$QE.del)),
        hat = I(num(inf$inf$hat)), weight = I(num(inf$inf$weight)), dfbs = I(num(inf$dfbs[[1]])),
        is_infl = I(as.logical(inf$is.infl)),
        resid = I(num(rstudent(fit)$resid)), resid_se = I(num(rstudent(fit)$se)))
      ord <- if (length(d$order) == 1 && is.na(d$order)) seq_along(yi) else as.numeric(d$order)
      cu <- cumul(fit, order = ord)
      cumul_cases[[length(cumul_cases) + 1]] <- list(
        dataset = d$name, method = method, test = test, order_key = I(ord), perm = I(order(ord)),
        estimate = I(num(cu$estimate)), se = I(num(cu$se)), stat = I(num(cu[[3]])), pval = I(num(cu$pvals)),
        ci_lb = I(num(cu$ci.lb)), ci_ub = I(num(cu$ci.ub)), Q = I(num(cu$Q)), Qp = I(num(cu$Qp)),
        tau2 = I(if (method == "EE") rep(0, length(yi)) else num(cu$tau2)), I2 = I(num(cu$I2)), H2 = I(num(cu$H2)))
    }
  }

  # influence diagnostics of meta-regressions (dat.bcg, log risk ratios)
  bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
  for (mods in c("~ ablat", "~ ablat + year", "~ factor(alloc)"))
    for (mt in list(c("REML", "z"), c("REML", "knha"), c("DL", "z"), c("EE", "z"))) {
      method <- mt[1]; test <- mt[2]
      fit <- rma(yi, vi, mods = as.formula(mods), data = bcg, method = method, test = test)
      inf <- influence(fit)
      rs <- rstudent(fit)
      influence_cases[[length(influence_cases) + 1]] <- list(
        dataset = "bcg", method = method, test = test, mods = mods, X = I(unname(fit$X)),
        rstudent = I(num(inf$inf$rstudent)), dffits = I(num(inf$inf$dffits)), cook_d = I(num(inf$inf$cook.d)),
        cov_r = I(num(inf$inf$cov.r)), tau2_del = I(num(inf$inf$tau2.del)), QE_del = I(num(inf$inf$QE.del)),
        hat = I(num(inf$inf$hat)), weight = I(num(inf$inf$weight)), dfbs = I(unname(sapply(seq_len(fit$p), function(j) as.numeric(inf$dfbs[[j]])))),
        is_infl = I(as.logical(inf$is.infl)), resid = I(num(rs$resid)), resid_se = I(num(rs$se)))
    }

  list(
    generated_by = list(script = "tests/reference/R/bias_sensitivity.R", R = R.version.string,
                        metafor = as.character(packageVersion("metafor")),
                        metadat = as.character(packageVersion("metadat")),
                        jsonlite = as.character(packageVersion("jsonlite"))),
    description = paste(
      "regtest (model rma with methods REML/DL/ML/PM/EE and tests z/knha, predictors sei, vi and, with sample",
      "sizes, ni/ninv/sqrtni/sqrtninv; model lm), ranktest (exact TRUE/FALSE), trimfill (L0/R0/Q0, side",
      "auto/left/right, methods REML/DL/EE; the filled model refitted with the same test; yi_filled and",
      "vi_filled are the k0 imputed studies, appended after the observed ones), leave1out, influence and",
      "cumul (REML with z and knha, DL and EE with z; cumul ordered by 'order_key' = year where",
      "available) on metadat data sets, and influence() of meta-regressions on dat.bcg. Per-study arrays",
      "are in the input order (cumul: in the cumulative order 'perm', 1-based). For EE models tau2 is 0."),
    datasets = unname(dsets),
    regtest = regtest_cases, ranktest = ranktest_cases, trimfill = trimfill_cases,
    leave1out = leave1out_cases, influence = influence_cases, cumul = cumul_cases
  )
}
