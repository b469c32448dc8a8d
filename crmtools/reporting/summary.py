"""The executive summary's building blocks: headline KPI tiles and the period's campaign ROI.

These compose analysis results for the summary page; they compute no new
statistics of their own.
"""

from __future__ import annotations

import math

import pandas as pd

from .. import campaigns as campaign_analysis
from ..periods import Period
from ..slicing import campaigns_active, contacts_of

__all__ = ["period_campaign_roi", "headline_kpis", "without_comparisons", "TILE_KPIS"]

#: The KPI tiles of the summary, in order, with their format kind.
TILE_KPIS = (("revenue", "money"), ("orders", "integer"), ("active_customers", "integer"),
             ("new_customers", "integer"), ("repeat_rate", "percent"), ("average_order_value", "money"),
             ("retention_rate", "percent"), ("campaign_roi", "percent"))


def period_campaign_roi(campaigns: pd.DataFrame, contacts: pd.DataFrame, transactions: pd.DataFrame,
                        period: Period, *, margin: float = 1.0) -> float | None:
    """Overall ROI of the campaigns active in ``period``; None when there is none or no cost.

    Returns
    -------
    float or None
        ``(attributed revenue x margin - cost) / cost`` over every campaign
        whose window overlaps the period.
    """
    active = campaigns_active(campaigns, period=period)
    if active.empty:
        return None
    roi = campaign_analysis.campaign_roi(active, contacts_of(contacts, active), transactions, margin=margin)
    overall = campaign_analysis.campaign_rollup(roi)
    value = overall.loc[overall["level"] == "overall", "roi"]
    if value.empty or pd.isna(value.iloc[0]) or math.isinf(value.iloc[0]):
        return None
    return float(value.iloc[0])


def headline_kpis(kpis: pd.DataFrame, *, campaign_roi: tuple | None = None) -> pd.DataFrame:
    """The summary's KPI tiles: value, previous period and same period last year.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`crmtools.kpis.period_kpis` output.
    campaign_roi : tuple of (float or None), optional
        Overall campaign ROI for (this period, previous, year ago).

    Returns
    -------
    pandas.DataFrame
        Columns ``kpi, value, previous, year_ago, kind`` in :data:`TILE_KPIS`
        order. ``repeat_rate`` is the share of the period's customers who had
        bought before (returning / active).

    Examples
    --------
    >>> k = pd.DataFrame({"kpi": ["active_customers", "returning_customers"], "value": [10.0, 4.0],
    ...                   "previous": [8.0, 2.0], "year_ago": [float("nan"), float("nan")]})
    >>> headline_kpis(k).set_index("kpi").loc["repeat_rate", ["value", "previous"]].tolist()
    [0.4, 0.25]
    """
    table = kpis.set_index("kpi")[["value", "previous", "year_ago"]].astype("float64")
    rows = []
    for name, kind in TILE_KPIS:
        if name == "repeat_rate":
            if {"active_customers", "returning_customers"} <= set(table.index):
                active = table.loc["active_customers"].replace(0, float("nan"))
                values = (table.loc["returning_customers"] / active).tolist()
            else:
                values = [float("nan")] * 3
        elif name == "campaign_roi":
            values = [float("nan") if v is None else float(v) for v in (campaign_roi or (None, None, None))]
        elif name in table.index:
            values = table.loc[name].tolist()
        else:
            values = [float("nan")] * 3
        rows.append({"kpi": name, "value": values[0], "previous": values[1], "year_ago": values[2], "kind": kind})
    return pd.DataFrame(rows, columns=["kpi", "value", "previous", "year_ago", "kind"])


def without_comparisons(kpis: pd.DataFrame) -> pd.DataFrame:
    """The KPI table with every comparison blanked (NaN): for a period the data covers only partly.

    A part of a month compared with a whole one reads as a collapse; the pages
    say "n/a" instead (and the page banner says why).

    Examples
    --------
    >>> k = pd.DataFrame({"kpi": ["revenue"], "value": [5.0], "previous": [9.0], "year_ago": [8.0],
    ...                   "change_vs_previous": [-4.0], "pct_change_vs_previous": [-0.44]})
    >>> without_comparisons(k).iloc[0].tolist()
    ['revenue', 5.0, nan, nan, nan, nan]
    """
    compared = [c for c in kpis.columns if c in ("previous", "year_ago") or c.startswith(("change_", "pct_change_"))]
    return kpis.assign(**{c: float("nan") for c in compared})
