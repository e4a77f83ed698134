"""What the SageMaker training and processing operators share: job states, names, the durable flow.

The operators live in `airflow_resumable.jobs.sagemaker`, which checks that the Amazon provider is
installed before importing this module.
"""

from __future__ import annotations

import datetime
import secrets
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.providers.amazon.aws.triggers.sagemaker import SageMakerTrigger
from airflow.providers.common.compat.sdk import AirflowException

from airflow_resumable.jobs import _aws_common as common
from airflow_resumable.jobs import _errors, _intent
from airflow_resumable.jobs.base import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import ResumeDecision

__all__ = ["JOB_STATES", "MAX_NAME_LENGTH", "SageMakerDurable", "is_name_taken", "rotated_name"]

MAX_NAME_LENGTH = 63
"""SageMaker job names: at most 63 characters of ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``."""

# SageMaker TrainingJobStatus and ProcessingJobStatus (API reference: the same five values).
JOB_STATES = common.JobStates(
    service="SageMaker",
    active=frozenset({"InProgress", "Stopping"}),
    succeeded=frozenset({"Completed"}),
    failed=frozenset({"Failed", "Stopped"}),
)

_NAME_TAKEN_CODES = frozenset({"ResourceInUse", "ValidationException"})
_NAME_TAKEN_PHRASES = ("must be unique", "already exists")


def is_name_taken(error: BaseException) -> bool:
    """True when SageMaker refused a ``Create*Job`` because a job of that name exists (``ResourceInUse``:
    "Training job names must be unique within an AWS account and region, and a training job with this
    name already exists")."""
    for exc in _errors.causes(error):
        message = _errors.error_message(exc).lower()
        if _errors.error_code(exc) in _NAME_TAKEN_CODES and any(p in message for p in _NAME_TAKEN_PHRASES):
            return True
    return False


def rotated_name(name: str, generation: int, nonce: str) -> str:
    """``<name>-<nonce>-g<generation>`` in at most `MAX_NAME_LENGTH` characters (``name`` is shortened,
    as the provider shortens it for its timestamp)."""
    tail = f"-{nonce}-g{generation}"
    head = name[: MAX_NAME_LENGTH - len(tail)].rstrip("-")
    return f"{head}{tail}" if head else tail.lstrip("-")


class SageMakerDurable(common.AwsDurable):
    """The durable flow both operators share; each names its job kind and the provider's calls for it."""

    kind: ClassVar[str]
    """``Training`` or ``Processing``: the API's ``Create<kind>Job`` / ``Describe<kind>Job``."""
    job_states = JOB_STATES
    idempotency_token_max_length = MAX_NAME_LENGTH
    user_token_argument = None
    """Your job name is in ``config`` (templated), read when the task runs, not from the arguments."""

    _user_name: str | None = None
    _repeating = False

    if TYPE_CHECKING:  # set by the provider's operator
        config: dict[str, Any]
        wait_for_completion: bool
        deferrable: bool
        print_log: bool
        check_interval: int
        max_attempts: int
        max_ingestion_time: int | None
        action_if_job_exists: str
        execution_timeout: datetime.timedelta | None

        def preprocess_config(self) -> None: ...
        def _get_unique_job_name(
            self, proposed_name: str, fail_if_exists: bool, describe_func: Any
        ) -> str: ...

    # -- what each operator provides ----------------------------------------------------------------------
    def _describe(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _create(self) -> dict[str, Any]:
        """``Create<kind>Job`` of ``self.config`` through the provider's hook, without waiting."""
        raise NotImplementedError

    def _after_create(self, name: str, wait_for_completion: bool) -> None:
        """What the provider's hook does after creating the job (wait, print logs)."""
        raise NotImplementedError

    def _finish_or_defer(self, name: str) -> dict[str, Any]:
        """The provider's deferrable path after creating the job: return, raise, or defer."""
        raise NotImplementedError

    def _checks_name(self) -> bool:
        """Whether the provider looks for a job of your name before creating one."""
        return True

    # -- the durable flow ----------------------------------------------------------------------------------
    @property
    def _name_field(self) -> str:
        return f"{self.kind}JobName"

    def _execute_durably(self, context: Context) -> dict[str, Any]:
        """Decide, then return the result of, wait or defer on, or create once by name, the job."""
        self.preprocess_config()
        self._user_name = str(self.config[self._name_field])
        decision = self.decide(context)
        if decision.action is Decision.ALREADY_SUCCEEDED:
            return cast("dict[str, Any]", self.get_job_result(self._use(decision.external_id), context))
        if self.deferrable and not self.wait_for_completion:
            self.log.warning(
                "Setting deferrable to True does not have effect when wait_for_completion is set to False."
            )
        waits_here = not (self.deferrable and self.wait_for_completion)
        if decision.action is Decision.RECONNECT:
            name = self._use(decision.external_id)
            self.log.info("Reconnecting to the SageMaker job of an earlier try", job_name=name)
            if waits_here:
                self._poll(name, context)
        else:
            name = str(self.submit_durably(context, decision))
            if waits_here and self.wait_for_completion:
                self._poll(name, context)
            else:  # what the provider's hook does after creating a job it does not wait for
                self._after_create(name, False)
        if not waits_here:
            return self._finish_or_defer(name)
        return cast("dict[str, Any]", self.get_job_result(name, context))

    def _use(self, external_id: JsonValue) -> str:
        """Make the job ``external_id`` this try's: the config names it, as after the provider's run."""
        name = str(external_id)
        self.config[self._name_field] = name
        return name

    def _timeout(self) -> datetime.timedelta | None:
        if self.max_ingestion_time:
            return datetime.timedelta(seconds=self.max_ingestion_time)
        return self.execution_timeout

    def _defer(self, name: str) -> None:
        operator: Any = self  # BaseOperator.defer, through the provider's class
        operator.defer(
            timeout=self._timeout(),
            trigger=SageMakerTrigger(
                job_name=name,
                job_type=self.kind,
                waiter_delay=self.check_interval,
                waiter_max_attempts=self.max_attempts,
                **self.aws_args(),
            ),
            method_name="execute_complete",
        )

    # -- names ---------------------------------------------------------------------------------------------
    def _token(self, context: Context, generation: int) -> str:
        """The job name of a new submission: yours (made unique as the provider does) for generation 1,
        ``<yours>-<nonce>-g<n>`` after that."""
        name = self._user_name or str(self.config[self._name_field])
        if generation > 1:
            return rotated_name(name, generation, secrets.token_hex(_intent.NONCE_CHARS // 2))
        if not self._checks_name():
            return name
        return self._get_unique_job_name(name, self.action_if_job_exists == "fail", self._describe)

    def _submit_once(self, store: Any, context: Context, decision: ResumeDecision) -> JsonValue:
        self._repeating = decision.repeats_submission
        return super()._submit_once(store, context, decision)

    # -- the six methods -----------------------------------------------------------------------------------
    def submit_job(self, context: Context) -> JsonValue:
        """``Create<kind>Job`` named with the recorded name; a repeated one that finds its name taken
        gives that job."""
        name = self._use(self.require_token())
        try:
            response = self._create()
        except Exception as exc:
            if not (self._repeating and is_name_taken(exc)):
                raise
            self.log.info("A SageMaker job of this submission's name exists already", job_name=name)
            return name
        if response["ResponseMetadata"]["HTTPStatusCode"] != 200:
            raise AirflowException(f"Sagemaker {self.kind} Job creation failed: {response}")
        return name

    def get_job_status(self, external_id: JsonValue, context: Context) -> str:
        """The job's status from ``Describe<kind>Job``."""
        return str(self._describe(str(external_id))[f"{self.kind}JobStatus"])

    def is_job_active(self, status: str) -> bool:
        """Worth waiting on: only with ``wait_for_completion`` (without it the provider does not wait)."""
        return self.wait_for_completion and super().is_job_active(status)

    def is_job_succeeded(self, status: str) -> bool:
        """Done for this operator: completed, or (without ``wait_for_completion``) created and not ending
        in failure."""
        if self.wait_for_completion:
            return super().is_job_succeeded(status)
        return status not in self.job_states.failed and status != "Stopping"

    def poll_until_complete(self, external_id: JsonValue, context: Context) -> Any:
        """Wait for the job as the provider's hook does; raise its errors, with its messages."""
        self._after_create(str(external_id), True)
        return str(external_id)

    def find_submitted_job(
        self, token: str, context: Context, *, submitted_at: datetime.datetime | None = None
    ) -> JsonValue | None:
        """The job named ``token`` (``Describe<kind>Job``); ``None`` when SageMaker does not know it."""
        try:
            self._describe(token)
        except Exception as exc:
            if self.is_job_not_found(exc):
                return None
            raise
        return token
