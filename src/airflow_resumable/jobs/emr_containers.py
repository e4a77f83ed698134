"""Crash-safe EMR on EKS: ``EmrContainerOperator`` as a drop-in subclass of the provider's.

The provider's operator makes a fresh ``clientToken`` on every try, so a retry after a crash starts a
second job run. This one decides first, from what earlier tries stored in ``task_state_store``, whether to
reconnect, return the id of a finished run, or submit once with a write-ahead token (see
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]). Import it from
`airflow_resumable.jobs.emr`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _emr_common as common

try:
    import airflow.providers.amazon.aws.operators.emr as _provider
    from airflow.providers.amazon.aws.hooks.emr import EmrContainerHook
    from airflow.providers.amazon.aws.triggers.emr import EmrContainerTrigger
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

__all__ = ["EmrContainerOperator"]


class EmrContainerOperator(common.EmrDurable, _provider.EmrContainerOperator):
    """``EmrContainerOperator`` (EMR on EKS) that reconnects to its job run after a crash.

    Same arguments as the provider's operator, plus ``durable`` (default ``True``). What differs:

    - the ``clientToken`` is recorded in a write-ahead intent before submitting: your
      ``client_request_token`` for the first submission (``<token>-<nonce>-g<n>`` after a failed one), else
      one derived per task instance and submission;
    - the job run is tagged ``airflow-resumable-token=<token>`` (your ``name`` is left as it is: EMR on EKS
      allows only 64 characters there); a retry that finds an intent but no stored id lists the virtual
      cluster's job runs and takes the one with that token (as ``clientToken`` or tag);
    - the job run id is stored under ``emr_containers_job_run_id``; a retry reconnects to a job that is
      pending, submitted, running or being cancelled, returns the id of a ``COMPLETED`` one, and submits a
      new generation after ``FAILED`` or ``CANCELLED``;
    - with ``deferrable=True`` a retry defers to ``EmrContainerTrigger`` on the existing job.

    Killing the task cancels the job run (the provider's ``on_kill``, also for a job this try reconnected
    to); in deferrable mode the trigger's ``cancel_on_kill`` applies, as upstream. Without a task state
    store in the context it is the provider's operator (with a warning).
    """

    external_id_key = "emr_containers_job_run_id"
    job_states = common.CONTAINERS_STATES

    def execute(self, context: Context) -> str | None:
        """Durable start: decide, then reconnect, return, or submit once with the write-ahead token."""
        if not self.runs_durably(context):
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
                **self.aws_args(),
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
        token = self.require_token()
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

    def job_created_at(self, external_id: JsonValue) -> datetime | None:
        """The job run's ``createdAt`` from DescribeJobRun."""
        run = self.hook.conn.describe_job_run(virtualClusterId=self.virtual_cluster_id, id=str(external_id))
        created = run["jobRun"].get("createdAt")
        return created if isinstance(created, datetime) else None

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait for the job run like the provider does; raise as it does. Returns the job run id."""
        self.job_id = str(external_id)
        if not self.wait_for_completion:
            return self.job_id
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
        return self.job_id

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
            for page in common.pages(self.hook.conn.get_paginator("list_job_runs"), **kwargs)
            for run in page.get("jobRuns", [])
            if run.get("clientToken") == token or (run.get("tags") or {}).get(common.TOKEN_TAG) == token
        ]
        return common.pick(matches, "id", "state", self.job_states, self)
