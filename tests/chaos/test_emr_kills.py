"""Durable EMR steps when the worker is killed while it waits for them, side by side with the provider's
``EmrAddStepsOperator``, against moto's server (in this process; steps stay PENDING until the test
completes them).

AddJobFlowSteps takes no idempotency token: a retry that does not know its steps adds them again. Ours
finds them (stored ids, or the marker in the step names); the provider's adds a second set.
"""

from __future__ import annotations

import signal
import textwrap
import threading
import time
from typing import TYPE_CHECKING

import pytest

import moto_server

if TYPE_CHECKING:
    from airflow_resumable.testing import AirflowDeployment

pytestmark = pytest.mark.chaos

DAG = """
from datetime import timedelta

from airflow.sdk import dag
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator as Provider

from airflow_resumable.jobs.emr import EmrAddStepsOperator as Ours

STEPS = [
    {{
        "Name": f"nightly-{{i}}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {{"Jar": "command-runner.jar", "Args": ["spark-submit", f"s3://bucket/{{i}}.py"]}},
    }}
    for i in range(3)
]
COMMON = dict(
    steps=STEPS,
    wait_for_completion=True,
    waiter_delay=1,
    waiter_max_attempts=300,
    retries=1,
    retry_delay=timedelta(seconds=0),
)


@dag(dag_id={dag_id!r}, schedule=None, catchup=False)
def chaos():
    Ours(task_id="ours", job_flow_id={ours!r}, **COMMON)
    Provider(task_id="provider", job_flow_id={provider!r}, **COMMON)


chaos()
"""


def complete_steps_until(stop: threading.Event, clusters: list[str]) -> None:
    """The "AWS side" after the kill: every step completes a moment after it was added."""
    while not stop.wait(0.5):
        for cluster in clusters:
            for step in moto_server.cluster_steps(cluster):
                if step.state in ("PENDING", "RUNNING"):
                    moto_server.set_step_state(cluster, step.id, "COMPLETED")


def test_kill_while_waiting_for_steps_adds_them_once_ours_and_twice_the_providers(
    deployment: AirflowDeployment, dag_id: str
) -> None:
    clusters = {"ours": moto_server.create_cluster(), "provider": moto_server.create_cluster()}
    source = DAG.format(dag_id=dag_id, ours=clusters["ours"], provider=clusters["provider"])
    deployment.add_dag(textwrap.dedent(source), dag_id)
    run_id = deployment.trigger(dag_id)
    deadline = time.monotonic() + 120
    while not all(len(moto_server.cluster_steps(c)) >= 3 for c in clusters.values()):
        assert time.monotonic() < deadline, "the tasks never added their steps"
        time.sleep(0.2)
    procs = [deployment.task_processes(dag_id, run_id, task) for task in clusters]
    killed_at = time.time()
    for proc in procs:
        deployment.kill(proc.task, signal.SIGKILL)

    stop = threading.Event()
    completer = threading.Thread(target=complete_steps_until, args=(stop, list(clusters.values())))
    completer.start()
    try:
        for task in clusters:
            ti = deployment.wait_for_task(dag_id, run_id, task, "success", timeout=180)
            assert ti["try_number"] == 2
    finally:
        stop.set()
        completer.join()
    steps = {task: len(moto_server.cluster_steps(cluster)) for task, cluster in clusters.items()}
    print(f"\nEMR steps, kill while waiting: steps added {steps}; done {time.time() - killed_at:.1f} s after")
    assert steps == {"ours": 3, "provider": 6}
