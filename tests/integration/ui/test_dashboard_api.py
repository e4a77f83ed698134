"""The dashboard card's JSON and bundle in the API server's app: the counts are the "Resumable" page's (a
job left running by a failed ``dag.test()`` run is counted), the auth manager refuses a user without a
role, and the UI finds the card among the plugin's React apps."""

from __future__ import annotations

import pytest

from orphaned_job_dag import orphaned_job_dag

pytestmark = pytest.mark.airflow

JOB = orphaned_job_dag("dash_warehouse")


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
