"""Stops that Airflow asks for, in a real deployment: a SIGTERM from the worker (pod eviction, warm
shutdown), a task cleared while it runs, and an ``execution_timeout``.

On Airflow 3.3 a SIGTERM only calls the operator's ``on_kill()``; the library's graceful stop turns it into
``TaskStopping`` inside the open Checkpointer block, so the exact position is saved and the retry redoes
nothing that completed. A clear is different: the API server no longer knows the try, so its writes answer
404 and are not retried; the retry resumes from the last commit.
"""

from __future__ import annotations

import re
import signal
import time
from typing import TYPE_CHECKING

import pytest
from chaos_dags import ItemLog, checkpoint_dag, wait_for_items

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_resumable.testing import AirflowDeployment

pytestmark = pytest.mark.chaos

ITEMS, CADENCE = 600, 50


def exact_resumes(log: ItemLog) -> dict[int, list[int]]:
    """For each retry, the items it redid: at most the one item in flight when the previous try stopped."""
    redone = {}
    for later in log.tries()[1:]:
        redone[later] = log.redone(later)
        in_flight = {log.items[later - 1][-1] + 1, log.items[later - 1][-1]}
        assert set(redone[later]) <= in_flight, f"try {later} redid {redone[later]}"
    return redone


def test_sigterm_mid_loop_saves_the_exact_position(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.txt"
    deployment.add_dag(checkpoint_dag(dag_id, out, items=ITEMS, cadence=CADENCE), dag_id)
    run_id = deployment.trigger(dag_id)
    wait_for_items(out, 230)
    procs = deployment.task_processes(dag_id, run_id, "load")
    stopped_at = time.time()
    deployment.kill(procs.task, signal.SIGTERM)

    ti = deployment.wait_for_task(dag_id, run_id, "load", "success", timeout=120)
    log = ItemLog.read(out)
    assert ti["try_number"] == 2
    assert log.all_items() == set(range(ITEMS))
    redone = exact_resumes(log)
    print(
        f"\nSIGTERM: try 1 did {len(log.items[1])} items, try 2 redid {len(redone[2])}; "
        f"try 2 started {log.times[2][0] - stopped_at:.1f} s after the signal"
    )
    first = deployment.task_log(dag_id, run_id, "load", 1)
    assert "TaskStopping" in first
    assert f"position {len(log.items[1])}" in first  # the exact position was written on the way out


def test_task_cleared_mid_loop_stops_without_retrying_doomed_writes(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.txt"
    deployment.add_dag(checkpoint_dag(dag_id, out, items=ITEMS, cadence=CADENCE, sleep=0.02), dag_id)
    run_id = deployment.trigger(dag_id)
    wait_for_items(out, 130)
    cleared_at = time.time()
    deployment.clear(dag_id, run_id, "load")

    ti = deployment.wait_for_task(dag_id, run_id, "load", "success", try_number=2, timeout=120)
    log = ItemLog.read(out)
    assert log.all_items() == set(range(ITEMS))
    redone = log.redone(2)
    assert len(redone) <= CADENCE
    first = deployment.task_log(dag_id, run_id, "load", 1)
    # try 1 learns it is gone from the first write after the clear (404) or from the supervisor, whose
    # heartbeat gets the 404 and sends SIGTERM; either way no write is retried against it
    # the warning is logged once per process (a CommitError raised from it names the cause again)
    gone = first.count("its state store writes answer 404 and are not retried")
    assert gone == 1 or "Server indicated the task shouldn't be running anymore" in first
    assert gone <= 1
    assert not re.search(r"failed \(attempt \d+ of \d+\), retrying", first)
    print(
        f"\nclear: try 1 stopped {log.times[1][-1] - cleared_at:.1f} s after the clear with "
        f"{len(log.items[1])} items, try 2 redid {len(redone)} (cadence {CADENCE}) and started "
        f"{log.times[2][0] - cleared_at:.1f} s after the clear; try {ti['try_number']} succeeded"
    )


def test_execution_timeout_mid_loop_saves_the_exact_position(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.txt"
    source = checkpoint_dag(
        dag_id,
        out,
        items=500,
        cadence=1000,  # no commit before the timeout: only the save on the way out can carry progress
        retries=4,
        task_args=", execution_timeout=timedelta(seconds=3)",
    )
    deployment.add_dag(source, dag_id)
    run_id = deployment.trigger(dag_id)
    ti = deployment.wait_for_task(dag_id, run_id, "load", "success", timeout=180)
    log = ItemLog.read(out)
    assert ti["try_number"] >= 2, "the first try did not time out"
    assert log.all_items() == set(range(500))
    redone = exact_resumes(log)
    print(f"\nexecution_timeout: items per try {[len(log.items[t]) for t in log.tries()]}, redone {redone}")
    assert "AirflowTaskTimeout" in deployment.task_log(dag_id, run_id, "load", 1)
