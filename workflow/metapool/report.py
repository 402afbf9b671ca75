"""The self-contained HTML report: every table and figure of a run, its methods and provenance.

Rendered with Jinja2 with autoescaping on, so text from the data or the config
is always shown as text. Figures are embedded as data URIs; nothing is fetched.
The output has no timestamps, so that the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import math
import platform
import subprocess
from pathlib import Path

import jinja2
import yaml

from .estimates import TEXT_COLUMNS
from .io import atomic_write_text, read_tsv

__all__ = ["build_report", "fmt_estimate", "methods_text", "result_sentence"]

PACKAGES = ("metapool", "numpy", "scipy", "pandas", "statsmodels", "matplotlib", "snakemake", "jsonschema", "jinja2")

MEASURE_NAMES = {"proportion": "proportion", "median": "median (months)", "hr": "hazard ratio",
                 "ratio_of_medians": "ratio of medians"}
MEDIAN_METHOD_NAMES = {
    "median_of_medians": "median of medians",
    "weighted_median_of_medians": "weighted median of medians",
}
METHOD_NAMES = {
    "EE": "common-effect (inverse variance)",
    "DL": "DerSimonian-Laird",
    "HE": "Hedges",
    "SJ": "Sidik-Jonkman",
    "ML": "maximum likelihood",
    "REML": "restricted maximum likelihood (REML)",
    "EB": "empirical Bayes",
    "PM": "Paule-Mandel",
}
POLICY_NAMES = {
    "latest_cut": "the report with the latest data cut-off (then the largest N)",
    "largest_n": "the report with the largest N (then the latest data cut-off)",
    "earliest_cut": "the report with the earliest data cut-off (then the largest N)",
}


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_estimate(value, measure: str) -> str:
    """A value on its display scale: percent with one decimal, months with one, HR with two."""
    if _isnan(value):
        return "NA"
    if measure == "proportion":
        return f"{100 * value:.1f}%"
    if measure == "median":
        return f"{value:.1f}"
    return f"{value:.2f}"


def _fmt_ci(lo, hi, measure: str) -> str:
    return f"{fmt_estimate(lo, measure)} to {fmt_estimate(hi, measure)}"


def result_sentence(row: dict) -> str:
    """The pooled result of one analysis in words."""
    measure = row["measure"]
    if row["k"] == 0 or _isnan(row["estimate"]):
        return "No study could be pooled."
    pct = round(100 * row["level"])
    what = MEASURE_NAMES[measure]
    if row.get("direction"):
        better = "< 1" if measure == "hr" else "> 1"
        what += f" ({row['direction']}; {better} favours the experimental arm)"
    mom = row.get("median_method") in MEDIAN_METHOD_NAMES
    if mom:
        what = f"{what} by the {MEDIAN_METHOD_NAMES[row['median_method']]}"
    ci = (f"{pct}% CI {_fmt_ci(row['ci_lower'], row['ci_upper'], measure)}" if not _isnan(row["ci_lower"])
          else f"no {pct}% CI: too few studies for the sign test")
    text = (
        f"Pooled {what} {fmt_estimate(row['estimate'], measure)} "
        f"({ci}) from {int(row['k'])} {'study' if row['k'] == 1 else 'studies'}"
    )
    if not _isnan(row.get("participants")):
        text += f" with {int(row['participants'])} patients"
    text += "."
    if row.get("subgroup") and not _isnan(row.get("q_between")):
        text += (
            f" Test for subgroup differences by {row['subgroup']}: Q = {row['q_between']:.2f} "
            f"(df = {int(row['df_between'])}, p = {row['q_between_pvalue']:.3g})."
        )
    if row["k"] > 1 and not mom:
        if row["method"] != "EE":
            text += f" {pct}% prediction interval {_fmt_ci(row['pi_lower'], row['pi_upper'], measure)}."
        text += (
            f" Heterogeneity: I² = {row['i2']:.1f}%, τ² = {row['tau2']:.4f}, "
            f"Q = {row['q']:.2f} (df = {int(row['df'])}, p = {row['q_pvalue']:.3g})."
        )
    if row.get("notes"):
        text += f" Note: {row['notes']}."
    return text


def methods_text(spec: dict) -> str:
    """The methods paragraph of one analysis, generated from its specification."""
    from .analysis import OUTCOMES

    _, _, measure = OUTCOMES[spec["outcome"]]
    level = round(100 * spec["level"])
    extra = ""  # sentences on the effect size that follow the model sentence
    per_study = "Per-study CIs are as reported."
    if measure == "proportion":
        effect = (
            "Proportions were logit transformed (0.5 added to the events and non-events of studies with 0 or "
            "all events) and pooled by inverse variance"
        )
        per_study = f"Per-study {level}% CIs are exact (Clopper-Pearson)."
    elif measure == "median":
        median_method = spec.get("median_method", "log_iv")
        if median_method in ("median_of_medians", "weighted_median_of_medians"):
            weighted = median_method == "weighted_median_of_medians"
            effect = (
                ("The weighted median of the study medians (weights proportional to the sample size)"
                 if weighted else "The median of the study medians")
                + " was taken as the pooled median (McGrath et al. 2019); it needs no per-study CI and estimates "
                f"no τ². Its {level}% CI inverts the sign test: the order statistics (y(r), y(k − r + 1)) with the "
                f"largest r whose exact binomial coverage is at least {level}%"
                + (", taken as weighted quantiles at r/k and (k − r + 1)/k" if weighted else "")
                + "; with too few studies no CI is given. Medians not reached were not included"
                + (", nor studies without a sample size" if weighted else "")
                + "."
            )
            return f"{effect} {_selection_text(spec)} {per_study}{_subgroup_text(spec, iv=False)}"
        if median_method == "raw_iv":
            effect = "Medians were pooled on the raw scale (months) by inverse variance"
            se, one = "(U − L) / (2 z)", "(m − L) / z"
        else:
            effect = "Medians were pooled on the log scale by inverse variance"
            se, one = "(ln U − ln L) / (2 z)", "(ln m − ln L) / z"
        extra = (
            f"Each standard error was recovered from the reported CI as {se} (McGrath et al. 2019), z the normal "
            f"quantile of the CI's own level; when only the upper limit was not reached, the one-sided SE {one} "
            "from the lower half of the CI was used (as in metamedian). Medians not reached, or without a usable "
            "CI, were not pooled."
        )
    elif measure == "ratio_of_medians":
        effect = (
            f"As a sensitivity analysis next to the hazard ratio, log ratios of median PFS (experimental / "
            f"{spec['comparator']}; > 1 favours the experimental arm) were pooled by inverse variance"
        )
        extra = (
            "Randomised trials enter when both arms report a median with a usable CI; the arms are linked through "
            "the comparator arm of the trial's hazard ratio and must share the assessor. SE = √(SE_E² + SE_C²), "
            "each arm's SE from its CI on the log scale (one-sided from the lower half when only the upper limit "
            "was not reached)."
        )
        per_study = f"Per-study CIs of the ratio are Wald intervals at {level}%."
    else:
        effect = (
            f"Log hazard ratios (experimental vs {spec['comparator']}; HR < 1 favours the experimental arm) were "
            "pooled by inverse variance"
        )
        extra = (
            "Standard errors come from the reported CIs as (ln U − ln L) / (2 z) (Cochrane Handbook 6.3.2; "
            "2 z = 3.92 at 95%, any level through its own z); no other comparator was pooled with them. Each HR "
            "was checked to sit at the centre of its CI on the log scale; a discrepancy larger than the rounding "
            "of the printed values can explain is flagged."
        )
    if spec["method"] == "EE":
        model = "in a common-effect model"
    else:
        model = f"in a random-effects model with the {METHOD_NAMES[spec['method']]} estimator of τ²"
    if spec["ci"] == "hartung_knapp":
        ci = (
            f"The {level}% CI uses the Hartung-Knapp-Sidik-Jonkman method (t with k − 1 df"
            + (", never narrower than the z interval" if spec["hk_adhoc"] else "")
            + ")"
        )
    else:
        ci = f"The {level}% CI uses normal quantiles (Wald)"
    pi = {
        "default": "t with k − 1 df" if spec["ci"] == "hartung_knapp" else "normal quantiles",
        "normal": "normal quantiles",
        "t_k1": "t with k − 1 df",
        "t_k2": "t with k − 2 df",
    }[spec["pi"]]
    return (
        f"{effect} {model}. {extra + ' ' if extra else ''}{ci}; the prediction interval uses {pi}. I² and H² "
        f"are derived from τ². {_selection_text(spec)} {per_study}{_subgroup_text(spec, iv=True)}"
    )


def _selection_text(spec: dict) -> str:
    filters = "; ".join(f"{col} in {', '.join(map(str, vals))}" for col, vals in spec["filters"].items())
    return (
        f"Studies were selected by {filters or 'no filter'}; of several reports of one trial cohort, "
        f"{POLICY_NAMES[spec['report_policy']]} was kept."
    )


def _subgroup_text(spec: dict, *, iv: bool) -> str:
    if not spec.get("subgroup"):
        return ""
    text = f" Subgroups by {spec['subgroup']} were pooled separately"
    if iv:
        text += (
            " (each with its own τ²) and compared by the test for subgroup differences, Cochran's Q of the "
            "subgroup estimates weighted by 1/SE² on (number of subgroups − 1) df (Borenstein & Higgins 2013)"
        )
    return text + "."


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _git_commit() -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return "unknown (git not available)"
    return res.stdout.strip() if res.returncode == 0 else "unknown (not a git checkout)"


def _data_uri(path) -> str:
    payload = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:image/svg+xml;base64,{payload}"


def _flagged(df):
    """Hazard ratios not at the centre of their CI beyond what rounding explains (``ci_not_centred``)."""
    if "ci_not_centred" not in df.columns:
        return df.iloc[0:0]
    return df[df["ci_not_centred"].astype(str).str.lower() == "true"]


def _subgroup_rows(st) -> list[dict]:
    """One row per subgroup of an analysis with subgroups: k and the subgroup's pooled estimate."""
    if "subgroup" not in st.columns or not (st["subgroup"] != "").any():
        return []
    shown = st[st["status"] != "set_aside"]
    rows = []
    for g, grp in shown.groupby("subgroup", sort=True):
        first = {k: (None if _isnan(v) else v) for k, v in grp.iloc[0].to_dict().items()}
        rows.append({
            "subgroup": g, "reports": int(len(grp)), "k": 0 if first["subgroup_k"] is None else int(first["subgroup_k"]),
            "estimate": first["subgroup_estimate"], "ci_lower": first["subgroup_ci_lower"],
            "ci_upper": first["subgroup_ci_upper"], "tau2": first["subgroup_tau2"], "i2": first["subgroup_i2"],
        })
    return rows


def _records(df) -> list[dict]:
    return [{k: (None if _isnan(v) else v) for k, v in r.items()} for r in df.to_dict("records")]


def build_report(*, template, config, analyses, data, studies, audit, pooled, analysis_tables, figures, output) -> None:
    """Render ``results/report.html`` from the run's tables and figures."""
    pooled_df = read_tsv(pooled, text_columns=TEXT_COLUMNS + ["notes", "comparator"])
    figures_by_name = {Path(f).stem.removeprefix("forest_"): f for f in figures}
    tables_by_name = {Path(t).parent.name: t for t in analysis_tables}
    sections = []
    for row in _records(pooled_df):
        name = row["analysis"]
        st = read_tsv(tables_by_name[name],
                      text_columns=TEXT_COLUMNS + ["label", "reason", "status", "se_note", "subgroup"])
        sections.append({
            "name": name,
            "row": row,
            "sentence": result_sentence(row),
            "methods": methods_text(analyses[name]),
            "figure": _data_uri(figures_by_name[name]),
            "left_out": _records(st[st["status"] != "pooled"]),
            "se_notes": _records(st[(st["status"] == "pooled") & (st["se_note"] != "")]),
            "subgroups": _subgroup_rows(st),
            "flagged_hrs": _records(_flagged(st)) if row["measure"] == "hr" else [],
        })
    audit_df = read_tsv(audit, text_columns=["study_id", "pct_printed", "ci_level", "ci_lower_printed",
                                            "ci_upper_printed", "evaluable", "responders", "count_source",
                                            "pct_agrees", "ci_agrees", "status", "source", "location"])
    studies_df = read_tsv(studies, text_columns=TEXT_COLUMNS)
    flagged_hrs = _records(_flagged(studies_df[studies_df["measure"] == "hr"]))
    characteristics = studies_df.drop_duplicates("study_id").sort_values(["setting", "trial", "year", "study_id"])
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(template).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["est"] = fmt_estimate
    env.filters["num"] = lambda v, fmt="{:.1f}": "" if v is None or _isnan(v) else fmt.format(v)
    html = env.get_template(Path(template).name).render(
        sections=sections,
        pooled=_records(pooled_df),
        audit=_records(audit_df),
        audit_disagreements=_records(audit_df[audit_df["status"] == "disagrees"]),
        characteristics=_records(characteristics),
        estimates=_records(studies_df),
        flagged_hrs=flagged_hrs,
        inputs=[{"path": str(p), "sha256": _sha256(p)} for p in data],
        versions=_versions(),
        commit=_git_commit(),
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
    )
    atomic_write_text(output, html)
