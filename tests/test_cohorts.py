"""Tests for crmtools.cohorts: known answers, first purchase over all history, properties, engines."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from crmtools.cohorts import COHORT_COLUMNS, cohort_matrix, cohort_revenue, cohort_table
from crmtools.plotting.cohorts import plot_cohort_heatmap
from crmtools.sampledata import SampleConfig, generate_sample

AS_OF = pd.Timestamp("2025-05-01")
LINE = ("customer_id", "order_datetime", "quantity", "amount")  # the columns cohorts need


@pytest.fixture
def tiny(make_transactions):
    return make_transactions(
        [
            ("a", "2025-01-05", 1, 1000.0),
            ("a", "2025-03-02", 1, 500.0),
            ("a", "2025-03-20", 1, 300.0),
            ("a", "2025-04-11", -1, -200.0),
            ("b", "2025-01-20", 2, 2000.0),
            ("c", "2024-12-15", 1, 700.0),
            ("c", "2025-02-10", 1, 900.0),
            ("d", "2024-11-03", -1, -50.0),
            ("d", "2025-02-01 00:00", 1, 400.0),
            (None, "2025-02-14", 1, 123.0),
            ("f", "2025-05-01 00:00", 1, 999.0),
        ],
        columns=LINE,
    )


def test_known_answer(tiny):
    out = cohort_table(tiny, as_of=AS_OF)
    assert out.columns.tolist() == COHORT_COLUMNS
    assert list(zip(out["cohort"], out["months_since"])) == [
        ("2024-12", 0),
        ("2024-12", 1),
        ("2024-12", 2),
        ("2024-12", 3),
        ("2024-12", 4),
        ("2025-01", 0),
        ("2025-01", 1),
        ("2025-01", 2),
        ("2025-01", 3),
        ("2025-02", 0),
        ("2025-02", 1),
        ("2025-02", 2),
    ]
    assert out["customers"].tolist() == [1] * 5 + [2] * 4 + [1] * 3
    assert out["active"].tolist() == [1, 0, 1, 0, 0, 2, 0, 1, 0, 1, 0, 0]
    assert out["retention"].tolist() == [1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.5, 0.0, 1.0, 0.0, 0.0]
    assert out["revenue"].tolist() == [700.0, 0.0, 900.0, 0.0, 0.0, 3000.0, 0.0, 800.0, -200.0, 400.0, 0.0, 0.0]
    assert out["revenue_per_customer"].tolist()[5:9] == [1500.0, 0.0, 400.0, -100.0]
    assert out["cumulative_revenue_per_customer"].tolist() == [
        700.0,
        700.0,
        1600.0,
        1600.0,
        1600.0,
        1500.0,
        1500.0,
        1900.0,
        1800.0,
        400.0,
        400.0,
        400.0,
    ]


def test_first_purchase_is_over_all_history(tiny):
    out = cohort_table(tiny, as_of=AS_OF, lookback_months=4)  # cohorts 2025-01 to 2025-04
    assert sorted(set(out["cohort"])) == ["2025-01", "2025-02"]
    # c bought in February 2025 but first bought in December 2024: not in the February cohort
    assert out.loc[out["cohort"] == "2025-02", "customers"].unique().tolist() == [1]


def test_max_months(tiny):
    out = cohort_table(tiny, as_of=AS_OF, max_months=1)
    assert out["months_since"].max() == 1 and len(out) == 6


def test_partial_last_month(tiny):
    out = cohort_table(tiny, as_of="2025-04-11 12:00")  # a's April return is included
    assert out[(out["cohort"] == "2025-01") & (out["months_since"] == 3)]["revenue"].tolist() == [-200.0]
    early = cohort_table(tiny, as_of="2025-04-11 00:00")
    assert early[(early["cohort"] == "2025-01") & (early["months_since"] == 3)]["revenue"].tolist() == [0.0]


def test_matrix_and_revenue_helpers(tiny):
    out = cohort_table(tiny, as_of=AS_OF)
    wide = cohort_matrix(out)
    assert wide.index.tolist() == ["2024-12", "2025-01", "2025-02"]
    assert wide.columns.tolist() == [0, 1, 2, 3, 4]
    assert wide.loc["2025-01", 2] == 0.5 and np.isnan(wide.loc["2025-02", 3])
    assert cohort_matrix(out, values="active").loc["2025-01", 0] == 2
    per_cohort = cohort_revenue(out)
    assert per_cohort.to_dict("list") == {
        "cohort": ["2024-12", "2025-01", "2025-02"],
        "customers": [1, 2, 1],
        "months": [5, 4, 3],
        "revenue": [1600.0, 3600.0, 400.0],
        "revenue_per_customer": [1600.0, 1800.0, 400.0],
        "left_censored": [False, False, False],  # the data starts in 2024-11 with a return: no cohort there
    }
    with pytest.raises(ValueError, match="Unknown values; allowed: 'customers', 'active', "):
        cohort_matrix(out, values="cohort")
    with pytest.raises(ValueError, match=r"cohorts is missing column 'retention'; .* Pass the output of cohort_table"):
        cohort_matrix(out.drop(columns="retention"))
    with pytest.raises(ValueError, match="cohorts is missing column 'revenue'"):
        cohort_revenue(out.drop(columns="revenue"))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    lines=st.lists(
        st.tuples(st.sampled_from("abcdefg"), st.integers(0, 200), st.sampled_from([1, 1, 2, -1]), st.integers(1, 30)),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**16),
)
def test_properties(make_transactions, lines, seed):
    tx = make_transactions(
        [(c, AS_OF - pd.Timedelta(days=d, hours=5), q, q * p * 100.0) for c, d, q, p in lines], columns=LINE
    )
    out = cohort_table(tx, as_of=AS_OF)
    buyers = tx.loc[tx["quantity"] > 0, "customer_id"].nunique()
    assert out.loc[out["months_since"] == 0, "customers"].sum() == buyers
    assert (out.loc[out["months_since"] == 0, "retention"] == 1.0).all()
    assert out["retention"].between(0, 1).all()
    assert (out["active"] <= out["customers"]).all()
    shuffled = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(cohort_table(shuffled, as_of=AS_OF), out)


@pytest.fixture(scope="module")
def sample():
    tables, _truths = generate_sample(SampleConfig(customers=3000, months=24, seed=5))
    return tables["transactions"]


def test_cross_check_against_plain_pandas(sample):
    as_of = pd.Timestamp("2026-01-01")
    tx = sample[sample["customer_id"].notna() & (sample["order_datetime"] < as_of)]
    month = tx["order_datetime"].dt.year * 12 + tx["order_datetime"].dt.month - 1
    first = month[tx["quantity"] > 0].groupby(tx["customer_id"]).min()
    since = month - tx["customer_id"].map(first)
    buys = tx[tx["quantity"] > 0].assign(since=since, cohort=tx["customer_id"].map(first))
    active = buys.groupby(["cohort", "since"])["customer_id"].nunique()
    revenue = tx.assign(since=since, cohort=tx["customer_id"].map(first)).groupby(["cohort", "since"])["amount"].sum()
    ours = cohort_table(sample, as_of=as_of)
    ours_key = ours.assign(
        key=ours["cohort"].str.slice(0, 4).astype(int) * 12 + ours["cohort"].str.slice(5).astype(int) - 1
    ).set_index(["key", "months_since"])
    observed = ours_key.loc[ours_key["active"] > 0, "active"]
    assert observed.to_dict() == active.to_dict()
    np.testing.assert_allclose(ours_key.loc[revenue.index, "revenue"], revenue.round(2), atol=0.005)
    assert ours.loc[ours["months_since"] == 0, "customers"].sum() == first.size


def test_planted_dropout_shape(sample):
    # Buy-till-you-die with per-customer dropout: retention falls steeply after the first month and keeps falling.
    out = cohort_table(sample, as_of="2026-01-01")
    weighted = out.groupby("months_since")[["active", "customers"]].sum()
    retention = weighted["active"] / weighted["customers"]
    assert retention.loc[0] == 1.0
    assert retention.loc[1] < 0.5
    assert retention.loc[1] > retention.loc[6] > retention.loc[12] > retention.loc[20]


def test_engines_give_identical_results(sample):
    native = sample.drop(columns=["campaign_id"])
    expected = cohort_table(sample, as_of="2025-10-01", lookback_months=16)  # cohorts 2024-06 to 2025-09
    assert expected["cohort"].iloc[0] == "2024-06"
    for data in (pl.from_pandas(native), duckdb.from_df(native)):
        pd.testing.assert_frame_equal(cohort_table(data, as_of="2025-10-01", lookback_months=16), expected)


def test_input_is_not_mutated(sample):
    before = sample.copy(deep=True)
    cohort_table(sample, as_of="2025-10-01", max_months=6)
    pd.testing.assert_frame_equal(sample, before)


def test_empty_and_bad_input(tiny, make_transactions):
    empty = cohort_table(tiny, as_of="2020-01-01")
    assert empty.empty and empty.columns.tolist() == COHORT_COLUMNS
    assert empty["months_since"].dtype == "int64"
    one = cohort_table(make_transactions([("z", "2025-03-03", 1, 10.0)], columns=LINE), as_of=AS_OF)
    assert one["active"].tolist() == [1, 0] and one["customers"].tolist() == [1, 1]
    tiny.loc[1, "amount"] = np.nan
    with pytest.raises(ValueError, match="1 line before as_of has no 'amount'"):
        cohort_table(tiny, as_of=AS_OF)
    with pytest.raises(ValueError, match="max_months is out of range; allowed: a whole number >= 0 or None"):
        cohort_table(tiny, as_of=AS_OF, max_months=-1)
    with pytest.raises(TypeError, match="max_months has the wrong type"):
        cohort_table(tiny, as_of=AS_OF, max_months=2.0)
    with pytest.raises(ValueError, match="lookback_months is out of range; allowed: a whole number >= 1 or None"):
        cohort_table(tiny, as_of=AS_OF, lookback_months=0)
    with pytest.raises(ValueError, match="as_of='2025-04' is ambiguous"):
        cohort_table(tiny, as_of="2025-04")


def test_heatmap_draws_on_the_given_axes(tiny):
    ax = Figure().subplots()
    assert plot_cohort_heatmap(cohort_table(tiny, as_of=AS_OF), language="ja", ax=ax) is ax
    assert ax.get_ylabel() == "初回購入月"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2024-12", "2025-01", "2025-02"]


def test_first_month_of_data_is_left_censored(make_transactions):
    tx = make_transactions(
        [("a", "2024-12-01 08:26", 1, 10.0), ("b", "2025-01-03", 1, 20.0), ("a", "2025-02-03", 1, 5.0)], columns=LINE
    )
    out = cohort_table(tx, as_of="2025-03-01")
    flags = out.groupby("cohort")["left_censored"].first().to_dict()
    assert flags == {"2024-12": True, "2025-01": False}  # a may have bought before the data starts
    assert cohort_revenue(out).set_index("cohort")["left_censored"].to_dict() == flags
    shown = cohort_table(tx, as_of="2025-03-01", lookback_months=1)  # only February: no cohort at all
    assert shown.empty and shown.columns.tolist() == COHORT_COLUMNS and shown["left_censored"].dtype == bool


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "CDNOW_master.txt").exists(), reason="needs ../shared/data (real data sets)")
def test_cdnow_1998_03_has_no_cohort_and_the_heatmap_says_so():
    from matplotlib.figure import Figure

    from crmtools.plotting._empty import is_empty_note
    from crmtools.plotting.cohorts import plot_cohort_heatmap
    from crmtools.repeat import f2_cohorts

    raw = pd.read_csv(SHARED / "CDNOW_master.txt", sep=r"\s+", dtype={"customer_id": "str", "date": "str"})
    tx = pd.DataFrame(
        {
            "order_id": raw["customer_id"]
            + "-"
            + raw["date"]
            + "-"
            + raw.groupby(["customer_id", "date"]).cumcount().astype("str"),
            "customer_id": raw["customer_id"],
            "order_datetime": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "quantity": raw["number_of_cds"].astype("int64"),
            "amount": raw["dollar_value"].astype("float64"),
        }
    )
    recent = cohort_table(tx, as_of="1998-04-01", lookback_months=12, max_months=12)
    assert recent.empty  # every CDNOW customer first bought in 1997-Q1: this withheld the whole report
    ax = plot_cohort_heatmap(recent, ax=Figure().subplots())
    assert is_empty_note(ax)
    marks = f2_cohorts(tx, as_of="1998-04-01", within_days=90, lookback_months=24).set_index("cohort")["left_censored"]
    assert marks.to_dict() == {"1997-01": True, "1997-02": False, "1997-03": False}
