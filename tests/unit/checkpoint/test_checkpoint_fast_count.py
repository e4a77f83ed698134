"""The default-positions loop keeps its count in a local between check points: every reader still sees the
exact count of completed items (properties, commit(), the end of the block), and every way out of the loop
counts the item in flight as the rules say."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable import Checkpointer, CommitError, every

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend


class Boom(Exception):
    pass


def test_readers_between_check_points_see_the_exact_count(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    seen = []
    with Checkpointer("rows", store=store, commit=every(1000), clear_on_success=False) as ckpt:
        for n in ckpt.iterate(range(1, 11)):
            seen.append((ckpt.items_done, ckpt.uncommitted))
            if n == 6:
                ckpt.commit()
                assert store.get("rows")["position"] == 5  # the items before the one in flight
    assert seen == [(n - 1, n - 1 if n <= 6 else n - 6) for n in range(1, 11)]
    assert store.get("rows")["position"] == 10


def test_another_thread_reads_the_count_while_the_loop_waits(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    counts: list[int] = []
    with Checkpointer("rows", store=store, commit=every(1000)) as ckpt:
        for n in ckpt.iterate(range(1, 8)):
            if n == 5:
                reader = threading.Thread(target=lambda: counts.append(ckpt.items_done))
                reader.start()
                reader.join()
    assert counts == [4]


def test_an_exception_in_the_body_saves_the_items_before_it(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()

    def run() -> None:
        with Checkpointer("rows", store=store, commit=every(1000)) as ckpt:
            for n in ckpt.iterate(range(1, 101)):
                if n == 37:
                    raise Boom

    with pytest.raises(Boom):
        run()
    assert store.get("rows")["position"] == 36


def test_break_counts_the_item_and_a_held_loop_does_not(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, commit=every(1000), clear_on_success=False) as ckpt:
        for n in ckpt.iterate(range(1, 101)):
            if n == 20:
                break
    assert store.get("rows")["position"] == 20

    store.delete("rows")
    with Checkpointer("rows", store=store, commit=every(1000), clear_on_success=False) as ckpt:
        held = ckpt.iterate(range(1, 101))
        for n in held:
            if n == 20:
                break  # the loop stays open in `held`: not known to be done
    assert store.get("rows")["position"] == 19


def test_an_error_thrown_in_at_the_yield_leaves_the_item_in_flight(
    state_backend: InMemoryStateBackend,
) -> None:
    store = state_backend.task_store()

    def run() -> None:
        with Checkpointer("rows", store=store, commit=every(1000)) as ckpt:
            loop = ckpt.iterate(range(1, 101))
            for n in loop:
                if n == 12:
                    loop.throw(Boom())

    with pytest.raises(Boom):
        run()
    assert store.get("rows")["position"] == 11


def test_an_input_that_fails_fetching_the_next_item_keeps_the_last_one_done(
    state_backend: InMemoryStateBackend,
) -> None:
    store = state_backend.task_store()

    def rows() -> Iterator[int]:
        yield from range(1, 9)
        raise Boom("the source dropped the connection")

    def run() -> None:
        with Checkpointer("rows", store=store, commit=every(1000)) as ckpt:
            for _ in ckpt.iterate(rows()):
                pass

    with pytest.raises(Boom):
        run()
    assert store.get("rows")["position"] == 8  # the loop asked for a 9th: the 8th was complete


def test_a_failed_commit_at_a_check_point_does_not_count_the_fetched_item(
    state_backend: InMemoryStateBackend,
) -> None:
    inner = state_backend.task_store()

    class BreaksFromTheThirdWrite:
        writes = 0

        def get(self, key: str, default: Any = None) -> Any:
            return inner.get(key, default)

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            self.writes += 1
            if self.writes >= 3:
                raise ConnectionError("the API server is not answering")
            inner.set(key, value, retention=retention)

        def delete(self, key: str) -> None:
            inner.delete(key)

    handed_out: list[int] = []
    counted: list[int] = []

    def run() -> None:
        with Checkpointer("rows", store=BreaksFromTheThirdWrite(), commit=every(10)) as ckpt:
            try:
                for n in ckpt.iterate(range(1, 101)):
                    handed_out.append(n)
            except CommitError:
                counted.append(ckpt.items_done)
                raise

    with pytest.raises(CommitError):
        run()
    # The third write, due when item 31 was fetched, failed: 31 was never handed out, 30 are done.
    assert handed_out[-1] == 30 and counted == [30]
    assert inner.get("rows")["position"] == 20  # what the last write that landed says


def test_two_loops_one_after_the_other_add_up(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, commit=every(7), clear_on_success=False) as ckpt:
        for n in ckpt.iterate(range(1, 51)):
            if n == 25:
                break
        assert ckpt.items_done == 24  # the item left with break counts once the code moves on
        rest = list(range(1, 51))
        for _ in ckpt.iterate(rest):
            pass
        assert ckpt.items_done == 50
    assert store.get("rows")["position"] == 50
