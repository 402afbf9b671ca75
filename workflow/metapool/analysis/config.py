"""The workflow config: checked, with messages that say what to change, and resolved into analyses.

:func:`analysis_specs` resolves the config into one
:class:`~metapool.spec.AnalysisSpec` per analysis (the only place where
defaults are merged); :func:`multiverse_choices` and :func:`specification_spec`
expand an analysis's multiverse into its specifications.

:func:`check_config` runs in three layers and reports every problem at once
(a :class:`ConfigError`, one line per problem, each starting ``config: <where>:``):

1. the JSON Schema ``metapool/schemas/config.schema.yaml`` (draft 2020-12,
   :mod:`jsonschema`), its errors rewritten: an unknown key gets the closest
   valid key (``config: analyses.orr_tki_naive: unknown key 'methd'; did you
   mean 'method'?``), a value outside an engine vocabulary the allowed values
   (``config: analyses.orr_x.method: 'REMl' is not allowed (did you mean
   'REML'?); choose from EE, DL, ...``); then the outcomes, comparators and the
   drug and setting filters against the data folder's vocabulary file
   (:func:`declared_problems`: ``config: analyses.orr_x.filters.setting:
   'first_line' is not a declared setting; declared in data/vocabulary.yaml:
   tki_naive, ...``);
2. options that contradict each other (:func:`option_problems`): ``hk_adhoc``
   without Hartung-Knapp, a comparator on an outcome without one (or none on a
   hazard ratio), the GLMM with a method other than ML, a CI other than z or a
   prediction-interval option, a multiverse without alternatives, ...;
3. the filters against the data (:func:`data_problems`, when the validated
   tables are given): a filter, subgroup or moderator naming a column that no
   table has (with the closest column), an analysis reading a table that is
   absent, a study id or trial that is not in ``studies.tsv``, an analysis
   whose filters match no study with its outcome (naming the table), a
   multiverse choice that matches none of the analysis's studies.

Nothing here imports Snakemake, numpy or pandas: Snakemake runs this while it
parses the workflow, on every invocation. :func:`data_problems`, which is given
the validated tables (pandas frames), imports the candidate selection of
:mod:`metapool.analysis.selection` when it runs.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from ..declared import DeclaredVocabulary, VocabularyError, load_vocabulary
from ..spec import AnalysisSpec, BayesSpec, Prior
from ..vocabulary import (
    BAYES_CI,
    BAYES_METHOD,
    BAYES_SCALES,
    MULTIVERSE_INCLUSION,
    DECLARED_COLUMNS,
    DESIGNS,
    ESTIMATE_MEASURES,
    MEASURES,
    MULTIVERSE_CI,
    MULTIVERSE_DIMENSIONS,
    STUDY_FILTER_COLUMNS,
    SUBGROUP_VARIABLES,
)

__all__ = [
    "SCHEMA_PATH", "ConfigError", "load_schema", "fill_defaults", "schema_problems", "analysis_specs",
    "declared_problems", "option_problems", "data_problems", "check_config", "multiverse_choices",
    "specification_spec", "choice_label", "batches", "typed_overrides", "RENAMED_KEYS", "value_problems",
    "prior_problems",
]

# package data (pyproject.toml): found beside the code wherever the package is installed
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"

def _with_article(measure: str) -> str:
    return f"a {MEASURES[measure].noun}"


class ConfigError(ValueError):
    """The config cannot be run as written; ``problems`` holds one message per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------------------- schema


def _load_schema_text(path: str) -> dict:
    from ..yamlfile import load_package_yaml

    return load_package_yaml(path)


def load_schema(path: str | Path = SCHEMA_PATH) -> dict:
    """The config schema (a fresh copy)."""
    return copy.deepcopy(_load_schema_text(str(path)))


def fill_defaults(config: dict, schema: dict | None = None) -> dict:
    """A copy of ``config`` with the top-level ``default`` values of the schema filled in."""
    schema = schema or load_schema()
    out = copy.deepcopy(dict(config))
    for key, prop in schema.get("properties", {}).items():
        if key not in out and "default" in prop:
            out[key] = copy.deepcopy(prop["default"])
    return out


def typed_overrides(entries) -> dict:
    """The nested values of Snakemake's ``--config KEY=VALUE`` entries, read as YAML.

    Snakemake parses a ``VALUE`` that is no number or boolean with YAML's
    ``BaseLoader``, which keeps every scalar as text: ``--config 'defaults={level:
    0.9}'`` gives ``{'defaults': {'level': '0.9'}}``, which the schema refuses
    (``expected a number, got '0.9'``). This reads each mapping or list value
    again with YAML's safe loader (``0.9`` a number, ``true`` a boolean, ``'1'``
    quoted text), so that merging the result into the config (Snakemake's
    ``update_config``, as the workflow does) gives the values their YAML types,
    as in a config file.

    Parameters
    ----------
    entries : sequence of str or None
        The ``KEY=VALUE`` texts given to ``--config`` (``workflow.config_settings.config_args``).

    Returns
    -------
    dict
        ``KEY -> value`` of the entries whose value is a YAML mapping or list; scalars are left to Snakemake.

    Raises
    ------
    ConfigError
        A mapping or list that is not valid YAML, or that the safe loader of :mod:`metapool.yamlfile`
        refuses (a key written twice, a python tag, an alias bomb), naming ``--config KEY``, line and column.
    """
    from ..yamlfile import YamlFileError, parse_yaml

    out: dict = {}
    problems: list[str] = []
    for entry in entries or ():
        key, sep, text = str(entry).partition("=")
        if not sep or not text.lstrip().startswith(("{", "[")):
            continue  # a scalar: Snakemake's own reading stands
        try:
            value = parse_yaml(text, f"--config {key.strip()}")
        except YamlFileError as e:
            problems += e.problems
            continue
        if isinstance(value, (dict, list)):
            out[key.strip()] = value
    if problems:
        raise ConfigError(problems)
    return out


# top-level keys that were renamed: the key -> what to write instead (check_config refuses the old key)
RENAMED_KEYS = {
    "level": "the top-level 'level' was ambiguous and is no longer read: set 'study_level' for the exact "
             "per-study CIs of results/<plan>/tables/studies.tsv, and 'defaults: {level: ...}' (or an analysis's "
             "'level') for the pooled CIs and the per-study CIs of each analysis "
             "(--config study_level=0.9 or --config 'defaults={level: 0.9}')",
}


def _where(path) -> str:
    parts = [str(p) for p in path if not isinstance(p, int)]
    return "config: " + ".".join(parts) + ":" if parts else "config:"


def _resolve_ref(root: dict, ref: str) -> dict:
    node = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _property_names(node: dict, root: dict) -> set[str]:
    """Every key a schema object allows: its ``properties``, through ``$ref`` and ``allOf``."""
    names = set(node.get("properties", {}))
    if "$ref" in node:
        names |= _property_names(_resolve_ref(root, node["$ref"]), root)
    for sub in node.get("allOf", []):
        names |= _property_names(sub, root)
    return names


def _fmt(value) -> str:
    """A value as the message shows it: text in quotes, a control character escaped (repr)."""
    return f"'{value}'" if isinstance(value, str) and value.isprintable() else repr(value)


def _closest(word, choices) -> str | None:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def _suggest(word, choices) -> str:
    close = _closest(word, choices)
    return f"; did you mean '{close}'?" if close else ""


_TYPE_NAMES = {"number": "a number", "integer": "a whole number", "string": "text", "boolean": "true or false",
               "array": "a list", "object": "a mapping of keys to values"}
_BOUND_WORDS = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}


def _error_messages(error, root: dict) -> list[str]:
    where = _where(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind in ("additionalProperties", "unevaluatedProperties") and isinstance(instance, dict):
        allowed = _property_names(error.schema, root)
        unknown = [key for key in instance if key not in allowed]
        messages = []
        for key in unknown:
            hint = _suggest(key, sorted(allowed)) or f"; allowed keys: {', '.join(sorted(allowed))}"
            messages.append(f"{where} unknown key '{key}'{hint}")
        return messages  # empty: an artefact of another error in the same object
    if kind == "enum":
        choices = ", ".join("''" if v == "" else str(v) for v in value)
        close = _closest(instance, value) if isinstance(instance, str) else None
        hint = f" (did you mean '{close}'?)" if close else ""
        return [f"{where} {_fmt(instance)} is not allowed{hint}; choose from {choices}"]
    if kind == "required":
        return [f"{where} missing required key '{key}'" for key in value if key not in instance]
    if kind == "type":
        wanted = " or ".join(_TYPE_NAMES.get(t, t) for t in ([value] if isinstance(value, str) else value))
        return [f"{where} expected {wanted}, got {_fmt(instance)}"]
    if kind in _BOUND_WORDS:
        return [f"{where} {_fmt(instance)} must be {_BOUND_WORDS[kind]} {value}"]
    if kind in ("minItems", "minProperties", "minLength"):
        return [f"{where} must not be empty"]
    if kind == "uniqueItems":
        return [f"{where} lists a value more than once"]
    if kind == "pattern" and list(error.absolute_schema_path)[-2:-1] == ["propertyNames"]:
        return [f"{where} analysis name {_fmt(instance)} must start with a letter and contain only letters, "
                "digits and underscores"]
    if kind in ("anyOf", "oneOf") and error.context:
        # the branch of the same JSON type as the value says most (a string: the enum; a list: its items)
        same_type = [e for e in error.context if e.validator != "type"]
        best = min(same_type or error.context, key=lambda e: -len(e.absolute_path))
        return _error_messages(best, root)
    if kind == "pattern" and list(error.absolute_path) == ["plan"]:
        return [f"{where} plan name {_fmt(instance)} must start with a letter and contain only letters, digits, "
                "underscores and hyphens (at most 64 characters): it names the folder results/<plan>/"]
    if kind == "pattern":
        return [f"{where} {_fmt(instance)} does not match the pattern {value}"]
    return [f"{where} {error.message}"]


# an analysis name and a plan name as a whole (the schema's patterns are searched by jsonschema with Python's
# re.search, where "$" also matches before a final newline: "orr\n" would pass them)
_SCHEMA_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"  # config.schema.yaml, analyses.propertyNames
_NAME = {"analyses": re.compile(r"[A-Za-z][A-Za-z0-9_]{0,99}"), "plan": re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")}


def value_problems(config: Mapping) -> list[str]:
    """What no schema keyword catches, checked before the schema: a key that is not text (``2024:`` as an
    analysis name, which would become a folder name), an analysis or plan name that is not a safe folder name
    as a whole (no ``/``, ``..``, leading dot, control character or final newline), and a number that is not
    finite (``.nan``, ``.inf``: a bound such as ``level > 0`` is never violated by NaN). One message each, with
    the key path: ``config: defaults.level: .nan is not a finite number``."""
    import math

    problems: list[str] = []

    def walk(node, path):
        if isinstance(node, Mapping):
            for key, value in node.items():
                if not isinstance(key, str):
                    what = "analysis name" if path == ("analyses",) else "key"
                    problems.append(f"{_where(path)} {what} {key!r} must be text"
                                    + (" starting with a letter (it names a folder)" if what != "key" else ""))
                    continue
                if path == ("analyses",) and re.search(_SCHEMA_NAME, key) and not _NAME["analyses"].fullmatch(key):
                    problems.append(f"{_where(path)} analysis name {key!r} must start with a letter and contain "
                                    "only letters, digits and underscores (at most 100 characters): it names a "
                                    "folder")
                    continue
                walk(value, (*path, key))
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, (*path, i))
        elif isinstance(node, float) and not math.isfinite(node):
            text = "nan" if math.isnan(node) else ("-" if node < 0 else "") + "inf"
            problems.append(f"{_where(path)} .{text} is not a finite number".replace(" .-", " -."))

    walk(config, ())
    plan = config.get("plan")
    if isinstance(plan, str) and not _NAME["plan"].fullmatch(plan) and re.search(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$", plan):
        problems.append(f"config: plan: plan name {plan!r} must start with a letter and contain only letters, "
                        "digits, underscores and hyphens (at most 64 characters): it names the folder "
                        "results/<plan>/")
    return problems


def schema_problems(config: Mapping, schema: dict | None = None) -> list[str]:
    """The schema violations of ``config`` as messages (empty when it conforms), after the checks of
    :func:`value_problems` (keys that are not text, names that are not safe folder names, numbers that are
    not finite; a key that is not text stops the checks here)."""
    import jsonschema

    problems = value_problems(config)
    if any(" must be text" in p for p in problems):
        return problems  # a key that is not text: the schema's messages would not name it
    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    # a renamed key: what to write instead (not "unknown key")
    problems += [f"config: {key}: {message}" for key, message in RENAMED_KEYS.items() if key in config]
    config = {key: value for key, value in config.items() if key not in RENAMED_KEYS}
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for message in _error_messages(error, schema):
            if message not in problems:
                problems.append(message)
    return problems


# ---------------------------------------------------------------------------------------- resolution


def analysis_specs(config: Mapping) -> dict[str, AnalysisSpec]:
    """Each analysis of a config with every option set: the only place where defaults are merged.

    Parameters
    ----------
    config : Mapping
        A config that conforms to the schema (:func:`schema_problems`).

    Returns
    -------
    dict of str to AnalysisSpec
        In config order; an option comes from the analysis entry, else the config's ``defaults:``, else the
        built-in default (the field defaults of :class:`~metapool.spec.AnalysisSpec` and
        :class:`~metapool.spec.ModelSpec`).
    """
    defaults = dict(config.get("defaults") or {})
    return {name: AnalysisSpec.from_options(name, {**defaults, **entry})
            for name, entry in config["analyses"].items()}


def choice_label(option) -> str:
    """The text of a multiverse option in results/<plan>/multiverse/<analysis>.tsv (a list joined by '+', a prior
    as the config writes it)."""
    if isinstance(option, Prior):
        return option.text
    if isinstance(option, (list, tuple)):
        return "+".join(str(o) for o in option)
    return str(option)


def multiverse_choices(spec: AnalysisSpec) -> list[dict]:
    """Every specification of the analysis's multiverse, in a fixed order (the product of the dimensions in
    ``MULTIVERSE_DIMENSIONS`` order, the last varying fastest).

    Each is a dict dimension -> option (tuples for inclusion choices given as
    lists). A dimension the multiverse does not list takes the analysis's own
    setting (``any`` assessor, design and verification, retrospective studies
    ``include``d). A GLMM specification is fitted by ML with a Wald z CI: its
    ``method`` and ``ci`` are ``ML`` and ``z`` whatever was listed, and it
    appears once per inclusion choice. The frequentist specifications have ``tau_prior`` ''; with
    ``tau_prior`` listed, the Bayesian specifications follow them: one per inclusion choice (in the same
    order) and prior, with ``transform`` the logit for proportions (the analysis scale otherwise), ``method``
    ``bayes`` and ``ci`` ``credible``.
    """
    choices = spec.multiverse.choices if spec.multiverse is not None else {}
    own = {"assessor": ("any",), "design": ("any",), "retrospective": ("include",), "verification": ("any",),
           "report_policy": (spec.report_policy,), "transform": (spec.scale,), "method": (spec.model.method,),
           "ci": (spec.model.ci_choice,), "tau_prior": ("",)}
    axes = [choices.get(dim, own[dim]) if dim != "tau_prior" else own[dim] for dim in MULTIVERSE_DIMENSIONS]
    out, seen = [], set()
    for combo in itertools.product(*axes):
        choice = dict(zip(MULTIVERSE_DIMENSIONS, combo))
        if choice["transform"] == "glmm":
            choice["method"], choice["ci"] = "ML", "z"
            key = tuple(choice_label(choice[d]) for d in MULTIVERSE_DIMENSIONS)
            if key in seen:
                continue
            seen.add(key)
        out.append(choice)
    if "tau_prior" in choices:
        transform = "logit" if spec.measure == "proportion" else spec.scale
        for combo in itertools.product(*(choices.get(dim, own[dim]) for dim in MULTIVERSE_INCLUSION)):
            for prior in choices["tau_prior"]:
                out.append({**dict(zip(MULTIVERSE_INCLUSION, combo)), "transform": transform, "method": BAYES_METHOD,
                            "ci": BAYES_CI, "tau_prior": prior})
    return out


def _narrow(filters: dict, column: str, option) -> None:
    if option == "any":
        return
    allowed = (option,) if isinstance(option, str) else tuple(option)
    current = filters.get(column)
    filters[column] = tuple(v for v in current if v in allowed) if current is not None else allowed


def specification_spec(spec: AnalysisSpec, choice: Mapping) -> AnalysisSpec:
    """The single analysis one multiverse specification is: the analysis with its filters narrowed by the
    inclusion choices and its report policy and model replaced (``run_analysis`` of this spec gives the
    specification's row of results/<plan>/multiverse/<analysis>.tsv)."""
    filters = dict(spec.filters)
    _narrow(filters, "assessor", choice["assessor"])
    _narrow(filters, "design", choice["design"])
    _narrow(filters, "verification", choice["verification"])
    if choice["retrospective"] == "exclude":
        filters["design"] = tuple(d for d in filters.get("design", DESIGNS) if d != "retrospective")
    if choice["method"] == BAYES_METHOD:  # the Bayesian fit of these studies with this tau prior
        mu = spec.bayes.mu if spec.bayes is not None else Prior("flat")
        return replace(spec.pooling_only(), filters=filters, report_policy=choice["report_policy"],
                       transform=choice["transform"] if spec.measure == "proportion" else spec.transform,
                       bayes=BayesSpec(tau=choice["tau_prior"], mu=mu, why="multiverse specification"))
    ci, hk_adhoc = MULTIVERSE_CI[choice["ci"]]
    return replace(
        spec.pooling_only(), filters=filters, report_policy=choice["report_policy"],
        transform=choice["transform"] if spec.measure == "proportion" else spec.transform,
        model=replace(spec.model, method=choice["method"], ci=ci, hk_adhoc=hk_adhoc),
    )


def batches(names, size: int) -> list[list[str]]:
    """``names`` (in order) in consecutive groups of at most ``size``."""
    names = list(names)
    size = max(1, int(size))
    return [names[i:i + size] for i in range(0, len(names), size)]


# ---------------------------------------------------------------------------------------- declared values


def declared_problems(config: Mapping, vocabulary: DeclaredVocabulary) -> list[str]:
    """The outcome, comparator and drug and setting filters of every analysis against the vocabulary declared
    in the data folder (:mod:`metapool.declared`), one message each with the closest declared value:
    ``config: analyses.x.filters.drug: 'alectnib' is not a declared drug (did you mean 'alectinib'?);
    declared in data/vocabulary.yaml: crizotinib, ...``."""
    problems: list[str] = []
    outcomes = vocabulary.config_outcomes()
    for name, entry in (config.get("analyses") or {}).items():
        where = f"config: analyses.{name}"
        if entry.get("outcome") not in outcomes:
            problems.append(f"{where}.outcome: " + vocabulary.refusal(entry.get("outcome"), "outcome", outcomes))
        if "comparator" in entry and entry["comparator"] not in vocabulary.comparators:
            problems.append(f"{where}.comparator: "
                            + vocabulary.refusal(entry["comparator"], "comparator", vocabulary.comparators))
        for column, kind in DECLARED_COLUMNS.items():
            for value in (entry.get("filters") or {}).get(column, ()):
                if value not in vocabulary.values(kind):
                    problems.append(f"{where}.filters.{column}: "
                                    + vocabulary.refusal(value, column, vocabulary.values(kind)))
    return problems


# ---------------------------------------------------------------------------------------- contradictions


def option_problems(config: Mapping, specs: Mapping[str, AnalysisSpec]) -> list[str]:
    """Options that contradict each other, one message each (``config: analyses.<name>...: ...``)."""
    problems: list[str] = []
    entries = config.get("analyses") or {}
    for name, spec in specs.items():
        entry = entries.get(name) or {}
        where = f"config: analyses.{name}"
        outcome, measure, model = spec.outcome, spec.measure, spec.model
        if model.hk_adhoc and model.ci != "hartung_knapp":
            problems.append(f"{where}: hk_adhoc: true applies to Hartung-Knapp intervals only; set ci: "
                            f"hartung_knapp or hk_adhoc: false (ci is {model.ci})")
        problems += _decision_problems(where + ".important_effect", spec)
        problems += _certainty_problems(where + ".certainty", spec, entry.get("certainty"))
        if spec.is_network:
            problems += _network_problems(where, spec, entry)
            continue
        if spec.comparative and not spec.comparator:
            problems.append(f"{where}: outcome {outcome} is pooled against one comparator; add comparator: "
                            f"the control arm's drug (a comparator of the data folder's vocabulary file)")
        if not spec.comparative and "comparator" in entry:
            problems.append(f"{where}.comparator: only hazard ratios and ratios of medians have a comparator "
                            f"(outcome {outcome} is {_with_article(measure)})")
        if "transform" in entry and measure != "proportion":
            problems.append(f"{where}.transform: applies to proportions only (outcome {outcome} is "
                            f"{_with_article(measure)})")
        if "median_method" in entry and measure != "median":
            problems.append(f"{where}.median_method: applies to the medians of time-to-event outcomes "
                            f"(<outcome>_median) only (outcome {outcome})")
        if not spec.overall and not spec.subgroup:
            problems.append(f"{where}.overall: false needs a subgroup (without one the overall estimate is "
                            f"all the analysis shows); add subgroup: or remove overall: false")
        if spec.moderators and not spec.inverse_variance:
            problems.append(f"{where}.moderators: the meta-regression needs an inverse-variance pool "
                            f"({'transform glmm' if spec.glmm else f'median_method {spec.median_method}'} has none)")
        if spec.glmm:
            if model.method != "ML":
                problems.append(f"{where}: transform glmm is fitted by maximum likelihood: set method: ML "
                                f"(method is {model.method})")
            if model.ci != "z":
                problems.append(f"{where}: transform glmm has a Wald (z) CI only: set ci: z (ci is {model.ci})")
            if model.pi != "default":
                problems.append(f"{where}: transform glmm gives no prediction interval: remove pi "
                                f"(pi is {model.pi})")
        if spec.multiverse is not None:
            problems += _multiverse_problems(where + ".multiverse", spec)
        if spec.bayes is not None:
            problems += _bayes_problems(where + ".bayes", spec)
    return problems


def prior_problems(config: Mapping) -> list[str]:
    """The priors of every ``bayes:`` block (and ``multiverse.tau_prior`` list) that :meth:`metapool.spec.Prior.parse` refuses, one message each
    (``config: analyses.<name>.bayes.tau: 'half_normal(-1)': scale must be > 0, got -1``); run before the
    analyses are resolved (:func:`analysis_specs` parses them)."""
    problems = []
    for name, entry in (config.get("analyses") or {}).items():
        block = (entry or {}).get("bayes") if isinstance(entry, Mapping) else None
        if not isinstance(block, Mapping):
            continue
        for kind in ("tau", "mu"):
            if kind in block:
                try:
                    Prior.parse(block[kind], kind)
                except ValueError as err:
                    problems.append(f"config: analyses.{name}.bayes.{kind}: {err}")
    for name, entry in (config.get("analyses") or {}).items():
        multiverse = (entry or {}).get("multiverse") if isinstance(entry, Mapping) else None
        for text in (multiverse or {}).get("tau_prior") or () if isinstance(multiverse, Mapping) else ():
            try:
                Prior.parse(text, "tau")
            except ValueError as err:
                problems.append(f"config: analyses.{name}.multiverse.tau_prior: {err}")
    return problems


def _certainty_problems(where: str, spec: AnalysisSpec, block) -> list[str]:
    """The ``certainty:`` block's problems the schema cannot express (:func:`metapool.analysis.certainty.certainty_spec`)."""
    from .certainty import certainty_spec

    try:
        cs = certainty_spec(block, where)
    except ValueError as e:
        return [str(e)]
    if cs.assumed_comparator is not None and spec.measure != "hr":
        return [f"{where}.assumed_comparator: absolute effects from an assumed comparator are for hazard ratios; "
                f"this analysis pools {spec.measure}"]
    return []


def _decision_problems(where: str, spec: AnalysisSpec) -> list[str]:
    """An ``important_effect`` that is no effect at all: a ratio of 1 (the null) or a proportion outside (0, 1)."""
    value = spec.important_effect
    if value is None:
        return []
    if spec.no_effect is not None and value == spec.no_effect:
        return [f"{where}: {value:g} is no difference between the arms (the {spec.measure.replace('_', ' ')} of no "
                f"effect); give the smallest effect that matters, e.g. {MEASURES[spec.measure].important_effect:g}"]
    if spec.measure == "proportion" and not 0 < value < 1:
        return [f"{where}: a response rate of interest is a proportion between 0 and 1 (got {value:g})"]
    return []


def _bayes_problems(where: str, spec: AnalysisSpec) -> list[str]:
    """What a Bayesian fit (``bayes:``) cannot do: the binomial likelihood of anything but proportions, or with
    the improper flat tau prior; the normal likelihood on a scale without a monotone back-transform
    (Freeman-Tukey, arcsine) or without standard errors (the median of medians); a threshold outside the natural
    scale (a proportion in (0, 1), a ratio or a log-scale median > 0)."""
    bayes, problems = spec.bayes, []
    if bayes.likelihood == "binomial":
        if spec.measure != "proportion":
            problems.append(f"{where}.likelihood: binomial applies to proportions only (outcome {spec.outcome} "
                            f"is {_with_article(spec.measure)}); use normal")
        elif bayes.tau.family == "uniform" and not bayes.tau.args:
            problems.append(f"{where}.tau: the binomial likelihood needs a proper tau prior (got {bayes.tau.text}, "
                            f"improper); e.g. half_normal(0.5)")
        scale = "logit"
    else:
        scale = spec.scale
        if scale not in BAYES_SCALES:
            what = (f"median_method {spec.median_method} has no standard errors" if spec.measure == "median"
                    else f"transform {spec.transform} has no monotone back-transform")
            problems.append(f"{where}.likelihood: the normal likelihood needs effect sizes on a logit, log or "
                            f"identity scale ({what}); use transform logit"
                            f"{' or likelihood binomial' if spec.measure == 'proportion' else ''}")
    for key in ("prob_above", "prob_below"):
        c = getattr(bayes, key)
        if c is None:
            continue
        if spec.measure == "proportion" and not 0 < c < 1:
            problems.append(f"{where}.{key}: a proportion strictly between 0 and 1 for outcome {spec.outcome} "
                            f"(got {c})")
        elif spec.measure != "proportion" and scale == "log" and not c > 0:
            problems.append(f"{where}.{key}: must be > 0 for outcome {spec.outcome} (got {c})")
    return problems


# the study columns that may name the nodes of a network (besides the extra columns of the tables)
NETWORK_NODE_COLUMNS = ("drug", "regimen")


def _network_problems(where: str, spec: AnalysisSpec, entry: Mapping) -> list[str]:
    """What a network analysis (``network:``) cannot have: another measure than hazard ratios, a comparator
    (every comparator is a node), a subgroup, moderators, a multiverse, a tau^2 estimator other than EE, REML
    or DL (:data:`metapool.stats.network.NETWORK_METHODS`, repeated here: no numpy at parse time), a
    Hartung-Knapp CI."""
    problems = []
    if spec.measure != "hr":
        problems.append(f"{where}.network: a network pools hazard ratios (outcome <code>_hr); outcome "
                        f"{spec.outcome} is {_with_article(spec.measure)}")
    for key, why in (("comparator", "every comparator is a node of the network"),
                     ("subgroup", "a network has no subgroups"), ("moderators", "a network has no meta-regression"),
                     ("overall", "a network has no single overall estimate"),
                     ("multiverse", "a network has no multiverse"), ("bayes", "a network has no Bayesian fit"),
                     ("transform", "hazard ratios have no transform"),
                     ("median_method", "hazard ratios have no median method")):
        if key in entry:
            problems.append(f"{where}.{key}: not allowed with network: ({why}); remove it")
    if spec.model.method not in ("EE", "REML", "DL"):
        problems.append(f"{where}.method: a network is fitted by EE (common effect), REML or DL (generalised "
                        f"DerSimonian-Laird); got {spec.model.method}")
    if spec.model.ci != "z":
        problems.append(f"{where}.ci: a network has Wald (z) intervals only; set ci: z (ci is {spec.model.ci})")
    return problems


def _multiverse_problems(where: str, spec: AnalysisSpec) -> list[str]:
    choices = spec.multiverse.choices
    measure = spec.measure
    problems = []
    if not choices:
        return [f"{where}: declares no choices; list the alternatives under any of "
                f"{', '.join(MULTIVERSE_DIMENSIONS)}"]
    if "transform" in choices and measure != "proportion":
        problems.append(f"{where}.transform: applies to proportions only (outcome {spec.outcome} is "
                        f"{_with_article(measure)})")
    if measure == "median" and not spec.inverse_variance:
        problems.append(f"{where}: a multiverse pools by inverse variance; median_method "
                        f"{spec.median_method} has no model to vary (use log_iv or raw_iv)")
    threshold = spec.multiverse.threshold
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        if measure == "proportion" and not 0 < threshold < 1:
            problems.append(f"{where}.threshold: a proportion strictly between 0 and 1 for outcome "
                            f"{spec.outcome} (got {threshold})")
        elif measure != "proportion" and threshold <= 0:
            problems.append(f"{where}.threshold: must be > 0 for outcome {spec.outcome} (got {threshold})")
    if not problems:
        n = len(multiverse_choices(spec))
        if n < 2:
            problems.append(f"{where}: every choice has a single option ({n} specification): nothing to compare")
    return problems


# ---------------------------------------------------------------------------------------- the data


def _table_records(tables: Mapping) -> list[dict[str, str]]:
    """The rows of the extraction tables as records of per-study estimates: study columns, outcome, measure,
    assessor, comparator (``metapool.analysis.selection.candidates`` selects from them)."""
    from .selection import CANDIDATE_COLUMNS, records

    studies = {r["study_id"]: r for r in records(tables["studies"], list(tables["studies"].columns))}
    rows = []
    for table, measure in ESTIMATE_MEASURES.items():
        if table in tables:
            columns = [*CANDIDATE_COLUMNS, *_extra_columns({table: tables[table]})]
            rows += [{**studies.get(r["study_id"], {}), **r, "measure": measure}
                     for r in records(tables[table], columns)]
    return rows


# the study columns an analysis may name beyond the extra columns of the tables: as filters (the config
# schema lists them with their values), subgroups and moderators
_MODERATOR_COLUMNS = ("year", "phase", *SUBGROUP_VARIABLES)


def _extra_columns(tables: Mapping) -> dict[str, str]:
    """Extra column (not declared by its table's schema) -> the table file that has it."""
    from .validation import extra_columns

    return {c: table for table, frame in tables.items()
            for c in extra_columns(table, [c for c in frame.columns if c != "line" and not c.endswith("_nr")])}


def _column_problems(where: str, spec: AnalysisSpec, extras: Mapping[str, str]) -> list[str]:
    """A filter, subgroup or moderator naming a column that no table has, with the closest column."""
    problems = []
    named = [(f"{where}.filters.{c}", c, STUDY_FILTER_COLUMNS) for c in spec.filters]
    if spec.subgroup:
        named.append((f"{where}.subgroup", spec.subgroup, SUBGROUP_VARIABLES))
    named += [(f"{where}.moderators", c, _MODERATOR_COLUMNS) for c in spec.moderators]
    for at, column, own in named:
        if column not in own and column not in extras:
            choices = [*own, *extras]
            hint = _suggest(column, choices) or f"; choose from {', '.join(choices)}"
            problems.append(f"{at}: no table has a column '{column}'{hint}")
    return problems


def data_problems(specs: Mapping[str, AnalysisSpec], tables: Mapping, data_dir: str = "data") -> list[str]:
    """The filters of every analysis against the validated tables (``metapool.analysis.validation.validate_tables``;
    ``studies`` and the outcome tables the reviewer has: an analysis reading an absent table is refused, and one
    that no study matches is named with the table it reads)."""
    from .selection import candidates, no_study_matches, records

    problems: list[str] = []
    rows = _table_records(tables)
    study_rows = records(tables["studies"], ("study_id", "trial"))
    known = {col: sorted({r[col] for r in study_rows}) for col in ("study_id", "trial")}
    extras = _extra_columns(tables)
    for name, spec in specs.items():
        where = f"config: analyses.{name}"
        if columns := _column_problems(where, spec, extras):
            problems += columns
            continue
        bad_value = False
        for col in ("study_id", "trial"):
            for value in spec.filters.get(col, ()):
                if value not in known[col]:
                    bad_value = True
                    hint = _suggest(value, known[col]) or f" (see {data_dir}/studies.tsv)"
                    problems.append(f"{where}.filters.{col}: '{value}' is not a {col} of {data_dir}/studies.tsv"
                                    f"{hint}")
        if absent := [t for t in spec.tables if t not in tables]:
            problems.append(f"{where}: outcome {spec.outcome} is read from "
                            f"{' and '.join(f'{data_dir}/{t}.tsv' for t in absent)}, which is absent: add the "
                            "table or remove the analysis")
            continue
        if bad_value or (spec.comparative and not spec.comparator and not spec.is_network):
            continue  # a missing comparator: option_problems
        if spec.is_network and spec.network.nodes not in (*NETWORK_NODE_COLUMNS, *extras):
            choices = [*NETWORK_NODE_COLUMNS, *extras]
            problems.append(f"{where}.network.nodes: no study column '{spec.network.nodes}' names a treatment"
                            + (_suggest(spec.network.nodes, choices) or f"; choose from {', '.join(choices)}"))
            continue
        matched = [rows[c.row] for c in candidates(rows, spec) if not c.excluded_by]
        if matched and spec.is_network:
            nodes = _network_nodes(matched, spec.network.nodes, tables["studies"])
            if spec.network.reference not in nodes:
                problems.append(f"{where}.network.reference: '{spec.network.reference}' is not a treatment of the "
                                f"network{_suggest(spec.network.reference, sorted(nodes))}; its treatments "
                                f"({spec.network.nodes}): {', '.join(sorted(nodes))}")
                continue
        if not matched:
            empty = [f"{data_dir}/{t}.tsv" for t in spec.tables if len(tables[t]) == 0]
            problems.append(f"{where}: {no_study_matches(spec)}"
                            + (f" ({' and '.join(empty)} has no rows)" if empty else
                               f" in {' and '.join(f'{data_dir}/{t}.tsv' for t in spec.tables)}"))
            continue
        if spec.multiverse is not None:
            problems += _choice_data_problems(where + ".multiverse", spec, matched)
    return problems


def _network_nodes(rows: list[dict], column: str, studies) -> set[str]:
    """The treatments of the candidate rows of a network: each row's own ``column`` and its comparator's
    (the ``comparator`` when ``column`` is ``drug``, else the comparator arm's value in ``studies``)."""
    from .selection import records

    nodes = {r.get(column, "") for r in rows}
    if column == "drug":
        return nodes | {r.get("comparator", "") for r in rows}
    arm = {r["study_id"]: r.get(column, "") for r in records(studies, ("study_id", column))}
    return nodes | {arm.get(r.get("comparator_study_id", ""), "") for r in rows}


def _choice_data_problems(where: str, spec: AnalysisSpec, rows: list[dict]) -> list[str]:
    problems = []
    choices = spec.multiverse.choices
    for dim in ("assessor", "design", "verification"):
        for option in choices.get(dim, ()):
            if option == "any":
                continue
            allowed = {option} if isinstance(option, str) else set(option)
            if not any(r.get(dim, "") in allowed for r in rows):
                problems.append(f"{where}.{dim}: '{choice_label(option)}' matches none of the analysis's studies")
    if "exclude" in choices.get("retrospective", ()):
        if not any(r.get("design", "") != "retrospective" for r in rows):
            problems.append(f"{where}.retrospective: without retrospective studies the analysis has none left")
    return problems


# ---------------------------------------------------------------------------------------- all at once


def check_config(config: Mapping, tables: Mapping | None = None, schema: dict | None = None,
                 vocabulary: DeclaredVocabulary | None = None) -> dict[str, AnalysisSpec]:
    """Check ``config`` (schema, the declared vocabulary, contradictions and, given the validated tables, the
    filters against the data) and return the resolved analyses; raise :class:`ConfigError` listing every
    problem otherwise.

    ``config`` should already have its top-level defaults (:func:`fill_defaults`). ``vocabulary`` defaults
    to the one of the config's ``data_dir`` (:func:`metapool.declared.load_vocabulary`).
    """
    schema = schema or load_schema()
    problems = schema_problems(config, schema)
    if problems:
        raise ConfigError(problems)
    try:
        vocabulary = vocabulary or load_vocabulary(data_dir=str(config.get("data_dir", "data")))
    except VocabularyError as e:
        raise ConfigError(e.problems) from None
    problems = declared_problems(config, vocabulary) + prior_problems(config)
    if problems:
        raise ConfigError(problems)
    specs = analysis_specs(config)
    problems = option_problems(config, specs)
    if not problems and tables is not None:
        problems = data_problems(specs, tables, str(config.get("data_dir", "data")))
    if problems:
        raise ConfigError(problems)
    return specs
