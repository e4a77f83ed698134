"""An EMR cluster requested on try 1, whose worker dies the moment RunJobFlow returns; try 2 must not
request a second cluster.

The same crash is shown twice: with airflow-resumable's operator (the cluster is found by its token tag)
and with the Amazon provider's own operator (a second cluster is created, and both keep running). The
story points ``aws_default`` at a local EMR API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.operators import emr as provider
from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrCreateJobFlowOperator

CLUSTER: dict[str, Any] = {
    "ReleaseLabel": "emr-7.1.0",
    "Instances": {"InstanceCount": 3, "MasterInstanceType": "m5.xlarge", "KeepJobFlowAliveWhenNoSteps": True},
    "JobFlowRole": "EMR_EC2_DefaultRole",
    "ServiceRole": "EMR_DefaultRole",
}


class LoseTheWorker:
    """On try 1, the worker is lost right after EMR accepted RunJobFlow, before anything else ran."""

    def execute(self, context: Any) -> Any:
        try_number = context["ti"].try_number
        if try_number == 1:
            self.hook.conn.meta.events.register("after-call.emr.RunJobFlow", self.lose)  # type: ignore[attr-defined]
        job_flow_id = super().execute(context)  # type: ignore[misc]
        print(f"DEMO operator={self.task_id} try={try_number} job_flow_id={job_flow_id}")  # type: ignore[attr-defined]
        return job_flow_id

    def lose(self, parsed: dict[str, Any], **_: Any) -> None:
        print(f"DEMO operator={self.task_id} try=1 job_flow_id={parsed['JobFlowId']}")  # type: ignore[attr-defined]
        raise RuntimeError("worker lost right after RunJobFlow")


class ResumableCreateCluster(LoseTheWorker, EmrCreateJobFlowOperator):
    pass


class ProviderCreateCluster(LoseTheWorker, provider.EmrCreateJobFlowOperator):
    pass


ARGS: dict[str, Any] = {"emr_conn_id": None, "wait_for_completion": True, "waiter_delay": 1}


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_emr_cluster_reconnect() -> None:
    ResumableCreateCluster(
        task_id="resumable", job_flow_overrides={**CLUSTER, "Name": "demo-nightly-resumable"}, **ARGS
    )


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_emr_cluster_provider() -> None:
    ProviderCreateCluster(
        task_id="provider", job_flow_overrides={**CLUSTER, "Name": "demo-nightly-provider"}, **ARGS
    )


demo_emr_cluster_reconnect()
demo_emr_cluster_provider()
