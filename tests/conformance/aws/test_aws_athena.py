"""Conformance: ``AthenaOperator`` as the provider's class, the drop-in and the drop-in with
``durable=False``, each compared with the provider's class run the same way against the local AWS (moto,
answering tokens and unknown ids as Athena does: ``aws_servers.athena_like_aws``).

The intended difference, allowed for here and nowhere else: a durable ``StartQueryExecution`` request
carries a ``ClientRequestToken`` (derived per task instance and submission, or your own).
"""

from __future__ import annotations

import copy
import uuid
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import athena as provider
from airflow.providers.amazon.aws.triggers.athena import AthenaTrigger
from conformance_helpers import first_event, outcome, xcom_keys

import aws_servers
import moto_server
from airflow_resumable.jobs import athena as ours

THEIRS = provider.AthenaOperator
SERVICE = "athena"
KEY = "athena_query_execution_id"


@pytest.fixture(autouse=True)
def athena(aws: str) -> Any:
    with aws_servers.athena_like_aws():
        yield


@pytest.fixture
def query() -> str:
    return f"SELECT * FROM orders WHERE batch = '{uuid.uuid4().hex[:10]}'"


def _args(query: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "task_id": "job",
        "query": query,
        "database": "sales",
        "output_location": "s3://results/",
        "sleep_time": 0,
        "max_polling_attempts": 3,
        **copy.deepcopy(kwargs),
    }


@pytest.fixture
def make(flavour_name: str, query: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(flavour_name, THEIRS, ours.AthenaOperator, partial(_args, query))


def _without_token(params: dict[str, Any], *, durable: bool) -> dict[str, Any]:
    params = copy.deepcopy(params)
    token = params.pop("ClientRequestToken", None)
    if durable:
        assert isinstance(token, str) and 32 <= len(token) <= 128  # intended: the recorded token
    else:
        assert token is None
    return params


def _state_after_start(op: Any, state: str) -> None:
    """Move the query ``op`` starts to ``state`` on AWS as soon as StartQueryExecution returns."""

    def move(parsed: dict[str, Any], **_: Any) -> None:
        aws_servers.set_athena_state(parsed["QueryExecutionId"], state)

    op.hook.get_conn().meta.events.register("after-call.athena.StartQueryExecution", move)


def _requests(op: Any) -> moto_server.Requests:
    op.hook.conn  # noqa: B018 - the client the hook's calls go through
    return moto_server.Requests(op, SERVICE)


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS)


@pytest.mark.parametrize("extra", [{}, {"client_request_token": "t" * 40, "workgroup": "wg", "catalog": "c"}])
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(**extra), make.provider(**extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)
    assert op.query_execution_id is None


# -- starting --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [{}, {"database": None, "query_execution_context": {"Database": "other"}}, {"output_location": None}],
    ids=["defaults", "context database", "no output location"],
)
def test_start_query_request_result_attributes_calls_and_xcoms(make, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    ref_calls, calls = _requests(ref), _requests(op)
    ref_ctx, ctx = task_context(), task_context()

    ref_result = ref.execute(ref_ctx)
    result = op.execute(ctx)

    assert result == op.query_execution_id != ref_result == ref.query_execution_id
    assert [_without_token(p, durable=make.durable) for p in calls.of("StartQueryExecution")] == [
        _without_token(p, durable=False) for p in ref_calls.of("StartQueryExecution")
    ]
    assert calls.names() == ref_calls.names()
    assert (op.query_execution_context, op.result_configuration) == (
        ref.query_execution_context,
        ref.result_configuration,
    )
    assert xcom_keys(ctx) == xcom_keys(ref_ctx) != []


def test_a_given_client_request_token_is_sent(make, task_context):
    token = f"given-{uuid.uuid4().hex}"
    op = make(client_request_token=token)
    calls = _requests(op)
    op.execute(task_context())
    assert calls.of("StartQueryExecution")[0]["ClientRequestToken"] == token


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    query_execution_id = make().execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get(KEY) == query_execution_id) is make.durable
    assert (stored.get(f"{KEY}.intent") is not None) is make.durable


# -- failures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_a_failed_query_raises_as_with_the_provider(make, task_context, state):
    ref, op = make.provider(), make()
    _state_after_start(ref, state)
    _state_after_start(op, state)
    ref_calls, calls = _requests(ref), _requests(op)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert expected[0] == "raised"
    assert got == (expected[0], expected[1].replace(ref.query_execution_id, op.query_execution_id))
    assert calls.names() == ref_calls.names()  # polled as often, never retried


def test_a_query_outlasting_the_polls_raises_as_with_the_provider(make, task_context):
    ref, op = make.provider(max_polling_attempts=2), make(max_polling_attempts=2)
    with aws_servers.athena_queries_run_for(50):
        ref_calls, calls = _requests(ref), _requests(op)
        expected = outcome(ref.execute, task_context())
        got = outcome(op.execute, task_context())

    assert "Max tries of poll status exceeded" in expected[1]
    assert got == (expected[0], expected[1].replace(ref.query_execution_id, op.query_execution_id))
    assert calls.names() == ref_calls.names()


def test_on_kill_stops_the_query(make, task_context):
    op = make()
    query_execution_id = op.execute(task_context())
    calls = _requests(op)

    op.on_kill()

    assert calls.of("StopQueryExecution") == [{"QueryExecutionId": query_execution_id}]


def test_on_kill_before_a_query_does_nothing(make):
    op = make()
    calls = _requests(op)
    op.on_kill()
    assert calls.names() == []


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(
        got, expected, AthenaTrigger, "query_execution_id", "waiter_args"
    )

    event = first_event(got.trigger)  # against moto, through the provider's async hook
    assert event == {"status": "success", "value": op.query_execution_id}
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )


@pytest.mark.parametrize("status", ["success", "error"])
def test_execute_complete(make, task_context, status):
    event = {"status": status, "value": "q-1", "message": "Query failed"}
    op, ref = make(), make.provider()
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )
    assert op.query_execution_id == ref.query_execution_id


# -- contexts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("context", [mock.MagicMock(), {}], ids=["mock", "plain dict"])
def test_a_context_without_a_store_works_as_with_the_provider(make, context):
    op = make()
    calls = _requests(op)
    assert op.execute(context) == op.query_execution_id
    assert "ClientRequestToken" not in calls.of("StartQueryExecution")[0]


# -- what only the durable operator does -----------------------------------------------------------------
@pytest.fixture
def durable_make(query: str) -> Any:
    return lambda **kwargs: ours.AthenaOperator(**_args(query, **kwargs))


def test_a_crash_after_start_gets_the_same_query_back(durable_make, task_context, query):
    op = durable_make()

    def crash(**_: Any) -> None:
        raise RuntimeError("worker lost after StartQueryExecution returned")

    op.hook.get_conn().meta.events.register("after-call.athena.StartQueryExecution", crash)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    retry = durable_make()
    calls = _requests(retry)
    query_execution_id = retry.execute(task_context(2))

    assert [e.id for e in aws_servers.athena_executions(query)] == [query_execution_id]
    token = task_context(2)["task_state_store"].get(f"{KEY}.intent")["token"]
    assert calls.of("StartQueryExecution") == [
        {**calls.of("StartQueryExecution")[0], "ClientRequestToken": token}
    ]


def test_a_retry_after_a_failed_query_with_your_token_starts_a_new_one(durable_make, task_context, query):
    token = f"nightly-orders-{uuid.uuid4().hex}"
    op = durable_make(client_request_token=token)
    _state_after_start(op, "FAILED")
    with pytest.raises(Exception, match="Final state of Athena job is FAILED"):
        op.execute(task_context(1))

    retry = durable_make(client_request_token=token)
    calls = _requests(retry)
    query_execution_id = retry.execute(task_context(2))

    executions = aws_servers.athena_executions(query)
    assert [e.id for e in executions][-1] == query_execution_id and len(executions) == 2
    sent = calls.of("StartQueryExecution")[0]["ClientRequestToken"]
    assert sent.startswith(f"{token}-") and sent.endswith("-g2")


def test_your_token_handing_back_an_old_failed_query_starts_a_new_one_at_once(
    durable_make, task_context, query
):
    token = f"nightly-orders-{uuid.uuid4().hex}"
    old = THEIRS(**_args(query, client_request_token=token))
    _state_after_start(old, "FAILED")
    with pytest.raises(Exception, match="FAILED"):
        old.execute(task_context(1))
    aws_servers.backdate_athena_execution(old.query_execution_id, hours=1)  # yesterday's run

    op = durable_make(client_request_token=token)
    query_execution_id = op.execute(task_context(1))  # a fresh task state (reset, or a new DAG run)

    assert query_execution_id != old.query_execution_id
    assert [e.id for e in aws_servers.athena_executions(query)] == [
        old.query_execution_id,
        query_execution_id,
    ]
