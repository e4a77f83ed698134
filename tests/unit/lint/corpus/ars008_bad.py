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
