"""Exact frequent-itemset mining on packed tid bitsets (private engine of :mod:`crmtools.basket`).

The miner is level-wise and fully vectorised with numpy, so there is no
just-in-time compilation and the first call in a process is as fast as the
next. Each level is processed in a handful of array operations, however many
itemsets it holds:

1. **Items.** Items below ``min_count`` are dropped; the rest are ranked by
   ascending support (the rarest first, as in Eclat), which keeps the
   projections below small.
2. **Pairs** are counted from the horizontal data with a sparse product
   ``X.T @ X`` (cost: the sum of squared basket sizes), or, when baskets are
   long and items few, by intersecting item bitsets; whichever is cheaper.
3. **Longer itemsets** are joined from two itemsets of the previous level
   that share everything but their last item (candidates are pruned when a
   subset is not frequent), and counted by AND-ing the parents' tid bitsets
   and counting bits with ``np.bitwise_count``. Bitsets are *projected* on
   the baskets of the itemset's first (rarest) item, so an itemset whose
   first item is in 300 baskets needs 5 words, not ``n_baskets / 64``.

Memory is bounded before anything large is allocated: the caller passes a
budget and the miner raises :class:`MiningBudgetError` with its estimate when
the next step would exceed it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MiningBudgetError", "mine", "output_bytes"]

#: Words (uint64) handled per vectorised step; bounds the temporaries (~8 MiB each).
_CHUNK_WORDS = 1 << 20
#: Candidate itemsets generated per vectorised step.
_CHUNK_CANDIDATES = 1 << 18
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
    more; each row also holds support, count and length (24 bytes) and an
    object pointer.
    """
    per = 216 if length <= 4 else 728 if length <= 18 else 728 + 40 * length
    return int(n_itemsets) * (per + 32)


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


def _ragged_positions(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start of each segment and, for each element, its position within its segment."""
    starts = np.cumsum(lengths) - lengths
    total = int(lengths.sum())
    within = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
    return starts, within


def _and_count(words: np.ndarray, left_off: np.ndarray, right_off: np.ndarray,
               width: np.ndarray, keep_words: bool) -> tuple[np.ndarray, np.ndarray | None]:
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


def _item_bitsets(rank: np.ndarray, basket: np.ndarray, n_freq: int, n_words: int) -> np.ndarray:
    """Full-width tid bitsets of the frequent items, flat, row ``r`` at ``[r * n_words, (r + 1) * n_words)``."""
    bitsets = np.zeros(n_freq * n_words, dtype=np.uint64)
    np.bitwise_or.at(bitsets, rank * n_words + (basket >> 6),
                     np.left_shift(np.uint64(1), (basket & 63).astype(np.uint64)))
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


def mine(basket: np.ndarray, item: np.ndarray, *, n_baskets: int, n_items: int, min_count: int,
         max_len: int | None, max_memory: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Mine all itemsets contained in at least ``min_count`` baskets.

    Parameters
    ----------
    basket, item : numpy.ndarray of int
        One entry per distinct (basket, item) pair; codes in ``[0, n_baskets)``
        and ``[0, n_items)``.
    n_baskets, n_items : int
        Number of baskets and of distinct items.
    min_count : int
        Smallest number of baskets an itemset must be in (at least 1).
    max_len : int or None
        Longest itemset to return; None for no limit.
    max_memory : int
        Bytes the miner may hold, including an estimate of the final table.

    Returns
    -------
    (list of numpy.ndarray, list of numpy.ndarray)
        For each length k = 1, 2, ...: an ``(n_k, k)`` int64 array of item
        codes (each row ordered by ascending item support) and the ``n_k``
        basket counts. Levels with no itemsets are not returned.

    Raises
    ------
    MiningBudgetError
        When the next step would exceed ``max_memory``.
    """
    budget = _Budget(max_memory)
    max_len = np.inf if max_len is None else max_len
    item_count = np.bincount(item, minlength=n_items)
    frequent = np.flatnonzero(item_count >= min_count)
    order = frequent[np.argsort(item_count[frequent], kind="stable")]  # rank -> item code
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

    rank_of = np.full(n_items, -1, dtype=np.int64)
    rank_of[order] = np.arange(n_freq)
    rank = rank_of[item]
    keep = rank >= 0
    rank, basket = rank[keep], basket[keep].astype(np.int64)
    n_words = (n_baskets + 63) // 64
    sizes = np.bincount(basket, minlength=n_baskets).astype(np.int64)
    pair_work = float((sizes.astype(np.float64) ** 2).sum())  # entries of X.T @ X
    bitset_work = n_freq * (n_freq - 1) / 2 * n_words
    budget.check(rank.size * 48, "Encoding the baskets")
    want_words = max_len >= 3

    # ---- pairs
    if pair_work <= 4 * bitset_work:
        pairs, pair_counts = _pairs_sparse(rank, basket, n_baskets, n_freq, min_count, budget, pair_work)
        words = offsets = None
        if want_words and pairs.shape[0] > 1:
            words, offsets = _project_pairs(pairs, rank, basket, sizes, n_baskets, n_freq, count1, budget)
    else:
        budget.check(n_freq * n_words * 8, f"Bitsets of {n_freq:,} frequent items over {n_baskets:,} baskets")
        bitsets = _item_bitsets(rank, basket, n_freq, n_words)
        rows = np.arange(n_freq, dtype=np.int64)[:, None]
        pairs, pair_counts, words, offsets = _join_level(
            rows, bitsets, np.arange(n_freq + 1, dtype=np.int64) * n_words, min_count, want_words, budget)
        del bitsets
    del rank, basket
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
        if k == 3 and n_freq * n_freq <= 2**24:
            is_pair = np.zeros(n_freq * n_freq, dtype=bool)
            is_pair[rows[:, 0] * n_freq + rows[:, 1]] = True
            prune = ("pairs", is_pair, n_freq)
        else:
            row_keys = key1[rows].sum(axis=1, dtype=np.uint64)
            prune = ("keys", np.sort(row_keys), row_keys, key1)
        rows, level_counts, words, offsets = _join_level(
            rows, words, offsets, min_count, k < max_len, budget, prune=prune)
        if rows.shape[0] == 0:
            break
        levels.append(rows)
        counts.append(level_counts)
        budget.output += output_bytes(rows.shape[0], k)
    return [order[lv] for lv in levels], counts


def _pairs_sparse(rank, basket, n_baskets, n_freq, min_count, budget, pair_work):
    """Frequent pairs (sorted) and their counts, from the sparse co-occurrence product ``X.T @ X``."""
    from scipy import sparse

    budget.check(int(min(pair_work, float(n_freq) ** 2) * 24), "Counting item pairs")
    x = sparse.csr_matrix((np.ones(rank.size, dtype=np.int32), (basket, rank)), shape=(n_baskets, n_freq))
    co = (x.T.tocsr() @ x).tocoo()
    del x
    mask = (co.row < co.col) & (co.data >= min_count)
    first = co.row[mask].astype(np.int64)
    second = co.col[mask].astype(np.int64)
    pair_counts = co.data[mask].astype(np.int64)
    del co, mask
    order = np.argsort(first * n_freq + second)
    pairs = np.stack([first[order], second[order]], axis=1)
    return pairs, pair_counts[order]


def _project_pairs(pairs, rank, basket, sizes, n_baskets, n_freq, count1, budget):
    """Projected bitsets of the joinable pairs: bit t of pair (a, b) says whether the t-th basket of a holds b.

    Two equivalent routes, the cheaper one is taken: test every basket of
    ``a`` for ``b`` (work: the sum of the counts of the first items), or walk
    the item pairs inside each basket (work: the sum of squared basket sizes).
    """
    n_pairs = pairs.shape[0]
    joinable = _joinable(pairs)
    lengths = np.where(joinable, count1[pairs[:, 0]], 0)
    widths = (lengths + 63) // 64
    offsets = np.zeros(n_pairs + 1, np.int64)
    np.cumsum(widths, out=offsets[1:])
    n_bits = int(offsets[-1]) * 64
    lookup_work = float(lengths.sum())
    walk_work = float((sizes * (sizes - 1) // 2).sum())
    budget.check(n_bits + n_bits // 8 + rank.size * 40 + 48 * _CHUNK_WORDS, "Bitsets of the frequent pairs")
    bits = np.zeros(n_bits, dtype=bool)
    # position of each entry among the baskets of its item
    vertical = np.argsort(rank * n_baskets + basket)
    tid_start = np.zeros(n_freq + 1, np.int64)
    np.cumsum(count1, out=tid_start[1:])
    if walk_work <= 2 * lookup_work:
        vpos = np.empty(rank.size, np.int64)
        vpos[vertical] = np.arange(rank.size) - np.repeat(tid_start[:-1], count1)
        del vertical
        horizontal = np.argsort(basket * n_freq + rank)
        r_h, v_h = rank[horizontal], vpos[horizontal]
        del vpos
        basket_end = np.cumsum(sizes)[basket[horizontal]]
        del horizontal
        partners = basket_end - np.arange(r_h.size) - 1
        del basket_end
        sel = np.flatnonzero(joinable)
        if n_freq * n_freq <= 2**24:
            table = np.full(n_freq * n_freq, -1, dtype=np.int64)
            table[pairs[sel, 0] * n_freq + pairs[sel, 1]] = sel
        else:
            table = None
            sel_keys = pairs[sel, 0] * n_freq + pairs[sel, 1]
        for lo, hi in _row_blocks(partners, 2 * _CHUNK_WORDS):
            m = partners[lo:hi]
            left = np.repeat(np.arange(lo, hi, dtype=np.int64), m)
            _, within = _ragged_positions(m)
            key = r_h[left] * n_freq + r_h[left + 1 + within]
            if table is not None:
                pid = table[key]
            else:
                pos = np.minimum(np.searchsorted(sel_keys, key), max(sel_keys.size - 1, 0))
                pid = np.where(sel_keys[pos] == key, sel[pos], -1) if sel_keys.size else np.full(key.size, -1)
            hit = pid >= 0
            bits[offsets[pid[hit]] * 64 + v_h[left[hit]]] = True
    else:
        tids = basket[vertical]
        del vertical
        n_words = (n_baskets + 63) // 64
        full = None
        if n_freq * n_words * 8 <= min(256 * 2**20, budget.limit // 4):
            full = _item_bitsets(rank, basket, n_freq, n_words)
        else:
            vkeys = np.sort(rank * n_baskets + basket)
        for lo, hi in _row_blocks(lengths, 2 * _CHUNK_WORDS):
            a, b, ln = pairs[lo:hi, 0], pairs[lo:hi, 1], lengths[lo:hi]
            if ln.sum() == 0:
                continue
            _, within = _ragged_positions(ln)
            t = tids[np.repeat(tid_start[a], ln) + within]
            if full is not None:
                held = full[np.repeat(b * n_words, ln) + (t >> 6)]
                present = ((held >> (t & 63).astype(np.uint64)) & np.uint64(1)).astype(bool)
            else:
                query = np.repeat(b * n_baskets, ln) + t
                pos = np.minimum(np.searchsorted(vkeys, query), vkeys.size - 1)
                present = vkeys[pos] == query
            bits[np.repeat(offsets[lo:hi] * 64, ln) + within] = present
    words = np.packbits(bits, bitorder="little").view(np.uint64)
    return words, offsets


def _join_level(rows, words, offsets, min_count, keep_words, budget, *, prune=None):
    """Next level: join rows sharing all but their last item, prune, count, keep the frequent.

    ``rows`` is an ``(n, k)`` array sorted lexicographically; row ``i``'s
    bitset is ``words[offsets[i]:offsets[i + 1]]``. ``prune`` (None for no
    pruning) tells how to check that the candidates' other k-subsets are
    frequent: ``("pairs", is_pair, n_freq)`` with a dense pair table, or
    ``("keys", sorted_keys, row_keys, item_key)`` with itemset hashes (a
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
            _, sorted_keys, row_keys, item_key = prune
            cand_keys = row_keys[left] + item_key[last]
            ok = np.ones(left.size, dtype=bool)
            for j in range(k - 1):  # the subsets without one of the shared items
                sub = cand_keys - item_key[rows[left, j]]
                pos = np.minimum(np.searchsorted(sorted_keys, sub), sorted_keys.size - 1)
                ok &= sorted_keys[pos] == sub
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
