"""Project-wide test setup: keep every Airflow import away from the user's real AIRFLOW_HOME, and the local
stand-ins shared by the job tests: AWS (moto) for EMR, a Jobs API server for Databricks.

The fixtures themselves (``task_state_store``, ``context``, ``airflow_sandbox``...) come from the
library's own pytest plugin, ``airflow_resumable.testing.pytest_plugin``, exactly as DAG authors get them.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from databricks_server import FakeDatabricks

# Before anything imports airflow: a scratch home, examples off. The airflow_sandbox fixture then gives
# each test its own migrated SQLite database.
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-resumable-tests-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


@pytest.fixture(scope="session")
def aws() -> Iterator[str]:
    """The local AWS endpoint (moto, one per session); ``aws_default`` points at it."""
    import moto_server

    with moto_server.aws_environment() as url:
        yield url


@pytest.fixture
def application(aws: str) -> str:
    """A fresh EMR Serverless application (state CREATED, so no start is needed)."""
    import moto_server

    return moto_server.create_serverless_application()


@pytest.fixture
def virtual_cluster(aws: str) -> str:
    """A fresh EMR on EKS virtual cluster (one namespace per test)."""
    import moto_server

    return moto_server.create_virtual_cluster()


@pytest.fixture
def cluster(aws: str) -> str:
    """A fresh EMR cluster that stays up with no steps."""
    import moto_server

    return moto_server.create_cluster()


@pytest.fixture
def databricks(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDatabricks]:
    """A local Databricks Jobs API stand-in behind the ``databricks_default`` connection."""
    from databricks_server import serve

    yield from serve(monkeypatch)
