"""Writing a watermark: check the key still holds what was read, write the record, read it back.

The asset state store has no compare-and-set, so this is as close as a writer can get: a change between
the read and the write, or an overwrite right after it, raises
[`ConcurrentWriteError`][airflow_resumable.errors.ConcurrentWriteError]. Two writers that both read before
either writes still both pass, and the later write wins even if it is lower;
`airflow_resumable._watermark_keys` refuses or warns about the setups where that is likely.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_resumable import _store
from airflow_resumable._watermark_keys import show
from airflow_resumable._watermark_record import (
    MAX_REWINDS,
    Operation,
    StoredWatermark,
    WatermarkCommit,
    WatermarkRewind,
    WatermarkSettings,
    WatermarkWriter,
    encode_record,
    new_commit_id,
)
from airflow_resumable.errors import CommitError, ConcurrentWriteError, InvalidValueError

if TYPE_CHECKING:
    from airflow_resumable._store import AssetStore
    from airflow_resumable.watermark import Watermark

__all__ = ["read_for_commit", "write_commit"]

log = logging.getLogger("airflow_resumable.watermark")
T = TypeVar("T")


def write_commit(
    wm: Watermark[T],
    store: AssetStore,
    seen: StoredWatermark[T] | None,
    value: T,
    operation: Operation,
    summary: Mapping[str, Any],
    *,
    now: datetime,
    reason: str | None = None,
) -> WatermarkCommit[T]:
    """Write ``value`` if the key still holds ``seen``; read it back; raise on interference."""
    what = wm._what
    previous = wm.initial if seen is None else seen.commit.value
    seen_id = None if seen is None else seen.commit.commit_id
    writer = WatermarkWriter.from_json(_store.writer_identity())
    commit = WatermarkCommit(
        value=value,
        previous=previous,
        operation=operation,
        committed_at=now,
        writer=writer,
        summary=dict(summary),
        commit_id=new_commit_id(),
        reason=reason,
    )
    rewinds = () if seen is None else seen.rewinds
    settings: WatermarkSettings[T] | None = WatermarkSettings(wm.initial, wm.lag, wm.settle)
    if operation == "rewind":
        assert reason is not None
        rewinds = (*rewinds, WatermarkRewind(previous, value, reason, now, writer))[-MAX_REWINDS:]
        settings = None if seen is None else seen.settings  # a rewinder may not know how windows are cut
    # A bad value or summary is raised here, before anything is written.
    record = encode_record(StoredWatermark(commit, rewinds, settings), wm._kind)

    before = read_for_commit(wm, store)
    before_id = None if before is None else before.commit.commit_id
    if before_id != seen_id:
        found = (
            "finds the key deleted"
            if before is None
            else f"now finds {show(before.commit.value)} written by {before.commit.writer} at "
            f"{before.commit.committed_at.isoformat()}"
        )
        raise ConcurrentWriteError(
            f"{what}: another writer changed {wm.key!r} while this task was working: it read "
            f"{show(previous)} and {found}. Nothing was written; the retry starts from what is stored "
            "now. Give each parallel writer its own key with Watermark(..., partition=...) and read "
            "them together with Watermark.merged(...)."
        )
    try:
        _store.retry_call(f"{what}: writing {wm.key!r}", store.set, wm.key, record)
    except Exception as exc:
        raise CommitError(
            f"{what}: could not write {show(value)} to {wm.key!r} {_store.how_it_failed(exc)}: {exc!r}. "
            "The watermark did not move; the task fails so that its retry loads the range again."
        ) from exc
    after = read_for_commit(wm, store)
    if after is None or after.commit.commit_id != commit.commit_id:
        other = "nothing" if after is None else f"{show(after.commit.value)} by {after.commit.writer}"
        raise ConcurrentWriteError(
            f"{what}: the write of {show(value)} to {wm.key!r} was overwritten at once "
            f"(reading back found {other}). Another writer shares this key; this commit may be lost. "
            "Give each parallel writer its own key with Watermark(..., partition=...)."
        )
    log.info(
        "%s: %s %s -> %s (commit %s)%s",
        what,
        operation,
        show(previous),
        show(value),
        commit.commit_id[:8],
        f" summary={dict(summary)}" if summary else "",
    )
    return commit


def read_for_commit(wm: Watermark[T], store: AssetStore) -> StoredWatermark[T] | None:
    """Read the stored record during a commit; a failed read is a
    [`CommitError`][airflow_resumable.errors.CommitError]."""
    try:
        return wm._read(store)
    except InvalidValueError:
        raise
    except Exception as exc:
        raise CommitError(
            f"{wm._what}: could not read {wm.key!r} while committing ({exc!r}); the watermark was "
            "not confirmed. The task fails so that its retry loads the range again."
        ) from exc
