"""The in-memory stores: retention and expiry, size warnings, scoping. (Exception parity with the real
stores is covered by tests/integration/test_store_parity.py.)"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
from airflow.sdk import NEVER_EXPIRE, Asset
from pydantic import ValidationError

from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def test_default_retention_expires_after_30_days_at_cleanup() -> None:
    clock = Clock()
    backend = InMemoryStateBackend(clock=clock)
    store = backend.task_store()
    store.set("k", 1)
    assert store.expires_at("k") == clock.now + timedelta(days=30)
    clock.now += timedelta(days=29, hours=23)
    assert backend.cleanup() == 0 and store.get("k") == 1
    clock.now += timedelta(hours=2)
    assert store.get("k") == 1  # as in Airflow 3.3: expiry is not checked on read
    assert backend.cleanup() == 1
    assert store.get("k", "expired") == "expired"


def test_explicit_retention_and_never_expire() -> None:
    clock = Clock()
    backend = InMemoryStateBackend(clock=clock)
    store = backend.task_store()
    store.set("short", 1, retention=timedelta(hours=1))
    store.set("forever", 2, retention=NEVER_EXPIRE)
    assert store.expires_at("forever") is None
    clock.now += timedelta(days=10_000)
    backend.cleanup()
    assert store.get("short") is None
    assert store.get("forever") == 2


def test_zero_retention_days_means_never_and_negative_is_rejected() -> None:
    clock = Clock()
    backend = InMemoryStateBackend(clock=clock, default_retention_days=0)
    backend.task_store().set("k", 1)
    clock.now += timedelta(days=365)
    backend.cleanup()
    assert backend.task_store().get("k") == 1
    backend.default_retention_days = -1
    with pytest.raises(ValueError, match="default_retention_days must be >= 0"):
        backend.task_store().set("k", 2)


def test_int_retention_is_a_type_error_like_airflow() -> None:
    with pytest.raises(TypeError):
        InMemoryTaskStateStore().set("k", 1, retention=5)  # type: ignore[arg-type]


def test_large_value_warns_and_is_stored(caplog: pytest.LogCaptureFixture) -> None:
    store = InMemoryTaskStateStore()
    with caplog.at_level(logging.WARNING, logger="airflow_resumable.testing"):
        store.set("big", "x" * 70_000)
    assert store.get("big") == "x" * 70_000
    assert "exceeds configured max_value_storage_bytes=65535" in caplog.text


def test_retries_share_state_and_map_indices_do_not() -> None:
    backend = InMemoryStateBackend()
    backend.task_store(map_index=0).set("k", "zero")
    assert backend.task_store(map_index=0).get("k") == "zero"
    assert backend.task_store(map_index=1).get("k") is None
    assert backend.task_store(task_id="other", map_index=0).get("k") is None
    backend.task_store(map_index=1).set("k", "one")
    backend.task_store(map_index=0).clear()
    assert backend.task_store(map_index=1).get("k") == "one"


def test_values_are_stored_as_json_not_live_objects() -> None:
    store = InMemoryTaskStateStore()
    value = {"items": [1, 2]}
    store.set("k", value)
    value["items"].append(3)
    assert store.get("k") == {"items": [1, 2]}


def test_rejected_value_is_not_written_and_count_is_unchanged() -> None:
    backend = InMemoryStateBackend()
    store = backend.task_store()
    with pytest.raises(ValidationError):
        store.set("k", (1, 2))
    assert store.get("k") is None
    assert backend.writes == 0


def test_asset_mapping_shorthand_keyerror_and_typeerror() -> None:
    backend = InMemoryStateBackend()
    one = backend.asset_stores(outlets=[Asset("a")])
    one.set("k", 1)
    assert one[Asset("a")].get("k") == 1
    two = backend.asset_stores(inlets=[Asset("a")], outlets=[Asset("b")])
    with pytest.raises(ValueError, match="2 concrete inlets and outlets"):
        two.get("k")
    with pytest.raises(KeyError, match="not in this task's inlets or outlets"):
        two[Asset("c")]
    with pytest.raises(TypeError, match="Expected Asset"):
        two["a"]
    assert two[Asset("a")].get("k") == 1  # assets are shared across tasks and runs


def test_asset_rows_record_the_last_writer() -> None:
    backend = InMemoryStateBackend()
    backend.asset_stores(outlets=[Asset("a")], writer={"task_id": "t1"}).set("k", 1)
    backend.asset_stores(outlets=[Asset("a")], writer={"task_id": "t2"}).set("k", 2)
    assert backend.asset_stores(outlets=[Asset("a")])[Asset("a")].last_writer("k") == {"task_id": "t2"}


# The in-memory stores fail the way a real worker's channel fails (issue 11, defect 7): a real worker
# encodes every request with the supervisor's msgpack encoder before sending it, so an integer beyond
# 64 bits raises OverflowError in the task and nothing reaches the database. dag.test()'s in-process
# channel skips that encoding and accepts it.
@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, [1, {"n": 2**70}]], ids=repr)
def test_ints_beyond_64_bits_fail_like_a_real_worker(value: object) -> None:
    backend = InMemoryStateBackend()
    task = backend.task_store()
    asset = backend.asset_stores(outlets=[Asset("a")])
    with pytest.raises(OverflowError, match="can't serialize ints"):
        task.set("k", value)
    with pytest.raises(OverflowError, match="can't serialize ints"):
        asset.set("k", value)
    assert task.get("k") is None and asset.get("k") is None
    assert backend.writes == 0
    task.set("k", 2**64 - 1)  # the largest the channel carries
    assert task.get("k") == 2**64 - 1


def test_server_errors_reach_the_task_as_on_a_real_worker() -> None:
    from airflow.sdk.exceptions import AirflowRuntimeError

    store = InMemoryStateBackend().task_store()
    with pytest.raises(AirflowRuntimeError, match="API_SERVER_ERROR") as info:
        store.set("k", float("nan"))
    assert info.value.error.detail["status_code"] == 422
    with pytest.raises(AirflowRuntimeError) as info:
        store.set("", 1)
    assert info.value.error.detail["status_code"] == 422


def test_a_value_the_channel_cannot_carry_is_not_retried() -> None:
    from airflow_resumable import _store

    backend = InMemoryStateBackend()
    store = backend.task_store()
    calls = []

    def set_once(key: str, value: object) -> None:
        calls.append(key)
        store.set(key, value)

    with pytest.raises(OverflowError):
        _store.retry_call("test write", set_once, "k", 2**64)
    assert calls == ["k"]
