"""How a DAG author proves that their task resumes instead of restarting.

The unit tests run the task function against in-memory stores that behave like Airflow's (no Airflow
running, milliseconds each); the last test runs it for real with ``dag.test()`` and a real retry.
"""

from __future__ import annotations

import invoice_sync
import pytest
from airflow.sdk import Asset, get_current_context
from invoice_sync import publish_summary, sync_invoices

from airflow_resumable.testing import after_call, before_call, on_write


@pytest.fixture
def posted_pages(monkeypatch):
    """Every page posted to the (fake) ledger, in order, across all tries."""
    pages = []
    real_post = invoice_sync.post_invoices

    def record(rows):
        pages.append(rows[0]["invoice_id"] // 100)
        real_post(rows)

    monkeypatch.setattr(invoice_sync, "post_invoices", record)
    return pages


def test_a_crashed_worker_costs_one_page_not_the_whole_sync(crash_and_retry, posted_pages):
    # The worker dies right after page 3 reached the ledger, before the progress write that follows.
    report = crash_and_retry(sync_invoices, crash=after_call("invoice_sync.post_invoices", 3))

    crashed, retried = report.tries
    assert crashed.outcome == "crashed"
    assert crashed.task_state == {"next_page": 3}  # page 3 was posted but not recorded
    assert retried.outcome == "success"
    assert retried.calls == 4  # pages 3, 4, 5 and 6: page 3 again, nothing before it
    assert posted_pages == [1, 2, 3, 3, 4, 5, 6]
    assert report.result == 4
    assert retried.task_state == {}  # finished: the marker is gone


@pytest.mark.parametrize("hard", [True, False], ids=["killed-worker", "python-error"])
def test_failing_before_a_post_redoes_nothing(crash_and_retry, posted_pages, hard):
    report = crash_and_retry(sync_invoices, crash=before_call("invoice_sync.post_invoices", 4, hard=hard))

    assert [t.outcome for t in report.tries] == ["crashed" if hard else "failed", "success"]
    assert posted_pages == [1, 2, 3, 4, 5, 6]


def test_a_lost_progress_write_is_redone_once(crash_and_retry, posted_pages):
    # The second write to the store never lands (the worker dies while sending it).
    report = crash_and_retry(sync_invoices, crash=on_write(2))

    assert report.tries[0].writes == 1
    assert report.succeeded
    assert posted_pages == [1, 2, 2, 3, 4, 5, 6]


def test_starts_where_the_store_says(task_state_store, posted_pages):
    task_state_store.set("next_page", 5)

    assert sync_invoices.function(task_state_store=task_state_store) == 2
    assert posted_pages == [5, 6]


@pytest.fixture
def asset_state_store_assets():
    """The assets the asset_state_store and context fixtures declare for this module's tests."""
    return [invoice_sync.INVOICES]


def test_summary_is_recorded_on_the_asset(asset_state_store):
    publish_summary.function(asset_state_store=asset_state_store)

    assert asset_state_store[Asset("invoices")].get("synced_through_page") == invoice_sync.PAGES


def test_the_asset_remembers_which_task_wrote_it(context):
    publish_summary.function(asset_state_store=context["asset_state_store"])

    assert context["asset_state_store"][invoice_sync.INVOICES].last_writer("synced_through_page") == {
        "dag_id": "dag",
        "run_id": "run",
        "task_id": "task",
        "map_index": -1,
    }


def test_code_that_asks_for_the_current_context_gets_the_fake_one(context):
    assert get_current_context() is context
    assert context["task_state_store"].get("next_page") is None


def test_a_real_retry_on_real_airflow_resumes(airflow_sandbox, monkeypatch):
    calls = {"n": 0}
    real_post = invoice_sync.post_invoices

    def flaky_post(rows):
        calls["n"] += 1
        if calls["n"] == 4:  # the first try fails on page 4
            raise ConnectionError("ledger unavailable")
        real_post(rows)

    monkeypatch.setattr(invoice_sync, "post_invoices", flaky_post)

    # A throwaway DAG around the real task, with immediate retries so the test stays fast.
    result = airflow_sandbox.run_dag(
        """
        from datetime import timedelta
        from airflow.sdk import dag
        from invoice_sync import sync_invoices

        @dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
        def invoice_sync_retry():
            sync_invoices()

        invoice_sync_retry()
        """
    )

    assert result.states("sync_invoices") == ["failed", "success"]
    assert "posted invoices 300..302" in result.output
    # try 2 resumed at page 4: pages 1-3 were posted exactly once
    assert result.output.count("posted invoices 100..102") == 1
    assert result.output.count("posted invoices 400..402") == 1
    assert result.task_state_keys("sync_invoices") == {}
