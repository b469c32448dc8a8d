"""Repeat purchase: F2 conversion, days between purchases and each customer's purchase cycle.

Definitions, as of an explicit ``as_of`` instant (exclusive); only lines
with a customer id and a positive quantity (purchases) before ``as_of`` count:

- A customer's **first order** is their earliest purchase order (ties in
  time: the smallest order id). Its **channel** is the acquisition channel,
  unless a customers table with ``acquisition_channel`` is given, which then
  wins. Its **category** is the category with the largest amount in the first
  order (ties: alphabetical first).
- **F2 conversion** (F2転換率): share of new customers who place a second,
  distinct order within ``within_days`` calendar days of the first
  (``date(second) - date(first) <= within_days``; same-day orders count).
  Only customers whose whole window is observed are counted: their first
  purchase date plus ``within_days`` is before the date of ``as_of``.
- **Days between purchases** are gaps between consecutive *purchase days*
  of a customer (several orders on one day are one purchase day), so every
  gap is at least one day.
- A customer's **average purchase interval** is ``(last - first purchase
  day) / (purchase days - 1)``; the **expected next purchase** is the last
  purchase day plus that interval, rounded to whole days.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3", "o4"],
...     "customer_id": ["a", "a", "b", "c"],
...     "order_datetime": pd.to_datetime(["2025-01-05", "2025-02-01", "2025-01-10", "2025-01-20"]),
...     "quantity": [1, 1, 1, 1],
...     "amount": [1000.0, 800.0, 500.0, 700.0],
...     "channel": ["web", "web", "app", "web"],
... })
>>> f2_conversion(tx, as_of="2025-06-01", within_days=60)
  breakdown group  new_customers  repeaters   f2_rate
0   overall   All              3          1  0.333333
1   channel   app              1          0  0.000000
2   channel   web              2          1  0.500000
"""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from ._deprecation import deprecated_arguments, legacy_start
from .checks import require_range
from .coverage import data_start, first_month
from .engine import (
    collect,
    day_number,
    day_number_of,
    derived,
    id_values,
    lit_datetime,
    lookup,
    materialize,
    numbered_ids,
    plain_ids,
    sorted_codes,
    sorted_unique,
    to_lazy,
)
from .periods import as_period, as_point

__all__ = ["f2_cohorts", "f2_conversion", "first_purchases", "interval_distribution", "purchase_cycles"]

_UNKNOWN = "(unknown)"


def _check_days(value: Any, name: str) -> int:
    return int(require_range(value, name=name, low=1, integer=True))


def _align(other: Any, like: nw.LazyFrame, *, columns: list[str], name: str) -> nw.LazyFrame:
    """``other`` as a lazy frame in the same engine as ``like`` (so the two can be joined)."""
    frame = to_lazy(other, columns=columns, name=name)
    if frame.implementation == like.implementation:
        return frame
    eager = other if isinstance(other, pd.DataFrame) else collect(frame)
    if like.implementation.name == "POLARS":
        return to_lazy(eager[columns], engine="polars")
    if like.implementation.name == "PYSPARK":
        return nw.from_native(eager[columns]).lazy(backend="pyspark", session=like.to_native().sparkSession)
    return nw.from_native(eager[columns]).lazy(backend=like.implementation)


def _first_purchases_lazy(
    transactions: Any,
    *,
    as_of: pd.Timestamp,
    customers: Any,
    customer_col: str,
    order_col: str,
    date_col: str,
    amount_col: str,
    quantity_col: str,
    channel_col: str,
    category_col: str | None,
    acquisition_channel_col: str,
) -> tuple[nw.LazyFrame, bool, bool]:
    c, o, d, a, q = customer_col, order_col, date_col, amount_col, quantity_col
    fast = _numpy_first_purchases(
        transactions,
        as_of=as_of,
        customers=customers,
        columns=(c, o, d, a, q),
        channel_col=channel_col,
        category_col=category_col,
        acquisition_channel_col=acquisition_channel_col,
    )
    if fast is not None:
        frame, has_channel, has_category, _ = fast
        return to_lazy(frame, name="transactions"), has_channel, has_category
    probe = to_lazy(transactions, name="transactions")
    names = probe.collect_schema().names()
    has_category = category_col is not None and category_col in names
    has_channel = channel_col in names
    columns = [c, o, d, a, q] + ([channel_col] if has_channel else []) + ([category_col] if has_category else [])
    buys = to_lazy(
        transactions,
        columns=columns,
        name="transactions",
        kinds={c: "id", o: "id", d: "datetime", a: "numeric", q: "numeric"},
        where=[~nw.col(c).is_null(), nw.col(q) > 0, nw.col(d) < lit_datetime(as_of)],
    )
    order_aggs = {"_t": nw.col(d).min()}
    if has_channel:
        order_aggs["_channel"] = nw.col(channel_col).min()
    orders = (
        buys.group_by(c, o)
        .agg(**order_aggs)
        .with_columns(_first_t=nw.col("_t").min().over(c))
        .with_columns(_first_order=nw.when(nw.col("_t") == nw.col("_first_t")).then(nw.col(o)).min().over(c))
    )
    is_first = nw.col(o) == nw.col("_first_order")
    per_customer_aggs = {
        "first_purchase": nw.col("_first_t").min(),
        "first_order": nw.col("_first_order").min(),
        "second_purchase": nw.when(~is_first).then(nw.col("_t")).min(),
        "orders": nw.len(),
    }
    if has_channel:
        per_customer_aggs["_order_channel"] = nw.when(is_first).then(nw.col("_channel")).min()
    per_customer = (
        orders.group_by(c)
        .agg(**per_customer_aggs)
        .with_columns(days_to_second=day_number(nw.col("second_purchase")) - day_number(nw.col("first_purchase")))
    )
    if has_category:
        first_lines = buys.join(per_customer.select(c, nw.col("first_order").alias(o)), on=[c, o], how="inner")
        by_category = first_lines.group_by(c, category_col).agg(_amount=nw.col(a).sum())
        top = (
            by_category.with_columns(_best=nw.col("_amount").max().over(c))
            .filter(nw.col("_amount") == nw.col("_best"))
            .group_by(c)
            .agg(first_category=nw.col(category_col).min())
        )
        per_customer = per_customer.join(top, on=c, how="left")
    else:
        per_customer = per_customer.with_columns(first_category=nw.lit(None, nw.String))
    channel = nw.col("_order_channel") if has_channel else nw.lit(None, nw.String)
    if customers is not None:
        acquired = _align(customers, per_customer, columns=[c, acquisition_channel_col], name="customers")
        if acquired.collect_schema()[c] == nw.Unknown:  # ids of no type (an empty or all-missing object column)
            acquired = acquired.with_columns(nw.col(c).cast(per_customer.collect_schema()[c]))  # match nothing
        acquired = acquired.select(c, nw.col(acquisition_channel_col).cast(nw.String).alias("_acquired"))
        per_customer = per_customer.join(acquired, on=c, how="left")
        channel = nw.coalesce(nw.col("_acquired"), channel) if has_channel else nw.col("_acquired")
    per_customer = per_customer.with_columns(acquisition_channel=channel.cast(nw.String))
    return (
        per_customer.select(
            c,
            "first_purchase",
            "first_order",
            "acquisition_channel",
            "first_category",
            "second_purchase",
            "days_to_second",
            "orders",
        ),
        has_channel or customers is not None,
        has_category,
    )


# --- first purchases of a plain pandas frame, in numpy -------------------------------------------------------------
#
# The engine path above (polars over Arrow for pandas input) takes ~14 s of CPU for 3.3M lines: window functions and
# joins on text ids. For a pandas frame whose columns numpy reads as the engine would, the same table comes from one
# sort of integer codes (ids factorised in sorted order, so that "smallest id" means the same) and segment reductions.
# Anything else (other engines, categorical or mixed columns, missing order ids, duplicated customers) takes the
# engine path; tests check the two agree.

_NO_CODE = np.iinfo(np.int64).max


def _text_like(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.StringDtype):
        return True
    return values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _plain_number(values: pd.Series) -> bool:
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        return dtype.kind in "iu" or dtype == np.float64
    return isinstance(dtype, (pd.Int64Dtype, pd.Float64Dtype))


def _numbers(values: pd.Series, rows: np.ndarray | None = None) -> np.ndarray:
    out = values.to_numpy(dtype="float64", na_value=np.nan)
    return out if rows is None else out[rows]


def _sorted_codes(values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Codes of ``values`` at ``rows`` whose order is the values' order (missing: -1), and the values coded.

    The whole column is numbered (once per column for text from files, see
    :func:`crmtools.engine.sorted_codes`), so the codes need not be dense.
    """
    codes, uniques = sorted_codes(values)
    return codes[rows], uniques


def _plain_first_purchase_inputs(transactions, customers, columns, channel_col, category_col, acquisition_channel_col):
    """The columns the numpy path reads, or None when the engine path must be taken."""
    if not isinstance(transactions, pd.DataFrame) or not transactions.columns.is_unique:
        return None
    c, o, d, a, q = columns
    if len(set(columns)) < len(columns) or not all(name in transactions.columns for name in columns):
        return None
    when = transactions[d]
    if not (isinstance(when.dtype, np.dtype) and when.dtype.kind == "M"):
        return None
    if not (plain_ids(transactions[c]) and plain_ids(transactions[o])):
        return None
    if not (_plain_number(transactions[a]) and _plain_number(transactions[q])):
        return None
    text = [name for name in (channel_col, category_col) if name is not None and name in transactions.columns]
    if not all(_text_like(transactions[name]) for name in text):
        return None
    if customers is not None:
        if not isinstance(customers, pd.DataFrame) or not customers.columns.is_unique:
            return None
        if c not in customers.columns or acquisition_channel_col not in customers.columns:
            return None
        ids = customers[c]
        same_kind = _text_like(ids) == _text_like(transactions[c]) and plain_ids(ids)
        if not same_kind or not _text_like(customers[acquisition_channel_col]) or ids.dropna().duplicated().any():
            return None
    return text


def _numpy_first_purchases(
    transactions, *, as_of, customers, columns, channel_col, category_col, acquisition_channel_col
) -> tuple[pd.DataFrame, bool, bool, tuple[np.ndarray, np.ndarray]] | None:
    """:func:`_first_purchases_lazy`'s table for a plain pandas frame, in numpy; None for any other input.

    Also each row's customer and first order as numbers of the whole columns (:func:`crmtools.engine.sorted_codes`:
    positions in their sorted distinct values), which callers holding those numbers use instead of looking the ids
    up again.
    """
    text = _plain_first_purchase_inputs(
        transactions, customers, columns, channel_col, category_col, acquisition_channel_col
    )
    if text is None:
        return None
    has_channel, has_category = channel_col in text, category_col in text
    found = _first_orders_remembered(
        transactions,
        as_of,
        columns,
        channel_col if has_channel else None,
        category_col if has_category else None,
    )
    if found is None:
        return None
    out, numbers = found
    out = out.copy(deep=False)  # the remembered table stays as it was found
    if customers is not None:
        c = columns[0]
        known = customers[c].notna().to_numpy()  # (ids distinct: _plain_first_purchase_inputs checked)
        acquired = pd.Series(customers[acquisition_channel_col].array[known], index=customers[c].array[known])
        acquired = lookup(out[c], acquired).astype("str")
        out["acquisition_channel"] = _coalesce(acquired, out["acquisition_channel"])
    return out, has_channel or customers is not None, has_category, numbers


def _first_orders_remembered(transactions, as_of, columns, channel_col, category_col):
    """:func:`_first_orders_numpy`, remembered for the same transactions frame (:func:`crmtools.engine.derived`).

    A report page asks for the first purchases at one instant twice (F2 conversion with the first orders'
    categories, then the F2 cohorts without): the second call reuses the first's table. A table found with
    the categories serves a call without them (its ``first_category`` left missing, as computed without).
    """
    kept = derived(transactions, "repeat.first_orders", lambda _: {})
    key = (as_of, tuple(columns), channel_col)
    hit = kept.get((*key, category_col))
    if hit is None and category_col is None:
        hit = next((found for k, found in kept.items() if k[:3] == key), None)
        if hit is not None:
            frame, numbers = hit
            hit = frame.assign(first_category=pd.Series(pd.NA, index=frame.index, dtype="str")), numbers
    if hit is not None:
        return hit
    found = _first_orders_numpy(transactions, as_of, columns, channel_col, category_col)
    if found is not None:
        kept[(*key, category_col)] = found
        while len(kept) > _KEPT_FIRST_ORDERS:  # the oldest first
            kept.pop(next(iter(kept)))
    return found


_KEPT_FIRST_ORDERS = 4


def _first_orders_numpy(
    transactions, as_of, columns, channel_col, category_col
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]] | None:
    """Each customer's first purchase before ``as_of`` from the order lines alone (``acquisition_channel``: the
    first order's channel; ``first_category``: missing without ``category_col``), and each row's customer and
    first order as numbers; None when the numpy path does not apply."""
    c, o, d, a, q = columns
    stamps = transactions[d].to_numpy()
    keep = transactions[c].notna().to_numpy() & (_numbers(transactions[q]) > 0) & ~np.isnat(stamps)
    rows = np.flatnonzero(keep & (stamps < as_of.to_datetime64()))
    if rows.size == 0 or transactions[o].isna().to_numpy(dtype=bool)[rows].any():
        return None  # nothing to do fast; missing order ids are a group of their own in the engine path
    customer, customer_ids = _sorted_codes(transactions[c], rows)
    order, order_ids = _sorted_codes(transactions[o], rows)
    if len(customer_ids) * max(len(order_ids), 1) >= 2**62:
        return None
    key = customer * len(order_ids) + order
    sort = np.argsort(key, kind="stable")
    key, lines = key[sort], rows[sort]
    t = stamps[lines].view("int64")
    new_order = np.ones(key.size, dtype=bool)
    new_order[1:] = key[1:] != key[:-1]
    order_start = np.flatnonzero(new_order)
    line_order = np.cumsum(new_order) - 1
    order_t = np.minimum.reduceat(t, order_start)
    order_customer, order_code = key[order_start] // len(order_ids), key[order_start] % len(order_ids)
    new_customer = np.ones(order_start.size, dtype=bool)
    new_customer[1:] = order_customer[1:] != order_customer[:-1]
    customer_start = np.flatnonzero(new_customer)
    order_of = np.cumsum(new_customer) - 1  # each order's customer, numbered 0.. in customer order
    first_t = np.minimum.reduceat(order_t, customer_start)
    at_first = order_t == first_t[order_of]
    first_code = np.minimum.reduceat(np.where(at_first, order_code, _NO_CODE), customer_start)
    is_first = order_code == first_code[order_of]
    second_t = np.minimum.reduceat(np.where(is_first, _NO_CODE, order_t), customer_start)
    unit = np.datetime_data(stamps.dtype)
    per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, unit))
    has_second = second_t != _NO_CODE
    days_to_second = np.where(has_second, second_t // per_day - first_t // per_day, np.nan)
    out = pd.DataFrame(
        {
            c: customer_ids[order_customer[customer_start]],
            "first_purchase": first_t.view(stamps.dtype),
            "first_order": order_ids[first_code],
            "acquisition_channel": pd.Series(pd.NA, index=range(customer_start.size), dtype="str"),
            "first_category": pd.Series(pd.NA, index=range(customer_start.size), dtype="str"),
            "second_purchase": np.where(has_second, second_t, np.datetime64("NaT").view("int64")).view(stamps.dtype),
            "days_to_second": days_to_second,
            "orders": np.diff(customer_start, append=order_start.size).astype("int64"),
        }
    )
    first_line, line_customer = is_first[line_order], order_of[line_order]
    if channel_col is not None:
        out["acquisition_channel"] = _first_order_channel(
            transactions[channel_col], lines[first_line], line_customer[first_line]
        )
    if category_col is not None:
        out["first_category"] = _first_order_category(
            transactions[category_col], _numbers(transactions[a], lines), lines, first_line, line_customer
        )
    numbers = (order_customer[customer_start], first_code)
    for array in numbers:
        array.flags.writeable = False  # remembered: read by every caller
    return out, numbers


def _first_order_channel(values: pd.Series, first_lines: np.ndarray, line_customer: np.ndarray):
    """The first order's channel: the smallest channel of its lines (missing ones ignored). ``first_lines``: the
    lines of each customer's first order, customer after customer (``line_customer``: each line's customer)."""
    codes, uniques = _sorted_codes(values, first_lines)
    customer_start = np.flatnonzero(np.r_[True, line_customer[1:] != line_customer[:-1]])
    smallest = np.minimum.reduceat(np.where(codes < 0, _NO_CODE, codes), customer_start)
    return _decode(np.where(smallest == _NO_CODE, -1, smallest), uniques)


def _first_order_category(values: pd.Series, amounts, lines, first_line, line_customer) -> np.ndarray:
    """The category with the largest amount in the first order (ties: the smallest; missing ones only alone)."""
    codes, uniques = _sorted_codes(values, lines[first_line])
    width = len(uniques) + 1
    codes = np.where(codes < 0, len(uniques), codes)  # missing sorts last, so a tie goes to a named category
    group, where = np.unique(line_customer[first_line] * width + codes, return_inverse=True)
    sums = np.bincount(where, weights=np.nan_to_num(amounts[first_line], nan=0.0), minlength=group.size)
    group_customer, group_code = group // width, group % width
    start = np.flatnonzero(np.r_[True, group_customer[1:] != group_customer[:-1]])
    best = np.maximum.reduceat(sums, start)
    top = sums == np.repeat(best, np.diff(start, append=group.size))
    chosen = np.minimum.reduceat(np.where(top, group_code, _NO_CODE), start)
    return _decode(np.where(chosen == len(uniques), -1, chosen), uniques)


def _decode(codes: np.ndarray, uniques: pd.Index):
    """The texts of ``codes`` (missing for -1): taken in Arrow when ``uniques`` are Arrow text (no Python string per
    customer, and none for pandas to convert back), else an object array with each distinct text made a Python string
    once."""
    chunked = getattr(uniques.array, "_pa_array", None)
    if chunked is not None and isinstance(uniques.dtype, pd.StringDtype) and len(uniques):
        import pyarrow as pa

        return pd.array(chunked.take(pa.array(np.maximum(codes, 0), mask=codes < 0)), dtype=uniques.dtype)
    out = np.asarray(uniques, dtype=object)[np.maximum(codes, 0)] if len(uniques) else np.full(codes.size, None)
    out[codes < 0] = None
    return out


def _coalesce(first: pd.Series, second: pd.Series):
    """``first`` where present, else ``second`` (same length): in Arrow for Arrow text, else as object arrays."""
    a, b = (getattr(s.array, "_pa_array", None) for s in (first, second))
    if a is not None and b is not None and isinstance(first.dtype, pd.StringDtype):
        import pyarrow.compute as pc

        return pd.array(pc.coalesce(a, b.cast(a.type)), dtype=first.dtype)
    first = first.to_numpy()
    return np.where(pd.isna(first), second.to_numpy(), first)


def first_purchases(
    transactions: Any,
    *,
    as_of: Any,
    customers: Any = None,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
    channel_col: str = "channel",
    category_col: str | None = "category",
    acquisition_channel_col: str = "acquisition_channel",
) -> pd.DataFrame:
    """Each customer's first order, its channel and category, and their second purchase.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (pandas, polars, DuckDB or Spark). Not modified.
        ``channel`` and ``category`` are used when present.
    as_of : date, timestamp or Period
        Only lines strictly before this instant count; a Period means its end.
    customers : DataFrame-like, optional
        Canonical customers; its ``acquisition_channel`` (when not missing)
        replaces the first order's channel.
    customer_col, order_col, date_col, amount_col, quantity_col, channel_col, category_col, \
acquisition_channel_col : str
        Column names; ``category_col=None`` skips categories.

    Returns
    -------
    pandas.DataFrame
        One row per customer with a purchase, sorted by customer, columns:
        ``customer_id`` (``customer_col``), ``first_purchase`` (datetime),
        ``first_order``, ``acquisition_channel`` (str, NaN if unknown),
        ``first_category`` (str, NaN if unknown), ``second_purchase``
        (datetime, NaT if none), ``days_to_second`` (float, NaN if none),
        ``orders`` (distinct purchase orders, int).

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"order_id": ["o1", "o1", "o2"], "customer_id": ["a", "a", "a"],
    ...                    "order_datetime": pd.to_datetime(["2025-01-05 10:00", "2025-01-05 10:00",
    ...                                                      "2025-01-07 09:00"]),
    ...                    "quantity": [1, 1, 1], "amount": [300.0, 900.0, 100.0],
    ...                    "channel": ["web", "web", "app"], "category": ["Food", "Home", "Food"]})
    >>> first_purchases(tx, as_of="2025-02-01").iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'customer_id': 'a', 'first_purchase': Timestamp('2025-01-05 10:00:00'), 'first_order': 'o1',
     'acquisition_channel': 'web', 'first_category': 'Home', 'second_purchase': Timestamp('2025-01-07 09:00:00'),
     'days_to_second': 2.0, 'orders': 2}
    """
    columns = (customer_col, order_col, date_col, amount_col, quantity_col)
    names = dict(channel_col=channel_col, category_col=category_col, acquisition_channel_col=acquisition_channel_col)
    return numbered_first_purchases(transactions, as_of=as_of, customers=customers, columns=columns, **names)[0]


_FIRST_PURCHASE_DTYPES = {
    "acquisition_channel": "str",
    "first_category": "str",
    "days_to_second": "float64",
    "orders": "int64",
    "first_purchase": "datetime64[us]",
    "second_purchase": "datetime64[us]",
}


def numbered_first_purchases(
    transactions: Any,
    *,
    as_of: Any,
    customers,
    columns: tuple = ("customer_id", "order_id", "order_datetime", "amount", "quantity"),
    channel_col: str = "channel",
    category_col: str | None = "category",
    acquisition_channel_col: str = "acquisition_channel",
) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray] | None]:
    """:func:`first_purchases`' table, and, when plain pandas input was computed in numpy, each row's customer and
    first order as numbers of the whole columns (:func:`crmtools.engine.sorted_codes`; None otherwise).

    For callers that hold those numbers (:mod:`crmtools.churn`'s lines) and would otherwise look the ids up
    again. The numpy table is already sorted by customer (the numbers follow the ids' order), so it is returned
    as it is. Arguments as :func:`first_purchases` (``columns``: customer, order, date, amount and quantity).

    Returns
    -------
    (pandas.DataFrame, (numpy.ndarray, numpy.ndarray) or None)
    """
    as_of = as_point(as_of)
    names = dict(channel_col=channel_col, category_col=category_col, acquisition_channel_col=acquisition_channel_col)
    fast = _numpy_first_purchases(transactions, as_of=as_of, customers=customers, columns=columns, **names)
    if fast is not None:  # text ids as the engine gives them (str), whole numbers as they are
        frame = fast[0]
        ids = {name: "str" for name in (columns[0], "first_order") if not pd.api.types.is_integer_dtype(frame[name])}
        return frame.astype({**_FIRST_PURCHASE_DTYPES, **ids}), fast[3]
    c, o, d, a, q = columns
    frame, _, _ = _first_purchases_lazy(
        transactions,
        as_of=as_of,
        customers=customers,
        customer_col=c,
        order_col=o,
        date_col=d,
        amount_col=a,
        quantity_col=q,
        **names,
    )
    return collect(frame, sort_by=c).astype(_FIRST_PURCHASE_DTYPES), None


@deprecated_arguments(window=("start", "end"))
def f2_conversion(
    transactions: Any,
    *,
    as_of: Any,
    within_days: int = 90,
    period: Any = None,
    customers: Any = None,
    exclude_left_censored: bool = False,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
    channel_col: str = "channel",
    category_col: str | None = "category",
    acquisition_channel_col: str = "acquisition_channel",
) -> pd.DataFrame:
    """Share of new customers who make a second purchase within ``within_days`` (F2 conversion).

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    as_of : date, timestamp or Period
        Only lines strictly before this instant count; a Period means its end.
    within_days : int, default=90
        Days after the first purchase in which the second must happen.
    period : Period or str, optional
        Only customers whose first purchase is in this period (e.g.
        ``"2025-Q1"``); default: all. Customers whose window is not fully
        observed before ``as_of`` are always left out.
    customers : DataFrame-like, optional
        Canonical customers, for ``acquisition_channel``.
    exclude_left_censored : bool, default=False
        Leave out customers whose first purchase is in the data's first
        month: customers who bought before the data starts look new there
        (see :mod:`crmtools.coverage`). The report pages set it.
    customer_col, order_col, date_col, amount_col, quantity_col, channel_col, category_col, \
acquisition_channel_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        Columns ``breakdown`` (``"overall"``, ``"channel"``, ``"category"``),
        ``group`` (``"All"``, a channel or a category; ``"(unknown)"`` when
        missing), ``new_customers`` (int), ``repeaters`` (int), ``f2_rate``.
        The overall row comes first, then each breakdown sorted by group;
        ``channel`` rows only when transactions have a channel column or
        ``customers`` is given, ``category`` rows only when transactions have
        a category column, and a breakdown only when it has at least two
        groups (one group, e.g. a channel filled in as a constant, would only
        repeat the overall row). No eligible customers gives an empty frame
        with these columns.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["a", "a", "b"],
    ...                    "order_datetime": pd.to_datetime(["2025-01-01", "2025-04-15", "2025-01-02"]),
    ...                    "quantity": 1, "amount": 100.0})
    >>> f2_conversion(tx, as_of="2025-12-01", within_days=90)[["group", "new_customers", "repeaters"]]
      group  new_customers  repeaters
    0   All              2          0
    >>> f2_conversion(tx, as_of="2025-12-01", within_days=120)["repeaters"].tolist()
    [1]
    """
    as_of_ts = as_point(as_of)
    within_days = _check_days(within_days, "within_days")
    frame, has_channel, has_category = _first_purchases_lazy(
        transactions,
        as_of=as_of_ts,
        customers=customers,
        customer_col=customer_col,
        order_col=order_col,
        date_col=date_col,
        amount_col=amount_col,
        quantity_col=quantity_col,
        channel_col=channel_col,
        category_col=category_col,
        acquisition_channel_col=acquisition_channel_col,
    )
    eligible = frame.filter(day_number(nw.col("first_purchase")) + within_days < day_number_of(as_of_ts))
    if exclude_left_censored:
        starts = data_start(transactions, as_of=as_of_ts, date_col=date_col)
        if not pd.isna(starts):
            second_month = (starts.to_period("M") + 1).start_time
            eligible = eligible.filter(nw.col("first_purchase") >= lit_datetime(second_month))
    if period is not None:
        p = as_period(period)
        if p.start is not None:
            eligible = eligible.filter(nw.col("first_purchase") >= lit_datetime(pd.Timestamp(p.start)))
        if p.end is not None:
            eligible = eligible.filter(nw.col("first_purchase") < lit_datetime(pd.Timestamp(p.end)))
    converted = (nw.col("days_to_second") <= within_days).fill_null(False).cast(nw.Int64)
    eligible = eligible.with_columns(
        _converted=converted,
        acquisition_channel=nw.col("acquisition_channel").fill_null(_UNKNOWN),
        first_category=nw.col("first_category").fill_null(_UNKNOWN),
    )
    eligible = materialize(eligible)  # one row per customer, read by up to three aggregations below
    aggs = {"new_customers": nw.len(), "repeaters": nw.col("_converted").sum()}
    parts = [collect(eligible.select(**aggs).with_columns(breakdown=nw.lit("overall"), group=nw.lit("All")))]
    breakdowns = ([("channel", "acquisition_channel")] if has_channel else []) + (
        [("category", "first_category")] if has_category else []
    )
    for label, column in breakdowns:
        grouped = eligible.group_by(column).agg(**aggs).sort(column)
        parts.append(collect(grouped.rename({column: "group"}).with_columns(breakdown=nw.lit(label))))
    out = pd.concat([p[["breakdown", "group", "new_customers", "repeaters"]] for p in parts], ignore_index=True)
    out = out.astype({"breakdown": "str", "group": "str", "new_customers": "int64", "repeaters": "int64"})
    out = out[out["new_customers"] > 0]
    groups = out.groupby("breakdown")["group"].transform("size")
    out = out[(out["breakdown"] == "overall") | (groups > 1)].reset_index(drop=True)
    out["f2_rate"] = (out["repeaters"] / out["new_customers"]).astype("float64")
    return out


def f2_cohorts(
    transactions: Any,
    *,
    as_of: Any,
    within_days: int = 90,
    lookback_months: int = 12,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """F2 conversion by monthly cohort of first purchase, the latest months included while still open.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    as_of : date, timestamp or Period
        Only lines strictly before this instant count; a Period means its end.
    within_days : int, default=90
        Days after the first purchase in which the second must happen.
    lookback_months : int, default=12
        Cohorts of the last ``lookback_months`` calendar months before ``as_of``
        (the month holding the last counted instant is the last cohort).
    customer_col, order_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per cohort month with new customers, oldest first, columns:
        ``cohort`` (``"YYYY-MM"``), ``new_customers`` (int), ``repeaters``
        (int: second purchase within ``within_days`` and before ``as_of``),
        ``f2_rate`` (repeaters / new customers) and ``complete`` (bool: every
        customer's window ends before the date of ``as_of``; when False the
        rate is "so far" and can still rise), ``left_censored`` (bool: the
        data's first month, where customers who bought before the data starts
        look new too; not a true cohort). No new customers gives an empty
        frame with these columns.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2", "o3", "o4"], "customer_id": ["a", "a", "b", "c"],
    ...                    "order_datetime": pd.to_datetime(["2025-01-05", "2025-02-01", "2025-01-10",
    ...                                                      "2025-03-20"]),
    ...                    "quantity": 1, "amount": 100.0})
    >>> f2_cohorts(tx, as_of="2025-04-01", within_days=30, lookback_months=3)
        cohort  new_customers  repeaters  f2_rate  complete  left_censored
    0  2025-01              2          1      0.5      True           True
    1  2025-03              1          0      0.0     False          False

    January is the data's first month: it is marked, not a true cohort.
    """
    as_of_ts = as_point(as_of)
    within_days = _check_days(within_days, "within_days")
    lookback_months = int(require_range(lookback_months, name="lookback_months", low=1, integer=True))
    first = first_purchases(
        transactions,
        as_of=as_of_ts,
        customer_col=customer_col,
        order_col=order_col,
        date_col=date_col,
        amount_col=amount_col,
        quantity_col=quantity_col,
        category_col=None,
    )
    columns = ["cohort", "new_customers", "repeaters", "f2_rate", "complete", "left_censored"]
    last_month = (as_of_ts - pd.Timedelta(microseconds=1)).to_period("M")
    months = first["first_purchase"].dt.to_period("M")
    recent = first.loc[months > last_month - lookback_months].assign(
        cohort=months.astype("str"), _converted=(first["days_to_second"] <= within_days).astype("int64")
    )
    if recent.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in zip(columns, ["str", "int64", "int64", "float64", "bool", "bool"])}
        )
    out = (
        recent.groupby("cohort", sort=True)
        .agg(new_customers=("_converted", "size"), repeaters=("_converted", "sum"))
        .reset_index()
    )
    out["f2_rate"] = (out["repeaters"] / out["new_customers"]).astype("float64")
    cohort_end = pd.PeriodIndex(out["cohort"], freq="M").end_time.normalize()
    # complete when the last day of the cohort plus the window is before as_of's date (as in f2_conversion)
    out["complete"] = np.asarray(cohort_end + pd.Timedelta(days=within_days) < as_of_ts.normalize())
    out["left_censored"] = out["cohort"] == first_month(transactions, as_of=as_of_ts, date_col=date_col)
    dtypes = {"new_customers": "int64", "repeaters": "int64", "f2_rate": "float64", "complete": "bool"}
    return out.astype({"cohort": "str", **dtypes, "left_censored": "bool"})[columns]


def _purchase_days(
    transactions: Any, as_of: pd.Timestamp, customer_col: str, date_col: str, quantity_col: str
) -> nw.LazyFrame:
    """Each customer's purchase days before ``as_of`` (``_day``) and the day's first purchase time (``_first``).

    Text ids from files are read as their numbers (:func:`crmtools.engine.to_lazy`'s ``numbered``): callers that
    show customers turn them back with :func:`crmtools.engine.id_values` (see :func:`purchase_cycles`).
    """
    c, d, q = customer_col, date_col, quantity_col
    lf = to_lazy(
        transactions,
        columns=[c, d, q],
        name="transactions",
        kinds={c: "id", d: "datetime", q: "numeric"},
        where=[~nw.col(c).is_null(), nw.col(q) > 0, nw.col(d) < lit_datetime(as_of)],
        numbered=[c],
    )
    return lf.with_columns(_day=day_number(nw.col(d))).group_by(c, "_day").agg(_first=nw.col(d).min())


def customer_purchase_days(
    transactions: pd.DataFrame,
    *,
    as_of: pd.Timestamp,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    quantity_col: str = "quantity",
) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Each customer's distinct purchase days before ``as_of``, from a pandas frame, in numpy.

    The days of lines with a customer, a positive quantity and a time before ``as_of``, one per customer and
    calendar day (day numbers: whole days since 1970-01-01), sorted by customer, then day. Remembered for the
    same frame and instant (:func:`crmtools.engine.derived`): a report's purchase intervals, purchase cycles and
    target lists read the same days.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, pandas.Index)
        The customers as numbers (positions in the third), the day numbers (both int64, read-only), and the
        sorted distinct customer ids (:func:`crmtools.engine.sorted_codes`).

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["b", "a", "b", "b"], "quantity": [1, 1, 1, 0],
    ...                    "order_datetime": pd.to_datetime(["1970-01-03 09:00", "1969-12-31 23:00", "1970-01-03 00:00",
    ...                                                      "1970-01-09 00:00"])})
    >>> customers, days, ids = customer_purchase_days(tx, as_of=pd.Timestamp("1970-02-01"))
    >>> customers.tolist(), days.tolist(), ids.tolist()
    ([0, 1], [-1, 2], ['a', 'b'])
    """
    kept = derived(transactions, "repeat.purchase_days", lambda _: {})
    key = (as_point(as_of), customer_col, date_col, quantity_col)
    if key not in kept:
        kept[key] = _purchase_days_numpy(transactions, *key)
        while len(kept) > _KEPT_FIRST_ORDERS:  # the oldest first
            kept.pop(next(iter(kept)))
    return kept[key]


def _purchase_days_numpy(tx: pd.DataFrame, as_of: pd.Timestamp, c: str, d: str, q: str):
    codes, uniques = sorted_codes(tx[c])
    stamps = tx[d].to_numpy()
    if stamps.dtype.kind != "M":  # (times with a time zone: as instants in nanoseconds)
        stamps = tx[d].to_numpy(dtype="datetime64[ns]")
    # in the column's own unit (seconds hold dates nanoseconds do not): as_of rounded up to it, so that "before"
    # is unchanged, and whole days as multiples of it
    unit = np.datetime_data(stamps.dtype)[0]
    before = stamps < np.datetime64(as_of.ceil(pd.Timedelta(1, unit=unit)).to_datetime64(), unit)
    bought = (tx[q] > 0).to_numpy(bool, na_value=False) & (codes >= 0) & before
    rows = np.flatnonzero(bought)
    if not rows.size:
        customers, days = np.zeros(0, dtype="int64"), np.zeros(0, dtype="int64")
    else:
        per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, unit))
        day = stamps[rows].view("int64") // per_day  # whole days since 1970-01-01 (floor)
        low = day.min()
        width = int(day.max() - low) + 1
        pairs = sorted_unique(codes[rows] * width + (day - low))  # one per (customer, purchase day), sorted
        customers, days = pairs // width, pairs % width + low
    for array in (customers, days):
        array.flags.writeable = False
    return customers, days, uniques


def _plain_purchase_days(transactions: Any, as_of: pd.Timestamp, c: str, d: str, q: str):
    """:func:`customer_purchase_days` of lines the engine path would number the same way (a pandas frame with
    Arrow text ids, a naive datetime column and a numeric quantity); None for any other input."""
    if not isinstance(transactions, pd.DataFrame) or not transactions.columns.is_unique or len({c, d, q}) < 3:
        return None
    if not all(name in transactions.columns for name in (c, d, q)):
        return None
    when, ids = transactions[d], transactions[c]
    if not (isinstance(when.dtype, np.dtype) and when.dtype.kind == "M" and _plain_number(transactions[q])):
        return None
    if not (isinstance(ids.dtype, pd.StringDtype) and getattr(ids.array, "_pa_array", None) is not None):
        return None
    return customer_purchase_days(transactions, as_of=as_of, customer_col=c, date_col=d, quantity_col=q)


def _lookback_from_start(start: Any, kwargs: dict) -> int | None:
    """The old ``start=`` (gaps ending on or after its date) as a number of days before ``as_of``'s date."""
    if start is None or "as_of" not in kwargs:
        return None
    days = day_number_of(as_point(kwargs["as_of"])) - day_number_of(legacy_start(start))
    if days < 1:
        raise ValueError(f"start must be a day before as_of; got start={start!r}, as_of={kwargs['as_of']!r}.")
    return days


@deprecated_arguments(
    converted={
        "start": (
            "lookback_days",
            _lookback_from_start,
            "pass lookback_days= (e.g. lookback_days=365 for gaps ending in the last 365 days before as_of)",
        )
    }
)
def interval_distribution(
    transactions: Any,
    *,
    as_of: Any,
    lookback_days: int | None = None,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """How many days pass between a customer's consecutive purchase days.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    as_of : date, timestamp or Period
        Only lines strictly before this instant count; a Period means its end.
    lookback_days : int, optional
        Only gaps whose later purchase day is on or after the date of
        ``as_of`` minus ``lookback_days`` days: with a midnight ``as_of``, the
        gaps ending in ``[as_of - lookback_days, as_of)``. None counts every gap.
    customer_col, date_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per observed gap length, ascending, columns ``days`` (int
        >= 1), ``intervals`` (int), ``share``, ``cumulative_share``.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
    ...                    "order_datetime": pd.to_datetime(["2025-01-01 00:00", "2025-01-31 00:00", "2025-03-02 00:00",
    ...                                                      "2025-01-01 09:00", "2025-01-08 20:00"]),
    ...                    "quantity": 1})
    >>> interval_distribution(tx, as_of="2025-04-01")
       days  intervals     share  cumulative_share
    0     7          1  0.333333          0.333333
    1    30          2  0.666667          1.000000
    """
    as_of_ts = as_point(as_of)
    if lookback_days is not None:
        lookback_days = _check_days(lookback_days, "lookback_days")
    plain = _plain_purchase_days(transactions, as_of_ts, customer_col, date_col, quantity_col)
    if plain is not None:  # the same gaps in numpy
        customers, days, _ = plain
        same = customers[1:] == customers[:-1]
        gaps, later = (days[1:] - days[:-1])[same], days[1:][same]
        if lookback_days is not None:
            gaps = gaps[later >= day_number_of(as_of_ts) - lookback_days]
        lengths, counts = np.unique(gaps, return_counts=True)
        out = pd.DataFrame({"days": lengths, "intervals": counts})
    else:
        days = _purchase_days(transactions, as_of_ts, customer_col, date_col, quantity_col)
        gaps = days.with_columns(days=nw.col("_day") - nw.col("_day").shift(1).over(customer_col, order_by="_day"))
        gaps = gaps.filter(~nw.col("days").is_null())
        if lookback_days is not None:
            gaps = gaps.filter(nw.col("_day") >= day_number_of(as_of_ts) - lookback_days)
        out = collect(gaps.group_by("days").agg(intervals=nw.len()).sort("days"))
    out = out.astype({"days": "int64", "intervals": "int64"})
    total = out["intervals"].sum()
    out["share"] = (out["intervals"] / total).astype("float64")
    out["cumulative_share"] = (out["intervals"].cumsum() / total).astype("float64")
    return out


def purchase_cycles(
    transactions: Any,
    *,
    as_of: Any,
    min_purchase_days: int = 2,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Each repeat customer's average purchase interval and expected next purchase date.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions. Not modified.
    as_of : date, timestamp or Period
        Only lines strictly before this instant count (a Period means its
        end); ``days_until_next`` is counted from its date.
    min_purchase_days : int, default=2
        Only customers with at least this many purchase days (2 or more, so
        that an interval exists).
    customer_col, date_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        Sorted by customer, columns: ``customer_id`` (``customer_col``),
        ``purchase_days`` (int), ``first_purchase`` and ``last_purchase``
        (dates, as midnight timestamps), ``avg_interval_days`` (float),
        ``expected_next_purchase`` (date), ``days_until_next`` (int, negative
        when overdue).

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                    "order_datetime": pd.to_datetime(["2025-01-01", "2025-01-31", "2025-03-02", "2025-02-01"]),
    ...                    "quantity": 1})
    >>> purchase_cycles(tx, as_of="2025-03-15")[["customer_id", "avg_interval_days", "expected_next_purchase",
    ...                                          "days_until_next"]]
      customer_id  avg_interval_days expected_next_purchase  days_until_next
    0           a               30.0             2025-04-01               17
    """
    as_of_ts = as_point(as_of)
    require_range(min_purchase_days, name="min_purchase_days", low=2, integer=True)
    c = customer_col
    plain = _plain_purchase_days(transactions, as_of_ts, customer_col, date_col, quantity_col)
    if plain is not None:  # the same customers in numpy (in the order of their ids, as the engine sorts them)
        customers, days, ids = plain
        start = np.flatnonzero(np.r_[customers.size > 0, customers[1:] != customers[:-1]])
        end = np.r_[start[1:], customers.size][: start.size] - 1
        n = end - start + 1
        kept = n >= min_purchase_days
        out = pd.DataFrame(
            {
                c: pd.Series(ids.array.take(customers[start[kept]]), name=c),
                "purchase_days": n[kept],
                "_first_day": days[start[kept]],
                "_last_day": days[end[kept]],
            }
        )
    else:
        days = _purchase_days(transactions, as_of_ts, customer_col, date_col, quantity_col)
        per_customer = (
            days.group_by(c)
            .agg(purchase_days=nw.len(), _first_day=nw.col("_day").min(), _last_day=nw.col("_day").max())
            .filter(nw.col("purchase_days") >= min_purchase_days)
        )
        out = collect(per_customer, sort_by=c)
        numbered = numbered_ids(transactions, [c], ids=[c])  # as _purchase_days read them: numbers back to ids
        if numbered is not None:
            out[c] = id_values(out[c], numbered[1][c])
    epoch = pd.Timestamp("1970-01-01")
    n = out["purchase_days"].astype("int64")
    first = out["_first_day"].astype("int64")
    last = out["_last_day"].astype("int64")
    avg = ((last - first) / (n - 1)).astype("float64")
    expected_day = last + avg.round().astype("int64")
    result = pd.DataFrame(
        {
            c: out[c],
            "purchase_days": n,
            "first_purchase": (epoch + pd.to_timedelta(first, unit="D")).astype("datetime64[us]"),
            "last_purchase": (epoch + pd.to_timedelta(last, unit="D")).astype("datetime64[us]"),
            "avg_interval_days": avg,
            "expected_next_purchase": (epoch + pd.to_timedelta(expected_day, unit="D")).astype("datetime64[us]"),
            "days_until_next": (expected_day - day_number_of(as_of_ts)).astype("int64"),
        }
    )
    return result
