"""Certainty of each configured analysis (metapool.analysis.certainty) from the tables the workflow computes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import ROOT, default_config, estimate_frames
from metapool.analysis.certainty import SOF_COLUMNS, certainty_rows, certainty_spec
from metapool.analysis.config import analysis_specs
from metapool.analysis.diagnostics import small_study_frame
from metapool.analysis.run import prepare_analysis, run_analysis, subgroup_frame
from metapool.vocabulary import outcome


@pytest.fixture(scope="module")
def tables():
    est, cfg = estimate_frames(), default_config()
    designs = dict(pd.read_csv(ROOT / "data" / "studies.tsv", sep="\t", dtype=str,
                               keep_default_na=False)[["study_id", "design"]].values)
    out = {}
    for name, spec in analysis_specs(cfg).items():
        if spec.network:
            continue
        o = outcome(spec.outcome)
        frame = pd.concat([est[t] for t in o.tables], ignore_index=True)
        data = prepare_analysis(frame, spec)
        studies, pooled = run_analysis(frame, spec, data=data)
        out[name] = dict(spec=spec, entry=cfg["analyses"][name].get("certainty"), studies=studies, pooled=pooled,
                         subgroups=subgroup_frame(data) if spec.subgroup else None,
                         small_study=small_study_frame(data), designs=designs)
    return out


def _rows(t, entry=None, **kw):
    return certainty_rows(t["spec"], certainty_spec(entry if entry is not None else t["entry"]), t["studies"],
                          t["pooled"], t["designs"], subgroups=t["subgroups"], small_study=t["small_study"], **kw)


def test_every_default_analysis_has_a_certainty_with_its_reasons(tables):
    for name, t in tables.items():
        rows = _rows(t)
        assert list(rows.columns) == SOF_COLUMNS
        assert len(rows), name
        assert rows["certainty"].isin(["high", "moderate", "low", "very low"]).all()
        assert rows["footnotes"].str.contains("starts at").all()
        assert (rows["risk_of_bias_reason"] == "not assessed (no risk-of-bias judgements)").all()
        for _, r in rows.iterrows():
            downs = sum(int(r[f"{d}_down"]) for d in ("risk_of_bias", "inconsistency", "indirectness",
                                                       "imprecision", "publication_bias"))
            start = {"high": 3, "low": 1}[r["start"]]
            assert ["very low", "low", "moderate", "high"].index(r["certainty"]) == max(0, start - downs)


def test_hazard_ratio_absolute_effect_and_rules(tables):
    t = tables["pfs_hr_vs_crizotinib_first_line"]
    entry = {"assumed_comparator": {"median": 10.9, "source": "PROFILE 1014 crizotinib arm"}}
    r = _rows(t, entry).iloc[0]
    p = t["pooled"].iloc[0]
    assert r["start"] == "high"
    assert r["intervention_risk"] == (f"median {10.9 / p['estimate']:.1f} months ({10.9 / p['ci_upper']:.1f} to "
                                      f"{10.9 / p['ci_lower']:.1f})")
    # the CI (0.33 to 0.47) crosses none of 0.8, 1, 1.25; the information 1/se^2 against Schoenfeld's OIS for HR 0.8
    assert "crosses no threshold" in r["imprecision_reason"]
    assert int(r["imprecision_down"]) == int(1 / p["se"] ** 2 < ((1.959964 + 0.841621) / math.log(0.8)) ** 2)


def test_overrides_indirectness_and_judgements_reach_the_rows(tables):
    t = tables["pfs_hr_vs_crizotinib_first_line"]
    entry = {"indirectness": {"levels": 1, "reason": "a reason"},
             "overrides": {"imprecision": {"levels": 0, "reason": "the effect is large"}}}
    r = _rows(t, entry).iloc[0]
    assert r["indirectness_down"] == "1" and r["indirectness_reason"] == "a reason"
    assert r["imprecision_down"] == "0" and "overridden" in r["imprecision_reason"]
    inc = t["studies"][t["studies"]["included"].astype(bool)]
    # judgements are keyed by the outcome code (pfs for pfs_hr); a report's `all` judgement stands in
    everyone_high = {(s, "pfs" if i % 2 else "all"): "high" for i, s in enumerate(inc["study_id"])}
    r = _rows(t, {}, judgements=everyone_high).iloc[0]
    assert r["risk_of_bias_down"] == "2"
    # a study without an overall judgement is not at high risk, and its share of the weight is stated
    first = inc["study_id"].iloc[0]
    w = inc["weight"].astype(float)
    r = _rows(t, {}, judgements={(s, "pfs"): "high" for s in inc["study_id"] if s != first}).iloc[0]
    unjudged = 100 * w.iloc[0] / w.sum()
    assert f"{unjudged:.0f}% from studies without an overall judgement" in r["risk_of_bias_reason"]
    assert r["risk_of_bias_down"] == ("1" if 100 - unjudged > 50 else "0")
    r = _rows(t, {}, judgements={}).iloc[0]
    assert r["risk_of_bias_down"] == "0" and r["risk_of_bias_reason"].startswith("not assessed")


@pytest.mark.parametrize("entry,message", [
    ({"indirectness": {"levels": 1}}, "certainty.indirectness.reason"),
    ({"overrides": {"bias": {"levels": 1, "reason": "x"}}}, "certainty.overrides.bias: unknown GRADE domain"),
    ({"overrides": {"imprecision": {"levels": 1}}}, "certainty.overrides.imprecision.reason"),
    ({"high_risk_share": 1.0}, "certainty.high_risk_share: 1.0"),
    ({"assumed_comparator": {"source": "x"}}, "certainty.assumed_comparator: give either"),
    ({"assumed_comparator": {"event_free": 0.5, "source": "x"}}, "certainty.assumed_comparator.time"),
])
def test_certainty_block_refusals_name_the_key(entry, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        certainty_spec(entry)


@pytest.mark.parametrize("block,message", [
    ({"indirectness": {"levels": 1}}, "config: analyses.pfs_hr_vs_crizotinib_first_line.certainty.indirectness"
                                      ".reason: rating down 1 level(s) needs a reason"),
    ({"overrides": {"imprecision": {"levels": 3, "reason": "x"}}}, "certainty.overrides.imprecision.levels: 3 must be <= 2"),
    ({"assumed_comparator": {"median": 10.9}}, "source"),
])
def test_config_refuses_a_bad_certainty_block(block, message):
    from conftest import config_problems

    cfg = default_config()
    cfg["analyses"]["pfs_hr_vs_crizotinib_first_line"]["certainty"] = block
    problems = config_problems(cfg)
    assert any(message in p for p in problems), problems


def test_config_refuses_an_assumed_comparator_for_a_response_rate():
    from conftest import config_problems

    cfg = default_config()
    cfg["analyses"]["orr_tki_naive"]["certainty"] = {"assumed_comparator": {"median": 3.0, "source": "x"}}
    assert any("orr_tki_naive.certainty.assumed_comparator: absolute effects from an assumed comparator are for "
               "hazard ratios" in p for p in config_problems(cfg))
