"""EmrServerlessStartJobOperator against a local EMR Serverless (moto), called like a task would be."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.amazon.aws.triggers.emr import (
    EmrServerlessStartApplicationTrigger,
    EmrServerlessStartJobTrigger,
)
from airflow.sdk.exceptions import TaskDeferred
from emr_job_runs import (
    JobRunService,
    assert_a_failed_run_made_before_moves_to_the_next_generation,
    assert_a_failed_run_made_now_fails_the_try,
)

import moto_server
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs.base import Decision
from airflow_resumable.jobs.emr import EmrServerlessStartJobOperator
from airflow_resumable.testing import make_context

KEY = "emr_serverless_job_run_id"
INTENT = f"{KEY}.intent"


def _op(application: str, cls: type = EmrServerlessStartJobOperator, **kwargs: Any) -> Any:
    """The library's operator (or ``cls``, a subclass) on ``application``."""
    kwargs.setdefault("waiter_delay", 1)
    kwargs.setdefault("waiter_max_attempts", 3)
    return cls(
        task_id="job",
        application_id=application,
        execution_role_arn=moto_server.ROLE_ARN,
        job_driver={"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}},
        **kwargs,
    )


SERVERLESS = JobRunService(
    name="emr-serverless",
    operator=_op,
    job_runs=moto_server.serverless_job_runs,
    fail_started=lambda app, answer: moto_server.set_serverless_state(app, answer["jobRunId"], "FAILED"),
    failure="Serverless Job failed",
    no_wait={"waiter_delay": 0},
)


def test_submission_carries_the_recorded_token_as_client_token_and_tag(application, retry_context):
    ctx = retry_context()
    job_id = _op(application, name="nightly").execute(ctx)

    [run] = moto_server.serverless_job_runs(application)
    intent = ctx["task_state_store"].get(INTENT)
    assert run.id == job_id == ctx["task_state_store"].get(KEY) == intent["external_id"]
    assert run.client_token == intent["token"]
    assert run.name == "nightly"  # the provider's name: the token is in a tag
    assert run.tags == {common.TOKEN_TAG: intent["token"]}


def test_a_retry_reconnects_to_the_running_job_and_killing_it_cancels_that_job(application, retry_context):
    first = _op(application, wait_for_completion=False)
    job_id = first.execute(retry_context(1))
    moto_server.set_serverless_state(application, job_id, "RUNNING")

    retry = _op(application, wait_for_completion=False)
    assert retry.decide(retry_context(2)).action is Decision.RECONNECT
    assert retry.execute(retry_context(2)) == job_id
    assert len(moto_server.serverless_job_runs(application)) == 1

    retry.on_kill()  # the provider's on_kill, now aimed at the job this try reconnected to
    assert moto_server.serverless_job_runs(application)[0].state == "CANCELLED"


def test_discovery_prefers_a_usable_run_when_the_marker_was_used_twice(application, retry_context):
    ctx = retry_context()
    token = _op(application).idempotency_token(ctx, 1)
    client = moto_server.client("emr-serverless")
    ids = [
        client.start_job_run(
            applicationId=application,
            clientToken=token,
            executionRoleArn=moto_server.ROLE_ARN,
            jobDriver={"sparkSubmit": {"entryPoint": "x"}},
            name=f"job [{token}]",
        )["jobRunId"]
        for _ in range(2)
    ]
    moto_server.set_serverless_state(application, ids[0], "FAILED")
    ctx["task_state_store"].set(
        INTENT,
        {"generation": 1, "token": token, "state": "submitting", "submitted_at": "2020-01-01T00:00:00+00:00"},
    )

    decision = _op(application).decide(ctx)

    assert (decision.action, decision.external_id) == (Decision.ALREADY_SUCCEEDED, ids[1])


def test_an_application_without_job_runs_means_nothing_was_submitted(application, retry_context):
    ctx = retry_context()
    token = _op(application).idempotency_token(ctx, 1)
    ctx["task_state_store"].set(INTENT, {"generation": 1, "token": token, "state": "submitting"})

    decision = _op(application).decide(ctx)

    assert (decision.action, decision.token, decision.generation) == (Decision.FRESH, token, 1)


def test_throttled_status_calls_are_retried(application, retry_context):
    job_id = _op(application).execute(retry_context(1))
    retry = _op(application)
    calls: list[str] = []

    class Response:
        status_code = 400

    def throttle_once(**_: Any) -> Any:
        calls.append("GetJobRun")
        if len(calls) == 1:
            error = {"Code": "ThrottlingException", "Message": "Rate exceeded"}
            return Response(), {"Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}}
        return None  # let the real call through

    retry.hook.conn.meta.events.register("before-call.emr-serverless.GetJobRun", throttle_once)
    decision = retry.decide(retry_context(2))

    assert (decision.action, decision.external_id) == (Decision.ALREADY_SUCCEEDED, job_id)
    assert calls == ["GetJobRun", "GetJobRun"]


def test_deferrable_reconnect_defers_on_the_existing_job_without_submitting(application, retry_context):
    job_id = _op(application, wait_for_completion=False).execute(retry_context(1))
    moto_server.set_serverless_state(application, job_id, "RUNNING")

    with pytest.raises(TaskDeferred) as deferred:
        _op(application, deferrable=True, cancel_on_kill=False).execute(retry_context(2))

    trigger = deferred.value.trigger
    assert isinstance(trigger, EmrServerlessStartJobTrigger)
    assert (trigger.job_id, trigger.application_id, trigger.cancel_on_kill) == (job_id, application, False)
    assert deferred.value.method_name == "execute_complete"
    assert len(moto_server.serverless_job_runs(application)) == 1


def test_deferrable_submit_stores_the_id_before_deferring(application, retry_context):
    ctx = retry_context()
    with pytest.raises(TaskDeferred) as deferred:
        _op(application, deferrable=True).execute(ctx)

    [run] = moto_server.serverless_job_runs(application)
    assert deferred.value.trigger.job_id == run.id == ctx["task_state_store"].get(KEY)
    assert (
        _op(application).execute_complete(
            ctx, event={"status": "success", "job_details": {"job_id": run.id, "application_id": application}}
        )
        == run.id
    )


def test_deferrable_waits_for_a_stopped_application_before_recording_anything(
    application, retry_context, mocker
):
    incr = mocker.patch("airflow_resumable.jobs.base.stats.incr")
    moto_server.client("emr-serverless").stop_application(applicationId=application)
    ctx = retry_context()
    op = _op(application, deferrable=True, wait_for_completion=False)

    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)

    assert isinstance(deferred.value.trigger, EmrServerlessStartApplicationTrigger)
    assert deferred.value.method_name == "execute"
    assert ctx["task_state_store"].get(INTENT) is None
    assert moto_server.serverless_job_runs(application) == []
    # the trigger calls execute() again once the application has started
    job_id = op.execute(ctx, event={"status": "success"})
    assert [run.id for run in moto_server.serverless_job_runs(application)] == [job_id]
    # one decision, counted once, although it was made again after the application started
    assert [call.args[0] for call in incr.call_args_list] == ["resumable_job.fresh_submit"]


def test_a_failure_event_from_the_trigger_cancels_and_fails_as_the_provider_does(application, retry_context):
    from airflow.providers.common.compat.sdk import AirflowException

    job_id = _op(application, wait_for_completion=False).execute(retry_context())
    moto_server.set_serverless_state(application, job_id, "RUNNING")
    # what EmrServerlessStartJobTrigger yields when its waiter fails
    event = {
        "status": "error",
        "message": "Serverless Job failed",
        "job_details": {"application_id": application, "job_id": job_id},
    }
    expected = r"^EMR Serverless job failed or timed out in deferrable mode$"
    with pytest.raises(AirflowException, match=expected):
        _op(application, deferrable=True).execute_complete(retry_context(), event=event)
    assert moto_server.serverless_job_runs(application)[0].state == "CANCELLED"


def test_durable_false_is_the_provider_operator(application, retry_context):
    ctx = retry_context()
    first = _op(application, durable=False, client_request_token="my-token").execute(ctx)
    second = _op(application, durable=False).execute(ctx)

    runs = moto_server.serverless_job_runs(application)
    assert [run.id for run in runs] == [first, second]
    assert runs[0].client_token == "my-token"
    assert runs[1].name.startswith("emr_serverless_job_airflow_")
    assert ctx["task_state_store"].get(KEY) is None
    assert ctx["task_state_store"].get(INTENT) is None


# -- drop-in: what the provider's operator does, the durable one does too ------------------------------
def test_a_users_client_request_token_is_used_then_rotated_per_generation(application, retry_context):
    first = _op(application, client_request_token="my-token", wait_for_completion=False)
    job_id = first.execute(retry_context(1))
    moto_server.set_serverless_state(application, job_id, "FAILED")
    _op(application, client_request_token="my-token", wait_for_completion=False).execute(retry_context(2))

    tokens = [run.client_token for run in moto_server.serverless_job_runs(application)]
    assert tokens[0] == "my-token"
    assert tokens[1].startswith("my-token-") and tokens[1].endswith("-g2")


def test_name_keeps_the_providers_attribute_and_default_form(application, retry_context):
    import re

    named = _op(application, name="nightly")
    named.execute(retry_context(1))
    unnamed = _op(application)
    unnamed.execute(make_context(dag_id="emr_dag", run_id="run_2", task_id="job"))

    runs = moto_server.serverless_job_runs(application)
    assert named.name == runs[0].name == "nightly"
    assert re.fullmatch(r"emr_serverless_job_airflow_[0-9a-f-]{36}", unnamed.name or "")
    assert runs[1].name == unnamed.name


def test_a_failed_job_is_polled_and_reported_once_as_the_provider_does(application, retry_context):
    from airflow.providers.common.compat.sdk import AirflowException

    class FailsAtOnce(EmrServerlessStartJobOperator):
        def submit_job(self, context: Any) -> Any:
            job_id = super().submit_job(context)
            moto_server.set_serverless_state(application, str(job_id), "FAILED")
            return job_id

    op = _op(application, FailsAtOnce, waiter_delay=0, waiter_max_attempts=3)
    calls = moto_server.api_calls(op, "emr-serverless")
    expected = r"^Serverless Job failed: Waiter serverless_job_completed failed: Waiter encountered"
    with pytest.raises(AirflowException, match=expected):
        op.execute(retry_context())
    assert calls.count("GetJobRun") == 1
    assert "CancelJobRun" not in calls


def test_max_waiter_attempts_cancels_once_and_raises_as_the_provider_does(application, retry_context):
    from airflow.providers.common.compat.sdk import AirflowException

    class KeepsRunning(EmrServerlessStartJobOperator):
        def submit_job(self, context: Any) -> Any:
            job_id = super().submit_job(context)
            moto_server.set_serverless_state(application, str(job_id), "RUNNING")
            return job_id

    op = _op(application, KeepsRunning, waiter_delay=0, waiter_max_attempts=2)
    calls = moto_server.api_calls(op, "emr-serverless")
    with pytest.raises(AirflowException, match="Waiter error: max attempts reached"):
        op.execute(retry_context())
    assert calls.count("CancelJobRun") == 1
    assert calls.count("GetJobRun") == 2


@pytest.mark.parametrize("context", [{}, "mock"], ids=["plain dict", "mock"])
def test_a_context_without_store_runs_like_the_provider_with_a_warning(application, context, capsys):
    from unittest import mock

    ctx = mock.MagicMock() if context == "mock" else context
    op = _op(application, client_request_token="given")
    job_id = op.execute(ctx)

    [run] = moto_server.serverless_job_runs(application)
    assert (run.id, run.client_token, run.name) == (job_id, "given", op.name)
    assert common.TOKEN_TAG not in (run.tags or {})
    assert "crash recovery is disabled" in capsys.readouterr().out


def test_a_discovered_failed_job_moves_to_the_next_generation_in_the_same_try(application, retry_context):
    ctx = retry_context(2)
    op = _op(application)
    job_id = op.execute(retry_context(1))
    moto_server.set_serverless_state(application, job_id, "FAILED")
    intent = ctx["task_state_store"].get(INTENT)
    ctx["task_state_store"].set(INTENT, {**intent, "state": "submitting", "external_id": None})
    ctx["task_state_store"].delete(KEY)  # the crash: the id of the (now failed) job was never stored

    new_id = _op(application).execute(ctx)

    assert new_id != job_id
    assert ctx["task_state_store"].get(INTENT)["generation"] == 2
    assert [run.id for run in moto_server.serverless_job_runs(application)] == [job_id, new_id]


@pytest.mark.parametrize("name", [None, "nightly"], ids=["default name", "own name"])
def test_a_job_whose_id_was_never_stored_is_found_by_its_name_and_token_tag(application, retry_context, name):
    ctx = retry_context(1)
    job_id = _op(application, name=name, wait_for_completion=False).execute(ctx)
    moto_server.set_serverless_state(application, job_id, "RUNNING")
    intent = ctx["task_state_store"].get(INTENT)
    ctx["task_state_store"].set(INTENT, {**intent, "state": "submitting", "external_id": None})
    ctx["task_state_store"].delete(KEY)  # the crash: submitted, id never stored
    moto_server.client("emr-serverless").start_job_run(  # same name, someone else's
        applicationId=application,
        clientToken="other",
        executionRoleArn=moto_server.ROLE_ARN,
        jobDriver={"sparkSubmit": {"entryPoint": "x"}},
        name=moto_server.serverless_job_runs(application)[0].name,
    )

    decision = _op(application, name=name).decide(retry_context(2))

    assert (decision.action, decision.external_id) == (Decision.RECONNECT, job_id)


def test_a_resubmission_crashing_after_submit_is_found_again_by_its_own_name(application, retry_context):
    """Found by the stateful search: the failed job's name leaked into the next generation's submission."""
    first = _op(application, wait_for_completion=False).execute(retry_context(1))
    moto_server.set_serverless_state(application, first, "FAILED")

    class DiesAfterSubmit(EmrServerlessStartJobOperator):
        def submit_job(self, context: Any) -> Any:
            super().submit_job(context)
            raise KeyboardInterrupt  # the worker dies before the id is stored

    with pytest.raises(KeyboardInterrupt):
        DiesAfterSubmit(
            task_id="job",
            application_id=application,
            execution_role_arn=moto_server.ROLE_ARN,
            job_driver={"sparkSubmit": {"entryPoint": "s3://bucket/job.py"}},
            wait_for_completion=False,
        ).execute(retry_context(2))
    second = moto_server.serverless_job_runs(application)[-1]
    moto_server.set_serverless_state(application, second.id, "RUNNING")

    decision = _op(application).decide(retry_context(3))

    assert second.name != moto_server.serverless_job_runs(application)[0].name
    assert (decision.action, decision.external_id) == (Decision.RECONNECT, second.id)


# -- your own token handing back a failed job run ----------------------------------------------------------
def test_your_token_answered_at_once_with_a_failed_run_made_now_fails_as_the_provider_does(
    application, retry_context
):
    """A job run created by this submission that failed at once is this try's failure (reported as the
    provider reports it), not an earlier run's: it is never submitted again in the same try."""
    assert_a_failed_run_made_now_fails_the_try(SERVERLESS, application, retry_context)


def test_your_token_answered_with_a_failed_run_made_before_this_try_moves_to_the_next_generation(
    application, retry_context
):
    assert_a_failed_run_made_before_moves_to_the_next_generation(SERVERLESS, application, retry_context)
