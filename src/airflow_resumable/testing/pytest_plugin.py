"""pytest fixtures for testing DAG code that uses the state stores (registered through ``pytest11``).

Fixtures:

- ``state_backend``: the shared in-memory "database" for one test.
- ``task_state_store`` / ``asset_state_store``: in-memory stores on that backend (the asset fixture is the
  ``context["asset_state_store"]`` mapping for the assets listed by the ``asset_state_store_assets``
  fixture, which a test can override; by default a single asset named ``"asset"``).
- ``context``: a task context with both stores, installed as the current context for the test.
- ``crash_and_retry``:
  [`airflow_resumable.testing.crash_and_retry()`][airflow_resumable.testing.crash.crash_and_retry], bound to
  the test's backend.
- ``airflow_sandbox``: a real Airflow 3.3 (SQLite) home, fresh for each test, whose ``run_dag(source)``
  runs a DAG with ``dag.test()`` and real retries.
- ``airflow_deployment``: a real deployment (PostgreSQL, api-server, scheduler, dag-processor, triggerer,
  LocalExecutor) shared by the whole session, see
  [`AirflowDeployment`][airflow_resumable.testing.AirflowDeployment]; override the session fixture
  ``airflow_deployment_env`` to give its components extra environment.

Nothing here imports Airflow until a fixture is used, so installing the plugin costs other test suites
nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from airflow_resumable.testing import crash as _crash
from airflow_resumable.testing.context import make_context, task_context
from airflow_resumable.testing.deployment import AirflowDeployment
from airflow_resumable.testing.sandbox import AirflowSandbox
from airflow_resumable.testing.stores import (
    InMemoryAssetStateStores,
    InMemoryStateBackend,
    InMemoryTaskStateStore,
)


@pytest.fixture
def state_backend() -> InMemoryStateBackend:
    """A fresh in-memory state backend shared by this test's stores and contexts."""
    return InMemoryStateBackend()


@pytest.fixture
def task_state_store(state_backend: InMemoryStateBackend) -> InMemoryTaskStateStore:
    """An in-memory ``task_state_store`` for task ``dag/run/task`` (map index -1)."""
    return state_backend.task_store()


@pytest.fixture
def asset_state_store_assets() -> list[Any]:
    """The assets the ``asset_state_store`` fixture opens; override this fixture to declare others."""
    from airflow.sdk import Asset

    return [Asset("asset")]


@pytest.fixture
def asset_state_store(
    state_backend: InMemoryStateBackend, asset_state_store_assets: list[Any]
) -> InMemoryAssetStateStores:
    """An in-memory ``context["asset_state_store"]`` mapping over ``asset_state_store_assets``."""
    return state_backend.asset_stores(outlets=asset_state_store_assets)


@pytest.fixture
def context(
    state_backend: InMemoryStateBackend, asset_state_store_assets: list[Any]
) -> Iterator[dict[str, Any]]:
    """A task context (ti, ids, try_number, map_index, both stores), current for the whole test."""
    ctx = make_context(backend=state_backend, outlets=asset_state_store_assets)
    with task_context(ctx):
        yield ctx


@pytest.fixture
def crash_and_retry(state_backend: InMemoryStateBackend) -> Callable[..., _crash.RetryReport]:
    """``crash_and_retry(fn, crash, ...)`` sharing this test's ``state_backend``."""

    def run(fn: Callable[..., Any], crash: _crash.CrashPoint, **kwargs: Any) -> _crash.RetryReport:
        kwargs.setdefault("backend", state_backend)
        return _crash.crash_and_retry(fn, crash, **kwargs)

    return run


@pytest.fixture(scope="session")
def _airflow_sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> AirflowSandbox:
    return AirflowSandbox.activate(Path(tmp_path_factory.mktemp("airflow")))


@pytest.fixture
def airflow_sandbox(
    _airflow_sandbox_session: AirflowSandbox, request: pytest.FixtureRequest
) -> AirflowSandbox:
    """A real Airflow home with an empty migrated SQLite DB for this test; ``run_dag(source)`` runs a DAG."""
    _airflow_sandbox_session.fresh(request.node.name)
    return _airflow_sandbox_session


@pytest.fixture(scope="session")
def airflow_deployment_env() -> dict[str, str]:
    """Extra environment for the ``airflow_deployment`` components (connections, settings); override it."""
    return {}


@pytest.fixture(scope="session")
def airflow_deployment(
    request: pytest.FixtureRequest, airflow_deployment_env: dict[str, str]
) -> Iterator[AirflowDeployment]:
    """A real Airflow deployment for the session; stopped at the end (also after a failure or Ctrl-C)."""
    yield from AirflowDeployment.for_pytest(request, airflow_deployment_env)
