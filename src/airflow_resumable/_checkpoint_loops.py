"""The loops behind ``Checkpointer.iterate()`` and ``aiterate()``: positions, skipping, the item in flight.

A loop hands out one item at a time. The item is *complete* when the loop is asked for the next one; the
item handed out last is *in flight* until then. How the loop was let go decides its fate: after a ``break``
or ``return`` it is done once the code moves on (the block ends normally, another loop or manual progress
starts); after an exception, caught or not, or anything that cannot be told apart from one, it is not done
and is redone (see `airflow_resumable._checkpoint_frames`). A `Run` records all of that, and
`CheckpointLoops`, the checkpointer's loop bookkeeping, folds the runs into the checkpoint: it is the
one place that decides when an item counts as done.

The sync loop is a generator, the fastest thing Python has for this: per item one ``yield``, one
attribute store and one comparison. When the ``for`` statement that drives it goes away (a ``break``, an
exception) CPython closes it at once, and the generator notes how it was let go with its item in flight.
The async loop is a small class rather than an async generator, because an abandoned async generator is
only finalised later by the event loop, and the checkpoint must know at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from airflow_resumable._checkpoint_core import CheckpointCore
from airflow_resumable._checkpoint_frames import Consumer, consumer, left_by_break, on_stack
from airflow_resumable._checkpoint_positions import NOTHING, SKIP, Keyed, Ordinal
from airflow_resumable.errors import CheckpointError, InvalidValueError

if TYPE_CHECKING:
    import weakref

__all__ = ["AsyncLoop", "CheckpointLoops", "LoopOwner", "Run", "iter_fast", "iter_placed"]

log = logging.getLogger("airflow_resumable.checkpoint")

T = TypeVar("T")


class LoopOwner(Protocol):
    """What a loop needs from its checkpointer."""

    key: str

    def _complete(self, run: Run, pos: Any) -> bool: ...

    def _tick(self, run: Run) -> int: ...

    async def _atick(self, run: Run) -> None: ...


class Run:
    """One ``iterate()``/``aiterate()`` loop: how far it got, and whether an item is in flight.

    ``kind`` is ``fast`` (default positions: position = base + done), ``positions`` (positions from a
    placer; the last completed one is ``pos``) or ``pending`` (out-of-order progress exists: every
    completion goes through the checkpointer's ``_mark_done``). ``cur`` is the position of the item
    handed out last (for the placed and async loops). ``left`` says how the loop was let go with an item
    in flight: ``"break"`` (a ``break``/``return`` of the driving ``for``), ``"other"`` (an exception,
    ``close()``, garbage collection) or ``""`` (not let go). ``driver`` is the frame that drives it.
    """

    __slots__ = (
        "base",
        "cur",
        "done",
        "driver",
        "finished",
        "is_async",
        "kind",
        "left",
        "limit",
        "pos",
        "ref",
        "settled",
        "started",
        "synced",
        "thread",
    )

    def __init__(self, kind: str, base: int = 0, pos: Any = None, *, is_async: bool = False) -> None:
        self.kind = kind
        self.base = base
        self.pos = pos
        self.is_async = is_async
        self.cur: Any = NOTHING
        self.done = 0
        self.synced = 0
        self.limit = 0
        self.started = False
        self.finished = False
        self.left = ""
        self.settled = False
        self.ref: weakref.ref[Any] | None = None
        self.driver: Consumer | None = None
        self.thread = threading.get_ident()

    def start(self, key: str) -> None:
        """The first item is asked for (call from the loop): note who asks, refuse readers-ahead."""
        self.started = True
        self.thread = threading.get_ident()
        self.driver = consumer(key)

    def let_go(self) -> None:
        """The loop is closed or dropped (call from the loop): note how, if an item is in flight."""
        self.left = "break" if left_by_break(self.driver) else "other"

    def holds_item(self) -> bool:
        """An item was handed out and neither completed nor settled."""
        if self.settled:
            return False
        if self.is_async:
            return self.cur is not NOTHING
        return (self.started and not self.finished) or self.left != ""

    def is_open(self) -> bool:
        """Code may still iterate this loop: it holds an item and was not let go."""
        return self.holds_item() and self.left == "" and self.ref is not None and self.ref() is not None


def iter_fast(owner: LoopOwner, run: Run, items: Iterable[T]) -> Iterator[T]:
    """Default positions, nothing finished out of order: the hot path."""
    run.start(owner.key)
    try:
        source = iter(items)
        if run.base:
            source = islice(source, run.base, None)
        limit = run.limit
        for done, item in enumerate(source, 1):
            # The policy is asked once the next item has been fetched: when the last item completes there
            # is no next one, and the end of the with block writes (or clears) instead.
            if done > limit:
                limit = owner._tick(run)
            yield item
            run.done = done
    except GeneratorExit:
        run.let_go()  # closed at the yield: the item handed out is in flight
        raise
    finally:
        run.finished = True


def iter_placed(owner: LoopOwner, run: Run, place: Callable[[Any], Any], items: Iterable[T]) -> Iterator[T]:
    """Positions from a placer (``key=``, or default positions with out-of-order progress to skip)."""
    run.start(owner.key)
    due = False
    try:
        for item in items:
            pos = place(item)
            if pos is SKIP:
                continue
            if due:  # as in iter_fast: asked once the next item is there
                owner._tick(run)
            run.cur = pos
            yield item
            run.cur = NOTHING
            due = owner._complete(run, pos)
    except GeneratorExit:
        run.let_go()
        raise
    finally:
        run.finished = True


class AsyncLoop(Generic[T]):
    """``async for`` over a sync or an async iterable, with the same rules as the sync loop.

    A class rather than an async generator: an abandoned async generator is finalised later by the event
    loop, while this object is dropped at once by the ``async for`` that lets go of it (see ``__del__``).
    """

    def __init__(
        self, owner: LoopOwner, run: Run, place: Callable[[Any], Any], items: Iterable[T] | AsyncIterable[T]
    ) -> None:
        self._owner, self._run, self._place = owner, run, place
        self._async: AsyncIterator[T] | None = aiter(items) if isinstance(items, AsyncIterable) else None
        self._sync: Iterator[T] | None = None if self._async is not None else iter(items)  # type: ignore[arg-type]

    def __aiter__(self) -> AsyncLoop[T]:
        return self

    def __del__(self) -> None:
        run = self._run
        if run.cur is not NOTHING and not run.settled and run.left == "":
            run.let_go()

    async def __anext__(self) -> T:
        run = self._run
        if run.finished:
            raise StopAsyncIteration
        try:
            if not run.started:
                run.start(self._owner.key)
            due = False
            if run.cur is not NOTHING:  # asked for the next one: the item handed out last is complete
                pos, run.cur = run.cur, NOTHING
                due = self._owner._complete(run, pos)
            while True:
                if self._async is not None:
                    try:
                        item = await anext(self._async)
                    except StopAsyncIteration:
                        break
                else:
                    assert self._sync is not None
                    try:
                        item = next(self._sync)
                    except StopIteration:
                        break
                pos = self._place(item)
                if pos is not SKIP:
                    if due:  # as in iter_fast: asked once the next item is there
                        await self._owner._atick(run)
                    run.cur = pos
                    return item
        except BaseException:
            run.finished = True
            raise
        run.finished = True
        raise StopAsyncIteration


class CheckpointLoops(CheckpointCore):
    """The loop bookkeeping of a checkpointer: its runs, their in-flight items, and settling them."""

    def _new_run(
        self, key: Callable[[Any], Any] | None, items: object, *, is_async: bool, total: int | None = None
    ) -> tuple[Run, Any]:
        if key is not None and not callable(key):
            raise InvalidValueError(f"iterate(key=...) must be a function of the item, got {key!r}.")
        self._settle_runs("iterate()")
        with self._lock:
            if key is not None:
                if self._pending:
                    raise CheckpointError(
                        f"Checkpointer {self.key!r} holds out-of-order progress (from done()); iterate it "
                        "with the default positions, or use remaining() and done()."
                    )
                self._note_input(items, total, None)
                run = Run("positions", pos=self._pos, is_async=is_async)
                place: Any = Keyed(key, self._pos, self._codec, self.key)
            else:
                base = self._int_position("iterate()")
                self._note_input(items, total, base)
                if self._pending:
                    run = Run("pending", base, is_async=is_async)
                    place = Ordinal(base, self._pending.copy())
                else:
                    run = Run("positions" if is_async else "fast", base, pos=base, is_async=is_async)
                    place = Ordinal(base, None)
            run.limit = self._schedule.next_check(self._items) - self._items
            return run, place

    def _complete(self, run: Run, pos: Any) -> bool:
        """Record that the item at ``pos`` is done; return whether the commit policy must be asked."""
        if run.kind == "pending":
            return self._mark_done(pos)
        run.pos = pos
        run.done += 1
        return run.done >= run.limit

    def _tick(self, run: Run) -> int:
        """The loop reached its check point: commit if the policy says so, and return the next check point."""
        with self._lock:
            self._sync(run)
            if run.kind == "pending" or self._schedule.due(self._items):
                self._commit_locked()
            run.limit = self._schedule.next_check(self._items) - (self._items - run.done)
            return run.limit

    async def _atick(self, run: Run) -> None:
        with self._lock:
            self._sync(run)
            due = run.kind == "pending" or self._schedule.due(self._items)
        if due:
            await self._acommit()
        with self._lock:
            run.limit = self._schedule.next_check(self._items) - (self._items - run.done)

    def _sync(self, run: Run) -> None:
        """Fold a loop's completed items into the checkpoint's state (lock held)."""
        delta = run.done - run.synced
        if delta and run.kind != "pending":
            run.synced = run.done
            self._items += delta
            self._pos = run.base + run.done if run.kind == "fast" else run.pos
            self._changes += 1

    def _sync_runs(self) -> None:
        for run in self._runs:
            self._sync(run)
        self._runs = [run for run in self._runs if not run.finished or run.holds_item()]

    def _close_runs(self, *, moved_on: bool) -> None:
        """End every loop. An item in flight counts as done only if its loop was left with ``break`` (or
        ``return``) and the code then ``moved_on`` (the block ends normally, or another loop or manual
        progress starts); after an exception, or when it cannot be told, it is redone."""
        with self._lock:
            for run in self._runs:
                if run.holds_item() and moved_on and run.left == "break":
                    if run.kind == "fast":
                        run.done += 1
                    elif run.kind == "pending":
                        self._mark_done(run.cur)
                    else:
                        run.pos = run.cur
                        run.done += 1
                run.settled = True
                iterator = run.ref() if run.ref is not None else None
                if iterator is not None and hasattr(iterator, "close"):
                    iterator.close()
                run.finished = True
            self._sync_runs()

    def _settle_runs(self, what: str) -> None:
        """Before a new loop or manual progress: refuse while an enclosing loop still iterates (nested use),
        and settle the loops that were left (see `_close_runs()`)."""
        with self._lock:
            self._sync_runs()
            here = threading.get_ident()
            if any(run.is_open() and (run.thread != here or on_stack(run.driver)) for run in self._runs):
                raise CheckpointError(
                    f"Checkpointer {self.key!r}: {what} was called while an iterate() loop over it is still "
                    "going. One Checkpointer tracks one loop: give a nested loop its own Checkpointer and "
                    "key, and record progress either with iterate() or with advance()/done(), not both. "
                    "(A loop left with `break` whose iterator is still held in a variable also counts as "
                    "going: close it with .close() first.)"
                )
            self._close_runs(moved_on=True)
