"""Turning raw state store rows into the typed records of
[`airflow_resumable.ops.records`][airflow_resumable.ops.records].

Pure functions of what a store holds (no I/O), so the ``airflow-resumable state`` command (rows from the
REST API) and anything reading the rows another way (an Airflow UI plugin reading the metadata DB) decode
them one way. They reuse the library's own readers, so there is one decoding path: ``_checkpoint_record``
(``is_record``, ``load``, ``progress_of``) for checkpoints; ``jobs._intent`` (``parse_intent``,
``cancellation``, ``ID_ONLY_KEYS``) and ``jobs._job_state.known_job`` for job intents;
``_watermark_record`` (``is_record``, ``decode_record``) with ``_watermark_kinds.stored_kind`` for
watermarks. ``is_checkpoint``, ``is_watermark``, ``watermark_kind`` and ``ID_ONLY_KEYS`` are those readers
under the names this module has always offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from airflow_resumable._checkpoint_record import is_record as is_checkpoint
from airflow_resumable._checkpoint_record import load as load_checkpoint
from airflow_resumable._checkpoint_record import progress_of as checkpoint_progress
from airflow_resumable._codec import TypedCodec
from airflow_resumable._watermark_kinds import Kind
from airflow_resumable._watermark_kinds import stored_kind as watermark_kind
from airflow_resumable._watermark_record import StoredWatermark, decode_record
from airflow_resumable._watermark_record import is_record as is_watermark
from airflow_resumable.errors import ResumableError
from airflow_resumable.jobs._intent import (
    CANCELLED,
    ID_ONLY_KEYS,
    INTENT_SUFFIX,
    cancellation,
    parse_intent,
    submitted_at,
)
from airflow_resumable.jobs._job_state import known_job, present
from airflow_resumable.ops.records import (
    CheckpointRecord,
    JobRecord,
    TaskRef,
    WatermarkEvent,
    WatermarkKey,
    WatermarkView,
)

__all__ = [
    "CANCELLED_FIELD",
    "ID_ONLY_KEYS",
    "checkpoints",
    "is_checkpoint",
    "is_watermark",
    "jobs",
    "watermark_history",
    "watermark_kind",
    "watermarks",
]

CANCELLED_FIELD = CANCELLED
"""The intent field ``state orphans --cancel`` writes: ``{"external_id", "at", "by", "reason"}``."""


def _when(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


# -- checkpoints -----------------------------------------------------------------------------------------
def checkpoints(task: TaskRef, entries: Mapping[str, Any]) -> list[CheckpointRecord]:
    """Every Checkpointer record among one task instance's ``{key: value}``, with its position decoded.

    Positions are decoded with the default [`TypedCodec`][airflow_resumable._codec.TypedCodec]; one written
    with a custom ``codec=`` is shown in its stored form with ``problem`` saying so.
    """
    found = []
    for key, raw in sorted(entries.items()):
        if not is_checkpoint(raw):
            continue
        problem = None
        progress = checkpoint_progress(raw)
        try:
            saved = load_checkpoint(key, raw, TypedCodec())
            position, pending = saved.position, len(saved.pending)
            kind = "null" if position is None else type(position).__name__
        except ResumableError as exc:
            position, pending = raw["position"], 0
            kind, problem = "stored form", str(exc)
        found.append(
            CheckpointRecord(
                task=task,
                key=key,
                position=position,
                position_type=kind,
                items_done=progress.items_done,
                pending_runs=pending,
                updated_at=_when(progress.updated_at),
                items_per_second=progress.items_per_second,
                fingerprint=progress.fingerprint,
                written_by_try=progress.try_number,
                problem=problem,
                total=progress.total,
                started_at=_when(progress.started_at),
                items_at_start=progress.items_at_start,
            )
        )
    return found


# -- jobs --------------------------------------------------------------------------------------------------
def jobs(task: TaskRef, entries: Mapping[str, Any]) -> list[JobRecord]:
    """Every durable job among one task instance's ``{key: value}``: intents, and ids stored without one."""
    found = []
    seen: set[str] = set()
    for key, raw in sorted(entries.items()):
        if not key.endswith(INTENT_SUFFIX):
            continue
        intent = parse_intent(raw)
        if intent is None:
            continue
        id_key = key[: -len(INTENT_SUFFIX)]
        seen.add(id_key)
        external_id, _ = known_job(entries.get(id_key), intent)
        cancelled = intent.get(CANCELLED)
        cancelled = cancelled if isinstance(cancelled, dict) else None
        state = "cancelled" if cancellation(intent, external_id) is not None else intent["state"]
        found.append(
            JobRecord(
                task=task,
                key=id_key,
                external_id=external_id,
                recorded_state=state,
                generation=intent["generation"],
                token=intent["token"],
                submitted_at=submitted_at(intent),
                cancelled=cancelled,
            )
        )
    for key in ID_ONLY_KEYS:
        if key not in seen and present(entries.get(key)):
            found.append(JobRecord(task=task, key=key, external_id=entries[key], recorded_state="id only"))
    return found


# -- watermarks --------------------------------------------------------------------------------------------
def _split(key: str) -> tuple[str, str | None]:
    name, sep, partition = key.partition("/")
    return name, (partition if sep else None)


def watermarks(asset_id: int, name: str, uri: str, entries: Mapping[str, Any]) -> WatermarkView:
    """Every watermark key of an asset's ``{key: value}``, and per watermark the merged (minimum) value."""
    keys: list[WatermarkKey] = []
    others: list[str] = []
    kinds: dict[str, Kind] = {}
    for key, raw in sorted(entries.items()):
        if not is_watermark(raw):
            others.append(key)
            continue
        what = f"Watermark key {key!r} of asset {name!r}"
        kind = watermark_kind(raw, what)
        stored: StoredWatermark[Any] = decode_record(raw, kind, what)
        wm_name, partition = _split(key)
        kinds.setdefault(wm_name, kind)
        commit = stored.commit
        keys.append(
            WatermarkKey(
                key=key,
                name=wm_name,
                partition=partition,
                value=commit.value,
                value_type=kind.name,
                operation=commit.operation,
                committed_at=commit.committed_at,
                writer=str(commit.writer),
                summary=dict(commit.summary),
                reason=commit.reason,
                commit_id=commit.commit_id,
                previous=commit.previous,
                rewinds=stored.rewinds,
                settings=stored.settings,
            )
        )
    merged: dict[str, Any] = {}
    for key_record in keys:
        kind = kinds[key_record.name]
        if key_record.name not in merged or kind.less(key_record.value, merged[key_record.name]):
            merged[key_record.name] = key_record.value
    return WatermarkView(asset_id, name, uri, tuple(keys), merged, tuple(others))


def watermark_history(view: WatermarkView, keys: Iterable[str] | None = None) -> list[WatermarkEvent]:
    """The kept history of the asset's watermarks (each key's last commit and its rewinds), oldest first."""
    wanted = None if keys is None else set(keys)
    events: list[WatermarkEvent] = []
    for record in view.keys:
        if wanted is not None and record.key not in wanted and record.name not in wanted:
            continue
        for rewind in record.rewinds:
            events.append(
                WatermarkEvent(
                    record.key,
                    "rewind",
                    rewind.at,
                    rewind.previous,
                    rewind.value,
                    str(rewind.writer),
                    reason=rewind.reason,
                )
            )
        if record.operation != "rewind":  # a rewind's own commit is already in the rewind list
            events.append(
                WatermarkEvent(
                    record.key,
                    "commit",
                    record.committed_at,
                    record.previous,
                    record.value,
                    record.writer,
                    summary=record.summary,
                )
            )
    return sorted(events, key=lambda e: e.at)
