"""Story: a Databricks run survives a worker lost right after submit; the retry gets the same run back."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox, DagRunResult

DAG_FILE = DAGS / "jobs_databricks_reconnect.py"
CONN = "AIRFLOW_CONN_DATABRICKS_DEFAULT"
LINE = re.compile(r"DEMO operator=\w+ try=(\d+) submitted run_id=(\d+) token=(\S+)")
CASES = (
    # dag id, task id, who, how many runs the Jobs API should have created
    ("demo_jobs_databricks_reconnect", "resumable", "airflow-resumable's operator", 1),
    ("demo_jobs_databricks_provider", "provider", "the provider's own operator", 2),
)


def _narrate_tries(result: DagRunResult, say: Say) -> None:
    first_run = None
    for try_number, run_id, token in LINE.findall(result.output):
        sent = "no idempotency token" if token == "None" else f"idempotency token {token}"
        if try_number == "1":
            first_run, note = run_id, ", then the worker was lost before storing the run id"
        else:
            note = " (the run try 1 started)" if run_id == first_run else " (a second run)"
        say(f"  try {try_number}: submitted with {sent}; the Jobs API answered run {run_id}{note}")


def run(sandbox: AirflowSandbox, say: Say) -> bool:
    from airflow_resumable.testing.databricks_server import FakeDatabricks

    say("Databricks here is a local stand-in for the Databricks Jobs API (HTTP on 127.0.0.1),")
    say("reached by the provider's real DatabricksHook through the databricks_default connection.")
    previous = os.environ.get(CONN)
    ok = True
    with FakeDatabricks() as server:
        os.environ.update(server.environ("databricks_default"))
        try:
            for dag_id, task_id, who, expected_runs in CASES:
                before = len(server.created)
                result = sandbox.run_dag(DAG_FILE, dag_id=dag_id)
                say(f"{who}:")
                _narrate_tries(result, say)
                created = len(server.created) - before
                say(f"  task states per try: {result.states(task_id)}; Jobs API runs created: {created}")
                ok = ok and result.state == "success" and created == expected_runs
        finally:
            if previous is None:
                os.environ.pop(CONN, None)
            else:
                os.environ[CONN] = previous
    return ok


STORY = Story(
    order=30,
    title="A Databricks run survives a worker lost right after submit",
    run=run,
    requires=("airflow.providers.databricks",),
)
