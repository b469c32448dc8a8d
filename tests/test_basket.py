"""Tests for crmtools.basket: exactness against mlxtend, planted pairs, degenerate input, recommendations."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crmtools import _itemsets
from crmtools.basket import (
    ITEMSET_COLUMNS,
    RULE_COLUMNS,
    association_rules,
    customer_recommendations,
    customer_rules,
    frequent_itemsets,
    recommend_items,
    rule_drift,
    rule_sentences,
)

mlxtend = pytest.importorskip("mlxtend")
from mlxtend.frequent_patterns import association_rules as mlx_rules  # noqa: E402
from mlxtend.frequent_patterns import fpgrowth as mlx_fpgrowth  # noqa: E402
from mlxtend.preprocessing import TransactionEncoder  # noqa: E402

GROCERIES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "groceries.csv"
METRICS = ["antecedent_support", "consequent_support", "support", "confidence", "lift", "leverage", "conviction"]


# --------------------------------------------------------------------------- helpers


def retail_baskets(n_baskets: int = 3000, n_items: int = 60, seed: int = 0, planted=((0, 1, 0.05),)):
    """Groceries-like baskets with planted pairs.

    Items have Zipf-like background popularity; "shopping missions" (groups
    of eight items from item 12 on, one or two per basket) make longer
    itemsets frequent; each planted pair ``(a, b, share)`` is bought together
    in ``share`` of the baskets on top of a 4% background each. Returns the
    baskets and the exact expected lift of each planted pair.
    """
    rng = np.random.default_rng(seed)
    background = 0.2 / np.arange(1, n_items + 1) ** 0.8
    prob = np.tile(background, (n_baskets, 1))
    missions = rng.permutation(np.arange(12, n_items))[:48].reshape(6, 8)
    active = rng.random((n_baskets, 6)) < 0.15
    for m in range(6):
        prob[np.ix_(active[:, m], missions[m])] = 0.45
    for a, b, _ in planted:
        prob[:, [a, b]] = 0.04
    present = rng.random((n_baskets, n_items)) < prob
    lifts = {}
    for a, b, share in planted:
        both = rng.random(n_baskets) < share
        present[both, a] = present[both, b] = True
        pa = 1 - (1 - share) * (1 - 0.04)
        lifts[(f"item{a}", f"item{b}")] = (share + (1 - share) * 0.04 * 0.04) / (pa * pa)
    baskets = [[f"item{j}" for j in np.flatnonzero(row)] for row in present]
    return baskets, lifts


def mlxtend_reference(baskets, min_count: int, max_len=None):
    """mlxtend's itemsets and (all) rules at an absolute count, through a float threshold that is exact."""
    if min_count > len(baskets):
        return pd.DataFrame({"support": [], "itemsets": []}), None
    te = TransactionEncoder()
    onehot = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
    # (min_count - 0.5) / n is between two counts, so mlxtend's float and integer tests agree.
    fi = mlx_fpgrowth(onehot, min_support=(min_count - 0.5) / len(baskets), use_colnames=True, max_len=max_len)
    rules = None
    if len(fi):
        with np.errstate(divide="ignore", invalid="ignore"):  # mlxtend divides by zero for certainty
            rules = mlx_rules(fi, len(baskets), metric="confidence", min_threshold=0.0)
        rules = rules.rename(columns=lambda c: c.replace(" ", "_"))
    return fi, rules


def assert_same_itemsets(ours: pd.DataFrame, ref: pd.DataFrame):
    mine = dict(zip(ours["itemsets"], ours["support"]))
    theirs = dict(zip(ref["itemsets"], ref["support"]))
    assert len(mine) == len(ours), "duplicate itemsets"
    assert mine.keys() == theirs.keys()
    for key, value in theirs.items():
        assert mine[key] == pytest.approx(value, rel=1e-12, abs=0)


def assert_same_rules(ours: pd.DataFrame, ref: pd.DataFrame | None):
    if ref is None or len(ref) == 0:
        assert len(ours) == 0
        return
    merged = ref.merge(ours, on=["antecedents", "consequents"], how="outer", suffixes=("_ref", ""), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", ["antecedents", "consequents"]]
    for metric in METRICS:
        np.testing.assert_allclose(
            merged[metric].to_numpy(float),
            merged[f"{metric}_ref"].to_numpy(float),
            rtol=1e-9,
            atol=1e-12,
            err_msg=metric,
        )


def canonical(rows) -> pd.DataFrame:
    """Transactions from (order, customer, product, quantity) tuples; dates one day apart per order."""
    frame = pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id", "quantity"])
    day = pd.factorize(frame["order_id"])[0]
    frame["order_datetime"] = pd.Timestamp("2025-01-01") + pd.to_timedelta(day, unit="D")
    frame["unit_price"] = 100.0
    frame["amount"] = frame["quantity"] * frame["unit_price"]
    frame["channel"] = "web"
    return frame


# --------------------------------------------------------------------------- exactness against mlxtend


@pytest.fixture(scope="module")
def retail():
    return retail_baskets()


@pytest.mark.parametrize("min_count", [10, 40, 100])
def test_itemsets_and_all_rules_match_mlxtend(retail, min_count):
    baskets, _ = retail
    fi = frequent_itemsets(baskets, min_support=min_count)
    ref_fi, ref_rules = mlxtend_reference(baskets, min_count)
    assert len(fi) > 10
    assert_same_itemsets(fi, ref_fi)
    rules = association_rules(fi, metric="confidence", min_threshold=0.0, max_consequent_len=None)
    assert_same_rules(rules, ref_rules)


def test_single_consequent_rules_match_mlxtend_subset(retail):
    baskets, _ = retail
    fi = frequent_itemsets(baskets, min_support=20)
    _, ref = mlxtend_reference(baskets, 20)
    ref = ref[ref["consequents"].map(len) == 1]
    rules = association_rules(fi, min_threshold=0.0)
    assert (rules["consequents"].map(len) == 1).all()
    assert_same_rules(rules, ref)


def test_max_len_matches_mlxtend(retail):
    baskets, _ = retail
    fi = frequent_itemsets(baskets, min_support=15, max_len=2)
    ref, _ = mlxtend_reference(baskets, 15, max_len=2)
    assert fi["length"].max() == 2
    assert_same_itemsets(fi, ref)


item_names = st.sampled_from([f"i{k}" for k in range(9)])
basket_lists = st.lists(st.lists(item_names, max_size=7), min_size=1, max_size=40)
ROUTES = [
    None,
    {"pairs": "walk"},
    {"pairs": "walk", "projection": "lookup"},
    {"pairs": "walk", "projection": "walk", "pair_table": False},
    {"pairs": "sparse", "projection": "walk"},
    {"pairs": "sparse", "projection": "lookup"},
    {"pairs": "sparse", "projection": "search", "pair_table": False},
    {"pairs": "bitset"},
    # tiny blocks and chunks, to run the blocked code paths on small data
    {
        "pairs": "walk",
        "_BLOCK_CELLS": 12,
        "_MIN_BLOCK": 1,
        "_CHUNK_PAIRS": 5,
        "_CHUNK_WORDS": 3,
        "_CHUNK_CANDIDATES": 4,
    },
    {
        "pairs": "sparse",
        "projection": "lookup",
        "_BLOCK_CELLS": 12,
        "_MIN_BLOCK": 1,
        "_CHUNK_PAIRS": 5,
        "_CHUNK_WORDS": 3,
        "_CHUNK_CANDIDATES": 4,
    },
    {"pairs": "sparse", "projection": "walk", "_BLOCK_CELLS": 12, "_MIN_BLOCK": 2, "_CHUNK_PAIRS": 7},
    {"pairs": "bitset", "_CHUNK_WORDS": 2, "_CHUNK_CANDIDATES": 3},
]
strategies = st.sampled_from(ROUTES)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(baskets=basket_lists, min_count=st.integers(1, 4), strategy=strategies)
def test_random_baskets_match_mlxtend(baskets, min_count, strategy):
    ours = _mine_with(baskets, min_count, strategy)
    ref_fi, ref_rules = mlxtend_reference(baskets, min_count)
    assert_same_itemsets(ours, ref_fi)
    rules = association_rules(ours, min_threshold=0.0, max_consequent_len=None)
    assert_same_rules(rules, ref_rules)


def _mine_with(baskets, min_count, strategy):
    """frequent_itemsets with the engine forced onto one route and chunk sizes (all must agree)."""
    if strategy is None:
        return frequent_itemsets(baskets, min_support=min_count)
    import crmtools.basket as basket_module

    original = _itemsets.mine
    sizes = {k: v for k, v in strategy.items() if k.startswith("_")}
    saved = {k: getattr(_itemsets, k) for k in sizes}
    route = {k: v for k, v in strategy.items() if not k.startswith("_")}

    def forced(*args, **kwargs):
        return original(*args, strategy=route, **kwargs)

    basket_module.mine = forced
    for k, v in sizes.items():
        setattr(_itemsets, k, v)
    try:
        return frequent_itemsets(baskets, min_support=min_count)
    finally:
        basket_module.mine = original
        for k, v in saved.items():
            setattr(_itemsets, k, v)


@settings(max_examples=60, deadline=None)
@given(baskets=basket_lists, min_count=st.integers(1, 5))
def test_fraction_and_count_thresholds_agree(baskets, min_count):
    n = len(baskets)
    by_count = frequent_itemsets(baskets, min_support=min_count)
    if min_count <= n:
        by_fraction = frequent_itemsets(baskets, min_support=min_count / n)
        pd.testing.assert_frame_equal(by_count, by_fraction)
    assert (by_count["count"] >= min_count).all()
    assert np.allclose(by_count["support"], by_count["count"] / n)


def test_dense_data_takes_the_bitset_route_and_matches_mlxtend():
    rng = np.random.default_rng(3)
    baskets = [[f"x{j}" for j in np.flatnonzero(rng.random(12) < 0.6)] for _ in range(300)]
    fi = frequent_itemsets(baskets, min_support=0.2)
    ref, ref_rules = mlxtend_reference(baskets, math.ceil(0.2 * 300))
    assert_same_itemsets(fi, ref)
    assert fi["length"].max() >= 3
    assert_same_rules(association_rules(fi, min_threshold=0.0, max_consequent_len=None), ref_rules)


def test_association_rules_accepts_mlxtend_itemsets(retail):
    baskets, _ = retail
    ref_fi, ref_rules = mlxtend_reference(baskets, 40)
    with pytest.raises(ValueError, match="number of baskets is unknown"):
        association_rules(ref_fi)
    rules = association_rules(
        ref_fi, n_baskets=len(baskets), min_threshold=0.0, max_consequent_len=None, with_significance=False
    )
    assert_same_rules(rules, ref_rules)
    assert "p_value" not in rules.columns


@pytest.mark.skipif(not GROCERIES.exists(), reason="../shared/data/groceries.csv not available")
def test_groceries_matches_mlxtend():
    baskets = [line.rstrip("\n").split(",") for line in GROCERIES.open()]
    assert len(baskets) == 9835
    fi = frequent_itemsets(baskets, min_support=0.003)
    te = TransactionEncoder()
    onehot = pd.DataFrame(te.fit(baskets).transform(baskets), columns=te.columns_)
    ref = mlx_fpgrowth(onehot, min_support=0.003, use_colnames=True)
    assert_same_itemsets(fi, ref)
    ref_rules = mlx_rules(ref, len(baskets), metric="confidence", min_threshold=0.5)
    ref_rules = ref_rules.rename(columns=lambda c: c.replace(" ", "_"))
    assert_same_rules(association_rules(fi, min_threshold=0.5, max_consequent_len=None), ref_rules)
    whole_milk = fi.loc[fi["itemsets"] == frozenset({"whole milk"}), "count"]
    assert whole_milk.tolist() == [2513]


# --------------------------------------------------------------------------- planted pairs


def test_planted_pair_lift_is_recovered():
    baskets, lifts = retail_baskets(n_baskets=20000, seed=11, planted=((5, 6, 0.03), (10, 11, 0.02)))
    rules = association_rules(frequent_itemsets(baskets, min_support=50, max_len=2), min_threshold=0.0)
    for (a, b), expected in lifts.items():
        row = rules[(rules["antecedents"] == frozenset({a})) & (rules["consequents"] == frozenset({b}))]
        assert len(row) == 1
        # log-lift standard error is about 1 / sqrt(count); allow three of them
        tolerance = 3 / math.sqrt(row["count"].iloc[0])
        assert abs(math.log(row["lift"].iloc[0] / expected)) < tolerance
        assert row["p_adjusted"].iloc[0] < 1e-6
    unplanted = rules[(rules["antecedents"] == frozenset({"item20"})) & (rules["consequents"] == frozenset({"item21"}))]
    assert abs(unplanted["lift"].iloc[0] - 1) < 0.3


def test_planted_pairs_in_sample_data():
    sampledata = pytest.importorskip("crmtools.sampledata")
    tables, truths = sampledata.generate_sample(sampledata.SampleConfig(customers=20000, seed=7))
    tx = tables["transactions"]
    rules = association_rules(frequent_itemsets(tx, min_support=20, max_len=2), min_threshold=0.0)
    for pair in truths["co_purchase_pairs"]:
        row = rules[
            (rules["antecedents"] == frozenset({pair["antecedent"]}))
            & (rules["consequents"] == frozenset({pair["consequent"]}))
        ]
        assert len(row) == 1
        tolerance = 3 / math.sqrt(row["count"].iloc[0])
        assert abs(math.log(row["lift"].iloc[0] / pair["expected_lift"])) < tolerance


# --------------------------------------------------------------------------- transactions input


def test_transactions_duplicates_returns_and_labels():
    tx = canonical(
        [
            ("o1", "c1", "p1", 1),
            ("o1", "c1", "p1", 2),
            ("o1", "c1", "p2", 1),  # p1 twice: counts once
            ("o2", "c2", "p1", 1),
            ("o2", "c2", "p2", 1),
            ("o3", "c1", "p2", 1),
            ("o3", "c1", "p3", -1),  # a returned p3
            ("o4", "c3", "p3", -2),  # an order with returns only is no basket
        ]
    )
    fi = frequent_itemsets(tx, min_support=1)
    assert fi.attrs["n_baskets"] == 3
    counts = dict(zip(fi["itemsets"], fi["count"]))
    assert counts == {frozenset({"p1"}): 2, frozenset({"p2"}): 3, frozenset({"p1", "p2"}): 2}
    with_returns = frequent_itemsets(tx, min_support=1, include_returns=True)
    counts = dict(zip(with_returns["itemsets"], with_returns["count"]))
    assert with_returns.attrs["n_baskets"] == 4
    assert counts[frozenset({"p3"})] == 2 and counts[frozenset({"p2", "p3"})] == 1
    named = tx.assign(product_name=tx["product_id"].map({"p1": "Tea", "p2": "Cake", "p3": "Tea"}))
    labels = set().union(*frequent_itemsets(named, min_support=1, include_returns=True)["itemsets"])
    assert labels == {"Tea (p1)", "Cake", "Tea (p3)"}


def test_input_is_not_mutated():
    tx = canonical([("o1", "c1", "p1", 1), ("o1", "c1", "p2", 1), ("o2", "c2", "p1", -1), ("o3", None, "p2", 1)])
    tx["product_name"] = ["A", "B", "A", None]
    before = tx.copy(deep=True)
    baskets = [["a", "b"], ["a"]]
    baskets_before = [list(b) for b in baskets]
    fi = frequent_itemsets(tx, min_support=1)
    rules = association_rules(fi, min_threshold=0.0)
    fi_before, rules_before = fi.copy(deep=True), rules.copy(deep=True)
    customer_recommendations(tx, rules)
    recommend_items(rules, ["A"])
    rule_drift(rules, rules)
    frequent_itemsets(baskets, min_support=1)
    pd.testing.assert_frame_equal(tx, before)
    pd.testing.assert_frame_equal(fi, fi_before)
    pd.testing.assert_frame_equal(rules, rules_before)
    assert baskets == baskets_before


def test_customer_baskets_by_period_and_categories():
    tx = canonical(
        [
            ("o1", "c1", "p1", 1),
            ("o2", "c1", "p2", 1),  # same customer, days 0 and 1: one basket per month
            ("o3", "c2", "p1", 1),
            ("o4", None, "p2", 1),  # guest line left out for customer baskets
        ]
    )
    tx["category"] = tx["product_id"].map({"p1": "Tea", "p2": "Sweets"})
    by_customer = frequent_itemsets(tx, min_support=1, basket="customer")
    assert by_customer.attrs["n_baskets"] == 2
    assert frozenset({"p1", "p2"}) in set(by_customer["itemsets"])
    tx.loc[tx["order_id"] == "o2", "order_datetime"] = pd.Timestamp("2025-03-01")
    monthly = frequent_itemsets(tx, min_support=1, basket="customer", basket_freq="M")
    assert monthly.attrs["n_baskets"] == 3
    assert frozenset({"p1", "p2"}) not in set(monthly["itemsets"])
    by_category = frequent_itemsets(tx, min_support=1, basket="customer", item="category")
    assert set().union(*by_category["itemsets"]) == {"Tea", "Sweets"}


# --------------------------------------------------------------------------- degenerate input


def test_empty_inputs_give_empty_frames():
    empty_tx = canonical([])
    for data in (empty_tx, []):
        fi = frequent_itemsets(data, min_support=0.5)
        assert list(fi.columns) == ITEMSET_COLUMNS and len(fi) == 0
        rules = association_rules(fi)
        assert list(rules.columns) == RULE_COLUMNS and len(rules) == 0
    assert rule_sentences(association_rules(frequent_itemsets([], min_support=1))) == []
    assert len(recommend_items(association_rules(frequent_itemsets([], min_support=1)), "x")) == 0


def test_one_item_identical_baskets_and_high_threshold():
    one = frequent_itemsets([["a"], ["a"], []], min_support=1)
    assert one["itemsets"].tolist() == [frozenset({"a"})]
    assert one["support"].tolist() == [pytest.approx(2 / 3)]
    assert len(association_rules(one, min_threshold=0.0)) == 0
    same = frequent_itemsets([["a", "b", "c", "d", "e"]] * 10, min_support=1.0)
    assert len(same) == 31 and (same["support"] == 1.0).all()
    rules = association_rules(same, min_threshold=0.0, max_consequent_len=None)
    assert len(rules) == sum(math.comb(5, k) * (2**k - 2) for k in range(2, 6))  # every split of every itemset
    assert (rules["confidence"] == 1.0).all() and np.allclose(rules["lift"], 1.0)
    assert np.isinf(rules["conviction"]).all()  # confidence 1: conviction is inf, as in mlxtend
    assert (rules["p_value"] == 1.0).all()
    high = frequent_itemsets([["a", "b"], ["a"], ["b"]], min_support=0.9)
    assert len(high) == 0 and list(high.columns) == ITEMSET_COLUMNS
    assert len(association_rules(frequent_itemsets([["a", "b"], ["a"]], min_support=1), min_threshold=1.01)) == 0


def test_many_items_do_not_allocate_a_dense_table():
    # 300,000 distinct items in 100,000 baskets: a dense one-hot table would need 30 GB.
    n = 100_000
    baskets = [[f"sku{3 * b}", f"sku{3 * b + 1}", f"sku{3 * b + 2}"] for b in range(n)]
    baskets[1].append("sku1")
    fi = frequent_itemsets(baskets, min_support=2)
    assert fi["itemsets"].tolist() == [frozenset({"sku1"})]


def test_memory_blow_up_is_refused_with_a_clear_message():
    baskets = [[f"i{k}" for k in range(40)]] * 5  # 2**40 frequent itemsets
    with pytest.raises(
        ValueError, match=r"Mining refused: .* would need about .*max_memory=.*To fit: raise min_support"
    ):
        frequent_itemsets(baskets, min_support=1)
    assert len(frequent_itemsets(baskets, min_support=1, max_len=2)) == 40 + 40 * 39 // 2
    with pytest.raises(ValueError, match="Mining refused"):
        frequent_itemsets(retail_baskets(500)[0], min_support=1, max_memory=10_000)
    fi = frequent_itemsets([["a", "b", "c", "d"]] * 3, min_support=1)
    with pytest.raises(ValueError, match="Rules refused"):
        association_rules(fi, max_consequent_len=None, max_memory=100)


# --------------------------------------------------------------------------- rule options and statistics


def test_filters_sorting_and_consequent_length(retail):
    fi = frequent_itemsets(retail[0], min_support=15)
    rules = association_rules(fi, min_threshold=0.1, min_lift=1.5, min_confidence=0.2)
    assert len(rules) > 0
    assert (rules["lift"] >= 1.5).all() and (rules["confidence"] >= 0.2).all()
    assert (np.diff(rules["lift"].to_numpy()) <= 0).all()
    by_p = association_rules(fi, min_threshold=0.1, sort_by="p_value")
    assert (np.diff(by_p["p_value"].to_numpy()) >= 0).all()
    two = association_rules(fi, min_threshold=0.0, max_consequent_len=2)
    assert two["consequents"].map(len).max() == 2
    assert list(rules.columns) == RULE_COLUMNS
    by_leverage = association_rules(fi, metric="leverage", min_threshold=0.005)
    assert (by_leverage["leverage"] >= 0.005).all() and len(by_leverage) > 0


def test_fisher_p_values_and_benjamini_hochberg_match_scipy(retail):
    from scipy import stats

    fi = frequent_itemsets(retail[0], min_support=30)
    rules = association_rules(fi, min_threshold=0.0)
    n = fi.attrs["n_baskets"]
    sample = rules.sample(40, random_state=0) if len(rules) > 40 else rules
    for r in sample.itertuples():
        table = [
            [r.count, r.antecedent_count - r.count],
            [r.consequent_count - r.count, n - r.antecedent_count - r.consequent_count + r.count],
        ]
        expected = stats.fisher_exact(table, alternative="greater").pvalue
        assert r.p_value == pytest.approx(expected, rel=1e-7, abs=1e-300)
    np.testing.assert_allclose(
        rules["p_adjusted"], stats.false_discovery_control(rules["p_value"], method="bh"), rtol=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 5000), data=st.data())
def test_hypergeometric_tail_matches_scipy(n, data):
    from scipy import stats

    from crmtools.basket import _hypergeom_sf

    good = data.draw(st.integers(0, n))
    draws = data.draw(st.integers(0, n))
    k = data.draw(st.integers(0, min(good, draws) + 1))
    ours = _hypergeom_sf(np.array([k]), n, np.array([good]), np.array([draws]))[0]
    expected = stats.hypergeom.sf(k - 1, n, good, draws)
    assert ours == pytest.approx(expected, rel=1e-8, abs=1e-13)


def test_prune_redundant_rules():
    # {a} -> c has confidence 0.8; {a, b} -> c only 0.75: redundant.
    # {a, d} -> c has 1.0, better than {a} -> c (0.8) and {d} -> c (0.75): kept.
    baskets = (
        [["a", "c"]] * 2
        + [["a", "b", "c"]] * 3
        + [["a", "b"]]
        + [["a", "d", "c"]] * 3
        + [["c"]] * 3
        + [["a"]]
        + [["b"]] * 2
        + [["d"]]
    )
    fi = frequent_itemsets(baskets, min_support=1)
    rules = association_rules(fi, min_threshold=0.5)
    pruned = association_rules(fi, min_threshold=0.5, prune_redundant=True)
    key = {(frozenset(a), frozenset(c)) for a, c in zip(pruned["antecedents"], pruned["consequents"])}
    full = {
        (frozenset(a), frozenset(c)): conf
        for a, c, conf in zip(rules["antecedents"], rules["consequents"], rules["confidence"])
    }
    assert full[(frozenset("ab"), frozenset("c"))] < full[(frozenset("a"), frozenset("c"))]
    assert (frozenset("ab"), frozenset("c")) not in key
    assert (frozenset("ad"), frozenset("c")) in key
    assert (frozenset("a"), frozenset("c")) in key
    # every kept rule beats all its more general rules
    for ante, cons in key:
        for item in ante:
            general = ante - {item}
            if general:
                assert full.get((general, cons), 0) < full[(ante, cons)]


def test_rules_reject_incomplete_or_bad_input(retail):
    fi = frequent_itemsets(retail[0], min_support=40)
    with pytest.raises(ValueError, match="every subset of an itemset must be present"):
        association_rules(fi[fi["length"] != 1])
    with pytest.raises(ValueError, match="Unknown metric; allowed: 'antecedent_support', "):
        association_rules(fi, metric="cosine")
    with pytest.raises(ValueError, match="expected each itemset once"):
        association_rules(pd.concat([fi, fi]), n_baskets=fi.attrs["n_baskets"])
    with pytest.raises(TypeError, match="itemsets has the wrong type; allowed: the output of frequent_itemsets"):
        association_rules([frozenset({"a"})])


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (1.5, ValueError, r"min_support is out of range; allowed: a fraction of baskets in \(0, 1\].*min_support=1\."),
        (0.0, ValueError, r"min_support is out of range; .*received: 0\.0\.$"),
        (0, ValueError, r"min_support is out of range; .*a number of baskets >= 1 \(int\); received: 0\.$"),
        (True, TypeError, "min_support has the wrong type; allowed: a fraction"),
        ("0.1", TypeError, "min_support has the wrong type; allowed: a fraction"),
    ],
)
def test_min_support_validation(value, error, match):
    with pytest.raises(error, match=match):
        frequent_itemsets([["a"]], min_support=value)


def test_parameter_and_column_validation():
    tx = canonical([("o1", "c1", "p1", 1)])
    with pytest.raises(ValueError, match=r"Unknown basket; allowed: 'order', 'customer'; received: 'visit'\."):
        frequent_itemsets(tx, basket="visit")
    with pytest.raises(ValueError, match=r"transactions is missing column 'sku' \(the item\); allowed: "):
        frequent_itemsets(tx, item_col="sku")
    with pytest.raises(ValueError, match="include_returns=True"):
        frequent_itemsets(tx.drop(columns="quantity"))
    assert len(frequent_itemsets(tx.drop(columns="quantity"), include_returns=True, min_support=1)) == 1
    with pytest.raises(ValueError, match="needs basket='customer'"):
        frequent_itemsets(tx, basket_freq="M")
    with pytest.raises(TypeError, match="Invalid basket 1"):
        frequent_itemsets([["a"], "ab"])
    with pytest.raises(ValueError, match="missing value"):
        frequent_itemsets([["a", None]])
    with pytest.raises(TypeError, match="max_len has the wrong type"):
        frequent_itemsets([["a"]], max_len=1.5)
    with pytest.raises(TypeError, match="data has the wrong type; allowed: a DataFrame of transactions or a list"):
        frequent_itemsets(42)


# --------------------------------------------------------------------------- drift, recommendations, sentences


def test_rule_drift_statuses_and_order():
    before = association_rules(
        frequent_itemsets([["x", "y"]] * 4 + [["z", "w"]] * 2 + [["q"]] * 4, min_support=1), min_threshold=0.5
    )
    after = association_rules(
        frequent_itemsets([["x", "y"]] * 2 + [["x"]] * 2 + [["u", "v"]] * 2 + [["q"]] * 4, min_support=1),
        min_threshold=0.5,
    )
    drift = rule_drift(before, after)
    status = {
        (tuple(sorted(a)), tuple(sorted(c))): s
        for a, c, s in zip(drift["antecedents"], drift["consequents"], drift["status"])
    }
    assert status[(("u",), ("v",))] == "new" and status[(("z",), ("w",))] == "lost"
    assert status[(("x",), ("y",))] == "kept"
    assert drift["status"].tolist().index("new") < drift["status"].tolist().index("lost")
    kept = drift[drift["status"] == "kept"]
    assert (np.diff(kept["change"].abs().to_numpy()) <= 0).all()
    assert kept["change"].notna().all() and drift.loc[drift["status"] != "kept", "change"].isna().all()
    assert len(rule_drift(before, after, top_n=1).query("status == 'new'")) == 1


def test_recommend_items():
    baskets = (
        [["tea", "cake"]] * 4 + [["tea", "jam"]] * 2 + [["cake", "jam", "milk"]] * 2 + [["milk"]] * 3 + [["tea"]] * 2
    )
    rules = association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.2)
    recs = recommend_items(rules, ["tea"], top_n=5)
    assert "tea" not in recs["item"].tolist()
    assert (np.diff(recs["score"].to_numpy()) <= 0).all()
    assert recs["rank"].tolist() == list(range(1, len(recs) + 1))
    best = rules[rules["antecedents"] == frozenset({"tea"})].sort_values("lift", ascending=False).iloc[0]
    assert recs["item"].iloc[0] == next(iter(best["consequents"]))
    assert recs.equals(recommend_items(rules, "tea", top_n=5))
    assert len(recommend_items(rules, ["tea", "cake", "jam", "milk"])) == 0
    assert len(recommend_items(rules, ["tea"], top_n=1)) == 1
    by_conf = recommend_items(rules, ["cake", "jam"], metric="confidence")
    assert (np.diff(by_conf["score"].to_numpy()) <= 0).all()


def test_customer_recommendations_exclude_owned_items():
    rows = []
    for k in range(6):  # tea and cake go together
        rows += [(f"a{k}", f"c{k}", "tea", 1), (f"a{k}", f"c{k}", "cake", 1)]
    rows += [
        ("b1", "x", "tea", 1),
        ("b2", "y", "cake", 1),
        ("b3", "y", "tea", 1),
        ("b4", "z", "jam", 1),
        ("b5", "w", "tea", 1),
        ("b6", "w", "cake", -1),
    ]
    tx = canonical(rows)
    rules = association_rules(frequent_itemsets(tx, min_support=2), min_threshold=0.5)
    recs = customer_recommendations(tx, rules)
    got = {(c, i) for c, i in zip(recs["customer_id"], recs["item"])}
    assert ("x", "cake") in got  # bought tea only
    assert not any(c == "y" for c, _ in got)  # bought both already
    assert not any(c == "z" for c, _ in got)  # no rule applies to jam
    assert ("w", "cake") in got  # returned cake does not count as owned
    assert not any(c.startswith("c") for c, _ in got)
    early = customer_recommendations(tx, rules, as_of="2025-01-01")
    assert len(early) == 0 and "customer_id" in early.columns
    assert list(recs.columns) == [
        "customer_id",
        "rank",
        "item",
        "score",
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
    ]


def test_rule_sentences_in_english_and_japanese():
    baskets = [["tea", "cake"]] * 3 + [["tea"]] * 1 + [["jam"]] * 4
    rules = association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.9)
    en = rule_sentences(rules)
    assert en == ["Customers who buy cake are 2.0× as likely to also buy tea (100% of them do)."]
    ja = rule_sentences(rules, language="ja")
    assert ja == ["「cake」を買うお客様は「tea」も買う確率が平均の2.0倍です（100%が購入）。"]
    with pytest.raises(ValueError, match="Invalid language"):
        rule_sentences(rules, language="fr")
    many = association_rules(frequent_itemsets(retail_baskets(500)[0], min_support=5), min_threshold=0.0)
    assert len(rule_sentences(many, top_n=3)) == 3


# --------------------------------------------------------------------------- plots


@pytest.fixture(scope="module")
def plot_rules():
    baskets, _ = retail_baskets(n_baskets=2000)
    return association_rules(frequent_itemsets(baskets, min_support=20), min_threshold=0.2)


def test_plots_draw_on_the_given_axes(plot_rules):
    from matplotlib.figure import Figure

    from crmtools.plotting.basket import plot_pair_heatmap, plot_rule_network, plot_rule_scatter

    fig = Figure()
    ax = fig.subplots()
    assert plot_rule_scatter(plot_rules, ax=ax, label_top=3) is ax
    assert len(ax.collections) == 1 and len(ax.collections[0].get_offsets()) == len(plot_rules)
    assert ax.get_xlabel() == "Support (share of baskets)" and len(ax.texts) == 3
    ranked = plot_rules.sort_values("support", ascending=False, kind="stable")  # first rows: not the top lifts
    ax = plot_rule_scatter(ranked, ax=Figure().subplots(), label_top=2, label_first=True)
    expected = [f"{min(a)} → {min(c)}" for a, c in zip(ranked["antecedents"][:2], ranked["consequents"][:2])]
    assert sorted(t.get_text() for t in ax.texts) == sorted(expected)
    ax = Figure().subplots()
    assert plot_pair_heatmap(plot_rules, ax=ax, top_n=5, language="ja") is ax
    assert len(ax.images) == 1 and ax.get_ylabel() == "この商品を買う顧客は…"
    top = plot_rules[(plot_rules["antecedents"].map(len) == 1)].nlargest(1, "lift")
    assert f"{top['lift'].iloc[0]:.1f}" in [t.get_text() for t in ax.texts]
    ax = Figure().subplots()
    assert plot_rule_network(plot_rules, ax=ax, top_n=6) is ax
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) == 6 and len(ax.collections) == 1  # six rules, one layer of item nodes
    empty = association_rules(frequent_itemsets([], min_support=1))
    ax = Figure().subplots()
    assert plot_rule_network(empty, ax=ax) is ax and ax.texts[0].get_text() == "No rules to show"
    with pytest.raises(ValueError, match="Invalid language"):
        plot_rule_scatter(plot_rules, ax=Figure().subplots(), language="de")


def test_plot_without_axes_makes_a_figure(plot_rules):
    import matplotlib.pyplot as plt

    from crmtools.plotting.basket import plot_rule_scatter

    ax = plot_rule_scatter(plot_rules)
    try:
        assert ax.figure is not None and ax.get_title() == "Association rules"
    finally:
        plt.close(ax.figure)


@pytest.mark.parametrize("strategy", [r for r in ROUTES if r])
def test_every_engine_route_agrees_on_retail_data(retail, strategy):
    baskets, _ = retail
    expected = frequent_itemsets(baskets, min_support=12)
    got = _mine_with(baskets, 12, strategy)
    assert dict(zip(got["itemsets"], got["count"])) == dict(zip(expected["itemsets"], expected["count"]))


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(st.tuples(st.integers(0, 12), st.integers(0, 7), st.sampled_from([-1, 0, 1, 2])), max_size=80),
    min_count=st.integers(1, 3),
)
def test_order_lines_and_basket_lists_agree(lines, min_count):
    tx = canonical([(f"o{o}", "c", f"p{p}", q) for o, p, q in lines])
    shuffled = tx.sample(frac=1.0, random_state=0)  # line order must not matter
    baskets = {}
    for o, p, q in lines:
        if q > 0:
            baskets.setdefault(o, set()).add(f"p{p}")
    from_lists = frequent_itemsets(list(baskets.values()), min_support=min_count)
    for frame in (tx, shuffled):
        from_lines = frequent_itemsets(frame, min_support=min_count)
        assert from_lines.attrs["n_baskets"] == len(baskets)
        assert dict(zip(from_lines["itemsets"], from_lines["count"])) == dict(
            zip(from_lists["itemsets"], from_lists["count"])
        )


def test_most_common_label_wins_and_ties_go_to_the_first_seen():
    tx = canonical(
        [("o1", "c", "p1", 1), ("o2", "c", "p1", 1), ("o3", "c", "p1", 1), ("o4", "c", "p2", 1), ("o5", "c", "p2", 1)]
    )
    tx["product_name"] = ["Old tea", "Green tea", "Green tea", "Cake B", "Cake A"]
    labels = set().union(*frequent_itemsets(tx, min_support=1)["itemsets"])
    assert labels == {"Green tea", "Cake B"}
    tx["product_name"] = [None] * 3 + ["Cake", "Cake"]
    assert set().union(*frequent_itemsets(tx, min_support=1)["itemsets"]) == {"p1", "Cake"}


def test_itemsets_are_ordered_by_length_support_then_labels(retail):
    fi = frequent_itemsets(retail[0], min_support=10)
    key = [(n, -c, tuple(sorted(map(str, s)))) for n, c, s in zip(fi["length"], fi["count"], fi["itemsets"])]
    assert key == sorted(key)
    assert list(fi.index) == list(range(len(fi)))


# --------------------------------------------------------------------------- which rules to report (issue 12)

from crmtools.basket import RuleScreen, merge_symmetric, screen_rules, significant_rules  # noqa: E402

#: 100 baskets: tea and cake go together (lift 30/40 / 0.45 = 1.67); jam goes with tea less than chance.
_REPORT_BASKETS = [["tea", "cake"]] * 30 + [["tea"]] * 10 + [["cake"]] * 10 + [["jam", "tea"]] * 5 + [["jam"]] * 45


def _tested():
    return association_rules(frequent_itemsets(_REPORT_BASKETS, min_support=5), min_threshold=0.05)


def test_significant_rules_by_hand():
    from scipy import stats

    rules = _tested()
    by_rule = {
        (next(iter(a)), next(iter(c))): r
        for a, c, r in zip(rules["antecedents"], rules["consequents"], rules.itertuples())
    }
    assert set(by_rule) == {("cake", "tea"), ("tea", "cake"), ("jam", "tea"), ("tea", "jam")}
    # Fisher's one-sided test of cake -> tea: P(X >= 30), X ~ hypergeom(100 baskets, 45 with tea, 40 with cake).
    p_cake_tea = stats.hypergeom.sf(29, 100, 45, 40)
    assert by_rule[("cake", "tea")].p_value == pytest.approx(p_cake_tea, rel=1e-8)
    assert by_rule[("jam", "tea")].lift == pytest.approx((5 / 50) / 0.45)  # 0.22: less often than chance
    kept = significant_rules(rules)
    assert sorted((next(iter(a)), next(iter(c))) for a, c in zip(kept["antecedents"], kept["consequents"])) == [
        ("cake", "tea"),
        ("tea", "cake"),
    ]
    expected = stats.false_discovery_control(rules["p_value"].to_numpy(), method="bh")
    assert kept["p_adjusted"].to_numpy() == pytest.approx(expected[:2] if len(expected) else expected)
    # Lift <= 1 is never a co-purchase, however loose the rate: jam -> tea stays out.
    assert len(significant_rules(rules, alpha=0.999)) == 2
    # A rule must beat the adjusted threshold: none of these survive a 1e-30 rate.
    assert significant_rules(rules, alpha=1e-30).empty
    assert list(significant_rules(rules.iloc[:0]).columns) == list(rules.columns)
    with pytest.raises(ValueError, match="alpha is out of range"):
        significant_rules(rules, alpha=0)


def test_merge_symmetric_keeps_one_row_per_pair():
    rules = pd.DataFrame(
        {
            "antecedents": [frozenset({"a"}), frozenset({"c"}), frozenset({"b"}), frozenset({"a", "c"})],
            "consequents": [frozenset({"b"}), frozenset({"a"}), frozenset({"a"}), frozenset({"d"})],
            "support": [0.1, 0.05, 0.1, 0.02],
            "confidence": [0.4, 0.2, 0.5, 0.3],
            "lift": [2.0, 1.5, 2.0, 3.0],
        }
    )
    merged = merge_symmetric(rules)
    got = [
        (sorted(r.antecedents), sorted(r.consequents), r.confidence, r.reverse_confidence) for r in merged.itertuples()
    ]
    assert got[0] == (["b"], ["a"], 0.5, 0.4)  # a <-> b: the more confident direction, the other beside it
    assert got[1][:3] == (["c"], ["a"], 0.2) and math.isnan(got[1][3])
    assert got[2][:3] == (["a", "c"], ["d"], 0.3) and len(got) == 3
    assert merge_symmetric(rules.iloc[:0]).empty and "reverse_confidence" in merge_symmetric(rules.iloc[:0])


def test_screen_rules_counts_and_too_few_baskets():
    rules = _tested()
    screen = screen_rules(rules, min_baskets=50)
    assert isinstance(screen, RuleScreen)
    assert (screen.tested, screen.passed, len(screen.pairs), screen.n_baskets) == (4, 2, 1, 100)
    assert not screen.too_few_baskets
    pair = screen.pairs.iloc[0]
    assert {next(iter(pair["antecedents"])), next(iter(pair["consequents"]))} == {"tea", "cake"}
    assert pair["confidence"] == pytest.approx(30 / 40) and pair["reverse_confidence"] == pytest.approx(30 / 45)
    few = screen_rules(rules)  # 100 baskets < 1,000: no conclusion either way
    assert few.too_few_baskets and few.pairs.empty and few.passed == 2
    assert not screen_rules(rules, n_baskets=5000).too_few_baskets


def test_association_rules_docstring_says_how_to_get_the_reports_rules():
    assert "min_threshold=0.1" in association_rules.__doc__ and "screen_rules" in association_rules.__doc__


def test_network_of_merged_pairs_draws_two_headed_arrows_between_neighbours():
    from matplotlib.figure import Figure

    from crmtools.plotting.basket import plot_rule_network

    pairs = screen_rules(_tested(), min_baskets=50).pairs
    ax = plot_rule_network(pairs, ax=Figure().subplots())
    arrows = [a for a in ax.texts if hasattr(a, "arrow_patch") and a.arrow_patch is not None]
    assert len(arrows) == 1  # tea -> cake and cake -> tea: one pair, one arrow with a head at each end
    assert type(arrows[0].arrow_patch.get_arrowstyle()).__name__ == "CurveFilledAB"  # "<|-|>"
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert sorted(labels) == ["cake", "tea"]


# --------------------------------------------------------------------------- customers, guest and bulk orders


def _lines(orders: dict[str, tuple[str | None, list[str]]]) -> pd.DataFrame:
    """Order lines from ``{order: (customer or None, [products])}``."""
    rows = [(o, c, p) for o, (c, products) in orders.items() for p in products]
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "product_id"]).assign(quantity=1)


def test_guest_orders_are_left_out_and_counted():
    tx = _lines(
        {"o1": ("a", ["tea", "cake"]), "o2": (None, ["tea", "cake"]), "o3": ("b", ["tea"]), "o4": (None, ["x"])}
    )
    everyone = frequent_itemsets(tx, min_support=1)
    customers = frequent_itemsets(tx, min_support=1, include_guests=False)
    assert everyone.attrs["n_baskets"] == 4 and everyone.attrs["excluded_guest_baskets"] == 0
    assert customers.attrs["n_baskets"] == 2 and customers.attrs["excluded_guest_baskets"] == 2
    counts = dict(zip(customers["itemsets"], customers["count"]))
    assert counts == {frozenset({"tea"}): 2, frozenset({"cake"}): 1, frozenset({"tea", "cake"}): 1}


def test_bulk_baskets_are_left_out_counted_and_the_rest_mined_as_without_them():
    baskets, _ = retail_baskets(n_baskets=400)
    bulk = [[f"sku{k}" for k in range(30)]] * 3  # three bulk orders of the same 30 products
    fi = frequent_itemsets(baskets + bulk, min_support=3, max_len=3, max_basket_items=25)
    reference = frequent_itemsets([b for b in baskets if len(set(b)) <= 25], min_support=3, max_len=3)
    assert fi.attrs["excluded_bulk_baskets"] == 3 + sum(len(set(b)) > 25 for b in baskets)
    assert fi.attrs["excluded_bulk_lines"] == 90 + sum(len(set(b)) for b in baskets if len(set(b)) > 25)
    assert fi.attrs["n_baskets"] == reference.attrs["n_baskets"]
    assert dict(zip(fi["itemsets"], fi["count"])) == dict(zip(reference["itemsets"], reference["count"]))
    flooded = frequent_itemsets(baskets + bulk, min_support=3, max_len=3)
    assert frozenset({"sku0", "sku1", "sku2"}) in set(flooded["itemsets"])  # what the bulk orders add


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_customer_counts_match_a_brute_force_count(data):
    n_lines = data.draw(st.integers(1, 60))
    orders = data.draw(st.lists(st.integers(0, 14), min_size=n_lines, max_size=n_lines))
    owner_of = {o: data.draw(st.sampled_from([None, "a", "b", "c", "d"])) for o in set(orders)}
    products = data.draw(st.lists(st.sampled_from("pqrstu"), min_size=n_lines, max_size=n_lines))
    tx = pd.DataFrame({"order_id": [f"o{o}" for o in orders], "customer_id": [owner_of[o] for o in orders]})
    tx = tx.assign(product_id=products, quantity=1)
    fi = frequent_itemsets(tx, min_support=1, count_customers=True)
    held = tx.groupby("order_id")["product_id"].agg(set)
    owner = tx.groupby("order_id")["customer_id"].first()
    for itemset, customers in zip(fi["itemsets"], fi["customers"]):
        expected = {owner[o] for o, items in held.items() if itemset <= items and pd.notna(owner[o])}
        assert customers == len(expected)
    per_customer = frequent_itemsets(tx, min_support=1, basket="customer", count_customers=True)
    assert (per_customer["customers"] == per_customer["count"]).all()  # one basket per customer


def test_rules_carry_the_customers_of_the_whole_itemset():
    tx = _lines({f"o{k}": (f"c{k % 3}", ["tea", "cake"]) for k in range(6)} | {"o9": ("c9", ["tea"])})
    rules = association_rules(frequent_itemsets(tx, min_support=1, count_customers=True), min_threshold=0.1)
    assert set(rules["customers"]) == {3} and list(rules.columns).index("customers") == len(RULE_COLUMNS) - 2
    empty = association_rules(frequent_itemsets(tx.iloc[:0], min_support=1, count_customers=True))
    assert "customers" in empty.columns and empty.empty
    with pytest.raises(ValueError, match="count_customers=True needs customers"):
        frequent_itemsets([["a"]], count_customers=True)


def test_screen_ranks_by_p_value_not_by_lift_and_applies_the_floors():
    # A rare pair (5 baskets, lift 20) and a common one (60 baskets, lift 2.5): lift ranks the rare pair first,
    # the Fisher p-value the common one, which is far stronger evidence.
    baskets = [["rare1", "rare2"]] * 5 + [["tea", "cake"]] * 60 + [["tea"]] * 20 + [["cake"]] * 20 + [["x"]] * 95
    rules = association_rules(frequent_itemsets(baskets, min_support=5), min_threshold=0.1)
    assert min(rules.iloc[0]["antecedents"]).startswith("rare")  # association_rules sorts by lift
    screen = screen_rules(rules, min_baskets=100, min_rule_baskets=1)
    firsts = [min(a | c) for a, c in zip(screen.pairs["antecedents"], screen.pairs["consequents"])]
    assert firsts == ["cake", "rare1"]
    assert (np.diff(screen.rules["p_value"].to_numpy()) >= 0).all()
    floored = screen_rules(rules, min_baskets=100, min_rule_baskets=6)
    assert [min(a | c) for a, c in zip(floored.pairs["antecedents"], floored.pairs["consequents"])] == ["cake"]
    assert (floored.passed, floored.supported) == (4, 2)


def test_customer_floor_and_one_rule_per_itemset():
    # 24 orders of tea, cake and jam by two customers: enough orders, too few customers.
    tx = _lines({f"o{k}": (f"c{k % 2}", ["tea", "cake", "jam"]) for k in range(24)})
    tx = pd.concat([tx, _lines({f"p{k}": (f"d{k}", [f"other{k}"]) for k in range(40)})])
    kwargs = dict(min_support=2, min_baskets=10, min_rule_baskets=20)
    assert customer_rules(tx, min_rule_customers=3, **kwargs).pairs.empty
    shown = customer_rules(tx, min_rule_customers=2, **kwargs).pairs
    wholes = [a | c for a, c in zip(shown["antecedents"], shown["consequents"])]
    assert len(wholes) == len(set(wholes)) == 4  # three pairs and one rule of the triple
    assert (shown["customers"] == 2).all()


def test_customer_rules_is_the_documented_composition(retail):
    baskets, _ = retail
    tx = pd.DataFrame(
        [(f"o{b}", f"c{b % 700}" if b % 9 else None, item) for b, items in enumerate(baskets) for item in items],
        columns=["order_id", "customer_id", "product_id"],
    ).assign(quantity=1)
    screen = customer_rules(tx, min_support=0.01, max_basket_items=12)
    itemsets = frequent_itemsets(
        tx, min_support=0.01, max_len=3, include_guests=False, max_basket_items=12, count_customers=True
    )
    by_hand = screen_rules(association_rules(itemsets, min_threshold=0.1), min_baskets=1000)
    assert screen.n_baskets == itemsets.attrs["n_baskets"] and screen.passed == by_hand.passed > 0
    pd.testing.assert_frame_equal(screen.pairs, by_hand.pairs)
    assert screen.excluded_guest_baskets == itemsets.attrs["excluded_guest_baskets"] > 0
    assert screen.excluded_bulk_baskets == itemsets.attrs["excluded_bulk_baskets"] > 0


def test_customer_rules_defaults_are_the_report_params():
    import inspect

    from crmtools.params import DEFAULTS

    defaults = {k: p.default for k, p in inspect.signature(customer_rules).parameters.items()}
    report = {k: v for k, v in DEFAULTS["basket"].items() if k != "top_n"}
    assert report.keys() <= defaults.keys()
    assert {k: defaults[k] for k in report} == report


def test_the_step_guard_refuses_with_advice_that_names_existing_params():
    import re

    from crmtools.params import DEFAULTS, resolve_params

    tx = _lines({f"o{k}": ("a", [f"i{j}" for j in range(40)]) for k in range(3)})  # 3 bulk orders of 40 products
    with pytest.raises(ValueError, match="Mining refused") as info:
        customer_rules(tx, min_support=1, min_baskets=1, max_basket_items=None, max_memory=2**20)
    text = str(info.value)
    named = re.findall(r"params (basket\.\w+)", text)
    assert set(named) == {"basket.min_support", "basket.max_len", "basket.max_basket_items", "basket.max_memory"}
    assert all(name.split(".")[1] in DEFAULTS["basket"] for name in named)
    for name, value in re.findall(r"\(params (basket\.\w+)\) from \S+ to (\d+(?:\.\d+)?)", text):
        resolve_params({"basket": {name.split(".")[1]: int(value) if value.isdigit() else float(value)}})
    assert "max_len (params basket.max_len) from 3 to 2" in text
    # following the advice works: the bulk orders left out, nothing is left to refuse
    assert customer_rules(tx, min_support=1, min_baskets=1, max_basket_items=30, max_memory=2**20).n_baskets == 0
    with pytest.raises(ValueError, match="max_len") as info:  # max_len already 2: not advised again
        customer_rules(tx, min_support=1, min_baskets=1, max_len=None, max_basket_items=None, max_memory=2**22)
    assert "from None to 2" in str(info.value)


def test_the_rules_guard_counts_the_itemsets_held_and_the_tests():
    from crmtools.basket import _rules_bytes

    fi = frequent_itemsets([["a", "b", "c", "d"]] * 3, min_support=1)
    lengths = fi["length"].to_numpy()
    need = _rules_bytes(lengths, 6 * 2 + 4 * 3 + 1 * 4)  # max_consequent_len=1: L rules from each itemset of L
    assert need > 28 * 240  # more than the candidate rules alone
    assert len(association_rules(fi, min_threshold=0.0, max_memory=need)) == 28
    with pytest.raises(ValueError, match=r"Rules refused: 28 candidate rules from 15 itemsets"):
        association_rules(fi, min_threshold=0.0, max_memory=need - 1)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"min_rule_baskets": 0}, r"'basket.min_rule_baskets' must be a whole number of at least 1"),
        ({"min_rule_customers": -1}, r"'basket.min_rule_customers' must be a whole number of at least 0"),
        ({"max_basket_items": 1}, r"'basket.max_basket_items' must be a whole number of at least 2"),
        ({"include_guests": "no"}, r"'basket.include_guests' must be true/false"),
        ({"max_memory": 0}, r"'basket.max_memory' must be a whole number of at least 1"),
    ],
)
def test_basket_policy_params_have_domains(override, message):
    from crmtools.errors import ParameterError
    from crmtools.params import resolve_params

    with pytest.raises(ParameterError, match=message):
        resolve_params({"basket": override})
    assert resolve_params({"basket": {"max_basket_items": None}})["basket"]["max_basket_items"] is None


BULK_FIXTURE = Path(__file__).resolve().parent / "data" / "online_retail_bulk_orders.csv"


def test_bulk_invoices_fixture_reproduces_the_problem_and_the_policy_fixes_it():
    """``tests/data/online_retail_bulk_orders.csv``: 62 real Online Retail lines of November 2011.

    Six customer orders holding GREEN and PINK REGENCY TEACUP AND SAUCER (six customers), fourteen small
    customer orders (the first line of fourteen other November orders, each a different product), and three
    bulk orders sharing the first twelve products of guest invoice 579777: 579777 and 578344 (guest invoices
    of 687 and 622 lines in the data) and 579196 (a customer's order of 529 lines).
    """
    raw = pd.read_csv(BULK_FIXTURE, dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": str})
    tx = raw.rename(
        columns={
            "InvoiceNo": "order_id",
            "StockCode": "product_id",
            "Description": "product_name",
            "Quantity": "quantity",
            "CustomerID": "customer_id",
        }
    )
    assert len(tx) == 62 and tx["order_id"].nunique() == 23
    # The problem: every rule among the twelve bulk products has confidence 100% and the top lift, and
    # none of them is a customer's choice (two of the three baskets have no customer).
    before = screen_rules(
        association_rules(frequent_itemsets(tx, min_support=2, count_customers=True), min_threshold=0.1),
        min_baskets=1,
        min_rule_baskets=1,
        min_rule_customers=0,
    )
    by_lift = before.rules.sort_values("lift", ascending=False, kind="stable").head(15)
    assert (by_lift["confidence"] == 1).all() and (by_lift["count"] == 3).all() and (by_lift["customers"] == 1).all()
    assert not any("TEACUP" in " ".join(a | c) for a, c in zip(by_lift["antecedents"], by_lift["consequents"]))
    # The policy: guest orders and bulk orders out (counted), floors on orders and customers (scaled down).
    after = customer_rules(
        tx, min_support=2, min_baskets=1, min_rule_baskets=3, min_rule_customers=3, max_basket_items=10
    )
    assert (after.excluded_guest_baskets, after.excluded_bulk_baskets, after.excluded_bulk_lines) == (2, 1, 12)
    assert after.n_baskets == 20
    (pair,) = after.pairs.itertuples()
    assert {*pair.antecedents, *pair.consequents} == {
        "GREEN REGENCY TEACUP AND SAUCER",
        "PINK REGENCY TEACUP AND SAUCER",
    }
    assert (pair.count, pair.customers, pair.confidence) == (6, 6, 1.0)
    assert pair.lift == pytest.approx(20 / 6)


def test_rule_drift_one_row_per_itemset():
    before = association_rules(frequent_itemsets([["x", "y"]] * 3 + [["z"]], min_support=1), min_threshold=0.1)
    after = association_rules(frequent_itemsets([["z", "w"]] * 3 + [["x"]], min_support=1), min_threshold=0.1)
    drift = rule_drift(before, after, metric="support", one_per_itemset=True)
    assert [(sorted(a | c), s) for a, c, s in zip(drift["antecedents"], drift["consequents"], drift["status"])] == [
        (["w", "z"], "new"),
        (["x", "y"], "lost"),
    ]
    assert len(rule_drift(before, after)) == 4  # both directions of each pair by default


def test_screen_text_states_the_floors_and_what_was_left_out():
    from crmtools.reporting.summary import rule_screen_text

    orders = {f"o{k}": (f"c{k}", ["tea", "cake"]) for k in range(30)} | {f"p{k}": (f"d{k}", ["jam"]) for k in range(30)}
    orders |= {"g1": (None, ["tea", "cake"]), "b1": ("c0", [f"i{j}" for j in range(120)])}
    screen = customer_rules(_lines(orders), min_support=2, min_baskets=10)
    text = rule_screen_text(screen)
    assert "2 rules tested in 60 orders; 2 significant" in text
    assert (
        "of which 2 are held by at least 20 orders of at least 10 different customers: shown as 1 pair or rule" in text
    )
    assert "Left out before mining: 1 guest orders (no customer id) and 1 bulk orders of more than 100" in text
    ja = rule_screen_text(screen, language="ja")
    assert "ゲスト注文（顧客IDなし）1件" in ja and "20件以上の注文・10人以上" in ja


_RULES_IN_A_PROCESS = """
import json
from crmtools.basket import association_rules, frequent_itemsets
items = ["Cotton Socks", "Kagoshima Black Sugar", "Rich Serum", "Washable Towel", "Compact Pan", "Green Tea"]
baskets = [[items[k % 6], items[(k // 6) % 6], items[(k // 36) % 6]] for k in range(216)]  # ties everywhere
rules = association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.0)
print(json.dumps([[sorted(a), sorted(c)] for a, c in zip(rules["antecedents"], rules["consequents"])]))
"""


def test_rule_order_does_not_depend_on_the_process_hash_seed():
    """Text items iterate out of a frozenset in the order of their hashes, which Python draws anew for every
    process: the rules (and which direction of a tied pair a report names) must come out the same in every
    kernel and every run."""
    import subprocess
    import sys

    outputs = set()
    for seed in ("1", "4", "5", "11"):
        done = subprocess.run(
            [sys.executable, "-c", _RULES_IN_A_PROCESS],
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1 and len(next(iter(outputs))) > 100
