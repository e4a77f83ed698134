"""The cost-aware default cadence on real Airflow 3.3 (dag.test(), real retries, the real task_state_store):
a fine-grained loop writes only what a try cannot avoid, and a short bound commits on time."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.airflow

FINE_GRAINED = """
from datetime import timedelta
from airflow.sdk import dag, task
from airflow_resumable import Checkpointer


class CountingStore:
    def __init__(self, inner):
        self.inner, self.sets, self.deletes = inner, 0, 0

    def get(self, key, default=None):
        return self.inner.get(key, default)

    def set(self, key, value, *, retention=None):
        self.sets += 1
        self.inner.set(key, value, retention=retention)

    def delete(self, key):
        self.deletes += 1
        self.inner.delete(key)


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
def fine_grained():
    @task
    def rows(ti=None, task_state_store=None):
        store = CountingStore(task_state_store)
        done = 0
        try:
            with Checkpointer("rows", initial=0, store=store) as ckpt:
                print(f"try {ti.try_number} starts after position {ckpt.position}")
                for row in ckpt.iterate(range(200_000)):
                    if ti.try_number == 1 and row == 150_000:
                        raise RuntimeError("row 150000 is bad on the first try")
                    done += 1
        finally:
            print(f"try {ti.try_number} did {done} rows: sets={store.sets} deletes={store.deletes}")

    rows()


fine_grained()
"""


def test_the_default_writes_only_on_the_way_out_on_a_fine_grained_loop(airflow_sandbox) -> None:
    """200,000 rows, a failure at row 150,000: the former every(1000) wrote 150 times before the failure;
    the default writes once (the exception's save) and deletes once at the end, nothing in between."""
    result = airflow_sandbox.run_dag(FINE_GRAINED)

    assert result.states("rows") == ["failed", "success"], result.output[-3000:]
    assert "try 1 did 150000 rows: sets=1 deletes=0" in result.output
    assert "try 2 starts after position 150000" in result.output
    assert "try 2 did 50000 rows: sets=0 deletes=1" in result.output
    assert result.task_state_keys("rows") == {}


SHORT_BOUND = """
import time
from airflow.sdk import dag, task
from airflow_resumable import Checkpointer
from airflow_resumable.cadence import cost_aware


class TimedStore:
    def __init__(self, inner):
        self.inner, self.calls = inner, []

    def _timed(self, method, *args, **kwargs):
        started = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args, **kwargs)
        finally:
            self.calls.append((method, started, time.perf_counter()))

    def get(self, key, default=None):
        return self._timed("get", key, default)

    def set(self, key, value, *, retention=None):
        self._timed("set", key, value, retention=retention)

    def delete(self, key):
        self._timed("delete", key)


@dag(schedule=None)
def short_bound():
    @task
    def rows(task_state_store=None):
        store = TimedStore(task_state_store)
        with Checkpointer("rows", initial=0, store=store, commit=cost_aware(0.5)) as ckpt:
            for _row in ckpt.iterate(range(1000)):
                time.sleep(0.002)
            end = time.perf_counter()
            pace = ckpt._schedule.pace()
        marks = [(s, e) for _m, s, e in store.calls] + [(end, end)]
        gaps = [b[0] - a[1] for a, b in zip(marks, marks[1:])]
        sets = sum(1 for m, _s, _e in store.calls if m == "set")
        print(f"SHORT sets={sets} worst={max(gaps):.3f} pace={pace:.3f}")

    rows()


short_bound()
"""


def test_a_short_bound_commits_on_time_and_measures_the_real_write_cost(airflow_sandbox) -> None:
    """cost_aware(0.5) over ~2.5 s of work: a write about every 0.5 s (the bound wins over the pace, since
    a ~12 ms write would need 6 s between writes for 0.2 %), and the real write's cost was measured."""
    result = airflow_sandbox.run_dag(SHORT_BOUND)

    assert result.state == "success", result.output[-3000:]
    match = re.search(r"SHORT sets=(\d+) worst=([\d.]+) pace=([\d.]+|inf)", result.output)
    assert match is not None, result.output[-3000:]
    sets, worst, pace = int(match.group(1)), float(match.group(2)), float(match.group(3))
    assert 3 <= sets <= 8
    assert worst <= 1.0  # 0.5 s, with room for a machine that stalls the task for a moment
    assert 1.0 <= pace < 100  # measured: max(write seconds / 0.002, 1 s)
