"""Commit cadence: when a :class:`~airflow_resumable.Checkpointer` writes its progress to the store.

A policy is a small immutable object. ``every(n)`` fires after ``n`` completed items, ``every_seconds(t)``
after ``t`` seconds, and ``|`` combines policies so that the first one to fire wins, the way tenacity's
``stop_after_attempt(3) | stop_after_delay(10)`` composes::

    from airflow_resumable import every, every_seconds

    policy = every(1000) | every_seconds(30)  # the default

The policy is also the redo bound: after a hard crash a retry repeats at most the work done since the last
commit, so at most ``n`` items or about ``t`` seconds of work.

Every write to a task state store is a round trip to the API server (milliseconds), so the cadence trades
redo for write load. :class:`Schedule` is the runtime side; it keeps the per-item cost to an integer
comparison by telling the caller at which item count it next needs to be asked, and reads the clock only
every few items (see :class:`Schedule`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from airflow_resumable.errors import InvalidValueError

__all__ = ["DEFAULT_POLICY", "Clock", "CommitPolicy", "Schedule", "every", "every_seconds"]

Clock = Callable[[], float]
"""Seconds from an arbitrary start that never go backwards, like :func:`time.monotonic`."""

_NEVER_ITEMS = sys.maxsize


@dataclass(frozen=True)
class CommitPolicy:
    """Commit after ``items`` completed items or ``seconds`` seconds since the last commit, whichever first.

    Build it with :func:`every` and :func:`every_seconds` and combine with ``|``. ``None`` means that
    limit does not apply. ``clock`` measures the seconds (``time.monotonic`` unless a test injects one).
    """

    items: int | None = None
    seconds: float | None = None
    clock: Clock = field(default=time.monotonic, compare=False)

    def __post_init__(self) -> None:
        if self.items is None and self.seconds is None:
            raise InvalidValueError("A commit policy needs a limit: use every(n) and/or every_seconds(t).")

    def __or__(self, other: CommitPolicy) -> CommitPolicy:
        """The policy that fires as soon as either side would: the smaller of each limit."""
        if not isinstance(other, CommitPolicy):
            return NotImplemented
        clock = self.clock
        if self.seconds is None:
            clock = other.clock
        elif other.seconds is not None and other.clock is not self.clock:
            raise InvalidValueError(
                "Both commit policies measure time, with different clocks. Give every_seconds() one clock."
            )
        items = (
            self.items
            if other.items is None
            else other.items
            if self.items is None
            else min(self.items, other.items)
        )
        return CommitPolicy(items, _smaller(self.seconds, other.seconds), clock)

    def __repr__(self) -> str:
        parts = []
        if self.items is not None:
            parts.append(f"every({self.items})")
        if self.seconds is not None:
            parts.append(f"every_seconds({self.seconds:g})")
        return " | ".join(parts)

    def describe_bound(self) -> str:
        """The redo bound this policy gives, in words (for logs and error messages)."""
        parts = []
        if self.items is not None:
            parts.append(f"{self.items} item{'s' if self.items != 1 else ''}")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s of work")
        return " or ".join(parts)


def _smaller(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def every(n: int) -> CommitPolicy:
    """Commit after every ``n`` completed items (``n >= 1``). ``every(1)`` writes after each item."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidValueError(f"every(n) needs a whole number of items >= 1, got {n!r}.")
    return CommitPolicy(items=n)


def every_seconds(t: float | timedelta, *, clock: Clock | None = None) -> CommitPolicy:
    """Commit once ``t`` seconds (a number or a ``timedelta``) have passed since the last commit.

    ``clock`` replaces :func:`time.monotonic`, so tests can move time without sleeping.
    """
    seconds = t.total_seconds() if isinstance(t, timedelta) else t
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise InvalidValueError(
            f"every_seconds(t) needs a finite number of seconds or a timedelta, got {t!r}."
        )
    if seconds <= 0:
        raise InvalidValueError(f"every_seconds(t) needs t > 0, got {t!r}.")
    if clock is not None and not callable(clock):
        raise InvalidValueError(
            f"every_seconds(clock=...) must be callable like time.monotonic, got {clock!r}."
        )
    return CommitPolicy(seconds=float(seconds), clock=clock or time.monotonic)


DEFAULT_POLICY = every(1000) | every_seconds(30)
"""The default cadence: at most 1,000 items or 30 seconds of work are redone after a hard crash."""

_MAX_STRIDE = 128
"""Read the clock at least once every this many items, even when items are very fast."""


class Schedule:
    """The running state of a :class:`CommitPolicy`: items and time since the last commit.

    The caller counts completed items and asks :meth:`due` only once the count reaches :meth:`next_check`,
    so the per-item cost is one integer comparison. For a time limit the clock is read every ``stride``
    items; the stride adapts so that the clock is read about every ``min(t / 100, 5 ms)`` of work and at
    least every 128 items, which keeps a time-based commit within about 1 % of ``t`` (an abrupt slowdown
    can add at most 128 items before the stride shrinks again).
    """

    __slots__ = (
        "_check_items",
        "_check_time",
        "_target",
        "clock",
        "items",
        "mark_items",
        "mark_time",
        "seconds",
        "stride",
    )

    def __init__(self, policy: CommitPolicy, items: int = 0) -> None:
        self.items = policy.items if policy.items is not None else _NEVER_ITEMS
        self.seconds = policy.seconds
        self.clock = policy.clock
        self._target = math.inf if self.seconds is None else min(self.seconds / 100, 0.005)
        self.stride = 1
        self.restart(items)

    def restart(self, items: int) -> None:
        """A commit was just attempted with ``items`` items done: measure from here."""
        now = self.clock()
        self.mark_items = items
        self.mark_time = now
        self._check_items = items
        self._check_time = now

    def due(self, items: int) -> bool:
        """Whether a commit is due now that ``items`` items are done."""
        if items - self.mark_items >= self.items:
            return True
        if self.seconds is None:
            return False
        now = self.clock()
        if now - self.mark_time >= self.seconds:
            return True
        interval = now - self._check_time
        if interval < self._target / 2:
            self.stride = min(self.stride * 2, _MAX_STRIDE)
        elif interval > self._target:
            self.stride = max(self.stride // 2 if interval < 4 * self._target else 1, 1)
        self._check_items, self._check_time = items, now
        return False

    def next_check(self, items: int) -> int:
        """The item count at which :meth:`due` should be asked next."""
        limit = self.mark_items + self.items
        if self.seconds is not None:
            limit = min(limit, items + self.stride)
        return limit

    def elapsed(self) -> float:
        """Seconds since the last commit attempt."""
        return self.clock() - self.mark_time
