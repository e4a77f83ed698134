"""Testing toolkit for DAG authors: in-memory state stores that behave like Airflow 3.3's, a fake task
context, a crash-and-retry harness, and a real-Airflow sandbox for ``dag.test()`` runs.

The pytest fixtures (``task_state_store``, ``asset_state_store``, ``context``, ``crash_and_retry``,
``airflow_sandbox``) are registered automatically when this package is installed.
"""

from __future__ import annotations

from airflow_resumable.testing.context import FakeTaskInstance, make_context, task_context
from airflow_resumable.testing.crash import (
    CrashPoint,
    RetryReport,
    SimulatedCrash,
    TryReport,
    after_call,
    before_call,
    crash_and_retry,
    on_write,
)
from airflow_resumable.testing.deployment import AirflowDeployment, DeploymentError, TaskProcesses
from airflow_resumable.testing.sandbox import AirflowSandbox, DagRunResult, TryRecord
from airflow_resumable.testing.stores import (
    InMemoryAssetStateStore,
    InMemoryAssetStateStores,
    InMemoryStateBackend,
    InMemoryTaskStateStore,
)

__all__ = [
    "AirflowDeployment",
    "AirflowSandbox",
    "CrashPoint",
    "DagRunResult",
    "DeploymentError",
    "FakeTaskInstance",
    "InMemoryAssetStateStore",
    "InMemoryAssetStateStores",
    "InMemoryStateBackend",
    "InMemoryTaskStateStore",
    "RetryReport",
    "SimulatedCrash",
    "TaskProcesses",
    "TryRecord",
    "TryReport",
    "after_call",
    "before_call",
    "crash_and_retry",
    "make_context",
    "on_write",
    "task_context",
]
