"""Which rows belong to a period: crmtools.slicing and Dataset.for_period, the one place that windows tables."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools.campaigns import campaign_roi
from crmtools.data import Dataset
from crmtools.periods import parse_period
from crmtools.sampledata import SampleConfig, generate_sample
from crmtools.slicing import (
    campaigns_active,
    contacts_of,
    experiments_exposed,
    rows_between,
    transactions_before,
    transactions_in,
)


def _ts(values):
    return pd.to_datetime(values, format="ISO8601")


def _campaigns():
    return pd.DataFrame(
        {
            "campaign_id": ["before", "into", "inside", "out_of", "around", "after", "last_day"],
            "start_date": _ts(
                ["2025-08-01", "2025-09-20", "2025-10-05", "2025-10-25", "2025-09-01", "2025-11-01", "2025-09-01"]
            ),
            "end_date": _ts(
                [
                    "2025-09-30 23:59:59",
                    "2025-10-05",
                    "2025-10-20",
                    "2025-11-10",
                    "2025-11-30",
                    "2025-11-30",
                    "2025-10-01",
                ]
            ),
        }
    )


def test_campaigns_overlapping_the_period_belong_to_it():
    out = campaigns_active(_campaigns(), period="2025-10")
    assert out["campaign_id"].tolist() == ["into", "inside", "out_of", "around", "last_day"]
    assert out.index.tolist() == list(range(5))
    assert campaigns_active(_campaigns(), period="2025-Q4")["campaign_id"].tolist() == [
        "into",
        "inside",
        "out_of",
        "around",
        "after",
        "last_day",
    ]


def test_transactions_are_half_open():
    tx = pd.DataFrame(
        {
            "order_id": list("abcd"),
            "order_datetime": _ts(
                ["2025-09-30 23:59:59.999", "2025-10-01 00:00:00", "2025-10-31 23:59:59.999", "2025-11-01 00:00:00"]
            ),
        }
    )
    assert transactions_in(tx, period="2025-10")["order_id"].tolist() == ["b", "c"]
    assert transactions_in(tx, period=parse_period("2025-Q4"))["order_id"].tolist() == ["b", "c", "d"]


def test_experiments_are_read_whole_up_to_the_end():
    ex = pd.DataFrame(
        {
            "experiment_id": ["x", "x", "x", "y", "z"],
            "exposed_at": _ts(["2025-09-25", "2025-10-03", "2025-11-02", "2025-09-01", "2025-10-31 23:00"]),
        }
    )
    out = experiments_exposed(ex, period="2025-10")
    assert out["experiment_id"].tolist() == ["x", "x", "z"]  # x's September exposure kept, November's not
    assert out["exposed_at"].max() < pd.Timestamp("2025-11-01")


@pytest.fixture(scope="module")
def data():
    tables, _ = generate_sample(SampleConfig(customers=300, months=12, seed=4))  # 2024-01 .. 2024-12
    campaigns = tables["campaigns"]
    # A third campaign running from June into July, contacting CMP-02's customers.
    spanning = campaigns.iloc[[1]].assign(
        campaign_id="CMP-X", start_date=pd.Timestamp("2024-06-20"), end_date=pd.Timestamp("2024-07-10 23:59:59")
    )
    contacts = tables["campaign_contacts"]
    extra = contacts[contacts["campaign_id"] == "CMP-02"].assign(campaign_id="CMP-X")
    tables["campaigns"] = pd.concat([campaigns, spanning], ignore_index=True)
    tables["campaign_contacts"] = pd.concat([contacts, extra], ignore_index=True)
    return Dataset(**tables, quality=pd.DataFrame())


def test_for_period_windows_every_table_one_way(data):
    before = {
        name: getattr(data, name).copy() for name in ("transactions", "campaigns", "campaign_contacts", "experiments")
    }
    july = data.for_period("2024-07")
    period = parse_period("2024-07")
    tx = july.transactions
    assert len(tx) > 0 and period.contains(tx["order_datetime"]).all()
    assert len(tx) == int(period.contains(data.transactions["order_datetime"]).sum())
    assert july.campaigns["campaign_id"].tolist() == ["CMP-02", "CMP-X"]  # CMP-X started in June
    assert set(july.campaign_contacts["campaign_id"]) == {"CMP-02", "CMP-X"}
    pd.testing.assert_frame_equal(july.campaign_contacts, contacts_of(data.campaign_contacts, july.campaigns))
    assert july.experiments.empty
    december = data.for_period(parse_period("2024-12"))
    assert set(december.experiments["experiment_id"]) == {"EXP-AA", "EXP-OFFER", "EXP-SUBJECT"}
    assert december.experiments["exposed_at"].min() < pd.Timestamp("2024-12-01")  # tests begun in November
    assert december.campaigns.empty and december.campaign_contacts.empty
    for name in ("customers", "products", "quality"):
        assert getattr(july, name) is getattr(data, name)
    for name, frame in before.items():  # the dataset itself is not modified
        pd.testing.assert_frame_equal(getattr(data, name), frame)
    with pytest.raises(ValueError, match="Malformed period"):
        data.for_period("2024-07-01")


def test_campaign_roi_period_is_the_same_window(data):
    july = data.for_period("2024-07")
    expected = campaign_roi(july.campaigns, july.campaign_contacts, data.transactions)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = campaign_roi(data.campaigns, data.campaign_contacts, data.transactions, period="2024-07")
    pd.testing.assert_frame_equal(got, expected)
    assert any("CMP-X" in str(w.message) and w.category is FutureWarning for w in caught)


def test_column_names_can_be_overridden_and_no_match_keeps_the_columns():
    renamed = _campaigns().rename(columns={"start_date": "from", "end_date": "to"})
    out = campaigns_active(renamed, period="2025-10", start_col="from", end_col="to")
    assert out["campaign_id"].tolist() == ["into", "inside", "out_of", "around", "last_day"]
    none = campaigns_active(_campaigns(), period="2024-01")
    assert none.empty and none.columns.tolist() == ["campaign_id", "start_date", "end_date"]
    tx = pd.DataFrame({"order_id": ["a", "b"], "ts": _ts(["2025-10-02", "2025-12-01"])})
    assert transactions_in(tx, period="2025-10", date_col="ts")["order_id"].tolist() == ["a"]
    ex = pd.DataFrame({"test": ["x", "y"], "seen": _ts(["2025-10-02", "2025-09-02"])})
    exposed = experiments_exposed(ex, period="2025-10", experiment_col="test", exposed_col="seen")
    assert exposed["test"].tolist() == ["x"]


def test_contacts_of_keeps_only_the_given_campaigns_in_order():
    contacts = pd.DataFrame(
        {"campaign_id": ["inside", "before", "around", "inside"], "customer_id": list("abcd")}, index=[10, 11, 12, 13]
    )
    out = contacts_of(contacts, campaigns_active(_campaigns(), period="2025-10"))
    assert out["customer_id"].tolist() == ["a", "c", "d"] and out.index.tolist() == [0, 1, 2]
    assert contacts_of(contacts, _campaigns().iloc[0:0]).empty


def test_a_one_sided_deprecated_window_is_refused():
    with pytest.warns(FutureWarning), pytest.raises(TypeError, match="a window needs both start= and end="):
        campaigns_active(_campaigns(), start="2025-10-01")


# --------------------------------------------------------------------------- rows_between


_STAMPS = st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=20)), min_size=0, max_size=40).map(
    lambda days: pd.to_datetime(
        [None if d is None else pd.Timestamp("2025-01-01") + pd.Timedelta(days=d) for d in days]
    )
)
_BOUND = st.one_of(st.none(), st.integers(min_value=-2, max_value=22))


@settings(max_examples=300, deadline=None)
@given(stamps=_STAMPS, start=_BOUND, end=_BOUND, sort=st.booleans(), labels=st.sampled_from(["range", "gaps"]))
def test_rows_between_is_the_boolean_filter(stamps, start, end, sort, labels):
    # Sorted times are taken as a slice, others filtered: the rows, order, labels and values are the filter's.
    frame = pd.DataFrame(
        {
            "order_datetime": stamps,
            "customer_id": pd.array([f"c{i % 3}" for i in range(len(stamps))], dtype="str"),
            "amount": [float(i) for i in range(len(stamps))],
        }
    )
    if sort:
        frame = frame.sort_values("order_datetime", kind="stable", na_position="last").reset_index(drop=True)
    if labels == "gaps":
        frame.index = [3 * i + 1 for i in range(len(frame))]
    day = pd.Timestamp("2025-01-01")
    lo = None if start is None else day + pd.Timedelta(days=start)
    hi = None if end is None else day + pd.Timedelta(days=end)
    inside = [  # row by row, in plain Python: a missing time fails any bound (and no bound keeps every row)
        (lo is None or (t is not pd.NaT and t >= lo)) and (hi is None or (t is not pd.NaT and t < hi))
        for t in frame["order_datetime"]
    ]
    expected = frame.loc[inside]
    got = rows_between(frame, "order_datetime", start=lo, end=hi)
    pd.testing.assert_frame_equal(got, expected)
    assert got.index.equals(expected.index)


def test_rows_between_sorted_times_are_a_slice_that_copies_nothing():
    frame = pd.DataFrame(
        {
            "order_datetime": pd.date_range("2025-01-01", periods=6, freq="D"),
            "customer_id": pd.array(list("abcdef"), dtype="str"),
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    got = rows_between(frame, "order_datetime", start=pd.Timestamp("2025-01-02"), end=pd.Timestamp("2025-01-05"))
    assert got["customer_id"].tolist() == ["b", "c", "d"] and got.index.tolist() == [1, 2, 3]
    assert np.shares_memory(got["amount"].to_numpy(), frame["amount"].to_numpy())
    shuffled = frame.iloc[[1, 0, 2, 3, 4, 5]]  # not sorted: filtered (a copy), same rows as the mask
    got = rows_between(shuffled, "order_datetime", end=pd.Timestamp("2025-01-03"))
    assert got.index.tolist() == [1, 0]
    assert not np.shares_memory(got["amount"].to_numpy(), frame["amount"].to_numpy())


def test_transactions_before_takes_a_point_in_time():
    tx = pd.DataFrame(
        {
            "order_id": ["o1", "o2", "o3"],
            "order_datetime": [pd.Timestamp("2025-10-31 23:59"), pd.Timestamp("2025-11-01"), pd.NaT],
        }
    )
    assert transactions_before(tx, as_of=parse_period("2025-10"))["order_id"].tolist() == ["o1"]
    assert transactions_before(tx, as_of="2025-11-01 00:00:01")["order_id"].tolist() == ["o1", "o2"]
    with pytest.raises(ValueError, match="ambiguous"):
        transactions_before(tx, as_of="2025-10")
