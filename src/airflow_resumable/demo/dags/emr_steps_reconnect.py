"""EMR steps added on try 1, whose worker dies before the task finishes; try 2 must not add them again.

The same crash is shown twice: with airflow-resumable's operator (the steps are found by the marker in
their names) and with the Amazon provider's own operator (the steps are added a second time). The story
points ``aws_default`` at a local EMR API and passes the cluster id as ``cluster_id`` in the run conf.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.operators import emr as provider
from airflow.sdk import dag

from airflow_resumable.jobs.emr import EmrAddStepsOperator

STEPS = [
    {
        "Name": name,
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", f"s3://demo/{name}.py"]},
    }
    for name in ("clean", "publish")
]
ARGS: dict[str, Any] = {"job_flow_id": "{{ dag_run.conf['cluster_id'] }}", "steps": STEPS}


def _lose_the_worker(op: Any, context: Any, step_ids: Any) -> Any:
    try_number = context["ti"].try_number
    print(f"DEMO operator={op.task_id} try={try_number} step_ids={','.join(step_ids)}")
    if try_number == 1:
        raise RuntimeError("worker lost right after AddJobFlowSteps")
    return step_ids


class ResumableAddSteps(EmrAddStepsOperator):
    def execute(self, context: Any) -> Any:
        return _lose_the_worker(self, context, super().execute(context))


class ProviderAddSteps(provider.EmrAddStepsOperator):
    def execute(self, context: Any) -> Any:
        return _lose_the_worker(self, context, super().execute(context))


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_emr_steps_reconnect() -> None:
    ResumableAddSteps(task_id="resumable", **ARGS)


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_emr_steps_provider() -> None:
    ProviderAddSteps(task_id="provider", **ARGS)


demo_emr_steps_reconnect()
demo_emr_steps_provider()
