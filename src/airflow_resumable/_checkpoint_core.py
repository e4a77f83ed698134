"""The state of a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] and what every part of it
shares: loading the earlier tries' progress, recording a finished position, and how the ``with`` block ends.

The checkpointer is assembled from this base and two mixins: the loops
(`airflow_resumable._checkpoint_loops`) and the write path (`airflow_resumable._checkpoint_writes`).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Sized
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from airflow_resumable import _store
from airflow_resumable._checkpoint_io import KeyIO
from airflow_resumable._checkpoint_mapped import combined_fingerprint, mapped_input
from airflow_resumable._checkpoint_positions import encode, in_utc
from airflow_resumable._checkpoint_ranges import Ranges
from airflow_resumable._checkpoint_record import MAX_PENDING_RANGES, Saved, load
from airflow_resumable._codec import Codec, describe
from airflow_resumable.cadence import CommitPolicy, Schedule
from airflow_resumable.errors import CheckpointError, CommitError, InvalidValueError

if TYPE_CHECKING:
    import asyncio
    from datetime import timedelta

    from airflow_resumable._checkpoint_loops import Run
    from airflow_resumable._store import TaskStore

__all__ = ["CheckpointCore", "OnCommitError"]

log = logging.getLogger("airflow_resumable.checkpoint")

T = TypeVar("T")
OnCommitError = Literal["raise", "warn"]


class CheckpointCore:
    """State and shared steps of a checkpointer (see
    [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer])."""

    key: str
    policy: CommitPolicy
    _codec: Codec[Any]
    _initial: Any
    _fingerprint: str | None
    _user_fingerprint: str | None
    _mapped: dict[str, Any] | None
    _retention: timedelta | None
    _clear_on_success: bool
    _on_commit_error: OnCommitError
    _store_arg: TaskStore | None
    _io: KeyIO | None
    _lock: threading.RLock
    _alock: asyncio.Lock | None
    _open: Literal["", "sync", "async"]
    _loaded: bool
    _try_number: int | None
    _runs: list[Run]
    _ended: bool
    _tracked: int
    _block: object
    _given_total: int | None
    _total: int | None

    if TYPE_CHECKING:  # provided by the mixins and by Checkpointer

        def _sync_runs(self) -> None: ...

        def _settle_runs(self, what: str) -> None: ...

        def _commit_locked(self) -> None: ...

        async def _acommit(self) -> None: ...

        def commit(self) -> None: ...

        def _refuse_late(self, what: str) -> None: ...

        def _late_callback(self, position: int, exc: BaseException) -> None: ...

        async def acommit(self) -> None: ...

    # -- state -----------------------------------------------------------------------------------------
    def _start_fresh(self) -> None:
        self._pos: Any = self._initial
        self._items = 0
        self._pending = Ranges()
        self._changes = 0
        self._written_changes = 0
        self._committed_pos: Any = self._initial
        self._committed_items = 0
        self._resumed_items = 0  # items done when this block started (restored from earlier tries)
        self._started_at = datetime.now(tz=timezone.utc).isoformat()
        self._resumed = False
        self._stored = False
        self._error: BaseException | None = None
        self._raised: CommitError | None = None
        self._schedule = Schedule(self.policy, 0)

    # -- loading -----------------------------------------------------------------------------------------
    def _key_io(self) -> KeyIO:
        if self._io is None:
            store = _store.task_store(self._store_arg, who=f"Checkpointer({self.key!r})")
            self._io = KeyIO(store, self.key, self._retention)
            if "airflow.sdk" in sys.modules:  # inside a task it is; outside, do not import Airflow for this
                context = _store.current_context()
                self._try_number = _store.writer_identity(context).get("try_number")
                self._mapped = mapped_input(context)
                self._fingerprint = combined_fingerprint(self._user_fingerprint, self._mapped)
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
                    "Checkpoint %r was saved for other inputs (fingerprint %s, now %s%s): discarding its "
                    "progress (position %s, %d items) and starting from the beginning.",
                    self.key,
                    saved.fingerprint,
                    self._fingerprint,
                    "" if self._mapped is None else f"; this map index is now expanded with {self._mapped}",
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

    # -- the input -------------------------------------------------------------------------------------------
    def _note_input(self, items: object, total: int | None, base: int | None) -> None:
        """Learn how many items the input has (lock held): the loop's ``total``, else the checkpointer's,
        else ``len(items)`` when the input is ``Sized`` (a list, range, dict...: never a generator, and it is
        never iterated here). With default positions (``base``), warn if the input is shorter than what
        earlier tries finished."""
        size = None
        if isinstance(items, Sized):
            try:
                size = len(items)
            except Exception:  # a __len__ that refuses (e.g. a 0-d array): the size is just not known
                size = None
        if size is not None and base is not None and size < base:
            log.warning(
                "Checkpoint %r: earlier tries finished %d items but only %d were given, so nothing is left "
                "to do. If the input changed, pass fingerprint= so stale progress is discarded.",
                self.key,
                base,
                size,
            )
        if total is None:
            total = self._given_total if self._given_total is not None else size
        self._total = total  # not progress: written with the next commit, never on its own

    # -- how the with block ends -------------------------------------------------------------------------
    def _take_deferred(self) -> BaseException | None:
        with self._lock:
            error, self._error = self._error, None
        return error

    # -- recording progress ------------------------------------------------------------------------------
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

    def _record_advance(self, position: Any, items: int) -> bool:
        if position is None:
            raise InvalidValueError(f"Checkpointer {self.key!r}: advance(None): a position cannot be None.")
        if isinstance(items, bool) or not isinstance(items, int) or items < 0:
            raise InvalidValueError(f"advance(items=...) must be a whole number >= 0, got {items!r}.")
        position = in_utc(position)
        encode(self._codec, position, f"Checkpointer {self.key!r}: position")
        with self._lock:
            self._refuse_late("advance()")
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

    def _after_reset(self) -> None:
        with self._lock:
            self._start_fresh()
            self._loaded = True
        log.info("Checkpoint %r: reset, starting from %s.", self.key, describe(self._initial))

    def _failed(self, what: str, exc: Exception, *, redo: int) -> None:
        if self._on_commit_error == "raise":
            error = CommitError(
                f"Checkpointer {self.key!r} could not {what} {_store.how_it_failed(exc)}: {exc!r}. A retry "
                f"of this task would redo up to {redo} items. Pass on_commit_error='warn' to keep working "
                "through store outages."
            )
            self._raised = error
            raise error from exc
        log.warning(
            "Checkpoint %r: could not %s %s (%r); carrying on. %d items are now uncommitted and "
            "would be redone after a crash (the redo bound grows until a write succeeds).",
            self.key,
            what,
            _store.how_it_failed(exc),
            exc,
            redo,
        )
