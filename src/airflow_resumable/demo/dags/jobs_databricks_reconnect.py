"""A Databricks run submitted on try 1, whose worker dies before the run id is stored; try 2 reconnects.

The same crash is shown twice: with airflow-resumable's operator (one run) and with the Databricks
provider's own operator (a second run). The story points ``databricks_default`` at a local stand-in for
the Databricks Jobs API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.databricks.operators import databricks as provider
from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator

TASK: dict[str, Any] = {
    "notebook_task": {"notebook_path": "/Shared/demo"},
    "existing_cluster_id": "demo-cluster",
}


def _submit_then_lose_the_worker(op: Any, context: Any, run_id: Any) -> Any:
    try_number = context["ti"].try_number
    token = getattr(op, "submission_token", None)
    print(f"DEMO operator={op.task_id} try={try_number} submitted run_id={run_id} token={token}")
    if try_number == 1:
        print(f"DEMO operator={op.task_id} try={try_number} worker lost before the run id was stored")
        raise RuntimeError("worker lost right after submitting")
    return run_id


class ResumableSubmit(DatabricksSubmitRunOperator):
    def submit_job(self, context: Any) -> int:
        return int(_submit_then_lose_the_worker(self, context, super().submit_job(context)))


class ProviderSubmit(provider.DatabricksSubmitRunOperator):
    def submit_job(self, context: Any) -> Any:
        return _submit_then_lose_the_worker(self, context, super().submit_job(context))


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_jobs_databricks_reconnect() -> None:
    ResumableSubmit(task_id="resumable", polling_period_seconds=0, **TASK)


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_jobs_databricks_provider() -> None:
    ProviderSubmit(task_id="provider", polling_period_seconds=0, **TASK)


demo_jobs_databricks_reconnect()
demo_jobs_databricks_provider()
