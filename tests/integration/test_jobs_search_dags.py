"""Sequences from the stateful search (tests/unit/jobs/test_jobs_search.py), through real dag.test() retries.

Each DAG runs the library's DatabricksSubmitRunOperator (a subclass that fails on chosen tries) against
the local Jobs API with the provider's real hook, real task state and real retries.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

pytestmark = pytest.mark.airflow

DAG = '''
from datetime import timedelta

from airflow.sdk import dag

from {module} import DatabricksSubmitRunOperator as Base

PLAN = {plan!r}


class Crash(Exception):
    """Stands for the worker dying at this point of a try."""


class Planned(Base):
    def execute(self, context):
        self.step = PLAN.get(context["ti"].try_number, "")
        if self.step == "missing_connection":
            self.databricks_conn_id = "not_configured"
        return super().execute(context)

    def submit_job(self, context):
        run_id = super().submit_job(context)
        if self.step == "after_submit":
            raise Crash("worker died after submit, before the run id was stored")
        return run_id

    def poll_until_complete(self, external_id, context):
        if self.step == "before_poll":
            raise Crash("worker died after storing the run id, before polling")
        return super().poll_until_complete(external_id, context)


@dag(schedule=None, default_args={{"retries": {retries}, "retry_delay": timedelta(0)}})
def search_sequences():
    Planned(
        task_id="job",
        notebook_task={{"notebook_path": "/Shared/etl"}},
        existing_cluster_id="cluster-1",
        polling_period_seconds=0,
        databricks_retry_limit=1,
    )


search_sequences()
'''
OURS = "airflow_resumable.jobs.databricks"
PROVIDER = "airflow.providers.databricks.operators.databricks"


def source(plan: dict[int, str], retries: int = 1, module: str = OURS) -> str:
    return DAG.format(plan=plan, retries=retries, module=module)


def test_crash_after_submit_then_the_run_fails_starts_a_new_generation(airflow_sandbox, databricks):
    """11.2: the retry's repeated submission gets the failed run back; it must run the job again."""
    databricks.scripts.append(["TERMINATED:FAILED"])  # the run has failed by the time the retry asks
    result = airflow_sandbox.run_dag(source({1: "after_submit"}))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    failed, new = databricks.created
    assert (failed.step, new.step) == ("TERMINATED:FAILED", "TERMINATED:SUCCESS")
    assert result.task_state("job", "databricks_run_id") == new.run_id
    assert result.task_state("job", "databricks_run_id.intent")["generation"] == 2
    assert "Prior job in terminal state, resubmitting fresh" in result.output


def test_a_missing_connection_on_a_retry_never_makes_a_second_live_run(airflow_sandbox, databricks):
    """11.3: the missing connection's AirflowNotFoundException (status_code 404) read as "run not found"."""
    databricks.default_script = ["RUNNING"] * 6 + ["TERMINATED:SUCCESS"]
    result = airflow_sandbox.run_dag(source({1: "before_poll", 2: "missing_connection"}, retries=2))
    assert result.states("job") == ["failed", "failed", "success"], result.output[-3000:]
    assert "isn't defined" in result.output
    assert len(databricks.created) == 1
    assert result.task_state("job", "databricks_run_id.intent")["generation"] == 1


def test_a_dag_run_recreated_with_the_same_run_id_runs_a_new_job(airflow_sandbox, databricks, monkeypatch):
    """11.4: the token was a function of the run_id: the re-created run got the old run back.

    dag.test() replaces an existing DAG run with the same run_id (its task state goes with it)."""
    from airflow.models.dagrun import DagRun

    monkeypatch.setattr(DagRun, "generate_run_id", lambda *args, **kwargs: "manual__recreated")
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)  # dag.test() replaces the run with this logical date
    first = airflow_sandbox.run_dag(source({}), logical_date=when)
    again = airflow_sandbox.run_dag(source({}), logical_date=when)
    assert first.run_id == again.run_id
    assert again.states("job") == ["success"]
    old, new = databricks.created
    assert old.token != new.token
    assert again.task_state("job", "databricks_run_id") == new.run_id


@pytest.mark.parametrize("module", [PROVIDER, OURS])
def test_a_failed_run_fails_the_try_once_with_the_providers_message(airflow_sandbox, databricks, module):
    """11.3 / 12.3: a failed run is polled once per try and fails it with the provider's message."""
    databricks.default_script = ["RUNNING", "TERMINATED:FAILED"]
    result = airflow_sandbox.run_dag(source({}, retries=0, module=module))
    assert result.states("job") == ["failed"]
    assert result.output.count("failed with terminal state") >= 1
    assert "retrying" not in result.output
    assert len(databricks.requests_to("jobs/runs/get")) == 2  # RUNNING, FAILED: the provider's two polls
