"""The ``with`` block of a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer]: one open block per key
and store, no progress accepted once it ends, and what the end writes (the last position after an exception,
nothing and a deleted key after success).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from airflow_resumable._checkpoint_core import CheckpointCore
from airflow_resumable.errors import CheckpointError

__all__ = ["CheckpointBlock"]

log = logging.getLogger("airflow_resumable.checkpoint")

_OPEN: dict[tuple[int, str], weakref.ref[CheckpointBlock]] = {}
"""The open blocks of this process by (id of the store, key)."""
_OPEN_LOCK = threading.Lock()


class CheckpointBlock(CheckpointCore):
    """Opening and ending the ``with`` block."""

    # -- one block per key -------------------------------------------------------------------------------
    def _claim_key(self) -> None:
        """Refuse a second open block on this key of this store (nested loops both keyed ``progress``)."""
        store = self._key_io().store
        with _OPEN_LOCK:
            held = _OPEN.get((id(store), self.key))
            other = held() if held is not None else None
            if other is not None and other is not self and other._open and other._key_io().store is store:
                raise CheckpointError(
                    f"Checkpointer {self.key!r}: another Checkpointer on this key is already open in this "
                    "task. Two loops writing one key overwrite each other's progress and skip items: give "
                    f"each loop its own key, e.g. Checkpointer(f'{self.key}-{{name}}') for a nested loop."
                )
            _OPEN[(id(store), self.key)] = weakref.ref(self)
        with self._lock:
            self._ended = False

    def _release_key(self) -> None:
        if self._io is None:
            return
        with _OPEN_LOCK:
            slot = (id(self._io.store), self.key)
            held = _OPEN.get(slot)
            if held is not None and held() in (self, None):
                del _OPEN[slot]

    # -- no progress after the end -------------------------------------------------------------------------
    def _stop_accepting(self) -> None:
        """The block is ending: from now on done()/advance() and track() callbacks are refused, so nothing
        recorded late can write the key again after the end deleted it."""
        with self._lock:
            self._ended = True

    def _refuse_late(self, what: str) -> None:
        """Raise if the with block has ended (lock held by the caller, for the check to be final)."""
        if self._ended:
            raise CheckpointError(
                f"Checkpointer {self.key!r}: {what} came after the with block ended, so it is not recorded "
                "(the block already saved or cleared the progress) and a retry redoes that work. Record "
                "progress inside the block, and wait for pooled work there: put the pool's with block "
                "inside the Checkpointer's, not around it."
            )

    def _late_callback(self, position: int, exc: BaseException) -> None:
        """A track() callback failed to record ``position``: keep the error for the block, or log it."""
        with self._lock:
            if not self._ended:
                if self._error is None:
                    self._error = exc
                log.error("Checkpoint %r: could not record position %d as done: %r", self.key, position, exc)
                return
        log.error(
            "Checkpoint %r: the work at position %d finished after the with block ended; it is not recorded "
            "and a retry redoes it. Wait for tracked futures inside the block.",
            self.key,
            position,
        )

    def _unfinished_futures(self) -> CheckpointError | None:
        with self._lock:
            running = self._tracked
        if not running:
            return None
        return CheckpointError(
            f"Checkpointer {self.key!r}: the with block ended normally while {running} futures passed to "
            "track() were still running, so their work is not known to be done. Progress so far is saved and "
            "this try fails, so a retry redoes them. Wait for the futures inside the block, e.g. put "
            "`with ThreadPoolExecutor() as pool:` inside `with Checkpointer(...)`."
        )

    # -- the end ---------------------------------------------------------------------------------------------
    def _finish(self) -> None:
        error = self._take_deferred() or self._unfinished_futures()
        if error is not None:  # a track() callback failed, or tracked work still runs: save, then fail
            self._save_after(error)
            raise error
        if self._clear_on_success:
            if self._stored:
                try:
                    with self._lock:
                        self._key_io().delete()
                except Exception as exc:
                    self._failed("clear the finished checkpoint", exc, redo=self._items)
                    return
            self._log_finished()
        else:
            self.commit()

    async def _afinish(self) -> None:
        error = self._take_deferred() or self._unfinished_futures()
        if error is not None:
            await self._asave_after(error)
            raise error
        if self._clear_on_success:
            with self._lock:  # a commit still waiting for the async lock finds nothing left to write
                self._sync_runs()
                self._written_changes = self._changes
            try:
                await self._adelete()
            except Exception as exc:
                self._failed("clear the finished checkpoint", exc, redo=self._items)
                return
            self._log_finished()
        else:
            await self.acommit()

    async def _adelete(self) -> None:
        """Delete the key, if anything was written, once an async commit in progress has landed."""
        if self._alock is None:
            if self._stored:
                await self._key_io().adelete()
            return
        async with self._alock:
            if self._stored:
                await self._key_io().adelete()

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

    def _log_lost(self, exc: BaseException, err: Any) -> None:
        log.error(
            "Checkpoint %r: the task failed (%r) and its progress could not be saved (%r): the retry will "
            "redo %d items.",
            self.key,
            exc,
            err,
            self._items - self._committed_items,
        )
