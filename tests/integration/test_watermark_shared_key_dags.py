"""Shared watermark keys in real Airflow 3.3 (issue 11, defect 8): dag.test() runs, real asset_state_store.

The store has no compare-and-set, so writers sharing one key can regress it. A mapped task writing an
unpartitioned watermark is refused before it loads anything; a DAG whose runs may overlap is warned.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.airflow

SHARED_KEY_DAGS = """
from airflow.sdk import Asset, dag, task

from airflow_resumable import InvalidValueError, Watermark

ORDERS = Asset("shared_orders")
REGIONS = ["eu", "us"]


@dag(schedule=None, max_active_runs=1)
def mapped_shared_key():
    @task(outlets=[ORDERS])
    def load(region):
        wm = Watermark(ORDERS, initial=0)
        try:
            with wm.window(until=10):
                print(f"LOADED {region}")
        except InvalidValueError as exc:
            print(f"REFUSED {region} names_partition={'partition=' in str(exc)}")
            raise

    load.expand(region=REGIONS)


@dag(schedule=None, max_active_runs=1)
def mapped_partitions():
    @task(outlets=[ORDERS])
    def load(region):
        with Watermark(ORDERS, initial=0, partition=region).window(until={"eu": 10, "us": 7}[region]):
            print(f"LOADED {region}")

    @task(inlets=[ORDERS])
    def report():
        merged = Watermark.merged(ORDERS, partitions=REGIONS, initial=0)
        print(f"MERGED {merged.value} slowest={merged.slowest} shared={Watermark(ORDERS, initial=0).value}")

    load.expand(region=REGIONS) >> report()


@dag(schedule=None, max_active_runs=3)
def overlapping_runs():
    @task(outlets=[ORDERS])
    def load():
        with Watermark(ORDERS, initial=0, key="daily").window(until=5):
            print("LOADED daily")

    load()


mapped_shared_key()
mapped_partitions()
overlapping_runs()
"""


def _lines(output: str, tag: str) -> list[str]:
    return sorted(re.findall(rf"^{tag} (.*)$", output, flags=re.M))


def test_a_mapped_task_is_refused_a_shared_key_and_partitions_work(airflow_sandbox) -> None:
    refused = airflow_sandbox.run_dag(SHARED_KEY_DAGS, dag_id="mapped_shared_key")
    assert refused.state == "failed"
    assert _lines(refused.output, "REFUSED") == ["eu names_partition=True", "us names_partition=True"]
    assert _lines(refused.output, "LOADED") == []  # refused before the work
    assert "watermark" not in airflow_sandbox.asset_state("shared_orders")  # and before any write

    partitioned = airflow_sandbox.run_dag(SHARED_KEY_DAGS, dag_id="mapped_partitions")
    assert partitioned.state == "success", partitioned.output[-3000:]
    assert _lines(partitioned.output, "MERGED") == ["7 slowest=us shared=0"]
    assert sorted(airflow_sandbox.asset_state("shared_orders")) == ["watermark/eu", "watermark/us"]


def test_a_dag_whose_runs_may_overlap_is_warned(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(SHARED_KEY_DAGS, dag_id="overlapping_runs")
    assert result.state == "success", result.output[-3000:]
    assert _lines(result.output, "LOADED") == ["daily"]
    warnings = re.findall(r"DAG 'overlapping_runs' allows 3 active runs \(max_active_runs\)", result.output)
    assert warnings, result.output[-3000:]
    assert "max_active_runs=1" in result.output
