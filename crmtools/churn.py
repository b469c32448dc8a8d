"""Churn risk, expected next purchase and the value of the customer base, validated on held-out time.

Definitions, at a **cutoff** ``as_of`` (an instant, the first moment not
counted). Only order lines with a customer id and a positive quantity
(purchases) count; an order is a distinct ``order_id`` and its value the sum
of its purchased lines.

- **Features** of a customer use only the lines *before* the cutoff
  (:data:`FEATURE_COLUMNS`): recency, frequency and spend (RFM), tenure,
  the regularity of the gaps between purchase days, the trend of spend
  (last 180 days against the 180 before), the acquisition channel and the
  category of the first order (:func:`crmtools.repeat.first_purchases`),
  campaign contacts and campaign-attributed orders, and the BG/NBD
  probability of being alive and expected purchases over the horizon
  (:mod:`crmtools.clv`, fitted on the same history).
- The **population** at a cutoff: customers with a purchase within
  ``active_days`` before it (the active base).
- The **label**: ``churned`` is 1 when the customer makes no purchase in
  ``[as_of, as_of + horizon_days)``.
- **Backtest on time, never a random split**: with ``test = as_of -
  horizon_days`` and ``train = test - horizon_days``, a gradient-boosting
  classifier (scikit-learn ``HistGradientBoostingClassifier``, seeded) is
  trained on the features at ``train`` and their labels (which end at
  ``test``), and evaluated on the features at ``test`` against the labels
  observed up to ``as_of``. Two baselines are scored on the same customers:
  ``p_alive`` (1 - BG/NBD P(alive)) and ``recency`` (days since the last
  purchase). Each method reports AUC, the lift of its top decile (churn rate
  of the 10% it ranks riskiest over the overall rate) and a calibration table
  (baselines are mapped to probabilities by isotonic regression fitted at the
  training cutoff). The **winner** is the method with the highest test AUC
  (a baseline wins ties); the risk list at ``as_of`` uses it, trained on the
  most recent fully observed cutoff (``test``).
- **High risk**: a churn probability of at least ``high_risk`` (0.5).
- **Expected next purchase** (:func:`next_purchase`): from the customer's own
  gaps between purchase days when there are at least three (the median gap
  after the last purchase, interval from the 10th to the 90th percentile of
  the gaps), otherwise, or when that date has already passed, from the
  BG/NBD model: given the customer is alive, the time to the next purchase
  from the cutoff follows a Pareto II (Lomax) law with shape ``r + x`` and
  scale ``alpha + T``, whose median and percentiles are closed-form.

Per-customer tables hold customer ids: they are for the CRM system and go
only to a file an analyst asks for (:func:`export_scores`), never to a report.
Reports show the aggregates (:func:`risk_by_segment`, :func:`value_by`,
:func:`value_summary`, :func:`ltv_cac`).

Every result carries a ``status`` code (``"ok"``, ``"no_data"``,
``"too_few_customers"``, ``"one_class"``, ``"too_few_repeat"``,
``"fit_failed"``) instead of raising on thin data, so a report section can
say why it is empty.
"""

from __future__ import annotations

import math
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .checks import require_columns, require_in, require_range
from .engine import derived, kept, lookup, member_of, merge_on_ids, positions_of, sorted_codes, sorted_unique
from .periods import as_point

__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURE_COLUMNS",
    "METHODS",
    "NEXT_PURCHASE_MAX_DAYS",
    "BaseValue",
    "ChurnRisk",
    "CustomerValues",
    "HoldoutValidation",
    "ValueSummary",
    "base_value",
    "churn_features",
    "churn_labels",
    "churn_risk",
    "customer_groups",
    "customer_values",
    "export_scores",
    "ltv_cac",
    "next_purchase",
    "next_purchase_summary",
    "risk_by_segment",
    "spend_model_rows",
    "value_by",
    "value_deciles",
    "value_holdout",
    "value_summary",
]

#: Numeric features, in order.
NUMERIC_FEATURES = (
    "recency_days",
    "frequency",
    "purchase_days",
    "monetary",
    "total_spend",
    "tenure_days",
    "mean_interval_days",
    "interval_cv",
    "overdue_ratio",
    "spend_trend",
    "orders_last_90_days",
    "campaigns_contacted",
    "campaign_orders",
    "p_alive",
    "expected_purchases",
)
#: Categorical features, in order.
CATEGORICAL_FEATURES = ("acquisition_channel", "first_category")
#: Every feature of :func:`churn_features`, in order.
FEATURE_COLUMNS = NUMERIC_FEATURES + CATEGORICAL_FEATURES
#: The scored methods: the model and the two baselines.
METHODS = ("model", "p_alive", "recency")

_TREND_DAYS = 180
_RECENT_DAYS = 90
_MIN_CUSTOMERS = 100
#: The churn model is fitted on at most this many customers (a seeded random sample of a larger cutoff): its
#: ranking gains nothing measurable beyond them. On the 500,000-customer sample (284,567 customers at the training
#: cutoff; ``benchmarks/bench_churn_sample.py``): held-out AUC 0.7624, against 0.7630 fitted on 100,000 and 0.7633
#: on all, top-decile lift 1.443 against 1.444; 97.4 % of the high-risk flags equal those of the model fitted on
#: all, as many as another seed of a 100,000-customer sample changes (97.8 %). A report of that sample takes about
#: 10 s less CPU than with 100,000 (four fits a run). The baselines' calibration and every score use all customers.
MAX_TRAIN_CUSTOMERS = 50_000
_UNIT_DAYS = {"W": 7.0, "D": 1.0}


# --- orders and features -------------------------------------------------------------------------------------------


class _Lines:
    """Purchase lines (a customer id, quantity > 0) whose customer and order ids are numbered once.

    The churn backtest builds orders at four cutoffs and labels at two: with the ids numbered once (in
    sorted order), each costs a filter and a group-by on integers instead of a group-by on text ids.
    ``until`` bounds the lines seen (:meth:`before`); ``source`` is the transactions given, all of them (held
    weakly: :func:`_lines` remembers these lines for as long as that frame lives, no longer).
    """

    def __init__(self, transactions: pd.DataFrame):
        require_columns(
            transactions, ["order_id", "customer_id", "order_datetime", "quantity", "amount"], name="transactions"
        )
        self._source, self.until = weakref.ref(transactions), None
        purchase = (transactions["customer_id"].notna() & (transactions["quantity"] > 0)).to_numpy(bool, na_value=False)
        rows = np.flatnonzero(purchase)
        lines = transactions[[c for c in ("order_datetime", "amount", "campaign_id") if c in transactions]].iloc[rows]
        # the whole columns numbered in sorted order (once per column for text from files: engine.sorted_codes)
        customer, self.customers = sorted_codes(transactions["customer_id"])
        order, self.order_ids = sorted_codes(transactions["order_id"])
        customer, order = customer[rows], order[rows]
        # One integer per (customer, order), in the order of the sorted pair; lines without an order id are
        # dropped, as a group-by drops missing keys.
        key = customer * max(len(self.order_ids), 1) + order
        columns = {"_key": key, "order_datetime": lines["order_datetime"], "amount": lines["amount"]}
        if "campaign_id" in lines.columns:
            columns["campaign_id"] = lines["campaign_id"]
        self.lines = pd.DataFrame(columns, index=lines.index).loc[order >= 0]
        self._cache: dict[str, object] = {}  # shared with the copies of :meth:`before`

    @property
    def source(self) -> pd.DataFrame:
        """The transactions these lines were read from (their caller holds them)."""
        return self._source()

    def before(self, end: pd.Timestamp) -> _Lines:
        """The same lines seen up to ``end`` (excluded)."""
        out = object.__new__(_Lines)
        out.__dict__.update(self.__dict__)
        out.until = end if self.until is None else min(self.until, end)
        return out

    def orders(self, end: pd.Timestamp | None, *, ids: bool = True) -> pd.DataFrame:
        """Purchase orders before ``end`` (and ``until``): see :func:`_orders`.

        The orders of all the lines are built once (:meth:`_whole`) and each cutoff takes those whose every
        line is before it; an order with lines on both sides of the cutoff (or a line without a time) is
        built again from its lines before it, so the result is the group-by of the lines before the cutoff.
        Without ``ids`` the text columns ``customer_id`` and ``order_id`` are left out (the numbers ``_customer``
        and ``_order`` stay): filtering them is most of a cutoff's cost on large data.
        """
        whole = self._whole()
        if not ids:
            whole = whole.drop(columns=["customer_id", "order_id"])
        ends = [t for t in (end, self.until) if t is not None]
        if not ends:
            return whole.drop(columns=["_key", "_last", "_timed"])
        limit = min(ends)
        inside = (whole["_last"] < limit).to_numpy() & whole["_timed"].to_numpy()
        split = (whole["order_datetime"] < limit).to_numpy() & ~inside
        orders = whole.loc[inside]
        if split.any():
            keys = whole["_key"].to_numpy()[split]
            lines = self.lines.loc[self.lines["_key"].isin(keys) & (self.lines["order_datetime"] < limit)]
            built = self._build(lines)[list(whole.columns)]
            orders = pd.concat([orders, built]).sort_values("_key", kind="stable")
        return orders.drop(columns=["_key", "_last", "_timed"]).reset_index(drop=True)

    def first_orders(
        self, customers: pd.DataFrame | None, cutoff: pd.Timestamp
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """:func:`crmtools.repeat.first_purchases` at an instant from ``cutoff`` on, the time of the last line of
        each customer's first order (NaT when one of its lines has no time), and each customer's number (a
        position in :attr:`customers`).

        The first purchases are found once per ``customers`` and instant, at :attr:`until` unless first purchases
        at an instant from ``cutoff`` on (another cutoff of these lines: the report's previous period after its
        current one) are known. Their first orders are the same at every instant after them; their counts and
        second purchases are not (:func:`_first_order_rows` reads neither).
        """
        customers = kept(customers)  # a page's copy of the run's customers: the tables another page used
        known = self._cache.setdefault("firsts", {})
        later = [
            until
            for (who, until), found in known.items()
            if who == id(customers) and found[0] is customers and until is not None and until >= cutoff
        ]
        if later:
            return known[id(customers), min(later)][1:]
        firsts, numbers = _first_orders(self.source, self.until, customers)
        whole = self._whole()
        width = max(len(self.order_ids), 1)
        if numbers is None:  # not computed in numpy: the ids looked up
            numbers = (
                self.customers.get_indexer(firsts["customer_id"]),
                self.order_ids.get_indexer(firsts["first_order"]),
            )
        customer, order = numbers
        key = np.where((customer >= 0) & (order >= 0), customer * width + order, -1)  # -1: none (no order id)
        at = pd.Index(whole["_key"].to_numpy()).get_indexer(key) if len(whole) else np.full(len(key), -1)
        found = at >= 0
        found[found] = whole["_timed"].to_numpy()[at[found]]
        last = np.full(len(key), np.datetime64("NaT"), dtype=whole["_last"].dtype)
        last[found] = whole["_last"].to_numpy()[at[found]]  # NaT: found again at each cutoff
        # customers held: ids stay theirs
        known[id(customers), self.until] = (customers, firsts, last, customer)
        return firsts, last, customer

    def contacted(self, contacts: pd.DataFrame | None, cutoff: pd.Timestamp) -> np.ndarray:
        """Treatment contacts before ``cutoff`` per customer number (the ids of ``contacts`` numbered once)."""
        if contacts is None or contacts.empty:
            return np.zeros(len(self.customers), dtype="int64")
        contacts = kept(contacts)
        found = self._cache.get("contacts")
        if found is None or found[0] is not contacts:
            require_columns(contacts, ["customer_id", "group", "contacted_at"], name="campaign_contacts")
            treated = (contacts["group"] == "treatment").to_numpy(bool, na_value=False)
            code = positions_of(contacts["customer_id"], self.customers)
            found = self._cache["contacts"] = (contacts, code, treated & (code >= 0))
        contacts, code, treated = found
        keep = treated & (contacts["contacted_at"] < cutoff).to_numpy(bool, na_value=False)
        return np.bincount(code[keep], minlength=len(self.customers)).astype("int64")

    def positions(self, ids: pd.Series) -> np.ndarray:
        """For each customer number, the position of its id in ``ids`` (-1 when absent; ids are distinct)."""
        where = positions_of(ids, self.customers)
        out = np.full(len(self.customers), -1, dtype="int64")
        out[where[where >= 0]] = np.flatnonzero(where >= 0)
        return out

    def _whole(self) -> pd.DataFrame:
        """Every order of the lines (not bounded by ``until``), with its last line's time and whether each
        of its lines has a time; built once and shared by :meth:`before`'s copies."""
        if "whole" not in self._cache:
            self._cache["whole"] = self._build(self.lines, extra=True)
        return self._cache["whole"]

    def _build(self, lines: pd.DataFrame, *, extra: bool = False) -> pd.DataFrame:
        agg = {"order_datetime": ("order_datetime", "min"), "amount": ("amount", "sum")}
        if "campaign_id" in lines.columns:
            agg["campaign_id"] = ("campaign_id", "first")
        if extra:
            agg |= {"_last": ("order_datetime", "max"), "_timed": ("order_datetime", "count"), "_n": ("amount", "size")}
        grouped = lines.groupby("_key", sort=True).agg(**agg)
        key = grouped.index.to_numpy()
        width = max(len(self.order_ids), 1)
        customer, order = key // width, key % width
        orders = pd.DataFrame(
            {
                "customer_id": self.customers.take(customer).array,
                "order_id": self.order_ids.take(order).array,
                **{c: grouped[c].array for c in ("order_datetime", "amount", "campaign_id") if c in grouped},
                # the ids' numbers, in the ids' sorted order: group-bys and sorts on integers, not text
                "_customer": customer,
                "_order": order,
            }
        )
        if "campaign_id" not in orders.columns:
            orders["campaign_id"] = pd.Series(pd.NA, index=orders.index, dtype="str")
        orders["day"] = orders["order_datetime"].dt.normalize()
        orders["_key"] = key
        if extra:
            orders["_last"] = grouped["_last"].to_numpy()
            orders["_timed"] = (grouped["_timed"] == grouped["_n"]).to_numpy()
        else:
            orders["_last"], orders["_timed"] = orders["order_datetime"], True
        return orders


def _lines(transactions: pd.DataFrame | _Lines) -> _Lines:
    """The purchase lines of ``transactions``, built once per frame: the value page hands the same transactions to
    the backtest, the holdout check, the groups, LTV/CAC and the next purchase (:func:`crmtools.engine.derived`)."""
    if isinstance(transactions, _Lines):
        return transactions
    if not isinstance(transactions, pd.DataFrame):
        return _Lines(transactions)
    return derived(transactions, "churn.lines", _Lines)


def _orders(transactions: pd.DataFrame | _Lines, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Purchase orders (customer, order, time, value, campaign) with a customer id, before ``end``."""
    return _lines(transactions).orders(end)


def _gap_stats(orders: pd.DataFrame, *, spread: bool = True, days=None) -> pd.DataFrame:
    """Per customer (by number, ``_customer``): mean and coefficient of variation of the gaps between purchase
    days; with ``spread``, their median and 10th and 90th percentiles too. Days without a time are left out.
    ``days``: :func:`_distinct_days` of the orders, when the caller has them."""
    gaps, ids = _day_gaps(orders, days)
    grouped = gaps.groupby(ids, sort=True)
    stats = {"mean_interval_days": grouped.mean(), "_std": grouped.std(ddof=0), "_gaps": grouped.size()}
    if spread:
        stats |= {"median_gap": grouped.median(), "gap_low": grouped.quantile(0.1), "gap_high": grouped.quantile(0.9)}
    stats = pd.DataFrame(stats)
    stats["interval_cv"] = (stats["_std"] / stats["mean_interval_days"]).where(stats["_gaps"] >= 2)
    return stats.drop(columns="_std")


def _distinct_days(orders: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Each customer's distinct purchase days with a time, sorted by (customer, day): the customers' numbers and the
    days (counted from the first); None when the orders are not in the canonical model's types (pandas then).

    The (customer, day) pairs are one integer each, sorted and made distinct by NumPy: a tenth of the cost of a
    frame's ``drop_duplicates`` and two-column sort.
    """
    customer, day = orders["_customer"].to_numpy(), orders["day"].to_numpy()
    if day.dtype.kind != "M" or customer.dtype.kind not in "iu":  # not seen in the canonical model
        return None
    timed = ~np.isnat(day)
    customer = customer[timed].astype("int64")
    day = day[timed].astype("datetime64[D]").astype("int64")
    first = int(day.min()) if day.size else 0
    span = int(day.max()) - first + 1 if day.size else 1
    pairs = sorted_unique(customer * span + (day - first))  # customers are numbered below 2**31: no overflow
    return pairs // span, pairs % span


def _purchase_days(orders: pd.DataFrame, customers: pd.Index, days) -> np.ndarray:
    """``orders.groupby("_customer")["day"].nunique()`` for ``customers`` (the group-by's own index), from
    :func:`_distinct_days` when the orders have them (``days``)."""
    if days is None:
        return orders.groupby("_customer", sort=True)["day"].nunique().reindex(customers).to_numpy(dtype="int64")
    numbers = customers.to_numpy()
    counts = np.bincount(days[0], minlength=int(numbers.max()) + 1 if numbers.size else 0)
    return counts[numbers].astype("int64")


def _day_gaps(orders: pd.DataFrame, days=None) -> tuple[pd.Series, pd.Series]:
    """The gaps in days between each customer's successive purchase days, in the order of (customer, day), and
    the customer of each (named ``_customer``): from :func:`_distinct_days` (``days``, found here when None), the
    same gaps in the same order as pandas' ``drop_duplicates`` and two-column sort."""
    days = _distinct_days(orders) if days is None else days
    if days is None:  # not the canonical model's types: by pandas
        days = orders[["_customer", "day"]].drop_duplicates().sort_values(["_customer", "day"])
        gaps = days.groupby("_customer", sort=True)["day"].diff().dt.days.dropna()
        return gaps, days.loc[gaps.index, "_customer"]
    customer, day = days
    same = customer[1:] == customer[:-1]
    gaps = pd.Series((day[1:] - day[:-1])[same].astype("float64"), name="day")
    return gaps, pd.Series(customer[1:][same], name="_customer")


def churn_features(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    horizon_days: int = 90,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    active_days: int | None = 365,
    values: CustomerValues | None = None,
    clv_unit: str = "W",
) -> pd.DataFrame:
    """Each customer's features at a cutoff, from the lines before it only.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions (``order_id, customer_id, order_datetime,
        quantity, amount``; ``channel``, ``category`` and ``campaign_id`` when
        present). Not modified; lines at or after ``as_of`` are ignored.
    as_of : date, timestamp or Period
        The cutoff: the first instant not counted.
    horizon_days : int, default=90
        Horizon of ``expected_purchases``.
    customers : pandas.DataFrame, optional
        Canonical customers; their ``acquisition_channel`` wins over the first order's channel.
    contacts : pandas.DataFrame, optional
        Canonical campaign contacts; treatment contacts before ``as_of`` are counted.
    active_days : int or None, default=365
        Keep customers with a purchase within this many days before ``as_of``; None keeps all.
    values : CustomerValues, optional
        :func:`customer_values` at the same cutoff (its ``p_alive`` and
        ``expected_purchases``); fitted here when None. Its horizon must be ``horizon_days``.
    clv_unit : {"W", "D"}, default="W"
        Time unit of the BG/NBD fit when ``values`` is None.

    Returns
    -------
    pandas.DataFrame
        Sorted by customer, columns ``customer_id`` then :data:`FEATURE_COLUMNS`:
        ``recency_days`` (days from the last purchase day to the cutoff's
        day), ``frequency`` (orders), ``purchase_days``, ``monetary`` (mean
        order value), ``total_spend``, ``tenure_days`` (from the first
        purchase day), ``mean_interval_days`` and ``interval_cv`` (std /
        mean, at least two gaps) of the gaps between purchase days,
        ``overdue_ratio`` (recency / mean gap), ``spend_trend`` ((last 180
        days - the 180 before) / their sum, in [-1, 1]),
        ``orders_last_90_days``, ``campaigns_contacted`` (treatment
        contacts), ``campaign_orders`` (orders attributed to a campaign),
        ``p_alive``, ``expected_purchases`` (NaN when the BG/NBD fit is not
        possible), ``acquisition_channel``, ``first_category`` (str).
        Empty input gives an empty frame with these columns.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["1", "2", "3"], "customer_id": ["a", "a", "b"],
    ...                    "order_datetime": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-01-05"]),
    ...                    "quantity": 1, "amount": [100.0, 300.0, 50.0], "channel": "web"})
    >>> f = churn_features(tx, as_of="2025-01-21", values=CustomerValues.empty("2025-01-21", 90))
    >>> f[["customer_id", "recency_days", "frequency", "monetary", "mean_interval_days"]]
      customer_id  recency_days  frequency  monetary  mean_interval_days
    0           a            10          2     200.0                10.0
    1           b            16          1      50.0                 NaN
    """
    cutoff = as_point(as_of)
    horizon_days = int(require_range(horizon_days, name="horizon_days", low=1, integer=True))
    day = cutoff.normalize()
    lines = _lines(transactions)
    orders = every = lines.orders(cutoff, ids=False)
    if active_days is not None:
        last = orders.groupby("_customer")["day"].max()
        active = last.index[(day - last).dt.days <= int(active_days)]
        orders = orders.loc[orders["_customer"].isin(active)]
    if orders.empty:
        return _empty_features()
    by = orders.groupby("_customer", sort=True)  # customers' numbers: in the order of their ids
    days = _distinct_days(orders)
    out = pd.DataFrame(
        {
            "first_day": by["day"].min(),
            "last_day": by["day"].max(),
            "frequency": by.size().astype("int64"),
            "monetary": by["amount"].mean(),
            "total_spend": by["amount"].sum(),
            "campaign_orders": by["campaign_id"].count().astype("int64"),
        }
    )
    out.insert(3, "purchase_days", _purchase_days(orders, out.index, days))
    out["recency_days"] = (day - out["last_day"]).dt.days.astype("int64")
    out["tenure_days"] = (day - out["first_day"]).dt.days.astype("int64")
    out = out.join(_gap_stats(orders, spread=False, days=days)[["mean_interval_days", "interval_cv"]])
    out["overdue_ratio"] = out["recency_days"] / out["mean_interval_days"]
    age = (day - orders["day"]).dt.days
    recent = orders.loc[age < _TREND_DAYS].groupby("_customer")["amount"].sum()
    before = orders.loc[(age >= _TREND_DAYS) & (age < 2 * _TREND_DAYS)].groupby("_customer")["amount"].sum()
    recent, before = recent.reindex(out.index, fill_value=0.0), before.reindex(out.index, fill_value=0.0)
    both = (recent + before).where(lambda s: s != 0)
    out["spend_trend"] = (recent - before) / both
    out["orders_last_90_days"] = (
        orders.loc[age < _RECENT_DAYS].groupby("_customer").size().reindex(out.index, fill_value=0).astype("int64")
    )
    codes = out.index.to_numpy()
    out.index = pd.Index(lines.customers.take(codes), name="customer_id")
    out["campaigns_contacted"] = lines.contacted(contacts, cutoff)[codes]
    # the first orders before the cutoff (never after ``lines.until``): the whole source, which first_purchases
    # filters, read without a copy of the lines before ``until``
    out = _with_first_order_attributes(out, codes, lines, cutoff, customers)
    if values is None:
        numbers, predicted = _purchase_predictions(every, cutoff, horizon_days, clv_unit)
        row = np.full(len(lines.customers), -1, dtype="int64")
        row[numbers] = np.arange(len(numbers))
        predicted = _taken(predicted, row[codes])
    else:
        predicted = _value_columns(lines, values, codes, _PREDICTED)
    for column in _PREDICTED:
        out[column] = predicted.get(column, np.nan)
    out = out.reset_index(names="customer_id")
    return out[["customer_id", *FEATURE_COLUMNS]].astype(_FEATURE_DTYPES)


_FEATURE_DTYPES = {
    **{c: "float64" for c in NUMERIC_FEATURES},
    **{
        c: "int64"
        for c in (
            "recency_days",
            "frequency",
            "purchase_days",
            "tenure_days",
            "orders_last_90_days",
            "campaigns_contacted",
            "campaign_orders",
        )
    },
    **{c: "str" for c in CATEGORICAL_FEATURES},
}


def _empty_features() -> pd.DataFrame:
    frame = pd.DataFrame({"customer_id": pd.Series(dtype="str")})
    for column, dtype in _FEATURE_DTYPES.items():
        frame[column] = pd.Series(dtype=dtype)
    return frame


def _with_first_order_attributes(
    out: pd.DataFrame, codes: np.ndarray, lines: _Lines, cutoff, customers
) -> pd.DataFrame:
    """``out`` (indexed by customer id, its customers' numbers ``codes``) with :data:`CATEGORICAL_FEATURES` joined:
    by the customers' numbers when the first orders come with theirs, else by id."""
    firsts, numbers = _first_order_rows(lines, cutoff, customers)
    if numbers is None:
        return out.join(firsts.set_index("customer_id")[list(CATEGORICAL_FEATURES)])
    row = np.full(len(lines.customers), -1, dtype="int64")
    row[numbers] = np.arange(len(numbers))
    at = row[codes]  # -1: no first order before the cutoff
    for column in CATEGORICAL_FEATURES:
        out[column] = pd.Series(firsts[column].array.take(at, allow_fill=True), index=out.index)
    return out


def _first_order_attributes(lines: pd.DataFrame | _Lines, cutoff: pd.Timestamp, customers) -> pd.DataFrame:
    """Acquisition channel and first category (the conventions of :func:`crmtools.repeat.first_purchases`),
    indexed by customer id: see :func:`_first_order_rows`."""
    firsts, _ = _first_order_rows(lines, cutoff, customers)
    return firsts.set_index("customer_id")[list(CATEGORICAL_FEATURES)]


def _first_order_rows(
    lines: pd.DataFrame | _Lines, cutoff: pd.Timestamp, customers
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Each customer's ``customer_id`` and :data:`CATEGORICAL_FEATURES` (str) from their first order before
    ``cutoff``, and their numbers in ``lines.customers`` when ``lines`` are given (None otherwise).

    A customer's first order before a cutoff is their first order before any later cutoff, so the first
    orders are found once, at ``lines.until``, and each earlier cutoff keeps the customers whose first order
    lies wholly before it. Should a first order have lines on both sides of the cutoff (its channel and
    category could then differ), they are found again at the cutoff.
    """
    customers = customers if customers is not None and "acquisition_channel" in customers.columns else None
    numbers = None
    if not isinstance(lines, _Lines):  # found once per frame and cutoff, for every analysis that asks
        lines = _lines(lines).before(cutoff)
    if lines.until is None or cutoff > lines.until:
        firsts = _first_orders(lines.source, cutoff, customers)[0]
    else:
        firsts, last_line, numbers = lines.first_orders(customers, cutoff)
        before = (firsts["first_purchase"] < cutoff).to_numpy()
        if (before & ~(last_line < cutoff)).any():
            firsts, numbers = _first_orders(lines.source, cutoff, customers)[0], None
        else:  # the columns read, then the rows (not every column of 500,000 first orders at each cutoff)
            firsts = firsts[["customer_id", *(c for c in CATEGORICAL_FEATURES if c in firsts.columns)]]
            firsts, numbers = firsts.loc[before], numbers[before]
    cols = [c for c in CATEGORICAL_FEATURES if c in firsts.columns]
    out = firsts[["customer_id", *cols]].astype({c: "str" for c in cols}).reset_index(drop=True)
    for missing in [c for c in CATEGORICAL_FEATURES if c not in cols]:
        out[missing] = pd.Series(pd.NA, index=out.index, dtype="str")
    return out, numbers


def _first_orders(transactions: pd.DataFrame, cutoff: pd.Timestamp, customers) -> tuple[pd.DataFrame, tuple | None]:
    """:func:`crmtools.repeat.first_purchases` at ``cutoff``, and (numpy path) each row's customer and first order
    as numbers of the whole columns (:func:`crmtools.engine.sorted_codes`), else None."""
    from .repeat import numbered_first_purchases

    tx = transactions
    if "channel" not in tx.columns:
        tx = tx.assign(channel=pd.Series(pd.NA, index=tx.index, dtype="str"))
    category = "category" if "category" in tx.columns else None
    return numbered_first_purchases(tx, as_of=cutoff, customers=customers, category_col=category)


def churn_labels(transactions: pd.DataFrame, *, as_of: Any, horizon_days: int = 90) -> pd.DataFrame:
    """Whether each customer bought in ``[as_of, as_of + horizon_days)``.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` and ``purchased`` (bool): the customers with
        a purchase in the window (everyone else has churned by this
        definition). Sorted by customer.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["1", "2"], "customer_id": ["a", "b"], "quantity": 1, "amount": 1.0,
    ...                    "order_datetime": pd.to_datetime(["2025-02-01", "2025-06-01"])})
    >>> churn_labels(tx, as_of="2025-01-15", horizon_days=30)["customer_id"].tolist()
    ['a']
    """
    start = as_point(as_of)
    horizon_days = int(require_range(horizon_days, name="horizon_days", low=1, integer=True))
    lines = _lines(transactions)
    orders = lines.orders(start + pd.Timedelta(days=horizon_days), ids=False)
    numbers = np.unique(orders["_customer"].to_numpy()[(orders["order_datetime"] >= start).to_numpy(bool)])
    ids = lines.customers.take(numbers)  # numbered in the ids' sorted order: sorted
    return pd.DataFrame({"customer_id": pd.Series(ids.array, dtype="str"), "purchased": True})


def _labelled(features: pd.DataFrame, transactions: pd.DataFrame, cutoff, horizon_days) -> pd.DataFrame:
    bought = churn_labels(transactions, as_of=cutoff, horizon_days=horizon_days)["customer_id"]
    return features.assign(churned=(~member_of(features["customer_id"], bought)).astype("int64"))


# --- customer value (BG/NBD + Gamma-Gamma) --------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerValues:
    """Per-customer BG/NBD and Gamma-Gamma predictions at a cutoff (from :func:`customer_values`).

    Attributes
    ----------
    as_of : pandas.Timestamp
        The cutoff (first instant not counted).
    horizon_days : int
        Horizon of ``expected_purchases``.
    status : str
        ``"ok"``, ``"no_data"``, ``"too_few_repeat"`` or ``"fit_failed"``.
    table : pandas.DataFrame
        Columns ``customer_id, frequency, recency, T, monetary_value, p_alive,
        expected_purchases, expected_spend, clv`` (empty unless ``status`` is ``"ok"``;
        ``expected_spend`` and ``clv`` are NaN when only the Gamma-Gamma fit failed).
    bgnbd, gamma_gamma : object or None
        The fitted models of :mod:`crmtools.clv`.
    unit_days : float
        Days per time unit of the fit (7 for weeks).
    months, monthly_discount, margin : float
        The settings of ``clv``.
    message : str
        Why the fit was not possible (the error's text), or warnings of the fit.
    non_positive_spenders : int
        Repeat customers left out of the spend model because their mean repeat
        value is zero or negative (their ``expected_spend`` and ``clv`` are NaN).
    """

    as_of: pd.Timestamp
    horizon_days: int
    status: str
    table: pd.DataFrame
    bgnbd: Any = None
    gamma_gamma: Any = None
    unit_days: float = 7.0
    months: int = 12
    monthly_discount: float = 0.01
    margin: float = 1.0
    message: str = ""
    non_positive_spenders: int = 0

    @classmethod
    def empty(cls, as_of, horizon_days: int, status: str = "no_data", message: str = "") -> CustomerValues:
        """A result without predictions (``status`` says why)."""
        table = pd.DataFrame(
            {
                "customer_id": pd.Series(dtype="str"),
                **{c: pd.Series(dtype="float64") for c in _VALUE_COLUMNS[1:]},
            }
        )
        return cls(as_point(as_of), int(horizon_days), status, table, message=message)


_VALUE_COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
)


def customer_values(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    horizon_days: int = 90,
    months: int = 12,
    monthly_discount: float = 0.01,
    margin: float = 1.0,
    clv_unit: str = "W",
) -> CustomerValues:
    """BG/NBD and Gamma-Gamma fitted on the purchases before ``as_of``, and each customer's predictions.

    The summary is :func:`crmtools.clv.customer_summary` of the purchase
    orders with ``calibration_end`` the day before ``as_of`` (its last day
    included). Thin data never raises: the result's ``status`` says why
    there are no predictions.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions; only purchase lines with a customer id before ``as_of`` count.
    as_of : date, timestamp or Period
        The cutoff.
    horizon_days : int, default=90
        Horizon of ``expected_purchases``.
    months, monthly_discount, margin
        As :func:`crmtools.clv.customer_value` (params ``clv.months``, ``clv.monthly_discount``).
    clv_unit : {"W", "D"}, default="W"
        Time unit of the fit (params ``clv.time_unit``).

    Returns
    -------
    CustomerValues
    """
    cutoff = as_point(as_of)
    require_in(clv_unit, _UNIT_DAYS, name="clv_unit")
    horizon_days = int(require_range(horizon_days, name="horizon_days", low=1, integer=True))
    settings = dict(unit_days=_UNIT_DAYS[clv_unit], months=months, monthly_discount=monthly_discount, margin=margin)
    lines = _lines(transactions)
    orders = lines.orders(cutoff, ids=False)
    if orders.empty:
        return CustomerValues.empty(cutoff, horizon_days, "no_data")
    try:
        from . import clv
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        return CustomerValues.empty(cutoff, horizon_days, "fit_failed", str(exc))
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            summary, bgnbd = _purchase_model(orders, cutoff, clv_unit)
        except _NoFit as missing:
            return CustomerValues.empty(cutoff, horizon_days, missing.status, missing.message)
        numbers = summary.index.to_numpy()
        horizon = horizon_days / settings["unit_days"]
        table = pd.DataFrame(
            {
                "customer_id": pd.Series(lines.customers.take(numbers).array, dtype="str"),
                "frequency": summary["frequency"].to_numpy(dtype=float),
                "recency": summary["recency"].to_numpy(dtype=float),
                "T": summary["T"].to_numpy(dtype=float),
                "monetary_value": summary["monetary_value"].to_numpy(dtype=float),
                "p_alive": np.asarray(clv.probability_alive(bgnbd, summary), dtype=float),
                "expected_purchases": np.asarray(clv.expected_purchases(bgnbd, summary, horizon), dtype=float),
            }
        )
        gamma_gamma, message = None, ""
        # Gamma-Gamma is a model of positive spend (crmtools.clv refuses anything else): repeat customers whose
        # mean repeat value is zero or negative (free items, returns) are left out of the spend model, counted,
        # and get no expected spend or value (NaN), never a guess.
        spenders = spend_model_rows(summary)
        left_out = (summary["frequency"] > 0) & ~spenders
        scored = ~left_out
        table["expected_spend"], table["clv"] = np.nan, np.nan
        try:
            gamma_gamma = clv.fit_gamma_gamma(summary.loc[spenders], time_unit=clv_unit)
            table.loc[scored.to_numpy(), "expected_spend"] = np.asarray(
                clv.expected_spend(gamma_gamma, summary.loc[scored]), dtype=float
            )
            table.loc[scored.to_numpy(), "clv"] = np.asarray(
                clv.customer_value(
                    bgnbd,
                    gamma_gamma,
                    summary.loc[scored],
                    months=months,
                    monthly_discount=monthly_discount,
                    margin=margin,
                ),
                dtype=float,
            )
        except (ValueError, RuntimeError, ArithmeticError) as exc:
            table["expected_spend"], table["clv"], message = np.nan, np.nan, str(exc)
        caught = [str(w.message) for w in seen]
    message = "; ".join([m for m in (message, *caught) if m])
    if not (np.diff(numbers) > 0).all():  # numbered in the ids' sorted order: sorted already when increasing
        table = table.sort_values("customer_id", ignore_index=True)
    return CustomerValues(
        cutoff,
        horizon_days,
        "ok",
        table,
        bgnbd,
        gamma_gamma,
        message=message,
        non_positive_spenders=int(left_out.sum()),
        **settings,
    )


class _NoFit(Exception):
    """No purchase model at a cutoff: :attr:`CustomerValues.status` and ``message`` say why."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _purchase_model(orders: pd.DataFrame, cutoff: pd.Timestamp, clv_unit: str):
    """The CLV summary of purchase ``orders`` before ``cutoff`` (its last day included), indexed by the customers'
    numbers (``_customer``), and the BG/NBD fitted on it; raises :class:`_NoFit` when there is none.

    Indexed by numbers, not ids: a Series on a text index hashes it whenever numpy asks it for an attribute
    (np.asarray), and the ids are needed once at most, in :func:`customer_values`' table.
    """
    from . import clv

    calibration_end = (cutoff - pd.Timedelta(microseconds=1)).normalize()
    try:
        summary = clv.customer_summary(
            orders[["_customer", "order_datetime", "amount"]].assign(quantity=1),
            calibration_end=calibration_end,
            time_unit=clv_unit,
            customer_col="_customer",
        ).set_index("_customer")
        if int((summary["frequency"] > 0).sum()) < 2:
            raise _NoFit("too_few_repeat", "fewer than 2 customers with a repeat purchase")
        return summary, clv.fit_bgnbd(summary, time_unit=clv_unit)
    except (ValueError, RuntimeError, ArithmeticError) as exc:
        raise _NoFit("too_few_repeat" if "repeat" in str(exc).lower() else "fit_failed", str(exc)) from exc


def _taken(columns: dict[str, np.ndarray], at: np.ndarray) -> dict[str, np.ndarray]:
    """Each column's values at the positions ``at`` (NaN where -1)."""
    return {c: np.where(at >= 0, v[at], np.nan) if v.size else np.full(at.size, np.nan) for c, v in columns.items()}


def _value_columns(lines: _Lines, values: CustomerValues, numbers: np.ndarray, columns) -> dict[str, np.ndarray]:
    """``columns`` of ``values.table`` (those it has) for the customers numbered ``numbers`` in ``lines.customers``,
    as floats (NaN for a customer without a row): looked up by position, not by a text index."""
    table = values.table
    at = lines.positions(table["customer_id"])[numbers] if len(table) else np.full(len(numbers), -1)
    return _taken({c: table[c].to_numpy(dtype="float64", na_value=np.nan) for c in columns if c in table}, at)


#: The columns of :func:`customer_values` that :func:`churn_features` reads.
_PREDICTED = ("p_alive", "expected_purchases")


def _purchase_predictions(
    orders: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int, clv_unit: str
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The customers' numbers and their :data:`_PREDICTED` columns of :func:`customer_values` at ``cutoff`` from its
    purchase ``orders`` (``lines.orders(cutoff, ids=False)``), without the spend model and the table of ids, which
    the features do not read (none when there is no purchase model: the features' values are then missing)."""
    from . import clv

    require_in(clv_unit, _UNIT_DAYS, name="clv_unit")
    none = np.array([], dtype="int64"), {}
    if orders.empty:
        return none
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what customer_values records in its message: the features have none
        try:
            summary, bgnbd = _purchase_model(orders, cutoff, clv_unit)
        except _NoFit:
            return none
        horizon = horizon_days / _UNIT_DAYS[clv_unit]
        predicted = {
            "p_alive": np.asarray(clv.probability_alive(bgnbd, summary), dtype=float),
            "expected_purchases": np.asarray(clv.expected_purchases(bgnbd, summary, horizon), dtype=float),
        }
    return summary.index.to_numpy(), predicted


def spend_model_rows(summary: pd.DataFrame) -> pd.Series:
    """Which customers of a CLV summary the Gamma-Gamma spend model may use.

    The rule of :func:`crmtools.clv.fit_gamma_gamma` (a model of positive
    spend): customers without a repeat purchase never count, and repeat
    customers whose mean repeat value is zero or negative are left out
    (callers count them and say so).

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`crmtools.clv.customer_summary` (``frequency``, ``monetary_value``).

    Returns
    -------
    pandas.Series
        Boolean, on the summary's index: True for a repeat customer with positive mean spend.

    Examples
    --------
    >>> s = pd.DataFrame({"frequency": [0, 2, 3], "monetary_value": [0.0, 0.0, 12.5]})
    >>> spend_model_rows(s).tolist()
    [False, False, True]
    """
    require_columns(summary, ["frequency", "monetary_value"], name="summary")
    return (summary["frequency"] > 0) & (summary["monetary_value"] > 0)


@dataclass(frozen=True)
class HoldoutValidation:
    """The BG/NBD calibration/holdout check at a cutoff (from :func:`value_holdout`).

    Attributes
    ----------
    status : str
        ``"ok"``, ``"no_data"``, ``"too_few_repeat"`` or ``"fit_failed"``.
    calibration_end, observation_end : pandas.Timestamp
        Last days included of the calibration and holdout windows.
    check : crmtools.clv.HoldoutCheck or None
        Predicted against actual repeat purchases, in total and by calibration frequency.
    message : str
        Why there is no check, or the fit's warnings.
    """

    status: str
    calibration_end: pd.Timestamp
    observation_end: pd.Timestamp
    check: Any = None
    message: str = ""


def value_holdout(
    transactions: pd.DataFrame, *, as_of: Any, holdout_days: int = 182, clv_unit: str = "W"
) -> HoldoutValidation:
    """Fit BG/NBD on the purchases before ``as_of - holdout_days`` and predict the holdout window up to ``as_of``.

    The classic calibration/holdout check (:func:`crmtools.clv.holdout_check`)
    on held-out time; thin data gives a ``status`` instead of an error.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions; lines from ``as_of`` on are ignored.
    as_of : date, timestamp or Period
        End of the holdout window (the first instant not counted).
    holdout_days : int, default=182
        Length of the holdout window (26 weeks).
    clv_unit : {"W", "D"}, default="W"

    Returns
    -------
    HoldoutValidation
    """
    cutoff = as_point(as_of)
    holdout_days = int(require_range(holdout_days, name="holdout_days", low=1, integer=True))
    require_in(clv_unit, _UNIT_DAYS, name="clv_unit")
    observation_end = (cutoff - pd.Timedelta(microseconds=1)).normalize()
    calibration_end = observation_end - pd.Timedelta(days=holdout_days)
    orders = _lines(transactions).orders(cutoff, ids=False)
    if orders.empty or (orders["order_datetime"] < calibration_end + pd.Timedelta(days=1)).sum() == 0:
        return HoldoutValidation("no_data", calibration_end, observation_end)
    from . import clv

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            summary = clv.customer_summary(
                orders[["_customer", "order_datetime", "amount"]].assign(quantity=1),
                calibration_end=calibration_end,
                observation_end=observation_end,
                time_unit=clv_unit,
                customer_col="_customer",
            )
            if int((summary["frequency"] > 0).sum()) < 2:
                return HoldoutValidation(
                    "too_few_repeat", calibration_end, observation_end, message="fewer than 2 repeat customers"
                )
            model = clv.fit_bgnbd(summary, time_unit=clv_unit)
            check = clv.holdout_check(model, summary)
        except (ValueError, RuntimeError, ArithmeticError) as exc:
            code = "too_few_repeat" if "repeat" in str(exc).lower() else "fit_failed"
            return HoldoutValidation(code, calibration_end, observation_end, message=str(exc))
    message = "; ".join(str(w.message) for w in seen)
    return HoldoutValidation("ok", calibration_end, observation_end, check, message)


# --- backtest and risk list -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnRisk:
    """The churn backtest and the risk list at ``as_of`` (from :func:`churn_risk`).

    Attributes
    ----------
    as_of, test_cutoff, train_cutoff : pandas.Timestamp
        The scoring cutoff and the backtest's cutoffs (``train < test``,
        ``test + horizon_days = as_of``).
    horizon_days : int
    status : str
        ``"ok"``, ``"no_data"``, ``"too_few_customers"`` or ``"one_class"``.
    winner : str or None
        The method with the highest test AUC (a baseline wins ties): a code of :data:`METHODS`.
    metrics : pandas.DataFrame
        One row per method of :data:`METHODS`: ``method``, ``auc``,
        ``top_decile_lift``, ``brier`` (of the calibrated probability),
        ``churn_rate`` (observed, test), ``train_customers``, ``test_customers``.
    calibration : pandas.DataFrame
        ``method``, ``bin`` (1 = lowest predicted probability), ``customers``,
        ``mean_predicted``, ``observed_rate``.
    scores : pandas.DataFrame
        The risk list at ``as_of`` (customer ids: never for a report):
        ``customer_id``, ``churn_probability`` (of the winner),
        ``high_risk`` (bool), sorted by customer.
    importance : pandas.DataFrame
        ``feature``, ``importance`` (the model's permutation importance on the test cutoff, AUC drop);
        empty unless asked for (``importance=True``).
    high_risk : float
        Probability from which a customer is at high risk.
    """

    as_of: pd.Timestamp
    test_cutoff: pd.Timestamp
    train_cutoff: pd.Timestamp
    horizon_days: int
    status: str
    winner: str | None
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    scores: pd.DataFrame
    importance: pd.DataFrame = field(default_factory=pd.DataFrame)
    high_risk: float = 0.5


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(score)
    if ok.sum() < 2 or len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], score[ok]))


def _top_decile_lift(y: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the 10% with the highest score (ties broken by order), over the overall rate."""
    ok = ~np.isnan(score)
    y, score = y[ok], score[ok]
    if len(y) == 0 or y.mean() == 0:
        return float("nan")
    top = np.argsort(-score, kind="stable")[: max(1, math.ceil(0.1 * len(y)))]
    return float(y[top].mean() / y.mean())


def _calibration(method: str, y: np.ndarray, prob: np.ndarray, n_bins: int) -> pd.DataFrame:
    ok = ~np.isnan(prob)
    frame = pd.DataFrame({"y": y[ok], "p": prob[ok]})
    if frame.empty:
        return pd.DataFrame(columns=["method", "bin", "customers", "mean_predicted", "observed_rate"])
    ranks = frame["p"].rank(method="first")
    frame["bin"] = np.ceil(ranks * n_bins / len(frame)).astype("int64")
    table = frame.groupby("bin").agg(customers=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    return table.reset_index().assign(method=method)[["method", "bin", "customers", "mean_predicted", "observed_rate"]]


def _matrix(features: pd.DataFrame, categories: dict[str, list[str]]) -> np.ndarray:
    """Features as a float matrix; categories as codes of ``categories`` (unknown: NaN)."""
    columns = [features[c].to_numpy(dtype=float) for c in NUMERIC_FEATURES]
    for c in CATEGORICAL_FEATURES:
        codes = _category_codes(features[c], categories[c]).astype(float)
        codes[codes < 0] = np.nan
        columns.append(codes)
    return np.column_stack(columns) if len(features) else np.empty((0, len(FEATURE_COLUMNS)))


def _category_codes(values: pd.Series, categories: list[str]) -> np.ndarray:
    """``pd.Categorical(values, categories=categories).codes`` (-1: missing or another value, which pandas is to
    refuse in a Categorical), text looked up by Arrow's hash (pandas makes every row a Python string first:
    300,000 customers at each scoring).

    >>> _category_codes(pd.Series(["web", None, "tv", "mail"], dtype="str"), ["mail", "web"]).tolist()
    [1, -1, -1, 0]
    """
    text = isinstance(values.dtype, pd.StringDtype) and all(isinstance(c, str) for c in categories)
    return positions_of(values, pd.Index(categories, dtype=values.dtype if text else object))


def _baseline_scores(features: pd.DataFrame) -> dict[str, np.ndarray]:
    return {
        "p_alive": 1.0 - features["p_alive"].to_numpy(dtype=float),
        "recency": features["recency_days"].to_numpy(dtype=float),
    }


def _training_rows(n: int, max_rows: int | None, random_state: int) -> np.ndarray:
    """The rows the model is fitted on: all of them, or a seeded random sample of ``max_rows`` in their order.

    >>> _training_rows(5, None, 0).tolist(), len(_training_rows(500, 100, 0)), _training_rows(3, 10, 0).tolist()
    ([0, 1, 2, 3, 4], 100, [0, 1, 2])
    """
    if max_rows is None or n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(random_state).choice(n, size=max_rows, replace=False))


_PREDICT_ROWS = 16_384


def _churn_probability(model, matrix: np.ndarray) -> np.ndarray:
    """``model.predict_proba(matrix)[:, 1]``, a block of rows at a time.

    The classifier adds each tree's value to every row before the next tree: over the whole base the matrix
    leaves the cache at every tree (about 130 of them). A block that fits in the cache stays there; each row
    gets the same sums in the same order, so the probabilities are identical (30 % less CPU at 450,000 rows).
    """
    if len(matrix) <= _PREDICT_ROWS:
        return model.predict_proba(matrix)[:, 1]
    blocks = range(0, len(matrix), _PREDICT_ROWS)
    return np.concatenate([model.predict_proba(matrix[i : i + _PREDICT_ROWS])[:, 1] for i in blocks])


class _Scorer:
    """The three methods fitted on one labelled cutoff: the model, and the baselines mapped to probabilities."""

    def __init__(self, train: pd.DataFrame, random_state: int, max_rows: int | None = MAX_TRAIN_CUSTOMERS):
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.isotonic import IsotonicRegression

        self.categories = {
            c: sorted(v for v in train[c].dropna().unique() if v not in ("nan", "<NA>")) for c in CATEGORICAL_FEATURES
        }
        mask = [False] * len(NUMERIC_FEATURES) + [True] * len(CATEGORICAL_FEATURES)
        self.model = HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.05,
            max_leaf_nodes=15,
            min_samples_leaf=40,
            l2_regularization=1.0,
            categorical_features=mask,
            random_state=random_state,
        )
        y = train["churned"].to_numpy()
        rows = _training_rows(len(train), max_rows, random_state)
        self.model.fit(_matrix(train.iloc[rows], self.categories), y[rows])
        self.isotonic = {}
        for name, score in _baseline_scores(train).items():
            ok = ~np.isnan(score)
            if ok.sum() >= 2:
                self.isotonic[name] = IsotonicRegression(out_of_bounds="clip").fit(score[ok], y[ok])

    def scores(self, features: pd.DataFrame) -> dict[str, np.ndarray]:
        """Ranking scores (higher: more likely to churn) of each method."""
        return {"model": self.probability(features, "model"), **_baseline_scores(features)}

    def probability(self, features: pd.DataFrame, method: str) -> np.ndarray:
        """The churn probability of ``method``."""
        if method == "model":
            return _churn_probability(self.model, _matrix(features, self.categories))
        score = _baseline_scores(features)[method]
        out = np.full(len(score), np.nan)
        if method in self.isotonic:
            ok = ~np.isnan(score)
            out[ok] = self.isotonic[method].predict(score[ok])
        return out


def churn_risk(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    horizon_days: int = 90,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    active_days: int | None = 365,
    clv_unit: str = "W",
    high_risk: float = 0.5,
    n_bins: int = 10,
    random_state: int = 0,
    values: CustomerValues | None = None,
    importance: bool = False,
    max_train_customers: int | None = MAX_TRAIN_CUSTOMERS,
) -> ChurnRisk:
    """Backtest the churn model against the baselines on held-out time, then score the base at ``as_of``.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions up to ``as_of`` (lines after it are ignored).
    as_of : date, timestamp or Period
        The scoring cutoff; the backtest tests at ``as_of - horizon_days``
        and trains at ``as_of - 2 * horizon_days``.
    horizon_days : int, default=90
        A customer churns when they do not buy within this many days (params ``churn.horizon_days``).
    customers, contacts : pandas.DataFrame, optional
        Canonical customers and campaign contacts, for the channel and campaign features.
    active_days : int or None, default=365
        The population at each cutoff: customers with a purchase within this many days before it.
    clv_unit : {"W", "D"}, default="W"
        Time unit of the BG/NBD fits.
    high_risk : float, default=0.5
        Churn probability from which a customer is at high risk.
    n_bins : int, default=10
        Bins of the calibration table.
    random_state : int, default=0
        Seed of the classifier.
    values : CustomerValues, optional
        :func:`customer_values` at ``as_of`` with the same ``horizon_days``, reused for the scoring features.
    importance : bool, default=False
        Also compute the model's permutation importance on the test cutoff (costs 51 more predictions).
    max_train_customers : int or None, default=:data:`MAX_TRAIN_CUSTOMERS`
        The model is fitted on a seeded random sample of this many customers when a cutoff has more
        (the metrics' ``train_customers`` still counts them all); None fits on all.

    Returns
    -------
    ChurnRisk
        ``status`` says when the backtest was not possible (no data, fewer
        than 100 customers at a cutoff, or only one class of label); then
        metrics are NaN and the risk list is empty.
    """
    cutoff = as_point(as_of)
    horizon_days = int(require_range(horizon_days, name="horizon_days", low=1, integer=True))
    require_range(high_risk, name="high_risk", low=0, high=1)
    test_cutoff = cutoff - pd.Timedelta(days=horizon_days)
    train_cutoff = test_cutoff - pd.Timedelta(days=horizon_days)
    tx = _lines(transactions).before(cutoff)  # ids numbered once for the four cutoffs below
    options = dict(
        horizon_days=horizon_days, customers=customers, contacts=contacts, active_days=active_days, clv_unit=clv_unit
    )
    train = _labelled(churn_features(tx, as_of=train_cutoff, **options), tx, train_cutoff, horizon_days)
    test = _labelled(churn_features(tx, as_of=test_cutoff, **options), tx, test_cutoff, horizon_days)
    status = _backtest_status(train, test)
    empty = ChurnRisk(
        cutoff,
        test_cutoff,
        train_cutoff,
        horizon_days,
        status,
        None,
        _metrics_frame({}, len(train), len(test), float("nan")),
        _calibration("model", np.array([]), np.array([]), n_bins),
        pd.DataFrame(
            {
                "customer_id": pd.Series(dtype="str"),
                "churn_probability": pd.Series(dtype="float64"),
                "high_risk": pd.Series(dtype="bool"),
            }
        ),
        high_risk=high_risk,
    )
    if status != "ok":
        return empty
    if max_train_customers is not None:
        require_range(max_train_customers, name="max_train_customers", low=_MIN_CUSTOMERS, integer=True)
    fit = dict(random_state=random_state, max_rows=max_train_customers)
    with _one_thread():
        return _backtest_and_score(tx, train, test, cutoff, options, values, fit, n_bins, high_risk, importance)


def _one_thread():
    """Gradient boosting on one OpenMP thread: on a shared machine its worker threads spin-wait for cores
    (30x the CPU time measured on 2 busy cores), and report pages already run side by side."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime, so that the limit applies to it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="openmp")


def _backtest_and_score(tx, train, test, cutoff, options, values, fit, n_bins, high_risk, importance) -> ChurnRisk:
    horizon_days = options["horizon_days"]
    y = test["churned"].to_numpy()
    scorer = _Scorer(train, **fit)
    ranking = scorer.scores(test)
    found, calibration = {}, []
    for method in METHODS:
        prob = ranking["model"] if method == "model" else scorer.probability(test, method)  # the model's: once
        ok = ~np.isnan(prob)
        found[method] = {
            "auc": _auc(y, ranking[method]),
            "top_decile_lift": _top_decile_lift(y, ranking[method]),
            "brier": float(np.mean((prob[ok] - y[ok]) ** 2)) if ok.any() else float("nan"),
        }
        calibration.append(_calibration(method, y, prob, n_bins))
    aucs = {m: found[m]["auc"] for m in METHODS if not math.isnan(found[m]["auc"])}
    # A baseline wins ties: the order of preference is recency, p_alive, model.
    winner = max(("recency", "p_alive", "model"), key=lambda m: aucs.get(m, -1.0)) if aucs else None
    importances = (
        _importance(scorer, test, y, fit["random_state"])
        if importance
        else pd.DataFrame(columns=["feature", "importance"])
    )
    # The risk list: the winner refitted on the most recent fully observed cutoff, applied at as_of.
    now = churn_features(tx, as_of=cutoff, **options, values=values)
    final = _Scorer(test, **fit)
    prob = final.probability(now, winner) if winner else np.full(len(now), np.nan)
    scores = pd.DataFrame(
        {"customer_id": now["customer_id"], "churn_probability": prob, "high_risk": prob >= high_risk}
    )
    return ChurnRisk(
        cutoff,
        cutoff - pd.Timedelta(days=horizon_days),
        cutoff - pd.Timedelta(days=2 * horizon_days),
        horizon_days,
        "ok",
        winner,
        _metrics_frame(found, len(train), len(test), float(y.mean())),
        pd.concat(calibration, ignore_index=True),
        scores,
        importances,
        high_risk,
    )


def _backtest_status(train: pd.DataFrame, test: pd.DataFrame) -> str:
    if train.empty or test.empty:
        return "no_data"
    if min(len(train), len(test)) < _MIN_CUSTOMERS:
        return "too_few_customers"
    if train["churned"].nunique() < 2 or test["churned"].nunique() < 2:
        return "one_class"
    return "ok"


def _metrics_frame(found: dict, n_train: int, n_test: int, rate: float) -> pd.DataFrame:
    nan = float("nan")
    rows = [
        {
            "method": m,
            "auc": found.get(m, {}).get("auc", nan),
            "top_decile_lift": found.get(m, {}).get("top_decile_lift", nan),
            "brier": found.get(m, {}).get("brier", nan),
            "churn_rate": rate,
            "train_customers": n_train,
            "test_customers": n_test,
        }
        for m in METHODS
    ]
    return pd.DataFrame(rows)


def _importance(scorer: _Scorer, test: pd.DataFrame, y: np.ndarray, random_state: int) -> pd.DataFrame:
    from sklearn.inspection import permutation_importance

    result = permutation_importance(
        scorer.model,
        _matrix(test, scorer.categories),
        y,
        scoring="roc_auc",
        n_repeats=3,
        random_state=random_state,
    )
    table = pd.DataFrame({"feature": list(FEATURE_COLUMNS), "importance": result.importances_mean})
    return table.sort_values("importance", ascending=False, ignore_index=True)


# --- next purchase ------------------------------------------------------------------------------------------------


#: The farthest expected next purchase :func:`next_purchase` gives, in days after the cutoff (ten years).
NEXT_PURCHASE_MAX_DAYS = 3650
_MAX_DATE_DAYS = 36500  # a hundred years: far inside what a timestamp holds


def next_purchase(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    values: CustomerValues,
    quantiles: tuple[float, float] = (0.1, 0.9),
    min_gaps: int = 3,
    max_days: int = NEXT_PURCHASE_MAX_DAYS,
) -> pd.DataFrame:
    """Each customer's expected next purchase date, with an interval, for contact timing.

    From the customer's own gaps between purchase days when there are at
    least ``min_gaps`` of them and the usual gap has not yet passed
    (``basis = "history"``: last purchase day + the median gap, interval
    from the gaps' ``quantiles``). Otherwise from the BG/NBD model given the
    customer is alive (``basis = "model"``, or ``"overdue"`` when the
    history date has passed): the time to the next purchase from ``as_of``
    is Pareto II with shape ``r + x`` and scale ``alpha + T``, so its
    quantile ``q`` is ``(alpha + T) * ((1 - q) ** (-1 / (r + x)) - 1)``
    time units.

    The stated rule for far dates: a date more than ``max_days`` after
    ``as_of`` is not given (NaT). When the expected (median) date is that
    far, the customer is "not expected within ``max_days`` days"
    (``basis = "beyond"``, all three dates NaT); when only the upper end is,
    ``next_high`` is NaT (an open interval). A nearly dead customer's Pareto
    quantile can be thousands of years away, past what a date can hold.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions; lines from ``as_of`` on are ignored.
    as_of : date, timestamp or Period
        The cutoff.
    values : CustomerValues
        :func:`customer_values` at the same ``as_of`` (the model's ``r``,
        ``alpha`` and each customer's ``frequency``, ``T`` and ``p_alive``).
    quantiles : (float, float), default=(0.1, 0.9)
        The interval's lower and upper quantiles.
    min_gaps : int, default=3
        Gaps needed for the history basis.
    max_days : int, default=NEXT_PURCHASE_MAX_DAYS (3,650, ten years)
        The farthest date given, in days after ``as_of`` (see the rule above).

    Returns
    -------
    pandas.DataFrame
        Sorted by customer: ``customer_id``, ``last_purchase`` (date),
        ``purchase_days``, ``usual_interval_days`` (median gap; NaN with no
        gap), ``p_alive``, ``expected_next`` and ``next_low``, ``next_high``
        (dates; NaT when neither basis applies or beyond ``max_days``),
        ``basis`` (``"history"``, ``"model"``, ``"overdue"``, ``"beyond"`` or ``"none"``).

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": list("1234"), "customer_id": "a", "quantity": 1, "amount": 1.0,
    ...     "order_datetime": pd.to_datetime(["2025-01-01", "2025-01-11", "2025-01-21", "2025-01-31"])})
    >>> out = next_purchase(tx, as_of="2025-02-02", values=CustomerValues.empty("2025-02-02", 90))
    >>> row = out.iloc[0]
    >>> float(row["usual_interval_days"]), f"{row['expected_next']:%Y-%m-%d}", row["basis"]
    (10.0, '2025-02-10', 'history')
    """
    cutoff = as_point(as_of)
    low_q, high_q = quantiles
    require_range(low_q, name="quantiles[0]", low=0, high=1)
    require_range(high_q, name="quantiles[1]", low=low_q, high=1)
    max_days = int(require_range(max_days, name="max_days", low=1, high=_MAX_DATE_DAYS, integer=True))
    lines = _lines(transactions)
    orders = lines.orders(cutoff, ids=False)
    columns = ["customer_id", "last_purchase", "purchase_days", "usual_interval_days", "p_alive"]
    if orders.empty:
        return pd.DataFrame(columns=[*columns, "expected_next", "next_low", "next_high", "basis"])
    # indexed by the customers' numbers (in the order of their ids) until the end: a Series on a text index hashes
    # it whenever numpy asks it for an attribute
    days = _distinct_days(orders)
    out = pd.DataFrame({"last_purchase": orders.groupby("_customer", sort=True)["day"].max()})
    out["purchase_days"] = _purchase_days(orders, out.index, days)
    gaps = _gap_stats(orders, days=days).reindex(out.index)
    numbers = out.index.to_numpy()
    out["usual_interval_days"] = gaps["median_gap"]
    n_gaps = out["purchase_days"] - 1
    day = cutoff.normalize()
    as_days = lambda g: pd.to_timedelta(g.round(), unit="D")  # noqa: E731
    hist_next = out["last_purchase"] + as_days(gaps["median_gap"])
    history = (n_gaps >= min_gaps) & (hist_next >= day)
    model = pd.DataFrame(_value_columns(lines, values, numbers, ("p_alive", "frequency", "T")), index=out.index)
    out["p_alive"] = model["p_alive"]
    params = getattr(values.bgnbd, "params", None) or {}
    if values.status == "ok" and {"r", "alpha"} <= set(params):
        shape = params["r"] + model["frequency"]
        scale = (params["alpha"] + model["T"]) * values.unit_days

        def lomax(q):  # days after as_of; dates past max_days are not given (they can overflow a timestamp)
            days = (scale * ((1 - q) ** (-1 / shape) - 1)).round()
            return day + as_days(days.where(days <= max_days)), days > max_days

        (m_next, far), (m_low, _), (m_high, _) = lomax(0.5), lomax(low_q), lomax(high_q)
    else:
        m_next = m_low = m_high = pd.Series(pd.NaT, index=out.index, dtype="datetime64[us]")
        far = pd.Series(False, index=out.index)
    far = far & ~history
    out["expected_next"] = hist_next.where(history, m_next)
    out["next_low"] = (out["last_purchase"] + as_days(gaps["gap_low"])).where(history, m_low)
    out["next_low"] = out["next_low"].where((out["next_low"] >= day) | far, day).where(~far)
    out["next_high"] = (out["last_purchase"] + as_days(gaps["gap_high"])).where(history, m_high)
    overdue = (n_gaps >= min_gaps) & ~history
    basis = np.where(history, "history", np.where(overdue, "overdue", "model"))
    out["basis"] = np.where(far, "beyond", np.where(out["expected_next"].isna(), "none", basis))
    out.index = pd.Index(lines.customers.take(numbers), name="customer_id")
    out = out.reset_index(names="customer_id")
    return out[[*columns, "expected_next", "next_low", "next_high", "basis"]]


def next_purchase_summary(next_purchases: pd.DataFrame, *, as_of: Any, edges=(30, 60, 90, 180)) -> pd.DataFrame:
    """How many customers are expected to buy next within each window after ``as_of``, by basis.

    ``edges`` are the windows' upper ends in days (default 30, 60, 90 and 180).
    Customers not expected within :func:`next_purchase`'s ``max_days``
    (``basis = "beyond"``, no date) are in the last window with that basis.

    Returns
    -------
    pandas.DataFrame
        Columns ``window`` (``"<=30"``, ``"31-60"`` ..., ``">180"``, ``"none"``),
        ``basis``, ``customers``; no customer ids.

    Examples
    --------
    >>> n = pd.DataFrame({"expected_next": pd.to_datetime(["2025-01-10", "2025-03-01", None]),
    ...                   "basis": ["history", "model", "none"]})
    >>> next_purchase_summary(n, as_of="2025-01-01")["customers"].tolist()
    [1, 1, 1]
    """
    day = as_point(as_of).normalize()
    days = (next_purchases["expected_next"] - day).dt.days.astype("float64")
    days = days.mask(next_purchases["basis"].eq("beyond"), np.inf)  # not expected within max_days: the last window
    bins = [-np.inf, *edges, np.inf]
    names = [f"<={edges[0]}"]
    names += [f"{a + 1}-{b}" for a, b in zip(edges[:-1], edges[1:])]
    names += [f">{edges[-1]}"]
    window = pd.cut(days, bins, labels=names, right=True).astype("str").where(days.notna(), "none")
    table = pd.DataFrame({"window": window, "basis": next_purchases["basis"]}).value_counts().rename("customers")
    order = {n: i for i, n in enumerate([*names, "none"])}
    table = table.reset_index()
    return table.sort_values(["window", "basis"], key=lambda s: s.map(order) if s.name == "window" else s).reset_index(
        drop=True
    )


# --- value of the base --------------------------------------------------------------------------------------------


def _value_frame(values: CustomerValues, risk: ChurnRisk | None = None) -> pd.DataFrame:
    table = values.table[["customer_id", "clv", "p_alive"]]
    if risk is not None and len(risk.scores):
        table = merge_on_ids(table, risk.scores, on=["customer_id"], how="left")
    return table


def value_by(
    values: CustomerValues,
    groups: pd.DataFrame,
    *,
    by: str,
    risk: ChurnRisk | None = None,
    missing: str = "(unknown)",
) -> pd.DataFrame:
    """Predicted customer value per group (RFM segment, acquisition channel, cohort ...).

    Parameters
    ----------
    values : CustomerValues
    groups : pandas.DataFrame
        ``customer_id`` and the column ``by`` (e.g. an RFM table's ``segment``).
        Customers of ``values`` without a group are in the group ``missing``.
    by : str
        The group column.
    risk : ChurnRisk, optional
        Adds the high-risk customers and their value.
    missing : str, default="(unknown)"
        The group of customers without one (e.g. :data:`crmtools.rfm.INACTIVE` for RFM segments).

    Returns
    -------
    pandas.DataFrame
        One row per group, sorted by ``total_value`` descending: ``by``,
        ``customers``, ``total_value``, ``mean_value``, ``median_value``,
        ``value_share``, ``mean_p_alive``, and with ``risk``:
        ``high_risk_customers``, ``value_at_risk``, ``mean_churn_probability``.

    Examples
    --------
    >>> v = CustomerValues.empty("2025-01-01", 90)
    >>> v = CustomerValues(v.as_of, 90, "ok", pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...     "clv": [10.0, 30.0, 60.0], "p_alive": [0.5, 0.9, 1.0]}))
    >>> t = value_by(v, pd.DataFrame({"customer_id": ["a", "b", "c"], "channel": ["x", "x", "y"]}), by="channel")
    >>> t[["channel", "customers", "total_value", "mean_value", "value_share", "mean_p_alive"]]
      channel  customers  total_value  mean_value  value_share  mean_p_alive
    0       y          1         60.0        60.0          0.6           1.0
    1       x          2         40.0        20.0          0.4           0.7
    """
    require_columns(groups, ["customer_id", by], name="groups")
    table = merge_on_ids(_value_frame(values, risk), groups[["customer_id", by]], on=["customer_id"], how="left")
    table[by] = table[by].astype("str").where(table[by].notna(), missing)
    agg = {
        "customers": ("customer_id", "size"),
        "total_value": ("clv", "sum"),
        "mean_value": ("clv", "mean"),
        "median_value": ("clv", "median"),
        "mean_p_alive": ("p_alive", "mean"),
    }
    with_risk = "high_risk" in table.columns
    if with_risk:
        table["_at_risk"] = table["clv"].where(table["high_risk"].fillna(False).astype(bool), 0.0)
        agg.update(
            high_risk_customers=("high_risk", lambda s: int(s.fillna(False).astype(bool).sum())),
            value_at_risk=("_at_risk", "sum"),
            mean_churn_probability=("churn_probability", "mean"),
        )
    out = table.groupby(by, sort=True).agg(**agg).reset_index()
    total = out["total_value"].sum()
    out["value_share"] = out["total_value"] / total if total else np.nan
    columns = [by, "customers", "total_value", "mean_value", "median_value", "value_share", "mean_p_alive"]
    if with_risk:
        columns += ["high_risk_customers", "value_at_risk", "mean_churn_probability"]
    return out.sort_values(["total_value", by], ascending=[False, True], ignore_index=True)[columns]


def value_deciles(values: CustomerValues) -> pd.DataFrame:
    """Customers in ten equal groups by predicted value (1 = the highest), with each group's share.

    Returns
    -------
    pandas.DataFrame
        ``decile``, ``customers``, ``min_value``, ``max_value``, ``total_value``,
        ``value_share``, ``cumulative_share``; empty without predictions.

    Examples
    --------
    >>> v = CustomerValues(pd.Timestamp("2025-01-01"), 90, "ok",
    ...                    pd.DataFrame({"customer_id": list("abcdefghij"), "clv": [float(i) for i in range(10)]}))
    >>> value_deciles(v)["max_value"].tolist()[:2]
    [9.0, 8.0]
    """
    clv = values.table["clv"].dropna() if "clv" in values.table else pd.Series(dtype=float)
    columns = ["decile", "customers", "min_value", "max_value", "total_value", "value_share", "cumulative_share"]
    if clv.empty:
        return pd.DataFrame(columns=columns)
    ranks = clv.rank(method="first", ascending=False)
    decile = np.ceil(ranks * 10 / len(clv)).astype("int64")
    out = (
        clv.groupby(decile)
        .agg(customers="size", min_value="min", max_value="max", total_value="sum")
        .reset_index(names="decile")
    )
    total = out["total_value"].sum()
    out["value_share"] = out["total_value"] / total if total else np.nan
    out["cumulative_share"] = out["value_share"].cumsum()
    return out[columns]


@dataclass(frozen=True)
class ValueSummary:
    """The headline figures of the base at a cutoff (see :func:`value_summary`)."""

    as_of: pd.Timestamp
    status: str
    active_customers: int
    active_value: float
    high_risk_customers: int
    value_at_risk: float
    months: int


def value_summary(values: CustomerValues, risk: ChurnRisk | None, *, active_days: int = 365) -> ValueSummary:
    """Predicted value of the active base and the part held by high-risk customers.

    The active base: customers with a purchase within ``active_days`` before
    the cutoff, i.e. on or after ``cutoff - active_days`` (``recency`` measured back from ``T``,
    which ends the day before the cutoff). Value at risk: the
    predicted value of the active customers the risk list marks high risk
    (NaN when the risk list is not available).

    Examples
    --------
    >>> v = CustomerValues(pd.Timestamp("2025-01-01"), 90, "ok", pd.DataFrame({
    ...     "customer_id": ["a", "b", "c"], "clv": [100.0, 50.0, 5.0], "p_alive": [1.0, 0.8, 0.1],
    ...     "recency": [10.0, 40.0, 1.0], "T": [20.0, 50.0, 100.0]}))
    >>> r = ChurnRisk(v.as_of, v.as_of, v.as_of, 90, "ok", "model", pd.DataFrame(), pd.DataFrame(),
    ...               pd.DataFrame({"customer_id": ["a", "b"], "churn_probability": [0.2, 0.7],
    ...                             "high_risk": [False, True]}))
    >>> s = value_summary(v, r, active_days=365)
    >>> s.active_customers, s.active_value, s.high_risk_customers, s.value_at_risk
    (2, 150.0, 1, 50.0)
    """
    nan = float("nan")
    if values.status != "ok" or "clv" not in values.table or values.table["clv"].isna().all():
        status = values.status if values.status != "ok" else "no_value"  # the spend model could not be fitted
        return ValueSummary(values.as_of, status, 0, nan, 0, nan, values.months)
    table = values.table
    # T and recency end on the calibration's last day, the day before the cutoff: days to the cutoff are one
    # more (the same active base as the churn features, the ladder and RFM: a purchase in [cutoff - active_days,
    # cutoff)).
    days_to_cutoff = ((table["T"] - table["recency"]) * values.unit_days).round() + 1
    active = table.loc[days_to_cutoff <= active_days]
    if risk is None or risk.status != "ok":
        return ValueSummary(values.as_of, "no_risk", len(active), float(active["clv"].sum()), 0, nan, values.months)
    flagged = merge_on_ids(active, risk.scores, on=["customer_id"], how="left")["high_risk"].fillna(False).astype(bool)
    at_risk = active.loc[flagged.to_numpy()]
    return ValueSummary(
        values.as_of,
        "ok",
        len(active),
        float(active["clv"].sum()),
        len(at_risk),
        float(at_risk["clv"].sum()),
        values.months,
    )


def risk_by_segment(
    values: CustomerValues, risk: ChurnRisk, segments: pd.DataFrame, *, missing: str = "(unknown)"
) -> pd.DataFrame:
    """The risk list by RFM segment with the revenue at stake (predicted value of the high-risk customers).

    Parameters
    ----------
    segments : pandas.DataFrame
        ``customer_id`` and ``segment`` (an RFM table at the same cutoff).

    Returns
    -------
    pandas.DataFrame
        ``segment``, ``customers`` (scored), ``high_risk_customers``,
        ``high_risk_share``, ``mean_churn_probability``, ``value_at_risk``,
        sorted by ``value_at_risk`` descending. Customers of the risk list
        without a segment are in ``missing``.
    """
    require_columns(segments, ["customer_id", "segment"], name="segments")
    columns = [
        "segment",
        "customers",
        "high_risk_customers",
        "high_risk_share",
        "mean_churn_probability",
        "value_at_risk",
    ]
    if risk.status != "ok" or risk.scores.empty:
        return pd.DataFrame(columns=columns)
    table = merge_on_ids(risk.scores, values.table[["customer_id", "clv"]], on=["customer_id"], how="left")
    table = merge_on_ids(table, segments[["customer_id", "segment"]], on=["customer_id"], how="left")
    table["segment"] = table["segment"].astype("str").where(table["segment"].notna(), missing)
    table["_at_risk"] = table["clv"].where(table["high_risk"], 0.0)
    out = (
        table.groupby("segment", sort=True)
        .agg(
            customers=("customer_id", "size"),
            high_risk_customers=("high_risk", "sum"),
            mean_churn_probability=("churn_probability", "mean"),
            value_at_risk=("_at_risk", "sum"),
        )
        .reset_index()
    )
    out["high_risk_customers"] = out["high_risk_customers"].astype("int64")
    out["high_risk_share"] = out["high_risk_customers"] / out["customers"]
    return out.sort_values(["value_at_risk", "segment"], ascending=[False, True], ignore_index=True)[columns]


def _first_orders_of(orders: pd.DataFrame) -> np.ndarray:
    """The rows of each customer's first order (the earliest, then the smallest order id), in customer order.

    What sorting by ``_customer``, ``order_datetime`` (missing last) and ``_order`` and keeping each customer's
    first row finds, without the sort: :meth:`_Lines.orders` gives the orders sorted on the ids' numbers (customer,
    then order), so the first row at a customer's earliest time is the one. Orders in any other order are sorted.

    >>> orders = pd.DataFrame({"_customer": [0, 0, 0, 1], "_order": [3, 5, 7, 1],
    ...                        "order_datetime": pd.to_datetime(["2025-02-01", "2025-01-01", "2025-01-01", None])})
    >>> _first_orders_of(orders).tolist()
    [1, 3]
    """
    customer, order = orders["_customer"].to_numpy(), orders["_order"].to_numpy()
    if customer.size == 0:
        return np.empty(0, dtype="int64")
    step_customer, step_order = np.diff(customer), np.diff(order)
    if not np.all((step_customer > 0) | ((step_customer == 0) & (step_order > 0))):
        ranked = orders.reset_index(drop=True).sort_values(["_customer", "order_datetime", "_order"])
        return ranked.index[~ranked["_customer"].duplicated().to_numpy()].to_numpy()
    stamps = orders["order_datetime"].to_numpy().view("int64")
    stamps = np.where(np.isnat(orders["order_datetime"].to_numpy()), np.iinfo(np.int64).max, stamps)  # last
    starts = np.flatnonzero(np.r_[True, step_customer != 0])
    group = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, customer.size]))
    earliest = np.flatnonzero(stamps == np.minimum.reduceat(stamps, starts)[group])
    return earliest[np.r_[True, np.diff(group[earliest]) != 0]]


def ltv_cac(
    values: CustomerValues,
    transactions: pd.DataFrame,
    *,
    customers: pd.DataFrame | None,
    campaigns: pd.DataFrame | None,
    contacts: pd.DataFrame | None = None,
    margin: float = 1.0,
) -> pd.DataFrame:
    """Predicted value against the cost of acquiring a customer, by acquisition channel.

    **CAC** comes from the campaigns data. Acquisition campaigns are those
    with a cost, ended before the cutoff, and without a contact list in
    ``contacts`` (a contact list names existing customers: that is
    retention, not acquisition). A campaign acquired the customers whose
    *first* purchase order is attributed to it (``campaign_id`` of the
    order); its cost is shared among the channels of the customers it
    acquired in proportion to their number, and a channel's CAC is that cost
    over its acquired customers. **LTV** is the mean predicted value
    (:func:`customer_values`) of the channel's acquired customers, times
    ``margin``. Where a figure cannot be had, ``cac_status`` says why:
    ``"no_campaigns"`` (no campaigns table or no cost),
    ``"no_acquisition_campaigns"`` (every campaign with a cost has a contact
    list or had not ended), ``"no_attribution"`` (no first order is
    attributed to an acquisition campaign) or ``"none_acquired"`` (no
    acquired customer in this channel).

    Returns
    -------
    pandas.DataFrame
        One row per acquisition channel, sorted: ``acquisition_channel``,
        ``customers``, ``mean_value`` (all its customers), ``acquired``
        (by a campaign), ``acquisition_cost``, ``cac``, ``ltv`` (mean value
        of the acquired x margin), ``ltv_cac`` (NaN unless ``cac_status`` is
        ``"ok"``), ``cac_status``.

    Examples
    --------
    >>> v = CustomerValues(pd.Timestamp("2025-03-01"), 90, "ok",
    ...                    pd.DataFrame({"customer_id": ["a", "b", "c"], "clv": [300.0, 100.0, 50.0]}))
    >>> tx = pd.DataFrame({"order_id": ["1", "2", "3"], "customer_id": ["a", "b", "c"], "quantity": 1,
    ...                    "amount": 10.0, "order_datetime": pd.to_datetime(["2025-01-02"] * 3),
    ...                    "channel": "web", "campaign_id": ["ADS", "ADS", None]})
    >>> camp = pd.DataFrame({"campaign_id": ["ADS"], "cost": [100.0]})
    >>> cust = pd.DataFrame({"customer_id": ["a", "b", "c"], "acquisition_channel": ["web", "web", "app"]})
    >>> ltv_cac(v, tx, customers=cust, campaigns=camp)[["acquisition_channel", "cac", "ltv", "ltv_cac",
    ...                                                  "cac_status"]]
      acquisition_channel   cac    ltv  ltv_cac     cac_status
    0                 app   NaN    NaN      NaN  none_acquired
    1                 web  50.0  200.0      4.0             ok
    """
    columns = [
        "acquisition_channel",
        "customers",
        "mean_value",
        "acquired",
        "acquisition_cost",
        "cac",
        "ltv",
        "ltv_cac",
        "cac_status",
    ]
    firsts = _first_order_attributes(transactions, values.as_of, customers).reset_index(names="customer_id")
    orders = _orders(transactions, values.as_of)
    first_campaign = orders.iloc[_first_orders_of(orders)].set_index("customer_id")["campaign_id"]  # NaN kept
    table = merge_on_ids(
        values.table[["customer_id", "clv"]],
        firsts[["customer_id", "acquisition_channel"]],
        on=["customer_id"],
        how="left",
    )
    if table.empty:
        return pd.DataFrame(columns=columns)
    table["acquisition_channel"] = table["acquisition_channel"].fillna("(unknown)")
    table["campaign_id"] = lookup(table["customer_id"], first_campaign)
    base = table.groupby("acquisition_channel", sort=True).agg(
        customers=("customer_id", "size"), mean_value=("clv", "mean")
    )
    has_cost = campaigns is not None and not campaigns.empty and "cost" in campaigns.columns
    acquiring = pd.Series(dtype=float)
    if has_cost:
        has_cost = bool((campaigns["cost"] > 0).any())
        cost = campaigns.set_index("campaign_id")["cost"].astype(float)
        keep = cost > 0
        if "end_date" in campaigns.columns:
            keep &= (campaigns.set_index("campaign_id")["end_date"] < values.as_of).to_numpy()
        if contacts is not None and len(contacts):
            keep &= ~cost.index.isin(contacts["campaign_id"].unique())
        acquiring = cost[keep]
    acquired = table.loc[table["campaign_id"].isin(acquiring.index)]
    counts = acquired.groupby(["campaign_id", "acquisition_channel"]).size().rename("n").reset_index()
    if len(counts):
        counts["cost"] = (
            counts["campaign_id"].map(cost) * counts["n"] / counts.groupby("campaign_id")["n"].transform("sum")
        )
    spent = counts.groupby("acquisition_channel")["cost"].sum() if len(counts) else pd.Series(dtype=float)
    got = acquired.groupby("acquisition_channel").agg(acquired=("customer_id", "size"), ltv=("clv", "mean"))
    out = base.join(got).join(spent.rename("acquisition_cost"))
    out["acquired"] = out["acquired"].fillna(0).astype("int64")
    out["cac"] = out["acquisition_cost"] / out["acquired"].where(out["acquired"] > 0)
    out["ltv"] = out["ltv"] * margin
    status = (
        "no_campaigns"
        if not has_cost
        else "no_acquisition_campaigns"
        if acquiring.empty
        else "no_attribution"
        if acquired.empty
        else "ok"
    )
    out["cac_status"] = np.where(status != "ok", status, np.where(out["acquired"] > 0, "ok", "none_acquired"))
    out["ltv_cac"] = (out["ltv"] / out["cac"]).where(out["cac_status"] == "ok")
    return out.reset_index()[columns]


@dataclass(frozen=True)
class BaseValue:
    """Everything the report says about the value of the base at one cutoff (from :func:`base_value`)."""

    values: CustomerValues
    risk: ChurnRisk
    summary: ValueSummary


def base_value(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    customers: pd.DataFrame | None = None,
    contacts: pd.DataFrame | None = None,
    horizon_days: int = 90,
    months: int = 12,
    monthly_discount: float = 0.01,
    clv_unit: str = "W",
    active_days: int = 365,
    random_state: int = 0,
    max_train_customers: int | None = MAX_TRAIN_CUSTOMERS,
) -> BaseValue:
    """Customer values, the churn backtest and risk list, and the headline figures at ``as_of``, in one call.

    The one computation the value page and the executive summary share (a
    report caches it per cutoff): :func:`customer_values` (revenue,
    ``margin=1``), :func:`churn_risk` with those values, and
    :func:`value_summary`. Arguments as there.

    Returns
    -------
    BaseValue
    """
    lines = _lines(transactions)  # ids numbered once for every cutoff below
    values = customer_values(
        lines,
        as_of=as_of,
        horizon_days=horizon_days,
        months=months,
        monthly_discount=monthly_discount,
        clv_unit=clv_unit,
    )
    risk = churn_risk(
        lines,
        as_of=as_of,
        horizon_days=horizon_days,
        customers=customers,
        contacts=contacts,
        active_days=active_days,
        clv_unit=clv_unit,
        random_state=random_state,
        values=values,
        max_train_customers=max_train_customers,
    )
    return BaseValue(values, risk, value_summary(values, risk, active_days=active_days))


def customer_groups(transactions: pd.DataFrame, *, as_of: Any, customers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each customer's acquisition channel and cohort (quarter of the first purchase), for :func:`value_by`.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``acquisition_channel`` (as :func:`crmtools.repeat.first_purchases`), ``cohort``
        (``"2025-Q1"``), sorted by customer.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["1", "2"], "customer_id": ["a", "b"], "quantity": 1, "amount": 1.0,
    ...                    "order_datetime": pd.to_datetime(["2025-01-02", "2025-05-01"]), "channel": "web"})
    >>> customer_groups(tx, as_of="2025-06-01")["cohort"].tolist()
    ['2025-Q1', '2025-Q2']
    """
    cutoff = as_point(as_of)
    attributes = _first_order_attributes(transactions, cutoff, customers)
    lines = _lines(transactions)
    firsts = lines.orders(cutoff, ids=False).groupby("_customer")["day"].min()
    firsts.index = pd.Index(lines.customers.take(firsts.index.to_numpy()), name="customer_id")
    cohort = firsts.dt.to_period("Q").astype("str").str.replace("Q", "-Q", regex=False)
    out = attributes[["acquisition_channel"]].join(cohort.rename("cohort"), how="outer")
    return out.reset_index(names="customer_id").sort_values("customer_id", ignore_index=True)


def export_scores(
    values: CustomerValues,
    risk: ChurnRisk | None = None,
    next_purchases: pd.DataFrame | None = None,
    *,
    path: str | Path,
) -> Path:
    """Write each customer's scores to a file an analyst asked for (Parquet, or CSV by its suffix).

    This is the only way per-customer scores leave the package: they hold
    customer ids and belong in the CRM system, never in ``reports/``.

    Columns: ``customer_id``, ``p_alive``, ``expected_purchases``,
    ``expected_spend``, ``clv``, then with ``risk`` ``churn_probability``,
    ``high_risk``, and with ``next_purchases`` ``expected_next``,
    ``next_low``, ``next_high``, ``basis``.

    Raises
    ------
    ValueError
        If ``path`` is inside a folder named ``reports``, its folder does not exist, or its suffix is not
        ``.parquet`` or ``.csv`` (the rules of :func:`crmtools.clv.write_scores`, which writes it).
    """
    table = values.table[["customer_id", "p_alive", "expected_purchases", "expected_spend", "clv"]]
    if risk is not None and len(risk.scores):
        table = merge_on_ids(table, risk.scores, on=["customer_id"], how="left")
    if next_purchases is not None and len(next_purchases):
        table = merge_on_ids(
            table,
            next_purchases[["customer_id", "expected_next", "next_low", "next_high", "basis"]],
            on=["customer_id"],
            how="left",
        )
    from .clv import write_scores

    return write_scores(table, path)
