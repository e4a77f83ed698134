"""Writing your own durable operator, on a toy job service.

``ToyJobService`` stands in for a real job API (Spark, Batch, a vendor's REST API): it keeps its jobs in a
JSON file, deduplicates submissions by idempotency token, and reports a job RUNNING for two status checks,
then SUCCEEDED. Two operators are built on it with ``DurableJobMixin``: a blocking one and a deferrable one.
In both DAGs the worker "dies" right after the first submit; the retry reconnects to the same job.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
from airflow.sdk import BaseOperator, dag

from airflow_resumable.jobs.base import Decision, DurableJobMixin


class JobNotFoundError(Exception):
    """The service does not know this job (any more)."""


class ToyJobService:
    """A job API stand-in. Same token -> same job, as real idempotency tokens behave."""

    def __init__(self) -> None:
        default = Path(tempfile.gettempdir()) / "toy-job-service.json"
        self.path = Path(os.environ.get("TOY_JOB_SERVICE_FILE", default))

    def _jobs(self) -> dict[str, dict]:
        return json.loads(self.path.read_text()) if self.path.exists() else {}

    def submit(self, name: str, token: str | None) -> str:
        jobs = self._jobs()
        for job_id, job in jobs.items():
            if token is not None and job["token"] == token:
                return job_id  # a repeated submission: the job it created before
        job_id = f"job-{len(jobs) + 1}"
        jobs[job_id] = {"name": name, "token": token, "checks": 0}
        self.path.write_text(json.dumps(jobs))
        return job_id

    def status(self, job_id: str) -> str:
        jobs = self._jobs()
        if job_id not in jobs:
            raise JobNotFoundError(job_id)
        jobs[job_id]["checks"] += 1
        self.path.write_text(json.dumps(jobs))
        return "RUNNING" if jobs[job_id]["checks"] <= 2 else "SUCCEEDED"


class ToyJobOperator(DurableJobMixin, BaseOperator):  # the mixin first, then BaseOperator
    """Runs one toy job and waits for it; a retry reconnects instead of submitting again."""

    external_id_key = "toy_job_id"

    def __init__(self, *, job_name: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job_name = job_name
        self.service = ToyJobService()

    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        # The write-ahead token: read back from the intent by every try of this submission, new after a
        # failure or a reset of the task's state.
        return self.service.submit(self.job_name, token=self.submission_token)

    def get_job_status(self, external_id, context):
        return self.service.status(external_id)

    def is_job_not_found(self, error):
        # Tell the mixin which of the client's errors mean "no such job": a new job is submitted then.
        return isinstance(error, JobNotFoundError) or super().is_job_not_found(error)

    def is_job_active(self, status):
        return status in ("PENDING", "RUNNING")

    def is_job_succeeded(self, status):
        return status == "SUCCEEDED"

    def poll_until_complete(self, external_id, context):
        status = self.service.status(external_id)
        while self.is_job_active(status):
            status = self.service.status(external_id)  # a real operator sleeps between checks
        if not self.is_job_succeeded(status):
            raise RuntimeError(f"job {external_id} ended {status}")

    def get_job_result(self, external_id, context):
        print(f"RESULT {external_id}")
        return external_id


class ToyDeferrableJobOperator(ToyJobOperator):
    """The same job, waited for by the triggerer: decide first, submit only when the decision says so."""

    def execute(self, context):
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return self.get_job_result(decision.external_id, context)
        if decision.action is Decision.RECONNECT:
            job_id = decision.external_id  # a retry: wait for the job we already have
        else:  # FRESH or RESUBMIT: write the intent, submit with its token, store the id
            job_id = self.submit_durably(context, decision)
        self.wait(job_id)

    def wait(self, job_id):
        self.defer(trigger=TimeDeltaTrigger(timedelta(0)), method_name="check")

    def check(self, context, event=None):
        job_id = context["task_state_store"].get(self.external_id_key)  # stored by submit_durably
        status = self.get_job_status(job_id, context)
        if self.is_job_active(status):
            self.wait(job_id)
        if not self.is_job_succeeded(status):
            raise RuntimeError(f"job {job_id} ended {status}")
        return self.get_job_result(job_id, context)


class LosesWorkerOnce:
    """For the demonstration only: try 1 dies right after submitting, before the id is stored."""

    def submit_job(self, context):
        job_id = super().submit_job(context)
        print(f"TRY {context['ti'].try_number} SUBMITTED {job_id}")
        if context["ti"].try_number == 1:
            raise RuntimeError("worker lost right after submitting")
        return job_id


class CrashingToyJob(LosesWorkerOnce, ToyJobOperator):
    pass


class CrashingToyDeferrableJob(LosesWorkerOnce, ToyDeferrableJobOperator):
    pass


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
def toy_job():
    CrashingToyJob(task_id="train", job_name="train-model")


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
def toy_job_deferrable():
    CrashingToyDeferrableJob(task_id="train", job_name="train-model")


toy_job()
toy_job_deferrable()
