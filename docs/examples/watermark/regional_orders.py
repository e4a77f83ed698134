"""Parallel writers: a mapped load per region, each with its own watermark, and one merged view.

Every mapped task instance writes only its own key (``watermark/eu``, ``watermark/us``...), so the
parallel writers never overwrite each other. The consumer reads ``Watermark.merged``: the smallest
region value, the point up to which every region is loaded. A region that has never loaded counts as
``initial``, so the merged value waits for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

REGIONAL_ORDERS = Asset("regional_orders")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
REGIONS = ["eu", "us", "apac", "latam"]


def fetch_region(region: str, start: datetime, end: datetime) -> int:
    """Stands in for the regional source; returns how many rows it loaded."""
    return int((end - start) / timedelta(minutes=30))


@task(outlets=[REGIONAL_ORDERS])
def load_region(region: str, data_interval_end=None) -> None:
    watermark = Watermark(REGIONAL_ORDERS, initial=START, partition=region, lag=timedelta(minutes=10))
    with watermark.window(until=data_interval_end) as w:
        w.record(rows=fetch_region(region, w.start, w.end))
    print(f"{region}: loaded [{w.start:%H:%M}, {w.end:%H:%M})")


@task(inlets=[REGIONAL_ORDERS])
def report_regions() -> None:
    merged = Watermark.merged(REGIONAL_ORDERS, partitions=REGIONS, initial=START)
    print(f"every region is loaded up to {merged.value:%Y-%m-%d %H:%M} (slowest: {merged.slowest})")


@dag(schedule="@hourly", start_date=START, catchup=False)
def regional_orders():
    load_region.expand(region=REGIONS)


@dag(schedule=[REGIONAL_ORDERS], catchup=False)
def regional_report():
    report_regions()


regional_orders()
regional_report()
