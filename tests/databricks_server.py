"""pytest fixture: a local Databricks Jobs API stand-in, wired to the ``databricks_default`` connection.

The server class lives in :mod:`airflow_resumable.testing.databricks_server` (the demo uses it too). The
fixture starts one per test on a free port and points ``AIRFLOW_CONN_DATABRICKS_DEFAULT`` at it, so the
provider's real ``DatabricksHook`` (requests) and trigger (aiohttp) talk to it over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_resumable.testing.databricks_server import FakeDatabricks

__all__ = ["FakeDatabricks", "databricks"]


@pytest.fixture
def databricks(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabricks]:
    """A running :class:`FakeDatabricks`, reachable through the ``databricks_default`` connection."""
    with FakeDatabricks() as server:
        for name, value in server.environ("databricks_default").items():
            monkeypatch.setenv(name, value)
        yield server
