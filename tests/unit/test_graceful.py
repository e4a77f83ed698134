"""Graceful stop: a SIGTERM inside an open Checkpointer block raises TaskStopping in the main thread, after
calling the previous handler (Airflow's ``_on_term``), so the block saves the exact position.

These send real signals to this process. The same path runs in a real deployment in
tests/chaos/test_stops.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from typing import Any

import pytest

from airflow_resumable import Checkpointer, TaskStopping, every
from airflow_resumable.testing import InMemoryStateBackend


@pytest.fixture
def airflow_handler() -> Any:
    """Stands in for the task runner's SIGTERM handler: records its calls."""
    calls: list[int] = []

    def on_term(signum: int, frame: Any) -> None:
        calls.append(signum)

    previous = signal.signal(signal.SIGTERM, on_term)
    yield on_term, calls
    signal.signal(signal.SIGTERM, previous)


def resume_position(store: Any) -> int:
    """Where a retry resumes: the number of items from the start that are done."""
    with Checkpointer("items", store=store, clear_on_success=False) as ckpt:
        return int(ckpt.position or 0)


def test_sigterm_mid_loop_saves_the_exact_position_and_chains_to_the_previous_handler(
    airflow_handler: Any,
) -> None:
    on_term, calls = airflow_handler
    store = InMemoryStateBackend().task_store()

    def load() -> None:
        with Checkpointer("items", commit=every(1000), store=store) as ckpt:
            for item in ckpt.iterate(range(100)):
                assert signal.getsignal(signal.SIGTERM) is not on_term
                if item == 37:
                    os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(TaskStopping):
        load()
    assert calls == [signal.SIGTERM]  # Airflow's handler (on_kill) still ran, once
    assert signal.getsignal(signal.SIGTERM) is on_term  # restored when the block closed
    assert resume_position(store) == 37  # 0..36 done, the interrupted item 37 is redone, nothing else


def test_an_except_exception_in_the_loop_body_does_not_swallow_the_stop(airflow_handler: Any) -> None:
    store = InMemoryStateBackend().task_store()
    done = []

    def load() -> None:
        with Checkpointer("items", commit=every(1000), store=store) as ckpt:
            for item in ckpt.iterate(range(100)):
                try:
                    if item == 5:
                        os.kill(os.getpid(), signal.SIGTERM)
                    done.append(item)
                except Exception:  # user code that "handles" errors per item
                    continue

    with pytest.raises(TaskStopping):
        load()
    assert done == [0, 1, 2, 3, 4]
    assert resume_position(store) == 5


def test_no_handler_without_an_open_block_or_outside_the_main_thread(airflow_handler: Any) -> None:
    on_term, _ = airflow_handler
    store = InMemoryStateBackend().task_store()
    seen: list[Any] = []

    def worker() -> None:
        with Checkpointer("other", store=store) as ckpt:
            for _ in ckpt.iterate(range(3)):
                seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [on_term, on_term, on_term]
    assert signal.getsignal(signal.SIGTERM) is on_term


class SlowStore:
    """Wraps a store; the first write receives a SIGTERM while it is still in flight."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.signalled, self.writes, self.interrupted = inner, False, 0, False

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    def set(self, key: str, value: Any, **kwargs: Any) -> None:
        if not self.signalled:
            self.signalled = True
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.1)  # the request is still in flight: the stop must wait for it
            except BaseException:
                self.interrupted = True
                raise
        self.inner.set(key, value, **kwargs)
        self.writes += 1

    def delete(self, key: str) -> None:
        self.inner.delete(key)


def test_a_stop_during_a_store_write_waits_for_the_write_to_finish(airflow_handler: Any) -> None:
    inner = InMemoryStateBackend().task_store()
    store = SlowStore(inner)

    def load() -> None:
        with Checkpointer("items", commit=every(10), store=store) as ckpt:
            for _ in ckpt.iterate(range(1000)):
                time.sleep(0.001)

    with pytest.raises(TaskStopping):
        load()
    # the write in flight when the signal came (position 10) completed; the stop came soon after it (the
    # exit save writes again only if items completed in between)
    assert not store.interrupted
    assert store.writes >= 1
    position = resume_position(inner)
    assert 10 <= position < 200


def test_async_block_is_cancelled_and_saves_the_exact_position(airflow_handler: Any) -> None:
    _, calls = airflow_handler
    store = InMemoryStateBackend().task_store()

    async def main() -> None:
        async with Checkpointer("items", commit=every(1000), store=store) as ckpt:
            async for item in ckpt.aiterate(range(100)):
                if item == 12:
                    os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.sleep(0.001)

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    assert calls == [signal.SIGTERM]
    assert resume_position(store) == 12
