"""For pytest fixtures: a local Databricks Jobs API stand-in, wired to the ``databricks_default`` connection.

The server class lives in :mod:`airflow_resumable.testing.databricks_server` (the demo uses it too).
:func:`serve` starts one per test on a free port and points ``AIRFLOW_CONN_DATABRICKS_DEFAULT`` at it, so the
provider's real ``DatabricksHook`` (requests) and trigger (aiohttp) talk to it over HTTP.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_resumable.testing.databricks_server import FakeDatabricks

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest

__all__ = ["FakeDatabricks", "serve"]


def serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabricks]:
    """Run a :class:`FakeDatabricks` reachable through the ``databricks_default`` connection.

    Use it from a fixture: ``yield from serve(monkeypatch)``.
    """
    with FakeDatabricks() as server:
        for name, value in server.environ("databricks_default").items():
            monkeypatch.setenv(name, value)
        yield server
