"""Helpers for the Checkpointer unit tests: a hand-driven clock, a store whose writes fail on demand,
a store with native async methods, and no real sleeping between write retries."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FlakyStore:
    """Wraps an in-memory task store; the next ``fail_next`` writes raise ``ConnectionError``."""

    def __init__(self, inner: InMemoryTaskStateStore) -> None:
        self.inner = inner
        self.fail_next = 0
        self.fail_always = False
        self.attempts = 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.attempts += 1
        if self.fail_always or self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("the API server is not answering")
        self.inner.set(key, value, retention=retention)

    def delete(self, key: str) -> None:
        if self.fail_always:
            raise ConnectionError("the API server is not answering")
        self.inner.delete(key)


class NativeAsyncStore:
    """A task store with native ``aget``/``aset``/``adelete`` (as newer Airflow versions have)."""

    def __init__(self, inner: InMemoryTaskStateStore) -> None:
        self.inner = inner
        self.async_calls: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        raise AssertionError("async code must use aget")

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        raise AssertionError("async code must use aset")

    def delete(self, key: str) -> None:
        raise AssertionError("async code must use adelete")

    async def aget(self, key: str, default: Any = None) -> Any:
        self.async_calls.append("aget")
        return self.inner.get(key, default)

    async def aset(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.async_calls.append("aset")
        self.inner.set(key, value, retention=retention)

    async def adelete(self, key: str) -> None:
        self.async_calls.append("adelete")
        self.inner.delete(key)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def flaky_store(state_backend: InMemoryStateBackend) -> FlakyStore:
    return FlakyStore(state_backend.task_store())


@pytest.fixture
def native_async_store(state_backend: InMemoryStateBackend) -> NativeAsyncStore:
    return NativeAsyncStore(state_backend.task_store())


@pytest.fixture
def no_retry_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Write retries back off with real sleeps; tests skip the waiting, not the retrying."""
    import tenacity.nap

    monkeypatch.setattr(tenacity.nap, "time", SimpleNamespace(sleep=lambda seconds: None))
