"""Exact frequent-itemset mining on packed tid bitsets (private engine of :mod:`crmtools.basket`).

The miner is level-wise and vectorised with numpy, so there is no
just-in-time compilation and the first call in a process is as fast as the
next; each level takes a handful of array operations per block, however many
itemsets it holds.

1. **Items** below ``min_count`` are dropped; the others are taken in code
   order, which :mod:`crmtools.basket` makes ascending item frequency (the
   rarest first, as in Eclat), so that the projections below stay small.
2. **Pairs** are counted in blocks of first items: by walking the item pairs
   inside each basket when there are few (at most a few million), else with
   a sparse product of the block's rows of ``X.T`` with ``X``; when baskets
   are long and items few, by intersecting item bitsets instead.
3. **Longer itemsets** are joined from two itemsets of the previous level
   that share everything but their last item (a candidate is dropped when
   one of its other subsets is not frequent), and counted by AND-ing the
   parents' tid bitsets and counting bits with ``np.bitwise_count``. The
   bitsets are *projected* on the baskets of the itemset's first (rarest)
   item: an itemset whose first item is in 300 baskets needs 5 words, not
   ``n_baskets / 64``.

Temporaries are built in chunks of bounded size, and memory is checked
before anything large is allocated: the caller passes a budget and the miner
raises :class:`MiningBudgetError` with its estimate when the next step would
exceed it.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .checks import message
from .engine import sorted_unique

__all__ = ["MiningBudgetError", "item_keys", "itemset_owners", "min_count", "mine"]

#: Words (uint64) handled per vectorised step; bounds the temporaries (~256 KiB each).
_CHUNK_WORDS = 1 << 15
#: Candidate itemsets generated per vectorised step.
_CHUNK_CANDIDATES = 1 << 14
#: Item pairs enumerated (or tested) per vectorised step.
_CHUNK_PAIRS = 1 << 16
#: Pairs inside baskets up to which pairs are counted by walking the baskets (else a sparse product).
_WALK_PAIRS = 4_000_000
#: Cells (first items x items) of the pair-count table of one block, and the fewest first items in a block.
_BLOCK_CELLS = 1 << 16
_MIN_BLOCK = 16
#: Largest dense (frequent items)^2 table of pair flags for pruning triples (bytes).
_PAIR_TABLE = 1 << 22
#: Fixed seed of the random 64-bit item keys used to hash itemsets for subset look-ups.
_KEY_SEED = 20240611


class MiningBudgetError(ValueError):
    """Raised when mining would need more memory than allowed.

    Attributes
    ----------
    needed : int
        Estimated bytes the next step would hold.
    stage : str
        What was being built, in words.
    """

    def __init__(self, needed: int, stage: str):
        self.needed = int(needed)
        self.stage = stage
        super().__init__(f"{stage} would need about {needed / 2**20:,.0f} MiB")


def output_bytes(n_itemsets: int, length: int) -> int:
    """Estimated bytes of ``n_itemsets`` itemsets of ``length`` items in the final table.

    A frozenset of up to four items takes 216 bytes, a larger one 728 or
    more; each row also holds support, count and length (24 bytes), two
    object pointers (the list the table is built from and its column) and,
    while the table is built, the level's item codes, counts and sort order
    (about 40 bytes more). Measured: 6.9 million itemsets of three items
    raised the peak resident memory by 2.6 GB (about 375 bytes each, with
    the allocator's overhead), so the estimate errs on the low side only by
    the allocator's slack.
    """
    per = 216 if length <= 4 else 728 if length <= 18 else 728 + 40 * length
    return int(n_itemsets) * (per + 80 + 8 * length)


def item_keys(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent random uint64 keys per item (fixed seed).

    The key of an itemset is the wrapping sum of its items' keys, so the key
    of a subset is found by subtracting the keys of the items removed.
    """
    rng = np.random.default_rng(_KEY_SEED)
    info = np.iinfo(np.uint64)
    k1 = rng.integers(0, info.max, size=n, dtype=np.uint64, endpoint=True)
    k2 = rng.integers(0, info.max, size=n, dtype=np.uint64, endpoint=True)
    return k1, k2


_SUPPORT_ALLOWED = "a fraction of baskets in (0, 1] (float) or a number of baskets >= 1 (int)"


def min_count(min_support, n_baskets: int) -> int:
    """Smallest basket count meeting ``min_support`` (a fraction in (0, 1] or a count >= 1).

    Shared by the local and the Spark miners, so both read ``min_support``
    the same way; also its check (``n_baskets=1`` checks it alone).

    Examples
    --------
    >>> min_count(0.25, 10), min_count(3, 10), min_count(0.3, 0)
    (3, 3, 1)
    >>> min_count(1.5, 10)  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: min_support is out of range; allowed: a fraction of baskets in (0, 1] (float) or a number of
    baskets >= 1 (int); received: 1.5. For an absolute count pass an int, e.g. min_support=1.
    """
    if isinstance(min_support, (bool, np.bool_)) or not isinstance(min_support, numbers.Real):
        raise TypeError(
            message(
                "min_support has the wrong type",
                allowed=_SUPPORT_ALLOWED,
                received=f"{min_support!r} ({type(min_support).__name__})",
            )
        )
    if isinstance(min_support, numbers.Integral):
        if min_support < 1:
            raise ValueError(
                message("min_support is out of range", allowed=_SUPPORT_ALLOWED, received=repr(min_support))
            )
        return int(min_support)
    value = float(min_support)
    if not 0.0 < value <= 1.0:
        hint = f"For an absolute count pass an int, e.g. min_support={int(value)}." if 1 < value < np.inf else None
        raise ValueError(
            message("min_support is out of range", allowed=_SUPPORT_ALLOWED, received=repr(min_support), hint=hint)
        )
    if n_baskets == 0:
        return 1
    # Same test as mlxtend, count / n >= min_support, evaluated exactly in floating point.
    count = max(1, int(np.ceil(value * n_baskets)))
    while count > 1 and (count - 1) / n_baskets >= value:
        count -= 1
    while count / n_baskets < value:
        count += 1
    return count


def _ragged_positions(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of each segment and, for each element, its position within its segment."""
    starts = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    return starts, within


def _and_count(
    words: np.ndarray, left_off: np.ndarray, right_off: np.ndarray, width: np.ndarray, keep_words: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Support of each candidate = popcount(left bitset AND right bitset).

    Parameters are ragged: candidate ``i`` uses ``width[i]`` words starting at
    ``left_off[i]`` and ``right_off[i]`` in ``words``.
    """
    n = left_off.size
    if n == 0:
        return np.zeros(0, np.int64), (np.zeros(0, np.uint64) if keep_words else None)
    starts = np.cumsum(width) - width
    total = int(starts[-1] + width[-1])
    base = np.arange(total, dtype=np.int64)
    seg_shift = np.repeat(starts, width)
    idx = np.repeat(left_off, width) - seg_shift + base
    inter = words[idx]
    idx = np.repeat(right_off, width) - seg_shift + base
    np.bitwise_and(inter, words[idx], out=inter)
    counts = np.add.reduceat(np.bitwise_count(inter), starts, dtype=np.int64)
    return counts, (inter if keep_words else None)


class _Budget:
    """Running estimate of the bytes the miner holds, checked against the limit."""

    def __init__(self, limit: int):
        self.limit = int(limit)
        self.output = 0

    def check(self, held: int, stage: str) -> None:
        need = int(held) + self.output
        if need > self.limit:
            raise MiningBudgetError(need, stage)


class _KeySet:
    """Membership test for uint64 keys (a hash index; sorted search if keys repeat)."""

    def __init__(self, keys: np.ndarray):
        self.index = pd.Index(keys, dtype=np.uint64)
        self.unique = self.index.is_unique
        if not self.unique:
            self.sorted = np.sort(keys)

    def contains(self, queries: np.ndarray) -> np.ndarray:
        if self.unique:
            return self.index.get_indexer(queries) >= 0
        pos = np.minimum(np.searchsorted(self.sorted, queries), self.sorted.size - 1)
        return self.sorted[pos] == queries


def _item_bitsets(rank: np.ndarray, basket: np.ndarray, n_freq: int, n_words: int) -> np.ndarray:
    """Full-width tid bitsets of the frequent items, flat, row ``r`` at ``[r * n_words, (r + 1) * n_words)``."""
    bitsets = np.zeros(n_freq * n_words, dtype=np.uint64)
    for lo in range(0, rank.size, _CHUNK_PAIRS):  # in chunks, to keep the temporaries small
        r = rank[lo : lo + _CHUNK_PAIRS].astype(np.int64)
        t = basket[lo : lo + _CHUNK_PAIRS].astype(np.int64)
        np.bitwise_or.at(bitsets, r * n_words + (t >> 6), np.left_shift(np.uint64(1), (t & 63).astype(np.uint64)))
    return bitsets


def _group_ends(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For lexicographically sorted rows: start and end (exclusive) of the group sharing all but the last column."""
    n, k = rows.shape
    if k == 1:
        return np.zeros(n, dtype=np.int64), np.full(n, n, dtype=np.int64)
    new = np.ones(n, dtype=bool)
    new[1:] = (rows[1:, :-1] != rows[:-1, :-1]).any(axis=1)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    group = np.cumsum(new) - 1
    return starts[group], ends[group]


def _joinable(rows: np.ndarray) -> np.ndarray:
    """Rows that share their prefix with at least one other row (only those can be joined)."""
    starts, ends = _group_ends(rows)
    return (ends - starts) >= 2


def _drop_unjoinable(rows: np.ndarray, words: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Free the bitsets of rows that cannot take part in the next join."""
    keep = _joinable(rows)
    if keep.all():
        return words, offsets
    widths = np.diff(offsets)
    words = words[np.repeat(keep, widths)]
    offsets = np.zeros(rows.shape[0] + 1, np.int64)
    np.cumsum(np.where(keep, widths, 0), out=offsets[1:])
    return words, offsets


def _row_blocks(cost: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Split rows into consecutive blocks whose summed cost stays near ``budget``."""
    n = cost.size
    cum = np.cumsum(cost)
    if n == 0 or cum[-1] <= budget:
        return [(0, n)] if n else []
    blocks, start, done = [], 0, 0
    while start < n:
        stop = int(np.searchsorted(cum, done + budget, side="right"))
        stop = max(stop, start + 1)
        blocks.append((start, stop))
        done = int(cum[stop - 1])
        start = stop
    return blocks


def mine(
    entries: list,
    *,
    n_baskets: int,
    n_items: int,
    min_count: int,
    max_len: int | None,
    max_memory: int,
    strategy: dict | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Mine all itemsets contained in at least ``min_count`` baskets.

    Parameters
    ----------
    entries : list of two numpy.ndarray of int
        ``[basket, item]``: one entry per distinct (basket, item) pair, codes
        in ``[0, n_baskets)`` and ``[0, n_items)``. The list is emptied, so
        that the arrays can be freed as soon as they are no longer needed.
        Items are taken in code order; the miner is fastest when codes ascend
        with item frequency and the entries come sorted by basket, then item
        (as :mod:`crmtools.basket` passes them).
    n_baskets, n_items : int
        Number of baskets and of distinct items.
    min_count : int
        Smallest number of baskets an itemset must be in (at least 1).
    max_len : int or None
        Longest itemset to return; None for no limit.
    max_memory : int
        Bytes the miner may hold, including an estimate of the final table.
    strategy : dict or None
        For tests: force ``{"pairs": "walk" | "sparse" | "bitset",
        "projection": "walk" | "lookup" | "search", "pair_table": False}``
        instead of choosing by cost and size. Every route gives the same
        result.

    Returns
    -------
    (list of numpy.ndarray, list of numpy.ndarray)
        For each length k = 1, 2, ...: an ``(n_k, k)`` int64 array of item
        codes (each row in ascending code order) and the ``n_k``
        basket counts. Levels with no itemsets are not returned.

    Raises
    ------
    MiningBudgetError
        When the next step would exceed ``max_memory``.
    """
    basket, item = entries
    entries.clear()
    budget = _Budget(max_memory)
    max_len = np.inf if max_len is None else max_len
    item_count = np.bincount(item, minlength=n_items)
    order = np.flatnonzero(item_count >= min_count)  # rank -> item code: frequent items in code order
    n_freq = order.size
    levels: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    if n_freq == 0:
        return levels, counts
    count1 = item_count[order].astype(np.int64)
    levels.append(np.arange(n_freq, dtype=np.int64)[:, None])
    counts.append(count1)
    budget.output += output_bytes(n_freq, 1)
    if max_len < 2 or n_freq < 2:
        return [order[lv] for lv in levels], counts

    rank_of = np.full(n_items, -1, dtype=np.int32)
    rank_of[order] = np.arange(n_freq, dtype=np.int32)
    rank = rank_of[item]
    del item, rank_of
    keep = rank >= 0
    if not keep.all():
        rank, basket = rank[keep], basket[keep]
    del keep
    if basket.size > 1:  # the basket walk needs the entries sorted by basket, then item
        step = basket[1:].astype(np.int64) - basket[:-1]
        ordered = bool(np.all((step > 0) | ((step == 0) & (rank[1:] > rank[:-1]))))
        del step
        if not ordered:
            by_basket = np.argsort(basket.astype(np.int64) * n_freq + rank, kind="stable")
            rank, basket = rank[by_basket], basket[by_basket]
            del by_basket
    n_words = (n_baskets + 63) // 64
    sizes = np.bincount(basket, minlength=n_baskets)
    pair_work = float((sizes.astype(np.float64) ** 2).sum())  # entries of X.T @ X
    walk_work = float((sizes * (sizes - 1.0) / 2).sum())  # item pairs inside baskets
    bitset_work = n_freq * (n_freq - 1) / 2 * n_words
    budget.check(rank.size * 40, "Encoding the baskets")
    want_words = max_len >= 3

    # ---- pairs
    strategy = strategy or {}
    if pair_work > 4 * bitset_work:
        route = "bitset"
    elif walk_work <= _WALK_PAIRS:
        route = "walk"
    else:
        route = "sparse"
    route = strategy.get("pairs", route)
    if route == "bitset":
        budget.check(n_freq * n_words * 8, f"Bitsets of {n_freq:,} frequent items over {n_baskets:,} baskets")
        bitsets = _item_bitsets(rank, basket, n_freq, n_words)
        del rank, basket
        rows = np.arange(n_freq, dtype=np.int64)[:, None]
        pairs, pair_counts, words, offsets = _join_level(
            rows, bitsets, np.arange(n_freq + 1, dtype=np.int64) * n_words, min_count, want_words, budget
        )
        del bitsets
    else:
        budget.check(40 * rank.size + 16 * _BLOCK_CELLS + 48 * _CHUNK_PAIRS, "Counting item pairs")
        layout = _Layout(
            rank, basket, sizes, n_baskets, n_freq, count1, walk=route == "walk" or strategy.get("projection") == "walk"
        )
        del rank, basket
        pairs, pair_counts, words, offsets = _pair_level(
            layout, min_count, want_words, budget, route, strategy.get("projection"), strategy.get("pair_table", True)
        )
        del layout
    if pairs.shape[0] == 0:
        return [order[lv] for lv in levels], counts
    levels.append(pairs)
    counts.append(pair_counts)
    budget.output += output_bytes(pairs.shape[0], 2)

    # ---- longer itemsets
    key1, _ = item_keys(n_freq)
    rows = pairs
    k = 2
    while k < max_len and rows.shape[0] > 1 and words is not None:
        k += 1
        words, offsets = _drop_unjoinable(rows, words, offsets)
        if k == 3 and n_freq * n_freq <= _PAIR_TABLE and strategy.get("pair_table", True):  # bool table
            is_pair = np.zeros(n_freq * n_freq, dtype=bool)
            is_pair[rows[:, 0] * n_freq + rows[:, 1]] = True
            prune = ("pairs", is_pair, n_freq)
        else:
            row_keys = key1[rows].sum(axis=1, dtype=np.uint64)
            prune = ("keys", _KeySet(row_keys), row_keys, key1)
        rows, level_counts, words, offsets = _join_level(
            rows, words, offsets, min_count, k < max_len, budget, prune=prune
        )
        if rows.shape[0] == 0:
            break
        levels.append(rows)
        counts.append(level_counts)
        budget.output += output_bytes(rows.shape[0], k)
    return [order[lv] for lv in levels], counts


class _Layout:
    """The (basket, frequent item) entries by item and by basket, as compact int32 arrays.

    ``tids`` lists the baskets of each item in turn (item ``r`` at
    ``tid_start[r]:tid_start[r + 1]``, ascending); in basket order, ``r_h`` is
    the item of each entry (ascending within a basket), ``v_h`` its position
    among that item's baskets, and ``partners`` the number of entries after
    it in its basket; ``h_of_v`` maps item order to basket order.
    """

    def __init__(self, rank, basket, sizes, n_baskets, n_freq, count1, walk: bool):
        self.n_baskets, self.n_freq, self.count1 = n_baskets, n_freq, count1
        self.size = rank.size
        self.tid_start = np.zeros(n_freq + 1, np.int64)
        np.cumsum(count1, out=self.tid_start[1:])
        # entries arrive sorted by basket, then item: that is the basket order; a stable (radix) sort
        # by item gives the item order
        by_item = np.argsort(rank.astype(np.uint16) if n_freq <= 2**16 else rank, kind="stable")
        self.tids = basket[by_item].astype(np.int32)
        self.r_h = rank.astype(np.int32, copy=False)
        self._bitsets = self._vkeys = None
        if not walk:  # the walk arrays are only needed to walk the baskets
            return
        self.h_of_v = by_item.astype(np.int32)  # basket-order position of each item-order entry
        work = np.arange(self.size, dtype=np.int64)
        work -= np.repeat(self.tid_start[:-1], count1)
        self.v_h = np.empty(self.size, np.int32)
        self.v_h[by_item] = work
        del by_item
        work = np.cumsum(sizes)[basket]
        work -= np.arange(1, self.size + 1)
        self.partners = work.astype(np.int32)
        del work
        self.walk_by_item = np.bincount(self.r_h, weights=self.partners, minlength=n_freq)

    def walk(self, lefts: np.ndarray, first: int, n_cols: int):
        """Item pairs inside baskets with the left entry at horizontal positions ``lefts``.

        Returns the block-local pair key ``(a - first) * n_cols + b`` and the
        position of the basket among the baskets of ``a``, per pair.
        """
        m = self.partners[lefts]
        left = np.repeat(lefts.astype(np.int64), m)
        _, within = _ragged_positions(m)
        right = left + 1 + within
        del within
        key = (self.r_h[left] - first).astype(np.int64) * n_cols + self.r_h[right]
        return key, self.v_h[left]

    def bits_present(self, item: np.ndarray, baskets: np.ndarray, budget: _Budget) -> np.ndarray:
        """Whether each ``(item, basket)`` pair is an entry (full item bitsets when they fit, else search)."""
        n_words = (self.n_baskets + 63) // 64
        if self.n_freq * n_words * 8 <= min(8 * 2**20, budget.limit // 8):
            if self._bitsets is None:
                rank = np.repeat(np.arange(self.n_freq, dtype=np.int32), self.count1)
                self._bitsets = _item_bitsets(rank, self.tids, self.n_freq, n_words)
            held = self._bitsets[item.astype(np.int64) * n_words + (baskets >> 6)]
            return ((held >> (baskets & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)
        return self.search(item, baskets)

    def search(self, item: np.ndarray, baskets: np.ndarray) -> np.ndarray:
        """Whether each ``(item, basket)`` pair is an entry, by binary search."""
        if self._vkeys is None:
            self._vkeys = np.repeat(np.arange(self.n_freq, dtype=np.int64), self.count1) * self.n_baskets + self.tids
        query = item.astype(np.int64) * self.n_baskets + baskets
        pos = np.minimum(np.searchsorted(self._vkeys, query), self._vkeys.size - 1)
        return self._vkeys[pos] == query


def _pair_level(layout: _Layout, min_count, want_words, budget, route, projection=None, pair_table=True):
    """Frequent pairs (sorted), their counts and, when ``want_words``, their projected bitsets.

    Works in blocks of first items so that no temporary grows with the
    number of items squared: counts come from walking the item pairs inside
    the baskets (``route="walk"``) or from a sparse product of the block's
    rows of ``X.T`` with ``X`` (``route="sparse"``). The bitset of pair
    (a, b) has bit t set when the t-th basket of a holds b; it is built only
    for pairs that share their first item with another pair (the others are
    never joined), from the same walk or by testing the baskets of a for b
    (``projection`` forces ``"walk"``, ``"lookup"`` or ``"search"``).
    """
    n_freq, count1, tid_start = layout.n_freq, layout.count1, layout.tid_start
    x = ones = None
    if route == "sparse":
        from scipy import sparse

        # int32 indices throughout, so that scipy does not copy them for every product
        ones = np.ones(layout.size, dtype=np.int32)
        indptr = np.zeros(layout.n_baskets + 1, np.int32)
        np.cumsum(np.bincount(layout.tids, minlength=layout.n_baskets), out=indptr[1:])
        x = sparse.csr_matrix((ones, layout.r_h, indptr), shape=(layout.n_baskets, n_freq))
    cum_walk = np.cumsum(layout.walk_by_item) if route == "walk" else None
    per_block = max(_MIN_BLOCK, _BLOCK_CELLS // n_freq)
    out_pairs, out_counts, out_words, out_widths = [], [], [], []
    first = 0
    while first < n_freq:
        stop = min(n_freq, first + per_block)
        if route == "walk":  # also keep the pairs walked per block small
            done = cum_walk[first - 1] if first else 0.0
            stop = min(stop, int(np.searchsorted(cum_walk, done + _CHUNK_PAIRS, side="right")))
        stop = max(stop, first + 1)
        walked = None
        if route == "walk":
            lefts = layout.h_of_v[tid_start[first] : tid_start[stop]]
            table = np.zeros((stop - first) * n_freq, np.int64)
            chunks = _row_blocks(layout.partners[lefts], _CHUNK_PAIRS)
            for lo, hi in chunks:
                key, vpos = layout.walk(lefts[lo:hi], first, n_freq)
                table += np.bincount(key, minlength=table.size)
                if len(chunks) == 1:
                    walked = (key, vpos)
            flat = np.flatnonzero(table >= min_count)  # ascending: pairs in lexicographic order
            block_counts = table[flat]
            del table
        else:
            rows = sparse.csr_matrix(
                (
                    ones[tid_start[first] : tid_start[stop]],
                    layout.tids[tid_start[first] : tid_start[stop]],
                    (tid_start[first : stop + 1] - tid_start[first]).astype(np.int32),
                ),
                shape=(stop - first, layout.n_baskets),
            )
            co = rows @ x
            del rows
            local = np.repeat(np.arange(stop - first, dtype=np.int64), np.diff(co.indptr))
            upper = (co.indices > local + first) & (co.data >= min_count)
            flat = local[upper] * n_freq + co.indices[upper]
            block_counts = co.data[upper].astype(np.int64)
            del co, local, upper
            order = np.argsort(flat)
            flat, block_counts = flat[order], block_counts[order]
        a = first + flat // n_freq
        b = flat % n_freq
        out_pairs.append(np.stack([a, b], axis=1))
        out_counts.append(block_counts)
        if want_words:
            group = np.bincount(a - first, minlength=stop - first)
            joinable = group[a - first] >= 2
            lengths = np.where(joinable, count1[a], 0)
            widths = (lengths + 63) // 64
            offsets = np.cumsum(widths) - widths
            bits = np.zeros(int(widths.sum()) * 64, dtype=bool)
            sel = np.flatnonzero(joinable)
            method = projection
            if method is None and route == "walk":
                walk_cost = float(cum_walk[stop - 1] - done)
                method = "walk" if walked is not None or walk_cost <= float(lengths.sum()) else "lookup"
            elif method is None:  # a sparse product was cheaper than walking: so is testing baskets
                method = "lookup"
            if method == "walk" and sel.size:
                if pair_table:
                    pid = np.full((stop - first) * n_freq, -1, dtype=np.int32)
                    pid[flat[sel]] = sel
                else:
                    sel_keys = flat[sel]
                if walked is not None:
                    chunk_list = [walked]
                else:
                    lefts = layout.h_of_v[tid_start[first] : tid_start[stop]]
                    chunk_list = (
                        layout.walk(lefts[lo:hi], first, n_freq)
                        for lo, hi in _row_blocks(layout.partners[lefts], _CHUNK_PAIRS)
                    )
                for key, vpos in chunk_list:
                    if pair_table:
                        hit_pid = pid[key]
                    else:
                        pos = np.minimum(np.searchsorted(sel_keys, key), sel_keys.size - 1)
                        hit_pid = np.where(sel_keys[pos] == key, sel[pos], -1)
                    hit = hit_pid >= 0
                    bits[offsets[hit_pid[hit]] * 64 + vpos[hit]] = True
                    del key, vpos, hit_pid, hit
            elif sel.size:
                for lo, hi in _row_blocks(lengths[sel], _CHUNK_PAIRS):
                    part = sel[lo:hi]
                    ln = lengths[part]
                    _, within = _ragged_positions(ln)
                    baskets = layout.tids[np.repeat(tid_start[a[part]], ln) + within].astype(np.int64)
                    items = np.repeat(b[part], ln)
                    present = (
                        layout.bits_present(items, baskets, budget)
                        if method == "lookup"
                        else layout.search(items, baskets)
                    )
                    bits[np.repeat(offsets[part] * 64, ln) + within] = present
            out_words.append(np.packbits(bits, bitorder="little").view(np.uint64))
            out_widths.append(widths)
            del bits
        first = stop
    pairs = np.concatenate(out_pairs)
    counts = np.concatenate(out_counts)
    if not want_words:
        return pairs, counts, None, None
    offsets = np.zeros(pairs.shape[0] + 1, np.int64)
    np.cumsum(np.concatenate(out_widths), out=offsets[1:])
    return pairs, counts, np.concatenate(out_words), offsets


def _join_level(rows, words, offsets, min_count, keep_words, budget, *, prune=None):
    """Next level: join rows sharing all but their last item, prune, count, keep the frequent.

    ``rows`` is an ``(n, k)`` array sorted lexicographically; row ``i``'s
    bitset is ``words[offsets[i]:offsets[i + 1]]``. ``prune`` (None for no
    pruning) tells how to check that the candidates' other k-subsets are
    frequent: ``("pairs", is_pair, n_freq)`` with a dense pair table, or
    ``("keys", key_set, row_keys, item_key)`` with itemset hashes (a
    hash collision can only keep a candidate, which is then counted, so the
    result stays exact). Returns the frequent ``(m, k + 1)`` rows (sorted),
    their counts, and their bitsets and offsets (None when ``keep_words`` is
    False).
    """
    n, k = rows.shape
    _, ends = _group_ends(rows)
    partners = ends - np.arange(n) - 1
    width = np.diff(offsets)
    out_rows, out_counts, out_words, out_widths = [], [], [], []
    held = words.nbytes + rows.nbytes + offsets.nbytes
    stored = level_output = 0
    for lo, hi in _row_blocks(partners, _CHUNK_CANDIDATES):
        m = partners[lo:hi]
        left = np.repeat(np.arange(lo, hi, dtype=np.int64), m)
        if left.size == 0:
            continue
        _, within = _ragged_positions(m)
        right = left + 1 + within
        last = rows[right, -1]
        if prune is not None and prune[0] == "pairs":
            _, is_pair, n_freq = prune
            ok = is_pair[rows[left, 1] * n_freq + last]
        elif prune is not None:
            _, key_set, row_keys, item_key = prune
            cand_keys = row_keys[left] + item_key[last]
            ok = np.ones(left.size, dtype=bool)
            for j in range(k - 1):  # the subsets without one of the shared items
                ok &= key_set.contains(cand_keys - item_key[rows[left, j]])
        else:
            ok = None
        if ok is not None:
            left, right, last = left[ok], right[ok], last[ok]
        w = width[left]
        for s_lo, s_hi in _row_blocks(w, _CHUNK_WORDS):
            lft, ww = left[s_lo:s_hi], w[s_lo:s_hi]
            cnt, inter = _and_count(words, offsets[lft], offsets[right[s_lo:s_hi]], ww, keep_words)
            good = cnt >= min_count
            n_good = int(good.sum())
            if not n_good:
                continue
            new_rows = np.concatenate([rows[lft[good]], last[s_lo:s_hi][good][:, None]], axis=1)
            out_rows.append(new_rows)
            out_counts.append(cnt[good])
            stored += new_rows.nbytes + 8 * n_good
            if keep_words:
                kept = inter[np.repeat(good, ww)]
                out_words.append(kept)
                out_widths.append(ww[good])
                stored += kept.nbytes + 8 * n_good
            level_output += output_bytes(n_good, k + 1)
            budget.check(held + stored + level_output + 48 * _CHUNK_WORDS, f"Itemsets of length {k + 1}")
    if not out_rows:
        return np.zeros((0, k + 1), np.int64), np.zeros(0, np.int64), None, None
    new_rows = np.concatenate(out_rows)
    new_counts = np.concatenate(out_counts)
    if not keep_words:
        return new_rows, new_counts, None, None
    new_words = np.concatenate(out_words)
    new_offsets = np.zeros(new_rows.shape[0] + 1, np.int64)
    np.cumsum(np.concatenate(out_widths), out=new_offsets[1:])
    return new_rows, new_counts, new_words, new_offsets


def itemset_owners(
    entries: tuple[np.ndarray, np.ndarray],
    owner: np.ndarray,
    levels: list[np.ndarray],
    *,
    n_baskets: int,
    n_items: int,
    budget: int,
) -> list[np.ndarray]:
    """Number of distinct owners (customers) of the baskets holding each itemset.

    Parameters
    ----------
    entries : (numpy.ndarray, numpy.ndarray)
        ``(basket, item)`` codes, one per distinct pair (as given to :func:`mine`).
    owner : numpy.ndarray of int
        Owner code of each basket, ``-1`` for a basket without one (a guest
        order); guests are not counted.
    levels : list of numpy.ndarray
        Itemsets as returned by :func:`mine`: per length, an ``(n_k, k)``
        array of item codes (the first column the rarest item, which keeps
        the work small).
    n_baskets, n_items : int
        Number of baskets and items.
    budget : int
        Bytes the temporaries may take; the work is split into blocks below it
        (refused with :class:`MiningBudgetError` when the fixed part alone is
        larger).

    Returns
    -------
    list of numpy.ndarray
        Per level, the owner count of each itemset (int64).

    Notes
    -----
    For each itemset the baskets of its first item are walked and the other
    items looked up in the item-major (item, basket) keys by binary search:
    the work is the sum over itemsets of the support of their first item,
    the same order as the mining itself.

    Examples
    --------
    >>> basket = np.array([0, 0, 1, 1, 2]); item = np.array([0, 1, 0, 1, 0])
    >>> [c.tolist() for c in itemset_owners((basket, item), np.array([7, 7, -1]),
    ...                                    [np.array([[0], [1]]), np.array([[0, 1]])],
    ...                                    n_baskets=3, n_items=2, budget=2**20)]
    [[1, 1], [1]]
    """
    basket, item = entries
    fixed = 16 * basket.size + 8 * (n_items + 1)
    if fixed > budget:
        raise MiningBudgetError(fixed, "Counting the customers of each itemset")
    keys = np.sort(item.astype(np.int64) * n_baskets + basket)
    item_start = np.searchsorted(keys, np.arange(n_items + 1, dtype=np.int64) * n_baskets)
    n_owners = int(owner.max()) + 1 if owner.size else 0
    # per entry in a block: row, basket, hit flag, owner and keys (about 64 bytes)
    per_block = max(1 << 12, (budget - fixed) // 64)
    out = []
    for rows in levels:
        rows = rows.astype(np.int64, copy=False)
        first = rows[:, 0]
        lengths = item_start[first + 1] - item_start[first]
        result = np.zeros(rows.shape[0], np.int64)
        for lo, hi in _row_blocks(lengths, min(per_block, 1 << 22)):
            ln = lengths[lo:hi]
            if not ln.sum():
                continue
            _, within = _ragged_positions(ln)
            row = np.repeat(np.arange(lo, hi, dtype=np.int64), ln)
            tids = keys[np.repeat(item_start[first[lo:hi]], ln) + within] - first[row] * n_baskets
            del within
            hit = np.ones(row.size, dtype=bool)
            for j in range(1, rows.shape[1]):
                query = rows[row, j] * n_baskets + tids
                pos = np.minimum(np.searchsorted(keys, query), keys.size - 1)
                hit &= keys[pos] == query
                del query, pos
            own = owner[tids[hit]]
            row = row[hit][own >= 0]
            own = own[own >= 0]
            if own.size:
                pairs = sorted_unique(row * max(n_owners, 1) + own)
                result += np.bincount(pairs // max(n_owners, 1), minlength=rows.shape[0])
        out.append(result)
    return out
