"""``state checkpoints`` against a real deployment (PostgreSQL, scheduler, LocalExecutor, api-server): the
progress of a task while it runs, and after its process was SIGKILLed.

The deployment is this module's own and stops after its test, so the rest of the suite does not share the
machine with a scheduler (the chaos package's deployment is scoped to that package).
"""

from __future__ import annotations

import io
import json
import signal
import time
from typing import TYPE_CHECKING

import pytest

from airflow_resumable import ops
from airflow_resumable.ops.cli import main as state_main
from airflow_resumable.testing.databricks_server import FakeDatabricks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.testing import AirflowDeployment

pytestmark = pytest.mark.chaos


CONN_ID = "databricks_ops"


@pytest.fixture(scope="module")
def workspace() -> Iterator[FakeDatabricks]:
    """The local Databricks stand-in, reached by the deployment's workers and by this process."""
    with FakeDatabricks(default_script=["PENDING", "RUNNING"]) as server:  # runs never finish
        yield server


@pytest.fixture(scope="module")
def airflow_deployment(
    tmp_path_factory: pytest.TempPathFactory, workspace: FakeDatabricks
) -> Iterator[AirflowDeployment]:
    from airflow_resumable.testing import AirflowDeployment

    env = workspace.environ(CONN_ID)
    deployment = AirflowDeployment(tmp_path_factory.mktemp("ops-deployment"), env=env)
    try:
        yield deployment.start()
    finally:
        deployment.stop()


DAG_ID = "ops_export_killed"
SOURCE = f'''
import time
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every


@dag(dag_id="{DAG_ID}", schedule=None, default_args={{"retries": 0}})
def export():
    @task
    def export_rows():
        with Checkpointer("rows", initial=0, commit=every(20)) as ckpt:
            for row in ckpt.iterate(range(1, 100_001)):
                time.sleep(0.01)
                if row % 100 == 0:
                    print(f"exported row {{row}}", flush=True)

    export_rows()


export()
'''


def test_checkpoints_of_a_running_then_killed_task(airflow_deployment, monkeypatch) -> None:
    airflow = airflow_deployment
    airflow.add_dag(SOURCE, DAG_ID)
    run_id = airflow.trigger(DAG_ID)
    airflow.wait_for_log(DAG_ID, run_id, "export_rows", "exported row 300", timeout=180)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", airflow.url)  # all admins: a token without credentials

    with ops.connect() as api:
        (running,) = ops.checkpoints(api, DAG_ID, run_id)
    assert running.task.running and running.task.state == "running"
    assert running.position >= 280 and running.items_done == running.position

    airflow.kill(airflow.task_processes(DAG_ID, run_id, "export_rows").task, signal.SIGKILL)
    airflow.wait_for_task(DAG_ID, run_id, "export_rows", "failed", timeout=120)

    out = io.StringIO()
    assert state_main(["checkpoints", DAG_ID, "--format", "json"], out=out) == 0
    (killed,) = json.loads(out.getvalue())
    assert killed["state"] == "failed" and killed["running"] is False
    assert killed["position"] >= running.position and killed["position_type"] == "int"
    assert killed["items_done"] == killed["position"]


SPARK_ID = "ops_spark_killed"
SPARK = f'''
from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator


@dag(dag_id="{SPARK_ID}", schedule=None, default_args={{"retries": 0}})
def spark():
    DatabricksSubmitRunOperator(
        task_id="transform",
        databricks_conn_id="{CONN_ID}",
        notebook_task={{"notebook_path": "/Shared/etl"}},
        existing_cluster_id="cluster-1",
        run_name="{SPARK_ID}",
        polling_period_seconds=1,
    )


spark()
'''


def test_run_of_a_killed_task_is_an_orphan_cancelled_exactly_once(
    airflow_deployment, workspace, monkeypatch
) -> None:
    airflow = airflow_deployment
    airflow.add_dag(SPARK, SPARK_ID)
    run_id = airflow.trigger(SPARK_ID)
    airflow.wait_for_task(SPARK_ID, run_id, "transform", "running", timeout=180)
    deadline = time.monotonic() + 120
    while "databricks_run_id" not in airflow.task_state(SPARK_ID, run_id, "transform"):  # id stored
        assert time.monotonic() < deadline, "the task never stored its run id"
        time.sleep(0.5)
    # The worker is OOM-killed and the task has no retries left: Airflow marks it failed, the run goes on.
    airflow.kill(airflow.task_processes(SPARK_ID, run_id, "transform").task, signal.SIGKILL)
    airflow.wait_for_task(SPARK_ID, run_id, "transform", "failed", timeout=120)
    (run,) = [r for r in workspace.created if r.payload.get("run_name") == SPARK_ID]
    assert not run.cancelled
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", airflow.url)
    for name, value in workspace.environ(CONN_ID).items():  # this process reaches Databricks too
        monkeypatch.setenv(name, value)

    out = io.StringIO()
    assert state_main(["orphans", "--dag", SPARK_ID, "--format", "json"], out=out) == 8
    (orphan,) = json.loads(out.getvalue())
    assert orphan["external_id"] == run.run_id and orphan["live_status"] == "RUNNING"

    out = io.StringIO()
    assert state_main(["orphans", "--dag", SPARK_ID, "--cancel"], out=out) == 0
    assert "cancelled" in out.getvalue() and run.cancelled
    out = io.StringIO()
    assert state_main(["orphans", "--dag", SPARK_ID, "--cancel"], out=out) == 0
    assert out.getvalue() == "No orphaned jobs.\n"
    cancels = [r for r in workspace.requests_to("jobs/runs/cancel") if r.body.get("run_id") == run.run_id]
    assert len(cancels) == 1
    intent = airflow.task_state(SPARK_ID, run_id, "transform")["databricks_run_id.intent"]
    assert intent["cancelled"]["external_id"] == run.run_id

    # Cleared afterwards, the task starts a new run (generation 2) instead of reconnecting to the cancelled.
    airflow.clear(SPARK_ID, run_id, "transform")
    deadline = time.monotonic() + 180
    while len([r for r in workspace.created if r.payload.get("run_name") == SPARK_ID]) < 2:
        assert time.monotonic() < deadline, "the cleared task did not submit a new run"
        time.sleep(0.5)
    new_run = [r for r in workspace.created if r.payload.get("run_name") == SPARK_ID][1]
    assert new_run.token is not None and new_run.token.endswith("-g2") and run.cancelled
