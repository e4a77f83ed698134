"""``state jobs --live`` and ``state orphans --cancel`` for the AWS drop-ins' SageMaker training and
processing jobs, AWS Batch jobs and ECS tasks, against the real REST app and the local AWS (moto's server,
the local ECS): a DAG run that ended while its job kept running leaves an orphan; ``--live`` shows the
service's state, ``--cancel`` stops it through the provider's hook exactly once, and a second call finds
nothing to do.

Stops are counted on the service side (moto's backend, the local ECS), never by patching the hooks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aws_orphans import as_admin, cancel_once, count_calls, job_of, run

import aws_sagemaker_front as front
import aws_servers
from airflow_resumable.ops import backends_aws

pytestmark = pytest.mark.airflow


@pytest.fixture
def admin(api_server, monkeypatch):
    as_admin(api_server, monkeypatch)


# -- SageMaker -------------------------------------------------------------------------------------------
SAGEMAKER_DAG = """
from airflow.sdk import dag

from airflow_resumable.jobs.sagemaker import {operator}


@dag(schedule=None, default_args={{"retries": 0}})
def {dag_id}():
    {operator}(task_id="fit", config={config!r}, wait_for_completion=False, check_interval=0)


{dag_id}()
"""


def _sagemaker_job(airflow_sandbox: Any, kind: str, dag_id: str) -> tuple[Any, str]:
    """A run whose SageMaker job of ``kind`` is still in progress once the run is over (moto completes jobs
    at once: it is moved back, standing in for a job that takes hours)."""

    name = f"{kind.lower()}-{uuid.uuid4().hex[:8]}"
    config = front.training_config(name) if kind == "Training" else front.processing_config(name)
    with front.sagemaker_like_aws():
        front.input_data()
        source = SAGEMAKER_DAG.format(operator=f"SageMaker{kind}Operator", dag_id=dag_id, config=config)
        result = airflow_sandbox.run_dag(source)
    assert result.states("fit") == ["success"], result.output[-2000:]
    front.set_status(kind, name, "InProgress")
    return result, name


def test_an_orphaned_processing_job_is_stopped_once(airflow_sandbox, aws, admin, monkeypatch):
    from moto.sagemaker.models import SageMakerModelBackend

    result, name = _sagemaker_job(airflow_sandbox, "Processing", "nightly_processing")
    stops = count_calls(monkeypatch, SageMakerModelBackend, "stop_processing_job")

    cancel_once("nightly_processing", "sagemaker_processing", name, "InProgress")
    assert stops == [(name,)] and front.status("Processing", name) == "Stopped"
    intent = result.task_state("fit", "sagemaker_processing_job_name.intent")
    assert intent["cancelled"]["external_id"] == name

    said = backends_aws.SageMakerProcessingBackend().cancel(job_of("nightly_processing"))
    assert said == "already Stopped at sagemaker_processing: nothing sent" and len(stops) == 1


def _stop_training_like_aws(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``StopTrainingJob`` on moto's server (moto 5.2.5 has none), as SageMaker answers it: an in-progress
    job goes ``Stopping`` (SageMaker stops it a while later), anything else is refused. Service side."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemaker.responses import SageMakerResponse

    calls: list[str] = []

    def stop_training_job(self: Any) -> str:
        name = self._get_param("TrainingJobName")
        calls.append(name)
        job = sagemaker_backends[aws_servers.ACCOUNT_ID][aws_servers.REGION].training_jobs.get(name)
        if job is None:
            raise ValidationError("Requested resource not found.")
        if job.training_job_status != "InProgress":
            raise ValidationError(
                f"The request was rejected because the training job is in status {job.training_job_status}."
            )
        job.training_job_status = job.secondary_status = "Stopping"
        return "{}"

    monkeypatch.setattr(SageMakerResponse, "stop_training_job", stop_training_job, raising=False)
    return calls


def test_an_orphaned_training_job_is_stopped_once(airflow_sandbox, aws, admin, monkeypatch):
    """SageMaker takes a while to stop a training job: while it is ``Stopping`` the job is still listed,
    its intent already records the cancellation, and nothing is sent again."""

    stops = _stop_training_like_aws(monkeypatch)
    result, name = _sagemaker_job(airflow_sandbox, "Training", "nightly_training")

    code, text = run(["jobs", "nightly_training", "--live", "--format", "json"])
    (job,) = json.loads(text)
    assert job["live_status"] == "InProgress" and job["backend"] == "sagemaker_training"

    code, text = run(["orphans", "--dag", "nightly_training", "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == name and action["action"] == "cancelled"
    assert stops == [name] and front.status("Training", name) == "Stopping"
    intent = result.task_state("fit", "sagemaker_training_job_name.intent")
    assert intent["cancelled"]["external_id"] == name and intent["cancelled"]["by"] == "admin"

    code, text = run(["orphans", "--dag", "nightly_training", "--cancel", "--format", "json"])
    (action,) = json.loads(text)
    assert code == 0 and action["action"] == "already cancelled" and action["live_status"] == "Stopping"
    said = backends_aws.SageMakerTrainingBackend().cancel(job_of("nightly_training"))
    assert said == "already Stopping (being stopped) at sagemaker_training: nothing sent"

    front.set_status("Training", name, "Stopped")  # SageMaker is done stopping it
    assert run(["orphans", "--dag", "nightly_training", "--cancel"]) == (0, "No orphaned jobs.\n")
    assert stops == [name]


# -- AWS Batch -------------------------------------------------------------------------------------------
BATCH_DAG = """
from airflow.sdk import dag

from airflow_resumable.jobs.batch import BatchOperator


@dag(schedule=None, default_args={{"retries": 0}})
def {dag_id}():
    BatchOperator(
        task_id="load",
        job_name={name!r},
        job_queue={queue!r},
        job_definition={definition!r},
        wait_for_completion=False,
    )


{dag_id}()
"""


def _batch_job(airflow_sandbox: Any, dag_id: str) -> tuple[Any, Any]:
    """A run whose Batch job is still running once the run is over (moto's Docker-free Batch finishes jobs
    at once: it is moved back, standing in for a long job)."""
    import aws_batch_servers as batch

    queue, definition = batch.batch_queue()
    name = batch.unique_name("load")
    source = BATCH_DAG.format(dag_id=dag_id, name=name, queue=queue, definition=definition)
    result = airflow_sandbox.run_dag(source)
    assert result.states("load") == ["success"], result.output[-2000:]
    (job,) = batch.jobs_named(name)
    batch.set_job_state(job.job_id, "RUNNING")
    return result, job


def test_an_orphaned_batch_job_is_terminated_once(airflow_sandbox, aws, admin, monkeypatch):
    from moto.batch.models import BatchBackend

    import aws_batch_servers as batch

    result, job = _batch_job(airflow_sandbox, "nightly_batch")
    terminations = count_calls(monkeypatch, BatchBackend, "terminate_job")

    with batch.batch_like_aws():
        cancel_once("nightly_batch", "batch", job.job_id, "RUNNING")
    assert [args[0] for args in terminations] == [job.job_id]
    assert job.status == "FAILED" and "orphaned" in job.job_stopped_reason
    assert result.task_state("load", "batch_job_id.intent")["cancelled"]["external_id"] == job.job_id


def test_a_job_that_ends_before_its_cancel_is_left_alone(airflow_sandbox, aws, admin, monkeypatch):
    """Listed running, ended by the time the cancel is sent: nothing is sent and nothing recorded (a later
    try of the task takes the finished job as it is), and the command says so."""
    from moto.batch.models import BatchBackend

    import aws_batch_servers as batch

    result, job = _batch_job(airflow_sandbox, "ends_meanwhile")
    terminations = count_calls(monkeypatch, BatchBackend, "terminate_job")
    status = backends_aws.BatchBackend.status

    def listed_then_it_succeeds(self: Any, record: Any) -> tuple[str, bool]:
        answer = status(self, record)
        batch.set_job_state(job.job_id, "SUCCEEDED")  # AWS Batch finished it meanwhile
        return answer

    monkeypatch.setattr(backends_aws.BatchBackend, "status", listed_then_it_succeeds)
    code, text = run(["orphans", "--dag", "ends_meanwhile", "--cancel", "--format", "json"])

    assert code == 0, text
    (action,) = json.loads(text)
    assert action["action"] == "already ended" and action["live_status"] == "RUNNING"
    assert action["detail"] == "already SUCCEEDED at batch: nothing sent"
    assert terminations == [] and job.status == "SUCCEEDED"
    assert "cancelled" not in result.task_state("load", "batch_job_id.intent")


# -- ECS -------------------------------------------------------------------------------------------------
ECS_DAG = """
from airflow.sdk import dag

from airflow_resumable.jobs.ecs import EcsRunTaskOperator


@dag(schedule=None, default_args={{"retries": 0}})
def nightly_ecs():
    EcsRunTaskOperator(
        task_id="export",
        aws_conn_id="ecs_orphans",
        cluster="jobs",
        task_definition={family!r},
        overrides={{}},
        wait_for_completion=False,
    )


nightly_ecs()
"""


def test_an_orphaned_ecs_task_is_stopped_once(airflow_sandbox, admin, monkeypatch):
    """The provider's ECS operator does not template ``aws_conn_id``: a backend registered for the
    connection the DAG uses reaches the task; the cluster and region come from the task's ARN."""
    from airflow_resumable.ops import backends
    from airflow_resumable.testing.ecs_server import FakeEcs

    monkeypatch.setattr(backends, "_BACKENDS", list(backends._BACKENDS))
    backends.register(backends_aws.EcsBackend(conn_id="ecs_orphans"))
    with FakeEcs() as ecs:
        for name, value in ecs.environ("ecs_orphans").items():
            monkeypatch.setenv(name, value)
        ecs.add_cluster("jobs")
        family = ecs.add_task_definition("export", ["app"]).split(":")[0]
        ecs.scripts.append(["RUNNING"])  # runs on after the run is over
        result = airflow_sandbox.run_dag(ECS_DAG.format(family=family))
        assert result.states("export") == ["success"], result.output[-2000:]
        (task,) = ecs.tasks

        cancel_once("nightly_ecs", "ecs", task.arn, "RUNNING")
        (stop,) = ecs.calls("StopTask")
        assert stop["cluster"] == "jobs" and stop["task"] == task.arn and "orphaned" in stop["reason"]
        assert result.task_state("export", "ecs_task_arn.intent")["cancelled"]["external_id"] == task.arn

        said = backends_aws.EcsBackend(conn_id="ecs_orphans").cancel(job_of("nightly_ecs"))
        assert said == "already STOPPED at ecs: nothing sent" and len(ecs.calls("StopTask")) == 1
