"""Positions of the items a [`Checkpointer`][airflow_resumable.checkpoint.Checkpointer] loop hands out, and
which to skip.

`Ordinal` numbers the items from 1 (the default positions); `Keyed` takes them from the
user's ``key=`` function, checks that they increase, and compares them the way they are stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_resumable._codec import Codec, TypedCodec, check_wire, describe
from airflow_resumable.errors import CheckpointError, InvalidValueError

if TYPE_CHECKING:
    from airflow_resumable._checkpoint_ranges import Ranges

__all__ = ["NOTHING", "SKIP", "Keyed", "Ordinal", "encode", "in_utc"]


class _Skip:
    """Marks an item that an earlier try already finished."""


SKIP: Any = _Skip()
NOTHING: Any = object()


class Ordinal:
    """Default positions: the n-th item (from 1) has position n; skip those already done."""

    __slots__ = ("base", "index", "pending")

    def __init__(self, base: int, pending: Ranges | None) -> None:
        self.base, self.pending, self.index = base, pending, 0

    def __call__(self, item: object) -> Any:
        self.index += 1
        i = self.index
        if i <= self.base or (self.pending is not None and i in self.pending):
            return SKIP
        return i


def in_utc(value: Any) -> Any:
    """``value`` with aware datetimes (also inside tuples and lists) moved to UTC.

    Two datetimes with the same ``tzinfo`` compare by wall clock, which runs backwards when daylight saving
    time ends (01:40 EDT comes before 01:10 EST); in UTC they compare by the instant they name.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo is timezone.utc or value.utcoffset() is None:
            return value
        return value.astimezone(timezone.utc)
    if isinstance(value, (tuple, list)) and any(isinstance(part, (datetime, tuple, list)) for part in value):
        parts = [in_utc(part) for part in value]
        if isinstance(value, list):
            return parts
        make = getattr(type(value), "_make", None)  # a namedtuple keeps its type
        return make(parts) if make is not None else tuple(parts)
    return value


class Keyed:
    """Positions from ``key(item)``: they must increase strictly; those up to ``resume`` are done.

    Aware datetimes in positions are compared, and stored, in UTC (see `in_utc()`).
    """

    __slots__ = ("checked", "codec", "key", "name", "prev", "resume")

    def __init__(self, key: Callable[[Any], Any], resume: Any, codec: Codec[Any], name: str) -> None:
        self.key, self.resume, self.codec, self.name = key, in_utc(resume), codec, name
        self.prev: Any = NOTHING
        self.checked = False

    def __call__(self, item: object) -> Any:
        pos = self.key(item)
        if isinstance(pos, (datetime, tuple, list)):
            pos = in_utc(pos)
        if pos is None:
            raise InvalidValueError(
                f"Checkpointer {self.name!r}: key({describe(item)}) returned None; it must return the item's "
                "position (an int, str, datetime, tuple...)."
            )
        try:
            if self.prev is not NOTHING and not pos > self.prev:
                raise CheckpointError(
                    f"Checkpointer {self.name!r}: iterate(key=...) needs items sorted by a strictly "
                    f"increasing key, but {describe(pos)} came after {describe(self.prev)}. Sort the input, "
                    "or make the key unique with a tie-breaker, e.g. key=lambda r: (r.updated_at, r.id)."
                )
            done = self.resume is not None and not pos > self.resume
        except TypeError as exc:
            raise CheckpointError(
                f"Checkpointer {self.name!r}: position {describe(pos)} cannot be compared with "
                f"{describe(self.prev if self.prev is not NOTHING else self.resume)} ({exc}). Positions "
                "from key= must all be of one orderable type (and of the type stored by earlier tries)."
            ) from None
        self.prev = pos
        if done:
            return SKIP
        if not self.checked:
            encode(self.codec, pos, f"Checkpointer {self.name!r}: position")
            self.checked = True
        return pos


def encode(codec: Codec[Any], value: Any, what: str) -> Any:
    """Encode with the codec, turning any failure into
    [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] (before any write)."""
    try:
        encoded = codec.encode(value)
        if type(codec) is not TypedCodec:  # TypedCodec output already meets the worker channel's limits
            check_wire(encoded, what)
        return encoded
    except InvalidValueError as exc:
        raise InvalidValueError(f"{what}: {exc}") from None
    except Exception as exc:
        raise InvalidValueError(
            f"{what} {describe(value)} could not be encoded by the codec: {exc!r}"
        ) from exc
