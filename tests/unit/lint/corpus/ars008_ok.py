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
