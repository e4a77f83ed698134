"""The plugin's pieces that need no Airflow: loading it imports no FastAPI and no views, the progress bar's
scale, job links (ids only), the HTML (escaped, self-contained), and what the views make of the stored
total, rate and try start (percent, time left, or why it is unknown) and of a watermark's settings."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from airflow_resumable.ops.records import CheckpointRecord, JobRecord, TaskRef
from airflow_resumable.ui.data import TaskProgress
from airflow_resumable.ui.links import job_link
from airflow_resumable.ui.overview import Overview, overview_html
from airflow_resumable.ui.page import bar_scale, duration
from airflow_resumable.ui.views import progress_html, run_html


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


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _record(task: TaskRef, **fields: object) -> CheckpointRecord:
    base: dict[str, object] = {
        "task": task,
        "key": "rows",
        "position": 1000,
        "position_type": "int",
        "items_done": 1000,
        "pending_runs": 0,
        "updated_at": NOW - timedelta(seconds=10),
        "items_per_second": 12.0,
        "fingerprint": "abc",
        "written_by_try": 2,
    }
    return CheckpointRecord(**{**base, **fields})  # type: ignore[arg-type]


def test_progress_tab_shows_percent_rate_and_time_left_from_the_stored_fields() -> None:
    task = _task("Op")
    record = _record(task, total=4000, started_at=NOW - timedelta(seconds=110), items_at_start=0)
    assert record.percent == 25.0 and record.average_rate == 10.0 and record.seconds_left == 300.0
    html = progress_html(TaskProgress(task, [record], []), now=NOW)
    assert "1,000 of 4,000 (25%)" in html and 'style="width:25.0%"' in html
    assert 'data-total="4000"' in html and 'data-percent="25.0"' in html and 'aria-valuemax="4000"' in html
    assert "10 items/s (this try&#x27;s average)" in html
    assert "≈ 4 min 50 s" in html  # 3,000 left at 10/s, less the 10 s since the last commit
    assert "This try started" in html

    as_json = record.to_json()
    assert (as_json["total"], as_json["percent"], as_json["seconds_left"]) == (4000, 25.0, 300.0)
    assert as_json["average_items_per_second"] == 10.0 and as_json["items_at_start"] == 0


def test_time_left_says_unknown_when_it_cannot_be_computed() -> None:
    task = _task("Op")
    no_total = progress_html(TaskProgress(task, [_record(task)], []), now=NOW)
    assert "unknown: no total recorded (pass total=, or iterate a list or range)" in no_total
    assert "1,000 items done (no total recorded" in no_total

    no_rate = _record(task, total=4000, items_per_second=None)
    assert "unknown: no rate recorded yet" in progress_html(TaskProgress(task, [no_rate], []), now=NOW)

    stopped = TaskRef("d", "r", "t", state="up_for_retry", operator="Op")
    html = progress_html(TaskProgress(stopped, [_record(stopped, total=4000)], []), now=NOW)
    assert "— (no try running)" in html

    done = _record(task, items_done=4000, total=4000)
    assert "0 s (every item done)" in progress_html(TaskProgress(task, [done], []), now=NOW)
    # Without the try's start (older records) the pace between the last commits stands in.
    assert _record(task, total=4000).seconds_left == 250.0


def test_run_tab_has_progress_and_time_left_columns() -> None:
    task = _task("Op")
    known = TaskProgress(task, [_record(task, total=4000)], [])
    other = TaskRef("d", "r", "u", state="running", operator="Op")
    unknown = TaskProgress(other, [_record(other)], [])
    html = run_html("d", "r", [known, unknown], now=NOW)
    assert "<th data-sort>Progress</th>" in html and "<th data-sort>Time left</th>" in html
    assert "25% of 4,000" in html and "data-v='25.0'" in html and "≈ 4 min 0 s" in html
    assert html.count("class='bar mini'") == 1


def test_overview_shows_progress_and_time_left() -> None:
    task = _task("Op")
    html = overview_html(Overview([_record(task, total=4000), _record(task, key="b")], []), now=NOW)
    assert "1,000 of 4,000 (25%)" in html and "≈ 4 min 0 s" in html and "unknown (no total)" in html


def test_watermarks_page_shows_lag_settle_and_initial_or_says_they_were_not_recorded() -> None:
    from airflow_resumable._watermark_record import WatermarkSettings, WatermarkWriter
    from airflow_resumable.ops.records import WatermarkKey, WatermarkView
    from airflow_resumable.ui.data import AssetWatermarks
    from airflow_resumable.ui.views import watermarks_html

    def key(name: str, settings: WatermarkSettings[int] | None) -> WatermarkKey:
        writer = str(WatermarkWriter("orders_dag", "run-1", "load", -1, 1))
        return WatermarkKey(name, "watermark", name.partition("/")[2], 10, "int", "window", NOW, writer, {},
                            None, "c1", 0, (), settings)  # fmt: skip

    keys = (key("watermark/eu", WatermarkSettings(0, 5, 2)), key("watermark/us", None))
    view = WatermarkView(1, "orders", "s3://orders", keys, {"watermark": 10})
    last = {"watermark/eu": {"kind": "task", "dag_id": "orders_dag", "run_id": "run-1", "task_id": "load"}}
    html = watermarks_html([AssetWatermarks(view, [], last)])
    assert "<th>Lag</th><th>Settle</th><th>Initial</th>" in html
    assert "<td class='lag'>5</td><td class='settle'>2</td><td>0</td>" in html
    assert "<td class='lag'>not recorded</td><td class='settle'>not recorded</td><td>—</td>" in html
    assert "task orders_dag/run-1/load" in html and "orders_dag.load in run run-1 (try 1)" in html
