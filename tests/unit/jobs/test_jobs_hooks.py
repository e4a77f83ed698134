"""The public hooks operators override instead of the mixin's private methods: whether a submit may hand
back an earlier job (``submit_may_return_existing_job``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from toy_backend import ToyOperator, ToyService

from airflow_resumable.errors import JobError
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
