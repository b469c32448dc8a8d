"""RFM analysis: recency, frequency and monetary scores, named segments and their migration.

Definitions (all as of an explicit ``as_of`` instant, exclusive):

- The **window** is ``[as_of - lookback_days, as_of)``. Only customers with a
  purchase (a line with a positive quantity) in the window get a row; lines
  without a customer id (guest orders) are left out of every customer
  analysis.
- **recency_days**: calendar days from the date of the last purchase to the
  date of ``as_of``. With a midnight ``as_of`` (a period's exclusive end), a
  purchase on the last day of the period has recency 1.
- **frequency**: distinct orders with at least one purchased line in the
  window. Return-only orders (all lines negative) are not purchases.
- **monetary**: net revenue in the window: the sum of ``amount`` over all
  the customer's lines, so returns and cancellations subtract. Money sums are
  rounded to the cent (2 decimal places), which makes them exact and
  independent of row order for amounts in yen, dollars or euros.

Scores (1-5, 5 best; low recency is good):

- ``scoring="quantile"`` (default): ``score = 1 + floor(5 * w / n)`` where
  ``n`` is the number of customers and ``w`` the number of customers with a
  strictly *worse* value (pandas ``rank(method="min") - 1``). Tied customers
  always share a score, so a score depends only on the customer's value and
  the distribution, never on row order; the lowest value always scores 1 and
  if every customer is tied, all score 1. Heavy ties (most customers with one
  order) leave some scores unused; fixed thresholds avoid that.
- ``scoring="thresholds"``: business thresholds, four increasing cut points
  per measure (:data:`DEFAULT_THRESHOLDS`). Recency cut points are upper
  bounds: ``recency_days <= 30`` scores 5, ``<= 60`` 4, ``<= 90`` 3,
  ``<= 180`` 2, else 1. Frequency and monetary cut points are lower bounds:
  ``score = 1 + number of cut points <= value``, so frequency cut points
  ``(2, 3, 5, 10)`` give the bins 1, 2, 3-4, 5-9 and 10+ orders.

Segments come from a segment map (:func:`load_segment_map`) that assigns each
of the 125 (R, F, M) cells to exactly one segment. A segment may also require
a **first purchase ever in the window** (``first_purchase: in_window``): the
built-in ``New`` holds only customers whose first purchase over the whole
history before ``as_of`` falls in the window; a customer of its cells who had
bought before the window (a lapsed customer come back) goes to the segment
its ``otherwise`` names (``Promising`` in the built-in map). Results name segments by
the map's names (``"Champions"``), in every language; the map also carries
each segment's display labels, which the reporting layer shows
(:func:`crmtools.reporting.i18n.segment_labels`).

Examples
--------
>>> import pandas as pd
>>> tx = pd.DataFrame({
...     "order_id": ["o1", "o2", "o3", "o4"],
...     "customer_id": ["a", "a", "b", "c"],
...     "order_datetime": pd.to_datetime(["2025-09-01", "2025-10-20", "2025-06-01", "2025-10-30"]),
...     "quantity": [1, 2, 1, 1],
...     "amount": [1000.0, 5000.0, 800.0, 3000.0],
... })
>>> rfm = rfm_table(tx, as_of="2025-11-01")
>>> rfm[["customer_id", "recency_days", "frequency", "monetary", "rfm_cell", "segment"]]
  customer_id  recency_days  frequency  monetary rfm_cell    segment
0           a            12          2    6000.0      244    At Risk
1           b           153          1     800.0      111       Lost
2           c             2          1    3000.0      412  Promising
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import narwhals.stable.v2 as nw
import pandas as pd

from .checks import require_columns, require_in
from .engine import (
    collect,
    day_number,
    day_number_of,
    derived,
    floor_div,
    id_values,
    is_missing,
    lit_datetime,
    numbered_ids,
    to_lazy,
)
from .periods import as_point

__all__ = [
    "DEFAULT_THRESHOLDS",
    "INACTIVE",
    "RFM_COLUMNS",
    "Segment",
    "SegmentMap",
    "load_segment_map",
    "migration_matrix",
    "rfm_grid",
    "rfm_table",
    "segment_migration",
    "segment_summary",
]

#: Output columns of :func:`rfm_table`, in order (the customer column first).
RFM_COLUMNS = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_cell",
    "segment",
]

#: Default business thresholds for ``scoring="thresholds"`` (four cut points per measure).
#: Recency: upper bounds in days; frequency: lower bounds in orders (bins 1, 2, 3-4, 5-9, 10+);
#: monetary: lower bounds in the currency (yen by default; set your own for other currencies).
DEFAULT_THRESHOLDS: dict[str, tuple[float, float, float, float]] = {
    "recency": (30, 60, 90, 180),
    "frequency": (2, 3, 5, 10),
    "monetary": (10_000, 30_000, 50_000, 100_000),
}

#: Pseudo-segment in migrations: not active in that window (new or returning when in
#: ``from_segment``; lapsed or churned when in ``to_segment``).
INACTIVE = "Inactive"

_LANGUAGES = ("en", "ja")
_SCORINGS = ("quantile", "thresholds")
_AXES = ("r", "f", "m")
_ALL_CELLS = tuple(f"{r}{f}{m}" for r in range(1, 6) for f in range(1, 6) for m in range(1, 6))


# --------------------------------------------------------------------------- segment maps


@dataclass(frozen=True)
class Segment:
    """One named segment of a :class:`SegmentMap`.

    Parameters
    ----------
    name : str
        Identifier, the code results use in every language (e.g. ``"Champions"``).
    labels : dict of str to str
        Display label per language as the map gives it (``"en"``, ``"ja"``);
        may be empty, and then reports use their catalogue's label for the
        name, or the name itself (:func:`crmtools.reporting.i18n.segment_labels`).
    cells : tuple of str
        The ``"rfm"`` score cells (e.g. ``"545"``) in this segment, sorted.
    description : dict of str to str
        One-line description per language (may be empty).
    first_purchase_in_window : bool, default=False
        Only customers whose first purchase ever is in the RFM window belong
        here (map key ``first_purchase: in_window``); the others of its cells
        go to ``otherwise``.
    otherwise : str or None, default=None
        The segment of the customers a ``first_purchase_in_window`` segment turns away.
    """

    name: str
    labels: Mapping[str, str]
    cells: tuple[str, ...]
    description: Mapping[str, str] = field(default_factory=dict)
    first_purchase_in_window: bool = False
    otherwise: str | None = None

    def label(self, language: str = "en") -> str:
        """The label in ``language`` (the name when none is given)."""
        return self.labels.get(language, self.name)


@dataclass(frozen=True)
class SegmentMap:
    """A validated RFM segment map: every one of the 125 cells in exactly one segment.

    Build it with :func:`load_segment_map`.
    """

    name: str
    segments: tuple[Segment, ...]

    @property
    def names(self) -> list[str]:
        """Segment names in map order."""
        return [s.name for s in self.segments]

    def segment_of(self, cell: str) -> str:
        """The segment name of one ``"rfm"`` cell such as ``"555"``."""
        for s in self.segments:
            if cell in s.cells:
                return s.name
        raise KeyError(f"{cell!r} is not an RFM cell; cells are three digits 1-5, e.g. '555'.")

    def labels(self, language: str = "en") -> dict[str, str]:
        """Segment name to label in ``language``, in map order."""
        _check_language(language)
        return {s.name: s.label(language) for s in self.segments}


def _check_language(language: str) -> None:
    if language not in _LANGUAGES:
        raise ValueError(f"language must be one of {_LANGUAGES}; got {language!r}.")


def _axis_range(value: Any, where: str) -> range:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        lo = hi = value
    elif (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        lo, hi = value
    else:
        raise ValueError(f"{where}: a score range must be a whole number 1-5 or a pair [low, high]; got {value!r}.")
    if not 1 <= lo <= hi <= 5:
        raise ValueError(f"{where}: a score range must satisfy 1 <= low <= high <= 5; got {value!r}.")
    return range(lo, hi + 1)


def _segment_cells(spec: Mapping, where: str) -> set[str]:
    cells: set[str] = set()
    rules = spec.get("rules", []) or []
    listed = spec.get("cells", []) or []
    if not rules and not listed:
        raise ValueError(f"{where}: a segment needs 'rules' (score ranges) or 'cells' (e.g. ['555']); got neither.")
    if not isinstance(rules, list):
        raise ValueError(f"{where}: 'rules' must be a list of score ranges; got {rules!r}.")
    for i, rule in enumerate(rules, start=1):
        rule_where = f"{where}, rule {i}"
        if not isinstance(rule, Mapping):
            raise ValueError(f"{rule_where}: a rule must be a mapping such as {{r: [4, 5], f: 5}}; got {rule!r}.")
        unknown = sorted(set(rule) - set(_AXES))
        if unknown:
            raise ValueError(f"{rule_where}: unknown score axis {unknown}; allowed: r, f, m.")
        ranges = {
            axis: _axis_range(rule[axis], f"{rule_where}, {axis}") if axis in rule else range(1, 6) for axis in _AXES
        }
        cells.update(f"{r}{f}{m}" for r in ranges["r"] for f in ranges["f"] for m in ranges["m"])
    if not isinstance(listed, list):
        raise ValueError(f"{where}: 'cells' must be a list such as ['555', '554']; got {listed!r}.")
    for cell in listed:
        text = str(cell)
        if text not in _ALL_CELLS:
            raise ValueError(f"{where}: cells are three digits 1-5 (R, F, M), e.g. '545'; got {cell!r}.")
        cells.add(text)
    return cells


def _short_list(items: list[str], limit: int = 12) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _parse_segment_map(raw: Any, source: str) -> SegmentMap:
    if not isinstance(raw, Mapping) or "segments" not in raw:
        raise ValueError(f"Segment map {source}: expected a mapping with a 'segments' list; got {type(raw).__name__}.")
    unknown = sorted(set(raw) - {"name", "description", "segments"})
    if unknown:
        raise ValueError(f"Segment map {source}: unknown key {unknown}; allowed: name, description, segments.")
    specs = raw["segments"]
    if not isinstance(specs, list) or not specs:
        raise ValueError(f"Segment map {source}: 'segments' must be a non-empty list; got {specs!r}.")
    segments: list[Segment] = []
    owners: dict[str, list[str]] = {cell: [] for cell in _ALL_CELLS}
    for i, spec in enumerate(specs, start=1):
        if not isinstance(spec, Mapping) or not isinstance(spec.get("name"), str) or not spec["name"].strip():
            raise ValueError(f"Segment map {source}, segment {i}: each segment needs a text 'name'; got {spec!r}.")
        name = spec["name"]
        where = f"Segment map {source}, segment {name!r}"
        unknown = sorted(set(spec) - {"name", "label", "description", "rules", "cells", "first_purchase", "otherwise"})
        if unknown:
            raise ValueError(
                f"{where}: unknown key {unknown}; allowed: name, label, description, rules, cells, first_purchase, "
                f"otherwise."
            )
        first_purchase = spec.get("first_purchase")
        if first_purchase not in (None, "in_window") or (first_purchase is None) != (spec.get("otherwise") is None):
            raise ValueError(
                f"{where}: 'first_purchase' must be 'in_window' and come with 'otherwise' (the segment of the "
                f"customers who had bought before the window); got first_purchase={first_purchase!r}, "
                f"otherwise={spec.get('otherwise')!r}."
            )
        if name in (s.name for s in segments):
            raise ValueError(f"{where}: segment names must be unique; {name!r} appears twice.")
        if name == INACTIVE:
            raise ValueError(
                f"{where}: {INACTIVE!r} is reserved for customers outside the window in migrations; "
                f"choose another name."
            )
        label = spec.get("label")
        labels = {lang: label for lang in _LANGUAGES} if isinstance(label, str) else dict(label or {})
        if not all(isinstance(v, str) for v in labels.values()) or set(labels) - set(_LANGUAGES):
            raise ValueError(f"{where}: 'label' must be text or a mapping {{en: ..., ja: ...}}; got {label!r}.")
        description = spec.get("description") or {}
        description = {lang: description for lang in _LANGUAGES} if isinstance(description, str) else dict(description)
        cells = _segment_cells(spec, where)
        for cell in cells:
            owners[cell].append(name)
        segments.append(
            Segment(name, labels, tuple(sorted(cells)), description, first_purchase is not None, spec.get("otherwise"))
        )
    overlaps = [f"{cell} ({' and '.join(names)})" for cell, names in owners.items() if len(names) > 1]
    gaps = [cell for cell, names in owners.items() if not names]
    problems = []
    if overlaps:
        problems.append(
            f"{len(overlaps)} cell{'s fall' if len(overlaps) > 1 else ' falls'} in more than one "
            f"segment, so the segment would depend on rule order: {_short_list(overlaps)}"
        )
    if gaps:
        problems.append(f"{len(gaps)} cell{'s fall' if len(gaps) > 1 else ' falls'} in no segment: {_short_list(gaps)}")
    names = [s.name for s in segments]
    for seg in segments:
        target = next((t for t in segments if t.name == seg.otherwise), None)
        if seg.otherwise is not None and (target is None or target.name == seg.name or target.first_purchase_in_window):
            problems.append(
                f"segment {seg.name!r}: 'otherwise' must name another segment without 'first_purchase' "
                f"(one of {names}); got {seg.otherwise!r}"
            )
    if problems:
        raise ValueError(
            f"Segment map {source} is invalid: every one of the 125 (R, F, M) score cells must fall "
            f"in exactly one segment; " + "; ".join(problems) + "."
        )
    return SegmentMap(str(raw.get("name", source)), tuple(segments))


def load_segment_map(source: str | Path | Mapping | SegmentMap | None = None) -> SegmentMap:
    """Load and validate an RFM segment map.

    Parameters
    ----------
    source : str, path, mapping, SegmentMap or None, default=None
        A YAML file, an already-parsed mapping (``{"segments": [...]}``), or
        None for the default map shipped with crmtools
        (``crmtools/data/segments_default.yaml``: 11 segments; their labels
        are in the report catalogue).

    Returns
    -------
    SegmentMap

    Raises
    ------
    ValueError
        If a cell falls in no segment or in more than one (the message names
        the cells and segments), or the map is malformed.

    Examples
    --------
    >>> smap = load_segment_map()
    >>> len(smap.segments), smap.segment_of("555"), smap.segment_of("111")
    (11, 'Champions', 'Lost')
    >>> load_segment_map({"segments": [{"name": "All", "rules": [{"r": [1, 5]}]},
    ...                                {"name": "Best", "rules": [{"r": 5, "f": 5, "m": 5}]}]})
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Segment map (mapping) is invalid: ... 1 cell falls in more than one segment, ...: 555 (All and Best).
    """
    if isinstance(source, SegmentMap):
        return source
    if source is None:
        text = resources.files("crmtools").joinpath("data", "segments_default.yaml").read_text(encoding="utf-8")
        return _parse_yaml(text, "segments_default.yaml")
    if isinstance(source, Mapping):
        return _parse_segment_map(source, "(mapping)")
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ValueError(
                f"Segment map file not found: {str(path)!r}; give a YAML file path, a mapping, or None "
                f"for the default map."
            )
        return _parse_yaml(path.read_text(encoding="utf-8"), str(path))
    raise TypeError(
        f"segment_map must be a YAML file path, a mapping, a SegmentMap or None; got {type(source).__name__}."
    )


def _parse_yaml(text: str, source: str) -> SegmentMap:
    import yaml

    try:
        raw = copy.deepcopy(_yaml_document(text))  # the caller's own copy: validation never sees another's edits
    except yaml.YAMLError as exc:
        raise ValueError(f"Segment map {source} is not valid YAML: {exc}") from None
    return _parse_segment_map(raw, source)


@functools.lru_cache(maxsize=8)
def _yaml_document(text: str):
    """The YAML document ``text`` holds, parsed once per text (a map is read for every RFM table: 31 ms each)."""
    import yaml

    return yaml.safe_load(text)


def _deprecated_labels(function: str, segment_map, language: str) -> dict[str, str]:
    """Segment labels for the deprecated ``language=`` of ``function``, with a warning.

    Analyses return segment names; the words are the reporting layer's, where
    these calls are forwarded (removed with the old argument).
    """
    from ._deprecation import warn_deprecated
    from .reporting.i18n import segment_labels as labels_in_report

    warn_deprecated(
        f"{function}(): language= is deprecated; results name segments by their segment-map names, "
        f"label them for a report with crmtools.reporting.i18n.segment_labels(segment_map, language).",
        stacklevel=4,
    )
    return labels_in_report(segment_map, language)


def segment_labels(
    segment_map: str | Path | Mapping | SegmentMap | None = None, *, language: str = "en"
) -> dict[str, str]:
    """Deprecated: use :func:`crmtools.reporting.i18n.segment_labels` (same arguments and result)."""
    from ._deprecation import warn_deprecated
    from .reporting.i18n import segment_labels as labels_in_report

    warn_deprecated(
        "crmtools.rfm.segment_labels() is deprecated; it is now "
        "crmtools.reporting.i18n.segment_labels(segment_map, language)."
    )
    return labels_in_report(segment_map, language)


# --------------------------------------------------------------------------- scoring


def _resolve_thresholds(thresholds: Mapping | None) -> dict[str, tuple[float, ...]]:
    out = dict(DEFAULT_THRESHOLDS)
    if thresholds is None:
        return out
    if not isinstance(thresholds, Mapping):
        raise TypeError(
            f"thresholds must be a mapping such as {{'frequency': [2, 3, 5, 10]}}; got {type(thresholds).__name__}."
        )
    unknown = sorted(set(thresholds) - set(DEFAULT_THRESHOLDS))
    if unknown:
        raise ValueError(f"Unknown RFM threshold {unknown}; allowed: recency, frequency, monetary.")
    for key, cuts in thresholds.items():
        ok = (
            isinstance(cuts, (list, tuple))
            and len(cuts) == 4
            and all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in cuts)
        )
        if not ok or any(b <= a for a, b in zip(cuts, cuts[1:])):
            raise ValueError(
                f"RFM thresholds for {key!r} must be four strictly increasing numbers, "
                f"e.g. {list(DEFAULT_THRESHOLDS[key])}; got {cuts!r}."
            )
        out[key] = tuple(cuts)
    return out


def _quantile_ranks(frame: nw.LazyFrame) -> nw.LazyFrame:
    # rank "min" - 1 = number of strictly worse customers (low recency is good).
    return frame.with_columns(
        _r_worse=nw.col("recency_days").rank(method="min", descending=True).cast(nw.Int64) - 1,
        _f_worse=nw.col("frequency").rank(method="min").cast(nw.Int64) - 1,
        _m_worse=nw.col("monetary").rank(method="min").cast(nw.Int64) - 1,
        _n=nw.len().cast(nw.Int64),
    )


def _quantile_score(worse: str) -> nw.Expr:
    # 1 + floor(5 * (number of strictly worse customers) / n)
    return 1 + floor_div(nw.col(worse) * 5, nw.col("_n"))


def _threshold_score(column: str, cuts: tuple[float, ...], *, lower_is_better: bool) -> nw.Expr:
    col = nw.col(column)
    hits = [(col <= c) if lower_is_better else (col >= c) for c in cuts]
    total = nw.lit(1, nw.Int64)
    for hit in hits:
        total = total + hit.cast(nw.Int64)
    return total


def _segment_expr(cell: nw.Expr, smap: SegmentMap) -> nw.Expr:
    # One branch per segment over the integer cell code (r*100 + f*10 + m). Every cell is in
    # exactly one segment, so the branch order does not matter. (A 125-entry replace_strict is
    # no faster in polars and builds a map per row in DuckDB.)
    expr = None
    for seg in smap.segments:
        condition = cell.is_in([int(code) for code in seg.cells])
        value = nw.lit(seg.name, nw.String)
        expr = nw.when(condition).then(value) if expr is None else expr.when(condition).then(value)
    return expr


def _check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number of days; got {value!r}.")
    return value


def rfm_table(
    transactions: Any,
    *,
    as_of: Any,
    lookback_days: int = 365,
    scoring: str = "quantile",
    thresholds: Mapping | None = None,
    segment_map: str | Path | Mapping | SegmentMap | None = None,
    language: str | None = None,
    customer_col: str = "customer_id",
    order_col: str = "order_id",
    date_col: str = "order_datetime",
    amount_col: str = "amount",
    quantity_col: str = "quantity",
) -> pd.DataFrame:
    """One row per customer with recency, frequency, monetary value, scores and segment.

    Parameters
    ----------
    transactions : DataFrame-like
        Canonical transactions (pandas, polars, DuckDB or Spark; see
        :mod:`crmtools.engine`). Not modified.
    as_of : date, timestamp or Period
        The analysis instant (exclusive): only lines strictly before it count.
        A :class:`~crmtools.periods.Period` means its exclusive end, so
        ``as_of=parse_period("2025-10")`` equals ``as_of="2025-11-01"``; month
        text such as ``"2025-10"`` is ambiguous and rejected.
    lookback_days : int, default=365
        Length of the window ``[as_of - lookback_days, as_of)``.
    scoring : {"quantile", "thresholds"}, default="quantile"
        How values become 1-5 scores (see the module docstring).
    thresholds : mapping, optional
        Cut points for ``scoring="thresholds"``, keys ``recency``,
        ``frequency``, ``monetary`` (four increasing numbers each); missing
        keys take :data:`DEFAULT_THRESHOLDS`. Validated but unused with
        quantile scoring.
    segment_map : path, mapping or SegmentMap, optional
        Segment map (:func:`load_segment_map`); default the built-in map.
    language : {"en", "ja"} or None, default=None
        Deprecated: adds a ``segment_label`` column in that language. Label
        segments in the report instead
        (:func:`crmtools.reporting.i18n.segment_labels`).
    customer_col, order_col, date_col, amount_col, quantity_col : str
        Column names in ``transactions``.

    Returns
    -------
    pandas.DataFrame
        Sorted by customer, columns: ``customer_id`` (named ``customer_col``),
        ``recency_days`` (int), ``frequency`` (int), ``monetary`` (float),
        ``r_score``, ``f_score``, ``m_score`` (int 1-5), ``rfm_cell`` (str,
        e.g. ``"545"``), ``segment`` (segment name, see :data:`RFM_COLUMNS`).
        No purchases in the window gives an empty frame with these columns.

    Raises
    ------
    ValueError
        If a column is missing, an argument is invalid, or amounts are missing
        in the window (fill or drop them first; :mod:`crmtools.data` reports them).
    TypeError
        If a column has the wrong type.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "customer_id": ["a", "a", "b"],
    ...                    "order_datetime": pd.to_datetime(["2025-10-01", "2025-10-15", "2025-08-01"]),
    ...                    "quantity": [1, 1, 3], "amount": [2000.0, 9000.0, 45000.0]})
    >>> rfm_table(tx, as_of="2025-11-01", scoring="thresholds")[["customer_id", "rfm_cell", "segment"]]
      customer_id rfm_cell             segment
    0           a      522  Potential Loyalist
    1           b      213         Hibernating
    """
    as_of_ts = as_point(as_of)
    lookback_days = _check_positive_int(lookback_days, "lookback_days")
    if scoring not in _SCORINGS:
        raise ValueError(f"scoring must be one of {_SCORINGS}; got {scoring!r}.")
    cuts = _resolve_thresholds(thresholds)
    smap = load_segment_map(segment_map)
    labels = None if language is None else _deprecated_labels("rfm_table", smap, language)
    columns = (customer_col, order_col, date_col, amount_col, quantity_col)
    compute = functools.partial(
        _rfm_frame,
        as_of_ts=as_of_ts,
        lookback_days=lookback_days,
        scoring=scoring,
        cuts=cuts,
        smap=smap,
        columns=columns,
    )
    if isinstance(transactions, pd.DataFrame) and segment_map is None:
        # The same table asked again for the same frame (a page's target lists and its growth ladder both rank the
        # period's customers): computed once while the frame's values stay where they are. A segment map named
        # by a file is read afresh each time, so only the built-in map is remembered.
        key = f"rfm.rfm_table:{as_of_ts.value}:{lookback_days}:{scoring}:{cuts!r}:{columns!r}"
        out = derived(transactions, key, compute).copy(deep=False)  # a caller's new column stays its own
    else:
        out = compute(transactions)
    if labels is not None:
        out["segment_label"] = out["segment"].map(labels)
    return _typed(out, _RFM_DTYPES)


def _rfm_frame(transactions, *, as_of_ts, lookback_days, scoring, cuts, smap, columns) -> pd.DataFrame:
    """:func:`rfm_table`'s computation once its arguments are checked (``segment_label`` and types aside)."""
    start = as_of_ts - pd.Timedelta(days=lookback_days)
    c, o, d, a, q = columns
    numbered = numbered_ids(transactions, columns, ids=(c, o))  # text ids from files: grouped and sorted as numbers
    if numbered is not None:
        transactions, ids = numbered
    lf = to_lazy(
        transactions,
        columns=[c, o, d, a, q],
        name="transactions",
        kinds={c: "id", o: "id", d: "datetime", a: "numeric", q: "numeric"},
        where=[~nw.col(c).is_null(), nw.col(d) >= lit_datetime(start), nw.col(d) < lit_datetime(as_of_ts)],
    )

    # Two group-bys (order, then customer) are faster than a distinct count per customer in
    # every engine measured, and give "orders with a purchase line" directly: an order's
    # last purchase time is null when all its lines are returns.
    orders = lf.group_by(c, o).agg(
        _bought_at=nw.when(nw.col(q) > 0).then(nw.col(d)).max(),
        _amount=nw.col(a).sum(),
        _missing=is_missing(lf, a).cast(nw.Int64).sum(),
    )
    per_customer = (
        orders.group_by(c)
        .agg(
            _last=nw.col("_bought_at").max(),
            frequency=nw.col("_bought_at").count().cast(nw.Int64),
            monetary=nw.col("_amount").sum().round(2).cast(nw.Float64),
            _missing=nw.col("_missing").sum(),
        )
        .filter(~nw.col("_last").is_null())
        .with_columns(recency_days=(day_number_of(as_of_ts) - day_number(nw.col("_last"))).cast(nw.Int64))
    )
    if scoring == "quantile":
        per_customer = _quantile_ranks(per_customer)
        scores = {
            "r_score": _quantile_score("_r_worse"),
            "f_score": _quantile_score("_f_worse"),
            "m_score": _quantile_score("_m_worse"),
        }
    else:
        scores = {
            "r_score": _threshold_score("recency_days", cuts["recency"], lower_is_better=True),
            "f_score": _threshold_score("frequency", cuts["frequency"], lower_is_better=False),
            "m_score": _threshold_score("monetary", cuts["monetary"], lower_is_better=False),
        }
    cell = nw.col("_cell")
    segment = _segment_expr(cell, smap)
    restricted = [seg for seg in smap.segments if seg.first_purchase_in_window]
    if restricted:  # "New" means a first purchase ever in the window: who bought before it is turned away
        earlier = (
            to_lazy(
                transactions,
                columns=[c, d, q],
                name="transactions",
                kinds={c: "id", d: "datetime", q: "numeric"},
                where=[~nw.col(c).is_null(), nw.col(q) > 0, nw.col(d) < lit_datetime(start)],
            )
            .group_by(c)
            .agg(_earlier=nw.len())
        )
        per_customer = per_customer.join(earlier, on=c, how="left")
        seen_before = ~nw.col("_earlier").is_null()
        for seg in restricted:
            segment = (
                nw.when((segment == seg.name) & seen_before).then(nw.lit(seg.otherwise, nw.String)).otherwise(segment)
            )
    query = (
        per_customer.with_columns(**scores)
        .with_columns(_cell=nw.col("r_score") * 100 + nw.col("f_score") * 10 + nw.col("m_score"))
        .with_columns(
            rfm_cell=cell.cast(nw.String),
            segment=segment,
        )
        .select(
            c,
            "recency_days",
            "frequency",
            "monetary",
            "r_score",
            "f_score",
            "m_score",
            "rfm_cell",
            "segment",
            "_missing",
        )
    )
    out = collect(query, sort_by=c)
    if numbered is not None and c in ids:
        out[c] = id_values(out[c], ids[c])
    _raise_on_missing_amounts(out.pop("_missing"), a, "the RFM window")
    return out


_RFM_DTYPES = {
    "recency_days": "int64",
    "frequency": "int64",
    "monetary": "float64",
    "r_score": "int64",
    "f_score": "int64",
    "m_score": "int64",
    "rfm_cell": "str",
    "segment": "str",
    "segment_label": "str",
}


def _raise_on_missing_amounts(counts: pd.Series, amount_col: str, where: str) -> None:
    missing = int(counts.sum()) if len(counts) else 0
    if missing:
        raise ValueError(
            f"{missing} line{'s' if missing > 1 else ''} in {where} {'have' if missing > 1 else 'has'} no "
            f"{amount_col!r}: amounts must be present to compute revenue. Drop or fill those lines first "
            f"(crmtools.data.load_dataset reports them)."
        )


def _typed(frame: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    return frame.astype({k: v for k, v in dtypes.items() if k in frame.columns})


# --------------------------------------------------------------------------- summaries


def rfm_grid(rfm: Any, *, rows: str = "r_score", columns: str = "f_score") -> pd.DataFrame:
    """Customers and revenue in each cell of two RFM scores (for a heatmap).

    Parameters
    ----------
    rfm : DataFrame-like
        Output of :func:`rfm_table`.
    rows, columns : {"r_score", "f_score", "m_score"}, default="r_score", "f_score"
        The two scores.

    Returns
    -------
    pandas.DataFrame
        All 25 combinations, columns: ``rows`` score, ``columns`` score,
        ``customers`` (int), ``share`` (of all customers), ``revenue``
        (sum of monetary), ``mean_monetary`` (NaN where no customers).

    Examples
    --------
    >>> import pandas as pd
    >>> rfm = pd.DataFrame({"r_score": [5, 5, 1], "f_score": [1, 1, 2], "monetary": [10.0, 30.0, 5.0]})
    >>> g = rfm_grid(rfm)
    >>> g[g.customers > 0]
        r_score  f_score  customers     share  revenue  mean_monetary
    1         1        2          1  0.333333      5.0            5.0
    20        5        1          2  0.666667     40.0           20.0
    """
    allowed = ("r_score", "f_score", "m_score")
    if rows not in allowed or columns not in allowed or rows == columns:
        raise ValueError(f"rows and columns must be two different scores of {allowed}; got {rows!r}, {columns!r}.")
    lf = to_lazy(rfm, columns=[rows, columns, "monetary"], name="rfm")
    counts = collect(lf.group_by(rows, columns).agg(customers=nw.len(), revenue=nw.col("monetary").sum().round(2)))
    grid = pd.MultiIndex.from_product([range(1, 6), range(1, 6)], names=[rows, columns]).to_frame(index=False)
    out = grid.merge(counts.astype({rows: "int64", columns: "int64"}), on=[rows, columns], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    total = out["customers"].sum()
    out["share"] = out["customers"] / total if total else 0.0
    out["mean_monetary"] = out["revenue"] / out["customers"].where(out["customers"] > 0)
    return out[[rows, columns, "customers", "share", "revenue", "mean_monetary"]]


def segment_summary(
    rfm: Any, *, segment_map: str | Path | Mapping | SegmentMap | None = None, language: str | None = None
) -> pd.DataFrame:
    """Customers, revenue, average order value and recency per segment.

    Parameters
    ----------
    rfm : DataFrame-like
        Output of :func:`rfm_table` (columns ``segment``, ``recency_days``,
        ``frequency``, ``monetary``).
    segment_map : path, mapping or SegmentMap, optional
        The map the segments came from (their order); default built-in.
    language : {"en", "ja"} or None, default=None
        Deprecated: adds a ``segment_label`` column (second) in that
        language. Label segments in the report instead
        (:func:`crmtools.reporting.i18n.segment_labels`).

    Returns
    -------
    pandas.DataFrame
        One row per segment that has customers, in segment-map order, columns:
        ``segment``, ``customers`` (int), ``share`` (of
        customers), ``revenue`` (sum of monetary), ``revenue_share``,
        ``average_order_value`` (revenue / orders), ``mean_recency_days``,
        ``mean_frequency``. Empty input gives an empty frame.

    Raises
    ------
    ValueError
        If a segment is not in the segment map.

    Examples
    --------
    >>> import pandas as pd
    >>> rfm = pd.DataFrame({"segment": ["Lost", "Champions", "Champions"], "recency_days": [300, 3, 9],
    ...                     "frequency": [1, 6, 4], "monetary": [1000.0, 60000.0, 40000.0]})
    >>> segment_summary(rfm)[["segment", "customers", "revenue", "average_order_value", "mean_recency_days"]]
         segment  customers   revenue  average_order_value  mean_recency_days
    0  Champions          2  100000.0              10000.0                6.0
    1       Lost          1    1000.0               1000.0              300.0
    """
    smap = load_segment_map(segment_map)
    labels = None if language is None else _deprecated_labels("segment_summary", smap, language)
    lf = to_lazy(rfm, columns=["segment", "recency_days", "frequency", "monetary"], name="rfm")
    grouped = collect(
        lf.group_by("segment").agg(
            customers=nw.len(),
            revenue=nw.col("monetary").sum().round(2),
            _orders=nw.col("frequency").sum(),
            mean_recency_days=nw.col("recency_days").mean(),
            mean_frequency=nw.col("frequency").mean(),
        )
    )
    unknown = sorted(set(grouped["segment"]) - set(smap.names))
    if unknown:
        raise ValueError(
            f"rfm has segment{'s' if len(unknown) > 1 else ''} {unknown} that the segment map "
            f"{smap.name!r} does not define; its segments are {smap.names}."
        )
    order = {name: i for i, name in enumerate(smap.names)}
    grouped = grouped.sort_values("segment", key=lambda s: s.map(order)).reset_index(drop=True)
    customers = grouped["customers"].astype("int64")
    revenue = grouped["revenue"].astype("float64")
    total_revenue = revenue.sum()
    out = pd.DataFrame(
        {
            "segment": grouped["segment"].astype("str"),
            "customers": customers,
            "share": customers / customers.sum() if len(grouped) else pd.Series(dtype="float64"),
            "revenue": revenue,
            "revenue_share": revenue / total_revenue if total_revenue else float("nan"),
            "average_order_value": revenue / grouped["_orders"].astype("float64"),
            "mean_recency_days": grouped["mean_recency_days"].astype("float64"),
            "mean_frequency": grouped["mean_frequency"].astype("float64"),
        }
    )
    if labels is not None:
        out.insert(1, "segment_label", grouped["segment"].map(labels).astype("str"))
    return out


def segment_migration(
    before: Any,
    after: Any,
    *,
    customer_col: str = "customer_id",
    segment_col: str = "segment",
    segment_map: str | Path | Mapping | SegmentMap | None = None,
) -> pd.DataFrame:
    """How customers moved between segments from one RFM table to the next.

    Customers missing from ``before`` come from the :data:`INACTIVE`
    pseudo-segment (new, or returning after a gap longer than the window);
    customers missing from ``after`` go to it (lapsed or churned).

    Parameters
    ----------
    before, after : DataFrame-like
        Two outputs of :func:`rfm_table`, e.g. as of the end of last month
        and of this month.
    customer_col : str, default="customer_id"
        Customer column of both tables.
    segment_col : str, default="segment"
        Segment column of both tables.
    segment_map : path, mapping or SegmentMap, optional
        Gives the row order; default built-in.

    Returns
    -------
    pandas.DataFrame
        One row per observed (from, to) pair, ordered by segment map with
        :data:`INACTIVE` last, columns: ``from_segment``, ``to_segment``,
        ``customers`` (int), ``share_of_from`` (share of the from-segment's
        customers), ``share_of_total``. Pivot with :func:`migration_matrix`.

    Examples
    --------
    >>> import pandas as pd
    >>> before = pd.DataFrame({"customer_id": ["a", "b", "c"], "segment": ["Champions", "Champions", "Lost"]})
    >>> after = pd.DataFrame({"customer_id": ["a", "b", "d"], "segment": ["Champions", "At Risk", "New"]})
    >>> segment_migration(before, after)
      from_segment to_segment  customers  share_of_from  share_of_total
    0    Champions  Champions          1            0.5            0.25
    1    Champions    At Risk          1            0.5            0.25
    2         Lost   Inactive          1            1.0            0.25
    3     Inactive        New          1            1.0            0.25
    """
    smap = load_segment_map(segment_map)
    left = to_lazy(before, columns=[customer_col, segment_col], name="before")
    right = to_lazy(after, columns=[customer_col, segment_col], name="after")
    if left.implementation != right.implementation:
        raise TypeError(
            f"before and after must be the same kind of frame; got {left.implementation.name.lower()} "
            f"and {right.implementation.name.lower()}."
        )
    left = left.select(nw.col(customer_col).alias("_c"), nw.col(segment_col).alias("from_segment"))
    right = right.select(nw.col(customer_col).alias("_c_right"), nw.col(segment_col).alias("to_segment"))
    joined = left.join(right, how="full", left_on="_c", right_on="_c_right")
    counts = collect(
        joined.with_columns(nw.col("from_segment").fill_null(INACTIVE), nw.col("to_segment").fill_null(INACTIVE))
        .group_by("from_segment", "to_segment")
        .agg(customers=nw.len())
    )
    order = {name: i for i, name in enumerate([*smap.names, INACTIVE])}
    unknown = sorted((set(counts["from_segment"]) | set(counts["to_segment"])) - set(order))
    if unknown:
        raise ValueError(f"Segments {unknown} are not in the segment map {smap.name!r}; its segments are {smap.names}.")
    counts = counts.assign(_f=counts["from_segment"].map(order), _t=counts["to_segment"].map(order))
    counts = counts.sort_values(["_f", "_t"]).reset_index(drop=True)
    customers = counts["customers"].astype("int64")
    from_totals = customers.groupby(counts["from_segment"]).transform("sum")
    total = customers.sum()
    return pd.DataFrame(
        {
            "from_segment": counts["from_segment"].astype("str"),
            "to_segment": counts["to_segment"].astype("str"),
            "customers": customers,
            "share_of_from": (customers / from_totals).astype("float64"),
            "share_of_total": (customers / total).astype("float64") if total else pd.Series(dtype="float64"),
        }
    )


def migration_matrix(
    migration: pd.DataFrame,
    *,
    values: str = "customers",
    segment_map: str | Path | Mapping | SegmentMap | None = None,
    language: str | None = None,
) -> pd.DataFrame:
    """Pivot :func:`segment_migration` into a from-by-to matrix.

    Parameters
    ----------
    migration : pandas.DataFrame
        Output of :func:`segment_migration`.
    values : {"customers", "share_of_from", "share_of_total"}, default="customers"
        Cell values; missing pairs are 0.
    segment_map : path, mapping or SegmentMap, optional
        Order of rows and columns; default built-in.
    language : {"en", "ja"} or None, default=None
        Deprecated: replace segment names by labels in that language. Rename
        with :func:`crmtools.reporting.i18n.segment_labels` instead.

    Returns
    -------
    pandas.DataFrame
        Rows ``from_segment`` and columns ``to_segment``, in segment-map order
        with :data:`INACTIVE` last; only segments that occur on either side.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"from_segment": ["Champions", "Inactive"], "to_segment": ["Loyal", "New"],
    ...                   "customers": [3, 2]})
    >>> mm = migration_matrix(m)
    >>> list(mm.index), list(mm.columns)
    (['Champions', 'Loyal', 'New', 'Inactive'], ['Champions', 'Loyal', 'New', 'Inactive'])
    >>> mm.loc["Champions"].tolist(), mm.loc["Inactive"].tolist()
    ([0, 3, 0, 0], [0, 0, 2, 0])
    """
    require_in(values, ("customers", "share_of_from", "share_of_total"), name="values")
    require_columns(
        migration,
        ["from_segment", "to_segment", values],
        name="migration",
        hint="Pass the output of segment_migration.",
    )
    smap = load_segment_map(segment_map)
    present = set(migration["from_segment"]) | set(migration["to_segment"])
    order = [s for s in [*smap.names, INACTIVE] if s in present]
    wide = migration.pivot_table(index="from_segment", columns="to_segment", values=values, aggfunc="sum", fill_value=0)
    wide = wide.reindex(index=order, columns=order, fill_value=0)
    wide.index.name, wide.columns.name = "from_segment", "to_segment"
    if language is not None:
        labels = _deprecated_labels("migration_matrix", smap, language)
        wide = wide.rename(index=labels, columns=labels)
    return wide
