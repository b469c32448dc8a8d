"""Benchmark crmtools' RFM, decile and cohort analyses against hand-written DuckDB SQL, pandas and polars.

Run from the repository root (one command; about ten minutes on 2 cores)::

    .venv/bin/python benchmarks/bench_analytics.py                 # 5,000,000 lines, 500,000 customers
    .venv/bin/python benchmarks/bench_analytics.py --lines 500000 --customers 50000 --repeat 3 --memory-runs 1

The exit status is non-zero when the variants' results differ.

Data
    A fast vectorised numpy generator (seed 20240601, no Python loops; about
    5 s) makes ``--lines`` order lines for ``--customers`` customers over
    three years in the canonical transactions model: about 2.5 lines an
    order, heavy-tailed customer activity (gamma weights), log-normal prices,
    3% return lines, 1% guest orders without a customer id, text ids
    (``C0000123``, ``O000004567``, ``P0123``) stored as pandas' default
    ``str`` dtype. It is written once to Parquet in a temporary directory and
    read by every worker, so every variant starts from the same pandas
    DataFrame and returns a pandas DataFrame.

Variants
    - ``crmtools_rfm``: :func:`crmtools.rfm.rfm_table` (quantile scores and
      segments) as of the end of the data, 365-day window.
    - ``crmtools_pipeline``: RFM, then :func:`crmtools.deciles.decile_table`
      for the last 12 months, then :func:`crmtools.cohorts.cohort_table` over
      all history, each called on the pandas frame as an analyst would.
    - ``crmtools_pipeline_once``: the same with the frame wrapped once
      (``crmtools.engine.to_lazy``) and the lazy frame passed to all three.
    - ``crmtools_rfm_via_duckdb``, ``crmtools_pipeline_via_duckdb`` (not run
      by default; name them in ``--variants``): crmtools with pandas input sent
      to DuckDB instead of polars, the measurement behind
      ``crmtools.engine.PANDAS_ENGINE``.
    - ``duckdb_*``, ``pandas_*``, ``polars_*``: the same RFM, and the same
      three-analysis pipeline, hand-written in each engine (same definitions,
      quantile scores with rank "min", the default segment map as a CASE or
      lookup). "Distinct purchase orders per customer" is written as a
      per-order group-by followed by a per-customer one, which was faster than
      a distinct count in all three engines here (pandas 1.5 s against 2.2 s
      CPU for the RFM, polars and DuckDB alike).

    Every variant's RFM result (customer, recency, frequency, monetary,
    scores, cell, segment) is hashed and must be identical to crmtools'; the
    decile and cohort tables of all pipelines must agree too.

What is reported
    Time: all timed runs happen in one worker process, one warm-up run of
    each variant and then ``--repeat`` rounds with the variants interleaved,
    so that the load of other processes on the machine (large on a shared
    2-core box) falls on all variants alike. Best and median wall time, and
    the best process CPU time (all threads). Ratios: crmtools against the
    fastest hand-written engine for RFM alone and for the whole pipeline, and
    (the issue's literal target) the whole crmtools pipeline against the
    fastest hand-written RFM alone.
    Memory: for each variant, ``--memory-runs`` fresh processes (round
    robin) each load the data, import the libraries and run the variant
    once; the growth of peak resident memory over the loaded state is
    reported (VmHWM, the high-water mark reset through
    ``/proc/self/clear_refs`` after a ``gc.collect()`` and ``malloc_trim``),
    so memory allocated by polars, DuckDB and Arrow outside Python counts and
    no allocator reuses memory kept from an earlier run. The median of the
    runs is compared (single runs vary by up to 50% with thread timing);
    where the reset is not permitted, the whole-process ``ru_maxrss`` is
    reported instead (and said so).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240601
END = pd.Timestamp("2025-01-01")  # exclusive end of the data = as_of
YEARS = 3
LOOKBACK_DAYS = 365
DECILE_START = END - pd.DateOffset(years=1)

VARIANTS = [
    "crmtools_rfm",
    "duckdb_rfm",
    "pandas_rfm",
    "polars_rfm",
    "crmtools_pipeline",
    "crmtools_pipeline_once",
    "duckdb_pipeline",
    "pandas_pipeline",
    "polars_pipeline",
]
COLUMNS = ["order_id", "customer_id", "order_datetime", "quantity", "amount"]


# ----------------------------------------------------------------------------- data


def _id_strings(prefix: str, numbers: np.ndarray, width: int):
    """Fixed-width ids ('C0000123') as an Arrow large_string array, built from digit arrays."""
    import pyarrow as pa

    size = len(prefix) + width
    buf = np.empty((len(numbers), size), dtype=np.uint8)
    buf[:, : len(prefix)] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    buf[:, len(prefix) :] = (numbers[:, None] // powers) % 10 + ord("0")
    offsets = np.arange(len(numbers) + 1, dtype=np.int64) * size
    return pa.LargeStringArray.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(buf.tobytes()))


def generate(n_lines: int, n_customers: int, seed: int = SEED) -> pd.DataFrame:
    """Canonical transactions: ``n_lines`` order lines for ``n_customers`` customers over three years."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(seed)
    n_orders = max(n_customers, int(n_lines / 2.5))
    span = YEARS * 365 * 86400
    first = rng.integers(0, span, n_customers)  # seconds after the start of the data
    weights = rng.gamma(0.7, 1.0, n_customers)
    customer_of_order = np.concatenate(
        [np.arange(n_customers), rng.choice(n_customers, n_orders - n_customers, p=weights / weights.sum())]
    )
    later = np.concatenate([np.zeros(n_customers), rng.random(n_orders - n_customers)])
    start_first = first[customer_of_order]
    seconds = start_first + (later * (span - start_first)).astype(np.int64)
    order_time = (np.datetime64(END, "s") - np.timedelta64(span, "s")) + seconds.astype("timedelta64[s]")
    lines_per_order = np.bincount(rng.integers(0, n_orders, n_lines - n_orders), minlength=n_orders) + 1
    order_of_line = np.repeat(np.arange(n_orders), lines_per_order)
    quantity = rng.integers(1, 4, n_lines)
    returned = rng.random(n_lines) < 0.03
    quantity[returned] = -quantity[returned]
    price = np.round(np.exp(rng.normal(np.log(2500.0), 0.6, n_lines)), -1)
    guest = (rng.random(n_orders) < 0.01)[order_of_line]
    customer = _id_strings("C", customer_of_order[order_of_line], 7)
    customer = pc.if_else(pa.array(guest), pa.scalar(None, pa.large_string()), customer)
    channels = pa.array(["web", "app", "catalog", "phone"], pa.large_string())
    table = pa.table(
        {
            "order_id": _id_strings("O", order_of_line, 9),
            "customer_id": customer,
            "order_datetime": pa.array(order_time[order_of_line].astype("datetime64[us]")),
            "product_id": _id_strings("P", rng.integers(0, 3000, n_lines), 4),
            "quantity": pa.array(quantity.astype(np.int64)),
            "unit_price": pa.array(price),
            "amount": pa.array(quantity * price),
            "channel": channels.take(pa.array(rng.choice(4, n_orders, p=[0.45, 0.25, 0.2, 0.1])[order_of_line])),
        }
    )
    return table.to_pandas()


# ----------------------------------------------------------------------------- hand-written: shared pieces


def _segment_lookup() -> dict[int, str]:
    from crmtools.rfm import load_segment_map

    smap = load_segment_map()
    return {int(cell): seg.name for seg in smap.segments for cell in seg.cells}


def _finish_pandas_rfm(rfm: pd.DataFrame, lookup: dict[int, str]) -> pd.DataFrame:
    n = len(rfm)
    rfm["r_score"] = 1 + 5 * (rfm["recency_days"].rank(method="min", ascending=False).astype("int64") - 1) // n
    rfm["f_score"] = 1 + 5 * (rfm["frequency"].rank(method="min").astype("int64") - 1) // n
    rfm["m_score"] = 1 + 5 * (rfm["monetary"].rank(method="min").astype("int64") - 1) // n
    cell = rfm["r_score"] * 100 + rfm["f_score"] * 10 + rfm["m_score"]
    rfm["rfm_cell"] = cell.astype("str")
    rfm["segment"] = cell.map(lookup)
    return rfm


# ----------------------------------------------------------------------------- pandas


def pandas_rfm(tx: pd.DataFrame) -> pd.DataFrame:
    start = END - pd.Timedelta(days=LOOKBACK_DAYS)
    w = tx.loc[
        tx["customer_id"].notna() & (tx["order_datetime"] >= start) & (tx["order_datetime"] < END),
        ["customer_id", "order_id", "order_datetime", "quantity", "amount"],
    ]
    w["bought_at"] = w["order_datetime"].where(w["quantity"] > 0)
    orders = w.groupby(["customer_id", "order_id"], sort=False).agg(
        bought_at=("bought_at", "max"), amount=("amount", "sum")
    )
    rfm = orders.groupby(level="customer_id").agg(
        last=("bought_at", "max"), frequency=("bought_at", "count"), monetary=("amount", "sum")
    )
    rfm = rfm[rfm["last"].notna()].copy()
    rfm["monetary"] = rfm["monetary"].round(2)
    rfm["recency_days"] = (END.normalize() - rfm["last"].dt.normalize()).dt.days
    rfm = _finish_pandas_rfm(rfm, _segment_lookup())
    return rfm.sort_index().reset_index()


def pandas_deciles(tx: pd.DataFrame) -> pd.DataFrame:
    w = tx.loc[
        tx["customer_id"].notna() & (tx["order_datetime"] >= DECILE_START) & (tx["order_datetime"] < END),
        ["customer_id", "quantity", "amount"],
    ]
    w = w.assign(bought=w["quantity"] > 0)
    per = w.groupby("customer_id").agg(revenue=("amount", "sum"), buys=("bought", "any"))
    per = per[per["buys"]]
    per = (
        per.assign(revenue=per["revenue"].round(2))
        .reset_index()
        .sort_values(["revenue", "customer_id"], ascending=[False, True], ignore_index=True)
    )
    per["decile"] = np.arange(len(per)) * 10 // len(per) + 1
    out = per.groupby("decile").agg(customers=("revenue", "size"), revenue=("revenue", "sum"))
    out["revenue_share"] = out["revenue"] / out["revenue"].sum()
    out["cumulative_share"] = out["revenue_share"].cumsum()
    return out.reset_index()


def pandas_cohorts(tx: pd.DataFrame) -> pd.DataFrame:
    w = tx.loc[
        tx["customer_id"].notna() & (tx["order_datetime"] < END),
        ["customer_id", "order_datetime", "quantity", "amount"],
    ]
    month = w["order_datetime"].dt.year * 12 + w["order_datetime"].dt.month - 1
    w = w.assign(month=month, bought=(w["quantity"] > 0).astype("int64"))
    cm = w.groupby(["customer_id", "month"]).agg(active=("bought", "max"), revenue=("amount", "sum")).reset_index()
    cohort = cm["month"].where(cm["active"] == 1).groupby(cm["customer_id"]).transform("min")
    cm = cm.assign(cohort=cohort, since=cm["month"] - cohort)
    cm = cm[cm["cohort"].notna() & (cm["since"] >= 0)]
    return cm.groupby(["cohort", "since"]).agg(active=("active", "sum"), revenue=("revenue", "sum")).reset_index()


# ----------------------------------------------------------------------------- polars


def polars_rfm(tx: pd.DataFrame) -> pd.DataFrame:
    import polars as pl

    start = END - pd.Timedelta(days=LOOKBACK_DAYS)
    lookup = _segment_lookup()
    lf = pl.from_pandas(tx[COLUMNS]).lazy()
    n = pl.len()
    out = (
        lf.filter(
            pl.col("customer_id").is_not_null(), pl.col("order_datetime") >= start, pl.col("order_datetime") < END
        )
        .group_by("customer_id", "order_id")
        .agg(bought_at=pl.col("order_datetime").filter(pl.col("quantity") > 0).max(), amount=pl.col("amount").sum())
        .group_by("customer_id")
        .agg(
            last=pl.col("bought_at").max(),
            frequency=pl.col("bought_at").count().cast(pl.Int64),
            monetary=pl.col("amount").sum().round(2),
        )
        .filter(pl.col("last").is_not_null())
        .with_columns(recency_days=(pl.lit(END.date()) - pl.col("last").dt.date()).dt.total_days())
        .with_columns(
            r_score=1 + 5 * (pl.col("recency_days").rank("min", descending=True).cast(pl.Int64) - 1) // n,
            f_score=1 + 5 * (pl.col("frequency").rank("min").cast(pl.Int64) - 1) // n,
            m_score=1 + 5 * (pl.col("monetary").rank("min").cast(pl.Int64) - 1) // n,
        )
        .with_columns(_cell=pl.col("r_score") * 100 + pl.col("f_score") * 10 + pl.col("m_score"))
        .with_columns(
            rfm_cell=pl.col("_cell").cast(pl.String),
            segment=pl.col("_cell").replace_strict(lookup, return_dtype=pl.String),
        )
        .drop("_cell")
        .sort("customer_id")
        .collect()
    )
    return out.to_pandas()


def polars_deciles(tx: pd.DataFrame) -> pd.DataFrame:
    import polars as pl

    lf = pl.from_pandas(tx[["customer_id", "order_datetime", "quantity", "amount"]]).lazy()
    out = (
        lf.filter(
            pl.col("customer_id").is_not_null(),
            pl.col("order_datetime") >= DECILE_START,
            pl.col("order_datetime") < END,
        )
        .group_by("customer_id")
        .agg(revenue=pl.col("amount").sum().round(2), buys=(pl.col("quantity") > 0).any())
        .filter(pl.col("buys"))
        .sort(["revenue", "customer_id"], descending=[True, False])
        .with_columns(decile=pl.int_range(pl.len()) * 10 // pl.len() + 1)
        .group_by("decile")
        .agg(customers=pl.len(), revenue=pl.col("revenue").sum())
        .sort("decile")
        .with_columns(revenue_share=pl.col("revenue") / pl.col("revenue").sum())
        .with_columns(cumulative_share=pl.col("revenue_share").cum_sum())
        .collect()
    )
    return out.to_pandas()


def polars_cohorts(tx: pd.DataFrame) -> pd.DataFrame:
    import polars as pl

    lf = pl.from_pandas(tx[["customer_id", "order_datetime", "quantity", "amount"]]).lazy()
    out = (
        lf.filter(pl.col("customer_id").is_not_null(), pl.col("order_datetime") < END)
        .with_columns(
            month=pl.col("order_datetime").dt.year().cast(pl.Int64) * 12
            + pl.col("order_datetime").dt.month().cast(pl.Int64)
            - 1
        )
        .group_by("customer_id", "month")
        .agg(active=(pl.col("quantity") > 0).any().cast(pl.Int64), revenue=pl.col("amount").sum())
        .with_columns(cohort=pl.col("month").filter(pl.col("active") == 1).min().over("customer_id"))
        .filter(pl.col("cohort").is_not_null())
        .with_columns(since=pl.col("month") - pl.col("cohort"))
        .filter(pl.col("since") >= 0)
        .group_by("cohort", "since")
        .agg(active=pl.col("active").sum(), revenue=pl.col("revenue").sum())
        .sort("cohort", "since")
        .collect()
    )
    return out.to_pandas()


# ----------------------------------------------------------------------------- DuckDB SQL


def _segment_case(column: str) -> str:
    by_segment: dict[str, list[int]] = {}
    for cell, name in _segment_lookup().items():
        by_segment.setdefault(name, []).append(cell)

    def quoted(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    whens = " ".join(
        f"WHEN {column} IN ({', '.join(map(str, sorted(cells)))}) THEN {quoted(name)}"
        for name, cells in by_segment.items()
    )
    return f"CASE {whens} END"


def duckdb_rfm(tx: pd.DataFrame, con) -> pd.DataFrame:
    start = END - pd.Timedelta(days=LOOKBACK_DAYS)
    cell = "(r_score * 100 + f_score * 10 + m_score)"
    sql = f"""
    WITH orders AS (
        SELECT customer_id, order_id,
               max(order_datetime) FILTER (WHERE quantity > 0) AS bought_at, sum(amount) AS amount
        FROM tx
        WHERE customer_id IS NOT NULL AND order_datetime >= TIMESTAMP '{start}' AND order_datetime < TIMESTAMP '{END}'
        GROUP BY customer_id, order_id
    ), customers AS (
        SELECT customer_id, max(bought_at) AS last, count(bought_at) AS frequency, round(sum(amount), 2) AS monetary
        FROM orders GROUP BY customer_id HAVING max(bought_at) IS NOT NULL
    ), valued AS (
        SELECT customer_id, date_diff('day', CAST(last AS DATE), DATE '{END.date()}') AS recency_days,
               frequency, monetary
        FROM customers
    ), scored AS (
        SELECT *,
          1 + (5 * (rank() OVER (ORDER BY recency_days DESC) - 1)) // count(*) OVER () AS r_score,
          1 + (5 * (rank() OVER (ORDER BY frequency) - 1)) // count(*) OVER () AS f_score,
          1 + (5 * (rank() OVER (ORDER BY monetary) - 1)) // count(*) OVER () AS m_score
        FROM valued
    )
    SELECT customer_id, recency_days, frequency, monetary, r_score, f_score, m_score,
           CAST({cell} AS VARCHAR) AS rfm_cell, {_segment_case(cell)} AS segment
    FROM scored ORDER BY customer_id
    """
    return con.sql(sql).df()


def duckdb_deciles(tx: pd.DataFrame, con) -> pd.DataFrame:
    sql = f"""
    WITH per AS (
        SELECT customer_id, round(sum(amount), 2) AS revenue
        FROM tx
        WHERE customer_id IS NOT NULL AND order_datetime >= TIMESTAMP '{DECILE_START}'
          AND order_datetime < TIMESTAMP '{END}'
        GROUP BY customer_id HAVING bool_or(quantity > 0)
    ), ranked AS (
        SELECT revenue, ((row_number() OVER (ORDER BY revenue DESC, customer_id) - 1) * 10) // count(*) OVER () + 1
               AS decile
        FROM per
    ), groups AS (
        SELECT decile, count(*) AS customers, sum(revenue) AS revenue FROM ranked GROUP BY decile
    )
    SELECT decile, customers, revenue, revenue / sum(revenue) OVER () AS revenue_share,
           sum(revenue) OVER (ORDER BY decile) / sum(revenue) OVER () AS cumulative_share
    FROM groups ORDER BY decile
    """
    return con.sql(sql).df()


def duckdb_cohorts(tx: pd.DataFrame, con) -> pd.DataFrame:
    sql = f"""
    WITH cm AS (
        SELECT customer_id, year(order_datetime) * 12 + month(order_datetime) - 1 AS month,
               max(CASE WHEN quantity > 0 THEN 1 ELSE 0 END) AS active, sum(amount) AS revenue
        FROM tx WHERE customer_id IS NOT NULL AND order_datetime < TIMESTAMP '{END}'
        GROUP BY ALL
    ), withcohort AS (
        SELECT *, min(CASE WHEN active = 1 THEN month END) OVER (PARTITION BY customer_id) AS cohort FROM cm
    )
    SELECT cohort, month - cohort AS since, sum(active) AS active, sum(revenue) AS revenue
    FROM withcohort WHERE cohort IS NOT NULL AND month >= cohort
    GROUP BY ALL ORDER BY cohort, since
    """
    return con.sql(sql).df()


# ----------------------------------------------------------------------------- crmtools


def crmtools_rfm(tx: pd.DataFrame) -> pd.DataFrame:
    from crmtools.rfm import rfm_table

    return rfm_table(tx, as_of=END, lookback_days=LOOKBACK_DAYS)


def crmtools_pipeline(tx: pd.DataFrame):
    from crmtools.cohorts import cohort_table
    from crmtools.deciles import decile_table

    return crmtools_rfm(tx), decile_table(tx, start=DECILE_START, end=END), cohort_table(tx, as_of=END)


def _with_engine(name: str, run):
    """Run with pandas input going through another engine (for the engine choice; not a default variant)."""
    import crmtools.engine as engine

    def wrapped():
        saved, engine.PANDAS_ENGINE = engine.PANDAS_ENGINE, name
        try:
            return run()
        finally:
            engine.PANDAS_ENGINE = saved

    return wrapped


def crmtools_pipeline_once(tx: pd.DataFrame):
    """The same pipeline with the pandas frame handed to the engine once (crmtools.engine.to_lazy)."""
    from crmtools.engine import to_lazy

    return crmtools_pipeline(to_lazy(tx, columns=COLUMNS))


# ----------------------------------------------------------------------------- workers


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _reset_peak() -> bool:
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _rfm_fingerprint(rfm: pd.DataFrame) -> str:
    cols = [
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
    frame = (
        rfm[cols]
        .astype(
            {
                "recency_days": "int64",
                "frequency": "int64",
                "monetary": "float64",
                "r_score": "int64",
                "f_score": "int64",
                "m_score": "int64",
                "customer_id": "str",
                "rfm_cell": "str",
                "segment": "str",
            }
        )
        .reset_index(drop=True)
    )
    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:16]


def _checks(variant: str, result) -> dict:
    rfm, deciles, cohorts = (result, None, None) if isinstance(result, pd.DataFrame) else result
    out = {"rfm": _rfm_fingerprint(rfm), "customers": len(rfm)}
    if deciles is not None:
        out["decile_customers"] = [int(v) for v in deciles["customers"]]
        out["decile_revenue"] = [round(float(v), 2) for v in deciles["revenue"]]
        out["cohort_active"] = int(cohorts["active"].sum())
        out["cohort_cells"] = int((cohorts["active"] > 0).sum())  # crmtools also lists months with no one active
        out["cohort_revenue"] = round(float(cohorts["revenue"].sum()), 2)
    return out


def _runner(variant: str, tx: pd.DataFrame, con):
    return {
        "crmtools_rfm": lambda: crmtools_rfm(tx),
        "crmtools_pipeline": lambda: crmtools_pipeline(tx),
        "crmtools_pipeline_once": lambda: crmtools_pipeline_once(tx),
        "crmtools_rfm_via_duckdb": _with_engine("duckdb", lambda: crmtools_rfm(tx)),
        "crmtools_pipeline_via_duckdb": _with_engine("duckdb", lambda: crmtools_pipeline(tx)),
        "duckdb_rfm": lambda: duckdb_rfm(tx, con),
        "duckdb_pipeline": lambda: (duckdb_rfm(tx, con), duckdb_deciles(tx, con), duckdb_cohorts(tx, con)),
        "pandas_rfm": lambda: pandas_rfm(tx),
        "pandas_pipeline": lambda: (pandas_rfm(tx), pandas_deciles(tx), pandas_cohorts(tx)),
        "polars_rfm": lambda: polars_rfm(tx),
        "polars_pipeline": lambda: (polars_rfm(tx), polars_deciles(tx), polars_cohorts(tx)),
    }[variant]


def _load(data: str):
    import duckdb

    tx = pd.read_parquet(data)
    con = duckdb.connect()
    con.register("tx", tx)
    return tx, con


def time_worker(variants: list[str], data: str, repeat: int) -> dict:
    """All variants in one process, interleaved round by round, so that changes in machine load hit all alike."""
    tx, con = _load(data)
    runs = {v: _runner(v, tx, con) for v in variants}
    out = {v: {"times": [], "cpu": []} for v in variants}
    for v, run in runs.items():  # warm-up; also the results that are checked
        out[v].update(_checks(v, run()))
    for _ in range(repeat):
        for v, run in runs.items():
            t0, c0 = time.perf_counter(), time.process_time()
            run()
            out[v]["times"].append(time.perf_counter() - t0)
            out[v]["cpu"].append(time.process_time() - c0)
    return out


def memory_worker(variant: str, data: str) -> dict:
    """Peak memory of the first run of one variant in a fresh process (libraries imported beforehand)."""
    import duckdb  # noqa: F401
    import polars  # noqa: F401
    import pyarrow  # noqa: F401

    import crmtools.cohorts
    import crmtools.deciles
    import crmtools.rfm  # noqa: F401

    tx, con = _load(data)
    run = _runner(variant, tx, con)
    baseline = _status("VmRSS:")
    reset = _reset_peak()
    run()
    peak = _status("VmHWM:") - baseline if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"peak_bytes": peak, "peak_method": "VmHWM" if reset else "ru_maxrss (whole process)"}


def _run_worker(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5_000_000)
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=7, help="timed rounds (after one warm-up run of each variant)")
    parser.add_argument("--memory-runs", type=int, default=5, help="fresh processes per variant for peak memory")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--worker", choices=["time", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    if args.worker == "time":
        print(json.dumps(time_worker(variants, args.data, args.repeat)))
        return 0
    if args.worker == "memory":
        print(json.dumps(memory_worker(variants[0], args.data)))
        return 0

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory(prefix="crmtools-bench-") as tmp:
        t0 = time.perf_counter()
        tx = generate(args.lines, args.customers)
        generated = time.perf_counter() - t0
        path = str(Path(tmp) / "transactions.parquet")
        tx.to_parquet(path, index=False)
        print(
            f"data: {len(tx):,} lines, {tx['customer_id'].nunique():,} customers, "
            f"{tx['order_id'].nunique():,} orders, {tx['order_datetime'].min()} .. {tx['order_datetime'].max()}; "
            f"{tx.memory_usage(deep=True).sum() / 2**20:,.0f} MiB in pandas; generated in {generated:.1f} s"
        )
        del tx
        print(f"timing {len(variants)} variants, {args.repeat} interleaved rounds ...", flush=True)
        results = _run_worker(
            ["--worker", "time", "--data", path, "--repeat", str(args.repeat), "--variants", ",".join(variants)]
        )
        print(f"peak memory, {args.memory_runs} fresh processes per variant (round robin) ...", flush=True)
        peaks: dict[str, list[int]] = {v: [] for v in variants}
        for _ in range(args.memory_runs):
            for v in variants:
                run = _run_worker(["--worker", "memory", "--data", path, "--variants", v])
                peaks[v].append(run["peak_bytes"])
                results[v]["peak_method"] = run["peak_method"]
        for v in variants:
            results[v]["peaks"] = peaks[v]
            results[v]["peak_bytes"] = float(np.median(peaks[v]))
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    report(results)
    return 0 if _consistent(results) else 1


def _consistent(results: dict) -> bool:
    ok = True
    reference = results.get("crmtools_rfm") or results.get("crmtools_pipeline")
    for name, r in results.items():
        if reference and r["rfm"] != reference["rfm"]:
            print(f"MISMATCH: {name} RFM differs from crmtools ({r['rfm']} vs {reference['rfm']})")
            ok = False
    pipelines = [r for n, r in results.items() if "_pipeline" in n]  # every pipeline variant
    for key in ("decile_customers", "decile_revenue", "cohort_active", "cohort_cells", "cohort_revenue"):
        values = {json.dumps(r[key]) for r in pipelines}
        if len(values) > 1:
            print(f"MISMATCH: pipelines disagree on {key}: {values}")
            ok = False
    print("results: " + ("identical across variants" if ok else "DIFFER (see above)"))
    return ok


def report(results: dict) -> None:
    def best(name):
        return min(results[name]["times"]) if name in results else float("nan")

    def median(name):
        return float(np.median(results[name]["times"])) if name in results else float("nan")

    print()
    print(f"{'variant':24s} {'best s':>8s} {'median s':>9s} {'cpu s':>7s} {'peak MiB':>9s}  {'(runs)':s}")
    for name, r in results.items():
        runs = ", ".join(f"{p / 2**20:.0f}" for p in r.get("peaks", [r["peak_bytes"]]))
        print(
            f"{name:24s} {best(name):8.3f} {median(name):9.3f} {min(r['cpu']):7.3f} "
            f"{r['peak_bytes'] / 2**20:9.0f}  ({runs})"
        )
    print(
        "(best and median wall time of the rounds; cpu = best process CPU time, all threads; peak = median growth "
        "of peak resident memory during a first run in a fresh process)"
    )
    print()
    for kind, ours in (
        ("rfm", "crmtools_rfm"),
        ("pipeline", "crmtools_pipeline"),
        ("pipeline", "crmtools_pipeline_once"),
    ):
        hand = [n for n in (f"duckdb_{kind}", f"pandas_{kind}", f"polars_{kind}") if n in results]
        if not hand or ours not in results:
            continue
        fastest = min(hand, key=best)
        fastest_median = min(hand, key=median)
        print(
            f"{ours}: / fastest hand-written {kind} ({fastest}) = {best(ours) / best(fastest):.2f}x best, "
            f"{median(ours) / median(fastest_median):.2f}x median (target <= 1.25x)"
        )
        if f"pandas_{kind}" in results:
            ratio = results[ours]["peak_bytes"] / results[f"pandas_{kind}"]["peak_bytes"]
            print(f"{ours}: peak memory / plain pandas = {ratio:.2f} median of runs (target <= 1.00)")
    hand_rfm = [n for n in ("duckdb_rfm", "pandas_rfm", "polars_rfm") if n in results]
    if hand_rfm and "crmtools_pipeline" in results:
        fastest = min(hand_rfm, key=best)
        print(
            f"whole crmtools pipeline (RFM + deciles + cohorts) / fastest hand-written RFM alone ({fastest}) = "
            f"{best('crmtools_pipeline') / best(fastest):.2f}x best"
        )


if __name__ == "__main__":
    sys.exit(main())
