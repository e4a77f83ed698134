"""Typed positions round-trip exactly; bad input is refused before anything is written."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable import Checkpointer, CheckpointError, InvalidValueError, every

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore

POSITIONS = [
    17,
    "page-token:eyJvZmZzZXQiOiA0MH0=",
    datetime(2026, 5, 4, 10, 30, 15, 123456, tzinfo=timezone.utc),
    datetime(2026, 5, 4, 12, 0, tzinfo=timezone(timedelta(hours=2))),
    date(2026, 5, 4),
    Decimal("1234.5600"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    ("2026-05-04", 991),
    {"shard": "eu-1", "offset": 1200, "since": datetime(2026, 1, 1, tzinfo=timezone.utc)},
    [1, "two", 3.5],
]


@pytest.mark.parametrize("position", POSITIONS, ids=lambda p: type(p).__name__)
def test_every_position_type_round_trips_exactly(
    task_state_store: InMemoryTaskStateStore, position: Any
) -> None:
    with Checkpointer("cursor", store=task_state_store, clear_on_success=False) as ckpt:
        ckpt.advance(position)
    again = Checkpointer("cursor", store=task_state_store)
    assert again.position == position
    assert type(again.position) is type(position)
    if isinstance(position, Decimal):
        assert str(again.position) == "1234.5600"  # the exponent survives too


class Version:
    """A custom position type: a dotted version string that orders numerically."""

    def __init__(self, text: str) -> None:
        self.parts = tuple(int(p) for p in text.split("."))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and other.parts == self.parts

    def __gt__(self, other: Version) -> bool:
        return self.parts > other.parts

    def __hash__(self) -> int:
        return hash(self.parts)


class VersionCodec:
    def encode(self, value: Version) -> str:
        if not isinstance(value, Version):
            raise InvalidValueError(f"not a Version: {value!r}")
        return ".".join(map(str, value.parts))

    def decode(self, data: str) -> Version:
        return Version(data)


def test_a_custom_codec_stores_and_orders_custom_positions(task_state_store: InMemoryTaskStateStore) -> None:
    releases = [Version(v) for v in ["1.2.0", "1.10.0", "2.0.1"]]
    with Checkpointer(
        "releases", store=task_state_store, codec=VersionCodec(), clear_on_success=False
    ) as ckpt:
        for release in ckpt.iterate(releases, key=lambda v: v):
            if release == Version("1.10.0"):
                break
    assert task_state_store.get("releases")["position"] == "1.10.0"
    with Checkpointer("releases", store=task_state_store, codec=VersionCodec()) as ckpt:
        assert [item for item in ckpt.iterate(releases, key=lambda v: v)] == [Version("2.0.1")]


def test_a_codec_that_raises_anything_is_reported_as_bad_input(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    class Broken:
        def encode(self, value: Any) -> Any:
            raise KeyError("no")

        def decode(self, data: Any) -> Any:
            return data

    with Checkpointer("k", store=task_state_store, codec=Broken()) as ckpt, pytest.raises(InvalidValueError):
        ckpt.advance(1)


def test_a_user_codec_output_a_worker_cannot_send_is_refused_before_any_write(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    class Raw:  # passes positions through: a 70-bit int reaches the store untouched
        def encode(self, value: Any) -> Any:
            return value

        def decode(self, data: Any) -> Any:
            return data

    with Checkpointer("k", store=task_state_store, codec=Raw()) as ckpt:
        with pytest.raises(InvalidValueError, match="64"):
            ckpt.advance(2**70)
        ckpt.advance(5)
    assert task_state_store.get("k") is None  # nothing oversized was ever written; success cleared the key


def test_a_stored_position_the_codec_cannot_read_is_a_checkpoint_error(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    with Checkpointer("k", store=task_state_store, clear_on_success=False) as ckpt:
        ckpt.advance("not-a-version")
    with pytest.raises(CheckpointError, match="another codec"):
        Checkpointer("k", store=task_state_store, codec=VersionCodec()).position  # noqa: B018


BAD_POSITIONS = [
    (None, "None"),
    (datetime(2026, 1, 1), "naive"),
    (float("nan"), "NaN"),
    (object(), "codec="),
    ({1: "a"}, "non-string key"),
    ({"at": datetime(2026, 1, 1)}, "naive"),
]


@pytest.mark.parametrize(("position", "message"), BAD_POSITIONS, ids=[m for _, m in BAD_POSITIONS])
def test_bad_positions_are_refused_before_any_write(
    state_backend: InMemoryStateBackend, position: Any, message: str
) -> None:
    store = state_backend.task_store()
    with Checkpointer("k", store=store, commit=every(1)) as ckpt:
        ckpt.advance(5)
        writes = state_backend.writes
        with pytest.raises(InvalidValueError, match=message):
            ckpt.advance(position)
        assert state_backend.writes == writes
    assert store.keys() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"key": ""}, "non-empty string key"),
        ({"key": "  "}, "non-empty string key"),
        ({"key": None}, "non-empty string key"),
        ({"key": "k" * 513}, "513 characters"),
        ({"commit": 100}, "every\\(100\\)"),
        ({"commit": None}, "policy"),
        ({"codec": object()}, "encode\\(\\) and decode\\(\\)"),
        ({"retention": 30}, "timedelta"),
        ({"retention": timedelta(0)}, "positive"),
        ({"on_commit_error": "ignore"}, "'raise' or 'warn'"),
        ({"clear_on_success": "yes"}, "True or False"),
        ({"initial": datetime(2026, 1, 1)}, "naive"),
        ({"fingerprint": {1, 2}}, "fingerprint"),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs: dict[str, Any], message: str) -> None:
    kwargs = {"key": "rows", **kwargs}
    with pytest.raises(InvalidValueError, match=message):
        Checkpointer(**kwargs)


def test_advance_items_must_be_a_count(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer("k", store=task_state_store) as ckpt:
        for bad in (-1, 1.5, True):
            with pytest.raises(InvalidValueError, match="items"):
                ckpt.advance(3, items=bad)  # type: ignore[arg-type]


def test_advance_counts_items_and_a_batch_counts_as_many(task_state_store: InMemoryTaskStateStore) -> None:
    with Checkpointer(
        "k", store=task_state_store, initial=0, commit=every(100), clear_on_success=False
    ) as ckpt:
        for offset in range(0, 1000, 250):
            ckpt.advance(offset + 250, items=250)  # a batch of 250 rows: the policy fires on every batch
        assert ckpt.uncommitted == 0
    assert task_state_store.get("k")["items_done"] == 1000


def test_manual_loop_over_the_remaining_range(task_state_store: InMemoryTaskStateStore) -> None:
    done = []

    def try_1() -> None:
        with Checkpointer("k", store=task_state_store, initial=0) as ckpt:
            for i in range(ckpt.position, 10):
                if i == 6:
                    raise ZeroDivisionError
                done.append(i)
                ckpt.advance(i + 1)

    with pytest.raises(ZeroDivisionError):
        try_1()
    with Checkpointer("k", store=task_state_store, initial=0) as ckpt:
        for i in range(ckpt.position, 10):
            done.append(i)
            ckpt.advance(i + 1)
    assert done == list(range(10))


def test_a_value_not_written_by_a_checkpointer_is_not_mistaken_for_one(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    task_state_store.set("rows", 42)
    with pytest.raises(CheckpointError, match="not a checkpoint written by Checkpointer"):
        Checkpointer("rows", store=task_state_store).__enter__()


def test_a_checkpoint_from_a_newer_format_is_not_misread(task_state_store: InMemoryTaskStateStore) -> None:
    task_state_store.set("rows", {"position": 1, "items_done": 1, "version": 99})
    with pytest.raises(CheckpointError, match="newer"):
        Checkpointer("rows", store=task_state_store).__enter__()


def test_a_position_too_big_for_the_store_is_refused_before_writing(
    state_backend: InMemoryStateBackend,
) -> None:
    store = state_backend.task_store()
    with Checkpointer("k", store=store) as ckpt:
        ckpt.advance("x" * 70_000)
        with pytest.raises(CheckpointError, match="over the 65535-byte limit"):
            ckpt.commit()
        ckpt.reset()
    assert state_backend.writes == 0
