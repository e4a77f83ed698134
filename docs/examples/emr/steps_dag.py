"""Crash-safe EMR steps: every step is found again by the marker in its Name instead of being re-added."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from airflow_resumable.jobs.emr import EmrAddStepsOperator

STEPS = [
    {
        "Name": "clean {{ ds }}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["spark-submit", "s3://warehouse/jobs/clean.py", "{{ ds }}"],
        },
    },
    {
        "Name": "publish {{ ds }}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": ["spark-submit", "s3://warehouse/jobs/publish.py", "{{ ds }}"],
        },
    },
]


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"cluster_id": "j-2AXXXXXXGAPLF"},
)
def warehouse_refresh():
    add_steps = EmrAddStepsOperator(
        task_id="add_steps",
        job_flow_id="{{ params.cluster_id }}",
        steps=STEPS,  # each Name gets " [<token>/<index>]" appended
        wait_for_completion=True,
        waiter_delay=30,
    )

    @task
    def report(step_ids: list[str]) -> None:
        print(f"steps ran: {step_ids}")

    report(add_steps.output)


warehouse_refresh()
