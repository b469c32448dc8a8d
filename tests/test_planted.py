"""The analyses recover what the default sample data plants (seed 7, 20,000 customers, 24 months)."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from crmtools import basket, campaigns, clv, experiments
from crmtools.sampledata import _SEASON, SampleConfig, generate_sample


@pytest.fixture(scope="module")
def sample():
    return generate_sample(SampleConfig())


def test_planted_experiment_effects_are_detected_and_the_aa_test_is_not(sample):
    tables, truths = sample
    results = experiments.experiment_results(tables["experiments"], random_state=0).set_index(
        ["experiment_id", "metric", "variant"]
    )
    assert bool(results.loc[("EXP-SUBJECT", "conversion_rate", "B"), "significant"])
    assert not bool(results.loc[("EXP-SUBJECT", "conversion_rate", "C"), "significant"])
    assert bool(results.loc[("EXP-OFFER", "revenue_per_unit", "free_shipping"), "significant"])
    assert not bool(results.loc[("EXP-OFFER", "conversion_rate", "free_shipping"), "significant"])
    for metric in ("conversion_rate", "revenue_per_unit"):
        assert not bool(results.loc[("EXP-AA", metric, "control_copy"), "significant"])
    # the planted lift lies inside the reported interval
    planted = truths["experiments"]["EXP-SUBJECT"]["variants"]["B"]["relative_conversion_lift"]
    row = results.loc[("EXP-SUBJECT", "conversion_rate", "B")]
    assert row["relative_lift_ci_low"] <= planted <= row["relative_lift_ci_high"]
    assert results["srm_passed"].all()


def test_planted_campaign_increments_fall_inside_their_intervals(sample):
    tables, truths = sample
    roi = campaigns.campaign_roi(tables["campaigns"], tables["campaign_contacts"], tables["transactions"])
    roi = roi.set_index("campaign_id")
    checked = 0
    for campaign_id, truth in truths["campaigns"].items():
        if not truth.get("holdout"):
            assert roi.loc[campaign_id, "attribution"] != "contacts"
            continue
        row = roi.loc[campaign_id]
        assert row["incremental_revenue_ci_low"] <= truth["incremental_revenue"] <= row["incremental_revenue_ci_high"]
        checked += 1
    assert checked == 5
    assert not bool(roi.loc["CMP-04", "incremental_significant"])  # the campaign with no effect


def test_planted_co_purchase_pairs_are_found_with_their_lift(sample):
    tables, truths = sample
    itemsets = basket.frequent_itemsets(tables["transactions"], min_support=0.002, max_len=2)
    rules = basket.association_rules(itemsets, min_threshold=0.0)
    for pair in truths["co_purchase_pairs"]:
        match = rules[
            (rules["antecedents"] == frozenset([pair["antecedent"]]))
            & (rules["consequents"] == frozenset([pair["consequent"]]))
        ]
        assert len(match) == 1, pair
        assert match["lift"].iloc[0] == pytest.approx(pair["expected_lift"], rel=0.15)
        assert match["p_adjusted"].iloc[0] < 1e-6


# --------------------------------------------------------------------------- buy till you die (crmtools.clv)


@pytest.fixture(scope="module")
def btyd(sample):
    """The planted per-customer truths next to the BG/NBD fit on all 24 months (days)."""
    tables, truths = sample
    planted = truths["buy_till_you_die"]
    truth = pd.DataFrame(
        {k: planted[k] for k in ("customer_id", "rate_per_day", "dropout_probability", "dropped_out_at")}
    )
    summary = clv.customer_summary(tables["transactions"], calibration_end="2025-12-31", time_unit="D")
    model = clv.fit_bgnbd(summary)
    return tables, planted, truth, summary.merge(truth, on="customer_id", validate="1:1"), model


def test_planted_dropouts_are_recorded_per_customer(btyd):
    tables, _, truth, _, _ = btyd
    assert truth["customer_id"].tolist() == tables["customers"]["customer_id"].tolist()
    assert truth["dropout_probability"].between(0, 1).all() and (truth["rate_per_day"] > 0).all()
    # after the order that ended it, a customer who dropped out places no ordinary order (campaign orders aside)
    tx = tables["transactions"]
    buys = tx[(tx["quantity"] > 0) & tx["campaign_id"].isna()].merge(truth, on="customer_id")
    after = buys["order_datetime"].dt.normalize() > pd.to_datetime(buys["dropped_out_at"])
    assert buys["dropped_out_at"].notna().any() and not after.any()


def test_bgnbd_recovers_the_planted_process(btyd):
    _, planted, truth, _, model = btyd
    r, alpha, a, b = (model.params[k] for k in ("r", "alpha", "a", "b"))
    assert model.converged and model.time_unit == "D"
    # purchase rate: the gamma shape of the base rate (channel multipliers widen it a little) and the mean
    # effective rate (seasonal multiplier averaged over the year), within 15% and 10%
    assert r == pytest.approx(planted["rate_gamma_shape"], rel=0.15)
    mean_rate = truth["rate_per_day"].mean() * sum(_SEASON.values()) / 12
    assert r / alpha == pytest.approx(mean_rate, rel=0.10)
    # dropout: the beta law's mean within 15%, each parameter within 30% (campaign orders, guest orders and
    # same-day orders blur the process a little)
    pa, pb = planted["dropout_beta"]
    assert a / (a + b) == pytest.approx(pa / (pa + pb), rel=0.15)
    assert a == pytest.approx(pa, rel=0.30) and b == pytest.approx(pb, rel=0.30)


def _auc(scores, positive):
    pos, neg = scores[positive], scores[~positive]
    return stats.mannwhitneyu(pos, neg).statistic / (len(pos) * len(neg))


def test_probability_alive_ranks_truly_alive_customers_above_dropped_out_ones(btyd):
    _, _, _, joined, model = btyd
    alive = clv.probability_alive(model, joined).to_numpy()
    truly_alive = joined["dropped_out_at"].isna().to_numpy()
    repeaters = (joined["frequency"] > 0).to_numpy()
    # measured 0.891 over all customers, 0.824 among repeat customers (P(alive) = 1 without repeats)
    assert _auc(alive, truly_alive) > 0.85
    assert _auc(alive[repeaters], truly_alive[repeaters]) > 0.78
