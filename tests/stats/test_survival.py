"""Survival outcomes: pooled medians (log/raw inverse variance, one-sided SE, median of medians),
hazard ratios within one comparator with subgroups by drug, ratios of medians, HR centring.

Pooled numbers are pinned against metafor (fixtures/survival.json, written by
tests/reference/R/survival.R from the same data/ tables) to relative 1e-6.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metapool.analysis.run import run_analysis
from metapool.analysis.selection import AnalysisError
from metapool.stats.effects import z_crit
from metapool.analysis.estimates import hr_estimates, survival_estimates
from metapool.figures.plots import estimate_text, forest_rows
from metapool.stats.medians import median_of_medians, sign_test_rank, weighted_median, weighted_median_of_medians
from metapool.stats.survival import (
    hr_ci_asymmetry,
    hr_ci_not_centred,
    median_effects,
    median_not_poolable_reason,
    pool_medians,
    printed_decimals,
)
from metapool.analysis.validation import validate_tables
from metapool.spec import AnalysisSpec
from metapool.vocabulary import outcome

from conftest import ROOT, load_fixture

REL, ABS = 1e-6, 1e-12
TESTS = {"z": "z", "knha": "hartung_knapp"}
DATA = ROOT / "data"
FIXTURE = load_fixture("survival.json")


def close(got, expected) -> bool:
    if expected is None:
        return got is None or (isinstance(got, float) and math.isnan(got))
    return abs(got - expected) <= REL * abs(expected) + ABS


@pytest.fixture(scope="module")
def estimates() -> pd.DataFrame:
    tables = validate_tables({t: DATA / f"{t}.tsv" for t in ("studies", "survival", "hazard_ratios")})
    return pd.concat([survival_estimates(tables["studies"], tables["survival"]),
                      hr_estimates(tables["studies"], tables["hazard_ratios"])], ignore_index=True)


def make_spec(name="test", **options) -> AnalysisSpec:
    """An analysis of the config entry ``options`` (the built-in defaults for the options not given), with the
    estimate across all its studies (``overall: true``, as the fixture's fits) unless ``options`` say otherwise."""
    return AnalysisSpec.from_options(name, {"title": name, "overall": True, **options})


def spec_of(case) -> AnalysisSpec:
    return make_spec(case["name"], **case["spec"], method=case["method"], ci=TESTS[case["test"]], level=case["level"])


# ---------------------------------------------------------------- every pooled survival number against metafor


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: f"{c['name']}-{c['method']}-{c['test']}")
def test_survival_analyses_match_metafor(estimates, case):
    studies, pooled = run_analysis(estimates, spec_of(case))
    inc = studies[studies["status"] == "pooled"].set_index("study_id")
    assert sorted(inc.index) == sorted(case["study_ids"])
    assert sorted(studies.loc[studies["status"] == "not_pooled", "study_id"]) == sorted(case["not_pooled"])
    # per-study effect sizes (the SE each method needs)
    for sid, yi, sei in zip(case["study_ids"], case["yi"], case["sei"]):
        assert close(inc.loc[sid, "yi"], yi) and close(inc.loc[sid, "sei"], sei), sid
    weights = dict(zip(case["study_ids"], case["weights"]))
    for sid in case["study_ids"]:
        assert close(inc.loc[sid, "weight"], weights[sid]), sid
    row = pooled.iloc[0]
    for ours, theirs in [("estimate", "bt_pred"), ("ci_lower", "bt_ci_lb"), ("ci_upper", "bt_ci_ub"),
                         ("pi_lower", "bt_pi_lb"), ("pi_upper", "bt_pi_ub"), ("tau2", "tau2"), ("i2", "I2"),
                         ("h2", "H2"), ("q", "QE"), ("q_pvalue", "QEp"), ("beta", "beta"), ("se", "se")]:
        assert close(row[ours], case[theirs]), (ours, row[ours], case[theirs])
    assert row["k"] == len(case["study_ids"])
    if "comparators" in case:  # hazard ratios: one comparator, the direction stated
        assert set(estimates.set_index(["study_id", "assessor", "measure"]).loc[
            [(s, a, "hr") for s, a in zip(case["study_ids"], case["assessors"])], "comparator"]) == set(case["comparators"])
        assert row["direction"] == f"experimental vs {case['spec']['comparator']}"
    if "subgroups" in case:
        sg = case["subgroups"]
        for g in sg["groups"]:
            r = studies[(studies["subgroup"] == g["group"]) & (studies["status"] == "pooled")].iloc[0]
            assert r["subgroup_k"] == g["k"]
            for ours, theirs in [("subgroup_estimate", "bt_pred"), ("subgroup_ci_lower", "bt_ci_lb"),
                                 ("subgroup_ci_upper", "bt_ci_ub"), ("subgroup_tau2", "tau2"), ("subgroup_i2", "I2")]:
                assert close(r[ours], g[theirs]), (g["group"], ours, r[ours], g[theirs])
        assert close(row["q_between"], sg["q_between"]) and close(row["q_between_pvalue"], sg["q_between_pvalue"])
        if sg["q_between"] is None:
            assert "test for subgroup differences not computed" in row["notes"]
        else:
            assert row["df_between"] == sg["df_between"]


def test_fixture_covers_raw_scale_one_sided_os_hr_by_comparator_and_ratio_of_medians():
    cases = FIXTURE["cases"]
    names = {c["name"] for c in cases}
    assert {"pfs_median_tki_naive_log", "pfs_median_tki_naive_raw", "os_median_post_second_gen_log",
            "pfs_hr_vs_crizotinib_first_line", "pfs_hr_vs_chemotherapy_all",
            "pfs_ratio_of_medians_vs_crizotinib_first_line"} <= names
    assert any(any(c["upper_nr"]) for c in cases if c["name"].startswith("pfs_median"))  # one-sided SEs
    first_line = next(c for c in cases if c["name"] == "pfs_hr_vs_crizotinib_first_line")
    # latest_cut: CROWN's 5-year update (2024) is the latest report of its cohort
    trials = {"ALEX_alectinib", "JALEX_alectinib", "ALESIA_alectinib", "ALTA1L_brigatinib", "CROWN_lorlatinib_2024",
              "EXALT3_ensartinib"}
    assert set(first_line["study_ids"]) == trials
    chemo = next(c for c in cases if c["name"] == "pfs_hr_vs_chemotherapy_all")
    assert set(chemo["study_ids"]) | set(chemo["not_pooled"]) == {
        "PROFILE1014_crizotinib", "PROFILE1007_crizotinib", "PROFILE1029_crizotinib", "ASCEND4_ceritinib",
        "ASCEND5_ceritinib", "ALUR_alectinib_2022"}


# ---------------------------------------------------------------- per-study SEs and reasons


def test_log_and_raw_scale_ses_from_the_ci_and_the_one_sided_variant():
    z = z_crit(0.95)
    yi, sei = median_effects([10.9, 34.8], [9.1, 17.7], [12.9, math.nan], 0.95, [False, True])
    assert np.allclose(yi, np.log([10.9, 34.8]))
    assert np.allclose(sei, [(math.log(12.9) - math.log(9.1)) / (2 * z), (math.log(34.8) - math.log(17.7)) / z])
    yi, sei = median_effects([10.9, 34.8], [9.1, 17.7], [12.9, math.nan], 0.95, [False, True], scale="raw")
    assert np.allclose(yi, [10.9, 34.8])
    assert np.allclose(sei, [(12.9 - 9.1) / (2 * z), (34.8 - 17.7) / z])
    # any CI level: its own z
    _, s90 = median_effects([10.0], [8.0], [12.0], 0.90)
    assert s90[0] == pytest.approx((math.log(12) - math.log(8)) / (2 * z_crit(0.90)))


@pytest.mark.parametrize("args, method, reason", [
    ((True, math.nan, math.nan, math.nan, False, False, math.nan), "log_iv", "median not reached"),
    ((False, 24.1, math.nan, math.nan, False, False, math.nan), "log_iv", "no confidence interval reported"),
    ((False, 34.8, math.nan, math.nan, False, True, 0.95), "log_iv",
     "upper CI limit not reached and no lower limit: no usable information on the spread"),
    ((False, 34.8, math.nan, math.nan, True, True, 0.95), "raw_iv",
     "CI limits not reached: no usable information on the spread"),
    ((False, 34.8, 17.7, math.nan, False, True, 0.95), "log_iv", ""),
    ((False, 24.1, math.nan, math.nan, False, False, math.nan), "median_of_medians", ""),
    ((True, math.nan, math.nan, math.nan, False, False, math.nan), "median_of_medians", "median not reached"),
])
def test_every_study_that_cannot_enter_a_pool_has_a_reason(args, method, reason):
    assert median_not_poolable_reason(*args, method=method) == reason
    assert median_not_poolable_reason(False, 9.7, math.nan, math.nan, False, False, math.nan,
                                      method="weighted_median_of_medians") == \
        "sample size not reported (needed for the weight)"


def test_median_not_reached_is_listed_with_its_reason_and_does_not_move_the_pool(estimates):
    spec = make_spec(outcome="pfs_median", report_policy="earliest_cut",
                     filters={"setting": ["tki_naive"], "drug": ["crizotinib", "lorlatinib"]})
    studies, pooled = run_analysis(estimates, spec)
    crown = studies.set_index("study_id").loc["CROWN_lorlatinib"]
    assert crown["status"] == "not_pooled" and crown["reason"] == "median not reached"
    assert crown["estimate_nr"] and math.isnan(crown["estimate"])
    assert forest_rows(studies, "median").set_index("label").loc["CROWN (lorlatinib, 2020)", "estimate_text"] == "NR"
    without = estimates[estimates["study_id"] != "CROWN_lorlatinib"]
    _, pooled_without = run_analysis(without, spec)
    for col in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "q", "k"):
        assert pooled.iloc[0][col] == pooled_without.iloc[0][col], col
    # the same under the median of medians
    mm = replace(spec, median_method="median_of_medians")
    assert run_analysis(estimates, mm)[1].iloc[0]["estimate"] == run_analysis(without, mm)[1].iloc[0]["estimate"]


def test_os_uses_the_same_machinery_and_okayama_is_not_pooled_for_want_of_a_ci(estimates):
    studies, pooled = run_analysis(estimates, make_spec(
        outcome="os_median", filters={"setting": ["post_second_gen", "post_alectinib"]}))
    okayama = studies.set_index("study_id").loc["OKAYAMA_crizotinib"]
    assert okayama["estimate"] == 24.1 and okayama["status"] == "not_pooled"
    assert okayama["reason"] == "no confidence interval reported"
    pooled_ids = set(studies.loc[studies["status"] == "pooled", "study_id"])
    assert pooled.iloc[0]["k"] == len(pooled_ids) >= 1 and "OKAYAMA_crizotinib" not in pooled_ids
    assert estimate_text(okayama.to_dict(), "median") == "24.1 (no CI)"


def test_one_sided_se_is_noted_on_the_study(estimates):
    studies, _ = run_analysis(estimates, make_spec(outcome="pfs_median", filters={"trial": ["ALEX"]}))
    alex = studies.set_index("study_id").loc["ALEX_alectinib"]
    assert alex["status"] == "pooled" and "one-sided SE" in alex["se_note"]
    assert alex["sei"] == pytest.approx((math.log(34.8) - math.log(17.7)) / z_crit(0.95))
    assert estimate_text(alex.to_dict(), "median") == "34.8 [17.7; NR]"


def test_seed_numbers_are_in_the_survival_estimates(estimates):
    med = estimates[estimates["measure"] == "median"].set_index(["study_id", "outcome"])["estimate"]
    assert med[("JALEX_alectinib", "pfs")] == 34.1
    assert med[("PROFILE1001_2012", "pfs")] == 9.7
    assert med[("PROFILE1005_2012", "pfs")] == 8.1
    assert med[("OKAYAMA_crizotinib", "pfs")] == 2.2
    assert med[("OKAYAMA_crizotinib", "os")] == 24.1


# ---------------------------------------------------------------- comparators and direction


def test_two_comparators_are_never_pooled_together(estimates):
    assert set(estimates.loc[estimates["measure"] == "hr", "comparator"]) >= {"crizotinib", "chemotherapy", "alectinib"}
    seen = {}
    for comparator in ("crizotinib", "chemotherapy", "alectinib"):
        studies, pooled = run_analysis(estimates, make_spec(outcome="pfs_hr", comparator=comparator))
        rows = estimates[estimates["measure"] == "hr"].set_index(["study_id", "assessor"])
        keys = list(zip(studies["study_id"], studies["assessor"]))
        assert set(rows.loc[keys, "comparator"]) == {comparator}
        assert pooled.iloc[0]["comparator"] == comparator
        seen[comparator] = set(studies["study_id"])
    assert not (seen["crizotinib"] & seen["chemotherapy"]) and not (seen["crizotinib"] & seen["alectinib"])
    with pytest.raises(AnalysisError, match="vs alectinib"):
        run_analysis(estimates, make_spec(outcome="pfs_hr", comparator="alectinib", filters={"setting": ["tki_naive"]}))


def test_ratio_of_medians_links_the_arms_through_the_hazard_ratio_table(estimates):
    studies, pooled = run_analysis(estimates, make_spec(
        outcome="pfs_ratio_of_medians", comparator="crizotinib", report_policy="earliest_cut",
        filters={"setting": ["tki_naive"]}))
    st_ = studies.set_index("study_id")
    alex = st_.loc["ALEX_alectinib"]
    assert alex["comparator_study_id"] == "ALEX_crizotinib" and alex["c_median"] == 10.9 and alex["e_median"] == 34.8
    z = z_crit(0.95)
    se = math.hypot((math.log(34.8) - math.log(17.7)) / z, (math.log(12.9) - math.log(9.1)) / (2 * z))
    assert alex["yi"] == pytest.approx(math.log(34.8 / 10.9)) and alex["sei"] == pytest.approx(se)
    assert st_.loc["CROWN_lorlatinib", "reason"] == "median not reached (experimental arm)"
    assert pooled.iloc[0]["direction"] == "experimental vs crizotinib"
    # without the hazard-ratio table the arms cannot be linked
    with pytest.raises(AnalysisError, match="link the arms"):
        run_analysis(estimates[estimates["measure"] == "median"], make_spec(
            outcome="pfs_ratio_of_medians", comparator="crizotinib"))
    assert outcome("pfs_ratio_of_medians").tables == ("survival", "hazard_ratios")
    assert outcome("pfs_hr").tables == ("hazard_ratios",)


def test_ratio_of_medians_without_a_comparator_arm_median_says_so(estimates):
    est = estimates[~((estimates["study_id"] == "EXALT3_crizotinib") & (estimates["measure"] == "median"))]
    studies, _ = run_analysis(est, make_spec(outcome="pfs_ratio_of_medians", comparator="crizotinib",
                                             filters={"trial": ["eXalt3"]}))
    assert studies.iloc[0]["reason"] == "no median of the comparator arm (EXALT3_crizotinib) by the same assessor"


# ---------------------------------------------------------------- HR centred on its CI


def test_an_hr_whose_ci_is_not_centred_is_flagged():
    studies = pd.DataFrame([{"study_id": s, "trial": s, "cohort": "", "arm": "", "drug": "alectinib",
                             "setting": "tki_naive", "design": "randomised", "phase": "3", "arm_role": "experimental",
                             "first_author": "", "year": 2020, "data_cut": "", "verification": "verified"}
                            for s in ("A", "B")])
    hrs = pd.DataFrame({
        "study_id": ["A", "B"], "outcome": ["pfs", "pfs"], "assessor": ["investigator"] * 2,
        "comparator": ["crizotinib"] * 2, "comparator_study_id": ["", ""], "comparator_detail": ["", ""],
        "hr": [0.30, 0.43], "ci_level": [0.95, 0.95], "ci_lower": [0.20, 0.32], "ci_upper": [0.80, 0.58],
        "source": ["x", "x"], "location": ["x", "x"],
    })
    printed = hrs.assign(hr=["0.30", "0.43"], ci_lower=["0.20", "0.32"], ci_upper=["0.80", "0.58"])
    for out in (hr_estimates(studies, hrs, printed=printed), hr_estimates(studies, hrs.assign(hr=[0.31, 0.43]))):
        out = out.set_index("study_id")
        assert bool(out.loc["A", "ci_not_centred"]) and not bool(out.loc["B", "ci_not_centred"])
    out = hr_estimates(studies, hrs, printed=printed).set_index("study_id")
    se = (math.log(0.8) - math.log(0.2)) / (2 * z_crit(0.95))
    assert out.loc["A", "ci_asymmetry"] == pytest.approx(abs(math.log(0.3) - math.log(0.4)) / se)
    # 0.30 (0.20-0.80) stored as 0.3, 0.2, 0.8 reads as one decimal: within rounding, not flagged
    assert not hr_estimates(studies, hrs).set_index("study_id").loc["A", "ci_not_centred"]


def test_no_hr_in_the_data_is_off_centre_beyond_rounding(estimates):
    hr = estimates[estimates["measure"] == "hr"]
    assert not hr["ci_not_centred"].any()
    assert hr["ci_asymmetry"].max() < 0.2


def test_rounding_bound_comes_from_the_printed_decimals():
    assert [printed_decimals(x) for x in (0.6, 0.45, 0.191, 2.0, 34.8)] == [1, 2, 3, 0, 1]
    assert [printed_decimals(x) for x in ("0.60", "0.45", "1", "NR", "")] == [2, 2, 0, 0, 0]
    # CROWN 0.28 (0.191-0.413): the centre of the CI is 0.2809; 0.28 stands for [0.275, 0.285] -> centred
    centre = math.exp((math.log(0.191) + math.log(0.413)) / 2)
    assert round(centre, 4) == 0.2809
    assert not hr_ci_not_centred(0.28, 0.191, 0.413, (2, 3, 3))
    # the same HR printed as 0.2800 (four decimals) cannot be the centre of any CI that rounds to (0.191, 0.413)
    assert hr_ci_not_centred(0.28, 0.191, 0.413, (4, 3, 3))
    # the CI's own rounding alone puts the centre in [0.2803, 0.2814]: 0.2809 fits, 0.2795 (+/- 0.00005) does not
    assert not hr_ci_not_centred(0.2809, 0.191, 0.413, 4)
    assert hr_ci_not_centred(0.2795, 0.191, 0.413, 4)
    # without the strings, the most precise of the three sets the precision (0.28 read as 0.280)
    assert not hr_ci_not_centred(0.28, 0.191, 0.413)
    assert hr_ci_not_centred(0.27, 0.191, 0.413)


@settings(max_examples=100, deadline=None)
@given(hr=st.floats(0.05, 5.0), half=st.floats(0.05, 1.5), level=st.sampled_from([0.90, 0.95, 0.99]),
       decimals=st.integers(2, 4))
def test_a_centred_hr_rounded_for_printing_is_never_flagged(hr, half, level, decimals):
    lo, hi = hr * math.exp(-half), hr * math.exp(half)
    printed = [round(v, decimals) for v in (hr, lo, hi)]
    if min(printed) <= 0 or not printed[1] < printed[2]:
        return
    assert not hr_ci_not_centred(*printed)
    assert hr_ci_asymmetry(hr, lo, hi, level) == pytest.approx(0.0, abs=1e-9)


# ---------------------------------------------------------------- median of medians (McGrath et al. 2019)


def test_sign_test_ranks_by_hand():
    # P(Bin(k, 1/2) <= r - 1) <= 2.5%: k = 6 -> r = 1 (1/64); k = 9 -> r = 2 (10/512); k = 5: none (1/32 > 2.5%)
    assert sign_test_rank(6) == (1, pytest.approx(1 - 2 / 64))
    assert sign_test_rank(9) == (2, pytest.approx(1 - 20 / 512))
    assert sign_test_rank(10) == (2, pytest.approx(1 - 22 / 1024))
    assert sign_test_rank(5)[0] == 0 and math.isnan(sign_test_rank(5)[1])
    assert sign_test_rank(5, level=0.9)[0] == 1  # 1 - 2/32 = 93.75% >= 90%


def test_median_of_medians_worked_example():
    # metamedian's pool.med example: sorted 0.50 0.59 0.78 2.20 3.10 3.48 4.00 5.06 5.23
    # median y(5) = 3.10; r = 2 -> 95% CI (y(2), y(8)) = (0.59, 5.06), coverage 1 - 20/512 = 96.09%
    res = median_of_medians([5.23, 3.10, 0.50, 0.78, 3.48, 0.59, 2.20, 5.06, 4.00])
    assert (res.estimate, res.ci_lower, res.ci_upper) == (3.10, 0.59, 5.06)
    assert res.coverage == pytest.approx(0.9609375) and res.rank == 2 and res.k == 9
    # the ten first-line crizotinib medians of data/survival.tsv (with or without CIs):
    # sorted 7.7 8.1 9.3 9.7 10.2 10.9 10.9 11.1 11.1 12.7 -> (10.2 + 10.9) / 2 = 10.55;
    # r = 2 (P(B <= 1) = 11/1024) -> (y(2), y(9)) = (8.1, 11.1), coverage 1 - 22/1024 = 97.85%
    res = median_of_medians([10.9, 11.1, 11.1, 9.3, 10.2, 9.7, 8.1, 7.7, 10.9, 12.7])
    assert res.estimate == pytest.approx(10.55) and (res.ci_lower, res.ci_upper) == (8.1, 11.1)
    assert res.coverage == pytest.approx(0.978515625)
    # too few studies: no interval
    res = median_of_medians([34.8, 34.1, 41.6])
    assert res.estimate == 34.8 and math.isnan(res.ci_lower) and math.isnan(res.ci_upper)
    assert "too few" in res.notes[0]


def test_weighted_median_of_medians_worked_example():
    # values 1..6, weights 1 1 1 1 1 5 (sum 10): cumulative 0.1 0.2 0.3 0.4 0.5 1.0
    # weighted median: the cumulative weight is exactly 1/2 at 5 -> (5 + 6) / 2 = 5.5
    # k = 6 -> r = 1: limits at the weighted quantiles 1/6 (first cumulative >= 0.167: 0.2 -> 2) and 6/6 (-> 6)
    res = weighted_median_of_medians([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 1, 5])
    assert (res.estimate, res.ci_lower, res.ci_upper) == (5.5, 2.0, 6.0)
    assert res.coverage == pytest.approx(1 - 2 / 64)
    assert np.allclose(res.weights, [10, 10, 10, 10, 10, 50])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0.5, 60.0), min_size=1, max_size=25), st.sampled_from([0.8, 0.9, 0.95]))
def test_equal_weights_give_the_unweighted_median_of_medians(values, level):
    a = median_of_medians(values, level)
    b = weighted_median_of_medians(values, [7.0] * len(values), level)
    assert a.estimate == pytest.approx(float(np.median(values)))
    assert b.estimate == pytest.approx(a.estimate)
    assert (a.ci_lower, a.ci_upper) == (b.ci_lower, b.ci_upper) or math.isnan(a.ci_lower)
    if not math.isnan(a.ci_lower):
        assert a.ci_lower <= a.estimate <= a.ci_upper and a.coverage >= level
        y = sorted(values)
        assert (a.ci_lower, a.ci_upper) == (y[a.rank - 1], y[len(y) - a.rank])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0.5, 60.0), st.integers(5, 500)), min_size=1, max_size=20))
def test_weighted_median_splits_the_weight(pairs):
    values, weights = zip(*pairs)
    m = weighted_median(values, weights)
    w = np.asarray(weights, float) / sum(weights)
    v = np.asarray(values)
    assert w[v < m].sum() <= 0.5 + 1e-9 and w[v > m].sum() <= 0.5 + 1e-9


def test_median_of_medians_analysis_includes_medians_without_cis(estimates):
    # the first report of each of these ten trials' crizotinib arms (hand-checked: ten medians, sign-test CI)
    trials = ["ALESIA", "ALEX", "ALTA-1L", "CROWN", "J-ALEX", "PROFILE 1001", "PROFILE 1005", "PROFILE 1007",
              "PROFILE 1014", "eXalt3"]
    spec = make_spec(outcome="pfs_median", median_method="median_of_medians", report_policy="earliest_cut",
                     filters={"setting": ["tki_naive"], "drug": ["crizotinib"], "design": ["randomised", "single_arm"],
                              "trial": trials})
    studies, pooled = run_analysis(estimates, spec)
    row = pooled.iloc[0]
    assert row["k"] == 10 and row["estimate"] == pytest.approx(10.55)
    assert (row["ci_lower"], row["ci_upper"]) == (8.1, 11.1) and row["coverage"] == pytest.approx(0.978515625)
    assert row["model"] == "median of medians" and row["ci_method"] == "sign_test" and math.isnan(row["tau2"])
    wm = run_analysis(estimates, replace(spec, median_method="weighted_median_of_medians"))[0].set_index("study_id")
    assert wm.loc["PROFILE1001_2012", "reason"] == "sample size not reported (needed for the weight)"


# ---------------------------------------------------------------- raw-scale pooling and subgroups


def test_raw_scale_pool_is_not_back_transformed():
    res = pool_medians([10.0, 12.0], [8.0, 9.0], [12.0, 15.0], 0.95, scale="raw", method="EE")
    z = z_crit(0.95)
    w = 1 / np.array([(4 / (2 * z)) ** 2, (6 / (2 * z)) ** 2])
    assert res.transform == "identity" and res.estimate == pytest.approx((w @ [10, 12]) / w.sum())


def test_hr_subgroups_by_drug_with_the_test_for_differences(estimates):
    studies, pooled = run_analysis(estimates, make_spec(
        outcome="pfs_hr", comparator="crizotinib", subgroup="drug", filters={"setting": ["tki_naive"]}))
    row = pooled.iloc[0]
    assert row["subgroup"] == "drug" and row["df_between"] == 3 and 0 < row["q_between_pvalue"] < 1
    assert set(studies["subgroup"]) == {"alectinib", "brigatinib", "lorlatinib", "ensartinib"}
    rows = forest_rows(studies, "hr")
    assert list(rows.loc[rows["kind"] == "header", "label"]) == ["alectinib", "brigatinib", "ensartinib", "lorlatinib"]
    # a subtotal diamond for each subgroup of two or more pooled studies; a one-study subgroup is drawn as its study
    pooled_per_drug = studies[studies["included"]].groupby("subgroup").size()
    assert (rows["kind"] == "subtotal").sum() == (pooled_per_drug >= 2).sum() >= 1
