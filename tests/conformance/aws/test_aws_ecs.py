"""Conformance: ``EcsRunTaskOperator`` as the provider's class, the drop-in and the drop-in with
``durable=False``, each compared with the provider's class run the same way against the local ECS
(``airflow_resumable.testing.ecs_server.FakeEcs``: ``clientToken`` idempotency, ``MISSING`` tasks, task
logs, as the ECS API reference describes them; moto honours none of these).

The intended difference, allowed for here and nowhere else: a durable ``RunTask`` request carries the
recorded ``clientToken`` (derived per task instance and submission) where the provider's carries the random
one botocore fills in.
"""

from __future__ import annotations

import copy
import re
import uuid
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.operators import ecs as provider
from airflow.providers.amazon.aws.triggers.ecs import TaskDoneTrigger
from airflow.sdk.exceptions import TaskDeferred
from conformance_helpers import first_event, outcome, xcom_keys

from airflow_resumable.jobs import ecs as ours
from airflow_resumable.testing.ecs_server import FakeEcs

THEIRS = provider.EcsRunTaskOperator
KEY = "ecs_task_arn"
CONN = "ecs_local"
CLUSTER = "jobs"


@pytest.fixture(scope="module")
def server() -> Any:
    with FakeEcs() as ecs:
        ecs.add_cluster(CLUSTER)
        yield ecs


@pytest.fixture
def ecs(server: FakeEcs, monkeypatch: pytest.MonkeyPatch) -> FakeEcs:
    env = server.environ(CONN)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN.upper()}", env[f"AIRFLOW_CONN_{CONN.upper()}"])
    server.scripts.clear()
    server.task_logs = []
    return server


@pytest.fixture
def family(ecs: FakeEcs) -> str:
    name = f"etl-{uuid.uuid4().hex[:10]}"
    ecs.add_task_definition(name, ["app"])
    return name


def _args(family: str, **kwargs: Any) -> dict[str, Any]:
    return {
        "task_id": "job",
        "aws_conn_id": CONN,
        "task_definition": family,
        "cluster": CLUSTER,
        "overrides": {"containerOverrides": [{"name": "app", "command": ["run"]}]},
        "waiter_delay": 0,
        "waiter_max_attempts": 5,
        **copy.deepcopy(kwargs),
    }


@pytest.fixture
def make(flavour_name: str, family: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(flavour_name, THEIRS, ours.EcsRunTaskOperator, partial(_args, family))


def _during(ecs: FakeEcs, fn: Any, *args: Any) -> tuple[tuple[str, Any], list[tuple[str, dict[str, Any]]]]:
    """What ``fn(*args)`` did (see ``outcome``) and the requests the server received meanwhile."""
    start = len(ecs.requests)
    done = outcome(fn, *args)
    return done, list(ecs.requests[start:])


def _names(requests: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in requests]


def _run_requests(requests: list[tuple[str, dict[str, Any]]], *, durable: bool) -> list[dict[str, Any]]:
    """The RunTask bodies without their token, which is checked: a recorded one, or botocore's uuid."""
    bodies = []
    for name, body in requests:
        if name != "RunTask":
            continue
        body = dict(body)
        token = body.pop("clientToken")
        assert re.fullmatch(r"[0-9a-f]{16}-[0-9a-f]{12}-g\d+" if durable else r"[0-9a-f-]{36}", token), token
        bodies.append(body)
    return bodies


def _same(got: tuple[str, Any], expected: tuple[str, Any], got_arn: str | None, ref_arn: str | None) -> None:
    """Outcomes equal, once task ARNs and times (which differ between two real tasks) are set aside."""

    def norm(value: Any) -> Any:
        text = str(value)
        for arn in (got_arn, ref_arn):
            if arn:
                text = text.replace(arn, "<arn>")
        return re.sub(r"datetime\.datetime\(.*?tzinfo=tzlocal\(\)\)", "<time>", text)

    assert (got[0], norm(got[1])) == (expected[0], norm(expected[1]))


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS, extra_link_types=False)


@pytest.mark.parametrize(
    "extra",
    [{}, {"reattach": True, "skip_on_exit_code": 3, "number_logs_exception": 4, "launch_type": "FARGATE"}],
)
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(**extra), make.provider(**extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)
    assert op.arn is None


# -- running ----------------------------------------------------------------------------------------------
RUN_CASES = {
    "defaults": {},
    "everything": {
        "capacity_provider_strategy": [{"capacityProvider": "FARGATE", "weight": 1}],
        "group": "nightly",
        "platform_version": "1.4.0",
        "network_configuration": {"awsvpcConfiguration": {"subnets": ["subnet-1"]}},
        "tags": {"team": "data"},
        "propagate_tags": "TASK_DEFINITION",
        "placement_constraints": [{"type": "distinctInstance"}],
        "volume_configurations": [],
    },
    "reattach": {"reattach": True},
    "no_wait": {"wait_for_completion": False},
    "no_xcom": {"do_xcom_push": False},
}


@pytest.mark.parametrize("extra", list(RUN_CASES.values()), ids=list(RUN_CASES))
def test_run_request_result_calls_and_xcoms(make, ecs, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    ref_ctx, ctx = task_context(), task_context()

    expected, ref_requests = _during(ecs, ref.execute, ref_ctx)
    got, requests = _during(ecs, op.execute, ctx)

    assert got == expected == ("returned", None)
    assert _run_requests(requests, durable=make.durable) == _run_requests(ref_requests, durable=False)
    assert _names(requests) == _names(ref_requests)
    assert xcom_keys(ctx) == xcom_keys(ref_ctx)
    assert dict(ctx["ti"].xcoms).get("ecs_task_arn", op.arn) == op.arn != ref.arn
    assert op.arn == ecs.tasks[-1].arn


def test_nothing_is_stored_unless_durable(make, ecs, task_context):
    ctx = task_context()
    make().execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get(KEY) == ecs.tasks[-1].arn) is make.durable
    intent = stored.get(f"{KEY}.intent")
    assert (intent is not None) is make.durable
    if make.durable:
        assert intent["outcome"]["status"] == "STOPPED:SUCCEEDED"
        assert ecs.calls("RunTask")[-1]["clientToken"] == intent["token"]


def test_logs_are_fetched_and_the_last_line_returned(make, ecs, task_context):
    ecs.task_logs = ["starting", "working", "done: 42 rows"]
    logs = {"awslogs_group": "/ecs/etl", "awslogs_stream_prefix": "ecs", "container_name": "app"}
    ref, op = make.provider(**logs), make(**logs)
    expected, ref_requests = _during(ecs, ref.execute, task_context())
    got, requests = _during(ecs, op.execute, task_context())
    assert got == expected == ("returned", "done: 42 rows")
    assert _names(requests) == _names(ref_requests)


# -- failures --------------------------------------------------------------------------------------------
FAILURES = {
    "exit_code": (["RUNNING", "STOPPED:1"], {}),
    "failed_to_start": (["PENDING", "STOPPED:TaskFailedToStart"], {}),
    "skipped": (["STOPPED:3"], {"skip_on_exit_code": [3]}),
    "with_logs": (["RUNNING", "STOPPED:2"], {"number_logs_exception": 2}),
    "outlasting_the_waiter": (["RUNNING"], {"waiter_max_attempts": 2}),
}


@pytest.mark.parametrize(("script", "extra"), list(FAILURES.values()), ids=list(FAILURES))
def test_a_failed_task_raises_as_with_the_provider(make, ecs, task_context, script, extra):
    if "number_logs_exception" in extra:
        ecs.task_logs = ["one", "two", "Traceback: boom"]
        extra = {
            **extra,
            "awslogs_group": "/ecs/etl",
            "awslogs_stream_prefix": "ecs",
            "container_name": "app",
        }
    ref, op = make.provider(**extra), make(**extra)
    ecs.scripts.append(list(script))
    expected, ref_requests = _during(ecs, ref.execute, task_context())
    ecs.scripts.append(list(script))
    got, requests = _during(ecs, op.execute, task_context())

    assert expected[0] == "raised"
    _same(got, expected, op.arn, ref.arn)
    assert _names(requests) == _names(ref_requests)  # the provider's calls: never retried, never resubmitted


def test_on_kill_stops_the_task(make, ecs, task_context):
    ecs.scripts.append(["RUNNING"])
    op = make(wait_for_completion=False)
    op.execute(task_context())
    _, requests = _during(ecs, op.on_kill)
    assert requests == [
        ("StopTask", {"cluster": CLUSTER, "task": op.arn, "reason": "Task killed by the user"})
    ]


def test_on_kill_before_a_task_does_nothing(make, ecs):
    _, requests = _during(ecs, make().on_kill)
    assert requests == []


def test_reattach_takes_over_a_running_task_with_the_same_started_by(make, ecs, task_context):
    ecs.scripts.append(["RUNNING"])
    earlier = make.provider(reattach=True, wait_for_completion=False)
    earlier.execute(task_context())  # an earlier try, by the provider's operator: nothing stored

    op = make(reattach=True, wait_for_completion=False)
    _, requests = _during(ecs, op.execute, task_context(2))

    assert op.arn == earlier.arn
    assert _names(requests) == ["ListTasks"]
    if make.durable:  # taken over and recorded: later tries reconnect by ARN
        assert task_context(3)["task_state_store"].get(KEY) == earlier.arn


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, ecs, task_context):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    expected = conformance.deferral(ref.execute, task_context())
    got = conformance.deferral(op.execute, task_context())
    conformance.assert_defers_as_the_provider(got, expected, TaskDoneTrigger, "task_arn", "log_stream")

    event = first_event(got.trigger)  # through the provider's async hook (aiobotocore), to the local ECS
    assert event == {"status": "success", "task_arn": op.arn, "cluster": CLUSTER}
    ctx = task_context()
    assert outcome(op.execute_complete, ctx, event) == outcome(ref.execute_complete, task_context(), event)
    if make.durable:
        assert ctx["task_state_store"].get(f"{KEY}.intent")["outcome"]["external_id"] == op.arn


@pytest.mark.parametrize("status", ["success", "error"])
def test_execute_complete(make, ecs, task_context, status):
    ref = make.provider(wait_for_completion=False)
    ref.execute(task_context())
    event = {"status": status, "task_arn": ref.arn, "cluster": CLUSTER, "message": "boom"}
    op = make()
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        make.provider().execute_complete, task_context(), event
    )


# -- contexts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("context", [mock.MagicMock(), {}], ids=["mock", "plain dict"])
def test_a_context_without_a_store_works_as_with_the_provider(make, ecs, context):
    op = make(do_xcom_push=False)
    _, requests = _during(ecs, op.execute, context)
    assert _names(requests) == ["RunTask", "DescribeTasks", "DescribeTasks", "DescribeTasks"]
    assert re.fullmatch(r"[0-9a-f-]{36}", requests[0][1]["clientToken"])  # botocore's, not ours


# -- what only the durable operator does -----------------------------------------------------------------
@pytest.fixture
def durable_make(family: str) -> Any:
    return lambda **kwargs: ours.EcsRunTaskOperator(**_args(family, **kwargs))


def _crash_after_run_task(op: Any) -> None:
    def crash(**_: Any) -> None:
        raise RuntimeError("worker lost after RunTask returned")

    op.client.meta.events.register("after-call.ecs.RunTask", crash)


def test_a_crash_after_run_task_gets_the_same_task_back(durable_make, ecs, family, task_context):
    op = durable_make()
    _crash_after_run_task(op)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    retry = durable_make()
    _, requests = _during(ecs, retry.execute, task_context(2))

    assert [t.arn for t in ecs.tasks_of(family=family)] == [retry.arn]
    token = task_context(2)["task_state_store"].get(f"{KEY}.intent")["token"]
    assert [b["clientToken"] for n, b in requests if n == "RunTask"] == [token]


def test_a_changed_request_after_a_crash_takes_the_tokens_task_over(durable_make, ecs, family, task_context):
    op = durable_make()
    _crash_after_run_task(op)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    retry = durable_make(overrides={"containerOverrides": [{"name": "app", "command": ["run", "--now"]}]})
    assert retry.execute(task_context(2)) is None
    assert [t.arn for t in ecs.tasks_of(family=family)] == [retry.arn]


def test_a_finished_task_ecs_forgot_is_not_run_again(durable_make, ecs, family, task_context):
    op = durable_make()
    op.execute(task_context(1))  # succeeded; then the worker died before the task instance did
    ecs.forget(op.arn)  # an hour later ECS answers MISSING

    retry = durable_make()
    assert retry.execute(task_context(2)) is None
    assert [t.arn for t in ecs.tasks_of(family=family)] == [op.arn]


def test_a_task_ecs_forgot_before_it_was_seen_ending_runs_again(durable_make, ecs, family, task_context):
    ecs.scripts.append(["RUNNING"])
    op = durable_make(wait_for_completion=False)
    op.execute(task_context(1))
    ecs.forget(op.arn)

    retry = durable_make()
    retry.execute(task_context(2))
    assert [t.arn for t in ecs.tasks_of(family=family)] == [op.arn, retry.arn]
    assert task_context(3)["task_state_store"].get(f"{KEY}.intent")["generation"] == 2


def test_a_skipped_task_skips_again_on_a_retry(durable_make, ecs, family, task_context):
    from airflow.sdk.exceptions import AirflowSkipException

    ecs.scripts.append(["STOPPED:3"])
    op = durable_make(skip_on_exit_code=3)
    _crash_after_run_task(op)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))
    with pytest.raises(AirflowSkipException):
        durable_make(skip_on_exit_code=3).execute(task_context(2))
    assert len(ecs.tasks_of(family=family)) == 1


def test_a_waiter_error_stops_the_task_this_try_started(durable_make, ecs, family, task_context):
    ecs.scripts.append(["RUNNING"])
    op = durable_make(waiter_max_attempts=1)
    with pytest.raises(Exception, match="Max attempts exceeded"):
        op.execute(task_context(1))
    assert ecs.calls("StopTask")[-1] == {
        "cluster": CLUSTER,
        "task": op.arn,
        "reason": "Task failed after creation; cleanup by Airflow",
    }


def test_after_the_token_expired_a_lost_submission_runs_again(durable_make, ecs, family, task_context):
    """The window that is left (documented): ECS keeps a clientToken up to 24 hours and offers no search."""
    op = durable_make()
    _crash_after_run_task(op)
    with pytest.raises(RuntimeError):
        op.execute(task_context(1))

    saved, ecs.token_ttl = ecs.token_ttl, 0.0  # the retry comes after ECS forgot the token
    try:
        retry = durable_make()
        retry.execute(task_context(2))
    finally:
        ecs.token_ttl = saved
    tasks = [t.arn for t in ecs.tasks_of(family=family)]
    assert len(tasks) == 2 and tasks[-1] == retry.arn
    assert task_context(3)["task_state_store"].get(f"{KEY}.intent")["generation"] == 1


def test_on_kill_stops_a_task_this_try_reconnected_to(durable_make, ecs, family, task_context):
    ecs.scripts.append(["RUNNING"])
    op = durable_make(deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute(task_context(1))  # the worker is lost while the trigger waits

    retry = durable_make(deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        retry.execute(task_context(2))  # reconnects: defers on the same task
    assert deferred.value.trigger.task_arn == op.arn == retry.arn
    _, requests = _during(ecs, retry.on_kill)
    assert requests == [
        ("StopTask", {"cluster": CLUSTER, "task": op.arn, "reason": "Task killed by the user"})
    ]
    assert len(ecs.tasks_of(family=family)) == 1
