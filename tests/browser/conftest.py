"""The browser tier: one real deployment (PostgreSQL, scheduler, LocalExecutor, api-server with this
package's plugin loaded from its entry point) with the simple auth manager's real users, and headless
Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium.

Screenshots go to this run's output folder (printed), and also to ``$AIRFLOW_RESUMABLE_SCREENSHOTS`` when
set (``docs/img`` holds copies of current ones). Every test here is skipped, with the reason printed, when
Chromium or its driver is not installed; ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_resumable.testing import AirflowDeployment

USERS = {"admin": "admin", "viewer": "viewer", "nobody": ""}
"""Simple auth manager users and roles: ``nobody`` has no role, so the auth manager refuses it everything."""
PASSWORDS = {name: f"{name}-pw-1" for name in USERS}


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="session")
def chromium_paths() -> tuple[str, str]:
    found = _chromium()
    if found is None:
        reason = (
            "headless Chromium is not installed (needs Debian's chromium and chromium-driver: "
            "apt-get install -y chromium chromium-driver)"
        )
        print(f"SKIPPED browser tests: {reason}")
        pytest.skip(reason)
    return found


def login_token(base_url: str, user: str) -> str:
    """A JWT for ``user`` from the simple auth manager's ``/auth/token`` (what its login form issues)."""
    import httpx

    response = httpx.post(
        f"{base_url}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


@pytest.fixture(scope="module")
def airflow_deployment(
    chromium_paths: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowDeployment]:
    from airflow_resumable.testing import AirflowDeployment

    root = tmp_path_factory.mktemp("ui-deployment")
    pw_file = root / "passwords.json"
    pw_file.write_text(json.dumps(PASSWORDS))
    env = {
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
    }
    deployment = AirflowDeployment(root, env=env)
    deployment.api.token = lambda: login_token(deployment.url, "admin")  # type: ignore[method-assign]
    try:
        yield deployment.start()
    finally:
        deployment.stop()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nUI screenshots: {folder}")
    return folder


class Browser:
    """A headless Chromium session logged in as one user (Airflow's ``_token`` cookie)."""

    def __init__(self, driver: Any, base_url: str, screenshots: Path) -> None:
        self.driver = driver
        self.base_url = base_url
        self.screenshots = screenshots

    def login(self, user: str) -> None:
        self.driver.get(self.base_url + "/api/v2/monitor/health")
        self.driver.delete_all_cookies()
        self.driver.add_cookie({"name": "_token", "value": login_token(self.base_url, user), "path": "/"})

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def shot(self, name: str) -> Path:
        path = self.screenshots / f"ui-{name}.png"
        self.driver.save_screenshot(str(path))
        extra = os.environ.get("AIRFLOW_RESUMABLE_SCREENSHOTS")
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, Path(extra) / path.name)
        return path


@pytest.fixture(scope="module")
def browser(
    chromium_paths: tuple[str, str], airflow_deployment: AirflowDeployment, screenshots: Path
) -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield Browser(driver, airflow_deployment.url, screenshots)
    finally:
        driver.quit()
