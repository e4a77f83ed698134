"""Conformance: ``EmrCreateJobFlowOperator`` as the provider's class, the drop-in and the drop-in with
``durable=False``, each compared with the provider's class run the same way against the local AWS (moto).

The intended difference, allowed for here and nowhere else: a durable ``RunJobFlow`` request's ``Tags``
carry one more tag, ``airflow-resumable-token=<token>`` (``RunJobFlow`` has no idempotency token).
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
from airflow.providers.amazon.aws.triggers.emr import EmrCreateJobFlowTrigger
from airflow.providers.amazon.aws.utils.waiter import WaitPolicy
from conformance_helpers import first_event, outcome, xcom_keys

import aws_servers
import moto_server
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs import emr
from airflow_resumable.jobs import emr_create as ours

THEIRS = provider.EmrCreateJobFlowOperator
SERVICE = "emr"
RUN = "before-call.emr.RunJobFlow"


@pytest.fixture
def cluster_name(aws: str) -> str:
    import uuid

    return f"cluster-{uuid.uuid4().hex[:10]}"


def _args(name: str, **kwargs: Any) -> dict[str, Any]:
    overrides = kwargs.pop("job_flow_overrides", None) or aws_servers.cluster_job_flow_overrides(name)
    return {
        "task_id": "job",
        "emr_conn_id": None,
        "job_flow_overrides": copy.deepcopy(overrides),
        "waiter_delay": 1,
        "waiter_max_attempts": 3,
        **kwargs,
    }


@pytest.fixture
def make(flavour_name: str, cluster_name: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(
        flavour_name, THEIRS, ours.EmrCreateJobFlowOperator, partial(_args, cluster_name)
    )


def _without_marker(params: dict[str, Any], *, durable: bool) -> dict[str, Any]:
    """RunJobFlow parameters without the one intended difference: the token tag of a durable request."""
    params = copy.deepcopy(params)
    tags = params.get("Tags") or []
    marked = [t for t in tags if t["Key"] == common.TOKEN_TAG]
    assert len(marked) == (1 if durable else 0)
    rest = [t for t in tags if t["Key"] != common.TOKEN_TAG]
    params.pop("Tags", None)
    if rest:
        params["Tags"] = rest
    return params


def _state_after_create(op: Any, state: str) -> None:
    """Move the cluster ``op`` creates to ``state`` on AWS as soon as RunJobFlow returns."""

    def move(parsed: dict[str, Any], **_: Any) -> None:
        aws_servers.set_cluster_state(parsed["JobFlowId"], state)

    op.hook.conn.meta.events.register("after-call.emr.RunJobFlow", move)


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS)
    assert emr.EmrCreateJobFlowOperator is ours.EmrCreateJobFlowOperator  # importable beside the others


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"wait_for_completion": True},
        {"wait_policy": WaitPolicy.WAIT_FOR_STEPS_COMPLETION},
        {"waiter_delay": None, "waiter_max_attempts": None, "terminate_job_flow_on_failure": False},
        {"job_flow_overrides": "{'Name': 'from-a-string'}"},
    ],
    ids=["defaults", "wait", "wait policy", "provider defaults", "string overrides"],
)
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(**extra), make.provider(**extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)
    assert not hasattr(op, "_job_flow_id")  # set by execute only, as the provider does


# -- creating ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [{}, {"wait_for_completion": True}, {"wait_policy": WaitPolicy.WAIT_FOR_COMPLETION}],
    ids=["no wait", "wait", "wait policy"],
)
def test_run_job_flow_request_result_calls_and_xcoms(make, task_context, cluster_name, extra):
    tagged = aws_servers.cluster_job_flow_overrides(cluster_name, Tags=[{"Key": "team", "Value": "data"}])
    ref, op = make.provider(job_flow_overrides=tagged, **extra), make(job_flow_overrides=tagged, **extra)
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)
    ref_sent, sent = conformance.SentBodies(ref, RUN), conformance.SentBodies(op, RUN)
    ref_ctx, ctx = task_context(), task_context()

    ref_result = ref.execute(ref_ctx)
    result = op.execute(ctx)

    assert result == op._job_flow_id != ref_result == ref._job_flow_id
    # the parameters as the provider's hook passed them: unchanged (the tag is added after, as sent)
    assert calls.of("RunJobFlow") == ref_calls.of("RunJobFlow")
    assert calls.names() == ref_calls.names()
    assert xcom_keys(ctx) == xcom_keys(ref_ctx) != []
    tags = aws_servers.cluster_tags(result)
    assert tags["team"] == "data"
    if make.durable:  # the marker went out in the request and is on the cluster
        token = ctx["task_state_store"].get("emr_job_flow_id.intent")["token"]
        assert tags[common.TOKEN_TAG] == token
        assert {"Key": common.TOKEN_TAG, "Value": token} in sent.sent[0]["Tags"]
    else:
        assert common.TOKEN_TAG not in tags
        assert "Tags" not in ref_sent.sent[0] or all(
            t["Key"] != common.TOKEN_TAG for t in sent.sent[0]["Tags"]
        )


def test_string_overrides_are_parsed_as_the_provider_does(make, task_context, cluster_name):
    text = repr(aws_servers.cluster_job_flow_overrides(cluster_name))
    ref, op = make.provider(job_flow_overrides=text), make(job_flow_overrides=text)
    ref.execute(task_context())
    op.execute(task_context())
    assert op.job_flow_overrides == ref.job_flow_overrides == eval(text)


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    job_flow_id = make().execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get("emr_job_flow_id") == job_flow_id) is make.durable
    assert (stored.get("emr_job_flow_id.intent") is not None) is make.durable


# -- failures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("terminate", [True, False])
def test_a_cluster_that_fails_to_start_raises_and_is_terminated_as_by_the_provider(
    make, task_context, terminate
):
    extra = {"wait_for_completion": True, "terminate_job_flow_on_failure": terminate}
    ref, op = make.provider(**extra), make(**extra)
    _state_after_create(ref, "TERMINATED_WITH_ERRORS")
    _state_after_create(op, "TERMINATED_WITH_ERRORS")
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert expected[0] == "raised"
    assert got == expected
    assert calls.names() == ref_calls.names()
    assert ("TerminateJobFlows" in calls.names()) is terminate


def test_a_cluster_still_starting_when_the_waiter_gives_up_raises_as_by_the_provider(make, task_context):
    extra = {"wait_for_completion": True, "waiter_max_attempts": 2}
    ref, op = make.provider(**extra), make(**extra)
    _state_after_create(ref, "STARTING")
    _state_after_create(op, "STARTING")
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert expected == ("raised", "WaiterError: Waiter job_flow_waiting failed: Max attempts exceeded")
    assert got == expected
    assert calls.names() == ref_calls.names()  # polled as often, terminated once


def test_on_kill_terminates_the_cluster(make, task_context):
    op = make()
    job_flow_id = op.execute(task_context())
    calls = moto_server.Requests(op, SERVICE)

    op.on_kill()

    assert calls.of("TerminateJobFlows") == [{"JobFlowIds": [job_flow_id]}]
    assert aws_servers._emr_backend().clusters[job_flow_id].state == "TERMINATED"


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context):
    extra = {"deferrable": True, "wait_for_completion": True}
    ref, op = make.provider(**extra), make(**extra)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(got, expected, EmrCreateJobFlowTrigger, "job_flow_id")
    assert got.timeout == timedelta(seconds=3 * 1 + 60)

    event = first_event(got.trigger)  # against moto, through the provider's async hook
    assert event == {"status": "success", "job_flow_id": op._job_flow_id}
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )


def test_deferrable_without_waiting_returns_the_id(make, task_context):
    op = make(deferrable=True)
    assert op.execute(task_context()) == op._job_flow_id


@pytest.mark.parametrize("status", ["success", "error"])
def test_execute_complete(make, task_context, status):
    event = {"status": status, "job_flow_id": "j-1", "message": "JobFlow failed"}
    got = outcome(make().execute_complete, task_context(), event)
    assert got == outcome(make.provider().execute_complete, task_context(), event)


# -- contexts --------------------------------------------------------------------------------------------
def test_a_mock_context_works_as_with_the_provider(make):
    op = make()
    calls = moto_server.Requests(op, SERVICE)
    assert op.execute(mock.MagicMock()) == op._job_flow_id
    assert "Tags" not in calls.of("RunJobFlow")[0]


def test_a_plain_dict_context_works_as_with_the_provider(make):
    op = make()
    assert op.execute({}) == op._job_flow_id


# -- what only the durable operator does -----------------------------------------------------------------
@pytest.fixture
def durable_make(cluster_name: str) -> Any:
    return lambda **kwargs: ours.EmrCreateJobFlowOperator(**_args(cluster_name, **kwargs))


def test_a_retry_returns_the_cluster_of_the_first_try(aws, durable_make, task_context, cluster_name):
    first = durable_make().execute(task_context(1))
    op = durable_make()
    calls = moto_server.Requests(op, SERVICE)

    assert op.execute(task_context(2)) == first == op._job_flow_id
    assert "RunJobFlow" not in calls.names()
    assert len(aws_servers.clusters_named(cluster_name)) == 1


def test_a_crash_after_run_job_flow_is_recovered_by_the_tag(aws, durable_make, task_context, cluster_name):
    op = durable_make(wait_for_completion=True)

    def crash(**_: Any) -> None:
        raise RuntimeError("worker lost after RunJobFlow returned")

    op.hook.conn.meta.events.register("after-call.emr.RunJobFlow", crash)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))
    assert len(aws_servers.clusters_named(cluster_name)) == 1

    retry = durable_make(wait_for_completion=True)
    calls = moto_server.Requests(retry, SERVICE)
    job_flow_id = retry.execute(task_context(2))

    assert [c.id for c in aws_servers.clusters_named(cluster_name)] == [job_flow_id]
    assert calls.names()[0] == "ListClusters"
    assert "DescribeCluster" in calls.names()
    assert "RunJobFlow" not in calls.names()


@pytest.mark.parametrize(
    ("status", "policy", "active", "succeeded"),
    [
        ("STARTING", None, False, True),
        ("TERMINATED:USER_REQUEST", None, False, False),
        ("TERMINATED_WITH_ERRORS", None, False, False),
        ("STARTING", WaitPolicy.WAIT_FOR_COMPLETION, True, False),
        ("WAITING", WaitPolicy.WAIT_FOR_COMPLETION, False, True),
        ("TERMINATED:ALL_STEPS_COMPLETED", WaitPolicy.WAIT_FOR_COMPLETION, False, True),
        ("TERMINATING:USER_REQUEST", WaitPolicy.WAIT_FOR_COMPLETION, False, False),
        ("WAITING", WaitPolicy.WAIT_FOR_STEPS_COMPLETION, True, False),
        ("TERMINATED", WaitPolicy.WAIT_FOR_STEPS_COMPLETION, False, True),
        ("SOMETHING_NEW", WaitPolicy.WAIT_FOR_COMPLETION, True, False),
    ],
)
def test_what_a_retry_does_with_a_cluster_in_each_state(durable_make, status, policy, active, succeeded):
    op = durable_make(wait_policy=policy)
    assert (op.is_job_active(status), op.is_job_succeeded(status)) == (active, succeeded)
