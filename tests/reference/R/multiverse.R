# Reference values for the multiverse (workflow/metapool/multiverse.py): every specification of the ORR after
# crizotinib multiverse refitted with metafor, the studies of each specification chosen here in R from
# data/studies.tsv and data/response.tsv (filters, inclusion choices, one report per trial cohort by the
# report policy), independently of the Python selection.
#
# Sourced by tests/reference/make_reference.R (default mode), which writes fixture_multiverse() to
# tests/reference/fixtures/multiverse.json. To write only this fixture (from the repository root):
#   Rscript -e 'source("tests/reference/R/multiverse.R"); x <- fixture_multiverse();
#     jsonlite::write_json(x, "tests/reference/fixtures/multiverse.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
#
# Needs metafor (3.8-1 was used), lme4 (for rma.glmm) and jsonlite, and R/lib/helpers.R.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})
if (!exists("add_metadat_proportions", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}


# the multiverse (as config/config.yaml's orr_post_crizotinib has it)
.mv_spec <- function() {
  list(
    name = "orr_post_crizotinib", outcome = "orr", level = 0.95, pi = "default",
    filters = list(setting = I("post_crizotinib"),
                   drug = I(c("crizotinib", "alectinib", "brigatinib", "ceritinib", "lorlatinib", "ensartinib")),
                   design = I(c("randomised", "single_arm")),
                   arm_role = I(c("experimental", "single_arm"))),
    threshold = 0.5,
    choices = list(
      assessor = I(c("any", "independent_review")),
      design = I(c("any", "single_arm")),
      verification = I(c("any", "verified")),
      report_policy = I(c("latest_cut", "earliest_cut")),
      transform = I(c("logit", "freeman_tukey", "arcsine", "raw", "glmm")),
      method = I(c("DL", "REML", "PM")),
      ci = I(c("z", "hartung_knapp"))
    )
  )
}

.mv_read <- function(file) {
  utils::read.delim(file, colClasses = "character", check.names = FALSE, na.strings = character(),
                    quote = "", comment.char = "")
}

# (year, month, day) of a data cut-off YYYY[-MM[-DD]], else of the publication year, as one sortable number
.mv_cut <- function(data_cut, year) {
  out <- numeric(length(data_cut))
  for (i in seq_along(data_cut)) {
    if (nzchar(data_cut[i])) {
      p <- as.integer(strsplit(data_cut[i], "-", fixed = TRUE)[[1]])
      p <- c(p, rep(0L, 3 - length(p)))
    } else {
      p <- c(as.integer(year[i]), 0L, 0L)
    }
    out[i] <- p[1] * 10000 + p[2] * 100 + p[3]
  }
  out
}

# the candidate ORR rows of the analysis: one per report (the first CI level's row), joined with the studies
.mv_candidates <- function(data_dir, spec) {
  st <- .mv_read(file.path(data_dir, "studies.tsv"))
  rs <- .mv_read(file.path(data_dir, "response.tsv"))
  rs <- rs[rs$outcome == spec$outcome, ]
  rs <- rs[!duplicated(rs[, c("study_id", "outcome", "assessor")]), ]
  d <- merge(rs[, c("study_id", "assessor", "evaluable", "responders")],
             st[, c("study_id", "trial", "cohort", "drug", "setting", "design", "arm_role", "verification", "year",
                   "data_cut")],
             by = "study_id")
  for (col in names(spec$filters)) d <- d[d[[col]] %in% spec$filters[[col]], ]
  d
}

.mv_select <- function(d, assessor, design, verification, policy) {
  if (assessor != "any") d <- d[d$assessor == assessor, ]
  if (design != "any") d <- d[d$design == design, ]
  if (verification != "any") d <- d[d$verification == verification, ]
  if (nrow(d) == 0) return(d)
  cut <- .mv_cut(d$data_cut, d$year)
  n <- suppressWarnings(as.numeric(d$evaluable))
  n[is.na(n)] <- -1
  o <- switch(policy,
              latest_cut = order(-cut, -n, d$study_id),
              largest_n = order(-n, -cut, d$study_id),
              earliest_cut = order(cut, -n, d$study_id))
  d <- d[o, ]
  d <- d[!duplicated(d[, c("trial", "cohort")]), ]
  d <- d[nzchar(d$evaluable) & nzchar(d$responders), ]          # reports without counts are not pooled
  d[order(as.integer(d$year), d$trial, d$study_id), ]
}

.mv_fit <- function(x, n, transform, method, test, level) {
  measure <- c(logit = "PLO", freeman_tukey = "PFT", arcsine = "PAS", raw = "PR")[[transform]]
  fit <- rma(measure = measure, xi = x, ni = n, method = method, test = test, level = level * 100)
  pr <- switch(transform,
               logit = predict(fit, transf = transf.ilogit),
               freeman_tukey = predict(fit, transf = transf.ipft.hm, targs = list(ni = n)),
               arcsine = predict(fit, transf = transf.iarcsin),
               raw = predict(fit))
  list(estimate = num(pr$pred), ci_lower = num(pr$ci.lb), ci_upper = num(pr$ci.ub),
       pi_lower = num(pr$pi.lb), pi_upper = num(pr$pi.ub), tau2 = num(fit$tau2),
       i2 = num(fit$I2), q = num(fit$QE), beta = num(fit$beta), se = num(fit$se),
       zval = num(fit$zval), ddf = if (fit$test == "knha") num(fit$ddf) else NA_real_, pval = num(fit$pval))
}

.mv_glmm <- function(x, n, level) {
  fit <- suppressWarnings(rma.glmm(measure = "PLO", xi = x, ni = n, method = "ML", level = level * 100))
  pr <- predict(fit, transf = transf.ilogit)
  list(estimate = num(pr$pred), ci_lower = num(pr$ci.lb), ci_upper = num(pr$ci.ub),
       pi_lower = NA_real_, pi_upper = NA_real_, tau2 = num(fit$tau2), i2 = NA_real_, q = NA_real_,
       beta = num(fit$beta), se = num(fit$se), zval = num(fit$zval), ddf = NA_real_, pval = num(fit$pval))
}

fixture_multiverse <- function(data_dir = "data") {
  spec <- .mv_spec()
  d0 <- .mv_candidates(data_dir, spec)
  ch <- spec$choices
  cases <- list()
  for (assessor in ch$assessor) for (design in ch$design) for (verification in ch$verification)
    for (policy in ch$report_policy) {
      d <- .mv_select(d0, assessor, design, verification, policy)
      x <- as.numeric(d$responders); n <- as.numeric(d$evaluable)
      for (transform in ch$transform) {
        model <- if (transform == "glmm") list(c("ML", "z")) else
          unlist(lapply(ch$method, function(m) lapply(ch$ci, function(ci) c(m, ci))), recursive = FALSE)
        for (mc in model) {
          case <- list(assessor = assessor, design = design, retrospective = "include",
                       verification = verification, report_policy = policy, transform = transform,
                       method = mc[1], ci = mc[2], study_ids = arr(d$study_id),
                       events = arr(x), totals = arr(n))
          res <- if (nrow(d) == 0) NULL else tryCatch(
            if (transform == "glmm") .mv_glmm(x, n, spec$level) else
              .mv_fit(x, n, transform, mc[1], if (mc[2] == "z") "z" else "knha", spec$level),
            error = function(e) e)
          if (inherits(res, "error")) {
            case$error <- conditionMessage(res)
          } else if (!is.null(res)) {
            case <- c(case, res)
          }
          cases[[length(cases) + 1]] <- case
        }
      }
    }
  list(
    generated_by = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                        lme4 = as.character(packageVersion("lme4"))),
    description = paste(
      "Every specification of a multiverse of the ORR after crizotinib (spec: filters and choices), each",
      "study set chosen in R from data/studies.tsv and data/response.tsv (filters, assessor/design/verification",
      "choices, one report per trial and cohort by the report policy, reports with counts), then",
      "rma(measure = PLO/PFT/PAS/PR, xi, ni, method, test = z/knha) + predict(transf = transf.ilogit /",
      "transf.ipft.hm(ni) / transf.iarcsin / none), or rma.glmm(measure = 'PLO', method = 'ML') +",
      "predict(transf = transf.ilogit) for the GLMM. zval, ddf (t only) and pval: the test for the overall",
      "effect (fit$zval, fit$ddf under knha, fit$pval)."),
    spec = spec,
    cases = cases
  )
}
