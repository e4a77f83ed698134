"""A toy job service and a durable operator on it, for unit tests of the jobs base.

The service keeps jobs in memory, can deduplicate submissions by token (like Databricks and EMR
Serverless) or not (like EMR steps), scripts each job's statuses, and raises injected errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException
from airflow.sdk import BaseOperator

from airflow_resumable.jobs.base import DurableJobMixin

if TYPE_CHECKING:
    from collections.abc import Iterable


class ToyApiError(AirflowException):
    """What a provider's hook raises for an API error answer: an ``AirflowException`` raised from the
    client's ``requests.HTTPError`` (the Databricks hook's ``DatabricksApiError`` has the same shape)."""


def HttpError(status_code: int, message: str = "") -> ToyApiError:
    """A :class:`ToyApiError` for an HTTP ``status_code`` answer, raised from the client's error."""
    import requests

    response = requests.Response()
    response.status_code = status_code
    response._content = b"{}"
    error = ToyApiError(f"Response: {message or '{}'}, Status Code: {status_code}")
    error.__cause__ = requests.HTTPError(f"{status_code} {message}".strip(), response=response)
    return error


class JobFailedError(AirflowException):
    """The toy job ended in a failed state (providers raise ``AirflowException`` for a failed job)."""


@dataclass
class ToyJob:
    job_id: str
    token: str | None
    script: list[str]
    polls: int = 0

    @property
    def status(self) -> str:
        return self.script[min(self.polls, len(self.script) - 1)]


@dataclass
class ToyService:
    """Jobs by id; ``scripts`` are handed to new jobs in order, then ``default_script``."""

    dedup: bool = True
    default_script: list[str] = field(default_factory=lambda: ["RUNNING", "SUCCEEDED"])
    scripts: list[list[str]] = field(default_factory=list)
    jobs: dict[str, ToyJob] = field(default_factory=dict)
    status_errors: list[BaseException] = field(default_factory=list)
    status_calls: int = 0
    submit_calls: int = 0
    created: int = 0

    def submit(self, token: str | None, name: str | None = None) -> str:
        self.submit_calls += 1
        if self.dedup and token is not None:
            for job in self.jobs.values():
                if job.token == token:
                    return job.job_id
        self.created += 1
        job_id = f"job-{self.created}"
        script = self.scripts.pop(0) if self.scripts else list(self.default_script)
        self.jobs[job_id] = ToyJob(job_id, token, script)
        return job_id

    def status(self, job_id: str) -> str:
        self.status_calls += 1
        if self.status_errors:
            raise self.status_errors.pop(0)
        job = self.jobs.get(job_id)
        if job is None:
            raise HttpError(404, f"job {job_id} does not exist")
        return job.status

    def advance(self, job_id: str) -> str:
        job = self.jobs[job_id]
        job.polls += 1
        return job.status

    def find(self, token: str) -> str | None:
        return next((j.job_id for j in self.jobs.values() if j.token == token), None)

    def set_script(self, job_id: str, script: Iterable[str]) -> None:
        self.jobs[job_id].script, self.jobs[job_id].polls = list(script), 0


class ToyOperator(DurableJobMixin, BaseOperator):
    """A durable operator on :class:`ToyService`; ``searchable`` turns on ``find_submitted_job``."""

    external_id_key = "toy_job_id"

    def __init__(self, *, service: ToyService, searchable: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.searchable = searchable
        self.tokens: list[str | None] = []
        self.polled: list[str] = []

    def execute(self, context: Any) -> Any:
        return self.execute_resumable(context)

    def submit_job(self, context: Any) -> Any:
        self.tokens.append(self.submission_token)
        return self.service.submit(self.submission_token)

    def find_submitted_job(self, token: str, context: Any) -> Any:
        return self.service.find(token) if self.searchable else None

    def get_job_status(self, external_id: Any, context: Any) -> str:
        return self.service.status(external_id)

    def is_job_active(self, status: str) -> bool:
        return status in ("PENDING", "RUNNING")

    def is_job_succeeded(self, status: str) -> bool:
        return status == "SUCCEEDED"

    def poll_until_complete(self, external_id: Any, context: Any) -> Any:
        """Poll to the end; return the result (the upstream mixin returns this value on a reconnect)."""
        self.polled.append(external_id)
        status = self.service.status(external_id)
        while self.is_job_active(status):
            status = self.service.advance(external_id)
        if not self.is_job_succeeded(status):
            raise JobFailedError(f"job {external_id} ended {status}")
        return self.get_job_result(external_id, context)

    def get_job_result(self, external_id: Any, context: Any) -> Any:
        return {"job": external_id, "status": self.service.jobs[external_id].status}
