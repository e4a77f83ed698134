"""Crash-safe EMR steps: ``EmrAddStepsOperator`` as a drop-in subclass of the provider's.

``AddJobFlowSteps`` takes no idempotency token, so the provider's operator adds the steps again on every
try. This one marks every step ``Name`` with the submission's token and, on a retry, looks for those
steps on the cluster before adding anything (see :class:`~airflow_resumable.jobs.base.DurableJobMixin`).
Import it from :mod:`airflow_resumable.jobs.emr`.
"""

from __future__ import annotations

import ast
import copy
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _emr_common as common

try:
    import airflow.providers.amazon.aws.operators.emr as _provider
    from airflow.providers.amazon.aws.links.emr import EmrClusterLink, EmrLogsLink, get_log_uri
    from airflow.providers.amazon.aws.triggers.emr import EmrAddStepsTrigger
    from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
    from airflow.providers.common.compat.sdk import AirflowException
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(common.PROVIDER_MISSING.format(error=exc)) from exc

from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

__all__ = ["EmrAddStepsOperator"]


class EmrAddStepsOperator(common.EmrDurable, _provider.EmrAddStepsOperator):
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
                **self.aws_args(),
                waiter_max_attempts=self.waiter_max_attempts,
                waiter_delay=self.waiter_delay,
            ),
            method_name="execute_complete",
        )
        return step_ids  # pragma: no cover - defer() raises

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """Add the steps, each Name carrying ``[<token>/<index>]`` so a retry can find it with ListSteps."""
        token = self.require_token()
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
        for page in common.pages(self.hook.conn.get_paginator("list_steps"), ClusterId=job_flow_id):
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
