"""Run every benchmark in this folder, one after another, each in its own process.

    .venv/bin/python benchmarks/run_all.py

Each benchmark prints its own table of wall times, peak memory and ratios
against the reference implementations it runs in the same process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failures = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"\n===== {script.name} =====", flush=True)
        code = subprocess.call([sys.executable, str(script)])
        if code != 0:
            print(f"{script.name} exited with {code}", file=sys.stderr)
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
