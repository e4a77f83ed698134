"""async with, aiterate over sync and async iterables, acommit, adone: on a task store without async
methods (Airflow 3.3) and on one that has them."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any

import pytest

from airflow_resumable import Checkpointer, CheckpointError, every

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_resumable.testing import InMemoryStateBackend, InMemoryTaskStateStore


async def numbers(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


class Boom(Exception):
    pass


async def one_try(store: Any, source: Any, fail_at: int | None = None, **kwargs: Any) -> list[int]:
    seen = []
    try:
        async with Checkpointer("rows", store=store, initial=0, **kwargs) as ckpt:
            async for item in ckpt.aiterate(source):
                if item == fail_at:
                    raise Boom
                seen.append(item)
    except Boom:
        pass
    return seen


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_aiterate_resumes_at_the_failed_item(task_state_store: InMemoryTaskStateStore, kind: str) -> None:
    def source() -> Any:
        return numbers(20) if kind == "async" else range(20)

    assert asyncio.run(one_try(task_state_store, source(), fail_at=13, commit=every(5))) == list(range(13))
    assert task_state_store.get("rows")["position"] == 13
    assert asyncio.run(one_try(task_state_store, source(), commit=every(5))) == list(range(13, 20))
    assert task_state_store.keys() == []


def test_commits_run_off_the_event_loop_on_a_store_without_async_methods(
    state_backend: InMemoryStateBackend,
) -> None:
    loop_thread: list[int] = []
    write_threads: list[int] = []
    inner = state_backend.task_store()

    class Recording:
        def get(self, key: str, default: Any = None) -> Any:
            return inner.get(key, default)

        def set(self, key: str, value: Any, *, retention: Any = None) -> None:
            write_threads.append(threading.get_ident())
            inner.set(key, value, retention=retention)

        def delete(self, key: str) -> None:
            inner.delete(key)

    async def main() -> None:
        loop_thread.append(threading.get_ident())
        async with Checkpointer("rows", store=Recording(), commit=every(10), clear_on_success=False) as ckpt:
            async for _ in ckpt.aiterate(range(30)):
                pass

    asyncio.run(main())
    assert len(write_threads) == 3
    assert loop_thread[0] not in write_threads
    assert inner.get("rows")["position"] == 30


def test_native_async_methods_are_used_when_the_store_has_them(native_async_store: Any) -> None:
    async def main() -> None:
        async with Checkpointer("rows", store=native_async_store, commit=every(10)) as ckpt:
            async for _ in ckpt.aiterate(numbers(25)):
                pass
            await ckpt.acommit()

    asyncio.run(main())
    assert native_async_store.async_calls == ["aget", "aset", "aset", "aset", "adelete"]


def test_break_in_async_for_counts_the_item_in_flight(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> None:
        async with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
            async for item in ckpt.aiterate(numbers(10)):
                if item == 4:
                    break

    asyncio.run(main())
    assert task_state_store.get("rows")["position"] == 5


def test_a_new_aiterate_right_after_a_break_continues(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> list[int]:
        seen = []
        async with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
            async for item in ckpt.aiterate(numbers(10)):
                seen.append(item)
                if item == 2:
                    break
            async for item in ckpt.aiterate(numbers(10)):  # no await in between: still continues at 3
                seen.append(item)
        return seen

    assert asyncio.run(main()) == list(range(10))
    assert task_state_store.get("rows")["position"] == 10


def test_a_nested_aiterate_is_refused(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> None:
        async with Checkpointer("rows", store=task_state_store) as ckpt:
            async for _ in ckpt.aiterate(numbers(3)):
                ckpt.aiterate(numbers(3))

    with pytest.raises(CheckpointError, match="still going"):
        asyncio.run(main())


def test_aiterate_with_a_key(task_state_store: InMemoryTaskStateStore) -> None:
    async def main(fail: bool) -> list[int]:
        seen = []
        async with Checkpointer("ids", store=task_state_store) as ckpt:
            async for item in ckpt.aiterate(numbers(10), key=lambda n: n * 10):
                if fail and item == 6:
                    raise Boom
                seen.append(item)
        return seen

    with pytest.raises(Boom):
        asyncio.run(main(fail=True))
    assert task_state_store.get("ids")["position"] == 50
    assert asyncio.run(main(fail=False)) == [6, 7, 8, 9]


def test_async_fan_out_with_adone(task_state_store: InMemoryTaskStateStore) -> None:
    async def fetch(position: int, ckpt: Checkpointer) -> None:
        await asyncio.sleep((position * 7 % 5) / 1000)  # finish out of order
        if position == 8:
            raise Boom
        await ckpt.adone(position)

    async def main() -> None:
        async with Checkpointer("pages", store=task_state_store, commit=every(3)) as ckpt:
            results = await asyncio.gather(
                *(fetch(p, ckpt) for p, _ in ckpt.remaining(range(12))), return_exceptions=True
            )
            errors = [r for r in results if isinstance(r, BaseException)]
            if errors:
                raise errors[0]

    with pytest.raises(Boom):
        asyncio.run(main())
    record = task_state_store.get("pages")
    assert record["position"] == 7
    assert record["pending"] == [[9, 12]]

    async def retry() -> list[int]:
        async with Checkpointer("pages", store=task_state_store) as ckpt:
            left = [p for p, _ in ckpt.remaining(range(12))]
            for p in left:
                await ckpt.adone(p)
        return left

    assert asyncio.run(retry()) == [8]


def test_aadvance_areset_and_acommit(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> Any:
        async with Checkpointer(
            "cursor", store=task_state_store, commit=every(2), clear_on_success=False
        ) as ckpt:
            await ckpt.aadvance("token-1")
            await ckpt.aadvance("token-2")  # the policy fires
            first = task_state_store.get("cursor")["position"]
            await ckpt.aadvance("token-3")
            await ckpt.acommit()
            second = task_state_store.get("cursor")["position"]
            await ckpt.areset()
            return first, second, task_state_store.keys()

    assert asyncio.run(main()) == ("token-2", "token-3", [])


def test_aiterate_needs_async_with(task_state_store: InMemoryTaskStateStore) -> None:
    with (
        Checkpointer("rows", store=task_state_store) as ckpt,
        pytest.raises(CheckpointError, match="async with"),
    ):
        ckpt.aiterate(range(3))


def test_sync_iterate_inside_async_with(task_state_store: InMemoryTaskStateStore) -> None:
    async def main() -> list[int]:
        async with Checkpointer("rows", store=task_state_store, clear_on_success=False) as ckpt:
            return [item for item in ckpt.iterate(range(4))]

    assert asyncio.run(main()) == [0, 1, 2, 3]
    assert task_state_store.get("rows")["position"] == 4


def test_a_cancelled_task_saves_progress_and_is_not_retried_as_a_store_error(
    task_state_store: InMemoryTaskStateStore,
) -> None:
    started = asyncio.Event

    async def worker(ready: asyncio.Event) -> None:
        async with Checkpointer("rows", store=task_state_store, initial=0) as ckpt:
            async for item in ckpt.aiterate(numbers(100)):
                if item == 30:
                    ready.set()
                    await asyncio.sleep(10)

    async def main() -> None:
        ready = started()
        task = asyncio.create_task(worker(ready))
        await ready.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert task_state_store.get("rows")["position"] == 30
