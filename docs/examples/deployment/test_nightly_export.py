"""Prove that nightly_export resumes when its worker is really killed: a real scheduler, a real
LocalExecutor and PostgreSQL (the ``airflow_deployment`` fixture), and a SIGKILL as the OOM killer sends."""

from __future__ import annotations

from pathlib import Path

import pytest

DAG_FILE = Path(__file__).with_name("nightly_export.py")


@pytest.mark.chaos
def test_export_resumes_after_its_worker_is_killed(airflow_deployment, tmp_path):
    sink = tmp_path / "rows.txt"
    airflow_deployment.add_dag(DAG_FILE.read_text(), "nightly_export")
    run_id = airflow_deployment.trigger("nightly_export", conf={"sink": str(sink)})

    # kill try 1 once it has committed at least 300 rows
    airflow_deployment.wait_for_log("nightly_export", run_id, "export", r"'rows' saved: position [3-9]\d\d")
    airflow_deployment.task_processes("nightly_export", run_id, "export").task.kill()  # SIGKILL

    ti = airflow_deployment.wait_for_task("nightly_export", run_id, "export", "success")
    rows = [int(line) for line in sink.read_text().split()]
    assert ti["try_number"] == 2
    assert set(rows) == set(range(1000))  # nothing skipped
    assert len(rows) - 1000 <= 100  # at most one commit interval (every(100)) done twice
    tries = airflow_deployment.tries("nightly_export", run_id, "export")
    assert [t["state"] for t in tries] == ["failed", "success"]
