# Helpers shared by tests/reference/make_reference.R and the fixture sections tests/reference/R/<topic>.R
# (make_reference.R sources this file; a section run on its own sources it from the repository root).

# numeric scalar: NULL / length 0 -> NA, otherwise the first element as a double
num <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else as.numeric(x[[1]])
# always a JSON array (per-study values stay arrays when k = 1)
arr <- function(x) I(unname(as.vector(x)))

# Evaluate expr, collecting its warnings (and dropping its messages when asked);
# returns list(value =, error =, warnings =).
capture <- function(expr, muffle_messages = FALSE) {
  warns <- character()
  value <- tryCatch(
    withCallingHandlers(expr, warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }, message = function(m) if (muffle_messages) invokeRestart("muffleMessage")),
    error = function(e) e
  )
  if (inherits(value, "error")) {
    return(list(value = NULL, error = conditionMessage(value), warnings = warns))
  }
  list(value = value, error = NA_character_, warnings = warns)
}

write_fixture <- function(x, path) {
  dir.create(dirname(path), showWarnings = FALSE, recursive = TRUE)
  jsonlite::write_json(x, path, digits = NA, auto_unbox = TRUE, pretty = TRUE,
                       na = "null")
  cat(sprintf("wrote %s (%.0f kB)\n", path, file.size(path) / 1024))
}

# The single-arm proportions of metadat that several fixtures use (PLO, PFT, PAS, PR, the GLMM):
# calls add(name, source, events, totals[, note]) for each, in this order, leaving out the names in `except`.
add_metadat_proportions <- function(add, except = character()) {
  p <- metadat::dat.pagliaro1992[metadat::dat.pagliaro1992$trt == "control", ]
  kk <- metadat::dat.kearon1998[metadat::dat.kearon1998$patients == "symptomatic", ]
  ob <- metadat::dat.obrien2003[metadat::dat.obrien2003$grp == 1, ]
  h <- metadat::dat.hasselblad1998[metadat::dat.hasselblad1998$trt == "no_contact", ]
  nw <- metadat::dat.nielweise2007
  bcg <- metadat::dat.bcg
  sets <- list(
    list("pritz1997", "metadat::dat.pritz1997 (xi, ni)", metadat::dat.pritz1997$xi, metadat::dat.pritz1997$ni),
    list("debruin2009", "metadat::dat.debruin2009 (xi, ni)", metadat::dat.debruin2009$xi,
         metadat::dat.debruin2009$ni),
    list("hannum2020", "metadat::dat.hannum2020 (xi, ni)", metadat::dat.hannum2020$xi, metadat::dat.hannum2020$ni),
    list("pagliaro1992_control", "metadat::dat.pagliaro1992, trt == 'control' (xi, ni)", p$xi, p$ni,
         "one zero-event study"),
    list("kearon1998_sensitivity_symptomatic",
         "metadat::dat.kearon1998, patients == 'symptomatic' (tp, np), rows with NA dropped",
         kk$tp, kk$np, "one study with all events (40/40)"),
    list("obrien2003_grp1", "metadat::dat.obrien2003, grp == 1 (cases, total)", ob$cases, ob$total,
         "large n (up to 176923)"),
    list("nielweise2007_treatment", "metadat::dat.nielweise2007 treatment arm (ai, n1i)", nw$ai, nw$n1i,
         "several zero-event studies"),
    list("hasselblad1998_no_contact", "metadat::dat.hasselblad1998, trt == 'no_contact' (xi, ni)", h$xi, h$ni,
         "two zero-event studies"),
    list("bcg_vaccinated", "metadat::dat.bcg vaccinated arm (tpos, tpos + tneg)", bcg$tpos, bcg$tpos + bcg$tneg)
  )
  for (s in sets) if (!(s[[1]] %in% except)) do.call(add, s)
  invisible(NULL)
}

# The `generated_by` block of a fixture written by `script`: R and package versions.
generated_by <- function(script) {
  list(script = script, R = R.version.string,
       metafor = as.character(packageVersion("metafor")),
       metadat = as.character(packageVersion("metadat")),
       jsonlite = as.character(packageVersion("jsonlite")))
}

# One extraction table of data_dir as read by the workflow's tables: every column as text, an empty cell NA
read_data_table <- function(data_dir, table) {
  utils::read.delim(file.path(data_dir, paste0(table, ".tsv")), colClasses = "character",
                    na.strings = "", quote = "", comment.char = "", check.names = FALSE)
}

# The order of a report's data cut-off for the report policies (latest_cut / earliest_cut), as the workflow
# orders them: "YYYY[-MM[-DD]]" as YYYYMMDD (missing parts 0); no data cut: the publication year x 10^4.
cut_key <- function(cut, year) {
  vapply(seq_along(cut), function(i) {
    if (is.na(cut[i]) || cut[i] == "") return(as.numeric(year[i]) * 1e4)
    p <- as.numeric(strsplit(cut[i], "-")[[1]])
    p <- c(p, rep(0, 3 - length(p)))
    p[1] * 1e4 + p[2] * 100 + p[3]
  }, 0)
}
