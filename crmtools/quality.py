"""Data-quality figures for the report: what was loaded, kept and dropped, month by month."""

from __future__ import annotations

import pandas as pd

__all__ = ["erasure_row", "lines_by_month", "quality_summary", "quality_warnings"]


def lines_by_month(
    transactions: pd.DataFrame,
    *,
    date_col: str = "order_datetime",
    quantity_col: str = "quantity",
    customer_col: str = "customer_id",
) -> pd.DataFrame:
    """Order lines per month, split into sales, returns and guest lines.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions.

    Returns
    -------
    pandas.DataFrame
        Columns ``month`` (``YYYY-MM``), ``kind`` (``sale``, ``return``, ``guest``), ``lines``.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_datetime": pd.to_datetime(["2025-01-03", "2025-01-09", "2025-02-01"]),
    ...                    "quantity": [1, -1, 2], "customer_id": ["a", "a", None]})
    >>> lines_by_month(tx).to_dict("list")
    {'month': ['2025-01', '2025-01', '2025-02'], 'kind': ['return', 'sale', 'guest'], 'lines': [1, 1, 1]}
    """
    columns = ["month", "kind", "lines"]
    if transactions.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "lines" else "str") for c in columns})
    kind = pd.Series("sale", index=transactions.index, dtype="str")
    kind = kind.mask(transactions[quantity_col] < 0, "return")
    kind = kind.mask(transactions[customer_col].isna(), "guest")
    month = transactions[date_col].dt.strftime("%Y-%m")
    out = pd.DataFrame({"month": month, "kind": kind}).value_counts().rename("lines").reset_index()
    return out.sort_values(["month", "kind"], kind="stable").reset_index(drop=True)[columns]


def quality_summary(quality: pd.DataFrame, translate=None) -> pd.DataFrame:
    """The data-quality summary with its fixed vocabulary passed through ``translate`` (for reports).

    Examples
    --------
    >>> q = pd.DataFrame({"table": ["transactions"], "check": ["rows read"], "rows": [3], "action": ["loaded"]})
    >>> quality_summary(q, str.upper)["check"].tolist()
    ['ROWS READ']
    """
    out = quality.copy()
    if translate is not None:
        for col in ("check", "action"):
            out[col] = out[col].map(translate)
    return out


def quality_warnings(quality: pd.DataFrame) -> list[str]:
    """One line per data-quality check that warns (the data is usable, but look at these rows).

    Parameters
    ----------
    quality : pandas.DataFrame
        The data-quality summary (``table, check, rows, action, detail``), e.g. from
        :func:`crmtools.data.inspect_dataset`.

    Returns
    -------
    list of str
        ``"<table>: <check>: <detail>"`` for every row whose action is ``warning``, in order.

    Examples
    --------
    >>> q = pd.DataFrame({"table": ["transactions", "transactions"],
    ...                   "check": ["rows read", "lines above the largest plausible amount"], "rows": [9, 1],
    ...                   "action": ["loaded", "warning"], "detail": ["", "1 row (...): row 3 (2000000000.0)"]})
    >>> quality_warnings(q)
    ['transactions: lines above the largest plausible amount: 1 row (...): row 3 (2000000000.0)']
    """
    if "action" not in quality.columns or quality.empty:
        return []
    detail = quality["detail"] if "detail" in quality.columns else pd.Series("", index=quality.index)
    warned = quality["action"] == "warning"
    return [
        f"{t}: {c}: {d}".rstrip(": ")
        for t, c, d in zip(quality.loc[warned, "table"], quality.loc[warned, "check"], detail[warned].fillna(""))
    ]


def erasure_row(counts: dict) -> dict:
    """The data-quality row counting the customers erased on request (never their ids).

    Parameters
    ----------
    counts : dict
        The counts of :func:`crmtools.privacy.erase`: ``customers`` (erasure requests), ``found`` (of them, in
        the data) and ``rows`` (rows removed, by table).

    Returns
    -------
    dict
        ``table`` (``suppressions``), ``check`` (:data:`crmtools.privacy.ERASURE_CHECK`), ``rows`` (customers
        erased), ``action`` (``erased``), ``detail`` (how many were found and the rows removed per table).

    Examples
    --------
    >>> erasure_row({"customers": 3, "found": 2, "rows": {"transactions": 14, "customers": 2}})["detail"]
    '2 of them found in the data; rows removed: transactions 14, customers 2'
    """
    from .privacy import ERASURE_CHECK

    removed = ", ".join(f"{table} {n:,}" for table, n in counts.get("rows", {}).items() if table != "suppressions")
    detail = f"{counts.get('found', 0):,} of them found in the data" + (f"; rows removed: {removed}" if removed else "")
    return {
        "table": "suppressions",
        "check": ERASURE_CHECK,
        "rows": int(counts.get("customers", 0)),
        "action": "erased",
        "detail": detail,
    }
