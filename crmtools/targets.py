"""Target lists for campaigns: who to contact, with what, and who to hold out.

Two layers:

- **Due windows** (:func:`due_summary`, :func:`next_purchase_targets`): customers timed to their own
  purchase cycle, from :func:`crmtools.repeat.purchase_cycles`.
- **Campaign lists** (:func:`target_lists`): lists defined as data (params ``targets.lists``, defaults in
  ``crmtools/data/target_lists_default.yaml``), each a rule over customer attributes
  (:func:`customer_attributes`; fields from a registry of providers, :data:`ATTRIBUTE_PROVIDERS`), honouring
  marketing consent and suppressions (:mod:`crmtools.privacy`), one list per customer in priority order,
  with a seeded holdout stratified by segment and up to three next-best products from the basket rules. The
  members are the canonical ``campaign_contacts`` table, so the campaign ROI page measures the campaign
  against its holdout once its orders arrive.

A target list holds customer ids, so it is for the CRM system, not for a
report: reports show only counts (:func:`due_summary`, ``TargetListsResult.summary``); the files are written
by :func:`crmtools.exports.write_target_lists` outside the reports folder.

Examples
--------
>>> import pandas as pd
>>> cycles = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "days_until_next": [-40, -3, 10, 90],
...                        "avg_interval_days": [30.0, 20.0, 45.0, 60.0]})
>>> due_summary(cycles)[["window", "customers"]].to_dict("list")
{'window': ['long overdue', 'overdue', 'due within 30 days', 'later'], 'customers': [1, 1, 1, 1]}
>>> next_purchase_targets(cycles, within_days=30)["customer_id"].tolist()
['b', 'c']
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import inspect
import math
import re
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .checks import message, require_columns, require_range
from .engine import ascending, day_number_of, derived, frame_layout, member_of
from .periods import as_period, as_point
from .privacy import contactable
from .repeat import customer_purchase_days
from .slicing import rows_between

__all__ = [
    "ATTRIBUTE_PROVIDERS",
    "CONDITIONS",
    "DEFAULT_SETTINGS",
    "DUE_WINDOWS",
    "MEMBER_COLUMNS",
    "SUMMARY_COLUMNS",
    "THEMES",
    "Attribute",
    "AttributeProvider",
    "Condition",
    "TargetInputs",
    "TargetList",
    "TargetListsResult",
    "assign_holdout",
    "available_fields",
    "campaign_id_for",
    "customer_attributes",
    "due_summary",
    "holdout_share_for_power",
    "load_target_lists",
    "next_purchase_targets",
    "parse_target_lists",
    "register_provider",
    "settings_from_params",
    "target_lists",
]

#: Windows of ``days_until_next``: (name, lowest, highest) inclusive.
DUE_WINDOWS = (("long overdue", None, -31), ("overdue", -30, -1), ("due within 30 days", 0, 30), ("later", 31, None))

_CYCLES_HINT = "Pass the output of crmtools.repeat.purchase_cycles."


def _window(days: pd.Series) -> pd.Series:
    out = pd.Series(pd.NA, index=days.index, dtype="str")
    for name, low, high in DUE_WINDOWS:
        mask = pd.Series(True, index=days.index)
        if low is not None:
            mask &= days >= low
        if high is not None:
            mask &= days <= high
        out = out.mask(mask, name)
    return out


def due_summary(cycles: pd.DataFrame, *, days_col: str = "days_until_next") -> pd.DataFrame:
    """How many repeat customers are overdue, due soon or due later.

    Parameters
    ----------
    cycles : pandas.DataFrame
        :func:`crmtools.repeat.purchase_cycles` output.
    days_col : str, default="days_until_next"
        Column of whole days until the expected purchase (negative when overdue).

    Returns
    -------
    pandas.DataFrame
        One row per window of :data:`DUE_WINDOWS`, in order: ``window``,
        ``customers`` (int), ``share`` (of the customers in a window; NaN
        when there are none). Customers without an expected purchase
        (missing days) are in no window.
    """
    require_columns(cycles, [days_col], name="cycles", hint=_CYCLES_HINT)
    windows = _window(cycles[days_col])
    counts = windows.value_counts().reindex([w[0] for w in DUE_WINDOWS], fill_value=0).astype("int64")
    total = int(counts.sum())
    return pd.DataFrame(
        {
            "window": counts.index.tolist(),
            "customers": counts.to_numpy(),
            "share": counts.to_numpy() / total if total else float("nan"),
        }
    )


def next_purchase_targets(
    cycles: pd.DataFrame,
    *,
    within_days: int = 30,
    overdue_days: int = 30,
    customer_col: str = "customer_id",
    days_col: str = "days_until_next",
) -> pd.DataFrame:
    """Customers expected to buy within ``within_days``, or overdue by at most ``overdue_days``.

    These are the customers a reminder mail reaches at the right moment;
    customers overdue for longer are better handled by a win-back campaign.

    Parameters
    ----------
    cycles : pandas.DataFrame
        :func:`crmtools.repeat.purchase_cycles` output.
    within_days : int, default=30
        Keep customers expected to buy within this many days from now (0 = today).
    overdue_days : int, default=30
        Keep customers overdue by at most this many days.
    customer_col, days_col : str
        Column names (those of :func:`crmtools.repeat.purchase_cycles` by default).

    Returns
    -------
    pandas.DataFrame
        The matching rows of ``cycles`` (every column), soonest first (ties
        by customer id), with a fresh index.
    """
    require_columns(cycles, [customer_col, days_col], name="cycles", hint=_CYCLES_HINT)
    require_range(within_days, name="within_days", low=0)
    require_range(overdue_days, name="overdue_days", low=0)
    days = cycles[days_col]
    chosen = cycles.loc[(days >= -overdue_days) & (days <= within_days)]
    return chosen.sort_values([days_col, customer_col], kind="stable").reset_index(drop=True)


# =========================================================================== campaign target lists
#
# Lists are data (YAML in params, or the package's crmtools/data/target_lists_default.yaml): each a rule
# over customer attributes. Attributes come from a registry of providers (ATTRIBUTE_PROVIDERS): adding a
# field is one register_provider(...) entry, and a rule naming it works at once.


@dataclass(frozen=True)
class Attribute:
    """One customer attribute a list rule can use.

    Parameters
    ----------
    name : str
        Field name in rules (``"segment"``, ``"decile"`` ...).
    kind : {"number", "category", "flag"}
        What the values are; decides which conditions apply.
    description : str
        What it means, for messages and docs.
    values : tuple of str or None, default=None
        The allowed values of a category, when fixed (segments come from the segment map).
    """

    name: str
    kind: str
    description: str
    values: tuple[str, ...] | None = None


@dataclass(frozen=True)
class AttributeProvider:
    """A source of attributes: a function of the inputs giving one row per customer.

    Parameters
    ----------
    name : str
        Provider name (``"rfm"``, ``"history"``, ``"clv"`` ...).
    attributes : tuple of Attribute
        The columns it adds.
    compute : callable or None
        ``compute(inputs: TargetInputs) -> DataFrame`` with ``customer_id`` and the attribute columns, or
        None when the data it needs is absent (e.g. no survey answers). None as the provider itself means
        its module has not landed yet.
    module : str or None, default=None
        A crmtools module it needs (``"crmtools.clv"``); the provider is unavailable while it is missing.
    """

    name: str
    attributes: tuple[Attribute, ...]
    compute: Callable[[TargetInputs], pd.DataFrame | None] | None
    module: str | None = None

    def available(self) -> bool:
        """Whether the provider can run (its module, if any, is importable and it has a compute)."""
        if self.compute is None:
            return False
        return self.module is None or importlib.util.find_spec(self.module) is not None


@dataclass(frozen=True)
class TargetInputs:
    """What the providers read: the tables, the instant, and the parameters (see :func:`target_lists`)."""

    transactions: pd.DataFrame
    customers: pd.DataFrame | None
    surveys: pd.DataFrame | None
    as_of: pd.Timestamp
    settings: Mapping[str, Any]


#: Registered providers by name, in the order their columns appear.
ATTRIBUTE_PROVIDERS: dict[str, AttributeProvider] = {}


def register_provider(provider: AttributeProvider) -> AttributeProvider:
    """Add (or replace) a provider of customer attributes; its fields become usable in list rules.

    Examples
    --------
    >>> p = register_provider(AttributeProvider("demo", (Attribute("demo_score", "number", "a demo"),),
    ...                                         lambda inputs: None))
    >>> "demo_score" in available_fields()
    True
    >>> _ = ATTRIBUTE_PROVIDERS.pop("demo")
    """
    names = {a.name for a in provider.attributes}
    for other in ATTRIBUTE_PROVIDERS.values():
        clash = names & {a.name for a in other.attributes} if other.name != provider.name else set()
        if clash:
            raise ValueError(f"Attribute {sorted(clash)} is already provided by {other.name!r}.")
    ATTRIBUTE_PROVIDERS[provider.name] = provider
    return provider


def available_fields() -> dict[str, Attribute]:
    """Every field a list rule may name (also those whose module has not landed), by name."""
    return {a.name: a for p in ATTRIBUTE_PROVIDERS.values() for a in p.attributes}


def _provider_of(field_name: str) -> AttributeProvider:
    for p in ATTRIBUTE_PROVIDERS.values():
        if any(a.name == field_name for a in p.attributes):
            return p
    raise KeyError(field_name)


#: Settings the providers read, with their defaults (the params of the same names).
DEFAULT_SETTINGS: dict[str, Any] = {
    "lookback_days": 365,  # rfm.lookback_days
    "scoring": "quantile",  # rfm.scoring
    "thresholds": None,  # rfm.thresholds
    "segment_map": None,  # rfm.segment_map
    "within_days": 90,  # repeat.within_days
    "basket": {},  # basket.*: the basket page's rule settings (crmtools.basket.customer_rules)
    "clv_months": 12,  # clv.months
    "clv_monthly_discount": 0.01,  # clv.monthly_discount
    "clv_time_unit": "W",  # clv.time_unit
    "churn_horizon_days": 90,  # churn.horizon_days
}


def settings_from_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The provider settings from resolved params (``rfm``, ``repeat``, ``basket`` sections).

    Examples
    --------
    >>> settings_from_params({"rfm": {"lookback_days": 180}})["lookback_days"]
    180
    """
    params = params or {}
    rfm, repeat, basket = params.get("rfm", {}), params.get("repeat", {}), params.get("basket", {})
    out = dict(DEFAULT_SETTINGS)
    for key in ("lookback_days", "scoring", "thresholds", "segment_map"):
        if key in rfm:
            out[key] = rfm[key]
    if "within_days" in repeat:
        out["within_days"] = repeat["within_days"]
    out["basket"] = dict(basket)
    if "horizon_days" in params.get("churn", {}):
        out["churn_horizon_days"] = params["churn"]["horizon_days"]
    for key in ("months", "monthly_discount", "time_unit"):
        if key in params.get("clv", {}):
            out[f"clv_{key}"] = params["clv"][key]
    return out


def _rfm_attributes(inputs: TargetInputs) -> pd.DataFrame:
    from .rfm import rfm_table

    s = inputs.settings
    rfm = rfm_table(
        inputs.transactions,
        as_of=inputs.as_of,
        lookback_days=s["lookback_days"],
        scoring=s["scoring"],
        thresholds=s["thresholds"],
        segment_map=s["segment_map"],
    )
    out = rfm[["customer_id", "segment", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"]]
    # Decile of the RFM window's net revenue, ranked as crmtools.deciles ranks a period (ties by id).
    if ascending(out["customer_id"]) and out.index.is_unique:  # the RFM table's order: a stable sort keeps the ties'
        order = np.argsort(-out["monetary"].to_numpy(dtype="float64", na_value=np.nan), kind="stable")
        ranked = out.index[order]
    else:
        ranked = out.sort_values(["monetary", "customer_id"], ascending=[False, True], kind="stable").index
    position = np.arange(len(ranked), dtype=np.int64)
    decile = pd.Series(position * 10 // max(len(ranked), 1) + 1, index=ranked, dtype="int64")
    return out.assign(decile=decile.reindex(out.index))


def _history_attributes(inputs: TargetInputs) -> pd.DataFrame:
    ids, first_day, last_day, n = _purchase_days(inputs.transactions, inputs.as_of)
    today = day_number_of(inputs.as_of)
    first, last = today - first_day, today - last_day
    interval = np.where(n > 1, (last_day - first_day) / np.maximum(n - 1, 1), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(interval > 0, last / interval, np.nan)
    within = int(inputs.settings["within_days"])
    return pd.DataFrame(
        {
            "customer_id": ids,
            "days_since_first": first.astype("int64"),
            "days_since_last": last.astype("int64"),
            "purchase_days": n.astype("int64"),
            "avg_interval_days": interval.astype("float64"),
            "interval_ratio": ratio.astype("float64"),
            "in_f2_window": (n == 1) & (first < within),
        }
    )


def _purchase_days(tx: pd.DataFrame, as_of: pd.Timestamp) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """Per customer with a purchase before ``as_of`` (sorted by id): first and last purchase day (day numbers)
    and the number of distinct purchase days, from the purchase days the report's other pages read too
    (:func:`crmtools.repeat.customer_purchase_days`)."""
    customers, days, uniques = customer_purchase_days(tx, as_of=as_of)
    if not customers.size:
        empty = np.zeros(0, dtype="int64")
        return pd.Index(uniques[:0]).astype("str"), empty, empty, empty
    start = np.flatnonzero(np.r_[True, customers[1:] != customers[:-1]])
    end = np.r_[start[1:], customers.size] - 1
    ids = pd.Index(uniques.take(customers[start])).astype("str")
    return ids, days[start], days[end], end - start + 1


def _segment_names(segment_map=None) -> tuple[str, ...]:
    from .rfm import load_segment_map

    return tuple(load_segment_map(segment_map).names)


register_provider(
    AttributeProvider(
        "rfm",
        (
            Attribute("segment", "category", "RFM segment as of the end of the period (the segment map's names)"),
            Attribute("recency_days", "number", "days since the last purchase in the RFM window"),
            Attribute("frequency", "number", "orders in the RFM window (rfm.lookback_days)"),
            Attribute("monetary", "number", "net revenue in the RFM window"),
            Attribute("r_score", "number", "recency score 1-5 (5 best)"),
            Attribute("f_score", "number", "frequency score 1-5"),
            Attribute("m_score", "number", "monetary score 1-5"),
            Attribute("decile", "number", "revenue decile in the RFM window, 1 = top 10% of spenders"),
        ),
        _rfm_attributes,
    )
)
register_provider(
    AttributeProvider(
        "history",
        (
            Attribute("days_since_first", "number", "days since the first purchase"),
            Attribute("days_since_last", "number", "days since the last purchase (all history)"),
            Attribute("purchase_days", "number", "distinct days with a purchase"),
            Attribute("avg_interval_days", "number", "the customer's own average days between purchase days"),
            Attribute(
                "interval_ratio",
                "number",
                "days since the last purchase / own average interval (> 1: the usual interval has passed)",
            ),
            Attribute(
                "in_f2_window", "flag", "one purchase day so far, still inside the F2 window (repeat.within_days)"
            ),
        ),
        _history_attributes,
    )
)


def _nps_attributes(inputs: TargetInputs) -> pd.DataFrame | None:
    from .nps import latest_scores

    if inputs.surveys is None or inputs.surveys.empty:
        return None
    return latest_scores(inputs.surveys, as_of=inputs.as_of)[["customer_id", "nps_group"]]


def _stage_attributes(inputs: TargetInputs) -> pd.DataFrame:
    from .ladder import customer_stages

    stages = customer_stages(
        inputs.transactions,
        as_of=inputs.as_of,
        customers=inputs.customers,
        surveys=inputs.surveys,
        lookback_days=inputs.settings["lookback_days"],
    ).table
    return stages.rename(columns={"rung": "stage", "stage": "stage_number"})[["customer_id", "stage", "stage_number"]]


def _clv_attributes(inputs: TargetInputs) -> pd.DataFrame | None:
    from .churn import spend_model_rows
    from .clv import customer_scores, customer_summary, fit_bgnbd, fit_gamma_gamma, fit_status

    s = inputs.settings
    summary = customer_summary(
        inputs.transactions, calibration_end=inputs.as_of - pd.Timedelta(days=1), time_unit=s["clv_time_unit"]
    )
    spenders = spend_model_rows(summary)
    if len(summary) < 2 or not spenders.any():
        return None
    # the spend model is for positive spend: repeat customers with a zero or negative mean repeat value are left
    # out of its fit and get no value (NaN, so no value rule selects them), as in crmtools.churn.customer_values
    left_out = (summary["frequency"] > 0) & ~spenders
    bgnbd, gamma_gamma = fit_bgnbd(summary), fit_gamma_gamma(summary.loc[spenders])
    if not (fit_status(bgnbd).ok and fit_status(gamma_gamma, name="Gamma-Gamma").ok):
        return None  # a fit that did not converge or sits on the edge of its domain gives no value to select on
    scores = customer_scores(
        bgnbd,
        gamma_gamma,
        summary.assign(monetary_value=summary["monetary_value"].clip(lower=0)),
        months=s["clv_months"],
        monthly_discount=s["clv_monthly_discount"],
    )
    scores.loc[left_out.to_numpy(), "customer_value"] = np.nan
    return scores.rename(columns={"customer_value": "clv"})[["customer_id", "clv", "probability_alive"]]


def _ladder_stages() -> tuple[str, ...] | None:
    try:
        from .ladder import load_ladder
    except ImportError:  # pragma: no cover - the module ships with crmtools
        return None
    return tuple(load_ladder().names)


register_provider(
    AttributeProvider(
        "nps",
        (
            Attribute(
                "nps_group",
                "category",
                "group of the latest survey answer before the period's end (crmtools.nps)",
                ("promoter", "passive", "detractor"),
            ),
        ),
        _nps_attributes,
        module="crmtools.nps",
    )
)
register_provider(
    AttributeProvider(
        "stage",
        (
            Attribute("stage", "category", "growth-ladder rung code (crmtools.ladder)", _ladder_stages()),
            Attribute("stage_number", "number", "growth-ladder rung number, 1 (purchaser) to 7 (evangelist)"),
        ),
        _stage_attributes,
        module="crmtools.ladder",
    )
)
register_provider(
    AttributeProvider(
        "clv",
        (
            Attribute("clv", "number", "expected customer value over clv.months (BG/NBD + Gamma-Gamma, crmtools.clv)"),
            Attribute("probability_alive", "number", "probability the customer is still active (BG/NBD)"),
        ),
        _clv_attributes,
        module="crmtools.clv",
    )
)


def _churn_attributes(inputs: TargetInputs) -> pd.DataFrame | None:
    from .churn import churn_risk

    s = inputs.settings
    risk = churn_risk(
        inputs.transactions,
        as_of=inputs.as_of,
        horizon_days=s["churn_horizon_days"],
        customers=inputs.customers,
        clv_unit=s["clv_time_unit"],
    )
    if risk.status != "ok":
        return None
    return risk.scores.rename(columns={"churn_probability": "churn_risk"})[["customer_id", "churn_risk"]]


register_provider(
    AttributeProvider(
        "churn",
        (
            Attribute(
                "churn_risk",
                "number",
                "probability of no purchase within churn.horizon_days, from the backtested winner (crmtools.churn)",
            ),
        ),
        _churn_attributes,
        module="crmtools.churn",
    )
)


# --------------------------------------------------------------------------- list definitions

#: Conditions of a rule: name -> (the kinds of field it applies to, what its value is).
CONDITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "in": (("category", "number"), "a list of values"),
    "not_in": (("category", "number"), "a list of values"),
    "equals": (("category", "number", "flag"), "one value"),
    "min": (("number",), "a number (inclusive)"),
    "max": (("number",), "a number (inclusive)"),
    "above": (("number",), "a number (exclusive)"),
    "below": (("number",), "a number (exclusive)"),
}

#: Message themes a list may recommend (codes; the report's catalogue words them).
THEMES = (
    "win_back",
    "second_purchase",
    "thank_and_upgrade",
    "detractor_follow_up",
    "replenishment",
    "cross_sell",
    "reactivation",
)

_LIST_KEYS = (
    "name",
    "priority",
    "theme",
    "description",
    "where",
    "holdout",
    "max_holdout",
    "expected_response",
    "expected_uplift",
    "products",
    "exclusive",
)


@dataclass(frozen=True)
class Condition:
    """One condition of a list rule: ``field`` ``op`` ``value`` (see :data:`CONDITIONS`)."""

    field: str
    op: str
    value: Any

    def mask(self, values: pd.Series) -> pd.Series:
        """Which customers meet it; a missing value never does."""
        present = values.notna()
        if self.op in ("in", "not_in"):
            hit = values.isin(list(self.value))
            hit = hit if self.op == "in" else ~hit
        elif self.op == "equals":
            hit = values == self.value
        else:
            number = pd.to_numeric(values, errors="coerce")
            hit = {
                "min": number >= self.value,
                "max": number <= self.value,
                "above": number > self.value,
                "below": number < self.value,
            }[self.op]
        return (hit & present).fillna(False).astype(bool)


@dataclass(frozen=True)
class TargetList:
    """A validated list definition (build it with :func:`parse_target_lists`).

    Attributes
    ----------
    name : str
        Identifier (letters, digits, ``_``, ``-``); the export's file name and campaign id start with it.
    priority : int
        Lower first: a customer goes to the first exclusive list (by priority) whose rule holds.
    theme : str
        Recommended message, one of :data:`THEMES`.
    where : tuple of Condition
        Every condition must hold.
    holdout : float or "power"
        A fixed holdout share in (0, 0.5], or ``"power"``: sized by :func:`holdout_share_for_power`.
    max_holdout : float
        The largest share ``holdout: power`` may take, in (0, 0.5] (default 0.3); a list needing more is
        flagged ``underpowered``.
    expected_response, expected_uplift : float or None
        Response rate without contact, and the extra response from contact (rate points); needed for
        ``holdout: power``, and used for the expected incremental responses.
    products : int
        Next-best products per customer (0 to 3).
    exclusive : bool
        False: the list takes every match, also customers of other lists, and blocks nobody.
    description : str
        Free text for the analyst.
    """

    name: str
    priority: int
    theme: str
    where: tuple[Condition, ...]
    holdout: float | str = 0.1
    max_holdout: float = 0.3
    expected_response: float | None = None
    expected_uplift: float | None = None
    products: int = 3
    exclusive: bool = True
    description: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """The fields the rule names, in order."""
        return tuple(dict.fromkeys(c.field for c in self.where))

    def definition(self) -> dict:
        """The list as plain data (for manifests and params)."""
        return {
            "name": self.name,
            "priority": self.priority,
            "theme": self.theme,
            "description": self.description,
            "where": {
                f: {c.op: list(c.value) if isinstance(c.value, tuple) else c.value for c in self.where if c.field == f}
                for f in self.fields
            },
            "holdout": self.holdout,
            "max_holdout": self.max_holdout,
            "expected_response": self.expected_response,
            "expected_uplift": self.expected_uplift,
            "products": self.products,
            "exclusive": self.exclusive,
        }


def _bad(where: str, what: str, allowed: str, received: Any) -> ValueError:
    return ValueError(message(f"Target list {where}: {what}", allowed=allowed, received=repr(received)))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _parse_condition(where: str, field_name: str, op: str, value: Any, attribute: Attribute, segments) -> Condition:
    kinds, words = CONDITIONS.get(op, ((), ""))
    if op not in CONDITIONS:
        raise _bad(where, f"unknown condition {op!r} on {field_name!r}", ", ".join(CONDITIONS), op)
    if attribute.kind not in kinds:
        usable = [o for o, (k, _) in CONDITIONS.items() if attribute.kind in k]
        raise _bad(
            where, f"condition {op!r} does not apply to {field_name!r} ({attribute.kind})", ", ".join(usable), op
        )
    values = attribute.values if field_name != "segment" else segments
    if op in ("in", "not_in"):
        if not isinstance(value, (list, tuple)) or not value:
            raise _bad(where, f"{field_name}.{op} needs {words}", "a non-empty list such as [a, b]", value)
        items = tuple(value)
    else:
        items = (value,)
    for item in items:
        if attribute.kind == "number" and not _is_number(item):
            raise _bad(where, f"{field_name}.{op} needs numbers", "a finite number", item)
        if attribute.kind == "flag" and not isinstance(item, bool):
            raise _bad(where, f"{field_name}.{op} needs true or false", "true or false", item)
        if attribute.kind == "category" and values is not None and item not in values:
            what = "segment" if field_name == "segment" else f"value of {field_name!r}"
            raise _bad(where, f"unknown {what} {item!r}{_near(str(item), values)}", ", ".join(map(repr, values)), item)
    return Condition(field_name, op, items if op in ("in", "not_in") else value)


def _near(value: str, options) -> str:
    near = difflib.get_close_matches(value, [str(o) for o in options], n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _share_ok(value: Any) -> bool:
    return _is_number(value) and 0 < value <= 0.5


def _parse_list(raw: Any, index: int, segments: tuple[str, ...]) -> TargetList:
    where = f"#{index + 1}"
    if not isinstance(raw, Mapping):
        raise _bad(where, "each list must be a mapping", "name, priority, theme, where, holdout ...", raw)
    if isinstance(raw.get("name"), str):
        where = f"{raw['name']!r}"
    unknown = [k for k in raw if k not in _LIST_KEYS]
    if unknown:
        raise _bad(
            where, f"unknown key {unknown[0]!r}{_near(str(unknown[0]), _LIST_KEYS)}", ", ".join(_LIST_KEYS), unknown[0]
        )
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", name):
        raise _bad(where, "name must be an identifier", "letters, digits, _ and - (e.g. win_back_valuable)", name)
    priority = raw.get("priority")
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 1:
        raise _bad(where, "priority must be a whole number", "1, 2, 3 ... (1 first)", priority)
    theme = raw.get("theme")
    if theme not in THEMES:
        raise _bad(where, f"unknown theme {theme!r}{_near(str(theme), THEMES)}", ", ".join(THEMES), theme)
    rule = raw.get("where")
    if not isinstance(rule, Mapping) or not rule:
        raise _bad(where, "where must map fields to conditions", "e.g. {segment: {in: [Champions]}}", rule)
    fields = available_fields()
    conditions = []
    for field_name, spec in rule.items():
        if field_name not in fields:
            raise _bad(
                where,
                f"unknown field {field_name!r}{_near(str(field_name), fields)}",
                ", ".join(sorted(fields)),
                field_name,
            )
        if not isinstance(spec, Mapping) or not spec:
            raise _bad(where, f"{field_name!r} must map conditions to values", "e.g. {min: 3} or {in: [a, b]}", spec)
        conditions += [
            _parse_condition(where, field_name, op, v, fields[field_name], segments) for op, v in spec.items()
        ]
    holdout = raw.get("holdout", 0.1)
    if holdout != "power" and not _share_ok(holdout):
        raise _bad(where, "holdout share is out of range", "a share in (0, 0.5], or power", holdout)
    max_holdout = raw.get("max_holdout", 0.3)
    if not _share_ok(max_holdout):
        raise _bad(where, "max_holdout is out of range", "a share in (0, 0.5]", max_holdout)
    expected = {}
    for key in ("expected_response", "expected_uplift"):
        value = raw.get(key)
        if value is not None and not (_is_number(value) and 0 < value < 1):
            raise _bad(where, f"{key} is out of range", "a rate in (0, 1)", value)
        expected[key] = None if value is None else float(value)
    if holdout == "power":
        if None in expected.values():
            raise _bad(
                where, "holdout: power needs expected_response and expected_uplift", "two rates in (0, 1)", expected
            )
        if expected["expected_response"] + expected["expected_uplift"] >= 1:
            raise _bad(where, "expected_response + expected_uplift must stay below 1", "a total rate < 1", expected)
    products = raw.get("products", 3)
    if not isinstance(products, int) or isinstance(products, bool) or not 0 <= products <= 3:
        raise _bad(where, "products must be 0 to 3", "a whole number from 0 to 3", products)
    exclusive = raw.get("exclusive", True)
    if not isinstance(exclusive, bool):
        raise _bad(where, "exclusive must be true or false", "true or false", exclusive)
    description = raw.get("description", "") or ""
    return TargetList(
        name=name,
        priority=priority,
        theme=theme,
        where=tuple(conditions),
        holdout=holdout if holdout == "power" else float(holdout),
        max_holdout=float(max_holdout),
        products=products,
        exclusive=exclusive,
        description=str(description),
        **expected,
    )


def parse_target_lists(raw: Any, *, segment_map=None) -> tuple[TargetList, ...]:
    """Validate list definitions (YAML data) and return them in priority order.

    Parameters
    ----------
    raw : list of mapping, or mapping with ``lists``
        The definitions (see ``crmtools/data/target_lists_default.yaml``).
    segment_map : path, mapping or SegmentMap, optional
        The segment map whose names a ``segment`` condition may use (default: the built-in map).

    Returns
    -------
    tuple of TargetList
        Sorted by priority (ties by name).

    Raises
    ------
    ValueError
        Naming the list and what is wrong: an unknown field (listing the valid ones), an unknown segment
        (listing the segments), a holdout share outside (0, 0.5], a duplicate name ...

    Examples
    --------
    >>> lists = parse_target_lists([{"name": "vip", "priority": 1, "theme": "thank_and_upgrade",
    ...                              "where": {"segment": {"in": ["Champions"]}}, "holdout": 0.2}])
    >>> lists[0].where
    (Condition(field='segment', op='in', value=('Champions',)),)
    >>> parse_target_lists([{"name": "x", "priority": 1, "theme": "win_back", "where": {"segmnt": {"in": ["Lost"]}}}])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Target list 'x': unknown field 'segmnt' (did you mean 'segment'?); allowed: ...
    """
    if isinstance(raw, Mapping) and set(raw) <= {"lists"}:
        raw = raw.get("lists")
    if not isinstance(raw, (list, tuple)):
        raise ValueError(
            message("Target lists must be a list of list definitions", allowed="a YAML list", received=repr(raw))
        )
    segments = _segment_names(segment_map)
    lists = [_parse_list(item, i, segments) for i, item in enumerate(raw)]
    names = [t.name for t in lists]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(message("Target list names must be unique", allowed="each name once", received=repr(twice)))
    return tuple(sorted(lists, key=lambda t: (t.priority, t.name)))


def load_target_lists(source: Any = None, *, segment_map=None) -> tuple[TargetList, ...]:
    """The list definitions from params: None for the built-in defaults, a YAML file, or the data itself.

    Examples
    --------
    >>> [t.name for t in load_target_lists()]
    ['detractor_follow_up', 'win_back_valuable', 'second_purchase_nudge', 'thank_and_upgrade_champions']
    """
    if source is None:
        text = resources.files("crmtools").joinpath("data", "target_lists_default.yaml").read_text(encoding="utf-8")
        return parse_target_lists(yaml.safe_load(text), segment_map=segment_map)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(
                message(
                    "Target lists file not found",
                    allowed="a YAML file of list definitions, the definitions themselves, or null (the defaults)",
                    received=repr(str(path)),
                )
            )
        return parse_target_lists(yaml.safe_load(path.read_text(encoding="utf-8")), segment_map=segment_map)
    if isinstance(source, tuple) and all(isinstance(t, TargetList) for t in source):
        return tuple(sorted(source, key=lambda t: (t.priority, t.name)))
    return parse_target_lists(source, segment_map=segment_map)


# --------------------------------------------------------------------------- the attribute table


def customer_attributes(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    customers: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    fields: Any = None,
    settings: Mapping[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """One row per customer with a purchase before ``as_of``, with the attributes list rules use.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions (whole history; lines from ``as_of`` on are ignored). Not modified.
    as_of : date, timestamp or Period
        The instant (exclusive; a Period means its end).
    customers, surveys : pandas.DataFrame, optional
        Canonical tables some providers read.
    fields : iterable of str, optional
        Only the providers of these fields run (default: every available provider).
    settings : mapping, optional
        Provider settings (:data:`DEFAULT_SETTINGS`; :func:`settings_from_params` builds them from params).

    Returns
    -------
    (DataFrame, dict)
        The table (``customer_id`` then the attributes of each provider that ran, sorted by id; a customer a
        provider does not cover has missing values there), and the fields that could not be computed ->
        why (``module_missing`` or ``no_data``).
    """
    require_columns(
        transactions, ["customer_id", "order_id", "order_datetime", "quantity", "amount"], name="transactions"
    )
    inputs = TargetInputs(transactions, customers, surveys, as_point(as_of), {**DEFAULT_SETTINGS, **(settings or {})})
    known = available_fields()
    wanted = list(known) if fields is None else list(dict.fromkeys(fields))
    for f in wanted:
        if f not in known:
            raise ValueError(
                message(f"Unknown field {f!r}{_near(f, known)}", allowed=", ".join(sorted(known)), received=repr(f))
            )
    providers = list(dict.fromkeys(_provider_of(f).name for f in ["segment", *wanted]))
    table: pd.DataFrame | None = None
    missing: dict[str, str] = {}
    base = _computed(ATTRIBUTE_PROVIDERS["history"], inputs)[["customer_id"]]
    for name in providers:
        provider = ATTRIBUTE_PROVIDERS[name]
        columns = [a.name for a in provider.attributes]
        frame = _computed(provider, inputs) if provider.available() else None
        if frame is None:
            reason = "no_data" if provider.available() else "module_missing"
            missing.update({c: reason for c in columns if c in wanted})
            continue
        frame = frame[["customer_id", *columns]].astype({"customer_id": "str"})
        table = frame if table is None else table.merge(frame, on="customer_id", how="outer")
    table = base.merge(table, on="customer_id", how="left") if table is not None else base
    return table.sort_values("customer_id", kind="stable").reset_index(drop=True), missing


def _computed(provider: AttributeProvider, inputs: TargetInputs) -> pd.DataFrame | None:
    """``provider.compute(inputs)``, remembered for the same inputs (:func:`crmtools.engine.derived`).

    A report page asks for attributes twice at the same instant (its target lists, then a chart's lifetime
    values): the second call reuses the first's fits and group-bys. The same means the same transactions frame
    (its values where they were), the same customers and surveys frames (likewise), instant, settings and
    provider function; anything else computes again.
    """
    if not isinstance(inputs.transactions, pd.DataFrame):
        return provider.compute(inputs)
    kept = derived(inputs.transactions, "targets.attributes", lambda _: {})
    key = (provider.name, inputs.as_of, repr(sorted(inputs.settings.items())))
    tables = (inputs.customers, inputs.surveys)
    layouts = tuple(None if t is None else frame_layout(t) for t in tables)
    known = None not in [layout for table, layout in zip(tables, layouts) if table is not None]
    hit = kept.get(key)
    same = hit is not None and hit[0] is provider.compute and all(a is b for a, b in zip(hit[1], tables))
    if same and known and hit[2] == layouts:
        return hit[3]
    frame = provider.compute(inputs)
    kept.pop(key, None)
    kept[key] = (provider.compute, tables, layouts, frame)
    while len(kept) > _KEPT_ATTRIBUTES:  # the oldest first: an analyst looping over dates keeps the last few
        kept.pop(next(iter(kept)))
    return frame


_KEPT_ATTRIBUTES = 16


# --------------------------------------------------------------------------- holdouts


def holdout_share_for_power(
    customers: int,
    *,
    expected_response: float,
    expected_uplift: float,
    alpha: float = 0.05,
    power: float = 0.8,
    max_share: float = 0.5,
) -> tuple[float, bool]:
    """The smallest holdout share (in steps of 0.5%) that detects the list's expected uplift.

    With ``n`` customers, a holdout share ``s`` and Cohen's h between the rates ``expected_response`` and
    ``expected_response + expected_uplift``, the two-sided two-proportion z test (normal approximation, as
    statsmodels' ``NormalIndPower`` and :func:`crmtools.experiments.required_sample_size`) reaches ``power``
    when ``s (1 - s) >= (z_(1-alpha/2) + z_power)^2 / (h^2 n)``; the smallest such ``s`` is rounded up to
    the next 0.5%.

    Returns
    -------
    (float, bool)
        The share, and whether even ``max_share`` is too small to reach ``power`` (then the share is
        ``max_share``: the list is underpowered).

    Examples
    --------
    >>> holdout_share_for_power(20000, expected_response=0.10, expected_uplift=0.04)
    (0.03, False)
    >>> holdout_share_for_power(300, expected_response=0.10, expected_uplift=0.04)
    (0.5, True)
    >>> holdout_share_for_power(300, expected_response=0.10, expected_uplift=0.04, max_share=0.2)
    (0.2, True)
    """
    require_range(customers, name="customers", low=0, integer=True)
    if not _share_ok(max_share):
        raise ValueError(message("max_share is out of range", allowed="a share in (0, 0.5]", received=repr(max_share)))
    h = abs(2 * math.asin(math.sqrt(expected_response + expected_uplift)) - 2 * math.asin(math.sqrt(expected_response)))
    normal = statistics.NormalDist()
    z = normal.inv_cdf(1 - alpha / 2) + normal.inv_cdf(power)
    c = z * z / (h * h * customers) if customers and h else math.inf
    if c > 0.25:
        return float(max_share), True
    share = math.ceil(round((1 - math.sqrt(1 - 4 * c)) / 2 * 200, 9)) / 200
    if share > max_share:
        return float(max_share), True
    return float(share), False


def _unit_keys(ids: pd.Series, seed: int, salt: str) -> np.ndarray:
    """A seeded pseudo-random number in [0, 1) per id, independent of the other ids and of row order."""
    out = np.empty(len(ids), dtype=np.float64)
    for i, cid in enumerate(ids.astype("str").tolist()):
        digest = hashlib.sha256(f"{seed}|{salt}|{cid}".encode()).digest()
        out[i] = int.from_bytes(digest[:8], "big") / 2**64
    return out


def assign_holdout(
    members: pd.DataFrame, *, share: float, seed: int, salt: str = "", strata_col: str = "segment"
) -> pd.Series:
    """Seeded holdout assignment stratified by ``strata_col``: ``"holdout"`` or ``"treatment"`` per row.

    Within each stratum, customers are ordered by a seeded hash of (seed, salt, customer id) and the first
    ``ceil(share * n - 0.5)`` are held out (a half rounds down: one customer alone is contacted), so each stratum's holdout share is within half a customer of
    ``share``, and a customer's group depends only on the seed, the salt (the list) and who else is in the
    stratum, never on row order.

    Examples
    --------
    >>> m = pd.DataFrame({"customer_id": list("abcdefghij"), "segment": ["A"] * 6 + ["B"] * 4})
    >>> g = assign_holdout(m, share=0.5, seed=1)
    >>> g.groupby(m["segment"]).apply(lambda s: int((s == "holdout").sum())).to_dict()
    {'A': 3, 'B': 2}
    """
    if not _share_ok(share):
        raise ValueError(message("holdout share is out of range", allowed="a share in (0, 0.5]", received=repr(share)))
    keys = pd.Series(_unit_keys(members["customer_id"], seed, salt), index=members.index)
    strata = (
        members[strata_col].astype("str").fillna("")
        if strata_col in members.columns
        else pd.Series("", index=members.index)
    )
    order = pd.DataFrame({"stratum": strata, "key": keys, "id": members["customer_id"].astype("str")})
    order = order.sort_values(["stratum", "key", "id"], kind="stable")
    position = order.groupby("stratum", sort=False).cumcount()
    size = order.groupby("stratum", sort=False)["key"].transform("size")
    held = position < np.ceil(size * share - 0.5)
    group = pd.Series(np.where(held, "holdout", "treatment"), index=order.index, dtype="str")
    return group.reindex(members.index)


# --------------------------------------------------------------------------- building the lists

#: Columns of :attr:`TargetListsResult.summary`, in order (no customer ids).
SUMMARY_COLUMNS = [
    "list",
    "priority",
    "theme",
    "status",
    "note",
    "matched",
    "not_contactable",
    "taken_by_earlier",
    "customers",
    "treatment",
    "holdout",
    "holdout_share",
    "sizing",
    "underpowered",
    "expected_response",
    "expected_uplift",
    "expected_incremental_responses",
]

#: Columns of :attr:`TargetListsResult.members`, in order: the canonical ``campaign_contacts`` columns first.
MEMBER_COLUMNS = [
    "campaign_id",
    "customer_id",
    "group",
    "contacted_at",
    "list",
    "theme",
    "priority",
    "segment",
    "decile",
    "product_1",
    "product_2",
    "product_3",
]


@dataclass(frozen=True)
class TargetListsResult:
    """The lists of a period.

    Attributes
    ----------
    period : str
        The period's label.
    as_of : pandas.Timestamp
        The instant attributes are computed at (the period's end).
    seed : int
        The holdout seed.
    lists : tuple of TargetList
        The definitions, in priority order.
    members : pandas.DataFrame
        One row per customer and list (:data:`MEMBER_COLUMNS`); holds customer ids: for exports only.
    summary : pandas.DataFrame
        One row per list (:data:`SUMMARY_COLUMNS`), counts only: what reports show. ``status`` is ``ok``,
        ``empty`` (a note, not an error) or ``skipped``; ``note`` is missing for ``ok``, else
        ``no_customer_matches`` (the rule holds for nobody), ``none_contactable_or_free`` (every match lacks
        consent, is suppressed or is in an earlier list) or ``field_unavailable:<field>:<reason>`` (reason
        ``module_missing`` or ``no_data``, e.g. no survey answers for ``nps_group``). ``matched`` counts the
        customers the rule holds for, ``not_contactable`` those of them without consent or suppressed,
        ``taken_by_earlier`` those already in an earlier exclusive list, ``customers`` the list's size.
    missing_fields : dict
        Fields that could not be computed -> ``module_missing`` or ``no_data``.
    """

    period: str
    as_of: pd.Timestamp
    seed: int
    lists: tuple[TargetList, ...]
    members: pd.DataFrame
    summary: pd.DataFrame
    missing_fields: dict[str, str] = field(default_factory=dict)

    def campaign_contacts(self, list_name: str | None = None) -> pd.DataFrame:
        """The members as the canonical ``campaign_contacts`` table (of one list, or all)."""
        members = self.members if list_name is None else self.members[self.members["list"] == list_name]
        return members[["campaign_id", "customer_id", "group", "contacted_at"]].reset_index(drop=True)


def campaign_id_for(list_name: str, *, period: Any) -> str:
    """The campaign id a list's export carries: ``<list>-<period>``.

    Examples
    --------
    >>> campaign_id_for("win_back_valuable", period="2025-10")
    'win_back_valuable-2025-10'
    """
    return f"{list_name}-{as_period(period).label}"


def _basket_rules(transactions: pd.DataFrame, *, as_of: pd.Timestamp, settings: Mapping[str, Any]) -> pd.DataFrame:
    """The basket page's rules (:func:`crmtools.basket.customer_rules`, params ``basket.*``) mined over the RFM
    window's orders, as product ids: significant, lift above 1, held by enough baskets and customers."""
    from .basket import customer_rules

    start = as_of - pd.Timedelta(days=int(settings["lookback_days"]))
    window = rows_between(transactions, "order_datetime", start=start, end=as_of)
    accepted = set(inspect.signature(customer_rules).parameters) - {"transactions", "basket", "item", "label_col"}
    options = {k: v for k, v in (settings.get("basket") or {}).items() if k in accepted}
    if window.empty:
        return pd.DataFrame()
    screen = customer_rules(window, label_col="product_id", **options)
    return screen.rules if screen.rules is not None else pd.DataFrame()


def _next_products(transactions: pd.DataFrame, customer_ids: pd.Series, rules: pd.DataFrame, *, as_of) -> pd.DataFrame:
    """Up to three next-best product ids per customer, from the rules and the customer's own purchases."""
    from .basket import customer_recommendations

    columns = ["customer_id", "product_1", "product_2", "product_3"]
    empty = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    if customer_ids.empty or rules.empty:
        return empty
    history = transactions.loc[member_of(transactions["customer_id"], customer_ids)]
    recs = customer_recommendations(history, rules, top_n=3, as_of=as_of, label_col="product_id")
    if recs.empty:
        return empty
    wide = recs.pivot(index="customer_id", columns="rank", values="item").reindex(columns=[1, 2, 3])
    wide.columns = columns[1:]
    return wide.reset_index().astype({c: "str" for c in columns})


def target_lists(
    transactions: pd.DataFrame,
    *,
    period: Any,
    customers: pd.DataFrame | None = None,
    suppressions: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    lists: Any = None,
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    consent_default: bool | None = None,
) -> TargetListsResult:
    """Build the period's campaign lists: rules, consent, priority, holdouts and next-best products.

    Steps, in order: compute the attribute table as of the period's end (:func:`customer_attributes`);
    keep the customers who may be contacted (:func:`crmtools.privacy.contactable`: marketing consent, no
    opt-out or complaint in force; erased customers are already gone from the inputs); take each list's
    matches in priority order, a customer going to the first exclusive list that matches; draw each list's
    holdout (seeded, stratified by segment; a fixed share or sized by power); add up to ``products``
    next-best products per customer from the basket rules.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions, whole history (lines from the period's end on are ignored). Not modified.
    period : Period or str
        The period the lists are for (``"2025-10"``); attributes are as of its end, and the contacts are
        dated at its end (the first instant after it).
    customers : pandas.DataFrame, optional
        Canonical customers (``marketing_consent``). Without it nobody has consent.
    suppressions : pandas.DataFrame, optional
        Canonical suppressions: ``opt_out`` and ``complaint`` rows in force exclude the customer.
    surveys : pandas.DataFrame, optional
        Canonical survey answers (for ``nps_group``).
    lists : optional
        The definitions: None (params ``targets.lists``, else the built-in defaults), a YAML file, the data,
        or :class:`TargetList` objects.
    params : mapping, optional
        Resolved params (:func:`crmtools.params.resolve_params`): ``rfm``, ``repeat``, ``basket``,
        ``targets`` (``lists``, ``seed``) and ``privacy`` (``consent_default``). Default: the defaults.
    seed : int, optional
        Holdout seed (default params ``targets.seed``, else 0).
    consent_default : bool, optional
        The consent of a customer without a recorded answer (default params ``privacy.consent_default``, else
        False).

    Returns
    -------
    TargetListsResult
        ``members`` (with ids, for exports), ``summary`` (counts, for reports) and the definitions.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["a", "b", "b"],
    ...                    "order_datetime": pd.to_datetime(["2025-10-20", "2025-03-01", "2025-06-01"]),
    ...                    "quantity": 1, "amount": [100.0, 500.0, 400.0], "product_id": ["p", "q", "r"]})
    >>> customers = pd.DataFrame({"customer_id": ["a", "b"], "marketing_consent": [True, True]})
    >>> result = target_lists(tx, period="2025-10", customers=customers, lists=[
    ...     {"name": "lapsed", "priority": 1, "theme": "win_back", "where": {"interval_ratio": {"min": 1.5}},
    ...      "holdout": 0.5, "products": 0}])
    >>> result.summary[["list", "matched", "customers", "treatment", "holdout"]].to_dict("records")
    [{'list': 'lapsed', 'matched': 1, 'customers': 1, 'treatment': 1, 'holdout': 0}]
    """
    p = as_period(period)
    params = params or {}
    targets_params = params.get("targets", {}) or {}
    privacy_params = params.get("privacy", {}) or {}
    seed = int(targets_params.get("seed", 0) or 0) if seed is None else seed
    require_range(seed, name="seed", low=0, integer=True)
    if consent_default is None:
        consent_default = bool(privacy_params.get("consent_default", False))
    settings = settings_from_params(params)
    definitions = load_target_lists(
        targets_params.get("lists") if lists is None else lists, segment_map=settings["segment_map"]
    )
    as_of = p.end
    needed = list(dict.fromkeys(f for t in definitions for f in t.fields))
    attrs, missing = customer_attributes(
        transactions, as_of=as_of, customers=customers, surveys=surveys, fields=needed, settings=settings
    )
    allowed = contactable(
        customers if customers is not None else pd.DataFrame({"customer_id": pd.Series(dtype="str")}),
        suppressions,
        as_of=as_of,
        consent_default=consent_default,
        customer_ids=attrs["customer_id"],
    )
    ok = member_of(attrs["customer_id"], allowed.loc[allowed["contactable"], "customer_id"])
    taken: set[str] = set()
    parts, rows = [], []
    for t in definitions:
        row = {c: None for c in SUMMARY_COLUMNS} | {"list": t.name, "priority": t.priority, "theme": t.theme}
        row |= {"expected_response": t.expected_response, "expected_uplift": t.expected_uplift}
        absent = [f for f in t.fields if f in missing]
        if absent:
            rows.append(row | {"status": "skipped", "note": f"field_unavailable:{absent[0]}:{missing[absent[0]]}"})
            continue
        match = pd.Series(True, index=attrs.index)
        for condition in t.where:
            match &= condition.mask(attrs[condition.field])
        free = ~member_of(attrs["customer_id"], taken) if t.exclusive else pd.Series(True, index=attrs.index)
        chosen = attrs.loc[match & ok & free]
        row |= {
            "matched": int(match.sum()),
            "not_contactable": int((match & ~ok).sum()),
            "taken_by_earlier": int((match & ok & ~free).sum()),
            "customers": len(chosen),
        }
        if t.exclusive:
            taken.update(chosen["customer_id"])
        if chosen.empty:
            note = "no_customer_matches" if not row["matched"] else "none_contactable_or_free"
            rows.append(row | {"status": "empty", "note": note, "treatment": 0, "holdout": 0})
            continue
        if t.holdout == "power":
            share, under = holdout_share_for_power(
                len(chosen),
                expected_response=t.expected_response,
                expected_uplift=t.expected_uplift,
                max_share=t.max_holdout,
            )
            sizing = "power"
        else:
            share, under, sizing = float(t.holdout), None, "share"
        members = chosen.assign(list=t.name, theme=t.theme, priority=t.priority)
        members["group"] = assign_holdout(members, share=share, seed=seed, salt=f"{t.name}|{p.label}")
        n_hold = int((members["group"] == "holdout").sum())
        treated = len(members) - n_hold
        uplift = t.expected_uplift
        row |= {
            "status": "ok",
            "treatment": treated,
            "holdout": n_hold,
            "holdout_share": share,
            "sizing": sizing,
            "underpowered": under,
            "expected_incremental_responses": treated * uplift if uplift is not None else None,
        }
        rows.append(row)
        parts.append((members, t.products))
    parts = _with_next_products(parts, transactions, as_of=as_of, settings=settings)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    summary = summary.astype(
        {c: "Int64" for c in ("matched", "not_contactable", "taken_by_earlier", "customers", "treatment", "holdout")}
        | {"holdout_share": "float64", "expected_response": "float64", "expected_uplift": "float64"}
        | {"expected_incremental_responses": "float64", "underpowered": "boolean", "priority": "int64"}
    )
    members = _member_table(parts, p)
    return TargetListsResult(p.label, as_of, seed, definitions, members, summary, missing)


def _with_next_products(parts: list[tuple[pd.DataFrame, int]], transactions, *, as_of, settings) -> list[pd.DataFrame]:
    """Each list's members with their next-best products (as many as the list asks for, up to three).

    A customer's recommendations depend on the rules and their own purchases only, so they are found once for
    the members of every list that asks for them.
    """
    wanted = [members["customer_id"] for members, n in parts if n]
    if not wanted:
        return [members for members, _ in parts]
    rules = _basket_rules(transactions, as_of=as_of, settings=settings)
    products = _next_products(transactions, pd.concat(wanted, ignore_index=True).drop_duplicates(), rules, as_of=as_of)
    out = []
    for members, n in parts:
        if n:
            members = members.merge(products, on="customer_id", how="left")
            for k in range(n + 1, 4):
                members[f"product_{k}"] = pd.NA
        out.append(members)
    return out


def _member_table(parts: list[pd.DataFrame], p) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in MEMBER_COLUMNS}).astype(
            {"contacted_at": "datetime64[ns]", "priority": "int64", "decile": "Int64"}
        )
    out = pd.concat(parts, ignore_index=True)
    for column in MEMBER_COLUMNS:
        if column not in out.columns:
            out[column] = pd.NA
    out["campaign_id"] = out["list"].map({name: campaign_id_for(name, period=p) for name in out["list"].unique()})
    out["contacted_at"] = pd.Timestamp(p.end)
    out = out[MEMBER_COLUMNS].astype(
        {
            "campaign_id": "str",
            "customer_id": "str",
            "group": "str",
            "contacted_at": "datetime64[ns]",
            "list": "str",
            "theme": "str",
            "priority": "int64",
            "segment": "str",
            "decile": "Int64",
            "product_1": "str",
            "product_2": "str",
            "product_3": "str",
        }
    )
    return out.sort_values(["priority", "list", "customer_id"], kind="stable").reset_index(drop=True)
