"""A scripted tour of state-store behaviour, run against the real stores and the in-memory ones.

``run_task_script(store)`` and ``run_asset_script(mapping, first, second, undeclared)`` perform the same
operations on whatever stores they are given and return one outcome per step: ``["ok", value]`` or
``["raises", exception type name, HTTP status or None]``. The project's parity suite runs them in a task
run the way a real worker runs it (`real_worker_channel()`), under ``dag.test()``, and against
[`airflow_resumable.testing.stores`][airflow_resumable.testing.stores], and requires identical outcomes from
the worker and the in-memory stores, so a change in Airflow's behaviour shows up as a failing test. Anyone can
run them against their own Airflow the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_resumable._store import never_expire

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

__all__ = ["real_worker_channel", "run_asset_script", "run_task_script"]

Outcome = list[Any]


def _outcome(fn: Callable[[], Any]) -> Outcome:
    try:
        value = fn()
    except Exception as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        detail = getattr(getattr(exc, "error", None), "detail", None)  # AirflowRuntimeError on a worker
        if status is None and isinstance(detail, dict):
            status = detail.get("status_code")
        return ["raises", type(exc).__name__, status]
    if isinstance(value, float) and math.isnan(value):  # pragma: no cover - never stored
        return ["ok", "nan"]
    return ["ok", value]


def run_task_script(store: Any) -> list[tuple[str, Outcome]]:
    """Exercise a ``task_state_store``: values, defaults, bad values, retention, keys, delete and clear."""
    naive = datetime(2026, 1, 1)
    aware = datetime(2026, 1, 1, tzinfo=timezone.utc)
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("get missing", lambda: store.get("missing")),
        ("get missing with default", lambda: store.get("missing", 5)),
        ("set int", lambda: store.set("int", 42)),
        ("get int", lambda: store.get("int")),
        ("set str", lambda: store.set("str", "héllo ✓")),
        ("get str", lambda: store.get("str")),
        ("set float", lambda: store.set("float", 1.5)),
        ("get float", lambda: store.get("float")),
        ("set bool", lambda: store.set("bool", False)),
        ("get bool", lambda: store.get("bool")),
        ("set nested", lambda: store.set("nested", {"a": [1, {"b": None}], "c": "d"})),
        ("get nested", lambda: store.get("nested")),
        ("set empty list", lambda: store.set("empty", [])),
        ("get empty list", lambda: store.get("empty", "default")),
        ("set None", lambda: store.set("none", None)),
        ("set naive datetime", lambda: store.set("dt", naive)),
        ("set aware datetime", lambda: store.set("dt", aware)),
        ("set tuple", lambda: store.set("tuple", (1, 2))),
        ("set dict with int keys", lambda: store.set("intkeys", {1: "a"})),
        ("set bytes", lambda: store.set("bytes", b"x")),
        ("set set", lambda: store.set("set", {1})),
        ("set nan", lambda: store.set("nan", float("nan"))),
        ("set inf in list", lambda: store.set("inf", [float("inf"), 1])),
        ("get inf in list", lambda: store.get("inf")),
        ("set nan in dict", lambda: store.set("nan2", {"x": float("nan")})),
        ("get nan in dict", lambda: store.get("nan2")),
        ("set int beyond 64 bits", lambda: store.set("big", 2**64)),
        ("set negative int beyond 64 bits", lambda: store.set("big", -(2**63) - 1)),
        ("set nested int beyond 64 bits", lambda: store.set("big", {"a": [1, 2**70]})),
        ("set largest uint64", lambda: store.set("u64", 2**64 - 1)),
        ("get largest uint64", lambda: store.get("u64")),
        ("set smallest int64", lambda: store.set("i64", -(2**63))),
        ("get smallest int64", lambda: store.get("i64")),
        ("set lone surrogate", lambda: store.set("text", "\ud800")),
        ("get after rejected writes", lambda: [store.get(k) for k in ("none", "dt", "tuple", "nan", "big")]),
        ("set empty key", lambda: store.set("", 1)),
        ("get empty key", lambda: store.get("")),
        ("delete empty key", lambda: store.delete("")),
        ("set retention int", lambda: store.set("ret", 1, retention=5)),
        ("set retention NEVER_EXPIRE", lambda: store.set("ret", 2, retention=never_expire())),
        ("set retention timedelta", lambda: store.set("ret2", 3, retention=timedelta(hours=1))),
        ("get retained", lambda: [store.get("ret"), store.get("ret2")]),
        ("key with slash and dot", lambda: store.set("a/b.c", "x")),
        ("get key with slash and dot", lambda: store.get("a/b.c")),
        ("overwrite", lambda: store.set("int", 43)),
        ("get overwritten", lambda: store.get("int")),
        ("delete", lambda: store.delete("int")),
        ("get deleted", lambda: store.get("int", "gone")),
        ("delete missing", lambda: store.delete("never-set")),
        ("large value", lambda: store.set("large", "x" * 70_000)),
        ("get large length", lambda: len(store.get("large"))),
        ("clear", lambda: store.clear()),
        ("get after clear", lambda: [store.get(k) for k in ("str", "nested", "ret", "a/b.c")]),
        (
            "has async methods",
            lambda: sorted(n for n in ("aget", "aset", "adelete", "aclear") if hasattr(store, n)),
        ),
    ]
    return [(name, _outcome(fn)) for name, fn in steps]


def run_asset_script(
    mapping: Any, first: Any, second: Any, undeclared: Any, *, include_async: bool = True
) -> list[tuple[str, Outcome]]:
    """Exercise ``context["asset_state_store"]`` for a task with two declared assets.

    ``include_async=False`` leaves out the async methods: under ``dag.test()`` on Airflow 3.3.2 they raise
    ``AttributeError`` (its in-process comms channel has no ``asend``), although real workers support them.
    """
    a = mapping[first]
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("shorthand with two assets", lambda: mapping.get("k")),
        ("undeclared asset", lambda: mapping[undeclared]),
        ("not an asset", lambda: mapping["orders"]),
        ("get missing", lambda: a.get("k")),
        ("get missing with default", lambda: a.get("k", 0)),
        ("set", lambda: a.set("k", {"v": 1})),
        ("get", lambda: a.get("k")),
        ("other asset is separate", lambda: mapping[second].get("k")),
        ("set None", lambda: a.set("k", None)),
        ("set aware datetime", lambda: a.set("k", datetime(2026, 1, 1, tzinfo=timezone.utc))),
        ("set tuple", lambda: a.set("k", (1,))),
        ("set nan", lambda: a.set("k", float("nan"))),
        ("set int beyond 64 bits", lambda: a.set("k", [2**64])),
        ("set empty key", lambda: a.set("", 1)),
        ("get empty key", lambda: a.get("")),
        ("value survives rejected writes", lambda: a.get("k")),
    ]
    if include_async:
        steps += [
            ("async set", lambda: asyncio.run(a.aset("async", 7))),
            ("async get", lambda: asyncio.run(a.aget("async"))),
            ("async delete", lambda: asyncio.run(a.adelete("async"))),
            ("get after async delete", lambda: a.get("async", "gone")),
        ]
    steps += [
        ("delete", lambda: a.delete("k")),
        ("get deleted", lambda: a.get("k", "gone")),
        ("set two keys", lambda: [a.set("x", 1), a.set("y", 2)]),
        ("clear", lambda: a.clear()),
        ("get after clear", lambda: [a.get("x"), a.get("y")]),
        (
            "has async methods",
            lambda: sorted(n for n in ("aget", "aset", "adelete", "aclear") if hasattr(a, n)),
        ),
    ]
    return [(name, _outcome(fn)) for name, fn in steps]


@contextlib.contextmanager
def real_worker_channel(sandbox: AirflowSandbox) -> Iterator[None]:
    """Within the block, ``sandbox.run_dag()`` runs every task the way a worker runs it.

    ``dag.test()`` normally runs a task in its own process with an in-process channel that hands request
    objects straight to the supervisor. Here each try goes through Airflow's real ``supervise_task()``
    instead: a forked task process parses the DAG file from the dags-folder bundle and talks to the
    supervisor over its socket in msgpack frames, exactly as on a worker; only the execution API is served
    in-process (over the metadata database). The task's log lines are echoed to this process's stdout so
    the run's output holds what the task printed. Each try costs a few seconds more than in-process.
    """
    from airflow.sdk.execution_time import supervisor

    original = supervisor.run_task_in_process

    def run_supervised(ti: Any, task: Any, client: Any = None) -> Any:
        return _run_supervised(sandbox, ti, task)

    supervisor.run_task_in_process = run_supervised
    try:
        yield
    finally:
        supervisor.run_task_in_process = original


def _run_supervised(sandbox: AirflowSandbox, ti: Any, task: Any) -> Any:
    from types import SimpleNamespace

    from airflow.api_fastapi.common.dagbag import dag_bag_from_app
    from airflow.executors.workloads.base import BundleInfo
    from airflow.models.dagbag import DBDagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.sdk.api.client import Client
    from airflow.sdk.execution_time import supervisor
    from airflow.utils.session import create_session

    api = supervisor.in_process_api_server()
    dag_bag = DBDagBag()
    api.app.dependency_overrides[dag_bag_from_app] = lambda: dag_bag
    client = Client(base_url=None, token="", dry_run=True, transport=api.transport)
    client.base_url = "http://in-process.invalid./"
    logs = sandbox.home / "worker-logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / f"{ti.task_id}-{ti.map_index}-{ti.try_number}.log"
    supervisor.supervise_task(
        ti=ti,
        bundle_info=BundleInfo(name="dags-folder", version=None),
        dag_rel_path=os.path.relpath(task.dag.fileloc, sandbox.dags_folder),
        token="",
        client=client,
        log_path=str(log_path),
    )
    _echo_events(log_path)
    with create_session() as session:
        state = session.query(TaskInstance.state).filter(TaskInstance.id == ti.id).scalar()
    # dag.test() reads only ti.state and ti.task of the result
    ran: Any = SimpleNamespace(state=state, task=task)
    return supervisor.TaskRunResult(ti=ran, state=state, msg=None, error=None)


def _echo_events(log_path: Path) -> None:
    """Print the ``event`` text of each JSON log line the task process wrote."""
    if not log_path.exists():
        return
    for line in log_path.read_text().splitlines():
        try:
            event = json.loads(line).get("event")
        except (ValueError, AttributeError):
            event = line
        if isinstance(event, str):
            print(event)
