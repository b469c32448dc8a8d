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

Examples
--------
>>> mask_url("postgresql+psycopg://analyst:s3cret@db.example.com:5432/crm")
'postgresql+psycopg://analyst:***@db.example.com:5432/crm'
>>> import tempfile, pathlib
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

import contextlib
import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pandas as pd

from .data import _SUFFIXES, DataConfig, TableSource, _read_raw, file_fingerprint, load_table, validate_raw
from .errors import DataValidationError, Problem
from .periods import Period, last_complete_month
from .schema import TABLES, TRANSACTIONS, TableSpec
from .validation import Policies, coerce_table

__all__ = [
    "SOURCES",
    "mask_url",
    "url_has_password",
    "resolve_url",
    "check_config",
    "describe_source",
    "period_window",
    "read_file",
    "open_reader",
    "order_date_range",
    "latest_order_datetime",
    "default_period",
    "frame_fingerprint",
    "write_tables_to_sql",
    "write_tables_to_duckdb",
]

#: Allowed values of ``data.source``.
SOURCES = ("files", "duckdb", "sql")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*://)(?P<rest>.*)$", re.S)
_SECRET_PARAM = re.compile(r"(?i)(\b(?:password|passwd|pwd)\s*=\s*)('[^']*'|\"[^\"]*\"|[^&;\s]*)")
_ALIAS = "crmtools_source"


# ---------------------------------------------------------------------------------------------------- URLs

def _password_span(url: str) -> tuple[int, int] | None:
    """Start and end of the password in a URL's user part (``user:password@``), or None.

    Everything between the first ``:`` after the scheme and the last ``@`` counts, so that a password
    with unescaped ``@``, ``/``, ``?`` or ``#`` is still masked whole: masking too much is better than
    showing a password.
    """
    match = _SCHEME.match(url)
    start = match.end("scheme") if match else 0
    rest = url[start:]
    at = rest.rfind("@")
    colon = rest.find(":", 0, at) if at >= 0 else -1
    return (start + colon + 1, start + at) if colon >= 0 else None


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (in the user part and in ``password=`` options).

    Parameters
    ----------
    url : str
        A database URL, SQLAlchemy style (``dialect+driver://user:password@host:port/database?options``).

    Returns
    -------
    str

    Examples
    --------
    >>> mask_url("postgresql://analyst:p%40ss@db:5432/crm?sslmode=require")
    'postgresql://analyst:***@db:5432/crm?sslmode=require'
    >>> mask_url("postgresql://db/crm?user=analyst&password=s3cret")
    'postgresql://db/crm?user=analyst&password=***'
    >>> mask_url("sqlite:///shop.db")
    'sqlite:///shop.db'
    """
    text = str(url)
    span = _password_span(text)
    if span is not None:
        text = text[:span[0]] + "***" + text[span[1]:]
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "***", text)


def url_has_password(url: str) -> bool:
    """Whether ``url`` carries a password (in the user part or as a ``password=`` option).

    Examples
    --------
    >>> url_has_password("postgresql://analyst:s3cret@db/crm"), url_has_password("postgresql://analyst@db/crm")
    (True, False)
    """
    return bool(_secrets(str(url)))


def _secrets(url: str) -> list[str]:
    """The password(s) in ``url``, raw and percent-decoded, longest first."""
    found = []
    span = _password_span(url)
    if span is not None:
        found.append(url[span[0]:span[1]])
    found += [m.group(2).strip("'\"") for m in _SECRET_PARAM.finditer(url)]
    found = [s for s in found if s]
    found += [unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    """``text`` with every secret and every URL password masked."""
    out = str(text)
    for secret in secrets:
        out = out.replace(secret, "***")
    out = re.sub(r"[A-Za-z][\w+.-]*://\S+", lambda m: mask_url(m.group(0)), out)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "***", out)


def _first_line(exc: BaseException) -> str:
    """The database's own message: the DBAPI error's first line, without pandas' or SQLAlchemy's wrapping."""
    inner = exc
    for _ in range(5):  # pandas wraps SQLAlchemy's error, which wraps the driver's
        deeper = getattr(inner, "orig", None) or inner.__cause__
        if deeper is None:
            break
        inner = deeper
    text = str(inner).strip()
    line = text.splitlines()[0].strip() if text else type(inner).__name__
    return line[:300]


def resolve_url(config: DataConfig) -> str:
    """The database URL of a ``source: sql`` config: ``url``, else ``$url_env``, else the connection file.

    Raises
    ------
    ValueError
        When none is given, the variable is unset or the file is missing or malformed; messages never
        show a password.
    """
    if config.url:
        return str(config.url)
    if config.url_env:
        value = os.environ.get(config.url_env, "").strip()
        if not value:
            raise ValueError(
                f"The environment variable {config.url_env} (data.url_env) is not set or empty; expected the "
                f"database URL in SQLAlchemy style, e.g. export {config.url_env}="
                "'postgresql+psycopg://user:password@host:5432/crm'.")
        return value
    if config.connection_file:
        import yaml

        path = Path(config.connection_file).expanduser()
        if not path.is_file():
            raise ValueError(f"Connection file not found: {path} (data.connection_file); expected a YAML file "
                             "outside the repository holding url: postgresql+psycopg://user:password@host:5432/crm.")
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError) as exc:
            raise ValueError(f"Connection file {path} cannot be read as UTF-8 text ({type(exc).__name__}); "
                             "expected a YAML file holding url: ...") from None
        except yaml.YAMLError as exc:  # the message may quote the file: show only where
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ValueError(f"Connection file {path} is not valid YAML{where}; expected "
                             "url: postgresql+psycopg://user:password@host:5432/crm.") from None
        if not isinstance(content, dict) or not isinstance(content.get("url"), str) or not content["url"].strip():
            keys = sorted(content) if isinstance(content, dict) else type(content).__name__
            raise ValueError(f"Connection file {path} must hold a mapping with a 'url' entry, e.g. "
                             f"url: postgresql+psycopg://user:password@host:5432/crm; got {keys}.")
        return content["url"].strip()
    raise ValueError("data.source: sql needs the database URL, and params must not hold a password: name the "
                     "environment variable that holds it with data.url_env (e.g. CRMTOOLS_DB_URL), or a YAML "
                     "connection file outside the repository with data.connection_file "
                     "(e.g. ~/.config/crmtools/db.yaml holding url: ...).")


def check_config(config: DataConfig, *, base_dir: str | os.PathLike | None = None) -> None:
    """Check that a data configuration names a usable source; raise ValueError naming the option.

    Examples
    --------
    >>> check_config(DataConfig(source="sql", url="postgresql://analyst:s3cret@db/crm"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: data.url holds a password (postgresql://analyst:***@db/crm): ... name it with data.url_env ...
    """
    if config.source not in SOURCES:
        raise ValueError(f"data.source must be one of {list(SOURCES)}; got {config.source!r}.")
    if config.url and url_has_password(config.url):
        raise ValueError(
            f"data.url holds a password ({mask_url(config.url)}): passwords must never be in params (they end up "
            "in git, reports and run manifests). Put the URL in an environment variable and name it with "
            "data.url_env (e.g. url_env: CRMTOOLS_DB_URL), or in a connection file outside the repository "
            "(data.connection_file).")
    if config.url_env and not _ENV_NAME.match(config.url_env):
        shown = mask_url(config.url_env) if "://" in config.url_env else repr(config.url_env)
        raise ValueError(f"data.url_env must be the NAME of an environment variable holding the URL "
                         f"(letters, digits, _), e.g. CRMTOOLS_DB_URL; got {shown}.")
    if config.connection_file and base_dir is not None:
        file = Path(config.connection_file).expanduser().resolve()
        root = Path(base_dir).expanduser().resolve()
        if file == root or root in file.parents:
            raise ValueError(f"data.connection_file must live outside the project folder (it holds a password "
                             f"and must not be committed), e.g. ~/.config/crmtools/db.yaml; got {file}.")
    if config.source == "duckdb" and not config.database:
        raise ValueError("data.source: duckdb needs data.database, the path of the DuckDB database file; got none.")
    if config.source == "sql":
        given = [k for k in ("url", "url_env", "connection_file") if getattr(config, k)]
        if len(given) > 1:
            raise ValueError(f"Give one of data.url_env, data.connection_file or data.url for source: sql; "
                             f"got {given}.")
    for name, source in config.tables.items():
        picked = [k for k in ("file", "table", "query") if getattr(source, k)]
        if len(picked) > 1:
            raise ValueError(f"data.tables.{name} must give one of file, table or query; got {picked}.")
        if config.source == "files" and picked and picked[0] != "file":
            raise ValueError(f"data.tables.{name}.{picked[0]} reads from a database: set data.source to duckdb or "
                             f"sql; got source: files.")


def describe_source(config: DataConfig) -> str:
    """Where a configuration reads from, safe to print (URLs masked).

    Examples
    --------
    >>> describe_source(DataConfig(path="data/sample"))
    'data/sample'
    >>> describe_source(DataConfig(source="sql", url_env="CRMTOOLS_DB_URL"))
    'SQL database at $CRMTOOLS_DB_URL'
    """
    if config.source == "duckdb":
        return f"DuckDB database {config.database}"
    if config.source == "sql":
        if config.url:
            return f"SQL database {mask_url(config.url)}"
        if config.url_env:
            value = os.environ.get(config.url_env)
            return f"SQL database {mask_url(value)}" if value else f"SQL database at ${config.url_env}"
        return f"SQL database from {config.connection_file}"
    return str(config.path)


# ---------------------------------------------------------------------------------------------------- periods

def period_window(since=None, until=None, *, timezone: str = "Asia/Tokyo") -> tuple[pd.Timestamp | None,
                                                                                     pd.Timestamp | None]:
    """Normalise a ``[since, until)`` window to naive business-time timestamps.

    Examples
    --------
    >>> period_window(None, "2025-11-01")
    (None, Timestamp('2025-11-01 00:00:00'))
    >>> period_window("2025-11-01", "2025-10-01")
    Traceback (most recent call last):
    ...
    ValueError: The period window is empty: since (2025-11-01 00:00:00) must be before until (2025-10-01 00:00:00).
    """
    def one(value, name):
        if value is None:
            return None
        if isinstance(value, Period):
            raise TypeError(f"{name} must be a timestamp such as period.end or '2025-11-01'; got a Period "
                            f"({value.label}).")
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a timestamp such as '2025-11-01'; got {type(value).__name__} "
                            f"{value!r}.") from None
        if ts is pd.NaT:
            raise ValueError(f"{name} must be a timestamp; got {value!r}.")
        if ts.tzinfo is not None:
            ts = ts.tz_convert(timezone).tz_localize(None)
        return ts

    since, until = one(since, "since"), one(until, "until")
    if since is not None and until is not None and since >= until:
        raise ValueError(f"The period window is empty: since ({since}) must be before until ({until}).")
    return since, until


def _datetime_column(source: TableSource, columns) -> str | None:
    """The source's own name of the column that becomes ``order_datetime``, when present."""
    names = [user for user, canon in source.columns.items() if canon == "order_datetime"] + ["order_datetime"]
    present = set(map(str, columns))
    return next((n for n in names if n in present), None)


# ---------------------------------------------------------------------------------------------------- files

def _parquet_filter(path: Path, source: TableSource, since, until, timezone: str):
    """A pyarrow filter keeping at least the rows of the window, or None when the column cannot be filtered."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema = pq.ParquetDataset(str(path)).schema
    column = _datetime_column(source, schema.names)
    if column is None:
        return None
    kind = schema.field(column).type
    field = pc.field(column)
    parts = []
    if pa.types.is_timestamp(kind):
        def scalar(ts):
            if kind.tz is not None:
                ts = ts.tz_localize(timezone).tz_convert(kind.tz)
            return pa.scalar(ts, type=kind)
        if since is not None:
            parts.append(field >= scalar(since.floor("s")))
        if until is not None:
            parts.append(field < scalar(until.ceil("s")))
    elif pa.types.is_date(kind):
        if since is not None:
            parts.append(field >= pa.scalar(since.floor("D").date(), type=kind))
        if until is not None:
            parts.append(field <= pa.scalar(until.date(), type=kind))
    else:  # text dates: read everything, the exact filter runs after parsing
        return None
    expression = parts[0]
    for part in parts[1:]:
        expression = expression & part
    return expression


def read_file(table: str, source: TableSource, *, since=None, until=None,
              timezone: str = "Asia/Tokyo") -> pd.DataFrame:
    """Read a table file as it is, Parquet rows outside ``[since, until)`` left unread where possible.

    The window filters the column mapped to ``order_datetime`` in the Parquet
    scan (row groups and rows); CSV and Excel files are read whole. The exact
    filter happens later, in :func:`crmtools.data.validate_raw`.

    Returns
    -------
    pandas.DataFrame
        The raw table, the user's column names and types.
    """
    path = Path(source.file)
    filters = None
    is_parquet = path.is_dir() or path.name.lower().endswith(".parquet")
    if (since is not None or until is not None) and is_parquet and path.exists():
        try:
            filters = _parquet_filter(path, source, since, until, timezone)
        except (OSError, ValueError, TypeError, ImportError):
            filters = None  # unreadable here: let the reader report it
    return _read_raw(table, source, filters=filters)


def _file_columns(path: Path, source: TableSource) -> list[str]:
    name = path.name.lower()
    if path.is_dir() or name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return list(pq.ParquetDataset(str(path)).schema.names)
    if name.endswith((".xlsx", ".xls")):
        return list(pd.read_excel(path, sheet_name=source.sheet, nrows=0).columns)
    sep = "\t" if name.endswith(".tsv") else ","
    return list(pd.read_csv(path, sep=sep, encoding=source.encoding, nrows=0).columns)


def _datetimes_in_file(source: TableSource, timezone: str) -> pd.Series | None:
    path = Path(source.file)
    name = path.name.lower()
    try:
        column = _datetime_column(source, _file_columns(path, source))
        if column is None:
            return None
        if path.is_dir() or name.endswith(".parquet"):
            return pd.read_parquet(path, columns=[column])[column]
        if name.endswith((".xlsx", ".xls")):
            return pd.read_excel(path, sheet_name=source.sheet, usecols=[column], dtype=object)[column]
        sep = "\t" if name.endswith(".tsv") else ","
        return pd.read_csv(path, sep=sep, encoding=source.encoding, usecols=[column], dtype=str,
                           keep_default_na=False, na_values=[""])[column]
    except (OSError, ValueError, UnicodeDecodeError, ImportError, pd.errors.ParserError):
        return None  # the full load reports what is wrong


# ---------------------------------------------------------------------------------------------------- readers

def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of a frame's column names and rows, whatever the row order.

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "y": ["p", "q"]})
    >>> frame_fingerprint(a) == frame_fingerprint(a.iloc[::-1])
    True
    >>> frame_fingerprint(a) == frame_fingerprint(a.assign(x=[1, 3]))
    False
    """
    try:
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists, dicts from JSON columns): hash their text
        rows = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(np.sort(rows).astype("<u8").tobytes())
    return digest.hexdigest()


def _one_column_spec() -> TableSpec:
    return TableSpec("transactions", (TRANSACTIONS.column("order_datetime"),))


def _date_range(values: pd.Series | None, source: TableSource, timezone: str,
                label: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if values is None or len(values) == 0:
        return None
    frame = pd.DataFrame({"order_datetime": pd.Series(values).reset_index(drop=True)})
    coerced, _, _ = coerce_table(frame, _one_column_spec(), source=label, timezone=timezone,
                                 date_format=source.date_format)
    first, last = coerced["order_datetime"].min(), coerced["order_datetime"].max()
    return None if pd.isna(last) else (pd.Timestamp(first), pd.Timestamp(last))


class _Reader:
    """Reads raw tables from one configured source; files by default."""

    kind = "file"

    def __init__(self, config: DataConfig) -> None:
        self.config = config

    # -- what to read
    def source_for(self, name: str) -> TableSource | None:
        """The source of canonical table ``name``, or None when the data set has none."""
        return self.config.source_for(name)

    def absent_problem(self, name: str) -> Problem:
        """The problem to report when the required table has no source."""
        return Problem(name, str(Path(self.config.path) / "transactions.*"), None, "no transactions file found",
                       expected=f"one of {[f'transactions{s}' for s in _SUFFIXES]} in {self.config.path}, "
                       "or data.tables.transactions.file")

    # -- reading
    def read(self, name: str, source: TableSource, *, since=None, until=None) -> tuple[pd.DataFrame, str, dict]:
        """The raw frame, a label for messages, and what was read (for manifests)."""
        raw = read_file(name, source, since=since, until=until, timezone=self.config.timezone)
        digest = file_fingerprint(source.file)
        return raw, str(source.file), {"file": str(source.file), "sha256": digest, "rows": int(len(raw))}

    def load(self, name: str, source: TableSource, *, since=None, until=None,
             quality: list[dict] | None = None) -> tuple[pd.DataFrame, dict]:
        """Read, map, coerce, check and apply policies: the canonical table and what was read."""
        raw, label, info = self.read(name, source, since=since, until=until)
        frame = validate_raw(name, raw, source, label=label, timezone=self.config.timezone,
                             policies=self.config.policies, quality=quality, since=since, until=until,
                             sort=not source.file)
        return frame, info

    def date_range(self, source: TableSource) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The first and last parseable ``order_datetime`` of the source, read cheaply (one column, or MIN/MAX)."""
        return _date_range(_datetimes_in_file(source, self.config.timezone), source, self.config.timezone,
                           str(source.file))

    def close(self) -> None:
        """Release connections."""


class _DatabaseReader(_Reader):
    """Common logic of the DuckDB and SQLAlchemy readers."""

    placeholder = ":{}"

    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        self.where = ""  # masked URL or database path
        self.secrets: list[str] = []
        self._broken = False

    # subclasses provide: _connect(name, label), _quote(identifier), _columns(sql) -> [(name, type or None)],
    # _run(sql, params) -> DataFrame, _scalar(sql, params), _has_table(name), _rollback(), _bind(ts, kind, upper)

    def source_for(self, name: str) -> TableSource | None:
        explicit = self.config.tables.get(name)
        if explicit is not None and (explicit.file or explicit.table or explicit.query):
            return explicit
        if self._broken:
            return None
        default = dataclasses.replace(explicit or TableSource(), table=name)
        self._connect(name, self.label(name, default))
        return default if self._has_table(name) else None

    def absent_problem(self, name: str) -> Problem:
        return Problem(name, self.where, None, f"no table {name!r} in the database",
                       expected=f"a table named {name}, or data.tables.{name}.table (a table name) or "
                       f"data.tables.{name}.query (a SELECT)")

    def label(self, name: str, source: TableSource) -> str:
        """Where table ``name`` comes from, for messages: the masked URL (or path), then the table or query."""
        if source.query:
            text = " ".join(source.query.split())
            shown = text[:60] + ("..." if len(text) > 60 else "")
            return _scrub(f"{self.where}, {name} from query {shown!r}", self.secrets)
        return f"{self.where}, {name} from table {source.table!r}"

    def _problem(self, name: str, label: str, message: str, expected: str) -> DataValidationError:
        return DataValidationError([Problem(name, label, None, _scrub(message, self.secrets), expected=expected)])

    def _base(self, source: TableSource) -> str:
        if source.query:
            return source.query.strip().rstrip(";").strip()
        parts = [p for p in str(source.table).split(".") if p]
        return "SELECT * FROM " + ".".join(self._quote(p) for p in parts)

    def _window(self, source: TableSource, columns: list[tuple[str, str | None]], since, until):
        """WHERE clause text and bound parameters of the period filter (empty when nothing to filter)."""
        if since is None and until is None:
            return "", {}
        names = [c for c, _ in columns]
        column = _datetime_column(source, names)
        if column is None:
            return "", {}
        kind = _bound_kind(dict(columns)[column])
        if kind is None:
            return "", {}
        clauses, params = [], {}
        for key, op, ts in (("crmtools_since", ">=", since), ("crmtools_until", "<", until)):
            if ts is not None:
                clauses.append(f"{self._quote(column)} {op} {self.placeholder.format(key)}")
                params[key] = self._bind(ts, kind, upper=(op == "<"))
        return " WHERE " + " AND ".join(clauses), params

    def read(self, name: str, source: TableSource, *, since=None, until=None) -> tuple[pd.DataFrame, str, dict]:
        if source.file:
            return super().read(name, source, since=since, until=until)
        label = self.label(name, source)
        self._connect(name, label)
        base = self._base(source)
        wrapped = f"SELECT * FROM ({base}) AS {_ALIAS}"
        try:
            columns = self._columns(wrapped + " WHERE 1 = 0")
        except Exception as exc:  # noqa: BLE001 - any driver error becomes a data problem
            self._rollback()
            what = f"table {source.table!r} cannot be read" if source.table else "the query failed"
            raise self._problem(name, label, f"{what} ({_first_line(exc)})",
                                "an existing table (schema.table allowed) or a valid SELECT query "
                                "returning the table's columns") from None
        where, params = self._window(source, columns, since, until)
        sql = base + where if source.table else wrapped + where
        try:
            raw = self._run(sql, params)
        except Exception as exc:  # noqa: BLE001
            self._rollback()
            hint = (f"; the period filter compares the date column with timestamps: store it as a timestamp, or "
                    f"convert it in a query (CAST(... AS timestamp))" if params else "")
            raise self._problem(name, label, f"the query failed ({_first_line(exc)}){hint}",
                                "a query the database can run") from None
        raw = raw.reset_index(drop=True)
        shown = {k: str(v) for k, v in params.items()}
        query_digest = hashlib.sha256(json.dumps({"sql": sql, "params": shown}, sort_keys=True).encode()).hexdigest()
        content = frame_fingerprint(raw)
        info = {"source": self.kind, self.kind_key: self.where,
                ("table" if source.table else "query"): _scrub(source.table or base, self.secrets),
                "sql": _scrub(sql, self.secrets), "params": shown, "rows": int(len(raw)),
                "query_sha256": query_digest, "content_sha256": content,
                "sha256": hashlib.sha256((query_digest + content).encode()).hexdigest()}
        return raw, label, info

    def date_range(self, source: TableSource) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        if source.file:
            return super().date_range(source)
        label = self.label("transactions", source)
        self._connect("transactions", label)
        base = self._base(source)
        try:
            columns = self._columns(f"SELECT * FROM ({base}) AS {_ALIAS} WHERE 1 = 0")
            column = _datetime_column(source, [c for c, _ in columns])
            if column is None:
                return None
            bounds = self._run(f"SELECT MIN({self._quote(column)}) AS first_order, MAX({self._quote(column)}) "
                               f"AS last_order FROM ({base}) AS {_ALIAS}", {})
        except Exception:  # noqa: BLE001 - the full load reports what is wrong
            self._rollback()
            return None
        values = pd.Series([bounds.iloc[0, 0], bounds.iloc[0, 1]], dtype=object)
        return _date_range(values, source, self.config.timezone, label)


def _bound_kind(type_text: str | None) -> str | None:
    """How to bind window bounds for a column type: 'naive', 'aware', or None (no push-down)."""
    if type_text is None:
        return "naive"  # type unknown (SQLAlchemy): the session time zone is the business one where we can set it
    text = str(type_text).upper()
    if "TIME ZONE" in text or text == "TIMESTAMPTZ":
        return "aware"
    if text.startswith("TIMESTAMP") or text in ("DATE", "DATETIME"):
        return "naive"
    return None


class _DuckDBReader(_DatabaseReader):
    """A DuckDB database file, read-only."""

    kind, kind_key, placeholder = "duckdb", "database", "${}"

    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        self.path = Path(str(config.database)).expanduser()
        self.where = str(self.path)
        self._con = None

    def _connect(self, name: str, label: str) -> None:
        if self._con is not None:
            return
        import duckdb

        if not self.path.is_file():
            self._broken = True
            raise self._problem(name, label, "DuckDB database not found",
                                "an existing DuckDB database file (data.database)")
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            self._broken = True
            raise self._problem(name, label, f"the DuckDB database cannot be opened ({_first_line(exc)})",
                                "a DuckDB database file not locked by a writing process") from None

    def _quote(self, identifier: str) -> str:
        return '"' + str(identifier).replace('"', '""') + '"'

    def _columns(self, sql: str) -> list[tuple[str, str | None]]:
        relation = self._con.sql(sql)
        return [(str(c), str(t)) for c, t in zip(relation.columns, relation.types)]

    def _run(self, sql: str, params: dict) -> pd.DataFrame:
        return self._con.sql(sql, params=params or None).to_arrow_table().to_pandas(date_as_object=False)

    def _scalar(self, sql: str, params: dict):
        frame = self._run(sql, params)  # through Arrow: Python objects for TIMESTAMPTZ would need pytz
        return frame.iloc[0, 0] if len(frame) else None

    def _has_table(self, name: str) -> bool:
        rows = self._con.sql("SELECT count(*) FROM information_schema.tables WHERE lower(table_name) = lower($name)",
                             params={"name": name}).fetchall()
        return bool(rows and rows[0][0])

    def _bind(self, ts: pd.Timestamp, kind: str, upper: bool):
        return ts.tz_localize(self.config.timezone) if kind == "aware" else ts

    def _rollback(self) -> None:
        pass

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


class _SQLReader(_DatabaseReader):
    """Any SQLAlchemy URL; one connection for the whole load, never committed, disposed at the end."""

    kind, kind_key, placeholder = "sql", "url", ":{}"

    def __init__(self, config: DataConfig) -> None:
        super().__init__(config)
        self._url = resolve_url(config)
        self.secrets = _secrets(self._url)
        self.where = mask_url(self._url)
        self._engine = None
        self._conn = None

    def _connect(self, name: str, label: str) -> None:
        if self._conn is not None:
            return
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        try:
            url = sqlalchemy.engine.make_url(self._url)
            connect_args = {}
            if url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = 15
            self._engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        except ImportError as exc:
            self._broken = True
            raise self._problem(name, label, f"the database driver is not installed ({_first_line(exc)})",
                                "the Python driver of the URL's dialect installed in this environment "
                                "(psycopg for postgresql+psycopg://)") from None
        except sqlalchemy.exc.ArgumentError:  # its text may quote the URL: say nothing more
            self._broken = True
            raise self._problem(name, label, "the database URL cannot be parsed",
                                "a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/crm") from None
        except Exception as exc:  # noqa: BLE001 - unknown dialect
            self._broken = True
            raise self._problem(name, label, f"the database URL cannot be used ({_first_line(exc)})",
                                "a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/crm") from None
        try:
            self._conn = self._engine.connect()
            if self._conn.dialect.name == "postgresql":  # read-only, dates compared in business time
                self._conn.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                self._conn.execute(sqlalchemy.text("SELECT set_config('TimeZone', :tz, false)"),
                                   {"tz": self.config.timezone})
                self._conn.commit()
        except Exception as exc:  # noqa: BLE001 - unreachable server, bad credentials, missing database
            self._broken = True
            self.close()
            raise self._problem(name, label, f"cannot connect to the database ({_first_line(exc)})",
                                "a reachable database server, the right user, password and database name in the "
                                "URL") from None

    def _quote(self, identifier: str) -> str:
        return self._conn.dialect.identifier_preparer.quote(str(identifier))

    def _columns(self, sql: str) -> list[tuple[str, str | None]]:
        import sqlalchemy

        result = self._conn.execute(sqlalchemy.text(sql))
        names = list(result.keys())
        result.close()
        return [(str(n), None) for n in names]

    def _run(self, sql: str, params: dict) -> pd.DataFrame:
        import sqlalchemy

        return pd.read_sql(sqlalchemy.text(sql), self._conn, params=params or None)

    def _scalar(self, sql: str, params: dict):
        import sqlalchemy

        return self._conn.execute(sqlalchemy.text(sql), params).scalar()

    def _has_table(self, name: str) -> bool:
        import sqlalchemy

        try:
            return bool(sqlalchemy.inspect(self._conn).has_table(name))
        except Exception:  # noqa: BLE001
            self._rollback()
            return False

    def _bind(self, ts: pd.Timestamp, kind: str, upper: bool):
        if self._conn.dialect.name == "sqlite":
            # Dates are ISO text in SQLite ("2025-10-01", "2025-10-01 10:00:00[.ffffff]", "2025-10-01T10:00"):
            # text bounds that keep at least the window's rows (the day for the lower bound), exact filter later.
            return ts.strftime("%Y-%m-%d %H:%M:%S.%f") if upper else ts.strftime("%Y-%m-%d")
        return ts.to_pydatetime()

    def _rollback(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
                self._conn.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


@contextlib.contextmanager
def open_reader(config: DataConfig):
    """A reader for the configured source; closes its connection on exit.

    The reader has ``source_for(name)``, ``load(name, source, since=, until=, quality=)`` (the canonical
    table and a description of what was read, for manifests), ``latest(source)`` and ``absent_problem(name)``.
    """
    check_config(config)
    reader = {"files": _Reader, "duckdb": _DuckDBReader, "sql": _SQLReader}[config.source](config)
    try:
        yield reader
    finally:
        reader.close()


def order_date_range(config: DataConfig) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The first and last order time in the source, read cheaply (``MIN``/``MAX``, or one column of the file).

    Every row with a readable date counts, before any policy; None when there is none (or the table
    cannot be read: loading it then says why).
    """
    with open_reader(config) as reader:
        try:
            source = reader.source_for("transactions")
        except DataValidationError:
            return None
        return None if source is None else reader.date_range(source)


def latest_order_datetime(config: DataConfig) -> pd.Timestamp | None:
    """The latest order time in the source (see :func:`order_date_range`); None when there is none."""
    bounds = order_date_range(config)
    return None if bounds is None else bounds[1]


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
        from .data import inspect_dataset

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
        raise ValueError(f"No table files found in {dataset_dir}; expected files such as transactions.parquet "
                         "(write the sample with: crmtools sample-data).")


def write_tables_to_sql(dataset_dir: str | os.PathLike, engine, *, schema: str | None = None,
                        if_exists: str = "fail", policies: Policies | None = None,
                        timezone: str = "Asia/Tokyo", chunksize: int = 10_000) -> dict[str, int]:
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
                raise ValueError(f"Writing table {name!r} to {mask_url(url)} failed: "
                                 f"{_scrub(_first_line(exc), _secrets(url))}") from None
            written[name] = int(len(frame))
    finally:
        if own:
            target.dispose()
    return written


def write_tables_to_duckdb(dataset_dir: str | os.PathLike, database: str | os.PathLike, *, replace: bool = False,
                           policies: Policies | None = None, timezone: str = "Asia/Tokyo") -> dict[str, int]:
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
                raise ValueError(f"Table {name!r} already exists in {database}; pass replace=True (--replace) "
                                 f"to overwrite it ({_first_line(exc)}).") from None
            finally:
                con.unregister("crmtools_frame")
            written[name] = int(len(frame))
    finally:
        con.close()
    return written
