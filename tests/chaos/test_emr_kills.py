"""Durable EMR operators when the worker is killed while it waits for the job, side by side with the
provider's, against moto's server (in this process; the test decides when steps and job runs finish).

AddJobFlowSteps takes no idempotency token, and the provider's EMR Serverless operator makes a new client
token per try: a retry that does not know its job starts it again. Ours finds it (the stored id, or the
marker in the step or job name); the provider's starts a second one.
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


SERVERLESS_DAG = """
from datetime import timedelta

from airflow.sdk import dag
from airflow.providers.amazon.aws.operators.emr import EmrServerlessStartJobOperator as Provider

from airflow_resumable.jobs.emr import EmrServerlessStartJobOperator as Ours

COMMON = dict(
    execution_role_arn={role!r},
    job_driver={{"sparkSubmit": {{"entryPoint": "s3://bucket/job.py"}}}},
    wait_for_completion=True,
    waiter_delay=1,
    waiter_max_attempts=300,
    retries=1,
    retry_delay=timedelta(seconds=0),
)


@dag(dag_id={dag_id!r}, schedule=None, catchup=False)
def chaos():
    Ours(task_id="ours", application_id={ours!r}, **COMMON)
    Provider(task_id="provider", application_id={provider!r}, **COMMON)


chaos()
"""


def finish_job_runs_until(stop: threading.Event, applications: list[str]) -> None:
    while not stop.wait(0.5):
        for application in applications:
            for run in moto_server.serverless_job_runs(application):
                if run.state == "RUNNING":
                    run.state = "SUCCESS"


def test_kill_while_an_emr_serverless_job_runs_starts_one_job_ours_and_two_the_providers(
    deployment: AirflowDeployment, dag_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.emrserverless import models

    monkeypatch.setattr(models, "JOB_STATUS", "RUNNING")  # moto would finish every job run at once
    apps = {
        "ours": moto_server.create_serverless_application(),
        "provider": moto_server.create_serverless_application(),
    }
    source = SERVERLESS_DAG.format(
        dag_id=dag_id, role=moto_server.ROLE_ARN, ours=apps["ours"], provider=apps["provider"]
    )
    deployment.add_dag(textwrap.dedent(source), dag_id)
    run_id = deployment.trigger(dag_id)
    deadline = time.monotonic() + 120
    while not all(moto_server.serverless_job_runs(app) for app in apps.values()):
        assert time.monotonic() < deadline, "the tasks never started their job runs"
        time.sleep(0.2)
    procs = [deployment.task_processes(dag_id, run_id, task) for task in apps]
    killed_at = time.time()
    for proc in procs:
        deployment.kill(proc.task, signal.SIGKILL)

    stop = threading.Event()
    finisher = threading.Thread(target=finish_job_runs_until, args=(stop, list(apps.values())))
    finisher.start()
    try:
        for task in apps:
            ti = deployment.wait_for_task(dag_id, run_id, task, "success", timeout=180)
            assert ti["try_number"] == 2
    finally:
        stop.set()
        finisher.join()
    runs = {task: len(moto_server.serverless_job_runs(app)) for task, app in apps.items()}
    print(f"\nEMR Serverless, kill while running: job runs {runs}; {time.time() - killed_at:.1f} s")
    assert runs == {"ours": 1, "provider": 2}
