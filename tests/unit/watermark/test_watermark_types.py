"""What a watermark may hold, and the bad input it refuses before anything is written."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from airflow_resumable import InvalidValueError, TypedCodec, Watermark
from airflow_resumable.testing import InMemoryAssetStateStore, InMemoryStateBackend

UTC = timezone.utc
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def store() -> InMemoryAssetStateStore:
    return InMemoryAssetStateStore("orders", InMemoryStateBackend())


def test_datetime_watermark_is_stored_in_utc_and_read_back_typed(store: InMemoryAssetStateStore) -> None:
    paris = timezone(timedelta(hours=1))
    wm = Watermark("orders", initial=datetime(2026, 1, 1, 1, tzinfo=paris), store=store)
    assert wm.initial == T0
    assert wm.initial.tzinfo == UTC
    wm.advance(datetime(2026, 1, 2, 1, tzinfo=paris))
    assert wm.value == datetime(2026, 1, 2, tzinfo=UTC)
    assert store.get("watermark")["value"] == {"$type": "datetime", "value": "2026-01-02T00:00:00+00:00"}


def test_date_watermark_with_whole_day_lag(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=date(2026, 1, 1), lag=timedelta(days=1), store=store)
    wm.advance(date(2026, 1, 5))
    with wm.window(until=date(2026, 1, 8)) as w:
        assert (w.start, w.end) == (date(2026, 1, 4), date(2026, 1, 8))
    assert wm.value == date(2026, 1, 8)
    with pytest.raises(InvalidValueError, match=r"pass value\.date\(\)"):
        wm.advance(T0 + timedelta(days=30))  # type: ignore[arg-type]


def test_int_watermark_uses_int_steps(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, lag=5, settle=2, store=store)
    with wm.window(until=100) as w:
        assert (w.start, w.end) == (0, 98)
    with wm.window(until=120) as w:
        assert (w.start, w.end) == (93, 118)
    assert wm.value == 118
    assert store.get("watermark")["value"] == 118  # plain JSON for ints


def test_str_watermark_needs_explicit_lexicographic_ordering(store: InMemoryAssetStateStore) -> None:
    with pytest.raises(InvalidValueError, match="ordering='lexicographic'"):
        Watermark("orders", initial="0001", store=store)
    wm = Watermark("orders", initial="0001", ordering="lexicographic", store=store)
    wm.advance("0010")
    with wm.window(until="0042") as w:
        assert "0010" in w
        assert "0042" not in w
        assert "0009" not in w
    assert wm.value == "0042"
    with pytest.raises(InvalidValueError, match="no distance"):
        Watermark("orders", initial="a", ordering="lexicographic", lag=1, store=store)
    with pytest.raises(InvalidValueError, match="for str watermarks"):
        Watermark("orders", initial=1, ordering="lexicographic", store=store)
    with pytest.raises(InvalidValueError, match="'natural' or 'lexicographic'"):
        Watermark("orders", initial=1, ordering="numeric", store=store)  # type: ignore[arg-type]


def test_composite_cursor_and_decimal_work_through_the_default_codec(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=(T0, 0), store=store)
    wm.advance((T0, 7))
    wm.advance((T0 + timedelta(seconds=1), 0))
    assert wm.value == (T0 + timedelta(seconds=1), 0)
    dec = Watermark("orders", initial=Decimal("1.5"), lag=Decimal("0.5"), key="version", store=store)
    with dec.window(until=Decimal("3")) as w:
        assert (w.start, w.end) == (Decimal("1.5"), Decimal("3"))
    assert dec.window(until=Decimal("4")).start == Decimal("2.5")
    with pytest.raises(InvalidValueError, match="does not step"):
        Watermark("orders", initial=(T0, 0), lag=1, store=store)


class Version:
    """A custom comparable cursor with its own codec."""

    def __init__(self, major: int, minor: int) -> None:
        self.major, self.minor = major, minor

    def __lt__(self, other: Version) -> bool:
        return (self.major, self.minor) < (other.major, other.minor)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and (self.major, self.minor) == (other.major, other.minor)

    def __hash__(self) -> int:
        return hash((self.major, self.minor))


class VersionCodec:
    def encode(self, value: Version) -> Any:
        return f"{value.major}.{value.minor}"

    def decode(self, data: Any) -> Version:
        major, minor = data.split(".")
        return Version(int(major), int(minor))


def test_custom_type_with_a_codec(store: InMemoryAssetStateStore) -> None:
    with pytest.raises(InvalidValueError, match="codec="):
        Watermark("orders", initial=Version(1, 0), store=store)
    wm = Watermark("orders", initial=Version(1, 0), codec=VersionCodec(), store=store)
    wm.advance(Version(1, 10))
    assert wm.value == Version(1, 10)
    assert store.get("watermark")["value"] == "1.10"
    assert store.get("watermark")["type"] == "Version"


def test_a_codec_that_does_not_round_trip_is_refused(store: InMemoryAssetStateStore) -> None:
    class Lossy:
        def encode(self, value: int) -> Any:
            return value // 10

        def decode(self, data: Any) -> int:
            return int(data) * 10

    with pytest.raises(InvalidValueError, match="round-trip"):
        Watermark("orders", initial=15, codec=Lossy(), store=store)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"initial": None}, "initial= is None"),
        ({"initial": datetime(2026, 1, 1)}, "naive datetime"),
        ({"initial": True}, "bool"),
        ({"initial": {"a": 1}}, "cannot be ordered"),
        ({"initial": T0, "lag": 10}, r"timedelta\(minutes=10\)"),
        ({"initial": T0, "lag": "10m"}, "never guessed"),
        ({"initial": T0, "settle": timedelta(minutes=-1)}, "must not be negative"),
        ({"initial": 0, "lag": timedelta(1)}, "must be an int"),
        ({"initial": 0, "lag": True}, "must be an int"),
        ({"initial": 0, "settle": -3}, "must not be negative"),
        ({"initial": date(2026, 1, 1), "lag": timedelta(hours=6)}, "whole days"),
        ({"initial": 0, "partition": ""}, "must not be empty"),
        ({"initial": 0, "partition": 1.5}, "str or int"),
        ({"initial": 0, "key": ""}, "non-empty str"),
    ],
)
def test_bad_arguments_raise_before_anything_is_written(
    store: InMemoryAssetStateStore, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(InvalidValueError, match=match):
        Watermark("orders", store=store, **kwargs)
    assert store.backend.writes == 0


def test_bad_values_raise_before_anything_is_written(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, store=store)
    for bad, match in [
        (None, "is None"),
        (datetime(2026, 2, 1), "naive"),
        ("2026-02-01", "must be a datetime"),
        (date(2026, 2, 1), "must be a datetime"),
    ]:
        with pytest.raises(InvalidValueError, match=match):
            wm.advance(bad)
        if bad is not None:  # window(until=None) means "until now"
            with pytest.raises(InvalidValueError, match=match):
                wm.window(until=bad)
    with pytest.raises(InvalidValueError, match="naive"):
        wm.window(until=T0 + timedelta(days=1), now=datetime(2026, 2, 1))
    ints = Watermark("orders", initial=0, key="ids", store=store)
    with pytest.raises(InvalidValueError, match="no clock; pass until="):
        ints.window()
    with pytest.raises(InvalidValueError, match="must be a int"):
        ints.advance(True)
    with pytest.raises(InvalidValueError, match="asset is None"):
        Watermark(None, initial=0, store=store)
    assert store.backend.writes == 0


def test_summary_must_be_storable(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=0, store=store)
    with pytest.raises(InvalidValueError, match="None"):
        wm.advance(5, summary={"rows": None})
    with wm.window(until=10) as w, pytest.raises(InvalidValueError, match="naive"):
        w.record(loaded_at=datetime(2026, 1, 1))
    assert wm.value == 10  # the bad record() call raised inside the block, but was caught there
    assert wm.last_commit is not None
    assert wm.last_commit.summary == {}
    w2 = wm.window(until=20)
    w2.summary["oops"] = object()  # set directly, bypassing record(): caught before the write
    with pytest.raises(InvalidValueError, match="object"), w2:
        pass
    assert wm.value == 10


def test_typed_codec_is_the_default_and_can_be_passed_explicitly(store: InMemoryAssetStateStore) -> None:
    wm = Watermark("orders", initial=T0, codec=TypedCodec(), store=store)
    wm.advance(T0 + timedelta(hours=1))
    assert Watermark("orders", initial=T0, store=store).value == T0 + timedelta(hours=1)


def test_pendulum_input_becomes_a_plain_utc_datetime(store: InMemoryAssetStateStore) -> None:
    import pendulum

    wm = Watermark("orders", initial=T0, lag=timedelta(minutes=10), store=store)
    with wm.window(until=pendulum.datetime(2026, 1, 1, 7, tz="Europe/Paris")) as w:  # e.g. data_interval_end
        assert type(w.end) is datetime
        assert w.end == datetime(2026, 1, 1, 6, tzinfo=UTC)
        assert (w.end - w.start) / timedelta(minutes=1) == 360  # plain timedelta arithmetic works
    assert type(wm.value) is datetime
