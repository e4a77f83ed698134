"""Crash-safe Step Functions: ``StepFunctionStartExecutionOperator`` as a drop-in subclass of the provider's.

The provider's operator lets Step Functions pick a random execution name unless you pass one, so a retry
after a crash starts a second execution; a ``name`` you pass is refused on the retry once the first
execution finished (``ExecutionAlreadyExists``), so that retry fails. This one gives every submission a
name recorded in a write-ahead intent (see [`DurableJobMixin`][airflow_resumable.jobs.base.DurableJobMixin]).

Needs the Amazon provider: ``pip install 'airflow-resumable[amazon]'``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from airflow_resumable.jobs import _aws_common as common
from airflow_resumable.jobs import _errors

try:
    import airflow.providers.amazon.aws.operators.step_function as _provider
    from airflow.providers.amazon.aws.links.step_function import (
        StateMachineDetailsLink,
        StateMachineExecutionsDetailsLink,
    )
    from airflow.providers.amazon.aws.triggers.step_function import StepFunctionsExecutionCompleteTrigger
    from airflow.providers.common.compat.sdk import AirflowException
except ImportError as exc:  # a test hides the provider to check this message
    raise ImportError(
        "airflow_resumable.jobs.step_function needs the Amazon provider "
        f"(apache-airflow-providers-amazon>=9.39), which could not be imported ({exc}). "
        "Install it with: pip install 'airflow-resumable[amazon]'"
    ) from exc

from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import ResumeDecision

__all__ = ["EXECUTION_STATES", "StepFunctionStartExecutionOperator", "execution_arn"]

# Step Functions ExecutionStatus (API reference, DescribeExecution.status).
EXECUTION_STATES = common.JobStates(
    service="Step Functions",
    active=frozenset({"RUNNING", "PENDING_REDRIVE"}),
    succeeded=frozenset({"SUCCEEDED"}),
    failed=frozenset({"FAILED", "TIMED_OUT", "ABORTED"}),
)


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN Step Functions gives the execution ``name`` of a standard state machine."""
    head, _, machine = state_machine_arn.partition(":stateMachine:")
    return f"{head}:execution:{machine}:{name}"


class StepFunctionStartExecutionOperator(common.AwsDurable, _provider.StepFunctionStartExecutionOperator):
    """``StepFunctionStartExecutionOperator`` that finds its execution after a crash, never starting two.

    Same arguments, attributes, links and result (the execution ARN) as the provider's operator, plus
    ``durable`` (default ``True``). Step Functions' own idempotency is used: execution names are unique
    per state machine (for 90 days after an execution closed), and ``StartExecution`` with the name and
    input of a *running* execution returns that execution instead of starting another.

    - Before ``StartExecution`` a write-ahead intent records the execution name: your ``name`` for the first
      submission (``<name>-<nonce>-g<n>`` after a failed one), else one derived per task instance and
      submission (``[a-z0-9-]``, at most 80 characters). ``self.name`` keeps what you passed. The execution
      ARN is stored under ``step_function_execution_arn``.
    - After a crash between ``StartExecution`` and storing the ARN, the retry looks the execution up by its
      name (``DescribeExecution`` of the ARN the name gives): nothing is listed or guessed.
    - The provider's operator does not wait for the execution unless ``deferrable``. So without
      ``deferrable`` a retry returns the ARN of an execution that is running or succeeded; with it, a retry
      defers to ``StepFunctionsExecutionCompleteTrigger`` on a running execution. Either way a new
      generation starts after ``FAILED``, ``TIMED_OUT`` or ``ABORTED``, or when the execution is unknown.
    - A name that is taken (``ExecutionAlreadyExists``: your own ``name`` used before, or the execution of
      this submission closed since) gives that execution; one that failed starts the next generation at
      once, with a new name.
    - ``is_redrive_execution=True`` redrives the execution you name, which is idempotent on its own: it
      runs the provider's operator unchanged.

    What it does not do: express state machines keep no execution history that ``DescribeExecution``
    reads, so for them a crash right after ``StartExecution`` can still start a second execution. Killing
    the task does nothing, as with the provider. Without a task state store in the context it is the
    provider's operator (with a warning).
    """

    external_id_key = "step_function_execution_arn"
    job_states = EXECUTION_STATES
    idempotency_token_max_length = 80
    """Execution names take at most 80 characters."""
    user_token_argument = "name"

    _name_taken = False

    def execute(self, context: Context) -> str | None:
        """Durable start: decide, then return or wait on the execution found, or start it once by name."""
        if self.is_redrive_execution or not self.runs_durably(context):
            return cast("str | None", super().execute(context))
        StateMachineDetailsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            state_machine_arn=self.state_machine_arn,
        )
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("str", self.get_job_result(decision.external_id, context))
        if decision.action is Decision.RECONNECT:
            arn = str(decision.external_id)
            self._links(arn, context)
        else:
            arn = str(self.submit_durably(context, decision))
        if self.deferrable:
            self.defer(
                trigger=StepFunctionsExecutionCompleteTrigger(
                    execution_arn=arn,
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    **self.aws_args(),
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.waiter_max_attempts * self.waiter_delay),
            )
        return arn

    # -- the six methods -----------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """``StartExecution`` through the provider's hook, named with the recorded name."""
        name = self.require_token()
        self._name_taken = False
        try:
            arn = self.hook.start_execution(self.state_machine_arn, name, self.state_machine_input, False)
        except Exception as exc:
            if not any(_errors.error_code(e) == "ExecutionAlreadyExists" for e in _errors.causes(exc)):
                raise
            self._name_taken = True
            # This submission's name is taken: by this submission (a repeat after a crash, the execution
            # closed since) or, with your own name, an earlier one. Its status is checked next.
            arn = execution_arn(self.state_machine_arn, name)
            self.log.info("An execution with this name exists already", execution_arn=arn)
        if not arn:
            raise AirflowException(f"Failed to start State Machine execution for: {self.state_machine_arn}")
        self._links(arn, context)
        self.log.info("Started State Machine execution for %s: %s", self.state_machine_arn, arn)
        return arn

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The execution's status from DescribeExecution."""
        return str(self.hook.conn.describe_execution(executionArn=str(external_id))["status"])

    def is_job_active(self, status: str) -> bool:
        """Worth waiting on (deferrable only: the provider does not wait otherwise)."""
        return self.deferrable and super().is_job_active(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Done for this operator: succeeded, or (without ``deferrable``) started and not failed."""
        if self.deferrable:
            return super().is_job_succeeded(status)
        return status not in self.job_states.failed

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Nothing to wait for: the provider's blocking path returns once the execution started."""
        return str(external_id)

    def get_job_result(self, external_id: JsonValue, context: Context) -> Any:
        """The execution ARN, as the provider's operator returns it."""
        return str(external_id)

    def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
        """A repeated submission, or a name that was taken (``ExecutionAlreadyExists``: an earlier execution).

        ``StartExecution`` that succeeds started this execution, or returned the *running* one with this name
        and input; so an execution it returned that failed at once is this try's, returned as by the
        provider (which does not wait), never started again.
        """
        return decision.repeats_submission or self._name_taken

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime | None = None
    ) -> JsonValue | None:
        """The execution named ``token``, looked up by the ARN its name gives; ``None`` if there is none."""
        arn = execution_arn(self.state_machine_arn, token)
        try:
            self.hook.conn.describe_execution(executionArn=arn)
        except Exception as exc:
            if self.is_job_not_found(exc):
                return None
            raise
        return arn

    # -- helpers ---------------------------------------------------------------------------------------
    def _links(self, arn: str, context: Context) -> None:
        StateMachineExecutionsDetailsLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            execution_arn=arn,
        )
