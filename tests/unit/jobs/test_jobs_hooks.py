"""The public hooks operators override instead of the mixin's private methods: whether a submit may hand
back an earlier job (``submit_may_return_existing_job``), and backend fields recorded in the intent
(``intent_fields``) and passed back to ``find_submitted_job`` (``recorded_fields``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from toy_backend import ToyOperator, ToyService

from airflow_resumable.errors import InvalidValueError, JobError
from airflow_resumable.testing import InMemoryStateBackend, make_context

if TYPE_CHECKING:
    from airflow_resumable.jobs.base import ResumeDecision

INTENT = "toy_job_id.intent"


def _ctx(backend: InMemoryStateBackend, try_number: int = 1) -> dict[str, Any]:
    return make_context(backend=backend, try_number=try_number)


class AlwaysJobOne(ToyOperator):
    """A backend that hands back job-1 for every submission (a user's own token naming an old job)."""

    def submit_job(self, context: Any) -> Any:
        super().submit_job(context)
        return "job-1"


def test_an_operator_saying_its_submit_may_return_an_old_job_gets_it_checked(state_backend):
    service = ToyService(scripts=[["FAILED"]])

    class MayReturnOld(AlwaysJobOne):
        def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
            return True

    with pytest.raises(JobError, match="returned a job that had already failed"):
        MayReturnOld(task_id="task", service=service).execute(_ctx(state_backend))
    assert service.status_calls >= 1


def test_by_default_a_first_submission_is_not_checked(state_backend):
    service = ToyService(scripts=[["FAILED"]])
    op = AlwaysJobOne(task_id="task", service=service)
    assert op.submit_may_return_existing_job(op.decide(_ctx(state_backend))) is False


def test_an_operator_whose_submit_never_returns_an_old_job_skips_the_check(state_backend):
    service = ToyService()
    calls: list[ResumeDecision] = []

    class NeverOld(ToyOperator):
        def submit_may_return_existing_job(self, decision: ResumeDecision) -> bool:
            calls.append(decision)
            return False

    state_backend.task_store().set(INTENT, {"generation": 1, "token": "tok-g1", "state": "submitting"})
    op = NeverOld(task_id="task", service=service)
    decision = op.decide(_ctx(state_backend, 2))
    assert decision.repeats_submission
    before = service.status_calls
    assert op.submit_durably(_ctx(state_backend, 2), decision) == "job-1"
    assert service.status_calls == before  # no status check after the submit
    assert [d.token for d in calls] == ["tok-g1"]


class Recording(ToyOperator):
    """Records the queue it submits to; its search reads it back from the intent."""

    seen: list[Any]

    def intent_fields(self, context: Any, decision: ResumeDecision) -> dict[str, Any]:
        return {"queue": "q-7"}

    def submit_job(self, context: Any) -> Any:
        raise RuntimeError("the worker died while submitting")

    def find_submitted_job(
        self, token: str, context: Any, *, submitted_at: Any = None, recorded_fields: Any = None
    ) -> Any:
        self.seen.append(recorded_fields)
        return None


def test_intent_fields_are_recorded_and_handed_to_the_search_of_a_retry(state_backend):
    op = Recording(task_id="task", service=ToyService())
    op.seen = []
    with pytest.raises(RuntimeError, match="worker died"):
        op.execute(_ctx(state_backend))
    intent = state_backend.task_store().get(INTENT)
    assert intent["queue"] == "q-7" and intent["state"] == "submitting"

    retry = Recording(task_id="task", service=ToyService())
    retry.seen = []
    assert retry.decide(_ctx(state_backend, 2)).repeats_submission
    assert retry.seen == [{"queue": "q-7"}]


def test_intent_fields_using_the_intents_own_names_are_refused_before_anything_is_written(state_backend):
    class Clashing(ToyOperator):
        def intent_fields(self, context: Any, decision: ResumeDecision) -> dict[str, Any]:
            return {"token": "mine"}

    service = ToyService()
    with pytest.raises(InvalidValueError, match=r"intent_fields\(\) returned \['token'\]"):
        Clashing(task_id="task", service=service).execute(_ctx(state_backend))
    assert state_backend.task_store().get(INTENT) is None
    assert service.submit_calls == 0
