"""The resume decision: what a try does about its external job, and how that is reported.

Reported exactly as the Task SDK's ``ResumableJobMixin`` reports it, so dashboards and log searches built
on the upstream mixin keep working: the span ``resumable_job.resume_decision`` with the attribute
``resumable.decision`` (``fresh_submit``, ``reconnect``, ``already_succeeded``, ``terminal_resubmit``,
``no_task_state_store``), the upstream log events and the upstream metric names. The durable operators'
own facts (generation, token, whether a submission is repeated) are extra fields beside them.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.sdk._shared.observability.metrics import stats

from airflow_resumable.jobs import _intent, _job_state

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs.base import DurableJobMixin

__all__ = ["Decision", "ResumeDecision"]

NO_STORE = "no_task_state_store"
"""The span's decision value when the context has no task state store (nothing is read or written)."""


class Decision(str, enum.Enum):
    """What a retry does about the external job; the values are the upstream mixin's span values."""

    FRESH = "fresh_submit"
    """Nothing stored and nothing found: submit (generation 1, or the generation of an unfinished intent)."""
    RECONNECT = "reconnect"
    """A known job is still active: poll it (or defer on it); do not submit."""
    ALREADY_SUCCEEDED = "already_succeeded"
    """The known job succeeded: return its result without submitting or polling."""
    RESUBMIT = "terminal_resubmit"
    """The known job failed for good or the backend no longer knows it: submit a new generation."""


@dataclass(frozen=True)
class ResumeDecision:
    """The outcome of [`decide`][airflow_resumable.jobs.base.DurableJobMixin.decide].

    ``generation`` and ``token`` are what the next submission (if any) must use: for ``FRESH`` and
    ``RESUBMIT`` pass the decision to
    [`submit_durably`][airflow_resumable.jobs.base.DurableJobMixin.submit_durably];
    for ``RECONNECT`` and ``ALREADY_SUCCEEDED`` they describe the known job's submission.
    """

    action: Decision
    external_id: JsonValue | None
    """The job to reconnect to or whose result to return; ``None`` for ``FRESH`` and ``RESUBMIT``."""
    status: str | None
    """The backend status seen while deciding (``None`` when nothing was asked, or the job was not found)."""
    generation: int
    token: str
    repeats_submission: bool = False
    """True for a ``FRESH`` decision that repeats an earlier try's submission (same generation and token)
    whose job id was never stored: the job may already exist, and a backend that deduplicates by token
    returns it. Backends with side effects before submitting (cancelling other runs) skip them then."""
    previous_external_id: JsonValue | None = None
    """For ``RESUBMIT``: the job that failed or that the backend no longer knows."""
    crash_recovery: bool = True
    """False when the context has no task state store: nothing was read and nothing will be written."""
    reason: str | None = None
    """For a ``RESUBMIT`` of a job that did not end on its own: why it is not reconnected to (a job
    cancelled from outside, recorded in the intent, while the backend may still show it active)."""
    job_forgotten: bool = False
    """For ``ALREADY_SUCCEEDED``: the backend no longer knows the job, and the intent recorded that it
    succeeded (see [`record_success`][airflow_resumable.jobs.base.DurableJobMixin.record_success]);
    ``status`` is the recorded one. ``get_job_result`` cannot ask the backend about such a job."""

    @property
    def submits(self) -> bool:
        """True when this decision means a new submission (``FRESH`` or ``RESUBMIT``)."""
        return self.action in (Decision.FRESH, Decision.RESUBMIT)


_METRICS = {
    Decision.FRESH: ("resumable_job.fresh_submit",),
    Decision.RECONNECT: ("resumable_job.reconnect_attempt", "resumable_job.reconnect_success"),
    Decision.ALREADY_SUCCEEDED: ("resumable_job.reconnect_attempt", "resumable_job.already_succeeded"),
    Decision.RESUBMIT: ("resumable_job.reconnect_attempt", "resumable_job.terminal_resubmit"),
}


def count(decision: ResumeDecision, operator: object, context: Mapping[str, Any] | None) -> None:
    """Count a decision under the upstream metric names (nothing without a store, as upstream)."""
    if not decision.crash_recovery:
        return
    tags = stats_tags(operator, context)
    for name in _METRICS[decision.action]:
        stats.incr(name, tags=tags)


def stats_tags(operator: object, context: Mapping[str, Any] | None) -> dict[str, str]:
    """The upstream mixin's metric tags: the operator class and, in multi-team deployments, the team."""
    tags = {"operator": type(operator).__name__}
    ti = context.get("ti") if context is not None else None
    team = (getattr(ti, "stats_tags", None) or {}).get("team_name") if ti is not None else None
    if isinstance(team, str) and team:
        tags["team_name"] = team
    return tags


def span_attributes(decision: ResumeDecision) -> dict[str, Any]:
    """``resumable.*`` span attributes: the upstream ones, then this library's own."""
    attrs: dict[str, Any] = {
        "resumable.decision": decision.action.value if decision.crash_recovery else NO_STORE,
        "resumable.generation": decision.generation,
        "resumable.repeats_submission": decision.repeats_submission,
    }
    known = decision.external_id if decision.external_id is not None else decision.previous_external_id
    if known is not None:
        attrs["resumable.external_id"] = str(known)
    if decision.status is not None:
        attrs["resumable.prior_status"] = decision.status
    if decision.reason is not None:
        attrs["resumable.resubmit_reason"] = decision.reason
    if decision.job_forgotten:
        attrs["resumable.job_forgotten"] = True
    return attrs


def log_decision(log: Any, decision: ResumeDecision, external_id_key: str) -> None:
    """Log the decision as the upstream mixin's event for it, with generation and token beside."""
    own = {"generation": decision.generation, "token": decision.token}
    if not decision.crash_recovery:
        log.warning(
            "task_state_store not available in context, crash recovery is disabled for this run",
            external_id_key=external_id_key,
            **own,
        )
    elif decision.action is Decision.RECONNECT:
        log.info(
            "Reconnecting to existing job",
            external_id_key=external_id_key,
            external_id=decision.external_id,
            status=decision.status,
            **own,
        )
    elif decision.action is Decision.ALREADY_SUCCEEDED:
        log.info(
            "Job already completed successfully, skipping resubmission",
            external_id_key=external_id_key,
            external_id=decision.external_id,
            status=decision.status,
            **({"job_forgotten": True} if decision.job_forgotten else {}),
            **own,
        )
    elif decision.action is Decision.RESUBMIT:
        log.warning(
            "Prior job in terminal state, resubmitting fresh",
            external_id_key=external_id_key,
            external_id=decision.previous_external_id,
            status=decision.status,
            job_not_found=decision.status is None,
            **({"reason": decision.reason} if decision.reason is not None else {}),
            **own,
        )
    elif decision.repeats_submission:
        log.info(
            "No stored external ID found; submitting fresh job",
            external_id_key=external_id_key,
            repeats_submission=True,
            **own,
        )
    else:
        log.debug("No stored external ID found; submitting fresh job", external_id_key=external_id_key, **own)


# -- deciding from the store ----------------------------------------------------------------------------
def decide_with_store(op: DurableJobMixin, store: Any, context: Context) -> ResumeDecision:
    """Decide from the stored id and intent: reconnect, already succeeded, resubmit, or (re)submit fresh."""
    owner = type(op).__name__
    stored_id, intent = _job_state.read_state(
        store, op.external_id_key, op.previous_external_id_keys, owner=owner, log=op.log
    )
    known_id, repair = _job_state.known_job(stored_id, intent)
    if repair:  # the intent is written first: a crash before the id key was written leaves it behind
        _job_state.write(store, op.external_id_key, known_id, what="job id", owner=owner)

    if known_id is None and intent is not None:
        # A submission was started but its id never stored: the job may or may not exist.
        found = op._retry(
            f"{owner}: looking for a job submitted with token {intent['token']}",
            _find_submitted,
            op,
            intent,
            context,
        )
        if not _job_state.present(found):
            return ResumeDecision(
                Decision.FRESH, None, None, intent["generation"], intent["token"], repeats_submission=True
            )
        op.log.info("Found the job of an unfinished submission", external_id=found, token=intent["token"])
        _job_state.record_submitted(store, op.external_id_key, intent, found, owner=owner)
        known_id = found

    if known_id is None:
        return op._new(Decision.FRESH, context, 1)

    # An id stored without an intent (by the upstream mixin) belongs to no recorded generation: the
    # next submission is generation 1, with a new token (and checked after submitting if that token
    # may be one the earlier submission used, e.g. a user's own token).
    seen = intent["generation"] if intent else 0
    token = intent["token"] if intent else ""
    try:
        status: str = op._retry(f"{owner}: status of job {known_id}", op.get_job_status, known_id, context)
    except Exception as exc:
        if not op.is_job_not_found(exc):
            raise
        done = _intent.succeeded(intent, known_id) if op.records_success else None
        if done is not None:  # the backend forgot a job a try saw succeed: it is not run again
            recorded = done.get("status")
            return ResumeDecision(
                Decision.ALREADY_SUCCEEDED,
                known_id,
                recorded if isinstance(recorded, str) else None,
                max(seen, 1),
                token,
                job_forgotten=True,
            )
        return op._new(Decision.RESUBMIT, context, seen + 1, previous_external_id=known_id)
    # A job cancelled from outside (recorded in the intent) has ended for this task even while the backend
    # still shows it active (Databricks: TERMINATING for a while): never reconnect to it. Its success stands.
    cancelled = _intent.cancellation(intent, known_id)
    if op.is_job_active(status) and cancelled is None:
        return ResumeDecision(Decision.RECONNECT, known_id, status, max(seen, 1), token)
    if op.is_job_succeeded(status):
        op.record_success(context, known_id, status)
        return ResumeDecision(Decision.ALREADY_SUCCEEDED, known_id, status, max(seen, 1), token)
    decision = op._new(Decision.RESUBMIT, context, seen + 1, previous_external_id=known_id)
    return ResumeDecision(
        decision.action,
        None,
        status,
        decision.generation,
        decision.token,
        previous_external_id=known_id,
        reason=_cancelled_reason(cancelled) if cancelled is not None else None,
    )


def _cancelled_reason(mark: Mapping[str, Any]) -> str:
    """The log's ``reason`` for a job cancelled from outside, from the intent's mark."""
    said = f": {mark['reason']}" if mark.get("reason") else ""
    return f"cancelled from outside by {mark.get('by') or 'an unknown user'} at {mark.get('at') or '?'}{said}"


def _find_submitted(op: DurableJobMixin, intent: Mapping[str, Any], context: Context) -> JsonValue | None:
    """[`find_submitted_job`][airflow_resumable.jobs.base.DurableJobMixin.find_submitted_job] for ``intent``,
    with ``submitted_at`` if the override accepts it, and ``recorded_fields`` if it names that keyword (an
    older override's ``**kwargs`` does not get it)."""
    find = op.find_submitted_job
    extra: dict[str, Any] = {}
    if _accepts_keyword(find, "submitted_at"):
        extra["submitted_at"] = _intent.submitted_at(intent)
    if _accepts_keyword(find, "recorded_fields", named=True):
        extra["recorded_fields"] = _intent.recorded_fields(intent)
    return find(intent["token"], context, **extra)


def _accepts_keyword(fn: Any, name: str, *, named: bool = False) -> bool:
    """Whether ``fn`` takes the keyword ``name``: by that name, or (unless ``named``) through ``**kwargs``."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins and C callables
        return False
    varkw = not named and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return varkw or any(p.name == name for p in params)
