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
