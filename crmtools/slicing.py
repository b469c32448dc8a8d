"""Which transactions, campaigns and experiments belong to a reporting period.

The one place that knows how each table is windowed (used by
:meth:`crmtools.data.Dataset.for_period` and :func:`crmtools.campaigns.campaign_roi`):

- **transactions**: the lines ordered in the period, ``start <= order_datetime < end``.
- **campaigns**: the campaigns whose window ``[start_date, end_date]``
  *overlaps* the period (a campaign running from 20 September to 5 October
  belongs to both September and October), with their contacts. A period's
  report shows every campaign that ran in it, with the figures of the whole
  campaign; so do not add campaign figures up over periods, since a campaign
  spanning two months would count twice.
- **experiments**: the experiments with an exposure in the period, with all
  their exposures up to the period's end, so a test running across months is
  read as a whole.

Examples
--------
>>> import pandas as pd
>>> campaigns = pd.DataFrame({"campaign_id": ["a", "b"], "start_date": pd.to_datetime(["2025-09-20", "2025-11-02"]),
...                           "end_date": pd.to_datetime(["2025-10-05", "2025-11-20"])})
>>> campaigns_active(campaigns, period="2025-10")["campaign_id"].tolist()
['a']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._deprecation import deprecated_arguments
from .periods import as_period

__all__ = ["campaigns_active", "contacts_of", "experiments_exposed", "transactions_in"]


def _bounds(period: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    p = as_period(period)
    if p.start is None or p.end is None:  # only through the deprecated start=/end= pair
        raise TypeError("a window needs both start= and end= (deprecated), or period=; received only one.")
    return pd.Timestamp(p.start), pd.Timestamp(p.end)


def transactions_in(transactions: pd.DataFrame, *, period: Any, date_col: str = "order_datetime") -> pd.DataFrame:
    """The order lines of the period: ``start <= order_datetime < end``.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions. Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"`` or ``"2025-Q3"``.
    date_col : str, default="order_datetime"
        Column of order times.

    Returns
    -------
    pandas.DataFrame
        The matching rows, in their order, index reset.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2", "o3"],
    ...                    "order_datetime": pd.to_datetime(["2025-09-30 23:59", "2025-10-01 00:00",
    ...                                                      "2025-11-01 00:00"])})
    >>> transactions_in(tx, period="2025-10")["order_id"].tolist()
    ['o2']
    """
    start, end = _bounds(period)
    times = transactions[date_col]
    return transactions.loc[(times >= start) & (times < end)].reset_index(drop=True)


@deprecated_arguments(window=("start", "end"))
def campaigns_active(
    campaigns: pd.DataFrame, *, period: Any, start_col: str = "start_date", end_col: str = "end_date"
) -> pd.DataFrame:
    """Campaigns whose window ``[start_date, end_date]`` overlaps the period.

    Parameters
    ----------
    campaigns : pandas.DataFrame
        Canonical campaigns. Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"``.
    start_col, end_col : str
        Columns of the campaign window (``end_date`` is its last day, included).

    Returns
    -------
    pandas.DataFrame
        The matching rows of ``campaigns``, in their order, index reset.
    """
    start, end = _bounds(period)
    mask = (campaigns[start_col] < end) & (campaigns[end_col] >= start)
    return campaigns.loc[mask].reset_index(drop=True)


@deprecated_arguments(window=("start", "end"))
def experiments_exposed(
    experiments: pd.DataFrame, *, period: Any, experiment_col: str = "experiment_id", exposed_col: str = "exposed_at"
) -> pd.DataFrame:
    """Rows of the experiments with an exposure in the period, up to the period's end.

    Parameters
    ----------
    experiments : pandas.DataFrame
        Canonical experiment exposures. Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"``.
    experiment_col, exposed_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        Exposure rows with ``exposed_at < end`` of every experiment that had
        at least one exposure in the period; index reset.

    Examples
    --------
    >>> ex = pd.DataFrame({"experiment_id": ["x", "x", "y"],
    ...                    "exposed_at": pd.to_datetime(["2025-09-28", "2025-10-03", "2025-08-01"])})
    >>> experiments_exposed(ex, period="2025-10").shape[0]
    2
    """
    start, end = _bounds(period)
    times = experiments[exposed_col]
    active = experiments.loc[(times >= start) & (times < end), experiment_col].unique()
    keep = experiments[experiment_col].isin(active) & (times < end)
    return experiments.loc[keep].reset_index(drop=True)


def contacts_of(contacts: pd.DataFrame, campaigns: pd.DataFrame, *, campaign_col: str = "campaign_id") -> pd.DataFrame:
    """The contact rows of the given campaigns only (index reset)."""
    keep = contacts[campaign_col].isin(campaigns[campaign_col])
    return contacts.loc[keep].reset_index(drop=True)
