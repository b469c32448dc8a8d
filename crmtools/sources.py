"""Where the canonical tables come from: files, a DuckDB database, or any SQL database.

The ``data`` section of params names the source:

``source: files`` (the default)
    A folder of table files, or explicit files per table (CSV, TSV, Parquet,
    Excel, or a folder of Parquet files).
``source: duckdb``
    A DuckDB database file (``database: path``), opened read-only.
``source: sql``
    Any database SQLAlchemy can reach (PostgreSQL, via psycopg 3, is the
    reference). The URL never sits in params: it comes from an environment
    variable named by ``url_env`` (e.g. ``CRMTOOLS_DB_URL``) or from a
    connection file outside the repository (``connection_file``, a YAML file
    holding ``url: ...``). A password-free ``url`` (authentication by
    ``~/.pgpass`` or ``PGPASSWORD``) may sit in params; one with a password is
    refused.

For a database, each canonical table is a database table of the same name
unless ``tables.<name>`` gives a ``table`` (``schema.table`` allowed) or a
``query``; a table may still come from a ``file``. Column mappings and fills
work as for files, and every frame goes through the same coercion, checks and
policies (:func:`crmtools.data.validate_raw`).

Only the rows a period needs are read: transactions are filtered to
``since <= order_datetime < until`` in the source (a ``WHERE`` clause with
bound parameters for databases, pyarrow ``filters`` for Parquet), then again,
exactly, after the dates are read, so every source gives the same rows. Rows
from a database come back in a fixed order (time, then key), whatever order
the database returns them in.

Passwords never appear in reports, manifests, logs or error messages: URLs are
shown masked (``postgresql://user:***@host/db``) and database error text is
scrubbed of the password.

The work is layered, each module importing only the ones before it:
:mod:`crmtools.dataconfig` describes and checks the sources (:class:`~crmtools.dataconfig.DataConfig`,
:func:`check_config`, :func:`mask_url`); :mod:`crmtools.readers` reads raw
tables from them (:func:`open_reader`, :func:`read_file`, :func:`period_window`,
:func:`order_date_range`); :mod:`crmtools.data` validates them into a
:class:`~crmtools.data.Dataset`. This module adds what needs validated data
(:func:`default_period`, copying a folder into a database) and gathers the
source functions under one name.

Examples
--------
>>> mask_url("postgresql+psycopg://analyst:s3cret@db.example.com:5432/crm")
'postgresql+psycopg://analyst:***@db.example.com:5432/crm'
>>> import pandas as pd, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> tx = pd.DataFrame({"order_id": ["1", "2"], "customer_id": ["a", "b"],
...                    "order_datetime": pd.to_datetime(["2025-09-30 10:00", "2025-10-02 09:00"]),
...                    "product_id": ["A", "B"], "quantity": [1, 2], "unit_price": [100.0, 50.0],
...                    "amount": [100.0, 100.0], "channel": ["web", "web"]})
>>> tx.to_parquet(folder / "transactions.parquet")
>>> write_tables_to_duckdb(folder, folder / "crm.duckdb")
{'transactions': 2}
>>> from crmtools.data import DataConfig, load_dataset
>>> config = DataConfig(source="duckdb", database=str(folder / "crm.duckdb"))
>>> load_dataset(config, until=pd.Timestamp("2025-10-01")).transactions["order_id"].tolist()
['1']
>>> default_period(config).label
'2025-09'
"""

from __future__ import annotations

import os

from .data import inspect_dataset, load_table
from .dataconfig import (
    SOURCES,
    DataConfig,
    check_config,
    describe_source,
    mask_url,
    resolve_url,
    scrub_secrets,
    url_has_password,
    url_secrets,
)
from .errors import DataValidationError
from .periods import Period, last_complete_month
from .readers import (
    first_error_line,
    frame_fingerprint,
    latest_order_datetime,
    open_reader,
    order_date_range,
    period_window,
    read_file,
)
from .schema import TABLES
from .validation import Policies

__all__ = [
    "SOURCES",
    "check_config",
    "default_period",
    "describe_source",
    "frame_fingerprint",
    "latest_order_datetime",
    "mask_url",
    "open_reader",
    "order_date_range",
    "period_window",
    "read_file",
    "resolve_url",
    "url_has_password",
    "write_tables_to_duckdb",
    "write_tables_to_sql",
]


def default_period(config: DataConfig) -> Period:
    """The last complete month of the source's latest order (a cheap scan, before loading).

    Raises
    ------
    DataValidationError
        When the transactions cannot be read (every problem, as loading reports them).
    ValueError
        When there are no transactions.
    """
    latest = latest_order_datetime(config)
    if latest is None:
        dataset, problems, _ = inspect_dataset(config)
        if problems:
            raise DataValidationError(problems)
        if dataset.transactions.empty or dataset.transactions["order_datetime"].isna().all():
            raise ValueError("No transactions to report on: the data set is empty.")
        latest = dataset.transactions["order_datetime"].max()
    return last_complete_month(latest)


# ---------------------------------------------------------------------------------------------------- writing


def _canonical_frames(dataset_dir, policies: Policies | None, timezone: str):
    config = DataConfig(path=str(dataset_dir), policies=policies or Policies(), timezone=timezone)
    found = False
    for name in TABLES:
        source = config.source_for(name)
        if source is None:
            continue
        found = True
        yield name, load_table(name, source, timezone=timezone, policies=config.policies)
    if not found:
        raise ValueError(
            f"No table files found in {dataset_dir}; expected files such as transactions.parquet "
            "(write the sample with: crmtools sample-data)."
        )


def write_tables_to_sql(
    dataset_dir: str | os.PathLike,
    engine,
    *,
    schema: str | None = None,
    if_exists: str = "fail",
    policies: Policies | None = None,
    timezone: str = "Asia/Tokyo",
    chunksize: int = 10_000,
) -> dict[str, int]:
    """Copy the canonical tables of a data folder into a SQL database, one table each, canonical names.

    Each table is loaded and validated first (so the database gets proper
    column types), then written with :meth:`pandas.DataFrame.to_sql`. Read it
    back with ``data: {source: sql, url_env: ...}``: the canonical names are
    the defaults.

    Parameters
    ----------
    dataset_dir : path
        A folder of table files (e.g. written by ``crmtools sample-data``).
    engine : sqlalchemy.engine.Engine or str
        Where to write; a URL is connected to and disposed of afterwards.
    schema : str, optional
        Database schema; the default schema when None.
    if_exists : {"fail", "replace", "append"}, default="fail"
        What to do with a table that already exists.
    policies : Policies, optional
        Validation policies for loading the files.
    timezone : str, default="Asia/Tokyo"
        Business time zone.
    chunksize : int, default=10000
        Rows per insert batch.

    Returns
    -------
    dict
        Table name -> rows written.
    """
    if if_exists not in ("fail", "replace", "append"):
        raise ValueError(f"if_exists must be one of ['fail', 'replace', 'append']; got {if_exists!r}.")
    import sqlalchemy

    own = isinstance(engine, str)
    target = sqlalchemy.create_engine(engine) if own else engine
    url = target.url.render_as_string(hide_password=False)
    written = {}
    try:
        for name, frame in _canonical_frames(dataset_dir, policies, timezone):
            try:
                frame.to_sql(name, target, schema=schema, if_exists=if_exists, index=False, chunksize=chunksize)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                raise ValueError(
                    f"Writing table {name!r} to {mask_url(url)} failed: "
                    f"{scrub_secrets(first_error_line(exc), url_secrets(url))}"
                ) from None
            written[name] = len(frame)
    finally:
        if own:
            target.dispose()
    return written


def write_tables_to_duckdb(
    dataset_dir: str | os.PathLike,
    database: str | os.PathLike,
    *,
    replace: bool = False,
    policies: Policies | None = None,
    timezone: str = "Asia/Tokyo",
) -> dict[str, int]:
    """Copy the canonical tables of a data folder into a DuckDB database file (created when missing).

    Parameters
    ----------
    dataset_dir : path
        A folder of table files.
    database : path
        The DuckDB file.
    replace : bool, default=False
        Replace tables that exist; otherwise an existing table is an error.
    policies : Policies, optional
        Validation policies for loading the files.
    timezone : str, default="Asia/Tokyo"
        Business time zone.

    Returns
    -------
    dict
        Table name -> rows written.
    """
    import duckdb

    con = duckdb.connect(str(database))
    written = {}
    try:
        for name, frame in _canonical_frames(dataset_dir, policies, timezone):
            con.register("crmtools_frame", frame)
            try:
                create = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
                con.execute(f'{create} "{name}" AS SELECT * FROM crmtools_frame')
            except duckdb.CatalogException as exc:
                raise ValueError(
                    f"Table {name!r} already exists in {database}; pass replace=True (--replace) "
                    f"to overwrite it ({first_error_line(exc)})."
                ) from None
            finally:
                con.unregister("crmtools_frame")
            written[name] = len(frame)
    finally:
        con.close()
    return written
