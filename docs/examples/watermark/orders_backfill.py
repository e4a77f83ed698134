"""Reprocess a past range without moving the watermark, or move the watermark back on purpose.

``orders_backfill`` reloads ``[start, end)`` (from the run's params) through ``backfill()``: the range is
processed like any window, but the stored watermark stays where the incremental DAG left it.
``orders_rewind`` moves the watermark back so that the incremental DAG loads everything after ``to``
again; the move is recorded with the run that made it and the ``reason``.

The watermark is defined as in orders_watermark.py; in a project, define it once in a module that both
DAG files import.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, Param, dag, task

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
    """Stands in for MERGE INTO warehouse.orders (keyed by order_id)."""


@dag(
    schedule=None,
    params={
        "start": Param("2026-01-01T00:00:00+00:00", type="string"),
        "end": Param("2026-01-01T03:00:00+00:00", type="string"),
    },
)
def orders_backfill():
    @task(outlets=[ORDERS])
    def reload(params=None) -> int:
        start, end = datetime.fromisoformat(params["start"]), datetime.fromisoformat(params["end"])
        with ORDERS_LOADED.backfill(start, end) as w:
            rows = fetch_orders(w.start, w.end)
            upsert_into_warehouse(rows)
        print(f"reloaded {len(rows)} orders; the watermark stays at {ORDERS_LOADED.value:%Y-%m-%d %H:%M}")
        return len(rows)

    reload()


@dag(schedule=None, params={"to": Param(type="string"), "reason": Param(type="string", minLength=1)})
def orders_rewind():
    @task(outlets=[ORDERS])
    def rewind(params=None) -> None:
        commit = ORDERS_LOADED.rewind(datetime.fromisoformat(params["to"]), reason=params["reason"])
        print(f"watermark moved back from {commit.previous:%Y-%m-%d %H:%M} to {commit.value:%Y-%m-%d %H:%M}")

    rewind()


orders_backfill()
orders_rewind()
