"""Conformance: what only ``DatabricksSubmitRunOperator`` does (provider's class, durable and not)."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.databricks.exceptions import DatabricksOperatorPayloadError
from airflow.providers.databricks.operators import databricks as provider
from conformance_helpers import FLAVOURS, flavour

from airflow_resumable.jobs import databricks as ours

FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "databricks_retry_delay": 0}


@pytest.fixture(params=FLAVOURS)
def submit(request: pytest.FixtureRequest) -> Any:
    make = flavour(request.param, provider.DatabricksSubmitRunOperator, ours.DatabricksSubmitRunOperator)

    def build(**kwargs: Any) -> Any:
        return make(task_id="job", **{**FAST, **kwargs})

    build.durable = make.durable  # type: ignore[attr-defined]
    return build


def _body(databricks: Any, durable: bool) -> dict[str, Any]:
    (request,) = databricks.requests_to("jobs/runs/submit")
    body = dict(request.body)
    if durable:
        assert body.pop("idempotency_token")  # intended: the durable operator always sends one
    return body


def test_dbt_task_without_git_source_is_refused_before_any_request(submit, databricks, task_context):
    with pytest.raises(DatabricksOperatorPayloadError, match=r"^git_source is required for dbt_task$"):
        submit(dbt_task={"commands": ["dbt run"]}).execute(task_context())
    assert databricks.requests == []
    assert task_context()["task_state_store"].get("databricks_run_id.intent") is None


def test_pipeline_id_and_name_together_are_refused(submit, databricks, task_context):
    with pytest.raises(DatabricksOperatorPayloadError, match="'pipeline_name' is not allowed"):
        submit(pipeline_task={"pipeline_id": "p", "pipeline_name": "n"}).execute(task_context())
    assert databricks.requests == []


def test_json_string_and_named_arguments_merge_as_in_the_provider(submit, databricks, task_context):
    submit(json='{"run_name": "nightly", "existing_cluster_id": "a"}', existing_cluster_id="b").execute(
        task_context()
    )
    assert _body(databricks, submit.durable) == {"run_name": "nightly", "existing_cluster_id": "b"}


def test_dag_params_are_forwarded_into_every_task(submit, databricks, task_context):
    tasks = [
        {"task_key": "a", "notebook_task": {"notebook_path": "/a"}},
        {"task_key": "b", "notebook_task": {"notebook_path": "/b", "base_parameters": {"x": "1"}}},
    ]
    submit(tasks=tasks, params={"env": "prod"}).execute(task_context())
    assert _body(databricks, submit.durable)["tasks"] == [
        {"task_key": "a", "notebook_task": {"notebook_path": "/a", "base_parameters": {"env": "prod"}}},
        {"task_key": "b", "notebook_task": {"notebook_path": "/b", "base_parameters": {"x": "1"}}},
    ]
    assert tasks[0]["notebook_task"] == {"notebook_path": "/a"}  # the operator's own argument is untouched


def test_numbers_in_the_payload_are_sent_as_strings(submit, databricks, task_context):
    submit(
        spark_python_task={"python_file": "f.py", "parameters": [1, 2.5]}, new_cluster={"num_workers": 2}
    ).execute(task_context())
    body = _body(databricks, submit.durable)
    assert body["spark_python_task"] == {"python_file": "f.py", "parameters": ["1", "2.5"]}
    assert body["new_cluster"] == {"num_workers": "2"}
