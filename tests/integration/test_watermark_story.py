"""The watermark demo story runs on real Airflow and turns out as narrated."""

from __future__ import annotations

import pytest

from airflow_resumable.demo.story_watermark import STORY

pytestmark = pytest.mark.airflow


def test_watermark_story(airflow_sandbox) -> None:
    lines: list[str] = []
    assert STORY.run(airflow_sandbox, lines.append), lines
    assert STORY.order == 20
    assert lines == [
        "Watermark(initial=00:00, lag=10 min, settle=5 min); the 05:55 order is committed late, at 06:30",
        "run 1 at 06:05: window 00:00-06:00, 18 orders, success: watermark 00:00 -> 06:00",
        "run 2 at 12:05: window 05:50-12:00, 19 orders (incl. the late 05:55 order, re-read through lag), "
        "failed: watermark stays at 06:00",
        "run 3 at 18:05: window 05:50-18:00, 37 orders (incl. the late 05:55 order, re-read through lag), "
        "success: watermark 06:00 -> 18:00",
        "consumer DAG (inlets=[orders]): loaded up to 18:00, last load 06:00 -> 18:00, 37 rows, "
        "by demo_watermark_orders",
    ]
