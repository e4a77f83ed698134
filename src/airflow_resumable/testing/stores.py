"""In-memory state stores that behave like Airflow 3.3.2's, for unit tests without a running Airflow.

They reproduce what a task on a real worker sees from ``context["task_state_store"]`` and
``context["asset_state_store"]``: the same methods (async ones exactly where Airflow has them: on the asset
store, not the task store), the same exceptions for bad values, raised where a real worker raises them:

- ``ValueError`` for ``None``; pydantic ``ValidationError`` for datetimes, tuples and dicts with non-string
  keys (the comms message is built the way the accessor builds it);
- ``OverflowError`` for integers beyond 64 bits and ``UnicodeEncodeError`` for lone surrogates, at any
  depth: every write is encoded with the supervisor's own msgpack frame encoder, and nothing is written;
- ``AirflowRuntimeError`` (``error.detail["status_code"] == 422``) for a top-level NaN and an empty key,
  as the execution API's answer reaches a real worker; NaN nested inside a list or dict is silently
  stored as null, as by Airflow.

They also keep retention (expiry at cleanup, not on read) with an injectable clock, log a warning above
``max_value_storage_bytes``, and give each map index its own namespace. ``dag.test()`` differs from a real
worker in the second and third point (its in-process channel skips the encoding and raises the API client's
``ServerResponseError``); these stores follow the real worker. The parity suite in this project runs the
same script against these, against a task run by the real supervisor (a forked task process talking
msgpack over its socket) and under ``dag.test()``, so any drift in Airflow shows up as a failing test.

Values are stored as JSON text, as in the metadata database, so a test cannot pass by keeping a live
object that Airflow would have serialised.

The first write in a process imports Airflow's task SDK for its comms models and encoder, which imports
Airflow itself (configuration, settings): about 1.5 s with compiled bytecode, several seconds where Python
may not write bytecode (``PYTHONDONTWRITEBYTECODE``) and compiles Airflow in every fresh process. Later
writes take microseconds, and a process that already imported Airflow pays nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_resumable._store import never_expire
from airflow_resumable.testing._stores_asset import InMemoryAssetStateStore, InMemoryAssetStateStores
from airflow_resumable.testing._stores_channel import (
    Row,
    build_message,
    check_key,
    is_non_finite,
    nulls_for_non_finite,
    send_like_a_worker,
    server_error,
)

__all__ = [
    "InMemoryAssetStateStore",
    "InMemoryAssetStateStores",
    "InMemoryStateBackend",
    "InMemoryTaskStateStore",
]

log = logging.getLogger("airflow_resumable.testing")
Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(tz=timezone.utc)


class InMemoryStateBackend:
    """The shared "metadata database" behind in-memory stores: one per test, shared across tries.

    ``clock`` returns the current aware datetime; tests that check expiry pass their own.
    ``default_retention_days`` and ``max_value_storage_bytes`` mirror the ``[state_store]`` options
    (defaults 30 and 65535, as in Airflow 3.3).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        default_retention_days: int = 30,
        max_value_storage_bytes: int = 65535,
    ) -> None:
        self.clock: Clock = clock or _utcnow
        self.default_retention_days = default_retention_days
        self.max_value_storage_bytes = max_value_storage_bytes
        self.task_rows: dict[tuple[str, str, str, int, str], Row] = {}
        self.asset_rows: dict[tuple[str, str], Row] = {}
        self.writes = 0
        """How many set() calls reached this backend (useful to assert write batching)."""

    def task_store(
        self, *, dag_id: str = "dag", run_id: str = "run", task_id: str = "task", map_index: int = -1
    ) -> InMemoryTaskStateStore:
        """A task store accessor for one task instance, backed by this backend."""
        return InMemoryTaskStateStore(
            self, dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index
        )

    def asset_stores(
        self, inlets: Iterable[Any] = (), outlets: Iterable[Any] = (), *, writer: dict[str, Any] | None = None
    ) -> InMemoryAssetStateStores:
        """The ``context["asset_state_store"]`` mapping for a task with these inlets and outlets."""
        return InMemoryAssetStateStores(list(inlets), list(outlets), backend=self, writer=writer)

    def cleanup(self) -> int:
        """Delete expired task rows, as ``airflow state-store clean`` does; return how many were deleted."""
        now = self.clock()
        expired = [
            k for k, row in self.task_rows.items() if row.expires_at is not None and row.expires_at < now
        ]
        for k in expired:
            del self.task_rows[k]
        return len(expired)

    def _warn_if_large(self, kind: str, key: str, value: Any) -> None:
        limit = self.max_value_storage_bytes
        if limit > 0 and (size := len(json.dumps(value))) > limit:
            log.warning(
                "%s store value for key %r is %d bytes, which exceeds configured max_value_storage_bytes=%d.",
                kind,
                key,
                size,
                limit,
            )


def _shared_backend(backend: InMemoryStateBackend | None, clock: Clock | None) -> InMemoryStateBackend:
    if backend is not None:
        if clock is not None:
            backend.clock = clock
        return backend
    return InMemoryStateBackend(clock=clock)


class InMemoryTaskStateStore:
    """Stand-in for ``context["task_state_store"]``: ``get``, ``set``, ``delete``, ``clear``.

    Two stores built on the same
    [`InMemoryStateBackend`][airflow_resumable.testing.stores.InMemoryStateBackend] with the same
    dag/run/task/map index see the same keys, which is how a retry sees what the failed try wrote.
    """

    def __init__(
        self,
        backend: InMemoryStateBackend | None = None,
        *,
        dag_id: str = "dag",
        run_id: str = "run",
        task_id: str = "task",
        map_index: int = -1,
        clock: Clock | None = None,
    ) -> None:
        self.backend = _shared_backend(backend, clock)
        self._scope = (dag_id, run_id, task_id, map_index)
        self._ti_id = uuid.uuid4()

    def __repr__(self) -> str:
        dag_id, run_id, task_id, map_index = self._scope
        return f"<InMemoryTaskStateStore {dag_id}/{run_id}/{task_id}[{map_index}]>"

    def _row_key(self, key: str) -> tuple[str, str, str, int, str]:
        return (*self._scope, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the stored value, or ``default`` if the key does not exist.

        As in Airflow 3.3, expiry is not checked on read: an expired key is returned until
        [`InMemoryStateBackend.cleanup()`][airflow_resumable.testing.stores.InMemoryStateBackend.cleanup]
        (``airflow state-store clean``) removes it.
        """
        check_key(key, "path")
        row = self.backend.task_rows.get(self._row_key(key))
        return default if row is None else json.loads(row.value)

    def set(self, key: str, value: Any, *, retention: timedelta | None = None) -> None:
        """Write or overwrite ``key``.

        ``retention``: ``None`` (the configured default), a timedelta, or NEVER_EXPIRE.
        """
        if value is None:
            raise ValueError("Cannot set value as None")
        now = self.backend.clock()
        expires_at: datetime | None
        if retention is never_expire():
            expires_at = None
        elif retention is not None:
            expires_at = now + retention  # an int raises TypeError here, exactly as in Airflow 3.3
        else:
            days = self.backend.default_retention_days
            if days < 0:
                raise ValueError(
                    f"[state_store] default_retention_days must be >= 0, got {days}. "
                    "Set to 0 to disable expiry."
                )
            expires_at = None if days == 0 else now + timedelta(days=days)
        message = build_message(
            "SetTaskStateStore", ti_id=self._ti_id, key=key, value=value, expires_at=expires_at
        )
        self.backend._warn_if_large("Task", key, value)
        send_like_a_worker(message)
        check_key(key, "path")
        if is_non_finite(value):
            raise server_error(["body", "value"], "Value error, value cannot be null", "value_error", None)
        self.backend.writes += 1
        self.backend.task_rows[self._row_key(key)] = Row(
            json.dumps(nulls_for_non_finite(value)), now, expires_at
        )

    def delete(self, key: str) -> None:
        """Delete a single key. No-op if the key does not exist."""
        check_key(key, "path")
        self.backend.task_rows.pop(self._row_key(key), None)

    def clear(self) -> None:
        """Delete all keys of this task instance (other map indices keep theirs)."""
        for row_key in [k for k in self.backend.task_rows if k[:4] == self._scope]:
            del self.backend.task_rows[row_key]

    def keys(self) -> list[str]:
        """The keys of this task instance (a testing convenience; Airflow's accessor has no such call)."""
        return sorted(k[4] for k in self.backend.task_rows if k[:4] == self._scope)

    def expires_at(self, key: str) -> datetime | None:
        """When ``key`` becomes eligible for cleanup (``None``: never, or no such key)."""
        row = self.backend.task_rows.get(self._row_key(key))
        return None if row is None else row.expires_at
