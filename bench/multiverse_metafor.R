# Benchmark 4, the metafor side: loop rma() + predict() over every specification of a multiverse that
# bench/bench_multiverse.py wrote (the same studies, transforms, tau2 estimators and CI methods), time the
# loop, and write each specification's result. Not a test; called by bench/bench_multiverse.py:
#   Rscript bench/multiverse_metafor.R <folder>
# reads <folder>/specs.tsv (spec, set, transform, method, test) and <folder>/sets.tsv (set, events, totals),
# writes <folder>/metafor.tsv and <folder>/metafor_time.txt (seconds of the loop, and R and metafor versions).
suppressPackageStartupMessages(library(metafor))

args <- commandArgs(trailingOnly = TRUE)
folder <- args[1]
specs <- utils::read.delim(file.path(folder, "specs.tsv"), stringsAsFactors = FALSE)
sets <- utils::read.delim(file.path(folder, "sets.tsv"), stringsAsFactors = FALSE)
by_set <- split(sets[, c("events", "totals")], sets$set)
level <- 95
measure <- c(logit = "PLO", freeman_tukey = "PFT", arcsine = "PAS", raw = "PR")

n <- nrow(specs)
out <- matrix(NA_real_, nrow = n, ncol = 10,
              dimnames = list(NULL, c("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2",
                                      "q", "beta", "se")))
fit_one <- function(x, ni, transform, method, test) {
  fit <- rma(measure = measure[[transform]], xi = x, ni = ni, method = method, test = test, level = level)
  pr <- switch(transform,
               logit = predict(fit, transf = transf.ilogit),
               freeman_tukey = predict(fit, transf = transf.ipft.hm, targs = list(ni = ni)),
               arcsine = predict(fit, transf = transf.iarcsin),
               raw = predict(fit))
  one <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x[[1]])
  c(one(pr$pred), one(pr$ci.lb), one(pr$ci.ub), one(pr$pi.lb), one(pr$pi.ub), one(fit$tau2), one(fit$I2),
    one(fit$QE), one(fit$beta), one(fit$se))
}
start <- proc.time()[["elapsed"]]
for (i in seq_len(n)) {
  d <- by_set[[as.character(specs$set[i])]]
  res <- tryCatch(suppressWarnings(fit_one(d$events, d$totals, specs$transform[i], specs$method[i], specs$test[i])),
                  error = function(e) NULL)
  if (!is.null(res)) out[i, ] <- res
}
elapsed <- proc.time()[["elapsed"]] - start
utils::write.table(data.frame(spec = specs$spec, out), file.path(folder, "metafor.tsv"), sep = "\t",
                   row.names = FALSE, quote = FALSE, na = "")
writeLines(c(format(elapsed, digits = 6), R.version.string, as.character(packageVersion("metafor"))),
           file.path(folder, "metafor_time.txt"))
