"""The style kit every figure shares: fonts, colours, rcParams, text measurement and deterministic saving.

Forest, funnel, leave-one-out, study-flow and specification-curve figures draw
with the same font sizes and ink, are built and saved under the same
rcParams (:data:`RC`, so that the caller's matplotlib configuration changes
nothing), lay out text with a :class:`Measurer` on the figure's own Agg
renderer, and are written by :func:`save_figure`: SVG / PDF / PNG files that
are byte-identical across runs (no time stamps, fixed SVG hash salt), each
replaced atomically.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from ..io import atomic_write_bytes
from ..vocabulary import FIGURE_FORMATS

__all__ = [
    "FONT", "FS", "FS_SMALL", "FS_TITLE", "INK", "SQUARE", "GREY", "NOTE", "PI_COLOUR", "RULE", "BAYES",
    "BAYES_PI", "RC",
    "figure_style", "font_properties", "Measurer", "save_figure",
]

FONT = "DejaVu Sans"
FS = 9.0  # body text
FS_SMALL = 8.0  # ticks, notes, heterogeneity, favours
FS_TITLE = 10.5

INK = "#1a1a1a"
SQUARE = "#2f4b7c"  # study squares and pooled diamond
GREY = "#9a9a9a"  # studies not in the pool
NOTE = "#5f5f5f"  # note text
PI_COLOUR = "#b2182b"  # prediction interval
RULE = "#4d4d4d"
BAYES = "#8fa8cf"  # Bayesian posteriors: shrinkage estimates and the posterior diamond (a lighter SQUARE)
BAYES_PI = "#e39aa3"  # the posterior predictive interval of a new study (a lighter PI_COLOUR)

# rcParams in force while building and while saving a figure (determinism and
# independence from the caller's matplotlib configuration).
RC = {
    "font.family": "sans-serif",
    "font.sans-serif": [FONT],
    "font.size": FS,
    "text.usetex": False,
    "axes.unicode_minus": True,
    "svg.fonttype": "path",
    "svg.hashsalt": "metapool-forest",
    "svg.id": "metapool-forest",
    "pdf.fonttype": 42,
    "pdf.compression": 6,
    "path.simplify": True,
    "text.hinting": "force_autohint",
    "text.antialiased": True,
    "lines.antialiased": True,
    "patch.antialiased": True,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.transparent": False,
    "savefig.bbox": None,
    "savefig.pad_inches": 0.1,
}

# the metadata each format of FIGURE_FORMATS is saved with: no dates
_METADATA = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None},
             "png": {"Software": "metapool forest plot (matplotlib)"}}


def font_properties(size: float = FS, weight: str = "normal", style: str = "normal") -> FontProperties:
    """The figures' font (:data:`FONT`) at a size, weight and style.

    Parameters
    ----------
    size : float
        Font size in points (:data:`FS` body text, :data:`FS_SMALL`, :data:`FS_TITLE`).
    weight : str
        ``"normal"`` or ``"bold"``.
    style : str
        ``"normal"`` or ``"italic"``.

    Returns
    -------
    matplotlib.font_manager.FontProperties
    """
    return FontProperties(family=FONT, size=size, weight=weight, style=style)


class Measurer:
    """Text extents in inches, using the figure's own Agg renderer.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure with an Agg canvas; text is measured as it will be drawn on it.
    """

    # widths already measured in this process, by text, font, resolution and hinting: a figure's layout measures
    # many strings more than once (wrapping, column widths), and figures share headers, labels and numbers
    _widths: dict[tuple, float] = {}

    def __init__(self, fig: Figure):
        self._renderer = fig.canvas.get_renderer()
        self._dpi = fig.dpi

    def width(self, s: str, fp: FontProperties) -> float:
        """Width of ``s`` in font ``fp``, in inches (0 for an empty string)."""
        if not s:
            return 0.0
        key = (s, tuple(fp.get_family()), fp.get_style(), fp.get_variant(), fp.get_weight(), fp.get_stretch(),
               fp.get_size_in_points(), fp.get_file(), self._dpi, matplotlib.rcParams["text.hinting"],
               matplotlib.rcParams["text.hinting_factor"])
        if key not in self._widths:
            w, _, _ = self._renderer.get_text_width_height_descent(s, fp, ismath=False)
            self._widths[key] = w / self._dpi
        return self._widths[key]

    def wrap(self, s: str, fp: FontProperties, max_w: float) -> list[str]:
        """``s`` broken at spaces into lines at most ``max_w`` inches wide (a word wider than that is broken
        between characters, never cut); at least one line."""
        words, lines, cur = s.split(), [], ""
        for word in words:
            trial = f"{cur} {word}" if cur else word
            if cur and self.width(trial, fp) > max_w:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        if cur:
            lines.append(cur)
        return [piece for line in lines for piece in self._break(line, fp, max_w)] or [""]

    def _break(self, s: str, fp: FontProperties, max_w: float) -> list[str]:
        """``s`` in pieces at most ``max_w`` inches wide (at least one character each), nothing left out."""
        pieces = []
        while s and self.width(s, fp) > max_w:
            n = 1
            while n < len(s) and self.width(s[:n + 1], fp) <= max_w:
                n += 1
            pieces.append(s[:n])
            s = s[n:]
        return pieces + ([s] if s else [])


# one figure at a time in this process: matplotlib's rcParams and its font and text caches are global, and the
# workflow runs its jobs in threads of one process (metapool.jobs)
_FIGURE_LOCK = threading.RLock()


@contextlib.contextmanager
def figure_style(rc: Mapping = RC) -> Iterator[None]:
    """Build or save a figure under the rcParams ``rc`` (:data:`RC` by default), holding a process-wide lock.

    matplotlib's settings (``rcParams``, which :func:`matplotlib.rc_context` changes for the whole process) and
    its font and text-layout caches are global, so two threads drawing at once could each see the other's
    settings. Every figure of the package is built and saved inside this context, one at a time; the lock is
    reentrant (a figure built inside the context may be saved inside it).
    """
    with _FIGURE_LOCK, matplotlib.rc_context(rc):
        yield


def save_figure(fig: Figure, stem: str | os.PathLike, formats=FIGURE_FORMATS, dpi=300) -> list[Path]:
    """Save ``fig`` as ``<stem>.<fmt>`` for each format; return the written paths.

    Output is byte-identical across runs: no creation dates (SVG ``Date``, PDF
    ``CreationDate``/``ModDate`` removed; PNG carries only a fixed ``Software``
    text chunk), a fixed ``svg.hashsalt`` / ``svg.id``, and fixed rcParams
    (:data:`RC`). Each file is written atomically by
    :func:`metapool.io.atomic_write_bytes` (a temporary file in the target
    directory moved into place; the temporary files of a killed earlier
    writer removed). The parent
    directory is created if needed. The figure is not closed.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    stem : str or os.PathLike
        Path of the files without their suffix.
    formats : str or sequence of str
        Of :data:`metapool.vocabulary.FIGURE_FORMATS` (``"svg"``, ``"pdf"``, ``"png"``).
    dpi : int
        Resolution of the PNG (and of rasterised parts).

    Returns
    -------
    list of pathlib.Path
        The written files, in the order of ``formats``.
    """
    if isinstance(formats, str):
        formats = (formats,)
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for fmt in formats:
        fmt = str(fmt).lower().lstrip(".")
        if fmt not in FIGURE_FORMATS:
            raise ValueError(f"unsupported format {fmt!r}; use {', '.join(FIGURE_FORMATS)}")
        metadata = dict(_METADATA[fmt])
        final = stem.parent / f"{stem.name}.{fmt}"
        buffer = io.BytesIO()
        with figure_style():
            fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
        atomic_write_bytes(final, buffer.getvalue())
        written.append(final)
    return written
