"""Conformance: ``BatchOperator`` as the provider's class, the drop-in and the drop-in with ``durable=False``,
each compared with the provider's class run the same way against the local AWS Batch (moto's Docker-free
backend on the session's moto server, see tests/aws_batch_servers.py).

The intended difference, allowed for here and nowhere else: a durable ``SubmitJob`` request's ``tags``
carry one more tag, ``airflow-resumable-token=<token>`` (``SubmitJob`` has no idempotency token).
"""

from __future__ import annotations

import copy
import re
from functools import partial
from typing import Any
from unittest import mock

import conformance_helpers as conformance
import pytest
from airflow.providers.amazon.aws.hooks.batch_client import BatchClientHook
from airflow.providers.amazon.aws.operators import batch as provider
from airflow.providers.amazon.aws.triggers.batch import BatchJobTrigger
from airflow.sdk.exceptions import TaskDeferred
from conformance_helpers import first_event, outcome, xcom_keys

import aws_batch_servers as batch
import moto_server
from airflow_resumable.errors import InvalidValueError
from airflow_resumable.jobs import batch as ours

THEIRS = provider.BatchOperator
SERVICE = "batch"
KEY = "batch_job_id"
SUBMIT = "before-call.batch.SubmitJob"


@pytest.fixture(autouse=True)
def local_batch(aws: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto's Batch, terminating as AWS does; the hook's random pauses (1-10 s) set to none, for both."""
    monkeypatch.setattr(BatchClientHook, "DEFAULT_DELAY_MIN", 0)
    monkeypatch.setattr(BatchClientHook, "DEFAULT_DELAY_MAX", 0)
    batch.batch_queue()
    with batch.batch_like_aws():
        yield


@pytest.fixture
def job_name() -> str:
    return batch.unique_name("nightly")


def _args(name: str, **kwargs: Any) -> dict[str, Any]:
    queue, definition = batch.QUEUE, batch.JOB_DEFINITION
    return {
        "task_id": "job",
        "job_name": name,
        "job_queue": queue,
        "job_definition": definition,
        **copy.deepcopy(kwargs),
    }


@pytest.fixture
def make(flavour_name: str, job_name: str) -> Any:
    """``make(**overrides)``: this test's flavour; ``make.provider(**overrides)``: the reference."""
    return conformance.operator_maker(flavour_name, THEIRS, ours.BatchOperator, partial(_args, job_name))


def _without_marker(body: dict[str, Any], *, durable: bool) -> dict[str, Any]:
    body = copy.deepcopy(body)
    tags = body.get("tags") or {}
    assert (ours.TOKEN_TAG in tags) is durable
    tags.pop(ours.TOKEN_TAG, None)
    return body


def _state_after_submit(op: Any, state: str) -> None:
    """Move the job ``op`` submits to ``state`` on AWS as soon as SubmitJob returns."""

    def move(parsed: dict[str, Any], **_: Any) -> None:
        batch.set_job_state(parsed["jobId"], state)

    op.hook.conn.meta.events.register("after-call.batch.SubmitJob", move)


def _same_message(got: tuple[str, Any], expected: tuple[str, Any], ref: Any, op: Any) -> None:
    """Outcomes equal up to the job id, and up to the job description a message may quote."""
    assert got[0] == expected[0]
    head = re.compile(r"^(.*?)(: \{.*)?$", re.S)
    assert head.sub(r"\1", str(got[1])) == head.sub(r"\1", str(expected[1]).replace(ref.job_id, op.job_id))


# -- the class and its constructor ---------------------------------------------------------------------
def test_class_surface_is_the_providers(make):
    op = make()
    conformance.assert_class_surface_is_the_providers(op, THEIRS)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"tags": {"team": "data"}, "wait_for_completion": False, "max_retries": 3, "status_retries": 2},
        {"deferrable": True, "poll_interval": 1, "parameters": {"day": "1"}, "job_id": "given"},
    ],
    ids=["defaults", "tags", "deferrable"],
)
def test_constructor_defaults_and_attributes(make, extra):
    op, ref = make(**extra), make.provider(**extra)
    assert conformance.constructed_attributes(op) == conformance.constructed_attributes(ref)
    assert op._hook_parameters == ref._hook_parameters


# -- submitting ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"wait_for_completion": False},
        {
            "tags": {"team": "data"},
            "parameters": {"day": "2026-01-02"},
            "container_overrides": {"command": ["echo", "hi"]},
            "retry_strategy": {"attempts": 2},
            "submit_job_timeout": 600,
        },
    ],
    ids=["wait", "no wait", "everything"],
)
def test_submit_job_request_result_calls_and_xcoms(make, task_context, extra):
    ref, op = make.provider(**extra), make(**extra)
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)
    ref_sent, sent = conformance.SentBodies(ref, SUBMIT), conformance.SentBodies(op, SUBMIT)
    ref_ctx, ctx = task_context(), task_context()

    ref_result = ref.execute(ref_ctx)
    result = op.execute(ctx)

    assert result == op.job_id != ref_result == ref.job_id
    # the parameters as the provider's submit passed them: unchanged (the tag is added after, as sent)
    assert calls.of("SubmitJob") == ref_calls.of("SubmitJob")
    assert [_without_marker(b, durable=make.durable) for b in sent.sent] == ref_sent.sent
    assert calls.names() == ref_calls.names()
    assert xcom_keys(ctx) == xcom_keys(ref_ctx) != []
    tags = batch.job_tags(result)
    assert {k: v for k, v in tags.items() if k != ours.TOKEN_TAG} == (extra.get("tags") or {})
    if make.durable:
        assert tags[ours.TOKEN_TAG] == ctx["task_state_store"].get(f"{KEY}.intent")["token"]
    assert op.tags == ref.tags  # your tags are not changed


def test_nothing_is_stored_unless_durable(make, task_context):
    ctx = task_context()
    job_id = make().execute(ctx)
    stored = ctx["task_state_store"]
    assert (stored.get(KEY) == job_id) is make.durable
    assert (stored.get(f"{KEY}.intent") is not None) is make.durable


# -- failures --------------------------------------------------------------------------------------------
def test_a_failed_job_raises_as_with_the_provider(make, task_context):
    ref, op = make.provider(), make()
    _state_after_submit(ref, "FAILED")
    _state_after_submit(op, "FAILED")
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert expected[1].startswith(f"AirflowException: AWS Batch job ({ref.job_id}) failed: {{")
    _same_message(got, expected, ref, op)
    assert calls.names() == ref_calls.names()  # polled as often, never retried


def test_a_job_outlasting_the_polls_raises_as_with_the_provider(make, task_context):
    ref, op = make.provider(max_retries=1), make(max_retries=1)
    _state_after_submit(ref, "RUNNABLE")
    _state_after_submit(op, "RUNNABLE")
    ref_calls, calls = moto_server.Requests(ref, SERVICE), moto_server.Requests(op, SERVICE)

    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())

    assert expected[1] == f"AirflowException: AWS Batch job ({ref.job_id}) status checks exceed max_retries"
    _same_message(got, expected, ref, op)
    assert calls.names() == ref_calls.names()


def test_a_rejected_submission_raises_as_with_the_provider(make, task_context):
    ref, op = make.provider(job_queue="no-such-queue"), make(job_queue="no-such-queue")
    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())
    assert expected[0] == "raised" and "AirflowException" in expected[1]
    assert got == expected


def test_on_kill_terminates_the_job(make, task_context):
    op = make(wait_for_completion=False)
    _state_after_submit(op, "RUNNING")
    job_id = op.execute(task_context())
    calls = moto_server.Requests(op, SERVICE)

    op.on_kill()

    assert calls.of("TerminateJob") == [{"jobId": job_id, "reason": "Task killed by the user"}]
    assert batch.jobs_named(op.job_name)[-1].status == "FAILED"


def test_on_kill_before_a_job_fails_as_with_the_provider(make):
    expected = outcome(make.provider().on_kill)
    assert expected[0] == "raised"
    assert outcome(make().on_kill) == expected


# -- deferrable ------------------------------------------------------------------------------------------
def test_deferrable_defers_on_the_providers_trigger_which_runs_to_success(make, task_context):
    ref, op = make.provider(deferrable=True, poll_interval=0), make(deferrable=True, poll_interval=0)
    _state_after_submit(ref, "RUNNING")
    _state_after_submit(op, "RUNNING")
    ref_ctx, ctx = task_context(), task_context()
    expected = conformance.deferral(ref.execute, ref_ctx)
    got = conformance.deferral(op.execute, ctx)
    conformance.assert_defers_as_the_provider(got, expected, BatchJobTrigger, "job_id", "waiter_args")
    assert got.trigger.serialize()[1]["job_id"] == op.job_id
    assert xcom_keys(ctx) == xcom_keys(ref_ctx)

    batch.set_job_state(op.job_id, "SUCCEEDED")
    event = first_event(got.trigger)  # against moto, through the provider's async hook
    assert event == {"status": "success", "job_id": op.job_id}
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )


@pytest.mark.parametrize("state", ["SUCCEEDED", "FAILED"])
def test_deferrable_with_a_job_already_ended(make, task_context, state):
    ref, op = make.provider(deferrable=True), make(deferrable=True)
    _state_after_submit(ref, state)
    _state_after_submit(op, state)
    expected = outcome(ref.execute, task_context())
    got = outcome(op.execute, task_context())
    if state == "SUCCEEDED":
        assert got == ("returned", op.job_id) and expected == ("returned", ref.job_id)
    else:
        assert got == (expected[0], expected[1].replace(ref.job_id, op.job_id))


@pytest.mark.parametrize("status", ["success", "failure"])
def test_execute_complete(make, task_context, status):
    job_id = make.provider(wait_for_completion=False).execute(task_context())
    event = {"status": status, "job_id": job_id, "message": "Job failed"}
    op, ref = make(), make.provider()
    assert outcome(op.execute_complete, task_context(), event) == outcome(
        ref.execute_complete, task_context(), event
    )
    assert op.job_id == ref.job_id == job_id


# -- contexts --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("context", [mock.MagicMock(), {}], ids=["mock", "plain dict"])
def test_a_context_without_a_store_works_as_with_the_provider(make, context):
    op = make(wait_for_completion=False)
    sent = conformance.SentBodies(op, SUBMIT)
    assert op.execute(context) == op.job_id
    assert ours.TOKEN_TAG not in (sent.sent[0].get("tags") or {})


# -- what only the durable operator does -----------------------------------------------------------------
@pytest.fixture
def durable_make(job_name: str) -> Any:
    return lambda **kwargs: ours.BatchOperator(**_args(job_name, **kwargs))


def _crash_after_submit(op: Any) -> None:
    def crash(**_: Any) -> None:
        raise RuntimeError("worker lost after SubmitJob returned")

    op.hook.conn.meta.events.register("after-call.batch.SubmitJob", crash)


def test_a_retry_returns_the_job_of_the_first_try(durable_make, task_context, job_name):
    first = durable_make().execute(task_context(1))
    op = durable_make()
    calls = moto_server.Requests(op, SERVICE)

    assert op.execute(task_context(2)) == first == op.job_id
    assert "SubmitJob" not in calls.names()
    assert len(batch.jobs_named(job_name)) == 1


def test_a_crash_after_submit_job_is_recovered_by_the_tag(durable_make, task_context, job_name):
    other = THEIRS(**_args(job_name, task_id="other")).execute(task_context())  # same name, not ours
    op = durable_make()
    _crash_after_submit(op)
    with pytest.raises(Exception, match="worker lost"):
        op.execute(task_context(1))

    retry = durable_make()
    calls = moto_server.Requests(retry, SERVICE)
    job_id = retry.execute(task_context(2))

    assert [j.job_id for j in batch.jobs_named(job_name)] == [other, job_id]
    assert calls.names()[:2] == ["ListJobs", "DescribeJobs"]
    assert calls.of("ListJobs")[0] == {
        "jobQueue": batch.QUEUE,
        "filters": [{"name": "JOB_NAME", "values": [job_name]}],
    }
    assert "SubmitJob" not in calls.names()
    intent = task_context(2)["task_state_store"].get(f"{KEY}.intent")
    assert (intent["generation"], intent["external_id"]) == (1, job_id)


def test_a_crash_before_submit_job_submits_with_the_same_token_after_listing_again(
    durable_make, task_context, job_name, monkeypatch
):
    op = durable_make()
    op.hook.conn.meta.events.register(
        "before-call.batch.SubmitJob", lambda **_: (_ for _ in ()).throw(RuntimeError("worker lost"))
    )
    with pytest.raises(Exception, match="worker lost"):
        op.execute(task_context(1))
    token = task_context(1)["task_state_store"].get(f"{KEY}.intent")["token"]

    retry = durable_make()
    pauses: list[float] = []
    monkeypatch.setattr(ours.time, "sleep", pauses.append)  # the wait itself is not worth waiting for
    calls = moto_server.Requests(retry, SERVICE)
    job_id = retry.execute(task_context(2))

    assert calls.names()[:3] == ["ListJobs", "ListJobs", "SubmitJob"]
    assert 0 < pauses[0] <= retry.listing_settle_seconds  # the first sleep: the settle wait
    assert [j.job_id for j in batch.jobs_named(job_name)] == [job_id]
    assert batch.job_tags(job_id)[ours.TOKEN_TAG] == token  # same generation, same token


def test_an_intent_older_than_the_settle_time_is_listed_once(durable_make, task_context):
    from datetime import datetime, timedelta, timezone

    op = durable_make()
    calls = moto_server.Requests(op, SERVICE)
    long_ago = datetime.now(tz=timezone.utc) - timedelta(seconds=op.listing_settle_seconds + 1)
    assert op.find_submitted_job("nobody-g1", task_context(), submitted_at=long_ago) is None
    assert calls.names() == ["ListJobs"]


@pytest.mark.parametrize("how", ["failed", "forgotten"])
def test_a_stored_job_that_failed_or_is_gone_starts_the_next_generation(durable_make, task_context, how):
    first = durable_make()
    if how == "failed":
        _state_after_submit(first, "FAILED")
        with pytest.raises(Exception, match="failed"):
            first.execute(task_context(1))
    else:
        first.execute(task_context(1))
        batch.forget_job(first.job_id)

    retry = durable_make()
    job_id = retry.execute(task_context(2))

    intent = task_context(2)["task_state_store"].get(f"{KEY}.intent")
    assert job_id != first.job_id and intent["generation"] == 2 and intent["external_id"] == job_id
    assert batch.job_tags(job_id)[ours.TOKEN_TAG] == intent["token"]
    if how == "failed":
        assert batch.job_tags(first.job_id)[ours.TOKEN_TAG] != intent["token"]


def test_a_killed_try_is_followed_by_a_new_generation(durable_make, task_context, job_name):
    op = durable_make(wait_for_completion=False)
    _state_after_submit(op, "RUNNING")
    op.execute(task_context(1))
    op.on_kill()  # terminated: FAILED

    retry = durable_make()
    job_id = retry.execute(task_context(2))

    assert [j.job_id for j in batch.jobs_named(job_name)] == [op.job_id, job_id]
    assert task_context(2)["task_state_store"].get(f"{KEY}.intent")["generation"] == 2


def test_a_running_job_is_waited_on_again(durable_make, task_context, job_name):
    op = durable_make(wait_for_completion=False)
    _state_after_submit(op, "RUNNING")
    first = op.execute(task_context(1))

    retry = durable_make()
    calls = moto_server.Requests(retry, SERVICE)
    moto_server.later(0.3, batch.set_job_state, first, "SUCCEEDED")
    assert retry.execute(task_context(2)) == first
    assert "SubmitJob" not in calls.names()
    assert len(batch.jobs_named(job_name)) == 1


def test_a_deferrable_retry_defers_on_the_running_job(durable_make, task_context, job_name):
    op = durable_make(deferrable=True)
    _state_after_submit(op, "RUNNING")
    with pytest.raises(TaskDeferred):
        op.execute(task_context(1))

    retry = durable_make(deferrable=True)
    calls = moto_server.Requests(retry, SERVICE)
    with pytest.raises(TaskDeferred) as deferred:
        retry.execute(task_context(2))

    assert deferred.value.trigger.serialize()[1]["job_id"] == op.job_id
    assert "SubmitJob" not in calls.names()


def test_too_many_tags_are_refused_before_anything_is_written(durable_make, task_context):
    op = durable_make(tags={f"k{i}": "v" for i in range(50)})
    calls = moto_server.Requests(op, SERVICE)
    ctx = task_context()
    with pytest.raises(InvalidValueError, match="at most 50"):
        op.execute(ctx)
    assert calls.names() == [] and ctx["task_state_store"].get(f"{KEY}.intent") is None


def test_an_unknown_job_id_is_read_as_not_found(durable_make, task_context):
    op = durable_make()
    with pytest.raises(ours.BatchJobNotFoundError) as raised:
        op.get_job_status("no-such-job", task_context())
    assert op.is_job_not_found(raised.value)


@pytest.mark.parametrize(
    ("status", "extra", "active", "succeeded"),
    [
        ("RUNNABLE", {}, True, False),
        ("SUCCEEDED", {}, False, True),
        ("FAILED", {}, False, False),
        ("SOMETHING_NEW", {}, True, False),
        ("RUNNING", {"wait_for_completion": False}, False, True),
        ("FAILED", {"wait_for_completion": False}, False, False),
        ("RUNNING", {"wait_for_completion": False, "deferrable": True}, True, False),
    ],
)
def test_what_a_retry_does_with_a_job_in_each_state(durable_make, status, extra, active, succeeded):
    op = durable_make(**extra)
    assert (op.is_job_active(status), op.is_job_succeeded(status)) == (active, succeeded)


def test_a_job_found_by_its_tag_that_failed_starts_the_next_generation(durable_make, task_context, job_name):
    op = durable_make()
    _state_after_submit(op, "FAILED")
    _crash_after_submit(op)
    with pytest.raises(Exception, match="worker lost"):
        op.execute(task_context(1))
    lost = batch.jobs_named(job_name)[0].job_id

    retry = durable_make()
    job_id = retry.execute(task_context(2))

    intent = task_context(2)["task_state_store"].get(f"{KEY}.intent")
    assert [j.job_id for j in batch.jobs_named(job_name)] == [lost, job_id]
    assert (intent["generation"], intent["external_id"]) == (2, job_id)


def test_a_job_listing_lags_behind_submit_job_is_found_on_the_second_listing(
    durable_make, task_context, job_name, monkeypatch
):
    op = durable_make()
    _crash_after_submit(op)
    with pytest.raises(Exception, match="worker lost"):
        op.execute(task_context(1))

    retry = durable_make()
    monkeypatch.setattr(ours.time, "sleep", lambda _: None)  # the settle wait, skipped
    lagging = {"calls": 0}

    def not_listed_yet(model: Any, **_: Any) -> Any:  # ListJobs does not show the new job at first
        lagging["calls"] += 1
        if lagging["calls"] > 1:
            return None

        class Response:
            status_code = 200

        return Response(), {"jobSummaryList": [], "ResponseMetadata": {"HTTPStatusCode": 200}}

    retry.hook.conn.meta.events.register("before-call.batch.ListJobs", not_listed_yet)
    calls = moto_server.Requests(retry, SERVICE)
    job_id = retry.execute(task_context(2))

    assert [j.job_id for j in batch.jobs_named(job_name)] == [job_id]
    assert calls.names()[:3] == ["ListJobs", "ListJobs", "DescribeJobs"]
    assert "SubmitJob" not in calls.names()
