"""The note a chart draws instead of itself when its table is empty.

Every plot function of crmtools accepts an empty result table: it draws a
short figure holding one line that says why there is nothing to draw (the
catalogue's ``empty.<chart>`` text, or the caller's), and returns its Axes
as usual. So a page never fails on a period without data, never shows an
empty frame of axes, and pages written later inherit the note.
"""

from __future__ import annotations

from ..reporting import i18n

__all__ = ["NOTE_FIGSIZE", "draw_empty_note", "is_empty_note"]

#: Size of the figure a note draws in when no Axes is given: one line of text.
NOTE_FIGSIZE = (8, 0.5)
_GID = "crm-empty-note"


def draw_empty_note(ax, key: str, language: str = "en", *, note: str | None = None, **values):
    """Draw the one-line note ``note`` (or the catalogue text ``key``) on ``ax`` and return it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        Axes to draw on; a one-line figure (:data:`NOTE_FIGSIZE`) when None.
    key : str
        Catalogue key of the note (``"empty.cohorts"``), filled with ``values``.
    language : {"en", "ja"}, default="en"
    note : str, optional
        The text itself, replacing the catalogue's (a page that knows why).

    Returns
    -------
    matplotlib.axes.Axes
        With its axis turned off, no ticks, and the note as its only text.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = draw_empty_note(Figure().subplots(), "empty.chart")
    >>> is_empty_note(ax), ax.texts[0].get_text()
    (True, 'Nothing to draw for this period.')
    """
    text = note if note else i18n.text(key, language, **values)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=NOTE_FIGSIZE)
    ax.set_xticks([])
    ax.set_yticks([])  # no tick labels left to read as data
    ax.set_axis_off()
    ax.text(0.0, 0.5, text, transform=ax.transAxes, ha="left", va="center", fontsize=11, color="#444444", gid=_GID)
    return ax


def is_empty_note(ax) -> bool:
    """True when ``ax`` holds the note of :func:`draw_empty_note` (for tests and pages)."""
    return any(t.get_gid() == _GID for t in ax.texts)
