"""A task that keeps its progress in task_state_store: try 1 fails at item 6, try 2 resumes there."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import NEVER_EXPIRE, dag, task  # type: ignore[attr-defined]

ITEMS = list(range(10))


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)}, tags=["airflow-resumable-demo"])
def demo_task_state_resume() -> None:
    @task
    def process(task_state_store=None, ti=None):  # type: ignore[no-untyped-def]
        start = task_state_store.get("next_item", 0)
        position = start
        try:
            for position in ITEMS[start:]:
                if ti.try_number == 1 and position == 6:
                    raise RuntimeError("the source went away at item 6")
                task_state_store.set("next_item", position + 1, retention=NEVER_EXPIRE)
            position = len(ITEMS)
        except RuntimeError:
            print(f"DEMO try={ti.try_number} started_at={start} stopped_at={position} outcome=failed")
            raise
        print(f"DEMO try={ti.try_number} started_at={start} stopped_at={position} outcome=succeeded")

    process()


demo_task_state_resume()
