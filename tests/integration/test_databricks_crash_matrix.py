"""The crash matrix: real dag.test() retries, the provider's real DatabricksHook, a local Jobs API.

Each case crashes try 1 at one point of the operator's own steps (a subclass in the DAG file raises when
``ti.try_number == 1``) and lets Airflow retry. The server in this process records every run created:
exactly one, or exactly two where a new run is right (the first failed or was forgotten), and never a
failed run handed back to the retry.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_resumable.testing.databricks_server import FakeDatabricks

pytestmark = pytest.mark.airflow


DAG = '''
from datetime import timedelta

from airflow.sdk import dag

from {module} import {operator} as Base

CRASH = {crash!r}


class Crash(Exception):
    """Stands for the worker dying at this point of try 1."""


def first_try(context):
    return context["ti"].try_number == 1


class Crashing(Base):
    def execute(self, context):
        self.try_number = context["ti"].try_number
        if CRASH == "rename" and first_try(context):
            self.external_id_key = "legacy_run_id"  # the version deployed for try 1 used another key
            self.previous_external_id_keys = ()
        print(f"TRY {{context['ti'].try_number}} starts")
        return super().execute(context)

    def submit_job(self, context):
        if CRASH == "before_submit" and first_try(context):
            raise Crash("worker died before submitting")
        run_id = super().submit_job(context)
        print(f"SUBMITTED {{run_id}} token={{getattr(self, 'submission_token', None)}}")
        if CRASH == "after_submit" and first_try(context):
            raise Crash("worker died after submit, before the run id was stored")
        return run_id

    def poll_until_complete(self, external_id, context):
        if CRASH in ("before_poll", "forgotten", "rename") and first_try(context):
            raise Crash("worker died after storing the run id, before polling")
        if CRASH == "mid_poll" and first_try(context):
            self.get_job_status(external_id, context)
            self.get_job_status(external_id, context)
            raise Crash("worker died while polling")
        return super().poll_until_complete(external_id, context)

    def get_job_result(self, external_id, context):
        if CRASH == "after_success" and first_try(context):
            raise Crash("worker died after the run succeeded, before returning")
        return super().get_job_result(external_id, context)

    def defer(self, **kwargs):
        if CRASH == "before_defer" and self.try_number == 1:
            raise Crash("worker died after storing the run id, before deferring")
        return super().defer(**kwargs)


@dag(schedule=None, default_args={{"retries": {retries}, "retry_delay": timedelta(0)}})
def crash_matrix():
    Crashing(
        task_id="job",
        {arguments}
        polling_period_seconds=0,
        databricks_retry_limit=1,
        deferrable={deferrable},
        {extra}
    )


crash_matrix()
'''

SUBMIT_ARGS = 'notebook_task={"notebook_path": "/Shared/etl"}, existing_cluster_id="cluster-1",'
RUN_NOW_ARGS = "job_id=42,"
OURS = "airflow_resumable.jobs.databricks"
PROVIDER = "airflow.providers.databricks.operators.databricks"


def dag_source(
    crash: str,
    *,
    operator: str = "DatabricksSubmitRunOperator",
    module: str = OURS,
    deferrable: bool = False,
    retries: int = 1,
    extra: str = "",
) -> str:
    arguments = SUBMIT_ARGS if operator == "DatabricksSubmitRunOperator" else RUN_NOW_ARGS
    return DAG.format(
        module=module,
        operator=operator,
        crash=crash,
        deferrable=deferrable,
        retries=retries,
        arguments=arguments,
        extra=extra,
    )


def tokens(server: FakeDatabricks) -> list[str | None]:
    return [run.token for run in server.created]


@pytest.mark.parametrize(
    ("crash", "operator"),
    [
        ("before_submit", "DatabricksSubmitRunOperator"),
        ("after_submit", "DatabricksSubmitRunOperator"),
        ("after_submit", "DatabricksRunNowOperator"),
        ("before_poll", "DatabricksSubmitRunOperator"),
        ("mid_poll", "DatabricksSubmitRunOperator"),
        ("after_success", "DatabricksSubmitRunOperator"),
        ("before_poll", "DatabricksRunNowOperator"),
    ],
)
def test_a_crash_never_makes_a_second_run(airflow_sandbox, databricks, crash, operator):
    result = airflow_sandbox.run_dag(dag_source(crash, operator=operator))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(databricks.created) == 1
    run = databricks.created[0]
    assert run.kind == ("submit" if operator == "DatabricksSubmitRunOperator" else "run-now")
    key = "databricks_run_id" if operator == "DatabricksSubmitRunOperator" else "databricks_run_now_id"
    assert result.task_state("job", key) == run.run_id
    intent = result.task_state("job", f"{key}.intent")
    assert intent["state"] == "submitted"
    assert (intent["generation"], intent["token"], intent["external_id"]) == (1, run.token, run.run_id)


def test_crash_after_submit_repeats_the_same_token_and_databricks_returns_the_run(
    airflow_sandbox, databricks
):
    result = airflow_sandbox.run_dag(dag_source("after_submit"))
    submits = databricks.requests_to("jobs/runs/submit")
    assert len(submits) == 2
    assert submits[0].body["idempotency_token"] == submits[1].body["idempotency_token"]
    assert result.output.count(f"SUBMITTED {databricks.created[0].run_id}") == 2


def test_failed_run_is_followed_by_a_new_run_with_a_new_token(airflow_sandbox, databricks):
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    result = airflow_sandbox.run_dag(dag_source("none"))
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 2
    first, second = databricks.created
    assert first.step == "TERMINATED:FAILED"
    assert second.step == "TERMINATED:SUCCESS"
    assert first.token != second.token
    assert second.token.endswith("-g2")
    assert result.task_state("job", "databricks_run_id") == second.run_id
    assert result.task_state("job", "databricks_run_id.intent")["generation"] == 2


def test_failed_run_with_a_user_token_is_not_replayed(airflow_sandbox, databricks):
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    result = airflow_sandbox.run_dag(dag_source("none", extra='idempotency_token="nightly-etl-2024",'))
    assert result.states("job") == ["failed", "success"]
    first, second = tokens(databricks)
    assert first == "nightly-etl-2024"
    assert re.fullmatch(r"nightly-etl-2024-[0-9a-f]{12}-g2", second or "")


def test_stored_run_unknown_to_databricks_is_resubmitted(airflow_sandbox, databricks):
    databricks.scripts.append(["GONE"])  # the first runs/get finds the run's history expired
    result = airflow_sandbox.run_dag(dag_source("forgotten"))
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 2
    assert databricks.created[0].gone
    assert "Prior job in terminal state, resubmitting fresh" in result.output  # upstream's event
    assert result.task_state("job", "databricks_run_id") == databricks.created[1].run_id


def test_renamed_key_with_a_run_in_flight_reconnects(airflow_sandbox, databricks):
    result = airflow_sandbox.run_dag(
        dag_source("rename", extra='previous_external_id_keys=["legacy_run_id"],')
    )
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 1
    keys = result.task_state_keys("job")
    assert set(keys) == {"databricks_run_id", "databricks_run_id.intent"}
    assert keys["databricks_run_id"] == databricks.created[0].run_id
    assert "Moved stored job state from a renamed external_id_key" in result.output


def test_transient_errors_while_deciding_and_polling_are_retried(airflow_sandbox, databricks):
    databricks.fail_next(2, status=503, endpoint="jobs/runs/get")
    result = airflow_sandbox.run_dag(dag_source("before_poll"))
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 1
    gets = databricks.requests_to("jobs/runs/get")
    assert [r.status for r in gets[:2]] == [503, 503]
    assert gets[-1].status == 200


@pytest.mark.parametrize("crash", ["after_submit", "before_defer"])
def test_deferrable_mode_reconnects_instead_of_submitting(airflow_sandbox, databricks, crash):
    databricks.default_script = ["PENDING"] * 8 + ["RUNNING", "TERMINATED:SUCCESS"]  # still running at defer
    result = airflow_sandbox.run_dag(dag_source(crash, deferrable=True))
    assert result.states("job") == ["failed", "success"], result.output[-3000:]
    assert len(databricks.created) == 1
    run = databricks.created[0]
    assert result.task_state("job", "databricks_run_id") == run.run_id
    assert f"run-id {run.run_id} in run state" in result.output  # the trigger polled it (aiohttp)
    assert "Job run completed successfully" in result.output  # execute_complete, unchanged
    if crash == "before_defer":
        assert "Deferring on the existing run" in result.output


def test_deferrable_failed_run_then_retry_submits_a_new_generation(airflow_sandbox, databricks):
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    result = airflow_sandbox.run_dag(dag_source("none", deferrable=True))
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 2
    assert [t[-3:] for t in tokens(databricks)] == ["-g1", "-g2"]


# -- what the provider's own operators do in the same situations (the gaps this library closes) --------
def test_provider_operator_duplicates_a_run_after_a_crash_after_submit(airflow_sandbox, databricks):
    result = airflow_sandbox.run_dag(dag_source("after_submit", module=PROVIDER))
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 2


def test_provider_operator_in_deferrable_mode_submits_on_every_try(airflow_sandbox, databricks):
    databricks.default_script = ["PENDING"] * 4 + ["RUNNING", "TERMINATED:SUCCESS"]
    result = airflow_sandbox.run_dag(dag_source("before_defer", module=PROVIDER, deferrable=True))
    assert result.states("job") == ["failed", "success"]
    assert len(databricks.created) == 2
