"""What the ``state orphans`` tests of the AWS jobs share: the command, run as an admin against the real
REST app, and counting what reached the local AWS (moto's service model, never the providers' hooks)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from airflow_resumable import ops
from airflow_resumable.ops.cli import main as state_main

if TYPE_CHECKING:
    import pytest


def run(argv: list[str]) -> tuple[int, str]:
    """``airflow-resumable state <argv>``: exit code and output."""
    out = io.StringIO()
    return state_main(argv, out=out), out.getvalue()


def as_admin(api_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command talks to ``api_server`` as its admin user."""
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, method: str) -> list[tuple[Any, ...]]:
    """A live list of the calls moto's service model gets for ``method`` (what reached the service)."""
    calls: list[tuple[Any, ...]] = []
    original = getattr(owner, method)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(owner, method, counted)
    return calls


def cancel_once(dag_id: str, backend: str, external_id: Any, live: str) -> dict[str, Any]:
    """List (dry run), cancel, cancel again: the orphan is listed with its live state, cancelled once, then
    gone from the list. Returns the cancel action."""
    code, text = run(["orphans", "--dag", dag_id, "--format", "json"])
    assert code == 8, text  # dry run: found, nothing sent
    (found,) = json.loads(text)
    assert found["backend"] == backend and found["live_status"] == live and found["live_active"]

    code, text = run(["orphans", "--dag", dag_id, "--cancel", "--format", "json"])
    assert code == 0, text
    (action,) = json.loads(text)
    assert action["external_id"] == external_id and action["backend"] == backend
    assert action["action"] == "cancelled", action

    assert run(["orphans", "--dag", dag_id, "--cancel"]) == (0, "No orphaned jobs.\n")
    return dict(action)


def job_of(dag_id: str) -> Any:
    """The one job of the DAG's latest run, with its live status."""
    with ops.connect() as api:
        (job,) = ops.jobs(api, dag_id, live=True)
    return job
