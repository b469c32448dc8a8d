"""Campaign ROI: hand-checked cases, agreement with statsmodels/scipy, planted effects and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from crmtools.campaigns import ROI_COLUMNS, ROLLUP_COLUMNS, campaign_roi, campaign_rollup
from crmtools.periods import parse_period

TOL = 1e-9
CONTACT = pd.Timestamp("2025-03-03 10:00")
END = pd.Timestamp("2025-03-31")  # midnight: the whole of March 31 is in the window
WINDOW_STOP = END + pd.Timedelta(days=1)  # exclusive


def simulate(seed=1, campaigns=1, treated=3000, holdout=800, base_rate=0.15, uplift=0.05, cost=200_000.0, channel="dm"):
    """Fixed-seed campaigns with a planted incremental order for a share ``uplift`` of treated customers.

    Every customer may buy in the window at the baseline rate (both groups alike); most have bought
    before (2024), the rest would be new. Returns the three tables and the planted extra revenue.
    """
    rng = np.random.default_rng(seed)
    camp_rows, contact_frames, tx_frames, planted = [], [], [], {}
    for k in range(campaigns):
        cid = f"K{k:03d}"
        n = treated + holdout
        ids = np.array([f"{cid}-{i:05d}" for i in range(n)])
        group = np.array(["treatment"] * treated + ["holdout"] * holdout)
        camp_rows.append((cid, f"Campaign {k}", channel, pd.Timestamp("2025-03-03"), END, cost))
        contact_frames.append(
            pd.DataFrame({"campaign_id": cid, "customer_id": ids, "group": group, "contacted_at": CONTACT})
        )
        existing = rng.random(n) < 0.8
        history = pd.DataFrame({"customer_id": ids[existing], "order_datetime": pd.Timestamp("2024-06-01 12:00")})
        orders = rng.poisson(base_rate, n)
        who = np.repeat(np.arange(n), orders)
        window_seconds = int((END + pd.Timedelta(days=1) - CONTACT).total_seconds())
        base = pd.DataFrame(
            {
                "customer_id": ids[who],
                "order_datetime": CONTACT + pd.to_timedelta(rng.integers(0, window_seconds, who.size), unit="s"),
            }
        )
        responders = np.flatnonzero((group == "treatment") & (rng.random(n) < uplift))
        extra = pd.DataFrame(
            {
                "customer_id": ids[responders],
                "order_datetime": CONTACT + pd.to_timedelta(rng.integers(0, window_seconds, responders.size), unit="s"),
            }
        )
        extra_amount = np.round(rng.lognormal(8.3, 0.7, responders.size), 0)
        planted[cid] = float(extra_amount.sum())
        lines = pd.concat(
            [
                history.assign(amount=np.round(rng.lognormal(8.3, 0.7, len(history)), 0)),
                base.assign(amount=np.round(rng.lognormal(8.3, 0.7, len(base)), 0)),
                extra.assign(amount=extra_amount),
            ],
            ignore_index=True,
        )
        lines["quantity"] = 1
        tx_frames.append(lines)
    campaigns_ = pd.DataFrame(camp_rows, columns=["campaign_id", "name", "channel", "start_date", "end_date", "cost"])
    contacts = pd.concat(contact_frames, ignore_index=True)
    tx = pd.concat(tx_frames, ignore_index=True)
    tx.insert(0, "order_id", [f"O{i:07d}" for i in range(len(tx))])
    tx["unit_price"] = tx["amount"]
    tx["channel"] = "web"
    tx["campaign_id"] = None
    return campaigns_, contacts, tx, planted


def per_customer_revenue(contacts, tx, cid, group, stop=WINDOW_STOP):
    """Window revenue per contacted customer, computed independently of the module."""
    ids = contacts.loc[(contacts["campaign_id"] == cid) & (contacts["group"] == group), "customer_id"]
    inside = tx[(tx["order_datetime"] >= CONTACT) & (tx["order_datetime"] < stop)]
    revenue = inside.groupby("customer_id")["amount"].sum()
    return revenue.reindex(ids, fill_value=0.0).to_numpy()


# --------------------------------------------------------------------------- hand-checked case


@pytest.fixture
def small():
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["C1"],
            "name": ["Spring DM"],
            "channel": ["dm"],
            "start_date": pd.to_datetime(["2025-04-01"]),
            "end_date": pd.to_datetime(["2025-04-30"]),
            "cost": [1000.0],
        }
    )
    contacts = pd.DataFrame(
        {
            "campaign_id": "C1",
            "customer_id": ["a", "b", "e", "c", "d"],
            "group": ["treatment", "treatment", "treatment", "holdout", "holdout"],
            "contacted_at": pd.Timestamp("2025-04-01 10:00"),
        }
    )
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b", "c", "d", "e", "e"],
            "order_datetime": pd.to_datetime(
                [
                    "2025-01-15 12:00",
                    "2025-04-05 09:00",
                    "2025-04-30 18:00",
                    "2025-04-06 10:00",
                    "2025-04-01 09:59",
                    "2025-05-01 00:00",
                    "2025-04-10 12:00",
                    "2025-03-01 15:00",
                    "2025-04-20 08:00",
                    "2025-06-15 08:00",
                ]
            ),
            "quantity": [1, 1, 1, -1, 1, 1, 1, 1, 2, 1],
            "amount": [600.0, 3000.0, 2000.0, -500.0, 700.0, 800.0, 1500.0, 900.0, 1200.0, 400.0],
        }
    )
    return campaigns, contacts, tx


def test_hand_checked_campaign(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns, contacts, tx, as_of="2025-07-31").iloc[0]
    # a: 3000 + 2000 (last day, whole day counts) - 500 return = 4500; b: before contact / after the end = 0;
    # e: 1200 and a first purchase in the window (new; 'a' bought in January). Holdout: c 1500, d nothing in
    # the window.
    assert row["attribution"] == "contacts"
    assert (row["treated"], row["holdout"], row["responders"], row["new_customers"]) == (3, 2, 2, 1)
    assert row["attributed_revenue"] == 5700.0
    assert row["roi"] == pytest.approx((5700 - 1000) / 1000)
    assert row["roas"] == pytest.approx(5.7)
    assert row["cpa"] == pytest.approx(500.0)
    assert row["cac"] == pytest.approx(1000.0)  # one new customer: e
    assert row["response_rate"] == pytest.approx(2 / 3)
    assert (row["holdout_responders"], row["holdout_response_rate"]) == (1, 0.5)
    assert row["incremental_conversions"] == pytest.approx((2 / 3 - 1 / 2) * 3)
    assert row["incremental_revenue"] == pytest.approx((5700 / 3 - 1500 / 2) * 3)
    assert row["incremental_roi"] == pytest.approx(((5700 / 3 - 750) * 3 - 1000) / 1000)
    assert pd.isna(row["roi_reason"]) and pd.isna(row["incremental_reason"])
    assert (row["payback_months"], row["payback"]) == (1.0, "paid_back")


def test_new_customers_need_their_first_purchase_in_the_window(small):
    campaigns, contacts, tx = small
    earlier = pd.concat(
        [
            tx,
            pd.DataFrame(
                {
                    "customer_id": ["e"],
                    "order_datetime": [pd.Timestamp("2024-01-01")],
                    "quantity": [1],
                    "amount": [10.0],
                }
            ),
        ],
        ignore_index=True,
    )
    row = campaign_roi(campaigns, contacts, earlier).iloc[0]
    assert row["new_customers"] == 0 and np.isnan(row["cac"])
    assert "no new customers: CAC is undefined" in row["roi_reason"]


def test_end_date_with_a_time_is_an_inclusive_instant(small):
    campaigns, contacts, tx = small
    timed = campaigns.assign(end_date=pd.to_datetime(["2025-04-30 17:59:59"]))
    row = campaign_roi(timed, contacts, tx).iloc[0]
    assert row["attributed_revenue"] == 3700.0  # the 18:00 order on the 30th is now outside


def test_response_window_days_override(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns, contacts, tx, response_window_days=5).iloc[0]
    # contacted 04-01 10:00, window to 04-06 10:00 exclusive: a's 3000 only (the return is at 10:00 sharp).
    assert row["attributed_revenue"] == 3000.0
    assert row["responders"] == 1


def test_margin_scales_profit_not_revenue(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns, contacts, tx, margin=0.4).iloc[0]
    assert row["attributed_revenue"] == 5700.0 and row["gross_profit"] == pytest.approx(2280.0)
    assert row["roi"] == pytest.approx((2280 - 1000) / 1000)
    assert row["roas"] == pytest.approx(5.7)
    assert row["incremental_roi"] == pytest.approx((0.4 * (5700 / 3 - 750) * 3 - 1000) / 1000)


# --------------------------------------------------------------------------- agreement with statsmodels / scipy


def test_intervals_match_statsmodels_and_scipy():
    campaigns, contacts, tx, _ = simulate(seed=4, treated=1200, holdout=900)
    row = campaign_roi(campaigns, contacts, tx).iloc[0]
    t = per_customer_revenue(contacts, tx, "K000", "treatment")
    h = per_customer_revenue(contacts, tx, "K000", "holdout")
    low, high = CompareMeans(DescrStatsW(t), DescrStatsW(h)).tconfint_diff(alpha=0.05, usevar="unequal")
    assert row["incremental_revenue"] == pytest.approx((t.mean() - h.mean()) * t.size, rel=TOL)
    assert row["incremental_revenue_ci_low"] == pytest.approx(low * t.size, rel=TOL)
    assert row["incremental_revenue_ci_high"] == pytest.approx(high * t.size, rel=TOL)
    assert row["incremental_revenue_se"] == pytest.approx(
        math.sqrt(t.var(ddof=1) / t.size + h.var(ddof=1) / h.size) * t.size, rel=TOL
    )
    xt, xh = int((t > 0).sum()), int((h > 0).sum())
    low, high = confint_proportions_2indep(xt, t.size, xh, h.size, method="newcomb", compare="diff")
    assert row["incremental_conversions_ci_low"] == pytest.approx(low * t.size, rel=TOL)
    assert row["incremental_conversions_ci_high"] == pytest.approx(high * t.size, rel=TOL)
    assert (row["responders"], row["holdout_responders"]) == (xt, xh)


# --------------------------------------------------------------------------- planted effects


def test_planted_incremental_revenue_falls_inside_its_interval():
    campaigns, contacts, tx, planted = simulate(seed=7, treated=3000, holdout=1500, uplift=0.08)
    row = campaign_roi(campaigns, contacts, tx).iloc[0]
    assert row["incremental_revenue_ci_low"] <= planted["K000"] <= row["incremental_revenue_ci_high"]
    assert row["incremental_revenue_ci_low"] > 0 and row["incremental_significant"]  # the effect is detected
    expected_conv = 3000 * 0.08 * math.exp(-0.15)  # extra orders from customers who would not have bought
    assert row["incremental_conversions_ci_low"] <= expected_conv <= row["incremental_conversions_ci_high"]


def test_incremental_intervals_are_calibrated_over_many_campaigns():
    # 300 independent campaigns; expected incremental revenue = uplift * treated * E[order value].
    campaigns, contacts, tx, _ = simulate(seed=11, campaigns=300, treated=600, holdout=400, uplift=0.05)
    roi = campaign_roi(campaigns, contacts, tx)
    expected_revenue = 0.05 * 600 * math.exp(8.3 + 0.7**2 / 2)  # rounding to yen is negligible
    covered = (roi["incremental_revenue_ci_low"] <= expected_revenue) & (
        expected_revenue <= roi["incremental_revenue_ci_high"]
    )
    # 300 campaigns: the standard error of the coverage is 1.3 points.
    assert 0.91 <= covered.mean() <= 0.99
    # Conversions: the expected increase is 600 * (1 - (1 - uplift) * P(no base order)) - 600 * (1 - P(...)).
    no_base = math.exp(-0.15)
    expected_conv = 600 * ((1 - 0.95 * no_base) - (1 - no_base))
    covered = (roi["incremental_conversions_ci_low"] <= expected_conv) & (
        expected_conv <= roi["incremental_conversions_ci_high"]
    )
    assert 0.91 <= covered.mean() <= 0.99
    assert abs(roi["incremental_revenue"].mean() - expected_revenue) < 3 * roi[
        "incremental_revenue_se"
    ].mean() / math.sqrt(300)


def test_a_campaign_without_effect_is_not_credited():
    campaigns, contacts, tx, planted = simulate(seed=5, uplift=0.0)
    row = campaign_roi(campaigns, contacts, tx).iloc[0]
    assert planted["K000"] == 0.0
    assert row["incremental_revenue_ci_low"] <= 0 <= row["incremental_revenue_ci_high"]
    assert row["roi"] > 0  # attributed ROI still looks good: customers buy anyway
    assert row["incremental_roi"] < 0
    assert not row["incremental_significant"]


# --------------------------------------------------------------------------- edge cases


def test_zero_cost_gives_nan_with_a_reason_never_infinity(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns.assign(cost=0.0), contacts, tx).iloc[0]
    assert np.isnan(row["roi"]) and np.isnan(row["roas"]) and np.isnan(row["incremental_roi"])
    assert row["cpa"] == 0.0 and row["cac"] == 0.0
    assert "zero cost" in row["roi_reason"] and "zero cost" in row["incremental_reason"]
    assert (row["payback_months"], row["payback"]) == (0.0, "no_cost")


def test_no_holdout(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns, contacts[contacts["group"] == "treatment"], tx).iloc[0]
    assert row["holdout"] == 0 and np.isnan(row["holdout_response_rate"])
    for col in ROI_COLUMNS:
        if col.startswith("incremental_") and col != "incremental_reason":
            assert pd.isna(row[col]), col
    assert row["incremental_reason"] == "no holdout group: incremental figures are undefined"
    assert row["payback"] == "no_holdout" and np.isnan(row["payback_months"])
    assert row["roi"] == pytest.approx(4.7)


def test_holdout_larger_than_treatment():
    campaigns, contacts, tx, planted = simulate(seed=8, treated=800, holdout=3000, uplift=0.08)
    row = campaign_roi(campaigns, contacts, tx).iloc[0]
    assert (row["treated"], row["holdout"]) == (800, 3000)
    assert row["incremental_revenue_ci_low"] <= planted["K000"] <= row["incremental_revenue_ci_high"]
    t = per_customer_revenue(contacts, tx, "K000", "treatment")
    h = per_customer_revenue(contacts, tx, "K000", "holdout")
    assert row["incremental_revenue"] == pytest.approx((t.mean() - h.mean()) * 800, rel=TOL)


def test_no_responses(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns, contacts, tx.iloc[0:0]).iloc[0]
    assert row["responders"] == 0 and row["attributed_revenue"] == 0.0
    assert row["roi"] == -1.0 and row["roas"] == 0.0
    assert np.isnan(row["cpa"]) and np.isnan(row["cac"])
    assert "no responders" in row["roi_reason"]
    assert row["incremental_revenue"] == 0.0
    assert row["incremental_revenue_ci_low"] == 0.0 == row["incremental_revenue_ci_high"]
    assert row["incremental_roi"] == -1.0


def test_tiny_holdout_has_no_revenue_interval(small):
    campaigns, contacts, tx = small
    row = campaign_roi(campaigns, contacts[contacts["customer_id"] != "d"], tx).iloc[0]
    assert row["holdout"] == 1 and np.isfinite(row["incremental_revenue"])
    assert np.isnan(row["incremental_revenue_ci_low"])
    assert "fewer than 2 customers" in row["incremental_reason"]


def test_campaign_without_contacts_uses_tagged_orders_or_is_not_attributable(small):
    campaigns, contacts, tx = small
    ads = pd.concat(
        [
            campaigns,
            pd.DataFrame(
                {
                    "campaign_id": ["ADS"],
                    "name": ["Web ads"],
                    "channel": ["ads"],
                    "start_date": pd.to_datetime(["2025-04-01"]),
                    "end_date": pd.to_datetime(["2025-04-30"]),
                    "cost": [500.0],
                }
            ),
        ],
        ignore_index=True,
    )
    tagged = tx.assign(campaign_id=np.where(tx["customer_id"].isin(["c", "d"]), "ADS", None))
    out = campaign_roi(ads, contacts, tagged).set_index("campaign_id")
    row = out.loc["ADS"]
    # c's 1500 on 04-10 is tagged and in the window; d's order is before the start.
    assert row["attribution"] == "tag" and row["attributed_revenue"] == 1500.0 and row["responders"] == 1
    assert row["roi"] == pytest.approx(2.0)
    assert row["incremental_reason"] == "no contact list: incremental figures are undefined"
    untagged = campaign_roi(ads, contacts, tx).set_index("campaign_id").loc["ADS"]
    assert untagged["attribution"] == "none" and np.isnan(untagged["roi"])
    assert "cannot be attributed" in untagged["roi_reason"]


def test_payback_months():
    campaigns, contacts, tx, _ = simulate(seed=3, uplift=0.08, cost=50_000.0)
    later = tx.assign(order_datetime=tx["order_datetime"])
    row = campaign_roi(campaigns, contacts, later, as_of="2025-12-31").iloc[0]
    assert (row["payback_months"], row["payback"], row["payback_observed_months"]) == (1.0, "paid_back", 9)
    huge = campaign_roi(campaigns.assign(cost=1e9), contacts, tx, as_of="2025-06-30").iloc[0]
    assert np.isnan(huge["payback_months"]) and huge["payback"] == "not_paid_back"
    assert huge["payback_observed_months"] == 3  # a code and a number: the words are the reporting layer's
    early = campaign_roi(campaigns, contacts, tx, as_of="2025-03-20").iloc[0]
    assert early["payback"] == "not_observed" and early["payback_observed_months"] == 0


def test_period_keeps_campaigns_running_in_it(small):
    # The window rule of crmtools.slicing (and Dataset.for_period): a campaign belongs to every period its
    # window [start_date, end_date] overlaps, with the figures of the whole campaign.
    campaigns, contacts, tx = small
    late = campaigns.assign(campaign_id="C2", name="Late", start_date=pd.Timestamp("2025-03-20"))
    both = pd.concat([campaigns, late], ignore_index=True)
    contacts2 = pd.concat([contacts, contacts.assign(campaign_id="C2")], ignore_index=True)
    assert campaign_roi(both, contacts2, tx, period="2025-03")["campaign_id"].tolist() == ["C2"]
    with pytest.warns(FutureWarning, match=r"now keeps the campaigns running in the period.*\['C2'\]"):
        april = campaign_roi(both, contacts2, tx, period="2025-04")  # C2 started in March: included now
    assert april["campaign_id"].tolist() == ["C1", "C2"]
    whole = campaign_roi(both, contacts2, tx).set_index("campaign_id")
    pd.testing.assert_frame_equal(april.set_index("campaign_id"), whole)  # whole-campaign figures
    empty = campaign_roi(campaigns, contacts, tx, period="2025-05")
    assert empty.empty and list(empty.columns) == ROI_COLUMNS
    with pytest.raises(ValueError, match="as_of='2025-07' is ambiguous"):
        campaign_roi(campaigns, contacts, tx, as_of="2025-07")
    pd.testing.assert_frame_equal(
        campaign_roi(campaigns, contacts, tx, as_of=parse_period("2025-07")),
        campaign_roi(campaigns, contacts, tx, as_of="2025-08-01"),
    )


def test_no_infinite_numbers_anywhere():
    campaigns, contacts, tx, _ = simulate(seed=2, campaigns=3, treated=300, holdout=100)
    campaigns = campaigns.assign(cost=[0.0, 100.0, 2000.0])
    contacts = contacts[~((contacts["campaign_id"] == "K001") & (contacts["group"] == "holdout"))]
    roi = campaign_roi(campaigns, contacts, tx)
    for table in (roi, campaign_rollup(roi)):
        numeric = table.select_dtypes("number").to_numpy(dtype=float)
        assert not np.isinf(numeric).any()


def test_inputs_are_not_mutated(small):
    campaigns, contacts, tx = small
    before = [frame.copy(deep=True) for frame in (campaigns, contacts, tx)]
    roi = campaign_roi(campaigns, contacts, tx, response_window_days=10)
    roi_before = roi.copy(deep=True)
    campaign_rollup(roi)
    for frame, copy in zip((campaigns, contacts, tx), before):
        pd.testing.assert_frame_equal(frame, copy)
    pd.testing.assert_frame_equal(roi, roi_before)


def test_column_names_can_be_overridden(small):
    campaigns, contacts, tx = small
    expected = campaign_roi(campaigns, contacts, tx)
    out = campaign_roi(
        campaigns.rename(columns={"campaign_id": "cid", "cost": "spend", "channel": "medium"}),
        contacts.rename(
            columns={"campaign_id": "cid", "customer_id": "member", "group": "arm", "contacted_at": "sent"}
        ),
        tx.rename(columns={"customer_id": "member", "order_datetime": "ts", "amount": "net", "quantity": "qty"}),
        campaign_col="cid",
        customer_col="member",
        group_col="arm",
        contacted_col="sent",
        date_col="ts",
        amount_col="net",
        quantity_col="qty",
        cost_col="spend",
        channel_col="medium",
    )
    pd.testing.assert_frame_equal(out, expected)


@pytest.mark.parametrize(
    "change, error, match",
    [
        (lambda c, k, t: (c.assign(cost=-1.0), k, t), ValueError, "must be a cost; allowed: a number >= 0"),
        (lambda c, k, t: (c.assign(cost=np.nan), k, t), ValueError, "must be a cost"),
        (
            lambda c, k, t: (c, k.assign(group="control"), t),
            ValueError,
            "unknown groups; allowed: \\['treatment', 'holdout'\\]",
        ),
        (lambda c, k, t: (c, k.assign(campaign_id="C9"), t), ValueError, "campaigns not in the campaigns table"),
        (lambda c, k, t: (c, pd.concat([k, k.iloc[:1]]), t), ValueError, "lists a customer twice"),
        (
            lambda c, k, t: (c, k, t.drop(columns="amount")),
            ValueError,
            "transactions is missing column 'amount'; allowed: a table with columns ",
        ),
        (
            lambda c, k, t: (c, k, t.assign(order_datetime=t["order_datetime"].astype(str))),
            TypeError,
            "column 'order_datetime' has the wrong type; allowed: datetime64 values",
        ),
        (
            lambda c, k, t: (c, k, t.assign(order_datetime=t["order_datetime"].dt.tz_localize("UTC"))),
            ValueError,
            "timezone-aware",
        ),
        (lambda c, k, t: (c.assign(end_date=pd.Timestamp("2025-01-01")), k, t), ValueError, "end before they start"),
        (
            lambda c, k, t: (c.to_dict(), k, t),
            TypeError,
            "campaigns has the wrong type; allowed: the canonical "
            "campaigns table \\(a pandas DataFrame\\); received: dict",
        ),
    ],
)
def test_bad_inputs_are_rejected(small, change, error, match):
    with pytest.raises(error, match=match):
        campaign_roi(*change(*small))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"margin": 0}, ValueError, r"margin is out of range; allowed: a number in \(0, 1\]; received: 0\."),
        ({"margin": 1.5}, ValueError, "margin is out of range"),
        ({"margin": "1"}, TypeError, "margin has the wrong type"),
        ({"alpha": 0}, ValueError, r"alpha is out of range; allowed: a number in \(0, 1\)"),
        (
            {"response_window_days": 0},
            ValueError,
            "response_window_days is out of range; allowed: a number > 0 or None",
        ),
        ({"max_payback_months": 0}, ValueError, "max_payback_months is out of range; allowed: a whole number >= 1"),
        ({"max_payback_months": 2.0}, TypeError, "max_payback_months has the wrong type"),
        ({"as_of": "not a date"}, ValueError, "as_of must be a date"),
    ],
)
def test_bad_arguments_are_rejected(small, kwargs, error, match):
    with pytest.raises(error, match=match):
        campaign_roi(*small, **kwargs)


# --------------------------------------------------------------------------- roll-ups


def test_rollup_by_channel_and_overall():
    c1, k1, t1, _ = simulate(seed=21, campaigns=2, treated=500, holdout=200, channel="dm")
    c2, k2, t2, _ = simulate(seed=22, campaigns=1, treated=400, holdout=0, channel="email", cost=3000.0)
    c2["campaign_id"] = "E000"
    k2["campaign_id"] = "E000"
    k2["customer_id"] = "E" + k2["customer_id"]
    t2["customer_id"] = "E" + t2["customer_id"]
    roi = campaign_roi(pd.concat([c1, c2]), pd.concat([k1, k2]), pd.concat([t1, t2]))
    out = campaign_rollup(roi)
    assert list(out.columns) == ROLLUP_COLUMNS
    assert list(out["level"]) == ["channel", "channel", "overall"]
    assert list(out["channel"].iloc[:2]) == ["dm", "email"] and pd.isna(out["channel"].iloc[2])
    dm, email, overall = (out.iloc[i] for i in range(3))
    dm_rows = roi[roi["channel"] == "dm"]
    assert dm["cost"] == dm_rows["cost"].sum()
    assert dm["roi"] == pytest.approx((dm_rows["gross_profit"].sum() - dm_rows["cost"].sum()) / dm_rows["cost"].sum())
    assert dm["incremental_revenue"] == pytest.approx(dm_rows["incremental_revenue"].sum())
    half = stats.norm.isf(0.025) * math.sqrt((dm_rows["incremental_revenue_se"] ** 2).sum())
    assert dm["incremental_revenue_ci_high"] - dm["incremental_revenue"] == pytest.approx(half)
    assert email["incremental_campaigns"] == 0 and np.isnan(email["incremental_revenue"])
    assert overall["incremental_campaigns"] == 2 and overall["incremental_cost"] == dm_rows["cost"].sum()
    assert overall["incremental_roi"] == pytest.approx(dm["incremental_roi"])
    assert overall["campaigns"] == 3 and overall["responders"] == roi["responders"].sum()
    assert campaign_rollup(roi.iloc[0:0]).empty


def test_rollup_by_another_column():
    campaigns, contacts, tx, _ = simulate(seed=9, campaigns=2, treated=200, holdout=100)
    roi = campaign_roi(campaigns, contacts, tx)
    out = campaign_rollup(roi, by="campaign_id")
    assert list(out.columns)[:2] == ["level", "campaign_id"]
    assert list(out["level"]) == ["campaign_id", "campaign_id", "overall"]
    with pytest.raises(ValueError, match=r"roi is missing column 'region'; .*Pass the output of campaign_roi"):
        campaign_rollup(roi, by="region")
    with pytest.raises(ValueError, match="alpha is out of range"):
        campaign_rollup(roi, alpha=1.0)


# --------------------------------------------------------------------------- plots


def test_roi_chart_draws_on_the_given_axes(small):
    from matplotlib.figure import Figure

    from crmtools.plotting.campaigns import plot_campaign_roi

    campaigns, contacts, tx = small
    two = pd.concat([campaigns, campaigns.assign(campaign_id="C2", name="Free mail", cost=0.0)], ignore_index=True)
    roi = campaign_roi(two, pd.concat([contacts, contacts.assign(campaign_id="C2")]), tx)
    before = roi.copy(deep=True)
    ax = Figure().subplots()
    assert plot_campaign_roi(roi, ax=ax) is ax
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["Spring DM (Direct mail)", "Free mail (Direct mail)"]  # ranked, undefined ROI last
    bars = [p.get_width() for p in ax.patches]
    # The headline: bars are incremental ROI; attributed ROI only a labelled reference marker.
    assert bars[0] == pytest.approx(roi.loc[0, "incremental_roi"]) and bars[1] == 0.0
    assert any(t.get_text().strip() == "n/a" for t in ax.texts)
    legend = sorted(t.get_text() for t in ax.get_legend().get_texts())
    assert legend == ["Attributed ROI (reference, not incremental)", "Incremental ROI vs holdout (95% CI)"]
    assert ax.get_xlabel() == "ROI = (margin 100% × revenue − cost) / cost"  # the margin the figures use
    ax = Figure().subplots()
    plot_campaign_roi(roi, incremental=False, ax=ax)
    assert next(p.get_width() for p in ax.patches) == pytest.approx(roi.loc[0, "roi"])
    ax = Figure().subplots()
    plot_campaign_roi(roi, language="ja", incremental=False, scale="symlog", ax=ax)
    assert ax.get_title() == "キャンペーンROIランキング" and ax.get_xscale() == "symlog"
    pd.testing.assert_frame_equal(roi, before)
    with pytest.raises(ValueError, match="Unknown scale"):
        plot_campaign_roi(roi, scale="log", ax=Figure().subplots())


def test_payback_counts_only_orders_between_the_first_contact_and_as_of():
    """Orders before any contact or from as_of on never count, so leaving them out of the join changes nothing;
    the figures are the hand-worked ones: 40 of incremental margin a month against a cost of 100 -> month 3."""
    from crmtools.campaigns import _payback

    contacted = pd.Timestamp("2025-01-01")
    responses = pd.DataFrame(
        {
            "campaign_id": ["c1"] * 4,
            "customer_id": ["t1", "t2", "h1", "h2"],
            "group": ["treatment", "treatment", "holdout", "holdout"],
            "contacted_at": [contacted] * 4,
        }
    )
    as_of = contacted + pd.Timedelta(days=30.4375 * 6)
    month = pd.Timedelta(days=30.4375)
    # Each treated customer spends 40 in each of the first six months, the holdout nothing: incremental revenue
    # 80 a month at margin 0.5 -> 40; the cost of 100 is covered in month 3.
    inside = pd.DataFrame(
        {
            "customer_id": ["t1", "t2"] * 6,
            "order_datetime": [contacted + month * m + pd.Timedelta(days=1) for m in range(6) for _ in range(2)],
            "amount": 40.0,
        }
    )
    outside = pd.DataFrame(
        {
            "customer_id": ["t1", "h1", "t2", "h2"],
            "order_datetime": [contacted - pd.Timedelta(days=5), contacted - pd.Timedelta(days=1), as_of, as_of],
            "amount": [1e6, 1e6, 1e6, 1e6],
        }
    )
    costs = pd.Series({"c1": 100.0})
    expected = pd.DataFrame(
        {"campaign_id": ["c1"], "payback_months": [3.0], "payback": ["paid_back"], "payback_observed_months": [6]}
    )
    for tx in (inside, pd.concat([outside, inside], ignore_index=True)):
        got = _payback(responses, tx, costs, 0.5, as_of, 24)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_the_lines_before_a_periods_end_give_the_same_roi_as_a_slice_or_a_copy(small_sample_dir):
    """A report takes the lines before a period's end as a slice of the run's sorted lines, whose ids' codes are
    known (first purchases grouped on them); a filtered copy is numbered afresh: the same table either way."""
    from crmtools.data import load_dataset
    from crmtools.engine import sorted_codes
    from crmtools.slicing import transactions_before

    data = load_dataset(str(small_sample_dir))
    tx = data.transactions
    assert tx["order_datetime"].is_monotonic_increasing  # sorted: the slice path
    sorted_codes(tx["customer_id"])  # the run's codes, as a kernel holds them
    end = tx["order_datetime"].iloc[len(tx) * 2 // 3].normalize()
    window = transactions_before(tx, as_of=end)
    copied = tx.loc[(tx["order_datetime"] < end).to_numpy()].copy()
    assert len(window) == len(copied)
    for as_of in (end, None):
        sliced = campaign_roi(data.campaigns, data.campaign_contacts, window, margin=0.3, as_of=as_of)
        pd.testing.assert_frame_equal(
            sliced,
            campaign_roi(data.campaigns, data.campaign_contacts, copied, margin=0.3, as_of=as_of),
            check_exact=True,
        )
    assert sliced["new_customers"].sum() > 0 and sliced["responders"].sum() > 0  # first purchases counted


@pytest.mark.parametrize("quantities", [[1, 2, -1, 1, 3], [pd.NA, 1, 1, pd.NA, -2]])
def test_first_purchases_grouped_on_codes_are_the_group_by_of_the_ids(quantities):
    """Each customer's first purchase (a line of positive quantity; a missing quantity buys nothing, a missing
    customer is nobody), grouped on the ids' codes: the text group-by's table."""
    from crmtools.campaigns import _first_purchases

    tx = pd.DataFrame(
        {
            "customer_id": pd.array(["b", "a", "b", None, "c"], dtype="str"),
            "order_datetime": pd.to_datetime(["2025-01-05", "2025-01-02", "2025-01-01", "2025-01-01", "2025-01-09"]),
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
            "quantity": pd.array(quantities, dtype="Int64"),
        }
    )
    known = tx["customer_id"].notna()
    expected = tx[known & (tx["quantity"] > 0)].groupby("customer_id")["order_datetime"].min()
    pd.testing.assert_series_equal(_first_purchases(tx, known), expected, check_exact=True)


@pytest.mark.parametrize("seed", range(6))
def test_campaigns_spread_over_time_give_what_one_join_of_every_contact_gives(seed, monkeypatch):
    """Each campaign's contacts are joined to the lines of its own dates only (one join of every contact with every
    line from the first campaign to the last paired each contact with years of its customer's lines). The figures
    are exactly those of that one join: customers contacted by several campaigns, windows and
    payback months overlapping, a campaign after as_of, cent amounts (sums in the same order) and returns."""
    from crmtools import campaigns as module
    from crmtools.engine import merge_on_ids

    rng = np.random.default_rng(seed)
    starts = pd.to_datetime(["2024-01-10", "2024-03-01", "2024-03-20", "2024-11-05", "2025-06-01", "2025-09-01"])
    camp = pd.DataFrame(
        {
            "campaign_id": [f"C{k}" for k in range(len(starts))],
            "name": "c",
            "channel": "dm",
            "start_date": starts,
            "end_date": starts + pd.to_timedelta(rng.integers(10, 60, len(starts)), unit="D"),
            "cost": rng.choice([0.0, 5_000.0, 50_000.0], len(starts)),
        }
    )
    people = np.array([f"u{i:03d}" for i in range(120)])
    rows = []
    for cid, start in zip(camp["campaign_id"], starts):
        who = rng.choice(people, 60, replace=False)
        when = start + pd.to_timedelta(rng.integers(0, 5 * 24, who.size), unit="h")
        group = np.where(rng.random(who.size) < 0.7, "treatment", "holdout")
        rows.append(pd.DataFrame({"campaign_id": cid, "customer_id": who, "group": group, "contacted_at": when}))
    contacts = pd.concat(rows, ignore_index=True).astype({"customer_id": "str", "campaign_id": "str"})
    n = 4000
    tx = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": pd.Series(rng.choice(people, n), dtype="str"),
            "order_datetime": pd.Timestamp("2023-12-01")
            + pd.to_timedelta(np.sort(rng.integers(0, 750 * 24 * 60, n)), unit="min"),
            "quantity": rng.choice([1, 1, 2, -1], n),
            "amount": np.round(rng.uniform(1, 300, n), 2),
        }
    )
    tx["amount"] = tx["amount"].where(tx["quantity"] > 0, -tx["amount"])
    as_of = pd.Timestamp("2025-08-15")
    counted = {}  # the payback's joined lines that count (within the months observed), by implementation

    def recorded(join, name):
        def wrapper(part, lines, columns, **kwargs):
            out = join(part, lines, columns, **kwargs)
            if not kwargs.get("keep_keys", True):
                month = pd.Timedelta(days=module._MONTH_DAYS)
                last = part.groupby("campaign_id", observed=True)["contacted_at"].max()
                observed = np.floor((as_of - last) / month).clip(lower=0, upper=12)
                elapsed = (out["order_datetime"] - out["contacted_at"]) / month
                horizon = out["campaign_id"].astype("str").map(observed.rename(index=str)).astype(float)
                counted[name] = out.loc[(elapsed >= 0) & (elapsed < horizon)].reset_index(drop=True)
            return out

        return wrapper

    def one_join(part, lines, columns, *, start, stop, keep_keys=True):
        hi = stop.max() if keep_keys else as_of  # as the figures were taken: the payback's lines up to as_of
        window = lines.loc[(lines["order_datetime"] >= start.min()) & (lines["order_datetime"] < hi)]
        return merge_on_ids(part, window[columns], on=["customer_id"], keep_keys=keep_keys)

    monkeypatch.setattr(module, "_joined_by_campaign", recorded(module._joined_by_campaign, "by campaign"))
    got = campaign_roi(camp, contacts, tx, as_of=as_of, margin=0.4)
    monkeypatch.setattr(module, "_joined_by_campaign", recorded(one_join, "one join"))
    expected = campaign_roi(camp, contacts, tx, as_of=as_of, margin=0.4)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got["payback"].nunique() > 1 and (got["attributed_revenue"] > 0).sum() >= 4
    # the lines each campaign's payback months add up: the same, campaign by campaign, in the same order
    by_campaign, one = (counted[k].sort_values("campaign_id", kind="stable") for k in ("by campaign", "one join"))
    assert len(one) > 100
    pd.testing.assert_frame_equal(by_campaign.reset_index(drop=True), one.reset_index(drop=True), check_exact=True)
