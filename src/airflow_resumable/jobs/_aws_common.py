"""What the AWS job operators share: state maps, not-found errors, the discovery window, and the durable
mixin their operator classes start from.

`AwsDurable` is the base of every AWS operator here (AWS
Batch, Athena, ECS, SageMaker, Step Functions, the EMR family); `airflow_resumable.jobs._emr_common`
adds what only EMR needs. Nothing here imports the Amazon provider or botocore, so it can be read (and
unit-tested) without them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_resumable.errors import JobError
from airflow_resumable.jobs import _errors, _intent
from airflow_resumable.jobs.base import DurableJobMixin

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import ResumeDecision

__all__ = [
    "CLOCK_SKEW",
    "DISCOVERY_SLACK",
    "MAX_PAGES",
    "TOKEN_TAG",
    "AwsDurable",
    "JobStates",
    "created_after",
    "is_aws_not_found",
    "pages",
    "pick",
    "recorded_field",
]

MAX_PAGES = 40
"""Pages of a list call (``ListJobRuns``, ``ListSteps``, ``ListJobs``) a search reads before giving up."""

TOKEN_TAG = "airflow-resumable-token"
"""Tag key under which tagged jobs (EMR Serverless, EMR on EKS, AWS Batch) carry their submission token."""


@dataclass(frozen=True)
class JobStates:
    """The states of one AWS API, split by what a retry should do about a job in them.

    A state in none of the sets (one AWS added after this was written) counts as *active*: reconnecting to
    a job and letting the provider's poll judge it costs a retry at worst, while resubmitting could start a
    second copy of a job that is still running.
    """

    service: str
    active: frozenset[str]
    succeeded: frozenset[str]
    failed: frozenset[str]

    def is_known(self, state: str) -> bool:
        """Whether ``state`` is one this service documents."""
        return state in self.active or state in self.succeeded or state in self.failed

    def is_active(self, state: str) -> bool:
        """Not terminal: unknown states count as active, so a retry reconnects rather than duplicates."""
        return state not in self.succeeded and state not in self.failed

    def is_succeeded(self, state: str) -> bool:
        """Whether ``state`` is the service's success state."""
        return state in self.succeeded


# -- errors ------------------------------------------------------------------------------------------------
_NOT_FOUND_PHRASES = ("does not exist", "doesn't exist", "not found", "no longer exists", "is not valid")
_NOT_FOUND_CODES_WITH_MESSAGE = frozenset({"ValidationException", "InvalidRequestException"})


def is_aws_not_found(error: BaseException) -> bool:
    """True when an AWS API says the job does not exist.

    ``ResourceNotFoundException`` always; ``ValidationException`` / ``InvalidRequestException`` when the
    message says the resource does not exist (EMR reports unknown steps and clusters that way: "Cluster
    id 'j-...' is not valid."). Throttling and server errors need nothing AWS-specific: the base class's
    classification covers AWS error codes.
    """
    for exc in _errors.causes(error):
        code = _errors.error_code(exc)
        if code == "ResourceNotFoundException":
            return True
        message = _errors.error_message(exc).lower()
        if code in _NOT_FOUND_CODES_WITH_MESSAGE and any(p in message for p in _NOT_FOUND_PHRASES):
            return True
    return False


# -- discovery window --------------------------------------------------------------------------------------
DISCOVERY_SLACK = timedelta(days=1)
"""How far before the recorded submission time a search for the submitted job starts.

Generous on purpose: it absorbs clock skew between the worker and AWS (and local stand-ins that round
creation times to the day). It only bounds how much history is scanned, never what counts as a match.
"""


def created_after(submitted_at: datetime | None) -> datetime | None:
    """The lower bound for a search for a submission recorded at ``submitted_at`` (``None``: unbounded)."""
    return None if submitted_at is None else submitted_at - DISCOVERY_SLACK


CLOCK_SKEW = timedelta(minutes=1)
"""How much older than this try's submission a job handed back for the author's token must be to count
as an earlier run's (clock skew between the worker and AWS)."""


def pages(paginator: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """At most `MAX_PAGES` pages of a boto3 paginator."""
    for number, page in enumerate(paginator.paginate(**kwargs)):
        if number >= MAX_PAGES:
            return
        yield page


def pick(
    matches: list[dict[str, Any]], id_field: str, state_field: str, states: JobStates, op: Any
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


def recorded_field(op: DurableJobMixin, context: Any, name: str) -> Any:
    """A field the current submission intent recorded (``None`` without a store, intent or field)."""
    store = context.get("task_state_store") if isinstance(context, Mapping) else None
    intent = store.get(op.intent_key) if store is not None else None
    return intent.get(name) if isinstance(intent, Mapping) else None


# -- the shared operator mixin ---------------------------------------------------------------------------
class AwsDurable(DurableJobMixin):
    """Status mapping, not-found errors, the author's own token and the connection arguments of the AWS
    operators.

    Subclasses set ``job_states`` and ``user_token_argument`` and implement `job_created_at()` when the
    service tells when a job was created.
    """

    job_states: ClassVar[JobStates]

    user_token_argument: ClassVar[str | None] = "client_request_token"
    """The provider argument that carries a user's own idempotency token (``None``: the API has none)."""

    _submission_started_at: datetime | None = None
    _submitted_external_id: JsonValue = None

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
        """AWS's ways of saying "no such job" (see `is_aws_not_found()`), then the base's."""
        return is_aws_not_found(error) or super().is_job_not_found(error)

    # -- crash recovery or the provider's own flow ----------------------------------------------------------
    def runs_durably(self, context: Any) -> bool:
        """True when ``context`` is a task context with a ``task_state_store`` (a mapping, not a mock).

        Without one (a plain dict or a mock in a unit test, an unavailable store) the operator runs the
        provider's own ``execute`` after logging upstream's warning: nothing is read or written.
        """
        if not self.durable:
            return False
        store = context.get("task_state_store") if isinstance(context, Mapping) else None
        if store is not None:
            return True
        self.log.warning(
            "task_state_store not available in context, crash recovery is disabled for this run",
            external_id_key=self.external_id_key,
        )
        return False

    # -- a user's own token ----------------------------------------------------------------------------------
    def user_token(self) -> str | None:
        """The token the DAG author passed (``user_token_argument``, directly or in ``default_args``).

        Read from the arguments the operator was built with, because some provider operators (EMR
        Serverless) replace a missing token with a random one at construction.
        """
        if self.user_token_argument is None:
            return None
        init_kwargs = getattr(self, "_BaseOperator__init_kwargs", None) or {}
        token = init_kwargs.get(self.user_token_argument)
        return token if isinstance(token, str) and token else None

    def _token(self, context: Context, generation: int) -> str:
        """The author's token for generation 1 and ``<token>-<nonce>-g<n>`` after that; else derived."""
        user = self.user_token()
        if user is None:
            return super()._token(context, generation)
        if generation == 1:
            return user
        max_length = self.idempotency_token_max_length
        return _intent.rotated_token(user, generation, max_length, owner=type(self).__name__)

    def job_created_at(self, external_id: JsonValue) -> datetime | None:
        """When the backend says job ``external_id`` was created (aware); ``None`` if it does not say.

        Read after a submission with the author's own token (see `submit_may_return_existing_job()`).
        Without a time (the default) every job such a submission returns is checked as possibly an
        earlier one.
        """
        return None

    def _submit_once(self, store: Any, context: Context, decision: ResumeDecision) -> JsonValue:
        """The base's one submission, noting when it started and the job it returned."""
        self._submission_started_at = datetime.now(tz=timezone.utc)
        external_id = super()._submit_once(store, context, decision)
        self._submitted_external_id = external_id
        return external_id

    def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
        """A repeated submission, or the author's own token handing back a job made before this try.

        The author's token may have been used by an earlier incarnation of the task (a state reset, the
        provider's operator), and AWS then returns that job. A job this submission made that failed at
        once is this try's failure, reported as the provider reports it, never submitted again: the job's
        creation time tells the two apart, allowing `CLOCK_SKEW` (an earlier job created within it counts
        as this try's; the next retry starts a new generation from the stored id).
        """
        if super().submit_may_return_existing_job(decision):
            return True
        if decision.token is None or decision.token != self.user_token():
            return False
        started, external_id = self._submission_started_at, self._submitted_external_id
        if started is None or external_id is None:
            return True
        try:
            created = self._retry(
                f"{type(self).__name__}: creation time of job {external_id}", self.job_created_at, external_id
            )
        except Exception as exc:
            if not self.is_job_not_found(exc):
                raise
            return True  # the status check that follows reads it as unknown: a new generation
        return created is None or created < started - CLOCK_SKEW

    # -- helpers for the operators ---------------------------------------------------------------------------
    def aws_args(self) -> dict[str, Any]:
        """The connection arguments every provider trigger takes, as this operator has them."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "botocore_config": self.botocore_config,
        }

    def require_token(self) -> str:
        """The current submission's token; a clear error when ``submit_job`` is called on its own."""
        if not self.submission_token:
            raise JobError(
                f"{type(self).__name__}.submit_job() was called without a submission token. Call execute() "
                "(or submit_durably()) rather than submit_job() directly."
            )
        return self.submission_token
