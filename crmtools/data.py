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
from dataclasses import dataclass, field
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
    """

    file: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    fill: dict[str, object] = field(default_factory=dict)
    encoding: str = "utf-8"
    sheet: str | int = 0
    date_format: str | None = None

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
    """

    path: str = "data/sample"
    tables: dict[str, TableSource] = field(default_factory=dict)
    timezone: str = "Asia/Tokyo"
    policies: Policies = field(default_factory=Policies)

    @classmethod
    def from_dict(cls, values: dict, *, base_dir: str | os.PathLike | None = None) -> "DataConfig":
        """Build from the ``data`` section of params; relative paths resolve against ``base_dir``."""
        values = dict(values)
        unknown = sorted(set(values) - {"path", "tables", "timezone", "policies"})
        if unknown:
            raise ValueError(f"Unknown data option {unknown}; allowed: ['path', 'policies', 'tables', 'timezone'].")
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
        return cls(
            path=path,
            tables=tables,
            timezone=str(values.get("timezone", "Asia/Tokyo")),
            policies=Policies.from_dict(values.get("policies")),
        )

    def source_for(self, table: str) -> TableSource | None:
        """The source of ``table``: explicit, else a matching file in the folder, else None."""
        explicit = self.tables.get(table)
        if explicit is not None and explicit.file:
            return explicit
        for suffix in _SUFFIXES:
            candidate = Path(self.path) / f"{table}{suffix}"
            if candidate.exists():
                base = explicit or TableSource()
                return TableSource(str(candidate), base.columns, base.fill, base.encoding, base.sheet, base.date_format)
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
        Table -> sha256 of the file read (for run manifests).
    """

    transactions: pd.DataFrame
    customers: pd.DataFrame
    products: pd.DataFrame
    campaigns: pd.DataFrame
    campaign_contacts: pd.DataFrame
    experiments: pd.DataFrame
    quality: pd.DataFrame
    fingerprints: dict[str, str] = field(default_factory=dict)


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


def _read_raw(table: str, source: TableSource) -> pd.DataFrame:
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
            return pd.read_parquet(path)
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
    spec = TABLES[table]
    label = str(source.file)
    raw = _read_raw(table, source)
    if len(raw) == 0:
        raise DataValidationError([Problem(table, label, None, "the file has no data rows",
                                           expected="at least one data row")])
    frame, original = _map_columns(raw.reset_index(drop=True), table, source, label)
    if table == "transactions" and "amount" not in frame.columns and {"quantity", "unit_price"} <= set(frame.columns):
        q = pd.to_numeric(frame["quantity"], errors="coerce")
        p = pd.to_numeric(frame["unit_price"], errors="coerce")
        frame["amount"] = (q * p).round(6)
    coerced, problems, unreadable = coerce_table(frame, spec, source=label, original_names=original,
                                                 timezone=timezone, date_format=source.date_format)
    if any(p.message == "required column is missing" for p in problems):
        raise DataValidationError(problems)
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


def inspect_dataset(config: DataConfig) -> tuple[Dataset | None, list[Problem], pd.DataFrame]:
    """Load every table, collecting all problems instead of stopping at the first.

    Returns
    -------
    (Dataset or None, list of Problem, DataFrame)
        The data set when usable (None otherwise), every problem found, and
        the data-quality summary.
    """
    problems: list[Problem] = []
    quality: list[dict] = []
    tables: dict[str, pd.DataFrame] = {}
    fingerprints: dict[str, str] = {}
    for name in TABLES:
        source = config.source_for(name)
        if source is None:
            if name == "transactions":
                problems.append(Problem(name, str(Path(config.path) / "transactions.*"), None,
                                        "no transactions file found",
                                        expected=f"one of {[f'transactions{s}' for s in _SUFFIXES]} "
                                        f"in {config.path}, or data.tables.transactions.file"))
            tables[name] = empty_table(name)
            continue
        try:
            tables[name] = load_table(name, source, timezone=config.timezone, policies=config.policies,
                                      quality=quality)
            fingerprints[name] = file_fingerprint(source.file)
        except DataValidationError as exc:
            problems.extend(exc.problems)
            tables[name] = empty_table(name)
    quality_frame = pd.DataFrame(quality, columns=["table", "check", "rows", "action"])
    if problems:
        return None, problems, quality_frame
    tables["transactions"] = _enrich_transactions(tables["transactions"], tables["products"])
    return Dataset(**tables, quality=quality_frame, fingerprints=fingerprints), [], quality_frame


def load_dataset(config: DataConfig | dict | str) -> Dataset:
    """Load and validate a whole data set.

    Parameters
    ----------
    config : DataConfig, dict or str
        The data configuration, its params mapping, or a folder path.

    Returns
    -------
    Dataset

    Raises
    ------
    DataValidationError
        Listing every problem in every table.
    """
    if isinstance(config, (str, os.PathLike)):
        config = DataConfig(path=str(config))
    elif isinstance(config, dict):
        config = DataConfig.from_dict(config)
    dataset, problems, _ = inspect_dataset(config)
    if problems:
        raise DataValidationError(problems)
    return dataset
