"""Validate a raw table against the canonical model, listing every problem.

Validation happens in two steps, both collecting problems rather than
stopping at the first:

1. *Coercion* turns each column into its canonical type (text, integer,
   number, datetime, flag) and records the rows whose values cannot be
   converted (unparseable dates, text in a numeric column, ...).
2. *Checks* are a pandera schema built from :mod:`crmtools.schema` (missing
   values, minimum values, allowed values, unique keys), run lazily so that
   all failures come back at once, plus a consistency check of
   ``amount == quantity * unit_price``.

Business policies (returns, orders without a customer, duplicate lines,
invalid rows) are explicit options of :class:`Policies`; whatever they drop
or keep is counted in the data-quality summary, never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np
import pandas as pd

from .errors import MAX_EXAMPLES, Problem
from .schema import TableSpec

__all__ = ["Policies", "coerce_table", "check_table", "apply_policies"]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class Policies:
    """Explicit business decisions about awkward rows, with their defaults.

    Parameters
    ----------
    returns : {"keep", "drop", "error"}, default="keep"
        Lines with a negative quantity (returns, cancellations). ``keep`` nets
        them against revenue; ``drop`` removes them; ``error`` rejects the data.
    missing_customer : {"keep", "drop", "error"}, default="keep"
        Lines without a customer id (guest orders). Kept lines count in
        revenue and order KPIs but not in customer analyses.
    duplicates : {"error", "drop", "keep"}, default="error"
        Lines that repeat a table's key (e.g. the same product twice in one
        order). ``drop`` keeps the first occurrence.
    invalid_rows : {"error", "drop"}, default="error"
        Rows that fail a check (unparseable date, negative price ...).
    amount_tolerance : float, default=0.01
        Largest allowed gap between ``amount`` and ``quantity * unit_price``.
    """

    returns: str = "keep"
    missing_customer: str = "keep"
    duplicates: str = "error"
    invalid_rows: str = "error"
    amount_tolerance: float = 0.01

    def __post_init__(self) -> None:
        allowed = {
            "returns": ("keep", "drop", "error"),
            "missing_customer": ("keep", "drop", "error"),
            "duplicates": ("error", "drop", "keep"),
            "invalid_rows": ("error", "drop"),
        }
        for name, options in allowed.items():
            value = getattr(self, name)
            if value not in options:
                raise ValueError(f"Policy {name!r} must be one of {options}; got {value!r}.")

    @classmethod
    def from_dict(cls, values: dict | None) -> "Policies":
        """Build from a params mapping, rejecting unknown names."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(
                f"Unknown data policy {unknown}; allowed: {sorted(cls.__dataclass_fields__)}."
            )
        return cls(**values)


def _examples(mask: pd.Series, values: pd.Series) -> tuple[tuple[int, ...], tuple, int]:
    """First few offending 1-based row numbers, their values and the count.

    Row numbers come from the integer index (data row = label + 1), so they
    still name the input's rows after policies have dropped some; any other
    index falls back to positions.
    """
    idx = np.flatnonzero(mask.to_numpy())
    shown = idx[:MAX_EXAMPLES]
    vals = tuple(_plain(v) for v in values.iloc[shown].tolist())
    labels = mask.index[shown] if pd.api.types.is_integer_dtype(mask.index) else shown
    return tuple(int(i) + 1 for i in labels), vals, int(idx.size)


def _plain(value):
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return str(value)
    return value


def _to_text(series: pd.Series) -> pd.Series:
    """Identifiers and labels as text; whole-number floats lose their '.0'."""
    if pd.api.types.is_float_dtype(series):
        finite = series.dropna()
        if len(finite) and np.all(np.mod(finite, 1) == 0):
            series = series.astype("Int64")
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        out = series.astype("string").astype("str")
        return out.where(series.notna(), None)
    out = series.astype("str")
    out = out.where(series.notna(), None)
    stripped = out.str.strip()
    stripped = stripped.where(stripped != "", None)
    # Ids written out by spreadsheets or pandas as "17850.0": keep "17850".
    present = stripped.dropna()
    if len(present) and present.str.fullmatch(r"-?\d+\.0").all():
        stripped = stripped.str.slice(0, -2)
    return stripped


#: A time of day followed by a UTC offset ("... 10:00:00+09:00", "...T01:00Z"): a timezone-aware text value.
_AWARE_TEXT = r"(?i)[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|[+-]\d{2}(?::?\d{2})?)$"


def _parse_datetime_text(text: pd.Series, timezone: str, date_format: str | None, utc: bool = False) -> pd.Series:
    """Parse text to naive business-time datetimes; unreadable values become NaT."""
    try:
        parsed = pd.to_datetime(text, errors="coerce", format=date_format, utc=utc)
    except ValueError:  # pandas 3 raises on mixed UTC offsets: parse as UTC, then move to business time
        parsed = pd.to_datetime(text, errors="coerce", format=date_format, utc=True)
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_convert(timezone).dt.tz_localize(None)
    return parsed.astype("datetime64[ns]")


def _to_datetime(series: pd.Series, timezone: str, date_format: str | None) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert(timezone).dt.tz_localize(None).astype("datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.astype("datetime64[ns]")
    text = series.astype("str").where(series.notna(), None)
    try:
        parsed = _parse_datetime_text(text, timezone, date_format)
    except ValueError:  # e.g. offsets mixed with naive values: leave it to the retry below
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    retry = parsed.isna() & text.notna()
    if date_format is None and retry.any():
        # The format inferred from the first value does not fit every row (e.g. "2025-10-01 10:00" then
        # "2025-10-31 23:59:59"): read the rest as ISO 8601, aware values (with an offset) apart from naive ones,
        # so that aware values move to business time and naive ones stay as they are.
        rest = text[retry]
        aware = rest.str.strip().str.contains(_AWARE_TEXT, regex=True)
        again = pd.concat([
            _parse_datetime_text(rest[aware], timezone, "ISO8601", utc=True),
            _parse_datetime_text(rest[~aware], timezone, "ISO8601"),
        ])
        parsed = parsed.mask(retry, again.reindex(parsed.index))
    return parsed.astype("datetime64[ns]")


def _to_bool(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    text = series.astype("str").str.strip().str.lower().where(series.notna(), None)
    out = pd.Series(pd.NA, index=series.index, dtype="boolean")
    out[text.isin(_TRUE)] = True
    out[text.isin(_FALSE)] = False
    return out


_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "datetime": "a date or datetime such as 2025-10-31 or 2025-10-31 14:05:00",
    "bool": "a flag (true/false, 1/0, yes/no)",
}


def coerce_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    source: str,
    original_names: dict[str, str] | None = None,
    timezone: str = "Asia/Tokyo",
    date_format: str | None = None,
) -> tuple[pd.DataFrame, list[Problem], pd.Series]:
    """Convert every known column to its canonical type.

    Parameters
    ----------
    frame : pandas.DataFrame
        Raw table with canonical column names (after mapping).
    spec : TableSpec
        The canonical table.
    source : str
        File or query the data came from, for messages.
    original_names : dict, optional
        Canonical name -> the user's column name, for messages.
    timezone : str, default="Asia/Tokyo"
        Business time zone; aware datetimes are converted to it, then made naive.
    date_format : str, optional
        strftime format of date columns; inferred when None.

    Returns
    -------
    (DataFrame, list of Problem, Series of bool)
        The converted table, the problems, and a mask of rows that failed.
    """
    original_names = original_names or {}
    problems: list[Problem] = []
    bad_rows = pd.Series(False, index=frame.index)

    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        for name in missing:
            problems.append(
                Problem(
                    spec.name,
                    source,
                    original_names.get(name, name),
                    "required column is missing",
                    expected=f"a column {name!r} ({spec.column(name).description}); "
                    f"columns found: {list(frame.columns)}; map your own names with a column mapping",
                )
            )
        return frame, problems, bad_rows

    out = {}
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        raw = frame[col.name]
        label = original_names.get(col.name, col.name)
        if col.dtype == "str":
            converted = _to_text(raw)
        elif col.dtype == "datetime":
            try:
                converted = _to_datetime(raw, timezone, date_format)
            except (ValueError, TypeError) as exc:
                problems.append(Problem(spec.name, source, label, f"dates could not be read ({exc})",
                                        expected=_TYPE_WORDS["datetime"]))
                bad_rows |= True
                continue
        elif col.dtype in ("int", "float"):
            converted = pd.to_numeric(raw, errors="coerce")
            if col.dtype == "int":
                non_integral = converted.notna() & (np.mod(converted.fillna(0), 1) != 0)
                if non_integral.any():
                    rows, vals, n = _examples(non_integral, raw)
                    problems.append(Problem(spec.name, source, label, "values are not whole numbers",
                                            _TYPE_WORDS["int"], rows, vals, n))
                    bad_rows |= non_integral
                converted = converted.where(~non_integral).astype("Int64")
            else:
                converted = converted.astype("float64")
        elif col.dtype == "bool":
            converted = _to_bool(raw)
        else:  # pragma: no cover - schema is fixed
            raise AssertionError(col.dtype)
        unreadable = raw.notna() & pd.Series(converted, index=frame.index).isna()
        if col.dtype == "str":
            unreadable = pd.Series(False, index=frame.index)
        elif col.dtype == "int":
            unreadable &= ~non_integral  # already reported as "not whole numbers"
        if unreadable.any():
            rows, vals, n = _examples(unreadable, raw)
            problems.append(Problem(spec.name, source, label, f"values cannot be read as {col.dtype}",
                                    _TYPE_WORDS[col.dtype], rows, vals, n))
            bad_rows |= unreadable
        out[col.name] = converted

    extras = [c for c in frame.columns if c not in out]
    result = pd.DataFrame(out, index=frame.index)
    for c in extras:
        result[c] = frame[c]
    return result, problems, bad_rows


class _QuietPyspark(warnings.catch_warnings):
    """With pyspark installed, pandera imports it, and pyspark warns about pandas 3: not the user's concern."""

    def __enter__(self):
        out = super().__enter__()
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
        return out


def _pandera():
    """Import pandera on first use (it is slow to import)."""
    with _QuietPyspark():
        import pandera.pandas as pa
    return pa


def _pandera_schema(spec: TableSpec):
    pa = _pandera()
    columns = {}
    for col in spec.columns:
        checks = []
        if col.min_value is not None:
            checks.append(pa.Check.ge(col.min_value, error=f"values below {col.min_value}"))
        if col.allowed is not None:
            checks.append(pa.Check.isin(list(col.allowed), error=f"values outside {list(col.allowed)}"))
        columns[col.name] = pa.Column(
            checks=checks, nullable=col.nullable, required=col.required, coerce=False
        )
    # Duplicate keys are a policy question (see Policies.duplicates), checked apart.
    return pa.DataFrameSchema(columns, strict=False)


def check_table(
    frame: pd.DataFrame,
    spec: TableSpec,
    *,
    source: str,
    original_names: dict[str, str] | None = None,
    policies: Policies = Policies(),
    skip_rows: pd.Series | None = None,
) -> tuple[list[Problem], pd.Series, pd.Series]:
    """Run the value checks on a coerced table.

    Returns
    -------
    (list of Problem, Series of bool, Series of bool)
        Problems, a mask of rows failing a row-level check, and a mask of
        rows that repeat the table's key (all but the first occurrence).
    """
    original_names = original_names or {}
    problems: list[Problem] = []
    failing = pd.Series(False, index=frame.index)
    checked = frame if skip_rows is None else frame.loc[~skip_rows]
    pa = _pandera()
    schema = _pandera_schema(spec)
    duplicate_mask = pd.Series(False, index=frame.index)
    if spec.key and all(k in frame.columns for k in spec.key):
        duplicate_mask = frame.duplicated(list(spec.key), keep="first")
        if skip_rows is not None:
            duplicate_mask &= ~skip_rows
    try:
        with _QuietPyspark():
            schema.validate(checked, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["column"].notna() & cases["index"].notna()]
        for (column, check), group in cases.groupby(["column", "check"], sort=True):
            index = pd.Index(group["index"].astype("int64").unique())
            mask = frame.index.isin(index)
            mask = pd.Series(mask, index=frame.index)
            rows, vals, n = _examples(mask, frame[column])
            spec_col = spec.column(column)
            if check == "not_nullable":
                message, expected = "values are missing", f"a value in every row ({spec_col.description})"
            else:
                message, expected = f"check failed: {check}", _expected_for(spec_col)
            problems.append(Problem(spec.name, source, original_names.get(column, column),
                                    message, expected, rows, vals, n))
            failing |= mask
    if duplicate_mask.any() and policies.duplicates == "error":
        key_label = ", ".join(original_names.get(k, k) for k in spec.key)
        rows, vals, n = _examples(duplicate_mask, frame[list(spec.key)].astype("str").agg(" / ".join, axis=1))
        problems.append(Problem(spec.name, source, key_label, "duplicate keys",
                                f"each ({key_label}) only once, or set the policy duplicates: drop",
                                rows, vals, n))
    if {"amount", "quantity", "unit_price"} <= set(frame.columns):
        expected_amount = frame["quantity"].astype("float64") * frame["unit_price"]
        gap = (frame["amount"] - expected_amount).abs()
        inconsistent = (gap > policies.amount_tolerance).fillna(False)
        if skip_rows is not None:
            inconsistent &= ~skip_rows
        if inconsistent.any():
            rows, vals, n = _examples(inconsistent, frame["amount"])
            problems.append(Problem(spec.name, source, original_names.get("amount", "amount"),
                                    "amount differs from quantity x unit_price",
                                    f"amount = quantity * unit_price within {policies.amount_tolerance}",
                                    rows, vals, n))
            failing |= inconsistent
    return problems, failing, duplicate_mask


def _expected_for(col) -> str:
    if col.min_value is not None:
        return f"values of at least {col.min_value:g} ({col.description})"
    if col.allowed is not None:
        return f"one of {list(col.allowed)}"
    return col.description


def apply_policies(frame: pd.DataFrame, policies: Policies, *, source: str) -> tuple[pd.DataFrame, list[dict], list[Problem]]:
    """Apply the returns and missing-customer policies to transactions.

    Returns
    -------
    (DataFrame, list of dict, list of Problem)
        The table after the policies, data-quality rows
        (``check, rows, action``) and problems for ``error`` policies.
    """
    quality: list[dict] = []
    problems: list[Problem] = []
    keep = pd.Series(True, index=frame.index)
    if "quantity" in frame.columns:
        returns = (frame["quantity"] < 0).fillna(False)
        n = int(returns.sum())
        quality.append({"check": "return or cancellation lines", "rows": n, "action": policies.returns})
        if n and policies.returns == "error":
            rows, vals, cnt = _examples(returns, frame["quantity"])
            problems.append(Problem("transactions", source, "quantity", "negative quantities (returns)",
                                    "no returns, or set the policy returns: keep or drop", rows, vals, cnt))
        elif policies.returns == "drop":
            keep &= ~returns
    if "customer_id" in frame.columns:
        guests = frame["customer_id"].isna()
        n = int(guests.sum())
        quality.append({"check": "lines without a customer id", "rows": n, "action": policies.missing_customer})
        if n and policies.missing_customer == "error":
            rows, vals, cnt = _examples(guests, frame["customer_id"])
            problems.append(Problem("transactions", source, "customer_id", "customer ids are missing",
                                    "a customer id on every line, or set the policy missing_customer: keep or drop",
                                    rows, vals, cnt))
        elif policies.missing_customer == "drop":
            keep &= ~guests
    return frame.loc[keep], quality, problems
