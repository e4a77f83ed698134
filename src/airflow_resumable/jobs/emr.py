"""Crash-safe EMR operators: EMR Serverless, EMR on EKS and EMR steps, as drop-in provider subclasses.

The Amazon provider's EMR operators start a new job on every try: ``EmrServerlessStartJobOperator`` makes
a random ``clientToken`` per operator instance, ``EmrContainerOperator`` one per try, and
``EmrAddStepsOperator`` has no idempotency at all (``AddJobFlowSteps`` takes no token), so a worker that
dies while a Spark job runs leaves that job running and the retry starts (and pays for) a second one.

The operators here take exactly the provider's arguments (swap the import) and are durable by default
(``durable=False`` gives the provider's behaviour back). Each try first decides, from what earlier tries
stored in ``task_state_store``, whether to reconnect to a running job, return the result of a finished
one, or submit (see :class:`~airflow_resumable.jobs.base.DurableJobMixin`). Every submission is preceded
by a write-ahead intent holding a deterministic token, which is:

- passed as the native ``clientToken`` (EMR Serverless, EMR on EKS), so AWS returns the same job run for a
  repeated submission;
- put in a marker that a retry searches for (``ListJobRuns`` / ``ListSteps``), because not every
  implementation honours the token and ``AddJobFlowSteps`` has none: the EMR Serverless job ``name`` ends
  with ``[<token>]``, EMR on EKS job runs carry the token in the ``airflow-resumable-token`` tag (and in
  their ``clientToken``), and every step ``Name`` ends with ``[<token>/<index>]``.

Deferrable mode (``deferrable=True``) makes the same decision and defers to the provider's own trigger on
the existing job instead of submitting another. Results keep the provider's shapes: the job run id for
EMR Serverless and EMR on EKS, the list of step ids for EMR steps.

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.
"""

from __future__ import annotations

import ast
import copy
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, cast

try:
    from airflow.providers.amazon.aws.hooks.emr import EmrContainerHook, EmrServerlessHook
    from airflow.providers.amazon.aws.links.emr import EmrClusterLink, EmrLogsLink, get_log_uri
    from airflow.providers.amazon.aws.operators import emr as _provider
    from airflow.providers.amazon.aws.triggers.emr import (
        EmrAddStepsTrigger,
        EmrContainerTrigger,
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
    raise ImportError(
        "airflow_resumable.jobs.emr needs the Amazon provider (apache-airflow-providers-amazon>=9.39), "
        f"which could not be imported ({exc}). Install it with: pip install 'airflow-resumable[amazon]'"
    ) from exc


from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs.base import Decision, DurableJobMixin

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["EmrAddStepsOperator", "EmrContainerOperator", "EmrServerlessStartJobOperator"]

_MAX_PAGES = 40
"""Pages of ListJobRuns / ListSteps (50 entries each) a search reads before giving up on a marker."""


class _EmrDurable(DurableJobMixin):
    """Status mapping, not-found errors and the AWS connection arguments shared by the three operators."""

    job_states: ClassVar[common.JobStates]

    if TYPE_CHECKING:  # set by the provider operator (AwsBaseOperator)
        aws_conn_id: str | None
        region_name: str | None
        verify: bool | str | None
        botocore_config: dict[str, Any] | None

    def is_job_active(self, status: str) -> bool:
        """Whether ``status`` is still running; an unknown state counts as active (logged), never as done."""
        if not self.job_states.is_known(status):
            self.log.warning(
                "Unknown job state, treating it as still running",
                state=status,
                service=self.job_states.service,
            )
        return self.job_states.is_active(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Whether ``status`` is this service's success state."""
        return self.job_states.is_succeeded(status)

    def is_job_not_found(self, error: BaseException) -> bool:
        return common.is_aws_not_found(error) or super().is_job_not_found(error)

    def _aws_args(self) -> dict[str, Any]:
        """The connection arguments every provider trigger takes, as this operator has them."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "botocore_config": self.botocore_config,
        }

    def _require_token(self) -> str:
        if not self.submission_token:
            raise JobError(
                f"{type(self).__name__}.submit_job() was called without a submission token. Call execute() "
                "(or submit_durably()) rather than submit_job() directly."
            )
        return self.submission_token


def _pages(paginator: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    for number, page in enumerate(paginator.paginate(**kwargs)):
        if number >= _MAX_PAGES:
            return
        yield page


# -- EMR Serverless --------------------------------------------------------------------------------
class EmrServerlessStartJobOperator(_EmrDurable, _provider.EmrServerlessStartJobOperator):
    """``EmrServerlessStartJobOperator`` that reconnects to its job run after a crash instead of resubmitting.

    Same arguments as the provider's operator, plus ``durable`` (default ``True``). What differs:

    - the ``clientToken`` is derived from the task instance and the submission generation (a
      ``client_request_token`` you pass is used only with ``durable=False``), and is recorded before the
      job is started;
    - the job ``name`` (yours, or ``emr_serverless_job_airflow``) ends with ``[<token>]``: a retry that
      finds an intent but no stored id lists the application's job runs and takes the one with the marker;
    - the job run id is stored under ``emr_serverless_job_run_id``; a retry reconnects to a job that is
      still running, returns the id of one that succeeded, and starts a new generation after ``FAILED`` or
      ``CANCELLED``;
    - with ``deferrable=True`` a retry defers to ``EmrServerlessStartJobTrigger`` on the existing job.

    Killing the task cancels the job run (the provider's ``on_kill``, also for a job this try reconnected
    to); in deferrable mode the trigger's ``cancel_on_kill`` applies, as upstream.
    """

    external_id_key = "emr_serverless_job_run_id"
    job_states = common.SERVERLESS_STATES
    default_job_name = "emr_serverless_job_airflow"

    def execute(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        """Durable start: decide, then reconnect, return, or submit once with the write-ahead token."""
        if not self.durable:
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
                    **self._aws_args(),
                    cancel_on_kill=self.cancel_on_kill,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay),
            )
        return job_id

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """The provider's, plus a clear error for the trigger's failure event.

        ``EmrServerlessStartJobTrigger`` reports a failed job or a waiter that gave up as
        ``{"status": "failure", "message": ...}`` without ``job_details``, on which the provider's method
        fails with ``KeyError: 'job_details'``. The job is left as it is: a retry reconnects to it while
        it runs, or starts a new generation if it failed.
        """
        if isinstance(event, dict) and event.get("status") != "success" and "job_details" not in event:
            raise AirflowException(
                f"EMR Serverless job failed or timed out in deferrable mode: {event.get('message', event)}"
            )
        return super().execute_complete(context, event)

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """Start the job run with the derived ``clientToken`` and the token marker in its name."""
        token = self._require_token()
        self._start_application(context)
        config = dict(self.config)
        name = self.name or config.pop("name", None) or self.default_job_name
        config.pop("name", None)
        config["tags"] = {**(config.get("tags") or {}), common.TOKEN_TAG: token}
        overrides = self.configuration_overrides
        if self.openlineage_inject_parent_job_info:
            overrides = inject_parent_job_information_into_emr_serverless_properties(overrides, context)
        if self.openlineage_inject_transport_info:
            overrides = inject_transport_information_into_emr_serverless_properties(overrides, context)
        args: dict[str, Any] = {
            "clientToken": token,
            "applicationId": self.application_id,
            "executionRoleArn": self.execution_role_arn,
            "jobDriver": self.job_driver,
            "name": common.with_marker(name, token),
            **config,
        }
        if overrides is not None:
            args["configurationOverrides"] = overrides
        self.log.info("Starting job on Application: %s", self.application_id)
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
        return str(run["jobRun"]["state"])

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Wait for the job run like the provider does; raise if it ends in a failed state."""
        job_id = str(external_id)
        self._adopt(job_id, context)
        if not self.wait_for_completion:
            return
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

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The job run id, as the provider's operator returns it."""
        job_id = str(external_id)
        self._adopt(job_id, context)
        return job_id

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The job run whose name carries ``token``'s marker, newest first; ``None`` when there is none."""
        kwargs: dict[str, Any] = {"applicationId": self.application_id}
        start = common.created_after(submitted_at)
        if start is not None:
            kwargs["createdAtAfter"] = start
        matches: list[dict[str, Any]] = []
        try:
            for page in _pages(self.hook.conn.get_paginator("list_job_runs"), **kwargs):
                matches += [
                    run for run in page.get("jobRuns", []) if common.has_marker(run.get("name"), token)
                ]
        except Exception as exc:
            if common.is_aws_not_found(exc):
                return None  # no job runs on the application (some implementations say "not found")
            raise
        return _pick(matches, "id", "state", self.job_states, self)

    # -- helpers ---------------------------------------------------------------------------------------
    def _adopt(self, job_id: str, context: Context) -> None:
        """Make ``job_id`` this try's job: ``on_kill`` cancels it and the extra links point at it."""
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
                    **self._aws_args(),
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


# -- EMR on EKS --------------------------------------------------------------------------------
class EmrContainerOperator(_EmrDurable, _provider.EmrContainerOperator):
    """``EmrContainerOperator`` (EMR on EKS) that reconnects to its job run after a crash.

    Same arguments as the provider's operator, plus ``durable`` (default ``True``). What differs:

    - the ``clientToken`` is derived from the task instance and the submission generation (a
      ``client_request_token`` you pass is used only with ``durable=False``) and recorded before submitting;
    - the job run is tagged ``airflow-resumable-token=<token>`` (your ``name`` is left as it is: EMR on EKS
      allows only 64 characters there); a retry that finds an intent but no stored id lists the virtual
      cluster's job runs and takes the one with that token (as ``clientToken`` or tag);
    - the job run id is stored under ``emr_containers_job_run_id``; a retry reconnects to a job that is
      pending, submitted, running or being cancelled, returns the id of a ``COMPLETED`` one, and submits a
      new generation after ``FAILED`` or ``CANCELLED``;
    - with ``deferrable=True`` a retry defers to ``EmrContainerTrigger`` on the existing job.

    Killing the task cancels the job run (the provider's ``on_kill``, also for a job this try reconnected
    to); in deferrable mode the trigger's ``cancel_on_kill`` applies, as upstream.
    """

    external_id_key = "emr_containers_job_run_id"
    job_states = common.CONTAINERS_STATES

    def execute(self, context: Context) -> str | None:
        """Durable start: decide, then reconnect, return, or submit once with the write-ahead token."""
        if not self.durable:
            return super().execute(context)
        if not self.deferrable:
            return cast("str | None", self.execute_resumable(context))
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("str | None", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            self.job_id = str(decision.external_id)
        else:
            self.job_id = str(self.submit_durably(context, decision))
        query_status = self.hook.check_query_status(job_id=self.job_id)
        self.check_failure(query_status)  # type: ignore[no-untyped-call]
        if query_status in EmrContainerHook.SUCCESS_STATES:
            return self.job_id
        timeout = (
            timedelta(seconds=self.max_polling_attempts * self.poll_interval)
            if self.max_polling_attempts
            else self.execution_timeout
        )
        limits: dict[str, Any] = (
            {"waiter_max_attempts": self.max_polling_attempts} if self.max_polling_attempts else {}
        )
        self.defer(
            timeout=timeout,
            trigger=EmrContainerTrigger(
                virtual_cluster_id=self.virtual_cluster_id,
                job_id=self.job_id,
                **self._aws_args(),
                waiter_delay=self.poll_interval,
                cancel_on_kill=self.cancel_on_kill,
                **limits,
            ),
            method_name="execute_complete",
        )
        return self.job_id  # pragma: no cover - defer() raises

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """Start the job run with the derived ``clientToken`` and the ``airflow-resumable-token`` tag."""
        token = self._require_token()
        overrides = self.configuration_overrides
        if self.openlineage_inject_parent_job_info:
            self.log.info("Injecting OpenLineage parent job information into EMR on EKS configuration.")
            overrides = inject_parent_job_information_into_emr_serverless_properties(overrides, context)
        if self.openlineage_inject_transport_info:
            self.log.info("Injecting OpenLineage transport information into EMR on EKS configuration.")
            overrides = inject_transport_information_into_emr_serverless_properties(overrides, context)
        self.job_id = str(
            self.hook.submit_job(
                self.name,
                self.execution_role_arn,
                self.release_label,
                self.job_driver,
                overrides,
                token,
                {**(self.tags or {}), common.TOKEN_TAG: token},
                self.job_retry_max_attempts,
            )
        )
        return self.job_id

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The job run's state from DescribeJobRun (retried on throttling; not found -> resubmit)."""
        run = self.hook.conn.describe_job_run(virtualClusterId=self.virtual_cluster_id, id=str(external_id))
        return str(run["jobRun"]["state"])

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Wait for the job run like the provider does; raise if it ends in a failed state."""
        self.job_id = str(external_id)
        if not self.wait_for_completion:
            return
        query_status = self.hook.poll_query_status(
            self.job_id,
            max_polling_attempts=self.max_polling_attempts,
            poll_interval=self.poll_interval,
        )
        self.check_failure(query_status)  # type: ignore[no-untyped-call]
        if not query_status or query_status in EmrContainerHook.INTERMEDIATE_STATES:
            raise AirflowException(
                f"Final state of EMR Containers job is {query_status}. "
                f"Max tries of poll status exceeded, query_execution_id is {self.job_id}."
            )

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The job run id, as the provider's operator returns it."""
        self.job_id = str(external_id)
        return self.job_id

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The job run submitted with ``token`` (its ``clientToken`` or token tag); ``None`` when none."""
        kwargs: dict[str, Any] = {"virtualClusterId": self.virtual_cluster_id}
        start = common.created_after(submitted_at)
        if start is not None:
            kwargs["createdAfter"] = start
        matches = [
            run
            for page in _pages(self.hook.conn.get_paginator("list_job_runs"), **kwargs)
            for run in page.get("jobRuns", [])
            if run.get("clientToken") == token or (run.get("tags") or {}).get(common.TOKEN_TAG) == token
        ]
        return _pick(matches, "id", "state", self.job_states, self)


# -- EMR steps --------------------------------------------------------------------------------
class EmrAddStepsOperator(_EmrDurable, _provider.EmrAddStepsOperator):
    """``EmrAddStepsOperator`` that finds the steps it added before a crash instead of adding them again.

    Same arguments as the provider's operator, plus ``durable`` (default ``True``). ``AddJobFlowSteps``
    takes no idempotency token, so every step ``Name`` gets a marker, ``[<token>/<index>]``, and a retry
    scans the cluster's steps (``ListSteps``, newest first) for it:

    - the submitted steps are stored under ``emr_step_ids`` as ``{"job_flow_id": ..., "step_ids": [...]}``;
      a retry reconnects while any step is pending or running, returns the ids when all completed, and adds
      all steps again (a new generation, new markers) when one was cancelled, failed or interrupted;
    - after a crash between adding the steps and storing their ids, the steps found by marker are reused
      and only the missing ones are added (also when only some of them reached the cluster);
    - with ``deferrable=True`` a retry defers to ``EmrAddStepsTrigger`` on the existing steps.

    The result is the provider's: the list of step ids, in the order of ``steps``. Like the provider, the
    operator does not cancel steps when the task is killed.
    """

    external_id_key = "emr_step_ids"
    job_states = common.STEP_STATES

    _job_flow_id_resolved: str | None = None

    def execute(self, context: Context) -> list[str]:
        """Durable add: reconnect to steps already on the cluster and add only the missing ones."""
        if not self.durable:
            return super().execute(context)
        self._rendered_steps(context)  # bad steps fail here, before anything is stored or added
        self._prepare_cluster(context)
        if not self.deferrable:
            return cast("list[str]", self.execute_resumable(context))
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("list[str]", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            submitted = decision.external_id
        else:
            submitted = self.submit_durably(context, decision)
        job_flow_id, step_ids = _steps_of(submitted)
        self.defer(
            trigger=EmrAddStepsTrigger(
                job_flow_id=job_flow_id,
                step_ids=step_ids,
                **self._aws_args(),
                waiter_max_attempts=self.waiter_max_attempts,
                waiter_delay=self.waiter_delay,
            ),
            method_name="execute_complete",
        )
        return step_ids  # pragma: no cover - defer() raises

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """Add the steps, each Name carrying ``[<token>/<index>]`` so a retry can find it with ListSteps."""
        token = self._require_token()
        job_flow_id = self._cluster()
        steps = self._rendered_steps(context)
        marked = [
            {**step, "Name": common.with_marker(step.get("Name"), token, i)} for i, step in enumerate(steps)
        ]
        # A repeated submission of this token may have added some steps already (within the last day).
        now = datetime.now(tz=timezone.utc)
        found = self._find_marked_steps(job_flow_id, token, len(steps), common.created_after(now))
        missing = [i for i in range(len(steps)) if i not in found]
        if found:
            self.log.info(
                "Steps of this submission are already on the cluster; adding only the missing ones",
                found=sorted(found),
                missing=missing,
                job_flow_id=job_flow_id,
            )
        if missing:
            self.log.info("Adding steps to %s", job_flow_id)
            added = self.add_steps(job_flow_id, [marked[i] for i in missing])
            if len(added) != len(missing):
                raise JobError(
                    f"AddJobFlowSteps returned {len(added)} step ids for {len(missing)} steps "
                    f"on {job_flow_id}."
                )
            found.update(zip(missing, added, strict=True))
        return {"job_flow_id": job_flow_id, "step_ids": [found[i] for i in range(len(steps))]}

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The combined state of the steps: failed if any failed, active while any runs, else completed."""
        job_flow_id, step_ids = _steps_of(external_id)
        states: dict[str, str] = {}
        for start in range(0, len(step_ids), 10):  # ListSteps takes at most ten ids
            batch = step_ids[start : start + 10]
            response = self.hook.conn.list_steps(ClusterId=job_flow_id, StepIds=batch)
            states.update({step["Id"]: step["Status"]["State"] for step in response.get("Steps", [])})
        lost = [step_id for step_id in step_ids if step_id not in states]
        if lost:
            raise common.StepsNotFoundError(f"Steps {lost} are not on cluster {job_flow_id}.")
        return common.aggregate_step_state(states[step_id] for step_id in step_ids)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> None:
        """Wait for every step like the provider does (when ``wait_for_completion``); raise on failure."""
        if not self.wait_for_completion:
            return
        job_flow_id, step_ids = _steps_of(external_id)
        waiter = self.hook.conn.get_waiter("step_complete")
        for step_id in step_ids:
            try:
                wait(
                    waiter=waiter,
                    waiter_max_attempts=self.waiter_max_attempts,
                    waiter_delay=self.waiter_delay,
                    args={"ClusterId": job_flow_id, "StepId": step_id},
                    failure_message=f"EMR Steps failed: {step_id}",
                    status_message="EMR Step status is",
                    status_args=["Step.Status.State", "Step.Status.StateChangeReason"],
                )
            except AirflowException as exc:
                if "EMR Steps failed" in str(exc):
                    resp = self.hook.conn.describe_step(ClusterId=job_flow_id, StepId=step_id)
                    details = resp.get("Step", {}).get("Status", {}).get("FailureDetails")
                    if details:
                        self.log.error("EMR Steps failed: %s", details)
                raise

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The step ids, in the provider's result shape."""
        return _steps_of(external_id)[1]

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The steps of the submission with ``token`` when *all* of them are on the cluster, else ``None``.

        A partial find returns ``None``: the retry then submits with the same token, and :meth:`submit_job`
        reuses the steps that are there and adds only the missing ones.
        """
        job_flow_id = self._cluster()
        count = len(self._rendered_steps(context))
        found = self._find_marked_steps(job_flow_id, token, count, common.created_after(submitted_at))
        if len(found) < count:
            if found:
                self.log.info("Found only some steps of the submission", found=sorted(found), expected=count)
            return None
        return {"job_flow_id": job_flow_id, "step_ids": [found[i] for i in range(count)]}

    # -- the AddJobFlowSteps call ----------------------------------------------------------------------
    def add_steps(self, job_flow_id: str, steps: list[dict[str, Any]]) -> list[str]:
        """Add ``steps`` (names already marked) to the cluster and return their ids, in order."""
        return list(
            self.hook.add_job_flow_steps(
                job_flow_id=job_flow_id,
                steps=steps,
                wait_for_completion=False,
                execution_role_arn=self.execution_role_arn,
            )
        )

    # -- helpers ---------------------------------------------------------------------------------------
    def _prepare_cluster(self, context: Context) -> str:
        """Resolve the cluster, push its id and persist the links, as the provider does before adding."""
        self._job_flow_id_resolved = None
        job_flow_id = self._cluster()
        if self.do_xcom_push:
            context["ti"].xcom_push(key="job_flow_id", value=job_flow_id)
        EmrClusterLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_flow_id=job_flow_id,
        )
        EmrLogsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_flow_id=self.job_flow_id,
            log_uri=get_log_uri(emr_client=self.hook.conn, job_flow_id=job_flow_id),
        )
        return str(job_flow_id)

    def _cluster(self) -> str:
        """The cluster id ``execute()`` resolved, else resolved now (for a standalone ``decide()``)."""
        if self._job_flow_id_resolved is None:
            found = self.job_flow_id or self.hook.get_cluster_id_by_name(
                str(self.job_flow_name), self.cluster_states
            )
            if not found:
                raise AirflowException(f"No cluster found for name: {self.job_flow_name}")
            self._job_flow_id_resolved = str(found)
        return self._job_flow_id_resolved

    def _rendered_steps(self, context: Context) -> list[dict[str, Any]]:
        """The steps as the provider would add them (a string is parsed; OpenLineage info injected)."""
        steps: Any = self.steps
        if isinstance(steps, str):
            steps = ast.literal_eval(steps)
        if not isinstance(steps, list) or not steps or not all(isinstance(step, dict) for step in steps):
            raise InvalidValueError(
                f"{type(self).__name__}: steps must be a non-empty list of step dicts (boto3 StepConfig), "
                f"got {steps!r}."
            )
        steps = copy.deepcopy(steps)
        if self.openlineage_inject_parent_job_info:
            steps = self._inject_openlineage_parent_job_information(steps, context)
        return cast("list[dict[str, Any]]", steps)

    def _find_marked_steps(
        self, job_flow_id: str, token: str, count: int, start: datetime | None
    ) -> dict[int, str]:
        """Index -> step id of the steps on the cluster whose Name carries ``token``'s marker.

        Steps are listed newest first; the scan stops at the first step created before ``start``.
        """
        found: dict[int, str] = {}
        for page in _pages(self.hook.conn.get_paginator("list_steps"), ClusterId=job_flow_id):
            for step in page.get("Steps", []):  # newest first
                created = step.get("Status", {}).get("Timeline", {}).get("CreationDateTime")
                if start is not None and created is not None and created < start:
                    return found
                name = step.get("Name")
                for index in range(count):
                    if index not in found and common.has_marker(name, token, index):
                        found[index] = step["Id"]
            if len(found) == count:
                break
        return found


# -- helpers --------------------------------------------------------------------------------
def _steps_of(external_id: Any) -> tuple[str, list[str]]:
    """``(job_flow_id, step_ids)`` of a stored steps id."""
    if (
        isinstance(external_id, dict)
        and isinstance(external_id.get("job_flow_id"), str)
        and isinstance(external_id.get("step_ids"), list)
        and external_id["step_ids"]
    ):
        return external_id["job_flow_id"], [str(step_id) for step_id in external_id["step_ids"]]
    raise common.StepsNotFoundError(
        f"Stored EMR steps {external_id!r} are not of the form {{'job_flow_id': ..., 'step_ids': [...]}}."
    )


def _pick(
    matches: list[dict[str, Any]], id_field: str, state_field: str, states: common.JobStates, op: Any
) -> str | None:
    """One job run among those carrying a marker: normally there is exactly one.

    Several can exist only when the backend ignored the token and a submission was repeated; then a
    succeeded or running one is preferred over a failed one, and the first listed (newest) wins a tie.
    """
    if not matches:
        return None
    if len(matches) > 1:
        op.log.warning(
            "Several job runs carry this submission's marker; reconnecting to one of them",
            job_run_ids=[m.get(id_field) for m in matches],
        )
    usable = [m for m in matches if str(m.get(state_field)) not in states.failed]
    return str((usable or matches)[0][id_field])
