"""The plugin's FastAPI app, mounted by the API server under ``/resumable``: read-only HTML views and their
JSON, each checked by the auth manager with the dependencies Airflow's own state-store routes use
(``requires_access_dag(GET, TASK_INSTANCE)`` for task state, ``requires_access_asset(GET)`` for assets).

Imported only inside the API server (on the first request), never at DAG parse time.
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep  # noqa: TC002 (FastAPI reads it at runtime)
from airflow.api_fastapi.core_api.security import (
    ReadableTIFilterDep,
    requires_access_asset,
    requires_access_dag,
)
from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from airflow_resumable.ui import dashboard, data, overview, views
from airflow_resumable.ui.page import esc, page

__all__ = ["create_app"]

TASK_ACCESS = [Depends(requires_access_dag(method="GET", access_entity=DagAccessEntity.TASK_INSTANCE))]
ASSET_ACCESS = [Depends(requires_access_asset(method="GET"))]


def _map_index(map_index: str | None = None) -> int:
    """The ``map_index`` query parameter; empty or an unsubstituted ``{MAP_INDEX}`` means not mapped (-1)."""
    if map_index in (None, "", "{MAP_INDEX}", "undefined", "null"):
        return -1
    try:
        return int(map_index)
    except ValueError:
        detail = f"map_index must be an integer, got {map_index!r}"
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail) from None


MapIndexDep = Annotated[int, Depends(_map_index)]


def _task(session: Any, dag_id: str, dag_run_id: str, task_id: str, map_index: int) -> data.TaskProgress:
    found = data.task_progress(session, dag_id, dag_run_id, task_id, map_index)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"Task instance not found for dag_id={dag_id!r}, run_id={dag_run_id!r}, task_id={task_id!r}, "
            f"map_index={map_index}",
        )
    return found


def _run(session: Any, dag_id: str, dag_run_id: str) -> list[data.TaskProgress]:
    found = data.run_progress(session, dag_id, dag_run_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"DAG run {dag_id}/{dag_run_id} not found")
    return found


def create_app() -> FastAPI:
    """A new app with the plugin's routes."""
    from airflow.api_fastapi.app import get_auth_manager

    app = FastAPI(title="airflow-resumable", docs_url=None, redoc_url=None, openapi_url=None)
    # What AuthManagerDep reads from the app serving a request; LazyApp passes on the API server's own.
    app.state.auth_manager = get_auth_manager()

    @app.exception_handler(HTTPException)
    async def _refusal(request: Request, exc: HTTPException) -> Any:
        """JSON routes answer like Airflow's API; HTML routes show the same refusal as a page."""
        if request.url.path.rstrip("/").split("/")[-1] == "api" or "/api/" in request.url.path:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        title = {401: "Not signed in", 403: "Access refused", 404: "Not found"}.get(exc.status_code, "Error")
        why = {
            401: "Sign in to Airflow first; this page uses the same session as the Airflow UI.",
            403: "Airflow's auth manager refused this user: the progress views need read access to the DAG's "
            "task instances, the Watermarks page read access to assets (as Airflow's state-store pages do).",
        }.get(exc.status_code, "")
        body = (
            f'<div class="card refused"><p>HTTP {exc.status_code}: {esc(exc.detail)}</p>'
            f'<p class="muted">{esc(why)}</p></div>'
        )
        return HTMLResponse(page(title, body), status_code=exc.status_code, headers=exc.headers)

    @app.get("/api/ti/{dag_id}/{dag_run_id}/{task_id}", dependencies=TASK_ACCESS)
    def ti_json(
        dag_id: str, dag_run_id: str, task_id: str, map_index: MapIndexDep, session: SessionDep
    ) -> dict[str, Any]:
        """Checkpoints and job intents of one task instance."""
        return _task(session, dag_id, dag_run_id, task_id, map_index).to_json()

    @app.get("/ti/{dag_id}/{dag_run_id}/{task_id}", dependencies=TASK_ACCESS, response_class=HTMLResponse)
    def ti_html(
        dag_id: str, dag_run_id: str, task_id: str, map_index: MapIndexDep, session: SessionDep
    ) -> str:
        """The task instance tab "Progress"."""
        return views.progress_html(_task(session, dag_id, dag_run_id, task_id, map_index))

    @app.get("/api/run/{dag_id}/{dag_run_id}", dependencies=TASK_ACCESS)
    def run_json(dag_id: str, dag_run_id: str, session: SessionDep) -> dict[str, Any]:
        """Every task instance of a DAG run with its checkpoints and jobs."""
        return {"task_instances": [p.to_json() for p in _run(session, dag_id, dag_run_id)]}

    @app.get("/run/{dag_id}/{dag_run_id}", dependencies=TASK_ACCESS, response_class=HTMLResponse)
    def run_html(dag_id: str, dag_run_id: str, session: SessionDep) -> str:
        """The DAG run tab."""
        return views.run_html(dag_id, dag_run_id, _run(session, dag_id, dag_run_id))

    @app.get("/api/overview", dependencies=TASK_ACCESS)
    def overview_json(readable: ReadableTIFilterDep, session: SessionDep) -> dict[str, Any]:
        """Running checkpointed task instances and possible orphaned jobs, in the DAGs the user may read."""
        return overview.overview(session, set(readable.value or ())).to_json()

    @app.get("/overview", dependencies=TASK_ACCESS, response_class=HTMLResponse)
    def overview_html(readable: ReadableTIFilterDep, session: SessionDep) -> str:
        """The "Resumable" page."""
        return overview.overview_html(overview.overview(session, set(readable.value or ())))

    @app.get("/api/dashboard", dependencies=TASK_ACCESS)
    def dashboard_json(readable: ReadableTIFilterDep, session: SessionDep) -> dict[str, Any]:
        """The dashboard card's counts: the "Resumable" page's, in the DAGs the user may read."""
        return dashboard.summary(overview.overview(session, set(readable.value or ())))

    @app.get("/static/dashboard.js", include_in_schema=False)
    def dashboard_bundle() -> FileResponse:
        """The dashboard card's code (no data in it, like the UI's own assets: no access check)."""
        return FileResponse(
            dashboard.BUNDLE, media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/api/watermarks", dependencies=ASSET_ACCESS)
    def watermarks_json(session: SessionDep) -> dict[str, Any]:
        """Every asset with a Watermark, decoded, with its kept history."""
        return {"assets": [a.to_json() for a in data.watermarks(session)]}

    @app.get("/watermarks", dependencies=ASSET_ACCESS, response_class=HTMLResponse)
    def watermarks_html(session: SessionDep) -> str:
        """The Watermarks page."""
        return views.watermarks_html(data.watermarks(session))

    return app
