"""A DAG author's own DAG file, unchanged for the test: export 1,000 rows under a Checkpointer.

Where the rows go comes from the run's conf, so a test can point the export at a file of its own.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from airflow.sdk import dag, get_current_context, task

from airflow_resumable import Checkpointer, every


@dag(schedule=None, catchup=False)
def nightly_export():
    @task(retries=1, retry_delay=timedelta(seconds=0))
    def export():
        sink = Path(get_current_context()["dag_run"].conf["sink"])
        with Checkpointer("rows", commit=every(100)) as ckpt:
            for row in ckpt.iterate(range(1000)):
                time.sleep(0.005)  # the real work: fetch, transform, load one row
                with sink.open("a") as out:
                    out.write(f"{row}\n")

    export()


nightly_export()
