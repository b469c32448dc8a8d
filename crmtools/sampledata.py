"""Seeded synthetic mail-order data with planted truths.

:func:`generate_sample` simulates a Japanese-style mail-order (通販) business
in the canonical model:

- **Customers** arrive every month (more in November-December, growing
  slowly) and then buy by a buy-till-you-die process: each has their own
  purchase rate (gamma-distributed, higher for app customers) and after each
  order drops out for good with their own probability (beta-distributed).
- **Seasonality**: purchase rates are multiplied by a monthly factor with a
  December peak.
- **Orders** have one or more lines drawn from a catalogue with Zipf-like
  popularity; prices are log-normal by category (heavy-tailed order values);
  about 1% of orders are guest orders without a customer id; about 3% of
  orders are partly returned a few days later (negative lines under a new
  order id ``R...``).
- **Co-purchase pairs** are planted: in a fixed share of orders both items of
  a pair are added, which gives each pair a known expected lift.
- **Campaigns** contact a random target list split into treatment and
  holdout; treated customers make an extra order in the campaign window with
  a planted probability (one campaign has no effect, one ads campaign has no
  contact list).
- **Experiments**: a three-variant subject-line test with a conversion effect
  on variant B only, an offer test with a revenue effect, and an A/A test.
- **Growth ladder and NPS** (from a separate random stream, so the rest is
  unchanged): marketing consent, membership from the third order, referrals
  and survey scores (0-10), all more likely for loyal customers.

The planted values are written to ``truths.json`` next to the data so tests
can check that analyses recover them. Same arguments give byte-identical
files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .periods import parse_period

__all__ = ["SampleConfig", "generate_sample", "write_sample"]

_CATEGORIES = {
    # category: (median price in yen, adjectives, nouns)
    "Skincare": (
        3200,
        ("Moist", "Gentle", "Bright", "Rich", "Clear", "Pure"),
        ("Lotion", "Milk", "Serum", "Cream", "Cleansing Oil", "Face Mask", "Gel"),
    ),
    "Supplements": (
        2800,
        ("Daily", "Premium", "Organic", "Active", "Herbal"),
        ("Collagen", "Blueberry Extract", "Lactic Acid Bacteria", "Vitamin C", "Glucosamine", "Aojiru"),
    ),
    "Food": (
        1800,
        ("Hokkaido", "Kyoto", "Shizuoka", "Okinawa", "Uji", "Kagoshima"),
        ("Green Tea", "Soba", "Miso", "Dashi Pack", "Rice Crackers", "Black Sugar", "Umeboshi"),
    ),
    "Kitchen": (
        4200,
        ("Compact", "Cast Iron", "Nonstick", "Bamboo", "Stainless"),
        ("Pan", "Knife", "Rice Cooker Pot", "Cutting Board", "Bento Box", "Kettle"),
    ),
    "Apparel": (
        5200,
        ("Cotton", "Linen", "Warm", "Light", "Silk"),
        ("Pajamas", "Socks", "Cardigan", "Scarf", "Inner Wear", "Yukata"),
    ),
    "Home": (
        3800,
        ("Soft", "Natural", "Hinoki", "Washable", "Aroma"),
        ("Towel", "Pillow", "Blanket", "Diffuser", "Storage Box", "Slippers"),
    ),
}

_CHANNELS = ("web", "app", "catalog", "phone")
_CHANNEL_SHARE = (0.45, 0.25, 0.20, 0.10)
#: Purchase-rate multiplier by acquisition channel (planted: app customers repeat most).
_CHANNEL_RATE = {"web": 1.0, "app": 1.4, "catalog": 0.8, "phone": 0.7}
#: Monthly purchase-rate multiplier (planted December peak).
_SEASON = {1: 0.9, 2: 0.85, 3: 1.0, 4: 1.0, 5: 1.0, 6: 0.95, 7: 1.05, 8: 0.95, 9: 1.0, 10: 1.0, 11: 1.2, 12: 1.8}
_REGIONS = (
    "Tokyo",
    "Osaka",
    "Kanagawa",
    "Aichi",
    "Saitama",
    "Chiba",
    "Hyogo",
    "Hokkaido",
    "Fukuoka",
    "Shizuoka",
    "Hiroshima",
    "Miyagi",
    "Kyoto",
    "Niigata",
    "Okinawa",
)
_SURNAMES = (
    "Sato",
    "Suzuki",
    "Takahashi",
    "Tanaka",
    "Watanabe",
    "Ito",
    "Yamamoto",
    "Nakamura",
    "Kobayashi",
    "Kato",
    "Yoshida",
    "Yamada",
    "Sasaki",
    "Yamaguchi",
    "Matsumoto",
)
_GIVEN = ("Hanako", "Taro", "Yuki", "Haruto", "Aoi", "Sota", "Mei", "Ren", "Yui", "Daiki", "Sakura", "Kenji")

#: Lines per order = 1 + Poisson(_EXTRA_LINES_MEAN).
_EXTRA_LINES_MEAN = 0.6
#: Planted co-purchase pairs: popularity rank of the first item (the second is the next rank), bundle share.
_PAIR_RANKS = ((8, 0.006), (20, 0.005), (40, 0.004))
#: Beta parameters of each customer's probability of dropping out after an order.
_DROPOUT_BETA = (1.3, 4.0)
#: Gamma (shape, scale in days) of the purchase rate in orders per day, before the channel multiplier.
_RATE_GAMMA = (0.9, 0.5 / 30.0)
_GUEST_ORDER_SHARE = 0.01
_RETURN_ORDER_SHARE = 0.03
#: Contacts go out at this hour on a campaign's first day; its incremental orders come after it.
_CONTACT_HOUR = 10


class _CampaignSpec(NamedTuple):
    """One planned campaign; a ``holdout_share`` of None means no contact list (ads)."""

    campaign_id: str
    name: str
    channel: str
    month: int  # months after the start
    offset_days: int  # days into that month
    length_days: int
    holdout_share: float | None
    uplift: float | None  # planted probability of an extra order for a treated customer
    target_size: int  # contacts per 20,000 customers


_CAMPAIGNS = (
    _CampaignSpec("CMP-01", "Spring catalogue", "dm", 2, 0, 28, 0.30, 0.05, 3000),
    _CampaignSpec("CMP-02", "Summer email", "email", 6, 4, 21, 0.10, 0.03, 3000),
    _CampaignSpec("CMP-03", "Autumn coupon", "coupon", 20, 0, 28, 0.30, 0.06, 5000),
    _CampaignSpec("CMP-04", "Win-back email", "email", 21, 2, 21, 0.30, 0.0, 3000),
    _CampaignSpec("CMP-05", "Year-end catalogue", "dm", 22, 14, 30, 0.30, 0.07, 6000),
    _CampaignSpec("CMP-06", "Web ads", "ads", 23, 0, 30, None, None, 0),
)
_COST_PER_CONTACT = {"dm": 180.0, "email": 2.0, "coupon": 120.0}
_ADS_COST = 1_500_000.0


@dataclass(frozen=True)
class SampleConfig:
    """Size and shape of the synthetic data set.

    Parameters
    ----------
    customers : int, default=20000
        Number of customers acquired over the whole span.
    months : int, default=24
        Number of months simulated.
    start : str, default="2024-01"
        First month.
    seed : int, default=7
        Random seed; the same seed gives the same data.
    messy : bool, default=False
        Add invalid rows (bad dates, duplicate lines, a negative price,
        non-numeric quantities) for exercising validation; forces CSV.
    """

    customers: int = 20000
    months: int = 24
    start: str = "2024-01"
    seed: int = 7
    messy: bool = False

    def __post_init__(self) -> None:
        if self.customers < 10:
            raise ValueError(f"customers must be at least 10; got {self.customers}.")
        if not 1 <= self.months <= 240:
            raise ValueError(f"months must be between 1 and 240; got {self.months}.")
        parse_period(self.start)


def generate_sample(config: SampleConfig = SampleConfig()) -> tuple[dict[str, pd.DataFrame], dict]:
    """Simulate a mail-order business in the canonical model.

    Parameters
    ----------
    config : SampleConfig, optional
        Size, span, seed and messiness.

    Returns
    -------
    (dict of DataFrame, dict)
        The canonical tables by name, and the planted truths.

    Examples
    --------
    >>> tables, truths = generate_sample(SampleConfig(customers=200, months=3, seed=1))
    >>> sorted(tables)
    ['campaign_contacts', 'campaigns', 'customers', 'experiments', 'products', 'surveys', 'transactions']
    >>> bool((tables["transactions"]["amount"] ==
    ...       tables["transactions"]["quantity"] * tables["transactions"]["unit_price"]).all())
    True
    """
    # Every step draws from this one generator, in this order: reordering the steps changes the data.
    rng = np.random.default_rng(config.seed)
    calendar = _calendar(config)
    products = _catalogue(rng)
    pi = _popularity(len(products), rng)
    pairs = _planted_pairs(pi)
    customers = _customer_arrivals(config.customers, calendar, rng)
    repeats, dropped_at = _simulate_orders(
        customers.first_day, customers.rate, customers.dropout, calendar.horizon, calendar.start, rng
    )
    campaigns = _run_campaigns(customers, calendar, rng)
    orders = _orders(customers, repeats, campaigns, rng)
    lines = _order_lines(orders.order_id, rng, products, pi, pairs)
    tx = _transactions(orders, lines, products, customers.ids, calendar.start)
    tx = _attribute_ads(tx, campaigns, rng)
    tx = _with_returns(tx, lines, orders, calendar.end, rng)
    customer_table = _customers_table(customers, calendar.start, rng)
    experiments, experiment_truths = _experiments(rng, customers.ids, calendar.end)
    truths = _planted_truths(
        config,
        calendar,
        pairs=_pair_truths(pairs, pi, products),
        campaigns=_campaign_truths(campaigns, tx),
        experiments=experiment_truths,
    )
    truths["buy_till_you_die"] = _btyd_truths(customers, dropped_at, calendar)
    customer_table, surveys, growth_truths = _growth_plants(config, customers, tx, customer_table, calendar.end)
    truths.update(growth_truths)
    tables = {
        "transactions": _make_messy(tx, rng) if config.messy else tx,
        "customers": customer_table,
        "products": products.reset_index(drop=True),
        "campaigns": _campaigns_table(campaigns),
        "campaign_contacts": _contacts_table(campaigns),
        "experiments": experiments,
        "surveys": surveys,
    }
    return tables, truths


# --- the span, the catalogue and the customers ------------------------------------------------------------------------


class _Calendar(NamedTuple):
    """The simulated span: first day, end (exclusive), length in days, and its months."""

    start: pd.Timestamp
    end: pd.Timestamp
    horizon: float  # days from start to end
    months: int
    month_starts: list[pd.Timestamp]
    month_offset: np.ndarray  # days from the start to each month's first day
    month_len: np.ndarray  # days in each month


def _calendar(config: SampleConfig) -> _Calendar:
    """Start, end, length in days and month boundaries of the simulated span."""
    start = parse_period(config.start).start
    end = start + pd.DateOffset(months=config.months)
    month_starts = [start + pd.DateOffset(months=m) for m in range(config.months)]
    return _Calendar(
        start=start,
        end=end,
        horizon=float((end - start).days),
        months=config.months,
        month_starts=month_starts,
        month_offset=np.array([(ms - start).days for ms in month_starts]),
        month_len=np.array([((ms + pd.DateOffset(months=1)) - ms).days for ms in month_starts]),
    )


def _catalogue(rng: np.random.Generator) -> pd.DataFrame:
    """Products: every adjective-noun name per category, log-normal list prices around the category median."""
    rows = []
    for category, (median, adjectives, nouns) in _CATEGORIES.items():
        for adj in adjectives:
            for noun in nouns:
                rows.append((category, f"{adj} {noun}", median))
    frame = pd.DataFrame(rows, columns=["category", "product_name", "median"])
    frame["product_id"] = [f"P{i + 1:04d}" for i in range(len(frame))]
    price = np.exp(rng.normal(np.log(frame["median"].to_numpy()), 0.55))
    frame["list_price"] = np.maximum(100, np.round(price, -1)).astype("float64")
    return frame[["product_id", "product_name", "category", "list_price"]]


def _popularity(n: int, rng: np.random.Generator) -> np.ndarray:
    """Zipf-like probabilities of each product being drawn for an order line, in shuffled product order."""
    weights = 1.0 / np.arange(1, n + 1) ** 0.9
    rng.shuffle(weights)
    return weights / weights.sum()


def _planted_pairs(pi: np.ndarray) -> list[tuple[int, int, float]]:
    """Planted co-purchase pairs as (product index, product index, bundle share): mid-popularity neighbours."""
    by_popularity = np.argsort(-pi, kind="stable")
    return [(int(by_popularity[rank]), int(by_popularity[rank + 1]), share) for rank, share in _PAIR_RANKS]


class _Customers(NamedTuple):
    """Customers numbered by arrival, with the hidden behaviour that drives their orders."""

    ids: np.ndarray
    first_day: np.ndarray  # first order, in days from the start
    channel: np.ndarray  # acquisition channel
    rate: np.ndarray  # orders per day before seasonality
    dropout: np.ndarray  # probability of leaving for good after each order


def _customer_arrivals(n: int, calendar: _Calendar, rng: np.random.Generator) -> _Customers:
    """Customers arriving month by month (growing, more in November-December), each with a rate and a dropout."""
    weights = np.array(
        [(1 + 0.02 * m) * (1.4 if ms.month in (11, 12) else 1.0) for m, ms in enumerate(calendar.month_starts)]
    )
    month_of = rng.choice(calendar.months, size=n, p=weights / weights.sum())
    first_day = calendar.month_offset[month_of] + rng.random(n) * calendar.month_len[month_of]
    channel_idx = rng.choice(len(_CHANNELS), size=n, p=_CHANNEL_SHARE)
    base_rate = rng.gamma(*_RATE_GAMMA, n)  # orders per day, mean ~0.45 a month
    rate = base_rate * np.array([_CHANNEL_RATE[c] for c in _CHANNELS])[channel_idx]
    dropout = rng.beta(*_DROPOUT_BETA, n)
    by_arrival = np.argsort(first_day, kind="stable")  # customer numbers follow arrival
    return _Customers(
        ids=np.array([f"C{i + 1:06d}" for i in range(n)]),
        first_day=first_day[by_arrival],
        channel=np.array(_CHANNELS)[channel_idx][by_arrival],
        rate=rate[by_arrival],
        dropout=dropout[by_arrival],
    )


def _simulate_orders(
    first: np.ndarray,
    rate: np.ndarray,
    dropout: np.ndarray,
    horizon: float,
    start: pd.Timestamp,
    rng: np.random.Generator,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Repeat-order times (days from start) per customer, by thinning a seasonal Poisson process.

    Also returns each customer's dropout time (days from start; NaN while still active at the end): the
    time of the order after which they left for good. Recorded from values already drawn, so the random
    stream, and the data, are the same as without it.
    """
    peak = max(_SEASON.values())
    season_by_day = np.array(
        [_SEASON[(start + pd.Timedelta(days=int(d))).month] for d in range(int(np.ceil(horizon)) + 1)]
    )
    active = np.arange(first.size)
    t = first.astype("float64").copy()
    out_customer, out_time = [], []
    dropped_at = np.full(first.size, np.nan)
    while active.size:
        t[active] += rng.exponential(1.0 / (rate[active] * peak))
        within = t[active] < horizon
        active = active[within]
        accept = rng.random(active.size) < season_by_day[t[active].astype(int)] / peak
        buyers = active[accept]
        out_customer.append(buyers)
        out_time.append(t[buyers])
        dies = rng.random(buyers.size) < dropout[buyers]
        if dies.any():
            dropped_at[buyers[dies]] = t[buyers[dies]]
            active = active[~np.isin(active, buyers[dies])]
    return (np.concatenate(out_customer), np.concatenate(out_time)), dropped_at


# --- campaigns --------------------------------------------------------------------------------------------------------


class _Window(NamedTuple):
    """A campaign's window in days from the start (end exclusive) and as timestamps (end inclusive)."""

    start_day: float
    end_day: float
    start: pd.Timestamp
    end: pd.Timestamp


class _ExtraOrders(NamedTuple):
    """A campaign's incremental orders: customer numbers and days from the start."""

    customer: np.ndarray
    day: np.ndarray
    campaign_id: str


class _CampaignOutcome(NamedTuple):
    """What one campaign produced: its table row, contact rows, incremental orders and planted truth."""

    row: tuple  # campaign_id, name, channel, start, end (inclusive), cost
    contacts: list[pd.DataFrame]
    extra_orders: _ExtraOrders | None
    truth: dict


def _run_campaigns(customers: _Customers, calendar: _Calendar, rng: np.random.Generator) -> list[_CampaignOutcome]:
    """Outcomes of the planned campaigns that start within the span and reach enough customers."""
    outcomes = []
    for spec in _CAMPAIGNS:
        if spec.month >= calendar.months:
            continue
        window = _campaign_window(spec, calendar)
        if spec.holdout_share is None:
            outcomes.append(_ads_campaign(spec, window))
            continue
        outcome = _contact_campaign(spec, window, customers, rng)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def _campaign_window(spec: _CampaignSpec, calendar: _Calendar) -> _Window:
    """The campaign's window, its end clipped to the span; the inclusive end timestamp is a second before."""
    start_day = calendar.month_offset[spec.month] + spec.offset_days
    end_day = min(start_day + spec.length_days, calendar.horizon)
    return _Window(
        start_day=start_day,
        end_day=end_day,
        start=calendar.start + pd.Timedelta(days=int(start_day)),
        end=calendar.start + pd.Timedelta(days=int(end_day)) - pd.Timedelta(seconds=1),
    )


def _ads_campaign(spec: _CampaignSpec, window: _Window) -> _CampaignOutcome:
    """An ads campaign: a fixed cost, no contact list, no holdout and no planted uplift."""
    return _CampaignOutcome(
        row=(spec.campaign_id, spec.name, spec.channel, window.start, window.end, _ADS_COST),
        contacts=[],
        extra_orders=None,
        truth={"holdout": False, "planted_uplift": None},
    )


def _contact_campaign(
    spec: _CampaignSpec, window: _Window, customers: _Customers, rng: np.random.Generator
) -> _CampaignOutcome | None:
    """A campaign contacting a treatment group and keeping a holdout; None when it would reach fewer than 10."""
    drawn = _contact_list(spec, window, customers, rng)
    if drawn is None:
        return None
    targets, is_holdout = drawn
    treated = targets[~is_holdout]
    cost = round(_COST_PER_CONTACT[spec.channel] * treated.size, 0)
    extra = _incremental_orders(spec, window, treated, rng)
    truth = {
        "holdout": True,
        "planted_uplift": spec.uplift,
        "treated": int(treated.size),
        "holdout_size": int(is_holdout.sum()),
        "extra_orders": int(extra.customer.size),
        "window_start": str(window.start),
        "window_end": str(window.end),
    }
    return _CampaignOutcome(
        row=(spec.campaign_id, spec.name, spec.channel, window.start, window.end, cost),
        contacts=_contacts(spec, window, customers.ids, treated, targets[is_holdout]),
        extra_orders=extra,
        truth=truth,
    )


def _contact_list(
    spec: _CampaignSpec, window: _Window, customers: _Customers, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """Targets drawn among customers acquired before the window, and their holdout flags; None if fewer than 10."""
    eligible = np.flatnonzero(customers.first_day < window.start_day)
    size = min(spec.target_size * customers.ids.size // 20000, eligible.size)
    if size < 10:
        return None
    targets = np.sort(rng.choice(eligible, size=size, replace=False))
    return targets, rng.random(size) < spec.holdout_share


def _contacts(
    spec: _CampaignSpec, window: _Window, customer_ids: np.ndarray, treated: np.ndarray, holdout: np.ndarray
) -> list[pd.DataFrame]:
    """Contact rows of the treatment group, then of the holdout, all at the contact hour of the first day."""
    contacted_at = window.start + pd.Timedelta(hours=_CONTACT_HOUR)
    return [
        pd.DataFrame(
            {
                "campaign_id": spec.campaign_id,
                "customer_id": customer_ids[ids],
                "group": group,
                "contacted_at": contacted_at,
            }
        )
        for ids, group in ((treated, "treatment"), (holdout, "holdout"))
    ]


def _incremental_orders(
    spec: _CampaignSpec, window: _Window, treated: np.ndarray, rng: np.random.Generator
) -> _ExtraOrders:
    """Extra orders of the treated customers who respond (planted uplift), between contact and window end."""
    responders = treated[rng.random(treated.size) < spec.uplift]
    day = (
        window.start_day
        + _CONTACT_HOUR / 24
        + rng.random(responders.size) * (window.end_day - window.start_day - _CONTACT_HOUR / 24)
    )
    return _ExtraOrders(customer=responders, day=day, campaign_id=spec.campaign_id)


# --- orders and transactions ------------------------------------------------------------------------------------------


class _Orders(NamedTuple):
    """Every order, sorted by time."""

    customer: np.ndarray  # customer number
    seconds: np.ndarray  # seconds from the start
    campaign_id: np.ndarray  # object: the campaign of an incremental order, else None
    order_id: np.ndarray
    channel: np.ndarray
    guest: np.ndarray  # bool: placed without a customer id


def _orders(
    customers: _Customers,
    repeats: tuple[np.ndarray, np.ndarray],
    campaigns: list[_CampaignOutcome],
    rng: np.random.Generator,
) -> _Orders:
    """Every order (first, repeat, incremental) sorted by time, with its id, channel and guest flag."""
    customer, day, campaign_id = _order_events(customers, repeats, campaigns)
    seconds = (np.floor(day) * 86400).astype("int64") + _time_of_day(rng, day.size)
    by_time = np.lexsort((customer, seconds))
    customer, seconds, campaign_id = customer[by_time], seconds[by_time], campaign_id[by_time]
    n_orders = customer.size
    own_channel = rng.random(n_orders) < 0.85
    channel = np.where(own_channel, customers.channel[customer], np.array(_CHANNELS)[rng.integers(0, 4, n_orders)])
    # Guests are not customers: their orders are extra orders without an id, never a campaign's.
    guest = (rng.random(n_orders) < _GUEST_ORDER_SHARE) & pd.isna(campaign_id)
    order_id = np.array([f"O{i + 1:07d}" for i in range(n_orders)])
    return _Orders(
        customer=customer, seconds=seconds, campaign_id=campaign_id, order_id=order_id, channel=channel, guest=guest
    )


def _order_events(
    customers: _Customers, repeats: tuple[np.ndarray, np.ndarray], campaigns: list[_CampaignOutcome]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer number, day and campaign of the first orders, then the repeats, then the incremental orders."""
    repeat_customer, repeat_day = repeats
    extra = [c.extra_orders for c in campaigns if c.extra_orders is not None]
    customer = np.concatenate([np.arange(customers.ids.size), repeat_customer, *(e.customer for e in extra)])
    day = np.concatenate([customers.first_day, repeat_day, *(e.day for e in extra)])
    campaign_id = np.concatenate(
        [
            np.full(customers.ids.size + repeat_customer.size, None, dtype=object),
            *(np.full(e.customer.size, e.campaign_id, dtype=object) for e in extra),
        ]
    )
    return customer, day, campaign_id


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: lunchtime and evening peaks."""
    hours = np.where(rng.random(n) < 0.4, rng.normal(12.5, 1.5, n), rng.normal(21.0, 1.8, n))
    return (np.clip(hours, 0, 23.99) * 3600).astype("int64")


def _order_lines(
    order_ids: np.ndarray,
    rng: np.random.Generator,
    products: pd.DataFrame,
    pi: np.ndarray,
    pairs: list[tuple[int, int, float]],
) -> pd.DataFrame:
    """Lines for the given orders: random lines plus planted pair bundles."""
    n = len(order_ids)
    k = 1 + rng.poisson(_EXTRA_LINES_MEAN, n)
    line_order = np.repeat(np.arange(n), k)
    line_product = rng.choice(len(products), size=line_order.size, p=pi)
    bundles_o, bundles_p = [line_order], [line_product]
    for a, b, share in pairs:
        hit = np.flatnonzero(rng.random(n) < share)
        bundles_o += [hit, hit]
        bundles_p += [np.full(hit.size, a), np.full(hit.size, b)]
    lines = pd.DataFrame({"o": np.concatenate(bundles_o), "p": np.concatenate(bundles_p)})
    lines = lines.drop_duplicates(["o", "p"]).sort_values(["o", "p"], kind="stable").reset_index(drop=True)
    lines["quantity"] = rng.geometric(0.72, len(lines)).astype("int64")
    lines["order_id"] = order_ids[lines["o"].to_numpy()]
    return lines


def _transactions(
    orders: _Orders, lines: pd.DataFrame, products: pd.DataFrame, customer_ids: np.ndarray, start: pd.Timestamp
) -> pd.DataFrame:
    """One row per order line: order, customer (None for guests), time, product, quantity, price, channel."""
    o = lines["o"].to_numpy()
    product = products.iloc[lines["p"].to_numpy()].reset_index(drop=True)
    tx = pd.DataFrame(
        {
            "order_id": lines["order_id"].to_numpy(),
            "customer_id": np.where(orders.guest[o], None, customer_ids[orders.customer[o]]),
            "order_datetime": start + pd.to_timedelta(orders.seconds[o], unit="s"),
            "product_id": product["product_id"].to_numpy(),
            "quantity": lines["quantity"].to_numpy(),
            "unit_price": product["list_price"].to_numpy(),
            "channel": orders.channel[o],
            "product_name": product["product_name"].to_numpy(),
            "category": product["category"].to_numpy(),
            "campaign_id": orders.campaign_id[o],
        }
    )
    tx["amount"] = tx["quantity"] * tx["unit_price"]
    return tx


def _attribute_ads(tx: pd.DataFrame, campaigns: list[_CampaignOutcome], rng: np.random.Generator) -> pd.DataFrame:
    """The transactions with ~8% of the web orders in each ads window attributed to that ads campaign."""
    campaign_id = tx["campaign_id"].copy()
    for cid, _, channel, ads_start, ads_end, _ in (c.row for c in campaigns):
        if channel != "ads":
            continue
        in_window = (tx["order_datetime"] >= ads_start) & (tx["order_datetime"] <= ads_end) & (tx["channel"] == "web")
        picked = tx.loc[in_window, "order_id"].drop_duplicates()
        picked = picked[rng.random(picked.size) < 0.08]
        # Orders already attributed to a contact campaign keep that attribution (their extra orders are planted).
        campaign_id.loc[tx["order_id"].isin(picked) & campaign_id.isna()] = cid
    return tx.assign(campaign_id=campaign_id)


def _with_returns(
    tx: pd.DataFrame, lines: pd.DataFrame, orders: _Orders, end: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    """The transactions table: sales plus the returns that fall within the span, sorted, canonical columns."""
    returns = _returns(tx, lines, orders.campaign_id, rng)
    tx = pd.concat([tx, returns[returns["order_datetime"] < end]], ignore_index=True)
    tx = tx.sort_values(["order_datetime", "order_id", "product_id"], kind="stable").reset_index(drop=True)
    tx = tx[
        [
            "order_id",
            "customer_id",
            "order_datetime",
            "product_id",
            "quantity",
            "unit_price",
            "amount",
            "channel",
            "product_name",
            "category",
            "campaign_id",
        ]
    ]
    tx["order_datetime"] = tx["order_datetime"].astype("datetime64[s]")
    return tx


def _returns(tx: pd.DataFrame, lines: pd.DataFrame, campaign_id: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Returns of the first line of ~3% of the non-campaign orders, 3-14 days later, as ``R...`` orders."""
    eligible_orders = np.flatnonzero(pd.isna(campaign_id))
    returned = np.sort(rng.choice(eligible_orders, size=int(_RETURN_ORDER_SHARE * eligible_orders.size), replace=False))
    first_line = lines.groupby("o", sort=True).head(1)
    ret = tx.loc[first_line.index[np.isin(first_line["o"].to_numpy(), returned)]].copy()
    ret["order_id"] = "R" + ret["order_id"].str.slice(1)
    ret["order_datetime"] = ret["order_datetime"] + pd.to_timedelta(rng.integers(3, 15, len(ret)), unit="D")
    ret["quantity"] = -ret["quantity"]
    ret["amount"] = ret["quantity"] * ret["unit_price"]
    ret["campaign_id"] = None
    return ret


# --- the other tables -------------------------------------------------------------------------------------------------


def _customers_table(customers: _Customers, start: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    """The customers table; names, e-mails and phones are synthetic and must never reach a report."""
    n = customers.ids.size
    first_purchase = start + pd.to_timedelta(np.floor(customers.first_day) * 86400, unit="s")
    signup_lag = rng.integers(0, 15, n)
    return pd.DataFrame(
        {
            "customer_id": customers.ids,
            "first_seen": (first_purchase - pd.to_timedelta(signup_lag, unit="D")).astype("datetime64[s]"),
            "acquisition_channel": customers.channel,
            "region": np.array(_REGIONS)[rng.integers(0, len(_REGIONS), n)],
            "name": [f"{_SURNAMES[i % len(_SURNAMES)]} {_GIVEN[(i * 7) % len(_GIVEN)]}" for i in range(n)],
            "email": [f"{cid.lower()}@example.com" for cid in customers.ids],
            "phone": [f"090-{(i * 7919) % 10000:04d}-{i % 10000:04d}" for i in range(n)],
        }
    )


def _campaigns_table(campaigns: list[_CampaignOutcome]) -> pd.DataFrame:
    """The campaigns table: one row per campaign run, windows to the second."""
    frame = pd.DataFrame(
        [c.row for c in campaigns], columns=["campaign_id", "name", "channel", "start_date", "end_date", "cost"]
    )
    for column in ("start_date", "end_date"):
        frame[column] = frame[column].astype("datetime64[s]")
    return frame


def _contacts_table(campaigns: list[_CampaignOutcome]) -> pd.DataFrame:
    """The campaign contacts table, sorted by campaign and customer."""
    frames = [frame for c in campaigns for frame in c.contacts]
    contacts = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(columns=["campaign_id", "customer_id", "group", "contacted_at"])
    )
    contacts["contacted_at"] = contacts["contacted_at"].astype("datetime64[s]")
    return contacts.sort_values(["campaign_id", "customer_id"], kind="stable").reset_index(drop=True)


def _experiments(rng: np.random.Generator, customer_ids: np.ndarray, end: pd.Timestamp) -> tuple[pd.DataFrame, dict]:
    """Three experiments in the last two months, with planted effects."""
    specs = [
        # id, variants with (conversion rate, mean revenue per converter), units per variant, days before end,
        # and whether units are customers (email tests) or anonymous site visitors.
        ("EXP-SUBJECT", {"control": (0.10, 6000.0), "B": (0.125, 6000.0), "C": (0.10, 6000.0)}, 4000, 40, True),
        ("EXP-OFFER", {"control": (0.08, 5000.0), "free_shipping": (0.08, 6500.0)}, 12000, 38, False),
        ("EXP-AA", {"control": (0.09, 5500.0), "control_copy": (0.09, 5500.0)}, 5000, 30, False),
    ]
    frames, truths = [], {}
    for exp_id, variants, per_variant, days_before_end, customer_units in specs:
        names = list(variants)
        if customer_units:
            per_variant = min(per_variant, len(customer_ids) // (2 * len(names)))
            units = rng.choice(customer_ids, size=per_variant * len(names), replace=False)
        else:
            units = np.array([f"{exp_id[4:7]}-V{i + 1:06d}" for i in range(per_variant * len(names))])
        assignment = np.repeat(np.arange(len(names)), per_variant)
        rng.shuffle(assignment)
        rates = np.array([variants[v][0] for v in names])[assignment]
        means = np.array([variants[v][1] for v in names])[assignment]
        converted = rng.random(units.size) < rates
        sigma = 0.9
        revenue = np.where(converted, np.round(means * np.exp(rng.normal(-(sigma**2) / 2, sigma, units.size)), 0), 0.0)
        exposed = (
            end
            - pd.Timedelta(days=days_before_end)
            + pd.to_timedelta(rng.integers(0, 14 * 86400, units.size), unit="s")
        )
        frames.append(
            pd.DataFrame(
                {
                    "experiment_id": exp_id,
                    "variant": np.array(names)[assignment],
                    "unit_id": units,
                    "exposed_at": exposed.astype("datetime64[s]"),
                    "converted": converted,
                    "revenue": revenue,
                }
            )
        )
        control_rate, control_rev = variants["control"]
        truths[exp_id] = {
            "units_per_variant": per_variant,
            "variants": {
                v: {
                    "conversion_rate": r,
                    "revenue_per_converter": m,
                    "relative_conversion_lift": round(r / control_rate - 1, 6),
                    "relative_revenue_per_unit_lift": round(r * m / (control_rate * control_rev) - 1, 6),
                }
                for v, (r, m) in variants.items()
            },
        }
    frame = pd.concat(frames, ignore_index=True).sort_values(["experiment_id", "unit_id"], kind="stable")
    return frame.reset_index(drop=True), truths


# --- growth ladder and NPS plants (issue 15) --------------------------------------------------------------------------

#: Stream of the growth plants: a generator of its own, drawn after everything else, so adding these tables and
#: columns leaves every other sample value unchanged.
_GROWTH_STREAM = 15
#: Planted: consent probability = logistic(a + b * loyalty), loyalty = standardised log(rate / dropout).
_CONSENT_LOGIT = (0.3, 0.6)
#: Planted: customers join the membership programme at their n-th order with this probability.
_MEMBER_AT_ORDER, _MEMBER_SHARE = 3, 0.35
#: Planted: share of customers referred by an earlier customer; referrers drawn with weight exp(b * loyalty).
_REFERRED_SHARE, _REFERRER_LOYALTY = 0.06, 1.5
#: Planted: after each order a survey is answered with this probability, 2-10 days later; the score is
#: round(mean + slope * loyalty + Normal(0, noise)), clipped to 0-10.
_SURVEY_SHARE, _SURVEY_SCORE = 0.12, {"mean": 7.0, "loyalty_slope": 1.6, "noise_sd": 1.6}
_SURVEY_CHANNELS, _SURVEY_CHANNEL_SHARE = ("email", "web", "app"), (0.5, 0.3, 0.2)


def _growth_plants(
    config: SampleConfig, customers: _Customers, tx: pd.DataFrame, customer_table: pd.DataFrame, end: pd.Timestamp
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Membership, referrals, marketing consent and NPS survey answers, all tied to each customer's loyalty.

    Loyalty is the standardised ``log(rate / dropout)`` of the buy-till-you-die simulation: loyal customers
    consent more often, are chosen more often as referrers and give higher scores, so promoters buy more in
    the months after answering than detractors (the behaviour NPS is meant to predict).
    """
    rng = np.random.default_rng([config.seed, _GROWTH_STREAM])
    n = customers.ids.size
    raw = np.log(customers.rate / customers.dropout)
    loyalty = (raw - raw.mean()) / (raw.std() or 1.0)
    a, b = _CONSENT_LOGIT
    consent = rng.random(n) < 1 / (1 + np.exp(-(a + b * loyalty)))
    sales = tx[(tx["quantity"] > 0) & tx["customer_id"].notna()].drop_duplicates("order_id")
    sales = sales.sort_values(["customer_id", "order_datetime"], kind="stable")
    number = sales["customer_id"].str.slice(1).astype("int64").to_numpy() - 1
    nth = sales.groupby("customer_id", sort=False).cumcount().to_numpy() + 1
    joins = (nth == _MEMBER_AT_ORDER) & (rng.random(nth.size) < _MEMBER_SHARE)
    member_since = np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    member_since[number[joins]] = sales["order_datetime"].to_numpy()[joins].astype("datetime64[s]")
    referred = np.flatnonzero(rng.random(n) < _REFERRED_SHARE)
    referred = referred[referred > 0]  # the first customer has nobody to be referred by
    weights = np.cumsum(np.exp(_REFERRER_LOYALTY * loyalty))  # customers are numbered by arrival
    referrer = np.searchsorted(weights, rng.random(referred.size) * weights[referred - 1], side="right")
    referred_by = np.full(n, None, dtype=object)
    referred_by[referred] = customers.ids[np.minimum(referrer, referred - 1)]
    answered = rng.random(len(sales)) < _SURVEY_SHARE
    lag = pd.to_timedelta(rng.integers(2 * 86400, 10 * 86400, len(sales)), unit="s")
    s = _SURVEY_SCORE
    score = np.round(s["mean"] + s["loyalty_slope"] * loyalty[number] + rng.normal(0, s["noise_sd"], len(sales)))
    channel = np.array(_SURVEY_CHANNELS)[rng.choice(len(_SURVEY_CHANNELS), len(sales), p=_SURVEY_CHANNEL_SHARE)]
    surveys = pd.DataFrame(
        {
            "customer_id": sales["customer_id"].to_numpy(),
            "responded_at": (sales["order_datetime"] + lag).astype("datetime64[s]").to_numpy(),
            "score": np.clip(score, 0, 10).astype("int64"),
            "channel": channel,
        }
    )[answered]
    surveys = surveys[surveys["responded_at"] < end].drop_duplicates(["customer_id", "responded_at"])
    surveys = surveys.sort_values(["customer_id", "responded_at"], kind="stable").reset_index(drop=True)
    table = customer_table.assign(member_since=member_since, referred_by=referred_by, marketing_consent=consent)
    table["referred_by"] = table["referred_by"].astype("str").where(table["referred_by"].notna(), None)
    promoters, detractors = (surveys["score"] >= 9).mean(), (surveys["score"] <= 6).mean()
    truths = {
        "growth": {
            "loyalty": "standardised log(purchase rate / dropout probability) of the simulation",
            "consent_logit": list(_CONSENT_LOGIT),
            "consent_share": round(float(consent.mean()), 6),
            "member_at_order": _MEMBER_AT_ORDER,
            "member_share_at_that_order": _MEMBER_SHARE,
            "members": int(joins.sum()),
            "referred_share": _REFERRED_SHARE,
            "referred_customers": int(referred.size),
            "referrers": int(pd.unique(referred_by[referred]).size),
            "referrer_loyalty_weight": _REFERRER_LOYALTY,
        },
        "nps": {
            "survey_share_per_order": _SURVEY_SHARE,
            "score_model": dict(_SURVEY_SCORE),
            "responses": len(surveys),
            "nps_all_responses": round(float(100 * (promoters - detractors)), 6),
            "predicts_behaviour": "promoters repeat more and spend more in the 90 days after answering "
            "than passives, passives more than detractors",
        },
    }
    return table, surveys, truths


# --- planted truths, measured exactly where they are realised ---------------------------------------------------------


def _pair_truths(pairs: list[tuple[int, int, float]], pi: np.ndarray, products: pd.DataFrame) -> list[dict]:
    """Each planted pair with its bundle share and the exact expected lift of the rule between its items."""
    incl = _inclusion_probability(pi)
    truths = []
    for a, b, share in pairs:
        pa = 1 - (1 - share) * (1 - incl[a])
        pb = 1 - (1 - share) * (1 - incl[b])
        both = share + (1 - share) * _pair_both_probability(pi[a], pi[b])
        truths.append(
            {
                "antecedent": products["product_name"].iloc[a],
                "consequent": products["product_name"].iloc[b],
                "antecedent_id": products["product_id"].iloc[a],
                "consequent_id": products["product_id"].iloc[b],
                "bundle_share": share,
                "expected_lift": round(both / (pa * pb), 4),
            }
        )
    return truths


def _random_line_counts() -> tuple[np.ndarray, np.ndarray]:
    """Numbers of random lines an order can have (1 to 39) and their probabilities, K = 1 + Poisson(mean)."""
    ks = np.arange(1, 40)
    pk = np.exp(-_EXTRA_LINES_MEAN) * _EXTRA_LINES_MEAN ** (ks - 1) / np.cumprod(np.r_[1, np.arange(1, 39)])
    return ks, pk


def _inclusion_probability(pi: np.ndarray) -> np.ndarray:
    """P(item among the random lines of an order), exactly, for K = 1 + Poisson(mean)."""
    ks, pk = _random_line_counts()
    return 1 - ((1 - pi[:, None]) ** ks[None, :] * pk[None, :]).sum(axis=1)


def _pair_both_probability(pa: float, pb: float) -> float:
    """P(both items among the random lines of an order), exactly, for K = 1 + Poisson(mean)."""
    ks, pk = _random_line_counts()
    both = 1 - (1 - pa) ** ks - (1 - pb) ** ks + (1 - pa - pb) ** ks
    return float((both * pk).sum())


def _campaign_truths(campaigns: list[_CampaignOutcome], tx: pd.DataFrame) -> dict[str, dict]:
    """Planted truths by campaign, with the revenue of the contact campaigns' incremental orders."""
    truths = {}
    for campaign in campaigns:
        cid, truth = campaign.row[0], dict(campaign.truth)
        if truth["holdout"]:
            extra = tx[(tx["campaign_id"] == cid) & (tx["quantity"] > 0)]
            truth["incremental_revenue"] = float(extra["amount"].sum())
        truths[cid] = truth
    return truths


def _btyd_truths(customers: _Customers, dropped_at: np.ndarray, calendar: _Calendar) -> dict:
    """The planted buy-till-you-die process: its population laws and every customer's hidden values.

    Per customer, in customer-id order: ``rate_per_day`` (orders per day before the seasonal
    multiplier, channel multiplier included), ``dropout_probability`` (of leaving after each repeat
    order) and ``dropped_out_at`` (the day of the order after which the customer left for good, ISO
    date, or None if still active at the end). Incremental campaign orders, guest orders and returns
    are added on top of this process.
    """
    dropped = pd.Timestamp(calendar.start) + pd.to_timedelta(dropped_at, unit="D")
    return {
        "rate_gamma_shape": _RATE_GAMMA[0],
        "rate_gamma_scale_days": _RATE_GAMMA[1],
        "dropout_beta": list(_DROPOUT_BETA),
        "customer_id": customers.ids.tolist(),
        "rate_per_day": [round(float(v), 10) for v in customers.rate],
        "dropout_probability": [round(float(v), 8) for v in customers.dropout],
        "dropped_out_at": [None if pd.isna(d) else f"{d:%Y-%m-%d}" for d in dropped],
    }


def _planted_truths(
    config: SampleConfig, calendar: _Calendar, *, pairs: list[dict], campaigns: dict[str, dict], experiments: dict
) -> dict:
    """Every planted value, for tests to check that the analyses recover it."""
    return {
        "seed": config.seed,
        "start": str(calendar.start.date()),
        "end_exclusive": str(calendar.end.date()),
        "customers": config.customers,
        "season_multiplier": {str(k): v for k, v in _SEASON.items()},
        "peak_month": max(_SEASON, key=_SEASON.get),
        "channel_rate_multiplier": dict(_CHANNEL_RATE),
        "dropout_beta": list(_DROPOUT_BETA),
        "co_purchase_pairs": pairs,
        "campaigns": campaigns,
        "experiments": experiments,
        "guest_order_share": _GUEST_ORDER_SHARE,
        "return_order_share": _RETURN_ORDER_SHARE,
    }


def _make_messy(tx: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Add invalid rows: bad dates, non-numeric quantity, negative price, duplicate lines."""
    out = tx.astype({"order_datetime": "str", "quantity": "str", "unit_price": "str", "amount": "str"})
    picks = rng.choice(len(out), size=12, replace=False)
    bad = out.iloc[picks].copy()
    bad.iloc[0:3, bad.columns.get_loc("order_datetime")] = ["2025-13-45 10:00:00", "yesterday", "31/02/2025"]
    bad.iloc[3:5, bad.columns.get_loc("quantity")] = ["two", "1.5"]
    bad.iloc[5, bad.columns.get_loc("unit_price")] = "-500.0"
    bad.iloc[5, bad.columns.get_loc("amount")] = "-500.0"
    bad.iloc[6:8, bad.columns.get_loc("customer_id")] = None
    bad["order_id"] = [f"X{i:07d}" for i in range(len(bad))]
    bad.iloc[8:10, bad.columns.get_loc("order_id")] = bad["order_id"].iloc[8]
    bad.iloc[8:10, bad.columns.get_loc("product_id")] = bad["product_id"].iloc[8]
    return pd.concat([out, bad], ignore_index=True)


def write_sample(out_dir: str | Path, config: SampleConfig = SampleConfig(), *, file_format: str = "parquet") -> Path:
    """Generate the sample and write one file per table plus ``truths.json``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created if needed).
    config : SampleConfig, optional
        Size, span and seed.
    file_format : {"parquet", "csv"}, default="parquet"
        File format; messy data is always written as CSV.

    Returns
    -------
    Path
        The folder written.
    """
    if file_format not in ("parquet", "csv"):
        raise ValueError(f"file_format must be 'parquet' or 'csv'; got {file_format!r}.")
    if config.messy:
        file_format = "csv"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tables, truths = generate_sample(config)
    for name, frame in tables.items():
        for stale in out.glob(f"{name}.*"):
            stale.unlink()
        path = out / f"{name}.{file_format}"
        if file_format == "parquet":
            frame.to_parquet(path, index=False, compression="zstd")
        else:
            frame.to_csv(path, index=False, lineterminator="\n")
    (out / "truths.json").write_text(
        json.dumps(truths, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return out
