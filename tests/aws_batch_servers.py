"""The local AWS Batch of the ``BatchOperator`` tests: moto's Batch API on the session's moto server.

moto's regular Batch backend runs every job in a Docker container, which this machine does not have.
moto also has a backend that runs nothing (``batch_simple``: a submitted job is ``SUCCEEDED`` at once),
and its server switches to it through its own configuration endpoint (``POST /moto-api/config`` with
``{"batch": {"use_docker": false}}``): :func:`batch_queue` does that, as any moto server user would. The
provider's ``BatchClientHook`` then talks to it through ``aws_default`` exactly as it would talk to AWS:
``SubmitJob`` (with ``tags``), ``DescribeJobs`` (with ``tags``, ``createdAt``), ``ListJobs`` (``jobQueue``
with a ``JOB_NAME`` filter: any status, newest first; moto returns one page), ``TerminateJob``.

What moto 5.2.5 does differently from AWS Batch, and how tests stand in for AWS:

- jobs finish at once: tests move a job between states through moto's in-process backend
  (:func:`set_job_state`, standing in for time passing on AWS);
- ``TerminateJob`` of a job that is still queued or running only records the reason, the job keeps its
  status: :func:`batch_like_aws` makes it ``FAILED`` with that reason, as AWS Batch does (a job that
  already finished keeps its status on both);
- ``DescribeJobs`` of an unknown id returns no job, as on AWS (no error).
"""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import moto_server

if TYPE_CHECKING:
    from collections.abc import Iterator

ACCOUNT_ID = moto_server.ACCOUNT_ID
REGION = moto_server.REGION
QUEUE = "airflow-resumable-queue"
JOB_DEFINITION = "airflow-resumable-job"

_lock = threading.Lock()
_ready: set[str] = set()


def batch_queue() -> tuple[str, str]:
    """Switch the moto server to its Docker-free Batch backend and create one queue and job definition
    (once per server); return ``(job queue name, job definition name)``."""
    url = moto_server.endpoint()
    with _lock:
        if url not in _ready:
            request = urllib.request.Request(
                f"{url}/moto-api/config",
                data=json.dumps({"batch": {"use_docker": False}}).encode(),
                method="POST",
            )
            urllib.request.urlopen(request, timeout=10).read()
            batch = moto_server.client("batch")
            role = moto_server.client("iam").create_role(
                RoleName=f"batch-service-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument="{}"
            )["Role"]["Arn"]
            environment = batch.create_compute_environment(
                computeEnvironmentName="airflow-resumable-ce",
                type="UNMANAGED",
                state="ENABLED",
                serviceRole=role,
            )["computeEnvironmentArn"]
            batch.create_job_queue(
                jobQueueName=QUEUE,
                state="ENABLED",
                priority=1,
                computeEnvironmentOrder=[{"order": 1, "computeEnvironment": environment}],
            )
            batch.register_job_definition(
                jobDefinitionName=JOB_DEFINITION,
                type="container",
                containerProperties={"image": "busybox", "vcpus": 1, "memory": 128, "command": ["true"]},
            )
            _ready.add(url)
    return QUEUE, JOB_DEFINITION


def _backend() -> Any:
    from moto.batch.models import batch_backends

    return batch_backends[ACCOUNT_ID][REGION]


def jobs_named(name: str) -> list[Any]:
    """Every job submitted with ``name`` (moto's model objects), oldest first: what a run paid for."""
    jobs = [job for job in _backend()._jobs.values() if job.job_name == name and ":" not in job.job_id]
    return sorted(jobs, key=lambda job: job.job_created_at)


def job_tags(job_id: str) -> dict[str, str]:
    job = _backend()._jobs[job_id]
    return dict(_backend().list_tags_for_resource(job.arn))


def set_job_state(job_id: str, state: str) -> None:
    """Move a job to ``state`` (``RUNNABLE``, ``RUNNING``, ``FAILED``, ``SUCCEEDED``...)."""
    job = _backend()._jobs[job_id]
    job.status = state
    job.job_stopped = state in ("SUCCEEDED", "FAILED")


def forget_job(job_id: str) -> None:
    """Remove a job, as if AWS Batch no longer listed or described it (its history is over)."""
    backend = _backend()
    job = backend._jobs.pop(job_id)
    queue = job.job_queue
    queue.jobs[:] = [j for j in queue.jobs if j.job_id != job_id]


@contextmanager
def batch_like_aws() -> Iterator[None]:
    """While the block runs, ``TerminateJob`` ends a queued or running job ``FAILED`` with the reason, as
    AWS Batch does (moto 5.2.5's Docker-free backend only records the reason). Done in moto's model (the
    service side); the provider's hook and its calls are untouched."""
    from moto.batch.models import Job

    original = Job.terminate

    def terminate(self: Any, reason: str) -> None:
        original(self, reason)
        if self.status not in ("SUCCEEDED", "FAILED"):
            self.job_stopped_reason = reason
            self.status = "FAILED"
            self.job_stopped = True

    Job.terminate = terminate  # type: ignore[method-assign]
    try:
        yield
    finally:
        Job.terminate = original  # type: ignore[method-assign]


def unique_name(prefix: str = "job") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
