"""What the three EMR operators share: state maps, error classification, markers and the discovery window.

Kept apart from :mod:`airflow_resumable.jobs.emr` so it can be read (and unit-tested) without the
operators: nothing here imports the Amazon provider or botocore.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_resumable.errors import JobError
from airflow_resumable.jobs import _errors

__all__ = [
    "CONTAINERS_STATES",
    "SERVERLESS_STATES",
    "STEP_STATES",
    "TOKEN_TAG",
    "JobStates",
    "StepsNotFoundError",
    "aggregate_step_state",
    "created_after",
    "has_marker",
    "is_aws_not_found",
    "with_marker",
]

TOKEN_TAG = "airflow-resumable-token"
"""Tag key under which EMR Serverless and EMR on EKS job runs carry their submission token."""


@dataclass(frozen=True)
class JobStates:
    """The states of one EMR API, split by what a retry should do about a job in them.

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


# EMR Serverless JobRunState (API reference, JobRun.state).
SERVERLESS_STATES = JobStates(
    service="EMR Serverless",
    active=frozenset({"SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED", "CANCELLING"}),
    succeeded=frozenset({"SUCCESS"}),
    failed=frozenset({"FAILED", "CANCELLED"}),
)

# EMR on EKS (emr-containers) JobRunState (API reference, JobRun.state).
CONTAINERS_STATES = JobStates(
    service="EMR on EKS",
    active=frozenset({"PENDING", "SUBMITTED", "RUNNING", "CANCEL_PENDING"}),
    succeeded=frozenset({"COMPLETED"}),
    failed=frozenset({"FAILED", "CANCELLED"}),
)

# EMR StepState (API reference, StepStatus.State).
STEP_STATES = JobStates(
    service="EMR steps",
    active=frozenset({"PENDING", "CANCEL_PENDING", "RUNNING"}),
    succeeded=frozenset({"COMPLETED"}),
    failed=frozenset({"CANCELLED", "FAILED", "INTERRUPTED"}),
)


def aggregate_step_state(states: Iterable[str]) -> str:
    """One state for a group of steps submitted together.

    Any failed step fails the group (as the provider's waiter does); all completed means completed;
    otherwise the group is still active and the first unfinished step's state is returned.
    """
    states = list(states)
    if not states:
        raise JobError("aggregate_step_state() needs at least one step state.")
    for state in states:
        if state in STEP_STATES.failed:
            return state
    for state in states:
        if state not in STEP_STATES.succeeded:
            return state
    return "COMPLETED"


class StepsNotFoundError(JobError):
    """Some stored EMR step ids are not on the cluster (any more): the submission is treated as lost."""


# -- markers ---------------------------------------------------------------------------------------------
def marker(token: str, index: int | None = None) -> str:
    """The text that ties a job name or step Name to one submission: ``[<token>]`` or ``[<token>/<i>]``."""
    return f"[{token}]" if index is None else f"[{token}/{index}]"


def with_marker(name: str | None, token: str, index: int | None = None, *, max_length: int = 256) -> str:
    """``name`` with the submission marker appended (the name is shortened if the whole would not fit)."""
    suffix = marker(token, index)
    base = (name or "").rstrip()
    room = max_length - len(suffix) - 1
    if room <= 0:
        return suffix[:max_length]
    base = base[:room].rstrip()
    return f"{base} {suffix}" if base else suffix


def has_marker(name: str | None, token: str, index: int | None = None) -> bool:
    """True when ``name`` ends with the marker of ``token`` (and step ``index``)."""
    return bool(name) and str(name).endswith(marker(token, index))


# -- errors ------------------------------------------------------------------------------------------------
_NOT_FOUND_PHRASES = ("does not exist", "doesn't exist", "not found", "no longer exists")
_NOT_FOUND_CODES_WITH_MESSAGE = frozenset({"ValidationException", "InvalidRequestException"})


def is_aws_not_found(error: BaseException) -> bool:
    """True when an EMR API says the job (or step) does not exist.

    ``ResourceNotFoundException`` always; ``ValidationException`` / ``InvalidRequestException`` when the
    message says the resource does not exist (EMR reports unknown steps and clusters that way). Throttling
    and server errors need nothing EMR-specific: the base class's classification covers AWS error codes.
    """
    for exc in _errors.causes(error):
        if isinstance(exc, StepsNotFoundError):
            return True
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
