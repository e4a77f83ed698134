"""The conformance suite: the providers' operators' behaviour, stated as tests the drop-ins must pass.

Every test runs once per *flavour* of an operator: the provider's class (``provider``), the library's
drop-in (``durable``) and the drop-in with ``durable=False`` (``not_durable``). A difference between the
drop-in and the provider shows as a failing pair. The few intended differences (the write-ahead intent in
the task store, the idempotency token added to the request) are named where a test allows for them; they
are listed in docs/jobs.md, "What differs from the provider's operator".

The operators run outside Airflow (``execute(context)`` called directly, the way the providers' own unit
tests call them), with an in-memory ``task_state_store`` and a task instance that records XComs; every
backend call goes through the provider's real hook to a local stand-in over HTTP.
"""

from __future__ import annotations

from typing import Any

import pytest
from conformance_helpers import RecordingTaskInstance

from airflow_resumable.testing import InMemoryStateBackend, make_context


@pytest.fixture
def task_context(state_backend: InMemoryStateBackend) -> Any:
    """``task_context(try_number=1)``: one try's context (the tries of one test share the task store)."""

    def build(try_number: int = 1, **kwargs: Any) -> dict[str, Any]:
        ti = RecordingTaskInstance(dag_id="dag", run_id="run", task_id="job", try_number=try_number)
        return make_context(
            backend=state_backend, task_id="job", try_number=try_number, ti=ti, task_instance=ti, **kwargs
        )

    return build
