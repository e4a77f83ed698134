"""The total and the time left, end to end through real ``dag.test()`` retries: a list's length is stored
with the progress and the Progress tab, its JSON and the DAG run tab show the percentage; a generator has no
total unless given; a bad total fails the task before anything is written."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow

DAG = """
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every

ORDERS = [f"order-{i}" for i in range(120)]


def orders():
    yield from ORDERS


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
def ui_totals():
    @task
    def from_list(ti=None):
        with Checkpointer("orders", commit=every(10)) as ckpt:
            for n, order in enumerate(ckpt.iterate(ORDERS), ckpt.items_done + 1):
                if n == (50 if ti.try_number == 1 else 90):
                    raise ConnectionError(f"lost the warehouse at {order}")

    @task
    def from_generator(ti=None):
        with Checkpointer("orders", commit=every(10)) as ckpt:
            for n, _ in enumerate(ckpt.iterate(orders()), ckpt.items_done + 1):
                if n == 30:
                    raise ConnectionError("lost the warehouse")

    @task
    def from_generator_with_total(ti=None):
        with Checkpointer("orders", commit=every(10)) as ckpt:
            for n, _ in enumerate(ckpt.iterate(orders(), total=len(ORDERS)), ckpt.items_done + 1):
                if n == 30:
                    raise ConnectionError("lost the warehouse")

    @task(retries=0)
    def bad_total():
        with Checkpointer("orders", commit=every(1)) as ckpt:
            for _ in ckpt.iterate(orders(), total="120"):
                pass

    from_list()
    from_generator()
    from_generator_with_total()
    bad_total()


ui_totals()
"""


def test_total_percent_and_time_left_after_a_retry_and_no_total_for_a_generator(airflow_sandbox, login):
    result = airflow_sandbox.run_dag(DAG)
    assert result.states("from_list") == ["failed", "failed"], result.output[-3000:]

    raw = result.task_state("from_list", "orders")
    assert (raw["total"], raw["position"], raw["items_done"]) == (120, 89, 89)
    assert raw["try_number"] == 2 and raw["items_at_start"] == 49 and raw["started_at"] <= raw["updated_at"]

    client = login("viewer")
    data = client.get(f"/resumable/api/ti/ui_totals/{result.run_id}/from_list").json()
    (ckpt,) = data["checkpoints"]
    assert (ckpt["total"], ckpt["position"], ckpt["percent"], ckpt["items_at_start"]) == (120, 89, 74.2, 49)
    assert ckpt["average_items_per_second"] is not None and ckpt["seconds_left"] is not None

    html = client.get(f"/resumable/ti/ui_totals/{result.run_id}/from_list").text
    assert "89 of 120 (74%)" in html and 'data-percent="74.2"' in html and 'aria-valuemax="120"' in html
    assert 'style="width:74.2%"' in html
    assert "— (no try running)" in html  # the task failed: no honest time left to show
    assert "items/s (this try&#x27;s average)" in html

    run = client.get(f"/resumable/run/ui_totals/{result.run_id}").text
    assert "74% of 120" in run and "<th data-sort>Time left</th>" in run

    # A generator has no total unless given; a bad total fails the task before anything is written.
    unknown = result.task_state("from_generator", "orders")
    assert unknown["position"] == 29 and "total" not in unknown
    assert result.task_state("from_generator_with_total", "orders")["total"] == 120

    assert result.states("bad_total") == ["failed"]
    assert result.task_state_keys("bad_total") == {}
    assert "iterate(total=...) must be the number of items as a whole number >= 0" in result.output

    (ckpt,) = client.get(f"/resumable/api/ti/ui_totals/{result.run_id}/from_generator").json()["checkpoints"]
    assert ckpt["total"] is None and ckpt["percent"] is None
    html = client.get(f"/resumable/ti/ui_totals/{result.run_id}/from_generator").text
    assert "unknown: no total recorded" in html and "29 items done (no total recorded" in html
