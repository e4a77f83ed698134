"""Crash-safe EMR on EKS job runs: the provider's arguments, airflow-resumable's operator."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrContainerOperator


@dag(
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={
        "virtual_cluster_id": "abcdefghijklmno1234567890",
        "role_arn": "arn:aws:iam::123456789012:role/emr",
    },
)
def nightly_features():
    EmrContainerOperator(
        task_id="build_features",
        name="build-features",  # left as it is: the token goes into a tag and the clientToken
        virtual_cluster_id="{{ params.virtual_cluster_id }}",
        execution_role_arn="{{ params.role_arn }}",
        release_label="emr-7.1.0-latest",
        job_driver={
            "sparkSubmitJobDriver": {
                "entryPoint": "s3://ml/jobs/features.py",
                "sparkSubmitParameters": "--conf spark.executor.instances=4",
            }
        },
        tags={"team": "ml"},
        poll_interval=30,
        # The id used to be stored under "features_job_id"; retries of runs from before the rename find it.
        external_id_key="build_features_job_id",
        previous_external_id_keys=["features_job_id"],
    )


nightly_features()
