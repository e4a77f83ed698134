"""Checkpoints inside one task: record progress in ``task_state_store`` so a retry resumes where the
failed try stopped, instead of starting over.

```python
from airflow_resumable import Checkpointer

@task(retries=3)
def load_rows(rows):
    with Checkpointer("rows", initial=0) as ckpt:
        for row in ckpt.iterate(rows):  # skips what earlier tries finished
            load(row)
```

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
import threading
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airflow_resumable import _graceful
from airflow_resumable._checkpoint_block import CheckpointBlock
from airflow_resumable._checkpoint_fanout import CheckpointFanOut
from airflow_resumable._checkpoint_loops import AsyncLoop, CheckpointLoops, iter_fast, iter_placed
from airflow_resumable._checkpoint_positions import encode
from airflow_resumable._checkpoint_record import check_total, fingerprint_of
from airflow_resumable._checkpoint_writes import CheckpointWrites
from airflow_resumable._codec import Codec, TypedCodec, describe
from airflow_resumable.cadence import DEFAULT_POLICY, CommitPolicy
from airflow_resumable.errors import CheckpointError, CommitError, InvalidValueError

if TYPE_CHECKING:
    from types import TracebackType

    from airflow_resumable._checkpoint_core import OnCommitError
    from airflow_resumable._store import TaskStore

__all__ = ["Checkpointer"]

log = logging.getLogger("airflow_resumable.checkpoint")

T = TypeVar("T")
_MAX_KEY_LENGTH = 512  # the state store's key column
NEVER_EXPIRE: timedelta = timedelta.max
"""Airflow's ``NEVER_EXPIRE`` (``airflow.sdk.NEVER_EXPIRE`` is ``timedelta.max`` on 3.3): keep the key
until the block clears it."""


class Checkpointer(CheckpointFanOut, CheckpointBlock, CheckpointLoops, CheckpointWrites):
    """Progress of one loop inside a task, kept in ``task_state_store`` under ``key``.

    Use it as ``with Checkpointer(...) as ckpt:`` (or ``async with``): the block reads the earlier tries'
    progress on the way in, and on the way out saves the last completed position (after an exception) or
    deletes the key (after success).

    :param key: the task-store key, unique within the task (each mapped task instance has its own keys).
    :param initial: the position before any item is done. ``None`` (the default) means nothing is done;
        with the default positions it behaves like ``0``.
    :param commit: when to write, a [`CommitPolicy`][airflow_resumable.cadence.CommitPolicy] such as
        ``every(100)``. The default, [`cost_aware(30)`][airflow_resumable.cadence.cost_aware], bounds what a
        retry redoes after a hard crash to about 30 s of work.
    :param store: the task state store; by default the running task's ``task_state_store``.
    :param codec: turns positions into JSON and back; the default,
        [`TypedCodec`][airflow_resumable._codec.TypedCodec], handles int, str, aware datetime, date, Decimal,
        UUID, and tuples, lists and dicts of these.
    :param fingerprint: a string or JSON-able value describing the inputs (a file list, a query, a code
        version). Stored progress with another fingerprint is discarded with a warning. In a mapped task
        the input of the map index (its ``expand()`` arguments) is always part of the fingerprint, so a
        changed expansion never resumes another item's progress.
    :param retention: how long the key lives: ``NEVER_EXPIRE`` (the default), a ``timedelta``, or ``None``
        for Airflow's ``[state_store] default_retention_days``.
    :param clear_on_success: delete the key when the block ends normally (default), so a later
        clear-and-rerun starts fresh; with ``False`` the final position is written instead.
    :param on_commit_error: what happens when a write still fails after its retries: ``"raise"`` (default)
        a [`CommitError`][airflow_resumable.errors.CommitError], or ``"warn"``: log a warning saying how
        many items are now uncommitted, and carry on.
    :param total: how many items the whole input has, when the loops cannot tell (a generator, a query
        cursor, manual `advance()`). Stored with the progress, so the UI and ``airflow-resumable state``
        show a percentage and an estimate of the time left. `iterate()` learns it by itself from ``len()``
        of a list, range, dict or other sized input; its own ``total=`` takes precedence over this one.
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
        retention: timedelta | None = NEVER_EXPIRE,
        clear_on_success: bool = True,
        on_commit_error: OnCommitError = "raise",
        total: int | None = None,
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
        self._given_total = self._total = check_total(total, f"Checkpointer({key!r}, total=...)")
        self.key = key
        self.policy = commit
        self._codec = codec if codec is not None else TypedCodec()
        if initial is not None:
            encode(self._codec, initial, f"Checkpointer {key!r}: initial")
        self._initial = initial
        self._user_fingerprint = self._fingerprint = (
            None if fingerprint is None else fingerprint_of(fingerprint)
        )
        self._mapped = None
        self._retention = retention
        self._clear_on_success = clear_on_success
        self._on_commit_error = on_commit_error
        self._store_arg = store
        self._io = None
        self._lock = threading.RLock()
        self._alock = None
        self._open = ""
        self._loaded = False
        self._try_number = None
        self._runs = []
        self._ended = False
        self._tracked = 0
        self._block = object()
        self._start_fresh()

    def __repr__(self) -> str:
        return f"<Checkpointer {self.key!r} position={describe(self._committed_pos)} commit={self.policy!r}>"

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
    def total(self) -> int | None:
        """How many items the whole input has, if known: the ``total=`` of the last loop or of the
        checkpointer, or the ``len()`` of a sized input. ``None`` when unknown."""
        return self._total

    @property
    def resumed(self) -> bool:
        """Whether progress saved by an earlier try was found (and its fingerprint matched)."""
        self._ensure_loaded()
        return self._resumed

    # -- the with block ----------------------------------------------------------------------------------
    def __enter__(self) -> Checkpointer:
        self._enter("sync")
        try:
            self._loaded = False
            self._ensure_loaded()
        except BaseException:
            self._leave()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._stop_accepting()
            self._close_runs(moved_on=exc is None)
            if exc is None:
                self._finish()
            else:
                self._save_after(exc)
        finally:
            self._leave()

    async def __aenter__(self) -> Checkpointer:
        self._enter("async")
        try:
            import asyncio  # only async users pay for importing it

            self._alock = asyncio.Lock()
            self._loaded = False
            await self._aensure_loaded()
        except BaseException:
            self._leave()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self._stop_accepting()
            self._close_runs(moved_on=exc is None)
            if exc is None:
                await self._afinish()
            else:
                await self._asave_after(exc)
        finally:
            self._leave()

    def _enter(self, mode: Literal["sync", "async"]) -> None:
        if self._open:
            raise CheckpointError(f"Checkpointer {self.key!r} is already in use by an enclosing with block.")
        self._open = mode
        self._runs = []
        self._block, self._tracked = object(), 0
        try:
            self._claim_key()
        except BaseException:
            self._open = ""
            raise
        _graceful.block_opened(self, mode)  # a SIGTERM now saves the exact position (main thread)

    def _leave(self) -> None:
        self._stop_accepting()
        self._open = ""
        self._release_key()
        _graceful.block_closed(self)

    def _require_open(self, what: str, mode: str = "") -> None:
        if not self._open or (mode and self._open != mode):
            opener = "async with" if mode == "async" else "with"
            raise CheckpointError(
                f"Checkpointer {self.key!r}: call {what} inside `{opener} Checkpointer(...) as ckpt:`, so "
                "that the progress of the item in flight is saved (or cleared) when the block ends."
            )

    # -- loops -------------------------------------------------------------------------------------------
    def iterate(
        self, items: Iterable[T], *, key: Callable[[T], Any] | None = None, total: int | None = None
    ) -> Iterator[T]:
        """Yield the items not finished by earlier tries, recording each as done when the next is asked for.

        An item is complete when the loop asks for the next one or, after a ``break`` (or ``return``) out
        of the ``for`` statement, when the code moves on (the ``with`` block ends normally, or another loop
        or ``advance()`` starts). An exception leaving the loop never completes the item in flight, also
        when it is caught inside the block (a tenacity ``@retry`` around the loop): the next loop, or the
        retry, starts with it. Drive it with a ``for`` statement that does the work in its body: consumers
        that take items ahead of the work (``list()``, a pool's ``map()``) are refused with
        [`CheckpointError`][airflow_resumable.errors.CheckpointError]; use `map()` or `remaining()` for pools.

        Without ``key`` the n-th item has position n; the input must yield the same items in the same order
        on every try (give a ``fingerprint`` to be warned when it does not). With ``key`` (a function of the
        item) the positions are yours, e.g. ``key=lambda r: r["id"]`` for input sorted by id: they must
        increase strictly, and a retry skips every item whose key is not above the stored position.

        ``total`` is how many items the whole input has (not only those left): without it, the ``len()``
        of a sized input (list, tuple, range, dict...) is used, and a generator or other iterator has no
        known total unless given here or to the Checkpointer. It is only shown (percentage, time left);
        a wrong total changes nothing else. Something that is not a whole number >= 0 raises
        [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] before anything is written.
        """
        total = check_total(total, f"Checkpointer {self.key!r}: iterate(total=...)")
        self._require_open("iterate()")
        self._ensure_loaded()
        run, place = self._new_run(key, items, is_async=False, total=total)
        gen = iter_fast(self, run, items) if run.kind == "fast" else iter_placed(self, run, place, items)
        run.ref = weakref.ref(gen)
        self._runs.append(run)
        return gen

    def aiterate(
        self,
        items: Iterable[T] | AsyncIterable[T],
        *,
        key: Callable[[T], Any] | None = None,
        total: int | None = None,
    ) -> AsyncIterator[T]:
        """`iterate()` for ``async for``, over a sync or an async iterable; commits without blocking."""
        total = check_total(total, f"Checkpointer {self.key!r}: aiterate(total=...)")
        self._require_open("aiterate()", "async")
        run, place = self._new_run(key, items, is_async=True, total=total)
        loop: AsyncLoop[T] = AsyncLoop(self, run, place, items)
        run.ref = weakref.ref(loop)
        self._runs.append(run)
        return loop

    # -- manual progress -----------------------------------------------------------------------------------
    def advance(self, position: Any, *, items: int = 1) -> None:
        """Record that everything up to ``position`` is done (``items`` more items); saved per the policy."""
        if self._record_advance(position, items):
            self.commit()

    async def aadvance(self, position: Any, *, items: int = 1) -> None:
        """`advance()` for async code: a due commit does not block the event loop."""
        if self._record_advance(position, items):
            await self.acommit()

    # -- writing -------------------------------------------------------------------------------------------
    def commit(self) -> None:
        """Write the progress now (nothing is written if nothing changed since the last write)."""
        self._ensure_loaded()
        self._raise_deferred()
        with self._lock:
            self._commit_locked()

    async def acommit(self) -> None:
        """`commit()` without blocking the event loop."""
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
        """`reset()` without blocking the event loop."""
        self._settle_runs("reset()")
        try:
            await self._key_io().adelete()
        except Exception as exc:
            raise CommitError(
                f"Checkpointer {self.key!r}: could not delete the stored progress: {exc!r}"
            ) from exc
        self._after_reset()
