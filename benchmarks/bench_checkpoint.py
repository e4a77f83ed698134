"""What checkpointing costs: the Checkpointer against a bare loop, over item costs and loop lengths.

Run from the project root (``make bench`` runs it with the defaults)::

    .venv/bin/python benchmarks/bench_checkpoint.py [--quick] [--rounds-short 5] [--rounds-long 3]
        [--costs 1e-6,1e-5,...] [--lengths 2,20] [--compare-old] [--chart PATH] [--json PATH]
        [--docs docs/performance.md] [--note TEXT] [--from-json PATH]

The sweep (see ``checkpoint_sweep.py``) runs inside real Airflow 3.3: one ``dag.test()`` DAG run per
cell, the real ``task_state_store`` on SQLite, the bare and the checkpointed loop run in the same task, in
rounds of alternating order. It prints, per cell, the median of the per-round ratios Checkpointer / bare
(wall time, and process CPU time, which other processes on a shared machine disturb less), the store writes
of one Checkpointer loop and its worst-case redo (the longest stretch of work between two store calls).
``--quick`` runs two tiny cells on the in-memory store instead (no Airflow): a smoke test of the code.

The hot path runs first, outside Airflow on the in-memory store: ``--loop-items`` no-op items through
``Checkpointer.iterate()`` against a bare ``for`` loop, to show the per-item overhead (target 100 ns). The
table's "accounted" column adds that per-item cost and the exact store time of each cell: the overhead
that is there for sure, which the wall-time ratios of a busy machine can hide or exaggerate.
The exit status is 1 if a target was missed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checkpoint_sweep as sweep  # noqa: E402

DAG_SOURCE = """
import json, sys
from airflow.sdk import dag, task

sys.path.insert(0, BENCHMARKS)
import checkpoint_sweep


@dag(schedule=None)
def bench_checkpoint_sweep():
    @task
    def cell(dag_run=None, task_state_store=None):
        conf = dag_run.conf
        results = checkpoint_sweep.measure_cell(
            task_state_store, conf["items"], conf["spin"], conf["rounds"], conf["modes"], conf["label"]
        )
        print("SWEEP " + json.dumps(results))

    cell()


bench_checkpoint_sweep()
"""

_LINE = re.compile(r"SWEEP (\[.*\])")


def part_sweep_airflow(cells: list[sweep.Cell]) -> None:
    from airflow_resumable.testing import AirflowSandbox

    sandbox = AirflowSandbox.activate(Path(tempfile.mkdtemp(prefix="bench-checkpoint-")))
    source = DAG_SOURCE.replace("BENCHMARKS", repr(str(HERE)))
    print("  starting Airflow (the first DAG run takes ~10 s)...", flush=True)
    warm = {"items": 10, "spin": 10, "rounds": 1, "modes": list(sweep.MODES), "label": "warm"}
    sandbox.run_dag(source, run_conf=warm)
    for cell in cells:
        sandbox.fresh(f"cell-{cell.cost:g}-{cell.seconds:g}")
        conf = {
            "items": cell.items,
            "spin": cell.spin,
            "rounds": cell.rounds,
            "modes": list(cell.modes),
            "label": "sweep",
        }
        started = time.perf_counter()
        result = sandbox.run_dag(source, run_conf=conf)
        match = _LINE.search(result.output)
        if result.state != "success" or match is None:
            raise SystemExit(f"benchmark cell {cell} failed:\n{result.output[-3000:]}")
        cell.results = json.loads(match.group(1))
        _progress(cell, time.perf_counter() - started)


def part_sweep_in_memory(cells: list[sweep.Cell]) -> None:
    from airflow_resumable.testing import InMemoryStateBackend

    backend = InMemoryStateBackend()
    for cell in cells:
        started = time.perf_counter()
        cell.results = sweep.measure_cell(
            backend.task_store(), cell.items, cell.spin, cell.rounds, cell.modes, "quick"
        )
        _progress(cell, time.perf_counter() - started)


def _progress(cell: sweep.Cell, took: float) -> None:
    ratios = ", ".join(f"{r['checkpointer']['wall'] / r['bare']['wall']:.4f}" for r in cell.results)
    print(
        f"  {sweep._fmt_cost(cell.cost):>7} x {cell.seconds:g} s: ratio {cell.ratio():.4f}x "
        f"(rounds: {ratios}), fastest {cell.fastest():.4f}x, CPU {cell.ratio(clock='cpu'):.4f}x, "
        f"{cell.writes()} writes, "
        f"worst redo {cell.redo():.2f} s [{took:.0f} s]",
        flush=True,
    )


def part_hot_path(loop_items: int, rounds: int = 9) -> float:
    """Print the per-item overhead of ``iterate()`` on the in-memory store; return its median (seconds)."""
    import logging

    from airflow_resumable import Checkpointer
    from airflow_resumable.testing import InMemoryStateBackend

    logging.getLogger("airflow_resumable").setLevel(logging.INFO)
    backend = InMemoryStateBackend()
    overheads = []
    writes = 0
    print(f"Hot path: in-memory store, {loop_items:,} no-op items through iterate() vs a bare loop")
    for _ in range(rounds):
        items = range(loop_items)
        started = time.perf_counter()
        for _item in items:
            pass
        bare = time.perf_counter() - started
        before = backend.writes
        with (
            open(os.devnull, "w") as sink,
            contextlib.redirect_stdout(sink),
            contextlib.redirect_stderr(sink),
        ):
            started = time.perf_counter()
            with Checkpointer("hot", initial=0, store=backend.task_store()) as ckpt:
                for _item in ckpt.iterate(items):
                    pass
            timed = time.perf_counter() - started
        writes = backend.writes - before
        overheads.append((timed - bare) / loop_items)
    median = statistics.median(overheads)
    print(
        f"  overhead per item: {median * 1e9:.0f} ns (median of {len(overheads)} runs, fastest "
        f"{min(overheads) * 1e9:.0f} ns; "
        f"runs: {', '.join(f'{o * 1e9:.0f}' for o in overheads)} ns)"
    )
    print(f"  store writes: {writes} for {loop_items:,} items")
    print(f"  target <= 100 ns per item: {'met' if median <= 100e-9 else 'MISSED'}")
    return median


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="two tiny cells on the in-memory store")
    parser.add_argument("--costs", type=_floats, default=list(sweep.COSTS), help="item costs in seconds")
    parser.add_argument("--lengths", type=_floats, default=list(sweep.LENGTHS), help="seconds of work")
    parser.add_argument("--rounds-short", type=int, default=5, help="rounds of the cells under 20 s")
    parser.add_argument("--rounds-long", type=int, default=3, help="rounds of the cells of 20 s or more")
    parser.add_argument("--compare-old", action="store_true", help="also run the former default")
    parser.add_argument("--chart", type=Path, help="write the chart (PNG) here")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--note", default="", help="a line of small print for the chart and the docs")
    parser.add_argument("--docs", type=Path, help="fill the table into this page's sweep-table section")
    parser.add_argument("--from-json", type=Path, help="re-render a saved sweep (no measuring)")
    parser.add_argument("--per-item-ns", type=float, help="with --from-json: the hot path's ns per item")
    parser.add_argument("--loop-items", type=int, default=1_000_000)
    parser.add_argument("--skip-airflow", action="store_true", help="only run part 2")
    args = parser.parse_args(argv)
    per_item = None if args.per_item_ns is None else args.per_item_ns * 1e-9
    if not args.from_json:  # first, so its figure can account for the per-item part of each cell
        per_item = part_hot_path(min(args.loop_items, 100_000) if args.quick else args.loop_items)
        print()
    if args.from_json:
        cells = sweep.load(args.from_json)
    elif args.quick:
        cells = sweep.plan([1e-5, 1e-3], [0.05], 2, 2, old=args.compare_old)
        print("Sweep (quick): two tiny cells on the in-memory store")
        part_sweep_in_memory(cells)
    elif not args.skip_airflow:
        cells = sweep.plan(
            args.costs, args.lengths, args.rounds_short, args.rounds_long, old=args.compare_old
        )
        total = sum(c.seconds * c.rounds * len(c.modes) for c in cells)
        print(f"Sweep: real Airflow, {len(cells)} cells, about {total / 60:.0f} min of loops")
        part_sweep_airflow(cells)
    else:
        cells = []
    ok = per_item is None or per_item <= 100e-9
    if cells:
        print()
        print(sweep.table(cells, per_item))
        if args.json:
            sweep.save(cells, args.json)
        if args.chart:
            sweep.chart(cells, args.chart, args.note)
        if args.docs:
            sweep.render_into(args.docs, cells, args.note, per_item)
        missed = [c for c in cells if not c.met()]
        print(f"  goal met in {len(cells) - len(missed)} of {len(cells)} cells")
        ok = ok and (args.quick or not missed)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
