"""KPI charts: the monthly trend line.

Takes a result table from :mod:`crmtools.kpis`, draws on the given Axes (a
new figure when ``ax`` is None) and returns it.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["plot_trend"]

_TEXT = {
    "en": {"month": "Month", "revenue": "Revenue", "orders": "Orders", "active_customers": "Active customers",
           "average_order_value": "Average order value"},
    "ja": {"month": "月", "revenue": "売上", "orders": "受注件数", "active_customers": "購入顧客数",
           "average_order_value": "平均注文単価"},
}


def plot_trend(trend: pd.DataFrame, *, value: str = "revenue", language: str = "en", ax=None):
    """Line of one monthly measure (from :func:`crmtools.kpis.monthly_trend`), one marker per month.

    Parameters
    ----------
    trend : pandas.DataFrame
        Output of :func:`crmtools.kpis.monthly_trend`.
    value : {"revenue", "orders", "active_customers", "average_order_value"}, default="revenue"
        Measure to draw.
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter

    if language not in _TEXT:
        raise ValueError(f"language must be one of {sorted(_TEXT)}; got {language!r}.")
    words = _TEXT[language]
    if value not in ("revenue", "orders", "active_customers", "average_order_value"):
        raise ValueError(f"value must be 'revenue', 'orders', 'active_customers' or 'average_order_value'; "
                         f"got {value!r}.")
    missing = [c for c in ("month", value) if c not in trend.columns]
    if missing:
        raise ValueError(f"trend is missing column(s) {missing}; pass the output of crmtools.kpis.monthly_trend.")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(9, 3.5))
    sns.lineplot(data=trend, x="month", y=value, marker="o", color="#4c72b0", ax=ax)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel(words["month"])
    ax.set_ylabel(words[value])
    ax.tick_params(axis="x", rotation=45)
    return ax
