"""``state checkpoints`` against a real deployment (PostgreSQL, scheduler, LocalExecutor, api-server): the
progress of a task while it runs, and after its process was SIGKILLed."""

from __future__ import annotations

import io
import json
import signal

import pytest

from airflow_resumable import ops
from airflow_resumable.ops.cli import main as state_main

pytestmark = pytest.mark.chaos

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
