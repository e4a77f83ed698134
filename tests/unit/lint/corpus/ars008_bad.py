"""ARS008: mapped tasks writing one fixed asset state key (the last writer wins)."""

from __future__ import annotations

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Asset, BaseOperator, get_current_context, task

ORDERS = Asset(name="orders", uri="s3://warehouse/orders")
WATERMARK = "watermark"


class PartitionLoadOperator(BaseOperator):
    def execute(self, context):
        context["asset_state_store"].set("rows_loaded", 1)  # expect: ARS008


def load_with_python(**context):
    store = context["asset_state_store"]
    store[ORDERS].set("last_partition", context["params"]["part"])  # expect: ARS008


with DAG(dag_id="ars008_bad", schedule=None):

    @task(inlets=[ORDERS], outlets=[ORDERS])
    def load_partition(part: str, asset_state_store=None):
        state = asset_state_store[ORDERS]
        state.set("watermark", part)  # expect: ARS008
        asset_state_store.set(WATERMARK, part)  # expect: ARS008
        state.set(f"{part}/watermark", part)

    @task(outlets=[ORDERS])
    async def load_async(part: str):
        ctx = get_current_context()
        await ctx["asset_state_store"][ORDERS].aset(key="last_part", value=part)  # expect: ARS008

    load_partition.expand(part=["a", "b"])
    renamed = load_async.override(task_id="load_async_parts")
    renamed.expand(part=["a", "b"])
    PartitionLoadOperator.partial(task_id="by_operator").expand(outlets=[[ORDERS], [ORDERS]])
    PythonOperator.partial(task_id="by_python", python_callable=load_with_python).expand(op_args=[[1], [2]])


# Watermarks: without a per-writer partition= every map index commits the same key.
from airflow_resumable import Watermark  # noqa: E402

SHARED_WM = Watermark(ORDERS, initial=0)

with DAG(dag_id="ars008_watermarks", schedule=None):

    @task(outlets=[ORDERS])
    def load_region(region: str):
        with Watermark(ORDERS, initial=0).window() as w:  # expect: ARS008
            print(region, w.start, w.end)

    @task(outlets=[ORDERS])
    def load_shared(region: str):
        with SHARED_WM.window(until=10) as w:  # expect: ARS008
            print(region, w.start)

    @task(outlets=[ORDERS])
    def advance_fixed_partition(region: str):
        wm = Watermark(ORDERS, initial=0, partition="all")
        wm.advance(10)  # expect: ARS008

    @task(outlets=[ORDERS])
    def rewind_everyone(region: str):
        Watermark(ORDERS, initial=0, partition=None).rewind(0, reason="reload")  # expect: ARS008

    load_region.expand(region=["eu", "us"])
    load_shared.expand(region=["eu", "us"])
    advance_fixed_partition.expand(region=["eu", "us"])
    rewind_everyone.expand(region=["eu", "us"])
