"""Data-quality figures for the report: what was loaded, kept and dropped, month by month.

Each row of the data-quality summary says what a check found in two forms: ``detail``, an English sentence
for the analyst's console (``crmtools validate``, the run log), and ``facts``, the same as language-neutral
codes and numbers (:func:`detail_facts`: JSON text such as ``{"code": "ids_found", "found": 9, "total": 10}``)
that the reporting layer words in the page's language
(:func:`crmtools.reporting.quality_text.quality_details`). The codes:

- ``ids_found``: ``found``, ``total`` distinct ids; ``causes``, codes of the likely different spellings
  (``leading_zeros``, ``decimal_part``, ``spaces``, ``case``, ``full_width``).
- ``amount_limit``: ``limit``, the largest plausible amount of a line (none above it).
- ``amounts_above_limit``: ``limit``, ``count`` lines above it, the first ``rows`` and their ``values``,
  ``row_basis`` (``file`` or ``query``: how the rows count).
- ``non_merchandise``: ``codes``, ``[product code, lines, net amount]`` of the first 20 codes; ``more``
  codes not listed.
- ``erased``: ``found`` of the erasure requests in the data; ``rows`` removed per table.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from .engine import month_label_of

__all__ = [
    "FACT_CODES",
    "detail_facts",
    "erasure_row",
    "lines_by_month",
    "quality_summary",
    "quality_warnings",
    "read_facts",
]

#: The codes a data-quality row's :func:`detail_facts` may carry (see the module's documentation).
FACT_CODES = ("ids_found", "amount_limit", "amounts_above_limit", "non_merchandise", "erased")


def detail_facts(code: str, **values) -> str:
    """A data-quality row's detail as language-neutral facts: JSON text of ``code`` and its numbers and codes.

    Parameters
    ----------
    code : str
        One of :data:`FACT_CODES`.
    **values
        Numbers, codes and lists of them (never words).

    Examples
    --------
    >>> detail_facts("ids_found", found=9, total=10, causes=["leading_zeros"])
    '{"causes": ["leading_zeros"], "code": "ids_found", "found": 9, "total": 10}'
    >>> read_facts(detail_facts("amount_limit", limit=1e8))
    {'code': 'amount_limit', 'limit': 100000000.0}
    """
    from .jsonio import dumps

    if code not in FACT_CODES:
        raise ValueError(f"Unknown data-quality fact code; allowed: {', '.join(FACT_CODES)}; received: {code!r}.")
    return dumps({"code": code, **values}, sort_keys=True, ensure_ascii=False)


def read_facts(text) -> dict:
    """The facts of :func:`detail_facts` back as a dict; ``{}`` for a row without any (empty or missing).

    Examples
    --------
    >>> read_facts(""), read_facts(None), read_facts('{"code": "erased", "found": 2}')["found"]
    ({}, {}, 2)
    """
    if not isinstance(text, str) or not text.strip():
        return {}
    return json.loads(text)


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
    # Counted on integers (a month number and a kind code per line): formatting 3 million dates as text and
    # counting text pairs took 2 s. Lines without a date are not counted, as before.
    stamps = transactions[date_col]
    year = stamps.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    dated = ~np.isnan(year)
    month = (year[dated] * 12 + stamps.dt.month.to_numpy(dtype="float64", na_value=np.nan)[dated] - 1).astype("int64")
    kind = np.full(len(transactions), _KINDS.index("sale"), dtype="int64")
    kind[transactions[quantity_col].lt(0).to_numpy(dtype=bool, na_value=False)] = _KINDS.index("return")
    kind[transactions[customer_col].isna().to_numpy()] = _KINDS.index("guest")
    if not dated.any():
        return pd.DataFrame({c: pd.Series(dtype="int64" if c == "lines" else "str") for c in columns})
    first = int(month.min())
    counts = np.bincount((month - first) * len(_KINDS) + kind[dated])
    found = np.flatnonzero(counts)  # in the order of month, then kind (the kinds' codes follow their names)
    return pd.DataFrame(
        {
            "month": pd.Series([month_label_of(first + k // len(_KINDS)) for k in found], dtype="str"),
            "kind": pd.Series([_KINDS[k % len(_KINDS)] for k in found], dtype="str"),
            "lines": counts[found].astype("int64"),
        }
    )


_KINDS = ("guest", "return", "sale")  # in alphabetical order


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
        erased), ``action`` (``erased``), ``detail`` (how many were found and the rows removed per table, in
        English) and ``facts`` (the same as codes and numbers: ``erased``).

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
        "facts": detail_facts(
            "erased",
            found=int(counts.get("found", 0)),
            rows={table: int(n) for table, n in counts.get("rows", {}).items() if table != "suppressions"},
        ),
    }


def non_merchandise_by_code(lines: pd.DataFrame, *, period) -> pd.DataFrame:
    """The lines set apart as non-merchandise, by product code: in the period and in all data read.

    Parameters
    ----------
    lines : pandas.DataFrame
        :attr:`crmtools.data.Dataset.non_merchandise` (``order_datetime, product_id, product_name, quantity,
        amount``).
    period : Period or str
        The report period.

    Returns
    -------
    pandas.DataFrame
        Columns ``product_id, product_name, lines_in_period, amount_in_period, lines_read, amount_read``, one row
        per code, the largest absolute amount in the period first; empty (same columns) when nothing was set
        apart.

    Examples
    --------
    >>> lines = pd.DataFrame({"order_datetime": pd.to_datetime(["2011-10-03", "2011-11-02", "2011-11-05"]),
    ...                       "product_id": ["POST", "POST", "AMAZONFEE"], "product_name": ["POSTAGE", "POSTAGE", None],
    ...                       "quantity": [1, 2, -1], "amount": [18.0, 36.0, -140.5]})
    >>> non_merchandise_by_code(lines, period="2011-11").to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'product_id': ['AMAZONFEE', 'POST'], 'product_name': ['', 'POSTAGE'], 'lines_in_period': [1, 1],
     'amount_in_period': [-140.5, 36.0], 'lines_read': [1, 2], 'amount_read': [-140.5, 54.0]}
    """
    from .periods import as_period

    columns = ["product_id", "product_name", "lines_in_period", "amount_in_period", "lines_read", "amount_read"]
    if lines.empty:
        kinds = {"lines_in_period": "int64", "lines_read": "int64", "amount_in_period": "float64"}
        return pd.DataFrame({c: pd.Series(dtype=kinds.get(c, "float64" if "amount" in c else "str")) for c in columns})
    p = as_period(period, name="period")
    inside = (lines["order_datetime"] >= p.start) & (lines["order_datetime"] < p.end)
    frame = lines.assign(
        inside=inside.astype("int64"),
        amount_inside=lines["amount"].where(inside, 0.0),
        product_name=lines.get("product_name"),
    )
    out = (
        frame.groupby("product_id", sort=True)
        .agg(
            product_name=("product_name", "first"),
            lines_in_period=("inside", "sum"),
            amount_in_period=("amount_inside", "sum"),
            lines_read=("amount", "size"),
            amount_read=("amount", "sum"),
        )
        .reset_index()
    )
    out[["amount_in_period", "amount_read"]] = out[["amount_in_period", "amount_read"]].round(2)
    out["product_name"] = out["product_name"].fillna("").astype("str")
    order = out["amount_in_period"].abs().sort_values(ascending=False, kind="mergesort").index
    return out.loc[order, columns].reset_index(drop=True)
