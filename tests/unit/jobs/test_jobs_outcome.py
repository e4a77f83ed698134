"""With ``records_success``, a job a try saw succeed is recorded in the intent, so a retry that finds the
backend forgot it (ECS drops stopped tasks within an hour) returns its result instead of running it again;
without it (the default), a forgotten job starts a new generation as before."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from toy_backend import ToyOperator, ToyService

from airflow_resumable.jobs.base import Decision
from airflow_resumable.testing import make_context

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend

INTENT = "toy_job_id.intent"


def _ctx(backend: InMemoryStateBackend, try_number: int = 1) -> dict[str, Any]:
    return make_context(backend=backend, try_number=try_number)


class Remembering(ToyOperator):
    records_success = True


class DiesAfterTheJob(Remembering):
    """Try 1's worker dies right after the job succeeded; the result needs nothing from the service."""

    def execute(self, context: Any) -> Any:
        result = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("the worker died after the job succeeded")
        return result

    def get_job_result(self, external_id: Any, context: Any) -> Any:
        return {"job": external_id}


def test_a_job_the_backend_forgot_after_a_try_saw_it_succeed_is_not_run_again(state_backend):
    service = ToyService()
    with pytest.raises(RuntimeError, match="worker died"):
        DiesAfterTheJob(task_id="task", service=service).execute(_ctx(state_backend))
    assert state_backend.task_store().get(INTENT)["outcome"]["external_id"] == "job-1"
    del service.jobs["job-1"]  # the backend forgets the finished job before the retry asks

    retry = DiesAfterTheJob(task_id="task", service=service)
    decision = retry.decide(_ctx(state_backend, 2))
    assert (decision.action, decision.external_id, decision.job_forgotten) == (
        Decision.ALREADY_SUCCEEDED,
        "job-1",
        True,
    )
    assert retry.execute(_ctx(state_backend, 2)) == {"job": "job-1"}
    assert service.created == 1


def test_a_success_seen_while_deciding_is_recorded_too(state_backend):
    service = ToyService(default_script=["SUCCEEDED"])
    store = state_backend.task_store()
    job = service.submit("tok-g1")
    store.set(INTENT, {"generation": 1, "token": "tok-g1", "state": "submitted", "external_id": job})
    store.set("toy_job_id", job)
    decision = Remembering(task_id="task", service=service).decide(_ctx(state_backend, 2))
    assert decision.action is Decision.ALREADY_SUCCEEDED and not decision.job_forgotten
    assert store.get(INTENT)["outcome"]["status"] == "SUCCEEDED"

    del service.jobs[job]
    again = Remembering(task_id="task", service=service).decide(_ctx(state_backend, 3))
    assert (again.action, again.status, again.job_forgotten) == (
        Decision.ALREADY_SUCCEEDED,
        "SUCCEEDED",
        True,
    )


def test_a_forgotten_job_without_a_recorded_success_is_submitted_again(state_backend):
    service = ToyService(default_script=["RUNNING"])
    store = state_backend.task_store()
    job = service.submit("tok-g1")
    store.set(INTENT, {"generation": 1, "token": "tok-g1", "state": "submitted", "external_id": job})
    store.set("toy_job_id", job)
    del service.jobs[job]
    decision = ToyOperator(task_id="task", service=service).decide(_ctx(state_backend, 2))
    assert (decision.action, decision.generation) == (Decision.RESUBMIT, 2)


def test_a_success_recorded_for_an_older_job_does_not_follow_the_next_one(state_backend):
    service = ToyService(scripts=[["FAILED"]])
    store = state_backend.task_store()
    store.set(
        INTENT,
        {
            "generation": 1,
            "token": "tok-g1",
            "state": "submitted",
            "external_id": "job-0",
            "outcome": {"external_id": "job-0", "status": "SUCCEEDED", "at": "2026-01-01T00:00:00+00:00"},
        },
    )
    op = Remembering(task_id="task", service=service)
    op.submit_durably(_ctx(state_backend), op._new(Decision.RESUBMIT, _ctx(state_backend), 2))
    assert "outcome" not in store.get(INTENT)


def test_a_failed_write_of_the_success_is_logged_not_raised(state_backend, monkeypatch):
    service = ToyService()
    ctx = _ctx(state_backend)
    store = ctx["task_state_store"]
    op = Remembering(task_id="task", service=service)
    real_set = store.set

    def failing_outcome(key: str, value: Any, **kwargs: Any) -> None:
        if isinstance(value, dict) and "outcome" in value:
            raise RuntimeError("store unavailable")
        real_set(key, value, **kwargs)

    monkeypatch.setattr(store, "set", failing_outcome)
    assert op.execute(ctx) == {"job": "job-1", "status": "SUCCEEDED"}
    assert "outcome" not in store.get(INTENT)


def test_by_default_nothing_is_recorded_and_a_forgotten_job_starts_a_new_generation(state_backend):
    class Plain(DiesAfterTheJob):
        records_success = False

    service = ToyService()
    with pytest.raises(RuntimeError, match="worker died"):
        Plain(task_id="task", service=service).execute(_ctx(state_backend))
    assert "outcome" not in state_backend.task_store().get(INTENT)
    del service.jobs["job-1"]
    decision = Plain(task_id="task", service=service).decide(_ctx(state_backend, 2))
    assert (decision.action, decision.generation) == (Decision.RESUBMIT, 2)
