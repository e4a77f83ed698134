"""An async task: ``async with`` and ``aiterate`` over an async source; commits never block the event loop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every


async def fetch_pages(count: int):
    """Stand-in for an async API client that yields one page at a time."""
    for page in range(1, count + 1):
        await asyncio.sleep(0)
        yield {"page": page, "rows": [page * 100 + i for i in range(3)]}


async def store_page(page: dict) -> None:
    """Stand-in for an async write of one page."""
    await asyncio.sleep(0)


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
def checkpoint_async_pages():
    @task
    async def sync_pages(ti=None):
        async with Checkpointer("pages", initial=0, commit=every(5)) as ckpt:
            print(f"try {ti.try_number} starts after page {ckpt.position}")
            async for page in ckpt.aiterate(fetch_pages(30)):
                if ti.try_number == 1 and page["page"] == 12:
                    raise ConnectionResetError("API connection reset on page 12")
                await store_page(page)
                print(f"try {ti.try_number} stored page {page['page']}")

    sync_pages()


checkpoint_async_pages()
