"""Resume a long loop where the failed try stopped, using the raw task state store.

The task exports pages one by one. After every batch it records the next page to export, so a retry
skips the pages already done and redoes at most one unfinished batch. Trigger a run with
``{"fail_after": 5}`` to watch it: try 1 fails after page 5, try 2 starts again at page 4 (the first
page of the batch that was not recorded) and finishes the export.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import NEVER_EXPIRE, Param, dag, task

PAGES = 12
BATCH = 3  # record progress every 3 pages: each write is a round trip to the API server


def export_page(page: int) -> None:
    """Stands in for the real work. It must be safe to run twice for the same page (an upsert)."""
    print(f"exported page {page}")


@dag(
    schedule=None,
    catchup=False,
    # Immediate retries keep this example quick; give real DAGs a delay of a few minutes.
    default_args={"retries": 2, "retry_delay": timedelta(0)},
    params={"fail_after": Param(0, type="integer", description="Fail try 1 after this page (0: never).")},
)
def basics_task_state_progress():
    @task
    def export_pages(task_state_store=None, params=None, ti=None) -> int:
        # Where the previous tries got to; 1 on the first try of this task instance.
        next_page = task_state_store.get("next_page", 1)
        print(f"try {ti.try_number} starts at page {next_page}")

        for page in range(next_page, PAGES + 1):
            export_page(page)
            if page % BATCH == 0 or page == PAGES:
                # The value is the next page to do (not the last one done), like a consumer offset.
                # NEVER_EXPIRE: `airflow state-store clean` must never drop the marker of a run that
                # may still be retried or cleared; the row is removed together with its DAG run.
                task_state_store.set("next_page", page + 1, retention=NEVER_EXPIRE)
            if ti.try_number == 1 and page == params["fail_after"]:
                raise RuntimeError(f"simulated failure after page {page}")

        # Finished: forget the progress. On Airflow 3.3 clearing a task keeps its task state, so
        # without this a cleared re-run would start at the end and export nothing.
        task_state_store.delete("next_page")
        return PAGES

    export_pages()


basics_task_state_progress()
