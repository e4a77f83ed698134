"""The total and the try's start in the stored record: learned from ``len()`` of a sized input without
iterating it, given with ``total=`` (checked before anything is written), never guessed for a generator;
records written before these fields existed still load and resume."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable import Checkpointer, InvalidValueError, every
from airflow_resumable._checkpoint_record import progress_of
from airflow_resumable.ops import decode
from airflow_resumable.ops.records import TaskRef

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


class Boom(Exception):
    pass


def _fail_at(store: InMemoryTaskStateStore, items: Any, k: int, **iterate: Any) -> None:
    def run() -> None:
        with Checkpointer("rows", store=store, commit=every(10)) as ckpt:
            for n, _ in enumerate(ckpt.iterate(items, **iterate), 1):
                if n == k:
                    raise Boom

    with pytest.raises(Boom):
        run()


def test_a_list_records_its_length_and_the_try_start(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    before = datetime.now().astimezone()
    _fail_at(store, list(range(100)), 37)
    raw = store.get("rows")
    assert (raw["position"], raw["items_done"], raw["total"]) == (36, 36, 100)
    assert raw["items_at_start"] == 0 and datetime.fromisoformat(raw["started_at"]) >= before
    assert len(json.dumps(raw)) < 400  # written on every commit: it stays small

    started = datetime.now().astimezone()
    with Checkpointer("rows", store=store, clear_on_success=False, commit=every(10)) as ckpt:
        assert ckpt.total is None  # known once a loop sees the input
        for n in ckpt.iterate(list(range(100))):
            if n == 80:
                ckpt.commit()
                mid = store.get("rows")
        assert ckpt.total == 100
    assert (mid["total"], mid["items_at_start"], mid["items_done"]) == (100, 36, 80)
    assert datetime.fromisoformat(mid["started_at"]) >= started
    assert store.get("rows")["items_done"] == 100


@pytest.mark.parametrize(
    "make",
    [lambda: range(50), lambda: {i: i for i in range(50)}, lambda: tuple(range(50)), lambda: "x" * 50],
    ids=["range", "dict", "tuple", "str"],
)
def test_sized_inputs_give_their_len(state_backend: InMemoryStateBackend, make: Any) -> None:
    store = state_backend.task_store()
    _fail_at(store, make(), 21)
    assert store.get("rows")["total"] == 50


class CountingSized:
    """Sized and iterable; counts how often it is iterated (``len()`` must not iterate it)."""

    def __init__(self, n: int) -> None:
        self.n, self.iterations = n, 0

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        self.iterations += 1
        return iter(range(self.n))


def test_len_is_asked_without_iterating_the_input(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    items = CountingSized(30)
    _fail_at(store, items, 15)
    assert items.iterations == 1 and store.get("rows")["total"] == 30


def test_a_generator_has_no_total_unless_given(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    pulled: list[int] = []

    def rows() -> Iterator[int]:
        for i in range(40):
            pulled.append(i)
            yield i

    _fail_at(store, rows(), 12)
    assert "total" not in store.get("rows") and len(pulled) == 12  # nothing read ahead to count it
    assert progress_of(store.get("rows")).total is None

    store.delete("rows")
    _fail_at(store, rows(), 12, total=40)
    assert store.get("rows")["total"] == 40


def test_a_given_total_wins_over_len_and_the_loop_total_over_the_checkpointer_total(
    state_backend: InMemoryStateBackend,
) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, total=500, clear_on_success=False) as ckpt:
        assert ckpt.total == 500
        for _ in ckpt.iterate(list(range(5))):  # given: 500 (e.g. the first page of a paged source)
            pass
        assert ckpt.total == 500
    assert store.get("rows")["total"] == 500
    with Checkpointer("other", store=store, total=500, clear_on_success=False) as ckpt:
        for _ in ckpt.iterate(iter(range(5)), total=7):
            pass
    assert store.get("other")["total"] == 7


def test_manual_advance_with_a_checkpointer_total(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    with Checkpointer("pages", store=store, initial=0, total=1000, clear_on_success=False) as ckpt:
        ckpt.advance(250, items=250)
    assert (store.get("pages")["total"], store.get("pages")["items_done"]) == (1000, 250)


@pytest.mark.parametrize("bad", [-1, 1.5, "100", True, [3]], ids=repr)
def test_a_bad_total_is_refused_before_anything_is_written(
    state_backend: InMemoryStateBackend, bad: Any
) -> None:
    store = state_backend.task_store()
    with pytest.raises(InvalidValueError, match=r"total=.*whole number >= 0"):
        Checkpointer("rows", store=store, total=bad)
    with Checkpointer("rows", store=store, commit=every(1)) as ckpt:
        with pytest.raises(InvalidValueError, match=r"iterate\(total=\.\.\.\) must be the number of items"):
            ckpt.iterate(range(10), total=bad)
        with pytest.raises(InvalidValueError, match=r"remaining\(total=\.\.\.\)"):
            ckpt.remaining(range(10), total=bad)
    assert state_backend.writes == 0 and store.keys() == []


def test_remaining_and_map_record_the_total(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()

    def by_hand() -> None:
        with Checkpointer("rows", store=store, commit=every(1)) as ckpt:
            for pos, _ in ckpt.remaining(list(range(20))):
                if pos == 6:
                    raise Boom
                ckpt.done(pos)

    with pytest.raises(Boom):
        by_hand()
    assert store.get("rows")["total"] == 20

    def work(n: int) -> int:
        if n == 13:
            raise Boom
        return n

    def in_a_pool() -> None:
        with Checkpointer("rows", store=store, commit=every(1)) as ckpt, ThreadPoolExecutor(2) as pool:
            list(ckpt.map(work, (i for i in range(30)), pool, total=30))

    store.delete("rows")
    with pytest.raises(Boom):
        in_a_pool()
    assert store.get("rows")["total"] == 30


def test_async_loop_records_the_total(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()

    async def main() -> None:
        async def rows() -> Any:
            for i in range(25):
                yield i

        async with Checkpointer("rows", store=store, commit=every(5)) as ckpt:
            async for n in ckpt.aiterate(rows(), total=25):
                if n == 17:
                    raise Boom

    with pytest.raises(Boom):
        asyncio.run(main())
    assert (store.get("rows")["total"], store.get("rows")["position"]) == (25, 17)


OLD_RECORD = {
    "position": 36,
    "items_done": 36,
    "updated_at": "2026-05-04T10:00:00.123456+00:00",
    "items_per_second": 480.0,
    "try_number": 1,
    "version": 1,
}
"""A record as the previous release wrote it: no total, no try start."""


def test_a_record_without_the_new_fields_resumes_and_decodes(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    store.set("rows", dict(OLD_RECORD))
    seen = []
    with Checkpointer("rows", store=store, clear_on_success=False) as ckpt:
        assert ckpt.resumed and ckpt.position == 36
        for n in ckpt.iterate(range(40)):
            seen.append(n)
    assert seen == [36, 37, 38, 39]
    assert store.get("rows")["total"] == 40 and store.get("rows")["items_at_start"] == 36

    progress = progress_of(OLD_RECORD)
    assert (progress.total, progress.started_at, progress.items_at_start) == (None, None, None)
    (record,) = decode.checkpoints(TaskRef("d", "r", "t", state="running"), {"rows": OLD_RECORD})
    assert (record.total, record.percent, record.seconds_left) == (None, None, None)
    assert record.average_rate is None
    assert record.rate == 480.0 and record.progress_text == "36"
    assert record.to_json()["total"] is None and record.to_json()["percent"] is None


def test_malformed_new_fields_read_as_unknown() -> None:
    raw = {**OLD_RECORD, "total": "lots", "started_at": 5, "items_at_start": -3}
    progress = progress_of(raw)
    assert (progress.total, progress.started_at, progress.items_at_start) == (None, None, None)
    raw = {**OLD_RECORD, "total": True}
    assert progress_of(raw).total is None
