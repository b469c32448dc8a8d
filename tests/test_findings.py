"""Generated sentences: executive-summary findings, A/B test verdicts and rules read out, in English and Japanese."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmtools import basket
from crmtools.basket import association_rules, frequent_itemsets
from crmtools.deciles import Concentration
from crmtools.experiments import conversion_test, experiment_results
from crmtools.reporting.findings import (
    MAX_ACTIONS,
    MAX_FINDINGS,
    MIN_AUDIENCE,
    action_records,
    actions_not_proposed,
    recommended_actions,
    rule_sentences,
    summary_findings,
    top_movements,
    verdict_sentences,
)


@pytest.fixture()
def results():
    """One result of each kind the summary reads, small enough to check by hand."""
    return dict(
        segments=pd.DataFrame(
            {
                "segment": ["Champions", "At Risk", "Lost"],
                "customers": [20, 30, 50],
                "share": [0.2, 0.3, 0.5],
                "revenue": [7000.0, 2000.0, 1000.0],
                "revenue_share": [0.7, 0.2, 0.1],
            }
        ),
        segments_previous=pd.DataFrame(
            {
                "segment": ["Champions", "At Risk", "Lost"],
                "customers": [25, 20, 55],
                "share": [0.25, 0.2, 0.55],
                "revenue": [8000.0, 1500.0, 500.0],
                "revenue_share": [0.8, 0.15, 0.05],
            }
        ),
        migration=pd.DataFrame(
            {
                "from_segment": ["Champions", "Champions", "Loyal", "Lost"],
                "to_segment": ["Champions", "At Risk", "Inactive", "Lost"],
                "customers": [6, 3, 1, 5],
                "share_of_from": [0.6, 0.3, 1.0, 1.0],
            }
        ),
        f2=pd.DataFrame(
            {
                "cohort": ["2025-07", "2025-08", "2025-10"],
                "new_customers": [100, 200, 80],
                "repeaters": [30, 50, 10],
                "f2_rate": [0.3, 0.25, 0.125],
                "complete": [True, True, False],
            }
        ),
        concentration=Concentration(customers=100, revenue=1e6, top10_share=0.42, top20_share=0.6, gini=0.55),
        concentration_previous=Concentration(customers=90, revenue=9e5, top10_share=0.40, top20_share=0.6, gini=0.5),
        experiments=conversion_test(
            pd.DataFrame(
                {
                    "experiment_id": "E1",
                    "variant": ["control", "B"],
                    "units": [16000, 16000],
                    "conversions": [1600, 1800],
                }
            )
        ),
        campaigns=pd.DataFrame(
            {
                "campaign_id": ["c1", "c2"],
                "name": ["Spring sale", None],
                "incremental_revenue": [250000.0, 90000.0],
                "incremental_revenue_ci_low": [12000.0, 1.0],
                "incremental_revenue_ci_high": [510000.0, 2.0],
                "incremental_roi": [1.5, np.nan],
            }
        ),
        rule_sentences=["A rule."],
    )


def test_summary_findings_in_english(results):
    assert summary_findings(period_text="Oct 2025", **results) == [
        "At Risk grew by 10 to 30 customers since last period (+50.0%); they bring 20.0% of the last year's revenue. "
        "More customers are drifting away: reactivate them before they lapse for good.",
        "4 of last period's 10 Champions and Loyal customers (40.0%) slipped towards dormancy: they are the customers "
        "whose spend matters most, so reach them before their usual purchase interval runs out.",
        "25.0% of the new customers of Aug 2025 ordered again within 90 days, down 5.0 pt on Jul 2025: fewer new "
        "customers reach a second order, so review the first weeks after the first purchase.",
        "The top 10% of customers brought in 42.0% of revenue (Gini 0.55), up 2.0 pt on the previous period: revenue "
        "leans more on few customers, so losing one of them costs more.",
        "E1: Variant B raised conversion rate by 12.5% (95% CI 5.6% to 19.9%). The difference is statistically "
        "significant (p < 0.001).",
        'Campaign "Spring sale" added ¥250K of incremental revenue against its holdout (95% CI ¥12K to ¥510K): a '
        "measured effect the next sends can be planned on.",
    ]


def test_summary_findings_in_japanese(results):
    assert summary_findings(period_text="2025年10月", language="ja", **results)[:4] == [
        "「離反危険顧客」は前期から10人増えて30人になりました（50.0%増）。過去1年の売上の20.0%を占めるセグメントです。"
        "離れつつある顧客が増えています。離反が確定する前に再活性化しましょう。",
        "前期の優良・ロイヤル顧客10人のうち4人（40.0%）が休眠・離反方向に移りました。売上への影響が最も大きい顧客なので、"
        "通常の購入間隔が切れる前に連絡しましょう。",
        "2025年8月の新規顧客のうち90日以内に2回目を購入したのは25.0%で、2025年7月から5.0ポイント低下しました。"
        "初回購入後数週間のフォローを見直しましょう。",
        "上位10%の顧客が売上の42.0%を占め（ジニ係数 0.55）、前期から2.0ポイント上昇しました。"
        "少数の顧客への依存が高まり、1人の離反の影響が大きくなっています。",
    ]


def test_findings_never_repeat_a_tile():
    """The tiles' own figures (revenue, customers, retention ...) are not findings: nothing reads the KPI table."""
    kpis = pd.DataFrame(
        {
            "kpi": ["revenue", "active_customers", "retention_rate"],
            "value": [1234567.0, 4321.0, 0.377],
            "previous": [1000000.0, 4000.0, 0.35],
            "year_ago": [900000.0, 3000.0, 0.3],
        }
    )
    assert "kpis" not in summary_findings.__kwdefaults__
    with pytest.raises(TypeError):
        summary_findings(kpis=kpis)
    words = " ".join(
        summary_findings(
            segments=pd.DataFrame({"segment": ["Lost"], "customers": [4321], "revenue_share": [1.0]}),
            segments_previous=pd.DataFrame({"segment": ["Lost"], "customers": [4000]}),
        )
    )
    assert "1,234,567" not in words and "37.7%" not in words and "Revenue was" not in words


def test_only_sentences_whose_numbers_exist(results):
    assert summary_findings() == []
    assert summary_findings(concentration=results["concentration"]) == [
        "The top 10% of customers brought in 42.0% of revenue (Gini 0.55)."
    ]
    one_cohort = results["f2"].iloc[[0]]
    assert summary_findings(f2=one_cohort, within_days=60) == [
        "30.0% of the new customers of Jul 2025 ordered again within 60 days: most new customers are lost before "
        "their second order, so the first weeks decide."
    ]
    assert summary_findings(f2=results["f2"].iloc[[2]]) == []  # a cohort still open is no finding
    assert len(summary_findings(**results)) == MAX_FINDINGS  # the rule sentence is the seventh


def test_no_significant_test_and_segment_labels_of_a_custom_map(results):
    flat = conversion_test(
        pd.DataFrame(
            {"experiment_id": "E2", "variant": ["control", "B"], "units": [1000, 1000], "conversions": [100, 101]}
        )
    )
    spec = {
        "segments": [
            {"name": "At Risk", "label": {"en": "Slipping", "ja": "離脱注意"}, "rules": [{"r": [1, 2]}]},
            {"name": "Champions", "rules": [{"r": [3, 5]}]},
        ]
    }
    found = summary_findings(**{**results, "experiments": flat}, segment_map=spec, language="ja")
    assert "今期のA/Bテストでは、統計的に有意な差は確認されませんでした。" in found
    assert found[0].startswith("「離脱注意」は前期から10人増えて30人になりました")


def test_top_movements_largest_moves_between_different_segments(results):
    migration = results["migration"]
    assert top_movements(migration) == [
        "Champions → At Risk: 3 customers (30.0% of Champions)",
        "Loyal → Inactive: 1 customers (100.0% of Loyal)",
    ]
    assert top_movements(migration, top_n=1, language="ja") == ["優良顧客 → 離反危険顧客：3人（優良顧客の30.0%）"]
    assert top_movements(migration.iloc[0:0]) == []


# --------------------------------------------------------------------------- recommended actions


@pytest.fixture()
def action_inputs(results):
    """Inputs for every kind of action, with sizes above the thresholds."""
    migration = pd.DataFrame(
        {
            "from_segment": ["Champions", "Loyal", "Loyal"],
            "to_segment": ["Champions", "At Risk", "Hibernating"],
            "customers": [500, 120, 30],
            "share_of_from": [1.0, 0.8, 0.2],
        }
    )
    due = pd.DataFrame(
        {"window": ["long overdue", "overdue", "due within 30 days", "later"], "customers": [900, 300, 400, 700]}
    )
    segments = pd.DataFrame(
        {
            "segment": ["Champions", "At Risk", "Can't Lose Them", "New"],
            "customers": [500, 150, 60, 90],
            "revenue": [9e6, 2e6, 1e6, 1e5],
        }
    )
    before = pd.DataFrame(
        {
            "segment": ["Champions", "At Risk", "Can't Lose Them", "New"],
            "customers": [650, 100, 50, 80],
            "revenue": [1e7, 1e6, 1e6, 1e5],
        }
    )
    f2 = pd.DataFrame(
        {
            "cohort": ["2025-08", "2025-09", "2025-12"],
            "new_customers": [100, 120, 90],
            "repeaters": [30, 36, 15],
            "f2_rate": [0.3, 0.3, 15 / 90],
            "complete": [True, True, False],
        }
    )
    campaigns = pd.DataFrame(
        {
            "campaign_id": ["c1", "c2", "c3"],
            "name": ["Catalogue", "Coupon", "Ads"],
            "cost": [100000.0, 50000.0, 80000.0],
            "treated": [1000, 800, 0],
            "holdout": [200, 150, 0],
            "incremental_revenue": [300000.0, 4000.0, np.nan],
            "incremental_revenue_ci_low": [100000.0, -9000.0, np.nan],
            "incremental_revenue_ci_high": [500000.0, 17000.0, np.nan],
            "incremental_significant": pd.array([True, False, pd.NA], dtype="boolean"),
        }
    )
    deciles = pd.DataFrame({"decile": [1, 2], "customers": [50, 50], "min_revenue": [20000.0, 9000.0]})
    return dict(
        migration=migration,
        due=due,
        segments=segments,
        segments_previous=before,
        f2=f2,
        period="2025-12",
        campaigns=campaigns,
        concentration=results["concentration"],
        deciles=deciles,
    )


def test_action_records_known_answer_and_order(action_inputs):
    actions = action_records(**action_inputs)
    assert [a.code for a in actions] == ["cycle_reminder", "review_campaign", "win_back", "second_order", "protect_top"]
    reminder = actions[0]
    assert (reminder.customers, reminder.segments, reminder.numbers["slipped"]) == (400, ("Loyal",), 150)
    assert reminder.expected_value == pytest.approx(400 * 300.0)  # 300 per contact measured for c1
    assert reminder.basis["name"] == "Catalogue"
    assert actions[1].expected_value == 50000.0 and actions[1].value_unit == "cost_saved"
    win_back = actions[2]
    assert (win_back.customers, win_back.numbers["change"], win_back.segments) == (
        210,
        60,
        ("Can't Lose Them", "At Risk"),
    )
    assert win_back.expected_value is None
    assert (actions[3].customers, actions[3].numbers["new"], actions[3].numbers["cohort"]) == (75, 90, "2025-09")
    assert (actions[4].customers, actions[4].numbers["threshold"]) == (50, 20000.0)
    # the add_holdout action for "Ads" is the sixth: cut at MAX_ACTIONS
    assert len(actions) == MAX_ACTIONS


def test_actions_in_english_and_japanese(action_inputs):
    actions = action_records(**action_inputs)
    en = recommended_actions(actions, period_text="Dec 2025")
    assert en[0] == (
        "150 Loyal customers slipped towards dormancy since last period — contact the 400 repeat "
        "customers whose usual purchase interval ends within 30 days (everyone who matches, before consent and "
        "holdout: no campaign list is defined for this action, so none is exported). Expected value: not "
        "measured for this "
        "list yet (expected values are quoted only for lists run before with a holdout); if it responds like "
        '"Catalogue" did (¥300 per contacted customer, measured against its holdout, significant), about '
        "¥120K of incremental revenue."
    )
    # the same rule as page 08 (crmtools.actions): a figure borrowed from another campaign is a condition
    assert "if it responds like" in en[0] and "Expected value: about" not in en[0]
    assert en[2] == (
        "Can't Lose Them and At Risk hold 210 lapsed high-value customers (+60 on last period) who spent "
        "¥3M in the last year — send them a win-back offer before they are lost for good (everyone who "
        "matches, before consent and holdout: no campaign list is defined for this action, so none is exported). "
        "Expected value: no measured effect yet."
    )
    ja = recommended_actions(actions, period_text="2025年12月", language="ja")
    assert ja[3] == (
        "2025年12月の新規顧客は90人です。2025年9月の新規顧客のうち90日以内に2回目を購入したのは"
        "30.0%でした。まだ2回目の購入がない75人に2回目購入のオファーを送りましょう（条件に合う全員の人数で、販促許諾と"
        "ホールドアウトを反映する前の数です。この施策のキャンペーンリストは定義されていないため、エクスポートはありません）。"
        "期待効果：まだ測定された効果はありません。"
    )
    assert ja[1].startswith("キャンペーン「Coupon」は費用5万円をかけましたが、接触した800人")


def test_actions_without_a_measured_effect_say_so(action_inputs):
    inputs = {**action_inputs, "campaigns": None}
    actions = action_records(**inputs)
    assert [a.code for a in actions] == ["cycle_reminder", "win_back", "second_order", "protect_top"]
    assert all(a.expected_value is None for a in actions)
    assert all(line.endswith("Expected value: no measured effect yet.") for line in recommended_actions(actions))


def test_action_thresholds(action_inputs):
    few_due = action_inputs["due"].assign(customers=[900, 300, MIN_AUDIENCE - 1, 700])
    codes = [a.code for a in action_records(**{**action_inputs, "due": few_due})]
    assert "cycle_reminder" not in codes
    at = action_inputs["due"].assign(customers=[900, 300, MIN_AUDIENCE, 700])
    assert "cycle_reminder" in [a.code for a in action_records(**{**action_inputs, "due": at})]
    even = Concentration(customers=100, revenue=1e6, top10_share=0.29, top20_share=0.4, gini=0.2)
    assert "protect_top" not in [a.code for a in action_records(**{**action_inputs, "concentration": even})]
    no_open_cohort = action_inputs["f2"].iloc[:2]  # nobody new in the period
    assert "second_order" not in [a.code for a in action_records(**{**action_inputs, "f2": no_open_cohort})]
    nothing_slipped = action_inputs["migration"].iloc[[0]]
    reminder = action_records(**{**action_inputs, "migration": nothing_slipped})[0]
    assert reminder.reason == "due" and reminder.segments == ()
    assert recommended_actions([reminder])[0].startswith("A message timed to the purchase cycle arrives when")


def test_a_winning_variant_is_rolled_out_with_its_measured_value(action_inputs):
    tested = experiment_results(
        pd.DataFrame(
            {"experiment_id": "E", "variant": ["control", "B"], "units": [10000, 10000], "conversions": [1000, 1200]}
        )
    )
    actions = action_records(**{**action_inputs, "experiments": tested})
    roll_out = next(a for a in actions if a.code == "roll_out")
    assert roll_out.value_unit == "conversions" and roll_out.expected_value == pytest.approx(0.02 * 20000)
    assert actions.index(roll_out) == 2  # after the measured money actions, before the unmeasured ones
    line = recommended_actions([roll_out])[0]
    assert line == (
        "Variant B of E raised conversion rate by 20.0%, a statistically significant difference — roll it "
        "out to the whole audience (20,000 units were tested). Expected value: about 400 more conversions "
        "per send at this volume (measured in the test)."
    )


def _two_arms(experiment_id: str, variant: str) -> pd.DataFrame:
    """A control and one variant of 10,000 units each, converting 1,000 and 1,200 (significant)."""
    return pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "variant": ["control", variant],
            "units": [10000, 10000],
            "conversions": [1000, 1200],
        }
    )


def test_an_aa_health_check_is_never_rolled_out(action_inputs):
    counts = _two_arms("EXP-AA", "control_copy")
    tested = experiment_results(counts)
    assert (tested["verdict"] == "significant_better").any()
    assert "roll_out" not in [a.code for a in action_records(**{**action_inputs, "experiments": tested})]
    renamed = experiment_results(counts.assign(experiment_id="EXP-1", variant=["control", "B"]))
    assert "roll_out" in [a.code for a in action_records(**{**action_inputs, "experiments": renamed})]


def test_three_to_five_actions_on_the_inputs_of_a_month(action_inputs):
    assert 3 <= len(action_records(**action_inputs)) <= MAX_ACTIONS
    assert action_records() == []
    with pytest.raises(ValueError, match="Invalid language"):
        recommended_actions(action_records(**action_inputs), language="fr")


def test_verdict_sentences_keep_the_index_and_check_their_input():
    res = experiment_results(
        pd.DataFrame(
            {
                "experiment_id": "E",
                "variant": ["control", "B", "C"],
                "units": [1000, 1000, 1000],
                "conversions": [100, 130, 104],
            }
        )
    )
    picked = res.iloc[[1]]
    words = verdict_sentences(picked, language="ja")
    assert words.name == "verdict" and list(words.index) == [1]
    assert words[1].startswith("バリアント「C」") and "Holm補正後 p = 0.768、2件の比較" in words[1]
    with pytest.raises(ValueError, match=r"results is missing column\(s\) \['verdict'"):
        verdict_sentences(res.drop(columns="verdict"))
    with pytest.raises(ValueError, match="Invalid language"):
        verdict_sentences(res, language="fr")


def test_rule_sentences_in_english_and_japanese():
    baskets = [["tea", "cake"]] * 3 + [["tea"]] * 1 + [["jam"]] * 4 + [["tea", "cake", "jam"]] * 3
    rules = association_rules(frequent_itemsets(baskets, min_support=3), min_threshold=0.9)
    two = rules[rules["antecedents"].map(len) == 2].head(1)
    assert rule_sentences(two) == [
        "Customers who buy jam and tea are 1.8× as likely to also buy cake (100% of them do)."
    ]
    assert rule_sentences(two, language="ja") == [
        "「jam」と「tea」を買うお客様は「cake」も買う確率が平均の1.8倍です（100%が購入）。"
    ]
    assert len(rule_sentences(rules, top_n=1)) == 1 and len(rule_sentences(rules, top_n=None)) == len(rules)
    assert rule_sentences(rules.iloc[0:0]) == []
    with pytest.raises(ValueError, match="Invalid language"):
        rule_sentences(rules, language="fr")
    with pytest.raises(ValueError, match="Invalid top_n"):
        rule_sentences(rules, top_n=0)
    with pytest.raises(TypeError, match="Invalid rules"):
        rule_sentences(baskets)


def test_the_old_basket_rule_sentences_forwards_with_a_warning():
    rules = association_rules(
        frequent_itemsets([["tea", "cake"]] * 3 + [["jam"]] * 4, min_support=2), min_threshold=0.9
    )
    with pytest.warns(FutureWarning, match="crmtools.reporting.findings.rule_sentences"):
        assert basket.rule_sentences(rules, language="ja") == rule_sentences(rules, language="ja")


def test_inputs_are_not_mutated(results):
    before = {k: v.copy(deep=True) for k, v in results.items() if isinstance(v, pd.DataFrame)}
    summary_findings(language="ja", **results)
    verdict_sentences(results["experiments"])
    for name, frame in before.items():
        pd.testing.assert_frame_equal(results[name], frame)


def test_bad_language_is_rejected(results):
    with pytest.raises(ValueError, match=r"Invalid language: allowed: 'en', 'ja'; received: 'de'"):
        summary_findings(language="de", **results)


def test_edge_findings_name_the_comparisons_the_data_start_rules_out(make_transactions):
    from crmtools.kpis import period_kpis
    from crmtools.reporting.findings import edge_findings

    tx = make_transactions([("O1", "a", "2024-12-01 08:26", 1, 100.0), ("O2", "b", "2025-01-05", 1, 200.0)])
    start = tx["order_datetime"].min()
    assert edge_findings(period_kpis(tx, period="2024-12"), data_start=start) == [
        "Dec 2024 is the data's first month: new customers and repeat rate are not shown, since customers who "
        "bought before the data starts would look new.",
        "No comparison with Nov 2024, Dec 2023: the data starts on 2024-12-01.",
    ]
    assert edge_findings(period_kpis(tx, period="2025-01"), data_start=start, language="ja") == [
        "2024年1月との比較はありません（データの開始日は2024-12-01）。"
    ]
    assert edge_findings(period_kpis(tx, period="2025-12"), data_start=start) == []


def test_f2_finding_skips_the_left_censored_first_month():
    f2 = pd.DataFrame(
        {
            "cohort": ["2010-12", "2011-01"],
            "new_customers": [885, 417],
            "repeaters": [527, 204],
            "f2_rate": [527 / 885, 204 / 417],
            "complete": [True, True],
            "left_censored": [True, False],
        }
    )
    found = summary_findings(f2=f2, within_days=90)
    assert len(found) == 1 and "Jan 2011" in found[0] and "Dec 2010" not in found[0]  # no "up/down vs Dec 2010"


def test_the_campaign_finding_agrees_with_the_actions_on_significance():
    from crmtools.reporting.findings import _campaigns

    roi = pd.DataFrame(
        {
            "campaign_id": ["c1", "c2"],
            "name": ["Year-end catalogue", "Spring mail"],
            "incremental_revenue": [900_000.0, 200_000.0],
            "incremental_revenue_ci_low": [-100_000.0, 50_000.0],
            "incremental_revenue_ci_high": [1_900_000.0, 350_000.0],
            "incremental_significant": pd.array([False, True], dtype="boolean"),
        }
    )
    # the largest point estimate is not significant: the finding names the significant campaign instead
    assert "Spring mail" in _campaigns(roi, "en", "JPY") and "measured effect" in _campaigns(roi, "en", "JPY")
    unproven = _campaigns(roi.iloc[:1], "en", "JPY")
    assert "Year-end catalogue" in unproven and "no effect is established" in unproven
    assert "効果はまだ確認できていません" in _campaigns(roi.iloc[:1], "ja", "JPY")


def test_the_experiment_finding_reads_the_primary_metric_as_the_verdict_table():
    # B converts more (1200 vs 1000 of 10000) and spends far more per unit: the finding must speak of revenue
    # per unit, the metric primary_results (the summary's verdict table) decides on, never conversion alone.
    counts = pd.DataFrame(
        {
            "experiment_id": ["EXP-SUBJECT", "EXP-SUBJECT", "EXP-AA", "EXP-AA"],
            "variant": ["control", "B", "control", "control_copy"],
            "units": [10000, 10000, 10000, 10000],
            "conversions": [1000, 1200, 1000, 1250],
            "revenue_sum": [1.0e6, 1.5e6, 1.0e6, 1.0e6],
            "revenue_sumsq": [1.2e9, 2.0e9, 1.2e9, 1.2e9],
        }
    )
    tested = experiment_results(counts)
    found = summary_findings(experiments=tested)
    (line,) = [f for f in found if f.startswith("EXP-")]
    assert line.startswith("EXP-SUBJECT: ") and "revenue per unit" in line and "conversion" not in line
    assert "+50.0%" in line or "50.0%" in line  # 150 vs 100 per unit, hand-computed


# --------------------------------------------------------------------------- audiences are the exported lists


def _lists(**columns):
    """A ``TargetListsResult.summary`` of three lists: two of the win-back theme (the first decides), one nudge."""
    base = {
        "list": ["wb", "nudge", "later_wb"],
        "theme": ["win_back", "second_purchase", "win_back"],
        "status": ["ok", "ok", "ok"],
        "matched": [300, 100, 50],
        "customers": [120, 64, 40],
        "treatment": [84, 48, 36],
        "holdout": [36, 16, 4],
    }
    return pd.DataFrame(base | columns)


def test_an_action_with_a_list_quotes_the_list_and_its_holdout(action_inputs):
    actions = {a.code: a for a in action_records(**action_inputs, lists=_lists())}
    win_back, second = actions["win_back"], actions["second_order"]
    # the list's size, not the segments' 210 nor the cohort's 75
    assert (win_back.customers, win_back.audience["list"], win_back.audience["left_out"]) == (120, "wb", 180)
    assert (second.customers, second.audience["treatment"], second.audience["holdout"]) == (64, 48, 16)
    assert actions["cycle_reminder"].audience == {"kind": "analysis"}  # no replenishment list: labelled as a count
    assert recommended_actions([win_back])[0] == (
        '300 lapsing high-value customers match the list "wb" — send the 120 on the list a win-back offer before '
        "they are lost for good (84 to contact and 36 held out to measure the effect, as in the exported list; 180 "
        "matching customers left out for consent, suppression or a higher-priority list). Expected value: no "
        "measured effect yet."
    )
    ja = recommended_actions([second], period_text="2025年12月", language="ja")[0]
    assert "リスト「nudge」の64人に2回目購入のオファーを送りましょう（エクスポートするリストと同じく、接触48人・" in ja


def test_a_list_that_was_not_built_proposes_nothing_and_a_replenishment_list_is_the_reminder(action_inputs):
    empty = _lists(status=["empty", "ok", "ok"], customers=[0, 64, 40], treatment=[0, 48, 36], holdout=[0, 16, 4])
    codes = [a.code for a in action_records(**action_inputs, lists=empty)]
    assert "win_back" not in codes  # the first win-back list decides, even when a later one has customers
    small = _lists(customers=[MIN_AUDIENCE - 1, 64, 40])
    assert "win_back" not in [a.code for a in action_records(**action_inputs, lists=small)]
    due_list = pd.concat([_lists(), _lists().iloc[:1].assign(list="due", theme="replenishment")], ignore_index=True)
    reminder = next(a for a in action_records(**action_inputs, lists=due_list) if a.code == "cycle_reminder")
    assert (reminder.code, reminder.customers, reminder.audience["list"]) == ("cycle_reminder", 120, "due")
    assert reminder.expected_value == pytest.approx(84 * 300.0)  # the treatment group is contacted, not 400
    with pytest.raises(ValueError, match=r"lists lacks the column\(s\) \['holdout'\]"):
        action_records(**action_inputs, lists=_lists().drop(columns="holdout"))


def _summary_lists(folder, period):
    """The data in ``folder`` and its period's lists, as the summary page computes them."""
    from crmtools import targets
    from crmtools.data import DataConfig, load_dataset
    from crmtools.params import resolve_params

    params = resolve_params({"data": {"path": str(folder)}})
    data = load_dataset(DataConfig.from_dict(params["data"], base_dir=folder))
    # the summary page's call (notebooks/00_summary.ipynb): the lists are the same cached result as page 08's
    lists = targets.target_lists(
        data.transactions,
        period=period,
        customers=data.customers,
        suppressions=data.suppressions,
        surveys=data.surveys,
        params=params,
    )
    return data, lists


def test_summary_audiences_equal_the_lists_the_targets_command_exports(small_sample_dir, tmp_path, monkeypatch):
    """The user trial's defect: the summary said 1,574 for win-back where the exported list held 623."""
    from crmtools import repeat
    from crmtools.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["targets", "--data", str(small_sample_dir), "--period", "2025-03"]) == 0
    exported = {p.stem: len(pd.read_csv(p)) for p in (tmp_path / "exports" / "2025-03").glob("*.csv")}
    data, lists = _summary_lists(small_sample_dir, "2025-03")
    f2 = repeat.f2_cohorts(data.transactions, as_of="2025-04-01", within_days=90)
    actions = {a.code: a for a in action_records(f2=f2, period="2025-03", lists=lists.summary)}
    for code in ("win_back", "second_order"):
        action = actions[code]
        assert action.customers == exported[action.audience["list"]] >= MIN_AUDIENCE
        assert f" {action.customers:,} " in recommended_actions([action])[0]


def test_findings_and_the_roll_out_word_the_variant_through_the_catalogue(action_inputs):
    """The executive summary read ``バリアント「free_shipping」``: a variant the catalogue words is shown in words,
    a user's own variant (``B``) as written."""
    counts = _two_arms("EXP-OFFER", "free_shipping")
    tested = experiment_results(counts)
    roll_out = [a for a in action_records(**{**action_inputs, "experiments": tested}) if a.code == "roll_out"]
    for lang, word in (("ja", "「送料無料」"), ("en", "Free shipping")):
        texts = [f for f in summary_findings(experiments=tested, language=lang) if f.startswith("EXP-OFFER")]
        texts += recommended_actions(roll_out, language=lang)
        assert len(texts) == 2 and all(word in t and "free_shipping" not in t for t in texts), texts
    mine = experiment_results(counts.assign(variant=["control", "my_offer"]))
    assert "「my_offer」" in summary_findings(experiments=mine, language="ja")[0]


def test_the_summary_names_the_list_actions_it_does_not_propose_and_why(action_inputs):
    """The summary dropped an action whose list was empty or not built, silently; page 08 said why."""
    built = _lists(note=[None] * 3, not_contactable=[0] * 3)
    assert actions_not_proposed(built) == "" and actions_not_proposed(None) == ""
    cases = {
        ("empty", "no_customer_matches", 0, 0): "(no customer matches its list)",
        ("empty", "none_contactable_or_free", 300, 300): "(none of the 300 customers who match its list can be "
        "contacted: no marketing consent, opted out or complained)",
        ("empty", "none_contactable_or_free", 300, 200): "(none of the 300 customers who match its list can be "
        "contacted: no marketing consent, suppressed or already in a higher-priority list)",
        ("skipped", "field_unavailable:clv:module_missing", None, None): "(its list was not built this period: "
        "predicted customer value (CLV) is not available for this data)",
        ("ok", None, 300, 290): f"(its list holds only 10 customers, fewer than the {MIN_AUDIENCE} an action needs)",
    }
    for (status, note, matched, not_contactable), reason in cases.items():
        lists = built.copy()
        lists.loc[0, ["status", "note", "matched", "not_contactable"]] = [status, note, matched, not_contactable]
        lists.loc[0, ["customers", "treatment", "holdout"]] = [10, 7, 3] if status == "ok" else [0, 0, 0]
        assert actions_not_proposed(lists) == f"Not proposed this period: the win-back offer {reason}."
        assert "win_back" not in [a.code for a in action_records(**action_inputs, lists=lists)]


def test_without_consent_the_summary_says_why_the_list_actions_are_missing(small_sample_dir, tmp_path):
    """A sample without marketing consent: every list is empty, so no list action is proposed, and the summary says
    which and why, in words (the same list summary the actions read)."""
    import shutil

    for source in small_sample_dir.glob("*.parquet"):
        shutil.copy(source, tmp_path)
    customers = pd.read_parquet(tmp_path / "customers.parquet")
    customers.drop(columns="marketing_consent").to_parquet(tmp_path / "customers.parquet")
    lists = _summary_lists(tmp_path, "2025-03")[1].summary
    assert (lists["customers"] == 0).all() and (lists["not_contactable"] == lists["matched"]).all()
    codes = [a.code for a in action_records(period="2025-03", lists=lists)]
    assert "win_back" not in codes and "second_order" not in codes
    matched = dict(zip(lists["theme"], lists["matched"]))
    ja = actions_not_proposed(lists, language="ja")
    assert ja == (
        f"今期は次のアクションを提案していません：休眠復帰のオファー（リストの条件に合う{matched['win_back']:,}人全員が、"
        "販促の許諾なし・配信停止・苦情のため連絡できません）、2回目購入のオファー（リストの条件に合う"
        f"{matched['second_purchase']:,}人全員が、販促の許諾なし・配信停止・苦情のため連絡できません）。"
    )
    assert "win_back" not in ja and "second_order" not in ja
    assert actions_not_proposed(lists).startswith("Not proposed this period: the win-back offer (none of the ")
