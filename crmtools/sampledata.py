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

The planted values are written to ``truths.json`` next to the data so tests
can check that analyses recover them. Same arguments give byte-identical
files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .periods import parse_period

__all__ = ["SampleConfig", "generate_sample", "write_sample"]

_CATEGORIES = {
    # category: (median price in yen, products, adjectives, nouns)
    "Skincare": (3200, ("Moist", "Gentle", "Bright", "Rich", "Clear", "Pure"),
                 ("Lotion", "Milk", "Serum", "Cream", "Cleansing Oil", "Face Mask", "Gel")),
    "Supplements": (2800, ("Daily", "Premium", "Organic", "Active", "Herbal"),
                    ("Collagen", "Blueberry Extract", "Lactic Acid Bacteria", "Vitamin C", "Glucosamine", "Aojiru")),
    "Food": (1800, ("Hokkaido", "Kyoto", "Shizuoka", "Okinawa", "Uji", "Kagoshima"),
             ("Green Tea", "Soba", "Miso", "Dashi Pack", "Rice Crackers", "Black Sugar", "Umeboshi")),
    "Kitchen": (4200, ("Compact", "Cast Iron", "Nonstick", "Bamboo", "Stainless"),
                ("Pan", "Knife", "Rice Cooker Pot", "Cutting Board", "Bento Box", "Kettle")),
    "Apparel": (5200, ("Cotton", "Linen", "Warm", "Light", "Silk"),
                ("Pajamas", "Socks", "Cardigan", "Scarf", "Inner Wear", "Yukata")),
    "Home": (3800, ("Soft", "Natural", "Hinoki", "Washable", "Aroma"),
             ("Towel", "Pillow", "Blanket", "Diffuser", "Storage Box", "Slippers")),
}

_CHANNELS = ("web", "app", "catalog", "phone")
_CHANNEL_SHARE = (0.45, 0.25, 0.20, 0.10)
#: Purchase-rate multiplier by acquisition channel (planted: app customers repeat most).
_CHANNEL_RATE = {"web": 1.0, "app": 1.4, "catalog": 0.8, "phone": 0.7}
#: Monthly purchase-rate multiplier (planted December peak).
_SEASON = {1: 0.9, 2: 0.85, 3: 1.0, 4: 1.0, 5: 1.0, 6: 0.95, 7: 1.05, 8: 0.95, 9: 1.0, 10: 1.0, 11: 1.2, 12: 1.8}
_REGIONS = ("Tokyo", "Osaka", "Kanagawa", "Aichi", "Saitama", "Chiba", "Hyogo", "Hokkaido", "Fukuoka", "Shizuoka",
            "Hiroshima", "Miyagi", "Kyoto", "Niigata", "Okinawa")
_SURNAMES = ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi",
             "Kato", "Yoshida", "Yamada", "Sasaki", "Yamaguchi", "Matsumoto")
_GIVEN = ("Hanako", "Taro", "Yuki", "Haruto", "Aoi", "Sota", "Mei", "Ren", "Yui", "Daiki", "Sakura", "Kenji")


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


def _catalogue(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for cat_index, (category, (median, adjectives, nouns)) in enumerate(_CATEGORIES.items()):
        for adj in adjectives:
            for noun in nouns:
                rows.append((category, f"{adj} {noun}", median))
    frame = pd.DataFrame(rows, columns=["category", "product_name", "median"])
    frame["product_id"] = [f"P{i + 1:04d}" for i in range(len(frame))]
    price = np.exp(rng.normal(np.log(frame["median"].to_numpy()), 0.55))
    frame["list_price"] = np.maximum(100, np.round(price, -1)).astype("float64")
    return frame[["product_id", "product_name", "category", "list_price"]]


def _popularity(n: int, rng: np.random.Generator) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** 0.9
    rng.shuffle(weights)
    return weights / weights.sum()


_EXTRA_LINES_MEAN = 0.6  # lines per order = 1 + Poisson(0.6)


def _inclusion_probability(pi: np.ndarray) -> np.ndarray:
    """P(item among the random lines of an order), exactly, for K = 1 + Poisson(mean)."""
    ks = np.arange(1, 40)
    pk = np.exp(-_EXTRA_LINES_MEAN) * _EXTRA_LINES_MEAN ** (ks - 1) / np.cumprod(np.r_[1, np.arange(1, 39)])
    return 1 - ((1 - pi[:, None]) ** ks[None, :] * pk[None, :]).sum(axis=1)


def _pair_both_probability(pa: float, pb: float) -> float:
    ks = np.arange(1, 40)
    pk = np.exp(-_EXTRA_LINES_MEAN) * _EXTRA_LINES_MEAN ** (ks - 1) / np.cumprod(np.r_[1, np.arange(1, 39)])
    both = 1 - (1 - pa) ** ks - (1 - pb) ** ks + (1 - pa - pb) ** ks
    return float((both * pk).sum())


def _order_lines(order_ids: np.ndarray, rng: np.random.Generator, products: pd.DataFrame, pi: np.ndarray,
                 pairs: list[tuple[int, int, float]]) -> pd.DataFrame:
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


def _simulate_orders(first: np.ndarray, rate: np.ndarray, dropout: np.ndarray, horizon: float,
                     start: pd.Timestamp, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Repeat-order times (days from start) per customer, by thinning a seasonal Poisson process."""
    peak = max(_SEASON.values())
    season_by_day = np.array([_SEASON[(start + pd.Timedelta(days=int(d))).month]
                              for d in range(int(np.ceil(horizon)) + 1)])
    active = np.arange(first.size)
    t = first.astype("float64").copy()
    out_customer, out_time = [], []
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
            active = active[~np.isin(active, buyers[dies])]
    return np.concatenate(out_customer), np.concatenate(out_time)


def _time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: lunchtime and evening peaks."""
    hours = np.where(rng.random(n) < 0.4, rng.normal(12.5, 1.5, n), rng.normal(21.0, 1.8, n))
    return (np.clip(hours, 0, 23.99) * 3600).astype("int64")


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
    ['campaign_contacts', 'campaigns', 'customers', 'experiments', 'products', 'transactions']
    >>> bool((tables["transactions"]["amount"] ==
    ...       tables["transactions"]["quantity"] * tables["transactions"]["unit_price"]).all())
    True
    """
    rng = np.random.default_rng(config.seed)
    start = parse_period(config.start).start
    end = start + pd.DateOffset(months=config.months)
    horizon = float((end - start).days)
    n = config.customers

    products = _catalogue(rng)
    pi = _popularity(len(products), rng)
    # Planted pairs: mid-popularity items bundled in a fixed share of orders (expected lifts in truths.json).
    by_popularity = np.argsort(-pi, kind="stable")
    pair_specs = [(int(by_popularity[8]), int(by_popularity[9]), 0.006),
                  (int(by_popularity[20]), int(by_popularity[21]), 0.005),
                  (int(by_popularity[40]), int(by_popularity[41]), 0.004)]

    # --- customers: arrivals by month, growing, with a year-end bump
    month_starts = [start + pd.DateOffset(months=m) for m in range(config.months)]
    weights = np.array([(1 + 0.02 * m) * (1.4 if ms.month in (11, 12) else 1.0) for m, ms in enumerate(month_starts)])
    month_of = rng.choice(config.months, size=n, p=weights / weights.sum())
    month_offset = np.array([(ms - start).days for ms in month_starts])
    month_len = np.array([((ms + pd.DateOffset(months=1)) - ms).days for ms in month_starts])
    first_day = month_offset[month_of] + rng.random(n) * month_len[month_of]
    channel_idx = rng.choice(len(_CHANNELS), size=n, p=_CHANNEL_SHARE)
    channels = np.array(_CHANNELS)[channel_idx]
    base_rate = rng.gamma(0.9, 0.5 / 30.0, n)  # orders per day, mean ~0.45 a month
    rate = base_rate * np.array([_CHANNEL_RATE[c] for c in _CHANNELS])[channel_idx]
    dropout = rng.beta(1.3, 4.0, n)
    order = np.argsort(first_day, kind="stable")  # customer numbers follow arrival
    first_day, channels, rate, dropout = first_day[order], channels[order], rate[order], dropout[order]
    customer_ids = np.array([f"C{i + 1:06d}" for i in range(n)])

    rep_customer, rep_time = _simulate_orders(first_day, rate, dropout, horizon, start, rng)
    cust_idx = np.concatenate([np.arange(n), rep_customer])
    day = np.concatenate([first_day, rep_time])

    # --- campaigns and their extra (incremental) orders
    campaign_defs = [
        ("CMP-01", "Spring catalogue", "dm", 2, 0, 28, 0.30, 0.05, 3000),
        ("CMP-02", "Summer email", "email", 6, 4, 21, 0.10, 0.03, 3000),
        ("CMP-03", "Autumn coupon", "coupon", 20, 0, 28, 0.30, 0.06, 5000),
        ("CMP-04", "Win-back email", "email", 21, 2, 21, 0.30, 0.0, 3000),
        ("CMP-05", "Year-end catalogue", "dm", 22, 14, 30, 0.30, 0.07, 6000),
        ("CMP-06", "Web ads", "ads", 23, 0, 30, None, None, 0),
    ]
    cost_per_contact = {"dm": 180.0, "email": 2.0, "coupon": 120.0}
    campaigns, contacts, extra_customer, extra_day, extra_campaign, truths_campaigns = [], [], [], [], [], {}
    for cid, name, channel, month, offset, length, holdout_share, uplift, target_size in campaign_defs:
        if month >= config.months:
            continue
        c_start = month_offset[month] + offset
        c_end = min(c_start + length, horizon)
        start_ts = start + pd.Timedelta(days=int(c_start))
        end_ts = start + pd.Timedelta(days=int(c_end)) - pd.Timedelta(seconds=1)
        if holdout_share is None:
            campaigns.append((cid, name, channel, start_ts, end_ts, 1_500_000.0))
            truths_campaigns[cid] = {"holdout": False, "planted_uplift": None}
            continue
        eligible = np.flatnonzero(first_day < c_start)
        size = min(target_size * n // 20000, eligible.size)
        if size < 10:
            continue
        targets = np.sort(rng.choice(eligible, size=size, replace=False))
        is_holdout = rng.random(size) < holdout_share
        treated = targets[~is_holdout]
        campaigns.append((cid, name, channel, start_ts, end_ts, round(cost_per_contact[channel] * treated.size, 0)))
        contact_time = start_ts + pd.Timedelta(hours=10)
        for ids, group in ((targets[~is_holdout], "treatment"), (targets[is_holdout], "holdout")):
            contacts.append(pd.DataFrame({"campaign_id": cid, "customer_id": customer_ids[ids],
                                          "group": group, "contacted_at": contact_time}))
        responders = treated[rng.random(treated.size) < uplift]
        extra_customer.append(responders)
        extra_day.append(c_start + 10 / 24 + rng.random(responders.size) * (c_end - c_start - 10 / 24))
        extra_campaign.append(np.full(responders.size, cid))
        truths_campaigns[cid] = {"holdout": True, "planted_uplift": uplift, "treated": int(treated.size),
                                 "holdout_size": int(is_holdout.sum()), "extra_orders": int(responders.size),
                                 "window_start": str(start_ts), "window_end": str(end_ts)}

    n_base = cust_idx.size
    if extra_customer:
        cust_idx = np.concatenate([cust_idx, *extra_customer])
        day = np.concatenate([day, *extra_day])
    campaign_of_order = np.concatenate([np.full(n_base, None, dtype=object),
                                        *(c.astype(object) for c in extra_campaign)]) if extra_customer else \
        np.full(n_base, None, dtype=object)

    # --- orders: sort by time, assign ids, draw channels and lines
    seconds = (np.floor(day) * 86400).astype("int64") + _time_of_day(rng, day.size)
    sort = np.lexsort((cust_idx, seconds))
    cust_idx, seconds, campaign_of_order = cust_idx[sort], seconds[sort], campaign_of_order[sort]
    n_orders = cust_idx.size
    order_ids = np.array([f"O{i + 1:07d}" for i in range(n_orders)])
    own_channel = rng.random(n_orders) < 0.85
    order_channel = np.where(own_channel, channels[cust_idx], np.array(_CHANNELS)[rng.integers(0, 4, n_orders)])
    guest = (rng.random(n_orders) < 0.01) & (campaign_of_order == None)  # noqa: E711 - object array
    # Guests are not customers: their orders are extra orders without an id.
    lines = _order_lines(order_ids, rng, products, pi, pair_specs)
    o = lines["o"].to_numpy()
    prod = products.iloc[lines["p"].to_numpy()].reset_index(drop=True)
    tx = pd.DataFrame({
        "order_id": lines["order_id"].to_numpy(),
        "customer_id": np.where(guest[o], None, customer_ids[cust_idx[o]]),
        "order_datetime": start + pd.to_timedelta(seconds[o], unit="s"),
        "product_id": prod["product_id"].to_numpy(),
        "quantity": lines["quantity"].to_numpy(),
        "unit_price": prod["list_price"].to_numpy(),
        "channel": order_channel[o],
        "product_name": prod["product_name"].to_numpy(),
        "category": prod["category"].to_numpy(),
        "campaign_id": campaign_of_order[o],
    })
    tx["amount"] = tx["quantity"] * tx["unit_price"]
    ads = [c for c in campaigns if c[2] == "ads"]
    for cid, _, _, a_start, a_end, _ in ads:
        in_window = (tx["order_datetime"] >= a_start) & (tx["order_datetime"] <= a_end) & (tx["channel"] == "web")
        picked = tx.loc[in_window, "order_id"].drop_duplicates()
        picked = picked[rng.random(picked.size) < 0.08]
        # Orders already attributed to a contact campaign keep that attribution (their extra orders are planted).
        tx.loc[tx["order_id"].isin(picked) & tx["campaign_id"].isna(), "campaign_id"] = cid

    # --- returns: part of ~3% of non-campaign orders, 3-14 days later
    eligible_orders = np.flatnonzero(campaign_of_order == None)  # noqa: E711
    returned = np.sort(rng.choice(eligible_orders, size=int(0.03 * eligible_orders.size), replace=False))
    first_line = lines.groupby("o", sort=True).head(1)
    ret = tx.loc[first_line.index[np.isin(first_line["o"].to_numpy(), returned)]].copy()
    ret["order_id"] = "R" + ret["order_id"].str.slice(1)
    ret["order_datetime"] = ret["order_datetime"] + pd.to_timedelta(rng.integers(3, 15, len(ret)), unit="D")
    ret["quantity"] = -ret["quantity"]
    ret["amount"] = ret["quantity"] * ret["unit_price"]
    ret["campaign_id"] = None
    tx = pd.concat([tx, ret[ret["order_datetime"] < end]], ignore_index=True)
    tx = tx.sort_values(["order_datetime", "order_id", "product_id"], kind="stable").reset_index(drop=True)
    tx = tx[["order_id", "customer_id", "order_datetime", "product_id", "quantity", "unit_price", "amount",
             "channel", "product_name", "category", "campaign_id"]]
    tx["order_datetime"] = tx["order_datetime"].astype("datetime64[s]")

    # --- customers table (personal fields are synthetic, and must never reach a report)
    first_purchase = start + pd.to_timedelta(np.floor(first_day) * 86400 + 0, unit="s")
    signup_lag = rng.integers(0, 15, n)
    customers = pd.DataFrame({
        "customer_id": customer_ids,
        "first_seen": (first_purchase - pd.to_timedelta(signup_lag, unit="D")).astype("datetime64[s]"),
        "acquisition_channel": channels,
        "region": np.array(_REGIONS)[rng.integers(0, len(_REGIONS), n)],
        "name": [f"{_SURNAMES[i % len(_SURNAMES)]} {_GIVEN[(i * 7) % len(_GIVEN)]}" for i in range(n)],
        "email": [f"{cid.lower()}@example.com" for cid in customer_ids],
        "phone": [f"090-{(i * 7919) % 10000:04d}-{i % 10000:04d}" for i in range(n)],
    })

    campaign_frame = pd.DataFrame(campaigns, columns=["campaign_id", "name", "channel", "start_date", "end_date",
                                                      "cost"])
    for c in ("start_date", "end_date"):
        campaign_frame[c] = campaign_frame[c].astype("datetime64[s]")
    contact_frame = (pd.concat(contacts, ignore_index=True) if contacts else
                     pd.DataFrame(columns=["campaign_id", "customer_id", "group", "contacted_at"]))
    contact_frame["contacted_at"] = contact_frame["contacted_at"].astype("datetime64[s]")
    contact_frame = contact_frame.sort_values(["campaign_id", "customer_id"], kind="stable").reset_index(drop=True)

    experiments, truths_experiments = _experiments(rng, customer_ids, end)

    # --- planted truths measured exactly where they are realised
    incl = _inclusion_probability(pi)
    truths_pairs = []
    for a, b, share in pair_specs:
        pa = 1 - (1 - share) * (1 - incl[a])
        pb = 1 - (1 - share) * (1 - incl[b])
        both = share + (1 - share) * _pair_both_probability(pi[a], pi[b])
        truths_pairs.append({"antecedent": products["product_name"].iloc[a], "consequent":
                             products["product_name"].iloc[b], "antecedent_id": products["product_id"].iloc[a],
                             "consequent_id": products["product_id"].iloc[b], "bundle_share": share,
                             "expected_lift": round(both / (pa * pb), 4)})
    for cid, truth in truths_campaigns.items():
        if not truth.get("holdout"):
            continue
        extra = tx[(tx["campaign_id"] == cid) & (tx["quantity"] > 0)]
        truth["incremental_revenue"] = float(extra["amount"].sum())
    truths = {
        "seed": config.seed,
        "start": str(start.date()),
        "end_exclusive": str(end.date()),
        "customers": n,
        "season_multiplier": {str(k): v for k, v in _SEASON.items()},
        "peak_month": 12,
        "channel_rate_multiplier": _CHANNEL_RATE,
        "dropout_beta": [1.3, 4.0],
        "co_purchase_pairs": truths_pairs,
        "campaigns": truths_campaigns,
        "experiments": truths_experiments,
        "guest_order_share": 0.01,
        "return_order_share": 0.03,
    }

    tables = {
        "transactions": tx,
        "customers": customers,
        "products": products.reset_index(drop=True),
        "campaigns": campaign_frame,
        "campaign_contacts": contact_frame,
        "experiments": experiments,
    }
    if config.messy:
        tables["transactions"] = _make_messy(tx, rng)
    return tables, truths


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
        revenue = np.where(converted, np.round(means * np.exp(rng.normal(-sigma ** 2 / 2, sigma, units.size)), 0),
                           0.0)
        exposed = end - pd.Timedelta(days=days_before_end) + pd.to_timedelta(
            rng.integers(0, 14 * 86400, units.size), unit="s")
        frames.append(pd.DataFrame({"experiment_id": exp_id, "variant": np.array(names)[assignment],
                                    "unit_id": units, "exposed_at": exposed.astype("datetime64[s]"),
                                    "converted": converted, "revenue": revenue}))
        control_rate, control_rev = variants["control"]
        truths[exp_id] = {
            "units_per_variant": per_variant,
            "variants": {v: {"conversion_rate": r, "revenue_per_converter": m,
                             "relative_conversion_lift": round(r / control_rate - 1, 6),
                             "relative_revenue_per_unit_lift": round(r * m / (control_rate * control_rev) - 1, 6)}
                         for v, (r, m) in variants.items()},
        }
    frame = pd.concat(frames, ignore_index=True).sort_values(["experiment_id", "unit_id"], kind="stable")
    return frame.reset_index(drop=True), truths


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
    (out / "truths.json").write_text(json.dumps(truths, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return out
