"""Share a cursor between DAGs through the asset state store.

``basics_orders_export`` exports the orders that are new since its last run and records, on the asset
it produces, the highest order id exported so far. The next run reads it and continues from there.
``basics_orders_report``, scheduled on that asset, reads the same value to know how far the export has
got. The asset's state outlives every run and is shared by every task that declares the asset.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

ORDERS = Asset("basics_orders")


@dag(
    schedule=None,
    catchup=False,
    # Stands in for asking the source system for its newest order id.
    params={"newest_order_id": Param(5, type="integer")},
)
def basics_orders_export():
    @task(outlets=[ORDERS])
    def export_new_orders(asset_state_store=None, params=None) -> int:
        # One declared asset, so the accessor methods work on the mapping itself.
        last_exported = asset_state_store.get("last_exported_id", 0)
        newest = params["newest_order_id"]
        new_ids = list(range(last_exported + 1, newest + 1))
        for order_id in new_ids:
            print(f"exported order {order_id}")
        if new_ids:
            # Move the cursor only after the export succeeded. One DAG owns this key: writes are plain
            # upserts, so two writers of the same key would silently overwrite each other.
            asset_state_store.set("last_exported_id", new_ids[-1])
        return len(new_ids)

    export_new_orders()


@dag(schedule=[ORDERS], catchup=False)
def basics_orders_report():
    @task(inlets=[ORDERS])
    def report(asset_state_store=None) -> int:
        # Subscripting by the asset always works, however many assets the task declares.
        exported = asset_state_store[ORDERS].get("last_exported_id", 0)
        print(f"orders exported so far: {exported}")
        return exported

    report()


basics_orders_export()
basics_orders_report()
