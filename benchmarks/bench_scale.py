"""Scale: the crmtools pipeline on 1M, 5M and 20M order lines with each engine.

Run from the repository root (one command; everything takes a while, mostly Spark at 20M)::

    .venv/bin/python benchmarks/bench_scale.py                                   # all sizes, all engines
    .venv/bin/python benchmarks/bench_scale.py --sizes 1M --engines pandas,duckdb   # a quick run

Data
    A vectorised numpy generator with a fixed seed (no Python loop over rows)
    writes ``N`` canonical order lines once to Parquet under a temporary
    folder (``--workdir``; reused by later runs): customers = N / 10 with
    heavy-tailed activity (gamma weights), about 2.5 lines an order, orders
    spread over three years (2023-2025), 5,000 products with Zipf-like
    popularity and log-normal prices, 3% return lines, 1% guest orders. It is
    generated and written in chunks of about a million lines, so generating
    20M lines never holds more than one chunk's text columns.

    The ids stay canonical text (``str``), not integers or categoricals:
    pandas 3 stores ``str`` columns in Arrow (about 17 bytes a value for
    these ids, 0.35 GB per id column at 20M lines, against about 60 bytes a
    value as Python objects, which would put the three id columns alone near
    4 GB), and Arrow memory passes to polars, DuckDB and Spark without a
    per-value Python object. So the canonical model fits as it is; no
    workaround (integer or categorical ids, which the analyses also accept)
    is needed at this size.

The pipeline (the same calls on every engine)
    ``rfm_table`` (365-day window) and ``segment_summary``, ``decile_table``
    for the last 12 months, ``cohort_table`` over all history,
    ``period_kpis`` for the last month and ``monthly_trend`` over 13 months.
    Engines:

    - ``pandas``: ``pd.read_parquet`` into a pandas frame, then the
      analyses on it (the default path: crmtools hands the needed columns to
      polars through Arrow, see :mod:`crmtools.engine`);
    - ``duckdb``: the Parquet file loaded into an in-memory DuckDB table; the
      analyses get the relation;
    - ``polars``: ``pl.read_parquet``; the analyses get the polars frame;
    - ``spark``: ``read_spark_table`` in a local session (``local[2]``, the
      two cores of the machine; driver memory ``--spark-driver-memory``),
      the DataFrame cached in Spark; the analyses get the Spark DataFrame.

What is reported
    Each (size, engine) runs in a fresh subprocess. ``load`` is the time to
    read the Parquet file into the engine, ``analyses`` the time of the six
    calls, ``wall`` the whole subprocess (interpreter, imports, JVM start).
    ``peak`` is the peak resident memory of the subprocess and everything it
    started (Spark's JVM included): the sum of RSS over the process tree,
    sampled every 50 ms with psutil, or the largest single-process
    ``ru_maxrss`` (``os.wait4``) if that is higher. ``growth`` is
    ``t(N) / t(smallest N)`` of the analyses time against ``N / smallest N``
    (linear growth gives a ratio of 1.0 or less, i.e. at most proportional).
    Results are fingerprinted in every worker, and the fingerprints must be
    the same across engines for each size (``same`` column).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
SEED = 20240607
START = np.datetime64("2023-01-01T00:00:00", "s")
SPAN_SECONDS = int((np.datetime64("2026-01-01T00:00:00", "s") - START).astype(np.int64))
AS_OF = "2026-01-01"
N_PRODUCTS = 5000
CHUNK_LINES = 1_000_000
ENGINES = ("pandas", "duckdb", "polars", "spark")
FORMAT_VERSION = 1


def _size(text: str) -> int:
    text = text.strip().upper().replace("_", "")
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if text[-1:] in "KM" else text) * factor)


def _label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


# --------------------------------------------------------------------------- data


def generate(n_lines: int, path: Path, seed: int = SEED) -> Path:
    """Write ``n_lines`` canonical order lines to ``path`` (Parquet), in chunks."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    n_customers = max(n_lines // 10, 10)
    # Orders: 1 + Poisson(1.5) lines each, cut to exactly n_lines.
    per_order = 1 + rng.poisson(1.5, int(n_lines / 2.5 * 1.1) + 100)
    ends = np.cumsum(per_order)
    n_orders = int(np.searchsorted(ends, n_lines)) + 1
    per_order = per_order[:n_orders]
    per_order[-1] -= int(ends[n_orders - 1] - n_lines)
    order_seconds = np.sort(rng.integers(0, SPAN_SECONDS, n_orders))  # order ids follow time
    weights = rng.gamma(0.6, size=n_customers)
    order_customer = rng.choice(n_customers, size=n_orders, p=weights / weights.sum()).astype(np.int64)
    guest = rng.random(n_orders) < 0.01
    order_channel = rng.choice(4, size=n_orders, p=[0.55, 0.25, 0.12, 0.08])
    popularity = 1.0 / np.arange(1, N_PRODUCTS + 1) ** 0.9
    popularity /= popularity.sum()
    price = np.round(np.exp(rng.normal(7.6, 0.7, N_PRODUCTS)), -1)  # about 2,000 yen, log-normal

    customer_text = pc.binary_join_element_wise("C", pc.cast(pa.array(np.arange(n_customers)), pa.string()), "")
    product_text = pc.binary_join_element_wise("P", pc.cast(pa.array(np.arange(N_PRODUCTS)), pa.string()), "")
    channel_text = pa.array(["web", "app", "phone", "catalog"])
    schema = pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("order_datetime", pa.timestamp("us")),
            ("product_id", pa.string()),
            ("quantity", pa.int64()),
            ("unit_price", pa.float64()),
            ("amount", pa.float64()),
            ("channel", pa.string()),
        ]
    )
    order_start = np.concatenate(([0], np.cumsum(per_order)))
    partial = path.with_suffix(".partial")
    with pq.ParquetWriter(partial, schema, compression="snappy") as writer:
        first = 0
        chunk = 0
        while first < n_orders:
            last = int(np.searchsorted(order_start, order_start[first] + CHUNK_LINES))
            last = min(max(last, first + 1), n_orders)
            crng = np.random.default_rng([seed, chunk])
            orders = np.arange(first, last)
            counts = per_order[first:last]
            line_order = np.repeat(orders, counts)
            n = line_order.size
            product = crng.choice(N_PRODUCTS, size=n, p=popularity)
            quantity = 1 + crng.poisson(0.3, n)
            quantity = np.where(crng.random(n) < 0.03, -quantity, quantity).astype(np.int64)
            unit_price = price[product]
            customer = pc.take(customer_text, pa.array(order_customer[line_order]))
            customer = pc.if_else(pa.array(guest[line_order]), pa.scalar(None, pa.string()), customer)
            table = pa.table(
                {
                    "order_id": pc.binary_join_element_wise("O", pc.cast(pa.array(line_order), pa.string()), ""),
                    "customer_id": customer,
                    "order_datetime": pa.array(
                        (START + order_seconds[line_order].astype("timedelta64[s]")).astype("datetime64[us]")
                    ),
                    "product_id": pc.take(product_text, pa.array(product)),
                    "quantity": pa.array(quantity),
                    "unit_price": pa.array(unit_price),
                    "amount": pa.array(quantity * unit_price),
                    "channel": pc.take(channel_text, pa.array(order_channel[line_order])),
                },
                schema=schema,
            )
            writer.write_table(table, row_group_size=CHUNK_LINES)
            first, chunk = last, chunk + 1
    partial.rename(path)
    return path


def data_file(n_lines: int, workdir: Path) -> Path:
    path = workdir / f"order_lines_{n_lines}_seed{SEED}_v{FORMAT_VERSION}.parquet"
    if not path.exists():
        started = time.perf_counter()
        generate(n_lines, path)
        print(
            f"  generated {_label(n_lines)} lines in {time.perf_counter() - started:.1f} s -> {path} "
            f"({path.stat().st_size / 2**20:,.0f} MiB)",
            flush=True,
        )
    return path


# --------------------------------------------------------------------------- worker (one engine, one size)


def _load(engine: str, path: Path, spark_memory: str):
    if engine == "pandas":
        import pandas as pd

        return pd.read_parquet(path), None
    if engine == "polars":
        import polars as pl

        return pl.read_parquet(path), None
    if engine == "duckdb":
        import duckdb

        duckdb.execute(f"CREATE TABLE order_lines AS SELECT * FROM read_parquet('{path}')")
        return duckdb.table("order_lines"), None
    from crmtools.spark import read_spark_table, spark_session

    spark = spark_session("local[2]", app_name="crmtools-bench-scale", config={"spark.driver.memory": spark_memory})
    spark.sparkContext.setLogLevel("ERROR")
    frame = read_spark_table(path, session=spark).cache()
    frame.count()  # materialise the cache: the load step
    return frame, spark


def _fingerprint(results: dict) -> str:
    import pandas as pd

    digest = hashlib.sha256()
    for name in sorted(results):
        frame = results[name]
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(frame.round(9), index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def worker(engine: str, path: Path, spark_memory: str) -> dict:
    import warnings

    warnings.simplefilter("ignore")  # pyspark warns about pandas 3 on every transfer
    import pandas as pd

    from crmtools import cohorts, deciles, kpis, rfm

    started = time.perf_counter()
    data, spark = _load(engine, path, spark_memory)
    load = time.perf_counter() - started
    as_of = pd.Timestamp(AS_OF)
    calls = {
        "rfm": lambda: rfm.rfm_table(data, as_of=as_of),
        "deciles": lambda: deciles.decile_table(data, start=as_of - pd.DateOffset(years=1), end=as_of),
        "cohorts": lambda: cohorts.cohort_table(data, as_of=as_of),
        "kpis": lambda: kpis.period_kpis(data, "2025-12"),
        "trend": lambda: kpis.monthly_trend(data, end=as_of, months=13),
    }
    results, times = {}, {}
    began = time.perf_counter()
    for name, call in calls.items():
        t0 = time.perf_counter()
        results[name] = call()
        if name == "rfm":
            results["segments"] = rfm.segment_summary(results["rfm"])
        times[name] = time.perf_counter() - t0
    analyses = time.perf_counter() - began
    customers = len(results["rfm"])
    if spark is not None:
        spark.stop()
    self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "engine": engine,
        "load_s": load,
        "analyses_s": analyses,
        "times": times,
        "rfm_customers": customers,
        "fingerprint": _fingerprint(results),
        "worker_maxrss": self_rss,
    }


# --------------------------------------------------------------------------- orchestration


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_worker(engine: str, path: Path, spark_memory: str) -> dict:
    import psutil

    command = [
        sys.executable,
        str(HERE),
        "--worker",
        engine,
        "--path",
        str(path),
        "--spark-driver-memory",
        spark_memory,
    ]
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    handle = psutil.Process(child.pid)
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(handle))
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise RuntimeError(f"worker {engine} on {path.name} failed with exit code {child.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = wall
    result["peak_bytes"] = max(peak[0], usage.ru_maxrss * 1024, result["worker_maxrss"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1M,5M,20M", help="order lines, comma-separated (default 1M,5M,20M)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated subset of {ENGINES}")
    parser.add_argument(
        "--workdir",
        default=str(Path(tempfile.gettempdir()) / "crmtools-bench-scale"),
        help="folder for the generated Parquet files (kept and reused)",
    )
    parser.add_argument("--spark-driver-memory", default="12g", help="Spark driver (local JVM) heap, default 12g")
    parser.add_argument("--json", default=None, help="also write all results to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--path", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, Path(args.path), args.spark_driver_memory)), flush=True)
        return 0

    sizes = sorted(_size(s) for s in args.sizes.split(",") if s.strip())
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        parser.error(f"--engines must be among {ENGINES}; got {unknown}")
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"bench_scale: sizes {[_label(n) for n in sizes]}, engines {engines}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM",
        flush=True,
    )
    rows = []
    for n in sizes:
        path = data_file(n, workdir)
        for engine in engines:
            result = run_worker(engine, path, args.spark_driver_memory)
            result["lines"] = n
            rows.append(result)
            print(
                f"  {_label(n):>4} {engine:<7} load {result['load_s']:7.1f} s  analyses {result['analyses_s']:7.1f} s"
                f"  wall {result['wall_s']:7.1f} s  peak {result['peak_bytes'] / 2**30:5.2f} GiB  "
                f"({', '.join(f'{k} {v:.1f}' for k, v in result['times'].items())})",
                flush=True,
            )

    print("\n| lines | engine | load s | analyses s | wall s | peak GiB | growth (analyses) | same results |")
    print("|---:|---|---:|---:|---:|---:|---|---|")
    smallest = sizes[0]
    for row in rows:
        base = next(r for r in rows if r["engine"] == row["engine"] and r["lines"] == smallest)
        factor = row["lines"] / smallest
        ratio = row["analyses_s"] / base["analyses_s"]
        growth = "-" if row["lines"] == smallest else f"x{ratio:.1f} for x{factor:.0f} lines ({ratio / factor:.2f})"
        same = len({r["fingerprint"] for r in rows if r["lines"] == row["lines"]}) == 1
        print(
            f"| {_label(row['lines'])} | {row['engine']} | {row['load_s']:.1f} | {row['analyses_s']:.1f} | "
            f"{row['wall_s']:.1f} | {row['peak_bytes'] / 2**30:.2f} | {growth} | {'yes' if same else 'NO'} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
