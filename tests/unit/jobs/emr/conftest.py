"""Fixtures for the EMR operator tests: a task context (the local moto server and fresh EMR resources come
from tests/conftest.py).

The operators run outside Airflow here (``execute(context)`` called directly, with an in-memory
``task_state_store``), but every AWS call is the Amazon provider's real hook talking to the local server.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_resumable.testing import InMemoryStateBackend, make_context
from airflow_resumable.testing.context import FakeTaskInstance


class LinkRecordingTaskInstance(FakeTaskInstance):
    """A fake task instance that also takes the XComs the provider's extra links push."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.xcoms: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcoms[key] = value


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
