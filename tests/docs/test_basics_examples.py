"""The raw-store examples on the docs site (docs/examples/basics) run on real Airflow and do what the
pages say: the task store resumes a retry where the failed try stopped, the asset store carries a cursor
from one DAG run to the next and from the producer DAG to its consumer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "basics"
PROGRESS = EXAMPLES / "task_state_progress.py"
ASSETS = EXAMPLES / "asset_state_producer_consumer.py"


def _pages_per_try(output: str) -> dict[int, list[int]]:
    """{try number: pages exported in that try}, from the example's own print lines."""
    tries: dict[int, list[int]] = {}
    current = 0
    for line in output.splitlines():
        if m := re.search(r"try (\d+) starts at page (\d+)", line):
            current = int(m.group(1))
            tries[current] = []
        elif m := re.search(r"exported page (\d+)", line):
            tries[current].append(int(m.group(1)))
    return tries


def test_every_basics_example_is_run_here() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {PROGRESS.name, ASSETS.name}


def test_task_state_progress_retry_resumes_at_the_last_recorded_batch(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(PROGRESS, run_conf={"fail_after": 5})

    assert result.state == "success", result.output[-3000:]
    assert result.states("export_pages") == ["failed", "success"]
    # Progress was recorded after page 3; pages 4 and 5 were done but not recorded, so they are
    # redone (at most one batch), and nothing before them is.
    assert _pages_per_try(result.output) == {1: [1, 2, 3, 4, 5], 2: list(range(4, 13))}
    # The finished task removed its marker, so a cleared re-run starts from page 1.
    assert result.task_state_keys("export_pages") == {}


def test_task_state_progress_without_failure_runs_once(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(PROGRESS)

    assert result.states("export_pages") == ["success"]
    assert _pages_per_try(result.output) == {1: list(range(1, 13))}


def test_asset_state_cursor_carries_across_runs_and_dags(airflow_sandbox) -> None:
    first = airflow_sandbox.run_dag(ASSETS, dag_id="basics_orders_export", run_conf={"newest_order_id": 5})
    second = airflow_sandbox.run_dag(ASSETS, dag_id="basics_orders_export", run_conf={"newest_order_id": 9})
    report = airflow_sandbox.run_dag(ASSETS, dag_id="basics_orders_report")

    assert [first.state, second.state, report.state] == ["success"] * 3
    assert re.findall(r"exported order (\d+)", first.output) == ["1", "2", "3", "4", "5"]
    assert re.findall(r"exported order (\d+)", second.output) == ["6", "7", "8", "9"]
    assert "orders exported so far: 9" in report.output
    assert airflow_sandbox.asset_state("basics_orders")["last_exported_id"]["value"] == 9
