"""KPI charts: the monthly trend line.

Takes a result table from :mod:`crmtools.kpis`, draws on the given Axes (a
new figure when ``ax`` is None) and returns it.
"""

from __future__ import annotations

import pandas as pd

from ._common import count_axis, money_axis, words_for
from ._empty import draw_empty_note

__all__ = ["plot_trend"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT): the KPI names of the tables.
_KEYS = {
    "month": "month",
    "revenue": "revenue",
    "orders": "orders",
    "active_customers": "active_customers",
    "average_order_value": "average_order_value",
}


def plot_trend(trend: pd.DataFrame, *, value: str = "revenue", language: str = "en", currency: str = "JPY", ax=None):
    """Line of one monthly measure (from :func:`crmtools.kpis.monthly_trend`), one marker per month.

    Parameters
    ----------
    trend : pandas.DataFrame
        Output of :func:`crmtools.kpis.monthly_trend`.
    value : {"revenue", "orders", "active_customers", "average_order_value"}, default="revenue"
        Measure to draw.
    language : {"en", "ja"}, default="en"
        Language of labels.
    currency : str, default="JPY"
        Currency of money measures: their axis reads '3,000万円' or '¥30M'.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    words = words_for(_KEYS, language)
    if value not in ("revenue", "orders", "active_customers", "average_order_value"):
        raise ValueError(
            f"value must be 'revenue', 'orders', 'active_customers' or 'average_order_value'; got {value!r}."
        )
    missing = [c for c in ("month", value) if c not in trend.columns]
    if missing:
        raise ValueError(f"trend is missing column(s) {missing}; pass the output of crmtools.kpis.monthly_trend.")
    if trend.empty:  # the data starts after the months shown
        return draw_empty_note(ax, "empty.trend", language)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, 3.5))
    sns.lineplot(data=trend, x="month", y=value, marker="o", color="#4c72b0", ax=ax)
    if value in ("revenue", "average_order_value"):
        money_axis(ax.yaxis, language, currency)
    else:
        count_axis(ax.yaxis, language)
    ax.set_xlabel(words["month"])
    ax.set_ylabel(words[value])
    ax.tick_params(axis="x", rotation=45)
    return ax
