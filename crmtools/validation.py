"""Validate a raw table against the canonical model, listing every problem.

Validation happens in two steps, both collecting problems rather than
stopping at the first:

1. *Coercion* turns each column into its canonical type (text, integer,
   number, datetime, flag) and records the rows whose values cannot be
   converted (unparseable dates, text in a numeric column, ...).
2. *Checks* are the declarations of :mod:`crmtools.schema` (missing
   values, minimum, maximum and allowed values, unique keys), each run on
   the whole column so that all failures come back at once, plus a consistency check of
   ``amount == quantity * unit_price``.

Business policies (returns, orders without a customer, duplicate lines,
invalid rows) are explicit options of :class:`Policies`; whatever they drop
or keep is counted in the data-quality summary, never dropped silently.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .engine import known_distinct, member_of
from .errors import MAX_EXAMPLES, ROWS_FROM_QUERY, Problem
from .quality import detail_facts
from .schema import TableSpec

__all__ = [
    "REFERENCES",
    "Policies",
    "apply_policies",
    "check_references",
    "check_table",
    "coerce_table",
    "large_amounts",
    "non_merchandise_mask",
    "repeated_keys",
]

#: Whole numbers beyond this are not exact in floating point (and no quantity is that large).
_MAX_WHOLE = 2**53

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
    max_line_amount : float, default=100_000_000
        Order lines whose ``amount`` is larger than this (in absolute value, in the data's currency) are
        implausible: they are loaded, and counted with their rows as a warning in the data-quality summary.
    min_id_overlap : float, default=0.5
        Smallest share (0 to 1) of the ids in one table that must be found in the table they refer to
        (transaction customers in customers, contacts' campaigns in campaigns ...); below it the ids do not
        match across tables (leading zeros, ``9.0``, case ...) and the data is rejected. 0 turns the check off.
    non_merchandise : tuple of str, default=()
        Product codes of lines that are not merchandise (postage, fees, bank charges, manual adjustments,
        bad-debt write-offs ...): an exact code, or ``re:<pattern>`` for a regular expression the whole code
        must match. Matching lines are excluded from the transactions, both signs alike (so from revenue,
        products and baskets), before any other check, and counted with their amount in the data-quality
        summary.
    cancellation_orders : str, optional
        A regular expression matched at the start of ``order_id`` that marks cancellation orders (``^C``
        for invoices "C536379"). Negative-quantity lines of such orders are cancellations; when None, a
        negative-quantity line is a cancellation or return when it has a customer id.
    other_negative : {"keep", "drop", "error"}, default="keep"
        Negative-quantity lines that are not cancellations (no customer and no cancellation order: stock
        write-offs, damages, adjustments). ``drop`` removes them from the transactions.
    zero_price : {"keep", "drop"}, default="keep"
        Lines with a unit price of 0 (free items, samples, stock adjustments): always counted.
    """

    returns: str = "keep"
    missing_customer: str = "keep"
    duplicates: str = "error"
    invalid_rows: str = "error"
    amount_tolerance: float = 0.01
    max_line_amount: float = 100_000_000.0
    min_id_overlap: float = 0.5
    non_merchandise: tuple[str, ...] = ()
    cancellation_orders: str | None = None
    other_negative: str = "keep"
    zero_price: str = "keep"

    def __post_init__(self) -> None:
        allowed = {
            "returns": ("keep", "drop", "error"),
            "missing_customer": ("keep", "drop", "error"),
            "duplicates": ("error", "drop", "keep"),
            "invalid_rows": ("error", "drop"),
            "other_negative": ("keep", "drop", "error"),
            "zero_price": ("keep", "drop"),
        }
        _check_patterns(self.non_merchandise, self.cancellation_orders)
        object.__setattr__(self, "non_merchandise", tuple(self.non_merchandise))
        for name, options in allowed.items():
            value = getattr(self, name)
            if value not in options:
                raise ValueError(f"Policy {name!r} must be one of {options}; got {value!r}.")
        numbers = {  # name: (lowest, highest, whether the lowest is allowed, what is allowed)
            "amount_tolerance": (0.0, math.inf, True, "a finite number >= 0"),
            "max_line_amount": (0.0, math.inf, False, "a finite number > 0 (0 excluded)"),
            "min_id_overlap": (0.0, 1.0, True, "a number from 0 to 1 (a share; 0 turns the check off)"),
        }
        for name, (low, high, low_allowed, words) in numbers.items():
            value = getattr(self, name)
            ok = (
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value)
                and (low <= value if low_allowed else low < value)
                and value <= high
            )
            if not ok:
                raise ValueError(f"Policy {name!r} must be {words}; got {value!r}.")

    @classmethod
    def from_dict(cls, values: dict | None) -> Policies:
        """Build from a params mapping, rejecting unknown names."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"Unknown data policy {unknown}; allowed: {sorted(cls.__dataclass_fields__)}.")
        return cls(**values)


def _check_patterns(codes, cancellation_orders) -> None:
    """Refuse non-merchandise codes that are not text and regular expressions that do not compile."""
    if isinstance(codes, str) or not all(isinstance(c, str) and c.strip() for c in codes):
        raise ValueError(
            f"Policy 'non_merchandise' must be a list of product codes (or 're:<pattern>' entries); got {codes!r}."
        )
    patterns = [c[3:] for c in codes if c.startswith("re:")]
    if cancellation_orders is not None:
        if not isinstance(cancellation_orders, str) or not cancellation_orders:
            raise ValueError(
                f"Policy 'cancellation_orders' must be a regular expression such as '^C'; got {cancellation_orders!r}."
            )
        patterns.append(cancellation_orders)
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(
                f"Policy pattern {pattern!r} is not a valid regular expression ({exc}); expected e.g. '^C' "
                "or 're:^gift_'."
            ) from None


def non_merchandise_mask(product_ids: pd.Series, codes) -> pd.Series:
    """Which lines carry a non-merchandise product code (see :class:`Policies`).

    Examples
    --------
    >>> non_merchandise_mask(pd.Series(["POST", "85123A", "gift_0001_20", None]), ["POST", "re:gift_.*"]).tolist()
    [True, False, True, False]
    """
    exact = [c for c in codes if not c.startswith("re:")]
    mask = product_ids.isin(exact)
    for code in codes:
        if code.startswith("re:"):
            mask |= product_ids.astype("str").str.fullmatch(code[3:]).fillna(False).astype(bool)
    return mask.fillna(False).astype(bool) & product_ids.notna()


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
    # a missing value stays missing as text; should one not (a value pandas writes out), it is made so (only then
    # is the column copied: replacing gaps in Arrow text goes through Python strings, 0.5 s for 3.3M order lines)
    missing = series.isna().to_numpy()
    if (missing & out.notna().to_numpy()).any():
        out = out.where(~missing, None)
    stripped = out.str.strip()
    empty = (stripped == "").to_numpy(bool, na_value=False)
    if empty.any():
        stripped = stripped.where(~empty, None)
    # Ids written out by spreadsheets or pandas as "17850.0": keep "17850".
    # (the first value present decides for most columns: only when it looks so are all of them checked)
    present = stripped.notna().to_numpy()
    first = int(present.argmax()) if present.any() else None
    whole = r"-?\d+\.0"
    looks_so = first is not None and stripped.iloc[first : first + 1].str.fullmatch(whole).all()
    if looks_so and stripped[present].str.fullmatch(whole).all():
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
        again = pd.concat(
            [
                _parse_datetime_text(rest[aware], timezone, "ISO8601", utc=True),
                _parse_datetime_text(rest[~aware], timezone, "ISO8601"),
            ]
        )
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


#: Tables with at least this many rows have their columns converted two at a time (:func:`_each_column`).
_THREADED_ROWS = 200_000


def _each_column(function, columns: list, *, rows: int) -> list:
    """``function`` of each column, in the columns' order: two at a time in threads for a large table (Arrow and
    NumPy release the interpreter for most of a conversion, so the run's plan, on the critical path of every
    report, takes less time), one after another otherwise. The same results, in the same order, either way."""
    if rows < _THREADED_ROWS or len(columns) < 2:
        return [function(col) for col in columns]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="crmtools-convert") as pool:
        return list(pool.map(function, columns))


def _convert_column(
    frame: pd.DataFrame, col, *, spec: TableSpec, source: str, names: dict, timezone: str, date_format: str | None
) -> tuple[pd.Series | None, list[Problem], pd.Series]:
    """One column of ``frame`` converted to its canonical type (None when it cannot be), the problems found, and
    the rows that failed."""
    raw = frame[col.name]
    label = names.get(col.name, col.name)
    problems: list[Problem] = []
    failed = pd.Series(False, index=frame.index)
    if col.dtype == "str":
        converted = _to_text(raw)
    elif col.dtype == "datetime":
        try:
            converted = _to_datetime(raw, timezone, date_format)
        except (ValueError, TypeError) as exc:
            problem = f"dates could not be read ({exc})"
            return None, [Problem(spec.name, source, label, problem, expected=_TYPE_WORDS["datetime"])], ~failed
    elif col.dtype in ("int", "float"):
        converted, reported, problems = _to_number(raw, col.dtype, spec=spec, source=source, label=label)
        failed |= reported
    elif col.dtype == "bool":
        converted = _to_bool(raw)
    else:  # pragma: no cover - schema is fixed
        raise AssertionError(col.dtype)
    unreadable = raw.notna() & pd.Series(converted, index=frame.index).isna()
    if col.dtype == "str":
        unreadable = pd.Series(False, index=frame.index)
    elif col.dtype in ("int", "float"):
        unreadable &= ~reported  # already reported (not finite, too large, not whole)
    if unreadable.any():
        rows, vals, n = _examples(unreadable, raw)
        problems.append(
            Problem(
                spec.name, source, label, f"values cannot be read as {col.dtype}", _TYPE_WORDS[col.dtype], rows, vals, n
            )
        )
        failed |= unreadable
    return converted, problems, failed


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

    columns = [col for col in spec.columns if col.name in frame.columns]
    convert = functools.partial(
        _convert_column,
        frame,
        spec=spec,
        source=source,
        names=original_names,
        timezone=timezone,
        date_format=date_format,
    )
    out = {}
    for col, (converted, found, failed) in zip(columns, _each_column(convert, columns, rows=len(frame))):
        problems += found
        bad_rows |= failed
        if converted is not None:
            out[col.name] = converted

    extras = [c for c in frame.columns if c not in out]
    result = pd.DataFrame(out, index=frame.index, copy=False)  # its columns as converted: not stacked again
    for c in extras:
        result[c] = frame[c]
    return result, problems, bad_rows


def _to_number(
    raw: pd.Series, dtype: str, *, spec: TableSpec, source: str, label: str
) -> tuple[pd.Series, pd.Series, list[Problem]]:
    """A numeric column as float64 (``"float"``) or Int64 (``"int"``), with its non-finite, too large and
    fractional values reported (their rows, values and what is allowed) and set to missing.

    Returns
    -------
    (Series, Series of bool, list of Problem)
        The converted column, a mask of the rows reported, and the problems.
    """
    number = pd.Series(pd.to_numeric(raw, errors="coerce"), index=raw.index).astype("float64")
    problems: list[Problem] = []
    reported = pd.Series(False, index=raw.index)

    def report(mask: pd.Series, message: str, expected: str) -> None:
        nonlocal reported
        mask = mask & ~reported
        if mask.any():
            rows, vals, n = _examples(mask, raw)
            problems.append(Problem(spec.name, source, label, message, expected, rows, vals, n))
            reported |= mask

    # inf, -inf, "Infinity", 1e999: no amount, price or count is infinite, and inf breaks every sum after it.
    report(
        pd.Series(np.isinf(number.to_numpy()), index=raw.index),
        "values are not finite numbers",
        f"a finite {_TYPE_WORDS[dtype].removeprefix('a ')} (inf, -inf, Infinity and numbers beyond ±1.8e308 "
        "are not allowed)",
    )
    if dtype == "int":
        finite = number.where(~reported)
        report(
            (finite.abs() > _MAX_WHOLE).fillna(False),
            "values are too large for a whole number",
            f"{_TYPE_WORDS['int']} between -{_MAX_WHOLE:,} and {_MAX_WHOLE:,}",
        )
        with np.errstate(invalid="ignore"):
            fractional = finite.notna() & (np.mod(finite.fillna(0), 1) != 0)
        report(fractional, "values are not whole numbers", _TYPE_WORDS["int"])
        return number.where(~reported).astype("Int64"), reported, problems
    return number.where(~reported), reported, problems


def _check_failures(
    frame: pd.DataFrame, spec: TableSpec, rows: np.ndarray | None = None
) -> list[tuple[str, str, np.ndarray]]:
    """The rows failing each declared check of ``spec``'s columns, as (column, check, mask), sorted.

    A column that must have a value fails ``not_nullable`` where it is missing; its minimum, maximum and
    allowed values are checked on the values present (a missing value fails no value check). Only ``rows``
    (a mask; all when None) are checked, and only checks that fail there are listed, sorted by column and check.

    Examples
    --------
    >>> from crmtools.schema import Column
    >>> spec = TableSpec("t", (Column("n", "float", min_value=0.0), Column("g", "str", allowed=("a",))))
    >>> frame = pd.DataFrame({"n": [1.0, -1.0, None], "g": pd.array(["a", "b", None], dtype="str")})
    >>> [(c, check, np.flatnonzero(mask).tolist()) for c, check, mask in _check_failures(frame, spec)]
    [('g', 'not_nullable', [2]), ('g', "values outside ['a']", [1]), ('n', 'not_nullable', [2]), ('n', 'values below 0.0', [1])]
    """
    found = []
    for col in spec.columns:
        if col.name not in frame.columns:
            continue  # a missing column is reported by the coercion (required) or not at all
        values, seen = frame[col.name], np.ones(len(frame), bool) if rows is None else rows
        present = values.notna().to_numpy(bool) & seen
        checks = {} if col.nullable else {"not_nullable": seen & ~present}
        if col.min_value is not None:
            checks[f"values below {col.min_value}"] = _holds(values < col.min_value) & present
        if col.max_value is not None:
            checks[f"values above {col.max_value}"] = _holds(values > col.max_value) & present
        if col.allowed is not None:
            checks[f"values outside {list(col.allowed)}"] = ~_holds(values.isin(list(col.allowed))) & present
        found += [(col.name, check, mask) for check, mask in checks.items() if mask.any()]
    return sorted(found, key=lambda failure: failure[:2])


def _key_text(frame: pd.DataFrame, key: tuple[str, ...]) -> pd.Series:
    """Each row's key as text, its parts joined by " / " (a missing part: "(missing)").

    Examples
    --------
    >>> _key_text(pd.DataFrame({"a": ["x", "y"], "t": pd.to_datetime(["2025-01-02", None])}), ("a", "t")).tolist()
    ['x / 2025-01-02', 'y / (missing)']
    """
    return frame[list(key)].astype("str").fillna("(missing)").agg(" / ".join, axis=1)


def _holds(test: pd.Series) -> np.ndarray:
    """A comparison's result as booleans (missing: False)."""
    return test.to_numpy(bool, na_value=False)


#: From this many rows, repeated keys are found with polars (hashing on every core; 3.3 million order lines:
#: 2.7 -> 1.1 s), below it with pandas (which needs no polars import).
PARALLEL_KEY_ROWS = 500_000


def repeated_keys(frame: pd.DataFrame, key) -> pd.Series:
    """The rows whose ``key`` values repeat an earlier row's: ``frame.duplicated(key, keep="first")``.

    Missing values are equal to each other, as in pandas. Large frames are checked with polars (same answer).

    Examples
    --------
    >>> repeated_keys(pd.DataFrame({"a": ["x", "x", None, None], "b": [1, 1, 2, 2]}), ["a", "b"]).tolist()
    [False, True, False, True]
    """
    key = list(key)
    if len(frame) < PARALLEL_KEY_ROWS:
        return frame.duplicated(key, keep="first")
    import polars as pl

    try:
        table = pl.from_pandas(frame[key].reset_index(drop=True))
    except (TypeError, ValueError, pl.exceptions.PolarsError):  # a column polars cannot take: pandas answers
        return frame.duplicated(key, keep="first")
    first = table.select(pl.struct(pl.all()).is_first_distinct()).to_series().to_numpy()
    return pd.Series(~first, index=frame.index)


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
    duplicate_mask = pd.Series(False, index=frame.index)
    if spec.key and all(k in frame.columns for k in spec.key):
        duplicate_mask = repeated_keys(frame, spec.key)
        if skip_rows is not None:
            duplicate_mask &= ~skip_rows
    rows = None if skip_rows is None else ~skip_rows.to_numpy(bool)
    for column, check, fails in _check_failures(frame, spec, rows):
        mask = pd.Series(fails, index=frame.index)
        rows, vals, n = _examples(mask, frame[column])
        spec_col = spec.column(column)
        if check == "not_nullable":
            message, expected = "values are missing", f"a value in every row ({spec_col.description})"
        else:
            message, expected = f"check failed: {check}", _expected_for(spec_col)
        problems.append(
            Problem(spec.name, source, original_names.get(column, column), message, expected, rows, vals, n)
        )
        failing |= mask
    if duplicate_mask.any() and policies.duplicates == "error":
        key_label = ", ".join(original_names.get(k, k) for k in spec.key)
        rows, vals, n = _examples(duplicate_mask, _key_text(frame, spec.key))
        problems.append(
            Problem(
                spec.name,
                source,
                key_label,
                "duplicate keys",
                f"each ({key_label}) only once, or set the policy duplicates: drop",
                rows,
                vals,
                n,
            )
        )
    if {"amount", "quantity", "unit_price"} <= set(frame.columns):
        expected_amount = frame["quantity"].astype("float64") * frame["unit_price"]
        gap = (frame["amount"] - expected_amount).abs()
        inconsistent = (gap > policies.amount_tolerance).fillna(False)
        if skip_rows is not None:
            inconsistent &= ~skip_rows
        if inconsistent.any():
            rows, vals, n = _examples(inconsistent, frame["amount"])
            problems.append(
                Problem(
                    spec.name,
                    source,
                    original_names.get("amount", "amount"),
                    "amount differs from quantity x unit_price",
                    f"amount = quantity * unit_price within {policies.amount_tolerance}",
                    rows,
                    vals,
                    n,
                )
            )
            failing |= inconsistent
    return problems, failing, duplicate_mask


def _expected_for(col) -> str:
    if col.min_value is not None and col.max_value is not None:
        return f"values from {col.min_value:g} to {col.max_value:g} ({col.description})"
    if col.min_value is not None:
        return f"values of at least {col.min_value:g} ({col.description})"
    if col.allowed is not None:
        return f"one of {list(col.allowed)}"
    return col.description


def _negative_kinds(frame: pd.DataFrame, policies: Policies) -> tuple[pd.Series, pd.Series]:
    """Negative-quantity lines split into cancellations (or returns) and other negative lines."""
    negative = (frame["quantity"] < 0).fillna(False).astype(bool)
    if policies.cancellation_orders is not None and "order_id" in frame.columns:
        marked = frame["order_id"].astype("str").str.match(policies.cancellation_orders).fillna(False).astype(bool)
    elif "customer_id" in frame.columns:
        marked = frame["customer_id"].notna()
    else:
        marked = pd.Series(True, index=frame.index)
    cancellations = negative & marked
    return cancellations, negative & ~cancellations


def apply_policies(
    frame: pd.DataFrame, policies: Policies, *, source: str
) -> tuple[pd.DataFrame, list[dict], list[Problem]]:
    """Apply the returns, other-negative, zero-price and missing-customer policies to transactions.

    Negative-quantity lines are of two kinds, counted apart: cancellations or returns (a cancellation order
    when ``policies.cancellation_orders`` is set, else a line with a customer id), under ``returns``, and other
    negative lines (stock write-offs, damages, adjustments), under ``other_negative``. Each line is counted
    under the first policy that drops it, and not again.

    Returns
    -------
    (DataFrame, list of dict, list of Problem)
        The table after the policies, data-quality rows
        (``check, rows, action``, and ``amount`` for amounts) and problems for ``error`` policies.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["1", "C2", "3", "4"], "customer_id": ["a", "a", None, "b"],
    ...                    "quantity": [2, -1, -5, 1], "unit_price": [1.0, 1.0, 0.0, 0.0],
    ...                    "amount": [2.0, -1.0, 0.0, 0.0]})
    >>> kept, rows, problems = apply_policies(tx, Policies(other_negative="drop"), source="orders.csv")
    >>> [(r["check"], r["rows"], r["action"]) for r in rows]  # doctest: +NORMALIZE_WHITESPACE
    [('return or cancellation lines', 1, 'keep'), ('other negative lines', 1, 'drop'),
     ('zero-price lines', 1, 'keep'), ('lines without a customer id', 0, 'keep')]
    >>> kept["order_id"].tolist()
    ['1', 'C2', '4']
    """
    quality: list[dict] = []
    problems: list[Problem] = []
    keep = pd.Series(True, index=frame.index)

    def policy(mask, check, action, column, message, expected):
        nonlocal keep
        mask = mask & keep  # lines an earlier policy dropped are not counted again
        n = int(mask.sum())
        row = {"check": check, "rows": n, "action": action}
        if "amount" in frame.columns:
            row["amount"] = round(float(frame.loc[mask, "amount"].sum()), 2)
        quality.append(row)
        if n and action == "error":
            rows, vals, cnt = _examples(mask, frame[column])
            problems.append(Problem("transactions", source, column, message, expected, rows, vals, cnt))
        elif action == "drop":
            keep &= ~mask

    if "quantity" in frame.columns:
        cancellations, other = _negative_kinds(frame, policies)
        policy(
            cancellations,
            "return or cancellation lines",
            policies.returns,
            "quantity",
            "negative quantities (returns)",
            "no returns, or set the policy returns: keep or drop",
        )
        policy(
            other,
            "other negative lines",
            policies.other_negative,
            "quantity",
            "negative quantities that are not cancellations (no customer: write-offs, adjustments)",
            "none, or set the policy other_negative: keep or drop",
        )
    if "unit_price" in frame.columns:
        policy(
            (frame["unit_price"] == 0).fillna(False).astype(bool),
            "zero-price lines",
            policies.zero_price,
            "unit_price",
            "",
            "",
        )
    if "customer_id" in frame.columns:
        policy(
            frame["customer_id"].isna(),
            "lines without a customer id",
            policies.missing_customer,
            "customer_id",
            "customer ids are missing",
            "a customer id on every line, or set the policy missing_customer: keep or drop",
        )
    return frame.loc[keep], quality, problems


def large_amounts(
    frame: pd.DataFrame,
    policies: Policies,
    *,
    source: str,
    original_names: dict[str, str] | None = None,
    row_basis: str | None = None,
) -> dict:
    """The data-quality row for implausibly large order lines: a warning with their rows, never an error.

    A line whose ``|amount|`` exceeds ``policies.max_line_amount`` is kept (it may be real: a corporate order),
    but counted and named in the data-quality summary, so a misplaced decimal point or a test order is seen
    before it dominates the month.

    Returns
    -------
    dict
        ``check, rows, action, detail``: ``action`` is ``"warning"`` when any line is above the limit, else
        ``"ok"``; ``detail`` names the first rows and their amounts, and the limit.

    Examples
    --------
    >>> tx = pd.DataFrame({"amount": [1200.0, 3.5e9, -2.0e8]})
    >>> row = large_amounts(tx, Policies(), source="orders.csv")
    >>> row["rows"], row["action"]
    (2, 'warning')
    >>> row["detail"].split("; ")  # doctest: +NORMALIZE_WHITESPACE
    ['2 rows (data rows counted from 1, header excluded): row 2 (3500000000.0), row 3 (-200000000.0)',
     'allowed: at most 100,000,000 per line (data.policies.max_line_amount)']
    """
    limit = policies.max_line_amount
    allowed = f"at most {limit:,.0f} per line (data.policies.max_line_amount)"
    check = {"check": "lines above the largest plausible amount"}
    within = {"detail": allowed, "facts": detail_facts("amount_limit", limit=float(limit))}
    if "amount" not in frame.columns or frame.empty:
        return {**check, "rows": 0, "action": "ok", **within}
    above = (frame["amount"].abs() > limit).fillna(False).astype(bool)
    if not above.any():
        return {**check, "rows": 0, "action": "ok", **within}
    rows, vals, n = _examples(above, frame["amount"])
    label = (original_names or {}).get("amount", "amount")
    extra = {} if row_basis is None else {"row_basis": row_basis}
    problem = Problem("transactions", source, label, "implausibly large order lines", allowed, rows, vals, n, **extra)
    facts = detail_facts(
        "amounts_above_limit",
        limit=float(limit),
        count=n,
        rows=list(rows),
        values=[float(v) for v in vals],
        row_basis="query" if row_basis == ROWS_FROM_QUERY else "file",
    )
    return {
        **check,
        "rows": n,
        "action": "warning",
        "detail": f"{problem.rows_text()}; allowed: {allowed}",
        "facts": facts,
    }


# ------------------------------------------------------------------------------------------ ids across tables

#: Which ids must be found in which tables: (table, column, ((referenced table, column), ...), what is checked).
#: Experiments are not checked: their units may be visitors who are in no other table.
REFERENCES: tuple[tuple[str, str, tuple[tuple[str, str], ...], str], ...] = (
    ("transactions", "customer_id", (("customers", "customer_id"),), "customer ids found in customers"),
    ("transactions", "product_id", (("products", "product_id"),), "product ids found in products"),
    ("transactions", "campaign_id", (("campaigns", "campaign_id"),), "campaign ids found in campaigns"),
    ("campaign_contacts", "campaign_id", (("campaigns", "campaign_id"),), "campaign ids found in campaigns"),
    (
        "campaign_contacts",
        "customer_id",
        (("customers", "customer_id"), ("transactions", "customer_id")),
        "customer ids found in customers or transactions",
    ),
    (
        "surveys",
        "customer_id",
        (("customers", "customer_id"), ("transactions", "customer_id")),
        "customer ids found in customers or transactions",
    ),
)

#: Ways the same id gets written differently in two exports, and how to undo each.
_ID_SPELLINGS: tuple[tuple[str, object], ...] = (
    ("leading zeros", lambda s: s.str.replace(r"^0+(?=\d)", "", regex=True)),
    (
        "a decimal part such as '9.0' (ids stored as floating-point numbers)",
        lambda s: s.str.replace(r"^(-?\d+)\.0+$", r"\1", regex=True),
    ),
    ("spaces", lambda s: s.str.replace(r"\s+", "", regex=True)),
    ("upper and lower case", lambda s: s.str.casefold()),
    ("full-width characters (全角)", lambda s: s.map(lambda v: unicodedata.normalize("NFKC", v))),
)
#: The code of each spelling of :data:`_ID_SPELLINGS`, for the report (``quality.cause.<code>`` of the catalogue).
_SPELLING_CODES = dict(
    zip((name for name, _ in _ID_SPELLINGS), ("leading_zeros", "decimal_part", "spaces", "case", "full_width"))
)
_CAUSE_SAMPLE = 20_000  # unmatched ids examined for a likely cause


def _distinct_ids(frame: pd.DataFrame, column: str) -> pd.Series:
    """The distinct ids of ``frame[column]`` as text, in no particular order (what is shown of them is sorted)."""
    if column not in frame.columns:
        return pd.Series([], dtype="str")
    values = frame[column].astype("str")
    chunked = getattr(values.array, "_pa_array", None)
    known = known_distinct(values)  # numbered already (a run's order lines): the values it numbered
    if known is not None:
        values = pd.Series(known.array, dtype=values.dtype, name=column)
    elif chunked is not None:  # Arrow's own distinct values: four times faster than drop_duplicates on text
        import pyarrow.compute as pc

        values = pd.Series(pd.array(pc.drop_null(pc.unique(chunked)), dtype=values.dtype), name=column)
    else:
        values = values.dropna().drop_duplicates()
    return values.reset_index(drop=True)


def _respelled(values: pd.Series, names: list[str]) -> pd.Series:
    for name, spell in _ID_SPELLINGS:
        if name in names:
            values = spell(values)
    return values


def _likely_cause(missing: pd.Series, reference: pd.Series) -> tuple[str, list[tuple[str, str]], list[str]] | None:
    """Why ids are not found, when a different spelling explains it: the cause, a few (id, its twin) pairs and
    the codes of the spellings (:data:`_SPELLING_CODES`).

    Each spelling (:data:`_ID_SPELLINGS`) is tried alone, then all of them at once; the one that finds the
    most of the ``missing`` ids wins (alone when it does as well as all at once). None when none finds any.
    """
    missing = missing.iloc[:_CAUSE_SAMPLE]
    everything = [name for name, _ in _ID_SPELLINGS]
    best: tuple[int, list[str]] = (0, [])
    for names in [[name] for name in everything] + [everything]:
        known = set(_respelled(reference, names).tolist())
        found = sum(value in known for value in _respelled(missing, names).tolist())
        if found > best[0]:
            best = (found, names)
    if not best[0]:
        return None
    names = best[1]
    respelled = _respelled(missing, names)
    twin = dict(zip(_respelled(reference, names), reference))
    pairs = [(a, twin[b]) for a, b in zip(missing.tolist(), respelled.tolist()) if b in twin]
    if len(names) > 1:  # name only the spellings that differ in the pairs found
        used = pd.Series([a for a, _ in pairs] + [b for _, b in pairs], dtype="str")
        names = [name for name, spell in _ID_SPELLINGS if (spell(used) != used).any()] or names
    return " and ".join(names), pairs[:3], [_SPELLING_CODES[name] for name in names]


def _share(found: int, total: int) -> str:
    return f"{found:,} of {total:,} distinct ids found ({found / total:.1%})"


def check_references(
    tables: dict[str, pd.DataFrame], *, sources: dict[str, str] | None = None, policies: Policies = Policies()
) -> tuple[list[dict], list[Problem]]:
    """Check that ids match across tables: the share of each table's ids found in the tables they refer to.

    For every pair in :data:`REFERENCES` whose tables are both present (not empty), the distinct ids of the
    referring column are looked up in the referenced tables. The share found goes into the data-quality
    summary; below ``policies.min_id_overlap`` it is a problem naming both tables, a few ids of each and,
    when a different spelling explains the mismatch (leading zeros, ``9.0``, spaces, case, full-width
    digits), the likely cause.

    Parameters
    ----------
    tables : dict
        Canonical table name -> validated table.
    sources : dict, optional
        Table name -> where it came from (file or database table), for messages.
    policies : Policies, optional
        ``min_id_overlap`` is the threshold.

    Returns
    -------
    (list of dict, list of Problem)
        Data-quality rows (``table, check, rows, action, detail``; ``rows`` counts the ids not found) and
        the problems.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["9", "12", None]})
    >>> customers = pd.DataFrame({"customer_id": ["000009", "000012"]})
    >>> quality, problems = check_references({"transactions": tx, "customers": customers})
    >>> quality[0]["action"], quality[0]["detail"]
    ('error', '0 of 2 distinct ids found (0.0%); likely cause: leading zeros')
    >>> print(problems[0].message)  # doctest: +NORMALIZE_WHITESPACE
    ids do not match across tables: 0.0% of the 2 distinct customer ids in transactions are found in customers
    (0 found); ids in transactions look like '12', '9', in customers like '000009', '000012'; likely cause:
    leading zeros ('12' in transactions is '000012' in customers, '9' in transactions is '000009' in customers)
    """
    sources = sources or {}
    threshold = policies.min_id_overlap
    quality: list[dict] = []
    problems: list[Problem] = []
    distinct: dict[tuple, pd.Series] = {}  # a table's ids are looked up by several others: found once each

    def ids_of(table: str, column: str) -> pd.Series:
        if (table, column) not in distinct:
            distinct[table, column] = _distinct_ids(tables[table], column)
        return distinct[table, column]

    for table, column, targets, check in REFERENCES:
        frame = tables.get(table)
        present = [(t, c) for t, c in targets if tables.get(t) is not None and len(tables[t]) and t != table]
        if frame is None or not len(frame) or not present:
            continue
        ids = ids_of(table, column)
        if ids.empty:
            continue
        if tuple(present) not in distinct:
            both = pd.concat([ids_of(t, c) for t, c in present])
            distinct[tuple(present)] = both.drop_duplicates() if len(present) > 1 else both
        reference = distinct[tuple(present)]
        found_mask = member_of(ids, reference)  # Arrow's hash lookup: far faster than Series.isin on text
        found, total = int(found_mask.sum()), len(ids)
        # sorted: the examples shown and the sample searched for a cause (the ids found need no order)
        missing = ids[~found_mask].sort_values(kind="mergesort").reset_index(drop=True)
        where = " or ".join(t for t, _ in present)
        below = found / total < threshold
        # Look for a cause when it matters: the check fails, or at least 1 % of the ids are not found.
        worth = below or len(missing) >= 0.01 * total
        cause = _likely_cause(missing, reference.sort_values(kind="mergesort")) if len(missing) and worth else None
        detail = _share(found, total) + (f"; likely cause: {cause[0]}" if cause else "")
        facts = detail_facts("ids_found", found=found, total=total, causes=cause[2] if cause else [])
        action = "error" if below else ("warning" if len(missing) else "ok")
        quality.append(
            {"table": table, "check": check, "rows": len(missing), "action": action, "detail": detail, "facts": facts}
        )
        if not below:
            continue
        what = column.replace("_", " ") + "s"
        seen = ", ".join(repr(v) for v in missing.iloc[:3])
        theirs = ", ".join(repr(v) for v in reference.sort_values(kind="mergesort").iloc[:3])
        message = (
            f"ids do not match across tables: {found / total:.1%} of the {total:,} distinct {what} in "
            f"{table} are found in {where} ({found:,} found); ids in {table} look like {seen}, in {where} "
            f"like {theirs}"
        )
        if cause:
            pairs = ", ".join(f"{a!r} in {table} is {b!r} in {where}" for a, b in cause[1])
            message += f"; likely cause: {cause[0]} ({pairs})"
        labels = [sources.get(table, table), *(sources.get(t, t) for t, _ in present)]
        problems.append(
            Problem(
                table,
                " and ".join(dict.fromkeys(labels)),
                column,
                message,
                expected=f"at least {threshold:.0%} of them found (data.policies.min_id_overlap: {threshold:g}): "
                "the same id written the same way in every table",
            )
        )
    return quality, problems
