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


# Retries set where the linter can see them, or possibly set where it cannot: not reported.
from company.airflow_defaults import DEFAULT_ARGS  # noqa: E402

from airflow_resumable import Checkpointer, Watermark  # noqa: E402

RETRYING = {"owner": "data", "retries": 2}
PATCHED = {"owner": "data"}
PATCHED["retries"] = 3
COMMON = {"retries": 4}

with DAG(dag_id="ars009_ok_default_args", schedule=None, default_args=RETRYING):

    @task
    def checkpointed(rows):
        with Checkpointer("rows") as ckpt:
            for row in ckpt.iterate(rows):
                print(row)

    DatabricksSubmitRunOperator(task_id="inherits_retries", json={})
    checkpointed([1])

with DAG(dag_id="ars009_ok_imported_defaults", schedule=None, default_args=DEFAULT_ARGS):
    DatabricksSubmitRunOperator(task_id="defaults_from_elsewhere", json={})

with DAG(dag_id="ars009_ok_patched_defaults", schedule=None, default_args=PATCHED):
    DatabricksSubmitRunOperator(task_id="defaults_patched_later", json={})

with DAG(dag_id="ars009_ok_task_level", schedule=None):

    @task
    def watermark_load():
        return Watermark("orders")

    watermark_load.override(retries=2)()
    DatabricksSubmitRunOperator(task_id="unpacked", json={}, **COMMON)
    DatabricksSubmitRunOperator(task_id="own_defaults", json={}, default_args=COMMON)

with DAG(dag_id="ars009_ok_watermark_without_retries", schedule=None):

    @task
    def incremental():  # a Watermark commits for the next run: a missing retries is not reported
        return Watermark("orders")

    incremental()

from airflow.sdk import TaskGroup  # noqa: E402

with DAG(dag_id="ars009_ok_group_defaults", schedule=None):
    with TaskGroup("loads", default_args={"retries": 3}):
        DatabricksSubmitRunOperator(task_id="retries_from_the_group", json={})
