"""Tests for crmtools.engine: inputs, engines, column checks, date helpers, and Spark parity."""

from __future__ import annotations

import shutil

import duckdb
import narwhals.stable.v2 as nw
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crmtools import engine
from crmtools.engine import (
    as_timestamp,
    check_columns,
    collect,
    day_number,
    day_number_of,
    engine_of,
    is_missing,
    month_label_of,
    month_number,
    month_number_of,
    to_lazy,
)


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "customer_id": pd.array(["a", "b", None], dtype="str"),
            "order_datetime": pd.to_datetime(["2025-01-01 10:00", "2025-02-03 00:00", "2025-03-04 23:59"]),
            "amount": [100.0, np.nan, 50.0],
            "note": ["x", "y", "z"],
        }
    )


def test_pandas_goes_through_the_measured_engine(frame):
    assert engine.PANDAS_ENGINE in ("polars", "duckdb", "pandas")
    assert engine_of(frame) == engine.PANDAS_ENGINE
    for name in ("polars", "duckdb", "pandas"):
        lf = to_lazy(frame, columns=["customer_id", "amount"], engine=name)
        assert isinstance(lf, nw.LazyFrame) and lf.implementation.name.lower() == name
        assert lf.collect_schema().names() == ["customer_id", "amount"]


def test_native_inputs_stay_in_their_engine(frame):
    native = frame.drop(columns=["note"])
    assert to_lazy(pl.from_pandas(native)).implementation.name == "POLARS"
    assert to_lazy(pl.from_pandas(native).lazy()).implementation.name == "POLARS"
    assert to_lazy(duckdb.from_df(native)).implementation.name == "DUCKDB"
    already = to_lazy(native)
    assert to_lazy(already) is already


def test_projection_and_missing_columns(frame):
    with pytest.raises(
        ValueError,
        match=r"^transactions is missing column 'quantity'; allowed: a table with column "
        r"'quantity'; received: columns 'customer_id', .*\. Name your own columns",
    ):
        to_lazy(frame, columns=["quantity"], name="transactions")
    with pytest.raises(ValueError, match=r"^data is missing column 'quantity'; .*received: columns 'customer_id'"):
        to_lazy(duckdb.from_df(frame), columns=["quantity"])


def test_unsupported_input_type():
    with pytest.raises(
        TypeError,
        match=r"transactions has the wrong type; allowed: a pandas DataFrame, .*; "
        r"received: builtins.dict",
    ):
        to_lazy({"a": [1]}, name="transactions")
    with pytest.raises(
        ValueError, match="Unknown engine; allowed: 'auto', 'polars', 'duckdb', 'pandas'; received: 'spark'"
    ):
        to_lazy(pd.DataFrame({"a": [1]}), engine="spark")


def test_collect_returns_plain_pandas(frame):
    out = collect(to_lazy(frame).filter(~nw.col("customer_id").is_null()).sort("customer_id"))
    assert isinstance(out, pd.DataFrame) and out.index.equals(pd.RangeIndex(2))
    assert out["customer_id"].dtype == "str" and out["customer_id"].tolist() == ["a", "b"]


def test_input_is_not_mutated(frame):
    before = frame.copy(deep=True)
    for name in ("polars", "duckdb", "pandas"):
        collect(to_lazy(frame, engine=name).with_columns(amount=nw.col("amount") * 2))
    pd.testing.assert_frame_equal(frame, before)


def test_check_columns(frame):
    lf = to_lazy(frame)
    check_columns(lf, {"customer_id": "id", "order_datetime": "datetime", "amount": "numeric", "note": "text"})
    with pytest.raises(TypeError, match="column 'note' has the wrong type; allowed: numbers; received: String"):
        check_columns(lf, {"note": "numeric"})
    with pytest.raises(TypeError, match="column 'amount' has the wrong type; allowed: text or integer identifiers"):
        check_columns(lf, {"amount": "id"})
    with pytest.raises(TypeError, match="allowed: a datetime"):
        check_columns(lf, {"note": "datetime"})
    no_ids = to_lazy(frame.assign(customer_id=pd.Series(None, index=frame.index, dtype=object)))
    with pytest.raises(TypeError, match=r"'customer_id' has the wrong type; .*received: values of no single type"):
        check_columns(no_ids, {"customer_id": "id"})
    with pytest.raises(ValueError, match="transactions is missing column 'refund'"):
        check_columns(lf, {"refund": "numeric"})
    aware = frame.assign(order_datetime=frame["order_datetime"].dt.tz_localize("Asia/Tokyo"))
    with pytest.raises(TypeError, match=r"allowed: a timezone-naive datetime .*Convert it first"):
        check_columns(to_lazy(aware), {"order_datetime": "datetime"})


def test_is_missing_counts_nan_and_null(frame):
    for name in ("polars", "duckdb"):
        lf = to_lazy(frame, engine=name)
        assert collect(lf.select(n=is_missing(lf, "amount").cast(nw.Int64).sum()))["n"].tolist() == [1]
    native = pl.DataFrame({"amount": [1.0, float("nan"), None]})
    lf = to_lazy(native)
    assert collect(lf.select(n=is_missing(lf, "amount").cast(nw.Int64).sum()))["n"].tolist() == [2]


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2025-11-01", pd.Timestamp("2025-11-01")),
        (pd.Timestamp("2025-11-01 10:00"), pd.Timestamp("2025-11-01 10:00")),
        (np.datetime64("2025-11-01"), pd.Timestamp("2025-11-01")),
    ],
)
def test_as_timestamp(value, expected):
    assert as_timestamp(value, "as_of") == expected


def test_as_timestamp_of_a_period_is_its_exclusive_end():
    from crmtools.periods import parse_period

    assert as_timestamp(parse_period("2025-Q3"), "as_of") == pd.Timestamp("2025-10-01")
    with pytest.raises(ValueError, match="timezone-naive"):
        as_timestamp(pd.Timestamp("2025-01-01", tz="UTC"), "as_of")
    with pytest.raises(ValueError, match="as_of must be a date"):
        as_timestamp("yesterday-ish", "as_of")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.datetimes(
            min_value=pd.Timestamp("1901-01-01").to_pydatetime(), max_value=pd.Timestamp("2099-12-31").to_pydatetime()
        ),
        min_size=1,
        max_size=20,
    )
)
def test_day_and_month_numbers_match_pandas(values):
    stamps = pd.Series(pd.to_datetime(values)).astype("datetime64[us]")
    expected_days = (stamps.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.tolist()
    expected_months = (stamps.dt.year * 12 + stamps.dt.month - 1).tolist()
    for name in ("polars", "duckdb"):
        lf = to_lazy(pd.DataFrame({"t": stamps}), engine=name)
        out = collect(lf.select(d=day_number(nw.col("t")), m=month_number(nw.col("t"))))
        assert out["d"].tolist() == expected_days
        assert out["m"].tolist() == expected_months
    assert [day_number_of(s) for s in stamps] == expected_days
    assert [month_number_of(s) for s in stamps] == expected_months
    assert [month_label_of(m) for m in expected_months] == stamps.dt.strftime("%Y-%m").tolist()


def test_module_docstring_justifies_narwhals():
    assert "Why narwhals rather than Ibis" in engine.__doc__


# ----------------------------------------------------------------------------- Spark parity


@pytest.mark.spark
@pytest.mark.xdist_group("spark")  # one JVM at a time, shared with tests/test_spark.py
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")
@pytest.mark.slow
def test_analyses_run_unchanged_on_spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    import warnings

    from crmtools import cohorts, deciles, kpis, repeat, rfm
    from crmtools.sampledata import SampleConfig, generate_sample
    from crmtools.spark import spark_session

    spark = spark_session()  # the project's settings (local[2], naive timestamps, UTC); reused if running
    tables, _ = generate_sample(SampleConfig(customers=200, months=12, seed=2))
    tx = tables["transactions"].drop(columns=["campaign_id"])
    tx["order_datetime"] = tx["order_datetime"].astype("datetime64[us]")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sdf = spark.createDataFrame(tx)
    checks = [
        lambda d: rfm.rfm_table(d, as_of="2024-12-01"),
        lambda d: deciles.decile_table(d, period="2024-Q3"),
        lambda d: cohorts.cohort_table(d, as_of="2024-12-01"),
        lambda d: repeat.interval_distribution(d, as_of="2024-12-01"),
        lambda d: kpis.period_kpis(d, period="2024-11"),
    ]
    for check in checks:
        pd.testing.assert_frame_equal(check(sdf), check(tx))


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "cc", "ü", "", "0"])), max_size=30),
    ids=st.lists(st.one_of(st.none(), st.sampled_from(["a", "cc", "x", "", "ü"])), max_size=6),
    as_set=st.booleans(),
)
def test_member_of_is_isin(values, ids, as_set):
    from crmtools.engine import member_of

    series = pd.Series(values, dtype="str", index=pd.RangeIndex(len(values)) * 2)
    wanted = set(ids) if as_set else ids
    pd.testing.assert_series_equal(member_of(series, wanted), series.isin(wanted), check_names=False)
    numbers = pd.Series(range(len(values)))
    pd.testing.assert_series_equal(member_of(numbers, [1, 3]), numbers.isin([1, 3]))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "b", "ab", "é", "日本", "z" * 20])), max_size=30),
    st.sampled_from(["str", "object", "string[python]"]),
)
def test_sorted_codes_is_sorted_factorize_and_remembered_only_for_the_same_arrow_column(values, dtype):
    from crmtools.engine import sorted_codes

    series = pd.Series(values, dtype=dtype)
    expected_codes, expected_uniques = pd.factorize(series, sort=True)
    for _ in range(2):  # the second call of an Arrow column is remembered: the same answer
        codes, uniques = sorted_codes(series)
        assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == list(expected_uniques)
        assert not codes.flags.writeable
    frame = pd.DataFrame({"id": series})
    sorted_codes(frame["id"])
    frame.loc[0:0, "id"] = "zz" if len(frame) else None  # a changed column is a new Arrow array: numbered again
    again_codes, again_uniques = pd.factorize(frame["id"], sort=True)
    codes, uniques = sorted_codes(frame["id"])
    assert codes.tolist() == again_codes.tolist() and uniques.tolist() == list(again_uniques)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "", "é", "日本", "B", "a "])), max_size=40))
def test_numbered_ids_keep_the_ids_order_and_give_them_back(values):
    """Text ids numbered in their sorted order: a group-by or sort on the numbers follows the ids, and the numbers
    turn back into the same ids (missing ones stay missing); whole-number ids and other columns are left alone."""
    from crmtools.engine import id_values, numbered_ids

    frame = pd.DataFrame({"id": pd.Series(values, dtype="str"), "n": np.arange(len(values)), "k": len(values)})
    numbered, ids = numbered_ids(frame, ["id", "n", "k"], ids=["id", "n"])
    assert list(numbered.columns) == ["id", "n", "k"] and list(ids) == ["id"]
    assert numbered["n"].tolist() == frame["n"].tolist()
    back = id_values(numbered["id"], ids["id"])
    pd.testing.assert_series_equal(back, frame["id"], check_dtype=False)
    assert back.isna().tolist() == frame["id"].isna().tolist()
    present = frame["id"].notna().to_numpy()
    by_number = numbered["id"][present].astype("int64").to_numpy()
    by_text = frame["id"][present].to_numpy(dtype=object)
    for i in range(len(by_number)):  # the numbers compare as the ids do
        for j in range(len(by_number)):
            assert (by_number[i] < by_number[j]) == (by_text[i] < by_text[j])
    assert numbered_ids(frame, ["id", "n"], ids=["n"]) is None  # whole numbers are numbers already
    assert numbered_ids(frame.astype({"id": object}), ["id"], ids=["id"]) is None  # not Arrow: not remembered
    assert numbered_ids(frame, ["n"], ids=["id"]) is None  # an id the query does not read


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-(2**62), 2**62), max_size=60))
def test_sorted_unique_equals_numpy_unique(values):
    from crmtools.engine import sorted_unique

    a = np.array(values, dtype=np.int64)
    out = sorted_unique(a)
    np.testing.assert_array_equal(out, np.unique(a))
    assert out.dtype == a.dtype


@pytest.mark.parametrize(
    "table",
    [
        pd.Series([3, 5], index=["a", "b"]),
        pd.Series([3, 5, 7], index=["a", "b", "c"]),
        pd.Series([1.5, np.nan], index=["a", "b"]),
        pd.Series(pd.to_datetime(["2025-01-01", "2025-02-01"]), index=["a", "b"]),
        pd.Series(["x", "y"], index=["a", "b"], dtype="str"),
        pd.Series([True, False], index=["a", "b"]),
    ],
)
@pytest.mark.parametrize("values", [["b", "a", "b"], ["b", "c", "a"], ["b", "a", None, "c", "b"], []])
@pytest.mark.parametrize("text_index", [False, True])
def test_lookup_gives_what_map_gives(table, values, text_index):
    """``engine.lookup`` (each distinct value looked up once, or ids against an index of text ids through Arrow)
    returns ``Series.map``'s values, missing values and type, whether every value is found or not."""
    from crmtools.engine import lookup

    if text_index:
        table = table.set_axis(pd.Index(table.index, dtype="str"))
    series = pd.Series(values, dtype="str", index=range(10, 10 + len(values)), name="campaign_id")
    pd.testing.assert_series_equal(lookup(series, table), series.map(table))


@settings(max_examples=120, deadline=None)
@given(
    left=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from("abcd")), st.sampled_from("xy")), max_size=9),
    right=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from("abcde")), st.sampled_from("xyz")), max_size=9),
    two_keys=st.booleans(),
    how=st.sampled_from(["inner", "left"]),
    keep_keys=st.booleans(),
)
def test_merge_on_ids_is_merge(left, right, two_keys, how, keep_keys):
    """``engine.merge_on_ids`` (text ids joined as numbers) gives ``DataFrame.merge``'s rows, order, columns and
    types, missing ids included (pandas joins them to each other), with one key or two, inner or left; without
    ``keep_keys``, the same without the key columns."""
    from crmtools.engine import merge_on_ids

    def frame(rows, extra):
        ids = pd.Series([r[0] for r in rows], dtype="str")
        campaigns = pd.Series([r[1] for r in rows], dtype="str")
        return pd.DataFrame({"customer_id": ids, "campaign_id": campaigns, extra: np.arange(len(rows)) * 1.5})

    on = ["customer_id", "campaign_id"] if two_keys else ["customer_id"]
    a, b = frame(left, "x"), frame(right, "y")
    if not two_keys:
        b = b.drop(columns="campaign_id")
    expected = a.merge(b, on=on, how=how)
    if not keep_keys:
        expected = expected.drop(columns=on)
    pd.testing.assert_frame_equal(merge_on_ids(a, b, on=on, how=how, keep_keys=keep_keys), expected)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "cc", "ü", "", "0", "日本"])), max_size=30),
    ids=st.lists(st.sampled_from(["a", "cc", "x", "", "ü", "日本", "b" * 9]), unique=True, max_size=6),
    text=st.booleans(),
)
def test_positions_of_is_get_indexer(values, ids, text):
    """``engine.positions_of`` (Arrow's hash lookup for text ids) gives ``Index.get_indexer``'s positions, -1 for
    an id not found or missing, for Arrow text and for other types alike."""
    from crmtools.engine import positions_of

    dtype = "str" if text else object
    series, index = pd.Series(values, dtype=dtype), pd.Index(ids, dtype=dtype)
    found = positions_of(series, index)
    assert found.dtype == np.int64
    np.testing.assert_array_equal(found, index.get_indexer(series))
    np.testing.assert_array_equal(positions_of(series, pd.Series(ids, dtype=dtype)), found)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "ab", "b", "B", "ü", "日本", "a "])), max_size=12),
    cuts=st.lists(st.integers(0, 12), max_size=3),
    text=st.booleans(),
)
def test_ascending_is_is_monotonic_increasing(values, cuts, text):
    """``engine.ascending`` (neighbours compared in Arrow for text ids) answers as pandas'
    ``is_monotonic_increasing``: ties allowed, a missing value anywhere is no order, no or one value is in order;
    for Arrow text in several chunks (a column concatenated from parts) and for other types alike."""
    import pyarrow as pa

    from crmtools.engine import ascending

    if text:
        bounds = [0, *sorted(min(c, len(values)) for c in cuts), len(values)]
        chunks = [pa.array(values[a:b], type=pa.large_string()) for a, b in zip(bounds, bounds[1:])]
        series = pd.Series(pd.array(pa.chunked_array(chunks, type=pa.large_string()), dtype="str"))
    else:
        series = pd.Series(values, dtype=object)
    assert ascending(series) is series.is_monotonic_increasing
    assert ascending(series.sort_values()) is series.sort_values().is_monotonic_increasing


def test_copies_of_a_kept_frame_share_what_is_derived_from_it():
    """A report kernel keeps its run's tables and gives each page shallow copies (crmtools.notebook): what one page
    derives from its copy, the next page's copy reuses; a copy written to, or equal values in other memory, do not."""
    import gc

    tx = pd.DataFrame({"x": [1.0, 2.0]})
    engine.keep(tx)
    built = []

    def total(frame):
        built.append(frame)
        return float(frame["x"].sum())

    first, second = tx.copy(deep=False), tx.copy(deep=False)
    assert engine.derived(first, "total", total) == engine.derived(second, "total", total) == 3.0
    assert len(built) == 1 and built[0] is tx, "built once, from the kept frame"
    second.loc[0, "x"] = 5.0  # a page writing to its copy: its own values from now on
    assert engine.kept(second) is second and engine.derived(second, "total", total) == 7.0
    twin = tx.copy()  # the same values in other memory
    assert engine.kept(twin) is twin
    built.clear()  # holds the kept frame
    del tx
    gc.collect()
    assert engine.kept(first) is first, "forgotten with the kept frame"


def _chunked_text(values: list, chunk: int) -> pd.Series:
    """Arrow-backed text whose chunks are slices of one array at offsets (as Parquet and Arrow IPC give)."""
    import pyarrow as pa

    whole = pa.array(values, type=pa.large_string())
    pieces = [whole.slice(i, chunk) for i in range(0, len(values), chunk)] or [whole]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(pieces, type=pa.large_string())))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "", "é", "日本", "B", "a "])), max_size=40),
    st.integers(1, 7),
    st.integers(0, 45),
    st.integers(0, 45),
)
def test_a_run_of_a_known_columns_rows_takes_its_codes_from_the_column(values, chunk, first, stop):
    """A slice of a column whose codes are known (a time window of sorted order lines) is numbered from them:
    the same codes and values as factorizing the slice, without factorizing it."""
    column = _chunked_text(values, chunk)
    engine.sorted_codes(column)  # the whole column: numbered and remembered
    part = column.iloc[first:stop]
    expected_codes, expected_uniques = pd.factorize(part, sort=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine, "_factorized", _refuse)
        codes, uniques = engine.sorted_codes(part) if len(part) else (expected_codes, pd.Index(expected_uniques))
    assert codes.tolist() == expected_codes.tolist()
    pd.testing.assert_index_equal(uniques, pd.Index(expected_uniques), exact=True)


def _refuse(values):
    raise AssertionError("numbered again")


def test_rows_that_are_not_a_run_of_the_column_are_numbered_afresh():
    column = _chunked_text(["b", "a", "c", "a", "b", "d"], 2)
    engine.sorted_codes(column)
    for other in (column.iloc[[0, 2, 4]], column.iloc[::-1], _chunked_text(["b", "a", "c", "a", "b", "d"], 2)):
        expected_codes, expected_uniques = pd.factorize(other, sort=True)
        codes, uniques = engine.sorted_codes(other)
        assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == list(expected_uniques)


def test_given_codes_are_used_and_numbering_ahead_is_waited_for_not_repeated(monkeypatch):
    column = _chunked_text([f"c{i % 7}" for i in range(50)], 8)
    engine.remember_codes(column, *pd.factorize(column, sort=True))
    monkeypatch.setattr(engine, "_factorized", _refuse)
    codes, uniques = engine.sorted_codes(column)  # given: not numbered here
    assert uniques.tolist() == [f"c{i}" for i in range(7)] and codes[:8].tolist() == [0, 1, 2, 3, 4, 5, 6, 0]
    engine.forget_codes(column)
    with pytest.raises(AssertionError, match="numbered again"):
        engine.sorted_codes(column.iloc[1:])  # forgotten (and not remembered on its own): numbered again
    monkeypatch.undo()
    calls = []
    fresh = _chunked_text([f"x{i % 5}" for i in range(40)], 16)

    def counted(values):
        calls.append(len(values))
        return pd.factorize(values, sort=True)[0].astype("int64"), pd.Index(pd.factorize(values, sort=True)[1])

    monkeypatch.setattr(engine, "_factorized", counted)
    engine.number_ahead([fresh])
    codes, uniques = engine.sorted_codes(fresh.iloc[5:30])
    assert calls == [40]  # numbered once, in the background; the slice took its codes from it
    expected_codes, expected_uniques = pd.factorize(fresh.iloc[5:30], sort=True)
    assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == list(expected_uniques)
    engine.forget_codes(fresh)


def test_a_column_waits_only_for_its_own_numbering_ahead(monkeypatch):
    """A plan checking the customer ids takes their distinct values from their numbering, without waiting for the
    numbering of the order ids (the longest) under way beside it; a run of a column's rows waits for the column's."""
    import threading

    customers = _chunked_text([f"c{i % 7}" for i in range(60)], 16)
    orders = _chunked_text([f"o{i}" for i in range(60)], 16)
    release, numbered = threading.Event(), []
    factorized = engine._factorized

    def slow_for_orders(values):
        if values.iloc[0] == "o0":
            release.wait(timeout=5)  # held until the customers' answer is in (without the fix: for 5 s)
        numbered.append(values.iloc[0])
        return factorized(values)

    monkeypatch.setattr(engine, "_factorized", slow_for_orders)
    engine.number_ahead([orders, customers])
    try:
        distinct = engine.known_distinct(customers)
        assert "o0" not in numbered  # answered while the order ids were still being numbered
        assert distinct.tolist() == [f"c{i}" for i in range(7)]
    finally:
        release.set()
    assert engine.known_distinct(orders.iloc[10:30]).tolist() == sorted(f"o{i}" for i in range(10, 30))
    assert numbered == ["c0", "o0"]  # each numbered once; the run of rows waited for its column's numbering
    for column in (customers, orders):
        engine.forget_codes(column)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "ab", "é", "日本", "B"])), min_size=1, max_size=40),
    st.lists(st.sampled_from(["a", "b", "ab", "zz", "日本"]), unique=True, max_size=5),
    st.integers(0, 40),
    st.integers(0, 40),
)
def test_ids_with_known_codes_are_looked_up_by_their_distinct_values(values, ids, first, stop):
    """positions_of and member_of on a column (or a run of its rows) whose codes are known: the answers of
    get_indexer and isin."""
    column = _chunked_text(values, 6)
    engine.sorted_codes(column)
    index = pd.Index(ids, dtype="str")
    for part in (column, column.iloc[first:stop]):
        expected = index.get_indexer(part)
        assert engine.positions_of(part, index).tolist() == expected.tolist()
        assert engine.member_of(part, set(ids)).tolist() == part.isin(ids).tolist()
