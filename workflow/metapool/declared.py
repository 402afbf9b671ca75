"""The vocabularies declared in data: the drugs, comparators, settings and outcomes of a data folder.

A data folder declares them in ONE file beside its tables, ``<data_dir>/vocabulary.yaml``
(:data:`VOCABULARY_FILE`); a folder without one uses the package's ALK default,
``metapool/schemas/alk.vocabulary.yaml`` (:data:`DEFAULT_PATH`, the same text as the shipped
``data/vocabulary.yaml``). :func:`load_vocabulary` checks the file against
``metapool/schemas/vocabulary.schema.yaml`` and what spans its keys, and returns a
:class:`DeclaredVocabulary`; the table validation (:mod:`metapool.analysis.validation`) and the config checks
(:mod:`metapool.analysis.config`) refuse a value it does not declare with the closest declared one
(:meth:`DeclaredVocabulary.refusal`).

The engine's own vocabulary (methods, transforms, measures, designs, assessors, the outcome families ...)
is :mod:`metapool.vocabulary`. Plain Python only (no numpy, scipy or pandas): Snakemake loads the vocabulary
while it parses the workflow.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from os import PathLike
from pathlib import Path
from types import MappingProxyType

from .inputs import read_input
from .vocabulary import FAMILY_TABLES, OUTCOME_FAMILIES, outcome_names

__all__ = ["VOCABULARY_FILE", "DEFAULT_PATH", "SCHEMA_PATH", "Drug", "DeclaredVocabulary", "VocabularyError",
           "vocabulary_path", "load_vocabulary"]

VOCABULARY_FILE = "vocabulary.yaml"
# package data (pyproject.toml): found beside the code wherever the package is installed
_SCHEMAS = Path(__file__).resolve().parent / "schemas"
DEFAULT_PATH = _SCHEMAS / "alk.vocabulary.yaml"
SCHEMA_PATH = _SCHEMAS / "vocabulary.schema.yaml"


class VocabularyError(ValueError):
    """The vocabulary file cannot be used as written; ``problems`` holds one message per problem, each
    starting with the file and the key."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Drug:
    """A declared drug: its ``drug_class`` (``ALK TKI``, ``chemotherapy``) and ``generation`` ('' when
    none)."""

    drug_class: str
    generation: str = ""


@dataclass(frozen=True)
class DeclaredVocabulary:
    """The vocabularies of one data folder, as declared in ``path``.

    ``drugs`` (name -> :class:`Drug`), ``comparators`` (declared drugs a hazard ratio's control arm may be),
    ``settings`` (name -> label), ``outcomes`` (code -> family, ``proportion`` or ``time_to_event``) and
    ``labels`` (outcome code -> label).
    """

    path: str
    drugs: Mapping[str, Drug]
    comparators: tuple[str, ...]
    settings: Mapping[str, str]
    outcomes: Mapping[str, str]
    labels: Mapping[str, str]

    def values(self, kind: str) -> tuple[str, ...]:
        """The declared names of ``kind``: ``drugs``, ``comparators``, ``settings``, ``outcomes``."""
        return tuple(getattr(self, kind))

    def table_outcomes(self, table: str) -> tuple[str, ...]:
        """The outcome codes the ``outcome`` column of extraction table ``table`` may hold."""
        return tuple(code for code, family in self.outcomes.items() if table in FAMILY_TABLES[family])

    def config_outcomes(self) -> tuple[str, ...]:
        """Every config outcome name: each proportion outcome, and ``<code>_median``, ``<code>_hr`` and
        ``<code>_ratio_of_medians`` of each time-to-event outcome."""
        return tuple(name for code, family in self.outcomes.items() for name in outcome_names(code, family))

    def refusal(self, value: str, noun: str, declared) -> str:
        """Why ``value`` is refused: ``'alectnib' is not a declared drug (did you mean 'alectinib'?); declared
        in data/vocabulary.yaml: crizotinib, ...``; ``noun`` says what it is not (``drug``, ``proportion
        outcome``), ``declared`` lists what is."""
        declared = list(declared)
        close = difflib.get_close_matches(str(value), declared, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"'{value}' is not a declared {noun}{hint}; declared in {self.path}: {', '.join(declared)}"


def vocabulary_path(data_dir: str | PathLike) -> Path:
    """The vocabulary file of ``data_dir``: its ``vocabulary.yaml`` when it has one, else the package's ALK
    default (:data:`DEFAULT_PATH`)."""
    own = Path(data_dir) / VOCABULARY_FILE
    return own if own.is_file() else DEFAULT_PATH


def _where(path, keys) -> str:
    return f"{path}: " + (".".join(str(k) for k in keys) + ": " if keys else "")


@cache
def _load(path: str, text: str) -> DeclaredVocabulary:
    import jsonschema

    from .yamlfile import YamlFileError, load_package_yaml, parse_yaml

    try:
        data = parse_yaml(text, path)
    except YamlFileError as e:
        raise VocabularyError(e.problems) from None
    schema = load_package_yaml(SCHEMA_PATH)
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        if err.validator == "enum":
            message = f"{err.instance!r} is not allowed; choose from {', '.join(map(str, err.validator_value))}"
        elif err.validator == "pattern":
            message = f"{err.instance!r} must be a lower-case word (a letter, then letters, digits, underscores)"
        else:
            message = err.message
        problems.append(_where(path, err.absolute_path) + message)
    if problems:
        raise VocabularyError(problems)
    drugs = {name: Drug(entry["class"], entry.get("generation", "")) for name, entry in data["drugs"].items()}
    for i, name in enumerate(data["comparators"]):
        if name not in drugs:
            close = difflib.get_close_matches(name, list(drugs), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(_where(path, ("comparators", i)) + f"'{name}' is not a declared drug{hint}; "
                            f"declared drugs: {', '.join(drugs)}")
    outcomes = {code: entry["family"] for code, entry in data["outcomes"].items()}
    names: dict[str, str] = {}
    for code, family in outcomes.items():
        for name in outcome_names(code, family):
            if family == "proportion" and any(name.endswith(s) for s in OUTCOME_FAMILIES["time_to_event"]):
                problems.append(_where(path, ("outcomes", code)) + f"a proportion outcome's name must not end "
                                f"like a time-to-event analysis ({', '.join(OUTCOME_FAMILIES['time_to_event'])})")
            elif name in names:
                problems.append(_where(path, ("outcomes", code)) + f"its analysis '{name}' is also an analysis "
                                f"of outcome '{names[name]}'")
            names.setdefault(name, code)
    if problems:
        raise VocabularyError(problems)
    return DeclaredVocabulary(
        path=path, drugs=MappingProxyType(drugs), comparators=tuple(data["comparators"]),
        settings=MappingProxyType({name: entry["label"] for name, entry in data["settings"].items()}),
        outcomes=MappingProxyType(outcomes),
        labels=MappingProxyType({code: entry["label"] for code, entry in data["outcomes"].items()}),
    )


def load_vocabulary(path: str | PathLike | None = None, *, data_dir: str | PathLike | None = None
                    ) -> DeclaredVocabulary:
    """The declared vocabulary of the file ``path``, or of the data folder ``data_dir``
    (:func:`vocabulary_path`).

    Parameters
    ----------
    path : str or PathLike, optional
        A vocabulary file.
    data_dir : str or PathLike, optional
        A data folder (used when ``path`` is not given).

    Returns
    -------
    DeclaredVocabulary

    Raises
    ------
    VocabularyError
        Listing every problem, each with the file and the key: not valid YAML (with its line and column), a
        violation of ``metapool/schemas/vocabulary.schema.yaml``, a comparator that is not a declared drug,
        a proportion outcome named like a time-to-event analysis, two outcomes with an analysis of the same
        name.
    """
    if path is None:
        if data_dir is None:
            raise TypeError("load_vocabulary needs a path or a data_dir")
        path = vocabulary_path(data_dir)
    try:
        # hashed as read (metapool.inputs); line ends as text mode reads them
        text = read_input(path).decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError) as e:
        raise VocabularyError([f"{path}: cannot read the vocabulary file ({e})"]) from None
    return _load(str(path), text)
