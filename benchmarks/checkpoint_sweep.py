"""The Checkpointer's cost over a sweep of item costs and loop lengths, against a bare loop.

Each cell is a loop of ``items`` calibrated busy-work items (about ``cost`` seconds each, ``seconds`` of work
in all). It runs in rounds; a round runs the same loop once per mode in the same process, in an order that
rotates from round to round (``bare`` first in one round, the Checkpointer first in the next), and the cell's
ratio is the median of the per-round ratios ``Checkpointer / bare``, so a machine that drifts between rounds
does not bias it. Modes:

- ``bare``: ``for item in range(n): work()``.
- ``checkpointer``: the same loop through ``Checkpointer(...).iterate()`` at the default policy, the read on
  entry and the delete on exit included.
- ``old``: the same with the former default ``every(1000) | every_seconds(30)``, for comparison.

The same code runs inside real Airflow (``bench_checkpoint.py``: one ``dag.test()`` DAG run per cell, the
real ``task_state_store``) and, for the smoke test, on the in-memory store (:func:`measure_cell`).
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MODES = ("bare", "checkpointer")
COSTS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
LENGTHS = (2.0, 20.0)


def goal(cost: float, seconds: float) -> float:
    """The target ratio of a cell: 1.10x at 1 µs items, 1.005x for loops of 20 s or more, else 1.02x."""
    if cost < 5e-6:
        return 1.10
    return 1.005 if seconds >= 20 else 1.02


def work(spin: int) -> int:
    """One item: a busy loop of ``spin`` steps."""
    x = 0
    for i in range(spin):
        x += i
    return x


def _per_call(spin: int, calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            work(spin)
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def calibrate(cost: float) -> int:
    """Busy-loop steps per item so that an item (the call included) takes about ``cost`` seconds."""
    base = _per_call(0, 20_000)
    big = 20_000
    step = (_per_call(big, 50) - base) / big
    return max(0, round((cost - base) / step))


class CountingStore:
    """Wraps a task store: counts writes and records when each store call started and ended."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.sets = 0
        self.deletes = 0
        self.calls: list[tuple[float, float]] = []

    def _timed(self, method: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args, **kwargs)
        finally:
            self.calls.append((started, time.perf_counter()))

    def get(self, key: str, default: Any = None) -> Any:
        return self._timed("get", key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.sets += 1
        self._timed("set", key, value, retention=retention)

    def delete(self, key: str) -> None:
        self.deletes += 1
        self._timed("delete", key)

    def worst_redo(self, loop_end: float) -> float:
        """The longest stretch of work from one store call ending to the next starting or the loop's end:
        what a hard crash at the worst moment would make a retry redo."""
        marks = [*self.calls, (loop_end, loop_end)]
        return max((nxt[0] - prev[1] for prev, nxt in itertools.pairwise(marks)), default=0.0)


def run_loop(mode: str, store: Any, items: int, spin: int, key: str) -> dict[str, Any]:
    """Run one loop in ``mode``: its wall time, process CPU time, store writes and worst-case redo."""
    from airflow_resumable import Checkpointer, every, every_seconds

    counting = CountingStore(store)
    loop_end = 0.0
    wall, cpu = time.perf_counter(), time.process_time()
    if mode == "bare":
        for _item in range(items):
            work(spin)
    else:
        kwargs: dict[str, Any] = {}
        if mode == "old":
            kwargs["commit"] = every(1000) | every_seconds(30)
        with Checkpointer(key, initial=0, store=counting, **kwargs) as ckpt:
            for _item in ckpt.iterate(range(items)):
                work(spin)
            loop_end = time.perf_counter()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "wall": wall,
        "cpu": cpu,
        "writes": counting.sets + counting.deletes,
        "store": sum(end - start for start, end in counting.calls),
        "redo": counting.worst_redo(loop_end) if mode != "bare" else 0.0,
    }


def measure_cell(
    store: Any, items: int, spin: int, rounds: int, modes: Sequence[str] = MODES, label: str = "cell"
) -> list[dict[str, dict[str, Any]]]:
    """Run ``rounds`` rounds of every mode (rotating order); one ``{mode: run_loop(...)}`` per round."""
    for mode in modes:  # first calls and imports, a commit included
        run_loop(mode, store, min(items // 100 + 1, 1001), spin, f"{label}-warmup-{mode}")
    results = []
    for number in range(rounds):
        shift = number % len(modes)
        round_result = {}
        for mode in [*modes[shift:], *modes[:shift]]:
            round_result[mode] = run_loop(mode, store, items, spin, f"{label}-{number}-{mode}")
        results.append(round_result)
    return results


@dataclass
class Cell:
    """One cell of the sweep and what was measured in it."""

    cost: float
    seconds: float
    items: int
    spin: int
    rounds: int
    modes: tuple[str, ...] = MODES
    results: list[dict[str, dict[str, Any]]] = field(default_factory=list)

    def ratio(self, mode: str = "checkpointer", clock: str = "wall") -> float:
        """Median over rounds of ``mode / bare`` (``clock``: ``wall`` or ``cpu`` time)."""
        return statistics.median(r[mode][clock] / r["bare"][clock] for r in self.results)

    def fastest(self, mode: str = "checkpointer") -> float:
        """``mode / bare`` of the fastest run of each: the least disturbed runs on a busy machine."""
        return min(r[mode]["wall"] for r in self.results) / min(r["bare"]["wall"] for r in self.results)

    def item_cost(self) -> float:
        """The measured cost of one bare item (median over rounds)."""
        return statistics.median(r["bare"]["wall"] for r in self.results) / self.items

    def writes(self, mode: str = "checkpointer") -> int:
        return max(r[mode]["writes"] for r in self.results)

    def store_seconds(self, mode: str = "checkpointer") -> float:
        """Median time one loop spent in store calls (the read on entry, writes, the delete)."""
        return statistics.median(r[mode].get("store", math.nan) for r in self.results)

    def store_share(self, mode: str = "checkpointer") -> str:
        """The store time as a share of the bare loop's time: the round trips' part of the overhead."""
        share = self.store_seconds(mode) / statistics.median(r["bare"]["wall"] for r in self.results)
        return "" if math.isnan(share) else f" ({share:.2%})"

    def accounted(self, per_item: float) -> float:
        """1 + (store time + items x ``per_item`` seconds) / bare time: the overhead there for sure."""
        bare = statistics.median(r["bare"]["wall"] for r in self.results)
        return 1 + (self.store_seconds() + self.items * per_item) / bare

    def redo(self, mode: str = "checkpointer") -> float:
        return max(r[mode]["redo"] for r in self.results)

    def met(self) -> bool:
        return self.ratio() <= goal(self.cost, self.seconds)


def plan(
    costs: Sequence[float],
    lengths: Sequence[float],
    rounds_short: int,
    rounds_long: int,
    *,
    old: bool = False,
) -> list[Cell]:
    """The cells to run (calibrated here: call it in the process that runs them)."""
    cells = []
    for seconds in lengths:
        for cost in costs:
            items = max(1, round(seconds / cost))
            modes = ("bare", "checkpointer", "old") if old and seconds < 20 and cost >= 1e-5 else MODES
            rounds = rounds_long if seconds >= 20 else rounds_short
            cells.append(Cell(cost, seconds, items, calibrate(cost), rounds, modes))
    return cells


def _fmt_ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1e3:.0f} ms"


def _fmt_cost(cost: float) -> str:
    return f"{cost * 1e6:.0f} µs" if cost < 1e-3 else f"{cost * 1e3:.0f} ms"


def table(cells: Sequence[Cell], per_item: float | None = None) -> str:
    """The sweep as a markdown table; with ``per_item`` (the hot path's seconds per item) also the
    accounted ratio: 1 + (store time + items x per_item) / bare time, the overhead without the noise."""
    extra = " accounted |" if per_item is not None else ""
    lines = [
        "| item cost | loop | items | bare loop, measured | rounds | ratio | fastest | CPU | goal | writes | "
        f"store time |{extra} worst redo | former default |",
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if extra else "") + "---|---|",
    ]
    for cell in cells:
        old = f"{cell.ratio('old'):.3f}x, {cell.writes('old')} writes" if "old" in cell.modes else ""
        lines.append(
            f"| {_fmt_cost(cell.cost)} | {cell.seconds:g} s | {cell.items:,} | "
            f"{cell.item_cost() * cell.items:.1f} s | {len(cell.results)} | "
            f"{cell.ratio():.4f}x | {cell.fastest():.4f}x | {cell.ratio(clock='cpu'):.4f}x | "
            f"≤ {goal(cell.cost, cell.seconds):g}x {'met' if cell.met() else 'MISSED'} | {cell.writes()} | "
            f"{_fmt_ms(cell.store_seconds())}{cell.store_share()} |"
            + (f" {cell.accounted(per_item):.4f}x |" if per_item is not None else "")
            + f" {cell.redo():.2f} s | {old} |"
        )
    return "\n".join(lines)


def save(cells: Sequence[Cell], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(c) for c in cells], indent=1))


def load(path: Path) -> list[Cell]:
    cells = []
    for raw in json.loads(path.read_text()):
        raw["modes"] = tuple(raw["modes"])
        cells.append(Cell(**raw))
    return cells


def chart(cells: Sequence[Cell], path: Path, note: str = "") -> None:
    """Two log-x panels over the item cost: the default's ratio per loop length with its goal (dashed),
    and, where it was run, the former default beside it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    olds = [c for c in cells if "old" in c.modes and c.results]
    fig, axes = plt.subplots(1, 2 if olds else 1, figsize=(11 if olds else 7, 4.2), dpi=110, squeeze=False)
    ax = axes[0][0]
    lengths = sorted({c.seconds for c in cells})
    for seconds, color in zip(lengths, ["tab:blue", "tab:green", "tab:purple"], strict=False):
        row = [c for c in cells if c.seconds == seconds and c.results]
        xs = [c.cost for c in row]
        ax.plot(xs, [c.ratio() for c in row], "o-", color=color, label=f"{seconds:g} s loops")
        ax.plot(xs, [goal(c.cost, seconds) for c in row], "--", color=color, alpha=0.6, linewidth=1)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_title("Default cost_aware(30): Checkpointer / bare loop", fontsize=10)
    ax.set_ylabel("time ratio (median of paired rounds)")
    if olds:
        right = axes[0][1]
        right.plot([c.cost for c in olds], [c.ratio() for c in olds], "o-", color="tab:blue", label="default")
        right.plot(
            [c.cost for c in olds],
            [c.ratio("old") for c in olds],
            "x:",
            color="tab:red",
            label="former every(1000) | every_seconds(30)",
        )
        right.axhline(1.0, color="grey", linewidth=0.8)
        right.set_title(f"Against the former default ({olds[0].seconds:g} s loops)", fontsize=10)
    for axis in [a for row in axes for a in row]:
        axis.set_xscale("log")
        axis.set_xlabel("cost of one item (s)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    if note:
        fig.text(0.01, 0.01, note, fontsize=7, color="grey")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def render_into(doc: Path, cells: Sequence[Cell], note: str, per_item: float | None = None) -> None:
    """Replace the table between ``<!-- sweep-table -->`` and ``<!-- /sweep-table -->`` in ``doc``."""
    text = doc.read_text()
    start, end = "<!-- sweep-table -->", "<!-- /sweep-table -->"
    if start not in text or end not in text:
        raise SystemExit(f"{doc} has no {start} ... {end} section to fill in")
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    text_table = table(cells, per_item)
    body = f"{start}\n{note}\n\n{text_table}\n{end}" if note else f"{start}\n{text_table}\n{end}"
    doc.write_text(head + body + tail)
