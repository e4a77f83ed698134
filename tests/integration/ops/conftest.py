"""The real Airflow REST app for the operating API's tests: the API server's own FastAPI app (simple auth
manager with an admin and a read-only viewer) served by uvicorn on a free 127.0.0.1 port in a thread, so
``apache-airflow-client`` talks real HTTP to it. It reads the same metadata DB the ``airflow_sandbox``
fixture gives each test, where ``dag.test()`` runs the DAGs that leave state behind."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

USERS = {"admin": ("admin", "admin-pw-1"), "viewer": ("viewer", "viewer-pw-1")}


@dataclass(frozen=True)
class ApiServer:
    url: str
    passwords: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def api_server(
    _airflow_sandbox_session: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ApiServer]:
    """The api-server's app for this module's tests, with users ``admin`` (Admin) and ``viewer`` (Viewer)."""
    import uvicorn

    passwords = {name: pw for name, (_role, pw) in USERS.items()}
    pw_file = Path(tmp_path_factory.mktemp("auth")) / "passwords.json"
    pw_file.write_text(json.dumps(passwords))
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{n}:{r}" for n, (r, _) in USERS.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(pw_file),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__API_AUTH__JWT_SECRET": "ops-tests-" + "s" * 64,
        }.items():
            mp.setenv(name, value)
        from airflow.api_fastapi.app import create_app, purge_cached_app

        purge_cached_app()
        app = create_app("core")
        port = _free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="ops-api-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 60
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the in-process API server did not start")
            time.sleep(0.05)
        try:
            yield ApiServer(f"http://127.0.0.1:{port}", passwords)
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            purge_cached_app()
