"""Property: whatever shape the user's loop has, no item is ever skipped and the redo stays bounded.

Hypothesis draws a loop shape (a plain loop, a tenacity retry around it, a caught exception and a new
loop, ``break`` then a second loop, nested loops with their own keys, a thread pool through ``map()``,
``async for``, cursor positions), a commit cadence, and failures at random items: a transient error the
task's own code retries, an exception that fails the try, or a hard crash (the worker dies: nothing it
writes afterwards lands, not even the ``with`` block's save), each before or after the item's work ran, or
a hard crash inside a store write. Tries repeat, sharing the store, until one succeeds.

Invariants: every item's work completed at least once across all tries (nothing skipped), and the work
repeated is bounded by what the failures may cost: the item in flight after a soft failure, the cadence
after a hard crash.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import tenacity
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from airflow_resumable import Checkpointer, every
from airflow_resumable.testing import InMemoryTaskStateStore

SHAPES = ["plain", "tenacity", "caught", "break", "nested", "pool", "async", "keyed"]
RETRIES_IN_TASK = {"tenacity", "caught", "break", "pool", "async", "keyed"}
GROUP = 4  # items per inner loop in the nested shape
IN_FLIGHT = 3  # calls ahead in the pool shape


class WorkerDied(BaseException):
    """The worker process is killed: nothing after this point happens in this try."""


class Transient(Exception):
    """An error the task's own code retries (tenacity, or a try/except around the loop)."""


class Failed(Exception):
    """An error that fails the try."""


@dataclass
class Failure:
    item: int
    kind: str  # "transient" | "soft" | "hard"
    when: str  # "before" | "after" the item's work


class DyingStore:
    """The task store of one try: after the worker died, writes never land (and one write may kill it)."""

    def __init__(self, inner: InMemoryTaskStateStore, die_on_write: int | None) -> None:
        self.inner, self.die_on_write, self.writes, self.dead = inner, die_on_write, 0, False
        self.died_writing = False

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        if self.dead:
            return
        self.writes += 1
        if self.writes == self.die_on_write:
            self.dead = self.died_writing = True
            raise WorkerDied(f"killed during write {self.writes}")
        self.inner.set(key, value, retention=retention)

    def delete(self, key: str) -> None:
        if not self.dead:
            self.inner.delete(key)


@dataclass
class World:
    n_items: int
    cadence: int
    failures: dict[int, Failure]
    completed: list[int] = field(default_factory=list)
    store: DyingStore | None = None

    def work(self, item: int) -> int:
        failure = self.failures.get(item)
        if failure is not None and failure.when == "before":
            self.fire(failure)
        self.completed.append(item)
        if failure is not None and failure.when == "after":
            self.fire(failure)
        return item

    def fire(self, failure: Failure) -> None:
        del self.failures[failure.item]  # each failure happens once
        if failure.kind == "hard":
            assert self.store is not None
            self.store.dead = True
            raise WorkerDied(f"killed at item {failure.item}")
        raise (Transient if failure.kind == "transient" else Failed)(failure.item)


def retried_in_task(body: Any) -> None:
    """What users write around a loop that may hit a transient error: catch it and loop again."""
    while True:
        try:
            body()
            return
        except Transient:
            continue


def run_try(shape: str, world: World) -> None:
    items = list(range(1, world.n_items + 1))
    store, policy = world.store, every(world.cadence)

    if shape == "async":

        async def main() -> None:
            async with Checkpointer("rows", store=store, commit=policy) as ckpt:
                while True:
                    try:
                        async for item in ckpt.aiterate(items):
                            world.work(item)
                        return
                    except Transient:
                        continue

        asyncio.run(main())
        return

    if shape == "nested":
        groups = [items[i : i + GROUP] for i in range(0, len(items), GROUP)]
        with Checkpointer("groups", store=store, commit=policy) as outer:
            for group in outer.iterate(groups):
                # Keyed by the group itself: an enumerate() counter restarts at 0 on the retry, where the
                # outer loop skips the groups already done, and would resume another group's progress.
                with Checkpointer(f"group-{group[0]}", store=store, commit=policy) as inner:
                    for item in inner.iterate(group):
                        world.work(item)
        return

    with Checkpointer("rows", store=store, commit=policy) as ckpt:
        if shape == "plain":
            for item in ckpt.iterate(items):
                world.work(item)
        elif shape == "tenacity":

            @tenacity.retry(retry=tenacity.retry_if_exception_type(Transient), wait=tenacity.wait_none())
            def load() -> None:
                for item in ckpt.iterate(items):
                    world.work(item)

            load()
        elif shape in ("caught", "keyed"):
            key = (lambda item: item * 10) if shape == "keyed" else None

            def loop() -> None:
                for item in ckpt.iterate(items, key=key):
                    world.work(item)

            retried_in_task(loop)
        elif shape == "break":

            def two_loops() -> None:
                for item in ckpt.iterate(items):
                    world.work(item)
                    if item % 3 == 0:
                        break  # after the item's work: it is done, the next loop continues after it
                for item in ckpt.iterate(items):
                    world.work(item)

            retried_in_task(two_loops)
        elif shape == "pool":

            def pooled() -> None:
                with ThreadPoolExecutor(2) as pool:
                    for _ in ckpt.map(world.work, items, pool, in_flight=IN_FLIGHT):
                        pass

            retried_in_task(pooled)
        else:  # pragma: no cover
            raise AssertionError(shape)


def redo_bound(shape: str, cadence: int, failures: list[Failure], write_crash: bool) -> int:
    """The most work the failures may make a retry repeat."""
    hard = cadence + 1  # uncommitted items, plus the one in flight if its work had run
    if shape == "nested":
        hard = (cadence + 1) * GROUP + cadence + 1  # a finished group whose completion was not committed
    if shape == "pool":
        hard = cadence + IN_FLIGHT + 1  # calls running when the worker died finish unrecorded
    bound = hard if write_crash else 0
    for failure in failures:
        if failure.kind == "hard":
            bound += hard
        elif failure.when == "after":
            bound += 1
    return bound


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, int, int, list[Failure], int | None]:
    shape = draw(st.sampled_from(SHAPES))
    n_items = draw(st.integers(1, 24))
    cadence = draw(st.integers(1, 6))
    positions = draw(st.lists(st.integers(1, n_items), unique=True, max_size=4))
    failures = [
        Failure(
            item,
            draw(st.sampled_from(["transient", "soft", "hard"])),
            draw(st.sampled_from(["before", "after"])),
        )
        for item in positions
    ]
    die_on_write = draw(st.none() | st.integers(1, 8))
    return shape, n_items, cadence, failures, die_on_write


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
# The write that kills the worker runs in a pool thread (the commit of a done() callback): the try then ends
# with the loop's own error, not WorkerDied, and the redo bound is still that of a hard crash.
@example(scenario=("pool", 3, 1, [Failure(item=1, kind="soft", when="before")], 1))
# The hard crash at item 3 happens in a pool thread whose future is cancelled unread, after a transient error
# at item 1: the worker is dead although the main thread goes on; the try ends there.
@example(
    scenario=(
        "pool",
        4,
        1,
        [Failure(1, "transient", "before"), Failure(4, "transient", "before"), Failure(3, "hard", "before")],
        None,
    )
)
def test_no_loop_shape_skips_an_item_and_redo_is_bounded(
    scenario: tuple[str, int, int, list[Failure], int | None],
) -> None:
    shape, n_items, cadence, failures, die_on_write = scenario
    inner = InMemoryTaskStateStore()
    world = World(n_items, cadence, {failure.item: failure for failure in failures})
    outcomes = []
    stores = []
    for try_number in range(1, len(failures) + 3):
        world.store = DyingStore(inner, die_on_write if try_number == 1 else None)
        stores.append(world.store)
        try:
            run_try(shape, world)
            outcome = "success"
        except (WorkerDied, Failed, Transient) as exc:
            outcome = type(exc).__name__
        if world.store.dead:  # it died in a pool thread whose error nobody read: the try ended there
            outcome = "WorkerDied"
        outcomes.append(outcome)
        if outcome == "success":
            break

    assert outcomes[-1] == "success", outcomes
    assert set(world.completed) == set(range(1, n_items + 1)), "an item was skipped"
    write_crash = any(store.died_writing for store in stores)
    redone = len(world.completed) - n_items
    assert redone <= redo_bound(shape, cadence, failures, write_crash), (outcomes, world.completed)
    assert inner.keys() == []  # success cleared every checkpoint
