"""Out-of-order completion: only the lowest contiguous finished position is committed; what finished above
it is stored as compact runs, and a retry skips both."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable import Checkpointer, CheckpointError, InvalidValueError, every
from airflow_resumable._checkpoint_record import MAX_PENDING_RANGES

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


def test_done_in_any_order_commits_the_lowest_contiguous_position(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("files", store=task_state_store, commit=every(1), clear_on_success=False) as ckpt:
        for position in [2, 5, 1, 6, 9]:
            ckpt.done(position)
        record = task_state_store.get("files")
        assert record["position"] == 2
        assert record["pending"] == [[5, 6], [9, 9]]
        assert record["items_done"] == 5
        ckpt.done(3)
        ckpt.done(4)
        assert task_state_store.get("files")["position"] == 6
        assert task_state_store.get("files")["pending"] == [[9, 9]]
        ckpt.done(5)  # again: no effect
        assert ckpt.items_done == 7


def test_a_retry_skips_the_contiguous_prefix_and_the_runs_above_it(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    items = [f"file-{n}" for n in range(1, 11)]

    def try_1() -> None:
        with Checkpointer("files", store=task_state_store) as ckpt:
            for position, _item in ckpt.remaining(items):
                if position in (1, 2, 3, 6, 7, 9):
                    ckpt.done(position)
            raise RuntimeError("worker pool died")

    with pytest.raises(RuntimeError):
        try_1()
    assert task_state_store.get("files")["pending"] == [[6, 7], [9, 9]]

    with Checkpointer("files", store=task_state_store) as ckpt:
        left = list(ckpt.remaining(items))
        assert left == [(4, "file-4"), (5, "file-5"), (8, "file-8"), (10, "file-10")]
        for position, _ in left:
            ckpt.done(position)
        assert ckpt.items_done == 10
    assert task_state_store.keys() == []


def test_iterate_also_skips_items_finished_out_of_order(task_state_store: InMemoryTaskStateStore) -> None:
    def out_of_order_try() -> None:
        with Checkpointer("files", store=task_state_store) as ckpt:
            for position in (1, 4, 5):
                ckpt.done(position)
            raise RuntimeError

    seen = []

    def in_order_try() -> None:
        with Checkpointer("files", store=task_state_store) as ckpt:
            for item in ckpt.iterate("abcdefg"):
                if item == "f":
                    raise RuntimeError
                seen.append(item)

    with pytest.raises(RuntimeError):
        out_of_order_try()
    with pytest.raises(RuntimeError):
        in_order_try()
    assert seen == ["b", "c"]
    assert task_state_store.get("files")["position"] == 5
    with Checkpointer("files", store=task_state_store) as ckpt:
        assert [item for item in ckpt.iterate("abcdefg")] == ["f", "g"]


def test_a_thread_pool_with_track(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    items = list(range(1, 201))
    processed: list[int] = []
    lock = threading.Lock()

    def work(item: int) -> None:
        time.sleep(random.random() / 2000)
        if item == 150:
            raise OSError("item 150 failed")
        with lock:
            processed.append(item)

    def try_1() -> None:
        with Checkpointer("items", store=store, commit=every(20)) as ckpt:
            with ThreadPoolExecutor(8) as pool:
                futures = [
                    ckpt.track(position, pool.submit(work, item)) for position, item in ckpt.remaining(items)
                ]
            for future in futures:
                future.result()

    with pytest.raises(OSError, match="item 150 failed"):
        try_1()
    record = store.get("items")
    assert record["position"] == 149  # 150 failed: nothing from it on is contiguous
    assert record["pending"] == [[151, 200]]
    assert record["items_done"] == 199

    with Checkpointer("items", store=store) as ckpt:
        assert list(ckpt.remaining(items)) == [(150, 150)]
        ckpt.done(150)
    assert sorted(processed) == [i for i in items if i != 150]


def test_done_is_thread_safe(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    rng = random.Random(7)
    positions = []
    for start in range(1, 5001, 64):  # workers finish close to, but not in, submission order
        window = list(range(start, min(start + 64, 5001)))
        rng.shuffle(window)
        positions.extend(window)
    with Checkpointer("items", store=store, commit=every(100), clear_on_success=False) as ckpt:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(ckpt.done, positions))
        assert ckpt.items_done == 5000
    record = store.get("items")
    assert record["position"] == 5000
    assert "pending" not in record
    assert record["items_done"] == 5000


def test_too_many_gaps_is_a_clear_error_before_the_value_grows_too_big(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("items", store=task_state_store, commit=every(10_000), clear_on_success=False) as ckpt:
        for n in range(MAX_PENDING_RANGES):
            ckpt.done(3 + 2 * n)  # every other position: each one is its own run
        with pytest.raises(CheckpointError, match="more than 1000 separate runs"):
            ckpt.done(3 + 2 * MAX_PENDING_RANGES)
        ckpt.done(1)  # filling gaps still works
        ckpt.done(2)
    record = task_state_store.get("items")
    assert len(record["pending"]) == MAX_PENDING_RANGES - 1
    assert record["position"] == 3


def test_the_stored_value_stays_far_under_the_limit_at_the_worst_case(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    import json

    big = 10**12
    with Checkpointer(
        "items", store=task_state_store, initial=big, commit=every(10_000), clear_on_success=False
    ) as c:
        for n in range(MAX_PENDING_RANGES):
            c.done(big + 2 + 2 * n)
    assert len(json.dumps(task_state_store.get("items"))) < 40_000


def test_track_does_not_mark_failed_or_cancelled_futures(task_state_store: InMemoryTaskStateStore) -> None:
    from concurrent.futures import Future

    with Checkpointer("items", store=task_state_store, clear_on_success=False) as ckpt:
        ok: Future[None] = Future()
        failed: Future[None] = Future()
        cancelled: Future[None] = Future()
        ckpt.track(1, ok)
        ckpt.track(2, failed)
        ckpt.track(3, cancelled)
        ok.set_result(None)
        failed.set_exception(ValueError())
        cancelled.cancel()
    assert task_state_store.get("items")["position"] == 1
    assert "pending" not in task_state_store.get("items")


def test_an_error_inside_a_track_callback_surfaces_at_the_end(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    from concurrent.futures import Future

    def run() -> None:
        with Checkpointer("items", store=task_state_store, commit=every(10_000)) as ckpt:
            for n in range(MAX_PENDING_RANGES):
                ckpt.done(3 + 2 * n)
            future: Future[None] = Future()
            ckpt.track(3 + 2 * MAX_PENDING_RANGES, future)
            future.set_result(None)  # the callback fails; the error waits for the block to end

    with pytest.raises(CheckpointError, match="separate runs"):
        run()
    assert len(task_state_store.get("items")["pending"]) == MAX_PENDING_RANGES  # progress saved, not cleared


@pytest.mark.parametrize("bad", ["3", 2.0, True, None])
def test_done_takes_int_positions(task_state_store: InMemoryTaskStateStore, bad: Any) -> None:
    with Checkpointer("items", store=task_state_store) as ckpt, pytest.raises(InvalidValueError, match="int"):
        ckpt.done(bad)


def test_done_and_advance_do_not_mix(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("items", store=task_state_store) as ckpt:
        ckpt.done(3)
        with pytest.raises(CheckpointError, match="done\\(\\), not advance"):
            ckpt.advance(5)
        with pytest.raises(CheckpointError, match="out-of-order progress"):
            ckpt.iterate([1, 2], key=lambda n: n)


class _GatedStore:
    """A task store whose calls of ``method`` numbered in ``gated`` set ``entered`` and wait for ``go``."""

    def __init__(self, inner: InMemoryTaskStateStore, method: str, gated: set[int]) -> None:
        self.inner, self.method, self.gated = inner, method, gated
        self.calls = 0
        self.entered = threading.Event()
        self.go = threading.Event()

    def _gate(self, method: str) -> None:
        if method != self.method:
            return
        self.calls += 1
        if self.calls in self.gated:
            self.entered.set()
            assert self.go.wait(10)

    def get(self, key: str, default: Any = None) -> Any:
        self._gate("get")
        return self.inner.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self._gate("set")
        self.inner.set(key, value, retention=retention)

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def test_concurrent_first_calls_of_done_do_not_load_twice(task_state_store: InMemoryTaskStateStore) -> None:
    # Two threads call done() before anything was loaded: the slower load must not wipe the faster
    # thread's progress.
    store = _GatedStore(task_state_store, "get", {1})
    ckpt = Checkpointer("items", store=store, commit=every(1000))  # type: ignore[arg-type]
    slow = threading.Thread(target=ckpt.done, args=(2,))
    slow.start()
    assert store.entered.wait(10)  # the slow thread is reading, nothing loaded yet
    fast = threading.Thread(target=ckpt.done, args=(1,))
    fast.start()
    fast.join(10)
    store.go.set()
    slow.join(10)
    assert ckpt.items_done == 2
    ckpt.commit()
    assert task_state_store.get("items")["position"] == 2


def test_an_async_commit_landing_late_does_not_leave_older_progress_stored(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    # acommit() writes outside the thread lock; a done() in a worker thread (track() with a thread pool)
    # may write newer progress meanwhile. The older write landing last must not be taken as the newest.
    store = _GatedStore(task_state_store, "set", {1})

    async def main() -> None:
        async with Checkpointer("items", store=store, commit=every(1)) as ckpt:  # type: ignore[arg-type]
            first = asyncio.create_task(ckpt.adone(1))  # its write (position 1) waits for the gate
            assert await asyncio.to_thread(store.entered.wait, 10)
            await asyncio.to_thread(ckpt.done, 2)  # writes position 2 and returns
            assert task_state_store.get("items")["position"] == 2
            store.go.set()
            await first  # position 1 lands now, over position 2
            raise RuntimeError("the task fails")

    with pytest.raises(RuntimeError, match="the task fails"):
        asyncio.run(main())
    assert task_state_store.get("items")["position"] == 2  # saved on the way out: the retry redoes nothing
