"""Task-side state from outside: checkpoints and job intents of a DAG run, and orphaned jobs.

Every function takes an [`AirflowApi`][airflow_resumable.ops.api.AirflowApi] (from
[`connect()`][airflow_resumable.ops.api.connect]) and returns records from
[`airflow_resumable.ops.records`][airflow_resumable.ops.records]. Reading needs read access to the DAG's task
instances; [`orphans()`][airflow_resumable.ops.tasks.orphans] with ``cancel=True`` also writes the
cancellation into the job's intent, which needs write access to them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

from airflow_resumable.jobs._intent import INTENT_SUFFIX
from airflow_resumable.ops import decode
from airflow_resumable.ops.api import AirflowApi, _text
from airflow_resumable.ops.backends import backend_for
from airflow_resumable.ops.errors import NotFoundError
from airflow_resumable.ops.records import CancelRecord, CheckpointRecord, JobRecord, TaskRef, job_fields

__all__ = ["checkpoints", "jobs", "orphans", "with_live_status"]

R = TypeVar("R")
FINISHED_TI_STATES = ["failed", "success", "skipped", "upstream_failed", "removed"]
"""Rendered fields (besides ``*conn_id``) kept on a `TaskRef` for backends to find a job."""


def task_ref(ti: Any, run_state: str | None = None) -> TaskRef:
    """A [`TaskRef`][airflow_resumable.ops.records.TaskRef] from a task instance as the REST client returns
    it."""
    fields = job_fields(getattr(ti, "rendered_fields", None))
    return TaskRef(
        dag_id=ti.dag_id,
        run_id=ti.dag_run_id,
        task_id=ti.task_id,
        map_index=ti.map_index,
        state=_text(ti.state),
        try_number=ti.try_number,
        operator=ti.operator,
        run_state=run_state,
        job_fields=fields,
    )


def _each_task(
    api: AirflowApi, dag_id: str, run_id: str | None, read: Callable[[TaskRef, dict[str, Any]], list[R]]
) -> list[R]:
    run_id = run_id or api.latest_run_id(dag_id)
    run_state = api.run_state(dag_id, run_id)
    if run_state is None:
        raise NotFoundError(f"DAG run {dag_id}/{run_id} does not exist. List runs in the Airflow UI.")
    found: list[R] = []
    for ti in api.task_instances_of(dag_id, run_id):
        task = task_ref(ti, run_state)
        entries = api.task_entries(dag_id, run_id, task.task_id, task.map_index)
        found.extend(read(task, {e.key: e.value for e in entries}))
    return found


def checkpoints(api: AirflowApi, dag_id: str, run_id: str | None = None) -> list[CheckpointRecord]:
    """Every Checkpointer record of a DAG run (every task and map index); the latest run by default."""
    return _each_task(api, dag_id, run_id, decode.checkpoints)


RUN_LIVE_STATES = ("running", "queued")
HANDED_ON = " (handed on: its task succeeded and its DAG run is running)"


def with_live_status(job: JobRecord) -> JobRecord:
    """``job`` with the backend's live status, asked through the provider hook by the task's conn id.

    A job still active whose task *succeeded* while its DAG run still runs is handed on, not orphaned (a
    cluster kept for the steps after it, a run a sensor waits for, a job submitted with
    ``wait_for_completion=False``): it is reported not active, its status ending in ``(handed on: ...)``,
    so ``state orphans --cancel`` never stops it under the tasks that use it. Once the run is over it is an
    orphan like any other.
    """
    backend = backend_for(job)
    if backend is None or job.external_id is None:
        return job
    try:
        status, active = backend.status(job)
    except Exception as exc:
        return dataclasses.replace(job, backend=backend.name, live_error=_describe(exc))
    if active and job.task.state == "success" and job.task.run_state in RUN_LIVE_STATES:
        status, active = status + HANDED_ON, False
    return dataclasses.replace(job, backend=backend.name, live_status=status, live_active=active)


def jobs(api: AirflowApi, dag_id: str, run_id: str | None = None, *, live: bool = False) -> list[JobRecord]:
    """Every durable job intent of a DAG run; with ``live`` each job's status from its backend."""
    found = _each_task(api, dag_id, run_id, decode.jobs)
    return [with_live_status(j) for j in found] if live else found


def _describe(exc: BaseException) -> str:
    """A backend error for people, with every secret Airflow knows of (connection passwords) masked."""
    from airflow.sdk._shared.secrets_masker import redact

    return str(redact(f"{type(exc).__name__}: {exc}"))[:300]


def _since(window: timedelta | str) -> datetime:
    if isinstance(window, str):
        window = parse_duration(window)
    return datetime.now(tz=timezone.utc) - window


def parse_duration(text: str) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"`` or ``"2w"`` as a timedelta (units are never guessed)."""
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        raise ValueError(
            f"{text!r} is not a duration: write a whole number and a unit, e.g. 7d, 12h, 30m, 2w."
        )
    return timedelta(**{units[unit]: int(number)})


def orphans(
    api: AirflowApi,
    *,
    dag_id: str | None = None,
    since: timedelta | str = "7d",
    cancel: bool = False,
    reason: str = "orphaned: its task instance is no longer running",
) -> tuple[list[JobRecord], list[CancelRecord]]:
    """Jobs still active at their backend whose task instance will not come back for them.

    Looks at task instances that ended (failed, success, skipped, upstream_failed, removed, or without a
    state in a finished run) since ``since`` ago, in one DAG or all, and asks each job's backend for its
    status. A job is an orphan when the backend says it is active. A job whose intent already records a
    cancellation is listed (if still active) but never cancelled twice.

    With ``cancel=True`` each orphan is cancelled through the provider hook and the cancellation is
    written into its intent (field [`CANCELLED_FIELD`][airflow_resumable.ops.decode.CANCELLED_FIELD]), so a
    later try of the task does not reconnect to the cancelled run. Returns ``(orphans, actions)``.
    """
    start = _since(since)
    scope = dag_id or "~"
    tis = api.task_instances_of(scope, "~", state=FINISHED_TI_STATES, end_date_gte=start)
    tis += api.task_instances_of(scope, "~", state=["no_status"], updated_at_gte=start)  # cleared, not rerun
    run_states: dict[tuple[str, str], str | None] = {}
    found: list[JobRecord] = []
    for ti in tis:
        run = (ti.dag_id, ti.dag_run_id)
        if run not in run_states:
            run_states[run] = api.run_state(*run)
        task = task_ref(ti, run_states[run])
        if not task.finished:
            continue
        entries = api.task_entries(task.dag_id, task.run_id, task.task_id, task.map_index)
        for job in decode.jobs(task, {e.key: e.value for e in entries}):
            checked = with_live_status(job)
            if checked.live_active:
                found.append(checked)
    actions = [_cancel(api, job, reason) for job in found] if cancel else []
    return found, actions


def _cancel(api: AirflowApi, job: JobRecord, reason: str) -> CancelRecord:
    """Cancel one orphan (unless its intent already records that) and record it in the intent.

    The task's state is read again first: a job whose intent records a cancellation is not cancelled
    again, and a task that moved on to another job since it was listed is left alone.

    Airflow 3.3's REST API has no conditional write for the task state store (no version, no ETag): the
    mark is written by read-modify-write. So the intent is read again right before the write, and nothing is
    written (``refused``) if a retry changed it since; it is read once more after the write, which reports
    a retry's write that replaced the mark at once. A retry's write landing between that last read and the
    write itself (one request) is still overwritten (docs: Operating, "Cancelling orphaned jobs").
    """
    backend = backend_for(job)
    task = job.task
    entries = _entries(api, task)
    current = next((j for j in decode.jobs(task, entries) if j.key == job.key), None)
    if backend is None or current is None or current.external_id != job.external_id:
        return CancelRecord(job, "skipped", "the task's stored job changed since it was listed")
    if current.recorded_state == "cancelled":
        who = (current.cancelled or {}).get("by", "?")
        listed = dataclasses.replace(job, recorded_state="cancelled", cancelled=current.cancelled)
        return CancelRecord(listed, "already cancelled", f"recorded by {who}; nothing sent")
    try:
        unsent = backend.cancel(job)
    except Exception as exc:
        return CancelRecord(job, "failed", _describe(exc))
    if unsent:  # it ended (or is being stopped) since it was listed: nothing cancelled, nothing to record
        return CancelRecord(job, "already ended", unsent)
    intent_key = job.key + INTENT_SUFFIX
    intent = entries.get(intent_key)
    if not isinstance(intent, dict):
        return CancelRecord(job, "cancelled", "no intent to record it in (id stored by a provider operator)")
    fresh = _entries(api, task).get(intent_key)
    if fresh != intent:
        return CancelRecord(
            job,
            "refused",
            f"cancelled at {backend.name}, but the task's intent changed while it was cancelled "
            f"({_change(intent, fresh)}): a retry is moving on, so nothing was written to its state. "
            "List the task's jobs again to see its current one.",
        )
    mark = {
        "external_id": job.external_id,
        "at": datetime.now(tz=timezone.utc).isoformat(),
        "by": api.user,
        "reason": reason,
    }
    value = {**intent, decode.CANCELLED_FIELD: mark}
    api.patch_task_entry(task.dag_id, task.run_id, task.task_id, task.map_index, intent_key, value)
    done = dataclasses.replace(job, recorded_state="cancelled", cancelled=mark)
    after = _entries(api, task).get(intent_key)
    if after != value:
        return CancelRecord(
            done,
            "cancelled",
            f"recorded, then replaced at once by the task's next write ({_change(value, after)})",
        )
    return CancelRecord(done, "cancelled")


def _entries(api: AirflowApi, task: TaskRef) -> dict[str, Any]:
    """The task instance's state store, key -> value, as it is now."""
    return {e.key: e.value for e in api.task_entries(task.dag_id, task.run_id, task.task_id, task.map_index)}


def _change(before: Any, after: Any) -> str:
    """How an intent changed, for people: generation and token first, else its state, else "rewritten"."""
    if not isinstance(after, dict):
        return "it was deleted"
    parts = [
        f"{name} {before.get(name)} -> {after.get(name)}"
        for name in ("generation", "token", "state")
        if isinstance(before, dict) and before.get(name) != after.get(name)
    ]
    return ", ".join(parts) or "rewritten"
