"""``state jobs`` and ``state orphans`` against the real REST app and the local Databricks server: a task
that died while its run kept running leaves an orphan, which ``--cancel`` cancels exactly once."""

from __future__ import annotations

import io
import json

import pytest

from airflow_resumable import ops
from airflow_resumable.ops.api import AirflowApi
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


# -- a retry writing a new generation while the orphan is being cancelled ---------------------------------
def _new_generation(result, intent: dict) -> dict:
    """The intent a retry writes when it starts generation 2 (as ``submit_durably`` does)."""
    return {**intent, "generation": 2, "token": intent["token"][:-3] + "-g2", "state": "submitting"}


def _orphan(airflow_sandbox, api_server, databricks, monkeypatch):
    databricks.scripts.append(["RUNNING"])
    result = airflow_sandbox.run_dag(DYING)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])
    return result, result.task_state("transform", "databricks_run_id.intent")


_PATCH = AirflowApi.patch_task_entry


def _write_intent(result, value: dict) -> None:
    """The retry's write, through the REST API (the same row and the same upsert as the worker's)."""
    with ops.connect() as api:
        _PATCH(api, result.dag_id, result.run_id, "transform", -1, "databricks_run_id.intent", value)


def test_a_new_generation_written_while_cancelling_is_never_overwritten(
    airflow_sandbox, api_server, databricks, monkeypatch
):
    """A retry that writes its next generation's intent while the backend cancels the orphan: the intent is
    read again right before the write, the cancellation is not recorded over it, and the command refuses."""
    from airflow_resumable.ops import backends

    result, intent = _orphan(airflow_sandbox, api_server, databricks, monkeypatch)
    newer = _new_generation(result, intent)
    cancel = backends.DatabricksBackend.cancel

    def cancel_while_a_retry_moves_on(self, job):
        cancel(self, job)
        _write_intent(result, newer)

    monkeypatch.setattr(backends.DatabricksBackend, "cancel", cancel_while_a_retry_moves_on)
    code, text = _run(["orphans", "--dag", "nightly_spark", "--cancel", "--format", "json"])

    assert code == 6  # refused, as the command's other refusals
    (action,) = json.loads(text)
    assert action["action"] == "refused"
    assert "generation 1 -> 2" in action["detail"] and "nothing was written" in action["detail"]
    assert result.task_state("transform", "databricks_run_id.intent") == newer  # the retry's, untouched


def test_a_new_generation_written_right_after_the_cancellation_is_reported(
    airflow_sandbox, api_server, databricks, monkeypatch
):
    """The intent is read once more after the write: a newer generation that replaced the mark at once is
    reported (the cancelled job is not that generation's, so nothing is lost)."""
    result, intent = _orphan(airflow_sandbox, api_server, databricks, monkeypatch)
    newer = _new_generation(result, intent)
    patch = AirflowApi.patch_task_entry

    def patch_then_a_retry_moves_on(self, *args):
        patch(self, *args)
        _write_intent(result, newer)

    monkeypatch.setattr(AirflowApi, "patch_task_entry", patch_then_a_retry_moves_on)
    code, text = _run(["orphans", "--dag", "nightly_spark", "--cancel", "--format", "json"])

    assert code == 0
    (action,) = json.loads(text)
    assert action["action"] == "cancelled" and "generation 1 -> 2" in action["detail"]
    assert result.task_state("transform", "databricks_run_id.intent") == newer
