"""Throughput of ``airflow-resumable lint`` over the example DAGs shipped with Airflow and its providers.

Runs on one core (pinned where the OS allows) and repeats the corpus, alternating lint and parse rounds,
until each has at least two seconds of work. Prints files per second for the full lint and for a bare
``ast.parse`` of the same sources, measured in the same run, and their ratio. Sources are read once up
front, so disk speed does not count. Target: at least 500 files/s.

    .venv/bin/python benchmarks/bench_lint.py
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_resumable.lint.checker import enabled_codes, lint_text

if TYPE_CHECKING:
    from collections.abc import Callable

MIN_SECONDS = 2.0
TARGET_FILES_PER_SECOND = 500


def example_dag_files() -> list[Path]:
    """Every ``*.py`` under an ``example_dags`` or ``tests/system`` folder of the installed Airflow."""
    spec = importlib.util.find_spec("airflow")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        sys.exit("apache-airflow is not installed in this environment")
    files: set[Path] = set()
    for location in spec.submodule_search_locations:
        root = Path(location)
        for pattern in ("**/example_dags/**/*.py", "**/tests/system/**/*.py"):
            files.update(root.glob(pattern))
    return sorted(files)


def measure(first: Callable[[], int], second: Callable[[], int]) -> list[tuple[int, float]]:
    """Alternate rounds of ``first`` and ``second`` until each has run for MIN_SECONDS.

    Alternating keeps the comparison fair when other load on the machine comes and goes. Each callable
    returns how many files it handled; the result is ``(files, seconds)`` for each.
    """
    totals = [[0, 0.0], [0, 0.0]]
    while min(totals[0][1], totals[1][1]) < MIN_SECONDS:
        for slot, work in enumerate((first, second)):
            start = time.perf_counter()
            totals[slot][0] += work()
            totals[slot][1] += time.perf_counter() - start
    return [(int(files), seconds) for files, seconds in totals]


def main() -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    files = example_dag_files()
    sources = [(str(path), importlib.util.decode_source(path.read_bytes())) for path in files]
    enabled = enabled_codes()

    def lint_all() -> int:
        for path, text in sources:
            lint_text(text, path, enabled, module=Path(path).stem)
        return len(sources)

    def parse_all() -> int:
        for path, text in sources:
            ast.parse(text, filename=path)
        return len(sources)

    lint_all()  # warm up caches and imports
    (parse_done, parse_seconds), (lint_done, lint_seconds) = measure(parse_all, lint_all)
    lint_rate = lint_done / lint_seconds
    parse_rate = parse_done / parse_seconds
    print(f"corpus: {len(sources)} example DAG files, {sum(len(t) for _, t in sources) / 1024:.0f} KiB")
    print(f"lint:      {lint_rate:8.0f} files/s ({lint_done} files in {lint_seconds:.2f} s, one core)")
    print(f"ast.parse: {parse_rate:8.0f} files/s ({parse_done} files in {parse_seconds:.2f} s)")
    print(f"lint takes {parse_rate / lint_rate:.2f}x the time of ast.parse alone")
    verdict = "meets" if lint_rate >= TARGET_FILES_PER_SECOND else "MISSES"
    print(f"{verdict} the target of {TARGET_FILES_PER_SECOND} files/s")
    return 0 if lint_rate >= TARGET_FILES_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
