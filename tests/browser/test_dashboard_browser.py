"""The dashboard card in a real browser against a real deployment: Airflow's home page shows the number of
running checkpointed tasks and of possible orphaned jobs, follows the UI's dark mode, and links to the
"Resumable" page, where the same task and job are listed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from orphaned_job_dag import orphaned_job_dag

if TYPE_CHECKING:
    from airflow_resumable.testing import AirflowDeployment

    from .conftest import Browser

pytestmark = [pytest.mark.browser, pytest.mark.chaos]

LOOP_DAG_ID = "dash_nightly_export"
LOOP = f'''
import time

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every


@dag(dag_id="{LOOP_DAG_ID}", schedule=None)
def export():
    @task
    def export_rows():
        with Checkpointer("rows", initial=0, commit=every(25)) as ckpt:
            for row in ckpt.iterate(range(1, 100_001)):
                time.sleep(0.01)
                if row == 100:
                    print("exported row 100", flush=True)

    export_rows()


export()
'''

JOB_DAG_ID = "dash_warehouse_load"
JOB = orphaned_job_dag(JOB_DAG_ID)


def _card(browser: Browser, timeout: float = 60) -> tuple[str, str]:
    """The card's two counts, once both are numbers (the card fetches them after it renders)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def counts(driver: object) -> tuple[str, str] | None:
        found = [
            browser.driver.find_elements(By.CSS_SELECTOR, f'[data-testid="resumable-{name}"]')
            for name in ("running", "orphans")
        ]
        if not all(found):
            return None
        running, orphans = (f[0].text for f in found)
        return (running, orphans) if running.isdigit() and orphans.isdigit() else None

    return WebDriverWait(browser.driver, timeout).until(counts)


def _card_colors(browser: Browser) -> tuple[str, str]:
    return tuple(  # type: ignore[return-value]
        browser.driver.execute_script(
            "const box = document.querySelector('[data-testid=resumable-dashboard-card] a > div');"
            "const s = getComputedStyle(box); return [s.backgroundColor, s.color];"
        )
    )


def test_dashboard_card_counts_and_links_to_the_overview(
    airflow_deployment: AirflowDeployment, browser: Browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    airflow = airflow_deployment
    airflow.add_dag(JOB, JOB_DAG_ID)
    airflow.add_dag(LOOP, LOOP_DAG_ID)
    job_run = airflow.trigger(JOB_DAG_ID)
    airflow.wait_for_task(JOB_DAG_ID, job_run, "load", "failed", timeout=180)
    loop_run = airflow.trigger(LOOP_DAG_ID)
    airflow.wait_for_log(LOOP_DAG_ID, loop_run, "export_rows", "exported row 100", timeout=180)

    browser.login("viewer")
    browser.open("/")
    assert _card(browser) == ("1", "1")
    card = browser.driver.find_element(By.CSS_SELECTOR, '[data-testid="resumable-dashboard-card"]')
    assert "running checkpointed task" in card.text and "possible orphaned job" in card.text, card.text
    browser.shot("dashboard")

    # The UI switched to dark mode: the card's colours follow it.
    light = _card_colors(browser)
    browser.driver.execute_script("localStorage.setItem('theme', 'dark')")
    browser.open("/")
    _card(browser)
    dark = _card_colors(browser)
    browser.shot("dashboard-dark")
    browser.driver.execute_script("localStorage.removeItem('theme')")
    assert dark != light, (light, dark)

    link = browser.driver.find_element(By.CSS_SELECTOR, '[data-testid="resumable-dashboard-card"] a')
    href = link.get_attribute("href") or ""
    assert href.endswith("/plugin/resumable-overview"), href
    browser.open("/plugin/resumable-overview")
    WebDriverWait(browser.driver, 60).until(
        lambda d: d.switch_to.frame(d.find_element(By.CSS_SELECTOR, "iframe")) or True
    )
    WebDriverWait(browser.driver, 60).until(
        lambda d: (
            d.find_elements(By.CSS_SELECTOR, "tr.running-checkpoint")
            and d.find_elements(By.CSS_SELECTOR, "tr.possible-orphan")
        )
    )
    assert LOOP_DAG_ID in browser.driver.find_element(By.CSS_SELECTOR, "tr.running-checkpoint").text
    assert JOB_DAG_ID in browser.driver.find_element(By.CSS_SELECTOR, "tr.possible-orphan").text
    browser.driver.switch_to.default_content()
