"""Tests for crmtools.kpis: period KPIs with comparisons, and the monthly trend."""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from crmtools.kpis import KPI_COLUMNS, KPI_NAMES, monthly_trend, period_kpis
from crmtools.periods import parse_period
from crmtools.plotting.kpis import plot_trend
from crmtools.sampledata import SampleConfig, generate_sample


@pytest.fixture
def tiny(make_transactions):
    return make_transactions(
        [
            ("A0", "a", "2024-09-01", 1, 500.0),  # the data starts on 2024-09-01
            ("A1", "a", "2024-10-05", 1, 800.0),
            ("A2", "a", "2025-09-20", 1, 1000.0),
            ("A3", "a", "2025-10-03", 1, 700.0),
            ("A3", "a", "2025-10-03", 1, 500.0),
            ("AR", "a", "2025-10-15", -1, -200.0),
            ("B1", "b", "2025-10-20", 3, 3000.0),
            ("C1", "c", "2025-08-05", 1, 400.0),
            ("C2", "c", "2025-09-05", 1, 600.0),
            ("D1", "d", "2024-10-25", 1, 900.0),
            ("G1", None, "2025-10-21", 1, 800.0),
            ("G0", None, "2024-10-01", 1, 100.0),
        ]
    )


def _table(out, column):
    return out.set_index("kpi")[column].to_dict()


def test_known_answer_month(tiny):
    out = period_kpis(tiny, period="2025-10")
    assert out.columns.tolist() == KPI_COLUMNS and out["kpi"].tolist() == KPI_NAMES
    assert set(out["period"]) == {"2025-10"}
    assert _table(out, "value") == {
        "revenue": 4800.0,
        "orders": 3.0,
        "active_customers": 2.0,
        "new_customers": 1.0,
        "returning_customers": 1.0,
        "average_order_value": 1600.0,
        "purchase_frequency": 1.0,
        "retention_rate": 0.5,
        "churn_rate": 0.5,
    }
    assert _table(out, "previous") == {
        "revenue": 1600.0,
        "orders": 2.0,
        "active_customers": 2.0,
        "new_customers": 0.0,
        "returning_customers": 2.0,
        "average_order_value": 800.0,
        "purchase_frequency": 1.0,
        "retention_rate": 1.0,
        "churn_rate": 0.0,
    }
    assert _table(out, "year_ago") == {
        "revenue": 1800.0,
        "orders": 3.0,
        "active_customers": 2.0,
        "new_customers": 1.0,
        "returning_customers": 1.0,
        "average_order_value": 600.0,
        "purchase_frequency": 1.0,
        "retention_rate": 1.0,
        "churn_rate": 0.0,
    }
    revenue = out.set_index("kpi").loc["revenue"]
    assert revenue["change_vs_previous"] == 3200.0 and revenue["pct_change_vs_previous"] == 2.0
    assert revenue["change_vs_year_ago"] == 3000.0
    assert revenue["pct_change_vs_year_ago"] == pytest.approx(3000.0 / 1800.0)
    retention = out.set_index("kpi").loc["retention_rate"]
    assert retention["change_vs_previous"] == -0.5 and retention["pct_change_vs_previous"] == -0.5


def test_known_answer_quarter(tiny):
    out = period_kpis(tiny, period=parse_period("2025-Q3"))
    value, previous, year_ago = _table(out, "value"), _table(out, "previous"), _table(out, "year_ago")
    assert (value["revenue"], value["orders"], value["active_customers"], value["new_customers"]) == (
        2000.0,
        3.0,
        2.0,
        1.0,
    )
    assert (previous["revenue"], previous["orders"], previous["active_customers"]) == (0.0, 0.0, 0.0)
    assert math.isnan(previous["average_order_value"]) and math.isnan(value["retention_rate"])
    # 2024-Q3 starts before the data (2024-09-01): one month of it is no quarter to compare with
    assert all(math.isnan(v) for v in year_ago.values())
    assert set(out["year_ago_status"]) == {"before_data"} and out["pct_change_vs_year_ago"].isna().all()


def test_comparison_before_the_data_is_missing_not_zero(tiny):
    out = period_kpis(tiny, period="2024-10")
    assert out["year_ago"].isna().all() and out["pct_change_vs_year_ago"].isna().all()
    assert _table(out, "previous")["revenue"] == 500.0


def test_empty_period_inside_the_data(tiny):
    out = _table(period_kpis(tiny, period="2025-06"), "value")
    assert (out["revenue"], out["orders"], out["active_customers"]) == (0.0, 0.0, 0.0)
    assert math.isnan(out["average_order_value"]) and math.isnan(out["purchase_frequency"])
    assert math.isnan(out["retention_rate"])


def test_period_like_objects_are_accepted(tiny):
    pd.testing.assert_frame_equal(
        period_kpis(tiny, period=parse_period("2025-10")), period_kpis(tiny, period="2025-10")
    )
    with pytest.raises(TypeError, match="period must be a Period"):
        period_kpis(tiny, period=202510)
    with pytest.raises(ValueError, match="Malformed period"):
        period_kpis(tiny, period="2025-13")


def test_monthly_trend_known_answer(tiny):
    out = monthly_trend(tiny, period="2025-10", months=3)
    assert out.to_dict("list") == {
        "month": ["2025-08", "2025-09", "2025-10"],
        "revenue": [400.0, 1600.0, 4800.0],
        "orders": [1, 2, 3],
        "active_customers": [1, 2, 2],
        "average_order_value": [400.0, 800.0, 1600.0],
    }
    thirteen = monthly_trend(tiny, period=parse_period("2025-10"))
    assert thirteen["month"].tolist()[0] == "2024-10" and len(thirteen) == 13
    assert thirteen.set_index("month").loc["2025-06", "orders"] == 0
    quarter = monthly_trend(tiny, period="2025-Q3", months=3)  # ends with the quarter's last month
    assert quarter["month"].tolist() == ["2025-07", "2025-08", "2025-09"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"period": "2025-11-15"}, "Malformed period"),
        ({"period": "2025-10", "months": 0}, "months is out of range; allowed: a whole number >= 1; received: 0"),
    ],
)
def test_monthly_trend_bad_arguments(tiny, kwargs, match):
    with pytest.raises(ValueError, match=match):
        monthly_trend(tiny, **kwargs)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    lines=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", None]), st.integers(0, 420), st.integers(0, 5), st.sampled_from([1, 2, -1])
        ),
        min_size=1,
        max_size=30,
    ),
    seed=st.integers(0, 2**16),
)
def test_properties(make_transactions, lines, seed):
    end = pd.Timestamp("2025-11-01")
    tx = make_transactions(
        [(f"{c}{o}{d}", c, end - pd.Timedelta(days=d, hours=1), q, q * 100.0) for c, d, o, q in lines]
    )
    out = period_kpis(tx, period="2025-10")
    value = _table(out, "value")
    status = _table(out, "value_status")
    first_day = tx["order_datetime"].min()
    # New customers are unknown exactly when the data starts inside the period (left-censored)
    assert (status["new_customers"] == "left_censored") == (first_day >= pd.Timestamp("2025-10-01"))
    if not math.isnan(value["revenue"]) and status["new_customers"] == "ok":
        assert value["new_customers"] + value["returning_customers"] == value["active_customers"]
        assert value["new_customers"] <= value["active_customers"]
        if not math.isnan(value["retention_rate"]):
            assert 0 <= value["retention_rate"] <= 1
            assert value["retention_rate"] + value["churn_rate"] == pytest.approx(1.0)
    trend = monthly_trend(tx, period="2025-10", months=2)
    october = trend.set_index("month").loc["2025-10"]
    if not math.isnan(value["revenue"]):
        assert october["revenue"] == value["revenue"] and october["orders"] == value["orders"]
    shuffled = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(period_kpis(shuffled, period="2025-10"), out)
    pd.testing.assert_frame_equal(monthly_trend(shuffled, period="2025-10", months=2), trend)


@pytest.fixture(scope="module")
def sample():
    tables, truths = generate_sample(SampleConfig(customers=3000, months=24, seed=5))
    return tables["transactions"], truths


def test_cross_check_against_plain_pandas(sample):
    tx, _ = sample
    start, end = pd.Timestamp("2025-11-01"), pd.Timestamp("2025-12-01")
    prev_start = pd.Timestamp("2025-10-01")
    inside = tx[(tx["order_datetime"] >= start) & (tx["order_datetime"] < end)]
    buys = inside[inside["quantity"] > 0]
    active = set(buys["customer_id"].dropna())
    prev = tx[(tx["order_datetime"] >= prev_start) & (tx["order_datetime"] < start) & (tx["quantity"] > 0)]
    prev_active = set(prev["customer_id"].dropna())
    first = tx[tx["quantity"] > 0].groupby("customer_id")["order_datetime"].min()
    new = {c for c in active if start <= first[c] < end}
    expected = {
        "revenue": round(inside["amount"].sum(), 2),
        "orders": buys["order_id"].nunique(),
        "active_customers": len(active),
        "new_customers": len(new),
        "retention_rate": len(active & prev_active) / len(prev_active),
        "purchase_frequency": buys.dropna(subset=["customer_id"])["order_id"].nunique() / len(active),
    }
    value = _table(period_kpis(tx, period="2025-11"), "value")
    for name, number in expected.items():
        assert value[name] == pytest.approx(number, abs=1e-9), name
    assert len(active) > 300


def test_planted_december_peak(sample):
    tx, truths = sample
    trend = monthly_trend(tx, period="2025-12", months=12)
    assert trend.loc[trend["revenue"].idxmax(), "month"] == "2025-12"
    assert truths["peak_month"] == 12
    december = _table(period_kpis(tx, period="2025-12"), "pct_change_vs_previous")
    assert december["revenue"] > 0.3 and december["orders"] > 0.3


def test_engines_give_identical_results(sample):
    tx, _ = sample
    native = tx.drop(columns=["campaign_id"])
    for data in (pl.from_pandas(native), duckdb.from_df(native)):
        pd.testing.assert_frame_equal(period_kpis(data, period="2025-09"), period_kpis(tx, period="2025-09"))
        pd.testing.assert_frame_equal(monthly_trend(data, period="2025-09"), monthly_trend(tx, period="2025-09"))


def test_input_is_not_mutated(sample):
    tx, _ = sample
    before = tx.copy(deep=True)
    period_kpis(tx, period="2025-Q2")
    monthly_trend(tx, period="2025-06")
    pd.testing.assert_frame_equal(tx, before)


def test_missing_amounts_are_an_error(tiny):
    tiny.loc[2, "amount"] = np.nan
    with pytest.raises(ValueError, match="1 line in 2025-10 or its comparison periods has no 'amount'"):
        period_kpis(tiny, period="2025-10")
    with pytest.raises(ValueError, match="has no 'amount'"):
        monthly_trend(tiny, period="2025-10")


def test_no_data_at_all(make_transactions):
    empty = make_transactions([])
    out = period_kpis(empty, period="2025-10")
    assert out["value"].isna().all() and len(out) == len(KPI_NAMES)
    trend = monthly_trend(empty, period="2025-10", months=2)
    assert trend.empty and trend.columns.tolist() == [
        "month",
        "revenue",
        "orders",
        "active_customers",
        "average_order_value",
    ]  # unknown months are not zeros


def test_trend_plot_draws_on_the_given_axes(tiny):
    ax = Figure().subplots()
    assert plot_trend(monthly_trend(tiny, period="2025-10"), language="ja", ax=ax) is ax
    assert ax.get_ylabel() == "売上" and len(ax.lines) == 1
    with pytest.raises(ValueError, match="value must be"):
        plot_trend(monthly_trend(tiny, period="2025-10"), value="profit", ax=Figure().subplots())


def test_edges_of_the_data(make_transactions):
    # The data starts on 2024-12-01 (like Online Retail on 2010-12-01): who was new in December is unknown.
    tx = make_transactions(
        [
            ("O1", "a", "2024-12-01 08:26", 1, 100.0),
            ("O2", "b", "2024-12-05", 1, 200.0),
            ("O3", "a", "2025-01-10", 1, 300.0),
            ("O4", "c", "2025-12-03", 1, 50.0),
            ("O5", "a", "2025-12-04", 1, 70.0),
        ]
    )
    december = period_kpis(tx, period="2025-12").set_index("kpi")
    # a year ago is the first month: revenue is comparable, new and returning customers are not
    assert december.loc["revenue", "year_ago"] == 300.0 and december.loc["revenue", "year_ago_status"] == "ok"
    for name in ("new_customers", "returning_customers"):
        assert math.isnan(december.loc[name, "year_ago"]) and december.loc[name, "year_ago_status"] == "left_censored"
        assert math.isnan(december.loc[name, "pct_change_vs_year_ago"])
    assert december.loc["new_customers", "value"] == 1.0 and december.loc["new_customers", "value_status"] == "ok"
    first = period_kpis(tx, period="2024-12").set_index("kpi")
    assert (
        math.isnan(first.loc["new_customers", "value"])
        and first.loc["new_customers", "value_status"] == "left_censored"
    )
    assert first.loc["revenue", "value"] == 300.0 and (first["previous_status"] == "before_data").all()
    january = period_kpis(tx, period="2025-01").set_index("kpi")
    assert january.loc["retention_rate", "value"] == 0.5  # December is covered whole: a and b, a came back
    assert january.loc["new_customers", "value"] == 0.0
    # a quarter that starts before the data is no comparison, even though it holds data
    quarter = period_kpis(tx, period="2025-Q4").set_index("kpi")
    assert (quarter["year_ago_status"] == "before_data").all() and quarter["year_ago"].isna().all()


def test_trend_shows_only_months_the_data_covers(make_transactions):
    tx = make_transactions([("O1", "a", "2024-12-01 08:26", 1, 100.0), ("O2", "a", "2025-02-10", 1, 50.0)])
    trend = monthly_trend(tx, period="2025-02", months=13)
    assert trend["month"].tolist() == ["2024-12", "2025-01", "2025-02"]  # not 2024-02 .. 2024-11 as zeros
    assert trend["revenue"].tolist() == [100.0, 0.0, 50.0]
    before = monthly_trend(tx, period="2024-11", months=13)
    assert before.empty and before.columns.tolist() == monthly_trend(tx, period="2025-02").columns.tolist()


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "online_retail.parquet").exists(), reason="needs ../shared/data (real data sets)")
def test_online_retail_starts_on_2010_12_01():
    raw = pd.read_parquet(SHARED / "online_retail.parquet")
    customer = raw["CustomerID"].astype("Int64").astype("str").where(raw["CustomerID"].notna())
    tx = pd.DataFrame(
        {
            "order_id": raw["InvoiceNo"].astype("str"),
            "customer_id": customer,
            "order_datetime": pd.to_datetime(raw["InvoiceDate"]),
            "quantity": raw["Quantity"].astype("int64"),
            "amount": (raw["Quantity"] * raw["UnitPrice"]).astype("float64"),
        }
    )
    trend = monthly_trend(tx, period="2011-11")
    assert trend["month"].iloc[0] == "2010-12" and len(trend) == 12  # no £0 for 2010-11
    november = period_kpis(tx, period="2011-11")
    assert set(november["year_ago_status"]) == {"before_data"} and november["year_ago"].isna().all()
    december = period_kpis(tx, period="2010-12").set_index("kpi")
    assert december.loc["new_customers", "value_status"] == "left_censored"  # 885 "new" are everybody
    assert december.loc["revenue", "value"] > 0
