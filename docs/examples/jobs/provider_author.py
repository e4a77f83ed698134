"""Making a provider's submit-and-poll operator crash-safe with ``DurableJobMixin``.

``AcmeJobOperator`` stands for an operator a provider already ships: it starts a job over HTTP, polls it
and cancels it on kill, and stores nothing, so a retry after the worker died starts a second job.
``DurableAcmeJobOperator`` is the whole change (under 40 lines): the mixin first, the provider's class
second, the six methods mapped onto what the provider's operator already does, and the write-ahead
token sent as the service's ``Idempotency-Key``. The service is provider_author_service.py.
"""

from __future__ import annotations

import os
import time

import requests
from airflow.sdk import BaseOperator, dag

from airflow_resumable.jobs.base import DurableJobMixin


class AcmeJobNotFound(Exception):
    """The service does not know the job (404)."""


# -- the provider's operator, as it is -----------------------------------------------------------------------
class AcmeJobOperator(BaseOperator):
    """Runs ``command`` as an Acme job and waits for it (the provider's operator: not crash-safe)."""

    template_fields = ("command",)

    def __init__(self, *, command: str, url: str | None = None, poll_seconds: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.command, self.poll_seconds = command, poll_seconds
        self.url = url or os.environ.get("ACME_JOBS_URL", "http://127.0.0.1:8080")
        self.job_id: str | None = None

    def start(self, key: str | None = None) -> str:
        headers = {"Idempotency-Key": key} if key else {}
        answer = requests.post(
            f"{self.url}/jobs", json={"command": self.command}, headers=headers, timeout=30
        )
        answer.raise_for_status()
        return answer.json()["id"]

    def state(self, job_id: str) -> str:
        answer = requests.get(f"{self.url}/jobs/{job_id}", timeout=30)
        if answer.status_code == 404:
            raise AcmeJobNotFound(job_id)
        answer.raise_for_status()
        return answer.json()["state"]

    def wait(self, job_id: str) -> None:
        while (state := self.state(job_id)) == "RUNNING":
            time.sleep(self.poll_seconds)
        if state != "SUCCEEDED":
            raise RuntimeError(f"Acme job {job_id} ended {state}")

    def execute(self, context):
        self.job_id = self.start()
        self.wait(self.job_id)
        return self.job_id

    def on_kill(self) -> None:
        if self.job_id:
            requests.post(f"{self.url}/jobs/{self.job_id}/cancel", timeout=30)


# -- the durable drop-in: everything it takes ----------------------------------------------------------------
class DurableAcmeJobOperator(DurableJobMixin, AcmeJobOperator):  # the mixin first
    """``AcmeJobOperator``, crash-safe: a retry reconnects to its job instead of starting another."""

    external_id_key = "acme_job_id"

    def execute(self, context):
        return self.execute_resumable(context)  # durable=False: the mixin submits, polls, returns

    def submit_job(self, context):
        # The write-ahead token: every try of one submission sends the same key; new after a failure.
        self.job_id = self.start(key=self.submission_token)
        return self.job_id

    def get_job_status(self, external_id, context):
        return self.state(external_id)

    def is_job_not_found(self, error):
        return isinstance(error, AcmeJobNotFound) or super().is_job_not_found(error)

    def is_job_active(self, status):
        return status == "RUNNING"

    def is_job_succeeded(self, status):
        return status == "SUCCEEDED"

    def poll_until_complete(self, external_id, context):
        self.job_id = external_id  # on_kill cancels the job this try follows
        self.wait(external_id)

    def get_job_result(self, external_id, context):
        return external_id  # what the provider's execute returns


@dag(schedule=None)
def acme_nightly():
    DurableAcmeJobOperator(task_id="train", command="train --epochs 3", retries=2)


acme_nightly()
