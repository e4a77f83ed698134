"""``task_status`` reads a stopped ECS task as the provider's ``_check_success_task`` does."""

from __future__ import annotations

import pytest

pytest.importorskip("airflow.providers.amazon", reason="the ECS drop-in needs the Amazon provider")

from airflow_resumable.jobs.ecs import task_status


def _task(*containers: dict, last: str = "STOPPED", **fields: str) -> dict:
    return {"lastStatus": last, "containers": list(containers), **fields}


def _stopped(code: int | None) -> dict:
    return {"lastStatus": "STOPPED"} if code is None else {"lastStatus": "STOPPED", "exitCode": code}


@pytest.mark.parametrize(
    ("task", "skip", "status"),
    [
        (_task(last="PROVISIONING"), (), "PROVISIONING"),
        (_task(_stopped(0)), (), "STOPPED:SUCCEEDED"),
        (_task(_stopped(0), last="DELETED"), (), "STOPPED:SUCCEEDED"),
        (_task(_stopped(None)), (), "STOPPED:FAILED"),  # no exit code counts as 1, as the provider reads it
        (_task(_stopped(3), _stopped(1)), [3], "STOPPED:SKIPPED"),  # the first container decides
        (_task(_stopped(1), _stopped(3)), [3], "STOPPED:FAILED"),
        (_task({"lastStatus": "PENDING"}), (), "STOPPED:FAILED"),
        (
            _task({"lastStatus": "STOPPED", "exitCode": 0, "reason": "Essential container exited"}),
            (),
            "STOPPED:SUCCEEDED",
        ),
        (
            _task({"lastStatus": "STOPPED", "exitCode": 0, "reason": "CannotStartContainerError"}),
            (),
            "STOPPED:FAILED",
        ),
        (_task(_stopped(0), stopCode="TaskFailedToStart"), (), "STOPPED:FAILED"),
        (_task(_stopped(0), stoppedReason="Host EC2 (instance i-0abc) terminated."), (), "STOPPED:FAILED"),
    ],
)
def test_task_status(task, skip, status):
    assert task_status(task, skip) == status
