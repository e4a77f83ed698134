"""``state checkpoints`` and ``state jobs`` against the real REST app: progress a failed run left behind."""

from __future__ import annotations

import io
import json

import pytest

from airflow_resumable import ops
from airflow_resumable.cli import main
from airflow_resumable.ops.cli import main as state_main

pytestmark = pytest.mark.airflow

EXPORT = """
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every


@dag(schedule=None, default_args={"retries": 0, "retry_delay": timedelta(0)})
def nightly_export():
    @task
    def export_rows():
        with Checkpointer("rows", initial=0, commit=every(50), fingerprint="orders-2026-03") as ckpt:
            for row in ckpt.iterate(range(1, 1001)):
                if row == 137:
                    raise ConnectionError("warehouse connection dropped at row 137")

    @task
    def export_part(part):
        with Checkpointer("offset", initial=0, commit=every(10)) as ckpt:
            for n in ckpt.iterate(range(1, 101)):
                if n == 20 + part * 10:
                    raise ConnectionError(f"part {part} failed at {n}")

    export_rows()
    export_part.expand(part=[0, 1])


nightly_export()
"""


@pytest.fixture
def admin_env(monkeypatch: pytest.MonkeyPatch, api_server) -> None:
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_URL", api_server.url)
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_USERNAME", "admin")
    monkeypatch.setenv("AIRFLOW_RESUMABLE_API_PASSWORD", api_server.passwords["admin"])


def test_checkpoints_show_the_progress_of_a_failed_run(airflow_sandbox, api_server, admin_env, capsys):
    result = airflow_sandbox.run_dag(EXPORT)
    assert result.state == "failed"

    with ops.connect() as api:
        found = {(r.task.label, r.key): r for r in ops.checkpoints(api, "nightly_export")}
    assert set(found) == {("export_rows", "rows"), ("export_part[0]", "offset"), ("export_part[1]", "offset")}
    rows = found[("export_rows", "rows")]
    assert (rows.position, rows.position_type, rows.items_done) == (136, "int", 136)
    assert rows.task.state == "failed" and not rows.task.running
    assert rows.task.run_id == result.run_id
    assert rows.fingerprint is not None and rows.items_per_second is not None
    assert rows.written_by_try == 1 and rows.updated_at is not None
    assert (rows.total, rows.items_at_start, rows.progress_text) == (1000, 0, "136 of 1,000 (14%)")
    assert found[("export_part[0]", "offset")].position == 19
    assert found[("export_part[1]", "offset")].position == 29

    assert main(["state", "checkpoints", "nightly_export", result.run_id]) == 0
    table = capsys.readouterr().out
    print(table)
    assert "export_rows" in table and "136 of 1,000 (14%)" in table and "export_part[1]" in table
    assert "LEFT" in table  # the time-left column (empty: no try is running)

    out = io.StringIO()  # the in-process server's access log also goes to this process's stdout
    assert state_main(["checkpoints", "nightly_export", "--format", "json"], out=out) == 0
    records = json.loads(out.getvalue())
    assert {(r["task_id"], r["map_index"], r["position"]) for r in records} == {
        ("export_rows", -1, 136),
        ("export_part", 0, 19),
        ("export_part", 1, 29),
    }
    assert {(r["task_id"], r["total"], r["percent"]) for r in records} == {
        ("export_rows", 1000, 13.6),
        ("export_part", 100, 19.0),
        ("export_part", 100, 29.0),
    }


def test_unknown_dag_is_not_found_with_its_exit_code(airflow_sandbox, api_server, admin_env, capsys):
    assert main(["state", "checkpoints", "no_such_dag"]) == 5
    assert "no_such_dag" in capsys.readouterr().err
