"""The Resumable jobs pages' examples (docs/examples/jobs) run on real Airflow and do what the pages say."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples" / "jobs"
TOY = EXAMPLES / "toy_jobs.py"
DATABRICKS = EXAMPLES / "databricks_dag.py"


def test_every_jobs_example_is_run_here() -> None:
    provider_author = {"provider_author.py", "provider_author_service.py"}  # test_provider_author_example.py
    assert {p.name for p in EXAMPLES.glob("*.py")} == {TOY.name, DATABRICKS.name} | provider_author


@pytest.mark.parametrize("dag_id", ["toy_job", "toy_job_deferrable"])
def test_toy_operator_reconnects_after_losing_the_worker(airflow_sandbox, tmp_path, monkeypatch, dag_id):
    jobs_file = tmp_path / "jobs.json"
    monkeypatch.setenv("TOY_JOB_SERVICE_FILE", str(jobs_file))
    result = airflow_sandbox.run_dag(TOY, dag_id=dag_id)
    assert result.states("train") == ["failed", "success"]
    jobs = json.loads(jobs_file.read_text())
    assert list(jobs) == ["job-1"]  # one job: the retry got the same one back for the same token
    assert "TRY 1 SUBMITTED job-1" in result.output
    assert "RESULT job-1" in result.output
    assert "TRY 2 SUBMITTED job-1" in result.output  # submitted again with the same token: deduplicated
    intent = result.task_state("train", "toy_job_id.intent")
    assert (intent["state"], intent["generation"], intent["external_id"]) == ("submitted", 1, "job-1")
    assert intent["token"] == jobs["job-1"]["token"]


def test_databricks_example_runs_against_the_jobs_api(airflow_sandbox, databricks):
    databricks.default_script = ["TERMINATED:SUCCESS"]
    databricks.add_job("publish-marts", job_id=2718)
    result = airflow_sandbox.run_dag(DATABRICKS)
    assert result.state == "success", result.output[-3000:]
    transform, publish, refresh = databricks.created
    assert (transform.kind, transform.payload["run_name"]) == ("submit", "nightly-transform")
    assert (publish.kind, publish.job_id) == ("run-now", 2718)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", publish.payload["job_parameters"]["day"])  # rendered {{ ds }}
    assert refresh.job_id == 3141
    assert all(run.token and len(run.token) <= 64 for run in databricks.created)
    assert result.task_state("refresh_dashboards", "dashboards_run_id") == refresh.run_id
    assert result.task_state("transform", "databricks_run_id") == transform.run_id
    assert result.task_state("publish", "databricks_run_now_id") == publish.run_id
