"""How p-values and the test for the overall effect are written: one home for the report and the figures (and
:func:`upper_first`, a heading from a configured name that keeps the name's case).

Two styles, chosen for a whole run by the config's ``p_values`` (a step writes its outputs inside
:func:`using_p_style`; a function given no ``style`` writes in the style in force, ``"jama"`` outside):

* ``"jama"`` (the default): two decimals, three
  below 0.01, ``< 0.001`` below 0.001 (JAMA Network instructions for authors; AMA Manual of Style,
  11th ed., section 19.5); the symbols are lower case (``p``, ``z``, ``t``).
* ``"revman"``: the style of Cochrane's Review Manager 5, ``P < 0.00001`` below 0.00001, one
  significant digit below 0.01, two decimals above; upper-case ``Z`` and ``P``, as RevMan's forest plots
  write "Test for overall effect: Z = 9.61 (P < 0.00001)".
"""

from __future__ import annotations

import contextlib
import contextvars
import math

__all__ = ["P_STYLES", "format_p", "p_text", "overall_effect_text", "upper_first", "using_p_style", "p_style"]

P_STYLES = ("jama", "revman")
_STYLE = contextvars.ContextVar("metapool_p_style", default="jama")


def _checked(style: str) -> str:
    if style not in P_STYLES:
        raise ValueError(f"p-value style must be one of {P_STYLES}, got {style!r}")
    return style


def p_style() -> str:
    """The p-value style in force (:func:`using_p_style`; ``"jama"`` outside it)."""
    return _STYLE.get()


@contextlib.contextmanager
def using_p_style(style: str | None):
    """Write p-values in ``style`` inside the ``with`` block (``None``: keep the style in force).

    Parameters
    ----------
    style : {"jama", "revman"} or None
        The config's ``p_values``.
    """
    token = _STYLE.set(_checked(style)) if style is not None else None
    try:
        yield
    finally:
        if token is not None:
            _STYLE.reset(token)


def _finite(x) -> bool:
    try:
        return x is not None and not isinstance(x, str) and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def format_p(p, style: str | None = None) -> str:
    """A p-value without its symbol: ``"0.27"``, ``"0.004"``, ``"< 0.001"``; ``"NA"`` when not finite.

    Parameters
    ----------
    p : float
        The p-value.
    style : {"jama", "revman"}, optional
        ``"jama"``: two decimals, three below 0.01, ``< 0.001`` below 0.001; ``"revman"``: two decimals,
        one significant digit below 0.01, ``< 0.00001`` below 0.00001. Default: the style in force
        (:func:`using_p_style`).

    Returns
    -------
    str
    """
    style = p_style() if style is None else _checked(style)
    if not _finite(p):
        return "NA"
    p = float(p)
    floor = 0.001 if style == "jama" else 0.00001
    if p < floor:
        return f"< {floor:.{-round(math.log10(floor))}f}"
    if p >= 0.01 or (style == "jama" and round(p, 3) >= 0.01):
        return f"{p:.2f}"
    if style == "jama":
        return f"{p:.3f}"
    decimals = -math.floor(math.log10(p))  # one significant digit: 0.0007 -> 4 decimals
    text = f"{p:.{decimals}f}"
    return text if float(text) < 0.01 else f"{p:.2f}"


def p_text(p, style: str | None = None) -> str:
    """A p-value with its symbol: ``"p = 0.27"``, ``"p < 0.001"`` (``"P = 0.0007"`` in the RevMan style).

    Parameters
    ----------
    p : float
        The p-value.
    style : {"jama", "revman"}, optional
        As :func:`format_p`.

    Returns
    -------
    str
    """
    style = p_style() if style is None else _checked(style)
    text = format_p(p, style)
    symbol = "P" if style == "revman" else "p"
    return f"{symbol} {text}" if text.startswith("<") else f"{symbol} = {text}"


def overall_effect_text(zval, ddf, pval, style: str | None = None) -> str:
    """The test for the overall effect: ``"Test for overall effect: Z = 9.61 (P < 0.00001)"`` (RevMan),
    ``"Test for overall effect: t = 3.10, df = 4 (p = 0.04)"`` under Hartung-Knapp; ``""`` without a test.

    Parameters
    ----------
    zval, ddf, pval : float
        metafor's ``zval`` (z, or t where ``ddf`` is finite), ``ddf`` and ``pval``
        (:data:`metapool.stats.results.TEST_FIELDS`).
    style : {"jama", "revman"}, optional
        As :func:`format_p`; ``"revman"`` also writes the z statistic as ``Z``.

    Returns
    -------
    str
    """
    style = p_style() if style is None else _checked(style)
    if not _finite(zval) or not _finite(pval):
        return ""
    if _finite(ddf):
        df = f"{int(round(float(ddf)))}" if abs(float(ddf) - round(float(ddf))) < 1e-9 else f"{float(ddf):.1f}"
        stat = f"t = {float(zval):.2f}, df = {df}"
    else:
        stat = f"{'Z' if style == 'revman' else 'z'} = {float(zval):.2f}"
    return f"Test for overall effect: {stat} ({p_text(pval, style)})"


def upper_first(text) -> str:
    """``text`` with its first character in upper case and the rest as written: ``"ALK TKI"``, ``"ECOG_ps"``
    and ``"(DL, Hartung-Knapp)"`` keep their case (Jinja2's ``capitalize`` would lower the rest).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    text = "" if text is None else str(text)
    return text[:1].upper() + text[1:]
