"""Conformance: what only ``DatabricksRunNowOperator`` does (provider's class, durable and not)."""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.databricks.exceptions import DatabricksOperatorPayloadError
from airflow.providers.databricks.operators import databricks as provider
from conformance_helpers import FLAVOURS, flavour

from airflow_resumable.jobs import databricks as ours

FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "databricks_retry_delay": 0}


@pytest.fixture(params=FLAVOURS)
def run_now(request: pytest.FixtureRequest) -> Any:
    make = flavour(request.param, provider.DatabricksRunNowOperator, ours.DatabricksRunNowOperator)

    def build(**kwargs: Any) -> Any:
        return make(task_id="job", **{**FAST, **kwargs})

    build.durable = make.durable  # type: ignore[attr-defined]
    return build


def _body(databricks: Any, durable: bool) -> dict[str, Any]:
    (request,) = databricks.requests_to("jobs/run-now")
    body = dict(request.body)
    if durable:
        assert body.pop("idempotency_token")  # intended: the durable operator always sends one
    return body


def test_job_name_is_resolved_to_its_id(run_now, databricks, task_context):
    job_id = databricks.add_job("nightly")
    run_now(job_name="nightly").execute(task_context())
    assert _body(databricks, run_now.durable) == {"job_id": job_id}
    assert next(r.body for r in databricks.requests_to("jobs/list"))["name"] == "nightly"


def test_an_unknown_job_name_raises_the_providers_payload_error(run_now, databricks, task_context):
    with pytest.raises(
        DatabricksOperatorPayloadError, match=r"^Job ID for job name nightly can not be found$"
    ):
        run_now(job_name="nightly").execute(task_context())
    assert databricks.created == []


def test_job_id_and_job_name_together_are_refused_before_any_request(run_now, databricks, task_context):
    with pytest.raises(
        DatabricksOperatorPayloadError, match="Argument 'job_name' is not allowed with argument"
    ):
        run_now(job_id=42, job_name="nightly").execute(task_context())
    assert databricks.requests == []


def test_cancel_previous_runs_cancels_the_jobs_runs_before_starting_one(run_now, databricks, task_context):
    databricks.default_script = ["RUNNING"] * 5 + ["TERMINATED:SUCCESS"]
    earlier = databricks.handle("POST", "jobs/run-now", {"job_id": 42})[1]["run_id"]
    run_now(job_id=42, cancel_previous_runs=True).execute(task_context())
    endpoints = [
        r.endpoint for r in databricks.requests if r.endpoint in ("jobs/runs/cancel-all", "jobs/run-now")
    ]
    assert endpoints == ["jobs/run-now", "jobs/runs/cancel-all", "jobs/run-now"]
    assert databricks.run(earlier).cancelled
    assert databricks.created[-1].step == "TERMINATED:SUCCESS"


def test_cancel_previous_runs_without_a_job_raises_the_providers_value_error(
    run_now, databricks, task_context
):
    with pytest.raises(ValueError, match=r"^cancel_previous_runs=True requires either job_id or job_name"):
        run_now(cancel_previous_runs=True, notebook_params={"a": "b"}).execute(task_context())
    assert databricks.requests == []


def test_dag_params_are_not_forwarded_next_to_legacy_parameter_slots(run_now, databricks, task_context):
    run_now(job_id=42, notebook_params={"a": "b"}, params={"env": "prod"}).execute(task_context())
    assert _body(databricks, run_now.durable) == {"job_id": "42", "notebook_params": {"a": "b"}}


def test_forward_dag_params_can_be_turned_off(run_now, databricks, task_context):
    run_now(job_id=42, params={"env": "prod"}, forward_dag_params=False).execute(task_context())
    assert _body(databricks, run_now.durable) == {"job_id": "42"}


def test_json_and_named_arguments_merge_as_in_the_provider(run_now, databricks, task_context):
    run_now(json={"job_id": 1, "job_parameters": {"a": "1"}}, job_id=42).execute(task_context())
    assert _body(databricks, run_now.durable) == {"job_id": "42", "job_parameters": {"a": "1"}}
