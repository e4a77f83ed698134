"""The cost-aware default cadence: the redo bound in time, the write budget, the adaptive check interval.

A simulated loop drives a :class:`Schedule` the way ``iter_fast`` does (ask once the completed count reaches
``next_check``), with a hand-driven clock, so loops of minutes run in milliseconds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_resumable import Checkpointer, CommitPolicy, InvalidValueError, every, every_seconds
from airflow_resumable.cadence import DEFAULT_POLICY, Schedule, cost_aware


class FakeClock:
    """A monotonic clock that only moves when told to (hypothesis tests cannot take the fixture)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


class Loop:
    """What a simulated loop did: commit times (after each write landed) and the worst redo."""

    def __init__(self) -> None:
        self.commits: list[float] = []
        self.worst_redo = 0.0
        self.checks = 0


def simulate(
    schedule: Schedule,
    clock: FakeClock,
    seconds: float,
    item_cost: float,
    *,
    factors: Iterable[float] = (1.0,),
    commit_cost: float = 0.0,
) -> Loop:
    """Run items for ``seconds`` of work; the items of each check interval cost ``item_cost * factor`` on
    average (factors cycle). A commit happens at a check, before the next item, as in ``iter_fast``."""
    loop = Loop()
    done = 0
    start = clock()
    written = 0.0  # time spent writing, which is not work
    next_check = schedule.next_check(0)
    for factor in itertools.cycle(factors):
        if clock() - start - written >= seconds:
            break
        if done >= next_check:
            loop.checks += 1
            if schedule.due(done):
                began = clock()
                clock.advance(commit_cost)
                written += commit_cost
                schedule.restart(done, commit_seconds=clock() - began)
                loop.commits.append(clock() - start - written)
            next_check = schedule.next_check(done)
        batch = next_check - done  # the items up to the next check, at one average cost
        clock.advance(batch * item_cost * factor)
        done += batch
        loop.worst_redo = max(loop.worst_redo, clock() - schedule.mark_time)
    return loop


def test_the_default_is_cost_aware_with_a_30_second_bound() -> None:
    assert DEFAULT_POLICY == cost_aware(30) == CommitPolicy(redo=30.0, write_share=0.002)
    assert repr(DEFAULT_POLICY) == "cost_aware(30)"
    assert DEFAULT_POLICY.describe_bound() == "30 s of work"
    assert Checkpointer("rows").policy is DEFAULT_POLICY
    assert cost_aware(timedelta(minutes=2)) == cost_aware(120)


def test_cost_aware_composes_with_the_explicit_policies(clock: FakeClock) -> None:
    policy = every(500) | cost_aware(30, clock=clock)
    assert repr(policy) == "every(500) | cost_aware(30)"
    assert policy.describe_bound() == "500 items or 30 s of work"
    assert policy.clock is clock
    assert repr(cost_aware(60, write_share=0.01) | every_seconds(10)) == (
        "every_seconds(10) | cost_aware(60, write_share=0.01)"
    )
    assert (every_seconds(10) | cost_aware(60)).describe_bound() == "10 s of work"
    assert cost_aware(60) | cost_aware(20, write_share=0.01) == cost_aware(20, write_share=0.01)
    with pytest.raises(InvalidValueError, match="different clocks"):
        cost_aware(30, clock=clock) | every_seconds(5)


@pytest.mark.parametrize("bad", [0, -1, float("inf"), "30", None, True])
def test_cost_aware_rejects_a_bad_bound(bad: Any) -> None:
    with pytest.raises(InvalidValueError, match="cost_aware"):
        cost_aware(bad)


@pytest.mark.parametrize("bad", [0, 1, -0.1, 1.5, True, "0.01"])
def test_cost_aware_rejects_a_share_outside_zero_to_one(bad: Any) -> None:
    with pytest.raises(InvalidValueError, match="write_share"):
        cost_aware(30, write_share=bad)


def test_cost_aware_rejects_a_clock_that_is_not_callable() -> None:
    with pytest.raises(InvalidValueError, match="callable"):
        cost_aware(30, clock=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("item_cost", [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
def test_a_loop_shorter_than_the_bound_writes_nothing_mid_loop(clock: FakeClock, item_cost: float) -> None:
    loop = simulate(Schedule(cost_aware(30, clock=clock)), clock, 29.0, item_cost, commit_cost=0.012)
    assert loop.commits == []


@pytest.mark.parametrize("item_cost", [1e-6, 1e-4, 1e-2, 1e-1])
def test_the_first_commit_comes_just_before_the_bound_then_at_the_budgets_pace(
    clock: FakeClock, item_cost: float
) -> None:
    loop = simulate(Schedule(cost_aware(30, clock=clock)), clock, 60.0, item_cost, commit_cost=0.012)
    assert 29.0 <= loop.commits[0] <= 29.7 + item_cost  # aimed at 99 % of the bound
    gaps = [b - a for a, b in itertools.pairwise(loop.commits)]
    assert gaps and all(5.9 <= gap <= 6.2 for gap in gaps)  # 12 ms / 0.2 % = 6 s
    assert loop.worst_redo <= 30.0
    assert len(loop.commits) * 0.012 / 60.0 <= 0.002 + 0.012 / 60  # writes within the budget


def test_a_slow_store_still_commits_within_the_bound(clock: FakeClock) -> None:
    """1 s writes would need 500 s between writes for 0.2 %: the bound wins, every ~30 s."""
    loop = simulate(Schedule(cost_aware(30, clock=clock)), clock, 200.0, 1e-3, commit_cost=1.0)
    assert len(loop.commits) == 6
    assert loop.worst_redo <= 30.0


def test_writes_are_never_more_than_one_a_second(clock: FakeClock) -> None:
    loop = simulate(Schedule(cost_aware(30, clock=clock)), clock, 40.0, 1e-5, commit_cost=1e-6)
    gaps = [b - a for a, b in itertools.pairwise(loop.commits)]
    assert gaps and min(gaps) >= 1.0


def test_items_slower_than_a_quarter_of_the_bound_are_committed_one_by_one(clock: FakeClock) -> None:
    loop = simulate(Schedule(cost_aware(30, clock=clock)), clock, 100.0, 10.0)
    assert loop.worst_redo <= 30.0
    assert len(loop.commits) >= 3


def test_every_n_keeps_its_exact_meaning_beside_cost_aware(state_backend: Any, clock: FakeClock) -> None:
    store = state_backend.task_store()
    with Checkpointer("rows", store=store, commit=every(100) | cost_aware(30, clock=clock)) as ckpt:
        for _ in ckpt.iterate(range(1050)):
            clock.advance(1e-4)
    assert state_backend.writes == 10  # after 100, 200, ... 1000 items; the end clears


def test_the_check_interval_follows_the_item_cost(clock: FakeClock) -> None:
    """Fast items: the clock is read every 1,024 items; slow ones: about every 5 ms of work."""
    schedule = Schedule(cost_aware(30, clock=clock))
    loop = simulate(schedule, clock, 5.0, 1e-7)
    assert schedule.stride == 1024
    assert loop.checks <= 5.0 / (1024 * 1e-7) + 10
    schedule = Schedule(cost_aware(30, clock=clock))
    simulate(schedule, clock, 5.0, 1e-4)
    assert 49 <= schedule.stride <= 50  # 5 ms / 100 µs


def test_a_sudden_slowdown_far_from_the_bound_is_caught_in_time(clock: FakeClock) -> None:
    schedule = Schedule(cost_aware(30, clock=clock))
    simulate(schedule, clock, 10.0, 1e-6)
    loop = simulate(schedule, clock, 40.0, 1e-4)  # 100x slower from now on
    assert loop.worst_redo <= 30.0
    assert 19.5 <= loop.commits[0] <= 20.0  # 30 s after the last commit (the start), 10 s of it before


def test_the_write_path_feeds_the_measured_commit_cost_to_the_schedule(
    state_backend: Any, clock: FakeClock
) -> None:
    inner = state_backend.task_store()

    class SlowStore:
        """Each write takes 12 ms on the injected clock, like a round trip to the API server."""

        def get(self, key: str, default: Any = None) -> Any:
            return inner.get(key, default)

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            clock.advance(0.012)
            inner.set(key, value, retention=retention)

        def delete(self, key: str) -> None:
            inner.delete(key)

    ckpt = Checkpointer("rows", store=SlowStore(), commit=cost_aware(30, clock=clock))
    with ckpt:
        assert ckpt._schedule.pace() == float("inf")
        ckpt.advance(1)
        ckpt.commit()
        assert ckpt._schedule.commit_seconds == pytest.approx(0.012)
        assert ckpt._schedule.pace() == pytest.approx(6.0)


@settings(max_examples=40, deadline=None)
@given(
    item_cost=st.sampled_from([1e-6, 3e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1.0]),
    factors=st.lists(st.floats(1.0, 3.9), min_size=1, max_size=20),
    commit_cost=st.sampled_from([0.0, 1e-4, 0.012, 0.2, 2.0]),
    bound=st.sampled_from([5.0, 30.0]),
)
def test_the_redo_bound_holds_while_items_vary_less_than_4x(
    item_cost: float, factors: list[float], commit_cost: float, bound: float
) -> None:
    """Items of each check interval cost 1-3.9x a base cost, in any order: never more than ``bound``
    seconds of work since the last commit, and no more commits than the pace (or the bound, or one per item
    for items near the bound) allows."""
    clock = FakeClock()
    seconds = 4 * bound
    loop = simulate(
        Schedule(cost_aware(bound, clock=clock)),
        clock,
        seconds,
        item_cost,
        factors=factors,
        commit_cost=commit_cost,
    )
    assert loop.worst_redo <= bound
    pace = max(commit_cost / 0.002, 1.0)
    assert len(loop.commits) <= 1 + seconds / min(pace, bound / 2, item_cost)  # big items: one each


def test_every_store_call_happens_on_the_thread_that_runs_the_loop(
    state_backend: Any, clock: FakeClock
) -> None:
    """Commits are not written behind the loop: under dag.test() a store call from a second thread makes
    the task's own Airflow calls fail (the in-process channel removes SUPERVISOR_COMMS while it serves a
    request; see the performance page). This double fails that way for any call off the loop's thread."""
    import threading

    inner = state_backend.task_store()
    loop_thread = threading.get_ident()

    class InProcessChannelStore:
        def _check(self) -> None:
            if threading.get_ident() != loop_thread:
                raise ImportError("cannot import name 'SUPERVISOR_COMMS' from 'task_runner'")

        def get(self, key: str, default: Any = None) -> Any:
            self._check()
            return inner.get(key, default)

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            self._check()
            clock.advance(0.012)
            inner.set(key, value, retention=retention)

        def delete(self, key: str) -> None:
            self._check()
            inner.delete(key)

    with Checkpointer("rows", store=InProcessChannelStore(), commit=cost_aware(1, clock=clock)) as ckpt:
        for _ in ckpt.iterate(range(50_000)):
            clock.advance(1e-4)  # 5 s of work: commits at ~1 s, then every second
    assert state_backend.writes >= 4
