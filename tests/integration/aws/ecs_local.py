"""The local ECS of the ECS crash matrix, reachable from its DAG file (``dag.test()`` runs in this process).

``start()`` starts one ``FakeEcs`` per process and points the ``ecs_local`` connection at it; the DAG's
crash hooks move tasks on the ECS side through the functions here, never through the provider's hook.
"""

from __future__ import annotations

import os
from typing import Any

from airflow_resumable.testing.ecs_server import FakeEcs

CONN = "ecs_local"
CLUSTER = "jobs"
SERVER: FakeEcs | None = None


def start() -> FakeEcs:
    """The process's local ECS (started once), with the ``jobs`` cluster and ``ecs_local`` set."""
    global SERVER
    if SERVER is None:
        SERVER = FakeEcs().start()
        SERVER.add_cluster(CLUSTER)
    key = f"AIRFLOW_CONN_{CONN.upper()}"
    os.environ[key] = SERVER.environ(CONN)[key]
    return SERVER


def stop() -> None:
    """Stop the local ECS and remove the ``ecs_local`` connection."""
    global SERVER
    if SERVER is not None:
        SERVER.stop()
        SERVER = None
    os.environ.pop(f"AIRFLOW_CONN_{CONN.upper()}", None)


def server() -> FakeEcs:
    if SERVER is None:
        raise RuntimeError("ecs_local.start() was not called")
    return SERVER


def set_script(arn: str, script: list[str]) -> None:
    """The task follows ``script`` from its next DescribeTasks on (time passing on ECS)."""
    server().set_script(arn, script)


def forget(arn: Any) -> None:
    """ECS no longer knows the task (``DescribeTasks``: ``MISSING``)."""
    if arn:
        server().forget(str(arn))
