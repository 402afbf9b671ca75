"""The config: every error says where and what to change, and Snakemake stops before anything is written.

In-process tests of metapool.analysis.config (schema messages, contradictions, filters against the data), then
Snakemake itself in a temporary copy: an unknown key, a misspelled value, a filter matching no study and
contradictory options stop the run with that message and leave results/ empty; the example configs run
with --configfile, and --config overrides single values.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
import yaml

from metapool.analysis.config import (
    ConfigError,
    analysis_specs,
    batches,
    check_config,
    fill_defaults,
    multiverse_choices,
    specification_spec,
    typed_overrides,
)
from metapool.spec import AnalysisSpec, ModelSpec
from metapool.vocabulary import SENSITIVITY_KINDS

from conftest import ROOT, config_problems, default_config, default_tables

EXAMPLES = sorted((ROOT / "config" / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def tables():
    return default_tables()


@pytest.fixture()
def config():
    return default_config()


problems = config_problems


# ---------------------------------------------------------------- the default config and the examples


def test_default_config_and_examples_pass_every_check(config, tables):
    specs = check_config(config, tables)
    assert list(specs) == list(config["analyses"])
    for path in EXAMPLES:
        check_config(fill_defaults(yaml.safe_load(path.read_text())), tables)
    assert len(EXAMPLES) >= 2


def test_defaults_fill_in_and_the_analysis_entry_wins(config):
    config["defaults"]["method"] = "DL"
    config["analyses"]["orr_tki_naive"]["method"] = "PM"
    del config["defaults"]["pi"]
    specs = analysis_specs(config)
    assert specs["orr_tki_naive"].model.method == "PM"
    assert specs["orr_post_crizotinib"].model.method == "DL"
    assert specs["orr_post_crizotinib"].model.pi == ModelSpec().pi == "default"
    assert specs["orr_tki_naive"].sensitivity == SENSITIVITY_KINDS
    assert fill_defaults({"analyses": {}})["analyses_per_job"] == 1
    assert fill_defaults({"analyses": {}})["data_dir"] == "data"


def test_an_analysis_without_options_takes_the_built_in_defaults():
    spec = analysis_specs({"analyses": {"a": {"title": "A", "outcome": "pfs_hr", "comparator": "crizotinib"}}})["a"]
    assert spec == AnalysisSpec(name="a", title="A", outcome="pfs_hr", comparator="crizotinib")
    assert (spec.model.method, spec.model.ci, spec.model.hk_adhoc, spec.model.pi, spec.model.level) == (
        "REML", "z", False, "default", 0.95)
    assert (spec.report_policy, spec.transform, spec.median_method, spec.filters, spec.multiverse) == (
        "latest_cut", "logit", "log_iv", {}, None)
    assert spec.assessor_preference == ("independent_review", "investigator", "not_stated")


def test_params_rebuild_the_spec_and_pooling_params_leave_out_what_does_not_change_the_pooled_result(config):
    for spec in analysis_specs(config).values():
        assert AnalysisSpec.from_params(spec.to_params()) == spec
    spec = analysis_specs(config)["orr_post_crizotinib"]
    assert spec.multiverse is not None and spec.sensitivity
    pooling = spec.pooling_only()
    assert pooling.multiverse is None and pooling.sensitivity == ()
    assert pooling.filters == spec.filters and pooling.model == spec.model
    config["analyses"]["orr_post_crizotinib"]["multiverse"]["method"] = ["DL"]
    config["analyses"]["orr_post_crizotinib"]["sensitivity"] = ["influence"]
    assert analysis_specs(config)["orr_post_crizotinib"].pooling_only().to_params() == pooling.to_params()


def test_derived_facts_of_the_spec(config):
    specs = analysis_specs(config)
    orr, hr = specs["orr_tki_naive"], specs["pfs_hr_vs_chemotherapy_first_line"]
    ratio, median = specs["pfs_median_ratio_vs_crizotinib_first_line"], specs["pfs_median_tki_naive"]
    assert (orr.measure, orr.tables, orr.scale, orr.comparative) == ("proportion", ("response",), "logit", False)
    assert (hr.measure, hr.tables, hr.scale, hr.comparative) == ("hr", ("hazard_ratios",), "log", True)
    assert ratio.tables == ("survival", "hazard_ratios") and ratio.median_method_used == "log_iv"
    assert orr.median_method_used == "" and median.median_method_used == "log_iv"
    glmm = replace(orr, transform="glmm", model=ModelSpec(method="ML"))
    assert glmm.glmm and not glmm.inverse_variance and glmm.has_standard_errors and glmm.scale == "glmm"
    mom = replace(median, median_method="median_of_medians")
    assert not mom.inverse_variance and not mom.has_standard_errors and mom.scale == "none"
    assert replace(median, median_method="raw_iv").scale == "identity"
    assert [ModelSpec(ci=ci, hk_adhoc=adhoc).test for ci, adhoc in
            (("z", False), ("hartung_knapp", False), ("hartung_knapp", True))] == ["z", "knha", "adhoc"]
    assert ModelSpec(ci="hartung_knapp", hk_adhoc=True).ci_choice == "hartung_knapp_adhoc"
    with pytest.raises(ValueError, match="transform must be one of logit, freeman_tukey"):
        replace(orr, transform="logitt")


def test_sensitivity_tables_add_subgroups_when_the_analysis_has_a_subgroup(config):
    specs = analysis_specs(config)
    name = "pfs_median_ratio_vs_crizotinib_first_line"  # no subgroup
    assert specs[name].sensitivity_tables == SENSITIVITY_KINDS
    assert specs["pfs_hr_vs_chemotherapy_first_line"].sensitivity_tables == ("subgroups",) + SENSITIVITY_KINDS
    config["analyses"][name]["sensitivity"] = ["small_study", "leave_one_out"]
    assert analysis_specs(config)[name].sensitivity_tables == ("leave_one_out", "small_study")
    config["analyses"][name]["sensitivity"] = []
    assert analysis_specs(config)[name].sensitivity_tables == ()


def test_overall_defaults_to_true_without_a_subgroup_and_false_with_one(config):
    specs = analysis_specs(config)
    assert specs["pfs_median_ratio_vs_crizotinib_first_line"].overall is True
    assert specs["orr_tki_naive"].overall is False  # subgroup: drug, overall not set
    assert specs["pfs_hr_vs_crizotinib_first_line"].overall is True  # subgroup: drug, overall: true
    # without an overall estimate the sensitivity kinds (which perturb it) are not computed, nor a funnel plot
    assert specs["orr_tki_naive"].sensitivity_tables == ("subgroups",)
    assert not specs["orr_tki_naive"].funnel and specs["pfs_hr_vs_crizotinib_first_line"].funnel
    spec = specs["orr_tki_naive"]
    assert AnalysisSpec.from_params(spec.to_params()) == spec
    assert spec.to_params()["overall"] is False and spec.to_params()["question"] == spec.question != ""


def test_overall_false_needs_a_subgroup(config):
    config["analyses"]["pfs_median_ratio_vs_crizotinib_first_line"]["overall"] = False
    assert problems(config) == [
        "config: analyses.pfs_median_ratio_vs_crizotinib_first_line.overall: false needs a subgroup (without one "
        "the overall estimate is all the analysis shows); add subgroup: or remove overall: false"]


def test_the_default_plan_pools_no_drugs_or_lines_together_unless_asked(config):
    """Response rates and medians by drug without an overall estimate; hazard ratios within one line of
    therapy (one setting or named trials) and one comparator; response rates from no comparator arm."""
    for name, spec in analysis_specs(config).items():
        assert spec.question, name
        if spec.comparative:
            lines = spec.filters.get("setting") or ()
            assert len(lines) == 1 or ("trial" in spec.filters and not lines), name
        else:
            assert spec.subgroup == "drug" and spec.overall is False, name
        if spec.measure == "proportion":
            assert "control" not in spec.filters["arm_role"], name


def test_batches_keep_config_order():
    assert batches(["a", "b", "c", "d", "e"], 2) == [["a", "b"], ["c", "d"], ["e"]]
    assert batches(["a"], 5) == [["a"]]


# ---------------------------------------------------------------- schema messages


def test_unknown_key_names_the_analysis_and_suggests_the_closest_key(config):
    config["analyses"]["orr_tki_naive"]["methd"] = "DL"
    assert problems(config) == ["config: analyses.orr_tki_naive: unknown key 'methd'; did you mean 'method'?"]


@pytest.mark.parametrize("where,key,expected", [
    ((), "study_levl", "config: unknown key 'study_levl'; did you mean 'study_level'?"),
    (("defaults",), "transfrom", "config: defaults: unknown key 'transfrom'; did you mean 'transform'?"),
    (("analyses", "orr_post_crizotinib", "multiverse"), "transforms",
     "config: analyses.orr_post_crizotinib.multiverse: unknown key 'transforms'; did you mean 'transform'?"),
    (("analyses", "orr_tki_naive"), "zzz", "config: analyses.orr_tki_naive: unknown key 'zzz'; allowed keys: "),
])
def test_unknown_keys_everywhere(config, where, key, expected):
    node = config
    for part in where:
        node = node[part]
    node[key] = 1
    (message,) = problems(config)
    assert message.startswith(expected), message


def test_misspelled_value_lists_the_allowed_ones(config):
    config["analyses"]["orr_tki_naive"]["filters"]["setting"] = ["first_line"]
    assert problems(config) == [
        "config: analyses.orr_tki_naive.filters.setting: 'first_line' is not a declared setting; declared in "
        "data/vocabulary.yaml: tki_naive, post_crizotinib, post_second_gen, post_alectinib, post_alk_tki, unknown"
    ]


def test_an_undeclared_outcome_comparator_or_drug_gets_the_closest_declared_one(config):
    config["analyses"]["orr_tki_naive"]["outcome"] = "dor_medain"
    config["analyses"]["orr_tki_naive"]["filters"]["drug"] = ["alectnib"]
    config["analyses"]["pfs_hr_vs_chemotherapy_first_line"]["comparator"] = "placebo"
    assert problems(config) == [
        "config: analyses.orr_tki_naive.outcome: 'dor_medain' is not a declared outcome (did you mean "
        "'dor_median'?); declared in data/vocabulary.yaml: orr, intracranial_orr, pfs_median, pfs_hr, "
        "pfs_ratio_of_medians, os_median, os_hr, os_ratio_of_medians, dor_median, dor_hr, dor_ratio_of_medians",
        "config: analyses.orr_tki_naive.filters.drug: 'alectnib' is not a declared drug (did you mean "
        "'alectinib'?); declared in data/vocabulary.yaml: crizotinib, alectinib, brigatinib, ceritinib, "
        "ensartinib, lorlatinib, chemotherapy",
        "config: analyses.pfs_hr_vs_chemotherapy_first_line.comparator: 'placebo' is not a declared comparator; declared in "
        "data/vocabulary.yaml: crizotinib, alectinib, chemotherapy",
    ]


def test_an_outcome_declared_in_the_data_folder_is_a_config_outcome(config, tmp_path):
    text = (ROOT / "data" / "vocabulary.yaml").read_text(encoding="utf-8")
    (tmp_path / "vocabulary.yaml").write_text(text + "  dcr: {family: proportion, label: disease control}\n",
                                              encoding="utf-8")
    config["analyses"]["orr_tki_naive"]["outcome"] = "dcr"
    assert "config: analyses.orr_tki_naive.outcome: 'dcr' is not a declared outcome" in problems(config)[0]
    config["data_dir"] = str(tmp_path)
    assert check_config(config)["orr_tki_naive"].measure == "proportion"


def test_misspelled_value_close_to_an_allowed_one_gets_a_suggestion(config):
    config["analyses"]["orr_tki_naive"]["method"] = "RMEL"
    config["analyses"]["orr_post_crizotinib"]["multiverse"]["transform"] = ["logit", "glm"]
    assert problems(config) == [
        "config: analyses.orr_post_crizotinib.multiverse.transform: 'glm' is not allowed (did you mean 'glmm'?); "
        "choose from logit, freeman_tukey, arcsine, raw, glmm",
        "config: analyses.orr_tki_naive.method: 'RMEL' is not allowed (did you mean 'REML'?); choose from EE, DL, "
        "HE, SJ, ML, REML, EB, PM",
    ]


def test_other_schema_errors_read_as_sentences(config):
    a = config["analyses"]
    config["study_level"] = 1.5
    config["analyses_per_job"] = 0
    del a["orr_tki_naive"]["title"]
    a["orr_post_crizotinib"]["filters"]["drug"] = []
    a["orr_post_second_gen"]["hk_adhoc"] = "yes"
    a["bad name"] = {"title": "x", "outcome": "orr"}
    assert problems(config) == [
        "config: analyses: analysis name 'bad name' must start with a letter and contain only letters, digits "
        "and underscores",
        "config: analyses.orr_post_crizotinib.filters.drug: must not be empty",
        "config: analyses.orr_post_second_gen.hk_adhoc: expected true or false, got 'yes'",
        "config: analyses.orr_tki_naive: missing required key 'title'",
        "config: analyses_per_job: 0 must be >= 1",
        "config: study_level: 1.5 must be < 1",
    ]


def test_the_old_top_level_level_is_refused_with_the_keys_to_use(config):
    config["level"] = 0.9
    (message,) = problems(config)
    assert message.startswith("config: level: the top-level 'level' was ambiguous and is no longer read: set "
                              "'study_level' for the exact per-study CIs of results/<plan>/tables/studies.tsv, "
                              "and 'defaults: {level: ...}'"), message


@pytest.mark.parametrize("plan", ["../elsewhere", "a/b", "", "1st", ".hidden", "x" * 65, 7])
def test_a_plan_name_that_is_no_plain_folder_name_is_refused(config, plan):
    config["plan"] = plan
    (message,) = problems(config)
    assert message.startswith("config: plan: "), message
    assert "results/<plan>/" in message or "expected text" in message, message


@pytest.mark.parametrize("plan", ["default", "independent_review", "Review-2", "x" * 64])
def test_a_plan_name_of_letters_digits_underscores_and_hyphens_is_accepted(config, plan):
    config["plan"] = plan
    assert check_config(config)


def test_the_plan_defaults_to_default_and_every_config_names_its_own():
    assert fill_defaults({"analyses": {}})["plan"] == "default"
    plans = [yaml.safe_load(p.read_text())["plan"] for p in [ROOT / "config" / "config.yaml", *EXAMPLES]]
    assert plans[0] == "default" and len(set(plans)) == len(plans)


@pytest.mark.parametrize("entries,expected", [
    (["defaults={level: 0.9}"], {"defaults": {"level": 0.9}}),
    (["defaults={hk_adhoc: true, method: DL}"], {"defaults": {"hk_adhoc": True, "method": "DL"}}),
    (["defaults={sensitivity: []}", "study_level=0.9"], {"defaults": {"sensitivity": []}}),
    (["analyses={orr_x: {filters: {phase: ['2']}}}"], {"analyses": {"orr_x": {"filters": {"phase": ["2"]}}}}),
    (["plan=review", "level=0.9", "defaults=[a, b]"], {"defaults": ["a", "b"]}),
    (None, {}),
])
def test_nested_config_overrides_are_read_as_yaml(entries, expected):
    """Snakemake reads the nested values of --config as text ('0.9'); the workflow reads them again as YAML."""
    assert typed_overrides(entries) == expected


@pytest.mark.parametrize("entry,message", [
    ("defaults={level: [}", "--config defaults, line 1, column 10: not valid YAML ("),
    ("defaults={level: 0.9, level: 0.8}", "--config defaults, line 1, column 14: key 'level' is written twice in "
                                          "one mapping (first on line 1, column 2, again at column 14)"),
    ("defaults={method: !!python/name:os.system }", "--config defaults, line 1, column 10: not valid YAML (the tag"),
])
def test_a_nested_override_the_safe_loader_refuses_names_the_key(entry, message):
    with pytest.raises(ConfigError) as info:
        typed_overrides(["plan=x", entry])
    assert info.value.problems[0].startswith(message), info.value.problems


def test_a_pooled_level_override_reaches_every_analysis(config):
    merged = {**config, "defaults": {**config["defaults"], **typed_overrides(["defaults={level: 0.9}"])["defaults"]}}
    specs = check_config(merged)
    assert {spec.model.level for spec in specs.values()} == {0.9}
    assert {spec.model.method for spec in specs.values()} == {"REML"}


def test_multiverse_choice_lists_are_checked_item_by_item(config):
    config["analyses"]["orr_post_crizotinib"]["multiverse"]["assessor"] = ["any", ["independent_review", "irc"]]
    (message,) = problems(config)
    assert message.startswith("config: analyses.orr_post_crizotinib.multiverse.assessor: 'irc' is not allowed; "
                              "choose from independent_review, investigator, not_stated")


# ---------------------------------------------------------------- contradictions


@pytest.mark.parametrize("analysis,change,expected", [
    ("orr_tki_naive", {"hk_adhoc": True},
     "config: analyses.orr_tki_naive: hk_adhoc: true applies to Hartung-Knapp intervals only; set ci: "
     "hartung_knapp or hk_adhoc: false (ci is z)"),
    ("orr_tki_naive", {"comparator": "crizotinib"},
     "config: analyses.orr_tki_naive.comparator: only hazard ratios and ratios of medians have a comparator "
     "(outcome orr is a proportion)"),
    ("pfs_hr_vs_chemotherapy_first_line", {"comparator": None},
     "config: analyses.pfs_hr_vs_chemotherapy_first_line: outcome pfs_hr is pooled against one comparator; add "
     "comparator: the control arm's drug (a comparator of the data folder's vocabulary file)"),
    ("orr_tki_naive", {"transform": "glmm"},
     "config: analyses.orr_tki_naive: transform glmm is fitted by maximum likelihood: set method: ML "
     "(method is REML)"),
    ("orr_tki_naive", {"transform": "glmm", "method": "ML", "ci": "hartung_knapp"},
     "config: analyses.orr_tki_naive: transform glmm has a Wald (z) CI only: set ci: z (ci is hartung_knapp)"),
    ("orr_tki_naive", {"transform": "glmm", "method": "ML", "pi": "t_k2"},
     "config: analyses.orr_tki_naive: transform glmm gives no prediction interval: remove pi (pi is t_k2)"),
    ("pfs_hr_vs_chemotherapy_first_line", {"transform": "arcsine"},
     "config: analyses.pfs_hr_vs_chemotherapy_first_line.transform: applies to proportions only (outcome pfs_hr is a "
     "hazard ratio)"),
    ("orr_tki_naive", {"median_method": "raw_iv"},
     "config: analyses.orr_tki_naive.median_method: applies to the medians of time-to-event outcomes "
     "(<outcome>_median) only (outcome orr)"),
    ("orr_tki_naive", {"multiverse": {"threshold": 0.5}},
     "config: analyses.orr_tki_naive.multiverse: declares no choices; list the alternatives under any of "
     "assessor, design, retrospective, verification, report_policy, transform, method, ci, tau_prior"),
    ("orr_tki_naive", {"multiverse": {"threshold": 0.5, "method": ["DL"], "ci": ["z"]}},
     "config: analyses.orr_tki_naive.multiverse: every choice has a single option (1 specification): nothing "
     "to compare"),
    ("orr_tki_naive", {"multiverse": {"threshold": 50, "method": ["DL", "REML"]}},
     "config: analyses.orr_tki_naive.multiverse.threshold: a proportion strictly between 0 and 1 for outcome orr "
     "(got 50)"),
    ("pfs_hr_vs_chemotherapy_first_line", {"multiverse": {"threshold": 1, "transform": ["logit", "raw"]}},
     "config: analyses.pfs_hr_vs_chemotherapy_first_line.multiverse.transform: applies to proportions only (outcome pfs_hr "
     "is a hazard ratio)"),
    ("pfs_median_tki_naive", {"median_method": "median_of_medians", "multiverse": {"threshold": 10,
                                                                                    "report_policy": ["latest_cut", "largest_n"]}},
     "config: analyses.pfs_median_tki_naive.multiverse: a multiverse pools by inverse variance; median_method "
     "median_of_medians has no model to vary (use log_iv or raw_iv)"),
])
def test_contradictory_options(config, analysis, change, expected):
    entry = config["analyses"][analysis]
    for key, value in change.items():
        if value is None:
            entry.pop(key)
        else:
            entry[key] = value
    assert problems(config) == [expected]


def test_glmm_with_ml_and_z_is_consistent(config, tables):
    config["analyses"]["orr_tki_naive"].update(transform="glmm", method="ML")
    assert check_config(config, tables)["orr_tki_naive"].glmm


def test_contradictions_inherited_from_defaults_are_reported_per_analysis(config):
    config["defaults"]["hk_adhoc"] = True
    found = problems(config)
    assert len(found) == len(config["analyses"])
    assert all("hk_adhoc: true applies to Hartung-Knapp intervals only" in p for p in found)


# ---------------------------------------------------------------- the filters against the data


def test_filter_matching_no_study_names_the_analysis(config, tables):
    config["analyses"]["orr_tki_naive"]["filters"].update(setting=["post_alectinib"], design=["randomised"])
    assert problems(config, tables) == [
        "config: analyses.orr_tki_naive: no study with outcome orr matches the filters (setting: post_alectinib; "
        "drug: crizotinib, alectinib, brigatinib, ceritinib, lorlatinib, ensartinib; arm_role: experimental, single_arm; "
        "design: randomised) in data/response.tsv"
    ]


def test_hazard_ratio_filter_matching_no_trial_against_that_comparator(config, tables):
    config["analyses"]["pfs_hr_vs_crizotinib_first_line"]["comparator"] = "alectinib"
    assert problems(config, tables) == [
        "config: analyses.pfs_hr_vs_crizotinib_first_line: no study with outcome pfs_hr vs alectinib matches the "
        "filters (setting: tki_naive) in data/hazard_ratios.tsv"
    ]


def test_analysis_reading_an_absent_table_names_the_table(config, tables):
    hr_only = {t: tables[t] for t in ("studies", "hazard_ratios")}
    found = problems(config, hr_only)
    assert "config: analyses.orr_tki_naive: outcome orr is read from data/response.tsv, which is absent: add the " \
           "table or remove the analysis" in found
    assert not any("pfs_hr_vs_crizotinib_first_line" in p for p in found)


def test_analysis_reading_an_empty_table_names_the_table(config, tables):
    empty = {**tables, "response": tables["response"].iloc[:0]}
    found = problems(config, empty)
    assert found[0].startswith("config: analyses.orr_tki_naive: no study with outcome orr matches the filters")
    assert found[0].endswith("(data/response.tsv has no rows)")


def test_unknown_study_id_or_trial_is_named_with_the_closest(config, tables):
    config["analyses"]["orr_tki_naive"]["filters"]["study_id"] = ["ALEX_alectnib"]
    config["analyses"]["orr_post_crizotinib"]["filters"]["trial"] = ["NOPE"]
    assert problems(config, tables) == [
        "config: analyses.orr_tki_naive.filters.study_id: 'ALEX_alectnib' is not a study_id of data/studies.tsv; "
        "did you mean 'ALEX_alectinib'?",
        "config: analyses.orr_post_crizotinib.filters.trial: 'NOPE' is not a trial of data/studies.tsv "
        "(see data/studies.tsv)",
    ]


def test_multiverse_choice_matching_none_of_the_studies(config, tables):
    config["analyses"]["orr_post_crizotinib"]["multiverse"]["design"] = ["any", "retrospective"]
    assert problems(config, tables) == [
        "config: analyses.orr_post_crizotinib.multiverse.design: 'retrospective' matches none of the analysis's "
        "studies"
    ]


def test_every_problem_is_reported_at_once(config):
    a = config["analyses"]
    a["orr_tki_naive"]["hk_adhoc"] = True
    a["orr_post_crizotinib"]["comparator"] = "crizotinib"
    a["pfs_hr_vs_chemotherapy_first_line"]["transform"] = "raw"
    assert len(problems(config)) == 3


# ---------------------------------------------------------------- multiverse expansion


def test_multiverse_expands_every_combination_and_glmm_once_per_inclusion(config):
    spec = analysis_specs(config)["orr_post_crizotinib"]
    choices = spec.multiverse.choices
    specs = multiverse_choices(spec)
    inclusion = (len(choices["assessor"]) * len(choices["design"]) * len(choices["verification"])
                 * len(choices["report_policy"]))
    iv = len([t for t in choices["transform"] if t != "glmm"]) * len(choices["method"]) * len(choices["ci"])
    assert len(specs) == inclusion * (iv + 1) == 400
    glmm = [s for s in specs if s["transform"] == "glmm"]
    assert len(glmm) == inclusion and all((s["method"], s["ci"]) == ("ML", "z") for s in glmm)
    assert all(s["retrospective"] == "include" for s in specs)  # not declared: the analysis's own
    assert len({tuple(map(str, s.values())) for s in specs}) == len(specs)


def test_specification_spec_narrows_the_filters(config):
    spec = analysis_specs(config)["orr_post_crizotinib"]
    choice = {"assessor": ("independent_review", "investigator"), "design": "single_arm", "retrospective": "exclude",
              "verification": "any", "report_policy": "largest_n", "transform": "arcsine", "method": "PM",
              "ci": "hartung_knapp_adhoc"}
    sub = specification_spec(spec, choice)
    assert sub.filters["assessor"] == ("independent_review", "investigator")
    assert sub.filters["design"] == ("single_arm",)
    assert "verification" not in sub.filters
    assert (sub.report_policy, sub.transform, sub.model) == (
        "largest_n", "arcsine", replace(spec.model, method="PM", ci="hartung_knapp", hk_adhoc=True))
    assert sub.multiverse is None and sub.sensitivity == ()
    assert sub == replace(spec, filters=sub.filters, report_policy="largest_n", transform="arcsine",
                          model=sub.model, sensitivity=(), multiverse=None)
    without_design = replace(spec, filters={c: v for c, v in spec.filters.items() if c != "design"})
    sub2 = specification_spec(without_design, {**choice, "design": "any"})
    assert sub2.filters["design"] == ("randomised", "single_arm")  # every design but retrospective


# ---------------------------------------------------------------- parse-time imports stay light


def test_parse_time_modules_import_no_numpy_scipy_or_pandas():
    code = ("import sys; import metapool.analysis.config, metapool.vocabulary, metapool.spec; "
            "print(sorted(m for m in ('numpy', 'scipy', 'pandas', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ---------------------------------------------------------------- through Snakemake




# ---------------------------------------------------------------- columns of the reviewer's tables


def test_filter_subgroup_or_moderator_naming_no_column_gets_the_closest(config, tables):
    # a filter may name an extra column of the tables: a misspelt column is found against the tables
    entry = config["analyses"]["orr_tki_naive"]
    entry["filters"]["seting"] = ["tki_naive"]
    entry["subgroup"] = "drugs"
    entry["moderators"] = ["yaer"]
    assert problems(config, tables) == [
        "config: analyses.orr_tki_naive.filters.seting: no table has a column 'seting'; did you mean 'setting'?",
        "config: analyses.orr_tki_naive.subgroup: no table has a column 'drugs'; did you mean 'drug'?",
        "config: analyses.orr_tki_naive.moderators: no table has a column 'yaer'; did you mean 'year'?",
    ]


def test_extra_columns_of_the_tables_are_filters_subgroups_and_moderators(config, tables):
    population = ["asian" if i % 2 else "global" for i in range(len(tables["studies"]))]
    studies = tables["studies"].assign(population=population)
    with_extra = {**tables, "studies": studies}
    entry = config["analyses"]["pfs_hr_vs_crizotinib_first_line"]
    entry.update(subgroup="population", moderators=["year", "population"])
    entry["filters"]["population"] = ["global", "asian"]
    specs = check_config(config, with_extra)
    assert specs["pfs_hr_vs_crizotinib_first_line"].moderators == ("year", "population")
    entry["moderators"] = ["populaton"]
    assert problems(config, with_extra) == [
        "config: analyses.pfs_hr_vs_crizotinib_first_line.moderators: no table has a column 'populaton'; did you "
        "mean 'population'?"]


def test_moderators_need_an_inverse_variance_pool(config):
    config["analyses"]["orr_tki_naive"].update(transform="glmm", method="ML", moderators=["year"])
    assert problems(config) == ["config: analyses.orr_tki_naive.moderators: the meta-regression needs an "
                                "inverse-variance pool (transform glmm has none)"]
