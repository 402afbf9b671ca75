# Reference values for the contrast-based network meta-analysis (workflow/metapool/stats/network.py).
#
# Two metadat networks with a three-arm trial, in the contrast-level form of metafor's documentation, and a
# constructed two-arm hazard-ratio network with three loops:
#   dat.senn2013 (mean differences, escalc MD; covariance of a multi-arm study = variance of its placebo arm)
#   dat.hasselblad1998 (log odds ratios, escalc OR add = 1/2 to = "all"; covariance by Gleser & Olkin eq. 19.11)
# For each, and for two reference treatments, rma.mv(yi, V, mods = ~ <contrasts> - 1, random = ~ comp | study,
# rho = 1/2) with method "FE" (common effect) and "REML" (tight optimizer control; also metafor's default
# control, which stops ~1e-6 short of the maximum on dat.hasselblad1998), and with tau2 fixed at the generalised
# DerSimonian-Laird value computed here from its formula (Jackson, White & Riley 2012; Rucker 2012):
#   tau2_DL = max(0, (Q - df) / (tr(W G) - tr((X'WX)^-1 X'W G W X))), W = V^-1, G = 1 / 0.5 / 0,
# and again as netmeta computes it (DL_ruecker: all pairwise comparisons, reduced multi-arm weights).
# Also: the design-by-treatment decomposition of Q (rma.mv FE per design, the residual QE of each design;
# between = total - within); P-scores in closed form (Rucker & Schwarzer 2015; as the dat.senn2013 example);
# for each directly compared pair whose direct studies are all two-arm and that is still connected without
# them, the direct estimate (rma FE / rma with tau2 fixed) and the separate indirect estimate (rma.mv on the
# network without the direct studies, same tau2).
#
# fixture_network() returns the list written to tests/reference/fixtures/network.json; from the repository root:
#   Rscript -e 'source("tests/reference/R/network.R"); x <- fixture_network();
#     jsonlite::write_json(x, "tests/reference/fixtures/network.json", digits = NA,
#     auto_unbox = TRUE, pretty = TRUE, na = "null")'
# Read by tests/stats/test_network.py.

suppressPackageStartupMessages({
  library(metafor)
  library(metadat)
  library(jsonlite)
})
if (!exists("generated_by", mode = "function")) {
  source(file.path("tests", "reference", "R", "lib", "helpers.R"))  # run from the repository root
}

.net_senn <- function() {
  dat <- dat.senn2013[c(1, 4:2, 5:6)]
  dat <- to.wide(dat, study = "study", grp = "treatment", ref = "placebo", grpvars = 4:6)
  dat <- escalc(measure = "MD", m1i = mi.1, sd1i = sdi.1, n1i = ni.1, m2i = mi.2, sd2i = sdi.2, n2i = ni.2,
                data = dat)
  shared <- dat$sdi.2^2 / dat$ni.2
  list(name = "senn2013", data = dat, t1 = as.character(dat$treatment.1), t2 = as.character(dat$treatment.2),
       shared = shared, references = c("placebo", "metformin"),
       description = paste("metadat::dat.senn2013 to contrasts (to.wide, ref = 'placebo'), escalc MD;",
                           "shared_var = sdi.2^2 / ni.2"))
}

.net_hasselblad <- function() {
  dat <- to.wide(dat.hasselblad1998, study = "study", grp = "trt", ref = "no_contact", grpvars = 6:7)
  dat <- escalc(measure = "OR", ai = xi.1, n1i = ni.1, ci = xi.2, n2i = ni.2, add = 1/2, to = "all", data = dat)
  shared <- 1 / (dat$xi.2 + 1/2) + 1 / (dat$ni.2 - dat$xi.2 + 1/2)
  list(name = "hasselblad1998", data = dat, t1 = as.character(dat$trt.1), t2 = as.character(dat$trt.2),
       shared = shared, references = c("no_contact", "self_help"),
       description = paste("metadat::dat.hasselblad1998 to contrasts (to.wide, ref = 'no_contact'), escalc OR",
                           "add = 1/2 to = 'all'; shared_var = 1/(xi.2 + 1/2) + 1/(ni.2 - xi.2 + 1/2)"))
}

# A constructed hazard-ratio network of two-arm trials only (values made up, not for inference), log HR and
# SE from a 95% CI: three loops (A-B-C, B-C-D, B-D-E) and a treatment (F) only compared once.
.net_constructed <- function() {
  d <- data.frame(study = sprintf("s%02d", 1:11),
                  t1 = c("B", "B", "C", "D", "D", "D", "E", "F", "C", "D", "E"),
                  t2 = c("A", "A", "A", "B", "B", "B", "B", "B", "B", "C", "D"),
                  hr = c(0.45, 0.55, 0.50, 0.47, 0.34, 0.22, 0.49, 0.28, 1.10, 0.60, 1.05),
                  lo = c(0.35, 0.40, 0.38, 0.34, 0.17, 0.13, 0.35, 0.19, 0.80, 0.42, 0.70),
                  hi = c(0.60, 0.76, 0.66, 0.65, 0.70, 0.38, 0.68, 0.41, 1.52, 0.86, 1.58), stringsAsFactors = FALSE)
  d$yi <- log(d$hr)
  d$vi <- ((log(d$hi) - log(d$lo)) / (2 * qnorm(0.975)))^2
  list(name = "constructed_hr", data = d, t1 = d$t1, t2 = d$t2, shared = rep(NA_real_, nrow(d)),
       references = c("A", "B"),
       description = paste("constructed two-arm hazard-ratio network (made-up values): yi = log(hr),",
                           "vi = ((log(hi) - log(lo)) / (2 qnorm(0.975)))^2"))
}

.net_V <- function(study, vi, shared) {
  V <- diag(vi)
  same <- outer(study, study, "==")
  V[same & !diag(length(vi))] <- outer(shared, shared, function(a, b) a)[same & !diag(length(vi))]
  V
}

.net_X <- function(t1, t2, trts) {
  X <- matrix(0, length(t1), length(trts), dimnames = list(NULL, trts))
  for (i in seq_along(t1)) { X[i, t1[i]] <- 1; X[i, t2[i]] <- -1 }
  X
}

# REML: control = list(optimizer = "optim", reltol = 1e-14) (the default nlminb stops ~1e-6 short of the
# maximum on dat.hasselblad1998); the default-control estimate is kept as REML_default_control.
.net_fit <- function(yi, V, X, study, comp, method, tau2 = NA, control = list(optimizer = "optim", reltol = 1e-14)) {
  capture(if (is.na(tau2)) {
    rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, method = method,
           control = control)
  } else {
    rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2, method = method, tau2 = tau2)
  }, muffle_messages = TRUE)
}

.net_out <- function(f, X) {
  if (is.null(f$value)) return(list(converged = FALSE, error = f$error))
  r <- f$value
  list(converged = TRUE, warnings = I(f$warnings), coef_names = I(colnames(X)), beta = I(c(r$beta)),
       se = I(r$se), zval = I(r$zval), pval = I(r$pval), ci_lb = I(r$ci.lb), ci_ub = I(r$ci.ub),
       vb = I(unname(r$vb)), tau2 = num(r$tau2), QE = r$QE, QEdf = r$k - r$p, QEp = r$QEp,
       logLik = num(logLik(r)))
}

.net_pscores <- function(b, vb, small_good) {
  t <- length(b)
  p <- matrix(0, t, t)
  for (i in 1:t) for (j in 1:t) if (i != j) {
    x <- numeric(t); x[i] <- 1; x[j] <- -1
    z <- c(x %*% b) / sqrt(c(t(x) %*% vb %*% x))
    p[i, j] <- if (small_good) pnorm(-z) else pnorm(z)
  }
  rowSums(p) / (t - 1)
}

.net_case <- function(net) {
  dat <- net$data
  study <- as.character(dat$study)
  comp <- paste(net$t1, net$t2, sep = "-")
  trts <- sort(unique(c(net$t1, net$t2)))
  V <- .net_V(study, dat$vi, net$shared)
  Xall <- .net_X(net$t1, net$t2, trts)
  G <- outer(study, study, "==") * ifelse(outer(comp, comp, "=="), 1, 1/2)
  designs <- tapply(c(net$t1, net$t2), c(study, study), function(x) paste(sort(unique(x)), collapse = ":"))
  design <- unname(designs[study])
  fits <- list()
  for (ref in net$references) {
    X <- Xall[, colnames(Xall) != ref, drop = FALSE]
    fe <- .net_fit(dat$yi, V, X, study, comp, "FE")
    reml <- .net_fit(dat$yi, V, X, study, comp, "REML")
    # generalised DerSimonian-Laird from its formula
    W <- solve(V)
    XtWX <- t(X) %*% W %*% X
    Q <- fe$value$QE
    df <- nrow(X) - ncol(X)
    denom <- sum(diag(W %*% G)) - sum(diag(solve(XtWX) %*% t(X) %*% W %*% G %*% W %*% X))
    tau2_dl <- max(0, (Q - df) / denom)
    dl <- .net_fit(dat$yi, V, X, study, comp, "REML", tau2 = tau2_dl)
    reml_default <- .net_fit(dat$yi, V, X, study, comp, "REML", control = list())
    out <- list(reference = ref, EE = .net_out(fe, X), REML = .net_out(reml, X), DL = .net_out(dl, X),
                REML_default_control = .net_out(reml_default, X),
                DL_denominator = denom, DL_tau2 = tau2_dl,
                DL_ruecker = .net_ruecker(study, net$t1, net$t2, dat$yi, dat$vi, net$shared))
    # P-scores over all treatments (the reference's basic parameter is 0)
    for (m in c("EE", "REML", "DL")) {
      o <- out[[m]]
      b <- setNames(numeric(length(trts)), trts); b[o$coef_names] <- o$beta
      vb <- matrix(0, length(trts), length(trts), dimnames = list(trts, trts))
      vb[o$coef_names, o$coef_names] <- matrix(unlist(o$vb), length(o$coef_names))
      out[[m]]$pscore_good <- I(.net_pscores(b, vb, TRUE))
      out[[m]]$pscore_bad <- I(.net_pscores(b, vb, FALSE))
    }
    fits[[length(fits) + 1]] <- out
  }
  # design-by-treatment decomposition (common effect): residual Q within each design
  dq <- list()
  for (d in sort(unique(design))) {
    rows <- design == d
    tr <- strsplit(d, ":")[[1]]
    Xd <- Xall[rows, tr[-1], drop = FALSE]
    qd <- if (sum(rows) > ncol(Xd)) {
      rma.mv(dat$yi[rows], V[rows, rows, drop = FALSE], mods = Xd, intercept = FALSE, method = "FE")$QE
    } else 0
    dq[[length(dq) + 1]] <- list(design = d, studies = length(unique(study[rows])), q = qd,
                                 df = sum(rows) - ncol(Xd))
  }
  q_within <- sum(vapply(dq, function(x) x$q, numeric(1)))
  df_within <- sum(vapply(dq, function(x) x$df, numeric(1)))
  # separate indirect from direct for pairs whose direct studies are all two-arm
  nstud <- table(study)
  split <- list()
  tau2_reml <- fits[[1]]$REML$tau2
  for (i in seq_along(trts)) for (j in seq_along(trts)) if (i < j) {
    a <- trts[i]; b <- trts[j]
    arms <- tapply(c(net$t1, net$t2), c(study, study), function(x) all(c(a, b) %in% x))
    ds <- names(arms)[arms]
    if (length(ds) == 0 || any(nstud[ds] > 1)) next
    rows <- study %in% ds
    sign <- ifelse(net$t1[rows] == a, 1, -1)
    rest <- !rows
    if (!any(rest)) next
    rt <- sort(unique(c(net$t1[rest], net$t2[rest])))
    if (!(a %in% rt && b %in% rt)) next
    Xr <- .net_X(net$t1[rest], net$t2[rest], rt)
    g <- .net_components(net$t1[rest], net$t2[rest])
    if (g[a] != g[b]) next
    ref <- rt[1]
    Xr <- Xr[, colnames(Xr) != ref, drop = FALSE]
    x <- setNames(numeric(length(rt)), rt); x[a] <- 1; x[b] <- -1; x <- x[colnames(Xr)]
    one <- list(treatment = a, comparator = b, k_direct = length(ds))
    for (m in c("EE", "REML")) {
      t2 <- if (m == "EE") 0 else tau2_reml
      dir <- rma(sign * dat$yi[rows], dat$vi[rows], method = "FE")
      if (m == "REML") dir <- rma(sign * dat$yi[rows], dat$vi[rows], tau2 = t2)
      ind <- rma.mv(dat$yi[rest], V[rest, rest], mods = Xr, intercept = FALSE, random = ~ comp | study,
                    rho = 1/2, tau2 = t2, data = data.frame(comp = comp[rest], study = study[rest]))
      pr <- predict(ind, newmods = rbind(x))
      one[[m]] <- list(tau2 = t2, direct = c(dir$beta), direct_se = dir$se, indirect = pr$pred,
                       indirect_se = pr$se, z = (c(dir$beta) - pr$pred) / sqrt(dir$se^2 + pr$se^2))
    }
    split[[length(split) + 1]] <- one
  }
  list(name = net$name, description = net$description, study = I(study), treatment = I(net$t1),
       comparator = I(net$t2), yi = I(c(dat$yi)), vi = I(c(dat$vi)),
       shared_var = I(ifelse(nstud[study] > 1, net$shared, NA)), treatments = I(trts), design = I(design),
       fits = fits, designs = dq, Q_within = q_within, df_within = df_within, split = split)
}

# Generalised DerSimonian-Laird as netmeta computes it (Rucker 2012; netmeta's multiarm() and nma.ruecker()):
# every study as all pairwise comparisons of its arms, a multi-arm study's variances reduced through the
# pseudoinverse of its resistance matrix, then tau2 = max(0, (Q - df) / tr((I - H) (B B' * E / 2) W)).
.net_ruecker <- function(study, t1, t2, yi, vi, shared) {
  trts <- sort(unique(c(t1, t2)))
  rows <- list()
  for (s in unique(study)) {
    i <- which(study == s)
    arms <- c(t2[i[1]], t1[i])                     # baseline first
    eff <- c(0, yi[i])                             # arm effects relative to the baseline
    cv <- if (length(i) > 1) shared[i[1]] else 0
    va <- c(cv, vi[i] - cv)                        # arm-level variances (baseline: the shared one)
    k <- length(arms)
    pr <- t(combn(k, 2))
    y <- eff[pr[, 2]] - eff[pr[, 1]]
    r <- va[pr[, 1]] + va[pr[, 2]]
    if (k > 2) {
      R <- matrix(0, k, k); R[pr] <- r; R[pr[, 2:1]] <- r
      J <- matrix(1, k, k)
      Lt <- -0.5 * (R - (R %*% J + J %*% R) / k + J %*% R %*% J / k^2)
      L <- MASS::ginv(Lt)
      r <- -1 / L[pr]
    }
    rows[[length(rows) + 1]] <- data.frame(study = s, a = arms[pr[, 2]], b = arms[pr[, 1]], y = y, v = r,
                                           narms = k, stringsAsFactors = FALSE)
  }
  d <- do.call(rbind, rows)
  m <- nrow(d); n <- length(trts)
  B <- matrix(0, m, n)
  B[cbind(1:m, match(d$a, trts))] <- 1
  B[cbind(1:m, match(d$b, trts))] <- -1
  W <- diag(1 / d$v)
  Lplus <- MASS::ginv(t(B) %*% W %*% B)
  H <- B %*% Lplus %*% t(B) %*% W
  res <- d$y - H %*% d$y
  Q <- c(t(res) %*% W %*% res)
  df <- sum(1 / tapply(d$narms, d$study, function(x) 1 / (x[1] - 1))) - (n - 1)
  E <- outer(d$study, d$study, "==")
  denom <- sum(diag((diag(m) - H) %*% (B %*% t(B) * E / 2) %*% W))
  list(Q = Q, df = df, denominator = denom, tau2 = max(0, (Q - df) / denom))
}

# connected-component label of each treatment (no igraph needed): repeated label propagation
.net_components <- function(t1, t2) {
  trts <- sort(unique(c(t1, t2)))
  lab <- setNames(seq_along(trts), trts)
  repeat {
    old <- lab
    for (i in seq_along(t1)) { m <- min(lab[t1[i]], lab[t2[i]]); lab[t1[i]] <- m; lab[t2[i]] <- m }
    if (all(old == lab)) break
  }
  lab
}

fixture_network <- function() {
  list(generated_by = generated_by("tests/reference/R/network.R"),
       description = paste(
         "Contrast-based network meta-analysis: rma.mv(yi, V, mods = <treatment contrasts> - 1,",
         "random = ~ comp | study, rho = 1/2) with method FE (EE), REML (control optimizer optim, reltol 1e-14;",
         "REML_default_control: metafor's default nlminb), and tau2 fixed at the generalised",
         "DerSimonian-Laird value (DL, from its formula); Q decomposition by design (rma.mv FE per design);",
         "closed-form P-scores; direct (rma) and separate indirect (rma.mv without the direct studies)",
         "estimates. vb is the covariance of the basic parameters (coef_names), row-major."),
       cases = list(.net_case(.net_senn()), .net_case(.net_hasselblad()), .net_case(.net_constructed())))
}
