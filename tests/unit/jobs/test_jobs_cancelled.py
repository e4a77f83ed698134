"""A job cancelled from outside (``airflow-resumable state orphans --cancel``) is terminal for the next try.

The ops layer cancels an orphaned run and records that in the intent (``"cancelled": {"external_id", "at",
"by", "reason"}``, state left ``"submitted"``). Databricks keeps showing a cancelled run as ``TERMINATING``
(or still ``RUNNING``) for a while, so the next try must not reconnect to it: it submits a new generation.
"""

from __future__ import annotations

from typing import Any

import pytest
from toy_backend import ToyOperator, ToyService

from airflow_resumable.jobs import _intent
from airflow_resumable.jobs.base import Decision
from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator
from airflow_resumable.testing import InMemoryStateBackend, make_context

KEY = "toy_job_id"
INTENT = "toy_job_id.intent"
FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "do_xcom_push": False}


def _op(service: ToyService) -> ToyOperator:
    return ToyOperator(task_id="task", service=service)


def _ctx(backend: InMemoryStateBackend, try_number: int = 1) -> dict[str, Any]:
    return make_context(backend=backend, try_number=try_number)


def _mark_cancelled(store: Any, key: str, external_id: Any) -> dict[str, Any]:
    """What ``ops.orphans(cancel=True)`` writes into the intent after cancelling the run."""
    mark = {"external_id": external_id, "at": "2026-12-05T10:00:00+00:00", "by": "oncall", "reason": "orphan"}
    store.set(f"{key}.intent", {**store.get(f"{key}.intent"), "cancelled": mark})
    return mark


def _submitted_and_lost(service: ToyService, backend: InMemoryStateBackend) -> ToyOperator:
    """Try 1 submits and its worker is lost before polling: the job stays active."""
    first = _op(service)
    ctx = _ctx(backend)
    first.submit_durably(ctx, first.decide(ctx))
    return first


def _events(mocker: Any) -> list[tuple[str, str, dict[str, Any]]]:
    events: list[tuple[str, str, dict[str, Any]]] = []

    class Log:
        def __getattr__(self, level: str) -> Any:
            return lambda event, *args, **kw: events.append((level, event, kw))

    mocker.patch.object(ToyOperator, "log", Log(), create=True)
    return events


@pytest.mark.parametrize("status", ["RUNNING", "PENDING"])
def test_a_run_cancelled_from_outside_is_not_reconnected_while_still_active(state_backend, mocker, status):
    service = ToyService(scripts=[[status, status, "CANCELLED"]])  # the cancelled job still shows as active
    first = _submitted_and_lost(service, state_backend)
    _mark_cancelled(state_backend.task_store(), KEY, "job-1")
    events = _events(mocker)

    retry = _op(service)
    decision = retry.decide(_ctx(state_backend, 2))
    assert (decision.action, decision.generation, decision.status) == (Decision.RESUBMIT, 2, status)
    assert decision.previous_external_id == "job-1" and decision.external_id is None
    assert decision.token != first.tokens[0]
    (event,) = [e for e in events if e[1] == "Prior job in terminal state, resubmitting fresh"]
    assert event[0] == "warning"
    assert event[2]["external_id"] == "job-1" and event[2]["generation"] == 2
    assert "cancelled from outside" in event[2]["reason"] and "oncall" in event[2]["reason"]

    assert _op(service).execute(_ctx(state_backend, 2)) == {"job": "job-2", "status": "SUCCEEDED"}
    assert list(service.jobs) == ["job-1", "job-2"]
    assert service.jobs["job-1"].polls == 0  # never polled after the cancellation


def test_the_new_generations_intent_does_not_carry_the_old_cancellation(state_backend):
    service = ToyService(scripts=[["RUNNING", "CANCELLED"]])
    _submitted_and_lost(service, state_backend)
    _mark_cancelled(state_backend.task_store(), KEY, "job-1")
    _op(service).execute(_ctx(state_backend, 2))
    intent = state_backend.task_store().get(INTENT)
    assert (intent["generation"], intent["external_id"], intent["state"]) == (2, "job-2", "submitted")
    assert "cancelled" not in intent
    # and the try after that reconnects to / returns generation 2 as usual
    assert _op(service).decide(_ctx(state_backend, 3)).action is Decision.ALREADY_SUCCEEDED


def test_a_cancellation_of_another_job_does_not_stop_a_reconnect(state_backend):
    service = ToyService(scripts=[["RUNNING", "CANCELLED"]])
    _submitted_and_lost(service, state_backend)
    _mark_cancelled(state_backend.task_store(), KEY, "job-0")  # an older generation's run
    decision = _op(service).decide(_ctx(state_backend, 2))
    assert (decision.action, decision.external_id) == (Decision.RECONNECT, "job-1")


def test_a_cancelled_job_that_had_already_succeeded_returns_its_result(state_backend):
    """The cancel raced the job's end: the backend says it succeeded, so its result stands."""
    service = ToyService(scripts=[["SUCCEEDED"]])
    _submitted_and_lost(service, state_backend)
    _mark_cancelled(state_backend.task_store(), KEY, "job-1")
    decision = _op(service).decide(_ctx(state_backend, 2))
    assert (decision.action, decision.external_id) == (Decision.ALREADY_SUCCEEDED, "job-1")
    assert len(service.jobs) == 1


def test_intent_parsing_keeps_the_cancellation_and_ignores_a_malformed_one():
    base = {"generation": 1, "token": "t-g1", "state": "submitted", "external_id": 7}
    mark = {"external_id": 7, "at": "2026-12-05T10:00:00+00:00", "by": "admin", "reason": "orphan"}
    parsed = _intent.parse_intent({**base, "cancelled": mark})
    assert parsed is not None and parsed["cancelled"] == mark
    assert _intent.cancellation(parsed, 7) == mark
    assert _intent.cancellation(parsed, 8) is None
    for bad in ("yes", ["x"], {"by": "admin"}):
        parsed = _intent.parse_intent({**base, "cancelled": bad})
        assert parsed is not None  # the intent stays readable; the bad mark is not a cancellation
        assert _intent.cancellation(parsed, 7) is None


@pytest.mark.parametrize("life_cycle", ["RUNNING", "TERMINATING"])
def test_a_databricks_run_cancelled_from_outside_is_followed_by_one_new_run(
    databricks, state_backend, life_cycle
):
    """Against the local Jobs API with the provider's hook: the cancelled run still shows ``life_cycle``."""
    databricks.scripts.append([life_cycle, life_cycle, "TERMINATED:CANCELED"])
    op = DatabricksSubmitRunOperator(
        task_id="job", notebook_task={"notebook_path": "/n"}, existing_cluster_id="c", **FAST
    )
    ctx = make_context(backend=state_backend, task_id="job")
    op.submit_durably(ctx, op.decide(ctx))  # the task is lost while its run goes on
    (cancelled,) = databricks.created
    _mark_cancelled(ctx["task_state_store"], "databricks_run_id", cancelled.run_id)

    retry = DatabricksSubmitRunOperator(
        task_id="job", notebook_task={"notebook_path": "/n"}, existing_cluster_id="c", **FAST
    )
    retry.execute(make_context(backend=state_backend, task_id="job", try_number=2))
    first, new = databricks.created
    assert new.step == "TERMINATED:SUCCESS" and new.token != first.token
    store = ctx["task_state_store"]
    assert store.get("databricks_run_id") == new.run_id
    intent = store.get("databricks_run_id.intent")
    assert (intent["generation"], intent["external_id"]) == (2, new.run_id) and "cancelled" not in intent
    assert first.gets == 1  # one status check while deciding, never polled
