"""Parallel watermark writers under a real scheduler and LocalExecutor (``dag.test()`` runs tasks one at a
time, so races between writers need real processes).

- Mapped writers, one partition each, one of them SIGKILLed mid-window: the merged value is the minimum of
  what every partition committed, and the killed partition's retry commits its own window.
- Four writers of one unpartitioned key whose windows overlap (a file barrier makes every writer read
  before any writes; the one with the highest value writes first): with last-writer-wins the lowest value
  would overwrite the highest. The later writers must raise ``ConcurrentWriteError`` instead, and the
  stored value must stay the highest.
"""

from __future__ import annotations

import json
import signal
import textwrap
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_resumable.testing import AirflowDeployment

pytestmark = pytest.mark.chaos

PARTITIONED = """
import json
import time
from datetime import timedelta
from pathlib import Path

from airflow.sdk import Asset, dag, task, get_current_context

from airflow_resumable import Watermark

OUT = Path({out!r})
ASSET = Asset({asset!r})
UNTIL = {{"eu": 400, "us": 300, "ap": 200, "sa": 100}}


@dag(dag_id={dag_id!r}, schedule=None, catchup=False)
def chaos():
    @task(outlets=[ASSET], retries=1, retry_delay=timedelta(seconds=0))
    def write(region):
        try_number = get_current_context()["ti"].try_number
        wm = Watermark(ASSET, initial=0, partition=region)
        with wm.window(until=UNTIL[region]) as w:
            with OUT.open("a") as out:
                out.write(json.dumps({{"opened": region, "try": try_number, "start": w.start}}) + "\\n")
            time.sleep(4 if region == "us" and try_number == 1 else 0.5)

    @task(inlets=[ASSET])
    def report():
        merged = Watermark.merged(ASSET, partitions=list(UNTIL), initial=0)
        with OUT.open("a") as out:
            out.write(json.dumps({{"merged": merged.value, "values": merged.values}}) + "\\n")

    write.expand(region=list(UNTIL)) >> report()


chaos()
"""

SHARED = """
import json
import time
from pathlib import Path

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

OUT = Path({out!r})
ASSET = Asset({asset!r})
WRITERS = {{"w0": 400, "w1": 300, "w2": 200, "w3": 100}}


def opened():
    return sum(1 for line in OUT.read_text().splitlines() if '"opened"' in line) if OUT.exists() else 0


@dag(dag_id={dag_id!r}, schedule=None, catchup=False, max_active_tasks=8)
def chaos():
    writers = []
    for index, (name, until) in enumerate(WRITERS.items()):

        @task(task_id=name, outlets=[ASSET], retries=0)
        def write(name=name, until=until, index=index):
            wm = Watermark(ASSET, initial=0)
            with wm.window(until=until) as w:
                with OUT.open("a") as out:
                    out.write(json.dumps({{"opened": name, "start": w.start}}) + "\\n")
                deadline = time.monotonic() + 60
                while opened() < len(WRITERS) and time.monotonic() < deadline:
                    time.sleep(0.05)  # every writer has read the watermark before anyone writes
                time.sleep(1.0 * index)  # then the highest value writes first, the lowest last

        writers.append(write())

    @task(inlets=[ASSET], trigger_rule="all_done")
    def report():
        with OUT.open("a") as out:
            out.write(json.dumps({{"final": Watermark(ASSET, initial=0).value}}) + "\\n")

    writers >> report()


chaos()
"""


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_mapped_partition_writers_with_one_killed_merge_to_the_right_value(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.jsonl"
    source = PARTITIONED.format(out=str(out), asset=f"asset_{dag_id}", dag_id=dag_id)
    deployment.add_dag(textwrap.dedent(source), dag_id)
    run_id = deployment.trigger(dag_id)
    deadline = time.monotonic() + 120
    while not any(r.get("opened") == "us" for r in records(out)):
        assert time.monotonic() < deadline, "map index 'us' never opened its window"
        time.sleep(0.1)
    # expand() keeps the list order: eu=0, us=1, ap=2, sa=3
    procs = deployment.task_processes(dag_id, run_id, "write", map_index=1)
    deployment.kill(procs.task, signal.SIGKILL)

    deployment.wait_for_run(dag_id, run_id, ["success", "failed"], timeout=180)
    assert deployment.api.dag_run(dag_id, run_id)["state"] == "success"
    report = next(r for r in records(out) if "merged" in r)
    assert report["values"] == {"eu": 400, "us": 300, "ap": 200, "sa": 100}
    assert report["merged"] == 100
    us = [r for r in records(out) if r.get("opened") == "us"]
    assert [(r["try"], r["start"]) for r in us] == [(1, 0), (2, 0)]  # the killed window committed nothing
    keys = set(deployment.asset_state(f"asset_{dag_id}"))
    assert {"watermark/eu", "watermark/us", "watermark/ap", "watermark/sa"} <= keys
    print(f"\npartitioned writers, one SIGKILLed: values {report['values']}, merged {report['merged']}")


def test_writers_of_one_shared_key_detect_the_race_instead_of_losing_the_highest_value(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.jsonl"
    source = SHARED.format(out=str(out), asset=f"asset_{dag_id}", dag_id=dag_id)
    deployment.add_dag(textwrap.dedent(source), dag_id)
    run_id = deployment.trigger(dag_id)
    deployment.wait_for_run(dag_id, run_id, ["success", "failed"], timeout=180)

    states = {ti["task_id"]: ti["state"] for ti in deployment.api.task_instances(dag_id, run_id)}
    final = next(r for r in records(out) if "final" in r)["final"]
    opened = [r for r in records(out) if "opened" in r]
    assert len(opened) == 4 and all(r["start"] == 0 for r in opened), "a writer read after another wrote"
    assert final == 400  # last-writer-wins would have left 100
    assert states["w0"] == "success"
    for name in ("w1", "w2", "w3"):
        assert states[name] == "failed"
        assert "ConcurrentWriteError" in deployment.task_log(dag_id, run_id, name, 1)
    print(f"\nshared key, 4 overlapping writers: stored {final}, states {states}")
