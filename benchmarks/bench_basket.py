"""Benchmark crmtools.basket against mlxtend (fpgrowth + association_rules), same inputs, same machine.

Run from the repository root::

    .venv/bin/python benchmarks/bench_basket.py            # all cases
    .venv/bin/python benchmarks/bench_basket.py --quick    # Groceries and Online Retail at 1% only
    .venv/bin/python benchmarks/bench_basket.py --step     # only the report's basket step on Online Retail

Cases (a case whose data file is absent is skipped; the data live in
``../shared/data`` next to the repository):

- **Groceries** (arules' data set, 9,835 baskets): min_support 0.001, min_confidence 0.5.
- **Online Retail, UK invoices** (UCI): basket = InvoiceNo, item = StockCode,
  Country == "United Kingdom", positive quantities; min_support 0.01 and 0.005,
  min_confidence 0.5.
- **Synthetic retail**: 50,000 baskets over 5,000 items (Zipf popularity, about
  ten lines a basket, 300 planted bundles), seed 2024; min_support 0.001,
  min_confidence 0.5.

What is timed
    Both tools start from the same list of baskets. mlxtend:
    ``fpgrowth(onehot, min_support, use_colnames=True)`` followed by
    ``association_rules(itemsets, n, metric="confidence", min_threshold)``,
    on a one-hot table built beforehand (not timed; both the dense table of
    mlxtend's documentation and a sparse one are run, the ratios use the
    better). crmtools: ``frequent_itemsets(baskets, ...)`` followed by
    ``association_rules(itemsets, min_threshold, max_consequent_len=None)``
    (all consequent lengths, as mlxtend, and with the Fisher tests); its time
    includes encoding the baskets, which mlxtend gets for free. For Online
    Retail, crmtools is also run from the order lines themselves (a DataFrame
    with Arrow-backed text columns, ``order_col="InvoiceNo"``,
    ``item_col="StockCode"``, ``quantity_col="Quantity"``), reported below
    the table.

How
    Every measurement runs in a fresh subprocess, one after the other. Time
    is the best of several runs after a warm-up on a tiny input ("warm";
    crmtools 5 runs, mlxtend 3, or 1 when a run takes over 20 s), and the
    first call in a new process ("cold": crmtools' lazy imports included;
    the engine is plain numpy, so there is no JIT compilation to pay). Wall
    time and CPU time are both reported: on a busy machine the CPU-time
    ratio is the steadier one. Memory
    is measured in another subprocess: "peak" is the growth of the process's
    peak resident memory during one run, after a warm-up, ``gc.collect()``,
    releasing Arrow's unused memory and ``malloc_trim``, with the kernel's
    high-water mark reset (``/proc/self/clear_refs``), so every allocator
    (numpy, Python objects, scipy, Arrow) is counted. That process runs both
    tools with the same allocator settings (Arrow on the system allocator,
    glibc's ``MALLOC_MMAP_THRESHOLD_=131072`` so that freed large blocks go
    back to the system instead of staying resident), so resident memory
    follows live memory. Where ``clear_refs`` is unavailable the tracemalloc
    peak is used instead (and said so). The tracemalloc peak of another run
    is reported too ("traced"): numpy and Python objects only.

The results of both tools are compared: same itemsets with the same supports,
same rules with the same metrics (to 1e-9 relative).

The report's basket step on Online Retail (``--step``, also run after the cases above)
    :func:`crmtools.basket.customer_rules` with the params of
    ``params/examples/uci_online_retail.yaml`` (the defaults of ``basket.*``), on the
    order lines of 2011-11 and of the partial 2011-12 as the example loads them
    (``load_dataset``, not timed): at the example's ``min_support`` (0.003), at what
    a refusal suggests (0.006) and lower (0.0015, 0.001); and, as the issue ran it,
    with guest and bulk orders included (``include_guests=True,
    max_basket_items=None``): refused by the memory guard, and what its advice
    gives (0.006; ``max_len=2``). Same subprocesses and memory measure as above;
    no mlxtend reference (mlxtend has no such step).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"

CASES = {
    "groceries-0.001": {"data": "groceries", "min_support": 0.001, "min_confidence": 0.5},
    "online-retail-uk-0.01": {"data": "online_retail", "min_support": 0.01, "min_confidence": 0.5},
    "online-retail-uk-0.005": {"data": "online_retail", "min_support": 0.005, "min_confidence": 0.5},
    "synthetic-50k-0.001": {"data": "synthetic", "min_support": 0.001, "min_confidence": 0.5},
}
QUICK = ["groceries-0.001", "online-retail-uk-0.01"]
BULK = {"include_guests": True, "max_basket_items": None}
STEP_CASES = {
    "2011-11 @0.003 (example)": {"period": "2011-11", "min_support": 0.003},
    "2011-11 @0.006 (refusal's advice)": {"period": "2011-11", "min_support": 0.006},
    "2011-11 @0.0015": {"period": "2011-11", "min_support": 0.0015},
    "2011-11 @0.001": {"period": "2011-11", "min_support": 0.001},
    "2011-12 @0.003 (partial)": {"period": "2011-12", "min_support": 0.003},
    "2011-12 @0.006 (partial)": {"period": "2011-12", "min_support": 0.006},
    "2011-11 @0.003 guests+bulk in": {"period": "2011-11", "min_support": 0.003, **BULK},
    "2011-11 @0.006 guests+bulk in": {"period": "2011-11", "min_support": 0.006, **BULK},
    "2011-11 @0.003 guests+bulk in, max_len 2": {"period": "2011-11", "min_support": 0.003, "max_len": 2, **BULK},
}
TOOLS = ["crmtools", "crmtools-lines", "mlxtend-dense", "mlxtend-sparse"]
MLXTEND = ["mlxtend-dense", "mlxtend-sparse"]
METRICS = ["antecedent_support", "consequent_support", "support", "confidence", "lift", "leverage", "conviction"]


# --------------------------------------------------------------------------- data


def available(data: str) -> bool:
    return (
        data == "synthetic"
        or (DATA / {"groceries": "groceries.csv", "online_retail": "online_retail.parquet"}[data]).exists()
    )


def synthetic_baskets(n_baskets: int = 50_000, n_items: int = 5_000, seed: int = 2024) -> list[list[str]]:
    """Retail-like baskets: Zipf item popularity, 1 + Poisson(6) random lines, 300 planted bundles."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, n_items + 1)
    popularity /= popularity.sum()
    sizes = 1 + rng.poisson(6, n_baskets)
    owners = [np.repeat(np.arange(n_baskets), sizes)]
    items = [rng.choice(n_items, size=int(sizes.sum()), p=popularity)]
    for _ in range(300):
        bundle = rng.choice(n_items, size=int(rng.integers(3, 7)), replace=False)
        hit = np.flatnonzero(rng.random(n_baskets) < rng.uniform(0.001, 0.004))
        owners.append(np.repeat(hit, bundle.size))
        items.append(np.tile(bundle, hit.size))
    owner, item = np.concatenate(owners), np.concatenate(items)
    order = np.argsort(owner, kind="stable")
    owner, item = owner[order], item[order]
    cuts = np.cumsum(np.bincount(owner, minlength=n_baskets))[:-1]
    return [[f"sku{j}" for j in part] for part in np.split(item, cuts)]


def load(data: str):
    """(list of baskets, order lines or None, keyword arguments for the order lines)."""
    if data == "groceries":
        return [line.rstrip("\n").split(",") for line in (DATA / "groceries.csv").open()], None, {}
    if data == "online_retail":
        raw = pd.read_parquet(DATA / "online_retail.parquet", columns=["InvoiceNo", "StockCode", "Quantity", "Country"])
        uk = raw[raw["Country"] == "United Kingdom"].reset_index(drop=True)
        del raw
        sold = uk[uk["Quantity"] > 0]
        baskets = [list(dict.fromkeys(v)) for v in sold.groupby("InvoiceNo", sort=False)["StockCode"].agg(list)]
        return baskets, uk, {"order_col": "InvoiceNo", "item_col": "StockCode", "quantity_col": "Quantity"}
    return synthetic_baskets(), None, {}


# --------------------------------------------------------------------------- memory


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


class PeakMemory:
    """Growth of peak memory during a block: kernel high-water mark, else tracemalloc."""

    def __enter__(self):
        gc.collect()
        if "pyarrow" in sys.modules:  # memory that Arrow keeps for reuse would hide our allocations
            sys.modules["pyarrow"].default_memory_pool().release_unused()
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:
            pass
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.method = "rss"
            self.baseline = _status("VmRSS:")
        except OSError:
            import tracemalloc

            self.method = "tracemalloc"
            tracemalloc.start()
        return self

    def __exit__(self, *exc):
        if self.method == "rss":
            self.peak = _status("VmHWM:") - self.baseline
        else:
            import tracemalloc

            self.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return False


# --------------------------------------------------------------------------- one measurement (child process)


def pipeline(tool: str, case: dict):
    """Build the input (not timed) and return a zero-argument function running the timed work."""
    baskets, lines, kwargs = load(case["data"])
    if tool.startswith("crmtools"):
        from crmtools.basket import association_rules, frequent_itemsets

        data = lines if tool == "crmtools-lines" else baskets
        kwargs = kwargs if tool == "crmtools-lines" else {}
        del lines

        def run():
            itemsets = frequent_itemsets(data, min_support=case["min_support"], **kwargs)
            rules = association_rules(itemsets, min_threshold=case["min_confidence"], max_consequent_len=None)
            return itemsets, rules

        return run, {}

    from mlxtend.frequent_patterns import association_rules, fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    del lines
    start = time.perf_counter()
    encoder = TransactionEncoder().fit(baskets)
    if tool == "mlxtend-sparse":
        onehot = pd.DataFrame.sparse.from_spmatrix(encoder.transform(baskets, sparse=True), columns=encoder.columns_)
    else:
        onehot = pd.DataFrame(encoder.transform(baskets), columns=encoder.columns_)
    prep = time.perf_counter() - start
    del baskets

    def run():
        itemsets = fpgrowth(onehot, min_support=case["min_support"], use_colnames=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            rules = association_rules(itemsets, len(onehot), metric="confidence", min_threshold=case["min_confidence"])
        return itemsets, rules

    return run, {"onehot_seconds": prep}


def step_lines(period: str, workdir: Path) -> Path:
    """The period's order lines as the worked example loads them, written once per benchmark run."""
    out = workdir / f"online_retail_{period}.parquet"
    if not out.exists():
        from crmtools.data import DataConfig, load_dataset
        from crmtools.params import load_params

        example = ROOT / "params" / "examples" / "uci_online_retail.yaml"
        overrides = {"data": {"tables": {"transactions": {"file": str(DATA / "online_retail.parquet")}}}}
        params = load_params(example, overrides, base_dir=ROOT)
        data = load_dataset(DataConfig.from_dict(params["data"], base_dir=ROOT))
        data.for_period(period).transactions.to_parquet(out)
    return out


def step_child(case_name: str, mode: str, repeat: int, out: str) -> None:
    """One measurement of the report's basket step (customer_rules with the example's params) in this process."""
    from crmtools.basket import customer_rules
    from crmtools.params import load_params

    case = dict(STEP_CASES[case_name])
    lines = pd.read_parquet(Path(out).parent / f"online_retail_{case.pop('period')}.parquet")
    params = load_params(ROOT / "params" / "examples" / "uci_online_retail.yaml", base_dir=ROOT)
    options = {k: v for k, v in params["basket"].items() if k != "top_n"} | case

    def run():
        try:
            return customer_rules(lines, **options)
        except ValueError as exc:
            return str(exc)

    run()  # warm-up: the same call (imports, first-use costs)
    result: dict = {"case": case_name}
    if mode == "time":
        times, cpu_times = [], []
        for _ in range(repeat):
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            screen = run()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
        result.update(warm_seconds=min(times), warm_cpu_seconds=min(cpu_times))
        if isinstance(screen, str):
            result["outcome"] = "refused: " + screen.split(", more than")[0]
        else:
            result["outcome"] = (
                f"{screen.n_baskets:,} orders ({screen.excluded_guest_baskets} guest, "
                f"{screen.excluded_bulk_baskets} bulk left out), {screen.tested:,} rules tested, "
                f"{screen.supported:,} shown" + (" (too few orders: none shown)" if screen.too_few_baskets else "")
            )
    else:
        with PeakMemory() as memory:
            run()
        result.update(peak_bytes=memory.peak, memory_method=memory.method)
    with open(out, "w") as f:
        json.dump(result, f)


def run_steps(workdir: Path, repeat: int) -> None:
    """The report's basket step on Online Retail: time and peak memory per case, one table."""
    if not available("online_retail"):
        print(f"skip the report step: online_retail not found in {DATA}")
        return
    for period in {c["period"] for c in STEP_CASES.values()}:
        step_lines(period, workdir)
    rows = []
    for name in STEP_CASES:
        print(f"-- step {name}", flush=True)
        timed = measure("step", name, "time", repeat, workdir)
        peak = measure("step", name, "memory", 1, workdir)
        rows.append(
            {
                "case": name,
                "wall s": f"{timed['warm_seconds']:.2f}",
                "cpu s": f"{timed['warm_cpu_seconds']:.2f}",
                "peak MiB": f"{peak['peak_bytes'] / 2**20:.0f}",
                "outcome": timed["outcome"],
            }
        )
    table = pd.DataFrame(rows)
    print()
    print("The report's basket step (crmtools.basket.customer_rules, params of params/examples/uci_online_retail.yaml)")
    print("on Online Retail, best of the timed runs after a warm-up; peak = growth of peak resident memory:")
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))


def tiny_warm_up(tool: str) -> None:
    """Run the tool once on a few baskets so lazy imports and first-use costs are paid."""
    baskets = [["a", "b", "c"], ["a", "b"], ["b", "c"], ["a", "c"]] * 3
    if tool.startswith("crmtools"):
        from crmtools.basket import association_rules, frequent_itemsets

        association_rules(frequent_itemsets(baskets, min_support=2), min_threshold=0.1, max_consequent_len=None)
    else:
        from mlxtend.frequent_patterns import association_rules, fpgrowth
        from mlxtend.preprocessing import TransactionEncoder

        te = TransactionEncoder().fit(baskets)
        onehot = pd.DataFrame(te.transform(baskets), columns=te.columns_)
        with np.errstate(divide="ignore", invalid="ignore"):
            association_rules(fpgrowth(onehot, min_support=0.1, use_colnames=True), len(onehot), min_threshold=0.1)


def child(tool: str, case_name: str, mode: str, repeat: int, out: str) -> None:
    """One measurement in this (fresh) process: ``cold``, ``time`` or ``memory``."""
    case = CASES[case_name]
    result: dict = {"tool": tool, "case": case_name, "mode": mode}
    if mode == "cold":
        start = time.perf_counter()
        if tool.startswith("crmtools"):
            import crmtools.basket  # noqa: F401
        else:
            import mlxtend.frequent_patterns  # noqa: F401
        result["import_seconds"] = time.perf_counter() - start
        run, extra = pipeline(tool, case)
        start, cpu = time.perf_counter(), time.process_time()
        run()
        result["cold_seconds"] = time.perf_counter() - start
        result["cold_cpu_seconds"] = time.process_time() - cpu
    elif mode == "time":
        run, extra = pipeline(tool, case)
        tiny_warm_up(tool)
        times, cpu_times = [], []
        for k in range(repeat):
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            itemsets, rules = run()
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu)
            del itemsets, rules
            if k == 0 and not tool.startswith("crmtools") and times[0] > 20:
                break  # one more run of a slow case would add little
        result.update(warm_seconds=min(times), warm_cpu_seconds=min(cpu_times), runs=len(times))
    else:
        run, extra = pipeline(tool, case)
        tiny_warm_up(tool)
        with PeakMemory() as memory:
            itemsets, rules = run()
        result.update(peak_bytes=memory.peak, memory_method=memory.method, n_itemsets=len(itemsets), n_rules=len(rules))
        del itemsets, rules
        gc.collect()
        import tracemalloc

        tracemalloc.start()
        itemsets, rules = run()
        result["traced_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rules = rules.rename(columns=lambda c: c.replace(" ", "_"))
        with open(out + ".pkl", "wb") as f:
            pickle.dump(
                {
                    "itemsets": dict(zip(itemsets["itemsets"], itemsets["support"])),
                    "rules": rules[["antecedents", "consequents", *METRICS]],
                },
                f,
            )
    result.update(extra)
    with open(out, "w") as f:
        json.dump(result, f)


# --------------------------------------------------------------------------- driver


def measure(tool: str, case: str, mode: str, repeat: int, workdir: Path) -> dict:
    out = workdir / f"{tool}-{case}-{mode}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", tool, case, mode, str(repeat), str(out)]
    env = dict(os.environ)
    if mode == "memory":
        # Same allocator set-up for both tools, so that resident memory follows live memory: Arrow on the
        # system allocator, and glibc returning large blocks to the system when they are freed (a fixed
        # mmap threshold instead of the dynamic one, which keeps freed blocks in the heap).
        env.update(ARROW_DEFAULT_MEMORY_POOL="system", MALLOC_MMAP_THRESHOLD_="131072")
    subprocess.run(cmd, check=True, cwd=ROOT, env=env)
    return json.loads(out.read_text())


def same_results(a_path: Path, b_path: Path) -> str:
    a = pickle.loads(a_path.read_bytes())
    b = pickle.loads(b_path.read_bytes())
    if a["itemsets"].keys() != b["itemsets"].keys():
        return "NO: itemsets differ"
    if any(abs(a["itemsets"][k] - b["itemsets"][k]) > 1e-12 for k in a["itemsets"]):
        return "NO: supports differ"
    merged = a["rules"].merge(b["rules"], on=["antecedents", "consequents"], how="outer", indicator=True)
    if not (merged["_merge"] == "both").all():
        return "NO: rules differ"
    for m in METRICS:
        if not np.allclose(
            merged[f"{m}_x"].to_numpy(float), merged[f"{m}_y"].to_numpy(float), rtol=1e-9, atol=1e-12, equal_nan=True
        ):
            return f"NO: {m} differs"
    return "yes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only Groceries and Online Retail at 1%%")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of crmtools (mlxtend: 2)")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), help="run only these cases")
    parser.add_argument("--step", action="store_true", help="only the report's basket step on Online Retail")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        tool, case, mode, repeat, out = args.child
        if tool == "step":
            step_child(case, mode, int(repeat), out)
        else:
            child(tool, case, mode, int(repeat), out)
        return
    if args.step:
        with tempfile.TemporaryDirectory() as tmp:
            run_steps(Path(tmp), repeat=3)
        return

    import platform

    import mlxtend

    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"mlxtend {mlxtend.__version__}; {platform.machine()}, {os.cpu_count()} CPUs"
    )
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in args.cases or (QUICK if args.quick else CASES):
            case = CASES[name]
            if not available(case["data"]):
                print(f"skip {name}: {case['data']} not found in {DATA}")
                continue
            print(f"-- {name}", flush=True)
            res = {}
            tools = [t for t in TOOLS if t != "crmtools-lines" or case["data"] == "online_retail"]
            for tool in tools:
                res[tool] = measure(tool, name, "time", args.repeat if tool.startswith("crmtools") else 3, workdir)
                res[tool].update(measure(tool, name, "memory", 1, workdir))
                r = res[tool]
                print(
                    f"   {tool:15s} warm {r['warm_seconds']:8.3f} s (cpu {r['warm_cpu_seconds']:.3f})   peak "
                    f"{r['peak_bytes'] / 2**20:7.1f} MiB "
                    f"(traced {r['traced_peak_bytes'] / 2**20:.1f})   itemsets {r['n_itemsets']:,}  "
                    f"rules {r['n_rules']:,}"
                    + (f"   one-hot built in {r['onehot_seconds']:.2f} s (not timed)" if "onehot_seconds" in r else ""),
                    flush=True,
                )
            cold = measure("crmtools", name, "cold", 1, workdir)
            print(
                f"   crmtools cold (new process, first call) {cold['cold_seconds']:.3f} s "
                f"(cpu {cold['cold_cpu_seconds']:.3f}; + import {cold['import_seconds']:.3f} s)",
                flush=True,
            )
            checks = [
                same_results(workdir / f"crmtools-{name}-memory.json.pkl", workdir / f"{t}-{name}-memory.json.pkl")
                for t in tools[1:]
            ]
            fast = min(MLXTEND, key=lambda t: res[t]["warm_seconds"])
            fast_cpu = min(MLXTEND, key=lambda t: res[t]["warm_cpu_seconds"])
            low = min(MLXTEND, key=lambda t: res[t]["peak_bytes"])
            low_traced = min(MLXTEND, key=lambda t: res[t]["traced_peak_bytes"])
            ours = res["crmtools"]
            rows.append(
                {
                    "case": name,
                    "itemsets": ours["n_itemsets"],
                    "rules": ours["n_rules"],
                    "mlxtend s": f"{res[fast]['warm_seconds']:.3f} ({fast.split('-')[1]})",
                    "crmtools s": f"{ours['warm_seconds']:.3f}",
                    "crmtools cold s": f"{cold['cold_seconds']:.3f}",
                    "speed-up": f"{res[fast]['warm_seconds'] / ours['warm_seconds']:.1f}x",
                    "speed-up cold": f"{res[fast]['warm_seconds'] / cold['cold_seconds']:.1f}x",
                    "speed-up cpu": f"{res[fast_cpu]['warm_cpu_seconds'] / ours['warm_cpu_seconds']:.1f}x",
                    "mlxtend MiB": f"{res[low]['peak_bytes'] / 2**20:.1f} ({low.split('-')[1]})",
                    "crmtools MiB": f"{ours['peak_bytes'] / 2**20:.1f}",
                    "memory ratio": f"{ours['peak_bytes'] / res[low]['peak_bytes']:.3f}",
                    "traced ratio": f"{ours['traced_peak_bytes'] / res[low_traced]['traced_peak_bytes']:.3f}",
                    "identical": "yes" if all(c == "yes" for c in checks) else "; ".join(checks),
                }
            )
            if "crmtools-lines" in res:
                lines = res["crmtools-lines"]
                speed = res[fast]["warm_seconds"] / lines["warm_seconds"]
                notes.append(
                    f"{name}, crmtools from the order lines (DataFrame, Arrow strings): "
                    f"{lines['warm_seconds']:.3f} s ({speed:.1f}x), "
                    f"peak {lines['peak_bytes'] / 2**20:.1f} MiB "
                    f"(ratio {lines['peak_bytes'] / res[low]['peak_bytes']:.3f}), "
                    f"traced {lines['traced_peak_bytes'] / 2**20:.1f} MiB "
                    f"(ratio {lines['traced_peak_bytes'] / res[low_traced]['traced_peak_bytes']:.3f})"
                )
    if not rows:
        print("no data found: nothing to report")
        return
    table = pd.DataFrame(rows)
    print()
    print("Both tools start from the same list of baskets; mlxtend's one-hot table is built before the clock starts.")
    print("speed-up = fastest mlxtend / crmtools, wall time (warm; cold = crmtools' first call in a new process);")
    print("speed-up cpu = the same with CPU time (less sensitive to other work on the machine);")
    print("memory ratio = crmtools peak / lowest mlxtend peak (resident memory growth, all allocators);")
    print("traced ratio = the same with tracemalloc peaks (numpy and Python objects only; separate run).")
    print(table.to_markdown(index=False) if _has_tabulate() else table.to_string(index=False))
    for note in notes:
        print(note)
    if not args.cases:
        print()
        with tempfile.TemporaryDirectory() as tmp:
            run_steps(Path(tmp), repeat=3)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
