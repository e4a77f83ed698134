"""Story: an incremental load over three DAG runs, the second one failing, and a consumer reading it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_resumable.demo.story import DAGS, Say, Story

if TYPE_CHECKING:
    from airflow_resumable.testing.sandbox import AirflowSandbox

DAG_FILE = DAGS / "watermark_orders.py"
RUNS = [("06:05", False), ("12:05", True), ("18:05", False)]


def run(sandbox: AirflowSandbox, say: Say) -> bool:
    say("Watermark(initial=00:00, lag=10 min, settle=5 min); the 05:55 order is committed late, at 06:30")
    seen = []
    for number, (now, fail) in enumerate(RUNS, 1):
        conf = {"now": f"2026-01-01T{now}:00+00:00", "fail": fail}
        result = sandbox.run_dag(DAG_FILE, dag_id="demo_watermark_orders", run_conf=conf)
        window = re.search(r"DEMO window=(\S+) rows=(\d+) late=(\w+) from=(\S+)", result.output)
        committed = re.search(r"DEMO committed=(\S+)", result.output)
        if window is None:
            say(f"run {number}: no window was opened ({result.state})")
            return False
        span, rows, late, previous = window.groups()
        moved = (
            f"watermark {previous} -> {committed.group(1)}" if committed else f"watermark stays at {previous}"
        )
        late_note = " (incl. the late 05:55 order, re-read through lag)" if late == "yes" else ""
        say(f"run {number} at {now}: window {span}, {rows} orders{late_note}, {result.state}: {moved}")
        seen.append((span, rows, late, result.state, committed.group(1) if committed else None))

    report = sandbox.run_dag(DAG_FILE, dag_id="demo_watermark_report")
    consumer = re.search(r"DEMO consumer value=(\S+) previous=(\S+) rows=(\d+) by=(\S+)", report.output)
    if consumer is None:
        say(f"consumer: read nothing ({report.state})")
        return False
    value, previous, rows, by = consumer.groups()
    last = f"last load {previous} -> {value}, {rows} rows, by {by}"
    say(f"consumer DAG (inlets=[orders]): loaded up to {value}, {last}")
    expected = [
        ("00:00-06:00", "18", "no", "success", "06:00"),
        ("05:50-12:00", "19", "yes", "failed", None),
        ("05:50-18:00", "37", "yes", "success", "18:00"),
    ]
    return seen == expected and consumer.groups() == ("18:00", "06:00", "37", "demo_watermark_orders")


STORY = Story(order=20, title="A watermark moves only when a load succeeds, and catches late rows", run=run)
