"""Commit cadence: when a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] writes its progress to
the store.

A policy is a small immutable object, and ``|`` combines policies so that the first one to fire wins, the
way tenacity's ``stop_after_attempt(3) | stop_after_delay(10)`` composes:

- ``cost_aware(30)``, the default, bounds the redo in time and budgets the cost of writing: it commits just
  before 30 s of work would go unsaved, so a loop shorter than that writes nothing until it ends, and after
  that first commit it writes no more often than keeps the writes under 0.2 % of the loop's time (it
  measures what a write costs in this store, about 12 ms through the API server).
- ``every(n)`` fires after exactly ``n`` completed items, ``every_seconds(t)`` once ``t`` seconds passed.

```python
from airflow_resumable import cost_aware, every, every_seconds

policy = every(500) | cost_aware(30)  # at most 500 items or 30 s of work redone
```

The policy is the redo bound: after a hard crash a retry repeats at most the work done since the last
commit. `Schedule` is the runtime side; it keeps the per-item cost to one integer comparison by
telling the caller at which item count it next needs to be asked, a count it adapts to the measured cost of
an item (see `Schedule`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from airflow_resumable.errors import InvalidValueError

__all__ = [
    "DEFAULT_POLICY",
    "Clock",
    "CommitPolicy",
    "Schedule",
    "cost_aware",
    "every",
    "every_seconds",
]

Clock = Callable[[], float]
"""Seconds from an arbitrary start that never go backwards, like `time.monotonic()`."""

_NEVER_ITEMS = sys.maxsize
DEFAULT_WRITE_SHARE = 0.002
"""The share of a loop's time that [`cost_aware()`][airflow_resumable.cadence.cost_aware] lets its writes take
by default (0.2 %)."""


@dataclass(frozen=True)
class CommitPolicy:
    """Commit after ``items`` completed items or ``seconds`` seconds since the last commit, whichever first.

    Build it with [`every`][airflow_resumable.cadence.every],
    [`every_seconds`][airflow_resumable.cadence.every_seconds] and
    [`cost_aware`][airflow_resumable.cadence.cost_aware], and combine with ``|``.
    ``None`` means that limit does not apply. ``redo`` and ``write_share`` are the cost-aware limit: at most
    ``redo`` seconds of work since the last commit, writes taking at most ``write_share`` of the time.
    ``clock`` measures the seconds (``time.monotonic`` unless a test injects one).
    """

    items: int | None = None
    seconds: float | None = None
    clock: Clock = field(default=time.monotonic, compare=False)
    redo: float | None = None
    write_share: float | None = None

    def __post_init__(self) -> None:
        if self.items is None and self.seconds is None and self.redo is None:
            raise InvalidValueError(
                "A commit policy needs a limit: use every(n), every_seconds(t) and/or cost_aware(t)."
            )
        if (self.redo is None) != (self.write_share is None):
            raise InvalidValueError("A cost-aware policy needs both redo and write_share: use cost_aware(t).")

    def __or__(self, other: CommitPolicy) -> CommitPolicy:
        """The policy that fires as soon as either side would: the smaller of each limit."""
        if not isinstance(other, CommitPolicy):
            return NotImplemented
        clock = self.clock
        if not self._timed():
            clock = other.clock
        elif other._timed() and other.clock is not self.clock:
            raise InvalidValueError(
                "Both commit policies measure time, with different clocks. Give the timed policies one clock."
            )
        items = _smaller(self.items, other.items)
        share = (
            None
            if self.write_share is None and other.write_share is None
            else max(self.write_share or 0.0, other.write_share or 0.0)  # the larger share writes sooner
        )
        return CommitPolicy(
            None if items is None else int(items),
            _smaller(self.seconds, other.seconds),
            clock,
            _smaller(self.redo, other.redo),
            share,
        )

    def _timed(self) -> bool:
        return self.seconds is not None or self.redo is not None

    def __repr__(self) -> str:
        parts = []
        if self.items is not None:
            parts.append(f"every({self.items})")
        if self.seconds is not None:
            parts.append(f"every_seconds({self.seconds:g})")
        if self.redo is not None:
            share = "" if self.write_share == DEFAULT_WRITE_SHARE else f", write_share={self.write_share:g}"
            parts.append(f"cost_aware({self.redo:g}{share})")
        return " | ".join(parts)

    def describe_bound(self) -> str:
        """The redo bound this policy gives, in words (for logs and error messages)."""
        parts = []
        if self.items is not None:
            parts.append(f"{self.items} item{'s' if self.items != 1 else ''}")
        seconds = _smaller(self.seconds, self.redo)
        if seconds is not None:
            parts.append(f"{seconds:g} s of work")
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


def _seconds(t: float | timedelta, what: str) -> float:
    seconds = t.total_seconds() if isinstance(t, timedelta) else t
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise InvalidValueError(f"{what} needs a finite number of seconds or a timedelta, got {t!r}.")
    if seconds <= 0:
        raise InvalidValueError(f"{what} needs t > 0, got {t!r}.")
    return float(seconds)


def _check_clock(clock: object, what: str) -> None:
    if clock is not None and not callable(clock):
        raise InvalidValueError(f"{what}(clock=...) must be callable like time.monotonic, got {clock!r}.")


def every_seconds(t: float | timedelta, *, clock: Clock | None = None) -> CommitPolicy:
    """Commit once ``t`` seconds (a number or a ``timedelta``) have passed since the last commit.

    ``clock`` replaces ``time.monotonic``, so tests can move time without sleeping.
    """
    seconds = _seconds(t, "every_seconds(t)")
    _check_clock(clock, "every_seconds")
    return CommitPolicy(seconds=seconds, clock=clock or time.monotonic)


def cost_aware(
    t: float | timedelta = 30, *, write_share: float = DEFAULT_WRITE_SHARE, clock: Clock | None = None
) -> CommitPolicy:
    """Commit so that a hard crash redoes at most ``t`` seconds of work, writing as seldom as that allows.

    The first commit comes just before ``t`` seconds of work would be unsaved (a loop that ends sooner
    writes nothing until it ends). Later commits come once the writes' measured cost is at most
    ``write_share`` of the time since the last one (``0.002``: 12 ms writes, one every 6 s), and never
    more than once a second. The bound wins over the budget: with writes slower than ``t * write_share``
    it commits every ``t`` seconds all the same. The bound assumes items do not suddenly get more than
    4x slower than the ones just before them. ``clock`` replaces ``time.monotonic`` in tests. The
    performance page of the docs has the measured numbers.
    """
    seconds = _seconds(t, "cost_aware(t)")
    share = write_share
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        raise InvalidValueError(
            f"cost_aware(write_share=...) is the share of the time writes may take, between 0 and 1 "
            f"(e.g. 0.002 for 0.2 %), got {write_share!r}."
        )
    _check_clock(clock, "cost_aware")
    return CommitPolicy(redo=seconds, write_share=float(share), clock=clock or time.monotonic)


DEFAULT_POLICY = cost_aware(30)
"""The default cadence: at most 30 s of work redone after a hard crash, writes under 0.2 % of the time."""

_MAX_STRIDE = 128
"""``every_seconds``: read the clock at least once every this many items, even when items are very fast."""
_MAX_STRIDE_BUDGET = 1024
"""``cost_aware``: the same cap (measured item cost sets the stride below it)."""
_PERIOD = 0.005
"""``cost_aware``: read the clock about every 5 ms of work."""
_SAFETY = 4.0
"""``cost_aware``: commit while even an item ``_SAFETY`` times slower than average would keep the bound."""
_MIN_PACE = 1.0
"""``cost_aware``: never write more than once a second."""
_MARGIN = 0.99
"""``cost_aware``: aim at 99 % of the bound, so a moment's stall of the machine does not cross it."""


class Schedule:
    """The running state of a [`CommitPolicy`][airflow_resumable.cadence.CommitPolicy]: items and time since
    the last commit.

    The caller counts completed items and asks `due()` only once the count reaches `next_check()`,
    so the per-item cost is one integer comparison. For a time limit the clock is read every ``stride``
    items. With ``every_seconds(t)`` the stride doubles or halves so that the clock is read about every
    ``min(t / 100, 5 ms)`` of work, and at least every 128 items.

    With ``cost_aware(t)`` each clock read also measures the average cost of an item since the previous read.
    The stride is then about 5 ms of work at that cost (at most 1,024 items, growing at most 4x per read), and
    near the bound it shrinks so that the next read comes before the bound at a quarter of the remaining time:
    the commit fires at the first read where one more item, at 4x the average cost, could cross 99 % of ``t``
    (the 1 % absorbs a moment's stall of a busy machine). So the bound holds as long as the items between two
    reads are on average less than 4x slower than those before them; a sudden larger slowdown can overshoot by
    at most one stride of slow items. The write path reports each commit's duration to `restart()`, which
    sets the pace of the commits after the first: ``max(duration / write_share, 1 s)``, capped by the bound.
    """

    __slots__ = (
        "_check_items",
        "_check_time",
        "_target",
        "clock",
        "commit_seconds",
        "item_seconds",
        "items",
        "mark_items",
        "mark_time",
        "redo",
        "seconds",
        "share",
        "stride",
    )

    def __init__(self, policy: CommitPolicy, items: int = 0) -> None:
        self.items = policy.items if policy.items is not None else _NEVER_ITEMS
        self.seconds = policy.seconds
        self.redo = policy.redo
        self.share = policy.write_share or DEFAULT_WRITE_SHARE
        self.clock = policy.clock
        self._target = math.inf if self.seconds is None else min(self.seconds / 100, _PERIOD)
        self.stride = 1
        self.commit_seconds: float | None = None  # measured cost of a write; None until one landed
        self.item_seconds = 0.0  # measured cost of an item; 0 until measured
        self.restart(items)

    def restart(self, items: int, *, commit_seconds: float | None = None) -> None:
        """A commit was just attempted with ``items`` items done: measure from here.

        ``commit_seconds`` is how long a write that landed took (the write path measures it with
        `clock`); ``None`` after a failed write, which does not change the measured cost.
        """
        now = self.clock()
        if commit_seconds is not None:
            cost = max(commit_seconds, 0.0)
            previous = self.commit_seconds
            self.commit_seconds = cost if previous is None else (previous + cost) / 2
        self.mark_items = items
        self.mark_time = now
        self._check_items = items
        self._check_time = now

    def pace(self) -> float:
        """``cost_aware``: the seconds between commits after the first (``inf`` before the first one)."""
        if self.commit_seconds is None or self.redo is None:
            return math.inf
        return max(self.commit_seconds / self.share, _MIN_PACE)

    def due(self, items: int) -> bool:
        """Whether a commit is due now that ``items`` items are done."""
        if items - self.mark_items >= self.items:
            return True
        if self.seconds is None and self.redo is None:
            return False
        now = self.clock()
        elapsed = now - self.mark_time
        if self.seconds is not None and elapsed >= self.seconds:
            return True
        interval = now - self._check_time
        done = items - self._check_items
        if self.redo is not None:
            if done > 0:
                self.item_seconds = interval / done
            if elapsed + _SAFETY * self.item_seconds >= self.redo * _MARGIN or elapsed >= self.pace():
                return True
        if self.seconds is not None:
            if interval < self._target / 2:
                self.stride = min(self.stride * 2, _MAX_STRIDE)
            elif interval > self._target:
                self.stride = max(self.stride // 2 if interval < 4 * self._target else 1, 1)
        if self.redo is not None:
            self._budget_stride(elapsed)
        self._check_items, self._check_time = items, now
        return False

    def _budget_stride(self, elapsed: float) -> None:
        """Items until the next clock read: ~5 ms of work, and a quarter of the time left to the bound."""
        assert self.redo is not None
        cost = self.item_seconds
        if cost <= 0:  # no time measured for these items (a coarse clock): try more of them next time
            self.stride = min(self.stride * 4, _MAX_STRIDE_BUDGET)
            return
        left = min(self.redo * _MARGIN, self.pace()) - elapsed
        fit = min(_PERIOD, left / _SAFETY) / cost
        stride = self.stride * 4 if fit > self.stride * 4 else int(fit)
        if self.seconds is not None:  # both kinds of time limit: the closer reading wins
            stride = min(stride, self.stride)
        self.stride = max(1, min(stride, _MAX_STRIDE_BUDGET))

    def next_check(self, items: int) -> int:
        """The item count at which `due()` should be asked next."""
        limit = self.mark_items + self.items
        if self.seconds is not None or self.redo is not None:
            limit = min(limit, items + self.stride)
        return limit

    def elapsed(self) -> float:
        """Seconds since the last commit attempt."""
        return self.clock() - self.mark_time
