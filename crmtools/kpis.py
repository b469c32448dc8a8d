"""Period KPIs with comparisons to the previous period and the same period a year earlier.

Definitions for a period ``[start, end)`` (a month or quarter):

- **revenue**: net revenue of all lines, including guest orders (returns
  subtract), summed to the cent.
- **orders**: distinct orders with a purchased line (positive quantity),
  including guest orders.
- **active_customers**: distinct customers with a purchase.
- **new_customers**: active customers whose first purchase ever (over all
  history) falls in the period; **returning_customers** are the others.
- **average_order_value**: revenue / orders.
- **purchase_frequency**: orders of identified customers / active customers.
- **retention_rate**: share of the previous period's active customers who
  are active again in this period; **churn_rate** = 1 - retention_rate.

**Edges of the data.** The data starts at its first line (``data start``).
A comparison period (previous or year ago) that starts before the data's
first day is not covered whole: all its values are NaN (status
``"before_data"``), so "no data" is never shown as a fall to 0. The period
holding the data start is **left-censored** for the measures that need a
customer's history (``new_customers``, ``returning_customers``): customers
who bought before the data starts look new there, so those values are NaN
(status ``"left_censored"``); so is ``retention_rate`` (and churn) when the
period before is not covered whole. Each row says why a value is missing in
``value_status``, ``previous_status`` and ``year_ago_status`` (``"ok"``,
``"before_data"`` or ``"left_censored"``).
Changes: ``change_vs_previous = value - previous`` and
``pct_change_vs_previous = change / |previous|`` (NaN when previous is 0
or missing); likewise against ``year_ago``. For rates the absolute change
is in percentage points (0.05 = 5 points).

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3", "o4"],
...     "customer_id": ["a", "a", "b", None],
...     "order_datetime": pd.to_datetime(["2025-09-01", "2025-10-03", "2025-10-20", "2025-10-21"]),
...     "quantity": [1, 1, 2, 1],
...     "amount": [1000.0, 1200.0, 3000.0, 800.0],
... })
>>> k = period_kpis(tx, period="2025-10")
>>> k[["kpi", "value", "previous", "change_vs_previous", "previous_status"]].round(1)
                   kpi   value  previous  change_vs_previous previous_status
0              revenue  5000.0    1000.0              4000.0              ok
1               orders     3.0       1.0                 2.0              ok
2     active_customers     2.0       1.0                 1.0              ok
3        new_customers     1.0       NaN                 NaN   left_censored
4  returning_customers     1.0       NaN                 NaN   left_censored
5  average_order_value  1666.7    1000.0               666.7              ok
6   purchase_frequency     1.0       1.0                 0.0              ok
7       retention_rate     1.0       NaN                 NaN   left_censored
8           churn_rate     0.0       NaN                 NaN   left_censored

September is the data's first month: who in it was new is unknown.
"""

from __future__ import annotations

import math
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from ._deprecation import deprecated_arguments, legacy_end
from .checks import require_range
from .coverage import data_start
from .engine import collect, is_missing, lit_datetime, month_label_of, month_number, month_number_of, to_lazy
from .periods import as_period, period_of

__all__ = ["KPI_COLUMNS", "KPI_NAMES", "STATUS_CODES", "monthly_trend", "period_kpis"]

#: KPI names in output order (also the keys of the report's i18n table).
KPI_NAMES = [
    "revenue",
    "orders",
    "active_customers",
    "new_customers",
    "returning_customers",
    "average_order_value",
    "purchase_frequency",
    "retention_rate",
    "churn_rate",
]

KPI_COLUMNS = [
    "kpi",
    "period",
    "value",
    "previous",
    "year_ago",
    "change_vs_previous",
    "pct_change_vs_previous",
    "change_vs_year_ago",
    "pct_change_vs_year_ago",
    "value_status",
    "previous_status",
    "year_ago_status",
]

#: Codes of the ``*_status`` columns of :func:`period_kpis`.
STATUS_CODES = ("ok", "before_data", "left_censored")
#: KPIs that need the customer's history before the period (NaN where it is left-censored).
HISTORY_KPIS = ("new_customers", "returning_customers", "retention_rate", "churn_rate")

TREND_COLUMNS = ["month", "revenue", "orders", "active_customers", "average_order_value"]


def _tag(periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]], date_col: str) -> nw.Expr:
    expr = None
    for key, (start, end) in periods.items():
        inside = (nw.col(date_col) >= lit_datetime(start)) & (nw.col(date_col) < lit_datetime(end))
        expr = nw.when(inside).then(nw.lit(key)) if expr is None else expr.when(inside).then(nw.lit(key))
    return expr


def _pct(change: float, base: float) -> float:
    if base is None or math.isnan(base) or base == 0 or change is None or math.isnan(change):
        return float("nan")
    return change / abs(base)


@deprecated_arguments(positional=("period",))
def period_kpis(
    transactions: Any,
    *,
    period: Any,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Revenue, orders, customers, order value, frequency, retention and churn for a period.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (pandas, polars, DuckDB or Spark). Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"`` or ``"2025-Q3"`` (see
        :mod:`crmtools.periods`). Keyword-only (passing it by position is
        deprecated).
    customer_col, order_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per KPI in :data:`KPI_NAMES` order, columns: ``kpi``,
        ``period`` (label), ``value``, ``previous``, ``year_ago``,
        ``change_vs_previous``, ``pct_change_vs_previous``,
        ``change_vs_year_ago``, ``pct_change_vs_year_ago`` (floats),
        ``value_status``, ``previous_status``, ``year_ago_status`` (a code of
        :data:`STATUS_CODES`: why a value is NaN at the edge of the data). A
        period without lines inside the data has revenue and counts 0 and
        ratios NaN.

    Raises
    ------
    ValueError
        If amounts are missing in the compared periods, or the period is malformed.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2"], "customer_id": ["a", "a"],
    ...                    "order_datetime": pd.to_datetime(["2024-10-01", "2025-10-05"]),
    ...                    "quantity": 1, "amount": [800.0, 1000.0]})
    >>> row = period_kpis(tx, period="2025-10").set_index("kpi").loc["revenue"]
    >>> row["value"], row["year_ago"], row["pct_change_vs_year_ago"]
    (np.float64(1000.0), np.float64(800.0), np.float64(0.25))
    """
    p = as_period(period)
    current, previous, year_ago = p, p.previous(), p.year_ago()
    needed = {
        "current": current,
        "previous": previous,
        "prev2": previous.previous(),
        "year_ago": year_ago,
        "year_ago_prev": year_ago.previous(),
    }
    bounds = {k: (pd.Timestamp(v.start), pd.Timestamp(v.end)) for k, v in needed.items()}
    c, o, d, a, q = customer_col, order_col, date_col, amount_col, quantity_col
    lf = to_lazy(
        transactions,
        columns=[c, o, d, a, q],
        name="transactions",
        kinds={c: "id", o: "id", d: "datetime", a: "numeric", q: "numeric"},
        numbered=[c, o],  # counted, never shown
    )

    end = max(b[1] for b in bounds.values())
    lo = min(b[0] for b in bounds.values())
    tagged = lf.filter(nw.col(d) >= lit_datetime(lo), nw.col(d) < lit_datetime(end)).with_columns(_p=_tag(bounds, d))
    # Orders and revenue per period (guest orders included).
    per_order = (
        tagged.filter(~nw.col("_p").is_null())
        .group_by("_p", o)
        .agg(
            _amount=nw.col(a).sum(),
            _bought=(nw.col(q) > 0).cast(nw.Int64).max(),
            _customer=(~nw.col(c).is_null()).cast(nw.Int64).max(),
            _missing=is_missing(lf, a).cast(nw.Int64).sum(),
        )
    )
    per_period = collect(
        per_order.group_by("_p").agg(
            revenue=nw.col("_amount").sum().round(2),
            orders=nw.col("_bought").sum(),
            _customer_orders=(nw.col("_bought") * nw.col("_customer")).sum(),
            _missing=nw.col("_missing").sum(),
        )
    ).set_index("_p")
    missing = int(per_period["_missing"].sum()) if len(per_period) else 0
    if missing:
        raise ValueError(
            f"{missing} line{'s' if missing > 1 else ''} in {current.label} or its comparison periods "
            f"{'have' if missing > 1 else 'has'} no {amount_col!r}: amounts must be present for revenue. Drop or "
            f"fill those lines first (crmtools.data.load_dataset reports them)."
        )

    # Customers: first purchase over all history, and activity per period.
    buys = lf.filter(~nw.col(c).is_null(), nw.col(q) > 0, nw.col(d) < lit_datetime(end))
    flags = {
        f"_in_{k}": ((nw.col(d) >= lit_datetime(s)) & (nw.col(d) < lit_datetime(e))).cast(nw.Int64).max()
        for k, (s, e) in bounds.items()
    }
    per_customer = buys.group_by(c).agg(_first=nw.col(d).min(), **flags)
    sums = {}
    for k, (s, e) in bounds.items():
        active = nw.col(f"_in_{k}")
        sums[f"active_{k}"] = active.sum()
        new = ((nw.col("_first") >= lit_datetime(s)) & (nw.col("_first") < lit_datetime(e))).cast(nw.Int64)
        sums[f"new_{k}"] = (active * new).sum()
    for k, prev in (("current", "previous"), ("previous", "prev2"), ("year_ago", "year_ago_prev")):
        sums[f"retained_{k}"] = (nw.col(f"_in_{k}") * nw.col(f"_in_{prev}")).sum()
    customer_counts = collect(per_customer.select(**sums)).iloc[0]
    starts = data_start(transactions, date_col=d)
    data_day = None if pd.isna(starts) else starts.normalize()

    def status(key: str) -> str:
        """Whether the data covers period ``key``: a comparison period must lie whole inside it."""
        start_, end_ = bounds[key]
        if data_day is None or end_ <= starts or (key != "current" and start_ < data_day):
            return "before_data"
        return "ok"

    def values(key: str, prev_key: str) -> tuple[dict[str, float], dict[str, str]]:
        nan = float("nan")
        if status(key) == "before_data":
            return {name: nan for name in KPI_NAMES}, {name: "before_data" for name in KPI_NAMES}
        start_, _end = bounds[key]
        row = per_period.loc[key] if key in per_period.index else None
        revenue = float(row["revenue"]) if row is not None else 0.0
        orders = float(row["orders"]) if row is not None else 0.0
        customer_orders = float(row["_customer_orders"]) if row is not None else 0.0
        active = float(customer_counts[f"active_{key}"] or 0)
        new = float(customer_counts[f"new_{key}"] or 0)
        prev_active = float(customer_counts[f"active_{prev_key}"] or 0)
        prev_start, _prev_end = bounds[prev_key]
        retained = float(customer_counts[f"retained_{key}"] or 0)
        retention = retained / prev_active if prev_start >= data_day and prev_active > 0 else nan
        out = {
            "revenue": revenue,
            "orders": orders,
            "active_customers": active,
            "new_customers": new,
            "returning_customers": active - new,
            "average_order_value": revenue / orders if orders else nan,
            "purchase_frequency": customer_orders / active if active else nan,
            "retention_rate": retention,
            "churn_rate": 1.0 - retention,
        }
        codes = dict.fromkeys(KPI_NAMES, "ok")
        censored = {"new_customers", "returning_customers"} if start_ <= starts else set()
        if prev_start < data_day:  # the period before is not covered whole: nobody to retain is known
            censored |= {"retention_rate", "churn_rate"}
        for name in censored:
            out[name], codes[name] = nan, "left_censored"
        return out, codes

    (now, now_codes), (before, before_codes) = values("current", "previous"), values("previous", "prev2")
    last_year, last_year_codes = values("year_ago", "year_ago_prev")
    rows = []
    for name in KPI_NAMES:
        value, prev, ya = now[name], before[name], last_year[name]
        rows.append(
            {
                "kpi": name,
                "period": current.label,
                "value": value,
                "previous": prev,
                "year_ago": ya,
                "change_vs_previous": value - prev,
                "pct_change_vs_previous": _pct(value - prev, prev),
                "change_vs_year_ago": value - ya,
                "pct_change_vs_year_ago": _pct(value - ya, ya),
                "value_status": now_codes[name],
                "previous_status": before_codes[name],
                "year_ago_status": last_year_codes[name],
            }
        )
    out = pd.DataFrame(rows, columns=KPI_COLUMNS)
    return out.astype({"kpi": "str", "period": "str", **{k: "float64" for k in KPI_COLUMNS[2:9]}}).astype(
        {k: "str" for k in KPI_COLUMNS[9:]}
    )


def _empty_trend() -> pd.DataFrame:
    dtypes = {"month": "str", "revenue": "float64", "orders": "int64", "active_customers": "int64"}
    return pd.DataFrame({col: pd.Series(dtype=dtypes.get(col, "float64")) for col in TREND_COLUMNS})


def _trend_period(end: Any, _kwargs: dict):
    """The old ``monthly_trend(end=)`` (exclusive end, first instant of a month) as the month before it."""
    end_ts = legacy_end(end)
    if end_ts != end_ts.normalize() or end_ts.day != 1:
        raise ValueError(f"end must be the first instant of a month (exclusive end), e.g. '2025-11-01'; got {end_ts}.")
    return period_of(end_ts - pd.Timedelta(days=1), "month")


@deprecated_arguments(
    converted={
        "end": (
            "period",
            _trend_period,
            "pass period= (the last month shown, e.g. period='2025-10' instead of end='2025-11-01')",
        )
    }
)
def monthly_trend(
    transactions: Any,
    *,
    period: Any,
    months: int = 13,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Revenue, orders and active customers for each of the ``months`` months up to the end of ``period``.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    period : Period or str
        The last period shown, e.g. ``"2025-10"``; for a quarter, the trend
        ends with its last month.
    months : int, default=13
        Number of calendar months shown, ending with the last month of
        ``period`` (13 shows the same month last year).
    customer_col, order_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per month the data covers, oldest first: months before the
        month of the data's first line are left out (they are not zero, they
        are unknown), months without lines inside the data are included with
        zeros; columns: ``month`` (``"YYYY-MM"``), ``revenue``, ``orders``
        (int), ``active_customers`` (int), ``average_order_value`` (NaN
        without orders). Definitions as in :func:`period_kpis`.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["a", "b", "a"],
    ...                    "order_datetime": pd.to_datetime(["2025-08-03", "2025-08-09", "2025-10-01"]),
    ...                    "quantity": 1, "amount": [100.0, 300.0, 250.0]})
    >>> monthly_trend(tx, period="2025-10", months=3)
         month  revenue  orders  active_customers  average_order_value
    0  2025-08    400.0       2                 2                200.0
    1  2025-09      0.0       0                 0                  NaN
    2  2025-10    250.0       1                 1                250.0
    """
    end_ts = pd.Timestamp(as_period(period).end)
    require_range(months, name="months", low=1, integer=True)
    last = month_number_of(end_ts) - 1
    first = last - months + 1
    start_ts = pd.Timestamp(year=first // 12, month=first % 12 + 1, day=1)
    c, o, d, a, q = customer_col, order_col, date_col, amount_col, quantity_col
    kinds = {c: "id", o: "id", d: "datetime", a: "numeric", q: "numeric"}
    starts = data_start(transactions, date_col=d)
    if pd.isna(starts) or starts >= end_ts:  # the data starts after the last month shown
        return _empty_trend()
    first = max(first, month_number_of(starts))
    lf = to_lazy(
        transactions,
        columns=[c, o, d, a, q],
        name="transactions",
        kinds=kinds,
        where=[nw.col(d) >= lit_datetime(start_ts), nw.col(d) < lit_datetime(end_ts)],
        numbered=[c, o],  # counted, never shown
    )
    per_order = (
        lf.with_columns(_m=month_number(nw.col(d)))
        .group_by("_m", o)
        .agg(
            _amount=nw.col(a).sum(),
            _bought=(nw.col(q) > 0).cast(nw.Int64).max(),
            _customer=nw.when(nw.col(q) > 0).then(nw.col(c)).min(),
            _missing=is_missing(lf, a).cast(nw.Int64).sum(),
        )
    )
    totals = collect(
        per_order.group_by("_m").agg(
            revenue=nw.col("_amount").sum().round(2), orders=nw.col("_bought").sum(), _missing=nw.col("_missing").sum()
        )
    )
    missing = int(totals["_missing"].sum()) if len(totals) else 0
    if missing:
        raise ValueError(
            f"{missing} line{'s' if missing > 1 else ''} in the trend months {'have' if missing > 1 else 'has'} "
            f"no {amount_col!r}: amounts must be present for revenue. Drop or fill those lines first."
        )
    actives = collect(
        per_order.filter(~nw.col("_customer").is_null())
        .group_by("_m")
        .agg(active_customers=nw.col("_customer").n_unique())
    )
    grid = pd.DataFrame({"_m": range(first, last + 1)}).astype("int64")
    out = grid.merge(totals.astype({"_m": "int64"}), on="_m", how="left").merge(
        actives.astype({"_m": "int64"}), on="_m", how="left"
    )
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    out["orders"] = out["orders"].fillna(0).astype("int64")
    out["active_customers"] = out["active_customers"].fillna(0).astype("int64")
    out["average_order_value"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    out["month"] = out["_m"].map(month_label_of).astype("str")
    return out[TREND_COLUMNS]
