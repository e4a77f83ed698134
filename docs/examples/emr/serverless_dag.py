"""Crash-safe EMR Serverless job runs: the provider's arguments, airflow-resumable's operator."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrServerlessStartJobOperator


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"application_id": "00fabcde12345678", "role_arn": "arn:aws:iam::123456789012:role/emr-job-role"},
)
def daily_sessions():
    # The worker polls the job run. A retry reconnects to it, or returns its id at once if it succeeded.
    EmrServerlessStartJobOperator(
        task_id="sessionize",
        application_id="{{ params.application_id }}",
        execution_role_arn="{{ params.role_arn }}",
        name="sessionize-{{ ds }}",  # kept as is; the token goes in the airflow-resumable-token tag
        job_driver={
            "sparkSubmit": {
                "entryPoint": "s3://analytics/jobs/sessionize.py",
                "entryPointArguments": ["--day", "{{ ds }}"],
            }
        },
        waiter_delay=30,
        waiter_max_attempts=120,
    )


daily_sessions()
