"""The Airflow plugin, registered by the ``airflow.plugins`` entry point: installing the package turns it on.

Its FastAPI app is built on the first request the API server routes to it, so loading the plugin (which
every Airflow component does) imports neither FastAPI nor the views.
"""

from __future__ import annotations

from typing import Any

from airflow.plugins_manager import AirflowPlugin

__all__ = ["DASHBOARD_BUNDLE", "PREFIX", "ResumablePlugin"]

PREFIX = "/resumable"
"""Where the API server mounts the plugin's app."""

DASHBOARD_BUNDLE = PREFIX + "/static/dashboard.js"
"""The dashboard card's ES module (see [`airflow_resumable.ui.dashboard`][airflow_resumable.ui.dashboard])."""


class LazyApp:
    """An ASGI app that builds [`create_app()`][airflow_resumable.ui.app.create_app] when first called."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from airflow_resumable.ui.app import create_app

            self._app = create_app()
        parent = getattr(scope.get("app"), "state", None)  # the API server's app that mounted this one
        manager = getattr(parent, "auth_manager", None)
        if manager is not None:
            self._app.state.auth_manager = manager
        await self._app(scope, receive, send)


class ResumablePlugin(AirflowPlugin):
    """Progress, job intents and watermark history of airflow-resumable in the Airflow UI."""

    name = "airflow_resumable"
    fastapi_apps: list[Any] = [{"app": LazyApp(), "url_prefix": PREFIX, "name": "resumable"}]  # noqa: RUF012 (read by Airflow as a class attribute)
    external_views: list[Any] = [  # noqa: RUF012
        {
            "name": "Progress",
            "href": PREFIX + "/ti/{DAG_ID}/{RUN_ID}/{TASK_ID}?map_index={MAP_INDEX}",
            "destination": "task_instance",
            "url_route": "resumable-progress",
        },
        {
            "name": "Resumable state",
            "href": PREFIX + "/run/{DAG_ID}/{RUN_ID}",
            "destination": "dag_run",
            "url_route": "resumable-run",
        },
        {
            "name": "Resumable",
            "href": PREFIX + "/overview",
            "destination": "nav",
            "url_route": "resumable-overview",
        },
        {
            "name": "Watermarks",
            "href": PREFIX + "/watermarks",
            "destination": "nav",
            "url_route": "resumable-watermarks",
        },
    ]
    # Airflow's UI imports the bundle and renders the component it leaves at globalThis.AirflowPlugin.
    react_apps: list[Any] = [  # noqa: RUF012
        {
            "name": "Resumable card",
            "bundle_url": DASHBOARD_BUNDLE,
            "destination": "dashboard",
            "url_route": "resumable-dashboard",
        },
    ]
