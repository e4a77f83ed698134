"""A mapped task: every map index keeps its own checkpoint under the same key, and resumes on its own."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every

FAIL_ON_TRY_1 = {"eu": 7, "us": 18, "apac": 25}  # where each partition's first try breaks


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(seconds=0)})
def checkpoint_mapped_partitions():
    @task
    def load_partition(partition: str, ti=None):
        rows = [f"{partition}-{n}" for n in range(30)]
        with Checkpointer("rows", initial=0, commit=every(5)) as ckpt:
            print(f"{partition} try {ti.try_number} starts after position {ckpt.position}")
            for n, row in enumerate(ckpt.iterate(rows), start=ckpt.position):
                if ti.try_number == 1 and n == FAIL_ON_TRY_1[partition]:
                    raise RuntimeError(f"{partition}: lost the connection at {row}")
            print(f"{partition} try {ti.try_number} finished")

    load_partition.expand(partition=list(FAIL_ON_TRY_1))


checkpoint_mapped_partitions()
