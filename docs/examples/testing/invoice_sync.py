"""The DAG under test in test_invoice_sync.py: sync invoices page by page, resuming after a failure.

``sync_invoices`` records the next page to sync in the task state store after every page, so a retry
continues where the failed try stopped. ``publish_summary`` then records, on the asset it produces, how
far the sync has got, for the DAGs that consume the asset.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import NEVER_EXPIRE, Asset, dag, task

INVOICES = Asset("invoices")
PAGES = 6


def fetch_page(page: int) -> list[dict[str, int]]:
    """Stands in for a call to the billing API."""
    return [{"invoice_id": page * 100 + i} for i in range(3)]


def post_invoices(rows: list[dict[str, int]]) -> None:
    """Stands in for an idempotent upsert into the ledger (keyed by invoice_id)."""
    print(f"posted invoices {rows[0]['invoice_id']}..{rows[-1]['invoice_id']}")


@task
def sync_invoices(task_state_store=None) -> int:
    page = task_state_store.get("next_page", 1)
    synced = 0
    while page <= PAGES:
        post_invoices(fetch_page(page))
        page += 1
        synced += 1
        task_state_store.set("next_page", page, retention=NEVER_EXPIRE)
    task_state_store.delete("next_page")  # done: a cleared re-run starts from page 1 again
    return synced


@task(outlets=[INVOICES])
def publish_summary(asset_state_store=None) -> None:
    asset_state_store.set("synced_through_page", PAGES)


@dag(schedule="@daily", catchup=False, default_args={"retries": 3, "retry_delay": timedelta(minutes=2)})
def invoice_sync():
    sync_invoices() >> publish_summary()


invoice_sync()
