"""Finding the stores: inside a task, outside one, with an undeclared asset, on an old Airflow."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.sdk import Asset

from airflow_resumable import AirflowVersionError, InvalidValueError, NoStoreError, ResumableError, _store
from airflow_resumable.testing import InMemoryTaskStateStore, task_context


def test_outside_a_task_without_store_says_what_to_do() -> None:
    with pytest.raises(NoStoreError, match=r"pass store=\.\.\.") as info:
        _store.task_store(None, who="Checkpointer('rows')")
    assert "Checkpointer('rows')" in str(info.value)
    assert isinstance(info.value, ResumableError)


def test_an_explicit_store_wins() -> None:
    store = InMemoryTaskStateStore()
    assert _store.task_store(store, who="x") is store


def test_inside_a_task_the_running_tasks_store_is_used() -> None:
    with task_context(task_id="load", map_index=2) as ctx:
        assert _store.task_store(None, who="x") is ctx["task_state_store"]
        assert _store.writer_identity() == {
            "dag_id": "dag",
            "run_id": "run",
            "task_id": "load",
            "map_index": 2,
            "try_number": 1,
        }


def test_asset_lookup_and_undeclared_asset_message() -> None:
    orders = Asset("orders")
    with task_context(outlets=[orders], task_id="produce"):
        assert _store.asset_store(orders, None, who="Watermark") is not None
        with pytest.raises(InvalidValueError, match=r"not an inlet or outlet of task 'produce'.*outlets=\["):
            _store.asset_store(Asset("customers"), None, who="Watermark")
    with pytest.raises(NoStoreError, match="asset state store"):
        _store.asset_store(orders, None, who="Watermark")


def test_old_airflow_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    real = importlib.metadata.version

    def fake_version(name: str) -> str:
        return {"apache-airflow-task-sdk": "1.1.4", "apache-airflow": "3.1.4"}.get(name) or real(name)

    monkeypatch.setattr(importlib.metadata, "version", fake_version)
    _store.require_airflow.cache_clear()
    try:
        with pytest.raises(AirflowVersionError, match=r"needs Apache Airflow 3\.3 or newer.*found 1\.1\.4"):
            _store.task_store(None, who="x")
    finally:
        _store.require_airflow.cache_clear()


def test_transient_errors_are_retried_and_bad_input_is_not(mocker: Any) -> None:
    mocker.patch("tenacity.nap.time.sleep")
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("API server restarting")
        return "ok"

    assert _store.retry_call("store write", flaky) == "ok"
    assert len(calls) == 3

    def bad() -> None:
        calls.append(1)
        raise ValueError("Cannot set value as None")

    calls.clear()
    with pytest.raises(ValueError, match="None"):
        _store.retry_call("store write", bad)
    assert len(calls) == 1

    def interrupted() -> None:
        calls.append(1)
        raise KeyboardInterrupt

    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        _store.retry_call("store write", interrupted)
    assert len(calls) == 1


def test_call_async_uses_a_thread_for_sync_only_stores() -> None:
    import asyncio

    store = InMemoryTaskStateStore()
    asyncio.run(_store.call_async(store, "set", "k", 1))
    assert asyncio.run(_store.call_async(store, "get", "k")) == 1


def test_never_expire_is_one_helper_that_does_not_import_airflow() -> None:
    import subprocess
    import sys

    from airflow_resumable import _checkpoint_io
    from airflow_resumable.jobs import base

    # One definition serves the checkpoints, the job operators and the in-memory stores.
    assert _checkpoint_io.never_expire is _store.never_expire
    assert not hasattr(base, "_forever")
    from airflow.sdk import NEVER_EXPIRE  # type: ignore[attr-defined]

    assert _store.never_expire() is NEVER_EXPIRE  # Airflow loaded: its own constant
    # Outside a task Airflow is not loaded, and asking for the retention must not load it.
    code = (
        "import sys; from airflow_resumable._store import never_expire; from datetime import timedelta; "
        "assert never_expire() is timedelta.max; "
        "print(sorted(m for m in sys.modules if m.startswith('airflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
