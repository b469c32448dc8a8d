"""Helpers shared by the plot modules: the Axes to draw on, and the labels of a language.

The words of every chart are in the report catalogue,
:data:`crmtools.reporting.i18n.TEXT`; a plot module only names, for each
label it draws, the catalogue key to use.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..reporting import i18n

__all__ = [
    "axes_or_new",
    "count_axis",
    "group_names",
    "legend_below",
    "money_annotations",
    "money_axis",
    "note_below",
    "spread_labels",
    "words_for",
]


def axes_or_new(ax, figsize):
    """``ax`` itself, or the Axes of a new figure of ``figsize`` when ``ax`` is None."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def words_for(keys: Mapping[str, str], language: str) -> dict[str, str]:
    """The labels in ``language`` of a module's ``{name: catalogue key}`` table.

    Templates (``"Strongest pairs: {metric}"``) come back unfilled, for the
    plot to fill in.
    """
    i18n.check_language(language)
    return {name: i18n.text(key, language) for name, key in keys.items()}


def group_names(values, column: str | None, language: str, labels: Mapping | None = None) -> list[str]:
    """What a chart shows for each group value of ``column``: its label from ``labels`` when given, else the
    catalogue's word for a column of data codes (:data:`crmtools.reporting.i18n.CODE_COLUMNS`: channels,
    variants, segments, stages ...), else the value as written.

    Examples
    --------
    >>> group_names(["dm", "line"], "channel", "ja"), group_names(["dm"], "channel", "en", {"dm": "Mail"})
    (['ダイレクトメール', 'line'], ['Mail'])
    """
    kind = i18n.CODE_COLUMNS.get(column) if isinstance(column, str) else None
    out = []
    for value in values:
        if labels is not None and value in labels:
            out.append(str(labels[value]))
        elif kind is not None:
            out.append(i18n.code_label(value, kind, language))
        else:
            out.append(str(value))
    return out


def legend_below(ax, *, ncol: int = 2):
    """The legend centred under the x-axis label, clear of the plot, its text labels, the tick labels and the
    axis label at any figure size and in any language (the saved figure grows to hold it); returns it.

    Inside the axes a legend placed "best" or in a corner can sit on a bar's value label, and a Japanese
    legend is wider than an English one; below the axes it has its own space.
    """
    return ax.legend(loc="upper center", bbox_to_anchor=(0.5, _below(ax)), fontsize="small", frameon=False, ncol=ncol)


def _below(ax) -> float:
    """The y position, in axes coordinates, 4 points under everything drawn for ``ax`` (tick and axis labels)."""
    figure = ax.figure
    if not hasattr(figure.canvas, "get_renderer"):  # a bare Figure(): measure text on an Agg canvas
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg(figure)
    renderer = figure.canvas.get_renderer()
    tight = ax.get_tightbbox(renderer)
    below = min(ax.xaxis.label.get_window_extent(renderer).y0, tight.y0 if tight is not None else 0.0)
    _, y = ax.transAxes.inverted().transform((0.0, below - 4 * figure.dpi / 72.0))
    return float(y)


def wrap_text(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` display columns (CJK characters count double): Latin words whole,
    breaking at spaces, Japanese between any two characters.

    Examples
    --------
    >>> print(wrap_text("one two three", 8))
    one two
    three
    >>> print(wrap_text("⑤ ファンは推奨者", 8))
    ⑤ ファン
    は推奨者
    """
    from ..reporting.tables import display_width

    lines, line, used = [], "", 0
    for token in re.findall(r"[^\s\u2e80-\uffff]+\s*|[\u2e80-\uffff]\s*|\s+", text):
        if line and used + display_width(token.rstrip()) > width:
            lines.append(line.rstrip())
            line, used = "", 0
        line += token
        used += display_width(token)
    return "\n".join([*lines, line.rstrip()])


def note_below(ax, text: str, *, width: int = 100):
    """A note (a caveat the reader needs) under the chart, below its axis label and legend, wrapped to
    ``width`` display columns; returns the Text. The saved figure grows to hold it."""
    legend = ax.get_legend()
    y = _below(ax)
    if legend is not None:  # under a legend placed below the axes too
        renderer = ax.figure.canvas.get_renderer()
        box = legend.get_window_extent(renderer)
        _, legend_y = ax.transAxes.inverted().transform((0.0, box.y0 - 4 * ax.figure.dpi / 72.0))
        y = min(y, float(legend_y))
    return ax.text(
        0.0, y, wrap_text(text, width), transform=ax.transAxes, ha="left", va="top", fontsize=8, color="#444444"
    )


def money_axis(axis, language: str, currency: str = "JPY"):
    """Tick labels of ``axis`` (``ax.xaxis``, ``ax.yaxis`` or a colorbar's axis) as rounded money in ``currency``.

    The same text as the tiles and prose (:func:`crmtools.reporting.money.compact_money`): '£1.5M', '¥30M',
    '$250K' in English, '3,000万円', '1.5億円', '£150万' in Japanese. A formatter of its own, so the axis never
    gets an offset or a "1e6" above it.
    """
    from matplotlib.ticker import FuncFormatter

    i18n.check_language(language)
    axis.set_major_formatter(FuncFormatter(lambda v, _: i18n.compact_money(v, language, currency)))
    return axis


def money_annotations(wide, language: str, currency: str = "JPY"):
    """Cell texts of a heatmap of amounts (``annot=`` with ``fmt=""``): rounded money as on the axes."""
    return wide.map(lambda v: i18n.compact_money(v, language, currency) if v == v else "")


def count_axis(axis, language: str):
    """Tick labels of ``axis`` as counts: thousands separators, 万/K from 10,000 up; no offset."""
    from matplotlib.ticker import FuncFormatter

    i18n.check_language(language)
    axis.set_major_formatter(FuncFormatter(lambda v, _: i18n.compact_number(v, language)))
    return axis


def spread_labels(ax, labels, *, padding: float = 2.0):
    """Move text labels (annotations) apart vertically until no two texts overlap; returns the labels.

    Labels keep their x position. From the lowest up, a text that overlaps
    one placed below it moves up just clear of it; then each group of
    labels that pushed each other moves back down by half its rise, so the
    group stays centred on its points (a rule and its reverse, drawn at the
    same point, end up one above and one below it). The text boxes are
    measured once and moved arithmetically: one pass, no exchange of
    nudges. An annotation drawn with an offset keeps a leader line to its
    point when one was asked for.
    """
    labels = list(labels)
    if len(labels) < 2:
        return labels
    figure = ax.figure
    renderer = figure.canvas.get_renderer()
    to_points = 72.0 / figure.dpi
    boxes = [_text_box(label, renderer) for label in labels]
    for label, shift in zip(labels, _stacked_shifts(boxes, padding), strict=True):
        if shift:
            _nudge(label, shift * to_points)
    return labels


def _text_box(label, renderer):
    """The box of a label's text alone (an annotation's own box also spans its leader line)."""
    from matplotlib.text import Text

    return Text.get_window_extent(label, renderer)


def _stacked_shifts(boxes, padding: float) -> list[float]:
    """Vertical shifts (display units) that leave no two boxes overlapping, each group centred."""
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i].y0, boxes[i].x0))
    shifts = [0.0] * len(boxes)
    group = list(range(len(boxes)))

    def root(i: int) -> int:
        while group[i] != i:
            i = group[i]
        return i

    placed: list[int] = []
    for k in order:
        box, moved = boxes[k], True
        while moved:
            moved = False
            for i in placed:
                other, lifted = boxes[i], shifts[i]
                apart = other.x1 + padding <= box.x0 or box.x1 + padding <= other.x0
                low, high = box.y0 + shifts[k], box.y1 + shifts[k]
                if not apart and low < other.y1 + lifted + padding and other.y0 + lifted < high + padding:
                    shifts[k], moved = other.y1 + lifted + padding - box.y0, True
                    group[root(k)] = root(i)
        placed.append(k)
    rise: dict[int, float] = {}
    for i, shift in enumerate(shifts):
        rise[root(i)] = max(rise.get(root(i), 0.0), shift)
    return [shift - rise[root(i)] / 2 for i, shift in enumerate(shifts)]


def _nudge(label, points: float) -> None:
    """Move an annotation's text ``points`` up (offset-points annotations only)."""
    x, y = label.xyann
    label.xyann = (x, y + points)


def overlapping_labels(ax, labels, *, padding: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of texts among ``labels`` whose drawn text boxes overlap (for tests)."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [(label.get_text(), _text_box(label, renderer)) for label in labels if label.get_text()]
    found = []
    for n, (text_a, a) in enumerate(boxes):
        for text_b, b in boxes[n + 1 :]:
            if a.x0 < b.x1 + padding and b.x0 < a.x1 + padding and a.y0 < b.y1 + padding and b.y0 < a.y1 + padding:
                found.append((text_a, text_b))
    return found
