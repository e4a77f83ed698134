"""What the EMR operators share beyond `airflow_resumable.jobs._aws_common` (whose names are re-exported
here): EMR state maps, step errors, markers, and `EmrDurable`, the mixin their operator classes start from.

One module per service builds on it (`airflow_resumable.jobs.emr_serverless`,
`airflow_resumable.jobs.emr_containers`, `airflow_resumable.jobs.emr_steps`); nothing here
imports the Amazon provider or botocore, so it can be read (and unit-tested) without them.
"""

from __future__ import annotations

from collections.abc import Iterable

from airflow_resumable.errors import JobError
from airflow_resumable.jobs import _aws_common, _errors
from airflow_resumable.jobs._aws_common import (
    CLOCK_SKEW,
    DISCOVERY_SLACK,
    MAX_PAGES,
    TOKEN_TAG,
    AwsDurable,
    JobStates,
    created_after,
    pages,
    pick,
    recorded_field,
)

__all__ = [
    "CLOCK_SKEW",
    "CONTAINERS_STATES",
    "DISCOVERY_SLACK",
    "MAX_PAGES",
    "PROVIDER_MISSING",
    "SERVERLESS_STATES",
    "STEP_STATES",
    "TOKEN_TAG",
    "EmrDurable",
    "JobStates",
    "StepsNotFoundError",
    "aggregate_step_state",
    "created_after",
    "has_marker",
    "is_aws_not_found",
    "pages",
    "pick",
    "recorded_field",
    "with_marker",
]

PROVIDER_MISSING = (
    "airflow_resumable.jobs.emr needs the Amazon provider (apache-airflow-providers-amazon>=9.39), "
    "which could not be imported ({error}). Install it with: pip install 'airflow-resumable[amazon]'"
)
"""The message of the ImportError each EMR module raises without the provider (``{error}``: the cause)."""

MAX_CANDIDATES = 50
"""Job runs with a matching name a search reads one by one (``GetJobRun``) to compare their token tag."""

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

    While any step is pending or running the group is active (its first such state is returned), even
    when another step already failed: a step with ``ActionOnFailure=CONTINUE`` lets later steps run on,
    and adding the group again would run those twice. Once none runs, any failed step fails the group;
    all completed means completed.
    """
    states = list(states)
    if not states:
        raise JobError("aggregate_step_state() needs at least one step state.")
    for state in states:
        if STEP_STATES.is_active(state):
            return state
    for state in states:
        if state in STEP_STATES.failed:
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
def is_aws_not_found(error: BaseException) -> bool:
    """True when an EMR API says the job (or step) does not exist: `StepsNotFoundError`, or AWS's own
    not-found errors (see `airflow_resumable.jobs._aws_common.is_aws_not_found()`)."""
    if any(isinstance(exc, StepsNotFoundError) for exc in _errors.causes(error)):
        return True
    return _aws_common.is_aws_not_found(error)


# -- the shared operator mixin ---------------------------------------------------------------------------
class EmrDurable(AwsDurable):
    """`AwsDurable` for the EMR operators: missing steps (`StepsNotFoundError`) count as not found too."""

    def is_job_not_found(self, error: BaseException) -> bool:
        """EMR's own ways of saying "no such job or step" (see `is_aws_not_found()`), then the base's."""
        return is_aws_not_found(error) or super().is_job_not_found(error)
