"""Load the canonical tables from files, validated on the way in.

A data set is a folder holding one file per canonical table
(``transactions.parquet``, ``customers.csv``, ``products.xlsx`` ...), or
explicit files per table. Each table may carry a column mapping from the
user's own names to the canonical ones and constant fills for columns the
source lacks (for example ``channel: web`` for a shop with one channel).

Only ``transactions`` is required; a missing optional table loads as an empty
frame with the canonical columns.

Examples
--------
>>> import pandas as pd, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> pd.DataFrame({"InvoiceNo": ["1", "1"], "StockCode": ["A", "B"], "Quantity": [2, 1],
...               "InvoiceDate": ["2025-10-01 10:00", "2025-10-01 10:00"], "UnitPrice": [1.5, 4.0],
...               "CustomerID": [17850.0, 17850.0]}).to_csv(folder / "orders.csv", index=False)
>>> source = TableSource(file=str(folder / "orders.csv"), columns=UCI_ONLINE_RETAIL_COLUMNS,
...                      fill={"channel": "web"})
>>> tx = load_table("transactions", source)
>>> tx[["order_id", "customer_id", "amount"]].to_dict("list")
{'order_id': ['1', '1'], 'customer_id': ['17850', '17850'], 'amount': [3.0, 4.0]}
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from .errors import DataValidationError, Problem
from .schema import TABLES, TableSpec
from .validation import Policies, apply_policies, check_table, coerce_table

__all__ = [
    "TableSource",
    "DataConfig",
    "Dataset",
    "load_table",
    "validate_raw",
    "load_dataset",
    "inspect_dataset",
    "empty_table",
    "UCI_ONLINE_RETAIL_COLUMNS",
]

#: Column mapping for the UCI Online Retail (and Online Retail II) layout.
UCI_ONLINE_RETAIL_COLUMNS: dict[str, str] = {
    "InvoiceNo": "order_id",
    "Invoice": "order_id",
    "StockCode": "product_id",
    "Description": "product_name",
    "Quantity": "quantity",
    "InvoiceDate": "order_datetime",
    "UnitPrice": "unit_price",
    "Price": "unit_price",
    "CustomerID": "customer_id",
    "Customer ID": "customer_id",
    "Country": "store",
}

_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".xlsx", ".xls", ".tsv")


@dataclass(frozen=True)
class TableSource:
    """Where one canonical table comes from and how its columns map.

    Parameters
    ----------
    file : str, optional
        Path of a CSV, TSV, Parquet or Excel file, or a folder of Parquet files.
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
        strftime format of the date columns; inferred when None.
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

    @classmethod
    def from_dict(cls, values: dict) -> "TableSource":
        """Build from a params mapping, rejecting unknown keys."""
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown table source option {unknown}; allowed: {sorted(cls.__dataclass_fields__)}.")
        return cls(**values)


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
    def from_dict(cls, values: dict, *, base_dir: str | os.PathLike | None = None) -> "DataConfig":
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
        from .sources import check_config

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
        for suffix in _SUFFIXES:
            candidate = Path(self.path) / f"{table}{suffix}"
            if candidate.exists():
                base = explicit or TableSource()
                return replace(base, file=str(candidate))
        return None


@dataclass(frozen=True)
class Dataset:
    """The validated canonical tables, plus a data-quality summary.

    Attributes
    ----------
    transactions, customers, products, campaigns, campaign_contacts, experiments : pandas.DataFrame
        The canonical tables (empty with canonical columns when absent).
    quality : pandas.DataFrame
        Columns ``table, check, rows, action``.
    fingerprints : dict
        Table -> sha256 of what was read (for run manifests).
    inputs : dict
        Table -> description of what was read, for run manifests: ``file``, ``sha256``, ``rows`` for
        files; ``source``, masked ``url`` or ``database``, ``table`` or ``query``, ``sql``, ``params``,
        ``rows``, ``query_sha256``, ``content_sha256``, ``sha256`` for databases.
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    campaigns: pd.DataFrame
    campaign_contacts: pd.DataFrame
    experiments: pd.DataFrame
    quality: pd.DataFrame
    fingerprints: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, dict] = field(default_factory=dict)


def empty_table(table: str) -> pd.DataFrame:
    """An empty frame with every canonical column of ``table``, correctly typed."""
    spec = TABLES[table]
    dtypes = {"str": "str", "int": "Int64", "float": "float64", "datetime": "datetime64[ns]", "bool": "boolean"}
    return pd.DataFrame({c.name: pd.Series(dtype=dtypes[c.dtype]) for c in spec.columns})


def file_fingerprint(path: str | os.PathLike) -> str:
    """sha256 of a file, or of every file in a folder in name order."""
    digest = hashlib.sha256()
    p = Path(path)
    files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
    for f in files:
        digest.update(f.name.encode())
        with open(f, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _read_raw(table: str, source: TableSource, *, filters=None) -> pd.DataFrame:
    path = Path(source.file)
    label = str(path)
    if not path.exists():
        raise DataValidationError([Problem(table, label, None, "file not found",
                                           expected="an existing CSV, Parquet or Excel file")])
    name = path.name.lower()
    if not (path.is_dir() or name.endswith(_SUFFIXES)):
        raise DataValidationError([Problem(table, label, None, f"unknown file type {path.suffix or name!r}",
                                           expected=f"a file ending in one of {list(_SUFFIXES)}, "
                                           "or a folder of Parquet files")])
    try:
        if path.is_dir() or name.endswith(".parquet"):
            return pd.read_parquet(path, filters=filters)
        if name.endswith((".xlsx", ".xls")):
            return pd.read_excel(path, sheet_name=source.sheet, dtype=object)
        if path.stat().st_size == 0:
            raise pd.errors.EmptyDataError("empty")
        sep = "\t" if name.endswith(".tsv") else ","
        return pd.read_csv(path, sep=sep, encoding=source.encoding, dtype=str, keep_default_na=False,
                           na_values=[""], skipinitialspace=False)
    except UnicodeDecodeError as exc:
        raise DataValidationError([Problem(
            table, label, None,
            f"the file is not valid {source.encoding} text (byte {exc.start}: {exc.object[exc.start:exc.start + 4]!r})",
            expected=f"{source.encoding} text; for Shift-JIS files saved by Japanese Excel set encoding: cp932",
        )]) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError([Problem(table, label, None, "the file is empty",
                                           expected="a header line and at least one data row")]) from None
    except (pd.errors.ParserError, ValueError, OSError, ImportError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError([Problem(table, label, None, f"the file cannot be read ({first_line})",
                                           expected="a CSV, TSV, Parquet or Excel file")]) from None


def _map_columns(raw: pd.DataFrame, table: str, source: TableSource, label: str) -> tuple[pd.DataFrame, dict[str, str]]:
    rename = {user: canon for user, canon in source.columns.items() if user in raw.columns}
    targets = list(rename.values())
    clashes = sorted({t for t in targets if targets.count(t) > 1 or (t in raw.columns and t not in rename)})
    if clashes:
        raise DataValidationError([Problem(table, label, ", ".join(clashes),
                                           "several input columns map onto the same canonical column",
                                           expected="one input column per canonical column")])
    frame = raw.rename(columns=rename)
    original = {canon: user for user, canon in rename.items()}
    for canon, value in source.fill.items():
        if canon not in frame.columns:
            frame[canon] = value
    return frame, original


def load_table(
    table: str,
    source: TableSource,
    *,
    timezone: str = "Asia/Tokyo",
    policies: Policies = Policies(),
    quality: list[dict] | None = None,
    since=None,
    until=None,
) -> pd.DataFrame:
    """Read one canonical table from a file and validate it.

    Parameters
    ----------
    table : str
        Canonical table name (see :mod:`crmtools.schema`).
    source : TableSource
        File, column mapping, fills and reading options.
    timezone : str, default="Asia/Tokyo"
        Business time zone.
    policies : Policies, optional
        Business decisions about awkward rows.
    quality : list, optional
        Data-quality rows are appended here (``table, check, rows, action``).
    since, until : timestamp, optional
        Keep only transactions with ``since <= order_datetime < until``
        (business time); Parquet rows outside are not even read.

    Returns
    -------
    pandas.DataFrame
        The table with canonical columns (in canonical order) and types.

    Raises
    ------
    DataValidationError
        Listing every problem found, each naming the file, column, rows and
        what was expected.
    """
    if table not in TABLES:
        raise ValueError(f"Unknown table {table!r}; allowed: {sorted(TABLES)}.")
    if not source.file:
        raise ValueError(f"load_table reads files: give TableSource(file=...); got {source!r}. Tables in a "
                         "database load with load_dataset and data.source: duckdb or sql.")
    from .sources import period_window, read_file

    since, until = period_window(since, until, timezone=timezone)
    raw = read_file(table, source, since=since, until=until, timezone=timezone)
    return validate_raw(table, raw, source, label=str(source.file), timezone=timezone, policies=policies,
                        quality=quality, since=since, until=until)


def _canonical_order(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Rows in a fixed order (time, then key, then every column), whatever order they were read in."""
    first = ["order_datetime"] if spec.name == "transactions" else []
    keys = [c for c in dict.fromkeys([*first, *spec.key]) if c in frame.columns]
    out = frame.sort_values(keys, kind="mergesort", na_position="last") if keys else frame
    rest = [c for c in spec.names if c in out.columns and c not in keys]
    if rest and (not keys or out.duplicated(keys).any()):
        out = out.sort_values(keys + rest, kind="mergesort", na_position="last")
    return out


def validate_raw(
    table: str,
    raw: pd.DataFrame,
    source: TableSource,
    *,
    label: str,
    timezone: str = "Asia/Tokyo",
    policies: Policies = Policies(),
    quality: list[dict] | None = None,
    since=None,
    until=None,
    sort: bool = False,
) -> pd.DataFrame:
    """Map, coerce, check and apply policies to a raw table, from any source.

    Every loader (files, DuckDB, SQL) ends here, so data from anywhere is
    validated the same way.

    Parameters
    ----------
    table : str
        Canonical table name.
    raw : pandas.DataFrame
        The table as read, with the user's column names.
    source : TableSource
        Column mapping, fills and ``date_format``.
    label : str
        Where the data came from, for messages (a file, or a masked URL and table).
    timezone, policies, quality
        As for :func:`load_table`.
    since, until : pandas.Timestamp, optional
        Keep only rows with ``since <= order_datetime < until`` (naive, business time); rows whose date
        cannot be read are kept, to be reported.
    sort : bool, default=False
        Put rows in a fixed order (time, then key) before checks: for sources without a row order.

    Returns
    -------
    pandas.DataFrame
        The table with canonical columns (in canonical order) and types.

    Examples
    --------
    >>> raw = pd.DataFrame({"sku": ["B", "A"], "title": ["Tea", "Soba"], "kind": ["Food", "Food"]})
    >>> validate_raw("products", raw, TableSource(columns={"sku": "product_id", "title": "product_name",
    ...              "kind": "category"}), label="my query", sort=True)["product_id"].tolist()
    ['A', 'B']
    """
    spec = TABLES[table]
    window = since is not None or until is not None
    if len(raw) == 0 and not window:
        what = "the file has no data rows" if source.file else "the table or query returned no rows"
        raise DataValidationError([Problem(table, label, None, what, expected="at least one data row")])
    frame, original = _map_columns(raw.reset_index(drop=True), table, source, label)
    if table == "transactions" and "amount" not in frame.columns and {"quantity", "unit_price"} <= set(frame.columns):
        q = pd.to_numeric(frame["quantity"], errors="coerce")
        p = pd.to_numeric(frame["unit_price"], errors="coerce")
        frame["amount"] = (q * p).round(6)
    coerced, problems, unreadable = coerce_table(frame, spec, source=label, original_names=original,
                                                 timezone=timezone, date_format=source.date_format)
    if any(p.message == "required column is missing" for p in problems):
        raise DataValidationError(problems)
    if window and "order_datetime" in coerced.columns:
        when = coerced["order_datetime"]
        inside = pd.Series(True, index=when.index)
        if since is not None:
            inside &= when >= since
        if until is not None:
            inside &= when < until
        keep = inside | when.isna()  # unreadable dates stay, to be reported
        coerced, unreadable = coerced.loc[keep], unreadable.loc[keep]
    if sort:
        coerced = _canonical_order(coerced, spec)
        unreadable = unreadable.loc[coerced.index]
    more, failing, duplicates = check_table(coerced, spec, source=label, original_names=original,
                                            policies=policies, skip_rows=unreadable)
    invalid = unreadable | failing
    quality = quality if quality is not None else []
    quality.append({"table": table, "check": "rows read", "rows": int(len(coerced)), "action": "loaded"})
    problems = problems + more
    if policies.invalid_rows == "drop":
        quality.append({"table": table, "check": "invalid rows", "rows": int(invalid.sum()), "action": "drop"})
        problems = [p for p in problems if p.message == "duplicate keys"]
        coerced = coerced.loc[~invalid]
        duplicates = duplicates.loc[~invalid]
    if policies.duplicates != "error" and spec.key:
        quality.append({"table": table, "check": "duplicate key rows", "rows": int(duplicates.sum()),
                        "action": policies.duplicates})
        if policies.duplicates == "drop":
            coerced = coerced.loc[~duplicates]
    if table == "transactions":
        coerced, rows, policy_problems = apply_policies(coerced, policies, source=label)
        problems += policy_problems
        quality.extend({"table": table, **r} for r in rows)
    if problems:
        raise DataValidationError(problems)
    ordered = [c for c in spec.names if c in coerced.columns]
    extras = [c for c in coerced.columns if c not in ordered]
    return coerced[ordered + extras].reset_index(drop=True)


def _enrich_transactions(tx: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Add product_name/category from the products table where transactions lack them."""
    missing = [c for c in ("product_name", "category") if c not in tx.columns]
    if not missing or products.empty:
        return tx
    lookup = products.set_index("product_id")
    out = tx.copy()
    for c in missing:
        out[c] = out["product_id"].map(lookup[c])
    return out


def inspect_dataset(config: DataConfig, *, until=None,
                    since=None) -> tuple[Dataset | None, list[Problem], pd.DataFrame]:
    """Load every table, collecting all problems instead of stopping at the first.

    ``until`` and ``since`` restrict transactions as in :func:`load_dataset`.

    Returns
    -------
    (Dataset or None, list of Problem, DataFrame)
        The data set when usable (None otherwise), every problem found, and
        the data-quality summary.
    """
    from .sources import open_reader, period_window

    since, until = period_window(since, until, timezone=config.timezone)
    problems: list[Problem] = []
    quality: list[dict] = []
    tables: dict[str, pd.DataFrame] = {}
    fingerprints: dict[str, str] = {}
    inputs: dict[str, dict] = {}
    with open_reader(config) as reader:
        for name in TABLES:
            window = {"since": since, "until": until} if name == "transactions" else {}
            try:
                source = reader.source_for(name)
                if source is None:
                    if name == "transactions":
                        problems.append(reader.absent_problem(name))
                    tables[name] = empty_table(name)
                    continue
                tables[name], inputs[name] = reader.load(name, source, quality=quality, **window)
                fingerprints[name] = inputs[name]["sha256"]
            except DataValidationError as exc:
                problems.extend(exc.problems)
                tables[name] = empty_table(name)
    quality_frame = pd.DataFrame(quality, columns=["table", "check", "rows", "action"])
    if problems:
        return None, problems, quality_frame
    tables["transactions"] = _enrich_transactions(tables["transactions"], tables["products"])
    return Dataset(**tables, quality=quality_frame, fingerprints=fingerprints, inputs=inputs), [], quality_frame


def load_dataset(config: DataConfig | dict | str, *, until=None, since=None) -> Dataset:
    """Load and validate a whole data set.

    Parameters
    ----------
    config : DataConfig, dict or str
        The data configuration, its params mapping, or a folder path.
    until : timestamp, optional
        Read only transactions before this instant (exclusive, business time), e.g. ``period.end``:
        reports never read the future. Everything when None.
    since : timestamp, optional
        Read only transactions from this instant on (inclusive). Everything when None.

    Returns
    -------
    Dataset

    Raises
    ------
    DataValidationError
        Listing every problem in every table.

    Notes
    -----
    The window is applied in the source (a ``WHERE`` clause with bound
    parameters for databases, a filter in the Parquet scan), so rows outside
    it are not read; CSV and Excel files are filtered after reading. Other
    tables are read whole.
    """
    if isinstance(config, (str, os.PathLike)):
        config = DataConfig(path=str(config))
    elif isinstance(config, dict):
        config = DataConfig.from_dict(config)
    dataset, problems, _ = inspect_dataset(config, until=until, since=since)
    if problems:
        raise DataValidationError(problems)
    return dataset


_SNAPSHOT_TABLES = ("transactions", "customers", "products", "campaigns", "campaign_contacts", "experiments",
                    "quality")


def write_snapshot(dataset: Dataset, folder: str | os.PathLike) -> Path:
    """Write an already validated data set as Parquet, so a run's notebooks read it once validated.

    The runner validates the inputs once per run and hands every notebook
    this snapshot instead of making each one re-read and re-validate the
    sources. It is private to the run (removed before publishing).
    """
    import json

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name in _SNAPSHOT_TABLES:
        getattr(dataset, name).to_parquet(out / f"{name}.parquet", index=False)
    (out / "meta.json").write_text(json.dumps({"fingerprints": dataset.fingerprints, "inputs": dataset.inputs},
                                              sort_keys=True, default=str), encoding="utf-8")
    return out


def read_snapshot(folder: str | os.PathLike) -> Dataset:
    """Read a data set written by :func:`write_snapshot` (no re-validation: it was validated when written)."""
    import json

    src = Path(folder)
    if not (src / "meta.json").exists():
        raise ValueError(f"{src} is not a crmtools data snapshot (no meta.json); expected a folder written by "
                         "crmtools.data.write_snapshot.")
    meta = json.loads((src / "meta.json").read_text(encoding="utf-8"))
    frames = {name: pd.read_parquet(src / f"{name}.parquet") for name in _SNAPSHOT_TABLES}
    return Dataset(**frames, fingerprints=meta["fingerprints"], inputs=meta["inputs"])
