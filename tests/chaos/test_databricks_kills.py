"""Durable Databricks runs when the worker is killed for real, side by side with the provider's operator.

One DAG runs our ``DatabricksSubmitRunOperator`` (task ``ours``) and the provider's (task ``provider``)
against the Jobs API stand-in in this process. Each test kills both tasks' processes at the same point and
counts the runs Databricks created for each: a duplicate run is a second cluster bill and a second write.
"""

from __future__ import annotations

import signal
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

from conftest import CONN_ID

if TYPE_CHECKING:
    from airflow_resumable.testing import AirflowDeployment
    from conftest import HeldDatabricks

pytestmark = pytest.mark.chaos

DAG = """
from datetime import timedelta

from airflow.sdk import dag
from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator as Provider

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator as Ours

COMMON = dict(
    notebook_task={{"notebook_path": "/Shared/etl"}},
    existing_cluster_id="cluster-1",
    databricks_conn_id={conn!r},
    polling_period_seconds=1,
    databricks_retry_limit=1,
    deferrable={deferrable},
    retries=1,
    retry_delay=timedelta(seconds=0),
)


@dag(dag_id={dag_id!r}, schedule=None, catchup=False)
def chaos():
    Ours(task_id="ours", run_name={dag_id!r} + "-ours", **COMMON)
    Provider(task_id="provider", run_name={dag_id!r} + "-provider", **COMMON)


chaos()
"""
TASKS = ("ours", "provider")


def start(deployment: AirflowDeployment, dag_id: str, *, deferrable: bool) -> str:
    source = DAG.format(dag_id=dag_id, conn=CONN_ID, deferrable=deferrable)
    deployment.add_dag(textwrap.dedent(source), dag_id)
    return deployment.trigger(dag_id)


def kill_both(deployment: AirflowDeployment, dag_id: str, run_id: str) -> float:
    procs = [deployment.task_processes(dag_id, run_id, task) for task in TASKS]
    killed_at = time.time()
    for proc in procs:
        deployment.kill(proc.task, signal.SIGKILL)
    return killed_at


def finish(deployment: AirflowDeployment, dag_id: str, run_id: str, killed_at: float) -> dict[str, float]:
    took = {}
    for task in TASKS:
        ti = deployment.wait_for_task(dag_id, run_id, task, "success", timeout=180)
        assert ti["try_number"] == 2, f"{task} was not retried"
        took[task] = round(time.time() - killed_at, 1)
    return took


def runs(server: HeldDatabricks, dag_id: str) -> dict[str, int]:
    return {task: len(server.runs_named(f"{dag_id}-{task}")) for task in TASKS}


def test_kill_during_submit_makes_one_run_ours_and_two_the_providers(
    deployment: AirflowDeployment, chaos_databricks: HeldDatabricks, dag_id: str
) -> None:
    created = [chaos_databricks.hold(f"{dag_id}-{task}") for task in TASKS]
    run_id = start(deployment, dag_id, deferrable=False)
    try:
        for event in created:
            assert event.wait(120), "no submit reached the Jobs API"
        killed_at = kill_both(deployment, dag_id, run_id)
    finally:
        chaos_databricks.release()
    took = finish(deployment, dag_id, run_id, killed_at)
    print(f"\nkill during submit (polling): runs {runs(chaos_databricks, dag_id)}, success after {took} s")
    assert runs(chaos_databricks, dag_id) == {"ours": 1, "provider": 2}
    ours = chaos_databricks.runs_named(f"{dag_id}-ours")[0]
    assert deployment.task_state(dag_id, run_id, "ours")["databricks_run_id"] == ours.run_id


def test_kill_during_polling_reconnects_to_the_run(
    deployment: AirflowDeployment, chaos_databricks: HeldDatabricks, dag_id: str
) -> None:
    names = [f"{dag_id}-{task}" for task in TASKS]
    chaos_databricks.stalled.update(names)
    try:
        run_id = start(deployment, dag_id, deferrable=False)
        deadline = time.monotonic() + 120
        while not all(
            chaos_databricks.runs_named(n) and chaos_databricks.runs_named(n)[0].gets >= 2 for n in names
        ):
            assert time.monotonic() < deadline, "the tasks never polled their runs"
            time.sleep(0.2)
        killed_at = kill_both(deployment, dag_id, run_id)
    finally:
        chaos_databricks.stalled.difference_update(names)
    took = finish(deployment, dag_id, run_id, killed_at)
    print(f"\nkill during polling: runs {runs(chaos_databricks, dag_id)}, success after {took} s")
    assert runs(chaos_databricks, dag_id) == {"ours": 1, "provider": 1}


def test_deferrable_kill_during_submit_then_triggerer_killed_and_restarted(
    deployment: AirflowDeployment, chaos_databricks: HeldDatabricks, dag_id: str
) -> None:
    names = [f"{dag_id}-{task}" for task in TASKS]
    created = [chaos_databricks.hold(name) for name in names]
    chaos_databricks.stalled.update(names)
    try:
        run_id = start(deployment, dag_id, deferrable=True)
        try:
            for event in created:
                assert event.wait(120), "no submit reached the Jobs API"
            killed_at = kill_both(deployment, dag_id, run_id)
        finally:
            chaos_databricks.release()
        for task in TASKS:
            deployment.wait_for_task(dag_id, run_id, task, "deferred", try_number=2, timeout=120)
        deployment.kill_component("triggerer", signal.SIGKILL)
        triggerer_killed_at = time.time()
        deployment.start_component("triggerer")
    finally:
        chaos_databricks.stalled.difference_update(names)
    took = finish(deployment, dag_id, run_id, killed_at)
    after_triggerer = round(time.time() - triggerer_killed_at, 1)
    print(
        f"\nkill during submit (deferrable) + triggerer SIGKILL/restart: "
        f"runs {runs(chaos_databricks, dag_id)}, "
        f"success {took} s after the task kill, {after_triggerer} s after the triggerer kill"
    )
    assert runs(chaos_databricks, dag_id) == {"ours": 1, "provider": 2}
