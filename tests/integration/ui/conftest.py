"""The API server's own FastAPI app with the plugin loaded from its entry point (simple auth manager with an
admin, a viewer and a user without a role), called in-process through Starlette's test client. It reads the
metadata DB the ``airflow_sandbox`` fixture gives each test, where ``dag.test()`` runs leave state behind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

USERS = {"admin": "admin", "viewer": "viewer", "nobody": ""}
"""User name to simple auth manager role (``nobody`` has none: every authorization check refuses it)."""


@pytest.fixture(scope="module")
def ui_app(_airflow_sandbox_session: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from starlette.testclient import TestClient

    passwords = {name: f"{name}-pw-1" for name in USERS}
    pw_file = Path(tmp_path_factory.mktemp("auth")) / "passwords.json"
    pw_file.write_text(json.dumps(passwords))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, r in USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__API_AUTH__JWT_SECRET": "ui-tests-" + "s" * 64,
        }.items():
            mp.setenv(name, value)
        from airflow import plugins_manager
        from airflow.api_fastapi.app import create_app, purge_cached_app

        purge_cached_app()
        plugins_manager.get_fastapi_plugins.cache_clear()
        app = create_app("core")
        with TestClient(app) as client:
            client.passwords = passwords  # type: ignore[attr-defined]
            yield client
        purge_cached_app()


@pytest.fixture
def login(ui_app) -> Callable[[str | None], object]:
    """``login(user)``: the test client with that user's JWT in Airflow's ``_token`` cookie (as the UI's
    iframes send it); ``login(None)`` clears it."""

    def _login(user: str | None) -> object:
        ui_app.cookies.clear()
        if user is not None:
            response = ui_app.post("/auth/token", json={"username": user, "password": ui_app.passwords[user]})
            assert response.status_code in (200, 201), response.text
            ui_app.cookies.set("_token", response.json()["access_token"])
        return ui_app

    return _login
