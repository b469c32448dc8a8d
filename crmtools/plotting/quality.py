"""Data-quality charts."""

from __future__ import annotations

import pandas as pd

from ._common import words_for

__all__ = ["plot_lines_by_month"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "sale": "chart.sale_lines",
    "return": "chart.return_lines",
    "guest": "chart.guest_lines",
    "month": "month",
    "lines": "chart.order_lines",
}


def plot_lines_by_month(table: pd.DataFrame, *, language: str = "en", ax=None):
    """Stacked bars of order lines per month by kind (from :func:`crmtools.quality.lines_by_month`).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`crmtools.quality.lines_by_month`.
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    words = words_for(_KEYS, language)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 3.5))
    wide = table.pivot_table(index="month", columns="kind", values="lines", aggfunc="sum", fill_value=0)
    bottom = None
    for kind in [k for k in ("sale", "return", "guest") if k in wide.columns]:
        ax.bar(wide.index, wide[kind], bottom=bottom, label=words[kind])
        bottom = wide[kind] if bottom is None else bottom + wide[kind]
    ax.set_xlabel(words["month"])
    ax.set_ylabel(words["lines"])
    ax.tick_params(axis="x", rotation=90)
    ax.legend()
    return ax
