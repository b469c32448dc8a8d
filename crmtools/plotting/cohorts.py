"""Retention and repeat charts: cohort heatmap, F2 conversion bars, days between purchases.

Each function takes a result table from :mod:`crmtools.cohorts` or
:mod:`crmtools.repeat`, draws on the given Axes (a new figure when ``ax`` is
None) and returns it.
"""

from __future__ import annotations

import pandas as pd

from ..reporting import i18n
from ._common import axes_or_new as _axes
from ._common import group_names, money_annotations, money_axis, words_for
from ._empty import draw_empty_note

__all__ = ["plot_cohort_heatmap", "plot_f2_rates", "plot_interval_distribution"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "cohort": "cohort",
    "months_since": "months_since",
    "retention": "chart.active_share",
    "active": "active_customers",
    "revenue": "revenue",
    "revenue_per_customer": "revenue_per_customer",
    "cumulative_revenue_per_customer": "chart.cumulative_revenue_per_customer",
    "customers": "customers",
    "f2_rate": "chart.f2_rate",
    "channel": "chart.acquisition_channel",
    "category": "chart.first_category",
    "overall": "chart.all_new_customers",
    "days": "chart.days_between_purchases",
    "intervals": "chart.intervals",
}


def _text(language: str) -> dict[str, str]:
    return words_for(_KEYS, language)


def plot_cohort_heatmap(
    cohorts: pd.DataFrame, *, value: str = "retention", language: str = "en", currency: str = "JPY", ax=None
):
    """Cohort-by-month heatmap (継続率 by default) of :func:`crmtools.cohorts.cohort_table`.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`crmtools.cohorts.cohort_table`.
    value : str, default="retention"
        Any numeric column of the table (``retention``, ``active``,
        ``revenue``, ``revenue_per_customer``, ``cumulative_revenue_per_customer``).
    language : {"en", "ja"}, default="en"
        Language of labels.
    currency : str, default="JPY"
        Currency of the revenue values: cells and colour bar read '£1.2M' or '120万円'.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
        The cohort of the data's first month (``left_censored``) is starred
        and explained under the chart; an empty table draws a one-line note.
    """
    import seaborn as sns

    from ..cohorts import cohort_matrix

    words = _text(language)
    if cohorts.empty:
        return draw_empty_note(ax, "empty.cohorts", language)
    wide = cohort_matrix(cohorts, values=value)
    censored = (
        sorted(set(cohorts.loc[cohorts["left_censored"].astype(bool), "cohort"]))
        if "left_censored" in cohorts.columns
        else []
    )
    wide = wide.rename(index={c: f"{c} *" for c in censored})
    ax = _axes(ax, (11, 7))
    amounts = value in ("revenue", "revenue_per_customer", "cumulative_revenue_per_customer")
    fmt = ".0%" if value == "retention" else "" if amounts else ",.0f"
    small = wide.shape[1] <= 13 and wide.shape[0] <= 24
    sns.heatmap(
        wide,
        annot=money_annotations(wide, language, currency) if small and amounts else small,
        fmt=fmt,
        cmap="Blues",
        cbar_kws={"label": words.get(value, value)},
        ax=ax,
        annot_kws={"fontsize": 7},
    )
    if amounts and ax.collections and ax.collections[0].colorbar is not None:
        money_axis(ax.collections[0].colorbar.ax.yaxis, language, currency)
    ax.set_xlabel(words["months_since"])
    ax.set_ylabel(words["cohort"])
    if censored:
        note = i18n.text("edge.left_censored_note", language, month=i18n.month_label(censored[0], language))
        ax.annotate(
            note,
            xy=(0, 0),
            xycoords="axes fraction",
            xytext=(0, -42),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=8,
            color="#444444",
            wrap=True,
        )
    return ax


def plot_f2_rates(f2: pd.DataFrame, *, breakdown: str = "channel", language: str = "en", ax=None):
    """Bars of F2 conversion per group of one breakdown (from :func:`crmtools.repeat.f2_conversion`).

    Parameters
    ----------
    f2 : pandas.DataFrame
        Output of :func:`crmtools.repeat.f2_conversion`.
    breakdown : {"channel", "category", "overall"}, default="channel"
        Which rows to draw.
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns
    from matplotlib.ticker import PercentFormatter

    words = _text(language)
    if breakdown not in ("channel", "category", "overall"):
        raise ValueError(f"breakdown must be 'channel', 'category' or 'overall'; got {breakdown!r}.")
    rows = f2[f2["breakdown"] == breakdown]
    if rows.empty:  # no new customer yet, or one group only (e.g. a channel filled in as a constant)
        return draw_empty_note(
            ax, "empty.f2" if f2.empty or breakdown == "overall" else f"empty.f2_{breakdown}", language
        )
    ax = _axes(ax, (7, 3.5))
    # channels are data codes the catalogue words; categories are the data's own names
    rows = rows.assign(group=group_names(rows["group"], "channel" if breakdown == "channel" else None, language))
    sns.barplot(data=rows, x="f2_rate", y="group", order=list(rows["group"]), color="#55a868", ax=ax)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(words["f2_rate"])
    ax.set_ylabel(words[breakdown])
    return ax


def plot_interval_distribution(intervals: pd.DataFrame, *, max_days: int | None = 365, language: str = "en", ax=None):
    """Bars of how many gaps between purchase days have each length (from :func:`crmtools.repeat.interval_distribution`).

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`crmtools.repeat.interval_distribution`.
    max_days : int or None, default=365
        Draw gaps up to this many days (None draws all).
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    words = _text(language)
    rows = intervals if max_days is None else intervals[intervals["days"] <= max_days]
    if rows.empty:
        return draw_empty_note(ax, "empty.intervals", language)
    ax = _axes(ax, (8, 3.5))
    ax.bar(rows["days"], rows["intervals"], width=1.0, color="#4c72b0", linewidth=0)
    ax.set_xlabel(words["days"])
    ax.set_ylabel(words["intervals"])
    return ax
