"""No ARS009: resumable tasks with retries, and retries=0 where nothing resumes."""

from __future__ import annotations

from datetime import timedelta

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.sdk import DAG, task

with DAG(dag_id="ars009_ok", schedule=None, default_args={"retries": 0}):

    @task(retries=3, retry_delay=timedelta(seconds=30))
    def resumable_copy(task_state_store=None):
        return task_state_store.get("done", default=[])

    @task
    def plain():
        return 1

    DatabricksSubmitRunOperator(task_id="deferred", json={}, deferrable=True)
    DatabricksSubmitRunOperator(task_id="not_durable", json={}, durable=False)
    DatabricksSubmitRunOperator(task_id="retried", json={}, retries=2)
    resumable_copy() >> plain()
