"""One durable submission: write-ahead intent, ``submit_job``, then the id; and the check after it.

Used by [`submit_durably`][airflow_resumable.jobs.base.DurableJobMixin.submit_durably], which loops over these
when a submission hands back a job that had already failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.jobs import _intent, _job_state
from airflow_resumable.jobs._decision import Decision

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context
    from pydantic import JsonValue

    from airflow_resumable.jobs._decision import ResumeDecision
    from airflow_resumable.jobs.base import DurableJobMixin

__all__ = ["status_after_submit", "submit_durably", "submit_once"]


def status_after_submit(op: DurableJobMixin, external_id: JsonValue, context: Context) -> str | None:
    """The status of a job a submission returned; ``None`` if the backend does not know it."""
    try:
        return op._retry(
            f"{type(op).__name__}: status of job {external_id}", op.get_job_status, external_id, context
        )
    except Exception as exc:
        if op.is_job_not_found(exc):
            return None
        raise


def submit_durably(op: DurableJobMixin, store: Any, context: Context, decision: ResumeDecision) -> JsonValue:
    """Submit once; while the backend hands back a job that already failed, submit the next generation
    (at most ``op.max_submissions_per_try`` submissions). A job it hands back that succeeded is recorded."""
    for _ in range(max(1, op.max_submissions_per_try)):
        external_id = op._submit_once(store, context, decision)
        if external_id is None or not op._submission_may_exist(decision):
            return external_id
        status = status_after_submit(op, external_id, context)
        if status is not None and op.is_job_succeeded(status):
            op.record_success(context, external_id, status)
            return external_id
        if status is not None and op.is_job_active(status):
            return external_id
        op.log.warning(
            "Prior job in terminal state, resubmitting fresh",
            external_id_key=op.external_id_key,
            external_id=external_id,
            status=status,
            job_not_found=status is None,
            generation=decision.generation,
            token=decision.token,
            returned_by_submission=True,
        )
        decision = op._new(
            Decision.RESUBMIT, context, decision.generation + 1, previous_external_id=external_id
        )
    raise JobError(
        f"{type(op).__name__}: {op.max_submissions_per_try} submissions in a row returned a job that "
        f"had already failed (last: {external_id!r}), so the backend keeps handing back old jobs for new "
        "tokens. Check the token the operator sends (idempotency_token) and retry the task."
    )


def submit_once(
    op: DurableJobMixin,
    store: Any,
    context: Context,
    decision: ResumeDecision,
    fields: Mapping[str, Any] | None = None,
) -> JsonValue:
    """Write the intent (nothing is submitted if that fails), call ``submit_job``, record the id.

    ``fields`` are backend facts recorded in the intent beside its own (names in
    ``_intent.RESERVED_FIELDS`` are refused before anything is written). A failure to record the id after
    a successful submit is logged, not raised: the intent lets a retry find the job again.
    """
    owner = type(op).__name__
    clash = sorted(set(fields or {}) & _intent.RESERVED_FIELDS)
    if clash:
        raise InvalidValueError(
            f"{owner}.intent_fields() returned {clash}, which the submission intent uses itself. "
            "Give these backend fields other names."
        )
    op.submission_generation = decision.generation
    op.submission_token = decision.token
    op.submission_repeats = decision.repeats_submission
    intent = {**_intent.new_intent(decision.generation, decision.token), **(fields or {})}
    if store is not None:
        try:
            _job_state.write(
                store, op.intent_key, intent, what="submission intent", owner=owner, never_expire=True
            )
        except Exception as exc:
            raise JobError(
                f"{owner} could not record its submission intent under {op.intent_key!r}, so "
                f"nothing was submitted ({exc!r}). A retry will try again."
            ) from exc
    external_id = op.submit_job(context)
    if external_id is None:
        op.log.warning(
            "submit_job returned no id to store; a retry will look for the job by its token",
            token=decision.token,
            generation=decision.generation,
        )
        return external_id
    if store is not None:
        try:
            _job_state.record_submitted(store, op.external_id_key, intent, external_id, owner=owner)
        except Exception as exc:
            op.log.error(
                "Could not store the submitted job id; a retry will find the job by its submission token",
                external_id=external_id,
                token=decision.token,
                error=repr(exc),
            )
        else:
            op.log.debug(
                "Persisted external ID to task store",
                external_id_key=op.external_id_key,
                external_id=external_id,
                generation=decision.generation,
            )
    return external_id
