"""Report tables and KPI tiles as escaped, deterministic HTML.

Every string that comes from data goes through :func:`html.escape`, so a
product called ``<script>alert(1)</script>`` shows as text. Output has no
random ids, so the same numbers give the same HTML.

Long labels are shortened the way the charts shorten theirs (an ellipsis at
a fixed display width, CJK characters counting double): a cell shows at most
``max_label`` columns of text and keeps the full text, itself capped at
:data:`MAX_TITLE_CHARS` characters, in its ``title`` attribute (shown on
hover). So a 10,000-character product name neither breaks a table's layout
nor puts 10,000 characters into the page.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"segment": ["<b>VIP</b>"], "revenue": [1234.0], "share": [0.5]})
>>> print(html_table(frame, {"revenue": "money", "share": "percent"}).data)
<table class="crm-table"><thead><tr><th>Segment</th><th class="num">Revenue</th><th class="num">Share</th></tr></thead><tbody><tr><td>&lt;b&gt;VIP&lt;/b&gt;</td><td class="num">¥1,234</td><td class="num">50.0%</td></tr></tbody></table>
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping

import pandas as pd
from IPython.display import HTML

from . import i18n

__all__ = ["html_table", "kpi_tiles", "bullet_list", "format_value", "shorten", "MAX_LABEL_WIDTH",
           "MAX_TITLE_CHARS"]

#: Display columns of text a table cell or header shows before it is shortened with "…".
MAX_LABEL_WIDTH = 60
#: Display columns of a bullet (a generated sentence) before it is shortened.
MAX_BULLET_WIDTH = 300
#: Characters of the full text kept in a shortened cell's ``title``; the rest never enters the page.
MAX_TITLE_CHARS = 500


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 0 if unicodedata.combining(char) else 1


def shorten(text: str, width: int = MAX_LABEL_WIDTH) -> str:
    """``text`` cut to ``width`` display columns with a final "…" (wide CJK characters count as two).

    Examples
    --------
    >>> shorten("Green tea, first flush, 100 g", 12)
    'Green tea, …'
    >>> shorten("静岡県産の深蒸し煎茶", 9)
    '静岡県産…'
    >>> shorten("Soba", 12)
    'Soba'
    """
    if width < 1:
        raise ValueError(f"width must be a whole number of at least 1; got {width!r}.")
    total = 0
    for i, char in enumerate(text):
        total += _width(char)
        if total > width:
            break
    else:
        return text
    out, used = [], 0
    for char in text:
        if used + _width(char) > width - 1:
            break
        out.append(char)
        used += _width(char)
    return "".join(out) + "…"


def _text_html(text: str, width: int, tag: str, attrs: str = "") -> str:
    """``<tag attrs>text</tag>``, escaped; shortened to ``width`` with the (capped) full text as its title."""
    short = shorten(text, width)
    if short != text:
        full = text if len(text) <= MAX_TITLE_CHARS else text[:MAX_TITLE_CHARS - 1] + "…"
        attrs += f' title="{html.escape(full, quote=True)}"'
    return f"<{tag}{attrs}>{html.escape(short)}</{tag}>"


def format_value(value, kind: str, language: str = "en", currency: str = "JPY") -> str:
    """Format one cell: kind is money, number, integer, percent, signed_percent, decimal, ratio or text."""
    if kind == "money":
        return i18n.money(value, language, currency)
    if kind == "integer":
        return i18n.number(value, 0)
    if kind == "number":
        return i18n.number(value, 1)
    if kind == "decimal":
        return i18n.number(value, 2)
    if kind == "ratio":
        return "–" if pd.isna(value) else f"{value:,.2f}×"
    if kind == "percent":
        return i18n.percent(value)
    if kind == "signed_percent":
        return i18n.signed_percent(value)
    if kind == "pvalue":
        return "–" if pd.isna(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (frozenset, set, tuple, list)):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)


def html_table(frame: pd.DataFrame, formats: Mapping[str, str] | None = None, *, language: str = "en",
               currency: str = "JPY", headers: Mapping[str, str] | None = None, max_rows: int = 200,
               max_label: int = MAX_LABEL_WIDTH) -> HTML:
    """Render a DataFrame as an escaped HTML table.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not shown.
    formats : mapping, optional
        Column -> kind (see :func:`format_value`); other columns are text.
    language : {"en", "ja"}, default="en"
        Header language: headers are looked up in :data:`i18n.TEXT` by column name.
    currency : str, default="JPY"
        Currency for money columns.
    headers : mapping, optional
        Column -> header text, overriding the lookup.
    max_rows : int, default=200
        Rows shown at most.
    max_label : int, default=MAX_LABEL_WIDTH
        Display columns of text shown per header or text cell; longer text is cut with "…" and kept whole
        (up to :data:`MAX_TITLE_CHARS` characters) in the cell's ``title``.

    Returns
    -------
    IPython.display.HTML

    Examples
    --------
    >>> cell = html_table(pd.DataFrame({"product_name": ["Tea " * 30]}), max_label=12).data
    >>> cell[cell.index("<td"):cell.index("</td>") + 5]
    '<td title="Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea ">Tea Tea Tea…</td>'
    """
    formats = dict(formats or {})
    headers = dict(headers or {})
    numeric = {c for c, k in formats.items() if k != "text"}
    cells = ["<table class=\"crm-table\"><thead><tr>"]
    for col in frame.columns:
        label = headers.get(col) or (i18n.TEXT[col][language] if col in i18n.TEXT else str(col))
        cls = ' class="num"' if col in numeric else ""
        cells.append(_text_html(label, max_label, "th", cls))
    cells.append("</tr></thead><tbody>")
    for row in frame.head(max_rows).itertuples(index=False):
        cells.append("<tr>")
        for col, value in zip(frame.columns, row):
            shown = format_value(value, formats.get(col, "text"), language, currency)
            cls = ' class="num"' if col in numeric else ""
            cells.append(_text_html(shown, max_label, "td", cls))
        cells.append("</tr>")
    cells.append("</tbody></table>")
    return HTML("".join(cells))


def kpi_tiles(kpis: pd.DataFrame, *, language: str = "en", currency: str = "JPY") -> HTML:
    """KPI tiles with the change against the previous period and last year.

    Parameters
    ----------
    kpis : pandas.DataFrame
        Columns ``kpi`` (a key of :data:`i18n.TEXT`), ``value``, ``previous``,
        ``year_ago`` and ``kind`` (a format kind).

    Returns
    -------
    IPython.display.HTML
    """
    parts = ['<div class="crm-tiles">']
    for row in kpis.itertuples(index=False):
        kind = getattr(row, "kind", "number")
        parts.append('<div class="crm-tile">')
        parts.append(f'<div class="label">{html.escape(i18n.text(row.kpi, language))}</div>')
        parts.append(f'<div class="value">{html.escape(format_value(row.value, kind, language, currency))}</div>')
        for ref, key in ((row.previous, "vs_previous"), (row.year_ago, "vs_year_ago")):
            parts.append(f'<div class="delta">{html.escape(i18n.text(key, language))}: '
                         f"{_change_html(row.value, ref, kind, language)}</div>")
        parts.append("</div>")
    parts.append("</div>")
    return HTML("".join(parts))


def _change_html(value, reference, kind: str, language: str) -> str:
    if value is None or reference is None or pd.isna(value) or pd.isna(reference):
        return html.escape(i18n.text("no_comparison", language))
    if kind in ("percent",):  # rates change in percentage points
        diff = value - reference
        shown = f"{diff * 100:+.1f} pt".replace("-", "−")
    elif reference == 0:
        return html.escape(i18n.text("no_comparison", language))
    else:
        diff = value / reference - 1
        shown = i18n.signed_percent(diff)
    if diff > 0:
        return f'<span class="up">▲ {html.escape(shown)}</span>'
    if diff < 0:
        return f'<span class="down">▼ {html.escape(shown)}</span>'
    return f"<span>± {html.escape(shown)}</span>"


def bullet_list(items: list[str], *, css_class: str = "crm-findings", max_width: int = MAX_BULLET_WIDTH) -> HTML:
    """An escaped bullet list (for generated findings and rule sentences); an item longer than ``max_width``
    display columns is shortened like a table cell, the full text (capped) in its ``title``."""
    body = "".join(_text_html(str(item), max_width, "li") for item in items)
    return HTML(f'<ul class="{css_class}">{body}</ul>')
