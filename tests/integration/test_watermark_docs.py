"""The Watermark page's examples (docs/examples/watermark) run here and do what the page says.

The DAG files run on real Airflow with dag.test(); logical dates fix data_interval_end, so every run is
deterministic. The example unit tests (test_orders_watermark.py) are imported with their folder on
sys.path, as a DAG project would have its DAG modules importable, and re-exported so pytest runs them as
written.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "watermark"
ORDERS = EXAMPLES / "orders_watermark.py"
BACKFILL = EXAMPLES / "orders_backfill.py"
REGIONAL = EXAMPLES / "regional_orders.py"
UNIT = EXAMPLES / "test_orders_watermark.py"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

sys.path.insert(0, str(EXAMPLES))
_unit = importlib.import_module(UNIT.stem)
for _name, _value in vars(_unit).items():
    if _name.startswith("test_") and inspect.isfunction(_value):
        globals()[f"{_name}__example"] = _value


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_every_watermark_example_is_run_here() -> None:
    assert {p.name for p in EXAMPLES.glob("*.py")} == {ORDERS.name, BACKFILL.name, REGIONAL.name, UNIT.name}


@pytest.mark.airflow
def test_orders_producer_and_consumer(airflow_sandbox) -> None:
    first = airflow_sandbox.run_dag(ORDERS, dag_id="orders_incremental", logical_date=at(6))
    second = airflow_sandbox.run_dag(ORDERS, dag_id="orders_incremental", logical_date=at(9))
    report = airflow_sandbox.run_dag(ORDERS, dag_id="orders_report")

    assert [first.state, second.state, report.state] == ["success"] * 3
    assert "loaded 24 orders from [2026-01-01 00:00, 2026-01-01 06:00)" in first.output
    assert "loaded 13 orders from [2026-01-01 05:50, 2026-01-01 09:00)" in second.output
    assert (
        "orders loaded up to 2026-01-01 09:00; the last load added 13 rows from 2026-01-01 06:00 "
        f"(orders_incremental, run {second.run_id})"
    ) in report.output


@pytest.mark.airflow
def test_backfill_leaves_the_watermark_and_rewind_is_recorded(airflow_sandbox) -> None:
    airflow_sandbox.run_dag(ORDERS, dag_id="orders_incremental", logical_date=at(12))
    backfill = airflow_sandbox.run_dag(BACKFILL, dag_id="orders_backfill")
    assert backfill.state == "success"
    assert "reloaded 12 orders; the watermark stays at 2026-01-01 12:00" in backfill.output

    conf = {"to": at(2).isoformat(), "reason": "reload after the currency fix"}
    rewind = airflow_sandbox.run_dag(BACKFILL, dag_id="orders_rewind", run_conf=conf)
    assert rewind.state == "success"
    assert "watermark moved back from 2026-01-01 12:00 to 2026-01-01 02:00" in rewind.output
    record = airflow_sandbox.asset_state("orders")["watermark"]["value"]
    assert record["operation"] == "rewind"
    assert record["reason"] == "reload after the currency fix"
    assert record["rewinds"][0]["writer"]["dag_id"] == "orders_rewind"

    again = airflow_sandbox.run_dag(ORDERS, dag_id="orders_incremental", logical_date=at(13))
    assert "loaded 45 orders from [2026-01-01 01:50, 2026-01-01 13:00)" in again.output


@pytest.mark.airflow
def test_regional_partitions_and_merged_report(airflow_sandbox) -> None:
    load = airflow_sandbox.run_dag(REGIONAL, dag_id="regional_orders", logical_date=at(6))
    report = airflow_sandbox.run_dag(REGIONAL, dag_id="regional_report")

    assert [load.state, report.state] == ["success", "success"]
    loaded = re.findall(r"^(\w+): loaded \[00:00, 06:00\)$", load.output, flags=re.M)
    assert sorted(loaded) == ["apac", "eu", "latam", "us"]
    assert "every region is loaded up to 2026-01-01 06:00 (slowest: eu)" in report.output
    assert sorted(airflow_sandbox.asset_state("regional_orders")) == [
        "watermark/apac",
        "watermark/eu",
        "watermark/latam",
        "watermark/us",
    ]
