"""The chaos tier: one real deployment (PostgreSQL, scheduler, LocalExecutor...) for the whole session,
real processes killed with real signals.

The deployment is the library's own :class:`~airflow_resumable.testing.AirflowDeployment`, as the
``airflow_deployment`` fixture starts it, but scoped to this package: it stops when the last chaos test
has run, so the rest of the suite does not share two cores with a scheduler. This file also gives it a
Databricks Jobs API stand-in (in this process, on 127.0.0.1) behind the connection ``databricks_chaos``,
whose submit replies can be held back so a test can kill the task while its submit is in flight, and
moto's server (also in this process) behind ``aws_default``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable.testing.databricks_server import FakeDatabricks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.testing import AirflowDeployment

CONN_ID = "databricks_chaos"


class HeldDatabricks(FakeDatabricks):
    """A :class:`FakeDatabricks` that can hold back the reply to a run's first submit.

    ``hold(run_name)``: the next submit with that ``run_name`` creates the run, sets the returned event,
    and keeps the client waiting until :meth:`release` (the window in which a worker dies after Databricks
    created the run but before the operator learned its id).
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self._holds: dict[str, threading.Event] = {}
        self._released = threading.Event()
        self.stalled: set[str] = set()
        """Run names whose runs stay ``RUNNING`` (script step 1) until removed from this set."""

    def hold(self, run_name: str) -> threading.Event:
        created = threading.Event()
        self._holds[run_name] = created
        self._released.clear()
        return created

    def release(self) -> None:
        self._released.set()

    def handle(self, method: str, endpoint: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        answer = super().handle(method, endpoint, body)
        held = self._holds.pop(str(body.get("run_name")), None) if endpoint == "jobs/runs/submit" else None
        if held is not None:
            held.set()
            self._released.wait(timeout=120)
        return answer

    def _get(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        run = self._known(body)
        if run.payload.get("run_name") in self.stalled:
            run.gets = min(run.gets, 1)
        return super()._get(body)

    def runs_named(self, run_name: str) -> list[Any]:
        with self._lock:
            return [run for run in self.created if run.payload.get("run_name") == run_name]


@pytest.fixture(scope="session")
def chaos_databricks() -> Iterator[HeldDatabricks]:
    with HeldDatabricks(default_script=["PENDING", "RUNNING", "RUNNING", "TERMINATED:SUCCESS"]) as server:
        yield server


@pytest.fixture(scope="session")
def airflow_deployment_env(chaos_databricks: HeldDatabricks) -> dict[str, str]:
    """The Databricks stand-in as ``databricks_chaos``, moto (in this process) as ``aws_default``."""
    import moto_server

    return {**chaos_databricks.environ(CONN_ID), **moto_server.aws_env()}


@pytest.fixture(scope="package")
def airflow_deployment(
    request: pytest.FixtureRequest, airflow_deployment_env: dict[str, str]
) -> Iterator[AirflowDeployment]:
    """The plugin's fixture, for this package only (the same deployment, stopped after the last test)."""
    from airflow_resumable.testing import AirflowDeployment

    yield from AirflowDeployment.for_pytest(request, airflow_deployment_env)


@pytest.fixture(scope="package")
def chaos_out(airflow_deployment: AirflowDeployment) -> Path:
    """Where the chaos DAGs write what they did: beside the deployment, whose folder outlives pytest's."""
    out = airflow_deployment.root / "chaos-out"
    out.mkdir(exist_ok=True)
    return out


@pytest.fixture
def dag_id(request: pytest.FixtureRequest) -> str:
    """A dag_id unique to this test (one deployment serves every test of the session)."""
    return "chaos_" + re.sub(r"\W+", "_", request.node.name).strip("_")[:80]


@pytest.fixture
def deployment(airflow_deployment: AirflowDeployment) -> AirflowDeployment:
    return airflow_deployment
