"""Generated sentences: executive-summary findings, A/B test verdicts and rules read out, in English and Japanese."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crmtools import basket
from crmtools.basket import association_rules, frequent_itemsets
from crmtools.deciles import Concentration
from crmtools.experiments import conversion_test, experiment_results
from crmtools.reporting.findings import MAX_FINDINGS, rule_sentences, summary_findings, verdict_sentences


@pytest.fixture()
def results():
    """One result of each kind the summary reads, small enough to check by hand."""
    return dict(
        kpis=pd.DataFrame({"kpi": ["revenue", "active_customers", "new_customers", "retention_rate"],
                           "value": [1200.0, 10.0, 4.0, 0.5], "previous": [1000.0, 8.0, 2.0, 0.5],
                           "year_ago": [1500.0, 5.0, 1.0, 0.5]}),
        segments=pd.DataFrame({"segment": ["Champions", "Lost"], "customers": [2, 8], "share": [0.2, 0.8],
                               "revenue_share": [0.7, 0.3]}),
        migration=pd.DataFrame({"from_segment": ["Champions", "Champions", "Loyal", "Lost"],
                                "to_segment": ["Champions", "At Risk", "Inactive", "Lost"], "customers": [6, 3, 1, 5]}),
        concentration=Concentration(customers=100, revenue=1e6, top10_share=0.42, top20_share=0.6, gini=0.55),
        experiments=conversion_test(pd.DataFrame({"experiment_id": "E1", "variant": ["control", "B"],
                                                  "units": [16000, 16000], "conversions": [1600, 1800]})),
        campaigns=pd.DataFrame({"campaign_id": ["c1", "c2"], "name": ["Spring sale", None],
                                "incremental_revenue": [250000.0, 90000.0],
                                "incremental_revenue_ci_low": [-12000.0, 1.0],
                                "incremental_revenue_ci_high": [510000.0, 2.0], "incremental_roi": [1.5, np.nan]}),
        rule_sentences=["A rule."],
    )


def test_summary_findings_in_english(results):
    assert summary_findings(period_text="Oct 2025", **results) == [
        "Revenue was ¥1,200 in Oct 2025, up 20.0% on the previous period and down 20.0% on a year ago.",
        "10 customers bought; 4 of them (40.0%) were new.",
        "Retention from the previous period was 50.0%, flat 0.0 pt on the period before.",
        "The top 10% of customers brought in 42.0% of revenue (Gini 0.55).",
        "Champions are 20.0% of customers but bring 70.0% of revenue.",
        "4 of last period's 10 Champions and Loyal customers (40.0%) slipped towards dormancy.",
        "E1: Variant B raised conversion rate by 12.5% (95% CI 5.6% to 19.9%). The difference is statistically "
        "significant (p < 0.001).",
        'Campaign "Spring sale" added ¥250,000 of incremental revenue (95% CI ¥−12,000 – ¥510,000); incremental '
        "ROI 150%.",
    ]


def test_summary_findings_in_japanese(results):
    assert summary_findings(period_text="2025年10月", language="ja", **results) == [
        "2025年10月の売上は1,200円でした（前期比20.0%増、前年同期比20.0%減）。",
        "購入顧客は10人で、うち新規顧客は4人（40.0%）でした。",
        "前期の購入顧客の継続率は50.0%で、前期から0.0ポイント横ばいしました。",
        "上位10%の顧客が売上の42.0%を占めています（ジニ係数 0.55）。",
        "「優良顧客」は顧客の20.0%ですが、売上の70.0%を生んでいます。",
        "前期の優良・ロイヤル顧客10人のうち4人（40.0%）が休眠・離反方向のセグメントに移りました。",
        "E1: バリアント「B」はコンバージョン率を12.5%上げました（95%信頼区間 5.6%〜19.9%）。この差は統計的に有意です"
        "（p < 0.001）。",
        "キャンペーン「Spring sale」の増分売上は250,000円（95%信頼区間 −12,000円 – 510,000円）、増分ROIは150%でした。",
    ]


def test_only_sentences_whose_numbers_exist(results):
    kpis = pd.DataFrame({"kpi": ["revenue", "retention_rate"], "value": [500.0, 0.3], "previous": [np.nan, np.nan],
                         "year_ago": [0.0, np.nan]})
    assert summary_findings(kpis=kpis, period_text="Q3") == ["Revenue was ¥500 in Q3.",
                                                             "Retention from the previous period was 30.0%."]
    assert summary_findings(kpis=kpis, period_text="Q3", language="ja") == [
        "Q3の売上は500円でした。", "前期の購入顧客の継続率は30.0%でした。"]
    assert len(summary_findings(**results)) == MAX_FINDINGS  # the rule sentence is the ninth


def test_no_significant_test_and_segment_labels_of_a_custom_map(results):
    flat = conversion_test(pd.DataFrame({"experiment_id": "E2", "variant": ["control", "B"], "units": [1000, 1000],
                                         "conversions": [100, 101]}))
    spec = {"segments": [{"name": "Champions", "label": {"en": "Top", "ja": "トップ"}, "rules": [{"r": [3, 5]}]},
                         {"name": "Lost", "rules": [{"r": [1, 2]}]}]}
    found = summary_findings(**{**results, "experiments": flat}, segment_map=spec, language="ja")
    assert "今期のA/Bテストでは、統計的に有意な差は確認されませんでした。" in found
    assert "「トップ」は顧客の20.0%ですが、売上の70.0%を生んでいます。" in found


def test_verdict_sentences_keep_the_index_and_check_their_input():
    res = experiment_results(pd.DataFrame({"experiment_id": "E", "variant": ["control", "B", "C"],
                                           "units": [1000, 1000, 1000], "conversions": [100, 130, 104]}))
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
    assert rule_sentences(two) == ["Customers who buy jam and tea are 1.8× as likely to also buy cake "
                                   "(100% of them do)."]
    assert rule_sentences(two, language="ja") == ["「jam」と「tea」を買うお客様は「cake」も買う確率が平均の1.8倍です"
                                                  "（100%が購入）。"]
    assert len(rule_sentences(rules, top_n=1)) == 1 and len(rule_sentences(rules, top_n=None)) == len(rules)
    assert rule_sentences(rules.iloc[0:0]) == []
    with pytest.raises(ValueError, match="Invalid language"):
        rule_sentences(rules, language="fr")
    with pytest.raises(ValueError, match="Invalid top_n"):
        rule_sentences(rules, top_n=0)
    with pytest.raises(TypeError, match="Invalid rules"):
        rule_sentences(baskets)


def test_the_old_basket_rule_sentences_forwards_with_a_warning():
    rules = association_rules(frequent_itemsets([["tea", "cake"]] * 3 + [["jam"]] * 4, min_support=2),
                              min_threshold=0.9)
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
