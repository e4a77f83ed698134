"""Crash-safe EMR steps: ``EmrAddStepsOperator`` as a drop-in subclass of the provider's.

``AddJobFlowSteps`` takes no idempotency token, so the provider's operator adds the steps again on every
try. This one marks every step ``Name`` with the submission's token and, on a retry, looks for those
steps on the cluster the submission recorded before adding anything (see
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]). Import it from
`airflow_resumable.jobs.emr`.
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

from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import ResumeDecision

__all__ = ["EmrAddStepsOperator"]

_GONE = frozenset({"TERMINATING", "TERMINATED", "TERMINATED_WITH_ERRORS"})
"""Cluster states in which no step can be added."""


class EmrAddStepsOperator(common.EmrDurable, _provider.EmrAddStepsOperator):
    """``EmrAddStepsOperator`` that finds the steps it added before a crash instead of adding them again.

    Same arguments, XComs, links and result as the provider's operator, plus ``durable`` (default
    ``True``). ``AddJobFlowSteps`` takes no idempotency token, so every step ``Name`` gets a marker,
    ``[<token>/<index>]`` (the token holds a random part per submission), and a retry scans the cluster's
    steps (``ListSteps``, newest first) for it:

    - the write-ahead intent records the cluster (``job_flow_id``) before the steps are added; the steps
      are stored under ``emr_step_ids`` as ``{"job_flow_id": ..., "step_ids": [...]}``;
    - a retry reconnects while any step is pending or running (also when another step with
      ``ActionOnFailure=CONTINUE`` already failed: a running step is never added twice), returns the ids
      when all completed, and adds all steps again (a new generation, new markers) once none runs and one
      was cancelled, failed or interrupted, or when the steps are no longer on their cluster;
    - after a crash between adding the steps and storing their ids, the steps found by marker on the
      recorded cluster are reused and only the missing ones are added;
    - with ``deferrable=True`` a retry defers to ``EmrAddStepsTrigger`` on the existing steps.

    Like the provider, the operator does not cancel steps when the task is killed. With no steps (or
    steps that are not step dicts), or without a task state store in the context, it is the provider's
    operator (the latter with a warning).
    """

    external_id_key = "emr_step_ids"
    job_states = common.STEP_STATES
    user_token_argument = None  # AddJobFlowSteps takes no token

    _job_flow_id_resolved: str | None = None
    _steps_this_try: list[dict[str, Any]] | None = None

    def execute(self, context: Context) -> list[str]:
        """Durable add: reconnect to steps already on the cluster and add only the missing ones."""
        self._job_flow_id_resolved = None
        self._steps_this_try = None
        if not self.runs_durably(context) or not _step_dicts(self.steps):
            return super().execute(context)
        decision = self.decide(context)
        if decision.submits:
            self._prepare_cluster(context, self._cluster())
        else:
            self._prepare_cluster(context, _steps_of(decision.external_id)[0])
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("list[str]", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            submitted = decision.external_id
        else:
            submitted = self.submit_durably(context, decision)
        if not self.deferrable:
            self._poll(submitted, context)
            return cast("list[str]", self.get_job_result(submitted, context))
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
        on_cluster: dict[int, dict[str, Any]] = {}
        if self.submission_repeats:  # an earlier try's submission with this token may have added some steps
            now = datetime.now(tz=timezone.utc)
            on_cluster = self._find_marked_steps(job_flow_id, token, len(steps), common.created_after(now))
        found = {i: str(step["Id"]) for i, step in on_cluster.items()}
        if any(step["Status"]["State"] in self.job_states.failed for step in on_cluster.values()):
            self.log.info("A step of this submission already failed; adding none", found=sorted(found))
            return {"job_flow_id": job_flow_id, "step_ids": [found[i] for i in sorted(found)]}
        missing = [i for i in range(len(steps)) if i not in found]
        if found:
            self.log.info(
                "Steps of this submission are already on the cluster; adding only the missing ones",
                found=sorted(found),
                missing=missing,
                job_flow_id=job_flow_id,
            )
        added: list[str] = []
        if missing:
            self.log.info("Adding steps to %s", job_flow_id)
            added = self.add_steps(job_flow_id, [marked[i] for i in missing])
        if not found:
            ids: list[JsonValue] = list(added)
            return {"job_flow_id": job_flow_id, "step_ids": ids}  # as AddJobFlowSteps returned them
        found.update(zip(missing, added, strict=False))
        return {"job_flow_id": job_flow_id, "step_ids": [found[i] for i in sorted(found)]}

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The steps' combined state: active while any runs, else failed if any failed, else completed."""
        job_flow_id, step_ids = _steps_of(external_id)
        states: dict[str, str] = {}
        for start in range(0, len(step_ids), 10):  # ListSteps takes at most ten ids
            batch = step_ids[start : start + 10]
            response = self.hook.conn.list_steps(ClusterId=job_flow_id, StepIds=batch)
            states.update({step["Id"]: step["Status"]["State"] for step in response.get("Steps", [])})
        lost = [step_id for step_id in step_ids if step_id not in states]
        if lost or not step_ids:
            raise common.StepsNotFoundError(f"Steps {lost} are not on cluster {job_flow_id}.")
        return common.aggregate_step_state(states[step_id] for step_id in step_ids)

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait for every step as the provider's hook does (if ``wait_for_completion``); raise as it does."""
        job_flow_id, step_ids = _steps_of(external_id)
        if not self.wait_for_completion:
            return step_ids
        waiter = self.hook.conn.get_waiter("step_complete")
        for step_id in step_ids:
            try:
                wait(
                    waiter=waiter,
                    waiter_max_attempts=self.waiter_max_attempts or 60,  # the hook's defaults
                    waiter_delay=self.waiter_delay or 30,
                    args={"ClusterId": job_flow_id, "StepId": step_id},
                    failure_message=f"EMR Steps failed: {step_id}",
                    status_message="EMR Step status is",
                    status_args=["Step.Status.State", "Step.Status.StateChangeReason"],
                )
            except AirflowException as exc:
                if "EMR Steps failed" in str(exc):
                    resp = self.hook.conn.describe_step(ClusterId=job_flow_id, StepId=step_id)
                    details = resp["Step"]["Status"].get("FailureDetails", None)
                    if details:
                        self.log.error("EMR Steps failed: %s", details)
                raise
        return step_ids

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The step ids, in the provider's result shape."""
        return _steps_of(external_id)[1]

    def find_submitted_job(
        self,
        token: str,
        context: Context,
        *,
        submitted_at: datetime | None = None,
        recorded_fields: Mapping[str, Any] | None = None,
    ) -> JsonValue | None:
        """The steps of the submission with ``token`` when *all* are on its recorded cluster, else ``None``.

        A partial find returns ``None``: the retry then submits with the same token, and `submit_job()`
        reuses the steps that are there and adds only the missing ones. A recorded cluster EMR no longer
        knows holds none of them.
        """
        job_flow_id = (recorded_fields or {}).get("job_flow_id") or self._cluster()
        count = len(self._rendered_steps(context))
        try:
            start = common.created_after(submitted_at)
            on_cluster = self._find_marked_steps(job_flow_id, token, count, start)
        except Exception as exc:
            if common.is_aws_not_found(exc):
                return None
            raise
        if len(on_cluster) < count:
            if on_cluster:
                self.log.info(
                    "Found only some steps of the submission", found=sorted(on_cluster), expected=count
                )
            return None
        return {"job_flow_id": job_flow_id, "step_ids": [on_cluster[i]["Id"] for i in range(count)]}

    # -- the AddJobFlowSteps call ----------------------------------------------------------------------
    def add_steps(self, job_flow_id: str, steps: list[dict[str, Any]]) -> list[str]:
        """Add ``steps`` (names already marked) to the cluster and return their ids, in order."""
        return list(
            self.hook.add_job_flow_steps(
                job_flow_id=job_flow_id,
                steps=steps,
                wait_for_completion=False,
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                execution_role_arn=self.execution_role_arn,
            )
        )

    # -- the submission's cluster ------------------------------------------------------------------------
    def intent_fields(self, context: Context, decision: ResumeDecision) -> Mapping[str, JsonValue]:
        """The cluster the steps go to, recorded in the intent before they are added.

        A repeated submission goes to the cluster the earlier one recorded while that cluster still takes
        steps, so the steps of one submission stay together; otherwise to the cluster resolved now.
        """
        repeating = decision.repeats_submission
        recorded = common.recorded_field(self, context, "job_flow_id") if repeating else None
        if recorded and recorded != self._job_flow_id_resolved and self._takes_steps(recorded):
            self._job_flow_id_resolved = recorded
        return {"job_flow_id": self._cluster()}

    def _takes_steps(self, job_flow_id: str) -> bool:
        try:
            cluster = self.hook.conn.describe_cluster(ClusterId=job_flow_id)["Cluster"]
        except Exception as exc:
            if common.is_aws_not_found(exc):
                return False
            raise
        return str(cluster["Status"]["State"]) not in _GONE

    def _cluster(self) -> str:
        """The cluster this try's submission uses: resolved once (by name if so configured) and kept."""
        if self._job_flow_id_resolved is None:
            found = self.job_flow_id or self.hook.get_cluster_id_by_name(
                str(self.job_flow_name), self.cluster_states
            )
            if not found:
                raise AirflowException(f"No cluster found for name: {self.job_flow_name}")
            self._job_flow_id_resolved = str(found)
        return self._job_flow_id_resolved

    def _prepare_cluster(self, context: Context, job_flow_id: str) -> None:
        """Push the cluster id and persist the links, as the provider does before adding steps."""
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

    # -- steps and markers -------------------------------------------------------------------------------
    def _rendered_steps(self, context: Context) -> list[dict[str, Any]]:
        """The steps as the provider would add them (a string parsed; OpenLineage info injected once)."""
        if self._steps_this_try is None:
            steps = _step_dicts(self.steps) or []
            if self.openlineage_inject_parent_job_info:
                self.log.info("Injecting OpenLineage parent job information into EMR Spark steps.")
                steps = self._inject_openlineage_parent_job_information(steps, context)
            self._steps_this_try = copy.deepcopy(steps)
        return self._steps_this_try

    def _find_marked_steps(
        self, job_flow_id: str, token: str, count: int, start: datetime | None
    ) -> dict[int, dict[str, Any]]:
        """Index -> step (as ListSteps describes it) of the steps whose Name carries ``token``'s marker.

        Steps are listed newest first; the scan stops at the first step created before ``start``.
        """
        found: dict[int, dict[str, Any]] = {}
        for page in common.pages(self.hook.conn.get_paginator("list_steps"), ClusterId=job_flow_id):
            for step in page.get("Steps", []):  # newest first
                created = step.get("Status", {}).get("Timeline", {}).get("CreationDateTime")
                if start is not None and created is not None and created < start:
                    return found
                name = step.get("Name")
                for index in range(count):
                    if index not in found and common.has_marker(name, token, index):
                        found[index] = step
            if len(found) == count:
                break
        return found


# -- helpers --------------------------------------------------------------------------------
def _step_dicts(steps: Any) -> list[dict[str, Any]] | None:
    """``steps`` as a non-empty list of step dicts (a string parsed as the provider does), else ``None``."""
    if isinstance(steps, str):
        try:
            steps = ast.literal_eval(steps)
        except (ValueError, SyntaxError):
            return None  # the provider's own execute raises its error for it
    if isinstance(steps, list) and steps and all(isinstance(step, dict) for step in steps):
        return cast("list[dict[str, Any]]", steps)
    return None


def _steps_of(external_id: Any) -> tuple[str, list[str]]:
    """``(job_flow_id, step_ids)`` of a stored steps id."""
    if (
        isinstance(external_id, dict)
        and isinstance(external_id.get("job_flow_id"), str)
        and isinstance(external_id.get("step_ids"), list)
    ):
        return external_id["job_flow_id"], [str(step_id) for step_id in external_id["step_ids"]]
    raise common.StepsNotFoundError(
        f"Stored EMR steps {external_id!r} are not of the form {{'job_flow_id': ..., 'step_ids': [...]}}."
    )
