"""A run cancelled from outside is never reconnected to, through real dag.test() retries.

``airflow-resumable state orphans --cancel`` cancels an orphaned Databricks run and records that in the job's
intent (``"cancelled": {...}``, state left ``"submitted"``). Databricks shows a cancelled run as ``RUNNING`` /
``TERMINATING`` for a while, so the next try used to reconnect to it, poll it to ``CANCELED`` and fail. Here
the first try records the cancellation exactly as the ops layer does and is lost; the retry must submit
generation 2: one new run, and the cancelled one never polled.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow

DAG = '''
from datetime import datetime, timedelta, timezone

from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator


class WorkerLost(Exception):
    """Stands for the task being marked failed while its run goes on."""


class CancelledFromOutside(DatabricksSubmitRunOperator):
    def poll_until_complete(self, external_id, context):
        if context["ti"].try_number == 1:
            # What ops.orphans(cancel=True) writes after cancelling the run through the hook.
            store = context["task_state_store"]
            intent = store.get(self.intent_key)
            mark = {
                "external_id": external_id,
                "at": datetime.now(tz=timezone.utc).isoformat(),
                "by": "oncall",
                "reason": "orphaned: its task instance is no longer running",
            }
            store.set(self.intent_key, {**intent, "cancelled": mark})
            raise WorkerLost(f"lost the worker while run {external_id} was running")
        return super().poll_until_complete(external_id, context)


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
def cancelled_from_outside():
    CancelledFromOutside(
        task_id="transform",
        notebook_task={"notebook_path": "/Shared/etl"},
        existing_cluster_id="cluster-1",
        polling_period_seconds=0,
        databricks_retry_limit=1,
    )


cancelled_from_outside()
'''


@pytest.mark.parametrize("life_cycle", ["RUNNING", "TERMINATING"])
def test_the_retry_after_a_cancellation_from_outside_submits_generation_two(
    airflow_sandbox, databricks, life_cycle
):
    # The cancelled run still shows life_cycle for a while, then CANCELED (the old code polled it to there).
    databricks.scripts.append([life_cycle] * 3 + ["TERMINATED:CANCELED"])
    result = airflow_sandbox.run_dag(DAG)
    assert result.states("transform") == ["failed", "success"], result.output[-3000:]
    cancelled, new = databricks.created
    assert cancelled.gets == 1, "the cancelled run was polled after its cancellation was recorded"
    assert new.step == "TERMINATED:SUCCESS" and new.token != cancelled.token
    assert result.task_state("transform", "databricks_run_id") == new.run_id
    intent = result.task_state("transform", "databricks_run_id.intent")
    assert (intent["generation"], intent["external_id"], intent["state"]) == (2, new.run_id, "submitted")
    assert "cancelled" not in intent
    assert "Prior job in terminal state, resubmitting fresh" in result.output
    assert "cancelled from outside by oncall" in result.output
