"""The JSON object a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] keeps in
``task_state_store``.

It is meant to be read by people as well as by the next try, since the Airflow UI and REST API show it:

```python
{"position": 1200, "items_done": 1200, "total": 5000, "updated_at": "2026-05-04T10:00:00.123456+00:00",
 "items_per_second": 480.0, "try_number": 2, "started_at": "2026-05-04T09:58:10.000000+00:00",
 "items_at_start": 800, "fingerprint": "9f2c0e1d4b7a6c35", "version": 1}
```

``position`` is the codec's form of the last completed position, ``pending`` (only present after
out-of-order completion) holds the runs finished above it, ``fingerprint`` a hash of the inputs the
progress belongs to. ``total`` (only when known) is the number of items of the whole input;
``started_at`` and ``items_at_start`` say when this try's ``with`` block started and how many items were
done then, so a reader gets this try's average rate and an estimate of the time left from one record
(`Progress`). Fields added later are optional: older records without them still load.
"""

from __future__ import annotations

import hashlib
import json
import operator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_resumable._checkpoint_ranges import Ranges
from airflow_resumable._codec import Codec, TypedCodec, describe
from airflow_resumable.errors import CheckpointError, InvalidValueError

__all__ = [
    "MAX_PENDING_RANGES",
    "MAX_VALUE_BYTES",
    "VERSION",
    "Progress",
    "Saved",
    "check_total",
    "dump",
    "fingerprint_of",
    "is_record",
    "load",
    "progress_of",
]

VERSION = 1
MAX_VALUE_BYTES = 65535
"""Airflow's default ``[state_store] max_value_storage_bytes``: a checkpoint never grows past it."""
MAX_PENDING_RANGES = 1000
"""Runs of out-of-order positions kept at most: about 25 KB with 10-digit positions, well under the limit."""


def fingerprint_of(value: Any) -> str:
    """A short stable hash of any JSON-able value (or of a string), for telling input sets apart."""
    try:
        encoded = TypedCodec().encode(value, "fingerprint")
    except InvalidValueError as exc:
        raise InvalidValueError(
            f"Checkpointer(fingerprint=...) must be a string or a JSON-able value: {exc}"
        ) from None
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def check_total(total: Any, what: str) -> int | None:
    """``total`` as an int, or ``None`` (unknown).

    Raises [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] for anything that is not a
    whole number of items >= 0 (a bool, a float, a negative number, a string).
    """
    if total is None:
        return None
    try:
        number = operator.index(total)
    except TypeError:
        number = -1
    if isinstance(total, bool) or number < 0:
        raise InvalidValueError(
            f"{what} must be the number of items as a whole number >= 0 (or None when it is not known), "
            f"got {describe(total)}."
        )
    return number


@dataclass(frozen=True)
class Progress:
    """What a record says about progress, read without the position's codec (for the ``state`` command and
    the UI as well as the next try). Fields a record lacks (older records, unknown totals) are ``None``."""

    items_done: int
    total: int | None = None
    updated_at: str | None = None
    items_per_second: float | None = None
    """Items per second between the last two commits (the recent pace)."""
    try_number: int | None = None
    started_at: str | None = None
    """When the ``with`` block of the try that wrote the record started."""
    items_at_start: int | None = None
    """Items done when that block started (resumed from earlier tries)."""
    fingerprint: str | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def progress_of(raw: Any) -> Progress:
    """The codec-free fields of a record that `is_record()` accepts; malformed optional fields read as
    ``None``."""
    rate = raw.get("items_per_second")
    rate = float(rate) if isinstance(rate, int | float) and not isinstance(rate, bool) else None
    return Progress(
        items_done=raw["items_done"],
        total=_int(raw.get("total")),
        updated_at=_text(raw.get("updated_at")),
        items_per_second=float(rate)
        if isinstance(rate, int | float) and not isinstance(rate, bool)
        else None,
        try_number=_int(raw.get("try_number")),
        started_at=_text(raw.get("started_at")),
        items_at_start=_int(raw.get("items_at_start")),
        fingerprint=_text(raw.get("fingerprint")),
    )


@dataclass(frozen=True)
class Saved:
    """A checkpoint read back from the store."""

    position: Any
    items_done: int
    pending: Ranges
    fingerprint: str | None
    updated_at: str | None
    try_number: int | None
    progress: Progress | None = None
    """Everything the record says about progress (total, rate, this try's start)."""


def dump(
    key: str,
    *,
    position: Any,
    items_done: int,
    pending: Ranges,
    fingerprint: str | None,
    try_number: int | None,
    rate: float | None,
    total: int | None = None,
    started_at: str | None = None,
    items_at_start: int | None = None,
) -> dict[str, Any]:
    """Build the stored object; ``position`` is already in its JSON form.

    Raises [`CheckpointError`][airflow_resumable.errors.CheckpointError] if the object would exceed
    `MAX_VALUE_BYTES`.
    """
    value: dict[str, Any] = {"position": position, "items_done": items_done}
    if total is not None:
        value["total"] = total
    value["updated_at"] = datetime.now(tz=timezone.utc).isoformat()
    if rate is not None:
        value["items_per_second"] = round(rate, 1)
    if pending:
        value["pending"] = pending.to_json()
    if try_number is not None:
        value["try_number"] = try_number
    if started_at is not None:
        value["started_at"] = started_at
        value["items_at_start"] = items_at_start or 0
    if fingerprint is not None:
        value["fingerprint"] = fingerprint
    value["version"] = VERSION
    size = len(json.dumps(value))
    if size > MAX_VALUE_BYTES:
        raise CheckpointError(
            f"Checkpoint {key!r} would be {size} bytes, over the {MAX_VALUE_BYTES}-byte limit of a state "
            "store value. Use a smaller position (an id or offset rather than a whole record)."
        )
    return value


def is_record(raw: Any) -> bool:
    """Whether a stored value has the shape of a Checkpointer record (what `load()` accepts as one).

    For readers that scan a task's keys (the ``airflow-resumable state checkpoints`` command); it does not
    decode the position or check the version: `load()` does.
    """
    return isinstance(raw, dict) and "position" in raw and isinstance(raw.get("items_done"), int)


def load(key: str, raw: Any, codec: Codec[Any]) -> Saved:
    """Read a stored checkpoint back; [`CheckpointError`][airflow_resumable.errors.CheckpointError] if ``raw``
    is not one."""
    if not is_record(raw):
        raise CheckpointError(
            f"Key {key!r} in task_state_store holds {describe(raw)}, which is not a checkpoint written by "
            "Checkpointer. Use another key, or delete this one if it is left over from older code."
        )
    version = raw.get("version", VERSION)
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"Checkpoint {key!r} has format version {version!r}, newer than this airflow-resumable "
            f"understands ({VERSION}). Upgrade the library on the workers, or delete the key."
        )
    try:
        position = codec.decode(raw["position"])
    except Exception as exc:
        raise CheckpointError(
            f"Checkpoint {key!r}: the stored position {describe(raw['position'])} could not be decoded "
            f"({exc!r}). Was it written with another codec=? Restore that codec or delete the key."
        ) from exc
    try:
        pending = Ranges.from_json(raw.get("pending", []))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(
            f"Checkpoint {key!r}: its 'pending' runs are damaged ({exc}). Delete the key."
        ) from exc
    progress = progress_of(raw)
    return Saved(
        position=position,
        items_done=progress.items_done,
        pending=pending,
        fingerprint=progress.fingerprint,
        updated_at=progress.updated_at,
        try_number=progress.try_number,
        progress=progress,
    )
