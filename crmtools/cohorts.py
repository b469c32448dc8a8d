"""Retention cohorts (継続率): customers grouped by the month of their first purchase.

Definitions, as of an explicit ``as_of`` instant (exclusive):

- A customer's **cohort** is the calendar month of their first purchase (a
  line with a positive quantity) over *all* history before ``as_of``, not
  only the months shown; lines without a customer id are left out.
- **months_since** counts calendar months from the cohort month (0 = the
  first-purchase month, so retention there is 1).
- A customer is **active** in a month when they have a purchase that month.
- **revenue** is the cohort's net revenue in that month (returns subtract),
  summed to the cent.
- Every cohort gets a row for each month from its first month to the last
  month before ``as_of``, with zeros where nobody was active. When ``as_of``
  is not the first instant of a month, that last month is partial.
- The cohort of the data's first month is **left-censored**
  (``left_censored`` True): customers who bought before the data starts have
  their first purchase there too, so it is not a true acquisition cohort
  (see :mod:`crmtools.coverage`).

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "customer_id": ["a", "b", "a", "c"],
...     "order_datetime": pd.to_datetime(["2025-01-05", "2025-01-20", "2025-03-02", "2025-02-11"]),
...     "quantity": [1, 1, 2, 1],
...     "amount": [1000.0, 2000.0, 1500.0, 500.0],
... })
>>> cohort_table(tx, as_of="2025-04-01")[["cohort", "months_since", "customers", "active", "retention"]]
    cohort  months_since  customers  active  retention
0  2025-01             0          2       2        1.0
1  2025-01             1          2       0        0.0
2  2025-01             2          2       1        0.5
3  2025-02             0          1       1        1.0
4  2025-02             1          1       0        0.0
"""

from __future__ import annotations

from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from ._deprecation import deprecated_arguments, legacy_start
from .checks import require_columns, require_in, require_range
from .coverage import data_start
from .engine import collect, is_missing, lit_datetime, month_label_of, month_number, month_number_of, to_lazy
from .periods import as_point

__all__ = ["COHORT_COLUMNS", "cohort_matrix", "cohort_revenue", "cohort_table"]

COHORT_COLUMNS = [
    "cohort",
    "months_since",
    "customers",
    "active",
    "retention",
    "revenue",
    "revenue_per_customer",
    "cumulative_revenue_per_customer",
    "left_censored",
]

_COHORTS_HINT = "Pass the output of cohort_table."


def _last_month(as_of: pd.Timestamp) -> int:
    # The month holding the last instant before as_of.
    return month_number_of(as_of - pd.Timedelta(microseconds=1))


def _lookback_from_start(start: Any, kwargs: dict) -> int | None:
    """The old ``start=`` (first cohort month shown) as the number of cohort months up to ``as_of``."""
    if start is None or "as_of" not in kwargs:
        return None
    months = _last_month(as_point(kwargs["as_of"])) - month_number_of(legacy_start(start)) + 1
    if months < 1:
        raise ValueError(
            f"start must be before as_of (it is the first cohort shown); got start={start!r}, "
            f"as_of={kwargs['as_of']!r}."
        )
    return months


@deprecated_arguments(
    converted={
        "start": (
            "lookback_months",
            _lookback_from_start,
            "pass lookback_months= (the number of most recent cohorts shown, e.g. lookback_months=12)",
        )
    }
)
def cohort_table(
    transactions: Any,
    *,
    as_of: Any,
    lookback_months: int | None = None,
    max_months: int | None = None,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Active customers and revenue per first-purchase cohort and month since the first purchase.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (pandas, polars, DuckDB or Spark). Not modified.
    as_of : date, timestamp or Period
        Only lines strictly before this instant count; a Period means its end
        (``as_of="2025-10"`` is ambiguous and rejected; see
        :mod:`crmtools.periods`).
    lookback_months : int, optional
        Show only the cohorts of the last ``lookback_months`` months before
        ``as_of`` (the month holding ``as_of``'s last counted instant and the
        ones before it); first purchases are still found over all history.
        None shows every cohort.
    max_months : int, optional
        Show only ``months_since <= max_months``.
    customer_col, date_col, amount_col, quantity_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        Sorted by cohort and months since, columns: ``cohort`` (``"YYYY-MM"``),
        ``months_since`` (int), ``customers`` (cohort size, int), ``active``
        (int), ``retention`` (active / customers), ``revenue``,
        ``revenue_per_customer`` (revenue / customers),
        ``cumulative_revenue_per_customer`` (running total within the cohort),
        ``left_censored`` (bool: the cohort is the data's first month, which
        also holds customers who bought before the data starts).
        No purchases gives an empty frame with these columns.

    Raises
    ------
    ValueError
        If amounts are missing, or an argument is invalid.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"customer_id": ["a", "a"], "order_datetime": pd.to_datetime(["2025-01-05", "2025-02-01"]),
    ...                    "quantity": [1, -1], "amount": [1000.0, -400.0]})
    >>> cohort_table(tx, as_of="2025-03-01")[["cohort", "months_since", "active", "revenue",
    ...                                       "cumulative_revenue_per_customer"]]
        cohort  months_since  active  revenue  cumulative_revenue_per_customer
    0  2025-01             0       1   1000.0                           1000.0
    1  2025-01             1       0   -400.0                            600.0
    """
    as_of_ts = as_point(as_of)
    require_range(max_months, name="max_months", low=0, integer=True, allow_none=True)
    require_range(lookback_months, name="lookback_months", low=1, integer=True, allow_none=True)
    first_shown = None if lookback_months is None else _last_month(as_of_ts) - lookback_months + 1
    c, d, a, q = customer_col, date_col, amount_col, quantity_col
    lf = to_lazy(
        transactions,
        columns=[c, d, a, q],
        name="transactions",
        kinds={c: "id", d: "datetime", a: "numeric", q: "numeric"},
        where=[~nw.col(c).is_null(), nw.col(d) < lit_datetime(as_of_ts)],
        numbered=[c],  # counted per cohort, never shown
    )

    customer_months = (
        lf.with_columns(_month=month_number(nw.col(d)))
        .group_by(c, "_month")
        .agg(
            _active=(nw.col(q) > 0).cast(nw.Int64).max(),
            _revenue=nw.col(a).sum(),
            _missing=is_missing(lf, a).cast(nw.Int64).sum(),
        )
        .with_columns(_cohort=nw.when(nw.col("_active") == 1).then(nw.col("_month")).min().over(c))
        .filter(~nw.col("_cohort").is_null())
        .with_columns(months_since=nw.col("_month") - nw.col("_cohort"))
        .filter(nw.col("months_since") >= 0)
    )
    if first_shown is not None:
        customer_months = customer_months.filter(nw.col("_cohort") >= first_shown)
    if max_months is not None:
        customer_months = customer_months.filter(nw.col("months_since") <= max_months)
    cells = collect(
        customer_months.group_by("_cohort", "months_since")
        .agg(
            active=nw.col("_active").sum(), revenue=nw.col("_revenue").sum().round(2), _missing=nw.col("_missing").sum()
        )
        .sort("_cohort", "months_since")
    )
    missing = int(cells["_missing"].sum()) if len(cells) else 0
    if missing:
        raise ValueError(
            f"{missing} line{'s' if missing > 1 else ''} before as_of {'have' if missing > 1 else 'has'} no "
            f"{amount_col!r}: amounts must be present for cohort revenue. Drop or fill those lines first "
            f"(crmtools.data.load_dataset reports them)."
        )
    starts = data_start(transactions, as_of=as_of_ts, date_col=d)
    censored = None if pd.isna(starts) else month_number_of(starts)
    return _complete_grid(cells, _last_month(as_of_ts), max_months, censored)


def _complete_grid(
    cells: pd.DataFrame, last_month: int, max_months: int | None, censored: int | None = None
) -> pd.DataFrame:
    if cells.empty:
        return pd.DataFrame(
            {
                col: pd.Series(
                    dtype="str"
                    if col == "cohort"
                    else "bool"
                    if col == "left_censored"
                    else "int64"
                    if col in ("months_since", "customers", "active")
                    else "float64"
                )
                for col in COHORT_COLUMNS
            }
        )
    cells = cells.astype({"_cohort": "int64", "months_since": "int64", "active": "int64", "revenue": "float64"})
    sizes = cells.loc[cells["months_since"] == 0].set_index("_cohort")["active"]
    frames = []
    for cohort in sorted(sizes.index):
        horizon = last_month - cohort
        if max_months is not None:
            horizon = min(horizon, max_months)
        frames.append(pd.DataFrame({"_cohort": cohort, "months_since": range(horizon + 1)}))
    grid = pd.concat(frames, ignore_index=True).astype({"_cohort": "int64", "months_since": "int64"})
    out = grid.merge(
        cells[["_cohort", "months_since", "active", "revenue"]], on=["_cohort", "months_since"], how="left"
    )
    out["active"] = out["active"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    out["customers"] = out["_cohort"].map(sizes).astype("int64")
    out["retention"] = out["active"] / out["customers"]
    out["revenue_per_customer"] = out["revenue"] / out["customers"]
    out["cumulative_revenue_per_customer"] = out.groupby("_cohort")["revenue"].cumsum().round(2) / out["customers"]
    out["cohort"] = out["_cohort"].map(month_label_of).astype("str")
    out["left_censored"] = (out["_cohort"] == censored).astype("bool")
    return out[COHORT_COLUMNS]


def cohort_matrix(cohorts: pd.DataFrame, *, values: str = "retention") -> pd.DataFrame:
    """Pivot :func:`cohort_table` into a cohort-by-month matrix (for the heatmap).

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`cohort_table`.
    values : str, default="retention"
        Any numeric column of the cohort table, e.g. ``"active"``,
        ``"revenue"`` or ``"cumulative_revenue_per_customer"``.

    Returns
    -------
    pandas.DataFrame
        Index ``cohort``, columns ``months_since`` (0, 1, ...); months a cohort
        has not reached yet are NaN.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"cohort": ["2025-01", "2025-01", "2025-02"], "months_since": [0, 1, 0],
    ...                       "retention": [1.0, 0.25, 1.0]})
    >>> cohort_matrix(table).to_dict("index")
    {'2025-01': {0: 1.0, 1: 0.25}, '2025-02': {0: 1.0, 1: nan}}
    """
    require_in(values, [c for c in COHORT_COLUMNS if c not in ("cohort", "months_since")], name="values")
    require_columns(cohorts, ["cohort", "months_since", values], name="cohorts", hint=_COHORTS_HINT)
    wide = cohorts.pivot(index="cohort", columns="months_since", values=values)
    wide.columns.name = "months_since"
    return wide


def cohort_revenue(cohorts: pd.DataFrame) -> pd.DataFrame:
    """Revenue per cohort over all months shown.

    Parameters
    ----------
    cohorts : pandas.DataFrame
        Output of :func:`cohort_table`.

    Returns
    -------
    pandas.DataFrame
        One row per cohort, columns: ``cohort``, ``customers``, ``months``
        (months observed), ``revenue``, ``revenue_per_customer``, and
        ``left_censored`` when the cohort table has it.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"cohort": ["2025-01", "2025-01"], "months_since": [0, 1], "customers": [2, 2],
    ...                       "revenue": [3000.0, 1000.0]})
    >>> cohort_revenue(table)
        cohort  customers  months  revenue  revenue_per_customer
    0  2025-01          2       2   4000.0                2000.0
    """
    require_columns(cohorts, ["cohort", "months_since", "customers", "revenue"], name="cohorts", hint=_COHORTS_HINT)
    grouped = cohorts.groupby("cohort", sort=True).agg(
        customers=("customers", "first"), months=("months_since", "size"), revenue=("revenue", "sum")
    )
    out = grouped.reset_index()
    out["revenue"] = out["revenue"].round(2)
    out["revenue_per_customer"] = out["revenue"] / out["customers"]
    if "left_censored" in cohorts.columns:
        censored = cohorts.groupby("cohort", sort=True)["left_censored"].any()
        out["left_censored"] = out["cohort"].map(censored).fillna(False).astype("bool")
    return out.astype(
        {
            "cohort": "str",
            "customers": "int64",
            "months": "int64",
            "revenue": "float64",
            "revenue_per_customer": "float64",
        }
    )
