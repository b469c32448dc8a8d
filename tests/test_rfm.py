"""Tests for crmtools.rfm: known answers, segment maps, migration, properties, engines, bad input."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from crmtools import rfm
from crmtools.plotting.rfm import plot_migration_heatmap, plot_rfm_heatmap, plot_segment_bars
from crmtools.reporting.i18n import segment_labels
from crmtools.rfm import (
    DEFAULT_THRESHOLDS,
    INACTIVE,
    RFM_COLUMNS,
    SegmentMap,
    load_segment_map,
    migration_matrix,
    rfm_grid,
    rfm_table,
    segment_migration,
    segment_summary,
)
from crmtools.sampledata import SampleConfig, generate_sample

AS_OF = pd.Timestamp("2025-11-01")


@pytest.fixture
def tiny(make_transactions):
    """Hand-checkable transactions; as of 2025-11-01 with a 365-day window from 2024-11-01."""
    return make_transactions(
        [
            # a: two orders in the window (one with two lines), one return order -> F 2, M 3000, last 10-31 -> R 1 day
            ("A1", "a", "2025-10-31 23:00", 1, 1000.0),
            ("A1", "a", "2025-10-31 23:00", 1, 500.0),
            ("A2", "a", "2025-06-15 12:00", 2, 2000.0),
            ("AR", "a", "2025-10-05 09:00", -1, -500.0),
            # b: one order exactly at the window start (counted), one the instant before (not) -> R 365
            ("B1", "b", "2024-11-01 00:00", 1, 800.0),
            ("B0", "b", "2024-10-31 23:59:59", 1, 9999.0),
            # c: five orders of 10,000 -> F 5, M 50,000, last 2025-09-01 -> R 61
            *[(f"C{i}", "c", f"2025-0{i + 4}-01 10:00", 1, 10000.0) for i in range(1, 6)],
            # d: only a return in the window -> not in the table
            ("D1", "d", "2024-05-01 10:00", 1, 700.0),
            ("DR", "d", "2025-01-10 10:00", -1, -300.0),
            # e: an order at exactly as_of (excluded) and one on 2025-10-01 -> R 31
            ("E2", "e", "2025-11-01 00:00", 1, 99999.0),
            ("E1", "e", "2025-10-01 08:00", 1, 1200.0),
            # f: one order with a free gift line -> F 1, M 4500, R 12
            ("F1", "f", "2025-10-20 18:00", 3, 4500.0),
            ("F1", "f", "2025-10-20 18:00", 1, 0.0),
            # a guest order -> never a customer
            ("G1", None, "2025-10-10 10:00", 1, 5000.0),
        ]
    )


# ----------------------------------------------------------------------------- known answers


def test_rfm_values_known_answer(tiny):
    out = rfm_table(tiny, as_of=AS_OF)
    assert list(out.columns) == RFM_COLUMNS
    assert out["customer_id"].tolist() == ["a", "b", "c", "e", "f"]
    assert out["recency_days"].tolist() == [1, 365, 61, 31, 12]
    assert out["frequency"].tolist() == [2, 1, 5, 1, 1]
    assert out["monetary"].tolist() == [3000.0, 800.0, 50000.0, 1200.0, 4500.0]


def test_quantile_scores_known_answer(tiny):
    # n = 5, so score = 1 + number of strictly worse customers.
    out = rfm_table(tiny, as_of=AS_OF).set_index("customer_id")
    assert out["r_score"].to_dict() == {"a": 5, "b": 1, "c": 2, "e": 3, "f": 4}
    assert out["f_score"].to_dict() == {"a": 4, "b": 1, "c": 5, "e": 1, "f": 1}
    assert out["m_score"].to_dict() == {"a": 3, "b": 1, "c": 5, "e": 2, "f": 4}
    assert out["rfm_cell"].to_dict() == {"a": "543", "b": "111", "c": "255", "e": "312", "f": "414"}
    assert out["segment"].to_dict() == {
        "a": "Loyal",
        "b": "Lost",
        "c": "Can't Lose Them",
        "e": "About to Sleep",
        "f": "Promising",
    }


def test_threshold_scores_known_answer(tiny):
    out = rfm_table(tiny, as_of=AS_OF, scoring="thresholds").set_index("customer_id")
    assert out["rfm_cell"].to_dict() == {"a": "521", "b": "111", "c": "344", "e": "411", "f": "511"}
    assert out["segment"].to_dict() == {
        "a": "Potential Loyalist",
        "b": "Lost",
        "c": "Loyal",
        "e": "Promising",
        "f": "New",
    }


@pytest.mark.parametrize("orders, expected", [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (9, 4), (10, 5), (14, 5)])
def test_frequency_threshold_bins(orders, expected, make_transactions):
    tx = make_transactions([(f"o{i}", "x", "2025-10-01", 1, 100.0) for i in range(orders)])
    out = rfm_table(tx, as_of=AS_OF, scoring="thresholds")
    assert out["f_score"].tolist() == [expected]


@pytest.mark.parametrize(
    "days_ago, expected", [(1, 5), (30, 5), (31, 4), (60, 4), (61, 3), (90, 3), (91, 2), (180, 2), (181, 1)]
)
def test_recency_threshold_bounds_are_inclusive(days_ago, expected, make_transactions):
    tx = make_transactions([("o1", "x", AS_OF - pd.Timedelta(days=days_ago) + pd.Timedelta(hours=12), 1, 100.0)])
    out = rfm_table(tx, as_of=AS_OF, scoring="thresholds")
    assert out["recency_days"].tolist() == [days_ago]
    assert out["r_score"].tolist() == [expected]


def test_custom_thresholds_merge_with_defaults(tiny):
    out = rfm_table(
        tiny, as_of=AS_OF, scoring="thresholds", thresholds={"monetary": [1000, 2000, 3000, 4000]}
    ).set_index("customer_id")
    assert out["m_score"].to_dict() == {"a": 4, "b": 1, "c": 5, "e": 2, "f": 5}
    assert out["f_score"].to_dict() == {"a": 2, "b": 1, "c": 4, "e": 1, "f": 1}  # default frequency bins


@pytest.mark.parametrize(
    "thresholds, match",
    [
        ({"monetary": [1, 2, 3]}, "four strictly increasing"),
        ({"monetary": [1, 2, 2, 3]}, "four strictly increasing"),
        ({"recency": [30, "60", 90, 180]}, "four strictly increasing"),
        ({"value": [1, 2, 3, 4]}, "Unknown RFM threshold"),
    ],
)
def test_bad_thresholds_are_rejected(tiny, thresholds, match):
    with pytest.raises(ValueError, match=match):
        rfm_table(tiny, as_of=AS_OF, scoring="thresholds", thresholds=thresholds)


def test_lookback_window(tiny):
    out = rfm_table(tiny, as_of=AS_OF, lookback_days=30)
    # Only purchases on or after 2025-10-02: a (A1), f (F1); e's order on 10-01 08:00 is outside.
    assert out["customer_id"].tolist() == ["a", "f"]
    assert out.set_index("customer_id")["monetary"].to_dict() == {"a": 1000.0, "f": 4500.0}  # a's return counted


def test_segments_are_names_and_labels_come_from_the_map(tiny):
    out = rfm_table(tiny, as_of=AS_OF).set_index("customer_id")
    assert list(out.columns) == RFM_COLUMNS[1:] and "segment_label" not in out.columns
    labels = segment_labels(language="ja")
    assert out.loc["b", "segment"] == "Lost" and labels["Lost"] == "離反顧客"
    assert out.loc["f", "segment"] == "Promising" and labels["Promising"] == "有望顧客"


def test_language_is_deprecated_with_identical_labels(tiny):
    # The old language= keeps working for a release, with a FutureWarning and the labels it gave.
    with pytest.warns(FutureWarning, match=r"rfm_table\(\): language= is deprecated"):
        out = rfm_table(tiny, as_of=AS_OF, language="ja").set_index("customer_id")
    assert list(out.columns) == [*RFM_COLUMNS[1:], "segment_label"]
    assert out.loc["b", "segment_label"] == "離反顧客" and out.loc["f", "segment_label"] == "有望顧客"
    with pytest.warns(FutureWarning, match="segment_summary"):
        summary = segment_summary(out.reset_index(), language="ja")
    assert summary.columns[1] == "segment_label"
    assert summary.set_index("segment").loc["Lost", "segment_label"] == "離反顧客"
    migration = segment_migration(rfm_table(tiny, as_of="2025-10-01"), out.reset_index())
    with pytest.warns(FutureWarning, match="migration_matrix"):
        wide = migration_matrix(migration, language="ja")
    assert "非アクティブ" in wide.index
    from crmtools import rfm

    with pytest.warns(FutureWarning, match="crmtools.reporting.i18n.segment_labels"):
        assert rfm.segment_labels(language="ja") == segment_labels(language="ja")


def test_as_of_accepts_a_period(tiny):
    from crmtools.periods import parse_period

    pd.testing.assert_frame_equal(rfm_table(tiny, as_of=parse_period("2025-10")), rfm_table(tiny, as_of=AS_OF))


def test_cents_are_exact(make_transactions):
    tx = make_transactions(
        [("o1", "x", "2025-10-01", 1, 0.1), ("o2", "x", "2025-10-02", 1, 0.2), ("o3", "x", "2025-10-03", 1, 0.7)]
    )
    assert rfm_table(tx, as_of=AS_OF)["monetary"].tolist() == [1.0]


def test_integer_customer_ids_work(make_transactions):
    tx = make_transactions([("o1", "x", "2025-10-01", 1, 100.0), ("o2", "y", "2025-10-05", 1, 300.0)])
    tx["customer_id"] = [10, 2]
    out = rfm_table(tx, as_of=AS_OF)
    assert out["customer_id"].tolist() == [2, 10]


# ----------------------------------------------------------------------------- segment maps


def test_default_map_covers_every_cell_once():
    smap = load_segment_map()
    assert isinstance(smap, SegmentMap)
    assert smap.names == [
        "Champions",
        "Loyal",
        "Potential Loyalist",
        "New",
        "Promising",
        "Need Attention",
        "About to Sleep",
        "At Risk",
        "Can't Lose Them",
        "Hibernating",
        "Lost",
    ]
    cells = [cell for seg in smap.segments for cell in seg.cells]
    assert len(cells) == 125 and len(set(cells)) == 125
    english, japanese = segment_labels(language="en"), segment_labels(language="ja")  # labels: the report's
    assert all(japanese[name] != english[name] for name in smap.names)
    assert smap.segment_of("555") == "Champions" and smap.segment_of("553") == "Loyal"
    assert smap.segment_of("111") == "Lost" and smap.segment_of("151") == "Can't Lose Them"


def _box_map(*segments):
    return {"name": "test", "segments": [{"name": n, "rules": rules} for n, rules in segments]}


def test_overlapping_map_names_cells_and_segments():
    spec = _box_map(("Top", [{"r": [4, 5]}]), ("Recent", [{"r": 5}]), ("Rest", [{"r": [1, 3]}]))
    with pytest.raises(ValueError, match=r"25 cells fall in more than one segment.*511 \(Top and Recent\)"):
        load_segment_map(spec)


def test_map_with_gaps_names_cells():
    spec = _box_map(("Top", [{"r": [2, 5]}]), ("Lost", [{"r": 1, "f": [1, 4]}]))
    with pytest.raises(ValueError, match=r"5 cells fall in no segment: 151, 152, 153, 154, 155"):
        load_segment_map(spec)


def test_map_with_explicit_cells_and_yaml_file(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "name: two\nsegments:\n"
        "  - name: Best\n    label: {en: Best, ja: 最良}\n    cells: ['555']\n"
        "  - name: Others\n    label: Others\n    rules:\n      - {r: [1, 4]}\n      - {r: 5, f: [1, 4]}\n"
        "      - {r: 5, f: 5, m: [1, 4]}\n",
        encoding="utf-8",
    )
    smap = load_segment_map(path)
    assert smap.name == "two" and smap.names == ["Best", "Others"]
    assert smap.labels("ja") == {"Best": "最良", "Others": "Others"}
    assert load_segment_map(str(path)) == smap


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"segments": []}, "non-empty list"),
        ({"segmnts": []}, "expected a mapping with a 'segments' list"),
        ({"segments": [{"name": "x", "rules": [{"r": [0, 5]}]}]}, r"1 <= low <= high <= 5"),
        ({"segments": [{"name": "x", "rules": [{"r": [5, 1]}]}]}, r"1 <= low <= high <= 5"),
        ({"segments": [{"name": "x", "rules": [{"q": 1}]}]}, "unknown score axis"),
        ({"segments": [{"name": "x"}]}, "needs 'rules'"),
        ({"segments": [{"name": "x", "cells": ["565"]}]}, "three digits 1-5"),
        ({"segments": [{"name": "x", "rules": [{}]}, {"name": "x", "rules": [{}]}]}, "must be unique"),
        ({"segments": [{"name": "Inactive", "rules": [{}]}]}, "reserved"),
        ({"segments": [{"rules": [{}]}]}, "needs a text 'name'"),
        ({"segments": [{"name": "x", "rules": [{}], "first_purchase": "ever"}]}, "must be 'in_window'"),
        ({"segments": [{"name": "x", "rules": [{}], "first_purchase": "in_window"}]}, "come with 'otherwise'"),
        ({"segments": [{"name": "x", "rules": [{}], "first_purchase": "in_window", "otherwise": "y"}]}, "another"),
    ],
)
def test_malformed_maps_are_rejected(spec, match):
    with pytest.raises(ValueError, match=match):
        load_segment_map(spec)


def test_map_file_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_segment_map(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: [unclosed", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_segment_map(bad)
    with pytest.raises(TypeError, match="segment_map must be"):
        load_segment_map(42)


def test_user_map_is_used(tiny):
    spec = _box_map(("Recent", [{"r": [4, 5]}]), ("Older", [{"r": [1, 3]}]))
    out = rfm_table(tiny, as_of=AS_OF, segment_map=spec).set_index("customer_id")
    assert out["segment"].to_dict() == {"a": "Recent", "b": "Older", "c": "Older", "e": "Older", "f": "Recent"}
    assert segment_labels(spec, "ja") == {"Recent": "Recent", "Older": "Older", INACTIVE: "非アクティブ"}


# ----------------------------------------------------------------------------- summaries and migration


def test_segment_summary_known_answer():
    rfm = pd.DataFrame(
        {
            "segment": ["Lost", "Champions", "Champions", "Lost"],
            "recency_days": [300, 3, 9, 200],
            "frequency": [1, 6, 4, 1],
            "monetary": [1000.0, 60000.0, 40000.0, 3000.0],
        }
    )
    out = segment_summary(rfm)
    assert out.columns.tolist() == [
        "segment",
        "customers",
        "share",
        "revenue",
        "revenue_share",
        "average_order_value",
        "mean_recency_days",
        "mean_frequency",
    ]
    assert out["segment"].tolist() == ["Champions", "Lost"]
    assert out["customers"].tolist() == [2, 2]
    assert out["share"].tolist() == [0.5, 0.5]
    assert out["revenue"].tolist() == [100000.0, 4000.0]
    assert out["average_order_value"].tolist() == [10000.0, 2000.0]
    assert out["mean_recency_days"].tolist() == [6.0, 250.0]
    assert out["revenue_share"].sum() == pytest.approx(1.0)


def test_segment_summary_rejects_unknown_segments():
    rfm = pd.DataFrame({"segment": ["VIP"], "recency_days": [1], "frequency": [1], "monetary": [1.0]})
    with pytest.raises(ValueError, match=r"\['VIP'\] that the segment map"):
        segment_summary(rfm)


def test_segment_summary_of_empty_table_is_empty(make_transactions):
    rfm = rfm_table(make_transactions([]), as_of=AS_OF)
    out = segment_summary(rfm)
    assert out.empty and "average_order_value" in out.columns


def test_migration_known_answer():
    before = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "segment": ["Champions", "Champions", "Lost", "New"]})
    after = pd.DataFrame(
        {"customer_id": ["a", "b", "d", "e", "f"], "segment": ["Champions", "At Risk", "Promising", "New", "New"]}
    )
    out = segment_migration(before, after)
    assert out.to_dict("records") == [
        {
            "from_segment": "Champions",
            "to_segment": "Champions",
            "customers": 1,
            "share_of_from": 0.5,
            "share_of_total": 1 / 6,
        },
        {
            "from_segment": "Champions",
            "to_segment": "At Risk",
            "customers": 1,
            "share_of_from": 0.5,
            "share_of_total": 1 / 6,
        },
        {
            "from_segment": "New",
            "to_segment": "Promising",
            "customers": 1,
            "share_of_from": 1.0,
            "share_of_total": 1 / 6,
        },
        {"from_segment": "Lost", "to_segment": INACTIVE, "customers": 1, "share_of_from": 1.0, "share_of_total": 1 / 6},
        {"from_segment": INACTIVE, "to_segment": "New", "customers": 2, "share_of_from": 1.0, "share_of_total": 2 / 6},
    ]
    labels = segment_labels(language="ja")
    wide = migration_matrix(out, values="share_of_from").rename(index=labels, columns=labels)
    assert wide.loc["優良顧客", "離反危険顧客"] == 0.5
    assert wide.loc["非アクティブ", "新規顧客"] == 1.0
    assert wide.loc["離反顧客", "非アクティブ"] == 1.0
    counts = migration_matrix(out)
    assert int(counts.to_numpy().sum()) == 6


def test_migration_between_two_rfm_tables(tiny):
    before = rfm_table(tiny, as_of="2025-10-01")
    after = rfm_table(tiny, as_of=AS_OF)
    out = segment_migration(before, after)
    ids_before, ids_after = set(before["customer_id"]), set(after["customer_id"])
    assert out["customers"].sum() == len(ids_before | ids_after)
    inactive_rows = out[out["from_segment"] == INACTIVE]
    assert inactive_rows["customers"].sum() == len(ids_after - ids_before)
    shares = out.groupby("from_segment")["share_of_from"].sum()
    assert np.allclose(shares.to_numpy(), 1.0)


def test_migration_rejects_mixed_frame_kinds():
    before = pd.DataFrame({"customer_id": ["a"], "segment": ["New"]})
    with pytest.raises(TypeError, match="same kind of frame"):
        segment_migration(before, duckdb.from_df(before))


def test_rfm_grid_counts_every_customer(tiny):
    rfm = rfm_table(tiny, as_of=AS_OF)
    grid = rfm_grid(rfm)
    assert len(grid) == 25 and grid["customers"].sum() == len(rfm)
    assert grid.set_index(["r_score", "f_score"]).loc[(5, 4), "customers"] == 1  # customer a
    with pytest.raises(ValueError, match="two different scores"):
        rfm_grid(rfm, rows="r_score", columns="r_score")


# ----------------------------------------------------------------------------- properties

_customers = st.sampled_from(["c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08"])
_line = st.tuples(
    st.integers(0, 30),  # order number
    _customers,
    st.integers(0, 500),  # days before as_of
    st.sampled_from([1, 1, 1, 2, -1]),
    st.integers(1, 50).map(lambda v: v * 100.0),
)


def _random_rows(lines):
    rows = []
    for order, customer, days, quantity, price in lines:
        when = AS_OF - pd.Timedelta(days=days, hours=3)
        rows.append((f"{customer}-{order}-{days}", customer, when, quantity, quantity * price))
    return rows


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    lines=st.lists(_line, min_size=1, max_size=40),
    scoring=st.sampled_from(["quantile", "thresholds"]),
    seed=st.integers(0, 2**16),
)
def test_properties_scores_segments_and_row_order(lines, scoring, seed, make_transactions):
    tx = make_transactions(_random_rows(lines))
    out = rfm_table(tx, as_of=AS_OF, scoring=scoring)
    for col in ("r_score", "f_score", "m_score"):
        assert out[col].between(1, 5).all()
    assert out["customer_id"].is_unique
    smap = load_segment_map()
    assert (out["segment"] == out["rfm_cell"].map(smap.segment_of)).all()
    # every customer with a purchase in the window is there exactly once
    window = tx[(tx["order_datetime"] >= AS_OF - pd.Timedelta(days=365)) & (tx["quantity"] > 0)]
    assert set(out["customer_id"]) == set(window["customer_id"])
    shuffled = tx.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    pd.testing.assert_frame_equal(rfm_table(shuffled, as_of=AS_OF, scoring=scoring), out)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(values=st.lists(st.integers(0, 5), min_size=1, max_size=30))
def test_quantile_scores_depend_only_on_value(values, make_transactions):
    tx = make_transactions(
        [(f"o{i}", f"c{i:02d}", "2025-10-01", 1, float(v * 100 + 100)) for i, v in enumerate(values)]
    )
    out = rfm_table(tx, as_of=AS_OF)
    per_value = out.groupby("monetary")["m_score"].nunique()
    assert (per_value == 1).all()  # tied customers share a score
    ordered = out.sort_values("monetary")
    assert ordered["m_score"].is_monotonic_increasing
    assert ordered["m_score"].iloc[0] == 1


# ----------------------------------------------------------------------------- cross-check and engines


@pytest.fixture(scope="module")
def sample():
    tables, _ = generate_sample(SampleConfig(customers=3000, months=24, seed=11))
    return tables["transactions"]


def _pandas_rfm(tx, as_of, lookback_days=365):
    """Independent plain-pandas RFM (values and quantile scores)."""
    start = as_of - pd.Timedelta(days=lookback_days)
    w = tx[tx["customer_id"].notna() & (tx["order_datetime"] >= start) & (tx["order_datetime"] < as_of)]
    buys = w[w["quantity"] > 0]
    out = pd.DataFrame(
        {
            "last": buys.groupby("customer_id")["order_datetime"].max(),
            "frequency": buys.groupby("customer_id")["order_id"].nunique(),
        }
    ).join(w.groupby("customer_id")["amount"].sum().rename("monetary"), how="left")
    out["recency_days"] = (as_of.normalize() - out["last"].dt.normalize()).dt.days
    n = len(out)
    out["r_score"] = 1 + 5 * (out["recency_days"].rank(method="min", ascending=False).astype(int) - 1) // n
    out["f_score"] = 1 + 5 * (out["frequency"].rank(method="min").astype(int) - 1) // n
    out["m_score"] = 1 + 5 * (out["monetary"].round(2).rank(method="min").astype(int) - 1) // n
    return out.sort_index()


def test_cross_check_against_plain_pandas(sample):
    as_of = pd.Timestamp("2025-10-01")
    ours = rfm_table(sample, as_of=as_of).set_index("customer_id")
    expected = _pandas_rfm(sample, as_of)
    assert len(ours) > 1500
    assert ours.index.tolist() == expected.index.tolist()
    for col in ("recency_days", "frequency", "r_score", "f_score", "m_score"):
        assert ours[col].tolist() == expected[col].astype("int64").tolist(), col
    np.testing.assert_allclose(ours["monetary"], expected["monetary"], atol=0.005)


def test_engines_give_identical_results(sample):
    expected = rfm_table(sample, as_of="2025-06-01", scoring="quantile")
    as_polars = rfm_table(pl.from_pandas(sample.drop(columns=["campaign_id"])), as_of="2025-06-01")
    as_duckdb = rfm_table(duckdb.from_df(sample.drop(columns=["campaign_id"])), as_of="2025-06-01")
    pd.testing.assert_frame_equal(as_polars, expected)
    pd.testing.assert_frame_equal(as_duckdb, expected)


@pytest.mark.filterwarnings("ignore:Found complex group-by expression")
def test_pandas_engines_agree(sample, monkeypatch):
    import crmtools.engine as engine

    # narwhals' pandas backend is slow for grouped expressions: a small slice
    small = sample[sample["order_datetime"] >= "2025-03-01"].iloc[:1500]
    expected = rfm_table(small, as_of="2025-06-01")
    assert len(expected) > 500
    for name in ("duckdb", "pandas"):
        monkeypatch.setattr(engine, "PANDAS_ENGINE", name)
        pd.testing.assert_frame_equal(rfm_table(small, as_of="2025-06-01"), expected)


def test_input_is_not_mutated(sample):
    before = sample.copy(deep=True)
    rfm_table(sample, as_of="2025-06-01", scoring="thresholds")
    pd.testing.assert_frame_equal(sample, before)


# ----------------------------------------------------------------------------- bad input


def test_empty_window_gives_empty_frame_with_columns(tiny):
    out = rfm_table(tiny, as_of="2020-01-01")
    assert out.empty and list(out.columns) == RFM_COLUMNS
    assert out["r_score"].dtype == "int64" and out["monetary"].dtype == "float64"


def test_one_customer_and_all_tied_score_one(make_transactions):
    one = make_transactions([("o1", "x", "2025-10-01", 1, 100.0)])
    assert rfm_table(one, as_of=AS_OF)[["r_score", "f_score", "m_score"]].iloc[0].tolist() == [1, 1, 1]
    tied = make_transactions([(f"o{i}", f"c{i}", "2025-10-01", 1, 100.0) for i in range(7)])
    out = rfm_table(tied, as_of=AS_OF)
    assert set(out["rfm_cell"]) == {"111"} and set(out["segment"]) == {"Lost"}


def test_missing_amounts_are_an_error(tiny):
    tiny.loc[0, "amount"] = np.nan
    with pytest.raises(ValueError, match=r"1 line in the RFM window has no 'amount'"):
        rfm_table(tiny, as_of=AS_OF)
    # outside the window a missing amount does not matter
    assert len(rfm_table(tiny, as_of="2025-07-01")) > 0


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"as_of": None}, TypeError, "as_of must be a date"),
        ({"as_of": "not a date"}, ValueError, "as_of must be a date"),
        ({"as_of": pd.Timestamp("2025-11-01", tz="UTC")}, ValueError, "timezone-naive"),
        ({"as_of": AS_OF, "lookback_days": 0}, ValueError, "lookback_days must be a positive"),
        ({"as_of": AS_OF, "scoring": "kmeans"}, ValueError, "scoring must be one of"),
        ({"as_of": AS_OF, "language": "fr"}, ValueError, "Invalid language: allowed: 'en', 'ja'; received: 'fr'"),
        ({"as_of": AS_OF, "amount_col": "value"}, ValueError, "transactions is missing column 'value'; allowed: "),
    ],
)
@pytest.mark.filterwarnings("ignore::FutureWarning")  # language= is deprecated
def test_bad_arguments(tiny, kwargs, error, match):
    with pytest.raises(error, match=match):
        rfm_table(tiny, **kwargs)


def test_wrong_column_types(tiny):
    with pytest.raises(TypeError, match="'order_datetime' has the wrong type; allowed: a datetime"):
        rfm_table(tiny.astype({"order_datetime": "str"}), as_of=AS_OF)
    with pytest.raises(TypeError, match="'amount' has the wrong type; allowed: numbers"):
        rfm_table(tiny.astype({"amount": "str"}), as_of=AS_OF)
    with pytest.raises(TypeError, match="transactions has the wrong type"):
        rfm_table([1, 2, 3], as_of=AS_OF)


def test_default_thresholds_are_increasing():
    for cuts in DEFAULT_THRESHOLDS.values():
        assert list(cuts) == sorted(set(cuts)) and len(cuts) == 4


# ----------------------------------------------------------------------------- plots


def test_plots_draw_on_the_given_axes(tiny):
    rfm = rfm_table(tiny, as_of=AS_OF)
    ax = Figure().subplots()
    summary = segment_summary(rfm)
    assert plot_segment_bars(summary, language="ja", ax=ax) is ax
    assert len(ax.patches) == 5 and ax.get_xlabel() == "顧客数"
    labels = segment_labels(language="ja")
    assert [t.get_text() for t in ax.get_yticklabels()] == [labels[s] for s in summary["segment"]]
    ax = Figure().subplots()
    assert plot_rfm_heatmap(rfm_grid(rfm), ax=ax) is ax
    assert ax.get_ylabel() == "Recency score (R)"
    ax = Figure().subplots()
    migration = segment_migration(rfm_table(tiny, as_of="2025-10-01"), rfm)
    assert plot_migration_heatmap(migration, ax=ax) is ax
    assert ax.get_xlabel() == "This period"
    ax = Figure().subplots()
    plot_migration_heatmap(migration, language="ja", ax=ax)
    assert "非アクティブ" in [t.get_text() for t in ax.get_yticklabels()]
    with pytest.raises(ValueError, match="value must be one of"):
        plot_segment_bars(segment_summary(rfm), value="median", ax=Figure().subplots())


def test_quantile_boundaries_are_exact_integer_arithmetic(make_transactions):
    # 1815 customers: 5 * 363 / 1815 is exactly 1, a boundary that float division through a
    # reciprocal (as polars does for a broadcast divisor) puts just below 1.
    tx = make_transactions([(f"o{i}", f"c{i:04d}", "2025-10-01", 1, float(100 + i)) for i in range(1815)])
    for data in (tx, duckdb.from_df(tx)):
        out = rfm_table(data, as_of=AS_OF)
        assert out["m_score"].value_counts().sort_index().tolist() == [363] * 5
        assert out.set_index("customer_id").loc["c0363", "m_score"] == 2


def test_new_means_a_first_purchase_ever_in_the_window(make_transactions):
    # b and c bought once, two days ago (R5 F1 with thresholds); b had also bought three years ago,
    # before the 365-day window: a lapsed customer come back is not new (issue 13).
    tx = make_transactions(
        [("b0", "b", "2022-10-05", 1, 100.0), ("b1", "b", "2025-10-30", 1, 100.0), ("c1", "c", "2025-10-30", 1, 100.0)]
    )
    out = rfm_table(tx, as_of="2025-11-01", scoring="thresholds").set_index("customer_id")
    assert out["rfm_cell"].tolist() == ["511", "511"]  # the same scores ...
    assert out["segment"].to_dict() == {"b": "Promising", "c": "New"}  # ... but only c's first purchase is new
    smap = load_segment_map()
    new = next(seg for seg in smap.segments if seg.name == "New")
    assert new.first_purchase_in_window and new.otherwise == "Promising"
    assert "first purchase ever in the window" in new.description["en"].lower()  # the map says so
    # a map without the rule keeps the old meaning (scores only)
    plain = load_segment_map(_box_map(("New", [{"r": 5, "f": 1}]), ("Rest", [{"r": [1, 4]}, {"r": 5, "f": [2, 5]}])))
    assert set(rfm_table(tx, as_of="2025-11-01", scoring="thresholds", segment_map=plain)["segment"]) == {"New"}


def test_the_same_rfm_table_asked_twice_is_computed_once(monkeypatch):
    """A page's target lists and its growth ladder ask for the same RFM table of the same frame: computed once,
    a caller's added column stays its own, a frame written in place or other arguments compute it again."""
    import crmtools.rfm as rfm_module

    tx, _ = generate_sample(SampleConfig(customers=300, months=6, seed=5))
    tx = tx["transactions"]
    computed = []
    real = rfm_module._rfm_frame
    monkeypatch.setattr(rfm_module, "_rfm_frame", lambda *a, **k: (computed.append(1), real(*a, **k))[1])
    first = rfm_table(tx, as_of="2025-06-01")
    first["mine"] = 1  # a caller's column
    again = rfm_table(tx, as_of="2025-06-01")
    assert len(computed) == 1 and "mine" not in again.columns
    pd.testing.assert_frame_equal(again, first.drop(columns="mine"))
    with pytest.warns(FutureWarning):
        worded = rfm_table(tx, as_of="2025-06-01", language="en")  # the old form adds its labels to its own copy
    assert len(computed) == 1 and "segment_label" in worded.columns
    assert "segment_label" not in rfm_table(tx, as_of="2025-06-01").columns
    rfm_table(tx, as_of="2025-06-01", lookback_days=90)
    assert len(computed) == 2
    tx.loc[tx.index[0], "amount"] = tx["amount"].iloc[0] + 1000.0  # written in place: computed again
    changed = rfm_table(tx, as_of="2025-06-01")
    assert len(computed) == 3
    pd.testing.assert_frame_equal(changed, rfm_table(tx.copy(), as_of="2025-06-01"))


def test_a_segment_map_text_is_parsed_once_and_every_caller_gets_its_own_map(monkeypatch, tmp_path):
    import yaml

    calls = []
    real = yaml.safe_load
    monkeypatch.setattr(yaml, "safe_load", lambda text: calls.append(text) or real(text))
    rfm._yaml_document.cache_clear()
    first = rfm.load_segment_map()
    first.segments[0].labels["en"] = "edited by a caller"
    second = rfm.load_segment_map()
    assert len(calls) == 1  # the built-in map's text, parsed once
    assert second.segments[0].labels.get("en") != "edited by a caller"
    assert second == rfm.load_segment_map()
    # a file's new text is parsed again (the cache is keyed by the text, not the path)
    path = tmp_path / "map.yaml"
    text = rfm.resources.files("crmtools").joinpath("data", "segments_default.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    assert rfm.load_segment_map(path).names == second.names
    path.write_text(text.replace("name: Champions", "name: Stars", 1), encoding="utf-8")
    assert "Stars" in rfm.load_segment_map(path).names
    assert len(calls) == 2
    rfm._yaml_document.cache_clear()
