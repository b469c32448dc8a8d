"""Decile charts: revenue share per decile and the Pareto curve.

Each function takes a result table from :mod:`crmtools.deciles`, draws on
the given Axes (a new figure when ``ax`` is None) and returns it.
"""

from __future__ import annotations

import pandas as pd

from ._common import axes_or_new as _axes
from ._common import words_for
from ._empty import draw_empty_note

__all__ = ["plot_deciles", "plot_pareto_curve"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "decile": "chart.decile",
    "share": "chart.share_of_revenue",
    "revenue_share": "revenue_share",
    "cumulative_share": "cumulative_share",
    "customer_share": "chart.cumulative_customer_share",
    "pareto": "chart.cumulative_revenue_share",
    "equal": "chart.equal_spending",
}


def _text(language: str) -> dict[str, str]:
    return words_for(_KEYS, language)


def plot_deciles(table: pd.DataFrame, *, language: str = "en", ax=None):
    """Bars of revenue share per decile with the cumulative share as a line (same 0-100% axis).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`crmtools.deciles.decile_table`.
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import PercentFormatter

    words = _text(language)
    missing = [c for c in ("decile", "revenue_share", "cumulative_share") if c not in table.columns]
    if missing:
        raise ValueError(f"table is missing column(s) {missing}; pass the output of crmtools.deciles.decile_table.")
    if table.empty:
        return draw_empty_note(ax, "empty.deciles", language)
    ax = _axes(ax, (8, 4))
    ax.bar(table["decile"], table["revenue_share"], color="#4c72b0", label=words["revenue_share"])
    ax.plot(table["decile"], table["cumulative_share"], color="#dd8452", marker="o", label=words["cumulative_share"])
    ax.set_xticks(list(table["decile"]))
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(words["decile"])
    ax.set_ylabel(words["share"])
    ax.legend(loc="center right")
    return ax


def plot_pareto_curve(curve: pd.DataFrame, *, language: str = "en", ax=None):
    """Cumulative revenue share against cumulative customer share, with the equal-spending diagonal.

    Parameters
    ----------
    curve : pandas.DataFrame
        Output of :func:`crmtools.deciles.pareto_curve`.
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    from matplotlib.ticker import PercentFormatter

    words = _text(language)
    missing = [c for c in ("customer_share", "revenue_share") if c not in curve.columns]
    if missing:
        raise ValueError(f"curve is missing column(s) {missing}; pass the output of crmtools.deciles.pareto_curve.")
    if curve.empty:
        return draw_empty_note(ax, "empty.deciles", language)
    ax = _axes(ax, (5, 5))
    ax.plot(curve["customer_share"], curve["revenue_share"], color="#4c72b0")
    ax.plot([0, 1], [0, 1], color="#8c8c8c", linestyle="--", label=words["equal"])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(words["customer_share"])
    ax.set_ylabel(words["pareto"])
    ax.legend(loc="lower right")
    return ax
