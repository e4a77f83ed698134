"""``airflow-resumable state``: what it does before any API server answers (usage, connection errors)."""

from __future__ import annotations

import socket

import pytest

from airflow_resumable.cli import main


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("URL", "TOKEN", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"AIRFLOW_RESUMABLE_API_{name}", raising=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_api_server_given_exits_7(capsys) -> None:
    assert main(["state", "checkpoints", "some_dag"]) == 7
    assert "AIRFLOW_RESUMABLE_API_URL" in capsys.readouterr().err


def test_unreachable_api_server_exits_7(capsys) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["state", "--api-url", url, "orphans"]) == 7
    assert f"Could not reach the Airflow API server at {url}" in capsys.readouterr().err


def test_username_without_password_exits_3_without_asking_when_not_a_terminal(capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["state", "watermark", "show", "orders", "--api-url", "http://x", "--username", "bob"]) == 3
    assert "without a password" in capsys.readouterr().err


def test_rewind_without_reason_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["state", "watermark", "rewind", "orders", "2026-03-02"])
    assert exit_info.value.code == 2
    assert "--reason" in capsys.readouterr().err
