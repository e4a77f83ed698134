"""Work that finishes out of order (thread pools, async fan-out): `remaining()` hands out positions,
`done()`/`track()` record them in any order, and `map()` does both for an executor.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from airflow_resumable._checkpoint_core import CheckpointCore
from airflow_resumable._checkpoint_positions import SKIP, Ordinal
from airflow_resumable._checkpoint_record import check_total
from airflow_resumable._codec import describe
from airflow_resumable.errors import InvalidValueError

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

__all__ = ["CheckpointFanOut"]

log = logging.getLogger("airflow_resumable.checkpoint")

T = TypeVar("T")
R = TypeVar("R")


class _Future(Protocol):
    """A ``concurrent.futures.Future`` or an ``asyncio.Future``: what `track()` needs."""

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...


F = TypeVar("F", bound=_Future)


class CheckpointFanOut(CheckpointCore):
    """Out-of-order progress of a checkpointer."""

    def remaining(self, items: Iterable[T], *, total: int | None = None) -> Iterator[tuple[int, T]]:
        """``(position, item)`` for every item not finished yet, for work that completes out of order.

        The n-th item has position n. Nothing is marked done here: call `done()` (or `track()`) with
        the position when the item's work has succeeded. ``total`` is the number of items of the whole
        input, as in [`iterate()`][airflow_resumable.checkpoint.Checkpointer.iterate].
        """
        total = check_total(total, f"Checkpointer {self.key!r}: remaining(total=...)")
        self._ensure_loaded()
        self._settle_runs("remaining()")
        with self._lock:
            base = self._int_position("remaining()")
            self._note_input(items, total, base)
            place = Ordinal(base, self._pending.copy() if self._pending else None)
        return self._remaining(place, items)

    def _remaining(self, place: Ordinal, items: Iterable[T]) -> Iterator[tuple[int, T]]:
        source = iter(items)
        if place.base:
            source = islice(source, place.base, None)
            place.index = place.base
        for item in source:
            pos = place(item)
            if pos is SKIP:
                continue
            self._raise_deferred()
            yield pos, item

    def done(self, position: int) -> None:
        """Mark the item at ``position`` done, in any order. Thread-safe.

        Only the lowest contiguous finished position is committed; positions finished above it are kept
        as compact runs, so a retry skips them too. Marking a position twice has no effect. After the
        ``with`` block ended it raises [`CheckpointError`][airflow_resumable.errors.CheckpointError] (it
        would not be saved).
        """
        self._check_done_position(position)
        self._raise_deferred()
        with self._lock:  # checked and written under one lock: the end of the block cannot come between
            self._refuse_late(f"done({position})")
            if self._mark_done(position):
                self._commit_locked()

    async def adone(self, position: int) -> None:
        """`done()` for async code: a due commit does not block the event loop."""
        self._check_done_position(position, "adone")
        self._raise_deferred()
        with self._lock:
            self._refuse_late(f"adone({position})")
            due = self._mark_done(position)
        if due:
            await self._acommit()

    def track(self, position: int, future: F) -> F:
        """Call `done()` for ``position`` when ``future`` succeeds (not when it fails or is cancelled).

        Works with ``concurrent.futures`` futures (the commit then runs in the worker thread). An error
        while recording is raised by the next ``done()``/``commit()`` or when the with block ends. The
        futures must finish inside the block: one still running when the block ends normally fails it
        (the work is not known to be done), and one finishing after the end is not recorded.
        """
        self._check_done_position(position, "track")
        with self._lock:
            self._refuse_late(f"track({position})")
            self._tracked += 1
            block = self._block

        def _record(fut: Any) -> None:
            with self._lock:
                if self._block is block:
                    self._tracked -= 1
            if fut.cancelled() or fut.exception() is not None:
                return
            try:
                self.done(position)
            except BaseException as exc:
                self._late_callback(position, exc)

        future.add_done_callback(_record)
        return future

    def map(
        self,
        fn: Callable[[T], R],
        items: Iterable[T],
        executor: Executor,
        *,
        in_flight: int | None = None,
        total: int | None = None,
    ) -> Iterator[R]:
        """Run ``fn(item)`` in ``executor`` for every item not finished yet; yield the results in order.

        The pool-safe form of ``executor.map(fn, ckpt.iterate(items))`` (which `iterate()` refuses:
        the pool takes every item before any work on it ran). Each item is recorded done when its call
        returns, in whatever order the calls finish; at most ``in_flight`` calls (default: twice the
        executor's workers) are submitted ahead of the result being read. When a call raises, the calls
        not started yet are cancelled and the error is raised here; whatever finished stays done.
        Read the results inside the ``with`` block, with the executor's own block inside it too.
        ``total`` is the number of items of the whole input, as in `remaining()`.
        """
        if in_flight is None:
            in_flight = 2 * int(getattr(executor, "_max_workers", 8) or 8)
        if isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
            raise InvalidValueError(f"map(in_flight=...) must be a whole number >= 1, got {in_flight!r}.")
        return self._map(fn, self.remaining(items, total=total), executor, in_flight)

    def _map(
        self, fn: Callable[[T], R], todo: Iterator[tuple[int, T]], executor: Executor, in_flight: int
    ) -> Iterator[R]:
        window: deque[Future[R]] = deque()
        try:
            for pos, item in todo:
                window.append(self.track(pos, executor.submit(fn, item)))
                if len(window) >= in_flight:
                    yield window.popleft().result()
            while window:
                yield window.popleft().result()
        finally:
            for future in window:
                future.cancel()

    def _check_done_position(self, position: object, what: str = "done") -> None:
        if isinstance(position, bool) or not isinstance(position, int):
            raise InvalidValueError(
                f"Checkpointer {self.key!r}: {what}() takes the int position of an item (from remaining()), "
                f"got {describe(position)}."
            )
        with self._lock:
            self._refuse_late(f"{what}({position})")
        self._ensure_loaded()
        self._settle_runs("done()")
