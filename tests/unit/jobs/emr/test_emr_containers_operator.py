"""EmrContainerOperator (EMR on EKS) against a local emr-containers API (moto), called as a task would."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.amazon.aws.operators import emr as provider
from airflow.providers.amazon.aws.triggers.emr import EmrContainerTrigger
from airflow.sdk.exceptions import TaskDeferred
from emr_job_runs import (
    JobRunService,
    assert_a_failed_run_made_before_moves_to_the_next_generation,
    assert_a_failed_run_made_now_fails_the_try,
)

import moto_server
from airflow_resumable.jobs import _emr_common as common
from airflow_resumable.jobs.base import Decision
from airflow_resumable.jobs.emr import EmrContainerOperator

KEY = "emr_containers_job_run_id"
INTENT = f"{KEY}.intent"


def _op(virtual_cluster: str, cls: type = EmrContainerOperator, **kwargs: Any) -> Any:
    """The library's operator (or ``cls``, the provider's or a subclass) on ``virtual_cluster``."""
    kwargs.setdefault("poll_interval", 1)
    kwargs.setdefault("max_polling_attempts", 3)
    return cls(
        task_id="job",
        name="nightly-report",
        virtual_cluster_id=virtual_cluster,
        execution_role_arn=moto_server.ROLE_ARN,
        release_label="emr-6.10.0-latest",
        job_driver={"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}},
        **kwargs,
    )


CONTAINERS = JobRunService(
    name="emr-containers",
    operator=_op,
    job_runs=moto_server.containers_job_runs,
    fail_started=lambda _cluster, answer: moto_server.set_containers_state(answer["id"], "FAILED"),
    failure="EMR Containers job failed",
    no_wait={"poll_interval": 0},
)


def _start(virtual_cluster: str, **kwargs: Any) -> str:
    """A job run started by someone else (plain boto3), e.g. an earlier try whose id was lost."""
    return str(
        moto_server.client("emr-containers").start_job_run(
            name="nightly-report",
            virtualClusterId=virtual_cluster,
            executionRoleArn=moto_server.ROLE_ARN,
            releaseLabel="emr-6.10.0-latest",
            jobDriver={"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}},
            **kwargs,
        )["id"]
    )


def _intent(ctx: dict[str, Any], token: str) -> None:
    ctx["task_state_store"].set(INTENT, {"generation": 1, "token": token, "state": "submitting"})


def test_submission_keeps_the_name_and_tags_the_token(virtual_cluster, retry_context):
    ctx = retry_context()
    job_id = _op(virtual_cluster, wait_for_completion=False, tags={"team": "data"}).execute(ctx)

    [run] = moto_server.containers_job_runs(virtual_cluster)
    token = ctx["task_state_store"].get(INTENT)["token"]
    assert run.id == job_id == ctx["task_state_store"].get(KEY)
    assert run.name == "nightly-report"  # EMR on EKS names are short and strict: left alone
    assert run.client_token == token
    assert run.tags == {"team": "data", common.TOKEN_TAG: token}


@pytest.mark.parametrize("by", ["client token", "tag"])
def test_an_earlier_job_is_found_by_client_token_or_tag(virtual_cluster, retry_context, by):
    ctx = retry_context(2)
    token = _op(virtual_cluster).idempotency_token(ctx, 1)
    _start(virtual_cluster, clientToken="someone-else", tags={})  # not ours
    if by == "client token":
        ours = _start(virtual_cluster, clientToken=token)
    else:
        ours = _start(virtual_cluster, clientToken="rewritten-by-a-proxy", tags={common.TOKEN_TAG: token})
    _intent(ctx, token)

    decision = _op(virtual_cluster).decide(ctx)

    assert (decision.action, decision.external_id, decision.status) == (Decision.RECONNECT, ours, "RUNNING")
    assert ctx["task_state_store"].get(KEY) == ours


@pytest.mark.parametrize(
    ("state", "action"),
    [
        ("PENDING", Decision.RECONNECT),
        ("SUBMITTED", Decision.RECONNECT),
        ("CANCEL_PENDING", Decision.RECONNECT),
        ("COMPLETED", Decision.ALREADY_SUCCEEDED),
        ("FAILED", Decision.RESUBMIT),
        ("CANCELLED", Decision.RESUBMIT),
    ],
)
def test_the_stored_job_state_decides(virtual_cluster, retry_context, state, action):
    ctx = retry_context(2)
    job_id = _start(virtual_cluster)
    moto_server.set_containers_state(job_id, state)
    ctx["task_state_store"].set(KEY, job_id)  # stored by an earlier try, without an intent (as upstream does)

    decision = _op(virtual_cluster).decide(ctx)

    assert (decision.action, decision.status, decision.generation) == (action, state, 1)


def test_killing_a_reconnected_try_cancels_the_job(virtual_cluster, retry_context):
    job_id = _op(virtual_cluster, wait_for_completion=False).execute(retry_context(1))
    retry = _op(virtual_cluster, wait_for_completion=False)
    assert retry.execute(retry_context(2)) == job_id

    retry.on_kill()

    assert [run.state for run in moto_server.containers_job_runs(virtual_cluster)] == ["CANCELLED"]


def test_deferrable_reconnect_defers_on_the_existing_job(virtual_cluster, retry_context):
    job_id = _op(virtual_cluster, wait_for_completion=False).execute(retry_context(1))

    with pytest.raises(TaskDeferred) as deferred:
        _op(virtual_cluster, deferrable=True, max_polling_attempts=7).execute(retry_context(2))

    trigger = deferred.value.trigger
    assert isinstance(trigger, EmrContainerTrigger)
    assert (trigger.job_id, trigger.virtual_cluster_id, trigger.cancel_on_kill) == (
        job_id,
        virtual_cluster,
        True,
    )
    assert trigger.attempts == 7
    assert deferred.value.method_name == "execute_complete"
    assert len(moto_server.containers_job_runs(virtual_cluster)) == 1


def test_deferrable_returns_at_once_for_a_job_that_already_completed(virtual_cluster, retry_context):
    job_id = _op(virtual_cluster, wait_for_completion=False).execute(retry_context(1))
    moto_server.set_containers_state(job_id, "COMPLETED")

    assert _op(virtual_cluster, deferrable=True).execute(retry_context(2)) == job_id


def test_blocking_poll_follows_the_job_to_completion(virtual_cluster, retry_context):
    class FinishesSoon(EmrContainerOperator):
        def poll_until_complete(self, external_id: Any, context: Any) -> None:
            moto_server.later(0.2, moto_server.set_containers_state, external_id, "COMPLETED")
            super().poll_until_complete(external_id, context)

    op = _op(virtual_cluster, FinishesSoon, poll_interval=1, max_polling_attempts=5)
    job_id = op.execute(retry_context())
    assert [(run.id, run.state) for run in moto_server.containers_job_runs(virtual_cluster)] == [
        (job_id, "COMPLETED")
    ]


def test_a_job_that_fails_while_polled_fails_the_try(virtual_cluster, retry_context):
    class FailsSoon(EmrContainerOperator):
        def poll_until_complete(self, external_id: Any, context: Any) -> None:
            moto_server.set_containers_state(external_id, "FAILED")
            super().poll_until_complete(external_id, context)

    op = FailsSoon(
        task_id="job",
        name="nightly-report",
        virtual_cluster_id=virtual_cluster,
        execution_role_arn=moto_server.ROLE_ARN,
        release_label="emr-6.10.0-latest",
        job_driver={"sparkSubmitJobDriver": {"entryPoint": "s3://bucket/job.py"}},
        poll_interval=1,
    )
    with pytest.raises(Exception, match="EMR Containers job failed"):
        op.execute(retry_context())


def test_durable_false_uses_the_given_token_and_stores_nothing(virtual_cluster, retry_context):
    ctx = retry_context()
    _op(virtual_cluster, durable=False, wait_for_completion=False, client_request_token="fixed").execute(ctx)

    [run] = moto_server.containers_job_runs(virtual_cluster)
    assert run.client_token == "fixed"
    assert common.TOKEN_TAG not in (run.tags or {})
    assert ctx["task_state_store"].get(KEY) is None


# -- drop-in: what the provider's operator does, the durable one does too ------------------------------
def test_a_users_client_request_token_is_used_then_rotated_per_generation(virtual_cluster, retry_context):
    job_id = _op(virtual_cluster, client_request_token="my-token", wait_for_completion=False).execute(
        retry_context(1)
    )
    moto_server.set_containers_state(job_id, "FAILED")
    _op(virtual_cluster, client_request_token="my-token", wait_for_completion=False).execute(retry_context(2))

    tokens = [run.client_token for run in moto_server.containers_job_runs(virtual_cluster)]
    assert tokens[0] == "my-token"
    assert tokens[1].startswith("my-token-") and tokens[1].endswith("-g2")


BOTH = pytest.mark.parametrize(
    "cls", [provider.EmrContainerOperator, EmrContainerOperator], ids=["theirs", "ours"]
)


@BOTH
def test_max_polling_attempts_raises_the_providers_error_once(virtual_cluster, retry_context, cls):
    from airflow.providers.common.compat.sdk import AirflowException

    op = _op(virtual_cluster, cls, poll_interval=0, max_polling_attempts=2)
    calls = moto_server.api_calls(op, "emr-containers")
    with pytest.raises(AirflowException, match=r"^Final state of EMR Containers job is RUNNING\. Max tries"):
        op.execute(retry_context())
    assert calls.count("DescribeJobRun") == 2
    assert calls.count("StartJobRun") == 1


@BOTH
def test_a_failed_job_is_reported_once_with_the_providers_message(virtual_cluster, retry_context, cls):
    from airflow.providers.common.compat.sdk import AirflowException

    class FailsAtOnce(cls):  # type: ignore[misc, valid-type]
        def execute(self, context: Any) -> Any:
            vc_runs = moto_server.containers_job_runs
            moto_server.later(0.05, lambda: [setattr(r, "state", "FAILED") for r in vc_runs(virtual_cluster)])
            return super().execute(context)

    op = _op(virtual_cluster, FailsAtOnce, poll_interval=1, max_polling_attempts=3)
    calls = moto_server.api_calls(op, "emr-containers")
    with pytest.raises(AirflowException, match=r"^EMR Containers job failed\. Final state is FAILED"):
        op.execute(retry_context())
    assert calls.count("StartJobRun") == 1
    assert calls.count("DescribeJobRun") <= 3


@pytest.mark.parametrize("context", [{}, "mock"], ids=["plain dict", "mock"])
def test_a_context_without_store_runs_like_the_provider_with_a_warning(virtual_cluster, context, capsys):
    from unittest import mock

    ctx = mock.MagicMock() if context == "mock" else context
    job_id = _op(virtual_cluster, client_request_token="given", wait_for_completion=False).execute(ctx)

    [run] = moto_server.containers_job_runs(virtual_cluster)
    assert (run.id, run.client_token) == (job_id, "given")
    assert common.TOKEN_TAG not in (run.tags or {})
    assert "crash recovery is disabled" in capsys.readouterr().out


def test_a_client_request_token_from_default_args_is_the_users_token(virtual_cluster, retry_context):
    from airflow.sdk import DAG

    with DAG("emr_token_defaults", schedule=None, default_args={"client_request_token": "from-defaults"}):
        op = _op(virtual_cluster, wait_for_completion=False)
    op.execute(retry_context())

    [run] = moto_server.containers_job_runs(virtual_cluster)
    assert run.client_token == "from-defaults"


def test_your_token_answered_at_once_with_a_failed_run_made_now_fails_as_the_provider_does(
    virtual_cluster, retry_context
):
    """A job run created by this submission that failed at once is this try's failure (reported as the
    provider reports it), not an earlier run's: it is never submitted again in the same try."""
    assert_a_failed_run_made_now_fails_the_try(CONTAINERS, virtual_cluster, retry_context)


def test_your_token_answered_with_a_failed_run_made_before_this_try_moves_to_the_next_generation(
    virtual_cluster, retry_context
):
    assert_a_failed_run_made_before_moves_to_the_next_generation(CONTAINERS, virtual_cluster, retry_context)
