"""The AWS job backends: live status and cancel of the durable AWS drop-ins' jobs, through the provider hooks.

One backend per service, each found by the key the operator stores its job under (``emr_job_flow_id``,
``sagemaker_training_job_name``...) or by its operator class. The connection id and region come from the
task's rendered fields (``aws_conn_id``, ``region_name``), as for EMR Serverless and EMR on EKS; a job whose
id is an ARN (Step Functions, ECS) is asked in the ARN's region, and an ECS task in the ARN's cluster. The
hooks resolve the connection as on a worker.

What cancel sends (each once, and only to a job that is still running):

| Backend | Status from | Cancel |
|---|---|---|
| ``emr_cluster`` | ``DescribeCluster`` | ``TerminateJobFlows`` (the cluster the task created) |
| ``emr_steps`` | ``ListSteps`` (the recorded cluster) | ``CancelSteps`` (pending and running steps) |
| ``sagemaker_training`` | ``DescribeTrainingJob`` | ``StopTrainingJob`` |
| ``sagemaker_processing`` | ``DescribeProcessingJob`` | ``StopProcessingJob`` |
| ``batch`` | ``DescribeJobs`` | ``TerminateJob`` |
| ``ecs`` | ``DescribeTasks`` | ``StopTask`` |
| ``athena`` | ``GetQueryExecution`` | ``StopQueryExecution`` |
| ``step_functions`` | ``DescribeExecution`` | ``StopExecution`` |

Cancel reads the status first: a job that already ended, or is being stopped, is left alone and
[`cancel()`][airflow_resumable.ops.backends_aws.AwsBackend.cancel] says so instead of sending anything.

A job whose task *succeeded* while its DAG run still runs is handed on, not orphaned, whatever its
backend: see [`with_live_status()`][airflow_resumable.ops.tasks.with_live_status].

These backends are registered by [`airflow_resumable.ops.backends`][airflow_resumable.ops.backends] itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from airflow_resumable.ops.records import JobRecord

__all__ = [
    "AthenaBackend",
    "AwsBackend",
    "BatchBackend",
    "EcsBackend",
    "EmrClusterBackend",
    "EmrStepsBackend",
    "SageMakerProcessingBackend",
    "SageMakerTrainingBackend",
    "StepFunctionsBackend",
    "backends",
]

REASON = "orphaned: its task instance is no longer running (airflow-resumable state orphans --cancel)"
"""The reason sent with a stop where the API takes one (Batch, ECS)."""


def arn_part(arn: object, index: int) -> str | None:
    """Field ``index`` of an ARN (``3``: region, ``5``: resource), ``None`` if ``arn`` is not one."""
    parts = str(arn).split(":", 5)
    return (parts[index] or None) if len(parts) == 6 and parts[0] == "arn" else None


class AwsBackend:
    """What every AWS backend shares: its keys, connection and region, the hook, status and cancel.

    A subclass names its ``keys``, the operator class names it recognises (``operators``), the states
    in which its job is still running (``active``) and among them those in which it is already being
    stopped (``ending``), and implements ``_state`` and ``_stop`` on the provider hook ``_hook`` gives.
    """

    name: str = "aws"
    keys: ClassVar[tuple[str, ...]] = ()
    operators: ClassVar[tuple[str, ...]] = ()
    active: ClassVar[frozenset[str]] = frozenset()
    ending: ClassVar[frozenset[str]] = frozenset()
    hook_path: ClassVar[tuple[str, str]] = ("airflow.providers.amazon.aws.hooks.base_aws", "AwsBaseHook")

    def __init__(self, conn_id: str = "aws_default") -> None:
        self.default_conn_id = conn_id
        """The connection for a task whose rendered fields hold no ``aws_conn_id`` (the provider's
        ``EcsRunTaskOperator`` does not template it: register ``EcsBackend(conn_id=...)`` for another)."""

    def handles(self, job: JobRecord) -> bool:
        operator = job.task.operator or ""
        return job.key in self.keys or any(name in operator for name in self.operators)

    def conn_id(self, job: JobRecord) -> str:
        return job.task.job_fields.get("aws_conn_id", self.default_conn_id)

    def region(self, job: JobRecord) -> str | None:
        """The region of the job's ARN, else the task's ``region_name``, else ``None`` (the connection's)."""
        return arn_part(job.external_id, 3) or job.task.job_fields.get("region_name")

    def _hook(self, job: JobRecord) -> Any:
        import importlib

        module, name = self.hook_path
        hook_class = getattr(importlib.import_module(module), name)
        return hook_class(aws_conn_id=self.conn_id(job), region_name=self.region(job))

    def _state(self, job: JobRecord, client: Any) -> str:
        raise NotImplementedError

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        raise NotImplementedError

    def _live(self, job: JobRecord, client: Any) -> tuple[str, bool]:
        state = self._state(job, client)
        return state, state in self.active

    def status(self, job: JobRecord) -> tuple[str, bool]:
        return self._live(job, self._hook(job).conn)

    def cancel(self, job: JobRecord) -> str | None:
        """Stop the job unless it already ended or is being stopped; ``None`` once the stop was sent, else
        what the job's state is (nothing was sent)."""
        client = self._hook(job).conn
        state = self._state(job, client)
        if state not in self.active:
            return f"already {state} at {self.name}: nothing sent"
        if state in self.ending:
            return f"already {state} (being stopped) at {self.name}: nothing sent"
        self._stop(job, client, state)
        return None


class EmrClusterBackend(AwsBackend):
    """EMR clusters an ``EmrCreateJobFlowOperator`` created, through ``EmrHook`` (``TerminateJobFlows``)."""

    name = "emr_cluster"
    keys = ("emr_job_flow_id",)
    operators = ("EmrCreateJobFlow",)
    active = frozenset({"STARTING", "BOOTSTRAPPING", "RUNNING", "WAITING", "TERMINATING"})
    ending = frozenset({"TERMINATING"})
    hook_path = ("airflow.providers.amazon.aws.hooks.emr", "EmrHook")

    def _state(self, job: JobRecord, client: Any) -> str:
        cluster = client.describe_cluster(ClusterId=str(job.external_id))["Cluster"]
        return str(cluster["Status"]["State"])

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.terminate_job_flows(JobFlowIds=[str(job.external_id)])


def steps_of(external_id: object) -> tuple[str, list[str]]:
    """``(cluster id, step ids)`` of what the EMR steps operator stores: ``{"job_flow_id", "step_ids"}``."""
    if isinstance(external_id, Mapping):
        cluster, steps = external_id.get("job_flow_id"), external_id.get("step_ids")
        if isinstance(cluster, str) and isinstance(steps, list) and steps:
            return cluster, [str(s) for s in steps]
    raise LookupError(
        f"the stored EMR steps {external_id!r} do not name a cluster and steps "
        '({"job_flow_id": ..., "step_ids": [...]}): look them up in the EMR console'
    )


class EmrStepsBackend(AwsBackend):
    """EMR steps an ``EmrAddStepsOperator`` added, through ``EmrHook`` (``CancelSteps``).

    The status lists each state once, in the order of the steps (``RUNNING, PENDING``); the steps count
    as running while one is pending or running. Cancel cancels those (``SEND_INTERRUPT``); EMR cancels a
    running step only on release 5.28.0 and later, and says so per step (reported as a failure).
    """

    name = "emr_steps"
    keys = ("emr_step_ids",)
    operators = ("EmrAddSteps",)
    active = frozenset({"PENDING", "RUNNING", "CANCEL_PENDING"})
    ending = frozenset({"CANCEL_PENDING"})
    hook_path = ("airflow.providers.amazon.aws.hooks.emr", "EmrHook")

    def _states(self, job: JobRecord, client: Any) -> dict[str, str]:
        cluster, step_ids = steps_of(job.external_id)
        steps = client.list_steps(ClusterId=cluster, StepIds=step_ids)["Steps"]
        found = {str(s["Id"]): str(s["Status"]["State"]) for s in steps}
        return {step: found.get(step, "NOT_FOUND") for step in step_ids}

    def _live(self, job: JobRecord, client: Any) -> tuple[str, bool]:
        states = self._states(job, client).values()
        return ", ".join(dict.fromkeys(states)), any(state in self.active for state in states)

    def cancel(self, job: JobRecord) -> str | None:
        client = self._hook(job).conn
        cluster, _ = steps_of(job.external_id)
        states = self._states(job, client)
        to_cancel = [step for step, state in states.items() if state in self.active - self.ending]
        if not to_cancel:
            summary = ", ".join(dict.fromkeys(states.values()))
            return f"no step pending or running ({summary}) at {self.name}: nothing sent"
        answer = client.cancel_steps(
            ClusterId=cluster, StepIds=to_cancel, StepCancellationOption="SEND_INTERRUPT"
        )
        refused = [
            f"{item.get('StepId')}: {item.get('Reason', '')}".strip()
            for item in answer.get("CancelStepsInfoList", [])
            if item.get("Status") == "FAILED"
        ]
        if refused:
            raise RuntimeError(f"EMR did not cancel every step of {cluster}: {'; '.join(refused)}")
        return None


class SageMakerTrainingBackend(AwsBackend):
    """SageMaker training jobs, by name, through ``SageMakerHook`` (``StopTrainingJob``)."""

    name = "sagemaker_training"
    keys = ("sagemaker_training_job_name",)
    operators = ("SageMakerTraining",)
    active = frozenset({"InProgress", "Stopping"})
    ending = frozenset({"Stopping"})
    hook_path = ("airflow.providers.amazon.aws.hooks.sagemaker", "SageMakerHook")

    def _state(self, job: JobRecord, client: Any) -> str:
        return str(client.describe_training_job(TrainingJobName=str(job.external_id))["TrainingJobStatus"])

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.stop_training_job(TrainingJobName=str(job.external_id))


class SageMakerProcessingBackend(AwsBackend):
    """SageMaker processing jobs, by name, through ``SageMakerHook`` (``StopProcessingJob``)."""

    name = "sagemaker_processing"
    keys = ("sagemaker_processing_job_name",)
    operators = ("SageMakerProcessing",)
    active = frozenset({"InProgress", "Stopping"})
    ending = frozenset({"Stopping"})
    hook_path = ("airflow.providers.amazon.aws.hooks.sagemaker", "SageMakerHook")

    def _state(self, job: JobRecord, client: Any) -> str:
        answer = client.describe_processing_job(ProcessingJobName=str(job.external_id))
        return str(answer["ProcessingJobStatus"])

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.stop_processing_job(ProcessingJobName=str(job.external_id))


class BatchBackend(AwsBackend):
    """AWS Batch jobs through ``BatchClientHook`` (``TerminateJob``, which also cancels a queued job).

    A job AWS Batch no longer describes (its history is over) is ``NOT_FOUND``, not running.
    """

    name = "batch"
    keys = ("batch_job_id",)
    operators = ("BatchOperator",)
    active = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"})
    hook_path = ("airflow.providers.amazon.aws.hooks.batch_client", "BatchClientHook")

    def _state(self, job: JobRecord, client: Any) -> str:
        found = client.describe_jobs(jobs=[str(job.external_id)])["jobs"]
        return str(found[0]["status"]) if found else "NOT_FOUND"

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.terminate_job(jobId=str(job.external_id), reason=REASON)


class EcsBackend(AwsBackend):
    """ECS tasks through ``EcsHook`` (``StopTask``), in the cluster and region of the task's ARN.

    The status is the task's ``lastStatus``, and ``STOPPING`` once a stop was asked for (``desiredStatus``
    ``STOPPED``); a task ECS no longer knows is ``MISSING``. The provider's operator does not template
    ``aws_conn_id``, so the task's connection is not known from outside: ``aws_default`` is used, and for
    tasks run with another connection register one for it
    (``register(EcsBackend(conn_id="ecs_prod"))``, consulted first).
    """

    name = "ecs"
    keys = ("ecs_task_arn",)
    operators = ("EcsRunTask",)
    active = frozenset(
        {"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"}
    )
    ending = frozenset({"STOPPING", "DEACTIVATING", "DEPROVISIONING"})
    hook_path = ("airflow.providers.amazon.aws.hooks.ecs", "EcsHook")

    def cluster(self, job: JobRecord) -> str:
        """The cluster in the task's ARN (``arn:aws:ecs:<region>:<account>:task/<cluster>/<id>``)."""
        resource = (arn_part(job.external_id, 5) or "").split("/")
        if len(resource) == 3 and resource[0] == "task":
            return resource[1]
        raise LookupError(
            f"the ECS task {job.external_id!r} of {job.task.label} is not a task ARN that names its cluster "
            "(arn:aws:ecs:<region>:<account>:task/<cluster>/<id>): stop it in the ECS console"
        )

    def _state(self, job: JobRecord, client: Any) -> str:
        answer = client.describe_tasks(cluster=self.cluster(job), tasks=[str(job.external_id)])
        if not answer.get("tasks"):
            return "MISSING"
        task = answer["tasks"][0]
        last = str(task.get("lastStatus"))
        if last != "STOPPED" and task.get("desiredStatus") == "STOPPED":
            return "STOPPING"
        return last

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.stop_task(cluster=self.cluster(job), task=str(job.external_id), reason=REASON)


class AthenaBackend(AwsBackend):
    """Athena query executions through ``AthenaHook`` (``StopQueryExecution``)."""

    name = "athena"
    keys = ("athena_query_execution_id",)
    operators = ("Athena",)
    active = frozenset({"QUEUED", "RUNNING"})
    hook_path = ("airflow.providers.amazon.aws.hooks.athena", "AthenaHook")

    def _state(self, job: JobRecord, client: Any) -> str:
        answer = client.get_query_execution(QueryExecutionId=str(job.external_id))
        return str(answer["QueryExecution"]["Status"]["State"])

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.stop_query_execution(QueryExecutionId=str(job.external_id))


class StepFunctionsBackend(AwsBackend):
    """Step Functions executions through ``StepFunctionHook`` (``StopExecution``), in the ARN's region."""

    name = "step_functions"
    keys = ("step_function_execution_arn",)
    operators = ("StepFunctionStartExecution",)
    active = frozenset({"RUNNING"})
    hook_path = ("airflow.providers.amazon.aws.hooks.step_function", "StepFunctionHook")

    def _state(self, job: JobRecord, client: Any) -> str:
        return str(client.describe_execution(executionArn=str(job.external_id))["status"])

    def _stop(self, job: JobRecord, client: Any, state: str) -> None:
        client.stop_execution(executionArn=str(job.external_id), cause=REASON)


def backends() -> list[AwsBackend]:
    """One of each AWS backend, the most expensive orphans first."""
    return [
        EmrClusterBackend(),
        EmrStepsBackend(),
        SageMakerTrainingBackend(),
        SageMakerProcessingBackend(),
        BatchBackend(),
        EcsBackend(),
        AthenaBackend(),
        StepFunctionsBackend(),
    ]
