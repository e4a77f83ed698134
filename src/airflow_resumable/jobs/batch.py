"""Crash-safe AWS Batch jobs: ``BatchOperator`` as a drop-in subclass of the provider's.

``SubmitJob`` takes no idempotency token, so the provider's operator submits a new job on every try: a
worker that dies after the job was submitted leaves it queued or running while the retry submits a second
one. This one tags every job with its submission's token and, on a retry, finds the job an earlier try
submitted before submitting anything (see [`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]).

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _aws_common as common
from airflow_resumable.jobs import _errors

try:
    import airflow.providers.amazon.aws.operators.batch as _provider
    from airflow.providers.amazon.aws.links.batch import BatchJobDetailsLink
    from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger
    from airflow.providers.common.compat.sdk import AirflowException
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(
        "airflow_resumable.jobs.batch needs the Amazon provider (apache-airflow-providers-amazon>=9.39), "
        f"which could not be imported ({exc}). Install it with: pip install 'airflow-resumable[amazon]'"
    ) from exc

from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import ResumeDecision

__all__ = ["BATCH_STATES", "TOKEN_TAG", "BatchJobNotFoundError", "BatchOperator"]

TOKEN_TAG = common.TOKEN_TAG
"""The job tag that carries the submission's token: ``airflow-resumable-token``."""

MAX_TAGS = 50
"""AWS Batch takes at most 50 tags per job (``SubmitJob`` ``tags``)."""

DESCRIBE_LIMIT = 100
"""``DescribeJobs`` takes at most 100 job ids per call."""

# AWS Batch JobStatus (API reference, JobDetail.status).
BATCH_STATES = common.JobStates(
    service="AWS Batch",
    active=frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"}),
    succeeded=frozenset({"SUCCEEDED"}),
    failed=frozenset({"FAILED"}),
)


class BatchJobNotFoundError(JobError):
    """``DescribeJobs`` returned no job for a stored id: AWS Batch no longer knows it (a new generation)."""


class BatchOperator(common.AwsDurable, _provider.BatchOperator):
    """``BatchOperator`` that finds its job after a crash instead of submitting another.

    Same arguments, attributes, links, XComs and result (the job id) as the provider's operator, plus
    ``durable`` (default ``True``). ``SubmitJob`` has no idempotency token (AWS cannot deduplicate a
    repeated request), so this is the marker-and-search kind of durability:

    - before ``SubmitJob`` a write-ahead intent records the submission's token (with a random part per
      submission); the job is tagged ``airflow-resumable-token=<token>`` (added to the request's ``tags``;
      your ``tags``, the job name and everything else are sent unchanged, and ``propagateTags`` is not
      touched). The job id is stored under ``batch_job_id``;
    - after a crash between ``SubmitJob`` and storing the id, a retry lists the jobs of your queue with your
      job name (``ListJobs`` with a ``JOB_NAME`` filter: any status, newest first, those created since a
      day before the intent only) and reads their tags (``DescribeJobs``) for the token; when the intent is
      younger than ``listing_settle_seconds`` and nothing is found, it waits for the rest of that time and
      lists once more (a job just submitted may not be listed at once);
    - a retry waits again on a job that is queued or running (with ``wait_for_completion`` or
      ``deferrable``), returns the id of one that succeeded (without waiting: one that was submitted and
      has not failed), and submits a new job (a new generation) only when the earlier one ``FAILED``
      (a killed try's ``on_kill`` terminates it: ``FAILED``) or is unknown to AWS Batch; not found at all:
      it is submitted again (same generation and token);
    - with ``deferrable=True`` a retry defers to ``BatchJobTrigger`` on the existing job.

    What it cannot do: AWS Batch lists and describes a finished job only for a limited time (the API
    reference states no period), and ``ListJobs`` may not show a job in the first moments after
    ``SubmitJob``. A worker lost after AWS accepted ``SubmitJob`` (before the id was stored) whose retry
    cannot see the job (not listed after the settle time, dropped by AWS, or behind more than
    ``max_candidates`` newer jobs of the same name in the queue) submits a second job. The job name and
    queue must render the same on every try (the search filters by them). Killing the task terminates the
    job (the provider's ``on_kill``, also for a job this try reconnected to). Without a task state store
    in the context it is the provider's operator (with a warning).
    """

    external_id_key = "batch_job_id"
    job_states = BATCH_STATES
    user_token_argument = None  # SubmitJob takes no token

    listing_settle_seconds: float = 30.0
    """How long after the intent's time a search that finds nothing waits and lists once more."""

    max_candidates: int = 500
    """Jobs with the job name (newest first) a search reads with ``DescribeJobs`` for the token tag."""

    def execute(self, context: Context) -> str | None:
        """Durable submit: decide, then wait on the job found, return its id, or submit it once."""
        if not self.runs_durably(context):
            self.submission_token = None  # the provider's own submit, untagged
            return super().execute(context)
        self._check_tags()
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("str", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            self._adopt(str(decision.external_id), context)
        else:
            self.submit_durably(context, decision)
        if self.deferrable:
            return self._defer_as_the_provider(context)
        if self.wait_for_completion:
            self._poll(self.job_id, context)
        return self.job_id

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """``SubmitJob`` as the provider submits it, the request's ``tags`` carrying the token tag.

        Without a current submission token (``durable=False``, no task state store) the provider's submit
        runs unchanged. Returns the job id (the provider's method sets ``job_id`` and returns nothing).
        """
        token = self.submission_token
        if token is None:
            _provider.BatchOperator.submit_job(self, context)
            return self.job_id
        with self._token_tag(token):
            _provider.BatchOperator.submit_job(self, context)
        return self.job_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The job's status from one ``DescribeJobs`` call (no job in the answer: not found)."""
        job_id = str(external_id)
        jobs = self.hook.client.describe_jobs(jobs=[job_id]).get("jobs") or []
        match = [job for job in jobs if job.get("jobId") == job_id]
        if not match:
            raise BatchJobNotFoundError(f"AWS Batch does not know the job {job_id} (DescribeJobs: no job).")
        return str(match[0].get("status"))

    def is_job_active(self, status: str) -> bool:
        """Worth waiting on (``wait_for_completion`` or ``deferrable``): queued or running."""
        return self._waits() and super().is_job_active(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Done for this operator: ``SUCCEEDED``, or (without waiting) submitted and not ``FAILED``."""
        if self._waits():
            return super().is_job_succeeded(status)
        return status not in self.job_states.failed

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait as the provider does (``monitor_job``: links, waiters or polling, logs, success check)."""
        self._adopt(str(external_id), context)
        self.monitor_job(context)
        return self.job_id

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The job id, with the links the provider leaves after a job it waited on."""
        self._adopt(str(external_id), context)
        if self._waits():
            self._persist_links(context)
            self._persist_cloudwatch_link(context)
        return self.job_id

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The job tagged with ``token`` in the queue, among those with the job name; ``None`` if none.

        Lists once more after the rest of
        ``listing_settle_seconds``
        when nothing is found and the intent is younger than that.
        """
        found = self._search(token, submitted_at)
        if found is None and submitted_at is not None:
            age = (datetime.now(tz=timezone.utc) - submitted_at).total_seconds()
            pause = min(self.listing_settle_seconds, self.listing_settle_seconds - age)
            if pause > 0:
                self.log.info(
                    "No job carries this submission's tag yet; listing again once ListJobs caught up",
                    token=token,
                    wait_seconds=round(pause, 1),
                )
                time.sleep(pause)
                found = self._search(token, submitted_at)
        return found

    def is_job_not_found(self, error: BaseException) -> bool:
        """``DescribeJobs`` without the job (`BatchJobNotFoundError`), then the shared AWS reading."""
        if any(isinstance(e, BatchJobNotFoundError) for e in _errors.causes(error)):
            return True
        return super().is_job_not_found(error)

    def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
        """Never: ``SubmitJob`` always makes a new job, it cannot hand back an earlier one."""
        return False

    # -- helpers ---------------------------------------------------------------------------------------
    def _waits(self) -> bool:
        """Whether the provider waits for the job: ``deferrable`` always, else ``wait_for_completion``."""
        return bool(self.deferrable or self.wait_for_completion)

    def _check_tags(self) -> None:
        """Refuse, before anything is written, tags that leave no room for the token tag."""
        tags = self.tags if isinstance(self.tags, dict) else {}
        if len({k for k in tags if k != TOKEN_TAG}) >= MAX_TAGS:
            raise InvalidValueError(
                f"{type(self).__name__} {self.task_id!r} has {len(tags)} tags; AWS Batch takes at most "
                f"{MAX_TAGS} per job, and a durable submission adds the tag {TOKEN_TAG!r} to find the job "
                "after a crash. Drop one tag, or pass durable=False."
            )

    @contextmanager
    def _token_tag(self, token: str) -> Iterator[None]:
        """While the block runs, ``SubmitJob`` on this operator's client carries the token tag."""
        events = self.hook.conn.meta.events
        event, handler_id = "before-parameter-build.batch.SubmitJob", f"airflow-resumable-{id(self)}"

        def add_tag(params: dict[str, Any], **_: Any) -> None:
            params["tags"] = {**(params.get("tags") or {}), TOKEN_TAG: token}

        events.register_first(event, add_tag, unique_id=handler_id)
        try:
            yield
        finally:
            events.unregister(event, unique_id=handler_id)

    def _search(self, token: str, submitted_at: datetime | None) -> str | None:
        start = common.created_after(submitted_at)
        start_ms = int(start.timestamp() * 1000) if start is not None else None
        filters = [{"name": "JOB_NAME", "values": [self.job_name]}]
        paginator = self.hook.conn.get_paginator("list_jobs")
        candidates: list[str] = []
        for page in common.pages(paginator, jobQueue=self.job_queue, filters=filters):
            summaries = page.get("jobSummaryList") or []
            candidates += [
                s["jobId"]
                for s in summaries
                if s.get("jobName") == self.job_name
                and (start_ms is None or s.get("createdAt", 0) >= start_ms)
            ]
            # newest first: a page that reaches back before the window, or enough candidates, ends it
            older = start_ms is not None and any(s.get("createdAt", 0) < start_ms for s in summaries)
            if older or len(candidates) >= self.max_candidates:
                break
        matches: list[dict[str, Any]] = []
        candidates = candidates[: self.max_candidates]
        for first in range(0, len(candidates), DESCRIBE_LIMIT):
            chunk = candidates[first : first + DESCRIBE_LIMIT]
            for job in self.hook.client.describe_jobs(jobs=chunk).get("jobs") or []:
                if (job.get("tags") or {}).get(TOKEN_TAG) == token:
                    matches.append(job)
        return common.pick(matches, "jobId", "status", self.job_states, self)

    def _defer_as_the_provider(self, context: Context) -> str:
        """The provider's deferrable path after submitting: links, then return, raise or defer by status."""
        job = self._persist_links(context)
        job_status = job.get("status")
        if job_status == self.hook.SUCCESS_STATE:
            self._persist_cloudwatch_link(context)
            self.log.info("Job completed.")
            return cast("str", self.job_id)
        if job_status == self.hook.FAILURE_STATE:
            self._persist_cloudwatch_link(context)
            raise AirflowException(f"Error while running job: {self.job_id} is in {job_status} state")
        if job_status in self.hook.INTERMEDIATE_STATES:
            self.defer(
                timeout=self.execution_timeout,
                trigger=BatchJobTrigger(
                    job_id=self.job_id,
                    waiter_max_attempts=self.max_retries,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    waiter_delay=self.poll_interval,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
            )
        raise AirflowException(f"Unexpected status: {job_status}")

    def _adopt(self, job_id: str, context: Context) -> None:
        """Make ``job_id`` this try's job: ``on_kill`` terminates it, the job link points at it."""
        if self.job_id == job_id:
            return
        self.job_id = job_id
        BatchJobDetailsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_id=job_id,
        )
