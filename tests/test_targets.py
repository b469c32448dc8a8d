"""Tests for crmtools.targets: due windows and target lists, by hand, by property, on the sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools.repeat import purchase_cycles
from crmtools.sampledata import SampleConfig, generate_sample
from crmtools.targets import DUE_WINDOWS, due_summary, next_purchase_targets

WINDOWS = ["long overdue", "overdue", "due within 30 days", "later"]


def _cycles(days, ids=None):
    ids = ids if ids is not None else [f"c{i:02d}" for i in range(len(days))]
    return pd.DataFrame(
        {"customer_id": pd.Series(ids, dtype="str"), "days_until_next": days, "avg_interval_days": 30.0}
    )


# --------------------------------------------------------------------------- due_summary


def test_due_summary_known_answer_at_every_boundary():
    # long overdue: -45, -31 | overdue: -30, -1, -1 | due: 0, 30 | later: 31, 200
    cycles = _cycles([-45, -31, -30, -1, -1, 0, 30, 31, 200])
    out = due_summary(cycles)
    assert out.columns.tolist() == ["window", "customers", "share"]
    assert out["window"].tolist() == WINDOWS == [w[0] for w in DUE_WINDOWS]
    assert out["customers"].tolist() == [2, 3, 2, 2] and out["customers"].dtype == "int64"
    assert out["share"].tolist() == pytest.approx([2 / 9, 3 / 9, 2 / 9, 2 / 9], rel=1e-15)


def test_due_summary_leaves_customers_without_an_expected_date_out():
    cycles = _cycles([-5.0, np.nan, 10.0, np.nan])
    out = due_summary(cycles)
    assert out["customers"].tolist() == [0, 1, 1, 0]
    assert out["share"].tolist() == [0.0, 0.5, 0.5, 0.0]


def test_due_summary_of_nobody_has_every_window_and_no_shares():
    out = due_summary(_cycles([]))
    assert out["window"].tolist() == WINDOWS and out["customers"].tolist() == [0, 0, 0, 0]
    assert out["share"].isna().all()


def test_due_summary_other_column_name():
    cycles = _cycles([-40, 3]).rename(columns={"days_until_next": "days"})
    assert due_summary(cycles, days_col="days")["customers"].tolist() == [1, 0, 1, 0]
    with pytest.raises(
        ValueError,
        match=r"cycles is missing column 'days_until_next'; .*Pass the output of "
        r"crmtools\.repeat\.purchase_cycles\.",
    ):
        due_summary(cycles)


# --------------------------------------------------------------------------- next_purchase_targets


def test_targets_known_answer():
    cycles = _cycles([-40, -30, -3, 0, 10, 30, 31, 90, 10], ids=["a", "b", "c", "d", "f", "g", "h", "i", "e"])
    out = next_purchase_targets(cycles)
    # -40 is overdue by more than 30 days, 31 and 90 are too far ahead; the two 10s are ordered by id
    assert out["customer_id"].tolist() == ["b", "c", "d", "e", "f", "g"]
    assert out["days_until_next"].tolist() == [-30, -3, 0, 10, 10, 30]
    assert out.columns.tolist() == cycles.columns.tolist() and out.index.equals(pd.RangeIndex(6))


def test_targets_window_arguments():
    cycles = _cycles([-8, -7, -1, 0, 1, 14, 15], ids=list("abcdefg"))
    assert next_purchase_targets(cycles, within_days=0, overdue_days=0)["customer_id"].tolist() == ["d"]
    assert next_purchase_targets(cycles, within_days=14, overdue_days=7)["customer_id"].tolist() == [
        "b",
        "c",
        "d",
        "e",
        "f",
    ]
    assert next_purchase_targets(cycles, within_days=0, overdue_days=100)["customer_id"].tolist() == [
        "a",
        "b",
        "c",
        "d",
    ]


def test_targets_skip_missing_days_and_keep_the_input():
    cycles = _cycles([np.nan, 5.0, -2.0], ids=["x", "y", "z"])
    before = cycles.copy(deep=True)
    assert next_purchase_targets(cycles)["customer_id"].tolist() == ["z", "y"]
    pd.testing.assert_frame_equal(cycles, before)


def test_targets_other_column_names():
    cycles = _cycles([3, 1], ids=["p", "q"]).rename(columns={"customer_id": "member", "days_until_next": "due_in"})
    out = next_purchase_targets(cycles, customer_col="member", days_col="due_in")
    assert out["member"].tolist() == ["q", "p"]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"within_days": -1}, ValueError, r"within_days is out of range; allowed: a number >= 0; received: -1\."),
        ({"overdue_days": -5}, ValueError, "overdue_days is out of range"),
        ({"within_days": "30"}, TypeError, "within_days has the wrong type"),
        ({"within_days": None}, TypeError, "within_days has the wrong type"),
        ({"customer_col": "member"}, ValueError, "cycles is missing column 'member'"),
    ],
)
def test_targets_reject_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        next_purchase_targets(_cycles([1, 2]), **kwargs)


# --------------------------------------------------------------------------- properties


@settings(max_examples=60, deadline=None, derandomize=True)
@given(days=st.lists(st.integers(-400, 400), max_size=50), within=st.integers(0, 60), overdue=st.integers(0, 60))
def test_properties_against_a_plain_loop(days, within, overdue):
    cycles = _cycles(days)
    summary = due_summary(cycles).set_index("window")["customers"]
    for name, low, high in DUE_WINDOWS:
        expected = sum(1 for d in days if (low is None or d >= low) and (high is None or d <= high))
        assert summary[name] == expected
    assert summary.sum() == len(days)  # the windows cover every whole number of days once
    chosen = next_purchase_targets(cycles, within_days=within, overdue_days=overdue)
    expected_rows = sorted((d, f"c{i:02d}") for i, d in enumerate(days) if -overdue <= d <= within)
    assert list(zip(chosen["days_until_next"], chosen["customer_id"])) == expected_rows


# --------------------------------------------------------------------------- on real purchase cycles


def test_on_purchase_cycles_of_the_sample():
    tables, _ = generate_sample(SampleConfig(customers=400, months=12, seed=2))
    as_of = tables["transactions"]["order_datetime"].max().normalize()
    cycles = purchase_cycles(tables["transactions"], as_of=as_of)
    summary = due_summary(cycles)
    assert summary["customers"].sum() == len(cycles) > 0
    assert summary["share"].sum() == pytest.approx(1.0)
    targets = next_purchase_targets(cycles)
    due_soon = summary.set_index("window").loc[["overdue", "due within 30 days"], "customers"].sum()
    assert len(targets) == due_soon  # the default target list is exactly these two windows
    assert targets["days_until_next"].is_monotonic_increasing
