"""Run every benchmark, one after the other: ``make bench`` (or ``python benchmarks/run.py``).

Each benchmark prints ratios measured within its own run, so the figures stay comparable on a noisy
machine. A benchmark's non-zero exit (a missed target) makes this command exit non-zero too. The
checkpoint sweep runs about 15 minutes of loops in real Airflow; ``bench_checkpoint.py --quick`` is the
one-minute smoke version.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["bench_checkpoint.py", "bench_lint.py"]


def main() -> int:
    worst = 0
    for name in BENCHMARKS:
        print(f"=== {name} ===", flush=True)
        worst = max(worst, subprocess.call([sys.executable, str(HERE / name)]))
        print(flush=True)
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
