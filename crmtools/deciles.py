"""Decile analysis (デシル分析): customers ranked by revenue into ten equal-count groups.

Definitions, for a period ``[start, end)`` (``period="2025-10"``: the whole month):

- A customer is counted when they have a purchase (a line with a positive
  quantity) in the period; lines without a customer id are left out.
- **revenue** is the customer's net revenue in the period (returns
  subtract), summed to the cent.
- Customers are ranked by revenue, highest first; **ties are broken by
  customer id** (ascending), so the ranking never depends on row order.
  Customer ``k`` of ``n`` (0-based) goes to decile ``1 + floor(10 k / n)``:
  decile 1 is the top 10% of customers, group sizes differ by at most one
  (the larger groups come first), and with fewer than ten customers some
  deciles are empty and omitted.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "customer_id": [f"c{i:02d}" for i in range(20)],
...     "order_datetime": pd.Timestamp("2025-10-10"),
...     "quantity": 1,
...     "amount": [float(1000 * (i + 1)) for i in range(20)],
... })
>>> table = decile_table(tx, period="2025-10")
>>> table[["decile", "customers", "revenue", "revenue_share", "cumulative_share"]].head(3)
   decile  customers  revenue  revenue_share  cumulative_share
0       1          2  39000.0       0.185714          0.185714
1       2          2  35000.0       0.166667          0.352381
2       3          2  31000.0       0.147619          0.500000
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from ._deprecation import deprecated_arguments
from .checks import require_range
from .engine import collect, floor_div, is_missing, lit_datetime, to_lazy
from .periods import as_period

__all__ = ["Concentration", "concentration", "customer_revenue", "decile_table", "pareto_curve"]

DECILE_COLUMNS = [
    "decile",
    "customers",
    "revenue",
    "revenue_share",
    "cumulative_share",
    "avg_revenue",
    "min_revenue",
    "max_revenue",
]


def _bounds(period: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    p = as_period(period)
    if p.start is None or p.end is None:  # only through the deprecated start=/end= pair
        raise TypeError("decile analyses need both start= and end= (deprecated), or period=; received only one.")
    start_ts, end_ts = pd.Timestamp(p.start), pd.Timestamp(p.end)
    if end_ts <= start_ts:
        raise ValueError(f"end must be after start (the period is [start, end)); got start={start_ts}, end={end_ts}.")
    return start_ts, end_ts


def _customer_revenue(
    transactions: Any, period: Any, customer_col: str, date_col: str, amount_col: str, quantity_col: str
) -> tuple[nw.LazyFrame, str]:
    """Lazy frame (customer, revenue, _missing) of customers with a purchase in the period."""
    start_ts, end_ts = _bounds(period)
    c, d, a, q = customer_col, date_col, amount_col, quantity_col
    lf = to_lazy(
        transactions,
        columns=[c, d, a, q],
        name="transactions",
        kinds={c: "id", d: "datetime", a: "numeric", q: "numeric"},
        where=[~nw.col(c).is_null(), nw.col(d) >= lit_datetime(start_ts), nw.col(d) < lit_datetime(end_ts)],
    )
    per_customer = (
        lf.group_by(c)
        .agg(
            revenue=nw.col(a).sum().round(2).cast(nw.Float64),
            _purchases=(nw.col(q) > 0).cast(nw.Int64).sum(),
            _missing=is_missing(lf, a).cast(nw.Int64).sum(),
        )
        .filter(nw.col("_purchases") > 0)
        .drop("_purchases")
    )
    return per_customer, c


def _ranked(per_customer: nw.LazyFrame, customer_col: str) -> nw.LazyFrame:
    # 0-based position by revenue descending, ties by customer id ascending.
    return (
        per_customer.with_columns(_neg=-nw.col("revenue"))
        .with_row_index("_pos", order_by=["_neg", customer_col])
        .with_columns(_n=nw.len().cast(nw.Int64), _pos=nw.col("_pos").cast(nw.Int64))
    )


def _raise_on_missing(missing: int, amount_col: str) -> None:
    if missing:
        raise ValueError(
            f"{missing} line{'s' if missing > 1 else ''} in the period {'have' if missing > 1 else 'has'} no "
            f"{amount_col!r}: amounts must be present to rank customers by revenue. Drop or fill those lines "
            f"first (crmtools.data.load_dataset reports them)."
        )


@deprecated_arguments(window=("start", "end"))
def customer_revenue(
    transactions: Any,
    *,
    period: Any,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Net revenue per customer in ``period``, ranked, with each customer's decile.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (see :mod:`crmtools.engine`). Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"`` or ``"2025-Q3"``.
    customer_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per customer with a purchase in the period, highest revenue
        first, columns: ``customer_id`` (``customer_col``), ``revenue``,
        ``rank`` (1 = highest; ties by customer id), ``decile`` (1-10).

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["b", "a", "c"], "order_datetime": pd.Timestamp("2025-10-02"),
    ...                    "quantity": 1, "amount": [500.0, 500.0, 900.0]})
    >>> customer_revenue(tx, period="2025-10")
      customer_id  revenue  rank  decile
    0           c    900.0     1       1
    1           a    500.0     2       4
    2           b    500.0     3       7
    """
    per_customer, c = _customer_revenue(transactions, period, customer_col, date_col, amount_col, quantity_col)
    query = (
        _ranked(per_customer, c)
        .with_columns(rank=nw.col("_pos") + 1, decile=floor_div(nw.col("_pos") * 10, nw.col("_n")) + 1)
        .select(c, "revenue", "rank", "decile", "_missing")
    )
    out = collect(query, sort_by="rank")
    _raise_on_missing(int(out.pop("_missing").sum()), amount_col)
    return out.astype({"revenue": "float64", "rank": "int64", "decile": "int64"})


@deprecated_arguments(window=("start", "end"))
def decile_table(
    transactions: Any,
    *,
    period: Any,
    n_groups: int = 10,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Customers, revenue and revenue share per revenue decile.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (pandas, polars, DuckDB or Spark). Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"`` or ``"2025-Q3"``.
    n_groups : int, default=10
        Number of equal-count groups (10 for deciles, 5 for quintiles).
    customer_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty group, ``decile`` 1 (top spenders) first,
        columns: ``decile`` (int), ``customers`` (int), ``revenue``,
        ``revenue_share`` (of all customers' revenue; shares sum to 1),
        ``cumulative_share``, ``avg_revenue`` (revenue per customer),
        ``min_revenue``, ``max_revenue``. Shares are NaN when total revenue is
        0. No purchases in the period gives an empty frame with these columns.

    Raises
    ------
    ValueError
        If the period is malformed, ``n_groups < 1``, or amounts are missing in the period.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "order_datetime": pd.Timestamp("2025-10-02"),
    ...                    "quantity": 1, "amount": [700.0, 100.0, 100.0, 100.0]})
    >>> decile_table(tx, period="2025-10", n_groups=2)[
    ...     ["decile", "customers", "revenue", "revenue_share", "avg_revenue"]]
       decile  customers  revenue  revenue_share  avg_revenue
    0       1          2    800.0            0.8        400.0
    1       2          2    200.0            0.2        100.0
    """
    require_range(n_groups, name="n_groups", low=1, integer=True)
    per_customer, c = _customer_revenue(transactions, period, customer_col, date_col, amount_col, quantity_col)
    groups = (
        _ranked(per_customer, c)
        .with_columns(decile=floor_div(nw.col("_pos") * n_groups, nw.col("_n")) + 1)
        .group_by("decile")
        .agg(
            customers=nw.len(),
            revenue=nw.col("revenue").sum().round(2),
            min_revenue=nw.col("revenue").min(),
            max_revenue=nw.col("revenue").max(),
            _missing=nw.col("_missing").sum(),
        )
    )
    query = (
        groups.with_columns(avg_revenue=nw.col("revenue") / nw.col("customers"))
        .sort("decile")
        .select(*[k for k in DECILE_COLUMNS if not k.endswith("_share")], "_missing")
    )
    out = collect(query)
    _raise_on_missing(int(out.pop("_missing").sum()), amount_col)
    # Shares of the n_groups rows in pandas: polars divides a column by an aggregate through its reciprocal,
    # which can differ from true division in the last bit, and every engine must give identical numbers.
    revenue = out["revenue"].astype("float64")
    total = round(float(revenue.sum()), 2)
    out["revenue_share"] = revenue / total if total else float("nan")
    out["cumulative_share"] = revenue.cumsum() / total if total else float("nan")
    out = out[DECILE_COLUMNS]
    return out.astype({"decile": "int64", "customers": "int64", **{k: "float64" for k in DECILE_COLUMNS[2:]}})


@dataclass(frozen=True)
class Concentration:
    """How concentrated revenue is among customers.

    Attributes
    ----------
    customers : int
        Customers with a purchase in the period.
    revenue : float
        Their net revenue.
    top10_share : float
        Revenue share of decile 1 (the top ``ceil(n / 10)`` customers).
    top20_share : float
        Revenue share of deciles 1-2 (the top ``ceil(n / 5)`` customers).
    gini : float
        Gini coefficient of revenue per customer (0 = everyone spends the
        same, near 1 = one customer has everything). NaN with no customers or
        zero total revenue; may leave [0, 1] if some net revenues are negative.
    """

    customers: int
    revenue: float
    top10_share: float
    top20_share: float
    gini: float


@deprecated_arguments(window=("start", "end"))
def concentration(
    transactions: Any,
    *,
    period: Any,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> Concentration:
    """Top-10% and top-20% revenue shares and the Gini coefficient for ``period``.

    The Gini coefficient is ``2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n``
    over revenues ``x_i`` sorted ascending (``i`` = 1..n).

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"`` or ``"2025-Q3"``.
    customer_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    Concentration

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": list("abcd"), "order_datetime": pd.Timestamp("2025-10-02"),
    ...                    "quantity": 1, "amount": [100.0, 100.0, 100.0, 700.0]})
    >>> concentration(tx, period="2025-10")
    Concentration(customers=4, revenue=1000.0, top10_share=0.7, top20_share=0.7, gini=0.45)
    """
    per_customer, c = _customer_revenue(transactions, period, customer_col, date_col, amount_col, quantity_col)
    pos, n, x = nw.col("_pos"), nw.col("_n"), nw.col("revenue")
    query = _ranked(per_customer, c).select(
        customers=nw.len(),
        revenue=x.sum().round(2),
        _top10=nw.when(pos * 10 < n).then(x).otherwise(0.0).sum(),
        _top20=nw.when(pos * 5 < n).then(x).otherwise(0.0).sum(),
        _weighted=((n - pos).cast(nw.Float64) * x).sum(),
        _missing=nw.col("_missing").sum(),
    )
    row = collect(query).iloc[0]
    _raise_on_missing(int(row["_missing"] or 0), amount_col)
    customers = int(row["customers"])
    revenue = float(row["revenue"]) if customers else 0.0
    if customers == 0 or revenue == 0:
        nan = float("nan")
        return Concentration(customers, revenue, nan, nan, nan)
    gini = (2.0 * float(row["_weighted"]) - (customers + 1) * revenue) / (customers * revenue)
    return Concentration(
        customers, revenue, round(float(row["_top10"]), 2) / revenue, round(float(row["_top20"]), 2) / revenue, gini
    )


@deprecated_arguments(window=("start", "end"))
def pareto_curve(
    transactions: Any,
    *,
    period: Any,
    points: int = 100,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Cumulative revenue share against cumulative customer share, top spenders first.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"`` or ``"2025-Q3"``.
    points : int, default=100
        Number of points after the origin (the customer axis is cut into this
        many equal-count steps; fewer when there are fewer customers).
    customer_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        Columns ``customers`` (cumulative count), ``customer_share``,
        ``revenue`` (cumulative), ``revenue_share`` (cumulative), starting
        with the origin ``(0, 0)`` and ending at ``(1, 1)``. No purchases in
        the period gives an empty frame.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": list("abcd"), "order_datetime": pd.Timestamp("2025-10-02"),
    ...                    "quantity": 1, "amount": [100.0, 100.0, 100.0, 700.0]})
    >>> pareto_curve(tx, period="2025-10", points=4)
       customers  customer_share  revenue  revenue_share
    0          0            0.00      0.0            0.0
    1          1            0.25    700.0            0.7
    2          2            0.50    800.0            0.8
    3          3            0.75    900.0            0.9
    4          4            1.00   1000.0            1.0
    """
    require_range(points, name="points", low=1, integer=True)
    per_customer, c = _customer_revenue(transactions, period, customer_col, date_col, amount_col, quantity_col)
    pos, n = nw.col("_pos"), nw.col("_n")
    steps = (
        _ranked(per_customer, c)
        .with_columns(_step=floor_div((pos + 1) * points + n - 1, n))
        .group_by("_step")
        .agg(
            customers=nw.col("_pos").max() + 1,
            _revenue=nw.col("revenue").sum(),
            _n=nw.col("_n").max(),
            _missing=nw.col("_missing").sum(),
        )
    )
    query = (
        steps.with_columns(
            revenue=nw.col("_revenue").cum_sum().over(order_by="_step").round(2),
            customer_share=nw.col("customers") / nw.col("_n"),
        )
        .sort("_step")
        .select("customers", "customer_share", "revenue", "_missing")
    )
    out = collect(query)
    _raise_on_missing(int(out.pop("_missing").sum()), amount_col)
    columns = ["customers", "customer_share", "revenue", "revenue_share"]
    if out.empty:
        return pd.DataFrame({k: pd.Series(dtype="int64" if k == "customers" else "float64") for k in columns})
    total = float(out["revenue"].iloc[-1])
    origin = pd.DataFrame({"customers": [0], "customer_share": [0.0], "revenue": [0.0]})
    out = pd.concat(
        [origin, out.astype({"customers": "int64", "customer_share": "float64", "revenue": "float64"})],
        ignore_index=True,
    )
    out["revenue_share"] = out["revenue"] / total if total else float("nan")
    return out.astype(
        {"customers": "int64", "customer_share": "float64", "revenue": "float64", "revenue_share": "float64"}
    )[columns]
