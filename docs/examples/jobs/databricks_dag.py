"""Crash-safe Databricks runs: the provider's arguments, airflow-resumable's operators."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksRunNowOperator, DatabricksSubmitRunOperator


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
)
def nightly_etl():
    # Blocking: the worker polls the run. A retry reconnects to it, or returns at once if it succeeded.
    transform = DatabricksSubmitRunOperator(
        task_id="transform",
        databricks_conn_id="databricks_default",
        run_name="nightly-transform",
        tasks=[
            {
                "task_key": "transform",
                "notebook_task": {"notebook_path": "/Shared/etl/transform"},
                "existing_cluster_id": "0101-120000-abcd123",
            }
        ],
        polling_period_seconds=10,
    )

    # Deferrable: the triggerer waits. A retry defers on the run it already has instead of starting one.
    publish = DatabricksRunNowOperator(
        task_id="publish",
        job_name="publish-marts",
        job_parameters={"day": "{{ ds }}"},
        deferrable=True,
        polling_period_seconds=10,
    )

    # The run id used to live under "marts_run_id". Retries of runs started before the rename still find it.
    refresh = DatabricksRunNowOperator(
        task_id="refresh_dashboards",
        job_id=3141,
        external_id_key="dashboards_run_id",
        previous_external_id_keys=["marts_run_id"],
        polling_period_seconds=10,
    )

    transform >> publish >> refresh


nightly_etl()
