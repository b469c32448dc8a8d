"""Where the data starts: the edge before which nothing is known.

A data set is an export of a shop's history from some day on, not the
shop's whole history. Before its first line nothing is known (not zero), and
in the month of its first line every customer who had bought before looks
new: that month is **left-censored** as an acquisition cohort. The analyses
that need a customer's history (new customers, cohorts, F2) mark it, and
comparisons never reach before it.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({"order_datetime": pd.to_datetime(["2010-12-01 08:26", "2011-01-04 10:00"])})
>>> data_start(tx)
Timestamp('2010-12-01 08:26:00')
>>> first_month(tx)
'2010-12'
"""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from .engine import collect, lit_datetime, to_lazy

__all__ = ["data_start", "first_month"]


def data_start(transactions: Any, *, as_of: Any = None, date_col: str = "order_datetime") -> pd.Timestamp:
    """The instant of the data's first line (any line, guest orders included); NaT without lines.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (any engine). Not modified.
    as_of : timestamp, optional
        Only lines strictly before it count (the data a report up to ``as_of`` sees).
    date_col : str, default="order_datetime"

    Returns
    -------
    pandas.Timestamp
    """
    from .periods import as_point

    where = [] if as_of is None else [nw.col(date_col) < lit_datetime(as_point(as_of))]
    lf = to_lazy(transactions, columns=[date_col], name="transactions", kinds={date_col: "datetime"}, where=where)
    value = collect(lf.select(_start=nw.col(date_col).min()))["_start"].iloc[0]
    return pd.NaT if pd.isna(value) else pd.Timestamp(value)


def first_month(transactions: Any, *, as_of: Any = None, date_col: str = "order_datetime") -> str | None:
    """The data's first month as ``"YYYY-MM"`` (the left-censored cohort); None without lines.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    as_of : timestamp, optional
        Only lines strictly before it count.
    date_col : str, default="order_datetime"

    Returns
    -------
    str or None
    """
    start = data_start(transactions, as_of=as_of, date_col=date_col)
    return None if pd.isna(start) else f"{start:%Y-%m}"
