"""Campaign ROI: what a campaign cost, what it brought in, and what it added over a holdout.

Inputs are the canonical ``campaigns``, ``campaign_contacts`` and
``transactions`` tables (see :mod:`crmtools.schema`).

**Response window.** A contacted customer (treatment or holdout) responds
with orders placed from their ``contacted_at`` up to the campaign's
``end_date`` inclusive: ``contacted_at <= order_datetime <= end_date``. An
``end_date`` at midnight means the whole of that day (the schema calls it the
last day of the window). ``response_window_days=N`` replaces the end by
``contacted_at + N days`` (exclusive) for every customer. Holdout customers,
who were not contacted, use the ``contacted_at`` they would have had.

**Attribution.** A campaign's *attributed revenue* is the net order value
(returns in the window netted off) of its treatment group in the window; a
*responder* is a treated customer with at least one order line of positive
quantity in the window; a *new customer* is a responder whose first purchase
ever falls in the window. Campaigns without a contact list (e.g. web ads)
fall back to orders tagged with the campaign in the transactions'
``campaign_id`` column and dated within ``start_date .. end_date``
(``attribution == "tag"``); with neither, revenue is not attributable
(``"none"``) and ROI is NaN with a reason.

**Measures.** ``gross_profit = margin * attributed_revenue``;
``roi = (gross_profit - cost) / cost``; ``roas = attributed_revenue / cost``
(gross revenue per yen spent); ``cpa = cost / responders``;
``cac = cost / new_customers``. Attributed figures credit the campaign with
purchases the customers would have made anyway.

**Incrementality.** With a holdout, the campaign's effect is the treatment
minus holdout difference scaled to the treated group:
``incremental_conversions = (rate_t - rate_h) * treated`` with a Newcomb
(Wilson hybrid score) two-proportion interval, and
``incremental_revenue = (mean_t - mean_h) * treated`` of per-customer window
revenue (zero for non-responders) with a Welch interval.
``incremental_roi = (margin * incremental_revenue - cost) / cost``. A holdout
larger than the treatment group is fine: rates and means do not depend on the
group sizes, only the precision does. ``se`` columns allow roll-ups.

**Payback** compares cumulative incremental gross profit with the cost,
month by month after contact (a month is 30.4375 days), using every order
after contact, not only the window, up to ``as_of``: ``payback_months`` is the
first whole month by which it covered the cost. It uses the point estimate:
when ``incremental_significant`` is False the campaign may not have paid back
at all.

**Which campaigns.** ``period=`` keeps the campaigns whose window
``start_date .. end_date`` overlaps the period (the rule of
:mod:`crmtools.slicing`, also used by :meth:`crmtools.data.Dataset.for_period`),
with the figures of the whole campaign.

**Undefined values** are NaN, never infinite, with the reason in
``roi_reason`` or ``incremental_reason``: zero cost (ROI, ROAS and incremental
ROI undefined; CPA and CAC are 0), no responders (CPA undefined), no new
customers (CAC undefined), no holdout (incremental figures undefined), a
holdout or treatment group below 2 customers (no revenue interval).

Examples
--------
>>> campaigns = pd.DataFrame({"campaign_id": ["C1"], "name": ["Spring DM"], "channel": ["dm"],
...                           "start_date": pd.to_datetime(["2025-04-01"]),
...                           "end_date": pd.to_datetime(["2025-04-30"]), "cost": [1000.0]})
>>> contacts = pd.DataFrame({"campaign_id": "C1", "customer_id": ["a", "b", "c", "d"],
...                          "group": ["treatment", "treatment", "holdout", "holdout"],
...                          "contacted_at": pd.Timestamp("2025-04-01 10:00")})
>>> tx = pd.DataFrame({"customer_id": ["a", "a", "c", "d"], "order_id": ["o1", "o2", "o3", "o4"],
...                    "order_datetime": pd.to_datetime(["2025-04-05 09:00", "2025-04-30 18:00",
...                                                      "2025-04-10 12:00", "2025-03-01 15:00"]),
...                    "quantity": [1, 1, 1, 1], "amount": [3000.0, 2000.0, 1500.0, 900.0]})
>>> roi = campaign_roi(campaigns, contacts, tx, as_of="2025-05-31")
>>> roi[["attributed_revenue", "roi", "roas", "cpa", "incremental_revenue", "incremental_roi"]]
   attributed_revenue  roi  roas     cpa  incremental_revenue  incremental_roi
0              5000.0  4.0   5.0  1000.0               3500.0              2.5
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._deprecation import warn_deprecated
from .checks import message, require_columns, require_frame, require_range
from .engine import lookup, merge_on_ids, sorted_codes
from .periods import as_period, as_point
from .slicing import campaigns_active, rows_between

__all__ = ["ROI_COLUMNS", "ROLLUP_COLUMNS", "campaign_roi", "campaign_rollup"]

#: Columns of :func:`campaign_roi`, in order.
ROI_COLUMNS = [
    "campaign_id",
    "name",
    "channel",
    "start_date",
    "end_date",
    "cost",
    "margin",
    "attribution",
    "treated",
    "holdout",
    "responders",
    "response_rate",
    "new_customers",
    "attributed_revenue",
    "gross_profit",
    "roi",
    "roas",
    "cpa",
    "cac",
    "roi_reason",
    "holdout_responders",
    "holdout_response_rate",
    "incremental_conversions",
    "incremental_conversions_ci_low",
    "incremental_conversions_ci_high",
    "incremental_conversions_se",
    "incremental_revenue",
    "incremental_revenue_ci_low",
    "incremental_revenue_ci_high",
    "incremental_revenue_se",
    "incremental_significant",
    "incremental_gross_profit",
    "incremental_roi",
    "incremental_roi_ci_low",
    "incremental_roi_ci_high",
    "payback_months",
    "payback",
    "payback_observed_months",
    "incremental_reason",
]

#: Columns of :func:`campaign_rollup`, in order (the grouping column is named after ``by``).
ROLLUP_COLUMNS = [
    "level",
    "channel",
    "campaigns",
    "cost",
    "treated",
    "holdout",
    "responders",
    "new_customers",
    "attributed_revenue",
    "gross_profit",
    "roi",
    "roas",
    "cpa",
    "cac",
    "roi_reason",
    "incremental_campaigns",
    "incremental_cost",
    "incremental_conversions",
    "incremental_conversions_ci_low",
    "incremental_conversions_ci_high",
    "incremental_revenue",
    "incremental_revenue_ci_low",
    "incremental_revenue_ci_high",
    "incremental_gross_profit",
    "incremental_roi",
    "incremental_roi_ci_low",
    "incremental_roi_ci_high",
]

_MONTH_DAYS = 30.4375
_GROUPS = ("treatment", "holdout")
_COLUMNS_HINT = "Name your own columns with the *_col= arguments."


# --------------------------------------------------------------------------- inputs


def _require_table(frame, columns: list[str], table: str, hint: str = _COLUMNS_HINT) -> None:
    require_frame(frame, name=table, allowed=f"the canonical {table} table (a pandas DataFrame)")
    require_columns(frame, columns, name=table, hint=hint)


def _check_arguments(margin, alpha, response_window_days, max_payback_months) -> None:
    require_range(margin, name="margin", low=0, high=1, closed="right")
    require_range(alpha, name="alpha", low=0, high=1, closed="neither")
    require_range(response_window_days, name="response_window_days", low=0, closed="neither", allow_none=True)
    require_range(max_payback_months, name="max_payback_months", low=1, integer=True)


def _datetimes(series: pd.Series, table: str, column: str) -> pd.Series:
    if not pd.api.types.is_datetime64_any_dtype(series):
        raise TypeError(
            message(
                f"{table} column {column!r} has the wrong type",
                allowed="datetime64 values (load the table with crmtools.data or pandas.to_datetime)",
                received=f"dtype {series.dtype}",
            )
        )
    if series.isna().any():
        rows = list(series.index[series.isna()][:5])
        raise ValueError(
            message(
                f"{table} column {column!r} has missing datetimes",
                allowed="a datetime on every row",
                received=f"{int(series.isna().sum())} missing, e.g. rows {rows}",
            )
        )
    if getattr(series.dt, "tz", None) is not None:
        raise ValueError(
            message(
                f"{table} column {column!r} is timezone-aware",
                allowed="naive business-local times",
                received=f"timezone {series.dt.tz}",
            )
        )
    return series


def _campaign_table(campaigns: pd.DataFrame, *, campaign_col: str, channel_col: str, cost_col: str) -> pd.DataFrame:
    """The campaigns under canonical names, checked: one row per campaign, costs >= 0, ends not before starts."""
    camp = pd.DataFrame(
        {
            "campaign_id": campaigns[campaign_col].astype("str"),
            "name": campaigns["name"].astype("str")
            if "name" in campaigns.columns
            else pd.Series(pd.NA, index=campaigns.index, dtype="str"),
            "channel": campaigns[channel_col].astype("str"),
            "start_date": _datetimes(campaigns["start_date"], "campaigns", "start_date"),
            "end_date": _datetimes(campaigns["end_date"], "campaigns", "end_date"),
            "cost": campaigns[cost_col],
        }
    ).reset_index(drop=True)
    if camp["campaign_id"].duplicated().any():
        raise ValueError(
            message(
                "campaigns repeats campaign ids",
                allowed="one row per campaign",
                received=f"duplicates {camp.loc[camp['campaign_id'].duplicated(), 'campaign_id'].tolist()[:5]}",
            )
        )
    if not pd.api.types.is_numeric_dtype(camp["cost"]) or camp["cost"].isna().any() or (camp["cost"] < 0).any():
        bad = (
            camp.loc[~(camp["cost"] >= 0), ["campaign_id", "cost"]]
            if pd.api.types.is_numeric_dtype(camp["cost"])
            else camp[["campaign_id", "cost"]]
        )
        raise ValueError(
            message(
                f"campaigns column {cost_col!r} must be a cost",
                allowed="a number >= 0 on every row",
                received=str(bad.head(5).to_dict("records")),
            )
        )
    camp["cost"] = camp["cost"].astype(float)
    if (camp["end_date"] < camp["start_date"]).any():
        bad = camp.loc[camp["end_date"] < camp["start_date"], "campaign_id"].tolist()
        raise ValueError(
            message(
                "campaigns end before they start", allowed="end_date >= start_date", received=f"campaigns {bad[:5]}"
            )
        )
    return camp


def _contact_table(
    contacts: pd.DataFrame,
    camp: pd.DataFrame,
    *,
    campaign_col: str,
    customer_col: str,
    group_col: str,
    contacted_col: str,
) -> pd.DataFrame:
    """The contacts under canonical names, checked: known groups and campaigns, one row per campaign and customer."""
    cont = pd.DataFrame(
        {
            "campaign_id": contacts[campaign_col].astype("str"),
            "customer_id": contacts[customer_col].astype("str"),
            "group": contacts[group_col].astype("str"),
            "contacted_at": _datetimes(contacts[contacted_col], "campaign_contacts", contacted_col),
        }
    ).reset_index(drop=True)
    bad_group = ~cont["group"].isin(_GROUPS)
    if bad_group.any():
        raise ValueError(
            message(
                f"campaign_contacts column {group_col!r} has unknown groups",
                allowed=str(list(_GROUPS)),
                received=str(sorted(cont.loc[bad_group, "group"].unique())[:5]),
            )
        )
    unknown = ~cont["campaign_id"].isin(camp["campaign_id"].unique().tolist())
    if unknown.any():
        raise ValueError(
            message(
                "campaign_contacts refers to campaigns not in the campaigns table",
                allowed="ids of listed campaigns",
                received=str(sorted(cont.loc[unknown, "campaign_id"].unique())[:5]),
            )
        )
    dup = cont.duplicated(["campaign_id", "customer_id"], keep=False)
    if dup.any():
        raise ValueError(
            message(
                "campaign_contacts lists a customer twice in one campaign",
                allowed="one row per campaign and customer (never in both groups)",
                received=f"{int(dup.sum())} rows, e.g. "
                f"{cont.loc[dup, ['campaign_id', 'customer_id']].head(3).to_dict('records')}",
            )
        )
    return cont


def _transaction_table(
    transactions: pd.DataFrame, *, customer_col: str, date_col: str, amount_col: str, quantity_col: str, tag_col: str
) -> tuple[pd.DataFrame, pd.Series | None, pd.Series]:
    """The order lines under canonical names, their campaign tags (None without a tag column), and which
    lines have a customer."""
    tx = pd.DataFrame(
        {
            "customer_id": transactions[customer_col].astype("str"),
            "order_datetime": _datetimes(transactions[date_col], "transactions", date_col),
            "amount": transactions[amount_col].astype(float),
            "quantity": transactions[quantity_col]
            if quantity_col in transactions.columns
            else transactions[amount_col],
        }
    )
    tagged = transactions[tag_col].astype("str") if tag_col in transactions.columns else None
    known = tx["customer_id"].notna() & transactions[customer_col].notna().to_numpy()
    return tx, tagged, known


def _running_in(camp: pd.DataFrame, cont: pd.DataFrame, period) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The campaigns whose window overlaps ``period`` and their contacts (warning where the old rule differs)."""
    p = as_period(period)
    camp = campaigns_active(camp, period=p)
    earlier = camp.loc[camp["start_date"] < p.start, "campaign_id"].tolist()
    if earlier:
        warn_deprecated(
            f"campaign_roi(period={p.label!r}) now keeps the campaigns running in the period, as the reports "
            f"do; before crmtools 0.2 it kept only those starting in it. {len(earlier)} campaign"
            f"{'s' if len(earlier) > 1 else ''} started earlier and {'are' if len(earlier) > 1 else 'is'} now "
            f"included: {earlier[:5]}. For the old selection, filter campaigns on start_date first.",
            stacklevel=4,
        )
    cont = cont[cont["campaign_id"].isin(camp["campaign_id"].unique().tolist())].reset_index(drop=True)
    return camp, cont


# --------------------------------------------------------------------------- per-customer responses


def _window(contacts: pd.DataFrame, campaigns: pd.DataFrame, response_window_days) -> pd.DataFrame:
    """Add each contact's window: ``start`` (inclusive) and ``stop`` (exclusive)."""
    end = lookup(contacts["campaign_id"], campaigns.set_index("campaign_id")["end_date"])
    if response_window_days is None:
        midnight = end == end.dt.normalize()
        # A midnight end is the last day, included in full; otherwise the end instant itself is included.
        stop = end.where(~midnight, end + pd.Timedelta(days=1))
        stop = stop.where(midnight, end + pd.Timedelta(microseconds=1))
    else:
        stop = contacts["contacted_at"] + pd.Timedelta(days=float(response_window_days))
    return contacts.assign(start=contacts["contacted_at"], stop=stop)


def _customer_responses(contacts: pd.DataFrame, tx: pd.DataFrame, first_purchase: pd.Series) -> pd.DataFrame:
    """One row per contact with window revenue, whether they responded and whether they were new."""
    joined = _joined_by_campaign(
        contacts[["campaign_id", "customer_id", "start", "stop"]],
        tx,
        ["customer_id", "order_datetime", "amount", "quantity"],
        start=contacts.groupby("campaign_id", sort=False)["start"].min(),
        stop=contacts.groupby("campaign_id", sort=False)["stop"].max(),
    )
    inside = (joined["order_datetime"] >= joined["start"]) & (joined["order_datetime"] < joined["stop"])
    joined = joined[inside]
    per = (
        joined.assign(bought=joined["quantity"] > 0)
        .groupby(["campaign_id", "customer_id"], sort=False)
        .agg(revenue=("amount", "sum"), responded=("bought", "any"))
    )
    out = merge_on_ids(contacts, per.reset_index(), on=["campaign_id", "customer_id"], how="left")
    out["revenue"] = out["revenue"].fillna(0.0).astype(float)
    out["responded"] = out["responded"].fillna(False).astype(bool)
    first = pd.Series(
        lookup(out["customer_id"], first_purchase).to_numpy(),
        index=out.index,
        dtype=out["start"].dtype if first_purchase.empty else None,
    )
    out["new"] = out["responded"] & (first >= out["start"]).to_numpy() & (first < out["stop"]).to_numpy()
    return out


def _joined_by_campaign(
    contacts: pd.DataFrame,
    tx: pd.DataFrame,
    columns: list[str],
    *,
    start: pd.Series,
    stop: pd.Series,
    keep_keys: bool = True,
) -> pd.DataFrame:
    """Each contact with its customer's order lines from its campaign's ``start`` to ``stop`` (exclusive).

    ``start`` and ``stop`` are indexed by campaign id. One join of every contact with every line from the first
    campaign's start to the last one's stop paired each contact with years of its customer's lines when campaigns
    spread over years; campaign by campaign, a contact meets only the lines its campaign's dates can count. The rows
    of each campaign (and so of each campaign and customer) come in the order that join gives them: contacts in
    their order, each with its lines in theirs (callers filter the rows and add them up: the same sums). Contacts
    without a campaign id meet no line (no figure counts them).
    """
    parts = []
    for campaign, part in contacts.groupby("campaign_id", sort=False, observed=True):
        lo, hi = start.get(campaign, pd.NaT), stop.get(campaign, pd.NaT)
        window = tx.iloc[:0] if pd.isna(lo) or pd.isna(hi) else rows_between(tx, "order_datetime", start=lo, end=hi)
        parts.append(merge_on_ids(part, window[columns], on=["customer_id"], keep_keys=keep_keys))
    if not parts:
        return merge_on_ids(contacts, tx.iloc[:0][columns], on=["customer_id"], keep_keys=keep_keys)
    return pd.concat(parts, ignore_index=True)


def _group_stats(responses: pd.DataFrame) -> pd.DataFrame:
    """Per campaign and group: n, responders, new customers, revenue sum, mean and variance."""
    g = responses.groupby(["campaign_id", "group"], sort=False)
    out = g.agg(
        n=("customer_id", "size"),
        responders=("responded", "sum"),
        new=("new", "sum"),
        revenue=("revenue", "sum"),
        mean=("revenue", "mean"),
        var=("revenue", "var"),
    )
    return out.reset_index()


def _payback(
    responses: pd.DataFrame, tx: pd.DataFrame, costs: pd.Series, margin: float, as_of: pd.Timestamp, max_months: int
) -> pd.DataFrame:
    """First whole month after contact by which cumulative incremental gross profit covers the cost."""
    month = pd.Timedelta(days=_MONTH_DAYS)
    sizes = responses.groupby(["campaign_id", "group"], sort=False).size().unstack(fill_value=0)
    sizes = sizes.reindex(columns=list(_GROUPS), fill_value=0)
    last_contact = responses.groupby("campaign_id", sort=False)["contacted_at"].max()
    observed = np.floor((as_of - last_contact) / month).clip(lower=0, upper=max_months).astype(int)
    # campaigns and groups as categories and without the ids: the join copies them to every order line
    contacts = responses[["campaign_id", "customer_id", "group", "contacted_at"]]
    # a month counted ends within ``observed`` months of its contact, and by as_of: each campaign's lines from its
    # first contact to a month past the last one's last month (the exact test below decides)
    orders = _joined_by_campaign(
        contacts.astype({"campaign_id": "category", "group": "category"}),
        tx,
        ["customer_id", "order_datetime", "amount"],
        start=responses.groupby("campaign_id", sort=False)["contacted_at"].min(),
        stop=(last_contact + month * (observed + 1)).clip(upper=as_of),
        keep_keys=False,
    )
    by_month: dict = {}
    if len(orders):
        elapsed = ((orders["order_datetime"] - orders["contacted_at"]) / month).to_numpy(dtype=float)
        horizon = lookup(orders["campaign_id"], observed).to_numpy(dtype=float)
        keep = (elapsed >= 0) & (elapsed < horizon)
        kept = orders[keep].assign(m=np.floor(elapsed[keep]).astype(int))
        sums = kept.groupby(["campaign_id", "group", "m"], sort=False, observed=True)["amount"].sum()
        for (cid, grp, m), value in sums.items():
            by_month.setdefault((cid, grp), {})[m] = value
    rows = []
    for cid, n_months in observed.items():
        cost = float(costs[cid])
        if cost == 0:
            rows.append((cid, 0.0, "no_cost", 0))
            continue
        if n_months == 0:
            rows.append((cid, np.nan, "not_observed", 0))
            continue
        cumulative = {}
        for grp in _GROUPS:
            monthly = np.zeros(n_months)
            for m, value in by_month.get((cid, grp), {}).items():
                monthly[m] = value
            cumulative[grp] = np.cumsum(monthly)
        n_t, n_h = sizes.loc[cid, "treatment"], sizes.loc[cid, "holdout"]
        incremental = (cumulative["treatment"] / n_t - cumulative["holdout"] / n_h) * n_t * margin
        covered = np.flatnonzero(incremental >= cost)
        if covered.size:
            rows.append((cid, float(covered[0] + 1), "paid_back", int(n_months)))
        else:
            rows.append((cid, np.nan, "not_paid_back", int(n_months)))
    return pd.DataFrame(rows, columns=["campaign_id", "payback_months", "payback", "payback_observed_months"])


# --------------------------------------------------------------------------- per-campaign figures


def _first_purchases(tx: pd.DataFrame, known: pd.Series) -> pd.Series:
    """Each known customer's first purchase (a line of positive quantity), over all history.

    ``tx.loc[buys].groupby("customer_id")["order_datetime"].min()``, grouped on the ids' sorted codes
    (:func:`crmtools.engine.sorted_codes`: known for a run's order lines), not on the text.
    """
    buys = (known & (tx["quantity"] > 0)).to_numpy(dtype=bool, na_value=False)  # a missing quantity buys nothing
    codes, uniques = sorted_codes(tx["customer_id"])
    first = pd.Series(tx["order_datetime"].to_numpy()[buys]).groupby(codes[buys]).min()
    customers = pd.Index(uniques.take(first.index.to_numpy()), name="customer_id")
    return pd.Series(first.to_numpy(), index=customers, name="order_datetime")


def _group_figures(
    cont: pd.DataFrame, camp: pd.DataFrame, tx: pd.DataFrame, first_purchase: pd.Series, response_window_days
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each contact's response, and the treatment and holdout figures of each campaign (rows in ``camp`` order)."""
    windows = _window(cont, camp, response_window_days)
    responses = (
        _customer_responses(windows, tx, first_purchase)
        if len(windows)
        else windows.assign(revenue=0.0, responded=False, new=False)
    )
    stats_ = (
        _group_stats(responses)
        if len(responses)
        else pd.DataFrame(columns=["campaign_id", "group", "n", "responders", "new", "revenue", "mean", "var"])
    )
    wide = {grp: stats_[stats_["group"] == grp].set_index("campaign_id") for grp in _GROUPS}
    return responses, wide["treatment"].reindex(camp["campaign_id"]), wide["holdout"].reindex(camp["campaign_id"])


def _attributed_to_contacts(
    camp: pd.DataFrame, t: pd.DataFrame, h: pd.DataFrame, has_contacts: np.ndarray, margin: float
) -> pd.DataFrame:
    """The campaigns with their group sizes and what the treatment group bought in its window."""
    out = camp.copy()
    out["margin"] = float(margin)
    out["treated"] = t["n"].fillna(0).to_numpy(dtype="int64")
    out["holdout"] = h["n"].fillna(0).to_numpy(dtype="int64")
    out["responders"] = t["responders"].fillna(0).to_numpy(dtype="int64")
    out["new_customers"] = t["new"].fillna(0).to_numpy(dtype="int64")
    out["attributed_revenue"] = t["revenue"].fillna(0.0).to_numpy(dtype=float)
    out["attribution"] = np.where(has_contacts, "contacts", "none")
    return out


def _add_tag_attribution(
    out: pd.DataFrame,
    camp: pd.DataFrame,
    tx: pd.DataFrame,
    tagged: pd.Series,
    known: pd.Series,
    first_purchase: pd.Series,
    has_contacts: np.ndarray,
) -> None:
    """Campaigns without contacts: credit the orders tagged with them within their dates (in place)."""
    for i in np.flatnonzero(~has_contacts):
        row = camp.iloc[i]
        end = row["end_date"]
        stop = end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(microseconds=1)
        mask = (
            (tagged == row["campaign_id"]).to_numpy()
            & (tx["order_datetime"] >= row["start_date"]).to_numpy()
            & (tx["order_datetime"] < stop).to_numpy()
        )
        if not mask.any():
            continue
        lines = tx[mask]
        known_lines = lines[known[mask].to_numpy()]
        buyers = known_lines.loc[known_lines["quantity"] > 0, "customer_id"].unique()
        first = pd.Series(buyers).map(first_purchase)
        out.loc[i, "attribution"] = "tag"
        out.loc[i, "attributed_revenue"] = float(lines["amount"].sum())
        out.loc[i, "responders"] = len(buyers)
        out.loc[i, "new_customers"] = int(((first >= row["start_date"]) & (first < stop)).sum())


def _roi_reason(cost: float, attributable: bool, responders: float, new: float) -> str | None:
    parts = []
    if not attributable:
        parts.append("no contact list and no tagged orders: revenue cannot be attributed")
    elif cost == 0:
        parts.append("zero cost: ROI and ROAS are undefined (not infinite)")
    if attributable and responders == 0:
        parts.append("no responders: cost per acquisition is undefined")
    if attributable and new == 0:
        parts.append("no new customers: CAC is undefined")
    return "; ".join(parts) if parts else None


def _add_attributed_measures(out: pd.DataFrame, margin: float) -> None:
    """Response rate, gross profit, ROI, ROAS, CPA and CAC on attributed figures, NaN with a reason (in place)."""
    cost = out["cost"].to_numpy(dtype=float)
    treated = out["treated"].to_numpy(dtype=float)
    responders = out["responders"].to_numpy(dtype=float)
    new = out["new_customers"].to_numpy(dtype=float)
    revenue = out["attributed_revenue"].to_numpy(dtype=float)
    attributable = out["attribution"].to_numpy() != "none"
    with np.errstate(divide="ignore", invalid="ignore"):
        out["response_rate"] = np.where(treated > 0, responders / treated, np.nan)
        out["gross_profit"] = margin * revenue
        safe_cost = np.where(cost > 0, cost, 1.0)
        out["roi"] = np.where((cost > 0) & attributable, (margin * revenue - cost) / safe_cost, np.nan)
        out["roas"] = np.where((cost > 0) & attributable, revenue / safe_cost, np.nan)
        out["cpa"] = np.where(responders > 0, cost / np.where(responders > 0, responders, 1), np.nan)
        out["cac"] = np.where(new > 0, cost / np.where(new > 0, new, 1), np.nan)
    reasons = [_roi_reason(c, a, r, n) for c, a, r, n in zip(cost, attributable, responders, new)]
    out["roi_reason"] = pd.Series(reasons, dtype="str")


def _incremental_figures(
    xt: float,
    nt: float,
    xh: float,
    nh: float,
    mt: float,
    vt: float,
    mh: float,
    vh: float,
    cost: float,
    margin: float,
    alpha: float,
) -> tuple[dict[str, float], str | None]:
    """One campaign's incremental figures against its holdout (missing ones are NaN) and why any are missing."""
    from statsmodels.stats.proportion import confint_proportions_2indep

    figures, parts = {}, []
    pt, ph = xt / nt, xh / nh
    figures["incremental_conversions"] = (pt - ph) * nt
    low, high = confint_proportions_2indep(xt, nt, xh, nh, method="newcomb", compare="diff", alpha=alpha)
    figures["incremental_conversions_ci_low"] = low * nt
    figures["incremental_conversions_ci_high"] = high * nt
    figures["incremental_conversions_se"] = np.sqrt(pt * (1 - pt) / nt + ph * (1 - ph) / nh) * nt
    diff = mt - mh
    figures["incremental_revenue"] = diff * nt
    figures["incremental_gross_profit"] = margin * diff * nt
    if nt >= 2 and nh >= 2:
        a, b = vt / nt, vh / nh
        se = np.sqrt(a + b)
        if se > 0:
            df = se**4 / (a**2 / (nt - 1) + b**2 / (nh - 1))
            half = stats.t.isf(alpha / 2, df) * se
        else:
            half = 0.0  # no variation at all (e.g. nobody bought): the difference is exact
        figures["incremental_revenue_ci_low"] = (diff - half) * nt
        figures["incremental_revenue_ci_high"] = (diff + half) * nt
        figures["incremental_revenue_se"] = se * nt
    else:
        parts.append("treatment or holdout has fewer than 2 customers: no revenue interval")
    if cost > 0:
        figures["incremental_roi"] = (figures["incremental_gross_profit"] - cost) / cost
        figures["incremental_roi_ci_low"] = (margin * figures.get("incremental_revenue_ci_low", np.nan) - cost) / cost
        figures["incremental_roi_ci_high"] = (margin * figures.get("incremental_revenue_ci_high", np.nan) - cost) / cost
    else:
        parts.append("zero cost: incremental ROI is undefined (not infinite)")
    return figures, "; ".join(parts) if parts else None


def _add_incrementality(
    out: pd.DataFrame, t: pd.DataFrame, h: pd.DataFrame, has_contacts: np.ndarray, margin: float, alpha: float
) -> np.ndarray:
    """Holdout responses and the incremental figures of every campaign (in place); returns which have a holdout."""
    nt, nh = out["treated"].to_numpy(dtype=float), out["holdout"].to_numpy(dtype=float)
    xt, xh = out["responders"].to_numpy(dtype=float), h["responders"].fillna(0).to_numpy(dtype=float)
    cost = out["cost"].to_numpy(dtype=float)
    out["holdout_responders"] = xh.astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        out["holdout_response_rate"] = np.where(nh > 0, xh / nh, np.nan)
    has_holdout = has_contacts & (nh > 0) & (nt > 0)
    cols = {
        c: np.full(len(out), np.nan) for c in ROI_COLUMNS if c.startswith("incremental_") and c != "incremental_reason"
    }
    reasons = []
    mt, vt = t["mean"].to_numpy(dtype=float), t["var"].to_numpy(dtype=float)
    mh, vh = h["mean"].to_numpy(dtype=float), h["var"].to_numpy(dtype=float)
    for i in range(len(out)):
        if not has_contacts[i]:
            reasons.append("no contact list: incremental figures are undefined")
        elif not has_holdout[i]:
            reasons.append(
                "no holdout group: incremental figures are undefined"
                if nt[i] > 0
                else "no treated customers: incremental figures are undefined"
            )
        else:
            figures, reason = _incremental_figures(
                xt[i], nt[i], xh[i], nh[i], mt[i], vt[i], mh[i], vh[i], cost[i], margin, alpha
            )
            for c, value in figures.items():
                cols[c][i] = value
            reasons.append(reason)
    for c, values in cols.items():
        out[c] = values
    low, high = cols["incremental_revenue_ci_low"], cols["incremental_revenue_ci_high"]
    out["incremental_significant"] = pd.array(
        np.where(np.isfinite(low), (low > 0) | (high < 0), pd.NA), dtype="boolean"
    )
    out["incremental_reason"] = pd.Series(reasons, dtype="str")
    return has_holdout


def _add_payback(
    out: pd.DataFrame,
    responses: pd.DataFrame,
    tx: pd.DataFrame,
    has_holdout: np.ndarray,
    margin: float,
    as_of: pd.Timestamp,
    max_months: int,
) -> None:
    """Payback of each campaign with a holdout; ``no_holdout`` for the others (in place)."""
    out["payback_months"] = np.nan
    out["payback"] = pd.Series(np.full(len(out), "no_holdout"), dtype="str")
    out["payback_observed_months"] = np.zeros(len(out), dtype="int64")
    if not has_holdout.any():
        return
    ids = out.loc[has_holdout, "campaign_id"]
    pay = _payback(
        responses[responses["campaign_id"].isin(ids.tolist())],
        tx,
        out.set_index("campaign_id")["cost"],
        margin,
        as_of,
        int(max_months),
    )
    pay = pay.set_index("campaign_id").reindex(out["campaign_id"])
    out["payback_months"] = np.where(has_holdout, pay["payback_months"].to_numpy(dtype=float), np.nan)
    out["payback"] = pd.Series(
        np.where(has_holdout, pay["payback"].astype(object).to_numpy(), "no_holdout"), dtype="str"
    )
    out["payback_observed_months"] = np.where(
        has_holdout, pay["payback_observed_months"].fillna(0).to_numpy(), 0
    ).astype("int64")


# --------------------------------------------------------------------------- public API


def campaign_roi(
    campaigns: pd.DataFrame,
    contacts: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    margin: float = 1.0,
    response_window_days: float | None = None,
    alpha: float = 0.05,
    period=None,
    as_of=None,
    max_payback_months: int = 12,
    campaign_col: str = "campaign_id",
    customer_col: str = "customer_id",
    group_col: str = "group",
    contacted_col: str = "contacted_at",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
    tag_col: str = "campaign_id",
    cost_col: str = "cost",
    channel_col: str = "channel",
) -> pd.DataFrame:
    """ROI, ROAS, acquisition cost and incremental effect per campaign.

    Parameters
    ----------
    campaigns : pandas.DataFrame
        Canonical campaigns: ``campaign_id``, ``name``, ``channel``,
        ``start_date``, ``end_date``, ``cost`` (``name`` optional).
    contacts : pandas.DataFrame
        Canonical campaign contacts: ``campaign_id``, ``customer_id``,
        ``group`` (``"treatment"`` or ``"holdout"``), ``contacted_at``.
    transactions : pandas.DataFrame
        Canonical transactions: ``customer_id``, ``order_datetime``,
        ``amount``, ``quantity`` (optional: without it a line with a positive
        amount counts as a purchase), and ``campaign_id`` for tag attribution.
    margin : float, default=1.0
        Contribution margin on revenue, in (0, 1]; 1 means ROI on revenue
        (revenue counted as profit). The report passes params
        ``campaigns.margin`` (0.4 for the sample business), keeps the
        campaigns of the period with the orders placed before its end and
        ``as_of`` its end, and headlines ``incremental_roi``: see
        :func:`crmtools.reporting.summary.period_campaign_roi`.
    response_window_days : float or None, default=None
        Window length after each contact; None uses the campaign's ``end_date``.
    alpha : float, default=0.05
        Intervals have level ``1 - alpha``.
    period : Period, str or None, default=None
        Keep the campaigns whose window overlaps this period (e.g.
        ``"2025-Q4"``), as :func:`crmtools.slicing.campaigns_active` does;
        None keeps every campaign. (Before crmtools 0.2 it kept only the
        campaigns *starting* in the period; a FutureWarning says when the two
        differ, for one release.)
    as_of : date, timestamp, Period or None, default=None
        The instant payback is observed up to (exclusive; a Period means its
        end); None uses the latest order in ``transactions``.
    max_payback_months : int, default=12
        Longest payback looked for.
    campaign_col, customer_col, group_col, contacted_col, date_col, amount_col, quantity_col : str
        Column names (canonical names by default).
    tag_col, cost_col, channel_col : str
        ``tag_col`` is the transactions column holding campaign tags; the
        others name the campaigns' cost and channel columns.

    Returns
    -------
    pandas.DataFrame
        One row per campaign, in the campaigns' order (see
        :data:`ROI_COLUMNS`): ``campaign_id``, ``name``, ``channel``,
        ``start_date``, ``end_date``, ``cost``, ``margin``, ``attribution``
        (``contacts``, ``tag`` or ``none``), ``treated``, ``holdout``,
        ``responders``, ``response_rate``, ``new_customers``,
        ``attributed_revenue``, ``gross_profit``, ``roi``, ``roas``, ``cpa``,
        ``cac``, ``roi_reason``, ``holdout_responders``,
        ``holdout_response_rate``, ``incremental_conversions`` with
        ``_ci_low``, ``_ci_high`` and ``_se``, ``incremental_revenue`` with
        ``_ci_low``, ``_ci_high`` and ``_se``, ``incremental_significant``
        (the revenue interval excludes zero; missing when undefined),
        ``incremental_gross_profit``,
        ``incremental_roi`` with ``_ci_low`` and ``_ci_high``,
        ``payback_months``, ``payback`` (a code: ``paid_back``,
        ``not_paid_back``, ``no_cost``, ``not_observed`` or ``no_holdout``;
        the reporting layer words it), ``payback_observed_months`` (whole
        months after contact observed up to ``as_of``, at most
        ``max_payback_months``; 0 without a holdout) and
        ``incremental_reason``. Reasons are missing when every value is
        defined.

    Examples
    --------
    >>> campaigns = pd.DataFrame({"campaign_id": ["C1", "C2"], "name": ["Mail", "Free"],
    ...                           "channel": ["email", "email"],
    ...                           "start_date": pd.to_datetime(["2025-01-10", "2025-01-10"]),
    ...                           "end_date": pd.to_datetime(["2025-01-20", "2025-01-20"]), "cost": [0.0, 50.0]})
    >>> contacts = pd.DataFrame({"campaign_id": ["C1", "C2"], "customer_id": ["a", "a"],
    ...                          "group": ["treatment", "treatment"], "contacted_at": pd.Timestamp("2025-01-10")})
    >>> tx = pd.DataFrame({"customer_id": ["a"], "order_datetime": pd.to_datetime(["2025-01-12"]),
    ...                    "amount": [100.0], "quantity": [1]})
    >>> out = campaign_roi(campaigns, contacts, tx)
    >>> out["roi"].tolist()
    [nan, 1.0]
    >>> out.loc[0, "roi_reason"]
    'zero cost: ROI and ROAS are undefined (not infinite)'
    >>> out.loc[0, "incremental_reason"]
    'no holdout group: incremental figures are undefined'
    """
    _require_table(campaigns, [campaign_col, channel_col, "start_date", "end_date", cost_col], "campaigns")
    _require_table(contacts, [campaign_col, customer_col, group_col, contacted_col], "campaign_contacts")
    _require_table(transactions, [customer_col, date_col, amount_col], "transactions")
    _check_arguments(margin, alpha, response_window_days, max_payback_months)
    camp = _campaign_table(campaigns, campaign_col=campaign_col, channel_col=channel_col, cost_col=cost_col)
    cont = _contact_table(
        contacts,
        camp,
        campaign_col=campaign_col,
        customer_col=customer_col,
        group_col=group_col,
        contacted_col=contacted_col,
    )
    tx, tagged, known = _transaction_table(
        transactions,
        customer_col=customer_col,
        date_col=date_col,
        amount_col=amount_col,
        quantity_col=quantity_col,
        tag_col=tag_col,
    )
    if period is not None:
        camp, cont = _running_in(camp, cont, period)
    if camp.empty:
        return _empty_roi()
    as_of = (
        as_point(as_of) if as_of is not None else (tx["order_datetime"].max() if len(tx) else camp["end_date"].max())
    )

    first_purchase = _first_purchases(tx, known)
    bought = tx if known.all() else tx[known]  # lines with a customer (all of them, usually: then not copied)
    responses, treatment, holdout = _group_figures(cont, camp, bought, first_purchase, response_window_days)
    has_contacts = camp["campaign_id"].isin(cont["campaign_id"].unique().tolist()).to_numpy()
    out = _attributed_to_contacts(camp, treatment, holdout, has_contacts, margin)
    if tagged is not None:
        _add_tag_attribution(out, camp, tx, tagged, known, first_purchase, has_contacts)
    _add_attributed_measures(out, margin)
    has_holdout = _add_incrementality(out, treatment, holdout, has_contacts, margin, alpha)
    _add_payback(out, responses, bought, has_holdout, margin, as_of, max_payback_months)
    return out[ROI_COLUMNS]


def _empty_roi() -> pd.DataFrame:
    dtypes = {c: "float64" for c in ROI_COLUMNS}
    dtypes.update(
        {
            c: "str"
            for c in ("campaign_id", "name", "channel", "attribution", "roi_reason", "payback", "incremental_reason")
        }
    )
    dtypes.update(
        {
            c: "int64"
            for c in (
                "treated",
                "holdout",
                "responders",
                "new_customers",
                "holdout_responders",
                "payback_observed_months",
            )
        }
    )
    dtypes.update({"start_date": "datetime64[s]", "end_date": "datetime64[s]", "incremental_significant": "boolean"})
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in ROI_COLUMNS})


def campaign_rollup(roi: pd.DataFrame, *, by: str = "channel", alpha: float = 0.05) -> pd.DataFrame:
    """Campaign figures summed by channel (or another column) and overall.

    Ratios are recomputed from the sums (ROI of a channel is its total gross
    profit against its total cost, not an average of ROIs). Incremental
    figures sum over the campaigns that have them, against those campaigns'
    cost; their intervals are normal intervals from the summed variances,
    treating campaigns as independent (only approximately true when they
    share customers).

    Parameters
    ----------
    roi : pandas.DataFrame
        Output of :func:`campaign_roi`.
    by : str, default="channel"
        Column of ``roi`` to group by.
    alpha : float, default=0.05
        Intervals have level ``1 - alpha``.

    Returns
    -------
    pandas.DataFrame
        One row per group, then an ``overall`` row (see
        :data:`ROLLUP_COLUMNS`, where ``channel`` is named after ``by``):
        ``level`` (``by`` or ``"overall"``), the group value (missing on the
        overall row), ``campaigns``, ``cost``, ``treated``, ``holdout``,
        ``responders``, ``new_customers``, ``attributed_revenue``,
        ``gross_profit``, ``roi``, ``roas``, ``cpa``, ``cac``, ``roi_reason``,
        ``incremental_campaigns``, ``incremental_cost``,
        ``incremental_conversions`` and ``incremental_revenue`` with
        ``_ci_low`` and ``_ci_high``, ``incremental_gross_profit``,
        ``incremental_roi`` with ``_ci_low`` and ``_ci_high``.

    Examples
    --------
    >>> roi = pd.DataFrame({"channel": ["dm", "dm", "email"], "cost": [100.0, 300.0, 0.0],
    ...     "treated": [10, 30, 50], "holdout": [2, 5, 0], "responders": [4, 6, 5], "new_customers": [1, 0, 2],
    ...     "attributed_revenue": [500.0, 100.0, 80.0], "gross_profit": [500.0, 100.0, 80.0],
    ...     "attribution": ["contacts"] * 3, "margin": 1.0,
    ...     "incremental_conversions": [2.0, 1.0, np.nan], "incremental_conversions_se": [1.0, 1.0, np.nan],
    ...     "incremental_revenue": [300.0, 50.0, np.nan], "incremental_revenue_se": [30.0, 40.0, np.nan]})
    >>> campaign_rollup(roi)[["level", "channel", "cost", "roi", "incremental_revenue", "incremental_roi"]]
         level channel   cost  roi  incremental_revenue  incremental_roi
    0  channel      dm  400.0  0.5                350.0           -0.125
    1  channel   email    0.0  NaN                  NaN              NaN
    2  overall     NaN  400.0  0.7                350.0           -0.125
    """
    needed = [
        by,
        "cost",
        "treated",
        "holdout",
        "responders",
        "new_customers",
        "attributed_revenue",
        "gross_profit",
        "attribution",
        "margin",
        "incremental_conversions",
        "incremental_conversions_se",
        "incremental_revenue",
        "incremental_revenue_se",
    ]
    require_frame(roi, name="roi", allowed="the output of campaign_roi (a pandas DataFrame)")
    require_columns(roi, needed, name="roi", hint="Pass the output of campaign_roi.")
    require_range(alpha, name="alpha", low=0, high=1, closed="neither")
    columns = [by if c == "channel" else c for c in ROLLUP_COLUMNS]
    if roi.empty:
        return _empty_rollup(columns, by)
    z = stats.norm.isf(alpha / 2)
    groups = [(k, g) for k, g in roi.groupby(by, sort=True, dropna=False)] + [(None, roi)]
    rows = [{"level": "overall" if key is None else by, by: key, **_rollup_figures(g, z)} for key, g in groups]
    out = pd.DataFrame(rows)
    out["level"] = out["level"].astype("str")
    out["roi_reason"] = out["roi_reason"].astype("str")
    return out[columns]


def _empty_rollup(columns: list[str], by: str) -> pd.DataFrame:
    empty = {c: pd.Series(dtype="float64") for c in columns}
    for c in ("level", by, "roi_reason"):
        empty[c] = pd.Series(dtype="str")
    for c in ("campaigns", "treated", "holdout", "responders", "new_customers", "incremental_campaigns"):
        empty[c] = pd.Series(dtype="int64")
    return pd.DataFrame(empty)[columns]


def _rollup_figures(g: pd.DataFrame, z: float) -> dict:
    """Summed figures of a group of campaigns, ratios recomputed from the sums, normal intervals with ``z``."""
    attributable = g["attribution"] != "none"
    cost = float(g.loc[attributable, "cost"].sum())
    gross = float(g.loc[attributable, "gross_profit"].sum())
    revenue = float(g.loc[attributable, "attributed_revenue"].sum())
    responders, new = int(g["responders"].sum()), int(g["new_customers"].sum())
    inc = g["incremental_revenue"].notna()
    inc_cost = float(g.loc[inc, "cost"].sum())
    inc_rev = float(g.loc[inc, "incremental_revenue"].sum()) if inc.any() else np.nan
    inc_gp = float((g.loc[inc, "incremental_revenue"] * g.loc[inc, "margin"]).sum()) if inc.any() else np.nan
    rev_se = float(np.sqrt((g.loc[inc, "incremental_revenue_se"] ** 2).sum())) if inc.any() else np.nan
    gp_se = (
        float(np.sqrt(((g.loc[inc, "incremental_revenue_se"] * g.loc[inc, "margin"]) ** 2).sum()))
        if inc.any()
        else np.nan
    )
    conv_ok = g["incremental_conversions"].notna()
    inc_conv = float(g.loc[conv_ok, "incremental_conversions"].sum()) if conv_ok.any() else np.nan
    conv_se = float(np.sqrt((g.loc[conv_ok, "incremental_conversions_se"] ** 2).sum())) if conv_ok.any() else np.nan
    reason = []
    if not attributable.any():
        reason.append("no attributable campaigns")
    elif cost == 0:
        reason.append("zero cost: ROI and ROAS are undefined (not infinite)")
    return {
        "campaigns": len(g),
        "cost": float(g["cost"].sum()),
        "treated": int(g["treated"].sum()),
        "holdout": int(g["holdout"].sum()),
        "responders": responders,
        "new_customers": new,
        "attributed_revenue": revenue,
        "gross_profit": gross,
        "roi": (gross - cost) / cost if cost > 0 else np.nan,
        "roas": revenue / cost if cost > 0 else np.nan,
        "cpa": cost / responders if responders > 0 else np.nan,
        "cac": cost / new if new > 0 else np.nan,
        "roi_reason": "; ".join(reason) if reason else None,
        "incremental_campaigns": int(inc.sum()),
        "incremental_cost": inc_cost,
        "incremental_conversions": inc_conv,
        "incremental_conversions_ci_low": inc_conv - z * conv_se,
        "incremental_conversions_ci_high": inc_conv + z * conv_se,
        "incremental_revenue": inc_rev,
        "incremental_revenue_ci_low": inc_rev - z * rev_se,
        "incremental_revenue_ci_high": inc_rev + z * rev_se,
        "incremental_gross_profit": inc_gp,
        "incremental_roi": (inc_gp - inc_cost) / inc_cost if inc_cost > 0 else np.nan,
        "incremental_roi_ci_low": (inc_gp - z * gp_se - inc_cost) / inc_cost if inc_cost > 0 else np.nan,
        "incremental_roi_ci_high": (inc_gp + z * gp_se - inc_cost) / inc_cost if inc_cost > 0 else np.nan,
    }
