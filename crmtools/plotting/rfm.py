"""RFM charts: segment bars, score heatmap and segment migration heatmap.

Each function takes a result table from :mod:`crmtools.rfm`, draws on the
given Axes (a new figure when ``ax`` is None) and returns it; none computes
statistics.
"""

from __future__ import annotations

import pandas as pd

from ._common import axes_or_new as _axes, words_for

__all__ = ["plot_segment_bars", "plot_rfm_heatmap", "plot_migration_heatmap"]

_TEXT = {
    "en": {"customers": "Customers", "share": "Share of customers", "revenue": "Revenue",
           "revenue_share": "Share of revenue", "average_order_value": "Average order value",
           "mean_recency_days": "Mean days since last order", "segment": "Segment",
           "r_score": "Recency score (R)", "f_score": "Frequency score (F)", "m_score": "Monetary score (M)",
           "mean_monetary": "Mean monetary value", "from_segment": "Last period", "to_segment": "This period",
           "share_of_from": "Share of last period's segment", "share_of_total": "Share of all customers",
           "migration_title": "Segment migration"},
    "ja": {"customers": "顧客数", "share": "顧客構成比", "revenue": "売上", "revenue_share": "売上構成比",
           "average_order_value": "平均注文単価", "mean_recency_days": "最終購入からの平均日数",
           "segment": "セグメント", "r_score": "R（最新購入日）スコア", "f_score": "F（購入頻度）スコア",
           "m_score": "M（購入金額）スコア", "mean_monetary": "平均購入金額", "from_segment": "前期",
           "to_segment": "今期", "share_of_from": "前期セグメント内の構成比", "share_of_total": "全顧客に対する構成比",
           "migration_title": "セグメント間の移動"},
}


def _text(language: str) -> dict[str, str]:
    return words_for(_TEXT, language)


def _require(table: pd.DataFrame, columns: list[str], name: str, source: str) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; pass the output of {source}. "
                         f"Columns received: {list(table.columns)}.")


def plot_segment_bars(summary: pd.DataFrame, *, value: str = "customers", language: str = "en", ax=None):
    """Horizontal bars of one measure per segment (from :func:`crmtools.rfm.segment_summary`).

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`crmtools.rfm.segment_summary`; bars follow its row order.
    value : str, default="customers"
        Column to draw: ``customers``, ``share``, ``revenue``,
        ``revenue_share``, ``average_order_value`` or ``mean_recency_days``.
    language : {"en", "ja"}, default="en"
        Language of the axis labels (segment labels come from the table).
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
    _require(summary, ["segment_label", value], "summary", "crmtools.rfm.segment_summary")
    ax = _axes(ax, (8, 4.5))
    sns.barplot(data=summary, x=value, y="segment_label", order=list(summary["segment_label"]), color="#4c72b0",
                ax=ax)
    ax.set_xlabel(words[value])
    ax.set_ylabel(words["segment"])
    if value in ("share", "revenue_share"):
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    return ax


def plot_rfm_heatmap(grid: pd.DataFrame, *, value: str = "customers", language: str = "en", ax=None):
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
    rows, columns = grid.columns[0], grid.columns[1]
    wide = grid.pivot(index=rows, columns=columns, values=value).sort_index(ascending=False)
    ax = _axes(ax, (6, 5))
    fmt = {"customers": ",.0f", "share": ".1%", "revenue": ",.0f", "mean_monetary": ",.0f"}[value]
    sns.heatmap(wide, annot=True, fmt=fmt, cmap="Blues", cbar_kws={"label": words[value]}, ax=ax)
    ax.set_ylabel(words.get(rows, rows))
    ax.set_xlabel(words.get(columns, columns))
    return ax


def plot_migration_heatmap(migration: pd.DataFrame, *, value: str = "share_of_from", segment_map=None,
                           language: str = "en", ax=None):
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
    wide = migration_matrix(migration, values=value, segment_map=segment_map, language=language)
    ax = _axes(ax, (9, 7))
    fmt = ",.0f" if value == "customers" else ".0%"
    sns.heatmap(wide, annot=True, fmt=fmt, cmap="Blues", cbar_kws={"label": words[value]}, ax=ax,
                annot_kws={"fontsize": 8})
    ax.set_ylabel(words["from_segment"])
    ax.set_xlabel(words["to_segment"])
    ax.set_title(words["migration_title"])
    return ax
