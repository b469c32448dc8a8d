"""Target lists for campaigns, timed to each customer's own purchase cycle.

A target list holds customer ids, so it is for the CRM system, not for a
report: reports show only :func:`due_summary` counts.

Examples
--------
>>> import pandas as pd
>>> cycles = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "days_until_next": [-40, -3, 10, 90],
...                        "avg_interval_days": [30.0, 20.0, 45.0, 60.0]})
>>> due_summary(cycles)[["window", "customers"]].to_dict("list")
{'window': ['long overdue', 'overdue', 'due within 30 days', 'later'], 'customers': [1, 1, 1, 1]}
>>> next_purchase_targets(cycles, within_days=30)["customer_id"].tolist()
['b', 'c']
"""

from __future__ import annotations

import pandas as pd

from .checks import require_columns, require_range

__all__ = ["DUE_WINDOWS", "due_summary", "next_purchase_targets"]

#: Windows of ``days_until_next``: (name, lowest, highest) inclusive.
DUE_WINDOWS = (("long overdue", None, -31), ("overdue", -30, -1), ("due within 30 days", 0, 30), ("later", 31, None))

_CYCLES_HINT = "Pass the output of crmtools.repeat.purchase_cycles."


def _window(days: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=days.index, dtype="str")
    for name, low, high in DUE_WINDOWS:
        mask = pd.Series(True, index=days.index)
        if low is not None:
            mask &= days >= low
        if high is not None:
            mask &= days <= high
        out = out.mask(mask, name)
    return out


def due_summary(cycles: pd.DataFrame, *, days_col: str = "days_until_next") -> pd.DataFrame:
    """How many repeat customers are overdue, due soon or due later.

    Parameters
    ----------
    cycles : pandas.DataFrame
        :func:`crmtools.repeat.purchase_cycles` output.
    days_col : str, default="days_until_next"
        Column of whole days until the expected purchase (negative when overdue).

    Returns
    -------
    pandas.DataFrame
        One row per window of :data:`DUE_WINDOWS`, in order: ``window``,
        ``customers`` (int), ``share`` (of the customers in a window; NaN
        when there are none). Customers without an expected purchase
        (missing days) are in no window.
    """
    require_columns(cycles, [days_col], name="cycles", hint=_CYCLES_HINT)
    windows = _window(cycles[days_col])
    counts = windows.value_counts().reindex([w[0] for w in DUE_WINDOWS], fill_value=0).astype("int64")
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "window": counts.index.tolist(),
            "customers": counts.to_numpy(),
            "share": counts.to_numpy() / total if total else float("nan"),
        }
    )


def next_purchase_targets(
    cycles: pd.DataFrame,
    *,
    within_days: int = 30,
    overdue_days: int = 30,
    customer_col: str = "customer_id",
    days_col: str = "days_until_next",
) -> pd.DataFrame:
    """Customers expected to buy within ``within_days``, or overdue by at most ``overdue_days``.

    These are the customers a reminder mail reaches at the right moment;
    customers overdue for longer are better handled by a win-back campaign.

    Parameters
    ----------
    cycles : pandas.DataFrame
        :func:`crmtools.repeat.purchase_cycles` output.
    within_days : int, default=30
        Keep customers expected to buy within this many days from now (0 = today).
    overdue_days : int, default=30
        Keep customers overdue by at most this many days.
    customer_col, days_col : str
        Column names (those of :func:`crmtools.repeat.purchase_cycles` by default).

    Returns
    -------
    pandas.DataFrame
        The matching rows of ``cycles`` (every column), soonest first (ties
        by customer id), with a fresh index.
    """
    require_columns(cycles, [customer_col, days_col], name="cycles", hint=_CYCLES_HINT)
    require_range(within_days, name="within_days", low=0)
    require_range(overdue_days, name="overdue_days", low=0)
    days = cycles[days_col]
    chosen = cycles.loc[(days >= -overdue_days) & (days <= within_days)]
    return chosen.sort_values([days_col, customer_col], kind="stable").reset_index(drop=True)
