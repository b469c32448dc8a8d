"""Apache Spark: start a session, hand data to Spark, and run the analyses there.

The aggregation-heavy analyses (:mod:`crmtools.rfm`, :mod:`crmtools.deciles`,
:mod:`crmtools.cohorts`, :mod:`crmtools.repeat`, :mod:`crmtools.kpis`) are
written once against narwhals (:mod:`crmtools.engine`) and accept a PySpark
``DataFrame`` as they accept a pandas one: the grouping, windows and joins run
in Spark, and only the small result (one row per customer, decile, cohort
month or KPI) comes back to the driver as pandas. Basket analysis on Spark
uses Spark's own distributed FP-growth (:mod:`crmtools.basket_spark`).

This module holds the glue, and nothing that computes a statistic:

- :func:`spark_session`: a local session (``local[2]``) by default, a cluster
  through a ``spark.master`` URL (``spark://host:7077``, ``yarn``,
  ``k8s://...``) or Spark Connect (``sc://host:15002``);
  :func:`session_from_params` does the same from the ``engine`` section of
  the run parameters.
- :func:`to_spark`: a pandas frame (or Arrow table) as a Spark DataFrame,
  through Arrow, with canonical types (text, naive timestamps).
- :func:`read_spark_table`: a Parquet file or folder as a Spark DataFrame,
  reading only the columns and the period asked for.
- :func:`as_backend`: canonical transactions in the engine named by
  ``engine.backend`` (pandas, DuckDB, polars or Spark).

Timestamps
----------
The canonical model's datetimes are naive, in the business time zone. The
sessions made here set ``spark.sql.timestampType=TIMESTAMP_NTZ`` (naive
timestamps, as in the data) and ``spark.sql.session.timeZone=UTC`` so that no
value is shifted between pandas and Spark; Parquet files written by pandas
store naive timestamps and are read as ``TIMESTAMP_NTZ``.

Examples
--------
A session needs Java and pyspark, so this example is not run as a doctest
(``tests/test_spark.py`` runs the same calls)::

    from crmtools.spark import spark_session, read_spark_table
    from crmtools.rfm import rfm_table

    spark = spark_session()                     # local[2]; or spark_session("sc://host:15002")
    tx = read_spark_table("data/sample/transactions.parquet", session=spark)
    rfm = rfm_table(tx, as_of="2025-11-01")     # aggregated in Spark, one row per customer back
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "BACKENDS",
    "DEFAULT_MASTER",
    "as_backend",
    "read_spark_table",
    "session_from_params",
    "spark_session",
    "to_spark",
]

#: Master used when none is given: Spark in this process's machine, two worker threads.
DEFAULT_MASTER = "local[2]"

#: Values of the ``engine.backend`` parameter.
BACKENDS = ("pandas", "duckdb", "polars", "spark")

#: Settings every crmtools session gets (callers may override any of them with ``config=``).
_SESSION_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

#: Extra settings for local mode only: no web UI or progress bar, few shuffle partitions (AQE coalesces
#: them further); a cluster keeps its own.
_LOCAL_DEFAULTS = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
}

_PANDAS3_WARNING = "PySpark does not yet fully support pandas"


def _require_pyspark():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise ImportError(
            "Spark support needs pyspark: install it with `pip install 'crmtools[spark]'` "
            "(and Java 17 or later for a local session)."
        ) from None


def spark_session(master: str | None = None, *, app_name: str = "crmtools", config: Mapping[str, Any] | None = None):
    """A SparkSession: local by default, or on a cluster, or through Spark Connect.

    Parameters
    ----------
    master : str or None, default=None
        Where Spark runs:

        - None: the Spark Connect URL in the ``SPARK_REMOTE`` environment
          variable if set; else the ``--master`` of ``spark-submit`` when the
          process was started by it; else :data:`DEFAULT_MASTER`
          (``"local[2]"``);
        - ``"local[N]"``: in this machine with N threads;
        - a cluster master URL: ``"spark://host:7077"``, ``"yarn"``,
          ``"k8s://https://host:6443"``;
        - a Spark Connect URL: ``"sc://host:15002"`` (needs
          ``pip install 'pyspark[connect]'``; the connection token, if the
          server needs one, belongs in the ``SPARK_REMOTE`` environment
          variable, never in params).
    app_name : str, default="crmtools"
        Application name shown by the cluster manager.
    config : mapping, optional
        Spark settings (``{"spark.driver.memory": "8g", ...}``), applied over
        crmtools' defaults (naive timestamps, UTC session time zone, Arrow
        transfers; and in local mode no web UI and 8 shuffle partitions).

    Returns
    -------
    pyspark.sql.SparkSession
        The active session of this process if there is one (``getOrCreate``;
        settings that only apply at start-up are then ignored by Spark).

    Raises
    ------
    TypeError
        If ``master`` or ``app_name`` is not text, or ``config`` not a mapping.
    ImportError
        If pyspark (or, for ``sc://``, its Connect client) is not installed.

    Examples
    --------
    >>> spark_session(7)
    Traceback (most recent call last):
    ...
    TypeError: master must be text such as 'local[2]', 'spark://host:7077' or 'sc://host:15002', or None; got int 7.
    """
    if master is not None and not isinstance(master, str):
        raise TypeError(
            f"master must be text such as 'local[2]', 'spark://host:7077' or 'sc://host:15002', or "
            f"None; got {type(master).__name__} {master!r}."
        )
    if not isinstance(app_name, str) or not app_name:
        raise TypeError(f"app_name must be non-empty text; got {app_name!r}.")
    if config is not None and not isinstance(config, Mapping):
        raise TypeError(f"config must be a mapping of Spark settings to values; got {type(config).__name__}.")
    _require_pyspark()
    from pyspark.sql import SparkSession

    settings = dict(_SESSION_DEFAULTS)
    builder = SparkSession.builder.appName(app_name)
    if master is None and os.environ.get("SPARK_REMOTE"):
        master = os.environ["SPARK_REMOTE"]  # Spark Connect URL, possibly with its token, kept out of params
    if master is not None and master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        if master is None and not os.environ.get("PYSPARK_GATEWAY_PORT"):
            master = DEFAULT_MASTER  # (under spark-submit the gateway port is set, and its --master wins)
        if master is not None:
            builder = builder.master(master)
            if master.startswith("local"):
                settings.update(_LOCAL_DEFAULTS)
    settings.update({str(k): v for k, v in (config or {}).items()})
    for key, value in settings.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    return builder.getOrCreate()


def session_from_params(
    params: Mapping[str, Any], *, app_name: str = "crmtools", config: Mapping[str, Any] | None = None
):
    """The SparkSession the ``engine`` section of the run parameters asks for.

    ``engine.spark_connect_url`` (``sc://host:15002``) wins over
    ``engine.spark_master``; with neither, a local session.

    Parameters
    ----------
    params : mapping
        Validated run parameters (:func:`crmtools.params.load_params`), or
        just ``{"engine": {...}}``.
    app_name, config
        As in :func:`spark_session`.

    Returns
    -------
    pyspark.sql.SparkSession
    """
    engine = dict(params.get("engine") or {})
    master = engine.get("spark_connect_url") or engine.get("spark_master")
    return spark_session(master, app_name=app_name, config=config)


def _arrow_for_spark(table):
    """Arrow types Spark reads: text for null and dictionary columns, microsecond timestamps, plain strings."""
    import pyarrow as pa

    fields = []
    for field in table.schema:
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_null(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            kind = pa.string()
        elif pa.types.is_timestamp(kind) and kind.unit != "us":
            kind = pa.timestamp("us", tz=kind.tz)
        elif pa.types.is_date64(kind):
            kind = pa.date32()
        fields.append(pa.field(field.name, kind))
    target = pa.schema(fields)
    return table if target == table.schema else table.cast(target)


def to_spark(frame: Any, session: Any):
    """A pandas DataFrame (or pyarrow Table) as a Spark DataFrame, through Arrow.

    Columns keep their names and order; text (``str``, ``category``,
    all-missing ``object``) becomes ``string``, naive datetimes become
    ``timestamp_ntz`` (microseconds), numbers keep their width. The index is
    dropped. The frame is not modified.

    Parameters
    ----------
    frame : pandas.DataFrame or pyarrow.Table
        The data, e.g. canonical transactions.
    session : pyspark.sql.SparkSession
        The session to create the DataFrame in (see :func:`spark_session`).

    Returns
    -------
    pyspark.sql.DataFrame

    Raises
    ------
    TypeError
        If ``frame`` is neither a pandas DataFrame nor a pyarrow Table.

    Examples
    --------
    >>> to_spark([1, 2], session=None)
    Traceback (most recent call last):
    ...
    TypeError: frame must be a pandas DataFrame or a pyarrow Table; got list.
    """
    import pyarrow as pa

    if isinstance(frame, pd.DataFrame):
        table = pa.Table.from_pandas(frame, preserve_index=False)
    elif isinstance(frame, pa.Table):
        table = frame
    else:
        raise TypeError(f"frame must be a pandas DataFrame or a pyarrow Table; got {type(frame).__name__}.")
    table = _arrow_for_spark(table)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_PANDAS3_WARNING, category=FutureWarning)
        return session.createDataFrame(table)


def _timestamp_literal(value: Any, name: str, data_type):
    from pyspark.sql import functions as F

    from .engine import as_timestamp

    ts = as_timestamp(value, name)
    return F.lit(ts.isoformat(sep=" ")).cast(data_type)


def read_spark_table(
    path: str | Path,
    *,
    session: Any,
    columns: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    date_col: str = "order_datetime",
):
    """Read a Parquet file or folder into Spark, only the columns and the period needed.

    Parquet lets Spark skip the other columns, and row groups outside
    ``[start, end)`` (the filter is pushed into the scan). The path is read
    by the Spark executors, so on a cluster it must be a path they can reach
    (``hdfs://``, ``s3a://``, ``abfss://``, a shared file system). A table in
    the cluster's catalogue is ``session.table("db.order_lines")`` instead;
    any Spark DataFrame with canonical columns works with the analyses.

    Parameters
    ----------
    path : str or Path
        A Parquet file, or a folder of Parquet parts (Hive partition folders
        such as ``year=2025/`` included).
    session : pyspark.sql.SparkSession
        The session to read with.
    columns : list of str, optional
        Only these columns, in this order (default: all).
    start, end : timestamp, str or None, default=None
        Keep only rows with ``start <= date_col < end`` (either may be None).
    date_col : str, default="order_datetime"
        The datetime column the period applies to.

    Returns
    -------
    pyspark.sql.DataFrame

    Raises
    ------
    ValueError
        If a requested column (or ``date_col`` with a period) is missing, or
        ``end <= start``.
    """
    frame = session.read.parquet(str(path))
    have = list(frame.columns)
    wanted = list(dict.fromkeys(columns)) if columns is not None else have
    needed = wanted + ([date_col] if (start is not None or end is not None) and date_col not in wanted else [])
    missing = [c for c in needed if c not in have]
    if missing:
        raise ValueError(
            f"{path} has no column{'s' if len(missing) > 1 else ''} {missing}: the columns asked for "
            f"({needed}) must be in the file; columns found: {have}."
        )
    if start is not None or end is not None:
        from pyspark.sql import functions as F

        data_type = frame.schema[date_col].dataType
        condition = None
        if start is not None:
            condition = F.col(date_col) >= _timestamp_literal(start, "start", data_type)
        if end is not None:
            below = F.col(date_col) < _timestamp_literal(end, "end", data_type)
            condition = below if condition is None else condition & below
        if start is not None and end is not None:
            from .engine import as_timestamp

            if as_timestamp(end, "end") <= as_timestamp(start, "start"):
                raise ValueError(
                    f"end must be after start (the period is [start, end)); got start={start!r}, end={end!r}."
                )
        frame = frame.filter(condition)
    return frame.select(*wanted)


def as_backend(frame: pd.DataFrame, backend: str = "pandas", *, session: Any = None):
    """Canonical data (a pandas frame) in the engine named by ``engine.backend``.

    The analyses accept the result unchanged; every engine gives the same
    results (``tests/test_spark.py``).

    Parameters
    ----------
    frame : pandas.DataFrame
        E.g. ``load_dataset(...).transactions``. Not modified.
    backend : {"pandas", "duckdb", "polars", "spark"}, default="pandas"
        ``"pandas"`` returns ``frame`` itself (the analyses then run it
        through :data:`crmtools.engine.PANDAS_ENGINE`); ``"duckdb"`` a DuckDB
        relation; ``"polars"`` a polars DataFrame; ``"spark"`` a Spark
        DataFrame in ``session``.
    session : pyspark.sql.SparkSession, optional
        Needed for ``"spark"`` (see :func:`spark_session`).

    Returns
    -------
    pandas.DataFrame, duckdb.DuckDBPyRelation, polars.DataFrame or pyspark.sql.DataFrame

    Raises
    ------
    ValueError
        If ``backend`` is not one of :data:`BACKENDS`, or ``"spark"`` is asked
        without a session.

    Examples
    --------
    >>> import pandas as pd
    >>> type(as_backend(pd.DataFrame({"x": [1]}), "polars")).__name__
    'DataFrame'
    >>> as_backend(pd.DataFrame({"x": [1]}), "dask")
    Traceback (most recent call last):
    ...
    ValueError: backend must be one of ('pandas', 'duckdb', 'polars', 'spark'); got 'dask'.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}.")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame; got {type(frame).__name__}.")
    if backend == "pandas":
        return frame
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    if backend == "polars":
        import polars as pl

        return pl.from_arrow(table)
    if backend == "duckdb":
        import duckdb

        # DuckDB's default connection, the one duckdb.sql() and duckdb.read_parquet() use, so the relation
        # can be joined with the user's other relations (relations of two connections cannot be joined).
        return duckdb.from_arrow(table)
    if session is None:
        raise ValueError(
            "backend='spark' needs a SparkSession: pass session=spark_session() (or "
            "session_from_params(params)); got session=None."
        )
    return to_spark(table, session)
