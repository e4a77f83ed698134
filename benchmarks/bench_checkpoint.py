"""What checkpointing costs: the Checkpointer against no checkpointing and against a write per item.

Run from the project root::

    .venv/bin/python benchmarks/bench_checkpoint.py [--rounds 11] [--naive-rounds 3] [--items 2000]

Part 1 runs inside real Airflow 3.3 (``dag.test()``, the real task_state_store on SQLite): a task does
``--items`` items of about 1 ms of CPU work each (a busy loop calibrated in this process), three ways:
without checkpointing, with a ``Checkpointer`` at its default policy, and with a naive
``task_state_store.set`` after every item. The task measures its own wall time around the work and counts
its store writes through a counting proxy; the modes are interleaved in rotating order for ``--rounds``
rounds (the slow naive mode for ``--naive-rounds`` of them) and the median and the minimum are reported.
Wall times of identical runs differ by 10-40% on a shared 2-core machine, more than the 3% target, so the
headline ratio compares each mode's cost factor: its wall time divided by the time spent inside its own
work items, both measured in the same run. The exit status is 1 if a target was missed.

Part 2 runs outside Airflow on the in-memory store: ``--loop-items`` no-op items through
``Checkpointer.iterate()`` against a bare ``for`` loop, to show the per-item overhead of the hot path
(commits at the default policy and their log lines included; the log output goes to /dev/null).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

DAG_SOURCE = """
import time
from airflow.sdk import dag, task
from airflow_resumable import Checkpointer


class CountingStore:
    def __init__(self, inner):
        self.inner, self.sets, self.deletes = inner, 0, 0

    def get(self, key, default=None):
        return self.inner.get(key, default)

    def set(self, key, value, *, retention=None):
        self.sets += 1
        self.inner.set(key, value, retention=retention)

    def delete(self, key):
        self.deletes += 1
        self.inner.delete(key)


BUSY = [0.0]


def work(spin):
    started = time.perf_counter()
    x = 0
    for i in range(spin):
        x += i
    BUSY[0] += time.perf_counter() - started
    return x


@dag(schedule=None)
def bench_checkpoint():
    @task
    def run(params=None, dag_run=None, task_state_store=None):
        conf = dag_run.conf
        mode, items, spin = conf["mode"], conf["items"], conf["spin"]
        store = CountingStore(task_state_store)
        BUSY[0] = 0.0
        started = time.perf_counter()
        if mode == "none":
            for item in range(items):
                work(spin)
        elif mode == "checkpointer":
            with Checkpointer("bench", initial=0, store=store) as ckpt:
                for item in ckpt.iterate(range(items)):
                    work(spin)
        else:
            start = store.get("bench", 0)
            for item in range(start, items):
                work(spin)
                store.set("bench", item + 1)
            store.delete("bench")
        seconds = time.perf_counter() - started
        print(
            f"BENCH mode={mode} seconds={seconds:.4f} sets={store.sets} deletes={store.deletes} "
            f"busy={BUSY[0]:.4f}"
        )

    run()


bench_checkpoint()
"""

_LINE = re.compile(r"BENCH mode=(\w+) seconds=([\d.]+) sets=(\d+) deletes=(\d+) busy=([\d.]+)")
MODES = ["none", "checkpointer", "naive"]


def _busy(spin: int) -> int:
    x = 0
    for i in range(spin):
        x += i
    return x


def calibrate(target_seconds: float = 0.001) -> int:
    """Loop iterations that take about ``target_seconds`` on this machine when it is not disturbed."""
    spin = 10_000
    while True:
        started = time.perf_counter()
        _busy(spin)
        if time.perf_counter() - started > 0.02:
            break
        spin *= 2
    samples = []
    for _ in range(7):
        started = time.perf_counter()
        _busy(spin)
        samples.append(time.perf_counter() - started)
    return max(1, int(spin * target_seconds / min(samples)))  # the fastest sample is the least disturbed


def part_inside_airflow(rounds: int, naive_rounds: int, items: int) -> bool:
    from airflow_resumable.testing import AirflowSandbox

    sandbox = AirflowSandbox.activate(Path(tempfile.mkdtemp(prefix="bench-checkpoint-")))
    spin = calibrate()
    print(f"Part 1: real Airflow, {items} items of ~1 ms busy work (calibrated: {spin} loop steps per item)")
    print("  starting Airflow (the first DAG run takes ~10 s)...", flush=True)
    sandbox.run_dag(DAG_SOURCE, run_conf={"mode": "none", "items": 10, "spin": spin})  # warm-up
    seconds: dict[str, list[float]] = {m: [] for m in MODES}
    # wall time / time inside the work itself, per run: the machine's speed changes from run to run
    # (a shared 2-core VM), and this cost factor cancels it, because both are measured in the same run
    factor: dict[str, list[float]] = {m: [] for m in MODES}
    writes: dict[str, tuple[int, int]] = {}
    for round_number in range(rounds):
        modes = MODES if round_number < naive_rounds else MODES[:2]  # the naive run is slow: fewer rounds
        shift = round_number % len(modes)
        for mode in modes[shift:] + modes[:shift]:  # rotate the order from round to round
            sandbox.fresh(f"round{round_number}-{mode}")
            result = sandbox.run_dag(DAG_SOURCE, run_conf={"mode": mode, "items": items, "spin": spin})
            match = _LINE.search(result.output)
            if result.state != "success" or match is None:
                raise SystemExit(f"benchmark run {mode} failed:\n{result.output[-3000:]}")
            seconds[mode].append(float(match.group(2)))
            factor[mode].append(float(match.group(2)) / float(match.group(5)))
            writes[mode] = (int(match.group(3)), int(match.group(4)))
        done = [m for m in MODES if len(seconds[m]) == round_number + 1]
        print(
            f"  round {round_number + 1}: " + ", ".join(f"{m} {seconds[m][-1]:.3f} s" for m in done),
            flush=True,
        )
    base, base_min = statistics.median(seconds["none"]), min(seconds["none"])
    print(
        f"  {'mode':<14}{'runs':>5}{'median':>10}{'ratio':>9}{'min':>9}{'ratio':>9}{'sets':>7}{'deletes':>9}"
    )
    for mode in MODES:
        median, fastest = statistics.median(seconds[mode]), min(seconds[mode])
        sets, deletes = writes[mode]
        print(
            f"  {mode:<14}{len(seconds[mode]):>5}{median:>8.3f} s{median / base:>8.3f}x"
            f"{fastest:>7.3f} s{fastest / base_min:>8.3f}x{sets:>7}{deletes:>9}"
        )
    # Wall times of identical runs vary by 10-40% here, far more than the 3% to be measured, so the
    # headline divides each run's wall time by the time spent inside its own work items (same run, same
    # machine speed) and compares those cost factors; the raw wall-time ratios are printed beside it.
    paired = [c / n for c, n in zip(seconds["checkpointer"], seconds["none"], strict=True)]
    ratio = statistics.median(factor["checkpointer"]) / statistics.median(factor["none"])
    print(
        "  cost factor (wall time / time inside the work items), median: "
        + ", ".join(f"{m} {statistics.median(factor[m]):.4f}" for m in MODES)
    )
    print(f"  wall-time ratios per round (noisy): {', '.join(f'{r:.3f}' for r in paired)}")
    sets, deletes = writes["checkpointer"]
    writes_ok = sets + deletes <= items // 1000 + 1
    print(
        f"  Checkpointer / no checkpointing (ratio of the cost factors): {ratio:.4f}x, target <= 1.03x: "
        f"{'met' if ratio <= 1.03 else 'MISSED'}"
    )
    print(
        f"  Checkpointer writes: {sets} set(s) + {deletes} delete(s) for {items} items, target <= 1 per "
        f"1,000 plus the final one: {'met' if writes_ok else 'MISSED'}"
    )
    return ratio <= 1.03 and writes_ok


def part_hot_path(loop_items: int, rounds: int) -> bool:
    import logging

    from airflow_resumable import Checkpointer
    from airflow_resumable.testing import InMemoryStateBackend

    logging.getLogger("airflow_resumable").setLevel(logging.INFO)
    backend = InMemoryStateBackend()
    overheads = []
    writes = 0
    print(f"Part 2: in-memory store, {loop_items:,} no-op items through iterate() vs a bare loop")
    for _ in range(max(rounds, 5)):
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
        f"  overhead per item: {median * 1e9:.0f} ns (median of {len(overheads)} runs; "
        f"runs: {', '.join(f'{o * 1e9:.0f}' for o in overheads)} ns)"
    )
    print(f"  store writes: {writes} for {loop_items:,} items")
    print(f"  target <= 1 us per item: {'met' if median <= 1e-6 else 'MISSED'}")
    return median <= 1e-6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rounds", type=int, default=11, help="rounds of the no-checkpoint and Checkpointer runs"
    )
    parser.add_argument("--naive-rounds", type=int, default=3, help="rounds of the (slow) write-per-item run")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--loop-items", type=int, default=1_000_000)
    parser.add_argument("--skip-airflow", action="store_true", help="only run part 2")
    args = parser.parse_args(argv)
    ok = True
    if not args.skip_airflow:
        ok = part_inside_airflow(args.rounds, min(args.naive_rounds, args.rounds), args.items)
        print()
    ok = part_hot_path(args.loop_items, args.rounds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
