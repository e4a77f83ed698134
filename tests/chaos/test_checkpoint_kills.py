"""A Checkpointer loop whose worker processes are killed for real (SIGKILL: the OOM killer, a lost node).

Each test kills try 1 at a point it does not choose (whenever enough items are done), lets Airflow retry,
and checks from the DAG's own record of processed items that the retry redid at most one commit interval
and skipped nothing.
"""

from __future__ import annotations

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


def check_resumed(log: ItemLog, killed_at: float, what: str) -> None:
    assert log.all_items() == set(range(ITEMS)), "an item was skipped"
    redone = log.redone(2)
    retry_started = log.times[2][0] - killed_at
    print(
        f"\n{what}: try 1 did {len(log.items[1])} items, try 2 resumed at item {log.items[2][0]} "
        f"and redid {len(redone)} (cadence {CADENCE}); try 2 started {retry_started:.1f} s after the kill"
    )
    assert len(redone) <= CADENCE
    assert log.items[2] == list(range(log.items[2][0], ITEMS)), "try 2 did not continue in order"


def test_sigkill_of_the_task_process_redoes_at_most_one_commit_interval(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.txt"
    deployment.add_dag(checkpoint_dag(dag_id, out, items=ITEMS, cadence=CADENCE), dag_id)
    run_id = deployment.trigger(dag_id)
    wait_for_items(out, 230)
    procs = deployment.task_processes(dag_id, run_id, "load")
    killed_at = time.time()
    deployment.kill(procs.task, signal.SIGKILL)

    ti = deployment.wait_for_task(dag_id, run_id, "load", "success", timeout=120)
    assert ti["try_number"] == 2
    log = ItemLog.read(out)
    assert log.items[1], "try 1 did nothing before the kill"
    check_resumed(log, killed_at, "SIGKILL task process")
    assert "TRY 2 resumes at" in deployment.task_log(dag_id, run_id, "load", 2)
    assert [t["state"] for t in deployment.tries(dag_id, run_id, "load")] == ["failed", "success"]
    assert deployment.task_state(dag_id, run_id, "load") == {}  # the key is deleted on success


def test_sigkill_of_the_supervisor_is_noticed_after_the_heartbeat_timeout_and_resumes(
    deployment: AirflowDeployment, dag_id: str, chaos_out: Path
) -> None:
    out = chaos_out / f"{dag_id}.txt"
    deployment.add_dag(checkpoint_dag(dag_id, out, items=ITEMS, cadence=CADENCE, sleep=0.02), dag_id)
    run_id = deployment.trigger(dag_id)
    wait_for_items(out, 230)
    procs = deployment.task_processes(dag_id, run_id, "load")
    killed_at = time.time()
    deployment.kill(procs.supervisor, signal.SIGKILL)

    ti = deployment.wait_for_task(dag_id, run_id, "load", "success", timeout=180)
    assert ti["try_number"] == 2
    log = ItemLog.read(out)
    check_resumed(log, killed_at, "SIGKILL supervisor")
    assert log.times[2][0] - killed_at >= deployment.heartbeat_timeout - 5
    assert not procs.task.is_running(), "the orphaned task process outlived its supervisor"
