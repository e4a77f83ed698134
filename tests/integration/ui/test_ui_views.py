"""The plugin's views and JSON in the API server's app: decoded progress, job intents with their backend
link, the DAG run table and the watermark history of real ``dag.test()`` runs, each refused to a user the
auth manager does not authorize."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.airflow

EXPORT = """
from datetime import timedelta

from airflow.sdk import dag, task

from airflow_resumable import Checkpointer, every


@dag(schedule=None, default_args={"retries": 1, "retry_delay": timedelta(0)})
def ui_export():
    @task
    def export_rows(ti=None):
        with Checkpointer("rows", initial=0, commit=every(50), fingerprint="orders-2026-03") as ckpt:
            for row in ckpt.iterate(range(1, 301)):
                if row == (137 if ti.try_number == 1 else 251):
                    raise ConnectionError(f"warehouse connection dropped at row {row}")

    @task
    def export_part(part, ti=None):
        with Checkpointer("offset", initial=0, commit=every(10)) as ckpt:
            for n in ckpt.iterate(range(1, 101)):
                if n == 20 + part * 10 + ti.try_number * 20:
                    raise ConnectionError(f"part {part} failed at {n}")

    export_rows()
    export_part.expand(part=[0, 1])


ui_export()
"""

WATERMARK = """
from datetime import datetime, timezone

from airflow.sdk import Asset, dag, get_current_context, task

from airflow_resumable import Watermark

ORDERS = Asset("ui_orders", uri="s3://lake/ui_orders")
LOADED = Watermark(ORDERS, initial=datetime(2026, 3, 1, tzinfo=timezone.utc))


@dag(schedule=None)
def ui_orders():
    @task(outlets=[ORDERS])
    def load_orders():
        conf = get_current_context()["dag_run"].conf
        if "rewind" in conf:
            LOADED.rewind(datetime.fromisoformat(conf["rewind"]), reason=conf["reason"])
            return
        with LOADED.window(until=datetime.fromisoformat(conf["until"])) as w:
            w.record(rows=42)

    load_orders()


ui_orders()
"""

JOB = '''
from datetime import timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator


class WorkerLost(Exception):
    """Stands for the worker being lost while the run goes on."""


class DiesWhilePolling(DatabricksSubmitRunOperator):
    def poll_until_complete(self, external_id, context):
        raise WorkerLost(f"lost the worker while run {external_id} was running")


@dag(schedule=None, default_args={"retries": 0, "retry_delay": timedelta(0)})
def ui_spark():
    DiesWhilePolling(
        task_id="transform",
        notebook_task={"notebook_path": "/Shared/etl"},
        existing_cluster_id="cluster-1",
        polling_period_seconds=0,
        databricks_retry_limit=1,
    )


ui_spark()
'''


def test_plugin_is_registered_with_its_views(login):
    client = login("admin")
    plugins = client.get("/api/v2/plugins").json()["plugins"]
    (ours,) = [p for p in plugins if p["name"] == "airflow_resumable"]
    assert ours["fastapi_apps"][0]["url_prefix"] == "/resumable"
    views = {v["destination"]: v for v in ours["external_views"] if v["name"] != "Resumable"}
    assert views["task_instance"]["href"] == "/resumable/ti/{DAG_ID}/{RUN_ID}/{TASK_ID}?map_index={MAP_INDEX}"
    assert views["dag_run"]["href"] == "/resumable/run/{DAG_ID}/{RUN_ID}"
    assert views["nav"]["href"] == "/resumable/watermarks"
    (overview,) = [v for v in ours["external_views"] if v["name"] == "Resumable"]
    assert (overview["destination"], overview["href"]) == ("nav", "/resumable/overview")


def test_progress_tab_and_run_tab_of_a_resumed_and_a_failed_task(airflow_sandbox, login):
    result = airflow_sandbox.run_dag(EXPORT)
    assert result.states("export_rows") == ["failed", "failed"], result.states("export_rows")
    client = login("viewer")

    data = client.get(f"/resumable/api/ti/ui_export/{result.run_id}/export_rows").json()
    (ckpt,) = data["checkpoints"]
    assert (ckpt["key"], ckpt["position"], ckpt["items_done"]) == ("rows", 250, 250)
    assert ckpt["fingerprint"] and ckpt["written_by_try"] == 2 and data["task"]["try_number"] == 2

    page = client.get(f"/resumable/ti/ui_export/{result.run_id}/export_rows?map_index={{MAP_INDEX}}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert 'role="progressbar"' in html and "Checkpointer <code>rows</code>" in html
    assert "250 of 300 (83%)" in html and ckpt["fingerprint"] in html  # range(1, 301): the total is known
    assert "prefers-color-scheme: dark" in html and not re.search(r"(src|href)=\"https?://", html)
    assert 'data-refresh="0"' in html  # finished: no polling

    part = client.get(f"/resumable/api/ti/ui_export/{result.run_id}/export_part?map_index=1").json()
    assert part["task"]["map_index"] == 1 and part["checkpoints"][0]["position"] == 69

    run = client.get(f"/resumable/run/ui_export/{result.run_id}").text
    rows = re.findall(r'<tr data-task="([^"]+)" data-map-index="(-?\d+)"', run)
    assert rows == [("export_part", "0"), ("export_part", "1"), ("export_rows", "-1")]
    assert "data-sortable" in run and "th data-sort" in run
    assert client.get("/resumable/api/run/ui_export/no-such-run").status_code == 404
    missing = client.get(f"/resumable/ti/ui_export/{result.run_id}/nope")
    assert missing.status_code == 404 and "Task instance not found" in missing.text


def test_job_intent_with_its_databricks_run(airflow_sandbox, login, databricks):
    databricks.scripts.append(["RUNNING"])
    result = airflow_sandbox.run_dag(JOB)
    (run,) = databricks.created
    client = login("admin")
    data = client.get(f"/resumable/api/ti/ui_spark/{result.run_id}/transform").json()
    (job,) = data["jobs"]
    assert job["external_id"] == run.run_id and job["generation"] == 1 and job["token"] == run.token
    assert job["recorded_state"] == "submitted" and job["operator"] == "DiesWhilePolling"
    html = client.get(f"/resumable/ti/ui_spark/{result.run_id}/transform").text
    assert run.token in html and str(run.run_id) in html
    if job["link"] is not None:  # the run_page_url XCom, when the operator pushed it
        assert job["link"].startswith("http") and job["link"] in html
    assert "password" not in html.lower() and 'token": "dapi' not in html

    # The task failed while its run goes on: a possible orphan on the overview page.
    found = client.get("/resumable/api/overview").json()
    assert [(o["task_id"], o["external_id"]) for o in found["possible_orphans"]] == [
        ("transform", run.run_id)
    ]
    assert found["running_checkpoints"] == []
    page = client.get("/resumable/overview").text
    assert 'class="count-orphans">1<' in page and "/dags/ui_spark/runs/" in page


def test_watermarks_page_shows_commits_and_a_rewind_with_its_reason(airflow_sandbox, login):
    assert (
        airflow_sandbox.run_dag(WATERMARK, run_conf={"until": "2026-03-09T00:00:00+00:00"}).state == "success"
    )
    reason = "reload March after the currency fix"
    rewound = airflow_sandbox.run_dag(
        WATERMARK, run_conf={"rewind": "2026-03-02T00:00:00+00:00", "reason": reason}
    )
    assert rewound.state == "success", rewound.output[-2000:]
    client = login("viewer")
    (asset,) = [
        a
        for a in client.get("/resumable/api/watermarks").json()["assets"]
        if a["asset"]["name"] == "ui_orders"
    ]
    assert asset["merged"] == {"watermark": "2026-03-02T00:00:00+00:00"}
    events = [(e["event"], e["reason"]) for e in asset["history"]]
    assert ("rewind", reason) in events
    assert asset["last_writer"]["watermark"]["kind"] in ("task", "watcher"), asset["last_writer"]
    assert asset["watermarks"][0]["writer"].startswith("ui_orders"), asset["watermarks"]
    html = client.get("/resumable/watermarks").text
    assert reason in html and 'class="rewind"' in html and "<svg" in html and "ui_orders" in html


@pytest.mark.parametrize(
    "path",
    [
        "/resumable/ti/ui_export/r/export_rows",
        "/resumable/api/run/ui_export/r",
        "/resumable/watermarks",
        "/resumable/api/watermarks",
        "/resumable/overview",
    ],
)
def test_refused_by_the_auth_manager(login, path):
    client = login("nobody")
    refused = client.get(path)
    assert refused.status_code == 403, refused.text
    assert "Forbidden" in refused.text
    anonymous = login(None).get(path)
    assert anonymous.status_code == 401 and "Not authenticated" in anonymous.text


SUCCEEDS = """
from datetime import timedelta

from airflow.sdk import dag

from airflow_resumable.jobs.databricks import DatabricksSubmitRunOperator


@dag(schedule=None, default_args={"retries": 0, "retry_delay": timedelta(0)})
def ui_spark_ok():
    DatabricksSubmitRunOperator(
        task_id="transform",
        notebook_task={"notebook_path": "/Shared/etl"},
        existing_cluster_id="cluster-1",
        polling_period_seconds=0,
    )


ui_spark_ok()
"""


def test_external_id_links_to_the_run_page_the_operator_recorded(airflow_sandbox, login, databricks):
    result = airflow_sandbox.run_dag(SUCCEEDS)
    assert result.state == "success", result.output[-2000:]
    (run,) = databricks.created
    client = login("viewer")
    (job,) = client.get(f"/resumable/api/ti/ui_spark_ok/{result.run_id}/transform").json()["jobs"]
    assert job["external_id"] == run.run_id
    assert job["link"] == f"{databricks.url}/#job/{run.job_id}/run/{run.run_id}"
    html = client.get(f"/resumable/ti/ui_spark_ok/{result.run_id}/transform").text
    assert f'<a href="{job["link"]}" target="_blank" rel="noopener noreferrer">{run.run_id}</a>' in html
