"""RFM charts: segment bars, score heatmap and segment migration heatmap.

Each function takes a result table from :mod:`crmtools.rfm`, draws on the
given Axes (a new figure when ``ax`` is None) and returns it; none computes
statistics. Segments are shown by their labels in ``language`` from the
segment map (:func:`crmtools.reporting.i18n.segment_labels`).
"""

from __future__ import annotations

import pandas as pd

from ..reporting.i18n import segment_labels
from ._common import axes_or_new as _axes
from ._common import count_axis, money_annotations, money_axis, words_for
from ._empty import draw_empty_note

__all__ = ["plot_migration_heatmap", "plot_rfm_heatmap", "plot_segment_bars"]

#: Label -> key of the report catalogue (crmtools.reporting.i18n.TEXT).
_KEYS = {
    "customers": "customers",
    "share": "chart.share_of_customers",
    "revenue": "revenue",
    "revenue_share": "chart.share_of_revenue",
    "average_order_value": "average_order_value",
    "mean_recency_days": "chart.mean_recency_days",
    "segment": "segment",
    "r_score": "chart.r_score",
    "f_score": "chart.f_score",
    "m_score": "chart.m_score",
    "mean_monetary": "chart.mean_monetary",
    "from_segment": "from_segment",
    "to_segment": "to_segment",
    "share_of_from": "chart.share_of_from",
    "share_of_total": "chart.share_of_total",
    "migration_title": "segment_migration",
}


def _text(language: str) -> dict[str, str]:
    return words_for(_KEYS, language)


def _require(table: pd.DataFrame, columns: list[str], name: str, source: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{name} is missing column(s) {missing}; pass the output of {source}. "
            f"Columns received: {list(table.columns)}."
        )


def plot_segment_bars(
    summary: pd.DataFrame,
    *,
    value: str = "customers",
    segment_map=None,
    language: str = "en",
    currency: str = "JPY",
    ax=None,
):
    """Horizontal bars of one measure per segment (from :func:`crmtools.rfm.segment_summary`).

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`crmtools.rfm.segment_summary`; bars follow its row order.
    value : str, default="customers"
        Column to draw: ``customers``, ``share``, ``revenue``,
        ``revenue_share``, ``average_order_value`` or ``mean_recency_days``.
    segment_map : path, mapping or SegmentMap, optional
        The map the segments came from (their labels); default built-in.
    language : {"en", "ja"}, default="en"
        Language of the axis and segment labels.
    currency : str, default="JPY"
        Currency of ``revenue`` and ``average_order_value``: the axis reads '£1.5M' or '150万円'.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns
    from matplotlib.ticker import PercentFormatter

    words = _text(language)
    allowed = ["customers", "share", "revenue", "revenue_share", "average_order_value", "mean_recency_days"]
    if value not in allowed:
        raise ValueError(f"value must be one of {allowed}; got {value!r}.")
    _require(summary, ["segment", value], "summary", "crmtools.rfm.segment_summary")
    if summary.empty:
        return draw_empty_note(ax, "empty.segments", language)
    labels = segment_labels(segment_map, language)
    bars = pd.DataFrame({value: summary[value].to_numpy(), "_label": summary["segment"].map(labels).to_numpy()})
    ax = _axes(ax, (8, 4.5))
    sns.barplot(data=bars, x=value, y="_label", order=list(bars["_label"]), color="#4c72b0", ax=ax)
    ax.set_xlabel(words[value])
    ax.set_ylabel(words["segment"])
    if value in ("share", "revenue_share"):
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    elif value in ("revenue", "average_order_value"):
        money_axis(ax.xaxis, language, currency)
    elif value == "customers":
        count_axis(ax.xaxis, language)
    return ax


def plot_rfm_heatmap(
    grid: pd.DataFrame, *, value: str = "customers", language: str = "en", currency: str = "JPY", ax=None
):
    """Heatmap of customers (or revenue) by two RFM scores (from :func:`crmtools.rfm.rfm_grid`).

    Parameters
    ----------
    grid : pandas.DataFrame
        Output of :func:`crmtools.rfm.rfm_grid`: two score columns then
        ``customers``, ``share``, ``revenue``, ``mean_monetary``.
    value : {"customers", "share", "revenue", "mean_monetary"}, default="customers"
        Cell values.
    language : {"en", "ja"}, default="en"
        Language of labels.
    currency : str, default="JPY"
        Currency of ``revenue`` and ``mean_monetary``: cells and colour bar read '£1.2M' or '120万円'.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    words = _text(language)
    if value not in ("customers", "share", "revenue", "mean_monetary"):
        raise ValueError(f"value must be 'customers', 'share', 'revenue' or 'mean_monetary'; got {value!r}.")
    _require(grid, [value], "grid", "crmtools.rfm.rfm_grid")
    if grid.empty or ("customers" in grid.columns and grid["customers"].sum() == 0):
        return draw_empty_note(ax, "empty.segments", language)
    rows, columns = grid.columns[0], grid.columns[1]
    wide = grid.pivot(index=rows, columns=columns, values=value).sort_index(ascending=False)
    ax = _axes(ax, (6, 5))
    amounts = value in ("revenue", "mean_monetary")
    fmt = {"customers": ",.0f", "share": ".1%", "revenue": "", "mean_monetary": ""}[value]
    annot = money_annotations(wide, language, currency) if amounts else True
    sns.heatmap(wide, annot=annot, fmt=fmt, cmap="Blues", cbar_kws={"label": words[value]}, ax=ax)
    if amounts and ax.collections and ax.collections[0].colorbar is not None:
        money_axis(ax.collections[0].colorbar.ax.yaxis, language, currency)
    ax.set_ylabel(words.get(rows, rows))
    ax.set_xlabel(words.get(columns, columns))
    return ax


def plot_migration_heatmap(
    migration: pd.DataFrame, *, value: str = "share_of_from", segment_map=None, language: str = "en", ax=None
):
    """Heatmap of segment migration, last period in rows and this period in columns.

    Parameters
    ----------
    migration : pandas.DataFrame
        Output of :func:`crmtools.rfm.segment_migration`.
    value : {"share_of_from", "customers", "share_of_total"}, default="share_of_from"
        Cell values: each row sums to 1 with ``share_of_from``.
    segment_map : path, mapping or SegmentMap, optional
        The map the segments came from (order and labels); default built-in.
    language : {"en", "ja"}, default="en"
        Language of labels.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import seaborn as sns

    from ..rfm import migration_matrix

    words = _text(language)
    if migration.empty:
        return draw_empty_note(ax, "empty.migration", language)
    labels = segment_labels(segment_map, language)
    wide = migration_matrix(migration, values=value, segment_map=segment_map).rename(index=labels, columns=labels)
    ax = _axes(ax, (9, 7))
    fmt = ",.0f" if value == "customers" else ".0%"
    sns.heatmap(
        wide, annot=True, fmt=fmt, cmap="Blues", cbar_kws={"label": words[value]}, ax=ax, annot_kws={"fontsize": 8}
    )
    ax.set_ylabel(words["from_segment"])
    ax.set_xlabel(words["to_segment"])
    ax.set_title(words["migration_title"])
    return ax
