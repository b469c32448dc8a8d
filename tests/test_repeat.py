"""Tests for crmtools.repeat: first orders, F2 conversion, intervals, purchase cycles."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from crmtools import repeat
from crmtools.plotting.cohorts import plot_f2_rates, plot_interval_distribution
from crmtools.repeat import f2_conversion, first_purchases, interval_distribution, purchase_cycles
from crmtools.sampledata import SampleConfig, generate_sample

AS_OF = pd.Timestamp("2025-12-01")


LINE = ("order_id", "customer_id", "order_datetime", "quantity", "amount", "channel", "category")


@pytest.fixture
def tiny(make_transactions):
    return make_transactions(
        [
            ("A1", "a", "2025-01-05 10:00", 1, 300.0, "web", "Food"),
            ("A1", "a", "2025-01-05 10:00", 1, 900.0, "web", "Home"),
            ("A2", "a", "2025-01-07 09:00", 1, 100.0, "app", "Food"),
            ("B1", "b", "2025-02-01 12:00", 1, 500.0, "web", "Home"),
            ("B0", "b", "2025-02-01 12:00", 1, 100.0, "phone", "Kitchen"),
            ("B0", "b", "2025-02-01 12:00", 1, 100.0, "phone", "Food"),
            ("C1", "c", "2025-03-01 08:00", 1, 100.0, "web", "Skincare"),
            ("C2", "c", "2025-05-30 22:00", 1, 100.0, "web", "Skincare"),
            ("C3", "c", "2025-06-01 10:00", 1, 100.0, "web", "Skincare"),
            ("D1", "d", "2025-03-01 23:00", 1, 100.0, "app", "Skincare"),
            ("D2", "d", "2025-05-31 01:00", 1, 100.0, "app", "Skincare"),
            ("E1", "e", "2025-09-15 10:00", 1, 100.0, "web", "Food"),
            ("F1", "f", "2025-09-01 10:00", 1, 100.0, "app", "Food"),
            ("G1", "g", "2025-04-10 10:00", 1, 100.0, "catalog", "Home"),
            ("GR", "g", "2025-04-15 10:00", -1, -100.0, "catalog", "Home"),
            ("H1", None, "2025-04-15 10:00", 1, 100.0, "web", "Food"),
            ("I1", "i", "2025-12-01 00:00", 1, 100.0, "web", "Food"),  # at as_of: ignored
        ],
        columns=LINE,
    )


def test_first_purchases_known_answer(tiny):
    out = first_purchases(tiny, as_of=AS_OF).set_index("customer_id")
    assert out.index.tolist() == ["a", "b", "c", "d", "e", "f", "g"]
    assert out["first_order"].to_dict() == {"a": "A1", "b": "B0", "c": "C1", "d": "D1", "e": "E1", "f": "F1", "g": "G1"}
    assert out["acquisition_channel"].to_dict() == {
        "a": "web",
        "b": "phone",
        "c": "web",
        "d": "app",
        "e": "web",
        "f": "app",
        "g": "catalog",
    }
    assert out["first_category"].to_dict() == {
        "a": "Home",
        "b": "Food",
        "c": "Skincare",
        "d": "Skincare",
        "e": "Food",
        "f": "Food",
        "g": "Home",
    }
    assert out["days_to_second"].fillna(-1).to_dict() == {
        "a": 2.0,
        "b": 0.0,
        "c": 90.0,
        "d": 91.0,
        "e": -1,
        "f": -1,
        "g": -1,
    }
    assert out["orders"].to_dict() == {"a": 2, "b": 2, "c": 3, "d": 2, "e": 1, "f": 1, "g": 1}
    assert out.loc["b", "second_purchase"] == pd.Timestamp("2025-02-01 12:00")
    assert pd.isna(out.loc["g", "second_purchase"])


def test_f2_conversion_known_answer(tiny):
    out = f2_conversion(tiny, as_of=AS_OF, within_days=90)
    assert out.columns.tolist() == ["breakdown", "group", "new_customers", "repeaters", "f2_rate"]
    rows = {(b, g): (n, r) for b, g, n, r in out[["breakdown", "group", "new_customers", "repeaters"]].values}
    assert rows == {
        ("overall", "All"): (6, 3),  # e's 90-day window is not over yet
        ("channel", "app"): (2, 0),
        ("channel", "catalog"): (1, 0),
        ("channel", "phone"): (1, 1),
        ("channel", "web"): (2, 2),
        ("category", "Food"): (2, 1),
        ("category", "Home"): (2, 1),
        ("category", "Skincare"): (2, 1),
    }
    assert out["breakdown"].tolist()[:1] == ["overall"] and out["f2_rate"].iloc[0] == 0.5
    # one more day lets d's second order (91 days) count, and e is still not observed
    assert f2_conversion(tiny, as_of=AS_OF, within_days=91)["repeaters"].iloc[0] == 4


def test_f2_acquisition_window_and_customers_table(tiny):
    out = f2_conversion(tiny, as_of=AS_OF, period="2025-Q1")
    assert out.iloc[0][["new_customers", "repeaters"]].tolist() == [4, 3]  # a, b, c, d; d took 91 days
    assert f2_conversion(tiny, as_of=AS_OF, period="2025-02").iloc[0][["new_customers", "repeaters"]].tolist() == [
        1,
        1,
    ]  # b
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "acquisition_channel": ["ads", None, "dm"]})
    channels = f2_conversion(tiny, as_of=AS_OF, customers=customers)
    groups = channels.loc[channels["breakdown"] == "channel", "group"].tolist()
    assert groups == ["ads", "app", "catalog", "dm", "phone"]  # b falls back to its first order's channel


def test_f2_without_channel_or_category_columns(tiny):
    out = f2_conversion(tiny.drop(columns=["channel", "category"]), as_of=AS_OF)
    assert out["breakdown"].tolist() == ["overall"]


def test_interval_distribution_known_answer(tiny):
    out = interval_distribution(tiny, as_of=AS_OF)
    assert out.to_dict("list") == {
        "days": [2, 90, 91],
        "intervals": [2, 1, 1],
        "share": [0.5, 0.25, 0.25],
        "cumulative_share": [0.5, 0.75, 1.0],
    }
    late = interval_distribution(tiny, as_of=AS_OF, lookback_days=184)  # later purchase on or after 2025-05-31
    assert late["days"].tolist() == [2, 91]
    assert interval_distribution(tiny, as_of=AS_OF, lookback_days=183)["days"].tolist() == [2]


def test_purchase_cycles_known_answer(tiny):
    out = purchase_cycles(tiny, as_of=AS_OF)
    assert out.columns.tolist() == [
        "customer_id",
        "purchase_days",
        "first_purchase",
        "last_purchase",
        "avg_interval_days",
        "expected_next_purchase",
        "days_until_next",
    ]
    assert out["customer_id"].tolist() == ["a", "c", "d"]
    assert out["purchase_days"].tolist() == [2, 3, 2]
    assert out["avg_interval_days"].tolist() == [2.0, 46.0, 91.0]
    assert out["expected_next_purchase"].tolist() == [
        pd.Timestamp("2025-01-09"),
        pd.Timestamp("2025-07-17"),
        pd.Timestamp("2025-08-30"),
    ]
    assert out["days_until_next"].tolist() == [-326, -137, -93]
    assert purchase_cycles(tiny, as_of=AS_OF, min_purchase_days=3)["customer_id"].tolist() == ["c"]


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    lines=st.lists(
        st.tuples(st.sampled_from("abcdef"), st.integers(0, 400), st.integers(0, 9)), min_size=1, max_size=30
    ),
    seed=st.integers(0, 2**16),
)
def test_properties(make_transactions, lines, seed):
    tx = make_transactions(
        [(f"{c}{o}{d}", c, AS_OF - pd.Timedelta(days=d, hours=2), 1, 100.0, "web", "Food") for c, d, o in lines],
        columns=LINE,
    )
    f2 = f2_conversion(tx, as_of=AS_OF, within_days=30)
    if len(f2):
        assert f2["repeaters"].le(f2["new_customers"]).all() and f2["f2_rate"].between(0, 1).all()
        overall = f2.iloc[0]
        assert overall["breakdown"] == "overall"
        assert "channel" not in set(f2["breakdown"])  # one channel ("web") is no breakdown
    gaps = interval_distribution(tx, as_of=AS_OF)
    days = tx["order_datetime"].dt.normalize().groupby(tx["customer_id"]).nunique()
    assert gaps["intervals"].sum() == (days - 1).sum()
    assert (gaps["days"] >= 1).all()
    shuffled = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(f2_conversion(shuffled, as_of=AS_OF, within_days=30), f2)
    pd.testing.assert_frame_equal(first_purchases(shuffled, as_of=AS_OF), first_purchases(tx, as_of=AS_OF))
    pd.testing.assert_frame_equal(purchase_cycles(shuffled, as_of=AS_OF), purchase_cycles(tx, as_of=AS_OF))


@pytest.fixture(scope="module")
def sample():
    tables, truths = generate_sample(SampleConfig(customers=3000, months=24, seed=5))
    return tables, truths


def test_cross_check_against_plain_pandas(sample):
    tables, _ = sample
    tx = tables["transactions"]
    as_of = pd.Timestamp("2026-01-01")
    buys = tx[tx["customer_id"].notna() & (tx["quantity"] > 0) & (tx["order_datetime"] < as_of)]
    orders = buys.groupby(["customer_id", "order_id"])["order_datetime"].min().reset_index()
    orders = orders.sort_values(["customer_id", "order_datetime", "order_id"])
    first = orders.groupby("customer_id").nth(0).set_index("customer_id")["order_datetime"]
    second = orders.groupby("customer_id").nth(1).set_index("customer_id")["order_datetime"]
    eligible = first[first.dt.normalize() + pd.Timedelta(days=90) < as_of.normalize()]
    days = (second.reindex(eligible.index).dt.normalize() - eligible.dt.normalize()).dt.days
    repeaters = int((days <= 90).sum())
    out = f2_conversion(tx, as_of=as_of, within_days=90)
    assert out.iloc[0][["new_customers", "repeaters"]].tolist() == [len(eligible), repeaters]
    assert len(eligible) > 2000


def test_planted_app_customers_repeat_most(sample):
    tables, truths = sample
    out = f2_conversion(tables["transactions"], as_of="2026-01-01", customers=tables["customers"])
    rates = out[out["breakdown"] == "channel"].set_index("group")["f2_rate"]
    multipliers = truths["channel_rate_multiplier"]
    assert rates.idxmax() == max(multipliers, key=multipliers.get) == "app"
    assert rates["app"] > rates["web"] > rates["phone"]


def test_engines_give_identical_results(sample):
    tables, _ = sample
    tx = tables["transactions"]
    native = tx.drop(columns=["campaign_id"])
    for data in (pl.from_pandas(native), duckdb.from_df(native)):
        pd.testing.assert_frame_equal(
            f2_conversion(data, as_of="2025-10-01", customers=tables["customers"]),
            f2_conversion(tx, as_of="2025-10-01", customers=tables["customers"]),
        )
        pd.testing.assert_frame_equal(
            interval_distribution(data, as_of="2025-10-01"), interval_distribution(tx, as_of="2025-10-01")
        )
        pd.testing.assert_frame_equal(
            purchase_cycles(data, as_of="2025-10-01"), purchase_cycles(tx, as_of="2025-10-01")
        )
        pd.testing.assert_frame_equal(
            first_purchases(data, as_of="2025-10-01"), first_purchases(tx, as_of="2025-10-01")
        )


def test_input_is_not_mutated(sample):
    tables, _ = sample
    tx, customers = tables["transactions"], tables["customers"]
    before, customers_before = tx.copy(deep=True), customers.copy(deep=True)
    f2_conversion(tx, as_of="2025-10-01", customers=customers)
    interval_distribution(tx, as_of="2025-10-01")
    purchase_cycles(tx, as_of="2025-10-01")
    pd.testing.assert_frame_equal(tx, before)
    pd.testing.assert_frame_equal(customers, customers_before)


def test_empty_and_bad_input(tiny, make_transactions):
    early = f2_conversion(tiny, as_of="2024-01-01")
    assert early.empty and early.columns.tolist() == ["breakdown", "group", "new_customers", "repeaters", "f2_rate"]
    assert interval_distribution(tiny, as_of="2024-01-01").empty
    assert purchase_cycles(tiny, as_of="2024-01-01").empty
    one = make_transactions([("o1", "z", "2025-01-01", 1, 10.0, "web", "Food")], columns=LINE)
    assert f2_conversion(one, as_of=AS_OF)["f2_rate"].tolist() == [0.0]  # one channel, one category: no breakdown
    with pytest.raises(ValueError, match="within_days is out of range; allowed: a whole number >= 1; received: 0"):
        f2_conversion(tiny, as_of=AS_OF, within_days=0)
    with pytest.raises(TypeError, match="within_days has the wrong type"):
        f2_conversion(tiny, as_of=AS_OF, within_days=30.0)
    with pytest.raises(ValueError, match="min_purchase_days is out of range; allowed: a whole number >= 2"):
        purchase_cycles(tiny, as_of=AS_OF, min_purchase_days=1)
    with pytest.raises(ValueError, match=r"customers is missing column 'acquisition_channel'; allowed: "):
        f2_conversion(tiny, as_of=AS_OF, customers=pd.DataFrame({"customer_id": ["a"]}))


def test_plots_draw_on_the_given_axes(tiny):
    ax = Figure().subplots()
    assert plot_f2_rates(f2_conversion(tiny, as_of=AS_OF), breakdown="category", language="ja", ax=ax) is ax
    assert len(ax.patches) == 3 and ax.get_ylabel() == "初回購入カテゴリ"
    ax = Figure().subplots()
    assert plot_interval_distribution(interval_distribution(tiny, as_of=AS_OF), max_days=90, ax=ax) is ax
    assert len(ax.patches) == 2


# --------------------------------------------------------------------------- f2_cohorts (issue 12)


def test_f2_cohorts_known_answer(tiny):
    from crmtools.repeat import f2_cohorts

    out = f2_cohorts(tiny, as_of=AS_OF, within_days=90)
    assert out.columns.tolist() == ["cohort", "new_customers", "repeaters", "f2_rate", "complete", "left_censored"]
    assert out["cohort"].tolist() == ["2025-01", "2025-02", "2025-03", "2025-04", "2025-09"]
    assert out["left_censored"].tolist() == [True, False, False, False, False]  # the data starts in January
    assert out["new_customers"].tolist() == [1, 1, 2, 1, 2]
    # b's two orders share a minute (same day counts); c's second day is 90 days on (counts), d's 91 (not)
    assert out["repeaters"].tolist() == [1, 1, 1, 0, 0]
    assert out["f2_rate"].tolist() == [1.0, 1.0, 0.5, 0.0, 0.0]
    assert out["complete"].tolist() == [True, True, True, True, False]  # Sep 30 + 90 days is after Dec 1
    assert f2_cohorts(tiny, as_of=AS_OF, lookback_months=9)["cohort"].tolist() == ["2025-03", "2025-04", "2025-09"]
    assert f2_cohorts(tiny, as_of=AS_OF, within_days=91)["repeaters"].tolist() == [1, 1, 2, 0, 0]


def test_f2_cohorts_empty_and_bad_input(tiny):
    from crmtools.repeat import f2_cohorts

    empty = f2_cohorts(tiny, as_of="2024-06-01")
    assert empty.empty and empty.columns.tolist() == [
        "cohort",
        "new_customers",
        "repeaters",
        "f2_rate",
        "complete",
        "left_censored",
    ]
    with pytest.raises(ValueError, match="lookback_months"):
        f2_cohorts(tiny, as_of=AS_OF, lookback_months=0)
    with pytest.raises(ValueError, match=r"ambiguous|as_of"):
        f2_cohorts(tiny, as_of="2025-10")


def test_f2_cohorts_agree_with_f2_conversion_for_complete_months(sample):
    from crmtools.repeat import f2_cohorts

    tables, _ = sample
    tx = tables["transactions"]
    out = f2_cohorts(tx, as_of="2025-12-01", within_days=60)
    assert out["complete"].any() and not out["complete"].all()
    for row in out[out["complete"]].itertuples():
        reference = f2_conversion(tx, as_of="2025-12-01", within_days=60, period=row.cohort).iloc[0]
        assert (row.new_customers, row.repeaters) == (reference["new_customers"], reference["repeaters"])
    pd.testing.assert_frame_equal(
        f2_cohorts(pl.from_pandas(tx.drop(columns=["campaign_id"])), as_of="2025-12-01"),
        f2_cohorts(tx, as_of="2025-12-01"),
    )


def test_f2_breakdowns_need_two_groups_and_the_first_month_is_marked(make_transactions):
    rows = [
        ("o1", "a", "2024-12-01 08:26", 1, 10.0, "web", "Food"),
        ("o2", "a", "2024-12-20 10:00", 1, 10.0, "web", "Food"),
        ("o3", "b", "2025-01-05 10:00", 1, 10.0, "web", "Food"),
        ("o4", "c", "2025-01-06 10:00", 1, 10.0, "app", "Toys"),
        ("o5", "c", "2025-01-20 10:00", 1, 10.0, "app", "Toys"),
    ]
    tx = make_transactions(rows, columns=LINE)
    f2 = f2_conversion(tx, as_of="2025-06-01", within_days=30).set_index(["breakdown", "group"])
    assert f2.loc[("overall", "All"), "new_customers"] == 3 and f2.loc[("channel", "app"), "repeaters"] == 1
    honest = f2_conversion(tx, as_of="2025-06-01", within_days=30, exclude_left_censored=True)
    assert honest.set_index("breakdown").loc["overall", ["new_customers", "repeaters"]].tolist() == [2, 1]
    one_channel = make_transactions([r[:5] + ("web",) + r[6:] for r in rows], columns=LINE)
    assert set(f2_conversion(one_channel, as_of="2025-06-01", within_days=30)["breakdown"]) == {"overall", "category"}
    from crmtools.repeat import f2_cohorts

    cohorts = f2_cohorts(tx, as_of="2025-06-01", within_days=30)
    assert cohorts.set_index("cohort")["left_censored"].to_dict() == {"2024-12": True, "2025-01": False}


# --------------------------------------------------------------------------- pandas input: the numpy path

_CUSTOMERS = ["a", "b", "ab", "", "é", "日本", "z" * 20]
_ORDERS = ["o1", "o2", "o10", "x", "", "注文"]
_TEXT = ["web", "app", "", "Food", None]


def _lines_frame(rows, id_dtype: str, text_dtype: str) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "day", "second", "quantity", "amount", "channel", "category"]
    )
    frame["order_datetime"] = AS_OF + pd.to_timedelta(frame["day"] * 86_400 + frame["second"], unit="s")
    frame = frame.drop(columns=["day", "second"])
    if id_dtype == "int64":
        frame["customer_id"] = frame["customer_id"].map(
            lambda c: _CUSTOMERS.index(c) * 3 - 5 if isinstance(c, str) else -1
        )
        frame["order_id"] = frame["order_id"].map(_ORDERS.index)
    else:
        frame = frame.astype({"customer_id": id_dtype, "order_id": id_dtype})
    return frame.astype({"channel": text_dtype, "category": text_dtype})


_first_lines = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["a", "b"]), st.sampled_from([*_CUSTOMERS, None])),
        st.sampled_from(_ORDERS),
        st.integers(-6, 1),  # days from AS_OF: lines on or after it do not count
        st.sampled_from([0, 0, 3_600, 86_399]),  # ties in time are common
        st.sampled_from([1, 2, 0, -1]),
        st.sampled_from([0.0, 0.5, 1.5, 4.0, 4.0, float("nan")]),  # dyadic: sums exact in any order
        st.sampled_from(_TEXT),
        st.sampled_from(_TEXT),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(
    _first_lines,
    st.sampled_from(["str", "object", "int64"]),
    st.sampled_from(["str", "object"]),
    st.sampled_from([None, "some", "all"]),
)
def test_first_purchases_numpy_path_equals_the_engine_path(rows, id_dtype, text_dtype, known):
    """Plain pandas input is computed in numpy; polars input takes the engine path: the same tables."""
    tx = _lines_frame(rows, id_dtype, text_dtype)
    # ids all missing in an object column have no type (the numpy path refuses them); polars would invent one
    assume(id_dtype != "object" or tx["customer_id"].notna().any())
    customers = None
    if known:
        ids = tx["customer_id"].dropna().drop_duplicates()
        ids = ids.iloc[::2] if known == "some" else ids
        channels = [["shop", None, ""][i % 3] for i in range(len(ids))]
        customers = pd.DataFrame({"customer_id": ids.to_numpy(), "acquisition_channel": channels}).astype(
            {"acquisition_channel": text_dtype}
        )
    before = tx.copy()
    for function in (first_purchases, f2_conversion):
        outcomes = []
        for data in (tx, pl.from_pandas(tx).lazy()):
            try:
                outcomes.append(function(data, as_of=AS_OF, customers=customers))
            except (ValueError, TypeError) as exc:
                outcomes.append(exc)
        got, expected = outcomes
        if isinstance(expected, Exception):
            assert type(got) is type(expected) and str(got) == str(expected)
        else:
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
    pd.testing.assert_frame_equal(tx, before)


@settings(max_examples=100, deadline=None)
@given(_first_lines, st.sampled_from(["str", "object", "int64"]))
def test_the_numpy_path_numbers_each_first_purchase_as_the_whole_columns_do(rows, id_dtype):
    """The numbers that come with the numpy path's table (which crmtools.churn uses instead of looking the ids up)
    are the positions of each customer and first order among the columns' sorted distinct values."""
    from crmtools.engine import sorted_codes
    from crmtools.repeat import numbered_first_purchases

    tx = _lines_frame(rows, id_dtype, "str")
    try:
        table, numbers = numbered_first_purchases(tx, as_of=AS_OF, customers=None)
    except (ValueError, TypeError) as exc:  # input refused (e.g. ids all missing: no type): as first_purchases does
        with pytest.raises(type(exc)) as refused:
            first_purchases(tx, as_of=AS_OF)
        assert str(refused.value) == str(exc)
        return
    if numbers is None:  # nothing bought before AS_OF (or a line without an order id): the engine path
        return
    customers, orders = numbers
    assert sorted_codes(tx["customer_id"])[1].take(customers).tolist() == table["customer_id"].tolist()
    assert sorted_codes(tx["order_id"])[1].take(orders).tolist() == table["first_order"].tolist()


def test_which_pandas_input_takes_the_numpy_path(tiny):
    from crmtools.repeat import _numpy_first_purchases

    def fast(tx, customers=None):
        return _numpy_first_purchases(
            tx,
            as_of=AS_OF,
            customers=customers,
            columns=("customer_id", "order_id", "order_datetime", "amount", "quantity"),
            channel_col="channel",
            category_col="category",
            acquisition_channel_col="acquisition_channel",
        )

    known = pd.DataFrame({"customer_id": ["a"], "acquisition_channel": ["shop"]})
    assert fast(tiny) is not None and fast(tiny, known) is not None
    assert fast(tiny.astype({"category": "category"})) is None  # categorical text
    assert fast(tiny.astype({"customer_id": "category"})) is None
    assert fast(tiny, pd.concat([known, known])) is None  # a customer twice: the engine path's join decides
    assert fast(tiny.assign(order_id=None)) is None  # missing order ids
    assert fast(pl.from_pandas(tiny)) is None


def test_an_empty_customers_table_of_untyped_ids_gives_no_acquisition_channel():
    """A customers table with no rows (its id column of no type, as pandas makes an empty object column) matches no
    customer on either path; the engine path joined it and failed deep inside the engine (its ids "null")."""
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "order_id": ["o1", "o2"],
            "order_datetime": pd.to_datetime(["2025-01-01", "2025-01-02"]),
            "quantity": 1,
            "amount": 1.0,
            "channel": "web",
        }
    ).astype({"customer_id": "str", "order_id": "str", "channel": "str"})
    customers = pd.DataFrame({"customer_id": np.array([], dtype=object), "acquisition_channel": []}).astype(
        {"acquisition_channel": "str"}
    )
    without = first_purchases(tx, as_of="2025-02-01")
    for data in (tx, pl.from_pandas(tx).lazy()):
        got = first_purchases(data, as_of="2025-02-01", customers=customers)
        pd.testing.assert_frame_equal(got, without, check_exact=True)
        assert got["acquisition_channel"].tolist() == ["web", "web"]


def test_first_purchases_at_one_instant_are_found_once_per_frame(tiny, monkeypatch):
    """Page 03 asks for F2 conversion (with the first orders' categories and the customers' channels), then the F2
    cohorts (without either) of the same order lines at the same instant: the first orders are found once, and each
    answer is the one a fresh computation gives (the customers' channels and a caller's edits stay out of it)."""
    from crmtools import repeat
    from crmtools.repeat import f2_cohorts

    calls = []
    original = repeat._first_orders_numpy
    monkeypatch.setattr(repeat, "_first_orders_numpy", lambda *a: calls.append(a[1]) or original(*a))
    known = pd.DataFrame({"customer_id": ["a", "b"], "acquisition_channel": ["shop", "tv"]})
    conversion = f2_conversion(tiny, as_of=AS_OF, customers=known)
    cohorts = f2_cohorts(tiny, as_of=AS_OF)
    assert calls == [AS_OF]
    edited = first_purchases(tiny, as_of=AS_OF, category_col=None)
    edited.loc[0, "first_purchase"] = pd.Timestamp("2000-01-01")
    plain = first_purchases(tiny, as_of=AS_OF, category_col=None)
    with_channels = first_purchases(tiny, as_of=AS_OF, customers=known)
    assert calls == [AS_OF]
    fresh = tiny.copy(deep=True)  # other memory: computed again
    pd.testing.assert_frame_equal(conversion, f2_conversion(fresh, as_of=AS_OF, customers=known), check_exact=True)
    pd.testing.assert_frame_equal(cohorts, f2_cohorts(fresh, as_of=AS_OF), check_exact=True)
    pd.testing.assert_frame_equal(plain, first_purchases(fresh, as_of=AS_OF, category_col=None), check_exact=True)
    pd.testing.assert_frame_equal(with_channels, first_purchases(fresh, as_of=AS_OF, customers=known), check_exact=True)
    assert plain["first_category"].isna().all() and plain["acquisition_channel"].tolist()[:2] == ["web", "phone"]
    assert with_channels["acquisition_channel"].tolist()[:2] == ["shop", "tv"]
    first_purchases(tiny, as_of=AS_OF - pd.Timedelta(days=1))  # another instant: found again
    assert calls == [AS_OF, AS_OF, AS_OF - pd.Timedelta(days=1)]


@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "c", "日本", None]),
            st.integers(-3, 15),
            st.integers(0, 23),
            st.sampled_from([1, 2, 0, -1]),
        ),
        max_size=30,
    ),
    as_of_hours=st.integers(0, 18 * 24),
    lookback=st.one_of(st.none(), st.integers(1, 12)),
    min_days=st.integers(2, 4),
)
@example(rows=[("a", 0, 0, 1), ("a", 2, 0, 1), ("a", 5, 0, 1)], as_of_hours=7 * 24, lookback=5, min_days=3)  # edges
def test_intervals_and_cycles_of_a_pandas_frame_are_the_engines(rows, as_of_hours, lookback, min_days):
    """Purchase intervals and cycles of order lines with ids read from files are found in numpy, from the purchase
    days the target lists read too: the same tables as the engine's query of the same lines (ids as Python
    objects go to the engine), with days before 1970, returns, lines without a customer and lines after as_of."""
    assume(any(c is not None for c, *_ in rows))  # (the engine refuses Python objects of no type: all missing)
    epoch = pd.Timestamp("1970-01-01")
    tx = pd.DataFrame(
        {
            "customer_id": pd.Series([c for c, *_ in rows], dtype="str"),
            "order_datetime": [epoch + pd.Timedelta(days=d, hours=h) for _, d, h, _ in rows],
            "quantity": [q for *_, q in rows],
        }
    ).astype({"order_datetime": "datetime64[ms]"})
    as_of = epoch + pd.Timedelta(hours=as_of_hours)
    engine_tx = tx.astype({"customer_id": object})
    expected_intervals = repeat.interval_distribution(engine_tx, as_of=as_of, lookback_days=lookback)
    expected_cycles = repeat.purchase_cycles(engine_tx, as_of=as_of, min_purchase_days=min_days)

    def no_engine(*args, **kwargs):
        raise AssertionError("the engine path was taken")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(repeat, "_purchase_days", no_engine)
        intervals = repeat.interval_distribution(tx, as_of=as_of, lookback_days=lookback)
        cycles = repeat.purchase_cycles(tx, as_of=as_of, min_purchase_days=min_days)
    pd.testing.assert_frame_equal(intervals, expected_intervals, check_exact=True)
    assert cycles["customer_id"].tolist() == expected_cycles["customer_id"].tolist()
    pd.testing.assert_frame_equal(
        cycles.drop(columns="customer_id"), expected_cycles.drop(columns="customer_id"), check_exact=True
    )
    assert cycles["customer_id"].dtype == "str"


@pytest.mark.parametrize("as_of", ["2400-01-01", "2025-01-05 00:00:00.5", "2025-01-05"])
def test_intervals_and_cycles_read_times_in_their_own_unit(as_of):
    """Order times in seconds hold dates nanoseconds do not (past 2262): the numpy path reads them in their unit,
    and an instant finer than the unit still counts the lines before it, as the engine's query does."""
    tx = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", "a", "b", "b"], dtype="str"),
            "order_datetime": pd.Series(
                pd.to_datetime(
                    ["2025-01-01 10:00:00", "2025-01-05 00:00:00", "2300-01-01 00:00:00", "1969-12-30 23:59:59"]
                    + ["1970-01-02 00:00:00"]
                )
            ).astype("datetime64[s]"),
            "quantity": 1,
        }
    )
    as_of = pd.Timestamp(as_of)
    engine_tx = tx.astype({"customer_id": object})  # (Python objects: the engine's query)
    found = repeat.interval_distribution(tx, as_of=as_of)
    pd.testing.assert_frame_equal(found, repeat.interval_distribution(engine_tx, as_of=as_of))
    cycles, expected = (repeat.purchase_cycles(t, as_of=as_of) for t in (tx, engine_tx))
    assert cycles["customer_id"].tolist() == expected["customer_id"].tolist()
    pd.testing.assert_frame_equal(cycles.drop(columns="customer_id"), expected.drop(columns="customer_id"))
