"""Links from a durable job to its backend's own page: the Databricks run page the operator recorded, or the
AWS console page built from the ids the task rendered (cluster, application, virtual cluster, region).

Only ids and a region go into a link, never connection details.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from airflow_resumable.ops.records import JobRecord

__all__ = ["job_link"]

CONSOLE = "https://console.aws.amazon.com/emr/home"


def _q(value: object) -> str:
    return quote(str(value), safe="")


def job_link(job: JobRecord, page_url: str | None = None) -> str | None:
    """The backend page of ``job``, or ``None`` when nothing recorded says where it is.

    ``page_url`` is the ``run_page_url`` XCom the task pushed (Databricks operators do).
    """
    if job.external_id is None:
        return None
    operator = job.task.operator or ""
    fields = job.task.job_fields
    if page_url and ("databricks" in job.key or "Databricks" in operator):
        return page_url
    region = fields.get("region_name")
    query = f"?region={_q(region)}" if region else ""
    if job.key == "emr_serverless_job_run_id" or "EmrServerless" in operator:
        app = fields.get("application_id")
        if app:
            return f"{CONSOLE}{query}#/serverless/applications/{_q(app)}/job-runs/{_q(job.external_id)}"
        return None
    if job.key == "emr_containers_job_run_id" or "EmrContainer" in operator:
        cluster = fields.get("virtual_cluster_id")
        if cluster:
            return f"{CONSOLE}{query}#/eks/clusters/{_q(cluster)}/job-runs/{_q(job.external_id)}"
        return None
    if "EmrCreateJobFlow" in operator or job.key in ("job_flow_id", "emr_job_flow_id"):
        return f"{CONSOLE}{query}#/clusterDetails/{_q(job.external_id)}"
    if "EmrAddSteps" in operator or "emr_step" in job.key:
        flow = fields.get("job_flow_id")
        if flow:
            return f"{CONSOLE}{query}#/clusterDetails/{_q(flow)}"
    return None
