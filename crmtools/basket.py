"""Market-basket analysis: frequent itemsets, association rules and "bought together" recommendations.

The names and columns follow mlxtend's ``frequent_patterns`` so analysts feel
at home, and the answers are the same: :func:`frequent_itemsets` returns
exactly the itemsets and supports of ``mlxtend.frequent_patterns.fpgrowth``
and :func:`association_rules` the same rule metrics (checked in the tests).
The engine is different: a vectorised level-wise miner on packed tid bitsets
(see :mod:`crmtools._itemsets`) that needs no dense baskets-by-items table,
runs ten to thirty times faster than mlxtend on retail data with a fraction
of its memory (``benchmarks/bench_basket.py``), and checks its memory needs
before it allocates.

Definitions used throughout
---------------------------
basket
    An order (``basket="order"``, the default), or everything one customer
    bought (``basket="customer"``), optionally one per calendar month,
    quarter or year (``basket_freq="M"``: one basket per customer and month).
    The number of baskets ``n`` is the number of distinct baskets left after
    filtering. The functions mine whatever lines they are given: for one
    reporting period pass ``Dataset.for_period(period).transactions``.
item
    A product (``item="product"``) or a category (``item="category"``).
    Items are shown by readable labels: the product name where the data has
    one (``product_name``), otherwise the id.
support
    Share of baskets containing an itemset, ``count / n``.
returns
    Lines with a quantity of zero or less (returns, cancellations) are left
    out by default (``include_returns=False``): a basket is what was bought.
    A basket made only of such lines is not a basket.
duplicates
    An item bought on several lines of one basket counts once.
guest and bulk orders
    Orders without a customer id, and orders of more than
    ``max_basket_items`` distinct items (wholesale-style stock orders, whose
    hundreds of lines would make every pair among them a "rule" of 100%
    confidence). Kept by default; the report leaves both out and counts
    them (:func:`customer_rules`), so that its rules describe customers.
customers of a rule
    The distinct customers among the baskets holding all its items
    (``count_customers=True``; guest orders never count).
ranking
    The report ranks rules by their one-sided Fisher p-value, not by lift:
    lift is largest for the rarest items, the p-value needs a strong lift
    *and* many baskets (see :func:`screen_rules`).
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, combinations
from math import comb

import numpy as np
import pandas as pd

from ._deprecation import deprecated_arguments
from ._itemsets import MiningBudgetError, item_keys, itemset_owners, mine, output_bytes
from ._itemsets import min_count as _min_count
from .checks import message, require_columns, require_flag, require_frame, require_in, require_range
from .engine import sorted_unique
from .periods import as_point

__all__ = [
    "ITEMSET_COLUMNS",
    "RULE_COLUMNS",
    "RuleScreen",
    "association_rules",
    "customer_recommendations",
    "customer_rules",
    "frequent_itemsets",
    "merge_symmetric",
    "recommend_items",
    "rule_drift",
    "rule_sentences",
    "screen_rules",
    "significant_rules",
]

#: Columns of :func:`frequent_itemsets`, in order.
ITEMSET_COLUMNS = ["support", "itemsets", "count", "length"]

_METRICS = ["antecedent_support", "consequent_support", "support", "confidence", "lift", "leverage", "conviction"]
_COUNTS = ["antecedent_count", "consequent_count", "count"]
_SIGNIFICANCE = ["p_value", "p_adjusted"]

#: Columns of :func:`association_rules`, in order (the last two only with ``with_significance=True``).
RULE_COLUMNS = ["antecedents", "consequents", *_METRICS, *_COUNTS, *_SIGNIFICANCE]

_RECOMMENDATION_COLUMNS = ["rank", "item", "score", "antecedents", "consequents", "support", "confidence", "lift"]
_DRIFT_COLUMNS = [
    "antecedents",
    "consequents",
    "status",
    "support_before",
    "support_after",
    "confidence_before",
    "confidence_after",
    "lift_before",
    "lift_after",
    "change",
]

_DEFAULT_MAX_MEMORY = 2 * 1024**3


# --------------------------------------------------------------------------- validation


_COLUMNS_HINT = "Name your own columns with the *_col= arguments."


# --------------------------------------------------------------------------- encoding


def _compact(codes: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber codes to 0..k-1 keeping their order; also return the original codes kept."""
    present = np.zeros(n, dtype=bool)
    present[codes] = True
    new_of_old = (np.cumsum(present) - 1).astype(np.int32)
    return new_of_old[codes], np.flatnonzero(present)


def _by_frequency(item_codes: np.ndarray, n_items: int) -> np.ndarray:
    """New code of each item so that codes ascend with the number of lines (the miner's preferred order)."""
    order = np.argsort(np.bincount(item_codes, minlength=n_items), kind="stable")
    new_code = np.empty(n_items, np.int32)
    new_code[order] = np.arange(n_items, dtype=np.int32)
    return new_code


def _distinct_pairs(parts: list, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (basket, item) pairs sorted by basket then item, as int32 arrays (duplicate lines count once).

    ``parts`` is ``[basket_codes, item_codes]``; the list is emptied so that the codes can be freed early.
    """
    width = max(n_items, 1)
    basket_codes, item_codes = parts
    parts.clear()
    key = basket_codes.astype(np.int64)
    del basket_codes
    key *= width
    key += item_codes
    del item_codes
    key.sort(kind="stable")  # in place; lines usually arrive grouped by basket, which timsort exploits
    if key.size > 1:
        repeated = key[1:] == key[:-1]
        if repeated.any():
            key = key[np.concatenate(([True], ~repeated))]
        del repeated
    baskets = np.empty(key.size, np.int32)
    items = np.empty(key.size, np.int32)
    for lo in range(0, key.size, 1 << 16):  # in chunks, to keep the temporaries small
        baskets[lo : lo + (1 << 16)], items[lo : lo + (1 << 16)] = np.divmod(key[lo : lo + (1 << 16)], width)
    return baskets, items


def _item_labels(
    ids: np.ndarray, item_codes: np.ndarray, label_values: pd.Series | None, keep: np.ndarray
) -> np.ndarray:
    """Readable label per item: its most common label (ties: the one seen first), the id where there is none.

    Two items sharing a label are told apart as ``"label (id)"``.
    """
    labels = ids.copy()
    if label_values is None or item_codes.size == 0:
        return labels
    label_codes, label_uniques = pd.factorize(label_values, size_hint=1024)
    label_codes = label_codes[keep]
    named = label_codes >= 0
    n_labels = max(len(label_uniques), 1)
    combos, lines = np.unique(item_codes[named].astype(np.int64) * n_labels + label_codes[named], return_counts=True)
    if combos.size:
        item_of, label_of = combos // n_labels, combos % n_labels
        order = np.lexsort((label_of, -lines, item_of))
        first = order[np.concatenate(([True], item_of[order][1:] != item_of[order][:-1]))]
        labels[item_of[first]] = np.asarray(label_uniques, dtype=object)[label_of[first]]
    clash = pd.Series(labels).duplicated(keep=False).to_numpy()
    if clash.any():
        labels[clash] = [f"{lab} ({ident})" for lab, ident in zip(labels[clash], ids[clash])]
    return labels


def _encode_transactions(
    data: pd.DataFrame,
    *,
    basket: str,
    item: str,
    basket_freq: str | None,
    include_returns: bool,
    order_col: str,
    customer_col: str,
    date_col: str,
    item_col: str | None,
    label_col: str | None,
    quantity_col: str,
    as_of=None,
    include_guests: bool = True,
    with_owner: bool = False,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray | None, np.ndarray | None, int]:
    """Distinct (basket, item) code pairs of canonical transactions.

    Returns basket codes and item codes (int32, sorted by basket), the
    number of baskets, the item labels, for ``basket="customer"`` the
    customer id of each basket (else None), with ``with_owner`` the customer
    code of each basket (``-1`` for a guest order; else None), and the
    number of guest orders left out (``include_guests=False``). Works on
    integer codes of the columns, so the text columns are never copied.
    """
    require_in(basket, ("order", "customer"), name="basket")
    require_in(item, ("product", "category"), name="item")
    require_flag(include_returns, name="include_returns")
    require_flag(include_guests, name="include_guests")
    if basket_freq is not None and basket != "customer":
        raise ValueError(
            message(
                f"basket_freq={basket_freq!r} needs basket='customer'",
                allowed="basket_freq=None, or basket='customer' for one basket per customer and month, quarter or year",
                received=f"basket={basket!r}",
            )
        )
    if item_col is None:
        item_col = "product_id" if item == "product" else "category"
    if label_col is None and item == "product" and "product_name" in data.columns:
        label_col = "product_name"
    key_col = order_col if basket == "order" else customer_col
    needed = {item_col: "the item", key_col: "the basket"}
    if not include_returns:
        needed[quantity_col] = "quantity, to leave out returns (or pass include_returns=True)"
    if basket_freq is not None or as_of is not None:
        needed[date_col] = "order date"
    if label_col is not None:
        needed[label_col] = "item label"
    if with_owner or not include_guests:
        needed[customer_col] = "customer id, to count customers or leave out guest orders"
    require_columns(data, needed, name="transactions", hint=_COLUMNS_HINT)

    keep = np.ones(len(data), dtype=bool)
    if not include_returns:
        np.logical_and(keep, (data[quantity_col] > 0).fillna(False).to_numpy(dtype=bool), out=keep)
    if as_of is not None:
        np.logical_and(keep, (data[date_col] < as_point(as_of)).fillna(False).to_numpy(dtype=bool), out=keep)
    # One column at a time, as int32 codes (-1 where missing); size_hint: the hash tables grow with the
    # distinct values, not with the number of lines.
    item_codes, item_uniques = pd.factorize(data[item_col], size_hint=1024)
    item_codes = item_codes.astype(np.int32)
    basket_codes, basket_uniques = pd.factorize(data[key_col], size_hint=1024)
    basket_codes = basket_codes.astype(np.int32)
    np.logical_and(keep, item_codes >= 0, out=keep)
    np.logical_and(keep, basket_codes >= 0, out=keep)
    customer_codes, n_guests = None, 0
    if with_owner or not include_guests:
        customer_codes = pd.factorize(data[customer_col], size_hint=1024)[0].astype(np.int32)
        if not include_guests:
            guest = keep & (customer_codes < 0)
            n_guests = int(sorted_unique(basket_codes[guest]).size) if basket == "order" else 0
            np.logical_and(keep, customer_codes >= 0, out=keep)
            del guest
    items, used_items = _compact(item_codes[keep], len(item_uniques))
    del item_codes
    baskets, used_baskets = _compact(basket_codes[keep], len(basket_uniques))
    del basket_codes
    n_baskets = used_baskets.size
    owner = owner_code = None
    if with_owner:  # one customer per basket (the largest code on an order's lines; -1 for a guest order)
        owner_code = np.full(n_baskets, -1, dtype=np.int64)
        np.maximum.at(owner_code, baskets, customer_codes[keep])
    del customer_codes
    if basket == "customer":
        owner = np.asarray(basket_uniques, dtype=object)[used_baskets]
        if basket_freq is not None:
            try:
                periods = pd.DatetimeIndex(data[date_col].to_numpy()[keep]).to_period(basket_freq)
            except (ValueError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"Invalid basket_freq: expected a pandas period alias such as 'M', 'Q' or 'Y' and "
                    f"datetimes in {date_col!r}; got basket_freq={basket_freq!r} ({exc})."
                ) from None
            period_codes, period_uniques = pd.factorize(periods)
            n_periods = max(len(period_uniques), 1)
            combined, used = _compact(baskets.astype(np.int64) * n_periods + period_codes, len(owner) * n_periods)
            baskets, n_baskets, owner = combined, used.size, owner[used // n_periods]
            if owner_code is not None:
                owner_code = owner_code[used // n_periods]
    new_code = _by_frequency(items, used_items.size)
    items = new_code[items]
    ids = np.empty(used_items.size, dtype=object)
    ids[new_code] = np.asarray(item_uniques, dtype=object)[used_items]
    labels = _item_labels(ids, items, data[label_col] if label_col is not None else None, keep)
    parts = [baskets, items]
    del baskets, items
    b, i = _distinct_pairs(parts, len(ids))
    return b, i, n_baskets, labels, owner, owner_code, n_guests


def _encode_baskets(data) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """Distinct (basket, item) code pairs of a list of baskets of item labels."""
    baskets = data if isinstance(data, (list, tuple)) else list(data)
    for position, bk in enumerate(baskets):
        if isinstance(bk, (str, bytes)) or not hasattr(bk, "__iter__"):
            raise TypeError(
                f"Invalid basket {position}: expected an iterable of item labels (list, set, "
                f"tuple); got {bk!r} ({type(bk).__name__})."
            )
        if not hasattr(bk, "__len__"):
            baskets = [b if hasattr(b, "__len__") else list(b) for b in baskets]
            break
    lengths = np.fromiter(map(len, baskets), dtype=np.int64, count=len(baskets))
    flat = np.fromiter(chain.from_iterable(baskets), dtype=object, count=int(lengths.sum()))
    item_codes, uniques = pd.factorize(flat, size_hint=1024)
    if (item_codes < 0).any():
        first = int(np.flatnonzero(item_codes < 0)[0])
        where = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise ValueError(f"Invalid basket {where}: expected item labels; got a missing value ({flat[first]!r}).")
    del flat
    basket_codes = np.repeat(np.arange(len(baskets), dtype=np.int32), lengths)
    new_code = _by_frequency(item_codes, len(uniques))
    item_codes = new_code[item_codes]
    labels = np.empty(len(uniques), dtype=object)
    labels[new_code] = list(uniques)
    parts = [basket_codes, item_codes]
    del basket_codes, item_codes
    b, i = _distinct_pairs(parts, len(labels))
    return b, i, len(baskets), labels


def _is_basket_list(data) -> bool:
    return not isinstance(data, (pd.DataFrame, str, bytes, dict)) and hasattr(data, "__iter__")


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB" if n_bytes >= 2**30 else f"{n_bytes / 2**20:,.0f} MiB"


# --------------------------------------------------------------------------- itemsets


@deprecated_arguments(renamed={"period": "basket_freq"})
def frequent_itemsets(
    data,
    *,
    min_support: float | int = 0.01,
    max_len: int | None = None,
    basket: str = "order",
    item: str = "product",
    basket_freq: str | None = None,
    include_returns: bool = False,
    order_col: str = "order_id",
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    item_col: str | None = None,
    label_col: str | None = None,
    quantity_col: str = "quantity",
    max_memory: int = _DEFAULT_MAX_MEMORY,
    include_guests: bool = True,
    max_basket_items: int | None = None,
    count_customers: bool = False,
) -> pd.DataFrame:
    """All itemsets bought together in at least ``min_support`` of the baskets.

    The same itemsets and supports as ``mlxtend.frequent_patterns.fpgrowth``
    (or ``apriori``) on the one-hot table of the same baskets, without
    building that table.

    Parameters
    ----------
    data : pandas.DataFrame or iterable of iterables
        Canonical transactions (one row per order line), or a list of baskets,
        each an iterable of item labels (``[["milk", "bread"], ["milk"]]``).
        With a list, ``basket``, ``item`` and the column keywords are ignored
        and empty baskets count as baskets.
    min_support : float or int, default=0.01
        Smallest support: a float is a share of baskets in (0, 1]
        (``count / n >= min_support``, as in mlxtend); an int is a number of
        baskets (``count >= min_support``). The report uses 0.003 with
        ``max_len=3`` (params ``basket.min_support``, ``basket.max_len``),
        ``include_guests=False``, ``max_basket_items=100`` and
        ``count_customers=True``: :func:`customer_rules` is the report's call.
    max_len : int or None, default=None
        Longest itemset to return; None for no limit.
    basket : {"order", "customer"}, default="order"
        What a basket is: an order, or all purchases of one customer (lines
        without a customer id are then left out).
    item : {"product", "category"}, default="product"
        What an item is.
    basket_freq : str or None, default=None
        With ``basket="customer"``, one basket per customer and calendar
        month, quarter or year (a pandas period alias such as ``"M"``,
        ``"Q"``, ``"Y"`` applied to
        ``date_col``).
    include_returns : bool, default=False
        Keep lines with a quantity of zero or less (returns, cancellations).
    order_col, customer_col, date_col, quantity_col : str
        Column names, canonical by default.
    item_col : str or None, default=None
        Column identifying an item; ``"product_id"`` for products,
        ``"category"`` for categories.
    label_col : str or None, default=None
        Column with readable item labels; ``"product_name"`` for products when
        present. Each item shows its most common label (on a tie, the one
        seen first); two items with the same label show as ``"label (id)"``.
    max_memory : int, default=2 GiB
        Bytes mining may use, including the result table. Mining is refused
        with a ValueError naming the estimate when it would need more.
    include_guests : bool, default=True
        Keep orders without a customer id (guest orders). The report leaves
        them out (params ``basket.include_guests: false``): its rules describe
        customers. The number left out is ``attrs["excluded_guest_baskets"]``.
    max_basket_items : int or None, default=None
        Leave out baskets of more than this many distinct items (bulk or
        wholesale orders, which add every pair of their hundreds of items at
        once); None keeps every basket. The report uses 100 (params
        ``basket.max_basket_items``). What is left out is counted in
        ``attrs["excluded_bulk_baskets"]`` and ``attrs["excluded_bulk_lines"]``
        (distinct items of those baskets).
    count_customers : bool, default=False
        Add a ``customers`` column: the number of distinct customers among the
        baskets holding the itemset (guest orders not counted). Needs
        ``customer_col``; not available for a list of baskets.

    Returns
    -------
    pandas.DataFrame
        One row per frequent itemset, ordered by length, then by descending
        support, then by the sorted item labels (compared as text), with
        columns:

        - ``support`` (float): share of baskets containing the itemset;
        - ``itemsets`` (frozenset): the item labels;
        - ``count`` (int): number of baskets containing the itemset;
        - ``length`` (int): number of items;
        - ``customers`` (int, only with ``count_customers=True``): distinct
          customers of those baskets.

        ``attrs["n_baskets"]`` holds the number of baskets (used by
        :func:`association_rules`), ``attrs["min_count"]`` the threshold as
        a count. No baskets, or a threshold above every support, gives an
        empty frame with these columns.

    Raises
    ------
    ValueError
        When a column is missing, a parameter is out of range, or mining
        would need more than ``max_memory`` (the message says how much, and
        what to change).

    Notes
    -----
    A float threshold keeps the itemsets with ``count / n >= min_support``
    computed in floating point, the test mlxtend applies to its output. (Its
    FP-tree prunes with ``ceil(min_support * n)`` instead, which can drop an
    itemset whose support equals the threshold exactly when the product
    rounds up; pass an int count to avoid any doubt.) The work and memory grow
    with the number of baskets holding frequent items and with the number of
    frequent itemsets, never with baskets times items: the engine keeps one
    compact bitset per candidate itemset, projected on the baskets of its
    rarest item.

    Examples
    --------
    >>> baskets = [["tea", "cake"], ["tea", "cake", "jam"], ["tea"], ["jam"]]
    >>> fi = frequent_itemsets(baskets, min_support=0.5)
    >>> [(sorted(s), c) for s, c in zip(fi["itemsets"], fi["count"])]
    [(['tea'], 3), (['cake'], 2), (['jam'], 2), (['cake', 'tea'], 2)]
    >>> fi.attrs["n_baskets"]
    4
    """
    require_range(max_len, name="max_len", low=1, integer=True, allow_none=True)
    require_range(max_memory, name="max_memory", low=1, integer=True)
    require_range(max_basket_items, name="max_basket_items", low=1, integer=True, allow_none=True)
    require_flag(count_customers, name="count_customers")
    owner = None
    n_guests = 0
    if isinstance(data, pd.DataFrame):
        b, i, n_baskets, labels, _, owner, n_guests = _encode_transactions(
            data,
            basket=basket,
            item=item,
            basket_freq=basket_freq,
            include_returns=include_returns,
            order_col=order_col,
            customer_col=customer_col,
            date_col=date_col,
            item_col=item_col,
            label_col=label_col,
            quantity_col=quantity_col,
            include_guests=include_guests,
            with_owner=count_customers,
        )
    elif _is_basket_list(data):
        if count_customers:
            raise ValueError(
                message(
                    "count_customers=True needs customers",
                    allowed="a DataFrame of transactions with a customer column",
                    received="a list of baskets",
                )
            )
        b, i, n_baskets, labels = _encode_baskets(data)
    else:
        raise TypeError(
            message(
                "data has the wrong type",
                allowed="a DataFrame of transactions or a list of baskets",
                received=type(data).__name__,
            )
        )
    b, i, n_baskets, owner, bulk = _drop_large_baskets(b, i, n_baskets, owner, max_basket_items)
    min_count = _min_count(min_support, n_baskets)
    kept = (b, i) if count_customers else None
    try:
        entries = [b, i]
        del b, i  # the miner frees them once it has what it needs (unless customers are counted)
        levels, counts = mine(
            entries,
            n_baskets=n_baskets,
            n_items=len(labels),
            min_count=min_count,
            max_len=max_len,
            max_memory=max_memory,
        )
        customers = None
        if count_customers:
            held = sum(output_bytes(rows.shape[0], rows.shape[1]) + rows.nbytes for rows in levels)
            customers = itemset_owners(
                kept, owner, levels, n_baskets=n_baskets, n_items=len(labels), budget=max_memory - held
            )
        del kept
    except MiningBudgetError as exc:
        raise ValueError(
            _refusal(
                f"Mining refused: {exc.stage.lower()} would need about {_gib(exc.needed)}",
                max_memory=max_memory,
                min_support=min_support,
                min_count=min_count,
                n_baskets=n_baskets,
                max_len=max_len,
                max_basket_items=max_basket_items if isinstance(data, pd.DataFrame) else -1,
            )
        ) from None
    frame = _itemset_frame(levels, counts, labels, n_baskets, min_count, min_support, customers)
    frame.attrs.update(
        excluded_guest_baskets=int(n_guests),
        excluded_bulk_baskets=int(bulk[0]),
        excluded_bulk_lines=int(bulk[1]),
        max_basket_items=max_basket_items,
    )
    return frame


def _drop_large_baskets(b, i, n_baskets, owner, max_items):
    """Leave out the baskets of more than ``max_items`` items; renumber the others.

    Returns the entries, the number of baskets left, their owners, and
    ``(baskets left out, their entries)``.
    """
    if max_items is None or b.size == 0:
        return b, i, n_baskets, owner, (0, 0)
    sizes = np.bincount(b, minlength=n_baskets)
    large = sizes > max_items
    if not large.any():
        return b, i, n_baskets, owner, (0, 0)
    dropped = (int(large.sum()), int(sizes[large].sum()))
    keep = ~large[b]
    new_code = (np.cumsum(~large) - 1).astype(np.int32)
    b, i = new_code[b[keep]], i[keep]
    if owner is not None:
        owner = owner[~large]
    return b, i, n_baskets - dropped[0], owner, dropped


def _refusal(
    what: str, *, max_memory, min_support, min_count, n_baskets, max_len, max_basket_items, extra: str = ""
) -> str:
    """The refusal message: the estimate, and only advice that can be followed, each with its params key."""
    advice = []
    if isinstance(min_support, float):
        higher = f"{min(1.0, 2 * min_support):g}"
    else:
        higher = f"{2 * int(min_support)}"
    advice.append(f"raise min_support (params basket.min_support) from {min_support!r} to {higher}")
    if max_len is None or max_len > 2:
        advice.append(
            f"lower max_len (params basket.max_len) from {max_len} to {2 if max_len is None else max_len - 1}"
        )
    if max_basket_items is None or (max_basket_items > 100):
        advice.append(
            "leave out bulk orders with max_basket_items (params basket.max_basket_items), e.g. 100"
            if max_basket_items is None
            else f"lower max_basket_items (params basket.max_basket_items) from {max_basket_items} to 100"
        )
    advice.append(
        f"or raise max_memory (params basket.max_memory, in bytes; now {max_memory:,}) if the machine has the room"
    )
    return (
        f"{what}, more than max_memory={_gib(max_memory)}, at min_support={min_support!r} ({min_count:,} of "
        f"{n_baskets:,} baskets){extra}. To fit: " + "; ".join(advice) + "."
    )


#: Itemsets turned into frozensets per step when building the table.
_FRAME_CHUNK = 1 << 16


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector for a block that creates many objects and no cycles; restored
    after (left off when the caller had it off)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _itemset_frame(levels, counts, labels, n_baskets, min_count, min_support, customers=None) -> pd.DataFrame:
    """The itemsets table: by length, then descending support, then the sorted item labels (as text)."""
    sets: list[frozenset] = []
    count_parts, length_parts, customer_parts = [], [], []
    has_customers = customers is not None
    customers = customers if has_customers else [None] * len(levels)
    text_rank = np.empty(len(labels), dtype=np.int64)
    text_rank[np.argsort(np.array([str(x) for x in labels], dtype=str), kind="stable")] = np.arange(len(labels))
    for rows, cnt, owners in zip(levels, counts, customers):
        ranks = np.sort(text_rank[rows], axis=1)
        order = np.lexsort([ranks[:, j] for j in range(ranks.shape[1] - 1, -1, -1)] + [-cnt])
        rows, cnt = rows[order], cnt[order]
        if owners is not None:
            customer_parts.append(owners[order])
        del ranks
        with _collector_paused():  # millions of new containers would trigger full collections, for nothing
            for lo in range(0, rows.shape[0], _FRAME_CHUNK):  # in chunks: the label lists stay small
                names = labels[rows[lo : lo + _FRAME_CHUNK]]
                if rows.shape[1] == 1:
                    sets.extend(frozenset((x,)) for x in names[:, 0].tolist())
                else:
                    sets.extend(map(frozenset, names.tolist()))
                del names
        count_parts.append(cnt)
        length_parts.append(np.full(cnt.size, rows.shape[1], dtype=np.int64))
    count = np.concatenate(count_parts) if count_parts else np.zeros(0, np.int64)
    itemsets = np.empty(len(sets), dtype=object)
    itemsets[:] = sets
    frame = pd.DataFrame(
        {
            "support": count / n_baskets if n_baskets else count.astype(np.float64),
            "itemsets": pd.Series(itemsets, dtype=object, copy=False),
            "count": count.astype(np.int64),
            "length": np.concatenate(length_parts) if length_parts else np.zeros(0, np.int64),
        },
        copy=False,
    )
    if has_customers:
        frame["customers"] = np.concatenate(customer_parts) if customer_parts else np.zeros(0, np.int64)
    frame.attrs.update({"n_baskets": int(n_baskets), "min_count": int(min_count), "min_support": min_support})
    return frame


# --------------------------------------------------------------------------- rules


def _resolve_counts(itemsets: pd.DataFrame, n_baskets: int | None) -> tuple[int, np.ndarray]:
    """Number of baskets and integer count of each itemset."""
    support = itemsets["support"].to_numpy(dtype=np.float64)
    has_count = "count" in itemsets.columns
    if n_baskets is None:
        n_baskets = itemsets.attrs.get("n_baskets")
    if n_baskets is None and has_count and len(itemsets):
        counts = itemsets["count"].to_numpy()
        n_baskets = round(float(counts[0]) / support[0])
    if n_baskets is None:
        raise ValueError(
            "Invalid itemsets: the number of baskets is unknown (no attrs['n_baskets'] and no "
            "'count' column); expected the output of frequent_itemsets or n_baskets=; "
            f"got columns {list(itemsets.columns)}."
        )
    require_range(n_baskets, name="n_baskets", low=1, integer=True)
    if has_count:
        counts = itemsets["count"].to_numpy().astype(np.int64)
    else:
        counts = np.rint(support * n_baskets).astype(np.int64)
    if not np.allclose(counts / n_baskets, support, rtol=0, atol=1e-9):
        raise ValueError(
            f"Invalid itemsets: supports do not match counts over n_baskets={n_baskets}; "
            "expected support == count / n_baskets; pass the right n_baskets=."
        )
    return int(n_baskets), counts


class _ItemsetIndex:
    """Integer-coded itemsets with a hash index for subset look-ups."""

    def __init__(self, sets: np.ndarray):
        n = sets.size
        self.lengths = np.fromiter(map(len, sets), dtype=np.int64, count=n)
        if n and self.lengths.min() == 0:
            raise ValueError(
                "Invalid itemsets: expected non-empty itemsets; got an empty frozenset at row "
                f"{int(np.argmin(self.lengths))}."
            )
        flat = pd.Index(list(chain.from_iterable(sets)), dtype=object, tupleize_cols=False)
        singles = np.flatnonzero(self.lengths == 1)
        self.starts = np.cumsum(self.lengths) - self.lengths
        vocab = flat[self.starts[singles]] if n else flat
        if not vocab.is_unique:
            raise ValueError(
                f"Invalid itemsets: expected each itemset once; got duplicates of {vocab[vocab.duplicated()][0]!r}."
            )
        codes = vocab.get_indexer(flat).astype(np.int64)
        if (codes < 0).any():
            missing = flat[np.flatnonzero(codes < 0)[0]]
            raise ValueError(
                f"Invalid itemsets: every subset of an itemset must be present (as in the output of "
                f"frequent_itemsets); got no single-item row for {missing!r}."
            )
        # Each itemset's items in the order of their codes: a frozenset of text iterates in the order of the
        # items' hashes, which change with every Python process, and the rules' order (hence which direction of
        # a tied pair a report names) would change with them.
        segment = np.repeat(np.arange(n), self.lengths)
        self.codes = codes[np.lexsort((codes, segment))]
        self.single_row = np.empty(len(vocab), dtype=np.int64)
        self.single_row[:] = singles
        self.k1, self.k2 = item_keys(len(vocab))
        if n:
            self.key1 = np.add.reduceat(self.k1[self.codes], self.starts)
            self.key2 = np.add.reduceat(self.k2[self.codes], self.starts)
        else:
            self.key1 = self.key2 = np.zeros(0, np.uint64)
        self.lookup = pd.Index(self.key1, dtype=np.uint64)
        if not self.lookup.is_unique:
            raise ValueError("Invalid itemsets: expected each itemset once; got the same itemset on two rows.")

    def matrix(self, rows: np.ndarray, length: int) -> np.ndarray:
        """Item codes of the given rows (all of ``length`` items), shape ``(len(rows), length)``."""
        return self.codes[self.starts[rows][:, None] + np.arange(length)]

    def find(self, key1: np.ndarray, key2: np.ndarray, length) -> np.ndarray:
        """Rows of the itemsets with the given keys and length(s); raises when one is missing.

        Two independent 64-bit hashes and the length must all match, so a
        wrong match would need a 128-bit collision.
        """
        rows = self.lookup.get_indexer(key1)
        ok = (rows >= 0) & (self.key2[rows] == key2) & (self.lengths[rows] == length)
        if not ok.all():
            raise ValueError(
                "Invalid itemsets: every subset of an itemset must be present (as in the output of "
                "frequent_itemsets); got itemsets whose subsets are missing (filtered out?)."
            )
        return rows


def _empty_rules(with_significance: bool, n_baskets, with_customers: bool = False) -> pd.DataFrame:
    columns = RULE_COLUMNS[:-2] + (["customers"] if with_customers else []) + RULE_COLUMNS[-2:]
    if not with_significance:
        columns = columns[:-2]
    frame = pd.DataFrame(
        {
            c: pd.Series(
                dtype=object
                if c in ("antecedents", "consequents")
                else np.int64
                if c in _COUNTS or c == "customers"
                else np.float64
            )
            for c in columns
        }
    )
    frame.attrs["n_baskets"] = n_baskets
    return frame


def _metric(name: str, c_ac: np.ndarray, c_a: np.ndarray, c_c: np.ndarray, n: int) -> np.ndarray:
    """One rule metric from basket counts, with mlxtend's formulas."""
    if name == "antecedent_support":
        return c_a / n
    if name == "consequent_support":
        return c_c / n
    if name == "support":
        return c_ac / n
    confidence = c_ac / c_a
    if name == "confidence":
        return confidence
    if name == "lift":
        confidence *= n
        confidence /= c_c
        return confidence
    if name == "leverage":
        out = c_a * (c_c / n)
        np.subtract(c_ac, out, out=out)
        out /= n
        return out
    if name == "conviction":  # inf when confidence is 1, as in mlxtend
        out = np.full(confidence.shape, np.inf)
        below = confidence < 1.0
        out[below] = (1.0 - c_c[below] / n) / (1.0 - confidence[below])
        return out
    raise AssertionError(name)  # pragma: no cover - names are validated


def association_rules(
    itemsets: pd.DataFrame,
    *,
    metric: str = "confidence",
    min_threshold: float = 0.8,
    min_confidence: float | None = None,
    min_lift: float | None = None,
    max_consequent_len: int | None = 1,
    sort_by: str | None = "lift",
    with_significance: bool = True,
    prune_redundant: bool = False,
    n_baskets: int | None = None,
    max_memory: int = _DEFAULT_MAX_MEMORY,
) -> pd.DataFrame:
    """Association rules ``antecedents -> consequents`` from frequent itemsets, with their statistics.

    Every split of every itemset into an antecedent and a consequent is a
    candidate rule (as in ``mlxtend.frequent_patterns.association_rules``);
    the rules kept are those with ``metric >= min_threshold`` and, when
    given, ``confidence >= min_confidence`` and ``lift >= min_lift``.

    Parameters
    ----------
    itemsets : pandas.DataFrame
        Output of :func:`frequent_itemsets` (or of mlxtend's miners, with
        ``n_baskets=``): columns ``support`` and ``itemsets``, every subset of
        every itemset present.
    metric : str, default="confidence"
        Column the threshold applies to: one of ``antecedent_support``,
        ``consequent_support``, ``support``, ``confidence``, ``lift``,
        ``leverage``, ``conviction``.
    min_threshold : float, default=0.8
        Smallest value of ``metric`` kept (mlxtend's default). Retail rules
        rarely reach 80% confidence, so on the sample data this default
        gives no rules; the report uses ``min_threshold=0.1`` (params
        ``basket.min_confidence``) on ``frequent_itemsets(...,
        min_support=0.003, max_len=3)`` of its customers' orders and shows
        only the rules :func:`screen_rules` keeps (significant, lift above 1,
        enough orders and customers, ranked by p-value, symmetric pairs
        merged): :func:`customer_rules` does all of it with the report's
        defaults.
    min_confidence, min_lift : float or None, default=None
        Further minimums on confidence and lift.
    max_consequent_len : int or None, default=1
        Longest consequent; 1 gives "who buys X also buys Y" rules, None all
        splits (as mlxtend does).
    sort_by : str or None, default="lift"
        Column to sort by, descending (ascending for ``p_value`` and
        ``p_adjusted``); ties by confidence, then support. None keeps the
        order of generation.
    with_significance : bool, default=True
        Add a one-sided Fisher's exact test per rule (is the consequent more
        frequent with the antecedent than without?) and the
        Benjamini-Hochberg adjusted p-value across the rules returned. The
        adjustment covers only the rules returned, not every candidate
        screened, so read it as optimistic.
    prune_redundant : bool, default=False
        Drop a rule when a more general rule (same consequent, antecedent a
        non-empty proper subset) has the same or a higher confidence, i.e.
        when the extra antecedent items do not improve confidence. The more
        general rules are judged whether or not they pass the thresholds.
    n_baskets : int or None, default=None
        Number of baskets; read from ``itemsets.attrs["n_baskets"]`` or the
        ``count`` column when None.
    max_memory : int, default=2 GiB
        Bytes the candidate rules may take; refused with a ValueError above.

    Returns
    -------
    pandas.DataFrame
        One row per rule, with columns:

        - ``antecedents``, ``consequents`` (frozenset of item labels);
        - ``antecedent_support``, ``consequent_support``, ``support``,
          ``confidence``, ``lift``, ``leverage``, ``conviction`` (float;
          mlxtend's formulas; conviction is ``inf`` when confidence is 1, as
          in mlxtend);
        - ``antecedent_count``, ``consequent_count``, ``count`` (int): baskets
          with the antecedent, the consequent, both;
        - ``p_value``, ``p_adjusted`` (float; only with
          ``with_significance=True``).

        Sorted by ``sort_by``. ``attrs["n_baskets"]`` is kept. No itemsets or
        no rule passing the thresholds gives an empty frame with these
        columns.

    Notes
    -----
    Candidate rules are screened in vectorised batches: subsets are found by
    hashing each itemset as a sum of random 64-bit item keys (two independent
    hashes and the length must match), so no dictionary of frozensets is
    built. The p-values are exact hypergeometric tails computed in floating
    point (relative error below about 1e-8 for a million baskets, far less
    for fewer).

    Examples
    --------
    >>> baskets = [["tea", "cake"], ["tea", "cake", "jam"], ["tea"], ["jam"], ["cake", "tea"]]
    >>> rules = association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.9)
    >>> rules[["antecedents", "consequents", "confidence", "lift"]].round(2).to_dict("records")
    [{'antecedents': frozenset({'cake'}), 'consequents': frozenset({'tea'}), 'confidence': 1.0, 'lift': 1.25}]
    """
    _check_rule_arguments(
        itemsets,
        metric=metric,
        min_threshold=min_threshold,
        min_confidence=min_confidence,
        min_lift=min_lift,
        max_consequent_len=max_consequent_len,
        sort_by=sort_by,
        with_significance=with_significance,
        prune_redundant=prune_redundant,
        max_memory=max_memory,
    )
    with_customers = "customers" in itemsets.columns
    if len(itemsets) == 0:
        return _empty_rules(with_significance, itemsets.attrs.get("n_baskets", n_baskets), with_customers)
    n, counts = _resolve_counts(itemsets, n_baskets)
    sets = itemsets["itemsets"].to_numpy(dtype=object)
    max_cons = np.inf if max_consequent_len is None else max_consequent_len
    lengths = np.fromiter(map(len, sets), dtype=np.int64, count=sets.size)
    if _count_candidates(lengths, max_cons, max_memory, itemsets.attrs) == 0:
        return _empty_rules(with_significance, n, with_customers)
    del lengths
    index = _ItemsetIndex(sets)
    whole, ante, cons = _screen_candidates(
        index,
        counts,
        n,
        max_cons,
        metric=metric,
        min_threshold=min_threshold,
        min_confidence=min_confidence,
        min_lift=min_lift,
    )
    if prune_redundant and whole.size:
        keep = ~_redundant(index, counts, whole, ante, cons)
        whole, ante, cons = whole[keep], ante[keep], cons[keep]
    del index
    rules = {"ante": ante, "cons": cons, "c_ac": counts[whole], "c_a": counts[ante], "c_c": counts[cons]}
    if "customers" in itemsets.columns:
        rules["customers"] = itemsets["customers"].to_numpy(dtype=np.int64)[whole]
    del whole, ante, cons  # the dict holds the only references, so the steps below can free them one by one
    _sort_rules(rules, sort_by, n, with_significance)
    return _rules_frame(rules, sets, n, with_significance)


def _check_rule_arguments(
    itemsets,
    *,
    metric,
    min_threshold,
    min_confidence,
    min_lift,
    max_consequent_len,
    sort_by,
    with_significance,
    prune_redundant,
    max_memory,
) -> None:
    require_frame(itemsets, name="itemsets", allowed="the output of frequent_itemsets (a pandas DataFrame)")
    require_columns(
        itemsets,
        {"support": "share of baskets", "itemsets": "frozensets of items"},
        name="itemsets",
        hint="Pass the output of frequent_itemsets.",
    )
    require_in(metric, _METRICS, name="metric")
    require_range(min_threshold, name="min_threshold")
    require_range(min_confidence, name="min_confidence", allow_none=True)
    require_range(min_lift, name="min_lift", allow_none=True)
    require_range(max_consequent_len, name="max_consequent_len", low=1, integer=True, allow_none=True)
    if sort_by is not None:
        require_in(sort_by, _METRICS + _COUNTS + (_SIGNIFICANCE if with_significance else []), name="sort_by")
    require_flag(with_significance, name="with_significance")
    require_flag(prune_redundant, name="prune_redundant")
    require_range(max_memory, name="max_memory", low=1, integer=True)


#: Bytes per candidate rule at the peak of :func:`association_rules` (the rule arrays, the metrics, the
#: p-values and the result table; measured in ``benchmarks/bench_basket.py``), and per item of an itemset
#: in the index of itemsets.
_BYTES_PER_RULE = 240
_BYTES_PER_INDEXED_ITEM = 120


def _rules_bytes(lengths: np.ndarray, n_candidates: int) -> int:
    """Estimated peak bytes of :func:`association_rules`: the itemsets table it is given (held throughout), the
    index of itemsets and the candidate rules with their statistics."""
    held = sum(output_bytes(int((lengths == L).sum()), int(L)) for L in np.unique(lengths))
    return held + int(lengths.sum()) * _BYTES_PER_INDEXED_ITEM + n_candidates * _BYTES_PER_RULE


def _count_candidates(lengths: np.ndarray, max_cons: float, max_memory: int, attrs: dict | None = None) -> int:
    """Number of candidate rules (splits of every itemset); refused when the rules step would exceed
    ``max_memory``."""
    n_candidates = sum(
        int((lengths == L).sum()) * sum(comb(L, s) for s in range(1, int(min(L - 1, max_cons)) + 1))
        for L in (int(L) for L in np.unique(lengths[lengths >= 2]))
    )
    need = _rules_bytes(lengths, n_candidates)
    if need > max_memory:
        attrs = attrs or {}
        min_support = attrs.get("min_support", 0.01)
        raise ValueError(
            _refusal(
                f"Rules refused: {n_candidates:,} candidate rules from {lengths.size:,} itemsets would need about "
                f"{_gib(need)} with their tests",
                max_memory=max_memory,
                min_support=min_support,
                min_count=int(attrs.get("min_count", 0)),
                n_baskets=int(attrs.get("n_baskets", 0)),
                max_len=int(lengths.max()) if lengths.size else None,
                max_basket_items=attrs.get("max_basket_items", -1),
                extra="" if max_cons == 1 else "; set max_consequent_len=1",
            )
        )
    return n_candidates


def _screen_candidates(
    index: _ItemsetIndex,
    counts: np.ndarray,
    n: int,
    max_cons: float,
    *,
    metric: str,
    min_threshold: float,
    min_confidence: float | None,
    min_lift: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of the whole itemset, antecedent and consequent of every candidate rule passing the thresholds.

    Vectorised per itemset length and consequent size.
    """
    lengths = index.lengths
    kept = []
    for L in (int(L) for L in np.unique(lengths[lengths >= 2])):
        rows = np.flatnonzero(lengths == L)
        mat = index.matrix(rows, L)
        for size in range(1, int(min(L - 1, max_cons)) + 1):
            whole, ante, cons = _splits(index, rows, mat, size)
            keep = _passes(
                counts[whole],
                counts[ante],
                counts[cons],
                n,
                metric=metric,
                min_threshold=min_threshold,
                min_confidence=min_confidence,
                min_lift=min_lift,
            )
            kept.append((whole[keep], ante[keep], cons[keep]))
    whole, ante, cons = (np.concatenate(parts) for parts in zip(*kept))
    return whole, ante, cons


def _splits(
    index: _ItemsetIndex, rows: np.ndarray, mat: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every split of the itemsets ``rows`` (item codes ``mat``) into an antecedent and a consequent of ``size``
    items, as rows of the whole itemset, the antecedent and the consequent."""
    length = mat.shape[1]
    positions = np.array(list(combinations(range(length), size)), dtype=np.int64)
    sub = mat[:, positions]  # (itemsets, splits, size): the consequent items of each split
    c1 = index.k1[sub].sum(axis=2, dtype=np.uint64)
    c2 = index.k2[sub].sum(axis=2, dtype=np.uint64)
    whole = np.repeat(rows, positions.shape[0])
    cons = index.single_row[sub.ravel()] if size == 1 else index.find(c1.ravel(), c2.ravel(), size)
    ante = index.find((index.key1[rows][:, None] - c1).ravel(), (index.key2[rows][:, None] - c2).ravel(), length - size)
    return whole, ante, cons


def _passes(
    c_ac: np.ndarray,
    c_a: np.ndarray,
    c_c: np.ndarray,
    n: int,
    *,
    metric: str,
    min_threshold: float,
    min_confidence: float | None,
    min_lift: float | None,
) -> np.ndarray:
    """Which rules meet the threshold on ``metric`` and the optional minimum confidence and lift."""
    keep = _metric(metric, c_ac, c_a, c_c, n) >= min_threshold
    if min_confidence is not None:
        keep &= _metric("confidence", c_ac, c_a, c_c, n) >= min_confidence
    if min_lift is not None:
        keep &= _metric("lift", c_ac, c_a, c_c, n) >= min_lift
    return keep


def _sort_rules(rules: dict[str, np.ndarray], sort_by: str | None, n: int, with_significance: bool) -> None:
    """Order the rule arrays by ``sort_by`` (descending; ascending for p-values), ties by higher confidence, then
    higher support, and add the p-values when asked for; in place."""
    if with_significance and sort_by in _SIGNIFICANCE:
        rules["p_value"], rules["p_adjusted"] = _significance(rules["c_ac"], rules["c_a"], rules["c_c"], n)
    if sort_by is not None and rules["c_ac"].size:
        order = _rule_order(rules, sort_by, n)
        for key in list(rules):  # one array at a time, so the old one is freed before the next is made
            rules[key] = rules[key][order]
        del order
    if with_significance and "p_value" not in rules:
        rules["p_value"], rules["p_adjusted"] = _significance(rules["c_ac"], rules["c_a"], rules["c_c"], n)


def _rule_order(rules: dict[str, np.ndarray], sort_by: str, n: int) -> np.ndarray:
    c_ac, c_a, c_c = rules["c_ac"], rules["c_a"], rules["c_c"]
    if sort_by in _SIGNIFICANCE:
        primary = rules[sort_by]
    elif sort_by in _COUNTS:
        primary = {"antecedent_count": c_a, "consequent_count": c_c, "count": c_ac}[sort_by].astype(np.float64)
        np.negative(primary, out=primary)
    else:
        primary = _metric(sort_by, c_ac, c_a, c_c, n)
        np.negative(primary, out=primary)
    by_support = -c_ac  # ties: higher confidence, then higher support
    by_confidence = _metric("confidence", c_ac, c_a, c_c, n)
    np.negative(by_confidence, out=by_confidence)
    return np.lexsort((by_support, by_confidence, primary))


def _rules_frame(rules: dict[str, np.ndarray], sets: np.ndarray, n: int, with_significance: bool) -> pd.DataFrame:
    """The rules table from the rule arrays (emptied on the way)."""
    # One column at a time, straight into the frame, to keep the peak near the size of the result.
    # Object columns as Series of dtype object: pandas then skips inferring a type from every value.
    columns = {
        "antecedents": pd.Series(sets[rules.pop("ante")], dtype=object, copy=False),
        "consequents": pd.Series(sets[rules.pop("cons")], dtype=object, copy=False),
    }
    c_ac, c_a, c_c = rules["c_ac"], rules["c_a"], rules["c_c"]
    for name in _METRICS:
        columns[name] = _metric(name, c_ac, c_a, c_c, n)
    columns.update(antecedent_count=c_a, consequent_count=c_c, count=c_ac)
    if "customers" in rules:
        columns["customers"] = rules["customers"]
    if with_significance:
        columns.update(p_value=rules["p_value"], p_adjusted=rules["p_adjusted"])
    frame = pd.DataFrame(columns, copy=False)
    frame.attrs["n_baskets"] = n
    return frame


def _redundant(
    index: _ItemsetIndex, counts: np.ndarray, whole: np.ndarray, ante: np.ndarray, cons: np.ndarray
) -> np.ndarray:
    """Rules whose confidence does not beat that of a rule with a smaller antecedent and the same consequent."""
    redundant = np.zeros(whole.size, dtype=bool)
    a_len = index.lengths[ante]
    for L in np.unique(a_len[a_len >= 2]):
        L = int(L)
        sel = np.flatnonzero(a_len == L)
        mat = index.matrix(ante[sel], L)
        c_ac, c_a = counts[whole[sel]], counts[ante[sel]]
        cons_key1, cons_key2 = index.key1[cons[sel]][:, None], index.key2[cons[sel]][:, None]
        cons_len = index.lengths[cons[sel]][:, None]
        for size in range(1, L):
            positions = np.array(list(combinations(range(L), size)), dtype=np.int64)
            sub = mat[:, positions]  # (rules, subsets, size)
            s1 = index.k1[sub].sum(axis=2, dtype=np.uint64)
            s2 = index.k2[sub].sum(axis=2, dtype=np.uint64)
            general = index.find(s1.ravel(), s2.ravel(), size).reshape(s1.shape)
            union = index.find(
                (s1 + cons_key1).ravel(),
                (s2 + cons_key2).ravel(),
                (size + cons_len + np.zeros(s1.shape, np.int64)).ravel(),
            ).reshape(s1.shape)
            # conf(general) >= conf(rule)  <=>  c_union * c_a >= c_ac * c_general (exact, in integers)
            redundant[sel] |= (counts[union] * c_a[:, None] >= c_ac[:, None] * counts[general]).any(axis=1)
    return redundant


def _significance(c_ac: np.ndarray, c_a: np.ndarray, c_c: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Fisher's exact test per rule and Benjamini-Hochberg adjusted p-values.

    Under independence the number of baskets holding both sides is
    hypergeometric (``n`` baskets, ``c_c`` with the consequent, ``c_a``
    drawn); the p-value is ``P(X >= c_ac)``, the same as
    ``scipy.stats.fisher_exact([[c_ac, c_a - c_ac], [c_c - c_ac, n - c_a - c_c + c_ac]],
    alternative="greater")``.
    """
    log_factorial = _LogFactorial(n)
    p = np.empty(c_ac.size)
    for lo in range(0, c_ac.size, _SIGNIFICANCE_CHUNK):  # in chunks, to keep the temporaries small
        hi = lo + _SIGNIFICANCE_CHUNK
        p[lo:hi] = _hypergeom_sf(c_ac[lo:hi], n, c_c[lo:hi], c_a[lo:hi], log_factorial)
    return p, _benjamini_hochberg(p)


#: Rules tested per vectorised step.
_SIGNIFICANCE_CHUNK = 1 << 14
#: Most terms of a tail added per vectorised step, and the most steps before handing a p-value to scipy.
_TERMS_PER_STEP = 64
_MAX_STEPS = 200


class _LogFactorial:
    """``log(v!)`` for whole numbers ``0 <= v <= n``: a table of :func:`math.lgamma` when ``n`` is small,
    else :func:`math.lgamma` on the distinct values asked for."""

    def __init__(self, n: int):
        self.table = None
        if n <= 1 << 18:
            self.table = np.array([math.lgamma(v + 1.0) for v in range(int(n) + 1)], dtype=np.float64)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if self.table is not None:
            return self.table[values.astype(np.int64)]
        distinct, inverse = np.unique(values, return_inverse=True)
        return np.array([math.lgamma(v + 1.0) for v in distinct.tolist()])[inverse].reshape(values.shape)


def _hypergeom_sf(
    k: np.ndarray, n: int, good: np.ndarray, draws: np.ndarray, log_factorial: _LogFactorial | None = None
) -> np.ndarray:
    """``P(X >= k)`` for ``X ~ Hypergeometric(n, good, draws)``, vectorised.

    scipy's ``hypergeom.sf`` takes tens of microseconds per value; here the
    pmf at the start comes from log-factorials and the tail is summed with the
    ratio of consecutive terms, all rules at once and many terms per step,
    from ``k`` upwards when ``k`` is above the mean and as one minus the lower
    tail otherwise, until the terms no longer change the sum.
    """
    log_factorial = log_factorial or _LogFactorial(n)
    k = np.asarray(k, dtype=np.float64)
    good = np.asarray(good, dtype=np.float64)
    draws = np.asarray(draws, dtype=np.float64)
    lo = np.maximum(0.0, draws + good - n)
    hi = np.minimum(draws, good)
    out = np.where(k <= lo, 1.0, 0.0)
    inside = (k > lo) & (k <= hi)
    above = k >= draws * good / n
    for idx, step in ((np.flatnonzero(inside & above), 1.0), (np.flatnonzero(inside & ~above), -1.0)):
        if idx.size == 0:
            continue
        g, d = good[idx], draws[idx]
        x = k[idx] if step > 0 else k[idx] - 1
        log_pmf = (
            log_factorial(g)
            - log_factorial(x)
            - log_factorial(g - x)
            + log_factorial(n - g)
            - log_factorial(d - x)
            - log_factorial(n - g - d + x)
            - log_factorial(n)
            + log_factorial(d)
            + log_factorial(n - d)
        )
        total = _tail_sum(x, float(n), g, d, step)
        tail = np.exp(log_pmf + np.log(total))
        out[idx] = tail if step > 0 else 1.0 - tail
        unfinished = np.isnan(total)
        if unfinished.any():  # pragma: no cover - needs standard deviations of thousands of baskets
            from scipy import stats

            sel = idx[unfinished]
            out[sel] = stats.hypergeom.sf(k[sel] - 1, n, good[sel], draws[sel])
    return np.clip(out, 0.0, 1.0)


def _tail_sum(start: np.ndarray, n: float, good: np.ndarray, draws: np.ndarray, step: float) -> np.ndarray:
    """Sum of ``pmf(x) / pmf(start)`` over ``x = start, start + step, ...`` (NaN where not converged).

    Each step adds a block of terms (4, then doubling up to
    :data:`_TERMS_PER_STEP`) to every unfinished sum at once, as cumulative
    products of the ratios of consecutive terms (which fall to zero at the
    end of the support).
    """
    total = np.ones(start.size)
    last = np.ones(start.size)  # the latest term
    x = start.copy()
    active = np.arange(start.size)
    width = 4  # most tails of significant rules end within a few terms; the others get longer steps
    for _ in range(_MAX_STEPS):
        if active.size == 0:
            break
        offsets = np.arange(width, dtype=np.float64)
        xs = x[active][:, None] + step * offsets  # the x whose ratio to the next term is needed
        g, d = good[active][:, None], draws[active][:, None]
        if step > 0:
            ratio = (g - xs) * (d - xs) / ((xs + 1) * (n - g - d + xs + 1))
        else:
            ratio = xs * (n - g - d + xs) / ((g - xs + 1) * (d - xs + 1))
        np.maximum(ratio, 0.0, out=ratio)  # past the end of the support the terms are zero
        terms = np.cumprod(ratio, axis=1)
        terms *= last[active][:, None]
        total[active] += terms.sum(axis=1)
        last[active] = terms[:, -1]
        x[active] += step * width
        active = active[last[active] > 1e-17 * total[active]]
        width = min(2 * width, _TERMS_PER_STEP)
    total[active] = np.nan
    return total


def _benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (as ``scipy.stats.false_discovery_control(p, method="bh")``)."""
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    scaled = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(scaled, 1.0)
    return out


# --------------------------------------------------------------------------- which rules to report


@dataclass(frozen=True)
class RuleScreen:
    """The rules worth reporting from a set of tested rules: :func:`screen_rules` and :func:`customer_rules`.

    Attributes
    ----------
    pairs : pandas.DataFrame
        The rules shown: significant, lift above ``min_lift``, in at least
        ``min_rule_baskets`` baskets of at least ``min_rule_customers``
        customers, ranked by the Fisher p-value (strongest evidence first);
        symmetric pairs merged (:func:`merge_symmetric`) and one rule per
        itemset of three or more items; empty when there are too few baskets.
    tested : int
        Rules tested (the rules given; the adjustment covers all of them).
    passed : int
        Rules (directed) significant after adjustment with lift above ``min_lift``.
    n_baskets : int or None
        Baskets the rules were mined from (``rules.attrs["n_baskets"]``).
    min_baskets : int
        Fewest baskets for a conclusion.
    alpha : float
        False-discovery rate used.
    too_few_baskets : bool
        ``n_baskets < min_baskets``: no conclusion either way.
    rules : pandas.DataFrame or None
        The rules shown, directed and ranked (for drift and charts).
    supported : int or None
        Of the ``passed`` rules, those held by at least ``min_rule_baskets``
        baskets and ``min_rule_customers`` customers (``len(rules)``).
    min_rule_baskets, min_rule_customers : int
        Floors applied to each rule.
    excluded_guest_baskets, excluded_bulk_baskets, excluded_bulk_lines : int
        Guest orders, bulk orders and the items of those bulk orders left out
        before mining (from the itemsets' ``attrs``).
    max_basket_items : int or None
        The bulk-order limit used (None: none).
    """

    pairs: pd.DataFrame
    tested: int
    passed: int
    n_baskets: int | None
    min_baskets: int
    alpha: float
    too_few_baskets: bool
    rules: pd.DataFrame | None = None
    supported: int | None = None
    min_rule_baskets: int = 1
    min_rule_customers: int = 0
    excluded_guest_baskets: int = 0
    excluded_bulk_baskets: int = 0
    excluded_bulk_lines: int = 0
    max_basket_items: int | None = None


def significant_rules(rules: pd.DataFrame, *, alpha: float = 0.05, min_lift: float = 1.0) -> pd.DataFrame:
    """The rules that are significant after Benjamini-Hochberg adjustment and have lift above ``min_lift``.

    A rule with lift at or below 1 is not a co-purchase at all (the
    consequent is no more likely with the antecedent than without), however
    small its p-value; a rule with a high lift but few baskets may be chance.
    The Benjamini-Hochberg adjustment is recomputed here across every rule
    given, so pass every rule tested (the whole output of
    :func:`association_rules`), not a top-n: ``p_adjusted`` is replaced by
    that adjustment.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`association_rules` with ``with_significance=True``.
    alpha : float, default=0.05
        False-discovery rate: rules with adjusted p below it are kept.
    min_lift : float, default=1.0
        Rules need a lift strictly above this.

    Returns
    -------
    pandas.DataFrame
        The kept rules, columns and order of ``rules`` (``attrs`` kept).

    Examples
    --------
    >>> baskets = [["tea", "cake"]] * 30 + [["tea"]] * 10 + [["cake"]] * 10 + [["jam", "tea"]] * 5 + [["jam"]] * 45
    >>> rules = association_rules(frequent_itemsets(baskets, min_support=5), min_threshold=0.05)
    >>> len(rules), len(significant_rules(rules))
    (4, 2)
    >>> sorted(map(sorted, significant_rules(rules)["antecedents"]))
    [['cake'], ['tea']]
    """
    _check_rules(rules)
    require_columns(
        rules,
        {"p_value": "Fisher p-values"},
        name="rules",
        hint="Pass the output of association_rules(..., with_significance=True).",
    )
    require_range(alpha, name="alpha", low=0, high=1, closed="neither")
    require_range(min_lift, name="min_lift", low=0)
    adjusted = _benjamini_hochberg(rules["p_value"].to_numpy(dtype=np.float64))
    keep = (adjusted < alpha) & (rules["lift"].to_numpy(dtype=np.float64) > min_lift)
    out = rules.assign(p_adjusted=adjusted).loc[keep].reset_index(drop=True)
    out.attrs = dict(rules.attrs)
    return out


def merge_symmetric(rules: pd.DataFrame) -> pd.DataFrame:
    """One row per pair: a rule ``A -> B`` and its reverse ``B -> A`` merged.

    Both directions have the same support, lift, leverage and Fisher
    p-value; only the confidence differs. The row kept is the direction
    with the higher confidence (the first on a tie), with the other
    direction's confidence in ``reverse_confidence`` (NaN when the reverse
    rule is not among ``rules``). Rows keep the order of their first
    appearance.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`association_rules` (or of :func:`significant_rules`).

    Returns
    -------
    pandas.DataFrame
        The columns of ``rules`` plus ``reverse_confidence`` (``attrs`` kept).

    Examples
    --------
    >>> rules = pd.DataFrame({"antecedents": [frozenset({"a"}), frozenset({"b"}), frozenset({"c"})],
    ...                       "consequents": [frozenset({"b"}), frozenset({"a"}), frozenset({"a"})],
    ...                       "support": [0.1, 0.1, 0.05], "confidence": [0.4, 0.5, 0.2], "lift": [2.0, 2.0, 1.5]})
    >>> merged = merge_symmetric(rules)
    >>> [(sorted(r.antecedents), sorted(r.consequents), r.confidence, r.reverse_confidence)
    ...  for r in merged.itertuples()]
    [(['b'], ['a'], 0.5, 0.4), (['c'], ['a'], 0.2, nan)]
    """
    _check_rules(rules)
    ante = list(rules["antecedents"])
    cons = list(rules["consequents"])
    confidence = rules["confidence"].to_numpy(dtype=np.float64)
    position = {(a, c): i for i, (a, c) in enumerate(zip(ante, cons))}
    kept, reverse, seen = [], [], set()
    for i, (a, c) in enumerate(zip(ante, cons)):
        if i in seen:
            continue
        j = position.get((c, a))
        if j is None or j == i:
            kept.append(i)
            reverse.append(np.nan)
            continue
        seen.update((i, j))
        first, other = (j, i) if confidence[j] > confidence[i] else (i, j)
        kept.append(first)
        reverse.append(confidence[other])
    order = np.argsort([min(i, position.get((cons[i], ante[i]), i)) for i in kept], kind="stable")
    out = rules.iloc[[kept[k] for k in order]].reset_index(drop=True)
    out["reverse_confidence"] = np.asarray(reverse, dtype=np.float64)[order] if kept else np.array([], dtype=float)
    out.attrs = dict(rules.attrs)
    return out


def _rank_rules(rules: pd.DataFrame) -> pd.DataFrame:
    """Rules by ascending Fisher p-value; ties (and p-values that underflow to 0) by more baskets, then lift."""
    order = np.lexsort(
        (
            -rules["lift"].to_numpy(dtype=np.float64),
            -rules["count"].to_numpy(dtype=np.float64),
            rules["p_value"].to_numpy(dtype=np.float64),
        )
    )
    out = rules.iloc[order].reset_index(drop=True)
    out.attrs = dict(rules.attrs)
    return out


def _one_per_itemset(pairs: pd.DataFrame) -> pd.DataFrame:
    """Keep the first (best-ranked) rule of each itemset of three or more items; pairs are already merged."""
    whole = [a | c for a, c in zip(pairs["antecedents"], pairs["consequents"])]
    keep = ~pd.Series(whole, dtype=object).duplicated().to_numpy() if whole else np.zeros(0, dtype=bool)
    out = pairs.loc[keep].reset_index(drop=True)
    out.attrs = dict(pairs.attrs)
    return out


def screen_rules(
    rules: pd.DataFrame,
    *,
    alpha: float = 0.05,
    min_lift: float = 1.0,
    min_baskets: int = 1000,
    n_baskets: int | None = None,
    min_rule_baskets: int = 20,
    min_rule_customers: int = 10,
) -> RuleScreen:
    """What the report shows of the rules tested: the significant rules seen in enough baskets and customers,
    ranked by the strength of the evidence, how many were tested, and whether the period had enough baskets.

    A rule is shown when it is significant after Benjamini-Hochberg
    adjustment (one-sided Fisher test, ``alpha``), has lift above
    ``min_lift``, is in at least ``min_rule_baskets`` baskets and (when the
    rules carry a ``customers`` column, from ``frequent_itemsets(...,
    count_customers=True)``) in baskets of at least ``min_rule_customers``
    distinct customers.

    Rules are ranked by their Fisher p-value, smallest first: how unlikely it
    is to see the pair together so often if the items were bought
    independently. Lift alone rewards rarity: its largest values come from
    items in a handful of baskets (lift is at most ``1 / support`` of the
    rarer side), so a few bulk orders holding the same rare products top a
    lift ranking. The p-value needs both a strong lift and many baskets, so a
    rule has to be common *and* strong to rank high (lift and confidence are
    still shown, and ties go to more baskets).

    :func:`customer_rules` runs the whole report step (mining included) with
    the report's defaults::

        itemsets = frequent_itemsets(period_lines, min_support=0.003, max_len=3, include_guests=False,
                                     max_basket_items=100, count_customers=True)
        tested = association_rules(itemsets, min_threshold=0.1)        # confidence >= 10%
        screen = screen_rules(tested)                                   # screen.pairs is the table

    Parameters
    ----------
    rules : pandas.DataFrame
        Every rule tested: the output of :func:`association_rules`.
    alpha, min_lift : float
        As in :func:`significant_rules`.
    min_baskets : int, default=1000
        Fewer baskets than this: ``too_few_baskets`` and no pairs.
    n_baskets : int or None, default=None
        Baskets mined; read from ``rules.attrs["n_baskets"]`` when None.
    min_rule_baskets : int, default=20
        Fewest baskets holding the whole rule (params ``basket.min_rule_baskets``).
    min_rule_customers : int, default=10
        Fewest distinct customers among those baskets (params
        ``basket.min_rule_customers``); applied when ``rules`` has a
        ``customers`` column.

    Returns
    -------
    RuleScreen

    Examples
    --------
    >>> baskets = [["tea", "cake"]] * 30 + [["tea"]] * 10 + [["cake"]] * 10 + [["jam", "tea"]] * 5 + [["jam"]] * 45
    >>> tested = association_rules(frequent_itemsets(baskets, min_support=5), min_threshold=0.05)
    >>> screen = screen_rules(tested, min_baskets=50)
    >>> screen.tested, screen.passed, len(screen.pairs), screen.n_baskets, screen.too_few_baskets
    (4, 2, 1, 100, False)
    >>> screen_rules(tested).too_few_baskets
    True
    >>> screen_rules(tested, min_baskets=50, min_rule_baskets=31).supported  # tea and cake: 30 baskets
    0
    """
    require_range(min_baskets, name="min_baskets", low=1, integer=True)
    require_range(min_rule_baskets, name="min_rule_baskets", low=1, integer=True)
    require_range(min_rule_customers, name="min_rule_customers", low=0, integer=True)
    passed = significant_rules(rules, alpha=alpha, min_lift=min_lift)
    floor = passed["count"].to_numpy() >= min_rule_baskets if "count" in passed.columns else None
    if floor is None:
        floor = (
            np.rint(passed["support"].to_numpy(dtype=np.float64) * rules.attrs.get("n_baskets", 0)) >= min_rule_baskets
        )
    if "customers" in passed.columns:
        floor &= passed["customers"].to_numpy() >= min_rule_customers
    attrs = dict(passed.attrs)
    shown = passed.loc[floor].reset_index(drop=True)
    shown.attrs = attrs
    if "count" in shown.columns:
        shown = _rank_rules(shown)
    n = rules.attrs.get("n_baskets") if n_baskets is None else n_baskets
    too_few = n is not None and int(n) < min_baskets
    pairs = _one_per_itemset(merge_symmetric(shown))
    if too_few:
        pairs = pairs.iloc[:0]
        shown = shown.iloc[:0]
    return RuleScreen(
        pairs=pairs.reset_index(drop=True),
        tested=len(rules),
        passed=len(passed),
        supported=len(shown),
        n_baskets=None if n is None else int(n),
        min_baskets=int(min_baskets),
        alpha=float(alpha),
        too_few_baskets=bool(too_few),
        rules=shown,
        min_rule_baskets=int(min_rule_baskets),
        min_rule_customers=int(min_rule_customers),
        excluded_guest_baskets=int(rules.attrs.get("excluded_guest_baskets", 0)),
        excluded_bulk_baskets=int(rules.attrs.get("excluded_bulk_baskets", 0)),
        excluded_bulk_lines=int(rules.attrs.get("excluded_bulk_lines", 0)),
        max_basket_items=rules.attrs.get("max_basket_items"),
    )


def customer_rules(
    transactions: pd.DataFrame,
    *,
    min_support: float | int = 0.003,
    max_len: int | None = 3,
    min_confidence: float = 0.1,
    alpha: float = 0.05,
    min_baskets: int = 1000,
    min_rule_baskets: int = 20,
    min_rule_customers: int = 10,
    max_basket_items: int | None = 100,
    include_guests: bool = False,
    max_memory: int = _DEFAULT_MAX_MEMORY,
    basket: str = "order",
    item: str = "product",
    order_col: str = "order_id",
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    item_col: str | None = None,
    label_col: str | None = None,
    quantity_col: str = "quantity",
) -> RuleScreen:
    """The basket page's rules in one call: products customers buy together, in bounded time and memory.

    The defaults are the report's (``params/default.yaml``, ``basket.*``):
    the arguments are named as the params keys, so
    ``customer_rules(period_lines, **{k: v for k, v in params["basket"].items() if k != "top_n"})``
    gives exactly what the page shows.

    The steps: leave out guest orders (no customer id: the page speaks of
    customers; ``include_guests``) and bulk orders of more than
    ``max_basket_items`` distinct products (wholesale-style orders whose
    hundreds of lines would otherwise make every pair among them a "rule");
    mine the itemsets of at least ``min_support`` of the remaining baskets
    (:func:`frequent_itemsets`, counting each itemset's distinct customers);
    form the rules with confidence of at least ``min_confidence`` and test
    each (:func:`association_rules`); keep and rank them as
    :func:`screen_rules` does: significant, lift above 1, in at least
    ``min_rule_baskets`` baskets of at least ``min_rule_customers``
    customers, ranked by Fisher p-value (see there why not by lift).

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions of one period (``Dataset.for_period(period).transactions``).
    min_support, max_len : float or int, int or None
        As in :func:`frequent_itemsets`.
    min_confidence : float, default=0.1
        Smallest confidence of a rule tested.
    alpha, min_baskets, min_rule_baskets, min_rule_customers
        As in :func:`screen_rules`.
    max_basket_items : int or None, default=100
        Bulk-order limit, as in :func:`frequent_itemsets`.
    include_guests : bool, default=False
        Mine guest orders too (they are never counted as customers).
    max_memory : int, default=2 GiB
        Bytes the whole step may hold: mining, customer counts, the rules and
        their tests (params ``basket.max_memory``). Refused with a ValueError
        whose advice names only parameters that exist and can still change.
    basket, item, order_col, customer_col, date_col, item_col, label_col, quantity_col
        As in :func:`frequent_itemsets`.

    Returns
    -------
    RuleScreen
        ``pairs`` is the table the page shows, ``rules`` the passing directed
        rules; the exclusions are counted in ``excluded_*``.

    Examples
    --------
    >>> orders = [("tea", "cake")] * 30 + [("jam", "scone")] * 10 + [("tea", "jam")] * 10
    >>> tx = pd.DataFrame([(f"o{k}", f"c{k // 2}", item) for k, pair in enumerate(orders) for item in pair],
    ...                   columns=["order_id", "customer_id", "product_id"]).assign(quantity=1)
    >>> screen = customer_rules(tx, min_baskets=10, min_rule_baskets=5, min_rule_customers=5)
    >>> screen.pairs[["count", "customers", "lift"]].assign(
    ...     rule=[f"{min(a)} -> {min(c)}" for a, c in zip(screen.pairs["antecedents"], screen.pairs["consequents"])])
       count  customers  lift          rule
    0     30         15  1.25   cake -> tea
    1     10          5  2.50  scone -> jam
    """
    require_range(min_confidence, name="min_confidence", low=0, high=1)
    itemsets = frequent_itemsets(
        transactions,
        min_support=min_support,
        max_len=max_len,
        basket=basket,
        item=item,
        include_guests=include_guests,
        max_basket_items=max_basket_items,
        count_customers=True,
        max_memory=max_memory,
        order_col=order_col,
        customer_col=customer_col,
        date_col=date_col,
        item_col=item_col,
        label_col=label_col,
        quantity_col=quantity_col,
    )
    tested = association_rules(itemsets, min_threshold=min_confidence, max_memory=max_memory)
    tested.attrs.update(itemsets.attrs)
    del itemsets
    return screen_rules(
        tested,
        alpha=alpha,
        min_baskets=min_baskets,
        min_rule_baskets=min_rule_baskets,
        min_rule_customers=min_rule_customers,
    )


# --------------------------------------------------------------------------- drift


def _check_rules(rules, name: str = "rules") -> None:
    require_frame(rules, name=name, allowed="the output of association_rules (a pandas DataFrame)")
    require_columns(
        rules,
        {
            "antecedents": "frozensets",
            "consequents": "frozensets",
            "support": "rule support",
            "confidence": "rule confidence",
            "lift": "rule lift",
        },
        name=name,
        hint="Pass the output of association_rules.",
    )


def rule_drift(
    rules_before: pd.DataFrame,
    rules_after: pd.DataFrame,
    *,
    metric: str = "lift",
    top_n: int | None = None,
    one_per_itemset: bool = False,
) -> pd.DataFrame:
    """How the rules changed between two periods: new rules, lost rules, and the biggest moves.

    A rule is identified by its antecedents and consequents. *New* rules are
    among ``rules_after`` only, *lost* rules among ``rules_before`` only (they
    may still hold below the thresholds used), *kept* rules in both.

    Parameters
    ----------
    rules_before, rules_after : pandas.DataFrame
        Outputs of :func:`association_rules` for the earlier and the later
        period (mined with the same thresholds).
    metric : {"lift", "confidence", "support"}, default="lift"
        Metric whose change ranks the kept rules, and which orders new and
        lost rules.
    top_n : int or None, default=None
        Keep at most this many rows per status; None keeps all.
    one_per_itemset : bool, default=False
        Keep only the first row of each status for the same items (``A ->
        B`` and ``B -> A`` of a new pair are one row); the report uses it
        with ``metric="support"``, on the rules of :func:`customer_rules`.

    Returns
    -------
    pandas.DataFrame
        Columns ``antecedents``, ``consequents``, ``status`` (``"new"``,
        ``"lost"``, ``"kept"``), ``support_before``, ``support_after``,
        ``confidence_before``, ``confidence_after``, ``lift_before``,
        ``lift_after`` (NaN on the side where the rule is absent) and
        ``change`` (``metric`` after minus before; NaN for new and lost
        rules). Rows are new rules (by ``metric`` after, descending), lost
        rules (by ``metric`` before, descending), then kept rules (by absolute
        change, descending).

    Examples
    --------
    >>> a = association_rules(frequent_itemsets([["x", "y"], ["x", "y"], ["z"]], min_support=1),
    ...                       min_threshold=0.5)
    >>> b = association_rules(frequent_itemsets([["x", "y"], ["x"], ["y", "z"], ["y", "z"]], min_support=1),
    ...                       min_threshold=0.5)
    >>> drift = rule_drift(a, b)
    >>> [(sorted(r.antecedents), sorted(r.consequents), r.status) for r in drift.itertuples()]
    [(['z'], ['y'], 'new'), (['y'], ['z'], 'new'), (['y'], ['x'], 'lost'), (['x'], ['y'], 'kept')]
    >>> drift.loc[drift["status"] == "kept", ["confidence_before", "confidence_after", "change"]].round(2)
       confidence_before  confidence_after  change
    3                1.0               0.5   -0.83
    """
    _check_rules(rules_before, "rules_before")
    _check_rules(rules_after, "rules_after")
    require_in(metric, ("lift", "confidence", "support"), name="metric")
    require_range(top_n, name="top_n", low=1, integer=True, allow_none=True)
    require_flag(one_per_itemset, name="one_per_itemset")
    fields = ["support", "confidence", "lift"]

    def table(rules):
        keys = list(zip(rules["antecedents"], rules["consequents"]))
        frame = pd.DataFrame({f: rules[f].to_numpy(dtype=np.float64) for f in fields})
        frame["key"] = pd.Series(keys, dtype=object) if keys else pd.Series([], dtype=object)
        return frame.drop_duplicates("key")

    before, after = table(rules_before), table(rules_after)
    merged = before.merge(after, on="key", how="outer", suffixes=("_before", "_after"), sort=False)
    has_before = merged["support_before"].notna().to_numpy()
    has_after = merged["support_after"].notna().to_numpy()
    status = np.where(has_before & has_after, "kept", np.where(has_after, "new", "lost"))
    change = (merged[f"{metric}_after"] - merged[f"{metric}_before"]).to_numpy()
    out = pd.DataFrame(
        {
            "antecedents": [k[0] for k in merged["key"]],
            "consequents": [k[1] for k in merged["key"]],
            "status": status,
        }
    )
    for f in fields:
        out[f"{f}_before"] = merged[f"{f}_before"].to_numpy()
        out[f"{f}_after"] = merged[f"{f}_after"].to_numpy()
    out["change"] = change
    if len(out) == 0:
        return pd.DataFrame(
            {
                c: pd.Series(dtype=object if c in ("antecedents", "consequents", "status") else np.float64)
                for c in _DRIFT_COLUMNS
            }
        )
    rank_status = pd.Series(status).map({"new": 0, "lost": 1, "kept": 2}).to_numpy()
    score = np.where(
        status == "new", out[f"{metric}_after"], np.where(status == "lost", out[f"{metric}_before"], np.abs(change))
    )
    out = out.iloc[np.lexsort((-score, rank_status))]
    if one_per_itemset:
        whole = [frozenset(a | c) for a, c in zip(out["antecedents"], out["consequents"])]
        out = out.loc[~pd.DataFrame({"status": out["status"].to_numpy(), "items": whole}).duplicated().to_numpy()]
    if top_n is not None:
        out = out.groupby("status", sort=False).head(top_n)
    return out.reset_index(drop=True)[_DRIFT_COLUMNS]


# --------------------------------------------------------------------------- recommendations


def _empty_recommendations(extra: list[str] | None = None) -> pd.DataFrame:
    columns = (extra or []) + _RECOMMENDATION_COLUMNS
    dtypes = {
        "rank": np.int64,
        "score": np.float64,
        "support": np.float64,
        "confidence": np.float64,
        "lift": np.float64,
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, object)) for c in columns})


_SCORE_METRICS = ("lift", "confidence", "support", "leverage", "conviction")


def recommend_items(
    rules: pd.DataFrame,
    items,
    *,
    top_n: int = 5,
    metric: str = "lift",
) -> pd.DataFrame:
    """Items to suggest next to a given item or basket ("customers who bought this also bought").

    A rule applies when all its antecedents are in ``items``; each item of
    its consequents that is not already in ``items`` is a candidate, scored
    by the best applicable rule.

    Parameters
    ----------
    rules : pandas.DataFrame
        Output of :func:`association_rules`.
    items : str or iterable
        One item label, or a basket of item labels.
    top_n : int, default=5
        Number of items to return.
    metric : str, default="lift"
        Rule column to rank by (higher is better): ``lift``, ``confidence``,
        ``support``, ``leverage`` or ``conviction``.

    Returns
    -------
    pandas.DataFrame
        Up to ``top_n`` rows with columns ``rank`` (1 = best), ``item``,
        ``score`` (the metric of the best rule), ``antecedents`` and
        ``consequents`` of that rule, and its ``support``, ``confidence`` and
        ``lift``. Ties are broken by confidence, support, then item label.
        No applicable rule gives an empty frame with these columns.

    Examples
    --------
    >>> baskets = [["tea", "cake"], ["tea", "cake"], ["tea", "jam"], ["jam"], ["cake", "tea", "jam"]]
    >>> rules = association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.5)
    >>> recommend_items(rules, "cake")[["rank", "item", "score"]].round(2).to_dict("records")
    [{'rank': 1, 'item': 'tea', 'score': 1.25}]
    """
    _check_rules(rules)
    require_range(top_n, name="top_n", low=1, integer=True)
    require_in(metric, [m for m in _SCORE_METRICS if m in rules.columns], name="metric")
    basket = {items} if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__") else set(items)
    applies = np.fromiter(
        (a <= basket and not (c & basket) for a, c in zip(rules["antecedents"], rules["consequents"])),
        dtype=bool,
        count=len(rules),
    )
    chosen = rules.loc[applies]
    if chosen.empty:
        return _empty_recommendations()
    rows = chosen.assign(item=[sorted(c, key=str) for c in chosen["consequents"]]).explode("item")
    rows = rows.assign(score=rows[metric].astype(np.float64), _label=rows["item"].map(str))
    rows = rows.sort_values(
        ["score", "confidence", "support", "_label"], ascending=[False, False, False, True], kind="stable"
    )
    rows = rows.drop_duplicates("_label").head(top_n)
    rows = rows.assign(rank=np.arange(1, len(rows) + 1, dtype=np.int64))
    return rows[_RECOMMENDATION_COLUMNS].reset_index(drop=True)


def customer_recommendations(
    transactions: pd.DataFrame,
    rules: pd.DataFrame,
    *,
    top_n: int = 3,
    metric: str = "lift",
    item: str = "product",
    as_of=None,
    include_returns: bool = False,
    customer_col: str = "customer_id",
    date_col: str = "order_datetime",
    item_col: str | None = None,
    label_col: str | None = None,
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """Next-best products for each customer, from their own purchase history and the rules.

    A customer's history is every item they bought (before ``as_of`` when
    given; returns left out by default). A rule applies when all its
    antecedents are in the history; each consequent item the customer has
    not bought yet is a candidate, scored by the best applicable rule.

    Parameters
    ----------
    transactions : pandas.DataFrame
        Canonical transactions.
    rules : pandas.DataFrame
        Output of :func:`association_rules`, mined with the same ``item``
        and labels (e.g. from the same transactions).
    top_n : int, default=3
        Items per customer.
    metric : str, default="lift"
        Rule column to rank by, as in :func:`recommend_items`.
    item : {"product", "category"}, default="product"
        What an item is; must match the rules.
    as_of : date, timestamp, Period or None, default=None
        Only purchases strictly before this instant count as history (a
        Period means its end); None counts every purchase.
    include_returns : bool, default=False
        Count lines with a quantity of zero or less as purchases.
    customer_col, date_col, item_col, label_col, quantity_col : str
        Column names, as in :func:`frequent_itemsets`.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_col`` (the customer id), ``rank``, ``item``,
        ``score``, ``antecedents``, ``consequents``, ``support``,
        ``confidence``, ``lift``; up to ``top_n`` rows per customer, ordered
        by customer then rank. Customers with no applicable rule are absent;
        guest lines (no customer id) are ignored.

    Examples
    --------
    >>> tx = pd.DataFrame({"order_id": ["o1", "o1", "o2", "o2", "o3", "o4"],
    ...                    "customer_id": ["a", "a", "b", "b", "c", "c"],
    ...                    "product_id": ["tea", "cake", "tea", "cake", "tea", "jam"],
    ...                    "quantity": [1, 1, 1, 2, 1, 1]})
    >>> rules = association_rules(frequent_itemsets(tx, min_support=2), min_threshold=0.5)
    >>> customer_recommendations(tx, rules)[["customer_id", "item"]].to_dict("records")
    [{'customer_id': 'c', 'item': 'cake'}]
    """
    as_of = None if as_of is None else as_point(as_of)
    _check_rules(rules)
    require_range(top_n, name="top_n", low=1, integer=True)
    require_in(metric, [m for m in _SCORE_METRICS if m in rules.columns], name="metric")
    require_frame(transactions, name="transactions", allowed="a DataFrame of transactions")
    b, i, _, labels, owner, _, _ = _encode_transactions(
        transactions,
        basket="customer",
        item=item,
        basket_freq=None,
        include_returns=include_returns,
        order_col="order_id",
        customer_col=customer_col,
        date_col=date_col,
        item_col=item_col,
        label_col=label_col,
        quantity_col=quantity_col,
        as_of=as_of,
    )
    out_columns = [customer_col]
    if len(rules) == 0 or b.size == 0:
        return _empty_recommendations(out_columns)
    code_of = pd.Index(labels, dtype=object, tupleize_cols=False)
    if not code_of.is_unique:  # pragma: no cover - labels are made unique
        raise AssertionError("item labels are not unique")
    # antecedent items of each rule, as item codes
    ante_sets = rules["antecedents"].to_numpy(dtype=object)
    ante_len = np.fromiter(map(len, ante_sets), dtype=np.int64, count=len(ante_sets))
    ante_codes = code_of.get_indexer(pd.Index(list(chain.from_iterable(ante_sets)), dtype=object, tupleize_cols=False))
    ante_rule = np.repeat(np.arange(len(rules)), ante_len)
    known = np.ones(len(rules), dtype=bool)
    known[ante_rule[ante_codes < 0]] = False  # rules mentioning items nobody here bought
    ok = known[ante_rule]
    history = pd.DataFrame({"cust": b, "code": i})
    links = pd.DataFrame({"rule": ante_rule[ok], "code": ante_codes[ok]})
    matched = history.merge(links, on="code").groupby(["cust", "rule"], sort=False).size().reset_index(name="n")
    matched = matched[matched["n"].to_numpy() == ante_len[matched["rule"].to_numpy()]]
    if matched.empty:
        return _empty_recommendations(out_columns)
    # candidate items: consequents not already bought
    cons_sets = rules["consequents"].to_numpy(dtype=object)
    cons_len = np.fromiter(map(len, cons_sets), dtype=np.int64, count=len(cons_sets))
    cons_labels = pd.Index(list(chain.from_iterable(cons_sets)), dtype=object, tupleize_cols=False)
    cons_codes = code_of.get_indexer(cons_labels)
    cons_rule = np.repeat(np.arange(len(rules)), cons_len)
    cand = matched[["cust", "rule"]].merge(
        pd.DataFrame({"rule": cons_rule, "code": cons_codes, "label_pos": np.arange(cons_rule.size)}), on="rule"
    )
    owned = pd.MultiIndex.from_arrays([b, i])
    cand = cand[~pd.MultiIndex.from_arrays([cand["cust"], cand["code"]]).isin(owned)]
    if cand.empty:
        return _empty_recommendations(out_columns)
    rule_idx = cand["rule"].to_numpy()
    cand = cand.assign(
        score=rules[metric].to_numpy(dtype=np.float64)[rule_idx],
        confidence=rules["confidence"].to_numpy(dtype=np.float64)[rule_idx],
        support=rules["support"].to_numpy(dtype=np.float64)[rule_idx],
        item=np.asarray(cons_labels, dtype=object)[cand["label_pos"].to_numpy()],
    )
    cand = cand.assign(_label=cand["item"].map(str))
    cand = cand.sort_values(
        ["cust", "score", "confidence", "support", "_label"], ascending=[True, False, False, False, True], kind="stable"
    )
    cand = cand.drop_duplicates(["cust", "_label"])
    cand = cand.groupby("cust", sort=False).head(top_n)
    cand = cand.assign(rank=cand.groupby("cust", sort=False).cumcount().to_numpy() + 1)
    rule_idx = cand["rule"].to_numpy()
    out = pd.DataFrame(
        {
            customer_col: owner[cand["cust"].to_numpy()],
            "rank": cand["rank"].to_numpy(dtype=np.int64),
            "item": cand["item"].to_numpy(dtype=object),
            "score": cand["score"].to_numpy(),
            "antecedents": ante_sets[rule_idx],
            "consequents": cons_sets[rule_idx],
            "support": cand["support"].to_numpy(),
            "confidence": cand["confidence"].to_numpy(),
            "lift": rules["lift"].to_numpy(dtype=np.float64)[rule_idx],
        }
    )
    order = np.lexsort((out["rank"].to_numpy(), out[customer_col].astype(str).to_numpy()))
    return out.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- sentences


def rule_sentences(
    rules: pd.DataFrame,
    *,
    language: str = "en",
    top_n: int | None = 10,
) -> list[str]:
    """Deprecated: use :func:`crmtools.reporting.findings.rule_sentences` (same arguments and result).

    Sentences are words, which live in the reporting layer; this name
    forwards there for one release.
    """
    from ._deprecation import warn_deprecated
    from .reporting.findings import rule_sentences as sentences_in_report

    warn_deprecated(
        "crmtools.basket.rule_sentences() is deprecated; it is now "
        "crmtools.reporting.findings.rule_sentences(rules, language=..., top_n=...)."
    )
    return sentences_in_report(rules, language=language, top_n=top_n)
