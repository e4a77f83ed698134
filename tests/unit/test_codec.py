"""TypedCodec: exact round trips, and clear errors before anything is written."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_resumable import InvalidValueError, ResumableError, TypedCodec

codec = TypedCodec()

VALUES = [
    0,
    -5,
    "page-token",
    True,
    1.25,
    datetime(2026, 3, 1, 12, 30, tzinfo=timezone.utc),
    datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    date(2026, 3, 1),
    timedelta(days=1, seconds=5, microseconds=7),
    Decimal("12.3400"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    (1, "a", (2, 3)),
    {"shard": 3, "offset": 10, "$type": "not a tag"},
    [1, {"a": (1, 2)}],
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_round_trips_exactly(value: object) -> None:
    decoded = codec.decode(codec.encode(value))
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "cannot hold None"),
        (float("nan"), "no NaN"),
        (datetime(2026, 1, 1), "naive datetime"),
        ({1: "a"}, "non-string key"),
        ({"a": [datetime(2026, 1, 1)]}, r"value\['a'\]\[0\] is a naive datetime"),
        (object(), "cannot store"),
        (Decimal("NaN"), "finite Decimal"),
    ],
)
def test_rejects_with_a_message_that_says_what_to_do(value: object, message: str) -> None:
    with pytest.raises(InvalidValueError, match=message) as info:
        codec.encode(value)
    assert isinstance(info.value, ResumableError) and isinstance(info.value, ValueError)


def test_unknown_tag_is_reported() -> None:
    with pytest.raises(InvalidValueError, match="unknown type tag"):
        codec.decode({"$type": "frobnicate", "value": 1})


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))  # valid UTF-8: no lone surrogates
json_like = st.recursive(
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**64 - 1),
        _TEXT,
        st.booleans(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.datetimes(timezones=st.just(timezone.utc)),
        st.dates(),
        st.decimals(allow_nan=False, allow_infinity=False),
        st.uuids(),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(_TEXT.filter(lambda k: len(k) <= 5), children, max_size=4),
    ),
    max_leaves=12,
)


@given(json_like)
def test_any_supported_value_round_trips(value: object) -> None:
    assert codec.decode(codec.encode(value)) == value


# A real worker sends every store write through the supervisor's msgpack encoder, which carries integers
# in [-2**63, 2**64 - 1] and UTF-8 text only. dag.test() and JSON accept more, so the codec must refuse
# them itself, before anything is written (issue 11, defect 7).
@pytest.mark.parametrize(
    ("value", "where"),
    [
        (2**64, "value"),
        (-(2**63) - 1, "value"),
        ([1, {"a": (2, 2**70)}], r"value\[1\]\['a'\]\[1\]"),
        ({"offsets": [0, 2**100]}, r"value\['offsets'\]\[1\]"),
        ((2**64,), r"value\[0\]"),
    ],
    ids=["2**64", "-2**63-1", "nested-tuple", "nested-list", "tuple"],
)
def test_ints_a_worker_channel_cannot_carry_are_refused_anywhere(value: object, where: str) -> None:
    with pytest.raises(InvalidValueError, match=rf"{where} is an integer outside .*64-bit.*as a string"):
        codec.encode(value)


def test_the_64_bit_limits_themselves_are_accepted() -> None:
    for value in (2**64 - 1, -(2**63), [2**63, -(2**63)]):
        assert codec.decode(codec.encode(value)) == value


def test_text_a_worker_channel_cannot_carry_is_refused() -> None:
    with pytest.raises(InvalidValueError, match=r"value\['k'\] .*not valid UTF-8"):
        codec.encode({"k": "lone \ud800 surrogate"})
    with pytest.raises(InvalidValueError, match=r"key .*not valid UTF-8"):
        codec.encode({"\udc00": 1})


def test_check_wire_refuses_raw_json_a_worker_cannot_carry() -> None:
    from airflow_resumable._codec import check_wire

    check_wire({"a": [1, "x", 2.5, True, 2**64 - 1]}, "record")
    with pytest.raises(InvalidValueError, match=r"record\['a'\]\[0\] is an integer outside"):
        check_wire({"a": [2**64]}, "record")
