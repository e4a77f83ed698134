"""Asking a backend about a job through the provider hook: errors are reported, secrets never shown."""

from __future__ import annotations

import json
import socket

import pytest

from airflow_resumable.ops.records import JobRecord, TaskRef
from airflow_resumable.ops.tasks import with_live_status

SECRET = "dapi-sekrit-token-123"


def test_an_unreachable_backend_is_reported_without_the_connection_secret(monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conn = {
        "conn_type": "databricks",
        "host": "127.0.0.1",
        "port": port,
        "schema": "http",
        "password": SECRET,
    }
    monkeypatch.setenv("AIRFLOW_CONN_DBX_OPS", json.dumps(conn))
    task = TaskRef("d", "r", "t", state="failed", job_fields={"databricks_conn_id": "dbx_ops"})
    job = JobRecord(task=task, key="databricks_run_id", external_id=7, recorded_state="submitted")

    checked = with_live_status(job)
    assert checked.backend == "databricks" and checked.live_status is None and checked.live_active is None
    assert "failed" in (checked.live_error or "") and str(port) in (checked.live_error or "")
    assert SECRET not in repr(checked) and SECRET not in json.dumps(checked.to_json())


class _RunningBackend:
    """A backend registered by a user (``register()``) whose job is always running."""

    name = "always-running"

    def handles(self, job: JobRecord) -> bool:
        return job.key == "my_job_id"

    def conn_id(self, job: JobRecord) -> str:
        return "my_conn"

    def status(self, job: JobRecord) -> tuple[str, bool]:
        return "RUNNING", True

    def cancel(self, job: JobRecord) -> None:
        raise AssertionError("never cancelled here")


@pytest.mark.parametrize(
    ("task_state", "run_state", "active", "status"),
    [
        ("success", "running", False, "RUNNING (handed on: its task succeeded and its DAG run is running)"),
        ("success", "queued", False, "RUNNING (handed on: its task succeeded and its DAG run is running)"),
        ("success", "success", True, "RUNNING"),
        ("success", "failed", True, "RUNNING"),
        ("failed", "running", True, "RUNNING"),
    ],
)
def test_a_job_whose_task_succeeded_in_a_running_dag_run_is_handed_on_for_every_backend(
    monkeypatch, task_state, run_state, active, status
) -> None:
    """Any backend's job (not only AWS's), submitted with wait_for_completion=False or handed to later
    tasks, is not an orphan while its DAG run still runs; once the run is over, it is."""
    from airflow_resumable.ops import backends

    monkeypatch.setattr(backends, "_BACKENDS", [_RunningBackend()])
    task = TaskRef("d", "r", "t", state=task_state, run_state=run_state)
    checked = with_live_status(
        JobRecord(task=task, key="my_job_id", external_id="j-1", recorded_state="submitted")
    )
    assert (checked.live_active, checked.live_status) == (active, status)
