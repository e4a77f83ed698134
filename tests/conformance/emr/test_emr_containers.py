"""Conformance: ``EmrContainerOperator`` (EMR on EKS) as the provider's class, the drop-in and the drop-in
with ``durable=False``, each compared with the provider's class run the same way against the local AWS.

Intended differences, allowed for here and nowhere else: the request's ``clientToken`` (the provider
sends a fresh uuid per try unless you pass one) and the ``airflow-resumable-token`` tag.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import emr as provider
from airflow.providers.amazon.aws.triggers.emr import EmrContainerTrigger
from conformance_helpers import first_event, outcome
from emr_conformance import run_both_with_a_job_run_failing_at_once, without_token

import moto_server
from airflow_resumable.jobs import emr as ours

THEIRS = provider.EmrContainerOperator
SERVICE = "emr-containers"


def _args(virtual_cluster: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "task_id": "job",
        "name": "nightly-report",
        "virtual_cluster_id": virtual_cluster,
        "execution_role_arn": moto_server.ROLE_ARN,
        "release_label": "emr-6.10.0-latest",
        "job_driver": {"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}},
        "configuration_overrides": {"monitoringConfiguration": {"persistentAppUI": "ENABLED"}},
        "poll_interval": 0,
        "max_polling_attempts": 2,
        **copy.deepcopy(kwargs),
    }


@pytest.fixture
def make(flavour_name: str, virtual_cluster: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(
        flavour_name, THEIRS, ours.EmrContainerOperator, partial(_args, virtual_cluster)
    )


def _moves_to(op: Any, state: str) -> Any:
    """``op``'s job run moves to ``state`` on AWS right after it is started (moto's backend, scripted
    from a botocore event on the operator's client; the provider's hook is untouched)."""
    op.hook.conn.meta.events.register(
        "after-call.emr-containers.StartJobRun",
        lambda parsed, **_: moto_server.set_containers_state(parsed["id"], state),
    )
    return op


def _both(make: Any, **kwargs: Any) -> tuple[Any, Any, moto_server.Requests, moto_server.Requests]:
    ref, op = make.provider(**kwargs), make(**kwargs)
    return ref, op, moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS, extra_link_types=False)
    assert list(op.operator_extra_links) == list(THEIRS.operator_extra_links)
    assert op._hook_parameters == make.provider()._hook_parameters


def test_constructor_defaults_and_attributes(make):
    op, ref = make(), make.provider()
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)
    assert (op.client_request_token, op.job_id, op.tags, op.cancel_on_kill) == (None, None, None, True)


# -- submitting ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"tags": {"team": "data"}, "job_retry_max_attempts": 3},
        {"configuration_overrides": None},
        {"openlineage_inject_parent_job_info": True, "openlineage_inject_transport_info": True},
    ],
    ids=["plain", "tags and retries", "no overrides", "openlineage"],
)
def test_start_job_run_request_and_result(make, task_context, extra):
    ref, op, ref_calls, calls = _both(make, wait_for_completion=False, **extra)

    assert ref.execute(task_context()) == ref.job_id
    assert op.execute(task_context()) == op.job_id

    assert [without_token(p, durable=make.durable) for p in calls.of("StartJobRun")] == [
        without_token(p, durable=False) for p in ref_calls.of("StartJobRun")
    ]
    assert calls.names() == ref_calls.names() == ["StartJobRun"]
    assert op.configuration_overrides == ref.configuration_overrides


def test_a_given_client_request_token_is_sent(make, task_context):
    op = make(client_request_token="my-token", wait_for_completion=False)
    calls = moto_server.Requests(op, SERVICE)
    op.execute(task_context())
    assert calls.of("StartJobRun")[0]["clientToken"] == "my-token"


@pytest.mark.parametrize(
    ("state", "attempts"),
    [("COMPLETED", 2), ("FAILED", 2), ("CANCELLED", 2), ("RUNNING", 2), ("RUNNING", 3)],
)
def test_waiting_ends_as_the_providers_does(make, task_context, state, attempts):
    ref, op, ref_calls, calls = _both(make, max_polling_attempts=attempts)
    _moves_to(ref, state)
    _moves_to(op, state)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert (got[0], str(got[1]).replace(str(op.job_id), "<id>")) == (
        expected[0],
        str(expected[1]).replace(str(ref.job_id), "<id>"),
    )
    assert calls.names() == ref_calls.names()  # polled as often, the failure reason read once


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    make(wait_for_completion=False).execute(ctx)
    assert (ctx["task_state_store"].get("emr_containers_job_run_id") is not None) is make.durable


def test_on_kill_cancels_the_job_run_and_waits_for_it(make, task_context, virtual_cluster):
    op = make(wait_for_completion=False)
    job_id = op.execute(task_context())
    calls = moto_server.Requests(op, SERVICE)

    op.on_kill()

    assert calls.names() == ["CancelJobRun", "DescribeJobRun"]
    assert moto_server.containers_job_runs(virtual_cluster)[-1].id == job_id
    assert moto_server.containers_job_runs(virtual_cluster)[-1].state == "CANCELLED"


def test_on_kill_before_a_job_does_nothing(make):
    op = make()
    calls = moto_server.Requests(op, SERVICE)
    op.on_kill()
    assert calls.names() == []


# -- deferrable ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("attempts", [None, 4])
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context, attempts):
    ref, op, ref_calls, calls = _both(make, deferrable=True, max_polling_attempts=attempts)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(
        got, expected, EmrContainerTrigger, "job_id", method_kwargs=False
    )
    assert got.timeout == (timedelta(0) if attempts else None)
    assert calls.names() == ref_calls.names() == ["StartJobRun", "DescribeJobRun"]

    moto_server.after_async_poll(moto_server.set_containers_state, op.job_id, "COMPLETED")
    event = first_event(got.trigger)  # against moto: RUNNING, then COMPLETED
    assert event == {"status": "success", "job_id": op.job_id}
    assert op.execute_complete(task_context(), event) == op.job_id


@pytest.mark.parametrize("state", ["COMPLETED", "FAILED"])
def test_deferrable_returns_or_fails_at_once_for_a_finished_job(make, task_context, state):
    ref, op, ref_calls, calls = _both(make, deferrable=True)
    _moves_to(ref, state)
    _moves_to(op, state)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert (got[0], str(got[1]).replace(str(op.job_id), "<id>")) == (
        expected[0],
        str(expected[1]).replace(str(ref.job_id), "<id>"),
    )
    assert calls.names() == ref_calls.names()


@pytest.mark.parametrize(
    "event",
    [{"status": "success", "job_id": "job-1"}, {"status": "error", "message": "boom", "job_id": "job-1"}],
    ids=["success", "error"],
)
def test_execute_complete(make, task_context, event):
    expected = outcome(make.provider().execute_complete, task_context(), event)
    assert outcome(make().execute_complete, task_context(), event) == expected


@pytest.mark.parametrize("kind", ["mock", "plain dict"])
def test_a_context_without_a_task_store_works_as_with_the_provider(make, kind):
    op = make(client_request_token="given", wait_for_completion=False)
    calls = moto_server.Requests(op, SERVICE)
    assert op.execute(mock.MagicMock() if kind == "mock" else {}) == op.job_id
    assert calls.of("StartJobRun")[0]["clientToken"] == "given"
    assert calls.of("StartJobRun")[0]["tags"] == {}


def test_a_job_made_with_your_token_that_fails_at_once_raises_as_the_provider_does(make, task_context):
    """Not taken for an earlier run's job (its creation time is this try's): never submitted again.
    Intended difference: the durable operator reads the job run once (``createdAt``) after starting it."""
    both = run_both_with_a_job_run_failing_at_once(make, _moves_to, SERVICE, task_context)

    assert (both.got[0], str(both.got[1]).replace(str(both.op.job_id), "<id>")) == (
        both.expected[0],
        str(both.expected[1]).replace(str(both.ref.job_id), "<id>"),
    )
    assert both.expected[0] == "raised"
    names = both.calls.names()
    if make.durable:
        assert names[0] == "StartJobRun" and names.pop(1) == "DescribeJobRun"
    assert names == both.ref_calls.names()
