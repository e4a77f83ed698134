"""The plugin in a real browser against a real deployment: the Progress tab of a running checkpointed task
shows a moving bar, the DAG run tab lists the task after it was SIGKILLed and resumed, the Watermarks page
shows a rewind with its reason, and a user without a role gets the auth manager's refusal."""

from __future__ import annotations

import signal
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_resumable.testing import AirflowDeployment

    from .conftest import Browser

pytestmark = [pytest.mark.browser, pytest.mark.chaos]

DAG_ID = "ui_nightly_export"
EXPORT = f'''
import time
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every


@dag(dag_id="{DAG_ID}", schedule=None, default_args={{"retries": 1, "retry_delay": timedelta(seconds=0)}})
def export():
    @task
    def export_rows():
        with Checkpointer("rows", initial=0, commit=every(25), fingerprint="orders-2026-03") as ckpt:
            for row in ckpt.iterate(range(1, 100_001)):
                time.sleep(0.01)
                if row % 100 == 0:
                    print(f"exported row {{row}}", flush=True)

    @task(retries=0)
    def export_part(part):
        with Checkpointer("offset", initial=0, commit=every(10)) as ckpt:
            for n in ckpt.iterate(range(1, 1001)):
                if n == 40 * (part + 1):
                    raise ConnectionError(f"part {{part}}: warehouse connection dropped at {{n}}")

    export_rows()
    export_part.expand(part=[0, 1, 2])


export()
'''

WM_DAG_ID = "ui_orders_incremental"
REASON = "reload March after the currency fix"
WATERMARK = f'''
from datetime import datetime, timezone

from airflow.sdk import Asset, dag, task

from airflow_resumable import Watermark

ORDERS = Asset("orders", uri="s3://lake/orders")
START = datetime(2026, 3, 1, tzinfo=timezone.utc)


def day(n):
    return datetime(2026, 3, n, tzinfo=timezone.utc)


@dag(dag_id="{WM_DAG_ID}", schedule=None)
def orders():
    @task(outlets=[ORDERS])
    def load_orders():
        for region, until in (("eu", 9), ("us", 8)):
            with Watermark(ORDERS, initial=START, partition=region).window(until=day(until)) as w:
                w.record(rows=1000 + until)
        Watermark(ORDERS, initial=START, partition="eu").rewind(day(2), reason="{REASON}")
        with Watermark(ORDERS, initial=START, partition="eu").window(until=day(5)) as w:
            w.record(rows=312)

    load_orders()


orders()
'''


def _bar(browser: Browser) -> tuple[int, str]:
    """Items done and bar width in the Progress iframe (switched into it)."""
    from selenium.webdriver.common.by import By

    card = browser.driver.find_element(By.CSS_SELECTOR, ".checkpoint")
    width = card.find_element(By.CSS_SELECTOR, ".bar > i").get_attribute("style") or ""
    return int(card.get_attribute("data-items") or 0), width


def _iframe(browser: Browser, timeout: float = 60) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser.driver, timeout).until(
        ec.frame_to_be_available_and_switch_to_it((By.CSS_SELECTOR, "iframe"))
    )


def _wait_css(browser: Browser, css: str, timeout: float = 30) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser.driver, timeout).until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def test_progress_tab_moves_and_run_tab_lists_the_killed_and_resumed_task(
    airflow_deployment: AirflowDeployment, browser: Browser
) -> None:
    airflow = airflow_deployment
    airflow.add_dag(EXPORT, DAG_ID)
    run_id = airflow.trigger(DAG_ID)
    airflow.wait_for_log(DAG_ID, run_id, "export_rows", "exported row 200", timeout=180)
    browser.login("viewer")

    browser.open(f"/dags/{DAG_ID}/runs/{run_id}/tasks/export_rows/plugin/resumable-progress")
    _iframe(browser)
    _wait_css(browser, ".checkpoint")
    first = _bar(browser)
    time.sleep(4)  # the page refreshes itself every 3 s
    second = _bar(browser)
    assert second[0] > first[0] and second[1] != first[1], (first, second)
    browser.driver.switch_to.default_content()
    browser.shot("progress")

    browser.open("/plugin/resumable-overview")  # the nav page: running checkpointed tasks
    _iframe(browser)
    _wait_css(browser, "tr.running-checkpoint")
    from selenium.webdriver.common.by import By

    assert "export_rows" in browser.driver.find_element(By.CSS_SELECTOR, "tr.running-checkpoint").text
    browser.driver.switch_to.default_content()
    browser.shot("overview")

    airflow.kill(airflow.task_processes(DAG_ID, run_id, "export_rows").task, signal.SIGKILL)
    airflow.wait_for_log(DAG_ID, run_id, "export_rows", "resuming after position", timeout=180, try_number=2)
    airflow.wait_for_task(DAG_ID, run_id, "export_rows", "running", timeout=60)

    browser.open(f"/dags/{DAG_ID}/runs/{run_id}/plugin/resumable-run")
    _iframe(browser)
    _wait_css(browser, 'tr[data-task="export_rows"]')

    row = browser.driver.find_element(By.CSS_SELECTOR, 'tr[data-task="export_rows"]')
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[2] == "running" and cells[3] == "2", cells
    parts = browser.driver.find_elements(By.CSS_SELECTOR, 'tr[data-task="export_part"]')
    assert len(parts) == 3
    browser.driver.find_element(By.XPATH, "//th[text()='Items done']").click()  # sortable
    browser.driver.switch_to.default_content()
    browser.shot("dag-run")

    # A mapped task instance's tab: the UI fills in {MAP_INDEX}.
    browser.open(f"/dags/{DAG_ID}/runs/{run_id}/tasks/export_part/mapped/1/plugin/resumable-progress")
    _iframe(browser)
    _wait_css(browser, ".checkpoint")
    assert _bar(browser)[0] == 79
    assert "Progress of export_part[1]" in browser.driver.find_element(By.TAG_NAME, "h1").text
    browser.driver.switch_to.default_content()


def test_watermarks_page_shows_the_rewind_and_its_reason(
    airflow_deployment: AirflowDeployment, browser: Browser
) -> None:
    from selenium.webdriver.common.by import By

    airflow = airflow_deployment
    airflow.add_dag(WATERMARK, WM_DAG_ID)
    run_id = airflow.trigger(WM_DAG_ID)
    run = airflow.wait_for_run(WM_DAG_ID, run_id, timeout=180)
    assert run["state"] == "success", airflow.task_log(WM_DAG_ID, run_id, "load_orders", 1)[-3000:]
    browser.login("viewer")
    browser.open("/plugin/resumable-watermarks")
    _iframe(browser)
    _wait_css(browser, ".asset")
    text = browser.driver.find_element(By.CSS_SELECTOR, ".asset").text
    assert REASON in text and "rewind" in text and "watermark/eu" in text and "watermark/us" in text
    assert browser.driver.find_elements(By.CSS_SELECTOR, "svg.timeline path.rewind")
    browser.driver.switch_to.default_content()
    browser.shot("watermarks")
    # The Airflow UI switched to dark mode: the embedded page follows it.
    browser.driver.execute_script("localStorage.setItem('theme', 'dark')")
    browser.open("/plugin/resumable-watermarks")
    _iframe(browser)
    _wait_css(browser, ".asset")
    assert "dark" in browser.driver.execute_script("return document.documentElement.className")
    browser.driver.switch_to.default_content()
    browser.shot("watermarks-dark")
    browser.driver.execute_script("localStorage.removeItem('theme')")


def test_a_user_without_a_role_is_refused(airflow_deployment: AirflowDeployment, browser: Browser) -> None:
    from selenium.webdriver.common.by import By

    browser.login("nobody")
    browser.open("/resumable/watermarks")
    body = browser.driver.find_element(By.TAG_NAME, "body").text
    assert "Access refused" in body and "HTTP 403" in body and "Forbidden" in body, body
    assert "orders" not in body
    browser.shot("refused")
