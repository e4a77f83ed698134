"""iterate(): what a retry skips, when an item counts as done, and what is left in the store."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_resumable import Checkpointer, CheckpointError, InvalidValueError, NoStoreError, every
from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore, crash_and_retry, on_write


class Boom(Exception):
    pass


def run_try(store: Any, items: list[Any], *, fail_at: Any = None, **kwargs: Any) -> list[Any]:
    """One try of a task that loads ``items`` and fails on ``fail_at``; returns what it processed."""
    seen: list[Any] = []
    kwargs.setdefault("initial", 0)
    try:
        with Checkpointer("rows", store=store, **kwargs) as ckpt:
            for item in ckpt.iterate(items):
                if item == fail_at:
                    raise Boom(item)
                seen.append(item)
    except Boom:
        pass
    return seen


def test_a_fresh_run_processes_everything_and_leaves_no_key(task_state_store: InMemoryTaskStateStore) -> None:
    assert run_try(task_state_store, list("abcde")) == list("abcde")
    assert task_state_store.keys() == []


def test_after_an_exception_at_item_k_the_retry_starts_exactly_at_k(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    items = list(range(100))
    first = run_try(task_state_store, items, fail_at=42)
    stored = task_state_store.get("rows")
    second = run_try(task_state_store, items)

    assert first == list(range(42))
    assert stored["position"] == 42
    assert stored["items_done"] == 42
    assert second == list(range(42, 100))
    assert task_state_store.keys() == []


def test_the_exception_path_commits_even_between_cadence_points(state_backend: InMemoryStateBackend) -> None:
    store = state_backend.task_store()
    run_try(store, list(range(50)), fail_at=17, commit=every(1000))
    assert state_backend.writes == 1  # nothing was due; the one write is the way-out commit
    assert store.get("rows")["position"] == 17


def test_position_counts_items_from_the_start(task_state_store: InMemoryTaskStateStore) -> None:
    items = ["a", "b", "c", "d"]
    run_try(task_state_store, items, fail_at="c")
    ckpt = Checkpointer("rows", store=task_state_store, initial=0)
    assert ckpt.position == 2
    assert ckpt.resumed
    assert items[ckpt.position :] == ["c", "d"]  # what is left


def test_initial_skips_items_on_a_fresh_start(task_state_store: InMemoryTaskStateStore) -> None:
    assert run_try(task_state_store, list("abcdef"), initial=4) == ["e", "f"]


def test_break_then_normal_exit_counts_the_item_in_flight_as_done(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        for item in ckpt.iterate(range(10)):
            if item == 3:
                break
    assert task_state_store.get("rows")["position"] == 4
    assert ckpt.position == 4
    assert ckpt.items_done == 4


def test_the_item_in_flight_when_an_exception_escapes_is_not_done(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    it_ref: list[Any] = []

    def fail_at_5() -> None:
        with Checkpointer("rows", store=task_state_store) as ckpt:
            iterator = ckpt.iterate(range(10))  # held in a variable: still open when the block exits
            it_ref.append(iterator)
            for item in iterator:
                if item == 5:
                    raise Boom

    with pytest.raises(Boom):
        fail_at_5()
    assert task_state_store.get("rows")["position"] == 5
    assert list(it_ref[0]) == []  # the block closed the loop


def test_a_second_loop_in_the_same_block_continues_the_positions(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    seen = []
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        for item in ckpt.iterate(range(10)):
            seen.append(item)
            if item == 2:
                break
        for item in ckpt.iterate(range(10)):  # moving on: item 2 is complete, 3.. come next
            seen.append(item)
    assert seen == list(range(10))
    assert task_state_store.get("rows")["position"] == 10


def test_clear_on_success_false_keeps_the_final_position(task_state_store: InMemoryTaskStateStore) -> None:
    run_try(task_state_store, list(range(7)), clear_on_success=False)
    assert task_state_store.get("rows")["position"] == 7
    assert run_try(task_state_store, list(range(7)), clear_on_success=False) == []


def test_iterate_needs_the_with_block(task_state_store: InMemoryTaskStateStore) -> None:
    ckpt = Checkpointer("rows", store=task_state_store)
    with pytest.raises(CheckpointError, match="inside `with Checkpointer"):
        ckpt.iterate([1, 2])


def test_a_checkpointer_cannot_be_entered_twice_at_once(task_state_store: InMemoryTaskStateStore) -> None:
    ckpt = Checkpointer("rows", store=task_state_store)
    with ckpt, pytest.raises(CheckpointError, match="already in use"), ckpt:
        pass


def test_it_can_be_used_again_after_the_block(task_state_store: InMemoryTaskStateStore) -> None:
    ckpt = Checkpointer("rows", store=task_state_store, initial=0)
    for _ in range(2):
        with ckpt:
            assert [item for item in ckpt.iterate("abc")] == ["a", "b", "c"]


def test_mixing_advance_into_an_open_loop_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store) as ckpt:
        for _ in ckpt.iterate(range(3)):
            with pytest.raises(CheckpointError, match="still going"):
                ckpt.advance(10)
            break


def test_a_nested_loop_over_the_same_checkpointer_is_refused_not_silently_cut_short(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    seen = []
    with Checkpointer("rows", store=task_state_store) as ckpt:
        for outer in ckpt.iterate(range(3)):
            with pytest.raises(CheckpointError, match="its own Checkpointer and key"):
                ckpt.iterate(range(2))
            seen.append(outer)
    assert seen == [0, 1, 2]


def test_after_a_break_manual_progress_continues_from_the_item_that_was_in_flight(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("rows", store=task_state_store, initial=0, clear_on_success=False) as ckpt:
        for item in ckpt.iterate(range(10)):
            if item == 4:
                break
        ckpt.advance(7, items=2)  # the code moved on: item 4 counts as done, then two more by hand
        assert ckpt.items_done == 7
    assert task_state_store.get("rows")["position"] == 7


def test_finds_the_running_tasks_store(context: dict[str, Any]) -> None:
    with Checkpointer("rows", initial=0, clear_on_success=False) as ckpt:
        assert [item for item in ckpt.iterate("xyz")] == ["x", "y", "z"]
    assert context["task_state_store"].get("rows")["position"] == 3


def test_outside_a_task_without_a_store_says_what_to_do() -> None:
    ckpt = Checkpointer("rows")  # constructing is free; the store is looked up on first use
    with pytest.raises(NoStoreError, match="store="):
        ckpt.__enter__()


def test_warns_when_earlier_tries_did_more_items_than_are_given(
    task_state_store: InMemoryTaskStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    run_try(task_state_store, list(range(10)), fail_at=8)
    with caplog.at_level(logging.WARNING, logger="airflow_resumable"):
        assert run_try(task_state_store, list(range(5))) == []
    assert "earlier tries finished 8 items but only 5 were given" in caplog.text


# -- key=: positions of your own ------------------------------------------------------------------------
T0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
EVENTS = [{"id": i, "at": T0 + timedelta(minutes=i)} for i in range(10)]


def test_key_positions_resume_strictly_after_the_last_completed(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    def one_try(fail_at: int | None) -> list[int]:
        done = []
        try:
            with Checkpointer("events", store=task_state_store) as ckpt:
                for event in ckpt.iterate(EVENTS, key=lambda e: e["at"]):
                    if event["id"] == fail_at:
                        raise Boom
                    done.append(event["id"])
        except Boom:
            pass
        return done

    assert one_try(fail_at=6) == [0, 1, 2, 3, 4, 5]
    assert Checkpointer("events", store=task_state_store).position == T0 + timedelta(minutes=5)
    assert one_try(fail_at=None) == [6, 7, 8, 9]


def test_key_positions_must_increase(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("events", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="sorted"),
    ):
        for _ in ckpt.iterate([3, 1, 2], key=lambda n: n):
            pass


def test_equal_keys_are_refused_with_a_tie_breaker_hint(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("events", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="tie-breaker"),
    ):
        for _ in ckpt.iterate([1, 1], key=lambda n: n):
            pass


def test_composite_keys_order_ties(task_state_store: InMemoryTaskStateStore) -> None:
    rows = [("2026-01-01", 1), ("2026-01-01", 2), ("2026-01-02", 1)]
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        assert [item for item in ckpt.iterate(rows, key=lambda r: r)] == rows
    assert Checkpointer("rows", store=task_state_store).position == ("2026-01-02", 1)


def test_key_types_that_do_not_compare_give_a_checkpoint_error(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        [item for item in ckpt.iterate([1, 2], key=lambda n: n)]
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="compared"),
    ):
        [item for item in ckpt.iterate(["a"], key=lambda s: s)]


def test_a_key_returning_none_or_a_naive_datetime_is_bad_input(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("rows", store=task_state_store) as ckpt, pytest.raises(InvalidValueError, match="None"):
        [item for item in ckpt.iterate([1], key=lambda n: None)]
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(InvalidValueError, match="naive"),
    ):
        [item for item in ckpt.iterate([1], key=lambda n: datetime(2026, 1, n))]
    assert task_state_store.keys() == []


def test_a_key_that_is_not_callable_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(InvalidValueError, match="function"),
    ):
        ckpt.iterate([1], key="id")  # type: ignore[arg-type]


def test_item_counting_over_a_cursor_position_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
        ckpt.advance("page-token-7")
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="counts items"),
    ):
        ckpt.iterate([1, 2])


def test_a_hard_crash_in_the_final_delete_redoes_only_the_uncommitted_tail() -> None:
    seen: list[int] = []

    def task(task_state_store: Any) -> None:
        with Checkpointer("rows", initial=0, commit=every(4)) as ckpt:
            for item in ckpt.iterate(range(10)):
                seen.append(item)

    # Writes 1 and 2 are the commits after items 4 and 8; write 3 is deleting the finished checkpoint.
    report = crash_and_retry(task, on_write(3))
    assert [t.outcome for t in report.tries] == ["crashed", "success"]
    assert seen == [*range(10), 8, 9]  # the retry redoes only what followed the last commit
