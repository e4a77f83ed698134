"""``state jobs --live`` and ``state orphans --cancel`` for the AWS drop-ins' jobs, against the real REST app
and the local AWS (moto's server; the local ECS): a DAG run that ended while its job (cluster, training,
Batch job...) kept running leaves an orphan; ``--live`` shows the service's state, ``--cancel`` stops it
through the provider's hook exactly once, and a second call finds nothing to do.

Stops are counted on the service side (moto's backend, the local ECS), never by patching the hooks."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest

import aws_servers
import moto_server
from airflow_resumable import ops
from airflow_resumable.ops import backends_aws
from airflow_resumable.ops.cli import main as state_main

pytestmark = pytest.mark.airflow


def _run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    return state_main(argv, out=out), out.getvalue()


@pytest.fixture
def admin(api_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])


def _count(monkeypatch: pytest.MonkeyPatch, owner: Any, method: str) -> list[tuple[Any, ...]]:
    """A live list of the calls moto's service model gets for ``method`` (what reached the service)."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(owner, method)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, counted)
    return calls


def _cancel_once(dag_id: str, backend: str, external_id: Any, live: str) -> dict[str, Any]:
    """List (dry run), cancel, cancel again: the orphan is listed with its live state, cancelled once, then
    gone from the list. Returns the cancel action."""
    code, text = _run(["orphans", "--dag", dag_id, "--format", "json"])
    assert code == 8, text  # dry run: found, nothing sent
    (found,) = json.loads(text)
    assert found["backend"] == backend and found["live_status"] == live and found["live_active"]

    code, text = _run(["orphans", "--dag", dag_id, "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == external_id and action["backend"] == backend
    assert action["action"] == "cancelled", action

    assert _run(["orphans", "--dag", dag_id, "--cancel"]) == (0, "No orphaned jobs.\n")
    return dict(action)


def _job(dag_id: str) -> Any:
    with ops.connect() as api:
        (job,) = ops.jobs(api, dag_id, live=True)
    return job


# -- EMR clusters ---------------------------------------------------------------------------------------
CLUSTER_DAG = """
from airflow.sdk import dag, task

from airflow_resumable.jobs.emr import EmrCreateJobFlowOperator


@dag(schedule=None, default_args={{"retries": 0}})
def {dag_id}():
    create = EmrCreateJobFlowOperator(
        task_id="create_cluster",
        job_flow_overrides={overrides!r},
        emr_conn_id=None,
        wait_for_completion=False,
    )

    @task
    def transform():
        raise RuntimeError("the transform failed: the task that terminates the cluster never ran")

    create >> transform()


{dag_id}()
"""


def test_a_cluster_left_up_by_a_failed_run_is_terminated_once(airflow_sandbox, aws, admin, monkeypatch):
    from moto.emr.models import ElasticMapReduceBackend

    name = f"nightly-{uuid.uuid4().hex[:8]}"
    dag_id = "nightly_cluster"
    overrides = aws_servers.cluster_job_flow_overrides(name)
    result = airflow_sandbox.run_dag(CLUSTER_DAG.format(dag_id=dag_id, overrides=overrides))
    assert result.states("create_cluster") == ["success"] and result.states("transform") == ["failed"]
    (cluster,) = aws_servers.clusters_named(name)
    assert cluster.state == "WAITING"  # idle, and paid for by the hour
    terminations = _count(monkeypatch, ElasticMapReduceBackend, "terminate_job_flows")

    code, text = _run(["jobs", dag_id, "--live", "--format", "json"])
    assert code == 0, text
    (job,) = json.loads(text)
    assert job["key"] == "emr_job_flow_id" and job["external_id"] == cluster.id
    assert job["live_status"] == "WAITING" and job["live_active"] and job["backend"] == "emr_cluster"

    with aws_servers.emr_terminations_like_aws():
        _cancel_once(dag_id, "emr_cluster", cluster.id, "WAITING")
        assert cluster.state == "TERMINATED" and terminations == [([cluster.id],)]
        intent = result.task_state("create_cluster", "emr_job_flow_id.intent")
        assert intent["cancelled"]["external_id"] == cluster.id and intent["cancelled"]["by"] == "admin"

        job = _job(dag_id)  # asked directly: an ended cluster is not terminated again
        assert job.recorded_state == "cancelled" and job.live_status == "TERMINATED"
        said = backends_aws.EmrClusterBackend().cancel(job)
        assert said == "already TERMINATED at emr_cluster: nothing sent"
        assert len(terminations) == 1


def test_a_cluster_a_running_dag_run_still_uses_is_not_an_orphan(airflow_sandbox, aws, admin):
    """A create task that succeeded hands its cluster to the tasks after it: while its DAG run runs, the
    cluster is reported ``handed on`` and not active, so ``orphans`` never terminates it under them."""
    import dataclasses

    name = f"shared-{uuid.uuid4().hex[:8]}"
    dag_id = "shared_cluster"
    overrides = aws_servers.cluster_job_flow_overrides(name)
    airflow_sandbox.run_dag(CLUSTER_DAG.format(dag_id=dag_id, overrides=overrides))
    (cluster,) = aws_servers.clusters_named(name)
    job = _job(dag_id)
    running = dataclasses.replace(job, task=dataclasses.replace(job.task, run_state="running"))

    status, active = backends_aws.EmrClusterBackend().status(running)
    assert not active
    assert status == "WAITING (handed on: its task succeeded and its DAG run is running)"
    assert cluster.state == "WAITING"


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
    import aws_sagemaker_front as front

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

    import aws_sagemaker_front as front

    result, name = _sagemaker_job(airflow_sandbox, "Processing", "nightly_processing")
    stops = _count(monkeypatch, SageMakerModelBackend, "stop_processing_job")

    _cancel_once("nightly_processing", "sagemaker_processing", name, "InProgress")
    assert stops == [(name,)] and front.status("Processing", name) == "Stopped"
    intent = result.task_state("fit", "sagemaker_processing_job_name.intent")
    assert intent["cancelled"]["external_id"] == name

    said = backends_aws.SageMakerProcessingBackend().cancel(_job("nightly_processing"))
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
    import aws_sagemaker_front as front

    stops = _stop_training_like_aws(monkeypatch)
    result, name = _sagemaker_job(airflow_sandbox, "Training", "nightly_training")

    code, text = _run(["jobs", "nightly_training", "--live", "--format", "json"])
    (job,) = json.loads(text)
    assert job["live_status"] == "InProgress" and job["backend"] == "sagemaker_training"

    code, text = _run(["orphans", "--dag", "nightly_training", "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == name and action["action"] == "cancelled"
    assert stops == [name] and front.status("Training", name) == "Stopping"
    intent = result.task_state("fit", "sagemaker_training_job_name.intent")
    assert intent["cancelled"]["external_id"] == name and intent["cancelled"]["by"] == "admin"

    code, text = _run(["orphans", "--dag", "nightly_training", "--cancel", "--format", "json"])
    (action,) = json.loads(text)
    assert code == 0 and action["action"] == "already cancelled" and action["live_status"] == "Stopping"
    said = backends_aws.SageMakerTrainingBackend().cancel(_job("nightly_training"))
    assert said == "already Stopping (being stopped) at sagemaker_training: nothing sent"

    front.set_status("Training", name, "Stopped")  # SageMaker is done stopping it
    assert _run(["orphans", "--dag", "nightly_training", "--cancel"]) == (0, "No orphaned jobs.\n")
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
    terminations = _count(monkeypatch, BatchBackend, "terminate_job")

    with batch.batch_like_aws():
        _cancel_once("nightly_batch", "batch", job.job_id, "RUNNING")
    assert [args[0] for args in terminations] == [job.job_id]
    assert job.status == "FAILED" and "orphaned" in job.job_stopped_reason
    assert result.task_state("load", "batch_job_id.intent")["cancelled"]["external_id"] == job.job_id


def test_a_job_that_ends_before_its_cancel_is_left_alone(airflow_sandbox, aws, admin, monkeypatch):
    """Listed running, ended by the time the cancel is sent: nothing is sent and nothing recorded (a later
    try of the task takes the finished job as it is), and the command says so."""
    from moto.batch.models import BatchBackend

    import aws_batch_servers as batch

    result, job = _batch_job(airflow_sandbox, "ends_meanwhile")
    terminations = _count(monkeypatch, BatchBackend, "terminate_job")
    status = backends_aws.BatchBackend.status

    def listed_then_it_succeeds(self: Any, record: Any) -> tuple[str, bool]:
        answer = status(self, record)
        batch.set_job_state(job.job_id, "SUCCEEDED")  # AWS Batch finished it meanwhile
        return answer

    monkeypatch.setattr(backends_aws.BatchBackend, "status", listed_then_it_succeeds)
    code, text = _run(["orphans", "--dag", "ends_meanwhile", "--cancel", "--format", "json"])

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

        _cancel_once("nightly_ecs", "ecs", task.arn, "RUNNING")
        (stop,) = ecs.calls("StopTask")
        assert stop["cluster"] == "jobs" and stop["task"] == task.arn and "orphaned" in stop["reason"]
        assert result.task_state("export", "ecs_task_arn.intent")["cancelled"]["external_id"] == task.arn

        said = backends_aws.EcsBackend(conn_id="ecs_orphans").cancel(_job("nightly_ecs"))
        assert said == "already STOPPED at ecs: nothing sent" and len(ecs.calls("StopTask")) == 1


# -- Athena, Step Functions ------------------------------------------------------------------------------
ATHENA_DAG = """
from airflow.sdk import dag

from airflow_resumable.jobs.athena import AthenaOperator


@dag(schedule=None, default_args={{"retries": 0}})
def nightly_query():
    AthenaOperator(
        task_id="aggregate",
        query={query!r},
        database="sales",
        output_location="s3://results/",
        sleep_time=1,
        max_polling_attempts=2,
    )


nightly_query()
"""


def test_an_orphaned_athena_query_is_stopped_once(airflow_sandbox, aws, admin, monkeypatch):
    """The task gives up polling (``max_polling_attempts``) while the query stays queued."""
    from moto.athena.models import AthenaBackend

    query = f"SELECT 'nightly-{uuid.uuid4().hex[:8]}'"
    with aws_servers.athena_like_aws(), aws_servers.athena_queries_run_for(polls=10_000):
        result = airflow_sandbox.run_dag(ATHENA_DAG.format(query=query))
        assert result.states("aggregate") == ["failed"], result.output[-2000:]
        (execution,) = aws_servers.athena_executions(query)
        stops = _count(monkeypatch, AthenaBackend, "stop_query_execution")

        _cancel_once("nightly_query", "athena", execution.id, "QUEUED")
        assert stops == [(execution.id,)] and execution.status == "CANCELLED"
    intent = result.task_state("aggregate", "athena_query_execution_id.intent")
    assert intent["cancelled"]["external_id"] == execution.id


STEP_FUNCTION_DAG = """
from airflow.sdk import dag

from airflow_resumable.jobs.step_function import StepFunctionStartExecutionOperator


@dag(schedule=None, default_args={{"retries": 0}})
def nightly_workflow():
    StepFunctionStartExecutionOperator(
        task_id="start", state_machine_arn={machine!r}, state_machine_input={{"day": "2026-12-05"}}
    )


nightly_workflow()
"""


def test_an_orphaned_step_functions_execution_is_stopped_once(airflow_sandbox, aws, admin, monkeypatch):
    from moto.stepfunctions.models import StepFunctionBackend

    machine = aws_servers.create_state_machine()
    result = airflow_sandbox.run_dag(STEP_FUNCTION_DAG.format(machine=machine))
    assert result.states("start") == ["success"], result.output[-2000:]
    (execution,) = aws_servers.executions(machine)  # moto: RUNNING until moved
    stops = _count(monkeypatch, StepFunctionBackend, "stop_execution")

    _cancel_once("nightly_workflow", "step_functions", execution.execution_arn, "RUNNING")
    assert stops == [(execution.execution_arn,)] and execution.status == "ABORTED"
    intent = result.task_state("start", "step_function_execution_arn.intent")
    assert intent["cancelled"]["external_id"] == execution.execution_arn


# -- EMR steps -------------------------------------------------------------------------------------------
STEPS_DAG = """
from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrAddStepsOperator


@dag(schedule=None, default_args={{"retries": 0}})
def nightly_steps():
    EmrAddStepsOperator(
        task_id="add_steps", job_flow_id={cluster!r}, steps={steps!r}, wait_for_completion=False
    )


nightly_steps()
"""

STEPS = [
    {
        "Name": f"step-{i}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", f"s3://bucket/step{i}.py"]},
    }
    for i in range(2)
]


def _cancel_steps_like_aws(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """``CancelSteps`` on moto's server (moto 5.2.5 has none), as EMR answers it: a pending step is
    cancelled, a running one goes ``CANCEL_PENDING`` (EMR interrupts it a while later), any other is
    refused in the answer. Service side; returns the step ids of every call."""
    from moto.core.responses import ActionResult
    from moto.emr.responses import ElasticMapReduceResponse

    calls: list[list[str]] = []

    def cancel_steps(self: Any) -> Any:
        step_ids = list(self._get_param("StepIds", []))
        calls.append(step_ids)
        steps = {s.id: s for s in moto_server.cluster_steps(self._get_param("ClusterId"))}
        answers = []
        for step_id in step_ids:
            step = steps[step_id]
            if step.state in ("PENDING", "RUNNING"):
                step.state = "CANCELLED" if step.state == "PENDING" else "CANCEL_PENDING"
                answers.append({"StepId": step_id, "Status": "SUBMITTED", "Reason": ""})
            else:
                answers.append({"StepId": step_id, "Status": "FAILED", "Reason": f"Step is {step.state}"})
        return ActionResult({"CancelStepsInfoList": answers})

    monkeypatch.setattr(ElasticMapReduceResponse, "cancel_steps", cancel_steps, raising=False)
    return calls


def test_orphaned_emr_steps_are_cancelled_once(airflow_sandbox, cluster, admin, monkeypatch):
    calls = _cancel_steps_like_aws(monkeypatch)
    result = airflow_sandbox.run_dag(STEPS_DAG.format(cluster=cluster, steps=STEPS))
    assert result.states("add_steps") == ["success"], result.output[-2000:]
    first, second = moto_server.cluster_steps(cluster)
    moto_server.set_step_state(cluster, first.id, "RUNNING")
    moto_server.set_step_state(cluster, second.id, "PENDING")
    stored = {"job_flow_id": cluster, "step_ids": [first.id, second.id]}

    code, text = _run(["orphans", "--dag", "nightly_steps", "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == stored and action["live_status"] == "RUNNING, PENDING"
    assert action["backend"] == "emr_steps" and action["action"] == "cancelled"
    assert calls == [[first.id, second.id]]
    assert (first.state, second.state) == ("CANCEL_PENDING", "CANCELLED")
    assert result.task_state("add_steps", "emr_step_ids.intent")["cancelled"]["external_id"] == stored

    # EMR interrupts the running step a while later: meanwhile it is listed, and nothing is sent again
    code, text = _run(["orphans", "--dag", "nightly_steps", "--cancel", "--format", "json"])
    (action,) = json.loads(text)
    assert action["action"] == "already cancelled" and action["live_status"] == "CANCEL_PENDING, CANCELLED"
    said = backends_aws.EmrStepsBackend().cancel(_job("nightly_steps"))
    assert said == "no step pending or running (CANCEL_PENDING, CANCELLED) at emr_steps: nothing sent"
    moto_server.set_step_state(cluster, first.id, "CANCELLED")
    assert _run(["orphans", "--dag", "nightly_steps", "--cancel"]) == (0, "No orphaned jobs.\n")
    assert calls == [[first.id, second.id]]
