"""Frequent itemsets on Apache Spark, with Spark's own distributed FP-growth.

:func:`frequent_itemsets` is the Spark sibling of
:func:`crmtools.basket.frequent_itemsets`: the same baskets, the same
arguments and the same result table, so
:func:`crmtools.basket.association_rules`, :func:`~crmtools.basket.rule_drift`
and the recommendation functions work on it unchanged. Baskets are built and
mined in Spark (``pyspark.ml.fpm.FPGrowth``); only the frequent itemsets and
the item labels come back to the driver.

Definitions (as in :mod:`crmtools.basket`)
------------------------------------------
- A **basket** is an order (``basket="order"``), or everything one customer
  bought (``basket="customer"``), optionally per calendar month, quarter or
  year (``basket_freq="M"``, ``"Q"``, ``"Y"``). Lines without a basket key or an
  item are left out.
- An **item** is a product (``item="product"``) or a category
  (``item="category"``), shown by its readable label: the most common
  ``product_name`` of the product (ties: the label appearing first in the
  data), the id where there is none; two items with the same label show as
  ``"label (id)"``.
- Lines with a quantity of zero or less (returns, cancellations) are left out
  unless ``include_returns=True``; an item bought on several lines of a basket
  counts once.
- ``min_support`` is a share of baskets (float, ``count / n >= min_support``)
  or a number of baskets (int), turned into a count exactly as the local
  engine does; Spark is asked for that count and nothing below it.

Order of rows: by length, then by descending support, then by the sorted item
labels (the local engine orders ties by its own internal item order instead,
so compare the two after sorting).

Spark's FP-growth has no length limit: ``max_len`` is applied to its result,
so a very low ``min_support`` on long baskets can still produce many itemsets
inside Spark.

Examples
--------
Needs Java and pyspark, so not run here::

    from crmtools.spark import spark_session, read_spark_table
    from crmtools import basket, basket_spark

    spark = spark_session()
    tx = read_spark_table("data/sample/transactions.parquet", session=spark)
    itemsets = basket_spark.frequent_itemsets(tx, min_support=0.003, max_len=3)
    rules = basket.association_rules(itemsets, min_threshold=0.1)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._deprecation import deprecated_arguments, warn_deprecated
from ._itemsets import min_count as _min_count
from .basket import ITEMSET_COLUMNS
from .checks import message, require_columns, require_flag, require_in, require_range

__all__ = ["BASKET_FREQS", "frequent_itemsets"]

#: Values of ``basket_freq`` (with ``basket="customer"``): calendar month, quarter, year.
BASKET_FREQS = ("M", "Q", "Y")


def __getattr__(name: str):
    if name == "PERIODS":  # the old name of BASKET_FREQS
        warn_deprecated("crmtools.basket_spark.PERIODS is deprecated; it is now called BASKET_FREQS.", stacklevel=3)
        return BASKET_FREQS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _empty_frame(n_baskets: int, min_count: int, min_support, excluded: dict) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "support": pd.Series(dtype="float64"),
            "itemsets": pd.Series(dtype=object),
            "count": pd.Series(dtype="int64"),
            "length": pd.Series(dtype="int64"),
        }
    )
    frame.attrs.update({"n_baskets": int(n_baskets), "min_count": int(min_count), "min_support": min_support})
    frame.attrs.update(excluded)
    return frame


def _as_spark(data: Any, session: Any):
    try:
        from pyspark.sql import DataFrame as SparkDataFrame
    except ImportError:  # pragma: no cover - the module is only useful with pyspark
        raise ImportError("Spark FP-growth needs pyspark: install it with `pip install 'crmtools[spark]'`.") from None
    if isinstance(data, SparkDataFrame):
        return data
    # A Spark Connect DataFrame is another class; importing its module without the Connect client installed
    # exits the interpreter, so it is recognised by its module instead.
    if type(data).__module__.startswith("pyspark.sql.connect") and type(data).__name__ == "DataFrame":
        return data
    if isinstance(data, pd.DataFrame):
        if session is None:
            raise ValueError(
                message(
                    "a pandas DataFrame needs a SparkSession to be mined in Spark",
                    allowed="session=crmtools.spark.spark_session()",
                    received="session=None",
                    hint="For data that fits in memory crmtools.basket.frequent_itemsets is faster.",
                )
            )
        from .spark import to_spark

        return to_spark(data, session)
    raise TypeError(
        message(
            "data has the wrong type",
            allowed="a Spark DataFrame or a pandas DataFrame of transactions",
            received=type(data).__name__,
        )
    )


def _item_labels(lines, first_seen, item_col: str, label_col: str | None) -> pd.DataFrame:
    """Item id -> label (pandas), over the kept lines, with the local engine's rules."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    items = lines.select(item_col).distinct()
    if label_col is not None:
        named = (
            lines.filter(F.col(label_col).isNotNull())
            .groupBy(item_col, label_col)
            .agg(F.count(F.lit(1)).alias("_lines"))
            .join(first_seen, on=label_col, how="left")
        )
        best = Window.partitionBy(item_col).orderBy(F.col("_lines").desc(), F.col("_first").asc())
        top = (
            named.withColumn("_rank", F.row_number().over(best))
            .filter(F.col("_rank") == 1)
            .select(item_col, F.col(label_col).cast("string").alias("_label"))
        )
        items = items.join(top, on=item_col, how="left")
    else:
        items = items.withColumn("_label", F.lit(None).cast("string"))
    table = items.toArrow().to_pandas() if hasattr(items, "toArrow") else items.toPandas()
    ids = table[item_col].astype(object)
    labels = table["_label"].astype(object).where(table["_label"].notna(), ids)
    clash = labels.duplicated(keep=False).to_numpy()
    labels = labels.to_numpy(dtype=object, copy=True)
    labels[clash] = [f"{label} ({ident})" for label, ident in zip(labels[clash], ids.to_numpy()[clash])]
    return pd.DataFrame({"item": ids, "label": labels})


@deprecated_arguments(renamed={"period": "basket_freq"})
def frequent_itemsets(
    data: Any,
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
    session: Any = None,
    num_partitions: int | None = None,
    include_guests: bool = True,
    max_basket_items: int | None = None,
) -> pd.DataFrame:
    """All itemsets bought together in at least ``min_support`` of the baskets, mined in Spark.

    Parameters
    ----------
    data : pyspark.sql.DataFrame or pandas.DataFrame
        Canonical transactions, one row per order line. A pandas frame is
        sent to Spark first (needs ``session``).
    min_support : float or int, default=0.01
        Smallest support: a share of baskets in (0, 1] (float) or a number of
        baskets (int), as in :func:`crmtools.basket.frequent_itemsets`.
    max_len : int or None, default=None
        Longest itemset to return; None for no limit.
    basket : {"order", "customer"}, default="order"
        What a basket is.
    item : {"product", "category"}, default="product"
        What an item is.
    basket_freq : {"M", "Q", "Y"} or None, default=None
        With ``basket="customer"``: one basket per customer and calendar
        month, quarter or year of ``date_col``.
    include_returns : bool, default=False
        Keep lines with a quantity of zero or less.
    order_col, customer_col, date_col, quantity_col : str
        Column names, canonical by default.
    item_col : str or None, default=None
        Column identifying an item; ``"product_id"`` for products,
        ``"category"`` for categories.
    label_col : str or None, default=None
        Column of readable labels; ``"product_name"`` for products when present.
    session : pyspark.sql.SparkSession, optional
        Needed only when ``data`` is a pandas frame.
    num_partitions : int or None, default=None
        Partitions FP-growth uses (Spark's ``numPartitions``); None keeps the
        input's partitioning.
    include_guests, max_basket_items : bool, int or None
        Guest orders and bulk orders, as in
        :func:`crmtools.basket.frequent_itemsets` (the same ``attrs`` count
        what is left out). Distinct customers per itemset
        (``count_customers``) are not counted in Spark: use the local engine
        (:func:`crmtools.basket.customer_rules`) for the report's rules.

    Returns
    -------
    pandas.DataFrame
        The layout of :func:`crmtools.basket.frequent_itemsets`: one row per
        frequent itemset, ordered by length, descending support, then item
        labels, columns ``support`` (float), ``itemsets`` (frozenset of
        labels), ``count`` (int), ``length`` (int); ``attrs["n_baskets"]``,
        ``attrs["min_count"]`` and ``attrs["min_support"]`` as there. No
        baskets, or a threshold above every support, gives an empty frame with
        these columns.

    Raises
    ------
    ValueError
        When a column is missing or a parameter is out of range.
    TypeError
        When ``data`` is not a Spark or pandas DataFrame, or a parameter has
        the wrong type.

    Examples
    --------
    >>> frequent_itemsets([["tea", "cake"]])  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    TypeError: data has the wrong type; allowed: a Spark DataFrame or a pandas DataFrame of transactions;
    received: list.
    """
    require_range(max_len, name="max_len", low=1, integer=True, allow_none=True)
    require_range(num_partitions, name="num_partitions", low=1, integer=True, allow_none=True)
    require_in(basket, ("order", "customer"), name="basket")
    require_in(item, ("product", "category"), name="item")
    require_flag(include_returns, name="include_returns")
    require_flag(include_guests, name="include_guests")
    require_range(max_basket_items, name="max_basket_items", low=1, integer=True, allow_none=True)
    if basket_freq is not None and basket != "customer":
        raise ValueError(
            message(
                f"basket_freq={basket_freq!r} needs basket='customer'",
                allowed="basket_freq=None, or basket='customer' for one basket per customer and month, quarter or year",
                received=f"basket={basket!r}",
            )
        )
    if basket_freq is not None:
        require_in(basket_freq, BASKET_FREQS, name="basket_freq")
    _min_count(min_support, 1)  # type and range of min_support, before any Spark work
    frame = _as_spark(data, session)

    from pyspark.ml.fpm import FPGrowth
    from pyspark.sql import functions as F

    if item_col is None:
        item_col = "product_id" if item == "product" else "category"
    if label_col is None and item == "product" and "product_name" in frame.columns:
        label_col = "product_name"
    key_col = order_col if basket == "order" else customer_col
    needed = {item_col: "the item", key_col: "the basket"}
    if not include_returns:
        needed[quantity_col] = "quantity, to leave out returns (or pass include_returns=True)"
    if basket_freq is not None:
        needed[date_col] = "order date"
    if label_col is not None:
        needed[label_col] = "item label"
    if not include_guests:
        needed[customer_col] = "customer id, to leave out guest orders"
    require_columns(frame, needed, name="transactions", hint="Name your own columns with the *_col= arguments.")

    first_seen = None
    if label_col is not None:
        # Where each label first appears in the data (row order), for the local engine's tie rule.
        first_seen = (
            frame.select(label_col, F.monotonically_increasing_id().alias("_row"))
            .filter(F.col(label_col).isNotNull())
            .groupBy(label_col)
            .agg(F.min("_row").alias("_first"))
        )
    keep = F.col(item_col).isNotNull() & F.col(key_col).isNotNull()
    if not include_returns:
        keep = keep & F.coalesce(F.col(quantity_col) > 0, F.lit(False))
    keys = [key_col]
    if basket_freq is not None:
        year = F.year(F.col(date_col))
        part = {"M": year * 12 + F.month(F.col(date_col)), "Q": year * 4 + F.quarter(F.col(date_col)), "Y": year}[
            basket_freq
        ]
        frame = frame.withColumn("_period", part)
        keep = keep & F.col("_period").isNotNull()
        keys.append("_period")
    excluded = {"excluded_guest_baskets": 0, "excluded_bulk_baskets": 0, "excluded_bulk_lines": 0}
    if not include_guests:
        guest = F.col(customer_col).isNull()
        if basket == "order":
            excluded["excluded_guest_baskets"] = frame.filter(keep & guest).select(key_col).distinct().count()
        keep = keep & ~guest
    lines = frame.filter(keep).select(*keys, item_col, *([label_col] if label_col is not None else []))

    baskets = lines.groupBy(*keys).agg(F.collect_set(item_col).alias("items")).select("items")
    if max_basket_items is not None:
        bulk = F.size("items") > max_basket_items
        row = baskets.filter(bulk).agg(F.count(F.lit(1)).alias("n"), F.sum(F.size("items")).alias("lines")).first()
        excluded.update(excluded_bulk_baskets=int(row["n"] or 0), excluded_bulk_lines=int(row["lines"] or 0))
        baskets = baskets.filter(~bulk)
    excluded["max_basket_items"] = max_basket_items
    if num_partitions is not None:
        baskets = baskets.repartition(num_partitions)
    baskets = baskets.persist()
    try:
        n_baskets = baskets.count()
        min_count = _min_count(min_support, n_baskets)
        if n_baskets == 0:
            return _empty_frame(n_baskets, min_count, min_support, excluded)
        # Spark keeps itemsets with freq >= ceil(minSupport * n); half a basket below min_count makes that
        # ceiling exactly min_count whatever the rounding, and the filter below states it again.
        fp = FPGrowth(itemsCol="items", minSupport=(min_count - 0.5) / n_baskets, minConfidence=1.0)
        if num_partitions is not None:
            fp = fp.setNumPartitions(num_partitions)
        found = fp.fit(baskets).freqItemsets.filter(F.col("freq") >= min_count)
        if max_len is not None:
            found = found.filter(F.size("items") <= max_len)
        result = found.toArrow().to_pandas() if hasattr(found, "toArrow") else found.toPandas()
        if result.empty:
            return _empty_frame(n_baskets, min_count, min_support, excluded)
        labels = _item_labels(lines, first_seen, item_col, label_col)
    finally:
        baskets.unpersist()
    label_of = dict(zip(labels["item"], labels["label"]))
    sets = [frozenset(label_of[x] for x in items) for items in result["items"]]
    count = result["freq"].to_numpy(dtype=np.int64)
    length = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    order = sorted(range(len(sets)), key=lambda k: (length[k], -count[k], sorted(map(str, sets[k]))))
    itemsets = np.empty(len(sets), dtype=object)
    itemsets[:] = [sets[k] for k in order]
    count, length = count[order], length[order]
    out = pd.DataFrame(
        {"support": count / n_baskets, "itemsets": itemsets, "count": count, "length": length}, columns=ITEMSET_COLUMNS
    )
    out.attrs.update({"n_baskets": int(n_baskets), "min_count": int(min_count), "min_support": min_support})
    out.attrs.update(excluded)
    return out
