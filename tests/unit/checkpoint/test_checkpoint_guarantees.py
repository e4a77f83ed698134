"""One open block per key, nothing recorded after the block ended, datetimes compared by instant, and the
pool helper that records each item when its call returns."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from airflow_resumable import Checkpointer, CheckpointError, every

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


class Boom(Exception):
    pass


# -- defect 5: two open Checkpointers on one key -----------------------------------------------------------
def test_a_nested_checkpointer_on_the_same_key_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("progress", store=task_state_store, clear_on_success=False) as outer:
        for _ in outer.iterate(["a", "b"]):
            with (
                pytest.raises(CheckpointError, match="already open in this task"),
                Checkpointer("progress", store=task_state_store) as inner,
            ):
                for _ in inner.iterate(range(3)):
                    pass
    assert task_state_store.get("progress")["position"] == 2


def test_the_key_is_free_again_after_the_block_ends_either_way(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with pytest.raises(Boom), Checkpointer("progress", store=task_state_store):
        raise Boom
    with Checkpointer("progress", store=task_state_store), Checkpointer("other", store=task_state_store):
        pass
    with Checkpointer("progress", store=task_state_store):
        pass


def test_the_same_key_in_another_store_is_another_key(state_backend: InMemoryStateBackend) -> None:
    one, two = state_backend.task_store(map_index=0), state_backend.task_store(map_index=1)
    with Checkpointer("progress", store=one), Checkpointer("progress", store=two):
        pass


def test_a_nested_async_block_on_the_same_key_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> None:
        async with (
            Checkpointer("progress", store=task_state_store),
            Checkpointer("progress", store=task_state_store),
        ):
            pass

    with pytest.raises(CheckpointError, match="already open"):
        asyncio.run(main())


# -- defect 6: nothing recorded after the block ended ------------------------------------------------------
def test_done_after_the_block_is_refused_and_writes_nothing(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("images", store=task_state_store, commit=every(1)) as ckpt:
        for pos, _ in ckpt.remaining(range(3)):
            ckpt.done(pos)
    assert task_state_store.keys() == []
    with pytest.raises(CheckpointError, match="after the with block ended"):
        ckpt.done(4)
    assert task_state_store.keys() == []


def test_a_future_finishing_after_the_block_never_writes(
    task_state_store: InMemoryTaskStateStore,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    late: Future[None] = Future()

    def resize_all() -> None:
        with Checkpointer("images", store=task_state_store, commit=every(1)) as ckpt:
            for pos, _ in ckpt.remaining(range(3)):
                if pos == 3:
                    ckpt.track(pos, late)  # as if the pool's block were around the Checkpointer's
                else:
                    ckpt.done(pos)

    with pytest.raises(CheckpointError, match="still running"):
        resize_all()
    saved = task_state_store.get("images")
    assert saved["position"] == 2  # the block did not claim position 3

    with caplog.at_level(logging.ERROR, logger="airflow_resumable.checkpoint"):
        late.set_result(None)
    assert task_state_store.get("images") == saved
    assert "not recorded" in caplog.text + capsys.readouterr().out  # stdlib logging, or Airflow's handler


def _record_until_refused(ckpt: Checkpointer, started: threading.Event, refused: list[int]) -> None:
    position = 1
    while True:
        try:
            ckpt.done(position)
        except CheckpointError:
            refused.append(position)
            return
        started.set()
        position += 1
        time.sleep(0)  # the work between two items (a tight loop would starve the thread ending the block)


def test_done_racing_the_end_of_the_block_never_recreates_the_key(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    # A worker thread records positions as fast as it can while the block ends: whatever it managed before
    # the end is cleared with the key, and nothing after the end writes it again.
    task_state_store.set("warm-up", 1)  # the first write imports the worker channel's encoder: seconds
    task_state_store.delete("warm-up")
    for _ in range(5):
        started, refused = threading.Event(), []
        ckpt = Checkpointer("images", store=task_state_store, commit=every(1))
        with ckpt:
            thread = threading.Thread(
                target=_record_until_refused, args=(ckpt, started, refused), daemon=True
            )
            thread.start()
            assert started.wait(60)
        thread.join(10)
        assert refused
        assert task_state_store.keys() == []


def test_adone_after_the_block_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> Checkpointer:
        async with Checkpointer("pages", store=task_state_store, commit=every(1)) as ckpt:
            await ckpt.adone(1)
        return ckpt

    ckpt = asyncio.run(main())
    with pytest.raises(CheckpointError, match="after the with block ended"):
        asyncio.run(ckpt.adone(2))
    assert task_state_store.keys() == []


class GatedAsyncStore:
    """A store with native async methods whose writes wait for a gate to open."""

    def __init__(self, inner: InMemoryTaskStateStore) -> None:
        self.inner = inner
        self.gate: asyncio.Event | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    async def aget(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    async def aset(self, key: str, value: Any, *, retention: Any = None) -> None:
        assert self.gate is not None
        await self.gate.wait()
        self.inner.set(key, value, retention=retention)

    async def adelete(self, key: str) -> None:
        self.inner.delete(key)


def test_an_async_write_still_landing_when_the_block_ends_is_cleared_after_it(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    store = GatedAsyncStore(task_state_store)

    async def main() -> None:
        store.gate = asyncio.Event()
        async with Checkpointer("pages", store=store, commit=every(1)) as ckpt:  # type: ignore[arg-type]
            recording = asyncio.create_task(ckpt.adone(1))  # not awaited in the block
            await asyncio.sleep(0.01)  # adone is in its write, waiting at the gate
            asyncio.get_running_loop().call_later(0.05, store.gate.set)
        await recording

    asyncio.run(main())
    assert task_state_store.keys() == []


def test_advance_after_the_block_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, commit=every(1)) as ckpt:
        ckpt.advance(1)
    with pytest.raises(CheckpointError, match="after the with block ended"):
        ckpt.advance(2)
    assert task_state_store.keys() == []


# -- defect 9: datetimes across a DST change ---------------------------------------------------------------
NEW_YORK = ZoneInfo("America/New_York")


# Sorted by instant across the end of daylight saving time (2026-11-01, 02:00 EDT -> 01:00 EST): by wall clock
# 01:10 EST (fold=1) looks earlier than 01:30 EDT.
def utc(moment: datetime) -> datetime:
    # Compare instants in UTC: an ambiguous time with fold=1 never equals a time in another zone (PEP 495).
    return moment.astimezone(timezone.utc)


EVENTS = [
    datetime(2026, 11, 1, 0, 50, tzinfo=NEW_YORK),
    datetime(2026, 11, 1, 1, 30, tzinfo=NEW_YORK),
    datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=NEW_YORK),
    datetime(2026, 11, 1, 1, 40, fold=1, tzinfo=NEW_YORK),
    datetime(2026, 11, 1, 2, 10, tzinfo=NEW_YORK),
]


def test_keys_across_the_end_of_dst_compare_by_instant(task_state_store: InMemoryTaskStateStore) -> None:
    assert sorted(EVENTS, key=utc) == EVENTS
    with Checkpointer("events", store=task_state_store) as ckpt:
        seen = [event for event in ckpt.iterate(EVENTS, key=lambda e: e)]
    assert seen == EVENTS


@pytest.mark.parametrize("fail_at", range(1, 5))
def test_a_retry_across_the_end_of_dst_resumes_at_the_failed_event(
    task_state_store: InMemoryTaskStateStore, fail_at: int
) -> None:
    seen: list[datetime] = []

    def first_try() -> Checkpointer:
        with Checkpointer("events", store=task_state_store) as ckpt:
            for event in ckpt.iterate(EVENTS, key=lambda e: (e, "id")):
                if event is EVENTS[fail_at]:
                    raise Boom(ckpt)
                seen.append(event)
        raise AssertionError

    with pytest.raises(Boom) as failed:
        first_try()
    stored = failed.value.args[0].position[0]
    assert stored.utcoffset() == timedelta(0)
    assert stored == utc(EVENTS[fail_at - 1])
    with Checkpointer("events", store=task_state_store) as ckpt:
        for event in ckpt.iterate(EVENTS, key=lambda e: (e, "id")):
            seen.append(event)
    assert seen == EVENTS


def test_advance_stores_datetimes_in_utc(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("events", store=task_state_store, clear_on_success=False) as ckpt:
        ckpt.advance(EVENTS[2])
    with Checkpointer("events", store=task_state_store) as ckpt:
        assert ckpt.position == utc(EVENTS[2])
        assert [event for event in ckpt.iterate(EVENTS, key=lambda e: e)] == EVENTS[3:]


# -- the pool helper ---------------------------------------------------------------------------------------
def test_map_runs_each_unfinished_item_in_the_pool_and_records_it(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with (
        Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt,
        ThreadPoolExecutor(3) as pool,
    ):
        assert list(ckpt.map(lambda n: n * 10, range(1, 21), pool, in_flight=4)) == [
            n * 10 for n in range(1, 21)
        ]
    assert task_state_store.get("rows")["position"] == 20


def test_map_after_a_failure_redoes_the_failed_item_and_nothing_it_finished(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    calls: list[tuple[int, int]] = []

    def load(n: int, attempt: int) -> int:
        calls.append((attempt, n))
        if attempt == 1 and n == 7:
            raise Boom(n)
        return n

    for attempt in (1, 2):
        try:
            with Checkpointer("rows", store=task_state_store) as ckpt, ThreadPoolExecutor(2) as pool:
                for _ in ckpt.map(lambda n, a=attempt: load(n, a), range(1, 21), pool):  # type: ignore[misc]
                    pass
        except Boom:
            assert attempt == 1
    first = {n for a, n in calls if a == 1 and n != 7}
    second = {n for a, n in calls if a == 2}
    assert 7 in second
    assert first | second == set(range(1, 21))  # nothing skipped
    assert first.isdisjoint(second)  # what finished in the first try stayed done, even above the failure
    assert task_state_store.keys() == []


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_map_in_flight_must_be_a_positive_count(task_state_store: InMemoryTaskStateStore, bad: Any) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        ThreadPoolExecutor(1) as pool,
        pytest.raises(ValueError, match="in_flight"),
    ):
        ckpt.map(str, [1], pool, in_flight=bad)
