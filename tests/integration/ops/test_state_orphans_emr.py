"""``state orphans`` for EMR on EKS against moto's real API: the virtual cluster and the AWS connection are
found in the task's rendered fields, the job run is cancelled through the provider's hook exactly once."""

from __future__ import annotations

import io
import json

import pytest

import moto_server
from airflow_resumable.ops.cli import main as state_main

pytestmark = pytest.mark.airflow

DAG = """
from datetime import timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrContainerOperator


class DiesWhilePolling(EmrContainerOperator):
    def poll_until_complete(self, external_id, context):
        raise RuntimeError(f"worker lost while job run {{external_id}} was running")


@dag(schedule=None, default_args={{"retries": 0, "retry_delay": timedelta(0)}})
def spark_on_eks():
    DiesWhilePolling(
        task_id="report",
        name="nightly-report",
        virtual_cluster_id="{cluster}",
        execution_role_arn="{role}",
        release_label="emr-6.10.0-latest",
        job_driver={{"sparkSubmitJobDriver": {{"entryPoint": "s3://bucket/job.py"}}}},
        poll_interval=1,
    )


spark_on_eks()
"""


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return state_main(argv, out=out), out.getvalue()


def test_orphaned_emr_on_eks_job_run_is_cancelled_once(
    airflow_sandbox, api_server, virtual_cluster, monkeypatch
):
    result = airflow_sandbox.run_dag(DAG.format(cluster=virtual_cluster, role=moto_server.ROLE_ARN))
    assert result.states("report") == ["failed"], result.output[-2000:]
    (job_run,) = moto_server.containers_job_runs(virtual_cluster)
    assert job_run.state in ("PENDING", "SUBMITTED", "RUNNING")  # moto leaves it running
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])

    code, text = _run(["orphans", "--dag", "spark_on_eks", "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == job_run.id and action["backend"] == "emr_containers"
    assert action["action"] == "cancelled"
    assert job_run.state == "CANCELLED"
    assert result.task_state("report", "emr_containers_job_run_id.intent")["cancelled"]["by"] == "admin"

    assert _run(["orphans", "--dag", "spark_on_eks", "--cancel"]) == (0, "No orphaned jobs.\n")


SERVERLESS = """
from datetime import timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrServerlessStartJobOperator


class DiesWhileWaiting(EmrServerlessStartJobOperator):
    def poll_until_complete(self, external_id, context):
        raise RuntimeError(f"worker lost while job run {{external_id}} was running")


@dag(schedule=None, default_args={{"retries": 0, "retry_delay": timedelta(0)}})
def spark_serverless():
    DiesWhileWaiting(
        task_id="report",
        application_id="{application}",
        execution_role_arn="{role}",
        job_driver={{"sparkSubmit": {{"entryPoint": "s3://bucket/job.py"}}}},
        waiter_delay=1,
        waiter_max_attempts=10,
    )


spark_serverless()
"""


def test_orphaned_emr_serverless_job_run_is_cancelled_once(
    airflow_sandbox, api_server, application, monkeypatch
):
    result = airflow_sandbox.run_dag(SERVERLESS.format(application=application, role=moto_server.ROLE_ARN))
    assert result.states("report") == ["failed"], result.output[-2000:]
    (job_run,) = moto_server.serverless_job_runs(application)
    moto_server.set_serverless_state(application, job_run.id, "RUNNING")  # moto finishes runs at once
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])

    code, text = _run(["orphans", "--dag", "spark_serverless", "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == job_run.id and action["backend"] == "emr_serverless"
    assert action["live_status"] == "RUNNING" and action["action"] == "cancelled"
    assert job_run.state == "CANCELLED"
    assert _run(["orphans", "--dag", "spark_serverless", "--cancel"]) == (0, "No orphaned jobs.\n")
