"""Privacy by design: marketing consent, suppressions, erasure and small-cell suppression.

Personal data is used only for the purposes the customer agreed to (個人情報保護法, GDPR). Three rules follow,
and this module holds each in one place:

- **Erasure.** A ``suppressions`` row with reason ``erasure`` removes the customer from every input before
  any analysis runs (:func:`erase`): their order lines, customer row, campaign contacts, experiment exposures,
  survey answers and suppressions go, and a referral pointing at them is blanked. Aggregates then exclude them.
  The data-quality summary counts the erased customers, never naming them.
- **Consent and suppression.** Only customers who gave marketing consent (``customers.marketing_consent``
  true; missing counts as *not* consented unless ``consent_default=True``) and have no ``opt_out`` or
  ``complaint`` suppression in force may appear in a campaign list (:func:`contactable`).
- **Small cells.** A table broken down by a customer attribute other than the analytic segments (region, age
  band, store ...) shows no cell of fewer than ``min_cell`` customers (:func:`suppress_small_cells`); the
  report prints such a cell as ``"<5"`` (:func:`small_cell_text`).

Examples
--------
>>> import pandas as pd
>>> customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"],
...                           "marketing_consent": pd.array([True, False, None, True], dtype="boolean")})
>>> suppressions = pd.DataFrame({"customer_id": ["d"], "reason": ["opt_out"],
...                              "since": pd.to_datetime(["2025-09-01"])})
>>> contactable(customers, suppressions, as_of="2025-11-01")[["customer_id", "contactable", "excluded_by"]]
  customer_id  contactable excluded_by
0           a         True         NaN
1           b        False  no_consent
2           c        False  no_consent
3           d        False     opt_out
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .checks import require_columns, require_range
from .engine import member_of, positions_of
from .periods import as_point

__all__ = [
    "ERASURE_CHECK",
    "EXCLUSION_CODES",
    "SUPPRESSION_REASONS",
    "contactable",
    "erase",
    "erased_ids",
    "small_cell_text",
    "suppress_small_cells",
]

#: Reasons a customer is suppressed (the ``suppressions.reason`` column).
SUPPRESSION_REASONS = ("opt_out", "erasure", "complaint")

#: Why a customer cannot be contacted, in the order they are checked (see :func:`contactable`).
EXCLUSION_CODES = ("complaint", "opt_out", "no_consent")

#: The data-quality check that counts erased customers (worded by the reporting catalogue).
ERASURE_CHECK = "customers erased on request"

#: Where customer ids live in each canonical table: (table, column, what happens to a matching row).
_ID_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("transactions", "customer_id", "drop"),
    ("customers", "customer_id", "drop"),
    ("customers", "referred_by", "blank"),
    ("campaign_contacts", "customer_id", "drop"),
    ("experiments", "unit_id", "drop"),
    ("surveys", "customer_id", "drop"),
    ("suppressions", "customer_id", "drop"),
)


def erased_ids(suppressions: pd.DataFrame | None, *, customer_col: str = "customer_id") -> pd.Index:
    """The distinct ids of customers who asked for erasure, sorted.

    An erasure applies whatever its ``since`` date: once asked for, the data goes from every period's report.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["b", "a", "b"], "reason": ["erasure", "opt_out", "erasure"]})
    >>> erased_ids(s).tolist()
    ['b']
    """
    if suppressions is None or len(suppressions) == 0:
        return pd.Index([], dtype="str")
    require_columns(suppressions, [customer_col, "reason"], name="suppressions")
    ids = suppressions.loc[suppressions["reason"] == "erasure", customer_col].dropna().astype("str")
    return pd.Index(sorted(ids.unique()), dtype="str")


def erase(tables: Mapping[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict]:
    """Remove every customer who asked for erasure from every table, before any analysis.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Canonical tables by name; ``suppressions`` (optional) says who is erased. Not modified.

    Returns
    -------
    (dict, dict)
        The tables without the erased customers' rows (order lines, customer row, contacts, exposures,
        survey answers, suppressions; a ``referred_by`` naming them is blanked), and counts without ids:
        ``customers`` (erasure requests), ``found`` (of them, present in some table), ``rows`` (rows removed,
        by table).

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "b", "b", None], "amount": [1.0, 2.0, 3.0, 4.0]})
    >>> s = pd.DataFrame({"customer_id": ["b", "z"], "reason": ["erasure", "erasure"], "since": pd.NaT})
    >>> out, counts = erase({"transactions": tx, "suppressions": s})
    >>> out["transactions"]["amount"].tolist(), counts["customers"], counts["found"], counts["rows"]
    ([1.0, 4.0], 2, 1, {'transactions': 2, 'suppressions': 2})
    """
    erased = set(erased_ids(tables.get("suppressions")).tolist())
    out = dict(tables)
    counts: dict = {"customers": len(erased), "found": 0, "rows": {}}
    if not erased:
        return out, counts
    found: set[str] = set()
    for table, column, action in _ID_COLUMNS:
        frame = out.get(table)
        if frame is None or column not in frame.columns or frame.empty:
            continue
        hit = frame[column].isin(erased).fillna(False).to_numpy(dtype=bool)
        if not hit.any():
            continue
        if table != "suppressions":
            found.update(frame.loc[hit, column].astype("str").tolist())
        if action == "drop":
            out[table] = frame.loc[~hit].reset_index(drop=True)
            counts["rows"][table] = counts["rows"].get(table, 0) + int(hit.sum())
        else:
            out[table] = frame.assign(**{column: frame[column].mask(hit)})
    counts["found"] = len(found)
    return out, counts


def contactable(
    customers: pd.DataFrame,
    suppressions: pd.DataFrame | None = None,
    *,
    as_of,
    consent_default: bool = False,
    customer_ids=None,
    customer_col: str = "customer_id",
    consent_col: str = "marketing_consent",
) -> pd.DataFrame:
    """Whether each customer may receive marketing, and if not, why.

    Parameters
    ----------
    customers : pandas.DataFrame
        Canonical customers; ``marketing_consent`` is optional (absent: every customer's consent is missing).
    suppressions : pandas.DataFrame, optional
        Canonical suppressions (``customer_id``, ``reason``, ``since``). A suppression is in force when its
        ``since`` is before ``as_of`` or missing.
    as_of : date, timestamp or Period
        The instant of the decision (exclusive; a Period means its end).
    consent_default : bool, default=False
        The consent of a customer without a recorded answer: whether a missing consent counts as consent (params ``privacy.consent_default``).
    customer_ids : iterable, optional
        Customers to decide for (e.g. everyone with a purchase); customers absent from ``customers`` have a
        missing consent. Default: the customers table.
    customer_col, consent_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        One row per customer, sorted by id: ``customer_id`` (``customer_col``), ``consent`` (boolean, missing
        when unknown), ``contactable`` (bool), ``excluded_by`` (the first of :data:`EXCLUSION_CODES` that
        applies: ``complaint``, ``opt_out`` or ``no_consent``; missing when contactable).
    """
    require_columns(customers, [customer_col], name="customers")
    as_of = as_point(as_of)
    if consent_default not in (True, False):
        raise TypeError(f"consent_default must be True or False; got {consent_default!r}.")
    base = customers[[customer_col]].astype({customer_col: "str"})
    consent = (
        customers[consent_col].astype("boolean")
        if consent_col in customers.columns
        else pd.Series(pd.NA, index=customers.index, dtype="boolean")
    )
    table = pd.DataFrame({customer_col: base[customer_col], "consent": consent}).drop_duplicates(customer_col)
    if customer_ids is not None:
        ids = pd.Index(_as_text(customer_ids).dropna().unique())
        at = positions_of(pd.Series(ids), table[customer_col])  # each id's row (-1: not a known customer)
        table = pd.DataFrame({customer_col: ids, "consent": table["consent"].array.take(at, allow_fill=True)})
    table = table.sort_values(customer_col, kind="stable").reset_index(drop=True)
    excluded = pd.Series(pd.NA, index=table.index, dtype="str")
    given = table["consent"].fillna(consent_default).astype(bool)
    excluded = excluded.mask(~given, "no_consent")
    if suppressions is not None and len(suppressions):
        require_columns(suppressions, [customer_col, "reason"], name="suppressions")
        since = (
            suppressions["since"] if "since" in suppressions.columns else pd.Series(pd.NaT, index=suppressions.index)
        )
        in_force = suppressions.loc[(since.isna() | (since < as_of)).to_numpy(dtype=bool)]
        for reason in reversed(EXCLUSION_CODES[:-1]):  # complaint wins over opt_out: checked last, written last
            who = set(in_force.loc[in_force["reason"] == reason, customer_col].dropna().astype("str"))
            excluded = excluded.mask(member_of(table[customer_col], who).to_numpy(), reason)
    table["contactable"] = excluded.isna().to_numpy()
    table["excluded_by"] = excluded
    return table[[customer_col, "consent", "contactable", "excluded_by"]]


def _as_text(values) -> pd.Series:
    """Ids as text: a column or an array converted as a whole, anything else read one by one."""
    if isinstance(values, (pd.Series, pd.Index, np.ndarray, pd.api.extensions.ExtensionArray)):
        return pd.Series(values, copy=False).astype("str")
    return pd.Series(list(values), dtype="str")


def suppress_small_cells(
    table: pd.DataFrame, *, count_col: str = "customers", value_cols=None, min_cell: int = 5
) -> pd.DataFrame:
    """Blank the cells of fewer than ``min_cell`` customers in a breakdown by a customer attribute.

    For any table or chart broken down by a customer attribute other than the analytic segments (region,
    age band, store ...): a cell of 1 to 4 customers can point at a person. The count and every value
    computed from those customers become missing, and ``suppressed`` says which rows; the report shows such a
    count as :func:`small_cell_text` (``"<5"``).

    Parameters
    ----------
    table : pandas.DataFrame
        One row per cell, with its customer count. Not modified.
    count_col : str, default="customers"
        The column of customers per cell.
    value_cols : list of str, optional
        Columns computed from the cell's customers (revenue, rates ...), blanked with the count. Default:
        every other numeric column.
    min_cell : int, default=5
        The smallest count shown (params ``privacy.min_cell``); 1 shows every cell.

    Returns
    -------
    pandas.DataFrame
        A copy with the small cells' ``count_col`` and ``value_cols`` missing (counts as nullable integers)
        and a boolean ``suppressed`` column added.

    Examples
    --------
    >>> t = pd.DataFrame({"region": ["Tokyo", "Tottori"], "customers": [120, 3], "revenue": [9e5, 2e4]})
    >>> suppress_small_cells(t)
        region  customers   revenue  suppressed
    0    Tokyo        120  900000.0       False
    1  Tottori       <NA>       NaN        True
    """
    require_columns(table, [count_col], name="table")
    require_range(min_cell, name="min_cell", low=1, integer=True)
    if value_cols is None:
        value_cols = [
            c for c in table.columns if c != count_col and pd.api.types.is_numeric_dtype(table[c]) and c != "suppressed"
        ]
    require_columns(table, list(value_cols), name="table")
    small = (table[count_col] < min_cell).fillna(False).to_numpy(dtype=bool)
    out = table.copy()
    out[count_col] = out[count_col].astype("Int64").mask(small)
    for column in value_cols:
        out[column] = out[column].mask(small) if pd.api.types.is_numeric_dtype(out[column]) else out[column]
    out["suppressed"] = np.asarray(small, dtype=bool)
    return out


def small_cell_text(min_cell: int = 5) -> str:
    """How a suppressed count is shown: ``"<5"`` for the default ``min_cell``.

    Examples
    --------
    >>> small_cell_text(10)
    '<10'
    """
    require_range(min_cell, name="min_cell", low=1, integer=True)
    return f"<{min_cell}"
