"""The local Databricks stand-in's jobs, task-run and SQL statement endpoints, through the provider's hook.

They must fail the way Databricks fails (400 for an unknown job, 404 for a forgotten statement, no
deduplication of SQL statements), or the operators' tests would pass against a kinder service.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.databricks.exceptions import DatabricksApiError
from airflow.providers.databricks.hooks.databricks import DatabricksHook

from airflow_resumable.testing._databricks_jobs_api import jobs_api


@pytest.fixture
def hook(databricks: Any) -> DatabricksHook:
    return DatabricksHook(retry_limit=1, retry_delay=0)


def test_jobs_create_list_reset_get(hook, databricks):
    job_id = hook.create_job({"name": "d.g", "tasks": [{"task_key": "a"}, {"task_key": "b"}]})
    assert [j["job_id"] for j in hook.list_jobs(job_name="d.g")] == [job_id]
    hook.reset_job(str(job_id), {"name": "d.g", "tasks": [{"task_key": "a"}]})
    got = hook._do_api_call(("GET", "2.2/jobs/get"), {"job_id": job_id})
    assert got["settings"]["tasks"] == [{"task_key": "a"}]


def test_reset_of_an_unknown_job_is_a_400(hook):
    with pytest.raises(DatabricksApiError) as raised:
        hook.reset_job("999", {"name": "x"})
    assert raised.value.http_status_code == 400


def test_a_run_of_a_job_has_one_task_run_per_task_following_its_own_script(hook, databricks):
    databricks.default_script = ["RUNNING", "TERMINATED:SUCCESS"]
    jobs_api(databricks).task_scripts["b"] = ["TERMINATED:FAILED"]
    job_id = hook.create_job({"name": "d.g", "tasks": [{"task_key": "a"}, {"task_key": "b"}]})
    run_id = hook.run_now({"job_id": job_id, "idempotency_token": "t"})
    assert hook.run_now({"job_id": job_id, "idempotency_token": "t"}) == run_id  # the token dedups
    tasks = {t["task_key"]: t for t in hook.get_run_tasks(run_id)}
    assert sorted(tasks) == ["a", "b"]
    assert hook.get_run(tasks["a"]["run_id"])["state"]["life_cycle_state"] == "RUNNING"
    assert hook.get_run(tasks["a"]["run_id"])["state"]["result_state"] == "SUCCESS"
    assert hook.get_run(tasks["b"]["run_id"])["state"]["result_state"] == "FAILED"
    assert "error" in hook.get_run_output(tasks["b"]["run_id"])
    hook.cancel_run(tasks["a"]["run_id"])
    assert hook.get_run(tasks["a"]["run_id"])["state"]["result_state"] == "CANCELED"


def test_a_single_task_submit_has_one_task_keyed_by_its_run_name(hook):
    run_id = hook.submit_run({"run_name": "k1", "notebook_task": {"notebook_path": "/a"}})
    assert [t["task_key"] for t in hook.get_run_tasks(run_id)] == ["k1"]


def test_runs_list_filters_by_job_and_activity(hook, databricks):
    databricks.scripts[:] = [["RUNNING"], ["TERMINATED:SUCCESS"]]
    job_id = hook.create_job({"name": "j"})
    running, done = hook.run_now({"job_id": job_id}), hook.run_now({"job_id": job_id})
    hook.submit_run({"run_name": "other"})

    def listed(**query: Any) -> list[int]:
        runs = hook._do_api_call(("GET", "2.2/jobs/runs/list"), {"job_id": job_id, **query})["runs"]
        return [r["run_id"] for r in runs]

    assert listed() == [done, running]  # newest first
    assert listed(active_only="true") == [running]
    assert listed(completed_only="true") == [done]


def test_sql_statements_are_never_deduplicated_and_follow_their_script(hook, databricks):
    api = jobs_api(databricks)
    api.statement_scripts.append(["RUNNING", "FAILED"])
    body = {"statement": "select 1", "warehouse_id": "w"}
    first, second = hook.post_sql_statement(body), hook.post_sql_statement(body)
    assert first != second
    assert hook.get_sql_statement_state(first).state == "RUNNING"
    failed = hook.get_sql_statement_state(first)
    assert (failed.state, failed.error_code) == ("FAILED", "BAD_REQUEST")
    hook.cancel_sql_statement(second)
    assert hook.get_sql_statement_state(second).state == "CANCELED"


def test_a_forgotten_statement_is_a_404_and_a_missing_field_a_400(hook, databricks):
    jobs_api(databricks).statement_scripts.append(["GONE"])
    statement_id = hook.post_sql_statement({"statement": "select 1", "warehouse_id": "w"})
    with pytest.raises(DatabricksApiError) as gone:
        hook.get_sql_statement_state(statement_id)
    assert gone.value.http_status_code == 404
    with pytest.raises(DatabricksApiError) as invalid:
        hook.post_sql_statement({"statement": "select 1"})
    assert invalid.value.http_status_code == 400
