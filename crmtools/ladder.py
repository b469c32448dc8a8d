"""The seven-stage customer growth ladder (顧客の成長プロセス): who stands where, how they move, what they are worth.

Stages, bottom up: ① purchaser (購入者), ② customer (顧客), ③ enthusiastic customer (熱心な顧客),
④ follower (フォロワー), ⑤ fan (ファン), ⑥ member (会員), ⑦ evangelist (信者・伝道者).

Definitions (as of an explicit ``as_of`` instant, exclusive):

- A customer is **on the ladder** when they have a purchase (a line with a positive quantity) in the
  look-back window ``[as_of - lookback_days, as_of)``; the others are *off* it (:data:`OFF`).
- **Features** (:func:`ladder_features`): ``orders`` and ``revenue`` in the window (as
  :func:`crmtools.rfm.rfm_table` counts frequency and monetary), ``decile`` of that revenue (1 = top 10%,
  ties by customer id, as :mod:`crmtools.deciles` ranks), ``marketing_consent`` (optional
  ``customers.marketing_consent``), ``nps_group`` (the latest answer before ``as_of`` in the optional
  ``surveys`` table), ``member`` (optional ``customers.member_since`` before ``as_of``) and ``referrals``
  (customers first seen before ``as_of`` whose optional ``customers.referred_by`` names them).
- The **rules** are a validated data file (:func:`load_ladder`, default ``crmtools/data/growth_ladder.yaml``):
  ordered rungs, each a list of conditions (any may hold; within one, all fields must hold). Each customer
  stands on exactly one rung, the **highest whose rule holds**; the first rung is the floor (every buyer).
- **Missing optional data** never raises: conditions on a field whose data is absent are dropped, and a rung
  left without conditions is skipped; :attr:`Stages.skipped` says which and why (codes, for the report).
- **Migration** (:func:`stage_migration`): stage at a period's start against stage at its end.
- **Conversion** (:func:`rung_conversion`): of the customers on a rung ``window_days`` before ``as_of``, the
  share standing on a higher rung at ``as_of``.

Results name rungs by their codes (``"purchaser"`` ...) and numbers (1-7); the reporting catalogue words them.

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "order_id": ["o1", "o2", "o3", "o4"],
...                    "order_datetime": pd.to_datetime(["2025-09-01", "2025-10-02", "2025-10-05", "2025-10-06"]),
...                    "quantity": 1, "amount": [100.0, 200.0, 50.0, 80.0]})
>>> customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "member_since": pd.to_datetime([None, "2025-10-06", None]),
...                           "referred_by": [None, None, "a"], "first_seen": pd.to_datetime(["2025-01-01"] * 3)})
>>> st = customer_stages(tx, customers=customers, as_of="2025-11-01")
>>> st.table[["customer_id", "stage", "rung"]]
  customer_id  stage        rung
0           a      7  evangelist
1           b      6      member
2           c      1   purchaser
>>> [(s.rung, s.reason) for s in st.skipped]
[('follower', 'no_consent_data'), ('fan', 'no_surveys')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .checks import require_columns, require_range
from .engine import ascending, derived, lookup, merge_on_ids, positions_of
from .periods import as_period, as_point
from .slicing import rows_between

__all__ = [
    "FIELDS",
    "OFF",
    "STAGE_COLUMNS",
    "Ladder",
    "Rung",
    "SkippedRung",
    "Stages",
    "customer_stages",
    "ladder_features",
    "load_ladder",
    "rung_conversion",
    "stage_migration",
    "stage_migration_matrix",
    "stage_summary",
]

#: Pseudo-rung in migrations: no purchase in the look-back window.
OFF = "off"

#: Fields a rule may use: kind, and the reason code when their data is missing.
FIELDS: dict[str, tuple[str, str | None]] = {
    "orders": ("range", None),
    "revenue": ("range", None),
    "decile": ("range", None),
    "referrals": ("range", "no_referral_data"),
    "marketing_consent": ("flag", "no_consent_data"),
    "member": ("flag", "no_membership_data"),
    "nps_group": ("choice", "no_surveys"),
}
_NPS_GROUPS = ("promoter", "passive", "detractor")
_LANGUAGES = ("en", "ja")

#: Columns of :attr:`Stages.table`.
STAGE_COLUMNS = ["customer_id", "stage", "rung"]

_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# --------------------------------------------------------------------------- the rule file


@dataclass(frozen=True)
class Rung:
    """One rung: its code, labels and conditions (each a mapping field -> requirement; any may hold)."""

    name: str
    labels: Mapping[str, str]
    conditions: tuple[Mapping[str, Any], ...]

    def fields(self) -> set[str]:
        """Every field the rung's conditions use."""
        return {f for c in self.conditions for f in c}


@dataclass(frozen=True)
class Ladder:
    """A validated growth ladder: rungs from the bottom up. Build it with :func:`load_ladder`."""

    name: str
    rungs: tuple[Rung, ...]

    @property
    def names(self) -> list[str]:
        """Rung codes, bottom up."""
        return [r.name for r in self.rungs]

    def rungs_using(self, field: str) -> list[str]:
        """Codes of the rungs whose rule uses ``field`` (one of :data:`FIELDS`), bottom up.

        A breakdown of that field by stage is circular on these rungs: the built-in ⑤ fan is defined by an
        NPS promoter answer, so NPS by stage is high there (and lower below) by definition.

        Examples
        --------
        >>> load_ladder().rungs_using("nps_group"), load_ladder().rungs_using("orders")
        (['fan'], ['purchaser', 'customer', 'enthusiastic', 'follower'])
        """
        if field not in FIELDS:
            raise ValueError(f"Unknown ladder field; allowed: {', '.join(FIELDS)}; received: {field!r}.")
        return [r.name for r in self.rungs if field in r.fields()]


def _range(value: Any, where: str) -> dict[str, float]:
    if not isinstance(value, Mapping) or not value or set(value) - {"min", "max"}:
        raise ValueError(f"{where}: a range must be a mapping with 'min' and/or 'max', e.g. {{min: 2}}; got {value!r}.")
    for bound, number in value.items():
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not np.isfinite(number):
            raise ValueError(f"{where}: '{bound}' must be a number; got {number!r}.")
    if "min" in value and "max" in value and value["min"] > value["max"]:
        raise ValueError(f"{where}: 'min' must not exceed 'max'; got {dict(value)!r}.")
    return {k: float(v) for k, v in value.items()}


def _requirement(field: str, value: Any, where: str) -> Any:
    kind = FIELDS[field][0]
    if kind == "range":
        return _range(value, where)
    if kind == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: must be true or false; got {value!r}.")
        return value
    chosen = [value] if isinstance(value, str) else value
    if not isinstance(chosen, list) or not chosen or any(v not in _NPS_GROUPS for v in chosen):
        raise ValueError(f"{where}: must be one of {list(_NPS_GROUPS)} or a list of them; got {value!r}.")
    return tuple(chosen)


def _parse_rung(spec: Any, i: int, source: str) -> Rung:
    if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str) or not spec["name"].strip():
        raise ValueError(f"Growth ladder {source}, rung {i}: each rung needs a text 'name'; got {spec!r}.")
    where = f"Growth ladder {source}, rung {spec['name']!r}"
    unknown = sorted(set(spec) - {"name", "label", "description", "when"})
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown}; allowed: name, label, description, when.")
    label = spec.get("label") or {}
    labels = dict.fromkeys(_LANGUAGES, label) if isinstance(label, str) else dict(label)
    if set(labels) - set(_LANGUAGES) or not all(isinstance(v, str) for v in labels.values()):
        raise ValueError(f"{where}: 'label' must be text or a mapping {{en: ..., ja: ...}}; got {label!r}.")
    when = spec.get("when")
    if not isinstance(when, list) or not when:
        raise ValueError(
            f"{where}: 'when' must be a non-empty list of conditions, e.g. [{{orders: {{min: 2}}}}]; got {when!r}."
        )
    conditions = []
    for j, condition in enumerate(when, start=1):
        cwhere = f"{where}, condition {j}"
        if not isinstance(condition, Mapping) or not condition:
            raise ValueError(
                f"{cwhere}: a condition is a mapping of fields, e.g. {{orders: {{min: 2}}}}; got {condition!r}."
            )
        bad = sorted(set(condition) - set(FIELDS))
        if bad:
            raise ValueError(f"{cwhere}: unknown field {bad}; allowed: {', '.join(FIELDS)}.")
        conditions.append({f: _requirement(f, v, f"{cwhere}, field {f!r}") for f, v in condition.items()})
    return Rung(spec["name"], labels, tuple(conditions))


def _parse_ladder(raw: Any, source: str) -> Ladder:
    if not isinstance(raw, Mapping) or "rungs" not in raw:
        raise ValueError(f"Growth ladder {source}: expected a mapping with a 'rungs' list; got {type(raw).__name__}.")
    unknown = sorted(set(raw) - {"name", "description", "rungs"})
    if unknown:
        raise ValueError(f"Growth ladder {source}: unknown key {unknown}; allowed: name, description, rungs.")
    specs = raw["rungs"]
    if not isinstance(specs, list) or len(specs) < 2:
        raise ValueError(f"Growth ladder {source}: 'rungs' must list at least two rungs, bottom up; got {specs!r}.")
    rungs = [_parse_rung(spec, i, source) for i, spec in enumerate(specs, start=1)]
    names = [r.name for r in rungs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"Growth ladder {source}: rung names must be unique; {twice} appear more than once.")
    if OFF in names:
        raise ValueError(f"Growth ladder {source}: {OFF!r} is reserved for customers off the ladder; rename that rung.")
    floor = rungs[0]
    if floor.conditions != ({"orders": {"min": 1.0}},):
        raise ValueError(
            f"Growth ladder {source}, rung {floor.name!r}: the first rung is the floor every buyer stands on; "
            f"its rule must be [{{orders: {{min: 1}}}}]; got {list(floor.conditions)!r}."
        )
    return Ladder(str(raw.get("name", source)), tuple(rungs))


def load_ladder(source: str | Path | Mapping | Ladder | None = None) -> Ladder:
    """Load and validate a growth-ladder rule file.

    Parameters
    ----------
    source : str, path, mapping, Ladder or None, default=None
        A YAML file, a parsed mapping (``{"rungs": [...]}``) or None for the default seven-stage ladder
        (``crmtools/data/growth_ladder.yaml``).

    Returns
    -------
    Ladder

    Raises
    ------
    ValueError
        Naming the rung and field at fault and what is allowed.

    Examples
    --------
    >>> load_ladder().names
    ['purchaser', 'customer', 'enthusiastic', 'follower', 'fan', 'member', 'evangelist']
    >>> load_ladder({"rungs": [{"name": "buyer", "when": [{"orders": {"min": 1}}]},
    ...                        {"name": "vip", "when": [{"spend": {"min": 9}}]}]})
    Traceback (most recent call last):
    ...
    ValueError: Growth ladder (mapping), rung 'vip', condition 1: unknown field ['spend']; allowed: orders, revenue, decile, referrals, marketing_consent, member, nps_group.
    """
    import yaml

    if isinstance(source, Ladder):
        return source
    if source is None:
        text = resources.files("crmtools").joinpath("data", "growth_ladder.yaml").read_text(encoding="utf-8")
        return _parse_ladder(yaml.safe_load(text), "growth_ladder.yaml")
    if isinstance(source, Mapping):
        return _parse_ladder(source, "(mapping)")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(
                f"Growth ladder file not found: {str(path)!r}; give a YAML file path, a mapping, or None for the "
                "default ladder."
            )
        return _parse_ladder(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
    raise TypeError(f"ladder must be a YAML file path, a mapping, a Ladder or None; got {type(source).__name__}.")


# --------------------------------------------------------------------------- features and stages


def _flags(values: pd.Series, column: str) -> pd.Series:
    """A true/false column from booleans or true/false text; anything else is an error naming the values."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    text = values.astype("str").str.strip().str.lower().where(values.notna(), None)
    bad = sorted(set(text.dropna()) - _TRUE - _FALSE)
    if bad:
        raise ValueError(
            f"customers column {column!r} must hold true/false values (true/false, yes/no, 1/0); got "
            f"{', '.join(repr(b) for b in bad[:3])}."
        )
    return pd.Series(
        np.where(text.isin(_TRUE), True, np.where(text.isin(_FALSE), False, None)), index=values.index
    ).astype("boolean")


def _available(customers: pd.DataFrame | None, surveys: pd.DataFrame | None, end: pd.Timestamp) -> set[str]:
    have = {"orders", "revenue", "decile"}
    cols = set() if customers is None else set(customers.columns)
    if "marketing_consent" in cols and customers["marketing_consent"].notna().any():
        have.add("marketing_consent")
    if "member_since" in cols and customers["member_since"].notna().any():
        have.add("member")
    if "referred_by" in cols and customers["referred_by"].notna().any():
        have.add("referrals")
    if surveys is not None and len(surveys) and (pd.to_datetime(surveys["responded_at"]) < end).any():
        have.add("nps_group")
    return have


@dataclass(frozen=True)
class _CustomerTable:
    """What :func:`ladder_features` reads from the customers table at any instant, read once per table
    (:func:`crmtools.engine.derived`: the report asks for the stages at three instants with the same table).

    ``ids``: the text ids, each once (its first row kept); ``consent`` (a boolean array) and ``member_since``
    (times) of those rows, None without the column; ``referrer``: the ``referred_by`` text of the rows that name
    one, ``referred_at`` their ``first_seen`` (None without that column).
    """

    ids: pd.Index
    consent: Any
    member_since: pd.Series | None
    referrer: pd.Series | None
    referred_at: pd.Series | None

    @classmethod
    def of(cls, customers: pd.DataFrame) -> _CustomerTable:
        cust = customers.drop_duplicates("customer_id")
        ids = pd.Index(cust["customer_id"].astype("str"))
        consent = _flags(cust["marketing_consent"], "marketing_consent").array if "marketing_consent" in cust else None
        member_since = pd.to_datetime(cust["member_since"]) if "member_since" in cust else None
        referrer = referred_at = None
        if "referred_by" in cust:
            referred = cust.loc[cust["referred_by"].notna().to_numpy()]
            referrer = referred["referred_by"].astype("str").reset_index(drop=True)
            if "first_seen" in referred:
                referred_at = pd.to_datetime(referred["first_seen"]).reset_index(drop=True)
        return cls(ids, consent, member_since, referrer, referred_at)


def ladder_features(
    transactions: Any,
    *,
    as_of: Any,
    customers: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    lookback_days: int = 365,
) -> pd.DataFrame:
    """The observable behaviour the ladder's rules read, one row per customer on the ladder.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (any engine :func:`crmtools.rfm.rfm_table` accepts). Not modified.
    as_of : date, timestamp or Period
        The instant (exclusive).
    customers : pandas.DataFrame, optional
        The customers table; its optional ``marketing_consent``, ``member_since``, ``referred_by`` and
        ``first_seen`` columns feed the features.
    surveys : pandas.DataFrame, optional
        The surveys table (NPS).
    lookback_days : int, default=365
        The window that puts a customer on the ladder.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``: ``customer_id``, ``orders``, ``revenue``, ``decile``,
        ``marketing_consent`` (nullable boolean; missing without data), ``nps_group`` (missing without an
        answer), ``member`` (bool), ``referrals`` (int).
    """
    from .nps import latest_scores
    from .rfm import rfm_table

    end = as_point(as_of, name="as_of")
    require_range(lookback_days, name="lookback_days", low=1, integer=True)
    rfm = rfm_table(transactions, as_of=end, lookback_days=lookback_days)
    out = pd.DataFrame(
        {
            "customer_id": rfm["customer_id"].astype("str"),
            "orders": rfm["frequency"].astype("int64"),
            "revenue": rfm["monetary"],
        }
    )
    out = _by_id(out)
    # deciles by revenue, ties in the order of the ids (the rows are in that order: a stable sort keeps it)
    order = np.argsort(-out["revenue"].to_numpy(dtype="float64", na_value=np.nan), kind="stable")
    position = np.empty(len(out), dtype="int64")
    position[order] = np.arange(len(out))
    out["decile"] = (position * 10 // max(len(out), 1) + 1).astype("int64")
    cust = customers if customers is not None else pd.DataFrame({"customer_id": pd.Series(dtype="str")})
    require_columns(cust, ["customer_id"], name="customers")
    table = derived(cust, "ladder.customers", _CustomerTable.of)
    at = positions_of(out["customer_id"], table.ids)  # each customer's row in the customers table (-1: none)
    out["marketing_consent"] = (
        table.consent.take(at, allow_fill=True)
        if table.consent is not None
        else pd.array([pd.NA] * len(out), "boolean")
    )
    if surveys is not None and len(surveys):
        groups = latest_scores(surveys, as_of=end).set_index("customer_id")["nps_group"]
        answered = positions_of(out["customer_id"], groups.index)
        out["nps_group"] = (
            pd.Series(groups.array.take(answered, allow_fill=True)).astype("str").where(answered >= 0, None)
        )
    else:
        out["nps_group"] = pd.Series([None] * len(out), dtype="str")
    if table.member_since is not None:
        joined = (table.member_since < end).to_numpy(dtype=bool)
        out["member"] = np.where(at >= 0, joined[np.maximum(at, 0)], False) if len(table.ids) else False
    else:
        out["member"] = False
    out["referrals"] = 0
    if table.referrer is not None:
        referrer = table.referrer
        if table.referred_at is not None:
            referrer = referrer[(table.referred_at < end).to_numpy(dtype=bool)]
        counts = referrer.value_counts()
        found = positions_of(out["customer_id"], counts.index)
        out["referrals"] = np.append(counts.to_numpy(dtype="int64"), 0)[found]  # -1 (no referrals): the 0
    return out


def _by_id(out: pd.DataFrame) -> pd.DataFrame:
    """``out`` sorted by its text ``customer_id`` (stable); as it comes when already so (the RFM table's order)."""
    if ascending(out["customer_id"]):
        return out.reset_index(drop=True)
    return out.sort_values("customer_id", kind="mergesort").reset_index(drop=True)


def _holds(features: pd.DataFrame, condition: Mapping[str, Any]) -> np.ndarray:
    mask = np.ones(len(features), dtype=bool)
    for field, need in condition.items():
        kind = FIELDS[field][0]
        values = features[field]
        if kind == "range":
            if "min" in need:
                mask &= (values >= need["min"]).to_numpy(dtype=bool)
            if "max" in need:
                mask &= (values <= need["max"]).to_numpy(dtype=bool)
        elif kind == "flag":
            mask &= (values == need).fillna(False).to_numpy(dtype=bool)
        else:
            mask &= values.isin(list(need)).to_numpy(dtype=bool)
    return mask


@dataclass(frozen=True)
class SkippedRung:
    """A rung (or some of its conditions) left out because optional data is missing.

    ``reason`` is a code (``no_consent_data``, ``no_surveys``, ``no_membership_data``, ``no_referral_data``);
    ``partial`` is True when the rung still applies through its other conditions.
    """

    rung: str
    reason: str
    partial: bool = False


@dataclass(frozen=True)
class Stages:
    """Each customer's rung as of an instant, and the rungs skipped for missing data.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`STAGE_COLUMNS`: ``customer_id``, ``stage`` (1 = bottom rung), ``rung`` (its code); one row per
        customer on the ladder, sorted by ``customer_id``.
    skipped : tuple of SkippedRung
    ladder : Ladder
    as_of : pandas.Timestamp
    """

    table: pd.DataFrame
    skipped: tuple[SkippedRung, ...]
    ladder: Ladder
    as_of: pd.Timestamp


def customer_stages(
    transactions: Any,
    *,
    as_of: Any,
    customers: pd.DataFrame | None = None,
    surveys: pd.DataFrame | None = None,
    ladder: str | Path | Mapping | Ladder | None = None,
    lookback_days: int = 365,
) -> Stages:
    """Place every customer with a purchase in the window on exactly one rung: the highest whose rule holds.

    Parameters
    ----------
    transactions, as_of, customers, surveys, lookback_days
        As for :func:`ladder_features`.
    ladder : path, mapping or Ladder, optional
        The rules; default the built-in seven-stage ladder.

    Returns
    -------
    Stages
    """
    lad = load_ladder(ladder)
    end = as_point(as_of, name="as_of")
    features = ladder_features(
        transactions, as_of=end, customers=customers, surveys=surveys, lookback_days=lookback_days
    )
    have = _available(customers, surveys, end)
    stage = np.ones(len(features), dtype="int64")
    skipped: list[SkippedRung] = []
    for number, rung in enumerate(lad.rungs, start=1):
        usable = [c for c in rung.conditions if set(c) <= have]
        missing = sorted({FIELDS[f][1] for c in rung.conditions for f in c if f not in have})
        skipped += [SkippedRung(rung.name, reason, partial=bool(usable)) for reason in missing]
        if number == 1 or not usable:
            continue
        hit = np.zeros(len(features), dtype=bool)
        for condition in usable:
            hit |= _holds(features, condition)
        stage[hit] = number
    table = pd.DataFrame(
        {"customer_id": features["customer_id"], "stage": stage, "rung": np.array(lad.names, dtype=object)[stage - 1]}
    )
    table["rung"] = table["rung"].astype("str")
    return Stages(table, tuple(skipped), lad, end)


# --------------------------------------------------------------------------- summaries


def stage_summary(
    stages: Stages,
    transactions: pd.DataFrame,
    *,
    period: Any,
    clv: pd.DataFrame | None = None,
    clv_col: str = "clv",
) -> pd.DataFrame:
    """Customers, revenue and CLV per rung, with the funnel's "at or above" counts.

    Parameters
    ----------
    stages : Stages
        From :func:`customer_stages`, usually as of ``period``'s end.
    transactions : pandas.DataFrame
        Canonical transactions; the period's net revenue per customer is summed by rung.
    period : Period or str
        The period whose revenue is shown.
    clv : pandas.DataFrame, optional
        One row per customer with ``customer_id`` and ``clv_col`` (e.g. from :mod:`crmtools.clv`): the
        extension point for customer lifetime value. Without it ``clv_mean`` is NaN.
    clv_col : str, default="clv"

    Returns
    -------
    pandas.DataFrame
        One row per rung, bottom up (every rung, also empty or skipped ones): ``stage``, ``rung``,
        ``customers``, ``share``, ``at_or_above`` (customers on this rung or higher: the funnel),
        ``revenue``, ``revenue_per_customer``, ``clv_mean``, ``clv_total``.

    Examples
    --------
    >>> st = Stages(pd.DataFrame({"customer_id": ["a", "b"], "stage": [1, 2], "rung": ["purchaser", "customer"]}),
    ...             (), load_ladder(), pd.Timestamp("2025-11-01"))
    >>> tx = pd.DataFrame({"customer_id": ["a", "b"], "order_datetime": pd.Timestamp("2025-10-05"),
    ...                    "amount": [100.0, 300.0]})
    >>> stage_summary(st, tx, period="2025-10", clv=pd.DataFrame({"customer_id": ["a", "b"], "clv": [1.0, 5.0]}))[
    ...     ["rung", "customers", "at_or_above", "revenue", "clv_mean"]].head(3)  # doctest: +NORMALIZE_WHITESPACE
            rung  customers  at_or_above  revenue  clv_mean
    0  purchaser          1            2    100.0       1.0
    1   customer          1            1    300.0       5.0
    2  enthusiastic          0            0      0.0       NaN
    """
    p = as_period(period, name="period")
    require_columns(transactions, ["customer_id", "order_datetime", "amount"], name="transactions")
    tx = rows_between(transactions, "order_datetime", start=p.start, end=p.end)
    revenue = tx.groupby("customer_id")["amount"].sum()
    t = stages.table.assign(revenue=lookup(stages.table["customer_id"], revenue).astype("float64").fillna(0.0))
    if clv is not None:
        require_columns(clv, ["customer_id", clv_col], name="clv")
        t = t.assign(clv=lookup(t["customer_id"], clv.drop_duplicates("customer_id").set_index("customer_id")[clv_col]))
    else:
        t = t.assign(clv=np.nan)
    total = len(t)
    rows = []
    for number, name in enumerate(stages.ladder.names, start=1):
        part = t.loc[t["stage"] == number]
        n = len(part)
        rows.append(
            {
                "stage": number,
                "rung": name,
                "customers": n,
                "share": n / total if total else np.nan,
                "at_or_above": int((t["stage"] >= number).sum()),
                "revenue": round(float(part["revenue"].sum()), 2),
                "revenue_per_customer": float(part["revenue"].mean()) if n else np.nan,
                "clv_mean": float(part["clv"].mean()) if n and part["clv"].notna().any() else np.nan,
                "clv_total": float(part["clv"].sum()) if n and part["clv"].notna().any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def stage_migration(before: Stages, after: Stages) -> pd.DataFrame:
    """Movement between two stage assignments (e.g. a month's start and end), :data:`OFF` for off the ladder.

    Returns
    -------
    pandas.DataFrame
        ``from_rung``, ``to_rung``, ``from_stage``, ``to_stage`` (0 = off), ``customers``, ``share_of_from``,
        ``direction`` (``up``, ``same``, ``down``); one row per pair that occurs, sorted by stages.

    Examples
    --------
    >>> lad = load_ladder()
    >>> a = Stages(pd.DataFrame({"customer_id": ["x", "y"], "stage": [1, 2], "rung": ["purchaser", "customer"]}), (), lad, None)
    >>> b = Stages(pd.DataFrame({"customer_id": ["x", "z"], "stage": [3, 1], "rung": ["enthusiastic", "purchaser"]}), (), lad, None)
    >>> stage_migration(a, b)[["from_rung", "to_rung", "customers", "direction"]]  # doctest: +NORMALIZE_WHITESPACE
       from_rung      to_rung  customers direction
    0        off    purchaser          1        up
    1  purchaser  enthusiastic          1        up
    2   customer          off          1      down
    """
    names = [OFF, *after.ladder.names]
    left = before.table[["customer_id", "stage"]].rename(columns={"stage": "from_stage"})
    right = after.table[["customer_id", "stage"]].rename(columns={"stage": "to_stage"})
    both = left.merge(right, on="customer_id", how="outer").fillna({"from_stage": 0, "to_stage": 0})
    both = both.astype({"from_stage": "int64", "to_stage": "int64"})
    out = both.groupby(["from_stage", "to_stage"], sort=True).size().rename("customers").reset_index()
    out["share_of_from"] = out["customers"] / out.groupby("from_stage")["customers"].transform("sum")
    out["direction"] = np.select(
        [out["to_stage"] > out["from_stage"], out["to_stage"] < out["from_stage"]], ["up", "down"], "same"
    )
    out["from_rung"] = [names[i] for i in out["from_stage"]]
    out["to_rung"] = [names[i] for i in out["to_stage"]]
    return out[["from_rung", "to_rung", "from_stage", "to_stage", "customers", "share_of_from", "direction"]]


def stage_migration_matrix(
    migration: pd.DataFrame, *, ladder: str | Path | Mapping | Ladder | None = None
) -> pd.DataFrame:
    """Pivot :func:`stage_migration` into a from-by-to matrix of customers, rungs bottom up and :data:`OFF` first.

    Examples
    --------
    >>> m = pd.DataFrame({"from_rung": ["off", "purchaser"], "to_rung": ["purchaser", "customer"], "customers": [4, 2]})
    >>> stage_migration_matrix(m).loc["purchaser", "customer"], stage_migration_matrix(m).shape
    (np.int64(2), (8, 8))
    """
    require_columns(
        migration, ["from_rung", "to_rung", "customers"], name="migration", hint="Pass stage_migration's output."
    )
    order = [OFF, *load_ladder(ladder).names]
    wide = migration.pivot_table(index="from_rung", columns="to_rung", values="customers", aggfunc="sum", fill_value=0)
    wide = wide.reindex(index=order, columns=order, fill_value=0).astype("int64")
    wide.index.name, wide.columns.name = "from_rung", "to_rung"
    return wide


def rung_conversion(before: Stages, after: Stages, *, window_days: int | None = None) -> pd.DataFrame:
    """Of the customers on each rung at ``before``, how many stand higher at ``after``.

    Give stage assignments ``window_days`` apart (:func:`customer_stages` at ``as_of - window_days`` and at
    ``as_of``). Customers who left the ladder count as not converted.

    Returns
    -------
    pandas.DataFrame
        One row per rung below the top, bottom up: ``stage``, ``rung``, ``next_rung``, ``customers`` (on the
        rung at ``before``), ``converted`` (on a higher rung at ``after``), ``conversion_rate`` (NaN when the
        rung was empty), ``window_days`` (the days between the two instants when not given).

    Examples
    --------
    >>> lad = load_ladder()
    >>> a = Stages(pd.DataFrame({"customer_id": ["x", "y"], "stage": [1, 1], "rung": ["purchaser"] * 2}), (), lad,
    ...            pd.Timestamp("2025-08-03"))
    >>> b = Stages(pd.DataFrame({"customer_id": ["x"], "stage": [2], "rung": ["customer"]}), (), lad,
    ...            pd.Timestamp("2025-11-01"))
    >>> rung_conversion(a, b)[["rung", "customers", "converted", "conversion_rate", "window_days"]].head(2)  # doctest: +NORMALIZE_WHITESPACE
           rung  customers  converted  conversion_rate  window_days
    0  purchaser          2          1              0.5           90
    1   customer          0          0              NaN           90
    """
    if window_days is None:
        window_days = int((after.as_of - before.as_of).days) if before.as_of is not None else 0
    names = after.ladder.names
    m = merge_on_ids(
        before.table[["customer_id", "stage"]],
        after.table[["customer_id", "stage"]].rename(columns={"stage": "later"}),
        on=["customer_id"],
        how="left",
    )
    m["later"] = m["later"].fillna(0)
    rows = []
    for number, name in enumerate(names[:-1], start=1):
        part = m.loc[m["stage"] == number]
        n, up = len(part), int((part["later"] > number).sum())
        rows.append(
            {
                "stage": number,
                "rung": name,
                "next_rung": names[number],
                "customers": n,
                "converted": up,
                "conversion_rate": up / n if n else np.nan,
                "window_days": window_days,
            }
        )
    return pd.DataFrame(rows)
