"""Load rows with a Checkpointer: try 1 fails part-way, try 2 starts at the row that failed."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every

ROWS = [{"id": n, "amount": n * 10} for n in range(1, 251)]


def load(row: dict) -> None:
    """Stand-in for an INSERT into the warehouse."""


@dag(schedule=None, default_args={"retries": 2, "retry_delay": timedelta(seconds=0)})
def checkpoint_load_rows():
    @task
    def load_rows(ti=None):
        with Checkpointer("rows", initial=0, commit=every(50)) as ckpt:
            print(f"try {ti.try_number} starts after position {ckpt.position}")
            for row in ckpt.iterate(ROWS):
                if ti.try_number == 1 and row["id"] == 137:
                    raise ConnectionError("warehouse connection dropped at row 137")
                load(row)
                print(f"try {ti.try_number} loaded row {row['id']}")

    load_rows()


checkpoint_load_rows()
