"""Crash-safe EMR Serverless: ``EmrServerlessStartJobOperator`` as a drop-in subclass of the provider's.

The provider's operator makes a random ``clientToken`` per operator instance, so a worker that dies while
a Spark job runs leaves that job running and the retry starts (and pays for) a second one. This one
decides first, from what earlier tries stored in ``task_state_store``, whether to reconnect to the job,
return the id of a finished one, or submit once with a write-ahead token (see
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]). Import it from
`airflow_resumable.jobs.emr`.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _emr_common as common

try:
    import airflow.providers.amazon.aws.operators.emr as _provider
    from airflow.providers.amazon.aws.hooks.emr import EmrServerlessHook
    from airflow.providers.amazon.aws.triggers.emr import (
        EmrServerlessStartApplicationTrigger,
        EmrServerlessStartJobTrigger,
    )
    from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
    from airflow.providers.common.compat.openlineage.utils.spark import (
        inject_parent_job_information_into_emr_serverless_properties,
        inject_transport_information_into_emr_serverless_properties,
    )
    from airflow.providers.common.compat.sdk import AirflowException
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(common.PROVIDER_MISSING.format(error=exc)) from exc

from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["EmrServerlessStartJobOperator"]


class EmrServerlessStartJobOperator(common.EmrDurable, _provider.EmrServerlessStartJobOperator):
    """``EmrServerlessStartJobOperator`` that reconnects to its job run after a crash instead of resubmitting.

    Same arguments, attributes and results as the provider's operator, plus ``durable`` (default
    ``True``). What differs:

    - the ``clientToken`` is recorded in a write-ahead intent before the job is started: your
      ``client_request_token`` for the first submission (``<token>-<nonce>-g<n>`` after a failed one), else
      one derived per task instance and submission;
    - the job run is tagged ``airflow-resumable-token=<token>``; its ``name`` is the provider's (yours, or
      ``emr_serverless_job_airflow_<uuid>``, the uuid taken from the token). A retry that finds an intent
      but no stored id lists the application's recent job runs with that name and takes the tagged one;
    - the job run id is stored under ``emr_serverless_job_run_id``; a retry reconnects to a job that is
      still running, returns the id of one that succeeded, and starts a new generation after ``FAILED`` or
      ``CANCELLED``;
    - with ``deferrable=True`` a retry defers to ``EmrServerlessStartJobTrigger`` on the existing job.

    Killing the task cancels the job run (the provider's ``on_kill``, also for a job this try reconnected
    to); in deferrable mode the trigger's ``cancel_on_kill`` applies, as upstream. Without a task state
    store in the context it is the provider's operator (with a warning).
    """

    external_id_key = "emr_serverless_job_run_id"
    job_states = common.SERVERLESS_STATES
    default_job_name = "emr_serverless_job_airflow"

    @property
    def _seen_names(self) -> dict[str, str]:
        """Job run id -> name, as status checks saw them (the name of a job this try reconnects to)."""
        return cast("dict[str, str]", self.__dict__.setdefault("_seen_job_names", {}))

    def execute(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        """Durable start: decide, then reconnect, return, or submit once with the write-ahead token."""
        if not self.runs_durably(context):
            return super().execute(context, event)
        if not self.deferrable:
            return cast("str | None", self.execute_resumable(context))
        # An event means the application-start trigger called back: the decision that sent this try to
        # wait for the application was counted then, so this one (normally the same) is not counted again.
        decision = self.decide(context) if event is None else self._decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("str | None", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            job_id = str(decision.external_id)
            self._adopt(job_id, context)
        else:
            self._start_application(context)  # may defer; the trigger calls execute() again
            job_id = str(self.submit_durably(context, decision))
        if self.wait_for_completion:
            self.defer(
                trigger=EmrServerlessStartJobTrigger(
                    application_id=self.application_id,
                    job_id=job_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    **self.aws_args(),
                    cancel_on_kill=self.cancel_on_kill,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay),
            )
        return job_id

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """Start the job run as the provider does, with the recorded ``clientToken`` and the token tag."""
        token = self.require_token()
        self._start_application(context)
        self.log.info("Starting job on Application: %s", self.application_id)
        self.name = self.name or self.config.pop("name", self._default_name(token))
        overrides = self.configuration_overrides
        if self.openlineage_inject_parent_job_info:
            self.log.info("Injecting OpenLineage parent job information into EMR Serverless configuration.")
            overrides = inject_parent_job_information_into_emr_serverless_properties(overrides, context)
        if self.openlineage_inject_transport_info:
            self.log.info("Injecting OpenLineage transport information into EMR Serverless configuration.")
            overrides = inject_transport_information_into_emr_serverless_properties(overrides, context)
        args: dict[str, Any] = {
            "clientToken": token,
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "jobDriver": self.job_driver,
            "name": self.name,
            **self.config,
        }
        args["tags"] = {**(args.get("tags") or {}), common.TOKEN_TAG: token}
        if overrides is not None:
            args["configurationOverrides"] = overrides
        response = self.hook.conn.start_job_run(**args)
        if response["ResponseMetadata"]["HTTPStatusCode"] != 200:
            raise AirflowException(f"EMR serverless job failed to start: {response}")
        job_id = str(response["jobRunId"])
        self.log.info("EMR serverless job started: %s", job_id)
        self._adopt(job_id, context)
        return job_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The job run's state from GetJobRun (retried on throttling; not found -> resubmit)."""
        run = self.hook.conn.get_job_run(applicationId=self.application_id, jobRunId=str(external_id))
        if run["jobRun"].get("name"):
            self._seen_names[str(external_id)] = str(run["jobRun"]["name"])
        return str(run["jobRun"]["state"])

    def job_created_at(self, external_id: JsonValue) -> datetime | None:
        """The job run's ``createdAt`` from GetJobRun."""
        run = self.hook.conn.get_job_run(applicationId=self.application_id, jobRunId=str(external_id))
        created = run["jobRun"].get("createdAt")
        return created if isinstance(created, datetime) else None

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait for the job run like the provider does; raise as it does. Returns the job run id."""
        job_id = str(external_id)
        self._adopt(job_id, context)
        if not self.wait_for_completion:
            return job_id
        try:
            wait(
                waiter=self.hook.get_waiter("serverless_job_completed"),
                waiter_max_attempts=self.waiter_max_attempts,
                waiter_delay=self.waiter_delay,
                args={"applicationId": self.application_id, "jobRunId": job_id},
                failure_message="Serverless Job failed",
                status_message="Serverless Job status is",
                status_args=["jobRun.state", "jobRun.stateDetails"],
            )
        except AirflowException as exc:
            if "Waiter error: max attempts reached" in str(exc):
                self.log.info("Cancelling EMR Serverless job %s due to max waiter attempts reached", job_id)
                try:
                    self.hook.conn.cancel_job_run(applicationId=self.application_id, jobRunId=job_id)
                except Exception:
                    self.log.exception("Failed to cancel EMR Serverless job %s after waiter timeout", job_id)
            raise
        return job_id

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The job run id, as the provider's operator returns it."""
        job_id = str(external_id)
        self._adopt(job_id, context)
        return job_id

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The job run tagged with ``token`` among the application's recent runs; ``None`` when none.

        ``ListJobRuns`` returns no tags, so only the runs that carry the name this submission used (or an
        older version's ``[<token>]`` name marker) are read with ``GetJobRun``, newest first.
        """
        kwargs: dict[str, Any] = {"applicationId": self.application_id}
        start = common.created_after(submitted_at)
        if start is not None:
            kwargs["createdAtAfter"] = start
        name = self.name or self.config.get("name") or self._default_name(token)
        matches: list[dict[str, Any]] = []
        try:
            for page in common.pages(self.hook.conn.get_paginator("list_job_runs"), **kwargs):
                for run in page.get("jobRuns", []):
                    if common.has_marker(run.get("name"), token):
                        matches.append(run)
                    elif run.get("name") == name and len(matches) < common.MAX_CANDIDATES:
                        tags = self.hook.conn.get_job_run(
                            applicationId=self.application_id, jobRunId=run["id"]
                        )
                        if (tags["jobRun"].get("tags") or {}).get(common.TOKEN_TAG) == token:
                            matches.append(run)
        except Exception as exc:
            if common.is_aws_not_found(exc):
                return None  # no job runs on the application (some implementations say "not found")
            raise
        return common.pick(matches, "id", "state", self.job_states, self)

    # -- helpers ---------------------------------------------------------------------------------------
    def _default_name(self, token: str) -> str:
        """The provider's default name, ``emr_serverless_job_airflow_<uuid>``, the uuid taken from ``token``
        (the same for every try of one submission, so a retry can look for it)."""
        return f"{self.default_job_name}_{uuid.UUID(hashlib.sha256(token.encode()).hexdigest()[:32])}"

    def _tagged(self, job_id: str) -> str | None:
        """The submission token a job run is tagged with (``None``: untagged)."""
        run = self.hook.conn.get_job_run(applicationId=self.application_id, jobRunId=job_id)["jobRun"]
        return cast("str | None", (run.get("tags") or {}).get(common.TOKEN_TAG))

    def _adopt(self, job_id: str, context: Context) -> None:
        """Make ``job_id`` this try's job: ``on_kill`` cancels it and the extra links point at it."""
        if not self.name and job_id in self._seen_names:
            self.name = self._seen_names[job_id]  # as after the provider's submit: the job's name
        if self.job_id == job_id:
            return
        self.job_id = job_id
        self.persist_links(context)

    def _start_application(self, context: Context) -> None:
        """Start the application if it is not running, as the provider does (deferring in deferrable mode)."""
        app_state = self.hook.conn.get_application(applicationId=self.application_id)["application"]["state"]
        if app_state in EmrServerlessHook.APPLICATION_SUCCESS_STATES:
            return
        self.log.info("Application state is %s", app_state)
        self.log.info("Starting application %s", self.application_id)
        self.hook.conn.start_application(applicationId=self.application_id)
        if self.deferrable:
            self.defer(
                trigger=EmrServerlessStartApplicationTrigger(
                    application_id=self.application_id,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    **self.aws_args(),
                ),
                method_name="execute",
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay),
            )
        wait(
            waiter=self.hook.get_waiter("serverless_app_started"),
            waiter_max_attempts=self.waiter_max_attempts,
            waiter_delay=self.waiter_delay,
            args={"applicationId": self.application_id},
            failure_message="Serverless Application failed to start",
            status_message="Serverless Application status is",
            status_args=["application.state", "application.stateDetails"],
        )
