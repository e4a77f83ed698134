"""Crash-safe ECS tasks: ``EcsRunTaskOperator`` as a drop-in subclass of the provider's.

The provider's operator calls ``RunTask`` without a ``clientToken`` of its own (botocore fills in a random
one per call), so a retry after a crash starts a second task; its ``reattach=True`` lists the *running*
tasks with the same ``startedBy``, which misses one that already stopped (or that ECS's eventually
consistent list does not show yet): the retry then runs the work again. This one records a
token per submission in a write-ahead intent before ``RunTask`` (see
[`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]).

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.errors import JobError
from airflow_resumable.jobs import _aws_common as common
from airflow_resumable.jobs import _errors, _intent, _job_state

try:
    import airflow.providers.amazon.aws.operators.ecs as _provider
    from airflow.providers.amazon.aws.triggers.ecs import TaskDoneTrigger
    from airflow.providers.amazon.aws.utils.identifiers import generate_uuid
    from botocore.exceptions import WaiterError
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(
        "airflow_resumable.jobs.ecs needs the Amazon provider (apache-airflow-providers-amazon>=9.39), "
        f"which could not be imported ({exc}). Install it with: pip install 'airflow-resumable[amazon]'"
    ) from exc

from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import ResumeDecision

__all__ = ["ECS_TASK_STATES", "EcsRunTaskOperator", "EcsTaskMissingError", "task_status"]

SUCCEEDED = "STOPPED:SUCCEEDED"
SKIPPED = "STOPPED:SKIPPED"
FAILED = "STOPPED:FAILED"

# ECS task lastStatus (task lifecycle); a stopped task is read like the provider's success check.
ECS_TASK_STATES = common.JobStates(
    service="ECS",
    active=frozenset(
        {"PROVISIONING", "PENDING", "ACTIVATING", "RUNNING", "DEACTIVATING", "STOPPING", "DEPROVISIONING"}
    ),
    succeeded=frozenset({SUCCEEDED, SKIPPED}),
    failed=frozenset({FAILED}),
)
_HOST_GONE = re.compile(r"Host EC2 \(instance .+?\) (stopped|terminated)\.")


class EcsTaskMissingError(JobError):
    """``DescribeTasks`` answered ``MISSING``: ECS no longer knows the task (stopped ones go in an hour)."""


def task_status(task: Mapping[str, Any], skip_on_exit_code: Any = ()) -> str:
    """A task's state: its ``lastStatus`` while it runs; once stopped, ``STOPPED:SUCCEEDED``,
    ``STOPPED:SKIPPED`` (an exit code in ``skip_on_exit_code``) or ``STOPPED:FAILED``, judged as the
    provider's ``_check_success_task`` judges it."""
    last = str(task.get("lastStatus"))
    if last not in ("STOPPED", "DELETED"):  # DELETED follows STOPPED; its containers still tell
        return last
    reason = str(task.get("stoppedReason", ""))
    if task.get("stopCode", "") == "TaskFailedToStart" or _HOST_GONE.match(reason):
        return FAILED
    for container in task.get("containers") or []:  # the first container with a problem decides
        exit_code = container.get("exitCode", 1)
        if container.get("lastStatus") == "STOPPED" and exit_code != 0:
            return SKIPPED if exit_code in skip_on_exit_code else FAILED
        if container.get("lastStatus") == "PENDING" or "error" in str(container.get("reason", "")).lower():
            return FAILED
    return SUCCEEDED


class EcsRunTaskOperator(common.AwsDurable, _provider.EcsRunTaskOperator):
    """``EcsRunTaskOperator`` that reconnects to its task after a crash instead of running another.

    Same arguments, attributes, XComs (``ecs_task_arn``), log fetching, errors and result as the provider's
    operator, plus ``durable`` (default ``True``). ECS's own idempotency is used, the strongest there is:
    ``RunTask`` takes a ``clientToken`` (up to 64 ASCII characters, kept per cluster for up to 24 hours),
    and a repeat with the same token and parameters returns the task the first request started.

    - Before ``RunTask`` a write-ahead intent records the token (derived per task instance and submission,
      with a random part); the task ARN is stored under ``ecs_task_arn``. The request is the provider's
      (``startedBy``, tags, overrides...) plus that ``clientToken``.
    - After a crash between ``RunTask`` and storing the ARN, the retry repeats the same request with the
      same token and ECS returns the task it started. A changed request (an override rendering
      differently) makes ECS refuse the token (``ConflictException``); that answer names the task, which
      is taken over, with a warning. ECS keeps no searchable trace of the token, so a retry more than a
      day later (after the token expired) starts a second task.
    - A retry reconnects to (waits on, or with ``deferrable=True`` defers on) a task that is still running,
      returns as the provider would for one that stopped well, and starts a new generation (new token)
      after one that failed. ECS forgets a stopped task about an hour after it stopped (``DescribeTasks``
      answers ``MISSING``): a task this operator saw succeed is recorded as such in the intent and never
      run again; one that ECS forgot before any try saw it end is run again (a new generation).
    - ``reattach=True`` keeps its meaning: the same deterministic ``startedBy``, and when nothing is stored
      for the task instance (its state was reset, or the provider's operator ran the earlier tries) a
      running task with that ``startedBy`` is taken over and recorded instead of starting one. With stored
      state the recorded ARN decides, which also finds pending and stopped tasks.
    - Without ``wait_for_completion`` (and not ``deferrable``) a task that started and has not failed
      counts as done, as the provider returns once it started.

    Killing the task stops the ECS task (the provider's ``on_kill``, also for a task this try reconnected
    to). With ``durable=False`` or without a task state store in the context it is the provider's operator.
    """

    external_id_key = "ecs_task_arn"
    job_states = ECS_TASK_STATES
    idempotency_token_max_length = 64
    """``clientToken`` takes up to 64 characters (derived tokens use ``[a-z0-9-]``)."""
    user_token_argument = None  # the provider takes no token
    records_success = True  # ECS forgets a stopped task within an hour

    _started_here = False
    _known_missing = False  # ECS forgot a task a try saw end well: it is not described again

    def execute(self, context: Context) -> str | None:
        """Durable run: decide, then return, wait on the task found, or run once with the recorded token"""
        if not self.runs_durably(context):
            return cast("str | None", super().execute(context))  # type: ignore[no-untyped-call]
        if self._logs_enabled() and not self.wait_for_completion:
            self.log.warning(
                "Trying to get logs without waiting for the task to complete is undefined behavior."
            )
        self.log.info(
            "Running ECS Task - Task definition: %s - on cluster %s", self.task_definition, self.cluster
        )
        self.log.info("EcsOperator overrides: %s", self.overrides)
        if self.reattach:
            ti = context["ti"]
            self._started_by = generate_uuid(*map(str, [ti.dag_id, ti.task_id, ti.run_id, ti.map_index]))
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            self._known_missing = decision.job_forgotten
            result = self.get_job_result(decision.external_id, context)
            self._push_arn(context)
            return cast("str | None", result)
        if decision.action is Decision.RECONNECT:
            arn = str(decision.external_id)
            self._adopt(arn)
        else:
            arn = self._reattached(context, decision) or str(self.submit_durably(context, decision))
        self._push_arn(context)
        if self.deferrable:
            self.defer(
                trigger=TaskDoneTrigger(
                    cluster=self.cluster,
                    task_arn=arn,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    log_region_name=self.resolve_awslogs_region(),
                    log_group=self.awslogs_group,
                    log_stream=self._get_logs_stream_name(),
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay + 60),
            )
        if not self.wait_for_completion:
            return None
        try:
            return cast("str | None", self._poll(arn, context))
        except WaiterError:
            if self._started_here and self.stop_task_on_failure:
                self.log.warning("Execution failed after ECS task %s was started by this task instance.", arn)
                try:
                    self.log.warning("Attempting termination of ECS task %s.", arn)
                    self.client.stop_task(
                        cluster=self.cluster,
                        task=arn,
                        reason="Task failed after creation; cleanup by Airflow",
                    )
                except Exception:
                    self.log.exception("Failed while attempting to stop ECS task %s", arn)
            raise

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        """The provider's, then the success recorded (so a retry never runs a finished task again)."""
        result = super().execute_complete(context, event)
        if self.arn:
            self.record_success(context, self.arn, SUCCEEDED)
        return result

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """The provider's ``RunTask`` request, with the recorded ``clientToken``."""
        token = self.require_token()
        events = self.client.meta.events
        handler_id = f"airflow-resumable-{id(self)}"

        def add_token(params: dict[str, Any], **_: Any) -> None:
            params["clientToken"] = token

        events.register_first("before-parameter-build.ecs.RunTask", add_token, unique_id=handler_id)
        try:
            self._start_task()  # type: ignore[no-untyped-call]
        except Exception as exc:
            conflict = next(
                (e for e in _errors.causes(exc) if _errors.error_code(e) == "ConflictException"), None
            )
            owners = getattr(conflict, "response", {}).get("resourceIds") if conflict is not None else None
            if not owners:
                raise
            # This submission's token started a task already, from a request that rendered differently.
            self.log.warning(
                "ECS refused the repeated request (its parameters changed) and named the task the token "
                "started; taking that task over",
                task_arn=owners[0],
                token=token,
            )
            self.arn = str(owners[0])
        finally:
            events.unregister("before-parameter-build.ecs.RunTask", unique_id=handler_id)
        self._started_here = True
        return str(self.arn)

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The task's state from DescribeTasks (see `task_status()`); ``MISSING`` raises (a success
        recorded in the intent still counts: see ``record_success``)."""
        arn = str(external_id)
        response = self.client.describe_tasks(cluster=self.cluster, tasks=[arn])
        tasks = response.get("tasks") or []
        if not tasks:
            reasons = [f.get("reason") for f in response.get("failures") or []]
            raise EcsTaskMissingError(f"ECS no longer knows task {arn} (DescribeTasks failures: {reasons}).")
        return task_status(tasks[0], self.skip_on_exit_code)

    def is_job_active(self, status: str) -> bool:
        """Worth waiting on (only when the provider waits: ``wait_for_completion`` or ``deferrable``)."""
        return self._waits() and super().is_job_active(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Stopped well; without waiting, also started and not failed (the provider returns once started)."""
        if self._waits():
            return super().is_job_succeeded(status)
        return status not in ECS_TASK_STATES.failed

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait as the provider does (with its CloudWatch log fetcher), check the task as it does, and
        return what it returns (the last log line with ``do_xcom_push`` and logs, else ``None``)."""
        self._adopt(str(external_id))
        if self._logs_enabled():
            self.log.info("Starting ECS Task Log Fetcher")
            self.task_log_fetcher = self._get_task_log_fetcher()
            self.task_log_fetcher.start()
            try:
                self._wait_for_task_ended()
            finally:
                self.task_log_fetcher.stop()  # type: ignore[no-untyped-call]
            self.task_log_fetcher.join()
        else:
            self._wait_for_task_ended()
        self._after_execution()  # type: ignore[no-untyped-call]
        self.record_success(context, str(external_id), SUCCEEDED)  # with ECS's status (the base's has none)
        if self.do_xcom_push and self.task_log_fetcher:
            return self.task_log_fetcher.get_last_log_message()
        return None

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """For a task that ended well: the provider's check (unless ECS forgot the task) and result."""
        self._adopt(str(external_id))
        if not self._waits():
            return None
        if not self._known_missing:
            # an exit code in skip_on_exit_code skips again, as the provider does
            self._after_execution()  # type: ignore[no-untyped-call]
        if self.do_xcom_push and self._logs_enabled():
            return self._get_task_log_fetcher().get_last_log_message()
        return None

    def is_job_not_found(self, error: BaseException) -> bool:
        """``MISSING`` from DescribeTasks; then the shared AWS reading."""
        return any(
            isinstance(e, EcsTaskMissingError) for e in _errors.causes(error)
        ) or super().is_job_not_found(error)

    # -- helpers ---------------------------------------------------------------------------------------
    def _logs_enabled(self) -> bool:
        return bool(super()._aws_logs_enabled())  # type: ignore[no-untyped-call]

    def _waits(self) -> bool:
        return bool(self.wait_for_completion or self.deferrable)

    def _adopt(self, arn: str) -> None:
        """Make ``arn`` this try's task: ``on_kill`` stops it, logs and checks read it."""
        self.arn = arn

    def _push_arn(self, context: Context) -> None:
        if self.do_xcom_push:
            context["ti"].xcom_push(key="ecs_task_arn", value=self.arn)

    def _reattached(self, context: Context, decision: ResumeDecision) -> str | None:
        """``reattach=True`` with nothing stored: the provider's search for a running task with this
        ``startedBy``; one found is recorded as this submission's task."""
        if not self.reattach or decision.action is not Decision.FRESH or decision.repeats_submission:
            return None
        self.log.info("Try to find run with startedBy=%r", self._started_by)
        self._try_reattach_task(started_by=cast("str", self._started_by))
        if not self.arn:
            return None
        store = context["task_state_store"]
        intent = _intent.new_intent(decision.generation, decision.token)
        _job_state.record_submitted(store, self.external_id_key, intent, self.arn, owner=type(self).__name__)
        return self.arn
