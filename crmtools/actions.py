"""What a period's campaign lists are expected to bring, from the measured effect of comparable campaigns.

The lists themselves come from :func:`crmtools.targets.target_lists` (sizes, holdouts); this module adds
the money a report may quote, and only from a measurement:

- The **comparable campaign** of a list is the latest campaign that ran the same list before the period:
  its id is the list's export id for an earlier period (``<list>-<YYYY-MM>``, see
  :func:`crmtools.targets.campaign_id_for`), it ended before the period starts, and it has a holdout so its
  effect was measured. The caller may name one instead (``comparable={list: campaign_id}``).
- **Incremental revenue per treated customer** is that campaign's ``incremental_revenue / treated``
  (:func:`crmtools.campaigns.campaign_roi`); the list's **expected incremental value** is that times the
  list's treatment group. Without a comparable measured campaign both are missing (never a guess).

Examples
--------
>>> import pandas as pd
>>> summary = pd.DataFrame({"list": ["win_back", "nudge"], "theme": ["win_back", "second_purchase"],
...                         "status": ["ok", "ok"], "customers": [100, 40], "treatment": [80, 32],
...                         "holdout": [20, 8]})
>>> roi = pd.DataFrame({"campaign_id": ["win_back-2025-09"], "end_date": pd.to_datetime(["2025-09-30"]),
...                     "treated": [50], "incremental_revenue": [10000.0], "incremental_significant": [True]})
>>> out = list_expectations(summary, roi, period="2025-11")
>>> out.loc[0, "comparable_campaign"], out["comparable_campaign"].isna().tolist()
('win_back-2025-09', [False, True])
>>> out["incremental_revenue_per_treated"].tolist()
[200.0, nan]
>>> out["expected_incremental_value"].tolist()
[16000.0, nan]
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .checks import require_columns
from .periods import as_period

__all__ = ["EXPECTATION_COLUMNS", "list_expectations"]

#: Columns of :func:`list_expectations`.
EXPECTATION_COLUMNS = [
    "list",
    "theme",
    "status",
    "customers",
    "treatment",
    "holdout",
    "comparable_campaign",
    "comparable_significant",
    "incremental_revenue_per_treated",
    "expected_incremental_value",
]

_PERIOD_SUFFIX = re.compile(r"-(\d{4}-(?:\d{2}|Q[1-4]))$")


def _comparable(list_name: str, roi: pd.DataFrame, start: pd.Timestamp) -> pd.Series | None:
    ids = roi["campaign_id"].astype("str")
    same = pd.Series(
        [_PERIOD_SUFFIX.sub("", c) == list_name and bool(_PERIOD_SUFFIX.search(c)) for c in ids],
        index=roi.index,
        dtype=bool,
    )
    candidates = roi.loc[same & (roi["end_date"] < start) & (roi["treated"] > 0) & roi["incremental_revenue"].notna()]
    if candidates.empty:
        return None
    return candidates.sort_values(["end_date", "campaign_id"], kind="mergesort").iloc[-1]


def list_expectations(
    summary: pd.DataFrame,
    roi: pd.DataFrame | None,
    *,
    period: Any,
    comparable: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Each list's size and holdout with the value expected from its last comparable campaign.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``TargetListsResult.summary`` (counts only): ``list``, ``theme``, ``status``, ``customers``,
        ``treatment``, ``holdout``.
    roi : pandas.DataFrame
        :func:`crmtools.campaigns.campaign_roi` of every campaign so far (``campaign_id``, ``end_date``,
        ``treated``, ``incremental_revenue``; ``incremental_significant`` optional); None without campaigns.
    period : Period or str
        The lists' period; comparable campaigns ended before it starts.
    comparable : mapping of str to str, optional
        List name -> campaign id to use instead of the automatic choice.

    Returns
    -------
    pandas.DataFrame
        One row per list, in the summary's order: :data:`EXPECTATION_COLUMNS`. ``comparable_campaign`` and
        the two amounts are missing when no comparable campaign was measured. ``customers``, ``treatment``
        and ``holdout`` are always float64 (whole numbers), NaN for a list that was not built (``status``
        ``"skipped"``: a field it needs is unavailable, the summary's ``note`` says which), so a page can
        format them as numbers and show the missing ones as n/a with the reason.
    """
    p = as_period(period, name="period")
    require_columns(summary, ["list", "theme", "status", "customers", "treatment", "holdout"], name="summary")
    if roi is None:  # no campaigns table: nothing was ever measured
        roi = pd.DataFrame(
            {"campaign_id": [], "end_date": pd.Series(dtype="datetime64[ns]"), "treated": [], "incremental_revenue": []}
        )
    require_columns(roi, ["campaign_id", "end_date", "treated", "incremental_revenue"], name="roi")
    chosen = dict(comparable or {})
    known = set(roi["campaign_id"].astype("str"))
    unknown = sorted(c for c in chosen.values() if c not in known)
    if unknown:
        raise ValueError(
            f"comparable names campaign(s) {unknown} that are not in the campaign results; known: {sorted(known)[:10]}."
        )
    rows = []
    for rec in summary.itertuples(index=False):
        if rec.list in chosen:
            match = roi.loc[roi["campaign_id"].astype("str") == chosen[rec.list]].iloc[0]
        else:
            match = _comparable(str(rec.list), roi, p.start)
        per = np.nan
        if match is not None and match["treated"] > 0 and pd.notna(match["incremental_revenue"]):
            per = float(match["incremental_revenue"]) / float(match["treated"])
        treatment = _count(rec.treatment)
        rows.append(
            {
                "list": rec.list,
                "theme": rec.theme,
                "status": rec.status,
                "customers": _count(rec.customers),
                "treatment": _count(rec.treatment),
                "holdout": _count(rec.holdout),
                "comparable_campaign": None if match is None else str(match["campaign_id"]),
                "comparable_significant": None if match is None else match.get("incremental_significant"),
                "incremental_revenue_per_treated": per,
                "expected_incremental_value": per * treatment if not np.isnan(per) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=EXPECTATION_COLUMNS).astype(_COUNTS)


def _count(value: Any) -> float:
    return float(value) if value is not None and pd.notna(value) else np.nan


#: The count columns of :func:`list_expectations`: float64, NaN when a list was not built.
_COUNTS = {"customers": "float64", "treatment": "float64", "holdout": "float64"}
