"""The executive summary's building blocks: headline KPI tiles and the period's campaign ROI.

These compose analysis results for the summary page; they compute no new
statistics of their own.

**The campaign ROI headline** is one definition, stated on the tile:
incremental ROI against the holdout, on the contribution margin the params
state (``campaigns.margin``)::

    (margin x incremental revenue - cost) / cost

summed over the period's campaigns that have a holdout (the ``overall`` row
of :func:`crmtools.campaigns.campaign_rollup`). Attributed ROI (what the
contacted customers bought, including what they would have bought anyway)
is shown only as a secondary, labelled figure. A period's figure is
**frozen**: it uses the campaigns running in the period and only the orders
placed before the period's end, so the November figure is the same in the
November report and in December's comparison. The tile never shows a change
in points: against other campaigns it says "different campaigns" and shows
the change in incremental profit (``margin x incremental revenue - cost``);
against the same campaigns (one still running then) it shows their earlier
figure as it stood at that period's end.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pandas as pd

from .. import campaigns as campaign_analysis
from .. import churn
from ..clv import FitStatus, fit_status
from ..periods import Period, as_period
from ..slicing import campaigns_active, contacts_of, rows_between
from . import i18n

__all__ = [
    "TILE_KPIS",
    "FitStatus",
    "PeriodCampaignROI",
    "checked_base_value",
    "experiment_table",
    "fit_status",
    "headline_kpis",
    "pair_labels",
    "payback_texts",
    "period_campaign_roi",
    "roi_comparison",
    "rule_screen_text",
    "value_fit_status",
    "value_options",
    "value_reason",
    "value_text",
    "value_tiles",
    "without_comparisons",
]

#: The KPI tiles of the summary, in order, with their format kind.
TILE_KPIS = (
    ("revenue", "money"),
    ("orders", "integer"),
    ("active_customers", "integer"),
    ("new_customers", "integer"),
    ("repeat_rate", "percent"),
    ("average_order_value", "money"),
    ("retention_rate", "percent"),
    ("campaign_roi", "percent"),
)


@dataclass(frozen=True)
class PeriodCampaignROI:
    """The campaign figures of one period, frozen to its campaigns and the orders before its end.

    Attributes
    ----------
    period : str
        The period's label (``"2025-11"``).
    campaigns : tuple of str
        Ids of the campaigns running in the period, sorted.
    holdout_campaigns : tuple of str
        Those with a holdout: the campaigns of the headline, sorted.
    running : tuple of str
        Campaigns still running at the period's end (their figure is to date).
    margin : float
        Contribution margin used.
    cost : float
        Cost of the holdout campaigns.
    incremental_revenue, incremental_gross_profit : float
        Summed over the holdout campaigns; gross profit is ``margin x revenue``.
    incremental_profit : float
        ``incremental_gross_profit - cost`` (NaN without a holdout campaign).
    incremental_roi, incremental_roi_ci_low, incremental_roi_ci_high : float
        The headline (NaN without a holdout campaign or with zero cost).
    attributed_roi : float
        ``(margin x attributed revenue - cost) / cost`` over the same
        holdout campaigns as the headline, so the two figures of the tile
        cover the same campaigns (and one campaign's figure is its own on
        the campaigns page); over every campaign when none has a holdout.
        NaN when there is none or no cost.
    excluded_campaigns : int
        Campaigns without a holdout, not in the headline.
    excluded_cost : float
        Their cost.
    """

    period: str
    campaigns: tuple
    holdout_campaigns: tuple
    running: tuple
    margin: float
    cost: float
    incremental_revenue: float
    incremental_gross_profit: float
    incremental_profit: float
    incremental_roi: float
    incremental_roi_ci_low: float
    incremental_roi_ci_high: float
    attributed_roi: float
    excluded_campaigns: int
    excluded_cost: float


def _number(value) -> float:
    return float("nan") if value is None or pd.isna(value) or math.isinf(float(value)) else float(value)


def period_campaign_roi(
    campaigns: pd.DataFrame,
    contacts: pd.DataFrame,
    transactions: pd.DataFrame,
    period: Period | str,
    *,
    margin: float,
    alpha: float = 0.05,
    date_col: str = "order_datetime",
    roi_of=None,
) -> PeriodCampaignROI | None:
    """The period's campaign ROI, frozen to its own campaigns and orders; None when no campaign ran.

    Parameters
    ----------
    campaigns, contacts, transactions : pandas.DataFrame
        The canonical tables; every campaign and order line may be passed:
        the campaigns whose window overlaps ``period`` are kept, and only
        order lines with ``order_datetime < period.end``.
    period : Period or str
        The reporting period.
    margin : float
        Contribution margin (params ``campaigns.margin``); required, so the
        headline never silently counts revenue as profit.
    alpha : float, default=0.05
        Level of the incremental ROI interval.
    roi_of : callable, optional
        Computes the campaigns' ROI table, called as
        :func:`crmtools.campaigns.campaign_roi` (the default) is; a report
        passes the run's cached call, so the campaigns page and the summary
        share one computation.

    Returns
    -------
    PeriodCampaignROI or None

    Examples
    --------
    >>> camp = pd.DataFrame({"campaign_id": ["C1"], "name": ["Mail"], "channel": ["dm"],
    ...                      "start_date": pd.to_datetime(["2025-04-01"]),
    ...                      "end_date": pd.to_datetime(["2025-04-30"]), "cost": [1000.0]})
    >>> cont = pd.DataFrame({"campaign_id": "C1", "customer_id": ["a", "b", "c", "d"],
    ...                      "group": ["treatment", "treatment", "holdout", "holdout"],
    ...                      "contacted_at": pd.Timestamp("2025-04-01 10:00")})
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "c"], "order_datetime": pd.to_datetime(
    ...     ["2025-04-05", "2025-05-02", "2025-04-10"]), "quantity": 1, "amount": [3000.0, 9000.0, 1000.0]})
    >>> r = period_campaign_roi(camp, cont, tx, "2025-04", margin=0.5)
    >>> r.incremental_revenue, r.incremental_roi, r.attributed_roi, r.incremental_profit
    (2000.0, 0.0, 0.5, 0.0)
    """
    p = as_period(period, name="period")
    active = campaigns_active(campaigns, period=p)
    if active.empty:
        return None
    orders = rows_between(transactions, date_col, end=pd.Timestamp(p.end))
    roi = (roi_of or campaign_analysis.campaign_roi)(
        active, contacts_of(contacts, active), orders, margin=margin, alpha=alpha, as_of=p.end, date_col=date_col
    )
    overall = campaign_analysis.campaign_rollup(roi, alpha=alpha)
    overall = overall.loc[overall["level"] == "overall"].iloc[0]
    with_holdout = roi["incremental_revenue"].notna()
    # the attributed figure beside the headline covers the headline's campaigns (all of them when none has one)
    held = campaign_analysis.campaign_rollup(roi.loc[with_holdout] if with_holdout.any() else roi, alpha=alpha)
    attributed = held.loc[held["level"] == "overall", "roi"].iloc[0]
    cost = float(roi.loc[with_holdout, "cost"].sum())
    gross = _number(overall["incremental_gross_profit"])
    return PeriodCampaignROI(
        period=p.label,
        campaigns=tuple(sorted(roi["campaign_id"])),
        holdout_campaigns=tuple(sorted(roi.loc[with_holdout, "campaign_id"])),
        running=tuple(sorted(roi.loc[roi["end_date"] >= pd.Timestamp(p.end), "campaign_id"])),
        margin=float(margin),
        cost=cost,
        incremental_revenue=_number(overall["incremental_revenue"]),
        incremental_gross_profit=gross,
        incremental_profit=gross - cost if with_holdout.any() else float("nan"),
        incremental_roi=_number(overall["incremental_roi"]),
        incremental_roi_ci_low=_number(overall["incremental_roi_ci_low"]),
        incremental_roi_ci_high=_number(overall["incremental_roi_ci_high"]),
        attributed_roi=_number(attributed),
        excluded_campaigns=int((~with_holdout).sum()),
        excluded_cost=float(roi.loc[~with_holdout, "cost"].sum()),
    )


def roi_comparison(now: PeriodCampaignROI | None, other: PeriodCampaignROI | None) -> dict:
    """How the headline ROI of two periods may be compared: a code and the numbers for it.

    A change in points between two periods' ROI is never meaningful: other
    campaigns are unrelated, and the same campaigns seen at two period ends
    are one campaign measured twice (its earlier figure was to date).
    ``code`` is ``"same_campaigns"`` (the same holdout campaigns: ``points``
    is the change in incremental ROI as a fraction, for reference),
    ``"different_campaigns"`` (``profit_change`` is the change in
    incremental profit) or ``"no_campaigns"`` (either period has no
    campaign with a holdout).

    Examples
    --------
    >>> a = PeriodCampaignROI("2025-12", ("C5",), ("C5",), (), 0.4, 100.0, 500.0, 200.0, 100.0, 1.0, 0.5, 1.5,
    ...                       2.0, 0, 0.0)
    >>> b = PeriodCampaignROI("2025-11", ("C4",), ("C4",), (), 0.4, 50.0, 0.0, 0.0, -50.0, -1.0, -2.0, 0.0,
    ...                       1.0, 0, 0.0)
    >>> roi_comparison(a, b)
    {'code': 'different_campaigns', 'points': nan, 'profit_change': 150.0}
    >>> roi_comparison(a, a)
    {'code': 'same_campaigns', 'points': 0.0, 'profit_change': 0.0}
    >>> roi_comparison(a, None)["code"]
    'no_campaigns'
    """
    nan = float("nan")
    if now is None or other is None or not now.holdout_campaigns or not other.holdout_campaigns:
        return {"code": "no_campaigns", "points": nan, "profit_change": nan}
    profit_change = now.incremental_profit - other.incremental_profit
    if now.holdout_campaigns == other.holdout_campaigns:
        return {
            "code": "same_campaigns",
            "points": now.incremental_roi - other.incremental_roi,
            "profit_change": profit_change,
        }
    return {"code": "different_campaigns", "points": nan, "profit_change": profit_change}


def _roi_texts(rois, language: str, currency: str) -> dict:
    """The campaign ROI tile's label, note and comparison texts (None: the tile's usual change)."""
    now = rois[0]
    label = i18n.text("headline.roi_label", language, margin=i18n.percent(now.margin if now else float("nan"), 0))
    notes = []
    if now is not None:
        if not now.holdout_campaigns:
            notes.append(i18n.text("headline.roi_no_holdout", language))
        attributed = i18n.percent(now.attributed_roi)
        if now.holdout_campaigns:  # the same campaigns as the headline
            count = len(now.holdout_campaigns)
            notes.append(i18n.plural("headline.roi_attributed", count, language, count=count, roi=attributed))
        else:
            notes.append(i18n.text("headline.roi_attributed_all", language, roi=attributed))
        if now.holdout_campaigns and pd.notna(now.incremental_roi_ci_low):
            notes.append(
                i18n.text(
                    "verdict.interval",
                    language,
                    level="95%",
                    low=i18n.percent(now.incremental_roi_ci_low, 0),
                    high=i18n.percent(now.incremental_roi_ci_high, 0),
                )
            )
            if now.incremental_roi_ci_low <= -1 <= now.incremental_roi_ci_high:  # -100%: no incremental revenue
                notes.append(i18n.text("headline.roi_not_significant", language))
        if now.excluded_campaigns:
            notes.append(
                i18n.plural(
                    "headline.roi_excluded",
                    now.excluded_campaigns,
                    language,
                    count=now.excluded_campaigns,
                    cost=i18n.compact_money(now.excluded_cost, language, currency),
                )
            )
        if now.running:
            notes.append(i18n.text("headline.roi_running", language, count=len(now.running)))
    else:
        notes.append(i18n.text("headline.roi_no_campaigns", language))
    comparisons = []
    for other in rois[1:]:
        found = roi_comparison(now, other)
        if found["code"] == "same_campaigns":
            comparisons.append(
                i18n.text(
                    "headline.roi_same",
                    language,
                    roi=i18n.percent(other.incremental_roi),
                    period=i18n.month_label(other.period, language),
                )
            )
        elif found["code"] == "different_campaigns":
            change = found["profit_change"]
            comparisons.append(
                i18n.text(
                    "headline.roi_different",
                    language,
                    change=i18n.compact_money(change, language, currency)
                    if change <= 0
                    else "+" + i18n.compact_money(change, language, currency),
                )
            )
        else:
            comparisons.append(i18n.text("headline.roi_not_comparable", language))
    return {
        "label": label,
        "note": " · ".join(notes) if language == "en" else "／".join(notes),
        "previous_note": comparisons[0],
        "year_ago_note": comparisons[1],
    }


def headline_kpis(
    kpis: pd.DataFrame, *, campaign_roi: tuple | None = None, language: str = "en", currency: str = "JPY"
) -> pd.DataFrame:
    """The summary's KPI tiles: value, previous period and same period last year.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`crmtools.kpis.period_kpis` output.
    campaign_roi : tuple of (PeriodCampaignROI or None), optional
        :func:`period_campaign_roi` for (this period, previous, year ago).
        The tile shows the incremental ROI, labelled with its definition and
        margin, attributed ROI and the interval as a note, and never a
        change in points (:func:`roi_comparison`).
    language : {"en", "ja"}, default="en"
        Language of the campaign ROI tile's label and notes.
    currency : str, default="JPY"

    Returns
    -------
    pandas.DataFrame
        Columns ``kpi, value, previous, year_ago, kind, label, note,
        previous_note, year_ago_note`` in :data:`TILE_KPIS` order.
        ``repeat_rate`` is the share of the period's customers who had
        bought before (returning / active). ``label``, ``note`` and the
        ``*_note`` texts are missing except on the campaign ROI tile, where
        the ``*_note`` texts replace the change (its ``previous`` and
        ``year_ago`` are NaN), and at the edge of the data: where ``kpis``
        says a value is ``before_data`` or ``left_censored`` (its
        ``*_status`` columns), the note says why there is no figure or no
        change ("n/a: before the data starts").

    Examples
    --------
    >>> k = pd.DataFrame({"kpi": ["active_customers", "returning_customers"], "value": [10.0, 4.0],
    ...                   "previous": [8.0, 2.0], "year_ago": [float("nan"), float("nan")]})
    >>> headline_kpis(k).set_index("kpi").loc["repeat_rate", ["value", "previous"]].tolist()
    [0.4, 0.25]
    >>> edge = k.assign(previous_status=["ok", "left_censored"])
    >>> headline_kpis(edge).set_index("kpi").loc["repeat_rate", "previous_note"]
    'n/a: first month of the data'
    """
    table = kpis.set_index("kpi")[["value", "previous", "year_ago"]].astype("float64")
    status_columns = [c for c in ("value_status", "previous_status", "year_ago_status") if c in kpis.columns]
    status = kpis.set_index("kpi")[status_columns]
    nan = float("nan")
    rows = []
    for name, kind in TILE_KPIS:
        extra = {"label": None, "note": None, "previous_note": None, "year_ago_note": None}
        if name == "repeat_rate":
            if {"active_customers", "returning_customers"} <= set(table.index):
                active = table.loc["active_customers"].replace(0, nan)
                values = (table.loc["returning_customers"] / active).tolist()
            else:
                values = [nan] * 3
        elif name == "campaign_roi":
            rois = tuple(campaign_roi or (None, None, None))
            values = [nan if rois[0] is None else rois[0].incremental_roi, nan, nan]  # never a change in points
            extra = _roi_texts(rois, language, currency)
        elif name in table.index:
            values = table.loc[name].tolist()
        else:
            values = [nan] * 3
        if name != "campaign_roi":  # at the data's edges: why there is no figure or no change
            edge = _edge_notes(status, "returning_customers" if name == "repeat_rate" else name, language)
            extra = {**extra, **{k: v for k, v in edge.items() if v}}
        rows.append(
            {"kpi": name, "value": values[0], "previous": values[1], "year_ago": values[2], "kind": kind, **extra}
        )
    return pd.DataFrame(
        rows,
        columns=["kpi", "value", "previous", "year_ago", "kind", "label", "note", "previous_note", "year_ago_note"],
    )


def _edge_notes(status: pd.DataFrame, kpi: str, language: str) -> dict:
    """A tile's notes where the data's edges leave no figure or no comparison (``*_status`` of period_kpis)."""
    notes = {"label": None, "note": None, "previous_note": None, "year_ago_note": None}
    if kpi not in status.index:
        return notes
    for column, note in (
        ("value_status", "note"),
        ("previous_status", "previous_note"),
        ("year_ago_status", "year_ago_note"),
    ):
        code = status.loc[kpi, column] if column in status.columns else "ok"
        if code in ("before_data", "left_censored"):
            notes[note] = i18n.text(f"edge.{code}", language)
    return notes


def without_comparisons(kpis: pd.DataFrame) -> pd.DataFrame:
    """The KPI table with every comparison blanked (NaN): for a period the data covers only partly.

    A part of a month compared with a whole one reads as a collapse; the pages
    say "n/a" instead (and the page banner says why).

    Examples
    --------
    >>> k = pd.DataFrame({"kpi": ["revenue"], "value": [5.0], "previous": [9.0], "year_ago": [8.0],
    ...                   "change_vs_previous": [-4.0], "pct_change_vs_previous": [-0.44]})
    >>> without_comparisons(k).drop(columns="kpi").iloc[0].isna().tolist()
    [False, True, True, True, True]
    """
    compared = [c for c in kpis.columns if c in ("previous", "year_ago") or c.startswith(("change_", "pct_change_"))]
    out = kpis.assign(**{c: float("nan") for c in compared})
    notes = [c for c in ("previous_note", "year_ago_note") if c in out.columns]
    return out.assign(**{c: None for c in notes}) if notes else out


def payback_texts(roi: pd.DataFrame, *, language: str = "en") -> pd.Series:
    """The ``payback`` codes of :func:`crmtools.campaigns.campaign_roi` in words, with their months.

    Examples
    --------
    >>> roi = pd.DataFrame({"payback": ["paid_back", "not_paid_back", "no_holdout"],
    ...                     "payback_months": [2.0, float("nan"), float("nan")], "payback_observed_months": [5, 3, 0]})
    >>> payback_texts(roi).tolist()
    ['paid back in 2 months', 'not paid back after 3 months', 'no holdout']
    >>> payback_texts(roi, language="ja").tolist()
    ['2か月で回収', '3か月経過時点で未回収', 'ホールドアウトなし']
    """
    i18n.check_language(language)
    texts = []
    for code, paid, observed in zip(roi["payback"], roi["payback_months"], roi["payback_observed_months"]):
        months = int(paid) if code == "paid_back" else int(observed)
        texts.append(i18n.plural(f"payback.{code}", months, language, months=months))
    return pd.Series(texts, index=roi.index, name="payback", dtype="str")


def rule_screen_text(screen, *, language: str = "en") -> str:
    """One sentence on a :class:`crmtools.basket.RuleScreen`: too few baskets, nothing significant, or how
    many rules were tested and how many passed.

    Examples
    --------
    >>> from crmtools.basket import RuleScreen
    >>> screen = RuleScreen(pd.DataFrame(), tested=16, passed=6, n_baskets=7382, min_baskets=1000, alpha=0.05,
    ...                     too_few_baskets=False)
    >>> for part in rule_screen_text(screen).split("; "):
    ...     print(part)
    16 rules tested in 7,382 baskets
    6 significant after Benjamini-Hochberg adjustment (q < 0.05) with lift above 1, shown as 0 pairs.
    >>> rule_screen_text(RuleScreen(pd.DataFrame(), 3, 0, 120, 1000, 0.05, True))
    'Only 120 baskets this period: too few for a conclusion about product pairs (at least 1,000 are needed).'
    """
    i18n.check_language(language)
    baskets = i18n.number(screen.n_baskets) if screen.n_baskets is not None else "–"
    excluded = []  # guest and bulk orders left out before mining (crmtools.basket.customer_rules)
    if getattr(screen, "excluded_guest_baskets", 0) or getattr(screen, "excluded_bulk_baskets", 0):
        excluded = [
            i18n.text(
                "basket.excluded",
                language,
                guests=i18n.number(screen.excluded_guest_baskets),
                bulk=i18n.number(screen.excluded_bulk_baskets),
                max_items=i18n.number(screen.max_basket_items) if screen.max_basket_items else "–",
                lines=i18n.number(screen.excluded_bulk_lines),
            )
        ]
    if screen.too_few_baskets:
        too_few = i18n.text("basket.too_few_baskets", language, baskets=baskets, needed=i18n.number(screen.min_baskets))
        return i18n.sentences([too_few, *excluded], language) if excluded else too_few
    floors = getattr(screen, "supported", None) is not None and screen.min_rule_baskets > 1
    counts = i18n.plural(
        "basket.screen_floors" if floors else "basket.screen",
        len(screen.pairs),
        language,
        supported=i18n.number(screen.supported) if floors else None,
        min_baskets=i18n.number(screen.min_rule_baskets),
        min_customers=i18n.number(screen.min_rule_customers),
        tested=i18n.number(screen.tested),
        baskets=baskets,
        passed=i18n.number(screen.passed),
        alpha=f"{screen.alpha:g}",
        pairs=i18n.number(len(screen.pairs)),
    )
    if screen.passed == 0:
        return i18n.sentences([i18n.text("basket.none_significant", language), counts, *excluded], language)
    return i18n.sentences([counts, *excluded], language) if excluded else counts


def pair_labels(pairs: pd.DataFrame, *, language: str = "en") -> pd.Series:
    """Each row of :func:`crmtools.basket.merge_symmetric` as "A ↔ B" (both directions hold) or "A → B".

    Examples
    --------
    >>> pairs = pd.DataFrame({"antecedents": [frozenset({"tea"}), frozenset({"jam"})],
    ...                       "consequents": [frozenset({"cake"}), frozenset({"tea"})],
    ...                       "reverse_confidence": [0.4, float("nan")]})
    >>> pair_labels(pairs).tolist()
    ['tea ↔ cake', 'jam → tea']
    """
    i18n.check_language(language)
    sep = i18n.text("rule.item_separator", language)
    labels = []
    for ante, cons, back in zip(pairs["antecedents"], pairs["consequents"], pairs["reverse_confidence"]):
        first, second = sep.join(sorted(map(str, ante))), sep.join(sorted(map(str, cons)))
        labels.append(
            i18n.text("basket.pair", language, first=first, second=second) if pd.notna(back) else f"{first} → {second}"
        )
    return pd.Series(labels, index=pairs.index, name="pair", dtype="str")


def _p_words(p: float) -> str:
    return "p –" if pd.isna(p) else ("p < 0.001" if p < 0.001 else f"p = {p:.3f}")


def experiment_table(primary: pd.DataFrame, *, language: str = "en") -> pd.DataFrame:
    """The A/B tests of the summary in words: each experiment's primary metric, its verdict, A/A tests as
    health checks (pass/fail) and the sample-ratio (SRM) check.

    Parameters
    ----------
    primary : pandas.DataFrame
        Output of :func:`crmtools.experiments.primary_results`.
    language : {"en", "ja"}, default="en"

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment_id``, ``experiment_kind``, ``primary_metric``,
        ``variant``, ``relative_lift``, ``p_value_adjusted``, ``srm_check``,
        ``verdict`` (text), one row per row of ``primary``.
    """
    from .findings import verdict_sentences

    i18n.check_language(language)
    columns = [
        "experiment_id",
        "experiment_kind",
        "primary_metric",
        "variant",
        "relative_lift",
        "p_value_adjusted",
        "srm_check",
        "verdict",
    ]
    if primary.empty:
        return pd.DataFrame(
            {c: pd.Series(dtype="float64" if c in ("relative_lift", "p_value_adjusted") else "str") for c in columns}
        )
    sentences = verdict_sentences(primary, language=language)
    verdicts = []
    for row, sentence in zip(primary.itertuples(index=False), sentences):
        if row.kind == "aa":
            if not row.srm_passed:
                verdicts.append(i18n.text("aa.srm_failed", language, p=_p_words(row.srm_p_value)))
            else:
                verdicts.append(i18n.text(f"aa.{row.health_check}", language, p=_p_words(row.p_value_adjusted)))
        else:
            verdicts.append(sentence)
    srm = [
        i18n.text("srm.passed" if ok else "srm.failed", language, p=_p_words(p))
        for ok, p in zip(primary["srm_passed"], primary["srm_p_value"])
    ]
    return pd.DataFrame(
        {
            "experiment_id": primary["experiment_id"].to_numpy(),
            "experiment_kind": [i18n.text(f"experiment_kind.{k}", language) for k in primary["kind"]],
            "primary_metric": [i18n.text(f"metric.{m}", language) for m in primary["metric"]],
            "variant": primary["variant"].to_numpy(),
            "relative_lift": primary["relative_lift"].to_numpy(dtype=float),
            "p_value_adjusted": primary["p_value_adjusted"].to_numpy(dtype=float),
            "srm_check": srm,
            "verdict": verdicts,
        }
    )[columns]


def value_options(params: dict) -> dict:
    """The keyword arguments of :func:`crmtools.churn.base_value` that come from the run's params.

    The value page and the summary pass the same ones, so they share one cached result per cutoff.

    Examples
    --------
    >>> value_options({"churn": {"horizon_days": 90}, "clv": {"months": 12, "monthly_discount": 0.01,
    ...                                                        "time_unit": "W"}})
    {'horizon_days': 90, 'months': 12, 'monthly_discount': 0.01, 'clv_unit': 'W'}
    """
    return {
        "horizon_days": params["churn"]["horizon_days"],
        "months": params["clv"]["months"],
        "monthly_discount": params["clv"]["monthly_discount"],
        "clv_unit": params["clv"]["time_unit"],
    }


def value_tiles(now, previous=None, *, language: str = "en") -> pd.DataFrame:
    """The summary's tiles for the predicted value of the active base and the value at risk.

    Parameters
    ----------
    now, previous : crmtools.churn.BaseValue, crmtools.churn.ValueSummary or None
        :func:`checked_base_value` (or its ``summary``) at the period's end
        and at the previous period's end (each as of its own end, so
        comparable): the very result page 07 states, so the tile and the
        page show one figure.
    language : {"en", "ja"}, default="en"

    Returns
    -------
    pandas.DataFrame
        Two rows, ``clv_active_value`` and ``value_at_risk``, in the columns
        of :func:`headline_kpis` (``year_ago`` NaN; a note with the horizon,
        customers and share). Without a sound fit (a parameter at the edge of
        its range, no convergence: :func:`checked_base_value`) both values
        are NaN (the tile shows n/a) and the note says why
        (:func:`value_reason`).

    Examples
    --------
    >>> from crmtools.churn import ValueSummary
    >>> now = ValueSummary(pd.Timestamp("2025-12-01"), "ok", 100, 5e6, 20, 1e6, 12)
    >>> before = ValueSummary(pd.Timestamp("2025-11-01"), "ok", 90, 4e6, 10, 5e5, 12)
    >>> value_tiles(now, before)[["kpi", "value", "previous", "note"]].values.tolist()[1]
    ['value_at_risk', 1000000.0, 500000.0, '20 high-risk customers (20.0% of the value)']
    """
    nan = float("nan")
    base, now, previous = now, getattr(now, "summary", now), getattr(previous, "summary", previous)

    def figure(summary, name):
        value = None if summary is None else getattr(summary, name)
        return nan if value is None or pd.isna(value) else float(value)

    notes = [None, None]
    if now is not None and now.status not in ("ok", "no_risk") and hasattr(base, "values"):
        notes = [value_reason(base.values, language=language)] * 2  # n/a, and why
    if now is not None and now.status in ("ok", "no_risk"):
        notes[0] = i18n.text(
            "headline.clv_note", language, months=now.months, customers=i18n.number(now.active_customers)
        )
    if now is not None and now.status == "ok":
        share = now.value_at_risk / now.active_value if now.active_value else nan
        notes[1] = i18n.text(
            "headline.risk_note", language, customers=i18n.number(now.high_risk_customers), share=i18n.percent(share)
        )
    rows = [
        {
            "kpi": kpi,
            "value": figure(now, name),
            "previous": figure(previous, name),
            "year_ago": nan,
            "kind": "money",
            "label": None,
            "note": note,
            "previous_note": None,
            "year_ago_note": None,
            "better": "lower" if kpi == "value_at_risk" else "higher",
        }
        for (kpi, name), note in zip((("clv_active_value", "active_value"), ("value_at_risk", "value_at_risk")), notes)
    ]
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- predicted value: one figure, if sound

_MODELS = (("bgnbd", "BG/NBD"), ("gamma_gamma", "Gamma-Gamma"))


def value_fit_status(values) -> FitStatus:
    """:func:`fit_status` of the purchase model, then of the spend model, of a :class:`crmtools.churn.CustomerValues`.

    Examples
    --------
    >>> from crmtools.churn import CustomerValues
    >>> value_fit_status(CustomerValues.empty("2025-01-01", 90)).code
    'ok'
    """
    for attribute, name in _MODELS:
        found = fit_status(getattr(values, attribute, None), name=name)
        if not found.ok:
            return found
    return FitStatus("ok")


def checked_base_value(transactions: pd.DataFrame, *, as_of, **options) -> churn.BaseValue:
    """:func:`crmtools.churn.base_value`, without any predicted value when its fits may not be quoted.

    The one computation behind the summary's value tiles and page 07 (both pages ask for it through
    ``ctx.cached("base_value", checked_base_value, ...)`` with :func:`value_options`, so the run computes it
    once per cutoff). When :func:`value_fit_status` is not ``"ok"``, the values keep their fitted models but
    lose their predictions: ``status`` becomes ``"fit_boundary"`` or ``"fit_not_converged"``, the table is
    empty, and the headline (:func:`crmtools.churn.value_summary`) has no value, so no page, tile or finding
    can quote one. The churn risk list (backtested on its own) is kept.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions.
    as_of : date, timestamp or Period
        The cutoff.
    **options
        As :func:`crmtools.churn.base_value` (``customers``, ``contacts``, ``horizon_days``, ...).

    Returns
    -------
    crmtools.churn.BaseValue
    """
    base = churn.base_value(transactions, as_of=as_of, **options)
    found = value_fit_status(base.values)
    if found.ok or base.values.status != "ok":
        return base
    values = dataclasses.replace(base.values, status=f"fit_{found.code}", table=base.values.table.iloc[0:0])
    active_days = options.get("active_days", 365)
    return churn.BaseValue(values, base.risk, churn.value_summary(values, base.risk, active_days=active_days))


def value_reason(values, *, language: str = "en") -> str | None:
    """Why a :class:`crmtools.churn.CustomerValues` has no predicted value, in words (None when it has them).

    Examples
    --------
    >>> from crmtools.churn import CustomerValues
    >>> from crmtools.clv import BGNBDResult
    >>> v = CustomerValues.empty("2011-12-01", 90, "fit_boundary")
    >>> v = dataclasses.replace(v, bgnbd=BGNBDResult.from_params({"r": 0.8, "alpha": 10, "a": 3e-07, "b": 1.5e4}))
    >>> print(value_reason(v))
    n/a: the BG/NBD fit lands on the edge of the parameters' range (a → 0), so these data do not determine the model and no predicted value is shown.
    """
    i18n.check_language(language)
    if values.status == "ok":
        return None
    found = value_fit_status(values)
    last_day = f"{values.as_of - pd.Timedelta(days=1):%Y-%m-%d}"
    key = f"clv_status.{values.status}"
    if key not in i18n.TEXT:
        key = "clv_status.fit_failed"
    return i18n.text(
        key,
        language,
        as_of=last_day,
        model=found.model or "",
        parameter=found.parameter or "",
        edge="→ 0" if found.edge == "low" else "→ ∞",  # which edge, never an exponent (3.07e-07) on a page
    )


def value_text(base, *, language: str = "en", currency: str = "JPY", active_days: int = 365) -> str:
    """Page 07's headline on the predicted value: the summary tile's figure, from the same result, then the whole
    base its tables cover, labelled as such; or why there is no figure (:func:`value_reason`).

    Parameters
    ----------
    base : crmtools.churn.BaseValue
        :func:`checked_base_value` at the period's end.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"
    active_days : int, default=365
        The active base's window (that of :func:`crmtools.churn.base_value`).

    Examples
    --------
    >>> from crmtools.churn import BaseValue, CustomerValues, ValueSummary
    >>> table = pd.DataFrame({"customer_id": list("abc"), "clv": [6e6, 3e6, 1e6]})
    >>> values = CustomerValues(pd.Timestamp("2025-12-01"), 90, "ok", table)
    >>> base = BaseValue(values, None, ValueSummary(values.as_of, "no_risk", 2, 9e6, 0, float("nan"), 12))
    >>> print(value_text(base))
    The 2 active customers (a purchase in the last 365 days) are predicted to bring ¥9M over the next 12 months: the predicted value on the summary page. Counting also those who bought only before that (1), the 3 customers in the tables below are predicted to bring ¥10M; the top 10% of them hold 60.0% of it.
    """
    i18n.check_language(language)
    headline = base.summary
    if headline.status not in ("ok", "no_risk"):
        return value_reason(base.values, language=language) or ""
    parts = [
        i18n.text(
            "clv.active_value_text",
            language,
            customers=i18n.number(headline.active_customers),
            days=i18n.number(active_days),
            total=i18n.compact_money(headline.active_value, language, currency),
            months=headline.months,
        )
    ]
    table = base.values.table
    deciles = churn.value_deciles(base.values)
    if len(table) > headline.active_customers and len(deciles):
        parts.append(
            i18n.text(
                "clv.value_text",
                language,
                others=i18n.number(len(table) - headline.active_customers),
                customers=i18n.number(len(table)),
                total=i18n.compact_money(table["clv"].sum(), language, currency),
                top10=i18n.percent(deciles["value_share"].iloc[0]),
            )
        )
    return i18n.sentences(parts, language) if len(parts) > 1 else parts[0]
