"""ARS009: tasks that rely on resuming but never get a second try."""

from __future__ import annotations

from airflow.providers.databricks.operators.databricks import DatabricksSubmitRunOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, BaseOperator, ResumableJobMixin, dag, task

from airflow_resumable import Checkpointer, Watermark

NO_RETRIES = {"owner": "data", "retries": 0}


class CopyOperator(ResumableJobMixin, BaseOperator):
    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "copy-1"


def copy_files(**context):
    store = context["task_state_store"]
    return store.get("done")


with DAG(dag_id="ars009_bad", schedule=None, default_args=NO_RETRIES):

    @task
    def resumable_copy(task_state_store=None):  # expect: ARS009
        return task_state_store.get("done", default=[])

    @task(retries=0)  # expect: ARS009
    def with_checkpointer():
        return Checkpointer("rows")

    DatabricksSubmitRunOperator(task_id="databricks", json={}, retries=0)  # expect: ARS009
    CopyOperator(task_id="copy")  # expect: ARS009
    PythonOperator(task_id="python_copy", python_callable=copy_files)  # expect: ARS009
    resumable_copy.override(retries=0)()  # expect: ARS009
    resumable_copy() >> with_checkpointer()


@dag(schedule=None, default_args=dict(retries=0))
def watermark_dag():
    @task
    def incremental():  # expect: ARS009
        return Watermark("orders")

    incremental()


watermark_dag()


# Retries never set anywhere visible: Airflow's default is 0 unless [core] default_task_retries says otherwise.
with DAG(dag_id="ars009_never_set", schedule=None):

    @task
    def checkpointed_export(rows):  # expect: ARS009
        with Checkpointer("rows") as ckpt:
            for row in ckpt.iterate(rows):
                print(row)

    DatabricksSubmitRunOperator(task_id="databricks_default", json={})  # expect: ARS009
    CopyOperator.partial(task_id="copy_mapped").expand(json=[{}, {}])  # expect: ARS009
    checkpointed_export([1, 2])


@dag(schedule=None, default_args={"owner": "data"})
def default_args_without_retries():
    @task
    def checkpointed_load():  # expect: ARS009
        return Checkpointer("orders")

    checkpointed_load()


default_args_without_retries()
