"""AWS console links of the durable jobs the UI shows: Batch jobs, ECS tasks, SageMaker training and
processing jobs, Athena queries, Step Functions executions (and the EMR pages kept as they were).

The region comes from the ARN, else the rendered ``region_name``; the domain follows the partition; a link
holds only ids, names and the region, never a connection detail.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_resumable.ops.records import JobRecord, TaskRef
from airflow_resumable.ui.links import job_link

ECS_ARN = "arn:aws:ecs:eu-west-1:123456789012:task/etl-cluster/0123456789abcdef0123456789abcdef"
SFN_ARN = "arn:aws:states:us-west-2:123456789012:execution:nightly:run-2026-01-01"


def _job(operator: str, key: str, external_id: Any, **fields: str) -> JobRecord:
    task = TaskRef("d", "r", "t", state="running", operator=operator, job_fields=fields)
    return JobRecord(task, key, external_id, "submitted")


@pytest.mark.parametrize(
    ("operator", "key", "external_id", "expected"),
    [
        (
            "BatchOperator",
            "batch_job_id",
            "8a1b2c3d-0000-4000-8000-000000000001",
            "https://console.aws.amazon.com/batch/home?region=eu-central-1"
            "#jobs/detail/8a1b2c3d-0000-4000-8000-000000000001",
        ),
        (
            "SageMakerTrainingOperator",
            "sagemaker_training_job_name",
            "train-2026-01-01-g2",
            "https://console.aws.amazon.com/sagemaker/home?region=eu-central-1#/jobs/train-2026-01-01-g2",
        ),
        (
            "SageMakerProcessingOperator",
            "sagemaker_processing_job_name",
            "prep-g1",
            "https://console.aws.amazon.com/sagemaker/home?region=eu-central-1#/processing-jobs/prep-g1",
        ),
        (
            "AthenaOperator",
            "athena_query_execution_id",
            "q-1234",
            "https://console.aws.amazon.com/athena/home?region=eu-central-1#/query-editor/history/q-1234",
        ),
    ],
)
def test_jobs_named_by_id_link_to_their_console_page_in_the_rendered_region(
    operator: str, key: str, external_id: str, expected: str
) -> None:
    job = _job(operator, key, external_id, region_name="eu-central-1", aws_conn_id="aws_prod")
    assert job_link(job) == expected
    assert "aws_prod" not in expected


def test_without_a_rendered_region_the_link_has_none() -> None:
    job = _job("BatchOperator", "batch_job_id", "job-1")
    assert job_link(job) == "https://console.aws.amazon.com/batch/home#jobs/detail/job-1"


def test_ecs_task_link_takes_region_cluster_and_task_from_the_arn() -> None:
    # ECS renders no region_name: the ARN is the only place it is recorded; a rendered one does not override
    job = _job("EcsRunTaskOperator", "ecs_task_arn", ECS_ARN, region_name="us-east-1")
    assert job_link(job) == (
        "https://console.aws.amazon.com/ecs/v2/clusters/etl-cluster/tasks/0123456789abcdef0123456789abcdef"
        "/configuration?region=eu-west-1"
    )


def test_ecs_old_format_arn_or_a_non_arn_gets_no_link() -> None:
    old = _job("EcsRunTaskOperator", "ecs_task_arn", "arn:aws:ecs:eu-west-1:123456789012:task/0123abcd")
    assert job_link(old) is None
    assert job_link(_job("EcsRunTaskOperator", "ecs_task_arn", "not-an-arn")) is None


def test_step_functions_execution_link_is_the_quoted_arn_in_its_region() -> None:
    job = _job("StepFunctionStartExecutionOperator", "step_function_execution_arn", SFN_ARN)
    assert job_link(job) == (
        "https://console.aws.amazon.com/states/home?region=us-west-2#/v2/executions/details/"
        "arn%3Aaws%3Astates%3Aus-west-2%3A123456789012%3Aexecution%3Anightly%3Arun-2026-01-01"
    )


def test_console_domain_follows_the_partition() -> None:
    cn = _job("EcsRunTaskOperator", "ecs_task_arn", "arn:aws-cn:ecs:cn-north-1:1:task/c/t1")
    assert (
        job_link(cn)
        == "https://console.amazonaws.cn/ecs/v2/clusters/c/tasks/t1/configuration?region=cn-north-1"
    )
    gov = _job("AthenaOperator", "athena_query_execution_id", "q", region_name="us-gov-west-1")
    assert job_link(gov) == (
        "https://console.amazonaws-us-gov.com/athena/home?region=us-gov-west-1#/query-editor/history/q"
    )
    iso = _job("StepFunctionStartExecutionOperator", "k", "arn:aws-iso:states:us-iso-east-1:1:execution:m:e")
    assert job_link(iso) is None  # no public console to send anyone to
    assert job_link(_job("BatchOperator", "batch_job_id", "j", region_name="us-isob-east-1")) is None


def test_a_renamed_external_id_key_is_recognised_by_the_operator() -> None:
    job = _job("SageMakerTrainingOperator", "my_training_job", "train-g1", region_name="eu-west-1")
    assert job_link(job) == "https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/jobs/train-g1"


def test_ids_are_quoted_so_a_name_cannot_change_the_page() -> None:
    job = _job("AthenaOperator", "athena_query_execution_id", "a/../b?x#y", region_name="eu-west-1&z=1")
    link = job_link(job)
    assert link == (
        "https://console.aws.amazon.com/athena/home?region=eu-west-1%26z%3D1#/query-editor/history/a%2F..%2Fb%3Fx%23y"
    )


def test_unconfirmed_or_unknown_jobs_get_no_link() -> None:
    assert job_link(_job("BatchOperator", "batch_job_id", None)) is None
    assert job_link(_job("GlueJobOperator", "glue_job_run_id", "jr_1", region_name="eu-west-1")) is None


def test_emr_links_are_unchanged() -> None:
    steps = _job("EmrAddStepsOperator", "emr_step_ids", ["s-1"], job_flow_id="j-1", region_name="eu-west-1")
    assert job_link(steps) == "https://console.aws.amazon.com/emr/home?region=eu-west-1#/clusterDetails/j-1"
    on_eks = _job("EmrContainerOperator", "emr_containers_job_run_id", "jr", virtual_cluster_id="vc")
    assert job_link(on_eks) == "https://console.aws.amazon.com/emr/home#/eks/clusters/vc/job-runs/jr"
    assert job_link(_job("EmrContainerOperator", "emr_containers_job_run_id", "jr")) is None


def test_the_ui_json_carries_the_link_of_each_stored_intent() -> None:
    """Decoded from the store entries the operators write (intent and id), as the UI's data layer does."""
    from airflow_resumable.ui.data import _progress

    def submitted(key: str, external_id: str) -> dict[str, Any]:
        intent = {"generation": 1, "token": "t-g1", "submitted_at": "2026-01-01T00:00:00+00:00"}
        return {
            key: external_id,
            f"{key}.intent": {**intent, "state": "submitted", "external_id": external_id},
        }

    entries = {**submitted("ecs_task_arn", ECS_ARN), **submitted("sagemaker_processing_job_name", "prep-g1")}
    task = TaskRef("d", "r", "t", state="running", operator="SageMakerProcessingOperator")
    jobs = _progress(task, entries, None, {"region_name": "eu-west-1", "aws_conn_id": "aws_prod"}).to_json()
    links = {job["key"]: job["link"] for job in jobs["jobs"]}
    assert links == {
        "ecs_task_arn": "https://console.aws.amazon.com/ecs/v2/clusters/etl-cluster/tasks/"
        "0123456789abcdef0123456789abcdef/configuration?region=eu-west-1",
        "sagemaker_processing_job_name": "https://console.aws.amazon.com/sagemaker/home?region=eu-west-1"
        "#/processing-jobs/prep-g1",
    }
    submitting = {"generation": 2, "token": "t-g2", "submitted_at": "2026-01-01T00:00:00+00:00"}
    entries = {"batch_job_id": "old", "batch_job_id.intent": {**submitting, "state": "submitting"}}
    (job,) = _progress(task, entries, None, {}).to_json()["jobs"]
    assert job["link"] is None  # a submission not confirmed yet: the stored id is an older generation's
