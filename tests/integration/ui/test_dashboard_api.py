"""The dashboard card's JSON and bundle in the API server's app: the counts are the "Resumable" page's (a
job left running by a failed ``dag.test()`` run is counted), the auth manager refuses a user without a
role, and the UI finds the card among the plugin's React apps."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.airflow

JOB = '''
from airflow.sdk import BaseOperator, dag

from airflow_resumable.jobs.base import DurableJobMixin


class WorkerLost(Exception):
    """The worker went away while the warehouse job goes on."""


class WarehouseLoad(DurableJobMixin, BaseOperator):
    def execute(self, context):
        return self.execute_resumable(context)

    def submit_job(self, context):
        return "load-" + self.submission_token[:8]

    def get_job_status(self, external_id, context):
        return "RUNNING"

    def is_job_active(self, status):
        return status == "RUNNING"

    def is_job_succeeded(self, status):
        return status == "DONE"

    def poll_until_complete(self, external_id, context):
        raise WorkerLost(f"lost the worker while {external_id} was running")

    def get_job_result(self, external_id, context):
        return external_id


@dag(schedule=None, default_args={"retries": 0})
def dash_warehouse():
    WarehouseLoad(task_id="load")


dash_warehouse()
'''


def test_counts_are_the_overview_pages_and_follow_an_orphaned_job(airflow_sandbox, login):
    client = login("viewer")
    before = client.get("/resumable/api/dashboard")
    assert before.status_code == 200, before.text
    result = airflow_sandbox.run_dag(JOB)
    assert result.states("load") == ["failed"], result.output[-2000:]

    counts = client.get("/resumable/api/dashboard").json()
    listed = client.get("/resumable/api/overview").json()
    assert counts["possible_orphans"] == before.json()["possible_orphans"] + 1
    assert counts["possible_orphans"] == len(listed["possible_orphans"])
    assert counts["running_checkpoints"] == len(listed["running_checkpoints"])
    assert counts["overview"] == "/plugin/resumable-overview"
    assert ("dash_warehouse", "load") in [(o["dag_id"], o["task_id"]) for o in listed["possible_orphans"]]


def test_refused_to_a_user_without_a_role_and_to_no_one_signed_in(login):
    refused = login("nobody").get("/resumable/api/dashboard")
    assert refused.status_code == 403 and refused.json() == {"detail": "Forbidden"}, refused.text
    anonymous = login(None).get("/resumable/api/dashboard")
    assert anonymous.status_code == 401 and "Not authenticated" in anonymous.text


def test_the_ui_finds_the_card_and_its_bundle(login):
    from airflow_resumable.ui.dashboard import BUNDLE

    client = login("admin")
    (ours,) = [p for p in client.get("/api/v2/plugins").json()["plugins"] if p["name"] == "airflow_resumable"]
    (card,) = ours["react_apps"]
    assert card["destination"] == "dashboard" and card["bundle_url"] == "/resumable/static/dashboard.js"
    bundle = login(None).get(card["bundle_url"])  # code without data, like the UI's own assets
    assert bundle.status_code == 200 and bundle.headers["content-type"].startswith("text/javascript")
    assert bundle.content == BUNDLE.read_bytes()
