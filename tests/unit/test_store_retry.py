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


# -- what the CommitError says about retrying -------------------------------------------------------------
class FailingWrites:
    """A store whose writes raise ``error`` (reads and deletes work): a task or asset store double."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.writes = 0

    def get(self, key: str, default: Any = None) -> Any:
        return default

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.writes += 1
        raise self.error

    def delete(self, key: str) -> None:
        pass


def _checkpoint_error(store: FailingWrites) -> str:
    from airflow_resumable import Checkpointer, CommitError, every

    with pytest.raises(CommitError) as info, Checkpointer("rows", store=store, commit=every(1)) as ckpt:
        ckpt.advance(1)
    return str(info.value)


def _watermark_error(store: FailingWrites) -> str:
    from airflow_resumable import CommitError, Watermark

    with pytest.raises(CommitError) as info:
        Watermark("orders", initial=0, store=store).advance(5)
    return str(info.value)


@pytest.fixture
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    import tenacity

    monkeypatch.setattr(tenacity.nap.time, "sleep", lambda _: None)


@pytest.mark.parametrize("error_of", [_checkpoint_error, _watermark_error], ids=["checkpoint", "watermark"])
def test_a_write_for_a_task_instance_that_is_gone_says_it_was_not_retried(error_of: Any) -> None:
    store = FailingWrites(relayed(404, "Task instance 0199-abc not found"))
    message = error_of(store)
    assert store.writes == 1
    assert "retries" not in message and "retrying" not in message.replace("without retrying", "")
    assert "without retrying" in message and "no longer knows this try's task instance" in message


@pytest.mark.parametrize("error_of", [_checkpoint_error, _watermark_error], ids=["checkpoint", "watermark"])
def test_a_value_the_workers_channel_cannot_carry_says_it_was_not_retried(error_of: Any) -> None:
    store = FailingWrites(OverflowError("Integer value out of range"))
    message = error_of(store)
    assert store.writes == 1
    assert "without retrying" in message and "cannot carry" in message
    assert "OverflowError('Integer value out of range')" in message


@pytest.mark.usefixtures("_no_sleep")
@pytest.mark.parametrize("error_of", [_checkpoint_error, _watermark_error], ids=["checkpoint", "watermark"])
def test_a_write_that_kept_failing_says_how_often_it_was_tried(error_of: Any) -> None:
    store = FailingWrites(relayed(503, "Service Unavailable"))
    message = error_of(store)
    assert store.writes == 4
    assert "after 4 attempts" in message and "without retrying" not in message
