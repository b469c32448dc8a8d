"""The one dataframe-agnostic layer: every analysis is written once, against narwhals.

The analyses in :mod:`crmtools.rfm`, :mod:`crmtools.deciles`,
:mod:`crmtools.cohorts`, :mod:`crmtools.repeat` and :mod:`crmtools.kpis`
build one lazy narwhals query from the transactions and collect only the
small result (one row per customer, decile, cohort month or KPI) back to
pandas. This module turns whatever the caller passed into a narwhals
``LazyFrame`` (:func:`to_lazy`), checks its columns (:func:`check_columns`),
collects results (:func:`collect`) and holds the few portable expression
helpers the analyses share (:func:`day_number`, :func:`month_number`,
:func:`floor_div`, :func:`is_missing`).

Inputs and engines
------------------
=============================  ============================================
Input                          Where the aggregation runs
=============================  ============================================
pandas ``DataFrame``           polars, lazily (:data:`PANDAS_ENGINE`)
polars ``DataFrame``/``Lazy``  polars, lazily
DuckDB relation                DuckDB
PySpark ``DataFrame``          Spark
narwhals frame                 its own backend
=============================  ============================================

Only the columns an analysis needs are handed over, as a polars scan of
the pandas frame's own memory through Arrow: rows are converted batch by
batch as the query reads them, and rows outside the analysis window are
dropped as they arrive rather than copied. A lazy frame from :func:`to_lazy`
can be passed to several analyses.

The choice for pandas input was measured (``benchmarks/bench_analytics.py``,
5,000,000 order lines, 500,000 customers, 2 cores; :func:`crmtools.rfm.rfm_table`):
through polars 0.7-0.8 s (1.2 s CPU) and about 320 MiB peak memory over the
data; through DuckDB 1.0 s (1.6 s CPU, its relational API re-binds a deep
query and narwhals' SQL for windows is heavier than hand-written SQL) and
about 270 MiB; staying in pandas with narwhals' pandas backend is far slower
(grouped conditional aggregations fall back to Python per group: 500,000
lines took 223 s against 0.12 s through polars and 0.22 s through DuckDB).
Through polars, crmtools is as fast as the fastest hand-written engine
(DuckDB SQL or polars) and needs less memory than hand-written pandas; the
benchmark prints the current figures.

Portability rules
-----------------
The queries use only operations that narwhals supports on its lazy backends
(DuckDB, PySpark, SQL through SQLFrame): ``filter``, ``with_columns``,
``group_by().agg()``, ``join``, window expressions ``over(partition_by,
order_by=...)``, ``rank``, ``with_row_index(order_by=...)``, ``cum_sum``
over an order, ``shift`` over a partition, ``when/then`` chains, ``is_in``
and date parts. Traps avoided, each found by running the analyses on every
engine (``tests/test_engine.py`` runs them on Spark):

- Spark cannot sum booleans: they are cast to integers first.
- Spark has no duration arithmetic in narwhals (``dt.total_seconds``): day
  differences use :func:`day_number` (civil-calendar day number from year
  and day of year).
- polars divides by a broadcast scalar through its reciprocal
  (``363 * 5 / 1815`` is ``0.9999999999999999``), so score and decile cuts
  use integer division (:func:`floor_div`), never ``floor`` of a float.
- narwhals spells ``//`` for SQL engines as a larger expression that repeats
  its operands, so window results (ranks, counts) are materialised as
  columns before they are divided.
- ``replace_strict`` builds a map per row in DuckDB: segments use a
  ``when/then`` chain of ``is_in`` instead.
- A final global sort is costly in DuckDB and Spark: per-customer results
  are sorted after collecting (:func:`collect` ``sort_by``).

Shaping of the small collected result (filling months in which nobody was
active, date arithmetic on per-customer rows, labels) happens in pandas.

Why narwhals rather than Ibis
-----------------------------
- **The caller's frame stays the input.** narwhals wraps the frame the
  analyst already has (pandas, polars, a DuckDB relation, a Spark
  DataFrame) and runs the query in that frame's own engine; Ibis works
  through a backend connection and would first register a pandas frame as a
  table of its default backend.
- **Native execution.** narwhals translates to each backend's own API, so
  polars runs polars expressions (the fastest engine for pandas input here)
  and Spark runs Spark columns; Ibis compiles to SQL for most backends.
- **Light and stable.** narwhals is a small pure-Python package without
  required dependencies, and the analyses import its ``stable.v2`` API,
  which is kept backward compatible; Ibis with DuckDB, polars and PySpark
  backends pulls in a SQL compiler stack (sqlglot) and more.
- **Polars-style expressions** (group, aggregate, window) read like the
  analyst's own polars or pandas code.
- **Trade-off:** Ibis reaches more SQL databases directly. narwhals reaches
  DuckDB and Spark natively, and databases through DuckDB's scanners or
  SQLFrame, which is enough here.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({"customer_id": ["a", "b", "a"], "amount": [100.0, 50.0, 25.0]})
>>> lf = to_lazy(tx, columns=["customer_id", "amount"])
>>> collect(lf.group_by("customer_id").agg(nw.col("amount").sum()).sort("customer_id"))
  customer_id  amount
0           a   125.0
1           b    50.0
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd

from .checks import message, require_columns, require_in

__all__ = [
    "PANDAS_ENGINE",
    "SUPPORTED_INPUTS",
    "as_timestamp",
    "ascending",
    "check_columns",
    "collect",
    "day_number",
    "derived",
    "engine_of",
    "floor_div",
    "frame_layout",
    "is_missing",
    "member_of",
    "merge_on_ids",
    "month_number",
    "plain_ids",
    "positions_of",
    "share",
    "sorted_codes",
    "sorted_unique",
    "to_lazy",
]

#: Engine that runs analyses of pandas input: ``"polars"``, ``"duckdb"`` or ``"pandas"``.
#: Chosen by measurement (see the module docstring); used when polars is installed.
PANDAS_ENGINE = "polars"

SUPPORTED_INPUTS = (
    "a pandas DataFrame, a polars DataFrame or LazyFrame, a DuckDB relation, "
    "a PySpark DataFrame or a narwhals DataFrame/LazyFrame"
)

_ENGINES = ("auto", "polars", "duckdb", "pandas")

_COLUMNS_HINT = "Name your own columns with the *_col= arguments."


def _pandas_engine(engine: str) -> str:
    require_in(engine, _ENGINES, name="engine")
    if engine != "auto":
        return engine
    try:
        import polars  # noqa: F401
    except ImportError:  # pragma: no cover - polars is a dependency
        return "duckdb"
    return PANDAS_ENGINE


@functools.lru_cache(maxsize=1)
def _duckdb_connection():
    import duckdb

    return duckdb.connect()


def _combine(where: nw.Expr | Iterable[nw.Expr] | None) -> nw.Expr | None:
    if where is None:
        return None
    exprs = [where] if isinstance(where, nw.Expr) else list(where)
    if not exprs:
        return None
    combined = exprs[0]
    for expr in exprs[1:]:
        combined = combined & expr
    return combined


def to_lazy(
    data: Any,
    *,
    columns: Iterable[str] | None = None,
    kinds: dict[str, str] | None = None,
    where: nw.Expr | Iterable[nw.Expr] | None = None,
    engine: str = "auto",
    name: str = "data",
    numbered: Iterable[str] = (),
) -> nw.LazyFrame:
    """Wrap ``data`` as a narwhals LazyFrame in the fastest engine for it.

    Parameters
    ----------
    data : DataFrame-like
        A pandas DataFrame, polars DataFrame or LazyFrame, DuckDB relation,
        PySpark DataFrame, or narwhals frame. It is never modified.
    columns : list of str, optional
        Only these columns are needed; others are never read.
    kinds : dict of str to str, optional
        Column kinds to check with :func:`check_columns` first.
    where : narwhals expression or list of them, optional
        Keep only rows where all are true (null counts as false), as the first
        step of the lazy query, so the engine can skip the other rows early.
    engine : {"auto", "polars", "duckdb", "pandas"}, default="auto"
        Engine for pandas input; ``"auto"`` uses :data:`PANDAS_ENGINE`.
        ``"pandas"`` (narwhals' pandas backend) is correct but very slow for
        the analyses' grouped aggregations; it exists for comparison.
        Ignored for other inputs, which stay in their own engine.
    name : str, default="data"
        Name of the argument, for error messages.
    numbered : list of str, optional
        Id columns the query only compares (groups, counts, filters on missing), whose values never reach its
        result: for pandas input, text ids read from files are read as their numbers (:func:`numbered_ids`),
        which engines group many times faster than text. Missing ids stay missing.

    Returns
    -------
    narwhals.LazyFrame
        For pandas input going to polars, a scan of the frame's own memory
        (through Arrow, without a copy): rows are converted batch by batch as
        the query reads them, and rows that ``where`` drops are never copied.
        The pandas frame must not be modified before the query is collected.

    Raises
    ------
    TypeError
        If ``data`` is not a supported frame, or a column has the wrong kind.
    ValueError
        If a requested column is missing.

    Examples
    --------
    >>> import pandas as pd
    >>> lf = to_lazy(pd.DataFrame({"x": [1, 2, 3]}), where=nw.col("x") > 1)
    >>> lf.implementation.name, collect(lf)["x"].tolist()
    ('POLARS', [2, 3])
    """
    wanted = list(dict.fromkeys(columns)) if columns is not None else None
    if isinstance(data, pd.DataFrame):
        if wanted is not None:
            require_columns(data, wanted, name=name, hint=_COLUMNS_HINT)
            data = data[wanted]
        found = numbered_ids(data, list(data.columns), ids=numbered) if numbered else None
        if found is not None:
            data = found[0]
        chosen = _pandas_engine(engine)
        if chosen == "polars":
            frame = _polars_scan(data)
        elif chosen == "duckdb":
            frame = nw.from_native(_duckdb_connection().from_df(data))
        else:
            frame = nw.from_native(data).lazy()
    else:
        if isinstance(data, (nw.DataFrame, nw.LazyFrame)):
            frame = data
        else:
            try:
                frame = nw.from_native(data)
            except TypeError:
                raise TypeError(
                    message(
                        f"{name} has the wrong type",
                        allowed=SUPPORTED_INPUTS,
                        received=f"{type(data).__module__}.{type(data).__name__}",
                    )
                ) from None
        if isinstance(frame, nw.DataFrame):
            frame = frame.lazy()
        if wanted is not None:
            require_columns(frame, wanted, name=name, hint=_COLUMNS_HINT)
            frame = frame.select(wanted)
    if kinds:
        check_columns(frame, kinds, name=name)
    condition = _combine(where)
    if condition is not None:
        frame = frame.filter(condition)
    return frame


def _polars_scan(data: pd.DataFrame) -> nw.LazyFrame:
    """A polars lazy scan over the pandas frame's memory, through Arrow.

    Measured on 5,000,000 lines (RFM window query): converting the whole
    frame first (``pl.from_arrow``) peaks at about 370 MiB over the data;
    scanning it as a pyarrow dataset peaks at about 275 MiB in the same time,
    because rows are converted batch by batch and filtered as they arrive.
    Predicates are not handed to pyarrow (``allow_pyarrow_filter=False``):
    polars applies them itself, with its own null semantics.
    """
    import polars as pl
    import pyarrow as pa
    import pyarrow.dataset as ds

    table = pa.Table.from_pandas(data, preserve_index=False)
    return nw.from_native(pl.scan_pyarrow_dataset(ds.dataset(table), allow_pyarrow_filter=False))


def engine_of(data: Any) -> str:
    """Name of the engine an analysis of ``data`` runs in.

    Examples
    --------
    >>> import pandas as pd
    >>> engine_of(pd.DataFrame({"x": [1]}))
    'polars'
    """
    return to_lazy(data).implementation.name.lower()


def collect(frame: nw.LazyFrame | nw.DataFrame, *, sort_by: str | list[str] | None = None) -> pd.DataFrame:
    """Run a lazy query and return the (small) result as a pandas DataFrame.

    Parameters
    ----------
    frame : narwhals.LazyFrame or DataFrame
        The query.
    sort_by : str or list of str, optional
        Sort the collected rows by these columns (stable). Per-customer
        results are sorted here rather than in the engine: a final ``ORDER BY``
        over a wide result costs DuckDB more than the whole pandas sort, and a
        global sort is expensive in Spark.

    Returns
    -------
    pandas.DataFrame
        Text columns as pandas' ``str`` dtype, a fresh ``RangeIndex``.
    """
    if isinstance(frame, nw.LazyFrame):
        # Through Arrow: text arrives as Arrow strings (pandas' str dtype) without Python objects,
        # which for DuckDB results is several times faster than its .df().
        if frame.implementation.name == "PANDAS":
            frame = frame.collect()
        else:
            frame = frame.collect(backend="pyarrow")
    native = frame.to_native()
    out = native if isinstance(native, pd.DataFrame) else frame.to_pandas()
    if sort_by is not None:
        out = out.sort_values(sort_by, kind="stable")
    out = out.reset_index(drop=True)
    out.columns.name = None
    return out


def materialize(frame: nw.LazyFrame) -> nw.LazyFrame:
    """Compute a lazy query once, so that several queries built on it do not each recompute it.

    Polars and DuckDB results are collected (into the same engine) and wrapped
    lazily again; Spark caches the DataFrame. Use it on a *small* intermediate
    (one row per customer, say) that feeds several aggregations.

    Examples
    --------
    >>> import pandas as pd
    >>> lazy = to_lazy(pd.DataFrame({"g": ["a", "a", "b"], "x": [1, 2, 3]}))
    >>> once = materialize(lazy.group_by("g").agg(nw.col("x").sum()))
    >>> collect(once, sort_by="g")["x"].tolist()
    [3, 3]
    """
    name = frame.implementation.name
    if name == "PYSPARK":
        return nw.from_native(frame.to_native().cache())
    if name == "POLARS":
        return frame.collect(backend="polars").lazy()
    if name == "DUCKDB":
        connection = _duckdb_connection()
        table = frame.collect(backend="pyarrow").to_native()
        return nw.from_native(connection.from_arrow(table))
    return frame


_KINDS = {
    "id": "text or integer identifiers",
    "datetime": "a datetime (timezone-naive, business time zone)",
    "numeric": "numbers",
    "text": "text",
}


def _kind_ok(dtype, kind: str) -> bool:
    if kind == "id":
        return dtype == nw.String or dtype == nw.Categorical or dtype.is_integer()
    if kind == "text":
        return dtype == nw.String or dtype == nw.Categorical
    if kind == "datetime":
        return dtype == nw.Datetime
    if kind == "numeric":
        return dtype.is_numeric()
    raise ValueError(kind)  # pragma: no cover


def check_columns(frame: nw.LazyFrame | nw.DataFrame, kinds: dict[str, str], *, name: str = "transactions") -> None:
    """Check that the columns exist and have the expected kind of type.

    Parameters
    ----------
    frame : narwhals.LazyFrame
        The input (as returned by :func:`to_lazy`).
    kinds : dict of str to {"id", "datetime", "numeric", "text"}
        Column name to the kind of values it must hold.
    name : str, default="transactions"
        Name of the input, for error messages.

    Raises
    ------
    ValueError
        If a column is missing.
    TypeError
        If a column has the wrong type, naming the column, what is allowed
        and what was received.

    Examples
    --------
    >>> import pandas as pd
    >>> lf = to_lazy(pd.DataFrame({"amount": ["1"]}))
    >>> check_columns(lf, {"amount": "numeric"})
    Traceback (most recent call last):
    ...
    TypeError: transactions column 'amount' has the wrong type; allowed: numbers; received: String.
    """
    require_columns(frame, list(kinds), name=name, hint=_COLUMNS_HINT)
    schema = frame.collect_schema()
    for column, kind in kinds.items():
        dtype = schema[column]
        if not _kind_ok(dtype, kind):
            # an object column whose values give no single type, e.g. one with every value missing
            received = "values of no single type (e.g. all missing)" if dtype == nw.Unknown else str(dtype)
            raise TypeError(
                message(f"{name} column {column!r} has the wrong type", allowed=_KINDS[kind], received=received)
            )
        if (
            kind == "datetime"
            and getattr(dtype, "time_zone", None) is not None
            and frame.implementation.name in ("POLARS", "PANDAS", "PYARROW")
        ):
            raise TypeError(
                message(
                    f"{name} column {column!r} has the wrong type",
                    allowed="a timezone-naive datetime in the business time zone",
                    received=str(dtype),
                    hint="Convert it first (crmtools.data does this on load).",
                )
            )


def as_timestamp(value: Any, name: str) -> pd.Timestamp:
    """A naive ``pd.Timestamp`` from a timestamp, date, string or period (its exclusive end).

    Examples
    --------
    >>> as_timestamp("2025-11-01", "as_of")
    Timestamp('2025-11-01 00:00:00')
    """
    if hasattr(value, "as_of") and hasattr(value, "start"):
        value = value.as_of
    if value is None or isinstance(value, bool):
        raise TypeError(f"{name} must be a date or timestamp such as '2025-11-01'; got {value!r}.")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date or timestamp such as '2025-11-01'; got {value!r}.") from None
    if ts is pd.NaT:
        raise ValueError(f"{name} must be a date or timestamp such as '2025-11-01'; got {value!r}.")
    if ts.tzinfo is not None:
        raise ValueError(f"{name} must be timezone-naive (business time zone, like the data); got {ts}.")
    return ts


def is_missing(frame: nw.LazyFrame, column: str) -> nw.Expr:
    """True where ``column`` is null, or NaN for float columns (pandas' notion of missing)."""
    expr = nw.col(column).is_null()
    if frame.collect_schema()[column].is_float():
        expr = expr | nw.col(column).is_nan().fill_null(False)
    return expr


def lit_datetime(ts: pd.Timestamp) -> nw.Expr:
    """A datetime literal for comparisons with a datetime column."""
    return nw.lit(ts.to_pydatetime())


def floor_div(numerator: nw.Expr, denominator: nw.Expr | int) -> nw.Expr:
    """``floor(numerator / denominator)`` for integer expressions, as an Int64 expression.

    Integer division, never a float division and ``floor``: polars divides
    by a broadcast scalar through its reciprocal, so ``363 * 5 / 1815`` comes
    out as ``0.9999999999999999`` and the floor would be off by one. Keep the
    operands plain columns (not window expressions): narwhals spells ``//``
    for SQL engines as a larger expression that repeats its operands.
    """
    return (numerator // denominator).cast(nw.Int64)


def _leap_days_before(year: nw.Expr) -> nw.Expr:
    # Leap days in years 1..year (proleptic Gregorian), for year >= 1.
    return floor_div(year, 4) - floor_div(year, 100) + floor_div(year, 400)


def day_number(expr: nw.Expr) -> nw.Expr:
    """Whole days from 1970-01-01 to the calendar date of a datetime expression.

    Built from year and day-of-year only, so it runs on every lazy backend
    (Spark has no duration arithmetic in narwhals). The difference of two day
    numbers is the number of calendar days between the two dates.

    Examples
    --------
    >>> import pandas as pd
    >>> lf = to_lazy(pd.DataFrame({"t": pd.to_datetime(["1970-01-01 23:00", "2024-03-01 00:00", "2000-12-31 08:00"])}))
    >>> collect(lf.select(d=day_number(nw.col("t"))))["d"].tolist()
    [0, 19783, 11322]
    """
    year = expr.dt.year().cast(nw.Int64)
    leap_days_1969 = 1969 // 4 - 1969 // 100 + 1969 // 400
    return (
        (year - 1970) * 365 + (_leap_days_before(year - 1) - leap_days_1969) + expr.dt.ordinal_day().cast(nw.Int64) - 1
    )


def day_number_of(ts: pd.Timestamp) -> int:
    """Python counterpart of :func:`day_number` for one timestamp."""
    return int((ts.normalize() - pd.Timestamp("1970-01-01")).days)


def month_number(expr: nw.Expr) -> nw.Expr:
    """Months since year 0 (``year * 12 + month - 1``) of a datetime expression."""
    return expr.dt.year().cast(nw.Int64) * 12 + expr.dt.month().cast(nw.Int64) - 1


def month_number_of(ts: pd.Timestamp) -> int:
    """Python counterpart of :func:`month_number` for one timestamp."""
    return ts.year * 12 + ts.month - 1


def month_label_of(number: int) -> str:
    """``'YYYY-MM'`` for a month number from :func:`month_number`."""
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d integer array: ``np.unique(values)`` by one sort.

    NumPy 2.3+ answers ``np.unique`` without ``return_*`` through a hash table, which for millions of distinct
    integers is about 60 times slower than sorting them (5.9 s against 0.09 s for 3.3 million keys here).

    Examples
    --------
    >>> sorted_unique(np.array([3, 1, 3, 2, 1])).tolist()
    [1, 2, 3]
    """
    values = np.sort(np.asarray(values).ravel())
    if values.size < 2:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def lookup(values: pd.Series, table: pd.Series) -> pd.Series:
    """``values.map(table)`` (``table`` indexed by distinct keys), each distinct value looked up once.

    pandas maps Arrow-backed text value by value in Python (1.6 s for two million campaign ids against a table of
    six); here the values are factorised and the few distinct ones looked up. Missing keys and missing values give
    the table's missing value (NaN, NaT), integers then become floats, as with ``map``.

    Examples
    --------
    >>> ends = pd.Series([3, 5], index=["a", "b"])
    >>> lookup(pd.Series(["b", "a", None, "c", "b"], dtype="str"), ends).tolist()
    [5.0, 3.0, nan, nan, 5.0]
    """
    if values.empty:  # map's own type for no values
        return values.map(table)
    if _arrow_text(values) and _arrow_text(table.index):  # ids against ids (customers): Arrow's hash lookup
        codes, found = positions_of(values, table.index), table
    else:
        codes, uniques = pd.factorize(values)
        found = table.reindex(uniques)
    taken = pd.api.extensions.take(
        found.to_numpy() if found.dtype.kind in "iufb" else found.array, codes, allow_fill=True
    )
    return pd.Series(taken, index=values.index, name=values.name)


def positions_of(values: pd.Series, ids: pd.Index | pd.Series) -> np.ndarray:
    """Each value's position among ``ids`` (int64, -1 where absent): ``pd.Index(ids).get_indexer(values)``.

    ``ids`` must be unique. For text backed by Arrow arrays on both sides (text read from files) without missing
    values, Arrow's own hash lookup finds them; pandas first turns such text into Python strings (four times
    slower for 300,000 ids among 500,000). When the values' codes are known (:func:`sorted_codes`: a run's order
    lines), only their distinct values are looked up. Anything else goes to ``get_indexer``.

    Examples
    --------
    >>> positions_of(pd.Series(["b", "z", "a"], dtype="str"), pd.Index(["a", "b"], dtype="str")).tolist()
    [1, -1, 0]
    """
    index = ids if isinstance(ids, pd.Index) else pd.Index(ids)
    known = _known_codes(values.array._pa_array) if _arrow_text(values, gaps=True) and _arrow_text(index) else None
    if known is not None:  # numbered already (a run's order lines): the distinct values looked up, then taken
        codes, uniques = known
        return np.append(positions_of(pd.Series(uniques.array), index), -1)[codes]
    if not (_arrow_text(values) and _arrow_text(index)):
        return index.get_indexer(values).astype("int64", copy=False)
    import pyarrow as pa
    import pyarrow.compute as pc

    found = values.array._pa_array
    value_set = pa.chunked_array(index.array._pa_array).combine_chunks().cast(found.type)
    return pc.index_in(found, value_set=value_set).fill_null(-1).to_numpy().astype("int64", copy=False)


def ascending(values: pd.Series) -> bool:
    """``values.is_monotonic_increasing``, for Arrow-backed text by comparing neighbours in Arrow (pandas makes
    every value a Python string first: half a million customer ids).

    Examples
    --------
    >>> ascending(pd.Series(["a", "b", "b"], dtype="str")), ascending(pd.Series(["b", "a"], dtype="str"))
    (True, False)
    >>> ascending(pd.Series(["a", None], dtype="str")), ascending(pd.Series([], dtype="str"))
    (False, True)
    """
    if not _arrow_text(values, gaps=True):
        return values.is_monotonic_increasing
    chunked = values.array._pa_array
    if chunked.null_count:  # a missing value is not in any order (as in pandas)
        return False
    if len(chunked) < 2:
        return True
    import pyarrow.compute as pc

    return bool(pc.all(pc.less_equal(chunked.slice(0, len(chunked) - 1), chunked.slice(1))).as_py())


def merge_on_ids(
    left: pd.DataFrame, right: pd.DataFrame, *, on: list[str], how: str = "inner", keep_keys: bool = True
) -> pd.DataFrame:
    """``left.merge(right, on=on, how=how)`` (``how`` ``"inner"`` or ``"left"``) joining text ids as numbers.

    pandas joins Arrow-backed text by turning it into Python strings first; here each key column is numbered by
    its distinct values in ``left`` (:func:`positions_of`), the rows of ``right`` whose ids ``left`` lacks are
    dropped (neither join keeps them), and the join runs on the numbers: the same rows in the same order, the
    same columns. Other key types go to ``merge``. Without ``keep_keys`` the result has no key columns: a caller
    that no longer needs the ids saves copying them to every row of a large result.

    Examples
    --------
    >>> left = pd.DataFrame({"customer_id": pd.Series(["b", "a", "c"], dtype="str"), "x": [1, 2, 3]})
    >>> right = pd.DataFrame({"customer_id": pd.Series(["a", "b", "b", "z"], dtype="str"), "y": [5, 6, 7, 8]})
    >>> merge_on_ids(left, right, on=["customer_id"]).values.tolist()
    [['b', 1, 6], ['b', 1, 7], ['a', 2, 5]]
    """
    if how not in ("inner", "left") or not all(_arrow_text(frame[c], gaps=True) for frame in (left, right) for c in on):
        out = left.merge(right, on=on, how=how)
        return out if keep_keys else out.drop(columns=on)
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = [f"_id{i}" for i in range(len(on))]
    left_codes, right_codes = {}, {}
    for c, number in zip(on, numbers):
        keys = left[c].array._pa_array
        if keys.null_count:  # missing keys match each other (as in pandas): numbered among the distinct values
            distinct = pd.Index(pd.array(pc.unique(keys), dtype=left[c].dtype))
            left_codes[number] = positions_of(left[c], distinct)
        else:  # one hash pass numbers the keys and finds their distinct values (in the same order)
            encoded = pc.dictionary_encode(pa.chunked_array(keys).combine_chunks())
            distinct = pd.Index(pd.array(encoded.dictionary, dtype=left[c].dtype))
            left_codes[number] = encoded.indices.to_numpy().astype("int64")
        right_codes[number] = positions_of(right[c], distinct)
    found = np.logical_and.reduce([code >= 0 for code in right_codes.values()])
    right = right.drop(columns=on).assign(**right_codes).loc[found]
    left = left.assign(**left_codes) if keep_keys else left.drop(columns=on).assign(**left_codes)
    return left.merge(right, on=numbers, how=how).drop(columns=numbers)


def _arrow_text(values: pd.Series | pd.Index, *, gaps: bool = False) -> bool:
    """Text backed by an Arrow array (text read from files), with no missing value unless ``gaps``."""
    chunked = getattr(values.array, "_pa_array", None)
    return chunked is not None and isinstance(values.dtype, pd.StringDtype) and (gaps or not chunked.null_count)


def member_of(values: pd.Series, ids: Any) -> pd.Series:
    """``values.isin(ids)`` for text ids, without pandas' Python loop over ``ids`` for Arrow strings.

    pandas checks Arrow-backed text against a list it builds value by value;
    here Arrow's own hash lookup does it (three times faster for 3.3M lines
    and 166,000 ids). Other dtypes go to ``Series.isin``.

    Examples
    --------
    >>> member_of(pd.Series(["a", "b", None], dtype="str"), {"b", "c"}).tolist()
    [False, True, False]
    """
    chunked = getattr(values.array, "_pa_array", None)
    if chunked is None or not isinstance(values.dtype, pd.StringDtype):
        return values.isin(ids)
    import pyarrow as pa
    import pyarrow.compute as pc

    known = None if chunked.null_count else _known_codes(chunked)
    if known is not None:  # numbered already (a run's order lines): the distinct values looked up, then taken
        codes, uniques = known
        inside = member_of(pd.Series(uniques.array), ids).to_numpy()
        return pd.Series(inside[codes], index=values.index, dtype=bool)
    wanted = pd.Series(list(ids) if isinstance(ids, (set, frozenset)) else ids, dtype=values.dtype)
    found = pc.is_in(chunked, value_set=pa.chunked_array(wanted.array._pa_array).combine_chunks().cast(chunked.type))
    return pd.Series(found.to_numpy(zero_copy_only=False), index=values.index, dtype=bool)


def plain_ids(values: pd.Series) -> bool:
    """Whether numpy code may read ``values`` as ids the way the engine path does: integers or text.

    Text is a pandas string dtype, or an object column of strings (missing
    values aside). Categorical, nullable-integer and mixed columns are not
    plain: analyses with a numpy path hand those to the engine.

    Examples
    --------
    >>> plain_ids(pd.Series(["a", None], dtype="str")), plain_ids(pd.Series([1, "a"], dtype=object))
    (True, False)
    """
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return True
    if isinstance(dtype, pd.StringDtype):
        return True
    return (
        isinstance(dtype, np.dtype) and dtype.kind == "O" and pd.api.types.infer_dtype(values, skipna=True) == "string"
    )


# Codes of Arrow-backed columns, remembered per column: an Arrow array never changes, so while it lives (the
# weak reference) its codes stay right. A report page hands the same transactions to several analyses, each of
# which would otherwise number the same 3.3M text ids again (0.7 s each). A few columns at most are kept, besides
# the columns whose codes were given (:func:`remember_codes`: a run's snapshot brings them, numbered once per run).
_CODES: OrderedDict[int, tuple[weakref.ref, np.ndarray, pd.Index]] = OrderedDict()
_CODES_KEPT = 6
_GIVEN: dict[int, tuple[weakref.ref, np.ndarray, pd.Index]] = {}
_PENDING: list = []  # (column, future) of :func:`number_ahead`, while it numbers the column
_CODES_LOCK = threading.Lock()


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Number the values in their sorted order: codes (int64, -1 where missing) and the sorted distinct values.

    ``pd.factorize(values, sort=True)``, so a smaller code means a smaller
    value and a group-by or sort on the codes follows the values. For a
    column backed by an Arrow array (text loaded from files), which cannot
    change, the result is remembered while the array lives, so analyses of
    the same frame number its ids once; a run of such a column's rows (a
    time window of sorted order lines, :func:`crmtools.slicing.rows_between`)
    takes its codes from the column's. The codes are read-only.

    Examples
    --------
    >>> codes, uniques = sorted_codes(pd.Series(["b", None, "a", "b"], dtype="str"))
    >>> codes.tolist(), uniques.tolist()
    ([1, -1, 0, 1], ['a', 'b'])
    """
    chunked = getattr(values.array, "_pa_array", None)
    if chunked is not None:
        known = _known_codes(chunked)
        if known is not None:
            return known
    codes, uniques = _factorized(values)
    if chunked is not None:
        with _CODES_LOCK:
            _CODES[id(chunked)] = (weakref.ref(chunked), codes, uniques)
            while len(_CODES) > _CODES_KEPT:
                _CODES.popitem(last=False)
    return codes, uniques


def known_distinct(values: pd.Series) -> pd.Index | None:
    """The sorted distinct values (missing left out) of an Arrow-backed column already numbered, else None.

    Numbered: :func:`sorted_codes` has seen the column (or the column it is a run of), its codes were given
    (:func:`remember_codes`), or :func:`number_ahead` is numbering it (then this waits for it). Finding the
    distinct values of 3.3 million text ids again costs half a second.

    Examples
    --------
    >>> ids = pd.Series(["b", None, "a", "b"], dtype="str")
    >>> known_distinct(ids) is None
    True
    >>> _ = sorted_codes(ids); known_distinct(ids).tolist()
    ['a', 'b']
    """
    known = known_codes(values)
    return None if known is None else known[1]


def known_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """:func:`sorted_codes` of an Arrow-backed column already numbered (see :func:`known_distinct`), else None:
    for a caller with a cheaper way than numbering the column afresh.

    Examples
    --------
    >>> ids = pd.Series(["b", None, "a"], dtype="str")
    >>> known_codes(ids) is None
    True
    >>> _ = sorted_codes(ids); [c.tolist() for c in known_codes(ids)]
    [[1, -1, 0], ['a', 'b']]
    """
    chunked = getattr(values.array, "_pa_array", None)
    return None if chunked is None else _known_codes(chunked)


def remember_codes(values: pd.Series, codes: np.ndarray, uniques: pd.Index) -> None:
    """Give :func:`sorted_codes` the codes of an Arrow-backed column, computed elsewhere, for as long as it lives.

    ``codes`` and ``uniques`` must be ``sorted_codes(values)`` (the run's snapshot computes them once, beside the
    column); they are kept apart from the few columns :func:`sorted_codes` remembers on its own. Columns not backed
    by Arrow are ignored.
    """
    chunked = getattr(values.array, "_pa_array", None)
    if chunked is None:
        return
    codes = np.asarray(codes, dtype="int64").view()
    codes.flags.writeable = False
    with _CODES_LOCK:
        for key in [k for k, (ref, _, _) in _GIVEN.items() if ref() is None]:
            del _GIVEN[key]
        _GIVEN[id(chunked)] = (weakref.ref(chunked), codes, pd.Index(uniques))


def number_ahead(columns: Iterable[pd.Series]) -> None:
    """Number Arrow-backed columns (:func:`sorted_codes`) on background threads, for a caller with other work.

    Their codes are then given (:func:`remember_codes`); :func:`sorted_codes` waits for the numbering under way
    rather than doing it twice. A run's plan numbers the order lines' ids while it checks the other tables
    (3.3 million lines: 0.9 s of the customer ids, 2.3 s of the order ids, on a core that is otherwise idle).
    """
    from concurrent.futures import ThreadPoolExecutor

    def number(values: pd.Series) -> None:
        codes, uniques = _factorized(values)
        remember_codes(values, codes, uniques)

    columns = [c for c in columns if getattr(c.array, "_pa_array", None) is not None]
    if columns:
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crmtools-codes")
        with _CODES_LOCK:
            _PENDING.extend((c.array._pa_array, pool.submit(number, c)) for c in columns)
        pool.shutdown(wait=False)


def forget_codes(values: pd.Series) -> None:
    """Drop the codes given for ``values`` (:func:`remember_codes`), once no one will ask for them."""
    chunked = getattr(values.array, "_pa_array", None)
    with _CODES_LOCK:
        _GIVEN.pop(id(chunked), None)


def _factorized(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(values, sort=True)
    codes = codes.astype("int64", copy=False)
    codes.flags.writeable = False
    return codes, pd.Index(uniques)


def _known_codes(chunked) -> tuple[np.ndarray, pd.Index] | None:
    """The codes of a column :func:`sorted_codes` has seen or was given, or of a run of its rows; else None."""
    for future in _numbering(chunked):  # its codes are about to be given (if the numbering failed, number here)
        future.exception()
    with _CODES_LOCK:
        for table in (_GIVEN, _CODES):
            hit = table.get(id(chunked))
            if hit is not None and hit[0]() is chunked:
                if table is _CODES:
                    _CODES.move_to_end(id(chunked))
                return hit[1], hit[2]
        parents = [(ref(), codes, uniques) for ref, codes, uniques in (*_GIVEN.values(), *_CODES.values())]
    for parent, codes, uniques in parents:
        if parent is not None and parent.type == chunked.type and len(parent) >= len(chunked) > 0:
            first = run_start(parent, chunked)
            if first is not None:
                return _dense(codes[first : first + len(chunked)], uniques)
    return None


def _numbering(chunked) -> list:
    """The futures of :func:`number_ahead` numbering ``chunked`` or a column it is a run of (a plan checking one
    table's ids waits for those, not for the numbering of the other columns)."""
    with _CODES_LOCK:
        _PENDING[:] = [(column, future) for column, future in _PENDING if not future.done()]
        pending = list(_PENDING)
    return [
        future
        for column, future in pending
        if column is chunked
        or (column.type == chunked.type and len(column) >= len(chunked) > 0 and run_start(column, chunked) is not None)
    ]


def run_start(parent, child) -> int | None:
    """Where Arrow array ``child`` starts in ``parent`` when its chunks are one run of ``parent``'s rows (a slice
    of it: the same buffers at an offset), else None. Chunks of one array may share buffers at different offsets.

    Examples
    --------
    >>> import pyarrow as pa
    >>> whole = pa.chunked_array([pa.array(["a", "b", "c"]), pa.array(["d", "e"])])
    >>> run_start(whole, whole.slice(2, 2)), run_start(whole, pa.chunked_array([pa.array(["c", "d"])]))
    (2, None)
    """
    start, where = 0, {}
    for chunk in parent.chunks:
        where.setdefault(_buffer_addresses(chunk), []).append((chunk.offset, len(chunk), start))
        start += len(chunk)
    first = expected = None
    for chunk in child.chunks:
        if not len(chunk):
            continue
        spans = where.get(_buffer_addresses(chunk), ())
        begin, end = chunk.offset, chunk.offset + len(chunk)
        position = next(
            (at + begin - offset for offset, size, at in spans if offset <= begin and end <= offset + size), None
        )
        if position is None or (expected is not None and position != expected):
            return None
        first = position if first is None else first
        expected = position + len(chunk)
    return first


def _buffer_addresses(chunk) -> tuple[int, ...]:
    return tuple(0 if buffer is None else buffer.address for buffer in chunk.buffers())


def _dense(codes: np.ndarray, uniques: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Codes into ``uniques`` renumbered among the values present: what ``pd.factorize(sort=True)`` gives."""
    present = codes >= 0
    used = np.bincount(codes[present], minlength=len(uniques)) > 0
    rank = np.append(np.cumsum(used) - 1, -1)  # a missing value (-1) takes the last place: -1
    out = rank[codes].astype("int64", copy=False)
    out.flags.writeable = False
    return out, uniques[used]


def numbered_ids(
    frame: pd.DataFrame, columns: Iterable[str], *, ids: Iterable[str]
) -> tuple[pd.DataFrame, dict[str, pd.Index]] | None:
    """``frame``'s ``columns``, each text id (of ``ids``) replaced by its number among the column's sorted values.

    Engines group, join and sort whole numbers many times faster than text; numbered in sorted order
    (:func:`sorted_codes`, once per column while it lives), the ids keep their order, so a query gives the same
    rows in the same order, and :func:`id_values` turns the numbers back into the ids. Only text backed by an
    Arrow array (text read from files) is numbered; missing ids stay missing (nullable ``Int64``).

    Returns
    -------
    (pandas.DataFrame, dict) or None
        The columns (the numbered ones replaced) and, per numbered column, its sorted distinct values; None when
        ``frame`` is not a pandas frame or none of ``ids`` is such a column. Other columns are left as they are
        (their checks, e.g. a date read as text, stay the query's).

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": pd.array(["b", None, "a"], dtype="str"), "amount": [1.0, 2.0, 3.0]})
    >>> numbered, found = numbered_ids(tx, ["customer_id", "amount"], ids=["customer_id"])
    >>> numbered["customer_id"].tolist(), id_values(numbered["customer_id"], found["customer_id"]).tolist()
    ([1, <NA>, 0], ['b', nan, 'a'])
    """
    if not isinstance(frame, pd.DataFrame) or not frame.columns.is_unique:
        return None
    columns = list(columns)
    text = [
        c
        for c in dict.fromkeys(ids)
        if c in columns
        and c in frame.columns
        and isinstance(frame[c].dtype, pd.StringDtype)
        and getattr(frame[c].array, "_pa_array", None) is not None
    ]
    if not text:
        return None
    out, uniques = frame[[c for c in columns if c in frame.columns]].copy(deep=False), {}
    for c in text:
        codes, uniques[c] = sorted_codes(frame[c])
        out[c] = pd.arrays.IntegerArray(np.maximum(codes, 0), codes < 0)
    return out, uniques


def id_values(numbers: pd.Series, uniques: pd.Index) -> pd.Series:
    """The ids of :func:`numbered_ids`' numbers (missing where a number is missing)."""
    values = numbers.to_numpy(dtype="int64", na_value=-1)
    return pd.Series(uniques.array.take(values, allow_fill=True), index=numbers.index, name=numbers.name)


# --- what a frame's values are, and results derived from them -----------------------------------------------------


def frame_layout(frame: pd.DataFrame | pd.Series) -> tuple | None:
    """Where a frame's values live: its shape, columns and types, and the memory of each column and of the index.

    Under pandas' copy-on-write a frame's values never change where they are
    while another frame shares them (see :func:`share`), and any change to a
    shared frame (a column added, replaced or written to) gives it new memory
    or new columns, so an equal layout means unchanged values. None for a
    storage this does not know (then only the frame's identity counts).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1.0, 2.0]})
    >>> b = a.copy(deep=False)
    >>> frame_layout(a) == frame_layout(b)
    True
    >>> b.loc[0, "x"] = 5.0
    >>> frame_layout(a) == frame_layout(b)
    False
    """
    if isinstance(frame, pd.DataFrame):
        if not frame.columns.is_unique:
            return None
        names, types, columns = tuple(frame.columns), tuple(map(str, frame.dtypes)), [frame[c] for c in frame.columns]
    else:
        names, types, columns = (frame.name,), (str(frame.dtype),), [frame]
    spots = [_memory(part) for part in (frame.index, *columns)]
    return None if None in spots else (frame.shape, names, types, *spots)


def _memory(values) -> tuple | None:
    """The memory a column (or an index) reads (of Python objects: their references); None when unknown."""
    if isinstance(values, pd.RangeIndex):
        return ("range", values.start, values.stop, values.step)
    if isinstance(values, pd.MultiIndex):
        return None
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, categories = _where(values.array.codes), _memory(values.dtype.categories)
        return None if categories is None else ("category", values.dtype.ordered, codes, categories)
    array = values.array
    chunked = getattr(array, "_pa_array", None)
    if chunked is not None:
        return tuple(
            (chunk.offset, len(chunk), *((None, 0) if b is None else (b.address, b.size) for b in chunk.buffers()))
            for chunk in chunked.chunks
        )
    data, mask = getattr(array, "_data", None), getattr(array, "_mask", None)
    if isinstance(data, np.ndarray) and isinstance(mask, np.ndarray):
        return ("masked", *_where(data), *_where(mask))
    raw = getattr(array, "_ndarray", None)
    if raw is None and isinstance(array, np.ndarray):
        raw = array
    return None if raw is None else _where(raw)


def _where(array: np.ndarray) -> tuple:
    return (array.__array_interface__["data"][0], array.shape, array.strides, str(array.dtype))


def share(frame):
    """A shallow copy of ``frame`` to hold beside what is remembered of it.

    While it lives, the frame's memory is shared, so that under copy-on-write no write reaches that memory in
    place: a written frame gets new memory first, and its :func:`frame_layout` changes.
    """
    return frame.copy(deep=False) if isinstance(frame, (pd.DataFrame, pd.Series)) else None


# Frames a process keeps unchanged for all its work, by layout (a report kernel's run data, read once by
# crmtools.notebook, whose pages each get shallow copies): the same values in the same memory.
_KEPT: dict[tuple, weakref.ref] = {}
_KEPT_LOCK = threading.Lock()


def keep(frame: pd.DataFrame) -> None:
    """Declare ``frame`` kept unchanged while it lives, so that results derived from its shallow copies are shared.

    A report kernel reads its run's data once and gives each page shallow copies of the tables
    (:mod:`crmtools.notebook`): the same values in the same memory, but a new frame for each page. Results
    :func:`derived` from such a copy are derived from the kept frame instead (:func:`kept`), so the pages a
    kernel runs one after another build them once. A frame whose layout this does not know is not kept.

    Examples
    --------
    >>> tx = pd.DataFrame({"x": [1, 2]})
    >>> keep(tx)
    >>> copy = tx.copy(deep=False)
    >>> kept(copy) is tx, kept(pd.DataFrame({"x": [1, 2]})) is tx
    (True, False)
    """
    layout = frame_layout(frame)
    if layout is None:
        return
    ref = weakref.ref(frame, functools.partial(_forget_kept, layout))
    with _KEPT_LOCK:
        _KEPT[layout] = ref


def kept(frame):
    """The kept frame (:func:`keep`) whose values ``frame`` shares in the same memory, else ``frame`` itself."""
    if not isinstance(frame, pd.DataFrame):
        return frame
    layout = frame_layout(frame)
    with _KEPT_LOCK:
        ref = _KEPT.get(layout) if layout is not None else None
    twin = ref() if ref is not None else None
    return twin if twin is not None and frame_layout(twin) == layout else frame


def _forget_kept(layout: tuple, ref: weakref.ref) -> None:
    with _KEPT_LOCK:
        if _KEPT.get(layout) is ref:
            del _KEPT[layout]


# (id of the frame, name) -> (weak reference to the frame, its layout, the result, a sharing copy): the last few.
_DERIVED: OrderedDict[tuple[int, str], tuple[weakref.ref, tuple | None, Any, Any]] = OrderedDict()
_DERIVED_KEPT = 8  # the purchase lines, the attribute tables and a few RFM tables of one page
_DERIVED_LOCK = threading.Lock()


def derived(frame: pd.DataFrame, name: str, build):
    """``build(frame)``, remembered for the same frame while its values stay where they are (:func:`frame_layout`).

    For a costly result several analyses derive from the same frame (one
    report page passes its transactions to several): the first call builds
    it, the next ones with the same frame reuse it. A changed frame (a
    shallow copy held beside the result makes any write give it new memory:
    :func:`share`), or another frame, builds it again; the last few results
    are kept, each only as long as its frame lives.

    Examples
    --------
    >>> tx = pd.DataFrame({"x": [1, 2]})
    >>> total = lambda f: int(f["x"].sum())  # noqa: E731
    >>> derived(tx, "total", total), derived(tx, "total", lambda f: -1)
    (3, 3)
    >>> tx.loc[0, "x"] = 10  # written in place: built again
    >>> derived(tx, "total", total)
    12

    A shallow copy of a kept frame (:func:`keep`) shares the kept frame's results: ``build`` is given the kept
    frame.
    """
    frame = kept(frame)
    key, layout = (id(frame), name), frame_layout(frame)
    with _DERIVED_LOCK:
        hit = _DERIVED.get(key)
        if hit is not None and hit[0]() is frame and layout is not None and hit[1] == layout:
            _DERIVED.move_to_end(key)
            return hit[2]
    value = build(frame)
    with _DERIVED_LOCK:
        _DERIVED[key] = (weakref.ref(frame, functools.partial(_forget_derived, key)), layout, value, share(frame))
        while len(_DERIVED) > _DERIVED_KEPT:
            _DERIVED.popitem(last=False)
    return value


def _forget_derived(key: tuple[int, str], ref: weakref.ref) -> None:
    with _DERIVED_LOCK:
        hit = _DERIVED.get(key)
        if hit is not None and hit[0] is ref:
            del _DERIVED[key]
