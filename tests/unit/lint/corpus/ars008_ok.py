"""No ARS008: one key per map index, unmapped writers, and task state (already per map index)."""

from __future__ import annotations

from airflow.sdk import DAG, Asset, task

ORDERS = Asset(name="orders", uri="s3://warehouse/orders")

with DAG(dag_id="ars008_ok", schedule=None):

    @task(outlets=[ORDERS])
    def load_partition(part: str, asset_state_store=None, task_state_store=None, ti=None):
        asset_state_store[ORDERS].set(f"watermark/{ti.map_index}", part)
        task_state_store.set("status", "complete")

    @task(outlets=[ORDERS])
    def finalize(asset_state_store=None):
        asset_state_store[ORDERS].set("watermark", "2026-01-02T00:00:00+00:00")

    load_partition.expand(part=["a", "b"]) >> finalize()


# Watermarks: one partition per map index, reads, backfills and unmapped writers are fine.
from airflow_resumable import Watermark  # noqa: E402

SHARED_WM = Watermark(ORDERS, initial=0)

with DAG(dag_id="ars008_ok_watermarks", schedule=None):

    @task(outlets=[ORDERS])
    def load_region(region: str):
        with Watermark(ORDERS, initial=0, partition=region).window() as w:
            print(region, w.start, w.end)

    @task(outlets=[ORDERS])
    def load_region_by_name(region: str):
        wm = Watermark(ORDERS, initial=0, partition=f"region/{region}")
        wm.advance(10)

    @task(inlets=[ORDERS])
    def report(region: str):
        return Watermark(ORDERS, initial=0).value, SHARED_WM.value

    @task(outlets=[ORDERS])
    def backfill_range(region: str):
        with SHARED_WM.backfill(0, 10) as w:
            print(region, w.start)

    @task(outlets=[ORDERS])
    def single_writer():
        with SHARED_WM.window() as w:
            print(w.start)

    load_region.expand(region=["eu", "us"])
    load_region_by_name.expand(region=["eu", "us"])
    report.expand(region=["eu", "us"])
    backfill_range.expand(region=["eu", "us"])
    single_writer()
