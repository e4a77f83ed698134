"""Commit policies: building, validating and composing them, and the schedule that runs them."""

from __future__ import annotations

import math
import time
from datetime import timedelta
from typing import Any

import pytest

from airflow_resumable import CommitPolicy, InvalidValueError, every, every_seconds
from airflow_resumable.cadence import Schedule


def test_every_and_every_seconds_set_one_limit_each() -> None:
    assert every(5) == CommitPolicy(items=5)
    assert every_seconds(2.5).seconds == 2.5
    assert every_seconds(timedelta(minutes=1)).seconds == 60.0
    assert every_seconds(3).clock is time.monotonic


def test_or_takes_the_smaller_of_each_limit_so_the_first_to_fire_wins() -> None:
    assert every(1000) | every_seconds(30) == CommitPolicy(items=1000, seconds=30.0)
    assert every(10) | every(3) == CommitPolicy(items=3)
    assert every_seconds(9) | every_seconds(4) | every(7) == CommitPolicy(items=7, seconds=4.0)
    assert repr(every(1000) | every_seconds(30)) == "every(1000) | every_seconds(30)"
    assert (every(1000) | every_seconds(30)).describe_bound() == "1000 items or 30 s of work"


def test_or_keeps_the_injected_clock(clock: Any) -> None:
    assert (every(5) | every_seconds(1, clock=clock)).clock is clock
    assert (every_seconds(1, clock=clock) | every(5)).clock is clock


def test_two_time_limits_with_different_clocks_are_refused(clock: Any) -> None:
    with pytest.raises(InvalidValueError, match="different clocks"):
        every_seconds(1, clock=clock) | every_seconds(2)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10", None])
def test_every_rejects_anything_but_a_positive_whole_number(bad: Any) -> None:
    with pytest.raises(InvalidValueError, match="every\\(n\\)"):
        every(bad)


@pytest.mark.parametrize("bad", [0, -3, math.inf, math.nan, "30", None, True, timedelta(0)])
def test_every_seconds_rejects_non_positive_or_non_finite_durations(bad: Any) -> None:
    with pytest.raises(InvalidValueError, match="every_seconds"):
        every_seconds(bad)


def test_every_seconds_rejects_a_clock_that_is_not_callable() -> None:
    with pytest.raises(InvalidValueError, match="callable"):
        every_seconds(1, clock=5)  # type: ignore[arg-type]


def test_a_policy_needs_at_least_one_limit() -> None:
    with pytest.raises(InvalidValueError, match="needs a limit"):
        CommitPolicy()


def test_or_with_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        every(3) | 5  # type: ignore[operator]


def test_schedule_counts_items_since_the_last_commit() -> None:
    schedule = Schedule(every(3), items=10)
    assert schedule.next_check(10) == 13
    assert not schedule.due(12)
    assert schedule.due(13)
    schedule.restart(13)
    assert schedule.next_check(13) == 16


def test_schedule_fires_on_time_with_an_injected_clock(clock: Any) -> None:
    schedule = Schedule(every_seconds(10, clock=clock))
    clock.advance(9.9)
    assert not schedule.due(1)
    clock.advance(0.1)
    assert schedule.due(2)
    schedule.restart(2)
    assert schedule.elapsed() == 0
    assert not schedule.due(3)


def test_schedule_reads_the_clock_less_often_when_items_are_fast(clock: Any) -> None:
    schedule = Schedule(every_seconds(30, clock=clock))
    items = 0
    strides = []
    for _ in range(12):  # each check finds almost no time passed: the stride doubles up to its cap
        items = schedule.next_check(items)
        clock.advance(1e-6)
        assert not schedule.due(items)
        strides.append(schedule.stride)
    assert strides[:4] == [2, 4, 8, 16]
    assert strides[-1] == 128
    clock.advance(1.0)  # a slow stretch: the stride drops back to one so time is checked per item
    assert not schedule.due(items + 128)
    assert schedule.stride == 1


def test_schedule_without_a_time_limit_never_reads_the_clock_between_commits() -> None:
    reads = []
    policy = CommitPolicy(items=4, clock=lambda: reads.append(1) or 0.0)
    schedule = Schedule(policy)
    reads.clear()
    assert [schedule.due(n) for n in range(1, 5)] == [False, False, False, True]
    assert reads == []
    assert schedule.next_check(2) == 4
