"""YAML files read as data, never as code: one safe loader for the plans (config files) and the vocabulary file.

:func:`load_yaml` reads a file with a loader derived from PyYAML's ``SafeLoader`` (no ``!!python/...`` tag:
it builds only mappings, lists, text, numbers, booleans, dates and nulls) that also

* refuses a key written twice in one mapping, naming both lines (YAML would keep the last silently: a
  copy-pasted analysis would replace the first one);
* bounds what aliases expand to (:data:`MAX_NODES` values once every alias is expanded), so that an alias bomb
  ("billion laughs": nine lists of nine aliases of the previous list) is refused in milliseconds instead of
  filling the memory of whatever walks the result;
* names the file, the line and the column of every problem (:class:`YamlFileError`).

:func:`plan_file_problems` adds what a plan file must be beyond YAML: a mapping, not empty, without YTE
templating (``__use_yte__``: a plan is data, not code), analysis names that are text.

:func:`load_package_yaml` reads the package's own YAML files (the JSON Schemas, the ALK vocabulary), which
are trusted: PyYAML's safe loader, libyaml's when available, each file once per process.

Plain Python and PyYAML only: Snakemake runs this while it parses the workflow.
"""

from __future__ import annotations

from functools import cache
from os import PathLike
from pathlib import Path

import yaml

__all__ = ["MAX_NODES", "YamlFileError", "parse_yaml", "load_yaml", "plan_file_problems"]

# values (scalars, lists and mappings) a file may expand to with every alias expanded: a plan of 10,000
# analyses with 20 options each is 400,000; the nine-level alias bomb is 435 million
MAX_NODES = 1_000_000
MAX_DEPTH = 200  # nesting (PyYAML recurses: a deeper file would end in a RecursionError)
_MERGE = "tag:yaml.org,2002:merge"


class YamlFileError(ValueError):
    """A YAML file that cannot be read as data; ``problems`` holds one message per problem, each starting
    with the file (and its line and column)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _at(file: str, mark) -> str:
    return f"{file}, line {mark.line + 1}, column {mark.column + 1}" if mark is not None else file


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and documents that expand beyond :data:`MAX_NODES` values."""

    file = "<text>"

    def compose_document(self):
        node = super().compose_document()
        _check_expansion(node, self.file)
        return node

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:
                    continue
                if first is not key_node:
                    a, b = first.start_mark, key_node.start_mark
                    where = (f"first on line {a.line + 1}, again on line {b.line + 1}" if a.line != b.line else
                             f"first on line {a.line + 1}, column {a.column + 1}, again at column {b.column + 1}")
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key}' is written twice in one mapping ({where}); YAML would keep only "
                        "the last: remove or rename one", b)
        return super().construct_mapping(node, deep=deep)


def _check_expansion(root, file: str) -> None:
    """Refuse a document whose values, with every alias expanded, number more than :data:`MAX_NODES` or nest
    deeper than :data:`MAX_DEPTH`. An alias is the very node it names, so the expanded size of each distinct
    node is computed once: linear in the size of the text, whatever it expands to."""
    if root is None:
        return
    size: dict[int, int] = {}
    stack = [(root, False, 1)]
    while stack:
        node, done, depth = stack.pop()
        if id(node) in size:
            continue
        if depth > MAX_DEPTH:
            raise YamlFileError([f"{_at(file, node.start_mark)}: nested more than {MAX_DEPTH} levels deep"])
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else
                    list(node.value) if isinstance(node, yaml.SequenceNode) else [])
        if done:
            size[id(node)] = total = 1 + sum(size[id(c)] for c in children)
            if total > MAX_NODES:
                raise YamlFileError([
                    f"{_at(file, node.start_mark)}: its aliases expand to more than {MAX_NODES:,} values "
                    f"({total:,} here, an alias bomb?); write the values out or use fewer aliases"])
        else:
            stack.append((node, True, depth))
            stack += [(c, False, depth + 1) for c in children if id(c) not in size]


def parse_yaml(text: str, file: str = "<text>"):
    """The data of one YAML document ``text`` (None when it is empty), read by the safe loader of this
    module; ``file`` names it in the messages.

    Raises
    ------
    YamlFileError
        Not valid YAML, a python tag, a duplicate key, an alias bomb or too deep a nesting: one message,
        ``<file>, line <l>, column <c>: <what>``.
    """
    loader = _Loader(text)
    loader.file = file
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        what = " ".join(str(part) for part in (e.context, e.problem) if part) or str(e)
        if "is written twice in one mapping" in what:
            raise YamlFileError([f"{_at(file, mark)}: {e.problem}"]) from None
        if "'\\t'" in what:
            what += "; indent with spaces, not tabs"
        if "could not determine a constructor" in what:
            what = (f"the tag {e.problem.split('tag ', 1)[-1]} is not allowed: a plan holds data (text, numbers, "
                    "true/false, lists and mappings), never code")
        raise YamlFileError([f"{_at(file, mark)}: not valid YAML ({what})"]) from None
    except yaml.YAMLError as e:  # the reader: a character YAML does not allow
        raise YamlFileError([f"{file}: not valid YAML ({e})"]) from None
    finally:
        loader.dispose()


def load_yaml(path: str | PathLike):
    """The data of the YAML file ``path`` (UTF-8, with or without a byte-order mark), read by
    :func:`parse_yaml`; a file that cannot be read or decoded raises :class:`YamlFileError` naming it."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise YamlFileError([f"{path}: cannot read the file ({e.strerror})"]) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise YamlFileError([f"{path}, line {line}: not UTF-8 (byte offset {e.start}); save the file as UTF-8"]) from None
    return parse_yaml(text, str(path))


@cache
def load_package_yaml(path: str | PathLike):
    """The data of a YAML file shipped with the package (a schema), read once per process with PyYAML's safe
    loader (libyaml's ``CSafeLoader`` when available: about 7 times faster, the same result; these files are
    parsed at every Snakemake start)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)


def plan_file_problems(path: str | PathLike) -> list[str]:
    """What makes the plan file ``path`` unusable before its keys are checked: it cannot be read, it is not
    valid YAML (:func:`parse_yaml`), it is empty or not a mapping, it asks for YTE templating
    (``__use_yte__``: refused, a plan is data, not code), or an analysis name is not text (``2024:``). One
    message per problem, each starting with the file."""
    try:
        data = load_yaml(path)
    except YamlFileError as e:
        return e.problems
    if data is None:
        return [f"{path}: the file is empty; a plan needs at least 'analyses:' (see config/config.yaml)"]
    if not isinstance(data, dict):
        return [f"{path}: a plan is a mapping of keys to values (plan:, analyses:, ...), not "
                f"{type(data).__name__ if not isinstance(data, list) else 'a list'}"]
    problems = []
    if "__use_yte__" in data:
        problems.append(f"{path}: __use_yte__: YTE templating is not allowed in a plan: a plan is data, not "
                        "code (write the values out; see config/README.md, 'What a plan may contain')")
    for key in data:
        if not isinstance(key, str):
            problems.append(f"{path}: top-level key {key!r} must be text")
    analyses = data.get("analyses")
    if isinstance(analyses, dict):
        problems += [f"{path}: analyses: analysis name {key!r} must be text starting with a letter (it names a "
                     f"folder), e.g. 'orr_{key}'" for key in analyses if not isinstance(key, str)]
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m metapool.yamlfile PLAN...``: print :func:`plan_file_problems` of each plan file, one line
    per problem, to standard error; exit status 1 when there is any, 0 otherwise. ``make report CONFIG=...``
    runs it before Snakemake reads the file, which Snakemake's command line does before the workflow
    starts (a missing file would be a traceback there, YTE templating already evaluated)."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print("usage: python -m metapool.yamlfile PLAN.yaml [...]", file=sys.stderr)
        return 2
    problems = [p for path in paths for p in plan_file_problems(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
