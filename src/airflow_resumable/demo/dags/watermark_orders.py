"""An incremental orders load with a Watermark, and a report DAG scheduled on the same asset.

The source has one order every 20 minutes, plus one order stamped 05:55 that the source commits late
(visible only from 06:30). Each producer run gets its "now" from params so the demo is deterministic; it
loads the visible orders in ``[w.start, w.end)`` and fails after loading when ``fail`` is set.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

ORDERS = Asset("demo_orders")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
LATE = (START + timedelta(hours=5, minutes=55), START + timedelta(hours=6, minutes=30))
"""(updated_at, visible from): the order the source commits late."""
SOURCE = [(START + timedelta(minutes=20 * i), START + timedelta(minutes=20 * i)) for i in range(72)] + [LATE]
ORDERS_LOADED = Watermark(ORDERS, initial=START, lag=timedelta(minutes=10), settle=timedelta(minutes=5))


@dag(
    schedule=None,
    params={"now": "2026-01-01T06:05:00+00:00", "fail": False},
    tags=["airflow-resumable-demo"],
)
def demo_watermark_orders() -> None:
    @task(outlets=[ORDERS])
    def load(params: Any = None) -> None:
        now = datetime.fromisoformat(params["now"])
        with ORDERS_LOADED.window(until=now, now=now) as w:
            rows = [ts for ts, visible in SOURCE if ts in w and visible <= now]
            w.record(rows=len(rows))
            late = "yes" if LATE[0] in rows else "no"
            span = f"{w.start:%H:%M}-{w.end:%H:%M}"
            print(f"DEMO window={span} rows={len(rows)} late={late} from={w.previous:%H:%M}")
            if params["fail"]:
                raise RuntimeError("the warehouse went away after loading")
        print(f"DEMO committed={ORDERS_LOADED.value:%H:%M}")

    load()


@dag(schedule=[ORDERS], tags=["airflow-resumable-demo"])
def demo_watermark_report() -> None:
    @task(inlets=[ORDERS])
    def report() -> None:
        commit = ORDERS_LOADED.last_commit
        assert commit is not None
        print(
            f"DEMO consumer value={commit.value:%H:%M} previous={commit.previous:%H:%M} "
            f"rows={commit.summary['rows']} by={commit.writer.dag_id} run={commit.writer.run_id}"
        )

    report()


demo_watermark_orders()
demo_watermark_report()
