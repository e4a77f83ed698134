"""Fixtures for the EMR DAG tests: a local moto server the provider's hooks reach through ``aws_default``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import moto_server

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="session")
def aws() -> Iterator[str]:
    """The local AWS endpoint; ``aws_default`` (``AIRFLOW_CONN_AWS_DEFAULT``) points at it."""
    with moto_server.aws_environment() as url:
        yield url


@pytest.fixture
def application(aws: str) -> str:
    """A fresh EMR Serverless application (state CREATED, so no start is needed)."""
    return moto_server.create_serverless_application()


@pytest.fixture
def virtual_cluster(aws: str) -> str:
    """A fresh EMR on EKS virtual cluster (one namespace per test)."""
    return moto_server.create_virtual_cluster()


@pytest.fixture
def cluster(aws: str) -> str:
    """A fresh EMR cluster that stays up with no steps."""
    return moto_server.create_cluster()
