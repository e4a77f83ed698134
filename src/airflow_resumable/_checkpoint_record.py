"""The JSON object a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] keeps in
``task_state_store``.

It is meant to be read by people as well as by the next try, since the Airflow UI and REST API show it:

```python
{"position": 1200, "items_done": 1200, "updated_at": "2026-05-04T10:00:00.123456+00:00",
 "items_per_second": 480.0, "try_number": 1, "fingerprint": "9f2c0e1d4b7a6c35", "version": 1}
```

``position`` is the codec's form of the last completed position, ``pending`` (only present after
out-of-order completion) holds the runs finished above it, ``fingerprint`` a hash of the inputs the
progress belongs to.
"""

from __future__ import annotations

import hashlib
import json
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
    "Saved",
    "dump",
    "fingerprint_of",
    "is_record",
    "load",
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


@dataclass(frozen=True)
class Saved:
    """A checkpoint read back from the store."""

    position: Any
    items_done: int
    pending: Ranges
    fingerprint: str | None
    updated_at: str | None
    try_number: int | None


def dump(
    key: str,
    *,
    position: Any,
    items_done: int,
    pending: Ranges,
    fingerprint: str | None,
    try_number: int | None,
    rate: float | None,
) -> dict[str, Any]:
    """Build the stored object; ``position`` is already in its JSON form.

    Raises [`CheckpointError`][airflow_resumable.errors.CheckpointError] if the object would exceed
    `MAX_VALUE_BYTES`.
    """
    value: dict[str, Any] = {
        "position": position,
        "items_done": items_done,
        "updated_at": datetime.now(tz=timezone.utc).isoformat(),
    }
    if rate is not None:
        value["items_per_second"] = round(rate, 1)
    if pending:
        value["pending"] = pending.to_json()
    if fingerprint is not None:
        value["fingerprint"] = fingerprint
    if try_number is not None:
        value["try_number"] = try_number
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
    fingerprint = raw.get("fingerprint")
    try_number = raw.get("try_number")
    return Saved(
        position=position,
        items_done=raw["items_done"],
        pending=pending,
        fingerprint=fingerprint if isinstance(fingerprint, str) else None,
        updated_at=raw.get("updated_at"),
        try_number=try_number if isinstance(try_number, int) else None,
    )
