# Reference values for a review that brings its own tables (tests/workflow/test_own_tables.py and
# tests/analysis/test_own_tables.py): the hazard-ratio-only data folder tests/data/hr_only/ (studies.tsv with
# the extra columns population and reviewer_note, hazard_ratios.tsv with one PFS hazard ratio per trial) and
# the analyses of its plan tests/data/hr_only/plan.yaml, refitted in metafor:
#   * each analysis: rma(yi, sei = sei, method = "REML") on yi = log(HR), sei = (log(U) - log(L)) / (2 z),
#     the rows against its comparator (and, for the _global analysis, population == "global");
#   * the meta-regression of pfs_hr_vs_crizotinib: rma(yi, vi = sei^2, mods = ~ year + factor(population),
#     method = "REML"), with test = "z" and test = "knha".
#
# Run from the repository root:
#   Rscript -e 'source("tests/reference/R/lib/helpers.R"); source("tests/reference/R/own_tables.R");
#     x <- fixture_own_tables();
#     jsonlite::write_json(x, "tests/reference/fixtures/own_tables.json", digits = NA, auto_unbox = TRUE,
#                          pretty = TRUE, na = "null")'
# after source("tests/reference/R/lib/helpers.R") (make_reference.R in default mode does the same for every
# tests/reference/R/*.R).

fixture_own_tables <- function(data_dir = "tests/data/hr_only") {
  suppressPackageStartupMessages(library(metafor))
  num1 <- num  # helpers.R (sourced by make_reference.R): num, arr, read_data_table
  studies <- read_data_table(data_dir, "studies")
  hrs <- merge(read_data_table(data_dir, "hazard_ratios"), studies[c("study_id", "year", "population")],
               by = "study_id", sort = FALSE)
  hrs <- hrs[order(hrs$study_id), ]
  z <- qnorm(1 - (1 - as.numeric(hrs$ci_level)) / 2)
  hrs$yi <- log(as.numeric(hrs$hr))
  hrs$sei <- (log(as.numeric(hrs$ci_upper)) - log(as.numeric(hrs$ci_lower))) / (2 * z)

  fit_case <- function(name, rows) {
    d <- hrs[rows, ]
    m <- rma(d$yi, sei = d$sei, method = "REML")
    list(analysis = name, study_ids = arr(d$study_id), yi = arr(d$yi), sei = arr(d$sei), k = m$k,
         beta = num1(m$beta), se = num1(m$se), ci_lb = num1(m$ci.lb), ci_ub = num1(m$ci.ub),
         bt_estimate = exp(num1(m$beta)), bt_ci_lb = exp(num1(m$ci.lb)), bt_ci_ub = exp(num1(m$ci.ub)),
         tau2 = num1(m$tau2), I2 = num1(m$I2), H2 = num1(m$H2), QE = num1(m$QE), QEp = num1(m$QEp))
  }
  pooled <- list(
    fit_case("pfs_hr_vs_crizotinib", hrs$comparator == "crizotinib"),
    fit_case("pfs_hr_vs_crizotinib_global", hrs$comparator == "crizotinib" & hrs$population == "global"),
    fit_case("pfs_hr_vs_chemotherapy", hrs$comparator == "chemotherapy")
  )

  d <- hrs[hrs$comparator == "crizotinib", ]
  d$year <- as.numeric(d$year)
  regression <- lapply(c("z", "knha"), function(test) {
    m <- rma(d$yi, vi = d$sei^2, mods = ~ year + factor(population), data = d, method = "REML", test = test)
    list(analysis = "pfs_hr_vs_crizotinib", formula = "~ year + factor(population)", test = test,
         terms = arr(c("intrcpt", "year", "population[global]")),
         beta = arr(m$beta), se = arr(m$se), stat = arr(m$zval), pval = arr(m$pval), ci_lb = arr(m$ci.lb),
         ci_ub = arr(m$ci.ub), QM = num1(m$QM), QMdf = arr(m$QMdf), QMp = num1(m$QMp), QE = num1(m$QE),
         QEdf = m$k - m$p, QEp = num1(m$QEp), tau2 = num1(m$tau2), I2 = num1(m$I2), R2 = num1(m$R2),
         k = m$k, ddf = if (test == "knha") m$k - m$p else NA)
  })

  versions <- vapply(c("metafor", "jsonlite"), function(p) as.character(utils::packageVersion(p)), "")
  description <- paste(
    "The hazard-ratio-only review of tests/data/hr_only/ refitted in metafor: per analysis of its plan,",
    "rma(yi = log(HR), sei = (log(U) - log(L)) / (2 z), method = 'REML'); the meta-regression",
    "rma(yi, vi = sei^2, mods = ~ year + factor(population), method = 'REML', test = z or knha) of the",
    "hazard ratios vs crizotinib (population: an extra column of studies.tsv).")
  list(generated_by = c(list(script = "tests/reference/R/own_tables.R", R = R.version.string), as.list(versions)),
       description = description, pooled = pooled, regression = regression)
}
