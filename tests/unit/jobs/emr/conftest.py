"""Fixtures for the EMR operator tests: a local moto server, fresh EMR resources, and a task context.

The operators run outside Airflow here (``execute(context)`` called directly, with an in-memory
``task_state_store``), but every AWS call is the Amazon provider's real hook talking to the local server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

import moto_server
from airflow_resumable.testing import InMemoryStateBackend, make_context
from airflow_resumable.testing.context import FakeTaskInstance

if TYPE_CHECKING:
    from collections.abc import Iterator


class LinkRecordingTaskInstance(FakeTaskInstance):
    """A fake task instance that also takes the XComs the provider's extra links push."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture(scope="session")
def aws() -> Iterator[str]:
    """The local AWS endpoint; ``aws_default`` (``AIRFLOW_CONN_AWS_DEFAULT``) points at it."""
    with moto_server.aws_environment() as url:
        yield url


@pytest.fixture
def application(aws: str) -> str:
    return moto_server.create_serverless_application()


@pytest.fixture
def virtual_cluster(aws: str) -> str:
    return moto_server.create_virtual_cluster()


@pytest.fixture
def cluster(aws: str) -> str:
    return moto_server.create_cluster()


@pytest.fixture
def retry_context(state_backend: InMemoryStateBackend) -> Any:
    """``retry_context(try_number)``: the context of one try of the same task instance (shared store)."""

    def build(try_number: int = 1) -> dict[str, Any]:
        ti = LinkRecordingTaskInstance(dag_id="emr_dag", run_id="run_1", task_id="job", try_number=try_number)
        return make_context(
            backend=state_backend,
            dag_id="emr_dag",
            run_id="run_1",
            task_id="job",
            try_number=try_number,
            ti=ti,
            task_instance=ti,
        )

    return build
