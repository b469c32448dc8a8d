"""Helpers shared by the plot modules: the Axes to draw on, and the labels of a language.

The words of every chart are in the report catalogue,
:data:`crmtools.reporting.i18n.TEXT`; a plot module only names, for each
label it draws, the catalogue key to use.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..reporting import i18n

__all__ = ["axes_or_new", "count_axis", "money_annotations", "money_axis", "spread_labels", "words_for"]


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


def spread_labels(ax, labels, *, padding: float = 2.0, max_rounds: int = 50):
    """Move text labels (annotations) apart vertically until none overlaps another; returns the labels.

    Labels keep their x position and move up or down in steps of the
    overlap, so that each stays next to its point; an annotation drawn
    with an offset keeps a leader line to its point when one was asked for.
    """
    labels = list(labels)
    if len(labels) < 2:
        return labels
    figure = ax.figure
    renderer = figure.canvas.get_renderer()
    to_points = 72.0 / figure.dpi
    for _ in range(max_rounds):
        moved = False
        boxes = [label.get_window_extent(renderer) for label in labels]
        order = sorted(range(len(labels)), key=lambda i: boxes[i].y0)
        for a_pos, i in enumerate(order):
            for j in order[a_pos + 1 :]:
                a, b = boxes[i], boxes[j]
                if a.x1 + padding <= b.x0 or b.x1 + padding <= a.x0:
                    continue  # apart horizontally
                overlap = a.y1 + padding - b.y0
                if overlap <= 0:
                    continue
                _nudge(labels[j], overlap / 2 * to_points)
                _nudge(labels[i], -overlap / 2 * to_points)
                boxes[i] = labels[i].get_window_extent(renderer)
                boxes[j] = labels[j].get_window_extent(renderer)
                moved = True
        if not moved:
            break
    return labels


def _nudge(label, points: float) -> None:
    """Move an annotation's text ``points`` up (offset-points annotations only)."""
    x, y = label.xyann
    label.xyann = (x, y + points)


def overlapping_labels(ax, labels, *, padding: float = 0.0) -> list[tuple[str, str]]:
    """Pairs of texts among ``labels`` whose drawn boxes overlap (for tests)."""
    renderer = ax.figure.canvas.get_renderer()
    boxes = [(label.get_text(), label.get_window_extent(renderer)) for label in labels if label.get_text()]
    found = []
    for n, (text_a, a) in enumerate(boxes):
        for text_b, b in boxes[n + 1 :]:
            if a.x0 < b.x1 + padding and b.x0 < a.x1 + padding and a.y0 < b.y1 + padding and b.y0 < a.y1 + padding:
                found.append((text_a, text_b))
    return found
