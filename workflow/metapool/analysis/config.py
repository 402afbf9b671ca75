"""The workflow config: checked, with messages that say what to change, and resolved into analyses.

:func:`check_config` runs in three layers and reports every problem at once
(a :class:`ConfigError`, one line per problem, each starting ``config: <where>:``):

1. the JSON Schema ``metapool/schemas/config.schema.yaml`` (draft 2020-12,
   :mod:`jsonschema`), its errors rewritten: an unknown key gets the closest
   valid key (``config: analyses.orr_tki_naive: unknown key 'methd'; did you
   mean 'method'?``), a value outside a vocabulary the allowed values
   (``config: analyses.orr_x.filters.setting: 'first_line' is not allowed;
   choose from tki_naive, post_crizotinib, ...``);
2. options that contradict each other (:func:`option_problems`): ``hk_adhoc``
   without Hartung-Knapp, a comparator on an outcome without one (or none on a
   hazard ratio), the GLMM with a method other than ML, a CI other than z or a
   prediction-interval option, a multiverse without alternatives, ...;
3. the filters against the data (:func:`data_problems`, when the validated
   tables are given): a study id or trial that is not in ``studies.tsv``, an
   analysis whose filters match no study with its outcome, a multiverse choice
   that matches none of the analysis's studies.

Nothing here imports Snakemake, numpy or pandas: Snakemake runs this while it
parses the workflow, on every invocation.
"""

from __future__ import annotations

import copy
import difflib
import itertools
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from ..vocabulary import (
    COMPARATIVE_MEASURES,
    IV_MEDIAN_METHODS,
    MULTIVERSE_CI,
    MULTIVERSE_DIMENSIONS,
    OUTCOMES,
    SENSITIVITY_KINDS,
)

__all__ = [
    "BUILTIN_DEFAULTS", "SCHEMA_PATH", "ConfigError", "load_schema", "fill_defaults", "schema_problems",
    "resolve_analyses", "option_problems", "data_problems", "check_config", "pooling_spec",
    "sensitivity_outputs", "multiverse_choices", "specification_spec", "choice_label", "batches",
    "MULTIVERSE_DIMENSIONS",
]

# package data (pyproject.toml): found beside the code wherever the package is installed
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml"

BUILTIN_DEFAULTS = {
    "method": "REML",
    "ci": "z",
    "hk_adhoc": False,
    "pi": "default",
    "level": 0.95,
    "transform": "logit",
    "median_method": "log_iv",
    "report_policy": "latest_cut",
    "assessor_preference": ["independent_review", "investigator", "not_stated"],
    "sensitivity": list(SENSITIVITY_KINDS),
}
# keys of a resolved analysis that do not change its pooled result
_NOT_POOLING = ("sensitivity", "multiverse")

_MEASURE_NAMES = {"proportion": "a proportion", "median": "a median", "hr": "a hazard ratio",
                  "ratio_of_medians": "a ratio of medians"}
_MEDIAN_OUTCOMES = tuple(o for o, (_, _, m) in OUTCOMES.items() if m == "median")
_PROPORTION_OUTCOMES = tuple(o for o, (_, _, m) in OUTCOMES.items() if m == "proportion")


class ConfigError(ValueError):
    """The config cannot be run as written; ``problems`` holds one message per problem."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------------------------------- schema


@cache
def _load_schema_text(path: str) -> dict:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 7x faster, same result
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)


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
    return f"'{value}'" if isinstance(value, str) else repr(value)


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
    if kind == "pattern":
        return [f"{where} {_fmt(instance)} does not match the pattern {value}"]
    return [f"{where} {error.message}"]


def schema_problems(config: Mapping, schema: dict | None = None) -> list[str]:
    """The schema violations of ``config`` as messages (empty when it conforms)."""
    import jsonschema

    schema = schema or load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    problems: list[str] = []
    errors = sorted(validator.iter_errors(config), key=lambda e: [str(p) for p in e.absolute_path])
    for error in errors:
        for message in _error_messages(error, schema):
            if message not in problems:
                problems.append(message)
    return problems


# ---------------------------------------------------------------------------------------- resolution


def resolve_analyses(config: Mapping) -> dict[str, dict]:
    """Each analysis with every option filled: built-in defaults < ``defaults:`` < the analysis entry.

    Besides the pooling options (see :func:`pooling_spec`) a resolved analysis
    has ``name``, ``filters`` (``{}`` when none), ``sensitivity`` (the tables to
    write) and, when configured, ``multiverse`` (``threshold`` and ``choices``:
    dimension -> list of options, in the order of ``MULTIVERSE_DIMENSIONS``).
    """
    base = {**copy.deepcopy(BUILTIN_DEFAULTS), **copy.deepcopy(dict(config.get("defaults") or {}))}
    specs = {}
    for name, entry in config["analyses"].items():
        spec = {**copy.deepcopy(base), **copy.deepcopy(dict(entry)), "name": name}
        spec.setdefault("filters", {})
        spec["filters"] = {col: list(vals) for col, vals in (spec["filters"] or {}).items()}
        spec["sensitivity"] = list(spec.get("sensitivity") or [])
        if spec.get("multiverse") is not None:
            block = dict(spec["multiverse"])
            spec["multiverse"] = {
                "threshold": block.get("threshold"),
                "choices": {dim: list(block[dim]) for dim in MULTIVERSE_DIMENSIONS if dim in block},
            }
        specs[name] = spec
    return specs


def pooling_spec(spec: dict) -> dict:
    """The analysis without the keys that do not change its pooled result (``sensitivity``, ``multiverse``):
    the params of the pooling job, so that editing a multiverse does not rerun the pooling."""
    return {key: value for key, value in spec.items() if key not in _NOT_POOLING}


def sensitivity_outputs(spec: dict) -> tuple[str, ...]:
    """The per-analysis tables of the sensitivity job: ``subgroups`` (when ``subgroup`` is set) and the
    configured ``sensitivity`` kinds, in the order of ``SENSITIVITY_KINDS``."""
    kinds = tuple(k for k in SENSITIVITY_KINDS if k in spec.get("sensitivity", ()))
    return (("subgroups",) if spec.get("subgroup") else ()) + kinds


def choice_label(option) -> str:
    """The text of a multiverse option in results/multiverse/<analysis>.tsv (a list joined by '+')."""
    if isinstance(option, (list, tuple)):
        return "+".join(str(o) for o in option)
    return str(option)


def _ci_label(spec: dict) -> str:
    return "hartung_knapp_adhoc" if spec["ci"] == "hartung_knapp" and spec.get("hk_adhoc") else spec["ci"]


def _scale(spec: dict) -> str:
    measure = OUTCOMES[spec["outcome"]][2]
    if measure == "proportion":
        return spec["transform"]
    if measure == "median" and spec.get("median_method") == "raw_iv":
        return "identity"
    return "log"


def multiverse_choices(spec: dict) -> list[dict]:
    """Every specification of the analysis's multiverse, in a fixed order (the product of the dimensions in
    ``MULTIVERSE_DIMENSIONS`` order, the last varying fastest).

    Each is a dict dimension -> option (lists for inclusion choices given as
    lists). A dimension the multiverse does not list takes the analysis's own
    setting (``any`` assessor, design and verification, retrospective studies
    ``include``d). A GLMM specification is fitted by ML with a Wald z CI: its
    ``method`` and ``ci`` are ``ML`` and ``z`` whatever was listed, and it
    appears once per inclusion choice.
    """
    choices = (spec.get("multiverse") or {}).get("choices", {})
    own = {"assessor": ["any"], "design": ["any"], "retrospective": ["include"], "verification": ["any"],
           "report_policy": [spec["report_policy"]], "transform": [_scale(spec)], "method": [spec["method"]],
           "ci": [_ci_label(spec)]}
    axes = [choices.get(dim, own[dim]) for dim in MULTIVERSE_DIMENSIONS]
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
    return out


def _narrow(filters: dict, column: str, option, vocabulary) -> None:
    if option == "any":
        return
    allowed = [option] if isinstance(option, str) else list(option)
    current = filters.get(column)
    filters[column] = [v for v in current if v in allowed] if current is not None else allowed


def specification_spec(spec: dict, choice: Mapping, vocabularies: Mapping | None = None) -> dict:
    """The single analysis one multiverse specification is: the analysis with its filters narrowed by the
    inclusion choices and its report policy and model replaced (``run_analysis`` of this spec gives the
    specification's row of results/multiverse/<analysis>.tsv)."""
    vocab = vocabularies or _vocabularies()
    out = pooling_spec(copy.deepcopy(spec))
    filters = out["filters"]
    _narrow(filters, "assessor", choice["assessor"], vocab["assessor"])
    _narrow(filters, "design", choice["design"], vocab["design"])
    _narrow(filters, "verification", choice["verification"], vocab["verification"])
    if choice["retrospective"] == "exclude":
        designs = filters.get("design", list(vocab["design"]))
        filters["design"] = [d for d in designs if d != "retrospective"]
    out["report_policy"] = choice["report_policy"]
    if OUTCOMES[spec["outcome"]][2] == "proportion":
        out["transform"] = choice["transform"]
    out["method"] = choice["method"]
    out["ci"], out["hk_adhoc"] = MULTIVERSE_CI[choice["ci"]]
    return out


@cache
def _vocabularies_cached() -> tuple:
    defs = _load_schema_text(str(SCHEMA_PATH))["$defs"]
    return tuple((col, tuple(defs[col]["enum"])) for col in
                 ("drug", "setting", "design", "phase", "arm_role", "assessor", "verification"))


def _vocabularies() -> dict:
    return dict(_vocabularies_cached())


def batches(names, size: int) -> list[list[str]]:
    """``names`` (in order) in consecutive groups of at most ``size``."""
    names = list(names)
    size = max(1, int(size))
    return [names[i:i + size] for i in range(0, len(names), size)]


# ---------------------------------------------------------------------------------------- contradictions


def option_problems(config: Mapping, specs: Mapping[str, dict]) -> list[str]:
    """Options that contradict each other, one message each (``config: analyses.<name>...: ...``)."""
    problems: list[str] = []
    entries = config.get("analyses") or {}
    for name, spec in specs.items():
        entry = entries.get(name) or {}
        where = f"config: analyses.{name}"
        outcome = spec["outcome"]
        measure = OUTCOMES[outcome][2]
        if spec.get("hk_adhoc") and spec["ci"] != "hartung_knapp":
            problems.append(f"{where}: hk_adhoc: true applies to Hartung-Knapp intervals only; set ci: "
                            f"hartung_knapp or hk_adhoc: false (ci is {spec['ci']})")
        if measure in COMPARATIVE_MEASURES and not spec.get("comparator"):
            problems.append(f"{where}: outcome {outcome} is pooled against one comparator; add comparator: "
                            "crizotinib, alectinib or chemotherapy")
        if measure not in COMPARATIVE_MEASURES and "comparator" in entry:
            problems.append(f"{where}.comparator: only hazard ratios and ratios of medians have a comparator "
                            f"(outcome {outcome} is {_MEASURE_NAMES[measure]})")
        if "transform" in entry and measure != "proportion":
            problems.append(f"{where}.transform: applies to proportions only (outcome {outcome} is {_MEASURE_NAMES[measure]})")
        if "median_method" in entry and outcome not in _MEDIAN_OUTCOMES:
            problems.append(f"{where}.median_method: applies to {' and '.join(_MEDIAN_OUTCOMES)} only "
                            f"(outcome {outcome})")
        if measure == "proportion" and spec["transform"] == "glmm":
            if spec["method"] != "ML":
                problems.append(f"{where}: transform glmm is fitted by maximum likelihood: set method: ML "
                                f"(method is {spec['method']})")
            if spec["ci"] != "z":
                problems.append(f"{where}: transform glmm has a Wald (z) CI only: set ci: z (ci is {spec['ci']})")
            if spec["pi"] != "default":
                problems.append(f"{where}: transform glmm gives no prediction interval: remove pi "
                                f"(pi is {spec['pi']})")
        if spec.get("multiverse") is not None:
            problems += _multiverse_problems(where + ".multiverse", spec, measure)
    return problems


def _multiverse_problems(where: str, spec: dict, measure: str) -> list[str]:
    block = spec["multiverse"]
    choices = block["choices"]
    problems = []
    if not choices:
        return [f"{where}: declares no choices; list the alternatives under any of "
                f"{', '.join(MULTIVERSE_DIMENSIONS)}"]
    if "transform" in choices and measure != "proportion":
        problems.append(f"{where}.transform: applies to proportions only (outcome {spec['outcome']} is {_MEASURE_NAMES[measure]})")
    if measure == "median" and spec.get("median_method") not in IV_MEDIAN_METHODS:
        problems.append(f"{where}: a multiverse pools by inverse variance; median_method "
                        f"{spec.get('median_method')} has no model to vary (use log_iv or raw_iv)")
    threshold = block.get("threshold")
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        if measure == "proportion" and not 0 < threshold < 1:
            problems.append(f"{where}.threshold: a proportion strictly between 0 and 1 for outcome "
                            f"{spec['outcome']} (got {threshold})")
        elif measure != "proportion" and threshold <= 0:
            problems.append(f"{where}.threshold: must be > 0 for outcome {spec['outcome']} (got {threshold})")
    if not problems:
        n = len(multiverse_choices(spec))
        if n < 2:
            problems.append(f"{where}: every choice has a single option ({n} specification): nothing to compare")
    return problems


# ---------------------------------------------------------------------------------------- the data


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    text = str(value)
    return "" if text in ("<NA>", "nan", "NaN", "None") else text


def _records(frame, columns) -> list[dict]:
    data = {c: [_text(v) for v in frame[c].tolist()] for c in columns if c in frame.columns}
    n = len(frame)
    return [{c: data[c][i] for c in data} for i in range(n)]


def _candidate_rows(tables: Mapping) -> dict:
    """(outcome, comparator) -> candidate rows (dicts of study columns + assessor), as ``analysis._candidates``
    finds them in the estimate tables."""
    study_cols = ["study_id", "trial", "drug", "setting", "design", "phase", "arm_role", "verification"]
    studies = {r["study_id"]: r for r in _records(tables["studies"], study_cols)}
    out: dict = {}
    outcome_rows = {t: _records(tables[t], ["study_id", "outcome", "assessor", "comparator", "comparator_study_id"])
                    for t in ("response", "survival", "hazard_ratios") if t in tables}
    for outcome, (table, code, measure) in OUTCOMES.items():
        rows = [r for r in outcome_rows.get(table, []) if r["outcome"] == code]
        if measure in ("hr", "ratio_of_medians"):
            for comparator in ("crizotinib", "alectinib", "chemotherapy"):
                hr = [r for r in outcome_rows.get("hazard_ratios", [])
                      if r["outcome"] == code and r["comparator"] == comparator]
                if measure == "hr":
                    chosen = hr
                else:
                    linked = {r["study_id"] for r in hr if r["comparator_study_id"]}
                    chosen = [r for r in rows if r["study_id"] in linked]
                out[(outcome, comparator)] = [{**studies.get(r["study_id"], {}), "assessor": r["assessor"]}
                                              for r in chosen]
        else:
            out[(outcome, None)] = [{**studies.get(r["study_id"], {}), "assessor": r["assessor"]} for r in rows]
    return out


def _matches(rows: list[dict], filters: Mapping) -> list[dict]:
    return [r for r in rows if all(r.get(col, "") in {str(v) for v in allowed} for col, allowed in filters.items())]


def _describe(filters: Mapping) -> str:
    return "; ".join(f"{col}: {', '.join(map(str, vals))}" for col, vals in filters.items()) or "none"


def data_problems(specs: Mapping[str, dict], tables: Mapping, data_dir: str = "data") -> list[str]:
    """The filters of every analysis against the validated tables (``metapool.analysis.validation.validate_tables``)."""
    problems: list[str] = []
    candidates = _candidate_rows(tables)
    study_ids = sorted({_text(v) for v in tables["studies"]["study_id"].tolist()})
    trials = sorted({_text(v) for v in tables["studies"]["trial"].tolist()})
    known = {"study_id": study_ids, "trial": trials}
    vocab = _vocabularies()
    for name, spec in specs.items():
        where = f"config: analyses.{name}"
        filters = spec.get("filters") or {}
        bad_value = False
        for col in ("study_id", "trial"):
            for value in filters.get(col, []):
                if value not in known[col]:
                    bad_value = True
                    hint = _suggest(value, known[col]) or f" (see {data_dir}/studies.tsv)"
                    problems.append(f"{where}.filters.{col}: '{value}' is not a {col} of {data_dir}/studies.tsv"
                                    f"{hint}")
        if bad_value:
            continue
        measure = OUTCOMES[spec["outcome"]][2]
        key = (spec["outcome"], spec.get("comparator") if measure in COMPARATIVE_MEASURES else None)
        if key not in candidates:
            continue  # a missing comparator: reported by option_problems
        matched = _matches(candidates[key], filters)
        if not matched:
            what = spec["outcome"] + (f" vs {spec['comparator']}" if key[1] else "")
            problems.append(f"{where}: no study with outcome {what} matches the filters ({_describe(filters)})")
            continue
        if spec.get("multiverse") is not None:
            problems += _choice_data_problems(where + ".multiverse", spec, matched, vocab)
    return problems


def _choice_data_problems(where: str, spec: dict, rows: list[dict], vocab: Mapping) -> list[str]:
    problems = []
    for dim in ("assessor", "design", "verification"):
        for option in spec["multiverse"]["choices"].get(dim, []):
            if option == "any":
                continue
            allowed = {option} if isinstance(option, str) else set(option)
            if not any(r.get(dim, "") in allowed for r in rows):
                problems.append(f"{where}.{dim}: '{choice_label(option)}' matches none of the analysis's studies")
    if "exclude" in spec["multiverse"]["choices"].get("retrospective", []):
        if not any(r.get("design", "") != "retrospective" for r in rows):
            problems.append(f"{where}.retrospective: without retrospective studies the analysis has none left")
    return problems


# ---------------------------------------------------------------------------------------- all at once


def check_config(config: Mapping, tables: Mapping | None = None, schema: dict | None = None) -> dict[str, dict]:
    """Check ``config`` (schema, contradictions and, given the validated tables, the filters against the data)
    and return the resolved analyses; raise :class:`ConfigError` listing every problem otherwise.

    ``config`` should already have its top-level defaults (:func:`fill_defaults`).
    """
    schema = schema or load_schema()
    problems = schema_problems(config, schema)
    if problems:
        raise ConfigError(problems)
    specs = resolve_analyses(config)
    problems = option_problems(config, specs)
    if not problems and tables is not None:
        problems = data_problems(specs, tables, str(config.get("data_dir", "data")))
    if problems:
        raise ConfigError(problems)
    return specs
