"""The stored form of a watermark: one JSON object per key, holding the value and its commit record.

Everything about one commit (value, previous value, who, when, summary, the short rewind history) lives in a
single value under a single key, so a write is one atomic upsert and a reader never sees half a commit.
The layout is documented in docs/watermark.md because consumers outside this library read it over REST:

```python
{
  "format": "airflow-resumable/watermark@1",
  "type": "datetime",
  "value": {"$type": "datetime", "value": "2026-01-01T06:00:00+00:00"},
  "previous": {"$type": "datetime", "value": "2026-01-01T00:00:00+00:00"},
  "operation": "window",
  "commit_id": "5f0c...",
  "committed_at": "2026-01-01T06:01:02.345678+00:00",
  "writer": {"dag_id": "orders", "run_id": "...", "task_id": "load", "map_index": -1, "try_number": 1},
  "summary": {"rows": 1200},
  "rewinds": [],
  "settings": {"initial": {"$type": "datetime", "value": "2026-01-01T00:00:00+00:00"},
               "lag": {"$type": "timedelta", "value": [0, 3600, 0]}, "settle": null}
}
```

``settings`` is how the writer configured the watermark (``initial``, ``lag``, ``settle``; ``null`` when not
set), so readers see what the next window re-reads and holds back. A rewind keeps the settings recorded
before it (whoever rewinds, e.g. the ``state`` command, may not know them). Records written before the field
existed have none; they still load.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from airflow_resumable._codec import JsonValue, TypedCodec, describe
from airflow_resumable.errors import InvalidValueError

if TYPE_CHECKING:
    from airflow_resumable._watermark_kinds import Kind

__all__ = [
    "FORMAT",
    "MAX_REWINDS",
    "Operation",
    "StoredWatermark",
    "WatermarkCommit",
    "WatermarkRewind",
    "WatermarkSettings",
    "WatermarkWriter",
    "decode_record",
    "encode_record",
    "is_record",
    "new_commit_id",
]

T = TypeVar("T")
FORMAT = "airflow-resumable/watermark@1"
MAX_REWINDS = 10
"""How many rewinds a record keeps (the newest); older ones are dropped."""
Operation = Literal["window", "advance", "rewind"]
_SUMMARY_CODEC = TypedCodec()
_WRITER_FIELDS = ("dag_id", "run_id", "task_id", "map_index", "try_number")


@dataclass(frozen=True)
class WatermarkWriter:
    """Which task instance wrote a commit (all ``None`` when written outside a running task)."""

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    try_number: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> WatermarkWriter:
        data = data if isinstance(data, dict) else {}
        return cls(**{k: data.get(k) for k in _WRITER_FIELDS})

    def to_json(self) -> dict[str, JsonValue]:
        return {k: v for k in _WRITER_FIELDS if (v := getattr(self, k)) is not None}

    def __str__(self) -> str:
        if self.dag_id is None and self.task_id is None:
            return "code outside a running task"
        where = f"{self.dag_id}.{self.task_id}"
        if self.map_index is not None and self.map_index >= 0:
            where += f"[{self.map_index}]"
        return f"{where} in run {self.run_id}" + (f" (try {self.try_number})" if self.try_number else "")


@dataclass(frozen=True)
class WatermarkRewind(Generic[T]):
    """One deliberate move back, kept in a short history: from which value to which, why, who and when."""

    previous: T
    value: T
    reason: str
    at: datetime
    writer: WatermarkWriter


@dataclass(frozen=True)
class WatermarkCommit(Generic[T]):
    """The last write of a watermark, as consumers read it from ``Watermark.last_commit``.

    ``previous`` is the value before this commit (the ``initial`` value for the first commit), so
    ``[previous, value)`` is what the commit covered (re-read ``lag`` margin not included).
    """

    value: T
    previous: T
    operation: Operation
    """``"window"`` (a ``with wm.window()`` block succeeded), ``"advance"`` or ``"rewind"``."""
    committed_at: datetime
    writer: WatermarkWriter
    summary: Mapping[str, Any] = field(default_factory=dict)
    """What the writer attached (``w.record(rows=...)`` or ``advance(..., summary=...)``)."""
    commit_id: str = ""
    reason: str | None = None
    """Why, for a rewind."""


@dataclass(frozen=True)
class WatermarkSettings(Generic[T]):
    """How the last writer configured the watermark: where loading starts, and the ``lag`` and ``settle``
    steps (``None`` when not set). A step that the default codec cannot store is kept as its text."""

    initial: T
    lag: Any = None
    settle: Any = None


@dataclass(frozen=True)
class StoredWatermark(Generic[T]):
    """A decoded stored record: the last commit, the rewind history that travels with it, and the writer's
    settings (``None`` in records written before they were stored)."""

    commit: WatermarkCommit[T]
    rewinds: tuple[WatermarkRewind[T], ...]
    settings: WatermarkSettings[T] | None = None


def new_commit_id() -> str:
    """A unique id for one write, used to notice that another writer replaced it."""
    return uuid.uuid4().hex


def encode_summary(summary: Mapping[str, Any], what: str) -> dict[str, JsonValue]:
    """Check and encode a user summary (str keys, values the default codec can store)."""
    if not isinstance(summary, Mapping):
        raise InvalidValueError(
            f"{what}: the summary must be a mapping of names to values, got {describe(summary)}."
        )
    encoded = _SUMMARY_CODEC.encode(dict(summary), f"{what} summary")
    assert isinstance(encoded, dict)
    return encoded


def _encode_step(step: Any) -> JsonValue:
    if step is None:
        return None
    try:
        return _SUMMARY_CODEC.encode(step, "step")
    except InvalidValueError:  # a step of a custom type: shown, not needed to resume
        return str(step)


def _decode_settings(raw: Any, kind: Kind) -> WatermarkSettings[Any] | None:
    """The stored settings, or ``None`` when absent or unreadable (they are informative only)."""
    if not isinstance(raw, dict) or "initial" not in raw:
        return None
    try:
        return WatermarkSettings(
            initial=kind.decode(raw["initial"]),
            lag=_SUMMARY_CODEC.decode(raw.get("lag")),
            settle=_SUMMARY_CODEC.decode(raw.get("settle")),
        )
    except Exception:
        return None


def encode_record(stored: StoredWatermark[Any], kind: Kind) -> dict[str, JsonValue]:
    """The JSON object to store for ``stored``."""
    commit = stored.commit
    record: dict[str, JsonValue] = {
        "format": FORMAT,
        "type": kind.name,
        "value": kind.encode(commit.value),
        "previous": kind.encode(commit.previous),
        "operation": commit.operation,
        "commit_id": commit.commit_id,
        "committed_at": commit.committed_at.isoformat(),
        "writer": commit.writer.to_json(),
        "summary": encode_summary(commit.summary, kind.what),
        "rewinds": [
            {
                "from": kind.encode(r.previous),
                "to": kind.encode(r.value),
                "reason": r.reason,
                "at": r.at.isoformat(),
                "writer": r.writer.to_json(),
            }
            for r in stored.rewinds[-MAX_REWINDS:]
        ],
    }
    if commit.reason is not None:
        record["reason"] = commit.reason
    if stored.settings is not None:
        record["settings"] = {
            "initial": kind.encode(stored.settings.initial),
            "lag": _encode_step(stored.settings.lag),
            "settle": _encode_step(stored.settings.settle),
        }
    return record


def is_record(raw: Any) -> bool:
    """Whether a stored value is a record written by a Watermark (its ``format`` says so)."""
    return isinstance(raw, dict) and raw.get("format") == FORMAT


def decode_record(raw: Any, kind: Kind, where: str) -> StoredWatermark[Any]:
    """Turn a stored JSON object back into typed values, refusing data this watermark cannot own."""
    if not is_record(raw):
        raise InvalidValueError(
            f"{where} holds {describe(raw)}, which was not written by airflow-resumable's Watermark. "
            "Use another key (key=...) for this watermark, or move the old value over once: "
            "delete the key and call advance(<old value>)."
        )
    if raw.get("type") != kind.name:
        raise InvalidValueError(
            f"{where} holds a {raw.get('type')} watermark, but this Watermark is configured for {kind.name} "
            "values (from the type of initial=). Keep initial= the same type as what is stored, or use "
            "another key (key=...) for the new cursor."
        )
    try:
        commit = WatermarkCommit(
            value=kind.check(kind.decode(raw["value"]), "the stored value"),
            previous=kind.check(kind.decode(raw["previous"]), "the stored previous value"),
            operation=raw["operation"],
            committed_at=datetime.fromisoformat(raw["committed_at"]),
            writer=WatermarkWriter.from_json(raw.get("writer")),
            summary=_SUMMARY_CODEC.decode(raw.get("summary", {})),
            commit_id=str(raw["commit_id"]),
            reason=raw.get("reason"),
        )
        rewinds = tuple(
            WatermarkRewind(
                previous=kind.decode(r["from"]),
                value=kind.decode(r["to"]),
                reason=str(r["reason"]),
                at=datetime.fromisoformat(r["at"]),
                writer=WatermarkWriter.from_json(r.get("writer")),
            )
            for r in raw.get("rewinds", [])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidValueError(
            f"{where} holds a damaged watermark record ({exc!r}). Inspect it over the REST API; rewrite it "
            "with advance() after deleting the key, or use another key (key=...)."
        ) from exc
    return StoredWatermark(commit, rewinds, _decode_settings(raw.get("settings"), kind))
