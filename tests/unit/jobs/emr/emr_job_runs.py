"""What the EMR on EKS and EMR Serverless operator tests check alike about your own ``client_request_token``
handing back a failed job run: one description per service (``JobRunService``), one check per behaviour.

Every AWS call is the provider's real hook talking to the local moto server; moto is told to honour client
tokens and to give job runs AWS-like creation times (``moto_server``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

import moto_server

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class JobRunService:
    """One EMR service whose StartJobRun takes a ``clientToken``."""

    name: str
    """The botocore service name (``emr-containers``, ``emr-serverless``)."""
    operator: Callable[..., Any]
    """``operator(resource, **kwargs)``: the library's operator on a virtual cluster or application."""
    job_runs: Callable[[str], list[Any]]
    """moto's job runs of a resource, oldest first."""
    fail_started: Callable[[str, dict[str, Any]], None]
    """``fail_started(resource, answer)``: the job run StartJobRun answered with fails on AWS."""
    failure: str
    """What the provider's failure for a failed job run says."""
    no_wait: dict[str, Any]
    """Operator arguments that poll without pausing."""


def assert_a_failed_run_made_now_fails_the_try(
    service: JobRunService, resource: str, retry_context: Any
) -> None:
    """A job run your token makes that fails at once is this try's failure, as the provider reports it; it
    is never submitted again in the same try."""
    from airflow.providers.common.compat.sdk import AirflowException

    op = service.operator(resource, client_request_token="nightly-now", **service.no_wait)
    moto_server.honour_client_tokens(op)
    op.hook.conn.meta.events.register(
        f"after-call.{service.name}.StartJobRun",
        lambda parsed, **_: service.fail_started(resource, parsed),
    )
    calls = moto_server.api_calls(op, service.name)
    with moto_server.job_run_times_like_aws(), pytest.raises(AirflowException, match=service.failure):
        op.execute(retry_context(1))

    assert [run.client_token for run in service.job_runs(resource)] == ["nightly-now"]
    assert calls.count("StartJobRun") == 1


def assert_a_failed_run_made_before_moves_to_the_next_generation(
    service: JobRunService, resource: str, retry_context: Any
) -> None:
    """Your token handing back yesterday's failed job run (the task's state reset since) starts a new job
    run under the next generation's token."""
    with moto_server.job_run_times_like_aws():
        first = service.operator(resource, client_request_token="nightly-old", wait_for_completion=False)
        job_id = first.execute(retry_context(1))
        [old] = service.job_runs(resource)
        old.state = "FAILED"
        moto_server.backdate_job_run(old, hours=1)  # yesterday's run with your token
        retry_context()["task_state_store"].clear()  # the task's state is reset

        again = service.operator(resource, client_request_token="nightly-old", wait_for_completion=False)
        moto_server.honour_client_tokens(again)  # AWS hands back the run it started for the token
        new_id = again.execute(retry_context(2))

    runs = service.job_runs(resource)
    assert new_id != job_id and [run.id for run in runs] == [job_id, new_id]
    assert runs[1].client_token.startswith("nightly-old-") and runs[1].client_token.endswith("-g2")
