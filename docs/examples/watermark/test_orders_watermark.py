"""Unit tests for the orders producer in orders_watermark.py, with no Airflow running.

The in-memory stores stand in for the asset state store; one backend is one "metadata database", so
several runs share it, as successive DAG runs share the real one.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import orders_watermark
from orders_watermark import ORDERS, ORDERS_LOADED, load_orders

from airflow_resumable.testing import after_call, make_context, task_context

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def watermark_in(backend):
    """The committed watermark, read as a consumer task would."""
    with task_context(make_context(backend=backend, inlets=[ORDERS])):
        return ORDERS_LOADED.value


def test_a_failed_load_leaves_the_watermark_and_the_retry_loads_the_same_range(crash_and_retry, monkeypatch):
    loaded = []
    monkeypatch.setattr(orders_watermark, "upsert_into_warehouse", lambda rows: loaded.append(len(rows)))

    report = crash_and_retry(
        load_orders,
        crash=after_call("orders_watermark.upsert_into_warehouse", 1),
        outlets=[ORDERS],
        data_interval_end=T0 + timedelta(hours=6),
    )

    assert [t.outcome for t in report.tries] == ["crashed", "success"]
    assert loaded == [24, 24]  # the whole window again: at-least-once
    assert watermark_in(report.backend) == T0 + timedelta(hours=6)


def test_consecutive_runs_chain_and_re_read_the_lag(state_backend):
    for hour in (6, 7):
        end = T0 + timedelta(hours=hour)
        with task_context(make_context(backend=state_backend, outlets=[ORDERS])):
            load_orders.function(data_interval_end=end)

    with task_context(make_context(backend=state_backend, inlets=[ORDERS])):
        commit = ORDERS_LOADED.last_commit
    assert (commit.previous, commit.value) == (T0 + timedelta(hours=6), T0 + timedelta(hours=7))
    assert commit.summary == {"rows": 5}  # [05:50, 07:00): the hour plus the 10-minute lag margin
