"""The typed records the operating API returns: one per checkpoint, job intent, watermark key or event.

Each has ``to_json()`` giving plain JSON (what ``--format json`` prints). Values keep their type in
``*_type`` fields and their readable form in ``*_text`` (ISO-8601 for datetimes and dates).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "CancelRecord",
    "CheckpointRecord",
    "JobRecord",
    "TaskRef",
    "WatermarkEvent",
    "WatermarkKey",
    "WatermarkView",
    "show",
]

ACTIVE_STATES = frozenset({"running", "deferred"})
"""Task instance states in which a try is executing right now."""
PENDING_STATES = frozenset(
    {"queued", "scheduled", "up_for_retry", "up_for_reschedule", "restarting", "awaiting_reschedule"}
)
"""Task instance states after which another try will run (and reconnect to a stored job)."""


def show(value: Any) -> str:
    """A value for people: ISO text for datetimes and dates, ``repr`` for strings, ``str`` otherwise."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _step(settings: Any, name: str) -> str:
    if settings is None:
        return "not recorded"
    step = getattr(settings, name)
    return "none" if step is None else str(step)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass(frozen=True)
class TaskRef:
    """A task instance: where a record lives and what the task is doing now."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    state: str | None = None
    """The task instance state (``None``: no state yet, or the run no longer exists)."""
    try_number: int | None = None
    operator: str | None = None
    """The operator class name Airflow records for the task (e.g. ``DatabricksSubmitRunOperator``)."""
    run_state: str | None = None
    job_fields: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """What a backend needs to find the task's job, from its rendered fields: connection ids
    (``databricks_conn_id``, ``aws_conn_id``), ``region_name`` and resource ids (``virtual_cluster_id``,
    ``application_id``, ``job_flow_id``). Never secrets: only these names are kept."""

    @property
    def running(self) -> bool:
        """A try is executing now (``running``, or ``deferred`` on the triggerer)."""
        return self.state in ACTIVE_STATES

    @property
    def finished(self) -> bool:
        """No try is executing and none will follow on its own: no retry will reconnect to its job."""
        if self.state in ACTIVE_STATES or self.state in PENDING_STATES:
            return False
        if self.state is None:  # not started yet in a live run, or cleared and waiting
            return self.run_state not in ("running", "queued")
        return True

    @property
    def label(self) -> str:
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "task_id": self.task_id,
            "map_index": self.map_index,
            "state": self.state,
            "try_number": self.try_number,
            "operator": self.operator,
            "running": self.running,
        }


@dataclass(frozen=True)
class CheckpointRecord:
    """One [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] record of one task instance,
    decoded."""

    task: TaskRef
    key: str
    position: Any
    """The last completed position, decoded (the stored JSON form if it could not be decoded)."""
    position_type: str
    items_done: int
    pending_runs: int
    """Runs of out-of-order completions above ``position`` (0 for in-order loops)."""
    updated_at: datetime | None
    items_per_second: float | None
    fingerprint: str | None
    written_by_try: int | None
    problem: str | None = None
    """Why the position is shown raw (written with another codec, damaged record), else ``None``."""
    total: int | None = None
    """How many items the whole input has (``None``: not known, or recorded by an older version)."""
    started_at: datetime | None = None
    """When the ``with`` block of the try that wrote the record started."""
    items_at_start: int | None = None
    """Items done when that block started (what earlier tries had finished)."""

    @property
    def position_text(self) -> str:
        return show(self.position)

    @property
    def percent(self) -> float | None:
        """Share of ``total`` done, 0-100 (``None`` without a total)."""
        if self.total is None:
            return None
        if self.total == 0:
            return 100.0
        return min(100.0, 100.0 * self.items_done / self.total)

    @property
    def items_left(self) -> int | None:
        """Items of ``total`` not done yet (``None`` without a total)."""
        return None if self.total is None else max(self.total - self.items_done, 0)

    @property
    def average_rate(self) -> float | None:
        """Items per second of the writing try, from its block's start to the last commit (``None`` when the
        record does not say when the try started, or no time has passed)."""
        if self.started_at is None or self.updated_at is None or self.items_at_start is None:
            return None
        try:
            seconds = (self.updated_at - self.started_at).total_seconds()
        except TypeError:  # one of them without a UTC offset (a hand-edited record)
            return None
        done = self.items_done - self.items_at_start
        if seconds <= 0 or done < 0:
            return None
        return done / seconds

    @property
    def rate(self) -> float | None:
        """The rate estimates use: the try's average, else the pace between the last two commits."""
        average = self.average_rate
        return average if average else self.items_per_second

    @property
    def seconds_left(self) -> float | None:
        """Estimated seconds to finish, as of the last commit: items left / `rate` (``None`` when there is
        no total or no rate yet)."""
        left = self.items_left
        if left is None:
            return None
        if left == 0:
            return 0.0
        rate = self.rate
        return left / rate if rate else None

    def time_left(self, age: float | None) -> float | None:
        """`seconds_left` less the ``age`` (seconds) of the last commit, never below 0."""
        left = self.seconds_left
        if left is None:
            return None
        return max(left - (age or 0.0), 0.0)

    @property
    def progress_text(self) -> str:
        """``400 of 1,000 (40%)`` with a total, ``400`` without."""
        if self.total is None:
            return f"{self.items_done:,}"
        return f"{self.items_done:,} of {self.total:,} ({self.percent:.0f}%)"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.task.to_json(),
            "key": self.key,
            "position": _json(self.position),
            "position_type": self.position_type,
            "items_done": self.items_done,
            "pending_runs": self.pending_runs,
            "updated_at": _json(self.updated_at),
            "items_per_second": self.items_per_second,
            "fingerprint": self.fingerprint,
            "written_by_try": self.written_by_try,
            "problem": self.problem,
            "total": self.total,
            "percent": None if self.percent is None else round(self.percent, 1),
            "started_at": _json(self.started_at),
            "items_at_start": self.items_at_start,
            "average_items_per_second": _round(self.average_rate),
            "seconds_left": _round(self.seconds_left),
        }


@dataclass(frozen=True)
class JobRecord:
    """One durable job of one task instance: its write-ahead intent and stored id, decoded."""

    task: TaskRef
    key: str
    """The ``external_id_key`` (the intent lives under ``<key>.intent``)."""
    external_id: Any
    """The job the stored state points at (``None`` while a submission is unconfirmed)."""
    recorded_state: str
    """``submitting``, ``submitted``, ``cancelled`` (by ``state orphans --cancel``) or ``id only`` (an id
    stored by a provider operator without an intent)."""
    generation: int | None = None
    token: str | None = None
    submitted_at: datetime | None = None
    cancelled: dict[str, Any] | None = None
    """The ``cancelled`` field of the intent: ``{"external_id", "at", "by", "reason"}``."""
    backend: str | None = None
    """The backend that can report on the job (``databricks``), ``None`` if none is known."""
    live_status: str | None = None
    """The backend's status of the job (with ``live=True``); ``None`` when not asked or not known."""
    live_active: bool | None = None
    live_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.task.to_json(),
            "key": self.key,
            "external_id": _json(self.external_id),
            "recorded_state": self.recorded_state,
            "generation": self.generation,
            "token": self.token,
            "submitted_at": _json(self.submitted_at),
            "cancelled": _json(self.cancelled),
            "backend": self.backend,
            "live_status": self.live_status,
            "live_active": self.live_active,
            "live_error": self.live_error,
        }


@dataclass(frozen=True)
class CancelRecord:
    """What ``orphans(cancel=True)`` did about one orphaned job."""

    job: JobRecord
    action: str
    """``cancelled``, ``already cancelled`` (recorded before: nothing sent), ``already ended`` (the backend
    found it ended or being stopped: nothing sent, nothing recorded), ``skipped`` (the task's job changed
    since it was listed), ``refused`` (cancelled, but the intent changed meanwhile: not recorded), or
    ``failed``."""
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**self.job.to_json(), "action": self.action, "detail": self.detail}


@dataclass(frozen=True)
class WatermarkKey:
    """One watermark key of an asset (one partition, or the only key), decoded."""

    key: str
    name: str
    """The watermark's key without the partition (``watermark``)."""
    partition: str | None
    value: Any
    value_type: str
    operation: str
    committed_at: datetime
    writer: str
    summary: dict[str, Any]
    reason: str | None
    commit_id: str
    previous: Any
    rewinds: tuple[Any, ...]
    """The record's rewind history (``WatermarkRewind``), oldest first."""
    settings: Any = None
    """How the writer configured the watermark (``WatermarkSettings``: ``initial``, ``lag``, ``settle``);
    ``None`` for records written before the settings were stored."""

    @property
    def lag_text(self) -> str:
        """``lag`` for people: ``none``, or ``not recorded`` for older records."""
        return _step(self.settings, "lag")

    @property
    def settle_text(self) -> str:
        return _step(self.settings, "settle")

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "partition": self.partition,
            "value": _json(self.value),
            "value_type": self.value_type,
            "previous": _json(self.previous),
            "operation": self.operation,
            "committed_at": _json(self.committed_at),
            "writer": self.writer,
            "summary": _json(self.summary),
            "reason": self.reason,
            "commit_id": self.commit_id,
            "rewinds": len(self.rewinds),
            "settings": None
            if self.settings is None
            else {
                "initial": _json(self.settings.initial),
                "lag": _json(self.settings.lag),
                "settle": _json(self.settings.settle),
            },
        }


@dataclass(frozen=True)
class WatermarkView:
    """Every watermark key of an asset, grouped by watermark name, with the merged (minimum) values."""

    asset_id: int
    asset_name: str
    asset_uri: str
    keys: tuple[WatermarkKey, ...]
    merged: dict[str, Any]
    """Per watermark name: the minimum over its committed partitions (what consumers may read up to)."""
    other_keys: tuple[str, ...] = ()
    """Keys of the asset's store that are not watermark records (left alone)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "asset": {"id": self.asset_id, "name": self.asset_name, "uri": self.asset_uri},
            "watermarks": [k.to_json() for k in self.keys],
            "merged": {name: _json(v) for name, v in self.merged.items()},
            "other_keys": list(self.other_keys),
        }


@dataclass(frozen=True)
class WatermarkEvent:
    """One entry of a watermark's kept history: its last commit, or one of its recorded rewinds."""

    key: str
    event: str
    """``commit`` (window/advance; only the last one is kept) or ``rewind``."""
    at: datetime
    previous: Any
    value: Any
    writer: str
    reason: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "event": self.event,
            "at": _json(self.at),
            "previous": _json(self.previous),
            "value": _json(self.value),
            "writer": self.writer,
            "reason": self.reason,
            "summary": _json(self.summary),
        }


JOB_FIELDS = frozenset({"region_name", "virtual_cluster_id", "application_id", "job_flow_id", "cluster_id"})
"""Rendered task fields, besides ``*conn_id``, that say where a task's job lives."""


def job_fields(rendered: Any) -> dict[str, str]:
    """The connection ids and job-location fields of a task's rendered fields (what a backend needs)."""
    rendered = rendered if isinstance(rendered, dict) else {}
    return {
        k: v
        for k, v in rendered.items()
        if isinstance(v, str) and v and (k.endswith("conn_id") or k in JOB_FIELDS)
    }
