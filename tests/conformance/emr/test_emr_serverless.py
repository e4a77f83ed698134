"""Conformance: ``EmrServerlessStartJobOperator`` as the provider's class, the drop-in and the drop-in with
``durable=False``, each compared with the provider's class run the same way against the local AWS.

Intended differences, allowed for here and nowhere else: the request's ``clientToken`` (derived per task
instance and submission, or your ``client_request_token``) and the ``airflow-resumable-token`` tag.
"""

from __future__ import annotations

import copy
import re
from datetime import timedelta
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import emr as provider
from airflow.providers.amazon.aws.triggers.emr import (
    EmrServerlessStartApplicationTrigger,
    EmrServerlessStartJobTrigger,
)
from airflow.sdk.exceptions import TaskDeferred
from conformance_helpers import first_event, outcome, trigger_kwargs, xcom_keys
from emr_conformance import run_both_with_a_job_run_failing_at_once, without_token

import moto_server
from airflow_resumable.jobs import emr as ours

THEIRS = provider.EmrServerlessStartJobOperator
SERVICE = "emr-serverless"
DEFAULT_NAME = re.compile(
    r"^emr_serverless_job_airflow_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
)


def _args(application: str, **kwargs: Any) -> dict[str, Any]:
    kwargs = copy.deepcopy(kwargs)  # the provider pops from its config: no sharing between operators
    return {
        "task_id": "job",
        "application_id": application,
        "execution_role_arn": moto_server.ROLE_ARN,
        "job_driver": {"sparkSubmit": {"entryPoint": "s3://bucket/job.py", "entryPointArguments": ["x"]}},
        "configuration_overrides": {"applicationConfiguration": [{"classification": "spark-defaults"}]},
        "waiter_delay": 0,
        "waiter_max_attempts": 3,
        **kwargs,
    }


@pytest.fixture
def make(flavour_name: str, application: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(
        flavour_name, THEIRS, ours.EmrServerlessStartJobOperator, partial(_args, application)
    )


def _moves_to(op: Any, state: str) -> Any:
    """``op``'s job run moves to ``state`` on AWS right after it is started: a backend transition in
    moto, scripted from a botocore event on the operator's client (the provider's hook is untouched)."""

    def started(parsed: dict[str, Any], **_: Any) -> None:
        moto_server.set_serverless_state(op.application_id, parsed["jobRunId"], state)

    op.hook.conn.meta.events.register("after-call.emr-serverless.StartJobRun", started)
    return op


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS)


@pytest.mark.parametrize("token", [None, "my-token"])
def test_constructor_defaults_and_attributes(make, token):
    kwargs = {} if token is None else {"client_request_token": token}
    op, ref = make(**kwargs), make.provider(**kwargs)
    ignore = "client_request_token"
    assert conformance.constructed_attributes(op, ignore) == conformance.constructed_attributes(ref, ignore)
    if token is None:  # the provider's random default, in its form
        assert re.fullmatch(r"[0-9a-f-]{36}", op.client_request_token)
    else:
        assert op.client_request_token == ref.client_request_token == token
    assert (op.name, op.job_id, op.config, op.waiter_delay, op.wait_for_completion) == (
        None,
        None,
        {},
        0,
        True,
    )


# -- submitting ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [
        {"name": "nightly"},
        {"config": {"name": "from-config", "tags": {"team": "data"}, "executionTimeoutMinutes": 30}},
        {"name": "n", "config": {"name": "config-wins"}},
        {"configuration_overrides": None},
    ],
    ids=["name", "config name and tags", "config overrides name", "no overrides"],
)
def test_start_job_run_request_result_and_attributes(make, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    ref_calls = moto_server.Requests(ref, SERVICE)
    calls = moto_server.Requests(op, SERVICE)

    ref_result = ref.execute(task_context())
    result = op.execute(task_context())

    assert result == op.job_id and ref_result == ref.job_id
    assert [_same_default(without_token(p, durable=make.durable)) for p in calls.of("StartJobRun")] == [
        _same_default(without_token(p, durable=False)) for p in ref_calls.of("StartJobRun")
    ]
    assert (DEFAULT_NAME.sub("<default>", op.name), op.config) == (
        DEFAULT_NAME.sub("<default>", ref.name),
        ref.config,  # the provider pops a config "name"
    )
    assert calls.names() == ref_calls.names()


def _same_default(params: dict[str, Any]) -> dict[str, Any]:
    """The provider's default name ends with a random uuid: compare its form, not its value."""
    return {**params, "name": DEFAULT_NAME.sub("<default>", params["name"])}


def test_default_name_has_the_providers_form(make, task_context):
    op = make()
    calls = moto_server.Requests(op, SERVICE)
    op.execute(task_context())

    assert DEFAULT_NAME.match(op.name)
    assert calls.of("StartJobRun")[0]["name"] == op.name


def test_a_given_client_request_token_is_sent(make, task_context):
    op = make(client_request_token="my-token")
    calls = moto_server.Requests(op, SERVICE)
    op.execute(task_context())
    assert calls.of("StartJobRun")[0]["clientToken"] == "my-token"


def test_a_stopped_application_is_started_and_waited_for_first(make, task_context, application):
    moto_server.client(SERVICE).stop_application(applicationId=application)
    ref, op = make.provider(), make()
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)

    ref.execute(task_context())
    moto_server.client(SERVICE).stop_application(applicationId=application)
    op.execute(task_context(2) if make.durable else task_context())

    expected = ref_calls.names()
    assert expected[:2] == ["GetApplication", "StartApplication"]
    assert calls.names() == expected


def test_not_waiting_returns_at_once(make, task_context):
    op = make(wait_for_completion=False)
    calls = moto_server.Requests(op, SERVICE)
    assert op.execute(task_context()) == op.job_id
    assert calls.names() == ["GetApplication", "StartJobRun"]


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    make().execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get("emr_serverless_job_run_id") is not None) is make.durable
    assert (stored.get("emr_serverless_job_run_id.intent") is not None) is make.durable


# -- failures --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("state", "attempts"), [("FAILED", 3), ("CANCELLED", 3), ("RUNNING", 2)])
def test_a_job_that_fails_or_outlasts_the_waiter_raises_as_the_provider_does(
    make, task_context, state, attempts
):
    ref = _moves_to(make.provider(waiter_max_attempts=attempts), state)
    op = _moves_to(make(waiter_max_attempts=attempts), state)
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert expected[0] == "raised"
    assert got == expected
    assert calls.names() == ref_calls.names()  # polled as often, cancelled once (max attempts) or never


def test_on_kill_cancels_the_job_run(make, task_context, application):
    op = make(wait_for_completion=False, waiter_delay=1)
    job_id = op.execute(task_context())
    moto_server.set_serverless_state(application, job_id, "RUNNING")
    calls = moto_server.Requests(op, SERVICE)

    op.on_kill()

    assert calls.names()[0] == "CancelJobRun"
    assert moto_server.serverless_job_runs(application)[-1].state == "CANCELLED"


def test_on_kill_before_a_job_does_nothing(make):
    op = make()
    calls = moto_server.Requests(op, SERVICE)
    op.on_kill()
    assert calls.names() == []


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(got, expected, EmrServerlessStartJobTrigger, "job_id")
    assert got.timeout == timedelta(seconds=0)

    event = first_event(got.trigger)  # against moto, through the provider's async hook
    assert event == {
        "status": "success",
        "job_details": {"application_id": op.application_id, "job_id": op.job_id},
    }
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )


def test_deferrable_waits_for_a_stopped_application_with_the_providers_trigger(
    make, task_context, application
):
    moto_server.client(SERVICE).stop_application(applicationId=application)
    op = make(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(task_context())

    trigger = deferred.value.trigger
    assert isinstance(trigger, EmrServerlessStartApplicationTrigger)
    assert deferred.value.method_name == "execute"
    ref = make.provider(deferrable=True)
    moto_server.client(SERVICE).stop_application(applicationId=application)
    with pytest.raises(TaskDeferred) as ref_deferred:
        ref.execute(task_context())
    assert trigger_kwargs(trigger) == trigger_kwargs(ref_deferred.value.trigger)

    event = first_event(trigger)
    assert event["status"] == "success"
    with pytest.raises(TaskDeferred) as job_deferred:  # execute() again, as the trigger asks
        op.execute(task_context(), event)
    assert isinstance(job_deferred.value.trigger, EmrServerlessStartJobTrigger)


def test_deferrable_without_waiting_returns_the_job_id(make, task_context):
    op = make(deferrable=True, wait_for_completion=False)
    assert op.execute(task_context()) == op.job_id


@pytest.mark.parametrize("status", ["success", "error"])
def test_execute_complete(make, task_context, application, status):
    job_id = make.provider(wait_for_completion=False).execute(task_context(9))
    moto_server.set_serverless_state(application, job_id, "RUNNING")
    event = {"status": status, "job_details": {"application_id": application, "job_id": job_id}}
    if status == "error":
        event["message"] = "Serverless Job failed"

    got = outcome(make().execute_complete, task_context(), event)

    moto_server.set_serverless_state(application, job_id, "RUNNING")
    assert got == outcome(make.provider().execute_complete, task_context(), event)
    if status == "error":
        assert moto_server.serverless_job_runs(application)[0].state == "CANCELLED"


# -- contexts, XComs, lineage ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["mock", "plain dict"])
def test_a_context_without_a_task_store_works_as_with_the_provider(make, kind):
    op = make(client_request_token="given")
    calls = moto_server.Requests(op, SERVICE)
    assert op.execute(mock.MagicMock() if kind == "mock" else {}) == op.job_id
    assert calls.of("StartJobRun")[0]["clientToken"] == "given"
    assert "tags" not in calls.of("StartJobRun")[0]


def test_extra_links_push_the_providers_xcoms(make, task_context):
    overrides = {"monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://logs/"}}}
    extra = {"enable_application_ui_links": True, "configuration_overrides": overrides}
    ref_ctx, ctx = task_context(), task_context()
    make.provider(**extra).execute(ref_ctx)
    make(**extra).execute(ctx)
    assert xcom_keys(ctx) == xcom_keys(ref_ctx) != []


def test_openlineage_injection_changes_the_request_as_the_provider(make, task_context):
    extra = {"openlineage_inject_parent_job_info": True, "openlineage_inject_transport_info": True}
    ref, op = make.provider(**extra), make(**extra)
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)
    ref.execute(task_context())
    op.execute(task_context())
    expected = ref_calls.of("StartJobRun")[0].get("configurationOverrides")
    assert calls.of("StartJobRun")[0].get("configurationOverrides") == expected


def test_a_job_made_with_your_token_that_fails_at_once_raises_as_the_provider_does(make, task_context):
    """Not taken for an earlier run's job (its creation time is this try's): never submitted again.
    Intended difference: the durable operator reads the job run once (``createdAt``) after starting it."""
    both = run_both_with_a_job_run_failing_at_once(make, _moves_to, SERVICE, task_context)

    assert both.expected[0] == "raised" and both.got == both.expected
    names = both.calls.names()
    if make.durable:
        assert names[:2] == ["GetApplication", "StartJobRun"] and names.pop(2) == "GetJobRun"
    assert names == both.ref_calls.names()
