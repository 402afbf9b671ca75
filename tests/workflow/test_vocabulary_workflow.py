"""A reviewer's own evidence: a drug (iruplinalkib), a setting (post_lorlatinib) and an outcome (disease
control, dcr, a proportion) added through the data folder's vocabulary file alone, a few rows of obviously
made-up test numbers, and a plan with an analysis of each, run by Snakemake; the pooled numbers are those of
the statistics pinned to metafor (metapool.stats.proportions.pool_proportions, tests/stats)."""

from __future__ import annotations

import csv

import pytest
import yaml

from metapool.stats.proportions import pool_proportions

from conftest import ROOT, copy_workflow, snakemake

STUDY_COLUMNS = ("study_id trial cohort arm drug regimen setting prior_therapy phase design arm_role first_author "
                 "year journal doi pmid data_cut source location verification notes").split()
RESPONSE_COLUMNS = ("study_id outcome assessor assessor_detail evaluable responders count_source pct ci_level "
                    "ci_lower ci_upper source location").split()
SURVIVAL_COLUMNS = ("study_id outcome assessor assessor_detail n median ci_level ci_lower ci_upper unit source "
                    "location").split()
HR_COLUMNS = ("study_id outcome assessor assessor_detail comparator comparator_study_id comparator_detail hr "
              "ci_level ci_lower ci_upper source location").split()

# made-up test cohorts: round numbers, trial names that say so
COHORTS = {  # study_id -> (drug, setting, dcr responders / evaluable, orr responders / evaluable)
    "TEST_A": ("iruplinalkib", "post_lorlatinib", (40, 50), (20, 50)),
    "TEST_B": ("iruplinalkib", "post_lorlatinib", (30, 60), (15, 60)),
    "TEST_C": ("iruplinalkib", "post_crizotinib", (70, 80), (50, 80)),
    "TEST_D": ("alectinib", "post_lorlatinib", (10, 40), (5, 40)),
}
PLAN = {
    "analyses": {
        "dcr_all": {"title": "Disease control (test data)", "outcome": "dcr"},
        "orr_iruplinalkib": {"title": "ORR, iruplinalkib (test data)", "outcome": "orr",
                             "filters": {"drug": ["iruplinalkib"]}},
        "dcr_post_lorlatinib": {"title": "Disease control after lorlatinib (test data)", "outcome": "dcr",
                                "filters": {"setting": ["post_lorlatinib"]}},
    },
    "defaults": {"method": "REML", "transform": "logit", "sensitivity": []},
}


def _write(path, columns, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("vocabulary"))
    data = workdir / "reviewer_data"
    data.mkdir()
    shipped = (ROOT / "data" / "vocabulary.yaml").read_text(encoding="utf-8")
    (data / "vocabulary.yaml").write_text(
        shipped.replace("  chemotherapy:", "  iruplinalkib: {class: ALK TKI, generation: second}\n  chemotherapy:")
        .replace("  unknown:", "  post_lorlatinib: {label: after lorlatinib}\n  unknown:")
        + "  dcr: {family: proportion, label: disease control}\n", encoding="utf-8")
    studies, response = [], []
    for i, (sid, (drug, setting, dcr, orr)) in enumerate(COHORTS.items()):
        studies.append([sid, f"Test trial {sid[-1]}", "all patients", "test arm", drug, "", setting, "", "2",
                        "single_arm", "single_arm", "", str(2020 + i), "", "", "", "", "https://example.org/test",
                        "made-up test numbers", "unverified", ""])
        for outcome, (k, n) in (("dcr", dcr), ("orr", orr)):
            response.append([sid, outcome, "investigator", "", str(n), str(k), "printed", "", "", "", "",
                             "https://example.org/test", "made-up test numbers"])
    _write(data / "studies.tsv", STUDY_COLUMNS, studies)
    _write(data / "response.tsv", RESPONSE_COLUMNS, response)
    _write(data / "survival.tsv", SURVIVAL_COLUMNS,
           [["TEST_A", "pfs", "investigator", "", "50", "10.0", "", "", "", "", "https://example.org/test",
             "made-up test numbers"]])
    _write(data / "hazard_ratios.tsv", HR_COLUMNS, [])
    (workdir / "config" / "reviewer.yaml").write_text(
        yaml.safe_dump({"plan": "reviewer", "data_dir": "reviewer_data", **PLAN}, sort_keys=False), encoding="utf-8")
    snakemake(workdir, "results/reviewer/tables/pooled.tsv", "--configfile", "config/reviewer.yaml")
    with open(workdir / "results/reviewer/tables/pooled.tsv", encoding="utf-8") as f:
        return {row["analysis"]: row for row in csv.DictReader(f, delimiter="\t")}


@pytest.mark.parametrize("analysis, outcome, studies", [
    ("dcr_all", "dcr", ("TEST_A", "TEST_B", "TEST_C", "TEST_D")),
    ("orr_iruplinalkib", "orr", ("TEST_A", "TEST_B", "TEST_C")),
    ("dcr_post_lorlatinib", "dcr", ("TEST_A", "TEST_B", "TEST_D")),
])
def test_a_drug_setting_and_outcome_declared_in_data_are_pooled(run, analysis, outcome, studies):
    row = run[analysis]
    events = [COHORTS[s][2 if outcome == "dcr" else 3][0] for s in studies]
    totals = [COHORTS[s][2 if outcome == "dcr" else 3][1] for s in studies]
    expected = pool_proportions(events, totals, transform="logit", method="REML")
    assert (row["outcome"], row["measure"], int(row["k"])) == (outcome, "proportion", len(studies))
    for column in ("estimate", "ci_lower", "ci_upper"):
        assert float(row[column]) == pytest.approx(getattr(expected, column), rel=1e-9), column
    assert float(row["tau2"]) == pytest.approx(expected.model.tau2, rel=1e-6, abs=1e-12)
