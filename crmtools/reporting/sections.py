"""A page section with nothing to show: one line saying why, and the page still publishes.

Pages call :func:`table_or_note` instead of branching on ``len(...)``: a table
with rows renders as :func:`crmtools.reporting.tables.html_table`, an empty
one as a single note. :func:`has_table` tells a table the data set never had
(no ``campaigns`` file at all) from one that is empty for the period, so a
page says "the data has no campaigns table" once instead of "nothing to show"
in every section.

Examples
--------
>>> import pandas as pd
>>> table_or_note(pd.DataFrame({"a": []}), note="No campaign ran in this period.").data
'<p class="crm-note">No campaign ran in this period.</p>'
"""

from __future__ import annotations

import html

import pandas as pd
from IPython.display import HTML

from . import i18n

__all__ = ["has_table", "missing_table_note", "note_html", "table_or_note"]


def note_html(text: str) -> HTML:
    """One escaped note line (the ``crm-note`` paragraph of the pages)."""
    return HTML(f'<p class="crm-note">{html.escape(text)}</p>')


def table_or_note(frame: pd.DataFrame, formats=None, *, note: str | None, **options):
    """``html_table(frame, formats, **options)``, or the one-line ``note`` when ``frame`` has no rows.

    Parameters
    ----------
    frame : pandas.DataFrame
    formats : mapping, optional
        As :func:`crmtools.reporting.tables.html_table`.
    note : str or None
        What the reader sees instead of an empty table: why there is nothing
        (a catalogue text); None when the section has said it already (its
        chart's note), so that the reason appears once.
    **options
        Passed on to ``html_table`` (``language``, ``currency``, ``headers``, ...).

    Returns
    -------
    The displayed table, or an ``IPython.display.HTML`` note.
    """
    if frame is None or len(frame) == 0:
        return None if note is None else note_html(note)
    from .tables import html_table

    return html_table(frame, formats, **options)


def has_table(data, name: str) -> bool:
    """Whether the data set has the table ``name`` at all (it was read from a file or database).

    A data set loaded by :func:`crmtools.data.load_dataset` lists what it read
    in ``inputs``; a table not read is absent, whatever the period. A data set
    built by hand (no ``inputs``) has the table when it has rows.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> has_table(SimpleNamespace(inputs={"transactions": {}}, campaigns=pd.DataFrame()), "campaigns")
    False
    """
    inputs = getattr(data, "inputs", None) or {}
    if inputs:
        return name in inputs
    return len(getattr(data, name)) > 0


def missing_table_note(name: str, language: str = "en") -> str:
    """The sentence a page shows once for a table the data does not have (``no_table.<name>``)."""
    return i18n.text(f"no_table.{name}", language)
