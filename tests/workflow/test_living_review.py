"""Living review: a release of the default data, one survival row added (constructed test data, in the temporary
copy only) and one edited; the rerun reruns only the jobs that depend on them, and changes.tsv lists exactly those
two rows and exactly the analyses whose pooled numbers moved, with their old and new values."""

import csv
import json
import re

from conftest import copy_workflow, snakemake

def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _pooled(run):
    """analysis -> its pooled.tsv and subgroups.tsv text."""
    out = {}
    for folder in sorted((run / "results/default/analyses").iterdir()):
        if not (folder / "pooled.tsv").is_file():  # a network analysis (its own tables; not in a release)
            continue
        out[folder.name] = tuple((folder / f).read_text() if (folder / f).is_file() else ""
                                 for f in ("pooled.tsv", "subgroups.tsv"))
    return out


def test_release_then_changes(tmp_path):
    run = copy_workflow(tmp_path / "wf")
    snakemake(run)
    snakemake(run, "--config", "release_name=r1", "release_date=2026-01-01", "--", "releases/r1.json")
    release = json.loads((run / "releases/r1.json").read_text())
    assert release["name"] == "r1" and release["date"] == "2026-01-01" and release["format"] == 1
    before = _pooled(run)

    surv = run / "data/survival.tsv"
    header, *lines = surv.read_text(encoding="utf-8").rstrip("\n").split("\n")
    cols = header.split("\t")
    rows = [dict(zip(cols, line.split("\t"))) for line in lines]
    have = {(r["study_id"], r["outcome"]) for r in rows}
    edited = next(r for r in rows if r["outcome"] == "pfs" and r["ci_lower"])
    old_median = edited["median"]
    edited["median"] = f"{float(old_median) + 0.4:g}"
    target = next(r for r in rows if r["outcome"] == "pfs" and (r["study_id"], "os") not in have)
    added = dict(target, outcome="os", assessor_detail="TEST DATA: constructed row (not a real report)",
                 median="20.5", ci_level="", ci_lower="", ci_upper="", location="'TEST DATA'")
    rows.append(added)
    surv.write_text("\n".join(["\t".join(cols)] + ["\t".join(r[c] for c in cols) for r in rows]) + "\n",
                    encoding="utf-8")

    # the whole plan's rerun (--verbose: the console names each job's outputs): the survival estimates, the jobs of
    # the analyses that read them, the tables and figures across analyses, what changed, and the report
    proc = snakemake(run, "--dry-run", "--verbose")
    dry = proc.stdout + proc.stderr
    outputs = " ".join(line for line in dry.splitlines() if line.strip().startswith("output:"))
    rerun_pools = set(re.findall(r"results/default/analyses/([^/\s,]+)/pooled\.tsv", outputs))
    rerun_analyses = set(re.findall(r"results/default/analyses/([^/\s,]+)/", outputs))
    jobs = dict(re.findall(r"^([a-z_]+)\s+(\d+)$", dry, re.M))
    per_analysis = {"pool", "sensitivity_subgroups", "sensitivity_with_subgroups", "sensitivity", "forest", "funnel",
                    "leave_one_out_plot", "flow", "sequential", "risk_of_bias_figures"}
    # the studies table lists every report (the network jobs read it for their study labels)
    across = {"estimates", "studies_table", "network", "network_figures", "pooled_table", "workbook", "summary_tables",
              "summary_of_findings", "changes", "report", "all", "total"}
    assert set(jobs) <= per_analysis | across, jobs
    assert jobs["changes"] == jobs["estimates"] == jobs["report"] == "1"
    survival_analyses = {a for a in before if "median" in a or "_hr" in a} | {
        p.name for p in (run / "results/default/analyses").iterdir() if p.name not in before}
    assert rerun_pools and rerun_analyses <= survival_analyses, rerun_analyses - survival_analyses
    snakemake(run)
    after = _pooled(run)
    moved = {a for a in before if before[a] != after[a]}
    assert moved and moved <= rerun_pools
    # the pool jobs that rerun are those of analyses that read the survival table (none of response/HR)
    assert all(not a.startswith("orr") for a in rerun_pools)

    changes = _rows(run / "results/default/tables/changes.tsv")
    reports = [(r["change"], r["key"], r["field"], r["old"], r["new"]) for r in changes if r["kind"] == "report"]
    assert reports == sorted([
        ("edited", f"{edited['study_id']} | pfs | {edited['assessor']}", "median", old_median, edited["median"]),
        ("added", f"{added['study_id']} | os | {added['assessor']}", "", "", ""),
    ], key=lambda t: t[1])
    assert all(r["source"] for r in changes if r["kind"] == "report")
    changed = {r["key"] for r in changes if r["kind"] == "analysis" and r["change"] == "edited"}
    unchanged = {r["key"] for r in changes if r["change"] == "unchanged"}
    # the analyses whose numbers moved: any pooled or subgroup number (POOLED_FIELDS) differs from the release
    fields = ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "k", "participants")
    numbers_moved = set()
    for a in moved:
        folder = run / "results/default/analyses" / a
        now = {"overall": _rows(folder / "pooled.tsv")[0]}
        if (folder / "subgroups.tsv").is_file():
            now.update({f"{r['subgroup']}={r['group']}": r for r in _rows(folder / "subgroups.tsv")})
        if any(release["analyses"][a]["pooled"].get(label, {}).get(f, "") != row.get(f, "")
               for label, row in now.items() for f in fields):
            numbers_moved.add(a)
    assert changed == numbers_moved
    assert unchanged == set(before) - changed
    for r in changes:
        if r["kind"] == "analysis" and r["change"] == "edited":
            assert release["analyses"][r["key"]]["pooled"][r["table"]][r["field"]] == r["old"] != r["new"]

    # the report opens with what changed since r1: both rows with their sources, the numbers that moved
    html = (run / "results/default/report.html").read_text()
    section = html.split('<h2 id="changes">')[1].split("<h2")[0]
    assert section.startswith("What changed since release r1 (2026-01-01)</h2>")
    assert f"<code>{edited['study_id']} | pfs | {edited['assessor']}</code>" in section
    assert f"<td>{old_median}</td><td>{edited['median']}</td>" in section
    assert f"<code>{added['study_id']} | os | {added['assessor']}</code>" in section
    if edited["source"].startswith("http"):
        assert f'<a href="{edited["source"]}">' in section
    for a in changed:
        assert f'<td><a href="#{a}">{a}</a></td>' in section
    assert "Unchanged: " + ", ".join(sorted(unchanged)) in section
    assert '<p id="releases">Releases of the evidence: <code>r1</code> (2026-01-01, ' in html
