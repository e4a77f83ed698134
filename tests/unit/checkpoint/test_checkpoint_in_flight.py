"""The item in flight when a loop is left: an exception (caught or not, retried in the task or not) leaves it
undone, ``break`` followed by normal progress completes it, and consumers that read ahead are refused."""

from __future__ import annotations

import asyncio
import multiprocessing.pool
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import more_itertools
import pytest
import tenacity

from airflow_resumable import Checkpointer, CheckpointError, every

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryTaskStateStore


class Transient(Exception):
    pass


ROWS = list(range(1, 11))


def flaky_loader(fail_on: int, times: int = 1) -> tuple[list[int], list[int], Any]:
    """``load(row)`` that raises ``Transient`` the first ``times`` times it sees ``fail_on``."""
    attempted: list[int] = []
    loaded: list[int] = []
    failures = [times]

    def load(row: int) -> None:
        attempted.append(row)
        if row == fail_on and failures[0] > 0:
            failures[0] -= 1
            raise Transient(row)
        loaded.append(row)

    return attempted, loaded, load


@pytest.mark.parametrize("key", [None, "by-value"])
def test_a_tenacity_retry_around_the_loop_redoes_the_failed_row(
    task_state_store: InMemoryTaskStateStore, key: str | None
) -> None:
    attempted, loaded, load = flaky_loader(5)
    with Checkpointer("rows", store=task_state_store) as ckpt:

        @tenacity.retry(
            retry=tenacity.retry_if_exception_type(Transient), stop=tenacity.stop_after_attempt(3)
        )
        def load_all() -> None:
            for row in ckpt.iterate(ROWS, key=(lambda r: r) if key else None):
                load(row)

        load_all()

    assert loaded == ROWS
    assert attempted == [1, 2, 3, 4, 5, 5, 6, 7, 8, 9, 10]
    assert task_state_store.keys() == []


def test_a_caught_exception_and_a_new_loop_redo_the_failed_row(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    _, loaded, load = flaky_loader(5, times=2)
    with Checkpointer("rows", store=task_state_store, commit=every(3)) as ckpt:
        for _ in range(3):
            try:
                for row in ckpt.iterate(ROWS):
                    load(row)
                break
            except Transient:
                continue
    assert loaded == ROWS


def test_a_loop_held_alive_by_the_traceback_is_redone_not_refused(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    _, loaded, load = flaky_loader(5)
    with Checkpointer("rows", store=task_state_store) as ckpt:

        @tenacity.retry(
            retry=tenacity.retry_if_exception_type(Transient), stop=tenacity.stop_after_attempt(3)
        )
        def load_all() -> None:
            rows = ckpt.iterate(ROWS)  # in a local: the failed attempt's traceback keeps it alive
            for row in rows:
                load(row)

        load_all()
    assert loaded == ROWS


def test_after_out_of_order_progress_a_retried_loop_redoes_the_failed_row(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    _, loaded, load = flaky_loader(5)
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        ckpt.done(8)  # a gap: iterate() now skips 8 through the out-of-order path
        for _ in range(2):
            try:
                for row in ckpt.iterate(ROWS):
                    load(row)
            except Transient:
                continue
    assert loaded == [1, 2, 3, 4, 5, 6, 7, 9, 10]
    assert task_state_store.get("rows")["position"] == 10


def test_an_exception_swallowed_inside_the_block_does_not_complete_the_item(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    _, loaded, load = flaky_loader(5)
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        try:
            for row in ckpt.iterate(ROWS):
                load(row)
        except Transient:
            pass  # the block then ends normally
    assert task_state_store.get("rows")["position"] == 4
    with Checkpointer("rows", store=task_state_store) as ckpt:
        for row in ckpt.iterate(ROWS):
            load(row)
    assert loaded == ROWS


def test_an_async_retry_around_aiterate_redoes_the_failed_row(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    attempted, loaded, load = flaky_loader(5)

    async def main() -> None:
        async with Checkpointer("rows", store=task_state_store) as ckpt:
            async for attempt in tenacity.AsyncRetrying(
                retry=tenacity.retry_if_exception_type(Transient), stop=tenacity.stop_after_attempt(3)
            ):
                with attempt:
                    async for row in ckpt.aiterate(ROWS):
                        load(row)

    asyncio.run(main())
    assert loaded == ROWS
    assert attempted.count(5) == 2


def test_break_then_a_new_loop_still_continues_after_the_item(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    seen = []
    with Checkpointer("rows", store=task_state_store) as ckpt:
        for row in ckpt.iterate(ROWS):
            seen.append(row)
            if row == 3:
                break
        for row in ckpt.iterate(ROWS):
            seen.append(row)
    assert seen == ROWS


def test_a_return_out_of_the_loop_counts_like_break(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:

        def first_even() -> int:
            for row in ckpt.iterate(ROWS):
                if row % 2 == 0:
                    return row
            raise AssertionError

        assert first_even() == 2
    assert task_state_store.get("rows")["position"] == 2


# -- consumers that read ahead ------------------------------------------------------------------------------


def test_list_of_iterate_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match=r"ckpt\.map"),
    ):
        list(ckpt.iterate(ROWS))


@pytest.mark.parametrize(
    "drain",
    [
        lambda it: sorted(it),
        lambda it: tuple(it),
        lambda it: [*it],
        lambda it: {*it},
        lambda it: "".join(map(str, it)),
    ],
    ids=["sorted", "tuple", "star-list", "star-set", "join-of-map"],
)
def test_other_ways_of_draining_iterate_are_refused(
    task_state_store: InMemoryTaskStateStore, drain: Any
) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="too early"),
    ):
        drain(ckpt.iterate(ROWS))


def test_unpacking_iterate_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="too early"),
    ):
        _first, *_rest = ckpt.iterate(ROWS)


def test_an_executor_map_over_iterate_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        ThreadPoolExecutor(2) as pool,
        pytest.raises(CheckpointError, match="too early"),
    ):
        list(pool.map(str, ckpt.iterate(ROWS)))


@pytest.mark.parametrize("method", ["map", "imap"])
def test_a_multiprocessing_pool_over_iterate_is_refused(
    task_state_store: InMemoryTaskStateStore, method: str
) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        multiprocessing.pool.ThreadPool(2) as pool,
        pytest.raises(CheckpointError, match="too early"),
    ):
        list(getattr(pool, method)(str, ckpt.iterate(ROWS)))


def test_reading_ahead_in_chunks_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="too early"),
    ):
        for _batch in more_itertools.chunked(ckpt.iterate(ROWS), 3):
            pass


def test_lazy_wrappers_in_a_for_statement_are_fine(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        pairs = [(i, row) for i, row in enumerate(ckpt.iterate(ROWS))]
        for row, letter in zip(ckpt.iterate([*ROWS, 11, 12]), "ab", strict=False):
            assert (row, letter) in [(11, "a"), (12, "b")]
    assert len(pairs) == 10
    assert task_state_store.get("rows")["position"] == 12


def test_an_item_a_zip_took_but_dropped_is_not_done(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        # zip takes row 4, then finds "abc" used up: row 4 never reaches the loop body
        worked = [row for row, _ in zip(ckpt.iterate(ROWS), "abc", strict=False)]
    assert worked == [1, 2, 3]
    assert task_state_store.get("rows")["position"] == 3
