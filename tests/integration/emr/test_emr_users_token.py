"""Your own ``client_request_token`` under real Airflow retries (``dag.test()``, the local moto server): a
job run it starts that fails at once fails the try as with the provider, and the retry starts the next
generation with a rotated token; one job run per try, never two in one try."""

from __future__ import annotations

import uuid

import pytest

import moto_server

pytestmark = pytest.mark.airflow

DAG = '''
from datetime import timedelta

from airflow.sdk import dag, get_current_context

import moto_server as aws
from airflow_resumable.jobs.emr import EmrContainerOperator, EmrServerlessStartJobOperator


def first_try():
    return get_current_context()["ti"].try_number == 1


class Serverless(EmrServerlessStartJobOperator):
    """On try 1 the job run fails as soon as it is started (a bad entry point, say)."""

    def submit_job(self, context):
        job_id = super().submit_job(context)
        aws.set_serverless_state(self.application_id, job_id, "FAILED" if first_try() else "SUCCESS")
        return job_id


class Containers(EmrContainerOperator):
    def submit_job(self, context):
        job_id = super().submit_job(context)
        aws.set_containers_state(job_id, "FAILED" if first_try() else "COMPLETED")
        return job_id


@dag(dag_id="emr_users_token", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}})
def emr_users_token():
    Serverless(
        task_id="serverless",
        application_id="{application}",
        execution_role_arn="{role}",
        job_driver={{"sparkSubmit": {{"entryPoint": "s3://bucket/job.py"}}}},
        client_request_token="{token}",
        waiter_delay=0,
        waiter_max_attempts=3,
    )
    Containers(
        task_id="containers",
        name="nightly-report",
        virtual_cluster_id="{virtual_cluster}",
        execution_role_arn="{role}",
        release_label="emr-6.10.0-latest",
        job_driver={{"sparkSubmitJobDriver": {{"entryPoint": "s3://bucket/job.py"}}}},
        client_request_token="{token}",
        poll_interval=0,
        max_polling_attempts=3,
    )


emr_users_token()
'''


def test_a_job_run_that_fails_at_once_fails_the_try_and_the_retry_rotates_your_token(
    airflow_sandbox, application, virtual_cluster
):
    token = f"nightly-{uuid.uuid4().hex[:8]}"
    source = DAG.format(
        application=application, virtual_cluster=virtual_cluster, role=moto_server.ROLE_ARN, token=token
    )
    with moto_server.job_run_times_like_aws():
        result = airflow_sandbox.run_dag(source)

    runs = {
        "serverless": moto_server.serverless_job_runs(application),
        "containers": moto_server.containers_job_runs(virtual_cluster),
    }
    for task_id, job_runs in runs.items():
        assert result.states(task_id) == ["failed", "success"], result.output[-3000:]
        tokens = [run.client_token for run in job_runs]
        assert tokens[0] == token and len(tokens) == 2, tokens
        assert tokens[1].startswith(f"{token}-") and tokens[1].endswith("-g2")
        intent = result.task_state(task_id, f"emr_{task_id}_job_run_id.intent")
        assert intent["generation"] == 2 and intent["external_id"] == job_runs[1].id
