"""The study flow: the reports of an analysis counted at each step, selected as the pooling selects them."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from metapool.analysis.config import analysis_specs, fill_defaults
from metapool.analysis.flow import flow_frame, flow_from_frame, study_flow
from metapool.analysis.run import run_analysis
from metapool.spec import AnalysisSpec

from conftest import ROOT, estimate_frames


def flow_inputs():
    est = pd.DataFrame({
        "study_id": ["A", "B", "B", "C", "D", "E", "F", "G"],
        "outcome": ["orr"] * 8, "measure": ["proportion"] * 8,
        "assessor": ["investigator", "independent_review", "investigator", "not_stated", "not_stated",
                     "not_stated", "not_stated", "not_stated"],
        "comparator": [""] * 8, "comparator_study_id": [""] * 8,
        "setting": ["tki_naive", "tki_naive", "tki_naive", "tki_naive", "tki_naive", "post_crizotinib", "tki_naive",
                    "tki_naive"],
        "design": ["single_arm", "randomised", "randomised", "single_arm", "single_arm", "single_arm", "retrospective",
                   "retrospective"],
    })
    st = pd.DataFrame({
        "study_id": ["A", "B", "B", "C", "D"],
        "assessor": ["investigator", "independent_review", "investigator", "not_stated", "not_stated"],
        "status": ["pooled", "pooled", "set_aside", "not_pooled", "set_aside"],
        "reason": ["", "", "another assessment of the same report is preferred (independent_review)",
                   "counts not reported", "same trial cohort as A, which the report policy 'latest_cut' keeps"],
    })
    spec = AnalysisSpec(name="orr_x", title="ORR", outcome="orr",
                        filters={"setting": ("tki_naive",), "design": ("single_arm", "randomised")})
    return est, st, spec


def test_study_flow_counts_add_up_with_reasons():
    est, st, spec = flow_inputs()
    flow = study_flow(est, st, spec, participants=250.0)
    assert flow.in_data == 7
    assert flow.excluded == (("setting other than tki_naive", 1), ("design other than single_arm, randomised", 2))
    assert flow.matching == 4
    assert flow.set_aside == (("another report of the same trial cohort kept (report policy latest_cut)", 1),)
    assert flow.assessments_set_aside == 1
    assert flow.selected == 3 and flow.pooled == 2 and flow.not_pooled == (("counts not reported", 1),)
    assert flow.in_data == flow.n_excluded + flow.matching
    assert flow.matching == flow.n_set_aside + flow.selected
    assert flow.selected == flow.n_not_pooled + flow.pooled
    assert flow_from_frame(flow_frame(flow)).excluded == flow.excluded


@pytest.fixture(scope="module")
def estimates() -> dict[str, pd.DataFrame]:
    return estimate_frames()


def test_the_flow_of_every_default_analysis_counts_what_the_pooling_selected(estimates):
    """Reports in the data minus those excluded are exactly the reports of the analysis's studies.tsv (no
    'other' step: the flow and the pooling select alike)."""
    config = fill_defaults(yaml.safe_load((ROOT / "config/config.yaml").read_text()))
    for name, spec in analysis_specs(config).items():
        frame = pd.concat([estimates[t] for t in spec.tables], ignore_index=True)
        studies, _ = run_analysis(frame, spec)
        flow = study_flow(frame, studies, spec)
        assert flow.matching == studies["study_id"].nunique(), name
        assert flow.in_data - flow.n_excluded == flow.matching, name
        assert not any(reason.startswith("other") for reason, _ in flow.excluded), name
