"""No ARS003: watermarks in the asset state store, configuration in Variables."""

from __future__ import annotations

from airflow.sdk import DAG, Asset, Variable, task

ORDERS = Asset(name="orders", uri="s3://warehouse/orders")

with DAG(dag_id="ars003_ok", schedule=None):

    @task(inlets=[ORDERS], outlets=[ORDERS])
    def load(asset_state_store=None):
        state = asset_state_store[ORDERS]
        watermark = state.get("watermark", default="2026-01-01T00:00:00+00:00")
        endpoint = Variable.get("orders_api_endpoint")
        state.set("watermark", "2026-01-02T00:00:00+00:00")
        return watermark, endpoint

    load()
