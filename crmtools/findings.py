"""Plain-language findings generated from the period's numbers, in English or Japanese.

Nothing here is hand-written commentary that can go stale: every sentence
is a template filled from an analysis result, and a sentence is only
produced when its numbers exist. :func:`summary_findings` picks up to eight,
most important first.

Examples
--------
>>> import pandas as pd
>>> kpis = pd.DataFrame({"kpi": ["revenue", "active_customers", "new_customers", "retention_rate"],
...                      "value": [1200.0, 10.0, 4.0, 0.5], "previous": [1000.0, 8.0, 2.0, 0.6],
...                      "year_ago": [600.0, 5.0, 1.0, 0.5]})
>>> for line in summary_findings(kpis=kpis, period_text="Oct 2025"):
...     print(line)
Revenue was ¥1,200 in Oct 2025, up 20.0% on the previous period and up 100.0% on a year ago.
10 customers bought; 4 of them (40.0%) were new.
Retention from the previous period was 50.0%, down 10.0 pt on the period before.
"""

from __future__ import annotations

import math

import pandas as pd

from .reporting import i18n

__all__ = ["summary_findings", "MAX_FINDINGS"]

MAX_FINDINGS = 8


def _value(kpis: pd.DataFrame, name: str, column: str = "value"):
    row = kpis.loc[kpis["kpi"] == name]
    if row.empty or column not in row.columns:
        return None
    value = row[column].iloc[0]
    return None if pd.isna(value) else float(value)


def _direction(now, before, language: str, what: str) -> str:
    """'up 12.0% on the previous period' / '前期比12.0%増'."""
    if now is None or before is None or before == 0:
        return ""
    change = now / before - 1
    if language == "ja":
        word = "増" if change > 0 else "減" if change < 0 else "横ばい"
        label = {"previous": "前期比", "year": "前年同期比"}[what]
        return f"{label}{abs(change) * 100:.1f}%{word}" if change else f"{label}横ばい"
    word = "up" if change > 0 else "down" if change < 0 else "flat"
    label = {"previous": "on the previous period", "year": "on a year ago"}[what]
    return f"{word} {abs(change) * 100:.1f}% {label}" if change else f"flat {label}"


def _revenue(kpis, language, currency, period_text) -> str | None:
    revenue = _value(kpis, "revenue")
    if revenue is None:
        return None
    prev = _direction(revenue, _value(kpis, "revenue", "previous"), language, "previous")
    year = _direction(revenue, _value(kpis, "revenue", "year_ago"), language, "year")
    amount = i18n.money(revenue, language, currency)
    if language == "ja":
        parts = "、".join(p for p in (prev, year) if p)
        return f"{period_text}の売上は{amount}でした" + (f"（{parts}）。" if parts else "。")
    parts = " and ".join(p for p in (prev, year) if p)
    return f"Revenue was {amount} in {period_text}" + (f", {parts}." if parts else ".")


def _customers(kpis, language) -> str | None:
    active, new = _value(kpis, "active_customers"), _value(kpis, "new_customers")
    if not active:
        return None
    share = i18n.percent(new / active) if new is not None else "–"
    if language == "ja":
        return f"購入顧客は{i18n.number(active)}人で、うち新規顧客は{i18n.number(new or 0)}人（{share}）でした。"
    return f"{i18n.number(active)} customers bought; {i18n.number(new or 0)} of them ({share}) were new."


def _retention(kpis, language) -> str | None:
    rate, prev = _value(kpis, "retention_rate"), _value(kpis, "retention_rate", "previous")
    if rate is None:
        return None
    if prev is None:
        return (f"前期の購入顧客の継続率は{i18n.percent(rate)}でした。" if language == "ja"
                else f"Retention from the previous period was {i18n.percent(rate)}.")
    diff = (rate - prev) * 100
    if language == "ja":
        word = "上昇" if diff > 0 else "低下" if diff < 0 else "横ばい"
        return f"前期の購入顧客の継続率は{i18n.percent(rate)}で、前期から{abs(diff):.1f}ポイント{word}しました。"
    word = "up" if diff > 0 else "down" if diff < 0 else "flat"
    return f"Retention from the previous period was {i18n.percent(rate)}, {word} {abs(diff):.1f} pt on the period before."


def _concentration(concentration, language) -> str | None:
    if concentration is None or concentration.customers == 0 or math.isnan(concentration.top10_share):
        return None
    if language == "ja":
        return (f"上位10%の顧客が売上の{i18n.percent(concentration.top10_share)}を占めています"
                f"（ジニ係数 {concentration.gini:.2f}）。")
    return (f"The top 10% of customers brought in {i18n.percent(concentration.top10_share)} of revenue "
            f"(Gini {concentration.gini:.2f}).")


def _segments(segments, language) -> str | None:
    if segments is None or segments.empty:
        return None
    top = segments.sort_values(["revenue_share", "segment"], ascending=[False, True], kind="stable").iloc[0]
    if language == "ja":
        return (f"「{top['segment_label']}」は顧客の{i18n.percent(top['share'])}ですが、"
                f"売上の{i18n.percent(top['revenue_share'])}を生んでいます。")
    return (f"{top['segment_label']} are {i18n.percent(top['share'])} of customers but bring "
            f"{i18n.percent(top['revenue_share'])} of revenue.")


def _migration(migration, labels, language) -> str | None:
    """Best customers of last period who slipped to a weaker segment or stopped buying."""
    if migration is None or migration.empty:
        return None
    best = ("Champions", "Loyal")
    weak = ("At Risk", "Can't Lose Them", "Hibernating", "Lost", "About to Sleep", "Need Attention", "Inactive")
    from_best = migration[migration["from_segment"].isin(best)]
    total = int(from_best["customers"].sum())
    slipped = int(from_best.loc[from_best["to_segment"].isin(weak), "customers"].sum())
    if total == 0:
        return None
    share = i18n.percent(slipped / total)
    if language == "ja":
        return (f"前期の優良・ロイヤル顧客{i18n.number(total)}人のうち{i18n.number(slipped)}人（{share}）が"
                "休眠・離反方向のセグメントに移りました。")
    return (f"{i18n.number(slipped)} of last period's {i18n.number(total)} Champions and Loyal customers ({share}) "
            "slipped towards dormancy.")


def _experiments(results, language) -> list[str]:
    if results is None or results.empty:
        return []
    column = "verdict_ja" if language == "ja" else "verdict_en"
    conversion = results[results["metric"] == "conversion_rate"]
    chosen = conversion[conversion["significant"].fillna(False).astype(bool)]
    lines = [f"{r.experiment_id}: {getattr(r, column)}" for r in chosen.head(2).itertuples()]
    if not lines and not conversion.empty:
        lines = [("今期のA/Bテストでは、統計的に有意な差は確認されませんでした。" if language == "ja" else
                  "No A/B test this period showed a statistically significant difference.")]
    return lines


def _campaigns(roi, language, currency) -> str | None:
    if roi is None or roi.empty:
        return None
    with_holdout = roi.dropna(subset=["incremental_revenue"])
    if with_holdout.empty:
        return None
    best = with_holdout.sort_values(["incremental_revenue", "campaign_id"], ascending=[False, True]).iloc[0]
    low, high = best["incremental_revenue_ci_low"], best["incremental_revenue_ci_high"]
    name = best["name"] if isinstance(best["name"], str) else best["campaign_id"]
    amount = i18n.money(best["incremental_revenue"], language, currency)
    interval = f"{i18n.money(low, language, currency)} – {i18n.money(high, language, currency)}"
    roi_text = ("–" if pd.isna(best["incremental_roi"]) else f"{best['incremental_roi'] * 100:.0f}%")
    if language == "ja":
        return (f"キャンペーン「{name}」の増分売上は{amount}（95%信頼区間 {interval}）、"
                f"増分ROIは{roi_text}でした。")
    return (f"Campaign \"{name}\" added {amount} of incremental revenue (95% CI {interval}); "
            f"incremental ROI {roi_text}.")


def summary_findings(*, kpis: pd.DataFrame, period_text: str = "", segments: pd.DataFrame | None = None,
                     migration: pd.DataFrame | None = None, concentration=None,
                     rule_sentences: list[str] | None = None, experiments: pd.DataFrame | None = None,
                     campaigns: pd.DataFrame | None = None, language: str = "en",
                     currency: str = "JPY") -> list[str]:
    """Five to eight plain-language findings from the period's results.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`crmtools.kpis.period_kpis` output (``kpi, value, previous, year_ago``).
    period_text : str, default=""
        The period as readers see it ("Oct 2025").
    segments : pandas.DataFrame, optional
        :func:`crmtools.rfm.segment_summary` output.
    migration : pandas.DataFrame, optional
        :func:`crmtools.rfm.segment_migration` output.
    concentration : Concentration, optional
        :func:`crmtools.deciles.concentration` output.
    rule_sentences : list of str, optional
        :func:`crmtools.basket.rule_sentences` output; the first is used.
    experiments : pandas.DataFrame, optional
        :func:`crmtools.experiments.experiment_results` output.
    campaigns : pandas.DataFrame, optional
        :func:`crmtools.campaigns.campaign_roi` output.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"

    Returns
    -------
    list of str
        At most :data:`MAX_FINDINGS` sentences, most important first; only
        sentences whose numbers exist.
    """
    if language not in i18n.LANGUAGES:
        raise ValueError(f"language must be one of {i18n.LANGUAGES}; got {language!r}.")
    found = [
        _revenue(kpis, language, currency, period_text),
        _customers(kpis, language),
        _retention(kpis, language),
        _concentration(concentration, language),
        _segments(segments, language),
        _migration(migration, None, language),
        *(_experiments(experiments, language)[:1]),
        _campaigns(campaigns, language, currency),
        (rule_sentences or [None])[0],
    ]
    return [f for f in found if f][:MAX_FINDINGS]
