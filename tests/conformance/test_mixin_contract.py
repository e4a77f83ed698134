"""Conformance: the Task SDK's ``ResumableJobMixin`` contract, for the mixin itself and ``DurableJobMixin``.

The same minimal operator is built on each mixin; every test states one behaviour of the upstream mixin
and runs for both. The store used here is upstream's two-argument kind (``get(key)``, ``set(key,
value)``), as the SDK's own tests use. Where the durable mixin differs on purpose (it writes a submission
intent beside the id), the test says so.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import structlog.testing
from airflow.sdk import ResumableJobMixin
from airflow.sdk.bases.operator import BaseOperator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from airflow_resumable.jobs.base import DurableJobMixin


class _Jobs:
    """The operator's backend: statuses by id, the next id, and what was submitted and polled."""

    def __init__(self) -> None:
        self.next_id = "job-001"
        self.statuses: dict[str, str] = {}
        self.submitted: list[str] = []
        self.polled: list[str] = []


def _operator_on(mixin: type) -> type:
    class Concrete(mixin, BaseOperator):  # type: ignore[misc, valid-type]
        external_id_key = "test_job_id"

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.jobs = _Jobs()

        def submit_job(self, context: Any) -> Any:
            self.jobs.submitted.append(self.jobs.next_id)
            return self.jobs.next_id

        def get_job_status(self, external_id: Any, context: Any) -> str:
            return self.jobs.statuses.get(str(external_id), "UNKNOWN")

        def is_job_active(self, status: str) -> bool:
            return status in ("RUNNING", "PENDING")

        def is_job_succeeded(self, status: str) -> bool:
            return status == "SUCCEEDED"

        def poll_until_complete(self, external_id: Any, context: Any) -> None:
            self.jobs.polled.append(str(external_id))

        def get_job_result(self, external_id: Any, context: Any) -> str:
            return f"result-of-{external_id}"

    Concrete.__name__ = Concrete.__qualname__ = "ConcreteResumableOperator"
    return Concrete


MIXINS = {"upstream": _operator_on(ResumableJobMixin), "durable": _operator_on(DurableJobMixin)}


class TwoArgumentStore:
    """Upstream's store shape in the SDK's tests: ``get(key)``, ``set(key, value)``; no retention."""

    def __init__(self, stored: dict[str, Any] | None = None) -> None:
        self.data: dict[str, Any] = dict(stored or {})
        self.id_at_poll: list[Any] = []

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


@pytest.fixture(params=sorted(MIXINS))
def make_op(request: pytest.FixtureRequest) -> Any:
    cls = MIXINS[request.param]

    def build(**kwargs: Any) -> Any:
        return cls(task_id="test_task", **kwargs)

    build.durable_mixin = request.param == "durable"  # type: ignore[attr-defined]
    return build


def _ctx(store: TwoArgumentStore | None) -> dict[str, Any]:
    return {} if store is None else {"task_state_store": store}


def _stored(status: str) -> TwoArgumentStore:
    return TwoArgumentStore({"test_job_id": "job-001"})


# -- first submission -----------------------------------------------------------------------------------
def test_first_try_submits_and_polls_once(make_op):
    op = make_op()
    op.execute_resumable(_ctx(TwoArgumentStore()))
    assert (op.jobs.submitted, op.jobs.polled) == (["job-001"], ["job-001"])


def test_the_id_is_stored_before_polling_starts(make_op):
    op, store = make_op(), TwoArgumentStore()
    seen: list[Any] = []
    op.poll_until_complete = lambda external_id, context: seen.append(store.get("test_job_id"))
    op.execute_resumable(_ctx(store))
    assert seen == ["job-001"]


def test_first_try_returns_the_job_result(make_op):
    assert make_op().execute_resumable(_ctx(TwoArgumentStore())) == "result-of-job-001"


def test_a_custom_external_id_key_is_used(make_op):
    op, store = make_op(), TwoArgumentStore()
    op.external_id_key = "my_custom_key"
    op.execute_resumable(_ctx(store))
    assert store.get("my_custom_key") == "job-001"


def test_a_none_id_is_not_stored(make_op):
    op, store = make_op(), TwoArgumentStore()
    op.submit_job = lambda context: None
    assert op.execute_resumable(_ctx(store)) == "result-of-None"
    assert "test_job_id" not in store.data  # the durable mixin keeps only its write-ahead intent


# -- retries --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["RUNNING", "PENDING"])
def test_an_active_stored_job_is_reconnected_without_submitting(make_op, status):
    op = make_op()
    op.jobs.statuses["job-001"] = status
    op.execute_resumable(_ctx(_stored(status)))
    assert (op.jobs.submitted, op.jobs.polled) == ([], ["job-001"])


def test_a_succeeded_stored_job_returns_its_result_without_polling(make_op):
    op = make_op()
    op.jobs.statuses["job-001"] = "SUCCEEDED"
    assert op.execute_resumable(_ctx(_stored("SUCCEEDED"))) == "result-of-job-001"
    assert (op.jobs.submitted, op.jobs.polled) == ([], [])


@pytest.mark.parametrize("status", ["FAILED", "KILLED", "ERROR", "UNKNOWN"])
def test_a_stored_job_in_a_terminal_failure_is_followed_by_a_new_one(make_op, status):
    op = make_op()
    op.jobs.statuses["job-001"], op.jobs.next_id = status, "job-002"
    store = _stored(status)
    assert op.execute_resumable(_ctx(store)) == "result-of-job-002"
    assert (op.jobs.submitted, op.jobs.polled) == (["job-002"], ["job-002"])
    assert store.get("test_job_id") == "job-002"


# -- durable=False ----------------------------------------------------------------------------------------
def test_durable_defaults_to_true_and_comes_from_default_args(make_op):
    from airflow.sdk import DAG

    assert make_op().durable is True
    with DAG("d", schedule=None, default_args={"durable": False}):
        assert make_op().durable is False


def test_not_durable_never_touches_the_store(make_op):
    op, store = make_op(durable=False), TwoArgumentStore()
    assert op.execute_resumable(_ctx(store)) == "result-of-job-001"
    assert store.data == {}
    assert (op.jobs.submitted, op.jobs.polled) == (["job-001"], ["job-001"])


def test_not_durable_submits_fresh_even_with_a_stored_active_job(make_op):
    op = make_op(durable=False)
    op.jobs.statuses["job-001"] = "RUNNING"
    op.execute_resumable(_ctx(_stored("RUNNING")))
    assert op.jobs.submitted == ["job-001"]


# -- no store ------------------------------------------------------------------------------------------------
def test_without_a_store_it_warns_submits_and_polls(make_op):
    op = make_op()
    with structlog.testing.capture_logs() as logs:
        assert op.execute_resumable(_ctx(None)) == "result-of-job-001"
    warnings = [e["event"] for e in logs if e["log_level"] == "warning"]
    assert any("crash recovery is disabled" in event for event in warnings)
    assert (op.jobs.submitted, op.jobs.polled) == (["job-001"], ["job-001"])


# -- metrics ------------------------------------------------------------------------------------------------
_TAGS = {"operator": "ConcreteResumableOperator"}


def _metrics(op: Any, store: TwoArgumentStore | None) -> list[str]:
    with mock.patch("airflow.sdk._shared.observability.metrics.stats.incr") as incr:
        op.execute_resumable(_ctx(store))
    assert all(call.kwargs["tags"] == _TAGS for call in incr.call_args_list)
    return [call.args[0] for call in incr.call_args_list]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, ["resumable_job.fresh_submit"]),
        ("RUNNING", ["resumable_job.reconnect_attempt", "resumable_job.reconnect_success"]),
        ("SUCCEEDED", ["resumable_job.reconnect_attempt", "resumable_job.already_succeeded"]),
        ("FAILED", ["resumable_job.reconnect_attempt", "resumable_job.terminal_resubmit"]),
    ],
)
def test_each_decision_is_counted_under_the_upstream_names(make_op, status, expected):
    op = make_op()
    if status is not None:
        op.jobs.statuses["job-001"] = status
    assert _metrics(op, TwoArgumentStore() if status is None else _stored(status)) == expected


def test_nothing_is_counted_without_a_store(make_op):
    assert _metrics(make_op(), None) == []


# -- tracing ------------------------------------------------------------------------------------------------
def _decision_span(make_op: Any, op: Any, store: TwoArgumentStore | None) -> Any:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    module = "airflow_resumable.jobs.base" if make_op.durable_mixin else "airflow.sdk.bases.resumablejobmixin"
    with mock.patch(f"{module}.tracer", provider.get_tracer(module)):
        op.execute_resumable(_ctx(store))
    return next(s for s in exporter.get_finished_spans() if s.name == "resumable_job.resume_decision")


@pytest.mark.parametrize(
    ("status", "decision"),
    [
        (None, "fresh_submit"),
        ("RUNNING", "reconnect"),
        ("SUCCEEDED", "already_succeeded"),
        ("FAILED", "terminal_resubmit"),
    ],
)
def test_the_decision_span_has_the_upstream_attributes(make_op, status, decision):
    op = make_op()
    if status is not None:
        op.jobs.statuses["job-001"] = status
    span = _decision_span(make_op, op, TwoArgumentStore() if status is None else _stored(status))
    assert span.attributes["resumable.decision"] == decision
    assert span.attributes["operator"] == "ConcreteResumableOperator"
    assert span.attributes["resumable.external_id_key"] == "test_job_id"
    if status is None:
        assert "resumable.external_id" not in span.attributes
    else:
        assert span.attributes["resumable.external_id"] == "job-001"
        assert span.attributes["resumable.prior_status"] == status


def test_the_decision_span_without_a_store(make_op):
    span = _decision_span(make_op, make_op(), None)
    assert span.attributes["resumable.decision"] == "no_task_state_store"


# -- logging --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "event", "level", "fields"),
    [
        ("RUNNING", "Reconnecting to existing job", "info", {"status": "RUNNING"}),
        ("SUCCEEDED", "Job already completed successfully, skipping resubmission", "info", {}),
        ("FAILED", "Prior job in terminal state, resubmitting fresh", "warning", {"status": "FAILED"}),
    ],
)
def test_decisions_on_a_stored_job_are_logged_as_upstream_events(make_op, status, event, level, fields):
    op = make_op()
    op.jobs.statuses["job-001"] = status
    with structlog.testing.capture_logs() as logs:
        op.execute_resumable(_ctx(_stored(status)))
    (entry,) = [e for e in logs if e["event"] == event]
    assert entry["log_level"] == level
    assert (entry["external_id"], entry["external_id_key"]) == ("job-001", "test_job_id")
    for key, value in fields.items():
        assert entry[key] == value


# -- construction -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mixin", sorted(MIXINS))
def test_the_mixin_must_come_before_base_operator(mixin):
    base = ResumableJobMixin if mixin == "upstream" else DurableJobMixin

    class Wrong(BaseOperator, base):  # type: ignore[misc, valid-type]
        pass

    with pytest.raises(TypeError):
        Wrong(task_id="x")
