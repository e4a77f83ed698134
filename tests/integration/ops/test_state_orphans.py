"""``state jobs`` and ``state orphans`` against the real REST app and the local Databricks server: a task
that died while its run kept running leaves an orphan, which ``--cancel`` cancels exactly once."""

from __future__ import annotations

import io
import json

import pytest

from airflow_resumable import ops
from airflow_resumable.ops.cli import main as state_main

pytestmark = pytest.mark.airflow

DYING = '''
from datetime import timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator


class WorkerLost(Exception):
    """Stands for the task being marked failed (or its worker lost) while the run goes on."""


class DiesWhilePolling(DatabricksSubmitRunOperator):
    def poll_until_complete(self, external_id, context):
        raise WorkerLost(f"lost the worker while run {external_id} was running")


@dag(schedule=None, default_args={"retries": 0, "retry_delay": timedelta(0)})
def nightly_spark():
    DiesWhilePolling(
        task_id="transform",
        notebook_task={"notebook_path": "/Shared/etl"},
        existing_cluster_id="cluster-1",
        polling_period_seconds=0,
        databricks_retry_limit=1,
    )


nightly_spark()
'''


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return state_main(argv, out=out), out.getvalue()


def test_orphaned_databricks_run_is_listed_and_cancelled_exactly_once(
    airflow_sandbox, api_server, databricks, monkeypatch
):
    databricks.scripts.append(["RUNNING"])  # the run keeps running (and burning money)
    result = airflow_sandbox.run_dag(DYING)
    assert result.states("transform") == ["failed"], result.output[-2000:]
    (run,) = databricks.created
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])

    code, text = _run(["jobs", "nightly_spark", "--live", "--format", "json"])
    assert code == 0
    (job,) = json.loads(text)
    assert job["external_id"] == run.run_id and job["generation"] == 1
    assert job["token"] == run.token and job["recorded_state"] == "submitted"
    assert job["operator"] == "DiesWhilePolling" and job["live_status"] == "RUNNING" and job["live_active"]

    code, text = _run(["orphans", "--dag", "nightly_spark"])
    assert code == 8  # dry run: found, nothing cancelled
    assert str(run.run_id) in text and not run.cancelled

    code, text = _run(["orphans", "--dag", "nightly_spark", "--cancel"])
    assert code == 0
    assert "cancelled" in text and str(run.run_id) in text
    assert run.cancelled and len(databricks.requests_to("jobs/runs/cancel")) == 1
    intent = result.task_state("transform", "databricks_run_id.intent")
    assert intent["cancelled"]["external_id"] == run.run_id and intent["cancelled"]["by"] == "admin"
    assert intent["state"] == "submitted" and intent["token"] == run.token  # the rest untouched

    code, text = _run(["orphans", "--dag", "nightly_spark", "--cancel"])  # second call: a no-op
    assert code == 0 and "No orphaned jobs." in text
    assert len(databricks.requests_to("jobs/runs/cancel")) == 1

    with ops.connect() as api:
        (job_record,) = ops.jobs(api, "nightly_spark")
    assert job_record.recorded_state == "cancelled"


def test_a_run_still_terminating_after_cancel_is_not_cancelled_again(
    airflow_sandbox, api_server, databricks, monkeypatch
):
    databricks.scripts.append(["RUNNING"])
    airflow_sandbox.run_dag(DYING)
    (run,) = databricks.created
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_TOKEN", _token(api_server))

    assert _run(["orphans", "--cancel"])[0] == 0
    assert len(databricks.requests_to("jobs/runs/cancel")) == 1
    # Databricks takes a while to stop a cancelled run: it shows TERMINATING (not terminal) meanwhile.
    run.cancelled, run.script, run.gets = False, ["TERMINATING"], 0

    code, text = _run(["orphans", "--cancel", "--format", "json"])
    assert code == 0
    (action,) = json.loads(text)
    assert action["action"] == "already cancelled" and action["live_status"] == "TERMINATING"
    assert len(databricks.requests_to("jobs/runs/cancel")) == 1


def _token(api_server) -> str:
    import httpx

    body = {"username": "admin", "password": api_server.passwords["admin"]}
    return str(httpx.post(f"{api_server.url}/auth/token", json=body).json()["access_token"])
