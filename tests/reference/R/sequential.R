# Reference values for metapool.stats.sequential (trial sequential analysis: two-sided symmetric
# monitoring boundaries from the Lan-DeMets alpha-spending function of O'Brien-Fleming type, alpha/2 per
# side: alpha(t) = 4 - 4 pnorm(qnorm(1 - alpha/4) / sqrt(t)) in total, computed with upper tails). No
# group-sequential package is installed here (ldbounds, gsDesign), so the boundaries are computed from
# their definition with base R, independently of the engine's composite Gauss-Legendre recursion:
#   look 1: c1 = qnorm(1 - alpha(t1) / 2) (as an upper tail);
#   look 2: P(|Z1| < c1, |Z2| >= c2) = alpha(t2) - alpha(t1), the probability an integrate() over the score
#           S1 = Z1 sqrt(t1) on (-c1 sqrt(t1), c1 sqrt(t1)) of its density times the exit probability of
#           the independent N(0, t2 - t1) increment; c2 by uniroot();
#   look 3: the same with the sub-density of S2 on its continuation region, itself an integrate() over S1
#           (nested integrate()).
# integrate() at rel.tol 1e-12, uniroot() at tol 1e-13.
#
# fixture_sequential() returns the list written to tests/reference/fixtures/sequential.json; from the
# repository root:
#   Rscript -e 'source("tests/reference/R/lib/helpers.R"); source("tests/reference/R/sequential.R");
#     write_fixture(fixture_sequential(), "tests/reference/fixtures/sequential.json")'
# Read by tests/stats/test_sequential.py.

spent <- function(t, alpha) ifelse(t >= 1, alpha, 4 * pnorm(qnorm(alpha / 4, lower.tail = FALSE) / sqrt(pmin(t, 1)),
                                                     lower.tail = FALSE))

tails <- function(s, b, sd) pnorm((b - s) / sd, lower.tail = FALSE) + pnorm((-b - s) / sd)

integ <- function(f, lo, hi) integrate(f, lo, hi, rel.tol = 1e-12, abs.tol = 0, subdivisions = 1000L)$value

boundaries <- function(t, alpha) {
  a <- spent(t, alpha)
  k <- length(t)
  out <- numeric(k)
  out[1] <- qnorm(a[1] / 2, lower.tail = FALSE)
  if (k == 1) return(out)
  b1 <- out[1] * sqrt(t[1])
  sd2 <- sqrt(t[2] - t[1])
  f1 <- function(s) dnorm(s, sd = sqrt(t[1]))
  exit2 <- function(c) integ(function(s) f1(s) * tails(s, c * sqrt(t[2]), sd2), -b1, b1)
  out[2] <- uniroot(function(c) exit2(c) - (a[2] - a[1]), c(0.5, 40), tol = 1e-13)$root
  if (k == 2) return(out)
  b2 <- out[2] * sqrt(t[2])
  sd3 <- sqrt(t[3] - t[2])
  f2 <- Vectorize(function(s) integ(function(u) f1(u) * dnorm(s - u, sd = sd2), -b1, b1))
  exit3 <- function(c) integ(function(s) f2(s) * tails(s, c * sqrt(t[3]), sd3), -b2, b2)
  out[3] <- uniroot(function(c) exit3(c) - (a[3] - a[2]), c(0.5, 40), tol = 1e-13)$root
  if (k == 3) return(out)
  stop("boundaries(): at most three looks")
}

fixture_sequential <- function() {
  cases <- list(
    list(fractions = 1, alpha = 0.05),
    list(fractions = c(0.5, 1), alpha = 0.05),
    list(fractions = c(0.25, 0.6), alpha = 0.05),
    list(fractions = c(1 / 3, 2 / 3, 1), alpha = 0.05),
    list(fractions = c(0.1, 0.35, 0.8), alpha = 0.05),
    list(fractions = c(0.2, 0.5, 1), alpha = 0.01),
    list(fractions = c(0.3, 0.7, 1.4), alpha = 0.05)
  )
  list(
    generated_by = paste(R.version.string, "(base R integrate and uniroot)"),
    description = paste("Two-sided symmetric Lan-DeMets O'Brien-Fleming-type boundaries (alpha/2 per side)",
                        "by nested integrate(); spent = total alpha spent at each fraction"),
    cases = lapply(cases, function(x) list(fractions = arr(x$fractions), alpha = x$alpha,
                                           spent = arr(spent(x$fractions, x$alpha)),
                                           boundaries = arr(boundaries(x$fractions, x$alpha))))
  )
}
