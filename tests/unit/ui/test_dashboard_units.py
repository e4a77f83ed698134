"""The dashboard card without Airflow running: its counts, the React app entry Airflow's UI reads, and the
committed bundle (it takes React and Chakra UI from the Airflow UI instead of bundling its own)."""

from __future__ import annotations

from airflow_resumable.ops.records import CheckpointRecord, JobRecord, TaskRef
from airflow_resumable.ui.dashboard import BUNDLE, summary
from airflow_resumable.ui.overview import Overview


def _checkpoint(task_id: str, key: str) -> CheckpointRecord:
    task = TaskRef("d", "r", task_id, state="running", try_number=1)
    return CheckpointRecord(task, key, 10, "int", 10, 0, None, None, None, 1)


def test_summary_counts_tasks_checkpoints_and_possible_orphans() -> None:
    running = [_checkpoint("a", "rows"), _checkpoint("a", "pages"), _checkpoint("b", "rows")]
    failed = TaskRef("d", "r", "load", state="failed", operator="WarehouseLoad")
    orphans = [JobRecord(failed, "warehouse_job_id", "load-1", "submitted")]
    assert summary(Overview(running, orphans)) == {
        "running_tasks": 2,
        "running_checkpoints": 3,
        "possible_orphans": 1,
        "overview": "/plugin/resumable-overview",
    }
    assert summary(Overview([], []))["running_tasks"] == 0


def test_plugin_declares_the_card_as_a_dashboard_react_app() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ReactAppResponse

    from airflow_resumable.ui.plugin import PREFIX, ResumablePlugin

    (app,) = ResumablePlugin.react_apps
    parsed = ReactAppResponse.model_validate(app)
    assert parsed.destination == "dashboard" and parsed.bundle_url == PREFIX + "/static/dashboard.js"
    routes = [v["url_route"] for v in ResumablePlugin.external_views]
    assert "resumable-overview" in routes and parsed.url_route not in routes


def test_bundle_uses_the_airflow_uis_react_and_registers_the_card() -> None:
    code = BUNDLE.read_text(encoding="utf-8")
    for shared in ("globalThis.React", "globalThis.ChakraUI", "globalThis.ReactRouterDOM"):
        assert shared in code
    assert "globalThis.AirflowPlugin = " in code  # what Airflow's UI renders after importing the module
    assert "react.production" not in code and "__SECRET_INTERNALS" not in code and len(code) < 20_000
    assert 'new URL("../api/dashboard", import.meta.url)' in code  # the JSON beside the bundle's own URL
