"""The loops behind ``Checkpointer.iterate()`` and ``aiterate()``: positions, skipping, the item in flight.

A loop hands out one item at a time. The item is *complete* when the loop is asked for the next one; the
item handed out last is *in flight* until then, and how the ``with`` block ends decides its fate (done
after a normal exit or a ``break``, not done after an exception). A :class:`Run` records all of that for
its :class:`~airflow_resumable.Checkpointer`, which folds it into the checkpoint.

The sync loop is a generator, the fastest thing Python has for this: per item one ``yield``, one
attribute store and one comparison. When the ``for`` statement that drives it goes away (a ``break``, an
exception) CPython closes it at once, which the generator notes as "abandoned with an item in flight".
The async loop is a small class rather than an async generator, because an abandoned async generator is
only finalised later by the event loop, and the checkpoint must know at once.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from airflow_resumable._codec import Codec, describe
from airflow_resumable.errors import CheckpointError, InvalidValueError

if TYPE_CHECKING:
    from airflow_resumable._checkpoint_ranges import Ranges

__all__ = [
    "NOTHING",
    "SKIP",
    "AsyncLoop",
    "Keyed",
    "LoopOwner",
    "Ordinal",
    "Run",
    "encode",
    "iter_fast",
    "iter_placed",
]

T = TypeVar("T")


class _Skip:
    """Marks an item that an earlier try already finished."""


SKIP: Any = _Skip()
NOTHING: Any = object()


class LoopOwner(Protocol):
    """What a loop needs from its checkpointer."""

    def _complete(self, run: Run, pos: Any) -> bool: ...

    def _tick(self, run: Run) -> int: ...

    async def _atick(self, run: Run) -> None: ...


class Run:
    """One ``iterate()``/``aiterate()`` loop: how far it got, and whether an item is in flight.

    ``kind`` is ``fast`` (default positions: position = base + done), ``positions`` (positions from a
    placer; the last completed one is ``pos``) or ``pending`` (out-of-order progress exists: every
    completion goes through the checkpointer's ``_mark_done``). ``cur`` is the position of the item
    handed out last (for the placed and async loops).
    """

    __slots__ = (
        "abandoned",
        "base",
        "cur",
        "done",
        "finished",
        "is_async",
        "kind",
        "limit",
        "pos",
        "ref",
        "settled",
        "started",
        "synced",
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
        self.abandoned = False
        self.settled = False
        self.ref: weakref.ref[Any] | None = None

    def holds_item(self) -> bool:
        """An item was handed out and neither completed nor settled."""
        if self.settled:
            return False
        if self.is_async:
            return self.cur is not NOTHING and not self.finished
        return (self.started and not self.finished) or self.abandoned

    def is_open(self) -> bool:
        """Code still iterates this loop: it holds an item and its iterator is alive."""
        return self.holds_item() and self.ref is not None and self.ref() is not None


class Ordinal:
    """Default positions: the n-th item (from 1) has position n; skip those already done."""

    __slots__ = ("base", "index", "pending")

    def __init__(self, base: int, pending: Ranges | None) -> None:
        self.base, self.pending, self.index = base, pending, 0

    def __call__(self, item: object) -> Any:
        self.index += 1
        i = self.index
        if i <= self.base or (self.pending is not None and i in self.pending):
            return SKIP
        return i


class Keyed:
    """Positions from ``key(item)``: they must increase strictly; those up to ``resume`` are done."""

    __slots__ = ("checked", "codec", "key", "name", "prev", "resume")

    def __init__(self, key: Callable[[Any], Any], resume: Any, codec: Codec[Any], name: str) -> None:
        self.key, self.resume, self.codec, self.name = key, resume, codec, name
        self.prev: Any = NOTHING
        self.checked = False

    def __call__(self, item: object) -> Any:
        pos = self.key(item)
        if pos is None:
            raise InvalidValueError(
                f"Checkpointer {self.name!r}: key({describe(item)}) returned None; it must return the item's "
                "position (an int, str, datetime, tuple...)."
            )
        try:
            if self.prev is not NOTHING and not pos > self.prev:
                raise CheckpointError(
                    f"Checkpointer {self.name!r}: iterate(key=...) needs items sorted by a strictly "
                    f"increasing key, but {describe(pos)} came after {describe(self.prev)}. Sort the input, "
                    "or make the key unique with a tie-breaker, e.g. key=lambda r: (r.updated_at, r.id)."
                )
            done = self.resume is not None and not pos > self.resume
        except TypeError as exc:
            raise CheckpointError(
                f"Checkpointer {self.name!r}: position {describe(pos)} cannot be compared with "
                f"{describe(self.prev if self.prev is not NOTHING else self.resume)} ({exc}). Positions "
                "from key= must all be of one orderable type (and of the type stored by earlier tries)."
            ) from None
        self.prev = pos
        if done:
            return SKIP
        if not self.checked:
            encode(self.codec, pos, f"Checkpointer {self.name!r}: position")
            self.checked = True
        return pos


def encode(codec: Codec[Any], value: Any, what: str) -> Any:
    """Encode with the codec, turning any failure into :class:`InvalidValueError` (before any write)."""
    try:
        return codec.encode(value)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{what}: {exc}") from None
    except Exception as exc:
        raise InvalidValueError(
            f"{what} {describe(value)} could not be encoded by the codec: {exc!r}"
        ) from exc


def iter_fast(owner: LoopOwner, run: Run, items: Iterable[T]) -> Iterator[T]:
    """Default positions, nothing finished out of order: the hot path."""
    run.started = True
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
        run.abandoned = True  # closed at the yield: the item handed out is in flight
        raise
    finally:
        run.finished = True


def iter_placed(owner: LoopOwner, run: Run, place: Callable[[Any], Any], items: Iterable[T]) -> Iterator[T]:
    """Positions from a placer (``key=``, or default positions with out-of-order progress to skip)."""
    run.started = True
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
        run.abandoned = True
        raise
    finally:
        run.finished = True


class AsyncLoop(Generic[T]):
    """``async for`` over a sync or an async iterable, with the same rules as the sync loop."""

    def __init__(
        self, owner: LoopOwner, run: Run, place: Callable[[Any], Any], items: Iterable[T] | AsyncIterable[T]
    ) -> None:
        self._owner, self._run, self._place = owner, run, place
        self._async: AsyncIterator[T] | None = aiter(items) if isinstance(items, AsyncIterable) else None
        self._sync: Iterator[T] | None = None if self._async is not None else iter(items)  # type: ignore[arg-type]

    def __aiter__(self) -> AsyncLoop[T]:
        return self

    async def __anext__(self) -> T:
        run = self._run
        if run.finished:
            raise StopAsyncIteration
        try:
            run.started = True
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
