"""Where the canonical tables come from: the ``data`` section of params, checked.

:class:`DataConfig` names the source of a data set (a folder of files, a
DuckDB database or any SQL database), a :class:`TableSource` per table (file,
database table or query, column mapping, fills) and the validation
:class:`~crmtools.validation.Policies`. :func:`check_config` refuses a
configuration that cannot work, and a database URL holding a password:
passwords never sit in params, and every URL shown is masked
(:func:`mask_url`).

This module only describes sources; :mod:`crmtools.readers` reads them and
:mod:`crmtools.data` assembles the validated data set.

Examples
--------
>>> config = DataConfig.from_dict({"source": "sql", "url_env": "CRMTOOLS_DB_URL",
...                                "tables": {"transactions": {"table": "sales.order_lines"}}})
>>> config.source_for("transactions").table, config.source_for("customers").table
('sales.order_lines', 'customers')
>>> describe_source(config)
'SQL database at $CRMTOOLS_DB_URL'
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote

from .schema import TABLES
from .validation import Policies

__all__ = [
    "FILE_SUFFIXES",
    "ORDER_ID_RULES",
    "SOURCES",
    "WHITESPACE",
    "DataConfig",
    "TableSource",
    "check_config",
    "describe_source",
    "mask_url",
    "resolve_url",
    "scrub_secrets",
    "url_has_password",
    "url_secrets",
]

#: Allowed values of ``data.source``.
SOURCES = ("files", "duckdb", "sql")
#: File name endings of table files, in the order a folder is searched.
FILE_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".xlsx", ".xls", ".tsv", ".txt")
#: Ways to derive ``order_id`` when the source has none (``data.tables.transactions.derive.order_id``).
ORDER_ID_RULES = ("customer_day", "customer_datetime", "row")
#: ``separator`` value meaning "one or more spaces or tabs" (columns aligned with spaces).
WHITESPACE = "whitespace"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][\w+.-]*://)(?P<rest>.*)$", re.S)
_SECRET_PARAM = re.compile(r"(?i)(\b(?:password|passwd|pwd)\s*=\s*)('[^']*'|\"[^\"]*\"|[^&;\s]*)")


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
        text = text[: span[0]] + "***" + text[span[1] :]
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "***", text)


def url_has_password(url: str) -> bool:
    """Whether ``url`` carries a password (in the user part or as a ``password=`` option).

    Examples
    --------
    >>> url_has_password("postgresql://analyst:s3cret@db/crm"), url_has_password("postgresql://analyst@db/crm")
    (True, False)
    """
    return bool(url_secrets(str(url)))


def url_secrets(url: str) -> list[str]:
    """The password(s) in ``url``, raw and percent-decoded, longest first (to scrub from error text).

    Examples
    --------
    >>> url_secrets("postgresql://analyst:p%40ss@db/crm")
    ['p%40ss', 'p@ss']
    """
    found = []
    span = _password_span(url)
    if span is not None:
        found.append(url[span[0] : span[1]])
    found += [m.group(2).strip("'\"") for m in _SECRET_PARAM.finditer(url)]
    found = [s for s in found if s]
    found += [unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub_secrets(text: str, secrets: list[str]) -> str:
    """``text`` with every secret and every URL password masked (for database error messages).

    Examples
    --------
    >>> scrub_secrets("login failed for s3cret", url_secrets("postgresql://analyst:s3cret@db/crm"))
    'login failed for ***'
    """
    out = str(text)
    for secret in secrets:
        out = out.replace(secret, "***")
    out = re.sub(r"[A-Za-z][\w+.-]*://\S+", lambda m: mask_url(m.group(0)), out)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "***", out)


# ---------------------------------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class TableSource:
    """Where one canonical table comes from and how its columns map.

    Parameters
    ----------
    file : str, optional
        Path of a CSV, TSV, text (``.txt``), Parquet or Excel file, or a folder of Parquet files.
    columns : dict, optional
        The user's column name -> canonical column name. Names not listed are
        kept as they are; names mapping to the same canonical column are
        allowed when only one of them is present (layout variants).
    fill : dict, optional
        Canonical column -> constant value, for columns the source lacks.
    encoding : str, default="utf-8"
        Text encoding of CSV files (``cp932`` for Shift-JIS files from Excel).
    sheet : str or int, default=0
        Excel sheet.
    date_format : str, optional
        strftime format of the date columns (``%Y%m%d`` for ``19970101``, ``%d/%m/%Y %H:%M`` for
        ``31/12/2025 14:05``); inferred when None. Give it whenever day and month could be read either way.
    separator : str, optional
        Column separator of a text file: one character (``,``, ``;``, ``|``, a tab ``"\t"``), or
        ``whitespace`` for runs of spaces or tabs (columns aligned with spaces, leading spaces ignored).
        Default: a tab for ``.tsv``, else a comma.
    derive : dict, optional
        Canonical column -> how to make it when the source lacks it. Only ``order_id`` is derived this
        way: ``customer_day`` (one order per customer and calendar day), ``customer_datetime`` (per
        customer and order time) or ``row`` (every line its own order); lines without a customer are
        one order each. ``amount``, ``unit_price`` and ``quantity`` need no option: whichever one is
        missing is computed from the other two.
    table : str, optional
        Database table (``schema.table`` allowed), for ``source: duckdb`` or ``sql``.
    query : str, optional
        A SELECT returning the table, for ``source: duckdb`` or ``sql``.
    """

    file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    fill: dict[str, object] = field(default_factory=dict)
    encoding: str = "utf-8"
    sheet: str | int = 0
    date_format: str | None = None
    table: str | None = None
    query: str | None = None
    separator: str | None = None
    derive: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sep = self.separator
        if sep is not None and not (sep == WHITESPACE or (isinstance(sep, str) and len(sep) == 1)):
            raise ValueError(
                f"Table source option 'separator' must be one character (',', ';', '|', a tab) or "
                f"{WHITESPACE!r} (runs of spaces or tabs); got {sep!r}."
            )
        unknown = sorted(set(self.derive) - {"order_id"})
        if unknown:
            raise ValueError(
                f"Table source option 'derive' can make only 'order_id'; got {unknown} (amount, unit_price and "
                "quantity are computed from the other two without an option)."
            )
        rule = self.derive.get("order_id")
        if rule is not None and rule not in ORDER_ID_RULES:
            raise ValueError(f"derive.order_id must be one of {list(ORDER_ID_RULES)}; got {rule!r}.")

    @classmethod
    def from_dict(cls, values: dict) -> TableSource:
        """Build from a params mapping, rejecting unknown keys."""
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown table source option {unknown}; allowed: {sorted(cls.__dataclass_fields__)}.")
        return cls(**values)

    def text_separator(self, path) -> str:
        """The separator for reading ``path`` as text (a regular expression for ``whitespace``)."""
        if self.separator == WHITESPACE:
            return r"\s+"
        if self.separator is not None:
            return self.separator
        return "\t" if str(path).lower().endswith(".tsv") else ","


@dataclass(frozen=True)
class DataConfig:
    """A data set: a folder of table files, per-table sources and policies.

    Parameters
    ----------
    path : str
        Folder searched for ``<table>.<parquet|csv|xlsx>`` files.
    tables : dict, optional
        Table name -> :class:`TableSource` (or a mapping) overriding the folder default.
    timezone : str, default="Asia/Tokyo"
        Business time zone.
    policies : Policies, optional
        Business decisions about returns, guests, duplicates and invalid rows.
    source : {"files", "duckdb", "sql"}, default="files"
        Where the tables come from (see :mod:`crmtools.sources`).
    database : str, optional
        DuckDB database file, for ``source: duckdb``.
    url : str, optional
        Database URL without a password, for ``source: sql``.
    url_env : str, optional
        Name of the environment variable holding the database URL, for ``source: sql``.
    connection_file : str, optional
        YAML file outside the repository holding ``url:``, for ``source: sql``.
    """

    path: str = "data/sample"
    tables: dict[str, TableSource] = field(default_factory=dict)
    timezone: str = "Asia/Tokyo"
    policies: Policies = field(default_factory=Policies)
    source: str = "files"
    database: str | None = None
    url: str | None = None
    url_env: str | None = None
    connection_file: str | None = None

    @classmethod
    def from_dict(cls, values: dict, *, base_dir: str | os.PathLike | None = None) -> DataConfig:
        """Build from the ``data`` section of params; relative paths resolve against ``base_dir``."""
        values = dict(values)
        allowed = ["connection_file", "database", "path", "policies", "source", "tables", "timezone", "url", "url_env"]
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise ValueError(f"Unknown data option {unknown}; allowed: {allowed}.")
        path = str(values.get("path", "data/sample"))
        if base_dir is not None and not os.path.isabs(path):
            path = str(Path(base_dir) / path)
        tables = {}
        for name, src in (values.get("tables") or {}).items():
            if name not in TABLES:
                raise ValueError(f"Unknown table {name!r} in data.tables; allowed: {sorted(TABLES)}.")
            src = dict(src) if isinstance(src, dict) else {"file": src}
            if src.get("file") and base_dir is not None and not os.path.isabs(src["file"]):
                src["file"] = str(Path(base_dir) / src["file"])
            tables[name] = TableSource.from_dict(src)
        database = values.get("database")
        if database and base_dir is not None and not os.path.isabs(os.path.expanduser(str(database))):
            database = str(Path(base_dir) / str(database))
        config = cls(
            path=path,
            tables=tables,
            timezone=str(values.get("timezone", "Asia/Tokyo")),
            policies=Policies.from_dict(values.get("policies")),
            source=str(values.get("source") or "files"),
            database=str(database) if database else None,
            **{k: str(values[k]) if values.get(k) else None for k in ("url", "url_env", "connection_file")},
        )
        check_config(config, base_dir=base_dir)
        return config

    def source_for(self, table: str) -> TableSource | None:
        """The source of ``table``: explicit, else a matching file in the folder, else None.

        For a database source: explicit, else the database table of the same name (which may not exist).
        """
        explicit = self.tables.get(table)
        if self.source != "files":
            if explicit is not None and (explicit.file or explicit.table or explicit.query):
                return explicit
            return replace(explicit or TableSource(), table=table)
        if explicit is not None and explicit.file:
            return explicit
        for suffix in FILE_SUFFIXES:
            candidate = Path(self.path) / f"{table}{suffix}"
            if candidate.exists():
                base = explicit or TableSource()
                return replace(base, file=str(candidate))
        return None


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
                "'postgresql+psycopg://user:password@host:5432/crm'."
            )
        return value
    if config.connection_file:
        import yaml

        path = Path(config.connection_file).expanduser()
        if not path.is_file():
            raise ValueError(
                f"Connection file not found: {path} (data.connection_file); expected a YAML file "
                "outside the repository holding url: postgresql+psycopg://user:password@host:5432/crm."
            )
        try:
            content = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError) as exc:
            raise ValueError(
                f"Connection file {path} cannot be read as UTF-8 text ({type(exc).__name__}); "
                "expected a YAML file holding url: ..."
            ) from None
        except yaml.YAMLError as exc:  # the message may quote the file: show only where
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise ValueError(
                f"Connection file {path} is not valid YAML{where}; expected "
                "url: postgresql+psycopg://user:password@host:5432/crm."
            ) from None
        if not isinstance(content, dict) or not isinstance(content.get("url"), str) or not content["url"].strip():
            keys = sorted(content) if isinstance(content, dict) else type(content).__name__
            raise ValueError(
                f"Connection file {path} must hold a mapping with a 'url' entry, e.g. "
                f"url: postgresql+psycopg://user:password@host:5432/crm; got {keys}."
            )
        return content["url"].strip()
    raise ValueError(
        "data.source: sql needs the database URL, and params must not hold a password: name the "
        "environment variable that holds it with data.url_env (e.g. CRMTOOLS_DB_URL), or a YAML "
        "connection file outside the repository with data.connection_file "
        "(e.g. ~/.config/crmtools/db.yaml holding url: ...)."
    )


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
            "(data.connection_file)."
        )
    if config.url_env and not _ENV_NAME.match(config.url_env):
        shown = mask_url(config.url_env) if "://" in config.url_env else repr(config.url_env)
        raise ValueError(
            f"data.url_env must be the NAME of an environment variable holding the URL "
            f"(letters, digits, _), e.g. CRMTOOLS_DB_URL; got {shown}."
        )
    if config.connection_file and base_dir is not None:
        file = Path(config.connection_file).expanduser().resolve()
        root = Path(base_dir).expanduser().resolve()
        if file == root or root in file.parents:
            raise ValueError(
                f"data.connection_file must live outside the project folder (it holds a password "
                f"and must not be committed), e.g. ~/.config/crmtools/db.yaml; got {file}."
            )
    if config.source == "duckdb" and not config.database:
        raise ValueError("data.source: duckdb needs data.database, the path of the DuckDB database file; got none.")
    if config.source == "sql":
        given = [k for k in ("url", "url_env", "connection_file") if getattr(config, k)]
        if len(given) > 1:
            raise ValueError(
                f"Give one of data.url_env, data.connection_file or data.url for source: sql; got {given}."
            )
    for name, source in config.tables.items():
        picked = [k for k in ("file", "table", "query") if getattr(source, k)]
        if len(picked) > 1:
            raise ValueError(f"data.tables.{name} must give one of file, table or query; got {picked}.")
        if config.source == "files" and picked and picked[0] != "file":
            raise ValueError(
                f"data.tables.{name}.{picked[0]} reads from a database: set data.source to duckdb or "
                f"sql; got source: files."
            )


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
