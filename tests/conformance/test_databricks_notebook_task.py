"""Conformance: ``DatabricksNotebookOperator`` and ``DatabricksTaskOperator`` standalone (``runs/submit``).

Each test runs for both operators, each as the provider's class, the durable drop-in and the drop-in with
``durable=False`` (see conftest.py). The one intended difference: the durable drop-in adds an
``idempotency_token`` to ``runs/submit`` (and writes its intent and run id in the task store).
"""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from airflow.providers.databricks.operators import databricks as provider
from conformance_helpers import FLAVOURS, Flavour, flavour, xcom_keys

from airflow_resumable.jobs import databricks as ours

FAST = {"polling_period_seconds": 0, "databricks_retry_limit": 1, "databricks_retry_delay": 0}
NOTEBOOK = {"notebook_task": {"notebook_path": "/Shared/etl", "source": "WORKSPACE", "base_parameters": {}}}
KINDS = {
    "notebook": (
        provider.DatabricksNotebookOperator,
        ours.DatabricksNotebookOperator,
        {"notebook_path": "/Shared/etl", "source": "WORKSPACE", "existing_cluster_id": "cluster-1"},
    ),
    "task": (
        provider.DatabricksTaskOperator,
        ours.DatabricksTaskOperator,
        {"task_config": NOTEBOOK, "existing_cluster_id": "cluster-1"},
    ),
}


@pytest.fixture(params=[(k, f) for k in KINDS for f in FLAVOURS], ids=lambda p: f"{p[0]}-{p[1]}")
def op_factory(request: pytest.FixtureRequest) -> Any:
    kind, name = request.param
    provider_cls, drop_in_cls, args = KINDS[kind]
    make = flavour(name, provider_cls, drop_in_cls)

    def build(**kwargs: Any) -> Any:
        return make(task_id="job", **{**args, **FAST, **kwargs})

    build.flavour = make  # type: ignore[attr-defined]
    build.provider_cls = provider_cls  # type: ignore[attr-defined]
    build.args = {**args, **FAST}  # type: ignore[attr-defined]
    return build


def _flavour(op_factory: Any) -> Flavour:
    return op_factory.flavour  # type: ignore[no-any-return]


def _bodies(databricks: Any, durable: bool) -> list[dict[str, Any]]:
    bodies = []
    for request in databricks.requests_to("jobs/runs/submit"):
        body = dict(request.body)
        if durable:
            assert body.pop("idempotency_token")  # intended: always sent
        bodies.append(body)
    return bodies


# -- construction -------------------------------------------------------------------------------------------
def test_defaults_and_attributes_match_the_provider(op_factory):
    op, reference = op_factory(), op_factory.provider_cls(task_id="job", **op_factory.args)
    skip = {"durable", "_log", "_BaseOperator__init_kwargs", "_BaseOperator__from_mapped"}
    for name, value in vars(reference).items():
        if name not in skip:
            assert getattr(op, name) == value, name
    assert getattr(op, "durable", False) is _flavour(op_factory).durable


def test_class_level_settings_match_the_provider(op_factory):
    cls, reference = _flavour(op_factory).cls, op_factory.provider_cls
    for name in ("template_fields", "template_ext", "CALLER", "ui_color"):
        assert getattr(cls, name) == getattr(reference, name), name
    assert [type(x) for x in op_factory().operator_extra_links] == [
        type(x) for x in op_factory.provider_cls(task_id="j", **op_factory.args).operator_extra_links
    ]


# -- a run that succeeds ------------------------------------------------------------------------------------
def test_success_returns_none_pushes_run_id_and_page_url(op_factory, databricks, task_context):
    context = task_context()
    assert op_factory().execute(context) is None
    (run,) = databricks.created
    assert xcom_keys(context) == ["run_id", "run_page_url"]
    assert context["ti"].xcoms[0][1] == run.run_id
    assert str(run.run_id) in context["ti"].xcoms[1][1]


def test_request_json_is_the_providers(op_factory, databricks, task_context):
    op = op_factory()
    op.execute(task_context())
    (body,) = _bodies(databricks, _flavour(op_factory).durable)
    expected_task = (
        {"timeout_seconds": 0, "email_notifications": {}, **NOTEBOOK, "libraries": []}
        if op_factory.provider_cls is provider.DatabricksNotebookOperator
        else NOTEBOOK
    )
    assert body == {"run_name": op.databricks_task_key, **expected_task, "existing_cluster_id": "cluster-1"}


def test_databricks_native_retries_submit_one_explicit_task(op_factory, databricks, task_context):
    op = op_factory(max_retries=2)
    op.execute(task_context())
    (body,) = _bodies(databricks, _flavour(op_factory).durable)
    assert body["run_name"] == op.databricks_task_key
    assert body["tasks"][0]["max_retries"] == 2
    assert body["tasks"][0]["task_key"] == op.databricks_task_key


def test_without_waiting_it_returns_after_submitting(op_factory, databricks, task_context):
    context = task_context()
    assert op_factory(wait_for_termination=False).execute(context) is None
    assert len(databricks.created) == 1
    assert xcom_keys(context) == ["run_id", "run_page_url"]


# -- failures -----------------------------------------------------------------------------------------------
def test_a_failed_run_raises_the_providers_error(op_factory, databricks, task_context):
    databricks.scripts.append(["RUNNING", "TERMINATED:FAILED"])
    with pytest.raises(AirflowException) as raised:
        op_factory().execute(task_context())
    assert type(raised.value) is AirflowException
    assert str(raised.value).startswith(
        "Task failed. Final state FAILED. Reason: Task failed with an error (scripted by the local stand-in)."
    )
    assert len(databricks.created) == 1


def test_no_cluster_is_refused_before_any_request(op_factory, databricks, task_context):
    context = task_context()
    with pytest.raises(ValueError, match=r"^Must specify either existing_cluster_id or new_cluster\.$"):
        op_factory(existing_cluster_id="").execute(context)
    assert databricks.requests == []
    assert context["task_state_store"].get("databricks_run_id.intent") is None


def test_a_plain_dict_context_without_store_runs_the_job(op_factory, databricks):
    assert op_factory(do_xcom_push=False).execute({}) is None
    assert len(databricks.created) == 1


def test_a_mock_context_runs_the_job(op_factory, databricks):
    context = mock.MagicMock()
    assert op_factory().execute(context) is None
    assert len(databricks.created) == 1
    assert [c.kwargs["key"] for c in context["ti"].xcom_push.call_args_list] == ["run_id", "run_page_url"]


# -- on_kill and deferrable ---------------------------------------------------------------------------------
def test_on_kill_cancels_the_submitted_run(op_factory, databricks, task_context):
    op = op_factory(wait_for_termination=False)
    op.execute(task_context())
    op.on_kill()
    assert [r.body for r in databricks.requests_to("jobs/runs/cancel")] == [
        {"run_id": databricks.created[0].run_id}
    ]


def test_on_kill_before_any_run_sends_nothing(op_factory, databricks):
    op_factory().on_kill()
    assert databricks.requests == []


def test_deferrable_defers_on_the_tasks_run_with_the_providers_trigger(op_factory, databricks, task_context):
    databricks.default_script = ["RUNNING"]
    context = task_context()
    with pytest.raises(TaskDeferred) as deferred:
        op_factory(deferrable=True).execute(context)
    (run,) = databricks.created
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "airflow.providers.databricks.triggers.databricks.DatabricksExecutionTrigger"
    task_run = databricks.handle("GET", "jobs/runs/get", {"run_id": run.run_id})[1]["tasks"][0]["run_id"]
    assert kwargs["run_id"] == task_run
    assert deferred.value.method_name == "execute_complete"
    assert xcom_keys(context) == ["run_id", "run_page_url"]


def test_execute_complete_success_and_failure(op_factory, task_context):
    from airflow.providers.databricks.hooks.databricks import RunState

    def event(result: str) -> dict[str, Any]:
        return {"run_state": RunState("TERMINATED", result, "msg").to_json(), "errors": []}

    op = op_factory()
    assert op.execute_complete(task_context(), event("SUCCESS")) is None
    with pytest.raises(
        AirflowException, match=r"^Task failed. Final state FAILED. Reason: msg. Errors: \[\]$"
    ):
        op.execute_complete(task_context(), event("FAILED"))


# -- retries with a stored run: the durable drop-in reconnects, the provider (and durable=False) submits
@pytest.mark.parametrize(
    ("script", "submits"),
    [
        (["RUNNING", "TERMINATED:SUCCESS"], 0),
        (["TERMINATED:SUCCESS"], 0),
        (["TERMINATED:FAILED"], 1),
        (["GONE"], 1),
    ],
    ids=["active", "succeeded", "failed", "gone"],
)
def test_a_retry_after_an_earlier_try_submitted(op_factory, databricks, task_context, script, submits):
    databricks.scripts.append(script)
    old = databricks.handle("POST", "jobs/runs/submit", {"run_name": op_factory().databricks_task_key})[1]
    context = task_context(try_number=2)
    context["task_state_store"].set("databricks_run_id", old["run_id"])
    assert op_factory().execute(context) is None
    expected = submits if _flavour(op_factory).durable else 1
    assert len(databricks.created) - 1 == expected
    assert xcom_keys(context) == ["run_id", "run_page_url"]
