"""Asking a job's backend about it, and cancelling it, through the provider hook the operator uses.

A [`JobBackend`][airflow_resumable.ops.backends.JobBackend] recognises the jobs it owns (by the key they are
stored under and the operator class), finds the connection id the task used (from the task instance's rendered
fields, which hold ``databricks_conn_id`` and the like: never a secret), and talks to the backend with the
provider's own hook, so the connection is resolved exactly as on a worker (``AIRFLOW_CONN_*`` variables, a
secrets backend, or the metadata DB where this process can reach it).

Databricks, EMR on EKS and EMR Serverless are built in here; the AWS drop-ins' jobs (EMR clusters and steps,
SageMaker, AWS Batch, ECS, Athena, Step Functions) in
[`airflow_resumable.ops.backends_aws`][airflow_resumable.ops.backends_aws], registered below. Register
another with [`register()`][airflow_resumable.ops.backends.register].
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from airflow_resumable.ops.records import JobRecord

__all__ = [
    "DatabricksBackend",
    "EmrContainersBackend",
    "EmrServerlessBackend",
    "JobBackend",
    "backend_for",
    "register",
]


class JobBackend(Protocol):
    """What the operating API needs from a backend."""

    name: str

    def handles(self, job: JobRecord) -> bool:
        """Whether this backend owns ``job`` (by its key and operator class)."""
        ...

    def conn_id(self, job: JobRecord) -> str:
        """The connection id the task used for the job."""
        ...

    def status(self, job: JobRecord) -> tuple[str, bool]:
        """The backend's status text for the job and whether it is still active (not terminal)."""
        ...

    def cancel(self, job: JobRecord) -> str | None:
        """Ask the backend to stop the job: ``None`` once asked; or, when nothing was sent because the job
        already ended (or is being stopped), a sentence saying so."""
        ...


class DatabricksBackend:
    """Databricks runs (``runs/submit``, ``run-now``) through ``DatabricksHook``."""

    name = "databricks"
    keys = ("databricks_run_id", "databricks_run_now_id")

    def handles(self, job: JobRecord) -> bool:
        operator = job.task.operator or ""
        return job.key in self.keys or "Databricks" in operator

    def conn_id(self, job: JobRecord) -> str:
        return job.task.job_fields.get("databricks_conn_id", "databricks_default")

    def _hook(self, job: JobRecord) -> Any:
        from airflow.providers.databricks.hooks.databricks import DatabricksHook

        return DatabricksHook(databricks_conn_id=self.conn_id(job), retry_limit=2, retry_delay=1)

    def status(self, job: JobRecord) -> tuple[str, bool]:
        state = self._hook(job).get_run_state(int(job.external_id))
        text = state.life_cycle_state + (f":{state.result_state}" if state.result_state else "")
        return text, not state.is_terminal

    def cancel(self, job: JobRecord) -> None:
        self._hook(job).cancel_run(int(job.external_id))


class EmrContainersBackend:
    """EMR on EKS job runs through ``EmrContainerHook`` (the virtual cluster from the task's fields)."""

    name = "emr_containers"
    active = frozenset({"PENDING", "SUBMITTED", "RUNNING", "CANCEL_PENDING"})

    def handles(self, job: JobRecord) -> bool:
        return job.key == "emr_containers_job_run_id" or "EmrContainer" in (job.task.operator or "")

    def conn_id(self, job: JobRecord) -> str:
        return job.task.job_fields.get("aws_conn_id", "aws_default")

    def _call(self, job: JobRecord, method: str) -> Any:
        from airflow.providers.amazon.aws.hooks.emr import EmrContainerHook

        cluster = job.task.job_fields.get("virtual_cluster_id")
        if cluster is None:
            raise LookupError(
                f"the virtual cluster of {job.task.label} is not among its rendered fields; "
                "its job cannot be looked up"
            )
        region = job.task.job_fields.get("region_name")
        hook = EmrContainerHook(aws_conn_id=self.conn_id(job), virtual_cluster_id=cluster, region_name=region)
        return getattr(hook.conn, method)(virtualClusterId=cluster, id=str(job.external_id))

    def status(self, job: JobRecord) -> tuple[str, bool]:
        state = str(self._call(job, "describe_job_run")["jobRun"]["state"])
        return state, state in self.active

    def cancel(self, job: JobRecord) -> None:
        self._call(job, "cancel_job_run")


class EmrServerlessBackend:
    """EMR Serverless job runs through ``EmrServerlessHook`` (the application from the task's fields)."""

    name = "emr_serverless"
    active = frozenset({"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING"})

    def handles(self, job: JobRecord) -> bool:
        return job.key == "emr_serverless_job_run_id" or "EmrServerless" in (job.task.operator or "")

    def conn_id(self, job: JobRecord) -> str:
        return job.task.job_fields.get("aws_conn_id", "aws_default")

    def _call(self, job: JobRecord, method: str) -> Any:
        from airflow.providers.amazon.aws.hooks.emr import EmrServerlessHook

        application = job.task.job_fields.get("application_id")
        if application is None:
            raise LookupError(
                f"the application of {job.task.label} is not among its rendered fields; "
                "its job cannot be looked up"
            )
        region = job.task.job_fields.get("region_name")
        hook = EmrServerlessHook(aws_conn_id=self.conn_id(job), region_name=region)
        return getattr(hook.conn, method)(applicationId=application, jobRunId=str(job.external_id))

    def status(self, job: JobRecord) -> tuple[str, bool]:
        state = str(self._call(job, "get_job_run")["jobRun"]["state"])
        return state, state in self.active

    def cancel(self, job: JobRecord) -> None:
        self._call(job, "cancel_job_run")


_BACKENDS: list[JobBackend] = [DatabricksBackend(), EmrContainersBackend(), EmrServerlessBackend()]


def _register_aws() -> None:
    from airflow_resumable.ops.backends_aws import backends  # no provider import: the hooks load on use

    _BACKENDS.extend(backends())


def register(backend: JobBackend) -> None:
    """Add a backend (consulted before the built-in ones)."""
    _BACKENDS.insert(0, backend)


def backend_for(job: JobRecord) -> JobBackend | None:
    """The backend that owns ``job``, or ``None``."""
    return next((b for b in _BACKENDS if b.handles(job)), None)


_register_aws()
