"""The DAG file of a job left running by a failed task: what the "Resumable" page and the dashboard card
count as a possible orphaned job (used by the dashboard's API test and its browser test)."""

from __future__ import annotations

SOURCE = '''
from airflow.sdk import BaseOperator, dag

from airflow_resumable.jobs.base import DurableJobMixin


class WorkerLost(Exception):
    """The worker went away while the warehouse job goes on."""


class WarehouseLoad(DurableJobMixin, BaseOperator):
    """A load job on a warehouse that runs on without its task instance."""

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "load-" + self.submission_token[:8]

    def get_job_status(self, external_id, context):
        return "RUNNING"

    def is_job_active(self, status):
        return status == "RUNNING"

    def is_job_succeeded(self, status):
        return status == "DONE"

    def poll_until_complete(self, external_id, context):
        raise WorkerLost(f"lost the worker while {{external_id}} was running")

    def get_job_result(self, external_id, context):
        return external_id


@dag(dag_id="{dag_id}", schedule=None, default_args={{"retries": 0}})
def warehouse():
    WarehouseLoad(task_id="load")


warehouse()
'''


def orphaned_job_dag(dag_id: str) -> str:
    """A DAG ``dag_id`` whose one task, ``load``, submits a job, loses its worker while the job runs and fails
    (no retries): the job is left running, recorded as submitted."""
    return SOURCE.format(dag_id=dag_id)
