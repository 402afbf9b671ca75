"""The report's print stylesheet (the ``@media print`` block of workflow/report/report.html.j2), read as CSS rules.

The printed PDF itself is checked in a browser by tests/workflow/test_report_print.py; this fast test says which
rule does what, so that a rule that is removed or misspelt is named here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "workflow" / "report" / "report.html.j2"


def block(text: str, start: int) -> tuple[str, int]:
    """The text between the brace at or after ``start`` and its matching brace, and the index after it."""
    opening = text.index("{", start)
    depth = 0
    for i in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[opening + 1:i], i + 1
    raise AssertionError("unbalanced braces in the stylesheet")


def print_rules() -> dict[str, dict[str, str]]:
    """Selector -> property -> value of every rule inside ``@media print``."""
    style = re.search(r"<style>(.*?)</style>", TEMPLATE.read_text(encoding="utf-8"), re.S).group(1)
    style = re.sub(r"/\*.*?\*/", "", style, flags=re.S)
    media = re.search(r"@media\s+print\s*", style)
    assert media, "the report's stylesheet has no @media print block"
    body, _ = block(style, media.end())
    rules: dict[str, dict[str, str]] = {}
    for selectors, declarations in re.findall(r"([^{}]+)\{([^{}]*)\}", body):
        props = {}
        for decl in declarations.split(";"):
            if ":" in decl:
                name, value = decl.split(":", 1)
                props[name.strip()] = " ".join(value.split())
        for selector in selectors.split(","):
            rules.setdefault(" ".join(selector.split()), {}).update(props)
    return rules


RULES = print_rules()


@pytest.mark.parametrize("selector, prop, value", [
    # a closed <details> lays out none of its content: opened on paper (the influence and cumulative tables)
    ("details::details-content", "content-visibility", "visible"),
    ("details::details-content", "display", "block"),
    # the navigation links within the page: not printed
    ("nav", "display", "none"),
    # a scrolled box prints only what is in view
    (".scroll", "overflow", "visible"),
    ("pre", "overflow", "visible"),
    ("pre", "white-space", "pre-wrap"),
    # wide tables within the page: full width, small type, wrapping cells, headers repeated on each page
    ("table", "width", "100%"),
    ("table", "max-width", "100%"),
    ("td.num", "white-space", "normal"),
    ("td.small", "min-width", "0"),
    ("thead", "display", "table-header-group"),
    # no figure and no table row cut by a page break
    ("figure", "break-inside", "avoid"),
    ("img", "break-inside", "avoid"),
    ("tr", "break-inside", "avoid"),
    ("figure img", "max-height", "22cm"),
])
def test_print_stylesheet_has_rule(selector, prop, value):
    assert RULES.get(selector, {}).get(prop) == value, (selector, prop, RULES.get(selector))


def test_print_stylesheet_sets_page_margins_and_small_type():
    assert RULES["@page"]["margin"] == "14mm 12mm"
    assert RULES["table"]["font-size"] == "7pt" and RULES["body"]["max-width"] == "none"
