"""Spark and engine parity (crmtools.spark, crmtools.basket_spark).

Every engine-agnostic analysis must give identical results on pandas (the
default path), DuckDB, polars and Spark input for the same data, and Spark's
FP-growth must find exactly the local engine's itemsets.

One local Spark session (``local[2]``) serves the whole file; it is stopped at
the end. The tests are marked ``spark`` (deselect with ``-m "not spark"``) and
put in the xdist group ``spark``: run the suite with ``-n 2 --dist loadgroup``
so that all of them run in one worker and only one JVM starts. Without
pyspark or Java they are skipped.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import pandas as pd
import pytest

from crmtools import basket, basket_spark, clv, cohorts, deciles, kpis, repeat, rfm
from crmtools.errors import ParameterError
from crmtools.params import resolve_params
from crmtools.sampledata import SampleConfig, generate_sample
from crmtools.spark import BACKENDS, as_backend, read_spark_table, spark_session, to_spark

pytestmark = [
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
]

AS_OF = "2025-03-01"  # the sample runs from 2024-01 to 2025-02
ENGINES = ["pandas", "duckdb", "polars", "spark"]


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java (java on PATH or JAVA_HOME)")
    # Tuned for many small queries: one shuffle partition, no adaptive re-planning or whole-stage code
    # generation, and the JVM's quick (C1) compiler only; together they halve the run time of this file.
    fast = {
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.adaptive.enabled": "false",
        "spark.sql.codegen.wholeStage": "false",
        "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1",
    }
    session = spark_session("local[2]", app_name="crmtools-tests", config=fast)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def sample():
    tables, _ = generate_sample(SampleConfig(customers=600, months=14, seed=5))
    return tables


@pytest.fixture(scope="session")
def frames(sample, spark):
    """The transactions and customers in each engine (read-only)."""
    tx, customers = sample["transactions"], sample["customers"]
    out = {}
    for name in ENGINES:
        out[name] = {
            "transactions": as_backend(tx, name, session=spark),
            "customers": as_backend(customers, name, session=spark),
        }
    return out


def _assert_identical(got, expected, engine):
    if dataclasses.is_dataclass(expected):
        assert dataclasses.asdict(got) == dataclasses.asdict(expected), engine
        return
    try:
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    except AssertionError as exc:
        raise AssertionError(f"{engine} differs from pandas: {exc}") from None


ANALYSES = {
    "rfm_table": lambda t, c: rfm.rfm_table(t, as_of=AS_OF),
    "rfm_table_thresholds_ja": lambda t, c: rfm.rfm_table(
        t, as_of=AS_OF, scoring="thresholds", lookback_days=180, language="ja"
    ),
    "decile_table": lambda t, c: deciles.decile_table(t, period="2024-Q4"),
    "customer_revenue": lambda t, c: deciles.customer_revenue(t, period="2025-01"),
    "pareto_curve": lambda t, c: deciles.pareto_curve(t, period="2024-Q4", points=20),
    "concentration": lambda t, c: deciles.concentration(t, period="2024-Q4"),
    "cohort_table": lambda t, c: cohorts.cohort_table(t, as_of=AS_OF),
    "cohort_table_window": lambda t, c: cohorts.cohort_table(t, as_of="2025-02-15", lookback_months=9, max_months=6),
    "first_purchases": lambda t, c: repeat.first_purchases(t, as_of=AS_OF, customers=c),
    "f2_conversion": lambda t, c: repeat.f2_conversion(t, as_of=AS_OF, within_days=60, customers=c),
    "f2_conversion_no_customers": lambda t, c: repeat.f2_conversion(t, as_of=AS_OF, period="2024-Q2"),
    "purchase_cycles": lambda t, c: repeat.purchase_cycles(t, as_of=AS_OF),
    "interval_distribution": lambda t, c: repeat.interval_distribution(t, as_of=AS_OF),
    "period_kpis": lambda t, c: kpis.period_kpis(t, period="2025-02"),
    "period_kpis_quarter": lambda t, c: kpis.period_kpis(t, period="2024-Q4"),
    "monthly_trend": lambda t, c: kpis.monthly_trend(t, period="2025-02", months=13),
    "clv_customer_summary": lambda t, c: clv.customer_summary(
        t, calibration_end="2024-12-31", observation_end=pd.Timestamp("2025-02-28"), time_unit="D"
    ),
}


@pytest.fixture(scope="session")
def expected(sample):
    """Results on the pandas input (the default path), computed once."""
    tx, customers = sample["transactions"], sample["customers"]
    return {name: run(tx, customers) for name, run in ANALYSES.items()}


@pytest.mark.parametrize("analysis", list(ANALYSES))
def test_analysis_is_identical_on_every_engine(analysis, frames, expected):
    run = ANALYSES[analysis]
    reference = expected[analysis]
    if isinstance(reference, pd.DataFrame):
        assert len(reference) > 0  # a comparison of empty tables would prove nothing
    for name in ENGINES:
        got = run(frames[name]["transactions"], frames[name]["customers"])
        _assert_identical(got, reference, name)


def test_spark_transactions_with_pandas_customers(frames, sample, expected):
    # A pandas customers table is moved into Spark to be joined there.
    got = repeat.f2_conversion(
        frames["spark"]["transactions"], as_of=AS_OF, within_days=60, customers=sample["customers"]
    )
    _assert_identical(got, expected["f2_conversion"], "spark + pandas customers")


@pytest.mark.parametrize("engine", ENGINES)
def test_rfm_summaries_are_identical_on_every_engine(engine, sample, expected, spark):
    # segment_summary, rfm_grid and segment_migration read RFM tables, which may themselves live in an engine.
    after = expected["rfm_table"]
    before = rfm.rfm_table(sample["transactions"], as_of="2024-12-01")
    native, native_before = as_backend(after, engine, session=spark), as_backend(before, engine, session=spark)
    _assert_identical(rfm.segment_summary(native, language="ja"), rfm.segment_summary(after, language="ja"), engine)
    _assert_identical(
        rfm.rfm_grid(native, rows="f_score", columns="m_score"),
        rfm.rfm_grid(after, rows="f_score", columns="m_score"),
        engine,
    )
    _assert_identical(rfm.segment_migration(native_before, native), rfm.segment_migration(before, after), engine)


def test_parquet_read_in_spark_with_period_pushdown(sample, spark, tmp_path, expected):
    path = tmp_path / "transactions.parquet"
    sample["transactions"].to_parquet(path, index=False)
    columns = ["order_id", "customer_id", "order_datetime", "quantity", "amount"]
    tx = read_spark_table(path, session=spark, columns=columns, end=AS_OF)
    assert tx.columns == columns
    assert dict(tx.dtypes)["order_datetime"] == "timestamp_ntz"  # naive, as in pandas: no time-zone shift
    _assert_identical(rfm.rfm_table(tx, as_of=AS_OF), expected["rfm_table"], "spark parquet")
    window = read_spark_table(path, session=spark, columns=["order_datetime"], start="2024-12-01", end="2025-01-01")
    stamps = window.toPandas()["order_datetime"]
    tx_pd = sample["transactions"]["order_datetime"]
    assert len(stamps) == int(((tx_pd >= "2024-12-01") & (tx_pd < "2025-01-01")).sum()) > 0
    with pytest.raises(ValueError, match=r"has no column \['coupon'\].*columns found"):
        read_spark_table(path, session=spark, columns=["coupon"])
    with pytest.raises(ValueError, match="end must be after start"):
        read_spark_table(path, session=spark, start="2025-01-01", end="2024-01-01")


def test_to_spark_keeps_values_and_types(spark):
    frame = pd.DataFrame(
        {
            "customer_id": pd.array(["a", None, "c"], dtype="str"),
            "order_datetime": pd.to_datetime(["2025-01-01 23:59:59", "2025-03-30 02:30:00", "2024-12-31 00:00:01"]),
            "channel": pd.Categorical(["web", "app", "web"]),
            "campaign_id": pd.Series([None, None, None], dtype=object),
            "quantity": [1, -2, 3],
            "amount": [10.5, -3.0, 0.0],
        }
    )
    before = frame.copy(deep=True)
    sdf = to_spark(frame, spark)
    pd.testing.assert_frame_equal(frame, before)  # not mutated
    assert dict(sdf.dtypes) == {
        "customer_id": "string",
        "order_datetime": "timestamp_ntz",
        "channel": "string",
        "campaign_id": "string",
        "quantity": "bigint",
        "amount": "double",
    }
    back = sdf.toPandas()
    assert back["order_datetime"].astype("datetime64[us]").tolist() == frame["order_datetime"].tolist()
    assert back["customer_id"].tolist()[::2] == ["a", "c"] and back["customer_id"].isna().tolist()[1]
    assert back["channel"].tolist() == ["web", "app", "web"]


# ----------------------------------------------------------------------------- FP-growth


def _canonical(itemsets: pd.DataFrame) -> pd.DataFrame:
    key = itemsets["itemsets"].map(lambda s: tuple(sorted(map(str, s))))
    return (
        itemsets.assign(_key=key)
        .sort_values(["length", "count", "_key"], ascending=[True, False, True])
        .drop(columns="_key")
        .reset_index(drop=True)
    )


def _rule_key(rules: pd.DataFrame) -> pd.DataFrame:
    key = [(tuple(sorted(a)), tuple(sorted(c))) for a, c in zip(rules["antecedents"], rules["consequents"])]
    return rules.assign(_key=key).sort_values("_key").drop(columns="_key").reset_index(drop=True)


@pytest.mark.parametrize(
    "options",
    [
        {"min_support": 0.01},
        {"min_support": 5, "item": "category"},
        {"min_support": 0.02, "basket": "customer", "basket_freq": "M"},
        {"min_support": 3, "max_len": 2, "include_returns": True},
        {"min_support": 0.01, "include_guests": False, "max_basket_items": 4},
    ],
    ids=["products", "categories", "customer-months", "with-returns", "customers-no-bulk"],
)
def test_fpgrowth_on_spark_equals_the_local_engine(options, frames, sample):
    local = basket.frequent_itemsets(sample["transactions"], **options)
    distributed = basket_spark.frequent_itemsets(frames["spark"]["transactions"], **options)
    assert len(local) > 0
    assert list(distributed.columns) == basket.ITEMSET_COLUMNS
    assert distributed.dtypes.to_dict() == local.dtypes.to_dict()
    assert distributed.attrs == local.attrs
    pd.testing.assert_frame_equal(_canonical(distributed), _canonical(local), check_exact=True)
    assert distributed.equals(_canonical(distributed))  # documented order: length, support desc, labels
    # association_rules works on it unchanged, with the same rules.
    rules_local = basket.association_rules(local, min_threshold=0.05)
    rules_spark = basket.association_rules(distributed, min_threshold=0.05)
    pd.testing.assert_frame_equal(_rule_key(rules_spark), _rule_key(rules_local), check_exact=True)


def test_fpgrowth_labels_follow_the_local_rules(spark):
    # p1 and p2 share the label "Tea" (shown with their ids); p3 has no label (shown by its id); p4's most
    # common label wins; guest orders count as baskets (order baskets); a return line is not bought.
    tx = pd.DataFrame(
        {
            "order_id": ["o1", "o1", "o1", "o2", "o2", "o2", "o3", "o3", "o3", "o4", "o4"],
            "customer_id": pd.array(["a", "a", "a", None, None, None, "b", "b", "b", "b", "b"], dtype="str"),
            "product_id": ["p1", "p2", "p3", "p1", "p2", "p4", "p1", "p4", "p4", "p3", "p2"],
            "product_name": pd.array(
                ["Tea", "Tea", None, "Tea", "Tea", "Jam", "Tea", "Jam jar", "Jam", None, "Tea"], dtype="str"
            ),
            "quantity": [1, 1, 1, 2, 1, 1, 1, 1, 1, 1, -1],
        }
    )
    local = basket.frequent_itemsets(tx, min_support=2)
    distributed = basket_spark.frequent_itemsets(tx, min_support=2, session=spark)  # pandas in, Spark inside
    pd.testing.assert_frame_equal(_canonical(distributed), _canonical(local), check_exact=True)
    labels = set().union(*distributed["itemsets"])
    assert labels == {"Tea (p1)", "Tea (p2)", "p3", "Jam"}


def test_fpgrowth_empty_and_invalid(frames, spark):
    tx = frames["spark"]["transactions"]
    none_frequent = basket_spark.frequent_itemsets(tx, min_support=1.0)
    assert none_frequent.empty and list(none_frequent.columns) == basket.ITEMSET_COLUMNS
    assert none_frequent.attrs["n_baskets"] > 0
    no_baskets = basket_spark.frequent_itemsets(tx.limit(0), min_support=0.5)
    assert no_baskets.empty and no_baskets.attrs["n_baskets"] == 0
    assert basket.association_rules(none_frequent).empty
    with pytest.raises(ValueError, match=r"transactions is missing column 'sku' \(the item\); allowed: "):
        basket_spark.frequent_itemsets(tx, item_col="sku")
    with pytest.raises(ValueError, match="Unknown basket_freq; allowed: 'M', 'Q', 'Y'; received: 'W'"):
        basket_spark.frequent_itemsets(tx, basket="customer", basket_freq="W")
    with pytest.raises(ValueError, match=r"min_support is out of range; allowed: a fraction of baskets in \(0, 1\]"):
        basket_spark.frequent_itemsets(tx, min_support=1.5)
    with pytest.raises(ValueError, match=r"basket_freq='M' needs basket='customer'; .*received: basket='order'"):
        basket_spark.frequent_itemsets(tx, basket_freq="M")
    with pytest.raises(ValueError, match="a pandas DataFrame needs a SparkSession"):
        basket_spark.frequent_itemsets(pd.DataFrame({"order_id": ["o"], "product_id": ["p"], "quantity": [1]}))


# ----------------------------------------------------------------------------- sessions and params


def test_session_settings(spark):
    conf = spark.conf
    assert conf.get("spark.sql.timestampType") == "TIMESTAMP_NTZ"
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.sparkContext.master == "local[2]"
    assert spark_session() is spark  # getOrCreate: the running session is reused
    with pytest.raises(TypeError, match="config must be a mapping"):
        spark_session(config=["spark.ui.enabled=false"])


def test_engine_params():
    params = resolve_params({"engine": {"backend": "spark", "spark_connect_url": "sc://spark.example.com:15002"}})
    assert params["engine"] == {
        "backend": "spark",
        "spark_master": None,
        "spark_connect_url": "sc://spark.example.com:15002",
    }
    assert resolve_params()["engine"]["backend"] == "pandas" and set(BACKENDS) == {
        "pandas",
        "duckdb",
        "polars",
        "spark",
    }
    with pytest.raises(ParameterError, match=r"'engine.backend' must be one of \['pandas', 'duckdb', 'polars', "):
        resolve_params({"engine": {"backend": "dask"}})
    with pytest.raises(ParameterError, match=r"without a token.*got 'sc://h:15002/'"):
        resolve_params({"engine": {"spark_connect_url": "sc://h:15002/;token=SECRET"}})
    with pytest.raises(ParameterError, match="must be a Spark Connect URL"):
        resolve_params({"engine": {"spark_connect_url": "spark://h:7077"}})


def test_as_backend_rejects_unknown_backends_and_missing_sessions(sample):
    with pytest.raises(ValueError, match=r"backend must be one of .*got 'dask'"):
        as_backend(sample["transactions"], "dask")
    with pytest.raises(ValueError, match="backend='spark' needs a SparkSession"):
        as_backend(sample["transactions"], "spark")
    assert as_backend(sample["transactions"]) is sample["transactions"]
