"""Network analyses in the workflow (metapool.analysis.network): the contrasts built from the tables, the tables
equal to metapool.stats.network fitted directly, the default plan's first-line networks against metafor.

Fixture: tests/reference/fixtures/network_default.json, written by tests/reference/R/network_default.R from
data/*.tsv (reports chosen with the workflow's rules; rma.mv FE, REML and tau2 at the generalised
DerSimonian-Laird value). Tolerance: relative 1e-6 (absolute 1e-8 near 0; REML's tau2 is 6e-10 in R and 0
here for the PFS network, which moves nothing beyond 1e-9).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml

from metapool.analysis.config import ConfigError, analysis_specs, check_config, fill_defaults
from metapool.analysis.network import arm_sizes, network_contrasts, run_network
from metapool.analysis.selection import AnalysisError
from metapool.analysis.validation import validate_tables
from metapool.spec import AnalysisSpec, NetworkSpec
from metapool.stats.network import network_meta_analysis

from conftest import ROOT, estimate_frames, load_fixture

FIX = {c["name"]: c for c in load_fixture("network_default.json")["cases"]}


def hr_rows():
    """Five hazard-ratio reports of four trials: A vs C twice (two data cuts of trial T1, one set aside by
    the report policy), B vs C, D vs A, and one report of another setting."""
    return pd.DataFrame({
        "study_id": ["T1_a", "T1_a_late", "T2_b", "T3_d", "T4_b"],
        "trial": ["T1", "T1", "T2", "T3", "T4"], "cohort": ["arm", "arm", "arm", "arm", "arm"],
        "drug": ["alpha", "alpha", "beta", "delta", "beta"],
        "setting": ["tki_naive", "tki_naive", "tki_naive", "tki_naive", "post_crizotinib"],
        "outcome": ["pfs"] * 5, "measure": ["hr"] * 5, "assessor": ["independent_review"] * 5,
        "comparator": ["gamma", "gamma", "gamma", "alpha", "gamma"],
        "comparator_study_id": ["T1_c", "T1_c_late", "T2_c", "T3_a", "T4_c"],
        "year": [2018, 2022, 2019, 2020, 2021], "data_cut": ["", "", "", "", ""],
        "estimate": [0.5, 0.6, 0.7, 0.8, 0.4], "ci_lower": [0.35, 0.45, 0.5, 0.55, 0.2],
        "ci_upper": [0.71, 0.8, 0.98, 1.16, 0.8], "ci_level": [0.95] * 5, "n": [np.nan] * 5,
    })


def spec_of(**kw):
    base = dict(name="net", title="PFS network", outcome="pfs_hr", network=NetworkSpec(reference="gamma"),
                filters={"setting": ("tki_naive",)}, report_policy="latest_cut")
    base.update(kw)
    return AnalysisSpec(**base)


def test_contrasts_are_built_from_the_tables():
    data, table = network_contrasts(hr_rows(), spec_of())
    pooled = table[table["status"] == "pooled"].set_index("study_id")
    assert sorted(pooled.index) == ["T1_a_late", "T2_b", "T3_d"]
    assert pooled.loc["T3_d", ["treatment", "comparator", "trial"]].tolist() == ["delta", "alpha", "T3"]
    np.testing.assert_allclose(pooled.loc["T2_b", "yi"], np.log(0.7))
    np.testing.assert_allclose(pooled.loc["T2_b", "vi"], ((np.log(0.98) - np.log(0.5)) / (2 * 1.959963984540054)) ** 2)
    aside = table[table["status"] == "set_aside"]
    assert aside["study_id"].tolist() == ["T1_a"]
    assert "report policy 'latest_cut'" in aside["reason"].iloc[0]
    assert "T4_b" not in set(table["study_id"])  # the filters keep tki_naive only


@pytest.mark.parametrize("method", ["EE", "REML", "DL"])
def test_tables_equal_the_engine_fitted_directly(method):
    spec = spec_of(model=replace(spec_of().model, method=method))
    out = run_network(hr_rows(), spec)
    _, table = network_contrasts(hr_rows(), spec)
    inc = table[table["status"] == "pooled"]
    direct = network_meta_analysis(inc["trial"], inc["treatment"], inc["comparator"], inc["yi"].astype(float),
                                   inc["vi"].astype(float), reference="gamma", method=method)
    lg = direct.league.frame()
    np.testing.assert_array_equal(out.league[["treatment", "comparator"]].to_numpy(),
                                  lg[["treatment", "comparator"]].to_numpy())
    np.testing.assert_allclose(np.log(out.league["estimate"]), lg["estimate"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.log(out.league["ci_lower"]), lg["ci_lower"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(out.league["p"], lg["pval"], rtol=1e-12)
    scores = dict(zip(direct.treatments, direct.p_scores("good")))
    np.testing.assert_allclose(out.ranking["p_score"], [scores[t] for t in out.ranking["treatment"]], rtol=1e-12)
    assert out.ranking["p_score"].is_monotonic_decreasing
    sucra = direct.sucra("good", nsim=10_000, seed=1)
    np.testing.assert_allclose(out.ranking["sucra"],
                               [dict(zip(sucra.treatments, sucra.sucra))[t] for t in out.ranking["treatment"]])
    effects = out.effects.set_index("treatment")
    sm = direct.summary_frame().set_index("treatment")
    np.testing.assert_allclose(effects.loc[sm.index, "log_hr"], sm["estimate"], rtol=1e-12)
    assert effects.loc["alpha", "k_direct"] == 1 and effects.loc["delta", "k_direct"] == 0
    het = out.heterogeneity.set_index("quantity")
    np.testing.assert_allclose(het.loc["q_total", "value"], direct.heterogeneity.q, rtol=1e-12)
    np.testing.assert_allclose(het.loc["tau2", "value"], direct.tau2, rtol=1e-12, atol=1e-15)
    assert out.split.empty  # a tree: no comparison has indirect evidence


def test_star_network_common_effect_is_the_ratio_of_pooled_hrs():
    """Hand-computable: a star of two-arm trials against gamma, common effect: alpha vs beta is the ratio of
    the two pooled HRs against gamma, its variance the sum of theirs."""
    rows = hr_rows().iloc[[0, 2]].assign(study_id=["S1", "S2"], trial=["S1", "S2"])
    out = run_network(rows, spec_of(model=replace(spec_of().model, method="EE")))
    league = out.league.set_index(["treatment", "comparator"])
    np.testing.assert_allclose(league.loc[("alpha", "beta"), "estimate"], 0.5 / 0.7, rtol=1e-12)
    se = np.sqrt(((np.log(0.71) - np.log(0.35)) / 3.919927969080108) ** 2
                 + ((np.log(0.98) - np.log(0.5)) / 3.919927969080108) ** 2)
    np.testing.assert_allclose(league.loc[("alpha", "beta"), "ci_upper"], 0.5 / 0.7 * np.exp(1.959963984540054 * se),
                               rtol=1e-9)


def test_no_contrast_and_a_bad_multi_arm_trial_are_named():
    with pytest.raises(AnalysisError, match="no study with outcome pfs_hr matches"):
        run_network(hr_rows(), spec_of(filters={"setting": ("post_alectinib",)}))
    rows = hr_rows().assign(trial=["T1", "T1", "T1", "T1", "T4"], cohort=["a", "a2", "b", "d", "x"])
    with pytest.raises(AnalysisError, match="analysis 'net': the contrasts of a multi-arm study"):
        run_network(rows, spec_of())


# ---------------------------------------------------------------------------- the default plan vs metafor


@pytest.fixture(scope="module")
def default_inputs():
    config = fill_defaults(yaml.safe_load((ROOT / "config" / "config.yaml").read_text()))
    paths = {t: ROOT / "data" / f"{t}.tsv" for t in ("studies", "response", "survival", "hazard_ratios")}
    tables = validate_tables(paths)
    specs = check_config(config, tables)
    return specs, estimate_frames()["hazard_ratios"], tables["studies"]


@pytest.mark.parametrize("name", sorted(FIX))
@pytest.mark.parametrize("method", ["EE", "REML", "DL"])
def test_default_networks_match_rma_mv(default_inputs, name, method):
    specs, estimates, studies = default_inputs
    ref = FIX[name]
    spec = specs[name]
    assert spec.report_policy == ref["report_policy"]
    spec = replace(spec, model=replace(spec.model, method=method))
    out = run_network(estimates, spec, studies)
    pooled = out.studies[out.studies["status"] == "pooled"].sort_values("study_id")
    assert pooled["study_id"].tolist() == ref["study_id"]
    assert pooled["treatment"].tolist() == ref["treatment"]
    assert pooled["comparator"].tolist() == ref["comparator"]
    np.testing.assert_allclose(pooled["yi"].astype(float), ref["yi"], rtol=1e-12)
    np.testing.assert_allclose(pooled["vi"].astype(float), ref["vi"], rtol=1e-10)
    fit = ref[method]
    effects = out.effects.set_index("treatment").loc[fit["coef_names"]]
    np.testing.assert_allclose(effects["log_hr"], fit["beta"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(effects["se"], fit["se"], rtol=1e-6)
    np.testing.assert_allclose(effects["p"], fit["pval"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(np.log(effects["ci_lower"]), fit["ci_lb"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.log(effects["ci_upper"]), fit["ci_ub"], rtol=1e-6, atol=1e-8)
    het = out.heterogeneity.set_index("quantity")
    np.testing.assert_allclose(het.loc["tau2", "value"], fit["tau2"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(het.loc["q_total", "value"], fit["QE"], rtol=1e-6)
    assert het.loc["q_total", "df"] == fit["QEdf"]
    idx = list(fit["coef_names"])
    cov = out.result.cov[np.ix_([out.result.treatments.index(t) for t in idx],
                                [out.result.treatments.index(t) for t in idx])]
    np.testing.assert_allclose(cov, np.asarray(fit["vb"]), rtol=1e-6, atol=1e-10)


def test_default_pfs_network_trials_and_transitivity(default_inputs):
    specs, estimates, studies = default_inputs
    sizes = arm_sizes(estimate_frames()["survival"], "pfs")
    out = run_network(estimates, specs["pfs_hr_network_first_line"], studies, sizes)
    pooled = out.studies[out.studies["status"] == "pooled"].set_index("study_id")
    assert pooled.loc["ALEX_alectinib", ["n_treatment", "n_comparator"]].tolist() == [152, 151]
    assert pooled[["n_treatment", "n_comparator"]].notna().all().all()
    assert sorted(out.transitivity["trial"]) == sorted(
        ["ALEX", "J-ALEX", "ALESIA", "ALTA-1L", "CROWN", "eXalt3", "PROFILE 1014", "PROFILE 1029", "ASCEND-4"])
    assert (out.transitivity["prior_therapy"] != "").all()
    aside = out.studies[out.studies["status"] == "set_aside"]
    assert "CROWN_lorlatinib_2024" in set(aside["study_id"])  # earliest_cut: CROWN's primary analysis


# ---------------------------------------------------------------------------- the config


def _config(entry):
    return fill_defaults({"analyses": {"net": {"title": "N", "outcome": "pfs_hr", **entry}}})


def test_spec_round_trip_and_no_sensitivity_tables():
    spec = analysis_specs(_config({"network": {"reference": "crizotinib"}}))["net"]
    assert spec.network == NetworkSpec(reference="crizotinib", nodes="drug")
    assert AnalysisSpec.from_params(spec.to_params()) == spec
    assert spec.sensitivity_tables == () and not spec.funnel


@pytest.mark.parametrize("entry,message", [
    ({"network": {"reference": "crizotinib"}, "comparator": "crizotinib"}, "net.comparator: not allowed with network"),
    ({"network": {"reference": "crizotinib"}, "method": "PM"}, "net.method: a network is fitted by EE"),
    ({"network": {"reference": "crizotinib"}, "subgroup": "drug"}, "net.subgroup: not allowed with network"),
    ({"network": {"reference": "crizotinib"}, "outcome": "orr"}, "a network pools hazard ratios"),
    ({"network": {"reference": "crizotinib", "node": "drug"}}, "unknown key 'node'; did you mean 'nodes'?"),
    ({"network": {"nodes": "drug"}}, "missing required key 'reference'"),
])
def test_config_refuses_what_a_network_cannot_have(entry, message):
    with pytest.raises(ConfigError, match=message):
        check_config(_config(entry))


def test_reference_and_nodes_are_checked_against_the_data():
    paths = {t: ROOT / "data" / f"{t}.tsv" for t in ("studies", "response", "survival", "hazard_ratios")}
    tables = validate_tables(paths)
    with pytest.raises(ConfigError, match=r"network.reference: 'crizotnib' is not a treatment of the network; "
                                          r"did you mean 'crizotinib'\?"):
        check_config(_config({"network": {"reference": "crizotnib"}, "filters": {"setting": ["tki_naive"]}}), tables)
    with pytest.raises(ConfigError, match="network.nodes: no study column 'dose' names a treatment"):
        check_config(_config({"network": {"reference": "crizotinib", "nodes": "dose"}}), tables)


def test_a_disconnected_network_is_said_so():
    """A trial of two treatments linked to no other: the tables are those of the reference's component, and
    the notes say which components were fitted separately."""
    rows = pd.concat([hr_rows().iloc[[1, 2]],
                      hr_rows().iloc[[3]].assign(study_id="T5_e", trial="T5", drug="eps", comparator="zeta")])
    out = run_network(rows, spec_of())
    assert sorted(out.effects["treatment"]) == ["alpha", "beta"]
    assert "the network is disconnected: 2 components" in out.effects["notes"].iloc[0]
    assert len(out.result.subnetworks) == 2


def test_nodes_by_another_study_column_name_both_arms():
    """nodes: regimen: the experimental arm's regimen and the comparator arm's (through comparator_study_id)."""
    studies = pd.DataFrame({"study_id": ["T1_a_late", "T1_c_late", "T2_b", "T2_c", "T3_d", "T3_a"],
                            "regimen": ["alpha 300", "gamma 250", "beta 180", "gamma 250", "delta 100", "alpha 600"],
                            "prior_therapy": ["none"] * 6})
    spec = spec_of(network=NetworkSpec(reference="gamma 250", nodes="regimen"))
    _, table = network_contrasts(hr_rows(), spec, studies)
    pooled = table[table["status"] == "pooled"].set_index("study_id").sort_index()
    assert pooled[["treatment", "comparator"]].values.tolist() == [
        ["alpha 300", "gamma 250"], ["beta 180", "gamma 250"], ["delta 100", "alpha 600"]]
    out = run_network(hr_rows(), spec, studies)  # alpha 600 and delta 100 are not linked to gamma 250
    assert "disconnected" in out.effects["notes"].iloc[0]
    with pytest.raises(AnalysisError, match="T3_d: its comparator arm 'T3_a' has no 'regimen'"):
        network_contrasts(hr_rows(), spec, studies[studies["study_id"] != "T3_a"])
