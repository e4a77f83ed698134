"""Crash matrix of the Databricks notebook, task, workflow launch and SQL statements drop-ins vs provider's.

Real ``dag.test()`` retries, the provider's real ``DatabricksHook`` (and trigger) against the local Databricks
stand-in over HTTP. Try 1 of the task crashes at one point (a subclass in the DAG file raises when
``ti.try_number == 1``), Airflow retries it, and the server counts what was created. The provider's
operators are run through the same DAG with the same crash, so the figures sit side by side (the test ids
say ``ours`` / ``provider``).
"""

from __future__ import annotations

import pytest

from airflow_resumable.testing._databricks_jobs_api import jobs_api

pytestmark = pytest.mark.airflow

OURS = "airflow_resumable.jobs.databricks"
PROVIDER = "airflow.providers.databricks.operators.databricks"

TASK_DAG = '''
from datetime import timedelta

from airflow.sdk import dag

from {module} import {operator} as Base

CRASH = {crash!r}


class Crash(Exception):
    """Stands for the worker dying at this point of try 1."""


def first(context):
    return context["ti"].try_number == 1


class Crashing(Base):
    def execute(self, context):
        self.try_number = context["ti"].try_number
        if CRASH == "rename" and self.try_number == 1:
            self.external_id_key = "legacy_run_id"  # the version deployed for try 1 used another key
            self.previous_external_id_keys = ()
        return super().execute(context)

    def submit_job(self, context):  # ours: runs/submit (or the SQL POST), inside the write-ahead intent
        external_id = super().submit_job(context)
        print(f"SUBMITTED {{external_id}}")
        if CRASH == "after_submit" and first(context):
            raise Crash("worker died after submit, before the id was stored")
        return external_id

    def _launch_job(self, context=None):  # the provider's notebook/task submit
        run_id = super()._launch_job(context)
        if CRASH in ("after_submit", "before_poll") and self.try_number == 1:
            raise Crash("worker died after submit")
        return run_id

    def monitor_databricks_job(self):
        if CRASH in ("before_poll", "forgotten", "rename") and self.try_number == 1:
            raise Crash("worker died before monitoring")
        return super().monitor_databricks_job()

    def _handle_execution(self):  # SQL statements: polling, after the statement id was stored (ours)
        if CRASH in ("after_submit", "before_poll", "rename") and self.try_number == 1:
            raise Crash("worker died before polling the statement")
        return super()._handle_execution()

    def defer(self, **kwargs):
        if CRASH == "before_defer" and self.try_number == 1:
            raise Crash("worker died before deferring")
        return super().defer(**kwargs)


@dag(schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}})
def crash_matrix():
    Crashing(task_id="job", {arguments} deferrable={deferrable}, {extra})


crash_matrix()
'''

ARGUMENTS = {
    "DatabricksNotebookOperator": 'notebook_path="/Shared/etl", source="WORKSPACE", '
    'existing_cluster_id="c1", polling_period_seconds=0, databricks_retry_limit=1,',
    "DatabricksTaskOperator": 'task_config={"notebook_task": {"notebook_path": "/Shared/etl"}}, '
    'existing_cluster_id="c1", polling_period_seconds=0, databricks_retry_limit=1,',
    "DatabricksSQLStatementsOperator": 'statement="INSERT INTO t SELECT 1", warehouse_id="wh", '
    "polling_period_seconds=0, databricks_retry_limit=1,",
}


def task_dag(operator: str, crash: str, module: str, *, deferrable: bool = False, extra: str = "") -> str:
    return TASK_DAG.format(
        module=module,
        operator=operator,
        crash=crash,
        arguments=ARGUMENTS[operator],
        deferrable=deferrable,
        extra=extra,
    )


@pytest.mark.parametrize("operator", ["DatabricksNotebookOperator", "DatabricksTaskOperator"])
@pytest.mark.parametrize("crash", ["after_submit", "before_poll"])
@pytest.mark.parametrize(("who", "module", "runs"), [("ours", OURS, 1), ("provider", PROVIDER, 2)])
def test_notebook_and_task_runs_created_by_a_crash_after_submit(
    airflow_sandbox, databricks, operator, crash, who, module, runs
):
    result = airflow_sandbox.run_dag(task_dag(operator, crash, module))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(databricks.created) == runs
    if who == "ours":
        (run,) = databricks.created
        assert result.task_state("job", "databricks_run_id") == run.run_id
        assert result.task_state("job", "databricks_run_id.intent")["token"] == run.token


@pytest.mark.parametrize(("who", "module", "runs"), [("ours", OURS, 1), ("provider", PROVIDER, 2)])
def test_notebook_deferrable_crash_before_deferring(airflow_sandbox, databricks, who, module, runs):
    databricks.default_script = ["PENDING"] * 6 + ["RUNNING", "TERMINATED:SUCCESS"]
    result = airflow_sandbox.run_dag(
        task_dag("DatabricksNotebookOperator", "before_defer", module, deferrable=True)
    )
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(databricks.created) == runs


def test_notebook_run_unknown_to_databricks_starts_a_new_generation(airflow_sandbox, databricks):
    databricks.scripts.append(["RUNNING", "GONE"])  # known when submitted, forgotten by the retry
    result = airflow_sandbox.run_dag(task_dag("DatabricksNotebookOperator", "forgotten", OURS))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    first, second = databricks.created
    assert first.gone
    assert first.token != second.token
    assert second.token.endswith("-g2")
    assert result.task_state("job", "databricks_run_id") == second.run_id


def test_notebook_failed_run_is_followed_by_a_new_run(airflow_sandbox, databricks):
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    result = airflow_sandbox.run_dag(task_dag("DatabricksNotebookOperator", "none", OURS))
    assert result.states("job") == ["failed", "success"]
    assert [run.token[-3:] for run in databricks.created] == ["-g1", "-g2"]


@pytest.mark.parametrize(
    ("operator", "key"),
    [
        ("DatabricksNotebookOperator", "databricks_run_id"),
        ("DatabricksSQLStatementsOperator", "databricks_statement_id"),
    ],
)
def test_renamed_key_with_a_job_in_flight_reconnects(airflow_sandbox, databricks, operator, key):
    extra = 'previous_external_id_keys=["legacy_run_id"]'
    result = airflow_sandbox.run_dag(task_dag(operator, "rename", OURS, extra=extra))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(databricks.created) + len(jobs_api(databricks).statements) == 1
    assert set(result.task_state_keys("job")) == {key, f"{key}.intent"}
    assert "Moved stored job state from a renamed external_id_key" in result.output


# -- SQL statements: no token in the API --------------------------------------------------------------------
@pytest.mark.parametrize(("who", "module", "statements"), [("ours", OURS, 1), ("provider", PROVIDER, 2)])
def test_sql_statement_crash_after_the_id_is_stored(airflow_sandbox, databricks, who, module, statements):
    result = airflow_sandbox.run_dag(task_dag("DatabricksSQLStatementsOperator", "before_poll", module))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(jobs_api(databricks).statements) == statements


@pytest.mark.parametrize(("who", "module", "statements"), [("ours", OURS, 1), ("provider", PROVIDER, 2)])
def test_sql_statement_deferrable_crash_before_deferring(
    airflow_sandbox, databricks, who, module, statements
):
    jobs_api(databricks).default_statement_script = ["PENDING"] * 6 + ["RUNNING", "SUCCEEDED"]
    source = task_dag("DatabricksSQLStatementsOperator", "before_defer", module, deferrable=True)
    result = airflow_sandbox.run_dag(source)
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(jobs_api(databricks).statements) == statements


def test_sql_statement_crash_inside_the_submit_window_runs_it_again_and_says_so(airflow_sandbox, databricks):
    """The one window no API lets us close: the POST succeeded, the worker died before storing the id."""
    result = airflow_sandbox.run_dag(task_dag("DatabricksSQLStatementsOperator", "after_submit", OURS))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(jobs_api(databricks).statements) == 2
    assert "the Statement Execution API cannot find it" in result.output


def test_sql_statement_failed_then_resubmitted(airflow_sandbox, databricks):
    jobs_api(databricks).statement_scripts.append(["RUNNING", "FAILED"])
    result = airflow_sandbox.run_dag(task_dag("DatabricksSQLStatementsOperator", "none", OURS))
    assert result.states("job") == ["failed", "success"]
    second = jobs_api(databricks).statements[1].statement_id
    assert result.task_state("job", "databricks_statement_id") == second
    assert result.task_state("job", "databricks_statement_id.intent")["generation"] == 2


# -- the workflow group's launch -----------------------------------------------------------------------------
WORKFLOW_DAG = '''
from datetime import timedelta

from airflow.providers.databricks.operators.databricks_workflow import _CreateDatabricksWorkflowOperator
from airflow.sdk import DAG

from airflow_resumable.jobs.databricks import DatabricksNotebookOperator, DatabricksWorkflowTaskGroup
from airflow_resumable.jobs.databricks_workflow import CreateDatabricksWorkflowOperator

CRASH = {crash!r}
LAUNCH = {launch}


class Crash(Exception):
    """Stands for the worker dying at this point of try 1."""


class CrashingLaunch(LAUNCH):
    if CRASH == "rename":
        previous_external_id_keys = ("legacy_run_id",)

    def execute(self, context):
        self.try_number = context["ti"].try_number
        if CRASH == "rename" and self.try_number == 1:
            self.external_id_key = "legacy_run_id"  # the version deployed for try 1 used another key
            self.previous_external_id_keys = ()
        return super().execute(context)

    def submit_job(self, context):  # ours only: run-now inside the write-ahead intent
        run_id = super().submit_job(context)
        if CRASH == "after_submit" and self.try_number == 1:
            raise Crash("worker died after run-now, before the run id was stored")
        return run_id

    def _wait_for_job_to_start(self, run_id):  # both: after run-now
        if CRASH in ("after_submit", "before_poll", "rename") and self.try_number == 1:
            raise Crash("worker died while waiting for the run to start")
        return super()._wait_for_job_to_start(run_id)


class Group(DatabricksWorkflowTaskGroup):
    launch_operator_class = CrashingLaunch  # the provider's group builds its own launch the same way


with DAG("workflow", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(0)}}):
    with Group(group_id="g", databricks_conn_id="databricks_default"):
        a = DatabricksNotebookOperator(
            task_id="a", notebook_path="/a", source="WORKSPACE", job_cluster_key="c", polling_period_seconds=0
        )
        b = DatabricksNotebookOperator(
            task_id="b", notebook_path="/b", source="WORKSPACE", job_cluster_key="c", polling_period_seconds=0
        )
        a >> b
'''


@pytest.mark.parametrize("crash", ["after_submit", "before_poll"])
@pytest.mark.parametrize(
    ("who", "launch", "runs"),
    [("ours", "CreateDatabricksWorkflowOperator", 1), ("provider", "_CreateDatabricksWorkflowOperator", 2)],
)
def test_workflow_launch_runs_created_by_a_crash_after_run_now(
    airflow_sandbox, databricks, crash, who, launch, runs
):
    databricks.default_script = ["RUNNING"] * 4 + ["TERMINATED:SUCCESS"]
    result = airflow_sandbox.run_dag(WORKFLOW_DAG.format(crash=crash, launch=launch))
    assert result.states("g.launch") == ["failed", "success"], result.output[-3000:]
    assert result.states("g.a") == ["success"] and result.states("g.b") == ["success"], result.output[-3000:]
    assert len(databricks.requests_to("jobs/create")) == 1  # the job is found by name on the retry
    assert len(databricks.created) == runs
    last = databricks.created[-1].run_id
    assert result.task_state("g.launch", "databricks_workflow_run_id") == (last if who == "ours" else None)


def test_workflow_launch_renamed_key_with_a_run_in_flight_reconnects(airflow_sandbox, databricks):
    databricks.default_script = ["RUNNING"] * 4 + ["TERMINATED:SUCCESS"]
    result = airflow_sandbox.run_dag(
        WORKFLOW_DAG.format(crash="rename", launch="CreateDatabricksWorkflowOperator")
    )
    assert result.states("g.launch") == ["failed", "success"], result.output[-3000:]
    assert len(databricks.created) == 1
    assert len(databricks.requests_to("jobs/run-now")) == 1  # try 2 reconnected: no second run-now
    keys = result.task_state_keys("g.launch")
    assert set(keys) == {"databricks_workflow_run_id", "databricks_workflow_run_id.intent"}
    assert "Moved stored job state from a renamed external_id_key" in result.output
