"""A task that loads 500 items with a Checkpointer: try 1 fails at item 338, try 2 starts there."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every

ITEMS = list(range(1, 501))
FAIL_AT = 338


class CountingStore:
    """Passes calls through to the task store and counts the writes, for the narration."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.sets, self.deletes = inner, 0, 0

    def get(self, key: str, default: Any = None) -> Any:
        return self.inner.get(key, default)

    def set(self, key: str, value: Any, *, retention: Any = None) -> None:
        self.sets += 1
        self.inner.set(key, value, retention=retention)

    def delete(self, key: str) -> None:
        self.deletes += 1
        self.inner.delete(key)


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_checkpoint_resume() -> None:
    @task
    def load_items(task_state_store=None, ti=None):  # type: ignore[no-untyped-def]
        store = CountingStore(task_state_store)
        start, done, outcome = 0, 0, "failed"
        try:
            with Checkpointer("items", initial=0, commit=every(100), store=store) as ckpt:
                start = ckpt.position + 1
                for item in ckpt.iterate(ITEMS):
                    if ti.try_number == 1 and item == FAIL_AT:
                        raise ConnectionError(f"the source went away at item {item}")
                    done += 1
            outcome = "succeeded"
        finally:
            print(
                f"DEMO try={ti.try_number} start={start} processed={done} outcome={outcome} "
                f"sets={store.sets} deletes={store.deletes}"
            )

    load_items()


demo_checkpoint_resume()
