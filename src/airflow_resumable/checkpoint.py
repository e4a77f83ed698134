"""Checkpoints inside one task: record progress in ``task_state_store`` so a retry resumes where the
failed try stopped, instead of starting over.

::

    from airflow_resumable import Checkpointer

    @task(retries=3)
    def load_rows(rows):
        with Checkpointer("rows", initial=0) as ckpt:
            for row in ckpt.iterate(rows):  # skips what earlier tries finished
                load(row)

How it works, in short:

- **Positions.** Every item has a position; the checkpoint stores the position of the last *completed*
  item, and a retry resumes with the items strictly after it. By default the n-th item (counting from 1)
  has position n, so ``position`` is also "how many items from the start are done" and ``items[position:]``
  is what is left. ``iterate(items, key=...)`` uses your own increasing positions instead (timestamps, ids,
  page tokens, composite tuples) for inputs sorted by that key.
- **Cadence.** Progress is written when the commit policy fires (default ``every(1000) | every_seconds(30)``),
  which bounds what a hard crash makes a retry redo. On a Python exception the last completed position is
  written on the way out, so the retry redoes nothing that completed. On success the key is deleted.
- **Out of order.** ``done(position)`` accepts completions in any order (thread pools, async fan-out); only
  the lowest contiguous finished position moves, and what finished above it is kept as compact runs.

What it does not do: make your side effects idempotent. Work is done *at least once*: the item a crash
interrupts, and those finished since the last commit, run again on the retry.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Sized
from datetime import timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from airflow_resumable import _store
from airflow_resumable._checkpoint_io import KeyIO
from airflow_resumable._checkpoint_loops import (
    SKIP,
    AsyncLoop,
    Keyed,
    Ordinal,
    Run,
    encode,
    iter_fast,
    iter_placed,
)
from airflow_resumable._checkpoint_ranges import Ranges
from airflow_resumable._checkpoint_record import MAX_PENDING_RANGES, Saved, dump, fingerprint_of, load
from airflow_resumable._codec import Codec, TypedCodec, describe
from airflow_resumable.cadence import DEFAULT_POLICY, CommitPolicy, Schedule
from airflow_resumable.errors import CheckpointError, CommitError, InvalidValueError

if TYPE_CHECKING:
    import asyncio
    from types import TracebackType

    from airflow_resumable._store import TaskStore

__all__ = ["Checkpointer"]

log = logging.getLogger("airflow_resumable.checkpoint")

T = TypeVar("T")
OnCommitError = Literal["raise", "warn"]
_MAX_KEY_LENGTH = 512  # the state store's key column


class _Future(Protocol):
    """A ``concurrent.futures.Future`` or an ``asyncio.Future``: what :meth:`Checkpointer.track` needs."""

    def add_done_callback(self, fn: Callable[[Any], object], /) -> None: ...


F = TypeVar("F", bound=_Future)


class Checkpointer:
    """Progress of one loop inside a task, kept in ``task_state_store`` under ``key``.

    Use it as ``with Checkpointer(...) as ckpt:`` (or ``async with``): the block reads the earlier tries'
    progress on the way in, and on the way out saves the last completed position (after an exception) or
    deletes the key (after success).

    :param key: the task-store key, unique within the task (each mapped task instance has its own keys).
    :param initial: the position before any item is done. ``None`` (the default) means nothing is done;
        with the default positions it behaves like ``0``.
    :param commit: when to write, a :class:`~airflow_resumable.CommitPolicy` such as ``every(100)``. The
        default ``every(1000) | every_seconds(30)`` bounds what a retry redoes after a hard crash.
    :param store: the task state store; by default the running task's ``task_state_store``.
    :param codec: turns positions into JSON and back; the default :class:`~airflow_resumable.TypedCodec`
        handles int, str, aware datetime, date, Decimal, UUID, and tuples, lists and dicts of these.
    :param fingerprint: a string or JSON-able value describing the inputs (a file list, a query, a code
        version). Stored progress with another fingerprint is discarded with a warning.
    :param retention: how long the key lives: ``NEVER_EXPIRE`` (the default), a ``timedelta``, or ``None``
        for Airflow's ``[state_store] default_retention_days``.
    :param clear_on_success: delete the key when the block ends normally (default), so a later
        clear-and-rerun starts fresh; with ``False`` the final position is written instead.
    :param on_commit_error: what happens when a write still fails after its retries: ``"raise"`` (default)
        a :class:`~airflow_resumable.CommitError`, or ``"warn"``: log a warning saying how many items are
        now uncommitted, and carry on.
    """

    def __init__(
        self,
        key: str,
        *,
        initial: Any = None,
        commit: CommitPolicy = DEFAULT_POLICY,
        store: TaskStore | None = None,
        codec: Codec[Any] | None = None,
        fingerprint: Any = None,
        retention: timedelta | None = timedelta.max,
        clear_on_success: bool = True,
        on_commit_error: OnCommitError = "raise",
    ) -> None:
        if not isinstance(key, str) or not key.strip():
            raise InvalidValueError(f"Checkpointer needs a non-empty string key, got {key!r}.")
        if len(key) > _MAX_KEY_LENGTH:
            raise InvalidValueError(
                f"Checkpointer key is {len(key)} characters; the store allows {_MAX_KEY_LENGTH}."
            )
        if not isinstance(commit, CommitPolicy):
            raise InvalidValueError(
                "Checkpointer(commit=...) takes a policy such as every(100) or every_seconds(10), "
                f"got {commit!r}."
            )
        if codec is not None and not (
            callable(getattr(codec, "encode", None)) and callable(getattr(codec, "decode", None))
        ):
            raise InvalidValueError(
                f"Checkpointer(codec=...) needs encode() and decode() methods, got {codec!r}."
            )
        if retention is not None and (not isinstance(retention, timedelta) or retention <= timedelta(0)):
            raise InvalidValueError(
                "Checkpointer(retention=...) takes a positive timedelta, NEVER_EXPIRE or None, "
                f"got {retention!r}."
            )
        if on_commit_error not in ("raise", "warn"):
            raise InvalidValueError(f"on_commit_error must be 'raise' or 'warn', got {on_commit_error!r}.")
        if not isinstance(clear_on_success, bool):
            raise InvalidValueError(f"clear_on_success must be True or False, got {clear_on_success!r}.")
        self.key = key
        self.policy = commit
        self._codec: Codec[Any] = codec if codec is not None else TypedCodec()
        if initial is not None:
            encode(self._codec, initial, f"Checkpointer {key!r}: initial")
        self._initial = initial
        self._fingerprint = None if fingerprint is None else fingerprint_of(fingerprint)
        self._retention = retention
        self._clear_on_success = clear_on_success
        self._on_commit_error = on_commit_error
        self._store_arg = store
        self._io: KeyIO | None = None
        self._lock = threading.RLock()
        self._alock: asyncio.Lock | None = None
        self._open: Literal["", "sync", "async"] = ""
        self._loaded = False
        self._try_number: int | None = None
        self._runs: list[Run] = []
        self._start_fresh()

    def __repr__(self) -> str:
        return f"<Checkpointer {self.key!r} position={describe(self._committed_pos)} commit={self.policy!r}>"

    # -- state -----------------------------------------------------------------------------------------
    def _start_fresh(self) -> None:
        self._pos: Any = self._initial
        self._items = 0
        self._pending = Ranges()
        self._changes = 0
        self._written_changes = 0
        self._committed_pos: Any = self._initial
        self._committed_items = 0
        self._resumed_items = 0
        self._resumed = False
        self._stored = False
        self._error: BaseException | None = None
        self._raised: CommitError | None = None
        self._schedule = Schedule(self.policy, 0)

    @property
    def position(self) -> Any:
        """The last committed position (what a retry would resume after), or ``initial``."""
        self._ensure_loaded()
        return self._committed_pos

    @property
    def items_done(self) -> int:
        """Items completed so far, by this try and the earlier ones it resumed from."""
        with self._lock:
            self._sync_runs()
            return self._items

    @property
    def uncommitted(self) -> int:
        """Items completed but not yet written: what a hard crash right now would make the retry redo."""
        with self._lock:
            self._sync_runs()
            return self._items - self._committed_items

    @property
    def resumed(self) -> bool:
        """Whether progress saved by an earlier try was found (and its fingerprint matched)."""
        self._ensure_loaded()
        return self._resumed

    # -- loading -----------------------------------------------------------------------------------------
    def _key_io(self) -> KeyIO:
        if self._io is None:
            store = _store.task_store(self._store_arg, who=f"Checkpointer({self.key!r})")
            self._io = KeyIO(store, self.key, self._retention)
            if "airflow.sdk" in sys.modules:  # inside a task it is; outside, do not import Airflow for this
                self._try_number = _store.writer_identity().get("try_number")
        return self._io

    def _ensure_loaded(self) -> None:
        if not self._loaded:
            self._apply_loaded(self._key_io().read())

    async def _aensure_loaded(self) -> None:
        if not self._loaded:
            self._apply_loaded(await self._key_io().aread())

    def _apply_loaded(self, raw: Any) -> None:
        with self._lock:
            if self._loaded:  # another thread loaded meanwhile and may have recorded progress since
                return
            self._start_fresh()
            self._loaded = True
            if raw is None:
                log.info("Checkpoint %r: no earlier progress, starting from the beginning.", self.key)
                return
            self._stored = True
            saved = load(self.key, raw, self._codec)
            if saved.fingerprint != self._fingerprint:
                log.warning(
                    "Checkpoint %r was saved for other inputs (fingerprint %s, now %s): discarding its "
                    "progress (position %s, %d items) and starting from the beginning.",
                    self.key,
                    saved.fingerprint,
                    self._fingerprint,
                    describe(saved.position),
                    saved.items_done,
                )
                return
            self._restore(saved)

    def _restore(self, saved: Saved) -> None:
        self._pos = self._committed_pos = saved.position
        self._items = self._committed_items = self._resumed_items = saved.items_done
        self._pending = saved.pending
        self._resumed = True
        self._schedule = Schedule(self.policy, self._items)
        extra = f", {saved.pending.count()} more finished out of order" if saved.pending else ""
        log.info(
            "Checkpoint %r: resuming after position %s (%d items done by earlier tries%s, saved %s).",
            self.key,
            describe(saved.position),
            saved.items_done,
            extra,
            saved.updated_at,
        )

    # -- the with block ----------------------------------------------------------------------------------
    def __enter__(self) -> Checkpointer:
        self._enter("sync")
        try:
            self._loaded = False
            self._ensure_loaded()
        except BaseException:
            self._open = ""
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._close_runs(completed=exc is None)
            if exc is None:
                self._finish()
            else:
                self._save_after(exc)
        finally:
            self._open = ""

    async def __aenter__(self) -> Checkpointer:
        self._enter("async")
        try:
            import asyncio  # only async users pay for importing it

            self._alock = asyncio.Lock()
            self._loaded = False
            await self._aensure_loaded()
        except BaseException:
            self._open = ""
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._close_runs(completed=exc is None)
            if exc is None:
                await self._afinish()
            else:
                await self._asave_after(exc)
        finally:
            self._open = ""

    def _enter(self, mode: Literal["sync", "async"]) -> None:
        if self._open:
            raise CheckpointError(f"Checkpointer {self.key!r} is already in use by an enclosing with block.")
        self._open = mode
        self._runs = []

    def _require_open(self, what: str, mode: str = "") -> None:
        if not self._open or (mode and self._open != mode):
            opener = "async with" if mode == "async" else "with"
            raise CheckpointError(
                f"Checkpointer {self.key!r}: call {what} inside `{opener} Checkpointer(...) as ckpt:`, so "
                "that the progress of the item in flight is saved (or cleared) when the block ends."
            )

    def _take_deferred(self) -> BaseException | None:
        with self._lock:
            error, self._error = self._error, None
        return error

    def _finish(self) -> None:
        if (error := self._take_deferred()) is not None:  # a track() callback failed: save, then fail
            self._save_after(error)
            raise error
        if self._clear_on_success:
            if self._stored:
                try:
                    self._key_io().delete()
                except Exception as exc:
                    self._failed("clear the finished checkpoint", exc, redo=self._items)
                    return
            self._log_finished()
        else:
            self.commit()

    async def _afinish(self) -> None:
        if (error := self._take_deferred()) is not None:
            await self._asave_after(error)
            raise error
        if self._clear_on_success:
            if self._stored:
                try:
                    await self._key_io().adelete()
                except Exception as exc:
                    self._failed("clear the finished checkpoint", exc, redo=self._items)
                    return
            self._log_finished()
        else:
            await self.acommit()

    def _log_finished(self) -> None:
        with self._lock:
            log.info(
                "Checkpoint %r: finished, %d items done (%d by this try); progress cleared.",
                self.key,
                self._items,
                self._items - self._resumed_items,
            )
            self._stored = False
            self._loaded = False

    def _save_after(self, exc: BaseException) -> None:
        if exc is self._raised:  # the block ends because saving failed, retries and all: do not start over
            return
        try:
            with self._lock:
                self._commit_locked()
        except Exception as err:
            self._log_lost(exc, err)

    async def _asave_after(self, exc: BaseException) -> None:
        if exc is self._raised:
            return
        try:
            await self._acommit()
        except Exception as err:
            self._log_lost(exc, err)

    def _log_lost(self, exc: BaseException, err: Exception) -> None:
        log.error(
            "Checkpoint %r: the task failed (%r) and its progress could not be saved (%r): the retry will "
            "redo %d items.",
            self.key,
            exc,
            err,
            self._items - self._committed_items,
        )

    # -- loops -------------------------------------------------------------------------------------------
    def iterate(self, items: Iterable[T], *, key: Callable[[T], Any] | None = None) -> Iterator[T]:
        """Yield the items not finished by earlier tries, recording each as done when the next is asked for.

        An item is complete when the loop asks for the next one or, after a ``break``, when the code moves
        on (the ``with`` block ends normally, or another loop or ``advance()`` starts). If the block ends
        with an exception, the item in flight is not complete: the retry starts with it.

        Without ``key`` the n-th item has position n; the input must yield the same items in the same order
        on every try (give a ``fingerprint`` to be warned when it does not). With ``key`` (a function of the
        item) the positions are yours, e.g. ``key=lambda r: r["id"]`` for input sorted by id: they must
        increase strictly, and a retry skips every item whose key is not above the stored position.
        """
        self._require_open("iterate()")
        self._ensure_loaded()
        run, place = self._new_run(key, items, is_async=False)
        gen = iter_fast(self, run, items) if run.kind == "fast" else iter_placed(self, run, place, items)
        run.ref = weakref.ref(gen)
        self._runs.append(run)
        return gen

    def aiterate(
        self, items: Iterable[T] | AsyncIterable[T], *, key: Callable[[T], Any] | None = None
    ) -> AsyncIterator[T]:
        """:meth:`iterate` for ``async for``, over a sync or an async iterable; commits without blocking."""
        self._require_open("aiterate()", "async")
        run, place = self._new_run(key, items, is_async=True)
        loop: AsyncLoop[T] = AsyncLoop(self, run, place, items)
        run.ref = weakref.ref(loop)
        self._runs.append(run)
        return loop

    def _new_run(self, key: Callable[[Any], Any] | None, items: object, *, is_async: bool) -> tuple[Run, Any]:
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
                run = Run("positions", pos=self._pos, is_async=is_async)
                place: Any = Keyed(key, self._pos, self._codec, self.key)
            else:
                base = self._int_position("iterate()")
                self._warn_if_short(items, base)
                if self._pending:
                    run = Run("pending", base, is_async=is_async)
                    place = Ordinal(base, self._pending.copy())
                else:
                    run = Run("positions" if is_async else "fast", base, pos=base, is_async=is_async)
                    place = Ordinal(base, None)
            run.limit = self._schedule.next_check(self._items) - self._items
            return run, place

    def _warn_if_short(self, items: object, base: int) -> None:
        size = len(items) if isinstance(items, Sized) else None
        if size is not None and size < base:
            log.warning(
                "Checkpoint %r: earlier tries finished %d items but only %d were given, so nothing is left "
                "to do. If the input changed, pass fingerprint= so stale progress is discarded.",
                self.key,
                base,
                size,
            )

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

    def _close_runs(self, *, completed: bool) -> None:
        """End every loop; an item still in flight counts as done only if ``completed``."""
        with self._lock:
            for run in self._runs:
                if run.holds_item() and completed:
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
        """Before a new loop or manual progress: refuse while a loop is still iterated (nested use), and
        count the in-flight item of a loop that was left (``break``) as done: the code moved on."""
        with self._lock:
            self._sync_runs()
            if any(run.is_open() for run in self._runs):
                raise CheckpointError(
                    f"Checkpointer {self.key!r}: {what} was called while an iterate() loop over it is still "
                    "going. One Checkpointer tracks one loop: give a nested loop its own Checkpointer and "
                    "key, and record progress either with iterate() or with advance()/done(), not both."
                )
            self._close_runs(completed=True)

    def _int_position(self, what: str) -> int:
        pos = self._pos
        if pos is None:
            return 0
        if isinstance(pos, bool) or not isinstance(pos, int):
            raise CheckpointError(
                f"Checkpointer {self.key!r}: {what} counts items, but the position is {describe(pos)}. Use "
                "iterate(key=...) for positions of your own, or another key."
            )
        return pos

    # -- manual progress -----------------------------------------------------------------------------------
    def advance(self, position: Any, *, items: int = 1) -> None:
        """Record that everything up to ``position`` is done (``items`` more items); saved per the policy."""
        if self._record_advance(position, items):
            self.commit()

    async def aadvance(self, position: Any, *, items: int = 1) -> None:
        """:meth:`advance` for async code: a due commit does not block the event loop."""
        if self._record_advance(position, items):
            await self.acommit()

    def _record_advance(self, position: Any, items: int) -> bool:
        if position is None:
            raise InvalidValueError(f"Checkpointer {self.key!r}: advance(None): a position cannot be None.")
        if isinstance(items, bool) or not isinstance(items, int) or items < 0:
            raise InvalidValueError(f"advance(items=...) must be a whole number >= 0, got {items!r}.")
        encode(self._codec, position, f"Checkpointer {self.key!r}: position")
        self._ensure_loaded()
        self._settle_runs("advance()")
        with self._lock:
            if self._pending:
                raise CheckpointError(
                    f"Checkpointer {self.key!r} tracks out-of-order progress: record it with done(), "
                    "not advance()."
                )
            self._pos = position
            self._items += items
            self._changes += 1
            return self._schedule.due(self._items)

    def remaining(self, items: Iterable[T]) -> Iterator[tuple[int, T]]:
        """``(position, item)`` for every item not finished yet, for work that completes out of order.

        The n-th item has position n. Nothing is marked done here: call :meth:`done` (or :meth:`track`) with
        the position when the item's work has succeeded.
        """
        self._ensure_loaded()
        self._settle_runs("remaining()")
        with self._lock:
            base = self._int_position("remaining()")
            self._warn_if_short(items, base)
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
        as compact runs, so a retry skips them too. Marking a position twice has no effect.
        """
        self._check_done_position(position)
        self._raise_deferred()
        if self._mark_done(position):
            self.commit()

    async def adone(self, position: int) -> None:
        """:meth:`done` for async code: a due commit does not block the event loop."""
        self._check_done_position(position)
        self._raise_deferred()
        if self._mark_done(position):
            await self.acommit()

    def track(self, position: int, future: F) -> F:
        """Call :meth:`done` for ``position`` when ``future`` succeeds (not when it fails or is cancelled).

        Works with ``concurrent.futures`` futures (the commit then runs in the worker thread). An error
        while recording is raised by the next ``done()``/``commit()`` or when the with block ends.
        """
        self._check_done_position(position)

        def _record(fut: Any) -> None:
            if fut.cancelled() or fut.exception() is not None:
                return
            try:
                self.done(position)
            except BaseException as exc:
                with self._lock:
                    if self._error is None:
                        self._error = exc
                log.error("Checkpoint %r: could not record position %d as done: %r", self.key, position, exc)

        future.add_done_callback(_record)
        return future

    def _check_done_position(self, position: object) -> None:
        if isinstance(position, bool) or not isinstance(position, int):
            raise InvalidValueError(
                f"Checkpointer {self.key!r}: done() takes the int position of an item (from remaining()), "
                f"got {describe(position)}."
            )
        self._ensure_loaded()
        self._settle_runs("done()")

    def _mark_done(self, position: int) -> bool:
        """Add one finished position; return whether the commit policy should be asked (it fired)."""
        with self._lock:
            base = self._int_position("done()")
            if position <= base or position in self._pending:
                return False
            if position == base + 1:
                self._pos = self._pending.pop_contiguous(position)
            else:
                self._pending.add(position)
                if len(self._pending) > MAX_PENDING_RANGES:
                    self._pending.discard(position)
                    raise CheckpointError(
                        f"Checkpointer {self.key!r}: more than {MAX_PENDING_RANGES} separate runs of "
                        f"positions finished out of order (lowest unfinished: {base + 1}). Stored, they "
                        "would approach the 64 KB value limit: limit how far workers run ahead (e.g. submit "
                        "work in bounded batches) or find what holds up the lowest position."
                    )
            self._items += 1
            self._changes += 1
            return self._schedule.due(self._items)

    def _raise_deferred(self) -> None:
        if (error := self._take_deferred()) is not None:
            raise error

    # -- writing -------------------------------------------------------------------------------------------
    def commit(self) -> None:
        """Write the progress now (nothing is written if nothing changed since the last write)."""
        self._ensure_loaded()
        self._raise_deferred()
        with self._lock:
            self._commit_locked()

    async def acommit(self) -> None:
        """:meth:`commit` without blocking the event loop."""
        await self._aensure_loaded()
        self._raise_deferred()
        await self._acommit()

    def reset(self) -> None:
        """Delete the stored progress and start over from ``initial``. Raises CommitError if that fails."""
        self._settle_runs("reset()")
        try:
            self._key_io().delete()
        except Exception as exc:
            raise CommitError(
                f"Checkpointer {self.key!r}: could not delete the stored progress: {exc!r}"
            ) from exc
        self._after_reset()

    async def areset(self) -> None:
        """:meth:`reset` without blocking the event loop."""
        self._settle_runs("reset()")
        try:
            await self._key_io().adelete()
        except Exception as exc:
            raise CommitError(
                f"Checkpointer {self.key!r}: could not delete the stored progress: {exc!r}"
            ) from exc
        self._after_reset()

    def _after_reset(self) -> None:
        with self._lock:
            self._start_fresh()
            self._loaded = True
        log.info("Checkpoint %r: reset, starting from %s.", self.key, describe(self._initial))

    def _prepare(self) -> tuple[dict[str, Any], int, int, Any] | None:
        """What to write now, or ``None`` if nothing changed (lock held)."""
        self._sync_runs()
        if self._changes == self._written_changes:
            return None
        pos = self._pos
        if pos is None:  # out-of-order progress with initial=None: nothing contiguous yet
            pos = 0
        elapsed = self._schedule.elapsed()
        fresh = self._items - self._schedule.mark_items
        rate = fresh / elapsed if elapsed > 0 else None
        value = dump(
            self.key,
            position=encode(self._codec, pos, f"Checkpointer {self.key!r}: position"),
            items_done=self._items,
            pending=self._pending,
            fingerprint=self._fingerprint,
            try_number=self._try_number,
            rate=rate,
        )
        return value, self._changes, self._items, pos

    def _commit_locked(self) -> None:
        prepared = self._prepare()
        if prepared is None:
            return
        try:
            self._key_io().write(prepared[0])
        except Exception as exc:
            self._write_failed(prepared, exc)
        else:
            self._written(prepared)

    async def _acommit(self) -> None:
        if self._alock is None:
            import asyncio

            self._alock = asyncio.Lock()
        async with self._alock:
            with self._lock:
                prepared = self._prepare()
            if prepared is None:
                return
            try:
                await self._key_io().awrite(prepared[0])
            except Exception as exc:
                with self._lock:
                    self._write_failed(prepared, exc)
            else:
                with self._lock:
                    self._written(prepared)

    def _written(self, prepared: tuple[dict[str, Any], int, int, Any]) -> None:
        value, changes, items, pos = prepared
        fresh = items - self._committed_items
        elapsed = self._schedule.elapsed()
        # Not max(): the store holds what landed last. An async write landing after a newer sync one leaves
        # older progress stored, and the next commit (or the end of the block) must write again.
        self._written_changes = changes
        self._committed_items, self._committed_pos = items, pos
        self._stored = True
        self._schedule.restart(items)
        log.info(
            "Checkpoint %r saved: position %s, %d items done (+%d in %.1f s, %s items/s)%s.",
            self.key,
            describe(pos),
            items,
            fresh,
            elapsed,
            value.get("items_per_second", "n/a"),
            f", {len(self._pending)} runs finished out of order" if self._pending else "",
        )

    def _write_failed(self, prepared: tuple[dict[str, Any], int, int, Any], exc: Exception) -> None:
        self._schedule.restart(prepared[2])  # try again after another full cadence, not on every item
        self._failed("save progress", exc, redo=self._items - self._committed_items)

    def _failed(self, what: str, exc: Exception, *, redo: int) -> None:
        if self._on_commit_error == "raise":
            error = CommitError(
                f"Checkpointer {self.key!r} could not {what} after retrying: {exc!r}. A retry of this task "
                f"would redo up to {redo} items. Pass on_commit_error='warn' to keep working through store "
                "outages."
            )
            self._raised = error
            raise error from exc
        log.warning(
            "Checkpoint %r: could not %s after retrying (%r); carrying on. %d items are now uncommitted and "
            "would be redone after a crash (the redo bound grows until a write succeeds).",
            self.key,
            what,
            exc,
            redo,
        )
