"""Links from a durable job to its backend's own page: the Databricks run page the operator recorded, or the
AWS console page built from the job's id and the ids the task rendered.

AWS pages by job key (or operator, when ``external_id_key`` was renamed):

- EMR Serverless job runs, EMR on EKS job runs, EMR clusters and steps: the EMR console, from the rendered
  ``application_id``, ``virtual_cluster_id`` or ``job_flow_id``;
- AWS Batch jobs (``batch_job_id``), Athena queries (``athena_query_execution_id``) and SageMaker training and
  processing jobs (``sagemaker_training_job_name``, ``sagemaker_processing_job_name``): the service's console
  page of that id or name;
- ECS tasks (``ecs_task_arn``) and Step Functions executions (``step_function_execution_arn``): built from
  the ARN alone (region, cluster, partition).

The region comes from the ARN, else the task's rendered ``region_name``; without either the link has no
region and the console opens in the region the browser last used. The console's domain follows the
partition (``aws``, ``aws-cn``, ``aws-us-gov``); partitions with no public console get no link.
Only ids, names and a region go into a link, never connection details.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow_resumable.ops.records import JobRecord

__all__ = ["job_link"]

_DOMAINS = {"aws": "aws.amazon.com", "aws-cn": "amazonaws.cn", "aws-us-gov": "amazonaws-us-gov.com"}
"""The console domain of each partition that has a public console (as the Amazon provider's links)."""


def _q(value: object) -> str:
    return quote(str(value), safe="")


def _partition(region: str | None) -> str:
    if not region:
        return "aws"
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if "-iso" in region:  # us-iso-east-1, us-isob-east-1, eu-isoe-west-1: no public console
        return "aws-iso"
    return "aws"


def _arn(value: object) -> tuple[str, str, str] | None:
    """``(partition, region, resource)`` of an ARN, ``None`` for anything else."""
    parts = str(value).split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not parts[1] or not parts[3]:
        return None
    return parts[1], parts[3], parts[5]


def _console(path: str, region: str | None, partition: str | None = None) -> str | None:
    """``https://console.<domain>/<path>[?region=...]``, ``None`` in a partition without a public console."""
    domain = _DOMAINS.get(partition or _partition(region))
    if domain is None:
        return None
    query = f"?region={_q(region)}" if region else ""
    return f"https://console.{domain}/{path}{query}"


def _emr(job: JobRecord, fields: Mapping[str, str]) -> str | None:
    home = _console("emr/home", fields.get("region_name"))
    if home is None:
        return None
    operator = job.task.operator or ""
    if job.key == "emr_serverless_job_run_id" or "EmrServerless" in operator:
        app = fields.get("application_id")
        return f"{home}#/serverless/applications/{_q(app)}/job-runs/{_q(job.external_id)}" if app else None
    if job.key == "emr_containers_job_run_id" or "EmrContainer" in operator:
        cluster = fields.get("virtual_cluster_id")
        return f"{home}#/eks/clusters/{_q(cluster)}/job-runs/{_q(job.external_id)}" if cluster else None
    if "EmrCreateJobFlow" in operator or job.key in ("job_flow_id", "emr_job_flow_id"):
        return f"{home}#/clusterDetails/{_q(job.external_id)}"
    if "EmrAddSteps" in operator or "emr_step" in job.key:
        flow = fields.get("job_flow_id")  # the cluster's page lists its steps
        return f"{home}#/clusterDetails/{_q(flow)}" if flow else None
    return None


def _by_id(service: str, fragment: str) -> Callable[[JobRecord, Mapping[str, str]], str | None]:
    """A console page addressed by the job's id or name, in the rendered region."""

    def link(job: JobRecord, fields: Mapping[str, str]) -> str | None:
        home = _console(f"{service}/home", fields.get("region_name"))
        return None if home is None else f"{home}#{fragment}{_q(job.external_id)}"

    return link


def _ecs(job: JobRecord, fields: Mapping[str, str]) -> str | None:
    arn = _arn(job.external_id)
    if arn is None:
        return None
    partition, region, resource = arn
    kind, _, rest = resource.partition("/")
    cluster, _, task = rest.rpartition("/")
    if kind != "task" or not cluster or not task:  # an old-format ARN (task/<id>) does not name the cluster
        return None
    return _console(f"ecs/v2/clusters/{_q(cluster)}/tasks/{_q(task)}/configuration", region, partition)


def _step_function(job: JobRecord, fields: Mapping[str, str]) -> str | None:
    arn = _arn(job.external_id)
    if arn is None:
        return None
    home = _console("states/home", arn[1], arn[0])
    return None if home is None else f"{home}#/v2/executions/details/{_q(job.external_id)}"


_AWS: tuple[tuple[str, str, Callable[[JobRecord, Mapping[str, str]], str | None]], ...] = (
    ("batch_job_id", "BatchOperator", _by_id("batch", "jobs/detail/")),
    ("ecs_task_arn", "EcsRunTaskOperator", _ecs),
    ("sagemaker_training_job_name", "SageMakerTrainingOperator", _by_id("sagemaker", "/jobs/")),
    (
        "sagemaker_processing_job_name",
        "SageMakerProcessingOperator",
        _by_id("sagemaker", "/processing-jobs/"),
    ),
    ("athena_query_execution_id", "AthenaOperator", _by_id("athena", "/query-editor/history/")),
    ("step_function_execution_arn", "StepFunctionStartExecutionOperator", _step_function),
)
"""Per AWS service: the default ``external_id_key``, the drop-in's class name, and how to build the link."""


def job_link(job: JobRecord, page_url: str | None = None) -> str | None:
    """The backend page of ``job``, or ``None`` when nothing recorded says where it is.

    ``page_url`` is the ``run_page_url`` XCom the task pushed (Databricks operators do).
    """
    if job.external_id is None:
        return None
    operator = job.task.operator or ""
    fields = job.task.job_fields
    if "databricks" in job.key or "Databricks" in operator:
        return page_url or None
    for key, name, build in _AWS:
        if job.key == key or operator == name:
            return build(job, fields)
    return _emr(job, fields)
