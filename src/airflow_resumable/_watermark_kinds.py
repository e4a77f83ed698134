"""What a watermark may hold: the value types, how they compare, and the ``lag``/``settle`` steps that fit.

Each supported type gets a `Kind` that checks values (rejecting the wrong type, ``None`` and naive
datetimes before anything is written), checks steps (a ``timedelta`` for datetimes and dates, an ``int`` for
ints: never guessed from strings), subtracts a step, and knows what "now" means for that type. Values are
encoded with a [`Codec`][airflow_resumable._codec.Codec] (the
[`TypedCodec`][airflow_resumable._codec.TypedCodec] by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from airflow_resumable._codec import Codec, JsonValue, TypedCodec, check_wire, describe, require_aware
from airflow_resumable.errors import InvalidValueError

__all__ = ["Clock", "Kind", "Ordering", "kind_for", "stored_kind"]

Clock = Callable[[], datetime]
Ordering = Literal["natural", "lexicographic"]


class Kind:
    """How one watermark value type is checked, compared, stepped and stored."""

    name = "value"

    def __init__(self, codec: Codec[Any], what: str) -> None:
        self.codec = codec
        self.what = what  # "Watermark(Asset('orders'))", for messages

    # -- values ---------------------------------------------------------------------------------------
    def check(self, value: Any, role: str) -> Any:
        """Return ``value`` (normalised) if it fits this kind; raise
        [`InvalidValueError`][airflow_resumable.errors.InvalidValueError] otherwise."""
        if value is None:
            raise InvalidValueError(f"{self.what}: {role} is None. Pass a {self.name} value.")
        checked = self._check(value, role)
        self.encode(checked)  # what the store or a worker's channel cannot take is refused now, not at commit
        return checked

    def _check(self, value: Any, role: str) -> Any:
        raise NotImplementedError

    def _wrong_type(self, value: Any, role: str, hint: str = "") -> InvalidValueError:
        return InvalidValueError(
            f"{self.what}: {role} must be a {self.name} (the type of initial=), got "
            f"{type(value).__name__} {describe(value)}.{hint}"
        )

    def less(self, a: Any, b: Any) -> bool:
        """``a < b``, turning an incomparable pair into
        [`InvalidValueError`][airflow_resumable.errors.InvalidValueError]."""
        try:
            return bool(a < b)
        except TypeError as exc:
            raise InvalidValueError(
                f"{self.what}: cannot compare {describe(a)} with {describe(b)} ({exc}). "
                "Every value of one watermark must have the same comparable type."
            ) from exc

    def min(self, a: Any, b: Any) -> Any:
        return b if self.less(b, a) else a

    def max(self, a: Any, b: Any) -> Any:
        return b if self.less(a, b) else a

    # -- steps (lag, settle) --------------------------------------------------------------------------
    def check_step(self, step: Any, role: str) -> Any:
        """Return ``step`` if it is a non-negative distance of the right type for this kind."""
        raise InvalidValueError(
            f"{self.what}: {role}= needs a datetime, date or int watermark; a {self.name} watermark has no "
            f"distance to step back by. Remove {role}=, or use a datetime/date/int cursor."
        )

    def minus(self, value: Any, step: Any) -> Any:
        return value - step

    def now(self, clock: Clock) -> Any:
        """What "now" is for this kind, or ``None`` if it has no clock (then ``until`` stands for now)."""
        return None

    # -- storage --------------------------------------------------------------------------------------
    def encode(self, value: Any) -> JsonValue:
        """The codec's JSON for ``value``, checked against what a real worker's channel can carry."""
        encoded = self.codec.encode(value)
        check_wire(encoded, f"{self.what}: the encoded value")
        return encoded

    def decode(self, data: JsonValue) -> Any:
        return self.codec.decode(data)


class DatetimeKind(Kind):
    """Timezone-aware datetimes, kept as plain ``datetime`` in UTC. Steps are ``timedelta``."""

    name = "datetime"

    def _check(self, value: Any, role: str) -> Any:
        if not isinstance(value, datetime):
            raise self._wrong_type(
                value, role, " Use an aware datetime, e.g. datetime(..., tzinfo=timezone.utc)."
            )
        utc = require_aware(value, f"{self.what}: {role}").astimezone(timezone.utc)
        # A plain datetime, also for pendulum input (data_interval_end...): arithmetic between the two
        # types gives pendulum intervals that do not mix with timedelta.
        return datetime(*utc.timetuple()[:6], utc.microsecond, tzinfo=timezone.utc)

    def check_step(self, step: Any, role: str) -> Any:
        return _check_timedelta(step, role, self.what, whole_days=False)

    def now(self, clock: Clock) -> Any:
        return self.check(clock(), "the clock")


class DateKind(Kind):
    """Calendar dates (not datetimes). Steps are whole-day ``timedelta``."""

    name = "date"

    def _check(self, value: Any, role: str) -> Any:
        if isinstance(value, datetime):
            raise self._wrong_type(value, role, " This watermark holds dates: pass value.date().")
        if not isinstance(value, date):
            raise self._wrong_type(value, role)
        return value

    def check_step(self, step: Any, role: str) -> Any:
        return _check_timedelta(step, role, self.what, whole_days=True)

    def now(self, clock: Clock) -> Any:
        return clock().astimezone(timezone.utc).date()


class IntKind(Kind):
    """Integers (ids, offsets, versions). Steps are ``int``; there is no clock: ``until`` stands for now."""

    name = "int"

    def _check(self, value: Any, role: str) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong_type(value, role)
        return value

    def check_step(self, step: Any, role: str) -> Any:
        if isinstance(step, bool) or not isinstance(step, int):
            raise InvalidValueError(
                f"{self.what}: {role}= must be an int for an int watermark, got {type(step).__name__} "
                f"{describe(step)}."
            )
        if step < 0:
            raise InvalidValueError(f"{self.what}: {role}= must not be negative, got {step}.")
        return step


class StrKind(Kind):
    """Strings compared character by character (opt-in: ``ordering="lexicographic"``)."""

    name = "str"

    def _check(self, value: Any, role: str) -> Any:
        if not isinstance(value, str):
            raise self._wrong_type(value, role)
        return value


class OtherKind(Kind):
    """Any other comparable type the codec can store (Decimal, float, tuples such as ``(ts, id)``...).

    ``lag``/``settle`` work when ``value - step`` does (e.g. a Decimal step for a Decimal watermark).
    """

    def __init__(self, codec: Codec[Any], what: str, initial: Any) -> None:
        super().__init__(codec, what)
        self.type = type(initial)
        self.name = self.type.__name__
        self.initial = initial

    def _check(self, value: Any, role: str) -> Any:
        if not isinstance(value, self.type):
            raise self._wrong_type(value, role)
        return value

    def check_step(self, step: Any, role: str) -> Any:
        try:
            stepped = self.initial - step
            ok = isinstance(stepped, self.type) and not self.less(self.initial, stepped)
        except (TypeError, InvalidValueError):
            ok = False
        if not ok:
            raise InvalidValueError(
                f"{self.what}: {role}={describe(step)} does not step a {self.name} watermark back "
                f"({describe(self.initial)} - {describe(step)} must be a smaller {self.name}). "
                "Use a non-negative step of the matching type, or remove it."
            )
        return step


def _check_timedelta(step: Any, role: str, what: str, *, whole_days: bool) -> timedelta:
    kind = "date" if whole_days else "datetime"
    if not isinstance(step, timedelta):
        raise InvalidValueError(
            f"{what}: {role}= must be a timedelta for a {kind} watermark, got {type(step).__name__} "
            f"{describe(step)}. Write e.g. {role}=timedelta(minutes=10): units are never guessed."
        )
    if step < timedelta(0):
        raise InvalidValueError(f"{what}: {role}= must not be negative, got {step}.")
    if whole_days and (step.seconds or step.microseconds):
        raise InvalidValueError(f"{what}: {role}= must be whole days for a date watermark, got {step}.")
    return step


def kind_for(initial: Any, *, ordering: str, codec: Codec[Any] | None, what: str) -> Kind:
    """Choose the `Kind` for a watermark from its ``initial`` value (never from a guess)."""
    if ordering not in ("natural", "lexicographic"):
        raise InvalidValueError(f"{what}: ordering= must be 'natural' or 'lexicographic', got {ordering!r}.")
    use = codec if codec is not None else TypedCodec()
    if initial is None:
        raise InvalidValueError(
            f"{what}: initial= is None. Pass the first value to load from, e.g. "
            "initial=datetime(2026, 1, 1, tzinfo=timezone.utc) or initial=0."
        )
    if isinstance(initial, bool):
        raise InvalidValueError(
            f"{what}: initial= is a bool, which cannot order progress. Use an int or datetime."
        )
    kind: Kind
    if isinstance(initial, str):
        if ordering != "lexicographic":
            raise InvalidValueError(
                f"{what}: a str watermark compares character by character ('9' > '10', and "
                "'2026-1-10' < '2026-1-9'). If your cursor sorts that way (zero-padded or ISO-8601 text), "
                "pass ordering='lexicographic'; otherwise convert it to an int or datetime."
            )
        kind = StrKind(use, what)
    elif ordering == "lexicographic":
        raise InvalidValueError(
            f"{what}: ordering='lexicographic' is for str watermarks; initial= is a {type(initial).__name__}."
        )
    elif isinstance(initial, datetime):
        kind = DatetimeKind(use, what)
    elif isinstance(initial, date):
        kind = DateKind(use, what)
    elif isinstance(initial, int):
        kind = IntKind(use, what)
    else:
        try:
            initial < initial  # noqa: B015 - only asking whether the type can be ordered
        except TypeError:
            raise InvalidValueError(
                f"{what}: initial= is a {type(initial).__name__}, which cannot be ordered, so it cannot be a "
                "watermark. Use a datetime, date, int, str or another type that supports '<'."
            ) from None
        kind = OtherKind(use, what, initial)
    checked = kind._check(initial, "initial=")  # the type; encoding is checked with the hint below
    try:
        round_trip = kind.decode(kind.encode(checked))
    except InvalidValueError as exc:
        raise InvalidValueError(
            f"{exc} (A {type(initial).__name__} watermark needs codec= with encode() and decode().)"
        ) from exc
    if round_trip != checked:
        raise InvalidValueError(
            f"{what}: the codec does not round-trip initial=: {describe(checked)} came back as "
            f"{describe(round_trip)}. decode(encode(v)) must equal v."
        )
    return kind


def stored_kind(raw: Mapping[str, Any], what: str) -> Kind:
    """The `Kind` a stored watermark record was written with, from its value and ``type``.

    A Watermark knows its kind from ``initial=``; from outside a task (the ``airflow-resumable state
    watermark`` command) only the record tells. The value is decoded with the default codec and must come
    back as the recorded type: a record written with a custom ``codec=`` cannot be read here.
    """
    value = TypedCodec().decode(raw.get("value"))
    ordering = "lexicographic" if isinstance(value, str) else "natural"
    kind = kind_for(value, ordering=ordering, codec=None, what=what)
    if kind.name != raw.get("type"):
        raise InvalidValueError(
            f"{what}: the record says its type is {raw.get('type')!r} but its value decodes as "
            f"{kind.name}; it was written with a custom codec=, which only the DAG's code can read."
        )
    return kind
