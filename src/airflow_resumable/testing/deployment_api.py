"""The REST side of an ``AirflowDeployment``: a small client of the
api-server's public API (``/api/v2``) for what tests need: trigger runs, read task instances and their
tries, clear a task, and read task and asset state.

It authenticates the way a script would: a JWT from the simple auth manager's ``/auth/token`` (the
deployment runs with ``simple_auth_manager_all_admins``), renewed when the server answers 401.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

__all__ = ["RestClient"]


class RestClient:
    """``GET``/``POST``/``PATCH`` against one api-server, returning parsed JSON."""

    def __init__(self, base_url: str) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=30.0)
        self._token: str | None = None

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def token(self) -> str:
        """A JWT for the REST API (fetched once, renewed on 401)."""
        if self._token is None:
            response = self._http.get("/auth/token")
            response.raise_for_status()
            self._token = str(response.json()["access_token"])
        return self._token

    def request(self, method: str, path: str, *, ok_404: bool = False, **kwargs: Any) -> Any:
        """Call ``/api/v2<path>``; ``None`` for a 404 when ``ok_404``; raises on other errors."""
        for _ in range(2):
            response = self._http.request(
                method, "/api/v2" + path, headers={"Authorization": f"Bearer {self.token()}"}, **kwargs
            )
            if response.status_code != 401:
                break
            self._token = None
        if ok_404 and response.status_code == 404:
            return None
        if response.is_error:
            raise RuntimeError(f"{method} {path} -> HTTP {response.status_code}: {response.text[:500]}")
        return response.json() if response.content else None

    def healthy(self) -> bool:
        """Whether the api-server answers its health endpoint."""
        try:
            return self._http.get("/api/v2/monitor/health", timeout=2.0).status_code == 200
        except Exception:
            return False

    # -- DAGs and runs -----------------------------------------------------------------------------------
    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's REST record, or ``None`` until the DAG processor has parsed it."""
        return self.request("GET", f"/dags/{_q(dag_id)}", ok_404=True)  # type: ignore[no-any-return]

    def import_errors(self) -> list[dict[str, Any]]:
        """The DAG files that failed to import, with their tracebacks."""
        return list(self.request("GET", "/importErrors", params={"limit": 100})["import_errors"])

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Unpause ``dag_id`` and start a run now; returns its run id."""
        self.request("PATCH", f"/dags/{_q(dag_id)}", json={"is_paused": False})
        body = {"logical_date": None, "conf": conf or {}}
        run = self.request("POST", f"/dags/{_q(dag_id)}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The run's REST record (``state``...)."""
        return self.request("GET", f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}")  # type: ignore[no-any-return]

    # -- task instances ----------------------------------------------------------------------------------
    def _ti_path(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
        path = f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}"
        return path if map_index < 0 else f"{path}/{map_index}"

    def task_instance(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1
    ) -> dict[str, Any] | None:
        """The task instance's REST record (``state``, ``try_number``, ``id``...), ``None`` if absent."""
        return self.request(  # type: ignore[no-any-return]
            "GET", self._ti_path(dag_id, run_id, task_id, map_index), ok_404=True
        )

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones included)."""
        path = f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances"
        return list(self.request("GET", path, params={"limit": 1000})["task_instances"])

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of one task instance (``try_number``, ``state``, ``start_date``, ``end_date``)."""
        path = self._ti_path(dag_id, run_id, task_id, map_index) + "/tries"
        found = self.request("GET", path, ok_404=True)
        return [] if found is None else sorted(found["task_instances"], key=lambda t: t["try_number"])

    def clear(self, dag_id: str, run_id: str, task_id: str) -> None:
        """Clear one task (as the UI's "Clear" does): a running try is stopped and the task runs again."""
        body = {
            "dry_run": False,
            "task_ids": [task_id],
            "dag_run_id": run_id,
            "only_failed": False,
            "only_running": False,
            "reset_dag_runs": True,
        }
        self.request("POST", f"/dags/{_q(dag_id)}/clearTaskInstances", json=body)

    # -- state stores ------------------------------------------------------------------------------------
    def task_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        """Every key of one task instance's ``task_state_store`` with its (JSON) value."""
        path = f"/dags/{_q(dag_id)}/dagRuns/{_q(run_id)}/taskInstances/{_q(task_id)}/state-store"
        found = self.request("GET", path, params={"map_index": map_index, "limit": 1000}, ok_404=True)
        entries = [] if found is None else found["task_state_store"]
        return {e["key"]: e["value"] for e in entries}

    def asset_id(self, name: str) -> int | None:
        """The id of the asset called ``name``, ``None`` when no DAG declares it yet."""
        found = self.request("GET", "/assets", params={"name_pattern": name, "limit": 100})
        for asset in found["assets"]:
            if asset["name"] == name:
                return int(asset["id"])
        return None

    def asset_state(self, name: str) -> dict[str, dict[str, Any]]:
        """Every key of an asset's ``asset_state_store``: ``{key: {"value", "last_updated_by"...}}``."""
        asset_id = self.asset_id(name)
        if asset_id is None:
            return {}
        found = self.request("GET", f"/assets/{asset_id}/state-store", params={"limit": 1000})
        return {e["key"]: e for e in found["asset_state_store"]}


def _q(part: str) -> str:
    return quote(part, safe="")
