"""Conformance: ``DatabricksSQLStatementsOperator`` (provider's class, durable drop-in, ``durable=False``).

The SQL Statement Execution API takes no idempotency token, so the request JSON is identical in every
flavour: the durable drop-in differs only in what it writes to the task store and in what a retry does.
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from airflow.providers.databricks.operators import databricks as provider
from conformance_helpers import FLAVOURS, flavour, xcom_keys

from airflow_resumable.jobs import databricks as ours
from airflow_resumable.testing._databricks_jobs_api import jobs_api

FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "databricks_retry_delay": 0}
ARGS = {"statement": "INSERT INTO t SELECT 1", "warehouse_id": "wh-1", **FAST}
SQL = "/api/2.0/sql/statements"


@pytest.fixture(params=FLAVOURS)
def sql_op(request: pytest.FixtureRequest) -> Any:
    make = flavour(
        request.param, provider.DatabricksSQLStatementsOperator, ours.DatabricksSQLStatementsOperator
    )

    def build(**kwargs: Any) -> Any:
        return make(task_id="job", **{**ARGS, **kwargs})

    build.flavour = make  # type: ignore[attr-defined]
    return build


def test_defaults_and_attributes_match_the_provider(sql_op):
    op, reference = sql_op(), provider.DatabricksSQLStatementsOperator(task_id="job", **ARGS)
    skip = {"durable", "_log", "_BaseOperator__init_kwargs", "_BaseOperator__from_mapped"}
    for name, value in vars(reference).items():
        if name not in skip:
            assert getattr(op, name) == value, name


def test_class_level_settings_match_the_provider(sql_op):
    cls = sql_op.flavour.cls
    for name in ("template_fields", "template_ext", "ui_color", "ui_fgcolor"):
        assert getattr(cls, name) == getattr(provider.DatabricksSQLStatementsOperator, name), name


def test_success_pushes_the_statement_id_and_returns_none(sql_op, databricks, task_context):
    context = task_context()
    assert sql_op().execute(context) is None
    (statement,) = jobs_api(databricks).statements
    assert context["ti"].xcoms == [("statement_id", statement.statement_id)]
    assert statement.state == "SUCCEEDED"


def test_request_json_is_the_providers_without_any_token(sql_op, databricks, task_context):
    sql_op(
        catalog="main", schema="etl", parameters=[{"name": "x", "value": "1"}], query_tags={"team": "a"}
    ).execute(task_context())
    (request,) = databricks.requests_to(SQL)
    body = dict(request.body)
    tags = body.pop("query_tags")
    assert {"key": "team", "value": "a"} in tags
    assert body == {
        "statement": "INSERT INTO t SELECT 1",
        "warehouse_id": "wh-1",
        "catalog": "main",
        "schema": "etl",
        "parameters": [{"name": "x", "value": "1"}],
        "wait_timeout": "0s",
    }


def test_a_plain_dict_or_mock_context_runs_the_statement(sql_op, databricks):
    assert sql_op(do_xcom_push=False).execute({}) is None
    context = mock.MagicMock()
    assert sql_op().execute(context) is None
    assert len(jobs_api(databricks).statements) == 2
    assert [c.kwargs["key"] for c in context["ti"].xcom_push.call_args_list] == ["statement_id"]


def test_no_xcom_without_do_xcom_push(sql_op, databricks, task_context):
    context = task_context()
    sql_op(do_xcom_push=False).execute(context)
    assert context["ti"].xcoms == []


def test_without_waiting_it_returns_after_submitting(sql_op, databricks, task_context):
    context = task_context()
    assert sql_op(wait_for_termination=False).execute(context) is None
    assert xcom_keys(context) == ["statement_id"]
    assert [r.method for r in databricks.requests] == ["POST"]


def test_a_failed_statement_raises_the_providers_error(sql_op, databricks, task_context):
    jobs_api(databricks).statement_scripts.append(["RUNNING", "FAILED"])
    with pytest.raises(AirflowException) as raised:
        sql_op().execute(task_context())
    assert type(raised.value) is AirflowException
    assert str(raised.value) == (
        "job failed with terminal state: FAILED and with the error code BAD_REQUEST and error message "
        "Statement failed (scripted by the local stand-in)."
    )
    assert len(jobs_api(databricks).statements) == 1


def test_a_timeout_cancels_the_statement_and_raises(sql_op, databricks, task_context):
    jobs_api(databricks).default_statement_script = ["RUNNING"]
    with pytest.raises(AirflowException, match=r"^job timed out after 0.2 seconds with state: "):
        sql_op(timeout=0.2).execute(task_context())
    (statement,) = jobs_api(databricks).statements
    assert statement.cancelled


def test_on_kill_cancels_the_statement(sql_op, databricks, task_context):
    op = sql_op(wait_for_termination=False)
    op.execute(task_context())
    op.on_kill()
    (statement,) = jobs_api(databricks).statements
    assert [r.endpoint for r in databricks.requests][-1] == f"{SQL}/{statement.statement_id}/cancel"


def test_on_kill_before_any_statement_sends_nothing(sql_op, databricks):
    sql_op().on_kill()
    assert databricks.requests == []


def test_deferrable_defers_with_the_providers_trigger(sql_op, databricks, task_context):
    jobs_api(databricks).default_statement_script = ["RUNNING"]
    with pytest.raises(TaskDeferred) as deferred:
        sql_op(deferrable=True).execute(task_context())
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath.endswith("DatabricksSQLStatementExecutionTrigger")
    assert kwargs["statement_id"] == jobs_api(databricks).statements[0].statement_id
    assert deferred.value.method_name == "execute_complete"


def test_execute_complete_success_and_failure(sql_op, task_context):
    from airflow.providers.databricks.hooks.databricks import SQLStatementState

    op = sql_op()
    ok = {"statement_id": "s1", "state": SQLStatementState("SUCCEEDED").to_json(), "error": {}}
    assert op.execute_complete(task_context(), ok) is None
    assert op.statement_id == "s1"
    failed = {"statement_id": "s1", "state": SQLStatementState("FAILED").to_json(), "error": {"m": 1}}
    with pytest.raises(AirflowException, match=r"^SQL Statement execution failed with terminal state: "):
        op.execute_complete(task_context(), failed)


@pytest.mark.parametrize(
    ("script", "submits"),
    [
        (["RUNNING", "SUCCEEDED"], 0),
        (["SUCCEEDED"], 0),
        (["CLOSED"], 0),  # succeeded, result closed: never run again
        (["FAILED"], 1),
        (["GONE"], 1),  # forgotten by the warehouse
    ],
    ids=["active", "succeeded", "closed", "failed", "gone"],
)
def test_a_retry_after_an_earlier_try_submitted(sql_op, databricks, task_context, script, submits):
    jobs_api(databricks).statement_scripts.append(script)
    old = databricks.handle("POST", SQL, {"statement": "x", "warehouse_id": "w"})[1]["statement_id"]
    context = task_context(try_number=2)
    context["task_state_store"].set("databricks_statement_id", old)
    assert sql_op().execute(context) is None
    expected = submits if sql_op.flavour.durable else 1
    assert len(jobs_api(databricks).statements) - 1 == expected
    assert xcom_keys(context) == ["statement_id"]
