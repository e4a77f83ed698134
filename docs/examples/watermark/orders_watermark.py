"""An incremental producer and a consumer of the same asset, sharing one watermark.

``orders_incremental`` runs hourly and loads the orders updated in ``[w.start, w.end)``. The watermark on
the ``orders`` asset moves to ``w.end`` only when the load succeeded; a failed run leaves it where it was,
so the next run loads the missed range too. ``lag`` re-reads ten minutes behind the watermark (rows whose
``updated_at`` was set before the previous run but committed after it), and ``settle`` keeps the window
end five minutes behind the clock. ``orders_report`` is scheduled on the asset and reads how far the load
got, and what the last load reported.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

ORDERS = Asset("orders")
ORDERS_LOADED = Watermark(
    ORDERS,
    initial=datetime(2026, 1, 1, tzinfo=timezone.utc),
    lag=timedelta(minutes=10),
    settle=timedelta(minutes=5),
)


def fetch_orders(start: datetime, end: datetime) -> list[dict]:
    """Stands in for SELECT * FROM orders WHERE updated_at >= :start AND updated_at < :end."""
    minutes = int((end - start) / timedelta(minutes=1))
    return [{"order_id": i, "updated_at": start + timedelta(minutes=i)} for i in range(0, minutes, 15)]


def upsert_into_warehouse(rows: list[dict]) -> None:
    """Stands in for MERGE INTO warehouse.orders (keyed by order_id: a re-read row is not duplicated)."""


@task(outlets=[ORDERS])
def load_orders(data_interval_end=None) -> int:
    with ORDERS_LOADED.window(until=data_interval_end) as w:
        rows = fetch_orders(w.start, w.end)
        upsert_into_warehouse(rows)
        w.record(rows=len(rows))
    print(f"loaded {len(rows)} orders from [{w.start:%Y-%m-%d %H:%M}, {w.end:%Y-%m-%d %H:%M})")
    return len(rows)


@task(inlets=[ORDERS])
def report() -> None:
    commit = ORDERS_LOADED.last_commit
    if commit is None:
        print("no orders loaded yet")
        return
    print(
        f"orders loaded up to {commit.value:%Y-%m-%d %H:%M}; the last load added {commit.summary['rows']} "
        f"rows from {commit.previous:%Y-%m-%d %H:%M} ({commit.writer.dag_id}, run {commit.writer.run_id})"
    )


@dag(schedule="@hourly", start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False)
def orders_incremental():
    load_orders()


@dag(schedule=[ORDERS], catchup=False)
def orders_report():
    report()


orders_incremental()
orders_report()
