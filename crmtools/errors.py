"""Errors that speak the analyst's language.

Every data problem is a :class:`Problem` naming the table, the source (file
or query), the column, a few offending rows and values, and what was
expected. :class:`DataValidationError` carries all problems found at once,
so one run shows everything to fix, not only the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "CoverageError",
    "DataValidationError",
    "ParameterError",
    "Problem",
    "ReportError",
    "ReportFileError",
    "RunBusyError",
]

#: How many offending rows to show per problem.
MAX_EXAMPLES = 5

#: How row numbers in messages count, for files: data rows from 1, the header line not counted, so "row 1" is
#: line 2 of a CSV file (blank lines, which the reader skips, are not counted) and row 2 of a spreadsheet.
ROWS_FROM_FILE = "data rows counted from 1, header excluded"
#: The same for a database table or query: rows of the result as the database returned them.
ROWS_FROM_QUERY = "rows of the result counted from 1"


@dataclass(frozen=True)
class Problem:
    """One problem found in one column of one input.

    Parameters
    ----------
    table : str
        Canonical table name, e.g. ``"transactions"``.
    source : str
        File path or query description the data came from.
    column : str or None
        Column concerned (the user's own name where it differs), or None for
        whole-table problems.
    message : str
        What is wrong.
    expected : str
        What is allowed.
    rows : tuple of int
        Up to :data:`MAX_EXAMPLES` offending data rows (1-based, header excluded).
    values : tuple
        The offending values for those rows.
    count : int
        How many rows are affected in total.
    row_basis : str, default=ROWS_FROM_FILE
        How ``rows`` count, shown in every message that names rows: :data:`ROWS_FROM_FILE` or
        :data:`ROWS_FROM_QUERY`.
    """

    table: str
    source: str
    column: str | None
    message: str
    expected: str = ""
    rows: tuple[int, ...] = ()
    values: tuple = ()
    count: int = 0
    row_basis: str = ROWS_FROM_FILE

    def rows_text(self) -> str:
        """The offending rows, with how they are counted: ``2 rows (data rows ...): row 2 ('x'), row 4 ('y')``."""
        if not self.count:
            return ""
        shown = ", ".join(f"row {r} ({v!r})" for r, v in zip(self.rows, self.values))
        more = f" and {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
        return f"{self.count} row{'s' if self.count != 1 else ''} ({self.row_basis}): {shown}{more}"

    def __str__(self) -> str:
        where = f"{self.source}"
        if self.column is not None:
            where += f", column {self.column!r}"
        text = f"{where}: {self.message}"
        if self.count:
            text += f" — {self.rows_text()}"
        if self.expected:
            text += f". Expected: {self.expected}."
        return text


@dataclass
class DataValidationError(ValueError):
    """Raised when input data fails validation; lists every problem found."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} data problem{'s' if n != 1 else ''} found:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class ParameterError(ValueError):
    """Raised when run parameters are unknown, of the wrong type or malformed."""


class ReportError(RuntimeError):
    """Raised when a report notebook fails; names the notebook and cell."""


class RunBusyError(RuntimeError):
    """Raised when another run holds the lock of the reports folder."""


class ReportFileError(OSError):
    """Raised when the file system refuses a run (read-only or missing folder, disk full); names the path."""


class CoverageError(ValueError):
    """Raised before any notebook starts when the data does not cover the requested period."""
