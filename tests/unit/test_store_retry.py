"""The retry policy for store writes as a real worker sees errors: relayed by the supervisor as
AirflowRuntimeError. A 404 for the task instance itself (cleared or marked while the try ran) is final and
logged once; retrying it only delays the stop."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
from airflow.sdk.execution_time.comms import ErrorResponse

from airflow_resumable import _store


def relayed(status: int, message: str) -> AirflowRuntimeError:
    """An API error as the supervisor relays it to the task process (supervisor.handle_requests)."""
    detail = {"detail": {"reason": "not_found", "message": message}}
    return AirflowRuntimeError(
        ErrorResponse(
            error=ErrorType.API_SERVER_ERROR,
            detail={"status_code": status, "message": "Server returned error", "detail": detail},
        )
    )


@pytest.fixture(autouse=True)
def _fresh_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_store, "_GONE_LOGGED", False)


def attempts(exc: Exception) -> int:
    calls = []

    def write() -> None:
        calls.append(1)
        raise exc

    with pytest.raises(type(exc)):
        _store.retrying("write", max_wait=0.001)(write)
    return len(calls)


def test_a_write_for_a_task_instance_that_is_gone_is_not_retried_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gone = relayed(404, "Task instance 0199-abc not found")
    with caplog.at_level(logging.WARNING, logger="airflow_resumable"):
        assert attempts(gone) == 1
        assert attempts(gone) == 1
    said = [
        r.getMessage() for r in caplog.records if "no longer knows this try's task instance" in r.getMessage()
    ]
    assert len(said) == 1


def test_other_relayed_errors_keep_their_policy(caplog: pytest.LogCaptureFixture) -> None:
    assert attempts(relayed(503, "Service Unavailable")) == 4
    assert attempts(relayed(409, "conflict")) == 4
    assert attempts(relayed(404, "Task state store key 'k' not found")) == 1
    assert "no longer knows" not in caplog.text


def test_the_in_process_client_error_is_classified_the_same(mocker: Any) -> None:
    exc = Exception("Server returned error")
    exc.response = mocker.Mock(status_code=404, text='{"detail": {"message": "Task instance 1 not found"}}')  # type: ignore[attr-defined]
    assert not _store._is_transient(exc)
    assert _store._GONE_LOGGED
