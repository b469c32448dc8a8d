"""The analyses recover what the default sample data plants (seed 7, 20,000 customers, 24 months)."""

from __future__ import annotations

import pytest

from crmtools import basket, campaigns, experiments
from crmtools.sampledata import SampleConfig, generate_sample


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
