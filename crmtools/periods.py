"""Reporting periods: months (``2025-10``) and quarters (``2025-Q3``).

A :class:`Period` is a half-open interval ``[start, end)`` of naive
timestamps in the business time zone (see :mod:`crmtools.schema`). Using an
exclusive end means an order at ``2025-10-31 23:59:59.999`` belongs to
October and one at ``2025-11-01 00:00`` to November, with no rounding.

Examples
--------
>>> p = parse_period("2025-10")
>>> p.start, p.end
(Timestamp('2025-10-01 00:00:00'), Timestamp('2025-11-01 00:00:00'))
>>> p.previous().label, p.year_ago().label
('2025-09', '2024-10')
>>> parse_period("2025-Q1").previous().label
'2024-Q4'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["Period", "parse_period", "period_of", "period_range", "last_complete_month"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")


@dataclass(frozen=True, order=True)
class Period:
    """A calendar month or quarter.

    Parameters
    ----------
    year : int
        Calendar year.
    index : int
        Month (1-12) when ``kind == "month"``, quarter (1-4) when ``kind == "quarter"``.
    kind : {"month", "quarter"}, default="month"
        Granularity.
    """

    year: int
    index: int
    kind: str = "month"

    def __post_init__(self) -> None:
        if self.kind not in ("month", "quarter"):
            raise ValueError(f"Period kind must be 'month' or 'quarter'; got {self.kind!r}.")
        top = 12 if self.kind == "month" else 4
        if not 1 <= self.index <= top:
            raise ValueError(f"{self.kind} index must be between 1 and {top}; got {self.index}.")

    @property
    def months(self) -> int:
        """Number of months in the period (1 or 3)."""
        return 1 if self.kind == "month" else 3

    @property
    def label(self) -> str:
        """Canonical text form, e.g. ``'2025-10'`` or ``'2025-Q3'``."""
        if self.kind == "month":
            return f"{self.year:04d}-{self.index:02d}"
        return f"{self.year:04d}-Q{self.index}"

    @property
    def start(self) -> pd.Timestamp:
        """First instant of the period (inclusive)."""
        first_month = self.index if self.kind == "month" else 3 * (self.index - 1) + 1
        return pd.Timestamp(year=self.year, month=first_month, day=1)

    @property
    def end(self) -> pd.Timestamp:
        """First instant after the period (exclusive)."""
        return self.start + pd.DateOffset(months=self.months)

    @property
    def as_of(self) -> pd.Timestamp:
        """The as-of instant for analyses of this period: its exclusive end."""
        return self.end

    def shift(self, steps: int) -> "Period":
        """The period ``steps`` periods later (negative for earlier)."""
        per_year = 12 if self.kind == "month" else 4
        zero_based = self.year * per_year + (self.index - 1) + steps
        return Period(zero_based // per_year, zero_based % per_year + 1, self.kind)

    def previous(self) -> "Period":
        """The period immediately before this one."""
        return self.shift(-1)

    def year_ago(self) -> "Period":
        """The same period one year earlier."""
        return Period(self.year - 1, self.index, self.kind)

    def lookback(self, days: int) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The window of ``days`` days ending at the period's end: ``[end - days, end)``."""
        if days <= 0:
            raise ValueError(f"lookback days must be a positive integer; got {days!r}.")
        return self.end - pd.Timedelta(days=days), self.end

    def contains(self, timestamps: pd.Series) -> pd.Series:
        """Boolean mask of the timestamps that fall in ``[start, end)``."""
        return (timestamps >= self.start) & (timestamps < self.end)

    def __str__(self) -> str:
        return self.label


def parse_period(text: str | Period) -> Period:
    """Parse ``'YYYY-MM'`` or ``'YYYY-Qn'`` into a :class:`Period`.

    Parameters
    ----------
    text : str or Period
        The period; a :class:`Period` is returned unchanged.

    Returns
    -------
    Period

    Raises
    ------
    ValueError
        If the text is not a month or quarter in one of those forms.

    Examples
    --------
    >>> parse_period("2024-02").end
    Timestamp('2024-03-01 00:00:00')
    """
    if isinstance(text, Period):
        return text
    if not isinstance(text, str):
        raise TypeError(f"period must be a string such as '2025-10' or '2025-Q3'; got {type(text).__name__} {text!r}.")
    value = text.strip()
    if m := _MONTH.match(value):
        month = int(m.group(2))
        if 1 <= month <= 12:
            return Period(int(m.group(1)), month, "month")
    if m := _QUARTER.match(value):
        return Period(int(m.group(1)), int(m.group(2)), "quarter")
    raise ValueError(
        f"Malformed period {text!r}: expected a month 'YYYY-MM' (e.g. '2025-10') "
        f"or a quarter 'YYYY-Qn' (e.g. '2025-Q3')."
    )


def period_of(timestamp: pd.Timestamp, kind: str = "month") -> Period:
    """The period of ``kind`` that contains ``timestamp``."""
    ts = pd.Timestamp(timestamp)
    if kind == "month":
        return Period(ts.year, ts.month, "month")
    return Period(ts.year, (ts.month - 1) // 3 + 1, "quarter")


def period_range(first: str | Period, last: str | Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive.

    Examples
    --------
    >>> [p.label for p in period_range("2025-11", "2026-02")]
    ['2025-11', '2025-12', '2026-01', '2026-02']
    """
    a, b = parse_period(first), parse_period(last)
    if a.kind != b.kind:
        raise ValueError(f"A period range needs two periods of the same kind; got {a.label!r} and {b.label!r}.")
    if b < a:
        raise ValueError(f"The range ends before it starts: {a.label!r} to {b.label!r}.")
    out = [a]
    while out[-1] != b:
        out.append(out[-1].shift(1))
    return out


def last_complete_month(latest_timestamp: pd.Timestamp) -> Period:
    """The last calendar month that ends on or before the day after ``latest_timestamp``.

    The data's latest order decides the default period, not the clock, so the
    same data always gives the same default.

    Examples
    --------
    >>> last_complete_month(pd.Timestamp("2025-10-31 18:00")).label
    '2025-10'
    >>> last_complete_month(pd.Timestamp("2025-10-15")).label
    '2025-09'
    """
    ts = pd.Timestamp(latest_timestamp)
    month = period_of(ts, "month")
    next_day = ts.normalize() + pd.Timedelta(days=1)
    return month if next_day >= month.end else month.previous()
