"""Plain-language sentences generated from the period's numbers, in English or Japanese.

Nothing here is hand-written commentary that can go stale: every sentence
is a template of :data:`crmtools.reporting.i18n.TEXT` filled from an
analysis result, and a sentence is only produced when its numbers exist.
The analyses return codes and numbers; this module is where they become
words:

- :func:`action_records` and :func:`recommended_actions`: "what to do this
  month", three to five actions as language-neutral records (segment codes,
  sizes, reason codes and numbers, the expected value of a measured effect),
  then worded;
- :func:`summary_findings`: findings of the executive summary that say what
  changed, why it matters and what it suggests (never a tile's number again);
- :func:`top_movements`: the largest moves between RFM segments, as a list;
- :func:`verdict_sentences`: the verdict of each A/B comparison of
  :func:`crmtools.experiments.experiment_results`, from its ``verdict`` code
  and numbers;
- :func:`rule_sentences`: association rules read out.

Examples
--------
>>> import pandas as pd
>>> migration = pd.DataFrame({"from_segment": ["Loyal", "Loyal"], "to_segment": ["Loyal", "At Risk"],
...                           "customers": [60, 40]})
>>> due = pd.DataFrame({"window": ["long overdue", "overdue", "due within 30 days", "later"],
...                     "customers": [10, 20, 120, 50]})
>>> actions = action_records(migration=migration, due=due)
>>> [(a.code, a.customers, a.numbers["slipped"], a.expected_value) for a in actions]
[('cycle_reminder', 120, 40, None)]
>>> reason, rest = recommended_actions(actions)[0].split(" — ")
>>> print(reason)
40 Loyal customers slipped towards dormancy since last period
>>> print(rest.replace(". ", ".\\n").replace(" (", "\\n("))
contact the 120 repeat customers whose usual purchase interval ends within 30 days
(everyone who matches, before consent and holdout: no campaign list is defined for this action, so none is exported).
Expected value: no measured effect yet.
>>> print(summary_findings(migration=migration)[0].split(":")[0])
40 of last period's 100 Champions and Loyal customers (40.0%) slipped towards dormancy
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import i18n

__all__ = [
    "ACTION_THEMES",
    "MAX_ACTIONS",
    "MAX_FINDINGS",
    "MIN_AUDIENCE",
    "Action",
    "action_records",
    "actions_not_proposed",
    "edge_findings",
    "glossary_keys",
    "recommended_actions",
    "rule_sentences",
    "summary_findings",
    "top_movements",
    "value_finding",
    "verdict_sentences",
]

MAX_FINDINGS = 6
MAX_ACTIONS = 5
#: The fewest customers an action is worth proposing for.
MIN_AUDIENCE = 20
#: Top-10% revenue share from which looking after the top decile is an action.
MIN_TOP10_SHARE = 0.3

#: Segments of the default map counted as "best" and "weak" in the migration finding.
_BEST_SEGMENTS = ("Champions", "Loyal")
_WEAK_SEGMENTS = ("At Risk", "Can't Lose Them", "Hibernating", "Lost", "About to Sleep", "Need Attention", "Inactive")
#: Lapsed customers who used to buy often and much: the win-back audience.
_WIN_BACK_SEGMENTS = ("Can't Lose Them", "At Risk")
_DUE_SOON = "due within 30 days"


# --------------------------------------------------------------------------- small helpers


def _num(value) -> float | None:
    """A finite float, or None."""
    if value is None or isinstance(value, str):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) or math.isinf(value) else value


def _flag(value) -> bool | None:
    """A nullable boolean cell as True, False or None (missing)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def _labels(segment_map, language: str) -> dict[str, str]:
    return i18n.segment_labels(segment_map, language)


def _join_segments(codes, labels: Mapping, language: str) -> str:
    return i18n.text("action.segment_separator", language).join(labels.get(c, c) for c in codes)


def _slipped(migration) -> tuple[int, int, tuple[str, ...]]:
    """(slipped, total, best segments present): last period's best customers now in a weak segment."""
    if migration is None or migration.empty:
        return 0, 0, ()
    from_best = migration[migration["from_segment"].isin(_BEST_SEGMENTS)]
    slipped_rows = from_best[from_best["to_segment"].isin(_WEAK_SEGMENTS)]
    present = tuple(
        s for s in _BEST_SEGMENTS if s in set(slipped_rows.loc[slipped_rows["customers"] > 0, "from_segment"])
    )
    return int(slipped_rows["customers"].sum()), int(from_best["customers"].sum()), present


def _points(now, before) -> str:
    return f"{abs(now - before) * 100:.1f}"


# --------------------------------------------------------------------------- what to do this month


@dataclass(frozen=True)
class Action:
    """One recommended action, in codes and numbers (worded by :func:`recommended_actions`).

    Attributes
    ----------
    code : str
        ``cycle_reminder``, ``win_back``, ``second_order``, ``roll_out``,
        ``review_campaign``, ``add_holdout`` or ``protect_top``.
    segments : tuple of str
        Segment codes of the audience (RFM segment names), possibly empty.
    customers : int
        Size of the audience (customers, or units for an experiment).
    reason : str
        Reason code; the catalogue key is ``action.<code>.<reason>``.
    numbers : mapping
        The numbers (and names) the reason is worded from.
    expected_value : float or None
        Expected value of the action from a measured effect (money, or
        conversions when ``value_unit`` is ``"conversions"``); None when no
        effect has been measured.
    value_unit : str or None
        ``"money"``, ``"conversions"``, ``"cost_saved"`` or None.
    basis : mapping
        Where the expected value comes from (``kind``: ``campaign`` or
        ``experiment``, and its numbers).
    audience : mapping
        Where ``customers`` comes from. For an action with a campaign list
        (:data:`ACTION_THEMES`): ``kind`` ``"list"`` with the list's ``list``
        name, ``treatment``, ``holdout`` and ``left_out`` (matching
        customers without consent, suppressed or in an earlier list) from
        :func:`crmtools.targets.target_lists`, so ``customers`` is the number
        of rows ``crmtools targets`` exports for it. ``kind`` ``"analysis"``:
        a count of every customer who matches, before consent, holdout and
        de-duplication (no list is exported for the action; the sentence says
        so). Empty for actions whose figure is not an audience to contact
        (tested units, contacted customers of a past campaign, the top
        decile).
    """

    code: str
    segments: tuple[str, ...]
    customers: int
    reason: str
    numbers: Mapping = field(default_factory=dict)
    expected_value: float | None = None
    value_unit: str | None = None
    basis: Mapping = field(default_factory=dict)
    audience: Mapping = field(default_factory=dict)

    @property
    def measured(self) -> bool:
        return self.expected_value is not None


#: The message theme (:data:`crmtools.targets.THEMES`) of the campaign list that carries each audience action.
#: When the lists define one, the action's audience is that list (:func:`crmtools.targets.target_lists`).
ACTION_THEMES = {"cycle_reminder": "replenishment", "win_back": "win_back", "second_order": "second_purchase"}

#: An analysis count: every customer who matches, before consent, holdout and de-duplication.
_ANALYSIS = {"kind": "analysis"}


def _whole(value) -> int:
    number = _num(value)
    return int(number) if number is not None else 0


def _theme_list(code: str, lists) -> pd.Series | None:
    """The row of ``lists`` that carries an action: the first list of its theme (:data:`ACTION_THEMES`) in priority
    order (the lists' order), or None when the lists define none for it."""
    if lists is None or code not in ACTION_THEMES:
        return None
    mine = lists[lists["theme"] == ACTION_THEMES[code]]
    return None if mine.empty else mine.iloc[0]


def _list_audience(code: str, lists) -> dict | None:
    """The campaign list of an action's theme as its audience, or None when the lists define none for it.

    The first list of the theme in priority order (the lists' order). ``customers`` is 0 when that list was
    not built (empty or skipped): the action then has nobody to contact.
    """
    row = _theme_list(code, lists)
    if row is None:
        return None
    built = row["status"] == "ok"
    matched = _whole(row.get("matched"))
    customers = _whole(row["customers"]) if built else 0
    return {
        "kind": "list",
        "list": str(row["list"]),
        "customers": customers,
        "treatment": _whole(row["treatment"]) if built else 0,
        "holdout": _whole(row["holdout"]) if built else 0,
        "matched": matched,
        "left_out": max(matched - customers, 0),
    }


def _audience(code: str, analysis_count: int, lists) -> tuple[int, dict]:
    """An action's audience size and where it comes from: its campaign list when the lists define one for its
    theme, else the analysis count (labelled as such)."""
    found = _list_audience(code, lists)
    if found is None:
        return analysis_count, _ANALYSIS
    return found["customers"], found


def _campaign_effect(campaigns) -> dict | None:
    """The best measured incremental revenue per contacted customer among campaigns with a significant effect."""
    if campaigns is None or campaigns.empty or "incremental_revenue" not in campaigns.columns:
        return None
    best = None
    for row in campaigns.to_dict("records"):
        revenue, treated = _num(row.get("incremental_revenue")), _num(row.get("treated"))
        if revenue is None or not treated or revenue <= 0 or _flag(row.get("incremental_significant")) is not True:
            continue
        per_customer = revenue / treated
        name = row.get("name") if isinstance(row.get("name"), str) else row["campaign_id"]
        if best is None or per_customer > best["per_customer"]:
            best = {"kind": "campaign", "name": name, "per_customer": per_customer}
    return best


def _contacted(customers: int, audience: Mapping) -> int:
    """Customers a campaign would contact: a list's treatment group, else the whole audience."""
    return audience["treatment"] if audience.get("kind") == "list" else customers


def _cycle_reminder(due, migration, effect, lists=None) -> Action | None:
    if (due is None or due.empty) and _list_audience("cycle_reminder", lists) is None:
        return None
    soon = due.loc[due["window"] == _DUE_SOON, "customers"] if due is not None and not due.empty else []
    customers, audience = _audience("cycle_reminder", int(soon.sum()) if len(soon) else 0, lists)
    if customers < MIN_AUDIENCE:
        return None
    slipped, total, present = _slipped(migration)
    reason = "slipped" if slipped > 0 else "due"
    value = _contacted(customers, audience) * effect["per_customer"] if effect else None
    return Action(
        "cycle_reminder",
        present if slipped else (),
        customers,
        reason,
        {"slipped": slipped, "best_total": total},
        value,
        "money" if effect else None,
        dict(effect) if effect else {},
        audience,
    )


def _win_back(segments, segments_previous, lists=None) -> Action | None:
    found = _list_audience("win_back", lists)
    if found is not None:  # the list's own rule, consent, holdout and priority: its reason is the list's
        if found["customers"] < MIN_AUDIENCE:
            return None
        return Action("win_back", (), found["customers"], "list", {"matched": found["matched"]}, audience=found)
    if segments is None or segments.empty:
        return None
    chosen = segments[segments["segment"].isin(_WIN_BACK_SEGMENTS)]
    customers = int(chosen["customers"].sum())
    if customers < MIN_AUDIENCE:
        return None
    change = None
    if segments_previous is not None and not segments_previous.empty:
        before = segments_previous[segments_previous["segment"].isin(_WIN_BACK_SEGMENTS)]
        change = customers - int(before["customers"].sum())
    codes = tuple(s for s in _WIN_BACK_SEGMENTS if s in set(chosen["segment"]))
    return Action(
        "win_back",
        codes,
        customers,
        "lapsed_value",
        {"revenue": float(chosen["revenue"].sum()), "change": change},
        audience=_ANALYSIS,
    )


def _second_order(f2, period, within_days, lists=None) -> Action | None:
    if f2 is None or f2.empty or period is None:
        return None
    from ..periods import as_period

    p = as_period(period)
    months = pd.PeriodIndex(f2["cohort"], freq="M")
    in_period = f2[(months.start_time >= p.start) & (months.start_time < p.end)]
    complete = _true_cohorts(f2[f2["complete"].astype(bool)])
    new = int(_true_cohorts(in_period)["new_customers"].sum())
    waiting, audience = _audience("second_order", new - int(in_period["repeaters"].sum()), lists)
    if waiting < MIN_AUDIENCE or complete.empty:
        return None
    latest = complete.iloc[-1]
    return Action(
        "second_order",
        ("New",),
        waiting,
        "low_f2",
        {"new": new, "rate": float(latest["f2_rate"]), "cohort": str(latest["cohort"]), "days": within_days},
        audience=audience,
    )


def _roll_outs(experiments) -> list[Action]:
    if experiments is None or experiments.empty:
        return []
    good = experiments[
        (experiments["verdict"] == "significant_better")
        & experiments.get("trustworthy", pd.Series(True, index=experiments.index)).fillna(False).astype(bool)
    ]
    from ..experiments import is_aa_test

    out = []
    for experiment, rows in good.groupby("experiment_id", sort=True):
        every = experiments[experiments["experiment_id"] == experiment]
        control = str(every["control"].iloc[0]) if "control" in every.columns else "control"
        if is_aa_test(experiment, [control, *every["variant"].astype(str).unique()], control=control):
            continue  # an A/A health check has nothing to roll out, whatever its result
        money = rows[rows["metric"] == "revenue_per_unit"]
        pick = money if not money.empty else rows[rows["metric"] == "conversion_rate"]
        if pick.empty:
            continue
        row = pick.sort_values(["difference", "variant"], ascending=[False, True], kind="stable").iloc[0]
        units = int(row["control_units"] + row["variant_units"])
        unit = "money" if row["metric"] == "revenue_per_unit" else "conversions"
        out.append(
            Action(
                "roll_out",
                (),
                units,
                "significant_better",
                {
                    "experiment": str(experiment),
                    "variant": str(row["variant"]),
                    "metric": row["metric"],
                    "lift": float(row["relative_lift"]),
                },
                float(row["difference"]) * units,
                unit,
                {"kind": "experiment", "per_unit": float(row["difference"]), "units": units},
            )
        )
    return out


def _campaign_fixes(campaigns) -> list[Action]:
    if campaigns is None or campaigns.empty:
        return []
    out = []
    for row in campaigns.to_dict("records"):
        cost = _num(row.get("cost"))
        if not cost:
            continue
        name = row.get("name") if isinstance(row.get("name"), str) else row["campaign_id"]
        treated = int(_num(row.get("treated")) or 0)
        if not _num(row.get("holdout")):
            out.append(Action("add_holdout", (), treated, "no_holdout", {"name": name, "cost": cost}))
        elif _flag(row.get("incremental_significant")) is False:
            out.append(
                Action(
                    "review_campaign",
                    (),
                    treated,
                    "no_effect",
                    {
                        "name": name,
                        "cost": cost,
                        "low": _num(row.get("incremental_revenue_ci_low")),
                        "high": _num(row.get("incremental_revenue_ci_high")),
                    },
                    cost,
                    "cost_saved",
                    {"kind": "campaign_cost"},
                )
            )
    return out


def _protect_top(concentration, deciles) -> Action | None:
    if concentration is None or deciles is None or deciles.empty:
        return None
    share = _num(concentration.top10_share)
    top = deciles[deciles["decile"] == 1]
    if share is None or share < MIN_TOP10_SHARE or top.empty or int(top["customers"].iloc[0]) < MIN_AUDIENCE:
        return None
    return Action(
        "protect_top",
        (),
        int(top["customers"].iloc[0]),
        "concentrated",
        {"share": share, "threshold": float(top["min_revenue"].iloc[0])},
    )


def _priority(action: Action) -> tuple:
    """Measured money first (largest first), then other measured effects, then the largest audiences."""
    money = action.expected_value if action.value_unit in ("money", "cost_saved") else 0.0
    return (0 if action.measured else 1, -(money or 0.0), -action.customers, action.code)


def action_records(
    *,
    migration: pd.DataFrame | None = None,
    due: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None,
    segments_previous: pd.DataFrame | None = None,
    f2: pd.DataFrame | None = None,
    period=None,
    within_days: int = 90,
    experiments: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    concentration=None,
    deciles: pd.DataFrame | None = None,
    lists: pd.DataFrame | None = None,
) -> list[Action]:
    """The month's recommended actions as language-neutral records, most valuable first.

    Each candidate is proposed only when its numbers exist and pass its
    threshold (an audience of at least :data:`MIN_AUDIENCE`):

    - ``cycle_reminder``: repeat customers due to buy within 30 days
      (``due``), with the best customers who slipped (``migration``) as the
      reason; expected value = audience × the best incremental revenue per
      contacted customer measured against a holdout (``campaigns``, interval
      excluding zero);
    - ``win_back``: lapsed high-value customers (Can't Lose Them, At Risk);
    - ``second_order``: the period's new customers who have not ordered
      again, with the latest complete cohort's F2 rate (``f2``, ``period``);
    - ``roll_out``: a trustworthy ``significant_better`` A/B variant (revenue
      per unit preferred; never from an A/A health check,
      :func:`crmtools.experiments.is_aa_test`); expected value = measured
      difference × units;
    - ``review_campaign``: a costed campaign whose holdout shows no
      significant effect (its cost is what pausing saves); ``add_holdout``: a
      costed campaign without a holdout;
    - ``protect_top``: the top decile when it brings at least
      :data:`MIN_TOP10_SHARE` of revenue.

    Order: actions with a measured money value (largest first), then other
    measured effects, then by audience size (ties by code); one action per
    code (the first in that order); at most :data:`MAX_ACTIONS`.

    **Audiences are the exported lists.** When ``lists`` defines a campaign
    list for an action's theme (:data:`ACTION_THEMES`), the action's
    audience is that list as :func:`crmtools.targets.target_lists` built it
    (its rule, marketing consent and suppressions, the priority order that
    puts a customer in one list, the holdout): ``customers`` is the number
    of rows ``crmtools targets`` exports for it, and the expected value
    counts its treatment group. A list that was not built, or is smaller
    than :data:`MIN_AUDIENCE`, proposes nothing. Without such a list the
    audience is the analysis count, before consent and holdout, and the
    worded action says so (``audience["kind"] == "analysis"``).

    Parameters
    ----------
    migration : pandas.DataFrame, optional
        :func:`crmtools.rfm.segment_migration` output.
    due : pandas.DataFrame, optional
        :func:`crmtools.targets.due_summary` output.
    segments, segments_previous : pandas.DataFrame, optional
        :func:`crmtools.rfm.segment_summary` now and at the end of the previous period.
    f2 : pandas.DataFrame, optional
        :func:`crmtools.repeat.f2_cohorts` output.
    period : Period or str, optional
        The report period (whose cohorts are its new customers).
    within_days : int, default=90
        The F2 window ``f2`` was computed with.
    experiments : pandas.DataFrame, optional
        :func:`crmtools.experiments.experiment_results` output.
    campaigns : pandas.DataFrame, optional
        :func:`crmtools.campaigns.campaign_roi` output.
    concentration : Concentration, optional
        :func:`crmtools.deciles.concentration` output.
    deciles : pandas.DataFrame, optional
        :func:`crmtools.deciles.decile_table` output.
    lists : pandas.DataFrame, optional
        The period's campaign lists: ``TargetListsResult.summary`` of
        :func:`crmtools.targets.target_lists` (or
        :func:`crmtools.actions.list_expectations` of it), the very result
        the lists page shows and ``crmtools targets`` exports.

    Returns
    -------
    list of Action
    """
    if lists is not None:
        missing = {"list", "theme", "status", "customers", "treatment", "holdout"} - set(lists.columns)
        if missing:
            raise ValueError(
                f"lists lacks the column(s) {sorted(missing)}; pass TargetListsResult.summary of "
                "crmtools.targets.target_lists (or crmtools.actions.list_expectations of it)."
            )
    effect = _campaign_effect(campaigns)
    found = [
        _cycle_reminder(due, migration, effect, lists),
        _win_back(segments, segments_previous, lists),
        _second_order(f2, period, within_days, lists),
        *_roll_outs(experiments),
        *_campaign_fixes(campaigns),
        _protect_top(concentration, deciles),
    ]
    ranked = sorted((a for a in found if a is not None), key=_priority)
    one_per_code = [a for i, a in enumerate(ranked) if a.code not in {b.code for b in ranked[:i]}]
    return one_per_code[:MAX_ACTIONS]


def _action_value(action: Action, language: str, currency: str) -> str:
    basis = action.basis
    if action.value_unit == "money" and basis.get("kind") == "campaign":
        return i18n.text(
            "action.value_campaign",
            language,
            amount=i18n.compact_money(action.expected_value, language, currency),
            name=basis["name"],
            per_customer=i18n.money(basis["per_customer"], language, currency),
        )
    if action.value_unit == "money":
        return i18n.text(
            "action.value_experiment",
            language,
            amount=i18n.compact_money(action.expected_value, language, currency),
            per_unit=i18n.money(basis["per_unit"], language, currency),
            units=i18n.number(basis["units"]),
        )
    if action.value_unit == "conversions":
        return i18n.text("action.value_conversions", language, conversions=i18n.number(action.expected_value))
    if action.value_unit == "cost_saved":
        return i18n.text(
            "action.value_cost_saved", language, amount=i18n.compact_money(action.expected_value, language, currency)
        )
    return i18n.text("action.no_effect", language)


def _action_reason(action: Action, labels: Mapping, language: str, currency: str, period_text: str) -> str:
    n = action.numbers
    values = {"customers": i18n.number(action.customers), "segments": _join_segments(action.segments, labels, language)}
    if action.code == "cycle_reminder":
        values["slipped"] = i18n.number(n.get("slipped", 0))
    elif action.code == "win_back" and action.audience.get("kind") == "list":
        values |= {"matched": i18n.number(action.numbers["matched"]), "list": _list_title(action, language)}
    elif action.code == "win_back":
        change = n.get("change")
        values["revenue"] = i18n.compact_money(n["revenue"], language, currency)
        values["change"] = (
            i18n.text("action.change_unknown", language) if change is None else i18n.signed_number(change)
        )
    elif action.code == "second_order":
        values.update(
            new=i18n.number(n["new"]),
            rate=i18n.percent(n["rate"]),
            cohort=i18n.month_label(n["cohort"], language),
            period=period_text,
            days=n["days"],
        )
    elif action.code == "roll_out":
        values.update(
            experiment=n["experiment"],
            variant=i18n.code_label(n["variant"], "variant", language),
            metric=i18n.text(f"metric.{n['metric']}", language),
            lift=i18n.percent(n["lift"]),
        )
    elif action.code in ("review_campaign", "add_holdout"):
        values.update(name=n["name"], cost=i18n.compact_money(n["cost"], language, currency))
    elif action.code == "protect_top":
        values.update(share=i18n.percent(n["share"]), threshold=i18n.money(n["threshold"], language, currency))
    return i18n.text(f"action.{action.code}.{action.reason}", language, **values)


def _list_title(action: Action, language: str) -> str:
    return i18n.target_list_title(action.audience["list"], language)


def _action_what(action: Action, language: str) -> str:
    """What to do, with the audience said for what it is: the exported list with its holdout, or a count before
    consent and holdout when the action has no list."""
    kind = action.audience.get("kind")
    customers = i18n.number(action.customers)
    if kind != "list":
        what = i18n.text(f"action.{action.code}.what", language, customers=customers)
        return what + i18n.text("action.audience.analysis", language) if kind == "analysis" else what
    a = action.audience
    what = i18n.text(
        f"action.{action.code}.what_list", language, customers=customers, list=_list_title(action, language)
    )
    left_out = (
        i18n.text("action.audience.left_out", language, left_out=i18n.number(a["left_out"])) if a["left_out"] else ""
    )
    return what + i18n.text(
        "action.audience.list",
        language,
        treatment=i18n.number(a["treatment"]),
        holdout=i18n.number(a["holdout"]),
        left_out=left_out,
    )


def recommended_actions(
    actions: list[Action], *, period_text: str = "", segment_map=None, language: str = "en", currency: str = "JPY"
) -> list[str]:
    """The actions of :func:`action_records` in words: the reason, what to do, the expected value.

    Amounts read as prose (:func:`crmtools.reporting.i18n.compact_money`: '¥2.95M', '295万円'); amounts
    per customer or unit and spend thresholds in full.

    Parameters
    ----------
    actions : list of Action
        :func:`action_records` output, in the order to show.
    period_text : str, default=""
        The period as readers see it ("Dec 2025").
    segment_map : path, mapping or SegmentMap, optional
        The map the segments came from, for their labels; default built-in.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"

    Returns
    -------
    list of str
        One text per action.
    """
    i18n.check_language(language)
    labels = _labels(segment_map, language)
    out = []
    for action in actions:
        reason = _action_reason(action, labels, language, currency, period_text)
        what = _action_what(action, language)
        out.append(
            i18n.text(
                "action.sentence", language, reason=reason, what=what, value=_action_value(action, language, currency)
            )
        )
    return out


def _withheld(lists) -> list[tuple[str, str, dict]]:
    """The actions the lists leave without an audience (:func:`action_records` proposes none of them), each as
    ``(action code, reason code, numbers)``, in the order of :data:`ACTION_THEMES`.

    Reasons: ``not_built`` (the list was skipped: a field it needs is missing, ``field`` names it),
    ``no_match`` (nobody matches its rule), ``no_consent`` (every match lacks marketing consent or is
    suppressed), ``not_free`` (every match lacks consent, is suppressed or is in a higher-priority list),
    ``too_few`` (fewer customers than :data:`MIN_AUDIENCE`).
    """
    out = []
    for code in ACTION_THEMES:
        found = _list_audience(code, lists)
        if found is None or found["customers"] >= MIN_AUDIENCE:
            continue
        row = _theme_list(code, lists)
        note = row.get("note") if isinstance(row.get("note"), str) else ""
        matched = found["matched"]
        if row["status"] == "skipped":
            kind, _, rest = note.partition(":")
            field_name = rest.split(":")[0] if kind == "field_unavailable" else ""
            out.append((code, "not_built", {"field": field_name}))
        elif row["status"] == "ok":
            out.append((code, "too_few", {"customers": found["customers"], "min": MIN_AUDIENCE}))
        elif not matched or note == "no_customer_matches":
            out.append((code, "no_match", {}))
        elif _whole(row.get("not_contactable")) >= matched:
            out.append((code, "no_consent", {"matched": matched}))
        else:
            out.append((code, "not_free", {"matched": matched}))
    return out


def actions_not_proposed(lists: pd.DataFrame | None, *, language: str = "en") -> str:
    """One sentence naming the actions that have a campaign list but are not proposed because the list is
    empty, too small or was not built this period, with the reason in words; ``""`` when there are none.

    Read from the same list summary as :func:`action_records` (``lists=``), so the summary never drops an
    action silently; the lists page (08) shows each list's note.

    Parameters
    ----------
    lists : pandas.DataFrame or None
        ``TargetListsResult.summary`` of :func:`crmtools.targets.target_lists` (columns ``list``, ``theme``,
        ``status``, ``note``, ``matched``, ``not_contactable``, ``customers``, ``treatment``, ``holdout``).
    language : {"en", "ja"}, default="en"

    Returns
    -------
    str

    Examples
    --------
    >>> lists = pd.DataFrame({"list": ["wb"], "theme": ["win_back"], "status": ["empty"],
    ...                       "note": ["none_contactable_or_free"], "matched": [103], "not_contactable": [103],
    ...                       "customers": [0], "treatment": [0], "holdout": [0]})
    >>> actions_not_proposed(lists)
    'Not proposed this period: the win-back offer (none of the 103 customers who match its list can be contacted: no marketing consent, opted out or complained).'
    >>> actions_not_proposed(None)
    ''
    """
    i18n.check_language(language)
    items = []
    for code, reason, counts in _withheld(lists):
        values = {key: i18n.number(value) for key, value in counts.items() if key != "field"}
        if counts.get("field"):
            reason = "not_built_field"
            values["field"] = i18n.code_label(counts["field"], "target.field", language)
        items.append(
            i18n.text(
                "action.withheld.item",
                language,
                action=i18n.text(f"action.{code}.name", language),
                reason=i18n.text(f"action.withheld.{reason}", language, **values),
            )
        )
    if not items:
        return ""
    return i18n.text("action.withheld", language, items=i18n.text("action.withheld.separator", language).join(items))


# --------------------------------------------------------------------------- executive summary findings


def _segment_shift(segments, segments_previous, labels, language) -> str | None:
    """The segment whose customer count changed most since last period, why it matters, what it suggests."""
    if segments is None or segments.empty or segments_previous is None or segments_previous.empty:
        return None
    before = segments_previous.set_index("segment")["customers"]
    now = segments.set_index("segment")["customers"]
    order = list(dict.fromkeys([*now.index, *before.index]))
    change = now.reindex(order, fill_value=0) - before.reindex(order, fill_value=0)
    if (change == 0).all():
        return None
    name = max(order, key=lambda s: (abs(int(change[s])), -order.index(s)))
    delta, was = int(change[name]), int(before.get(name, 0))
    kind = "best" if name in _BEST_SEGMENTS else "weak" if name in _WEAK_SEGMENTS else "other"
    direction = "grew" if delta > 0 else "shrank"
    share = segments.set_index("segment")["revenue_share"].get(name, 0.0)
    return i18n.sentences(
        [
            i18n.text(
                f"finding.segment_{direction}",
                language,
                segment=labels.get(name, name),
                change=i18n.number(abs(delta)),
                customers=i18n.number(int(now.get(name, 0))),
                pct=i18n.percent(abs(delta) / was) if was else "–",
                revenue_share=i18n.percent(share),
            ),
            i18n.text(f"finding.suggest_{kind}_{direction}", language),
        ],
        language,
    )


def _migration(migration, language) -> str | None:
    """Best customers of last period who slipped to a weaker segment or stopped buying."""
    slipped, total, _ = _slipped(migration)
    if total == 0:
        return None
    if slipped == 0:
        return i18n.text("finding.migration_none", language, total=i18n.number(total))
    return i18n.text(
        "finding.migration_act",
        language,
        slipped=i18n.number(slipped),
        total=i18n.number(total),
        share=i18n.percent(slipped / total),
    )


def _f2(f2, language, within_days) -> str | None:
    if f2 is None or f2.empty:
        return None
    complete = _true_cohorts(f2[f2["complete"].astype(bool)])
    if complete.empty:
        return None
    latest = complete.iloc[-1]
    values = dict(
        rate=i18n.percent(latest["f2_rate"]), cohort=i18n.month_label(str(latest["cohort"]), language), days=within_days
    )
    if len(complete) < 2:
        return i18n.text("finding.f2", language, **values)
    before = complete.iloc[-2]
    diff = latest["f2_rate"] - before["f2_rate"]
    word = "up" if diff > 0 else "down" if diff < 0 else "flat"
    return i18n.text(
        f"finding.f2_{word}",
        language,
        points=_points(latest["f2_rate"], before["f2_rate"]),
        previous=i18n.month_label(str(before["cohort"]), language),
        **values,
    )


def _concentration(concentration, concentration_previous, language) -> str | None:
    if concentration is None or concentration.customers == 0 or math.isnan(concentration.top10_share):
        return None
    share, gini = i18n.percent(concentration.top10_share), f"{concentration.gini:.2f}"
    before = None if concentration_previous is None else _num(concentration_previous.top10_share)
    if before is None:
        return i18n.text("finding.concentration", language, share=share, gini=gini)
    diff = concentration.top10_share - before
    word = "up" if diff > 0.0005 else "down" if diff < -0.0005 else "flat"
    return i18n.text(
        f"finding.concentration_{word}",
        language,
        share=share,
        gini=gini,
        points=_points(concentration.top10_share, before),
    )


def _experiments(results, language) -> list[str]:
    """Significant A/B tests on each experiment's primary metric (the verdict table's), A/A checks left out."""
    if results is None or results.empty:
        return []
    from ..experiments import primary_results

    # experiment_results output: each experiment's primary metric as the summary's verdict table picks it
    primary = results if "kind" in results.columns else primary_results(results)
    tests = primary[primary["kind"].astype(str) != "aa"]
    chosen = tests[tests["significant"].fillna(False).astype(bool)].head(2)
    lines = [
        f"{experiment}: {verdict}"
        for experiment, verdict in zip(chosen["experiment_id"], verdict_sentences(chosen, language=language))
    ]
    if not lines and not tests.empty:
        lines = [i18n.text("finding.no_significant_test", language)]
    return lines


def _campaigns(roi, language, currency) -> str | None:
    if roi is None or roi.empty:
        return None
    with_holdout = roi.dropna(subset=["incremental_revenue"])
    if with_holdout.empty:
        return None
    # The finding agrees with the actions: only an effect whose interval excludes zero is "measured";
    # otherwise it says that no effect is established (the action then proposes a review).
    if "incremental_significant" in with_holdout:
        flags = [_flag(v) is True for v in with_holdout["incremental_significant"]]
    else:  # an older table: the interval says it
        low_, high_ = with_holdout["incremental_revenue_ci_low"], with_holdout["incremental_revenue_ci_high"]
        flags = ((low_ > 0) | (high_ < 0)).fillna(False).tolist()
    significant = with_holdout[flags]
    key = "finding.campaign_measured" if not significant.empty else "finding.campaign_unproven"
    pool = significant if not significant.empty else with_holdout
    best = pool.sort_values(["incremental_revenue", "campaign_id"], ascending=[False, True]).iloc[0]
    low, high = best["incremental_revenue_ci_low"], best["incremental_revenue_ci_high"]
    # the ROI is the tile's; the finding says what was measured and what it is good for
    return i18n.text(
        key,
        language,
        name=best["name"] if isinstance(best["name"], str) else best["campaign_id"],
        amount=i18n.compact_money(best["incremental_revenue"], language, currency),
        interval=i18n.value_range(
            i18n.compact_money(low, language, currency), i18n.compact_money(high, language, currency), language
        ),
    )


def _ladder(stages, conversion, stage_words, language) -> str | None:
    """The growth-ladder finding: the share on the top three rungs and the first rung's conversion."""
    if stages is None or stages.empty or stages["customers"].sum() == 0:
        return None
    top = stages.tail(3)
    total = int(stages["customers"].sum())
    first = None if conversion is None or conversion.empty else conversion.iloc[0]
    if first is None or not first["customers"]:
        return None
    return i18n.text(
        "finding.ladder",
        language,
        top=i18n.percent(top["customers"].sum() / total),
        customers=i18n.number(total),
        stages=("、" if language == "ja" else ", ").join(stage_words.get(r, r) for r in top["rung"]),
        rate=i18n.percent(first["conversion_rate"]),
        days=int(first["window_days"]),
    )


def _nps(overall, behaviour, period_text, language) -> str | None:
    """The NPS finding: the period's score with its interval, and what promoters and detractors did next."""
    if overall is None or overall.empty or behaviour is None or behaviour.table.empty:
        return None
    row = overall.iloc[0]
    rates = behaviour.table.set_index("nps_group")["repeat_rate"]
    if not {"promoter", "detractor"} <= set(rates.index):
        return None
    return i18n.text(
        "finding.nps",
        language,
        period=period_text,
        nps=i18n.nps_score(row["nps"]),
        low=i18n.nps_score(row["ci_low"]),
        high=i18n.nps_score(row["ci_high"]),
        responses=i18n.number(row["responses"]),
        promoter=i18n.percent(rates["promoter"]),
        detractor=i18n.percent(rates["detractor"]),
        days=behaviour.window_days,
    )


def _true_cohorts(f2: pd.DataFrame) -> pd.DataFrame:
    """F2 cohorts without the data's first month (left-censored: it is no acquisition cohort)."""
    return f2[~f2["left_censored"].astype(bool)] if "left_censored" in f2.columns else f2


def edge_findings(kpis: pd.DataFrame, *, data_start=None, language: str = "en") -> list[str]:
    """What the edges of the data leave out of the period's comparisons, in words (at most two sentences).

    Reads the ``*_status`` columns of :func:`crmtools.kpis.period_kpis`: a
    comparison period before the data starts ("No comparison with Nov 2010:
    the data starts on 2010-12-01.") and a period that is the data's first
    month (its new customers are not known). Nothing when the data covers
    every comparison.

    Parameters
    ----------
    kpis : pandas.DataFrame
        :func:`crmtools.kpis.period_kpis` output.
    data_start : timestamp, optional
        The data's first line (:func:`crmtools.coverage.data_start`), for the date in the sentence.
    language : {"en", "ja"}, default="en"

    Returns
    -------
    list of str

    Examples
    --------
    >>> k = pd.DataFrame({"kpi": ["revenue"], "period": ["2011-11"], "value_status": ["ok"],
    ...                   "previous_status": ["ok"], "year_ago_status": ["before_data"]})
    >>> edge_findings(k, data_start=pd.Timestamp("2010-12-01 08:26"))
    ['No comparison with Nov 2010: the data starts on 2010-12-01.']
    """
    from ..periods import parse_period

    i18n.check_language(language)
    if kpis.empty or "value_status" not in kpis.columns:
        return []
    period = parse_period(str(kpis["period"].iloc[0]))
    out = []
    if (kpis["value_status"] == "left_censored").any():
        out.append(i18n.text("edge.first_month", language, period=i18n.month_label(period.label, language)))
    before = [
        i18n.month_label(other.label, language)
        for column, other in (("previous_status", period.previous()), ("year_ago_status", period.year_ago()))
        if (kpis[column] == "before_data").any()
    ]
    if before:
        date = "–" if data_start is None or pd.isna(data_start) else f"{pd.Timestamp(data_start):%Y-%m-%d}"
        joined = i18n.text("rule.item_separator", language).join(before)
        out.append(i18n.text("edge.no_comparison", language, periods=joined, date=date))
    return out


def summary_findings(
    *,
    period_text: str = "",
    segments: pd.DataFrame | None = None,
    segments_previous: pd.DataFrame | None = None,
    migration: pd.DataFrame | None = None,
    f2: pd.DataFrame | None = None,
    within_days: int = 90,
    concentration=None,
    concentration_previous=None,
    rule_sentences: list[str] | None = None,
    experiments: pd.DataFrame | None = None,
    campaigns: pd.DataFrame | None = None,
    segment_map=None,
    ladder_stages: pd.DataFrame | None = None,
    ladder_conversion: pd.DataFrame | None = None,
    ladder_rules=None,
    nps_overall: pd.DataFrame | None = None,
    nps_behaviour=None,
    language: str = "en",
    currency: str = "JPY",
) -> list[str]:
    """Findings that say what changed, why it matters and what it suggests, most important first.

    The KPI tiles already show revenue, orders, customers, repeat rate,
    order value, retention and campaign ROI with their changes; no finding
    repeats them. In order: the segment that changed most since last period,
    best customers who slipped, F2 conversion of the latest complete cohort
    against the one before, revenue concentration against the previous
    period, the first significant A/B test, the campaign with the largest
    incremental revenue, the first association rule.

    Parameters
    ----------
    period_text : str, default=""
        The period as readers see it ("Oct 2025").
    segments, segments_previous : pandas.DataFrame, optional
        :func:`crmtools.rfm.segment_summary` output now and at the end of the previous period.
    migration : pandas.DataFrame, optional
        :func:`crmtools.rfm.segment_migration` output.
    f2 : pandas.DataFrame, optional
        :func:`crmtools.repeat.f2_cohorts` output.
    within_days : int, default=90
        The F2 window ``f2`` was computed with.
    concentration, concentration_previous : Concentration, optional
        :func:`crmtools.deciles.concentration` output for the period and the previous one.
    rule_sentences : list of str, optional
        :func:`rule_sentences` output; the first is used.
    experiments : pandas.DataFrame, optional
        :func:`crmtools.experiments.experiment_results` output (each experiment read on its primary
        metric by :func:`crmtools.experiments.primary_results`, as the verdict table) or
        :func:`~crmtools.experiments.primary_results` output; A/A checks are never a finding.
    campaigns : pandas.DataFrame, optional
        :func:`crmtools.campaigns.campaign_roi` output.
    segment_map : path, mapping or SegmentMap, optional
        The map the segments came from, for their labels; default built-in.
    ladder_stages, ladder_conversion : pandas.DataFrame, optional
        :func:`crmtools.ladder.stage_summary` and :func:`crmtools.ladder.rung_conversion` output.
    ladder_rules : path, mapping or Ladder, optional
        The growth-ladder rules (stage labels); default built-in.
    nps_overall : pandas.DataFrame, optional
        :func:`crmtools.nps.nps_table` output for the period (overall).
    nps_behaviour : NpsBehaviour, optional
        :func:`crmtools.nps.nps_behaviour` output.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"

    Returns
    -------
    list of str
        At most :data:`MAX_FINDINGS` sentences; only sentences whose numbers exist; then one about the
        growth ladder and one about NPS when their data is given.
    """
    i18n.check_language(language)
    labels = _labels(segment_map, language) if segments is not None and not segments.empty else {}
    found = [
        _segment_shift(segments, segments_previous, labels, language),
        _migration(migration, language),
        _f2(f2, language, within_days),
        _concentration(concentration, concentration_previous, language),
        *(_experiments(experiments, language)[:1]),
        _campaigns(campaigns, language, currency),
        (rule_sentences or [None])[0],
    ]
    stage_words = i18n.stage_labels(ladder_rules, language) if ladder_stages is not None else {}
    growth = [
        _ladder(ladder_stages, ladder_conversion, stage_words, language),
        _nps(nps_overall, nps_behaviour, period_text, language),
    ]
    return [f for f in found if f][:MAX_FINDINGS] + [f for f in growth if f]


def top_movements(migration: pd.DataFrame, *, top_n: int = 5, segment_map=None, language: str = "en") -> list[str]:
    """The largest moves between different segments since last period, largest first.

    Parameters
    ----------
    migration : pandas.DataFrame
        :func:`crmtools.rfm.segment_migration` output.
    top_n : int, default=5
    segment_map : path, mapping or SegmentMap, optional
    language : {"en", "ja"}, default="en"

    Returns
    -------
    list of str
        "Loyal → At Risk: 377 customers (23.3% of Loyal)"; ties by segment names.
    """
    i18n.check_language(language)
    if migration is None or migration.empty:
        return []
    labels = _labels(segment_map, language)
    moved = migration[migration["from_segment"] != migration["to_segment"]]
    moved = moved.sort_values(
        ["customers", "from_segment", "to_segment"], ascending=[False, True, True], kind="stable"
    ).head(top_n)
    return [
        i18n.text(
            "finding.movement",
            language,
            source=labels.get(a, a),
            target=labels.get(b, b),
            customers=i18n.number(n),
            share=i18n.percent(s),
        )
        for a, b, n, s in zip(moved["from_segment"], moved["to_segment"], moved["customers"], moved["share_of_from"])
    ]


def glossary_keys(kpis) -> list[str]:
    """The glossary entries (``glossary.<kpi>`` keys of the catalogue) for the given KPI names, in order."""
    return [f"glossary.{k}" for k in kpis if f"glossary.{k}" in i18n.TEXT]


# --------------------------------------------------------------------------- A/B test verdicts


def _pct(x: float) -> str:
    return i18n.percent(x)  # a true minus (U+2212), as every table and tile


def _p_text(p: float, language: str) -> str:
    if not np.isfinite(p):
        return i18n.text("verdict.p_unavailable", language)
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _effect(row, metric: str, language: str) -> str:
    """The sentence saying what the variant did to the metric."""
    lift, low, high = row["relative_lift"], row["relative_lift_ci_low"], row["relative_lift_ci_high"]
    name = i18n.code_label(row["variant"], "variant", language)  # a user's own variant as written
    if not np.isfinite(lift) and row["control_value"] == 0:
        return i18n.text(
            "verdict.lift_undefined",
            language,
            variant=name,
            metric=metric,
            variant_value=f"{row['variant_value']:.4g}",
            control_value=f"{row['control_value']:.4g}",
        )
    if not np.isfinite(lift):
        return i18n.text("verdict.insufficient_data", language, variant=name, metric=metric)
    level = f"{1 - row['alpha']:.0%}"
    interval = (
        i18n.text("verdict.interval", language, level=level, low=_pct(low), high=_pct(high))
        if np.isfinite(low)
        else i18n.text("verdict.interval_unavailable", language, level=level)
    )
    if row["significant"] and lift > 0:
        return i18n.text("verdict.raised", language, variant=name, metric=metric, lift=_pct(lift), interval=interval)
    if row["significant"] and lift < 0:
        return i18n.text("verdict.lowered", language, variant=name, metric=metric, lift=_pct(-lift), interval=interval)
    sign = "+" if lift >= 0 else "−"
    return i18n.text(
        "verdict.changed", language, variant=name, metric=metric, lift=f"{sign}{_pct(abs(lift))}", interval=interval
    )


def _significance(row, language: str) -> str:
    comparisons = int(row["comparisons"])
    if row["correction"] != "none" and comparisons > 1:
        p_note = i18n.text(
            "verdict.p_adjusted",
            language,
            correction=i18n.text(f"correction.{row['correction']}", language),
            p=_p_text(row["p_value_adjusted"], language),
            comparisons=comparisons,
        )
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
        parts.append(
            i18n.text(
                "verdict.borderline_excludes_zero" if excludes_zero else "verdict.borderline_includes_zero", language
            )
        )
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
    missing = [
        c
        for c in (
            "metric",
            "variant",
            "verdict",
            "control_value",
            "variant_value",
            "relative_lift",
            "relative_lift_ci_low",
            "relative_lift_ci_high",
            "p_value",
            "p_value_adjusted",
            "correction",
            "comparisons",
            "alpha",
            "significant",
            "srm_p_value",
            "borderline",
            "underpowered",
            "detectable_lift",
            "mde",
        )
        if c not in results.columns
    ]
    if missing:
        raise ValueError(
            f"results is missing column(s) {missing}; allowed: the output of "
            f"crmtools.experiments.experiment_results; received columns: {list(results.columns)}."
        )
    texts = [_verdict(row, language) for row in results.to_dict("records")]
    return pd.Series(texts, index=results.index, name="verdict", dtype="str")


# --------------------------------------------------------------------------- association rules


def _items(items, language: str) -> str:
    names = [i18n.text("rule.item", language, item=name) for name in sorted(map(str, items))]
    if len(names) == 1:
        return names[0]
    return (
        i18n.text("rule.item_separator", language).join(names[:-1])
        + i18n.text("rule.last_item_separator", language)
        + names[-1]
    )


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
    >>> rule_sentences(rules.assign(customers=[2]))
    ['Customers who buy cake are 1.2× as likely to also buy tea (in 100% of such orders; 2 customers bought both).']
    >>> rule_sentences(rules, language="ja")
    ['「cake」を買うお客様は「tea」も買う確率が平均の1.2倍です（100%が購入）。']
    """
    if not isinstance(rules, pd.DataFrame):
        raise TypeError(f"Invalid rules: expected a DataFrame from association_rules; got {type(rules).__name__}.")
    missing = [c for c in ("antecedents", "consequents", "confidence", "lift") if c not in rules.columns]
    if missing:
        raise ValueError(
            f"Invalid rules: missing column(s) {missing}; expected the output of association_rules; "
            f"got columns {list(rules.columns)}."
        )
    i18n.check_language(language)
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, numbers.Integral)):
        raise TypeError(f"Invalid top_n: expected a whole number >= 1 or None; got {top_n!r} ({type(top_n).__name__}).")
    if top_n is not None and top_n < 1:
        raise ValueError(f"Invalid top_n: expected a whole number >= 1 or None; got {top_n!r}.")
    shown = rules if top_n is None else rules.head(top_n)
    # With distinct customers (crmtools.basket.customer_rules) the sentence says how many bought both.
    customers = shown["customers"] if "customers" in shown.columns else [None] * len(shown)
    return [
        i18n.text(
            "rule.sentence" if people is None else "rule.sentence_customers",
            language,
            antecedents=_items(ante, language),
            consequents=_items(cons, language),
            lift=f"{lift:.1f}",
            confidence=f"{confidence:.0%}",
            customers=None if people is None else i18n.number(people),
        )
        for ante, cons, lift, confidence, people in zip(
            shown["antecedents"], shown["consequents"], shown["lift"], shown["confidence"], customers
        )
    ]


def value_finding(
    now,
    previous=None,
    by_segment: pd.DataFrame | None = None,
    *,
    segment_map=None,
    language: str = "en",
    currency: str = "JPY",
) -> str | None:
    """One finding on the predicted value at risk: how much of the active base's value sits with customers at
    high risk of churning, the segment holding most of it, and the change since the previous period end.

    Parameters
    ----------
    now, previous : crmtools.churn.ValueSummary or None
        :func:`crmtools.churn.value_summary` at the period's end and at the previous period's end.
    by_segment : pandas.DataFrame, optional
        :func:`crmtools.churn.risk_by_segment` at the period's end.
    segment_map : path, mapping or SegmentMap, optional
        For the segment labels.
    language : {"en", "ja"}, default="en"
    currency : str, default="JPY"

    Returns
    -------
    str or None
        None when there is no value at risk to speak of (no fit, no risk list, nobody at high risk).

    Examples
    --------
    >>> from crmtools.churn import ValueSummary
    >>> now = ValueSummary(pd.Timestamp("2025-12-01"), "ok", 100, 5e6, 20, 1e6, 12)
    >>> seg = pd.DataFrame({"segment": ["At Risk"], "value_at_risk": [6e5]})
    >>> value_finding(now, ValueSummary(now.as_of, "ok", 90, 4e6, 10, 8e5, 12), seg)  # doctest: +NORMALIZE_WHITESPACE
    "20.0% of the active base's predicted 12-month value (¥1M of ¥5M) sits with 20 customers at high risk of
    churning; At Risk holds the most of it (¥600K). Win them back before their usual purchase gap runs out.
    Value at risk +25.0% vs the previous period."
    """
    i18n.check_language(language)
    if now is None or now.status != "ok" or not now.high_risk_customers or not now.active_value:
        return None
    labels = _labels(segment_map, language)
    top = None
    if by_segment is not None and len(by_segment):
        top = by_segment.sort_values("value_at_risk", ascending=False).iloc[0]
    parts = [
        i18n.text(
            "finding.value_at_risk",
            language,
            share=i18n.percent(now.value_at_risk / now.active_value),
            months=now.months,
            value=i18n.compact_money(now.value_at_risk, language, currency),
            total=i18n.compact_money(now.active_value, language, currency),
            customers=i18n.number(now.high_risk_customers),
            segment=labels.get(top["segment"], top["segment"]) if top is not None else "–",
            segment_value=i18n.compact_money(top["value_at_risk"], language, currency) if top is not None else "–",
        )
    ]
    if previous is not None and previous.status == "ok" and previous.value_at_risk:
        change = now.value_at_risk / previous.value_at_risk - 1
        parts.append(i18n.text("finding.value_at_risk_change", language, change=i18n.signed_percent(change)))
    return i18n.sentences(parts, language)
