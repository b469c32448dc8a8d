"""Plain-language sentences generated from the period's numbers, in English or Japanese.

Nothing here is hand-written commentary that can go stale: every sentence
is a template of :data:`crmtools.reporting.i18n.TEXT` filled from an
analysis result, and a sentence is only produced when its numbers exist.
The analyses return codes and numbers; this module is where they become
words:

- :func:`summary_findings`: up to eight findings for the executive summary,
  most important first;
- :func:`verdict_sentences`: the verdict of each A/B comparison of
  :func:`crmtools.experiments.experiment_results`, from its ``verdict`` code
  and numbers;
- :func:`rule_sentences`: association rules read out.

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
import numbers

import numpy as np
import pandas as pd

from . import i18n

__all__ = ["MAX_FINDINGS", "rule_sentences", "summary_findings", "verdict_sentences"]

MAX_FINDINGS = 8

#: Segments of the default map counted as "best" and "weak" in the migration finding.
_BEST_SEGMENTS = ("Champions", "Loyal")
_WEAK_SEGMENTS = ("At Risk", "Can't Lose Them", "Hibernating", "Lost", "About to Sleep", "Need Attention", "Inactive")


# --------------------------------------------------------------------------- executive summary


def _value(kpis: pd.DataFrame, name: str, column: str = "value"):
    row = kpis.loc[kpis["kpi"] == name]
    if row.empty or column not in row.columns:
        return None
    value = row[column].iloc[0]
    return None if pd.isna(value) else float(value)


def _direction(now, before, language: str, against: str) -> str:
    """'up 12.0% on the previous period' / '前期比12.0%増'; ``against`` is "previous" or "year_ago"."""
    if now is None or before is None or before == 0:
        return ""
    change = now / before - 1
    word = "up" if change > 0 else "down" if change < 0 else "flat"
    return i18n.text(f"finding.{word}_on_{against}", language, change=f"{abs(change) * 100:.1f}%")


def _revenue(kpis, language, currency, period_text) -> str | None:
    revenue = _value(kpis, "revenue")
    if revenue is None:
        return None
    changes = [c for c in (_direction(revenue, _value(kpis, "revenue", "previous"), language, "previous"),
                           _direction(revenue, _value(kpis, "revenue", "year_ago"), language, "year_ago")) if c]
    amount = i18n.money(revenue, language, currency)
    if not changes:
        return i18n.text("finding.revenue", language, amount=amount, period=period_text)
    return i18n.text("finding.revenue_changes", language, amount=amount, period=period_text,
                     changes=i18n.text("finding.changes_separator", language).join(changes))


def _customers(kpis, language) -> str | None:
    active, new = _value(kpis, "active_customers"), _value(kpis, "new_customers")
    if not active:
        return None
    share = i18n.percent(new / active) if new is not None else "–"
    return i18n.text("finding.customers", language, active=i18n.number(active), new=i18n.number(new or 0),
                     share=share)


def _retention(kpis, language) -> str | None:
    rate, prev = _value(kpis, "retention_rate"), _value(kpis, "retention_rate", "previous")
    if rate is None:
        return None
    if prev is None:
        return i18n.text("finding.retention", language, rate=i18n.percent(rate))
    diff = (rate - prev) * 100
    word = "up" if diff > 0 else "down" if diff < 0 else "flat"
    return i18n.text(f"finding.retention_{word}", language, rate=i18n.percent(rate), points=f"{abs(diff):.1f}")


def _concentration(concentration, language) -> str | None:
    if concentration is None or concentration.customers == 0 or math.isnan(concentration.top10_share):
        return None
    return i18n.text("finding.concentration", language, share=i18n.percent(concentration.top10_share),
                     gini=f"{concentration.gini:.2f}")


def _segments(segments, labels, language) -> str | None:
    if segments is None or segments.empty:
        return None
    top = segments.sort_values(["revenue_share", "segment"], ascending=[False, True], kind="stable").iloc[0]
    return i18n.text("finding.segment", language, segment=labels.get(top["segment"], top["segment"]),
                     share=i18n.percent(top["share"]), revenue_share=i18n.percent(top["revenue_share"]))


def _migration(migration, language) -> str | None:
    """Best customers of last period who slipped to a weaker segment or stopped buying."""
    if migration is None or migration.empty:
        return None
    from_best = migration[migration["from_segment"].isin(_BEST_SEGMENTS)]
    total = int(from_best["customers"].sum())
    slipped = int(from_best.loc[from_best["to_segment"].isin(_WEAK_SEGMENTS), "customers"].sum())
    if total == 0:
        return None
    return i18n.text("finding.migration", language, slipped=i18n.number(slipped), total=i18n.number(total),
                     share=i18n.percent(slipped / total))


def _experiments(results, language) -> list[str]:
    if results is None or results.empty:
        return []
    conversion = results[results["metric"] == "conversion_rate"]
    chosen = conversion[conversion["significant"].fillna(False).astype(bool)].head(2)
    lines = [f"{experiment}: {verdict}"
             for experiment, verdict in zip(chosen["experiment_id"], verdict_sentences(chosen, language=language))]
    if not lines and not conversion.empty:
        lines = [i18n.text("finding.no_significant_test", language)]
    return lines


def _campaigns(roi, language, currency) -> str | None:
    if roi is None or roi.empty:
        return None
    with_holdout = roi.dropna(subset=["incremental_revenue"])
    if with_holdout.empty:
        return None
    best = with_holdout.sort_values(["incremental_revenue", "campaign_id"], ascending=[False, True]).iloc[0]
    low, high = best["incremental_revenue_ci_low"], best["incremental_revenue_ci_high"]
    return i18n.text(
        "finding.campaign", language,
        name=best["name"] if isinstance(best["name"], str) else best["campaign_id"],
        amount=i18n.money(best["incremental_revenue"], language, currency),
        interval=f"{i18n.money(low, language, currency)} – {i18n.money(high, language, currency)}",
        roi="–" if pd.isna(best["incremental_roi"]) else f"{best['incremental_roi'] * 100:.0f}%")


def summary_findings(*, kpis: pd.DataFrame, period_text: str = "", segments: pd.DataFrame | None = None,
                     migration: pd.DataFrame | None = None, concentration=None,
                     rule_sentences: list[str] | None = None, experiments: pd.DataFrame | None = None,
                     campaigns: pd.DataFrame | None = None, segment_map=None, language: str = "en",
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
        :func:`rule_sentences` output; the first is used.
    experiments : pandas.DataFrame, optional
        :func:`crmtools.experiments.experiment_results` output.
    campaigns : pandas.DataFrame, optional
        :func:`crmtools.campaigns.campaign_roi` output.
    segment_map : path, mapping or SegmentMap, optional
        The map the segments came from, for their labels; default built-in.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"

    Returns
    -------
    list of str
        At most :data:`MAX_FINDINGS` sentences, most important first; only
        sentences whose numbers exist.
    """
    i18n.check_language(language)
    labels = i18n.segment_labels(segment_map, language) if segments is not None and not segments.empty else {}
    found = [
        _revenue(kpis, language, currency, period_text),
        _customers(kpis, language),
        _retention(kpis, language),
        _concentration(concentration, language),
        _segments(segments, labels, language),
        _migration(migration, language),
        *(_experiments(experiments, language)[:1]),
        _campaigns(campaigns, language, currency),
        (rule_sentences or [None])[0],
    ]
    return [f for f in found if f][:MAX_FINDINGS]


# --------------------------------------------------------------------------- A/B test verdicts


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _p_text(p: float, language: str) -> str:
    if not np.isfinite(p):
        return i18n.text("verdict.p_unavailable", language)
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _effect(row, metric: str, language: str) -> str:
    """The sentence saying what the variant did to the metric."""
    lift, low, high = row["relative_lift"], row["relative_lift_ci_low"], row["relative_lift_ci_high"]
    name = row["variant"]
    if not np.isfinite(lift) and row["control_value"] == 0:
        return i18n.text("verdict.lift_undefined", language, variant=name, metric=metric,
                         variant_value=f"{row['variant_value']:.4g}", control_value=f"{row['control_value']:.4g}")
    if not np.isfinite(lift):
        return i18n.text("verdict.insufficient_data", language, variant=name, metric=metric)
    level = f"{1 - row['alpha']:.0%}"
    interval = (i18n.text("verdict.interval", language, level=level, low=_pct(low), high=_pct(high))
                if np.isfinite(low) else i18n.text("verdict.interval_unavailable", language, level=level))
    if row["significant"] and lift > 0:
        return i18n.text("verdict.raised", language, variant=name, metric=metric, lift=_pct(lift), interval=interval)
    if row["significant"] and lift < 0:
        return i18n.text("verdict.lowered", language, variant=name, metric=metric, lift=_pct(-lift),
                         interval=interval)
    sign = "+" if lift >= 0 else "-"
    return i18n.text("verdict.changed", language, variant=name, metric=metric, lift=f"{sign}{_pct(abs(lift))}",
                     interval=interval)


def _significance(row, language: str) -> str:
    comparisons = int(row["comparisons"])
    if row["correction"] != "none" and comparisons > 1:
        p_note = i18n.text("verdict.p_adjusted", language, correction=i18n.text(f"correction.{row['correction']}",
                                                                                 language),
                           p=_p_text(row["p_value_adjusted"], language), comparisons=comparisons)
    else:
        p_note = _p_text(row["p_value"], language)
    return i18n.text("verdict.significant" if row["significant"] else "verdict.not_significant", language, p=p_note)


def _power(row, language: str) -> str:
    mde, detectable = _pct(row["mde"]), row["detectable_lift"]
    if row["significant"]:
        return i18n.text("verdict.underpowered_significant", language, mde=mde)
    if np.isfinite(detectable):
        return i18n.text("verdict.underpowered_detectable", language, detectable=_pct(detectable), mde=mde)
    return i18n.text("verdict.underpowered", language, mde=mde)


def _verdict(row, language: str) -> str:
    parts = []
    if row["verdict"] == "srm_failed":
        parts.append(i18n.text("verdict.srm_failed", language, p=_p_text(row["srm_p_value"], language)))
    parts.append(_effect(row, i18n.text(f"metric.{row['metric']}", language), language))
    parts.append(_significance(row, language))
    if row["borderline"]:
        excludes_zero = row["relative_lift_ci_low"] > 0 or row["relative_lift_ci_high"] < 0
        parts.append(i18n.text("verdict.borderline_excludes_zero" if excludes_zero
                               else "verdict.borderline_includes_zero", language))
    if row["underpowered"]:
        parts.append(_power(row, language))
    return i18n.sentences(parts, language)


def verdict_sentences(results: pd.DataFrame, *, language: str = "en") -> pd.Series:
    """The verdict of each comparison in plain words, from its ``verdict`` code and numbers.

    In order: a warning when the sample-ratio check failed (``verdict`` is
    ``"srm_failed"``); what the variant did to the metric, with the interval
    of the relative lift; whether that is statistically significant (with the
    multiple-comparison adjustment); a note when the test and the interval
    disagree (``borderline``); and one when the test was ``underpowered`` for
    the ``mde``.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`crmtools.experiments.experiment_results`,
        :func:`~crmtools.experiments.conversion_test` or
        :func:`~crmtools.experiments.revenue_test` (any subset of its rows).
    language : {"en", "ja"}, default="en"

    Returns
    -------
    pandas.Series
        One text per row, named ``verdict``, with the index of ``results``.

    Examples
    --------
    >>> from crmtools.experiments import conversion_test
    >>> counts = pd.DataFrame({"variant": ["control", "B"], "units": [16000, 16000],
    ...                        "conversions": [1600, 1800]})
    >>> res = conversion_test(counts)
    >>> res.loc[0, "verdict"]
    'significant_better'
    >>> print(verdict_sentences(res)[0])
    Variant B raised conversion rate by 12.5% (95% CI 5.6% to 19.9%). The difference is statistically significant (p < 0.001).
    >>> print(verdict_sentences(res, language="ja")[0])
    バリアント「B」はコンバージョン率を12.5%上げました（95%信頼区間 5.6%〜19.9%）。この差は統計的に有意です（p < 0.001）。
    """
    i18n.check_language(language)
    missing = [c for c in ("metric", "variant", "verdict", "control_value", "variant_value", "relative_lift",
                           "relative_lift_ci_low", "relative_lift_ci_high", "p_value", "p_value_adjusted",
                           "correction", "comparisons", "alpha", "significant", "srm_p_value", "borderline",
                           "underpowered", "detectable_lift", "mde") if c not in results.columns]
    if missing:
        raise ValueError(f"results is missing column(s) {missing}; allowed: the output of "
                         f"crmtools.experiments.experiment_results; received columns: {list(results.columns)}.")
    texts = [_verdict(row, language) for row in results.to_dict("records")]
    return pd.Series(texts, index=results.index, name="verdict", dtype="str")


# --------------------------------------------------------------------------- association rules


def _items(items, language: str) -> str:
    names = [i18n.text("rule.item", language, item=name) for name in sorted(map(str, items))]
    if len(names) == 1:
        return names[0]
    return (i18n.text("rule.item_separator", language).join(names[:-1])
            + i18n.text("rule.last_item_separator", language) + names[-1])


def rule_sentences(rules: pd.DataFrame, *, language: str = "en", top_n: int | None = 10) -> list[str]:
    """Plain-language reading of the top rules, for a report.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`crmtools.basket.association_rules`, in the order to
        report (it is sorted by lift by default).
    language : {"en", "ja"}, default="en"
        Language of the sentences.
    top_n : int or None, default=10
        Number of rules to read out; None for all.

    Returns
    -------
    list of str
        One sentence per rule, e.g. "Customers who buy tea are 1.3× as likely
        to also buy cake (67% of them do)."

    Examples
    --------
    >>> from crmtools.basket import association_rules, frequent_itemsets
    >>> baskets = [["tea", "cake"], ["tea", "cake"], ["tea", "jam"], ["jam"], ["cake", "tea", "jam"]]
    >>> rules = association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.9)
    >>> rule_sentences(rules)
    ['Customers who buy cake are 1.2× as likely to also buy tea (100% of them do).']
    >>> rule_sentences(rules, language="ja")
    ['「cake」を買うお客様は「tea」も買う確率が平均の1.2倍です（100%が購入）。']
    """
    if not isinstance(rules, pd.DataFrame):
        raise TypeError(f"Invalid rules: expected a DataFrame from association_rules; got {type(rules).__name__}.")
    missing = [c for c in ("antecedents", "consequents", "confidence", "lift") if c not in rules.columns]
    if missing:
        raise ValueError(f"Invalid rules: missing column(s) {missing}; expected the output of association_rules; "
                         f"got columns {list(rules.columns)}.")
    i18n.check_language(language)
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, numbers.Integral)):
        raise TypeError(f"Invalid top_n: expected a whole number >= 1 or None; got {top_n!r} ({type(top_n).__name__}).")
    if top_n is not None and top_n < 1:
        raise ValueError(f"Invalid top_n: expected a whole number >= 1 or None; got {top_n!r}.")
    shown = rules if top_n is None else rules.head(top_n)
    return [i18n.text("rule.sentence", language, antecedents=_items(ante, language), consequents=_items(cons, language),
                      lift=f"{lift:.1f}", confidence=f"{confidence:.0%}")
            for ante, cons, lift, confidence in zip(shown["antecedents"], shown["consequents"], shown["lift"],
                                                   shown["confidence"])]
