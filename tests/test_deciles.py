"""Tests for crmtools.deciles: known answers, ties, properties, engines, bad input."""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from crmtools.deciles import Concentration, concentration, customer_revenue, decile_table, pareto_curve
from crmtools.plotting.deciles import plot_deciles, plot_pareto_curve
from crmtools.sampledata import SampleConfig, generate_sample

OCTOBER = "2025-10"  # [2025-10-01, 2025-11-01)


LINE = ("customer_id", "order_datetime", "quantity", "amount")  # the columns deciles need


@pytest.fixture(scope="session")
def spend(make_transactions):
    """``spend(amounts, day=...)``: one purchase per customer c00, c01, ... of the given amounts."""

    def build(amounts, day="2025-10-15"):
        return make_transactions([(f"c{i:02d}", day, 1, float(a)) for i, a in enumerate(amounts)], columns=LINE)

    return build


# ----------------------------------------------------------------------------- known answers


def test_twenty_customers_known_answer(spend):
    tx = spend([1000 * (i + 1) for i in range(20)])  # 1,000 .. 20,000; total 210,000
    out = decile_table(tx, period=OCTOBER)
    assert out.columns.tolist() == [
        "decile",
        "customers",
        "revenue",
        "revenue_share",
        "cumulative_share",
        "avg_revenue",
        "min_revenue",
        "max_revenue",
    ]
    assert out["decile"].tolist() == list(range(1, 11))
    assert out["customers"].tolist() == [2] * 10
    assert out["revenue"].tolist() == [39000.0 - 4000.0 * k for k in range(10)]
    assert out["avg_revenue"].tolist() == [19500.0 - 2000.0 * k for k in range(10)]
    assert out["min_revenue"].tolist()[0] == 19000.0 and out["max_revenue"].tolist()[-1] == 2000.0
    np.testing.assert_allclose(out["revenue_share"], out["revenue"] / 210000.0)
    assert out["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    assert out["cumulative_share"].iloc[2] == pytest.approx(105000 / 210000)


def test_unequal_group_sizes_put_larger_groups_first(spend):
    out = decile_table(spend(range(1, 24)), period=OCTOBER)  # 23 customers
    sizes = out["customers"].tolist()
    assert sum(sizes) == 23 and max(sizes) - min(sizes) <= 1
    # customer k (0-based, by revenue desc) is in decile 1 + floor(10k/23)
    expected = pd.Series([1 + (10 * k) // 23 for k in range(23)]).value_counts().sort_index()
    assert sizes == expected.tolist()


def test_ties_are_broken_by_customer_id(make_transactions):
    tx = make_transactions(
        [
            ("b", "2025-10-02", 1, 500.0),
            ("a", "2025-10-03", 1, 500.0),
            ("c", "2025-10-04", 1, 900.0),
            ("d", "2025-10-05", 1, 500.0),
        ],
        columns=LINE,
    )
    out = customer_revenue(tx, period=OCTOBER)
    assert out["customer_id"].tolist() == ["c", "a", "b", "d"]
    assert out["rank"].tolist() == [1, 2, 3, 4]
    assert out["decile"].tolist() == [1, 3, 6, 8]


def test_returns_guests_and_period_bounds(make_transactions):
    tx = make_transactions(
        [
            ("a", "2025-10-01 00:00", 1, 1000.0),  # first instant: counted
            ("a", "2025-10-20", -1, -400.0),  # return: subtracts
            ("b", "2025-10-31 23:59:59", 2, 300.0),  # last second: counted
            ("b", "2025-11-01 00:00", 1, 9999.0),  # end is exclusive
            ("c", "2025-10-10", -1, -100.0),  # return only: not a customer of the period
            (None, "2025-10-10", 1, 7777.0),  # guest: not a customer
        ],
        columns=LINE,
    )
    out = customer_revenue(tx, period=OCTOBER)
    assert out.set_index("customer_id")["revenue"].to_dict() == {"a": 600.0, "b": 300.0}


def test_concentration_known_answers(spend):
    result = concentration(spend([100, 100, 100, 700]), period=OCTOBER)
    assert result == Concentration(customers=4, revenue=1000.0, top10_share=0.7, top20_share=0.7, gini=0.45)
    equal = concentration(spend([250] * 8), period=OCTOBER)
    assert equal.gini == pytest.approx(0.0, abs=1e-12)
    assert equal.top10_share == 0.125  # ceil(8 / 10) = 1 customer of 8
    assert equal.top20_share == 0.25  # ceil(8 / 5) = 2 customers
    one_has_all = concentration(spend([0, 0, 0, 100]), period=OCTOBER)
    assert one_has_all.gini == pytest.approx(0.75)
    ten = concentration(spend([1000 * (i + 1) for i in range(10)]), period=OCTOBER)
    assert ten.top10_share == pytest.approx(10000 / 55000)
    assert ten.top20_share == pytest.approx(19000 / 55000)


def test_gini_matches_mean_absolute_difference_formula(spend):
    rng = np.random.default_rng(3)
    amounts = np.round(rng.lognormal(8, 1, 200), 0)
    result = concentration(spend(amounts), period=OCTOBER)
    x = amounts
    expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert result.gini == pytest.approx(expected, rel=1e-9)


def test_pareto_curve_known_answer(spend):
    curve = pareto_curve(spend([100, 100, 100, 700]), period=OCTOBER, points=4)
    assert curve.to_dict("list") == {
        "customers": [0, 1, 2, 3, 4],
        "customer_share": [0.0, 0.25, 0.5, 0.75, 1.0],
        "revenue": [0.0, 700.0, 800.0, 900.0, 1000.0],
        "revenue_share": [0.0, 0.7, 0.8, 0.9, 1.0],
    }
    coarse = pareto_curve(spend(range(1, 11)), period=OCTOBER, points=2)
    assert coarse["customers"].tolist() == [0, 5, 10]
    assert coarse["revenue"].tolist() == [0.0, 40.0, 55.0]


def test_periods_are_accepted(spend):
    from crmtools.periods import parse_period

    tx = spend([100, 200, 300])
    october = parse_period("2025-10")
    pd.testing.assert_frame_equal(decile_table(tx, period=october), decile_table(tx, period=OCTOBER))
    q4 = decile_table(tx, period="2025-Q4")  # the whole quarter
    pd.testing.assert_frame_equal(q4, decile_table(tx, period=parse_period("2025-Q4")))


# ----------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    amounts=st.lists(st.integers(-5, 200).map(lambda v: v * 50.0), min_size=1, max_size=60),
    n_groups=st.sampled_from([10, 5, 3]),
    seed=st.integers(0, 2**16),
)
def test_properties_shares_membership_and_row_order(make_transactions, amounts, n_groups, seed):
    # every customer also buys something so that all are counted; some net out negative
    rows = []
    for i, amount in enumerate(amounts):
        rows.append((f"c{i:03d}", "2025-10-05", 1, 100.0))
        rows.append((f"c{i:03d}", "2025-10-06", 1 if amount >= 0 else -1, amount))
    tx = make_transactions(rows, columns=LINE)
    table = decile_table(tx, period=OCTOBER, n_groups=n_groups)
    per_customer = customer_revenue(tx, period=OCTOBER)
    assert table["customers"].sum() == len(amounts) == per_customer["customer_id"].nunique()
    assert table["revenue"].sum() == pytest.approx(per_customer["revenue"].sum())
    total = per_customer["revenue"].sum()
    if total != 0:
        assert table["revenue_share"].sum() == pytest.approx(1.0)
        assert table["cumulative_share"].iloc[-1] == pytest.approx(1.0)
    sizes = table["customers"]
    if len(amounts) >= n_groups:
        assert len(table) == n_groups and sizes.max() - sizes.min() <= 1
    # deciles are ordered by revenue: everybody in decile k spends at least everybody in decile k+1
    assert (table["min_revenue"].iloc[:-1].to_numpy() >= table["max_revenue"].iloc[1:].to_numpy()).all()
    shuffled = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(decile_table(shuffled, period=OCTOBER, n_groups=n_groups), table)
    pd.testing.assert_frame_equal(customer_revenue(shuffled, period=OCTOBER), per_customer)


# ----------------------------------------------------------------------------- cross-check and engines


@pytest.fixture(scope="module")
def sample():
    tables, _ = generate_sample(SampleConfig(customers=3000, months=24, seed=5))
    return tables["transactions"]


def test_cross_check_against_plain_pandas(sample):
    start, end = pd.Timestamp("2025-10-01"), pd.Timestamp("2026-01-01")  # 2025-Q4
    w = sample[sample["customer_id"].notna() & (sample["order_datetime"] >= start) & (sample["order_datetime"] < end)]
    buyers = w.loc[w["quantity"] > 0, "customer_id"].unique()
    revenue = w.groupby("customer_id")["amount"].sum().loc[sorted(buyers)].round(2)
    ranked = revenue.reset_index().sort_values(["amount", "customer_id"], ascending=[False, True], ignore_index=True)
    n = len(ranked)
    ranked["decile"] = np.arange(n) * 10 // n + 1
    expected = ranked.groupby("decile")["amount"].agg(["size", "sum"])
    ours = decile_table(sample, period="2025-Q4")
    assert n > 1000
    assert ours["customers"].tolist() == expected["size"].tolist()
    np.testing.assert_allclose(ours["revenue"], expected["sum"], atol=0.005)
    np.testing.assert_allclose(ours["revenue_share"], expected["sum"] / expected["sum"].sum(), rtol=1e-12)
    x = np.sort(revenue.to_numpy())
    gini = (2 * np.sum(np.arange(1, n + 1) * x) - (n + 1) * x.sum()) / (n * x.sum())
    assert concentration(sample, period="2025-Q4").gini == pytest.approx(gini, rel=1e-12)


def test_engines_give_identical_results(sample):
    period = "2025-Q2"
    native = sample.drop(columns=["campaign_id"])
    for data in (pl.from_pandas(native), duckdb.from_df(native)):
        pd.testing.assert_frame_equal(decile_table(data, period=period), decile_table(sample, period=period))
        pd.testing.assert_frame_equal(customer_revenue(data, period=period), customer_revenue(sample, period=period))
        pd.testing.assert_frame_equal(pareto_curve(data, period=period), pareto_curve(sample, period=period))
        assert concentration(data, period=period) == concentration(sample, period=period)


def test_input_is_not_mutated(sample):
    before = sample.copy(deep=True)
    decile_table(sample, period="2025-Q4")
    concentration(sample, period="2025-Q4")
    pareto_curve(sample, period="2025-Q4")
    pd.testing.assert_frame_equal(sample, before)


def test_planted_concentration_on_sample(sample):
    # Heavy-tailed spending (gamma purchase rates, log-normal prices): the top decile holds far
    # more than 10% of revenue, and the bottom decile far less.
    table = decile_table(sample, period="2025-Q4")
    assert table["revenue_share"].iloc[0] > 0.25
    assert table["revenue_share"].iloc[-1] < 0.03
    assert table["revenue"].is_monotonic_decreasing


# ----------------------------------------------------------------------------- bad input


def test_empty_period(spend):
    tx = spend([100, 200])
    out = decile_table(tx, period="2020-01")
    assert out.empty and out.columns.tolist()[:6] == [
        "decile",
        "customers",
        "revenue",
        "revenue_share",
        "cumulative_share",
        "avg_revenue",
    ]
    assert out["decile"].dtype == "int64"
    assert pareto_curve(tx, period="2020-01").empty
    empty = concentration(tx, period="2020-01")
    assert empty.customers == 0 and math.isnan(empty.gini)


def test_one_customer_and_all_tied(spend):
    one = decile_table(spend([500]), period=OCTOBER)
    assert one[["decile", "customers", "revenue_share", "cumulative_share"]].values.tolist() == [[1, 1, 1.0, 1.0]]
    tied = customer_revenue(spend([300] * 30), period=OCTOBER)
    assert tied["customer_id"].tolist() == [f"c{i:02d}" for i in range(30)]  # by id
    assert tied.groupby("decile").size().tolist() == [3] * 10
    assert concentration(spend([300] * 30), period=OCTOBER).gini == pytest.approx(0.0, abs=1e-12)


def test_zero_total_revenue_gives_nan_shares(make_transactions):
    tx = make_transactions([("a", "2025-10-02", 1, 0.0), ("b", "2025-10-02", 1, 0.0)], columns=LINE)
    out = decile_table(tx, period=OCTOBER)
    assert out["customers"].sum() == 2 and out["revenue_share"].isna().all()


def test_missing_amounts_are_an_error(spend):
    tx = spend([100, 200, 300])
    tx.loc[1, "amount"] = np.nan
    with pytest.raises(ValueError, match="1 line in the period has no 'amount'"):
        decile_table(tx, period=OCTOBER)
    with pytest.raises(ValueError, match="has no 'amount'"):
        concentration(tx, period=OCTOBER)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"period": "2025-10-01"}, ValueError, "Malformed period '2025-10-01'.*A date names an instant"),
        (
            {"period": OCTOBER, "n_groups": 0},
            ValueError,
            "n_groups is out of range; allowed: a whole number >= 1; received: 0",
        ),
        ({"period": OCTOBER, "n_groups": 2.5}, TypeError, "n_groups has the wrong type"),
        (
            {"period": OCTOBER, "customer_col": "client"},
            ValueError,
            "transactions is missing column 'client'; allowed: ",
        ),
    ],
)
def test_bad_arguments(spend, kwargs, error, match):
    with pytest.raises(error, match=match):
        decile_table(spend([100]), **kwargs)


def test_bad_pareto_points(spend):
    with pytest.raises(ValueError, match="points is out of range; allowed: a whole number >= 1; received: 0"):
        pareto_curve(spend([100]), period=OCTOBER, points=0)


def test_plots_draw_on_the_given_axes(spend):
    tx = spend([1000 * (i + 1) for i in range(20)])
    ax = Figure().subplots()
    assert plot_deciles(decile_table(tx, period=OCTOBER), language="ja", ax=ax) is ax
    assert len(ax.patches) == 10 and ax.get_xlabel().startswith("デシル")
    ax = Figure().subplots()
    assert plot_pareto_curve(pareto_curve(tx, period=OCTOBER), ax=ax) is ax
    assert len(ax.lines) == 2
