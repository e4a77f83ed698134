"""Reads and writes of one checkpoint key, retried, from sync and async code.

Every call goes through `airflow_resumable._store.retrying()` (bounded, jittered, no retry of bad
input), so the retry policy is the same as everywhere else in the library. Async calls use the store's
native ``aget``/``aset``/``adelete`` when it has them and a worker thread otherwise (Airflow 3.3's task
store has no async methods).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import tenacity

from airflow_resumable import _store
from airflow_resumable._store import never_expire

if TYPE_CHECKING:
    from airflow_resumable._store import TaskStore

__all__ = ["KeyIO", "never_expire"]


def _async_retrying(what: str) -> tenacity.AsyncRetrying:
    sync = _store.retrying(what)
    return tenacity.AsyncRetrying(
        stop=sync.stop, wait=sync.wait, retry=sync.retry, before_sleep=sync.before_sleep, reraise=sync.reraise
    )


class KeyIO:
    """Get, set and delete one key of a task state store, with retries."""

    def __init__(self, store: TaskStore, key: str, retention: timedelta | None) -> None:
        self.store = store
        self.key = key
        self.retention = never_expire() if retention == timedelta.max else retention
        self._retry_write: tenacity.Retrying | None = None

    def read(self) -> Any:
        """The stored value, or ``None``."""
        return _store.retrying(f"Reading checkpoint {self.key!r}")(self.store.get, self.key)

    def write(self, value: Any) -> None:
        """Store ``value`` under the key with the configured retention."""
        if self._retry_write is None:  # built once: a commit can be frequent
            self._retry_write = _store.retrying(f"Saving checkpoint {self.key!r}")
        self._retry_write(self.store.set, self.key, value, retention=self.retention)

    def delete(self) -> None:
        """Delete the key (a no-op when it is absent)."""
        _store.retrying(f"Deleting checkpoint {self.key!r}")(self.store.delete, self.key)

    async def aread(self) -> Any:
        """Async `read()`."""
        async for attempt in _async_retrying(f"Reading checkpoint {self.key!r}"):
            with attempt:
                return await _store.call_async(self.store, "get", self.key)
        raise AssertionError("unreachable")  # pragma: no cover - reraise=True

    async def awrite(self, value: Any) -> None:
        """Async `write()`."""
        async for attempt in _async_retrying(f"Saving checkpoint {self.key!r}"):
            with attempt:
                await _store.call_async(self.store, "set", self.key, value, retention=self.retention)

    async def adelete(self) -> None:
        """Async `delete()`."""
        async for attempt in _async_retrying(f"Deleting checkpoint {self.key!r}"):
            with attempt:
                await _store.call_async(self.store, "delete", self.key)
