"""The summary's headline figures: a frozen, incremental campaign ROI; honest comparisons; tiles; words."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crmtools.basket import RuleScreen
from crmtools.reporting.summary import (
    PeriodCampaignROI,
    experiment_table,
    headline_kpis,
    pair_labels,
    payback_texts,
    period_campaign_roi,
    roi_comparison,
    rule_screen_text,
)
from crmtools.reporting.tables import kpi_tiles


@pytest.fixture
def tables():
    """One campaign running 15 April to 15 May 2025 (cost 1,000): treatment a, b; holdout c, d; and one in June."""
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["C1", "C2"],
            "name": ["Spring mail", "June mail"],
            "channel": ["dm", "email"],
            "start_date": pd.to_datetime(["2025-04-15", "2025-06-01"]),
            "end_date": pd.to_datetime(["2025-05-15", "2025-06-20"]),
            "cost": [1000.0, 500.0],
        }
    )
    contacts = pd.DataFrame(
        {
            "campaign_id": ["C1"] * 4 + ["C2"] * 2,
            "customer_id": ["a", "b", "c", "d", "a", "c"],
            "group": ["treatment", "treatment", "holdout", "holdout", "treatment", "holdout"],
            "contacted_at": pd.to_datetime(["2025-04-15 10:00"] * 4 + ["2025-06-01 10:00"] * 2),
        }
    )
    tx = pd.DataFrame(
        {
            "customer_id": ["a", "c", "b", "a"],
            "order_datetime": pd.to_datetime(["2025-04-20", "2025-04-22", "2025-05-03", "2025-06-05"]),
            "quantity": 1,
            "amount": [3000.0, 1000.0, 5000.0, 800.0],
        }
    )
    return campaigns, contacts, tx


def test_the_summary_tile_and_the_campaigns_page_share_one_roi_computation(tables, tmp_path):
    """The summary passes the run's cached call (``roi_of``); the campaigns page asks for the same table with the
    period's campaigns and contacts (``Dataset.for_period``) and the orders before its end: computed once."""
    import functools

    from crmtools import campaigns as campaign_analysis
    from crmtools.periods import parse_period
    from crmtools.reporting.results import cached_call
    from crmtools.slicing import campaigns_active, contacts_of, transactions_before

    campaigns, contacts, tx = tables
    calls = []

    @functools.wraps(campaign_analysis.campaign_roi)
    def counted(*args, **kwargs):
        calls.append(1)
        return campaign_analysis.campaign_roi(*args, **kwargs)

    cache = tmp_path / "results"
    roi_of = functools.partial(cached_call, cache, "campaign_roi_frozen", counted)
    april = period_campaign_roi(campaigns, contacts, tx, "2025-04", margin=0.5, roi_of=roi_of)
    assert april == period_campaign_roi(campaigns, contacts, tx, "2025-04", margin=0.5) and len(calls) == 1
    period = parse_period("2025-04")
    running = campaigns_active(campaigns, period=period)
    page = cached_call(  # as notebooks/06_campaigns.ipynb asks for it
        cache,
        "campaign_roi_frozen",
        counted,
        running,
        contacts_of(contacts, running),
        transactions_before(tx, as_of=period.end),
        margin=0.5,
        as_of=period.end,
    )
    assert len(calls) == 1 and page["campaign_id"].tolist() == ["C1"]


def test_april_figure_by_hand_and_frozen_to_april_orders(tables):
    campaigns, contacts, tx = tables
    april = period_campaign_roi(campaigns, contacts, tx, "2025-04", margin=0.5)
    # Orders before May 1 only: treatment a 3,000 (b's May order not yet), holdout c 1,000.
    # incremental revenue = (3000/2 - 1000/2) * 2 = 2,000; x 0.5 = 1,000 against a cost of 1,000.
    assert april.campaigns == ("C1",) and april.holdout_campaigns == ("C1",) and april.running == ("C1",)
    assert april.incremental_revenue == pytest.approx(2000.0)
    assert april.incremental_gross_profit == pytest.approx(1000.0)
    assert april.incremental_profit == pytest.approx(0.0)
    assert april.incremental_roi == pytest.approx(0.0)
    assert april.attributed_roi == pytest.approx((0.5 * 3000 - 1000) / 1000)  # 0.5, shown only as a secondary
    # May: b's 5,000 is in: incremental revenue (8000/2 - 1000/2) * 2 = 7,000 -> ROI (3500 - 1000) / 1000 = 2.5.
    may = period_campaign_roi(campaigns, contacts, tx, "2025-05", margin=0.5)
    assert may.incremental_roi == pytest.approx(2.5) and may.running == ()
    # Frozen: the April figure is the same whether or not later orders are in the data.
    later = pd.concat(
        [
            tx,
            pd.DataFrame(
                {
                    "customer_id": ["a"],
                    "order_datetime": pd.to_datetime(["2025-05-10"]),
                    "quantity": [1],
                    "amount": [99_999.0],
                }
            ),
        ],
        ignore_index=True,
    )
    assert period_campaign_roi(campaigns, contacts, later, "2025-04", margin=0.5) == april
    assert period_campaign_roi(campaigns, contacts, tx, "2025-04", margin=0.5) == april  # and repeatable
    assert period_campaign_roi(campaigns, contacts, tx, "2025-03", margin=0.5) is None


def test_the_tile_says_when_the_interval_includes_no_effect():
    kpis = pd.DataFrame({"kpi": ["revenue"], "value": [1.0], "previous": [1.0], "year_ago": [1.0]})
    noisy = PeriodCampaignROI(
        "2025-10", ("C4",), ("C4",), (), 0.4, 4118.0, 510997.7, 204399.1, 200281.1, 48.6, -9.97, 107.2, 215.9, 0, 0.0
    )
    note = headline_kpis(kpis, campaign_roi=(noisy, None, None)).set_index("kpi").loc["campaign_roi", "note"]
    assert "95% CI −997% to 10720%" in note and "not significant" in note
    clear = PeriodCampaignROI(
        "2025-12",
        ("C5",),
        ("C5",),
        (),
        0.4,
        747360.0,
        2150048.8,
        860019.5,
        112659.5,
        0.15,
        -0.61,
        0.91,
        1.08,
        1,
        1_500_000.0,
    )
    note = headline_kpis(kpis, campaign_roi=(clear, None, None)).set_index("kpi").loc["campaign_roi", "note"]
    assert "not significant" not in note and "1 campaign without a holdout (¥1.5M) in neither figure" in note
    assert "attributed ROI of the same campaign 108.0%" in note


def test_margin_is_required_and_used(tables):
    campaigns, contacts, tx = tables
    with pytest.raises(TypeError):
        period_campaign_roi(campaigns, contacts, tx, "2025-04")  # no silent margin 1.0
    full = period_campaign_roi(campaigns, contacts, tx, "2025-04", margin=1.0)
    assert full.incremental_roi == pytest.approx((2000.0 - 1000) / 1000)
    assert full.attributed_roi == pytest.approx((3000.0 - 1000) / 1000)


def test_campaigns_without_holdout_are_left_out_of_the_headline_and_counted(tables):
    campaigns, contacts, tx = tables
    ads = pd.DataFrame(
        {
            "campaign_id": ["ADS"],
            "name": ["Web ads"],
            "channel": ["ads"],
            "start_date": pd.to_datetime(["2025-04-01"]),
            "end_date": pd.to_datetime(["2025-04-30"]),
            "cost": [7000.0],
        }
    )
    figure = period_campaign_roi(pd.concat([campaigns, ads], ignore_index=True), contacts, tx, "2025-04", margin=0.5)
    assert figure.campaigns == ("ADS", "C1") and figure.holdout_campaigns == ("C1",)
    assert figure.incremental_roi == pytest.approx(0.0)  # C1 only
    assert (figure.excluded_campaigns, figure.excluded_cost) == (1, 7000.0)
    # the attributed figure beside it covers the same campaign (C1 alone: its own figure on the campaigns page),
    # not Web ads' cost: (0.5 x 3000 - 1000) / 1000
    assert figure.attributed_roi == pytest.approx(0.5)


def _roi(period, ids, roi, profit):
    return PeriodCampaignROI(
        period,
        ids,
        ids,
        (),
        0.4,
        100.0,
        float("nan"),
        float("nan"),
        profit,
        roi,
        float("nan"),
        float("nan"),
        2.0,
        0,
        0.0,
    )


def test_no_change_in_points_between_campaign_sets():
    dec, nov = _roi("2025-12", ("C5",), 0.15, 112_659.5), _roi("2025-11", ("C4",), 48.6, 200_281.1)
    found = roi_comparison(dec, nov)
    assert found["code"] == "different_campaigns" and math.isnan(found["points"])
    assert found["profit_change"] == pytest.approx(112_659.5 - 200_281.1)
    assert roi_comparison(dec, _roi("2025-11", ("C5",), -0.27, -204_083.4))["code"] == "same_campaigns"
    assert roi_comparison(dec, None)["code"] == "no_campaigns"
    kpis = pd.DataFrame({"kpi": ["revenue"], "value": [1.0], "previous": [1.0], "year_ago": [1.0]})
    tiles = headline_kpis(kpis, campaign_roi=(dec, nov, None)).set_index("kpi")
    tile = tiles.loc["campaign_roi"]
    assert tile["value"] == 0.15 and math.isnan(tile["previous"]) and math.isnan(tile["year_ago"])
    assert tile["label"] == "Campaign ROI: incremental vs holdout, 40% margin"
    assert tile["previous_note"] == "n/a — different campaigns; incremental profit −¥87.6K"
    assert tile["year_ago_note"] == "n/a — no campaign with a holdout to compare"
    assert "attributed ROI of the same campaign 200.0%" in tile["note"]
    same = headline_kpis(kpis, campaign_roi=(dec, _roi("2025-11", ("C5",), -0.27, -1.0), None)).set_index("kpi")
    assert same.loc["campaign_roi", "previous_note"] == (
        "n/a — same campaigns, −27.0% as it stood at the end of Nov 2025"
    )
    ja = headline_kpis(kpis, campaign_roi=(dec, nov, None), language="ja").set_index("kpi").loc["campaign_roi"]
    assert ja["label"] == "キャンペーンROI：ホールドアウト比の増分、貢献利益率40%"
    assert ja["previous_note"].startswith("比較不可（対象キャンペーンが異なる）")
    html = kpi_tiles(headline_kpis(kpis, campaign_roi=(dec, nov, None))).data
    assert " pt" not in html.split("incremental vs holdout")[1]  # the ROI tile shows no points
    assert "n/a — different campaigns" in html and "attributed ROI of the same campaign 200.0%" in html


def test_a_change_that_rounds_to_zero_is_neutral():
    tiles = pd.DataFrame(
        {
            "kpi": ["retention_rate", "revenue", "orders"],
            "value": [0.30001, 100.0, 100.0],
            "previous": [0.30002, 100.04, 90.0],
            "year_ago": [0.2999, 200.0, 100.0],
            "kind": ["percent", "money", "integer"],
        }
    )
    html = kpi_tiles(tiles).data
    assert "−0.0" not in html and "+0.0" not in html
    assert html.count("<span>± 0.0 pt</span>") == 2 and html.count("<span>± 0.0%</span>") == 2
    assert '<span class="down">▼ −50.0%</span>' in html and '<span class="up">▲ +11.1%</span>' in html


def test_payback_codes_are_worded_by_the_catalogue():
    roi = pd.DataFrame(
        {
            "payback": ["paid_back", "not_paid_back", "no_cost", "not_observed", "no_holdout"],
            "payback_months": [3.0, np.nan, 0.0, np.nan, np.nan],
            "payback_observed_months": [12, 5, 0, 0, 0],
        }
    )
    assert payback_texts(roi).tolist() == [
        "paid back in 3 months",
        "not paid back after 5 months",
        "no cost",
        "not observed yet",
        "no holdout",
    ]
    assert payback_texts(roi, language="ja").tolist()[:2] == ["3か月で回収", "5か月経過時点で未回収"]
    assert payback_texts(roi.assign(payback_months=1.0)).tolist()[0] == "paid back in 1 month"


def test_rule_screen_words():
    pairs = pd.DataFrame(
        {"antecedents": [frozenset({"tea"})], "consequents": [frozenset({"cake"})], "reverse_confidence": [0.4]}
    )
    screen = RuleScreen(pairs, tested=16, passed=2, n_baskets=7382, min_baskets=1000, alpha=0.05, too_few_baskets=False)
    assert rule_screen_text(screen) == (
        "16 rules tested in 7,382 baskets; 2 significant after Benjamini-Hochberg "
        "adjustment (q < 0.05) with lift above 1, shown as 1 pair."
    )
    none = RuleScreen(pairs.iloc[:0], 9, 0, 5000, 1000, 0.05, False)
    assert rule_screen_text(none).startswith("No product pair is bought together significantly more often")
    few = RuleScreen(pairs.iloc[:0], 3, 0, 120, 1000, 0.05, True)
    assert rule_screen_text(few, language="ja").startswith("今期のバスケットは120件のみ")
    assert pair_labels(pairs).tolist() == ["tea ↔ cake"]


def _primary(kind, health, srm_passed=True, verdict="not_significant"):
    return pd.DataFrame(
        {
            "experiment_id": ["E"],
            "metric": ["revenue_per_unit"],
            "control": ["control"],
            "variant": ["x"],
            "srm_p_value": [0.5 if srm_passed else 1e-6],
            "srm_passed": [srm_passed],
            "control_units": [100],
            "variant_units": [100],
            "control_value": [1.0],
            "variant_value": [1.1],
            "difference": [0.1],
            "difference_ci_low": [-0.1],
            "difference_ci_high": [0.3],
            "relative_lift": [0.1],
            "relative_lift_ci_low": [-0.1],
            "relative_lift_ci_high": [0.3],
            "statistic": [1.0],
            "p_value": [0.3],
            "p_value_adjusted": [0.3],
            "correction": ["holm"],
            "comparisons": [1],
            "alpha": [0.05],
            "significant": [False],
            "method_used": ["welch"],
            "method_reason": [""],
            "detectable_lift": [0.05],
            "mde": [0.1],
            "underpowered": [False],
            "prob_beats_control": [np.nan],
            "expected_loss": [np.nan],
            "trustworthy": [srm_passed],
            "borderline": [False],
            "verdict": [verdict],
            "kind": [kind],
            "health_check": [health],
        }
    )


def test_experiment_table_labels_aa_tests_as_health_checks():
    passed = experiment_table(_primary("aa", "passed")).iloc[0]
    assert passed["experiment_kind"] == "A/A health check" and passed["primary_metric"] == "revenue per unit"
    assert passed["verdict"].startswith("Health check passed") and passed["srm_check"] == "passed (p = 0.500)"
    failed = experiment_table(_primary("aa", "failed")).iloc[0]
    assert failed["verdict"].startswith("Health check FAILED: identical variants differ")
    srm = experiment_table(_primary("aa", "failed", srm_passed=False, verdict="srm_failed")).iloc[0]
    assert srm["verdict"].startswith("Health check FAILED: the split") and srm["srm_check"] == "FAILED (p < 0.001)"
    ab = experiment_table(_primary("ab", None), language="ja").iloc[0]
    assert ab["experiment_kind"] == "A/Bテスト" and ab["verdict"].startswith("バリアント「x」")


def test_tiles_say_why_at_the_edges_of_the_data(make_transactions):
    # The data starts on 2024-12-01 (as Online Retail on 2010-12-01): December 2025 has no year-ago new
    # customers (everybody looks new in the first month) and December 2024 has nothing to compare with.
    from crmtools.kpis import period_kpis

    tx = make_transactions(
        [
            ("O1", "a", "2024-12-01 08:26", 1, 100.0),
            ("O2", "b", "2024-12-05", 1, 200.0),
            ("O3", "a", "2025-11-10", 1, 300.0),
            ("O4", "c", "2025-12-03", 1, 50.0),
            ("O5", "a", "2025-12-04", 1, 70.0),
        ]
    )
    tiles = headline_kpis(period_kpis(tx, period="2025-12")).set_index("kpi")
    assert tiles.loc["new_customers", "year_ago_note"] == "n/a: first month of the data"
    assert tiles.loc["repeat_rate", "year_ago_note"] == "n/a: first month of the data"
    assert pd.isna(tiles.loc["revenue", "year_ago_note"]) and tiles.loc["revenue", "year_ago"] == 300.0
    assert tiles.loc["repeat_rate", "value"] == 0.5 and pd.isna(tiles.loc["repeat_rate", "note"])
    first = headline_kpis(period_kpis(tx, period="2024-12"), language="ja").set_index("kpi")
    assert first.loc["new_customers", "note"] == "比較なし（データの最初の月）" and math.isnan(
        first.loc["new_customers", "value"]
    )
    assert set(first.drop(index="campaign_roi")["previous_note"]) == {"比較なし（データ開始前）"}
    html = kpi_tiles(first.reset_index(), language="ja").data
    assert "▼" not in html and "▲" not in html and html.count("データ開始前") == 14  # 7 tiles x 2 comparisons


def test_a_weak_aa_check_reads_borderline_not_passed():
    from crmtools.experiments import AA_BORDERLINE_P, primary_results

    def rows(experiment, p, lift, significant=False):
        one = _primary("ab", None).drop(columns=["kind", "health_check"])
        return one.assign(
            experiment_id=experiment, p_value=p, p_value_adjusted=p, relative_lift=lift, significant=significant
        )

    assert AA_BORDERLINE_P == 0.1
    tested = rows("EXP-SUBJECT", 0.005, 0.395, significant=True)
    # p = 0.059 < 0.1 (the sample's EXP-AA): borderline; p = 0.5 but a lift as large as a tested effect: borderline
    checks = {
        (0.059, 0.199): "borderline",
        (0.5, 0.40): "borderline",
        (0.5, 0.02): "passed",
        (0.099, 0.01): "borderline",
        (0.1, 0.01): "passed",
    }
    for (p, lift), expected in checks.items():
        primary = primary_results(pd.concat([tested, rows("EXP-AA", p, lift)], ignore_index=True))
        assert primary.set_index("experiment_id").loc["EXP-AA", "health_check"] == expected, (p, lift)
    weak = primary_results(pd.concat([tested, rows("EXP-AA", 0.059, 0.199)], ignore_index=True))
    verdict = experiment_table(weak).set_index("experiment_id").loc["EXP-AA", "verdict"]
    assert verdict.startswith("Health check borderline (p = 0.059)") and "check the split and tracking" in verdict
    assert "要注意" in experiment_table(weak, language="ja").set_index("experiment_id").loc["EXP-AA", "verdict"]
