"""Property: for any item count, commit policy and crash point, every item is processed at least once, none
is skipped, and the retry redoes no more than the policy's bound.

Each item takes one second on an injected clock, so a time policy ``every_seconds(t)`` bounds the redo to
``t`` items just as ``every(n)`` bounds it to ``n``. A *hard* crash (a killed worker) loses everything not
yet committed; a *soft* crash (a Python exception) lets the ``with`` block save the last completed item, so
the retry redoes at most the item that was in flight.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import tenacity.nap
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_resumable import Checkpointer, CommitPolicy, every, every_seconds
from airflow_resumable.testing import after_call, before_call, crash_and_retry, on_write

if TYPE_CHECKING:
    from collections.abc import Iterator

PROCESSED: list[tuple[int, int]] = []
"""(try number, item) for every call of :func:`process`."""


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


CLOCK = Clock()


@pytest.fixture(scope="module", autouse=True)
def _no_retry_sleep() -> Iterator[None]:
    """A soft crash at a write fails every retry of it; skip the back-off waits, not the retries."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=lambda seconds: None))
        yield


def process(item: int, try_number: int) -> None:
    PROCESSED.append((try_number, item))
    CLOCK.now += 1.0


def make_task(n_items: int, policy: CommitPolicy) -> Any:
    def task(ti: Any) -> None:
        with Checkpointer("items", initial=0, commit=policy) as ckpt:
            for item in ckpt.iterate(range(n_items)):
                process(item, ti.try_number)

    return task


@st.composite
def policies(draw: st.DrawFn) -> tuple[CommitPolicy, int]:
    """A policy and its redo bound in items (each item takes one second)."""
    n = draw(st.integers(1, 25))
    t = draw(st.integers(1, 25))
    kind = draw(st.sampled_from(["count", "time", "both"]))
    if kind == "count":
        return every(n), n
    if kind == "time":
        return every_seconds(t, clock=CLOCK), t
    return every(n) | every_seconds(t, clock=CLOCK), min(n, t)


@settings(max_examples=100, deadline=None)
@given(
    n_items=st.integers(1, 80),
    policy_and_bound=policies(),
    crash_at=st.integers(1, 80),
    where=st.sampled_from(["before", "after", "write"]),
    hard=st.booleans(),
)
def test_nothing_is_skipped_and_redo_is_bounded(
    n_items: int, policy_and_bound: tuple[CommitPolicy, int], crash_at: int, where: str, hard: bool
) -> None:
    policy, bound = policy_and_bound
    PROCESSED.clear()
    target = f"{__name__}.process"
    if where == "write":
        crash = on_write(crash_at, hard=hard)
    else:
        crash_at = min(crash_at, n_items)
        crash = (before_call if where == "before" else after_call)(target, crash_at, hard=hard)

    report = crash_and_retry(make_task(n_items, policy), crash)

    assert report.succeeded
    first = [item for try_number, item in PROCESSED if try_number == 1]
    retry = [item for try_number, item in PROCESSED if try_number == 2]
    # Every item at least once, none skipped: the retry continues without a gap, in order, to the end.
    assert set(first) | set(retry) == set(range(n_items))
    if retry:
        assert retry == list(range(retry[0], n_items))
        assert retry[0] <= len(first)
    redone = len(set(first) & set(retry))
    if report.tries[0].outcome == "success":
        assert retry == []
        assert first == list(range(n_items))
    elif not hard and where != "write":
        in_flight_ran = 1 if where == "after" else 0  # the crash came after the item's work had run
        assert redone == in_flight_ran
    else:  # a hard crash, or a write that failed for good: what was not committed is redone
        assert redone <= bound
    assert report.tries[-1].task_state == {}  # success cleared the checkpoint
