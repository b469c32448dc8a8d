"""Net Promoter Score (ネットプロモータースコア): the recommend question, its interval, breakdowns and what it predicts.

Input is the optional canonical ``surveys`` table: one row per answer, ``customer_id``, ``responded_at`` and
``score`` (0-10, "how likely are you to recommend us"), optionally ``channel``.

Definitions:

- **groups**: scores 9-10 are *promoters*, 7-8 *passives*, 0-6 *detractors*.
- **NPS** = % promoters - % detractors, in points from -100 to 100, over the answers counted.
- **Confidence interval**: with ``n`` answers and shares ``p`` (promoters) and ``d`` (detractors), the
  score per answer is +1, 0 or -1 (a multinomial), so ``Var(p - d) = (p + d - (p - d)^2) / n`` and the
  interval is ``NPS +/- z * 100 * sqrt(Var)`` (normal approximation, ``z`` for the confidence level), clipped
  to [-100, 100].
- **Which answers**: a period's NPS counts every answer given in the period; a customer's *current* group
  (:func:`latest_scores`) is their latest answer before ``as_of``.
- **Does NPS predict behaviour** (:func:`nps_behaviour`): each customer's latest answer whose follow-up window
  ``(responded_at, responded_at + window_days]`` ends before ``as_of``; in that window, whether they ordered
  again (a line with a positive quantity) and their net revenue. Repeat rates are compared across the three
  groups with a chi-square test of independence, revenue with a Kruskal-Wallis test.

Examples
--------
>>> import pandas as pd
>>> s = pd.DataFrame({"customer_id": list("abcde"), "responded_at": pd.Timestamp("2025-10-05"),
...                   "score": [10, 9, 8, 3, 6]})
>>> r = nps_score(s["score"])
>>> r.responses, r.promoters, r.detractors, r.nps
(5, 2, 2, 0.0)
>>> nps_group(s["score"]).tolist()
['promoter', 'promoter', 'passive', 'detractor', 'detractor']
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .checks import require_columns, require_range
from .engine import lookup, member_of, merge_on_ids
from .periods import as_period, as_point

__all__ = [
    "NPS_COLUMNS",
    "NPS_GROUPS",
    "NpsBehaviour",
    "NpsResult",
    "latest_scores",
    "nps_behaviour",
    "nps_group",
    "nps_score",
    "nps_table",
    "nps_trend",
]

#: The three groups, best first.
NPS_GROUPS = ("promoter", "passive", "detractor")

#: Columns of :func:`nps_table` after its group column (and of :func:`nps_trend` after ``month``).
NPS_COLUMNS = [
    "responses",
    "customers",
    "promoters",
    "passives",
    "detractors",
    "promoter_share",
    "detractor_share",
    "nps",
    "ci_low",
    "ci_high",
]

_SURVEY_COLUMNS = ("customer_id", "responded_at", "score")


@dataclass(frozen=True)
class NpsResult:
    """NPS of a set of answers, with counts and its confidence interval (points, -100 to 100)."""

    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float
    ci_low: float
    ci_high: float
    standard_error: float
    confidence: float


def _scores(scores: Any) -> np.ndarray:
    values = pd.to_numeric(pd.Series(scores), errors="coerce").dropna().to_numpy(dtype="float64")
    bad = values[(values < 0) | (values > 10) | (values != np.round(values))]
    if bad.size:
        raise ValueError(
            f"NPS scores must be whole numbers from 0 to 10 (the recommend question); got {bad.size} other "
            f"value(s), e.g. {sorted(set(bad.tolist()))[:3]}."
        )
    return values


def nps_group(scores: Any) -> pd.Series:
    """The group of each score: ``promoter`` (9-10), ``passive`` (7-8) or ``detractor`` (0-6).

    Missing scores give a missing group.

    Examples
    --------
    >>> nps_group([0, 6, 7, 8, 9, 10]).tolist()
    ['detractor', 'detractor', 'passive', 'passive', 'promoter', 'promoter']
    """
    s = pd.to_numeric(pd.Series(scores), errors="coerce")
    _scores(s)
    out = np.select([s >= 9, s >= 7, s >= 0], list(NPS_GROUPS), default="")
    return pd.Series(out, index=s.index, dtype="str").where(s.notna(), None)


def nps_score(scores: Any, *, confidence: float = 0.95) -> NpsResult:
    """NPS of a set of scores with a multinomial confidence interval.

    Parameters
    ----------
    scores : array-like of int
        Answers 0-10; missing values are ignored.
    confidence : float, default=0.95
        Level of the two-sided interval.

    Returns
    -------
    NpsResult
        ``nps``, ``ci_low``, ``ci_high`` and ``standard_error`` in points; all NaN without answers.

    Examples
    --------
    >>> r = nps_score([10] * 50 + [8] * 30 + [2] * 20)
    >>> r.nps, round(r.standard_error, 3), (round(r.ci_low, 2), round(r.ci_high, 2))
    (30.0, 7.81, (14.69, 45.31))
    """
    from scipy.stats import norm

    require_range(confidence, name="confidence", low=0, high=1, closed="neither")
    values = _scores(scores)
    n = int(values.size)
    promoters, detractors = int((values >= 9).sum()), int((values <= 6).sum())
    if n == 0:
        nan = float("nan")
        return NpsResult(0, 0, 0, 0, nan, nan, nan, nan, confidence)
    p, d = promoters / n, detractors / n
    se = 100 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    z = float(norm.ppf(0.5 + confidence / 2))
    nps = 100 * (p - d)
    return NpsResult(
        n,
        promoters,
        n - promoters - detractors,
        detractors,
        nps,
        max(nps - z * se, -100.0),
        min(nps + z * se, 100.0),
        se,
        confidence,
    )


def _checked(surveys: pd.DataFrame, name: str = "surveys") -> pd.DataFrame:
    require_columns(surveys, list(_SURVEY_COLUMNS), name=name, hint="Pass the canonical surveys table.")
    out = surveys.copy()
    out["responded_at"] = pd.to_datetime(out["responded_at"])
    _scores(out["score"])
    return out.loc[out["score"].notna() & out["customer_id"].notna()]


def latest_scores(surveys: pd.DataFrame, *, as_of: Any, lookback_days: int | None = None) -> pd.DataFrame:
    """Each customer's latest answer before ``as_of``, with its group.

    Parameters
    ----------
    surveys : pandas.DataFrame
        The canonical surveys table. Not modified.
    as_of : date, timestamp or Period
        Answers strictly before this instant count.
    lookback_days : int, optional
        Only answers in ``[as_of - lookback_days, as_of)``; all earlier answers when None.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by ``customer_id``: ``customer_id``, ``responded_at``, ``score``,
        ``nps_group``.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "a", "b"], "score": [3, 10, 8],
    ...                   "responded_at": pd.to_datetime(["2025-09-01", "2025-10-01", "2025-11-02"])})
    >>> latest_scores(s, as_of="2025-11-01")
      customer_id responded_at  score nps_group
    0           a   2025-10-01     10  promoter
    """
    end = as_point(as_of, name="as_of")
    s = _checked(surveys)
    keep = s["responded_at"] < end
    if lookback_days is not None:
        require_range(lookback_days, name="lookback_days", low=1, integer=True)
        keep &= s["responded_at"] >= end - pd.Timedelta(days=lookback_days)
    s = s.loc[keep]
    # sorted by customer, then time (stable: of two answers at the same time, the later row is the latest), as
    # numbers: the ids' sorted codes and the times' integers (pandas sorts and groups text ids as Python strings)
    customer = pd.factorize(s["customer_id"], sort=True)[0]
    order = np.lexsort((s["responded_at"].to_numpy().view("int64"), customer))  # (naive times, in their own unit)
    ordered = customer[order]
    last = order[np.r_[ordered[1:] != ordered[:-1], True]] if len(order) else order
    out = s.iloc[last][["customer_id", "responded_at", "score"]]
    out = out.assign(score=out["score"].astype("int64"), nps_group=nps_group(out["score"]).to_numpy())
    return out.reset_index(drop=True)


def _summary(frame: pd.DataFrame, confidence: float) -> dict:
    r = nps_score(frame["score"], confidence=confidence)
    n = r.responses
    return {
        "responses": n,
        "customers": int(frame["customer_id"].nunique()),
        "promoters": r.promoters,
        "passives": r.passives,
        "detractors": r.detractors,
        "promoter_share": r.promoters / n if n else float("nan"),
        "detractor_share": r.detractors / n if n else float("nan"),
        "nps": r.nps,
        "ci_low": r.ci_low,
        "ci_high": r.ci_high,
    }


def _typed(rows: list[dict], first: str) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=[first, *NPS_COLUMNS])
    ints = ["responses", "customers", "promoters", "passives", "detractors"]
    return out.astype(dict.fromkeys(ints, "int64") | dict.fromkeys(NPS_COLUMNS[5:], "float64"))


def nps_table(
    surveys: pd.DataFrame,
    *,
    period: Any,
    by: str | None = None,
    groups: pd.DataFrame | None = None,
    confidence: float = 0.95,
    customer_col: str = "customer_id",
) -> pd.DataFrame:
    """NPS of the answers given in ``period``, overall or by a breakdown.

    Parameters
    ----------
    surveys : pandas.DataFrame
        The canonical surveys table. Not modified.
    period : Period or str
        The whole period, e.g. ``"2025-10"``.
    by : str, optional
        A column to break down by: a column of ``surveys`` (``channel``) or of ``groups`` (``segment``,
        ``decile``, ``stage``, ``region`` ...). Overall (one row, ``by`` column ``"all"``) when None.
    groups : pandas.DataFrame, optional
        One row per customer with ``customer_col`` and ``by``: each answer takes its customer's value;
        answers of customers not in ``groups`` are left out.
    confidence : float, default=0.95
        Level of the intervals.
    customer_col : str, default="customer_id"
        The customer column of ``groups``.

    Returns
    -------
    pandas.DataFrame
        One row per value of ``by`` (sorted; ``group`` when ``by`` is None), then ``responses``,
        ``customers`` (distinct, for small-cell suppression), ``promoters``, ``passives``, ``detractors``,
        ``promoter_share``, ``detractor_share``, ``nps``, ``ci_low``, ``ci_high``. Empty with these columns
        when no answer falls in the period.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": list("abcd"), "score": [10, 9, 3, 8], "channel": ["app", "web"] * 2,
    ...                   "responded_at": pd.Timestamp("2025-10-03")})
    >>> nps_table(s, period="2025-10", by="channel")[["channel", "responses", "nps"]]
      channel  responses   nps
    0     app          2   0.0
    1     web          2  50.0
    """
    p = as_period(period, name="period")
    s = _checked(surveys)
    s = s.loc[(s["responded_at"] >= p.start) & (s["responded_at"] < p.end)]
    first = by or "group"
    if by is None:
        return _typed([{first: "all", **_summary(s, confidence)}] if len(s) else [], first)
    if groups is not None:
        require_columns(groups, [customer_col, by], name="groups")
        lookup = groups[[customer_col, by]].drop_duplicates(customer_col).rename(columns={customer_col: "customer_id"})
        s = merge_on_ids(s.drop(columns=[by], errors="ignore"), lookup, on=["customer_id"])
    else:
        require_columns(s, [by], name="surveys", hint="Give groups= for a breakdown by a customer attribute.")
    s = s.loc[s[by].notna()]
    rows = [{first: key, **_summary(part, confidence)} for key, part in s.groupby(by, sort=True)]
    return _typed(rows, first)


def nps_trend(surveys: pd.DataFrame, *, period: Any, months: int = 12, confidence: float = 0.95) -> pd.DataFrame:
    """Monthly NPS over the ``months`` months ending with ``period``'s last month.

    Returns
    -------
    pandas.DataFrame
        One row per month with answers, oldest first: ``month`` (``"YYYY-MM"``) and the columns of
        :func:`nps_table`.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": list("abc"), "score": [10, 2, 9],
    ...                   "responded_at": pd.to_datetime(["2025-09-03", "2025-10-03", "2025-10-09"])})
    >>> nps_trend(s, period="2025-10", months=3)[["month", "responses", "nps"]]
         month  responses    nps
    0  2025-09          1  100.0
    1  2025-10          2    0.0
    """
    require_range(months, name="months", low=1, integer=True)
    last = as_period(period, name="period")
    end = last.end
    s = _checked(surveys)
    start = end - pd.DateOffset(months=months)
    s = s.loc[(s["responded_at"] >= start) & (s["responded_at"] < end)]
    s = s.assign(month=s["responded_at"].dt.strftime("%Y-%m"))
    rows = [{"month": m, **_summary(part, confidence)} for m, part in s.groupby("month", sort=True)]
    return _typed(rows, "month")


@dataclass(frozen=True)
class NpsBehaviour:
    """What customers did after answering, by NPS group, and the tests of a difference.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group present (``promoter``, ``passive``, ``detractor`` order): ``nps_group``,
        ``customers``, ``repeaters``, ``repeat_rate``, ``revenue`` (total), ``revenue_per_customer``.
    chi2, chi2_pvalue : float
        Chi-square test of independence of group and repeat (NaN with fewer than two groups).
    kruskal_h, kruskal_pvalue : float
        Kruskal-Wallis test of revenue across groups (NaN when not computable).
    window_days : int
        The follow-up window.
    """

    table: pd.DataFrame
    chi2: float
    chi2_pvalue: float
    kruskal_h: float
    kruskal_pvalue: float
    window_days: int

    @property
    def ordered(self) -> bool:
        """True when repeat rates fall from promoters to passives to detractors (the groups present)."""
        rates = self.table["repeat_rate"].to_numpy()
        return bool(len(rates) >= 2 and np.all(np.diff(rates) <= 0))


def nps_behaviour(
    surveys: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    window_days: int = 90,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> NpsBehaviour:
    """Repeat rate and revenue in the ``window_days`` after answering, by NPS group, with tests.

    Parameters
    ----------
    surveys : pandas.DataFrame
        The canonical surveys table. Not modified.
    transactions : pandas.DataFrame
        Canonical transactions (pandas). Not modified.
    as_of : date, timestamp or Period
        Only answers whose whole follow-up window ends by this instant count (each customer's latest such
        answer), so every customer is observed for the full window.
    window_days : int, default=90
        Length of the follow-up window after the answer.

    Returns
    -------
    NpsBehaviour

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["a", "b"], "score": [10, 2],
    ...                   "responded_at": pd.to_datetime(["2025-06-01", "2025-06-01"])})
    >>> tx = pd.DataFrame({"customer_id": ["a"], "order_id": ["o1"], "quantity": [1], "amount": [500.0],
    ...                    "order_datetime": pd.to_datetime(["2025-07-01"])})
    >>> b = nps_behaviour(s, tx, as_of="2025-11-01")
    >>> b.table[["nps_group", "customers", "repeat_rate", "revenue_per_customer"]]
       nps_group  customers  repeat_rate  revenue_per_customer
    0   promoter          1          1.0                 500.0
    1  detractor          1          0.0                   0.0
    """
    from scipy import stats

    require_range(window_days, name="window_days", low=1, integer=True)
    require_columns(transactions, [customer_col, order_col, date_col, amount_col, quantity_col], name="transactions")
    end = as_point(as_of, name="as_of")
    window = pd.Timedelta(days=window_days)
    answers = latest_scores(surveys, as_of=end - window)
    # the answering customers' lines first (a hash lookup of the ids, not a join of every line)
    answered = transactions[customer_col].notna() & member_of(transactions[customer_col], answers["customer_id"])
    tx = transactions.loc[answered.to_numpy(dtype=bool), [customer_col, order_col, date_col, amount_col, quantity_col]]
    tx = merge_on_ids(  # text ids joined as numbers (pandas would turn 3 million of them into Python strings)
        tx.rename(columns={customer_col: "customer_id"}), answers[["customer_id", "responded_at"]], on=["customer_id"]
    )
    tx = tx.loc[(tx[date_col] > tx["responded_at"]) & (tx[date_col] <= tx["responded_at"] + window)]
    bought = tx.loc[tx[quantity_col] > 0].groupby("customer_id")[order_col].nunique()
    revenue = tx.groupby("customer_id")[amount_col].sum()
    per = answers.assign(
        repeat=lookup(answers["customer_id"], bought).fillna(0).gt(0).to_numpy(),
        revenue=lookup(answers["customer_id"], revenue).fillna(0.0).round(2).to_numpy(),
    )
    rows = []
    for g in NPS_GROUPS:
        part = per.loc[per["nps_group"] == g]
        if len(part):
            rows.append(
                {
                    "nps_group": g,
                    "customers": len(part),
                    "repeaters": int(part["repeat"].sum()),
                    "repeat_rate": float(part["repeat"].mean()),
                    "revenue": float(part["revenue"].sum()),
                    "revenue_per_customer": float(part["revenue"].mean()),
                }
            )
    table = pd.DataFrame(
        rows, columns=["nps_group", "customers", "repeaters", "repeat_rate", "revenue", "revenue_per_customer"]
    )
    nan = float("nan")
    chi2 = chi2_p = kh = kp = nan
    if len(table) >= 2:
        counts = np.column_stack([table["repeaters"], table["customers"] - table["repeaters"]])
        if (counts.sum(axis=0) > 0).all():
            chi2, chi2_p = (float(v) for v in stats.chi2_contingency(counts, correction=False)[:2])
        samples = [per.loc[per["nps_group"] == g, "revenue"].to_numpy() for g in table["nps_group"]]
        if len(np.unique(np.concatenate(samples))) > 1:
            kh, kp = (float(v) for v in stats.kruskal(*samples))
    return NpsBehaviour(table, chi2, chi2_p, kh, kp, window_days)
