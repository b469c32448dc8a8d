"""Read the canonical tables as they are stored: files, a DuckDB database, or any SQL database.

A reader turns one table of a configured source (:mod:`crmtools.dataconfig`)
into a raw frame, with the user's column names and types, and says what was
read for the run manifest (file and sha256, or masked URL, SQL, bound
parameters and content fingerprint). Validation happens one layer up, in
:func:`crmtools.data.validate_raw`, the same for every source.

Only the rows a period needs are read: transactions are filtered to
``since <= order_datetime < until`` in the source (a ``WHERE`` clause with
bound parameters for databases, pyarrow ``filters`` for Parquet); the exact
filter runs after the dates are read. A file that is not what its name says
(a PNG renamed ``.csv``), not valid text in its encoding, or empty is refused
with a message naming the line, byte and encoding that would read it.

Examples
--------
>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "transactions.csv").write_text("order_id,order_datetime\\n1,2025-09-30 10:00\\n2,2025-10-02 09:00\\n")
>>> read_file("transactions", TableSource(file=str(folder / "transactions.csv")))["order_id"].tolist()
['1', '2']
>>> order_date_range(DataConfig(path=str(folder)))
(Timestamp('2025-09-30 10:00:00'), Timestamp('2025-10-02 09:00:00'))
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .dataconfig import (
    FILE_SUFFIXES,
    WHITESPACE,
    DataConfig,
    TableSource,
    check_config,
    mask_url,
    resolve_url,
    scrub_secrets,
    url_secrets,
)
from .errors import DataValidationError, Problem
from .periods import Period
from .schema import TRANSACTIONS, TableSpec
from .validation import coerce_table

__all__ = [
    "file_fingerprint",
    "first_error_line",
    "frame_fingerprint",
    "latest_order_datetime",
    "open_reader",
    "order_date_range",
    "period_window",
    "read_file",
    "rows_in_file",
]

_ALIAS = "crmtools_source"


# ---------------------------------------------------------------------------------------------------- periods


def period_window(
    since=None, until=None, *, timezone: str = "Asia/Tokyo"
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
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
            raise TypeError(
                f"{name} must be a timestamp such as period.end or '2025-11-01'; got a Period ({value.label})."
            )
        try:
            ts = pd.Timestamp(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"{name} must be a timestamp such as '2025-11-01'; got {type(value).__name__} {value!r}."
            ) from None
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


#: File signatures ("magic numbers") at the start of a file, and what they mean.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive, e.g. an Excel .xlsx file"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"PAR1", "a Parquet file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file, e.g. an Excel .xls file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (an ELF executable)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"BZh", "a bzip2 archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
)
#: Byte-order marks of text encodings without ASCII-compatible bytes.
_WIDE_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)
#: What each file type must be, for messages: suffix -> (what was expected, signature kinds that fit).
_KINDS_FOR = {
    ".parquet": ("a Parquet file", ("a Parquet file",)),
    ".xlsx": ("an Excel .xlsx file", ("a ZIP archive, e.g. an Excel .xlsx file",)),
    ".xls": (
        "an Excel .xls file",
        ("a legacy Office file, e.g. an Excel .xls file", "a ZIP archive, e.g. an Excel .xlsx file"),
    ),
    ".csv.gz": ("a gzip-compressed CSV file", ("a gzip archive",)),
}
_SNIFF_BYTES = 8192


def _sniff(head: bytes) -> str | None:
    """What the first bytes of a file say it is: a known binary format, wide text, other binary data, or None (text)."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    if head[8:12] == b"DUCK":
        return "a DuckDB database"
    for bom, encoding in _WIDE_BOMS:
        if head.startswith(bom):
            return f"{encoding.upper()} text"
    if b"\x00" in head:
        odd, even = head[1::2].count(0), head[0::2].count(0)
        if odd > len(head) // 4 and even == 0:
            return "UTF-16 text without a byte-order mark (little-endian)"
        if even > len(head) // 4 and odd == 0:
            return "UTF-16 text without a byte-order mark (big-endian)"
        return "binary data: it holds NUL bytes, which text files never do"
    return None


def _first_bytes(data: bytes) -> str:
    return " ".join(f"{b:02X}" for b in data[:8])


def _check_file_kind(table: str, path: Path, source: TableSource) -> None:
    """Refuse a file whose content is not what its name says (a PNG renamed .csv, a CSV renamed .parquet ...),
    before a reader turns it into a misleading decoding or parsing error."""
    if path.is_dir():
        return
    with open(path, "rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if not head:
        return  # empty: reported as such by the reader
    name = path.name.lower()
    kind = _sniff(head)
    label = str(path)
    suffix = next((s for s in _KINDS_FOR if name.endswith(s)), None)
    if suffix is not None:
        expected, fitting = _KINDS_FOR[suffix]
        if kind in fitting:
            return
        looks = kind or "text, e.g. a CSV file"
        raise DataValidationError(
            [
                Problem(
                    table,
                    label,
                    None,
                    f"this is not {expected} (it looks like {looks})",
                    expected=f"{expected}, as its name says; received a file starting with the bytes "
                    f"{_first_bytes(head)}",
                )
            ]
        )
    # .csv and .tsv: text in the configured encoding
    if kind is None:
        return
    encoding = source.encoding.lower().replace("_", "-")
    wide_text = kind.startswith("UTF-")
    if wide_text and kind.split()[0].lower() in encoding:
        return  # utf-16 / utf-32 text read as such
    if wide_text:
        wide = kind.split()[0].lower() + ("-le" if "little" in kind else "-be" if "big-endian" in kind else "")
        raise DataValidationError(
            [
                Problem(
                    table,
                    label,
                    None,
                    f"the file is {kind}, not {source.encoding} text",
                    expected=f"{source.encoding} text, or set encoding: {wide} for this table "
                    f"(data.tables.{table}.encoding); received a file starting with the bytes {_first_bytes(head)}",
                )
            ]
        )
    raise DataValidationError(
        [
            Problem(
                table,
                label,
                None,
                f"this is not a text file (it looks like {kind})",
                expected=f"a CSV or TSV text file with a header line; received a file starting with the bytes "
                f"{_first_bytes(head)}. Export the table as CSV, or name the file after its real type",
            )
        ]
    )


def _open_bytes(path: Path):
    import gzip

    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def _decode_error(table: str, path: Path, source: TableSource) -> Problem:
    """Where a file first stops being valid text in its encoding: line, byte and character in that line, and
    the data row (header excluded; quoted line breaks and blank lines counted as the CSV reader counts them)."""
    encoding = source.encoding
    label = str(path)
    ascii_based = "a,\n".encode(encoding).endswith(b"a,\n")  # utf-8, utf-8-sig, cp932, euc-jp, latin-1 ...
    position, non_ascii = None, False  # non_ascii: valid non-ASCII text came before the first bad byte
    if ascii_based:  # a line break is one byte 0x0A that no multi-byte character contains: decode line by line
        records, in_quote = 0, False  # records completed so far (the header is the first)
        with _open_bytes(path) as handle:
            for number, line in enumerate(handle, 1):
                try:
                    text = line.decode(encoding)
                except UnicodeDecodeError as exc:
                    prefix = line[: exc.start].decode(encoding, errors="replace")
                    position = (number, exc.start + 1, len(prefix) + 1, records, line[exc.start : exc.start + 4])
                    non_ascii = non_ascii or not prefix.isascii()
                    break
                non_ascii = non_ascii or not text.isascii()
                was_open = in_quote
                in_quote ^= text.count('"') % 2 == 1
                if not in_quote and (was_open or text.strip()):
                    records += 1
    else:
        data = _open_bytes(path).read()
        try:
            data.decode(encoding)
        except UnicodeDecodeError as exc:
            prefix = data[: exc.start].decode(encoding, errors="replace")
            non_ascii = not prefix.lstrip("\ufeff").isascii()
            line = prefix.count("\n") + 1
            position = (line, None, len(prefix) - (prefix.rfind("\n") + 1) + 1, None, data[exc.start : exc.start + 4])
    where = "the file"
    if position is not None:
        line, byte, char, records, bad = position
        where = f"line {line}"
        if records is not None:
            where += " (the header line)" if records == 0 else f" (data row {records}, header excluded)"
        where += f", {'byte ' + str(byte) + ', ' if byte else ''}character {char} of that line: {bad!r}"
    if non_ascii:  # readable non-ASCII text up to there: the file is damaged there, or mixes encodings
        hint = (
            f"the text before it holds valid non-ASCII {encoding} characters, so the file is damaged at that "
            "point or mixes two encodings (e.g. rows pasted from a Shift-JIS file into a UTF-8 one): fix or "
            "re-export those rows"
        )
    else:
        hint = _encoding_hint(path, encoding)
    return Problem(
        table, label, None, f"the file is not valid {encoding} text at {where}", expected=f"{encoding} text; {hint}"
    )


def _encoding_hint(path: Path, encoding: str) -> str:
    """Which common encoding reads the whole file, as the fix to suggest."""
    for candidate in ("utf-8", "cp932", "euc-jp", "utf-16"):
        if candidate.replace("-", "") == encoding.lower().replace("-", "").replace("_", ""):
            continue
        try:
            with _open_bytes(path) as handle:
                handle.read().decode(candidate)
        except (UnicodeDecodeError, UnicodeError, OSError):
            continue
        why = " (Shift-JIS, as saved by Japanese Excel)" if candidate == "cp932" else ""
        return f"the whole file reads as {candidate}{why}: set encoding: {candidate}"
    return (
        "no common encoding (utf-8, cp932, euc-jp, utf-16) reads the whole file: set encoding to the one "
        "it was saved in, or re-export it as utf-8"
    )


def _no_data_rows(table: str, label: str, what: str) -> DataValidationError:
    optional = "" if table == "transactions" else f", or no {table} file at all (the table is optional)"
    return DataValidationError(
        [
            Problem(
                table,
                label,
                None,
                f"the file has no data rows ({what})",
                expected=f"column names and at least one data row{optional}",
            )
        ]
    )


#: Separators a one-column header may betray: (character, its name, the ``separator`` value that reads it).
_SEPARATORS = ((";", "semicolons", ";"), ("\t", "tabs", "'\\t'"), ("|", "bars", "'|'"))


def _check_one_column(table: str, label: str, frame: pd.DataFrame, source: TableSource) -> None:
    """Refuse a text file read as a single column when its header is plainly split by another separator."""
    if frame.shape[1] != 1 or source.separator is not None:
        return
    header = str(frame.columns[0])
    found = [(name, value) for mark, name, value in _SEPARATORS if mark in header]
    if not found and len(header.split()) >= 2:
        found = [("spaces", WHITESPACE)]
    if not found:
        return
    name, value = found[0]
    raise DataValidationError(
        [
            Problem(
                table,
                label,
                None,
                f"the file reads as one column {header[:60]!r}: its columns look separated by {name}",
                expected=f"columns separated by commas, or set separator: {value} for this table "
                f"(data.tables.{table}.separator)",
            )
        ]
    )


def _parquet_rows(path: Path) -> int:
    import pyarrow.dataset as ds

    return int(ds.dataset(str(path), format="parquet").count_rows())


def _read_raw(table: str, source: TableSource, *, filters=None) -> pd.DataFrame:
    """Read a table file as it is: the user's columns, text for CSV and Excel.

    Raises
    ------
    DataValidationError
        When the file is missing, is not what its name says (a PNG renamed ``.csv``: "this is not a text
        file (it looks like a PNG image)"), is not valid text in its encoding (naming the line, byte and
        character, and the encoding that would read it), cannot be parsed, or has no data rows.
    """
    path = Path(source.file)
    label = str(path)
    if not path.exists():
        raise DataValidationError(
            [Problem(table, label, None, "file not found", expected="an existing CSV, Parquet or Excel file")]
        )
    name = path.name.lower()
    if not (path.is_dir() or name.endswith(FILE_SUFFIXES)):
        raise DataValidationError(
            [
                Problem(
                    table,
                    label,
                    None,
                    f"unknown file type {path.suffix or name!r}",
                    expected=f"a file ending in one of {list(FILE_SUFFIXES)}, or a folder of Parquet files",
                )
            ]
        )
    try:
        _check_file_kind(table, path, source)
        if path.is_dir() or name.endswith(".parquet"):
            frame = pd.read_parquet(path, filters=filters)
            if len(frame) == 0 and (filters is None or _parquet_rows(path) == 0):
                raise _no_data_rows(table, label, "only column names")
            return frame
        if name.endswith((".xlsx", ".xls")):
            frame = pd.read_excel(path, sheet_name=source.sheet, dtype=object)
            if len(frame) == 0:
                raise _no_data_rows(table, label, "only a header row")
            return frame
        if path.stat().st_size == 0:
            raise pd.errors.EmptyDataError("empty")
        sep = source.text_separator(path)
        frame = pd.read_csv(
            path,
            sep=sep,
            encoding=source.encoding,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=False,
        )
        if len(frame) == 0:
            raise _no_data_rows(table, label, "only a header line")
        _check_one_column(table, label, frame, source)
        return frame
    except DataValidationError:
        raise
    except UnicodeDecodeError:
        raise DataValidationError([_decode_error(table, path, source)]) from None
    except pd.errors.EmptyDataError:
        raise DataValidationError(
            [Problem(table, label, None, "the file is empty", expected="a header line and at least one data row")]
        ) from None
    except LookupError as exc:  # an unknown encoding name
        raise DataValidationError(
            [
                Problem(
                    table,
                    label,
                    None,
                    f"the encoding {source.encoding!r} is unknown",
                    expected=f"an encoding Python knows, e.g. utf-8 or cp932 ({exc})",
                )
            ]
        ) from None
    except (pd.errors.ParserError, ValueError, OSError, ImportError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(
            [
                Problem(
                    table,
                    label,
                    None,
                    f"the file cannot be read ({first_line})",
                    expected="a CSV, TSV, Parquet or Excel file",
                )
            ]
        ) from None


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


def read_file(table: str, source: TableSource, *, since=None, until=None, timezone: str = "Asia/Tokyo") -> pd.DataFrame:
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


def rows_in_file(source: TableSource, raw: pd.DataFrame) -> int:
    """Data rows of the whole file: ``len(raw)``, or the Parquet row count when the scan read only a window."""
    path = Path(source.file)
    return _parquet_rows(path) if path.is_dir() or path.name.lower().endswith(".parquet") else len(raw)


def _file_columns(path: Path, source: TableSource) -> list[str]:
    name = path.name.lower()
    if path.is_dir() or name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return list(pq.ParquetDataset(str(path)).schema.names)
    if name.endswith((".xlsx", ".xls")):
        return list(pd.read_excel(path, sheet_name=source.sheet, nrows=0).columns)
    sep = source.text_separator(path)
    return list(pd.read_csv(path, sep=sep, encoding=source.encoding, nrows=0).columns)


def _datetimes_in_file(source: TableSource, timezone: str) -> pd.Series | None:
    """The values of the file's order time column, or, for a Parquet file whose statistics give them, its smallest
    and largest (the same first and last time, without reading the column); None when there is no such column."""
    path = Path(source.file)
    name = path.name.lower()
    try:
        column = _datetime_column(source, _file_columns(path, source))
        if column is None:
            return None
        if path.is_file() and name.endswith(".parquet"):
            bounds = _parquet_time_bounds(path, column)
            if bounds is not None:
                return bounds
        if path.is_dir() or name.endswith(".parquet"):
            return pd.read_parquet(path, columns=[column])[column]
        if name.endswith((".xlsx", ".xls")):
            return pd.read_excel(path, sheet_name=source.sheet, usecols=[column], dtype=object)[column]
        sep = source.text_separator(path)
        return pd.read_csv(
            path, sep=sep, encoding=source.encoding, usecols=[column], dtype=str, keep_default_na=False, na_values=[""]
        )[column]
    except (OSError, ValueError, UnicodeDecodeError, ImportError, pd.errors.ParserError):
        return None  # the full load reports what is wrong


def _parquet_time_bounds(path: Path, column: str) -> pd.Series | None:
    """The smallest and largest value of a Parquet timestamp column, from the file's statistics (no values read),
    typed as reading the column types them; empty when the column has no value. None when the statistics cannot
    say: not a timestamp stored as 64-bit integers, a row group without them, a nested column.

    The file's writer computed them over every value, so the first and last time are the column's own.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pq.ParquetFile(path) as file:
        kind = file.schema_arrow.field(column).type if column in file.schema_arrow.names else None
        meta = file.metadata
        where = [j for j in range(meta.num_columns) if meta.schema.column(j).path == column]
        if kind is None or not pa.types.is_timestamp(kind) or len(where) != 1:
            return None
        stored = json.loads(meta.schema.column(where[0]).logical_type.to_json())  # the unit the integers count
        unit = {"milliseconds": "ms", "microseconds": "us", "nanoseconds": "ns"}.get(stored.get("timeUnit"))
        if stored.get("Type") != "Timestamp" or unit is None:
            return None
        low, high = [], []
        for group in (meta.row_group(i) for i in range(meta.num_row_groups)):
            if group.num_rows == 0:
                continue
            chunk = group.column(where[0])
            stats = chunk.statistics
            if chunk.physical_type != "INT64" or stats is None:
                return None
            if stats.has_min_max:
                low.append(stats.min_raw)
                high.append(stats.max_raw)
            elif not (stats.has_null_count and stats.null_count == group.num_rows):
                return None  # values there, their bounds not written
    values = pa.array([min(low), max(high)] if low else [], type=pa.int64()).cast(pa.timestamp(unit, tz=kind.tz))
    values = values.cast(kind)
    return pa.table({column: values}).to_pandas()[column]


# ---------------------------------------------------------------------------------------------------- readers


def first_error_line(exc: BaseException) -> str:
    """The database's own message: the DBAPI error's first line, without pandas' or SQLAlchemy's wrapping.

    Examples
    --------
    >>> first_error_line(ValueError('relation "sales" does not exist\\nLINE 1: SELECT * FROM sales'))
    'relation "sales" does not exist'
    """
    inner = exc
    for _ in range(5):  # pandas wraps SQLAlchemy's error, which wraps the driver's
        deeper = getattr(inner, "orig", None) or inner.__cause__
        if deeper is None:
            break
        inner = deeper
    text = str(inner).strip()
    line = text.splitlines()[0].strip() if text else type(inner).__name__
    return line[:300]


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


def _date_range(
    values: pd.Series | None, source: TableSource, timezone: str, label: str
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    if values is None or len(values) == 0:
        return None
    frame = pd.DataFrame({"order_datetime": pd.Series(values).reset_index(drop=True)})
    coerced, _, _ = coerce_table(
        frame, _one_column_spec(), source=label, timezone=timezone, date_format=source.date_format
    )
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
        return Problem(
            name,
            str(Path(self.config.path) / "transactions.*"),
            None,
            "no transactions file found",
            expected=f"one of {[f'transactions{s}' for s in FILE_SUFFIXES]} in {self.config.path}, "
            "or data.tables.transactions.file",
        )

    # -- reading
    def read(self, name: str, source: TableSource, *, since=None, until=None) -> tuple[pd.DataFrame, str, dict]:
        """The raw frame, a label for messages, and what was read (for manifests)."""
        raw = read_file(name, source, since=since, until=until, timezone=self.config.timezone)
        digest = file_fingerprint(source.file)
        info = {"file": str(source.file), "sha256": digest, "rows": len(raw)}
        if since is not None or until is not None:
            info["rows_in_source"] = rows_in_file(source, raw)
        return raw, str(source.file), info

    def date_range(self, source: TableSource) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """The first and last parseable ``order_datetime`` of the source, read cheaply (one column, or MIN/MAX)."""
        return _date_range(
            _datetimes_in_file(source, self.config.timezone), source, self.config.timezone, str(source.file)
        )

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
        return Problem(
            name,
            self.where,
            None,
            f"no table {name!r} in the database",
            expected=f"a table named {name}, or data.tables.{name}.table (a table name) or "
            f"data.tables.{name}.query (a SELECT)",
        )

    def label(self, name: str, source: TableSource) -> str:
        """Where table ``name`` comes from, for messages: the masked URL (or path), then the table or query."""
        if source.query:
            text = " ".join(source.query.split())
            shown = text[:60] + ("..." if len(text) > 60 else "")
            return scrub_secrets(f"{self.where}, {name} from query {shown!r}", self.secrets)
        return f"{self.where}, {name} from table {source.table!r}"

    def _problem(self, name: str, label: str, message: str, expected: str) -> DataValidationError:
        problem = Problem(name, label, None, scrub_secrets(message, self.secrets), expected=expected)
        return DataValidationError([problem])

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
        except Exception as exc:
            self._rollback()
            what = f"table {source.table!r} cannot be read" if source.table else "the query failed"
            raise self._problem(
                name,
                label,
                f"{what} ({first_error_line(exc)})",
                "an existing table (schema.table allowed) or a valid SELECT query returning the table's columns",
            ) from None
        where, params = self._window(source, columns, since, until)
        sql = base + where if source.table else wrapped + where
        try:
            raw = self._run(sql, params)
        except Exception as exc:
            self._rollback()
            hint = (
                "; the period filter compares the date column with timestamps: store it as a timestamp, or "
                "convert it in a query (CAST(... AS timestamp))"
                if params
                else ""
            )
            raise self._problem(
                name, label, f"the query failed ({first_error_line(exc)}){hint}", "a query the database can run"
            ) from None
        raw = raw.reset_index(drop=True)
        shown = {k: str(v) for k, v in params.items()}
        counted = {}
        if params:  # the whole source's rows, so the data-quality summary can say what the window left out
            try:
                counted["rows_in_source"] = int(self._scalar(f"SELECT COUNT(*) FROM ({base}) AS {_ALIAS}", {}))
            except Exception:
                self._rollback()
        query_digest = hashlib.sha256(json.dumps({"sql": sql, "params": shown}, sort_keys=True).encode()).hexdigest()
        content = frame_fingerprint(raw)
        info = {
            "source": self.kind,
            self.kind_key: self.where,
            ("table" if source.table else "query"): scrub_secrets(source.table or base, self.secrets),
            "sql": scrub_secrets(sql, self.secrets),
            "params": shown,
            "rows": len(raw),
            "query_sha256": query_digest,
            "content_sha256": content,
            "sha256": hashlib.sha256((query_digest + content).encode()).hexdigest(),
            **counted,
        }
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
            bounds = self._run(
                f"SELECT MIN({self._quote(column)}) AS first_order, MAX({self._quote(column)}) "
                f"AS last_order FROM ({base}) AS {_ALIAS}",
                {},
            )
        except Exception:
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
            raise self._problem(
                name, label, "DuckDB database not found", "an existing DuckDB database file (data.database)"
            )
        try:
            self._con = duckdb.connect(str(self.path), read_only=True)
        except duckdb.Error as exc:
            self._broken = True
            raise self._problem(
                name,
                label,
                f"the DuckDB database cannot be opened ({first_error_line(exc)})",
                "a DuckDB database file not locked by a writing process",
            ) from None

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
        rows = self._con.sql(
            "SELECT count(*) FROM information_schema.tables WHERE lower(table_name) = lower($name)",
            params={"name": name},
        ).fetchall()
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
        self.secrets = url_secrets(self._url)
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
            raise self._problem(
                name,
                label,
                f"the database driver is not installed ({first_error_line(exc)})",
                "the Python driver of the URL's dialect installed in this environment "
                "(psycopg for postgresql+psycopg://)",
            ) from None
        except sqlalchemy.exc.ArgumentError:  # its text may quote the URL: say nothing more
            self._broken = True
            raise self._problem(
                name,
                label,
                "the database URL cannot be parsed",
                "a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/crm",
            ) from None
        except Exception as exc:
            self._broken = True
            raise self._problem(
                name,
                label,
                f"the database URL cannot be used ({first_error_line(exc)})",
                "a SQLAlchemy URL such as postgresql+psycopg://user:password@host:5432/crm",
            ) from None
        try:
            self._conn = self._engine.connect()
            if self._conn.dialect.name == "postgresql":  # read-only, dates compared in business time
                self._conn.exec_driver_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                self._conn.execute(
                    sqlalchemy.text("SELECT set_config('TimeZone', :tz, false)"), {"tz": self.config.timezone}
                )
                self._conn.commit()
        except Exception as exc:
            self._broken = True
            self.close()
            raise self._problem(
                name,
                label,
                f"cannot connect to the database ({first_error_line(exc)})",
                "a reachable database server, the right user, password and database name in the URL",
            ) from None

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
        except Exception:
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
            except Exception:
                pass

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.rollback()
                self._conn.close()
            except Exception:
                pass
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


@contextlib.contextmanager
def open_reader(config: DataConfig):
    """A reader for the configured source; closes its connection on exit.

    The reader has ``source_for(name)``, ``read(name, source, since=, until=)`` (the raw frame, a label for
    messages and a description of what was read, for manifests; :func:`crmtools.data.validate_raw` makes it
    canonical), ``date_range(source)`` and ``absent_problem(name)``.
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
