"""Asking a backend about a job through the provider hook: errors are reported, secrets never shown."""

from __future__ import annotations

import json
import socket

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
