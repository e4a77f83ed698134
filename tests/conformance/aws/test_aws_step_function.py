"""Conformance: ``StepFunctionStartExecutionOperator`` as the provider's class, the drop-in and the drop-in
with ``durable=False``, each compared with the provider's class run the same way against the local AWS
(moto, which keeps execution names unique as Step Functions does).

The intended difference, allowed for here and nowhere else: a durable ``StartExecution`` request without
your ``name`` carries a derived execution ``name`` (the provider sends none and AWS picks a uuid).
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import timedelta
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import step_function as provider
from airflow.providers.amazon.aws.triggers.step_function import StepFunctionsExecutionCompleteTrigger
from conformance_helpers import first_event, outcome, xcom_keys

import aws_servers
import moto_server
from airflow_resumable.jobs import step_function as ours

THEIRS = provider.StepFunctionStartExecutionOperator
SERVICE = "sfn"
KEY = "step_function_execution_arn"
DERIVED = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{12}-g\d+$")


@pytest.fixture
def machine(aws: str) -> str:
    return aws_servers.create_state_machine()


def _args(machine: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "task_id": "job",
        "state_machine_arn": machine,
        "state_machine_input": {"day": "2026-12-05"},
        "waiter_delay": 1,
        "waiter_max_attempts": 3,
        **copy.deepcopy(kwargs),
    }


@pytest.fixture
def make(flavour_name: str, machine: str) -> Any:
    return conformance.operator_maker(
        flavour_name, THEIRS, ours.StepFunctionStartExecutionOperator, partial(_args, machine)
    )


def _without_name(params: dict[str, Any], *, durable: bool) -> dict[str, Any]:
    params = copy.deepcopy(params)
    name = params.pop("name", None)
    if durable:
        assert isinstance(name, str) and DERIVED.match(name)  # intended: the recorded name
    else:
        assert name is None
    return params


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS)


@pytest.mark.parametrize("extra", [{}, {"name": "nightly", "deferrable": True, "state_machine_input": "{}"}])
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(**extra), make.provider(**extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)


# -- starting --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("extra", [{}, {"state_machine_input": '{"x": 1}'}, {"state_machine_input": None}])
def test_start_execution_request_result_calls_and_xcoms(make, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)
    ref_ctx, ctx = task_context(), task_context()

    ref_result = ref.execute(ref_ctx)
    result = op.execute(ctx)

    assert result.startswith(ref_result.rsplit(":", 1)[0] + ":") and result != ref_result
    assert [_without_name(p, durable=make.durable) for p in calls.of("StartExecution")] == [
        _without_name(p, durable=False) for p in ref_calls.of("StartExecution")
    ]
    assert calls.names() == ref_calls.names()
    assert xcom_keys(ctx) == xcom_keys(ref_ctx) != []
    assert op.name is None  # your name (none) is kept, as by the provider


def test_your_name_is_sent_and_kept(make, task_context):
    name = f"nightly-{uuid.uuid4().hex[:8]}"
    op = make(name=name)
    calls = moto_server.Requests(op, SERVICE)
    assert op.execute(task_context()).endswith(f":{name}")
    assert calls.of("StartExecution")[0]["name"] == name and op.name == name


def test_your_name_taken_by_a_finished_execution(make, task_context, machine):
    """The provider raises ExecutionAlreadyExists; ours starts the next generation (durable only)."""
    name = f"nightly-{uuid.uuid4().hex[:8]}"
    first = THEIRS(**_args(machine, name=name)).execute(task_context(9))
    aws_servers.set_execution_status(first, "FAILED")

    got = outcome(make(name=name).execute, task_context())

    if make.durable:
        assert got[0] == "returned" and got[1] != first
        assert re.search(rf":{name}-[0-9a-f]{{12}}-g2$", got[1])
    else:
        assert got[0] == "raised" and "ExecutionAlreadyExists" in got[1]


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    arn = make().execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get(KEY) == arn) is make.durable
    assert (stored.get(f"{KEY}.intent") is not None) is make.durable


def test_redrive_runs_the_providers_operator(make, task_context, machine):
    name = f"nightly-{uuid.uuid4().hex[:8]}"
    THEIRS(**_args(machine, name=name)).execute(task_context(9))
    op, ref = make(name=name, is_redrive_execution=True), make.provider(name=name, is_redrive_execution=True)
    assert outcome(op.execute, task_context()) == outcome(ref.execute, task_context())


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(
        got, expected, StepFunctionsExecutionCompleteTrigger, "execution_arn", "waiter_args"
    )
    assert got.timeout == timedelta(seconds=3)

    arn = got.trigger.waiter_args["executionArn"]
    moto_server.after_async_poll(aws_servers.set_execution_status, arn, "SUCCEEDED")
    event = first_event(got.trigger)  # against moto: running, then succeeded
    assert event == {"status": "success", "execution_arn": arn}
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )


@pytest.mark.parametrize("status", ["success", "error"])
def test_execute_complete(make, task_context, status):
    event = {"status": status, "execution_arn": "arn:x", "message": "failed"}
    assert outcome(make().execute_complete, task_context(), event) == outcome(
        make.provider().execute_complete, task_context(), event
    )


def test_on_kill_does_nothing_as_with_the_provider(make, task_context):
    op = make()
    op.execute(task_context())
    calls = moto_server.Requests(op, SERVICE)
    op.on_kill()
    assert calls.names() == []


# -- contexts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("context", [mock.MagicMock(), {}], ids=["mock", "plain dict"])
def test_a_context_without_a_store_works_as_with_the_provider(make, context):
    op = make()
    calls = moto_server.Requests(op, SERVICE)
    op.execute(context)
    assert "name" not in calls.of("StartExecution")[0]


# -- what only the durable operator does -----------------------------------------------------------------
@pytest.fixture
def durable_make(machine: str) -> Any:
    return lambda **kwargs: ours.StepFunctionStartExecutionOperator(**_args(machine, **kwargs))


@pytest.mark.parametrize("closed", [False, True], ids=["still running", "closed since"])
def test_a_crash_after_start_execution_is_found_by_its_name(durable_make, task_context, machine, closed):
    op = durable_make()

    def crash(parsed: dict[str, Any], **_: Any) -> None:
        if closed:
            aws_servers.set_execution_status(parsed["executionArn"], "SUCCEEDED")
        raise RuntimeError("worker lost after StartExecution returned")

    op.hook.conn.meta.events.register("after-call.sfn.StartExecution", crash)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    retry = durable_make()
    calls = moto_server.Requests(retry, SERVICE)
    arn = retry.execute(task_context(2))

    assert [e.execution_arn for e in aws_servers.executions(machine)] == [arn]
    assert calls.names() == ["DescribeExecution", "DescribeExecution"]  # found, then its status


@pytest.mark.parametrize(("status", "new"), [("RUNNING", False), ("SUCCEEDED", False), ("ABORTED", True)])
def test_a_retry_after_the_arn_was_stored(durable_make, task_context, machine, status, new):
    first = durable_make().execute(task_context(1))
    aws_servers.set_execution_status(first, status)

    arn = durable_make().execute(task_context(2))

    assert (arn != first) is new
    assert len(aws_servers.executions(machine)) == (2 if new else 1)


# -- an execution Step Functions no longer knows -----------------------------------------------------------
def test_describe_execution_of_an_unknown_arn_is_read_as_not_found(machine):
    """moto answers as the Step Functions API reference says (DescribeExecution's errors:
    ExecutionDoesNotExist, HTTP 400), and the shared error reading takes that as "this job does not exist",
    not as worth retrying."""
    import gzip
    import json
    from pathlib import Path

    import botocore
    from botocore.exceptions import ClientError

    from airflow_resumable.jobs import _errors

    model_dir = Path(botocore.__file__).parent / "data" / "stepfunctions"
    model = json.loads(gzip.decompress(next(model_dir.glob("*/service-2.json.gz")).read_bytes()))
    assert {"shape": "ExecutionDoesNotExist"} in model["operations"]["DescribeExecution"]["errors"]

    arn = ours.execution_arn(machine, f"never-started-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ClientError) as raised:
        moto_server.client("stepfunctions").describe_execution(executionArn=arn)

    error = raised.value
    assert error.response["Error"]["Code"] == "ExecutionDoesNotExist"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _errors.is_not_found(error) and not _errors.is_transient(error)


def test_a_stored_execution_that_is_gone_starts_the_next_generation(durable_make, task_context, machine):
    first = durable_make().execute(task_context(1))
    aws_servers.forget_execution(first)

    retry = durable_make()
    calls = moto_server.Requests(retry, SERVICE)
    arn = retry.execute(task_context(2))

    assert arn != first and re.search(r"-g2$", arn)
    assert [e.execution_arn for e in aws_servers.executions(machine)] == [arn]
    assert calls.names() == ["DescribeExecution", "StartExecution"]  # read once as gone, never retried


def test_your_name_on_an_execution_that_fails_at_once_is_not_started_again(make, task_context, machine):
    """A new execution started under your ``name`` that failed at once is this try's, not an earlier run's:
    the ARN is returned as by the provider (which does not wait), and no second execution is started."""
    name = f"nightly-{uuid.uuid4().hex[:8]}"
    op = make(name=name)
    op.hook.conn.meta.events.register(
        "after-call.sfn.StartExecution",
        lambda parsed, **_: aws_servers.set_execution_status(parsed["executionArn"], "FAILED"),
    )

    got = outcome(op.execute, task_context())

    assert got[0] == "returned" and got[1].endswith(f":{name}")
    assert [e.execution_arn for e in aws_servers.executions(machine)] == [got[1]]
