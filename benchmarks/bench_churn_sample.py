"""Benchmark: the churn model fitted on a bounded sample of customers against the model fitted on all of them.

Run from the repository root::

    .venv/bin/python benchmarks/bench_churn_sample.py                       # 500,000 customers, 36 months
    .venv/bin/python benchmarks/bench_churn_sample.py --customers 150000    # a quicker check

:func:`crmtools.churn.churn_risk` fits its gradient boosting on at most
:data:`crmtools.churn.MAX_TRAIN_CUSTOMERS` customers per cutoff (a seeded random sample). This runs the
backtest twice on the same sample data in one process, once with that bound and once with
``max_train_customers=None``, and prints for each: the held-out metrics of the model (AUC, top-decile lift,
Brier score), the CPU seconds of the whole call, and how many of the scored customers are flagged at high risk;
then the largest difference in each metric, the CPU ratio, and the share of the risk list on which the two
agree. The exit status is non-zero when the bounded model's AUC is more than 0.005 below the full one's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from crmtools import churn  # noqa: E402
from crmtools.data import load_dataset  # noqa: E402
from crmtools.periods import parse_period  # noqa: E402
from crmtools.sampledata import SampleConfig, write_sample  # noqa: E402

TOLERANCE = 0.005


def _run(data, cutoff, bound):
    start = time.process_time()
    risk = churn.churn_risk(
        data.transactions,
        as_of=cutoff,
        customers=data.customers,
        contacts=data.campaign_contacts,
        max_train_customers=bound,
    )
    return risk, time.process_time() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500_000, help="sample customers")
    parser.add_argument("--months", type=int, default=36, help="sample months")
    parser.add_argument("--start", default="2023-01", help="first sample month, YYYY-MM")
    parser.add_argument("--period", default="2025-12", help="score at the end of this period")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="crmtools-bench-") as work:
        config = SampleConfig(customers=args.customers, months=args.months, start=args.start)
        write_sample(Path(work) / "data", config)
        data = load_dataset(Path(work) / "data")
        cutoff = parse_period(args.period).end
        churn._Lines(data.transactions)  # the ids numbered once (cached per column), outside both timings
        runs = {"bounded": _run(data, cutoff, churn.MAX_TRAIN_CUSTOMERS), "all": _run(data, cutoff, None)}
    print(f"{args.customers:,} customers, scored at {cutoff:%Y-%m-%d}; bound {churn.MAX_TRAIN_CUSTOMERS:,}")
    metrics = {}
    for name, (risk, cpu) in runs.items():
        model = risk.metrics.set_index("method").loc["model"]
        metrics[name] = model
        print(
            f"  {name:8} train {int(model['train_customers']):>8,}  AUC {model['auc']:.4f}  "
            f"lift {model['top_decile_lift']:.3f}  Brier {model['brier']:.4f}  winner {risk.winner:8} "
            f"high risk {int(risk.scores['high_risk'].sum()):>8,}  CPU {cpu:6.1f} s"
        )
    (bounded, cpu_bounded), (full, cpu_full) = runs["bounded"], runs["all"]
    gap = {m: float(metrics["bounded"][m] - metrics["all"][m]) for m in ("auc", "top_decile_lift", "brier")}
    agree = float(np.mean(bounded.scores["high_risk"].to_numpy() == full.scores["high_risk"].to_numpy()))
    print(
        f"bounded - all: AUC {gap['auc']:+.4f}, lift {gap['top_decile_lift']:+.3f}, Brier {gap['brier']:+.4f}; "
        f"high-risk flags agree on {agree:.1%}; CPU all / bounded {cpu_full / cpu_bounded:.2f}x"
    )
    return 0 if gap["auc"] >= -TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
