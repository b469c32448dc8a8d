"""Report tables and KPI tiles as escaped, deterministic HTML.

Tables are pandas Stylers (:func:`html_table` returns a :class:`ReportTable`):
in JupyterLab the analyst keeps the DataFrame (``table.data``) to sort and
filter, while the formats, translated headers and layout travel with the
Styler, which renders the report's HTML. Tiles, lists and the glossary are
plain HTML.

Every string that comes from data is escaped, so a product called
``<script>alert(1)</script>`` shows as text. Output has no random ids, so the
same numbers give the same HTML. Money goes through
:mod:`crmtools.reporting.money` (full amounts in tables, rounded on tiles).

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
>>> print(html_table(frame, {"revenue": "money", "share": "percent"}).to_html())
<table class="crm-table"><thead><tr><th>Segment</th><th class="num">Revenue</th><th class="num">Share</th></tr></thead><tbody><tr><td>&lt;b&gt;VIP&lt;/b&gt;</td><td class="num">¥1,234</td><td class="num">50.0%</td></tr></tbody></table>
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import unicodedata
from collections.abc import Mapping

import jinja2
import pandas as pd
from IPython.display import HTML
from pandas.io.formats.style import Styler

from . import i18n

__all__ = [
    "HEADLINE_KINDS",
    "MAX_LABEL_WIDTH",
    "MAX_TITLE_CHARS",
    "ReportTable",
    "bullet_list",
    "display_width",
    "format_value",
    "glossary_html",
    "glossary_values",
    "headline_html",
    "html_table",
    "kpi_tiles",
    "metric_values",
    "shorten",
    "with_previous",
    "worded",
]

#: Display columns of text a table cell or header shows before it is shortened with "…".
MAX_LABEL_WIDTH = 60
#: Display columns of a bullet (a generated sentence) before it is shortened.
MAX_BULLET_WIDTH = 300
#: Characters of the full text kept in a shortened cell's ``title``; the rest never enters the page.
MAX_TITLE_CHARS = 500


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 0 if unicodedata.combining(char) else 1


def display_width(text: str) -> int:
    """Display columns ``text`` takes: wide CJK characters count as two, combining marks as none.

    Examples
    --------
    >>> display_width("Tea"), display_width("煎茶")
    (3, 4)
    """
    return sum(_width(char) for char in text)


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
    for _i, char in enumerate(text):
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
        full = text if len(text) <= MAX_TITLE_CHARS else text[: MAX_TITLE_CHARS - 1] + "…"
        attrs += f' title="{html.escape(full, quote=True)}"'
    return f"<{tag}{attrs}>{html.escape(short)}</{tag}>"


#: The Styler templates of :class:`ReportTable` (they extend pandas' ``html_table.tpl`` / ``html_style.tpl``):
#: one line of HTML, a note instead of an empty table, and a style block only when styles were added.
_TEMPLATES = {
    "crm_table.tpl": (
        "{%- set styled = table_styles or cellstyle or cellstyle_index or cellstyle_columns -%}"
        '{%- if not body -%}<p class="crm-note">{{ empty_note | e }}</p>'
        '{%- else -%}<table{% if styled %} id="T_{{ uuid }}"{% endif %} {{ table_attributes }}>'
        "{%- if caption and caption is string %}<caption>{{ caption | e }}</caption>{% endif -%}"
        "<thead>{% for r in head %}<tr>{% for c in r if c.is_visible != False %}{{ cell(c, uuid) }}{% endfor %}</tr>"
        "{% endfor %}</thead>"
        '<tbody{% if text_language %} lang="{{ text_language | e }}"{% endif %}>{% for r in body %}<tr>'
        "{% for c in r if c.is_visible != False %}{{ cell(c, uuid) }}{% endfor %}</tr>{% endfor %}</tbody></table>"
        "{%- endif -%}"
    ),
    "crm_style.tpl": (
        "{%- if table_styles or cellstyle or cellstyle_index or cellstyle_columns -%}"
        "{% include 'html_style.tpl' %}{%- endif -%}"
    ),
}
#: Classes pandas gives every cell (position, level, role): the page needs none of them.
_STRUCTURAL_CLASS = re.compile(
    r"data|col_heading|row_heading|index_name|blank|level\d+|row\d+|col\d+|row_trim|col_trim"
)


#: The kind a headline (KPI tile) shows for a table kind: money and counts rounded to 万/億 (or K/M), the rest as is.
HEADLINE_KINDS = {"money": "compact_money"}


def format_value(value, kind: str, language: str = "en", currency: str = "JPY") -> str:
    """Format one cell: kind is money, compact_money, number, integer, compact_number, percent, signed_percent,
    decimal, ratio, pvalue, nps (signed, one decimal: '+11.5'), shown (text already formatted as a number: right-aligned, kept as it is) or text.

    Tables show money in full (``money``: '39,691,230円'); tiles and prose round it
    (``compact_money``: '3,969万円', '¥39.7M').

    Examples
    --------
    >>> format_value(39691230, "money", "ja"), format_value(39691230, "compact_money", "ja")
    ('39,691,230円', '3,969万円')
    >>> format_value(123456, "compact_number", "ja"), format_value(float("nan"), "compact_money", "en")
    ('12.3万', '–')
    """
    if kind == "money":
        return i18n.money(value, language, currency)
    if kind == "compact_money":
        return i18n.compact_money(value, language, currency)
    if kind == "compact_number":
        return i18n.compact_number(value, language)
    if kind == "integer":
        return i18n.number(value, 0)
    if kind == "signed_integer":
        return i18n.signed_number(value, 0)
    if kind == "number":
        return i18n.number(value, 1)
    if kind == "decimal":
        return i18n.number(value, 2)
    if kind == "ratio":
        return "–" if pd.isna(value) else f"{value:,.2f}×".replace("-", "−")
    if kind == "percent":
        return i18n.percent(value)
    if kind == "signed_percent":
        return i18n.signed_percent(value)
    if kind == "nps":
        return i18n.nps_score(value)
    if kind == "pvalue":
        return "–" if pd.isna(value) else ("<0.001" if value < 0.001 else f"{value:.3f}")
    if kind == "shown":
        return "–" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "–"
    if isinstance(value, (frozenset, set, tuple, list)):
        return ", ".join(sorted(str(v) for v in value))
    return str(value)


class ReportTable(Styler):
    """A pandas Styler that renders as a report table: the displayed object of :func:`html_table`.

    It is a real :class:`pandas.io.formats.style.Styler`: ``.data`` is the
    DataFrame (sort or filter it in Lab and display it again), the format of
    each column is a ``Styler.format`` formatter, headers are a
    ``format_index`` on the columns, and further styling (``.highlight_max()``,
    ``.bar()``, ...) is kept. Its HTML template (``Styler.from_custom_template``
    in pandas' terms) writes the report's table: ``<table class="crm-table">``
    (the report CSS makes it scroll sideways inside its own box), ``class="num"``
    on number columns, every text escaped and shortened with the full text in
    its ``title``, no index and no ids or style block unless styles were added
    (then with an id derived from the table's content, never a random one).
    A table without rows shows its one-line note instead of empty headers.
    """

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.DictLoader(_TEMPLATES), Styler.loader]), trim_blocks=True
    )
    template_html_table = env.get_template("crm_table.tpl")
    template_html_style = env.get_template("crm_style.tpl")

    def __init__(
        self, data, *, numeric=(), max_rows=200, max_label=MAX_LABEL_WIDTH, empty="", text_language=None, **kwargs
    ):
        super().__init__(data, **kwargs)
        self._crm = {
            "numeric": frozenset(numeric),
            "max_rows": max_rows,
            "max_label": max_label,
            "empty": empty,
            "text_language": text_language,
        }

    def to_html(self, buf=None, **kwargs):
        """The table's HTML (see :meth:`pandas.io.formats.style.Styler.to_html`), at most ``max_rows`` rows."""
        kwargs.setdefault("max_rows", self._crm["max_rows"])
        kwargs.setdefault("empty_note", self._crm["empty"])
        kwargs.setdefault("text_language", self._crm["text_language"])
        return super().to_html(buf, cell=self._cell_html, **kwargs)

    def __repr__(self) -> str:
        rows, columns = self.data.shape
        return f"<ReportTable: {rows} rows x {columns} columns>"

    def _cell_html(self, cell: dict, uuid: str) -> str:
        """One header or data cell: its id only when styled, ``class="num"`` in number columns, shortened text."""
        classes = str(cell.get("class", "")).split()
        position = next((int(c[3:]) for c in classes if c.startswith("col") and c[3:].isdigit()), None)
        kept = [c for c in classes if not _STRUCTURAL_CLASS.fullmatch(c)]
        if position in self._crm["numeric"]:
            kept.insert(0, "num")
        attrs = f' id="T_{uuid}_{cell["id"]}"' if cell.get("id") else ""
        attrs += f' class="{html.escape(" ".join(kept), quote=True)}"' if kept else ""
        if "row_trim" in classes:  # the row pandas adds after max_rows: there are more rows
            return f"<td{attrs}>…</td>"
        return _text_html(str(cell.get("display_value", "")), self._crm["max_label"], cell["type"], attrs)


def html_table(
    frame: pd.DataFrame,
    formats: Mapping[str, str] | None = None,
    *,
    language: str = "en",
    currency: str = "JPY",
    headers: Mapping[str, str] | None = None,
    max_rows: int = 200,
    max_label: int = MAX_LABEL_WIDTH,
    empty: str | None = None,
    text_language: str | None = None,
    codes: Mapping[str, str | None] | None = None,
) -> ReportTable:
    """A DataFrame as a report table: a pandas Styler carrying the formats, headers and page layout.

    The analyst in Lab gets the DataFrame back as ``.data`` (sort, filter,
    display again); the report page gets the same table as escaped HTML.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not shown.
    formats : mapping, optional
        Column -> kind (see :func:`format_value`); other columns are text.
    language : {"en", "ja"}, default="en"
        Header language: headers are looked up in :data:`i18n.TEXT` by column name.
    currency : str, default="JPY"
        Currency for money columns (full amounts: '£1,461,756.25', '39,691,230円').
    headers : mapping, optional
        Column -> header text, overriding the lookup.
    max_rows : int, default=200
        Rows shown at most (a last row of "..." says there are more).
    max_label : int, default=MAX_LABEL_WIDTH
        Display columns of text shown per header or text cell; longer text is cut with "…" and kept whole
        (up to :data:`MAX_TITLE_CHARS` characters) in the cell's ``title``.
    empty : str, optional
        The one-line note shown instead of a table without rows (say why it is empty); default the
        catalogue's ``table.empty``.
    text_language : str, optional
        Language of the cells' text when it is not the page's (``lang`` on the table body), e.g. ``"en"``
        for technical details left in English on a Japanese page.
    codes : mapping, optional
        Column -> kind of data code it holds (``{"group": "channel"}``), added to
        :data:`i18n.CODE_COLUMNS`; None shows a column as is. A text column holding codes shows each through
        :func:`i18n.code_label` (``dm`` reads ダイレクトメール on a Japanese page, a code the catalogue does
        not know as written); ``.data`` keeps the codes.

    Returns
    -------
    ReportTable
        A :class:`pandas.io.formats.style.Styler` of ``frame``.

    Examples
    --------
    >>> frame = pd.DataFrame({"segment": ["<b>VIP</b>"], "revenue": [1234.5], "share": [0.5]})
    >>> table = html_table(frame, {"revenue": "money", "share": "percent"}, currency="GBP")
    >>> table.data is frame
    True
    >>> print(table.to_html())
    <table class="crm-table"><thead><tr><th>Segment</th><th class="num">Revenue</th><th class="num">Share</th></tr></thead><tbody><tr><td>&lt;b&gt;VIP&lt;/b&gt;</td><td class="num">£1,234.50</td><td class="num">50.0%</td></tr></tbody></table>
    >>> cell = html_table(pd.DataFrame({"product_name": ["Tea " * 30]}), max_label=12).to_html()
    >>> cell[cell.index("<td"):cell.index("</td>") + 5]
    '<td title="Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea Tea ">Tea Tea Tea…</td>'
    >>> html_table(frame.iloc[:0], empty="No campaigns ran in Nov 2011.").to_html()
    '<p class="crm-note">No campaigns ran in Nov 2011.</p>'
    >>> html_table(pd.DataFrame({"channel": ["dm", "line"]}), language="ja").to_html()
    '<table class="crm-table"><thead><tr><th>チャネル</th></tr></thead><tbody><tr><td>ダイレクトメール</td></tr><tr><td>line</td></tr></tbody></table>'
    """
    i18n.check_language(language)
    formats = dict(formats or {})
    headers = dict(headers or {})
    kinds = [formats.get(col, "text") for col in frame.columns]
    numeric = [n for n, kind in enumerate(kinds) if kind != "text"]
    code_kinds = {**i18n.CODE_COLUMNS, **dict(codes or {})}
    coded = [
        code_kinds.get(col) if kind == "text" and isinstance(col, str) else None
        for col, kind in zip(frame.columns, kinds)
    ]

    def header(col) -> str:
        return headers.get(col) or (i18n.TEXT[col][language] if col in i18n.TEXT else str(col))

    def formatter(kind, code=None):
        if code is not None:  # a data code: the catalogue's word, an unknown code as written
            return lambda value: i18n.code_label(value, code, language)
        return lambda value: format_value(value, kind, language, currency)

    formatters = [formatter(kind, code) for kind, code in zip(kinds, coded)]
    shown = [[show(v) for v in frame.iloc[:max_rows, n]] for n, show in enumerate(formatters)]
    fingerprint = json.dumps([[header(c) for c in frame.columns], shown, len(frame)], ensure_ascii=False)
    table = ReportTable(
        frame,
        numeric=numeric,
        max_rows=max_rows,
        max_label=max_label,
        empty=empty if empty is not None else i18n.text("table.empty", language),
        text_language=text_language,
        uuid=hashlib.sha256(fingerprint.encode()).hexdigest()[:12],
        cell_ids=False,
    )
    table.hide(axis="index")
    table.set_table_attributes('class="crm-table"')
    table.format_index(header, axis="columns")
    for n, show in enumerate(formatters):
        table.format(show, subset=frame.columns[[n]])
    return table


def kpi_tiles(kpis: pd.DataFrame, *, language: str = "en", currency: str = "JPY", glossary: bool = False) -> HTML:
    """KPI tiles with the change against the previous period and last year.

    A change that rounds to zero at the shown precision is neutral ("± 0.0 pt",
    never a red "−0.0 pt").

    Parameters
    ----------
    kpis : pandas.DataFrame
        Columns ``kpi`` (a key of :data:`i18n.TEXT`), ``value``, ``previous``,
        ``year_ago`` and ``kind`` (a format kind); optionally ``label`` (text
        replacing the catalogue's label), ``note`` (a secondary line under the
        value), ``previous_note`` / ``year_ago_note`` (text shown instead
        of the change, where a change would mislead) and ``better``
        (``"higher"``, the default, or ``"lower"`` for a figure such as the
        value at risk, whose fall is good news: the arrow still shows the
        direction, the colour says whether it is good). Missing texts are ignored.
    glossary : bool, default=False
        Link each label that has a glossary entry to it (``<a href="#g-revenue">``,
        the anchors of :func:`glossary_html` on the same page).

    Returns
    -------
    IPython.display.HTML

    Examples
    --------
    >>> tiles = pd.DataFrame({"kpi": ["retention_rate"], "value": [0.30001], "previous": [0.30002],
    ...                       "year_ago": [0.2], "kind": ["percent"]})
    >>> html_ = kpi_tiles(tiles).data
    >>> "<span>± 0.0 pt</span>" in html_, "−0.0" in html_
    (True, False)
    """

    def given(row, name):
        value = getattr(row, name, None)
        return value if isinstance(value, str) and value else None

    parts = ['<div class="crm-tiles">']
    for row in kpis.itertuples(index=False):
        kind = getattr(row, "kind", "number")
        parts.append('<div class="crm-tile">')
        label = given(row, "label") or i18n.text(row.kpi, language)
        parts.append(f'<div class="label">{_glossary_link(row.kpi, label) if glossary else html.escape(label)}</div>')
        parts.append(headline_html(row.value, kind, language, currency))
        if given(row, "note"):
            parts.append(f'<div class="note">{html.escape(given(row, "note"))}</div>')
        for ref, key, note in (
            (row.previous, "vs_previous", "previous_note"),
            (row.year_ago, "vs_year_ago", "year_ago_note"),
        ):
            lower_is_better = given(row, "better") == "lower"
            change = (
                html.escape(given(row, note))
                if given(row, note)
                else _change_html(row.value, ref, kind, language, lower_is_better=lower_is_better)
            )
            parts.append(f'<div class="delta">{html.escape(i18n.text(key, language))}: {change}</div>')
        parts.append("</div>")
    parts.append("</div>")
    return HTML("".join(parts))


def headline_html(value, kind: str, language: str, currency: str, *, tag: str = "div", css_class: str = "value") -> str:
    """A headline value (a tile's, the index's), rounded (:data:`HEADLINE_KINDS`), the full value in its ``title``.

    Examples
    --------
    >>> headline_html(1461756.25, "money", "en", "GBP", tag="td", css_class="num")
    '<td class="num" title="£1,461,756.25">£1.46M</td>'
    """
    shown = format_value(value, HEADLINE_KINDS.get(kind, kind), language, currency)
    full = format_value(value, kind, language, currency)
    title = f' title="{html.escape(full, quote=True)}"' if full != shown else ""
    return f'<{tag} class="{css_class}"{title}>{html.escape(shown)}</{tag}>'


def _change_html(value, reference, kind: str, language: str, *, lower_is_better: bool = False) -> str:
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
    if round(diff * 100, 1) == 0:  # rounds to zero at the shown precision: neutral, never a red "−0.0"
        return f"<span>± {html.escape('0.0 pt' if kind == 'percent' else i18n.percent(0.0))}</span>"
    good = (diff > 0) != lower_is_better  # the colour: "up" is good news, "down" bad news
    arrow = "▲" if diff > 0 else "▼"
    return f'<span class="{"up" if good else "down"}">{arrow} {html.escape(shown)}</span>'


def bullet_list(
    items: list[str], *, css_class: str = "crm-findings", max_width: int = MAX_BULLET_WIDTH, numbered: bool = False
) -> HTML:
    """An escaped bullet list (for generated findings and rule sentences); an item longer than ``max_width``
    display columns is shortened like a table cell, the full text (capped) in its ``title``; ``numbered``
    makes it an ordered list (for ranked actions)."""
    body = "".join(_text_html(str(item), max_width, "li") for item in items)
    tag = "ol" if numbered else "ul"
    return HTML(f'<{tag} class="{css_class}">{body}</{tag}>')


def _glossary_link(kpi: str, label: str) -> str:
    """The tile label, linked to its glossary entry when the catalogue has one."""
    if f"glossary.{kpi}" not in i18n.TEXT:
        return html.escape(label)
    return f'<a href="#g-{html.escape(kpi, quote=True)}">{html.escape(label)}</a>'


def glossary_values(params: Mapping | None = None) -> dict:
    """The numbers the glossary lines state, from the run's params (defaults for what ``params`` lacks).

    Examples
    --------
    >>> glossary_values({"repeat": {"within_days": 60}})
    {'within_days': 60, 'months': 12, 'horizon_days': 90}
    """
    from ..params import DEFAULTS

    def pick(section, key):
        given = (params or {}).get(section) or {}
        return given.get(key, DEFAULTS[section][key])

    return {
        "within_days": pick("repeat", "within_days"),
        "months": pick("clv", "months"),
        "horizon_days": pick("churn", "horizon_days"),
    }


def glossary_html(kpis, *, language: str = "en", params: Mapping | None = None) -> HTML:
    """One line per KPI definition (``glossary.<kpi>`` of the catalogue), each with the anchor ``g-<kpi>``.

    KPIs without a glossary entry are left out; no script, no external link. Lines that state a window
    ("within 90 days") take its number from ``params`` (the run's; :func:`glossary_values`).

    Examples
    --------
    >>> glossary_html(["average_order_value", "nope"]).data
    '<dl class="crm-glossary"><dt id="g-average_order_value">Average order value</dt><dd>Revenue ÷ orders.</dd></dl>'
    """
    values = glossary_values(params)
    rows = [
        f'<dt id="g-{html.escape(k, quote=True)}">{html.escape(i18n.text(k, language))}</dt>'
        f"<dd>{html.escape(i18n.text(f'glossary.{k}', language, **values))}</dd>"
        for k in kpis
        if f"glossary.{k}" in i18n.TEXT
    ]
    return HTML(f'<dl class="crm-glossary">{"".join(rows)}</dl>')


#: How each experiment metric's values read: money per unit or converter, a rate as a percentage.
METRIC_KINDS = {"revenue_per_unit": "money", "revenue_per_converter": "money", "conversion_rate": "percent"}


def metric_values(
    frame: pd.DataFrame,
    columns=("control_value", "variant_value"),
    *,
    metric_col: str = "metric",
    language: str = "en",
    currency: str = "JPY",
) -> pd.DataFrame:
    """``frame`` with each of ``columns`` written as its row's metric reads (:data:`METRIC_KINDS`).

    A table of experiment results holds money (revenue per unit) and rates (conversion) in one column, so
    the kind is chosen per row; show the columns with the ``"shown"`` kind of :func:`html_table`.

    Examples
    --------
    >>> frame = pd.DataFrame({"metric": ["revenue_per_unit", "conversion_rate"], "control_value": [491.15, 0.0812]})
    >>> metric_values(frame, ["control_value"], language="ja")["control_value"].tolist()
    ['491円', '8.1%']
    """
    out = frame.copy()
    for column in columns:
        out[column] = [
            format_value(value, METRIC_KINDS.get(metric, "decimal"), language, currency)
            for metric, value in zip(frame[metric_col], frame[column])
        ]
    return out


def with_previous(current: pd.DataFrame, previous: pd.DataFrame, *, on: str, columns) -> pd.DataFrame:
    """``current`` with each of ``columns`` of ``previous`` beside it as ``<column>_previous`` (matched on ``on``).

    For display tables that show last period next to this one; rows only in
    ``previous`` are left out, rows only in ``current`` get NaN.

    Examples
    --------
    >>> now = pd.DataFrame({"segment": ["A", "B"], "customers": [5, 3]})
    >>> before = pd.DataFrame({"segment": ["A", "C"], "customers": [4, 9]})
    >>> with_previous(now, before, on="segment", columns=["customers"])["customers_previous"].tolist()
    [4.0, nan]
    """
    renamed = previous[[on, *columns]].rename(columns={c: f"{c}_previous" for c in columns})
    return current.merge(renamed, on=on, how="left", validate="one_to_one")


def worded(frame: pd.DataFrame, columns, *, language: str = "en") -> pd.DataFrame:
    """``frame`` with each of ``columns`` (data codes) in the catalogue's words (:func:`i18n.code_label`).

    For codes that reach a page inside a sentence rather than a table cell (a verdict naming its variant):
    give the sentence builder the worded frame. ``columns`` is a list of :data:`i18n.CODE_COLUMNS` names or a
    mapping column -> kind of code; a code the catalogue does not know stays as written.

    Examples
    --------
    >>> frame = pd.DataFrame({"variant": ["free_shipping", "B"], "units": [10, 12]})
    >>> worded(frame, ["variant"], language="ja")["variant"].tolist()
    ['送料無料', 'B']
    """
    kinds = dict(columns) if isinstance(columns, Mapping) else {c: i18n.CODE_COLUMNS[c] for c in columns}
    return frame.assign(**{c: [i18n.code_label(v, kind, language) for v in frame[c]] for c, kind in kinds.items()})
