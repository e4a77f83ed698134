"""Codecs: how typed Python values become the JSON that the state stores accept, and back.

The stores take JSON only (Airflow 3.3 rejects ``None``, datetimes, tuples, dicts with non-string keys and
NaN, each with a different exception), and a real worker sends every write through the supervisor's msgpack
encoder, which carries integers in ``[-2**63, 2**64 - 1]`` and UTF-8 text only (``dag.test()``'s in-process
channel accepts more, so such a value passes a local run and fails in a deployment).
[`TypedCodec`][airflow_resumable._codec.TypedCodec] turns the types people actually checkpoint into tagged
JSON that round-trips exactly, and rejects everything else with
[`InvalidValueError`][airflow_resumable.errors.InvalidValueError] *before* any write; `check_wire()` applies
the channel's limits to JSON produced by any other codec. A tagged value looks like ``{"$type": "datetime",
"value": "2026-01-01T00:00:00+00:00"}`` so it stays readable in the Airflow UI and REST API.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable

from airflow_resumable.errors import InvalidValueError

__all__ = ["Codec", "JsonValue", "TypedCodec", "check_wire", "describe", "require_aware"]

JsonValue = Any
"""A value the state stores accept: str, int, float, bool, list or dict with str keys (never ``None``)."""

T = TypeVar("T")
_TAG = "$type"
INT_MIN, INT_MAX = -(2**63), 2**64 - 1
"""The integers a real worker's channel carries (msgpack int64 and uint64, as msgspec encodes them)."""


@runtime_checkable
class Codec(Protocol[T]):
    """Turns values of one type into store-safe JSON and back. ``decode(encode(v)) == v`` must hold."""

    def encode(self, value: T) -> JsonValue:
        """Return the JSON form of ``value``; raise
        [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] if it cannot be stored."""
        ...

    def decode(self, data: JsonValue) -> T:
        """Return the value that ``data`` (produced by [`encode()`][airflow_resumable._codec.Codec.encode])
        stands for."""
        ...


def describe(value: object) -> str:
    """A short ``repr`` for error messages, cut so a huge value does not flood the log."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def require_aware(value: datetime, what: str) -> datetime:
    """Reject naive datetimes: their meaning depends on the worker's clock settings."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValueError(
            f"{what} is a naive datetime ({value.isoformat()}). Give it a timezone, "
            "e.g. datetime(..., tzinfo=timezone.utc) or pendulum.datetime(...)."
        )
    return value


def _check_int(value: int, where: str) -> None:
    if not INT_MIN <= value <= INT_MAX:
        raise InvalidValueError(
            f"{where} is an integer outside the 64-bit range a worker can send ({describe(value)}; the "
            "supervisor's channel carries -2**63 to 2**64 - 1). Store it as a string (str(n), int(s) on "
            "read) or pass codec= with a codec that does."
        )


def _check_text(value: str, where: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValueError(
            f"{where} is not valid UTF-8 text ({describe(value)} has a lone surrogate), which a worker "
            "cannot send. Decode the source bytes with errors='replace', or store the bytes base64-encoded."
        ) from None


def check_wire(value: JsonValue, where: str = "value") -> None:
    """Raise [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] if JSON ``value`` holds what a
    real worker's channel cannot carry.

    The limits are the supervisor's msgpack encoder's: integers in ``[-2**63, 2**64 - 1]`` and text that is
    valid UTF-8, at any depth. Values from [`TypedCodec`][airflow_resumable._codec.TypedCodec] already meet
    them; use this for the output of other codecs and for raw values written by the library.
    """
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        _check_int(value, where)
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            check_wire(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for k, item in value.items():
            if isinstance(k, str):
                _check_text(k, f"{where} key {describe(k)}")
            check_wire(item, f"{where}[{k!r}]")


class TypedCodec:
    """The default codec: int, str, bool, finite float, aware datetime, date, timedelta, Decimal, UUID,
    and lists, tuples and str-keyed dicts of those, nested to any depth.

    It refuses ``None``, NaN/infinity, naive datetimes, non-string dict keys, unknown types, and what a
    real worker's channel cannot carry (integers beyond 64 bits, text that is not valid UTF-8), naming the
    offending part of the value and what to use instead.
    """

    def encode(self, value: Any, _where: str = "value") -> JsonValue:
        """Return the tagged JSON form of ``value``."""
        if value is None:
            raise InvalidValueError(
                f"{_where} is None: the state stores cannot hold None. "
                "Use a sentinel value or delete the key."
            )
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            _check_int(value, _where)
            return value
        if isinstance(value, str):
            _check_text(value, _where)
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidValueError(
                    f"{_where} is {value}: JSON has no NaN or infinity. Store a finite number."
                )
            return value
        if isinstance(value, datetime):
            return {_TAG: "datetime", "value": require_aware(value, _where).isoformat()}
        if isinstance(value, date):
            return {_TAG: "date", "value": value.isoformat()}
        if isinstance(value, timedelta):
            return {_TAG: "timedelta", "value": [value.days, value.seconds, value.microseconds]}
        if isinstance(value, Decimal):
            if not value.is_finite():
                raise InvalidValueError(f"{_where} is {value}: store a finite Decimal.")
            return {_TAG: "decimal", "value": str(value)}
        if isinstance(value, uuid.UUID):
            return {_TAG: "uuid", "value": str(value)}
        if isinstance(value, tuple):
            return {_TAG: "tuple", "value": [self.encode(v, f"{_where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.encode(v, f"{_where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, dict):
            out: dict[str, JsonValue] = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise InvalidValueError(
                        f"{_where} has a non-string key {k!r}: JSON object keys are strings. "
                        "Convert the keys with str() or store a list of pairs."
                    )
                _check_text(k, f"{_where} key {describe(k)}")
                out[k] = self.encode(v, f"{_where}[{k!r}]")
            if _TAG in out:
                return {_TAG: "dict", "value": out}
            return out
        raise InvalidValueError(
            f"{_where} has type {type(value).__name__}, which the default codec cannot store "
            f"({describe(value)}). "
            "Convert it to a supported type, or pass codec= with an object that has encode() and decode()."
        )

    def decode(self, data: JsonValue) -> Any:
        """Return the Python value that tagged JSON ``data`` stands for."""
        if isinstance(data, list):
            return [self.decode(v) for v in data]
        if isinstance(data, dict):
            tag = data.get(_TAG)
            if tag is None:
                return {k: self.decode(v) for k, v in data.items()}
            raw: Any = data.get("value")
            if tag == "datetime":
                return datetime.fromisoformat(raw)
            if tag == "date":
                return date.fromisoformat(raw)
            if tag == "timedelta":
                days, seconds, micros = raw
                return timedelta(days=days, seconds=seconds, microseconds=micros)
            if tag == "decimal":
                return Decimal(raw)
            if tag == "uuid":
                return uuid.UUID(raw)
            if tag == "tuple":
                return tuple(self.decode(v) for v in raw)
            if tag == "dict":
                return {k: self.decode(v) for k, v in raw.items()}
            raise InvalidValueError(
                f"Stored value has an unknown type tag {tag!r}. It was written by a newer airflow-resumable "
                "or by hand; upgrade the library or delete the key."
            )
        return data
