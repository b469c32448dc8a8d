"""Which campaigns and experiments belong to a reporting period.

A monthly report shows the campaigns whose window overlaps the period and
the experiments with an exposure in the period (with all their exposures up
to the period's end, so a test running across months is read as a whole).

Examples
--------
>>> import pandas as pd
>>> campaigns = pd.DataFrame({"campaign_id": ["a", "b"], "start_date": pd.to_datetime(["2025-09-20", "2025-11-02"]),
...                           "end_date": pd.to_datetime(["2025-10-05", "2025-11-20"])})
>>> campaigns_active(campaigns, start=pd.Timestamp("2025-10-01"), end=pd.Timestamp("2025-11-01"))["campaign_id"].tolist()
['a']
"""

from __future__ import annotations

import pandas as pd

__all__ = ["campaigns_active", "contacts_of", "experiments_exposed"]


def campaigns_active(campaigns: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp,
                     start_col: str = "start_date", end_col: str = "end_date") -> pd.DataFrame:
    """Campaigns whose window ``[start_date, end_date]`` overlaps ``[start, end)``.

    Returns
    -------
    pandas.DataFrame
        The matching rows of ``campaigns``, in their order, index reset.
    """
    mask = (campaigns[start_col] < end) & (campaigns[end_col] >= start)
    return campaigns.loc[mask].reset_index(drop=True)


def experiments_exposed(experiments: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp,
                        experiment_col: str = "experiment_id", exposed_col: str = "exposed_at") -> pd.DataFrame:
    """Rows of the experiments with an exposure in ``[start, end)``, up to ``end``.

    Returns
    -------
    pandas.DataFrame
        Exposure rows with ``exposed_at < end`` of every experiment that had
        at least one exposure in the period; index reset.

    Examples
    --------
    >>> ex = pd.DataFrame({"experiment_id": ["x", "x", "y"],
    ...                    "exposed_at": pd.to_datetime(["2025-09-28", "2025-10-03", "2025-08-01"])})
    >>> experiments_exposed(ex, start=pd.Timestamp("2025-10-01"), end=pd.Timestamp("2025-11-01")).shape[0]
    2
    """
    times = experiments[exposed_col]
    active = experiments.loc[(times >= start) & (times < end), experiment_col].unique()
    keep = experiments[experiment_col].isin(active) & (times < end)
    return experiments.loc[keep].reset_index(drop=True)


def contacts_of(contacts: pd.DataFrame, campaigns: pd.DataFrame, *, campaign_col: str = "campaign_id") -> pd.DataFrame:
    """The contact rows of the given campaigns only (index reset)."""
    keep = contacts[campaign_col].isin(campaigns[campaign_col])
    return contacts.loc[keep].reset_index(drop=True)
