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


json_like = st.recursive(
    st.one_of(
        st.integers(),
        st.text(),
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
        st.dictionaries(st.text(max_size=5), children, max_size=4),
    ),
    max_leaves=12,
)


@given(json_like)
def test_any_supported_value_round_trips(value: object) -> None:
    assert codec.decode(codec.encode(value)) == value
