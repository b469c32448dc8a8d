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

The time rule
-------------
Every public analysis function says "which time" in one of two ways, both
keyword-only:

- ``period=`` for figures over a window: a :class:`Period` or its text
  (``"2025-10"``, ``"2025-Q3"``), meaning the **whole** period
  ``[start, end)``. Coerced by :func:`as_period`.
- ``as_of=`` where a point in time is meant (RFM recency, cohorts, repeat
  purchase, payback): **the first instant not counted** (exclusive), so data
  strictly before ``as_of`` counts. A date ``"2025-11-01"`` means its
  midnight, so it counts everything up to the end of 31 October; a
  :class:`Period` means its end, so ``as_of=parse_period("2025-10")`` is the
  same instant. Recency is counted in calendar days to the date of
  ``as_of``: with a period's end, a purchase on the period's last day has
  recency 1. A month or quarter *text* such as ``"2025-10"`` is ambiguous (its
  first day, or the whole month?) and is rejected. Coerced by
  :func:`as_point`.

Lengths of look-back windows are whole numbers named after their unit
(``lookback_days=365``, ``months=13``, ``within_days=90``), never dates.

>>> as_point(parse_period("2025-10"))
Timestamp('2025-11-01 00:00:00')
>>> as_point("2025-10")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: as_of='2025-10' is ambiguous: ...
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Period", "as_period", "as_point", "last_complete_month", "parse_period", "period_of", "period_range"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-[Qq]([1-4])$")
# A text names an instant only when it names a day: 2025-11-01, 2025/11/01, 20251101 (a time may follow).
_FULL_DATE = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{8})(?:$|[ T])")


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

    def shift(self, steps: int) -> Period:
        """The period ``steps`` periods later (negative for earlier)."""
        per_year = 12 if self.kind == "month" else 4
        zero_based = self.year * per_year + (self.index - 1) + steps
        return Period(zero_based // per_year, zero_based % per_year + 1, self.kind)

    def previous(self) -> Period:
        """The period immediately before this one."""
        return self.shift(-1)

    def year_ago(self) -> Period:
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


# --------------------------------------------------------------------------- the time rule: one coercion each


@dataclass(frozen=True)
class _Window:
    """An arbitrary ``[start, end)`` window (either bound may be None = open).

    Private: it carries the deprecated ``start=``/``end=`` arguments into the
    code paths that now take ``period=``, so old calls give identical results
    for one release. Not part of the public API.
    """

    start: pd.Timestamp | None
    end: pd.Timestamp | None

    @property
    def label(self) -> str:
        return f"{self.start} to {self.end}"

    def contains(self, timestamps: pd.Series) -> pd.Series:
        mask = pd.Series(True, index=timestamps.index)
        if self.start is not None:
            mask &= timestamps >= self.start
        if self.end is not None:
            mask &= timestamps < self.end
        return mask


def as_period(value: Any, *, name: str = "period") -> Period:
    """The :class:`Period` a ``period=`` argument names: the whole month or quarter.

    Parameters
    ----------
    value : Period or str
        A period, or its text: a month ``"YYYY-MM"`` or a quarter ``"YYYY-Qn"``.
    name : str, default="period"
        The argument's name, for messages.

    Returns
    -------
    Period

    Raises
    ------
    TypeError
        If ``value`` is neither a Period nor text (a date or timestamp names
        an instant: use ``as_of=``).
    ValueError
        If the text is not a month or a quarter.

    Examples
    --------
    >>> as_period("2025-Q3").label, as_period(parse_period("2025-10")).label
    ('2025-Q3', '2025-10')
    >>> as_period("2025-10-15")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: period: Malformed period '2025-10-15': ... A date names an instant, not a period: ...
    """
    if isinstance(value, (Period, _Window)):
        return value
    if isinstance(value, str):
        try:
            return parse_period(value)
        except ValueError as exc:
            hint = (
                " A date names an instant, not a period: pass it as as_of= where the function has one, or "
                "give the month or quarter."
                if _FULL_DATE.match(value)
                else ""
            )
            raise ValueError(f"{name}: {exc}{hint}") from None
    hint = (
        " A date or timestamp names an instant: pass it as as_of= where the function has one."
        if isinstance(value, (pd.Timestamp, _dt.date, np.datetime64))
        else ""
    )
    raise TypeError(
        f"{name} must be a Period or its text; allowed: a month 'YYYY-MM' (e.g. '2025-10'), a quarter "
        f"'YYYY-Qn' (e.g. '2025-Q3') or a Period; received {type(value).__name__} {value!r}.{hint}"
    )


def _ambiguous(value: str, name: str) -> ValueError:
    text = value.strip()
    if _MONTH.match(text) or _QUARTER.match(text):
        try:
            p = parse_period(text)
        except ValueError:
            p = None
        if p is not None:
            what = "month" if p.kind == "month" else "quarter"
            return ValueError(
                f"{name}={value!r} is ambiguous: {name} is an instant (the first moment not counted), and a {what} "
                f"could mean its first day ({p.start:%Y-%m-%d}) or its end. Pass a date, e.g. "
                f"{name}='{p.end:%Y-%m-%d}' (everything before {p.end:%Y-%m-%d} counts), or the Period, which means "
                f"its end: {name}=parse_period('{p.label}') (the same instant). For figures over the whole {what}, "
                f"use period='{p.label}'."
            )
    return ValueError(
        f"{name} must be a date; allowed: a date 'YYYY-MM-DD' such as '2025-11-01' (a time may "
        f"follow) or a Period, meaning its end; received {value!r}, which names no day."
    )


def as_point(value: Any, *, name: str = "as_of") -> pd.Timestamp:
    """The instant an ``as_of=`` argument names: the first moment *not* counted.

    Parameters
    ----------
    value : date, datetime, Timestamp, str or Period
        A date or timestamp (naive, business time zone), its ISO text
        (``"2025-11-01"``, ``"2025-11-01 09:30"``; ``"2025/11/01"`` also
        works), or a :class:`Period`, meaning its exclusive end.
    name : str, default="as_of"
        The argument's name, for messages.

    Returns
    -------
    pandas.Timestamp
        Naive; a date means its midnight.

    Raises
    ------
    ValueError
        If the text names no day (``"2025-10"``, ``"2025-Q3"``, ``"2025"``
        are ambiguous: the message says which form to use), is not a date,
        or is timezone-aware.
    TypeError
        If ``value`` is None or not a date-like value.

    Examples
    --------
    >>> as_point("2025-11-01"), as_point(parse_period("2025-Q3"))
    (Timestamp('2025-11-01 00:00:00'), Timestamp('2025-10-01 00:00:00'))
    """
    if isinstance(value, Period):
        return value.end
    if isinstance(value, str):
        if not _FULL_DATE.match(value):
            raise _ambiguous(value, name)
    elif value is None or isinstance(value, bool) or not isinstance(value, (pd.Timestamp, _dt.date, np.datetime64)):
        raise TypeError(
            f"{name} must be a date, a timestamp or a Period (meaning its end); allowed: e.g. "
            f"'2025-11-01', pd.Timestamp('2025-11-01 09:30') or parse_period('2025-10'); received "
            f"{type(value).__name__} {value!r}."
        )
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a date; allowed: a date such as '2025-11-01' (a time may follow) or a "
            f"Period; received {value!r}."
        ) from None
    if ts is pd.NaT:
        raise ValueError(f"{name} is missing; allowed: a date such as '2025-11-01' or a Period; received {value!r}.")
    if ts.tzinfo is not None:
        raise ValueError(
            f"{name} must be timezone-naive (business time zone, like the data); allowed: a naive date "
            f"or timestamp; received {ts}."
        )
    return ts
