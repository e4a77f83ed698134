"""``state jobs --live`` and ``state orphans --cancel`` for the AWS drop-ins' EMR clusters and steps, Athena
queries and Step Functions executions, against the real REST app and the local AWS (moto's server): a DAG
run that ended while its job kept running leaves an orphan; ``--live`` shows the service's state,
``--cancel`` stops it through the provider's hook exactly once, and a second call finds nothing to do.
SageMaker, AWS Batch and ECS: test_state_orphans_aws_compute.py.

Stops are counted on the service side (moto's backend), never by patching the hooks."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aws_orphans import as_admin, cancel_once, count_calls, job_of, run

import aws_servers
import moto_server
from airflow_resumable.ops import backends_aws
from airflow_resumable.ops.tasks import with_live_status

pytestmark = pytest.mark.airflow


@pytest.fixture
def admin(api_server, monkeypatch):
    as_admin(api_server, monkeypatch)


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
    terminations = count_calls(monkeypatch, ElasticMapReduceBackend, "terminate_job_flows")

    code, text = run(["jobs", dag_id, "--live", "--format", "json"])
    assert code == 0, text
    (job,) = json.loads(text)
    assert job["key"] == "emr_job_flow_id" and job["external_id"] == cluster.id
    assert job["live_status"] == "WAITING" and job["live_active"] and job["backend"] == "emr_cluster"

    with aws_servers.emr_terminations_like_aws():
        cancel_once(dag_id, "emr_cluster", cluster.id, "WAITING")
        assert cluster.state == "TERMINATED" and terminations == [([cluster.id],)]
        intent = result.task_state("create_cluster", "emr_job_flow_id.intent")
        assert intent["cancelled"]["external_id"] == cluster.id and intent["cancelled"]["by"] == "admin"

        job = job_of(dag_id)  # asked directly: an ended cluster is not terminated again
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
    job = job_of(dag_id)
    running = dataclasses.replace(job, task=dataclasses.replace(job.task, run_state="running"))

    assert backends_aws.EmrClusterBackend().status(running) == ("WAITING", True)
    checked = with_live_status(running)
    assert checked.live_active is False
    assert checked.live_status == "WAITING (handed on: its task succeeded and its DAG run is running)"
    assert cluster.state == "WAITING"


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

    code, text = run(["orphans", "--dag", "nightly_steps", "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == stored and action["live_status"] == "RUNNING, PENDING"
    assert action["backend"] == "emr_steps" and action["action"] == "cancelled"
    assert calls == [[first.id, second.id]]
    assert (first.state, second.state) == ("CANCEL_PENDING", "CANCELLED")
    assert result.task_state("add_steps", "emr_step_ids.intent")["cancelled"]["external_id"] == stored

    # EMR interrupts the running step a while later: meanwhile it is listed, and nothing is sent again
    code, text = run(["orphans", "--dag", "nightly_steps", "--cancel", "--format", "json"])
    (action,) = json.loads(text)
    assert action["action"] == "already cancelled" and action["live_status"] == "CANCEL_PENDING, CANCELLED"
    said = backends_aws.EmrStepsBackend().cancel(job_of("nightly_steps"))
    assert said == "no step pending or running (CANCEL_PENDING, CANCELLED) at emr_steps: nothing sent"
    moto_server.set_step_state(cluster, first.id, "CANCELLED")
    assert run(["orphans", "--dag", "nightly_steps", "--cancel"]) == (0, "No orphaned jobs.\n")
    assert calls == [[first.id, second.id]]


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
        stops = count_calls(monkeypatch, AthenaBackend, "stop_query_execution")

        cancel_once("nightly_query", "athena", execution.id, "QUEUED")
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
    stops = count_calls(monkeypatch, StepFunctionBackend, "stop_execution")

    cancel_once("nightly_workflow", "step_functions", execution.execution_arn, "RUNNING")
    assert stops == [(execution.execution_arn,)] and execution.status == "ABORTED"
    intent = result.task_state("start", "step_function_execution_arn.intent")
    assert intent["cancelled"]["external_id"] == execution.execution_arn
