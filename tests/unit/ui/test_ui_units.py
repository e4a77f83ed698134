"""The plugin's pieces that need no Airflow: loading it imports no FastAPI and no views, the progress bar's
scale, job links (ids only), and the HTML (escaped, self-contained)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from airflow_resumable.ops.records import CheckpointRecord, JobRecord, TaskRef
from airflow_resumable.ui.data import TaskProgress
from airflow_resumable.ui.links import job_link
from airflow_resumable.ui.page import bar_scale, duration
from airflow_resumable.ui.views import progress_html


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; import json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_loading_the_plugin_imports_no_fastapi_app_or_views() -> None:
    base = _modules_after("import airflow.plugins_manager")
    loaded = _modules_after("import airflow.plugins_manager; import airflow_resumable.ui.plugin") - base
    assert not [m for m in loaded if m.startswith(("fastapi", "starlette", "airflow.api_fastapi"))]
    assert not [m for m in loaded if m.startswith(("airflow_resumable.ui.app", "airflow_resumable.ui.views"))]


def test_bar_scale_moves_with_items_done() -> None:
    assert [bar_scale(n) for n in (0, 9, 10, 19, 20, 49, 50, 99, 100, 12_345)] == [
        10, 10, 20, 20, 50, 50, 100, 100, 200, 20_000,
    ]  # fmt: skip
    assert duration(42) == "42 s" and duration(185) == "3 min 5 s" and duration(7800) == "2 h 10 min"


def _task(operator: str, **fields: str) -> TaskRef:
    return TaskRef("d", "r", "t", state="running", operator=operator, job_fields=fields)


def test_job_links_use_recorded_page_or_ids_only() -> None:
    db = JobRecord(_task("DatabricksSubmitRunOperator"), "databricks_run_id", 42, "submitted")
    assert job_link(db, "https://dbc.example/#job/1/run/42") == "https://dbc.example/#job/1/run/42"
    assert job_link(db) is None
    serverless = JobRecord(
        _task("EmrServerlessStartJobOperator", application_id="app-1", region_name="eu-west-1"),
        "emr_serverless_job_run_id",
        "run/1",
        "submitted",
    )
    assert job_link(serverless) == (
        "https://console.aws.amazon.com/emr/home?region=eu-west-1#/serverless/applications/app-1/job-runs/run%2F1"
    )
    cluster = JobRecord(_task("EmrCreateJobFlowOperator"), "emr_job_flow_id", "j-ABC", "submitted")
    assert job_link(cluster) == "https://console.aws.amazon.com/emr/home#/clusterDetails/j-ABC"
    assert job_link(JobRecord(_task("X"), "k", None, "submitting")) is None


def test_progress_html_is_escaped_and_self_contained() -> None:
    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    task = _task("<b>Op</b>")
    record = CheckpointRecord(
        task, "rows<script>", 1234, "int", 1234, 0, now - timedelta(seconds=10), 50.0, "abc", 1
    )
    html = progress_html(TaskProgress(task, [record], []), now=now)
    assert "rows<script>" not in html and "rows&lt;script&gt;" in html
    assert 'style="width:61.7%"' in html  # 1,234 of a 2,000 scale
    assert "≈ 500 items (10 s of work)" in html and 'data-refresh="3"' in html
    assert "http://" not in html and "https://" not in html
