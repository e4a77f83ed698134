"""Conformance: ``EmrAddStepsOperator`` as the provider's class, the drop-in and the drop-in with
``durable=False``, each compared with the provider's class run the same way against the local AWS.

Intended difference, allowed for here and nowhere else: in durable mode every step ``Name`` ends with
the submission's marker, `` [<token>/<index>]`` (``AddJobFlowSteps`` takes no idempotency token).
"""

from __future__ import annotations

import copy
import uuid
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import emr as provider
from airflow.providers.amazon.aws.triggers.emr import EmrAddStepsTrigger
from airflow.providers.common.compat.sdk import AirflowException
from conformance_helpers import first_event, flavour, outcome
from emr_conformance import without_step_markers

import moto_server
from airflow_resumable.jobs import emr as ours

THEIRS = provider.EmrAddStepsOperator
SERVICE = "emr"
STEPS = [
    {
        "Name": f"step-{i}",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": ["spark-submit", f"s3://bucket/s{i}.py"]},
    }
    for i in range(2)
]


def _args(cluster: str, **kwargs: Any) -> dict[str, Any]:
    args = {"task_id": "job", "steps": STEPS, "waiter_delay": 1, "waiter_max_attempts": 3}
    if "job_flow_name" not in kwargs:
        args["job_flow_id"] = cluster
    return copy.deepcopy({**args, **kwargs})


@pytest.fixture
def make(flavour_name: str, cluster: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(flavour_name, THEIRS, ours.EmrAddStepsOperator, partial(_args, cluster))


def _ends(op: Any, *states: str) -> Any:
    """``op``'s steps reach ``states`` on AWS right after they are added (moto's backend, scripted from a
    botocore event on the operator's client; the provider's hook is untouched)."""

    def added(parsed: dict[str, Any], **kwargs: Any) -> None:
        op.added_step_ids = list(parsed["StepIds"])
        for step_id, state in zip(parsed["StepIds"], states, strict=False):
            moto_server.set_step_state(kwargs["context"]["cluster"], step_id, state)

    def remember_cluster(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["cluster"] = params["JobFlowId"]

    op.hook.conn.meta.events.register("provide-client-params.emr.AddJobFlowSteps", remember_cluster)
    op.hook.conn.meta.events.register("after-call.emr.AddJobFlowSteps", added)
    return op


def _both(make: Any, **kwargs: Any) -> tuple[Any, Any, moto_server.Requests, moto_server.Requests]:
    ref, op = make.provider(**kwargs), make(**kwargs)
    return ref, op, moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)


def _same(got: tuple[str, Any], expected: tuple[str, Any], ids: list[str], ref_ids: list[str]) -> None:
    """Outcomes equal once each run's own step ids are named by position."""

    def named(text: str, step_ids: list[str]) -> str:
        for i, step_id in enumerate(step_ids):
            text = text.replace(step_id, f"<step {i}>")
        return text

    assert (got[0], named(str(got[1]), ids)) == (expected[0], named(str(expected[1]), ref_ids))


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS)


@pytest.mark.parametrize("extra", [{}, {"wait_for_completion": True, "deferrable": True}, {"steps": None}])
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(**extra), make.provider(**extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)


@pytest.mark.parametrize("clusters", [{}, {"job_flow_name": "x"}], ids=["neither", "both"])
def test_cluster_arguments_are_checked_as_the_provider_does(flavour_name, clusters):
    chosen = flavour(flavour_name, THEIRS, ours.EmrAddStepsOperator)
    kwargs = {"job_flow_id": "j-1", **clusters} if clusters else {}
    with pytest.raises(AirflowException, match=r"^Exactly one of job_flow_id or job_flow_name"):
        chosen(task_id="job", steps=STEPS, **kwargs)


# -- adding steps --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [{}, {"execution_role_arn": moto_server.ROLE_ARN}, {"steps": repr(STEPS)}],
    ids=["steps", "runtime role", "steps as a string"],
)
def test_add_job_flow_steps_request_xcoms_and_result(make, task_context, cluster, extra):
    ref, op, ref_calls, calls = _both(make, **extra)
    ref_ctx, ctx = task_context(), task_context()

    ref_ids, ids = ref.execute(ref_ctx), op.execute(ctx)

    assert len(ids) == len(ref_ids) == 2
    assert [step.id for step in moto_server.cluster_steps(cluster)] == ref_ids + ids
    assert [without_step_markers(p, durable=make.durable) for p in calls.of("AddJobFlowSteps")] == [
        without_step_markers(p, durable=False) for p in ref_calls.of("AddJobFlowSteps")
    ]
    assert ctx["ti"].xcoms == ref_ctx["ti"].xcoms  # job_flow_id and the cluster and log links
    assert ("job_flow_id", cluster) in ctx["ti"].xcoms
    assert calls.names() == ref_calls.names()


def test_a_cluster_given_by_name_is_looked_up_as_the_provider_does(make, task_context, aws):
    name = f"named-{uuid.uuid4().hex[:8]}"
    cluster = moto_server.create_cluster(name)
    extra = {"job_flow_name": name, "cluster_states": ["WAITING", "RUNNING"]}
    ref, op, ref_calls, calls = _both(make, **extra)
    ref_ctx, ctx = task_context(), task_context()

    ref.execute(ref_ctx)
    op.execute(ctx)

    assert calls.names() == ref_calls.names()
    assert calls.of("ListClusters") == ref_calls.of("ListClusters")
    assert ("job_flow_id", cluster) in ctx["ti"].xcoms
    assert ctx["ti"].xcoms == ref_ctx["ti"].xcoms


def test_no_cluster_found_fails_with_the_providers_error_before_anything_is_added(make, task_context):
    extra = {"job_flow_name": "no-such-cluster"}
    expected = outcome(make.provider(**extra).execute, task_context())
    ctx = task_context()
    assert outcome(make(**extra).execute, ctx) == expected
    assert expected == ("raised", "AirflowException: No cluster found for name: no-such-cluster")
    assert ctx["ti"].xcoms == []


@pytest.mark.parametrize("steps", [[], None, "[]", [["not", "a", "dict"]]], ids=["[]", "None", "'[]'", "bad"])
def test_no_or_unusable_steps_do_what_the_provider_does(make, task_context, steps):
    expected = outcome(make.provider(steps=steps).execute, task_context())
    ctx = task_context()
    assert outcome(make(steps=steps).execute, ctx) == expected
    assert ctx["task_state_store"].get("emr_step_ids.intent") is None


@pytest.mark.parametrize(
    "states",
    [("COMPLETED", "COMPLETED"), ("FAILED", "COMPLETED"), ("COMPLETED", "CANCELLED"), ("RUNNING", "PENDING")],
)
def test_waiting_for_the_steps_ends_as_the_providers_does(make, task_context, states):
    extra = {"wait_for_completion": True, "waiter_delay": 1, "waiter_max_attempts": 2}
    ref, op, ref_calls, calls = _both(make, **extra)
    _ends(ref, *states)
    _ends(op, *states)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    _same(got, expected, op.added_step_ids, ref.added_step_ids)
    assert calls.names() == ref_calls.names()  # waited as often, failure details read once


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    make().execute(ctx)
    assert (ctx["task_state_store"].get("emr_step_ids") is not None) is make.durable


def test_on_kill_leaves_the_steps_as_the_provider_does(make, task_context, cluster):
    op = make()
    op.execute(task_context())
    calls = moto_server.Requests(op, SERVICE)
    op.on_kill()
    assert calls.names() == []
    assert [step.state for step in moto_server.cluster_steps(cluster)] != ["CANCELLED", "CANCELLED"]


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context, cluster):
    ref, op, ref_calls, calls = _both(make, deferrable=True, waiter_delay=0)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(
        got, expected, EmrAddStepsTrigger, "step_ids", method_kwargs=False
    )
    assert calls.names() == ref_calls.names()

    step_ids = got.trigger.serialize()[1]["step_ids"]
    moto_server.after_async_poll(moto_server.complete_steps, cluster, step_ids)
    event = first_event(got.trigger)  # against moto: running, then completed
    assert event == {"status": "success", "value": step_ids}
    assert op.execute_complete(task_context(), event) == step_ids


@pytest.mark.parametrize(
    "event",
    [{"status": "success", "value": ["s-1"]}, {"status": "error", "message": "boom", "value": ["s-1"]}],
    ids=["success", "error"],
)
def test_execute_complete(make, task_context, event):
    expected = outcome(make.provider().execute_complete, task_context(), event)
    assert outcome(make().execute_complete, task_context(), event) == expected


# -- contexts and lineage ---------------------------------------------------------------------------------
def test_a_mock_context_works_as_with_the_provider(make, cluster):
    op = make()
    calls = moto_server.Requests(op, SERVICE)
    ids = op.execute(mock.MagicMock())
    assert ids == [step.id for step in moto_server.cluster_steps(cluster)]
    assert [s["Name"] for s in calls.of("AddJobFlowSteps")[0]["Steps"]] == ["step-0", "step-1"]


@pytest.mark.parametrize("push", [True, False])
def test_a_plain_dict_context_does_what_the_provider_does(make, push):
    expected = outcome(make.provider(do_xcom_push=push).execute, {})
    got = outcome(make(do_xcom_push=push).execute, {})
    assert (got[0], type(got[1])) == (expected[0], type(expected[1]))
    if expected[0] == "raised":
        assert got == expected  # KeyError: 'ti', from pushing the cluster id


def test_openlineage_injection_changes_the_steps_as_the_provider(make, task_context):
    ref, op, ref_calls, calls = _both(make, openlineage_inject_parent_job_info=True)
    ref.execute(task_context())
    op.execute(task_context())
    assert [without_step_markers(p, durable=make.durable) for p in calls.of("AddJobFlowSteps")] == [
        without_step_markers(p, durable=False) for p in ref_calls.of("AddJobFlowSteps")
    ]
