"""Watermarks in real Airflow 3.3: dag.test() runs, real asset_state_store, real failures.

Runs in one test share the test's database, so a later run sees what an earlier run committed, exactly as
successive DAG runs do. "Now" comes from params (run_conf), never from the clock, so every run is
deterministic.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.airflow

ORDERS_DAGS = """
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

ORDERS = Asset("orders")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
# The source: one order every 20 minutes over two days.
ORDER_TIMES = [START + timedelta(minutes=20 * i) for i in range(144)]


@dag(schedule=None, params={"until": "2026-01-01T06:00:00+00:00", "fail": False})
def orders_producer():
    @task(outlets=[ORDERS])
    def load(params=None):
        wm = Watermark(ORDERS, initial=START, lag=timedelta(minutes=10))
        with wm.window(until=datetime.fromisoformat(params["until"])) as w:
            rows = [t for t in ORDER_TIMES if t in w]
            print(f"WINDOW {w.start:%H:%M} {w.end:%H:%M} rows={len(rows)}")
            w.record(rows=len(rows))
            if params["fail"]:
                raise RuntimeError("warehouse unavailable")
        print(f"COMMITTED {wm.value:%H:%M}")

    load()


@dag(schedule=[ORDERS])
def orders_consumer():
    @task(inlets=[ORDERS])
    def read():
        wm = Watermark(ORDERS, initial=START)
        c = wm.last_commit
        print(
            f"CONSUMER value={wm.value:%H:%M} previous={c.previous:%H:%M} rows={c.summary['rows']} "
            f"by={c.writer.dag_id}.{c.writer.task_id} run={c.writer.run_id} op={c.operation}"
        )

    read()


orders_producer()
orders_consumer()
"""


def _line(output: str, tag: str) -> str:
    found = re.findall(rf"^{tag} (.*)$", output, flags=re.M)
    assert len(found) == 1, (tag, output[-3000:])
    return str(found[0])


def test_failed_run_leaves_the_watermark_and_the_next_run_covers_its_range(airflow_sandbox) -> None:
    def run(until: str, *, fail: bool = False):
        conf = {"until": f"2026-01-01T{until}:00+00:00", "fail": fail}
        return airflow_sandbox.run_dag(ORDERS_DAGS, dag_id="orders_producer", run_conf=conf)

    first = run("06:00")
    assert first.state == "success"
    assert _line(first.output, "WINDOW") == "00:00 06:00 rows=18"
    assert _line(first.output, "COMMITTED") == "06:00"

    second = run("12:00", fail=True)
    assert second.state == "failed"
    assert second.states("load") == ["failed"]
    assert _line(second.output, "WINDOW") == "05:50 12:00 rows=18"  # 06:00 re-read through lag
    assert "COMMITTED" not in second.output
    stored = airflow_sandbox.asset_state("orders")["watermark"]
    assert stored["value"]["value"]["value"] == "2026-01-01T06:00:00+00:00"
    assert stored["value"]["writer"]["run_id"] == first.run_id  # run 2 wrote nothing

    third = run("18:00")
    assert third.state == "success"
    assert _line(third.output, "WINDOW") == "05:50 18:00 rows=36"  # covers what run 2 missed
    assert _line(third.output, "COMMITTED") == "18:00"

    consumer = airflow_sandbox.run_dag(ORDERS_DAGS, dag_id="orders_consumer")
    assert consumer.state == "success"
    assert _line(consumer.output, "CONSUMER") == (
        f"value=18:00 previous=06:00 rows=36 by=orders_producer.load run={third.run_id} op=window"
    )
    record = airflow_sandbox.asset_state("orders")["watermark"]["value"]
    assert record["format"] == "airflow-resumable/watermark@1"
    assert record["writer"]["task_id"] == "load"
    assert record["writer"]["try_number"] == 1


MAPPED_DAGS = """
from datetime import datetime, timedelta, timezone

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

ORDERS = Asset("regional_orders")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)
REGIONS = ["eu", "us", "apac", "latam"]


@dag(schedule=None, params={"hours": {"eu": 6, "us": 4, "apac": 8, "latam": 5}, "fail": ""})
def regional_orders():
    @task(outlets=[ORDERS])
    def load(region, params=None):
        wm = Watermark(ORDERS, initial=START, partition=region)
        with wm.window(until=START + timedelta(hours=params["hours"][region])) as w:
            w.record(region=region)
            if region == params["fail"]:
                raise RuntimeError(f"{region} source down")
        print(f"LOADED {region} {w.start:%H:%M} {w.end:%H:%M}")

    @task(inlets=[ORDERS], trigger_rule="all_done")
    def report():
        merged = Watermark.merged(ORDERS, partitions=REGIONS, initial=START)
        values = " ".join(f"{name}={v:%H:%M}" for name, v in merged.values.items())
        print(f"MERGED {merged.value:%H:%M} slowest={merged.slowest} {values}")

    load.expand(region=REGIONS) >> report()


regional_orders()
"""


def test_mapped_producer_writes_one_key_per_partition_and_the_merged_view_is_the_minimum(
    airflow_sandbox,
) -> None:
    first = airflow_sandbox.run_dag(MAPPED_DAGS)
    assert first.state == "success"
    assert _line(first.output, "MERGED") == "04:00 slowest=us eu=06:00 us=04:00 apac=08:00 latam=05:00"
    rows = airflow_sandbox.asset_state("regional_orders")
    assert sorted(rows) == ["watermark/apac", "watermark/eu", "watermark/latam", "watermark/us"]
    writers = {key: row["value"]["writer"]["map_index"] for key, row in rows.items()}
    assert writers == {"watermark/eu": 0, "watermark/us": 1, "watermark/apac": 2, "watermark/latam": 3}
    assert rows["watermark/us"]["value"]["summary"] == {"region": "us"}

    hours = {"eu": 12, "us": 12, "apac": 12, "latam": 12}
    second = airflow_sandbox.run_dag(MAPPED_DAGS, run_conf={"hours": hours, "fail": "us"})
    assert second.states("load", map_index=1) == ["failed"]  # the run itself ends with its leaf, report
    assert second.states("load", map_index=0) == ["success"]
    # The failed partition holds the merged value back; the others moved.
    assert _line(second.output, "MERGED") == "04:00 slowest=us eu=12:00 us=04:00 apac=12:00 latam=12:00"

    third = airflow_sandbox.run_dag(MAPPED_DAGS, run_conf={"hours": hours, "fail": ""})
    assert third.state == "success"
    assert "LOADED us 04:00 12:00" in third.output  # the failed partition catches up
    assert "LOADED eu 12:00 12:00" in third.output  # nothing new: an empty window
    assert _line(third.output, "MERGED") == "12:00 slowest=eu eu=12:00 us=12:00 apac=12:00 latam=12:00"


GUARDS_DAG = """
from datetime import datetime, timezone

from airflow.sdk import Asset, dag, task

from airflow_resumable import ConcurrentWriteError, InvalidValueError, Watermark, WatermarkRegressionError

ORDERS = Asset("guarded_orders")
OTHER = Asset("not_declared")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dag(schedule=None)
def guards():
    @task(outlets=[ORDERS])
    def check():
        try:
            Watermark(OTHER, initial=START).value
        except InvalidValueError as exc:
            print(f"UNDECLARED {'not an inlet or outlet' in str(exc)}")
        wm = Watermark(ORDERS, initial=0)
        wm.advance(10, summary={"batch": 1})
        try:
            wm.advance(5)
        except WatermarkRegressionError:
            print(f"REGRESSION refused, still {wm.value}")
        try:
            with wm.window(until=20) as w:
                Watermark(ORDERS, initial=0).advance(15)  # another writer moves the shared key
        except ConcurrentWriteError:
            print(f"CONCURRENT detected, value {wm.value} by {wm.last_commit.operation}")
        wm.rewind(3, reason="reload after the currency fix")
        r = wm.rewinds[-1]
        print(f"REWIND {r.previous}->{r.value} {r.reason!r} by {r.writer.task_id}")

    check()


guards()
"""


def test_guards_hold_against_real_stores(airflow_sandbox) -> None:
    result = airflow_sandbox.run_dag(GUARDS_DAG)
    assert result.state == "success", result.output[-3000:]
    assert _line(result.output, "UNDECLARED") == "True"
    assert _line(result.output, "REGRESSION") == "refused, still 10"
    assert _line(result.output, "CONCURRENT") == "detected, value 15 by advance"
    assert _line(result.output, "REWIND") == "15->3 'reload after the currency fix' by check"
