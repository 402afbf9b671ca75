"""Contrast-based network meta-analysis (metapool.stats.network) against metafor 3.8-1's rma.mv.

Fixture: tests/reference/fixtures/network.json, written by tests/reference/R/network.R (dat.senn2013 and
dat.hasselblad1998 in contrast form, each with a three-arm trial, and a constructed two-arm hazard-ratio
network with three loops; two reference treatments each).
Tolerance: relative 1e-6 (absolute 1e-10 for values near 0) on estimates, SEs, covariances, tau^2, Q,
P-scores, the Q decomposition and the direct / indirect split. The hand-computable tests (star network,
Bucher triangle) and the invariants are exact to 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from metapool.stats.network import (
    league_table, network_components, network_meta_analysis, p_scores, sucra,
)

from conftest import load_fixture

REL, ABS = 1e-6, 1e-10
FIX = load_fixture("network.json")
CASES = {c["name"]: c for c in FIX["cases"]}
FITS = [(name, i, method) for name, c in CASES.items() for i in range(len(c["fits"])) for method in ("EE", "REML", "DL")]


def close(actual, expected, rel=REL, abs_=ABS):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float), rtol=rel, atol=abs_)


def shared(case):
    return np.array([np.nan if v is None else v for v in case["shared_var"]])


def fit_case(case, reference, method, **kw):
    return network_meta_analysis(case["study"], case["treatment"], case["comparator"], case["yi"], case["vi"],
                                 shared_var=shared(case), reference=reference, method=method, **kw)


@pytest.fixture(scope="module")
def fitted():
    out = {}
    for name, i, method in FITS:
        case = CASES[name]
        out[name, i, method] = fit_case(case, case["fits"][i]["reference"], method)
    return out


@pytest.mark.parametrize("name,i,method", FITS)
def test_basic_parameters_match_rma_mv(fitted, name, i, method):
    ref = CASES[name]["fits"][i][method]
    res = fitted[name, i, method]
    idx = [res.treatments.index(t) for t in ref["coef_names"]]
    close(res.estimate[idx], ref["beta"])
    close(res.se[idx], ref["se"])
    close(res.zval[idx], ref["zval"])
    close(res.pval[idx], ref["pval"])
    close(res.ci_lower[idx], ref["ci_lb"])
    close(res.ci_upper[idx], ref["ci_ub"])
    close(res.cov[np.ix_(idx, idx)], np.asarray(ref["vb"]))
    close(res.tau2, ref["tau2"])
    close(res.heterogeneity.q, ref["QE"])
    assert res.heterogeneity.df == ref["QEdf"]
    close(res.heterogeneity.q_pvalue, ref["QEp"])
    assert res.reference == CASES[name]["fits"][i]["reference"]
    assert np.isnan(res.se[res.treatments.index(res.reference)])
    assert res.estimate[res.treatments.index(res.reference)] == 0.0


@pytest.mark.parametrize("name,i", [(n, i) for n, c in CASES.items() for i in range(len(c["fits"]))])
def test_reml_loglik_and_metafor_default_control(fitted, name, i):
    """The restricted log-likelihood equals metafor's logLik; with metafor's default optimizer control
    tau^2 agrees to 1e-5 and our maximum is never lower than metafor's."""
    fits = CASES[name]["fits"][i]
    res = fitted[name, i, "REML"]
    close(res.loglik, fits["REML"]["logLik"], rel=1e-10)
    close(res.tau2, fits["REML_default_control"]["tau2"], rel=1e-5)
    assert res.loglik >= fits["REML_default_control"]["logLik"] - 1e-12


@pytest.mark.parametrize("name", CASES)
def test_generalised_dl_from_its_formula(fitted, name):
    case = CASES[name]
    for i, f in enumerate(case["fits"]):
        res = fitted[name, i, "DL"]
        close(res.tau2, f["DL_tau2"])
        assert f["DL_tau2"] > 0
        # netmeta's form (all pairwise comparisons, reduced multi-arm weights; Rücker 2012) is the same number
        close(res.tau2, f["DL_ruecker"]["tau2"])
        close(res.heterogeneity.q, f["DL_ruecker"]["Q"])
        assert res.heterogeneity.df == f["DL_ruecker"]["df"]


@pytest.mark.parametrize("name,i,method", FITS)
def test_p_scores_closed_form(fitted, name, i, method):
    ref = CASES[name]["fits"][i][method]
    res = fitted[name, i, method]
    order = [res.treatments.index(t) for t in CASES[name]["treatments"]]
    close(res.p_scores("good")[order], ref["pscore_good"])
    close(res.p_scores("bad")[order], ref["pscore_bad"])
    # P-scores are a mean of pairwise probabilities: good + bad = 1, the sum is T / 2
    close(res.p_scores("good") + res.p_scores("bad"), np.ones(len(res.treatments)), abs_=1e-12)
    close(res.p_scores("good").sum(), len(res.treatments) / 2, abs_=1e-12)


@pytest.mark.parametrize("name,i,method", FITS)
def test_league_cells_are_differences_of_basic_parameters(fitted, name, i, method):
    res = fitted[name, i, method]
    lt = res.league
    d, C = res.estimate, res.cov
    t = len(d)
    for a in range(t):
        for b in range(t):
            if a == b:
                assert lt.estimate[a, b] == 0 and np.isnan(lt.se[a, b])
                continue
            assert lt.estimate[a, b] == pytest.approx(d[a] - d[b], abs=1e-14)
            assert lt.se[a, b] == pytest.approx(math.sqrt(C[a, a] + C[b, b] - 2 * C[a, b]), rel=1e-12)
            assert lt.ci_lower[a, b] == pytest.approx(lt.estimate[a, b] - stats.norm.ppf(0.975) * lt.se[a, b])
            assert lt.pval[a, b] == pytest.approx(2 * stats.norm.sf(abs(lt.estimate[a, b]) / lt.se[a, b]))
    close(lt.estimate, -lt.estimate.T, abs_=1e-14)
    r = res.treatments.index(res.reference)
    keep = np.arange(t) != r
    close(lt.estimate[keep, r], d[keep])
    close(lt.se[keep, r], res.se[keep])
    frame = lt.frame()
    assert len(frame) == t * (t - 1)


@pytest.mark.parametrize("name", CASES)
def test_league_table_is_invariant_to_the_reference(fitted, name):
    for method in ("EE", "REML", "DL"):
        a, b = fitted[name, 0, method].league, fitted[name, 1, method].league
        close(a.estimate, b.estimate, abs_=1e-9)
        close(a.se, b.se)
        close(fitted[name, 0, method].tau2, fitted[name, 1, method].tau2, rel=1e-9)


@pytest.mark.parametrize("name", CASES)
def test_q_decomposition_by_design(fitted, name):
    case = CASES[name]
    for method in ("EE", "REML"):
        het = fitted[name, 0, method].heterogeneity
        close(het.q_within, case["Q_within"])
        assert het.df_within == case["df_within"]
        close(het.q_between, case["fits"][0]["EE"]["QE"] - case["Q_within"])
        assert het.df_between == case["fits"][0]["EE"]["QEdf"] - case["df_within"]
        by_design = {d.design: d for d in het.designs}
        assert sorted(by_design) == sorted(d["design"] for d in case["designs"])
        for d in case["designs"]:
            got = by_design[d["design"]]
            close(got.q, d["q"])
            assert got.df == d["df"] and got.studies == d["studies"]
        assert het.p_between == pytest.approx(stats.chi2.sf(het.q_between, het.df_between))
        assert het.i2 == pytest.approx(max(0.0, 100 * (het.q - het.df) / het.q))
    if name != "constructed_hr":  # the metadat networks have a three-arm design
        assert any(d["design"].count(":") == 2 for d in case["designs"])


@pytest.mark.parametrize("name", CASES)
def test_split_back_calculation_equals_separate_indirect(fitted, name):
    """For pairs whose direct studies are all two-arm, the back-calculated indirect estimate equals the
    network fitted without the direct studies (rma.mv, same tau^2)."""
    case = CASES[name]
    assert case["split"]
    for method in ("EE", "REML"):
        res = fitted[name, 0, method]
        rows = {(s.treatment, s.comparator): s for s in res.split}
        for ref in case["split"]:
            s = rows[ref["treatment"], ref["comparator"]]
            r = ref[method]
            assert s.k_direct == ref["k_direct"]
            close([s.direct, s.direct_se, s.indirect, s.indirect_se, s.zval],
                  [r["direct"], r["direct_se"], r["indirect"], r["indirect_se"], r["z"]])
            assert s.pval == pytest.approx(2 * stats.norm.sf(abs(r["z"])), rel=1e-6)
            assert 0 < s.prop_direct < 1


def test_split_without_indirect_evidence_is_nan(fitted):
    res = fitted["senn2013", 0, "EE"]
    rows = {(s.treatment, s.comparator): s for s in res.split}
    only_direct = rows["placebo", "sitagliptin"]  # sitagliptin is only compared with placebo
    assert np.isnan(only_direct.indirect) and np.isnan(only_direct.zval)
    assert only_direct.direct == pytest.approx(only_direct.network)
    assert only_direct.prop_direct == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------------
# hand-computable networks


def _pool(y, v):
    w = 1 / np.asarray(v)
    return float(np.sum(w * y) / w.sum()), float(1 / w.sum())


def test_star_network_indirect_is_ratio_of_pooled_hrs():
    """Two-arm trials only, each drug against chemotherapy: the common-effect basic parameters are the
    pairwise inverse-variance pools, and drug A vs drug B is the ratio of their pooled HRs (difference of
    log HRs, variance the sum)."""
    hr = {"alectinib": [(0.47, 0.034), (0.50, 0.028)], "crizotinib": [(0.45, 0.020), (0.60, 0.040), (0.52, 0.05)],
          "lorlatinib": [(0.28, 0.045)]}
    study, trt, comp, yi, vi = [], [], [], [], []
    for drug, trials in hr.items():
        for j, (h, v) in enumerate(trials):
            study.append(f"{drug}-{j}"); trt.append(drug); comp.append("chemotherapy")
            yi.append(math.log(h)); vi.append(v)
    res = network_meta_analysis(study, trt, comp, yi, vi, reference="chemotherapy", method="EE")
    pooled = {d: _pool(np.log([h for h, _ in t]), [v for _, v in t]) for d, t in hr.items()}
    for a in hr:
        ia = res.treatments.index(a)
        assert res.estimate[ia] == pytest.approx(pooled[a][0], abs=1e-12)
        assert res.se[ia] ** 2 == pytest.approx(pooled[a][1], rel=1e-12)
        for b in hr:
            if a == b:
                continue
            ib = res.treatments.index(b)
            assert math.exp(res.league.estimate[ia, ib]) == pytest.approx(
                math.exp(pooled[a][0]) / math.exp(pooled[b][0]), rel=1e-12)
            assert res.league.se[ia, ib] ** 2 == pytest.approx(pooled[a][1] + pooled[b][1], rel=1e-12)
    # no loop: Q is the sum of the pairwise Q's, nothing between designs, no indirect evidence
    q_pairs = sum(float(np.sum((np.log([h for h, _ in t]) - pooled[d][0]) ** 2 / [v for _, v in t]))
                  for d, t in hr.items())
    assert res.heterogeneity.q == pytest.approx(q_pairs, rel=1e-12)
    assert res.heterogeneity.q_between == pytest.approx(0, abs=1e-12) and res.heterogeneity.df_between == 0
    assert all(np.isnan(s.indirect) for s in res.split)
    assert res.components == (tuple(sorted(["alectinib", "chemotherapy", "crizotinib", "lorlatinib"])),)
    # hazard ratios below 1 are good: lorlatinib (HR 0.28) ranks first
    assert res.treatments[int(np.argmax(res.p_scores("good")))] == "lorlatinib"
    assert res.treatments[int(np.argmax(res.p_scores("bad")))] == "chemotherapy"


def test_bucher_triangle():
    """A triangle of two-arm trials: the back-calculated indirect A vs B is Bucher's d_AC - d_BC."""
    study = ["s1", "s2", "s3", "s4", "s5"]
    trt = ["A", "A", "A", "B", "B"]
    comp = ["B", "C", "C", "C", "C"]
    yi = np.array([-0.30, -0.50, -0.35, -0.10, 0.05])
    vi = np.array([0.04, 0.02, 0.05, 0.03, 0.06])
    res = network_meta_analysis(study, trt, comp, yi, vi, reference="C", method="EE")
    d_ac, v_ac = _pool(yi[1:3], vi[1:3])
    d_bc, v_bc = _pool(yi[3:], vi[3:])
    s = {(x.treatment, x.comparator): x for x in res.split}["A", "B"]
    assert s.direct == pytest.approx(-0.30) and s.direct_se == pytest.approx(0.2)
    assert s.indirect == pytest.approx(d_ac - d_bc, abs=1e-12)
    assert s.indirect_se ** 2 == pytest.approx(v_ac + v_bc, rel=1e-12)
    z = (-0.30 - (d_ac - d_bc)) / math.sqrt(0.04 + v_ac + v_bc)
    assert s.zval == pytest.approx(z, rel=1e-12)
    # one loop, three designs: Q between designs is the squared inconsistency z (1 df)
    assert res.heterogeneity.df_between == 1
    assert res.heterogeneity.q_between == pytest.approx(z ** 2, rel=1e-10)


def test_multi_arm_covariance_default_and_rebasing():
    """A three-arm trial: omitting its shared-arm variance assumes half the smaller contrast variance (and
    says so); re-expressing its contrasts against another arm changes nothing."""
    case = CASES["senn2013"]
    sv = shared(case)
    multi = [i for i, s in enumerate(case["study"]) if case["study"].count(s) > 1]
    base = fit_case(case, "placebo", "REML")
    half = sv.copy()
    half[multi] = 0.5 * min(case["vi"][i] for i in multi)
    assumed = network_meta_analysis(case["study"], case["treatment"], case["comparator"], case["yi"], case["vi"],
                                    reference="placebo", method="REML")
    explicit = fit_case({**case, "shared_var": half.tolist()}, "placebo", "REML")
    close(assumed.estimate, explicit.estimate, abs_=1e-12)
    assert any("half the smaller" in n and case["study"][multi[0]] in n for n in assumed.notes)
    assert not base.notes
    # rebase Willms (1999) on its first contrast's arm: y0' = -y1, y2' = y2 - y1, cov' = v1 - v0
    i, j = multi
    yi, vi, trt, comp = list(case["yi"]), list(case["vi"]), list(case["treatment"]), list(case["comparator"])
    new_base = trt[i]
    v0 = sv[i]
    v1 = vi[i] - v0
    yi[i], yi[j] = -case["yi"][i], case["yi"][j] - case["yi"][i]
    vi[i], vi[j] = case["vi"][i], case["vi"][j] - v0 + v1
    trt[i], comp[i], comp[j] = comp[i], new_base, new_base
    sv2 = sv.copy()
    sv2[[i, j]] = v1
    rebased = network_meta_analysis(case["study"], trt, comp, yi, vi, shared_var=sv2, reference="placebo",
                                    method="REML")
    close(rebased.estimate, base.estimate, abs_=1e-9)
    close(rebased.tau2, base.tau2, rel=1e-9)
    close(rebased.heterogeneity.q, base.heterogeneity.q, rel=1e-10)


def test_disconnected_network_is_split():
    study = ["a", "b", "c", "d"]
    trt = ["A", "A", "X", "Y"]
    comp = ["P", "P", "Z", "Z"]
    yi, vi = [-0.2, -0.4, 0.3, 0.1], [0.04, 0.05, 0.02, 0.03]
    assert network_components(trt, comp) == (("A", "P"), ("X", "Y", "Z"))
    res = network_meta_analysis(study, trt, comp, yi, vi, reference="P", method="EE")
    assert res.treatments == ("A", "P") and len(res.subnetworks) == 2
    assert any("disconnected" in n for n in res.notes)
    other = network_meta_analysis(study[2:], trt[2:], comp[2:], yi[2:], vi[2:], method="EE")
    assert res.subnetworks[1].treatments == other.treatments
    close(res.subnetworks[1].estimate, other.estimate, abs_=1e-14)
    assert res.estimate[0] == pytest.approx(_pool(np.array([-0.2, -0.4]), [0.04, 0.05])[0])


def test_sucra_converges_to_p_scores(fitted):
    res = fitted["senn2013", 0, "REML"]
    rank = res.sucra("good", nsim=20_000, seed=7)
    close(rank.rank_probabilities.sum(axis=1), np.ones(len(res.treatments)), abs_=1e-12)
    close(rank.rank_probabilities.sum(axis=0), np.ones(len(res.treatments)), abs_=1e-12)
    assert np.max(np.abs(rank.sucra - res.p_scores("good"))) < 0.01
    again = sucra(res.estimate, res.cov, small_values="good", nsim=20_000, seed=7)
    close(again.sucra, rank.sucra, abs_=0)
    flipped = res.sucra("bad", nsim=20_000, seed=7)
    close(flipped.sucra, 1 - rank.sucra, abs_=1e-12)


def test_input_checks():
    with pytest.raises(ValueError, match="same baseline"):
        network_meta_analysis(["s", "s"], ["A", "B"], ["P", "A"], [0.1, 0.2], [0.1, 0.1])
    with pytest.raises(ValueError, match="itself"):
        network_meta_analysis(["s"], ["A"], ["A"], [0.1], [0.1])
    with pytest.raises(ValueError, match="method"):
        network_meta_analysis(["s"], ["A"], ["P"], [0.1], [0.1], method="PM")
    with pytest.raises(ValueError, match="reference"):
        network_meta_analysis(["s"], ["A"], ["P"], [0.1], [0.1], reference="Q")
    with pytest.raises(ValueError, match="small_values"):
        p_scores([0.0, 1.0], np.eye(2), small_values="low")


def test_summary_frame_and_printing(fitted):
    res = fitted["hasselblad1998", 0, "REML"]
    frame = res.summary_frame()
    assert list(frame["treatment"]) == list(res.basic_parameters)
    assert (frame["comparator"] == "no_contact").all()
    close(frame["estimate"], [res.estimate[res.treatments.index(t)] for t in res.basic_parameters])
    text = str(res)
    assert "tau^2 estimator: REML" in text and "Q between designs" in text and "ind_counseling" in text
    assert set(res.split_frame().columns) >= {"direct", "indirect", "zval", "pval"}


# ---------------------------------------------------------------------------------------------------------
# invariants on random networks


@st.composite
def two_arm_networks(draw):
    """A connected network of two-arm trials on 3-5 treatments with at least one loop."""
    t = draw(st.integers(3, 5))
    names = [f"T{i}" for i in range(t)]
    edges = [(i, i + 1) for i in range(t - 1)] + [(0, t - 1)]  # a ring
    extra = draw(st.lists(st.tuples(st.integers(0, t - 1), st.integers(0, t - 1)).filter(lambda e: e[0] != e[1]),
                          max_size=4))
    rows = []
    for k, (a, b) in enumerate(edges + extra):
        y = draw(st.floats(-1.5, 1.5))
        v = draw(st.floats(0.01, 0.5))
        rows.append((f"s{k}", names[a], names[b], y, v))
    return rows


@settings(max_examples=30, deadline=None)
@given(two_arm_networks(), st.sampled_from(["EE", "REML", "DL"]))
def test_back_calculation_equals_separate_indirect_for_two_arm_networks(rows, method):
    study, trt, comp, yi, vi = (list(x) for x in zip(*rows))
    res = network_meta_analysis(study, trt, comp, yi, vi, method=method)
    yi, vi = np.asarray(yi), np.asarray(vi)
    for s in res.split:
        if np.isnan(s.indirect):
            continue
        direct = np.array([{s.treatment, s.comparator} == {a, b} for a, b in zip(trt, comp)])
        rest = network_meta_analysis(np.asarray(study)[~direct], np.asarray(trt)[~direct], np.asarray(comp)[~direct],
                                     yi[~direct], vi[~direct] + res.tau2, method="EE")
        i, j = rest.treatments.index(s.treatment), rest.treatments.index(s.comparator)
        assert s.indirect == pytest.approx(rest.league.estimate[i, j], abs=1e-8)
        assert s.indirect_se == pytest.approx(rest.league.se[i, j], rel=1e-8)
    # P-scores and the league table do not depend on the reference
    other = network_meta_analysis(study, trt, comp, yi, vi, method=method, reference=res.treatments[-1])
    close(other.league.estimate, res.league.estimate, abs_=1e-9)
    close(other.p_scores(), res.p_scores(), abs_=1e-9)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=6), st.floats(0.01, 1.0))
def test_league_table_from_independent_estimates(d, v):
    d = np.asarray([0.0] + d)
    C = np.diag([0.0] + [v] * (len(d) - 1))
    lt = league_table(d, C, [str(i) for i in range(len(d))])
    close(lt.se[1:, 1:][~np.eye(len(d) - 1, dtype=bool)], math.sqrt(2 * v), rel=1e-12)
    ps = p_scores(d, C, small_values="good")
    # among treatments of equal variance the P-score orders as the estimate (smaller is better)
    for i in range(1, len(d)):
        for k in range(1, len(d)):
            if d[k] - d[i] > 1e-6:
                assert ps[i] > ps[k]


def test_reml_at_the_boundary_equals_common_effect():
    """Consistent, homogeneous data: the restricted score at tau^2 = 0 is negative, REML gives 0 and the
    common-effect fit."""
    study = ["s1", "s2", "s3", "s4", "s5", "s6"]
    trt = ["A", "A", "B", "B", "A", "C"]
    comp = ["P", "P", "P", "P", "B", "P"]
    yi = [-0.20, -0.21, -0.10, -0.11, -0.10, 0.05]
    vi = [0.04, 0.05, 0.03, 0.06, 0.05, 0.02]
    reml = network_meta_analysis(study, trt, comp, yi, vi, reference="P", method="REML")
    ee = network_meta_analysis(study, trt, comp, yi, vi, reference="P", method="EE")
    assert reml.tau2 == 0.0
    close(reml.estimate, ee.estimate, abs_=1e-15)
    assert reml.heterogeneity.q < reml.heterogeneity.df
    assert network_meta_analysis(study, trt, comp, yi, vi, reference="P", method="DL").tau2 == 0.0


def test_results_are_read_only_and_single_component(fitted):
    res = fitted["senn2013", 0, "REML"]
    assert len(res.components) == 1 and res.components[0] == res.treatments and not res.subnetworks
    with pytest.raises(ValueError):
        res.estimate[0] = 1.0
    with pytest.raises(ValueError):
        res.league.estimate[0, 1] = 1.0


def test_shared_variance_must_leave_positive_arm_variances():
    with pytest.raises(ValueError, match="smaller than every contrast variance"):
        network_meta_analysis(["s", "s"], ["A", "B"], ["P", "P"], [0.1, 0.2], [0.1, 0.2], shared_var=[0.1, 0.1])
