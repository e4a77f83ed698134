"""crash_and_retry: crash points, hard vs soft crashes, and what each try reports."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_resumable.testing import (
    SimulatedCrash,
    after_call,
    before_call,
    crash_and_retry,
    on_write,
)

CALLS: list[int] = []


def load(item: int) -> None:
    CALLS.append(item)


def resumable_task(task_state_store: Any) -> str:
    """Writes the next position after every item; resumes from it."""
    start = task_state_store.get("next", 0)
    for item in range(start, 10):
        load(item)
        task_state_store.set("next", item + 1)
    return f"done from {start}"


def cleanup_task(task_state_store: Any) -> None:
    """Writes progress only on the way out (a finally block), like a checkpoint flush."""
    done = task_state_store.get("next", 0)
    try:
        for item in range(done, 10):
            load(item)
            done = item + 1
    finally:
        task_state_store.set("next", done)


@pytest.fixture(autouse=True)
def _reset_calls() -> None:
    CALLS.clear()


def test_after_call_crash_then_resume() -> None:
    report = crash_and_retry(resumable_task, after_call(f"{__name__}.load", 3))
    first, second = report.tries
    assert (first.outcome, first.calls, first.writes) == ("crashed", 3, 2)
    assert isinstance(first.error, SimulatedCrash)
    assert first.task_state == {"next": 2}
    assert (second.outcome, second.calls, second.result) == ("success", 8, "done from 2")
    assert report.succeeded and report.result == "done from 2"
    assert CALLS == [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9]  # item 2 ran twice: its write never happened


def test_before_call_crash_does_not_run_the_target() -> None:
    report = crash_and_retry(resumable_task, before_call(f"{__name__}.load", 3))
    assert report.tries[0].calls == 3
    assert CALLS[:2] == [0, 1] and report.tries[1].result == "done from 2"


def test_hard_crash_drops_writes_made_while_unwinding() -> None:
    report = crash_and_retry(cleanup_task, after_call(f"{__name__}.load", 4))
    assert report.tries[0].outcome == "crashed"
    assert report.tries[0].task_state == {}  # the finally block's write died with the worker
    assert report.tries[1].calls == 10


def test_soft_crash_lets_finally_blocks_write() -> None:
    report = crash_and_retry(cleanup_task, after_call(f"{__name__}.load", 4, hard=False))
    assert report.tries[0].outcome == "failed"
    assert report.tries[0].task_state == {"next": 3}  # item 4's call returned but was not counted done
    assert report.tries[1].calls == 7


def test_on_write_crash_loses_exactly_that_write() -> None:
    report = crash_and_retry(resumable_task, on_write(5))
    assert report.tries[0].writes == 4
    assert report.tries[0].task_state == {"next": 4}
    assert report.tries[1].result == "done from 4"


def test_context_parameters_and_current_context_are_provided() -> None:
    from airflow.sdk import get_current_context

    seen: list[tuple[int, int, int]] = []

    def task_fn(ti: Any, context: dict[str, Any], map_index: int) -> None:
        assert get_current_context() is context
        seen.append((ti.try_number, context["try_number"], map_index))
        if ti.try_number == 1:
            raise RuntimeError("first try fails")

    report = crash_and_retry(task_fn, on_write(1), map_index=3)
    assert [t.outcome for t in report.tries] == ["failed", "success"]
    assert seen == [(1, 1, 3), (2, 2, 3)]


def test_gives_up_after_the_given_number_of_tries() -> None:
    def always_fails() -> None:
        raise RuntimeError("nope")

    report = crash_and_retry(always_fails, on_write(1), tries=3)
    assert [t.outcome for t in report.tries] == ["failed"] * 3
    assert not report.succeeded and report.result is None


def test_async_task_functions_are_awaited() -> None:
    async def task_fn(task_state_store: Any) -> int:
        task_state_store.set("k", 1)
        return 7

    report = crash_and_retry(task_fn, on_write(2))
    assert report.tries[0].result == 7 and report.tries[0].task_state == {"k": 1}


def test_crash_point_must_be_positive() -> None:
    with pytest.raises(ValueError, match="n must be >= 1"):
        on_write(0)
