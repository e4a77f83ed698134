"""A task context for unit tests: the fields helpers read, with in-memory stores, installed as "current".

Inside [`task_context()`][airflow_resumable.testing.context.task_context],
``airflow.sdk.get_current_context()`` returns the fake context, so library helpers (``Checkpointer``,
``Watermark``, job operators) find their stores exactly as they would in a running task.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_resumable.testing.stores import InMemoryStateBackend

__all__ = ["FakeTaskInstance", "make_context", "task_context"]


@dataclass
class FakeTaskInstance:
    """The task-instance fields that resumable helpers read (ids, try number, map index)."""

    dag_id: str = "dag"
    run_id: str = "run"
    task_id: str = "task"
    map_index: int = -1
    try_number: int = 1
    stats_tags: dict[str, str] = field(default_factory=dict)


def make_context(
    *,
    backend: InMemoryStateBackend | None = None,
    dag_id: str = "dag",
    run_id: str = "run",
    task_id: str = "task",
    map_index: int = -1,
    try_number: int = 1,
    inlets: Iterable[Any] = (),
    outlets: Iterable[Any] = (),
    params: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Build a context dict: ``ti``, ids, ``try_number``, ``map_index``, ``params`` and both stores.

    Contexts built on the same ``backend`` share state, so building a second one with
    ``try_number=2`` is how a test stands for a retry. Other keys go in as given: ``dag=`` (any object with
    ``dag_id`` and ``max_active_runs``) stands for the running DAG, which a real context always has.
    """
    backend = backend or InMemoryStateBackend()
    ti = FakeTaskInstance(dag_id, run_id, task_id, map_index, try_number)
    writer = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "map_index": map_index}
    context: dict[str, Any] = {
        "ti": ti,
        "task_instance": ti,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "try_number": try_number,
        "params": dict(params or {}),
        "task_state_store": backend.task_store(
            dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index
        ),
        "asset_state_store": backend.asset_stores(inlets, outlets, writer=writer),
        "inlets": list(inlets),
        "outlets": list(outlets),
        "state_backend": backend,
    }
    context.update(extra)
    return context


@contextlib.contextmanager
def task_context(context: dict[str, Any] | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """Make ``context`` (or ``make_context(**kwargs)``) the current task context for the block."""
    from airflow.sdk.definitions._internal.contextmanager import _CURRENT_CONTEXT

    ctx = context if context is not None else make_context(**kwargs)
    _CURRENT_CONTEXT.append(ctx)  # type: ignore[arg-type]
    try:
        yield ctx
    finally:
        _CURRENT_CONTEXT.remove(ctx)  # type: ignore[arg-type]
