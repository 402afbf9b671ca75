"""Which reports enter an analysis: one candidate selection for the pooling, the config checks and the study
flow; the multiverse's array form of the report policy chooses what the single analysis chooses."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pandas as pd
import pytest
import yaml

from metapool.analysis.config import _table_records, analysis_specs, fill_defaults
from metapool.analysis.multiverse import _all_reports
from metapool.analysis.run import prepare_analysis
from metapool.analysis.selection import AnalysisError, candidates, records, select_reports
from metapool.analysis.validation import validate_tables
from metapool.declared import load_vocabulary
from metapool.spec import AnalysisSpec
from metapool.vocabulary import ASSESSORS, COMPARATIVE_MEASURES, EXTRACTION_TABLES, REPORT_POLICIES, outcome

from conftest import ROOT, estimate_frames


@pytest.fixture(scope="module")
def tables():
    return validate_tables({table: ROOT / "data" / f"{table}.tsv" for table in EXTRACTION_TABLES})


@pytest.fixture(scope="module")
def estimates() -> pd.DataFrame:
    return pd.concat(estimate_frames().values(), ignore_index=True)


def every_outcome() -> list[AnalysisSpec]:
    """One analysis of every outcome declared in data/vocabulary.yaml (every comparator of the comparative ones),
    without filters."""
    vocabulary = load_vocabulary(data_dir=ROOT / "data")
    specs = []
    for name in vocabulary.config_outcomes():
        comparators = vocabulary.comparators if outcome(name).measure in COMPARATIVE_MEASURES else (None,)
        for comparator in comparators:
            specs.append(AnalysisSpec(name=f"{name}_{comparator}", title=name, outcome=name, comparator=comparator))
    return specs


def kept(rows, spec) -> set[tuple[str, str]]:
    return {(rows[c.row]["study_id"], rows[c.row]["assessor"]) for c in candidates(rows, spec) if not c.excluded_by}


def test_the_checks_of_the_config_select_from_the_extraction_tables_what_the_pooling_selects(tables, estimates):
    config = fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text()))
    raw, est = _table_records(tables), records(estimates)
    for spec in [*analysis_specs(config).values(), *every_outcome()]:
        assert kept(raw, spec) == kept(est, spec), spec.name


def test_candidates_say_what_excludes_each_row_of_the_outcome(estimates):
    rows = records(estimates)
    spec = AnalysisSpec(name="hr", title="HR", outcome="pfs_hr", comparator="crizotinib",
                        filters={"setting": ("tki_naive",), "assessor": ("independent_review",)})
    found = candidates(rows, spec)
    assert {rows[c.row]["measure"] for c in found} == {"hr"}
    for c in found:
        row = rows[c.row]
        expected = ("comparator" if row["comparator"] != "crizotinib" else "setting" if row["setting"] != "tki_naive"
                    else "assessor" if row["assessor"] != "independent_review" else "")
        assert c.excluded_by == expected
    ratio = replace(spec, outcome="pfs_ratio_of_medians", filters={})
    arms = {rows[c.row]["study_id"]: c.comparator_arm for c in candidates(rows, ratio) if not c.excluded_by}
    assert arms["ALEX_alectinib"] == "ALEX_crizotinib"
    with pytest.raises(AnalysisError, match="link the arms"):
        candidates([r for r in rows if r["measure"] != "hr"], ratio)


@pytest.mark.parametrize("spec", every_outcome(), ids=lambda s: s.name)
def test_multiverse_report_policy_on_arrays_chooses_what_select_reports_chooses(estimates, spec):
    """For every report policy, assessor preference and assessor choice of a multiverse (any, each assessor, each
    pair), on the real data. The preferences are the rotations of the assessors' order: with three assessors each
    comes first once and each pair comes in both orders, and a selection reads no more of an order than which of
    the assessors a report has comes first."""
    assert len(ASSESSORS) == 3
    choices = ["any", *ASSESSORS, *itertools.combinations(ASSESSORS, 2)]
    for preference in (tuple(ASSESSORS[i:]) + tuple(ASSESSORS[:i]) for i in range(len(ASSESSORS))):
        reports = _all_reports(estimates, replace(spec, assessor_preference=preference))
        if reports is None:  # no report of this outcome against this comparator
            with pytest.raises(AnalysisError, match="no study"):
                prepare_analysis(estimates, spec)
            break
        rows = reports.data.selected
        for policy, assessor in itertools.product(REPORT_POLICIES, choices):
            choice = {"assessor": assessor, "design": "any", "verification": "any", "retrospective": "include",
                      "report_policy": policy}
            chosen = reports.select(choice)
            allowed = ASSESSORS if assessor == "any" else (assessor,) if isinstance(assessor, str) else assessor
            eligible = rows[rows["assessor"].isin(allowed)]
            label = (spec.name, preference, policy, assessor)
            if chosen is None:
                assert eligible.empty, label
                continue
            selected, _ = select_reports(eligible, n_column="n", policy=policy, assessor_preference=preference)
            selected = selected.sort_values(["year", "trial", "study_id"], kind="mergesort")
            assert list(zip(rows["study_id"].iloc[chosen], rows["assessor"].iloc[chosen])) == list(
                zip(selected["study_id"], selected["assessor"])), label

