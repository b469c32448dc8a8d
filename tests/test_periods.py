"""Reporting periods (crmtools.periods): half-open [start, end) months and quarters."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crmtools.periods import Period, last_complete_month, parse_period, period_of, period_range


def test_month_parsing():
    p = parse_period("2025-10")
    assert p == Period(2025, 10, "month")
    assert (p.start, p.end, p.as_of) == (
        pd.Timestamp("2025-10-01"),
        pd.Timestamp("2025-11-01"),
        pd.Timestamp("2025-11-01"),
    )
    assert p.label == str(p) == "2025-10" and p.months == 1
    assert parse_period(" 2025-10 ") == p
    assert parse_period(p) is p


def test_quarter_parsing():
    q = parse_period("2025-Q3")
    assert q == Period(2025, 3, "quarter") == parse_period("2025-q3")
    assert (q.start, q.end) == (pd.Timestamp("2025-07-01"), pd.Timestamp("2025-10-01"))
    assert q.label == "2025-Q3" and q.months == 3
    assert parse_period("2024-Q4").end == pd.Timestamp("2025-01-01")


def test_february_of_a_leap_year():
    assert parse_period("2024-02").end - parse_period("2024-02").start == pd.Timedelta(days=29)
    assert parse_period("2025-02").end - parse_period("2025-02").start == pd.Timedelta(days=28)


@pytest.mark.parametrize(
    ("label", "previous", "year_ago"),
    [
        ("2025-01", "2024-12", "2024-01"),
        ("2025-12", "2025-11", "2024-12"),
        ("2024-03", "2024-02", "2023-03"),
        ("2025-Q1", "2024-Q4", "2024-Q1"),
        ("2025-Q4", "2025-Q3", "2024-Q4"),
    ],
)
def test_previous_and_year_ago_across_year_boundaries(label, previous, year_ago):
    p = parse_period(label)
    assert p.previous().label == previous
    assert p.year_ago().label == year_ago
    assert p.previous().end == p.start


def test_shift_across_years():
    assert parse_period("2025-11").shift(3).label == "2026-02"
    assert parse_period("2025-02").shift(-14).label == "2023-12"
    assert parse_period("2025-Q2").shift(-6).label == "2023-Q4"
    assert parse_period("2025-10").shift(12) == parse_period("2026-10")


def test_lookback_window_ends_at_the_period_end():
    start, end = parse_period("2025-10").lookback(365)
    assert (start, end) == (pd.Timestamp("2024-11-01"), pd.Timestamp("2025-11-01"))
    assert parse_period("2025-Q1").lookback(90) == (pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"))
    for days in (0, -30):
        with pytest.raises(ValueError, match=rf"lookback days must be a positive integer; got {days}"):
            parse_period("2025-10").lookback(days)


def test_contains_is_half_open():
    p = parse_period("2025-10")
    stamps = pd.Series(
        pd.to_datetime(
            [
                "2025-09-30 23:59:59.999",  # September
                "2025-10-01 00:00:00.000",  # first instant: in
                "2025-10-31 23:59:59.999",  # last millisecond of the last day: in
                "2025-11-01 00:00:00.000",  # first instant of November: out
            ]
        )
    )
    assert p.contains(stamps).tolist() == [False, True, True, False]
    assert parse_period("2025-Q4").contains(stamps).tolist() == [False, True, True, True]


def test_period_of():
    assert period_of(pd.Timestamp("2025-10-31 23:59:59.999")).label == "2025-10"
    assert period_of(pd.Timestamp("2025-11-01"), "quarter").label == "2025-Q4"
    assert period_of(pd.Timestamp("2025-01-01"), "quarter").label == "2025-Q1"


def test_period_range():
    assert [p.label for p in period_range("2024-11", "2025-02")] == ["2024-11", "2024-12", "2025-01", "2025-02"]
    assert [p.label for p in period_range("2024-Q4", "2025-Q1")] == ["2024-Q4", "2025-Q1"]
    assert period_range("2025-10", "2025-10") == [parse_period("2025-10")]
    with pytest.raises(ValueError, match=r"ends before it starts: '2025-10' to '2025-09'"):
        period_range("2025-10", "2025-09")
    with pytest.raises(ValueError, match=r"two periods of the same kind; got '2025-10' and '2025-Q4'"):
        period_range("2025-10", "2025-Q4")


@pytest.mark.parametrize(
    ("latest", "expected"),
    [
        ("2025-10-31 18:00", "2025-10"),  # orders on the last day: the month is complete
        ("2025-10-31 23:59:59", "2025-10"),
        ("2025-11-01 00:10", "2025-10"),  # a few minutes into November
        ("2025-10-15 12:00", "2025-09"),
        ("2025-01-05", "2024-12"),  # across the year boundary
    ],
)
def test_last_complete_month_depends_on_the_data_not_the_clock(latest, expected):
    assert last_complete_month(pd.Timestamp(latest)).label == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-13",
        "2025-00",
        "2025-Q5",
        "2025-Q0",
        "25-10",
        "",
        "2025-1",
        "2025/10",
        "2025-10-01",
        "October 2025",
        "2025-Q",
        "2025Q3",
    ],
)
def test_malformed_periods_are_clear_errors(text):
    with pytest.raises(ValueError, match=rf"Malformed period '{text}': expected a month 'YYYY-MM' .*'YYYY-Qn'"):
        parse_period(text)


@pytest.mark.parametrize("value", [None, 202510, 2025.10, ["2025-10"]])
def test_non_text_periods_are_type_errors(value):
    with pytest.raises(TypeError, match=r"period must be a string such as '2025-10' or '2025-Q3'; got"):
        parse_period(value)


def test_invalid_period_objects():
    with pytest.raises(ValueError, match="month index must be between 1 and 12; got 13"):
        Period(2025, 13)
    with pytest.raises(ValueError, match="quarter index must be between 1 and 4; got 5"):
        Period(2025, 5, "quarter")
    with pytest.raises(ValueError, match="Period kind must be 'month' or 'quarter'; got 'week'"):
        Period(2025, 1, "week")


periods = st.builds(
    lambda year, month, quarter, kind: Period(year, month if kind == "month" else quarter, kind),
    st.integers(1900, 2200),
    st.integers(1, 12),
    st.integers(1, 4),
    st.sampled_from(["month", "quarter"]),
)


@given(periods, st.integers(-500, 500))
def test_shift_round_trips(p, k):
    assert p.shift(k).shift(-k) == p
    assert parse_period(p.shift(k).label) == p.shift(k)


@given(periods, st.integers(1, 30))
def test_consecutive_periods_tile_time(p, n):
    run = [p.shift(i) for i in range(n)]
    for a, b in zip(run, run[1:]):
        assert a.end == b.start  # no gap, no overlap
        assert a < b
    assert period_range(run[0], run[-1]) == run
    span = run[-1].end - run[0].start
    assert span == sum((q.end - q.start for q in run), pd.Timedelta(0))


@given(periods)
def test_year_ago_is_shift_by_one_year(p):
    per_year = 12 if p.kind == "month" else 4
    assert p.year_ago() == p.shift(-per_year)
    assert period_of(p.start, p.kind) == p == period_of(p.end - pd.Timedelta(milliseconds=1), p.kind)
