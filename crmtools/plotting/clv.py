"""Customer value and churn charts: the holdout check, the value distribution, value by group, churn
calibration and the next-purchase calendar.

Each function takes a result table of :mod:`crmtools.churn` (or :mod:`crmtools.clv`), draws on the given
Axes (a new figure when ``ax`` is None), returns it, and computes no statistics. An empty table draws the
one-line note of :func:`crmtools.plotting._empty.draw_empty_note`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..reporting import i18n
from ._common import axes_or_new as _axes
from ._common import count_axis, group_names, money_axis, words_for
from ._empty import draw_empty_note

__all__ = [
    "plot_churn_calibration",
    "plot_holdout",
    "plot_next_purchase",
    "plot_value_by",
    "plot_value_distribution",
]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "actual": "chart.actual",
    "predicted": "chart.predicted",
    "repeat": "chart.repeat_purchases",
    "frequency": "chart.calibration_frequency",
    "value": "chart.predicted_value",
    "customers": "chart.customers",
    "share": "chart.value_share",
    "predicted_churn": "chart.predicted_churn",
    "observed_churn": "chart.observed_churn",
    "perfect": "chart.perfect_calibration",
    "days": "chart.days_to_next_purchase",
}
_COLOURS = {"model": "#4c72b0", "p_alive": "#dd8452", "recency": "#55a868"}


def _require(table: pd.DataFrame, columns, source: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; pass the output of {source}.")


def plot_holdout(table: pd.DataFrame, *, max_bin: int = 7, language: str = "en", ax=None):
    """Mean repeat purchases in the holdout window by calibration frequency: actual against predicted.

    Parameters
    ----------
    table : pandas.DataFrame
        ``HoldoutCheck.table`` of :func:`crmtools.clv.holdout_check` (``frequency``, ``actual``, ``predicted``).
    max_bin : int, default=7
        The ``max_bin`` given to :func:`crmtools.clv.holdout_check`: its bin pools the customers with that many
        repeat purchases or more and is labelled "7+" (:func:`crmtools.reporting.i18n.bin_labels`); the
        table of the same check shows the same labels.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = words_for(_KEYS, language)
    if table is None or table.empty:
        return draw_empty_note(ax, "empty.chart", language)
    _require(table, ("frequency", "actual", "predicted"), "crmtools.clv.holdout_check")
    ax = _axes(ax, (8, 4))
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["actual"], width=0.4, color="#4c72b0", label=words["actual"])
    ax.bar(x + 0.2, table["predicted"], width=0.4, color="#dd8452", label=words["predicted"])
    ax.set_xticks(list(x), i18n.bin_labels(table["frequency"], max_bin))
    ax.set_xlabel(words["frequency"])
    ax.set_ylabel(words["repeat"])
    ax.legend(frameon=False)
    return ax


def plot_value_distribution(values: pd.DataFrame, *, language: str = "en", currency: str = "JPY", ax=None):
    """Histogram of the customers' predicted value (up to its 99th percentile, so the tail does not hide the
    body; the table of deciles shows the top).

    Parameters
    ----------
    values : pandas.DataFrame
        ``CustomerValues.table`` of :func:`crmtools.churn.customer_values` (column ``clv``).
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = words_for(_KEYS, language)
    clv = values["clv"].dropna() if "clv" in values.columns else pd.Series(dtype=float)
    if clv.empty:
        return draw_empty_note(ax, "empty.chart", language)
    ax = _axes(ax, (8, 4))
    shown = clv[clv <= clv.quantile(0.99)]
    ax.hist(shown, bins=40, color="#4c72b0")
    ax.set_xlabel(words["value"])
    ax.set_ylabel(words["customers"])
    money_axis(ax.xaxis, language, currency)
    count_axis(ax.yaxis, language)
    return ax


def plot_value_by(table: pd.DataFrame, *, by: str, labels=None, language: str = "en", ax=None):
    """Horizontal bars of each group's share of the predicted value (from :func:`crmtools.churn.value_by`).

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``by`` and ``value_share``.
    by : str
        The group column.
    labels : mapping, optional
        Group -> shown label (e.g. translated segment names); other groups of a column of data codes
        (``acquisition_channel``: :data:`crmtools.reporting.i18n.CODE_COLUMNS`) in the catalogue's words,
        the rest as written.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import PercentFormatter

    words = words_for(_KEYS, language)
    if table is None or table.empty:
        return draw_empty_note(ax, "empty.chart", language)
    _require(table, (by, "value_share"), "crmtools.churn.value_by")
    ax = _axes(ax, (8, max(2.0, 0.35 * len(table) + 1)))
    ordered = table.iloc[::-1]
    names = group_names(ordered[by], by, language, labels)
    ax.barh(names, ordered["value_share"], color="#4c72b0")
    ax.set_xlabel(words["share"])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return ax


def plot_churn_calibration(calibration: pd.DataFrame, *, language: str = "en", ax=None):
    """Predicted against observed churn per group of customers, one line per method, with the diagonal.

    Parameters
    ----------
    calibration : pandas.DataFrame
        ``ChurnRisk.calibration`` of :func:`crmtools.churn.churn_risk`.
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import PercentFormatter

    words = words_for(_KEYS, language)
    if calibration is None or calibration.empty:
        return draw_empty_note(ax, "empty.chart", language)
    _require(calibration, ("method", "mean_predicted", "observed_rate"), "crmtools.churn.churn_risk")
    ax = _axes(ax, (6, 5))
    ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", label=words["perfect"])
    for method, rows in calibration.groupby("method", sort=False):
        ax.plot(
            rows["mean_predicted"],
            rows["observed_rate"],
            marker="o",
            color=_COLOURS.get(method),
            label=i18n.text(f"churn_method.{method}", language),
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(words["predicted_churn"])
    ax.set_ylabel(words["observed_churn"])
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(frameon=False, loc="upper left")
    return ax


def plot_next_purchase(summary: pd.DataFrame, *, language: str = "en", ax=None):
    """Customers by when they are expected to buy next, stacked by what the date is based on.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`crmtools.churn.next_purchase_summary` (``window``, ``basis``, ``customers``).
    language : {"en", "ja"}, default="en"
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = words_for(_KEYS, language)
    if summary is None or summary.empty:
        return draw_empty_note(ax, "empty.chart", language)
    _require(summary, ("window", "basis", "customers"), "crmtools.churn.next_purchase_summary")
    wide = summary.pivot_table(index="window", columns="basis", values="customers", aggfunc="sum", sort=False)
    wide = wide.fillna(0)
    ax = _axes(ax, (8, 4))
    bottom = np.zeros(len(wide))
    names = [
        i18n.text("next_window.none", language) if w == "none" else i18n.text("next_window.days", language, window=w)
        for w in wide.index
    ]
    for basis in wide.columns:
        ax.bar(names, wide[basis], bottom=bottom, label=i18n.text(f"next_basis.{basis}", language))
        bottom += wide[basis].to_numpy()
    ax.set_xlabel(words["days"])
    ax.set_ylabel(words["customers"])
    count_axis(ax.yaxis, language)
    ax.legend(frameon=False)
    return ax
