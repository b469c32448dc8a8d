"""Expected value of a period's lists (crmtools.actions): from the last comparable campaign's measured effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmtools.actions import EXPECTATION_COLUMNS, list_expectations
from crmtools.campaigns import campaign_roi

SUMMARY = pd.DataFrame(
    {
        "list": ["win_back", "nudge"],
        "theme": ["win_back", "second_purchase"],
        "status": ["ok", "empty"],
        "customers": [100, 0],
        "treatment": [80, 0],
        "holdout": [20, 0],
    }
)


def _measured_campaign(campaign_id: str, start: str, end: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """100 treated (30 buy 1,000) and 100 held out (10 buy 1,000): incremental revenue 20,000, 200 per treated."""
    ids = [f"c{i:03d}" for i in range(200)]
    campaigns = pd.DataFrame(
        {
            "campaign_id": [campaign_id],
            "name": ["x"],
            "channel": ["email"],
            "start_date": pd.to_datetime([start]),
            "end_date": pd.to_datetime([end]),
            "cost": [100.0],
        }
    )
    contacts = pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "customer_id": ids,
            "group": ["treatment"] * 100 + ["holdout"] * 100,
            "contacted_at": pd.Timestamp(start),
        }
    )
    buyers = ids[:30] + ids[100:110]
    tx = pd.DataFrame(
        {
            "customer_id": buyers,
            "order_datetime": pd.Timestamp(start) + pd.Timedelta(days=3),
            "amount": 1000.0,
            "quantity": 1,
        }
    )
    return campaigns, contacts, tx


def test_round_trip_from_a_measured_campaign_of_the_same_list():
    roi = campaign_roi(*_measured_campaign("win_back-2025-09", "2025-09-01", "2025-09-30"))
    out = list_expectations(SUMMARY, roi, period="2025-11")
    assert list(out.columns) == EXPECTATION_COLUMNS
    row = out.set_index("list").loc["win_back"]
    assert row["comparable_campaign"] == "win_back-2025-09"
    assert row["incremental_revenue_per_treated"] == pytest.approx(200.0)
    assert row["expected_incremental_value"] == pytest.approx(80 * 200.0)
    assert pd.isna(out.set_index("list").loc["nudge", "comparable_campaign"])


def test_no_value_without_a_comparable_measured_campaign():
    # another list's campaign, and the same list's campaign still running in the period: neither counts
    roi = pd.concat(
        [
            campaign_roi(*_measured_campaign("other-2025-09", "2025-09-01", "2025-09-30")),
            campaign_roi(*_measured_campaign("win_back-2025-11", "2025-11-01", "2025-11-20")),
        ],
        ignore_index=True,
    )
    out = list_expectations(SUMMARY, roi, period="2025-11")
    assert out["comparable_campaign"].isna().all() and np.isnan(out["expected_incremental_value"]).all()
    named = list_expectations(SUMMARY, roi, period="2025-11", comparable={"win_back": "other-2025-09"})
    assert named.loc[0, "expected_incremental_value"] == pytest.approx(16000.0)
    with pytest.raises(ValueError, match=r"comparable names campaign\(s\) \['nope'\]"):
        list_expectations(SUMMARY, roi, period="2025-11", comparable={"win_back": "nope"})


def test_the_latest_comparable_campaign_is_used():
    first = campaign_roi(*_measured_campaign("win_back-2025-06", "2025-06-01", "2025-06-30"))
    second = campaign_roi(*_measured_campaign("win_back-2025-09", "2025-09-01", "2025-09-30"))
    roi = pd.concat([second, first], ignore_index=True)
    assert list_expectations(SUMMARY, roi, period="2025-11").loc[0, "comparable_campaign"] == "win_back-2025-09"


def test_without_any_campaign_every_value_is_missing():
    out = list_expectations(SUMMARY, None, period="2025-11")
    assert out["expected_incremental_value"].isna().all() and out["customers"].tolist() == [100, 0]


def test_a_list_not_built_has_missing_counts_and_float_columns():
    """The sample data (2025-12) and a month without orders: a skipped list's counts are NA (nullable Int64 from
    crmtools.targets); the page's float conversion raised, and with it the whole report."""
    summary = pd.DataFrame(
        {
            "list": ["win_back", "detractors", "nudge"],
            "theme": ["win_back", "detractor_follow_up", "second_purchase"],
            "status": ["ok", "skipped", "empty"],
            "customers": pd.array([100, pd.NA, 0], dtype="Int64"),
            "treatment": pd.array([80, pd.NA, 0], dtype="Int64"),
            "holdout": pd.array([20, pd.NA, 0], dtype="Int64"),
        }
    )
    out = list_expectations(summary, None, period="2025-12")
    for column in ("customers", "treatment", "holdout"):
        assert out[column].dtype == np.float64
    assert out["customers"].tolist()[::2] == [100.0, 0.0] and np.isnan(out.loc[1, "customers"])
    assert out["holdout"].isna().tolist() == [False, True, False]
    assert out["expected_incremental_value"].isna().all()
    # no list at all: the same columns and types
    empty = list_expectations(summary.iloc[:0], None, period="2025-12")
    assert list(empty.columns) == EXPECTATION_COLUMNS and empty["treatment"].dtype == np.float64
