"""How a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] writes its progress: what to store, and
what a write that landed (or failed after its retries) changes.

A commit takes a consistent snapshot under the checkpointer's lock (`CheckpointWrites._prepare()`),
writes it, and then records it as the committed state. Sync commits write with the lock held; async commits
release it during the write and serialise among themselves on an ``asyncio.Lock``.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow_resumable._checkpoint_core import CheckpointCore
from airflow_resumable._checkpoint_positions import encode
from airflow_resumable._checkpoint_record import dump
from airflow_resumable._codec import describe

__all__ = ["CheckpointWrites", "Prepared"]

log = logging.getLogger("airflow_resumable.checkpoint")

Prepared = tuple[dict[str, Any], int, int, Any]
"""A snapshot to write: (stored value, change counter, items done, position)."""


class CheckpointWrites(CheckpointCore):
    """The write path of a checkpointer."""

    def _prepare(self) -> Prepared | None:
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
            total=self._total,
            started_at=self._started_at,
            items_at_start=self._resumed_items,
        )
        return value, self._changes, self._items, pos

    def _commit_locked(self) -> None:
        prepared = self._prepare()
        if prepared is None:
            return
        clock = self._schedule.clock
        started = clock()
        try:
            self._key_io().write(prepared[0])
        except Exception as exc:
            self._write_failed(prepared, exc)
        else:
            self._written(prepared, clock() - started)

    async def _acommit(self) -> None:
        if self._alock is None:
            import asyncio

            self._alock = asyncio.Lock()
        async with self._alock:
            with self._lock:
                prepared = self._prepare()
            if prepared is None:
                return
            clock = self._schedule.clock
            started = clock()
            try:
                await self._key_io().awrite(prepared[0])
            except Exception as exc:
                with self._lock:
                    self._write_failed(prepared, exc)
            else:
                with self._lock:
                    self._written(prepared, clock() - started)

    def _written(self, prepared: Prepared, seconds: float) -> None:
        """Record a write that landed; ``seconds`` is how long it took (it sets the cost-aware pace)."""
        value, changes, items, pos = prepared
        fresh = items - self._committed_items
        elapsed = self._schedule.elapsed()
        # Not max(): the store holds what landed last. An async write landing after a newer sync one leaves
        # older progress stored, and the next commit (or the end of the block) must write again.
        self._written_changes = changes
        self._committed_items, self._committed_pos = items, pos
        self._stored = True
        self._schedule.restart(items, commit_seconds=seconds)
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

    def _write_failed(self, prepared: Prepared, exc: Exception) -> None:
        self._schedule.restart(prepared[2])  # try again after another full cadence, not on every item
        self._failed("save progress", exc, redo=self._items - self._committed_items)
